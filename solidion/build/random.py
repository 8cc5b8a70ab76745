"""Random starting cells for melt–quench: a composition packed at a density, atoms kept apart.

:func:`random_cell` places the atoms of a composition in a cubic periodic box by random
sequential insertion (each atom tried at uniform random positions until it keeps its
per-pair minimum distance to every atom already placed, minimum image). The box follows from
the density, given or estimated by :func:`estimate_density_g_cm3`; the minimum distances come
from ionic radii (:func:`default_min_distances`) or from the caller. The cell is only a start:
the melt at high temperature erases its memory and NPT relaxes the density.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from solidion.chemistry import FORMAL_CHARGES, IONIC_RADII_A, Composition
from solidion.errors import InputError
from solidion.units import AMU_A3_TO_G_CM3

__all__ = [
    "ANION_ANION_FACTOR",
    "ANION_VOLUMES_A3",
    "CATION_ANION_FACTOR",
    "CATION_CATION_FACTOR",
    "CATION_VOLUME_SCALE",
    "NEUTRAL_FACTOR",
    "default_min_distances",
    "estimate_density_g_cm3",
    "random_cell",
]

#: Effective volume per anion in a solid, Å³ (fitted, see :func:`estimate_density_g_cm3`).
ANION_VOLUMES_A3: dict[str, float] = {
    "F": 14.1,
    "Cl": 32.4,
    "Br": 39.7,
    "I": 52.8,
    "O": 16.2,
    "S": 36.1,
    "Se": 41.2,
    "Te": 59.0,
    "N": 20.8,
}
#: Factor k on the cation sphere volume (4π/3)r³ (fitted with :data:`ANION_VOLUMES_A3`).
CATION_VOLUME_SCALE: float = 2.55
#: Anion volume over its Shannon sphere, for anions outside :data:`ANION_VOLUMES_A3` (the
#: fitted anions give 1.3–1.6).
ANION_SPHERE_SCALE: float = 1.4
#: Packing fraction of neutral atoms (no oxidation state) in the density estimate.
NEUTRAL_PACKING_FRACTION: float = 0.5
#: Radius of a cation without a tabulated ionic radius, as a fraction of its covalent radius
#: (Shannon/covalent is 0.4–0.6 for the tabulated cations).
CATION_COVALENT_FRACTION: float = 0.5
#: Radius of an anion without a tabulated ionic radius, in covalent radii (Cl, O: 1.8, 2.1).
ANION_COVALENT_MULTIPLE: float = 1.8
#: Minimum distance over the Shannon radius sum of a cation–anion pair (bonds are ~1.3× longer).
CATION_ANION_FACTOR: float = 0.75
#: Minimum distance over the Shannon radius sum of an anion–anion pair (anions in contact).
ANION_ANION_FACTOR: float = 0.7
#: Minimum distance over the larger of the Shannon and covalent radius sums of two cations.
CATION_CATION_FACTOR: float = 0.6
#: Minimum distance over the covalent radius sum when an element has no oxidation state.
NEUTRAL_FACTOR: float = 0.75
#: Densest packing fraction of equal spheres, π/√18 (Kepler; Hales 2005).
_DENSEST_PACKING = math.pi / math.sqrt(18.0)
#: Candidate positions tried at once by the insertion kernel (it doubles up to the maximum).
_FIRST_BATCH, _MAX_BATCH = 8, 256


# -- radii and charges ---------------------------------------------------------------------------
def _charges(elements: Iterable[str], overrides: Mapping[str, int] | None) -> dict[str, int]:
    """Oxidation state per element (overrides, then the table); 0 where neither has one."""
    overrides = dict(overrides or {})
    return {el: int(overrides.get(el, FORMAL_CHARGES.get(el, 0))) for el in elements}


def _covalent_radius_A(element: str) -> float:
    return float(covalent_radii[atomic_numbers[element]])


def _ionic_radius_A(element: str, z: int) -> float:
    """Shannon radius of the ion, or the documented fallback from the covalent radius."""
    if z == 0:
        return _covalent_radius_A(element)
    if (element, z) in IONIC_RADII_A:
        return IONIC_RADII_A[(element, z)]
    if z > 0:
        return CATION_COVALENT_FRACTION * _covalent_radius_A(element)
    return ANION_COVALENT_MULTIPLE * _covalent_radius_A(element)


def _ion_volume_A3(element: str, z: int) -> float:
    sphere = 4.0 * math.pi / 3.0 * _ionic_radius_A(element, z) ** 3
    if z < 0:
        if element in ANION_VOLUMES_A3 and FORMAL_CHARGES.get(element) == z:
            return ANION_VOLUMES_A3[element]
        return ANION_SPHERE_SCALE * sphere
    if z > 0:
        return CATION_VOLUME_SCALE * sphere
    return sphere / NEUTRAL_PACKING_FRACTION


def _as_composition(composition: Composition | str) -> Composition:
    if isinstance(composition, Composition):
        return composition
    if isinstance(composition, str):
        return Composition(composition)
    raise InputError(f"composition must be a Composition or a formula string, got {composition!r}")


def estimate_density_g_cm3(composition: Composition | str) -> float:
    """A first guess of the density of an ionic solid from additive ion volumes, in g/cm³.

    The volume per formula is a sum of ion volumes, in the spirit of volume-based
    thermodynamics (H. D. B. Jenkins, H. K. Roobottom, J. Passmore, L. Glasser, *Inorg. Chem.*
    38, 3609 (1999)): anions take a fitted volume each, cations a multiple of their Shannon
    sphere (R. D. Shannon, *Acta Cryst.* A32, 751 (1976), six-fold coordination):

        V = Σ_anions n_a v_a + k Σ_cations n_c (4π/3) r_c³,    ρ = M / V,

    with v_a from :data:`ANION_VOLUMES_A3` (Cl 32.4 Å³, O 16.2 Å³, ...) and k =
    :data:`CATION_VOLUME_SCALE` = 2.55, fitted by least squares on the relative volume error to
    the room-temperature densities of about 100 crystals (alkali and alkaline-earth halides,
    binary oxides and chlorides, sulfides, nitrides, LiAlO2, Li2ZrO3, NaAlCl4, Li3PS4,
    Li7La3Zr2O12, ...): the rms error of their volumes is 9 %, the worst 24 % (BeO, Li3N).
    Ions are told apart by their oxidation states (the composition's overrides, then
    :data:`solidion.chemistry.FORMAL_CHARGES`); ions outside the tables fall back on covalent
    radii (cations 0.5 r_cov, anions 1.8 r_cov with 1.4× the sphere volume) and elements with
    no oxidation state count as atoms of radius r_cov at packing fraction 0.5.

    It is an estimate to start from, to be relaxed by NPT molecular dynamics: it gives
    2.25 g/cm³ for LiAlCl2.5O0.75 (amorphous reference 2.2–2.4 g/cm³), 5.16 g/cm³ for
    Li7La3Zr2O12 (crystal 5.1 g/cm³), 4.04 g/cm³ for NaGaBr2.5O0.75.

    Args:
        composition: A :class:`~solidion.chemistry.Composition` or a formula string.

    Returns:
        The density in g/cm³.

    Example:
        >>> round(estimate_density_g_cm3("LiAlCl2.5O0.75"), 2)
        2.25
        >>> round(estimate_density_g_cm3("Li7La3Zr2O12"), 2)
        5.16
    """
    comp = _as_composition(composition)
    z = _charges(comp.elements, comp.oxidation_state_overrides)
    volume_A3 = sum(n * _ion_volume_A3(el, z[el]) for el, n in comp.amounts.items())
    return comp.mass_amu / volume_A3 * AMU_A3_TO_G_CM3


def default_min_distances(
    elements: Iterable[str] | Composition,
    *,
    oxidation_states: Mapping[str, int] | None = None,
) -> dict[tuple[str, str], float]:
    """Default closest approach of each pair of elements in a random start, in Å.

    With R the Shannon ionic radius (:data:`solidion.chemistry.IONIC_RADII_A`, six-fold
    coordination) and r the covalent radius (``ase.data.covalent_radii``):

    - cation–anion: d = 0.75 (R_i + R_j)  (Li–Cl 1.93 Å, Al–O 1.45 Å; bonds are ~1.3×
      longer);
    - anion–anion: d = 0.7 (R_i + R_j)  (Cl–Cl 2.53 Å, O–O 1.96 Å, I–I 3.08 Å);
    - cation–cation: d = 0.6 max(R_i + R_j, r_i + r_j)  (Li–Li 1.54 Å, La–La 2.48 Å: the
      covalent sum, since cations stay apart well beyond their ionic size);
    - an element with no oxidation state: d = 0.75 (r_i + r_j).

    The factors (:data:`CATION_ANION_FACTOR`, :data:`ANION_ANION_FACTOR`,
    :data:`CATION_CATION_FACTOR`, :data:`NEUTRAL_FACTOR`) keep every pair at roughly 0.55–0.8
    of its distance in real solids while leaving random insertion room to spare: with them
    :func:`random_cell` still packs the A M X2.5O0.75 oxyhalides, Li7La3Zr2O12, Li2O, Li3PS4
    and Li3InCl6 at 1.18–1.8 times the estimated density. Larger distances give a more
    physical start but jam sooner (random sequential insertion of equal spheres stops near a
    packing fraction of 0.38).

    Oxidation states come from ``oxidation_states``, then
    :data:`solidion.chemistry.FORMAL_CHARGES`; ions without a tabulated radius use 0.5 r
    (cations) or 1.8 r (anions).

    Args:
        elements: Element symbols, or a composition (its elements and oxidation-state overrides).
        oxidation_states: Overrides per element (they take precedence over a composition's).

    Returns:
        ``{(a, b): d}`` for every pair a, b (a == b included), a before b in the given order.

    Raises:
        InputError: For an unknown element symbol or an override of an absent element.

    Example:
        >>> d = default_min_distances(["Li", "Cl"])
        >>> {k: round(v, 3) for k, v in d.items()}
        {('Li', 'Li'): 1.536, ('Li', 'Cl'): 1.928, ('Cl', 'Cl'): 2.534}
    """
    overrides: dict[str, int] = {}
    if isinstance(elements, Composition):
        overrides.update(elements.oxidation_state_overrides)
        elements = elements.elements
    if isinstance(elements, str):
        elements = [elements]
    els = list(dict.fromkeys(elements))
    bad = [el for el in els if el not in atomic_numbers or el == "X"]
    if bad:
        raise InputError(f"unknown element(s) {', '.join(map(repr, bad))} in elements")
    absent = [el for el in (oxidation_states or {}) if el not in els]
    if absent:
        raise InputError(
            f"oxidation_states given for elements not present: {', '.join(map(str, absent))}"
        )
    overrides.update(oxidation_states or {})
    z = _charges(els, overrides)
    out: dict[tuple[str, str], float] = {}
    for i, a in enumerate(els):
        for b in els[i:]:
            cov = _covalent_radius_A(a) + _covalent_radius_A(b)
            ionic = _ionic_radius_A(a, z[a]) + _ionic_radius_A(b, z[b])
            if z[a] == 0 or z[b] == 0:
                out[(a, b)] = NEUTRAL_FACTOR * cov
            elif z[a] * z[b] < 0:
                out[(a, b)] = CATION_ANION_FACTOR * ionic
            elif z[a] < 0:
                out[(a, b)] = ANION_ANION_FACTOR * ionic
            else:
                out[(a, b)] = CATION_CATION_FACTOR * max(ionic, cov)
    return out


def _pair(key: object, present: list[str], formula: str) -> tuple[str, str]:
    if isinstance(key, str):
        parts = tuple(key.split("-"))
    elif isinstance(key, tuple | list):
        parts = tuple(key)
    else:
        parts = ()
    if len(parts) != 2 or not all(isinstance(p, str) for p in parts):
        raise InputError(
            f"min_distances key {key!r} must be a pair of elements, ('Li', 'Cl') or 'Li-Cl'"
        )
    missing = [p for p in parts if p not in present]
    if missing:
        raise InputError(
            f"min_distances key {key!r} names {', '.join(map(repr, missing))}, not in {formula}"
        )
    a, b = parts
    return (a, b) if present.index(a) <= present.index(b) else (b, a)


def _min_distance_matrix(
    comp: Composition, min_distances: Mapping[object, float] | None
) -> np.ndarray:
    """Symmetric (n_el, n_el) matrix of minimum distances, defaults updated by the overrides."""
    els = comp.elements
    table = default_min_distances(comp)
    given: dict[tuple[str, str], float] = {}
    if min_distances is not None:
        if not isinstance(min_distances, Mapping):
            raise InputError(
                f"min_distances must be a mapping {{('Li', 'Cl'): d}}, got {min_distances!r}"
            )
        for key, d in min_distances.items():
            pair = _pair(key, els, comp.formula)
            if (
                isinstance(d, bool)
                or not isinstance(d, numbers.Real)
                or not math.isfinite(d)
                or d < 0
            ):
                raise InputError(
                    f"min_distances[{key!r}] must be a finite distance ≥ 0 Å, got {d!r}"
                )
            if pair in given and given[pair] != float(d):
                raise InputError(
                    f"min_distances gives {pair[0]}-{pair[1]} twice ({given[pair]} and {d} Å)"
                )
            given[pair] = float(d)
    table.update(given)
    idx = {el: i for i, el in enumerate(els)}
    m = np.zeros((len(els), len(els)))
    for (a, b), d in table.items():
        m[idx[a], idx[b]] = m[idx[b], idx[a]] = d
    return m


# -- random sequential insertion ------------------------------------------------------------------
class _Jammed(Exception):
    """Insertion found no room for atom ``index`` within the allowed trials."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def _insert(
    types: np.ndarray,
    dmin_A: np.ndarray,
    length_A: float,
    rng: np.random.Generator,
    max_attempts: int,
) -> np.ndarray:
    """Random sequential insertion of atoms into a cubic periodic box.

    Atom i (species ``types[i]``) is tried at uniform random positions, a batch at a time,
    until one lies at least ``dmin_A[types[i], types[j]]`` (minimum image) from every atom
    j < i already placed. Neighbours are found through a cell list whose bins are at least the
    largest minimum distance wide, so each trial checks the 27 surrounding bins only.

    Args:
        types: Species index of each atom, in insertion order, shape (n,).
        dmin_A: Symmetric minimum distances between species, (n_species, n_species), in Å.
        length_A: Edge of the cubic box in Å.
        rng: The random generator.
        max_attempts: Trial positions per atom before giving up.

    Returns:
        Positions (n, 3) in Å, in [0, length_A).

    Raises:
        _Jammed: With the index of the first atom that found no room.
    """
    n = len(types)
    L = float(length_A)
    d2 = np.asarray(dmin_A, dtype=np.float64) ** 2
    dmax = float(np.sqrt(d2.max())) if d2.size else 0.0
    nb = 1 if dmax <= 0 else max(1, min(int(L // dmax), 64))
    bin_w = L / nb
    steps = sorted({o % nb for o in (-1, 0, 1)})
    offsets = np.array(list(itertools.product(steps, repeat=3)), dtype=np.intp)
    cap = 8
    grid = np.full((nb**3, cap), -1, dtype=np.intp)
    fill = np.zeros(nb**3, dtype=np.intp)
    pos = np.zeros((n, 3))
    for i in range(n):
        row = d2[types[i]]
        tried, batch, placed = 0, _FIRST_BATCH, None
        while tried < max_attempts:
            k = min(batch, max_attempts - tried)
            cand = rng.random((k, 3)) * L
            tried += k
            b = np.minimum((cand // bin_w).astype(np.intp), nb - 1)
            nbr = (b[:, None, :] + offsets[None, :, :]) % nb
            members = grid[(nbr[..., 0] * nb + nbr[..., 1]) * nb + nbr[..., 2]].reshape(k, -1)
            d = pos[members] - cand[:, None, :]
            d -= L * np.rint(d / L)
            r2 = np.einsum("kmj,kmj->km", d, d)
            clash = (members >= 0) & (r2 < row[types[members]])
            ok = ~clash.any(axis=1)
            if ok.any():
                placed = cand[int(np.argmax(ok))]
                break
            batch = min(2 * batch, _MAX_BATCH)
        if placed is None:
            raise _Jammed(i)
        pos[i] = placed
        bx, by, bz = np.minimum((placed // bin_w).astype(np.intp), nb - 1)
        cell = (bx * nb + by) * nb + bz
        if fill[cell] == cap:
            grid = np.concatenate([grid, np.full_like(grid, -1)], axis=1)
            cap *= 2
        grid[cell, fill[cell]] = i
        fill[cell] += 1
    return pos


def _as_rng(rng: int | np.random.Generator | None) -> tuple[np.random.Generator, int | None]:
    """The generator and, when known, the integer seed that reproduces it."""
    if rng is None:
        seq = np.random.SeedSequence()
        return np.random.default_rng(seq), int(seq.entropy)
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng)), int(rng)
    raise InputError(
        f"rng must be a non-negative integer seed, a numpy Generator or None, got {rng!r}"
    )


def random_cell(
    composition: Composition | str,
    n_atoms: int | None = None,
    density_g_cm3: float | None = None,
    rng: int | np.random.Generator | None = None,
    min_distances: Mapping[tuple[str, str] | str, float] | None = None,
    max_attempts: int = 1000,
    *,
    restarts: int = 2,
    check_neutral: bool = True,
) -> Atoms:
    """A cubic periodic cell of randomly placed atoms, at a density, with atoms kept apart.

    Atoms are placed by random sequential insertion (J. Feder, *J. Theor. Biol.* 87, 237
    (1980)): each is tried at uniform random positions until its minimum-image distance to
    every atom already placed is at least the minimum for that pair. Species go in by
    decreasing self-distance (the bulky anions first, the small cations into the gaps left).
    An atom that finds no room in ``max_attempts`` trials restarts the whole placement, at most
    ``restarts`` times, so the work is bounded by (restarts + 1) × n_atoms × max_attempts
    trials; packings that cannot exist (one species alone beyond the densest sphere packing,
    π/√18) are refused before any trial.

    Args:
        composition: A :class:`~solidion.chemistry.Composition` or a formula string.
        n_atoms: Target atom count: the cell holds :meth:`Composition.scaled_to` ``(n_atoms)``.
            If None, an integer composition is used as it is and a fractional one as its
            formula unit.
        density_g_cm3: Density in g/cm³; if None, :func:`estimate_density_g_cm3` (an estimate
            for NPT to relax).
        rng: Seed or generator; None draws a fresh seed, recorded in the metadata.
        min_distances: Overrides of :func:`default_min_distances`, in Å, keyed by pair in
            either order: ``{("Li", "Cl"): 2.0, "O-O": 2.4}``.
        max_attempts: Trial positions per atom before a restart.
        restarts: Full restarts after an atom found no room.
        check_neutral: Refuse a composition that is not charge-neutral
            (:meth:`Composition.check_neutral`).

    Returns:
        ``ase.Atoms`` with ``pbc=True``, a cubic cell, atoms grouped by element in the order of
        the composition, and ``atoms.info["solidion"]`` holding the builder, formulas, density,
        seed (None when a Generator was passed) and the minimum distances used.

    Raises:
        InputError: For a bad argument, a composition that is not neutral, a box smaller than a
            minimum distance, or a packing that cannot be reached at this density (lower the
            density or the minimum distances).

    Example:
        >>> atoms = random_cell("LiAlCl2.5O0.75", n_atoms=42, rng=0)
        >>> atoms.get_chemical_formula(mode="metal"), atoms.info["solidion"]["seed"]
        ('Al8Li8Cl20O6', 0)
        >>> round(atoms.info["solidion"]["density_g_cm3"], 2)
        2.25
    """
    comp = _as_composition(composition)
    if check_neutral:
        comp.check_neutral()
    if n_atoms is not None:
        cell_comp = comp.scaled_to(n_atoms)
    elif comp.is_integer:
        cell_comp = comp
    else:
        cell_comp = comp.reduced()
    if density_g_cm3 is None:
        density = estimate_density_g_cm3(cell_comp)
        source = "estimate"
    else:
        if (
            isinstance(density_g_cm3, bool)
            or not isinstance(density_g_cm3, numbers.Real)
            or not (math.isfinite(density_g_cm3) and density_g_cm3 > 0)
        ):
            raise InputError(f"density_g_cm3 must be a positive number, got {density_g_cm3!r}")
        density = float(density_g_cm3)
        source = "given"
    for name, value, low in (("max_attempts", max_attempts, 1), ("restarts", restarts, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise InputError(f"{name} must be an integer ≥ {low}, got {value!r}")
    generator, seed = _as_rng(rng)

    els = cell_comp.elements
    counts = [round(n) for n in cell_comp.amounts.values()]
    dmin = _min_distance_matrix(cell_comp, min_distances)
    volume_A3 = cell_comp.mass_amu * AMU_A3_TO_G_CM3 / density
    length_A = volume_A3 ** (1.0 / 3.0)
    _check_room(els, counts, dmin, length_A, volume_A3, density, cell_comp)

    order = sorted(range(len(els)), key=lambda s: (-dmin[s, s], -counts[s]))
    types = np.concatenate([np.full(counts[s], s, dtype=np.intp) for s in order])
    pos, attempt, stuck = None, 0, -1
    while pos is None and attempt <= restarts:
        attempt += 1
        try:
            pos = _insert(types, dmin, length_A, generator, int(max_attempts))
        except _Jammed as jam:
            stuck = jam.index
    if pos is None:
        el = els[types[stuck]]
        raise InputError(
            f"cannot pack {cell_comp.formula} at {density:g} g/cm³ (cubic box of "
            f"{length_A:.3f} Å): random insertion found no room for a {el} atom in "
            f"{max_attempts} trials after placing {stuck} of {len(types)} atoms (tried "
            f"{restarts + 1} times), so the packing is not reachable at this density; "
            f"lower density_g_cm3 (the estimate is {estimate_density_g_cm3(cell_comp):.3g}) "
            "or pass smaller min_distances"
        )
    by_species = np.concatenate([np.flatnonzero(types == s) for s in range(len(els))])
    atoms = Atoms(
        symbols=cell_comp.symbols(),
        positions=pos[by_species],
        cell=np.eye(3) * length_A,
        pbc=True,
    )
    atoms.info["solidion"] = {
        "builder": "random_cell",
        "composition": comp.formula,
        "formula": cell_comp.formula,
        "density_g_cm3": density,
        "density_source": source,
        "seed": seed,
        "attempt": attempt,
        "min_distances_A": {
            f"{a}-{b}": float(dmin[i, j])
            for i, a in enumerate(els)
            for j, b in enumerate(els)
            if j >= i
        },
    }
    return atoms


def _check_room(
    els: list[str],
    counts: list[int],
    dmin: np.ndarray,
    length_A: float,
    volume_A3: float,
    density: float,
    comp: Composition,
) -> None:
    """Refuse boxes in which the packing provably cannot exist.

    An atom meets its own periodic image at the box edge, so each species needs L ≥ d_ii; and
    the atoms of one species alone are hard spheres of diameter d_ii, which fill at most
    π/√18 ≈ 0.74 of the volume.
    """
    for s, el in enumerate(els):
        d = float(dmin[s, s])
        if counts[s] and length_A < d:
            raise InputError(
                f"the cubic box of {comp.formula} at {density:g} g/cm³ is {length_A:.3f} Å wide, "
                f"less than the {el}-{el} minimum distance {d:.3f} Å (an atom would meet its "
                "own periodic image); use more atoms or smaller min_distances"
            )
        fraction = counts[s] * math.pi / 6.0 * d**3 / volume_A3
        if counts[s] > 1 and fraction > _DENSEST_PACKING:
            raise InputError(
                f"cannot pack {comp.formula} at {density:g} g/cm³: {counts[s]} {el} atoms "
                f"{d:.3f} Å apart would fill {fraction:.2f} of the volume as hard spheres, "
                f"beyond the densest packing {_DENSEST_PACKING:.2f}; lower density_g_cm3 (the "
                f"estimate is {estimate_density_g_cm3(comp):.3g}) or pass smaller min_distances"
            )

"""Ion clusters for the cluster Nernst–Einstein conductivity, and when they cannot be used.

France-Lanord & Grossman, Phys. Rev. Lett. 122, 136001 (2019) replace the free ions of the
Nernst–Einstein equation by the clusters the ions form:

.. math::
    \\sigma_{cNE} = \\frac{e^2}{V k_B T}\\sum_c \\langle N_c\\rangle z_c^2 D_c

where c runs over cluster *types* (compositions), N_c is the mean number of clusters of that
type, z_c their net charge and D_c the diffusivity of their centre of mass. A neutral cluster
carries no current however fast it moves. Species transference numbers follow as
t_i = Σ_c n_ic z_i z_c N_c D_c / Σ_c z_c² N_c D_c.

**Bonds.** Two atoms belong to one cluster when their distance is below the cutoff of their
species pair; clusters are the connected components of that bond graph, and atoms that take
part in no bond are free ions (clusters of one). Two definitions of the bonded pairs are built
in (:data:`DEFINITIONS`), each with the cutoff at the first minimum of the pair g(r):

- ``"metal-centred"`` — every network-forming cation M (formal charge ≥ +3, e.g. Al, Ga, In,
  Si, P; :func:`network_formers`) with every anion X other than the mobile ion. The units are
  the M–X polyhedra and the fragments they form by sharing corners (AlCl₄⁻, Al₂OCl₆²⁻, …);
  the mobile alkali is a free ion unless explicit cutoffs bind it. This is the default when the
  composition has such a framework cation, as in the A M X₂.₅O₀.₇₅ oxyhalides.
- ``"mobile-anion"`` — the mobile ion with every species of opposite charge sign: the ion
  pairs and aggregates of F-L&G, made for dilute salts (polymer and liquid electrolytes). The
  default when there is no framework cation.

**Where the picture fails.** In a dense solid the mobile-anion graph (each Li with several
anions, each anion with several Li) percolates: one cluster spans the cell, its "diffusivity"
is that of a network, and σ_cNE and t^cNE become meaningless (negative t_Li). The analysis
therefore checks, in every case, at the sampled time origins (:func:`percolation_reasons`):

- **wrapping** — a cluster that is connected to its own periodic image (periodic dimension
  ≥ 1, :func:`periodic_components`: the rank of the integer lattice of cycle translations, as
  in :func:`solidion.theory.percolation.dimensionality`);
- **majority** — the largest cluster holds more than half of the mobile ions, on average;
- **drift** — the mean membership (the weight-average cluster size Σ s²/Σ s over the atoms of
  bonded species) differs between the first and second half of the run by more than its noise
  (Welch t-test at 99 % with the effective sample size of correlated origins, and by more
  than 10 %).

Any of them withholds σ_cNE and t^cNE (NaN, with a warning that names the reason). The
analysis also withholds the t^cNE when an ion met only as a free ion gets a t^cNE outside
[0, 1] beyond its error, which only a negative N_c·D_c (clusters whose slow centre-of-mass
motion the run does not resolve) can cause.

A cluster is identified at a time origin t₀ and followed with fixed membership: D_c is one
sixth of the slope of the mean-squared displacement of its mass-weighted centre over the lags
of the fit window (the displacement is taken in the same reference frame as every other
transport number).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from solidion.structure.rdf import cell_widths

__all__ = [
    "DEFINITIONS",
    "BlockClusters",
    "ClusterTypes",
    "bonded_species_pairs",
    "cluster_block_statistics",
    "cluster_labels",
    "default_definition",
    "membership_drift",
    "network_formers",
    "percolation_reasons",
    "periodic_bonds",
    "periodic_components",
]

#: Built-in cluster definitions (the bonded species pairs, see the module docstring).
DEFINITIONS = ("metal-centred", "mobile-anion")
#: Smallest formal charge of a network-forming (framework) cation.
NETWORK_FORMER_CHARGE = 3.0
#: Significance level and smallest relative size of a membership change that withholds cNE.
DRIFT_LEVEL = 0.99
DRIFT_MIN_RELATIVE = 0.1


# ---------------------------------------------------------------------------------------------
# which species bond
# ---------------------------------------------------------------------------------------------
def network_formers(species: Sequence[str], charges: Mapping[str, float], mobile: str) -> list[str]:
    """Framework cations (formal charge ≥ +3, not the mobile ion), if the system has anions.

    Example:
        >>> network_formers(["Li", "Al", "Cl", "O"], {"Li": 1, "Al": 3, "Cl": -1, "O": -2}, "Li")
        ['Al']
        >>> network_formers(["Li", "Cl"], {"Li": 1, "Cl": -1}, "Li")
        []
    """
    if not any(charges[s] < 0 and s != mobile for s in species):
        return []
    return [s for s in species if s != mobile and charges[s] >= NETWORK_FORMER_CHARGE]


def default_definition(species: Sequence[str], charges: Mapping[str, float], mobile: str) -> str:
    """``"metal-centred"`` where the composition has a framework cation, else ``"mobile-anion"``.

    Example:
        >>> q = {"Li": 1, "Al": 3, "Cl": -1, "O": -2}
        >>> default_definition(["Li", "Al", "Cl", "O"], q, "Li")
        'metal-centred'
        >>> default_definition(["Li", "Cl"], q, "Li")
        'mobile-anion'
    """
    return "metal-centred" if network_formers(species, charges, mobile) else "mobile-anion"


def bonded_species_pairs(
    definition: str, species: Sequence[str], charges: Mapping[str, float], mobile: str
) -> list[tuple[str, str]]:
    """The species pairs that bond under a built-in definition (:data:`DEFINITIONS`).

    Example:
        >>> q = {"Li": 1, "Al": 3, "Cl": -1, "O": -2}
        >>> bonded_species_pairs("metal-centred", ["Li", "Al", "Cl", "O"], q, "Li")
        [('Al', 'Cl'), ('Al', 'O')]
        >>> bonded_species_pairs("mobile-anion", ["Li", "Al", "Cl", "O"], q, "Li")
        [('Li', 'Cl'), ('Li', 'O')]
    """
    if definition == "metal-centred":
        anions = [s for s in species if charges[s] < 0 and s != mobile]
        return [(m, x) for m in network_formers(species, charges, mobile) for x in anions]
    if definition == "mobile-anion":
        return [(mobile, s) for s in species if charges[s] * charges[mobile] < 0]
    raise ValueError(f"unknown cluster definition {definition!r}; choose from {DEFINITIONS}")


# ---------------------------------------------------------------------------------------------
# pure kernels: periodic bond graph, components and their periodic dimension
# ---------------------------------------------------------------------------------------------
def periodic_bonds(
    positions: np.ndarray,
    cell: np.ndarray,
    species_index: np.ndarray,
    cutoffs: Mapping[tuple[int, int], float],
) -> np.ndarray:
    """Every bond of one frame with the periodic image it crosses into.

    Args:
        positions: Cartesian positions (n_atoms, 3) in Å (wrapped or not).
        cell: (3, 3) lattice vectors as rows.
        species_index: Species number of each atom (n_atoms,).
        cutoffs: ``{(si, sj): r_cut}`` bond cutoffs in Å between species numbers.

    Returns:
        Integer array (m, 5) of rows ``(i, j, n1, n2, n3)``: atom j in the cell shifted by
        n (position x_j + n·h, with x the wrapped positions) lies closer than the cutoff to
        atom i. Every periodic image within the cutoff is a bond, whatever the cell size.

    Example:
        >>> b = periodic_bonds(np.zeros((1, 3)), np.diag([2.0, 9, 9]), np.zeros(1, int), {(0, 0): 2.5})
        >>> sorted(b[:, 2].tolist())  # one atom bonded to its own images along a
        [-1, 1]
    """
    from scipy.spatial import cKDTree

    cell = np.asarray(cell, dtype=np.float64)
    frac = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    out = []
    for (si, sj), rc in cutoffs.items():
        ia = np.flatnonzero(species_index == si)
        ib = np.flatnonzero(species_index == sj)
        if ia.size == 0 or ib.size == 0 or not rc > 0:
            continue
        skin = rc / cell_widths(cell)
        reach = np.ceil(skin).astype(int) + 1  # one more: wrapped coordinates may round to 1.0
        grid = np.stack(np.meshgrid(*(np.arange(-k, k + 1) for k in reach), indexing="ij"), -1)
        grid = grid.reshape(-1, 3)
        fb = frac[ib][None, :, :] + grid[:, None, :]
        shift_id, atom = np.nonzero(np.all((fb >= -skin) & (fb <= 1.0 + skin), axis=-1))
        tree_b = cKDTree(fb[shift_id, atom] @ cell)
        tree_a = cKDTree(frac[ia] @ cell)
        m = tree_a.sparse_distance_matrix(tree_b, rc, output_type="ndarray")
        i = ia[m["i"]]
        j = ib[atom[m["j"]]]
        n = grid[shift_id[m["j"]]]
        keep = (m["v"] < rc) & ~((i == j) & ~n.any(axis=1))
        out.append(np.column_stack([i[keep], j[keep], n[keep]]))
    if not out:
        return np.zeros((0, 5), dtype=np.int64)
    return np.concatenate(out).astype(np.int64)


def _integer_rank(vectors: np.ndarray) -> int:
    """Rank of integer vectors by exact elimination on Python integers (no tolerance)."""
    basis: list[tuple[list[int], int]] = []
    for row in np.unique(vectors, axis=0):
        v = [int(x) for x in row]
        for b, col in basis:  # each basis row is zero at the pivots of the rows before it
            if v[col]:
                a, c = b[col], v[col]
                v = [a * x - c * y for x, y in zip(v, b, strict=True)]
        pivot = next((k for k, x in enumerate(v) if x), None)
        if pivot is not None:
            basis.append((v, pivot))
            if len(basis) == len(v):
                break
    return len(basis)


def periodic_components(n_atoms: int, bonds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of a periodic bond graph and the periodic dimension of each.

    Each component is unwrapped along a spanning tree (image vector p ∈ ℤ³ per atom); every
    bond (i, j, n) then closes a cycle with translation t = p_i + n − p_j, and the component's
    dimension is the rank of the lattice of those t: 0 for a finite cluster, 1 for a chain
    that wraps the cell along one direction, up to 3. The same construction as
    :func:`solidion.theory.percolation.dimensionality` (which the transport layer does not
    import: theory sits above it).

    Args:
        n_atoms: Number of atoms.
        bonds: Rows ``(i, j, n1, n2, n3)`` (see :func:`periodic_bonds`).

    Returns:
        ``(labels, dimension)``: component label per atom (n_atoms,) and the periodic dimension
        of each component (n_components,).

    Example:
        >>> chain = np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0]])  # 0–1 bonded, and 1 to 0's image
        >>> labels, dim = periodic_components(3, chain)
        >>> labels.tolist(), dim.tolist()
        ([0, 0, 1], [1, 0])
    """
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 5)
    src = np.concatenate([bonds[:, 0], bonds[:, 1]])
    dst = np.concatenate([bonds[:, 1], bonds[:, 0]])
    off = np.concatenate([bonds[:, 2:], -bonds[:, 2:]])
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n_atoms, n_atoms))
    n_comp, labels = connected_components(graph, directed=False)
    dims = np.zeros(n_comp, dtype=np.int64)
    if bonds.shape[0] == 0:
        return labels, dims
    # spanning forest: breadth-first from a virtual root joined to one atom of each component
    _, reps = np.unique(labels, return_index=True)
    root = n_atoms
    forest = coo_matrix(
        (
            np.ones(src.size + reps.size, dtype=np.int8),
            (np.concatenate([src, np.full(reps.size, root)]), np.concatenate([dst, reps])),
        ),
        shape=(n_atoms + 1, n_atoms + 1),
    ).tocsr()
    _, pred = breadth_first_order(forest, root, directed=True, return_predecessors=True)
    pred = pred[:n_atoms]
    child = np.flatnonzero((pred >= 0) & (pred != root))
    # offset of one bond parent → child (several images may join them; any one is a tree edge)
    key = src * (n_atoms + 1) + dst
    uniq, first = np.unique(key, return_index=True)
    want = pred[child].astype(np.int64) * (n_atoms + 1) + child
    acc = np.zeros((n_atoms, 3), dtype=np.int64)
    acc[child] = off[first[np.searchsorted(uniq, want)]]
    parent = np.arange(n_atoms)
    parent[child] = pred[child]
    while True:  # pointer jumping: acc[v] becomes p_v − p_(root of v)
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        acc += acc[parent] * (parent != np.arange(n_atoms))[:, None]
        parent = grand
    t = acc[bonds[:, 0]] + bonds[:, 2:] - acc[bonds[:, 1]]
    cyc = t.any(axis=1)
    lab = labels[bonds[cyc, 0]]
    for c in np.unique(lab):
        dims[c] = _integer_rank(t[cyc][lab == c])
    return labels, dims


def cluster_labels(
    wrapped: np.ndarray,
    cell: np.ndarray,
    species_index: np.ndarray,
    cutoffs: Mapping[tuple[int, int], float],
) -> np.ndarray:
    """Connected-component label of every atom for one frame.

    Args:
        wrapped: Positions (n_atoms, 3) in Å (wrapping does not matter).
        cell: (3, 3) lattice vectors as rows.
        species_index: Species number of each atom (n_atoms,).
        cutoffs: ``{(si, sj): r_cut}`` bond cutoffs in Å between species numbers.

    Returns:
        Labels (n_atoms,); atoms sharing a label form one cluster.
    """
    bonds = periodic_bonds(wrapped, cell, species_index, cutoffs)
    return periodic_components(wrapped.shape[0], bonds)[0]


# ---------------------------------------------------------------------------------------------
# cluster statistics of one block
# ---------------------------------------------------------------------------------------------
@dataclass
class ClusterTypes:
    """Registry of cluster compositions met so far (counts per species, net charge)."""

    species: tuple[str, ...]
    charges: np.ndarray

    def __post_init__(self) -> None:
        self.keys: list[tuple[int, ...]] = []
        self._index: dict[tuple[int, ...], int] = {}

    def index(self, composition: tuple[int, ...]) -> int:
        if composition not in self._index:
            self._index[composition] = len(self.keys)
            self.keys.append(composition)
        return self._index[composition]

    def name(self, k: int) -> str:
        return "".join(f"{s}{n}" for s, n in zip(self.species, self.keys[k], strict=True) if n)

    def net_charge(self, k: int) -> float:
        return float(np.dot(self.keys[k], self.charges))

    def composition(self, k: int) -> np.ndarray:
        return np.asarray(self.keys[k], dtype=np.float64)


@dataclass(frozen=True)
class BlockClusters:
    """Cluster statistics of one block and the percolation diagnostics of its time origins.

    Attributes:
        types: ``{type_index: (mean number of clusters, D in Å²/ps)}``.
        origins: Frames (within the run) of the sampled time origins.
        wrap_dimension: Largest periodic dimension of any cluster, per origin (0: none wraps).
        largest_mobile: Most mobile ions in one cluster, per origin.
        membership: Weight-average cluster size Σ s²/Σ s over the atoms of bonded species,
            per origin (1 when nothing bonds).
    """

    types: dict[int, tuple[float, float]]
    origins: np.ndarray
    wrap_dimension: np.ndarray
    largest_mobile: np.ndarray
    membership: np.ndarray


def cluster_block_statistics(
    frames: Callable[[Sequence[int]], np.ndarray],
    cells: np.ndarray,
    ref: np.ndarray,
    species_index: np.ndarray,
    masses: np.ndarray,
    cutoffs: Mapping[tuple[int, int], float],
    types: ClusterTypes,
    block_start: int,
    block_len: int,
    lags: np.ndarray,
    n_origins: int,
    timestep_ps: float,
    mobile_index: int,
) -> BlockClusters:
    """Mean count and centre-of-mass diffusivity of each cluster type in one block.

    Args:
        frames: Returns unwrapped positions (k, n_atoms, 3) of the requested frames.
        cells: Cell per frame (n_frames, 3, 3).
        ref: Reference-frame drift per frame (n_frames, 3) subtracted from displacements.
        species_index: Species number of each atom.
        masses: Atomic masses (n_atoms,).
        cutoffs: Bond cutoffs between species numbers.
        types: Registry updated with new compositions.
        block_start: First frame of the block.
        block_len: Frames in the block.
        lags: Lags (frames) of the fit window, increasing, ``lags[-1] < block_len``.
        n_origins: Time origins sampled in the block.
        timestep_ps: Time between frames in ps.
        mobile_index: Species number of the mobile ion.

    Returns:
        A :class:`BlockClusters`.
    """
    last = block_len - 1 - int(lags[-1])
    origins = block_start + np.unique(np.linspace(0, max(last, 0), n_origins).astype(int))
    bonded = np.isin(species_index, [s for pair in cutoffs for s in pair])
    is_mobile = species_index == mobile_index
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    wrap = np.zeros(origins.size, dtype=np.int64)
    largest = np.zeros(origins.size, dtype=np.int64)
    member = np.ones(origins.size)
    for o, t0 in enumerate(origins):
        want = [int(t0), *(int(t0 + lag) for lag in lags)]
        pos = frames(want)
        bonds = periodic_bonds(pos[0], cells[t0], species_index, cutoffs)
        labels, dims = periodic_components(pos.shape[1], bonds)
        n_lab = labels.max() + 1
        wrap[o] = dims.max()
        largest[o] = np.bincount(labels[is_mobile], minlength=n_lab).max() if is_mobile.any() else 0
        if bonded.any():
            size = np.bincount(labels[bonded], minlength=n_lab)
            member[o] = float((size**2).sum() / size.sum())
        comp = np.zeros((n_lab, len(types.species)), dtype=np.int64)
        np.add.at(comp, (labels, species_index), 1)
        mass_c = np.bincount(labels, weights=masses, minlength=n_lab)
        disp = pos[1:] - pos[0] - (ref[want[1:]] - ref[t0])[:, None, :]  # (n_lags, n_atoms, 3)
        com = np.zeros((lags.size, n_lab, 3))
        for k in range(3):
            for li in range(lags.size):
                com[li, :, k] = np.bincount(
                    labels, weights=masses * disp[li, :, k], minlength=n_lab
                )
        com /= mass_c[None, :, None]
        sq = (com**2).sum(axis=-1)  # (n_lags, n_lab)
        type_of = np.array([types.index(tuple(row)) for row in comp])
        for k in np.unique(type_of):
            sel = type_of == k
            sums[k] = sums.get(k, np.zeros(lags.size)) + sq[:, sel].sum(axis=1)
            counts[k] = counts.get(k, 0) + int(sel.sum())
    out: dict[int, tuple[float, float]] = {}
    t_ps = lags * timestep_ps
    for k, s in sums.items():
        msd = s / counts[k]
        slope = np.polyfit(t_ps, msd, 1)[0] if lags.size > 1 else msd[0] / t_ps[0]
        out[k] = (counts[k] / origins.size, slope / 6.0)
    return BlockClusters(out, origins, wrap, largest, member)


# ---------------------------------------------------------------------------------------------
# percolation checks
# ---------------------------------------------------------------------------------------------
def membership_drift(
    run: np.ndarray,
    frame: np.ndarray,
    run_frames: Sequence[int],
    values: np.ndarray,
) -> tuple[float, float, float, float] | None:
    """First-half and second-half means of a per-origin quantity, with the noise of their difference.

    The origins of each run are split at half its length and pooled over runs per half. Values
    at neighbouring origins are correlated (a cluster outlives the spacing of the origins), so
    each half counts as n_eff = n (1 − ρ)/(1 + ρ) independent samples, with ρ the lag-1
    autocorrelation of the time-ordered values about their half means, corrected for its
    small-sample bias −(1 + 4ρ)/m (Kendall, Biometrika 41, 403 (1954)) — the effective sample
    size of an AR(1) process (Bretherton et al., J. Climate 12, 1990 (1999)).

    Args:
        run: Run number of each origin.
        frame: Frame (within its run) of each origin.
        run_frames: Frames in each run.
        values: The quantity at each origin.

    Returns:
        ``(first_mean, second_mean, stderr_of_difference, dof)`` (Welch–Satterthwaite degrees
        of freedom), or None when a half has fewer than two effective samples (no verdict).

    Example:
        >>> frame = np.arange(16) * 10
        >>> drift = membership_drift(np.zeros(16, int), frame, [160], np.where(frame < 80, 2.0, 3.0))
        >>> drift[:3]
        (2.0, 3.0, 0.0)
    """
    halves: list[list[np.ndarray]] = [[], []]
    num = den = 0.0
    lengths = []
    for r, n_fr in enumerate(run_frames):
        mine = run == r
        for h, sel in enumerate((frame < n_fr / 2, frame >= n_fr / 2)):
            idx = np.flatnonzero(mine & sel)
            v = np.asarray(values, dtype=np.float64)[idx[np.argsort(frame[idx], kind="stable")]]
            halves[h].append(v)
            if v.size >= 2:
                dev = v - v.mean()
                num += float((dev[1:] * dev[:-1]).sum())
                den += float((dev**2).sum())
                lengths.append(v.size)
    rho = num / den if den > 0 else 0.0
    if lengths:  # small-sample bias of the lag-1 estimate, −(1 + 4ρ)/m (Kendall 1954)
        rho += (1.0 + 4.0 * rho) / float(np.mean(lengths))
    rho = min(max(rho, 0.0), 0.95)
    a, b = np.concatenate(halves[0]), np.concatenate(halves[1])
    shrink = (1.0 - rho) / (1.0 + rho)
    n_a, n_b = a.size * shrink, b.size * shrink
    if n_a < 2 or n_b < 2:
        return None
    va, vb = a.var(ddof=1) / n_a, b.var(ddof=1) / n_b
    se = float(np.sqrt(va + vb))
    denom = (va**2 / (n_a - 1) if va else 0.0) + (vb**2 / (n_b - 1) if vb else 0.0)
    dof = float((va + vb) ** 2 / denom) if denom > 0 else float(n_a + n_b - 2)
    return float(a.mean()), float(b.mean()), se, dof


def percolation_reasons(
    run: np.ndarray,
    frame: np.ndarray,
    run_frames: Sequence[int],
    wrap_dimension: np.ndarray,
    largest_mobile: np.ndarray,
    membership: np.ndarray,
    n_mobile: int,
    mobile: str,
) -> tuple[str, ...]:
    """Why the clusters cannot be carriers (empty when they can), from the sampled origins.

    Args:
        run: Run number of each origin.
        frame: Frame (within its run) of each origin.
        run_frames: Frames in each run.
        wrap_dimension: Largest periodic dimension of a cluster at each origin.
        largest_mobile: Most mobile ions in one cluster at each origin.
        membership: Weight-average cluster size at each origin.
        n_mobile: Number of mobile ions.
        mobile: Mobile species (for the messages).

    Returns:
        One sentence per failed check: wrapping, majority, drift (see the module docstring).

    Example:
        >>> z = np.zeros(4, int)
        >>> percolation_reasons(z, np.arange(4), [4], np.array([0, 1, 1, 0]), np.full(4, 8),
        ...                     np.full(4, 30.0), 8, "Li")  # doctest: +NORMALIZE_WHITESPACE
        ('a cluster wraps the periodic cell (periodic in 1 dimension, in 2 of 4 sampled frames)',
         'the largest cluster holds 100 % of the 8 Li ions on average (more than half)')
    """
    out = []
    n = wrap_dimension.size
    wraps = wrap_dimension >= 1
    if wraps.any():
        d = int(wrap_dimension.max())
        out.append(
            f"a cluster wraps the periodic cell (periodic in {d} dimension{'s' * (d > 1)}, in "
            f"{int(wraps.sum())} of {n} sampled frames)"
        )
    share = float(np.mean(largest_mobile)) / n_mobile if n_mobile else 0.0
    if n_mobile >= 2 and share > 0.5:
        out.append(
            f"the largest cluster holds {100 * share:.0f} % of the {n_mobile} {mobile} ions on "
            "average (more than half)"
        )
    drift = membership_drift(run, frame, run_frames, membership)
    if drift is not None:
        first, second, se, dof = drift
        delta = second - first
        q = float(stats.t.ppf(0.5 + DRIFT_LEVEL / 2, dof))
        if abs(delta) > q * se and abs(delta) > DRIFT_MIN_RELATIVE * max(first, second):
            out.append(
                f"the mean cluster membership changes within the run ({first:.3g} atoms in the "
                f"first half, {second:.3g} in the second, ± {se:.2g}): the clusters are not "
                "in equilibrium"
            )
    return tuple(out)

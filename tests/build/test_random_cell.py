"""Random starting cells, the density estimate, default distances and existing structures."""

from __future__ import annotations

import time
from collections import Counter

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.geometry import get_distances

from solidion.build import (
    default_min_distances,
    estimate_density_g_cm3,
    from_structure,
    random_cell,
)
from solidion.build.crystal import supercell_repeat
from solidion.chemistry import Composition
from solidion.errors import InputError
from solidion.units import AMU_A3_TO_G_CM3


def mic_distances(atoms: Atoms) -> np.ndarray:
    """Dense minimum-image distances in an orthorhombic cell (all pairs, no neighbour list)."""
    lengths = np.diag(atoms.cell[:])
    assert np.allclose(atoms.cell[:], np.diag(lengths))
    d = atoms.positions[:, None, :] - atoms.positions[None, :, :]
    d -= lengths * np.rint(d / lengths)
    return np.sqrt((d**2).sum(axis=-1))


def pair_violations(atoms: Atoms, table: dict[str, float]) -> list[tuple[int, int, float, float]]:
    """Brute force: every minimum-image pair closer than its minimum ``table["A-B"]``."""
    dist = mic_distances(atoms)
    species, kind = np.unique(atoms.get_chemical_symbols(), return_inverse=True)
    pair = np.array(
        [[table.get(f"{a}-{b}", table.get(f"{b}-{a}", 0.0)) for b in species] for a in species]
    )
    need = pair[kind[:, None], kind[None, :]]
    np.fill_diagonal(need, 0.0)
    bad = np.argwhere(dist < need - 1e-9)
    return [(int(i), int(j), float(dist[i, j]), float(need[i, j])) for i, j in bad]


def density_g_cm3(atoms: Atoms) -> float:
    return atoms.get_masses().sum() / atoms.get_volume() * AMU_A3_TO_G_CM3


# -- random_cell ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_cell() -> tuple[Atoms, float]:
    t0 = time.monotonic()
    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=1300, rng=7)
    return atoms, time.monotonic() - t0


def test_1300_atoms_composition_cell_and_speed(big_cell):
    atoms, seconds = big_cell
    assert len(atoms) == 1302
    assert Counter(atoms.get_chemical_symbols()) == {"Li": 248, "Al": 248, "Cl": 620, "O": 186}
    # grouped by element in the order of the formula
    assert atoms.get_chemical_symbols() == ["Li"] * 248 + ["Al"] * 248 + ["Cl"] * 620 + ["O"] * 186
    assert atoms.pbc.all()
    cell = atoms.cell[:]
    assert np.allclose(cell, np.eye(3) * cell[0, 0])
    frac = atoms.get_scaled_positions(wrap=False)
    assert (frac >= 0).all() and (frac < 1).all()
    assert seconds < 10.0


def test_1300_atoms_keep_every_minimum_distance(big_cell):
    atoms, _ = big_cell
    table = atoms.info["solidion"]["min_distances_A"]
    assert table == pytest.approx(
        {f"{a}-{b}": d for (a, b), d in default_min_distances(["Li", "Al", "Cl", "O"]).items()}
    )
    assert pair_violations(atoms, table) == []


def test_metadata(big_cell):
    atoms, _ = big_cell
    info = atoms.info["solidion"]
    assert info["builder"] == "random_cell"
    assert info["composition"] == "LiAlCl2.5O0.75"
    assert info["formula"] == "Li248Al248Cl620O186"
    assert info["seed"] == 7
    assert info["density_source"] == "estimate"
    assert info["density_g_cm3"] == pytest.approx(estimate_density_g_cm3("LiAlCl2.5O0.75"))
    assert density_g_cm3(atoms) == pytest.approx(info["density_g_cm3"], rel=1e-6)


def test_dense_checker_agrees_with_ase():
    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=105, rng=0)
    _, reference = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    assert np.allclose(mic_distances(atoms), reference)


def test_density_matches_request():
    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=300, density_g_cm3=2.3, rng=1)
    assert density_g_cm3(atoms) == pytest.approx(2.3, rel=1e-6)
    assert atoms.info["solidion"]["density_source"] == "given"
    atoms = random_cell("Li7La3Zr2O12", n_atoms=200, density_g_cm3=5.1, rng=1)
    assert len(atoms) == 192
    assert density_g_cm3(atoms) == pytest.approx(5.1, rel=1e-6)
    assert pair_violations(atoms, atoms.info["solidion"]["min_distances_A"]) == []


def test_without_n_atoms_uses_the_formula_unit_or_the_integer_composition():
    assert len(random_cell("LiAlCl2.5O0.75", rng=0)) == 21
    atoms = random_cell(Composition("Li7La3Zr2O12"), rng=0)
    assert atoms.get_chemical_formula(mode="reduce") == "Li7La3Zr2O12"
    assert len(random_cell("Li8Cl8", rng=0)) == 16  # integer compositions are kept as given


def test_same_seed_same_cell_different_seed_different_cell():
    a = random_cell("NaGaBr2.5O0.75", n_atoms=210, rng=3)
    b = random_cell("NaGaBr2.5O0.75", n_atoms=210, rng=3)
    c = random_cell("NaGaBr2.5O0.75", n_atoms=210, rng=4)
    assert np.array_equal(a.positions, b.positions)
    assert np.array_equal(a.cell[:], b.cell[:])
    assert not np.allclose(a.positions, c.positions)


def test_generator_and_fresh_seed_are_reproducible():
    a = random_cell("LiCl", n_atoms=64, rng=np.random.default_rng(5))
    b = random_cell("LiCl", n_atoms=64, rng=np.random.default_rng(5))
    assert np.array_equal(a.positions, b.positions)
    assert a.info["solidion"]["seed"] is None  # a generator's seed is unknown
    fresh = random_cell("LiCl", n_atoms=64)
    seed = fresh.info["solidion"]["seed"]
    assert isinstance(seed, int)
    assert np.array_equal(random_cell("LiCl", n_atoms=64, rng=seed).positions, fresh.positions)


def test_impossible_density_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(InputError) as err:
        random_cell("LiAlCl2.5O0.75", n_atoms=1300, density_g_cm3=20.0, rng=0)
    assert time.monotonic() - t0 < 10.0
    msg = str(err.value)
    assert "cannot pack Li248Al248Cl620O186 at 20 g/cm³" in msg
    assert "lower density_g_cm3" in msg and "min_distances" in msg


def test_jammed_insertion_fails_in_bounded_time():
    # 1.6× the estimate passes the hard-sphere bound but is beyond random insertion
    t0 = time.monotonic()
    with pytest.raises(InputError) as err:
        random_cell("LiAlCl2.5O0.75", n_atoms=600, density_g_cm3=3.6, rng=0, restarts=1)
    assert time.monotonic() - t0 < 10.0
    msg = str(err.value)
    assert "random insertion found no room" in msg
    assert "1000 trials" in msg and "tried 2 times" in msg
    assert "lower density_g_cm3 (the estimate is 2.25)" in msg


def test_min_distance_overrides_are_honoured():
    atoms = random_cell(
        "LiAlCl2.5O0.75",
        n_atoms=210,
        rng=2,
        min_distances={("Cl", "Li"): 2.4, "O-O": 2.6, "Al-Al": 3.0},
    )
    table = atoms.info["solidion"]["min_distances_A"]
    assert table["Li-Cl"] == 2.4
    assert table["O-O"] == 2.6
    assert table["Al-Al"] == 3.0
    assert table["Cl-Cl"] == pytest.approx(default_min_distances(["Cl"])[("Cl", "Cl")])
    assert pair_violations(atoms, table) == []
    # and the checker would see a violation of a larger minimum
    assert pair_violations(atoms, {**table, "Li-Cl": 3.5})


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({("Li", "Xe"): 2.0}, "names 'Xe', not in Li4Cl4"),
        ({"Li-Cl-O": 2.0}, "must be a pair of elements"),
        ({("Li",): 2.0}, "must be a pair of elements"),
        ({"Li-Cl": -1.0}, "must be a finite distance"),
        ({"Li-Cl": float("inf")}, "must be a finite distance"),
        ({"Li-Cl": 2.0, ("Cl", "Li"): 2.5}, "gives Li-Cl twice"),
    ],
)
def test_bad_min_distances(overrides, problem):
    with pytest.raises(InputError, match=problem):
        random_cell("LiCl", n_atoms=8, rng=0, min_distances=overrides)


def test_box_smaller_than_a_self_distance_is_refused():
    with pytest.raises(InputError, match="own periodic image"):
        random_cell("LiCl", rng=0, min_distances={"Cl-Cl": 6.0})


def test_non_neutral_composition_is_refused_unless_asked():
    with pytest.raises(InputError, match="not charge-neutral"):
        random_cell("LiAlCl2.5O0.8", n_atoms=100, rng=0)
    atoms = random_cell("LiAlCl2.5O0.8", n_atoms=100, rng=0, check_neutral=False)
    assert atoms.info["solidion"]["composition"] == "LiAlCl2.5O0.8"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"composition": 42}, "composition must be"),
        ({"n_atoms": 0}, "n_atoms must be a positive integer"),
        ({"density_g_cm3": -1.0}, "density_g_cm3 must be a positive number"),
        ({"density_g_cm3": float("nan")}, "density_g_cm3 must be a positive number"),
        ({"rng": -1}, "rng must be"),
        ({"rng": "seed"}, "rng must be"),
        ({"max_attempts": 0}, "max_attempts must be an integer ≥ 1"),
        ({"restarts": -1}, "restarts must be an integer ≥ 0"),
    ],
)
def test_bad_arguments(kwargs, problem):
    args = {"composition": "LiCl", "n_atoms": 8, **kwargs}
    with pytest.raises(InputError, match=problem):
        random_cell(**args)


# -- default minimum distances -------------------------------------------------------------------
def test_default_min_distances_rules():
    d = default_min_distances(["Li", "Al", "Cl", "O"])
    assert len(d) == 10  # every unordered pair, self-pairs included
    assert d[("Li", "Cl")] == pytest.approx(0.75 * (0.76 + 1.81))
    assert d[("Al", "O")] == pytest.approx(0.75 * (0.535 + 1.40))
    assert d[("Cl", "Cl")] == pytest.approx(0.7 * 2 * 1.81)
    assert d[("Cl", "O")] == pytest.approx(0.7 * (1.81 + 1.40))
    # like charges stay farther apart than the bonded pair of the same ions
    assert d[("Cl", "Cl")] > d[("Li", "Cl")]
    assert d[("Li", "Li")] > 0.6 * 2 * 0.76  # cations: the covalent sum wins
    assert all(v > 0 for v in d.values())


def test_default_min_distances_follow_oxidation_states():
    sulfide = default_min_distances(["Li", "S", "O"])
    sulfate = default_min_distances(Composition("Li2SO4", oxidation_states={"S": 6}))
    assert sulfate[("S", "O")] < sulfide[("S", "O")]  # S6+ bonds O, S2- repels it
    assert sulfate[("S", "O")] == pytest.approx(0.75 * (0.29 + 1.40))
    with pytest.raises(InputError, match="unknown element"):
        default_min_distances(["Li", "Qq"])
    with pytest.raises(InputError, match="not present: Na"):
        default_min_distances(["Li", "Cl"], oxidation_states={"Na": 1})


# -- density estimate ----------------------------------------------------------------------------
def test_density_estimate_targets():
    # amorphous LiAlCl2.5O0.75 is 2.2-2.4 g/cm³; crystalline LLZO 5.1 g/cm³
    assert 2.1 < estimate_density_g_cm3("LiAlCl2.5O0.75") < 2.5
    assert estimate_density_g_cm3("Li7La3Zr2O12") == pytest.approx(5.1, rel=0.05)
    fam = [estimate_density_g_cm3(c) for c in ("NaGaBr2.5O0.75", "KInI2.5O0.75")]
    assert all(2.0 < rho < 6.0 for rho in fam)


@pytest.mark.parametrize(
    ("formula", "measured"),
    [
        ("NaCl", 2.165),
        ("LiCl", 2.07),
        ("KCl", 1.99),
        ("MgO", 3.58),
        ("Li2O", 2.01),
        ("ZrO2", 5.68),
        ("CaF2", 3.18),
        ("Li3PS4", 1.87),
    ],
)
def test_density_estimate_against_crystals(formula, measured):
    assert estimate_density_g_cm3(formula) == pytest.approx(measured, rel=0.15)


def test_density_estimate_uses_overrides():
    sulfate = Composition("Li2SO4", oxidation_states={"S": 6})
    assert estimate_density_g_cm3(sulfate) == pytest.approx(2.22, rel=0.15)
    assert estimate_density_g_cm3(sulfate) > estimate_density_g_cm3("Li2SO4")


# -- from_structure ------------------------------------------------------------------------------
def test_from_structure_reads_a_file(tmp_path):
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    path = tmp_path / "nacl.extxyz"
    ase.io.write(path, nacl)
    atoms = from_structure(path)
    assert atoms.get_chemical_symbols() == ["Na", "Cl"]
    assert np.allclose(atoms.positions, nacl.positions)
    assert np.allclose(atoms.cell[:], nacl.cell[:])
    assert atoms.pbc.all()
    assert atoms.info["solidion"] == {
        "builder": "from_structure",
        "source": str(path),
        "supercell": [1, 1, 1],
    }
    big = from_structure(str(path), supercell=(2, 3, 1))
    assert len(big) == 12
    assert np.allclose(big.cell[:], nacl.cell[:] * np.array([[2], [3], [1]]))


def test_from_structure_supercell_from_an_atom_count():
    cubic = bulk("NaCl", "rocksalt", a=5.64, cubic=True)  # 8 atoms
    atoms = from_structure(cubic, supercell=64)
    assert len(atoms) == 64
    assert atoms.info["solidion"]["supercell"] == [2, 2, 2]
    # the primitive cell (2 atoms): near-isotropic repeats only, 3x3x3 = 54 is closest to 50
    prim = from_structure(bulk("NaCl", "rocksalt", a=5.64), supercell=50)
    assert len(prim) == 54
    assert supercell_repeat(np.diag([4.0, 4.0, 8.0]), 4, 40) == (3, 3, 1)


def test_from_structure_copies_atoms_and_sets_pbc():
    src = Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=np.eye(3) * 5.6, pbc=False)
    atoms = from_structure(src)
    assert atoms.pbc.all()
    atoms.positions += 1.0
    assert src.positions[0, 0] == 0.0 and not src.pbc.any()


def test_from_structure_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.cif"
    with pytest.raises(InputError, match=f"structure file '{path}' does not exist"):
        from_structure(path)


def test_from_structure_unreadable_file_names_it(tmp_path):
    path = tmp_path / "garbled.cif"
    path.write_text("this is not a CIF file\n")
    with pytest.raises(InputError, match=f"cannot read structure file '{path}'"):
        from_structure(path)


def test_from_structure_without_cell_is_refused(tmp_path):
    path = tmp_path / "water.xyz"
    ase.io.write(path, molecule("H2O"))
    with pytest.raises(InputError, match="no three-dimensional cell"):
        from_structure(path)


@pytest.mark.parametrize("supercell", [(0, 1, 1), (1, 2), 0, True, 2.5, (1, 1, 1.5)])
def test_from_structure_bad_supercell(supercell):
    with pytest.raises(InputError, match="supercell must be"):
        from_structure(bulk("NaCl", "rocksalt", a=5.64), supercell=supercell)

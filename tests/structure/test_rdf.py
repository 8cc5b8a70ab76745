"""g(r), N(r) and the first-shell minimum: analytic truths, crystals, cell shapes, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from solidion import Trajectory
from solidion.errors import InputError
from solidion.structure import RDFResult, first_minimum, rdf, rdf_all_pairs
from solidion.structure.rdf import max_rdf_radius, pair_distances


def lattice(basis: np.ndarray, vectors: np.ndarray, n: int) -> np.ndarray:
    """Cartesian positions of an n×n×n supercell: ``basis`` (fractional) in cell ``vectors``."""
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    frac = (grid[:, None, :] + np.asarray(basis)[None, :, :]).reshape(-1, 3)
    return frac @ vectors


FCC_BASIS = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def one_frame(symbols, positions, cell) -> Trajectory:
    return Trajectory.from_arrays(list(symbols), np.asarray(positions)[None], cell, 1.0)


def canonical(i, j, d):
    order = np.lexsort((np.round(d, 8), j, i))
    return i[order], j[order], d[order]


# -- the neighbour search -------------------------------------------------------------------
CELLS = {
    "orthorhombic": np.diag([9.0, 10.0, 11.0]),
    "rotated orthorhombic": np.diag([9.0, 10.0, 11.0])
    @ np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))[0],
    "triclinic": np.array([[9.0, 0, 0], [3.0, 8.0, 0], [-2.0, 2.5, 9.0]]),
    "very skewed": np.array([[7.0, 0, 0], [6.0, 5.0, 0], [5.0, 4.0, 6.0]]),
}


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("r_max", [3.0, 4.4, 9.3])
def test_pair_distances_equal_ase_neighbour_list(name, r_max):
    """Fast k-d tree search == ASE's list: every image, any cell, also beyond half a box."""
    from ase.neighborlist import primitive_neighbor_list

    cell = CELLS[name]
    rng = np.random.default_rng(1)
    pos = rng.random((50, 3)) @ cell + rng.normal(0, 15, (50, 3))  # unwrapped
    ia, ib = np.arange(0, 35), np.arange(15, 50)
    got = canonical(*pair_distances(pos, cell, ia, ib, r_max))
    i, j, d = primitive_neighbor_list("ijd", (True,) * 3, cell, pos, r_max, self_interaction=False)
    keep = np.isin(i, ia) & np.isin(j, ib)
    want = canonical(i[keep], j[keep], d[keep])
    assert got[0].size == want[0].size > 0
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


# -- analytic truths ------------------------------------------------------------------------
def test_ideal_gas_g_is_one_and_n_is_density_times_volume():
    rng = np.random.default_rng(0)
    box, n_atoms = 20.0, 1500
    pos = rng.random((3, n_atoms, 3)) * box
    traj = Trajectory.from_arrays(["Li"] * n_atoms, pos, np.eye(3) * box, 1.0)
    res = rdf(traj, "Li", "Li", r_max=9.0, n_bins=60)
    rho = (n_atoms - 1) / box**3
    shell = 4 / 3 * np.pi * np.diff(np.linspace(0, 9.0, 61) ** 3)
    counts = rho * shell * n_atoms * 3  # expected pairs per bin
    sigma = np.sqrt(2 / counts)  # each pair is counted from both ends
    far = res.r_A > 2.0
    assert np.all(np.abs(res.g[far] - 1) < 5 * sigma[far])
    assert abs(np.average(res.g[far], weights=counts[far]) - 1) < 0.01
    np.testing.assert_allclose(res.coordination[-1], rho * 4 / 3 * np.pi * 9.0**3, rtol=0.02)
    assert first_minimum(res.r_A, res.g) is None


def first_nonzero_r(res: RDFResult) -> float:
    return float(res.r_A[np.flatnonzero(res.g > 0)[0]])


def test_simple_cubic_first_peak_at_a_and_six_neighbours():
    a = 3.0
    traj = one_frame(["Na"] * 125, lattice([[0, 0, 0]], np.eye(3) * a, 5), np.eye(3) * 5 * a)
    res = rdf(traj, "Na", "Na", r_max=7.0, n_bins=140)
    assert abs(first_nonzero_r(res) - a) <= 0.025 + 1e-9
    rc = res.first_minimum_A()
    # The first shell, though in g the second (12 at a√2) is exactly as high as the first.
    assert a < rc < a * np.sqrt(2)
    assert res.coordination_at(rc) == pytest.approx(6.0)
    assert res.coordination_at(0.5 * (a * np.sqrt(2) + a * np.sqrt(3))) == pytest.approx(18.0)


def test_fcc_first_peak_at_a_over_root2_and_twelve_neighbours():
    a = 4.0
    traj = one_frame(["Cu"] * 256, lattice(FCC_BASIS, np.eye(3) * a, 4), np.eye(3) * 4 * a)
    res = rdf(traj, "Cu", "Cu", r_max=7.5, n_bins=150)
    assert abs(first_nonzero_r(res) - a / np.sqrt(2)) <= 0.025
    assert abs(res.r_A[np.argmax(res.g)] - a / np.sqrt(2)) <= 0.025
    rc = res.first_minimum_A()
    assert a / np.sqrt(2) < rc < a
    assert res.coordination_at(rc) == pytest.approx(12.0)
    assert res.coordination_at(0.5 * (a + a * np.sqrt(1.5))) == pytest.approx(18.0)
    # Number density times the shell volume is the mean of g: N(r) = ρ ∫ 4πr² g.
    rho = 255 / (4 * a) ** 3
    shell = 4 / 3 * np.pi * np.diff(np.linspace(0, 7.5, 151) ** 3)
    np.testing.assert_allclose(np.cumsum(rho * shell * res.g), res.coordination, rtol=1e-12)


def test_triclinic_primitive_rocksalt_equals_conventional_cubic_supercell():
    a = 5.6
    rocksalt = np.vstack([FCC_BASIS, FCC_BASIS + np.array([0.5, 0, 0])])
    cubic = one_frame(
        ["Na"] * 4 * 64 + ["Cl"] * 4 * 64,
        np.vstack([lattice(FCC_BASIS, np.eye(3) * a, 4), lattice(rocksalt[4:], np.eye(3) * a, 4)]),
        np.eye(3) * 4 * a,
    )
    prim = 0.5 * a * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])
    tric = one_frame(
        ["Na"] * 216 + ["Cl"] * 216,
        np.vstack([lattice([[0, 0, 0]], prim, 6), lattice([[0.5, 0.5, 0.5]], prim, 6)]),
        6 * prim,
    )
    r_max = 0.99 * max_rdf_radius(6 * prim)  # the triclinic cell is the narrower
    assert r_max < max_rdf_radius(np.eye(3) * 4 * a)
    # 0.0457 Å bins: no shell distance a·sqrt(m)/2 lies on a bin edge.
    kw = {"r_max": r_max, "n_bins": 180}
    na_cl = rdf(cubic, "Na", "Cl", **kw), rdf(tric, "Na", "Cl", **kw)
    assert na_cl[0].coordination_at(0.6 * a) == pytest.approx(6.0)  # first shell at a/2
    np.testing.assert_allclose(na_cl[1].g, na_cl[0].g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(na_cl[1].coordination, na_cl[0].coordination, rtol=1e-12)
    # Like pairs: the same neighbours; g differs only by the (N − 1)/V normalisation.
    na_na = rdf(cubic, "Na", "Na", **kw), rdf(tric, "Na", "Na", **kw)
    np.testing.assert_allclose(na_na[1].coordination, na_na[0].coordination, rtol=1e-12)
    ratio = (255 / (4 * a) ** 3) / (215 / abs(np.linalg.det(6 * prim)))
    np.testing.assert_allclose(na_na[1].g, na_na[0].g * ratio, rtol=1e-12, atol=1e-12)


def test_skewed_basis_of_the_same_lattice_gives_identical_g():
    """Random points; the same periodic system described by a sheared, equivalent cell."""
    rng = np.random.default_rng(2)
    box = 16.0
    pos = rng.random((400, 3)) * box
    sheared = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]]) @ (np.eye(3) * box)  # det 1 transform
    symbols = ["Li"] * 200 + ["Cl"] * 200
    r_max = 0.99 * max_rdf_radius(sheared)
    for a, b in [("Li", "Cl"), ("Cl", "Cl")]:
        g1 = rdf(one_frame(symbols, pos, np.eye(3) * box), a, b, r_max=r_max, n_bins=50)
        g2 = rdf(one_frame(symbols, pos, sheared), a, b, r_max=r_max, n_bins=50)
        np.testing.assert_allclose(g1.g, g2.g, rtol=1e-12)


# -- all pairs at once ----------------------------------------------------------------------
@pytest.mark.parametrize("cell", [np.eye(3) * 14.0, CELLS["triclinic"] * 1.5])
def test_rdf_all_pairs_equals_pair_by_pair(cell):
    rng = np.random.default_rng(3)
    symbols = ["Li"] * 60 + ["Al"] * 15 + ["Cl"] * 70 + ["O"] * 1
    pos = rng.random((2, len(symbols), 3)) @ cell
    traj = Trajectory.from_arrays(symbols, pos, cell, 1.0)
    r_max = 0.95 * max_rdf_radius(cell)
    all_pairs = rdf_all_pairs(traj, r_max=r_max, n_bins=40)
    species = ["Li", "Al", "Cl", "O"]
    expected = [
        f"{a}-{b}" for k, a in enumerate(species) for b in species[k:] if f"{a}-{b}" != "O-O"
    ]
    assert list(all_pairs) == expected  # A <= B in species order; O-O has one atom, left out
    for key, res in all_pairs.items():
        a, b = key.split("-")
        one = rdf(traj, a, b, r_max=r_max, n_bins=40)
        assert res.pair == (a, b)
        np.testing.assert_allclose(res.g, one.g, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(res.coordination, one.coordination, rtol=1e-12, atol=1e-12)


def test_rdf_all_pairs_species_subset_and_frames():
    rng = np.random.default_rng(4)
    symbols = ["Li"] * 30 + ["Cl"] * 30
    traj = Trajectory.from_arrays(symbols, rng.random((4, 60, 3)) * 12, np.eye(3) * 12, 1.0)
    out = rdf_all_pairs(traj, species=["Cl"], frames=[1, 3], r_max=5.0)
    assert list(out) == ["Cl-Cl"]
    assert out["Cl-Cl"].n_frames == 2
    np.testing.assert_allclose(
        out["Cl-Cl"].g, rdf(traj, "Cl", "Cl", frames=[1, 3], r_max=5.0).g, rtol=1e-12
    )


# -- the first minimum on noisy curves --------------------------------------------------------
def test_first_minimum_robust_on_noisy_finite_sample():
    """A thermally rattled fcc crystal, one frame: noisy g, yet the right shell boundary."""
    a = 4.0
    rng = np.random.default_rng(7)
    perfect = lattice(FCC_BASIS, np.eye(3) * a, 4)
    for _ in range(5):
        pos = perfect + rng.normal(0, 0.12, perfect.shape)
        traj = one_frame(["Cu"] * 256, pos, np.eye(3) * 4 * a)
        res = rdf(traj, "Cu", "Cu", r_max=7.0, n_bins=350)  # 0.02 Å bins: very noisy
        raw_minima = np.flatnonzero((res.g[1:-1] < res.g[:-2]) & (res.g[1:-1] < res.g[2:]))
        assert raw_minima.size > 20  # the raw curve has many spurious minima
        rc = res.first_minimum_A()
        assert 3.1 < rc < 3.7
        assert res.coordination_at(rc) == pytest.approx(12.0, abs=0.05)


def test_first_minimum_ignores_a_stray_close_pair_and_small_wiggles():
    """Distances sampled from a liquid-like shell, few counts, plus one stray pair at 0.5 Å.

    The stray pair alone makes a smoothed g of about 3 at 0.5 Å (tiny shell volume), higher
    than the threshold for a peak; it holds 1 pair against the 40 of the true first shell.
    """
    rng = np.random.default_rng(11)
    n_centres, rho, r_max, n_bins = 10, 0.03, 7.0, 140
    edges = np.linspace(0, r_max, n_bins + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4 / 3 * np.pi * np.diff(edges**3)
    for _ in range(5):
        first = rng.normal(2.3, 0.12, 4 * n_centres)  # 4 neighbours per centre at 2.3 Å
        n_bg = rng.poisson(rho * 4 / 3 * np.pi * (r_max**3 - 3.2**3) * n_centres)
        background = (rng.uniform(3.2**3, r_max**3, n_bg)) ** (1 / 3)  # uniform beyond 3.2 Å
        d = np.concatenate([first, background, [0.5]])
        g = np.histogram(d, edges)[0] / (n_centres * rho * shell)
        assert 2.6 < first_minimum(r, g) < 3.3
        assert first_minimum(r, g, min_weight=0.0) < 2.0  # without the population test: fooled


# -- results and bad input ------------------------------------------------------------------
def test_to_dict_has_exactly_the_json_keys():
    a = 3.0
    traj = one_frame(["Na"] * 64, lattice([[0, 0, 0]], np.eye(3) * a, 4), np.eye(3) * 4 * a)
    res = rdf(traj, "Na", "Na", r_max=5.5, n_bins=55)
    assert isinstance(res, RDFResult)
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {"r_A", "g", "n", "first_minimum_A"}
    assert len(d["r_A"]) == len(d["g"]) == len(d["n"]) == 55
    assert d["first_minimum_A"] == pytest.approx(res.first_minimum_A())


def test_absent_species_is_named():
    traj = one_frame(["Li", "Cl"], [[0, 0, 0], [2, 0, 0]], np.eye(3) * 10)
    with pytest.raises(InputError, match="'Br'"):
        rdf(traj, "Li", "Br")
    with pytest.raises(InputError, match="'Br'"):
        rdf_all_pairs(traj, species=["Li", "Br"])


def test_r_max_beyond_half_the_box_is_refused():
    traj = one_frame(["Li", "Cl"], [[0, 0, 0], [2, 0, 0]], np.eye(3) * 10)
    with pytest.raises(InputError, match="half the smallest cell width"):
        rdf(traj, "Li", "Cl", r_max=5.5)
    with pytest.raises(InputError, match="half the smallest cell width"):
        rdf_all_pairs(traj, r_max=5.5)
    with pytest.raises(InputError, match="two Li"):
        rdf(traj, "Li", "Li")


def test_plot_rdf_draws_g_and_n():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from solidion.structure.plots import plot_rdf

    a = 3.0
    traj = one_frame(["Na"] * 64, lattice([[0, 0, 0]], np.eye(3) * a, 4), np.eye(3) * 4 * a)
    ax = plot_rdf(rdf(traj, "Na", "Na", r_max=5.5, n_bins=55))
    assert len(ax.figure.axes) == 2  # g(r) and the twin with N(r)
    plt.close(ax.figure)

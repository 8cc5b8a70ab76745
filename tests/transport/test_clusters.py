"""Clusters for σ_cNE: kernels against naive loops and theory.percolation, known memberships,
the percolation checks, and the textbook dilute-salt answer."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from solidion import InputError, Trajectory
from solidion.theory.percolation import dimensionality
from solidion.transport import analyze
from solidion.transport.clusters import (
    membership_drift,
    percolation_reasons,
    periodic_bonds,
    periodic_components,
)
from solidion.units import A2_PS_TO_CM2_S, nernst_einstein_prefactor_S_cm
from tests.transport.conftest import DT_FS, STEP_A


# -- kernels ---------------------------------------------------------------------------------------
def _naive_bonds(pos, cell, species_index, cutoffs, reach=3):
    frac = pos @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    out = set()
    for (si, sj), rc in cutoffs.items():
        for i in np.flatnonzero(species_index == si):
            for j in np.flatnonzero(species_index == sj):
                for n in itertools.product(range(-reach, reach + 1), repeat=3):
                    if i == j and not any(n):
                        continue
                    d = np.linalg.norm((frac[j] + n - frac[i]) @ cell)
                    if d < rc:
                        out.add((int(i), int(j), *n))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_periodic_bonds_equal_a_naive_loop_over_images(seed):
    rng = np.random.default_rng(seed)
    cell = np.array([[4.0, 0, 0], [1.5, 4.5, 0], [0.7, -0.9, 5.0]])  # triclinic, small
    pos = rng.uniform(-3, 9, (12, 3))  # not wrapped
    species = rng.integers(0, 2, 12)
    cutoffs = {(0, 1): 3.1, (1, 1): 2.6, (0, 0): 4.4}  # 4.4 Å > half the cell widths
    got = {tuple(int(x) for x in row) for row in periodic_bonds(pos, cell, species, cutoffs)}
    assert got == _naive_bonds(pos, cell, species, cutoffs)


@pytest.mark.parametrize("seed", range(6))
def test_periodic_dimension_equals_theory_percolation(seed):
    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(5, 9, 3))
    frac = rng.uniform(0, 1, (30, 3))
    rc = rng.uniform(1.6, 2.6)
    bonds = periodic_bonds(frac @ cell, cell, np.zeros(30, int), {(0, 0): rc})
    labels, dims = periodic_components(30, bonds)
    want = np.zeros(30, int)
    for comp in dimensionality(frac, cell, rc):
        want[list(comp.sites)] = comp.dimension
        assert len({labels[s] for s in comp.sites}) == 1
    np.testing.assert_array_equal(dims[labels], want)


def test_known_periodic_dimensions():
    # simple cubic lattice, one site per cell: a 3D network
    _, d = periodic_components(
        1, periodic_bonds(np.zeros((1, 3)), np.eye(3) * 2.0, np.zeros(1, int), {(0, 0): 2.1})
    )
    assert d.tolist() == [3]
    # a chain along x made of two atoms per cell, and a free pair elsewhere
    pos = np.array([[0.0, 0, 0], [1.5, 0, 0], [0.0, 5, 5], [1.0, 5, 5]])
    cell = np.diag([3.0, 10.0, 10.0])
    labels, d = periodic_components(
        4, periodic_bonds(pos, cell, np.array([0, 0, 1, 1]), {(0, 0): 1.6, (1, 1): 1.2})
    )
    assert d[labels].tolist() == [1, 1, 0, 0]


# -- the checks, on arrays with known answers -------------------------------------------------
def _origins(n=48, n_frames=1000):
    return np.zeros(n, int), np.linspace(0, n_frames - 40, n).astype(int), [n_frames]


def test_percolation_reasons_name_each_failure():
    run, frame, n_fr = _origins()
    n = frame.size
    none = percolation_reasons(
        run, frame, n_fr, np.zeros(n, int), np.ones(n, int), np.full(n, 5.0), 8, "Li"
    )
    assert none == ()
    wrap = np.zeros(n, int)
    wrap[3] = 2
    (why,) = percolation_reasons(run, frame, n_fr, wrap, np.ones(n, int), np.full(n, 5.0), 8, "Li")
    assert "wraps the periodic cell" in why and "2 dimensions" in why and "1 of 48" in why
    (why,) = percolation_reasons(
        run, frame, n_fr, np.zeros(n, int), np.full(n, 6), np.full(n, 5.0), 8, "Li"
    )
    assert "75 % of the 8 Li ions" in why
    # exactly half is not "more than half"; one mobile ion alone is never a majority cluster
    assert (
        percolation_reasons(
            run, frame, n_fr, np.zeros(n, int), np.full(n, 4), np.full(n, 5.0), 8, "Li"
        )
        == ()
    )
    assert (
        percolation_reasons(
            run, frame, n_fr, np.zeros(n, int), np.ones(n, int), np.full(n, 5.0), 1, "Li"
        )
        == ()
    )


def test_membership_drift_fires_on_growth_and_rarely_on_noise():
    run, frame, n_fr = _origins()
    rng = np.random.default_rng(1)
    grow = np.where(frame < 500, 3.0, 4.0) + rng.normal(0, 0.2, frame.size)
    (why,) = percolation_reasons(
        run, frame, n_fr, np.zeros(48, int), np.ones(48, int), grow, 8, "Li"
    )
    assert "changes within the run" in why
    # stationary noise, independent or correlated from one origin to the next (AR(1), ρ = 0.8),
    # with a spread (±0.8 on 4) wide enough that the 10 % floor alone would not hold it back
    for rho in (0.0, 0.8):
        fired = 0
        for seed in range(300):
            e = np.random.default_rng(seed).normal(0, 0.8 * np.sqrt(1 - rho**2), frame.size)
            for k in range(1, e.size):
                e[k] += rho * e[k - 1]
            fired += bool(
                percolation_reasons(
                    run, frame, n_fr, np.zeros(48, int), np.ones(48, int), 4.0 + e, 8, "Li"
                )
            )
        assert fired / 300 < 0.03, rho
    # too few origins to estimate the noise: no verdict
    assert (
        membership_drift(np.zeros(2, int), np.array([0, 900]), [1000], np.array([1.0, 9.0])) is None
    )


# -- a dense synthetic glass: AlCl4 tetrahedra and corner-sharing Cl3Al–O–AlCl3 dimers, Li hopping
SPACING_A = 7.0
N_SITE = 3
AL_CL_A = 2.15
AL_O_A = 1.75
TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)


def _dimer() -> tuple[list[str], np.ndarray]:
    """Cl3Al–O–AlCl3 along x, centred on O (each Al tetrahedral)."""
    sym, pos = ["O"], [np.zeros(3)]
    for sign in (-1.0, 1.0):
        al = np.array([sign * AL_O_A, 0, 0])
        sym.append("Al")
        pos.append(al)
        for phi in (0.0, 2 * np.pi / 3, 4 * np.pi / 3):
            d = np.array([sign / 3, np.sqrt(8) / 3 * np.cos(phi), np.sqrt(8) / 3 * np.sin(phi)])
            sym.append("Cl")
            pos.append(al + AL_CL_A * d)
    return sym, np.array(pos)


def dense_glass(seed: int = 0, n_frames: int = 600, hop_per_frame: float = 0.03) -> Trajectory:
    """Li36 Al36 Cl126 O9: 18 AlCl4⁻ and 9 Al2OCl6²⁻ on a 3×3×3 grid (7 Å), 36 Li on edge midpoints.

    The framework only vibrates; every Li sits at an edge midpoint between two units (2.3–2.9 Å
    from two Cl of each), so the Li–anion bond graph spans the cell; Li hop between edge
    midpoints that share a unit (4.95 Å) as a Poisson process.
    """
    rng = np.random.default_rng(seed)
    sym: list[str] = []
    frame: list[np.ndarray] = []
    for ijk in itertools.product(range(N_SITE), repeat=3):
        c = np.array(ijk) * SPACING_A
        if sum(ijk) % 3 == 0:
            s, p = _dimer()
        else:
            s, p = ["Al", "Cl", "Cl", "Cl", "Cl"], np.vstack([np.zeros(3), AL_CL_A * TETRA])
        sym += s
        frame.append(c + p)
    fw = np.concatenate(frame)
    # Li on edge midpoints: half-integer lattice points (units of SPACING/2) with one odd coordinate
    n_li = 36
    axis = rng.integers(3, size=n_li)
    li = 2 * rng.integers(N_SITE, size=(n_li, 3))
    li[np.arange(n_li), axis] += 1
    out = np.empty((n_frames, n_li, 3))
    for t in range(n_frames):
        out[t] = li * SPACING_A / 2
        hop = np.flatnonzero(rng.random(n_li) < hop_per_frame)
        for a in hop:
            odd = int(np.flatnonzero(li[a] % 2)[0])
            other = rng.choice([k for k in range(3) if k != odd])
            li[a, odd] += rng.choice([-1, 1])
            li[a, other] += rng.choice([-1, 1])
    out += rng.normal(0, 0.2, out.shape)  # Li rattle more than the framework
    pos = np.concatenate([np.broadcast_to(fw, (n_frames, *fw.shape)), out], axis=1)
    pos = pos + rng.normal(0, 0.08, pos.shape)
    box = np.eye(3) * SPACING_A * N_SITE
    return Trajectory.from_arrays(sym + ["Li"] * n_li, pos, box, DT_FS, 600.0)


@pytest.fixture(scope="module")
def glass() -> Trajectory:
    return dense_glass()


def test_metal_centred_clusters_are_the_known_fragments(glass):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the frozen framework has no diffusive regime
        res = analyze(glass, mobile="Li", cluster_origins=4)
    assert res.cluster_definition == "metal-centred"
    assert set(res.cluster_cutoffs_A) == {"Al-Cl", "Al-O"}
    assert AL_CL_A < res.cluster_cutoffs_A["Al-Cl"] < 4.0
    assert AL_O_A < res.cluster_cutoffs_A["Al-O"] < 5.0
    counts = {k: v["mean_count"] for k, v in res.cluster_types.items()}
    assert counts == {"Al1Cl4": 18.0, "O1Al2Cl6": 9.0, "Li1": 36.0}
    assert res.cluster_types["O1Al2Cl6"]["charge"] == -2.0
    assert res.cluster_withheld == ()
    # Li is free and carries all the current: 0 ≤ t_Li ≤ 1, up to the ~1e-6 that the frozen
    # fragments' centre-of-mass noise (N·D ≈ 0 ± 1e-5 Å²/ps) adds on either side
    t_li = res.transference["cluster_nernst_einstein"]["Li"]
    assert -1e-4 <= t_li.value <= 1 + 1e-4
    assert t_li.stderr < 1e-4
    # σ_cNE is the NE conductivity of the free Li: D = (4.95 Å)² × 1.5 /ps / 6 per Li
    d_li = 2 * (SPACING_A / 2) ** 2 * (0.03 / (DT_FS * 1e-3)) / 6  # Å²/ps
    truth = nernst_einstein_prefactor_S_cm((SPACING_A * N_SITE) ** 3, 600.0) * A2_PS_TO_CM2_S
    s = res.conductivity.cluster_nernst_einstein
    assert abs(s.value - 36 * d_li * truth) < 3 * s.stderr
    d = res.to_dict()["clusters"]
    assert d["definition"] == "metal-centred" and d["withheld_because"] == []


def test_alkali_anion_clusters_percolate_and_are_withheld(glass):
    with pytest.warns(UserWarning, match="σ_cNE and t\\^cNE withheld: the mobile-anion clusters"):
        res = analyze(glass, mobile="Li", cluster_definition="mobile-anion", cluster_origins=4)
    assert res.cluster_definition == "mobile-anion"
    assert any("wraps the periodic cell" in r for r in res.cluster_withheld)
    assert np.isnan(res.conductivity.cluster_nernst_einstein.value)
    assert all(np.isnan(e.value) for e in res.transference["cluster_nernst_einstein"].values())
    note = next(w for w in res.warnings if "σ_cNE and t^cNE withheld" in w)
    assert "try cluster_definition='metal-centred'" in note
    # the other conductivities stand, and JSON has nulls with the reasons
    assert np.isfinite(res.conductivity.einstein.value)
    d = res.to_dict()
    assert d["conductivity_S_cm"]["cluster_nernst_einstein"] == {"value": None, "stderr": None}
    assert d["clusters"]["withheld_because"] == list(res.cluster_withheld)


def test_majority_cluster_is_withheld():
    """A rigid Li4Cl4 cube holding 4 of 6 Li, in a large box: finite, but more than half."""
    rng = np.random.default_rng(3)
    n_frames, box = 800, 30.0
    cube = np.array(list(itertools.product((0.0, 2.5), repeat=3)))
    cube_sym = ["Li" if sum(ijk) % 2 == 0 else "Cl" for ijk in itertools.product((0, 1), repeat=3)]
    walk = rng.normal(0, STEP_A, (n_frames, 5, 3)).cumsum(axis=0)
    walk += np.array([[5, 5, 5], [20, 5, 5], [5, 20, 5], [5, 5, 20], [20, 20, 20]])
    pos = np.concatenate(
        [walk[:, :1] + cube[None], walk[:, 1:] + rng.normal(0, 0.02, (n_frames, 4, 3))], axis=1
    )
    traj = Trajectory.from_arrays(
        [*cube_sym, "Li", "Li", "Cl", "Cl"], pos, np.eye(3) * box, DT_FS, 600.0
    )
    with pytest.warns(UserWarning, match="withheld"):
        res = analyze(traj, mobile="Li", frame="lab", cluster_origins=4)
    assert res.cluster_definition == "mobile-anion"
    assert res.cluster_withheld == (
        "the largest cluster holds 67 % of the 6 Li ions on average (more than half)",
    )


def dilute_salt(
    seed: int, n_frames: int = 1500, n_free: int = 8, n_pairs: int = 16, box: float = 40.0
):
    """Free Li⁺ (D = 0.25 Å²/ps), free Cl⁻ (D/4) and rigid neutral LiCl pairs (D/4)."""
    rng = np.random.default_rng(seed)
    step = STEP_A * np.repeat([1.0, 0.5, 0.5], [n_free, n_free, n_pairs])
    walk = (rng.normal(0, 1, (n_frames, 2 * n_free + n_pairs, 3)) * step[None, :, None]).cumsum(0)
    walk += rng.uniform(0, box, (1, walk.shape[1], 3))
    off = rng.normal(size=(n_pairs, 3))
    off *= 1.1 / np.linalg.norm(off, axis=1)[:, None]
    pairs = walk[:, 2 * n_free :]
    pos = np.concatenate([walk[:, : 2 * n_free], pairs + off, pairs - off], axis=1) + rng.normal(
        0, 0.03, (n_frames, 2 * n_free + 2 * n_pairs, 3)
    )
    sym = ["Li"] * n_free + ["Cl"] * n_free + ["Li"] * n_pairs + ["Cl"] * n_pairs
    return Trajectory.from_arrays(sym, pos, np.eye(3) * box, DT_FS, 600.0)


def test_dilute_salt_gives_the_textbook_cne():
    """σ_cNE = e²/(V k_B T)(N_Li⁺ D_Li⁺ + N_Cl⁻ D_Cl⁻) over the free ions only; pairs carry nothing."""
    res = analyze(dilute_salt(5), mobile="Li", frame="lab", cluster_origins=8)
    assert res.cluster_definition == "mobile-anion" and res.cluster_withheld == ()
    d_li = STEP_A**2 / (2 * DT_FS * 1e-3)  # Å²/ps
    nd = 8 * d_li + 8 * d_li / 4
    truth = nernst_einstein_prefactor_S_cm(40.0**3, 600.0) * A2_PS_TO_CM2_S * nd
    s = res.conductivity.cluster_nernst_einstein
    assert abs(s.value - truth) < 3 * s.stderr + 0.05 * truth
    t_li = res.transference["cluster_nernst_einstein"]["Li"]
    assert abs(t_li.value - 0.8) < 3 * t_li.stderr + 0.03
    assert res.cluster_types["Li1Cl1"]["mean_count"] > 15
    # NE counts the paired ions as free, so it overestimates
    assert res.conductivity.nernst_einstein.value > 1.3 * s.value


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cluster_definition": "pairs"}, "cluster_definition must be"),
        ({"cluster_definition": "mobile-anion", "cluster_cutoffs": {"Li-Cl": 3.0}}, "not both"),
        ({"cluster_definition": "metal-centred"}, "needs a framework cation"),
    ],
)
def test_bad_cluster_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        analyze(dilute_salt(0, n_frames=100), mobile="Li", **kwargs)


def test_real_lgps_cell(lgps):
    """Li10GeP2S12 AIMD (600 K): isolated GeS4/PS4 tetrahedra; the Li–S graph spans the cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(lgps, mobile="Li")
        pairs = analyze(lgps, mobile="Li", cluster_definition="mobile-anion")
    assert res.cluster_definition == "metal-centred"
    assert {k: v["mean_count"] for k, v in res.cluster_types.items()} == {
        "Li1": 20.0,
        "Ge1S4": 2.0,
        "P1S4": 4.0,
    }
    assert res.cluster_withheld == ()
    # 0 ≤ t_Li^cNE ≤ 1, or withheld with the reason (here the frozen tetrahedra's N·D < 0)
    t_li = res.transference["cluster_nernst_einstein"]["Li"]
    if np.isnan(t_li.value):
        assert any(w.startswith("t^cNE withheld") and "N·D < 0" in w for w in res.warnings)
    else:
        assert -0.01 <= t_li.value <= 1.01
    assert pairs.cluster_withheld[0].startswith("a cluster wraps the periodic cell (periodic in 3")
    assert np.isnan(pairs.conductivity.cluster_nernst_einstein.value)

"""Distinct displacement correlations and Van Hove functions on walkers with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from solidion import InputError, Trajectory
from solidion.structure.correlations import distinct_correlation, distinct_correlations, van_hove
from solidion.structure.neighbors import half_widths, min_image_distances
from solidion.structure.rdf import max_rdf_radius, rdf

STEP = 0.1  # Å per axis per frame
DT_FS = 20.0
BOX = 20.0


def walkers(seed: int, n_frames: int = 1000, n_li: int = 20, n_cl: int = 20) -> Trajectory:
    """Independent Gaussian walkers, std STEP per axis per frame."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(0, STEP, (n_frames, n_li + n_cl, 3)).cumsum(axis=0)
    pos += rng.uniform(0, BOX, (1, n_li + n_cl, 3))
    return Trajectory.from_arrays(["Li"] * n_li + ["Cl"] * n_cl, pos, np.eye(3) * BOX, DT_FS)


def bound_pairs(seed: int, n_frames: int = 2000, n_pairs: int = 20) -> Trajectory:
    """Li ions in pairs 3√3 Å apart that share one random walk; Cl walk independently."""
    rng = np.random.default_rng(seed)
    walk = rng.normal(0, STEP, (n_frames, n_pairs, 3)).cumsum(axis=0)
    walk += rng.uniform(0, BOX, (1, n_pairs, 3))
    cl = rng.normal(0, STEP, (n_frames, n_pairs, 3)).cumsum(axis=0)
    cl += rng.uniform(0, BOX, (1, n_pairs, 3))
    pos = np.concatenate([walk, walk + 3.0, cl], axis=1)
    symbols = ["Li"] * (2 * n_pairs) + ["Cl"] * n_pairs
    return Trajectory.from_arrays(symbols, pos, np.eye(3) * BOX, DT_FS)


def test_independent_walkers_have_no_distinct_correlation():
    traj = walkers(0)
    for b in ("Li", "Cl"):
        res = distinct_correlation(traj, "Li", b, n_lags=10, n_blocks=10, frame="lab")
        assert res.value_A2[0] == pytest.approx(0.0, abs=1e-9)
        z = res.value_A2[1:] / res.stderr_A2[1:]
        assert np.all(np.abs(z) < 3), (b, z)
        # and small next to the self MSD, 3 s² m
        m = np.rint(res.lags_ps / (DT_FS * 1e-3))
        np.testing.assert_allclose(res.self_msd_A2, 3 * STEP**2 * m, rtol=0.15, atol=1e-12)


def test_bound_pairs_give_the_self_msd():
    traj = bound_pairs(1)
    res = distinct_correlation(
        traj, "Li", "Li", n_lags=8, n_blocks=10, shells_A=[0, 6, 9.5], frame="lab"
    )
    m = np.rint(res.lags_ps / (DT_FS * 1e-3))
    truth = 3 * STEP**2 * m  # each Li has one partner with its own displacement
    assert np.all(np.abs(res.value_A2 - truth) <= 3 * res.stderr_A2 + 1e-9)
    np.testing.assert_allclose(res.value_A2[1:4], truth[1:4], rtol=0.3)
    # the partner sits in the first shell (5.2 Å); farther pairs carry nothing
    assert res.shell_partners[0] >= 1.0
    first, second = res.shell_value_A2
    np.testing.assert_allclose(first[1:4], truth[1:4], rtol=0.3)
    assert np.all(np.abs(second[1:]) <= 3 * res.shell_stderr_A2[1][1:])
    # Li–Cl stay uncorrelated
    both = distinct_correlations(
        traj, "Li", n_lags=8, n_blocks=10, shells_A=[0, 6, 9.5], frame="lab"
    )
    assert list(both) == ["Li", "Cl"] and both["Cl"].shells_A is None
    np.testing.assert_allclose(both["Li"].value_A2, res.value_A2)
    cross = both["Cl"]
    assert np.all(np.abs(cross.value_A2[1:]) < 3 * cross.stderr_A2[1:])
    d = res.to_dict()
    assert d["pair"] == ["Li", "Li"] and len(d["shell_value_A2"]) == 2


def test_fft_sum_matches_a_pair_loop():
    rng = np.random.default_rng(2)
    n, n_li, n_cl = 40, 4, 3
    common = rng.normal(0, STEP, (n, 1, 3)).cumsum(axis=0)
    pos = rng.normal(0, STEP, (n, n_li + n_cl, 3)).cumsum(axis=0) + common
    pos += rng.uniform(0, BOX, (1, n_li + n_cl, 3))
    traj = Trajectory.from_arrays(["Li"] * n_li + ["Cl"] * n_cl, pos, np.eye(3) * BOX, DT_FS)
    lags = np.array([0, 1, 3, 7])
    for b, same in (("Li", True), ("Cl", False)):
        res = distinct_correlation(traj, "Li", b, lags * DT_FS * 1e-3, n_blocks=2, frame="lab")
        ia, ib = traj.indices("Li"), traj.indices(b)
        blocks = []
        for f0 in (0, n // 2):
            x = pos[f0 : f0 + n // 2]
            row = []
            for m in lags:
                d = x[m:] - x[: x.shape[0] - m]
                dots = np.einsum("tik,tjk->tij", d[:, ia], d[:, ib])
                if same:
                    dots = dots - np.einsum("tii->ti", dots)[:, :, None] * np.eye(n_li)
                row.append(dots.sum(axis=(1, 2)).mean() / n_li)
            blocks.append(row)
        np.testing.assert_allclose(res.value_A2, np.mean(blocks, axis=0), atol=1e-10)


def test_default_frame_is_the_framework_so_drift_is_not_correlation():
    """A cell drifting at 1 Å/ps: in the lab every Li pair gains ⟨(vt)²⟩; in the default
    (framework) frame the independent walkers stay uncorrelated."""
    traj = walkers(4, n_frames=600)
    t_ps = np.arange(traj.n_frames) * DT_FS * 1e-3
    drifted = Trajectory.from_arrays(
        traj.symbols, traj.positions + t_ps[:, None, None] * np.array([1.0, 0, 0]), traj.cell, DT_FS
    )
    lags = np.array([0.0, 0.4, 0.8])
    default = distinct_correlation(drifted, "Li", "Li", lags, n_blocks=5)
    assert default.frame == "framework"
    assert np.all(np.abs(default.value_A2[1:]) < 3 * default.stderr_A2[1:] + 0.05)
    lab = distinct_correlation(drifted, "Li", "Li", lags, n_blocks=5, frame="lab")
    n_li = 20
    np.testing.assert_allclose(lab.value_A2[1:], (n_li - 1) * lags[1:] ** 2, rtol=0.15)


def test_barycentric_frame_makes_one_species_anticorrelated():
    """With one species the centre of mass is fixed, ΣΔr = 0, so C_AA = −MSD exactly."""
    traj = walkers(3, n_frames=400, n_li=10, n_cl=0)
    res = distinct_correlation(traj, "Li", "Li", n_lags=5, frame="barycentric")
    np.testing.assert_allclose(res.value_A2, -res.self_msd_A2, atol=1e-9)
    with pytest.raises(InputError, match="framework"):
        distinct_correlation(traj, "Li", "Li", frame="framework")


def test_van_hove_self_part_is_the_gaussian():
    traj = walkers(4, n_frames=1000, n_li=200, n_cl=0)
    lags_frames = np.array([5, 25])
    res = van_hove(traj, "Li", lags_frames * DT_FS * 1e-3, r_max=4.0, n_bins=80, n_origins=100)
    dr = res.r_A[1] - res.r_A[0]
    edges = np.append(res.r_A - dr / 2, res.r_A[-1] + dr / 2)
    shell = 4 / 3 * np.pi * np.diff(edges**3)  # exact shell volumes, as in the estimator
    for k, m in enumerate(lags_frames):
        assert np.sum(shell * res.G_s[k]) == pytest.approx(1.0, abs=1e-9)  # r_max ≥ 8σ
        r2 = np.sum(shell * res.r_A**2 * res.G_s[k])
        assert r2 == pytest.approx(3 * STEP**2 * m, rel=0.1)
        # the radial density 4πr²G_s against that of the Gaussian, exp(−r²/2σ²)/(2πσ²)^{3/2}
        var = STEP**2 * m
        gauss = (2 * np.pi * var) ** -1.5 * np.exp(-(res.r_A**2) / (2 * var))
        radial, radial_ref = shell * res.G_s[k], shell * gauss
        assert np.max(np.abs(radial - radial_ref)) < 0.15 * radial_ref.max()
    # an ideal gas: G_d/ρ ≈ 1 away from r = 0 at any lag
    assert np.mean(res.G_d[:, res.r_A > 2.0]) == pytest.approx(1.0, abs=0.05)


def test_van_hove_distinct_part_at_zero_lag_is_the_rdf():
    traj = walkers(5, n_frames=60, n_li=30, n_cl=0)
    res = van_hove(traj, "Li", [0.0], r_max=8.0, n_bins=40, n_origins=traj.n_frames)
    ref = rdf(traj, "Li", "Li", r_max=8.0, n_bins=40, frames=list(range(traj.n_frames)))
    np.testing.assert_allclose(res.r_A, ref.r_A)
    np.testing.assert_allclose(res.G_d[0], ref.g, atol=1e-6)
    assert np.all(res.G_s[0, 1:] == 0)  # nobody has moved
    assert set(res.to_dict()) >= {"r_A", "G_s", "G_d", "lags_ps"}


def test_min_image_kernel_in_a_triclinic_cell():
    rng = np.random.default_rng(6)
    cell = np.array([[9.0, 0.0, 0.0], [4.0, 8.5, 0.0], [-3.0, 2.0, 10.0]])
    xa = rng.uniform(-20, 20, (1, 12, 3))
    xb = rng.uniform(-20, 20, (1, 15, 3))
    d = min_image_distances(xa, xb, cell)[0]
    # brute force over images
    shifts = np.array([[i, j, k] for i in range(-7, 8) for j in range(-7, 8) for k in range(-7, 8)])
    img = shifts @ cell
    diff = xb[0][None, :, None, :] - xa[0][:, None, None, :] + img[None, None]
    brute = np.linalg.norm(diff, axis=-1).min(axis=-1)
    limit = half_widths(cell[None])[0]
    assert limit == pytest.approx(max_rdf_radius(cell))
    close = brute <= limit
    np.testing.assert_allclose(d[close], brute[close], atol=1e-9)
    assert np.all(d[~close] > limit - 1e-9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: distinct_correlation(t, "Na", "Li"), "Na"),
        (lambda t: distinct_correlation(t, "Li", "Br"), "Br"),
        (lambda t: distinct_correlation(t, "Li", "Li", [100.0]), "longer than the trajectory"),
        (lambda t: distinct_correlation(t, "Li", "Li", [5.0]), "longer than one of"),
        (lambda t: distinct_correlation(t, "Li", "Li", shells_A=[0, 5, 12]), "half the cell"),
        (lambda t: distinct_correlation(t, "Li", "Li", frame="moon"), "frame"),
        (lambda t: distinct_correlation(t, "Li", "Li", n_blocks=1), "n_blocks"),
        (lambda t: van_hove(t, "Na", [0.1]), "Na"),
        (lambda t: van_hove(t, "Li", [100.0]), "longer than the trajectory"),
        (lambda t: van_hove(t, "Li", [0.1], r_max=11.0), "r_max"),
        (lambda t: van_hove(t, "Li", [-0.1]), "non-negative"),
    ],
)
def test_bad_input(call, match):
    traj = walkers(7, n_frames=400)  # 7.98 ps; blocks of 80 frames = 1.58 ps
    with pytest.raises(InputError, match=match):
        call(traj)

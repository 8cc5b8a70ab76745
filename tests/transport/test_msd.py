"""MSD kernels: FFT against the naive double loop, and analytic cases."""

from __future__ import annotations

import numpy as np
import pytest

from solidion.transport.msd import (
    DIFFUSIVE_BAND,
    ballistic_frame_interval_fs,
    choose_fit_window,
    cross_msd_fft,
    diffusive_onset,
    linear_fit,
    local_exponent,
    msd_fft,
    msd_fft_particles,
    msd_naive,
    resolved_lag,
)


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_fft_equals_naive_loop(chunk):
    x = np.random.default_rng(0).normal(size=(57, 7, 3)).cumsum(axis=0)
    np.testing.assert_allclose(msd_fft(x, chunk=chunk), msd_naive(x), rtol=1e-10, atol=1e-10)


def test_cross_msd_equals_naive_loop():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 64, 3)).cumsum(axis=1)
    naive = [0.0] + [
        np.mean(np.sum((a[m:] - a[:-m]) * (b[m:] - b[:-m]), axis=1)) for m in range(1, 64)
    ]
    np.testing.assert_allclose(cross_msd_fft(a, b), naive, atol=1e-10)
    np.testing.assert_allclose(cross_msd_fft(a), msd_naive(a[:, None, :]), atol=1e-10)


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_per_particle_msd_equals_naive_loop(chunk):
    x = np.random.default_rng(3).normal(size=(41, 9, 3)).cumsum(axis=0)
    lags = np.array([0, 1, 5, 40])
    mean, per = msd_fft_particles(x, lags, chunk=chunk)
    np.testing.assert_allclose(mean, msd_naive(x), atol=1e-10)
    for a in range(9):
        np.testing.assert_allclose(per[:, a], msd_naive(x[:, a : a + 1])[lags], atol=1e-10)


def test_cross_msd_per_axis_sums_to_the_dot_product():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 50, 3)).cumsum(axis=1)
    per_axis = cross_msd_fft(a, b, per_axis=True)
    assert per_axis.shape == (50, 3)
    np.testing.assert_allclose(per_axis.sum(axis=1), cross_msd_fft(a, b), atol=1e-10)
    np.testing.assert_allclose(per_axis[:, 0], cross_msd_fft(a[:, :1], b[:, :1]), atol=1e-10)


def test_ballistic_msd_is_v2_t2():
    v = np.array([0.3, -0.2, 0.1])
    t = np.arange(100.0)
    x = t[:, None, None] * v[None, None, :] + np.array([[[1.0, 2.0, 3.0]]])
    np.testing.assert_allclose(msd_fft(x), (v @ v) * t**2, rtol=1e-9, atol=1e-9)
    beta = local_exponent(t[1:], msd_fft(x)[1:])
    np.testing.assert_allclose(beta[1:-1], 2.0, atol=1e-6)


def test_gaussian_walk_msd_slope():
    s = 0.2  # per axis per frame: MSD = 3 s² m
    x = np.random.default_rng(2).normal(0, s, (4000, 200, 3)).cumsum(axis=0)
    msd = msd_fft(x)
    slope, _ = linear_fit(np.arange(1, 400), msd[1:400])
    assert slope == pytest.approx(3 * s**2, rel=0.03)
    assert diffusive_onset(msd) == 1


def test_onset_skips_ballistic_and_caged_start_and_rejects_frozen():
    t = np.arange(5000.0)
    tau = 50.0  # ballistic below tau, diffusive above (Langevin-like MSD)
    msd = 6 * (t - tau * (1 - np.exp(-t / tau)))
    onset = diffusive_onset(msd)
    assert 100 < onset < 1250  # exponent near 1 only after a few tau
    assert diffusive_onset(np.full(5000, 0.5) * (1 - np.exp(-t / 3))) is None  # caged plateau


def test_onset_band_is_tight():
    """β = 0.8 everywhere (a sub-linear MSD) is not diffusive; the old band took 0.75."""
    t = np.arange(4000.0)
    assert DIFFUSIVE_BAND == (0.85, 1.15)
    assert diffusive_onset(t**0.8) is None
    assert diffusive_onset(t**0.8, band=(0.75, 1.3)) == 1
    assert diffusive_onset(t**0.9) == 1


def test_fit_window_runs_from_the_onset_to_half_the_run():
    t = np.arange(2000.0)
    w = choose_fit_window(6 * (t - 50 * (1 - np.exp(-t / 50))), 2000)
    assert w.diffusive and 100 < w.start < 500 and w.end == 999
    assert np.all(np.diff(w.lags) > 0) and w.lags.size >= 20
    # sub-linear throughout: from a tenth of the run, flagged as not diffusive
    w = choose_fit_window(t**0.7, 2000)
    assert (w.onset, w.start, w.end) == (None, 200, 999)


def test_onset_is_sought_only_where_the_msd_is_resolved():
    """A few walkers: the local exponent is tested only where the MSD is known to 3 %."""
    assert resolved_lag(600, 16) == int(0.03**2 * 9 * 16 * 600 / 4)
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(30):
        msd = msd_fft(rng.normal(size=(600, 16, 3)).cumsum(axis=0))
        found += choose_fit_window(msd, 600, 16).diffusive
    assert found >= 29  # a random walk is diffusive from the first lag; the noise must not say no


def test_linear_fit_exact_line_and_bad_input():
    assert linear_fit([1, 2, 3], [5, 7, 9]) == pytest.approx((2.0, 3.0))
    with pytest.raises(ValueError):
        linear_fit([1, 1], [2, 3])
    with pytest.raises(ValueError):
        msd_fft(np.zeros((10, 3)))


def vibrating_ions(n_frames: int, frame_fs: float, T_K: float, mass: float, seed: int = 0):
    """Ions vibrating harmonically at 8 THz with the equipartition speed, sampled every frame_fs.

    x = A sin(ωt + φ) with A = √(2kT/m)/ω per axis, so ⟨v_x²⟩ = kT/m and MSD(Δ) → 3kT/m·Δ².
    """
    from ase import units

    rng = np.random.default_rng(seed)
    omega = 2 * np.pi * 8e-3  # rad/fs
    amp = np.sqrt(2 * units.kB * T_K / mass * units.fs**2) / omega
    phase = rng.uniform(0, 2 * np.pi, size=(1, 40, 3))
    t = (np.arange(n_frames) * frame_fs)[:, None, None]
    return amp * np.sin(omega * t + phase) + rng.uniform(0, 10, size=(1, 40, 3))


def test_ballistic_start_gives_the_frame_interval():
    x = vibrating_ions(200, 2.0, 600.0, 6.94)
    implied = ballistic_frame_interval_fs(msd_fft(x), 6.94, 600.0)
    assert implied == pytest.approx(2.0, rel=0.1)  # random phases: 40 ions × 3 axes
    # frames 40 fs apart (a third of the period) are past the ballistic regime: no answer
    coarse = vibrating_ions(200, 40.0, 600.0, 6.94)
    assert ballistic_frame_interval_fs(msd_fft(coarse), 6.94, 600.0) is None

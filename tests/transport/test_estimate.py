"""The error model: MSD covariance between lags, slope weights, Fieller intervals."""

from __future__ import annotations

import numpy as np
import pytest

from solidion.transport.estimate import (
    Variogram,
    fieller_interval,
    form_covariance,
    gls_slope_weights,
    msd_covariance,
    ols_slope_weights,
)
from solidion.transport.msd import cross_msd_fft


def _caged_variogram(m: int, s: np.ndarray) -> Variogram:
    """Per-axis cross-variograms: a linear part s·τ plus a caged plateau on the diagonal."""
    tau = np.arange(m + 1.0)
    v = s.shape[0]
    short = (
        s[None, :, :, None] * tau
        + 0.5 * (1 - np.exp(-tau / 2))[None, None, None, :] * np.eye(v)[None, :, :, None]
    )
    return Variogram(np.repeat(short, 3, axis=0), np.repeat(s[None], 3, axis=0))


def test_offset_sum_is_exact():
    """The piecewise-cubic quadrature equals the brute-force sum over every origin pair."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 2))
    g = _caged_variogram(7, a @ a.T)
    n, lags = 300, np.array([3, 10, 41, 150])
    fast = msd_covariance(g, lags, n)
    brute = np.zeros_like(fast)
    u = np.arange(-n, n + 1.0)
    for k, tk in enumerate(lags):
        for j, tl in enumerate(lags):
            nk, nl = n - tk, n - tl
            pairs = np.clip(np.minimum(nk, nl - u) - np.maximum(0, -u), 0, None)
            c = 0.5 * (g(u + tl) + g(u - tk) - g(u) - g(u + tl - tk))
            brute[k, j] = np.einsum("xacu,xbdu,u->acbd", c, c, pairs / (nk * nl))
    np.testing.assert_allclose(fast, brute, rtol=1e-10, atol=1e-12 * np.abs(brute).max())


def test_random_walk_variance_is_the_known_formula():
    """Per axis, Var M(t) = 16 D² t³ / (3T) for 1 ≪ t ≪ T (D = 1/2 for unit steps; the
    discrete walk adds O(1/t²))."""
    g = Variogram(np.arange(2.0)[None, None, None, :].repeat(3, 0), np.ones((3, 1, 1)))
    n, t = 200_000, 20
    var = 2 * msd_covariance(g, np.array([t]), n)[0, 0, 0, 0, 0, 0]
    assert var == pytest.approx(3 * 16 * 0.25 * t**3 / (3 * n), rel=5e-3)


def test_form_covariance_matches_monte_carlo_for_cross_terms():
    """Slopes of ⟨ΔA·ΔA⟩, ⟨ΔA·ΔB⟩ and ⟨ΔB·ΔB⟩ of two correlated walks: model vs 400 replicas."""
    rng = np.random.default_rng(1)
    n, reps = 400, 400
    mix = np.array([[1.0, 0.0], [0.6, 0.8]])  # B shares 60 % of A's steps
    lags = np.array([2, 6, 12, 25, 50])
    t = lags.astype(float)
    w = ols_slope_weights(t)
    slopes = []
    for _ in range(reps):
        steps = rng.normal(size=(n - 1, 3, 2)) @ mix.T
        x = np.concatenate([np.zeros((1, 3, 2)), np.cumsum(steps, axis=0)])
        a, b = x[..., 0], x[..., 1]
        slopes.append(
            [w @ cross_msd_fft(a)[lags], w @ cross_msd_fft(a, b)[lags], w @ cross_msd_fft(b)[lags]]
        )
    emp = np.cov(np.array(slopes).T)
    s = mix @ mix.T  # per-axis variogram slope per frame
    g = Variogram(np.stack([np.zeros((2, 2)), s], axis=-1)[None].repeat(3, 0), s[None].repeat(3, 0))
    forms = np.zeros((3, 2, 2))
    forms[0, :, 0] = 1.0
    forms[1, 0, 0] = forms[1, 1, 1] = 1.0
    forms[2, :, 1] = 1.0
    model = form_covariance(msd_covariance(g, lags, n), w, forms)
    # 400 replicas: a variance is known to ±7 %, a covariance a little worse
    np.testing.assert_allclose(model, emp, rtol=0.2, atol=0.05 * np.abs(emp).max())


def test_gls_weights_are_unbiased_and_beat_ols():
    g = Variogram(np.arange(2.0)[None, None, None, :].repeat(3, 0), np.ones((3, 1, 1)))
    lags = np.arange(5, 500, 20)
    cov = 2 * msd_covariance(g, lags, 2000)[:, :, 0, 0, 0, 0]
    t = lags.astype(float)
    w_gls, w_ols = gls_slope_weights(t, cov), ols_slope_weights(t)
    for w in (w_gls, w_ols):
        assert w @ (3.0 * t + 7.0) == pytest.approx(3.0)
    assert w_gls @ cov @ w_gls < 0.5 * (w_ols @ cov @ w_ols)


def test_fieller_interval():
    lo, hi = fieller_interval(1.0, 2.0, 0.0, 0.0)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
    lo, hi = fieller_interval(1.0, 2.0, 0.01, 0.16)  # 20 % on the denominator
    assert lo < 0.5 < hi and hi - 0.5 > 0.5 - lo  # skewed upwards, like the ratio itself
    assert fieller_interval(1.0, 0.3, 0.01, 0.16) is None  # denominator not resolved from zero
    # coverage of the exact interval for Gaussian numerator and denominator
    rng = np.random.default_rng(2)
    a = 1.0 + 0.05 * rng.normal(size=4000)
    b = 2.0 + 0.5 * rng.normal(size=4000)  # 25 % on the denominator
    hits = [
        (iv := fieller_interval(x, y, 0.05**2, 0.5**2)) is not None and iv[0] <= 0.5 <= iv[1]
        for x, y in zip(a, b, strict=True)
    ]
    assert np.mean(hits) == pytest.approx(0.683, abs=0.03)

"""Estimates with calibrated standard errors: MSD-slope covariances, GLS weights, ratios, blocks.

**Slopes of all-origin MSDs** (used by :func:`solidion.transport.analyze`). An MSD averaged over
every time origin of a run is strongly correlated between lags, so its slope is best taken by
generalised least squares (GLS) with the covariance of the MSD between lags, and the same
covariance gives the slope's error (McCluskey, Coles, Morgan et al., "Accurate estimation of
diffusion coefficients and their uncertainties from computer simulation", J. Chem. Theory
Comput. 21, 2025; kinisi; Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020)).
Here the covariance is not that of an ideal random walk but follows from the measured MSD
itself: if the displacements are Gaussian with stationary increments (the collective
displacement of many ions is, by the central limit theorem), every covariance of squared
displacements is fixed by the variogram γ(τ) — the per-axis MSD — through Isserlis' theorem,

.. math::
    \\mathrm{Cov}[\\Delta X_{[s,s+t_1]}, \\Delta Y_{[s+u,s+u+t_2]}]
      = \\tfrac12[\\gamma_{XY}(u+t_2) + \\gamma_{XY}(u-t_1) - \\gamma_{XY}(u) - \\gamma_{XY}(u+t_2-t_1)],

    \\mathrm{Cov}[\\overline{\\Delta X_\\alpha \\Delta X_\\beta}(t_1),
                  \\overline{\\Delta X_\\gamma \\Delta X_\\delta}(t_2)]
      = \\frac{1}{n_1 n_2}\\sum_{s,s'} (C_{\\alpha\\gamma} C_{\\beta\\delta}
                                       + C_{\\alpha\\delta} C_{\\beta\\gamma}),

summed over the origin pairs and the Cartesian axes (:func:`msd_covariance`). Caging, a
ballistic start or a vibrational plateau enter through γ, so the same formula holds for caged
ions as for free walkers; for an ideal walk it reduces to the known
Cov = (8D²/T)(t₁²t₂ − t₁³/3) per axis (t₁ ≤ t₂). Self MSDs of single ions are not Gaussian
(hops), so their slopes take the error from the spread over ions instead (each ion's own
all-origin slope, :func:`solidion.transport.msd.msd_fft_particles`).

**Ratios** (Haven ratio, transference numbers) have a Fieller interval
(:func:`fieller_interval`, Fieller, J. R. Stat. Soc. B 16, 175 (1954)): the exact interval for
a ratio of two Gaussian estimates, which stays honest when the denominator is noisy, where the
delta method and the jackknife of a ratio do not.

**Blocks** (used by the structure analyses and the cluster statistics). The trajectory is cut into
``n`` consecutive blocks of equal length; each block gives its own raw estimates (slopes of its
self and collective MSDs); any derived number f (a conductivity, a ratio such as the Haven ratio,
a transference number) is computed from the mean of the block estimates, and its standard error
by the delete-one-block jackknife (Efron & Stein, Ann. Stat. 9, 586 (1981); Flyvbjerg &
Petersen, J. Chem. Phys. 91, 461 (1989) for blocking). Because f sees all raw numbers of a block
at once, correlations between them (D* and D_σ come from the same run) are carried through.

With few blocks the estimated standard error is itself uncertain, so ±1 s.e. would cover the
truth less often than 68 %. The reported ``stderr`` is therefore the jackknife error times the
Student-t quantile t_{n−1}(0.8413): the interval value ± stderr then has 68.3 % coverage for
Gaussian block estimates. The calibration is checked by tests on many synthetic trajectories
with known answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Estimate",
    "Variogram",
    "fieller_interval",
    "form_covariance",
    "gls_slope_weights",
    "jackknife",
    "msd_covariance",
    "ols_slope_weights",
    "t_factor",
]


@dataclass(frozen=True)
class Estimate:
    """A value with its calibrated 1σ standard error, in the units named by the owner field.

    Example:
        >>> Estimate(2.0, 0.5).to_dict()
        {'value': 2.0, 'stderr': 0.5}
    """

    value: float
    stderr: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON form ``{"value": x, "stderr": y}``; an undefined number (NaN) becomes null."""
        return {"value": _finite_or_none(self.value), "stderr": _finite_or_none(self.stderr)}

    @classmethod
    def from_dict(cls, d: dict[str, float | None]) -> Estimate:
        """Inverse of :meth:`to_dict`."""
        return cls(*(float("nan") if d[k] is None else float(d[k]) for k in ("value", "stderr")))

    def scaled(self, factor: float) -> Estimate:
        """The same estimate in other units (value and stderr times ``factor``)."""
        return Estimate(self.value * factor, abs(self.stderr * factor))

    @property
    def relative_error(self) -> float:
        """stderr / |value| (inf for a zero value)."""
        return abs(self.stderr / self.value) if self.value else float("inf")

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} ± {self.stderr:{spec}}"


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def t_factor(n_blocks: int) -> float:
    """Student-t quantile t_{n−1}(0.8413) that turns a jackknife s.e. into a 68.3 % interval."""
    if n_blocks < 2:
        raise ValueError("at least two blocks are needed for an error bar")
    return float(stats.t.ppf(stats.norm.cdf(1.0), df=n_blocks - 1))


def jackknife(
    func: Callable[[np.ndarray], np.ndarray], blocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Value and calibrated standard error of ``func(mean of blocks)``.

    Args:
        func: Maps a vector of block-averaged raw numbers (k,) to the derived numbers (m,).
        blocks: Raw numbers per block, shape (n_blocks, k).

    Returns:
        ``(value, stderr)``, each shape (m,): value = func(mean over all blocks), stderr = the
        delete-one jackknife error times :func:`t_factor`.

    Example:
        >>> b = np.array([[1.0], [2.0], [3.0], [4.0]])
        >>> v, e = jackknife(lambda m: m, b)
        >>> float(v[0]), round(float(e[0] / t_factor(4)), 6)   # plain s.e. of the mean
        (2.5, 0.645497)
    """
    blocks = np.asarray(blocks, dtype=np.float64)
    n = blocks.shape[0]
    if n < 2:
        raise ValueError("at least two blocks are needed for an error bar")
    total = blocks.sum(axis=0)
    value = np.asarray(func(total / n), dtype=np.float64)
    leave_out = np.stack([np.asarray(func((total - blocks[i]) / (n - 1))) for i in range(n)])
    centre = leave_out.mean(axis=0)
    var = (n - 1) / n * ((leave_out - centre) ** 2).sum(axis=0)
    return value, np.sqrt(var) * t_factor(n)


# ---------------------------------------------------------------------------------------------
# covariance of all-origin MSDs (Gaussian increments) and slope weights
# ---------------------------------------------------------------------------------------------
class Variogram:
    """Per-axis (cross-)variograms of a vector process with stationary increments.

    γ_pq^x(τ) = ⟨[X_p^x(t+τ) − X_p^x(t)][X_q^x(t+τ) − X_q^x(t)]⟩ for components p, q and axis
    x: measured at lags 0 … m (``short``) and continued linearly beyond with ``slope`` — the
    diffusive model — so that it can be evaluated at any lag.

    Args:
        short: (n_axes, V, V, m+1) values at lags 0 … m (frames).
        slope: (n_axes, V, V) slope per frame beyond lag m.

    Example:
        >>> g = Variogram(np.arange(3.0)[None, None, None, :], np.ones((1, 1, 1)))
        >>> g(np.array([-2.0, 0.5, 5.0]))[0, 0, 0].tolist()
        [2.0, 0.5, 5.0]
    """

    def __init__(self, short: np.ndarray, slope: np.ndarray):
        self.short = np.asarray(short, dtype=np.float64)
        self.slope = np.asarray(slope, dtype=np.float64)
        if self.short.ndim != 4 or self.slope.shape != self.short.shape[:3]:
            raise ValueError("short must be (n_axes, V, V, m+1) and slope (n_axes, V, V)")
        self.m = self.short.shape[-1] - 1

    def __call__(self, tau: np.ndarray) -> np.ndarray:
        """γ at the lags ``tau`` (frames, any real, |τ| used): (n_axes, V, V, len(tau))."""
        tau = np.abs(np.asarray(tau, dtype=np.float64))
        inside = np.minimum(tau, self.m)
        i0 = np.floor(inside).astype(np.intp)
        i1 = np.minimum(i0 + 1, self.m)
        frac = inside - i0
        out = self.short[..., i0] * (1.0 - frac) + self.short[..., i1] * frac
        return out + self.slope[..., None] * np.maximum(tau - self.m, 0.0)


@functools.lru_cache(maxsize=4096)
def _cubic_sum_weights(length: int) -> np.ndarray:
    """Weights W_j with Σ_{v=0}^{L} f(v) = Σ_j W_j f(jL/3), exact for every cubic f (L = length)."""
    big_l = float(length)
    sums = np.array(
        [
            big_l + 1.0,
            big_l * (big_l + 1.0) / 2.0,
            big_l * (big_l + 1.0) * (2.0 * big_l + 1.0) / 6.0,
            (big_l * (big_l + 1.0) / 2.0) ** 2,
        ]
    )
    moments = sums / big_l ** np.arange(4)  # Σ (v/L)^p
    nodes = np.arange(4) / 3.0
    return np.linalg.solve(np.vander(nodes, 4, increasing=True).T, moments)


def _offset_points(
    lo: int, hi: int, centres: Sequence[int], half: int, kinks: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets u and weights that sum a piecewise-cubic summand over the integers lo … hi exactly.

    Within ``half`` of each centre (where the variogram is measured, not linear) and at the
    kinks of the origin-pair count, every integer is kept; in between the summand is a cubic
    in u and four nodes with :func:`_cubic_sum_weights` give its sum exactly.
    """
    keep = [np.arange(c - half - 1, c + half + 2) for c in centres]
    keep.append(np.array([lo, hi, *kinks, *(k - 1 for k in kinks), *(k + 1 for k in kinks)]))
    exact = np.unique(np.concatenate(keep))
    exact = exact[(exact >= lo) & (exact <= hi)]
    us = [exact.astype(np.float64)]
    ws = [np.ones(exact.size)]
    gaps_a = exact[:-1] + 1
    gaps_b = exact[1:] - 1
    for a, b in zip(gaps_a, gaps_b, strict=True):
        if b < a:
            continue
        if b - a < 8:
            u = np.arange(a, b + 1, dtype=np.float64)
            us.append(u)
            ws.append(np.ones(u.size))
        else:
            us.append(a + (b - a) * np.arange(4) / 3.0)
            ws.append(_cubic_sum_weights(int(b - a)))
    return np.concatenate(us), np.concatenate(ws)


def msd_covariance(variogram: Variogram, lags: np.ndarray, n_frames: int) -> np.ndarray:
    """Covariance kernel of origin-averaged quadratic displacement statistics between lags.

    For components α, β of a Gaussian process with stationary increments, the MSD-like curve
    M_αβ(t) = ⟨ΔX_α(t)·ΔX_β(t)⟩ (averaged over the n_frames − t origins, summed over axes) has
    Cov[M_αβ(t_k), M_γδ(t_l)] = T[k, l, α, γ, β, δ] + T[k, l, α, δ, β, γ] with the kernel T
    returned here (see the module docstring). The sum over origin offsets u runs where the
    increments can correlate: −(t_l + m) … t_k + m, with m the last measured lag of the
    variogram (beyond it γ is linear and increments of disjoint intervals are independent).
    The sum is exact (:func:`_offset_points`): slope weights of an all-origin MSD cancel
    strongly between neighbouring lags (GLS), so an approximate covariance can give a
    meaningless, even negative, variance.

    Args:
        variogram: The process's variograms (V components).
        lags: Lags in frames (K,).
        n_frames: Frames of the run.

    Returns:
        T, shape (K, K, V, V, V, V).
    """
    lags = np.asarray(lags, dtype=np.intp)
    k_n = lags.size
    v = variogram.short.shape[1]
    out = np.zeros((k_n, k_n, v, v, v, v))
    m = variogram.m
    # all lag pairs k ≤ j at once, in batches that bound the (V⁴ × points) workspace
    budget = max(1, 2_000_000 // (v**4 * 3))
    batch: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    size = 0
    for k in range(k_n):
        tk = int(lags[k])
        nk = n_frames - tk
        for j in range(k, k_n):
            tl = int(lags[j])
            nl = n_frames - tl
            lo, hi = max(-(tl + m), -nk), min(tk + m, nl)
            u, h = _offset_points(lo, hi, (-tl, tk, 0, tk - tl), m, (0, tk - tl, -nk, nl))
            batch.append((k, j, u, h))
            size += u.size
            if size >= budget:
                _kernel_batch(variogram, lags, n_frames, batch, out)
                batch, size = [], 0
    if batch:
        _kernel_batch(variogram, lags, n_frames, batch, out)
    return out


def _kernel_batch(
    variogram: Variogram,
    lags: np.ndarray,
    n_frames: int,
    batch: Sequence[tuple[int, int, np.ndarray, np.ndarray]],
    out: np.ndarray,
) -> None:
    """Fill ``out[k, j]`` (and its transpose ``out[j, k]``) for a batch of lag pairs."""
    sizes = np.array([b[2].size for b in batch])
    u = np.concatenate([b[2] for b in batch])
    h = np.concatenate([b[3] for b in batch])
    tk = np.repeat([float(lags[b[0]]) for b in batch], sizes)
    tl = np.repeat([float(lags[b[1]]) for b in batch], sizes)
    nk, nl = n_frames - tk, n_frames - tl
    pairs = np.clip(np.minimum(nk, nl - u) - np.maximum(0.0, -u), 0.0, None)
    w = h * pairs / (nk * nl)
    c = 0.5 * (variogram(u + tl) + variogram(u - tk) - variogram(u) - variogram(u + tl - tk))
    prod = np.einsum("xacu,xbdu,u->uacbd", c, c, w)
    sums = np.add.reduceat(prod, np.concatenate([[0], np.cumsum(sizes)[:-1]]), axis=0)
    for (k, j, _, _), t in zip(batch, sums, strict=True):
        out[k, j] = t
        if j != k:
            out[j, k] = t.transpose(1, 0, 3, 2)


def form_covariance(kernel: np.ndarray, weights: np.ndarray, forms: np.ndarray) -> np.ndarray:
    """Covariance of slopes of quadratic forms, each slope a weighted sum of its curve.

    A form (u, v) is the curve ⟨(u·ΔX)(v·ΔX)⟩; its slope is Σ_k weights_k · curve(t_k).

    Args:
        kernel: :func:`msd_covariance` output (K, K, V, V, V, V).
        weights: Slope weights (K,) (:func:`gls_slope_weights`).
        forms: (F, 2, V): the vectors u and v of each form.

    Returns:
        (F, F) covariance of the F slopes.
    """
    w = np.einsum("k,l,klacbd->acbd", weights, weights, kernel)
    u, v = forms[:, 0], forms[:, 1]
    first = np.einsum("fa,gc,fb,gd,acbd->fg", u, u, v, v, w)
    second = np.einsum("fa,gc,fb,gd,acbd->fg", u, v, v, u, w)
    return first + second


def _line_design(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    return np.stack([t, np.ones_like(t)], axis=1)


def gls_slope_weights(t: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Weights w with slope = w · y for the GLS line y = a·t + b under covariance ``cov``.

    .. math:: w = [(X^T\\Sigma^{-1}X)^{-1} X^T \\Sigma^{-1}]_{0,:}, \\quad X = [t, 1]

    A relative ridge of 1e-10 keeps a nearly singular covariance (neighbouring lags of an
    all-origin MSD are almost perfectly correlated) invertible.

    Example:
        >>> t = np.arange(1.0, 6.0)
        >>> w = gls_slope_weights(t, np.eye(5))
        >>> round(float(w @ (3 * t + 2)), 12)
        3.0
    """
    x = _line_design(t)
    c = np.asarray(cov, dtype=np.float64)
    c = c + np.eye(c.shape[0]) * 1e-10 * float(np.trace(c)) / c.shape[0]
    ci_x = np.linalg.solve(c, x)
    return np.linalg.solve(x.T @ ci_x, ci_x.T)[0]


def ols_slope_weights(t: np.ndarray) -> np.ndarray:
    """Weights of the ordinary least-squares slope (every lag counts the same)."""
    t = np.asarray(t, dtype=np.float64)
    d = t - t.mean()
    denom = float(d @ d)
    if denom == 0:
        raise ValueError("a line needs at least two distinct times")
    return d / denom


def fieller_interval(
    a: float, b: float, var_a: float, var_b: float, cov_ab: float = 0.0, z: float = 1.0
) -> tuple[float, float] | None:
    """Fieller's confidence interval of the ratio a/b of two Gaussian estimates.

    The set of ρ with |a − ρb| ≤ z·√(var_a − 2ρ·cov_ab + ρ²·var_b): the roots of
    (b² − z²var_b)ρ² − 2(ab − z²cov_ab)ρ + (a² − z²var_a) = 0. It is a finite interval only
    when b is resolved from zero (b² > z²var_b); otherwise None.

    Example:
        >>> lo, hi = fieller_interval(1.0, 2.0, 0.01, 0.04)
        >>> round(lo, 4), round(hi, 4)   # asymmetric about 0.5
        (0.4338, 0.5763)
    """
    z2 = z * z
    qa = b * b - z2 * var_b
    if not qa > 0:
        return None
    qb = a * b - z2 * cov_ab
    qc = a * a - z2 * var_a
    disc = qb * qb - qa * qc
    if disc < 0:  # cannot happen for a valid covariance; guard rounding
        disc = 0.0
    root = np.sqrt(disc)
    return float((qb - root) / qa), float((qb + root) / qa)

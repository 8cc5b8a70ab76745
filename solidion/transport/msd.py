"""Mean-squared-displacement kernels: pure functions on numpy arrays.

All kernels average over every time origin and use the FFT, O(T log T) per particle
(Kneller, Keiner, Meyer & Mohn, Comput. Phys. Commun. 91, 191 (1995); Calandrini et al.,
"nMoldyn", École thématique Soc. Fr. Neutron. 12, 201 (2011)). Displacement maths is float64.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = [
    "cross_msd_fft",
    "diffusive_onset",
    "linear_fit",
    "local_exponent",
    "msd_fft",
    "msd_naive",
]

#: Particles transformed together in :func:`msd_fft`; bounds the FFT workspace.
CHUNK_PARTICLES = 64


def _s1_terms(d: np.ndarray) -> np.ndarray:
    """Σ_{t=0}^{n−m−1} [d(t) + d(t+m)] for every lag m, given a per-frame series d (n,)."""
    n = d.shape[0]
    c = np.cumsum(d)
    total = c[-1]
    m = np.arange(n)
    head = c[n - 1 - m]  # Σ_{t=0}^{n-m-1} d(t)
    tail = total - np.concatenate(([0.0], c[:-1]))  # Σ_{t=m}^{n-1} d(t)
    return head + tail


def msd_fft(
    x: np.ndarray, *, chunk: int = CHUNK_PARTICLES, workers: int | None = None
) -> np.ndarray:
    """Self mean-squared displacement, averaged over particles and all time origins.

    .. math::
        \\mathrm{MSD}(m) = \\frac{1}{N}\\sum_a \\frac{1}{T-m}\\sum_{t=0}^{T-m-1}
            |x_a(t+m) - x_a(t)|^2 = \\frac{1}{N}\\sum_a [S_1^a(m) - 2 S_2^a(m)]

    with :math:`S_2` the position autocorrelation computed by FFT (zero-padded to avoid
    wrap-around) and :math:`S_1` by cumulative sums.

    Args:
        x: Unwrapped positions (n_frames, n_particles, 3) in Å (any float; used as float64).
        chunk: Particles per FFT batch (memory bound: ~2·T·chunk·3 complex numbers).
        workers: Threads for the FFT (scipy.fft); default all cores.

    Returns:
        MSD in Å² for lags 0 … n_frames−1, shape (n_frames,).

    Example:
        >>> x = np.arange(5.0)[:, None, None] * np.array([1.0, 0, 0])  # ballistic, v = 1
        >>> msd_fft(x).round(12).tolist()
        [0.0, 1.0, 4.0, 9.0, 16.0]
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be (n_frames, n_particles, dim), got shape {x.shape}")
    n, n_part = x.shape[0], x.shape[1]
    if n_part == 0:
        raise ValueError("msd_fft needs at least one particle")
    nfft = scipy.fft.next_fast_len(2 * n, real=True)
    counts = n - np.arange(n, dtype=np.float64)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    workers = workers if workers is not None else -1
    for start in range(0, n_part, chunk):
        xc = np.asarray(x[:, start : start + chunk], dtype=np.float64)
        d = np.einsum("tak,tak->t", xc, xc)
        s1 += _s1_terms(d)
        f = scipy.fft.rfft(xc, n=nfft, axis=0, workers=workers)
        power = (f.real**2 + f.imag**2).sum(axis=(1, 2))
        s2 += scipy.fft.irfft(power, n=nfft, workers=workers)[:n]
    return (s1 - 2.0 * s2) / counts / n_part


def cross_msd_fft(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Origin-averaged displacement cross-correlation of two vector series.

    .. math::
        C_{xy}(m) = \\frac{1}{T-m}\\sum_{t=0}^{T-m-1}
            [x(t+m) - x(t)]\\cdot[y(t+m) - y(t)]

    Used for collective displacements :math:`\\Delta R_i(t)=\\sum_{a\\in i}\\Delta r_a(t)`, whose
    slopes give the Onsager coefficients (e.g. Fong et al., Macromolecules 53, 8 (2020)).

    Args:
        x: (n_frames, dim) series, e.g. the summed positions of one species.
        y: A second series of the same shape; ``None`` gives the auto-correlation of ``x``.

    Returns:
        C(m) for m = 0 … n_frames−1, shape (n_frames,).

    Example:
        >>> t = np.arange(4.0)[:, None] * np.ones((1, 3))
        >>> cross_msd_fft(t, -2 * t).tolist()
        [0.0, -6.0, -24.0, -54.0]
    """
    x = np.asarray(x, dtype=np.float64)
    y = x if y is None else np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must have one shape (n_frames, dim), got {x.shape}, {y.shape}")
    n = x.shape[0]
    nfft = scipy.fft.next_fast_len(2 * n, real=True)
    fx = scipy.fft.rfft(x, n=nfft, axis=0)
    fy = fx if y is x else scipy.fft.rfft(y, n=nfft, axis=0)
    # a(m) = Σ_t x(t)·y(t+m); b(m) = Σ_t y(t)·x(t+m)
    a = scipy.fft.irfft((np.conj(fx) * fy).sum(axis=1), n=nfft)[:n]
    b = a if y is x else scipy.fft.irfft((np.conj(fy) * fx).sum(axis=1), n=nfft)[:n]
    s1 = _s1_terms(np.einsum("tk,tk->t", x, y))
    return (s1 - a - b) / (n - np.arange(n, dtype=np.float64))


def msd_naive(x: np.ndarray) -> np.ndarray:
    """Reference double loop for :func:`msd_fft` (tests only; O(T²))."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    out = np.zeros(n)
    for m in range(1, n):
        d = x[m:] - x[:-m]
        out[m] = np.mean(np.sum(d * d, axis=-1))
    return out


def linear_fit(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least-squares line y = slope·t + intercept; returns (slope, intercept)."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    tm = t.mean()
    dt = t - tm
    denom = float(dt @ dt)
    if denom == 0:
        raise ValueError("a line needs at least two distinct times")
    slope = float(dt @ (y - y.mean())) / denom
    return slope, float(y.mean() - slope * tm)


def local_exponent(lags: np.ndarray, msd: np.ndarray) -> np.ndarray:
    """β(t) = d ln MSD / d ln t on the given (positive) lags; NaN where MSD ≤ 0."""
    lags = np.asarray(lags, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.where(msd > 0, msd, np.nan))
        return np.gradient(y, np.log(lags))


def diffusive_onset(
    msd: np.ndarray,
    *,
    last_lag: int | None = None,
    band: tuple[float, float] = (0.75, 1.3),
    n_grid: int = 40,
) -> int | None:
    """First lag (in frames) after which the MSD grows linearly, or None if it never does.

    The local exponent β = d ln MSD / d ln t is evaluated on a logarithmic grid of lags
    (smoothed over three grid points). The onset is the first grid lag from which β stays within
    ``band`` up to ``last_lag``: ballistic motion (β = 2) and caging (β < 1) are excluded, and
    the long-lag tail beyond ``last_lag`` (few independent origins) is not asked to behave.

    Args:
        msd: MSD for lags 0 … n−1 (lag 0 ignored).
        last_lag: Largest lag that must be diffusive; default n // 4.
        band: Accepted range of β.
        n_grid: Points of the logarithmic lag grid.

    Returns:
        The onset lag in frames (≥ 1), or None when no diffusive regime is found.
    """
    n = msd.shape[0]
    last = max(2, min(n - 1, last_lag if last_lag is not None else n // 4))
    lags = np.unique(np.round(np.geomspace(1, last, n_grid)).astype(int))
    if lags.size < 3:
        return None
    beta = local_exponent(lags, msd[lags])
    if lags.size >= 5:
        beta = np.convolve(np.pad(beta, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    ok = (beta >= band[0]) & (beta <= band[1])
    # the first index from which every later point is ok
    bad_after = np.flatnonzero(~ok)
    k = 0 if bad_after.size == 0 else int(bad_after[-1]) + 1
    if k >= lags.size - 1:  # need at least two diffusive grid points
        return None
    return int(lags[k])


def ballistic_frame_interval_fs(
    msd_A2: np.ndarray,
    mass_amu: float,
    temperature_K: float,
    *,
    ratio_band: tuple[float, float] = (3.0, 4.6),
) -> float | None:
    """The time between frames that a ballistic start of the MSD implies, in fs, or None.

    Over times much shorter than a vibrational period an atom flies freely, so its MSD is
    ballistic: MSD(t) = 3 k_B T t² / m (equipartition; e.g. Hansen & McDonald, *Theory of Simple
    Liquids*, 4th ed., §7.2). When MSD(2Δt)/MSD(Δt) ≈ 4 (the t² law over the first two lags),
    the frames are that close, and Δt = √(MSD(Δt) m / (3 k_B T)) follows from the temperature
    alone. Comparing it with the stated interval catches a mislabelled trajectory (frames every
    MD step read as every tenth). Frames farther apart than the ballistic regime give a ratio
    well below 4 and no answer — the check only ever speaks when the data are unambiguous.

    Args:
        msd_A2: MSD for lags 0, 1, 2, … frames, in Å² (at least three values).
        mass_amu: Mass of the species in amu.
        temperature_K: Temperature in K.
        ratio_band: Range of MSD(2)/MSD(1) accepted as ballistic.

    Returns:
        The implied frame interval in fs, or None when the first lags are not ballistic.

    Example:
        >>> import numpy as np
        >>> from ase import units
        >>> v2 = 3 * units.kB * 600 / 6.94 * units.fs**2  # 3kT/m in Å²/fs²
        >>> msd = v2 * (2.0 * np.arange(5)) ** 2  # free flight, frames 2 fs apart
        >>> round(ballistic_frame_interval_fs(msd, 6.94, 600.0), 6)
        2.0
    """
    from ase import units

    msd_A2 = np.asarray(msd_A2, dtype=np.float64)
    if msd_A2.shape[0] < 3 or not (msd_A2[1] > 0 and np.isfinite(msd_A2[2])):
        return None
    if not ratio_band[0] <= msd_A2[2] / msd_A2[1] <= ratio_band[1]:
        return None
    v2_A2_fs2 = 3.0 * units.kB * temperature_K / mass_amu * units.fs**2
    return float(np.sqrt(msd_A2[1] / v2_A2_fs2))

"""Mean-squared-displacement kernels: pure functions on numpy arrays.

All kernels average over every time origin and use the FFT, O(T log T) per particle
(Kneller, Keiner, Meyer & Mohn, Comput. Phys. Commun. 91, 191 (1995); Calandrini et al.,
"nMoldyn", École thématique Soc. Fr. Neutron. 12, 201 (2011)). Displacement maths is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

__all__ = [
    "DIFFUSIVE_BAND",
    "FitWindow",
    "choose_fit_window",
    "cross_msd_fft",
    "diffusive_onset",
    "linear_fit",
    "local_exponent",
    "msd_fft",
    "msd_fft_particles",
    "msd_naive",
    "resolved_lag",
    "window_lags",
]

#: Particles transformed together in :func:`msd_fft`; bounds the FFT workspace.
CHUNK_PARTICLES = 64
#: Frames per tile when the positions are transposed to time-last order.
TRANSPOSE_TILE = 512
#: Range of the local exponent d ln MSD / d ln t accepted as diffusive (linear MSD).
DIFFUSIVE_BAND = (0.85, 1.15)
#: Lags (frames) of every fit window, spread evenly between its first and last lag.
WINDOW_LAGS = 24


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
        xt = _time_last(x[:, start : start + chunk])
        d = np.einsum("kxt,kxt->t", xt, xt)
        s1 += _s1_terms(d)
        power = _power(xt, nfft, workers).sum(axis=0)
        s2 += scipy.fft.irfft(power, n=nfft, workers=workers)[:n]
    return (s1 - 2.0 * s2) / counts / n_part


def _time_last(x: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """(n_frames, k, 3) positions, less ``shift`` (n_frames, 3) if given, as a contiguous
    float64 (k, 3, n_frames) array: the FFT along a contiguous last axis is about twice as fast
    as along the first, and the subtraction costs no extra copy."""
    x = np.asarray(x)
    n = x.shape[0]
    out = np.empty((x.shape[1], x.shape[2], n))
    shift_t = None if shift is None else np.asarray(shift, dtype=np.float64).T[None]
    for t0 in range(0, n, TRANSPOSE_TILE):  # in tiles of frames: a naive transpose is 6× slower
        t1 = min(n, t0 + TRANSPOSE_TILE)
        tile = x[t0:t1].transpose(1, 2, 0)
        if shift_t is None:
            out[:, :, t0:t1] = tile
        else:
            np.subtract(tile, shift_t[:, :, t0:t1], out=out[:, :, t0:t1])
    return out


def _power(xt: np.ndarray, nfft: int, workers: int) -> np.ndarray:
    """|FFT|² of (k, 3, n) series along time, summed over the axes: (k, nfft // 2 + 1)."""
    f = scipy.fft.rfft(xt, n=nfft, axis=-1, workers=workers)
    return np.einsum("kxf,kxf->kf", f.real, f.real) + np.einsum("kxf,kxf->kf", f.imag, f.imag)


def msd_fft_particles(
    x: np.ndarray,
    lags: np.ndarray,
    *,
    shift: np.ndarray | None = None,
    chunk: int = CHUNK_PARTICLES,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean MSD at every lag and each particle's own MSD at chosen lags, all time origins.

    The same sums as :func:`msd_fft`, but the position autocorrelation is transformed back per
    particle, so each particle's origin-averaged MSD is available at ``lags``. A slope that is a
    linear combination of MSD values can then be taken per particle, and the spread of those
    slopes over particles measures its error with no model of how the lags correlate.

    Args:
        x: Unwrapped positions (n_frames, n_particles, 3) in Å.
        lags: Lags in frames (K,), each in 0 … n_frames−1.
        shift: A displacement (n_frames, 3) subtracted from every particle first (the drift of
            the reference frame), or None.
        chunk: Particles per FFT batch.
        workers: Threads for the FFT; default all cores.

    Returns:
        ``(mean, per)``: the particle-averaged MSD for lags 0 … n_frames−1 (n_frames,), in Å²,
        and each particle's MSD at ``lags``, (K, n_particles).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 4, 3)).cumsum(axis=0)
        >>> mean, per = msd_fft_particles(x, np.array([1, 7]))
        >>> bool(np.allclose(per.mean(axis=1), msd_fft(x)[[1, 7]]))
        True
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be (n_frames, n_particles, dim), got shape {x.shape}")
    lags = np.asarray(lags, dtype=np.intp)
    n, n_part = x.shape[0], x.shape[1]
    if n_part == 0:
        raise ValueError("msd_fft_particles needs at least one particle")
    if lags.size and (lags.min() < 0 or lags.max() >= n):
        raise ValueError(f"lags must lie in 0 … {n - 1}")
    nfft = scipy.fft.next_fast_len(2 * n, real=True)
    counts = n - np.arange(n, dtype=np.float64)
    workers = workers if workers is not None else -1
    d_sum = np.zeros(n)
    power_sum = np.zeros(nfft // 2 + 1)
    per = np.empty((lags.size, n_part))
    before = np.maximum(lags - 1, 0)
    # the inverse real FFT of each particle's power spectrum, but only at ``lags``: a small
    # cosine matrix instead of a full transform per particle
    freq = np.arange(nfft // 2 + 1)
    edge = np.full(freq.size, 2.0)
    edge[0] = 1.0
    if nfft % 2 == 0:
        edge[-1] = 1.0
    inverse_at_lags = edge * np.cos(2.0 * np.pi * np.outer(lags, freq) / nfft) / nfft
    for start in range(0, n_part, chunk):
        xt = _time_last(x[:, start : start + chunk], shift)  # (k, 3, n)
        k = xt.shape[0]
        power = _power(xt, nfft, workers)  # first: the FFT workspace is the memory peak
        power_sum += power.sum(axis=0)
        c = np.einsum("kxt,kxt->kt", xt, xt)
        del xt
        d_sum += c.sum(axis=0)
        np.cumsum(c, axis=1, out=c)
        head = c[:, n - 1 - lags]  # Σ_{t<n−m} d(t)
        tail = c[:, -1:] - np.where(lags > 0, c[:, before], 0.0)  # Σ_{t≥m} d(t)
        s2 = np.einsum("lf,kf->kl", inverse_at_lags, power)  # no BLAS threads
        per[:, start : start + k] = ((head + tail - 2.0 * s2) / counts[lags]).T
    s2_mean = scipy.fft.irfft(power_sum, n=nfft, workers=workers)[:n]
    return (_s1_terms(d_sum) - 2.0 * s2_mean) / counts / n_part, per


def cross_msd_fft(
    x: np.ndarray, y: np.ndarray | None = None, *, per_axis: bool = False
) -> np.ndarray:
    """Origin-averaged displacement cross-correlation of two vector series.

    .. math::
        C_{xy}(m) = \\frac{1}{T-m}\\sum_{t=0}^{T-m-1}
            [x(t+m) - x(t)]\\cdot[y(t+m) - y(t)]

    Used for collective displacements :math:`\\Delta R_i(t)=\\sum_{a\\in i}\\Delta r_a(t)`, whose
    slopes give the Onsager coefficients (e.g. Fong et al., Macromolecules 53, 8 (2020)).

    Args:
        x: (n_frames, dim) series, e.g. the summed positions of one species.
        y: A second series of the same shape; ``None`` gives the auto-correlation of ``x``.
        per_axis: Keep the Cartesian components apart (no sum over the dot product).

    Returns:
        C(m) for m = 0 … n_frames−1, shape (n_frames,), or (n_frames, dim) with ``per_axis``.

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
    counts = n - np.arange(n, dtype=np.float64)
    if per_axis:
        a = scipy.fft.irfft(np.conj(fx) * fy, n=nfft, axis=0)[:n]
        b = a if y is x else scipy.fft.irfft(np.conj(fy) * fx, n=nfft, axis=0)[:n]
        s1 = np.stack([_s1_terms(x[:, k] * y[:, k]) for k in range(x.shape[1])], axis=1)
        return (s1 - a - b) / counts[:, None]
    # a(m) = Σ_t x(t)·y(t+m); b(m) = Σ_t y(t)·x(t+m)
    a = scipy.fft.irfft((np.conj(fx) * fy).sum(axis=1), n=nfft)[:n]
    b = a if y is x else scipy.fft.irfft((np.conj(fy) * fx).sum(axis=1), n=nfft)[:n]
    s1 = _s1_terms(np.einsum("tk,tk->t", x, y))
    return (s1 - a - b) / counts


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
    band: tuple[float, float] = DIFFUSIVE_BAND,
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


@dataclass(frozen=True)
class FitWindow:
    """The one lag window over which every transport number of a run is fitted.

    Attributes:
        lags: Lags of the fit in frames (K,), increasing, spread evenly from ``start`` to
            ``end``.
        onset: Diffusive onset in frames (:func:`diffusive_onset`), or None when the MSD never
            became linear.
        end_limit: The longest lag the statistics allow (half the shortest run), in frames.
    """

    lags: np.ndarray
    onset: int | None
    end_limit: int

    @property
    def start(self) -> int:
        """First lag (frames)."""
        return int(self.lags[0])

    @property
    def end(self) -> int:
        """Last lag (frames)."""
        return int(self.lags[-1])

    @property
    def diffusive(self) -> bool:
        """Whether the window starts in a diffusive (linear) regime of the MSD."""
        return self.onset is not None


def resolved_lag(n_frames: int, n_particles: int, rel_noise: float = 0.03) -> int:
    """Longest lag (frames) at which an all-origin MSD of ``n_particles`` random walkers over
    ``n_frames`` is known to ``rel_noise``: Var[M(t)]/M(t)² = 4t/(9NT) for a Gaussian walk in
    three dimensions (the covariance of :mod:`solidion.transport.estimate` at t₁ = t₂ = t)."""
    return int(rel_noise**2 * 9.0 * n_particles * n_frames / 4.0)


def choose_fit_window(
    msd: np.ndarray,
    n_frames: int,
    n_particles: int | None = None,
    *,
    band: tuple[float, float] = DIFFUSIVE_BAND,
    n_lags: int = WINDOW_LAGS,
) -> FitWindow:
    """One fit window for a run: from the diffusive onset to half the run.

    The window ends at half the shortest run, where each ion still contributes two independent
    displacements: as long as the statistics allow. (How much each lag counts is decided by the
    fit's weights, which follow the covariance of the MSD between lags, so the noisy long lags
    cost no precision; see :mod:`solidion.transport.estimate`.) It starts at the diffusive onset
    of ``msd`` (:func:`diffusive_onset`), sought up to a quarter of the run but no farther than
    the MSD is known to 3 % (:func:`resolved_lag`): beyond, the local exponent of a few ions'
    MSD wanders out of the band by chance, and a window chosen because the noise bent the MSD
    would fit exactly that noise. When the MSD never
    becomes linear — a sub-diffusive run, caged ions, AIMD of a few ps — it starts at a tenth of
    the run, so the slope is an average over the longest reliable lags (as the established tools
    take it: pymatgen-analysis-diffusion fits from 1 ps to the end of the run) rather than the
    steeper early slope of a curved MSD.

    Args:
        msd: MSD of the mobile species for lags 0 … n−1 (n ≥ ``n_frames`` not needed: the
            lags searched are those below ``n_frames // 4``).
        n_frames: Frames of the shortest run.
        n_particles: Ions averaged in ``msd`` (None: no limit from noise).
        band: Local-exponent range accepted as diffusive.
        n_lags: Lags of the window.

    Returns:
        A :class:`FitWindow`.

    Raises:
        ValueError: When the run is too short for a window of two lags.

    Example:
        >>> w = choose_fit_window(6.0 * np.arange(1000.0), 1000)
        >>> (w.start, w.end, w.diffusive)
        (1, 499, True)
    """
    end = (int(n_frames) - 1) // 2
    if end < 3:
        raise ValueError(f"{n_frames} frames are too few for a fit window")
    last = n_frames // 4
    if n_particles is not None:
        last = min(last, max(8, resolved_lag(n_frames, n_particles)))
    onset = diffusive_onset(np.asarray(msd)[:n_frames], last_lag=last, band=band)
    start = onset if onset is not None else max(1, int(n_frames) // 10)
    start = min(start, end - 2)
    return FitWindow(window_lags(start, end, n_lags), onset, end)


def window_lags(start: int, end: int, n_lags: int = WINDOW_LAGS) -> np.ndarray:
    """Lags (frames) of a window given by its first and last lag."""
    return np.unique(np.round(np.linspace(start, end, n_lags)).astype(np.intp))


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

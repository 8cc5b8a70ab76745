"""Lattice vibrations and ion hopping: phonon-assisted barriers, VDOS from MD, soft modes.

Three pieces, each a small model with its check:

- **Phonon-assisted hopping.** A migration barrier linearly coupled to a vibrational mode Q,
  E_b(Q) = E_b0 − λQ, with the mode harmonic, V(Q) = ½ m ω² Q². Averaging the Arrhenius rate
  over the thermal distribution of Q lowers the effective barrier by ΔE = λ²⟨Q²⟩/(2k_BT),
  which classically is λ²/(2mω²): soft (low-frequency) modes help most, ΔE ∝ 1/ω²
  (Flygare & Huggins, J. Phys. Chem. Solids 34, 1199 (1973); lattice-softness descriptors in
  Muy et al., iScience 16, 270 (2019) and Kraft et al., J. Am. Chem. Soc. 139, 10909 (2017)).
- **Vibrational density of states** from the velocity autocorrelation of an MD run
  (Dickey & Paskin, Phys. Rev. 188, 1407 (1969)), per species, by FFT (Wiener–Khinchin).
- **Soft modes.** Near a displacive or superionic transition the frequency of one mode
  follows ω² = a (T − T_c) (Cochran, Adv. Phys. 9, 387 (1960)); a straight line in ω²
  against T extrapolates to T_c.

Units: frequencies are ordinary frequencies ν in THz (cycles per ps); ω = 2πν is the angular
frequency in rad/ps. Masses in amu, lengths in Å, energies in eV, temperatures in K.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft

from solidion.errors import AnalysisError, InputError
from solidion.trajectory import Trajectory
from solidion.transport.estimate import Estimate
from solidion.units import BOLTZMANN_EV_K, ELEMENTARY_CHARGE_C, FS_PER_PS

__all__ = [
    "VDOS",
    "SoftModeFit",
    "mean_square_amplitude",
    "phonon_assisted_barrier_shift",
    "soft_mode_fit",
    "spectrum_from_vacf",
    "thermal_average_barrier_shift",
    "track_mode",
    "vacf_fft",
    "vdos",
]

#: Atomic mass unit in kg (CODATA 2018).
AMU_KG: float = 1.66053906660e-27
#: Planck constant in J·s (exact, SI 2019).
PLANCK_J_S: float = 6.62607015e-34
#: 1 amu·Å²/ps² in eV: the kinetic-energy unit of masses in amu and velocities in Å/ps
#: (1 Å = 1e-10 m, 1 ps = 1e-12 s).
AMU_A2_PS2_EV: float = AMU_KG * (1e-10 / 1e-12) ** 2 / ELEMENTARY_CHARGE_C
#: Reduced Planck constant ħ in eV·ps.
HBAR_EV_PS: float = PLANCK_J_S / (2.0 * np.pi) / ELEMENTARY_CHARGE_C * 1e12

#: Windows applied to the velocity autocorrelation before the transform (value 1 at lag 0,
#: 0 at the longest lag); "hann" trades resolution for low leakage.
WINDOWS = ("hann", "blackman", "none")

#: Atoms transformed together in :func:`vdos` (memory bound: ~2·T·chunk·3 complex numbers).
CHUNK_PARTICLES = 64

#: Largest number of oscillator eigenstates :func:`thermal_average_barrier_shift` sums.
MAX_STATES = 20000


# --------------------------------------------------------------------------------------------
# phonon-assisted hopping
# --------------------------------------------------------------------------------------------
def _positive(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if arr.size == 0 or not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return arr


def _finite(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {value!r}")
    return arr


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def mean_square_amplitude(
    mass_amu: float | np.ndarray,
    frequency_THz: float | np.ndarray,
    temperature_K: float | np.ndarray,
    *,
    quantum: bool = False,
) -> float | np.ndarray:
    """Thermal mean-square amplitude ⟨Q²⟩ of a harmonic mode, in Å².

    Classical (equipartition): ⟨Q²⟩ = k_BT/(mω²). Quantum (Bose–Einstein populations, the
    exact thermal position distribution of a harmonic oscillator, which is Gaussian):
    ⟨Q²⟩ = ħ/(2mω) · coth(ħω/2k_BT), which tends to the classical value for k_BT ≫ ħω and
    to the zero-point spread ħ/(2mω) as T → 0 (e.g. Maradudin, Montroll & Weiss, *Theory of
    Lattice Dynamics in the Harmonic Approximation*, 1971).

    Args:
        mass_amu: Mode (reduced) mass in amu.
        frequency_THz: Ordinary frequency ν in THz; ω = 2πν.
        temperature_K: Temperature in K.
        quantum: Use the quantum expression.

    Returns:
        ⟨Q²⟩ in Å² (an array if any argument is one).

    Example:
        >>> round(mean_square_amplitude(6.94, 5.0, 300.0), 5)  # Li, 5 THz, 300 K
        0.03642
    """
    m = _positive("mass_amu", mass_amu)
    nu = _positive("frequency_THz", frequency_THz)
    t = _positive("temperature_K", temperature_K)
    omega = 2.0 * np.pi * nu  # rad/ps
    stiffness = m * omega**2 * AMU_A2_PS2_EV  # eV/Å²
    kt = BOLTZMANN_EV_K * t
    if not quantum:
        return _out(kt / stiffness)
    x = HBAR_EV_PS * omega / (2.0 * kt)
    zero_point = HBAR_EV_PS / (2.0 * m * omega * AMU_A2_PS2_EV)  # Å²
    return _out(zero_point / np.tanh(x))


def phonon_assisted_barrier_shift(
    coupling_eV_A: float | np.ndarray,
    mass_amu: float | np.ndarray,
    frequency_THz: float | np.ndarray,
    temperature_K: float | np.ndarray | None = None,
    *,
    quantum: bool = False,
) -> float | np.ndarray:
    """Lowering ΔE of the effective migration barrier by a mode coupled linearly to it.

    Model: the barrier depends on a mode coordinate Q as E_b(Q) = E_b0 − λQ (λ > 0: Q opens
    the bottleneck), and Q is a harmonic mode of mass m and angular frequency ω = 2πν,
    distributed thermally. If the hop is fast compared with the mode (Q is frozen during one
    crossing), the mean rate is the Arrhenius rate averaged over Q, and for a Gaussian Q

    .. math::
        \\langle e^{-E_b(Q)/k_BT}\\rangle = e^{-E_b0/k_BT}\\,
            e^{\\lambda^2\\langle Q^2\\rangle/2(k_BT)^2}
            \\equiv e^{-(E_b0-\\Delta E)/k_BT},\\qquad
        \\Delta E = \\frac{\\lambda^2 \\langle Q^2\\rangle}{2 k_B T}.

    That is the *effective barrier* used here: the one an Arrhenius plot of the averaged rate
    shows. Classically ⟨Q²⟩ = k_BT/(mω²), so ΔE = λ²/(2mω²), independent of T and equal to
    the relaxation (polaron-like) energy min_Q [½mω²Q² − λQ] = −λ²/(2mω²): the two
    definitions agree for a classical harmonic mode. With the quantum ⟨Q²⟩ (zero-point
    spread, :func:`mean_square_amplitude`) ΔE_q = λ²ħ coth(ħω/2k_BT)/(4mωk_BT) ≥ ΔE_cl,
    tending to ΔE_cl for k_BT ≫ ħω. Either way ΔE ∝ 1/ω²: softer modes lower the barrier
    more (Flygare & Huggins, J. Phys. Chem. Solids 34, 1199 (1973); Muy et al., iScience 16,
    270 (2019)). At low T the quantum ΔE grows as 1/T — the static average then describes
    rare, large zero-point fluctuations and should not be trusted beyond ΔE ≲ E_b0.

    Args:
        coupling_eV_A: λ = −∂E_b/∂Q in eV/Å (its sign does not matter; ΔE ∝ λ²).
        mass_amu: Mode mass in amu (for a mode dominated by one ion, that ion's mass).
        frequency_THz: Ordinary frequency ν in THz.
        temperature_K: Temperature in K; needed for ``quantum=True`` (the classical shift is
            independent of T, and the temperature is only checked when given).
        quantum: Use the quantum ⟨Q²⟩.

    Returns:
        ΔE in eV (an array if any argument is one).

    Raises:
        InputError: On non-positive mass, frequency or temperature, or ``quantum=True``
            without a temperature.

    Example:
        >>> round(phonon_assisted_barrier_shift(0.5, 6.94, 5.0), 4)  # λ²/(2mω²)
        0.1761
        >>> round(phonon_assisted_barrier_shift(0.5, 6.94, 5.0, 300.0, quantum=True), 4)
        0.1854
    """
    lam = _finite("coupling_eV_A", coupling_eV_A)
    m = _positive("mass_amu", mass_amu)
    nu = _positive("frequency_THz", frequency_THz)
    if temperature_K is not None:
        t = _positive("temperature_K", temperature_K)
    elif quantum:
        raise InputError("temperature_K is required for the quantum barrier shift")
    if not quantum:
        stiffness = m * (2.0 * np.pi * nu) ** 2 * AMU_A2_PS2_EV
        shift = lam**2 / (2.0 * stiffness)
        if temperature_K is not None:  # same shape as the quantum form would have
            shift = np.broadcast_to(shift, np.broadcast(shift, t).shape).copy()
        return _out(shift)
    q2 = np.asarray(mean_square_amplitude(m, nu, t, quantum=True))
    return _out(lam**2 * q2 / (2.0 * BOLTZMANN_EV_K * t))


def _n_states(omega: float, kt: float, log_amplification: float, tol: float = 1e-17) -> int:
    """Eigenstates needed so that the neglected populations, even amplified by e^{log_amp},
    stay below ``tol``."""
    b = HBAR_EV_PS * omega / kt
    return int(np.ceil((-np.log(tol) + log_amplification) / b)) + 2


def _oscillator_log_density(
    q_grid_A: np.ndarray, mass_amu: float, omega: float, kt: float, n_max: int
) -> np.ndarray:
    """ln ρ(Q) of the thermal position density ρ(Q) = Σ_n p_n |ψ_n(Q)|² of a quantum harmonic
    oscillator (in logarithms, because the tilt e^{λQ/kT} amplifies far tails).

    Summed over eigenstates (normalised Hermite functions by their three-term recursion,
    rescaled per point so that high orders neither overflow nor underflow), with Boltzmann
    populations p_n = (1 − e^{−βħω}) e^{−nβħω}, for n = 0 … ``n_max``.
    """
    x0 = np.sqrt(HBAR_EV_PS / (mass_amu * omega * AMU_A2_PS2_EV))  # Å, oscillator length
    xi = q_grid_A / x0
    b = HBAR_EV_PS * omega / kt
    log_p0 = np.log1p(-np.exp(-b))
    # psi_n(xi) = s_n(xi) * exp(log_scale - xi^2/2) / sqrt(x0)
    s_prev = np.zeros_like(xi)
    s = np.full_like(xi, np.pi**-0.25)
    log_scale = np.zeros_like(xi)
    log_rho = np.full_like(xi, -np.inf)
    for n in range(n_max + 1):
        with np.errstate(divide="ignore"):
            term = log_p0 - n * b + 2.0 * (np.log(np.abs(s)) + log_scale) - xi**2
        log_rho = np.logaddexp(log_rho, term)
        s_next = np.sqrt(2.0 / (n + 1)) * xi * s - np.sqrt(n / (n + 1)) * s_prev
        s_prev, s = s, s_next
        big = np.abs(s) > 1e100
        if big.any():
            f = np.where(big, 1e-100, 1.0)
            s = s * f
            s_prev = s_prev * f
            log_scale = log_scale - np.log(f)
    return log_rho - np.log(x0)


def thermal_average_barrier_shift(
    coupling_eV_A: float,
    mass_amu: float,
    frequency_THz: float,
    temperature_K: float,
    *,
    quantum: bool = False,
    n_grid: int = 4001,
) -> float:
    """ΔE by explicit numerical thermal averaging over the mode coordinate (the check).

    .. math::
        \\Delta E = k_BT \\ln \\int \\rho(Q)\\, e^{\\lambda Q / k_BT}\\, dQ

    with ρ(Q) the Boltzmann density ∝ exp(−½mω²Q²/k_BT) (classical) or the quantum thermal
    density Σ_n p_n|ψ_n(Q)|², summed over harmonic-oscillator eigenstates (quantum), each
    normalised numerically on the grid. Trapezoidal quadrature on a grid wide enough for
    both the weight and the tilted integrand. Nothing here uses the closed forms of
    :func:`phonon_assisted_barrier_shift` or :func:`mean_square_amplitude`, so agreement is a
    test of both.

    Args:
        coupling_eV_A: λ in eV/Å.
        mass_amu: Mode mass in amu.
        frequency_THz: Ordinary frequency ν in THz.
        temperature_K: Temperature in K.
        quantum: Use the quantum thermal density.
        n_grid: Quadrature points (≥ 101).

    Returns:
        ΔE in eV.

    Raises:
        InputError: On bad arguments.
        AnalysisError: If the quantum sum would need more than ``MAX_STATES`` eigenstates
            (k_BT ≫ ħω, where the classical average applies, or ΔE ≫ k_BT).

    Example:
        >>> round(thermal_average_barrier_shift(0.5, 6.94, 5.0, 300.0), 4)
        0.1761
    """
    lam = float(_finite("coupling_eV_A", coupling_eV_A))
    m = float(_positive("mass_amu", mass_amu))
    nu = float(_positive("frequency_THz", frequency_THz))
    t = float(_positive("temperature_K", temperature_K))
    if isinstance(n_grid, bool) or not isinstance(n_grid, (int, np.integer)) or n_grid < 101:
        raise InputError(f"n_grid must be an integer ≥ 101, got {n_grid!r}")
    omega = 2.0 * np.pi * nu
    k = m * omega**2 * AMU_A2_PS2_EV
    kt = BOLTZMANN_EV_K * t
    # widths from simple bounds (not the closed forms): thermal spread and zero-point spread
    sigma = np.sqrt(kt / k) + np.sqrt(HBAR_EV_PS / (m * omega * AMU_A2_PS2_EV))
    tilt = abs(lam) * sigma**2 / kt  # where the tilted integrand peaks, at most
    half = tilt + 14.0 * sigma
    q = np.linspace(-half, half, int(n_grid))
    if quantum:
        # the tilt e^{λQ/kT} amplifies the tails, where high states dominate: keep enough
        n_max = _n_states(omega, kt, abs(lam) * half / kt)
        if n_max > MAX_STATES:
            raise AnalysisError(
                f"the eigenstate sum needs {n_max} states (more than {MAX_STATES}): k_BT ≫ ħω "
                "or ΔE ≫ k_BT; the classical average applies at high temperature"
            )
        log_w = _oscillator_log_density(q, m, omega, kt, n_max)
    else:
        log_w = -0.5 * k * q**2 / kt
    dq = q[1] - q[0]
    trap = np.full(q.size, np.log(dq))
    trap[[0, -1]] += np.log(0.5)
    log_norm = np.logaddexp.reduce(log_w + trap)
    log_tilted = np.logaddexp.reduce(log_w + lam * q / kt + trap)
    return float(kt * (log_tilted - log_norm))


# --------------------------------------------------------------------------------------------
# VDOS
# --------------------------------------------------------------------------------------------
def vacf_fft(velocities: np.ndarray, n_lags: int | None = None) -> np.ndarray:
    """Velocity autocorrelation of each particle, averaged over all time origins (FFT).

    .. math::  C_a(m) = \\frac{1}{T-m}\\sum_{t=0}^{T-m-1} \\mathbf v_a(t)\\cdot\\mathbf v_a(t+m)

    computed as the inverse FFT of the zero-padded power spectrum (Wiener–Khinchin; the
    padding to ≥ 2T removes the circular wrap-around), as in :func:`~solidion.transport.msd.
    msd_fft`.

    Args:
        velocities: (n_frames, n_particles, 3) (any units; float64 used).
        n_lags: Lags returned, 1 … n_frames (default n_frames).

    Returns:
        C(m) per particle, shape (n_lags, n_particles), in units of velocity².

    Example:
        >>> v = np.ones((4, 1, 3))
        >>> vacf_fft(v)[:, 0].round(12).tolist()
        [3.0, 3.0, 3.0, 3.0]
    """
    v = np.asarray(velocities, dtype=np.float64)
    if v.ndim != 3 or v.shape[0] < 1 or v.shape[1] < 1:
        raise InputError(f"velocities must be (n_frames, n_particles, dim), got {v.shape}")
    n = v.shape[0]
    n_lags = n if n_lags is None else int(n_lags)
    if not 1 <= n_lags <= n:
        raise InputError(f"n_lags must be in 1 … {n}, got {n_lags}")
    nfft = scipy.fft.next_fast_len(2 * n, real=True)
    f = scipy.fft.rfft(v, n=nfft, axis=0)
    power = (f.real**2 + f.imag**2).sum(axis=2)
    c = scipy.fft.irfft(power, n=nfft, axis=0)[:n_lags]
    return c / (n - np.arange(n_lags, dtype=np.float64))[:, None]


def _window(name: str, n: int) -> np.ndarray:
    """One-sided window over lags 0 … n−1: 1 at lag 0, decaying to 0 at lag n."""
    x = np.arange(n) / n
    if name == "hann":
        return np.cos(0.5 * np.pi * x) ** 2
    if name == "blackman":
        return 0.42 + 0.5 * np.cos(np.pi * x) + 0.08 * np.cos(2.0 * np.pi * x)
    if name == "none":
        return np.ones(n)
    raise InputError(f"window must be one of {', '.join(WINDOWS)}, got {name!r}")


def spectrum_from_vacf(
    c: np.ndarray, dt_ps: float, *, window: str = "hann", pad: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectrum of a velocity autocorrelation (Blackman–Tukey estimate).

    .. math::
        S(\\nu) = 2\\Delta t\\Big[C(0) + 2\\sum_{m\\ge1} w(m)\\,C(m)\\cos(2\\pi\\nu m\\Delta t)\\Big]

    for 0 ≤ ν ≤ 1/(2Δt), so that ∫ S dν = C(0) (the window is 1 at lag 0). Zero padding by
    ``pad`` only interpolates the frequency grid; the resolution is set by the correlation
    length and the window (≈ 2/(MΔt) for Hann over M lags).

    Args:
        c: C(m) for lags 0 … M−1, shape (M,) or (M, k) for k series.
        dt_ps: Lag spacing in ps.
        window: ``"hann"`` (default), ``"blackman"`` or ``"none"``.
        pad: Zero-padding factor of the transform (≥ 1).

    Returns:
        ``(frequencies_THz, S)``; S has the units of C × ps, shape (n_freq,) or (n_freq, k).

    Example:
        >>> nu, s = spectrum_from_vacf(np.cos(2 * np.pi * 2.0 * np.arange(400) * 0.01), 0.01)
        >>> round(float(nu[np.argmax(s)]), 1)
        2.0
    """
    c = np.asarray(c, dtype=np.float64)
    m = c.shape[0]
    if m < 2:
        raise InputError("the autocorrelation needs at least two lags")
    if not dt_ps > 0:
        raise InputError(f"dt_ps must be positive, got {dt_ps}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 1:
        raise InputError(f"pad must be an integer ≥ 1, got {pad!r}")
    w = _window(window, m)
    cw = c * (w if c.ndim == 1 else w[:, None])
    nfft = scipy.fft.next_fast_len(2 * m * int(pad), real=True)
    sym = np.zeros((nfft, *c.shape[1:]))
    sym[:m] = cw
    sym[nfft - m + 1 :] = cw[1:][::-1]
    s = scipy.fft.rfft(sym, axis=0).real * dt_ps * 2.0  # one-sided
    freqs = scipy.fft.rfftfreq(nfft, d=dt_ps)
    return freqs, s


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = np.diff(x)
    return np.tensordot(dx, 0.5 * (y[1:] + y[:-1]), axes=(0, 0))


@dataclass(frozen=True, eq=False)
class VDOS:
    """Vibrational density of states from MD, per species and in total.

    Attributes:
        frequencies_THz: Frequency grid ν in THz, 0 … 1/(2Δt).
        dos: Partial DOS per species in states/THz per atom of that species; each integrates
            to 3 (three modes per atom).
        total: Total DOS per atom of the species included, integrating to 3; mass-weighted
            (the harmonic phonon DOS) unless ``mass_weighted`` is False.
        counts: Atoms of each species.
        masses_amu: Mass of each species.
        kinetic_temperature_K: m⟨v²⟩/(3k_B) per species from the difference-corrected
            spectrum; equal across species in equilibrium (equipartition).
        mass_weighted: Whether ``total`` weights atoms by mass.
        window: Window applied to the autocorrelation.
        timestep_fs: Frame spacing used.
        correlation_time_ps: Longest lag transformed (sets the resolution).
    """

    frequencies_THz: np.ndarray
    dos: dict[str, np.ndarray]
    total: np.ndarray
    counts: dict[str, int]
    masses_amu: dict[str, float]
    kinetic_temperature_K: dict[str, float]
    mass_weighted: bool
    window: str
    timestep_fs: float
    correlation_time_ps: float

    @property
    def resolution_THz(self) -> float:
        """Approximate frequency resolution, 1/(correlation time)."""
        return 1.0 / self.correlation_time_ps

    def _curve(self, species: str | None) -> np.ndarray:
        if species is None:
            return self.total
        if species not in self.dos:
            raise InputError(f"species {species!r} is not in this VDOS (it has {list(self.dos)})")
        return self.dos[species]

    def _band(self, window_THz: tuple[float, float] | None) -> np.ndarray:
        nu = self.frequencies_THz
        if window_THz is None:
            return np.ones(nu.size, dtype=bool)
        lo, hi = (float(x) for x in window_THz)
        if not (0 <= lo < hi):
            raise InputError(
                f"window_THz must be (low, high) with 0 ≤ low < high, got {window_THz}"
            )
        band = (nu >= lo) & (nu <= hi)
        if band.sum() < 3:
            raise InputError(f"window_THz {window_THz} holds fewer than 3 grid frequencies")
        return band

    def modes(
        self, species: str | None = None, window_THz: tuple[float, float] | None = None
    ) -> float:
        """Number of modes per atom in a frequency band (∫ g dν over the band; 3 in all)."""
        band = self._band(window_THz)
        return float(_trapezoid(self._curve(species)[band], self.frequencies_THz[band]))

    def peaks_THz(
        self,
        species: str | None = None,
        window_THz: tuple[float, float] | None = None,
        *,
        min_prominence: float = 0.1,
    ) -> np.ndarray:
        """Peak frequencies in a band, ascending, refined by parabolic interpolation.

        A peak is a local maximum whose prominence is at least ``min_prominence`` times the
        highest value of the whole curve (scipy.signal.find_peaks), so that noise in an empty
        band is not reported as a mode.
        """
        from scipy.signal import find_peaks

        if not 0 <= min_prominence < 1:
            raise InputError(f"min_prominence must be in [0, 1), got {min_prominence}")
        band = self._band(window_THz)
        curve = self._curve(species)
        y = curve[band]
        nu = self.frequencies_THz[band]
        idx, _ = find_peaks(y, prominence=min_prominence * float(curve.max()))
        return np.array([_parabolic(nu, y, i) for i in idx])

    def peak_frequency_THz(
        self, species: str | None = None, window_THz: tuple[float, float] | None = None
    ) -> float:
        """Frequency of the highest point in a band (parabolic sub-grid refinement), in THz."""
        band = self._band(window_THz)
        y = self._curve(species)[band]
        return _parabolic(self.frequencies_THz[band], y, int(np.argmax(y)))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "frequencies_THz": self.frequencies_THz.tolist(),
            "dos": {k: v.tolist() for k, v in self.dos.items()},
            "total": self.total.tolist(),
            "counts": dict(self.counts),
            "masses_amu": dict(self.masses_amu),
            "kinetic_temperature_K": dict(self.kinetic_temperature_K),
            "mass_weighted": self.mass_weighted,
            "window": self.window,
            "timestep_fs": self.timestep_fs,
            "correlation_time_ps": self.correlation_time_ps,
        }

    def plot(self, ax: Any = None, *, max_frequency_THz: float | None = None) -> Any:
        """Partial and total DOS against frequency (matplotlib imported on use)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.2))
        nu = self.frequencies_THz
        for sp, g in self.dos.items():
            ax.plot(nu, g, lw=1, label=sp)
        ax.plot(nu, self.total, color="k", lw=1.2, label="total")
        if max_frequency_THz is not None:
            ax.set_xlim(0, max_frequency_THz)
        ax.set_xlabel("frequency (THz)")
        ax.set_ylabel("DOS (states / THz / atom)")
        ax.legend(frameon=False)
        return ax


def _parabolic(x: np.ndarray, y: np.ndarray, i: int) -> float:
    """Vertex of the parabola through the three points around index i (x evenly spaced)."""
    if i <= 0 or i >= y.size - 1:
        return float(x[i])
    a, b, c = y[i - 1], y[i], y[i + 1]
    denom = a - 2.0 * b + c
    if denom == 0:
        return float(x[i])
    return float(x[i] + 0.5 * (a - c) / denom * (x[1] - x[0]))


def vdos(
    traj: Trajectory,
    species: str | Iterable[str] | None = None,
    *,
    mass_weighted: bool = True,
    window: str = "hann",
    correlation_time_ps: float | None = None,
    masses_amu: dict[str, float] | None = None,
) -> VDOS:
    """Vibrational density of states from the velocity autocorrelation of a trajectory.

    .. math::
        g_s(\\nu) = \\frac{3}{\\int S_s\\,d\\nu} S_s(\\nu),\\qquad
        S_s(\\nu) = \\frac{1}{N_s}\\sum_{a\\in s}\\int C_a(t)\\,w(t)\\,e^{-2\\pi i\\nu t}\\,dt

    (Dickey & Paskin, Phys. Rev. 188, 1407 (1969)). The trajectory stores positions only, so
    velocities are forward differences of the unwrapped positions, v(t+½Δt) = [r(t+Δt) −
    r(t)]/Δt; their spectrum is the true one times sinc²(νΔt), which is divided out exactly
    (a factor ≤ π²/4 at the Nyquist frequency 1/(2Δt)). Store frames well below the shortest
    period (Δt ≲ 1/(4ν_max)) to avoid aliasing, which cannot be undone.

    Partial DOS are per species, normalised to 3 modes per atom. The total weights each atom
    by its mass when ``mass_weighted`` (default): m_a S_a integrates to 3k_BT for every atom in
    equilibrium, so the total is the harmonic phonon DOS and equals Σ_s N_s g_s / N. Without
    mass weighting the total is the plain velocity power spectrum, which over-weights light
    atoms (by 1/m in equilibrium).

    Args:
        traj: The trajectory (positions unwrapped, constant Δt).
        species: Species to include (default all).
        mass_weighted: Weight atoms by mass in the total.
        window: Window on the autocorrelation: ``"hann"``, ``"blackman"`` or ``"none"``.
        correlation_time_ps: Longest lag transformed (default half the run); the resolution
            is about its inverse.
        masses_amu: Masses per species (default: ASE's standard atomic masses).

    Returns:
        The :class:`VDOS`.

    Raises:
        InputError: On an unknown species, window or a correlation time outside the run.
        AnalysisError: If the trajectory is too short (fewer than 8 frames).

    Warns:
        RuntimeWarning: When the trajectory states a temperature and the kinetic temperature of
            the selected atoms is off by more than a factor 2 — usually a wrong ``timestep_fs``
            (e.g. the MD step instead of the time between stored frames).
    """
    from ase.data import atomic_masses, atomic_numbers

    if not isinstance(traj, Trajectory):
        raise InputError(f"traj must be a solidion Trajectory, got {type(traj).__name__}")
    if window not in WINDOWS:
        raise InputError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    if traj.n_frames < 8:
        raise AnalysisError(f"a VDOS needs at least 8 frames, the trajectory has {traj.n_frames}")
    wanted = (
        list(traj.species)
        if species is None
        else ([species] if isinstance(species, str) else list(species))
    )
    if not wanted:
        raise InputError("species selects no species")
    for sp in wanted:
        traj.indices(sp)  # raises InputError for a missing species
    dt_ps = traj.timestep_fs / FS_PER_PS
    n_vel = traj.n_frames - 1
    if correlation_time_ps is None:
        n_lags = n_vel // 2
    else:
        ct = float(_positive("correlation_time_ps", correlation_time_ps))
        n_lags = int(round(ct / dt_ps))
        if not 4 <= n_lags <= n_vel:
            raise InputError(
                f"correlation_time_ps = {ct} ps spans {n_lags} frames; it must span 4 … {n_vel}"
            )
    masses: dict[str, float] = {}
    for sp in wanted:
        if masses_amu is not None and sp in masses_amu:
            masses[sp] = float(_positive(f"masses_amu[{sp!r}]", masses_amu[sp]))
        else:
            masses[sp] = float(atomic_masses[atomic_numbers[sp]])
    spectra: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    freqs = np.zeros(0)
    for sp in wanted:
        idx = traj.indices(sp)
        c = np.zeros(n_lags)
        for start in range(0, idx.size, CHUNK_PARTICLES):  # bounds the FFT workspace
            part = idx[start : start + CHUNK_PARTICLES]
            v = np.diff(traj.positions[:, part], axis=0) / dt_ps  # Å/ps, at half steps
            c += vacf_fft(v, n_lags).sum(axis=1)
        c /= idx.size
        freqs, s = spectrum_from_vacf(c, dt_ps, window=window)
        spectra[sp] = s / np.sinc(freqs * dt_ps) ** 2
        counts[sp] = int(idx.size)
    dos: dict[str, np.ndarray] = {}
    temps: dict[str, float] = {}
    weighted_total = np.zeros_like(freqs)
    for sp in wanted:
        area = float(_trapezoid(spectra[sp], freqs))  # <v.v> per atom, (Å/ps)^2
        if not area > 0:
            raise AnalysisError(f"the atoms of {sp} do not move: no vibrational spectrum")
        dos[sp] = 3.0 * spectra[sp] / area
        temps[sp] = masses[sp] * area * AMU_A2_PS2_EV / (3.0 * BOLTZMANN_EV_K)
        weight = masses[sp] if mass_weighted else 1.0
        weighted_total += weight * counts[sp] * spectra[sp]
    total = 3.0 * weighted_total / float(_trapezoid(weighted_total, freqs))
    n_total = sum(counts.values())
    t_kin = sum(counts[sp] * temps[sp] for sp in wanted) / n_total
    if traj.temperature_K and not 0.5 < t_kin / traj.temperature_K < 2.0:
        warnings.warn(
            f"the kinetic temperature from the positions, {t_kin:.0f} K, is far from the stated "
            f"{traj.temperature_K:g} K: is timestep_fs ({traj.timestep_fs:g} fs) the time between "
            "stored frames? (velocities scale as 1/Δt, temperatures as 1/Δt²)",
            RuntimeWarning,
            stacklevel=2,
        )
    return VDOS(
        frequencies_THz=freqs,
        dos=dos,
        total=total,
        counts=counts,
        masses_amu=masses,
        kinetic_temperature_K=temps,
        mass_weighted=bool(mass_weighted),
        window=window,
        timestep_fs=traj.timestep_fs,
        correlation_time_ps=n_lags * dt_ps,
    )


# --------------------------------------------------------------------------------------------
# soft modes
# --------------------------------------------------------------------------------------------
def track_mode(
    spectra: Sequence[VDOS],
    window_THz: tuple[float, float],
    species: str | None = None,
    *,
    which: str = "lowest",
    min_prominence: float = 0.1,
) -> np.ndarray:
    """Frequency of one chosen mode in each of several VDOS (e.g. one per temperature).

    Args:
        spectra: VDOS objects, in the order of the temperatures.
        window_THz: (low, high) band where the mode lives.
        species: Partial DOS to read (default the total).
        which: ``"lowest"`` — the lowest-frequency peak in the band (a soft mode); or
            ``"highest"`` — the highest peak; or ``"strongest"`` — the band maximum.
        min_prominence: Peak prominence threshold, relative to the maximum of the curve.

    Returns:
        Frequencies in THz, one per spectrum.

    Raises:
        InputError: On bad arguments.
        AnalysisError: If a spectrum has no peak in the band.
    """
    if which not in ("lowest", "highest", "strongest"):
        raise InputError(f"which must be 'lowest', 'highest' or 'strongest', got {which!r}")
    if len(spectra) == 0:
        raise InputError("spectra is empty")
    out = []
    for k, sp in enumerate(spectra):
        if not isinstance(sp, VDOS):
            raise InputError(f"spectra[{k}] is not a VDOS")
        if which == "strongest":
            out.append(sp.peak_frequency_THz(species, window_THz))
            continue
        peaks = sp.peaks_THz(species, window_THz, min_prominence=min_prominence)
        if peaks.size == 0:
            raise AnalysisError(f"spectra[{k}] has no peak in {window_THz} THz")
        out.append(float(peaks[0] if which == "lowest" else peaks[-1]))
    return np.asarray(out)


@dataclass(frozen=True)
class SoftModeFit:
    """A soft-mode law ν² = A + B·T = B (T − T_c) fitted to mode frequencies.

    Attributes:
        critical_temperature_K: T_c = −A/B ± stderr (first-order propagation with the full
            covariance of A and B).
        slope_THz2_per_K: B ± stderr (negative: the mode softens on heating, as before a
            superionic transition; positive: on cooling, as above a displacive one).
        intercept_THz2: A ± stderr.
        temperatures_K: Temperatures fitted.
        frequencies_THz: Frequencies fitted.
        frequency_stderr_THz: Their standard errors if given.
        reduced_chi2: χ²/(n − 2) with stated errors, or the residual variance in THz⁴ without.
        covariance: 2×2 covariance of (A, B).
    """

    critical_temperature_K: Estimate
    slope_THz2_per_K: Estimate
    intercept_THz2: Estimate
    temperatures_K: tuple[float, ...]
    frequencies_THz: tuple[float, ...]
    frequency_stderr_THz: tuple[float, ...] | None
    reduced_chi2: float
    covariance: tuple[tuple[float, float], tuple[float, float]]

    @property
    def softens_on_heating(self) -> bool:
        """True when ν falls as T rises (B < 0)."""
        return self.slope_THz2_per_K.value < 0

    def frequency_THz(self, temperature_K: float) -> float:
        """Fitted ν(T) = √(A + B·T); raises beyond T_c, where the fitted ν² is negative."""
        t = float(_positive("temperature_K", temperature_K))
        nu2 = self.intercept_THz2.value + self.slope_THz2_per_K.value * t
        if nu2 < 0:
            raise InputError(
                f"temperature_K = {t} K is beyond T_c = {self.critical_temperature_K.value:.1f} K "
                "where the fitted ν² is negative"
            )
        return float(np.sqrt(nu2))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "critical_temperature_K": self.critical_temperature_K.to_dict(),
            "slope_THz2_per_K": self.slope_THz2_per_K.to_dict(),
            "intercept_THz2": self.intercept_THz2.to_dict(),
            "temperatures_K": list(self.temperatures_K),
            "frequencies_THz": list(self.frequencies_THz),
            "frequency_stderr_THz": (
                None if self.frequency_stderr_THz is None else list(self.frequency_stderr_THz)
            ),
            "reduced_chi2": self.reduced_chi2,
            "covariance": [list(r) for r in self.covariance],
        }


def soft_mode_fit(
    temperatures_K: Sequence[float] | np.ndarray,
    frequencies_THz: Sequence[float] | np.ndarray,
    frequency_stderr_THz: Sequence[float] | np.ndarray | None = None,
) -> SoftModeFit:
    """Fit the soft-mode law ω² ∝ (T − T_c) and extrapolate to the critical temperature.

    Cochran's soft-mode picture of a displacive transition (Adv. Phys. 9, 387 (1960)): the
    frequency of the unstable mode obeys ω² = a (T − T_c), vanishing at T_c. With ν = ω/2π the
    same straight line holds for ν² = A + B·T, fitted by least squares; T_c = −A/B. With stated
    frequency errors the fit is weighted by σ(ν²) = 2νσ(ν) and the covariance is absolute;
    without, the residual scatter sets it (needs ≥ 3 points). The T_c error is propagated to
    first order, var T_c = [var A + T_c² var B + 2 T_c cov(A, B)]/B²; an extrapolation far
    beyond the data is only as good as the linear law.

    Args:
        temperatures_K: Temperatures in K (≥ 2 distinct).
        frequencies_THz: Mode frequencies ν in THz (> 0), e.g. from :func:`track_mode`.
        frequency_stderr_THz: Standard errors of the frequencies (optional).

    Returns:
        The :class:`SoftModeFit`.

    Raises:
        InputError: On mismatched lengths, non-positive values or too few points.
        AnalysisError: If the frequencies do not change with temperature (no T_c).

    Example:
        >>> t = [300.0, 400.0, 500.0, 600.0]
        >>> fit = soft_mode_fit(t, np.sqrt(0.01 * (800.0 - np.asarray(t))))
        >>> round(fit.critical_temperature_K.value, 6), fit.softens_on_heating
        (800.0, True)
    """
    t = _positive("temperatures_K", temperatures_K).ravel()
    nu = _positive("frequencies_THz", frequencies_THz).ravel()
    if t.size != nu.size:
        raise InputError(
            f"temperatures_K ({t.size}) and frequencies_THz ({nu.size}) differ in length"
        )
    if np.unique(t).size < 2:
        raise InputError("temperatures_K needs at least two distinct temperatures")
    y = nu**2
    x = np.column_stack([np.ones_like(t), t])
    if frequency_stderr_THz is not None:
        sig_nu = _positive("frequency_stderr_THz", frequency_stderr_THz).ravel()
        if sig_nu.size != nu.size:
            raise InputError("frequency_stderr_THz must have one entry per frequency")
        sig = 2.0 * nu * sig_nu
        wts = 1.0 / sig**2
        cov = np.linalg.inv(x.T @ (x * wts[:, None]))
        beta = cov @ (x.T @ (wts * y))
        resid = y - x @ beta
        dof = t.size - 2
        red = float((wts * resid**2).sum() / dof) if dof > 0 else float("nan")
        errs = tuple(float(s) for s in sig_nu)
    else:
        if t.size < 3:
            raise InputError(
                "at least 3 temperatures are needed for an error bar without frequency_stderr_THz"
            )
        xtx_inv = np.linalg.inv(x.T @ x)
        beta = xtx_inv @ (x.T @ y)
        resid = y - x @ beta
        red = float(resid @ resid / (t.size - 2))
        cov = xtx_inv * red
        errs = None
    a, b = float(beta[0]), float(beta[1])
    # a slope that changes ν² by less than rounding over the whole range is no slope
    if not np.isfinite(b) or abs(b) * float(np.ptp(t)) <= 1e-12 * float(np.abs(y).max()):
        raise AnalysisError("the mode frequency does not change with temperature: no T_c")
    sb = float(np.sqrt(cov[1, 1]))
    if abs(b) < 2.0 * sb:
        warnings.warn(
            f"the slope of ν² against T ({b:.3g} ± {sb:.2g} THz²/K) is not significant; "
            "the extrapolated T_c is unreliable",
            RuntimeWarning,
            stacklevel=2,
        )
    tc = -a / b
    grad = np.array([-1.0 / b, a / b**2])  # dT_c/dA, dT_c/dB
    var_tc = float(grad @ cov @ grad)  # a quadratic form of a covariance: >= 0 up to rounding
    return SoftModeFit(
        critical_temperature_K=Estimate(tc, float(np.sqrt(max(var_tc, 0.0)))),
        slope_THz2_per_K=Estimate(b, sb),
        intercept_THz2=Estimate(a, float(np.sqrt(cov[0, 0]))),
        temperatures_K=tuple(float(v) for v in t),
        frequencies_THz=tuple(float(v) for v in nu),
        frequency_stderr_THz=errs,
        reduced_chi2=red,
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
    )

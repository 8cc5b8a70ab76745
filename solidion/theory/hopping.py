"""Hopping rates, Vineyard prefactors, random-walk diffusivities, Nernst–Einstein and isotopes.

One ion hop is the elementary step of ionic transport. In harmonic transition-state theory
(TST) its rate is

    k = ν* exp(−E_m / k_B T),

with E_m the migration barrier (saddle-point energy minus minimum energy) and ν* the Vineyard
prefactor, the product of the normal-mode frequencies at the minimum over the product of the
real normal-mode frequencies at the saddle (Vineyard, J. Phys. Chem. Solids 3, 121 (1957)):

    ν* = Π_{i=1}^{N} ν_i(min) / Π_{j=1}^{N−1} ν_j(saddle).

This module computes both from frequency lists, from Hessians, or directly from any ASE
calculator (:func:`hop_from_potential`: endpoint relaxation, climbing-image NEB, finite-difference
Hessians); turns rates into random-walk diffusivities D = Γ a² f / (2d) with tabulated
correlation factors f (Compaan & Haven 1956/1958; Mehrer, *Diffusion in Solids*, Springer 2007,
table 7.2); converts diffusivities into conductivities with the Nernst–Einstein relation
σ = n z² e² D_σ / (k_B T), with the valence squared and the Haven ratio H_R = D*/D_σ (Murch,
Solid State Ionics 7, 177 (1982)); and predicts and measures the isotope effect (classical,
zero-point-energy corrected and fully quantum harmonic; collective hops).

Units: energies eV, lengths Å, masses amu, frequencies THz in lists and Hz for prefactors and
rates, diffusivities cm²/s (``random_walk_diffusivity``) or m²/s (the SI Nernst–Einstein
functions, whose conductivities are in S/m; divide by 100 for S/cm).

Heavy imports (``ase.mep``, ``ase.vibrations``, ``ase.optimize``, the potentials) happen inside
:func:`hop_from_potential`; everything else is plain numpy.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from solidion.errors import AnalysisError, InputError
from solidion.units import BOLTZMANN_EV_K, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = [
    "CORRELATION_FACTORS",
    "MASS_LI6_AMU",
    "MASS_LI7_AMU",
    "HopResult",
    "charge_diffusivity",
    "collective_isotope_exponent",
    "conductivity_from_tracer",
    "correlation_factor",
    "diffusivity_from_conductivity",
    "harmonic_frequencies_THz",
    "harmonic_rate_Hz",
    "haven_ratio",
    "hop_from_potential",
    "isotope_exponent",
    "nernst_einstein_conductivity",
    "predicted_isotope_exponent",
    "random_walk_diffusivity",
    "tst_rate",
    "vineyard_prefactor",
    "vineyard_prefactor_from_hessians",
]

# ---------------------------------------------------------------------------------------------
# constants (exact SI 2019 / CODATA 2018 where not taken from solidion.units)
# ---------------------------------------------------------------------------------------------
#: Planck constant in J·s (exact, SI 2019).
PLANCK_J_S: float = 6.62607015e-34
#: Planck constant in eV·s.
PLANCK_EV_S: float = PLANCK_J_S / ELEMENTARY_CHARGE_C
#: Reduced Planck constant ħ in eV·s.
HBAR_EV_S: float = PLANCK_EV_S / (2.0 * math.pi)
#: Atomic mass constant in kg (CODATA 2018; the value behind ``units.AMU_A3_TO_G_CM3``).
AMU_KG: float = 1.66053906660e-27
#: Hz per THz.
HZ_PER_THZ: float = 1e12
#: cm² per Å² (1 Å = 1e-8 cm).
CM2_PER_A2: float = 1e-16
#: Angular frequency in rad/s of an eigenvalue of 1 eV/(Å²·amu) of a mass-weighted Hessian:
#: sqrt(e [J/eV] / (1e-20 [m²/Å²] · amu [kg])).
OMEGA_RAD_S_PER_SQRT_EV_A2_AMU: float = math.sqrt(ELEMENTARY_CHARGE_C / (1e-20 * AMU_KG))

#: Mass of ⁶Li in amu (AME 2016; Wang et al., Chin. Phys. C 41, 030003 (2017)).
MASS_LI6_AMU: float = 6.0151223
#: Mass of ⁷Li in amu (AME 2016).
MASS_LI7_AMU: float = 7.0160040

#: Largest |ν| (THz) still accepted as a "zero" (translation/rotation) mode when
#: ``remove_translations=True``; finite-difference noise of ML potentials stays below it.
DEFAULT_ZERO_TOL_THZ: float = 0.3

#: A mode with |ν| ≤ ``ZERO_MODE_REL_TOL`` · max|ν| of its list is a numerical zero (a
#: translation or rotation), whatever its sign. An eigen-solver leaves a zero eigenvalue of the
#: mass-weighted Hessian at ~1e-16·λ_max, i.e. |ν| ~ 1e-8·ν_max, with a sign that depends on the
#: BLAS kernel; 1e-4 leaves four decades of margin above that noise, and a genuine mode of
#: 1e-4·ν_max (a few GHz) has no place in a Vineyard product anyway.
ZERO_MODE_REL_TOL: float = 1e-4

# ---------------------------------------------------------------------------------------------
# correlation factors
# ---------------------------------------------------------------------------------------------
_VACANCY = {
    "chain": 0.0,
    "honeycomb": 1.0 / 3.0,
    "square": 0.46694,
    "hexagonal": 0.56006,
    "diamond": 0.5,
    "sc": 0.65311,
    "bcc": 0.72722,
    "fcc": 0.78146,
}

#: Tracer correlation factors f of self-diffusion in the dilute-defect limit, by mechanism then
#: lattice (Compaan & Haven, Trans. Faraday Soc. 52, 786 (1956) and 54, 1498 (1958); Mehrer,
#: *Diffusion in Solids*, Springer 2007, table 7.2). ``chain`` is the 1D chain (a vacancy only
#: shuttles the tracer back and forth), ``hexagonal`` the 2D triangular lattice, ``sc`` simple
#: cubic. ``interstitial`` (direct interstitial, uncorrelated) is 1 on every lattice;
#: ``interstitialcy`` holds only the collinear interstitialcy on the fcc (NaCl cation) sublattice,
#: f = 2/3. Read-only.
CORRELATION_FACTORS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "vacancy": MappingProxyType(dict(_VACANCY)),
        "interstitial": MappingProxyType(dict.fromkeys(_VACANCY, 1.0)),
        "interstitialcy": MappingProxyType({"fcc": 2.0 / 3.0}),
    }
)

_LATTICE_ALIASES = {
    "1d": "chain",
    "linear": "chain",
    "triangular": "hexagonal",
    "simple_cubic": "sc",
    "simple cubic": "sc",
    "cubic": "sc",
}


def correlation_factor(lattice: str, mechanism: str = "vacancy") -> float:
    """Tracer correlation factor f of a lattice and mechanism from :data:`CORRELATION_FACTORS`.

    f is the ratio of the tracer diffusivity to that of an uncorrelated walk with the same jumps,
    D* = f Γ a² / (2d): after a vacancy-mediated jump the tracer is likely to jump straight back.

    Args:
        lattice: ``chain``, ``honeycomb``, ``square``, ``hexagonal`` (alias ``triangular``),
            ``diamond``, ``sc`` (alias ``simple_cubic``), ``bcc`` or ``fcc``; case-insensitive.
        mechanism: ``vacancy`` (default), ``interstitial`` or ``interstitialcy``.

    Returns:
        f, dimensionless, in [0, 1].

    Raises:
        InputError: An unknown mechanism or lattice; the message lists the known keys.

    Example:
        >>> correlation_factor("fcc")
        0.78146
        >>> round(correlation_factor("fcc", "interstitialcy"), 4)
        0.6667
    """
    mech = str(mechanism).strip().lower()
    if mech not in CORRELATION_FACTORS:
        raise InputError(
            f"mechanism: unknown mechanism {mechanism!r}; known: {', '.join(CORRELATION_FACTORS)}"
        )
    key = str(lattice).strip().lower()
    key = _LATTICE_ALIASES.get(key, key)
    table = CORRELATION_FACTORS[mech]
    if key not in table:
        raise InputError(
            f"lattice: no {mech} correlation factor for {lattice!r}; known: {', '.join(table)}"
        )
    return float(table[key])


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _positive(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise InputError(f"{name}: must be positive and finite, got {value!r}")
    return arr


def _non_negative(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr >= 0):
        raise InputError(f"{name}: must be non-negative and finite, got {value!r}")
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if np.ndim(arr) == 0 else arr


def _dimensionality(d: Any) -> int:
    if d not in (1, 2, 3) or isinstance(d, bool):
        raise InputError(f"dimensionality: must be 1, 2 or 3, got {d!r}")
    return int(d)


def _correlation(f: Any) -> float:
    f = float(f)
    if not (0.0 <= f <= 1.0):
        raise InputError(f"correlation_factor: must lie in [0, 1], got {f!r}")
    return f


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------
def tst_rate(
    nu_Hz: float | np.ndarray, Em_eV: float, T_K: float | np.ndarray
) -> float | np.ndarray:
    """Transition-state-theory hop rate k = ν exp(−E_m / k_B T), in Hz.

    This is the rate of one particular hop (to one given neighbour site). The total rate of
    leaving a site with z equivalent target sites is z·k (see :func:`random_walk_diffusivity`).

    Args:
        nu_Hz: Attempt frequency (Vineyard prefactor) ν in Hz (> 0).
        Em_eV: Migration barrier E_m in eV (≥ 0).
        T_K: Temperature in K (> 0); scalar or array.

    Returns:
        k in Hz (a float, or an array for array input).

    Raises:
        InputError: A non-positive ν or T, or a negative barrier.

    Example:
        >>> f"{tst_rate(1e13, 0.3, 300.0):.4e}"
        '9.1247e+07'
    """
    nu = _positive(nu_Hz, "nu_Hz")
    em = _non_negative(Em_eV, "Em_eV")
    t = _positive(T_K, "T_K")
    return _out(nu * np.exp(-em / (BOLTZMANN_EV_K * t)))


def random_walk_diffusivity(
    rate_Hz: float | np.ndarray,
    hop_length_A: float,
    correlation_factor: float = 1.0,
    dimensionality: int = 3,
) -> float | np.ndarray:
    """Diffusivity of a walker on a lattice, D = Γ a² f / (2d), in cm²/s.

    Einstein: ⟨r²⟩ = 2d D t, and n = Γt jumps of length a give ⟨r²⟩ = n a² f. Γ is the
    **total** jump rate out of a site: for z equivalent neighbour sites each reached at the TST
    rate k, Γ = z k (fcc vacancy: z = 12). With d = 3, D = Γ a² f / 6.

    Args:
        rate_Hz: Total jump rate Γ in Hz (≥ 0); scalar or array.
        hop_length_A: Jump length a in Å (> 0).
        correlation_factor: f in [0, 1] (1 for an uncorrelated walker, e.g. the vacancy itself;
            :func:`correlation_factor` for a tracer).
        dimensionality: d = 1, 2 or 3, the dimension of the walk (D is the diffusivity along
            those d directions).

    Returns:
        D in cm²/s.

    Raises:
        InputError: A negative rate, a non-positive length, f outside [0, 1] or d not in 1–3.

    Example:
        >>> f"{random_walk_diffusivity(1e9, 2.0):.4e}"   # 1e9 × (2e-8 cm)² / 6
        '6.6667e-08'
    """
    gamma = _non_negative(rate_Hz, "rate_Hz")
    a = float(_positive(hop_length_A, "hop_length_A"))
    f = _correlation(correlation_factor)
    d = _dimensionality(dimensionality)
    return _out(gamma * a * a * CM2_PER_A2 * f / (2.0 * d))


# ---------------------------------------------------------------------------------------------
# frequencies and the Vineyard prefactor
# ---------------------------------------------------------------------------------------------
def _signed_THz(values: Any, name: str) -> np.ndarray:
    """Frequencies as floats with imaginary modes as negative numbers."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name}: expected a non-empty 1-D list of frequencies, shape {arr.shape}")
    if np.iscomplexobj(arr):
        imaginary = np.abs(arr.imag) > np.abs(arr.real)
        signed = np.where(imaginary, -np.abs(arr), arr.real)
    else:
        try:
            signed = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name}: frequencies must be numbers ({exc})") from exc
    if not np.all(np.isfinite(signed)):
        raise InputError(f"{name}: frequencies must be finite")
    return signed


def _drop_zero_modes(nu: np.ndarray, n_zero: int, tol_THz: float, name: str) -> np.ndarray:
    if nu.size <= n_zero:
        raise InputError(
            f"{name}: {nu.size} frequencies cannot hold {n_zero} zero modes and a vibration"
        )
    order = np.argsort(np.abs(nu), kind="stable")
    dropped = nu[order[:n_zero]]
    if np.any(np.abs(dropped) > tol_THz):
        raise InputError(
            f"{name}: the {n_zero} smallest |ν| are {np.round(dropped, 4).tolist()} THz, not "
            f"near-zero translations (|ν| ≤ {tol_THz} THz); pass remove_translations=False if the "
            "list has no zero modes (a partial Hessian) or raise zero_tol_THz"
        )
    return np.sort(nu[order[n_zero:]])


def _numerical_zeros(nu: np.ndarray) -> np.ndarray:
    """Mask of modes that are zero within :data:`ZERO_MODE_REL_TOL` of the largest |ν|."""
    return np.abs(nu) <= ZERO_MODE_REL_TOL * float(np.max(np.abs(nu)))


def _split_modes(
    freqs_min_THz: Any,
    freqs_saddle_THz: Any,
    remove_translations: bool,
    periodic: bool,
    zero_tol_THz: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated (real ν at the minimum, real ν at the saddle, |ν| of the imaginary mode).

    The minimum's list is checked completely before the saddle's, and a mode is classified as
    zero, imaginary or real by |ν| relative to the largest mode of its list
    (:data:`ZERO_MODE_REL_TOL`), never by the sign of a numerically-zero eigenvalue, so the
    verdict and the list an error names do not depend on the last bits of the eigen-solver.
    """
    nu_min = _signed_THz(freqs_min_THz, "freqs_min_THz")
    nu_sad = _signed_THz(freqs_saddle_THz, "freqs_saddle_THz")
    if remove_translations:
        n_zero = 3 if periodic else 6
        tol = float(_positive(zero_tol_THz, "zero_tol_THz"))
        nu_min = _drop_zero_modes(nu_min, n_zero, tol, "freqs_min_THz")
        nu_sad = _drop_zero_modes(nu_sad, n_zero, tol, "freqs_saddle_THz")
    hint = "" if remove_translations else " (full 3N lists need remove_translations=True)"
    zero_min = _numerical_zeros(nu_min)
    if zero_min.any():
        raise InputError(
            f"freqs_min_THz: a minimum has only real, positive modes; got {int(zero_min.sum())} "
            f"zero modes (|ν| ≤ {ZERO_MODE_REL_TOL:g} × the largest, "
            f"{np.max(np.abs(nu_min)):.4g} THz){hint}"
        )
    if np.any(nu_min < 0):
        bad = nu_min[nu_min < 0]
        raise InputError(
            f"freqs_min_THz: a minimum has only real, positive modes; got {bad.size} imaginary: "
            f"{np.round(bad, 4).tolist()} THz"
        )
    zero_sad = _numerical_zeros(nu_sad)
    if zero_sad.any():
        raise InputError(
            f"freqs_saddle_THz: {int(zero_sad.sum())} zero modes at the saddle (|ν| ≤ "
            f"{ZERO_MODE_REL_TOL:g} × the largest, {np.max(np.abs(nu_sad)):.4g} THz){hint}"
        )
    n_imag = int(np.count_nonzero(nu_sad < 0))
    if n_imag != 1:
        raise InputError(
            f"freqs_saddle_THz: a first-order saddle has exactly one imaginary mode, found {n_imag}"
        )
    if nu_sad.size != nu_min.size:
        raise InputError(
            f"freqs_saddle_THz: wrong count: the minimum has {nu_min.size} modes, so the saddle "
            f"must list {nu_min.size} ({nu_min.size - 1} real + 1 imaginary), got {nu_sad.size}"
        )
    return nu_min, nu_sad[nu_sad > 0], float(-nu_sad[nu_sad < 0][0])


def vineyard_prefactor(
    freqs_min_THz: Sequence[float] | np.ndarray,
    freqs_saddle_THz: Sequence[float] | np.ndarray,
    *,
    remove_translations: bool = False,
    periodic: bool = True,
    zero_tol_THz: float = DEFAULT_ZERO_TOL_THZ,
) -> float:
    """Vineyard attempt frequency ν* = Π_{i=1}^{N} ν_i(min) / Π_{j=1}^{N−1} ν_j(saddle), in Hz.

    Harmonic TST (Vineyard, J. Phys. Chem. Solids 3, 121 (1957)): the ratio of the harmonic
    partition functions of the minimum and of the saddle with its unstable mode removed. The
    products are evaluated as sums of logarithms, so hundreds of modes do not overflow.

    Accepted shapes (imaginary modes given as negative numbers or as complex numbers whose
    imaginary part dominates, e.g. what ``ase.vibrations`` returns):

    * ``remove_translations=False`` (default): the lists hold only vibrations, N at the minimum
      (all real) and N at the saddle (N − 1 real + exactly 1 imaginary). That is the
      3N − 3 / 3N − 4 (+1) of a periodic cell with the translations already taken out, and also
      the **partial Hessian** of n atoms displaced in a frozen environment, where translations
      are not zero modes and all 3n modes are kept (3n real / 3n − 1 real + 1 imaginary).
    * ``remove_translations=True``: full 3N lists of every atom of the cell; the 3 modes of
      smallest |ν| (6 with ``periodic=False``: translations and rotations of a free cluster) are
      dropped from each list after checking that they are below ``zero_tol_THz``.

    Args:
        freqs_min_THz: Frequencies at the minimum in THz.
        freqs_saddle_THz: Frequencies at the saddle in THz, the imaginary one included.
        remove_translations: Whether the lists still contain the zero modes (see above).
        periodic: With ``remove_translations``, 3 zero modes (periodic cell) or 6 (free cluster).
        zero_tol_THz: Largest |ν| accepted as a zero mode.

    Returns:
        ν* in Hz.

    Raises:
        InputError: An imaginary or zero mode at the minimum, zero or several imaginary modes at
            the saddle, mismatched counts, or "zero" modes that are not near zero.

    Example:
        >>> # one hopping coordinate (5 THz) and two transverse modes that stiffen at the saddle
        >>> f"{vineyard_prefactor([5.0, 8.0, 8.0], [-3.0, 10.0, 10.0]):.3e}"
        '3.200e+12'
    """
    nu_min, nu_sad, _ = _split_modes(
        freqs_min_THz, freqs_saddle_THz, remove_translations, periodic, zero_tol_THz
    )
    log_thz = np.sum(np.log(nu_min)) - np.sum(np.log(nu_sad))
    return float(np.exp(log_thz) * HZ_PER_THZ)


def _check_hessian(hessian: Any, name: str) -> np.ndarray:
    h = np.asarray(hessian, dtype=float)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] == 0 or h.shape[0] % 3:
        raise InputError(f"{name}: expected a square (3n, 3n) matrix, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise InputError(f"{name}: contains non-finite entries")
    scale = max(float(np.max(np.abs(h))), 1e-300)
    if np.max(np.abs(h - h.T)) > 1e-3 * scale:
        raise InputError(
            f"{name}: the force-constant matrix is not symmetric (max |H − Hᵀ| = "
            f"{np.max(np.abs(h - h.T)):.3g} eV/Å², largest element {scale:.3g})"
        )
    return 0.5 * (h + h.T)


def _check_masses(masses_amu: Any, n_atoms: int) -> np.ndarray:
    m = np.asarray(masses_amu, dtype=float)
    if m.shape != (n_atoms,):
        raise InputError(f"masses_amu: expected {n_atoms} masses (one per atom), shape {m.shape}")
    if not np.all(np.isfinite(m)) or not np.all(m > 0):
        raise InputError(f"masses_amu: masses must be positive and finite, got {m.tolist()}")
    return m


def harmonic_frequencies_THz(hessian_eV_A2: Any, masses_amu: Any) -> np.ndarray:
    """Normal-mode frequencies of a force-constant matrix, imaginary ones as negative, in THz.

    ν_k = √λ_k / 2π with λ_k the eigenvalues of the mass-weighted Hessian
    D = M^{-1/2} H M^{-1/2} (H in eV/Å², masses in amu); a negative λ gives −√|λ|/2π.

    Args:
        hessian_eV_A2: (3n, 3n) symmetric matrix of second derivatives ∂²E/∂x∂y in eV/Å²,
            atoms in the order of ``masses_amu``, xyz fastest. It is used as (H + Hᵀ)/2; an
            asymmetry above 1e-3 of the largest element is refused as a mistake.
        masses_amu: n masses in amu.

    Returns:
        The 3n frequencies in THz, ascending (imaginary modes first).

    Raises:
        InputError: A non-square, non-symmetric or non-finite matrix or bad masses.

    Example:
        >>> import numpy as np   # one atom of 1 amu on a 1 eV/Å² spring (each axis)
        >>> np.round(harmonic_frequencies_THz(np.eye(3), [1.0]), 3)
        array([15.633, 15.633, 15.633])
    """
    h = _check_hessian(hessian_eV_A2, "hessian_eV_A2")
    m = _check_masses(masses_amu, h.shape[0] // 3)
    inv_sqrt = np.repeat(m**-0.5, 3)
    lam = np.linalg.eigvalsh(inv_sqrt[:, None] * h * inv_sqrt[None, :])
    omega = np.sign(lam) * np.sqrt(np.abs(lam)) * OMEGA_RAD_S_PER_SQRT_EV_A2_AMU
    return omega / (2.0 * math.pi) / HZ_PER_THZ


def vineyard_prefactor_from_hessians(
    hessian_min_eV_A2: Any,
    hessian_saddle_eV_A2: Any,
    masses_amu: Any,
    *,
    remove_translations: bool = False,
    periodic: bool = True,
    zero_tol_THz: float = DEFAULT_ZERO_TOL_THZ,
) -> float:
    """Vineyard prefactor (Hz) from force-constant matrices at the minimum and the saddle.

    The same atoms (same order, same masses) must be displaced in both matrices. With
    D = M^{-1/2} H M^{-1/2}, ν*² (2π)² = det D_min / |det' D_saddle| where det' omits the unstable
    eigenvalue; since det D = det H / det M, the masses cancel except through the unstable mode.

    Args:
        hessian_min_eV_A2: (3n, 3n) Hessian at the minimum, eV/Å².
        hessian_saddle_eV_A2: (3n, 3n) Hessian at the saddle, eV/Å².
        masses_amu: n masses in amu.
        remove_translations: The matrices cover every atom of a periodic cell (3 zero modes each);
            False for a partial Hessian (see :func:`vineyard_prefactor`).
        periodic: See :func:`vineyard_prefactor`.
        zero_tol_THz: See :func:`vineyard_prefactor`.

    Returns:
        ν* in Hz.

    Raises:
        InputError: Bad matrices or masses, or the mode counts of :func:`vineyard_prefactor`.

    Example:
        >>> import numpy as np   # a single atom: ν* is the frequency of the hopping coordinate
        >>> h_min, h_sad = np.diag([1.0, 2.0, 2.0]), np.diag([-1.0, 2.0, 2.0])
        >>> f"{vineyard_prefactor_from_hessians(h_min, h_sad, [1.0]):.4e}"
        '1.5633e+13'
    """
    h_min = _check_hessian(hessian_min_eV_A2, "hessian_min_eV_A2")
    h_sad = _check_hessian(hessian_saddle_eV_A2, "hessian_saddle_eV_A2")
    if h_min.shape != h_sad.shape:
        raise InputError(
            f"hessian_saddle_eV_A2: shape {h_sad.shape} differs from the minimum's {h_min.shape}"
        )
    return vineyard_prefactor(
        harmonic_frequencies_THz(h_min, masses_amu),
        harmonic_frequencies_THz(h_sad, masses_amu),
        remove_translations=remove_translations,
        periodic=periodic,
        zero_tol_THz=zero_tol_THz,
    )


QuantumMode = Literal["classical", "zpe", "full"]


def _quantum_mode(quantum: Any) -> QuantumMode:
    if quantum is False or quantum == "classical":
        return "classical"
    if quantum is True or quantum == "full":
        return "full"
    if quantum == "zpe":
        return "zpe"
    raise InputError(f"quantum: expected False, 'zpe', True or 'full', got {quantum!r}")


def _log_rate(
    nu_min: np.ndarray, nu_sad: np.ndarray, em_eV: float, t_K: float | None, mode: QuantumMode
) -> float:
    """ln(k / Hz) of harmonic TST from validated real frequencies (THz)."""
    log_nu = float(np.sum(np.log(nu_min)) - np.sum(np.log(nu_sad))) + math.log(HZ_PER_THZ)
    if mode == "classical":
        return log_nu if t_K is None else log_nu - em_eV / (BOLTZMANN_EV_K * t_K)
    assert t_K is not None
    kt = BOLTZMANN_EV_K * t_K
    if mode == "zpe":
        zpe = 0.5 * PLANCK_EV_S * HZ_PER_THZ * (np.sum(nu_sad) - np.sum(nu_min))
        return log_nu - (em_eV + zpe) / kt
    # full: k = (kT/h) Π_i 2 sinh(hν_i/2kT) / Π_j 2 sinh(hν_j/2kT) · exp(−E_m/kT)
    x_min = PLANCK_EV_S * HZ_PER_THZ * nu_min / kt
    x_sad = PLANCK_EV_S * HZ_PER_THZ * nu_sad / kt

    def log_2sinh_half(x: np.ndarray) -> float:  # ln(2 sinh(x/2)) = x/2 + ln(1 − e^{−x})
        return float(np.sum(0.5 * x + np.log(-np.expm1(-x))))

    return math.log(kt / PLANCK_EV_S) + log_2sinh_half(x_min) - log_2sinh_half(x_sad) - em_eV / kt


def harmonic_rate_Hz(
    freqs_min_THz: Sequence[float] | np.ndarray,
    freqs_saddle_THz: Sequence[float] | np.ndarray,
    migration_energy_eV: float,
    T_K: float,
    *,
    quantum: bool | QuantumMode = False,
    remove_translations: bool = False,
    periodic: bool = True,
    zero_tol_THz: float = DEFAULT_ZERO_TOL_THZ,
) -> float:
    """Harmonic-TST rate of one hop, classical or with quantum vibrations, in Hz.

    * ``quantum=False`` (classical): k = ν* exp(−E_m/k_BT) with the Vineyard ν*.
    * ``quantum="zpe"``: the barrier gains the zero-point-energy difference,
      ΔE_ZPE = Σ_{saddle, real} hν_j/2 − Σ_{min} hν_i/2, and k = ν* exp(−(E_m + ΔE_ZPE)/k_BT).
    * ``quantum=True`` or ``"full"``: quantum harmonic partition functions (Wert & Zener,
      Phys. Rev. 76, 1169 (1949); Vineyard 1957),
      k = (k_BT/h) Π_i 2 sinh(hν_i/2k_BT) / Π_j 2 sinh(hν_j/2k_BT) · exp(−E_m/k_BT),
      which tends to the classical rate for hν ≪ k_BT and contains the ZPE shift at low T.

    ``E_m`` is the classical (bottom-of-the-well) barrier. Arguments on the mode lists as in
    :func:`vineyard_prefactor`.

    Args:
        freqs_min_THz: Frequencies at the minimum, THz.
        freqs_saddle_THz: Frequencies at the saddle (one imaginary), THz.
        migration_energy_eV: Classical barrier E_m in eV (≥ 0).
        T_K: Temperature in K (> 0).
        quantum: False, ``"zpe"``, or True / ``"full"``.
        remove_translations: See :func:`vineyard_prefactor`.
        periodic: See :func:`vineyard_prefactor`.
        zero_tol_THz: See :func:`vineyard_prefactor`.

    Returns:
        k in Hz.

    Raises:
        InputError: Bad frequencies, barrier, temperature or ``quantum``.

    Example:
        >>> nu_min, nu_sad = [5.0, 8.0, 8.0], [-3.0, 10.0, 10.0]
        >>> def ratio(T):   # quantum / classical
        ...     q = harmonic_rate_Hz(nu_min, nu_sad, 0.3, T, quantum="full")
        ...     return q / harmonic_rate_Hz(nu_min, nu_sad, 0.3, T)
        >>> round(ratio(300.0), 3), round(ratio(1e5), 6)   # hν ≪ k_BT: the classical limit
        (0.953, 1.0)
    """
    mode = _quantum_mode(quantum)
    em = float(_non_negative(migration_energy_eV, "migration_energy_eV"))
    t = float(_positive(T_K, "T_K"))
    nu_min, nu_sad, _ = _split_modes(
        freqs_min_THz, freqs_saddle_THz, remove_translations, periodic, zero_tol_THz
    )
    return math.exp(_log_rate(nu_min, nu_sad, em, t, mode))


# ---------------------------------------------------------------------------------------------
# Nernst–Einstein with valence, Haven ratio
# ---------------------------------------------------------------------------------------------
def _valence(z: Any) -> float:
    zf = float(z)
    if not math.isfinite(zf) or zf == 0:
        raise InputError(f"z: the charge number must be finite and non-zero, got {z!r}")
    return zf


def nernst_einstein_conductivity(
    n_per_m3: float, z: float, D_m2_s: float | np.ndarray, T_K: float | np.ndarray
) -> float | np.ndarray:
    """Nernst–Einstein conductivity σ = n z² e² D_σ / (k_B T), in S/m.

    The charge enters **squared**: a divalent ion (z = 2) with the same n and D conducts
    4× a monovalent one, not 2× (the classic slip is writing 2e² for (2e)²). D_σ is the charge
    diffusivity; with the tracer diffusivity use :func:`conductivity_from_tracer` (D_σ = D*/H_R).
    Divide by 100 for S/cm (or use ``solidion.units.nernst_einstein_prefactor_S_cm``, the same
    relation per cell volume).

    Args:
        n_per_m3: Number density of mobile ions in m⁻³ (≥ 0).
        z: Charge number (sign irrelevant, non-zero).
        D_m2_s: Charge diffusivity D_σ in m²/s (≥ 0); scalar or array.
        T_K: Temperature in K (> 0); scalar or array.

    Returns:
        σ in S/m.

    Raises:
        InputError: A negative density or diffusivity, z = 0, or a non-positive temperature.

    Example:
        >>> round(nernst_einstein_conductivity(1e28, 1, 1e-12, 300.0), 5)
        0.06197
        >>> nernst_einstein_conductivity(1e28, 2, 1e-12, 300.0) / nernst_einstein_conductivity(
        ...     1e28, 1, 1e-12, 300.0)
        4.0
    """
    n = _non_negative(n_per_m3, "n_per_m3")
    zf = _valence(z)
    d = _non_negative(D_m2_s, "D_m2_s")
    t = _positive(T_K, "T_K")
    return _out(n * zf**2 * ELEMENTARY_CHARGE_C**2 * d / (BOLTZMANN_J_K * t))


def diffusivity_from_conductivity(
    sigma_S_m: float | np.ndarray, n_per_m3: float, z: float, T_K: float | np.ndarray
) -> float | np.ndarray:
    """Charge diffusivity from a conductivity, D_σ = σ k_B T / (n z² e²), in m²/s.

    The inverse of :func:`nernst_einstein_conductivity`.

    Args:
        sigma_S_m: Conductivity in S/m (≥ 0).
        n_per_m3: Number density of mobile ions in m⁻³ (> 0).
        z: Charge number (non-zero).
        T_K: Temperature in K (> 0).

    Returns:
        D_σ in m²/s.

    Raises:
        InputError: Negative σ, non-positive n or T, or z = 0.

    Example:
        >>> f"{diffusivity_from_conductivity(0.06197, 1e28, 1, 300.0):.4e}"
        '9.9992e-13'
    """
    s = _non_negative(sigma_S_m, "sigma_S_m")
    n = _positive(n_per_m3, "n_per_m3")
    zf = _valence(z)
    t = _positive(T_K, "T_K")
    return _out(s * BOLTZMANN_J_K * t / (n * zf**2 * ELEMENTARY_CHARGE_C**2))


def haven_ratio(D_tracer: float, D_sigma: float) -> float:
    """Haven ratio H_R = D* / D_σ (any common unit).

    H_R = 1 for independent ions; the vacancy mechanism gives H_R < 1 because the tracer's
    return jumps are correlated while the charge is not (Murch, Solid State Ionics 7, 177
    (1982)); H_R = f/f_I with f the tracer and f_I the physical correlation factor.

    Args:
        D_tracer: Tracer diffusivity D* (≥ 0).
        D_sigma: Charge diffusivity D_σ (> 0), same unit.

    Returns:
        H_R, dimensionless.

    Raises:
        InputError: A negative D* or non-positive D_σ.

    Example:
        >>> haven_ratio(3e-8, 1e-7)
        0.3
    """
    dt = float(_non_negative(D_tracer, "D_tracer"))
    ds = float(_positive(D_sigma, "D_sigma"))
    return dt / ds


def charge_diffusivity(D_tracer: float, haven_ratio: float) -> float:
    """Charge diffusivity D_σ = D* / H_R (same unit as D*).

    Args:
        D_tracer: Tracer diffusivity D* (≥ 0).
        haven_ratio: H_R (> 0).

    Returns:
        D_σ in the unit of ``D_tracer``.

    Raises:
        InputError: A negative D* or non-positive H_R.

    Example:
        >>> charge_diffusivity(3e-8, 0.3)
        1e-07
    """
    dt = float(_non_negative(D_tracer, "D_tracer"))
    hr = float(_positive(haven_ratio, "haven_ratio"))
    return dt / hr


def conductivity_from_tracer(
    n_per_m3: float, z: float, D_tracer_m2_s: float, T_K: float, haven_ratio: float = 1.0
) -> float:
    """Conductivity from a tracer diffusivity, σ = n z² e² D* / (H_R k_B T), in S/m.

    Args:
        n_per_m3: Number density of mobile ions in m⁻³ (≥ 0).
        z: Charge number (non-zero).
        D_tracer_m2_s: Tracer diffusivity D* in m²/s (≥ 0).
        T_K: Temperature in K (> 0).
        haven_ratio: H_R (> 0); 1 for uncorrelated ions.

    Returns:
        σ in S/m.

    Raises:
        InputError: As :func:`nernst_einstein_conductivity`, or a non-positive H_R.

    Example:
        >>> round(conductivity_from_tracer(1e28, 1, 0.5e-12, 300.0, haven_ratio=0.5), 5)
        0.06197
    """
    d_sigma = charge_diffusivity(D_tracer_m2_s, haven_ratio)
    return float(nernst_einstein_conductivity(n_per_m3, z, d_sigma, T_K))


# ---------------------------------------------------------------------------------------------
# isotope effect
# ---------------------------------------------------------------------------------------------
def _mass_pair(m_light: Any, m_heavy: Any) -> tuple[float, float]:
    ml = float(_positive(m_light, "m_light"))
    mh = float(_positive(m_heavy, "m_heavy"))
    if not mh > ml:
        raise InputError(f"m_heavy: must exceed m_light ({ml}), got {mh}")
    return ml, mh


def isotope_exponent(
    sigma_light: float,
    sigma_heavy: float,
    m_light: float = MASS_LI6_AMU,
    m_heavy: float = MASS_LI7_AMU,
) -> float:
    """Isotope-effect exponent α of σ ∝ M^{−α} from two measurements, α = ln(σ_l/σ_h)/ln(M_h/M_l).

    For ⁶Li/⁷Li (the defaults) α = ln(σ₆/σ₇) / ln(7.0160040/6.0151223). Classical single-particle
    hopping gives α = 1/2 (ν ∝ M^{−1/2}); collective hops and zero-point energy lower it.
    Any quantity proportional to the hop rate (D, σT) may stand in for σ.

    Args:
        sigma_light: Conductivity of the light-isotope sample (> 0).
        sigma_heavy: Conductivity of the heavy-isotope sample (> 0), same unit.
        m_light: Light isotope mass in amu (default ⁶Li).
        m_heavy: Heavy isotope mass in amu (default ⁷Li; > m_light).

    Returns:
        α, dimensionless.

    Raises:
        InputError: Non-positive conductivities or masses, or m_heavy ≤ m_light.

    Example:
        >>> round(isotope_exponent(1.08, 1.0), 3)   # σ6/σ7 = 1.08
        0.5
    """
    sl = float(_positive(sigma_light, "sigma_light"))
    sh = float(_positive(sigma_heavy, "sigma_heavy"))
    ml, mh = _mass_pair(m_light, m_heavy)
    return math.log(sl / sh) / math.log(mh / ml)


def _isotope_mask(isotope_atoms: Any, n_atoms: int) -> np.ndarray:
    sel = np.asarray(isotope_atoms)
    if sel.dtype == bool:
        if sel.shape != (n_atoms,):
            raise InputError(
                f"isotope_atoms: a boolean mask needs {n_atoms} entries, shape {sel.shape}"
            )
        mask = sel.copy()
    else:
        idx = np.atleast_1d(sel)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise InputError(
                f"isotope_atoms: expected an index, a list of indices or a mask, got {isotope_atoms!r}"
            )
        if np.any(idx < -n_atoms) or np.any(idx >= n_atoms):
            raise InputError(
                f"isotope_atoms: index out of range for {n_atoms} atoms: {idx.tolist()}"
            )
        mask = np.zeros(n_atoms, dtype=bool)
        mask[idx] = True
    if not mask.any():
        raise InputError("isotope_atoms: selects no atom")
    return mask


def predicted_isotope_exponent(
    hessian_min_eV_A2: Any,
    hessian_saddle_eV_A2: Any,
    masses_amu: Any,
    isotope_atoms: int | Sequence[int] | np.ndarray,
    m_light: float = MASS_LI6_AMU,
    m_heavy: float = MASS_LI7_AMU,
    *,
    T_K: float | None = None,
    quantum: bool | QuantumMode = False,
    remove_translations: bool = False,
    periodic: bool = True,
    zero_tol_THz: float = DEFAULT_ZERO_TOL_THZ,
) -> float:
    """Isotope exponent α = ln(k_l/k_h)/ln(M_h/M_l) predicted from harmonic force constants.

    The force constants do not depend on the masses (Born–Oppenheimer), so the same Hessians
    with the selected atoms' masses set to ``m_light`` and then ``m_heavy`` give two hop rates;
    the barrier E_m cancels in the ratio.

    * classical (``quantum=False``): the ratio of Vineyard prefactors. Since
      ν*² (2π)² = det H_min / |det' H_saddle| · |λ_u| with λ_u the unstable eigenvalue of the
      mass-weighted saddle Hessian, only the unstable mode carries mass dependence, and
      α = ΔK/2 with ΔK ∈ (0, 1] the share of that mode's kinetic energy on the substituted atoms
      (Mehrer 2007, ch. 9): exactly 1/2 when only substituted atoms move in it.
    * ``quantum="zpe"``: adds ΔE_ZPE(M) = Σ_saddle hν/2 − Σ_min hν/2 to the barrier; α < 1/2
      when the saddle's transverse modes are stiffer than the minimum's (ΔE_ZPE > 0, larger for
      the light isotope), α > 1/2 when they soften.
    * ``quantum=True``/``"full"``: quantum harmonic partition functions (see
      :func:`harmonic_rate_Hz`).

    Args:
        hessian_min_eV_A2: (3n, 3n) Hessian at the minimum, eV/Å².
        hessian_saddle_eV_A2: (3n, 3n) Hessian at the saddle, eV/Å², same atoms.
        masses_amu: The n masses in amu (those of unselected atoms are kept).
        isotope_atoms: Which of the n atoms are substituted: an index, indices, or a bool mask.
        m_light: Light isotope mass in amu (default ⁶Li).
        m_heavy: Heavy isotope mass in amu (default ⁷Li).
        T_K: Temperature in K; required unless classical.
        quantum: False, ``"zpe"``, or True / ``"full"``.
        remove_translations: See :func:`vineyard_prefactor`.
        periodic: See :func:`vineyard_prefactor`.
        zero_tol_THz: See :func:`vineyard_prefactor`.

    Returns:
        α, dimensionless.

    Raises:
        InputError: Bad matrices, masses, selection or temperature; mode-count errors.

    Example:
        >>> import numpy as np   # one Li, nothing else moves: exactly 1/2
        >>> h_min, h_sad = np.diag([2.7, 2.7, 2.7]), np.diag([-1.0, 8.0, 8.0])
        >>> round(predicted_isotope_exponent(h_min, h_sad, [6.94], 0), 12)
        0.5
    """
    mode = _quantum_mode(quantum)
    t: float | None = None
    if mode != "classical":
        if T_K is None:
            raise InputError(f"T_K: a temperature is required with quantum={quantum!r}")
        t = float(_positive(T_K, "T_K"))
    elif T_K is not None:
        t = float(_positive(T_K, "T_K"))
    ml, mh = _mass_pair(m_light, m_heavy)
    h_min = _check_hessian(hessian_min_eV_A2, "hessian_min_eV_A2")
    h_sad = _check_hessian(hessian_saddle_eV_A2, "hessian_saddle_eV_A2")
    if h_min.shape != h_sad.shape:
        raise InputError(
            f"hessian_saddle_eV_A2: shape {h_sad.shape} differs from the minimum's {h_min.shape}"
        )
    n = h_min.shape[0] // 3
    masses = _check_masses(masses_amu, n)
    mask = _isotope_mask(isotope_atoms, n)
    log_k = []
    for m in (ml, mh):
        mm = masses.copy()
        mm[mask] = m
        nu_min, nu_sad, _ = _split_modes(
            harmonic_frequencies_THz(h_min, mm),
            harmonic_frequencies_THz(h_sad, mm),
            remove_translations,
            periodic,
            zero_tol_THz,
        )
        log_k.append(_log_rate(nu_min, nu_sad, 0.0, t, mode))
    return (log_k[0] - log_k[1]) / math.log(mh / ml)


def collective_isotope_exponent(
    m_light: float = MASS_LI6_AMU,
    m_heavy: float = MASS_LI7_AMU,
    *,
    n_substituted: int = 1,
    partner_mass_amu: float = 0.0,
    correlation_factor: float = 1.0,
) -> float:
    """Isotope exponent of a collective hop in the effective-mass picture.

    If n substituted ions move together with partners of total mass M (all with the same
    displacement along the unstable mode), the attempt frequency scales as ν ∝ m_eff^{−1/2}
    with m_eff = n·m + M, so

        α = f · ln[(n m_h + M)/(n m_l + M)] / (2 ln(m_h/m_l)).

    To first order in the mass difference this is α = f ΔK / 2 with ΔK = n m/(n m + M) the
    kinetic-energy factor of Mehrer (*Diffusion in Solids*, 2007, ch. 9: isotope effect
    E = f ΔK ≈ 2α). α = 1/2 when only the ion(s) being substituted move (M = 0), whatever n is
    (a concerted hop of n identical isotopes still scales as M^{−1/2}); heavier unsubstituted
    partners lower it. Keep ``correlation_factor=1`` when comparing isotopically pure samples
    (σ₆ vs σ₇: f does not depend on mass); f enters for two tracers in one matrix.
    Unequal displacements are handled exactly by :func:`predicted_isotope_exponent`.

    Args:
        m_light: Light isotope mass in amu (default ⁶Li).
        m_heavy: Heavy isotope mass in amu (default ⁷Li).
        n_substituted: Number of substituted ions moving in the hop (≥ 1).
        partner_mass_amu: Total mass of the unsubstituted atoms moving with them (≥ 0).
        correlation_factor: f in [0, 1].

    Returns:
        α, dimensionless.

    Raises:
        InputError: Bad masses, n < 1, a negative partner mass or f outside [0, 1].

    Example:
        >>> collective_isotope_exponent()   # a lone Li
        0.5
        >>> round(collective_isotope_exponent(partner_mass_amu=7.0), 3)   # drags 7 amu along
        0.241
    """
    ml, mh = _mass_pair(m_light, m_heavy)
    if isinstance(n_substituted, bool) or int(n_substituted) != n_substituted or n_substituted < 1:
        raise InputError(f"n_substituted: must be a positive integer, got {n_substituted!r}")
    big_m = float(_non_negative(partner_mass_amu, "partner_mass_amu"))
    f = _correlation(correlation_factor)
    n = int(n_substituted)
    return f * math.log((n * mh + big_m) / (n * ml + big_m)) / (2.0 * math.log(mh / ml))


# ---------------------------------------------------------------------------------------------
# NEB + vibrations from a potential
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HopResult:
    """One hop computed from a potential by :func:`hop_from_potential`.

    The harmonic quantities (frequencies, prefactor, Hessians) refer to the atoms within
    ``neighbour_radius_A`` of the hopping ion; ``prefactor_by_radius_Hz`` gives ν* for every
    radius tried, to judge convergence.

    Attributes:
        migration_energy_eV: E_m = E(saddle) − E(initial), relaxed endpoints.
        reverse_migration_energy_eV: E(saddle) − E(final).
        prefactor_Hz: Vineyard ν* at ``neighbour_radius_A``.
        frequencies_min_THz: Modes at the minimum (after removing translations if
            ``translations_removed``), ascending.
        frequencies_saddle_THz: Modes at the saddle, the imaginary one as a negative number.
        n_imaginary_saddle: Number of imaginary modes at the saddle (1 for a first-order saddle).
        n_imaginary_min: Number of imaginary modes at the minimum (0 for a true minimum).
        prefactor_by_radius_Hz: Radius (Å) → ν* (Hz); NaN where the counts were wrong and
            ``require_first_order=False``.
        n_atoms_by_radius: Radius (Å) → number of displaced atoms.
        hopping_index: Index of the hopping ion in the input Atoms.
        hop_length_A: Its displacement between the relaxed endpoints (minimum image); shorter
            than the lattice jump distance when the endpoints relax toward the defect.
        neighbour_radius_A: The radius of the reported harmonic quantities.
        translations_removed: Whether the 3 zero modes were removed (Hessian over all atoms of a
            periodic cell) or not (partial Hessian).
        hessian_indices: Indices (into the input Atoms) of the displaced atoms, hopping ion first.
        hessian_numbers: Their atomic numbers.
        masses_amu: Their masses.
        hessian_min_eV_A2: (3n, 3n) force constants at the minimum (not mass-weighted), eV/Å².
        hessian_saddle_eV_A2: (3n, 3n) force constants at the saddle, eV/Å².
        neb_energies_eV: Band energies relative to the initial state, endpoint to endpoint.
        saddle_image: Index of the climbing image in the band.
        delta_A: Finite-difference displacement used for the Hessians.
        images: The converged band (copies without calculators); not part of ``to_dict``.
    """

    migration_energy_eV: float
    reverse_migration_energy_eV: float
    prefactor_Hz: float
    frequencies_min_THz: np.ndarray
    frequencies_saddle_THz: np.ndarray
    n_imaginary_saddle: int
    n_imaginary_min: int
    prefactor_by_radius_Hz: dict[float, float]
    n_atoms_by_radius: dict[float, int]
    hopping_index: int
    hop_length_A: float
    neighbour_radius_A: float
    translations_removed: bool
    hessian_indices: tuple[int, ...]
    hessian_numbers: tuple[int, ...]
    masses_amu: np.ndarray
    hessian_min_eV_A2: np.ndarray = field(repr=False)
    hessian_saddle_eV_A2: np.ndarray = field(repr=False)
    neb_energies_eV: tuple[float, ...] = ()
    saddle_image: int = -1
    delta_A: float = 0.01
    images: tuple[Atoms, ...] = field(default=(), repr=False)

    def rate_Hz(self, T_K: float | np.ndarray) -> float | np.ndarray:
        """Rate of this one hop, k = ν* exp(−E_m/k_BT), in Hz (see :func:`tst_rate`)."""
        return tst_rate(self.prefactor_Hz, self.migration_energy_eV, T_K)

    def diffusivity_cm2_s(
        self,
        T_K: float | np.ndarray,
        hop_length_A: float,
        correlation_factor: float = 1.0,
        dimensionality: int = 3,
        *,
        n_neighbour_sites: int,
    ) -> float | np.ndarray:
        """Random-walk diffusivity D = Γ a² f / (2d) of a walker making only this hop, cm²/s.

        Γ = z·k is the total rate of leaving a site, z = ``n_neighbour_sites`` equivalent target
        sites each at the rate k of :meth:`rate_Hz` (a vacancy in fcc: z = 12). With f = 1 this
        is the diffusivity of the carrier itself (the vacancy or interstitial); the tracer
        diffusivity of the host ions by a vacancy mechanism is f × this × the vacancy site
        fraction.

        Args:
            T_K: Temperature in K.
            hop_length_A: Jump length a in Å: the site-to-site distance of the lattice (the
                relaxed displacement :attr:`hop_length_A` is shorter when the endpoints relax
                toward the defect).
            correlation_factor: f in [0, 1].
            dimensionality: d = 1, 2 or 3.
            n_neighbour_sites: z, the number of equivalent target sites (≥ 1).

        Returns:
            D in cm²/s.

        Raises:
            InputError: Bad temperature, length, f, d or z.
        """
        if isinstance(n_neighbour_sites, bool) or int(n_neighbour_sites) != n_neighbour_sites:
            raise InputError(f"n_neighbour_sites: must be an integer, got {n_neighbour_sites!r}")
        if n_neighbour_sites < 1:
            raise InputError(f"n_neighbour_sites: must be ≥ 1, got {n_neighbour_sites!r}")
        gamma = np.asarray(self.rate_Hz(T_K)) * int(n_neighbour_sites)
        return random_walk_diffusivity(
            _out(gamma), hop_length_A, correlation_factor, dimensionality
        )

    def isotope_exponent(
        self,
        m_light: float,
        m_heavy: float,
        *,
        substitute: Literal["hopping", "element"] = "hopping",
        T_K: float | None = None,
        quantum: bool | QuantumMode = False,
    ) -> float:
        """Predicted isotope exponent with the stored force constants and substituted masses.

        Args:
            m_light: Light isotope mass in amu.
            m_heavy: Heavy isotope mass in amu.
            substitute: ``"hopping"``: only the hopping ion changes mass (a tracer in a matrix;
                α < 1/2 when neighbours share the unstable mode); ``"element"``: every displaced
                atom of its element (isotopically pure samples).
            T_K: Temperature in K (needed when quantum).
            quantum: As in :func:`predicted_isotope_exponent`.

        Returns:
            α, dimensionless.
        """
        numbers = np.asarray(self.hessian_numbers)
        if substitute == "hopping":
            sel: Any = 0
        elif substitute == "element":
            sel = numbers == numbers[0]
        else:
            raise InputError(f"substitute: expected 'hopping' or 'element', got {substitute!r}")
        return predicted_isotope_exponent(
            self.hessian_min_eV_A2,
            self.hessian_saddle_eV_A2,
            self.masses_amu,
            sel,
            m_light,
            m_heavy,
            T_K=T_K,
            quantum=quantum,
            remove_translations=self.translations_removed,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field but ``images`` (radii as strings in the maps)."""

        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "migration_energy_eV": self.migration_energy_eV,
            "reverse_migration_energy_eV": self.reverse_migration_energy_eV,
            "prefactor_Hz": num(self.prefactor_Hz),
            "frequencies_min_THz": [float(x) for x in self.frequencies_min_THz],
            "frequencies_saddle_THz": [float(x) for x in self.frequencies_saddle_THz],
            "n_imaginary_saddle": self.n_imaginary_saddle,
            "n_imaginary_min": self.n_imaginary_min,
            "prefactor_by_radius_Hz": {
                str(float(r)): num(v) for r, v in self.prefactor_by_radius_Hz.items()
            },
            "n_atoms_by_radius": {str(float(r)): n for r, n in self.n_atoms_by_radius.items()},
            "hopping_index": self.hopping_index,
            "hop_length_A": self.hop_length_A,
            "neighbour_radius_A": self.neighbour_radius_A,
            "translations_removed": self.translations_removed,
            "hessian_indices": list(self.hessian_indices),
            "hessian_numbers": list(self.hessian_numbers),
            "masses_amu": [float(x) for x in self.masses_amu],
            "hessian_min_eV_A2": np.asarray(self.hessian_min_eV_A2).tolist(),
            "hessian_saddle_eV_A2": np.asarray(self.hessian_saddle_eV_A2).tolist(),
            "neb_energies_eV": list(self.neb_energies_eV),
            "saddle_image": self.saddle_image,
            "delta_A": self.delta_A,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HopResult:
        """Inverse of :meth:`to_dict` (without the band images)."""

        def num(x: float | None) -> float:
            return float("nan") if x is None else float(x)

        return cls(
            migration_energy_eV=float(d["migration_energy_eV"]),
            reverse_migration_energy_eV=float(d["reverse_migration_energy_eV"]),
            prefactor_Hz=num(d["prefactor_Hz"]),
            frequencies_min_THz=np.asarray(d["frequencies_min_THz"], dtype=float),
            frequencies_saddle_THz=np.asarray(d["frequencies_saddle_THz"], dtype=float),
            n_imaginary_saddle=int(d["n_imaginary_saddle"]),
            n_imaginary_min=int(d["n_imaginary_min"]),
            prefactor_by_radius_Hz={
                float(r): num(v) for r, v in d["prefactor_by_radius_Hz"].items()
            },
            n_atoms_by_radius={float(r): int(v) for r, v in d["n_atoms_by_radius"].items()},
            hopping_index=int(d["hopping_index"]),
            hop_length_A=float(d["hop_length_A"]),
            neighbour_radius_A=float(d["neighbour_radius_A"]),
            translations_removed=bool(d["translations_removed"]),
            hessian_indices=tuple(int(i) for i in d["hessian_indices"]),
            hessian_numbers=tuple(int(i) for i in d["hessian_numbers"]),
            masses_amu=np.asarray(d["masses_amu"], dtype=float),
            hessian_min_eV_A2=np.asarray(d["hessian_min_eV_A2"], dtype=float),
            hessian_saddle_eV_A2=np.asarray(d["hessian_saddle_eV_A2"], dtype=float),
            neb_energies_eV=tuple(float(e) for e in d["neb_energies_eV"]),
            saddle_image=int(d["saddle_image"]),
            delta_A=float(d["delta_A"]),
        )


def _check_endpoints(initial: Any, final: Any) -> None:
    from ase import Atoms

    for name, atoms in (("initial", initial), ("final", final)):
        if not isinstance(atoms, Atoms):
            raise InputError(f"{name}: expected an ase.Atoms, got {type(atoms).__name__}")
        if len(atoms) == 0:
            raise InputError(f"{name}: no atoms")
    if len(initial) != len(final):
        raise InputError(f"final: {len(final)} atoms, the initial state has {len(initial)}")
    if np.any(initial.numbers != final.numbers):
        raise InputError("final: the atoms differ in species or order from the initial state")
    if np.any(initial.pbc != final.pbc):
        raise InputError("final: boundary conditions differ from the initial state")
    if not np.allclose(initial.cell.array, final.cell.array, atol=1e-8):
        raise InputError("final: the cell differs from the initial state (fixed-cell NEB)")


def _mic_vectors(atoms: Atoms, vectors: np.ndarray) -> np.ndarray:
    from ase.geometry import find_mic

    if not np.any(atoms.pbc):
        return vectors
    return find_mic(vectors, atoms.cell, atoms.pbc)[0]


def _calculator_factory(calculator: Any) -> Callable[[], Calculator]:
    """A function returning the calculator for one image (a new one where that is possible)."""
    from ase.calculators.calculator import BaseCalculator

    from solidion import potentials

    if calculator is None or isinstance(calculator, (str, PathLike)):
        spec = "chgnet" if calculator is None else calculator
        potentials.load_model(spec)  # load (and validate) once; each get() shares that model
        return lambda: potentials.get(spec)
    if isinstance(calculator, BaseCalculator):
        return lambda: calculator
    if callable(calculator):

        def make() -> Calculator:
            calc = calculator()
            if not isinstance(calc, BaseCalculator):
                raise InputError(
                    f"calculator: the factory returned {type(calc).__name__}, not a calculator"
                )
            return calc

        return make
    raise InputError(
        "calculator: expected an ASE calculator, a calculator class or factory, a potential name "
        f"or None, got {type(calculator).__name__}"
    )


def _optimizer(name: str) -> Any:
    from ase.optimize import BFGS, FIRE

    table = {"BFGS": BFGS, "FIRE": FIRE}
    if name not in table:
        raise InputError(f"optimizer: expected one of {', '.join(table)}, got {name!r}")
    return table[name]


def _hessian(atoms: Atoms, calc: Calculator, indices: list[int], delta: float, tmp: Path) -> Any:
    """Central-difference force constants (eV/Å²) over ``indices`` with ``ase.vibrations``."""
    from ase.vibrations import Vibrations

    work = atoms.copy()
    work.calc = calc
    vib = Vibrations(work, indices=indices, name=str(tmp), delta=delta, nfree=2)
    vib.run()
    return np.asarray(vib.get_vibrations().get_hessian_2d(), dtype=float)


def hop_from_potential(
    initial: Atoms,
    final: Atoms,
    calculator: Calculator | str | PathLike[str] | Callable[[], Calculator] | None = None,
    *,
    hopping_index: int | None = None,
    n_images: int = 5,
    fmax: float = 0.05,
    max_steps: int = 500,
    optimizer: Literal["BFGS", "FIRE"] = "BFGS",
    spring_constant_eV_A2: float = 0.1,
    relax_endpoints: bool = True,
    radii_A: Sequence[float] = (3.0, 4.0, 5.0),
    neighbour_radius_A: float | None = None,
    delta_A: float = 0.01,
    remove_translations: bool | None = None,
    zero_tol_THz: float = DEFAULT_ZERO_TOL_THZ,
    require_first_order: bool = True,
    perturb_A: float = 0.0,
    rng: int | np.random.Generator | None = None,
) -> HopResult:
    """Barrier, saddle and Vineyard prefactor of one hop from any ASE calculator.

    Steps:

    1. relax both endpoints at fixed cell (positions only) to ``fmax``;
    2. find the saddle with the climbing-image nudged elastic band (Henkelman, Uberuaga &
       Jónsson, J. Chem. Phys. 113, 9901 (2000)) in ``ase.mep.NEB``: ``n_images`` interior
       images from IDPP interpolation (Smidstrup et al., J. Chem. Phys. 140, 214106 (2014)),
       improved tangents, first relaxed without climbing to max(5·fmax, 0.25) eV/Å, then with
       the highest image climbing to ``fmax``;
    3. build central-difference Hessians (``ase.vibrations.Vibrations``, step ``delta_A``) at the
       initial minimum and at the saddle, displacing the hopping ion and every atom within the
       largest radius of it (minimum-image distance, in the initial or the saddle geometry);
    4. for every radius, take the sub-Hessian of the atoms within it (identical to a separate
       finite-difference run over those atoms, since each displacement is independent) and
       evaluate ν* = Π ν(min) / Π' ν(saddle).

    With a subset of atoms displaced in a frozen environment (partial Hessian) translations are
    not zero modes, and all 3n modes are kept: 3n real at the minimum, 3n − 1 real + 1 imaginary
    at the saddle. When the subset is every atom of a fully periodic cell, the three translations
    are zero modes and are removed (``remove_translations=None`` decides this automatically;
    pass False for a potential that is not translation-invariant, e.g. an external field).

    Args:
        initial: Initial state (not modified); the cell and species order define the system.
        final: Final state, same atoms in the same order, same cell.
        calculator: None for CHGNet (``potentials.get("chgnet")``); a potential name or checkpoint
            path for :func:`solidion.potentials.get`; an ASE calculator instance, then shared by
            all images (correct, but a calculator that caches neighbour lists rebuilds them at
            every image); or a calculator class/factory such as ``EMT``, called once per image.
            Names and factories give every image its own calculator.
        hopping_index: The hopping ion; default the atom that moves most between the endpoints.
        n_images: Interior NEB images (≥ 1).
        fmax: Force tolerance in eV/Å for the endpoint relaxations and the climbing NEB.
        max_steps: Step limit of each optimisation.
        optimizer: ``"BFGS"`` or ``"FIRE"`` (ase.optimize).
        spring_constant_eV_A2: NEB spring constant.
        relax_endpoints: Relax the endpoints first (recommended; False if they are relaxed).
        radii_A: Radii (Å) of the neighbourhoods to displace, for the convergence table.
        neighbour_radius_A: Radius of the reported harmonic quantities; default max(radii_A).
        delta_A: Finite-difference displacement in Å.
        remove_translations: See above.
        zero_tol_THz: Largest |ν| accepted for the removed translations (THz).
        require_first_order: Raise :class:`~solidion.errors.AnalysisError` when, at some radius,
            the minimum has an imaginary mode or the saddle does not have exactly one; with False
            the prefactor is NaN there and the counts are reported.
        perturb_A: Displace the hopping ion of every interior image by this distance (Å) in a
            random direction perpendicular to the hop after the interpolation. A straight,
            symmetric path can be a second-order saddle (the ion squeezing between two anions
            would rather go round them); by symmetry an unperturbed band stays on it, and the
            saddle Hessian then shows two imaginary modes. 0.05 Å is enough to let it go.
        rng: Seed or generator for ``perturb_A``.

    Returns:
        A :class:`HopResult`.

    Raises:
        InputError: Inconsistent endpoints or bad options.
        AnalysisError: An optimisation that does not converge in ``max_steps``, a barrier that is
            not above both endpoints, or (with ``require_first_order``) wrong mode counts.
    """
    from ase.mep import NEB

    _check_endpoints(initial, final)
    if isinstance(n_images, bool) or int(n_images) != n_images or n_images < 1:
        raise InputError(f"n_images: must be a positive integer, got {n_images!r}")
    fmax = float(_positive(fmax, "fmax"))
    delta_A = float(_positive(delta_A, "delta_A"))
    spring = float(_positive(spring_constant_eV_A2, "spring_constant_eV_A2"))
    zero_tol = float(_positive(zero_tol_THz, "zero_tol_THz"))
    perturb = float(_non_negative(perturb_A, "perturb_A"))
    gen = np.random.default_rng(rng)
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
        raise InputError(f"max_steps: must be a positive integer, got {max_steps!r}")
    radii = sorted({float(r) for r in _positive(np.atleast_1d(radii_A), "radii_A")})
    report_r = (
        radii[-1]
        if neighbour_radius_A is None
        else float(_positive(neighbour_radius_A, "neighbour_radius_A"))
    )
    radii = sorted({*radii, report_r})
    opt_cls = _optimizer(optimizer)
    new_calc = _calculator_factory(calculator)
    calc = new_calc()

    # 1. endpoints
    ends = []
    for name, src in (("initial", initial), ("final", final)):
        atoms = src.copy()
        atoms.calc = calc
        if relax_endpoints:
            opt = opt_cls(atoms, logfile=None)
            if not opt.run(fmax=fmax, steps=int(max_steps)):
                raise AnalysisError(
                    f"{name}: the relaxation did not reach fmax={fmax} eV/Å in {max_steps} steps"
                )
        ends.append(atoms)
    a0, a1 = ends
    disp = np.linalg.norm(_mic_vectors(a0, a1.positions - a0.positions), axis=1)
    if hopping_index is None:
        hop = int(np.argmax(disp))
    else:
        if isinstance(hopping_index, bool) or not (0 <= int(hopping_index) < len(a0)):
            raise InputError(f"hopping_index: must be in [0, {len(a0)}), got {hopping_index!r}")
        hop = int(hopping_index)
    hop_length = float(disp[hop])
    if hop_length < 0.1:
        raise InputError(
            f"final: the hopping ion (index {hop}) moves only {hop_length:.3g} Å between the "
            "relaxed endpoints; the endpoints are the same state"
        )

    # 2. climbing-image NEB
    images = [a0] + [a0.copy() for _ in range(int(n_images))] + [a1]
    for im in images[1:-1]:
        im.calc = new_calc()
    shared = len({id(im.calc) for im in images}) < len(images)
    neb = NEB(
        images, k=spring, climb=False, method="improvedtangent", allow_shared_calculator=shared
    )
    neb.interpolate(method="idpp", mic=bool(np.any(a0.pbc)))
    if perturb > 0:
        # push the hopping ion off the (often symmetric) interpolated line, perpendicular to the
        # hop, so the band can leave a higher-order saddle that symmetry alone would keep it on
        hop_dir = _mic_vectors(a0, a1.positions[[hop]] - a0.positions[[hop]])[0]
        hop_dir = hop_dir / np.linalg.norm(hop_dir)
        for im in images[1:-1]:
            kick = gen.normal(size=3)
            kick -= (kick @ hop_dir) * hop_dir
            im.positions[hop] += perturb * kick / np.linalg.norm(kick)
    opt_cls(neb, logfile=None).run(fmax=max(5.0 * fmax, 0.25), steps=int(max_steps))
    neb.climb = True
    if not opt_cls(neb, logfile=None).run(fmax=fmax, steps=int(max_steps)):
        raise AnalysisError(
            f"NEB: the climbing-image band did not reach fmax={fmax} eV/Å in {max_steps} steps"
        )
    energies = np.array([im.get_potential_energy() for im in images])
    i_sad = int(np.argmax(energies[1:-1])) + 1
    em = float(energies[i_sad] - energies[0])
    em_rev = float(energies[i_sad] - energies[-1])
    if not (em > 0 and em_rev > 0):
        raise AnalysisError(
            f"NEB: the highest image is not above both endpoints (E_m = {em:.4g} eV, reverse "
            f"{em_rev:.4g} eV); the endpoints may not be distinct minima"
        )
    saddle = images[i_sad]

    # 3. neighbourhoods and finite-difference Hessians
    r_max = radii[-1]
    dist = np.minimum(
        np.linalg.norm(_mic_vectors(a0, a0.positions - a0.positions[hop]), axis=1),
        np.linalg.norm(_mic_vectors(saddle, saddle.positions - saddle.positions[hop]), axis=1),
    )
    dist[hop] = 0.0
    order = [hop] + [int(i) for i in np.argsort(dist, kind="stable") if i != hop]
    order = [i for i in order if dist[i] <= r_max]
    with tempfile.TemporaryDirectory(prefix="solidion-vib-") as tmp:
        h_min_all = _hessian(a0, calc, order, delta_A, Path(tmp) / "min")
        h_sad_all = _hessian(saddle, calc, order, delta_A, Path(tmp) / "saddle")
    masses_all = a0.get_masses()[order]
    full_periodic = len(order) == len(a0) and bool(np.all(a0.pbc))

    # 4. prefactor per radius
    by_radius: dict[float, float] = {}
    n_by_radius: dict[float, int] = {}
    reported: dict[str, Any] = {}
    for r in radii:
        k = [j for j, i in enumerate(order) if dist[i] <= r]
        dof = np.ravel([[3 * j, 3 * j + 1, 3 * j + 2] for j in k])
        h_min, h_sad = h_min_all[np.ix_(dof, dof)], h_sad_all[np.ix_(dof, dof)]
        masses = masses_all[k]
        remove = (
            (len(k) == len(a0) and full_periodic)
            if remove_translations is None
            else bool(remove_translations)
        )
        nu_min = harmonic_frequencies_THz(h_min, masses)
        nu_sad = harmonic_frequencies_THz(h_sad, masses)
        if remove:
            try:
                nu_min = _drop_zero_modes(nu_min, 3, zero_tol, "frequencies at the minimum")
                nu_sad = _drop_zero_modes(nu_sad, 3, zero_tol, "frequencies at the saddle")
            except InputError as exc:
                raise AnalysisError(f"radius {r:g} Å: {exc}") from exc
        n_im_min = int(np.count_nonzero(nu_min <= 0))
        n_im_sad = int(np.count_nonzero(nu_sad < 0))
        if n_im_min == 0 and n_im_sad == 1:
            nu_star = vineyard_prefactor(nu_min, nu_sad)
        elif require_first_order:
            raise AnalysisError(
                f"radius {r:g} Å: {n_im_min} imaginary mode(s) at the minimum and {n_im_sad} at "
                f"the saddle (expected 0 and 1); lowest modes: minimum "
                f"{np.round(nu_min[:3], 3).tolist()} THz, saddle {np.round(nu_sad[:3], 3).tolist()}"
                " THz. Tighten fmax, add images, break the symmetry of a straight path with "
                "perturb_A, or pass require_first_order=False to inspect"
            )
        else:
            nu_star = float("nan")
        by_radius[r] = nu_star
        n_by_radius[r] = len(k)
        if r == report_r:
            reported = {
                "prefactor_Hz": nu_star,
                "frequencies_min_THz": nu_min,
                "frequencies_saddle_THz": nu_sad,
                "n_imaginary_saddle": n_im_sad,
                "n_imaginary_min": n_im_min,
                "translations_removed": remove,
                "hessian_indices": tuple(order[j] for j in k),
                "hessian_numbers": tuple(int(a0.numbers[order[j]]) for j in k),
                "masses_amu": masses,
                "hessian_min_eV_A2": h_min,
                "hessian_saddle_eV_A2": h_sad,
            }

    return HopResult(
        migration_energy_eV=em,
        reverse_migration_energy_eV=em_rev,
        prefactor_by_radius_Hz=by_radius,
        n_atoms_by_radius=n_by_radius,
        hopping_index=hop,
        hop_length_A=hop_length,
        neighbour_radius_A=report_r,
        neb_energies_eV=tuple(float(e - energies[0]) for e in energies),
        saddle_image=i_sad,
        delta_A=delta_A,
        images=tuple(im.copy() for im in images),
        **reported,
    )

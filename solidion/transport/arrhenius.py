"""Arrhenius fits of diffusivity or conductivity, with extrapolation and propagated errors.

.. math::  D(T) = D_0 \\exp(-E_a / k_B T) \\qquad\\text{or}\\qquad
           \\sigma T = A \\exp(-E_a / k_B T)

A weighted least-squares line is fitted to ln y against 1/T, with weights 1/σ_ln y² where
σ_ln y = stderr / value (first-order propagation). The parameter covariance comes from those
stated errors (absolute sigma), so an extrapolation to any T — 300 K by default — carries the
full covariance of intercept and slope: var(ln y(T)) = var(a) + var(b)/T² + 2 cov(a, b)/T.
For σ the fit is of ln(σT) (the form of thermally activated hopping; e.g. Maier, *Physical
Chemistry of Ionic Materials*, 2004), and the value at T is divided by T again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solidion.errors import InputError
from solidion.transport.estimate import Estimate
from solidion.units import BOLTZMANN_EV_K

__all__ = ["ArrheniusFit", "fit_arrhenius", "plot_arrhenius"]


@dataclass(frozen=True)
class ArrheniusFit:
    """A fitted Arrhenius law.

    Attributes:
        activation_energy_eV: E_a ± stderr.
        prefactor: D_0 (same units as the values) or A (values × K for ``kind="conductivity"``).
        ln_prefactor: ln of the prefactor ± stderr (its error is symmetric in log space).
        kind: ``"diffusivity"`` (ln y) or ``"conductivity"`` (ln yT).
        temperatures_K: The temperatures fitted.
        values: The values fitted.
        stderrs: Their standard errors.
        covariance: 2×2 covariance of (ln prefactor, −E_a/k_B).
        reduced_chi2: χ²/(n − 2) of the fit (NaN for two points).
    """

    activation_energy_eV: Estimate
    prefactor: Estimate
    ln_prefactor: Estimate
    kind: str
    temperatures_K: tuple[float, ...]
    values: tuple[float, ...]
    stderrs: tuple[float, ...]
    covariance: tuple[tuple[float, float], tuple[float, float]]
    reduced_chi2: float

    def predict(self, temperature_K: float = 300.0) -> Estimate:
        """Value and propagated 1σ error at ``temperature_K`` (the error of ln y, times y)."""
        if not temperature_K > 0:
            raise InputError(f"temperature_K must be positive, got {temperature_K}")
        x = np.array([1.0, 1.0 / temperature_K])
        a, b = self.ln_prefactor.value, -self.activation_energy_eV.value / BOLTZMANN_EV_K
        ln_y = a + b / temperature_K
        sd = float(np.sqrt(x @ np.asarray(self.covariance) @ x))
        if self.kind == "conductivity":
            ln_y -= np.log(temperature_K)
        y = float(np.exp(ln_y))
        return Estimate(y, y * sd)

    def predict_interval(self, temperature_K: float = 300.0) -> tuple[float, float]:
        """The ±1σ interval at ``temperature_K``, exact in log space (asymmetric in y)."""
        est = self.predict(temperature_K)
        sd = est.stderr / est.value
        return est.value * float(np.exp(-sd)), est.value * float(np.exp(sd))

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "activation_energy_eV": self.activation_energy_eV.to_dict(),
            "prefactor": self.prefactor.to_dict(),
            "temperatures_K": list(self.temperatures_K),
            "reduced_chi2": None if not np.isfinite(self.reduced_chi2) else self.reduced_chi2,
        }


def fit_arrhenius(
    temperatures_K: Sequence[float],
    values: Sequence[float],
    stderr: Sequence[float] | None = None,
    *,
    kind: str = "diffusivity",
) -> ArrheniusFit:
    """Weighted Arrhenius fit of ln D (or ln σT) against 1/T.

    Args:
        temperatures_K: At least two distinct temperatures.
        values: Positive values (D in any unit, or σ).
        stderr: Their standard errors (positive); ``None`` means unweighted, with the
            parameter errors scaled by the scatter of the points (needs ≥ 3 points).
        kind: ``"diffusivity"`` or ``"conductivity"``.

    Returns:
        An :class:`ArrheniusFit`.

    Raises:
        InputError: Fewer than two temperatures, non-positive values or temperatures.

    Example:
        >>> T = [500.0, 600.0, 700.0]
        >>> D = [1e-5 * np.exp(-0.3 / (BOLTZMANN_EV_K * t)) for t in T]
        >>> fit = fit_arrhenius(T, D, [0.01 * d for d in D])
        >>> round(fit.activation_energy_eV.value, 6), round(fit.prefactor.value * 1e5, 6)
        (0.3, 1.0)
    """
    if kind not in ("diffusivity", "conductivity"):
        raise InputError(f"kind must be 'diffusivity' or 'conductivity', got {kind!r}")
    t = np.asarray(temperatures_K, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape:
        raise InputError("temperatures and values must be 1-D sequences of one length")
    if np.unique(t).size < 2:
        raise InputError("an Arrhenius fit needs at least two distinct temperatures")
    if not np.all(t > 0):
        raise InputError(f"temperatures must be positive, got {t.tolist()}")
    if not np.all(y > 0):
        raise InputError(
            f"Arrhenius fits take positive values; got {y.tolist()} (a non-positive D or σ means "
            "that run did not measure diffusion)"
        )
    ln_y = np.log(y * t) if kind == "conductivity" else np.log(y)
    design = np.column_stack([np.ones_like(t), 1.0 / t])
    if stderr is None:
        if t.size < 3:
            raise InputError("an unweighted fit needs at least three temperatures for errors")
        w = np.ones_like(t)
        s = np.full_like(t, np.nan)
    else:
        s = np.asarray(stderr, dtype=np.float64)
        if s.shape != t.shape or not np.all(s > 0):
            raise InputError("stderr must be positive, one per value")
        w = (y / s) ** 2  # 1/σ_ln y²
    wd = design * w[:, None]
    cov = np.linalg.inv(design.T @ wd)
    coef = cov @ (wd.T @ ln_y)
    resid = ln_y - design @ coef
    dof = t.size - 2
    chi2 = float((w * resid**2).sum() / dof) if dof > 0 else float("nan")
    if stderr is None:
        cov = cov * chi2
    a, b = coef
    ea = Estimate(float(-b * BOLTZMANN_EV_K), float(np.sqrt(cov[1, 1]) * BOLTZMANN_EV_K))
    ln_pre = Estimate(float(a), float(np.sqrt(cov[0, 0])))
    pre = Estimate(float(np.exp(a)), float(np.exp(a) * ln_pre.stderr))
    return ArrheniusFit(
        activation_energy_eV=ea,
        prefactor=pre,
        ln_prefactor=ln_pre,
        kind=kind,
        temperatures_K=tuple(float(v) for v in t),
        values=tuple(float(v) for v in y),
        stderrs=tuple(float(v) for v in s),
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        reduced_chi2=chi2,
    )


def plot_arrhenius(
    fit: ArrheniusFit, ax=None, *, extrapolate_to_K: float = 300.0, label: str | None = None
):
    """Draw the points with error bars and the fitted line (extended to ``extrapolate_to_K``).

    Plots log10 of the value (D, or σ) against 1000/T. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    t = np.asarray(fit.temperatures_K)
    y = np.asarray(fit.values)
    s = np.asarray(fit.stderrs)
    ax.errorbar(1000 / t, y, yerr=None if np.isnan(s).all() else s, fmt="o", capsize=3, label=label)
    grid = np.linspace(min(t.min(), extrapolate_to_K), t.max(), 100)
    line = [fit.predict(tt).value for tt in grid]
    ax.plot(
        1000 / grid,
        line,
        "-",
        lw=1,
        label=f"Eₐ = {fit.activation_energy_eV.value:.3f} ± {fit.activation_energy_eV.stderr:.3f} eV",
    )
    at = fit.predict(extrapolate_to_K)
    ax.errorbar(
        [1000 / extrapolate_to_K],
        [at.value],
        yerr=[
            [at.value - fit.predict_interval(extrapolate_to_K)[0]],
            [fit.predict_interval(extrapolate_to_K)[1] - at.value],
        ],
        fmt="s",
        mfc="white",
        capsize=3,
    )
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("D (cm²/s)" if fit.kind == "diffusivity" else "σ (S/cm)")
    ax.legend(frameon=False, fontsize=8)
    return ax

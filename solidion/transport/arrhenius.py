"""Arrhenius fits of diffusivity or conductivity, with extrapolation and propagated errors.

.. math::  D(T) = D_0 \\exp(-E_a / k_B T) \\qquad\\text{or}\\qquad
           \\sigma T = A \\exp(-E_a / k_B T)

A weighted least-squares line is fitted to ln y against 1/T, with weights 1/σ_ln y² where
σ_ln y = stderr / value (first-order propagation). For σ the fit is of ln(σT) (the form of
thermally activated hopping; e.g. Maier, *Physical Chemistry of Ionic Materials*, 2004), and
the value at T is divided by T again.

**Error model.** The stated errors alone (the parameter covariance C = (XᵀWX)⁻¹) are trusted
only when the points agree with them. The reduced χ²_red = Σ w r²/(n − 2) measures that; when
it exceeds 1 the points scatter more than their error bars allow (a T-dependent systematic, a
run that is not converged, error bars that are too small), and C is scaled by the Birge factor
squared, max(1, χ²_red) (R. T. Birge, Phys. Rev. 40, 207 (1932); the scaling of
``scipy.optimize.curve_fit(..., absolute_sigma=False)`` and of the PDG's scale factor, applied
only upwards). Above χ²_red = :data:`CHI2_WARN` a warning gives the value. An extrapolation to
any T — 300 K by default — carries the full covariance of intercept and slope:
var(ln y(T)) = var(a) + var(b)/T² + 2 cov(a, b)/T, and its interval uses the Student-t
quantile with n − 2 degrees of freedom (the scale of the errors is itself estimated from n − 2
residuals; normal quantile for two points, where nothing can be estimated).

Points that are not measurements of the Arrhenius law — a run without a diffusive regime, whose
"D" is vibration or drift — are left out with ``exclude`` and listed in the result with the
reason.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from solidion.errors import InputError
from solidion.transport.estimate import Estimate
from solidion.units import BOLTZMANN_EV_K

__all__ = [
    "CHI2_WARN",
    "ONE_SIGMA",
    "ArrheniusFit",
    "ExcludedPoint",
    "fit_arrhenius",
    "plot_arrhenius",
]

#: χ²_red above which the fit warns that the points scatter beyond their stated errors.
CHI2_WARN = 4.0
#: Coverage of ±1σ of a normal distribution (0.6827), the default interval level.
ONE_SIGMA = math.erf(1.0 / math.sqrt(2.0))


@dataclass(frozen=True)
class ExcludedPoint:
    """A point left out of an Arrhenius fit, and why."""

    temperature_K: float
    value: float
    stderr: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "temperature_K": self.temperature_K,
            "value": self.value if math.isfinite(self.value) else None,
            "stderr": self.stderr if math.isfinite(self.stderr) else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ArrheniusFit:
    """A fitted Arrhenius law.

    Attributes:
        activation_energy_eV: E_a ± stderr (stderr scaled by ``birge_factor``).
        prefactor: D_0 (same units as the values) or A (values × K for ``kind="conductivity"``).
        ln_prefactor: ln of the prefactor ± stderr (its error is symmetric in log space).
        kind: ``"diffusivity"`` (ln y) or ``"conductivity"`` (ln yT).
        temperatures_K: The temperatures fitted (excluded points are not among them).
        values: The values fitted.
        stderrs: Their stated standard errors (NaN for an unweighted fit).
        covariance: 2×2 covariance of (ln prefactor, −E_a/k_B), scaled by ``birge_factor²``.
        reduced_chi2: χ²/(n − 2) of the fit with the stated errors (NaN for two points; for an
            unweighted fit, the residual variance of ln y).
        dof: Degrees of freedom n − 2 of the fit.
        birge_factor: √max(1, χ²_red): the factor applied to the stated-error parameter errors
            (1 when the points agree with their errors or for two points; NaN for an unweighted
            fit, whose errors come from the scatter alone).
        excluded: Points left out of the fit, with the reason.
        warnings: What the caller should know about the fit (large χ²_red).
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
    dof: int
    birge_factor: float
    excluded: tuple[ExcludedPoint, ...] = ()
    warnings: tuple[str, ...] = ()

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

    def quantile(self, confidence: float = ONE_SIGMA) -> float:
        """Multiple of the standard error that spans a two-sided ``confidence`` interval.

        Student-t with :attr:`dof` degrees of freedom (normal for a two-point fit).

        Example:
            >>> fit = fit_arrhenius([500.0, 600, 700, 800], [1.0, 2.0, 3.0, 5.0], [0.5] * 4)
            >>> round(fit.quantile(), 3), round(fit.quantile(0.95), 3)  # t with 2 dof
            (1.321, 4.303)
        """
        if not 0 < confidence < 1:
            raise InputError(f"confidence must lie in (0, 1), got {confidence}")
        p = 0.5 + confidence / 2
        return float(stats.t.ppf(p, self.dof) if self.dof >= 1 else stats.norm.ppf(p))

    def predict_interval(
        self, temperature_K: float = 300.0, confidence: float = ONE_SIGMA
    ) -> tuple[float, float]:
        """The two-sided ``confidence`` interval at ``temperature_K``, exact in log space.

        ln y ± q·σ_ln y with q the t-quantile of :meth:`quantile` (asymmetric in y). The
        default level is that of ±1σ; with n − 2 degrees of freedom it is wider than ±1σ
        (by 1.32× for four temperatures).
        """
        est = self.predict(temperature_K)
        half = self.quantile(confidence) * est.stderr / est.value
        return est.value * float(np.exp(-half)), est.value * float(np.exp(half))

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "activation_energy_eV": self.activation_energy_eV.to_dict(),
            "prefactor": self.prefactor.to_dict(),
            "temperatures_K": list(self.temperatures_K),
            "reduced_chi2": _finite(self.reduced_chi2),
            "dof": self.dof,
            "birge_factor": _finite(self.birge_factor),
            "excluded": [p.to_dict() for p in self.excluded],
        }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def fit_arrhenius(
    temperatures_K: Sequence[float],
    values: Sequence[float],
    stderr: Sequence[float] | None = None,
    *,
    kind: str = "diffusivity",
    exclude: Sequence[str | None] | None = None,
) -> ArrheniusFit:
    """Weighted Arrhenius fit of ln D (or ln σT) against 1/T, errors scaled by the scatter.

    Args:
        temperatures_K: At least two distinct temperatures (after exclusions).
        values: Positive values (D in any unit, or σ); excluded points may be anything.
        stderr: Their standard errors (positive); ``None`` means unweighted, with the
            parameter errors from the scatter of the points alone (needs ≥ 3 points).
        kind: ``"diffusivity"`` or ``"conductivity"``.
        exclude: One entry per point: None to fit it, or the reason to leave it out
            (e.g. "no diffusive regime"); the excluded points are listed in the result.

    Returns:
        An :class:`ArrheniusFit`. Its covariance is the stated-error covariance times
        max(1, χ²_red) (see the module docstring); a χ²_red above :data:`CHI2_WARN` warns.

    Raises:
        InputError: Fewer than two temperatures left, non-positive values or temperatures.

    Example:
        >>> T = [500.0, 600.0, 700.0]
        >>> D = [1e-5 * np.exp(-0.3 / (BOLTZMANN_EV_K * t)) for t in T]
        >>> fit = fit_arrhenius(T, D, [0.01 * d for d in D])
        >>> round(fit.activation_energy_eV.value, 6), round(fit.prefactor.value * 1e5, 6)
        (0.3, 1.0)
        >>> fit = fit_arrhenius([*T, 800.0], [*D, -1e-9], [0.01 * d for d in D] + [1e-9],
        ...                     exclude=[None, None, None, "no diffusive regime"])
        >>> fit.temperatures_K, fit.excluded[0].reason
        ((500.0, 600.0, 700.0), 'no diffusive regime')
    """
    if kind not in ("diffusivity", "conductivity"):
        raise InputError(f"kind must be 'diffusivity' or 'conductivity', got {kind!r}")
    t = np.asarray(temperatures_K, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape:
        raise InputError("temperatures and values must be 1-D sequences of one length")
    if not np.all(t > 0):
        raise InputError(f"temperatures must be positive, got {t.tolist()}")
    if stderr is not None:
        s = np.asarray(stderr, dtype=np.float64)
        if s.shape != t.shape:
            raise InputError("stderr must be positive, one per value")
    else:
        s = np.full_like(t, np.nan)
    reasons = [None] * t.size if exclude is None else list(exclude)
    if len(reasons) != t.size:
        raise InputError(f"exclude needs one entry per point ({t.size}), got {len(reasons)}")
    out = tuple(
        ExcludedPoint(float(t[k]), float(y[k]), float(s[k]), str(r))
        for k, r in enumerate(reasons)
        if r is not None
    )
    keep = np.array([r is None for r in reasons], dtype=bool)
    t, y, s = t[keep], y[keep], s[keep]
    if np.unique(t).size < 2:
        left = f" ({len(out)} left out: {'; '.join(f'{p.temperature_K:g} K: {p.reason}' for p in out)})"
        raise InputError(
            "an Arrhenius fit needs at least two distinct temperatures" + (left if out else "")
        )
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
    else:
        if not np.all(s > 0):
            raise InputError("stderr must be positive, one per value")
        w = (y / s) ** 2  # 1/σ_ln y²
    wd = design * w[:, None]
    cov = np.linalg.inv(design.T @ wd)
    coef = cov @ (wd.T @ ln_y)
    resid = ln_y - design @ coef
    dof = t.size - 2
    chi2 = float((w * resid**2).sum() / dof) if dof > 0 else float("nan")
    notes: list[str] = []
    if stderr is None:
        birge = float("nan")
        cov = cov * chi2
    else:
        birge = math.sqrt(max(1.0, chi2)) if dof > 0 else 1.0
        cov = cov * birge**2
        if chi2 > CHI2_WARN:
            notes.append(
                f"Arrhenius fit of ln {'σT' if kind == 'conductivity' else 'D'}: the points "
                f"scatter beyond their error bars (χ²_red = {chi2:.3g} > {CHI2_WARN:g} with "
                f"{dof} degrees of freedom); the errors of E_a and of the extrapolation are "
                f"scaled by the Birge factor {birge:.3g} — check for unconverged runs or a "
                "change of mechanism across the temperatures"
            )
    for note in notes:
        warnings.warn(note, stacklevel=2)
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
        dof=dof,
        birge_factor=birge,
        excluded=out,
        warnings=tuple(notes),
    )


def plot_arrhenius(
    fit: ArrheniusFit, ax=None, *, extrapolate_to_K: float = 300.0, label: str | None = None
):
    """Draw the points with error bars and the fitted line (extended to ``extrapolate_to_K``).

    Plots log10 of the value (D, or σ) against 1000/T, with the extrapolated value and its
    t-quantile interval (:meth:`ArrheniusFit.predict_interval`); points left out of the fit
    are crosses. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    t = np.asarray(fit.temperatures_K)
    y = np.asarray(fit.values)
    s = np.asarray(fit.stderrs)
    ax.errorbar(1000 / t, y, yerr=None if np.isnan(s).all() else s, fmt="o", capsize=3, label=label)
    left_out = [p for p in fit.excluded if p.value > 0]
    if left_out:
        ax.plot(
            [1000 / p.temperature_K for p in left_out],
            [p.value for p in left_out],
            "x",
            color="0.4",
            label="left out of the fit",
        )
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

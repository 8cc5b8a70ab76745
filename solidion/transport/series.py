"""Transport over a temperature series: one analysis per temperature, then Arrhenius fits.

Files at the same temperature are replicas and combine into one estimate; distinct temperatures
give the Arrhenius block: E_a and prefactor of D*(mobile) (ln D vs 1/T), D*(300 K), and σ_E at
300 K from a fit of ln(σ_E T) vs 1/T, each with its propagated error (scaled by the Birge
factor when the points scatter beyond their errors, see :mod:`solidion.transport.arrhenius`).
Temperatures whose mobile ion never reached a diffusive regime are left out of both fits and
listed, with the reason, under ``fits`` in the block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidion.errors import InputError
from solidion.transport.analysis import TransportResult, analyze
from solidion.transport.arrhenius import ONE_SIGMA, ArrheniusFit, fit_arrhenius

__all__ = [
    "TransportSeries",
    "analyze_series",
    "arrhenius_block",
    "non_diffusive_reason",
    "undetermined",
]

#: A tracer MSD exponent at or below this over the fit window is vibration or drift, not diffusion.
MIN_MSD_EXPONENT = 0.5


def non_diffusive_reason(result: TransportResult | Mapping[str, Any], mobile: str) -> str | None:
    """Why a result at one temperature has no diffusive regime of ``mobile`` (None if it has).

    The analysis warning that starts with ``"<mobile>: no diffusive regime"`` (in a result
    object or its JSON dict), or for a result object an MSD exponent of at most
    :data:`MIN_MSD_EXPONENT` over the fit window.

    Example:
        >>> non_diffusive_reason({"warnings": ["Li: no diffusive regime found in 2 ps"]}, "Li")
        'Li: no diffusive regime found in 2 ps'
        >>> non_diffusive_reason({"warnings": []}, "Li") is None
        True
    """
    is_result = isinstance(result, TransportResult)
    notes = result.warnings if is_result else (result.get("warnings") or [])
    prefix = f"{mobile}: no diffusive regime"
    found = next((str(w) for w in notes if str(w).startswith(prefix)), None)
    if found is None and is_result:
        beta = result.species[mobile].msd_exponent
        if not beta > MIN_MSD_EXPONENT:
            return f"{mobile}: no diffusive regime (MSD exponent {beta:.2f} over the fit window)"
    return found


def undetermined(
    reasons: Sequence[str | None], values: Sequence[float], what: str
) -> list[str | None]:
    """``reasons``, plus one for each point whose value the analysis withheld (NaN).

    Example:
        >>> undetermined([None, "no diffusive regime", None], [1.0, 2.0, float("nan")], "σ_E")
        [None, 'no diffusive regime', 'σ_E not determined at this temperature (see its warnings)']
    """
    return [
        why
        if why or math.isfinite(v)
        else f"{what} not determined at this temperature (see its warnings)"
        for why, v in zip(reasons, values, strict=True)
    ]


def _fit_summary(fit: ArrheniusFit, t: float, unit: str) -> dict[str, Any]:
    lo, hi = fit.predict_interval(t)
    return {
        "temperatures_K": list(fit.temperatures_K),
        "reduced_chi2": fit.to_dict()["reduced_chi2"],
        "dof": fit.dof,
        "birge_factor": fit.to_dict()["birge_factor"],
        "confidence": ONE_SIGMA,
        f"interval_{t:g}K_{unit}": [lo, hi],
        "excluded": [p.to_dict() for p in fit.excluded],
    }


def arrhenius_block(
    d_fit: ArrheniusFit | None, s_fit: ArrheniusFit | None, extrapolate_to_K: float = 300.0
) -> dict[str, Any] | None:
    """The ``arrhenius`` JSON block of a D* fit and a σ_E fit (None without a D* fit).

    Values with errors as ``{"value", "stderr"}``; under ``fits``, per fit: the temperatures
    used, χ²_red, degrees of freedom, Birge factor, the t-quantile interval at
    ``extrapolate_to_K`` (level ``confidence``) and the points left out with the reason.
    """
    if d_fit is None:
        return None
    t = extrapolate_to_K
    out: dict[str, Any] = {
        "activation_energy_eV": d_fit.activation_energy_eV.to_dict(),
        "prefactor_cm2_s": d_fit.prefactor.to_dict(),
        f"diffusivity_{t:g}K_cm2_s": d_fit.predict(t).to_dict(),
    }
    fits = {"diffusivity": _fit_summary(d_fit, t, "cm2_s")}
    if s_fit is not None:
        out[f"conductivity_{t:g}K_S_cm"] = s_fit.predict(t).to_dict()
        out["conductivity_activation_energy_eV"] = s_fit.activation_energy_eV.to_dict()
        fits["conductivity"] = _fit_summary(s_fit, t, "S_cm")
    out["fits"] = fits
    return out


@dataclass(frozen=True)
class TransportSeries:
    """Results at several temperatures and the Arrhenius fits across them."""

    results: tuple[TransportResult, ...]
    diffusivity_fit: ArrheniusFit | None
    conductivity_fit: ArrheniusFit | None
    extrapolate_to_K: float
    warnings: tuple[str, ...]

    def arrhenius_dict(self) -> dict[str, Any] | None:
        """The ``arrhenius`` JSON block (None without a fit); see :func:`arrhenius_block`."""
        return arrhenius_block(self.diffusivity_fit, self.conductivity_fit, self.extrapolate_to_K)

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "arrhenius": self.arrhenius_dict(),
            "warnings": list(self.warnings),
        }


def analyze_series(
    files: Sequence[Any],
    temperatures_K: Sequence[float] | None,
    mobile: str = "Li",
    *,
    extrapolate_to_K: float = 300.0,
    **options: Any,
) -> TransportSeries:
    """Analyse runs grouped by temperature and fit the Arrhenius laws.

    Args:
        files: Trajectories or paths.
        temperatures_K: One temperature for all files, one per file, or None (from the files).
        mobile: Mobile species.
        extrapolate_to_K: Temperature of the extrapolated D* and σ_E.
        **options: Passed to :func:`~solidion.transport.analyze`.

    Raises:
        InputError: When the number of temperatures matches neither 1 nor the number of files.
    """
    files = list(files)
    if not files:
        raise InputError("no trajectory given")
    if temperatures_K is None or len(temperatures_K) == 0:
        temps: list[float | None] = [None] * len(files)
    elif len(temperatures_K) == 1:
        temps = [float(temperatures_K[0])] * len(files)
    elif len(temperatures_K) == len(files):
        temps = [float(t) for t in temperatures_K]
    else:
        raise InputError(
            f"{len(temperatures_K)} temperatures for {len(files)} files: give one temperature "
            "for all, or one per file"
        )
    for t in temps:
        if t is not None and not t > 0:
            raise InputError(f"temperatures must be positive, got {t}")
    if temps[0] is None:
        files = [_load_unless_h5md(f, options) for f in files]
        temps = [_stored_temperature(f, options) for f in files]
        if any(t is None for t in temps) and any(t is not None for t in temps):
            raise InputError("some files carry a temperature and some do not: pass --temperature")
    groups: dict[float | None, list[Any]] = {}
    for f, t in zip(files, temps, strict=True):
        groups.setdefault(t, []).append(f)
    results = []
    for t, group in groups.items():
        data: Any = group if len(group) > 1 else group[0]
        results.append(analyze(data, mobile, temperature_K=t, **options))
    results.sort(key=lambda r: r.temperature_K)
    notes: list[str] = []
    d_fit = s_fit = None
    if len({r.temperature_K for r in results}) >= 2:
        ts = [r.temperature_K for r in results]
        d = [r.tracer_diffusivity[mobile] for r in results]
        s = [r.conductivity.einstein for r in results]
        skip = [non_diffusive_reason(r, mobile) for r in results]
        notes.extend(
            f"{t:g} K left out of the Arrhenius fits: {why}"
            for t, why in zip(ts, skip, strict=True)
            if why
        )
        try:
            d_fit = fit_arrhenius(
                ts,
                [e.value for e in d],
                [e.stderr for e in d],
                exclude=undetermined(skip, [e.value for e in d], f"D*({mobile})"),
            )
            notes.extend(d_fit.warnings)
        except InputError as exc:
            notes.append(f"no Arrhenius fit of D*({mobile}): {exc}")
        try:
            s_fit = fit_arrhenius(
                ts,
                [e.value for e in s],
                [e.stderr for e in s],
                kind="conductivity",
                exclude=undetermined(skip, [e.value for e in s], "σ_E"),
            )
            notes.extend(s_fit.warnings)
        except InputError as exc:
            notes.append(f"no Arrhenius fit of σ_E: {exc}")
    return TransportSeries(tuple(results), d_fit, s_fit, extrapolate_to_K, tuple(notes))


def _load_unless_h5md(item: Any, options: dict[str, Any]) -> Any:
    """Read a text-format file once into a Trajectory; H5MD paths stay lazy."""
    from solidion.io import detect_format, read_trajectory
    from solidion.trajectory import Trajectory

    if isinstance(item, Trajectory):
        return item
    fmt = options.get("format") or detect_format(item)
    if fmt == "h5md":
        return item
    return read_trajectory(item, format=fmt, timestep_fs=options.get("timestep_fs"))


def _stored_temperature(item: Any, options: dict[str, Any]) -> float | None:
    """The temperature a Trajectory or an H5MD file carries (None when it carries none)."""
    from solidion.io.h5md import H5MDReader
    from solidion.trajectory import Trajectory

    if isinstance(item, Trajectory):
        return item.temperature_K
    with H5MDReader(item, timestep_fs=options.get("timestep_fs")) as r:
        return r.temperature_K

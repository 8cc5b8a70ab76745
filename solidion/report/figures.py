"""The figures of the report, drawn from the results dictionary alone (no trajectories).

Each figure is rendered to PNG bytes with matplotlib's object API (``matplotlib.figure.Figure``,
no pyplot state, so it is safe under any backend and in threads); matplotlib is imported only
here, when a figure is drawn. A figure whose data are missing from the results is skipped.

- ``convergence``: trajectory length vs the time to reach the diffusive regime, per T;
- ``error_history``: the relative error of D* against simulated time, per T, with the target
  and the 1/√t line (runs made with ``--until-converged``);
- ``msd``: MSD per species, log–log, one curve per T;
- ``arrhenius``: D* of the mobile ion and σ_E against 1000/T with error bars and the fits
  extended to the extrapolation temperature (300 K), the extrapolated value with its 68 %
  interval (log-normal, as :meth:`~solidion.transport.arrhenius.ArrheniusFit.predict_interval`);
- ``conductivity``: σ_E, σ_NE and σ_cNE per T with error bars;
- ``rdf``: g(r) and N(r) of every species pair, one curve per T;
- ``polyhedra`` and ``fragments``: polyhedron class fractions and fragment sizes per T;
- ``residence``: mean residence time τ per environment against 1000/T, with ε_a.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ReportFigure", "render_figures", "save_figures", "write_figures"]

#: Resolution of the embedded PNGs (dots per inch).
DPI = 110
#: Conversion of S/cm (results.json) to mS/cm (the report).
MS_PER_S = 1000.0


@dataclass(frozen=True)
class ReportFigure:
    """One rendered figure.

    Attributes:
        name: File stem (``"arrhenius"`` → ``arrhenius.png``) and HTML anchor.
        title: Heading shown above the figure.
        alt: Text alternative describing what the figure shows.
        caption: One or two sentences under the figure.
        png: The PNG file's bytes.
    """

    name: str
    title: str
    alt: str
    caption: str
    png: bytes


def render_figures(results: Mapping[str, Any]) -> tuple[ReportFigure, ...]:
    """Every figure the results allow, in report order (figures without data are left out).

    Args:
        results: A results dictionary (:func:`solidion.report.load_results`).
    """
    out = []
    for draw in _FIGURES:
        fig = draw(results)
        if fig is not None:
            out.append(fig)
    return tuple(out)


def save_figures(results: Mapping[str, Any] | str | Path, out_dir: str | Path) -> list[Path]:
    """Write each figure of the report as ``<out_dir>/<name>.png`` (atomically).

    Args:
        results: A results dictionary, or a path accepted by :func:`~solidion.report.load_results`.
        out_dir: Directory for the PNGs (created when missing; its parent must exist).

    Returns:
        The paths written, in report order.

    Raises:
        InputError: Unreadable results, or an ``out_dir`` that cannot be created.
    """
    from solidion.report.results import load_results, normalise_results

    data = (
        normalise_results(results, "results")
        if isinstance(results, Mapping)
        else load_results(results)
    )
    target = prepare_figures_dir(out_dir, "out_dir")
    return write_figures(render_figures(data), target)


def write_figures(figures: Sequence[ReportFigure], out_dir: str | Path) -> list[Path]:
    """Write already rendered figures as ``<out_dir>/<name>.png``, each atomically."""
    from solidion.io._atomic import atomic_path

    target = prepare_figures_dir(out_dir, "out_dir")
    written = []
    for fig in figures:
        path = target / f"{fig.name}.png"
        with atomic_path(path, suffix=".png") as tmp:
            tmp.write_bytes(fig.png)
        written.append(path)
    return written


def prepare_figures_dir(out_dir: str | Path, argument: str) -> Path:
    """``out_dir`` as a Path, created when missing (its parent must exist)."""
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"{argument}={target}: not a directory")
    if not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise InputError(f"{argument}={target}: its parent directory does not exist")
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"{argument}={target}: cannot create it ({exc.strerror})") from None
    return target


# -- helpers ---------------------------------------------------------------------------------------
def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _grid_figure(
    ncol: int, nrow: int, panel: tuple[float, float], margins: tuple[float, float, float, float]
) -> tuple[Figure, np.ndarray]:
    """A grid of panels with fixed margins (inches: left, right, bottom, top).

    Constrained layout costs about a second per dozen axes; fixed margins are as good for
    identical panels.
    """
    from matplotlib.figure import Figure

    left, right, bottom, top = margins
    w, h = panel
    width, height = ncol * w, nrow * h
    fig = Figure(figsize=(width, height), dpi=DPI)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    fig.subplots_adjust(
        left=left / w / ncol,
        right=1 - right / w / ncol,
        bottom=bottom / h / nrow,
        top=1 - top / h / nrow,
        wspace=(left + right) / (w - left - right),
        hspace=(bottom + top) / (h - bottom - top),
    )
    return fig, axes.ravel()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _num(x: Any) -> float:
    """A JSON number as float; null (or anything non-numeric) as NaN."""
    if isinstance(x, bool) or x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _est(d: Any, scale: float = 1.0) -> tuple[float, float]:
    """(value, stderr) of a ``{"value", "stderr"}`` dict times ``scale``; NaN when missing."""
    if not isinstance(d, Mapping):
        return math.nan, math.nan
    return _num(d.get("value")) * scale, abs(_num(d.get("stderr")) * scale)


def _temperatures_label(temps: Sequence[float | None]) -> str:
    if all(t is None for t in temps):
        return "an unstated temperature"
    return ", ".join("?" if t is None else f"{t:g}" for t in temps) + " K"


def _t_colors(temps: Sequence[float | None]) -> dict[float | None, Any]:
    """One colour per temperature, cool to warm."""
    from matplotlib import colormaps

    cmap = colormaps["coolwarm"]
    n = len(temps)
    return {t: cmap(0.1 + 0.8 * (i / (n - 1) if n > 1 else 0.5)) for i, t in enumerate(temps)}


def _log_yerr(values: np.ndarray, errs: np.ndarray) -> np.ndarray:
    """Asymmetric error bars that stay positive on a log axis (lower bar clipped at 95 %)."""
    errs = np.where(np.isfinite(errs), errs, 0.0)
    return np.vstack([np.minimum(errs, 0.95 * values), errs])


def _temp(r: Any) -> float | None:
    """The finite ``temperature_K`` of a block entry, else None."""
    t = _num(r.get("temperature_K")) if isinstance(r, Mapping) else math.nan
    return t if math.isfinite(t) else None


def _t_label(t: float | None) -> str:
    return "T not given" if t is None else f"{t:g} K"


def _by_temperature(entries: Any, *, allow_unknown: bool = False) -> list[dict[str, Any]]:
    """The mapping entries of a list with a temperature (or, if allowed, without), sorted by T."""
    rows = [
        r
        for r in (entries if isinstance(entries, list) else [])
        if isinstance(r, Mapping) and (allow_unknown or _temp(r) is not None)
    ]
    return sorted(rows, key=lambda r: math.inf if _temp(r) is None else _temp(r))


def _transport_results(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _by_temperature((results.get("transport") or {}).get("results"))


def _structure_results(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Structure results sorted by T; one without a temperature (a lone file) comes last."""
    return _by_temperature((results.get("structure") or {}).get("results"), allow_unknown=True)


def _mobile(results: Mapping[str, Any]) -> str:
    m = results.get("mobile")
    if m:
        return str(m)
    tr = _transport_results(results)
    return str(tr[0].get("mobile", "Li")) if tr else "Li"


def extrapolation_temperature(arrhenius: Mapping[str, Any]) -> float | None:
    """The temperature of the extrapolated values in an ``arrhenius`` block, or None.

    Example:
        >>> extrapolation_temperature({"activation_energy_eV": {}, "diffusivity_300K_cm2_s": {}})
        300.0
    """
    for key in arrhenius:
        m = re.fullmatch(r"(?:diffusivity|conductivity)_([0-9.eE+-]+)K_(?:cm2_s|S_cm)", key)
        if m:
            return float(m.group(1))
    return None


# -- the figures -------------------------------------------------------------------------------------
def _convergence_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = _by_temperature(results.get("convergence"))
    if not rows:
        return None
    temps = [_temp(r) for r in rows]
    duration = np.array([_num(r.get("duration_ps")) for r in rows])
    onset = np.array([_num(r.get("diffusive_onset_ps")) for r in rows])
    fig = _new_figure(6.4, 0.55 * len(rows) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.barh(y + 0.2, duration, height=0.38, color="0.55", label="trajectory length")
    ok = np.isfinite(onset) & (onset > 0)
    ax.barh(y[ok] - 0.2, onset[ok], height=0.38, color="C0", label="diffusive regime reached")
    for i, r in enumerate(rows):
        hops = r.get("n_hops")
        text = "" if hops is None else f"{hops} hops"
        if not ok[i]:
            text = ("no diffusive regime; " + text).rstrip("; ")
        colour = "C3" if not r.get("converged") else "0.2"
        if text:
            ax.text(
                max(_num(r.get("duration_ps")), 0.0) * 1.05 if np.isfinite(duration[i]) else 0,
                i,
                text,
                va="center",
                fontsize=8,
                color=colour,
            )
    ax.set_yticks(
        y,
        [
            f"{t:g} K" + ("" if r.get("converged") else " ✗")
            for t, r in zip(temps, rows, strict=True)
        ],
    )
    positive = np.concatenate([duration[np.isfinite(duration)], onset[ok]])
    positive = positive[positive > 0]
    if positive.size:
        ax.set_xscale("log")
        ax.set_xlim(positive.min() / 3, positive.max() * 6)
    ax.set_xlabel("time (ps)")
    fig.legend(frameon=False, fontsize=8, loc="outside lower center", ncols=2)
    bad = [f"{t:g} K" for t, r in zip(temps, rows, strict=True) if not r.get("converged")]
    alt = (
        f"Horizontal bars per temperature ({_temperatures_label(temps)}): trajectory length and "
        "the time after which the mobile ion's MSD is diffusive, on a log time axis, with the "
        "number of hops observed. "
        + (f"Not converged at {', '.join(bad)}." if bad else "Every temperature converged.")
    )
    return ReportFigure(
        "convergence",
        "Trajectory length vs. onset of diffusion",
        alt,
        "A run is long enough when the trajectory lasts many times longer than the time the "
        "mobile ions need to reach the diffusive regime, and many hops are seen.",
        _png(fig),
    )


def _error_history_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = [r for r in _by_temperature(results.get("convergence")) if r.get("history")]
    if not rows:
        return None
    target = _num((results.get("until_converged") or {}).get("diffusivity_rel_err"))
    temps = [_temp(r) for r in rows]
    colors = _t_colors(temps)
    fig = _new_figure(5.2, 3.4)
    ax = fig.add_subplot()
    drawn = []
    for t, r in zip(temps, rows, strict=True):
        hist = [h for h in r["history"] if isinstance(h, Mapping)]
        x = np.array([_num(h.get("duration_ps")) for h in hist])
        y = np.array([100 * _num(h.get("diffusivity_rel_err")) for h in hist])
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        if not ok.any():
            continue
        drawn.append(t)
        ax.plot(x[ok], y[ok], "o-", color=colors[t], label=f"{t:g} K", ms=4)
        # 1/√t from the first resolved point: where the error would be with more of the same
        x0, y0 = x[ok][0], y[ok][0]
        xs = np.geomspace(x0, max(x[ok].max(), x0) * 2, 20)
        ax.plot(xs, y0 * np.sqrt(x0 / xs), ":", color=colors[t], lw=1)
    if not drawn:
        return None
    if math.isfinite(target):
        ax.axhline(100 * target, color="0.3", ls="--", lw=1, label=f"target {100 * target:g} %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("simulated production time (ps)")
    ax.set_ylabel("relative 1σ error of D* (%)")
    ax.legend(frameon=False, fontsize=7)
    return ReportFigure(
        "error_history",
        "Error against simulated time",
        f"Relative 1σ error of the mobile ion's D* after each production chunk at "
        f"{_temperatures_label(drawn)}, log–log, with dotted 1/√t lines from the first point"
        + (f" and the target of {100 * target:g} %." if math.isfinite(target) else "."),
        "Production ran in chunks until the error target was met (solidion run "
        "--until-converged); a statistical error falls as 1/√t once the run is many "
        "correlation times long.",
        _png(fig),
    )


def _msd_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    entries = [
        e for e in _by_temperature(results.get("msd")) if isinstance(e.get("msd_A2"), Mapping)
    ]
    if not entries:
        return None
    mobile = _mobile(results)
    species: list[str] = []
    for e in entries:
        species += [s for s in e["msd_A2"] if s not in species]
    species.sort(key=lambda s: (s != mobile, s))
    temps = [_temp(e) for e in entries]
    colors = _t_colors(temps)
    onsets = {
        _temp(r): _num(r.get("diffusive_onset_ps"))
        for r in _by_temperature(results.get("convergence"))
    }
    ncol = min(4, len(species)) if len(species) != 5 else 3
    nrow = math.ceil(len(species) / ncol)
    fig, axes = _grid_figure(ncol, nrow, (3.0, 2.6), (0.7, 0.12, 0.55, 0.3))
    for ax, s in zip(axes, species, strict=False):
        for e in entries:
            t = _temp(e)
            lag = np.array([_num(x) for x in e.get("lag_ps") or []])
            msd = np.array([_num(x) for x in e["msd_A2"].get(s) or []])
            n = min(lag.size, msd.size)
            lag, msd = lag[:n], msd[:n]
            keep = np.isfinite(lag) & np.isfinite(msd) & (lag > 0) & (msd > 0)
            if keep.any():
                ax.plot(lag[keep], msd[keep], color=colors[t], lw=1.4, label=f"{t:g} K")
            if s == mobile and np.isfinite(onsets.get(t, math.nan)):
                ax.axvline(onsets[t], color=colors[t], ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if s == mobile:
            _slope_one_guide(ax)
        _readable_log_ticks(ax)
        ax.set_title(s + (" (mobile)" if s == mobile else ""), fontsize="medium")
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("MSD (Å²)")
    for ax in axes[len(species) :]:
        ax.set_visible(False)
    axes[0].legend(frameon=False, fontsize=7)
    return ReportFigure(
        "msd",
        "Mean squared displacement",
        f"Log–log MSD against lag time for {', '.join(species)}, one curve per temperature "
        f"({_temperatures_label(temps)}), with a dashed line of slope one.",
        "Slope one on the log–log axes is diffusion; dotted lines mark where the mobile ion's "
        "MSD became diffusive.",
        _png(fig),
    )


def _slope_one_guide(ax: Axes) -> None:
    """A dashed line ∝ t through the middle of a log–log panel, limits unchanged."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if not (0 < x0 < x1 and 0 < y0 < y1):
        return
    xm, ym = math.sqrt(x0 * x1), math.sqrt(y0 * y1)
    half = min(math.sqrt(x1 / x0), math.sqrt(y1 / y0)) ** 0.6
    x = np.array([xm / half, xm * half])
    ax.plot(x, ym * x / xm, "k--", lw=0.8, label="∝ t")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _readable_log_ticks(ax: Axes) -> None:
    """Log axes labelled 1, 2, 5 × 10ⁿ in plain numbers, so short ranges stay legible."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if lo > 0 and hi / lo < 1e3:
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(StrMethodFormatter("{x:g}"))
            axis.set_minor_formatter(NullFormatter())


def _arrhenius_panel(
    ax: Axes,
    temps: np.ndarray,
    vals: np.ndarray,
    errs: np.ndarray,
    ea: tuple[float, float],
    at: tuple[float, float],
    t_ext: float | None,
    kind: str,
    ylabel: str,
    bounds: Any = None,
    scale: float = 1.0,
) -> None:
    from solidion.units import BOLTZMANN_EV_K

    keep = np.isfinite(vals) & (vals > 0)
    if keep.any():
        ax.errorbar(
            1000 / temps[keep],
            vals[keep],
            yerr=_log_yerr(vals[keep], errs[keep]),
            fmt="o",
            color="C0",
            capsize=3,
            label="MD",
        )
    v_ext, s_ext = at
    if t_ext is not None and np.isfinite(v_ext) and v_ext > 0 and np.isfinite(ea[0]):
        grid = np.linspace(min(temps.min(), t_ext), max(temps.max(), t_ext), 100)
        line = v_ext * np.exp(-ea[0] / BOLTZMANN_EV_K * (1 / grid - 1 / t_ext))
        if kind == "conductivity":  # σT is Arrhenius
            line = line * t_ext / grid
        ax.plot(
            1000 / grid, line, "-", color="C1", lw=1, label=f"Eₐ = {ea[0]:.3f} ± {ea[1]:.3f} eV"
        )
        if isinstance(bounds, list) and len(bounds) == 2:  # the fit's t-quantile interval
            lo, hi = _num(bounds[0]) * scale, _num(bounds[1]) * scale
        else:
            rel = s_ext / v_ext if np.isfinite(s_ext) else 0.0
            lo, hi = v_ext * math.exp(-rel), v_ext * math.exp(rel)
        ax.errorbar(
            [1000 / t_ext],
            [v_ext],
            yerr=[[v_ext - lo], [hi - v_ext]],
            fmt="s",
            mfc="white",
            color="C1",
            capsize=3,
            label=f"{t_ext:g} K: {v_ext:.3g}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=7)


def _arrhenius_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = _transport_results(results)
    if not rows:
        return None
    mobile = _mobile(results)
    arr = (results.get("transport") or {}).get("arrhenius") or {}
    t_ext = extrapolation_temperature(arr)
    temps = np.array([_temp(r) for r in rows])
    d = np.array(
        [
            _est((r.get("species") or {}).get(mobile, {}).get("tracer_diffusivity_cm2_s"))
            for r in rows
        ]
    )
    s = np.array([_est((r.get("conductivity_S_cm") or {}).get("einstein"), MS_PER_S) for r in rows])
    fig = _new_figure(8.0, 3.3)
    ax1, ax2 = fig.subplots(1, 2)
    key_d = f"diffusivity_{t_ext:g}K_cm2_s" if t_ext else ""
    key_s = f"conductivity_{t_ext:g}K_S_cm" if t_ext else ""
    fits = arr.get("fits") or {}
    _arrhenius_panel(
        ax1,
        temps,
        d[:, 0],
        d[:, 1],
        _est(arr.get("activation_energy_eV")),
        _est(arr.get(key_d)),
        t_ext,
        "diffusivity",
        f"D*({mobile}) (cm²/s)",
        fits.get("diffusivity", {}).get(f"interval_{t_ext:g}K_cm2_s") if t_ext else None,
    )
    _arrhenius_panel(
        ax2,
        temps,
        s[:, 0],
        s[:, 1],
        _est(arr.get("conductivity_activation_energy_eV")),
        _est(arr.get(key_s), MS_PER_S),
        t_ext,
        "conductivity",
        "σ_E (mS/cm)",
        fits.get("conductivity", {}).get(f"interval_{t_ext:g}K_S_cm") if t_ext else None,
        MS_PER_S,
    )
    ext = f", fits extrapolated to {t_ext:g} K" if t_ext and arr else ""
    return ReportFigure(
        "arrhenius",
        "Arrhenius plot",
        f"Log of the tracer diffusivity D*({mobile}) and of the conductivity σ_E against 1000/T "
        f"at {_temperatures_label(list(temps))} with error bars{ext}.",
        "Points: MD at each temperature (±1 s.e.). Lines: weighted fits of ln D* and ln σT "
        "against 1/T (errors scaled by the Birge factor when the points scatter beyond "
        "them); open squares: the extrapolated values with their 68 % Student-t interval.",
        _png(fig),
    )


def _conductivity_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = _transport_results(results)
    if not rows:
        return None
    temps = [_temp(r) for r in rows]
    kinds = [
        ("einstein", "σ_E (full Einstein)"),
        ("nernst_einstein", "σ_NE (Nernst–Einstein)"),
        ("cluster_nernst_einstein", "σ_cNE (cluster NE)"),
    ]
    vals = np.array(
        [
            [_est((r.get("conductivity_S_cm") or {}).get(k), MS_PER_S) for k, _ in kinds]
            for r in rows
        ]
    )  # (n_T, 3, 2)
    fig = _new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    x = np.arange(len(temps))
    width = 0.26
    finite = vals[..., 0][np.isfinite(vals[..., 0])]
    log = finite.size > 0 and bool(np.all(finite > 0))
    for k, (_, label) in enumerate(kinds):
        v, e = vals[:, k, 0], vals[:, k, 1]
        yerr = _log_yerr(np.where(np.isfinite(v), v, 1.0), e) if log else np.nan_to_num(e)
        ax.bar(
            x + (k - 1) * width,
            np.nan_to_num(v),
            width,
            yerr=yerr,
            capsize=3,
            label=label,
            color=f"C{k}",
        )
    ax.set_xticks(x, [f"{t:g} K" for t in temps])
    ax.set_ylabel("σ (mS/cm)")
    if log:
        ax.set_yscale("log")
    else:
        ax.axhline(0, color="0.3", lw=0.8)
    fig.legend(frameon=False, fontsize=8, loc="outside lower center", ncols=3)
    return ReportFigure(
        "conductivity",
        "Conductivity three ways",
        f"Grouped bars of the conductivity per temperature ({_temperatures_label(temps)}): full "
        "Einstein σ_E, Nernst–Einstein σ_NE and cluster Nernst–Einstein σ_cNE, in mS/cm, with "
        "error bars.",
        "σ_E includes every ion–ion correlation; σ_NE assumes independent ions; σ_cNE counts "
        "bound clusters as carriers. Error bars are ±1 s.e.",
        _png(fig),
    )


def _rdf_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = [r for r in _structure_results(results) if isinstance(r.get("rdf"), Mapping)]
    if not rows:
        return None
    pairs: list[str] = []
    for r in rows:
        pairs += [p for p in r["rdf"] if p not in pairs]
    if not pairs:
        return None
    temps = [_temp(r) for r in rows]
    colors = _t_colors(temps)
    ncol = min(4, len(pairs))
    nrow = math.ceil(len(pairs) / ncol)
    fig, axes = _grid_figure(ncol, nrow, (3.0, 2.4), (0.6, 0.55, 0.5, 0.3))
    for ax, pair in zip(axes, pairs, strict=False):
        twin = ax.twinx()
        for r in rows:
            d = r["rdf"].get(pair)
            if not isinstance(d, Mapping):
                continue
            t = _temp(r)
            rr = np.array([_num(x) for x in d.get("r_A") or []])
            g = np.array([_num(x) for x in d.get("g") or []])
            n = np.array([_num(x) for x in d.get("n") or []])
            m = min(rr.size, g.size)
            ax.plot(rr[:m], g[:m], color=colors[t], lw=1.2, label=_t_label(t))
            if rr.size >= 2 and n.size == rr.size:
                edges = rr + 0.5 * (rr[1] - rr[0])
                twin.plot(edges, n, color=colors[t], lw=0.9, ls="--")
            rc = _num(d.get("first_minimum_A"))
            if np.isfinite(rc):
                ax.axvline(rc, color=colors[t], ls=":", lw=0.8)
        ax.axhline(1.0, color="0.75", lw=0.7, zorder=0)
        ax.set_title(pair.replace("-", "–"), fontsize="medium")
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        twin.set_ylabel("N(r) (dashed)", fontsize=8)
        twin.tick_params(labelsize=7)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    axes[0].legend(frameon=False, fontsize=7)
    return ReportFigure(
        "rdf",
        "Radial distribution functions",
        f"g(r) (solid) and running coordination number N(r) (dashed, right axis) for the pairs "
        f"{', '.join(pairs)}, one colour per temperature ({_temperatures_label(temps)}).",
        "Dotted lines: first minimum of g(r), the cutoff of the first coordination shell.",
        _png(fig),
    )


def _grouped_bars(
    ax: Axes,
    keys: list[str],
    names: list[str],
    rows: list[tuple[float | None, Mapping[str, float]]],
) -> None:
    """Bars of ``d[key]`` for each key, one bar per (temperature, d) in ``rows``."""
    colors = _t_colors([t for t, _ in rows])
    x = np.arange(len(keys))
    width = 0.8 / max(1, len(rows))
    for i, (t, d) in enumerate(rows):
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            [_num(d.get(k, 0.0)) for k in keys],
            width,
            color=colors[t],
            label=_t_label(t),
        )
    ax.set_xticks(x, names, rotation=30 if len(keys) > 6 else 0)
    ax.legend(frameon=False, fontsize=7)


def _polyhedra_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = [
        (_temp(r), r["polyhedra"])
        for r in _structure_results(results)
        if isinstance(r.get("polyhedra"), Mapping)
        and isinstance(r["polyhedra"].get("fractions"), Mapping)
    ]
    if not rows:
        return None
    labels: list[str] = []
    for _, p in rows:
        labels += [k for k in p["fractions"] if k not in labels]
    centre = str(rows[0][1].get("center") or "M")
    fig = _new_figure(max(4.5, 0.6 * len(labels) * max(1, len(rows)) / 2 + 2.5), 3.2)
    ax = fig.add_subplot()
    _grouped_bars(
        ax, labels, [f"{centre}{k}" for k in labels], [(t, p["fractions"]) for t, p in rows]
    )
    ax.set_ylabel("fraction of polyhedra")
    ax.set_ylim(0, 1)
    temps = [t for t, _ in rows]
    return ReportFigure(
        "polyhedra",
        f"{centre} polyhedra",
        f"Bar chart of the fraction of {centre} polyhedra of each ligand composition "
        f"({', '.join(centre + str(k) for k in labels)}) at {_temperatures_label(temps)}.",
        f"Environments of {centre}: the ligands within the first-shell cutoffs.",
        _png(fig),
    )


def _fragments_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = [
        (_temp(r), r["fragments"])
        for r in _structure_results(results)
        if isinstance(r.get("fragments"), Mapping)
        and isinstance(r["fragments"].get("size_histogram"), Mapping)
        and r["fragments"]["size_histogram"]
    ]
    if not rows:
        return None
    sizes = sorted({int(k) for _, f in rows for k in f["size_histogram"]})
    centre = str(rows[0][1].get("center") or "M")
    fig = _new_figure(max(4.5, min(10.0, 0.5 * len(sizes) + 3.0)), 3.2)
    ax = fig.add_subplot()
    _grouped_bars(
        ax,
        [str(s) for s in sizes],
        [str(s) for s in sizes],
        [(t, {str(int(k)): v for k, v in f["size_histogram"].items()}) for t, f in rows],
    )
    ax.set_xlabel(f"fragment size (number of {centre})")
    ax.set_ylabel("fragments per frame")
    temps = [t for t, _ in rows]
    return ReportFigure(
        "fragments",
        "Fragment size distribution",
        f"Bar chart of the number of {centre}-polyhedron fragments per frame by size "
        f"(1 to {sizes[-1]} {centre}) at {_temperatures_label(temps)}.",
        f"Fragments: {centre} polyhedra joined by shared ligands.",
        _png(fig),
    )


def _residence_figure(results: Mapping[str, Any]) -> ReportFigure | None:
    rows = [
        (_temp(r), r["residence"])
        for r in _structure_results(results)
        if isinstance(r.get("residence"), Mapping) and r["residence"] and _temp(r) is not None
    ]
    if not rows:
        return None
    labels = sorted({k for _, res in rows for k in res})
    activation = (results.get("structure") or {}).get("residence_activation_eV") or {}
    fig = _new_figure(5.0, 3.4)
    ax = fig.add_subplot()
    drawn = False
    for i, label in enumerate(labels):
        pts = [
            (t, *_est(res[label].get("tau_ps")))
            for t, res in rows
            if isinstance(res.get(label), Mapping) and res[label].get("model") != "unresolved"
        ]
        pts = [p for p in pts if np.isfinite(p[1]) and p[1] > 0]
        if not pts:
            continue
        t = np.array([p[0] for p in pts])
        v = np.array([p[1] for p in pts])
        e = np.array([p[2] for p in pts])
        ea = _est(activation.get(label))
        text = f"{label}" + (f": εₐ = {ea[0]:.3f} ± {ea[1]:.3f} eV" if np.isfinite(ea[0]) else "")
        ax.errorbar(
            1000 / t, v, yerr=_log_yerr(v, e), fmt="o-", color=f"C{i}", capsize=3, label=text
        )
        drawn = True
    if not drawn:
        return None
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("mean residence time τ (ps)")
    ax.legend(frameon=False, fontsize=7)
    temps = [t for t, _ in rows]
    return ReportFigure(
        "residence",
        "Residence times by environment",
        f"Mean residence time τ of the mobile ion on each host environment ({', '.join(labels)}) "
        f"against 1000/T at {_temperatures_label(temps)}, log scale, with error bars and the "
        "activation energy εₐ of the hop rate.",
        "τ from fits of the survival function P(t) per environment; εₐ from an Arrhenius fit "
        "of 1/τ.",
        _png(fig),
    )


_FIGURES: tuple[Callable[[Mapping[str, Any]], ReportFigure | None], ...] = (
    _convergence_figure,
    _error_history_figure,
    _arrhenius_figure,
    _conductivity_figure,
    _msd_figure,
    _rdf_figure,
    _polyhedra_figure,
    _fragments_figure,
    _residence_figure,
)

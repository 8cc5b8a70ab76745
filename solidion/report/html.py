"""One self-contained HTML page per run: ``build_report(results) -> report.html``.

The page has no external resource of any kind (no script, no web font, no stylesheet link, no
remote image): the CSS is inline and every figure is a base64 PNG data URI with an ``alt``
text, so the file can be mailed, archived or opened offline and shows the same thing.

Every number taken from the results is rendered in an element carrying

- ``data-key``: a stable, unique name (``sigma_300K_mS_cm``, ``haven_ratio_600K``, …);
- ``data-value``: the number as stored, times the unit conversion, at full precision
  (``repr`` of the float; ``null`` when the results hold null);
- ``data-source``: a JSON pointer (RFC 6901) to the number in ``results.json``;
- ``data-scale``: the conversion factor applied (only when it is not 1, e.g. 1000 for
  S/cm → mS/cm).

Derived numbers (the log-normal 68 % interval of σ(300 K), length/onset ratios) carry
``data-key``, ``data-value`` and ``data-derived`` (how they were obtained) instead of a source.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from solidion.errors import InputError
from solidion.report.figures import (
    MS_PER_S,
    ReportFigure,
    extrapolation_temperature,
    prepare_figures_dir,
    render_figures,
    write_figures,
)
from solidion.report.results import load_results, normalise_results

__all__ = ["build_report", "render_html"]

#: Text of the red box when the preset is not a converged one.
UNCONVERGED_PRESET = (
    "{preset} preset: numbers are not converged — for a demonstration of the pipeline only"
)

_CSS = """
:root { --ink: #1d2127; --muted: #5b6270; --rule: #d9dde3; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 1.2rem 1.6rem;
       line-height: 1.45; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid var(--rule); padding-bottom: .2rem;
     margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .6rem 0;
          font-size: .92rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
nav { font-size: .9rem; margin: .6rem 0 0; }
nav a { color: var(--accent); margin-right: .9rem; text-decoration: none; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: right;
         vertical-align: top; }
.estimate { white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table.per-temperature td, table.per-temperature th { padding: .3rem .45rem; font-size: .86rem; }
th { background: #f4f6f8; text-align: center; }
td.label, th.label { text-align: left; }
td.bad { color: #a61b1b; font-weight: 600; }
td.good { color: #1b6b2f; }
.pm { color: var(--muted); }
.unit { color: var(--muted); font-size: .85em; }
.missing { color: var(--muted); font-style: italic; }
.warning-unconverged { border: 2px solid #c62828; background: #fdecea; color: #611a15;
                       padding: .7rem 1rem; margin: .8rem 0; border-radius: 4px; }
.warning-unconverged strong { color: #b71c1c; }
.warning-untrusted { border: 2px solid #c62828; background: #fdecea; color: #611a15;
                     padding: .7rem 1rem; margin: .8rem 0; border-radius: 4px; }
.warning-untrusted strong { color: #b71c1c; }
.note { border-left: 4px solid #9aa5b1; background: #f4f6f8; padding: .5rem .9rem; }
ul.warnings li { margin: .2rem 0; }
ul.warnings .src { color: var(--muted); font-size: .85em; margin-right: .4rem; }
figure { margin: 1rem 0 1.6rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 2.5rem; border-top: 1px solid
         var(--rule); padding-top: .5rem; }
"""


# -- public API ------------------------------------------------------------------------------------
def build_report(
    results: Mapping[str, Any] | str | Path,
    out_html: str | Path | None = None,
    *,
    figures_dir: str | Path | None = None,
) -> Path:
    """Write the HTML report of a run.

    Args:
        results: A results dictionary (the content of ``results.json``); a path to a
            ``results.json``; or a directory holding ``results.json`` or the JSON files of
            ``solidion analyze --json`` / ``solidion structure --json``
            (:func:`~solidion.report.load_results`).
        out_html: Where to write the page; default ``<directory of the results>/report.html``.
            Required when ``results`` is a dictionary.
        figures_dir: Also write each figure as ``<figures_dir>/<name>.png`` (the same images
            as embedded, rendered once).

    Returns:
        The path of the page, written atomically (a temporary file renamed into place).

    Raises:
        InputError: Unreadable or malformed results, no ``out_html`` for a dictionary, or an
            output directory that does not exist.
    """
    from solidion.io._atomic import atomic_path

    if isinstance(results, Mapping):
        if out_html is None:
            raise InputError("build_report: out_html is required when results is a dictionary")
        data = normalise_results(results, "results")
    elif isinstance(results, (str, Path)):
        data = load_results(results)
        if out_html is None:
            src = Path(results)
            out_html = (src if src.is_dir() else src.parent) / "report.html"
    else:
        raise InputError(
            f"build_report: results must be a dictionary or a path, got {type(results).__name__}"
        )
    out = Path(out_html)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"out_html={out}: the directory {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"out_html={out}: is a directory")
    fig_dir = None if figures_dir is None else prepare_figures_dir(figures_dir, "figures_dir")
    figures = render_figures(data)
    page = render_html(data, figures)
    with atomic_path(out, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    if fig_dir is not None:
        write_figures(figures, fig_dir)
    return out


def render_html(results: Mapping[str, Any], figures: Sequence[ReportFigure] | None = None) -> str:
    """The report page as a string (figures rendered here unless given)."""
    data = normalise_results(results, "results")
    figs = {f.name: f for f in (render_figures(data) if figures is None else figures)}
    title = data.get("formula") or data.get("cell_formula") or "analysis results"
    body = [
        _header(data),
        _convergence_section(data, figs),
        _trust_section(data),
        _summary_section(data),
        _transport_figures_section(data, figs),
        _structure_section(data, figs),
        _warnings_section(data),
        _footer(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>solidion report: {_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body>\n</html>\n"
    )


# -- numbers -----------------------------------------------------------------------------------------
def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _pointer(*parts: object) -> str:
    """JSON pointer (RFC 6901) to a value in results.json."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _float(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _get(d: Any, *path: object) -> Any:
    for p in path:
        if isinstance(d, Mapping):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        else:
            return None
    return d


def _tkey(t: float | None) -> str:
    """Temperature suffix of data keys: ``600K`` (``noT`` for a result without one)."""
    return "noT" if t is None else f"{t:g}K"


def _sort_t(r: Mapping[str, Any]) -> float:
    t = _float(r.get("temperature_K"))
    return math.inf if t is None else t


def _decimals(ref: float) -> int:
    """Decimals that show ``ref`` (an error) to two significant digits."""
    return max(0, min(10, 1 - math.floor(math.log10(ref))))


def _fmt(v: float | None, ref: float | None = None) -> str:
    """A number for display; ``ref`` (its error) sets the number of decimals."""
    if v is None:
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    if ref is not None and ref > 0 and 1e-6 <= ref < 1e5 and a < 1e5:
        return f"{v:.{_decimals(ref)}f}"
    if 1e-3 <= a < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


def _fmt_err(s: float | None) -> str:
    if s is None:
        return "—"
    if s == 0:
        return "0"
    if 1e-6 <= s < 1e5:
        return f"{s:.{_decimals(s)}f}"
    return f"{s:.2e}"


def _num(
    key: str,
    raw: Any,
    source: str,
    scale: float = 1.0,
    *,
    ref: float | None = None,
    display: str | None = None,
) -> str:
    """A span holding one number from the results, with its data attributes."""
    v = _float(raw)
    conv = None if v is None else v * scale
    attrs = (
        f' data-key="{_e(key)}" data-value="{"null" if conv is None else repr(conv)}"'
        f' data-source="{_e(source)}"'
    )
    if scale != 1.0:
        attrs += f' data-scale="{scale!r}"'
    text = display if display is not None else _fmt(conv, ref)
    return f"<span{attrs}>{_e(text)}</span>"


def _derived(key: str, value: float | None, how: str) -> str:
    attrs = (
        f' data-key="{_e(key)}" data-value="{"null" if value is None else repr(value)}"'
        f' data-derived="{_e(how)}"'
    )
    return f"<span{attrs}>{_e(_fmt(value))}</span>"


def _estimate(key: str, est: Any, source: str, scale: float = 1.0) -> str:
    """``value ± stderr`` of a {"value", "stderr"} dict, each number in its own span.

    Very small or large numbers share one power of ten: ``(4.16 ± 0.68)×10⁻⁴``.
    """
    v = _float(_get(est, "value"))
    s = _float(_get(est, "stderr"))
    v_conv = None if v is None else v * scale
    s_conv = None if s is None else abs(s * scale)
    exponent = _shared_exponent(v_conv, s_conv)
    f = 10.0**exponent
    ref = None if s_conv is None else s_conv / f
    value = _num(
        key, v, source + "/value", scale, display=_fmt(None if v_conv is None else v_conv / f, ref)
    )
    if s is None:
        text = value
    else:
        err = _num(key + "_stderr", s, source + "/stderr", scale, display=_fmt_err(ref))
        text = f'{value} <span class="pm">±</span> {err}'
    if exponent:
        text = f"({text})×10<sup>{str(exponent).replace('-', '−')}</sup>"
    return f'<span class="estimate">{text}</span>'


def _shared_exponent(v: float | None, s: float | None) -> int:
    """Power of ten to factor out of ``v ± s`` (0 when v reads well as it is)."""
    lead = v if v else s
    if not lead:
        return 0
    a = abs(lead)
    return 0 if 1e-2 <= a < 1e5 else math.floor(math.log10(a))


# -- sections ------------------------------------------------------------------------------------------
def _header(data: Mapping[str, Any]) -> str:
    formula = data.get("formula")
    title = f"solidion report: {_e(formula)}" if formula else "solidion report"
    rows: list[tuple[str, str]] = []
    if formula:
        rows.append(("formula", _e(formula)))
    if data.get("cell_formula") or data.get("n_atoms") is not None:
        cell = _e(data.get("cell_formula") or "—")
        if data.get("n_atoms") is not None:
            cell += " (" + _num(
                "n_atoms", data["n_atoms"], "/n_atoms", display=str(data["n_atoms"])
            )
            cell += " atoms)"
        rows.append(("simulation cell", cell))
    preset = data.get("preset")
    if preset is not None or data.get("preset_converged") is not None:
        text = _e(preset or "—")
        if data.get("preset_converged") is False:
            text += ' <span class="bad">(not converged)</span>'
        rows.append(("preset", text))
    if data.get("potential"):
        rows.append(("potential", _potential(data["potential"])))
    if data.get("seed") is not None:
        rows.append(("seed", _num("seed", data["seed"], "/seed", display=str(data["seed"]))))
    if data.get("mobile"):
        rows.append(("mobile ion", _e(data["mobile"])))
    temps = data.get("temperatures_K") or []
    if temps:
        rows.append(("temperatures", _e(", ".join(f"{_float(t) or 0:g}" for t in temps) + " K")))
    glass = data.get("glass")
    if isinstance(glass, Mapping) and _float(glass.get("density_g_cm3")) is not None:
        text = "ρ = " + _num("glass_density", glass["density_g_cm3"], "/glass/density_g_cm3")
        text += " g/cm³"
        if _float(glass.get("pressure_GPa")) is not None:
            text += ", P = " + _num("glass_pressure", glass["pressure_GPa"], "/glass/pressure_GPa")
            if _float(glass.get("pressure_std_GPa")) is not None:
                text += " ± " + _num(
                    "glass_pressure_std", glass["pressure_std_GPa"], "/glass/pressure_std_GPa"
                )
            text += " GPa"
        where = _float(glass.get("temperature_K"))
        text += _e(
            f" (mean of the {glass.get('stage', 'anneal')}'s second half"
            + (f" at {where:g} K" if where is not None else "")
            + "; the production volume)"
        )
        rows.append(("glass", text))
    rows.append(("solidion version", _e(data.get("solidion_version") or "unknown")))
    meta = "\n".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    links = [
        ("convergence", "Convergence"),
        *([("trust", "Training domain")] if isinstance(data.get("trust"), Mapping) else []),
        ("summary", "Summary"),
        ("transport", "Transport"),
        ("structure", "Structure"),
        ("warnings", f"Warnings ({len(_all_warnings(data))})"),
    ]
    nav = " ".join(f'<a href="#{a}">{t}</a>' for a, t in links)
    return (
        f'<header>\n<h1>{title}</h1>\n<dl class="meta">\n{meta}\n</dl>\n<nav>{nav}</nav>\n</header>'
    )


def _potential(pot: Mapping[str, Any]) -> str:
    name = pot.get("name") or "unknown"
    parts = [f"<strong>{_e(name)}</strong>"]
    if pot.get("model_version"):
        parts.append(_e(pot["model_version"]))
    extra = [
        f"{_e(k)}={_e(v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v))}"
        for k, v in pot.items()
        if k not in ("name", "model_version")
    ]
    if extra:
        parts.append('<span class="unit">(' + ", ".join(extra) + ")</span>")
    return " ".join(parts)


def _figure(fig: ReportFigure | None) -> str:
    if fig is None:
        return ""
    b64 = base64.b64encode(fig.png).decode("ascii")
    return (
        f'<figure id="fig-{_e(fig.name)}">\n<h3>{_e(fig.title)}</h3>\n'
        f'<img src="data:image/png;base64,{b64}" alt="{_e(fig.alt)}">\n'
        f"<figcaption>{_e(fig.caption)}</figcaption>\n</figure>"
    )


def _missing(what: str, why: str) -> str:
    return f'<p class="missing">{_e(what)} omitted: {_e(why)}.</p>'


def _unconverged_box(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    if data.get("preset_converged") is False:
        preset = data.get("preset") or "this"
        lines.append(f"<strong>{_e(UNCONVERGED_PRESET.format(preset=preset))}</strong>")
    for row in data.get("convergence") or []:
        if row.get("converged") is False or row.get("converged") is None:
            t = _float(row.get("temperature_K"))
            reasons = [str(r) for r in row.get("reasons") or []]
            why = "; ".join(reasons) if reasons else "no reason recorded"
            where = "?" if t is None else f"{t:g} K"
            lines.append(f"<strong>{_e(where)} not converged:</strong> {_e(why)}")
    if not lines:
        return ""
    return (
        '<div class="warning-unconverged" role="alert">\n'
        + "\n".join(f"<p>{line}</p>" for line in lines)
        + "\n<p>Treat the conductivities and activation energies below as indicative only.</p>"
        "\n</div>"
    )


def _convergence_section(data: Mapping[str, Any], figs: Mapping[str, ReportFigure]) -> str:
    parts = ['<section id="convergence">', "<h2>Convergence</h2>", _unconverged_box(data)]
    rows = sorted(
        (
            (i, r)
            for i, r in enumerate(data.get("convergence") or [])
            if _float(r.get("temperature_K")) is not None
        ),
        key=lambda ir: float(ir[1]["temperature_K"]),
    )
    if not rows:
        parts.append(
            _missing(
                "Convergence panel",
                "the results hold no convergence block (e.g. assembled from analysis JSON), so "
                "whether the runs were long enough was not checked",
            )
        )
        parts.append("</section>")
        return "\n".join(p for p in parts if p)
    if not _unconverged_box(data):
        parts.append('<p class="note">Every temperature passed the convergence checks.</p>')
    head = (
        "<tr><th>T (K)</th><th>trajectory (ps)</th><th>diffusive after (ps)</th>"
        "<th>length / onset</th><th>hops</th><th>hops per ion</th><th>converged</th>"
        '<th class="label">reasons</th></tr>'
    )
    body = []
    for i, r in rows:
        t = float(r["temperature_K"])
        tk = _tkey(t)
        src = _pointer("convergence", i)
        dur, onset = _float(r.get("duration_ps")), _float(r.get("diffusive_onset_ps"))
        ratio = dur / onset if dur is not None and onset else None
        ok = r.get("converged") is True
        n_hops = r.get("n_hops")
        body.append(
            "<tr>"
            f"<td>{t:g}</td>"
            f"<td>{_num('duration_ps_' + tk, dur, src + '/duration_ps')}</td>"
            f"<td>{_num('diffusive_onset_ps_' + tk, onset, src + '/diffusive_onset_ps', display=None if onset is not None else 'never')}</td>"
            f"<td>{_derived('length_over_onset_' + tk, ratio, 'duration_ps / diffusive_onset_ps')}</td>"
            f"<td>{_num('n_hops_' + tk, n_hops, src + '/n_hops', display=None if n_hops is None else str(n_hops))}</td>"
            f"<td>{_num('hops_per_ion_' + tk, r.get('hops_per_ion'), src + '/hops_per_ion')}</td>"
            f'<td class="{"good" if ok else "bad"}">{"yes" if ok else "no"}</td>'
            f'<td class="label">{_e("; ".join(str(x) for x in r.get("reasons") or []) or "—")}</td>'
            "</tr>"
        )
    parts.append(f"<table>\n{head}\n" + "\n".join(body) + "\n</table>")
    parts.append(_figure(figs.get("convergence")))
    parts.append(_figure(figs.get("error_history")))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _untrusted_box(trust: Mapping[str, Any]) -> str:
    lines = []
    for r in trust.get("results") or []:
        if r.get("out_of_domain") is not True:
            continue
        t = _float(r.get("temperature_K"))
        where = f"{t:g} K" if t is not None else str(r.get("source") or "a run")
        frac = _float(r.get("fraction_out_of_domain"))
        limit = _float(r.get("limit_fraction"))
        text = (
            f"{_fmt(None if frac is None else 100 * frac)} % of local environments lie beyond "
            f"the training data (limit {_fmt(None if limit is None else 100 * limit)} %)"
        )
        unknown = r.get("unknown_species") or []
        if unknown:
            text += f"; species absent from it: {', '.join(map(str, unknown))}"
        lines.append(f"<strong>{_e(where)} outside the training domain:</strong> {_e(text)}")
    if not lines:
        return ""
    return (
        '<div class="warning-untrusted" role="alert">\n'
        + "\n".join(f"<p>{line}</p>" for line in lines)
        + "\n<p>The potential extrapolates in these runs: its test errors do not cover them. "
        "Label frames of these runs (<code>solidion potential select</code>, <code>label</code>) "
        "and fine-tune again.</p>\n</div>"
    )


def _trust_section(data: Mapping[str, Any]) -> str:
    """How far the production runs lie from the fine-tuning data (``results.json`` ``trust``)."""
    trust = data.get("trust")
    if not isinstance(trust, Mapping):
        return ""
    parts = ['<section id="trust">', "<h2>Training domain</h2>"]
    if trust.get("available") is not True:
        reason = str(trust.get("reason") or "no training-domain reference")
        parts.append(f'<p class="note">No training-domain check: {_e(reason)}.</p>')
        parts.append("</section>")
        return "\n".join(parts)
    box = _untrusted_box(trust)
    parts.append(box)
    ref = trust.get("reference") or {}
    limit = _float(trust.get("limit_fraction"))
    if not box:
        parts.append(
            '<p class="note">Every production run stays within the training domain: at most '
            f"{_e(_fmt(None if limit is None else 100 * limit))} % of its local environments lie "
            "beyond the held-out threshold.</p>"
        )
    q = _float(ref.get("quantile"))
    parts.append(
        "<p>Distance d of each atom's local environment (smoothed partial neighbour densities) "
        "to the nearest environment of the same element in the fine-tuning data, relative to a "
        f"threshold t set at the {_e(_fmt(None if q is None else 100 * q))}th percentile of "
        f"held-out distances ({_e(ref.get('calibration') or 'calibration not recorded')}); "
        f"reference: {_e(ref.get('n_frames', '?'))} training frames.</p>"
    )
    head = (
        "<tr><th>T (K)</th><th>frames</th><th>environments</th><th>out of domain (%)</th>"
        "<th>median d/t</th><th>99th percentile d/t</th><th>max d/t</th>"
        '<th class="label">species absent from the data</th><th>verdict</th></tr>'
    )
    body = []
    for i, r in enumerate(trust.get("results") or []):
        t = _float(r.get("temperature_K"))
        tk = _tkey(t) if t is not None else f"run{i}"
        src = _pointer("trust", "results", i)
        bad = r.get("out_of_domain") is True
        n_frames, n_env = r.get("n_frames"), r.get("n_environments")
        body.append(
            "<tr>"
            f"<td>{'—' if t is None else f'{t:g}'}</td>"
            f"<td>{_num('trust_n_frames_' + tk, n_frames, src + '/n_frames', display=str(n_frames))}</td>"
            f"<td>{_num('trust_n_environments_' + tk, n_env, src + '/n_environments', display=str(n_env))}</td>"
            f"<td>{_num('trust_out_of_domain_percent_' + tk, r.get('fraction_out_of_domain'), src + '/fraction_out_of_domain', 100.0)}</td>"
            f"<td>{_num('trust_relative_distance_median_' + tk, r.get('relative_distance_median'), src + '/relative_distance_median')}</td>"
            f"<td>{_num('trust_relative_distance_p99_' + tk, r.get('relative_distance_p99'), src + '/relative_distance_p99')}</td>"
            f"<td>{_num('trust_relative_distance_max_' + tk, r.get('relative_distance_max'), src + '/relative_distance_max')}</td>"
            f'<td class="label">{_e(", ".join(map(str, r.get("unknown_species") or [])) or "—")}</td>'
            f'<td class="{"bad" if bad else "good"}">{"outside" if bad else "within"}</td>'
            "</tr>"
        )
    if body:
        parts.append(f"<table>\n{head}\n" + "\n".join(body) + "\n</table>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _summary_section(data: Mapping[str, Any]) -> str:
    parts = ['<section id="summary">', "<h2>Summary</h2>"]
    transport = data.get("transport")
    if not transport:
        parts.append(_missing("Transport summary", "the results hold no transport block"))
        parts.append("</section>")
        return "\n".join(parts)
    mobile = data.get("mobile") or _get(transport, "results", 0, "mobile") or "Li"
    arr = transport.get("arrhenius")
    if isinstance(arr, Mapping) and arr:
        t_ext = extrapolation_temperature(arr) or 300.0
        tk = _tkey(t_ext)
        rows = []
        key_s = f"conductivity_{t_ext:g}K_S_cm"
        if key_s in arr:
            src = _pointer("transport", "arrhenius", key_s)
            est = arr[key_s]
            v, s = _float(_get(est, "value")), _float(_get(est, "stderr"))
            interval = ""
            fit = _get(arr, "fits", "conductivity")
            key_i = f"interval_{t_ext:g}K_S_cm"
            bounds = _get(fit, key_i)
            if isinstance(bounds, list) and len(bounds) == 2:
                # the fit's own interval: log-normal, t-quantile with n − 2 degrees of freedom
                at = _pointer("transport", "arrhenius", "fits", "conductivity", key_i)
                interval = (
                    f"68 % interval {_num(f'sigma_{tk}_mS_cm_low', bounds[0], at + '/0', MS_PER_S)}"
                    f" – {_num(f'sigma_{tk}_mS_cm_high', bounds[1], at + '/1', MS_PER_S)} mS/cm "
                    f"(Student t, {_e(_get(fit, 'dof'))} degrees of freedom)"
                )
            elif v is not None and v > 0 and s is not None:
                lo = v * MS_PER_S * math.exp(-s / v)
                hi = v * MS_PER_S * math.exp(s / v)
                how = "value·exp(∓stderr/value): log-normal 68 % interval"
                interval = (
                    f"68 % interval {_derived(f'sigma_{tk}_mS_cm_low', lo, how)} – "
                    f"{_derived(f'sigma_{tk}_mS_cm_high', hi, how)} mS/cm"
                )
            rows.append(
                (
                    f"<strong>σ({t_ext:g} K)</strong> <span class='unit'>mS/cm</span>",
                    "<strong>" + _estimate(f"sigma_{tk}_mS_cm", est, src, MS_PER_S) + "</strong>",
                    f"full-Einstein σ_E, Arrhenius fit of ln σT extrapolated; {interval}",
                )
            )
        if "conductivity_activation_energy_eV" in arr:
            rows.append(
                (
                    "E<sub>a</sub> of σT <span class='unit'>eV</span>",
                    _estimate(
                        "Ea_sigma_eV",
                        arr["conductivity_activation_energy_eV"],
                        _pointer("transport", "arrhenius", "conductivity_activation_energy_eV"),
                    ),
                    "slope of ln σT against 1/T",
                )
            )
        if "activation_energy_eV" in arr:
            rows.append(
                (
                    f"<strong>E<sub>a</sub></strong> of D*({_e(mobile)}) <span class='unit'>eV</span>",
                    "<strong>"
                    + _estimate(
                        "Ea_eV",
                        arr["activation_energy_eV"],
                        _pointer("transport", "arrhenius", "activation_energy_eV"),
                    )
                    + "</strong>",
                    "slope of ln D* against 1/T",
                )
            )
        key_d = f"diffusivity_{t_ext:g}K_cm2_s"
        if key_d in arr:
            rows.append(
                (
                    f"D*({_e(mobile)}, {t_ext:g} K) <span class='unit'>cm²/s</span>",
                    _estimate(
                        f"D_{tk}_cm2_s", arr[key_d], _pointer("transport", "arrhenius", key_d)
                    ),
                    "extrapolated",
                )
            )
        if "prefactor_cm2_s" in arr:
            rows.append(
                (
                    "D<sub>0</sub> <span class='unit'>cm²/s</span>",
                    _estimate(
                        "D0_cm2_s",
                        arr["prefactor_cm2_s"],
                        _pointer("transport", "arrhenius", "prefactor_cm2_s"),
                    ),
                    "Arrhenius prefactor of D*",
                )
            )
        parts.append(
            '<table class="summary">\n<tr><th class="label">quantity</th><th>value ± s.e.</th>'
            '<th class="label">how</th></tr>\n'
            + "\n".join(
                f'<tr><td class="label">{a}</td><td>{b}</td><td class="label">{c}</td></tr>'
                for a, b, c in rows
            )
            + "\n</table>"
        )
    else:
        parts.append(
            _missing(
                "Arrhenius summary (σ at 300 K, E_a)",
                "no Arrhenius fit in the results (it needs at least two temperatures)",
            )
        )
    parts.append(_per_temperature_table(transport, mobile))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _per_temperature_table(transport: Mapping[str, Any], mobile: str) -> str:
    rows = [
        (i, r)
        for i, r in enumerate(transport.get("results") or [])
        if isinstance(r, Mapping) and _float(r.get("temperature_K")) is not None
    ]
    if not rows:
        return _missing("Per-temperature transport", "the transport block holds no results")
    rows.sort(key=lambda ir: float(ir[1]["temperature_K"]))
    m = _e(mobile)
    head = (
        f"<tr><th>T (K)</th><th>D*({m}) <span class='unit'>cm²/s</span></th>"
        "<th>σ<sub>E</sub> <span class='unit'>mS/cm</span></th>"
        "<th>σ<sub>NE</sub> <span class='unit'>mS/cm</span></th>"
        "<th>σ<sub>cNE</sub> <span class='unit'>mS/cm</span></th>"
        "<th>frame</th><th>H<sub>R</sub></th>"
        f"<th>t<sub>{m}</sub> (E)</th><th>t<sub>{m}</sub> (NE)</th><th>t<sub>{m}</sub> (cNE)</th></tr>"
    )
    body = []
    for i, r in rows:
        t = float(r["temperature_K"])
        tk = _tkey(t)
        src = _pointer("transport", "results", i)
        cells = [
            _estimate(
                f"D_{mobile}_cm2_s_{tk}",
                _get(r, "species", mobile, "tracer_diffusivity_cm2_s"),
                src + _pointer("species", mobile, "tracer_diffusivity_cm2_s"),
            )
        ]
        for short, long in (
            ("E", "einstein"),
            ("NE", "nernst_einstein"),
            ("cNE", "cluster_nernst_einstein"),
        ):
            cells.append(
                _estimate(
                    f"sigma_{short}_mS_cm_{tk}",
                    _get(r, "conductivity_S_cm", long),
                    src + _pointer("conductivity_S_cm", long),
                    MS_PER_S,
                )
            )
        # the reference frame of H_R and t (they change with it), beside them
        cells.append(_e(r.get("frame") or "?"))
        cells.append(
            _estimate(f"haven_ratio_{tk}", r.get("haven_ratio"), src + _pointer("haven_ratio"))
        )
        for short, long in (
            ("E", "einstein"),
            ("NE", "nernst_einstein"),
            ("cNE", "cluster_nernst_einstein"),
        ):
            cells.append(
                _estimate(
                    f"t_{mobile}_{short}_{tk}",
                    _get(r, "transference", long, mobile),
                    src + _pointer("transference", long, mobile),
                )
            )
        body.append(f"<tr><td>{t:g}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        '<h3>Per temperature</h3>\n<div class="table-wrap"><table class="per-temperature">\n'
        + head
        + "\n"
        + "\n".join(body)
        + '\n</table></div>\n<p class="unit">H<sub>R</sub> = D*/D<sub>σ</sub> (Haven ratio), '
        "both fitted over one window; frame: the reference frame of D*, H<sub>R</sub> and t "
        "(framework: the centre of mass of the other species, where L<sub>mm</sub> is "
        "(1 + M<sub>m</sub>/M<sub>fw</sub>)² its barycentric value); "
        f"t<sub>{m}</sub>: transference number of {m} from the full Onsager matrix (E), from "
        f"independent ions (NE) and from clusters (cNE{_cluster_note(r for _, r in rows)}). "
        "± is one calibrated standard error.</p>"
    )


def _cluster_note(rows: Iterable[Mapping[str, Any]]) -> str:
    """``: metal-centred clusters, …`` from the results' ``clusters`` blocks ('' when absent)."""
    defs, withheld = [], False
    for r in rows:
        c = r.get("clusters")
        if isinstance(c, Mapping):
            if c.get("definition") and c["definition"] not in defs:
                defs.append(str(c["definition"]))
            withheld = withheld or bool(c.get("withheld_because"))
    if not defs:
        return ""
    note = f": {', '.join(_e(d) for d in defs)} clusters"
    return note + ("; none where they percolate (see the warnings)" if withheld else "")


def _transport_figures_section(data: Mapping[str, Any], figs: Mapping[str, ReportFigure]) -> str:
    parts = ['<section id="transport">', "<h2>Transport</h2>"]
    if data.get("transport") is None and data.get("msd") is None:
        parts.append(_missing("Transport figures", "the results hold no transport block"))
    for name, what in (
        ("arrhenius", "Arrhenius plot"),
        ("conductivity", "Conductivity bar chart"),
        ("msd", "MSD plot"),
    ):
        if name in figs:
            parts.append(_figure(figs[name]))
        elif name == "msd" and data.get("msd") is None:
            parts.append(_missing(what, "the results hold no MSD curves"))
        elif data.get("transport") is not None:
            parts.append(_missing(what, "no data for it in the transport block"))
    parts.append("</section>")
    return "\n".join(parts)


def _structure_section(data: Mapping[str, Any], figs: Mapping[str, ReportFigure]) -> str:
    parts = ['<section id="structure">', "<h2>Structure</h2>"]
    structure = data.get("structure")
    if not structure:
        parts.append(_missing("Structure panels", "the results hold no structure block"))
        parts.append("</section>")
        return "\n".join(parts)
    parts.append(_structure_table(structure))
    for name, what in (
        ("rdf", "g(r) and N(r)"),
        ("polyhedra", "Polyhedra fractions"),
        ("fragments", "Fragment size distribution"),
        ("residence", "Residence times"),
    ):
        if name in figs:
            parts.append(_figure(figs[name]))
        else:
            parts.append(_missing(what, "no data for it in the structure block"))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _structure_table(structure: Mapping[str, Any]) -> str:
    rows = [(i, r) for i, r in enumerate(structure.get("results") or []) if isinstance(r, Mapping)]
    if not rows:
        return _missing("Structure table", "the structure block holds no results")
    rows.sort(key=lambda ir: _sort_t(ir[1]))
    classes = _ordered(k for _, r in rows for k in (_get(r, "polyhedra", "fractions") or {}))
    envs = _ordered(k for _, r in rows for k in (r.get("residence") or {}))
    centre = _get(rows[0][1], "polyhedra", "center") or "M"
    head = (
        "<tr><th>T (K)</th><th>mean coordination</th>"
        + "".join(f"<th>{_e(centre)}{_e(c)} fraction</th>" for c in classes)
        + "<th>mean fragment size</th>"
        + "".join(f"<th>τ on {_e(e)} <span class='unit'>ps</span></th>" for e in envs)
        + "</tr>"
    )
    body = []
    for i, r in rows:
        t = _float(r.get("temperature_K"))
        tk = _tkey(t)
        src = _pointer("structure", "results", i)
        cells = [
            _num(
                f"mean_coordination_{tk}",
                _get(r, "polyhedra", "mean_coordination"),
                src + _pointer("polyhedra", "mean_coordination"),
            )
        ]
        for c in classes:
            cells.append(
                _num(
                    f"polyhedra_{c}_fraction_{tk}",
                    _get(r, "polyhedra", "fractions", c),
                    src + _pointer("polyhedra", "fractions", c),
                )
            )
        cells.append(
            _num(
                f"fragment_mean_size_{tk}",
                _get(r, "fragments", "mean_size"),
                src + _pointer("fragments", "mean_size"),
            )
        )
        for e in envs:
            cells.append(
                _estimate(
                    f"tau_{e}_ps_{tk}",
                    _get(r, "residence", e, "tau_ps"),
                    src + _pointer("residence", e, "tau_ps"),
                )
            )
        body.append(
            f"<tr><td>{'—' if t is None else f'{t:g}'}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    table = (
        '<div class="table-wrap"><table class="structure">\n'
        + head
        + "\n"
        + "\n".join(body)
        + "\n</table></div>"
    )
    act = structure.get("residence_activation_eV") or {}
    if act:
        items = [
            f"<tr><td class='label'>{_e(label)}</td><td>"
            + _estimate(
                f"epsilon_a_{label}_eV",
                est,
                _pointer("structure", "residence_activation_eV", label),
            )
            + "</td></tr>"
            for label, est in act.items()
        ]
        table += (
            '\n<h3>Activation energy of hops by environment</h3>\n<table class="activation">\n'
            "<tr><th class='label'>environment</th><th>ε<sub>a</sub> <span class='unit'>eV</span></th></tr>\n"
            + "\n".join(items)
            + "\n</table>"
        )
    return table


def _ordered(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _all_warnings(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, message) of every warning in the results, each message once.

    The run's own list comes first; a message that an analysis also reports is labelled with
    that analysis (and its temperature), the most specific source.
    """
    specific: dict[str, str] = {}
    transport = data.get("transport") or {}
    structure = data.get("structure") or {}
    for r in transport.get("results") or []:
        t = _float(_get(r, "temperature_K"))
        for w in _get(r, "warnings") or []:
            specific.setdefault(str(w), "transport" + ("" if t is None else f", {t:g} K"))
    for w in transport.get("warnings") or []:
        specific.setdefault(str(w), "transport")
    for w in structure.get("warnings") or []:
        specific.setdefault(str(w), "structure")
    trust = data.get("trust")
    for w in (trust.get("warnings") if isinstance(trust, Mapping) else None) or []:
        specific.setdefault(str(w), "trust")
    found: dict[str, str] = {}
    for w in data.get("warnings") or []:
        found.setdefault(str(w), specific.get(str(w), "run"))
    for w, src in specific.items():
        found.setdefault(w, src)
    return [(src, w) for w, src in found.items()]


def _warnings_section(data: Mapping[str, Any]) -> str:
    items = _all_warnings(data)
    if not items:
        body = '<p class="missing">No warnings.</p>'
    else:
        body = (
            '<ul class="warnings">\n'
            + "\n".join(f'<li><span class="src">[{_e(s)}]</span>{_e(m)}</li>' for s, m in items)
            + "\n</ul>"
        )
    return f'<section id="warnings">\n<h2>Warnings ({len(items)})</h2>\n{body}\n</section>'


def _footer(data: Mapping[str, Any]) -> str:
    from solidion import __version__

    return (
        f"<footer>Report by solidion {_e(__version__)} from results of solidion "
        f"{_e(data.get('solidion_version') or 'unknown')}. Self-contained page: no external "
        "resources.</footer>"
    )

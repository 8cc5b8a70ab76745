"""The cross-composition page of a campaign, and its table as CSV or Parquet.

The reference study's central claim is comparative: across A = Li, Na, K; M = Al, Ga, In and
X = Cl, Br, I in A M X₂.₅O₀.₇₅ the conductivity barely depends on the chemistry (Binci, Jun et
al. 2026). :func:`build_campaign_report` draws that comparison from the campaign database alone:

- a table per composition of σ(300 K) (full-Einstein σ_E, Arrhenius-extrapolated), E_a of
  D*(mobile) and of σT, and at each temperature the Haven ratio H_R = D*/D_σ and the
  transference number t of the mobile (alkali) ion from the full Onsager matrix;
- one figure of those four quantities against A, against M and against X (family members) or
  per composition (an explicit list), each point ± one standard error, with the mean of each
  level;
- ε_a, the activation energy of the residence time of the mobile ion per polyhedron
  environment of the centre (M X₄, M X₃O, ...), across chemistries;
- task states and the failures, and a CSV download of the comparison table.

The page follows the single-run report (:mod:`solidion.report.html`): one self-contained file
(inline CSS, base64 PNG figures, no script, no external resource), and every number in an
element with ``data-key``, ``data-value`` (the stored number times ``data-scale``, at full
precision) and ``data-source``: a JSON pointer (RFC 6901) ``/results/<formula>/<T>/<quantity>
/value`` (or ``/stderr``) into the database's ``results`` table, read as nested objects, with
``<T>`` the temperature in K (``600``) or ``series`` for a quantity of the whole series.

A number the analysis **withheld** (stored with a null value and the reason, see
:mod:`solidion.campaign.store`) reads "withheld" in its cell, never a bare dash: the element
keeps ``data-key`` and ``data-source`` (``data-value="null"``) and adds ``data-withheld`` with the
reason, which is also the cell's tooltip (``title``) and a numbered note below the table. A dash
is left only where the database holds no row at all (the composition was not analysed).
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solidion.campaign.config import Campaign
from solidion.campaign.store import Store
from solidion.errors import InputError
from solidion.report.figures import MS_PER_S, ReportFigure, _new_figure, _png
from solidion.report.html import _CSS, _e, _estimate, _figure, _missing, _pointer

__all__ = [
    "SUMMARY_COLUMNS",
    "build_campaign_report",
    "export_table",
    "frame_conflict",
    "summary_rows",
]

#: Columns of the long table (:func:`export_table`), one row per stored number.
TABLE_COLUMNS = (
    "composition",
    "A",
    "M",
    "X",
    "temperature_K",
    "quantity",
    "value",
    "stderr",
    "unit",
    "withheld",
)
#: Columns of the comparison table (per composition), before the per-temperature ones.
SUMMARY_COLUMNS = (
    "composition",
    "A",
    "M",
    "X",
    "mobile",
    "state",
    "sigma_300K_S_cm",
    "sigma_300K_S_cm_stderr",
    "sigma_300K_S_cm_withheld",
    "Ea_eV",
    "Ea_eV_stderr",
    "Ea_eV_withheld",
    "Ea_sigma_eV",
    "Ea_sigma_eV_stderr",
    "Ea_sigma_eV_withheld",
)

_EXTRA_CSS = """
table.comparison td, table.comparison th { padding: .25rem .45rem; font-size: .85rem; }
td.state-done { color: #1b6b2f; } td.state-failed, td.state-blocked { color: #a61b1b; }
a.download { color: var(--accent); }
.withheld { color: #8a4b00; font-style: italic; cursor: help; text-decoration: underline dotted; }
sup.note-ref a { color: #8a4b00; text-decoration: none; }
ol.withheld-notes { font-size: .85rem; color: var(--muted); }
ol.withheld-notes .src { color: var(--ink); }
"""


@dataclass(frozen=True)
class _Quantity:
    """A quantity of the comparison figure: where it is stored and how it is shown."""

    label: str
    quantity: str  # template: {mobile}
    per_temperature: bool
    scale: float = 1.0
    log: bool = False


_QUANTITIES = (
    _Quantity(
        "σ(300 K) (mS/cm)",
        "arrhenius.conductivity_300K_S_cm",
        False,
        MS_PER_S,
        True,
    ),
    _Quantity("Eₐ of D* (eV)", "arrhenius.activation_energy_eV", False),
    _Quantity("H_R", "transport.haven_ratio", True),
    _Quantity("t (mobile ion, Einstein)", "transport.transference.einstein.{mobile}", True),
)


def _mobile(formula: str) -> str | None:
    from solidion.chemistry import Composition
    from solidion.pipeline.stages import species_roles

    try:
        return species_roles(Composition(formula))[0]
    except InputError:
        return None


def _load(campaign: Campaign) -> tuple[list[dict[str, Any]], dict[str, dict], list[dict]]:
    """(compositions with their state, results as {formula: {(T, quantity): row}}, tasks)."""
    with Store.open_readonly(campaign.database) as store:
        snap = store.snapshot()
        rows = store.results()
    tasks = list(snap.tasks)
    wanted = {c.formula for c in campaign.compositions}
    comps = []
    for c in snap.compositions:
        if c["formula"] not in wanted:
            continue
        mine = [t for t in tasks if t["composition"] == c["formula"]]
        states = {t["state"] for t in mine}
        if mine and states == {"done"}:
            state = "done"
        elif "failed" in states:
            state = "failed"
        elif "blocked" in states:
            state = "blocked"
        elif "running" in states or "queued" in states:
            state = "running"
        else:
            state = "pending"
        comps.append({**c, "state": state, "mobile": _mobile(c["formula"])})
    results: dict[str, dict] = {}
    for r in rows:
        results.setdefault(r["composition"], {})[(r["temperature_K"], r["quantity"])] = r
    return comps, results, tasks


def _tsrc(t: float | None) -> str:
    return "series" if t is None else f"{t:g}"


def _est_of(results: Mapping[str, dict], formula: str, t: float | None, quantity: str) -> dict:
    row = results.get(formula, {}).get((t, quantity))
    if row is None:
        return {}
    return {"value": row["value"], "stderr": row["stderr"], "withheld": _withheld(row)}


def _withheld(row: Mapping[str, Any] | None) -> str | None:
    """Why a stored number has no value (None when it has one, or there is no row)."""
    if row is None or row["value"] is not None:
        return None
    return row.get("withheld") or "not determined (no reason stored)"


class _Notes:
    """Numbered notes of one table: the reasons its withheld numbers were withheld."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.reasons: dict[str, list[str]] = {}

    def ref(self, reason: str, where: str) -> int:
        """The note number of ``reason`` (a new one the first time), noting ``where``."""
        self.reasons.setdefault(reason, []).append(where)
        return list(self.reasons).index(reason) + 1

    def html(self) -> str:
        if not self.reasons:
            return ""
        items = "\n".join(
            f'<li id="{self.prefix}-{k}"><span class="src">{_e("; ".join(where))}:</span> '
            f"{_e(reason)}</li>"
            for k, (reason, where) in enumerate(self.reasons.items(), start=1)
        )
        return (
            "<p class='unit'>Withheld: numbers the analysis did not determine, and why "
            "(null in the database, with the reason in its <code>withheld</code> column).</p>\n"
            f'<ol class="withheld-notes">\n{items}\n</ol>'
        )


def _frames(results: Mapping[str, dict], formulas: Sequence[str]) -> dict[str, list[str]]:
    """Reference frames each composition's transport was analysed in (stored as flag rows)."""
    prefix = "transport.frame."
    return {
        f: sorted({q[len(prefix) :] for _, q in results.get(f, {}) if q.startswith(prefix)})
        for f in formulas
    }


def frame_conflict(results: Mapping[str, dict], formulas: Sequence[str]) -> str | None:
    """Why H_R and t cannot be compared across these compositions (None when they can).

    H_R and the transference numbers depend on the reference frame (in the framework frame
    L_mm is (1 + M_m/M_fw)² its barycentric value: 1.11 for Li, 1.39 for Na, 1.71 for K in
    AMX₂.₅O₀.₇₅), so compositions analysed in different frames are not compared. Results that
    record no frame (older databases) do not block the comparison.
    """
    frames = _frames(results, formulas)
    names = sorted({n for fs in frames.values() for n in fs})
    if len(names) <= 1:
        return None
    groups = "; ".join(f"{n}: {', '.join(f for f, fs in frames.items() if n in fs)}" for n in names)
    return (
        "H_R and t are not compared across compositions: they were analysed in different "
        f"reference frames ({groups}), and both quantities change with the frame. Analyse "
        "every composition in one frame."
    )


def _cell(
    key: str,
    results: Mapping[str, dict],
    formula: str,
    t: float | None,
    q: str,
    scale: float,
    notes: _Notes,
    label: str,
) -> str:
    """The estimate of one stored number; "withheld" with its reason (tooltip and a numbered
    note in ``notes``, where ``label`` names the cell) when the analysis gave none."""
    row = results.get(formula, {}).get((t, q))
    if row is None:
        return '<span class="missing" title="not in the database: not analysed">—</span>'
    source = _pointer("results", formula, _tsrc(t), q)
    reason = _withheld(row)
    if reason is None:
        return _estimate(key, {"value": row["value"], "stderr": row["stderr"]}, source, scale)
    n = notes.ref(reason, f"{formula}, {label}")
    attrs = (
        f' data-key="{_e(key)}" data-value="null" data-source="{_e(source + "/value")}"'
        f' data-withheld="{_e(reason)}" title="{_e(reason)}"'
    )
    return (
        f'<span class="withheld"{attrs}>withheld</span>'
        f'<sup class="note-ref"><a href="#{notes.prefix}-{n}">{n}</a></sup>'
    )


def summary_rows(campaign: Campaign) -> list[dict[str, Any]]:
    """The comparison table: one row per composition (values in stored units, S/cm for σ).

    Columns: :data:`SUMMARY_COLUMNS`, ``frame`` (the reference frame of H_R and t), then for
    each temperature T ``haven_ratio_<T>K``, ``t_mobile_E_<T>K`` (each with ``_stderr`` and
    ``_withheld``; empty for every composition when the compositions were analysed in different
    frames, see :func:`frame_conflict`) and ``converged_<T>K``. A ``_withheld`` column holds the
    reason a null value was withheld (None when the value was given or was never computed).
    """
    comps, results, _ = _load(campaign)
    conflict = frame_conflict(results, [c["formula"] for c in comps])
    frames = _frames(results, [c["formula"] for c in comps])
    out = []
    for c in comps:
        f, mobile = c["formula"], c["mobile"]
        row: dict[str, Any] = {k: c.get(k) for k in ("A", "M", "X", "mobile", "state")}
        row["composition"] = f
        row["frame"] = ",".join(frames[f]) or None
        for name, q in (
            ("sigma_300K_S_cm", "arrhenius.conductivity_300K_S_cm"),
            ("Ea_eV", "arrhenius.activation_energy_eV"),
            ("Ea_sigma_eV", "arrhenius.conductivity_activation_energy_eV"),
        ):
            est = _est_of(results, f, None, q)
            row[name], row[f"{name}_stderr"] = est.get("value"), est.get("stderr")
            row[f"{name}_withheld"] = est.get("withheld")
        for t in campaign.temperatures_K:
            for name, q in (
                ("haven_ratio", "transport.haven_ratio"),
                ("t_mobile_E", f"transport.transference.einstein.{mobile}"),
            ):
                est = {} if conflict else _est_of(results, f, t, q)
                row[f"{name}_{t:g}K"], row[f"{name}_{t:g}K_stderr"] = (
                    est.get("value"),
                    est.get("stderr"),
                )
                row[f"{name}_{t:g}K_withheld"] = est.get("withheld")
            conv = results.get(f, {}).get((t, "convergence.converged"))
            row[f"converged_{t:g}K"] = None if conv is None else bool(conv["value"])
        out.append(
            {k: row[k] for k in (*SUMMARY_COLUMNS, *[k for k in row if k not in SUMMARY_COLUMNS])}
        )
    return out


def export_table(campaign: Campaign, path: str | Path) -> Path:
    """Write every stored number as a long table: ``.csv``, or ``.parquet`` (needs pyarrow).

    Columns: :data:`TABLE_COLUMNS` (``temperature_K`` empty/null for series quantities;
    ``withheld`` the reason of a null value the analysis withheld).

    Raises:
        InputError: Unknown suffix, no database, pyarrow missing for Parquet.
    """
    from solidion.io._atomic import atomic_path

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"{target}: the table is written as .csv or .parquet")
    with Store.open_readonly(campaign.database) as store:
        wanted = {c.formula for c in campaign.compositions}
        rows = [r for r in store.results() if r["composition"] in wanted]
    if suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f"{target}: Parquet needs pyarrow (pip install pyarrow)") from None
        schema = pa.schema(
            [
                ("composition", pa.string()),
                ("A", pa.string()),
                ("M", pa.string()),
                ("X", pa.string()),
                ("temperature_K", pa.float64()),
                ("quantity", pa.string()),
                ("value", pa.float64()),
                ("stderr", pa.float64()),
                ("unit", pa.string()),
                ("withheld", pa.string()),
            ]
        )
        table = pa.Table.from_pylist(
            [{k: r[k] for k in TABLE_COLUMNS} for r in rows], schema=schema
        )
        with atomic_path(target, suffix=".parquet.tmp") as tmp:
            pq.write_table(table, tmp)
        return target
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TABLE_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                "" if r[k] is None else (repr(r[k]) if isinstance(r[k], float) else r[k])
                for k in TABLE_COLUMNS
            ]
        )
    with atomic_path(target, suffix=".csv.tmp") as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return target


def _summary_csv(summary: Sequence[Mapping[str, Any]]) -> str:
    if not summary:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(summary[0]))
    writer.writeheader()
    for r in summary:
        writer.writerow(
            {k: "" if v is None else (repr(v) if isinstance(v, float) else v) for k, v in r.items()}
        )
    return buf.getvalue()


# -- figures -----------------------------------------------------------------------------------
def _value(
    results: Mapping[str, dict], f: str, t: float | None, q: str, scale: float
) -> tuple[float, float]:
    row = results.get(f, {}).get((t, q))
    if row is None or row["value"] is None:
        return math.nan, math.nan
    s = row["stderr"]
    return row["value"] * scale, (math.nan if s is None else abs(s * scale))


def _factors(comps: Sequence[Mapping[str, Any]]) -> list[str]:
    """Family factors with more than one level among the compositions (A, M, X)."""
    if not comps or any(c["A"] is None for c in comps):
        return []
    return [k for k in ("A", "M", "X") if len({c[k] for c in comps}) > 1]


def _comparison_figure(
    comps: Sequence[Mapping[str, Any]], results: Mapping[str, dict], t_star: float
) -> ReportFigure | None:
    done = [c for c in comps if c["formula"] in results]
    if not done:
        return None
    factors = _factors(done)
    columns = factors or ["composition"]
    nq = len(_QUANTITIES)
    if factors:  # rows: quantities; columns: the elements that vary
        fig = _new_figure(3.0 * len(factors), 2.3 * nq)
        axes = np.array(fig.subplots(nq, len(factors), squeeze=False))
    else:  # one panel per quantity, compositions along x
        fig = _new_figure(max(7.0, 0.9 * len(done) + 3.0), 6.4)
        axes = np.array(fig.subplots(2, 2)).reshape(nq, 1)
    conflict = frame_conflict(results, [c["formula"] for c in done])
    for i, q in enumerate(_QUANTITIES):
        t = t_star if q.per_temperature else None
        vals = np.array(
            [
                (math.nan, math.nan)
                if conflict and q.per_temperature  # frame-dependent: not compared
                else _value(
                    results, c["formula"], t, q.quantity.format(mobile=c["mobile"]), q.scale
                )
                for c in done
            ]
        )
        for j, col in enumerate(columns):
            ax = axes[i, j]
            if col == "composition":
                levels = [c["formula"] for c in done]
                x = np.arange(len(done), dtype=float)
            else:
                levels = list(dict.fromkeys(c[col] for c in done))
                pos = {lv: k for k, lv in enumerate(levels)}
                counts: dict[str, int] = {}
                x = np.empty(len(done))
                n_per = {lv: sum(1 for c in done if c[col] == lv) for lv in levels}
                for k, c in enumerate(done):
                    m = counts.get(c[col], 0)
                    counts[c[col]] = m + 1
                    spread = 0.5 if n_per[c[col]] > 1 else 0.0
                    x[k] = pos[c[col]] + spread * (m / max(1, n_per[c[col]] - 1) - 0.5)
            ok = np.isfinite(vals[:, 0])
            if q.log:
                ok &= vals[:, 0] > 0
            err = np.where(np.isfinite(vals[:, 1]), vals[:, 1], 0.0)
            if q.log:
                err = np.vstack([np.minimum(err, 0.95 * np.abs(vals[:, 0])), err])[:, ok]
            else:
                err = err[ok]
            if ok.any():
                ax.errorbar(
                    x[ok], vals[ok, 0], yerr=err, fmt="o", ms=4, color="C0", capsize=2, lw=0.8
                )
            if col != "composition":
                for k, lv in enumerate(levels):
                    sel = ok & np.array([c[col] == lv for c in done])
                    if sel.any():
                        mean = (
                            float(np.exp(np.mean(np.log(vals[sel, 0]))))
                            if q.log
                            else float(np.mean(vals[sel, 0]))
                        )
                        ax.hlines(mean, k - 0.35, k + 0.35, color="k", lw=1.5)
            if q.log and ok.any():
                ax.set_yscale("log")
            ax.set_xticks(
                range(len(levels)), levels, rotation=0 if col != "composition" else 60, fontsize=8
            )
            if col != "composition" and i == 0:
                ax.set_title(f"vs {col}", fontsize=9)
            if j == 0:
                label = q.label + (f" at {t_star:g} K" if q.per_temperature else "")
                ax.set_ylabel(label, fontsize=8)
    what = "A, M and X" if factors else "composition"
    alt = (
        f"Grid of panels: σ(300 K), the activation energy of D*, the Haven ratio and the "
        f"transference number of the mobile ion at {t_star:g} K (rows) against {what} "
        f"(columns), for {len(done)} compositions, each point with its standard error"
        + ("; black bars mark the mean of each level." if factors else ".")
    )
    caption = "Each point is one composition (±1 s.e.); " + (
        "black bars: mean of each level (geometric for σ). A flat row means the quantity "
        "does not depend on that element."
        if factors
        else "compositions in file order."
    )
    n_withheld = sum(
        1
        for q in _QUANTITIES
        if not (conflict and q.per_temperature)
        for c in done
        if _withheld(
            results.get(c["formula"], {}).get(
                (t_star if q.per_temperature else None, q.quantity.format(mobile=c["mobile"]))
            )
        )
    )
    if n_withheld:
        caption += (
            f" {n_withheld} withheld number(s) are not drawn; the table's notes give the reasons."
        )
    if conflict:
        caption += " " + conflict
    else:
        frames = {n for fs in _frames(results, [c["formula"] for c in done]).values() for n in fs}
        if frames:
            caption += f" H_R and t in the {', '.join(sorted(frames))} frame."
    return ReportFigure("comparison", "Transport across chemistries", alt, caption, _png(fig))


def _environments(results: Mapping[str, dict]) -> list[str]:
    envs: list[str] = []
    prefix = "structure.residence_activation_eV."
    for per in results.values():
        for t, q in per:
            if t is None and q.startswith(prefix) and q[len(prefix) :] not in envs:
                envs.append(q[len(prefix) :])
    return envs


def _epsilon_figure(
    comps: Sequence[Mapping[str, Any]], results: Mapping[str, dict]
) -> ReportFigure | None:
    envs = _environments(results)
    done = [c for c in comps if c["formula"] in results]
    if not envs or not done:
        return None
    fig = _new_figure(max(4.5, 0.5 * len(done) + 2.0), 3.2)
    ax = fig.add_subplot()
    width = 0.6 / max(1, len(envs))
    for k, env in enumerate(envs):
        vals = np.array(
            [
                _value(results, c["formula"], None, f"structure.residence_activation_eV.{env}", 1.0)
                for c in done
            ]
        )
        ok = np.isfinite(vals[:, 0])
        x = np.arange(len(done)) + (k - (len(envs) - 1) / 2) * width
        if ok.any():
            ax.errorbar(
                x[ok],
                vals[ok, 0],
                yerr=np.where(np.isfinite(vals[ok, 1]), vals[ok, 1], 0.0),
                fmt="o",
                ms=4,
                capsize=2,
                lw=0.8,
                color=f"C{k}",
                label=env,
            )
    ax.set_xticks(range(len(done)), [c["formula"] for c in done], rotation=60, fontsize=8)
    ax.set_ylabel("εₐ (eV)")
    ax.legend(frameon=False, fontsize=7, title="environment", title_fontsize=7)
    return ReportFigure(
        "epsilon",
        "Residence-time activation energy per environment",
        f"Activation energy ε_a of the mobile ion's residence time in each environment "
        f"({', '.join(envs)}) for {len(done)} compositions, with standard errors.",
        "ε_a from the Arrhenius fit of the mean residence time τ on polyhedra of each "
        "environment (solidion.structure.residence); missing points: no residence events "
        "resolved for that environment.",
        _png(fig),
    )


# -- page --------------------------------------------------------------------------------------
def build_campaign_report(
    campaign: Campaign, out_html: str | Path | None = None, *, temperature_K: float | None = None
) -> Path:
    """Write the cross-composition HTML page from the campaign database.

    Args:
        campaign: The campaign.
        out_html: Where (default ``<output>/campaign_report.html``).
        temperature_K: Temperature of the H_R and t panels (default: the lowest, closest to
            room temperature).

    Returns:
        The path of the page (written atomically).

    Raises:
        InputError: No database yet, or a temperature that is not one of the campaign's.
    """
    from solidion.io._atomic import atomic_path

    temps = sorted(campaign.temperatures_K)
    if temperature_K is None:
        t_star = temps[0]
    elif any(math.isclose(temperature_K, t) for t in temps):
        t_star = next(t for t in temps if math.isclose(temperature_K, t))
    else:
        raise InputError(
            f"temperature {temperature_K:g} K is not one of the campaign's "
            f"({', '.join(f'{t:g}' for t in temps)})"
        )
    comps, results, tasks = _load(campaign)
    summary = summary_rows(campaign)
    figs = [
        f
        for f in (_comparison_figure(comps, results, t_star), _epsilon_figure(comps, results))
        if f
    ]
    page = _render(campaign, comps, results, tasks, summary, figs, temps, t_star)
    out = Path(out_html) if out_html is not None else campaign.output / "campaign_report.html"
    if not out.parent.is_dir():
        raise InputError(f"{out}: the directory {out.parent} does not exist")
    with atomic_path(out, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def _render(
    campaign: Campaign,
    comps: Sequence[Mapping[str, Any]],
    results: Mapping[str, dict],
    tasks: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    figs: Sequence[ReportFigure],
    temps: Sequence[float],
    t_star: float,
) -> str:
    from solidion import __version__

    by_name = {f.name: f for f in figs}
    plan_ids = {t["id"] for t in tasks if t["composition"] in {c["formula"] for c in comps}}
    states: dict[str, int] = {}
    for t in tasks:
        if t["id"] in plan_ids:
            states[t["state"]] = states.get(t["state"], 0) + 1
    p = campaign.preset
    meta = [
        ("campaign file", _e(campaign.source)),
        ("output root", _e(campaign.output)),
        ("compositions", str(len(comps))),
        ("temperatures", _e(", ".join(f"{t:g}" for t in temps) + " K")),
        (
            "protocol",
            _e(f"{campaign.preset_label} ({p.n_atoms} atoms)")
            + ("" if p.converged else ' <span class="bad">(not converged: demonstration)</span>'),
        ),
        ("potential", _e(campaign.potential)),
        ("seed, replicas", _e(f"{campaign.seed}, {campaign.replicas}")),
        ("tasks", _e(", ".join(f"{n} {s}" for s, n in states.items()) or "none yet")),
    ]
    head = (
        f'<header>\n<h1>solidion campaign: {_e(campaign.name)}</h1>\n<dl class="meta">\n'
        + "\n".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
        + '\n</dl>\n<nav><a href="#comparison">Comparison</a> <a href="#figures">Figures</a> '
        '<a href="#epsilon">ε<sub>a</sub> by environment</a> <a href="#tasks">Tasks</a></nav>\n'
        "</header>"
    )
    parts = [head]
    if not p.converged:
        parts.append(
            '<div class="warning-unconverged" role="alert"><p><strong>'
            f"{_e(campaign.preset_label)}: numbers are not converged — for a demonstration of "
            "the pipeline only.</strong></p></div>"
        )
    parts.append(_comparison_section(comps, results, summary, temps))
    parts.append('<section id="figures">\n<h2>Across chemistries</h2>')
    parts.append(
        _figure(by_name.get("comparison"))
        or _missing("Comparison figure", "no composition has been analysed yet")
    )
    parts.append("</section>")
    parts.append(_epsilon_section(comps, results, by_name.get("epsilon")))
    parts.append(_tasks_section(comps, tasks))
    parts.append(
        f"<footer>Campaign report by solidion {_e(__version__)}, from {_e(campaign.database)}. "
        "Each composition's own report: &lt;output&gt;/&lt;formula&gt;/report.html. "
        "Self-contained page: no external resources.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>solidion campaign: {_e(campaign.name)}</title>\n<style>{_CSS}{_EXTRA_CSS}</style>\n"
        "</head>\n<body>\n" + "\n".join(x for x in parts if x) + "\n</body>\n</html>\n"
    )


def _comparison_section(
    comps: Sequence[Mapping[str, Any]],
    results: Mapping[str, dict],
    summary: Sequence[Mapping[str, Any]],
    temps: Sequence[float],
) -> str:
    parts = ['<section id="comparison">', "<h2>Comparison</h2>"]
    if not comps:
        parts.append(_missing("Comparison table", "the database holds no composition"))
        parts.append("</section>")
        return "\n".join(parts)
    family = all(c["A"] is not None for c in comps)
    conflict = frame_conflict(results, [c["formula"] for c in comps])
    names = sorted(
        {n for fs in _frames(results, [c["formula"] for c in comps]).values() for n in fs}
    )
    in_frame = f" <span class='unit'>({_e(names[0])} frame)</span>" if len(names) == 1 else ""
    head = "<tr><th class='label'>composition</th>"
    if family:
        head += "<th>A</th><th>M</th><th>X</th>"
    head += (
        "<th>state</th><th>σ(300 K) <span class='unit'>mS/cm</span></th>"
        "<th>E<sub>a</sub> D* <span class='unit'>eV</span></th>"
        "<th>E<sub>a</sub> σT <span class='unit'>eV</span></th>"
        + "".join(f"<th>H<sub>R</sub> {t:g} K{in_frame}</th>" for t in temps)
        + "".join(f"<th>t<sub>mobile</sub> {t:g} K{in_frame}</th>" for t in temps)
        + "</tr>"
    )
    body = []
    notes = _Notes("withheld")
    for c in comps:
        f, m = c["formula"], c["mobile"]
        cells = [f"<td class='label'>{_e(f)}</td>"]
        if family:
            cells += [f"<td>{_e(c[k])}</td>" for k in ("A", "M", "X")]
        cells.append(f"<td class='state-{_e(c['state'])}'>{_e(c['state'])}</td>")
        cells.append(
            "<td>"
            + _cell(
                f"sigma_300K_mS_cm__{f}",
                results,
                f,
                None,
                "arrhenius.conductivity_300K_S_cm",
                MS_PER_S,
                notes,
                "σ(300 K)",
            )
            + "</td>"
        )
        cells.append(
            "<td>"
            + _cell(
                f"Ea_eV__{f}",
                results,
                f,
                None,
                "arrhenius.activation_energy_eV",
                1.0,
                notes,
                "Eₐ of D*",
            )
            + "</td>"
        )
        cells.append(
            "<td>"
            + _cell(
                f"Ea_sigma_eV__{f}",
                results,
                f,
                None,
                "arrhenius.conductivity_activation_energy_eV",
                1.0,
                notes,
                "Eₐ of σT",
            )
            + "</td>"
        )
        withheld = '<span class="missing">not compared</span>'
        for t in temps:
            cells.append(
                "<td>"
                + (
                    withheld
                    if conflict
                    else _cell(
                        f"haven_ratio_{t:g}K__{f}",
                        results,
                        f,
                        t,
                        "transport.haven_ratio",
                        1.0,
                        notes,
                        f"H_R {t:g} K",
                    )
                )
                + "</td>"
            )
        for t in temps:
            q = f"transport.transference.einstein.{m}"
            cells.append(
                "<td>"
                + (
                    withheld
                    if conflict
                    else _cell(
                        f"t_mobile_E_{t:g}K__{f}", results, f, t, q, 1.0, notes, f"t {t:g} K"
                    )
                )
                + "</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(
        '<div class="table-wrap"><table class="comparison">\n'
        + head
        + "\n"
        + "\n".join(body)
        + "\n</table></div>"
    )
    parts.append(notes.html())
    if conflict:
        parts.append(f'<div class="warning-unconverged" role="alert"><p>{_e(conflict)}</p></div>')
    parts.append(
        '<p class="unit">σ(300 K): full-Einstein conductivity σ<sub>E</sub>, Arrhenius fit of '
        "ln σT extrapolated to 300 K; E<sub>a</sub>: slopes of ln D*(mobile) and ln σT against "
        "1/T; H<sub>R</sub> = D*/D<sub>σ</sub>; t<sub>mobile</sub>: transference number of the "
        "mobile ion from the full Onsager matrix. ± is one standard error. Convergence per "
        "composition and temperature: each composition's own report.</p>"
    )
    csv_text = _summary_csv(summary)
    if csv_text:
        b64 = base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
        parts.append(
            f'<p><a class="download" download="campaign_summary.csv" '
            f'href="data:text/csv;base64,{b64}">Download this table as CSV</a>. Every stored '
            "number: <code>solidion campaign report FILE --csv table.csv --parquet "
            "table.parquet</code>.</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _epsilon_section(
    comps: Sequence[Mapping[str, Any]], results: Mapping[str, dict], fig: ReportFigure | None
) -> str:
    parts = ['<section id="epsilon">', "<h2>ε<sub>a</sub> by environment</h2>"]
    envs = _environments(results)
    if not envs:
        parts.append(
            _missing(
                "Residence-time activation energies",
                "no composition resolved residence times (small or short runs have no clear "
                "first shell of the mobile ion around the centre)",
            )
        )
        parts.append("</section>")
        return "\n".join(parts)
    head = (
        "<tr><th class='label'>composition</th>"
        + "".join(f"<th>ε<sub>a</sub>({_e(env)}) <span class='unit'>eV</span></th>" for env in envs)
        + "</tr>"
    )
    body = []
    notes = _Notes("withheld-epsilon")
    for c in comps:
        f = c["formula"]
        if f not in results:
            continue
        cells = "".join(
            "<td>"
            + _cell(
                f"epsilon_a_{env}_eV__{f}",
                results,
                f,
                None,
                f"structure.residence_activation_eV.{env}",
                1.0,
                notes,
                f"εₐ({env})",
            )
            + "</td>"
            for env in envs
        )
        body.append(f"<tr><td class='label'>{_e(f)}</td>{cells}</tr>")
    parts.append(
        '<div class="table-wrap"><table class="activation">\n'
        + head
        + "\n"
        + "\n".join(body)
        + "\n</table></div>"
    )
    parts.append(notes.html())
    parts.append(_figure(fig))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _tasks_section(comps: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]) -> str:
    wanted = {c["formula"] for c in comps}
    mine = [t for t in tasks if t["composition"] in wanted]
    bad = [t for t in mine if t["state"] in ("failed", "blocked")]
    parts = ['<section id="tasks">', f"<h2>Tasks ({len(mine)})</h2>"]
    rows = []
    for c in comps:
        ts = [t for t in mine if t["composition"] == c["formula"]]
        md = [t for t in ts if t["kind"] == "md"]
        rows.append(
            f"<tr><td class='label'>{_e(c['formula'])}</td>"
            + "".join(
                f"<td>{_e(next((t['state'] for t in ts if t['kind'] == k), '—'))}</td>"
                for k in ("glass",)
            )
            + f"<td>{sum(1 for t in md if t['state'] == 'done')}/{len(md)}</td>"
            + f"<td>{_e(next((t['state'] for t in ts if t['kind'] == 'analysis'), '—'))}</td></tr>"
        )
    parts.append(
        "<table><tr><th class='label'>composition</th><th>glass</th><th>md done</th>"
        "<th>analysis</th></tr>\n" + "\n".join(rows) + "\n</table>"
    )
    if bad:
        parts.append(
            '<h3>Failed and blocked</h3>\n<ul class="warnings">\n'
            + "\n".join(
                f'<li><span class="src">[{_e(t["id"])}, {_e(t["state"])}, '
                f"{t['failures']} failure(s)]</span>{_e(t['error'] or '')}</li>"
                for t in bad
            )
            + "\n</ul>"
        )
    parts.append("</section>")
    return "\n".join(parts)

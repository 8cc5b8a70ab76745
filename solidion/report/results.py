"""Reading the results a report is made from: a ``results.json`` or a folder of analysis JSON.

The report reads one dictionary, the layout of ``results.json`` that the pipeline writes::

    {"solidion_version", "formula", "cell_formula", "n_atoms", "preset", "preset_converged",
     "potential", "seed", "mobile", "temperatures_K",
     "transport":   TransportSeries.to_dict() or null,
     "structure":   StructureSeries.to_dict() or null,
     "msd":         [{"temperature_K", "lag_ps", "msd_A2": {species: [...]}}] or null,
     "convergence": [{"temperature_K", "duration_ps", "diffusive_onset_ps", "n_hops",
                      "hops_per_ion", "converged", "reasons"}] or null,
     "warnings":    [str, ...]}

:func:`load_results` also assembles that dictionary from the JSON files of
``solidion analyze --json`` (one :class:`~solidion.transport.TransportResult` or one
:class:`~solidion.transport.series.TransportSeries` per file) and ``solidion structure --json``
(one :class:`~solidion.structure.summary.StructureResult` or one
:class:`~solidion.structure.summary.StructureSeries`); the blocks those files cannot give
(composition, MSD curves, convergence) are null, and the Arrhenius fits across separately
analysed temperatures are computed here with the same estimators the series use.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solidion.errors import InputError

__all__ = ["RESULTS_KEYS", "load_results", "normalise_results"]

#: Top-level keys of ``results.json``; absent ones read as null (``warnings`` as ``[]``).
RESULTS_KEYS: tuple[str, ...] = (
    "solidion_version",
    "formula",
    "cell_formula",
    "n_atoms",
    "preset",
    "preset_converged",
    "potential",
    "seed",
    "mobile",
    "temperatures_K",
    "transport",
    "structure",
    "msd",
    "convergence",
    "warnings",
)

#: The type each block must have when it is not null.
_BLOCK_TYPES: dict[str, type | tuple[type, ...]] = {
    "potential": dict,
    "temperatures_K": list,
    "transport": dict,
    "structure": dict,
    "msd": list,
    "convergence": list,
    "warnings": list,
}


def load_results(path: str | Path) -> dict[str, Any]:
    """Read the results of a run, in the layout of ``results.json``.

    Args:
        path: A directory holding ``results.json``; a ``results.json`` file (any name); or a
            directory of (or a single) JSON file(s) written by ``solidion analyze --json`` and
            ``solidion structure --json``.

    Returns:
        The results dictionary, every top-level key present (missing blocks null).

    Raises:
        InputError: The path does not exist, holds no JSON, or a file is not valid JSON or not
            one of the shapes above; the message names the path.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    if p.is_dir():
        if (p / "results.json").is_file():
            files = [p / "results.json"]
        else:
            files = sorted(f for f in p.glob("*.json") if f.is_file())
            if not files:
                raise InputError(
                    f"{p}: no results.json and no JSON files from `solidion analyze --json` or "
                    "`solidion structure --json`"
                )
    else:
        files = [p]
    docs = [(f, _read_json(f)) for f in files]
    kinds = [(f, _classify(d, f), d) for f, d in docs]
    if len(kinds) == 1 and kinds[0][1] == "results":
        return normalise_results(kinds[0][2], source=kinds[0][0])
    stray = [str(f) for f, kind, _ in kinds if kind == "results"]
    if stray:
        raise InputError(
            f"{stray[0]}: a results.json cannot be combined with other JSON files; pass it alone"
        )
    return _assemble(kinds)


def normalise_results(results: Mapping[str, Any], source: object = "results") -> dict[str, Any]:
    """A copy of ``results`` with every top-level key present and each block type-checked.

    Args:
        results: A results dictionary (possibly with keys missing).
        source: What to name in error messages (a path or an argument name).

    Raises:
        InputError: ``results`` is not a mapping, or a block has the wrong type.
    """
    if not isinstance(results, Mapping):
        raise InputError(f"{source}: results must be a JSON object, got {type(results).__name__}")
    out = {k: results.get(k) for k in RESULTS_KEYS}
    out.update({k: v for k, v in results.items() if k not in out})
    if out["warnings"] is None:
        out["warnings"] = []
    for key, kind in _BLOCK_TYPES.items():
        if out[key] is not None and not isinstance(out[key], kind):
            raise InputError(
                f"{source}: {key!r} must be a JSON {'object' if kind is dict else 'array'} or "
                f"null, got {type(out[key]).__name__}"
            )
    if out.get("trust") is not None and not isinstance(out["trust"], Mapping):
        raise InputError(
            f"{source}: 'trust' must be a JSON object or null, got {type(out['trust']).__name__}"
        )
    for key in ("transport", "structure"):
        block = out[key]
        if block is not None and not isinstance(block.get("results", []), list):
            raise InputError(f"{source}: {key}.results must be a JSON array")
    for key in ("msd", "convergence"):
        for i, entry in enumerate(out[key] or []):
            if not isinstance(entry, Mapping) or "temperature_K" not in entry:
                raise InputError(f"{source}: {key}[{i}] must be an object with temperature_K")
    if out["temperatures_K"] is None:
        temps = {
            float(r["temperature_K"])
            for block in ("transport", "structure")
            for r in (out[block] or {}).get("results", [])
            if r.get("temperature_K") is not None
        }
        out["temperatures_K"] = sorted(temps) or None
    return out


# -- reading and recognising files --------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _classify(doc: Any, path: Path) -> str:
    """One of ``results``, ``transport``, ``transport_series``, ``structure``,
    ``structure_series``; InputError naming ``path`` for anything else."""
    if isinstance(doc, dict):
        if "solidion_version" in doc or "temperatures_K" in doc or "convergence" in doc:
            return "results"
        if {"species", "conductivity_S_cm", "transference"} <= doc.keys():
            return "transport"
        if {"rdf", "polyhedra"} <= doc.keys():
            return "structure"
        results = doc.get("results")
        if isinstance(results, list) and results and all(isinstance(r, dict) for r in results):
            if "arrhenius" in doc and all(_classify_plain(r) == "transport" for r in results):
                return "transport_series"
            if "residence_activation_eV" in doc and all(
                _classify_plain(r) == "structure" for r in results
            ):
                return "structure_series"
    raise InputError(
        f"{path}: not a results.json nor the JSON of `solidion analyze --json` or "
        "`solidion structure --json`"
    )


def _classify_plain(doc: dict[str, Any]) -> str | None:
    if {"species", "conductivity_S_cm", "transference"} <= doc.keys():
        return "transport"
    if {"rdf", "polyhedra"} <= doc.keys():
        return "structure"
    return None


# -- assembling analysis files into the results layout -------------------------------------------
def _assemble(kinds: list[tuple[Path, str, Any]]) -> dict[str, Any]:
    from solidion import __version__

    notes: list[str] = []
    transport = _merge(
        [(f, d) for f, k, d in kinds if k == "transport"],
        [(f, d) for f, k, d in kinds if k == "transport_series"],
        "transport",
    )
    structure = _merge(
        [(f, d) for f, k, d in kinds if k == "structure"],
        [(f, d) for f, k, d in kinds if k == "structure_series"],
        "structure",
    )
    transport_block = None
    if transport is not None:
        results, series = transport
        if series is not None:
            transport_block = series
        else:
            arrhenius, fit_notes = _transport_arrhenius(results)
            transport_block = {"results": results, "arrhenius": arrhenius, "warnings": fit_notes}
            if arrhenius is not None:
                notes.append(
                    f"Arrhenius fits computed by the report from {len(results)} separate "
                    "`solidion analyze` results"
                )
    structure_block = None
    if structure is not None:
        results, series = structure
        if series is not None:
            structure_block = series
        else:
            structure_block = {
                "results": results,
                "residence_activation_eV": _residence_activation(results),
            }
    mobile = None
    if transport_block is not None and transport_block["results"]:
        mobile = transport_block["results"][0].get("mobile")
    out = {
        "solidion_version": __version__,
        "mobile": mobile,
        "transport": transport_block,
        "structure": structure_block,
        "warnings": notes,
    }
    return normalise_results(out, source=kinds[0][0].parent)


def _merge(
    singles: list[tuple[Path, dict[str, Any]]],
    series: list[tuple[Path, dict[str, Any]]],
    what: str,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
    """Results per temperature from single files and series files, checked for duplicates.

    Returns ``(results sorted by T, the series dict when it is the only source)`` or None.
    """
    if not singles and not series:
        return None
    if len(series) == 1 and not singles:
        doc = dict(series[0][1])
        doc["results"] = sorted(doc["results"], key=_temperature_key)
        return doc["results"], doc
    by_t: dict[float | None, Path] = {}
    results: list[dict[str, Any]] = []
    items = list(singles) + [(f, r) for f, d in series for r in d["results"]]
    for f, r in items:
        t = r.get("temperature_K")
        t = None if t is None else float(t)
        if t in by_t:
            at = "without a temperature" if t is None else f"at {t:g} K"
            raise InputError(
                f"{f}: a second {what} result {at} (also in {by_t[t]}); analyse replicas at one "
                "temperature together, in one call"
            )
        by_t[t] = f
        results.append(r)
    return sorted(results, key=_temperature_key), None


def _temperature_key(r: Mapping[str, Any]) -> float:
    t = r.get("temperature_K")
    return math.inf if t is None else float(t)


def _estimate(d: Any) -> tuple[float, float]:
    """(value, stderr) of a ``{"value", "stderr"}`` dict; NaN for null or missing."""
    if not isinstance(d, Mapping):
        return math.nan, math.nan
    v, s = d.get("value"), d.get("stderr")
    return (math.nan if v is None else float(v)), (math.nan if s is None else float(s))


def _transport_arrhenius(
    results: list[dict[str, Any]], extrapolate_to_K: float = 300.0
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``arrhenius`` block of :meth:`TransportSeries.arrhenius_dict` from result dicts."""
    from solidion.transport.arrhenius import fit_arrhenius
    from solidion.transport.series import arrhenius_block, non_diffusive_reason, undetermined

    pts = [r for r in results if r.get("temperature_K") is not None]
    if len({float(r["temperature_K"]) for r in pts}) < 2:
        return None, []
    mobile = pts[0].get("mobile", "Li")
    ts = [float(r["temperature_K"]) for r in pts]
    d = [_estimate(r["species"].get(mobile, {}).get("tracer_diffusivity_cm2_s")) for r in pts]
    s = [_estimate(r["conductivity_S_cm"].get("einstein")) for r in pts]
    skip = [non_diffusive_reason(r, mobile) for r in pts]
    notes = [
        f"{t:g} K left out of the Arrhenius fits: {why}"
        for t, why in zip(ts, skip, strict=True)
        if why
    ]
    try:
        d_fit = fit_arrhenius(
            ts,
            [v for v, _ in d],
            [e for _, e in d],
            exclude=undetermined(skip, [v for v, _ in d], f"D*({mobile})"),
        )
    except InputError as exc:
        return None, [*notes, f"no Arrhenius fit of D*({mobile}): {exc}"]
    notes.extend(d_fit.warnings)
    s_fit = None
    try:
        s_fit = fit_arrhenius(
            ts,
            [v for v, _ in s],
            [e for _, e in s],
            kind="conductivity",
            exclude=undetermined(skip, [v for v, _ in s], "σ_E"),
        )
    except InputError as exc:
        notes.append(f"no Arrhenius fit of σ_E: {exc}")
    else:
        notes.extend(s_fit.warnings)
    return arrhenius_block(d_fit, s_fit, extrapolate_to_K), notes


def _residence_activation(results: list[dict[str, Any]]) -> dict[str, Any]:
    """ε_a per environment from τ(T), as :func:`solidion.structure.residence_activation`."""
    from solidion.transport.arrhenius import fit_arrhenius

    per_label: dict[str, list[tuple[float, float, float]]] = {}
    for r in results:
        t = r.get("temperature_K")
        for label, cls in (r.get("residence") or {}).items():
            tau, err = _estimate(cls.get("tau_ps"))
            if t is None or cls.get("model") == "unresolved":
                continue
            if math.isfinite(tau) and math.isfinite(err) and err > 0 and tau > 0:
                per_label.setdefault(label, []).append((float(t), tau, err))
    out: dict[str, Any] = {}
    for label, pts in sorted(per_label.items()):
        if len({p[0] for p in pts}) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_arrhenius(
                [p[0] for p in pts], [1.0 / p[1] for p in pts], [p[2] / p[1] ** 2 for p in pts]
            )
        out[label] = fit.activation_energy_eV.to_dict()
    return out

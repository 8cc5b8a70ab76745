"""The analysis stage of ``solidion run``: trajectories → ``results.json`` and ``results.csv``.

``results.json`` holds, per temperature, the transport analysis (the keys of
:meth:`solidion.transport.TransportResult.to_dict`) with the Arrhenius block, the structure
analysis, MSD curves for plotting, and a **convergence** record: trajectory length against the
time the mobile ions needed to become diffusive, and the hops observed
(:func:`solidion.transport.hops.count_hops`). A temperature is flagged as not converged when

- the mobile-ion MSD never becomes linear (no diffusive regime), or
- the trajectory is shorter than :data:`MIN_DURATION_OVER_ONSET` × the diffusive onset, or
- fewer than :data:`MIN_HOPS_PER_ION` hops per mobile ion were observed, or
- the preset itself is a demonstration (``quick``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import solidion
from solidion.errors import AnalysisError, SolidionError
from solidion.io._atomic import atomic_path

__all__ = [
    "analyze_runs",
    "assemble_results",
    "convergence_record",
    "msd_block",
    "write_results",
]

#: The trajectory must be this many times longer than the time to the diffusive regime.
MIN_DURATION_OVER_ONSET = 5.0
#: Fewest hops per mobile ion for a converged estimate.
MIN_HOPS_PER_ION = 10.0
#: Hop threshold of the convergence count (Å).
HOP_A = 2.0
#: Most points of each stored MSD curve (log-spaced lags).
MSD_POINTS = 200


def _downsample(lag: np.ndarray, n: int = MSD_POINTS) -> np.ndarray:
    if lag.size <= n:
        return np.arange(lag.size)
    idx = np.unique(np.round(np.geomspace(1, lag.size - 1, n)).astype(int))
    return np.concatenate([[0], idx])


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def convergence_record(
    traj: Any, result: Any, mobile: str, preset_converged: bool
) -> dict[str, Any]:
    """Convergence of one temperature: length vs diffusive onset, hops, and the verdict."""
    from solidion.transport.hops import count_hops

    # the onset the analysis itself found (and fitted from), not a second estimate
    onset_ps = result.diffusive_onset_ps
    hops = count_hops(traj.positions[:, traj.indices(mobile)], HOP_A)
    n_hops = int(hops.sum())
    per_ion = n_hops / max(1, hops.size)
    duration = float(traj.duration_ps)
    reasons = []
    if not preset_converged:
        reasons.append("demonstration preset: too few atoms and too short to converge")
    if onset_ps is None:
        reasons.append(f"the {mobile} MSD never becomes linear (no diffusive regime reached)")
    elif duration < MIN_DURATION_OVER_ONSET * onset_ps:
        reasons.append(
            f"trajectory ({duration:.1f} ps) is only {duration / onset_ps:.1f}× the time to the "
            f"diffusive regime ({onset_ps:.2f} ps); need ≥ {MIN_DURATION_OVER_ONSET:g}×"
        )
    if per_ion < MIN_HOPS_PER_ION:
        reasons.append(
            f"{per_ion:.1f} hops per {mobile} ion observed (> {HOP_A:g} Å); need ≥ "
            f"{MIN_HOPS_PER_ION:g}"
        )
    return {
        "temperature_K": float(result.temperature_K),
        "duration_ps": duration,
        "diffusive_onset_ps": onset_ps,
        "n_hops": n_hops,
        "hops_per_ion": per_ion,
        "converged": not reasons,
        "reasons": reasons,
    }


def msd_block(result: Any) -> dict[str, Any]:
    lag = np.asarray(result.msd_lag_ps)
    keep = _downsample(lag)
    return {
        "temperature_K": float(result.temperature_K),
        "lag_ps": lag[keep].tolist(),
        "msd_A2": {sp: np.asarray(v)[keep].tolist() for sp, v in result.msd_A2.items()},
    }


def analyze_runs(
    trajectories: Sequence[Path],
    temperatures_K: Sequence[float],
    *,
    mobile: str,
    charges: Mapping[str, float],
    center: str | None,
    ligands: Sequence[str],
    preset_converged: bool,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Transport + structure + convergence of production runs: the ``results.json`` dict.

    Structure analyses that cannot give a number on a short run (e.g. no residence event)
    become warnings, not failures: the transport numbers still stand.
    """
    from solidion.io import read_trajectory
    from solidion.structure.summary import analyze_structure_series
    from solidion.transport.series import analyze_series

    trajs = [read_trajectory(p) for p in trajectories]
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = analyze_series(trajs, list(temperatures_K), mobile, charges=dict(charges))
        structure = None
        if center is not None and ligands:
            # Residence times need a resolvable mobile–centre shell; small or short runs may
            # not have one. Then keep g(r), polyhedra and fragments without them.
            for who in (mobile, None):
                try:
                    structure = analyze_structure_series(
                        trajs, center=center, ligands=tuple(ligands), mobile=who
                    ).to_dict()
                    break
                except (AnalysisError, SolidionError) as exc:
                    part = "residence times" if who is not None else "structure analysis"
                    notes.append(f"{part} skipped: {exc}")
    notes.extend(dict.fromkeys(str(w.message) for w in caught))
    return assemble_results(
        series,
        trajs,
        mobile,
        preset_converged=preset_converged,
        structure=structure,
        notes=notes,
        meta=meta,
    )


def assemble_results(
    series: Any,
    trajs: Sequence[Any],
    mobile: str,
    *,
    preset_converged: bool = True,
    structure: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` dict from a transport series (and its trajectories, for hops)."""
    transport = series.to_dict()
    convergence = [
        convergence_record(t, r, mobile, preset_converged)
        for t, r in zip(trajs, series.results, strict=True)
    ]
    notes = list(notes)
    trust = (meta or {}).get("trust")  # solidion.potentials.finetune.trust.trust_block
    if isinstance(trust, Mapping):
        notes.extend(str(w) for w in trust.get("warnings") or [])
    if not all(c["converged"] for c in convergence):
        notes.insert(0, "not converged: see the convergence panel before trusting any number")
    return {
        "solidion_version": solidion.__version__,
        **dict(meta or {}),
        "mobile": mobile,
        "temperatures_K": [float(r.temperature_K) for r in series.results],
        "transport": transport,
        "structure": None if structure is None else dict(structure),
        "msd": [msd_block(r) for r in series.results],
        "convergence": convergence,
        "warnings": list(dict.fromkeys([*transport.get("warnings", []), *notes])),
    }


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping):
        if set(obj) == {"value", "stderr"}:
            out[f"{prefix}"] = obj["value"]
            out[f"{prefix}_stderr"] = obj["stderr"]
            return
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, bool | int | float) or obj is None:
        out[prefix] = obj


def csv_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per temperature: every transport number (value and stderr) + convergence."""
    rows = []
    for res, conv in zip(
        results["transport"]["results"], results.get("convergence") or [], strict=False
    ):
        row: dict[str, Any] = {"temperature_K": res["temperature_K"]}
        # the reference frame of D*, D_σ, H_R and t_i, beside them (text, so _flatten skips it)
        row["frame"] = res.get("frame")
        row["fit_weights"] = res.get("fit_weights")
        _flatten("", {k: v for k, v in res.items() if k not in ("warnings", "temperature_K")}, row)
        for k in ("duration_ps", "diffusive_onset_ps", "n_hops", "hops_per_ion", "converged"):
            row[f"convergence.{k}"] = conv.get(k)
        rows.append(row)
    return rows


def write_results(results: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.csv`` atomically (NaN → null / empty)."""
    out_dir = Path(out_dir)
    js = out_dir / "results.json"
    results = sanitize(results)
    text = json.dumps(results, indent=2, default=_clean_default, allow_nan=False)
    with atomic_path(js, suffix=".json.tmp") as tmp:
        tmp.write_text(text + "\n")
    rows = csv_rows(results)
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    path_csv = out_dir / "results.csv"
    with atomic_path(path_csv, suffix=".csv.tmp") as tmp:
        tmp.write_text(buf.getvalue())
    return js, path_csv


def _clean_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def sanitize(obj: Any) -> Any:
    """NaN/inf → None throughout (JSON has no NaN)."""
    if isinstance(obj, Mapping):
        return {k: sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [sanitize(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return _clean(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj

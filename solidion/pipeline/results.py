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

import contextlib
import csv
import fnmatch
import io
import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import solidion
from solidion.errors import AnalysisError, SolidionError
from solidion.io._atomic import atomic_path

__all__ = [
    "ResultRow",
    "analyze_runs",
    "assemble_results",
    "convergence_record",
    "csv_rows",
    "framework_frame_positions",
    "glass_block",
    "msd_block",
    "result_rows",
    "unit_of",
    "withheld_reason",
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
    """Convergence of one temperature: length vs diffusive onset, hops, and the verdict.

    Hops are counted in the analysis's reference frame (``result.frame_species``, the
    framework by default): the mobile ions' positions minus the mass-weighted centre-of-mass
    displacement of the reference species. A drifting cell would otherwise count its drift as
    hops (1 Å/ps of drift is 25 "hops" of 2 Å per ion in 50 ps) and pass the hop test.
    """
    from solidion.transport.hops import count_hops

    # the onset the analysis itself found (and fitted from), not a second estimate
    onset_ps = result.diffusive_onset_ps
    hops = count_hops(framework_frame_positions(traj, mobile, result.frame_species), HOP_A)
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


def framework_frame_positions(traj: Any, mobile: str, reference: Sequence[str]) -> np.ndarray:
    """Unwrapped positions of ``mobile`` minus the drift of the reference species' centre of
    mass (mass-weighted; no shift when ``reference`` is empty: the lab frame)."""
    from ase.data import atomic_masses, atomic_numbers

    pos = traj.positions[:, traj.indices(mobile)]
    ref = [s for s in reference if s in traj.species]
    if not ref:
        return pos
    idx = traj.indices(ref)
    m = np.array([atomic_masses[atomic_numbers[traj.symbols[i]]] for i in idx])
    com = np.einsum("fac,a->fc", traj.positions[:, idx], m / m.sum())
    return pos - (com - com[0])[:, None, :]


def glass_block(glass_dir: Path) -> dict[str, Any] | None:
    """Density and pressure of the glass: the anneal's mean volume and its second half's
    mean pressure (from the run's ``record.json`` and ``thermo.log``); None without a glass.

    Returns:
        ``stage``, ``temperature_K``, ``volume_A3`` (the mean production volume),
        ``volume_std_A3``, ``density_g_cm3``, ``pressure_GPa`` and ``pressure_std_GPa`` (over
        the logged lines of the stage's second half), ``target_pressure_GPa``.
    """
    from ase.data import atomic_masses, atomic_numbers
    from ase.io import read

    from solidion.md import output

    try:
        record = output.read_record(Path(glass_dir))
    except SolidionError:
        return None
    stages = [r for r in record.get("stages", []) if isinstance(r.get("volume"), Mapping)]
    protocol = {p.get("name"): p for p in record.get("protocol", [])}
    final = Path(glass_dir) / "final.extxyz"
    if not stages or not final.exists():
        return None
    anneal = stages[-1]
    vol = anneal["volume"]
    atoms = read(final)
    mass_g = sum(atomic_masses[atomic_numbers[s]] for s in atoms.get_chemical_symbols())
    mass_g *= 1.66053906660e-24
    mean = float(vol["mean_A3"])
    pressures = []
    thermo = Path(glass_dir) / output.THERMO
    n_steps = int(anneal.get("n_steps") or 0)
    if thermo.exists():
        col = 3 + list(output.OBSERVABLES).index("pressure_GPa")
        for line in thermo.read_text().splitlines():
            parts = line.split()
            if parts and parts[0] == anneal["name"] and 2 * int(parts[1]) > n_steps:
                with contextlib.suppress(ValueError, IndexError):
                    pressures.append(float(parts[col]))
    p = np.array([x for x in pressures if math.isfinite(x)])
    stage = protocol.get(anneal["name"], {})
    return {
        "stage": anneal["name"],
        "temperature_K": _clean(float(stage.get("T_end_K", math.nan))),
        "volume_A3": mean,
        "volume_std_A3": _clean(float(vol.get("std_A3", math.nan))),
        "density_g_cm3": mass_g / (mean * 1e-24),
        "pressure_GPa": float(p.mean()) if p.size else None,
        "pressure_std_GPa": float(p.std()) if p.size > 1 else None,
        "target_pressure_GPa": _clean(float(stage.get("pressure_GPa", math.nan))),
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


# -- one flattener for results.csv and the campaign store --------------------------------------
#: Unit of a quantity from the suffix of its key (solidion names fields with their units).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_S_cm", "S/cm"),
    ("_mS_cm", "mS/cm"),
    ("_cm2_s", "cm²/s"),
    ("_eV", "eV"),
    ("_ps", "ps"),
    ("_fs", "fs"),
    ("_K", "K"),
    ("_A2", "Å²"),
    ("_A3", "Å³"),
    ("_A", "Å"),
    ("_GPa", "GPa"),
)

#: The estimates (paths in a per-temperature transport result, ``*`` any species) that each key
#: of its ``withheld`` dict nulls (:func:`solidion.transport.analyze`); ``D*(<species>)`` is the
#: tracer diffusivity of that species. A reason applies only to estimates whose value is null.
WITHHELD_PATHS: dict[str, tuple[str, ...]] = {
    "D_sigma": ("charge_diffusivity_cm2_s",),
    "H_R": ("haven_ratio",),
    "sigma_E": ("conductivity_S_cm.einstein",),
    "sigma_NE": ("conductivity_S_cm.nernst_einstein",),
    "t_cNE": ("transference.cluster_nernst_einstein.*",),
    "sigma_cNE": (
        "conductivity_S_cm.cluster_nernst_einstein",
        "transference.cluster_nernst_einstein.*",
    ),
    "t_E": ("transference.einstein.*",),
    "t_NE": ("transference.nernst_einstein.*",),
}
#: Reason of a null estimate for which the analysis recorded none.
NO_REASON = "not determined by the analysis (no reason recorded: see the warnings of results.json)"
#: Start of the series warning when an Arrhenius fit failed (solidion.transport.series).
_NO_FIT = {"diffusivity": "no Arrhenius fit of D*(", "conductivity": "no Arrhenius fit of σ_E"}


@dataclass(frozen=True)
class ResultRow:
    """One stored number.

    Attributes:
        temperature_K: Temperature of the quantity, or None for a series quantity.
        quantity: Dotted path in ``results.json`` (``transport.haven_ratio``,
            ``arrhenius.conductivity_300K_S_cm``, ``structure.residence_activation_eV.Cl4``).
        value: The value (None where the analysis gave none).
        stderr: Its standard error (None for a number without one).
        unit: Unit, from the key's suffix (``S/cm``, ``eV``, ``cm²/s``; ``""`` dimensionless).
        withheld: Why the analysis gave no value (set exactly when ``value`` is None for an
            estimate: ``"H_R not determined: D_σ(Li) is known only to ±120% …"``).
    """

    temperature_K: float | None
    quantity: str
    value: float | None
    stderr: float | None
    unit: str
    withheld: str | None = None


def unit_of(quantity: str) -> str:
    """The unit of a dotted quantity: the nearest key with a unit suffix names it.

    Example:
        >>> unit_of("transport.species.Li.tracer_diffusivity_cm2_s")
        'cm²/s'
        >>> unit_of("structure.residence_activation_eV.Cl4"), unit_of("transport.haven_ratio")
        ('eV', '')
    """
    for part in reversed(quantity.replace("[", ".[").split(".")):
        for suffix, unit in UNIT_SUFFIXES:
            if part.endswith(suffix):
                return unit
    return ""


@dataclass(frozen=True)
class _Number:
    """One number of a block: its dotted key, value, stderr (estimates) and withheld reason."""

    key: str
    value: Any
    stderr: Any = None
    estimate: bool = False
    withheld: str | None = None


def _walk(prefix: str, obj: Any, out: list[_Number]) -> None:
    """Every number under ``obj``: estimates ({"value", "stderr"}), scalars (None included) and
    pairs of numbers (a fit window, an interval) as ``key[0]``, ``key[1]``; longer lists are
    curves and strings are labels, both left out."""
    if isinstance(obj, Mapping):
        if set(obj) == {"value", "stderr"}:
            out.append(_Number(prefix, obj["value"], obj["stderr"], True))
            return
        for k, v in obj.items():
            _walk(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list):
        if len(obj) <= 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in obj
        ):
            out.extend(_Number(f"{prefix}[{i}]", v) for i, v in enumerate(obj))
    elif isinstance(obj, bool | int | float) or obj is None:
        out.append(_Number(prefix, obj))


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def withheld_reason(key: str, withheld: Mapping[str, str]) -> str | None:
    """The reason a per-temperature transport estimate (``key`` relative to the result, e.g.
    ``haven_ratio``) was withheld, from the result's ``withheld`` dict (None if not named).

    Example:
        >>> withheld_reason("transference.einstein.Li", {"t_E": "σ_E is not positive"})
        'σ_E is not positive'
        >>> withheld_reason("species.Li.tracer_diffusivity_cm2_s", {"D*(Li)": "vibrates"})
        'vibrates'
    """
    for name, reason in withheld.items():
        if name.startswith("D*(") and name.endswith(")"):
            patterns: tuple[str, ...] = (f"species.{name[3:-1]}.tracer_diffusivity_cm2_s",)
        else:
            patterns = WITHHELD_PATHS.get(name, ())
        if any(fnmatch.fnmatchcase(key, p) for p in patterns):
            return str(reason)
    return None


def transport_numbers(result: Mapping[str, Any]) -> list[_Number]:
    """The numbers of one temperature's transport result (keys relative to it), each null
    estimate with the reason it was withheld (:data:`NO_REASON` when the result names none)."""
    withheld = result.get("withheld") or {}
    skip = ("temperature_K", "warnings", "mobile", "frame", "fit_weights", "withheld")
    found: list[_Number] = []
    _walk("", {k: v for k, v in result.items() if k not in skip}, found)
    return [_with_reason(n, withheld_reason(n.key, withheld)) for n in found]


def _with_reason(n: _Number, reason: str | None) -> _Number:
    if not n.estimate or not _missing(n.value):
        return n
    return _Number(n.key, n.value, n.stderr, True, reason or NO_REASON)


def _series_temperature(arrhenius: Mapping[str, Any] | None) -> float:
    """The extrapolation temperature of an ``arrhenius`` block (300 K when it has none)."""
    for k in arrhenius or {}:
        m = re.fullmatch(r"diffusivity_(.+)K_cm2_s", k)
        if m:
            with contextlib.suppress(ValueError):
                return float(m.group(1))
    return 300.0


def arrhenius_numbers(transport: Mapping[str, Any]) -> list[_Number]:
    """The numbers of the ``arrhenius`` block, and each number a fit would have given but did
    not (no fit of D* or σ_E: too few diffusive temperatures, or a single temperature) as a
    null estimate with the reason from the series warnings."""
    block = transport.get("arrhenius")
    found: list[_Number] = []
    _walk("", block or {}, found)
    found = [_with_reason(n, None) for n in found]
    results = transport.get("results") or []
    if not results:
        return found
    t = _series_temperature(block)
    notes = [str(w) for w in transport.get("warnings") or []]
    n_temps = len({r.get("temperature_K") for r in results})

    def why(kind: str) -> str:
        hit = next((w for w in notes if w.startswith(_NO_FIT[kind])), None)
        if hit is not None:
            return hit
        if n_temps < 2:
            return (
                f"no Arrhenius fit: it needs at least two distinct temperatures, the series has "
                f"{n_temps}"
            )
        return "no Arrhenius fit (see the warnings of results.json)"

    expected = {
        "activation_energy_eV": "diffusivity",
        "prefactor_cm2_s": "diffusivity",
        f"diffusivity_{t:g}K_cm2_s": "diffusivity",
        f"conductivity_{t:g}K_S_cm": "conductivity",
        "conductivity_activation_energy_eV": "conductivity",
    }
    have = {n.key for n in found}
    for key, kind in expected.items():
        if key in have:
            continue
        reason = why(kind)
        if kind == "conductivity" and not reason.startswith(_NO_FIT[kind]) and block is None:
            # the block (and with it the σ_E fit) is reported only with a D* fit
            reason = f"not reported without the Arrhenius fit of D* ({why('diffusivity')})"
        found.append(_Number(key, None, None, True, reason))
    return found


def result_rows(results: Mapping[str, Any]) -> list[ResultRow]:
    """Every number of a ``results.json`` dict as rows (curves excepted): the campaign store.

    Per temperature: ``transport.*`` (the keys of a transport result, and the reference frame as
    ``transport.frame.<name>`` = 1), ``structure.*`` and ``convergence.*``; for the series
    (``temperature_K`` None): ``arrhenius.*`` and the structure's series keys
    (``structure.residence_activation_eV.<environment>``). Booleans are stored as 1/0; estimates
    as value and stderr. A withheld estimate is kept with a null value and the reason in
    ``withheld`` — also the Arrhenius numbers of a fit that could not be made
    (:func:`arrhenius_numbers`); a null outside an estimate (a block that was not computed) is
    left out. ``results.csv`` (:func:`csv_rows`) holds the same per-temperature transport
    numbers and reasons.

    Example:
        >>> rows = result_rows({"transport": {"results": [{"temperature_K": 600.0,
        ...     "haven_ratio": {"value": 0.5, "stderr": 0.1}}], "arrhenius": None}})
        >>> rows[0]
        ResultRow(temperature_K=600.0, quantity='transport.haven_ratio', value=0.5, stderr=0.1, unit='', withheld=None)
        >>> rows[1].quantity, rows[1].value, rows[1].withheld
        ('arrhenius.activation_energy_eV', None, 'no Arrhenius fit: it needs at least two distinct temperatures, the series has 1')
    """
    out: list[ResultRow] = []

    def add(prefix: str, numbers: list[_Number], t: float | None) -> None:
        for n in numbers:
            if not n.estimate and n.value is None:
                continue
            q = f"{prefix}.{n.key}"
            out.append(ResultRow(t, q, _number(n.value), _number(n.stderr), unit_of(q), n.withheld))

    transport = results.get("transport") or {}
    for r in transport.get("results") or []:
        t = _number(r.get("temperature_K"))
        add("transport", transport_numbers(r), t)
        if isinstance(r.get("frame"), str):
            # the reference frame of D*, H_R and t, as a flag row (the table holds numbers):
            # the campaign comparison refuses to mix frames
            out.append(ResultRow(t, f"transport.frame.{r['frame']}", 1.0, None, ""))
    add("arrhenius", arrhenius_numbers(transport), None)
    structure = results.get("structure") or {}
    for r in structure.get("results") or []:
        found: list[_Number] = []
        _walk("", {k: v for k, v in r.items() if k != "temperature_K"}, found)
        add("structure", [_with_reason(n, None) for n in found], _number(r.get("temperature_K")))
    found = []
    _walk("", {k: v for k, v in structure.items() if k not in ("results", "warnings")}, found)
    add("structure", [_with_reason(n, None) for n in found], None)
    for r in results.get("convergence") or []:
        found = []
        _walk("", {k: v for k, v in r.items() if k not in ("temperature_K", "reasons")}, found)
        add("convergence", found, _number(r.get("temperature_K")))
    return out


def _number(x: Any) -> float | None:
    """A stored number: None for null, NaN or inf; booleans as 1.0/0.0."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def csv_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per temperature: every transport number (value and stderr) + convergence.

    The numbers are those of :func:`result_rows` (without the ``transport.`` prefix); a withheld
    estimate is empty, with its reason in the column ``<key>_withheld``.
    """
    rows = []
    for res, conv in zip(
        results["transport"]["results"], results.get("convergence") or [], strict=False
    ):
        row: dict[str, Any] = {"temperature_K": res["temperature_K"]}
        # the reference frame of D*, D_σ, H_R and t_i, beside them
        row["frame"] = res.get("frame")
        row["fit_weights"] = res.get("fit_weights")
        for n in transport_numbers(res):
            row[n.key] = n.value
            if n.estimate:
                row[f"{n.key}_stderr"] = n.stderr
            if n.withheld is not None:
                row[f"{n.key}_withheld"] = n.withheld
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

"""``solidion run``: from a formula to results.json, results.csv and report.html.

:func:`run_pipeline` chains the stages of :mod:`solidion.pipeline.stages` (build → glass →
production at each temperature → analysis → report). The directory's ``run.json`` records the
inputs; a directory that holds a *different* run is refused unless ``force=True`` (which clears
solidion's files there first). With ``resume=True`` an interrupted run continues from its last
checkpoint and stage; a finished run directory only has its analysis and report redone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from solidion.chemistry import Composition
from solidion.errors import InputError
from solidion.io._atomic import atomic_path
from solidion.md import Preset, preset
from solidion.pipeline import stages as st
from solidion.pipeline.results import analyze_runs, write_results

__all__ = ["RUN_RECORD", "resolve_preset", "run_pipeline"]

RUN_RECORD = "run.json"
#: What run_pipeline may delete with force=True (nothing else in the directory is touched).
_OWNED = ("run.json", "build", "glass", "results.json", "results.csv", "report.html", "figures")


def resolve_preset(
    name_or_file: str | Preset,
    temperatures: Sequence[float] | None = None,
    n_atoms: int | None = None,
) -> Preset:
    """A preset by name (``quick``/``standard``/``paper``), from a JSON file, or as given."""
    if isinstance(name_or_file, Preset):
        p = name_or_file
    elif str(name_or_file).endswith(".json"):
        path = Path(name_or_file)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"--preset {path}: cannot read the preset file ({exc})") from None
        p = Preset.from_dict(data)
    else:
        return preset(str(name_or_file), temperatures or (600.0, 700.0, 800.0), n_atoms=n_atoms)
    if temperatures:
        p = p.with_temperatures(temperatures)
    if n_atoms is not None:
        p = dataclasses.replace(p, n_atoms=int(n_atoms))
    return p


def _inputs(formula: str, p: Preset, potential: Any, seed: int, mobile: str | None) -> dict:
    spec = str(potential) if isinstance(potential, str | os.PathLike) else type(potential).__name__
    return {
        "formula": formula,
        "preset": p.to_dict(),
        "potential": spec,
        "seed": int(seed),
        "mobile": mobile,
    }


def _prepare_dir(out: Path, inputs: dict, *, resume: bool, force: bool) -> dict[str, Any]:
    record_path = out / RUN_RECORD
    if record_path.exists():
        try:
            old = json.loads(record_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{record_path}: unreadable run record ({exc})") from None
        same = old.get("inputs") == json.loads(json.dumps(inputs))
        if not same and not force:
            raise InputError(
                f"{out} holds a different run ({old.get('inputs', {}).get('formula')}, "
                f"preset {old.get('inputs', {}).get('preset', {}).get('name')}); choose another "
                "--out, or pass --force to replace it"
            )
        if same and not force:
            if old.get("status") != "finished" and not resume:
                raise InputError(
                    f"{out} holds an unfinished run of the same inputs; pass --resume to "
                    "continue it, or --force to start over"
                )
            return old
        for name in _OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for child in out.glob("T*K"):
            if (child / "record.json").exists():
                shutil.rmtree(child)
    elif resume:
        raise InputError(f"--resume: {out} holds no solidion run to continue")
    elif out.exists() and any(out.iterdir()) and not force:
        raise InputError(
            f"{out} is not empty and holds no solidion run; choose an empty --out or pass --force"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".solidion-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror})") from None
    return {"kind": "solidion run", "inputs": inputs, "status": "running", "stages": {}}


def _save(out: Path, record: dict) -> None:
    with atomic_path(out / RUN_RECORD, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")


def run_pipeline(
    formula: str,
    preset_spec: str | Preset = "quick",
    *,
    temperatures: Sequence[float] | None = None,
    potential: Any = "chgnet",
    n_atoms: int | None = None,
    seed: int = 0,
    out_dir: str | os.PathLike[str] = "runs/solidion",
    resume: bool = False,
    force: bool = False,
    mobile: str | None = None,
    progress: bool | None = None,
    report: bool = True,
    log: Callable[[str], None] = print,
    step_hook: Any = None,
) -> dict[str, Any]:
    """Build → melt-and-quench → NVT production at each temperature → analysis → report.

    Args:
        formula: Composition, e.g. ``"LiAlCl2.5O0.75"`` (must be charge-neutral).
        preset_spec: ``"quick"``, ``"standard"``, ``"paper"``, a preset JSON file, or a
            :class:`~solidion.md.Preset`.
        temperatures: Production temperatures (default: the preset's).
        potential: Potential name, checkpoint path, or ASE calculator.
        n_atoms: Cell size (default: the preset's).
        seed: Seed of every random choice (cell, velocities, thermostat noise).
        out_dir: Output directory.
        resume: Continue an interrupted run in ``out_dir``.
        force: Replace a different run in ``out_dir``.
        mobile: Mobile ion (default: the lightest monovalent cation).
        progress: Progress bars (default: when stderr is a terminal).
        report: Write ``report.html`` too.
        log: Where stage messages go.
        step_hook: Passed to every MD run (testing and monitoring).

    Returns:
        The results dict (also written to ``results.json``).

    Raises:
        InputError: Unknown element, non-neutral formula, bad preset or temperatures, a
            potential that is not installed, an output directory that holds a different run
            or cannot be written.
    """
    from solidion.potentials import describe, get

    comp = Composition(formula)
    comp.check_neutral()
    p = resolve_preset(preset_spec, temperatures, n_atoms)
    roles = st.species_roles(comp, mobile)
    calc = get(potential)  # fails early (and loads the model once) for a missing backend
    out = Path(out_dir)
    inputs = _inputs(str(comp), p, potential, seed, mobile)
    record = _prepare_dir(out, inputs, resume=resume, force=force)
    _save(out, record)
    md_potential = potential if isinstance(potential, str | os.PathLike) else calc
    kw = {"progress": progress, "step_hook": step_hook}
    t0 = time.perf_counter()

    def mark(stage: str, state: str) -> None:
        record["stages"][stage] = state
        _save(out, record)

    log(f"[1/4] building a {p.n_atoms}-atom cell of {comp} (seed {seed})")
    initial = st.build_stage(str(comp), p.n_atoms, out, seed)
    mark("build", "done")
    n_md = sum(s.duration_ps for s in p.melt_quench if s.is_md)
    log(f"[2/4] melt, quench and anneal: {n_md:g} ps of MD ({out / 'glass'})")
    glass = st.glass_stage(initial, p, md_potential, out, seed, **kw)
    mark("glass", "done")
    trajs = []
    for i, t in enumerate(p.temperatures_K, 1):
        ps = sum(s.duration_ps for s in p.production_for(t))
        log(f"[3/4] production {i}/{len(p.temperatures_K)} at {t:g} K: {ps:g} ps")
        trajs.append(st.production_stage(glass, p, t, md_potential, out, seed, **kw))
        mark(st.production_dir(out, t).name, "done")
    log("[4/4] transport and structure analysis")
    from solidion.potentials.finetune.trust import trust_block

    trust = trust_block(potential, trajs, p.temperatures_K)
    for w in trust["warnings"]:
        log(f"warning: {w}")
    ions = comp.scaled_to(p.n_atoms)
    meta = {
        "formula": str(comp),
        "cell_formula": str(ions),
        "n_atoms": int(round(ions.n_atoms)),
        "preset": p.name,
        "preset_converged": p.converged,
        "potential": describe(calc),
        "seed": int(seed),
        "trajectories": [str(Path(t).relative_to(out)) for t in trajs],
        "trust": trust,
    }
    results = analyze_runs(
        trajs,
        p.temperatures_K,
        mobile=roles[0],
        charges={e: float(z) for e, z in comp.oxidation_states.items()},
        center=roles[1],
        ligands=roles[2],
        preset_converged=p.converged,
        meta=meta,
    )
    js, _ = write_results(results, out)
    mark("analysis", "done")
    if report:
        from solidion.report import build_report

        build_report(js, out / "report.html")
        mark("report", "done")
    record["status"] = "finished"
    record["wall_s_last_invocation"] = time.perf_counter() - t0
    _save(out, record)
    return json.loads(js.read_text())

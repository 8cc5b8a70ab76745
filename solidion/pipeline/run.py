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
from solidion.pipeline.converge import Target, run_until
from solidion.pipeline.results import analyze_runs, glass_block, write_results

__all__ = ["RUN_RECORD", "resolve_preset", "run_pipeline"]

RUN_RECORD = "run.json"
#: What run_pipeline may delete with force=True (nothing else in the directory is touched).
_OWNED = ("run.json", "build", "glass", "results.json", "results.csv", "report.html", "figures")


def resolve_preset(
    name_or_file: str | Preset,
    temperatures: Sequence[float] | None = None,
    n_atoms: int | None = None,
    elements: Sequence[str] | None = None,
) -> Preset:
    """A preset by name (``quick``/``standard``/``paper``), from a JSON file, or as given.

    ``elements`` (the composition's) sets a named preset's timestep by
    :func:`solidion.md.protocol.default_timestep_fs` (2 fs for heavy-atom oxyhalides, 0.45 fs
    with hydrogen); a preset file or object keeps its own, which the MD refuses when it is too
    long for the composition.
    """
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
        return preset(
            str(name_or_file),
            temperatures or (600.0, 700.0, 800.0),
            n_atoms=n_atoms,
            elements=elements,
        )
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
    until_converged: Target | None = None,
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
        until_converged: Run the production at each temperature in chunks until this
            :class:`~solidion.pipeline.converge.Target` is met or its budget is spent (the
            preset's production length is the first chunk). The target is not part of the
            run's identity: ``resume=True`` with a tighter target continues a finished run.

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
    p = resolve_preset(preset_spec, temperatures, n_atoms, elements=comp.elements)
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
    chunks = _Chunks(out, record, until_converged, roles[0], comp, md_potential, kw, log)
    chunks.report_throughput(p)
    for i, t in enumerate(p.temperatures_K, 1):
        stages = p.production_for(t)
        ps = sum(s.duration_ps for s in stages)
        eq = sum(s.equilibration_ps for s in stages)
        note = f" (the first {eq:g} ps equilibrate and are not analysed)" if eq else ""
        log(f"[3/4] production {i}/{len(p.temperatures_K)} at {t:g} K: {ps:g} ps{note}")
        traj = st.production_stage(glass, p, t, md_potential, out, seed, **kw)
        trajs.append(chunks.until_met(traj, t, len(p.temperatures_K) - i + 1))
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
        "glass": glass_block(out / "glass"),
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
    chunks.annotate(results)
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


class _Chunks:
    """Production in chunks until a :class:`Target` is met (a no-op without a target)."""

    def __init__(
        self,
        out: Path,
        record: dict[str, Any],
        target: Target | None,
        mobile: str,
        comp: Composition,
        potential: Any,
        kw: dict[str, Any],
        log: Callable[[str], None],
    ):
        self.out, self.record, self.target, self.mobile = out, record, target, mobile
        self.charges = {e: float(z) for e, z in comp.oxidation_states.items()}
        self.potential, self.kw, self.log = potential, kw, log
        self.t0 = time.perf_counter()
        self.history: dict[str, list[dict[str, Any]]] = record.setdefault("convergence_history", {})

    def report_throughput(self, p: Preset) -> None:
        """Print the MD speed measured on the glass run and the production rate it gives."""
        if self.target is None:
            return
        from solidion.md import output

        try:
            glass = output.read_record(self.out / "glass")
        except InputError:
            return
        md = [r for r in glass.get("stages", []) if r.get("ensemble") != "relax"]
        steps = sum(int(r.get("n_steps") or 0) for r in md)
        wall = sum(float(r.get("wall_s") or 0.0) for r in md)
        if steps and wall > 0:
            rate = steps * int(glass.get("n_atoms", p.n_atoms)) / wall
            dt = p.production_for(p.temperatures_K[0])[-1].timestep_fs
            ps_h = rate / int(glass.get("n_atoms", p.n_atoms)) * dt * 3.6
            budget = (
                ""
                if self.target.budget_s is None
                else f"; budget {self.target.budget_s / 3600:.2g} h"
            )
            self.log(
                f"      throughput {rate:.0f} atom-steps/s on the glass run, i.e. about "
                f"{ps_h:.3g} ps/h of production at {dt:g} fs{budget}"
            )

    def until_met(self, traj: Path, t: float, n_left: int) -> Path:
        """Extend the production at ``t`` chunk by chunk until the target is met."""
        if self.target is None:
            return traj
        share = None
        if self.target.budget_s is not None:
            spent = time.perf_counter() - self.t0
            share = max(0.0, self.target.budget_s - spent) / n_left
        return run_until(
            self.out,
            t,
            traj,
            self.target,
            mobile=self.mobile,
            charges=self.charges,
            potential=self.potential,
            history=self.history.setdefault(f"{t:g}", []),
            budget_s=share,
            log=self.log,
            on_check=lambda: _save(self.out, self.record),
            **self.kw,
        )

    def annotate(self, results: dict[str, Any]) -> None:
        """Add the target and each temperature's history of checks to the convergence block."""
        if self.target is None:
            return
        results["until_converged"] = self.target.to_dict()
        for entry in results.get("convergence") or []:
            hist = self.history.get(f"{float(entry['temperature_K']):g}") or []
            entry["history"] = hist
            entry["target_met"] = bool(hist and hist[-1]["met"])

"""Run an MD protocol with streaming output, checkpoints, guards and resume.

:func:`run_protocol` runs a list of :class:`~solidion.md.protocol.Stage` objects on one cell;
:func:`resume` continues a run directory from its last checkpoint. The files are described in
:mod:`solidion.md.output`.

**Determinism.** All randomness (initial velocities, Langevin and Bussi noise) comes from one
``numpy.random.Generator`` seeded from ``rng``; its state is part of every checkpoint, together
with the integrator's internal variables and the exact positions and momenta. A resumed run
therefore repeats the uninterrupted run step by step (to the reproducibility of the force
evaluation itself: bit for bit on CPU for CHGNet).

**Checkpoints** are written every ``checkpoint_every`` steps, at every stage boundary, and when
SIGINT/SIGTERM arrives (the run then stops with :class:`~solidion.errors.RunInterrupted`). A run
killed without warning (SIGKILL, power loss) resumes from the last periodic checkpoint: frames
stored after it are dropped from the H5MD file and computed again.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from solidion.errors import InputError, MDError, RunInterrupted
from solidion.md import output
from solidion.md.guards import Guards, GuardState
from solidion.md.integrators import make_integrator
from solidion.md.protocol import Stage

__all__ = ["MDRun", "StageRecord", "resume", "run_protocol"]

#: A step hook: ``hook(stage, step, atoms)``, called after every MD step (testing, monitoring).
StepHook = Callable[[Stage, int, Atoms], None]


@dataclass(frozen=True)
class StageRecord:
    """What one stage produced.

    Attributes:
        name: Stage name.
        ensemble: Its ensemble.
        trajectory: Its H5MD file, or None when it stores no frames.
        final_structure: Its last structure (extxyz, with momenta).
        n_steps: Steps run (FIRE steps for ``relax``).
        n_frames: Frames stored.
        wall_s: Wall-clock time of the stage (summed over resumed pieces).
        mean_temperature_K: Mean kinetic temperature over the stored frames (NaN if none).
    """

    name: str
    ensemble: str
    trajectory: Path | None
    final_structure: Path
    n_steps: int
    n_frames: int
    wall_s: float
    mean_temperature_K: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths relative to the run directory)."""
        return {
            "name": self.name,
            "ensemble": self.ensemble,
            "trajectory": None if self.trajectory is None else self.trajectory.name,
            "final_structure": self.final_structure.name,
            "n_steps": self.n_steps,
            "n_frames": self.n_frames,
            "wall_s": self.wall_s,
            "mean_temperature_K": None
            if math.isnan(self.mean_temperature_K)
            else self.mean_temperature_K,
        }


@dataclass(frozen=True)
class MDRun:
    """A finished run: its directory and one record per stage."""

    out_dir: Path
    stages: tuple[StageRecord, ...]

    @property
    def final_structure(self) -> Path:
        """The structure at the end of the protocol."""
        return self.out_dir / "final.extxyz"

    def final_atoms(self) -> Atoms:
        """The final structure with its momenta."""
        from ase.io import read

        return read(self.final_structure)

    def stage(self, name: str) -> StageRecord:
        """The record of a stage by name."""
        for s in self.stages:
            if s.name == name:
                return s
        raise InputError(
            f"no stage {name!r} in this run ({', '.join(s.name for s in self.stages)})"
        )

    def trajectory(self, name: str):
        """The stored frames of a stage as a :class:`~solidion.Trajectory`."""
        from solidion.io import read_trajectory

        rec = self.stage(name)
        if rec.trajectory is None:
            raise InputError(f"stage {name!r} stored no trajectory (frame_interval_fs=None)")
        return read_trajectory(rec.trajectory)


def _generator(rng: int | np.random.Generator | None) -> tuple[int, np.random.Generator]:
    """A seed worth recording and the generator made from it."""
    if isinstance(rng, np.random.Generator):
        seed = int(rng.integers(2**63))
    elif rng is None:
        seed = int(np.random.default_rng().integers(2**63))
    elif isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        seed = int(rng)
    else:
        raise InputError(f"rng must be a non-negative int, a numpy Generator or None; got {rng!r}")
    return seed, np.random.default_rng(seed)


def _stage_files(out_dir: Path, index: int, stage: Stage) -> tuple[Path | None, Path]:
    stem = f"{index:02d}_{stage.name}"
    traj = out_dir / f"{stem}.h5" if stage.save_every else None
    return traj, out_dir / f"{stem}.final.extxyz"


def _write_structure(path: Path, atoms: Atoms) -> None:
    from ase.io import write

    clean = atoms.copy()
    clean.calc = None
    with output.atomic_path(path, suffix=".extxyz.tmp") as tmp:
        write(tmp, clean, format="extxyz")


class _Signals:
    """Turn SIGINT/SIGTERM into a flag the step loop checks (main thread only)."""

    def __init__(self) -> None:
        self.caught: int | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Signals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            self.caught = signum

        for s in previous:
            signal.signal(s, handler)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class _Progress:
    """Progress in simulated ps: stage, ps done, ps/hour, ETA.

    ``enabled=None`` (auto): a live rich bar on a terminal, otherwise one plain line on stderr
    at most every :attr:`PLAIN_EVERY_S` seconds (logs of CI and batch jobs); ``True``: the bar;
    ``False``: silent.
    """

    PLAIN_EVERY_S = 30.0

    def __init__(self, enabled: bool | None, total_ps: float, done_ps: float):
        self.plain = enabled is None and not sys.stderr.isatty()
        self.bar = None
        self.total, self.done = total_ps, done_ps
        self.t0, self.done0, self.last = time.perf_counter(), done_ps, time.perf_counter()
        if not (enabled or (enabled is None and not self.plain)):
            return
        from rich.progress import (
            BarColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task):
                speed = task.finished_speed or task.speed
                return Text("-- ps/h" if not speed else f"{speed * 3600:.1f} ps/h")

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.2f}/{task.total:.2f} ps"),
            Rate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.bar.add_task("md", total=max(total_ps, 1e-9), completed=done_ps)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def update(self, description: str, advance_ps: float = 0.0) -> None:
        self.done += advance_ps
        if self.bar is not None:
            self.bar.update(self.task, description=description, advance=advance_ps)
        elif self.plain and time.perf_counter() - self.last >= self.PLAIN_EVERY_S:
            self.last = time.perf_counter()
            rate = (self.done - self.done0) / max(self.last - self.t0, 1e-9)  # ps/s
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            eta_text = f"{eta / 60:.1f} min" if math.isfinite(eta) else "--"
            print(
                f"  {description}: {self.done:.2f}/{self.total:.2f} ps, "
                f"{rate * 3600:.1f} ps/h, ETA {eta_text}",
                file=sys.stderr,
                flush=True,
            )


def _observables(atoms: Atoms, integ, target_K: float) -> dict[str, float]:
    from ase.calculators.calculator import PropertyNotImplementedError

    obs = {
        "potential_energy_eV": float(atoms.get_potential_energy()),
        "kinetic_energy_eV": float(atoms.get_kinetic_energy()),
        "temperature_K": float(atoms.get_temperature()),
        "target_temperature_K": float(target_K),
        "volume_A3": float(atoms.get_volume()),
    }
    with contextlib.suppress(PropertyNotImplementedError, NotImplementedError):
        if integ is not None and integ.conserved_energy is not None:
            obs["conserved_energy_eV"] = float(integ.conserved_energy())
    with contextlib.suppress(PropertyNotImplementedError, NotImplementedError):
        stress = atoms.get_stress(voigt=False, include_ideal_gas=True)
        obs["pressure_GPa"] = float(-np.trace(stress) / 3.0 / units.GPa)
    return obs


class _Run:
    """The state machine of one run directory (shared by run_protocol and resume)."""

    def __init__(
        self,
        out_dir: Path,
        protocol: Sequence[Stage],
        calculator: Any,
        record: dict[str, Any],
        gen: np.random.Generator,
        *,
        checkpoint_every: int,
        guards: Guards,
        progress: bool | None,
        hook: StepHook | None,
        flush_every: int,
    ):
        self.out_dir = out_dir
        self.protocol = list(protocol)
        self.calculator = calculator
        self.record = record
        self.gen = gen
        self.checkpoint_every = checkpoint_every
        self.guards = guards
        self.progress_enabled = progress
        self.hook = hook
        self.flush_every = flush_every
        self.signals = _Signals()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _meta(self, stage_index: int, step: int, frames: int, wall: float) -> dict[str, Any]:
        thermo = self.out_dir / output.THERMO
        return {
            "stage": stage_index,
            "step": step,
            "frames_written": frames,
            "stage_wall_s": wall,
            "rng_state": self.gen.bit_generator.state,
            "thermo_bytes": thermo.stat().st_size if thermo.exists() else 0,
            "written": output.now(),
        }

    def _checkpoint(self, atoms, state, stage_index, step, frames, wall) -> None:
        output.save_checkpoint(
            self.out_dir, atoms, state, self._meta(stage_index, step, frames, wall)
        )

    def _fail(self, writer, atoms: Atoms, stage: Stage, step: int, why: str) -> MDError:
        if writer is not None:
            writer.flush()
        bad = self.out_dir / "failed.extxyz"
        _write_structure(bad, atoms)
        msg = f"stage {stage.name!r}, step {step}: {why}. Frames so far are kept; see {bad}"
        self.record.update(status="failed", error=msg, updated=output.now())
        output.write_record(self.out_dir, self.record)
        return MDError(msg)

    def _done_ps(self, stage_index: int, step: int) -> float:
        done = sum(s.duration_ps for s in self.protocol[:stage_index] if s.is_md)
        s = self.protocol[stage_index] if stage_index < len(self.protocol) else None
        return done + (step * s.timestep_fs / 1000.0 if s is not None and s.is_md else 0.0)

    # -- stages --------------------------------------------------------------------------------
    def _relax(self, atoms: Atoms, stage: Stage) -> int:
        from ase.optimize import FIRE

        opt = FIRE(atoms, logfile=None)
        guard = GuardState(self.guards, atoms)
        n = 0
        for _ in opt.irun(fmax=stage.fmax_eV_A, steps=stage.max_steps):
            n += 1
            why = guard.not_finite(atoms.get_potential_energy(), atoms.get_forces())
            if why:
                raise self._fail(None, atoms, stage, n, why)
        atoms.set_momenta(np.zeros((len(atoms), 3)))
        return n

    def _md(
        self,
        atoms: Atoms,
        stage: Stage,
        index: int,
        start_step: int,
        state: dict[str, np.ndarray] | None,
        wall0: float,
        bar: _Progress,
    ) -> tuple[int, int, float, float]:
        from ase.md import velocitydistribution as vd

        if start_step == 0 and not np.any(atoms.get_momenta()):
            thermalize = getattr(vd, "thermalize_momenta", None) or vd.MaxwellBoltzmannDistribution
            thermalize(atoms, temperature_K=stage.T_start_K, rng=self.gen)
            vd.Stationary(atoms)
        integ = make_integrator(atoms, stage, self.gen)
        if state:
            integ.set_state(state)
        traj_path, _ = _stage_files(self.out_dir, index, stage)
        writer = None
        if traj_path is not None:
            writer = output.FrameWriter(
                traj_path,
                atoms.get_chemical_symbols(),
                stage.save_every * stage.timestep_fs,
                variable_cell=stage.ensemble == "npt",
                temperature_K=float(stage.T_end_K),
                metadata={
                    "stage": stage.name,
                    "ensemble": stage.ensemble,
                    "md_timestep_fs": stage.timestep_fs,
                },
                flush_every=self.flush_every,
            )
        guard = GuardState(self.guards, atoms)
        if state and "volume_start" in state:
            guard.volume0 = float(state["volume_start"])
        temps: list[float] = []
        t_start = time.perf_counter()

        def full_state() -> dict[str, np.ndarray]:
            s = integ.get_state()
            s["volume_start"] = np.array(guard.volume0)
            return s

        def store(step: int, target: float) -> None:
            obs = _observables(atoms, integ, target)
            temps.append(obs["temperature_K"])
            time_ps = step * stage.timestep_fs / 1000.0
            output.append_thermo(self.out_dir, stage.name, step, time_ps, obs)
            if writer is not None:
                writer.add(step, atoms, obs)

        why = guard.too_close(atoms) or guard.not_finite(
            atoms.get_potential_energy(), atoms.get_forces()
        )
        if why:
            raise self._fail(writer, atoms, stage, start_step, why)
        if start_step == 0 and writer is not None:
            store(0, stage.T_start_K)
        dt_ps = stage.timestep_fs / 1000.0
        step = start_step
        while step < stage.n_steps:
            target = stage.temperature_at(step)
            integ.set_temperature(target)
            integ.step()
            step += 1
            why = guard.not_finite(atoms.get_potential_energy(), atoms.get_forces())
            why = why or guard.runaway(atoms.get_temperature(), target)
            if not why and step % self.guards.check_every == 0:
                why = guard.too_close(atoms)
                if not why and stage.ensemble == "npt":
                    why = guard.volume_drift(atoms)
            if why:
                raise self._fail(writer, atoms, stage, step, why)
            if stage.save_every and step % stage.save_every == 0:
                store(step, target)
            if self.hook is not None:
                self.hook(stage, step, atoms)
            bar.update(f"{stage.name} ({target:.0f} K)", dt_ps)
            interrupted = self.signals.caught is not None
            if interrupted or (step % self.checkpoint_every == 0 and step < stage.n_steps):
                if writer is not None:
                    writer.flush()
                wall = wall0 + time.perf_counter() - t_start
                frames = writer.n_written if writer is not None else 0
                self._checkpoint(atoms, full_state(), index, step, frames, wall)
                if interrupted:
                    self.record.update(status="interrupted", updated=output.now())
                    output.write_record(self.out_dir, self.record)
                    raise RunInterrupted(
                        f"stopped by signal {self.signals.caught} at stage {stage.name!r}, step "
                        f"{step}; checkpoint written. Continue with: solidion.md.resume("
                        f"'{self.out_dir}')"
                    )
        frames = 0
        if writer is not None:
            writer.flush()
            frames = writer.n_written
        mean_t = float(np.mean(temps)) if temps else math.nan
        return step, frames, wall0 + time.perf_counter() - t_start, mean_t

    # -- driver --------------------------------------------------------------------------------
    def run(self, atoms: Atoms, start: int, start_step: int, state, wall0: float) -> MDRun:
        atoms.calc = self.calculator
        total_ps = sum(s.duration_ps for s in self.protocol if s.is_md)
        stage_records = [dict(r) for r in self.record.get("stages", [])][:start]
        with (
            self.signals.installed(),
            _Progress(self.progress_enabled, total_ps, self._done_ps(start, start_step)) as bar,
        ):
            for index in range(start, len(self.protocol)):
                stage = self.protocol[index]
                traj_path, final_path = _stage_files(self.out_dir, index, stage)
                if stage.is_md:
                    n, frames, wall, mean_t = self._md(
                        atoms, stage, index, start_step, state, wall0, bar
                    )
                else:
                    bar.update(f"{stage.name} (FIRE)")
                    t0 = time.perf_counter()
                    n = self._relax(atoms, stage)
                    frames, wall, mean_t = 0, wall0 + time.perf_counter() - t0, math.nan
                _write_structure(final_path, atoms)
                rec = StageRecord(
                    stage.name, stage.ensemble, traj_path, final_path, n, frames, wall, mean_t
                )
                stage_records.append(rec.to_dict())
                self.record.update(stages=stage_records, updated=output.now())
                output.write_record(self.out_dir, self.record)
                start_step, state, wall0 = 0, None, 0.0
                self._checkpoint(atoms, {}, index + 1, 0, 0, 0.0)
        _write_structure(self.out_dir / "final.extxyz", atoms)
        self.record.update(status="finished", finished=output.now())
        output.write_record(self.out_dir, self.record)
        return _run_from_record(self.out_dir, self.record)


def _run_from_record(out_dir: Path, record: dict[str, Any]) -> MDRun:
    stages = []
    for r in record.get("stages", []):
        stages.append(
            StageRecord(
                r["name"],
                r["ensemble"],
                None if r["trajectory"] is None else out_dir / r["trajectory"],
                out_dir / r["final_structure"],
                int(r["n_steps"]),
                int(r["n_frames"]),
                float(r["wall_s"]),
                math.nan if r["mean_temperature_K"] is None else float(r["mean_temperature_K"]),
            )
        )
    return MDRun(out_dir, tuple(stages))


def _check_protocol(protocol: Sequence[Stage]) -> list[Stage]:
    stages = list(protocol)
    if not stages:
        raise InputError("protocol: give at least one Stage")
    for s in stages:
        if not isinstance(s, Stage):
            raise InputError(
                f"protocol: expected solidion.md.Stage objects, got {type(s).__name__}"
            )
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise InputError(f"protocol: stage names must be unique, got {', '.join(names)}")
    return stages


def run_protocol(
    atoms: Atoms,
    protocol: Sequence[Stage],
    calculator: Any = "chgnet",
    out_dir: str | os.PathLike[str] = "md_run",
    *,
    rng: int | np.random.Generator | None = None,
    checkpoint_every: int = 500,
    guards: Guards | None = None,
    progress: bool | None = None,
    flush_every: int = 50,
    step_hook: StepHook | None = None,
    extra_record: dict[str, Any] | None = None,
) -> MDRun:
    """Run a protocol on a cell, streaming frames to H5MD, with checkpoints and guards.

    Args:
        atoms: The starting cell (not modified; a copy is run). Momenta, when present, are
            kept; otherwise the first MD stage draws Maxwell–Boltzmann velocities at its
            starting temperature.
        protocol: The stages, run in order (:class:`~solidion.md.protocol.Stage`).
        calculator: A potential name or checkpoint path for :func:`solidion.potentials.get`,
            or any ASE calculator.
        out_dir: The run directory (created; it must not hold another run).
        rng: Seed or generator for every random number of the run (recorded as a seed).
        checkpoint_every: Steps between periodic checkpoints.
        guards: Guard thresholds (:class:`~solidion.md.guards.Guards`).
        progress: Show a progress bar (default: when stderr is a terminal).
        flush_every: Frames buffered before each append to the H5MD file.
        step_hook: Called as ``hook(stage, step, atoms)`` after every MD step.
        extra_record: More entries for ``record.json`` (e.g. the composition).

    Returns:
        An :class:`MDRun` with one :class:`StageRecord` per stage.

    Raises:
        InputError: Bad protocol or arguments, or ``out_dir`` already holds a run.
        MDError: A guard stopped the run (files so far kept, record marked failed).
        RunInterrupted: SIGINT/SIGTERM arrived; a checkpoint was written first.
    """
    from solidion.potentials import describe, get

    stages = _check_protocol(protocol)
    if int(checkpoint_every) < 1:
        raise InputError(f"checkpoint_every must be ≥ 1, got {checkpoint_every}")
    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        raise InputError("atoms: expected a non-empty ase.Atoms")
    if not all(atoms.pbc):
        raise InputError("atoms: the cell must be periodic in all three directions")
    out = Path(out_dir)
    if (out / output.RECORD).exists():
        raise InputError(f"{out} already holds an MD run; use solidion.md.resume('{out}')")
    out.mkdir(parents=True, exist_ok=True)
    guards = guards or Guards()
    seed, gen = _generator(rng)
    calc = get(calculator)
    spec = calculator if isinstance(calculator, str | os.PathLike) else None
    record: dict[str, Any] = {
        "kind": "solidion.md run",
        "status": "running",
        "created": output.now(),
        "seed": seed,
        "protocol": [s.to_dict() for s in stages],
        "checkpoint_every": int(checkpoint_every),
        "flush_every": int(flush_every),
        "guards": guards.to_dict(),
        "potential": {**describe(calc), "spec": None if spec is None else str(spec)},
        "n_atoms": len(atoms),
        "formula": atoms.get_chemical_formula(),
        "software": output.software_versions(),
        "stages": [],
        **(extra_record or {}),
    }
    output.write_record(out, record)
    work = atoms.copy()
    work.calc = None
    _write_structure(out / "initial.extxyz", work)
    runner = _Run(
        out,
        stages,
        calc,
        record,
        gen,
        checkpoint_every=int(checkpoint_every),
        guards=guards,
        progress=progress,
        hook=step_hook,
        flush_every=flush_every,
    )
    runner._checkpoint(work, {}, 0, 0, 0, 0.0)
    return runner.run(work, 0, 0, None, 0.0)


def resume(
    out_dir: str | os.PathLike[str],
    calculator: Any = None,
    *,
    progress: bool | None = None,
    step_hook: StepHook | None = None,
) -> MDRun:
    """Continue a run directory from its last checkpoint; a finished run is returned as is.

    The stage being run when the checkpoint was taken continues at the checkpoint's step with
    the saved positions, momenta, integrator and RNG state; its H5MD file is cut back to the
    frames the checkpoint counted, so the trajectory has no lost and no duplicated frames.

    Args:
        out_dir: A directory written by :func:`run_protocol`.
        calculator: The potential; default the one recorded (required when the run was given a
            calculator object rather than a name or path).
        progress: Show a progress bar (default: when stderr is a terminal).
        step_hook: As in :func:`run_protocol`.

    Raises:
        InputError: No run record or checkpoint, or no way to rebuild the potential.
    """
    from solidion.potentials import get

    out = Path(out_dir)
    record = output.read_record(out)
    if record.get("status") == "finished":
        return _run_from_record(out, record)
    stages = _check_protocol([Stage.from_dict(d) for d in record["protocol"]])
    if calculator is None:
        spec = record.get("potential", {}).get("spec")
        if spec is None:
            raise InputError(
                f"{out}: the run used a calculator object; pass the same calculator to resume()"
            )
        calculator = spec
    options: dict[str, Any] = {}
    recorded = record.get("potential", {})
    if isinstance(calculator, str | os.PathLike) and str(calculator) == str(recorded.get("spec")):
        options = dict(recorded.get("options") or {})  # e.g. a non-default CHGNet model_name
    calc = get(calculator, **options)
    atoms, state, meta = output.load_checkpoint(out)
    index, step = int(meta["stage"]), int(meta["step"])
    gen = np.random.default_rng()
    gen.bit_generator.state = meta["rng_state"]
    # Drop everything written after the checkpoint: frames, log lines, later stages' files.
    thermo = out / output.THERMO
    if thermo.exists():
        with open(thermo, "r+b") as fh:
            fh.truncate(int(meta.get("thermo_bytes", 0)))
    for later, stage in enumerate(stages):
        traj, final = _stage_files(out, later, stage)
        if later < index:
            continue
        if traj is not None and traj.exists():
            if later == index and meta["frames_written"] > 0:
                from solidion.io import h5md

                h5md.truncate(traj, int(meta["frames_written"]))
            else:
                traj.unlink()
        if final.exists():
            final.unlink()
    record["stages"] = record.get("stages", [])[:index]
    record.update(status="running", resumed=output.now())
    guards = Guards.from_dict(record.get("guards", {}))
    runner = _Run(
        out,
        stages,
        calc,
        record,
        gen,
        checkpoint_every=int(record.get("checkpoint_every", 500)),
        guards=guards,
        progress=progress,
        hook=step_hook,
        flush_every=int(record.get("flush_every", 50)),
    )
    output.write_record(out, record)
    return runner.run(atoms, index, step, state or None, float(meta.get("stage_wall_s", 0.0)))

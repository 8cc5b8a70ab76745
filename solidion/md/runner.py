"""Run an MD protocol with streaming output, checkpoints, guards and resume.

:func:`run_protocol` runs a list of :class:`~solidion.md.protocol.Stage` objects on one cell;
:func:`resume` continues a run directory from its last checkpoint; :func:`extend` lengthens the
last stage of a finished run (production in chunks until an error bar is reached). The files are
described in :mod:`solidion.md.output`.

**Determinism.** All randomness (initial velocities, Langevin and Bussi noise) comes from one
``numpy.random.Generator`` seeded from ``rng``; its state is part of every checkpoint, together
with the integrator's internal variables and the exact positions and momenta. A resumed run
therefore repeats the uninterrupted run step by step (to the reproducibility of the force
evaluation itself: bit for bit on CPU for CHGNet).

**Checkpoints** are written every ``checkpoint_every`` steps, at every stage boundary, and when
SIGINT/SIGTERM arrives (the run then stops with :class:`~solidion.errors.RunInterrupted`). A run
killed without warning (SIGKILL, power loss) resumes from the last periodic checkpoint: frames
stored after it are dropped from the H5MD files and computed again.

**Each MD stage** starts with the total momentum removed (and the integrators keep it zero,
:mod:`solidion.md.integrators`), runs its ``equilibration_ps`` without storing frames, then
stores a frame every ``frame_interval_fs`` in ``NN_<stage>.h5`` and, for its first ``vdos_ps``
after the equilibration, every ``vdos_interval_fs`` in ``NN_<stage>.vdos.h5``. An NPT stage with
``rescale_to_mean_volume`` ends by scaling the cell to its mean volume over its second half.
The stage's entry in ``record.json`` says what was done (:meth:`StageRecord.to_dict`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from solidion.errors import InputError, MDError, RunInterrupted
from solidion.md import output
from solidion.md.guards import Guards, GuardState
from solidion.md.integrators import kinetic_temperature, make_integrator, remove_com_momentum
from solidion.md.protocol import Stage, check_timestep, fastest_mode

__all__ = ["MDRun", "StageRecord", "extend", "resume", "run_protocol"]

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
        n_steps: Steps run (FIRE steps for ``relax``), equilibration included.
        n_frames: Frames stored.
        wall_s: Wall-clock time of the stage (summed over resumed pieces).
        mean_temperature_K: Mean kinetic temperature (3N − 3 degrees of freedom) over the
            stored frames (NaN if none).
        equilibration_ps: Leading time that was run but not stored: the trajectory's first
            frame is at MD step ``equilibration_steps`` and holds no equilibration frames.
        equilibration_steps: The same in MD steps.
        vdos_trajectory: The densely sampled side file, or None.
        vdos_n_frames: Its frames.
        vdos_frame_interval_fs: Time between its frames.
        volume: For ``rescale_to_mean_volume``: ``mean_A3`` (over the second half, the volume
            the stage ends at), ``std_A3``, ``last_A3`` (before the scaling) and
            ``quarter_change`` ((mean of the 4th quarter − 3rd) / mean: a convergence check);
            for a ``relax_cell`` relaxation: ``start_A3`` and ``end_A3``.
        conserved_energy_drift_eV_atom_ps: Least-squares drift of the conserved quantity over
            the stage (constant-temperature stages of integrators that have one), else None.
    """

    name: str
    ensemble: str
    trajectory: Path | None
    final_structure: Path
    n_steps: int
    n_frames: int
    wall_s: float
    mean_temperature_K: float
    equilibration_ps: float = 0.0
    equilibration_steps: int = 0
    vdos_trajectory: Path | None = None
    vdos_n_frames: int = 0
    vdos_frame_interval_fs: float | None = None
    volume: dict[str, float] | None = None
    conserved_energy_drift_eV_atom_ps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths relative to the run directory).

        ``equilibration_frames`` is the number of leading frames of ``trajectory`` an
        analysis should skip: always 0, since the equilibration is not stored.
        """
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
            "equilibration_ps": self.equilibration_ps,
            "equilibration_steps": self.equilibration_steps,
            "equilibration_frames": 0,
            "vdos_trajectory": None if self.vdos_trajectory is None else self.vdos_trajectory.name,
            "vdos_n_frames": self.vdos_n_frames,
            "vdos_frame_interval_fs": self.vdos_frame_interval_fs,
            "volume": self.volume,
            "conserved_energy_drift_eV_atom_ps": self.conserved_energy_drift_eV_atom_ps,
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


def _vdos_file(out_dir: Path, index: int, stage: Stage) -> Path | None:
    return out_dir / f"{index:02d}_{stage.name}.vdos.h5" if stage.vdos_every else None


class _VolumeMean:
    """Running sums of the volume over a stage's 3rd and 4th quarters (checkpointed)."""

    def __init__(self, n_steps: int):
        self.n_steps = n_steps
        self.sums = np.zeros(5)  # n3, ΣV3, n4, ΣV4, ΣV² (second half)

    def add(self, step: int, volume: float) -> None:
        if 2 * step <= self.n_steps:
            return
        q = 0 if 4 * step <= 3 * self.n_steps else 2
        self.sums[q] += 1.0
        self.sums[q + 1] += volume
        self.sums[4] += volume * volume

    def summary(self, last: float) -> dict[str, float]:
        n3, s3, n4, s4, ss = self.sums
        n = n3 + n4
        mean = (s3 + s4) / n
        change = (s4 / n4 - s3 / n3) / mean if n3 and n4 else math.nan
        std = math.sqrt(max(ss / n - mean * mean, 0.0))
        return {"mean_A3": mean, "std_A3": std, "last_A3": last, "quarter_change": change}


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
        "temperature_K": kinetic_temperature(atoms),
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
    def _meta(
        self, stage_index: int, step: int, frames: int, wall: float, vdos_frames: int = 0
    ) -> dict[str, Any]:
        thermo = self.out_dir / output.THERMO
        return {
            "stage": stage_index,
            "step": step,
            "frames_written": frames,
            "vdos_frames_written": vdos_frames,
            "stage_wall_s": wall,
            "rng_state": self.gen.bit_generator.state,
            "thermo_bytes": thermo.stat().st_size if thermo.exists() else 0,
            "written": output.now(),
        }

    def _checkpoint(self, atoms, state, stage_index, step, frames, wall, vdos_frames=0) -> None:
        output.save_checkpoint(
            self.out_dir, atoms, state, self._meta(stage_index, step, frames, wall, vdos_frames)
        )

    def _fail(self, writer, atoms: Atoms, stage: Stage, step: int, why: str) -> MDError:
        for w in writer if isinstance(writer, tuple) else (writer,):
            if w is not None:
                w.flush()
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
    def _relax(self, atoms: Atoms, stage: Stage) -> tuple[int, dict[str, Any]]:
        from ase.optimize import FIRE

        v0 = float(atoms.get_volume())
        target: Any = atoms
        if stage.relax_cell:
            from ase.filters import FrechetCellFilter

            target = FrechetCellFilter(
                atoms, hydrostatic_strain=True, scalar_pressure=stage.pressure_GPa * units.GPa
            )
        opt = FIRE(target, logfile=None)
        guard = GuardState(self.guards, atoms)
        n = 0
        for _ in opt.irun(fmax=stage.fmax_eV_A, steps=stage.max_steps):
            n += 1
            why = guard.not_finite(atoms.get_potential_energy(), atoms.get_forces())
            if why:
                raise self._fail(None, atoms, stage, n, why)
        atoms.set_momenta(np.zeros((len(atoms), 3)))
        extra: dict[str, Any] = {}
        if stage.relax_cell:
            extra["volume"] = {"start_A3": v0, "end_A3": float(atoms.get_volume())}
        return n, extra

    def _md(
        self,
        atoms: Atoms,
        stage: Stage,
        index: int,
        start_step: int,
        state: dict[str, np.ndarray] | None,
        wall0: float,
        bar: _Progress,
    ) -> tuple[int, int, float, float, dict[str, Any]]:
        from ase.md import velocitydistribution as vd

        if start_step == 0:
            if not np.any(atoms.get_momenta()):
                thermalize = (
                    getattr(vd, "thermalize_momenta", None) or vd.MaxwellBoltzmannDistribution
                )
                thermalize(atoms, temperature_K=stage.T_start_K, rng=self.gen)
            remove_com_momentum(atoms)  # whatever the previous stage left
        integ = make_integrator(atoms, stage, self.gen)
        if state:
            integ.set_state(state)
        traj_path, _ = _stage_files(self.out_dir, index, stage)
        vdos_path = _vdos_file(self.out_dir, index, stage)
        n_eq = stage.n_equilibration_steps
        symbols = atoms.get_chemical_symbols()
        meta = {
            "stage": stage.name,
            "ensemble": stage.ensemble,
            "md_timestep_fs": stage.timestep_fs,
        }
        if n_eq:
            meta["equilibration_ps_not_stored"] = stage.equilibration_ps

        def frame_writer(path: Path | None, every: int, segment: str) -> output.FrameWriter | None:
            if path is None:
                return None
            return output.FrameWriter(
                path,
                symbols,
                every * stage.timestep_fs,
                variable_cell=stage.ensemble == "npt",
                temperature_K=float(stage.T_end_K),
                metadata={**meta, "segment": segment},
                flush_every=self.flush_every,
            )

        writer = frame_writer(traj_path, stage.save_every, "frames")
        dense = frame_writer(vdos_path, stage.vdos_every, "vdos")
        writers = (writer, dense)
        guard = GuardState(self.guards, atoms)
        volumes = _VolumeMean(stage.n_steps)
        if state:
            guard.load(state)
            if "volume_sums" in state:
                volumes.sums = np.array(state["volume_sums"], dtype=np.float64)
        drift_guard = integ.conserved_energy is not None and stage.T_start_K == stage.T_end_K
        temps: list[float] = []
        t_start = time.perf_counter()
        dt_ps = stage.timestep_fs / 1000.0

        def full_state() -> dict[str, np.ndarray]:
            s = integ.get_state()
            s.update(guard.state())
            s["volume_sums"] = volumes.sums.copy()
            return s

        def conserved() -> float | None:
            from ase.calculators.calculator import PropertyNotImplementedError

            try:
                return float(integ.conserved_energy())
            except (PropertyNotImplementedError, NotImplementedError):
                return None

        def store(step: int, target: float) -> None:
            """Thermo line and frames of this step, where the stage's intervals say so."""
            rel = step - n_eq
            log = stage.save_every and (rel if rel >= 0 else step) % stage.save_every == 0
            frame = writer is not None and rel >= 0 and rel % stage.save_every == 0
            vdos = (
                dense is not None and 0 <= rel <= stage.n_vdos_steps and rel % stage.vdos_every == 0
            )
            if not (log or frame or vdos):
                return
            obs = _observables(atoms, integ, target)
            if log:
                output.append_thermo(self.out_dir, stage.name, step, step * dt_ps, obs)
            if frame:
                temps.append(obs["temperature_K"])
                writer.add(step, atoms, obs)
            if vdos:
                dense.add(step, atoms, obs)

        why = guard.too_close(atoms) or guard.not_finite(
            atoms.get_potential_energy(), atoms.get_forces()
        )
        if why:
            raise self._fail(writers, atoms, stage, start_step, why)
        if start_step == 0:
            store(0, stage.T_start_K)
            if drift_guard:
                e0 = conserved()
                drift_guard = e0 is not None
                if drift_guard:
                    guard.energy_drift(0.0, e0)
        step = start_step
        while step < stage.n_steps:
            target = stage.temperature_at(step)
            integ.set_temperature(target)
            keep = getattr(atoms.calc, "with_stress", None)
            if keep is not None:
                # A calculator that computes the stress only when asked (solidion's CHGNet) gets
                # it in this step's force call where it is used: every NPT step (the barostat)
                # and the steps store() writes (the pressure of their log line and frames).
                # The caller's own setting is back in place after the step.
                nxt = step + 1 - n_eq
                logged = (
                    stage.save_every and (nxt if nxt >= 0 else step + 1) % stage.save_every == 0
                )
                sampled = dense is not None and 0 <= nxt <= stage.n_vdos_steps
                sampled = sampled and nxt % stage.vdos_every == 0
                atoms.calc.with_stress = bool(keep or stage.ensemble == "npt" or logged or sampled)
            integ.step()
            if keep is not None:
                atoms.calc.with_stress = keep
            step += 1
            why = guard.not_finite(atoms.get_potential_energy(), atoms.get_forces())
            why = why or guard.runaway(kinetic_temperature(atoms), target)
            if stage.rescale_to_mean_volume:
                volumes.add(step, float(atoms.get_volume()))
            if not why and step % self.guards.check_every == 0:
                why = guard.too_close(atoms)
                if not why and stage.ensemble == "npt":
                    why = guard.volume_drift(atoms)
                energy = conserved() if not why and drift_guard else None
                if energy is not None:
                    why = guard.energy_drift(step * dt_ps, energy)
            if why:
                raise self._fail(writers, atoms, stage, step, why)
            store(step, target)
            if self.hook is not None:
                self.hook(stage, step, atoms)
            bar.update(f"{stage.name} ({target:.0f} K)", dt_ps)
            interrupted = self.signals.caught is not None
            if interrupted or (step % self.checkpoint_every == 0 and step < stage.n_steps):
                for w in writers:
                    if w is not None:
                        w.flush()
                wall = wall0 + time.perf_counter() - t_start
                self._checkpoint(
                    atoms,
                    full_state(),
                    index,
                    step,
                    writer.n_written if writer is not None else 0,
                    wall,
                    dense.n_written if dense is not None else 0,
                )
                if interrupted:
                    self.record.update(status="interrupted", updated=output.now())
                    output.write_record(self.out_dir, self.record)
                    raise RunInterrupted(
                        f"stopped by signal {self.signals.caught} at stage {stage.name!r}, step "
                        f"{step}; checkpoint written. Continue with: solidion.md.resume("
                        f"'{self.out_dir}')"
                    )
        for w in writers:
            if w is not None:
                w.flush()
        extra: dict[str, Any] = {
            "equilibration_ps": stage.equilibration_ps,
            "equilibration_steps": n_eq,
        }
        if dense is not None:
            extra.update(
                vdos_trajectory=vdos_path,
                vdos_n_frames=dense.n_written,
                vdos_frame_interval_fs=stage.vdos_every * stage.timestep_fs,
            )
        if drift_guard and guard.energy_fit[0] >= 3:
            extra["conserved_energy_drift_eV_atom_ps"] = guard.drift_slope()
        if stage.rescale_to_mean_volume:
            extra["volume"] = self._rescale(atoms, stage, volumes)
        else:
            # the integrator's state at the end, for extend(); not part of the stage record
            extra["_end_state"] = full_state()
            extra["_vdos_frames"] = dense.n_written if dense is not None else 0
        frames = writer.n_written if writer is not None else 0
        mean_t = float(np.mean(temps)) if temps else math.nan
        return step, frames, wall0 + time.perf_counter() - t_start, mean_t, extra

    @staticmethod
    def _rescale(atoms: Atoms, stage: Stage, volumes: _VolumeMean) -> dict[str, float]:
        """Scale the cell and positions isotropically to the second half's mean volume."""
        last = float(atoms.get_volume())
        summary = volumes.summary(last)
        factor = (summary["mean_A3"] / last) ** (1.0 / 3.0)
        atoms.set_cell(atoms.get_cell() * factor, scale_atoms=True)
        if abs(summary["quarter_change"]) > QUARTER_CHANGE_WARN:
            warnings.warn(
                f"stage {stage.name!r}: the mean volume changed by "
                f"{100 * summary['quarter_change']:+.1f} % between the third and the last quarter "
                f"of the stage, so the volume taken ({summary['mean_A3']:.1f} Å³) is not yet "
                "converged: lengthen the stage (several barostat times, pdamp_fs)",
                UserWarning,
                stacklevel=5,
            )
        return summary

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
                extra: dict[str, Any] = {}
                if stage.is_md:
                    n, frames, wall, mean_t, extra = self._md(
                        atoms, stage, index, start_step, state, wall0, bar
                    )
                else:
                    bar.update(f"{stage.name} (FIRE)")
                    t0 = time.perf_counter()
                    n, extra = self._relax(atoms, stage)
                    frames, wall, mean_t = 0, wall0 + time.perf_counter() - t0, math.nan
                _write_structure(final_path, atoms)
                end_state = extra.pop("_end_state", None)
                vdos_frames = extra.pop("_vdos_frames", 0)
                rec = StageRecord(
                    stage.name,
                    stage.ensemble,
                    traj_path,
                    final_path,
                    n,
                    frames,
                    wall,
                    mean_t,
                    **extra,
                )
                stage_records.append(rec.to_dict())
                self.record.update(stages=stage_records, updated=output.now())
                output.write_record(self.out_dir, self.record)
                start_step, state, wall0 = 0, None, 0.0
                if index == len(self.protocol) - 1 and end_state is not None:
                    # the last stage's end, resumable by extend(): its step, frames, state
                    self._checkpoint(atoms, end_state, index, n, frames, wall, vdos_frames)
                else:
                    self._checkpoint(atoms, {}, index + 1, 0, 0, 0.0)
        _write_structure(self.out_dir / "final.extxyz", atoms)
        self.record.update(status="finished", finished=output.now())
        output.write_record(self.out_dir, self.record)
        return _run_from_record(self.out_dir, self.record)


def _run_from_record(out_dir: Path, record: dict[str, Any]) -> MDRun:
    stages = []
    for r in record.get("stages", []):
        vdos = r.get("vdos_trajectory")
        drift = r.get("conserved_energy_drift_eV_atom_ps")
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
                float(r.get("equilibration_ps", 0.0)),
                int(r.get("equilibration_steps", 0)),
                None if vdos is None else out_dir / vdos,
                int(r.get("vdos_n_frames", 0)),
                r.get("vdos_frame_interval_fs"),
                r.get("volume"),
                None if drift is None else float(drift),
            )
        )
    return MDRun(out_dir, tuple(stages))


#: Warn when the mean volume of a rescale_to_mean_volume stage moved more than this between
#: its third and fourth quarters (the volume fluctuation of a 42-atom glass is ~2–3 %).
QUARTER_CHANGE_WARN = 0.02


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
    max_frequency_THz: float | None = None,
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
        max_frequency_THz: The system's fastest vibration, when known, for the timestep check
            (default: :func:`~solidion.md.protocol.fastest_mode` of the composition, which
            assumes ionic-solid bond stiffnesses; a Lennard-Jones argon is 20× slower).

    Returns:
        An :class:`MDRun` with one :class:`StageRecord` per stage.

    Raises:
        InputError: Bad protocol or arguments, a timestep too long for the fastest vibration
            (:func:`~solidion.md.protocol.check_timestep`; nothing is written), or ``out_dir``
            already holds a run.
        MDError: A guard stopped the run (files so far kept, record marked failed).

    Warns:
        UserWarning: A timestep giving fewer than 20 steps per period of the fastest vibration;
            an anneal whose volume had not converged (``rescale_to_mean_volume``).
        RunInterrupted: SIGINT/SIGTERM arrived; a checkpoint was written first.
    """
    from solidion.potentials import describe, get

    stages = _check_protocol(protocol)
    if int(checkpoint_every) < 1:
        raise InputError(f"checkpoint_every must be ≥ 1, got {checkpoint_every}")
    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        raise InputError("atoms: expected a non-empty ase.Atoms")
    if len(atoms) < 2:
        raise InputError("atoms: at least 2 atoms (the centre of mass is held fixed)")
    if not all(atoms.pbc):
        raise InputError("atoms: the cell must be periodic in all three directions")
    guards = guards or Guards()
    symbols, masses = atoms.get_chemical_symbols(), atoms.get_masses()
    if max_frequency_THz is not None and not max_frequency_THz > 0:
        raise InputError(f"max_frequency_THz must be positive, got {max_frequency_THz}")
    for s in stages:
        check_timestep(
            s,
            symbols,
            masses,
            min_steps_per_period=guards.min_steps_per_period,
            max_frequency_THz=max_frequency_THz,
        )
    if max_frequency_THz is None:
        nu, what = fastest_mode(symbols, masses)
    else:
        nu, what = float(max_frequency_THz), "as given"
    out = Path(out_dir)
    if (out / output.RECORD).exists():
        raise InputError(f"{out} already holds an MD run; use solidion.md.resume('{out}')")
    out.mkdir(parents=True, exist_ok=True)
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
        "fastest_mode": {"frequency_THz": nu, "what": what, "period_fs": 1000.0 / nu},
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
        for path, key in (
            (traj, "frames_written"),
            (_vdos_file(out, later, stage), "vdos_frames_written"),
        ):
            if path is not None and path.exists():
                if later == index and int(meta.get(key, 0)) > 0:
                    from solidion.io import h5md

                    h5md.truncate(path, int(meta[key]))
                else:
                    path.unlink()
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


def extend(
    out_dir: str | os.PathLike[str],
    extra_ps: float,
    calculator: Any = None,
    *,
    progress: bool | None = None,
    step_hook: StepHook | None = None,
) -> MDRun:
    """Lengthen the last stage of a finished run by ``extra_ps`` and run the extension.

    The stage continues from its end exactly as if it had been that much longer from the start:
    the checkpoint written at the end of the last stage holds the positions, momenta, the
    integrator's state (thermostat chain, RNG) and the guards' state, and new frames are
    appended to the stage's H5MD file at the same interval. ``record.json``'s protocol gets the
    new duration (the old one is kept in ``extensions``). Interrupted, the extension resumes
    with :func:`resume` like any run.

    Args:
        out_dir: A finished run directory of :func:`run_protocol` whose last stage is MD.
        extra_ps: Simulated time to add (> 0; rounded to whole steps).
        calculator: The potential; default the one recorded (as in :func:`resume`).
        progress: Show a progress bar (default: when stderr is a terminal).
        step_hook: As in :func:`run_protocol`.

    Raises:
        InputError: No finished run, a last stage that is not MD or rescales its volume, a
            checkpoint that is not at the last stage's end (a run written before extend
            existed), or ``extra_ps`` not positive.
    """
    out = Path(out_dir)
    if not (math.isfinite(float(extra_ps)) and float(extra_ps) > 0):
        raise InputError(f"extra_ps must be positive, got {extra_ps}")
    record = output.read_record(out)
    if record.get("status") != "finished":
        raise InputError(
            f"{out}: only a finished run can be extended (status {record.get('status')!r}); "
            f"finish it first with solidion.md.resume('{out}')"
        )
    stages = _check_protocol([Stage.from_dict(d) for d in record["protocol"]])
    last = stages[-1]
    if not last.is_md or last.rescale_to_mean_volume:
        raise InputError(f"{out}: the last stage {last.name!r} is not an MD stage that can go on")
    _, _, meta = output.load_checkpoint(out)
    index = len(stages) - 1
    if int(meta["stage"]) != index or int(meta["step"]) != last.n_steps:
        raise InputError(
            f"{out}: the checkpoint is not at the end of stage {last.name!r} (a run written "
            "before extend() existed); it cannot be continued exactly"
        )
    n_extra = round(float(extra_ps) * 1000.0 / last.timestep_fs)
    if n_extra < 1:
        raise InputError(
            f"extra_ps {extra_ps} is shorter than one timestep ({last.timestep_fs} fs)"
        )
    longer = Stage.from_dict(
        {**last.to_dict(), "duration_ps": (last.n_steps + n_extra) * last.timestep_fs / 1000.0}
    )
    record["protocol"][-1] = longer.to_dict()
    record.setdefault("extensions", []).append(
        {"stage": last.name, "from_ps": last.duration_ps, "to_ps": longer.duration_ps}
    )
    record.update(status="running", updated=output.now())
    output.write_record(out, record)
    return resume(out, calculator, progress=progress, step_hook=step_hook)

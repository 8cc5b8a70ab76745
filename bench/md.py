"""Benchmark: the cost of solidion's MD driver over the bare force calls of the same model.

Run:  .venv/bin/python bench/md.py [--atoms 42] [--steps 200] [--repeats 3] [--out bench/out]

The physical limit of an MD step with a machine-learning potential is the model evaluation.
This script runs, on the same LiAlCl2.5O0.75 cell with pretrained CHGNet in this one process:

A. the bare loop: ``steps`` calls of ``calc.get_forces`` on configurations of an MD run of
   the same cell (so that the graphs are the size the driver sees);
B. ``solidion.md.run_protocol`` for ``steps`` NVT (Nosé–Hoover chain) steps, storing a frame
   every 10 steps in H5MD with all observables, a checkpoint every 50 steps, every guard on;

interleaved ``repeats`` times (A, B, A, B, ...) so that machine load affects both alike, and
reports atom-steps per second of each and the driver's overhead two ways: (B − A)/A from the
medians (sensitive to load changes between runs), and directly inside B as (time outside the
calculator) / (time inside it), timed around ``calc.calculate`` (insensitive to load drift).
The target of issue #5 is an overhead under 5 %.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def prepare(n_atoms: int, seed: int = 0):
    """A LiAlCl2.5O0.75 cell, FIRE-relaxed a little so that MD starts sane (not timed)."""
    from ase.optimize import FIRE

    from solidion.build import random_cell
    from solidion.potentials import get

    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=n_atoms, rng=seed)
    atoms.calc = get("chgnet")
    FIRE(atoms, logfile=None).run(fmax=0.2, steps=60)
    atoms.calc = None
    return atoms


def bare(atoms, calc, steps: int, frames: np.ndarray) -> float:
    """Seconds for ``steps`` force evaluations, cycling through MD frames of the same cell
    (the configurations the driver sees, so graph sizes match), each nudged by 0.002 Å."""
    work = atoms.copy()
    work.calc = calc
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for k in range(steps):
        work.positions = frames[k % len(frames)] + rng.normal(0, 0.002, work.positions.shape)
        work.get_forces()
    return time.perf_counter() - t0


class TimedCalls:
    """Wraps ``calc.calculate`` to add up the seconds spent inside the model."""

    def __init__(self, calc):
        self.calc, self.inner, self.seconds = calc, calc.calculate, 0.0

    def __enter__(self):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self.inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        self.calc.calculate = timed
        return self

    def __exit__(self, *exc):
        self.calc.calculate = self.inner


def driver(atoms, calc, steps: int, root: Path, k: int) -> tuple[float, float]:
    """Seconds for ``run_protocol`` of ``steps`` NVT steps (output, checkpoints, guards), and
    the seconds of it spent inside the calculator."""
    from solidion.md import Stage, run_protocol

    stage = Stage("nvt", 600, 600, steps * 2.0 / 1000, 2.0, frame_interval_fs=20)
    with TimedCalls(calc) as timer:
        t0 = time.perf_counter()
        run_protocol(
            atoms, [stage], calc, root / f"run{k}", rng=k, progress=False, checkpoint_every=50
        )
        total = time.perf_counter() - t0
    return total, timer.seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=42)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/out"))
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import torch

    from solidion import read_trajectory
    from solidion.potentials import get

    atoms = prepare(args.atoms)
    calc = get("chgnet")
    times_a, times_b, inside = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        driver(atoms, calc, 50, Path(tmp), 99)  # warm-up; its frames feed the bare loop
        frames = read_trajectory(Path(tmp) / "run99" / "00_nvt.h5").positions
        for k in range(args.repeats):
            times_a.append(bare(atoms, calc, args.steps, frames))
            total, in_calc = driver(atoms, calc, args.steps, Path(tmp), k)
            times_b.append(total)
            inside.append(in_calc)
    a, b = statistics.median(times_a), statistics.median(times_b)
    direct = [(t - c) / c for t, c in zip(times_b, inside, strict=True)]
    n = len(atoms)
    result = {
        "machine": {"python": platform.python_version(), "torch_threads": torch.get_num_threads()},
        "atoms": n,
        "steps": args.steps,
        "bare_s": times_a,
        "driver_s": times_b,
        "bare_atom_steps_per_s": n * args.steps / a,
        "driver_atom_steps_per_s": n * args.steps / b,
        "overhead_fraction_vs_bare_loop": (b - a) / a,
        "driver_s_inside_calculator": inside,
        "overhead_fraction_direct": statistics.median(direct),
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "md.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

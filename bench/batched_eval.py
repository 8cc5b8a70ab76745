"""Batched CHGNet evaluation of k replicas against k sequential CHGNetCalculator calls.

For k = 1, 2, 4 replicas of a ~40-atom Li–Al–Cl–O rock-salt cell (each replica rattled
differently, as MD replicas would be), time after one warm-up call, ``--reps`` times each:

* ``sequential``: one ``CHGNetCalculator`` per replica (from ``solidion.potentials.get``),
  ``calculate`` called on each in turn — what k independent ASE MD runs do every step;
* ``batched``: ``BatchedCHGNet.compute(replicas)``, graphs built by the model's converter and one
  ``model(graphs, task="efs")`` call;
* ``predict_structure``: chgnet's own ``model.predict_structure(structures, batch_size=k)``,
  the alternative batched path through pymatgen.

The methods take turns every repetition, so load from other processes hits all alike. Prints
atom-evaluations per second (k × n_atoms / time per call, from the median and from the fastest
call) and the batched/sequential ratio, with the load average. Run: ``.venv/bin/python bench/batched_eval.py [--reps 20] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import all_changes

from solidion.potentials import BatchedCHGNet, get, load_model


def replica(seed: int, repeat: tuple[int, int, int] = (3, 3, 2)) -> Atoms:
    """A rattled rock-salt cell: cation sites Li (80 %) / Al, anion sites Cl (70 %) / O."""
    atoms = bulk("NaCl", "rocksalt", a=5.64).repeat(repeat)
    rng = np.random.default_rng(0)  # the same composition in every replica
    symbols = [
        ("Al" if rng.random() < 0.2 else "Li")
        if s == "Na"
        else ("O" if rng.random() < 0.3 else "Cl")
        for s in atoms.get_chemical_symbols()
    ]
    atoms.set_chemical_symbols(symbols)
    atoms.rattle(0.08, seed=seed)
    return atoms


def interleaved_seconds(fns: list[Callable[[], object]], reps: int) -> list[list[float]]:
    """Per-call wall times of each function, the functions taking turns every repetition.

    Taking turns spreads any load from other processes over all methods alike.
    """
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for rep in range(reps):
        order = list(range(len(fns)))
        order = order[rep % len(fns) :] + order[: rep % len(fns)]
        for i in order:
            start = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--device", default=None)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import torch
    from pymatgen.io.ase import AseAtomsAdaptor

    model = load_model("chgnet", device=args.device).model
    batched = BatchedCHGNet(model)
    n_atoms = len(replica(0))
    print(
        f"cell: {n_atoms} atoms ({replica(0).get_chemical_formula()}), device {batched.device}, "
        f"torch threads {torch.get_num_threads()}, {args.reps} reps after a warm-up, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'k':>2} {'sequential':>14} {'batched':>14} {'predict_struct':>14} {'batched/seq':>12}"
        "   (atom-evals/s, from the median / fastest call)"
    )
    for k in args.ks:
        replicas = [replica(seed) for seed in range(k)]
        calcs = [get("chgnet", device=args.device) for _ in range(k)]

        def sequential(replicas: list[Atoms] = replicas, calcs: list = calcs) -> None:
            for atoms, calc in zip(replicas, calcs, strict=True):
                calc.calculate(atoms, ["energy", "forces", "stress"], all_changes)

        def one_call(replicas: list[Atoms] = replicas) -> None:
            batched.compute(replicas)

        def predict_structure(replicas: list[Atoms] = replicas, k: int = k) -> None:
            structures = [AseAtomsAdaptor.get_structure(a) for a in replicas]
            model.predict_structure(structures, task="efs", batch_size=k)

        times = interleaved_seconds([sequential, one_call, predict_structure], args.reps)
        for label, pick in (("median", statistics.median), ("best", min)):
            rates = [k * n_atoms / pick(t) for t in times]
            print(
                f"{k:>2} {rates[0]:>14.0f} {rates[1]:>14.0f} {rates[2]:>14.0f} "
                f"{rates[1] / rates[0]:>12.2f}   ({label} call)"
            )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other processes share the CPU)")


if __name__ == "__main__":
    main()

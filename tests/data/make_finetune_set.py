"""Make ``finetune_LiAlClO_7net0.extxyz``: 50 labelled frames of a 21-atom Li–Al–Cl–O cell.

Provenance (also in ``tests/data/README.md``):

* structures: a 21-atom Li4Al4Cl10O3 (LiAlCl2.5O0.75) random cell
  (``solidion.build.random_cell(..., density_g_cm3=2.2, rng=4)``), relaxed with FIRE under
  pretrained CHGNet 0.3.0 (60 steps, fmax 0.2 eV/Å), then five short Langevin runs with
  CHGNet 0.3.0 (1.5 fs, friction 0.02 fs⁻¹) — the *trajectories* ``nvt600``, ``nvt900``,
  ``nvt1200``, ``nvt1500`` and ``strain900`` (900 K, each frame given a random symmetric strain
  of up to ±3 % and a 0.04 Å rattle) — each 60 equilibration steps, then 10 frames 15 steps
  apart;
* labels: energy (eV), forces (eV/Å) and stress (eV/Å³, ASE sign: positive under tension) from
  **SevenNet-0** (``sevenn`` 0.13.0, model ``7net-0`` = ``SevenNet_0__11Jul2024``, the weights
  that ship in the sevenn wheel; Park et al., J. Chem. Theory Comput. 20, 4857 (2024)), on the
  CPU, float32 inside the model;
* seeds: 4 (cell), 10 + k for the k-th trajectory (velocities, thermostat noise, strains).

The SevenNet stress sign and unit are checked here against a finite difference of its energy
before anything is written. Each frame's ``info`` holds ``trajectory``, ``frame`` and
``labels``. ``tests/potentials/finetune/test_finetune_data.py`` re-labels two frames with
SevenNet-0 when sevenn is installed, to show the file is what this script makes.

Run from the repository root (about 2 minutes on one CPU core)::

    .venv/bin/python tests/data/make_finetune_set.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "finetune_LiAlClO_7net0.extxyz"
TRAJECTORIES = (
    ("nvt600", 600.0, False),
    ("nvt900", 900.0, False),
    ("nvt1200", 1200.0, False),
    ("nvt1500", 1500.0, False),
    ("strain900", 900.0, True),
)
N_EQUIL, N_FRAMES, EVERY = 60, 10, 15


def main() -> None:
    import warnings

    import numpy as np
    import torch
    from ase import units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.optimize import FIRE
    from sevenn.calculator import SevenNetCalculator

    from solidion import potentials
    from solidion.build import random_cell

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    version = __import__("importlib.metadata").metadata.version("sevenn")
    label = f"SevenNet-0 (sevenn {version}, model 7net-0)"
    reference = SevenNetCalculator(model="7net-0", device="cpu")

    cell = random_cell("LiAlCl2.5O0.75", n_atoms=21, density_g_cm3=2.2, rng=4)
    cell.calc = potentials.get("chgnet", device="cpu")
    FIRE(cell, logfile=None).run(fmax=0.2, steps=60)
    cell = cell.copy()

    # the reference's stress: ASE sign and eV/Å³ (σ_xx = (1/V) ∂E/∂ε_xx)
    probe = cell.copy()
    probe.calc = reference
    sigma = probe.get_stress()
    eps, energies = 1e-3, []
    for sign in (1, -1):
        strained = cell.copy()
        strained.set_cell(cell.cell.array @ np.diag([1 + sign * eps, 1, 1]), scale_atoms=True)
        strained.calc = reference
        energies.append(strained.get_potential_energy())
    numeric = (energies[0] - energies[1]) / (2 * eps) / cell.get_volume()
    assert abs(numeric - sigma[0]) < 2e-4, (numeric, sigma[0])

    frames = []
    for k, (name, temperature_K, strain) in enumerate(TRAJECTORIES):
        rng = np.random.default_rng(10 + k)
        atoms = cell.copy()
        atoms.calc = potentials.get("chgnet", device="cpu")
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
        dyn = Langevin(atoms, 1.5 * units.fs, temperature_K=temperature_K, friction=0.02, rng=rng)
        dyn.run(N_EQUIL)
        for i in range(N_FRAMES):
            dyn.run(EVERY)
            frame = atoms.copy()
            if strain:
                e = rng.uniform(-0.03, 0.03, size=(3, 3))
                frame.set_cell(frame.cell.array @ (np.eye(3) + (e + e.T) / 2), scale_atoms=True)
                frame.rattle(0.04, seed=int(rng.integers(2**31)))
            frame.wrap()
            frame.calc = reference
            results = {
                "energy": float(frame.get_potential_energy()),
                "forces": frame.get_forces().copy(),
                "stress": frame.get_stress().copy(),
            }
            out = frame.copy()
            out.arrays.pop("momenta", None)  # labels only: no velocities in the file
            out.info = {"trajectory": name, "frame": i, "labels": label}
            out.calc = SinglePointCalculator(out, **results)
            frames.append(out)
        print(f"{name}: {N_FRAMES} frames")
    write(OUT, frames, format="extxyz")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(frames)} frames)")


if __name__ == "__main__":
    main()

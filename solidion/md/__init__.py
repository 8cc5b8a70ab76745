"""Molecular dynamics on ASE's integrators: protocols, presets, streaming output, resume.

Typical use::

    from solidion.build import random_cell
    from solidion.md import preset, run_protocol

    p = preset("quick", temperatures=[600, 700, 800])
    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=p.n_atoms, rng=1)
    glass = run_protocol(atoms, p.melt_quench, "chgnet", "runs/glass", rng=1)
    prod = run_protocol(glass.final_atoms(), p.production_for(600), "chgnet", "runs/T600", rng=2)
"""

from __future__ import annotations

from solidion.md.guards import Guards
from solidion.md.protocol import (
    ENSEMBLES,
    PRESETS,
    THERMOSTATS,
    Preset,
    Stage,
    default_timestep_fs,
    melt_quench_stages,
    preset,
    production_stages,
)
from solidion.md.runner import MDRun, StageRecord, extend, resume, run_protocol

__all__ = [
    "ENSEMBLES",
    "PRESETS",
    "THERMOSTATS",
    "Guards",
    "MDRun",
    "Preset",
    "Stage",
    "StageRecord",
    "default_timestep_fs",
    "extend",
    "melt_quench_stages",
    "preset",
    "production_stages",
    "resume",
    "run_protocol",
]

"""The stages of ``solidion run`` as plain functions on file paths (callable from Dask).

Each stage takes paths and small values and returns a path or a small record, so a campaign can
ship stages to workers on a shared filesystem without moving arrays through a scheduler. Every
stage is idempotent: run twice, it returns what the first run produced; interrupted, it
continues from its checkpoint.

Directory of one composition::

    run.json               inputs and stage states (the pipeline's own record)
    build/initial.extxyz   the random cell
    glass/                 melt-and-quench run (solidion.md run directory; glass/final.extxyz)
    T600K/ T700K/ ...      production runs at each temperature (solidion.md run directories)
    results.json results.csv report.html figures/
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from solidion.chemistry import Composition
from solidion.errors import InputError
from solidion.md import Guards, MDRun, Preset, Stage

__all__ = [
    "build_stage",
    "extend_production",
    "glass_stage",
    "md_stage",
    "production_dir",
    "production_stage",
    "production_wall_s",
    "seed_for",
    "species_roles",
]

#: Largest relative volume change of one NPT stage of the glass protocol (the default guard for
#: MD stops at 30 %). The random cell is packed at a density estimated from crystals (±9 %);
#: the NPT ``density`` stage that follows the 0 K relaxation is a search for the glass's own
#: density at T_anneal, and with CHGNet it took the 42-atom LiAlCl2.5O0.75 cell from 1068 to
#: ~1400 Å³ (+31 %; its barostat overshoots before it settles). A cell coming apart keeps
#: growing, so doubling is still caught.
GLASS_MAX_VOLUME_DRIFT = 1.0


def seed_for(seed: int, label: str) -> int:
    """A reproducible child seed of ``seed`` for one stage (``"glass"``, ``"T600K"``)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(label.encode())]).generate_state(1)[0])


def production_dir(out_dir: Path, temperature_K: float) -> Path:
    """The run directory of the production at one temperature."""
    return Path(out_dir) / f"T{temperature_K:g}K"


def species_roles(
    composition: Composition,
    mobile: str | None = None,
    center: str | None = None,
    ligands: Sequence[str] | None = None,
) -> tuple[str, str | None, tuple[str, ...]]:
    """Mobile ion, polyhedron centre and ligands of a composition (each may be given).

    Defaults: the mobile ion is the lightest monovalent cation (Li before Na before K); the
    centre is the cation of highest oxidation state (ties: the more abundant; none when the
    only cations are mobile); the ligands are the anions, most abundant first.

    Example:
        >>> species_roles(Composition("LiAlCl2.5O0.75"))
        ('Li', 'Al', ('Cl', 'O'))
    """
    from ase.data import atomic_masses, atomic_numbers

    ox = composition.oxidation_states
    amounts = composition.amounts
    cations = [e for e in composition.elements if ox[e] > 0]
    anions = [e for e in composition.elements if ox[e] < 0]
    if mobile is None:
        mono = [e for e in cations if ox[e] == 1]
        if not mono:
            raise InputError(
                f"{composition}: no monovalent cation to call mobile; pass mobile=... (--mobile)"
            )
        mobile = min(mono, key=lambda e: atomic_masses[atomic_numbers[e]])
    if mobile not in composition.elements:
        raise InputError(f"mobile ion {mobile!r} is not in {composition}")
    if center is None:
        others = [e for e in cations if e != mobile]
        center = max(others, key=lambda e: (ox[e], amounts[e])) if others else None
    elif center not in composition.elements:
        raise InputError(f"polyhedron centre {center!r} is not in {composition}")
    if ligands is None:
        ligands = tuple(sorted(anions, key=lambda e: -amounts[e]))
    ligands = tuple(ligands)
    for lig in ligands:
        if lig not in composition.elements:
            raise InputError(f"ligand {lig!r} is not in {composition}")
    return mobile, center, ligands


def build_stage(formula: str, n_atoms: int, out_dir: Path, seed: int) -> Path:
    """Random cell of the composition closest to ``n_atoms``: ``out_dir/build/initial.extxyz``."""
    from ase.io import write

    from solidion.build import random_cell
    from solidion.io._atomic import atomic_path

    path = Path(out_dir) / "build" / "initial.extxyz"
    if path.exists():
        return path
    atoms = random_cell(formula, n_atoms=n_atoms, rng=seed_for(seed, "build"))
    atoms.info.pop("solidion", None)  # nested dict: not representable in extxyz
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".extxyz.tmp") as tmp:
        write(tmp, atoms, format="extxyz")
    return path


def md_stage(
    structure: Path,
    stages: Sequence[Stage],
    potential: Any,
    run_dir: Path,
    seed: int,
    *,
    checkpoint_every: int = 500,
    progress: bool | None = None,
    step_hook: Any = None,
    guards: Guards | None = None,
) -> MDRun:
    """Run (or continue, or just report) one MD run directory.

    A finished directory is returned as it is; a started one resumes from its checkpoint (with
    the guards it was started with); a new one starts from ``structure`` (momenta in the file
    are kept).
    """
    from ase.io import read

    from solidion.md import resume, run_protocol

    run_dir = Path(run_dir)
    if (run_dir / "record.json").exists():
        calc = None if isinstance(potential, str | os.PathLike) else potential
        return resume(run_dir, calc, progress=progress, step_hook=step_hook)
    atoms = read(structure)
    return run_protocol(
        atoms,
        stages,
        potential,
        run_dir,
        rng=seed,
        checkpoint_every=checkpoint_every,
        progress=progress,
        step_hook=step_hook,
        guards=guards,
    )


def glass_stage(
    initial: Path, preset: Preset, potential: Any, out_dir: Path, seed: int, **kw: Any
) -> Path:
    """Melt, quench and anneal the random cell: ``out_dir/glass/final.extxyz``.

    The final structure is scaled to the anneal's mean volume (the preset's anneal stage has
    ``rescale_to_mean_volume``). The run's guards allow each NPT stage to change the volume by
    up to :data:`GLASS_MAX_VOLUME_DRIFT` (the ``density`` stage is finding the density) unless
    ``guards=`` says otherwise.
    """
    kw.setdefault("guards", Guards(max_volume_drift=GLASS_MAX_VOLUME_DRIFT))
    run = md_stage(
        initial,
        preset.melt_quench,
        potential,
        Path(out_dir) / "glass",
        seed_for(seed, "glass"),
        checkpoint_every=preset.checkpoint_every,
        **kw,
    )
    return run.final_structure


def production_stage(
    glass: Path,
    preset: Preset,
    temperature_K: float,
    potential: Any,
    out_dir: Path,
    seed: int,
    **kw: Any,
) -> Path:
    """NVT production at one temperature from the glass: the path of its H5MD trajectory.

    The trajectory is the last stage's; it holds no equilibration frames (the preset's
    production stage runs its ``equilibration_ps`` first without storing them; the stage's
    entry in ``record.json`` has ``equilibration_ps``, ``equilibration_steps`` and
    ``equilibration_frames`` = 0, and ``vdos_trajectory`` names the densely sampled file).
    """
    stages = preset.production_for(temperature_K)
    run_dir = production_dir(out_dir, temperature_K)
    run = md_stage(
        glass,
        stages,
        potential,
        run_dir,
        seed_for(seed, run_dir.name),
        checkpoint_every=preset.checkpoint_every,
        **kw,
    )
    traj = run.stages[-1].trajectory
    if traj is None:
        raise InputError(
            f"the last production stage at {temperature_K:g} K stores no frames; give it a "
            "frame_interval_fs"
        )
    return traj


def extend_production(
    out_dir: Path, temperature_K: float, extra_ps: float, potential: Any, **kw: Any
) -> Path:
    """Run the production at one temperature ``extra_ps`` longer (:func:`solidion.md.extend`).

    The trajectory file grows in place; an interrupted extension continues with
    :func:`production_stage` (which resumes any started run directory).
    """
    from solidion.md import extend

    run_dir = production_dir(out_dir, temperature_K)
    calc = None if isinstance(potential, str | os.PathLike) else potential
    run = extend(run_dir, extra_ps, calc, **kw)
    return run.stages[-1].trajectory


def production_wall_s(out_dir: Path, temperature_K: float) -> float:
    """MD wall time of the production at one temperature so far (every invocation)."""
    from solidion.md import output

    record = output.read_record(production_dir(out_dir, temperature_K))
    return float(sum(float(s.get("wall_s") or 0.0) for s in record.get("stages", [])))

"""Extended XYZ and ASE ``.traj`` files, read through ``ase.io``.

Both formats may hold wrapped or unwrapped positions; solidion unwraps frame to frame by the
minimum-image convention, which leaves an already unwrapped path unchanged (see
:func:`solidion.trajectory.unwrap_positions`). The time between frames comes from
``timestep_fs=`` or from a ``time_fs`` entry of each frame's ``info`` (which solidion writes).

Extended XYZ is written by solidion's own writer with 12 decimals (ASE's writer keeps 8), so
a round trip is exact to 1e-10 Å; any extended XYZ reader (ASE, OVITO, ...) reads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.trajectory import Trajectory

__all__ = ["read", "write"]

_ASE_NAMES = {"extxyz": "extxyz", "ase-traj": "traj"}


def _format_of(path: Path, format: str | None) -> str:
    if format in _ASE_NAMES:
        return format
    return "ase-traj" if path.suffix.lower() == ".traj" else "extxyz"


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    format: str | None = None,
    **_: Any,
) -> Trajectory:
    """Read every frame of an extended XYZ or ASE trajectory file.

    Raises:
        TrajectoryError: Garbled or truncated file, atom count changing between frames, no cell,
            no timestep — naming the file and the frame.
    """
    import ase.io

    p = Path(path)
    fmt = _format_of(p, format)
    frames = []
    try:
        for atoms in ase.io.iread(p, index=":", format=_ASE_NAMES[fmt]):
            frames.append(atoms)
    except Exception as exc:  # ase raises many types for a broken file
        raise TrajectoryError(
            f"cannot parse as {fmt} ({type(exc).__name__}: {exc})", path=p, frame=len(frames)
        ) from None
    if not frames:
        raise TrajectoryError(f"no frames found in {fmt} file", path=p)
    n = len(frames[0])
    symbols = frames[0].get_chemical_symbols()
    for i, a in enumerate(frames):
        if len(a) != n:
            raise TrajectoryError(f"{len(a)} atoms, but frame 0 has {n}", path=p, frame=i)
        if a.get_chemical_symbols() != symbols:
            raise TrajectoryError("element order differs from frame 0", path=p, frame=i)
        if not a.cell.rank == 3:
            raise TrajectoryError("no 3-D periodic cell in this frame", path=p, frame=i)
    pos = np.stack([a.get_positions() for a in frames])
    cells = np.stack([np.asarray(a.cell[:], dtype=np.float64) for a in frames])
    cell = cells[0] if np.allclose(cells, cells[0], rtol=0, atol=1e-12) else cells
    info0 = frames[0].info
    if timestep_fs is None:
        times = [a.info.get("time_fs") for a in frames]
        if len(frames) > 1 and all(t is not None for t in times):
            d = np.diff(np.asarray(times, dtype=np.float64))
            if not np.allclose(d, d[0], rtol=1e-6) or d[0] <= 0:
                raise TrajectoryError("time_fs entries are not evenly spaced", path=p)
            timestep_fs = float(d[0])
        elif "timestep_fs" in info0:
            timestep_fs = float(info0["timestep_fs"])
        else:
            raise TrajectoryError(
                f"{fmt} file stores no time between frames; pass timestep_fs (fs)", path=p
            )
    if temperature_K is None and "temperature_K" in info0:
        temperature_K = float(info0["temperature_K"])
    meta = {"source": str(p), "format": fmt}
    return Trajectory.from_wrapped(symbols, pos, cell, timestep_fs, temperature_K, meta)


def _write_extxyz(traj: Trajectory, fh: Any) -> None:
    cells = traj.cells
    temp = f" temperature_K={traj.temperature_K:.12g}" if traj.temperature_K else ""
    for t in range(traj.n_frames):
        lattice = " ".join(f"{x:.12f}" for x in cells[t].ravel())
        fh.write(f"{traj.n_atoms}\n")
        fh.write(
            f'Lattice="{lattice}" Properties=species:S:1:pos:R:3 '
            f"time_fs={t * traj.timestep_fs:.12g} timestep_fs={traj.timestep_fs:.12g}{temp} "
            'pbc="T T T"\n'
        )
        lines = [
            f"{s:<3s} {x:.12f} {y:.12f} {z:.12f}\n"
            for s, (x, y, z) in zip(traj.symbols, traj.positions[t], strict=True)
        ]
        fh.writelines(lines)


def write(
    traj: Trajectory, path: str | os.PathLike[str], format: str | None = None, **_: Any
) -> None:
    """Write all frames (unwrapped positions) as extended XYZ or ASE ``.traj``, atomically."""
    p = Path(path)
    fmt = _format_of(p, format)
    with atomic_path(p) as tmp:
        if fmt == "extxyz":
            with open(tmp, "w", encoding="ascii") as fh:
                _write_extxyz(traj, fh)
            return
        from ase import Atoms
        from ase.io.trajectory import Trajectory as AseTrajectory

        with AseTrajectory(str(tmp), "w") as out:
            for t in range(traj.n_frames):
                atoms = Atoms(
                    traj.symbols, positions=traj.positions[t], cell=traj.cells[t], pbc=True
                )
                atoms.info["time_fs"] = t * traj.timestep_fs
                atoms.info["timestep_fs"] = traj.timestep_fs
                if traj.temperature_K:
                    atoms.info["temperature_K"] = traj.temperature_K
                out.write(atoms)

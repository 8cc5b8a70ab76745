"""Extended XYZ and ASE ``.traj`` files, read through ``ase.io``.

Both formats may hold wrapped or unwrapped positions; solidion unwraps frame to frame by the
minimum-image convention, which leaves an already unwrapped path unchanged (see
:func:`solidion.trajectory.unwrap_positions`). The time between frames comes from
``timestep_fs=`` or from a ``time_fs`` entry of each frame's ``info`` (which solidion writes).

Extended XYZ is written by solidion's own writer with 12 decimals (ASE's writer keeps 8), so
a round trip is exact to 1e-10 Å; any extended XYZ reader (ASE, OVITO, ...) reads it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import InputError, TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.io._text import ends_mid_line, truncated_error
from solidion.trajectory import FrameChunk, Trajectory

__all__ = ["iter_chunks", "read", "write"]

_ASE_NAMES = {"extxyz": "extxyz", "ase-traj": "traj"}
#: Cells closer than this (Å, every component) to frame 0's count as frame 0's.
_SAME_CELL_A = 1e-12
#: Relative tolerance on the spacing of ``time_fs`` entries.
_TIME_RTOL = 1e-6


def _format_of(path: Path, format: str | None) -> str:
    if format in _ASE_NAMES:
        return format
    return "ase-traj" if path.suffix.lower() == ".traj" else "extxyz"


def _iter_atoms(p: Path, fmt: str) -> Iterator[Any]:
    """The frames of the file as ``ase.Atoms``, one at a time (``ase.io.iread`` streams them).

    Raises:
        TrajectoryError: For anything ASE cannot parse, naming the file and the frame.
    """
    import ase.io

    with contextlib.suppress(OSError):  # a missing file is ASE's to report
        if fmt == "extxyz" and ends_mid_line(p):  # a cut inside the last number still parses
            raise truncated_error(p)
    count = 0
    try:
        for atoms in ase.io.iread(p, index=":", format=_ASE_NAMES[fmt]):
            yield atoms
            count += 1
    except KeyError as exc:  # ase looks every symbol up in ase.data.atomic_numbers
        raise TrajectoryError(
            f"cannot parse as {fmt}: unknown element symbol {exc.args[0]!r}", path=p, frame=count
        ) from None
    except Exception as exc:  # ase raises many types for a broken file
        raise TrajectoryError(
            f"cannot parse as {fmt} ({type(exc).__name__}: {exc})", path=p, frame=count
        ) from None


def _check_frame(atoms: Any, i: int, first: Any, p: Path) -> None:
    """Same atoms as frame 0, in the same order, and a 3-D cell."""
    n = len(first)
    if len(atoms) != n:
        raise TrajectoryError(f"{len(atoms)} atoms, but frame 0 has {n}", path=p, frame=i)
    if i and atoms.get_chemical_symbols() != first.get_chemical_symbols():
        raise TrajectoryError("element order differs from frame 0", path=p, frame=i)
    if not atoms.cell.rank == 3:
        raise TrajectoryError("no 3-D periodic cell in this frame", path=p, frame=i)


def _no_timestep(fmt: str, p: Path) -> TrajectoryError:
    return TrajectoryError(
        f"{fmt} file stores no time between frames; pass timestep_fs (fs)", path=p
    )


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
    p = Path(path)
    fmt = _format_of(p, format)
    frames = list(_iter_atoms(p, fmt))
    if not frames:
        raise TrajectoryError(f"no frames found in {fmt} file", path=p)
    symbols = frames[0].get_chemical_symbols()
    for i, a in enumerate(frames):
        _check_frame(a, i, frames[0], p)
    pos = np.stack([a.get_positions() for a in frames])
    cells = np.stack([np.asarray(a.cell[:], dtype=np.float64) for a in frames])
    cell = cells[0] if np.allclose(cells, cells[0], rtol=0, atol=_SAME_CELL_A) else cells
    info0 = frames[0].info
    if timestep_fs is None:
        times = [a.info.get("time_fs") for a in frames]
        if len(frames) > 1 and all(t is not None for t in times):
            d = np.diff(np.asarray(times, dtype=np.float64))
            bad = ~np.isclose(d, d[0], rtol=_TIME_RTOL) | (d <= 0)
            if bad.any():
                k = int(np.argmax(bad))
                raise TrajectoryError(
                    f"time_fs entries are not evenly spaced and increasing ({d[k]:g} fs after "
                    f"frame {k}, {d[0]:g} fs after frame 0)",
                    path=p,
                    frame=k + 1,
                )
            timestep_fs = float(d[0])
        elif "timestep_fs" in info0:
            timestep_fs = float(info0["timestep_fs"])
        else:
            raise _no_timestep(fmt, p)
    if temperature_K is None and "temperature_K" in info0:
        temperature_K = float(info0["temperature_K"])
    meta = {"source": str(p), "format": fmt}
    return Trajectory.from_wrapped(symbols, pos, cell, timestep_fs, temperature_K, meta)


def iter_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_frames: int,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    format: str | None = None,
    **_: Any,
) -> Iterator[FrameChunk]:
    """Read an extended XYZ or ASE trajectory file in chunks of frames, as stored.

    Frames come one at a time from ``ase.io.iread`` and are checked as :func:`read` checks them.
    The time between frames is taken from frames 0 and 1 (``time_fs``) or frame 0
    (``timestep_fs``), as :func:`read` does, and later ``time_fs`` entries are checked against
    it. A cell within 1e-12 Å of frame 0's is taken to be frame 0's, as :func:`read` does when
    the whole file has one cell. The positions are handed out wrapped (minimum-image
    unwrapping, which leaves an unwrapped path as it is, is
    :class:`solidion.trajectory.ChunkUnwrapper`'s job).

    Yields:
        :class:`~solidion.trajectory.FrameChunk` of at most ``chunk_frames`` frames.

    Raises:
        TrajectoryError: As :func:`read`, when the frame with the problem is reached.
        InputError: For ``chunk_frames`` < 1.
    """
    p = Path(path)
    fmt = _format_of(p, format)
    if int(chunk_frames) < 1:
        raise InputError(f"chunk_frames must be at least 1, got {chunk_frames}")
    frames = _iter_atoms(p, fmt)
    head = list(islice(frames, 2))  # frames 0 and 1 fix the timestep
    if not head:
        raise TrajectoryError(f"no frames found in {fmt} file", path=p)
    first = head[0]
    info0 = first.info
    times_given = timestep_fs is None and all("time_fs" in a.info for a in head)
    if timestep_fs is None:
        if len(head) > 1 and times_given:
            timestep_fs = float(head[1].info["time_fs"]) - float(info0["time_fs"])
            if not timestep_fs > 0:
                raise TrajectoryError(
                    f"time_fs entries are not evenly spaced and increasing ({timestep_fs:g} fs "
                    "after frame 0)",
                    path=p,
                    frame=1,
                )
        elif "timestep_fs" in info0:
            timestep_fs = float(info0["timestep_fs"])
            times_given = False
        else:
            raise _no_timestep(fmt, p)
    if temperature_K is None and "temperature_K" in info0:
        temperature_K = float(info0["temperature_K"])
    symbols = tuple(first.get_chemical_symbols())
    cell0 = np.asarray(first.cell[:], dtype=np.float64)
    last_time = float(info0["time_fs"]) if times_given else None
    buf: list[Any] = []
    start = 0

    def chunk(atoms_list: list[Any], start: int) -> FrameChunk:
        cells = np.stack([np.asarray(a.cell[:], dtype=np.float64) for a in atoms_list])
        same = np.all(np.abs(cells - cell0) <= _SAME_CELL_A, axis=(1, 2))
        cells[same] = cell0
        return FrameChunk(
            symbols=symbols,
            positions=np.stack([a.get_positions() for a in atoms_list]),
            cells=cells,
            start=start,
            timestep_fs=float(timestep_fs),
            temperature_K=temperature_K,
            source=p,
        )

    for i, atoms in enumerate(chain(head, frames)):
        _check_frame(atoms, i, first, p)
        if last_time is not None and i > 0:
            t = atoms.info.get("time_fs")
            if t is None:
                if "timestep_fs" not in info0:
                    raise TrajectoryError(
                        "no time_fs entry (frame 0 has one); pass timestep_fs", path=p, frame=i
                    )
            else:
                d = float(t) - last_time
                if not np.isclose(d, timestep_fs, rtol=_TIME_RTOL) or d <= 0:
                    raise TrajectoryError(
                        f"time_fs entries are not evenly spaced and increasing ({d:g} fs after "
                        f"frame {i - 1}, {timestep_fs:g} fs after frame 0)",
                        path=p,
                        frame=i,
                    )
                last_time = float(t)
        buf.append(atoms)
        if len(buf) == chunk_frames:
            yield chunk(buf, start)
            start += len(buf)
            buf = []
    if buf:
        yield chunk(buf, start)


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

"""Streaming: trajectory files larger than memory, read and converted chunk by chunk.

A whole-file reader (:func:`solidion.io.read_trajectory`) holds every frame. Here a file is
read in chunks of frames instead, and memory holds a few chunks whatever the file's length:

- :func:`iter_chunks` yields :class:`~solidion.trajectory.FrameChunk`, the frames as stored
  (wrapped or unwrapped, cell and step per frame), from the same parsers the whole-file readers
  use (LAMMPS text dumps, extended XYZ, ASE ``.traj``);
- :func:`iter_trajectory` unwraps them with :class:`~solidion.trajectory.ChunkUnwrapper`,
  which carries the last wrapped frame and the accumulated lattice shift from one chunk to the
  next, and yields unwrapped :class:`~solidion.trajectory.Trajectory` chunks equal to the
  matching frames of the whole-file read;
- :func:`convert_to_h5md` appends those chunks to an H5MD file as they come, under a temporary
  name beside the target that is renamed into place only once the last frame is written, so a
  failure (a truncated last frame, a full disk) leaves no output file.

``solidion convert`` uses :func:`convert_to_h5md` when it can (:func:`can_stream`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from solidion.errors import FormatError, InputError, TrajectoryError
from solidion.io import FORMATS, detect_format
from solidion.io._atomic import atomic_path
from solidion.trajectory import (
    DEFAULT_MAX_STEP_FRACTION,
    ChunkUnwrapper,
    FrameChunk,
    Trajectory,
)
from solidion.units import PS_PER_FS

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "STREAMING_FORMATS",
    "ConversionSummary",
    "can_stream",
    "convert_to_h5md",
    "iter_chunks",
    "iter_trajectory",
]

#: Formats whose reader can stream (their module has ``iter_chunks``).
STREAMING_FORMATS = ("lammps-dump", "extxyz", "ase-traj")
#: Frames per chunk: ~8 MB of float64 positions for 1300 atoms.
DEFAULT_CHUNK_FRAMES = 256
#: Largest number of frames in one HDF5 chunk of the written positions.
_MAX_H5_CHUNK_FRAMES = 1024


def _source_format(path: Path, format: str | None) -> str:
    name = format or detect_format(path)
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r}; known: {', '.join(FORMATS)}", path=path)
    return name


def can_stream(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    format: str | None = None,
    to: str | None = None,
) -> bool:
    """Whether converting ``source`` to ``target`` can stream (a streaming format → H5MD).

    Raises:
        FormatError: If a format is unknown or cannot be told from a file name.
    """
    return _source_format(Path(source), format) in STREAMING_FORMATS and (
        _source_format(Path(target), to) == "h5md"
    )


def iter_chunks(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    **options: Any,
) -> Iterator[FrameChunk]:
    """Frames of a file in chunks of ``chunk_frames``, as stored (not unwrapped).

    Args:
        path: The file.
        format: One of :data:`STREAMING_FORMATS`; guessed from the name when omitted.
        chunk_frames: Frames per chunk (the last may have fewer).
        timestep_fs: Time between stored frames in fs (required for LAMMPS dumps).
        temperature_K: Simulation temperature in K; overrides the file's value.
        **options: Format options, e.g. ``type_map={1: "Li"}`` for LAMMPS.

    Raises:
        FormatError: If the format cannot stream.
        TrajectoryError: If the file is missing, or bad where a chunk reaches the problem.
        InputError: If ``chunk_frames`` < 1.
    """
    p = Path(path)
    name = _source_format(p, format)
    if name not in STREAMING_FORMATS:
        raise FormatError(
            f"format {name!r} cannot be read in chunks (streaming formats: "
            f"{', '.join(STREAMING_FORMATS)})",
            path=p,
        )
    if isinstance(chunk_frames, bool) or int(chunk_frames) != chunk_frames or chunk_frames < 1:
        raise InputError(f"chunk_frames must be a whole number ≥ 1, got {chunk_frames!r}")
    if not p.exists():
        raise TrajectoryError("no such file", path=p)
    if p.is_dir():
        raise TrajectoryError("is a directory, not a trajectory file", path=p)
    if name in ("extxyz", "ase-traj"):
        options["format"] = name
    module = FORMATS[name].load()
    return module.iter_chunks(
        p,
        chunk_frames=int(chunk_frames),
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        **options,
    )


def _chunk_trajectory(
    chunk: FrameChunk, positions: np.ndarray, format: str, *, steps: bool
) -> Trajectory:
    """The unwrapped chunk as a Trajectory (which checks it: finite positions, a good cell)."""
    cells = chunk.cells
    cell = cells[0] if np.all(cells == cells[0]) else cells
    meta: dict[str, Any] = {"source": str(chunk.source), "format": format}
    meta["first_frame"] = chunk.start
    if steps and chunk.steps is not None:
        meta["steps"] = chunk.steps.tolist()
    return Trajectory(chunk.symbols, positions, cell, chunk.timestep_fs, chunk.temperature_K, meta)


def iter_trajectory(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    max_step_fraction: float = DEFAULT_MAX_STEP_FRACTION,
    **options: Any,
) -> Iterator[Trajectory]:
    """Unwrapped trajectory chunks of a file, equal to the whole-file read frame for frame.

    Each chunk's ``metadata`` has ``first_frame`` (its first frame's index in the file) and,
    for LAMMPS dumps, ``steps``. Arguments as for :func:`iter_chunks`; ``max_step_fraction`` as
    for :func:`solidion.trajectory.unwrap_positions`.

    Example:
        >>> for part in iter_trajectory("run.lammpstrj", timestep_fs=20,   # doctest: +SKIP
        ...                             type_map={1: "Li", 2: "Cl"}):
        ...     print(part.metadata["first_frame"], part.positions.shape)
    """
    p = Path(path)
    name = _source_format(p, format)
    chunks = iter_chunks(
        p,
        name,
        chunk_frames=chunk_frames,
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        **options,
    )
    unwrapper = ChunkUnwrapper(max_step_fraction=max_step_fraction, source=p)
    for chunk in chunks:
        yield _chunk_trajectory(chunk, unwrapper.unwrap_chunk(chunk), name, steps=True)


@dataclass(frozen=True)
class ConversionSummary:
    """What :func:`convert_to_h5md` wrote.

    Attributes:
        source: The input file.
        target: The H5MD file written.
        format: The input format.
        counts: Number of atoms of each element.
        n_frames: Frames written.
        n_atoms: Atoms per frame.
        timestep_fs: Time between stored frames in fs.
        temperature_K: Temperature in K, if known.
        variable_cell: Whether the cell changes between frames.
        chunk_frames: Frames per chunk used.
        source_bytes: Size of the input file in bytes.
    """

    source: Path
    target: Path
    format: str
    counts: dict[str, int]
    n_frames: int
    n_atoms: int
    timestep_fs: float
    temperature_K: float | None
    variable_cell: bool
    chunk_frames: int
    source_bytes: int

    def __str__(self) -> str:
        cell = "variable cell" if self.variable_cell else "fixed cell"
        temp = f", {self.temperature_K:g} K" if self.temperature_K else ""
        counts = " ".join(f"{k}{v}" for k, v in self.counts.items())
        return (
            f"Trajectory({counts}, {self.n_frames} frames × {self.timestep_fs:g} fs, {cell}{temp})"
        )


def _h5_chunk_frames(chunk_frames: int) -> int:
    return max(1, min(chunk_frames, _MAX_H5_CHUNK_FRAMES))


class _H5MDAppender:
    """Appends frames to an H5MD file that :func:`solidion.io.h5md.write` created.

    The layout is h5md's: ``position/{value,step,time}`` and ``box/edges``, a fixed dataset
    until a frame's cell differs from it, then (rewritten once, in blocks) a time series.
    """

    def __init__(self, path: Path, chunk_frames: int, n_atoms: int) -> None:
        # Room for two full rows of HDF5 chunks, so a chunk left partly filled by one append is
        # still cached when the next append fills it.
        row = _h5_chunk_frames(chunk_frames) * n_atoms * 3 * 8
        self.f = h5py.File(path, "r+", rdcc_nbytes=max(1 << 20, 2 * row), rdcc_nslots=10007)
        self.chunk_frames = _h5_chunk_frames(chunk_frames)
        self.position = self.f["particles/all/position"]
        self.box = self.f["particles/all/box"]
        self.n_frames = int(self.position["value"].shape[0])

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> _H5MDAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def variable_cell(self) -> bool:
        return isinstance(self.box["edges"], h5py.Group)

    def append(self, traj: Trajectory, steps: np.ndarray, times_ps: np.ndarray) -> None:
        cells = traj.cells
        edges = self.box["edges"]
        if isinstance(edges, h5py.Dataset):
            fixed = np.asarray(edges[()], dtype=np.float64)
            if not np.array_equal(cells, np.broadcast_to(fixed, cells.shape)):
                self._edges_to_series(fixed)
        _extend(self.position, traj.positions, steps, times_ps)
        if self.variable_cell:
            _extend(self.box["edges"], np.asarray(cells), steps, times_ps)
        self.n_frames += traj.n_frames

    def _edges_to_series(self, fixed: np.ndarray) -> None:
        """Replace the fixed cell by a series holding it for every frame written so far."""
        n = self.n_frames
        del self.box["edges"]
        g = self.box.create_group("edges")
        value = g.create_dataset(
            "value",
            shape=(n, 3, 3),
            maxshape=(None, 3, 3),
            dtype=np.float64,
            chunks=(self.chunk_frames, 3, 3),
        )
        value.attrs["unit"] = "Angstrom"
        step = g.create_dataset(
            "step", shape=(n,), maxshape=(None,), dtype=np.int64, chunks=(1024,)
        )
        time = g.create_dataset(
            "time", shape=(n,), maxshape=(None,), dtype=np.float64, chunks=(1024,)
        )
        time.attrs["unit"] = "ps"
        block = 1 << 16
        for a in range(0, n, block):
            b = min(a + block, n)
            value[a:b] = np.broadcast_to(fixed, (b - a, 3, 3))
            step[a:b] = self.position["step"][a:b]
            time[a:b] = self.position["time"][a:b]


def _extend(g: h5py.Group, data: np.ndarray, steps: np.ndarray, times_ps: np.ndarray) -> None:
    n0 = g["value"].shape[0]
    n = data.shape[0]
    for name, arr in (("value", data), ("step", steps), ("time", times_ps)):
        ds = g[name]
        ds.resize(n0 + n, axis=0)
        ds[n0:] = arr


def convert_to_h5md(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    format: str | None = None,
    *,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    compression: str | None = "gzip",
    max_step_fraction: float = DEFAULT_MAX_STEP_FRACTION,
    **options: Any,
) -> ConversionSummary:
    """Convert a trajectory file to H5MD chunk by chunk: read, unwrap, append.

    Memory holds a few chunks, whatever the length of the file. The H5MD file is the one
    :func:`solidion.io.h5md.write` writes for the whole-file read (positions unwrapped, in Å;
    time in ps; a fixed cell when no frame's cell differs from frame 0's), except that
    ``position/step`` holds the file's MD step numbers (LAMMPS) rather than frame indices, and
    the step list is not repeated in the JSON metadata.

    The file is written under a temporary name beside ``target`` and renamed into place at the
    end; if anything fails on the way, no file is left at ``target`` (an existing one is kept).

    Args:
        source: The input file (a format of :data:`STREAMING_FORMATS`).
        target: The H5MD file to write.
        format: Input format; guessed from the name when omitted.
        chunk_frames: Frames per chunk (also the HDF5 chunk length, up to 1024).
        timestep_fs: Time between stored frames in fs (required for LAMMPS dumps).
        temperature_K: Temperature in K; overrides the file's value.
        compression: HDF5 filter for positions (``"gzip"``, ``"lzf"`` or None).
        max_step_fraction: See :func:`solidion.trajectory.unwrap_positions`.
        **options: Format options, e.g. ``type_map={1: "Li", 2: "Cl"}`` for LAMMPS.

    Returns:
        What was written.

    Raises:
        TrajectoryError: If the input is bad (truncated, garbled, frames too far apart to
            unwrap) or the target cannot be written; the message names the file and the frame.
        FormatError: If the input format cannot stream.
        InputError: For a bad option, or ``target`` being ``source``.
    """
    from solidion.io import h5md

    src, dst = Path(source), Path(target)
    name = _source_format(src, format)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise InputError(f"{dst}: the target is the source file")
    chunks = iter_chunks(
        src,
        name,
        chunk_frames=chunk_frames,
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        **options,
    )
    unwrapper = ChunkUnwrapper(max_step_fraction=max_step_fraction, source=src)
    first: dict[str, Any] = {}  # what the summary needs of the first chunk (not its positions)
    with atomic_path(dst, suffix=".h5md.tmp") as tmp, contextlib.ExitStack() as stack:
        out: _H5MDAppender | None = None
        while True:
            try:
                chunk = next(chunks, None)
            except OSError as exc:
                raise TrajectoryError(
                    f"cannot read: {exc.strerror or exc}", path=src, frame=unwrapper.n_frames
                ) from None
            if chunk is None:
                break
            traj = _chunk_trajectory(chunk, unwrapper.unwrap_chunk(chunk), name, steps=False)
            steps = chunk.steps
            if steps is None:
                steps = np.arange(chunk.start, chunk.start + chunk.n_frames, dtype=np.int64)
            times = np.arange(chunk.start, chunk.start + chunk.n_frames, dtype=np.float64)
            times_ps = times * traj.timestep_fs * PS_PER_FS  # as Trajectory.times_ps
            try:
                if out is None:
                    first.update(
                        counts=traj.counts(),
                        n_atoms=traj.n_atoms,
                        timestep_fs=traj.timestep_fs,
                        temperature_K=traj.temperature_K,
                    )
                    h5md.write(
                        traj,
                        tmp,
                        steps=steps,
                        compression=compression,
                        chunk_frames=_h5_chunk_frames(int(chunk_frames)),
                    )
                    out = stack.enter_context(_H5MDAppender(tmp, int(chunk_frames), traj.n_atoms))
                else:
                    out.append(traj, steps, times_ps)
            except OSError as exc:
                raise TrajectoryError(
                    f"cannot write: {exc.strerror or exc}", path=dst, frame=chunk.start
                ) from None
        if out is None:  # pragma: no cover - the readers raise on a file without frames
            raise TrajectoryError("no frames found", path=src)
        n_frames, variable = out.n_frames, out.variable_cell
    return ConversionSummary(
        source=src,
        target=dst,
        format=name,
        n_frames=n_frames,
        variable_cell=variable,
        chunk_frames=int(chunk_frames),
        source_bytes=src.stat().st_size,
        **first,
    )

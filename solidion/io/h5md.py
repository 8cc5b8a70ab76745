"""H5MD trajectories (HDF5): lazy reading by frame and atom slices, writing, appending.

Layout (H5MD 1.1, de Buyl, Colberg & Höfling, Comput. Phys. Commun. 185, 1546 (2014)):

- ``/h5md`` with attribute ``version = [1, 1]`` and ``author``/``creator`` groups;
- ``/particles/all/position/{value,step,time}``: value (frames, atoms, 3), time in ps;
- ``/particles/all/box`` with attributes ``dimension = 3``, ``boundary = ["periodic"]*3`` and
  ``edges`` either a fixed dataset ((3, 3) rows = lattice vectors, or (3,) for a cuboid) or a
  time series group ``edges/{value,step,time}``;
- ``/particles/all/species``: atomic numbers (atoms,);
- optional ``/particles/all/image`` (frames, atoms, 3) when positions are stored wrapped;
- optional ``/observables/<name>/{value,step,time}`` (energies, temperature, pressure);
- ``/parameters/solidion``: attributes ``temperature_K``, ``timestep_fs``, ``positions_unwrapped``
  and ``metadata`` (JSON text).

solidion writes unwrapped positions and says so in ``/parameters/solidion``. A file from another
program is unwrapped from its ``image`` dataset when present, otherwise frame to frame by the
minimum-image convention (which leaves an already unwrapped path unchanged). ``unit``
attributes of ``nm``/``Angstrom`` and ``ps``/``fs`` are honoured.

Reading is lazy: :class:`H5MDReader` knows the shape without loading, and ``read(frames=...,
atoms=...)`` loads only the selection, after checking that the selection fits the memory
budget, so a file that declares absurd sizes fails fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from solidion.errors import TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.trajectory import Trajectory
from solidion.units import FS_PER_PS

__all__ = ["H5MDReader", "append_frames", "n_frames", "read", "truncate", "write"]

_LENGTH_UNITS = {
    None: 1.0,
    "": 1.0,
    "A": 1.0,
    "Angstrom": 1.0,
    "angstrom": 1.0,
    "Å": 1.0,
    "nm": 10.0,
    "pm": 0.01,
}
_TIME_UNITS = {None: 1.0, "": 1.0, "ps": 1.0, "fs": 1.0 / FS_PER_PS, "ns": 1000.0}


def _attr_str(obj: h5py.HLObject, name: str) -> str | None:
    val = obj.attrs.get(name)
    if val is None:
        return None
    if isinstance(val, bytes):
        return val.decode()
    if isinstance(val, np.ndarray):
        val = val.tolist()
        if isinstance(val, list):
            val = val[0] if val else ""
        if isinstance(val, bytes):
            return val.decode()
    return str(val)


def _available_bytes() -> int:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


class H5MDReader:
    """Lazy view of an H5MD trajectory.

    Args:
        path: The file.
        timestep_fs: Overrides the time between frames found in the file.
        temperature_K: Overrides the temperature stored by solidion.
        max_memory_mb: Largest selection :meth:`read` may load; defaults to the memory
            available on the machine.

    Example:
        >>> with H5MDReader("run.h5md") as r:            # doctest: +SKIP
        ...     first = r.read(frames=slice(0, 1000), atoms=r.indices("Li"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timestep_fs: float | None = None,
        temperature_K: float | None = None,
        max_memory_mb: float | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            self._f = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise TrajectoryError("no such file", path=self.path) from None
        except OSError as exc:
            raise TrajectoryError(f"not a readable HDF5 file ({exc})", path=self.path) from None
        try:
            self._inspect(timestep_fs, temperature_K)
        except TrajectoryError:
            self._f.close()
            raise
        except (KeyError, ValueError, TypeError, OSError) as exc:
            self._f.close()
            raise TrajectoryError(f"not a valid H5MD trajectory ({exc})", path=self.path) from None
        self.max_bytes = (
            int(max_memory_mb * 2**20) if max_memory_mb is not None else _available_bytes()
        )

    # -- layout checks ------------------------------------------------------------------
    def _inspect(self, timestep_fs: float | None, temperature_K: float | None) -> None:
        f, path = self._f, self.path
        if "h5md" not in f:
            raise TrajectoryError("no /h5md group: not an H5MD file", path=path)
        try:
            part = f["particles/all"]
            pos = part["position"]
            self._value = pos["value"]
        except KeyError as exc:
            raise TrajectoryError(f"missing H5MD group or dataset: {exc}", path=path) from None
        shape = self._value.shape
        if len(shape) != 3 or shape[2] != 3:
            raise TrajectoryError(
                f"position/value must be (frames, atoms, 3), got {shape}", path=path
            )
        self.n_frames, self.n_atoms = int(shape[0]), int(shape[1])
        if self.n_frames < 1 or self.n_atoms < 1:
            raise TrajectoryError(f"position/value is empty, shape {shape}", path=path)
        if "species" not in part:
            raise TrajectoryError("missing /particles/all/species", path=path)
        species = part["species"]
        if species.shape != (self.n_atoms,):
            raise TrajectoryError(
                f"species has shape {species.shape} but position/value has {self.n_atoms} atoms",
                path=path,
            )
        z = np.asarray(species[()])
        if z.dtype.kind in "SOU":
            self.symbols = tuple(s.decode() if isinstance(s, bytes) else str(s) for s in z)
        else:
            self.symbols = tuple(int(v) for v in z)  # validated by Trajectory
        self._length_scale = _LENGTH_UNITS.get(_attr_str(self._value, "unit"))
        if self._length_scale is None:
            raise TrajectoryError(
                f"unknown length unit {_attr_str(self._value, 'unit')!r}", path=path
            )
        self._image = part["image"] if "image" in part else None
        if self._image is not None and self._image.shape != shape:
            raise TrajectoryError(
                f"image shape {self._image.shape} != position shape {shape}", path=path
            )
        # box
        if "box" not in part:
            raise TrajectoryError("missing /particles/all/box", path=path)
        box = part["box"]
        boundary = box.attrs.get("boundary")
        if boundary is not None:
            b = [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(boundary)]
            if any(x != "periodic" for x in b):
                raise TrajectoryError(f"box boundary must be periodic, got {b}", path=path)
        if "edges" not in box:
            raise TrajectoryError("missing /particles/all/box/edges", path=path)
        edges = box["edges"]
        self._edges_series = isinstance(edges, h5py.Group)
        self._edges = edges["value"] if self._edges_series else edges
        eshape = self._edges.shape
        lead = (self.n_frames,) if self._edges_series else ()
        if eshape not in ((*lead, 3), (*lead, 3, 3)):
            raise TrajectoryError(
                f"box edges have shape {eshape}, expected {(*lead, 3, 3)}", path=path
            )
        # time
        solid = f["parameters/solidion"].attrs if "parameters/solidion" in f else {}
        self._unwrapped = bool(solid.get("positions_unwrapped", False))
        self.metadata: dict[str, Any] = {}
        if "metadata" in solid:
            raw = solid["metadata"]
            self.metadata = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        self.metadata.update({"source": str(path), "format": "h5md"})
        self.timestep_fs = timestep_fs if timestep_fs is not None else self._timestep_from_file(pos)
        stored_t = solid.get("temperature_K")
        self.temperature_K = (
            temperature_K
            if temperature_K is not None
            else (float(stored_t) if stored_t is not None and np.isfinite(stored_t) else None)
        )

    def _timestep_from_file(self, pos: h5py.Group) -> float:
        if "time" not in pos:
            raise TrajectoryError(
                "position has no time dataset; pass timestep_fs (time between frames, fs)",
                path=self.path,
            )
        time = pos["time"]
        scale = _TIME_UNITS.get(_attr_str(time, "unit"))
        if scale is None:
            raise TrajectoryError(f"unknown time unit {_attr_str(time, 'unit')!r}", path=self.path)
        if time.shape == ():  # H5MD: a scalar time is the interval of a regular series
            dt_ps = float(time[()]) * scale
        else:
            if time.shape != (self.n_frames,):
                raise TrajectoryError(
                    f"position/time has shape {time.shape}, expected ({self.n_frames},)",
                    path=self.path,
                )
            if self.n_frames < 2:
                solid = (
                    self._f["parameters/solidion"].attrs if "parameters/solidion" in self._f else {}
                )
                if "timestep_fs" in solid:
                    return float(solid["timestep_fs"])
                raise TrajectoryError(
                    "one frame: cannot tell the timestep; pass timestep_fs", path=self.path
                )
            t = np.asarray(time[()], dtype=np.float64) * scale
            d = np.diff(t)
            if not np.all(d > 0) or not np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
                frame = int(np.argmax(~np.isclose(d, d[0], rtol=1e-6, atol=1e-9) | (d <= 0))) + 1
                raise TrajectoryError(
                    "frames are not evenly spaced in time; solidion needs a regular series",
                    path=self.path,
                    frame=frame,
                )
            dt_ps = float(d.mean())
        if not dt_ps > 0:
            raise TrajectoryError(f"non-positive time between frames ({dt_ps} ps)", path=self.path)
        return dt_ps * FS_PER_PS

    # -- access -------------------------------------------------------------------------
    def __enter__(self) -> H5MDReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def indices(self, species: str) -> np.ndarray:
        """Atom indices of one element (without loading positions)."""
        from ase.data import chemical_symbols

        names = [chemical_symbols[s] if isinstance(s, int) else s for s in self.symbols]
        idx = np.flatnonzero(np.asarray(names) == species)
        if idx.size == 0:
            raise TrajectoryError(f"species {species!r} is not in the file", path=self.path)
        return idx

    def nbytes(self, n_frames: int | None = None, n_atoms: int | None = None) -> int:
        """Bytes of float64 positions for a selection (defaults: the whole file)."""
        nf = self.n_frames if n_frames is None else n_frames
        na = self.n_atoms if n_atoms is None else n_atoms
        return nf * na * 3 * 8

    def cells(self, frames: slice | None = None) -> np.ndarray:
        """Cell in Å: (3, 3) for a fixed box, (n_selected, 3, 3) for a time series.

        Cuboid edges stored as a 3-vector become a diagonal cell.
        """
        if self._edges_series:
            edges = np.asarray(
                self._edges[frames if frames is not None else slice(None)], dtype=np.float64
            )
        else:
            edges = np.asarray(self._edges[()], dtype=np.float64)
        edges = edges * self._length_scale
        if edges.shape[-1:] == (3,) and edges.ndim == (2 if self._edges_series else 1):
            edges = edges[..., None] * np.eye(3)  # cuboid edges → diagonal cell
        return edges

    def read(
        self, frames: slice | None = None, atoms: Sequence[int] | np.ndarray | None = None
    ) -> Trajectory:
        """Load a frame slice and an atom selection into a :class:`Trajectory`.

        Raises:
            TrajectoryError: If the selection exceeds the memory budget, or the data are bad.
        """
        fsl = frames if frames is not None else slice(None)
        if not isinstance(fsl, slice):
            raise TrajectoryError("frames must be a slice", path=self.path)
        start, stop, step = fsl.indices(self.n_frames)
        if step <= 0:
            raise TrajectoryError("frame slices must have a positive step", path=self.path)
        nf = len(range(start, stop, step))
        if nf == 0:
            raise TrajectoryError(f"frame slice {fsl} selects no frames", path=self.path)
        if atoms is None:
            aidx: np.ndarray | slice = slice(None)
            na = self.n_atoms
        else:
            aidx = np.asarray(atoms, dtype=np.intp)
            if aidx.ndim != 1 or aidx.size == 0:
                raise TrajectoryError("atoms must be a non-empty 1-D index list", path=self.path)
            if aidx.min() < 0 or aidx.max() >= self.n_atoms:
                raise TrajectoryError(
                    f"atom index out of range 0..{self.n_atoms - 1}", path=self.path
                )
            na = int(aidx.size)
        need = self.nbytes(nf, na) * (2 if not self._unwrapped else 1)
        if need > self.max_bytes:
            raise TrajectoryError(
                f"selection of {nf} frames × {na} atoms needs {need / 2**20:.0f} MiB, over the "
                f"memory budget of {self.max_bytes / 2**20:.0f} MiB; read it in chunks "
                "(frames=/atoms=) or raise max_memory_mb",
                path=self.path,
            )
        sel = np.s_[start:stop:step]
        try:
            if isinstance(aidx, slice):
                pos = np.asarray(self._value[sel], dtype=np.float64)
                img = (
                    None if self._image is None else np.asarray(self._image[sel], dtype=np.float64)
                )
            else:
                order = np.argsort(aidx)
                sorted_idx = aidx[order]
                uniq, inverse = np.unique(sorted_idx, return_inverse=True)
                back = np.empty_like(order)
                back[order] = np.arange(order.size)
                pos = np.asarray(self._value[sel, uniq], dtype=np.float64)[:, inverse][:, back]
                img = (
                    None
                    if self._image is None
                    else np.asarray(self._image[sel, uniq], dtype=np.float64)[:, inverse][:, back]
                )
            edges = self.cells(sel)
        except (OSError, ValueError) as exc:
            raise TrajectoryError(f"cannot read positions ({exc})", path=self.path) from None
        pos *= self._length_scale
        symbols = self.symbols if isinstance(aidx, slice) else tuple(self.symbols[i] for i in aidx)
        meta = dict(self.metadata)
        meta["first_frame"] = start
        dt = self.timestep_fs * step
        bad = ~np.isfinite(pos).all(axis=(1, 2))
        if bad.any():
            raise TrajectoryError(
                "positions contain NaN or infinite values",
                path=self.path,
                frame=start + step * int(np.argmax(bad)),
            )
        if self._unwrapped:
            return Trajectory(symbols, pos, edges, dt, self.temperature_K, meta)
        return Trajectory.from_wrapped(
            symbols, pos, edges, dt, self.temperature_K, meta, images=img
        )

    def iter_frames(
        self, chunk_frames: int, atoms: Sequence[int] | np.ndarray | None = None
    ) -> Iterator[Trajectory]:
        """Yield consecutive frame blocks of at most ``chunk_frames`` frames."""
        if chunk_frames < 1:
            raise TrajectoryError("chunk_frames must be at least 1", path=self.path)
        for start in range(0, self.n_frames, chunk_frames):
            yield self.read(
                frames=slice(start, min(start + chunk_frames, self.n_frames)), atoms=atoms
            )


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    frames: slice | None = None,
    atoms: Sequence[int] | np.ndarray | None = None,
    max_memory_mb: float | None = None,
    **_: Any,
) -> Trajectory:
    """Read an H5MD file (or a frame/atom selection of it) into a :class:`Trajectory`."""
    with H5MDReader(
        path, timestep_fs=timestep_fs, temperature_K=temperature_K, max_memory_mb=max_memory_mb
    ) as r:
        return r.read(frames=frames, atoms=atoms)


#: Atoms per HDF5 chunk: analyses read atom blocks over all frames, MD appends frames, so chunks
#: are tiles of (frames × atoms) and neither access decompresses the whole file.
CHUNK_ATOMS = 64


def _chunk_shape(shape: tuple[int, ...], chunk_frames: int) -> tuple[int, ...]:
    frames = max(1, min(chunk_frames, shape[0]))
    if len(shape) == 3:  # (frames, atoms, 3)
        return (frames, max(1, min(CHUNK_ATOMS, shape[1])), shape[2])
    return (frames, *shape[1:])


def _series(
    group: h5py.Group,
    name: str,
    first: np.ndarray,
    chunk_frames: int,
    compression: str | None,
    unit: str | None = None,
) -> h5py.Group:
    g = group.create_group(name)
    shape = first.shape
    kw: dict[str, Any] = {}
    if compression:
        kw = {"compression": compression, "shuffle": True}
    value = g.create_dataset(
        "value",
        shape=shape,
        maxshape=(None, *shape[1:]),
        dtype=first.dtype,
        chunks=_chunk_shape(shape, chunk_frames),
        **kw,
    )
    value[...] = first
    if unit:
        value.attrs["unit"] = unit
    g.create_dataset("step", shape=(shape[0],), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    t = g.create_dataset(
        "time", shape=(shape[0],), maxshape=(None,), dtype=np.float64, chunks=(1024,)
    )
    t.attrs["unit"] = "ps"
    return g


def _extend(g: h5py.Group, data: np.ndarray, steps: np.ndarray, times_ps: np.ndarray) -> None:
    n0 = g["value"].shape[0]
    n = data.shape[0]
    for name, arr in (("value", data), ("step", steps), ("time", times_ps)):
        ds = g[name]
        ds.resize(n0 + n, axis=0)
        ds[n0:] = arr


def _write_new(
    f: h5py.File,
    traj: Trajectory,
    steps: np.ndarray,
    times_ps: np.ndarray,
    compression: str | None,
    chunk_frames: int,
    observables: Mapping[str, np.ndarray] | None,
) -> None:
    from ase.data import atomic_numbers

    import solidion

    f.create_group("h5md").attrs["version"] = np.array([1, 1], dtype=np.int32)
    f["h5md"].create_group("author").attrs["name"] = "solidion user"
    creator = f["h5md"].create_group("creator")
    creator.attrs["name"] = "solidion"
    creator.attrs["version"] = solidion.__version__
    part = f.create_group("particles/all")
    part.create_dataset(
        "species", data=np.array([atomic_numbers[s] for s in traj.symbols], dtype=np.int32)
    )
    pos = _series(part, "position", traj.positions, chunk_frames, compression, "Angstrom")
    pos["step"][...] = steps
    pos["time"][...] = times_ps
    box = part.create_group("box")
    box.attrs["dimension"] = np.int32(3)
    box.attrs["boundary"] = np.array([b"periodic"] * 3)
    if traj.variable_cell:
        e = _series(box, "edges", traj.cell, chunk_frames, None, "Angstrom")
        e["step"][...] = steps
        e["time"][...] = times_ps
    else:
        box.create_dataset("edges", data=traj.cell).attrs["unit"] = "Angstrom"
    for name, values in (observables or {}).items():
        arr = np.asarray(values, dtype=np.float64)
        g = _series(f.require_group("observables"), name, arr, chunk_frames, None)
        g["step"][...] = steps
        g["time"][...] = times_ps
    par = f.create_group("parameters/solidion")
    par.attrs["positions_unwrapped"] = np.int8(1)
    par.attrs["timestep_fs"] = traj.timestep_fs
    par.attrs["temperature_K"] = np.nan if traj.temperature_K is None else traj.temperature_K
    meta = {k: v for k, v in traj.metadata.items() if k not in ("source", "format", "first_frame")}
    par.attrs["metadata"] = json.dumps(meta, default=str)


def write(
    traj: Trajectory,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    compression: str | None = "gzip",
    chunk_frames: int = 256,
    observables: Mapping[str, np.ndarray] | None = None,
    **_: Any,
) -> None:
    """Write a new H5MD file (chunked, compressed), atomically.

    Args:
        traj: The trajectory; positions are stored unwrapped, in Å, time in ps.
        path: Target file; replaced only once the new file is complete.
        format: Ignored (the registry passes it).
        steps: MD step number of each frame; defaults to the frame index.
        compression: HDF5 filter for positions (``"gzip"``, ``"lzf"`` or None).
        chunk_frames: Frames per HDF5 chunk.
        observables: Per-frame scalars or arrays, e.g. ``{"potential_energy": e_eV}``.
    """
    st = np.arange(traj.n_frames, dtype=np.int64) if steps is None else np.asarray(steps, np.int64)
    if st.shape != (traj.n_frames,):
        raise TrajectoryError(f"steps must have {traj.n_frames} entries", path=path)
    with atomic_path(path, suffix=".h5md.tmp") as tmp, h5py.File(tmp, "w") as f:
        _write_new(f, traj, st, traj.times_ps, compression, chunk_frames, observables)


def append_frames(
    path: str | os.PathLike[str],
    traj: Trajectory,
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    observables: Mapping[str, np.ndarray] | None = None,
    compression: str | None = "gzip",
    chunk_frames: int = 64,
) -> None:
    """Append frames to an H5MD file, creating it (atomically) when it does not exist.

    The appended frames continue the time axis: frame *k* of ``traj`` gets the time of the last
    stored frame plus (k + 1) timesteps. Positions must be unwrapped and continue the stored path
    (MD writes them so). The file is closed after every call, so readers see complete frames.

    Raises:
        TrajectoryError: If the atoms, species, timestep or cell kind do not match the file.
    """
    p = Path(path)
    if not p.exists():
        write(
            traj,
            p,
            steps=steps,
            compression=compression,
            chunk_frames=chunk_frames,
            observables=observables,
        )
        return
    try:
        f = h5py.File(p, "r+")
    except OSError as exc:
        raise TrajectoryError(f"cannot open for appending ({exc})", path=p) from None
    with f:
        pos = f["particles/all/position"]
        n_atoms = pos["value"].shape[1]
        if n_atoms != traj.n_atoms:
            raise TrajectoryError(
                f"file has {n_atoms} atoms, new frames have {traj.n_atoms}", path=p
            )
        from ase.data import atomic_numbers

        z = np.array([atomic_numbers[s] for s in traj.symbols])
        if not np.array_equal(z, f["particles/all/species"][()]):
            raise TrajectoryError("species of the new frames differ from the file", path=p)
        par = f["parameters/solidion"].attrs if "parameters/solidion" in f else {}
        dt = float(par.get("timestep_fs", traj.timestep_fs))
        if not np.isclose(dt, traj.timestep_fs, rtol=1e-9):
            raise TrajectoryError(
                f"timestep {traj.timestep_fs} fs differs from the file's {dt} fs", path=p
            )
        edges = f["particles/all/box/edges"]
        series = isinstance(edges, h5py.Group)
        if not series and not (
            not traj.variable_cell and np.allclose(edges[()], traj.cell, rtol=0, atol=1e-12)
        ):
            raise TrajectoryError("file has a fixed cell; the new frames' cell differs", path=p)
        n0 = pos["value"].shape[0]
        last_step = int(pos["step"][n0 - 1])
        last_time = float(pos["time"][n0 - 1])
        k = np.arange(1, traj.n_frames + 1)
        st = last_step + k if steps is None else np.asarray(steps, np.int64)
        times = last_time + k * traj.timestep_fs / FS_PER_PS
        _extend(pos, traj.positions, st, times)
        if series:
            _extend(edges, np.asarray(traj.cells), st, times)
        for name, values in (observables or {}).items():
            obs = f.require_group("observables")
            arr = np.asarray(values, dtype=np.float64)
            if name not in obs:
                raise TrajectoryError(f"observable {name!r} is not in the file", path=p)
            _extend(obs[name], arr, st, times)


def n_frames(path: str | os.PathLike[str]) -> int:
    """Number of stored frames, without reading them (0 when the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return 0
    try:
        with h5py.File(p, "r") as f:
            return int(f["particles/all/position/value"].shape[0])
    except (OSError, KeyError) as exc:
        raise TrajectoryError(f"not a readable H5MD trajectory ({exc})", path=p) from None


def truncate(path: str | os.PathLike[str], n_frames: int) -> None:
    """Drop every frame after the first ``n_frames`` (positions, cell series, observables).

    Used when an MD run resumes from a checkpoint: frames written after the checkpoint was
    taken would otherwise be duplicated by the resumed run.

    Raises:
        TrajectoryError: If the file cannot be opened or holds fewer than ``n_frames`` frames.
    """
    p = Path(path)
    try:
        f = h5py.File(p, "r+")
    except OSError as exc:
        raise TrajectoryError(f"cannot open for truncation ({exc})", path=p) from None
    with f:
        pos = f["particles/all/position"]
        have = pos["value"].shape[0]
        if not 0 <= n_frames <= have:
            raise TrajectoryError(f"cannot keep {n_frames} frames: the file has {have}", path=p)
        groups = [pos]
        edges = f["particles/all/box/edges"]
        if isinstance(edges, h5py.Group):
            groups.append(edges)
        if "observables" in f:
            groups.extend(g for g in f["observables"].values() if isinstance(g, h5py.Group))
        for g in groups:
            for name in ("value", "step", "time"):
                if name in g:
                    g[name].resize(n_frames, axis=0)

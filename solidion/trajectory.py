"""The one trajectory type every reader produces and every analysis consumes.

Positions are **unwrapped**, float64, shape ``(n_frames, n_atoms, 3)``, in Å. The cell is
either fixed, shape ``(3, 3)``, or per frame, ``(n_frames, 3, 3)``; its rows are the lattice
vectors (ASE convention). ``timestep_fs`` is the time between *stored* frames.

Readers convert into this type once, at the edge (the idea of kinisi's parsers); analyses never
care where the data came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from solidion.errors import InputError, TrajectoryError
from solidion.units import PS_PER_FS

__all__ = ["ChunkUnwrapper", "FrameChunk", "Trajectory", "unwrap_positions"]

#: Default largest frame-to-frame step accepted by :func:`unwrap_positions`, as a fraction of
#: the cell along each lattice direction (see there for why it is below one half).
DEFAULT_MAX_STEP_FRACTION = 0.4


def _check_cell(cell: np.ndarray, n_frames: int, source: object | None) -> np.ndarray:
    cell = np.asarray(cell, dtype=np.float64)
    if cell.shape == (3,):
        cell = np.diag(cell)
    if cell.shape not in ((3, 3), (n_frames, 3, 3)):
        raise TrajectoryError(
            f"cell must have shape (3, 3) or ({n_frames}, 3, 3), got {cell.shape}", path=source
        )
    bad = ~np.isfinite(cell).reshape(-1, 9).all(axis=1)
    if bad.any():
        frame = int(np.argmax(bad)) if cell.ndim == 3 else None
        raise TrajectoryError("cell contains NaN or infinite values", path=source, frame=frame)
    det = np.linalg.det(cell)
    scale = np.prod(np.linalg.norm(cell, axis=-1), axis=-1)
    singular = ~(np.abs(det) > 1e-8 * np.maximum(scale, 1e-300))
    if np.any(singular):
        frame = int(np.argmax(np.atleast_1d(singular))) if cell.ndim == 3 else None
        raise TrajectoryError(
            "cell is singular (zero or near-zero volume); lattice vectors must be independent",
            path=source,
            frame=frame,
        )
    left = det < 0
    if np.any(left):
        frame = int(np.argmax(np.atleast_1d(left))) if cell.ndim == 3 else None
        raise TrajectoryError(
            "cell is left-handed (negative determinant of the lattice vectors); MD codes and "
            "solidion expect a right-handed cell: swap two lattice vectors and the matching "
            "fractional-coordinate columns",
            path=source,
            frame=frame,
        )
    return cell


def _check_symbols(symbols: Iterable[Any], source: object | None) -> tuple[str, ...]:
    out: list[str] = []
    for i, s in enumerate(symbols):
        if isinstance(s, (int, np.integer)):
            if not 0 < int(s) < len(chemical_symbols):
                raise TrajectoryError(f"atom {i}: unknown atomic number {int(s)}", path=source)
            out.append(chemical_symbols[int(s)])
            continue
        s = str(s).strip()
        if s not in atomic_numbers or s == "X":
            raise TrajectoryError(f"atom {i}: unknown element symbol {s!r}", path=source)
        out.append(s)
    return tuple(out)


def _frac_and_inverse(cell: np.ndarray, n_frames: int) -> np.ndarray:
    """Inverse cell per frame, shape (n_frames, 3, 3)."""
    inv = np.linalg.inv(cell)
    return np.broadcast_to(inv, (n_frames, 3, 3)) if inv.ndim == 2 else inv


def unwrap_positions(
    wrapped: np.ndarray,
    cell: np.ndarray,
    *,
    max_step_fraction: float = DEFAULT_MAX_STEP_FRACTION,
    source: object | None = None,
) -> np.ndarray:
    """Unwrap wrapped coordinates frame to frame with the minimum-image convention.

    The step between consecutive frames is wrapped into the *current* cell, and the unwrapped
    path accumulates these steps:

    .. math::  u_t = u_{t-1} + \\Delta_t - h_t\\,\\mathrm{round}(h_t^{-1}\\Delta_t),
               \\quad \\Delta_t = w_t - w_{t-1}

    (row-vector convention, :math:`h_t` the lattice vectors of frame *t*). This is the
    "toroidal-view-preserving" scheme of von Bülow, Bullerjahn & Hummer, J. Chem. Phys. 153,
    021101 (2020), which stays correct for a changing (NPT) cell, where scaling image offsets
    by the instantaneous cell would inflate diffusion. It works for orthorhombic and triclinic
    cells. It is implemented as ``u_t = w_t + S_t`` with an accumulated lattice shift ``S_t``, so
    a path that never crosses a boundary is returned bit-for-bit.

    A true move of more than half a box between frames is indistinguishable from a shorter move
    the other way. Real atoms move far less than that between stored frames, so a minimum-image
    step whose fractional component exceeds ``max_step_fraction`` (default 0.4) means the frames
    are too far apart to unwrap, and raises.

    Args:
        wrapped: Positions in Å, shape (n_frames, n_atoms, 3); any origin, any wrapping.
        cell: Lattice vectors as rows, (3, 3) or (n_frames, 3, 3).
        max_step_fraction: Largest accepted step per frame, in fractions of the cell (0–0.5].
        source: File or label named in error messages.

    Returns:
        Unwrapped positions, float64, same shape, equal to ``wrapped`` at frame 0.

    Raises:
        TrajectoryError: If some atom steps too far between two frames.
    """
    w = np.asarray(wrapped, dtype=np.float64)
    if w.ndim != 3 or w.shape[-1] != 3:
        raise TrajectoryError(
            f"positions must be (n_frames, n_atoms, 3), got {w.shape}", path=source
        )
    if not 0 < max_step_fraction <= 0.5:
        raise InputError(f"max_step_fraction must be in (0, 0.5], got {max_step_fraction}")
    n_frames = w.shape[0]
    cell = np.asarray(cell, dtype=np.float64)
    cells = np.broadcast_to(cell, (n_frames, 3, 3)) if cell.ndim == 2 else cell
    inv = _frac_and_inverse(cell, n_frames)
    out = np.empty_like(w)
    out[0] = w[0]
    shift = np.zeros(w.shape[1:], dtype=np.float64)
    for t in range(1, n_frames):
        step = w[t] - w[t - 1]
        frac = step @ inv[t]
        n = np.rint(frac)
        resid = np.abs(frac - n)
        if resid.max(initial=0.0) > max_step_fraction:
            atom = int(np.unravel_index(np.argmax(resid), resid.shape)[0])
            raise TrajectoryError(
                f"atom {atom} moves {resid.max():.2f} of a box length from frame {t - 1}; "
                f"the frames are too far apart to unwrap (limit {max_step_fraction} box)",
                path=source,
                frame=t,
            )
        if n.any():
            shift = shift - n @ cells[t]
        out[t] = w[t] + shift
    return out


@dataclass(frozen=True, eq=False)
class FrameChunk:
    """Consecutive frames of a file as the file stores them, before unwrapping.

    Streaming readers (``iter_chunks`` of :mod:`solidion.io.lammps` and
    :mod:`solidion.io.ase_formats`, through :func:`solidion.io.stream.iter_chunks`) yield these,
    and :class:`ChunkUnwrapper` turns them into unwrapped positions.

    Attributes:
        symbols: Element symbol of each atom (the same in every chunk of a file); atomic numbers
            are turned into symbols.
        positions: Cartesian positions in Å, float64, (n, n_atoms, 3): wrapped (any origin), or
            unwrapped when ``unwrapped`` is true.
        cells: Lattice vectors as rows in Å, (n, 3, 3), one per frame.
        start: Index of the chunk's first frame in the file.
        timestep_fs: Time between stored frames in fs.
        temperature_K: Simulation temperature in K, if known.
        steps: MD step number of each frame, int64 (n,), or None when the file stores none.
        images: Integer image flags (n, n_atoms, 3), or None; the unwrapped position is then
            ``positions + images @ cell`` exactly.
        unwrapped: The positions are already unwrapped (LAMMPS ``xu yu zu``).
        source: The file, named in error messages.
    """

    symbols: tuple[str | int, ...]
    positions: np.ndarray
    cells: np.ndarray
    start: int
    timestep_fs: float
    temperature_K: float | None = None
    steps: np.ndarray | None = None
    images: np.ndarray | None = None
    unwrapped: bool = False
    source: object | None = None

    def __post_init__(self) -> None:
        symbols = _check_symbols(self.symbols, self.source)
        pos = np.asarray(self.positions, dtype=np.float64)
        n = pos.shape[0] if pos.ndim == 3 else 0
        if pos.shape != (n, len(symbols), 3) or n < 1:
            raise TrajectoryError(
                f"positions must be (n_frames ≥ 1, {len(symbols)}, 3), got {pos.shape}",
                path=self.source,
                frame=self.start,
            )
        cells = np.asarray(self.cells, dtype=np.float64)
        if cells.shape != (n, 3, 3):
            raise TrajectoryError(
                f"cells must be ({n}, 3, 3), got {cells.shape}", path=self.source, frame=self.start
            )
        # The checks the whole-file readers make, with frames counted from the file's start.
        try:
            _check_cell(cells, n, None)
        except TrajectoryError as exc:
            k = exc.frame or 0
            try:
                _check_cell(cells[k], 1, None)  # the same message, without a frame
            except TrajectoryError as bare:
                raise TrajectoryError(str(bare), path=self.source, frame=self.start + k) from None
            raise  # pragma: no cover - a stack fails only where one of its cells does
        finite = np.isfinite(pos).all(axis=(1, 2))
        if not finite.all():
            raise TrajectoryError(
                "positions contain NaN or infinite values",
                path=self.source,
                frame=self.start + int(np.argmin(finite)),
            )
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "cells", cells)

    @property
    def n_frames(self) -> int:
        """Number of frames in the chunk."""
        return int(self.positions.shape[0])


class ChunkUnwrapper:
    """Unwrap a trajectory chunk by chunk, carrying the state across chunks.

    Feeding consecutive chunks of any sizes gives what :func:`unwrap_positions` gives for the
    whole array at once, bit for bit: each frame goes through the same operations, and the two
    things that link a chunk to the one before it — the last wrapped frame and the accumulated
    lattice shift :math:`S_t` of :math:`u_t = w_t + S_t` — are kept here between calls
    (see :func:`unwrap_positions` for the scheme, von Bülow, Bullerjahn & Hummer, J. Chem. Phys.
    153, 021101 (2020)). Memory is one chunk plus two frames, whatever the length of the run.

    Args:
        max_step_fraction: Largest accepted step per frame, in fractions of the cell (0–0.5].
        source: File or label named in error messages.

    Example:
        >>> import numpy as np
        >>> w = np.array([[[0.9, 0, 0]], [[0.1, 0, 0]], [[0.3, 0, 0]]])
        >>> u = ChunkUnwrapper()
        >>> np.vstack([u.unwrap(w[:2], np.eye(3)), u.unwrap(w[2:], np.eye(3))])[:, 0, 0].tolist()
        [0.9, 1.1, 1.3]
    """

    def __init__(
        self,
        *,
        max_step_fraction: float = DEFAULT_MAX_STEP_FRACTION,
        source: object | None = None,
    ) -> None:
        if not 0 < max_step_fraction <= 0.5:
            raise InputError(f"max_step_fraction must be in (0, 0.5], got {max_step_fraction}")
        self.max_step_fraction = max_step_fraction
        self.source = source
        #: Frames unwrapped so far (the file index of the next frame).
        self.n_frames = 0
        self._last: np.ndarray | None = None  # last wrapped frame seen
        self._shift: np.ndarray | None = None  # accumulated lattice shift S_t of that frame

    def unwrap(self, wrapped: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Unwrap the next chunk of wrapped positions by minimum image.

        Args:
            wrapped: Positions in Å, (n, n_atoms, 3), the frames after those already seen.
            cell: Lattice vectors as rows, (3, 3) or (n, 3, 3).

        Returns:
            Unwrapped positions, float64, (n, n_atoms, 3), continuing the earlier chunks' path.

        Raises:
            TrajectoryError: If some atom steps too far between two frames (the frame is
                counted from the first chunk), or the atom count changes.
        """
        w = np.asarray(wrapped, dtype=np.float64)
        if w.ndim != 3 or w.shape[-1] != 3:
            raise TrajectoryError(
                f"positions must be (n_frames, n_atoms, 3), got {w.shape}", path=self.source
            )
        if self._last is not None and w.shape[1:] != self._last.shape:
            raise TrajectoryError(
                f"{w.shape[1]} atoms, but the earlier frames have {self._last.shape[0]}",
                path=self.source,
                frame=self.n_frames,
            )
        n_frames = w.shape[0]
        out = np.empty_like(w)
        if n_frames == 0:
            return out
        cell = np.asarray(cell, dtype=np.float64)
        cells = np.broadcast_to(cell, (n_frames, 3, 3)) if cell.ndim == 2 else cell
        inv = _frac_and_inverse(cell, n_frames)
        if self._last is None or self._shift is None:
            out[0] = w[0]
            prev, shift, first = w[0], np.zeros(w.shape[1:], dtype=np.float64), 1
        else:
            prev, shift, first = self._last, self._shift, 0
        for t in range(first, n_frames):
            step = w[t] - prev
            frac = step @ inv[t]
            n = np.rint(frac)
            resid = np.abs(frac - n)
            if resid.max(initial=0.0) > self.max_step_fraction:
                atom = int(np.unravel_index(np.argmax(resid), resid.shape)[0])
                frame = self.n_frames + t
                raise TrajectoryError(
                    f"atom {atom} moves {resid.max():.2f} of a box length from frame {frame - 1}; "
                    f"the frames are too far apart to unwrap (limit {self.max_step_fraction} box)",
                    path=self.source,
                    frame=frame,
                )
            if n.any():
                shift = shift - n @ cells[t]
            out[t] = w[t] + shift
            prev = w[t]
        self._last = w[-1].copy()
        self._shift = shift
        self.n_frames += n_frames
        return out

    def unwrap_chunk(self, chunk: FrameChunk) -> np.ndarray:
        """Unwrapped positions of a :class:`FrameChunk`, the way the whole-file readers do it.

        Already unwrapped positions are returned as they are; with image flags the result is
        ``positions + images @ cell`` (exact, no state needed); otherwise minimum image
        (:meth:`unwrap`).
        """
        if chunk.unwrapped:
            self.n_frames += chunk.n_frames
            return np.asarray(chunk.positions, dtype=np.float64)
        if chunk.images is not None:
            self.n_frames += chunk.n_frames
            images = np.asarray(chunk.images, dtype=np.float64)
            return np.asarray(chunk.positions, dtype=np.float64) + np.matmul(images, chunk.cells)
        return self.unwrap(chunk.positions, chunk.cells)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """An MD trajectory with unwrapped positions.

    Attributes:
        symbols: Element symbol of each atom, length n_atoms.
        positions: Unwrapped Cartesian positions in Å, float64, (n_frames, n_atoms, 3).
        cell: Lattice vectors as rows in Å, (3, 3) fixed or (n_frames, 3, 3) per frame.
        timestep_fs: Time between stored frames in fs (> 0).
        temperature_K: Simulation temperature in K, if known.
        metadata: Free-form provenance (``source`` names the file it came from).

    Example:
        >>> import numpy as np
        >>> t = Trajectory.from_arrays(["Li", "Cl"], np.zeros((4, 2, 3)), np.eye(3) * 5, 10.0)
        >>> t.n_frames, t.n_atoms, t.indices("Cl").tolist(), float(t.times_ps[-1])
        (4, 2, [1], 0.03)
    """

    symbols: tuple[str, ...]
    positions: np.ndarray
    cell: np.ndarray
    timestep_fs: float
    temperature_K: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        source = self.metadata.get("source")
        pos = np.asarray(self.positions, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[-1] != 3:
            raise TrajectoryError(
                f"positions must have shape (n_frames, n_atoms, 3), got {pos.shape}", path=source
            )
        if pos.shape[0] < 1 or pos.shape[1] < 1:
            raise TrajectoryError(f"trajectory is empty: positions shape {pos.shape}", path=source)
        finite = np.isfinite(pos).all(axis=(1, 2))
        if not finite.all():
            raise TrajectoryError(
                "positions contain NaN or infinite values",
                path=source,
                frame=int(np.argmin(finite)),
            )
        symbols = _check_symbols(self.symbols, source)
        if len(symbols) != pos.shape[1]:
            raise TrajectoryError(
                f"{len(symbols)} symbols for {pos.shape[1]} atoms per frame", path=source
            )
        cell = _check_cell(self.cell, pos.shape[0], source)
        try:
            dt = float(self.timestep_fs)
        except (TypeError, ValueError):
            raise TrajectoryError(
                f"timestep_fs must be a number, got {self.timestep_fs!r}", path=source
            ) from None
        if not (np.isfinite(dt) and dt > 0):
            raise TrajectoryError(
                f"timestep_fs must be positive, got {self.timestep_fs!r}", path=source
            )
        temp = self.temperature_K
        if temp is not None:
            temp = float(temp)
            if not (np.isfinite(temp) and temp > 0):
                raise TrajectoryError(f"temperature_K must be positive, got {temp!r}", path=source)
        pos.setflags(write=False)
        cell.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "timestep_fs", dt)
        object.__setattr__(self, "temperature_K", temp)
        object.__setattr__(self, "metadata", dict(self.metadata))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        symbols: Sequence[str | int],
        positions: np.ndarray,
        cell: np.ndarray,
        timestep_fs: float,
        temperature_K: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Trajectory:
        """Build from already unwrapped positions (Å) and a cell (Å, rows are vectors)."""
        return cls(tuple(symbols), positions, cell, timestep_fs, temperature_K, metadata or {})

    @classmethod
    def from_wrapped(
        cls,
        symbols: Sequence[str | int],
        positions: np.ndarray,
        cell: np.ndarray,
        timestep_fs: float,
        temperature_K: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        fractional: bool = False,
        images: np.ndarray | None = None,
        max_step_fraction: float = DEFAULT_MAX_STEP_FRACTION,
    ) -> Trajectory:
        """Build from wrapped coordinates, unwrapping them (see :func:`unwrap_positions`).

        Args:
            symbols: Element symbols or atomic numbers.
            positions: Wrapped positions, (n_frames, n_atoms, 3), Cartesian Å or fractional.
            cell: (3, 3) or (n_frames, 3, 3), rows are lattice vectors in Å.
            timestep_fs: Time between stored frames in fs.
            temperature_K: Temperature in K, optional.
            metadata: Provenance; ``source`` is named in errors.
            fractional: ``positions`` are fractional coordinates.
            images: Integer image flags (n_frames, n_atoms, 3). When given the positions are
                unwrapped exactly as ``wrapped + images @ cell`` instead of by minimum image.
            max_step_fraction: See :func:`unwrap_positions`.
        """
        metadata = dict(metadata or {})
        source = metadata.get("source")
        pos = np.asarray(positions, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[-1] != 3:
            raise TrajectoryError(
                f"positions must be (n_frames, n_atoms, 3), got {pos.shape}", path=source
            )
        cell_arr = _check_cell(cell, pos.shape[0], source)
        if fractional:
            pos = np.matmul(pos, cell_arr)
        if images is not None:
            img = np.asarray(images, dtype=np.float64)
            if img.shape != pos.shape:
                raise TrajectoryError(
                    f"images shape {img.shape} does not match positions {pos.shape}", path=source
                )
            unwrapped = pos + np.matmul(img, cell_arr)
        else:
            if not np.isfinite(pos).all():
                finite = np.isfinite(pos).all(axis=(1, 2))
                raise TrajectoryError(
                    "positions contain NaN or infinite values",
                    path=source,
                    frame=int(np.argmin(finite)),
                )
            unwrapped = unwrap_positions(
                pos, cell_arr, max_step_fraction=max_step_fraction, source=source
            )
        return cls(tuple(symbols), unwrapped, cell_arr, timestep_fs, temperature_K, metadata)

    # -- shape and time ---------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Number of stored frames."""
        return int(self.positions.shape[0])

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.positions.shape[1])

    @property
    def times_ps(self) -> np.ndarray:
        """Time of each frame since the first, in ps."""
        return np.arange(self.n_frames, dtype=np.float64) * self.timestep_fs * PS_PER_FS

    @property
    def duration_ps(self) -> float:
        """Time between the first and the last frame, in ps."""
        return (self.n_frames - 1) * self.timestep_fs * PS_PER_FS

    @property
    def species(self) -> tuple[str, ...]:
        """The distinct elements, in order of first appearance."""
        return tuple(dict.fromkeys(self.symbols))

    @property
    def variable_cell(self) -> bool:
        """True when the cell is stored per frame (NPT)."""
        return self.cell.ndim == 3

    @property
    def cells(self) -> np.ndarray:
        """The cell of every frame, (n_frames, 3, 3), as a read-only broadcast view."""
        if self.cell.ndim == 3:
            return self.cell
        return np.broadcast_to(self.cell, (self.n_frames, 3, 3))

    @property
    def volume_A3(self) -> np.ndarray:
        """Cell volume of every frame in Å³, shape (n_frames,)."""
        return np.abs(np.linalg.det(self.cells))

    def indices(self, species: str | Iterable[str]) -> np.ndarray:
        """Indices of the atoms of one element (or several), in file order.

        Raises:
            InputError: If an element is not present in the trajectory.
        """
        wanted = [species] if isinstance(species, str) else list(species)
        symbols = np.asarray(self.symbols)
        for s in wanted:
            if s not in self.symbols:
                raise InputError(
                    f"species {s!r} is not in the trajectory (it has {', '.join(self.species)})"
                )
        return np.flatnonzero(np.isin(symbols, wanted))

    def counts(self) -> dict[str, int]:
        """Number of atoms of each element."""
        return {s: int(sum(1 for x in self.symbols if x == s)) for s in self.species}

    # -- slicing and output -----------------------------------------------------------
    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, frames: slice | int) -> Trajectory:
        """Select frames; a step multiplies the timestep. Integer index keeps one frame."""
        if isinstance(frames, (int, np.integer)):
            i = range(self.n_frames)[int(frames)]
            frames = slice(i, i + 1)
        if not isinstance(frames, slice):
            raise InputError("trajectories are sliced by frames with a slice or an int")
        start, stop, step = frames.indices(self.n_frames)
        if step <= 0:
            raise InputError("frame slices must go forward in time (positive step)")
        if len(range(start, stop, step)) == 0:
            raise InputError(f"frame slice {frames} selects no frames of {self.n_frames}")
        cell = self.cell[frames] if self.cell.ndim == 3 else self.cell
        return Trajectory(
            self.symbols,
            self.positions[frames],
            cell,
            self.timestep_fs * step,
            self.temperature_K,
            dict(self.metadata),
        )

    def select_atoms(self, indices: Sequence[int] | np.ndarray) -> Trajectory:
        """A trajectory of a subset of atoms (same frames and cell)."""
        idx = np.asarray(indices, dtype=np.intp)
        return Trajectory(
            tuple(self.symbols[i] for i in idx),
            self.positions[:, idx],
            self.cell,
            self.timestep_fs,
            self.temperature_K,
            dict(self.metadata),
        )

    def wrapped_positions(self) -> np.ndarray:
        """Positions wrapped into the cell of each frame (fractional coordinates in [0, 1))."""
        inv = _frac_and_inverse(self.cell, self.n_frames)
        frac = np.matmul(self.positions, inv)
        frac -= np.floor(frac)
        return np.matmul(frac, self.cells)

    def write(self, path: str | os.PathLike[str], format: str | None = None, **kwargs: Any) -> None:
        """Write to a file; the format is chosen from the name unless given (see solidion.io)."""
        from solidion.io import write_trajectory

        write_trajectory(self, path, format=format, **kwargs)

    def __repr__(self) -> str:
        cell = "variable cell" if self.variable_cell else "fixed cell"
        temp = f", {self.temperature_K:g} K" if self.temperature_K else ""
        counts = " ".join(f"{k}{v}" for k, v in self.counts().items())
        return (
            f"Trajectory({counts}, {self.n_frames} frames × {self.timestep_fs:g} fs, {cell}{temp})"
        )

"""LAMMPS text dump (``dump custom``): reader and writer.

A dump is a sequence of frames, each made of ``ITEM:`` sections::

    ITEM: TIMESTEP
    1000
    ITEM: NUMBER OF ATOMS
    64
    ITEM: BOX BOUNDS xy xz yz pp pp pp
    xlo_bound xhi_bound xy
    ylo_bound yhi_bound xz
    zlo zhi yz
    ITEM: ATOMS id type x y z ix iy iz
    1 1 0.52 3.10 7.25 0 0 -1
    ...

(an orthogonal box has ``ITEM: BOX BOUNDS pp pp pp`` and two numbers per line). Positions may be
wrapped (``x y z``, unwrapped here by minimum image), wrapped with image flags (``x y z ix iy iz``,
unwrapped exactly), unwrapped (``xu yu zu``), or scaled by the box (``xs ys zs``, ``xsu ysu
zsu``). Atoms are matched between frames by ``id``. Elements come from an ``element`` column,
or from ``type_map`` (LAMMPS atom type → element) when there is none.

Lengths are taken to be Å (LAMMPS ``units metal`` or ``real``). The dump stores step numbers,
not times, so the time between stored frames (dump interval × MD timestep) is passed as
``timestep_fs``; the step numbers are kept in ``metadata["steps"]``.

Reference: LAMMPS manual, ``dump`` command and "Triclinic (non-orthogonal) simulation boxes".
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from ase.data import chemical_symbols

from solidion.errors import InputError, TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.io._text import ends_mid_line, truncated_error
from solidion.trajectory import FrameChunk, Trajectory

__all__ = ["iter_chunks", "read", "write"]

#: Position column triples, in order of preference, and whether each is (scaled, unwrapped).
_POSITION_COLUMNS: tuple[tuple[tuple[str, str, str], bool, bool], ...] = (
    (("xu", "yu", "zu"), False, True),
    (("xsu", "ysu", "zsu"), True, True),
    (("x", "y", "z"), False, False),
    (("xs", "ys", "zs"), True, False),
)
_IMAGE_COLUMNS = ("ix", "iy", "iz")
#: LAMMPS unit styles whose lengths are Å.
_ANGSTROM_UNITS = ("metal", "real")
#: Frames per parsed block when :func:`read` loads a whole file.
_READ_BLOCK_FRAMES = 1024


@dataclass
class _Layout:
    """Where the needed columns are in an ATOMS line."""

    names: tuple[str, ...]
    id: int
    type: int | None
    element: int | None
    position: tuple[int, int, int]
    images: tuple[int, int, int] | None
    scaled: bool
    unwrapped: bool


def _layout(names: tuple[str, ...], path: Path, frame: int, lineno: int) -> _Layout:
    index = {name: k for k, name in enumerate(names)}
    if "id" not in index:
        raise TrajectoryError(
            f"line {lineno}: the ATOMS section has no 'id' column, so atoms cannot be matched "
            "between frames (dump with 'id type x y z' or similar)",
            path=path,
            frame=frame,
        )
    if "type" not in index and "element" not in index:
        raise TrajectoryError(
            f"line {lineno}: the ATOMS section has neither a 'type' nor an 'element' column",
            path=path,
            frame=frame,
        )
    for cols, scaled, unwrapped in _POSITION_COLUMNS:
        if all(c in index for c in cols):
            images = None
            if not unwrapped and all(c in index for c in _IMAGE_COLUMNS):
                images = (index["ix"], index["iy"], index["iz"])
            return _Layout(
                names=names,
                id=index["id"],
                type=index.get("type"),
                element=index.get("element"),
                position=(index[cols[0]], index[cols[1]], index[cols[2]]),
                images=images,
                scaled=scaled,
                unwrapped=unwrapped,
            )
    raise TrajectoryError(
        f"line {lineno}: the ATOMS section has no position columns (x y z, xu yu zu, xs ys zs or "
        f"xsu ysu zsu); it has: {' '.join(names) or 'none'}",
        path=path,
        frame=frame,
    )


def _normalize_type_map(type_map: Any) -> dict[int, str | int] | None:
    """Accept ``{1: "Li"}``, ``{"1": "Li"}`` or the string ``"1=Li,2=Cl"`` (also ``1:Li``)."""
    if type_map is None:
        return None
    if isinstance(type_map, str):
        pairs = [p for p in re.split(r"[,\s]+", type_map.strip()) if p]
        items: list[tuple[Any, Any]] = []
        for p in pairs:
            key, sep, value = p.replace(":", "=").partition("=")
            if not sep or not value:
                raise InputError(f"type_map entry {p!r} is not of the form TYPE=ELEMENT")
            items.append((key, value))
    elif isinstance(type_map, Mapping):
        items = list(type_map.items())
    else:
        raise InputError(
            f"type_map must be a mapping like {{1: 'Li', 2: 'Cl'}}, got {type(type_map).__name__}"
        )
    out: dict[int, str | int] = {}
    for key, value in items:
        try:
            t = int(str(key).strip())
        except ValueError:
            raise InputError(f"type_map key {key!r} is not an integer LAMMPS atom type") from None
        out[t] = value if isinstance(value, (int, np.integer)) else str(value).strip()
    return out


def _check_options(options: dict[str, Any], what: str) -> None:
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"LAMMPS dump {what} takes no option(s) {', '.join(unknown)}")


@dataclass
class _Frame:
    """One frame as parsed: the step, the box, and the id-sorted atom columns."""

    step: int
    cell: np.ndarray | None = None
    origin: np.ndarray | None = None
    positions: np.ndarray | None = None
    images: np.ndarray | None = None


@dataclass
class _Block:
    """Consecutive parsed frames as arrays; scaled positions are already Cartesian."""

    start: int
    steps: np.ndarray  # (n,) int64
    cells: np.ndarray  # (n, 3, 3)
    positions: np.ndarray  # (n, n_atoms, 3), wrapped (any origin) or unwrapped as in the file
    images: np.ndarray | None  # (n, n_atoms, 3) int64


def _filled(value: np.ndarray | None) -> np.ndarray:
    """A field of a complete frame (``finish_frame`` has checked that it was set)."""
    assert value is not None
    return value


class _Parser:
    """Walks the lines of a dump once, in file order, yielding one frame at a time.

    Only the current frame's lines are held, so memory does not grow with the file. A frame is
    complete (and checked) when the next ``ITEM: TIMESTEP`` or the end of the file is reached.
    """

    def __init__(self, fh: TextIO, path: Path):
        self.path = path
        self._lines = iter(fh)
        self.lineno = 0  # lines read so far, i.e. the 1-based number of the last one
        self.layout: _Layout | None = None
        self.ids: np.ndarray | None = None
        self.kinds: np.ndarray | None = None  # types or elements of frame 0, sorted by id
        self.units: str | None = None
        self.n_started = 0  # frames whose TIMESTEP has been read
        self._frame: _Frame | None = None
        self._n_atoms: int | None = None
        self._have: set[str] = set()
        self._dtype: np.dtype | None = None  # the ATOMS columns for numpy's reader

    def error(self, message: str, line: int | None = None) -> TrajectoryError:
        where = f"line {line}: " if line is not None else ""
        return TrajectoryError(where + message, path=self.path, frame=self.frame)

    @property
    def frame(self) -> int:
        return max(self.n_started - 1, 0)

    # -- lines ----------------------------------------------------------------------------
    def _decode_error(self) -> TrajectoryError:
        return self.error(f"not a text file (cannot decode it as UTF-8 beyond line {self.lineno})")

    def next_line(self) -> str | None:
        try:
            line = next(self._lines)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise self._decode_error() from None
        self.lineno += 1
        return line

    def take(self, n: int) -> list[str]:
        """The next ``n`` lines (fewer at the end of the file)."""
        try:
            block = list(islice(self._lines, n))
        except UnicodeDecodeError:
            raise self._decode_error() from None
        self.lineno += len(block)
        return block

    def value_line(self, what: str) -> str:
        line = self.next_line()
        if line is None:
            raise self.error(f"file ends before the {what} value (truncated file)", self.lineno)
        line = line.strip()
        if not line or line.startswith("ITEM:"):
            raise self.error(f"missing the {what} value", self.lineno)
        return line

    # -- frames ---------------------------------------------------------------------------
    def frames(self) -> Iterator[_Frame]:
        """Yield each complete frame; raise on the first problem, naming line and frame."""
        seen_text = False
        while (raw := self.next_line()) is not None:
            line = raw.strip()
            if not line:
                continue
            seen_text = True
            if not line.startswith("ITEM:"):
                raise self.error(f"expected an 'ITEM:' line, found {line[:60]!r}", self.lineno)
            item = line[5:].strip()
            if item == "TIMESTEP":
                if self._frame is not None:
                    self.finish_frame(self.lineno)
                    yield self._frame
                self.n_started += 1
                self._frame = _Frame(step=0)
                self._have = set()
                text = self.value_line("TIMESTEP")
                try:
                    self._frame.step = int(text)
                except ValueError:
                    raise self.error(f"TIMESTEP {text!r} is not an integer", self.lineno) from None
                self._have = {"TIMESTEP"}
                continue
            if self._frame is None:
                raise TrajectoryError(
                    f"line {self.lineno}: the file must start with 'ITEM: TIMESTEP', found "
                    f"{line!r}",
                    path=self.path,
                    frame=0,
                )
            if item in ("TIME", "UNITS"):
                value = self.value_line(item)
                if item == "UNITS":
                    self.units = value
                    if value not in _ANGSTROM_UNITS:
                        raise self.error(
                            f"units {value!r}: only LAMMPS units metal or real (lengths in Å) "
                            "are supported",
                            self.lineno,
                        )
            elif item == "NUMBER OF ATOMS":
                text = self.value_line("NUMBER OF ATOMS")
                try:
                    n = int(text)
                except ValueError:
                    raise self.error(
                        f"NUMBER OF ATOMS {text!r} is not an integer", self.lineno
                    ) from None
                if n < 1:
                    raise self.error(f"NUMBER OF ATOMS is {n}; a frame needs atoms", self.lineno)
                if self._n_atoms is not None and n != self._n_atoms:
                    raise self.error(
                        f"the atom count changes from {self._n_atoms} to {n}; every frame must "
                        "hold the same atoms",
                        self.lineno,
                    )
                self._n_atoms = n
                self._have.add("NUMBER OF ATOMS")
            elif item.startswith("BOX BOUNDS"):
                self.box(item)
            elif item.startswith("ATOMS"):
                self.atoms(item)
            else:
                raise self.error(f"unknown dump section 'ITEM: {item}'", self.lineno)
        if not seen_text:
            raise TrajectoryError("the file is empty", path=self.path)
        self.finish_frame(self.lineno)
        if self._frame is not None:
            yield self._frame

    def blocks(self, chunk_frames: int) -> Iterator[_Block]:
        """Yield the frames in blocks of ``chunk_frames`` (the last may be shorter)."""
        buf: list[_Frame] = []
        start = 0
        for frame in self.frames():
            buf.append(frame)
            if len(buf) == chunk_frames:
                yield self.block(buf, start)
                start += len(buf)
                buf = []
        if buf:
            yield self.block(buf, start)

    def block(self, frames: list[_Frame], start: int) -> _Block:
        lay = self.layout
        assert lay is not None
        steps = np.array([f.step for f in frames], dtype=np.int64)
        cells = np.stack([_filled(f.cell) for f in frames])
        pos = np.stack([_filled(f.positions) for f in frames])
        if lay.scaled:
            origins = np.stack([_filled(f.origin) for f in frames])[:, None, :]
            pos = np.matmul(pos, cells) + origins
        images = None
        if lay.images is not None:
            images = np.stack([_filled(f.images) for f in frames])
        return _Block(start, steps, cells, pos, images)

    def finish_frame(self, lineno: int) -> None:
        if self._frame is None:
            return
        order = ("TIMESTEP", "NUMBER OF ATOMS", "BOX BOUNDS", "ATOMS")
        missing = [s for s in order if s not in self._have]
        if missing:
            raise self.error(
                f"the frame ends (line {lineno}) without its "
                + ", ".join(f"'ITEM: {s}'" for s in missing)
                + " section"
                + ("s" if len(missing) > 1 else "")
            )

    # -- sections -------------------------------------------------------------------------
    def box(self, item: str) -> None:
        head = self.lineno
        flags = item.split()[2:]
        if "abc" in flags or "origin" in flags:
            raise self.error(
                "general triclinic boxes ('BOX BOUNDS abc origin') are not supported; dump "
                "with the restricted triclinic form (xy xz yz)",
                head,
            )
        triclinic = "xy" in flags
        ncol = 3 if triclinic else 2
        rows = []
        for _ in range(3):
            text = self.value_line("BOX BOUNDS")
            tokens = text.split()
            if len(tokens) != ncol:
                raise self.error(
                    f"BOX BOUNDS line needs {ncol} numbers, found {len(tokens)} columns: {text!r}",
                    self.lineno,
                )
            try:
                rows.append([float(t) for t in tokens])
            except ValueError:
                raise self.error(f"BOX BOUNDS line is not numeric: {text!r}", self.lineno) from None
        b = np.array(rows)
        if not np.isfinite(b).all():
            raise self.error("BOX BOUNDS contain NaN or infinite values", head + 1)
        if triclinic:
            xy, xz, yz = b[0, 2], b[1, 2], b[2, 2]
            xlo = b[0, 0] - min(0.0, xy, xz, xy + xz)
            xhi = b[0, 1] - max(0.0, xy, xz, xy + xz)
            ylo = b[1, 0] - min(0.0, yz)
            yhi = b[1, 1] - max(0.0, yz)
        else:
            xy = xz = yz = 0.0
            xlo, xhi, ylo, yhi = b[0, 0], b[0, 1], b[1, 0], b[1, 1]
        zlo, zhi = b[2, 0], b[2, 1]
        lengths = (xhi - xlo, yhi - ylo, zhi - zlo)
        if min(lengths) <= 0:
            raise self.error(
                f"the box has a non-positive edge length ({', '.join(f'{v:g}' for v in lengths)})",
                head + 1,
            )
        cell = np.array([[lengths[0], 0.0, 0.0], [xy, lengths[1], 0.0], [xz, yz, lengths[2]]])
        if "BOX BOUNDS" in self._have:
            raise self.error("a second 'ITEM: BOX BOUNDS' section in one frame", head)
        assert self._frame is not None
        self._frame.cell = cell
        self._frame.origin = np.array([xlo, ylo, zlo])
        self._have.add("BOX BOUNDS")

    def atoms(self, item: str) -> None:
        head = self.lineno
        if self._n_atoms is None or "NUMBER OF ATOMS" not in self._have:
            raise self.error("the frame has no 'ITEM: NUMBER OF ATOMS' before its atoms", head)
        if "BOX BOUNDS" not in self._have:
            raise self.error("the frame has no 'ITEM: BOX BOUNDS' before its atoms", head)
        if "ATOMS" in self._have:
            raise self.error("a second 'ITEM: ATOMS' section in one frame", head)
        names = tuple(item.split()[1:])
        if self.layout is None:
            self.layout = _layout(names, self.path, self.frame, head)
        elif names != self.layout.names:
            raise self.error(
                f"the ATOMS columns change from '{' '.join(self.layout.names)}' to "
                f"'{' '.join(names)}'",
                head,
            )
        lay = self.layout
        n = self._n_atoms
        start = head  # 0-based index of the first atom line
        block = self.take(n)
        fast = self.fast_table(block, n)
        if fast is not None:
            ids = fast[f"c{lay.id}"]
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
        else:
            table, ids, order = self.string_table(block, names, n, start)
        if self.ids is None:
            if np.any(ids[1:] == ids[:-1]):
                dup = int(ids[1:][ids[1:] == ids[:-1]][0])
                raise self.error(f"atom id {dup} appears more than once")
            self.ids = ids
        elif not np.array_equal(ids, self.ids):
            raise self.error("the set of atom ids differs from frame 0's", start)
        kind_col = lay.element if lay.element is not None else lay.type
        assert kind_col is not None
        if fast is not None:
            kinds = fast[f"c{kind_col}"][order]
        elif lay.element is None:
            kinds = self.column(table, kind_col, np.int64, start, "type", order)
        else:
            kinds = table[:, kind_col]
        if self.kinds is None:
            self.kinds = kinds
        elif not np.array_equal(kinds, self.kinds):
            k = int(np.argmax(kinds != self.kinds))
            raise self.error(
                f"atom id {int(ids[k])} changes its {names[kind_col]} from {self.kinds[k]} to "
                f"{kinds[k]}",
                start,
            )
        if fast is not None:
            pos = np.stack([fast[f"c{c}"] for c in lay.position], axis=1)[order]
        else:
            pos = self.column(table, list(lay.position), np.float64, start, "position", order)
        finite = np.isfinite(pos).all(axis=1)
        if not finite.all():
            k = int(order[np.argmin(finite)])
            raise self.error("positions contain NaN or infinite values", start + k + 1)
        assert self._frame is not None
        self._frame.positions = pos
        if lay.images is not None:
            if fast is not None:
                img = np.stack([fast[f"c{c}"] for c in lay.images], axis=1)[order]
            else:
                img = self.column(table, list(lay.images), np.int64, start, "image flag", order)
            self._frame.images = img
        self._have.add("ATOMS")

    def fast_table(self, block: list[str], n: int) -> np.ndarray | None:
        """The atom lines read by numpy's C text reader, or None if they are not clean.

        numpy accepts a subset of what :meth:`string_table` accepts, with the same values, so
        a clean block gives the same arrays either way; anything else (a short or garbled
        block, a non-numeric extra column) goes to :meth:`string_table`, which finds the
        problem and names its line.
        """
        lay = self.layout
        assert lay is not None
        if len(block) != n:
            return None
        if self._dtype is None:
            ints = {lay.id, lay.type, *(lay.images or ())}
            fields = []
            for k in range(len(lay.names)):
                kind = "U16" if k == lay.element else ("i8" if k in ints else "f8")
                fields.append((f"c{k}", kind))
            self._dtype = np.dtype(fields)
        try:
            table = np.loadtxt(block, dtype=self._dtype, comments=None, ndmin=1)
        except ValueError:
            return None
        if table.shape != (n,):  # numpy skips blank lines
            return None
        if lay.element is not None and np.char.str_len(table[f"c{lay.element}"]).max() >= 16:
            return None  # possibly cut to the field width
        return table

    def string_table(
        self, block: list[str], names: tuple[str, ...], n: int, start: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The atom lines as an id-sorted table of strings, the sorted ids and the sort order."""
        lay = self.layout
        assert lay is not None
        rows = [ln.split() for ln in block]
        ncol = len(names)
        bad = [k for k, r in enumerate(rows) if len(r) != ncol]
        if bad or len(rows) < n:
            k = bad[0] if bad else len(rows)
            if k == len(rows) or block[k].lstrip().startswith("ITEM:"):
                raise self.error(
                    f"truncated: the ATOMS section has {k} of {n} atom lines", start + k
                )
            raise self.error(
                f"expected {ncol} columns ({' '.join(names)}), found {len(rows[k])}: "
                f"{block[k].strip()[:80]!r}",
                start + k + 1,
            )
        table = np.array(rows)
        ids = self.column(table, lay.id, np.int64, start, "id")
        order = np.argsort(ids, kind="stable")
        return table[order], ids[order], order

    def column(
        self,
        table: np.ndarray,
        cols: int | list[int],
        dtype: type,
        start: int,
        what: str,
        order: np.ndarray | None = None,
    ) -> np.ndarray:
        """Convert columns of the (id-sorted) string table; errors name the file line."""
        try:
            return table[:, cols].astype(dtype)
        except ValueError:
            sub = table[:, cols].reshape(len(table), -1)
            for k, row in enumerate(sub):
                try:
                    [int(v) if dtype is np.int64 else float(v) for v in row]
                except ValueError:
                    line = start + 1 + (int(order[k]) if order is not None else k)
                    raise self.error(
                        f"{what} value is not a valid number: {' '.join(row)!r}", line
                    ) from None
            raise  # pragma: no cover - numpy refused what Python accepts


def _symbols(
    kinds: np.ndarray, has_element: bool, type_map: dict[int, str | int] | None, path: Path
) -> list[str | int]:
    if has_element:
        return [str(k) for k in kinds]
    types = sorted({int(t) for t in kinds})
    if type_map is None:
        raise TrajectoryError(
            "the dump has no 'element' column, so its atom types "
            f"({', '.join(map(str, types))}) need names: pass type_map, e.g. "
            "type_map={1: 'Li', 2: 'Cl'} (on the command line: --type-map 1=Li,2=Cl)",
            path=path,
        )
    missing = [t for t in types if t not in type_map]
    if missing:
        raise TrajectoryError(
            f"atom type(s) {', '.join(map(str, missing))} not in type_map "
            f"(it maps {', '.join(map(str, sorted(type_map)))})",
            path=path,
        )
    return [type_map[int(t)] for t in kinds]


@contextlib.contextmanager
def _open_dump(path: Path) -> Iterator[_Parser]:
    """A parser over the open file; OS errors become TrajectoryError naming the file."""
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise TrajectoryError("no such file", path=path) from None
    except OSError as exc:
        raise TrajectoryError(f"cannot read: {exc.strerror}", path=path) from None
    with fh:
        if ends_mid_line(path):  # a cut inside the last number would still parse
            raise truncated_error(path)
        yield _Parser(fh, path)


def _check_steps(steps: np.ndarray, offset: int, stride: int | None, path: Path) -> int | None:
    """Check that consecutive ``steps`` (of frames ``offset``, ``offset + 1``, ...) are evenly
    spaced by ``stride``, the spacing of frames 0 and 1 (taken from ``steps`` when None).

    Returns the stride (None while fewer than two frames have been seen).
    """
    if steps.size < 2:
        return stride
    diffs = np.diff(steps)
    if stride is None:
        stride = int(diffs[0])
    uneven = np.flatnonzero(diffs != stride)
    if stride <= 0 or uneven.size:
        k = 1 if stride <= 0 else int(uneven[0]) + 1
        raise TrajectoryError(
            f"step {steps[k]} follows step {steps[k - 1]}: stored frames must be evenly "
            f"spaced in time (first spacing {stride} steps); split the file or drop frames",
            path=path,
            frame=offset + k,
        )
    return stride


def _timestep_error(steps: np.ndarray, path: Path) -> TrajectoryError:
    hint = f" = {steps[1] - steps[0]} steps × the MD timestep" if len(steps) > 1 else ""
    return TrajectoryError(
        "LAMMPS dumps store step numbers, not time; pass timestep_fs (time between stored "
        f"frames, fs{hint})",
        path=path,
    )


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    type_map: Mapping[int | str, str | int] | str | None = None,
    **options: Any,
) -> Trajectory:
    """Read a LAMMPS text dump into an unwrapped trajectory.

    Atoms are sorted by id in every frame. Wrapped coordinates with image flags are unwrapped as
    ``x + ix·a + iy·b + iz·c``; wrapped coordinates without them by minimum image between frames
    (see :func:`solidion.trajectory.unwrap_positions`); ``xu yu zu`` are used as they are. The
    triclinic bounding box is converted to the cell as the LAMMPS manual documents:
    ``xlo = xlo_bound − min(0, xy, xz, xy+xz)``, ``xhi = xhi_bound − max(0, xy, xz, xy+xz)``,
    ``ylo = ylo_bound − min(0, yz)``, ``yhi = yhi_bound − max(0, yz)``, and
    ``a = (xhi−xlo, 0, 0)``, ``b = (xy, yhi−ylo, 0)``, ``c = (xz, yz, zhi−zlo)``.

    The file is parsed by the same streaming parser as :func:`iter_chunks` and only the
    parsed frames are kept; for a file larger than memory use :func:`iter_chunks` (or
    ``solidion convert`` to H5MD, which streams).

    Args:
        path: The dump file.
        timestep_fs: Time between stored frames in fs (dump interval × MD timestep); required.
        temperature_K: Simulation temperature in K, if known.
        type_map: LAMMPS atom type → element symbol (or atomic number), e.g.
            ``{1: "Li", 2: "Cl"}``; keys may be strings, and ``"1=Li,2=Cl"`` is accepted.
            Required when the dump has no ``element`` column.
        **options: None accepted (options passed as ``None`` are ignored).

    Returns:
        The trajectory, with a fixed (3, 3) cell when the box never changes and (n_frames, 3, 3)
        otherwise; ``metadata["steps"]`` lists the step numbers.

    Raises:
        TrajectoryError: If ``timestep_fs`` or a needed ``type_map`` is missing, the steps are not
            evenly spaced, the atoms change between frames, or the file is empty, truncated or
            garbled; the message names the file and the frame.
        InputError: For a malformed ``type_map`` or an unknown option.
    """
    p = Path(path)
    _check_options(options, "reader")
    tmap = _normalize_type_map(type_map)
    with _open_dump(p) as parser:
        blocks = list(parser.blocks(_READ_BLOCK_FRAMES))
    lay = parser.layout
    assert lay is not None and parser.kinds is not None
    steps_arr = np.concatenate([b.steps for b in blocks])
    _check_steps(steps_arr, 0, None, p)
    if timestep_fs is None:
        raise _timestep_error(steps_arr, p)
    symbols = _symbols(parser.kinds, lay.element is not None, tmap, p)
    cells = np.concatenate([b.cells for b in blocks])
    pos = np.concatenate([b.positions for b in blocks])
    cell = cells[0] if np.all(cells == cells[0]) else cells
    metadata = {"source": str(p), "format": "lammps-dump", "steps": steps_arr.tolist()}
    if lay.unwrapped:
        return Trajectory.from_arrays(symbols, pos, cell, timestep_fs, temperature_K, metadata)
    images = None
    if lay.images is not None:
        images = np.concatenate([_filled(b.images) for b in blocks])
    return Trajectory.from_wrapped(
        symbols, pos, cell, timestep_fs, temperature_K, metadata, images=images
    )


def iter_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_frames: int,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    type_map: Mapping[int | str, str | int] | str | None = None,
    **options: Any,
) -> Iterator[FrameChunk]:
    """Read a LAMMPS text dump in chunks of frames, as stored (not unwrapped).

    The parser is the one :func:`read` uses, with every column layout it accepts; atoms are
    sorted by id, scaled coordinates are made Cartesian, and image flags come with the chunk.
    :class:`solidion.trajectory.ChunkUnwrapper` unwraps the chunks exactly as :func:`read`
    unwraps the whole file. Only the chunk being built and the one handed out are in memory.

    Args:
        path: The dump file.
        chunk_frames: Frames per chunk (the last chunk may have fewer).
        timestep_fs: Time between stored frames in fs; required.
        temperature_K: Simulation temperature in K, if known.
        type_map: As for :func:`read`.
        **options: None accepted (options passed as ``None`` are ignored).

    Yields:
        :class:`~solidion.trajectory.FrameChunk` with ``steps`` set.

    Raises:
        TrajectoryError: As :func:`read`, when the chunk holding the problem is reached (a
            missing ``timestep_fs`` is reported after the first two frames).
        InputError: For ``chunk_frames`` < 1, a malformed ``type_map`` or an unknown option.
    """
    p = Path(path)
    _check_options(options, "reader")
    tmap = _normalize_type_map(type_map)
    if int(chunk_frames) < 1:
        raise InputError(f"chunk_frames must be at least 1, got {chunk_frames}")
    with _open_dump(p) as parser:
        blocks = parser.blocks(int(chunk_frames))
        pending: list[_Block] = []
        if timestep_fs is None:  # fail before the long read, with the step spacing as a hint
            for b in blocks:
                pending.append(b)
                if sum(len(x.steps) for x in pending) >= 2:
                    break
            raise _timestep_error(np.concatenate([b.steps for b in pending])[:2], p)
        symbols: tuple[str | int, ...] | None = None
        stride: int | None = None
        last_step: np.ndarray = np.empty(0, dtype=np.int64)
        for b in blocks:
            lay = parser.layout
            assert lay is not None and parser.kinds is not None
            steps = np.concatenate([last_step, b.steps])
            stride = _check_steps(steps, b.start - last_step.size, stride, p)
            last_step = b.steps[-1:]
            if symbols is None:
                symbols = tuple(_symbols(parser.kinds, lay.element is not None, tmap, p))
            yield FrameChunk(
                symbols=symbols,
                positions=b.positions,
                cells=b.cells,
                start=b.start,
                timestep_fs=float(timestep_fs),
                temperature_K=temperature_K,
                steps=b.steps,
                images=b.images,
                unwrapped=lay.unwrapped,
                source=p,
            )


def _lammps_cells(traj: Trajectory, path: Path) -> np.ndarray:
    """Check every cell is lower triangular with a positive diagonal; return them zeroed above."""
    cells = np.array(traj.cells, dtype=np.float64)
    norms = np.linalg.norm(cells, axis=2)  # (F, 3)
    upper = np.abs(np.stack([cells[:, 0, 1], cells[:, 0, 2], cells[:, 1, 2]], axis=1))
    tol = 1e-12 * norms[:, [0, 0, 1]]
    diag = np.diagonal(cells, axis1=1, axis2=2)
    ok = (upper <= tol).all(axis=1) & (diag > 0).all(axis=1)
    if not ok.all():
        t = int(np.argmin(ok))
        raise TrajectoryError(
            "the cell must be in LAMMPS' lower-triangular orientation (a along +x, b in the xy "
            "plane, positive diagonal: a=(ax,0,0), b=(bx,by,0), c=(cx,cy,cz)); rotate the "
            f"structure first. Cell: {cells[t].round(6).tolist()}",
            path=path,
            frame=t if traj.variable_cell else None,
        )
    cells[:, 0, 1:] = 0.0
    cells[:, 1, 2] = 0.0
    return cells


def _types(
    traj: Trajectory, type_map: dict[int, str | int] | None
) -> tuple[np.ndarray, dict[str, int]]:
    """Type number of each atom, and the element → type table."""
    if type_map is None:
        table = {s: k + 1 for k, s in enumerate(traj.species)}
    else:
        table = {}
        for t, s in sorted(type_map.items()):
            sym = chemical_symbols[int(s)] if isinstance(s, (int, np.integer)) else str(s)
            if sym in table:
                raise InputError(f"type_map gives element {sym} two types ({table[sym]} and {t})")
            table[sym] = t
        missing = [s for s in traj.species if s not in table]
        if missing:
            raise InputError(f"type_map has no type for element(s) {', '.join(missing)}")
    return np.array([table[s] for s in traj.symbols], dtype=np.int64), table


def _steps(traj: Trajectory) -> list[int]:
    steps = traj.metadata.get("steps")
    try:
        s = [int(v) for v in steps]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return list(range(traj.n_frames))
    if len(s) != traj.n_frames:
        return list(range(traj.n_frames))
    d = np.diff(s)
    if d.size and (d[0] <= 0 or np.any(d != d[0])):
        return list(range(traj.n_frames))
    return s


def write(
    traj: Trajectory,
    path: str | os.PathLike[str],
    format: str | None = None,
    type_map: Mapping[int | str, str | int] | str | None = None,
    **options: Any,
) -> None:
    """Write a trajectory as a LAMMPS text dump with unwrapped coordinates.

    Each frame has ``ITEM: ATOMS id type element xu yu zu`` (positions with 12 decimals, the
    box with 17 significant digits), so reading it back gives the same positions. The box is
    written in orthogonal form when no cell has tilt, otherwise in the triclinic bounding-box
    form. Step numbers come from ``metadata["steps"]`` when they match the frames and are
    evenly spaced, else 0, 1, 2, ...

    Args:
        traj: The trajectory; every cell must be in LAMMPS orientation (lower triangular).
        path: Target file; written atomically (a temporary file renamed on success).
        format: Ignored (the registry passes ``"lammps-dump"``).
        type_map: LAMMPS type → element; when omitted, types number the elements in order of
            first appearance.
        **options: None accepted (options passed as ``None`` are ignored).

    Raises:
        TrajectoryError: If a cell is not lower triangular, or the target cannot be written;
            nothing is left at ``path`` then.
        InputError: If ``type_map`` misses an element or names one twice, or for an unknown
            option.
    """
    del format
    p = Path(path)
    _check_options(options, "writer")
    cells = _lammps_cells(traj, p)
    types, _ = _types(traj, _normalize_type_map(type_map))
    steps = _steps(traj)
    triclinic = bool(np.any(cells[:, [1, 2, 2], [0, 0, 1]] != 0.0))
    ids = np.arange(1, traj.n_atoms + 1)
    prefix = [f"{i} {t} {s}" for i, t, s in zip(ids, types, traj.symbols, strict=True)]
    atom_fmt = "".join(f"{pre} %.12f %.12f %.12f\n" for pre in prefix)

    def box(cell: np.ndarray) -> str:
        ax, by, cz = cell[0, 0], cell[1, 1], cell[2, 2]
        if not triclinic:
            return (
                "ITEM: BOX BOUNDS pp pp pp\n"
                f"{0.0:.16e} {ax:.16e}\n{0.0:.16e} {by:.16e}\n{0.0:.16e} {cz:.16e}\n"
            )
        xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
        xlo_b = min(0.0, xy, xz, xy + xz)
        xhi_b = ax + max(0.0, xy, xz, xy + xz)
        ylo_b = min(0.0, yz)
        yhi_b = by + max(0.0, yz)
        return (
            "ITEM: BOX BOUNDS xy xz yz pp pp pp\n"
            f"{xlo_b:.16e} {xhi_b:.16e} {xy:.16e}\n"
            f"{ylo_b:.16e} {yhi_b:.16e} {xz:.16e}\n"
            f"{0.0:.16e} {cz:.16e} {yz:.16e}\n"
        )

    with atomic_path(p) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for t in range(traj.n_frames):
            fh.write(f"ITEM: TIMESTEP\n{steps[t]}\nITEM: NUMBER OF ATOMS\n{traj.n_atoms}\n")
            fh.write(box(cells[t]))
            fh.write("ITEM: ATOMS id type element xu yu zu\n")
            fh.write(atom_fmt % tuple(traj.positions[t].ravel()))

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

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import chemical_symbols

from solidion.errors import InputError, TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.io._text import read_lines
from solidion.trajectory import Trajectory

__all__ = ["read", "write"]

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


class _Parser:
    """Walks the lines of a dump once, collecting one entry per frame."""

    def __init__(self, lines: list[str], path: Path):
        self.lines = lines
        self.path = path
        self.steps: list[int] = []
        self.cells: list[np.ndarray] = []
        self.origins: list[np.ndarray] = []
        self.positions: list[np.ndarray] = []
        self.images: list[np.ndarray] = []
        self.layout: _Layout | None = None
        self.ids: np.ndarray | None = None
        self.kinds: np.ndarray | None = None  # types or elements of frame 0, sorted by id
        self.units: str | None = None
        self._n_atoms: int | None = None
        self._have: set[str] = set()

    def error(self, message: str, line: int | None = None) -> TrajectoryError:
        where = f"line {line}: " if line is not None else ""
        return TrajectoryError(where + message, path=self.path, frame=self.frame)

    @property
    def frame(self) -> int:
        return max(len(self.steps) - 1, 0)

    def value_line(self, i: int, what: str) -> str:
        if i >= len(self.lines):
            raise self.error(f"file ends before the {what} value (truncated file)", len(self.lines))
        line = self.lines[i].strip()
        if not line or line.startswith("ITEM:"):
            raise self.error(f"missing the {what} value", i + 1)
        return line

    def parse(self) -> None:
        lines = self.lines
        if not any(ln.strip() for ln in lines):
            raise TrajectoryError("the file is empty", path=self.path)
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            if not line:
                i += 1
                continue
            if not line.startswith("ITEM:"):
                raise self.error(f"expected an 'ITEM:' line, found {line[:60]!r}", i + 1)
            item = line[5:].strip()
            if item == "TIMESTEP":
                self.finish_frame(i + 1)
                self.steps.append(0)
                self._have = set()
                text = self.value_line(i + 1, "TIMESTEP")
                try:
                    self.steps[-1] = int(text)
                except ValueError:
                    raise self.error(f"TIMESTEP {text!r} is not an integer", i + 2) from None
                self._have = {"TIMESTEP"}
                i += 2
                continue
            if not self.steps:
                raise TrajectoryError(
                    f"line {i + 1}: the file must start with 'ITEM: TIMESTEP', found {line!r}",
                    path=self.path,
                    frame=0,
                )
            if item in ("TIME", "UNITS"):
                value = self.value_line(i + 1, item)
                if item == "UNITS":
                    self.units = value
                    if value not in _ANGSTROM_UNITS:
                        raise self.error(
                            f"units {value!r}: only LAMMPS units metal or real (lengths in Å) "
                            "are supported",
                            i + 2,
                        )
                i += 2
            elif item == "NUMBER OF ATOMS":
                text = self.value_line(i + 1, "NUMBER OF ATOMS")
                try:
                    n = int(text)
                except ValueError:
                    raise self.error(f"NUMBER OF ATOMS {text!r} is not an integer", i + 2) from None
                if n < 1:
                    raise self.error(f"NUMBER OF ATOMS is {n}; a frame needs atoms", i + 2)
                if self._n_atoms is not None and n != self._n_atoms:
                    raise self.error(
                        f"the atom count changes from {self._n_atoms} to {n}; every frame must "
                        "hold the same atoms",
                        i + 2,
                    )
                self._n_atoms = n
                self._have.add("NUMBER OF ATOMS")
                i += 2
            elif item.startswith("BOX BOUNDS"):
                i = self.box(item, i)
            elif item.startswith("ATOMS"):
                i = self.atoms(item, i)
            else:
                raise self.error(f"unknown dump section 'ITEM: {item}'", i + 1)
        self.finish_frame(len(lines))

    def finish_frame(self, lineno: int) -> None:
        if not self.steps:
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

    def box(self, item: str, i: int) -> int:
        flags = item.split()[2:]
        if "abc" in flags or "origin" in flags:
            raise self.error(
                "general triclinic boxes ('BOX BOUNDS abc origin') are not supported; dump "
                "with the restricted triclinic form (xy xz yz)",
                i + 1,
            )
        triclinic = "xy" in flags
        ncol = 3 if triclinic else 2
        rows = []
        for k in range(3):
            text = self.value_line(i + 1 + k, "BOX BOUNDS")
            tokens = text.split()
            if len(tokens) != ncol:
                raise self.error(
                    f"BOX BOUNDS line needs {ncol} numbers, found {len(tokens)} columns: {text!r}",
                    i + 2 + k,
                )
            try:
                rows.append([float(t) for t in tokens])
            except ValueError:
                raise self.error(f"BOX BOUNDS line is not numeric: {text!r}", i + 2 + k) from None
        b = np.array(rows)
        if not np.isfinite(b).all():
            raise self.error("BOX BOUNDS contain NaN or infinite values", i + 2)
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
                i + 2,
            )
        cell = np.array([[lengths[0], 0.0, 0.0], [xy, lengths[1], 0.0], [xz, yz, lengths[2]]])
        if "BOX BOUNDS" in self._have:
            raise self.error("a second 'ITEM: BOX BOUNDS' section in one frame", i + 1)
        self.cells.append(cell)
        self.origins.append(np.array([xlo, ylo, zlo]))
        self._have.add("BOX BOUNDS")
        return i + 4

    def atoms(self, item: str, i: int) -> int:
        if self._n_atoms is None or "NUMBER OF ATOMS" not in self._have:
            raise self.error("the frame has no 'ITEM: NUMBER OF ATOMS' before its atoms", i + 1)
        if "BOX BOUNDS" not in self._have:
            raise self.error("the frame has no 'ITEM: BOX BOUNDS' before its atoms", i + 1)
        if "ATOMS" in self._have:
            raise self.error("a second 'ITEM: ATOMS' section in one frame", i + 1)
        names = tuple(item.split()[1:])
        if self.layout is None:
            self.layout = _layout(names, self.path, self.frame, i + 1)
        elif names != self.layout.names:
            raise self.error(
                f"the ATOMS columns change from '{' '.join(self.layout.names)}' to "
                f"'{' '.join(names)}'",
                i + 1,
            )
        lay = self.layout
        n = self._n_atoms
        start = i + 1
        block = self.lines[start : start + n]
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
        table = table[order]
        ids = ids[order]
        if self.ids is None:
            if np.any(ids[1:] == ids[:-1]):
                dup = int(ids[1:][ids[1:] == ids[:-1]][0])
                raise self.error(f"atom id {dup} appears more than once")
            self.ids = ids
        elif not np.array_equal(ids, self.ids):
            raise self.error("the set of atom ids differs from frame 0's", start)
        kind_col = lay.element if lay.element is not None else lay.type
        assert kind_col is not None
        kinds = table[:, kind_col]
        if lay.element is None:
            kinds = self.column(table, kind_col, np.int64, start, "type", order)
        if self.kinds is None:
            self.kinds = kinds
        elif not np.array_equal(kinds, self.kinds):
            k = int(np.argmax(kinds != self.kinds))
            raise self.error(
                f"atom id {int(ids[k])} changes its {names[kind_col]} from {self.kinds[k]} to "
                f"{kinds[k]}",
                start,
            )
        pos = self.column(table, list(lay.position), np.float64, start, "position", order)
        finite = np.isfinite(pos).all(axis=1)
        if not finite.all():
            k = int(order[np.argmin(finite)])
            raise self.error("positions contain NaN or infinite values", start + k + 1)
        self.positions.append(pos)
        if lay.images is not None:
            img = self.column(table, list(lay.images), np.int64, start, "image flag", order)
            self.images.append(img)
        self._have.add("ATOMS")
        return start + n

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
    parser = _Parser(read_lines(p), p)
    parser.parse()
    lay = parser.layout
    assert lay is not None and parser.kinds is not None
    steps = [int(s) for s in parser.steps]
    if len(steps) > 1:
        stride = steps[1] - steps[0]
        diffs = np.diff(steps)
        uneven = np.flatnonzero(diffs != stride)
        if stride <= 0 or uneven.size:
            t = 1 if stride <= 0 else int(uneven[0]) + 1
            raise TrajectoryError(
                f"step {steps[t]} follows step {steps[t - 1]}: stored frames must be evenly "
                f"spaced in time (first spacing {stride} steps); split the file or drop frames",
                path=p,
                frame=t,
            )
    if timestep_fs is None:
        hint = f" = {steps[1] - steps[0]} steps × the MD timestep" if len(steps) > 1 else ""
        raise TrajectoryError(
            "LAMMPS dumps store step numbers, not time; pass timestep_fs (time between stored "
            f"frames, fs{hint})",
            path=p,
        )
    symbols = _symbols(parser.kinds, lay.element is not None, tmap, p)
    cells = np.stack(parser.cells)
    origins = np.stack(parser.origins)[:, None, :]
    pos = np.stack(parser.positions)
    if lay.scaled:
        pos = np.matmul(pos, cells) + origins
    cell = cells[0] if np.all(cells == cells[0]) else cells
    metadata = {"source": str(p), "format": "lammps-dump", "steps": steps}
    if lay.unwrapped:
        return Trajectory.from_arrays(symbols, pos, cell, timestep_fs, temperature_K, metadata)
    images = np.stack(parser.images) if lay.images is not None else None
    return Trajectory.from_wrapped(
        symbols, pos, cell, timestep_fs, temperature_K, metadata, images=images
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

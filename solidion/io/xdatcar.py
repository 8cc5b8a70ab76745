"""VASP XDATCAR: reader and writer, fixed or variable cell.

An XDATCAR (VASP 5 and later) starts with a POSCAR-like header — comment, scale factor, three
lattice vectors, the species line and the counts line — followed by one block per stored ionic
step: a ``Direct configuration=     N`` line and one line of three fractional coordinates per
atom. In a fixed-cell run the header is written once. In a variable-cell run (``ISIF`` ≥ 3) VASP
repeats the whole header before every configuration, and the reader returns a per-frame cell.

The coordinates are fractional and wrapped into the cell, so the reader unwraps them with
:meth:`solidion.Trajectory.from_wrapped` (minimum image from frame to frame). The file stores no
time: the time between stored frames is ``POTIM × NBLOCK`` and must be passed as
``timestep_fs``.

The scale factor follows VASP: a positive value multiplies the lattice vectors, a negative value
is the cell volume in Å³, and three values scale the Cartesian x, y and z components.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers

from solidion.errors import InputError, TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.io._text import read_lines
from solidion.trajectory import Trajectory

__all__ = ["read", "write"]

#: Lines of one header: comment, scale, 3 lattice vectors, species, counts.
_HEADER_LINES = 7


def _check_options(options: dict[str, Any], what: str) -> None:
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"XDATCAR {what} takes no option(s) {', '.join(unknown)}")


def _read_lines(path: Path) -> list[str]:
    lines = read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _floats(line: str, n: int, what: str, lineno: int, path: Path, frame: int) -> np.ndarray:
    tokens = line.split()
    if len(tokens) != n:
        raise TrajectoryError(
            f"line {lineno}: {what} needs {n} numbers, found {len(tokens)} columns: "
            f"{line.strip()!r}",
            path=path,
            frame=frame,
        )
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise TrajectoryError(
            f"line {lineno}: {what} is not numeric: {line.strip()!r}", path=path, frame=frame
        ) from None
    if not np.isfinite(values).all():
        raise TrajectoryError(
            f"line {lineno}: {what} contains NaN or infinite values", path=path, frame=frame
        )
    return values


def _element(token: str) -> str:
    """Element of a species-line entry; VASP 6 may write POTCAR labels such as ``Li_sv/5a3f``."""
    return token.split("/")[0].split("_")[0]


def _parse_header(
    lines: list[str], i: int, path: Path, frame: int
) -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    """Parse the 7-line header starting at line index ``i``; return species, counts, lattice."""
    if i + _HEADER_LINES > len(lines):
        raise TrajectoryError(
            f"file ends inside the header at line {len(lines)} (truncated file)",
            path=path,
            frame=frame,
        )
    scale_tokens = lines[i + 1].split()
    scale = _floats(lines[i + 1], max(len(scale_tokens), 1), "the scale factor", i + 2, path, frame)
    if scale.size not in (1, 3):
        raise TrajectoryError(
            f"line {i + 2}: the scale factor needs 1 or 3 numbers, found {scale.size}",
            path=path,
            frame=frame,
        )
    raw = np.stack(
        [_floats(lines[i + 2 + k], 3, "a lattice vector", i + 3 + k, path, frame) for k in range(3)]
    )
    det = float(np.linalg.det(raw))
    norms = float(np.prod(np.linalg.norm(raw, axis=1)))
    if not abs(det) > 1e-8 * max(norms, 1e-300):
        raise TrajectoryError(
            f"lines {i + 3}-{i + 5}: the lattice is singular (zero volume); the three lattice "
            "vectors must be independent",
            path=path,
            frame=frame,
        )
    if scale.size == 1 and scale[0] < 0:
        lattice = raw * (-scale[0] / abs(det)) ** (1.0 / 3.0)
    elif np.all(scale > 0):
        lattice = raw * scale  # one value scales all; three scale x, y, z components
    else:
        raise TrajectoryError(
            f"line {i + 2}: invalid scale factor {lines[i + 1].strip()!r} (it must be positive, "
            "or a single negative number giving the volume)",
            path=path,
            frame=frame,
        )

    species_tokens = lines[i + 5].split()
    if not species_tokens:
        raise TrajectoryError(f"line {i + 6}: the species line is empty", path=path, frame=frame)
    if all(t.lstrip("+-").isdigit() for t in species_tokens):
        raise TrajectoryError(
            f"line {i + 6}: no species line (VASP 4 layout); add the line of element symbols "
            "above the counts line",
            path=path,
            frame=frame,
        )
    species = tuple(_element(t) for t in species_tokens)
    for token, sym in zip(species_tokens, species, strict=True):
        if sym not in atomic_numbers or sym == "X":
            raise TrajectoryError(
                f"line {i + 6}: unknown element symbol {token!r} in the species line",
                path=path,
                frame=frame,
            )
    count_tokens = lines[i + 6].split()
    try:
        counts = tuple(int(t) for t in count_tokens)
    except ValueError:
        raise TrajectoryError(
            f"line {i + 7}: the counts line must be integers, found {lines[i + 6].strip()!r}",
            path=path,
            frame=frame,
        ) from None
    if len(counts) != len(species):
        raise TrajectoryError(
            f"line {i + 7}: {len(counts)} counts for {len(species)} species "
            f"({' '.join(species_tokens)})",
            path=path,
            frame=frame,
        )
    if any(c < 0 for c in counts) or sum(counts) == 0:
        raise TrajectoryError(
            f"line {i + 7}: atom counts must be non-negative with at least one atom, "
            f"found {lines[i + 6].strip()!r}",
            path=path,
            frame=frame,
        )
    return species, counts, lattice


def _is_configuration(line: str) -> bool:
    return line.lstrip()[:6].lower() == "direct"


def _is_scale(line: str) -> bool:
    tokens = line.split()
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return len(tokens) in (1, 3)


def _parse(lines: list[str], path: Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, bool]:
    """Return symbols, fractional coordinates (F, N, 3), cells (F, 3, 3), variable-cell flag."""
    if not lines:
        raise TrajectoryError("the file is empty", path=path)
    species, counts, lattice = _parse_header(lines, 0, path, 0)
    n_atoms = sum(counts)
    cells = [lattice]
    starts: list[int] = []
    variable: bool | None = None
    i = _HEADER_LINES
    n_lines = len(lines)
    while i < n_lines:
        frame = len(starts)
        if not _is_configuration(lines[i]):
            # A repeated header starts with comment and scale lines, and has its configuration
            # line 7 lines on (when the file goes on that far).
            no_header = not (i + 1 < n_lines and _is_scale(lines[i + 1])) or (
                i + _HEADER_LINES < n_lines and not _is_configuration(lines[i + _HEADER_LINES])
            )
            if frame == 0 or variable is False or (variable is None and no_header):
                found = lines[i].strip()
                if lines[i].lstrip()[:9].lower() == "cartesian":
                    msg = "Cartesian XDATCAR configurations are not supported (VASP writes Direct)"
                else:
                    msg = f"expected a 'Direct configuration=' line, found {found!r}"
                raise TrajectoryError(f"line {i + 1}: {msg}", path=path, frame=frame)
            variable = True
            sp, ct, lattice = _parse_header(lines, i, path, frame)
            if sp != species or ct != counts:
                raise TrajectoryError(
                    f"line {i + 7}: species/counts {' '.join(sp)} / {ct} differ from the first "
                    f"frame's {' '.join(species)} / {counts}",
                    path=path,
                    frame=frame,
                )
            cells.append(lattice)
            i += _HEADER_LINES
            if i >= n_lines or not _is_configuration(lines[i]):
                found = lines[i].strip() if i < n_lines else "end of file"
                raise TrajectoryError(
                    f"line {i + 1}: expected a 'Direct configuration=' line after the header, "
                    f"found {found!r}",
                    path=path,
                    frame=frame,
                )
        elif frame > 0:
            if variable:
                raise TrajectoryError(
                    f"line {i + 1}: variable-cell XDATCAR but no header before this configuration",
                    path=path,
                    frame=frame,
                )
            variable = False
        start = i + 1
        if start + n_atoms > n_lines:
            raise TrajectoryError(
                f"truncated: expected {n_atoms} coordinate lines after line {i + 1}, "
                f"found {n_lines - start}",
                path=path,
                frame=frame,
            )
        starts.append(start)
        i = start + n_atoms
    if not starts:
        raise TrajectoryError("no 'Direct configuration=' block: the file has no frames", path=path)

    frac = _coordinates(lines, starts, n_atoms, path)
    symbols = tuple(s for s, c in zip(species, counts, strict=True) for _ in range(c))
    cell_arr = np.stack(cells) if variable else np.asarray(cells[0])[None]
    return symbols, frac, cell_arr, bool(variable)


def _coordinates(lines: list[str], starts: list[int], n_atoms: int, path: Path) -> np.ndarray:
    """Parse all coordinate blocks at once, shape (n_frames, n_atoms, 3)."""
    rows = [ln.split() for s in starts for ln in lines[s : s + n_atoms]]

    def where(k: int) -> tuple[int, int]:
        frame, atom = divmod(k, n_atoms)
        return frame, starts[frame] + atom + 1  # (frame, 1-based line number)

    lens = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    bad = np.flatnonzero(lens != 3)
    if bad.size:
        frame, lineno = where(int(bad[0]))
        raise TrajectoryError(
            f"line {lineno}: expected 3 fractional coordinates, found {lens[bad[0]]} columns: "
            f"{lines[lineno - 1].strip()!r}",
            path=path,
            frame=frame,
        )
    try:
        flat = np.array(rows, dtype=np.float64)
    except ValueError:
        for k, row in enumerate(rows):
            try:
                [float(t) for t in row]
            except ValueError:
                frame, lineno = where(k)
                raise TrajectoryError(
                    f"line {lineno}: coordinates are not numeric: {lines[lineno - 1].strip()!r}",
                    path=path,
                    frame=frame,
                ) from None
        raise  # pragma: no cover - numpy refused what float() accepts
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        frame, lineno = where(int(np.argmin(finite)))
        raise TrajectoryError(
            f"line {lineno}: coordinates contain NaN or infinite values", path=path, frame=frame
        )
    return flat.reshape(len(starts), n_atoms, 3)


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    **options: Any,
) -> Trajectory:
    """Read a VASP XDATCAR (fixed or variable cell) into an unwrapped trajectory.

    Args:
        path: The XDATCAR file.
        timestep_fs: Time between stored frames in fs (``POTIM × NBLOCK``); required, since the
            file does not store it.
        temperature_K: Simulation temperature in K, if known.
        **options: None accepted (options passed as ``None`` are ignored).

    Returns:
        The trajectory; the cell is (3, 3) for a fixed-cell file and (n_frames, 3, 3) when the
        header is repeated before every configuration. Frame 0 is the file's (wrapped) frame 0.

    Raises:
        TrajectoryError: If ``timestep_fs`` is missing, or the file is empty, truncated, garbled
            (non-numeric or NaN values, wrong column counts, unknown elements, bad counts) or has
            a singular lattice; the message names the file and, where relevant, the frame.
        InputError: For an unknown option.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> t = Trajectory.from_arrays(["Li"], np.full((2, 1, 3), 0.5), np.eye(3) * 4.0, 2.0)
        >>> write(t, d / "XDATCAR")
        >>> read(d / "XDATCAR", timestep_fs=2.0).positions[1, 0].tolist()
        [0.5, 0.5, 0.5]
    """
    p = Path(path)
    _check_options(options, "reader")
    if timestep_fs is None:
        raise TrajectoryError(
            "XDATCAR stores no timestep; pass timestep_fs (time between stored frames, fs), "
            "i.e. POTIM × NBLOCK",
            path=p,
        )
    symbols, frac, cells, variable = _parse(_read_lines(p), p)
    return Trajectory.from_wrapped(
        symbols,
        frac,
        cells if variable else cells[0],
        timestep_fs,
        temperature_K,
        {"source": str(p), "format": "xdatcar"},
        fractional=True,
    )


def _groups(symbols: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """Runs of equal consecutive symbols, as the species and counts lines."""
    species: list[str] = []
    counts: list[int] = []
    for s in symbols:
        if species and species[-1] == s:
            counts[-1] += 1
        else:
            species.append(s)
            counts.append(1)
    return species, counts


def _wrap_like_unwrap(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Wrapped fractional coordinates that :func:`unwrap_positions` turns back into ``positions``.

    The unwrapped path is ``u_t = w_t + S_t`` with ``S_t`` the lattice shifts accumulated in the
    cell of each frame. Frame by frame, ``w_t`` is ``u_t − S_{t−1}`` wrapped into the cell
    ``h_t`` and ``S_t = S_{t−1} + n_t h_t``. For a fixed cell this is plain wrapping; for a
    variable cell it is the inverse of the reader's unwrapping (plain wrapping of ``u_t`` into
    ``h_t`` would not be, since ``S_{t−1}`` need not be a lattice vector of ``h_t``), so a round
    trip returns the same positions.

    Args:
        positions: Unwrapped positions in Å, (n_frames, n_atoms, 3).
        cells: Lattice vectors per frame, (n_frames, 3, 3).

    Returns:
        Fractional coordinates in [0, 1), (n_frames, n_atoms, 3).
    """
    inv = np.linalg.inv(cells)
    out = np.empty_like(positions)
    shift = np.zeros(positions.shape[1:], dtype=np.float64)
    for t in range(positions.shape[0]):
        frac = (positions[t] - shift) @ inv[t]
        n = np.floor(frac)
        frac -= n
        edge = frac >= 1.0  # floor of a tiny negative value leaves exactly 1
        frac[edge] = 0.0
        n[edge] += 1.0
        shift = shift + n @ cells[t]
        out[t] = frac
    return out


def write(
    traj: Trajectory, path: str | os.PathLike[str], format: str | None = None, **options: Any
) -> None:
    """Write a trajectory as a VASP XDATCAR (wrapped fractional coordinates).

    A fixed cell gives one header; a per-frame cell repeats the header before every
    configuration (VASP's variable-cell layout). Atoms keep their order: consecutive atoms of
    one element form one species entry, so an unsorted structure gives repeated species.
    Coordinates are written with 12 decimals and the lattice with 16, so reading the file back
    recovers the positions to ~1e-11 Å — up to whole lattice vectors when frame 0 lies outside
    the cell, since the file only holds wrapped coordinates. For a variable cell the atoms are
    wrapped as the inverse of the reader's unwrapping (see :func:`_wrap_like_unwrap`), so that
    the round trip holds there too.

    Args:
        traj: The trajectory.
        path: Target file; written atomically (a temporary file renamed on success).
        format: Ignored (the registry passes ``"xdatcar"``).
        **options: None accepted (options passed as ``None`` are ignored).

    Raises:
        TrajectoryError: If the target directory does not exist or is not writable.
        InputError: For an unknown option.
    """
    del format
    _check_options(options, "writer")
    species, counts = _groups(traj.symbols)
    comment = "".join(f"{s}{c}" for s, c in zip(species, counts, strict=True))
    species_line = "".join(f"{s:>5s}" for s in species) + "\n"
    counts_line = "".join(f"{c:>6d}" for c in counts) + "\n"
    cells = traj.cells
    frac = _wrap_like_unwrap(traj.positions, cells)
    coord_fmt = "  %.12f  %.12f  %.12f\n" * traj.n_atoms

    def header(cell: np.ndarray) -> str:
        vectors = "".join(f" {x:22.16f} {y:22.16f} {z:22.16f}\n" for x, y, z in cell)
        return f"{comment}\n{1.0:19.14f}\n{vectors}{species_line}{counts_line}"

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        if not traj.variable_cell:
            fh.write(header(cells[0]))
        for t in range(traj.n_frames):
            if traj.variable_cell:
                fh.write(header(cells[t]))
            fh.write(f"Direct configuration={t + 1:6d}\n")
            fh.write(coord_fmt % tuple(frac[t].ravel()))

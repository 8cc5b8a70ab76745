"""Every trajectory format MDAnalysis reads (DCD, XTC, TRR, NetCDF, ...), with its topology.

Needs the optional extra: ``pip install 'solidion[mdanalysis]'``. MDAnalysis is imported only
when a file is read; without it the reader raises :class:`~solidion.errors.FormatError` naming
that command.

MDAnalysis works in Å and ps. A trajectory file holds coordinates (and usually a box and the
time), the topology file (``topology=``: PDB, GRO, PSF, LAMMPS data, TPR, ...) the atoms. The
element of each atom comes, in this order, from ``type_map`` (atom name or type → element, e.g.
``{"OW": "O"}`` or LAMMPS ``{1: "Li"}``), from the topology's elements (a PDB's element column),
or from the atom name, then the type, when its letters spell an element symbol in any case
(``LI``, ``Li1``, ``Cl-``; note that ``CA`` is calcium). Anything else is an error listing the
names, suggesting ``type_map``. (MDAnalysis's own guesser is not used — it turns ``Ge`` into G
and ``CA`` into C — nor are attributes it guessed, such as the types of a GRO file.)

The time between frames comes from the frame times the file stores (XTC, TRR, NetCDF), which
must be evenly spaced, or from the DCD header, where MDAnalysis takes the time step in CHARMM's
AKMA unit (48.9 fs) — right for CHARMM and NAMD files. A DCD written by CP2K (time step in fs)
is read by :mod:`solidion.io.cp2k`, without MDAnalysis; one written by LAMMPS stores its time
step in the run's time unit, which the file does not name, so it needs ``timestep_fs``. The box
of each frame gives the cell (a along x, b in the xy plane, MDAnalysis's convention); positions
are unwrapped by minimum image.

XTC files are checked frame by frame before MDAnalysis opens them, headers and compressed
coordinates (:func:`_check_xtc`): MDAnalysis 2.11's xdrfile trusts every byte, and a garbage
atom count, a compressed size beyond its buffer or one flipped bit in the compressed
coordinates crashes the interpreter or corrupts its memory. The check takes about as long as
MDAnalysis's own reading (8000 atoms × 2000 frames: 1.9 s against 1.4 s). A frame cut short
at the end (a run still going) is dropped with a warning. A garbled DCD, XTC, TRR or NetCDF
file gives one error, without the traceback that MDAnalysis's half-opened reader prints when
it is collected. MDAnalysis may write its frame-offset cache
(``.NAME_offsets.npz``) next to an XTC or TRR file.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers

from solidion.errors import FormatError, InputError, TrajectoryError
from solidion.trajectory import Trajectory
from solidion.units import FS_PER_PS

__all__ = ["MDA_FORMATS", "read"]

#: solidion format name → MDAnalysis format name (None: MDAnalysis guesses from the suffix).
MDA_FORMATS: dict[str, str | None] = {
    "dcd": "DCD",
    "xtc": "XTC",
    "trr": "TRR",
    "netcdf": "NCDF",
    "mdanalysis": None,
}

_INSTALL = "pip install 'solidion[mdanalysis]'"


def import_mdanalysis(path: object | None = None) -> Any:
    """Import MDAnalysis, or raise FormatError saying how to install it."""
    try:
        import MDAnalysis
    except ImportError:
        raise FormatError(
            f"reading this format needs MDAnalysis, an optional extra: {_INSTALL}", path=path
        ) from None
    return MDAnalysis


def _element_of(label: object) -> str | None:
    """The element a name or type spells (``LI``, ``Li1``, ``Cl-``), else None."""
    m = re.match(r"\s*([A-Za-z]+)", str(label))
    if not m:
        return None
    sym = m.group(1).capitalize()
    return sym if sym in atomic_numbers and sym != "X" else None


def _attr(universe: Any, name: str) -> np.ndarray | None:
    """A topology attribute the file gives, or None: absent, or guessed by MDAnalysis (≥ 2.8
    marks those, e.g. the types of a GRO file, guessed from the names)."""
    if getattr(getattr(universe._topology, name, None), "is_guessed", False):
        return None
    try:
        return np.asarray(getattr(universe.atoms, name))
    except Exception:  # MDAnalysis raises NoDataError when the topology lacks the attribute
        return None


def _elements(
    universe: Any, type_map: Mapping[Any, str] | None, path: Path, topology: Path
) -> list[str]:
    names = _attr(universe, "names")
    types = _attr(universe, "types")
    given = _attr(universe, "elements")
    tmap = {str(k).strip(): str(v).strip() for k, v in (type_map or {}).items()}
    out: list[str] = []
    unknown: dict[str, int] = {}
    for i in range(len(universe.atoms)):
        labels = [str(a[i]).strip() for a in (names, types) if a is not None]
        el = next((tmap[lb] for lb in labels if lb in tmap), None)
        if el is None and given is not None:
            g = str(given[i]).strip().capitalize()  # a topology's element: exactly a symbol
            el = g if g in atomic_numbers and g != "X" else None
        if el is None:
            el = next((e for lb in labels if (e := _element_of(lb)) is not None), None)
        if el is None:
            key = " / ".join(labels) or f"atom {i}"
            unknown.setdefault(key, i)
            continue
        out.append(el)
    if unknown:
        shown = ", ".join(f"{k!r} (atom {i})" for k, i in list(unknown.items())[:6])
        more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
        raise TrajectoryError(
            f"cannot tell the element of the atoms named {shown}{more} from the topology "
            f"{topology}; pass type_map mapping each name or type to an element, "
            "e.g. type_map={'OW': 'O'} or {1: 'Li'}",
            path=path,
        )
    return out


def _timestep_fs(times_ps: np.ndarray, path: Path) -> float:
    """Evenly spaced frame times (ps, float32 in XTC) → the spacing in fs.

    Raises:
        TrajectoryError: Naming the first frame whose time is not after the one before
            (duplicated, decreasing or NaN), else the first one off the even spacing.
    """
    n = len(times_ps)
    if n < 2:
        raise TrajectoryError(
            "a single frame: no time between frames in the file; pass timestep_fs", path=path
        )
    dt = (times_ps[-1] - times_ps[0]) / (n - 1)
    diffs = np.diff(times_ps)
    stuck = np.flatnonzero(~(diffs > 0))
    if stuck.size:
        bad, why = stuck, "not after the frame before it"
    else:
        tol = 1e-4 * abs(diffs[0]) + 8 * np.finfo(np.float32).eps * np.abs(times_ps).max()
        bad, why = np.flatnonzero(np.abs(diffs - diffs[0]) > tol), "off the even spacing"
    if bad.size:
        frame = int(bad[0]) + 1
        raise TrajectoryError(
            f"the frame times are not evenly spaced and increasing (t = {times_ps[frame - 1]:g} "
            f"then {times_ps[frame]:g} ps: {why}); pass timestep_fs to override",
            path=path,
            frame=frame,
        )
    return float(dt) * FS_PER_PS


#: First int of every XTC frame (xdrfile's ``XTC_MAGIC``), big-endian like the whole file.
_XTC_MAGIC = 1995
#: xdrfile's ``FIRSTIDX`` and ``LASTIDX``: the bit counts that its ``magicints`` table (the
#: ranges of the small, delta-coded coordinates) covers.
_XTC_FIRSTIDX, _XTC_LASTIDX = 9, 73


def _xtc_large_bits(minint: tuple[int, ...], maxint: tuple[int, ...]) -> int | None:
    """Bits of one atom's coordinates coded in full (xdrfile's ``sizeofint(s)``/
    ``sizeofints``), or None when the ranges are not those of any valid frame."""
    sizes = [hi - lo + 1 for lo, hi in zip(minint, maxint, strict=True)]
    if not all(1 <= s < 2**31 - 2 for s in sizes):  # the writer's MAXABS limit
        return None
    if max(sizes) > 0xFFFFFF:  # each coordinate on its own
        return sum(min(s.bit_length(), 32) for s in sizes)
    return (sizes[0] * sizes[1] * sizes[2]).bit_length()  # one multibyte integer


def _xtc_run_codes(data: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The 6 bits at bit offsets ``pos`` of ``data`` (most significant first): a run flag and
    a 5-bit run code. Bytes past the end read as the last one (the caller refuses those)."""
    last = len(data) - 1
    byte = pos >> 3
    pair = (data[np.minimum(byte, last)].astype(np.int64) << 8) | data[np.minimum(byte + 1, last)]
    return (pair >> (10 - (pos & 7))) & 0b111111


def _walk_xtc_streams(path: Path, frames: list[tuple[int, ...]], n_atoms: int) -> None:
    """Follow the control flow of xdrfile's decompression through every compressed frame.

    ``frames`` holds, per frame: its number, the byte offset and length of its bit stream,
    the bits of a fully coded atom and the initial ``smallidx``. The walk reads only the bits
    that steer xdrfile (a run flag, a 5-bit run length, each step of ``smallidx``) and skips
    the coordinates; it does so for all frames at once, one fully coded atom per step. xdrfile
    itself checks none of this: a run past the last atom writes past its buffers, a
    ``smallidx`` off its table reads past it, so one flipped bit crashes the interpreter or
    corrupts memory.

    Raises:
        TrajectoryError: At the first frame whose stream would take xdrfile out of bounds.
    """
    data = np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))
    for first in range(0, len(frames), 1 << 16):  # bounded temporaries for long files
        number, start, length, large, small = np.array(
            frames[first : first + (1 << 16)], dtype=np.int64
        ).T.copy()
        pos, end = 8 * start, 8 * (start + length)
        done = np.zeros_like(pos)  # atoms decoded
        run = np.zeros_like(pos)  # xdrfile keeps the run length of the atom before
        while number.size:
            pos += large
            six = _xtc_run_codes(data, pos)
            flag = six >= 32
            code = six & 31
            pos += 1 + 5 * flag
            run = np.where(flag, code - code % 3, run)
            pos += (run // 3) * small
            done += 1 + run // 3
            small += np.where(flag, code % 3 - 1, 0)
            bad = (done > n_atoms) | (small < _XTC_FIRSTIDX) | (small >= _XTC_LASTIDX) | (pos > end)
            if bad.any():
                raise TrajectoryError(
                    "garbled XTC frame: its compressed coordinates do not decode to its "
                    f"{n_atoms} atoms (MDAnalysis would read past its buffers)",
                    path=path,
                    frame=int(number[bad].min()),
                )
            more = done < n_atoms
            if not more.all():
                number, pos, end, done, run, large, small = (
                    a[more] for a in (number, pos, end, done, run, large, small)
                )


def _check_xtc(path: Path) -> bool:
    """Walk the XTC frames before MDAnalysis opens the file.

    MDAnalysis 2.11's XTC reader (xdrfile) trusts the file: it crashes the interpreter
    (segmentation fault, or a corrupted heap that aborts later) on a garbage atom count, a
    compressed size larger than its buffer, or a single flipped bit in the compressed
    coordinates. So every frame's magic number, atom count, precision, coordinate ranges and
    compressed size are checked here first, and then the compressed bit streams
    (:func:`_walk_xtc_streams`). So is the box: MDAnalysis keeps only its lengths and angles,
    which would turn a left-handed box silently into its mirror image.

    Returns:
        Whether the file ends inside a frame (left to MDAnalysis, which drops it).
    """
    size = path.stat().st_size
    n_atoms = None
    pos = frame = 0
    compressed: list[tuple[int, ...]] = []
    with open(path, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            head = fh.read(56)  # magic, natoms, step, time, box (9), natoms again
            if len(head) < 56:
                break
            magic, n = struct.unpack(">2i", head[:8])
            again = struct.unpack(">i", head[52:56])[0]
            if magic != _XTC_MAGIC or n <= 0 or again != n or n_atoms not in (None, n):
                raise TrajectoryError(
                    "not an XTC frame here (its magic number or atom count is wrong): a "
                    "garbled file",
                    path=path,
                    frame=frame,
                )
            box = np.frombuffer(head[16:52], dtype=">f4").reshape(3, 3).astype(np.float64)
            with np.errstate(all="ignore"):  # garbage floats: NaN, overflow
                left = np.linalg.det(box) < -1e-6 * np.prod(np.linalg.norm(box, axis=1))
            if left:
                raise TrajectoryError(
                    "the box is left-handed (negative determinant of its vectors); GROMACS "
                    "writes a along x, b in the xy plane and c with z > 0",
                    path=path,
                    frame=frame,
                )
            n_atoms = n
            if n <= 9:  # small systems are stored uncompressed
                length = 56 + 12 * n
            else:
                rest = fh.read(36)  # precision, minint (3), maxint (3), smallidx, byte count
                if len(rest) < 36:
                    break
                precision = struct.unpack(">f", rest[:4])[0]
                minint, maxint = struct.unpack(">3i", rest[4:16]), struct.unpack(">3i", rest[16:28])
                smallidx, n_bytes = struct.unpack(">2i", rest[28:36])
                large = _xtc_large_bits(minint, maxint)
                # xdrfile's buffer for the stream: 1.2 × 3 ints per atom, less a 3-int header
                capacity = 4 * (int(3 * n * 1.2) - 3)
                if (
                    not (math.isfinite(precision) and precision > 0)
                    or large is None
                    or not _XTC_FIRSTIDX <= smallidx < _XTC_LASTIDX
                    or not 0 <= n_bytes <= capacity
                ):
                    raise TrajectoryError(
                        f"garbled XTC frame (precision {precision:g}, coordinate ranges "
                        f"{minint}–{maxint}, smallidx {smallidx}, compressed size {n_bytes} "
                        f"bytes for {n} atoms)",
                        path=path,
                        frame=frame,
                    )
                length = 92 + (n_bytes + 3) // 4 * 4
                if pos + length <= size:
                    compressed.append((frame, pos + 92, n_bytes, large, smallidx))
            if pos + length > size:
                break
            pos += length
            frame += 1
    if compressed and n_atoms is not None:
        _walk_xtc_streams(path, compressed, n_atoms)
    return pos < size


@contextlib.contextmanager
def _quiet_half_built_readers() -> Iterator[None]:
    """Silence the ``__del__`` of an MDAnalysis reader whose ``__init__`` failed.

    In MDAnalysis 2.11 such a reader (DCD, XTC, TRR, NetCDF: a garbled or empty file) calls
    ``close()`` on a file it never opened when it is collected; the AttributeError is printed
    as "Exception ignored in ... Traceback" under the reader's one-line error. Only exactly
    that exception, from MDAnalysis, is dropped; anything else goes to the previous hook.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        where = getattr(unraisable.object, "__module__", None) or ""
        if isinstance(unraisable.exc_value, AttributeError) and where.startswith("MDAnalysis"):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _dcd_route(
    path: Path, timestep_fs: float | None, temperature_K: float | None, topology: Any
) -> Trajectory | None:
    """Read a CP2K DCD with :mod:`solidion.io.cp2k`; refuse a LAMMPS DCD without timestep_fs."""
    from solidion.io import cp2k

    h = cp2k.read_dcd_header(path)
    if h is None:
        return None
    if h.writer == "cp2k":
        return cp2k.read(
            path, timestep_fs=timestep_fs, temperature_K=temperature_K, topology=topology
        )
    if h.writer == "lammps" and timestep_fs is None:
        raise TrajectoryError(
            "a LAMMPS DCD stores its time step in the run's time unit (ps for metal units, fs "
            "for real units), which the file does not name; pass timestep_fs (fs between "
            f"frames: the LAMMPS timestep × dump interval {h.steps_per_frame})",
            path=path,
        )
    return None


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    topology: str | os.PathLike[str] | None = None,
    type_map: Mapping[Any, str] | None = None,
    format: str | None = None,
    **options: Any,
) -> Trajectory:
    """Read a trajectory through MDAnalysis.

    Args:
        path: The trajectory file (DCD, XTC, TRR, NetCDF, or any MDAnalysis reads).
        timestep_fs: Time between frames in fs; default from the file's frame times.
        temperature_K: Temperature in K (these formats store none).
        topology: The topology file MDAnalysis reads with it (required).
        type_map: Atom name or type → element, for names that do not spell an element.
        format: The solidion format name (a key of :data:`MDA_FORMATS`); the registry passes
            it. ``"mdanalysis"`` or None let MDAnalysis guess from the file suffix.
        **options: None accepted (options passed as ``None`` are ignored).

    Returns:
        The unwrapped trajectory; the cell is per frame when the box changes.

    Raises:
        FormatError: MDAnalysis is not installed (the message says how to install it).
        TrajectoryError: No or unreadable ``topology``, atoms whose element cannot be told,
            a frame without a box, unevenly spaced frame times, a file MDAnalysis cannot read —
            naming the file and, where relevant, the frame.
        InputError: For an unknown option or format name.
    """
    p = Path(path)
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"MDAnalysis reader takes no option(s) {', '.join(unknown)}")
    fmt = format or "mdanalysis"
    if fmt not in MDA_FORMATS:
        raise InputError(f"unknown MDAnalysis format {fmt!r}; known: {', '.join(MDA_FORMATS)}")
    if fmt == "dcd" or (fmt == "mdanalysis" and p.suffix.lower() == ".dcd"):
        routed = _dcd_route(p, timestep_fs, temperature_K, topology)
        if routed is not None:
            return routed
    mda = import_mdanalysis(p)
    if topology is None:
        raise TrajectoryError(
            "MDAnalysis needs the atoms from a topology file: pass topology= "
            "(PDB, GRO, PSF, LAMMPS data, TPR, ...)",
            path=p,
        )
    top = Path(topology)
    if not top.is_file():
        raise TrajectoryError("topology file not found", path=top)
    from MDAnalysis.lib.mdamath import triclinic_vectors

    mda_format = MDA_FORMATS[fmt]
    cut = False
    if mda_format == "XTC" or (mda_format is None and p.suffix.lower() == ".xtc"):
        cut = _check_xtc(p)
    kwargs = {"format": mda_format} if mda_format else {}
    failure = None
    with _quiet_half_built_readers():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MDAnalysis warns about guessed masses etc.
                u = mda.Universe(str(top), str(p), **kwargs)
        except Exception as exc:  # MDAnalysis raises many types for a bad file or pair
            failure = f"{type(exc).__name__}: {exc}"
        # the except clause has dropped the traceback, and with it the half-built reader
    if failure is not None:
        raise TrajectoryError(
            f"MDAnalysis cannot read it with the topology {top} ({failure})", path=p
        )
    symbols = _elements(u, type_map, p, top)
    traj = u.trajectory
    n_frames, n_atoms = len(traj), len(u.atoms)
    if n_frames == 0:
        raise TrajectoryError("no frames", path=p)
    pos = np.empty((n_frames, n_atoms, 3), dtype=np.float64)
    cells = np.empty((n_frames, 3, 3), dtype=np.float64)
    times = np.empty(n_frames, dtype=np.float64)
    no_time = False
    count = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i, ts in enumerate(traj):
                dims = ts.dimensions
                if dims is None or not np.all(np.asarray(dims[:3]) > 0):
                    raise TrajectoryError(
                        "no periodic box in this frame (MDAnalysis dimensions "
                        f"{None if dims is None else list(np.round(dims, 4))})",
                        path=p,
                        frame=i,
                    )
                pos[i] = ts.positions
                cells[i] = triclinic_vectors(dims)
                times[i] = ts.time
                count = i + 1
        no_time = any("no dt information" in str(w.message) for w in caught)
    except TrajectoryError:
        raise
    except Exception as exc:
        raise TrajectoryError(
            f"MDAnalysis cannot read this frame ({type(exc).__name__}: {exc})", path=p, frame=count
        ) from None
    if count < n_frames or cut:
        if count == 0:
            raise TrajectoryError("the file ends inside its first frame", path=p)
        warnings.warn(
            f"{p}: the file ends inside frame {count}; using its {count} complete frame(s)",
            stacklevel=2,
        )
        pos, cells, times = pos[:count], cells[:count], times[:count]
    if timestep_fs is None:
        if no_time:
            raise TrajectoryError(
                "the file stores no time between frames; pass timestep_fs (fs)", path=p
            )
        timestep_fs = _timestep_fs(times, p)
    fixed = np.allclose(cells, cells[0], rtol=0.0, atol=1e-12)
    meta = {
        "source": str(p),
        "format": fmt,
        "topology": str(top),
        "mdanalysis_format": type(traj).__name__,
    }
    return Trajectory.from_wrapped(
        symbols, pos, cells[0] if fixed else cells, timestep_fs, temperature_K, meta
    )

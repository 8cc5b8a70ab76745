"""CP2K MD trajectories in DCD (``&MOTION/&PRINT/&TRAJECTORY FORMAT DCD_ALIGNED_CELL``).

CP2K writes a CHARMM-style DCD (``motion_utils.F``, ``particle_methods.F``): a header record
``CORD, 0, first step, EACH, 0 ×6, dt, 1, 0 ×8, 24`` where ``dt`` is the MD time step **in fs**
(float32) and ``EACH`` the MD steps between stored frames, a title naming CP2K, the atom count,
and per frame the cell ``a, γ, b, β, α, c`` (Å, degrees, float64) and the x, y and z
coordinates (Å, float32). So the time between frames is ``dt × EACH``, read from the file.
(MDAnalysis, which reads the same file, takes ``dt`` for CHARMM's AKMA time unit of 48.9 fs; the
``dcd`` format therefore sends CP2K's DCD files here.)

The file stores no elements: ``topology=`` names a structure file with the same atoms in the
same order that :func:`ase.io.read` reads — the run's ``-pos-1.xyz``, a ``.pdb``, ``.cif`` or
CP2K ``.restart``. Coordinates are float32: about 1e-6 relative, 1e-5 Å at 10 Å.

The frames are parsed here with numpy (checking every Fortran record marker, so a garbled file
names its frame, and a file cut inside a frame gives its complete frames with a warning); the
result is what ``ase.io.read(path, index=":", format="cp2k-dcd", aligned=True)`` gives. The cell
is built from ``a, b, c, α, β, γ`` with a along x and b in the xy plane, the frame in which CP2K
writes ``DCD_ALIGNED_CELL`` coordinates. Plain ``FORMAT DCD`` keeps the input frame, which is the
same for an orthorhombic cell and for a triclinic cell given that way in the input; for any
other triclinic cell the reader cannot tell, and warns.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import InputError, TrajectoryError
from solidion.trajectory import Trajectory

__all__ = ["DCDHeader", "read", "read_dcd_header"]


@dataclass(frozen=True)
class DCDHeader:
    """The header of a CHARMM-style DCD file.

    Attributes:
        n_atoms: Atoms per frame.
        first_step: MD step of the first frame (ISTART).
        steps_per_frame: MD steps between frames (NSAVC; CP2K's ``EACH``).
        delta: The time-step field, in the writer's unit (CP2K: fs; CHARMM/NAMD: AKMA;
            LAMMPS: its run's time unit).
        title: The title records joined (names the program that wrote the file).
        has_cell: Each frame starts with a unit-cell record.
        byteorder: ``"<"`` or ``">"``.
        size: Bytes of the header.
    """

    n_atoms: int
    first_step: int
    steps_per_frame: int
    delta: float
    title: str
    has_cell: bool
    byteorder: str
    size: int

    @property
    def writer(self) -> str:
        """``"cp2k"``, ``"lammps"`` or ``"other"``, from the title."""
        if "CP2K" in self.title:
            return "cp2k"
        if "LAMMPS" in self.title:
            return "lammps"
        return "other"


def read_dcd_header(path: Path) -> DCDHeader | None:
    """Parse a DCD header (32-bit record markers, either byte order); None if not a DCD."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(92)
            if len(head) < 92 or head[4:8] != b"CORD":
                return None
            for bo in ("<", ">"):
                if struct.unpack(bo + "i", head[:4])[0] == 84:
                    break
            else:
                return None
            ints = struct.unpack(bo + "9i", head[8:44])
            delta = float(struct.unpack(bo + "f", head[44:48])[0])
            tail = struct.unpack(bo + "10i", head[48:88])
            n = struct.unpack(bo + "i", fh.read(4))[0]
            if not 4 <= n <= 4 + 80 * 1000:
                return None
            block = fh.read(n + 4)
            ntitle = struct.unpack(bo + "i", block[:4])[0]
            title = b" ".join(
                block[4 + 80 * k : 4 + 80 * (k + 1)] for k in range(max(0, min(ntitle, n // 80)))
            ).decode("ascii", "replace")
            marker, n_atoms, marker2 = struct.unpack(bo + "3i", fh.read(12))
            if marker != 4 or marker2 != 4 or n_atoms <= 0:
                return None
    except (OSError, struct.error):
        return None
    return DCDHeader(
        n_atoms=int(n_atoms),
        first_step=int(ints[1]),
        steps_per_frame=int(ints[2]),
        delta=float(str(np.float32(delta))),  # the float32's shortest decimal: 0.5, 0.3, ...
        title=" ".join(title.split()),
        has_cell=bool(tail[0]),
        byteorder=bo,
        size=92 + n + 8 + 12,
    )


def _frames(path: Path, h: DCDHeader) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cell parameters (F, 6) as a, b, c, α, β, γ and positions (F, N, 3); truncated flag."""
    n = h.n_atoms
    bo = h.byteorder
    fields: list[tuple[str, Any, Any]] = []
    if h.has_cell:
        fields += [("c0", bo + "i4"), ("cell", bo + "f8", (6,)), ("c1", bo + "i4")]
    for k in "xyz":
        fields += [(k + "0", bo + "i4"), (k, bo + "f4", (n,)), (k + "1", bo + "i4")]
    dtype = np.dtype(fields)
    size = path.stat().st_size - h.size
    n_frames, rest = divmod(size, dtype.itemsize)
    with open(path, "rb") as fh:
        fh.seek(h.size)
        data = np.fromfile(fh, dtype=dtype, count=n_frames)
    expect = {k + s: 4 * n for k in "xyz" for s in "01"}
    if h.has_cell:
        expect |= {"c0": 48, "c1": 48}
    bad = np.zeros(n_frames, dtype=bool)
    for name, value in expect.items():
        bad |= data[name] != value
    if bad.any():
        raise TrajectoryError(
            f"garbled frame: its Fortran record markers are not those of a {n}-atom DCD frame",
            path=path,
            frame=int(np.argmax(bad)),
        )
    pos = np.stack([data["x"], data["y"], data["z"]], axis=-1).astype(np.float64)
    if h.has_cell:
        c = data["cell"].astype(np.float64)
        cellpar = c[:, [0, 2, 5, 4, 3, 1]]  # a, γ, b, β, α, c → a, b, c, α, β, γ
    else:
        cellpar = np.zeros((n_frames, 6))
    return cellpar, pos, rest != 0


def _check_angles(cellpar: np.ndarray, path: Path) -> None:
    """Refuse cell angles that span no volume, before :func:`ase.geometry.cellpar_to_cell`
    (which asserts, or divides by zero, on them).

    The volume of the cell is :math:`abc\\sqrt{1 - \\cos^2\\alpha - \\cos^2\\beta -
    \\cos^2\\gamma + 2\\cos\\alpha\\cos\\beta\\cos\\gamma}`; the root must be real and not
    near zero (the same relative bound as :class:`~solidion.Trajectory`'s cell check).
    """
    cos = np.cos(np.radians(cellpar[:, 3:]))
    with np.errstate(invalid="ignore"):
        vol2 = 1.0 - (cos**2).sum(axis=1) + 2.0 * cos.prod(axis=1)
        ok = (cellpar[:, 3:] > 0) & (cellpar[:, 3:] < 180)
        bad = ~(ok.all(axis=1) & (vol2 > 1e-16))
    if bad.any():
        frame = int(np.argmax(bad))
        a, b, c, alpha, beta, gamma = cellpar[frame]
        raise TrajectoryError(
            f"the cell a, b, c = {a:g}, {b:g}, {c:g} Å, α, β, γ = {alpha:g}, {beta:g}, "
            f"{gamma:g}° has zero volume (singular: the angles span no cell)",
            path=path,
            frame=frame,
        )


def _symbols(topology: Any, n_atoms: int, path: Path) -> list[str]:
    import ase.io
    from ase.data import atomic_numbers

    if topology is None:
        raise TrajectoryError(
            "a CP2K DCD stores no elements: pass topology= a structure file with the same atoms "
            "in the same order (the run's -pos-1.xyz, a .pdb, .cif or CP2K .restart)",
            path=path,
        )
    top = Path(topology)
    if not top.is_file():
        raise TrajectoryError("topology file not found", path=top)
    try:
        atoms = ase.io.read(top, index=0)
    except Exception as exc:  # ase raises many types for an unreadable file
        label = exc.args[0] if isinstance(exc, KeyError) and exc.args else None
        if isinstance(label, str) and label not in atomic_numbers:  # from ase.Atoms(symbols)
            raise TrajectoryError(
                f"the topology file {top} has an unknown element symbol {label!r}", path=path
            ) from None
        raise TrajectoryError(
            f"cannot read the topology file {top} ({type(exc).__name__}: {exc})", path=path
        ) from None
    if len(atoms) != n_atoms:
        raise TrajectoryError(
            f"the topology {top} has {len(atoms)} atoms, the DCD {n_atoms}", path=path
        )
    return atoms.get_chemical_symbols()


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    topology: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Trajectory:
    """Read a CP2K DCD trajectory.

    Args:
        path: The ``PROJECT-pos-1.dcd`` file.
        timestep_fs: Time between frames in fs; default ``dt × EACH`` from the header.
        temperature_K: Temperature in K (the DCD stores none).
        topology: Structure file giving the element of each atom (required).
        **options: None accepted (options passed as ``None`` are ignored).

    Returns:
        The unwrapped trajectory; the cell is per frame when it changes (NpT).

    Raises:
        TrajectoryError: Not a CP2K DCD, no, mismatched or unreadable ``topology`` (an
            unknown element), no cell in the frames or cell angles that span no volume, garbled
            or empty file — naming the file and, where relevant, the frame.
        InputError: For an unknown option.

    Example:
        >>> import warnings
        >>> from pathlib import Path
        >>> d = Path(__file__).parents[2] / "tests" / "data" / "formats"
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the cell is triclinic
        ...     t = read(d / "cp2k_md-pos-1.dcd", topology=d / "cp2k_md.xyz")
        >>> t.n_frames, t.timestep_fs, t.species
        (7, 1.0, ('Li', 'Cl'))
    """
    from ase.geometry import cellpar_to_cell

    p = Path(path)
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"CP2K DCD reader takes no option(s) {', '.join(unknown)}")
    h = read_dcd_header(p)
    if h is None:
        raise TrajectoryError("not a DCD file (no 'CORD' header record)", path=p)
    if h.writer != "cp2k":
        raise TrajectoryError(
            f"not written by CP2K (title {h.title[:60]!r}); read it with format='dcd'", path=p
        )
    symbols = _symbols(topology, h.n_atoms, p)
    cellpar, pos, truncated = _frames(p, h)
    if len(pos) == 0:
        raise TrajectoryError("no complete frame after the header", path=p)
    if not h.has_cell or not np.all(cellpar[:, :3] > 0):
        frame = int(np.argmax(~np.all(cellpar[:, :3] > 0, axis=1))) if h.has_cell else None
        raise TrajectoryError("no periodic cell in the DCD frames", path=p, frame=frame)
    _check_angles(cellpar, p)
    if timestep_fs is None:
        if not (h.delta > 0 and h.steps_per_frame > 0):
            raise TrajectoryError(
                f"the DCD header has no time step (dt = {h.delta:g} fs, EACH = "
                f"{h.steps_per_frame}); pass timestep_fs (fs between frames)",
                path=p,
            )
        timestep_fs = h.delta * h.steps_per_frame
    fixed = np.allclose(cellpar, cellpar[0], rtol=0.0, atol=1e-12)
    cells = np.stack([cellpar_to_cell(c) for c in (cellpar[:1] if fixed else cellpar)])
    meta = {
        "source": str(p),
        "format": "cp2k-dcd",
        "md_timestep_fs": h.delta,
        "steps_per_frame": h.steps_per_frame,
        "first_step": h.first_step,
    }
    traj = Trajectory.from_wrapped(
        symbols, pos, cells[0] if fixed else cells, timestep_fs, temperature_K, meta
    )
    # warnings only for a file that is read: a refused one gets its error alone
    if not np.allclose(cellpar[:, 3:], 90.0, atol=1e-6):
        warnings.warn(
            f"{p}: triclinic cell; the coordinates are taken in the frame with a along x and b "
            "in the xy plane, as CP2K writes FORMAT DCD_ALIGNED_CELL",
            stacklevel=2,
        )
    if truncated:
        warnings.warn(
            f"{p}: the file ends inside a frame; using its {len(pos)} complete frame(s)",
            stacklevel=2,
        )
    return traj

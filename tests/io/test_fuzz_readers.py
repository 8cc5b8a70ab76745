"""Every reader, fuzzed: broken files give one clear error, never a traceback or a half-file.

Every format of the registry: extended XYZ, XDATCAR, LAMMPS dump, H5MD, ASE .traj, pymatgen
JSON, vasprun.xml, pw.x output, CP2K DCD, and through MDAnalysis DCD, XTC, TRR and NetCDF
(these with a topology file beside them, ``topology=`` and ``--topology``). Two layers:

* **Byte level** (hypothesis): a valid file of each format, truncated at a random byte offset,
  or replaced by random garbage. A truncated file may still hold whole frames; then the reader
  must return exactly those frames (a prefix of what it reads from the whole file, to 1e-6 Å;
  XTC stores float32 nm). Otherwise it raises :class:`TrajectoryError` naming the file. A few
  bytes changed anywhere, and single bits flipped in a compressed XTC (read in a fresh
  interpreter that checks its heap), must never crash the interpreter.
* **Semantic** (hypothesis picks the frame, atom and value): NaN or infinite coordinates,
  zero-volume and left-handed cells, duplicated or non-increasing times, an atom count that
  changes between frames, unknown species — where the format can store them. Each is written by
  a small raw writer per format (the library's writers refuse such data) and must raise
  :class:`TrajectoryError` naming the file, and the frame where one is at fault.

Through the CLI every case is one ``error:`` line naming the file, exit status 2, and no output
file. Hypothesis runs derandomized, so the examples are the same on every machine.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solidion.cli import main
from solidion.errors import TrajectoryError
from solidion.io import read_trajectory
from solidion.io.mdanalysis import MDA_FORMATS
from solidion.io.stream import STREAMING_FORMATS
from solidion.trajectory import Trajectory

# A reader that leaves an exception for garbage collection to print ("Exception ignored in")
# puts a traceback under the CLI's one error line: that fails the test here.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

N_FRAMES = 4
SYMBOLS = ("Li", "Li", "Cl", "Cl", "Al")
CELL = np.array([[6.0, 0.0, 0.0], [1.0, 6.5, 0.0], [0.5, -0.4, 7.0]])
DT_FS = 10.0


def _frames() -> np.ndarray:
    """Wrapped-free positions of a small triclinic cell: small steps, inside the cell."""
    rng = np.random.default_rng(11)
    frac = rng.uniform(0.2, 0.8, size=(len(SYMBOLS), 3))
    steps = rng.normal(0.0, 0.02, size=(N_FRAMES, len(SYMBOLS), 3))
    steps[0] = 0.0
    return (frac[None] + np.cumsum(steps, axis=0)) @ CELL


POSITIONS = _frames()


@dataclass
class Frames:
    """What a raw writer writes: per-frame symbols, positions, cells and steps (no checks)."""

    symbols: list[list[str]]
    positions: list[np.ndarray]
    cells: list[np.ndarray]
    steps: list[int]

    @classmethod
    def valid(cls) -> Frames:
        return cls(
            [list(SYMBOLS) for _ in range(N_FRAMES)],
            [p.copy() for p in POSITIONS],
            [CELL.copy() for _ in range(N_FRAMES)],
            list(range(0, 10 * N_FRAMES, 10)),
        )

    @classmethod
    def compressible(cls) -> Frames:
        """16 atoms: XTC compresses more than 9 (xdrfile's bit-packed integers)."""
        rng = np.random.default_rng(12)
        frac = rng.uniform(0.1, 0.9, size=(16, 3)) + np.cumsum(
            rng.normal(0.0, 0.01, size=(N_FRAMES, 16, 3)), axis=0
        )
        return cls(
            [["Li"] * 8 + ["Cl"] * 8 for _ in range(N_FRAMES)],
            list(frac @ CELL),
            [CELL.copy() for _ in range(N_FRAMES)],
            list(range(0, 10 * N_FRAMES, 10)),
        )


# ---------------------------------------------------------------------------------------------
# raw writers: they write whatever they are given
# ---------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return repr(float(x)) if not math.isfinite(x) else f"{x:.10f}"


def _write_extxyz(f: Frames, path: Path) -> None:
    lines = []
    for k in range(len(f.positions)):
        lat = " ".join(_fmt(v) for v in f.cells[k].ravel())
        lines.append(str(len(f.symbols[k])))
        lines.append(
            f'Lattice="{lat}" Properties=species:S:1:pos:R:3 time_fs={f.steps[k]} '
            f'timestep_fs={DT_FS} pbc="T T T"'
        )
        for s, p in zip(f.symbols[k], f.positions[k], strict=True):
            lines.append(f"{s} " + " ".join(_fmt(v) for v in p))
    path.write_text("\n".join(lines) + "\n")


def _write_xdatcar(f: Frames, path: Path) -> None:
    out = []
    for k in range(len(f.positions)):
        syms = f.symbols[k]
        kinds = list(dict.fromkeys(syms))
        order = [i for s in kinds for i in range(len(syms)) if syms[i] == s]
        out.append("fuzz")
        out.append("   1.0")
        out += ["  " + " ".join(_fmt(v) for v in row) for row in f.cells[k]]
        out.append("   " + "   ".join(kinds))
        out.append("   " + "   ".join(str(syms.count(s)) for s in kinds))
        out.append(f"Direct configuration=     {k + 1}")
        with np.errstate(all="ignore"):
            inv = np.linalg.pinv(f.cells[k])
            frac = f.positions[k][order] @ inv
        out += ["  " + " ".join(_fmt(v) for v in row) for row in frac]
    path.write_text("\n".join(out) + "\n")


def _write_lammps(f: Frames, path: Path) -> None:
    out = []
    for k in range(len(f.positions)):
        a, b, c = f.cells[k]
        xy, xz, yz = b[0], c[0], c[1]
        xlo, ylo, zlo = 0.0, 0.0, 0.0
        xhi, yhi, zhi = a[0], b[1], c[2]
        xlo_b = xlo + min(0.0, xy, xz, xy + xz)
        xhi_b = xhi + max(0.0, xy, xz, xy + xz)
        ylo_b, yhi_b = ylo + min(0.0, yz), yhi + max(0.0, yz)
        out += ["ITEM: TIMESTEP", str(f.steps[k]), "ITEM: NUMBER OF ATOMS", str(len(f.symbols[k]))]
        out.append("ITEM: BOX BOUNDS xy xz yz pp pp pp")
        out.append(f"{_fmt(xlo_b)} {_fmt(xhi_b)} {_fmt(xy)}")
        out.append(f"{_fmt(ylo_b)} {_fmt(yhi_b)} {_fmt(xz)}")
        out.append(f"{_fmt(zlo)} {_fmt(zhi)} {_fmt(yz)}")
        out.append("ITEM: ATOMS id type element xu yu zu")
        types = {s: i + 1 for i, s in enumerate(dict.fromkeys(SYMBOLS))}
        for i, (s, p) in enumerate(zip(f.symbols[k], f.positions[k], strict=True)):
            out.append(f"{i + 1} {types.get(s, 9)} {s} " + " ".join(_fmt(v) for v in p))
    path.write_text("\n".join(out) + "\n")


def _write_h5md(f: Frames, path: Path) -> None:
    from ase.data import atomic_numbers

    n = {len(s) for s in f.symbols}
    assert len(n) == 1, "H5MD stores one atom count per file"
    with h5py.File(path, "w") as h5:
        h5.create_group("h5md").attrs["version"] = np.array([1, 1])
        part = h5.create_group("particles/all")
        pos = part.create_group("position")
        pos.create_dataset("value", data=np.array(f.positions)).attrs["unit"] = "Angstrom"
        pos.create_dataset("step", data=np.array(f.steps))
        pos.create_dataset("time", data=np.array(f.steps) * DT_FS / 10.0 / 1000.0).attrs["unit"] = (
            "ps"
        )
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        edges = box.create_group("edges")
        edges.create_dataset("value", data=np.array(f.cells)).attrs["unit"] = "Angstrom"
        edges.create_dataset("step", data=np.array(f.steps))
        edges.create_dataset("time", data=np.array(f.steps) * DT_FS / 10.0 / 1000.0)
        part.create_dataset(
            "species", data=np.array([atomic_numbers.get(s, 0) for s in f.symbols[0]])
        )


def _write_ase_traj(f: Frames, path: Path) -> None:
    from ase import Atoms
    from ase.data import atomic_numbers
    from ase.io.trajectory import Trajectory as AseTrajectory

    with AseTrajectory(str(path), "w") as tr:
        for k in range(len(f.positions)):
            numbers = [atomic_numbers.get(s, 0) for s in f.symbols[k]]  # unknown -> 0 ("X")
            tr.write(Atoms(numbers=numbers, positions=f.positions[k], cell=f.cells[k], pbc=True))


def _write_pymatgen_json(f: Frames, path: Path) -> None:
    start = f.positions[0]
    disp = np.stack([p - start for p in f.positions], axis=1)
    d = {
        "structure": {
            "lattice": {"matrix": f.cells[0].tolist()},
            "sites": [
                {"species": [{"element": s, "occu": 1}], "xyz": list(p)}
                for s, p in zip(f.symbols[0], start, strict=True)
            ],
        },
        "displacements": disp.tolist(),
        "temperature": 600,
        "time_step": 1.0,
        "step_skip": 10,
    }
    path.write_text(json.dumps(d))


#: The structure file that the writers of formats without elements (DCD, XTC, TRR, NetCDF) put
#: beside the trajectory, read as ``topology=`` (``--topology``).
TOPOLOGY = "top.xyz"


def _write_topology(f: Frames, path: Path) -> None:
    """An XYZ file of the first frame's atoms: ASE (CP2K) and MDAnalysis read it as topology."""
    lines = [str(len(f.symbols[0])), "topology"]
    lines += [f"{s} 0.0 0.0 0.0" for s in f.symbols[0]]  # the trajectory has the positions
    (path.parent / TOPOLOGY).write_text("\n".join(lines) + "\n")


def _write_vasprun(f: Frames, path: Path) -> None:
    kinds = list(dict.fromkeys(f.symbols[0]))
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<modeling>",
        " <incar>",
        '  <i type="int" name="IBRION">     0</i>',
        f'  <i name="POTIM">{DT_FS:16.8f}</i>',
        '  <i name="TEBEG">    600.00000000</i>',
        " </incar>",
        " <atominfo>",
        f"  <atoms>{len(f.symbols[0])}</atoms>",
        '  <array name="atoms" >',
        "   <set>",
    ]
    out += [f"    <rc><c>{s:<2s}</c><c>{kinds.index(s) + 1:4d}</c></rc>" for s in f.symbols[0]]
    out += ["   </set>", "  </array>", " </atominfo>"]
    for k in range(len(f.positions)):
        with np.errstate(all="ignore"):
            frac = f.positions[k] @ np.linalg.pinv(f.cells[k])
        out += [" <calculation>", "  <structure>", "   <crystal>", '    <varray name="basis" >']
        out += ["     <v>" + " ".join(_fmt(v) for v in row) + " </v>" for row in f.cells[k]]
        out += ["    </varray>", "   </crystal>", '   <varray name="positions" >']
        out += ["     <v>" + " ".join(_fmt(v) for v in row) + " </v>" for row in frac]
        out += ["   </varray>", "  </structure>", " </calculation>"]
    out.append("</modeling>")
    path.write_text("\n".join(out) + "\n")


def _write_espresso(f: Frames, path: Path) -> None:
    """pw.x output of a variable-cell MD (``calculation='vc-md'``): the first frame in the
    header (alat units), each later one as ``CELL_PARAMETERS``/``ATOMIC_POSITIONS`` cards
    followed by its SCF energy; the last card is printed again after the run, without one."""
    from ase.units import Bohr

    from solidion.io.espresso import FS_PER_RY_TIME

    alat = float(np.linalg.norm(f.cells[0][0]))
    out = [
        "     Program PWSCF v.7.2 starts on  1Mar2024 at 10: 0: 0 ",
        f"     number of atoms/cell      = {len(f.symbols[0]):12d}",
        f"     number of atomic types    = {len(set(f.symbols[0])):12d}",
        f"     celldm(1)= {alat / Bohr:.10f}  celldm(2)=   0.000000  celldm(3)=   0.000000",
        "     crystal axes: (cart. coord. in units of alat)",
    ]
    for k, row in enumerate(f.cells[0] / alat):
        out.append(f"               a({k + 1}) = ( " + " ".join(_fmt(v) for v in row) + " )  ")
    out += ["", "     site n.     atom                  positions (alat units)"]
    for i, (s, p) in enumerate(zip(f.symbols[0], f.positions[0] / alat, strict=True)):
        out.append(
            f"{i + 1:10d}           {s:<5s}tau({i + 1:4d}) = ( " + " ".join(map(_fmt, p)) + "  )"
        )

    def cards(k: int) -> list[str]:
        lines = ["CELL_PARAMETERS (angstrom)"]
        lines += ["   " + " ".join(_fmt(v) for v in row) for row in f.cells[k]]
        lines += ["", "ATOMIC_POSITIONS (angstrom)"]
        lines += [
            f"{s:<3s} " + " ".join(map(_fmt, p))
            for s, p in zip(f.symbols[k], f.positions[k], strict=True)
        ]
        return [*lines, ""]

    n = len(f.positions)
    dt_ry = DT_FS / FS_PER_RY_TIME
    for t in range(n):
        out += [
            "",
            "     Self-consistent Calculation",
            "",
            "!    total energy              =     -120.00000000 Ry",
            "",
        ]
        if t == 0:
            out += [
                "     Molecular Dynamics Calculation",
                "",
                "     Starting temperature   =   600.00 K",
            ]
            out += [
                f"     Time step             = {dt_ry:8.2f} a.u.,{DT_FS:8.4f} femto-seconds",
                "",
            ]
        out += [f"     Entering Dynamics:    iteration = {t + 1:5d}", ""]
        if t + 1 < n:
            out += cards(t + 1)
        else:
            out += ["     End of molecular dynamics calculation", "", *cards(t)]
    rule = "=" + "-" * 78 + "="
    out += ["     PWSCF        :      1.23s CPU      1.50s WALL", "", rule, "   JOB DONE.", rule]
    path.write_text("\n".join(out) + "\n")


def _cellpar(cell: np.ndarray) -> np.ndarray:
    """a, b, c, α, β, γ (what DCD and NetCDF store: the handedness of the cell is lost)."""
    lengths = np.linalg.norm(cell, axis=1)
    with np.errstate(all="ignore"):
        cos = [cell[1] @ cell[2], cell[0] @ cell[2], cell[0] @ cell[1]] / (
            lengths[[1, 0, 0]] * lengths[[2, 2, 1]]
        )
    return np.concatenate([lengths, np.degrees(np.arccos(np.clip(cos, -1, 1)))])


def _record(payload: bytes) -> bytes:
    """One Fortran unformatted record: length, payload, length (little-endian int32)."""
    n = struct.pack("<i", len(payload))
    return n + payload + n


def _dcd_bytes(f: Frames, title: bytes, delta: float) -> bytes:
    """A CHARMM-layout DCD (as CP2K, NAMD and MDAnalysis write it): header, title, atom count,
    then per frame the cell ``a, γ, b, β, α, c`` (float64) and x, y, z (float32, Å)."""
    n_frames, n_atoms = len(f.positions), len(f.symbols[0])
    header = struct.pack(
        "<4s9if10i", b"CORD", n_frames, f.steps[0], 1, 0, 0, 0, 0, 0, 0, delta, 1, *[0] * 8, 24
    )
    out = [_record(header), _record(struct.pack("<i", 1) + title.ljust(80))]
    out.append(_record(struct.pack("<i", n_atoms)))
    for k in range(n_frames):
        a, b, c, alpha, beta, gamma = _cellpar(f.cells[k])
        out.append(_record(struct.pack("<6d", a, gamma, b, beta, alpha, c)))
        out += [_record(np.asarray(f.positions[k][:, i], dtype="<f4").tobytes()) for i in range(3)]
    return b"".join(out)


def _write_cp2k_dcd(f: Frames, path: Path) -> None:
    """CP2K's DCD: the time step in fs, every MD step stored (``EACH`` = 1)."""
    title = b"REMARK CORD DCD file created by CP2K version 2023.1"
    path.write_bytes(_dcd_bytes(f, title, DT_FS))
    _write_topology(f, path)


def _write_charmm_dcd(f: Frames, path: Path) -> None:
    """A CHARMM/NAMD DCD: the time step in AKMA units (48.9 fs), read through MDAnalysis."""
    from MDAnalysis.units import timeUnit_factor

    akma_fs = 1000.0 / timeUnit_factor["AKMA"]
    path.write_bytes(_dcd_bytes(f, b"REMARKS CREATED BY NAMD fuzz", DT_FS / akma_fs))
    _write_topology(f, path)


def _write_xtc(f: Frames, path: Path) -> None:
    """GROMACS XTC (big-endian XDR, nm and ps), as xdrfile writes it for up to 9 atoms: the
    coordinates uncompressed, so the box matrix and every float are stored as given."""
    out = []
    for k in range(len(f.positions)):
        n = len(f.symbols[k])
        t_ps = f.steps[k] * DT_FS / 10.0 / 1000.0
        out.append(struct.pack(">3if", 1995, n, f.steps[k], t_ps))
        out.append(np.asarray(f.cells[k] / 10.0, dtype=">f4").tobytes())
        out.append(struct.pack(">i", n) + np.asarray(f.positions[k] / 10.0, dtype=">f4").tobytes())
    path.write_bytes(b"".join(out))
    _write_topology(f, path)


def _mda_write(f: Frames, path: Path) -> None:
    """TRR, AMBER NetCDF or (more than 9 atoms) compressed XTC through MDAnalysis's writer:
    it stores what it is given, but the cell only as a, b, c, α, β, γ."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    n = len(f.symbols[0])
    u = mda.Universe.empty(n, trajectory=True)
    u.load_new(np.array(f.positions, dtype=np.float32), format=MemoryReader)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mda.Writer(str(path), n) as w:
            for k, ts in enumerate(u.trajectory):
                ts.dimensions = _cellpar(f.cells[k])
                ts.time = f.steps[k] * DT_FS / 10.0 / 1000.0
                ts.data["step"] = f.steps[k]
                w.write(u.atoms)
    _write_topology(f, path)


@dataclass(frozen=True)
class Case:
    """A format under test: file name, raw writer, what the format can express."""

    format: str
    name: str
    writer: Callable[[Frames, Path], None]
    options: tuple[str, ...] = ()  # CLI options the format needs
    topology: bool = False  # the writer puts TOPOLOGY beside the file: topology=, --topology
    has_time: bool = False
    per_frame_cell: bool = True
    per_frame_atoms: bool = True
    left_handed: bool = True  # False where the file stores a, b, c, α, β, γ only
    binary: bool = False
    cut_warns: bool = False  # a cut file gives its whole frames with a warning (XML)
    atol: float = 1e-6  # how closely the intact file gives the written positions (Å)
    frames: Callable[[], Frames] = Frames.valid  # what the byte-level tests write
    variant: str = ""  # names a second case of the same format

    @property
    def ident(self) -> str:
        return f"{self.format}-{self.variant}" if self.variant else self.format


CASES = [
    Case("extxyz", "t.extxyz", _write_extxyz, has_time=True),
    Case("xdatcar", "XDATCAR", _write_xdatcar, ("--timestep-fs", "10")),
    Case("lammps-dump", "t.dump", _write_lammps, ("--timestep-fs", "10"), has_time=True),
    Case("h5md", "t.h5md", _write_h5md, has_time=True, per_frame_atoms=False, binary=True),
    Case("ase-traj", "t.traj", _write_ase_traj, ("--timestep-fs", "10"), binary=True),
    Case(
        "pymatgen-diffusion",
        "t.json",
        _write_pymatgen_json,
        per_frame_cell=False,
        per_frame_atoms=False,
    ),
    Case("vasprun", "vasprun.xml", _write_vasprun, cut_warns=True),
    Case("espresso-out", "t.pwo", _write_espresso),
    Case(
        "cp2k-dcd",
        "t-pos-1.dcd",
        _write_cp2k_dcd,
        topology=True,
        per_frame_atoms=False,
        left_handed=False,
        binary=True,
    ),
    Case(
        "dcd",
        "t.dcd",
        _write_charmm_dcd,
        topology=True,
        per_frame_atoms=False,
        left_handed=False,
        binary=True,
    ),
    # float32 nm: a few 1e-7 Å off; compared below with what the reader gives the intact file
    Case("xtc", "t.xtc", _write_xtc, topology=True, has_time=True, binary=True, atol=2e-6),
    Case(
        "trr",
        "t.trr",
        _mda_write,
        topology=True,
        has_time=True,
        per_frame_atoms=False,
        left_handed=False,
        binary=True,
    ),
    Case(
        "netcdf",
        "t.ncdf",
        _mda_write,
        topology=True,
        has_time=True,
        per_frame_atoms=False,
        left_handed=False,
        binary=True,
    ),
]
IDS = [c.ident for c in CASES]
#: A compressed XTC (MDAnalysis's writer), for the byte-level tests: xdrfile decodes it bit by
#: bit, trusting every bit.
XTC_COMPRESSED = Case(
    "xtc",
    "z.xtc",
    _mda_write,
    topology=True,
    binary=True,
    frames=Frames.compressible,
    variant="compressed",
)
BYTE_CASES = [*CASES, XTC_COMPRESSED]
#: The formats whose readers are solidion's own, or MDAnalysis's through solidion's checks.
GARBLE_CASES = [
    c for c in BYTE_CASES if c.format in ("vasprun", "espresso-out", "cp2k-dcd", *MDA_FORMATS)
]


def _read(case: Case, path: Path) -> Trajectory:
    kwargs: dict[str, object] = {}
    if "--timestep-fs" in case.options:
        kwargs["timestep_fs"] = DT_FS
    if case.topology:
        kwargs["topology"] = path.parent / TOPOLOGY
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*triclinic cell")  # CP2K DCD: see cp2k.py
        return read_trajectory(path, format=case.format, **kwargs)


def _cli(case: Case, path: Path, out: Path) -> tuple[int, str]:
    options = [*case.options, *(("--topology", str(path.parent / TOPOLOGY)) * case.topology)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["convert", str(path), str(out), "--format", case.format, *options])
    return rc, err.getvalue()


#: Errors already seen through the CLI, per format: (case, message with the folder and the
#: numbers blanked). ``main`` costs 60–80 ms a call (typer builds its commands each time), and
#: where ``convert`` does no more than ``read_trajectory`` and a write, the library's error
#: decides what the CLI prints: each kind of error goes through it once per test process.
#: Streaming formats convert in chunks by another path, so every example of theirs does.
_CLI_SEEN: set[tuple[str, str]] = set()


def _assert_refused(case: Case, path: Path, *, frame: int | None = None, match: str = "") -> None:
    """The library raises TrajectoryError naming the file; the CLI prints one line, exits 2."""
    with pytest.raises(TrajectoryError) as info:
        _read(case, path)
    msg = str(info.value)
    assert path.name in msg, msg
    if frame is not None:
        assert re.search(rf"frame {frame}\b", msg), msg
    if match:
        assert re.search(match, msg, re.IGNORECASE), msg
    kind = (case.ident, re.sub(r"\d+", "#", msg.replace(str(path.parent), "")))
    if case.format not in STREAMING_FORMATS:
        if kind in _CLI_SEEN:
            return
        _CLI_SEEN.add(kind)
    out = path.parent / "out.h5md"
    rc, err = _cli(case, path, out)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert path.name in lines[0]
    assert not out.exists(), "a half-written output file was left behind"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(("out", ".out"))]


# ---------------------------------------------------------------------------------------------
# sanity: the raw writers write files that the readers accept and read back exactly
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_raw_writers_round_trip(case, tmp_path):
    path = tmp_path / case.name
    case.writer(Frames.valid(), path)
    traj = _read(case, path)
    np.testing.assert_allclose(traj.positions, POSITIONS, rtol=0, atol=case.atol)
    assert traj.symbols == SYMBOLS and traj.timestep_fs == pytest.approx(DT_FS)


# ---------------------------------------------------------------------------------------------
# byte level
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Valid:
    """A case's valid file, what its writer put beside it, and what the reader gives for it."""

    data: bytes
    siblings: dict[str, bytes]
    symbols: tuple[str, ...]
    positions: np.ndarray  # the reference for a prefix: XTC's float32 nm are not exactly Å


@functools.cache
def _valid(case: Case) -> Valid:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(case.frames(), path)
        siblings = {p.name: p.read_bytes() for p in Path(d).iterdir() if p != path}
        traj = _read(case, path)
        return Valid(path.read_bytes(), siblings, traj.symbols, traj.positions)


def _place(case: Case, directory: Path, data: bytes) -> Path:
    """Write ``data`` under the case's file name, with the valid file's siblings beside it."""
    for name, blob in _valid(case).siblings.items():
        (directory / name).write_bytes(blob)
    path = directory / case.name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", BYTE_CASES, ids=lambda c: c.ident)
@FUZZ
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_files_give_whole_frames_or_one_error(case, fraction):
    data = _valid(case).data
    cut = int(fraction * len(data))
    with tempfile.TemporaryDirectory() as d:
        path = _place(case, Path(d), data[:cut])
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                traj = _read(case, path)
        except TrajectoryError:
            _assert_refused(case, path)
            return
        # what was read must be whole, unaltered frames: a prefix of the original
        k = traj.n_frames
        assert 1 <= k <= N_FRAMES and traj.symbols == _valid(case).symbols
        np.testing.assert_allclose(traj.positions, _valid(case).positions[:k], rtol=0, atol=1e-6)
        if case.cut_warns and cut < len(data.rstrip()):  # more than the last newline is gone
            assert any("ends inside" in str(w.message) for w in caught), caught


@pytest.mark.parametrize("case", [c for c in CASES if not c.binary], ids=lambda c: c.ident)
@pytest.mark.parametrize("back", [1, 2, 4, 7, 11])
def test_a_cut_inside_the_last_line_is_refused(case, back, tmp_path):
    """A file cut inside its last number still parses; only the missing line end tells."""
    data = _valid(case).data
    path = _place(case, tmp_path, data[: len(data) - back])
    if case.format == "pymatgen-diffusion":  # one JSON document: any cut breaks it
        _assert_refused(case, path, match="JSON")
    elif case.cut_warns:  # XML: the unclosed root tells the cut; every step is complete
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            traj = _read(case, path)
        np.testing.assert_allclose(traj.positions, _valid(case).positions, rtol=0, atol=1e-6)
        warned = any("ends inside" in str(w.message) for w in caught)
        assert warned == (back > 1), caught  # only the newline after </modeling> is gone
    else:
        _assert_refused(case, path, match="middle of a line")


@pytest.mark.parametrize("case", BYTE_CASES, ids=lambda c: c.ident)
@FUZZ
@given(garbage=st.binary(min_size=0, max_size=400))
def test_garbage_gives_one_error(case, garbage):
    with tempfile.TemporaryDirectory() as d:
        _assert_refused(case, _place(case, Path(d), garbage))


#: Reads each ``*.xtc`` of a folder in a fresh interpreter whose allocator checks the heap
#: (glibc ``MALLOC_CHECK_=3``: a write past a buffer aborts at the next free, not some time
#: later or never); prints one JSON line per file.
_XTC_CHILD = """
import gc, json, sys, warnings
from pathlib import Path
from solidion.errors import TrajectoryError
from solidion.io import read_trajectory
folder = Path(sys.argv[1])
for path in sorted(folder.glob("*.xtc")):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = read_trajectory(path, topology=folder / "top.xyz")
        out = {"file": path.name, "shape": list(t.positions.shape)}
    except TrajectoryError as exc:
        out = {"file": path.name, "error": str(exc)}
    gc.collect()
    print(json.dumps(out), flush=True)
"""


def _xtc_streams(data: bytes) -> list[tuple[int, int]]:
    """Byte offset and length of each frame's compressed coordinates in a valid XTC."""
    out, pos = [], 0
    while pos < len(data):
        n_bytes = struct.unpack(">i", data[pos + 88 : pos + 92])[0]
        out.append((pos + 92, n_bytes))
        pos += 92 + (n_bytes + 3) // 4 * 4
    return out


def test_flipped_bits_in_compressed_xtc_never_crash_the_interpreter(tmp_path):
    """One flipped bit in a compressed XTC frame: a clear error naming that frame, or (a bit of
    a coordinate) other numbers; the interpreter survives with its heap intact. Before the
    reader walked the bit streams, a third of such flips made MDAnalysis's xdrfile write past
    its buffers (a segmentation fault, or a heap that aborts later)."""
    valid = _valid(XTC_COMPRESSED)
    streams = _xtc_streams(valid.data)
    assert len(streams) == N_FRAMES
    rng = np.random.default_rng(2024)  # 40 fixed flips, the same on every machine
    flips = []
    for k in range(40):
        frame = k % N_FRAMES
        start, n_bytes = streams[frame]
        flips.append((frame, start + int(rng.integers(n_bytes)), int(rng.integers(8))))
    for name, blob in valid.siblings.items():
        (tmp_path / name).write_bytes(blob)
    for k, (_, byte, bit) in enumerate(flips):
        data = bytearray(valid.data)
        data[byte] ^= 1 << bit
        (tmp_path / f"flip{k:02d}.xtc").write_bytes(bytes(data))
    env = {**os.environ, "MALLOC_CHECK_": "3"}
    run = subprocess.run(
        [sys.executable, "-c", _XTC_CHILD, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"the interpreter died ({run.returncode}): {run.stderr[-2000:]}"
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(flips)
    refused = 0
    for (frame, _, _), res in zip(flips, results, strict=True):
        if "error" in res:
            refused += 1
            assert res["file"] in res["error"], res
            assert re.search(rf"frame {frame}\b", res["error"]), (frame, res)
        else:
            assert res["shape"] == [N_FRAMES, len(valid.symbols), 3], res
    assert refused >= 5, "no flipped control bit was caught: the stream walk is not running"


@pytest.mark.parametrize("case", GARBLE_CASES, ids=lambda c: c.ident)
@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    )
)
def test_changed_bytes_give_frames_or_one_error_never_a_crash(case, changes):
    """A few bytes changed anywhere (a disk or transfer error). Formats without checksums may
    read as other numbers; but never a crash: MDAnalysis's XTC decoder trusts every bit, and
    used to write past its buffers (see :func:`solidion.io.mdanalysis._walk_xtc_streams`)."""
    data = bytearray(_valid(case).data)
    for where, value in changes:
        data[int(where * len(data))] = value
    with tempfile.TemporaryDirectory() as d:
        path = _place(case, Path(d), bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a cut frame, a temperature ramp, ...
                traj = _read(case, path)
        except TrajectoryError:
            _assert_refused(case, path)
            return
        assert traj.n_atoms == len(_valid(case).symbols) and 1 <= traj.n_frames <= N_FRAMES


# ---------------------------------------------------------------------------------------------
# semantic
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(
    frame=st.integers(0, N_FRAMES - 1),
    atom=st.integers(0, len(SYMBOLS) - 1),
    axis=st.integers(0, 2),
    value=st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_non_finite_coordinates(case, frame, atom, axis, value):
    f = Frames.valid()
    f.positions[frame][atom, axis] = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, frame=frame, match="NaN|infinite|finite")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(frame=st.integers(0, N_FRAMES - 1), kind=st.sampled_from(["zero", "left"]))
def test_degenerate_and_left_handed_cells(case, frame, kind):
    assume(case.left_handed or kind == "zero")  # a, b, c, α, β, γ hold no handedness
    f = Frames.valid()
    if not case.per_frame_cell:
        frame = 0
        frames = range(N_FRAMES)
    else:
        frames = [frame]
    for k in frames:
        c = f.cells[k]
        if kind == "zero":
            c[2] = c[0] + c[1]  # coplanar lattice vectors
        else:
            c[2, 2] = -c[2, 2]  # left-handed
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, match="singular|volume|left-handed|cell|box|edge")


@pytest.mark.parametrize("case", [c for c in CASES if c.has_time], ids=lambda c: c.ident)
@FUZZ
@given(frame=st.integers(1, N_FRAMES - 1), kind=st.sampled_from(["duplicate", "backwards"]))
def test_duplicated_or_decreasing_times(case, frame, kind):
    f = Frames.valid()
    f.steps[frame] = f.steps[frame - 1] if kind == "duplicate" else f.steps[frame - 1] - 5
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, frame=frame, match="increas|time|step")


@pytest.mark.parametrize("case", [c for c in CASES if c.per_frame_atoms], ids=lambda c: c.ident)
@FUZZ
@given(frame=st.integers(1, N_FRAMES - 1), drop=st.integers(0, len(SYMBOLS) - 1))
def test_atom_count_changing_between_frames(case, frame, drop):
    f = Frames.valid()
    f.symbols[frame] = [s for i, s in enumerate(f.symbols[frame]) if i != drop]
    f.positions[frame] = np.delete(f.positions[frame], drop, axis=0)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, frame=frame, match="atom|count")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(atom=st.integers(0, len(SYMBOLS) - 1), bad=st.sampled_from(["Xx", "Qq", "X"]))
def test_unknown_species(case, atom, bad):
    f = Frames.valid()
    for syms in f.symbols:
        syms[atom] = bad
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, match="element|species|atomic number|symbol")

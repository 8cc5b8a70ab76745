"""Every reader, fuzzed: broken files give one clear error, never a traceback or a half-file.

Two layers:

* **Byte level** (hypothesis): a valid file of each format, truncated at a random byte offset,
  or replaced by random garbage. A truncated file may still hold whole frames; then the reader
  must return exactly those frames (a prefix of the original, to 1e-6 Å). Otherwise it raises
  :class:`TrajectoryError` naming the file.
* **Semantic** (hypothesis picks the frame, atom and value): NaN or infinite coordinates,
  zero-volume and left-handed cells, duplicated or non-increasing times, an atom count that
  changes between frames, unknown species. Each is written by a small raw writer per format
  (the library's writers refuse such data) and must raise :class:`TrajectoryError` naming the
  file, and the frame where one is at fault.

Through the CLI every case is one ``error:`` line naming the file, exit status 2, and no output
file. Hypothesis runs derandomized, so the examples are the same on every machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solidion.cli import main
from solidion.errors import TrajectoryError
from solidion.io import read_trajectory
from solidion.trajectory import Trajectory

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
        pos.create_dataset("time", data=np.array(f.steps) * DT_FS / 10.0 / 1000.0).attrs[
            "unit"
        ] = "ps"
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


@dataclass(frozen=True)
class Case:
    """A format under test: file name, raw writer, what the format can express."""

    format: str
    name: str
    writer: Callable[[Frames, Path], None]
    options: tuple[str, ...] = ()  # CLI options the format needs
    has_time: bool = False
    per_frame_cell: bool = True
    per_frame_atoms: bool = True
    binary: bool = False


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
]
IDS = [c.format for c in CASES]


def _read(case: Case, path: Path) -> Trajectory:
    kwargs = {}
    if "--timestep-fs" in case.options:
        kwargs["timestep_fs"] = DT_FS
    return read_trajectory(path, format=case.format, **kwargs)


def _cli(case: Case, path: Path, out: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["convert", str(path), str(out), "--format", case.format, *case.options])
    return rc, err.getvalue()


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
    np.testing.assert_allclose(traj.positions, POSITIONS, atol=1e-6)
    assert traj.symbols == SYMBOLS and traj.timestep_fs == pytest.approx(DT_FS)


# ---------------------------------------------------------------------------------------------
# byte level
# ---------------------------------------------------------------------------------------------
def _valid_bytes(case: Case) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(Frames.valid(), path)
        return path.read_bytes()


_VALID = {c.format: _valid_bytes(c) for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_files_give_whole_frames_or_one_error(case, fraction):
    data = _VALID[case.format]
    cut = int(fraction * len(data))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        path.write_bytes(data[:cut])
        try:
            traj = _read(case, path)
        except TrajectoryError:
            _assert_refused(case, path)
            return
        # what was read must be whole, unaltered frames: a prefix of the original
        k = traj.n_frames
        assert 1 <= k <= N_FRAMES and traj.symbols == SYMBOLS
        np.testing.assert_allclose(traj.positions, POSITIONS[:k], atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if not c.binary], ids=lambda c: c.format)
@pytest.mark.parametrize("back", [1, 2, 4, 7, 11])
def test_a_cut_inside_the_last_line_is_refused(case, back, tmp_path):
    """A file cut inside its last number still parses; only the missing line end tells."""
    data = _VALID[case.format]
    path = tmp_path / case.name
    path.write_bytes(data[: len(data) - back])
    if case.format == "pymatgen-diffusion":  # one JSON document: any cut breaks it
        _assert_refused(case, path, match="JSON")
    else:
        _assert_refused(case, path, match="middle of a line")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(garbage=st.binary(min_size=0, max_size=400))
def test_garbage_gives_one_error(case, garbage):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        path.write_bytes(garbage)
        _assert_refused(case, path)


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


@pytest.mark.parametrize("case", [c for c in CASES if c.has_time], ids=lambda c: c.format)
@FUZZ
@given(frame=st.integers(1, N_FRAMES - 1), kind=st.sampled_from(["duplicate", "backwards"]))
def test_duplicated_or_decreasing_times(case, frame, kind):
    f = Frames.valid()
    f.steps[frame] = f.steps[frame - 1] if kind == "duplicate" else f.steps[frame - 1] - 5
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / case.name
        case.writer(f, path)
        _assert_refused(case, path, frame=frame, match="increas|time|step")


@pytest.mark.parametrize("case", [c for c in CASES if c.per_frame_atoms], ids=lambda c: c.format)
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

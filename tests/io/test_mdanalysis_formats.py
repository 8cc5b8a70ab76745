"""DCD/XTC/TRR/NetCDF through MDAnalysis (optional extra), and ``solidion formats``.

The files are written by MDAnalysis's own writers from a Universe built here, with PDB and GRO
topologies written by MDAnalysis too; solidion's reading is checked against MDAnalysis reading
the same files (XTC is lossy, 0.001 nm: compared to MDAnalysis's read-back, not to the input).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from solidion.cli import main
from solidion.errors import FormatError, TrajectoryError
from solidion.io import FORMATS, detect_format, extra_available, read_trajectory
from solidion.trajectory import unwrap_positions

mda = pytest.importorskip("MDAnalysis")

N_FRAMES = 9
SYMBOLS = ("Li",) * 8 + ("Cl",) * 8  # > 9 atoms: XTC compresses
BOX = np.array([10.28, 10.28, 10.28, 90.0, 90.0, 90.0])
DT_PS = 0.01


def _walk() -> np.ndarray:
    """Unwrapped positions (Å), Li fast enough to cross the box faces; float32 like the files."""
    rng = np.random.default_rng(3)
    start = rng.uniform(0.0, 10.28, size=(len(SYMBOLS), 3))
    steps = rng.normal(0.0, 0.25, size=(N_FRAMES, len(SYMBOLS), 3))
    steps[0] = 0.0
    steps[1:, :8, 0] += 0.9
    return (start + np.cumsum(steps, axis=0)).astype(np.float32)


def _universe(names, positions: np.ndarray, dimensions, elements=None):
    from MDAnalysis.coordinates.memory import MemoryReader

    n = len(names)
    u = mda.Universe.empty(
        n, n_residues=n, atom_resindex=np.arange(n), residue_segindex=[0] * n, trajectory=True
    )
    u.add_TopologyAttr("names", list(names))
    u.add_TopologyAttr("resnames", ["ION"] * n)
    if elements is not None:
        u.add_TopologyAttr("elements", list(elements))
    u.load_new(positions, format=MemoryReader, dt=DT_PS, dimensions=dimensions)
    return u


def _write(u, path: Path, times=None, **kw) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mda.Writer(str(path), u.atoms.n_atoms, **kw) as w:
            for i, ts in enumerate(u.trajectory):
                if times is not None:
                    ts.time = times[i]
                w.write(u.atoms)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("mda")
    wrapped = _walk() % np.float32(10.28)
    names = ["LI"] * 8 + ["CL"] * 8
    u = _universe(names, wrapped, BOX, elements=SYMBOLS)
    out = {"pdb": d / "top.pdb", "gro": d / "top.gro"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(out["pdb"]))
        u.atoms.write(str(out["gro"]))
    out["dcd"] = _write(u, d / "run.dcd", dt=DT_PS)
    for ext in ("xtc", "trr", "ncdf"):
        out[ext] = _write(u, d / f"run.{ext}")
    ow = _universe(["OW", "HW1", *names[2:]], wrapped, BOX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ow.atoms.write(str(d / "water.gro"))
    out["water_gro"] = d / "water.gro"
    out["uneven"] = _write(u, d / "uneven.xtc", times=[0, 1, 2, 3, 5, 6, 7, 8, 9])
    out["lammps"] = _write(u, d / "lammps.dcd", dt=DT_PS, remarks="Created by LAMMPS at 2024")
    nobox = _universe(names, wrapped, None)
    out["nobox"] = _write(nobox, d / "nobox.xtc")
    return out


def _mda_unwrapped(topology: Path, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MDAnalysis's own reading: positions unwrapped the same way, cells, times (ps)."""
    from MDAnalysis.lib.mdamath import triclinic_vectors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(topology), str(path))
        pos = np.stack([ts.positions.astype(np.float64) for ts in u.trajectory])
        cells = np.stack([triclinic_vectors(ts.dimensions) for ts in u.trajectory])
        times = np.array([ts.time for ts in u.trajectory])
    return unwrap_positions(pos, cells), cells, times


@pytest.mark.parametrize("ext", ["dcd", "xtc", "trr", "ncdf"])
def test_matches_mdanalysis_reading_the_same_file(files, ext):
    t = read_trajectory(files[ext], topology=files["pdb"])
    pos, cells, times = _mda_unwrapped(files["pdb"], files[ext])
    np.testing.assert_allclose(t.positions, pos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.cells, cells, rtol=0, atol=1e-6)
    assert t.symbols == SYMBOLS and t.n_frames == N_FRAMES
    assert t.timestep_fs == pytest.approx(DT_PS * 1000, rel=1e-6)
    assert times[-1] == pytest.approx((N_FRAMES - 1) * DT_PS, rel=1e-6)
    assert not t.variable_cell
    assert t.metadata["topology"] == str(files["pdb"])


def test_known_answer_dcd_is_the_walk(files):
    """DCD keeps float32 coordinates: the unwrapped path is the walk it was written from."""
    t = read_trajectory(files["dcd"], topology=files["pdb"])
    truth = _walk().astype(np.float64)
    assert (np.floor(truth / BOX[0]) != np.floor(truth[0] / BOX[0])).any()  # atoms cross faces
    np.testing.assert_allclose(t.positions - t.positions[0], truth - truth[0], atol=2e-5)


def test_xtc_is_lossy_but_equals_mdanalysis_readback(files):
    t = read_trajectory(files["xtc"], topology=files["pdb"])
    truth = _walk().astype(np.float64)
    err = np.abs((t.positions - t.positions[0]) - (truth - truth[0])).max()
    assert 1e-5 < err < 0.011  # 0.001 nm precision


def test_formats_by_name(files):
    assert [detect_format(files[e]) for e in ("dcd", "xtc", "trr", "ncdf")] == [
        "dcd",
        "xtc",
        "trr",
        "netcdf",
    ]
    t = read_trajectory(files["trr"], format="mdanalysis", topology=files["pdb"])
    assert t.n_frames == N_FRAMES and t.metadata["mdanalysis_format"] == "TRRReader"


def test_gro_names_spell_elements(files):
    """A GRO topology has no elements: names LI and CL give Li and Cl."""
    t = read_trajectory(files["xtc"], topology=files["gro"])
    assert t.symbols == SYMBOLS


def test_names_that_are_not_elements_need_type_map(files):
    with pytest.raises(TrajectoryError, match=r"run.xtc: cannot tell the element.*'OW'.*type_map"):
        read_trajectory(files["xtc"], topology=files["water_gro"])
    t = read_trajectory(files["xtc"], topology=files["water_gro"], type_map={"OW": "O", "HW1": "H"})
    assert t.symbols[:3] == ("O", "H", "Li")


def test_integer_type_map_for_numeric_names(files, tmp_path):
    wrapped = _walk() % np.float32(10.28)
    u = _universe(["1"] * 8 + ["2"] * 8, wrapped[:1], BOX)
    top = tmp_path / "numeric.gro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(top))
    t = read_trajectory(files["xtc"], topology=top, type_map={1: "Li", 2: "Cl"})
    assert t.symbols == SYMBOLS


def test_topology_is_required_and_must_exist(files, tmp_path):
    with pytest.raises(TrajectoryError, match=r"run.xtc: MDAnalysis needs .*topology="):
        read_trajectory(files["xtc"])
    with pytest.raises(TrajectoryError, match=r"nothere.pdb: topology file not found"):
        read_trajectory(files["xtc"], topology=tmp_path / "nothere.pdb")


def test_mismatched_or_garbled_files(files, tmp_path):
    bad = tmp_path / "bad.xtc"
    bad.write_bytes(b"\x00\x00\x07\xcb" + b"garbage" * 20)
    with pytest.raises(TrajectoryError, match=r"bad.xtc"):
        read_trajectory(bad, topology=files["pdb"])
    small = tmp_path / "small.gro"
    u = _universe(["LI", "CL"], _walk()[:1, :2], BOX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(small))
    with pytest.raises(
        TrajectoryError, match=r"run.xtc: MDAnalysis cannot read it with the topology"
    ):
        read_trajectory(files["xtc"], topology=small)


def test_xtc_cut_or_garbled_later(files, tmp_path):
    """A cut last frame is dropped with a warning; a garbled frame header is named (MDAnalysis
    alone would crash the interpreter on garbage atom counts)."""
    data = files["xtc"].read_bytes()
    full = read_trajectory(files["xtc"], topology=files["pdb"])
    cut = tmp_path / "cut.xtc"
    cut.write_bytes(data[:-30])
    with pytest.warns(UserWarning, match=r"cut.xtc: the file ends inside frame 8"):
        t = read_trajectory(cut, topology=files["pdb"])
    np.testing.assert_array_equal(t.positions, full.positions[:8])
    starts = [0]  # compressed frames: 92 header bytes, then the byte count rounded up to 4
    for _ in range(N_FRAMES - 1):
        n_bytes = int.from_bytes(data[starts[-1] + 88 : starts[-1] + 92], "big")
        starts.append(starts[-1] + 92 + (n_bytes + 3) // 4 * 4)
    assert all(data[i : i + 4] == b"\x00\x00\x07\xcb" for i in starts)  # XTC magic 1995
    bad = bytearray(data)
    bad[starts[3] + 4 : starts[3] + 8] = b"garb"  # frame 3's atom count
    path = tmp_path / "bad3.xtc"
    path.write_bytes(bytes(bad))
    with pytest.raises(TrajectoryError, match=r"bad3.xtc, frame 3: not an XTC frame"):
        read_trajectory(path, topology=files["pdb"])


def test_uneven_times_name_the_frame(files):
    with pytest.raises(TrajectoryError, match=r"uneven.xtc, frame 4: the frame times are not even"):
        read_trajectory(files["uneven"], topology=files["pdb"])
    assert read_trajectory(files["uneven"], topology=files["pdb"], timestep_fs=7.0).timestep_fs == 7


def test_lammps_dcd_needs_timestep(files):
    with pytest.raises(TrajectoryError, match=r"lammps.dcd: a LAMMPS DCD .*pass timestep_fs"):
        read_trajectory(files["lammps"], topology=files["pdb"])
    t = read_trajectory(files["lammps"], topology=files["pdb"], timestep_fs=2.0)
    assert t.timestep_fs == 2.0 and t.n_frames == N_FRAMES


def test_frame_without_a_box(files):
    with pytest.raises(TrajectoryError, match=r"nobox.xtc, frame 0: no periodic box"):
        read_trajectory(files["nobox"], topology=files["pdb"])


# -- the optional extra ------------------------------------------------------------------------


def test_missing_extra_says_how_to_install(files, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "MDAnalysis", None)  # import MDAnalysis now fails
    assert not extra_available("mdanalysis") and not FORMATS["xtc"].available
    with pytest.raises(FormatError, match=r"run.xtc: .*pip install 'solidion\[mdanalysis\]'"):
        read_trajectory(files["xtc"], topology=files["pdb"])
    assert main(["info", str(files["xtc"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'solidion[mdanalysis]'" in err
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    xtc = next(ln for ln in out.splitlines() if ln.startswith("xtc "))
    assert "[mdanalysis] missing" in xtc
    assert "pip install 'solidion[mdanalysis]'" in out.splitlines()[-1]


def test_formats_command_lists_every_format_and_its_extra(capsys):
    assert main(["formats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    for name in FORMATS:
        assert name in rows
    for name in ("dcd", "xtc", "trr", "netcdf", "mdanalysis"):
        assert "[mdanalysis] installed" in rows[name]
    for name in ("vasprun", "espresso-out", "cp2k-dcd", "extxyz"):
        assert FORMATS[name].extra is None and " - " in rows[name]
    assert not any("pip install" in ln for ln in lines)
    assert FORMATS["xtc"].install_hint == "pip install 'solidion[mdanalysis]'"
    assert FORMATS["vasprun"].install_hint is None

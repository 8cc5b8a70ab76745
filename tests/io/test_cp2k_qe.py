"""Quantum ESPRESSO pw.x MD output and CP2K DCD: peers (ASE, MDAnalysis), known answers, errors."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from solidion.cli import main
from solidion.errors import TrajectoryError
from solidion.io import cp2k, detect_format, espresso, read_trajectory
from solidion.trajectory import unwrap_positions

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
PWO = DATA / "espresso_md.pwo"
DCD = DATA / "cp2k_md-pos-1.dcd"
XYZ = DATA / "cp2k_md.xyz"
TRICLINIC = np.array([[5.14, 0.0, 0.0], [0.3, 5.14, 0.0], [0.0, 0.0, 5.14]])


def _generator():
    spec = importlib.util.spec_from_file_location("make_formats", DATA / "make_formats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def _read_quiet(path: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test cell is triclinic
        return cp2k.read(path, topology=XYZ, **kw)


def _dcd(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test cell is triclinic
        return cp2k.read(DCD, topology=XYZ, **kw)


# -- Quantum ESPRESSO ------------------------------------------------------------------------


def test_pw_md_matches_ase_and_the_walk():
    import ase.io

    t = espresso.read(PWO)
    frames = ase.io.read(PWO, index=":", format="espresso-out")
    cart = np.stack([a.get_positions() for a in frames])
    cells = np.stack([a.cell[:] for a in frames])
    np.testing.assert_allclose(t.positions, unwrap_positions(cart, cells), rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.cells, cells, rtol=0, atol=1e-6)
    # Known answer: the walk the file was written from; the last printed configuration has no
    # SCF after it (as pw.x writes it), so there are as many frames as SCF runs.
    truth = GEN.random_walk_frac(8, seed=6, step=0.02) @ (np.eye(3) * GEN.A_LICL)
    assert t.n_frames == 8 == PWO.read_text().count("!    total energy")
    np.testing.assert_allclose(t.positions, truth, rtol=0, atol=1e-6)
    assert t.symbols == GEN.SYMBOLS


def test_pw_md_timestep_and_temperature():
    t = read_trajectory(PWO)
    # dt = 20 Rydberg atomic units = 20 × 2 ħ/E_h = 0.967554 fs
    assert t.timestep_fs == pytest.approx(20 * 2 * 2.4188843265857e-2, rel=1e-8)
    assert t.temperature_K == 600.0
    assert detect_format("md.pwo") == "espresso-out"


def test_pw_rounded_au_uses_the_fs_value(tmp_path):
    text = PWO.read_text().replace("0.9676 femto-seconds", "0.9690 femto-seconds")
    path = tmp_path / "md.pwo"
    path.write_text(text)
    assert espresso.read(path).timestep_fs == pytest.approx(0.969, abs=1e-12)


def test_pw_restart_without_time_step_needs_timestep(tmp_path):
    text = "".join(ln for ln in PWO.read_text().splitlines(True) if "Time step" not in ln)
    path = tmp_path / "md.pwo"
    path.write_text(text)
    with pytest.raises(TrajectoryError, match=r"md.pwo: no 'Time step' line.*pass timestep_fs"):
        espresso.read(path)
    assert espresso.read(path, timestep_fs=2.0).timestep_fs == 2.0


def test_pw_not_md(tmp_path):
    text = "".join(
        ln
        for ln in PWO.read_text().splitlines(True)
        if "Entering Dynamics" not in ln and "Molecular Dynamics" not in ln
    )
    path = tmp_path / "scf.pwo"
    path.write_text(text)
    with pytest.raises(TrajectoryError, match=r"scf.pwo: not a molecular-dynamics run"):
        espresso.read(path)
    path.write_text("hello\n")
    with pytest.raises(TrajectoryError, match=r"scf.pwo: not a pw.x output"):
        espresso.read(path)


def test_pw_truncated_inside_an_scf_gives_the_complete_frames(tmp_path):
    text = PWO.read_text()
    after = text.index("Entering Dynamics:    iteration =     5")
    cut = text.index("End of self-consistent calculation", after)
    path = tmp_path / "md.pwo"
    path.write_text(text[:cut])
    t = espresso.read(path)
    assert t.n_frames == 5
    np.testing.assert_allclose(t.positions, espresso.read(PWO).positions[:5], rtol=0, atol=1e-12)


def test_pw_garbled_positions_name_the_file(tmp_path):
    text = PWO.read_text()
    i = text.index("ATOMIC_POSITIONS (angstrom)", text.index("iteration =     3"))
    j = text.index("\n", i) + 1
    path = tmp_path / "md.pwo"
    path.write_text(text[:j] + "Li  0.1  zzz  0.3\n" + text[text.index("\n", j) + 1 :])
    with pytest.raises(TrajectoryError, match=r"md.pwo.*cannot parse as pw.x output"):
        espresso.read(path)


# -- CP2K DCD --------------------------------------------------------------------------------


def test_cp2k_dcd_matches_ase_mdanalysis_and_the_walk():
    import ase.io
    import MDAnalysis as mda

    t = _dcd()
    ref = ase.io.read(XYZ)
    frames = ase.io.read(DCD, index=":", format="cp2k-dcd", ref_atoms=ref, aligned=True)
    cart = np.stack([a.get_positions() for a in frames])
    np.testing.assert_allclose(t.positions, unwrap_positions(cart, frames[0].cell[:]), atol=1e-6)
    np.testing.assert_allclose(t.cell, frames[0].cell[:], rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.cell, TRICLINIC, rtol=0, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(XYZ), str(DCD))
        md = np.stack([ts.positions.astype(np.float64) for ts in u.trajectory])
    np.testing.assert_allclose(t.positions, unwrap_positions(md, TRICLINIC), rtol=0, atol=1e-6)
    # Known answer: the generator's walk, stored as float32 (≈ 5e-7 relative).
    truth = GEN.random_walk_frac(7, seed=7) @ TRICLINIC
    np.testing.assert_allclose(t.positions, truth, rtol=0, atol=1e-5)
    assert t.symbols == GEN.SYMBOLS


def test_cp2k_timestep_is_dt_times_each_from_the_header():
    t = _dcd()
    assert t.timestep_fs == 1.0  # TIMESTEP 0.5 fs × EACH MD 2
    assert t.metadata["md_timestep_fs"] == 0.5 and t.metadata["steps_per_frame"] == 2
    assert t.temperature_K is None
    assert _dcd(timestep_fs=4.0, temperature_K=500.0).timestep_fs == 4.0


def test_mdanalysis_would_take_cp2k_dt_for_akma_so_dcd_routes_here(monkeypatch):
    """MDAnalysis reads CP2K's fs as CHARMM AKMA (48.9 fs); the ``dcd`` format sends it here,
    and needs no MDAnalysis for it."""
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mda.Universe(str(XYZ), str(DCD)).trajectory.dt == pytest.approx(0.0488882, 1e-5)
    monkeypatch.setitem(sys.modules, "MDAnalysis", None)
    with pytest.warns(UserWarning, match="triclinic"):
        t = read_trajectory(DCD, topology=XYZ)
    assert detect_format(DCD) == "dcd" and t.timestep_fs == 1.0
    np.testing.assert_array_equal(t.positions, _dcd().positions)


def test_triclinic_cell_warns_about_the_frame():
    with pytest.warns(UserWarning, match=r"triclinic cell.*DCD_ALIGNED_CELL"):
        cp2k.read(DCD, topology=XYZ)


def test_cp2k_needs_a_matching_topology(tmp_path):
    with pytest.raises(
        TrajectoryError, match=r"pos-1.dcd: a CP2K DCD stores no elements.*topology="
    ):
        cp2k.read(DCD)
    with pytest.raises(TrajectoryError, match=r"missing.xyz: topology file not found"):
        cp2k.read(DCD, topology=tmp_path / "missing.xyz")
    short = tmp_path / "short.xyz"
    short.write_text("2\n\nLi 0 0 0\nCl 1 1 1\n")
    with pytest.raises(TrajectoryError, match=r"has 2 atoms, the DCD 8"):
        cp2k.read(DCD, topology=short)


def test_cp2k_truncated_and_garbled(tmp_path):
    data = DCD.read_bytes()
    frame = 80 + 12 * 8
    path = tmp_path / "x-pos-1.dcd"
    path.write_bytes(data[: len(data) - frame // 2])  # cut inside the last frame
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = cp2k.read(path, topology=XYZ)
    assert any("ends inside a frame; using its 6 complete" in str(w.message) for w in caught)
    np.testing.assert_array_equal(t.positions, _dcd().positions[:6])
    bad = bytearray(data)
    h = cp2k.read_dcd_header(DCD)
    assert h is not None
    bad[h.size + 3 * frame + 56] = 7  # the x record marker of frame 3
    path.write_bytes(bytes(bad))
    with pytest.raises(TrajectoryError, match=r"x-pos-1.dcd, frame 3: garbled frame"):
        _read_quiet(path)
    path.write_bytes(data[: h.size])
    with pytest.raises(TrajectoryError, match=r"no complete frame"):
        _read_quiet(path)
    path.write_bytes(b"not a dcd at all")
    with pytest.raises(TrajectoryError, match=r"not a DCD file"):
        cp2k.read(path, topology=XYZ)


def test_cli_reads_pw_output_and_errors_in_one_line(tmp_path, capsys):
    assert main(["info", str(PWO)]) == 0
    assert "8 frames" in capsys.readouterr().out
    assert main(["info", str(DCD), "--format", "cp2k-dcd"]) == 2  # no --topology in the CLI
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "topology=" in err and str(DCD) in err

"""VASP vasprun.xml reader: peers (pymatgen, ASE), known answers, time step rules, bad input."""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from solidion.cli import main
from solidion.errors import TrajectoryError
from solidion.io import detect_format, read_trajectory
from solidion.io.vasprun import read
from solidion.trajectory import unwrap_positions

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
AIMD = DATA / "vasprun.xml"
NPT = DATA / "vasprun_npt.xml"
MLFF = DATA / "vasprun_mlff.xml"


def _generator():
    spec = importlib.util.spec_from_file_location("make_formats", DATA / "make_formats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def _pymatgen_unwrapped(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """pymatgen's frames of the same file, Cartesian, unwrapped the same way; and its cells."""
    from pymatgen.io.vasp import Vasprun

    v = Vasprun(path, parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    structures = [d["structure"] for d in v.md_data] if v.md_data else v.structures
    cells = np.stack([s.lattice.matrix for s in structures])
    cart = np.stack([s.cart_coords for s in structures])
    symbols = [site.specie.symbol for site in structures[0]]
    return unwrap_positions(cart, cells), cells, symbols


def _quiet_read(path: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path, **kw)


@pytest.mark.parametrize("path", [AIMD, NPT, MLFF], ids=lambda p: p.name)
def test_positions_and_cells_match_pymatgen(path):
    t = _quiet_read(path)
    pos, cells, symbols = _pymatgen_unwrapped(path)
    assert list(t.symbols) == symbols
    assert t.n_frames == len(pos)
    np.testing.assert_allclose(t.positions, pos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.cells, cells, rtol=0, atol=1e-6)


@pytest.mark.parametrize("path", [AIMD, NPT], ids=lambda p: p.name)
def test_positions_match_ase(path):
    import ase.io

    t = _quiet_read(path)
    frames = ase.io.read(path, index=":", format="vasp-xml")
    cart = np.stack([a.get_positions() for a in frames])
    cells = np.stack([a.cell[:] for a in frames])
    np.testing.assert_allclose(t.positions, unwrap_positions(cart, cells), rtol=0, atol=1e-6)


def test_known_answer_is_the_generators_unwrapped_walk():
    """Fixed cell: the unwrapped path is the walk the file was written from (8 decimals)."""
    t = read(AIMD)
    frac = GEN.random_walk_frac(12, seed=1)
    assert (np.floor(frac) != 0).sum() > 5  # atoms cross the faces: the file's are wrapped
    truth = frac @ (np.eye(3) * GEN.A_LICL)
    np.testing.assert_allclose(t.positions, truth, rtol=0, atol=1e-6)


def test_timestep_is_potim_not_nblock_and_temperature_is_tebeg():
    t = read(AIMD)
    assert t.timestep_fs == 2.0  # POTIM; NBLOCK = 5 thins XDATCAR, not vasprun.xml
    assert t.temperature_K == 600.0
    assert not t.variable_cell
    assert t.metadata["nblock"] == 5 and t.metadata["steps_per_frame"] == 1
    assert t.metadata["vasp_version"] == "6.3.2"


def test_npt_cell_per_frame_and_ramp_warns():
    with pytest.warns(UserWarning, match=r"TEBEG = 500 K but TEEND = 700 K"):
        t = read(NPT)
    assert t.variable_cell and t.cell.shape == (10, 3, 3)
    assert t.temperature_K == 500.0 and t.timestep_fs == 1.5
    assert t.metadata["teend_K"] == 700.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read(NPT, temperature_K=650.0).temperature_K == 650.0


def test_mlff_steps_and_ml_outblock():
    """ML force-field steps are top-level <structure> groups; ASE finds none of them."""
    import ase.io

    t = read(MLFF)
    assert t.n_frames == 9
    assert t.timestep_fs == 10.0  # POTIM 1 fs × ML_OUTBLOCK 10 (VASP 6.4.3)
    assert t.metadata["steps_per_frame"] == 10
    assert ase.io.read(MLFF, index=":", format="vasp-xml") == []


def test_ml_outblock_before_vasp_643_is_ignored(tmp_path):
    frac = GEN.random_walk_frac(4, seed=9)
    cells = np.broadcast_to(np.eye(3) * GEN.A_LICL, (4, 3, 3))
    text = GEN.vasprun_xml(
        GEN.SYMBOLS,
        frac,
        cells,
        potim=1.0,
        tebeg=800,
        teend=800,
        nblock=1,
        version="6.4.2",
        mlff_outblock=10,
    )
    (tmp_path / "vasprun.xml").write_text(text)
    assert read(tmp_path / "vasprun.xml").timestep_fs == 1.0


def test_ml_outblock_outside_prediction_mode_warns(tmp_path):
    frac = GEN.random_walk_frac(4, seed=9)
    cells = np.broadcast_to(np.eye(3) * GEN.A_LICL, (4, 3, 3))
    text = GEN.vasprun_xml(
        GEN.SYMBOLS,
        frac,
        cells,
        potim=1.0,
        tebeg=800,
        teend=800,
        nblock=1,
        version="6.4.3",
        mlff_outblock=10,
        ml_mode="train",
    )
    (tmp_path / "vasprun.xml").write_text(text)
    with pytest.warns(UserWarning, match=r"ML_OUTBLOCK = 10 but ML_MODE = train"):
        assert read(tmp_path / "vasprun.xml").timestep_fs == 1.0


def test_arguments_override_the_file():
    t = read(AIMD, timestep_fs=5.0, temperature_K=700.0)
    assert t.timestep_fs == 5.0 and t.temperature_K == 700.0


def test_registry_names_and_gzip(tmp_path):
    for name in ("vasprun.xml", "vasprun_npt.xml", "vasprun.xml.gz", "VASPRUN.XML"):
        assert detect_format(name) == "vasprun"
    gz = tmp_path / "vasprun.xml.gz"
    gz.write_bytes(gzip.compress(AIMD.read_bytes()))
    a, b = read_trajectory(AIMD), read_trajectory(gz)
    np.testing.assert_array_equal(a.positions, b.positions)


# -- bad input -------------------------------------------------------------------------------


def _cut_inside_step(k: int) -> str:
    """The AIMD file cut in the middle of its k-th <calculation> (0-based)."""
    text = AIMD.read_text()
    start = -1
    for _ in range(k + 1):
        start = text.index("<calculation>", start + 1)
    return text[: text.index('<varray name="positions"', start) + 40]


def test_truncated_file_gives_complete_steps_with_a_warning(tmp_path):
    path = tmp_path / "vasprun.xml"
    path.write_text(_cut_inside_step(5))
    with pytest.warns(UserWarning, match=r"using its 5 complete step"):
        t = read(path)
    np.testing.assert_allclose(t.positions, read(AIMD).positions[:5], rtol=0, atol=1e-12)
    gz = tmp_path / "vasprun2.xml.gz"
    gz.write_bytes(gzip.compress(AIMD.read_bytes())[:-2000])  # a cut compressed file
    with pytest.warns(UserWarning, match=r"complete step"):
        assert 0 < read(gz).n_frames < 12


def test_truncated_before_any_step_raises(tmp_path):
    path = tmp_path / "vasprun.xml"
    path.write_text(_cut_inside_step(0))
    with pytest.raises(TrajectoryError, match=r"vasprun.xml: no ionic steps.*truncated"):
        read(path)


def test_garbled_number_names_the_frame(tmp_path):
    text = AIMD.read_text()
    start = -1
    for _ in range(4):
        start = text.index("<calculation>", start + 1)
    i = text.index('<varray name="positions"', start)
    j = text.index("<v>", i) + 3
    path = tmp_path / "vasprun.xml"
    path.write_text(text[:j] + "  0.1x  " + text[j + 8 :])
    with pytest.raises(TrajectoryError, match=r"vasprun.xml, frame 3: the positions: not numeric"):
        read(path)


def test_garbled_xml_names_the_line(tmp_path):
    text = AIMD.read_text().replace("</scstep>", "</scstp>", 3)
    path = tmp_path / "vasprun.xml"
    path.write_text(text)
    with pytest.raises(
        TrajectoryError, match=r"vasprun.xml, frame 0: line \d+: not well-formed XML"
    ):
        read(path)


def test_wrong_atom_count_in_a_step(tmp_path):
    text = AIMD.read_text()
    start = -1
    for _ in range(3):
        start = text.index("<calculation>", start + 1)
    i = text.index('<varray name="positions"', start)
    j = text.index("<v>", i)
    k = text.index("\n", j) + 1
    path = tmp_path / "vasprun.xml"
    path.write_text(text[:j] + text[k:])  # drop one atom's row
    with pytest.raises(TrajectoryError, match=r"frame 2: the positions: 7 rows, expected 8"):
        read(path)


def test_relaxation_is_not_md(tmp_path):
    text = AIMD.read_text().replace(
        '<i type="int" name="IBRION">     0</i>', '<i type="int" name="IBRION">     2</i>'
    )
    path = tmp_path / "vasprun.xml"
    path.write_text(text)
    with pytest.raises(TrajectoryError, match=r"IBRION = 2: not molecular dynamics"):
        read(path)


def test_no_potim_needs_timestep(tmp_path):
    lines = [ln for ln in AIMD.read_text().splitlines() if 'name="POTIM"' not in ln]
    path = tmp_path / "vasprun.xml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrajectoryError, match=r"vasprun.xml: no POTIM.*pass timestep_fs"):
        read(path)
    assert read(path, timestep_fs=3.0).timestep_fs == 3.0


def test_not_xml_and_wrong_root(tmp_path):
    path = tmp_path / "vasprun.xml"
    path.write_text("this is not XML\n at all\n")
    with pytest.raises(TrajectoryError, match=r"vasprun.xml"):
        read(path)
    path.write_text("<html><body>hello</body></html>\n")
    with pytest.raises(TrajectoryError, match=r"vasprun.xml: not a vasprun.xml: the root .*html"):
        read(path)


def test_unknown_option_is_refused():
    from solidion.errors import InputError

    with pytest.raises(InputError, match="topology"):
        read(AIMD, topology="x.pdb")
    assert read(AIMD, type_map=None).n_frames == 12  # None options (the CLI's) are ignored


def test_cli_info_and_one_line_error(tmp_path, capsys):
    assert main(["info", str(AIMD)]) == 0
    out = capsys.readouterr().out
    assert "12 frames" in out and "600 K" in out
    path = tmp_path / "vasprun.xml"
    path.write_text("<modeling><generator></generator>\n<atominfo>\n</modeling>\n")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err

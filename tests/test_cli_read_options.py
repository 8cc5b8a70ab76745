"""The CLI reaches the readers' own options: --topology, --species, --group (and --type-map)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from solidion.cli import main
from solidion.io import read_trajectory
from tests.io.test_h5md_variants import _h5md

DATA = Path(__file__).parent / "data" / "formats"


def test_info_reads_a_cp2k_dcd_with_its_topology(capsys):
    dcd, xyz = DATA / "cp2k_md-pos-1.dcd", DATA / "cp2k_md.xyz"
    want = read_trajectory(dcd, format="cp2k-dcd", topology=xyz)
    with pytest.warns(UserWarning, match="triclinic"):
        rc = main(["info", str(dcd), "--format", "cp2k-dcd", "--topology", str(xyz)])
    out = capsys.readouterr().out
    assert rc == 0 and f"{want.n_frames} frames" in out and "Li4 Cl4" in out
    # without it: one error line that says what is missing
    rc = main(["info", str(dcd), "--format", "cp2k-dcd"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "topology" in err[0]


def test_species_and_group_reach_the_h5md_reader(tmp_path, capsys):
    path = tmp_path / "other.h5md"
    _h5md(path, species=None, group="ions")
    rc = main(["info", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and "/particles/ions/species" in err
    rc = main(["info", str(path), "--species", "Li,Li,Cl", "--group", "ions"])
    out = capsys.readouterr().out
    assert rc == 0 and "Li2 Cl" in out


def test_analyze_takes_the_reader_options(tmp_path, capsys):
    """A species-less H5MD analysed with --species equals the same walk written with species."""
    rng = np.random.default_rng(4)
    walk = 2.0 + np.cumsum(rng.normal(0.0, 0.1, (200, 3, 3)), axis=0)
    bare, full = tmp_path / "bare.h5md", tmp_path / "full.h5md"
    _h5md(bare, positions=walk, species=None)
    read_trajectory(bare, species="Li,Li,Cl").write(full)
    common = ["--temperature", "600", "--mobile", "Li", "--charges", "Li=1,Cl=-1"]
    got, want = tmp_path / "got.json", tmp_path / "want.json"
    assert main(["analyze", str(bare), "--species", "Li,Li,Cl", *common, "--json", str(got)]) == 0
    assert main(["analyze", str(full), *common, "--json", str(want)]) == 0
    capsys.readouterr()
    d_got = json.loads(got.read_text())["species"]["Li"]["tracer_diffusivity_cm2_s"]
    d_want = json.loads(want.read_text())["species"]["Li"]["tracer_diffusivity_cm2_s"]
    assert d_got["value"] == pytest.approx(d_want["value"], rel=1e-9)
    assert d_got["value"] > 0


def test_convert_takes_the_reader_options(tmp_path, capsys):
    dcd, xyz = DATA / "cp2k_md-pos-1.dcd", DATA / "cp2k_md.xyz"
    out = tmp_path / "cp2k.h5md"
    with pytest.warns(UserWarning, match="triclinic"):
        rc = main(["convert", str(dcd), str(out), "--format", "cp2k-dcd", "--topology", str(xyz)])
    capsys.readouterr()
    assert rc == 0
    want = read_trajectory(dcd, format="cp2k-dcd", topology=xyz)
    got = read_trajectory(out)
    np.testing.assert_allclose(got.positions, want.positions, atol=1e-12)
    assert got.symbols == want.symbols and got.timestep_fs == pytest.approx(want.timestep_fs)

"""The thin CLI: real commands, and one clear line with exit status 2 for user mistakes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from solidion import Trajectory, read_trajectory
from solidion.cli import main


def test_help_runs_as_a_process():
    out = subprocess.run(
        [sys.executable, "-m", "solidion.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "info" in out.stdout and "convert" in out.stdout


def test_info_and_convert(tmp_path, capsys):
    t = Trajectory.from_arrays(["Li", "Cl"], np.zeros((3, 2, 3)), np.eye(3) * 5, 20.0, 600.0)
    t.write(tmp_path / "a.xyz")
    assert main(["info", str(tmp_path / "a.xyz")]) == 0
    assert "3 frames" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "a.xyz"), str(tmp_path / "b.h5md")]) == 0
    b = read_trajectory(tmp_path / "b.h5md")
    assert b.n_frames == 3 and b.temperature_K == 600.0


def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.h5md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.h5md" in err and "Traceback" not in err
    (tmp_path / "x.unknown").write_text("hello")
    assert main(["info", str(tmp_path / "x.unknown")]) == 2
    assert "format" in capsys.readouterr().err
    assert main(["info", "--bogus", "x"]) == 2
    assert (
        main(
            [
                "convert",
                str(tmp_path / "x.unknown"),
                str(tmp_path / "y.h5md"),
                "--format",
                "extxyz",
                "--timestep-fs",
                "1",
            ]
        )
        == 2
    )
    assert not (tmp_path / "y.h5md").exists()
    assert main(["info", "x.dump", "--type-map", "1:Li"]) == 2

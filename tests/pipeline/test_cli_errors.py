"""`solidion run` user errors: one line, exit status 2, nothing half-written."""

from __future__ import annotations

import importlib.util
import json

import pytest

from solidion.chemistry import Composition
from solidion.cli import main
from solidion.pipeline import species_roles


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "LiXxCl2"], "Xx"),
        (["run", "LiAlCl2.5O0.8"], "not charge-neutral: total formal charge -0.1"),
        pytest.param(
            ["run", "LiAlCl2.5O0.75", "--potential", "sevennet"],
            "solidion[sevennet]",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("sevenn") is not None,
                reason="sevenn is installed, so --potential sevennet is not a mistake",
            ),
        ),
        (["run", "LiAlCl2.5O0.75", "--potential", "nonsense"], "unknown potential"),
        (["run", "LiAlCl2.5O0.75", "--temperatures", "-5", "600"], "must be positive"),
        (["run", "LiAlCl2.5O0.75", "--temperatures", "600", "1700"], "below the 1500 K melt"),
        (["run", "LiAlCl2.5O0.75", "--preset", "fast"], "unknown preset 'fast'"),
        (["run", "LiAlCl2.5O0.75", "--preset", "missing.json"], "missing.json"),
    ],
)
def test_user_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path):
    out = tmp_path / "out"
    code, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()  # refused before anything was written


def test_empty_temperature_list_is_a_usage_error(capsys, tmp_path):
    code = main(["run", "LiAlCl2.5O0.75", "--out", str(tmp_path / "o"), "--temperatures"])
    assert code == 2
    assert "--temperatures" in capsys.readouterr().err


def test_unwritable_output_directory(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, err = _run(["run", "LiAlCl2.5O0.75", "--out", str(blocker / "sub")], capsys)
    assert code == 2 and len(err) == 1 and "cannot write there" in err[0], err


def test_directory_with_a_different_run_is_refused(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    record = {
        "kind": "solidion run",
        "status": "finished",
        "inputs": {"formula": "NaAlCl2.5O0.75", "preset": {"name": "quick"}},
    }
    (out / "run.json").write_text(json.dumps(record))
    code, err = _run(["run", "LiAlCl2.5O0.75", "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and "holds a different run" in err[0]
    assert "--force" in err[0]
    assert json.loads((out / "run.json").read_text()) == record  # untouched
    code, err = _run(["run", "LiAlCl2.5O0.75", "--out", str(tmp_path / "new"), "--resume"], capsys)
    assert code == 2 and "holds no solidion run to continue" in err[0]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    code, err = _run(["run", "LiAlCl2.5O0.75", "--out", str(tmp_path / "busy")], capsys)
    assert code == 2 and "is not empty" in err[0]


def test_verbose_shows_the_traceback(tmp_path):
    from solidion.errors import InputError

    with pytest.raises(InputError):
        main(["--verbose", "run", "LiAlCl2.5O0.8", "--out", str(tmp_path / "o")])


def test_species_roles():
    assert species_roles(Composition("LiAlCl2.5O0.75")) == ("Li", "Al", ("Cl", "O"))
    assert species_roles(Composition("Li3PS4")) == ("Li", "P", ("S",))
    assert species_roles(Composition("NaGaBr2.5O0.75")) == ("Na", "Ga", ("Br", "O"))
    assert species_roles(Composition("Li2S")) == ("Li", None, ("S",))
    with pytest.raises(Exception, match="no monovalent cation"):
        species_roles(Composition("MgO"))

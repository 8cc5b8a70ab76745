"""`solidion analyze` from the shell: tables, JSON, temperature series, user mistakes."""

from __future__ import annotations

import json

import pytest

from solidion.cli import main
from tests.transport.test_arrhenius import _walkers_at


@pytest.fixture(scope="module")
def series_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("series")
    paths = []
    for seed, t in enumerate((500.0, 650.0, 800.0)):
        p = d / f"run{int(t)}.h5md"
        _walkers_at(t, seed).write(p)
        paths.append(str(p))
    return paths


def test_single_file_json_has_the_documented_keys(series_files, tmp_path, capsys):
    out = tmp_path / "one.json"
    rc = main(
        [
            "analyze",
            series_files[0],
            "--mobile",
            "Li",
            "--charges",
            "Li=1,Cl=-1",
            "--frame",
            "lab",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "Haven ratio" in text and "σ_E" in text
    d = json.loads(out.read_text())
    assert d["temperature_K"] == 500.0 and d["mobile"] == "Li"
    assert set(d["species"]) == {"Li", "Cl"}
    assert "arrhenius" not in d


def test_temperature_series_adds_arrhenius(series_files, tmp_path):
    out = tmp_path / "series.json"
    rc = main(
        [
            "analyze",
            *series_files,
            "--temperature",
            "500",
            "650",
            "800",
            "--frame",
            "lab",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    d = json.loads(out.read_text())
    assert [r["temperature_K"] for r in d["results"]] == [500.0, 650.0, 800.0]
    ea = d["arrhenius"]["activation_energy_eV"]
    assert abs(ea["value"] - 0.3) < 3 * ea["stderr"]
    assert d["arrhenius"]["conductivity_300K_S_cm"]["value"] > 0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--mobile", "Na"], "'Na' is not present"),
        (["--temperature", "0"], "positive"),
        (["--temperature", "500", "600"], "2 temperatures for 1 files"),
        (["--charges", "Li=one"], "charges"),
        (["--frame", "moon"], "frame must be one of"),
    ],
)
def test_user_mistakes_exit_2_and_write_nothing(series_files, tmp_path, capsys, extra, match):
    out = tmp_path / "never.json"
    rc = main(["analyze", series_files[0], *extra, "--json", str(out)])
    assert rc == 2
    assert match in capsys.readouterr().err
    assert not out.exists()


def test_missing_file_and_short_run(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.h5md")]) == 2
    assert "nope.h5md" in capsys.readouterr().err
    short = _walkers_at(600.0, 0)[:3]
    short.write(tmp_path / "short.h5md")
    assert main(["analyze", str(tmp_path / "short.h5md")]) == 2
    assert "frames" in capsys.readouterr().err


def test_report_for_trajectories_made_elsewhere(series_files, tmp_path, capsys):
    """`analyze --report DIR` writes results.json/csv and a report; `report DIR` rebuilds it."""
    out = tmp_path / "rep"
    rc = main(
        [
            "analyze",
            *series_files,
            "--mobile",
            "Li",
            "--charges",
            "Li=1,Cl=-1",
            "--temperature",
            "500",
            "650",
            "800",
            "--frame",
            "lab",
            "--report",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["formula"] is None and results["structure"] is None
    assert [c["temperature_K"] for c in results["convergence"]] == [500, 650, 800]
    assert results["transport"]["arrhenius"]["activation_energy_eV"]["value"] > 0
    html = (out / "report.html").read_text()
    assert 'data-key="sigma_300K_mS_cm"' in html
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.html").exists()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "nothing" in capsys.readouterr().err

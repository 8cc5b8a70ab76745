"""`solidion campaign plan|status|report` without MD: output, estimates and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from solidion.cli import main
from solidion.cli_campaign import human_duration
from tests.campaign.conftest import tiny_campaign


def test_plan_prints_the_graph_and_the_estimate(tmp_path, capsys):
    path = tmp_path / "amx.toml"
    path.write_text(
        'temperatures = [600, 700, 800, 900]\npreset = "paper"\nproduction_ps = 100000\n'
        "[compositions.family]\n"
    )
    assert main(["campaign", "plan", str(path), "--workers", "108", "--rate", "1000"]) == 0
    out = capsys.readouterr().out
    assert "27 composition(s) × 4 temperature(s) (600, 700, 800, 900 K) × 1 replica(s)" in out
    assert "tasks: 27 glass, 108 md, 27 analysis (162 in all)" in out
    # 1302 atoms × 5e7 steps per md task; one worker per md task: glass + one md on the path
    assert "cost: 7.03e+12 atom-steps" in out
    md_s = 1302 * 50_000_000 / 1000
    glass_s = 1302 * (300 + 2000 + 20000 + 45000 + 25000) / 1000
    assert (
        f"on 108 worker(s); no number of workers beats the critical path {human_duration(glass_s + md_s)}"
        in out
    )
    assert "1000 atom-steps/s per worker (given with --rate)" in out


def test_plan_warns_about_a_non_neutral_member(tmp_path, capsys):
    path = tiny_campaign(tmp_path, ["LiAlCl2.5O0.75", "LiAlCl2.5O0.8"])
    assert main(["campaign", "plan", str(path), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "tasks: 2 glass, 4 md, 2 analysis (8 in all)" in captured.out
    assert "312 atom-steps/s per worker (bench/md.py" in captured.out
    assert "warning: LiAlCl2.5O0.8: LiAlCl2.5O0.8 is not charge-neutral" in captured.err


def test_errors_are_one_line(tmp_path, capsys):
    path = tiny_campaign(tmp_path, ["LiAlCl2.5O0.75"])
    for argv, message in (
        (["campaign", "status", str(path)], "no campaign database; run `solidion campaign run`"),
        (["campaign", "report", str(path)], "no campaign database"),
        (["campaign", "plan", str(tmp_path / "none.toml")], "none.toml: no such campaign file"),
        (["campaign", "plan", str(path), "--rate", "-1"], "--rate must be positive"),
        (["campaign", "run", str(path), "--cluster", "moab"], "--cluster 'moab': one of slurm"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_status_and_report_of_a_family(family, tmp_path, capsys):
    assert main(["campaign", "status", str(family.source)]) == 0
    out = capsys.readouterr().out
    assert "104/108 tasks done" in out and "104 done, 1 failed, 3 blocked" in out
    assert "InputError: synthetic failure" in out and "KInI2.5O0.75" in out
    assert (
        main(["campaign", "report", str(family.source), "--parquet", str(tmp_path / "t.parquet")])
        == 0
    )
    out = capsys.readouterr().out
    assert f"report: {family.output / 'campaign_report.html'}" in out
    assert (family.output / "campaign_results.csv").exists() and (tmp_path / "t.parquet").exists()


def test_help_does_not_import_dask():
    code = (
        "import sys\nfrom solidion.cli import main\ntry:\n    main(['campaign', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "plan" in done.stdout and "status" in done.stdout

"""``solidion potential ...`` commands: examples that work, user errors exit 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from solidion import Trajectory
from solidion.cli import main
from solidion.potentials.finetune import TrustReference, read_labelled, save_checkpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "finetune_LiAlClO_7net0.extxyz"


def cu_frames(n: int, sigma: float = 0.05, seed: int = 0):
    out = []
    for k in range(n):
        a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
        a.rattle(sigma, seed=seed + k)
        out.append(a)
    return out


class TinyModel:
    def as_dict(self):
        import torch

        return {"model_args": {"version": "test"}, "state_dict": {"w": torch.ones(2)}}


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_is_fast_and_imports_no_torch():
    code = "import sys, solidion.cli; print('torch' in sys.modules, 'chgnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_select_label_evaluate_round(tmp_path, capsys):
    write(tmp_path / "md.extxyz", cu_frames(12))
    code, out, _ = run(
        [
            "potential",
            "select",
            str(tmp_path / "md.extxyz"),
            "--n",
            "4",
            "--out",
            str(tmp_path / "f.extxyz"),
        ],
        capsys,
    )
    assert code == 0 and "4 frames (farthest-point sampling)" in out
    code, out, _ = run(
        [
            "potential", "label", str(tmp_path / "f.extxyz"),
            "--calculator", "ase.calculators.emt:EMT",
            "--out", str(tmp_path / "labelled.extxyz"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0 and "4 labelled structures" in out
    assert len(read_labelled(tmp_path / "labelled.extxyz")) == 4
    code, out, _ = run(
        [
            "potential", "evaluate", "ase.calculators.emt:EMT", str(tmp_path / "labelled.extxyz"),
            "--json", str(tmp_path / "errors.json"), "--parity", str(tmp_path / "p.png"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    errors = json.loads((tmp_path / "errors.json").read_text())["ase.calculators.emt:EMT"]
    assert errors["force_mae_meV_A"] == pytest.approx(0.0, abs=1e-3)
    assert errors["softening_ratio"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_label_options_are_parsed(tmp_path, capsys):
    write(tmp_path / "f.extxyz", cu_frames(1))
    code, _, err = run(
        [
            "potential", "label", str(tmp_path / "f.extxyz"),
            "--calculator", "ase.calculators.lj:LennardJones",
            "--option", "sigma=2.3", "--option", "epsilon=0.4", "--option", "rc=5",
            "--out", str(tmp_path / "lj.extxyz"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        [
            "potential", "label", str(tmp_path / "f.extxyz"), "--calculator",
            "ase.calculators.lj:LennardJones", "--option", "sigma", "--out", str(tmp_path / "x.extxyz"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 2 and "key=value" in err


def test_trust_on_a_run_directory(tmp_path, capsys):
    train = cu_frames(6)
    ref = TrustReference.build(train[:4], train[4:])
    ckpt = save_checkpoint(tmp_path / "model.pt", TinyModel(), trust_reference=ref)
    run_dir = tmp_path / "run"
    for t, sigma in ((600, 0.05), (900, 0.4)):
        frames = cu_frames(5, sigma=sigma, seed=t)
        pos = np.array([f.positions for f in frames])
        (run_dir / f"T{t}K").mkdir(parents=True)
        Trajectory.from_arrays(["Cu"] * 32, pos, frames[0].cell.array, 10.0, float(t)).write(
            run_dir / f"T{t}K" / "00_production.h5"
        )
    (run_dir / "run.json").write_text(json.dumps({"inputs": {"potential": str(ckpt)}}))
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "temperatures_K": [600.0, 900.0],
                "trajectories": ["T600K/00_production.h5", "T900K/00_production.h5"],
            }
        )
    )
    code, out, err = run(
        ["potential", "trust", str(run_dir), "--json", str(tmp_path / "t.json")], capsys
    )
    assert code == 0
    block = json.loads((tmp_path / "t.json").read_text())
    assert block["available"] is True
    low, high = block["results"]
    assert low["temperature_K"] == 600 and not low["out_of_domain"]
    assert high["out_of_domain"] and high["fraction_out_of_domain"] > 0.5
    assert "outside the training domain" in err and "900 K" in err
    # pretrained: says there is no reference, exit 0
    code, out, _ = run(
        [
            "potential",
            "trust",
            str(run_dir / "T600K" / "00_production.h5"),
            "--potential",
            "chgnet",
        ],
        capsys,
    )
    assert code == 0 and "no training-domain reference" in out


def test_show(tmp_path, capsys):
    ref = TrustReference.build(cu_frames(3), cu_frames(2, seed=10))
    ckpt = save_checkpoint(
        tmp_path / "m.pt", TinyModel(), metadata={"base_model": "0.3.0"}, trust_reference=ref
    )
    code, out, _ = run(["potential", "show", str(ckpt)], capsys)
    assert code == 0
    shown = json.loads(out)
    assert shown["base_model"] == "0.3.0" and shown["trust_reference"]["n_frames"] == 3


@pytest.mark.slow
def test_finetune_command_writes_a_checkpoint_that_show_reads(tmp_path, capsys):
    """One epoch on 8 frames of the committed set (≈ 15 s): the command's wiring, not accuracy."""
    from solidion.potentials.finetune import read_labelled, write_labelled

    data = read_labelled(DATA)
    write_labelled([data[k] for k in range(0, 50, 6)][:8], tmp_path / "small.extxyz")
    code, out, err = run(
        [
            "potential", "finetune", str(tmp_path / "small.extxyz"), "--out", str(tmp_path / "m.pt"),
            "--epochs", "1", "--val", "0.25", "--test", "0.25", "--batch-size", "2",
            "--parity", str(tmp_path / "p.png"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "checkpoint:" in out and "fine-tuned" in out and "softening ratio" in out
    assert "epoch 0:" in err and (tmp_path / "p.png").exists()
    code, out, _ = run(["potential", "show", str(tmp_path / "m.pt")], capsys)
    shown = json.loads(out)
    assert shown["config"]["epochs"] == 1 and shown["split"]["test"]["n_frames"] == 2
    assert shown["test_after"]["force_mae_meV_A"] > 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["potential", "evaluate", "chgnet", "{tmp}/absent.extxyz"], "no such file"),
        (
            ["potential", "finetune", "{tmp}/data.csv", "--out", "{tmp}/m.pt"],
            "cannot tell the format",
        ),
        (
            [
                "potential",
                "finetune",
                "{tmp}/x.extxyz",
                "--out",
                "{tmp}/m.pt",
                "--val",
                "0.7",
                "--test",
                "0.5",
            ],
            "--val, --test",
        ),
        (
            ["potential", "finetune", "{tmp}/x.extxyz", "--out", "{tmp}/m.pt", "--epochs", "0"],
            "epochs: must be positive",
        ),
        (["potential", "select", "{tmp}/absent.h5", "--out", "{tmp}/f.extxyz"], "no such file"),
        (
            [
                "potential",
                "label",
                "{tmp}/absent.extxyz",
                "--calculator",
                "ase.calculators.emt:EMT",
                "--out",
                "{tmp}/o.extxyz",
            ],
            "no such file",
        ),
        (
            [
                "potential",
                "label",
                "{tmp}/x.extxyz",
                "--calculator",
                "nomodule_zz:X",
                "--out",
                "{tmp}/o.extxyz",
            ],
            "cannot import",
        ),
        (["potential", "trust", "{tmp}/x.extxyz"], "--potential"),
        (
            ["potential", "trust", "{tmp}/x.extxyz", "--potential", "{tmp}/absent.pt"],
            "checkpoint file not found",
        ),
        (["potential", "show", "{tmp}/x.extxyz"], "not a loadable checkpoint"),
    ],
)
def test_user_errors_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    write(tmp_path / "x.extxyz", cu_frames(1))
    before = set(tmp_path.iterdir())
    code, _, err = run([a.format(tmp=tmp_path) for a in args], capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert set(tmp_path.iterdir()) == before

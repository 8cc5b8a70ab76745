"""``solidion potential ...``: fine-tune, evaluate, select frames, label them, check trust.

Thin like :mod:`solidion.cli`: parse, call :mod:`solidion.potentials.finetune`, print. torch and
chgnet are imported inside the commands, so ``solidion --help`` stays fast. User mistakes raise
:class:`~solidion.errors.SolidionError` subclasses, which ``solidion.cli.main`` prints on one
line with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from solidion.errors import InputError

finetune_app = typer.Typer(
    name="potential",
    help="Fine-tune CHGNet on reference data, evaluate it, pick frames to label, check trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_STRESS_UNIT = typer.Option(help="Stress unit in extxyz/ase-db files: eV/A3, GPa or kbar.")
_STRESS_SIGN = typer.Option(help="Stress sign in extxyz/ase-db files: ase or pressure.")


def _read_options(stress_unit: str, stress_sign: str, energy_key: str) -> dict[str, Any]:
    return {"stress_unit": stress_unit, "stress_sign": stress_sign, "energy_key": energy_key}


def _console(stderr: bool = False) -> Any:
    """A rich console; wide when output goes to a file or a pipe (tables stay unwrapped)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=True, width=None if stream.isatty() else 200)


def _metrics_table(rows: list[tuple[str, Any]], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("potential", no_wrap=True)
    for col in ("energy MAE (meV/atom)", "force MAE (meV/Å)", "force RMSE (meV/Å)"):
        table.add_column(col, justify="right")
    table.add_column("stress MAE (GPa)", justify="right")
    table.add_column("softening ratio", justify="right")
    for name, m in rows:
        table.add_row(
            name,
            f"{m.energy_mae_meV_atom:.1f}",
            f"{m.force_mae_meV_A:.1f}",
            f"{m.force_rmse_meV_A:.1f}",
            "—" if m.stress_mae_GPa is None else f"{m.stress_mae_GPa:.3f}",
            f"{m.softening_ratio:.3f} ± {m.softening_ratio_stderr:.3f}",
        )
    return table


def _write_json(payload: Any, path: Path) -> None:
    from solidion.io._atomic import atomic_path
    from solidion.pipeline.results import sanitize

    with atomic_path(path, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(sanitize(payload), indent=2) + "\n")


def _parse_options(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true, lists)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint="--option")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


@finetune_app.command("finetune")
def finetune_command(
    data: Annotated[
        list[Path], typer.Argument(help="Labelled files: extxyz, .db, vasprun.xml, OUTCAR.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (e.g. model.pt).")],
    base: Annotated[
        str, typer.Option(help="Pretrained CHGNet (0.3.0, r2scan) or a checkpoint.")
    ] = "0.3.0",
    epochs: Annotated[int, typer.Option(help="Most epochs.")] = 30,
    lr: Annotated[float, typer.Option("--lr", help="Initial learning rate.")] = 2e-3,
    batch_size: Annotated[int, typer.Option(help="Structures per step.")] = 4,
    freeze: Annotated[
        str,
        typer.Option(help="none, embeddings, message-passing, all-but-readout, or prefixes a,b."),
    ] = "embeddings",
    energy_weight: Annotated[float, typer.Option(help="Loss weight of energy per atom.")] = 1.0,
    force_weight: Annotated[float, typer.Option(help="Loss weight of forces.")] = 1.0,
    stress_weight: Annotated[float, typer.Option(help="Loss weight of stress (GPa).")] = 0.1,
    criterion: Annotated[str, typer.Option(help="Huber, MSE or MAE.")] = "Huber",
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without improvement.")] = 8,
    split_by: Annotated[str, typer.Option(help="structure or trajectory.")] = "structure",
    val: Annotated[float, typer.Option(help="Validation share.")] = 0.1,
    test: Annotated[float, typer.Option(help="Test share (0: no test split).")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, ... (default: GPU if present).")
    ] = None,
    refit_composition: Annotated[
        bool, typer.Option(help="Refit the per-element energy offsets first.")
    ] = True,
    parity: Annotated[Path | None, typer.Option(help="Write a parity plot (PNG).")] = None,
    stress_unit: Annotated[str, _STRESS_UNIT] = "eV/A3",
    stress_sign: Annotated[str, _STRESS_SIGN] = "ase",
    energy_key: Annotated[str, typer.Option(help="Energy key in extxyz/db files.")] = "energy",
) -> None:
    """Fine-tune CHGNet on labelled structures; write a checkpoint --potential loads.

    Example: solidion potential finetune labelled.extxyz --out model.pt --split-by trajectory
    """
    from solidion.potentials.finetune import FinetuneConfig, run_finetune

    config = FinetuneConfig(
        base_model=base,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        energy_weight=energy_weight,
        force_weight=force_weight,
        stress_weight=stress_weight,
        freeze=freeze,
        patience_epochs=patience,
        criterion=criterion,
        refit_composition=refit_composition,
        seed=seed,
    )
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise InputError(f"--val, --test: shares in [0, 1) with val + test < 1, got {val}, {test}")
    console = _console(stderr=True)
    report = run_finetune(
        data,
        out,
        config,
        fractions=(1 - val - test, val, test),
        split_by=split_by,
        device=device,
        progress=sys.stderr.isatty(),
        log=lambda m: console.print(m, markup=False, highlight=False),
        parity=parity,
        read_options=_read_options(stress_unit, stress_sign, energy_key),
    )
    if report.before is not None:
        _console().print(
            _metrics_table(
                [(f"base {base}", report.before), ("fine-tuned", report.after)],
                f"errors on the {len(report.split.test)} test structures",
            )
        )
    typer.echo(f"checkpoint: {report.checkpoint} (use it with --potential {report.checkpoint})")


@finetune_app.command("evaluate")
def evaluate_command(
    potential: Annotated[str, typer.Argument(help="Checkpoint path or potential name (chgnet).")],
    data: Annotated[list[Path], typer.Argument(help="Labelled files.")],
    compare: Annotated[
        list[str] | None, typer.Option(help="Also evaluate these potentials (e.g. chgnet).")
    ] = None,
    parity: Annotated[Path | None, typer.Option(help="Write a parity plot (PNG).")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the errors as JSON.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    stress_unit: Annotated[str, _STRESS_UNIT] = "eV/A3",
    stress_sign: Annotated[str, _STRESS_SIGN] = "ase",
    energy_key: Annotated[str, typer.Option(help="Energy key in extxyz/db files.")] = "energy",
) -> None:
    """Errors (MAE/RMSE) and softening ratio of potentials on labelled structures.

    Example: solidion potential evaluate model.pt test.extxyz --compare chgnet --parity p.png
    """
    from solidion.potentials.finetune import evaluate, parity_plot, read_many

    dataset = read_many(data, **_read_options(stress_unit, stress_sign, energy_key))
    rows, curves = [], []
    for spec in [potential, *(compare or [])]:
        metrics, pred = evaluate(spec, dataset, device=device)
        rows.append((spec, metrics))
        curves.append((spec, pred))
    _console().print(_metrics_table(rows, f"errors on {len(dataset)} structures"))
    if parity is not None:
        typer.echo(f"wrote {parity_plot(parity, curves, title=f'{len(dataset)} structures')}")
    if json_out is not None:
        _write_json({spec: m.to_dict() for spec, m in rows}, json_out)
        typer.echo(f"wrote {json_out}")


@finetune_app.command("select")
def select_command(
    trajectories: Annotated[
        list[Path], typer.Argument(help="MD trajectories (H5MD, extxyz, ...).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Frames to label (extxyz).")],
    n: Annotated[int, typer.Option("--n", help="How many frames.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the first choice.")] = 0,
    committee: Annotated[
        list[str] | None,
        typer.Option(help="Two or more checkpoints: pick the frames they disagree on most."),
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(help="Candidates per trajectory (evenly spaced).")
    ] = None,
) -> None:
    """Pick diverse frames of MD runs (farthest-point sampling) to send to DFT.

    Example: solidion potential select runs/x/T600K/00_production_600K.h5 --n 50 --out frames.extxyz
    """
    from solidion.potentials.finetune import select_by_committee, select_frames, write_frames

    if committee:
        frames = select_by_committee(trajectories, committee, n, max_frames_per_source=max_frames)
        how = f"largest disagreement of {len(committee)} potentials"
    else:
        frames = select_frames(trajectories, n, rng=seed, max_frames_per_source=max_frames)
        how = "farthest-point sampling"
    write_frames(frames, out)
    typer.echo(f"wrote {out}: {len(frames)} frames ({how})")


@finetune_app.command("label")
def label_command(
    frames: Annotated[Path, typer.Argument(help="Structures to label (extxyz from select).")],
    calculator: Annotated[
        str, typer.Option(help="module:Class of an ASE calculator, or a potential (sevennet).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Labelled structures (extxyz).")],
    option: Annotated[
        list[str] | None, typer.Option(help="Calculator option key=value (repeatable).")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Run each frame in WORKDIR/frame_NNNNN (file calculators).")
    ] = None,
) -> None:
    """Label structures with any ASE calculator (VASP, QE, GPAW, a potential); resumable.

    Example: solidion potential label frames.extxyz --calculator ase.calculators.emt:EMT --out labelled.extxyz
    """
    from solidion.potentials.finetune import label_frames

    dataset = label_frames(
        frames,
        calculator,
        out,
        calculator_options=_parse_options(option),
        workdir=workdir,
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(f"wrote {out}: {len(dataset)} labelled structures")


def _run_trajectories(path: Path) -> tuple[list[Path], list[float | None], str | None]:
    """Production trajectories, temperatures and the potential of a run directory."""
    if path.is_file():
        return [path], [None], None
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    potential = None
    run_json = path / "run.json"
    if run_json.is_file():
        try:
            potential = json.loads(run_json.read_text())["inputs"]["potential"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{run_json}: unreadable run record ({exc})") from None
    results = path / "results.json"
    trajs: list[Path] = []
    temps: list[float | None] = []
    if results.is_file():
        try:
            data = json.loads(results.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{results}: unreadable ({exc})") from None
        for rel, t in zip(
            data.get("trajectories") or [], data.get("temperatures_K") or [], strict=False
        ):
            trajs.append(path / rel)
            temps.append(float(t))
    if not trajs:
        found = sorted(path.glob("T*K/*.h5")) or sorted(path.glob("*.h5"))
        trajs, temps = found, [None] * len(found)
    if not trajs:
        raise InputError(f"{path}: no production trajectories (T*K/*.h5 or *.h5) found")
    return trajs, temps, potential


@finetune_app.command("trust")
def trust_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories or trajectory files.")],
    potential: Annotated[
        str | None, typer.Option(help="Fine-tuned checkpoint (default: the run's potential).")
    ] = None,
    limit: Annotated[float, typer.Option(help="Largest out-of-domain share accepted.")] = 0.05,
    max_frames: Annotated[int, typer.Option(help="Frames checked per trajectory.")] = 50,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the trust block as JSON.")
    ] = None,
) -> None:
    """How far MD runs stray from the structures the potential was fine-tuned on.

    Example: solidion potential trust runs/LiAlCl2.5O0.75 --potential model.pt
    """
    from rich.table import Table

    from solidion.potentials.finetune import trust_block

    trajs: list[Path] = []
    temps: list[float | None] = []
    spec = potential
    for run in runs:
        t, tk, pot = _run_trajectories(run)
        trajs += t
        temps += tk
        spec = spec or pot
    if spec is None:
        raise InputError("--potential: give the fine-tuned checkpoint the runs were made with")
    block = trust_block(spec, trajs, temps, limit_fraction=limit, max_frames=max_frames)
    console = _console()
    if not block["available"]:
        console.print(f"[yellow]no trust check:[/yellow] {block['reason']}", highlight=False)
    else:
        table = Table(title=f"training-domain check (limit {100 * limit:g} % out of domain)")
        for col in ("trajectory", "T (K)", "frames", "out of domain", "median d/t", "p99 d/t"):
            table.add_column(col, justify="right" if col != "trajectory" else "left")
        for r in block["results"]:
            bad = r["out_of_domain"]
            table.add_row(
                str(r["source"]),
                "—" if r["temperature_K"] is None else f"{r['temperature_K']:g}",
                str(r["n_frames"]),
                f"[{'red' if bad else 'green'}]{100 * r['fraction_out_of_domain']:.1f} %[/]",
                f"{r['relative_distance_median']:.2f}",
                f"{r['relative_distance_p99']:.2f}",
            )
        console.print(table)
        for w in block["warnings"]:
            typer.echo(f"warning: {w}", err=True)
    if json_out is not None:
        _write_json(block, json_out)
        typer.echo(f"wrote {json_out}")


@finetune_app.command("show")
def show_command(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint file.")],
) -> None:
    """What a checkpoint holds: base model, data, split, loss weights, test errors.

    Example: solidion potential show model.pt
    """
    from solidion.potentials.finetune import read_finetune_checkpoint

    ckpt = read_finetune_checkpoint(checkpoint)
    meta = dict(ckpt.metadata)
    summary = {
        "file": str(checkpoint),
        "model_version": ckpt.model_dict["model_args"].get("version"),
        "base_model": meta.get("base_model"),
        "created": meta.get("created"),
        "dataset": {k: v for k, v in (meta.get("dataset") or {}).items() if k != "groups"},
        "split": meta.get("split"),
        "config": (meta.get("training") or {}).get("config"),
        "best_epoch": (meta.get("training") or {}).get("best_epoch"),
        "test_before": meta.get("test_before"),
        "test_after": meta.get("test_after"),
        "trust_reference": None if ckpt.trust_reference is None else ckpt.trust_reference.summary(),
    }
    typer.echo(json.dumps(summary, indent=2, default=str))

"""``solidion campaign``: plan, run, follow and compare a composition × temperature grid.

Thin, like :mod:`solidion.cli`: each command parses, calls :mod:`solidion.campaign`, prints.
dask is imported only inside ``run`` (through the library), so ``solidion --help`` stays fast.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer

campaign_app = typer.Typer(
    name="campaign",
    help="Composition × temperature grids on Dask, with a SQLite results store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_FILE = Annotated[Path, typer.Argument(help="Campaign file (.toml, .yaml or .yml).")]


def human_duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``, ``4.0 d``, ``3.2 years``.

    Example:
        >>> human_duration(90), human_duration(150), human_duration(7200)
        ('90 s', '2.5 min', '2.0 h')
        >>> human_duration(3 * 86400), human_duration(3 * 365.25 * 86400)
        ('3.0 d', '3.0 years')
    """
    if not math.isfinite(seconds):
        return "—"
    for limit, unit, scale in (
        (120, "s", 1),
        (7200, "min", 60),
        (172800, "h", 3600),
        (2 * 365.25 * 86400, "d", 86400),
    ):
        if seconds < limit:
            return f"{seconds / scale:.0f} s" if unit == "s" else f"{seconds / scale:.1f} {unit}"
    return f"{seconds / (365.25 * 86400):.1f} years"


@campaign_app.command("plan")
def plan_command(
    file: _FILE,
    workers: Annotated[
        int | None,
        typer.Option(help="Workers for the wall-time estimate (default: this machine's cores)."),
    ] = None,
    measure: Annotated[
        bool, typer.Option("--measure", help="Time a few MD steps here instead of the bench.")
    ] = False,
    rate: Annotated[
        float | None, typer.Option(help="Throughput per worker in atom-steps/s.")
    ] = None,
) -> None:
    """Print the task graph's size and a time estimate (no MD is run, unless --measure).

    Example: solidion campaign plan docs/examples/amx_campaign.toml --workers 8
    """
    import os

    from solidion.campaign import (
        REFERENCE_THROUGHPUT,
        Throughput,
        build_plan,
        estimate,
        load_campaign,
        measure_throughput,
    )
    from solidion.errors import InputError

    c = load_campaign(file)
    p = build_plan(c)
    if rate is not None and measure:
        raise InputError("--rate and --measure: give one")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise InputError(f"--rate must be positive, got {rate}")
    n_workers = workers or max(1, (os.cpu_count() or 1) // c.threads_per_task)
    if n_workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if measure:
        typer.echo("measuring: a few MD steps of the potential on this machine ...", err=True)
        tp = measure_throughput(c.potential, threads=c.threads_per_task)
    elif rate is not None:
        tp = Throughput(rate, "given with --rate")
    else:
        tp = REFERENCE_THROUGHPUT
    e = estimate(p, n_workers, tp)
    counts = p.counts()
    usable = [s.formula for s in c.compositions if s.neutrality_problem() is None]
    atoms = sorted({p.n_atoms[f] for f in usable or p.n_atoms})
    typer.echo(
        f"campaign {c.name}: {len(c.compositions)} composition(s) × "
        f"{len(c.temperatures_K)} temperature(s) ({', '.join(f'{t:g}' for t in c.temperatures_K)}"
        f" K) × {c.replicas} replica(s); protocol {c.preset_label}, "
        f"{'/'.join(map(str, atoms))} atoms; potential {c.potential}"
    )
    typer.echo(
        f"tasks: {counts['glass']} glass, {counts['md']} md, {counts['analysis']} analysis "
        f"({len(p.tasks)} in all)"
    )
    typer.echo(
        f"cost: {p.atom_steps:.3g} atom-steps (glass {sum(t.atom_steps for t in p.tasks if t.kind == 'glass'):.3g}, "
        f"md {sum(t.atom_steps for t in p.tasks if t.kind == 'md'):.3g})"
    )
    typer.echo(f"throughput: {tp.atom_steps_per_s:.0f} atom-steps/s per worker ({tp.source})")
    typer.echo(
        f"time: {human_duration(e.serial_s)} on one worker; {human_duration(e.wall_s)} on "
        f"{n_workers} worker(s); no number of workers beats the critical path "
        f"{human_duration(e.critical_path_s)} (analysis not counted)"
    )
    typer.echo(f"output: {c.output}")
    for w in p.warnings:
        typer.echo(f"warning: {w}", err=True)


@campaign_app.command("run")
def run_command(
    file: _FILE,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (tcp://HOST:PORT).")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Batch system via dask-jobqueue: slurm, pbs, sge, lsf, ...")
    ] = None,
    cluster_config: Annotated[
        Path | None, typer.Option(help="Cluster settings file (.toml/.yaml) for --cluster.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local cluster size (default: cores ÷ threads per task).")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Give failed tasks a fresh retry budget.")
    ] = False,
    report: Annotated[bool, typer.Option(help="Write the campaign report at the end.")] = True,
) -> None:
    """Run (or continue) a campaign; finished tasks are skipped, failed ones retried.

    Exits 0 when every task is done, 1 when some failed or were blocked, 130 when interrupted.

    Example: solidion campaign run docs/examples/amx_campaign.toml --workers 2
    """
    from solidion.campaign import build_campaign_report, load_campaign, run_campaign

    c = load_campaign(file)

    def log(msg: str) -> None:
        typer.echo(f"{time.strftime('%H:%M:%S')} {msg}", err=True)

    try:
        s = run_campaign(
            c,
            scheduler=scheduler,
            cluster=cluster,
            cluster_config=cluster_config,
            workers=workers,
            retry_failed=retry_failed,
            log=log,
        )
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to continue", err=True)
        raise typer.Exit(130) from None
    typer.echo(
        f"{s.total} tasks: {s.skipped} already done, {s.done} done now, {s.failed} failed, "
        f"{s.blocked} blocked ({human_duration(s.wall_s)})"
    )
    for tid, msg in s.failures:
        typer.echo(f"failed: {tid}: {msg}")
    if report:
        html = build_campaign_report(c)
        typer.echo(f"report: {html}")
    typer.echo(f"database: {c.database}")
    if not s.complete:
        raise typer.Exit(1)


@campaign_app.command("status")
def status_command(
    file: _FILE,
    all_tasks: Annotated[
        bool, typer.Option("--all", help="List every task, not only running and failed ones.")
    ] = False,
) -> None:
    """Task states, progress and failures (read-only: safe while the campaign runs).

    Example: solidion campaign status docs/examples/amx_campaign.toml
    """
    from rich.console import Console
    from rich.table import Table

    from solidion.campaign import Store, build_plan, load_campaign

    c = load_campaign(file)
    plan = build_plan(c)
    with Store.open_readonly(c.database) as store:
        snap = store.snapshot()
    by_id = {t["id"]: t for t in snap.tasks}
    tasks = [by_id[t.id] for t in plan.tasks if t.id in by_id]
    console = Console(soft_wrap=True, width=160)
    n_done = sum(1 for t in tasks if t["state"] == "done")
    cost = sum(t["atom_steps"] for t in tasks) or 1
    cost_done = sum(t["atom_steps"] for t in tasks if t["state"] == "done")
    counts = {s: sum(1 for t in tasks if t["state"] == s) for s in snap.counts()}
    console.print(
        f"[bold]campaign {c.name}[/bold] ({c.database}): {n_done}/{len(plan.tasks)} tasks done, "
        f"{100 * cost_done / cost:.0f} % of the MD atom-steps; "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    )
    missing = len(plan.tasks) - len(tasks)
    if missing:
        console.print(f"{missing} task(s) of the file are not in the database yet (run it)")
    table = Table(title="per composition")
    for col in ("composition", "glass", "md done", "analysis", "numbers stored"):
        table.add_column(col, justify="left" if col == "composition" else "right")
    colour = {"done": "green", "failed": "red", "blocked": "red", "running": "yellow"}
    for comp in c.compositions:
        f = comp.formula
        mine = [t for t in tasks if t["composition"] == f]
        glass = next((t["state"] for t in mine if t["kind"] == "glass"), "—")
        ana = next((t["state"] for t in mine if t["kind"] == "analysis"), "—")
        md = [t for t in mine if t["kind"] == "md"]
        md_done = sum(1 for t in md if t["state"] == "done")
        md_run = sum(1 for t in md if t["state"] == "running")

        def paint(s: str) -> str:
            return f"[{colour[s]}]{s}[/{colour[s]}]" if s in colour else s

        table.add_row(
            f,
            paint(glass),
            f"{md_done}/{len(md)}" + (f" ({md_run} running)" if md_run else ""),
            paint(ana),
            str(snap.n_results.get(f, 0)),
        )
    console.print(table)
    now = time.time()
    show = [t for t in tasks if all_tasks or t["state"] in ("running", "failed", "blocked")]
    if show:
        detail = Table(title="tasks" if all_tasks else "running, failed and blocked tasks")
        for col in ("task", "state", "attempts", "starts", "failures", "host:pid", "time", "error"):
            detail.add_column(col, justify="left" if col in ("task", "error") else "right")
        for t in show:
            if t["state"] == "running" and t["started_at"]:
                when = f"{human_duration(now - t['started_at'])} so far"
            elif t["wall_s"] is not None:
                when = human_duration(t["wall_s"])
            else:
                when = "—"
            err = (t["error"] or "")[:300]
            detail.add_row(
                t["id"],
                f"[{colour.get(t['state'], 'white')}]{t['state']}[/]",
                str(t["attempts"]),
                str(t["starts"]),
                str(t["failures"]),
                f"{t['host']}:{t['pid']}" if t["host"] else "—",
                when,
                err,
            )
        console.print(detail)


@campaign_app.command("report")
def report_command(
    file: _FILE,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file (default OUTPUT/campaign_report.html)."),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Table as CSV (default OUTPUT/campaign_results.csv)."),
    ] = None,
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Also write the table as Parquet.")
    ] = None,
) -> None:
    """Cross-composition report: σ(300 K), E_a, H_R, t vs A, M, X; ε_a per environment.

    Example: solidion campaign report docs/examples/amx_campaign.toml --parquet amx.parquet
    """
    from solidion.campaign import build_campaign_report, export_table, load_campaign

    c = load_campaign(file)
    html = build_campaign_report(c, out)
    table = export_table(c, csv_path if csv_path is not None else c.output / "campaign_results.csv")
    typer.echo(f"table: {table}")
    if parquet is not None:
        typer.echo(f"table: {export_table(c, parquet)}")
    typer.echo(f"report: {html}")

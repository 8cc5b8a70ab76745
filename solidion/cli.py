"""The ``solidion`` command line: parse, call the library, print. Nothing else lives here.

A user mistake (bad file, bad flag value) prints one line ``error: ...`` on stderr and exits with
status 2; ``--verbose`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from solidion.errors import InputError, SolidionError

app = typer.Typer(
    name="solidion",
    help="Predict and explain ionic conductivity in solid electrolytes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"verbose": False}


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks.")] = False,
) -> None:
    _state["verbose"] = verbose


def parse_type_map(text: str | None) -> dict[int, str] | None:
    """Parse ``1=Li,2=Cl`` into ``{1: "Li", 2: "Cl"}``."""
    if not text:
        return None
    out: dict[int, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isdigit() or not value.strip():
            raise typer.BadParameter(
                f"expected TYPE=Element pairs like 1=Li,2=Cl, got {item!r}", param_hint="--type-map"
            )
        out[int(key)] = value.strip()
    return out


TopologyOpt = Annotated[
    Path | None,
    typer.Option(help="Topology/structure file for DCD, XTC, TRR, NetCDF and CP2K DCD."),
]
SpeciesOpt = Annotated[
    str | None,
    typer.Option(help="Elements when the file has none (H5MD), e.g. Li8Al8Cl20O6 or Li,Li,Cl."),
]
GroupOpt = Annotated[str | None, typer.Option(help="H5MD particle group (default: the only one).")]


def read_options(
    type_map: str | None = None,
    topology: Path | None = None,
    species: str | None = None,
    group: str | None = None,
) -> dict[str, object]:
    """Reader options from the CLI flags that were given (the readers check what applies)."""
    opts: dict[str, object] = {}
    if type_map:
        opts["type_map"] = parse_type_map(type_map)
    if topology is not None:
        opts["topology"] = topology
    if species:
        opts["species"] = species
    if group:
        opts["group"] = group
    return opts


@app.command()
def info(
    file: Annotated[Path, typer.Argument(help="Trajectory file.")],
    format: Annotated[
        str | None, typer.Option(help="File format (default: from the name).")
    ] = None,
    timestep_fs: Annotated[float | None, typer.Option(help="Time between frames, fs.")] = None,
    type_map: Annotated[str | None, typer.Option(help="LAMMPS types, e.g. 1=Li,2=Cl.")] = None,
    topology: TopologyOpt = None,
    species: SpeciesOpt = None,
    group: GroupOpt = None,
) -> None:
    """Print what a trajectory holds: atoms, frames, time, cell.

    Example: solidion info run.h5md
    Example: solidion info run.xtc --topology run.gro
    """
    from rich.console import Console

    from solidion.io import read_trajectory

    opts = read_options(type_map, topology, species, group)
    traj = read_trajectory(file, format=format, timestep_fs=timestep_fs, **opts)
    con = Console(soft_wrap=True)
    con.print(f"[bold]{file}[/bold]: {traj!r}")
    con.print(f"  duration {traj.duration_ps:.3f} ps, volume {traj.volume_A3.mean():.2f} Å³")


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="Input trajectory.")],
    target: Annotated[Path, typer.Argument(help="Output file; format from its name.")],
    format: Annotated[str | None, typer.Option(help="Input format.")] = None,
    to: Annotated[str | None, typer.Option(help="Output format.")] = None,
    timestep_fs: Annotated[float | None, typer.Option(help="Time between frames, fs.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Temperature, K.")] = None,
    type_map: Annotated[str | None, typer.Option(help="LAMMPS types, e.g. 1=Li,2=Cl.")] = None,
    topology: TopologyOpt = None,
    species: SpeciesOpt = None,
    group: GroupOpt = None,
    chunk_frames: Annotated[
        int,
        typer.Option(min=1, help="Frames per chunk when streaming (LAMMPS dump/XYZ → H5MD)."),
    ] = 256,
) -> None:
    """Convert a trajectory between formats (unwrapping on the way).

    A LAMMPS dump, extended XYZ or ASE .traj converted to H5MD is streamed: read, unwrapped
    and written a chunk of frames at a time, so memory does not grow with the file; other
    pairs are read whole. Either way the target appears only when complete.

    Example: solidion convert XDATCAR run.h5md --timestep-fs 20 --temperature 600
    Example: solidion convert big.lammpstrj run.h5md --timestep-fs 20 --type-map 1=Li,2=Cl
    Example: solidion convert run.xtc run.h5md --topology run.gro --temperature 600
    """
    from solidion.io import read_trajectory
    from solidion.io.stream import can_stream, convert_to_h5md

    opts = read_options(type_map, topology, species, group)
    if can_stream(source, target, format=format, to=to):
        summary = convert_to_h5md(
            source,
            target,
            format,
            chunk_frames=chunk_frames,
            timestep_fs=timestep_fs,
            temperature_K=temperature,
            **opts,
        )
        typer.echo(f"wrote {target}: {summary}")
        return
    traj = read_trajectory(
        source, format=format, timestep_fs=timestep_fs, temperature_K=temperature, **opts
    )
    traj.write(target, format=to)
    typer.echo(f"wrote {target}: {traj!r}")


def parse_charges(text: str | None) -> dict[str, float] | None:
    """Parse ``Li=1,Al=3,Cl=-1`` into ``{"Li": 1.0, ...}``."""
    if not text:
        return None
    out: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(
                f"expected Element=charge pairs like Li=1,Cl=-1, got {item!r}",
                param_hint="--charges",
            ) from None
    return out


def _print_transport(res, console) -> None:
    from rich.table import Table

    table = Table(
        title=f"{res.temperature_K:g} K — mobile {res.mobile}, {res.frame} frame, one fit "
        f"window {res.fit_window_ps[0]:.3g}–{res.fit_window_ps[1]:.3g} ps ({res.fit_weights})"
    )
    for col in ("species", "N", "z", "D* (cm²/s)", "fit window (ps)", "t_E", "t_NE", "t_cNE"):
        table.add_column(col, justify="right")
    for s, sp in res.species.items():
        w = sp.fit_window_ps
        table.add_row(
            s,
            str(sp.count),
            f"{sp.charge:+g}",
            format(sp.tracer_diffusivity_cm2_s),
            f"{w[0]:.3g}–{w[1]:.3g}",
            *(
                format(res.transference[k][s], ".2f")
                for k in ("einstein", "nernst_einstein", "cluster_nernst_einstein")
            ),
        )
    console.print(table)
    c = res.conductivity
    console.print(f"  σ_E   {c.einstein} S/cm   (full Einstein, all cross terms)")
    console.print(f"  σ_NE  {c.nernst_einstein} S/cm   σ_cNE {c.cluster_nernst_einstein} S/cm")
    console.print(
        f"  D_σ({res.mobile}) {res.charge_diffusivity} cm²/s   Haven ratio {res.haven_ratio} "
        f"({res.frame} frame)"
    )
    for w in res.warnings:
        console.print(f"  [yellow]warning:[/yellow] {w}")


@app.command()
def analyze(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Trajectory files (one per temperature, or replicas at one temperature)."
        ),
    ],
    mobile: Annotated[str, typer.Option(help="Mobile species.")] = "Li",
    temperature: Annotated[
        list[float] | None,
        typer.Option(help="Temperature(s) in K: one for all files or one per file (600 700 800)."),
    ] = None,
    timestep_fs: Annotated[float | None, typer.Option(help="Time between frames, fs.")] = None,
    format: Annotated[
        str | None, typer.Option(help="File format (default: from the name).")
    ] = None,
    charges: Annotated[
        str | None, typer.Option(help="Formal charges, e.g. Li=1,Al=3,Cl=-1,O=-2.")
    ] = None,
    frame: Annotated[
        str, typer.Option(help="Reference frame: framework, barycentric or lab.")
    ] = "framework",
    type_map: Annotated[str | None, typer.Option(help="LAMMPS types, e.g. 1=Li,2=Cl.")] = None,
    topology: TopologyOpt = None,
    species: SpeciesOpt = None,
    group: GroupOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON.")
    ] = None,
    max_memory_mb: Annotated[
        float | None, typer.Option(help="Memory budget for H5MD files.")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Also write results.json, results.csv and report.html here."),
    ] = None,
) -> None:
    """Transport of one or more trajectories: D*, Onsager matrix, σ three ways, H_R, t_i.

    Example: solidion analyze run600.h5md run700.h5md --temperature 600 700 --json out.json
    """
    import json
    import warnings

    from rich.console import Console

    from solidion.io._atomic import atomic_path
    from solidion.transport import analyze_series

    opts = read_options(type_map, topology, species, group)
    if opts:
        from solidion.io import read_trajectory

        data: list = [
            read_trajectory(f, format=format, timestep_fs=timestep_fs, **opts) for f in files
        ]
    else:
        data = list(files)
    if json_out is not None and not json_out.resolve().parent.is_dir():
        raise typer.BadParameter(f"directory of {json_out} does not exist", param_hint="--json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # they are printed with the table and kept in the JSON
        series = analyze_series(
            data,
            temperature,
            mobile,
            charges=parse_charges(charges),
            frame=frame,
            timestep_fs=timestep_fs,
            format=format,
            max_memory_mb=max_memory_mb,
        )
    console = Console(soft_wrap=True, width=150)
    for res in series.results:
        _print_transport(res, console)
    arr = series.arrhenius_dict()
    if arr is not None:
        fit = series.diffusivity_fit
        console.print(
            f"Arrhenius: E_a = {fit.activation_energy_eV} eV; "
            f"D*({mobile}, 300 K) = {fit.predict(300.0)} cm²/s"
        )
        if series.conductivity_fit is not None:
            console.print(f"           σ_E(300 K) = {series.conductivity_fit.predict(300.0)} S/cm")
    for w in series.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    if json_out is not None:
        payload = series.results[0].to_dict() if len(series.results) == 1 else series.to_dict()
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(payload, indent=2))
        console.print(f"wrote {json_out}")
    if report_dir is not None:
        html = _transport_report(series, data, mobile, report_dir, format, timestep_fs)
        console.print(f"report: {html}")


def _save_structure_plots(series, plots: Path, mobile: str | None) -> list[Path]:
    """PNG figures of a structure analysis (one set per temperature) into ``plots``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from solidion.structure.plots import plot_fragments, plot_polyhedra, plot_rdf
    from solidion.structure.residence import plot_activation, plot_survival

    plots.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, name: str) -> None:
        path = plots / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    for res in series.results:
        tag = f"{res.temperature_K:g}K" if res.temperature_K else "run"
        poly = res.polyhedra
        pairs = [f"{poly.center}-{lig}" for lig in poly.ligands]
        if mobile:
            pairs += [k for k in res.rdf if k.startswith(f"{mobile}-") or k.endswith(f"-{mobile}")]
        for key in dict.fromkeys(k for k in pairs if k in res.rdf):
            fig, ax = plt.subplots(figsize=(4.5, 3.2))
            plot_rdf(res.rdf[key], ax=ax)
            save(fig, f"rdf_{key}_{tag}.png")
        for name, fn, obj in (
            ("polyhedra", plot_polyhedra, poly),
            ("fragments", plot_fragments, res.fragments),
        ):
            fig, ax = plt.subplots(figsize=(4.5, 3.2))
            fn(obj, ax=ax)
            save(fig, f"{name}_{tag}.png")
        if res.residence is not None:
            fig, ax = plt.subplots(figsize=(4.5, 3.2))
            plot_survival(res.residence, ax=ax)
            save(fig, f"residence_{tag}.png")
    if getattr(series, "activation", None):
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        plot_activation(series.activation, ax=ax)
        save(fig, "residence_activation.png")
    return written


@app.command()
def structure(
    files: Annotated[list[Path], typer.Argument(help="Trajectory files (one per temperature).")],
    center: Annotated[
        str, typer.Option(help="Centre of the polyhedra (the framework metal).")
    ] = "Al",
    ligands: Annotated[str, typer.Option(help="Ligand species, comma separated.")] = "Cl,O",
    mobile: Annotated[str | None, typer.Option(help="Mobile species for residence times.")] = "Li",
    temperature: Annotated[
        list[float] | None, typer.Option(help="Temperature(s) in K: one per file (500 600 700).")
    ] = None,
    timestep_fs: Annotated[float | None, typer.Option(help="Time between frames, fs.")] = None,
    format: Annotated[
        str | None, typer.Option(help="File format (default: from the name).")
    ] = None,
    cutoffs: Annotated[
        str | None,
        typer.Option(
            help="Centre–ligand cutoffs in Å, e.g. Cl=2.8,O=2.4 (default: first g(r) minima)."
        ),
    ] = None,
    every: Annotated[int, typer.Option(help="Use every n-th frame for residence times.")] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON.")
    ] = None,
    plots: Annotated[Path | None, typer.Option(help="Directory for PNG figures.")] = None,
) -> None:
    """Local structure and mechanism: g(r), polyhedra, fragments, residence times, ε_a.

    Example: solidion structure run600.h5md run700.h5md --temperature 600 700 --center Al
    --ligands Cl,O --mobile Li --json structure.json --plots figs
    """
    import json
    import warnings

    from rich.console import Console

    from solidion.io import read_trajectory
    from solidion.io._atomic import atomic_path
    from solidion.structure import StructureSeries, analyze_structure, analyze_structure_series

    temps = list(temperature or [])
    if temps and len(temps) not in (1, len(files)):
        raise typer.BadParameter(
            f"{len(temps)} temperatures for {len(files)} files", param_hint="--temperature"
        )
    if every < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--every")
    if json_out is not None and not json_out.resolve().parent.is_dir():
        raise typer.BadParameter(f"directory of {json_out} does not exist", param_hint="--json")
    lig = tuple(x.strip() for x in ligands.split(",") if x.strip())
    cut = parse_charges(cutoffs) if cutoffs else None
    trajs = []
    for i, f in enumerate(files):
        t = temps[i] if len(temps) == len(files) else (temps[0] if temps else None)
        trajs.append(read_trajectory(f, format=format, timestep_fs=timestep_fs, temperature_K=t))
    opts = {
        "center": center,
        "ligands": lig,
        "mobile": mobile,
        "cutoffs": cut,
        "residence_every": every,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(trajs) > 1:
            series = analyze_structure_series(trajs, **opts)
        else:
            series = StructureSeries((analyze_structure(trajs[0], **opts),), {})
    console = Console(soft_wrap=True, width=150)
    for res in series.results:
        poly, frag = res.polyhedra, res.fragments
        head = f"{res.temperature_K:g} K" if res.temperature_K else str(files[0])
        console.print(
            f"[bold]{head}[/bold]: {poly.center} polyhedra (cutoffs "
            + ", ".join(f"{k} {v:.2f} Å" for k, v in poly.cutoffs_A.items())
            + ")"
        )
        console.print(
            "  fractions "
            + "  ".join(f"{k} {v:.3f}" for k, v in poly.fractions.items())
            + f"   mean CN {poly.mean_coordination:.2f}"
        )
        console.print(
            f"  fragments: mean size {frag.mean_size:.2f} "
            + "  bridging "
            + "  ".join(f"{k} {v:.2f}" for k, v in frag.bridging.items())
        )
        if res.residence is not None:
            for label, c in res.residence.classes.items():
                console.print(f"  residence on {poly.center}{label}: τ = {c.tau_ps} ps ({c.model})")
    for label, fit in series.activation.items():
        console.print(f"  ε_a({label}) = {fit.activation_energy_eV} eV")
    for w in dict.fromkeys(str(c.message) for c in caught):
        console.print(f"[yellow]warning:[/yellow] {w}")
    if plots is not None:
        written = _save_structure_plots(series, plots, mobile)
        console.print(f"wrote {len(written)} figures to {plots}")
    if json_out is not None:
        payload = series.results[0].to_dict() if len(series.results) == 1 else series.to_dict()
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(payload, indent=2))
        console.print(f"wrote {json_out}")


@app.command()
def formats() -> None:
    """List the trajectory formats solidion reads and writes, and the extras they need.

    Example: ``solidion formats`` — a format marked "missing" needs the ``pip install`` shown.
    """
    from solidion.io import FORMATS

    typer.echo(f"{'format':<19s} {'mode':<10s} {'file names':<30s} {'needs':<25s} description")
    missing: dict[str, str] = {}
    for spec in FORMATS.values():
        mode = "read/write" if spec.can_write else "read"
        names = " ".join(spec.patterns) or "(format= only)"
        if spec.extra is None:
            needs = "-"
        elif spec.available:
            needs = f"[{spec.extra}] installed"
        else:
            needs = f"[{spec.extra}] missing"
            missing[spec.extra] = spec.install_hint or ""
        typer.echo(f"{spec.name:<19s} {mode:<10s} {names:<30s} {needs:<25s} {spec.description}")
    for extra, hint in missing.items():
        typer.echo(f"to read the formats that need [{extra}]: {hint}")


def _transport_report(series, data, mobile, out_dir: Path, format, timestep_fs) -> Path:
    """results.json/csv + report.html for trajectories analysed by ``solidion analyze``."""
    from solidion.io import read_trajectory
    from solidion.pipeline.results import assemble_results, write_results
    from solidion.report import build_report

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--report {out_dir}: cannot create it ({exc.strerror})") from None
    trajs = [
        read_trajectory(d, format=format, timestep_fs=timestep_fs)
        if isinstance(d, str | Path)
        else d
        for d in data
    ]
    meta = {"formula": None, "cell_formula": None, "n_atoms": trajs[0].n_atoms, "preset": None}
    meta.update(preset_converged=None, potential=None, seed=None)
    js, _ = write_results(assemble_results(series, trajs, mobile, meta=meta), out_dir)
    return build_report(js, out_dir / "report.html")


@app.command("run")
def run_command(
    formula: Annotated[str, typer.Argument(help="Composition, e.g. LiAlCl2.5O0.75.")],
    preset: Annotated[
        str, typer.Option(help="quick, standard, paper, or a preset JSON file.")
    ] = "quick",
    temperatures: Annotated[
        list[float] | None,
        typer.Option("--temperatures", help="Production temperatures in K (600 700 800)."),
    ] = None,
    potential: Annotated[
        str, typer.Option(help="chgnet, sevennet, or a fine-tuned CHGNet checkpoint path.")
    ] = "chgnet",
    n_atoms: Annotated[int | None, typer.Option("--n-atoms", help="Cell size.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default runs/FORMULA).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    force: Annotated[bool, typer.Option(help="Replace a different run in --out.")] = False,
    mobile: Annotated[
        str | None, typer.Option(help="Mobile ion (default: lightest monovalent cation).")
    ] = None,
    until_converged: Annotated[
        bool,
        typer.Option(
            "--until-converged",
            help="Extend the production at each temperature in chunks until the error target "
            "is met (or --budget is spent).",
        ),
    ] = False,
    target_d: Annotated[
        float,
        typer.Option("--target-d", help="Relative 1σ error of D* of the mobile ion to reach."),
    ] = 0.20,
    target_sigma: Annotated[
        float | None,
        typer.Option("--target-sigma", help="Relative 1σ error of σ_E to reach (default: none)."),
    ] = None,
    min_hops: Annotated[
        float, typer.Option("--min-hops", help="Framework-frame hops per mobile ion to reach.")
    ] = 10.0,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget", help="Wall time for the production of this invocation, e.g. 2h or 90m."
        ),
    ] = None,
) -> None:
    """Composition → melt-and-quench → MD at each temperature → transport, structure, report.

    Example: solidion run LiAlCl2.5O0.75 --preset quick --temperatures 600 700 800 --out runs/x
    """
    from solidion.errors import RunInterrupted
    from solidion.pipeline import run_pipeline
    from solidion.pipeline.converge import Target, parse_duration_s

    out_dir = out if out is not None else Path("runs") / formula
    target = None
    if until_converged:
        target = Target(
            diffusivity_rel_err=target_d,
            conductivity_rel_err=target_sigma,
            min_hops_per_ion=min_hops,
            budget_s=None if budget is None else parse_duration_s(budget),
        )
    elif budget is not None or target_sigma is not None:
        raise InputError("--budget and --target-sigma apply with --until-converged only")
    try:
        results = run_pipeline(
            formula,
            preset,
            temperatures=temperatures,
            potential=potential,
            n_atoms=n_atoms,
            seed=seed,
            out_dir=out_dir,
            resume=resume,
            force=force,
            mobile=mobile,
            progress=sys.stderr.isatty(),
            log=lambda m: typer.echo(m, err=True),
            until_converged=target,
        )
    except RunInterrupted as exc:
        typer.echo(f"interrupted: {exc}", err=True)
        typer.echo(f"continue with: solidion run {formula} --out {out_dir} --resume", err=True)
        raise typer.Exit(130) from None
    arr = (results.get("transport") or {}).get("arrhenius") or {}
    sigma = arr.get("conductivity_300K_S_cm") or {}
    converged = all(c["converged"] for c in results.get("convergence") or [])
    if sigma.get("value") is not None:
        typer.echo(
            f"σ(300 K) = {1e3 * sigma['value']:.3g} ± {1e3 * (sigma.get('stderr') or 0):.2g} "
            "mS/cm (Arrhenius extrapolation" + ("" if converged else "; NOT converged") + ")"
        )
    if not converged:
        typer.echo("warning: not converged — read the convergence panel of the report", err=True)
    typer.echo(f"results: {out_dir / 'results.json'}")
    typer.echo(f"report: {out_dir / 'report.html'}")


@app.command("report")
def report_command(
    directory: Annotated[
        Path, typer.Argument(help="A run directory, or a directory of analyze/structure JSON.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default DIRECTORY/report.html).")
    ] = None,
) -> None:
    """Rebuild report.html from stored results (no MD, no analysis).

    Example: solidion report runs/LiAlCl2.5O0.75
    """
    from solidion.report import build_report, load_results

    results = load_results(directory)
    html = build_report(results, out if out is not None else directory / "report.html")
    typer.echo(f"report: {html}")


from solidion.cli_campaign import campaign_app  # noqa: E402  (its commands import dask lazily)

app.add_typer(campaign_app, name="campaign")

from solidion.cli_finetune import finetune_app  # noqa: E402  (torch/chgnet imported lazily)

app.add_typer(finetune_app, name="potential")

#: Options that take several space-separated values (``--temperature 600 700 800``).
_MULTI_VALUE = ("--temperature", "--temperatures")


def _expand_multi_values(argv: list[str]) -> list[str]:
    """Rewrite ``--temperature 600 700`` as ``--temperature 600 --temperature 700``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        out.append(tok)
        i += 1
        if tok in _MULTI_VALUE and i < len(argv):
            out.append(argv[i])
            i += 1
            while i < len(argv) and _is_number(argv[i]):
                out.extend([tok, argv[i]])
                i += 1
    return out


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Usage errors (unknown option, bad value) exit with status 2 through typer; solidion's own
    errors print one ``error:`` line and also return 2.
    """
    # Before torch is imported (commands import it lazily): OpenMP threads waiting for work
    # sleep instead of spinning. CHGNet MD of 294 atoms on 2 cores (issue #17): one process
    # with 2 torch threads, 550-820 atom-steps/s alone, fell to 35 while another process held
    # a core (its threads spin-waited on each other); two single-thread processes gave 1018
    # together. An explicit OMP_WAIT_POLICY is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        args = _expand_multi_values(list(sys.argv[1:] if argv is None else argv))
        app(args=args, standalone_mode=True)
    except SolidionError as exc:
        if _state["verbose"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s status."""
    sys.exit(main())

"""The ``solidion`` command line: parse, call the library, print. Nothing else lives here.

A user mistake (bad file, bad flag value) prints one line ``error: ...`` on stderr and exits with
status 2; ``--verbose`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from solidion.errors import SolidionError

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


@app.command()
def info(
    file: Annotated[Path, typer.Argument(help="Trajectory file.")],
    format: Annotated[
        str | None, typer.Option(help="File format (default: from the name).")
    ] = None,
    timestep_fs: Annotated[float | None, typer.Option(help="Time between frames, fs.")] = None,
    type_map: Annotated[str | None, typer.Option(help="LAMMPS types, e.g. 1=Li,2=Cl.")] = None,
) -> None:
    """Print what a trajectory holds: atoms, frames, time, cell.

    Example: solidion info run.h5md
    """
    from rich.console import Console

    from solidion.io import read_trajectory

    opts = {"type_map": parse_type_map(type_map)} if type_map else {}
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
) -> None:
    """Convert a trajectory between formats (unwrapping on the way).

    Example: solidion convert XDATCAR run.h5md --timestep-fs 20 --temperature 600
    """
    from solidion.io import read_trajectory

    opts = {"type_map": parse_type_map(type_map)} if type_map else {}
    traj = read_trajectory(
        source, format=format, timestep_fs=timestep_fs, temperature_K=temperature, **opts
    )
    traj.write(target, format=to)
    typer.echo(f"wrote {target}: {traj!r}")


@app.command()
def formats() -> None:
    """List the trajectory formats solidion reads and writes."""
    from solidion.io import FORMATS

    for spec in FORMATS.values():
        mode = "read/write" if spec.can_write else "read"
        typer.echo(
            f"{spec.name:<20s} {mode:<11s} {' '.join(spec.patterns):<28s} {spec.description}"
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Usage errors (unknown option, bad value) exit with status 2 through typer; solidion's own
    errors print one ``error:`` line and also return 2.
    """
    try:
        app(args=argv, standalone_mode=True)
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

"""Trajectory readers and writers, one module per format, behind a registry.

``read_trajectory(path)`` picks the format from the file name (or ``format=``), calls that
module's ``read`` and returns a :class:`solidion.Trajectory`. The registry maps a format name to
its module path; modules are imported only when used (anchor: ``ase/io/formats.py``).

A format may need an optional extra (:attr:`FormatSpec.extra`, e.g. MDAnalysis for DCD/XTC);
its module imports it only when reading, and says which ``pip install`` fixes a missing one.

Every format module provides ``read(path, *, timestep_fs=None, temperature_K=None, **options)``
and, where writing makes sense, ``write(traj, path, **options)``. Writers go through
:func:`solidion.io._atomic.atomic_path`, so an interrupted write never leaves a broken file under
the final name.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidion.errors import FormatError, TrajectoryError
from solidion.trajectory import Trajectory

__all__ = [
    "EXTRAS",
    "FORMATS",
    "FormatSpec",
    "detect_format",
    "extra_available",
    "read_trajectory",
    "write_trajectory",
]

#: Optional extras (``pip install 'solidion[NAME]'``) → the module each one installs.
EXTRAS: dict[str, str] = {"mdanalysis": "MDAnalysis"}


def extra_available(extra: str | None) -> bool:
    """Whether an optional extra is installed (checked without importing it)."""
    if extra is None:
        return True
    module = EXTRAS[extra]
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class FormatSpec:
    """A registered trajectory format.

    Attributes:
        name: The name passed as ``format=``.
        module: Import path of the module implementing ``read``/``write``.
        patterns: Lower-case file-name endings (or exact names) that select this format.
        can_write: Whether the module has a writer.
        description: One line for ``solidion formats``.
        extra: The optional extra the format needs (``pip install 'solidion[EXTRA]'``), or
            None when the base install reads it.
        read_options: Fixed keyword arguments for the module's ``read`` (a module serving
            several formats learns which one), before the caller's options.
    """

    name: str
    module: str
    patterns: tuple[str, ...]
    can_write: bool
    description: str
    extra: str | None = None
    read_options: tuple[tuple[str, Any], ...] = ()

    @property
    def available(self) -> bool:
        """Whether the extra this format needs is installed."""
        return extra_available(self.extra)

    @property
    def install_hint(self) -> str | None:
        """The command that installs the missing extra, or None."""
        return None if self.extra is None else f"pip install 'solidion[{self.extra}]'"

    def load(self) -> Any:
        return importlib.import_module(self.module)


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "h5md",
            "solidion.io.h5md",
            (".h5md", ".h5"),
            True,
            "H5MD (HDF5), lazy frame/atom slices, append",
        ),
        FormatSpec(
            "extxyz",
            "solidion.io.ase_formats",
            (".extxyz", ".xyz"),
            True,
            "extended XYZ through ase.io",
        ),
        FormatSpec(
            "ase-traj",
            "solidion.io.ase_formats",
            (".traj",),
            True,
            "ASE trajectory (.traj) through ase.io",
        ),
        FormatSpec(
            "xdatcar",
            "solidion.io.xdatcar",
            ("xdatcar", ".xdatcar"),
            True,
            "VASP XDATCAR, fixed or variable cell",
        ),
        FormatSpec(
            "lammps-dump",
            "solidion.io.lammps",
            (".dump", ".lammpstrj", ".lammpsdump"),
            True,
            "LAMMPS text dump (custom: id type x y z | xu yu zu | x y z ix iy iz)",
        ),
        FormatSpec(
            "pymatgen-diffusion",
            "solidion.io.pymatgen_json",
            (".json",),
            False,
            "serialized pymatgen DiffusionAnalyzer (structure + displacements)",
        ),
        FormatSpec(
            "vasprun",
            "solidion.io.vasprun",
            ("vasprun*.xml", "vasprun*.xml.gz"),
            False,
            "VASP vasprun.xml of an MD run (AIMD or ML force field); time step and T from it",
        ),
        FormatSpec(
            "espresso-out",
            "solidion.io.espresso",
            (".pwo",),
            False,
            "Quantum ESPRESSO pw.x output of calculation='md'; time step from it",
        ),
        FormatSpec(
            "cp2k-dcd",
            "solidion.io.cp2k",
            (),
            False,
            "CP2K DCD trajectory (needs topology=); time step from its header",
        ),
        FormatSpec(
            "dcd",
            "solidion.io.mdanalysis",
            (".dcd",),
            False,
            "DCD (CHARMM/NAMD/LAMMPS) with topology=; CP2K's DCD needs no extra",
            extra="mdanalysis",
            read_options=(("format", "dcd"),),
        ),
        FormatSpec(
            "xtc",
            "solidion.io.mdanalysis",
            (".xtc",),
            False,
            "GROMACS XTC with topology=",
            extra="mdanalysis",
            read_options=(("format", "xtc"),),
        ),
        FormatSpec(
            "trr",
            "solidion.io.mdanalysis",
            (".trr",),
            False,
            "GROMACS TRR with topology=",
            extra="mdanalysis",
            read_options=(("format", "trr"),),
        ),
        FormatSpec(
            "netcdf",
            "solidion.io.mdanalysis",
            (".ncdf", ".nc"),
            False,
            "AMBER NetCDF trajectory with topology=",
            extra="mdanalysis",
            read_options=(("format", "netcdf"),),
        ),
        FormatSpec(
            "mdanalysis",
            "solidion.io.mdanalysis",
            (),
            False,
            "any trajectory MDAnalysis reads (format from the suffix), with topology=",
            extra="mdanalysis",
            read_options=(("format", "mdanalysis"),),
        ),
    )
}


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess the format name from a file name.

    Raises:
        FormatError: If no registered format matches.
    """
    name = Path(path).name.lower()
    for spec in FORMATS.values():
        for pat in spec.patterns:
            if "*" in pat:
                if fnmatch.fnmatchcase(name, pat):
                    return spec.name
            elif name.endswith(pat) or (not pat.startswith(".") and pat in name):
                return spec.name
    known = ", ".join(FORMATS)
    raise FormatError(
        f"cannot tell the format from the file name; pass format= one of: {known}", path=path
    )


def _spec(format: str | None, path: str | os.PathLike[str]) -> FormatSpec:
    name = format or detect_format(path)
    try:
        return FORMATS[name]
    except KeyError:
        raise FormatError(
            f"unknown format {name!r}; known: {', '.join(FORMATS)}", path=path
        ) from None


def read_trajectory(
    path: str | os.PathLike[str],
    format: str | None = None,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    **options: Any,
) -> Trajectory:
    """Read a trajectory file into a :class:`~solidion.Trajectory`.

    Args:
        path: The file.
        format: A name from :data:`FORMATS`; guessed from the file name when omitted.
        timestep_fs: Time between stored frames in fs. Required for formats that do not store
            it (XDATCAR, LAMMPS dump, XYZ without a time); overrides the file's value otherwise.
        temperature_K: Simulation temperature in K; overrides the file's value.
        **options: Format options, e.g. ``type_map={1: "Li"}`` for LAMMPS, or
            ``frames=slice(...)``/``atoms=[...]`` for H5MD, or ``topology=`` (and
            ``type_map``) for DCD, XTC, TRR and NetCDF.

    Raises:
        TrajectoryError: If the file is missing, unreadable or physically unusable; the message
            names the file and the frame.
        FormatError: If the format needs an optional extra that is not installed; the message
            names the ``pip install`` command.
    """
    p = Path(path)
    spec = _spec(format, p)
    if not p.exists():
        raise TrajectoryError("no such file", path=p)
    if p.is_dir():
        raise TrajectoryError("is a directory, not a trajectory file", path=p)
    return spec.load().read(
        p,
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        **{**dict(spec.read_options), **options},
    )


def write_trajectory(
    traj: Trajectory, path: str | os.PathLike[str], format: str | None = None, **options: Any
) -> None:
    """Write a trajectory; the format is guessed from the file name when omitted.

    Raises:
        FormatError: If the format is unknown or cannot be written.
    """
    p = Path(path)
    spec = _spec(format, p)
    if not spec.can_write:
        raise FormatError(f"format {spec.name!r} is read-only", path=p)
    spec.load().write(traj, p, format=spec.name, **options)

"""A serialized pymatgen ``DiffusionAnalyzer`` (JSON): starting structure + displacements.

This is the layout of pymatgen-analysis-diffusion's test data and of
``DiffusionAnalyzer.as_dict()``:
``structure`` (lattice matrix and sites with Cartesian ``xyz``), ``displacements``
(sites, frames, 3) in Å, unwrapped and relative to the start, ``temperature`` (K),
``time_step`` (fs, MD step) and ``step_skip`` (MD steps between frames). Positions are
``xyz + displacements``. Read with :func:`json.load` only: nothing in the file is executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import TrajectoryError
from solidion.trajectory import Trajectory

__all__ = ["read"]


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    **_: Any,
) -> Trajectory:
    """Read a serialized DiffusionAnalyzer into a :class:`Trajectory`.

    Raises:
        TrajectoryError: Not JSON, keys missing, or arrays of inconsistent shape.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            d = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrajectoryError(f"not valid JSON ({exc})", path=p) from None
    try:
        lattice = np.asarray(d["structure"]["lattice"]["matrix"], dtype=np.float64)
        sites = d["structure"]["sites"]
        symbols = [max(s["species"], key=lambda sp: sp.get("occu", 1))["element"] for s in sites]
        xyz = np.asarray([s["xyz"] for s in sites], dtype=np.float64)
        disp = np.asarray(d["displacements"], dtype=np.float64)
        dt = (
            float(timestep_fs)
            if timestep_fs is not None
            else float(d["time_step"]) * int(d.get("step_skip", 1))
        )
        temp = float(temperature_K) if temperature_K is not None else d.get("temperature")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise TrajectoryError(
            f"not a serialized DiffusionAnalyzer (missing or bad entry {exc})", path=p
        ) from None
    if disp.ndim != 3 or disp.shape[0] != len(symbols) or disp.shape[2] != 3:
        raise TrajectoryError(
            f"displacements have shape {disp.shape}, expected ({len(symbols)}, frames, 3)", path=p
        )
    positions = xyz[None, :, :] + np.transpose(disp, (1, 0, 2))
    meta = {"source": str(p), "format": "pymatgen-diffusion", "mobile": d.get("specie")}
    return Trajectory(tuple(symbols), positions, lattice, dt, temp, meta)

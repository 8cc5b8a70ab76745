"""solidion: predict and explain ionic conductivity in solid electrolytes.

Heavy dependencies (torch, chgnet, matplotlib, dask) are imported lazily by the modules that
need them, so importing solidion and running its analyses starts fast.
"""

from __future__ import annotations

from solidion.errors import AnalysisError, InputError, SolidionError, TrajectoryError
from solidion.io import read_trajectory, write_trajectory
from solidion.trajectory import Trajectory

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "InputError",
    "SolidionError",
    "Trajectory",
    "TrajectoryError",
    "__version__",
    "read_trajectory",
    "write_trajectory",
]

"""The main job: ``solidion run FORMULA`` from composition to conductivity report.

Stages are plain functions on paths (:mod:`solidion.pipeline.stages`) so campaigns can run them
as Dask tasks; :func:`run_pipeline` chains them for one composition.
"""

from __future__ import annotations

from solidion.pipeline.results import analyze_runs, write_results
from solidion.pipeline.run import resolve_preset, run_pipeline
from solidion.pipeline.stages import (
    build_stage,
    glass_stage,
    production_stage,
    seed_for,
    species_roles,
)

__all__ = [
    "analyze_runs",
    "build_stage",
    "glass_stage",
    "production_stage",
    "resolve_preset",
    "run_pipeline",
    "seed_for",
    "species_roles",
    "write_results",
]

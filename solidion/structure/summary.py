"""One call for the whole structure analysis of a trajectory, and across temperatures.

``analyze_structure`` runs, on one trajectory: g(r) and N(r) of every species pair (on up to
``rdf_frames`` frames), the polyhedra of ``center`` and their fragments (on up to
``polyhedra_frames`` frames), and — when a mobile species is given — its residence times by host
environment (on every ``residence_every``-th frame). ``analyze_structure_series`` adds, over
several temperatures, the Arrhenius fit of 1/τ per environment (ε_a).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from solidion.errors import InputError
from solidion.structure.polyhedra import FragmentResult, PolyhedraResult, fragments, polyhedra
from solidion.structure.rdf import RDFResult, rdf_all_pairs
from solidion.structure.residence import (
    ResidenceResult,
    activation_to_dict,
    residence_activation,
    residence_times,
)
from solidion.trajectory import Trajectory
from solidion.transport.arrhenius import ArrheniusFit

__all__ = ["StructureResult", "StructureSeries", "analyze_structure", "analyze_structure_series"]


@dataclass(frozen=True)
class StructureResult:
    """g(r), polyhedra, fragments and residence times of one trajectory."""

    temperature_K: float | None
    rdf: dict[str, RDFResult]
    polyhedra: PolyhedraResult
    fragments: FragmentResult
    residence: ResidenceResult | None

    def to_dict(self) -> dict[str, Any]:
        """JSON with the keys ``rdf``, ``polyhedra``, ``fragments``, ``residence``."""
        return {
            "temperature_K": self.temperature_K,
            "rdf": {k: v.to_dict() for k, v in self.rdf.items()},
            "polyhedra": self.polyhedra.to_dict(),
            "fragments": self.fragments.to_dict(),
            "residence": None if self.residence is None else self.residence.to_dict(),
        }


@dataclass(frozen=True)
class StructureSeries:
    """Structure results at several temperatures and ε_a per environment."""

    results: tuple[StructureResult, ...]
    activation: dict[str, ArrheniusFit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "residence_activation_eV": activation_to_dict(self.activation),
        }


def _spread(n_frames: int, n_max: int) -> list[int]:
    return np.unique(np.linspace(0, n_frames - 1, min(n_max, n_frames)).astype(int)).tolist()


def analyze_structure(
    traj: Trajectory,
    *,
    center: str | None = "Al",
    ligands: Sequence[str] = ("Cl", "O"),
    mobile: str | None = "Li",
    cutoffs: Mapping[str, float] | None = None,
    rdf_frames: int = 50,
    polyhedra_frames: int = 200,
    residence_every: int = 1,
    tolerance_ps: float = 0.0,
) -> StructureResult:
    """The structure analysis of one trajectory (see the module docstring).

    Raises:
        InputError: Absent species, bad cutoffs, a trajectory too short for residence times.
    """
    for s in [center, mobile, *ligands]:
        if s is not None and s not in traj.symbols:
            raise InputError(
                f"species {s!r} is not in the trajectory (it has {', '.join(traj.species)})"
            )
    g = rdf_all_pairs(traj, frames=_spread(traj.n_frames, rdf_frames))
    frames = _spread(traj.n_frames, polyhedra_frames)
    poly = polyhedra(traj, center=center, ligands=ligands, cutoffs=cutoffs, frames=frames)
    frag = fragments(
        traj, center=poly.center, ligands=ligands, cutoffs=poly.cutoffs_A, frames=frames
    )
    res = None
    if mobile is not None:
        res = residence_times(
            traj,
            mobile=mobile,
            center=poly.center,
            ligands=ligands,
            cutoffs=poly.cutoffs_A,
            every=residence_every,
            tolerance_ps=tolerance_ps,
            temperature_K=traj.temperature_K,
        )
    return StructureResult(traj.temperature_K, g, poly, frag, res)


def analyze_structure_series(trajs: Sequence[Trajectory], **options: Any) -> StructureSeries:
    """:func:`analyze_structure` per trajectory, then ε_a per environment from 1/τ(T).

    Raises:
        InputError: When a trajectory has no temperature, or two share one.
    """
    temps = [t.temperature_K for t in trajs]
    if any(t is None for t in temps):
        raise InputError("every trajectory needs a temperature for the ε_a fit (--temperature)")
    if len(set(temps)) != len(temps):
        raise InputError(f"temperatures must differ across files, got {temps}")
    results = tuple(
        analyze_structure(t, **options) for t in sorted(trajs, key=lambda t: t.temperature_K)
    )
    residences = [r.residence for r in results if r.residence is not None]
    fits = residence_activation(residences) if residences else {}
    return StructureSeries(results, fits)

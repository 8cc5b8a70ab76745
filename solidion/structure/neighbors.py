"""Shared neighbour primitives of the structure analyses: ligand shells and environment labels.

A *ligand shell* of a centre atom M is the set of anions within the cutoff of their species pair
(M–Cl, M–O, ...). The environment label of a polyhedron lists its ligands in the order given
(``("Cl", "O")`` → ``"Cl3O1"``), zeros included, so that tetrahedra read MX_nO_(4−n) as in the
reference study (Binci, Jun et al. 2026).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from solidion.errors import InputError
from solidion.structure.rdf import first_minimum, max_rdf_radius, pair_distances, rdf
from solidion.trajectory import Trajectory

__all__ = ["default_cutoffs", "environment_label", "ligand_shells", "wrap"]


def wrap(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Positions of one frame wrapped into the cell (fractional coordinates in [0, 1))."""
    frac = positions @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def ligand_shells(
    wrapped: np.ndarray,
    cell: np.ndarray,
    center_idx: np.ndarray,
    ligand_idx: Mapping[str, np.ndarray],
    cutoffs_A: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre–ligand bonds of one frame.

    Args:
        wrapped: Positions (n_atoms, 3) in Å.
        cell: Lattice vectors as rows (3, 3).
        center_idx: Atom indices of the centres.
        ligand_idx: ``{"Cl": indices, "O": indices}``.
        cutoffs_A: ``{"Cl": r_cut, "O": r_cut}`` per ligand species, in Å.

    Returns:
        ``(center, ligand, distance)`` arrays, one entry per bond, sorted by centre then
        distance.

    Raises:
        InputError: If a cutoff exceeds half the smallest cell width (self-images would count).
    """
    limit = max_rdf_radius(cell)
    centers, ligands, dists = [], [], []
    for name, idx in ligand_idx.items():
        rc = float(cutoffs_A[name])
        if not 0 < rc <= limit:
            raise InputError(
                f"cutoff for {name} ({rc} Å) must be positive and at most half the cell width "
                f"({limit:.3f} Å)"
            )
        i, j, d = pair_distances(wrapped, cell, np.asarray(center_idx), np.asarray(idx), rc)
        centers.append(i)
        ligands.append(j)
        dists.append(d)
    c = np.concatenate(centers) if centers else np.zeros(0, np.intp)
    lig = np.concatenate(ligands) if ligands else np.zeros(0, np.intp)
    d = np.concatenate(dists) if dists else np.zeros(0)
    order = np.lexsort((d, c))
    return c[order], lig[order], d[order]


def environment_label(counts: Mapping[str, int], ligands: Sequence[str]) -> str:
    """``{"Cl": 3, "O": 1}`` with ligands ``("Cl", "O")`` → ``"Cl3O1"``; zeros are written too.

    Example:
        >>> environment_label({"Cl": 4}, ("Cl", "O"))
        'Cl4O0'
    """
    return "".join(f"{s}{int(counts.get(s, 0))}" for s in ligands)


def default_cutoffs(
    traj: Trajectory, center: str, ligands: Sequence[str], *, max_frames: int = 20
) -> dict[str, float]:
    """First g(r) minimum of each centre–ligand pair (the first coordination shell), in Å.

    Raises:
        InputError: When a pair has no clear first shell (pass the cutoffs explicitly).
    """
    r_max = min(6.0, min(max_rdf_radius(c) for c in traj.cells[:: max(1, traj.n_frames // 10)]))
    out = {}
    for lig in ligands:
        res = rdf(traj, center, lig, r_max=r_max, n_bins=240, max_frames=max_frames)
        rc = first_minimum(res.r_A, res.g)
        if rc is None:
            raise InputError(
                f"g({center}-{lig}) has no clear first coordination shell within {r_max:.2f} Å; "
                f"pass cutoffs={{'{lig}': r}} explicitly"
            )
        out[lig] = rc
    return out

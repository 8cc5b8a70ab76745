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
from solidion.structure.rdf import (
    cell_widths,
    first_minimum,
    max_rdf_radius,
    pair_distances,
    rdf,
)
from solidion.trajectory import Trajectory

__all__ = [
    "default_cutoffs",
    "environment_label",
    "frame_chunk",
    "half_widths",
    "ligand_shells",
    "min_image_distances",
    "wrap",
]

#: Largest number of float64 values in one temporary array of the dense distance kernel.
CHUNK_VALUES = 4_000_000


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


def environment_label(
    counts: Mapping[str, int], ligands: Sequence[str], *, drop_zeros: bool = False
) -> str:
    """``{"Cl": 3, "O": 1}`` with ligands ``("Cl", "O")`` → ``"Cl3O1"``; zeros are written too.

    With ``drop_zeros=True`` ligands with a zero count are left out (``"Cl4"``, ``"O4"``), and a
    centre without ligands gets ``""``.

    Example:
        >>> environment_label({"Cl": 4}, ("Cl", "O"))
        'Cl4O0'
        >>> environment_label({"Cl": 4}, ("Cl", "O"), drop_zeros=True)
        'Cl4'
    """
    return "".join(
        f"{s}{int(counts.get(s, 0))}"
        for s in ligands
        if not (drop_zeros and int(counts.get(s, 0)) == 0)
    )


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


# -- dense minimum-image kernel ----------------------------------------------------------------
def half_widths(cells: np.ndarray) -> np.ndarray:
    """Half the smallest perpendicular width of each cell, shape (n,) for cells (n, 3, 3).

    A sphere of this radius holds no periodic image of its centre, so it is the largest cutoff
    for which minimum-image distances are unique.

    Example:
        >>> half_widths(np.diag([10.0, 12.0, 14.0])[None]).round(9).tolist()
        [5.0]
    """
    return 0.5 * cell_widths(np.asarray(cells, dtype=np.float64).reshape(-1, 3, 3)).min(axis=-1)


def min_image_distances(xa: np.ndarray, xb: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Dense minimum-image distances between two groups, for many frames at once.

    The fractional difference vector is rounded to the nearest lattice vector. For any pair
    whose true minimum-image distance d is at most half the smallest perpendicular cell width w
    this *is* the minimum image, in any (triclinic) cell: each fractional component of the true
    vector is |d·b_k| ≤ d/w_k ≤ 1/2 (b_k the reciprocal vectors, |b_k| = 1/w_k). Pairs farther
    apart come out at least as far, so every distance up to :func:`half_widths` is exact and
    nothing beyond it can pass for a closer pair. Compared with a neighbour list this costs
    O(N_a N_b) per frame but is vectorised over frames, which for the few hundred atoms of an
    MD cell is far faster than building one list per frame.

    Args:
        xa: Positions (n_frames, n_a, 3) in Å (wrapped or unwrapped).
        xb: Positions (n_frames, n_b, 3) in Å.
        cells: Lattice vectors as rows, (n_frames, 3, 3) or (3, 3).

    Returns:
        Distances (n_frames, n_a, n_b) in Å.

    Example:
        >>> a = np.array([[[0.5, 0.0, 0.0]]]); b = np.array([[[9.5, 0.0, 0.0]]])
        >>> min_image_distances(a, b, np.eye(3) * 10).round(12).tolist()
        [[[1.0]]]
    """
    xa = np.asarray(xa, dtype=np.float64)
    xb = np.asarray(xb, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.float64)
    cells = np.broadcast_to(cells, (xa.shape[0], 3, 3)) if cells.ndim == 2 else cells
    inv = np.linalg.inv(cells)
    d = xb[:, None, :, :] - xa[:, :, None, :]
    frac = d @ inv[:, None]
    frac -= np.rint(frac)
    d = frac @ cells[:, None]
    return np.sqrt(np.einsum("fabk,fabk->fab", d, d))


def frame_chunk(n_values_per_frame: int) -> int:
    """Frames per batch so that one dense (frames × values × 3) array stays below the bound."""
    return max(1, CHUNK_VALUES // max(1, 3 * n_values_per_frame))

"""Ion clusters for the cluster Nernst–Einstein conductivity.

France-Lanord & Grossman, Phys. Rev. Lett. 122, 136001 (2019) replace the free ions of the
Nernst–Einstein equation by the clusters the ions form:

.. math::
    \\sigma_{cNE} = \\frac{e^2}{V k_B T}\\sum_c \\langle N_c\\rangle z_c^2 D_c

where c runs over cluster *types* (compositions), N_c is the mean number of clusters of that
type, z_c their net charge and D_c the diffusivity of their centre of mass. A neutral cluster
carries no current however fast it moves.

Definition used here (configurable): two ions belong to one cluster when their distance is below
the cutoff of their species pair — by default the pairs of the mobile ion with every species of
opposite charge sign, with the cutoff at the first minimum of the pair g(r) (the first
coordination shell). Clusters are the connected components of that bond graph; ions of
species that take part in no pair are free ions (clusters of one). A cluster is identified at a
time origin t₀ and followed with fixed membership: D_c is one sixth of the slope of the
mean-squared displacement of its mass-weighted centre over the lags of the fit window (the
displacement is taken in the same reference frame as every other transport number). Species
transference numbers follow as t_i = Σ_c n_ic z_i z_c N_c D_c / Σ_c z_c² N_c D_c.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from solidion.structure.rdf import pair_distances

__all__ = ["ClusterTypes", "cluster_block_statistics", "cluster_labels"]


def cluster_labels(
    wrapped: np.ndarray,
    cell: np.ndarray,
    species_index: np.ndarray,
    cutoffs: Mapping[tuple[int, int], float],
) -> np.ndarray:
    """Connected-component label of every atom for one frame.

    Args:
        wrapped: Positions (n_atoms, 3) in Å (wrapping does not matter).
        cell: (3, 3) lattice vectors as rows.
        species_index: Species number of each atom (n_atoms,).
        cutoffs: ``{(si, sj): r_cut}`` bond cutoffs in Å between species numbers.

    Returns:
        Labels (n_atoms,); atoms sharing a label form one cluster.
    """
    n = wrapped.shape[0]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for (si, sj), rc in cutoffs.items():
        ia = np.flatnonzero(species_index == si)
        ib = np.flatnonzero(species_index == sj)
        if ia.size == 0 or ib.size == 0:
            continue
        i, j, _ = pair_distances(wrapped, cell, ia, ib, rc)
        rows.append(i)
        cols.append(j)
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
    else:
        r = c = np.zeros(0, dtype=np.intp)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


@dataclass
class ClusterTypes:
    """Registry of cluster compositions met so far (counts per species, net charge)."""

    species: tuple[str, ...]
    charges: np.ndarray

    def __post_init__(self) -> None:
        self.keys: list[tuple[int, ...]] = []
        self._index: dict[tuple[int, ...], int] = {}

    def index(self, composition: tuple[int, ...]) -> int:
        if composition not in self._index:
            self._index[composition] = len(self.keys)
            self.keys.append(composition)
        return self._index[composition]

    def name(self, k: int) -> str:
        return "".join(f"{s}{n}" for s, n in zip(self.species, self.keys[k], strict=True) if n)

    def net_charge(self, k: int) -> float:
        return float(np.dot(self.keys[k], self.charges))

    def composition(self, k: int) -> np.ndarray:
        return np.asarray(self.keys[k], dtype=np.float64)


def cluster_block_statistics(
    frames: Callable[[Sequence[int]], np.ndarray],
    cells: np.ndarray,
    ref: np.ndarray,
    species_index: np.ndarray,
    masses: np.ndarray,
    cutoffs: Mapping[tuple[int, int], float],
    types: ClusterTypes,
    block_start: int,
    block_len: int,
    lags: np.ndarray,
    n_origins: int,
    timestep_ps: float,
) -> dict[int, tuple[float, float]]:
    """Mean count and centre-of-mass diffusivity of each cluster type in one block.

    Args:
        frames: Returns unwrapped positions (k, n_atoms, 3) of the requested frames.
        cells: Cell per frame (n_frames, 3, 3).
        ref: Reference-frame drift per frame (n_frames, 3) subtracted from displacements.
        species_index: Species number of each atom.
        masses: Atomic masses (n_atoms,).
        cutoffs: Bond cutoffs between species numbers.
        types: Registry updated with new compositions.
        block_start: First frame of the block.
        block_len: Frames in the block.
        lags: Lags (frames) of the fit window, increasing, ``lags[-1] < block_len``.
        n_origins: Time origins sampled in the block.
        timestep_ps: Time between frames in ps.

    Returns:
        ``{type_index: (mean number of clusters, D in Å²/ps)}``.
    """
    last = block_len - 1 - int(lags[-1])
    origins = block_start + np.unique(np.linspace(0, max(last, 0), n_origins).astype(int))
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for t0 in origins:
        want = [int(t0), *(int(t0 + lag) for lag in lags)]
        pos = frames(want)
        cell = cells[t0]
        frac = pos[0] @ np.linalg.inv(cell)
        labels = cluster_labels((frac - np.floor(frac)) @ cell, cell, species_index, cutoffs)
        n_lab = labels.max() + 1
        comp = np.zeros((n_lab, len(types.species)), dtype=np.int64)
        np.add.at(comp, (labels, species_index), 1)
        mass_c = np.bincount(labels, weights=masses, minlength=n_lab)
        disp = pos[1:] - pos[0] - (ref[want[1:]] - ref[t0])[:, None, :]  # (n_lags, n_atoms, 3)
        com = np.zeros((lags.size, n_lab, 3))
        for k in range(3):
            for li in range(lags.size):
                com[li, :, k] = np.bincount(
                    labels, weights=masses * disp[li, :, k], minlength=n_lab
                )
        com /= mass_c[None, :, None]
        sq = (com**2).sum(axis=-1)  # (n_lags, n_lab)
        type_of = np.array([types.index(tuple(row)) for row in comp])
        for k in np.unique(type_of):
            sel = type_of == k
            sums[k] = sums.get(k, np.zeros(lags.size)) + sq[:, sel].sum(axis=1)
            counts[k] = counts.get(k, 0) + int(sel.sum())
    out: dict[int, tuple[float, float]] = {}
    t_ps = lags * timestep_ps
    for k, s in sums.items():
        msd = s / counts[k]
        slope = np.polyfit(t_ps, msd, 1)[0] if lags.size > 1 else msd[0] / t_ps[0]
        out[k] = (counts[k] / origins.size, slope / 6.0)
    return out

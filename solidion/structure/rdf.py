"""Radial distribution function g_AB(r) and running coordination number N_AB(r).

.. math::
    g_{AB}(r) = \\frac{V}{N_A N_B'}\\,\\frac{\\langle n_{AB}(r, r+\\delta r)\\rangle}{4\\pi r^2\\delta r},
    \\qquad N_{AB}(r) = \\frac{N_B'}{V}\\int_0^r 4\\pi s^2 g_{AB}(s)\\,ds

with N_B' = N_B − 1 when A = B (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed.,
§8.2). Pairs are found with ASE's periodic neighbour list, so orthorhombic and triclinic cells
both work; the shell volumes use the exact sphere, valid up to half the smallest perpendicular
width of the cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solidion.errors import InputError
from solidion.trajectory import Trajectory

__all__ = ["RDFResult", "first_minimum", "max_rdf_radius", "pair_distances", "rdf"]


@dataclass(frozen=True)
class RDFResult:
    """g(r) and N(r) of one species pair.

    Attributes:
        pair: ``(A, B)``.
        r_A: Bin centres in Å.
        g: g_AB(r).
        coordination: Running coordination number N_AB(r) at the bin upper edges.
        n_frames: Frames averaged.
    """

    pair: tuple[str, str]
    r_A: np.ndarray
    g: np.ndarray
    coordination: np.ndarray
    n_frames: int

    def first_minimum_A(self) -> float | None:
        """Position of the first minimum after the first peak (see :func:`first_minimum`)."""
        return first_minimum(self.r_A, self.g)

    def to_dict(self) -> dict[str, object]:
        return {
            "pair": list(self.pair),
            "r_A": self.r_A.tolist(),
            "g": self.g.tolist(),
            "coordination": self.coordination.tolist(),
            "n_frames": self.n_frames,
        }


def max_rdf_radius(cell: np.ndarray) -> float:
    """Half the smallest perpendicular width of the cell (largest radius without self-images)."""
    cell = np.asarray(cell, dtype=np.float64)
    vol = abs(np.linalg.det(cell))
    widths = [vol / np.linalg.norm(np.cross(cell[i], cell[j])) for i, j in ((1, 2), (2, 0), (0, 1))]
    return 0.5 * min(widths)


def pair_distances(
    positions: np.ndarray, cell: np.ndarray, ia: np.ndarray, ib: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All periodic pairs (i in ``ia``, j in ``ib``, i ≠ j) closer than ``r_max``.

    Returns:
        ``(i, j, d)``: atom indices (into ``positions``) and distances in Å.
    """
    from ase.neighborlist import primitive_neighbor_list

    i, j, d = primitive_neighbor_list(
        "ijd",
        (True, True, True),
        np.asarray(cell),
        np.asarray(positions),
        r_max,
        self_interaction=False,
        use_scaled_positions=False,
    )
    in_a = np.zeros(positions.shape[0], bool)
    in_a[ia] = True
    in_b = np.zeros(positions.shape[0], bool)
    in_b[ib] = True
    keep = in_a[i] & in_b[j]
    return i[keep], j[keep], d[keep]


def rdf(
    traj: Trajectory,
    a: str,
    b: str,
    *,
    r_max: float | None = None,
    n_bins: int = 200,
    frames: Sequence[int] | None = None,
    max_frames: int = 50,
) -> RDFResult:
    """g_AB(r) and N_AB(r) averaged over frames.

    Args:
        traj: The trajectory.
        a: Central species.
        b: Neighbour species.
        r_max: Largest radius in Å (default and upper limit: half the smallest cell width).
        n_bins: Histogram bins.
        frames: Frames to average; default ``max_frames`` evenly spaced frames.
        max_frames: Frames used when ``frames`` is not given.

    Raises:
        InputError: Unknown species, or r_max beyond half the cell width.
    """
    ia, ib = traj.indices(a), traj.indices(b)
    limit = min(max_rdf_radius(c) for c in traj.cells[:: max(1, traj.n_frames // 20)])
    r_max = limit if r_max is None else float(r_max)
    if not 0 < r_max <= limit + 1e-9:
        raise InputError(f"r_max must be in (0, {limit:.3f}] Å for this cell, got {r_max}")
    if frames is None:
        frames = np.unique(
            np.linspace(0, traj.n_frames - 1, min(max_frames, traj.n_frames)).astype(int)
        )
    edges = np.linspace(0.0, r_max, n_bins + 1)
    hist = np.zeros(n_bins)
    nb_eff = ib.size - (1 if a == b else 0)
    if nb_eff <= 0:
        raise InputError(f"g({a}-{b}) needs at least two {b} atoms")
    density = 0.0
    wrapped_all = traj.wrapped_positions()
    for f in frames:
        cell = traj.cells[f]
        _, _, d = pair_distances(wrapped_all[f], cell, ia, ib, r_max)
        hist += np.histogram(d, bins=edges)[0]
        density += nb_eff / abs(np.linalg.det(cell))
    n_fr = len(frames)
    density /= n_fr
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    per_atom = hist / (n_fr * ia.size)
    g = per_atom / (density * shell)
    return RDFResult((a, b), 0.5 * (edges[1:] + edges[:-1]), g, np.cumsum(per_atom), n_fr)


def first_minimum(
    r: np.ndarray, g: np.ndarray, *, smooth_A: float = 0.15, min_peak: float = 1.5
) -> float | None:
    """First minimum of g(r) after its first peak, robust to histogram noise.

    g is smoothed with a Gaussian of width ``smooth_A``; the first-shell peak is the highest
    maximum of the smoothed curve (in ionic solids and melts the first shell dominates, and
    single stray counts at small r, where shells are tiny, cannot pose as a peak), and must rise
    above ``min_peak`` (noise on an ideal-gas g(r) = 1 does not); the minimum is the lowest
    point between it and the next maximum.

    Returns:
        r of the minimum in Å, or None when g has no such peak followed by a minimum.

    Example:
        >>> r = np.linspace(0.05, 6, 120)
        >>> g = 1 + 2 * np.exp(-((r - 2) / 0.3) ** 2) - 0.8 * np.exp(-((r - 3) / 0.4) ** 2)
        >>> round(first_minimum(r, g), 1)
        3.0
    """
    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    dr = r[1] - r[0]
    width = max(1, int(round(smooth_A / dr)))
    k = np.arange(-3 * width, 3 * width + 1)
    kernel = np.exp(-0.5 * (k / width) ** 2)
    kernel /= kernel.sum()
    gs = np.convolve(np.pad(g, 3 * width, mode="edge"), kernel, mode="valid")
    interior = np.arange(1, gs.size - 1)
    maxima = interior[(gs[interior] > gs[interior - 1]) & (gs[interior] >= gs[interior + 1])]
    if maxima.size == 0:
        return None
    peak = int(maxima[np.argmax(gs[maxima])])
    if gs[peak] <= min_peak:
        return None
    later = maxima[maxima > peak]
    stop = int(later[0]) if later.size else gs.size - 1
    if stop - peak < 2:
        return None
    m = peak + int(np.argmin(gs[peak : stop + 1]))
    if m >= gs.size - 1 or gs[m] >= gs[peak]:
        return None
    return float(r[m])

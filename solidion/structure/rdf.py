"""Radial distribution function g_AB(r) and running coordination number N_AB(r).

.. math::
    g_{AB}(r) = \\frac{V}{N_A N_B'}\\,\\frac{\\langle n_{AB}(r, r+\\delta r)\\rangle}{4\\pi r^2\\delta r},
    \\qquad N_{AB}(r) = \\frac{N_B'}{V}\\int_0^r 4\\pi s^2 g_{AB}(s)\\,ds

with N_B' = N_B − 1 when A = B (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed.,
§8.2). The shell volumes use the exact sphere, valid up to half the smallest perpendicular width
of the cell, which is therefore the largest radius accepted.

Pairs are found with SciPy's k-d tree (:func:`pair_distances`): a periodic tree for orthorhombic
cells, and an explicit shell of periodic images for triclinic ones, so both cell shapes give
every image within the cutoff. On a 1302-atom cell with a 14.8 Å cutoff this is about 100 times
faster than ASE's ``primitive_neighbor_list`` (vesin and freud are not dependencies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from solidion.errors import InputError
from solidion.trajectory import Trajectory

__all__ = [
    "RDFResult",
    "cell_widths",
    "first_minimum",
    "max_rdf_radius",
    "pair_distances",
    "rdf",
    "rdf_all_pairs",
]


@dataclass(frozen=True)
class RDFResult:
    """g(r) and N(r) of one species pair.

    Attributes:
        pair: ``(A, B)``.
        r_A: Bin centres in Å.
        g: g_AB(r).
        coordination: Running coordination number N_AB(r) at the bin upper edges
            (``r_A + dr/2``): mean number of B within r of an A.
        n_frames: Frames averaged.
    """

    pair: tuple[str, str]
    r_A: np.ndarray
    g: np.ndarray
    coordination: np.ndarray
    n_frames: int

    @property
    def r_edges_A(self) -> np.ndarray:
        """Upper bin edges in Å, where :attr:`coordination` is given."""
        dr = self.r_A[1] - self.r_A[0] if self.r_A.size > 1 else 2 * self.r_A[0]
        return self.r_A + 0.5 * dr

    def first_minimum_A(self) -> float | None:
        """Position of the first minimum after the first peak (see :func:`first_minimum`)."""
        return first_minimum(self.r_A, self.g)

    def coordination_at(self, r_A: float) -> float:
        """N_AB(r) at radius ``r_A`` (linear interpolation between bin edges)."""
        edges = np.concatenate([[0.0], self.r_edges_A])
        n = np.concatenate([[0.0], self.coordination])
        return float(np.interp(r_A, edges, n))

    def to_dict(self) -> dict[str, object]:
        """JSON form: ``{"r_A", "g", "n", "first_minimum_A"}`` (n is N_AB at the bin edges)."""
        return {
            "r_A": self.r_A.tolist(),
            "g": self.g.tolist(),
            "n": self.coordination.tolist(),
            "first_minimum_A": self.first_minimum_A(),
        }


def cell_widths(cells: np.ndarray) -> np.ndarray:
    """Perpendicular widths of a cell (distances between opposite faces), V / |a_j × a_k|.

    Args:
        cells: Lattice vectors as rows, (3, 3), or many cells, (n, 3, 3), Å.

    Returns:
        The widths along a, b and c: shape (3,) for one cell, (n, 3) for many.

    Example:
        >>> cell_widths(np.array([[10.0, 0, 0], [5.0, 10.0, 0], [0, 0, 12.0]])).round(6).tolist()
        [8.944272, 10.0, 12.0]
    """
    c = np.asarray(cells, dtype=np.float64)
    many = c.reshape(-1, 3, 3)
    vol = np.abs(np.linalg.det(many))
    areas = np.stack(
        [
            np.linalg.norm(np.cross(many[:, j], many[:, k]), axis=-1)
            for j, k in ((1, 2), (2, 0), (0, 1))
        ],
        axis=-1,
    )
    widths = vol[:, None] / areas
    return widths[0] if c.ndim == 2 else widths


def max_rdf_radius(cell: np.ndarray) -> float:
    """Half the smallest perpendicular width of the cell (largest radius without self-images)."""
    return 0.5 * float(cell_widths(cell).min())


def _empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)


def _wrapped_fractional(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    frac = positions @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0
    return frac


def _periodic_box(cell: np.ndarray, r_max: float) -> np.ndarray | None:
    """Edge lengths when the cell is orthogonal and r_max at most half of each; else None.

    Then the minimum image is the only one closer than r_max, and a periodic k-d tree in the
    (rotated) frame of the cell axes finds every pair.
    """
    metric = cell @ cell.T
    lengths = np.sqrt(np.diag(metric))
    off = metric - np.diag(np.diag(metric))
    orthogonal = bool(np.all(np.abs(off) <= 1e-10 * np.outer(lengths, lengths)))
    # The slack absorbs rounding in max_rdf_radius, which gives the default r_max.
    if orthogonal and r_max <= 0.5 * lengths.min() * (1 + 1e-12):
        return lengths
    return None


def _box_coordinates(frac: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    x = frac * lengths
    x[x >= lengths] = 0.0
    return x


def pair_distances(
    positions: np.ndarray, cell: np.ndarray, ia: np.ndarray, ib: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All periodic pairs (i in ``ia``, j in ``ib``, i ≠ j) closer than ``r_max``.

    Positions may be wrapped or not. Every periodic image of j within ``r_max`` of i is a pair,
    whatever ``r_max`` (the same list as ASE's ``primitive_neighbor_list`` filtered to i in
    ``ia`` and j in ``ib``): an orthorhombic cell with ``r_max`` below half its width uses a
    periodic k-d tree (minimum image is then exact); any other case searches a k-d tree of the
    images of the ``ib`` atoms within ``r_max`` of the cell.

    Args:
        positions: Cartesian positions of one frame, (n_atoms, 3), Å.
        cell: Lattice vectors as rows, (3, 3), Å.
        ia: Indices of the central atoms.
        ib: Indices of the neighbour atoms (may overlap ``ia``).
        r_max: Cutoff in Å.

    Returns:
        ``(i, j, d)``: atom indices (into ``positions``) and distances in Å, one entry per
        ordered pair and image, in no particular order.
    """
    from scipy.spatial import cKDTree

    pos = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    ia = np.asarray(ia, dtype=np.intp)
    ib = np.asarray(ib, dtype=np.intp)
    if ia.size == 0 or ib.size == 0 or not r_max > 0:
        return _empty_pairs()
    frac = _wrapped_fractional(pos, cell)
    lengths = _periodic_box(cell, r_max)
    if lengths is not None:
        x = _box_coordinates(frac, lengths)
        ta = cKDTree(x[ia], boxsize=lengths)
        tb = ta if np.array_equal(ia, ib) else cKDTree(x[ib], boxsize=lengths)
        m = ta.sparse_distance_matrix(tb, r_max, output_type="ndarray")
        i, j, d = ia[m["i"]], ib[m["j"]], m["v"]
        keep = (i != j) & (d < r_max)
        return i[keep], j[keep], d[keep]
    # General case: images of the ib atoms within r_max of the cell (in fractional units the
    # skin along axis k is r_max / width_k).
    skin = r_max / cell_widths(cell)
    n = np.ceil(skin).astype(int)
    grid = np.stack(np.meshgrid(*(np.arange(-k, k + 1) for k in n), indexing="ij"), axis=-1)
    grid = grid.reshape(-1, 3)
    fb = frac[ib][None, :, :] + grid[:, None, :]
    inside = np.all((fb >= -skin) & (fb <= 1.0 + skin), axis=-1)
    shift_id, atom = np.nonzero(inside)
    tb = cKDTree(fb[shift_id, atom] @ cell)
    ta = cKDTree(frac[ia] @ cell)
    m = ta.sparse_distance_matrix(tb, r_max, output_type="ndarray")
    i = ia[m["i"]]
    j = ib[atom[m["j"]]]
    own_image = ~grid[shift_id[m["j"]]].any(axis=1)
    keep = ~((i == j) & own_image) & (m["v"] < r_max)
    return i[keep], j[keep], m["v"][keep]


def _pairs_within(
    positions: np.ndarray, cell: np.ndarray, idx: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Pairs among the atoms ``idx``: ``(i, j, d, half)``.

    ``half`` is True when each unordered pair is listed once (orthorhombic fast path, about
    twice as fast), False when the list is the ordered one of :func:`pair_distances`.
    """
    from scipy.spatial import cKDTree

    pos = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    lengths = _periodic_box(cell, r_max)
    if lengths is None or idx.size < 2:
        return (*pair_distances(pos, cell, idx, idx, r_max), False)
    x = _box_coordinates(_wrapped_fractional(pos[idx], cell), lengths)
    p = cKDTree(x, boxsize=lengths).query_pairs(r_max, output_type="ndarray")
    i, j = np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1])
    d2 = np.zeros(i.size)
    for k in range(3):  # minimum image per axis: 0 <= x < L, so |dx| < L
        xk = np.ascontiguousarray(x[:, k])
        dk = np.abs(np.take(xk, j) - np.take(xk, i))
        np.minimum(dk, lengths[k] - dk, out=dk)
        d2 += dk * dk
    d = np.sqrt(d2)
    keep = d < r_max
    return idx[i[keep]], idx[j[keep]], d[keep], True


def _rdf_frames(traj: Trajectory, frames: Sequence[int] | None, max_frames: int) -> np.ndarray:
    if frames is None:
        if max_frames < 1:
            raise InputError(f"max_frames must be at least 1, got {max_frames}")
        return np.unique(
            np.linspace(0, traj.n_frames - 1, min(max_frames, traj.n_frames)).astype(int)
        )
    out = np.asarray(frames, dtype=np.intp).ravel()
    if out.size == 0:
        raise InputError("frames selects no frames")
    if out.min() < -traj.n_frames or out.max() >= traj.n_frames:
        raise InputError(f"frames must index the {traj.n_frames} frames of the trajectory")
    return out % traj.n_frames


def _check_r_max(traj: Trajectory, frames: np.ndarray, r_max: float | None) -> float:
    limit = min(max_rdf_radius(traj.cells[f]) for f in frames)
    if r_max is None:
        return limit
    r = float(r_max)
    if not 0 < r <= limit + 1e-9:
        raise InputError(
            f"r_max must be in (0, {limit:.3f}] Å (half the smallest cell width), got {r_max}"
        )
    return min(r, limit)


def _normalise(
    hist: np.ndarray, edges: np.ndarray, n_a: int, mean_density_b: float, n_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """g and N from summed pair counts (Allen & Tildesley eq. 8.2 with exact shells)."""
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    per_atom = hist / (n_frames * n_a)
    return per_atom / (mean_density_b * shell), np.cumsum(per_atom)


def _bin_index(d: np.ndarray, r_max: float, n_bins: int) -> np.ndarray:
    k = (d * (n_bins / r_max)).astype(np.intp)
    return np.minimum(k, n_bins - 1)


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

    Example:
        >>> from solidion.trajectory import Trajectory
        >>> grid = np.stack(np.meshgrid(*[np.arange(4)] * 3), -1).reshape(-1, 3) * 3.0
        >>> sc = Trajectory.from_arrays(["Li"] * 64, grid[None], np.eye(3) * 12.0, 1.0)
        >>> res = rdf(sc, "Li", "Li", r_max=5.0, n_bins=100)
        >>> round(res.coordination_at(res.first_minimum_A()), 3)
        6.0
    """
    ia, ib = traj.indices(a), traj.indices(b)
    nb_eff = ib.size - (1 if a == b else 0)
    if nb_eff <= 0:
        raise InputError(f"g({a}-{b}) needs at least two {b} atoms")
    if n_bins < 1:
        raise InputError(f"n_bins must be at least 1, got {n_bins}")
    frames = _rdf_frames(traj, frames, max_frames)
    r_max = _check_r_max(traj, frames, r_max)
    edges = np.linspace(0.0, r_max, n_bins + 1)
    hist = np.zeros(n_bins)
    density = 0.0
    for f in frames:
        cell = traj.cells[f]
        if a == b:
            _, _, d, half = _pairs_within(traj.positions[f], cell, ia, r_max)
        else:
            _, _, d = pair_distances(traj.positions[f], cell, ia, ib, r_max)
            half = False
        hist += (2 if half else 1) * np.bincount(_bin_index(d, r_max, n_bins), minlength=n_bins)
        density += nb_eff / abs(np.linalg.det(cell))
    g, n = _normalise(hist, edges, ia.size, density / len(frames), len(frames))
    return RDFResult((a, b), 0.5 * (edges[1:] + edges[:-1]), g, n, len(frames))


def rdf_all_pairs(
    traj: Trajectory,
    *,
    species: Sequence[str] | None = None,
    r_max: float | None = None,
    n_bins: int = 200,
    frames: Sequence[int] | None = None,
    max_frames: int = 50,
) -> dict[str, RDFResult]:
    """g_AB(r) and N_AB(r) of every species pair from one neighbour search per frame.

    Args:
        traj: The trajectory.
        species: Species to include, in the order that names the pairs (default:
            ``traj.species``).
        r_max: Largest radius in Å (default and upper limit: half the smallest cell width).
        n_bins: Histogram bins.
        frames: Frames to average; default ``max_frames`` evenly spaced frames.
        max_frames: Frames used when ``frames`` is not given.

    Returns:
        ``{"A-B": RDFResult}`` for every A ≤ B in species order (``"Li-Li"``, ``"Li-Cl"``,
        ``"Cl-Cl"``, ...); a like pair of a species with a single atom is left out.

    Raises:
        InputError: Unknown species, or r_max beyond half the cell width.
    """
    names = list(traj.species if species is None else dict.fromkeys(species))
    if not names:
        raise InputError("species selects no species")
    idx = [traj.indices(s) for s in names]
    if n_bins < 1:
        raise InputError(f"n_bins must be at least 1, got {n_bins}")
    frames = _rdf_frames(traj, frames, max_frames)
    r_max = _check_r_max(traj, frames, r_max)
    ns = len(names)
    code = np.full(traj.n_atoms, -1, dtype=np.intp)
    for k, ix in enumerate(idx):
        code[ix] = k
    chosen = np.flatnonzero(code >= 0)
    hist = np.zeros((ns, ns, n_bins))
    inv_volume = 0.0
    for f in frames:
        cell = traj.cells[f]
        i, j, d, half = _pairs_within(traj.positions[f], cell, chosen, r_max)
        flat = (code[i] * ns + code[j]) * n_bins + _bin_index(d, r_max, n_bins)
        counts = np.bincount(flat, minlength=ns * ns * n_bins).reshape(ns, ns, n_bins)
        hist += counts + counts.transpose(1, 0, 2) if half else counts
        inv_volume += 1.0 / abs(np.linalg.det(cell))
    inv_volume /= len(frames)
    edges = np.linspace(0.0, r_max, n_bins + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    out: dict[str, RDFResult] = {}
    for p in range(ns):
        for q in range(p, ns):
            nb_eff = idx[q].size - (1 if p == q else 0)
            if nb_eff <= 0:
                continue
            g, n = _normalise(hist[p, q], edges, idx[p].size, nb_eff * inv_volume, len(frames))
            out[f"{names[p]}-{names[q]}"] = RDFResult((names[p], names[q]), r, g, n, len(frames))
    return out


def _smooth(g: np.ndarray, width_bins: int) -> np.ndarray:
    k = np.arange(-3 * width_bins, 3 * width_bins + 1)
    kernel = np.exp(-0.5 * (k / width_bins) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(g, 3 * width_bins, mode="edge"), kernel, mode="valid")


def first_minimum(
    r: np.ndarray,
    g: np.ndarray,
    *,
    smooth_A: float = 0.15,
    min_peak: float = 1.5,
    min_prominence: float = 0.1,
    min_weight: float = 0.05,
) -> float | None:
    """First minimum of g(r) after its first peak, robust to histogram noise.

    1. g is smoothed with a Gaussian of width ``smooth_A`` (noise on single bins goes).
    2. The maxima of the smoothed curve that stand out from their surroundings by a
       prominence of at least ``min_prominence`` × their height are the *shells* (small
       wiggles on the flank of a peak are not).
    3. The first-shell peak is the first shell higher than ``min_peak`` (the noise of an
       ideal-gas g(r) = 1 is not a shell) that holds at least ``min_weight`` of the pairs of
       the most populated such shell, pairs counted as ∫ r² g dr between the neighbouring
       minima; a single stray close pair at small r, where shells are tiny and g huge, is not
       a shell.
    4. The minimum is the lowest point of the smoothed curve between that peak and the next
       shell (the middle of it, where g is flat at zero as between crystal shells).

    Args:
        r: Bin centres, evenly spaced, in Å.
        g: g(r).
        smooth_A: Width of the Gaussian smoothing in Å.
        min_peak: Height the first-shell peak must exceed.
        min_prominence: Smallest prominence of a shell, as a fraction of its height.
        min_weight: Smallest pair population of the first shell relative to the largest.

    Returns:
        r of the minimum in Å, or None when g has no such peak followed by a minimum.

    Example:
        >>> r = np.linspace(0.05, 6, 120)
        >>> g = 1 + 2 * np.exp(-((r - 2) / 0.3) ** 2) - 0.8 * np.exp(-((r - 3) / 0.4) ** 2)
        >>> round(first_minimum(r, g), 1)
        3.0
    """
    from scipy.signal import find_peaks

    r = np.asarray(r, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if r.shape != g.shape or r.ndim != 1 or r.size < 5:
        raise InputError("first_minimum needs r and g of the same length (at least 5 bins)")
    dr = r[1] - r[0]
    gs = _smooth(g, max(1, int(round(smooth_A / dr))))
    peaks, props = find_peaks(gs, prominence=0.0)
    shells = peaks[props["prominences"] >= min_prominence * np.abs(gs[peaks])]
    if shells.size == 0:
        return None
    # Valleys between consecutive shells bound each shell's population.
    bounds = [0]
    for p, q in pairwise(shells):
        bounds.append(int(p + np.argmin(gs[p : q + 1])))
    bounds.append(gs.size - 1)
    weight = np.array(
        [
            np.sum((r**2 * np.clip(g, 0, None))[bounds[k] : bounds[k + 1] + 1])
            for k in range(shells.size)
        ]
    )
    high = gs[shells] > min_peak
    if not high.any():
        return None
    ok = high & (weight >= min_weight * weight[high].max())
    k = int(np.flatnonzero(ok)[0])
    peak = int(shells[k])
    stop = int(shells[k + 1]) if k + 1 < shells.size else gs.size - 1
    if stop - peak < 2:
        return None
    seg = gs[peak : stop + 1]
    low = seg.min()
    if low >= gs[peak]:
        return None
    first = int(np.argmin(seg))
    if peak + first >= gs.size - 1:
        return None
    # Middle of a flat bottom (within a hair of the minimum, contiguous).
    tol = 1e-9 * max(1.0, abs(gs[peak]))
    last = first
    while last + 1 < seg.size and seg[last + 1] <= low + tol:
        last += 1
    return float(r[peak + (first + last) // 2])

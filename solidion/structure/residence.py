"""Residence times of mobile ions on host polyhedra, per polyhedron environment.

**Host assignment.** At every frame each mobile ion (Li) is assigned to one centre atom M (the
polyhedron it decorates) or to none (−1), by one of two rules:

- ``"nearest_center"`` (default): the nearest M within ``host_cutoff_A``. In the oxyhalides
  (Li–M–X–O with MX_nO_(4−n) tetrahedra) the alkali sits on the faces and edges of the
  tetrahedra, closer to their centre than to any other M, so the nearest M names the polyhedron
  it decorates. The cutoff defaults to the first minimum of g(mobile–M), which separates the
  first M shell (the host) from the next; an ion in a wide void beyond it has no host.
- ``"shared_ligand"``: the M whose polyhedron (its ligands within the M–ligand cutoffs) shares
  the most ligands with the ion's own first shell (its ligands within the mobile–ligand
  cutoffs); ties go to the nearer M, and an ion that shares no ligand has no host. This follows
  the bonding picture (face-sharing: three shared ligands, edge: two, corner: one) and needs no
  Li–M cutoff, but depends on two sets of cutoffs.

The environment of each polyhedron is recomputed at every frame from its ligand counts within
per-ligand cutoffs (default: first minima of g(M–ligand),
:func:`solidion.structure.neighbors.default_cutoffs`) and labelled with the non-zero counts in
ligand order (``"Cl4"``, ``"Cl3O1"``).

**Survival function** (residence-time correlation function; Impey, Madden & McDonald,
J. Phys. Chem. 87, 5071 (1983)). With :math:`\\theta_i(t_0, t) = 1` when ion i has the same host
at every frame from t0 to t0 + t,

.. math::
    P_c(t) = \\frac{\\sum_i \\sum_{t_0 \\le T-1-t} \\theta_i(t_0, t)\\,[c_i(t_0) = c]}
                  {\\sum_i \\sum_{t_0 \\le T-1-t} [c_i(t_0) = c]}

where :math:`c_i(t_0)` is the environment class of the host of ion i at t0 (origins without a
host do not count). Only origins whose lag still lies inside the trajectory enter the sums, so
residences cut by the end of the run (right censoring) bias nothing: the estimator is the
plain origin average, evaluated in O(T N) from the run lengths of each ion's host sequence
(remaining stay R at each origin: θ(t0, t) = [R ≥ t]). The default *continuous* definition
counts any departure; with ``tolerance_ps`` > 0 (Impey et al.'s t*) an excursion of at most that
long, after which the ion is back with the same host, is not a departure (the gap is filled
with that host before counting; ``definition = "intermittent"``).

**Fits.** For a memoryless (Poisson) hop process P(t) = exp(−t/τ). The exponential is fitted
through P(0) = 1 by least squares on ln P with weights P² (to first order least squares on P)
over lags from the first frame until P falls below ``p_window[0]``; the stretched exponential (Kohlrausch–Williams–Watts)
exp(−(t/τ_K)^β) as a straight line ln(−ln P) = β ln t − β ln τ_K over the points with P inside
``p_window``. The stretched form is reported when β differs from 1 by more than 0.15 and by
more than two standard errors, with the mean residence time
⟨τ⟩ = (τ_K/β) Γ(1/β) (Lindsey & Patterson, J. Chem. Phys. 73, 3348 (1980)).

**Uncertainty.** Residences are grouped into ``n_blocks`` consecutive time blocks by the frame
where they begin; each block gives the numerator and denominator sums of P_c(t) over the
origins of its residences (which may run on past the block), and every reported number — τ, β,
P(t) — has the delete-one-block jackknife error of the ratio of sums, calibrated to a 68 %
interval (:mod:`solidion.transport.estimate`). Grouping whole residences, not origins, keeps
the blocks independent when residences are long compared with a block (grouping origins
underestimated the error by a factor ≈ 1.5 on the synthetic Poisson test). Time blocks rather
than a bootstrap over ions, because the ions share hosts and interact, while a block error also
carries slow drifts of the run. On Poisson hopping with known rates the errors are calibrated
(rms of (τ − τ_true)/stderr ≈ 1 over 40 synthetic runs).

**Activation.** Across temperatures 1/τ = ν₀ exp(−ε_a/k_BT) per environment; ε_a comes from
:func:`solidion.transport.arrhenius.fit_arrhenius` on 1/τ, comparable with the E_a of diffusion.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import gamma

from solidion.errors import AnalysisError, InputError
from solidion.structure.neighbors import default_cutoffs, half_widths
from solidion.structure.rdf import first_minimum, pair_distances, rdf
from solidion.trajectory import Trajectory
from solidion.transport.arrhenius import ArrheniusFit, fit_arrhenius
from solidion.transport.estimate import Estimate, jackknife
from solidion.units import PS_PER_FS

__all__ = [
    "HostAssignment",
    "ResidenceClass",
    "ResidenceResult",
    "activation_to_dict",
    "assign_hosts",
    "fill_excursions",
    "plot_activation",
    "plot_survival",
    "residence_activation",
    "residence_times",
    "survival_counts",
    "survival_function",
]

#: Host-assignment rules (see the module docstring).
RULES = ("nearest_center", "shared_ligand")
#: |β − 1| above which (and above two standard errors) the stretched exponential is reported.
BETA_TOLERANCE = 0.15
#: Fewest origins at a lag for that lag to enter a fit.
MIN_ORIGINS = 20
#: Label of a polyhedron with no ligand inside the cutoffs.
EMPTY_LABEL = "none"


class HostAssignment(NamedTuple):
    """Hosts and polyhedron environments per frame (unpacks as a 3-tuple).

    Attributes:
        hosts: Atom index of the host centre of each mobile ion, −1 for none,
            (n_frames_used, n_mobile).
        labels: Environment of each centre's polyhedron, as an index into ``label_names``,
            (n_frames_used, n_centers); centres in the order of ``traj.indices(center)``.
        label_names: Environment labels, sorted (``("Cl3O1", "Cl4")``).
    """

    hosts: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]


def _label(counts: Sequence[int], ligands: Sequence[str]) -> str:
    text = "".join(f"{s}{int(c)}" for s, c in zip(ligands, counts, strict=True) if c > 0)
    return text or EMPTY_LABEL


def _checked_cutoffs(
    cutoffs: Mapping[str, float], ligands: Sequence[str], limit: float, center: str
) -> dict[str, float]:
    out = {}
    for lig in ligands:
        if lig not in cutoffs:
            raise InputError(f"no cutoff given for the {center}–{lig} pair")
        rc = float(cutoffs[lig])
        if not 0 < rc <= limit:
            raise InputError(
                f"cutoff for {center}–{lig} ({rc:g} Å) must be positive and at most half the "
                f"cell width ({limit:.3f} Å)"
            )
        out[lig] = rc
    return out


def default_host_cutoff(traj: Trajectory, mobile: str, center: str) -> float:
    """First minimum of g(mobile–center) in Å: the edge of the host shell.

    Raises:
        InputError: When g(mobile–center) has no clear first shell.
    """
    r_max = min(6.0, float(half_widths(traj.cells).min()))
    res = rdf(traj, mobile, center, r_max=r_max, n_bins=240, max_frames=20)
    rc = first_minimum(res.r_A, res.g)
    if rc is None:
        raise InputError(
            f"g({mobile}-{center}) has no clear first shell within {r_max:.2f} Å; pass "
            "host_cutoff_A explicitly"
        )
    return rc


def assign_hosts(
    traj: Trajectory,
    mobile: str,
    center: str,
    ligands: Sequence[str],
    cutoffs: Mapping[str, float] | None = None,
    rule: str = "nearest_center",
    host_cutoff_A: float | None = None,
    every: int = 1,
    *,
    mobile_cutoffs: Mapping[str, float] | None = None,
) -> HostAssignment:
    """Host polyhedron of every mobile ion and environment of every polyhedron, per frame.

    Neighbours come from a periodic k-d tree per frame
    (:func:`solidion.structure.rdf.pair_distances`; every cutoff is at most half the cell
    width, so each pair appears once, at its minimum image, in any cell shape). Ligand counts are the same as those of
    :func:`solidion.structure.neighbors.ligand_shells`.

    Args:
        traj: The trajectory.
        mobile: Mobile species (``"Li"``).
        center: Polyhedron centre species (``"Al"``).
        ligands: Ligand species in label order (``("Cl", "O")``).
        cutoffs: Centre–ligand cutoffs ``{ligand: Å}``; default first minima of g(M–ligand).
        rule: ``"nearest_center"`` or ``"shared_ligand"`` (module docstring).
        host_cutoff_A: Largest mobile–centre distance of a host (``"nearest_center"``);
            default the first minimum of g(mobile–centre).
        every: Use every ``every``-th frame.
        mobile_cutoffs: Mobile–ligand cutoffs for ``"shared_ligand"``; default first minima
            of g(mobile–ligand).

    Returns:
        A :class:`HostAssignment` ``(hosts, labels, label_names)``.

    Raises:
        InputError: Absent species, an unknown rule, a cutoff beyond half the cell width.
    """
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if isinstance(ligands, str):
        ligands = (ligands,)
    ligands = tuple(ligands)
    if not ligands:
        raise InputError("at least one ligand species is needed")
    if len({mobile, center, *ligands}) != 2 + len(ligands):
        raise InputError(
            f"mobile ({mobile}), center ({center}) and ligands ({', '.join(ligands)}) must be "
            "distinct species"
        )
    if int(every) < 1:
        raise InputError(f"every must be a positive integer, got {every}")
    idx_m = traj.indices(mobile)
    idx_c = traj.indices(center)
    lig_idx = [traj.indices(lig) for lig in ligands]
    frames = np.arange(0, traj.n_frames, int(every))
    limit = float(half_widths(traj.cells[frames]).min())
    if cutoffs is None:
        cutoffs = default_cutoffs(traj, center, ligands)
    cut = _checked_cutoffs(cutoffs, ligands, limit, center)
    all_lig = np.concatenate(lig_idx)
    lig_species = np.concatenate([np.full(ix.size, k) for k, ix in enumerate(lig_idx)])
    lig_cut = np.array([cut[ligands[k]] for k in lig_species])
    if rule == "nearest_center":
        if host_cutoff_A is None:
            host_cutoff_A = default_host_cutoff(traj, mobile, center)
        host_cut = float(host_cutoff_A)
        if not 0 < host_cut <= limit:
            raise InputError(
                f"host_cutoff_A ({host_cut:g} Å) must be positive and at most half the cell "
                f"width ({limit:.3f} Å)"
            )
    else:
        if mobile_cutoffs is None:
            mobile_cutoffs = default_cutoffs(traj, mobile, ligands)
        mcut = _checked_cutoffs(mobile_cutoffs, ligands, limit, mobile)
        mob_lig_cut = np.array([mcut[ligands[k]] for k in lig_species])

    n_m, n_c = idx_m.size, idx_c.size
    n_atoms = traj.n_atoms
    local = np.full(n_atoms, -1, dtype=np.int64)  # atom index -> index within its group
    for group in (idx_m, idx_c, all_lig):
        local[group] = np.arange(group.size)
    kind = np.full(n_atoms, -1, dtype=np.int64)  # atom index -> ligand species number
    kind[all_lig] = lig_species
    cut_of = np.zeros(n_atoms)
    cut_of[all_lig] = lig_cut
    if rule == "shared_ligand":
        mob_cut_of = np.zeros(n_atoms)
        mob_cut_of[all_lig] = mob_lig_cut
    n_k = len(ligands)
    hosts = np.full((frames.size, n_m), -1, dtype=np.int64)
    labels = np.zeros((frames.size, n_c), dtype=np.int64)
    names: dict[str, int] = {}
    cells = traj.cells
    for row, f in enumerate(frames):
        pos = traj.positions[f]
        cell = cells[f]
        i, j, d = pair_distances(pos, cell, idx_c, all_lig, float(lig_cut.max()))
        bond = d <= cut_of[j]
        ci, lj = local[i[bond]], j[bond]
        counts = np.bincount(ci * n_k + kind[lj], minlength=n_c * n_k).reshape(n_c, n_k)
        rows, inverse = np.unique(counts, axis=0, return_inverse=True)
        ids = np.array([names.setdefault(_label(r, ligands), len(names)) for r in rows])
        labels[row] = ids[inverse.reshape(-1)]
        if rule == "nearest_center":
            mi, cj, d = pair_distances(pos, cell, idx_m, idx_c, host_cut)
            keep = d <= host_cut
            hosts[row] = _best_per_row(local[mi[keep]], cj[keep], -d[keep], n_m)
        else:
            mi, lj2, d = pair_distances(pos, cell, idx_m, all_lig, float(mob_lig_cut.max()))
            mine = d <= mob_cut_of[lj2]
            own = sparse.csr_matrix(
                (np.ones(int(mine.sum())), (local[mi[mine]], local[lj2[mine]])),
                shape=(n_m, all_lig.size),
            )
            poly = sparse.csr_matrix((np.ones(ci.size), (ci, local[lj])), shape=(n_c, all_lig.size))
            shared = (own @ poly.T).tocoo()
            m_loc, c_loc = shared.row.astype(np.int64), shared.col.astype(np.int64)
            d_mc = _pair_min_image(pos[idx_m[m_loc]], pos[idx_c[c_loc]], cell)
            # most shared ligands first, then the nearest centre (d/scale < 1 breaks ties only)
            score = shared.data - d_mc / (d_mc.max(initial=0.0) + 1.0)
            hosts[row] = _best_per_row(m_loc, idx_c[c_loc], score, n_m)
    order = sorted(names, key=lambda k: names[k])
    sorted_names = tuple(sorted(order))
    remap = np.array([sorted_names.index(k) for k in order], dtype=np.int64)
    return HostAssignment(hosts, remap[labels], sorted_names)


def _best_per_row(rows: np.ndarray, values: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """For each row 0..n−1 the value with the highest score among its entries, −1 if none."""
    out = np.full(n, -1, dtype=np.int64)
    if rows.size:
        order = np.lexsort((-score, rows))
        first = np.ones(order.size, dtype=bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        out[rows[order][first]] = values[order][first]
    return out


def _pair_min_image(xa: np.ndarray, xb: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Minimum-image distances of paired rows ``xa[k]``–``xb[k]`` (exact up to half widths)."""
    frac = (xb - xa) @ np.linalg.inv(cell)
    frac -= np.rint(frac)
    return np.linalg.norm(frac @ cell, axis=-1)


# -- survival kernels ---------------------------------------------------------------------------
def fill_excursions(hosts: np.ndarray, max_gap: int) -> np.ndarray:
    """Host sequences with short excursions filled in (the intermittent definition).

    Scanning forward in time, whenever an ion leaves its host A (to another host or to none)
    and is back with A after at most ``max_gap`` frames away, the frames away are set to A. An
    excursion still open at the end of the run is kept (the return is not seen).

    Args:
        hosts: Host per frame, (n_frames,) or (n_frames, n_ions); −1 for no host.
        max_gap: Longest excursion, in frames, that is not a departure (0: no change).

    Returns:
        A filled copy of the same shape.

    Example:
        >>> fill_excursions(np.array([5, 5, -1, 5, 7, 7, 5, 6]), 1).tolist()
        [5, 5, 5, 5, 7, 7, 5, 6]
    """
    h = np.array(hosts, dtype=np.int64, copy=True)
    if int(max_gap) < 0:
        raise InputError(f"max_gap must be non-negative, got {max_gap}")
    max_gap = int(max_gap)
    if max_gap == 0:
        return h
    cols = h[:, None] if h.ndim == 1 else h
    for i in range(cols.shape[1]):
        col = cols[:, i]  # a view: filled in place
        changes = np.flatnonzero(col[1:] != col[:-1]) + 1
        j = 0
        while j < changes.size:
            s = int(changes[j])
            host = col[s - 1]
            if host >= 0:
                back = np.flatnonzero(col[s : s + max_gap + 1] == host)
                if back.size:
                    e = s + int(back[0])
                    col[s:e] = host
                    j = int(np.searchsorted(changes, e, side="right"))
                    continue
            j += 1
    return h


def _run_bounds(hosts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame of the run (same host) each (frame, ion) belongs to.

    Returns:
        ``(first, last)``, each (n_frames, n_ions).
    """
    n = hosts.shape[0]
    flat = np.ascontiguousarray(hosts.T).ravel()
    start = np.ones(flat.size, dtype=bool)
    start[1:] = flat[1:] != flat[:-1]
    start[::n] = True  # each ion's sequence starts a run
    run = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.append(first[1:], flat.size) - 1
    offset = np.repeat(np.arange(0, flat.size, n), n)  # flat index of each ion's frame 0
    return (
        (first[run] - offset).reshape(-1, n).T,
        (last[run] - offset).reshape(-1, n).T,
    )


def survival_counts(
    hosts: np.ndarray,
    host_class: np.ndarray,
    n_classes: int,
    max_lag: int,
    n_blocks: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator sums of the origin-averaged survival function.

    For every origin (frame t0, ion i) with a host of class c = ``host_class[t0, i]`` ≥ 0 and
    every lag m ≤ ``max_lag``: ``origins[b, c, m]`` counts the origins with t0 + m inside the run,
    ``surviving[b, c, m]`` those whose ion keeps the same host through t0 + m. The block b
    (``n_blocks`` consecutive, near-equal blocks of frames) is that of the frame where the
    residence containing t0 *began*, so that every residence adds to one block only and the
    blocks stay independent for the jackknife even when residences are long.
    P_c(m) = Σ_b surviving / Σ_b origins.

    Args:
        hosts: Host per frame (n_frames, n_ions), −1 for none (already filled for the
            intermittent definition).
        host_class: Environment class of that host at that frame, −1 for none.
        n_classes: Number of classes.
        max_lag: Largest lag in frames.
        n_blocks: Blocks of origins.

    Returns:
        ``(surviving, origins)``, each (n_blocks, n_classes, max_lag + 1), integer counts.
    """
    hosts = np.asarray(hosts, dtype=np.int64)
    host_class = np.asarray(host_class, dtype=np.int64)
    n = hosts.shape[0]
    first, last = _run_bounds(hosts)
    t0, ion = np.nonzero((hosts >= 0) & (host_class >= 0))
    cls = host_class[t0, ion]
    block = (first[t0, ion] * n_blocks) // n
    width = max_lag + 1
    base = (block * n_classes + cls) * width
    shape = (n_blocks, n_classes, width)
    size = n_blocks * n_classes * width

    def tail_counts(span: np.ndarray) -> np.ndarray:
        hist = np.bincount(base + np.minimum(span, max_lag), minlength=size).reshape(shape)
        return np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]  # count of span ≥ m

    return tail_counts(last[t0, ion] - t0), tail_counts(n - 1 - t0)


def survival_function(hosts: np.ndarray, max_lag: int, *, tolerance_frames: int = 0) -> np.ndarray:
    """P(m), m = 0 … max_lag, of host sequences, all hosts in one class.

    Example:
        >>> h = np.array([5, 5, 5, -1, 5, 5, 5, 5])
        >>> survival_function(h, 2).round(4).tolist()
        [1.0, 0.8333, 0.6]
        >>> survival_function(h, 2, tolerance_frames=1).tolist()
        [1.0, 1.0, 1.0]
    """
    h = np.asarray(hosts, dtype=np.int64)
    h = h[:, None] if h.ndim == 1 else h
    h = fill_excursions(h, tolerance_frames)
    surviving, origins = survival_counts(h, np.where(h >= 0, 0, -1), 1, int(max_lag))
    with np.errstate(invalid="ignore", divide="ignore"):
        return surviving[0, 0] / origins[0, 0]


# -- fits -----------------------------------------------------------------------------------------
def _fit_exponential(t: np.ndarray, p: np.ndarray) -> float:
    """τ of exp(−t/τ) through P(0) = 1: least squares on ln P with weights P².

    A residual δ in ln P is a residual P·δ in P, so these weights make it least squares on P
    itself to first order, which keeps the noisy tail (few surviving origins) from dominating.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.log(p)
        w = p * p
        return float(-np.sum(w * t * t) / np.sum(w * t * y))


def _fit_stretched(t: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(τ_K, β) of exp(−(t/τ_K)^β) from the line ln(−ln P) = β ln t − β ln τ_K."""
    if t.size < 3:
        return float("nan"), float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.log(t)
        y = np.log(-np.log(p))
        if not np.all(np.isfinite(y)):
            return float("nan"), float("nan")
        xm = x.mean()
        beta = float(np.sum((x - xm) * (y - y.mean())) / np.sum((x - xm) ** 2))
        return float(np.exp(xm - y.mean() / beta)), beta


def _kww_mean(tau_k: float, beta: float) -> float:
    if not (np.isfinite(tau_k) and np.isfinite(beta) and beta > 0):
        return float("nan")
    return float(tau_k / beta * gamma(1.0 / beta))


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResidenceClass:
    """Residence statistics of one polyhedron environment.

    Attributes:
        tau_ps: Mean residence time ± stderr in ps (τ of the exponential, or ⟨τ⟩ =
            (τ_K/β)Γ(1/β) of the stretched exponential).
        model: ``"exponential"``, ``"stretched_exponential"``, or ``"unresolved"`` when P(t)
            gives no fit (no decay within the lags, or a decay faster than one frame).
        beta: Stretching exponent β of the KWW fit (reported whatever the model), or None.
        beta_stderr: Its standard error, or None.
        tau_kww_ps: τ_K of the KWW fit in ps, or None.
        n_events: Departures observed from polyhedra of this environment.
        fraction_of_time: Share of all (ion, frame) pairs spent on such polyhedra (ions
            without a host count in the total).
        fit_window_ps: First and last lag (ps) of the exponential fit.
    """

    tau_ps: Estimate
    model: str
    beta: float | None
    n_events: int
    fraction_of_time: float
    beta_stderr: float | None = None
    tau_kww_ps: float | None = None
    fit_window_ps: tuple[float, float] = (float("nan"), float("nan"))

    def curve(self, t_ps: np.ndarray) -> np.ndarray:
        """The fitted P(t) of the reported model at times ``t_ps``."""
        t = np.asarray(t_ps, dtype=np.float64)
        if self.model == "stretched_exponential" and self.tau_kww_ps and self.beta:
            return np.exp(-((t / self.tau_kww_ps) ** self.beta))
        return np.exp(-t / self.tau_ps.value)

    def to_dict(self) -> dict[str, Any]:
        """``{"tau_ps": {"value", "stderr"}, "model": ..., "n_events": ...}``."""
        return {"tau_ps": self.tau_ps.to_dict(), "model": self.model, "n_events": self.n_events}


@dataclass(frozen=True)
class ResidenceResult:
    """Survival functions and residence times per environment at one temperature.

    Attributes:
        temperature_K: Temperature of the run, if known.
        classes: ``{label: ResidenceClass}``, labels sorted.
        lags_ps: Lags of the survival functions in ps.
        survival: ``{label: P(t)}`` on ``lags_ps``.
        survival_stderr: ``{label: jackknife stderr of P(t)}``.
        definition: ``"continuous"`` or ``"intermittent"`` (``tolerance_ps`` > 0).
        tolerance_ps: Longest excursion not counted as a departure, in ps.
        rule: Host-assignment rule.
        species: ``(mobile, center, ligands...)``.
        cutoffs_A: Centre–ligand cutoffs used for the environments.
        host_cutoff_A: Mobile–centre cutoff (``"nearest_center"``), else None.
        n_blocks: Time blocks of the jackknife.
        unassigned_fraction: Share of (ion, frame) pairs without a host.
    """

    temperature_K: float | None
    classes: dict[str, ResidenceClass]
    lags_ps: np.ndarray
    survival: dict[str, np.ndarray]
    survival_stderr: dict[str, np.ndarray] = field(default_factory=dict)
    definition: str = "continuous"
    tolerance_ps: float = 0.0
    rule: str = "nearest_center"
    species: tuple[str, ...] = ()
    cutoffs_A: dict[str, float] = field(default_factory=dict)
    host_cutoff_A: float | None = None
    n_blocks: int = 0
    unassigned_fraction: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``residence`` JSON block: ``{label: {"tau_ps": {...}, "model": ..., ...}}``."""
        return {label: c.to_dict() for label, c in self.classes.items()}


def residence_times(
    traj: Trajectory,
    mobile: str = "Li",
    center: str = "Al",
    ligands: Sequence[str] = ("Cl", "O"),
    *,
    cutoffs: Mapping[str, float] | None = None,
    rule: str = "nearest_center",
    host_cutoff_A: float | None = None,
    mobile_cutoffs: Mapping[str, float] | None = None,
    tolerance_ps: float = 0.0,
    every: int = 1,
    max_lag_ps: float | None = None,
    n_blocks: int = 8,
    p_window: tuple[float, float] = (0.05, 0.95),
    temperature_K: float | None = None,
) -> ResidenceResult:
    """Residence times of ``mobile`` on ``center``-ligand polyhedra, per environment class.

    See the module docstring for the host rules, the survival estimator, the fits and the
    errors.

    Args:
        traj: The trajectory.
        mobile: Mobile species.
        center: Polyhedron centre species.
        ligands: Ligand species, in label order.
        cutoffs: Centre–ligand cutoffs in Å (default from g(r)).
        rule: ``"nearest_center"`` or ``"shared_ligand"``.
        host_cutoff_A: Mobile–centre host cutoff in Å (default from g(r)).
        mobile_cutoffs: Mobile–ligand cutoffs for ``"shared_ligand"`` (default from g(r)).
        tolerance_ps: Longest excursion that is not a departure; 0 gives the continuous
            definition.
        every: Use every ``every``-th frame.
        max_lag_ps: Longest lag of P(t); default half the run.
        n_blocks: Time blocks of origins for the jackknife (≥ 2).
        p_window: P range of the stretched fit; its lower end also ends the exponential fit.
        temperature_K: Overrides ``traj.temperature_K``.

    Returns:
        A :class:`ResidenceResult`.

    Raises:
        InputError: Absent species, cutoffs beyond half the cell width, a lag longer than the
            run, bad options.
        AnalysisError: No mobile ion ever has a host.
    """
    if not (np.isfinite(tolerance_ps) and tolerance_ps >= 0):
        raise InputError(f"tolerance_ps must be non-negative, got {tolerance_ps}")
    if int(n_blocks) < 2:
        raise InputError(f"n_blocks must be at least 2, got {n_blocks}")
    lo, hi = (float(v) for v in p_window)
    if not 0 < lo < hi < 1:
        raise InputError(f"p_window must satisfy 0 < low < high < 1, got {p_window}")
    n_blocks = int(n_blocks)
    every = int(every)
    dt_ps = traj.timestep_fs * every * PS_PER_FS
    n_used = len(range(0, traj.n_frames, max(every, 1)))
    if max_lag_ps is None:
        max_lag = max(1, (n_used - 1) // 2)
    else:
        if not max_lag_ps > 0:
            raise InputError(f"max_lag_ps must be positive, got {max_lag_ps}")
        max_lag = int(round(float(max_lag_ps) / dt_ps))
        if max_lag > n_used - 1:
            raise InputError(
                f"max_lag_ps = {max_lag_ps:g} ps is longer than the trajectory "
                f"({(n_used - 1) * dt_ps:g} ps with every={every})"
            )
        max_lag = max(max_lag, 1)
    if n_used < 2 * n_blocks:
        raise InputError(
            f"{n_used} frames are too few for {n_blocks} time blocks; use a longer run"
        )
    ligands = (ligands,) if isinstance(ligands, str) else tuple(ligands)
    traj.indices([mobile, center, *ligands])  # name an absent species before any g(r)
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if cutoffs is None:
        cutoffs = default_cutoffs(traj, center, ligands)
    if host_cutoff_A is None and rule == "nearest_center":
        host_cutoff_A = default_host_cutoff(traj, mobile, center)
    hosts, labels, names = assign_hosts(
        traj,
        mobile,
        center,
        ligands,
        cutoffs,
        rule,
        host_cutoff_A,
        every,
        mobile_cutoffs=mobile_cutoffs,
    )
    if not np.any(hosts >= 0):
        raise AnalysisError(
            f"no {mobile} ion ever has a {center} host (rule {rule!r}); check the cutoffs"
        )
    tol_frames = int(math.floor(float(tolerance_ps) / dt_ps + 1e-9))
    filled = fill_excursions(hosts, tol_frames)
    lookup = np.full(traj.n_atoms, -1, dtype=np.int64)
    lookup[traj.indices(center)] = np.arange(labels.shape[1])
    frame_idx = np.arange(filled.shape[0])[:, None]
    host_class = np.where(filled >= 0, labels[frame_idx, lookup[np.maximum(filled, 0)]], -1).astype(
        np.int64
    )
    n_cls = len(names)
    surviving, origins = survival_counts(filled, host_class, n_cls, max_lag, n_blocks)

    # events and time shares per class
    left = (filled[:-1] >= 0) & (filled[1:] != filled[:-1])
    n_events = np.bincount(host_class[:-1][left], minlength=n_cls)
    occupancy = np.bincount(host_class[host_class >= 0], minlength=n_cls) / filled.size

    lags = np.arange(max_lag + 1)
    t = lags * dt_ps
    total_s = surviving.sum(axis=0).astype(np.float64)
    total_o = origins.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_all = total_s / total_o
    present = [c for c in range(n_cls) if total_o[c, 0] > 0]
    windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c in present:
        ok = (total_o[c] >= MIN_ORIGINS) & (p_all[c] >= lo)
        bad = np.flatnonzero(~ok[1:])
        end = int(bad[0]) + 1 if bad.size else lags.size
        exp_idx = np.arange(1, end)
        windows[c] = (exp_idx, exp_idx[p_all[c, exp_idx] <= hi])

    width = max_lag + 1

    def derived(mean: np.ndarray) -> np.ndarray:
        half = mean.size // 2
        s = mean[:half].reshape(n_cls, width)
        o = mean[half:].reshape(n_cls, width)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = s / o
        fits = []
        for c in present:
            exp_idx, str_idx = windows[c]
            tau_e = _fit_exponential(t[exp_idx], p[c, exp_idx]) if exp_idx.size else np.nan
            tau_k, beta = _fit_stretched(t[str_idx], p[c, str_idx])
            fits += [tau_e, tau_k, beta, _kww_mean(tau_k, beta)]
        return np.concatenate([np.asarray(fits, dtype=np.float64), p[present].ravel()])

    raw = np.concatenate(
        [surviving.reshape(n_blocks, -1), origins.reshape(n_blocks, -1)], axis=1
    ).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        value, err = jackknife(derived, raw)
    n_fit = 4 * len(present)
    p_val = value[n_fit:].reshape(len(present), width)
    p_err = err[n_fit:].reshape(len(present), width)

    classes: dict[str, ResidenceClass] = {}
    survival: dict[str, np.ndarray] = {}
    survival_err: dict[str, np.ndarray] = {}
    for k, c in enumerate(present):
        label = names[c]
        tau_e, tau_k, beta, tau_m = value[4 * k : 4 * k + 4]
        e_e, _, e_b, e_m = err[4 * k : 4 * k + 4]
        exp_idx, _ = windows[c]
        stretched = (
            np.isfinite(beta)
            and np.isfinite(e_b)
            and np.isfinite(tau_m)
            and abs(beta - 1.0) > max(BETA_TOLERANCE, 2.0 * e_b)
        )
        if stretched:
            model, tau = "stretched_exponential", Estimate(float(tau_m), float(e_m))
        elif exp_idx.size >= 2 and np.isfinite(tau_e) and tau_e > 0:
            model, tau = "exponential", Estimate(float(tau_e), float(e_e))
        else:
            model, tau = "unresolved", Estimate(float("nan"), float("nan"))
            why = (
                "P(t) falls below the fit window within one frame (τ shorter than the frame "
                "spacing)"
                if exp_idx.size < 2
                else "P(t) does not decay within the lags (τ longer than the run)"
            )
            warnings.warn(f"residence of {mobile} on {label} unresolved: {why}", stacklevel=2)
        if model != "unresolved" and exp_idx.size and p_all[c, exp_idx[-1]] > hi:
            warnings.warn(
                f"P(t) of {label} stays above {hi} over the lags: τ = {tau.value:.3g} ps is an "
                "extrapolation; run longer or raise max_lag_ps",
                stacklevel=2,
            )
        classes[label] = ResidenceClass(
            tau_ps=tau,
            model=model,
            beta=float(beta) if np.isfinite(beta) else None,
            n_events=int(n_events[c]),
            fraction_of_time=float(occupancy[c]),
            beta_stderr=float(e_b) if np.isfinite(e_b) else None,
            tau_kww_ps=float(tau_k) if np.isfinite(tau_k) else None,
            fit_window_ps=(
                (float(t[exp_idx[0]]), float(t[exp_idx[-1]]))
                if exp_idx.size
                else (float("nan"), float("nan"))
            ),
        )
        survival[label] = p_val[k]
        survival_err[label] = p_err[k]
    temp = temperature_K if temperature_K is not None else traj.temperature_K
    return ResidenceResult(
        temperature_K=None if temp is None else float(temp),
        classes=classes,
        lags_ps=t,
        survival=survival,
        survival_stderr=survival_err,
        definition="intermittent" if tolerance_ps > 0 else "continuous",
        tolerance_ps=float(tolerance_ps),
        rule=rule,
        species=(mobile, center, *ligands),
        cutoffs_A={k: float(v) for k, v in cutoffs.items() if k in ligands},
        host_cutoff_A=None if rule != "nearest_center" else float(host_cutoff_A),
        n_blocks=n_blocks,
        unassigned_fraction=float(np.mean(filled < 0)),
    )


# -- temperatures ---------------------------------------------------------------------------------
def residence_activation(results: Sequence[ResidenceResult]) -> dict[str, ArrheniusFit]:
    """Arrhenius fit of the hop rate 1/τ per environment: 1/τ = ν₀ exp(−ε_a / k_B T).

    Each environment resolved at two or more distinct temperatures gets a weighted fit of
    ln(1/τ) against 1/T (:func:`solidion.transport.arrhenius.fit_arrhenius`), with the error of
    1/τ propagated as stderr(τ)/τ². Environments seen at fewer temperatures are skipped with a
    warning.

    Args:
        results: One :class:`ResidenceResult` per temperature (each with ``temperature_K``).

    Returns:
        ``{label: ArrheniusFit}``; ``fit.activation_energy_eV`` is ε_a.

    Raises:
        InputError: A result without a temperature, or fewer than two distinct temperatures.
    """
    temps = []
    for r in results:
        if r.temperature_K is None:
            raise InputError("every ResidenceResult needs a temperature_K for an Arrhenius fit")
        temps.append(r.temperature_K)
    if len(set(temps)) < 2:
        raise InputError("residence activation energies need at least two distinct temperatures")
    labels = sorted({label for r in results for label in r.classes})
    fits: dict[str, ArrheniusFit] = {}
    for label in labels:
        pts = [
            (r.temperature_K, r.classes[label].tau_ps)
            for r in results
            if label in r.classes
            and r.classes[label].model != "unresolved"
            and np.isfinite(r.classes[label].tau_ps.value)
            and np.isfinite(r.classes[label].tau_ps.stderr)
            and r.classes[label].tau_ps.stderr > 0
        ]
        if len({p[0] for p in pts}) < 2:
            warnings.warn(
                f"environment {label} is resolved at fewer than two temperatures; no ε_a",
                stacklevel=2,
            )
            continue
        t = [float(p[0]) for p in pts]
        rate = [1.0 / p[1].value for p in pts]
        rate_err = [p[1].stderr / p[1].value ** 2 for p in pts]
        fits[label] = fit_arrhenius(t, rate, rate_err)
    return fits


def activation_to_dict(fits: Mapping[str, ArrheniusFit]) -> dict[str, dict[str, float | None]]:
    """The ``residence_activation_eV`` JSON block: ``{label: {"value": ε_a, "stderr": …}}``."""
    return {label: fit.activation_energy_eV.to_dict() for label, fit in fits.items()}


# -- plots ------------------------------------------------------------------------------------------
def plot_survival(result: ResidenceResult, ax=None):
    """P(t) per environment on a log axis, with the fitted curves (dashed). Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    t = result.lags_ps
    for label, p in result.survival.items():
        cls = result.classes[label]
        keep = p > 0
        (line,) = ax.plot(t[keep], p[keep], "o", ms=2.5, label=label)
        if cls.model != "unresolved":
            hi = cls.fit_window_ps[1] if np.isfinite(cls.fit_window_ps[1]) else t[-1]
            grid = np.linspace(0.0, min(t[-1], 1.5 * hi), 200)
            kind = "KWW" if cls.model == "stretched_exponential" else "exp"
            ax.plot(
                grid,
                cls.curve(grid),
                "--",
                lw=1,
                color=line.get_color(),
                label=f"{kind}: τ = {cls.tau_ps.value:.3g} ± {cls.tau_ps.stderr:.2g} ps",
            )
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-3, top=1.2)
    ax.set_xlabel("t (ps)")
    ax.set_ylabel("P(t)")
    title = f"{result.definition}"
    if result.temperature_K:
        title += f", {result.temperature_K:g} K"
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    return ax


def plot_activation(
    fits: Mapping[str, ArrheniusFit], ax=None, *, diffusion_Ea_eV: Estimate | float | None = None
):
    """Bar chart of ε_a per environment with error bars; optionally E_a of diffusion as a line.

    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.0, 3.0))
    labels = list(fits)
    values = [fits[k].activation_energy_eV.value for k in labels]
    errors = [fits[k].activation_energy_eV.stderr for k in labels]
    x = np.arange(len(labels))
    ax.bar(x, values, yerr=errors, capsize=4, color="C0", alpha=0.8)
    ax.set_xticks(x, labels)
    if diffusion_Ea_eV is not None:
        est = (
            diffusion_Ea_eV
            if isinstance(diffusion_Ea_eV, Estimate)
            else Estimate(float(diffusion_Ea_eV), 0.0)
        )
        ax.axhline(est.value, color="C3", lw=1, label=f"Eₐ (diffusion) = {est:.3f} eV")
        if est.stderr > 0:
            ax.axhspan(est.value - est.stderr, est.value + est.stderr, color="C3", alpha=0.15)
        ax.legend(frameon=False, fontsize=8)
    ax.set_ylabel("εₐ (eV)")
    return ax

"""Distinct-particle displacement correlations and Van Hove correlation functions.

**Distinct displacement correlation.** For species A and B,

.. math::
    C_{AB}(t) = \\frac{1}{N_A}\\Big\\langle \\sum_{a\\in A}\\sum_{b\\in B,\\,b\\ne a}
        \\Delta\\mathbf r_a(t)\\cdot\\Delta\\mathbf r_b(t)\\Big\\rangle_{t_0}
      = \\frac{1}{N_A}\\Big[\\langle \\Delta\\mathbf R_A(t)\\cdot\\Delta\\mathbf R_B(t)\\rangle
        - \\delta_{AB}\\sum_{a\\in A}\\langle|\\Delta\\mathbf r_a(t)|^2\\rangle\\Big]

with :math:`\\Delta\\mathbf R_A = \\sum_{a\\in A}\\Delta\\mathbf r_a` the collective displacement,
so every time origin is used through FFT correlations (no pair loop). For A = B this is the
distinct part of the charge MSD: :math:`N_A D_\\sigma / D^* = 1 + C_{AA}(t)/\\mathrm{MSD}(t)` at
long times, i.e. the inverse Haven ratio; C_AA ≈ 0 means the ions move independently
(H_R ≈ 1), and cross-species terms (A ≠ B) are what moves the transference number away from its
Nernst–Einstein value (Fong et al., Macromolecules 53, 8 (2020); Vargas-Barbosa & Roling,
ChemElectroChem 7, 367 (2020)). Optionally the sum is resolved by the minimum-image distance of
each pair at the time origin, in shells :math:`[r_k, r_{k+1})`, which shows *which* neighbours
move together (computed pair by pair over a sample of origins).

**Van Hove functions** (Van Hove, Phys. Rev. 95, 249 (1954); Hansen & McDonald, *Theory of Simple
Liquids*, 4th ed., §7.4) of one species of N atoms:

.. math::
    G_s(r,t) = \\frac{1}{N}\\Big\\langle\\sum_i \\delta\\big(r - |\\mathbf r_i(t_0+t)
        - \\mathbf r_i(t_0)|\\big)\\Big\\rangle \\Big/ 4\\pi r^2, \\qquad
    \\frac{G_d(r,t)}{\\rho} = \\frac{1}{N\\rho}\\Big\\langle\\sum_i\\sum_{j\\ne i}
        \\delta\\big(r - |\\mathbf r_j(t_0+t) - \\mathbf r_i(t_0)|\\big)\\Big\\rangle
        \\Big/ 4\\pi r^2

with ρ = (N − 1)/V. G_s integrates to one over space; G_d/ρ is reported (it tends to 1 at large
r and equals g(r) at t = 0, binned exactly as :func:`solidion.structure.rdf.rdf`).

**Uncertainty.** The run is cut into consecutive time blocks; each block gives its own curve
and the error is the delete-one-block jackknife, calibrated to a 68 % interval
(:func:`solidion.transport.estimate.jackknife`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from solidion.errors import InputError
from solidion.structure.neighbors import frame_chunk, half_widths, min_image_distances
from solidion.trajectory import Trajectory
from solidion.transport.estimate import jackknife
from solidion.transport.msd import cross_msd_fft, msd_fft
from solidion.units import PS_PER_FS

__all__ = [
    "DistinctResult",
    "VanHoveResult",
    "distinct_correlation",
    "distinct_correlations",
    "van_hove",
]

#: Reference frames for the displacements (see :func:`distinct_correlation`).
FRAMES = ("lab", "barycentric", "framework")


# -- shared validation -------------------------------------------------------------------------
def _lag_frames(traj: Trajectory, lags_ps: Sequence[float] | np.ndarray) -> np.ndarray:
    lags_ps = np.atleast_1d(np.asarray(lags_ps, dtype=np.float64))
    if lags_ps.ndim != 1 or lags_ps.size == 0 or not np.all(np.isfinite(lags_ps)):
        raise InputError("lags_ps must be a non-empty 1-D sequence of finite times")
    if np.any(lags_ps < 0):
        raise InputError(f"lags must be non-negative, got {lags_ps.min():g} ps")
    dt_ps = traj.timestep_fs * PS_PER_FS
    frames = np.unique(np.rint(lags_ps / dt_ps).astype(np.int64))
    if frames[-1] > traj.n_frames - 1:
        raise InputError(
            f"lag {lags_ps.max():g} ps is longer than the trajectory "
            f"({traj.duration_ps:g} ps, {traj.n_frames} frames)"
        )
    return frames


def _reference_drift(traj: Trajectory, frame: str, a: str) -> np.ndarray:
    """Displacement of the chosen reference centre of mass since frame 0, (n_frames, 3)."""
    if frame not in FRAMES:
        raise InputError(f"frame must be one of {', '.join(FRAMES)}; got {frame!r}")
    if frame == "lab":
        return np.zeros((traj.n_frames, 3))
    ref = [s for s in traj.species if frame == "barycentric" or s != a]
    if not ref:
        raise InputError(f"frame='framework' needs species other than {a!r} in the trajectory")
    idx = traj.indices(ref)
    masses = np.array([atomic_masses[atomic_numbers[traj.symbols[i]]] for i in idx])
    com = np.einsum("tik,i->tk", traj.positions[:, idx], masses) / masses.sum()
    return com - com[0]


def _jackknife_curves(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over blocks and calibrated jackknife error of curves, blocks (n_blocks, ...)."""
    shape = blocks.shape[1:]
    flat = blocks.reshape(blocks.shape[0], -1)
    value, err = jackknife(lambda m: m, flat)
    return value.reshape(shape), err.reshape(shape)


# -- distinct displacement correlation --------------------------------------------------------
@dataclass(frozen=True)
class DistinctResult:
    """Distinct displacement correlation C_AB(t) per particle of A, in Å².

    Attributes:
        pair: ``(A, B)``.
        frame: Reference frame of the displacements (``"lab"``, ``"barycentric"``,
            ``"framework"``).
        lags_ps: Lag times in ps.
        value_A2: C_AB(t) per particle of A, in Å², shape (n_lags,).
        stderr_A2: Its calibrated jackknife standard error.
        self_msd_A2: Self MSD of species A at the same lags (for the Haven-ratio reading
            MSD / (MSD + C_AA)), in Å².
        n_blocks: Time blocks of the jackknife.
        shells_A: Shell edges [r_0, r_1, …] in Å of the initial pair distance, if resolved.
        shell_value_A2: C_AB(t) restricted to pairs in each shell, (n_shells, n_lags).
        shell_stderr_A2: Its jackknife error.
        shell_partners: Mean number of B partners of one A atom in each shell at t0.
        n_origins: Time origins per block used for the shell-resolved curves.
    """

    pair: tuple[str, str]
    frame: str
    lags_ps: np.ndarray
    value_A2: np.ndarray
    stderr_A2: np.ndarray
    self_msd_A2: np.ndarray
    n_blocks: int
    shells_A: tuple[float, ...] | None = None
    shell_value_A2: np.ndarray | None = None
    shell_stderr_A2: np.ndarray | None = None
    shell_partners: np.ndarray | None = None
    n_origins: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pair": list(self.pair),
            "frame": self.frame,
            "lags_ps": self.lags_ps.tolist(),
            "value_A2": self.value_A2.tolist(),
            "stderr_A2": self.stderr_A2.tolist(),
            "self_msd_A2": self.self_msd_A2.tolist(),
            "n_blocks": self.n_blocks,
        }
        if self.shells_A is not None:
            out["shells_A"] = list(self.shells_A)
            out["shell_value_A2"] = np.asarray(self.shell_value_A2).tolist()
            out["shell_stderr_A2"] = np.asarray(self.shell_stderr_A2).tolist()
            out["shell_partners"] = np.asarray(self.shell_partners).tolist()
            out["n_origins"] = self.n_origins
        return out


def distinct_correlation(
    traj: Trajectory,
    a: str,
    b: str,
    lags_ps: Sequence[float] | np.ndarray | None = None,
    *,
    n_lags: int = 50,
    max_lag_ps: float | None = None,
    shells_A: Sequence[float] | None = None,
    frame: str = "framework",
    n_blocks: int = 5,
    n_origins: int = 50,
) -> DistinctResult:
    """Distinct displacement correlation ⟨Σ_{a≠b} Δr_a(t)·Δr_b(t)⟩ / N_A of a species pair.

    The full curve uses every time origin of each block (collective displacements and FFT
    correlations, see the module docstring); the shell-resolved curves use ``n_origins``
    evenly spaced origins in all (split among the blocks) and the full pair-distance matrix at
    each origin.

    Args:
        traj: The trajectory (unwrapped positions).
        a: Species whose particles normalise the sum (usually the mobile ion).
        b: Partner species; ``b == a`` gives the mobile–mobile distinct term.
        lags_ps: Lag times in ps (rounded to frames). Default: ``n_lags`` evenly spaced lags up
            to ``max_lag_ps``.
        n_lags: Number of lags when ``lags_ps`` is not given.
        max_lag_ps: Longest lag when ``lags_ps`` is not given; default half a block.
        shells_A: Edges ``[r_0, r_1, …]`` in Å of initial-separation shells; pairs whose
            minimum-image distance at t0 lies in ``[r_k, r_{k+1})`` form shell k. The last edge
            must not exceed half the cell width.
        frame: ``"framework"`` (default: relative to the centre of mass of every species
            except ``a``, the frame of the transport analysis, so that C_ab here and H_R there
            agree), ``"barycentric"`` (relative to the centre of mass of all atoms) or
            ``"lab"`` (no correction: a drifting cell adds its drift squared to every pair).
        n_blocks: Consecutive time blocks for the jackknife error (≥ 2).
        n_origins: Origins for the shell-resolved curves, in all.

    Returns:
        A :class:`DistinctResult`.

    Raises:
        InputError: Absent species, a lag longer than the trajectory or than a block, shells
            beyond half the cell width, an unknown frame.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(0, 0.1, (200, 8, 3)).cumsum(axis=0) + rng.uniform(0, 20, (1, 8, 3))
        >>> t = Trajectory.from_arrays(["Li"] * 8, x, np.eye(3) * 20, 10.0)
        >>> r = distinct_correlation(t, "Li", "Li", [0.0, 0.1], frame="lab")
        >>> r.lags_ps.tolist(), r.value_A2.shape
        ([0.0, 0.1], (2,))
    """
    ia, ib = traj.indices(a), traj.indices(b)
    if a == b and ia.size < 2:
        raise InputError(f"a distinct {a}–{a} correlation needs at least two {a} atoms")
    if int(n_blocks) < 2:
        raise InputError(f"n_blocks must be at least 2, got {n_blocks}")
    n_blocks = int(n_blocks)
    drift = _reference_drift(traj, frame, a)
    n = traj.n_frames
    dt_ps = traj.timestep_fs * PS_PER_FS
    block = n // n_blocks
    if lags_ps is not None:
        lags = _lag_frames(traj, lags_ps)
    else:
        if max_lag_ps is None:
            max_lag = max(1, (block - 1) // 2)
        else:
            max_lag = int(_lag_frames(traj, [max_lag_ps])[-1])
        if int(n_lags) < 1:
            raise InputError(f"n_lags must be at least 1, got {n_lags}")
        lags = np.unique(np.rint(np.linspace(0, max_lag, int(n_lags))).astype(np.int64))
    if lags[-1] > block - 1:
        raise InputError(
            f"lag {lags[-1] * dt_ps:g} ps is longer than one of the {n_blocks} time blocks "
            f"({(block - 1) * dt_ps:g} ps); use fewer blocks or shorter lags"
        )

    xa = traj.positions[:, ia] - drift[:, None, :]
    xb = traj.positions[:, ib] - drift[:, None, :]
    curves = np.zeros((n_blocks, lags.size))
    self_curves = np.zeros((n_blocks, lags.size))
    for k in range(n_blocks):
        sl = slice(k * block, (k + 1) * block)
        ra = xa[sl].sum(axis=1)
        rb = xb[sl].sum(axis=1)
        self_msd = msd_fft(xa[sl])
        coll = cross_msd_fft(ra, None if a == b else rb)
        if a == b:
            coll = coll - ia.size * self_msd
        curves[k] = coll[lags] / ia.size
        self_curves[k] = self_msd[lags]
    value, err = _jackknife_curves(curves)

    shells = shell_value = shell_err = partners = None
    per_block = None
    if shells_A is not None:
        edges = np.asarray(shells_A, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0:
            raise InputError(
                f"shells_A must be increasing edges [r0, r1, ...] with r0 ≥ 0, got {shells_A}"
            )
        limit = float(half_widths(traj.cells).min())
        if edges[-1] > limit:
            raise InputError(
                f"the outer shell edge {edges[-1]:g} Å exceeds half the cell width "
                f"({limit:.3f} Å); pair distances beyond it are not unique"
            )
        per_block = max(1, int(n_origins) // n_blocks)
        shell_blocks, partner_blocks = [], []
        for k in range(n_blocks):
            last = k * block + block - 1 - int(lags[-1])
            origins = np.unique(np.linspace(k * block, last, per_block).astype(np.int64))
            s_k, p_k = _shell_block(xa, xb, traj.cells, origins, lags, edges, a == b)
            shell_blocks.append(s_k)
            partner_blocks.append(p_k)
        shell_value, shell_err = _jackknife_curves(np.stack(shell_blocks))
        partners = np.mean(partner_blocks, axis=0)
        shells = tuple(float(e) for e in edges)

    return DistinctResult(
        pair=(a, b),
        frame=frame,
        lags_ps=lags * dt_ps,
        value_A2=value,
        stderr_A2=err,
        self_msd_A2=self_curves.mean(axis=0),
        n_blocks=n_blocks,
        shells_A=shells,
        shell_value_A2=shell_value,
        shell_stderr_A2=shell_err,
        shell_partners=partners,
        n_origins=per_block,
    )


def distinct_correlations(
    traj: Trajectory, mobile: str, partners: Sequence[str] | None = None, **kwargs: Any
) -> dict[str, DistinctResult]:
    """:func:`distinct_correlation` of the mobile species with each partner species.

    Args:
        traj: The trajectory.
        mobile: The mobile species (A of every pair).
        partners: Partner species (B); default every species, the mobile one first.
        **kwargs: Passed on (lags, blocks, frame; ``shells_A`` applies to the mobile–mobile
            pair only).

    Returns:
        ``{partner: DistinctResult}``.
    """
    traj.indices(mobile)
    if partners is None:
        partners = [mobile] + [s for s in traj.species if s != mobile]
    shells = kwargs.pop("shells_A", None)
    return {
        b: distinct_correlation(traj, mobile, b, shells_A=shells if b == mobile else None, **kwargs)
        for b in partners
    }


def _shell_block(
    xa: np.ndarray,
    xb: np.ndarray,
    cells: np.ndarray,
    origins: np.ndarray,
    lags: np.ndarray,
    edges: np.ndarray,
    same: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Shell-resolved distinct correlation averaged over ``origins``: (n_shells, n_lags)."""
    n_shells = edges.size - 1
    na = xa.shape[1]
    out = np.zeros((n_shells, lags.size))
    partners = np.zeros(n_shells)
    for t0 in origins:
        d0 = min_image_distances(xa[t0][None], xb[t0][None], cells[t0][None])[0]
        shell = np.digitize(d0, edges) - 1  # bin k for edges[k] ≤ d < edges[k+1]
        shell[shell >= n_shells] = -1
        if same:
            np.fill_diagonal(shell, -1)
        onehot = (shell[None] == np.arange(n_shells)[:, None, None]).astype(np.float64)
        da = xa[t0 + lags] - xa[t0]
        db = xb[t0 + lags] - xb[t0]
        dots = np.einsum("lik,ljk->lij", da, db)
        out += np.einsum("lij,sij->sl", dots, onehot) / na
        partners += onehot.sum(axis=(1, 2)) / na
    return out / origins.size, partners / origins.size


# -- Van Hove ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VanHoveResult:
    """Self and distinct Van Hove functions of one species.

    Attributes:
        species: The element.
        lags_ps: Lag times in ps, shape (n_lags,).
        r_A: Bin centres in Å, shape (n_bins,).
        G_s: Self part in Å⁻³, (n_lags, n_bins); ∫ 4πr² G_s dr = 1 (up to r_max).
        G_d: Distinct part divided by the number density ρ = (N − 1)/V, (n_lags, n_bins);
            → 1 at large r and equal to g(r) at t = 0.
        n_origins: Time origins averaged at each lag.
    """

    species: str
    lags_ps: np.ndarray
    r_A: np.ndarray
    G_s: np.ndarray
    G_d: np.ndarray
    n_origins: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "lags_ps": self.lags_ps.tolist(),
            "r_A": self.r_A.tolist(),
            "G_s": self.G_s.tolist(),
            "G_d": self.G_d.tolist(),
            "n_origins": self.n_origins,
        }


def van_hove(
    traj: Trajectory,
    species: str,
    lags_ps: Sequence[float] | np.ndarray,
    *,
    r_max: float | None = None,
    n_bins: int = 100,
    n_origins: int = 50,
) -> VanHoveResult:
    """Self and distinct Van Hove correlation functions G_s(r, t), G_d(r, t)/ρ.

    Self displacements use the unwrapped positions; distinct distances |r_j(t0+t) − r_i(t0)|
    the minimum image in the cell of frame t0 + t. The bins are those of
    :func:`solidion.structure.rdf.rdf` (``linspace(0, r_max, n_bins + 1)``, exact sphere shells),
    and the density is averaged over the frames used, so G_d(r, 0)/ρ equals that g(r) of the
    same frames.

    Args:
        traj: The trajectory.
        species: The element.
        lags_ps: Lag times in ps (rounded to frames; 0 allowed).
        r_max: Largest r in Å; default and upper limit half the smallest cell width.
        n_bins: Histogram bins.
        n_origins: Evenly spaced time origins (all origins that leave room for the longest lag,
            when there are fewer).

    Returns:
        A :class:`VanHoveResult`.

    Raises:
        InputError: Absent species, a lag longer than the trajectory, r_max beyond half the
            cell width, fewer than two atoms.
    """
    idx = traj.indices(species)
    if idx.size < 2:
        raise InputError(f"Van Hove functions of {species} need at least two {species} atoms")
    lags = _lag_frames(traj, lags_ps)
    limit = float(half_widths(traj.cells).min())
    r_max = limit if r_max is None else float(r_max)
    if not 0 < r_max <= limit + 1e-9:
        raise InputError(f"r_max must be in (0, {limit:.3f}] Å for this cell, got {r_max}")
    if int(n_bins) < 1 or int(n_origins) < 1:
        raise InputError("n_bins and n_origins must be positive")
    n = traj.n_frames
    last = n - 1 - int(lags[-1])
    origins = np.unique(np.linspace(0, last, min(int(n_origins), last + 1)).astype(np.int64))
    edges = np.linspace(0.0, r_max, int(n_bins) + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    x = traj.positions[:, idx]
    cells = traj.cells
    volumes = traj.volume_A3
    na = idx.size
    g_s = np.zeros((lags.size, edges.size - 1))
    g_d = np.zeros_like(g_s)
    off_diag = ~np.eye(na, dtype=bool)
    step = frame_chunk(na * na)
    for li, m in enumerate(lags):
        disp = np.linalg.norm(x[origins + m] - x[origins], axis=-1)
        g_s[li] = np.histogram(disp, bins=edges)[0]
        hist = np.zeros(edges.size - 1)
        for s in range(0, origins.size, step):
            o = origins[s : s + step]
            d = min_image_distances(x[o], x[o + m], cells[o + m])
            hist += np.histogram(d[:, off_diag], bins=edges)[0]
        density = float(np.mean((na - 1) / volumes[origins + m]))
        g_s[li] /= origins.size * na * shell
        g_d[li] = hist / (origins.size * na) / (density * shell)
    return VanHoveResult(
        species=species,
        lags_ps=lags * traj.timestep_fs * PS_PER_FS,
        r_A=0.5 * (edges[1:] + edges[:-1]),
        G_s=g_s,
        G_d=g_d,
        n_origins=int(origins.size),
    )

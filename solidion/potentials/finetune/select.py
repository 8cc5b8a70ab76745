"""Pick the frames of MD runs worth labelling: diverse ones, or ones a committee disputes.

**Farthest-point sampling** (T. F. Gonzalez, Theor. Comput. Sci. 38, 293 (1985); the standard
way to pick diverse structures for MLIP training sets) on a per-frame descriptor
(:func:`~solidion.potentials.finetune.descriptors.frame_descriptors`): start from one frame
chosen by the seed, then repeatedly add the candidate farthest from everything chosen so far,

.. math::  c_{k+1} = \\arg\\max_i \\min_{j \\le k} \\lVert x_i - x_{c_j} \\rVert .

The smallest distance between two chosen frames is as large as any greedy choice can make it,
so near-duplicates (consecutive MD frames) are skipped; exact duplicates are never chosen.

**Committee disagreement** (query by committee: H. S. Seung, M. Opper and H. Sompolinsky,
COLT 1992; for potentials e.g. J. S. Smith et al., J. Chem. Phys. 148, 241733 (2018)): the
largest per-atom standard deviation of the forces predicted by several potentials (e.g.
fine-tuned with different seeds); frames where they disagree most are where the training
data are thinnest. :func:`select_by_committee` takes the most disputed frames while keeping
them apart in descriptor space.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError
from solidion.potentials.finetune.descriptors import (
    RadialDescriptor,
    frame_descriptors,
    species_of,
)

if TYPE_CHECKING:
    from ase import Atoms

__all__ = [
    "candidate_frames",
    "committee_disagreement",
    "farthest_point_sampling",
    "select_by_committee",
    "select_frames",
    "write_frames",
]


def _generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def farthest_point_sampling(
    x: np.ndarray,
    n: int,
    *,
    rng: int | np.random.Generator | None = 0,
    min_distance: float = 0.0,
) -> np.ndarray:
    """Indices of ``n`` rows of ``x`` chosen by farthest-point sampling.

    Args:
        x: ``(n_candidates, n_features)`` descriptors.
        n: How many to choose.
        rng: Seed (or generator) of the first choice.
        min_distance: Stop early, with a warning, when the farthest remaining candidate is no
            farther than this from the chosen set (0: only exact duplicates are refused).

    Returns:
        Chosen row indices, in the order chosen.

    Raises:
        InputError: no candidates, ``n`` < 1.

    Example:
        >>> x = np.array([[0.0], [0.1], [5.0], [5.05], [10.0]])
        >>> sorted(farthest_point_sampling(x, 3, rng=0).tolist())
        [0, 2, 4]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(f"candidates: expected a non-empty (n, d) array, got shape {x.shape}")
    if int(n) < 1:
        raise InputError(f"n: must be ≥ 1, got {n}")
    first = int(_generator(rng).integers(len(x)))
    chosen = [first]
    dmin = np.linalg.norm(x - x[first], axis=1)
    while len(chosen) < min(int(n), len(x)):
        nxt = int(np.argmax(dmin))
        if not dmin[nxt] > min_distance:
            warnings.warn(
                f"only {len(chosen)} of the {n} frames requested are farther than "
                f"{min_distance:g} from each other; the rest would be (near-)duplicates",
                stacklevel=2,
            )
            break
        chosen.append(nxt)
        dmin = np.minimum(dmin, np.linalg.norm(x - x[nxt], axis=1))
    return np.array(chosen, dtype=int)


def candidate_frames(
    sources: Sequence[str | os.PathLike[str] | Atoms | Sequence[Atoms]],
    *,
    max_frames_per_source: int | None = None,
) -> list[Atoms]:
    """Frames of trajectory files (or given structures), each tagged with where it came from.

    Every frame's ``info`` gets ``trajectory`` (the source's name: the file path, or
    ``"structures[k]"``), ``source`` and ``frame`` (its index there), so labels made from it can
    later be split by trajectory.

    Args:
        sources: Trajectory files (H5MD through solidion, anything else through ``ase.io``),
            single structures, or lists of structures.
        max_frames_per_source: Evenly spaced subset of each file (None: every frame).
    """
    from ase import Atoms

    from solidion.potentials.finetune.trust import frames_of_trajectory

    out: list[Atoms] = []
    if isinstance(sources, Atoms | str | os.PathLike):
        sources = [sources]
    for k, src in enumerate(sources):
        if isinstance(src, str | os.PathLike):
            frames, info = frames_of_trajectory(src, max_frames=max_frames_per_source)
            name, indices = str(src), info["frame_indices"]
        else:
            frames = [src] if isinstance(src, Atoms) else list(src)
            frames = [a.copy() for a in frames]
            name, indices = f"structures[{k}]", list(range(len(frames)))
        for a, i in zip(frames, indices, strict=True):
            a.calc = None
            a.info = {"trajectory": name, "source": name, "frame": int(i)}
            out.append(a)
    if not out:
        raise InputError("sources: no frames to choose from")
    return out


def select_frames(
    sources: Sequence[str | os.PathLike[str] | Atoms | Sequence[Atoms]],
    n: int,
    *,
    rng: int | np.random.Generator | None = 0,
    descriptor: RadialDescriptor | None = None,
    max_frames_per_source: int | None = None,
    min_distance: float = 0.0,
) -> list[Atoms]:
    """Choose ``n`` diverse frames from MD runs by farthest-point sampling.

    Args:
        sources: See :func:`candidate_frames`.
        n: Frames to choose.
        rng: Seed of the first choice (the rest is deterministic).
        descriptor: Default: every species of the candidates, 5 Å, 12 channels.
        max_frames_per_source: Evenly spaced candidates per file (None: all).
        min_distance: See :func:`farthest_point_sampling`.

    Returns:
        The chosen frames (copies, ``info`` as in :func:`candidate_frames`), in the order chosen.

    Example:
        >>> from ase.build import bulk
        >>> base = bulk("Cu", cubic=True).repeat(2)
        >>> run = []
        >>> for k in range(6):
        ...     a = base.copy(); a.rattle(0.02 * (k + 1), seed=k); run += [a, a.copy()]
        >>> picked = select_frames([run], 4, rng=1)
        >>> len(picked), len({p.info["frame"] // 2 for p in picked})  # no duplicate picked
        (4, 4)
    """
    candidates = candidate_frames(sources, max_frames_per_source=max_frames_per_source)
    descriptor = descriptor or RadialDescriptor(species_of(candidates))
    x = frame_descriptors(candidates, descriptor)
    chosen = farthest_point_sampling(x, n, rng=rng, min_distance=min_distance)
    return [candidates[i] for i in chosen]


def committee_disagreement(frames: Sequence[Atoms], committee: Sequence[Any]) -> np.ndarray:
    """Per frame, the largest per-atom force spread across a committee of potentials.

    .. math::  \\sigma_F = \\max_i \\sqrt{\\tfrac{1}{M}\\sum_m \\lVert F_i^{(m)} - \\bar F_i
               \\rVert^2}

    Args:
        frames: Structures.
        committee: Two or more potentials: ASE calculators or specs for
            :func:`solidion.potentials.get` (names, checkpoint paths).

    Returns:
        ``(n_frames,)`` force spreads in eV/Å.

    Raises:
        InputError: fewer than two members.
    """
    from solidion.potentials import get

    members = list(committee)
    if len(members) < 2:
        raise InputError(f"committee: needs at least two potentials, got {len(members)}")
    calcs = [get(m) for m in members]
    out = np.empty(len(frames))
    for k, atoms in enumerate(frames):
        forces = []
        for calc in calcs:
            a = atoms.copy()
            a.calc = calc
            forces.append(np.asarray(a.get_forces(), dtype=np.float64))
        f = np.array(forces)  # (M, n_atoms, 3)
        spread = np.sqrt(((f - f.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0))
        out[k] = float(spread.max())
    return out


def select_by_committee(
    sources: Sequence[str | os.PathLike[str] | Atoms | Sequence[Atoms]],
    committee: Sequence[Any],
    n: int,
    *,
    min_distance: float | None = None,
    descriptor: RadialDescriptor | None = None,
    max_frames_per_source: int | None = None,
) -> list[Atoms]:
    """Choose the ``n`` frames a committee disagrees on most, keeping them apart.

    Frames are taken in decreasing :func:`committee_disagreement`; a frame closer than
    ``min_distance`` (frame-descriptor distance) to one already taken is skipped.

    Args:
        sources: See :func:`candidate_frames`.
        committee: Two or more potentials (calculators, names or checkpoint paths).
        n: Frames to choose.
        min_distance: Default: the median nearest-neighbour distance between candidates,
            so consecutive MD frames are not both taken.
        descriptor: For the distances; default as :func:`select_frames`.
        max_frames_per_source: Candidates per file.

    Returns:
        The chosen frames; ``info["committee_force_spread_eV_A"]`` holds each one's spread.
    """
    from scipy.spatial import cKDTree

    candidates = candidate_frames(sources, max_frames_per_source=max_frames_per_source)
    if int(n) < 1:
        raise InputError(f"n: must be ≥ 1, got {n}")
    spread = committee_disagreement(candidates, committee)
    descriptor = descriptor or RadialDescriptor(species_of(candidates))
    x = frame_descriptors(candidates, descriptor)
    if min_distance is None:
        if len(x) > 1:
            d, _ = cKDTree(x).query(x, k=2)
            min_distance = float(np.median(d[:, 1]))
        else:
            min_distance = 0.0
    chosen: list[int] = []
    for i in np.argsort(-spread, kind="stable"):
        if len(chosen) >= int(n):
            break
        if chosen and np.linalg.norm(x[chosen] - x[i], axis=1).min() <= min_distance:
            continue
        chosen.append(int(i))
    if len(chosen) < int(n):
        warnings.warn(
            f"only {len(chosen)} of the {n} frames requested are at least {min_distance:.3g} "
            "apart in descriptor space",
            stacklevel=2,
        )
    out = []
    for i in chosen:
        a = candidates[i]
        a.info["committee_force_spread_eV_A"] = float(spread[i])
        out.append(a)
    return out


def write_frames(frames: Sequence[Atoms], path: str | os.PathLike[str]) -> Path:
    """Write unlabelled frames as extended XYZ input structures for a reference calculator.

    Written atomically; each frame keeps its ``info`` (``trajectory``, ``source``, ``frame``).
    :func:`solidion.potentials.finetune.label.label_frames` reads this file.

    Returns:
        The path written.
    """
    from ase.io import write

    from solidion.io._atomic import atomic_path

    frames = list(frames)
    if not frames:
        raise InputError("frames: nothing to write")
    clean = []
    for a in frames:
        b = a.copy()
        b.calc = None
        clean.append(b)
    out = Path(path)
    with atomic_path(out, suffix=".extxyz.tmp") as tmp:
        write(tmp, clean, format="extxyz")
    return out

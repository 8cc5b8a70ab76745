"""How far a trajectory strays from the structures a potential was fine-tuned on.

A machine-learned potential interpolates: where the local environments of an MD run resemble
those of its training data its forces can be trusted about as far as its test errors say;
elsewhere nothing bounds them. :class:`TrustReference` keeps the training environments (the
per-atom :class:`~solidion.potentials.finetune.descriptors.RadialDescriptor` of every training
atom, one k-d tree per centre species) and a threshold per species; :meth:`TrustReference.check`
measures, for each atom of the frames of a run, the distance to its nearest training
environment of the same species,

.. math::  d_i = \\min_{m \\in \\mathrm{train},\\; Z_m = Z_i} \\lVert G_i - G_m \\rVert_2 ,

and reports it relative to the threshold, ``d_i / t_{Z_i}``. The threshold is the ``quantile``
(default 0.99) of the same distance for *held-out* atoms — the validation split, which the
weights never saw — so about 1 % of in-domain environments exceed it by construction, and a run
where many more do has left the training domain. Atoms of a species the training data lacks,
or with such a neighbour, are out of the domain outright.

This is the descriptor-distance form of the uncertainty checks used for active learning of
potentials (e.g. farthest-point/novelty sampling as in E. V. Podryabinkin and A. V. Shapeev,
Comput. Mater. Sci. 140, 171 (2017), with a committee-free distance instead of a D-optimality
grade). It flags *extrapolation*, not error: an in-domain run can still inherit the potential's
systematic softening (see :func:`solidion.potentials.finetune.evaluate.softening_ratio`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError
from solidion.potentials.finetune.descriptors import RadialDescriptor, species_of

if TYPE_CHECKING:
    from ase import Atoms

    from solidion.trajectory import Trajectory

__all__ = [
    "DEFAULT_LIMIT_FRACTION",
    "TrustReference",
    "TrustReport",
    "frames_of_trajectory",
    "trust_block",
]

#: A run is flagged when more than this fraction of its atom environments lie beyond threshold.
DEFAULT_LIMIT_FRACTION = 0.05
#: Frames of a trajectory checked by default (evenly spaced, first and last included).
DEFAULT_MAX_FRAMES = 50
#: Most training environments kept per species (a seeded random subset beyond that).
DEFAULT_MAX_ENVIRONMENTS = 20_000
_STATE_FORMAT = "solidion.trust/1"


@dataclass(frozen=True)
class TrustReport:
    """Distances of a run's local environments to the training environments.

    Attributes:
        n_frames: Frames checked.
        n_environments: Atom environments checked (atoms × frames).
        fraction_out_of_domain: Share of environments beyond their species' threshold, or of
            a species (or with a neighbour species) absent from the training data.
        fraction_out_by_species: The same share per species of the run.
        relative_distance_median: Median of d/t over environments of known species.
        relative_distance_p99: 99th percentile of d/t.
        relative_distance_max: Largest d/t.
        n_unknown_environments: Environments with a species the training data lacks.
        unknown_species: Those species.
        limit_fraction: The share above which the run counts as out of the domain.
        out_of_domain: ``fraction_out_of_domain > limit_fraction``.
        source: The trajectory checked, when it came from a file.
        temperature_K: Its temperature, when known.
    """

    n_frames: int
    n_environments: int
    fraction_out_of_domain: float
    fraction_out_by_species: Mapping[str, float]
    relative_distance_median: float
    relative_distance_p99: float
    relative_distance_max: float
    n_unknown_environments: int
    unknown_species: tuple[str, ...]
    limit_fraction: float
    out_of_domain: bool
    source: str | None = None
    temperature_K: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``trust.results`` entries of ``results.json``)."""
        return {
            "source": self.source,
            "temperature_K": self.temperature_K,
            "n_frames": self.n_frames,
            "n_environments": self.n_environments,
            "fraction_out_of_domain": self.fraction_out_of_domain,
            "fraction_out_by_species": dict(self.fraction_out_by_species),
            "relative_distance_median": self.relative_distance_median,
            "relative_distance_p99": self.relative_distance_p99,
            "relative_distance_max": self.relative_distance_max,
            "n_unknown_environments": self.n_unknown_environments,
            "unknown_species": list(self.unknown_species),
            "limit_fraction": self.limit_fraction,
            "out_of_domain": self.out_of_domain,
        }

    def message(self) -> str:
        """One line for logs and warnings."""
        where = f"{self.temperature_K:g} K" if self.temperature_K is not None else self.source
        text = (
            f"{100 * self.fraction_out_of_domain:.1f} % of local environments"
            + (f" at {where}" if where else "")
            + f" lie outside the fine-tuning data (limit {100 * self.limit_fraction:g} %)"
        )
        if self.unknown_species:
            text += f"; species absent from it: {', '.join(self.unknown_species)}"
        return text


@dataclass(frozen=True, eq=False)
class TrustReference:
    """Training environments and per-species thresholds (see the module docstring).

    Attributes:
        descriptor: The descriptor settings.
        environments: Per centre species, float32 ``(m_s, n_features)`` training descriptors.
        thresholds: Per species, the calibrated distance threshold (Å⁻³, descriptor units).
        quantile: The quantile of held-out distances that set the thresholds.
        n_frames: Training frames described.
        calibration: How the thresholds were calibrated (held-out split or k-fold).
    """

    descriptor: RadialDescriptor
    environments: Mapping[str, np.ndarray]
    thresholds: Mapping[str, float]
    quantile: float
    n_frames: int
    calibration: str
    _trees: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        reference: Sequence[Atoms],
        calibration: Sequence[Atoms] | None = None,
        *,
        quantile: float = 0.99,
        descriptor: RadialDescriptor | None = None,
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        folds: int = 5,
        rng: int | np.random.Generator | None = 0,
    ) -> TrustReference:
        """Describe the training frames and calibrate the thresholds.

        Args:
            reference: The training structures.
            calibration: Held-out structures of the same distribution (the validation split).
                Species they lack, or ``None``, are calibrated by ``folds``-fold
                cross-validation over the reference frames instead (each fold's atoms against
                the other folds' environments).
            quantile: Quantile of held-out distances taken as threshold, in (0, 1].
            descriptor: Default: the reference species, 5 Å, 12 channels.
            max_environments: Environments kept per species; a seeded random subset beyond.
            folds: Folds of the fallback calibration.
            rng: Seed of the subset.

        Raises:
            InputError: no reference frames, a bad quantile, a species that cannot be
                calibrated (one frame only), or zero thresholds (the held-out frames are
                copies of training frames).

        Example:
            >>> from ase.build import bulk
            >>> frames = [bulk("Cu", cubic=True).repeat(2) for _ in range(6)]
            >>> for k, a in enumerate(frames):
            ...     a.rattle(0.05, seed=k)
            >>> ref = TrustReference.build(frames[:4], frames[4:])
            >>> ref.check([frames[5]]).out_of_domain
            False
            >>> squeezed = frames[5].copy()
            >>> squeezed.set_cell(squeezed.cell * 0.9, scale_atoms=True)
            >>> ref.check([squeezed]).fraction_out_of_domain
            1.0
        """
        reference = list(reference)
        if not reference:
            raise InputError("reference: no training frames to describe")
        if not 0 < quantile <= 1:
            raise InputError(f"quantile: must be in (0, 1], got {quantile}")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        descriptor = descriptor or RadialDescriptor(species_of(reference))
        xs, frame_ids = _describe(descriptor, reference)
        environments: dict[str, np.ndarray] = {}
        for s, x in xs.items():
            if len(x) > max_environments:
                keep = np.sort(gen.choice(len(x), size=int(max_environments), replace=False))
                x = x[keep]
                frame_ids[s] = frame_ids[s][keep]
            environments[s] = x.astype(np.float32)
        thresholds: dict[str, float] = {}
        how: dict[str, str] = {}
        held = _describe(descriptor, list(calibration))[0] if calibration else {}
        for s, env in environments.items():
            if s in held and len(held[s]):
                d = _nearest(env, held[s])
                how[s] = f"{len(held[s])} held-out environments"
            else:
                n_frames_s = len(np.unique(frame_ids[s]))
                if n_frames_s < 2:
                    raise InputError(
                        f"calibration: species {s} occurs in one reference frame only and not in "
                        "the held-out frames; its threshold cannot be calibrated"
                    )
                k = min(int(folds), n_frames_s)
                fold = np.searchsorted(np.unique(frame_ids[s]), frame_ids[s]) % k
                d = np.concatenate([_nearest(env[fold != f], env[fold == f]) for f in range(k)])
                how[s] = f"{k}-fold over reference frames"
            t = float(np.quantile(d, quantile))
            scale = float(np.median(np.linalg.norm(env, axis=1)))
            if not t > 1e-6 * scale:  # float32 storage: copies sit ~1e-8 apart, not at 0
                raise InputError(
                    f"calibration: the held-out {s} environments coincide with training ones "
                    "(threshold 0); calibrate on frames that are not copies of training frames"
                )
            thresholds[s] = t
        methods = sorted(set(how.values()))
        return cls(
            descriptor=descriptor,
            environments=environments,
            thresholds=thresholds,
            quantile=float(quantile),
            n_frames=len(reference),
            calibration="; ".join(f"{s}: {how[s]}" for s in environments)
            if len(methods) > 1
            else methods[0],
        )

    # -- checking ---------------------------------------------------------------------------------
    def relative_distances(self, atoms: Atoms) -> np.ndarray:
        """d_i / t_{Z_i} for every atom of a structure (``inf`` for unknown environments)."""
        x, unknown = self.descriptor.environments(atoms)
        symbols = np.array(atoms.get_chemical_symbols())
        out = np.full(len(atoms), np.inf)
        for s in self.environments:
            sel = (symbols == s) & ~unknown
            if sel.any():
                d, _ = self._tree(s).query(x[sel], k=1)
                out[sel] = d / self.thresholds[s]
        return out

    def check(
        self,
        frames: Sequence[Atoms],
        *,
        limit_fraction: float = DEFAULT_LIMIT_FRACTION,
        source: str | None = None,
        temperature_K: float | None = None,
    ) -> TrustReport:
        """Summarise how far the environments of ``frames`` lie from the training data.

        Args:
            frames: Structures (e.g. from :func:`frames_of_trajectory`).
            limit_fraction: The out-of-domain share above which the report says so.
            source: Recorded in the report.
            temperature_K: Recorded in the report.

        Raises:
            InputError: no frames, or a limit outside [0, 1].
        """
        frames = list(frames)
        if not frames:
            raise InputError("frames: nothing to check")
        if not 0 <= limit_fraction <= 1:
            raise InputError(f"limit_fraction: must be in [0, 1], got {limit_fraction}")
        rel = np.concatenate([self.relative_distances(a) for a in frames])
        symbols = np.concatenate([np.array(a.get_chemical_symbols()) for a in frames])
        out = ~(rel <= 1.0)
        finite = rel[np.isfinite(rel)]
        unknown_species = tuple(sorted(set(symbols.tolist()) - set(self.environments)))
        fraction = float(out.mean())
        by_species = {s: float(out[symbols == s].mean()) for s in dict.fromkeys(symbols.tolist())}

        def stat(q: float) -> float:
            return float(np.quantile(finite, q)) if finite.size else float("nan")

        return TrustReport(
            n_frames=len(frames),
            n_environments=int(rel.size),
            fraction_out_of_domain=fraction,
            fraction_out_by_species=by_species,
            relative_distance_median=stat(0.5),
            relative_distance_p99=stat(0.99),
            relative_distance_max=float(finite.max()) if finite.size else float("nan"),
            n_unknown_environments=int(np.isinf(rel).sum()),
            unknown_species=unknown_species,
            limit_fraction=float(limit_fraction),
            out_of_domain=fraction > limit_fraction,
            source=source,
            temperature_K=None if temperature_K is None else float(temperature_K),
        )

    def check_trajectory(
        self,
        trajectory: str | os.PathLike[str] | Trajectory,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        limit_fraction: float = DEFAULT_LIMIT_FRACTION,
        temperature_K: float | None = None,
    ) -> TrustReport:
        """:meth:`check` on up to ``max_frames`` evenly spaced frames of a trajectory.

        Args:
            trajectory: A file :func:`solidion.read_trajectory` reads (H5MD of a solidion run,
                extxyz, XDATCAR, ...) or a :class:`~solidion.Trajectory`.
            max_frames: Most frames checked, evenly spaced.
            limit_fraction: See :meth:`check`.
            temperature_K: Default: the trajectory's own.
        """
        frames, info = frames_of_trajectory(trajectory, max_frames=max_frames)
        t = temperature_K if temperature_K is not None else info["temperature_K"]
        return self.check(
            frames, limit_fraction=limit_fraction, source=info["source"], temperature_K=t
        )

    def _tree(self, species: str) -> Any:
        from scipy.spatial import cKDTree

        if species not in self._trees:
            self._trees[species] = cKDTree(np.asarray(self.environments[species], np.float64))
        return self._trees[species]

    # -- storage (checkpoint-safe: tensors, strings, numbers, lists, dicts) -------------------------
    def summary(self) -> dict[str, Any]:
        """JSON-ready description, without the environments."""
        return {
            "method": "nearest training environment, smoothed partial neighbour densities",
            "descriptor": self.descriptor.to_dict(),
            "quantile": self.quantile,
            "calibration": self.calibration,
            "n_frames": self.n_frames,
            "n_environments": {s: int(len(e)) for s, e in self.environments.items()},
            "thresholds": dict(self.thresholds),
        }

    def to_state(self) -> dict[str, Any]:
        """A dictionary of tensors and plain values that ``torch.load(weights_only=True)`` reads."""
        import torch

        return {
            "format": _STATE_FORMAT,
            **self.summary(),
            "environments": {
                s: torch.from_numpy(np.ascontiguousarray(e, dtype=np.float32))
                for s, e in self.environments.items()
            },
        }

    @classmethod
    def from_state(cls, state: Any, where: str = "trust reference") -> TrustReference:
        """Inverse of :meth:`to_state`, validating every field.

        Raises:
            InputError: a missing or ill-typed field; the message says which and where.
        """
        import torch

        if not isinstance(state, Mapping) or state.get("format") != _STATE_FORMAT:
            raise InputError(f"{where}: not a solidion trust reference ({_STATE_FORMAT})")
        try:
            descriptor = RadialDescriptor.from_dict(state["descriptor"])
            envs = state["environments"]
            thresholds = {str(k): float(v) for k, v in dict(state["thresholds"]).items()}
            quantile = float(state["quantile"])
            n_frames = int(state["n_frames"])
            calibration = str(state["calibration"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: malformed trust reference ({exc!r})") from None
        if not isinstance(envs, Mapping) or set(envs) != set(thresholds):
            raise InputError(f"{where}: environments and thresholds name different species")
        environments = {}
        for s, t in envs.items():
            if (
                not isinstance(t, torch.Tensor)
                or t.ndim != 2
                or t.shape[1] != (descriptor.n_features)
            ):
                raise InputError(
                    f"{where}: environments[{s!r}] is not a (m, {descriptor.n_features}) tensor"
                )
            environments[str(s)] = t.detach().cpu().numpy().astype(np.float32)
        bad = [s for s, v in thresholds.items() if not v > 0]
        if bad:
            raise InputError(f"{where}: non-positive thresholds for {', '.join(bad)}")
        return cls(descriptor, environments, thresholds, quantile, n_frames, calibration)


def _describe(
    descriptor: RadialDescriptor, frames: Sequence[Atoms]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-species descriptors of all atoms of ``frames`` (known environments only), and the
    frame index of each."""
    xs: dict[str, list[np.ndarray]] = {}
    ids: dict[str, list[np.ndarray]] = {}
    for k, atoms in enumerate(frames):
        x, unknown = descriptor.environments(atoms)
        symbols = np.array(atoms.get_chemical_symbols())
        for s in descriptor.species:
            sel = (symbols == s) & ~unknown
            if sel.any():
                xs.setdefault(s, []).append(x[sel])
                ids.setdefault(s, []).append(np.full(int(sel.sum()), k))
    return (
        {s: np.concatenate(v) for s, v in xs.items()},
        {s: np.concatenate(v) for s, v in ids.items()},
    )


def _nearest(reference: np.ndarray, query: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    if not len(reference):
        return np.full(len(query), np.inf)
    d, _ = cKDTree(np.asarray(reference, np.float64)).query(np.asarray(query, np.float64), k=1)
    return np.asarray(d, dtype=np.float64)


def frames_of_trajectory(
    trajectory: str | os.PathLike[str] | Trajectory, *, max_frames: int | None = None
) -> tuple[list[Atoms], dict[str, Any]]:
    """Up to ``max_frames`` evenly spaced frames of a trajectory as periodic ``ase.Atoms``.

    H5MD files (what solidion's MD writes) go through :func:`solidion.read_trajectory`, reading
    only every k-th frame (k = ⌈n / max_frames⌉); any other file through ``ase.io.read``
    (extxyz, ASE ``.traj``, XDATCAR, ...), whose frames need not be close in time, subsampled
    evenly with first and last kept. Positions are wrapped into each frame's cell.

    Args:
        trajectory: A file or a :class:`~solidion.Trajectory`.
        max_frames: Most frames returned (first and last included); None for all.

    Returns:
        ``(frames, info)``, ``info`` holding ``source``, ``temperature_K`` (when known) and
        ``frame_indices`` (positions in the file).

    Raises:
        InputError: the file is missing or cannot be read (named), or ``max_frames`` < 1.
    """
    from ase import Atoms

    from solidion.errors import SolidionError
    from solidion.io import detect_format, read_trajectory
    from solidion.trajectory import Trajectory

    if max_frames is not None and int(max_frames) < 1:
        raise InputError(f"max_frames: must be ≥ 1, got {max_frames}")

    def pick(n: int) -> np.ndarray:
        if max_frames is None or n <= max_frames:
            return np.arange(n)
        return np.unique(np.round(np.linspace(0, n - 1, int(max_frames))).astype(int))

    stride = None  # the file's frame numbers of an H5MD strided read
    if isinstance(trajectory, Trajectory):
        traj, source = trajectory, trajectory.metadata.get("source")
    else:
        path = Path(os.fspath(trajectory))
        source = str(path)
        if not path.is_file():
            raise InputError(
                f"{path}: no such file" if not path.exists() else f"{path}: not a file"
            )
        try:
            is_h5md = detect_format(path) == "h5md"
        except SolidionError:
            is_h5md = False
        if not is_h5md:
            from ase.io import read

            try:
                images = read(path, index=":")
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise InputError(
                    f"{path}: cannot be read as a trajectory ({type(exc).__name__}: {first})"
                ) from None
            images = images if isinstance(images, list) else [images]
            if not images:
                raise InputError(f"{path}: holds no frames")
            idx = pick(len(images))
            frames = []
            for i in idx:
                a = images[i].copy()
                a.calc = None
                a.pbc = True
                a.wrap()
                frames.append(a)
            return frames, {"source": source, "temperature_K": None, "frame_indices": idx.tolist()}
        from solidion.io.h5md import H5MDReader

        with H5MDReader(path) as reader:  # count frames without loading them
            n = reader.n_frames
        step = 1 if max_frames is None or n <= max_frames else -(-n // int(max_frames))
        traj = read_trajectory(path, frames=slice(0, n, step))
        stride = np.arange(0, n, step)
    idx = pick(traj.n_frames) if stride is None else np.arange(traj.n_frames)
    cells = np.asarray(traj.cells[idx])
    frac = np.matmul(traj.positions[idx], np.linalg.inv(cells))
    frac -= np.floor(frac)
    wrapped = np.matmul(frac, cells)
    frames = [
        Atoms(symbols=list(traj.symbols), positions=wrapped[k], cell=cells[k], pbc=True)
        for k in range(len(idx))
    ]
    info = {
        "source": None if source is None else str(source),
        "temperature_K": traj.temperature_K,
        "frame_indices": (idx if stride is None else stride).tolist(),
    }
    return frames, info


# -- the block of results.json -------------------------------------------------------------------


def trust_block(
    potential: Any,
    trajectories: Sequence[str | os.PathLike[str]],
    temperatures_K: Sequence[float] | None = None,
    *,
    limit_fraction: float = DEFAULT_LIMIT_FRACTION,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> dict[str, Any]:
    """The ``trust`` block of ``results.json`` for production runs made with ``potential``.

    Args:
        potential: What the run used: a potential name, a checkpoint path or a calculator.
        trajectories: The production trajectories, one per temperature.
        temperatures_K: Their temperatures (default: read from the files).
        limit_fraction: See :meth:`TrustReference.check`.
        max_frames: Frames checked per trajectory.

    Returns:
        ``{"available": True, "reference": {...}, "limit_fraction", "results": [...],
        "out_of_domain": bool, "warnings": [...]}`` when the potential is a solidion fine-tuned
        checkpoint with training descriptors; otherwise ``{"available": False, "reason": ...}``
        saying why no training-domain check could be made (never a silent pass).
    """
    from solidion.potentials.finetune.checkpoint import read_finetune_checkpoint
    from solidion.potentials.registry import BACKENDS

    def unavailable(reason: str) -> dict[str, Any]:
        return {"available": False, "reason": reason, "results": [], "warnings": []}

    if not isinstance(potential, str | os.PathLike):
        return unavailable(
            f"the potential was a {type(potential).__name__} object; only a solidion fine-tuned "
            "checkpoint carries the training environments the check needs"
        )
    spec = os.fspath(potential)
    if spec.strip().lower() in BACKENDS:
        return unavailable(
            f"pretrained potential {spec!r}: no training-domain reference is stored with it (its "
            "training data is not shipped), so whether this run stays within it is unknown; "
            "fine-tune with `solidion potential finetune` to get one"
        )
    ckpt = read_finetune_checkpoint(Path(spec).expanduser())
    if ckpt.trust_reference is None:
        return unavailable(
            f"checkpoint {spec} holds no training-domain reference (not written by "
            "`solidion potential finetune`)"
        )
    temps = list(temperatures_K) if temperatures_K is not None else [None] * len(trajectories)
    reports = [
        ckpt.trust_reference.check_trajectory(
            t, max_frames=max_frames, limit_fraction=limit_fraction, temperature_K=temp
        )
        for t, temp in zip(trajectories, temps, strict=True)
    ]
    warnings = [
        "outside the training domain: " + r.message() + "; the potential extrapolates there — "
        "label frames of this run (`solidion potential select`/`label`) and fine-tune again"
        for r in reports
        if r.out_of_domain
    ]
    return {
        "available": True,
        "checkpoint": str(Path(spec).expanduser().resolve()),
        "reference": ckpt.trust_reference.summary(),
        "limit_fraction": float(limit_fraction),
        "results": [r.to_dict() for r in reports],
        "out_of_domain": any(r.out_of_domain for r in reports),
        "warnings": warnings,
    }

"""Production that runs until the error bar is reached (``solidion run --until-converged``).

After each chunk of production at one temperature, :func:`assess` analyses the trajectory so
far (the same :func:`solidion.transport.analyze` and convergence checks as the final report)
and compares it with a :class:`Target`:

- the relative 1σ error of the mobile ion's tracer diffusivity D* (default 20 %),
- optionally the relative 1σ error of the full-Einstein conductivity σ_E,
- a diffusive regime reached and the trajectory ≥ 5× the time to reach it,
- ≥ 10 hops per mobile ion in the framework frame
  (:func:`solidion.pipeline.results.convergence_record`).

When the target is not met, :func:`next_chunk_ps` says how much longer to run. A statistical
error of a time-averaged quantity falls as 1/√t once the run is many correlation times long
(Frenkel & Smit, *Understanding Molecular Simulation*, 2nd ed., §4.4.3; for MSD slopes, e.g.
Bullerjahn et al., J. Chem. Phys. 153, 024116 (2020)), so the total length needed is

    t_needed = t · max((ε/ε_target)², n_hops,target/n_hops, 5 t_onset/t)

and hops grow linearly in t. The next chunk is that shortfall, bounded to between a quarter of
and the whole length run so far (the estimate of ε is itself noisy: never more than double
at once), and to what the remaining wall-time budget buys at the measured throughput.

The history of checks (length, errors, hops, wall time) is kept in ``run.json`` and reaches
``results.json`` (``convergence[i].history``) and the report (error against simulated time).
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Mapping, MutableSequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from solidion.errors import InputError

__all__ = ["ChunkCheck", "Target", "assess", "next_chunk_ps", "parse_duration_s", "run_until"]


@dataclass(frozen=True)
class Target:
    """When production at one temperature may stop.

    Attributes:
        diffusivity_rel_err: Largest relative 1σ error of D* of the mobile ion.
        conductivity_rel_err: Largest relative 1σ error of σ_E (None: not required).
        min_hops_per_ion: Fewest framework-frame hops (> 2 Å) per mobile ion.
        budget_s: Wall time for the production of this invocation, all temperatures together
            (None: no limit); split evenly over the temperatures still to run.
    """

    diffusivity_rel_err: float = 0.20
    conductivity_rel_err: float | None = None
    min_hops_per_ion: float = 10.0
    budget_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("diffusivity_rel_err", "conductivity_rel_err"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and 0 < v < 10):
                raise InputError(f"{name}: a relative error between 0 and 10, got {v}")
        if not (math.isfinite(self.min_hops_per_ion) and self.min_hops_per_ion >= 0):
            raise InputError(f"min_hops_per_ion must be ≥ 0, got {self.min_hops_per_ion}")
        if self.budget_s is not None and not (math.isfinite(self.budget_s) and self.budget_s > 0):
            raise InputError(f"budget must be a positive time, got {self.budget_s} s")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChunkCheck:
    """The state of one temperature's production after a chunk.

    Attributes:
        temperature_K: Production temperature.
        duration_ps: Analysed trajectory length.
        wall_s: MD wall time of the production so far (all invocations).
        diffusivity_cm2_s: D* of the mobile ion (NaN when withheld).
        diffusivity_rel_err: Its relative 1σ error (inf when withheld).
        conductivity_rel_err: Relative 1σ error of σ_E (inf when withheld).
        hops_per_ion: Framework-frame hops per mobile ion.
        diffusive_onset_ps: Time to the diffusive regime (None: not reached).
        met: Whether the target is met.
        reasons: What is still missing (empty when met).
        needed_ps: Estimated total length that meets the target (inf: cannot tell yet).
    """

    temperature_K: float
    duration_ps: float
    wall_s: float
    diffusivity_cm2_s: float
    diffusivity_rel_err: float
    conductivity_rel_err: float
    hops_per_ion: float
    diffusive_onset_ps: float | None
    met: bool
    reasons: tuple[str, ...]
    needed_ps: float

    @property
    def ps_per_hour(self) -> float:
        """Simulated production time per wall-clock hour so far."""
        return 3600.0 * self.duration_ps / self.wall_s if self.wall_s > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


def _rel(value: float, stderr: float) -> float:
    return (
        stderr / value if math.isfinite(value) and value > 0 and math.isfinite(stderr) else math.inf
    )


def assess(
    trajectory: str | Path | Any,
    temperature_K: float,
    mobile: str,
    charges: Mapping[str, float],
    target: Target,
    *,
    wall_s: float = math.nan,
) -> ChunkCheck:
    """Analyse the production so far and compare it with ``target``.

    Args:
        trajectory: The production trajectory (path or :class:`~solidion.Trajectory`).
        temperature_K: Its temperature.
        mobile: Mobile ion.
        charges: Formal charges.
        target: The target.
        wall_s: MD wall time spent on it so far (for the throughput).
    """
    from solidion.io import read_trajectory
    from solidion.pipeline.results import MIN_DURATION_OVER_ONSET, convergence_record
    from solidion.transport import analyze

    traj = read_trajectory(trajectory) if isinstance(trajectory, str | Path) else trajectory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the final analysis reports them
        res = analyze(traj, mobile=mobile, charges=dict(charges), temperature_K=temperature_K)
    conv = convergence_record(traj, res, mobile, True)
    d = res.tracer_diffusivity[mobile]
    d_rel = _rel(d.value, d.stderr)
    s = res.conductivity.einstein
    s_rel = _rel(s.value, s.stderr)
    t = float(conv["duration_ps"])
    hops = float(conv["hops_per_ion"])
    onset = conv["diffusive_onset_ps"]
    reasons = list(conv["reasons"])
    factors = [MIN_DURATION_OVER_ONSET * onset / t if onset else math.inf]
    if target.min_hops_per_ion > 0:
        factors.append(target.min_hops_per_ion / hops if hops > 0 else math.inf)
    factors.append((d_rel / target.diffusivity_rel_err) ** 2)
    if not d_rel <= target.diffusivity_rel_err:
        reasons.append(
            f"D*({mobile}) known to ±{d_rel:.0%}"
            if math.isfinite(d_rel)
            else f"D*({mobile}) withheld"
        )
    if target.conductivity_rel_err is not None:
        factors.append((s_rel / target.conductivity_rel_err) ** 2)
        if not s_rel <= target.conductivity_rel_err:
            reasons.append(f"σ_E known to ±{s_rel:.0%}" if math.isfinite(s_rel) else "σ_E withheld")
    # the hop count of convergence_record uses its own threshold; the target's may differ
    reasons = [r for r in reasons if "hops per" not in r]
    if hops < target.min_hops_per_ion:
        reasons.append(f"{hops:.1f} hops per {mobile} ion, need ≥ {target.min_hops_per_ion:g}")
    return ChunkCheck(
        temperature_K=float(temperature_K),
        duration_ps=t,
        wall_s=float(wall_s),
        diffusivity_cm2_s=float(d.value),
        diffusivity_rel_err=float(d_rel),
        conductivity_rel_err=float(s_rel),
        hops_per_ion=hops,
        diffusive_onset_ps=onset,
        met=not reasons,
        reasons=tuple(reasons),
        needed_ps=t * max(1.0, *factors),
    )


def next_chunk_ps(check: ChunkCheck, *, budget_ps: float = math.inf) -> float:
    """How much longer to run after ``check`` (0: stop — met, or no budget for a useful chunk).

    The shortfall ``needed_ps − duration_ps``, at least a quarter and at most all of the length
    run so far, and at most ``budget_ps`` (what the remaining wall time buys); a chunk the
    budget cuts below a tenth of the length so far is not worth its analysis and is 0.

    Example:
        >>> c = ChunkCheck(600.0, 10.0, 60.0, 1e-6, 0.4, 0.5, 12.0, 1.0, False, ("",), 40.0)
        >>> next_chunk_ps(c), next_chunk_ps(c, budget_ps=4.0), next_chunk_ps(c, budget_ps=0.5)
        (10.0, 4.0, 0.0)
    """
    if check.met:
        return 0.0
    t = check.duration_ps
    want = check.needed_ps - t if math.isfinite(check.needed_ps) else t
    extra = min(max(want, 0.25 * t), t, budget_ps)
    return float(extra) if extra >= 0.1 * t else 0.0


def run_until(
    out_dir: Path,
    temperature_K: float,
    trajectory: Path,
    target: Target,
    *,
    mobile: str,
    charges: Mapping[str, float],
    potential: Any,
    history: MutableSequence[dict[str, Any]],
    budget_s: float | None = None,
    log: Callable[[str], None] = print,
    on_check: Callable[[], None] | None = None,
    **md_options: Any,
) -> Path:
    """Extend the production at one temperature chunk by chunk until ``target`` is met.

    Args:
        out_dir: The composition's directory (holding ``T<T>K/``).
        temperature_K: The temperature.
        trajectory: Its production trajectory so far (the first chunk, already run).
        target: The target.
        mobile: Mobile ion.
        charges: Formal charges.
        potential: As for :func:`solidion.pipeline.stages.extend_production`.
        history: The checks so far (resumed runs pass the recorded ones); each new check is
            appended as :meth:`ChunkCheck.to_dict`.
        budget_s: Wall time this call may spend (None: no limit).
        log: Where the progress lines go (throughput, error, ETA).
        on_check: Called after each appended check (to persist ``history``).
        **md_options: ``progress``, ``step_hook`` for the MD.

    Returns:
        The trajectory (the same file, longer).
    """
    from solidion.pipeline import stages as st

    t = float(temperature_K)
    t0 = time.perf_counter()
    while True:
        check = assess(
            trajectory, t, mobile, charges, target, wall_s=st.production_wall_s(out_dir, t)
        )
        if not history or abs(float(history[-1]["duration_ps"]) - check.duration_ps) > 1e-9:
            history.append(check.to_dict())
            if on_check is not None:
                on_check()
        rel = check.diffusivity_rel_err
        state = (
            f"      {t:g} K after {check.duration_ps:.3g} ps: D*({mobile}) "
            + (f"±{rel:.0%}" if math.isfinite(rel) else "withheld")
            + f" (target ±{target.diffusivity_rel_err:.0%}), {check.hops_per_ion:.1f} hops/ion"
        )
        if check.met:
            log(state + " — target met")
            return trajectory
        rate = check.ps_per_hour
        budget_ps = math.inf
        if budget_s is not None:
            left_s = budget_s - (time.perf_counter() - t0)
            budget_ps = max(0.0, left_s) / 3600.0 * rate if rate > 0 else 0.0
        need = check.needed_ps - check.duration_ps
        eta_h = need / rate if rate > 0 and math.isfinite(need) else math.inf
        log(
            state
            + f"; {rate:.3g} ps/h; "
            + (
                f"≈{check.needed_ps:.3g} ps in all needed (error ∝ 1/√t), ETA {eta_h:.2g} h"
                if math.isfinite(eta_h)
                else "too early to tell how long (" + "; ".join(check.reasons) + ")"
            )
        )
        extra = next_chunk_ps(check, budget_ps=budget_ps)
        if extra == 0.0:
            log(f"      {t:g} K: wall-time budget spent; stopping, target not met")
            return trajectory
        log(f"      {t:g} K: running {extra:.3g} ps more")
        trajectory = st.extend_production(out_dir, t, extra, potential, **md_options)


_UNITS_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(text: str, *, option: str = "--budget") -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"3600"`` (seconds) → seconds.

    Example:
        >>> parse_duration_s("1h30m"), parse_duration_s("45s"), parse_duration_s("120")
        (5400.0, 45.0, 120.0)
    """
    s = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", s):
        value = float(s)
    else:
        parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)([a-z]+)", s)
        if (
            not parts
            or "".join(a + b for a, b in parts) != s
            or any(u not in _UNITS_S for _, u in parts)
        ):
            raise InputError(
                f"{option}: cannot read {text!r} as a duration; write e.g. 2h, 90m, 1h30m or "
                "3600 (seconds)"
            )
        value = sum(float(a) * _UNITS_S[u] for a, u in parts)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{option}: a duration must be positive, got {text!r}")
    return value

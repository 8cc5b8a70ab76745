"""MD protocols: stages with linear temperature ramps, and the melt-and-quench presets.

A protocol is a list of :class:`Stage` objects run one after the other on the same atoms. Each
stage is ``(ensemble, T_start_K, T_end_K, duration_ps, timestep_fs, pressure_GPa)`` plus options
(thermostat, coupling times, how often to store a frame). The target temperature moves linearly
from ``T_start_K`` to ``T_end_K`` over the stage, step by step.

**The default melt-and-quench protocol** (:func:`preset`), and why each stage is there:

1. ``relax`` — FIRE on the random packing (fixed cell). A random cell sits high on the
   potential-energy surface: a 42-atom LiAlCl2.5O0.75 cell packed at 2.2 g/cm³ and heated
   straight away under a weakly coupled Langevin thermostat with pretrained CHGNet ran at twice
   its 1500 K target after 1 ps from the energy it released. Relaxing first removes that energy
   before any velocity exists.
2. ``heat`` — NVT Langevin, strongly coupled (friction 0.02 fs⁻¹), ramp 300 K → T_melt: the
   friction carries away whatever strain energy is left while the liquid forms.
3. ``melt`` — NVT Nosé–Hoover chain at T_melt = 1500 K, well above the glass transition of the
   oxyhalides (their melts are fluid near 600–800 K), long enough to lose the memory of the
   random start (the mobile and framework ions diffuse several Å).
4. ``quench`` — NVT ramp T_melt → T_anneal at a stated rate (:attr:`Preset.quench_rate_K_ps`);
   faster quenches freeze in a less relaxed glass, the paper preset is the slowest.
5. ``anneal`` — NPT (isotropic MTK barostat, 0 GPa) at the lowest production temperature: the
   estimated packing density relaxes to the potential's own density (universal potentials are
   known to over-expand amorphous halides at high temperature; the volume guard watches this).
6. ``production`` — NVT Nosé–Hoover chain at each production temperature, every one started
   from the same annealed cell, frames stored for the transport and structure analyses.

Presets: ``quick`` (42 atoms, a few ps, the whole pipeline in about 10 minutes on 2 CPU cores;
its numbers are flagged as unconverged), ``standard`` (a few hundred atoms, tens of ps: a GPU or
a long CPU run), ``paper`` (about 1300 atoms, the reference study's scale; its production
length is a starting point — the study ran hundreds of ns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from solidion.errors import InputError

__all__ = ["ENSEMBLES", "PRESETS", "THERMOSTATS", "Preset", "Stage", "preset"]

#: Ensembles a stage can run in (``relax`` is a FIRE minimisation, not MD).
ENSEMBLES = ("relax", "nvt", "npt", "nve")
#: Thermostats of NVT stages (NPT always uses the Nosé–Hoover chain of the MTK integrator).
THERMOSTATS = ("nose_hoover", "langevin", "bussi")


@dataclass(frozen=True)
class Stage:
    """One stage of an MD protocol.

    Args:
        ensemble: ``"nvt"``, ``"npt"``, ``"nve"`` or ``"relax"``.
        T_start_K: Target temperature at the start (initial velocities for NVE).
        T_end_K: Target temperature at the end (default: ``T_start_K``); linear ramp.
        duration_ps: Simulated time (MD stages).
        timestep_fs: Integration timestep.
        pressure_GPa: External pressure (NPT only).
        name: Stage name, used in file names (default: the ensemble).
        thermostat: NVT thermostat, one of :data:`THERMOSTATS`.
        tdamp_fs: Thermostat time constant (Nosé–Hoover, Bussi); default 100 timesteps.
        pdamp_fs: Barostat time constant (NPT); default 1000 timesteps.
        friction_per_fs: Langevin friction.
        frame_interval_fs: Store a frame this often (rounded to whole steps); ``None`` stores
            no trajectory for the stage.
        max_steps: Largest number of FIRE steps (``relax``).
        fmax_eV_A: Force convergence of ``relax``.

    Example:
        >>> s = Stage("nvt", 1500, 600, 2.0, 1.0, name="quench")
        >>> s.n_steps, s.temperature_at(999)
        (2000, 1050.0)
    """

    ensemble: str
    T_start_K: float = 0.0
    T_end_K: float | None = None
    duration_ps: float = 0.0
    timestep_fs: float = 1.0
    pressure_GPa: float = 0.0
    name: str = ""
    thermostat: str = "nose_hoover"
    tdamp_fs: float | None = None
    pdamp_fs: float | None = None
    friction_per_fs: float = 0.01
    frame_interval_fs: float | None = None
    max_steps: int = 300
    fmax_eV_A: float = 0.1

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise InputError(
                f"ensemble must be one of {', '.join(ENSEMBLES)}; got {self.ensemble!r}"
            )
        if not self.name:
            object.__setattr__(self, "name", self.ensemble)
        if self.T_end_K is None:
            object.__setattr__(self, "T_end_K", float(self.T_start_K))
        where = f"stage {self.name!r}"
        if self.ensemble == "relax":
            if int(self.max_steps) < 1 or not self.fmax_eV_A > 0:
                raise InputError(f"{where}: max_steps must be ≥ 1 and fmax_eV_A > 0")
            return
        if self.thermostat not in THERMOSTATS:
            raise InputError(
                f"{where}: thermostat must be one of {', '.join(THERMOSTATS)}; "
                f"got {self.thermostat!r}"
            )
        for label, value in (("T_start_K", self.T_start_K), ("T_end_K", self.T_end_K)):
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{where}: {label} must be a positive temperature, got {value}")
        if not (math.isfinite(self.timestep_fs) and 0 < self.timestep_fs <= 10):
            raise InputError(f"{where}: timestep_fs must be in (0, 10] fs, got {self.timestep_fs}")
        if not (math.isfinite(self.duration_ps) and self.duration_ps > 0):
            raise InputError(f"{where}: duration_ps must be positive, got {self.duration_ps}")
        if self.n_steps < 1:
            raise InputError(f"{where}: {self.duration_ps} ps is shorter than one timestep")
        if self.ensemble != "npt" and self.pressure_GPa != 0:
            raise InputError(f"{where}: pressure_GPa applies to NPT stages only")
        if self.frame_interval_fs is not None and not self.frame_interval_fs >= self.timestep_fs:
            raise InputError(
                f"{where}: frame_interval_fs ({self.frame_interval_fs}) must be at least the "
                f"timestep ({self.timestep_fs} fs)"
            )
        for label, value in (("tdamp_fs", self.tdamp_fs), ("pdamp_fs", self.pdamp_fs)):
            if value is not None and not value > 0:
                raise InputError(f"{where}: {label} must be positive, got {value}")
        if not self.friction_per_fs > 0:
            raise InputError(f"{where}: friction_per_fs must be positive")

    @classmethod
    def relax(cls, max_steps: int = 300, fmax_eV_A: float = 0.1, name: str = "relax") -> Stage:
        """A FIRE minimisation stage (fixed cell)."""
        return cls("relax", name=name, max_steps=max_steps, fmax_eV_A=fmax_eV_A)

    @property
    def is_md(self) -> bool:
        """Whether the stage integrates equations of motion (not ``relax``)."""
        return self.ensemble != "relax"

    @property
    def n_steps(self) -> int:
        """Number of MD steps (the FIRE step limit for ``relax``)."""
        if not self.is_md:
            return int(self.max_steps)
        return round(self.duration_ps * 1000.0 / self.timestep_fs)

    @property
    def save_every(self) -> int:
        """Steps between stored frames (0: no trajectory)."""
        if not self.is_md or self.frame_interval_fs is None:
            return 0
        return max(1, round(self.frame_interval_fs / self.timestep_fs))

    @property
    def tdamp(self) -> float:
        """Thermostat time constant in fs."""
        return self.tdamp_fs if self.tdamp_fs is not None else 100.0 * self.timestep_fs

    @property
    def pdamp(self) -> float:
        """Barostat time constant in fs."""
        return self.pdamp_fs if self.pdamp_fs is not None else 1000.0 * self.timestep_fs

    def temperature_at(self, step: int) -> float:
        """Target temperature of step ``step`` (0-based): the ramp reaches T_end at the last."""
        frac = min(1.0, (step + 1) / self.n_steps)
        return float(self.T_start_K + (self.T_end_K - self.T_start_K) * frac)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (round-trips through :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise InputError(f"unknown stage fields: {', '.join(sorted(extra))}")
        return cls(**dict(data))


@dataclass(frozen=True)
class Preset:
    """A complete protocol: melt-and-quench once, then production at each temperature.

    Attributes:
        name: ``quick``, ``standard`` or ``paper``.
        n_atoms: Target cell size (the composition's multiple closest to it).
        temperatures_K: Production temperatures.
        melt_quench: Stages from the random packing to the annealed glass.
        production: One stage tuple per temperature, in the order of ``temperatures_K``.
        checkpoint_every: Steps between checkpoints.
        quench_rate_K_ps: The quench rate of the ``quench`` stage.
        converged: False for presets too short to give converged transport numbers.
    """

    name: str
    n_atoms: int
    temperatures_K: tuple[float, ...]
    melt_quench: tuple[Stage, ...]
    production: tuple[tuple[Stage, ...], ...]
    checkpoint_every: int
    quench_rate_K_ps: float
    converged: bool = True
    notes: str = field(default="", compare=False)

    def production_for(self, temperature_K: float) -> tuple[Stage, ...]:
        """The production stages at one of the preset's temperatures."""
        for t, stages in zip(self.temperatures_K, self.production, strict=True):
            if math.isclose(t, temperature_K):
                return stages
        raise InputError(
            f"{temperature_K} K is not a production temperature of this preset "
            f"({', '.join(f'{t:g}' for t in self.temperatures_K)})"
        )

    @property
    def md_steps(self) -> int:
        """MD steps in total (all stages, all temperatures; FIRE steps counted at most)."""
        stages = [*self.melt_quench, *(s for p in self.production for s in p)]
        return sum(s.n_steps for s in stages)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preset:
        """Inverse of :meth:`to_dict` (a custom preset from a JSON file).

        Raises:
            InputError: Missing or malformed fields.
        """
        try:
            temps = tuple(float(t) for t in data["temperatures_K"])
            production = tuple(
                tuple(Stage.from_dict(s) for s in stages) for stages in data["production"]
            )
            if len(production) != len(temps) or not temps:
                raise InputError(
                    f"preset: {len(temps)} temperatures but {len(production)} production lists"
                )
            return cls(
                name=str(data.get("name", "custom")),
                n_atoms=int(data["n_atoms"]),
                temperatures_K=temps,
                melt_quench=tuple(Stage.from_dict(s) for s in data["melt_quench"]),
                production=production,
                checkpoint_every=int(data.get("checkpoint_every", 500)),
                quench_rate_K_ps=float(data.get("quench_rate_K_ps", float("nan"))),
                converged=bool(data.get("converged", True)),
                notes=str(data.get("notes", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"preset: missing or malformed field ({exc!r})") from None

    def with_temperatures(self, temperatures: Sequence[float]) -> Preset:
        """The same preset at other production temperatures (named presets only)."""
        if self.name not in PRESETS:
            raise InputError(
                f"preset {self.name!r} is custom: edit its production list to change temperatures"
            )
        return preset(self.name, temperatures, n_atoms=self.n_atoms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the whole protocol."""
        return {
            "name": self.name,
            "n_atoms": self.n_atoms,
            "temperatures_K": list(self.temperatures_K),
            "melt_quench": [s.to_dict() for s in self.melt_quench],
            "production": [[s.to_dict() for s in p] for p in self.production],
            "checkpoint_every": self.checkpoint_every,
            "quench_rate_K_ps": self.quench_rate_K_ps,
            "converged": self.converged,
            "notes": self.notes,
        }


#: Sizes and lengths of the presets: (n_atoms, melt ps, quench rate K/ps, anneal ps,
#: production ps, production timestep fs, frame interval fs, checkpoint every, converged).
PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(
        n_atoms=42,
        heat_ps=0.2,
        melt_ps=0.3,
        quench_rate=1500.0,
        anneal_ps=0.3,
        production_ps=2.0,
        dt_fs=2.0,
        frame_fs=10.0,
        checkpoint_every=250,
        converged=False,
        notes="42 atoms and a few ps: shows the pipeline end to end; numbers are not converged.",
    ),
    "standard": dict(
        n_atoms=300,
        heat_ps=1.0,
        melt_ps=10.0,
        quench_rate=100.0,
        anneal_ps=10.0,
        production_ps=50.0,
        dt_fs=2.0,
        frame_fs=20.0,
        checkpoint_every=1000,
        converged=True,
        notes="A few hundred atoms, tens of ps per temperature: a GPU or a long CPU run.",
    ),
    "paper": dict(
        n_atoms=1300,
        heat_ps=2.0,
        melt_ps=20.0,
        quench_rate=10.0,
        anneal_ps=50.0,
        production_ps=1000.0,
        dt_fs=2.0,
        frame_fs=50.0,
        checkpoint_every=5000,
        converged=True,
        notes="The reference study's cell size (~1300 atoms); it ran hundreds of ns per "
        "temperature — extend production_ps for its statistics.",
    ),
}

#: Melt temperature of the presets (K).
T_MELT_K = 1500.0
#: Temperature the heating ramp starts from (K).
T_HEAT_START_K = 300.0


def preset(
    name: str = "quick",
    temperatures: Sequence[float] = (600.0, 700.0, 800.0),
    *,
    n_atoms: int | None = None,
    production_ps: float | None = None,
) -> Preset:
    """The melt-and-quench + production protocol of a named preset (module docstring).

    Args:
        name: ``"quick"``, ``"standard"`` or ``"paper"``.
        temperatures: Production temperatures in K (at least one; below the 1500 K melt).
        n_atoms: Override the preset's cell size.
        production_ps: Override the production length per temperature.

    Returns:
        A :class:`Preset`.

    Raises:
        InputError: Unknown preset, no or non-positive temperatures, or one at or above the
            melt temperature.

    Example:
        >>> p = preset("quick", temperatures=[600, 800])
        >>> [s.name for s in p.melt_quench]
        ['relax', 'heat', 'melt', 'quench', 'anneal']
        >>> p.production[1][0].T_start_K, p.converged
        (800.0, False)
    """
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    temps = tuple(float(t) for t in temperatures)
    if not temps:
        raise InputError("temperatures: give at least one production temperature")
    for t in temps:
        if not (math.isfinite(t) and 0 < t < T_MELT_K):
            raise InputError(
                f"temperatures: {t:g} K must be positive and below the {T_MELT_K:g} K melt"
            )
    if len(set(temps)) != len(temps):
        raise InputError(f"temperatures: duplicates in {', '.join(f'{t:g}' for t in temps)}")
    p = PRESETS[name]
    size = int(n_atoms) if n_atoms is not None else p["n_atoms"]
    if size < 2:
        raise InputError(f"n_atoms must be at least 2, got {n_atoms}")
    prod_ps = float(production_ps) if production_ps is not None else p["production_ps"]
    dt = p["dt_fs"]
    t_anneal = min(temps)
    quench_ps = (T_MELT_K - t_anneal) / p["quench_rate"]
    melt_quench = (
        Stage.relax(max_steps=300, fmax_eV_A=0.1),
        Stage(
            "nvt",
            T_HEAT_START_K,
            T_MELT_K,
            p["heat_ps"],
            1.0,
            name="heat",
            thermostat="langevin",
            friction_per_fs=0.02,
        ),
        Stage("nvt", T_MELT_K, T_MELT_K, p["melt_ps"], 1.0, name="melt", frame_interval_fs=50.0),
        Stage("nvt", T_MELT_K, t_anneal, quench_ps, dt, name="quench", frame_interval_fs=50.0),
        Stage(
            "npt",
            t_anneal,
            t_anneal,
            p["anneal_ps"],
            dt,
            0.0,
            name="anneal",
            frame_interval_fs=50.0,
        ),
    )
    production = tuple(
        (
            Stage(
                "nvt",
                t,
                t,
                prod_ps,
                dt,
                name=f"production_{t:g}K",
                frame_interval_fs=p["frame_fs"],
            ),
        )
        for t in temps
    )
    return Preset(
        name=name,
        n_atoms=size,
        temperatures_K=temps,
        melt_quench=melt_quench,
        production=production,
        checkpoint_every=p["checkpoint_every"],
        quench_rate_K_ps=p["quench_rate"],
        converged=p["converged"],
        notes=p["notes"],
    )

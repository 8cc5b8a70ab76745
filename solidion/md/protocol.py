"""MD protocols: stages with linear temperature ramps, the melt-and-quench presets, timesteps.

A protocol is a list of :class:`Stage` objects run one after the other on the same atoms. Each
stage is ``(ensemble, T_start_K, T_end_K, duration_ps, timestep_fs, pressure_GPa)`` plus options
(thermostat, coupling times, how often to store a frame, an equilibration segment, a densely
sampled segment for vibrational spectra). The target temperature moves linearly from
``T_start_K`` to ``T_end_K`` over the stage, step by step.

**The default melt-and-quench protocol** (:func:`melt_quench_stages`, :func:`preset`), and why
each stage is there:

1. ``relax`` — FIRE on the random packing, positions *and* volume (``relax_cell``: isotropic,
   to the target pressure). A random cell sits high on the potential-energy surface: a 42-atom
   LiAlCl2.5O0.75 cell packed at 2.2 g/cm³ and heated straight away under a weakly coupled
   Langevin thermostat with pretrained CHGNet ran at twice its 1500 K target after 1 ps from the
   energy it released. Relaxing first removes that energy before any velocity exists, and
   relaxing the volume removes the GPa of a guessed density before any barostat sees them: an
   MTK barostat released from a pressure mismatch ΔP overshoots by about ΔP/K (a 32-atom LJ
   crystal 16 % too dense swung +32 % in volume within 50 fs).
2. ``warm`` — NVT Langevin, strongly coupled (friction 0.02 fs⁻¹), ramp 300 K → T_anneal. The
   noise has no centre-of-mass component (:mod:`solidion.md.integrators`), so the cell gains no
   drift here or in ``heat``.
3. ``density`` — NPT (isotropic MTK barostat, 0 GPa) at T_anneal, ending at its mean volume
   over the second half: the amorphous packing finds the density it has at the target pressure.
   The random cell is packed at a density estimated from crystals (±9 %); melted there, the
   42-atom cell sat at 6 GPa, and a glass formed at a guessed density keeps that density's
   topology. With pretrained CHGNet the 42-atom LiAlCl2.5O0.75 cell relaxes from 796 to
   1068 Å³ at 0 K and 0 GPa, and ends the anneal near 1250 Å³ (1.4 g/cm³, against the 2.25
   g/cm³ packing estimate): that is the potential's own density at 600 K.
4. ``heat`` — NVT Langevin ramp T_anneal → T_melt, strongly coupled: the liquid forms.
5. ``melt`` — NVT Nosé–Hoover chain at T_melt = 1500 K, well above the glass transition of the
   oxyhalides, long enough to lose the memory of the random start, at the volume found by
   ``density`` — a sealed ampoule. The melt is *not* run at constant pressure: at 0 GPa and
   1500 K the CHGNet LiAlCl2.5O0.75 liquid cavitated (the 42-atom cell went from 796 to
   1600 Å³ in 0.5 ps of NPT and was still at 0.9 g/cm³ after the NPT quench and anneal),
   as a chloroaluminate melt would boil (AlCl₃ sublimes at 453 K, LiCl boils at 1655 K); real
   glasses of this kind are quenched in sealed ampoules. Its pressure is then only the thermal
   pressure of the liquid at the glass's density.
6. ``quench`` — NVT ramp T_melt → T_anneal at a stated rate (:attr:`Preset.quench_rate_K_ps`),
   at the same volume (an NPT quench starts in the same cavitating liquid). Faster quenches
   freeze in a less relaxed glass; the paper preset is the slowest.
7. ``anneal`` — NPT at 0 GPa at the lowest production temperature for at least three barostat
   times (``pdamp_fs``). The production volume is the *mean* volume over the anneal's second
   half (``rescale_to_mean_volume``: the final configuration is scaled to it), not the last
   instantaneous one, which in a small cell is off by the volume fluctuation (a few %, i.e.
   ±0.5–1 GPa) — and a few % in volume is tens of % in D for a halide glass.
8. ``production`` — NVT Nosé–Hoover chain at each production temperature, every one started
   from the same annealed cell. Its first ``equilibration_ps`` (5 thermostat times) brings the
   cell from T_anneal to T and is not stored in the trajectory (``equilibration_ps`` in the
   stage record); then frames for transport and structure every ``frame_interval_fs``, and the
   first ``vdos_ps`` of them once more at every MD step in a side file for vibrational spectra
   (frames 10–50 fs apart alias the 10–30 THz modes).

The volume is the one of the lowest temperature: thermal expansion of the glass up to the
highest production temperature (~3×10⁻⁵ K⁻¹ × 200 K ≈ 0.6 % in volume) is not followed.

**Timestep.** :func:`default_timestep_fs` takes the fastest vibration the composition can have
from :func:`fastest_mode` (an O–H stretch at 111 THz when hydrogen is present, the X–O stretch
of a light oxyanion former, else the ≤ 25 THz metal–oxygen stretches of the oxyhalides) and
gives ≥ :data:`STEPS_PER_PERIOD` steps per period, at most the preset's 2 fs: heavy-atom
oxyhalides run at 2 fs, anything with hydrogen at 0.45 fs. :func:`check_timestep` refuses a
stage whose timestep gives fewer than ``Guards.min_steps_per_period`` (10) steps per period and
warns below 20.

Presets: ``quick`` (42 atoms, a few ps, the whole pipeline in about 10 minutes on 2 CPU cores;
its numbers are flagged as unconverged), ``standard`` (a few hundred atoms, tens of ps: a GPU or
a long CPU run), ``paper`` (about 1300 atoms, the reference study's scale; its production
length is a starting point — the study ran hundreds of ns).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from solidion.errors import InputError

__all__ = [
    "ENSEMBLES",
    "PRESETS",
    "STEPS_PER_PERIOD",
    "THERMOSTATS",
    "Preset",
    "Stage",
    "check_timestep",
    "default_timestep_fs",
    "fastest_mode",
    "melt_quench_stages",
    "preset",
    "production_stages",
]

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
        duration_ps: Simulated time (MD stages), equilibration included.
        timestep_fs: Integration timestep.
        pressure_GPa: External pressure (NPT only).
        name: Stage name, used in file names (default: the ensemble).
        thermostat: NVT thermostat, one of :data:`THERMOSTATS`.
        tdamp_fs: Thermostat time constant (Nosé–Hoover, Bussi); default 100 timesteps. It
            stays the same through a temperature ramp (the chain masses follow k_BT).
        pdamp_fs: Barostat time constant (NPT); default 1000 timesteps.
        friction_per_fs: Langevin friction.
        frame_interval_fs: Store a frame this often (rounded to whole steps); ``None`` stores
            no trajectory for the stage.
        max_steps: Largest number of FIRE steps (``relax``).
        fmax_eV_A: Force convergence of ``relax``.
        relax_cell: ``relax`` only: relax the volume too, isotropically, to ``pressure_GPa``
            (``ase.filters.FrechetCellFilter`` with hydrostatic strain; the cell keeps its
            shape).
        equilibration_ps: Leading part of the stage that is run but not stored in the
            trajectory (its thermo lines are still logged); the trajectory starts after it.
        vdos_ps: After the equilibration, store this much of the stage a second time, densely,
            in a side file ``NN_<name>.vdos.h5`` for vibrational spectra (0: none).
        vdos_interval_fs: Time between the dense frames (default: every MD step).
        rescale_to_mean_volume: NPT only: at the end, scale the cell and positions to the
            mean volume over the stage's second half (the production volume of a glass).

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
    equilibration_ps: float = 0.0
    vdos_ps: float = 0.0
    vdos_interval_fs: float | None = None
    rescale_to_mean_volume: bool = False
    relax_cell: bool = False

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
            if self.pressure_GPa != 0 and not self.relax_cell:
                raise InputError(f"{where}: pressure_GPa of a relax stage needs relax_cell")
            return
        if self.relax_cell:
            raise InputError(f"{where}: relax_cell applies to relax stages only")
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
        for label, value in (
            ("frame_interval_fs", self.frame_interval_fs),
            ("vdos_interval_fs", self.vdos_interval_fs),
        ):
            if value is not None and not value >= self.timestep_fs:
                raise InputError(
                    f"{where}: {label} ({value}) must be at least the timestep "
                    f"({self.timestep_fs} fs)"
                )
        for label, value in (("tdamp_fs", self.tdamp_fs), ("pdamp_fs", self.pdamp_fs)):
            if value is not None and not value > 0:
                raise InputError(f"{where}: {label} must be positive, got {value}")
        if not self.friction_per_fs > 0:
            raise InputError(f"{where}: friction_per_fs must be positive")
        if not (math.isfinite(self.equilibration_ps) and 0 <= self.equilibration_ps):
            raise InputError(f"{where}: equilibration_ps must be ≥ 0, got {self.equilibration_ps}")
        if self.n_equilibration_steps >= self.n_steps:
            raise InputError(
                f"{where}: equilibration_ps ({self.equilibration_ps}) must be shorter than "
                f"duration_ps ({self.duration_ps}), which includes it"
            )
        if not (math.isfinite(self.vdos_ps) and self.vdos_ps >= 0):
            raise InputError(f"{where}: vdos_ps must be ≥ 0, got {self.vdos_ps}")
        if self.n_equilibration_steps + self.n_vdos_steps > self.n_steps:
            raise InputError(
                f"{where}: vdos_ps ({self.vdos_ps}) does not fit after the equilibration "
                f"({self.equilibration_ps} of {self.duration_ps} ps)"
            )
        if self.rescale_to_mean_volume and self.ensemble != "npt":
            raise InputError(f"{where}: rescale_to_mean_volume applies to NPT stages only")

    @classmethod
    def relax(
        cls,
        max_steps: int = 300,
        fmax_eV_A: float = 0.1,
        name: str = "relax",
        *,
        relax_cell: bool = False,
        pressure_GPa: float = 0.0,
    ) -> Stage:
        """A FIRE minimisation stage (fixed cell, or also the volume with ``relax_cell``)."""
        return cls(
            "relax",
            name=name,
            max_steps=max_steps,
            fmax_eV_A=fmax_eV_A,
            relax_cell=relax_cell,
            pressure_GPa=pressure_GPa,
        )

    @property
    def is_md(self) -> bool:
        """Whether the stage integrates equations of motion (not ``relax``)."""
        return self.ensemble != "relax"

    @property
    def n_steps(self) -> int:
        """Number of MD steps, equilibration included (the FIRE step limit for ``relax``)."""
        if not self.is_md:
            return int(self.max_steps)
        return round(self.duration_ps * 1000.0 / self.timestep_fs)

    @property
    def n_equilibration_steps(self) -> int:
        """Leading MD steps whose frames are not stored."""
        if not self.is_md:
            return 0
        return round(self.equilibration_ps * 1000.0 / self.timestep_fs)

    @property
    def save_every(self) -> int:
        """Steps between stored frames (0: no trajectory)."""
        if not self.is_md or self.frame_interval_fs is None:
            return 0
        return max(1, round(self.frame_interval_fs / self.timestep_fs))

    @property
    def n_vdos_steps(self) -> int:
        """MD steps covered by the dense segment (0: none)."""
        if not self.is_md:
            return 0
        return round(self.vdos_ps * 1000.0 / self.timestep_fs)

    @property
    def vdos_every(self) -> int:
        """Steps between the frames of the dense segment (0: no dense segment)."""
        if self.n_vdos_steps == 0:
            return 0
        if self.vdos_interval_fs is None:
            return 1
        return max(1, round(self.vdos_interval_fs / self.timestep_fs))

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


# --------------------------------------------------------------------------------------------
# timestep
# --------------------------------------------------------------------------------------------

#: Steps per period of the fastest vibration the default timestep gives. Velocity Verlet is
#: stable up to ωΔt = 2 (π steps per period), but conserves energy and samples the mode well
#: only with many more; 20 is the usual rule.
STEPS_PER_PERIOD = 20
#: Fastest vibration (THz) of a composition holding the element, whatever else is present:
#: hydrogen's X–H stretches, the fastest being O–H (~3700 cm⁻¹, period 9.0 fs).
FAST_MODES_THZ: dict[str, tuple[float, str]] = {
    "H": (110.9, "O–H stretch (~3700 cm⁻¹)"),
}
#: Fastest vibration (THz) of light network formers bonded to oxygen (applied when O is
#: present): the antisymmetric X–O stretches of borates, carbonates, nitrates, silicates,
#: phosphates and sulfates (IR, e.g. Nakamoto, *Infrared and Raman Spectra of Inorganic and
#: Coordination Compounds*).
OXO_MODES_THZ: dict[str, tuple[float, str]] = {
    "B": (43.5, "B–O stretch (~1450 cm⁻¹)"),
    "C": (43.5, "C–O stretch of carbonate (~1450 cm⁻¹)"),
    "N": (41.4, "N–O stretch of nitrate (~1380 cm⁻¹)"),
    "Si": (33.0, "Si–O stretch (~1100 cm⁻¹)"),
    "P": (33.0, "P–O stretch (~1100 cm⁻¹)"),
    "S": (34.5, "S–O stretch of sulfate (~1150 cm⁻¹)"),
}
#: Every other composition: metal–oxygen and metal–halogen stretches stay at or below 25 THz
#: (~830 cm⁻¹; Al–O of AlO4 units in the oxyhalide glasses, the fastest of them) — 40 fs, so
#: 2 fs gives 20 steps per period.
CEILING_THZ: tuple[float, str] = (
    25.0,
    "ceiling without H or light oxyanion formers: metal–oxygen stretches ≤ ~830 cm⁻¹",
)


def fastest_mode(
    symbols: Iterable[str], masses_amu: Sequence[float] | None = None
) -> tuple[float, str]:
    """The fastest vibration a composition is expected to have: ``(frequency_THz, what)``.

    The largest of :data:`CEILING_THZ`, :data:`FAST_MODES_THZ` of the elements present and
    :data:`OXO_MODES_THZ` when oxygen is present. An atom heavier than its element's standard
    mass (an isotope, e.g. deuterium given as H with mass 2.014) lowers its element's frequency
    by √(m_standard/m), the oscillator against a heavy partner.

    Args:
        symbols: Element symbols (of every atom, or just the elements present).
        masses_amu: The atoms' masses, aligned with ``symbols`` (default: standard masses).

    Example:
        >>> fastest_mode(["Li", "Al", "Cl", "O"])[0], fastest_mode(["Li", "O", "H", "Cl"])[0]
        (25.0, 110.9)
    """
    from ase.data import atomic_masses, atomic_numbers

    symbols = list(symbols)
    lightest: dict[str, float] = {}
    for i, s in enumerate(symbols):
        if s not in atomic_numbers:
            raise InputError(f"unknown element {s!r}")
        m = float(atomic_masses[atomic_numbers[s]]) if masses_amu is None else float(masses_amu[i])
        lightest[s] = min(lightest.get(s, math.inf), m)
    best = CEILING_THZ
    table = dict(FAST_MODES_THZ)
    if "O" in lightest:
        table.update({k: v for k, v in OXO_MODES_THZ.items() if k not in table})
    for s, (nu, what) in table.items():
        if s in lightest:
            nu *= math.sqrt(float(atomic_masses[atomic_numbers[s]]) / lightest[s])
            if nu > best[0]:
                best = (nu, f"{what} of {s}")
    return float(best[0]), best[1]


def default_timestep_fs(
    symbols: Iterable[str], masses_amu: Sequence[float] | None = None, *, cap_fs: float = 2.0
) -> float:
    """MD timestep giving ≥ :data:`STEPS_PER_PERIOD` steps per period of :func:`fastest_mode`.

    Δt = min(cap, P_min / 20), rounded down to 0.05 fs, with P_min = 1/ν_max.

    Example:
        >>> default_timestep_fs(["Li", "Al", "Cl", "O"]), default_timestep_fs(["Li", "O", "H"])
        (2.0, 0.45)
    """
    from solidion.units import FS_PER_PS

    nu, _ = fastest_mode(symbols, masses_amu)
    dt = FS_PER_PS / nu / STEPS_PER_PERIOD
    return float(min(cap_fs, math.floor(dt / 0.05 + 1e-9) * 0.05))


def check_timestep(
    stage: Stage,
    symbols: Sequence[str],
    masses_amu: Sequence[float] | None = None,
    *,
    min_steps_per_period: float = 10.0,
    max_frequency_THz: float | None = None,
) -> float:
    """Refuse or warn when a stage's timestep is too long for the fastest expected vibration.

    Args:
        stage: The stage.
        symbols: Element symbols of the atoms.
        masses_amu: Their masses (default standard).
        min_steps_per_period: Refuse below this many steps per period.
        max_frequency_THz: The system's fastest vibration when known (e.g. from a VDOS);
            default :func:`fastest_mode`.

    Returns:
        Steps per period of the fastest vibration (inf for ``relax``).

    Raises:
        InputError: Fewer than ``min_steps_per_period`` steps per period (names the stage's
            ``timestep_fs``).

    Warns:
        UserWarning: Fewer than :data:`STEPS_PER_PERIOD`.
    """
    from solidion.units import FS_PER_PS

    if not stage.is_md:
        return math.inf
    if max_frequency_THz is None:
        nu, what = fastest_mode(symbols, masses_amu)
    else:
        nu, what = float(max_frequency_THz), "as given"
    period = FS_PER_PS / nu
    steps = period / stage.timestep_fs
    advice = (
        f"stage {stage.name!r}: timestep_fs = {stage.timestep_fs:g} fs gives {steps:.1f} steps "
        f"per period of the fastest expected vibration ({what}, {nu:.1f} THz, period "
        f"{period:.1f} fs); use timestep_fs ≤ {period / STEPS_PER_PERIOD:.2f} fs "
        f"({STEPS_PER_PERIOD} steps per period)"
    )
    if steps < min_steps_per_period:
        raise InputError(
            f"{advice}. Below {min_steps_per_period:g} steps the integration is unstable or the "
            "mode is not sampled (lower Guards.min_steps_per_period to run anyway)"
        )
    if steps < STEPS_PER_PERIOD:
        warnings.warn(advice, UserWarning, stacklevel=3)
    return steps


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
        """MD steps in total (all stages, all temperatures, equilibration included; FIRE steps
        counted at most)."""
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
        last = self.production[0][-1]
        return preset(
            self.name,
            temperatures,
            n_atoms=self.n_atoms,
            production_ps=last.duration_ps,
            timestep_fs=last.timestep_fs,
        )

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


#: Sizes and lengths of the presets: n_atoms; warm, density, heat, melt, anneal and production
#: ps (production per temperature, its equilibration of 5 tdamp included); quench rate K/ps; the
#: timestep of density, quench, anneal and production (warm, heat and melt run at ≤ 1 fs);
#: thermostat and barostat time constants; frame interval; the dense segment for spectra;
#: checkpoint interval; converged. ``quick`` costs about what it did when its glass was made
#: at the packing density (≈ 4000 MD steps): 1300 for the glass, 600 per temperature.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(
        n_atoms=42,
        warm_ps=0.1,
        density_ps=0.4,
        heat_ps=0.1,
        melt_ps=0.3,
        quench_rate=1500.0,
        anneal_ps=0.6,
        production_ps=1.8,
        dt_fs=2.0,
        tdamp_fs=100.0,
        pdamp_fs=200.0,
        frame_fs=10.0,
        vdos_ps=1.0,
        checkpoint_every=250,
        converged=False,
        notes="42 atoms and a few ps: shows the pipeline end to end; numbers are not converged.",
    ),
    "standard": dict(
        n_atoms=300,
        warm_ps=0.5,
        density_ps=5.0,
        heat_ps=0.5,
        melt_ps=10.0,
        quench_rate=100.0,
        anneal_ps=10.0,
        production_ps=50.0,
        dt_fs=2.0,
        tdamp_fs=200.0,
        pdamp_fs=1000.0,
        frame_fs=20.0,
        vdos_ps=2.0,
        checkpoint_every=1000,
        converged=True,
        notes="A few hundred atoms, tens of ps per temperature: a GPU or a long CPU run.",
    ),
    "paper": dict(
        n_atoms=1300,
        warm_ps=1.0,
        density_ps=10.0,
        heat_ps=1.0,
        melt_ps=20.0,
        quench_rate=10.0,
        anneal_ps=50.0,
        production_ps=1000.0,
        dt_fs=2.0,
        tdamp_fs=200.0,
        pdamp_fs=2000.0,
        frame_fs=50.0,
        vdos_ps=2.0,
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
#: Equilibration at each production temperature, in thermostat time constants.
EQUILIBRATION_TDAMPS = 5.0
#: Shortest anneal, in barostat time constants (its second half gives the volume).
MIN_ANNEAL_PDAMPS = 3.0


def melt_quench_stages(
    T_melt_K: float,
    T_anneal_K: float,
    *,
    warm_ps: float,
    density_ps: float,
    heat_ps: float,
    melt_ps: float,
    quench_rate_K_ps: float,
    anneal_ps: float,
    timestep_fs: float = 2.0,
    melt_timestep_fs: float = 1.0,
    tdamp_fs: float = 100.0,
    pdamp_fs: float = 200.0,
    pressure_GPa: float = 0.0,
    T_heat_start_K: float = T_HEAT_START_K,
    friction_per_fs: float = 0.02,
    frame_interval_fs: float | None = 50.0,
    relax_steps: int = 300,
    fmax_eV_A: float = 0.1,
) -> tuple[Stage, ...]:
    """relax → warm → density (NPT) → heat → melt → quench (at that volume) → anneal (NPT).

    The stages of the module docstring, for any potential and temperature scale (the presets
    use them with 1500 K and a 0 GPa target). ``warm`` and ``heat`` are Langevin ramps at
    ``melt_timestep_fs``, as is the melt; density, quench and anneal run at ``timestep_fs``.

    Raises:
        InputError: T_anneal not below T_melt, or an anneal shorter than
            :data:`MIN_ANNEAL_PDAMPS` barostat times.

    Example:
        >>> s = melt_quench_stages(1500, 600, warm_ps=0.1, density_ps=0.4, heat_ps=0.1,
        ...                        melt_ps=0.3, quench_rate_K_ps=1500, anneal_ps=0.6)
        >>> [(x.name, x.ensemble) for x in s][1:]  # doctest: +NORMALIZE_WHITESPACE
        [('warm', 'nvt'), ('density', 'npt'), ('heat', 'nvt'), ('melt', 'nvt'),
         ('quench', 'nvt'), ('anneal', 'npt')]
        >>> s[2].rescale_to_mean_volume, s[-1].rescale_to_mean_volume, s[5].duration_ps
        (True, True, 0.6)
    """
    if not T_anneal_K < T_melt_K:
        raise InputError(f"T_anneal_K ({T_anneal_K:g}) must be below T_melt_K ({T_melt_K:g})")
    if anneal_ps < MIN_ANNEAL_PDAMPS * pdamp_fs / 1000.0 - 1e-12:
        raise InputError(
            f"anneal_ps ({anneal_ps:g}) must cover at least {MIN_ANNEAL_PDAMPS:g} barostat times "
            f"(pdamp_fs = {pdamp_fs:g}): its second half gives the production volume"
        )
    if not quench_rate_K_ps > 0:
        raise InputError(f"quench_rate_K_ps must be positive, got {quench_rate_K_ps}")
    quench_ps = (T_melt_K - T_anneal_K) / quench_rate_K_ps
    npt = dict(
        pressure_GPa=pressure_GPa,
        tdamp_fs=tdamp_fs,
        pdamp_fs=pdamp_fs,
        frame_interval_fs=frame_interval_fs,
        rescale_to_mean_volume=True,
    )
    langevin = dict(thermostat="langevin", friction_per_fs=friction_per_fs)
    return (
        Stage.relax(
            max_steps=relax_steps, fmax_eV_A=fmax_eV_A, relax_cell=True, pressure_GPa=pressure_GPa
        ),
        Stage(
            "nvt", T_heat_start_K, T_anneal_K, warm_ps, melt_timestep_fs, name="warm", **langevin
        ),
        Stage("npt", T_anneal_K, T_anneal_K, density_ps, timestep_fs, name="density", **npt),
        Stage("nvt", T_anneal_K, T_melt_K, heat_ps, melt_timestep_fs, name="heat", **langevin),
        Stage(
            "nvt",
            T_melt_K,
            T_melt_K,
            melt_ps,
            melt_timestep_fs,
            name="melt",
            tdamp_fs=tdamp_fs,
            frame_interval_fs=frame_interval_fs,
        ),
        Stage(
            "nvt",
            T_melt_K,
            T_anneal_K,
            quench_ps,
            timestep_fs,
            name="quench",
            tdamp_fs=tdamp_fs,
            frame_interval_fs=frame_interval_fs,
        ),
        Stage("npt", T_anneal_K, T_anneal_K, anneal_ps, timestep_fs, name="anneal", **npt),
    )


def production_stages(
    temperature_K: float,
    *,
    duration_ps: float,
    timestep_fs: float = 2.0,
    tdamp_fs: float = 100.0,
    frame_interval_fs: float = 10.0,
    vdos_ps: float = 1.0,
    equilibration_ps: float | None = None,
) -> tuple[Stage, ...]:
    """NVT production at one temperature: equilibration (not stored), frames, dense segment.

    ``equilibration_ps`` defaults to :data:`EQUILIBRATION_TDAMPS` thermostat times; the dense
    segment (every MD step) is at most what is left after it.

    Example:
        >>> (s,) = production_stages(600, duration_ps=2.0)
        >>> s.name, s.equilibration_ps, s.vdos_ps, s.vdos_every
        ('production_600K', 0.5, 1.0, 1)
    """
    eq = EQUILIBRATION_TDAMPS * tdamp_fs / 1000.0 if equilibration_ps is None else equilibration_ps
    if not duration_ps > eq:
        raise InputError(
            f"production_ps ({duration_ps:g}) must be longer than its equilibration ({eq:g} ps, "
            f"{EQUILIBRATION_TDAMPS:g} thermostat times)"
        )
    return (
        Stage(
            "nvt",
            temperature_K,
            temperature_K,
            duration_ps,
            timestep_fs,
            name=f"production_{temperature_K:g}K",
            tdamp_fs=tdamp_fs,
            frame_interval_fs=frame_interval_fs,
            equilibration_ps=eq,
            vdos_ps=min(vdos_ps, duration_ps - eq),
        ),
    )


def preset(
    name: str = "quick",
    temperatures: Sequence[float] = (600.0, 700.0, 800.0),
    *,
    n_atoms: int | None = None,
    production_ps: float | None = None,
    elements: Iterable[str] | None = None,
    timestep_fs: float | None = None,
) -> Preset:
    """The melt-and-quench + production protocol of a named preset (module docstring).

    Args:
        name: ``"quick"``, ``"standard"`` or ``"paper"``.
        temperatures: Production temperatures in K (at least one; below the 1500 K melt).
        n_atoms: Override the preset's cell size.
        production_ps: Override the MD length per temperature (its equilibration included).
        elements: The composition's elements: the timestep becomes
            :func:`default_timestep_fs` of them (at most the preset's 2 fs; 0.45 fs with H).
        timestep_fs: Override the timestep (heat and melt run at min(1 fs, it)).

    Returns:
        A :class:`Preset`.

    Raises:
        InputError: Unknown preset, no or non-positive temperatures, or one at or above the
            melt temperature.

    Example:
        >>> p = preset("quick", temperatures=[600, 800])
        >>> [s.name for s in p.melt_quench]
        ['relax', 'warm', 'density', 'heat', 'melt', 'quench', 'anneal']
        >>> p.production[1][0].T_start_K, p.converged
        (800.0, False)
        >>> preset("quick", elements=["Li", "O", "H", "Cl"]).production[0][0].timestep_fs
        0.45
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
    if timestep_fs is not None:
        dt = float(timestep_fs)
    elif elements is not None:
        dt = default_timestep_fs(elements, cap_fs=p["dt_fs"])
    else:
        dt = p["dt_fs"]
    melt_quench = melt_quench_stages(
        T_MELT_K,
        min(temps),
        warm_ps=p["warm_ps"],
        density_ps=p["density_ps"],
        heat_ps=p["heat_ps"],
        melt_ps=p["melt_ps"],
        quench_rate_K_ps=p["quench_rate"],
        anneal_ps=p["anneal_ps"],
        timestep_fs=dt,
        melt_timestep_fs=min(1.0, dt),
        tdamp_fs=p["tdamp_fs"],
        pdamp_fs=p["pdamp_fs"],
    )
    production = tuple(
        production_stages(
            t,
            duration_ps=prod_ps,
            timestep_fs=dt,
            tdamp_fs=p["tdamp_fs"],
            frame_interval_fs=max(p["frame_fs"], dt),
            vdos_ps=p["vdos_ps"],
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

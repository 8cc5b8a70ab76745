"""Guards that stop an MD run before it produces garbage.

A run stops with :class:`solidion.errors.MDError` (everything written so far kept) when

- two atoms come closer than a per-pair threshold — by default half the sum of their
  covalent radii (Cordero et al., Dalton Trans. 2832 (2008), ``ase.data.covalent_radii``),
  far inside any physical contact (Li–O bonds are ~1.9 Å, the default threshold 0.97 Å): the
  potential has let atoms fuse;
- the instantaneous temperature exceeds ``max_temperature_factor`` × the target (default 3×;
  the kinetic temperature of a 40-atom cell fluctuates by √(2/3N) ≈ 13 %, so 3× is a runaway,
  not noise);
- the energy or any force is NaN or infinite;
- in NPT, the volume drifts by more than ``max_volume_drift`` (default 30 %) from the start of
  the stage (universal potentials are known to over-expand amorphous halides at high
  temperature);
- at constant target temperature, the integrator's conserved quantity (total energy in NVE;
  plus the thermostat's, barostat's or Bussi reservoir's energy otherwise) drifts by more than
  ``max_energy_drift_eV_atom_ps`` (default 0.01 eV/atom/ps, i.e. the thermostat silently
  removing heat equivalent to ~80 K/ps): the slope of a least-squares line through the values
  since the stage start, judged once ``energy_drift_window_ps`` has passed, so the bounded
  fluctuation of the shadow Hamiltonian does not count. A timestep too long for the fastest
  vibration, or forces that are not the gradient of the energy, show up here first. (The
  quick preset's glass with pretrained CHGNet drifts by ≤ 9×10⁻⁴ eV/atom/ps: 1.4×10⁻⁴ in the
  1 fs melt, 6–9×10⁻⁴ in the 2 fs MTK stages at 600 K.)

Before a run starts, a timestep that gives fewer than ``min_steps_per_period`` (default 10)
steps per period of the fastest vibration the composition is expected to have is refused
(:func:`solidion.md.protocol.check_timestep`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from solidion.errors import InputError

__all__ = ["Guards", "pair_thresholds"]


def _pair_key(key: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(key, str):
        parts = key.replace("–", "-").split("-")
        if len(parts) != 2 or not all(parts):
            raise InputError(f"min_distances_A keys look like 'Li-O' or ('Li', 'O'); got {key!r}")
        key = (parts[0], parts[1])
    a, b = key
    return (a, b) if a <= b else (b, a)


def pair_thresholds(
    numbers: np.ndarray, factor: float, overrides: Mapping[Any, float] | None = None
) -> np.ndarray:
    """Closest allowed distance for each pair of atomic numbers present, (119, 119) table, Å.

    Default ``factor`` × (r_cov,a + r_cov,b); ``overrides`` set pairs by symbol.
    """
    from ase.data import atomic_numbers, covalent_radii

    table = factor * (covalent_radii[:, None] + covalent_radii[None, :])
    for key, value in (overrides or {}).items():
        a, b = _pair_key(key)
        if a not in atomic_numbers or b not in atomic_numbers:
            raise InputError(f"min_distances_A: unknown element in {key!r}")
        if not value >= 0:
            raise InputError(f"min_distances_A[{key!r}] must be non-negative, got {value}")
        za, zb = atomic_numbers[a], atomic_numbers[b]
        table[za, zb] = table[zb, za] = float(value)
    return table


@dataclass(frozen=True)
class Guards:
    """Thresholds of the run guards (module docstring).

    Args:
        distance_factor: Default closest distance as a fraction of the covalent-radius sum.
        min_distances_A: Per-pair overrides, ``{"Li-O": 1.2}``.
        max_temperature_factor: Stop above this multiple of the target temperature.
        max_volume_drift: Stop when |V/V_stage_start − 1| exceeds this in NPT.
        check_every: Steps between the distance, volume and energy-drift checks (NaN and
            temperature checks run every step; they cost nothing next to a force call).
        max_energy_drift_eV_atom_ps: Stop when the conserved quantity drifts faster than this.
        energy_drift_window_ps: Time into a stage before the drift is judged.
        min_steps_per_period: Refuse a timestep giving fewer steps per period of the fastest
            expected vibration.
    """

    distance_factor: float = 0.5
    min_distances_A: Mapping[str, float] = field(default_factory=dict)
    max_temperature_factor: float = 3.0
    max_volume_drift: float = 0.3
    check_every: int = 10
    max_energy_drift_eV_atom_ps: float = 0.01
    energy_drift_window_ps: float = 0.2
    min_steps_per_period: float = 10.0

    def __post_init__(self) -> None:
        if not self.distance_factor >= 0:
            raise InputError(f"distance_factor must be ≥ 0, got {self.distance_factor}")
        if not self.max_temperature_factor > 1:
            raise InputError(
                f"max_temperature_factor must exceed 1, got {self.max_temperature_factor}"
            )
        if not self.max_volume_drift > 0:
            raise InputError(f"max_volume_drift must be positive, got {self.max_volume_drift}")
        if int(self.check_every) < 1:
            raise InputError(f"check_every must be ≥ 1, got {self.check_every}")
        for label in ("max_energy_drift_eV_atom_ps", "energy_drift_window_ps"):
            if not getattr(self, label) > 0:
                raise InputError(f"{label} must be positive, got {getattr(self, label)}")
        if not self.min_steps_per_period >= 0:
            raise InputError(f"min_steps_per_period must be ≥ 0, got {self.min_steps_per_period}")
        object.__setattr__(self, "min_distances_A", dict(self.min_distances_A))
        pair_thresholds(np.zeros(1, int), self.distance_factor, self.min_distances_A)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "distance_factor": self.distance_factor,
            "min_distances_A": {
                (k if isinstance(k, str) else "-".join(k)): v
                for k, v in self.min_distances_A.items()
            },
            "max_temperature_factor": self.max_temperature_factor,
            "max_volume_drift": self.max_volume_drift,
            "check_every": self.check_every,
            "max_energy_drift_eV_atom_ps": self.max_energy_drift_eV_atom_ps,
            "energy_drift_window_ps": self.energy_drift_window_ps,
            "min_steps_per_period": self.min_steps_per_period,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Guards:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(data))


class GuardState:
    """The guards bound to one cell: precomputed thresholds, the stage's start volume and the
    running sums of the conserved-energy fit (all part of a checkpoint, see :meth:`state`)."""

    def __init__(self, guards: Guards, atoms: Atoms):
        self.guards = guards
        self.numbers = atoms.get_atomic_numbers()
        self.table = pair_thresholds(self.numbers, guards.distance_factor, guards.min_distances_A)
        present = np.unique(self.numbers)
        self.cutoff = float(self.table[np.ix_(present, present)].max())
        self.volume0 = float(atoms.get_volume())
        # least-squares sums of (t, E − E₀): n, Σt, ΣE, Σt², ΣtE; then E₀
        self.energy_fit = np.zeros(6)

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint must hold for the guards to continue bit for bit."""
        return {"volume_start": np.array(self.volume0), "energy_fit": self.energy_fit.copy()}

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state` (missing entries keep their fresh values)."""
        if "volume_start" in state:
            self.volume0 = float(state["volume_start"])
        if "energy_fit" in state:
            self.energy_fit = np.array(state["energy_fit"], dtype=np.float64)

    def energy_drift(self, time_ps: float, energy_eV: float) -> str | None:
        """Add one value of the conserved quantity; a message when its drift is too fast.

        The drift is the least-squares slope through every value since the stage start,
        judged once :attr:`Guards.energy_drift_window_ps` has passed.
        """
        if not math.isfinite(energy_eV):
            return f"the conserved energy is {energy_eV}"
        fit = self.energy_fit
        if fit[0] == 0:
            fit[5] = energy_eV
        e = energy_eV - fit[5]
        fit[:5] += (1.0, time_ps, e, time_ps * time_ps, time_ps * e)
        n, st = fit[0], fit[1]
        if n < 3 or st / n < 0.5 * self.guards.energy_drift_window_ps:
            return None
        slope = self.drift_slope()
        limit = self.guards.max_energy_drift_eV_atom_ps
        if abs(slope) > limit:
            return (
                f"the conserved energy drifts by {slope:+.3g} eV/atom/ps (fit over "
                f"{2 * st / n:.2f} ps; now {e / len(self.numbers):+.3g} eV/atom from the stage "
                f"start), beyond the allowed ±{limit:g} eV/atom/ps: the timestep is too long for "
                "the fastest vibration, or the forces are not the gradient of the energy"
            )
        return None

    def drift_slope(self) -> float:
        """Least-squares slope of the conserved energy so far, eV/atom/ps (NaN before 2 points)."""
        n, st, se, stt, ste = self.energy_fit[:5]
        span = stt / n - (st / n) ** 2 if n else 0.0
        if n < 2 or not span > 0:
            return math.nan
        return float((ste / n - st / n * se / n) / span / len(self.numbers))

    def too_close(self, atoms: Atoms) -> str | None:
        """A message naming the closest offending pair, or None."""
        if self.cutoff <= 0:
            return None
        from ase.neighborlist import neighbor_list

        i, j, d = neighbor_list("ijd", atoms, self.cutoff)
        if i.size == 0:
            return None
        limit = self.table[self.numbers[i], self.numbers[j]]
        bad = np.flatnonzero(d < limit)
        if bad.size == 0:
            return None
        k = bad[np.argmin(d[bad] / limit[bad])]
        s = atoms.get_chemical_symbols()
        return (
            f"atoms {i[k]} ({s[i[k]]}) and {j[k]} ({s[j[k]]}) are {d[k]:.3f} Å apart, closer "
            f"than the {limit[k]:.3f} Å allowed for {s[i[k]]}–{s[j[k]]}"
        )

    def runaway(self, temperature_K: float, target_K: float) -> str | None:
        """A message when the temperature is far above the target, or None."""
        limit = self.guards.max_temperature_factor * target_K
        if not math.isfinite(temperature_K) or temperature_K > limit:
            return (
                f"temperature {temperature_K:.0f} K exceeds {self.guards.max_temperature_factor:g}"
                f"× the {target_K:.0f} K target (runaway)"
            )
        return None

    @staticmethod
    def not_finite(energy_eV: float, forces: np.ndarray) -> str | None:
        """A message when the energy or a force is NaN/inf, or None."""
        if not math.isfinite(energy_eV):
            return f"potential energy is {energy_eV}"
        if not np.all(np.isfinite(forces)):
            n = int(np.sum(~np.all(np.isfinite(forces), axis=1)))
            return f"forces on {n} atoms are NaN or infinite"
        return None

    def volume_drift(self, atoms: Atoms) -> str | None:
        """A message when the NPT volume left its allowed band, or None."""
        v = float(atoms.get_volume())
        drift = v / self.volume0 - 1.0
        if abs(drift) > self.guards.max_volume_drift:
            return (
                f"volume drifted {100 * drift:+.1f} % ({self.volume0:.1f} → {v:.1f} Å³), beyond "
                f"the allowed ±{100 * self.guards.max_volume_drift:.0f} %"
            )
        return None

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
  temperature).
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
        check_every: Steps between the distance checks (NaN and temperature checks run every
            step; they cost nothing next to a force call).
    """

    distance_factor: float = 0.5
    min_distances_A: Mapping[str, float] = field(default_factory=dict)
    max_temperature_factor: float = 3.0
    max_volume_drift: float = 0.3
    check_every: int = 10

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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Guards:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(data))


class GuardState:
    """The guards bound to one cell: precomputed thresholds and the stage's start volume."""

    def __init__(self, guards: Guards, atoms: Atoms):
        self.guards = guards
        self.numbers = atoms.get_atomic_numbers()
        self.table = pair_thresholds(self.numbers, guards.distance_factor, guards.min_distances_A)
        present = np.unique(self.numbers)
        self.cutoff = float(self.table[np.ix_(present, present)].max())
        self.volume0 = float(atoms.get_volume())

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

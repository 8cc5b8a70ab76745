"""ASE integrators behind one small interface: build, retarget the temperature, save state.

Each :class:`Integrator` wraps one ASE dynamics object and knows which of its internal
variables carry state between steps (Nosé–Hoover chain positions and momenta, the MTK barostat
and cell variables, the random generator of stochastic thermostats), so a checkpoint can hold
them as plain arrays and a resumed run continues the same trajectory. The registry maps
``(ensemble, thermostat)`` to the builder, in the spirit of ``ase/io/formats.py``.

Integrators (ASE 3.23+):

- NVT Nosé–Hoover chain (default; Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635
  (1992)): ``ase.md.nose_hoover_chain.NoseHooverChainNVT``;
- NVT Langevin (``ase.md.langevin.Langevin``; the centre of mass is left free, since ASE's
  ``fixcm`` does not sample NVT exactly; analyses remove drift anyway) and Bussi stochastic
  velocity rescaling (Bussi, Donadio & Parrinello, J. Chem. Phys. 126, 014101 (2007));
- NPT isotropic Martyna–Tobias–Klein (``ase.md.nose_hoover_chain.IsotropicMTKNPT``);
- NVE velocity Verlet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units

from solidion.md.protocol import Stage

__all__ = ["Integrator", "make_integrator"]


@dataclass
class Integrator:
    """An ASE dynamics object with a temperature knob and a checkpointable state.

    Attributes:
        dyn: The ASE dynamics (its ``step()`` advances one timestep).
        set_temperature: Sets the target temperature in K.
        get_state: Internal state as ``{name: array}`` (excluding atoms and the RNG).
        set_state: Restores what :attr:`get_state` returned.
        conserved_energy: The integrator's conserved quantity in eV, when it has one.
    """

    dyn: Any
    set_temperature: Callable[[float], None]
    get_state: Callable[[], dict[str, np.ndarray]]
    set_state: Callable[[dict[str, np.ndarray]], None]
    conserved_energy: Callable[[], float] | None = None

    def step(self) -> None:
        """Advance one timestep."""
        self.dyn.step()


def _chain_state(prefix: str, chain: Any, names: tuple[str, str]) -> dict[str, np.ndarray]:
    return {f"{prefix}{n}": np.array(getattr(chain, n), dtype=np.float64) for n in names}


def _load_chain(prefix: str, chain: Any, names: tuple[str, str], state: dict) -> None:
    for n in names:
        setattr(chain, n, np.array(state[f"{prefix}{n}"], dtype=np.float64))


_NHC = ("_eta", "_p_eta")
_BARO = ("_xi", "_p_xi")


def _nose_hoover(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    dyn = NoseHooverChainNVT(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        tdamp=stage.tdamp * units.fs,
    )

    def set_t(t: float) -> None:
        dyn._thermostat._kT = units.kB * t

    return Integrator(
        dyn,
        set_t,
        lambda: _chain_state("thermostat", dyn._thermostat, _NHC),
        lambda s: _load_chain("thermostat", dyn._thermostat, _NHC, s),
        lambda: float(
            atoms.get_potential_energy()
            + atoms.get_kinetic_energy()
            + dyn._thermostat.get_thermostat_energy()
        ),
    )


def _langevin(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.langevin import Langevin

    dyn = Langevin(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        friction=stage.friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    return Integrator(
        dyn, lambda t: dyn.set_temperature(temperature_K=t), dict, lambda s: None, None
    )


def _bussi(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.bussi import Bussi

    dyn = Bussi(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        taut=stage.tdamp * units.fs,
        rng=rng,
    )

    def set_t(t: float) -> None:
        dyn.temp = t * units.kB
        dyn.target_kinetic_energy = 0.5 * dyn.temp * dyn.ndof

    def get() -> dict[str, np.ndarray]:
        return {"transferred_energy": np.array(dyn.transferred_energy)}

    def load(s: dict) -> None:
        dyn.transferred_energy = float(s["transferred_energy"])

    def conserved() -> float:
        return float(
            atoms.get_potential_energy() + atoms.get_kinetic_energy() - dyn.transferred_energy
        )

    return Integrator(dyn, set_t, get, load, conserved)


def _npt(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.nose_hoover_chain import IsotropicMTKNPT

    dyn = IsotropicMTKNPT(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        pressure_au=stage.pressure_GPa * units.GPa,
        tdamp=stage.tdamp * units.fs,
        pdamp=stage.pdamp * units.fs,
    )

    def set_t(t: float) -> None:
        kt = units.kB * t
        dyn._temperature_K = t
        dyn._kT = kt
        dyn._thermostat._kT = kt
        dyn._barostat._kT = kt

    def get() -> dict[str, np.ndarray]:
        out = _chain_state("thermostat", dyn._thermostat, _NHC)
        out.update(_chain_state("barostat", dyn._barostat, _BARO))
        out.update(
            eps=np.array(dyn._eps),
            p_eps=np.array(dyn._p_eps),
            cell0=np.array(dyn._cell0),
            volume0=np.array(dyn._volume0),
        )
        return out

    def load(s: dict) -> None:
        _load_chain("thermostat", dyn._thermostat, _NHC, s)
        _load_chain("barostat", dyn._barostat, _BARO, s)
        dyn._eps = float(s["eps"])
        dyn._p_eps = float(s["p_eps"])
        dyn._cell0 = np.array(s["cell0"], dtype=np.float64)
        dyn._volume0 = float(s["volume0"])

    def conserved() -> float:
        # ASE's get_conserved_energy asks for free_energy, which CHGNet does not provide
        return float(
            atoms.get_potential_energy()
            + atoms.get_kinetic_energy()
            + dyn._thermostat.get_thermostat_energy()
            + dyn._barostat.get_barostat_energy()
            + dyn._p_eps * dyn._p_eps / (2 * dyn._barostat.W)
            + dyn._pressure_au * dyn._get_volume()
        )

    return Integrator(dyn, set_t, get, load, conserved)


def _nve(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.verlet import VelocityVerlet

    dyn = VelocityVerlet(atoms, timestep=stage.timestep_fs * units.fs)
    return Integrator(
        dyn,
        lambda t: None,
        dict,
        lambda s: None,
        lambda: float(atoms.get_potential_energy() + atoms.get_kinetic_energy()),
    )


#: Builders by (ensemble, thermostat); NPT and NVE ignore the thermostat field.
INTEGRATORS: dict[tuple[str, str], Callable[[Atoms, Stage, np.random.Generator], Integrator]] = {
    ("nvt", "nose_hoover"): _nose_hoover,
    ("nvt", "langevin"): _langevin,
    ("nvt", "bussi"): _bussi,
    ("npt", "nose_hoover"): _npt,
    ("nve", "nose_hoover"): _nve,
}


def make_integrator(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    """The integrator of an MD stage, on ``atoms`` (which must carry a calculator).

    NPT and NVE stages have one integrator each whatever ``stage.thermostat`` says (NPT always
    thermostats with the MTK Nosé–Hoover chains).
    """
    key = (stage.ensemble, stage.thermostat if stage.ensemble == "nvt" else "nose_hoover")
    return INTEGRATORS[key](atoms, stage, rng)

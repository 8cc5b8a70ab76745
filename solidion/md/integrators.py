"""ASE integrators behind one small interface: build, retarget the temperature, save state.

Each :class:`Integrator` wraps one ASE dynamics object and knows which of its internal
variables carry state between steps (Nosé–Hoover chain positions, momenta and masses, the MTK
barostat and cell variables, the random generator of stochastic thermostats), so a checkpoint
can hold them as plain arrays and a resumed run continues the same trajectory. The registry maps
``(ensemble, thermostat)`` to the builder, in the spirit of ``ase/io/formats.py``.

Integrators (ASE 3.23+):

- NVT Nosé–Hoover chain (default; Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635
  (1992)): ``ase.md.nose_hoover_chain.NoseHooverChainNVT``;
- NVT Langevin (``ase.md.langevin.Langevin``) and Bussi stochastic velocity rescaling (Bussi,
  Donadio & Parrinello, J. Chem. Phys. 126, 014101 (2007));
- NPT isotropic Martyna–Tobias–Klein (``ase.md.nose_hoover_chain.IsotropicMTKNPT``);
- NVE velocity Verlet.

**The centre of mass does not move.** Every stage starts with zero total momentum and every step
ends with it removed again (:meth:`Integrator.step`), so frames carry no drift from the
thermostat. For periodic potentials Σ F = 0, so Nosé–Hoover, MTK, Bussi and Verlet keep a zero
momentum zero by themselves and the removal only cleans round-off (float32 potentials). Langevin
noise would kick the centre of mass every step; here its Gaussian draws are projected
orthogonal to √m (:class:`ComFreeNoise`), which removes exactly the centre-of-mass share of the
random force and displacement and leaves the 3N − 3 internal degrees of freedom with the noise
of the unconstrained integrator (with Σ F = 0 the internal motion does not depend on the centre
of mass). ASE's own ``fixcm=True`` is not used: it subtracts unweighted means and rescales the
noise by √(N/(N−1)), which does not sample NVT for unequal masses (ASE deprecates it).

**Degrees of freedom.** With the total momentum fixed there are N_f = 3N − 3 kinetic degrees
of freedom, and the kinetic temperature is T = 2 E_kin / (N_f k_B) (:func:`kinetic_temperature`).
ASE's chains thermostat 3N, which makes the internal temperature 3N/(3N−3)·T (+2.4 % for 42
atoms); the chain, the MTK coupling (1 + d/N_f) and Bussi are set to N_f here.

**Ramps.** Changing the target temperature rescales the chain (and barostat) masses with k_BT,
Q₁ = N_f k_BT τ², Q_j = k_BT τ², W = (N_f + 3) k_BT τ_p², so the coupling times τ stay what the
stage says through a quench; the thermostat momenta are scaled with their masses so the
friction p/Q is continuous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units

from solidion.md.protocol import Stage

__all__ = [
    "ComFreeNoise",
    "Integrator",
    "kinetic_temperature",
    "make_integrator",
    "n_dof",
    "remove_com_momentum",
]


def n_dof(n_atoms: int) -> int:
    """Kinetic degrees of freedom of a periodic cell with its total momentum fixed: 3N − 3."""
    return 3 * int(n_atoms) - 3


def kinetic_temperature(atoms: Atoms) -> float:
    """T = 2 E_kin / ((3N − 3) k_B) in K (the total momentum is zero in every solidion run)."""
    return float(2.0 * atoms.get_kinetic_energy() / (n_dof(len(atoms)) * units.kB))


def _without_drift(momenta: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Subtract m_i·V_cm from every momentum, in place; returns the array."""
    momenta -= masses[:, None] * (momenta.sum(axis=0) / masses.sum())
    return momenta


def remove_com_momentum(atoms: Atoms) -> None:
    """Set the total momentum of ``atoms`` to zero (each atom loses m_i·V_cm)."""
    atoms.set_momenta(_without_drift(atoms.get_momenta(), atoms.get_masses()))


class ComFreeNoise:
    """A numpy Generator whose (N, 3) normal draws have no centre-of-mass component.

    ASE's Langevin step (``ase/md/langevin.py``) draws ξ, η ~ N(0, 1) of shape (N, 3) and moves
    atom i by noise ∝ ξ_i/√m_i (momenta) and η_i/√m_i (positions), so the centre of mass
    receives Σ_i √m_i ξ_i. Projecting each column of the draws orthogonal to the unit vector
    u = √m/|√m| removes exactly that share; the projection of an isotropic Gaussian is the
    isotropic Gaussian of the 3N − 3 internal directions, so the internal dynamics are the
    unconstrained integrator's. Other draws pass through unchanged; the wrapped generator's
    state is the only state (checkpoints save it).
    """

    def __init__(self, rng: np.random.Generator, masses: np.ndarray):
        self.rng = rng
        w = np.sqrt(np.asarray(masses, dtype=np.float64).ravel())
        self.unit = w / np.linalg.norm(w)

    def standard_normal(self, size: Any = None, *args: Any, **kwargs: Any) -> Any:
        x = self.rng.standard_normal(size, *args, **kwargs)
        if np.shape(x) == (self.unit.size, 3):
            x -= np.outer(self.unit, self.unit @ x)
        return x

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rng, name)


@dataclass
class Integrator:
    """An ASE dynamics object with a temperature knob and a checkpointable state.

    Attributes:
        dyn: The ASE dynamics (its ``step()`` advances one timestep).
        set_temperature: Sets the target temperature in K.
        get_state: Internal state as ``{name: array}`` (excluding atoms and the RNG).
        set_state: Restores what :attr:`get_state` returned.
        conserved_energy: The integrator's conserved quantity in eV, when it has one.
        remove_drift: Zeroes the total momentum, in the integrator's own copy of the momenta
            too (the Nosé–Hoover and MTK integrators keep one).
    """

    dyn: Any
    set_temperature: Callable[[float], None]
    get_state: Callable[[], dict[str, np.ndarray]]
    set_state: Callable[[dict[str, np.ndarray]], None]
    conserved_energy: Callable[[], float] | None = None
    remove_drift: Callable[[], None] | None = None

    def step(self) -> None:
        """Advance one timestep, then zero the total momentum (round-off of Σ F)."""
        self.dyn.step()
        if self.remove_drift is not None:
            self.remove_drift()


def _chain_state(prefix: str, chain: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {f"{prefix}{n}": np.array(getattr(chain, n), dtype=np.float64) for n in names}


def _load_chain(prefix: str, chain: Any, names: tuple[str, ...], state: dict) -> None:
    for n in names:
        key = f"{prefix}{n}"
        if key in state:  # checkpoints before the masses were saved lack _Q/_R/_W
            value = np.array(state[key], dtype=np.float64)
            setattr(chain, n, float(value) if value.ndim == 0 else value)


#: Thermostat chain state: positions, momenta, masses and k_BT of the ASE chain objects.
_NHC = ("_eta", "_p_eta", "_Q", "_kT")
#: Barostat chain state (the MTK barostat's own chain and the cell mass W).
_BARO = ("_xi", "_p_xi", "_R", "_W", "_kT")


def _require(obj: Any, names: tuple[str, ...]) -> None:
    missing = [n for n in names if not hasattr(obj, n)]
    if missing:
        import ase

        raise RuntimeError(
            f"ASE {ase.__version__}: {type(obj).__name__} lacks {', '.join(missing)}; solidion "
            "sets the thermostat's degrees of freedom through them (ase.md.nose_hoover_chain)"
        )


def _retarget_thermostat(chain: Any, kt: float) -> None:
    """k_BT of a Nosé–Hoover chain with τ fixed: Q₁ = N_f k_BT τ², Q_j = k_BT τ²; p ∝ Q."""
    q_old = np.array(chain._Q, dtype=np.float64)
    q = np.full_like(q_old, kt * chain._tdamp**2)
    q[0] = 3 * chain._num_atoms_global * kt * chain._tdamp**2
    chain._p_eta = chain._p_eta * (q / q_old)
    chain._Q = q
    chain._kT = kt


def _retarget_barostat(baro: Any, kt: float) -> float:
    """k_BT of the MTK barostat chain with τ_p fixed; returns W_new/W_old (scales p_ε)."""
    r_old = np.array(baro._R, dtype=np.float64)
    r = np.full_like(r_old, kt * baro._pdamp**2)
    r[0] = 9 * kt * baro._pdamp**2
    baro._p_xi = baro._p_xi * (r / r_old)
    baro._R = r
    w_old = baro._W
    baro._W = (3 * baro._num_atoms_global + 3) * kt * baro._pdamp**2
    baro._kT = kt
    return baro._W / w_old


def _internal_dof(chain: Any, n_atoms: int) -> None:
    """Make an ASE chain thermostat (or MTK barostat) count 3N − 3 degrees of freedom.

    ASE writes N_f = 3 × ``_num_atoms_global`` in the chain mass, its force and its energy (and
    the barostat in W), so N − 1 atoms give 3N − 3.
    """
    _require(chain, ("_num_atoms_global", "_kT"))
    chain._num_atoms_global = n_atoms - 1
    if hasattr(chain, "_Q"):
        _retarget_thermostat(chain, chain._kT)
    else:
        _retarget_barostat(chain, chain._kT)


def _drift_remover(atoms: Atoms, dyn: Any | None = None) -> Callable[[], None]:
    masses = atoms.get_masses()

    def remove() -> None:
        if dyn is None:
            atoms.set_momenta(_without_drift(atoms.get_momenta(), masses))
        else:  # the integrator's own momenta are the ones it steps with
            _without_drift(dyn._p, masses)
            atoms.set_momenta(dyn._p)

    return remove


def _nose_hoover(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    dyn = NoseHooverChainNVT(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        tdamp=stage.tdamp * units.fs,
    )
    _require(dyn, ("_thermostat", "_p"))
    _require(dyn._thermostat, (*_NHC, "_tdamp"))
    _internal_dof(dyn._thermostat, len(atoms))

    return Integrator(
        dyn,
        lambda t: _retarget_thermostat(dyn._thermostat, units.kB * t),
        lambda: _chain_state("thermostat", dyn._thermostat, _NHC),
        lambda s: _load_chain("thermostat", dyn._thermostat, _NHC, s),
        lambda: float(
            atoms.get_potential_energy()
            + atoms.get_kinetic_energy()
            + dyn._thermostat.get_thermostat_energy()
        ),
        _drift_remover(atoms, dyn),
    )


def _langevin(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.langevin import Langevin

    dyn = Langevin(
        atoms,
        timestep=stage.timestep_fs * units.fs,
        temperature_K=stage.T_start_K,
        friction=stage.friction_per_fs / units.fs,
        fixcm=False,
        rng=ComFreeNoise(rng, atoms.get_masses()),
    )
    return Integrator(
        dyn,
        lambda t: dyn.set_temperature(temperature_K=t),
        dict,
        lambda s: None,
        None,
        _drift_remover(atoms),
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
    dyn.ndof = n_dof(len(atoms))

    def set_t(t: float) -> None:
        dyn.temp = t * units.kB
        dyn.target_kinetic_energy = 0.5 * dyn.temp * dyn.ndof

    set_t(stage.T_start_K)

    def get() -> dict[str, np.ndarray]:
        return {"transferred_energy": np.array(dyn.transferred_energy)}

    def load(s: dict) -> None:
        dyn.transferred_energy = float(s["transferred_energy"])

    def conserved() -> float:
        return float(
            atoms.get_potential_energy() + atoms.get_kinetic_energy() - dyn.transferred_energy
        )

    return Integrator(dyn, set_t, get, load, conserved, _drift_remover(atoms))


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
    _require(dyn, ("_thermostat", "_barostat", "_num_atoms_global", "_p", "_p_eps", "_kT"))
    _require(dyn._thermostat, (*_NHC, "_tdamp"))
    _require(dyn._barostat, (*_BARO, "_pdamp"))
    n = len(atoms)
    dyn._num_atoms_global = n - 1  # the (1 + d/N_f) coupling and d/N_f·Σp²/m with N_f = 3N − 3
    _internal_dof(dyn._thermostat, n)
    _internal_dof(dyn._barostat, n)

    def set_t(t: float) -> None:
        kt = units.kB * t
        dyn._temperature_K = t
        dyn._kT = kt
        _retarget_thermostat(dyn._thermostat, kt)
        dyn._p_eps *= _retarget_barostat(dyn._barostat, kt)

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

    return Integrator(dyn, set_t, get, load, conserved, _drift_remover(atoms, dyn))


def _nve(atoms: Atoms, stage: Stage, rng: np.random.Generator) -> Integrator:
    from ase.md.verlet import VelocityVerlet

    dyn = VelocityVerlet(atoms, timestep=stage.timestep_fs * units.fs)
    return Integrator(
        dyn,
        lambda t: None,
        dict,
        lambda s: None,
        lambda: float(atoms.get_potential_energy() + atoms.get_kinetic_energy()),
        _drift_remover(atoms),
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
    thermostats with the MTK Nosé–Hoover chains). The atoms' total momentum should be zero
    (the runner removes it at every stage start); the integrator keeps it so.
    """
    key = (stage.ensemble, stage.thermostat if stage.ensemble == "nvt" else "nose_hoover")
    return INTEGRATORS[key](atoms, stage, rng)

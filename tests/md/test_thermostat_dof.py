"""Thermostats act on the 3N − 3 degrees of freedom that exist, with fixed time constants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import units
from ase.calculators.calculator import Calculator, all_changes

from solidion.md import Stage
from solidion.md.integrators import kinetic_temperature, make_integrator, remove_com_momentum
from tests.md.conftest import argon, lj


def _moving(atoms, temperature_K=300.0, seed=0):
    from ase.md.velocitydistribution import thermalize_momenta

    thermalize_momenta(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    remove_com_momentum(atoms)
    return atoms


def test_kinetic_temperature_counts_3n_minus_3():
    atoms = _moving(argon())
    n = len(atoms)
    assert kinetic_temperature(atoms) == pytest.approx(atoms.get_temperature() * n / (n - 1))


def test_nose_hoover_chain_masses_use_3n_minus_3_and_keep_tau_through_a_ramp():
    atoms = _moving(argon())
    atoms.calc = lj()
    n, tau = len(atoms), 50.0
    stage = Stage("nvt", 1500, 600, 1.0, 2.0, tdamp_fs=tau)
    integ = make_integrator(atoms, stage, np.random.default_rng(0))
    chain = integ.dyn._thermostat
    kt = units.kB * 1500
    assert chain._Q[0] == pytest.approx((3 * n - 3) * kt * (tau * units.fs) ** 2)
    assert chain._Q[1] == pytest.approx(kt * (tau * units.fs) ** 2)
    chain._p_eta[:] = [0.3, -0.2, 0.1]
    friction = chain._p_eta / chain._Q
    for t in (1200.0, 900.0, 600.0):
        integ.set_temperature(t)
        kt = units.kB * t
        # τ = sqrt(Q₁ / (N_f k_BT)) stays the stage's tdamp at every temperature of the ramp
        assert math.sqrt(chain._Q[0] / ((3 * n - 3) * kt)) / units.fs == pytest.approx(tau)
        assert math.sqrt(chain._Q[2] / kt) / units.fs == pytest.approx(tau)
        np.testing.assert_allclose(chain._p_eta / chain._Q, friction, rtol=1e-12)
    # the masses are part of the checkpoint state
    assert {"thermostat_Q", "thermostat_kT", "thermostat_p_eta"} <= set(integ.get_state())


def test_mtk_counts_3n_minus_3_and_keeps_both_taus_through_a_ramp():
    atoms = _moving(argon())
    atoms.calc = lj()
    n, tau, taup = len(atoms), 50.0, 300.0
    stage = Stage("npt", 900, 600, 1.0, 2.0, tdamp_fs=tau, pdamp_fs=taup)
    integ = make_integrator(atoms, stage, np.random.default_rng(0))
    dyn = integ.dyn
    assert dyn._num_atoms_global == n - 1  # the (1 + d/N_f) coupling with N_f = 3N − 3
    integ.dyn._p_eps = 0.7
    velocity = dyn._p_eps / dyn._barostat.W
    for t in (800.0, 700.0, 600.0):
        integ.set_temperature(t)
        kt = units.kB * t
        assert math.sqrt(dyn._thermostat._Q[0] / ((3 * n - 3) * kt)) / units.fs == pytest.approx(
            tau
        )
        w = (3 * n - 3 + 3) * kt * (taup * units.fs) ** 2
        assert dyn._barostat.W == pytest.approx(w)
        assert dyn._barostat._R[0] == pytest.approx(9 * kt * (taup * units.fs) ** 2)
        assert dyn._p_eps / dyn._barostat.W == pytest.approx(velocity)  # ε̇ is continuous


def test_bussi_targets_3n_minus_3():
    atoms = _moving(argon())
    atoms.calc = lj()
    integ = make_integrator(atoms, Stage("nvt", 300, 300, 1.0, 2.0, thermostat="bussi"), None)
    assert integ.dyn.ndof == 3 * len(atoms) - 3
    integ.set_temperature(500)
    assert integ.dyn.target_kinetic_energy == pytest.approx(
        0.5 * (3 * len(atoms) - 3) * units.kB * 500
    )


class ShiftedForceLJ(Calculator):
    """Minimum-image Lennard-Jones, force shifted to zero at ``rc`` < L/2: fast for a few dozen
    atoms in a cubic box, smooth, translation invariant."""

    implemented_properties = ("energy", "forces")

    def __init__(self, epsilon=0.0104, sigma=3.4, rc=5.2):
        super().__init__()
        self.eps, self.sig, self.rc = epsilon, sigma, rc

    def _u_du(self, r):
        x6 = (self.sig / r) ** 6
        return 4 * self.eps * (x6 * x6 - x6), -24 * self.eps * (2 * x6 * x6 - x6) / r

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos, box = self.atoms.positions, self.atoms.cell.lengths()
        i, j = np.triu_indices(len(pos), 1)
        d = pos[j] - pos[i]
        d -= box * np.round(d / box)
        r = np.linalg.norm(d, axis=1)
        on = r < self.rc
        u, du = self._u_du(r[on])
        uc, duc = self._u_du(self.rc)
        energy = np.sum(u - uc - (r[on] - self.rc) * duc)
        f = ((du - duc) / r[on])[:, None] * d[on]  # dU/dr · r̂ acts on j, minus on i
        forces = np.zeros_like(pos)
        np.add.at(forces, i[on], f)
        np.add.at(forces, j[on], -f)
        self.results = {"energy": float(energy), "forces": forces}


def _mean_temperature(stage: Stage, seed: int, n_steps: int) -> float:
    """Time average of 2 E_kin / ((3N − 3) k_B) over every step, 32-atom LJ liquid."""
    atoms = _moving(argon(seed=seed), stage.T_start_K, seed)
    atoms.calc = ShiftedForceLJ()
    integ = make_integrator(atoms, stage, np.random.default_rng(seed))
    ekin = np.empty(n_steps)
    for k in range(n_steps):
        integ.set_temperature(stage.T_start_K)
        integ.step()
        ekin[k] = atoms.get_kinetic_energy()
    n_f = 3 * len(atoms) - 3
    return float(2 * np.mean(ekin[n_steps // 10 :]) / (n_f * units.kB))


@pytest.mark.slow
def test_nose_hoover_internal_temperature_to_1_percent():
    """32 atoms: a chain on 3N degrees of freedom would hold 3N/(3N − 3) T = +3.2 %.

    50 ps of a 150 K LJ liquid (chaotic, so the chain variables mix; ~15 s): the chain's own
    equation dp_η₁/dt = 2E_kin − N_f k_BT − p_η₁p_η₂/Q₂ leaves the statistical error of the
    mean at ~0.3 %. Langevin's internal degrees of freedom get exactly the unconstrained noise
    (test_com_drift.py) and Bussi's target is checked above.
    """
    stage = Stage("nvt", 150, 150, 50.0, 5.0, tdamp_fs=50)
    assert _mean_temperature(stage, 1, 10000) == pytest.approx(150, rel=0.01)

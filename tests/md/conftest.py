"""Cheap cells and calculators for testing the MD driver without a machine-learning model."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones


def argon(n_rep: int = 2, seed: int = 0, jitter: float = 0.05):
    """fcc argon (4·n_rep³ atoms) with a small random displacement, and an LJ calculator."""
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(n_rep)
    atoms.positions += np.random.default_rng(seed).normal(0, jitter, atoms.positions.shape)
    return atoms


def lj() -> LennardJones:
    """Argon Lennard-Jones (ε = 10.4 meV, σ = 3.4 Å), smoothly cut at 8 Å."""
    return LennardJones(epsilon=0.0104, sigma=3.4, rc=8.0, smooth=True)


class CountingLJ(Calculator):
    """LJ results, counted; subclasses alter them in ``tamper`` (broken-potential doubles)."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self):
        super().__init__()
        self.inner = lj()
        self.calls = 0

    def tamper(self) -> None:
        """Change ``self.results`` after call number ``self.calls``."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(atoms, properties, system_changes)
        self.results = dict(self.inner.results)
        self.calls += 1
        self.tamper()


class NaNAfter(CountingLJ):
    """LJ until ``n`` force calls, then NaN forces."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def tamper(self) -> None:
        if self.calls > self.n:
            self.results["forces"] = np.full_like(self.results["forces"], np.nan)


@pytest.fixture
def argon_cell():
    return argon()


class FreeParticles(Calculator):
    """No interactions: zero energy, forces and stress (atoms fly in straight lines)."""

    implemented_properties = ("energy", "forces", "stress")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {"energy": 0.0, "forces": np.zeros((n, 3)), "stress": np.zeros(6)}

"""solidion's CHGNet calculator runs CHGNet's task for what is asked (issue #17, throughput).

The stock ``CHGNetCalculator`` predicts energy, forces, stress and magnetic moments on every
call (``task="efsm"``); solidion's asks for energy and forces, and adds the stress or the moments
only when they are requested (or ``with_stress`` is set). What it computes must be what the stock
calculator computes.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings

import numpy as np
import pytest

from solidion import potentials
from solidion.build import random_cell
from solidion.potentials import _chgnet


@pytest.mark.parametrize(
    "properties, with_stress, task",
    [
        (["energy"], False, "ef"),
        (["forces"], False, "ef"),
        (["free_energy"], False, "ef"),
        (["forces"], True, "efs"),
        (["stress"], False, "efs"),
        (["magmoms"], False, "efsm"),  # CHGNet has no "efm" task
        (["stress", "magmoms"], False, "efsm"),
        (None, False, "efsm"),  # the stock meaning of properties=None: everything
    ],
)
def test_task_follows_the_requested_properties(properties, with_stress, task):
    assert _chgnet.chgnet_task(properties, with_stress=with_stress) == task


def _cell():
    """21 atoms of LiAlCl2.5O0.75, random but kept apart, rattled off any symmetry."""
    return random_cell("LiAlCl2.5O0.75", n_atoms=21, rng=3)


@pytest.fixture
def calculators():
    """solidion's calculator and the stock one around the same model, with a task log."""
    from ase import units
    from chgnet.model.dynamics import CHGNetCalculator

    ours = potentials.get("chgnet")
    with contextlib.redirect_stdout(io.StringIO()):
        stock = CHGNetCalculator(model=ours.model, use_device=ours.device, stress_weight=units.GPa)
    return ours, stock


@pytest.fixture
def tasks(monkeypatch):
    """Every task CHGNet's ``predict_graph`` is called with, in order."""
    from chgnet.model.model import CHGNet

    seen: list[str] = []
    original = CHGNet.predict_graph

    def spy(self, graph, *args, task="efsm", **kwargs):
        seen.append(task)
        return original(self, graph, *args, task=task, **kwargs)

    monkeypatch.setattr(CHGNet, "predict_graph", spy)
    return seen


@pytest.mark.slow
def test_same_results_as_the_stock_calculator_and_stress_on_demand(calculators, tasks):
    ours, stock = calculators
    assert type(ours).__name__ == "SolidionCHGNetCalculator"
    assert ours.with_stress is False
    reference = _cell()
    reference.calc = stock
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stock_forces = reference.get_forces()
        stock_energy = reference.get_potential_energy()
        stock_stress = reference.get_stress()
        stock_magmoms = reference.get_magnetic_moments()
    assert tasks == ["efsm"]  # one call, everything

    atoms = _cell()
    atoms.calc = ours
    del tasks[:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forces = atoms.get_forces()
        assert tasks == ["ef"]
        assert "stress" not in ours.results and "magmoms" not in ours.results
        np.testing.assert_allclose(forces, stock_forces, rtol=0, atol=1e-6)
        assert atoms.get_potential_energy() == pytest.approx(stock_energy, abs=1e-6)
        assert tasks == ["ef"]  # the energy came with the forces

        # ASE semantics: the stress is missing from the results, so asking for it calls
        # calculate again on the same atoms, with properties=["stress"]
        stress = atoms.get_stress()
        assert tasks == ["ef", "efs"]
        np.testing.assert_allclose(stress, stock_stress, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ours.results["forces"], stock_forces, rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            atoms.get_magnetic_moments(), stock_magmoms, rtol=1e-6, atol=1e-7
        )
        assert tasks == ["ef", "efs", "efsm"]
        atoms.get_forces(), atoms.get_stress(), atoms.get_magnetic_moments()
        assert len(tasks) == 3  # all cached now

        # moved atoms: the results are reset, and only energy and forces are computed again
        atoms.positions[0] += 0.01
        atoms.get_forces()
        assert tasks[3:] == ["ef"] and "stress" not in ours.results

        # with_stress: the stress comes with the forces, and get_stress costs no second call
        ours.with_stress = True
        atoms.positions[0] -= 0.01
        np.testing.assert_allclose(atoms.get_forces(), stock_forces, rtol=0, atol=1e-6)
        np.testing.assert_allclose(atoms.get_stress(), stock_stress, rtol=1e-6, atol=1e-9)
        assert tasks[4:] == ["efs"]


@pytest.mark.slow
def test_class_is_reachable_by_name_for_pickle():
    cls = _chgnet.calculator_class()
    assert _chgnet.SolidionCHGNetCalculator is cls
    assert pickle.loads(pickle.dumps(cls)) is cls
    assert potentials.describe(potentials.get("chgnet"))["calculator"] == (
        "solidion.potentials._chgnet.SolidionCHGNetCalculator"
    )

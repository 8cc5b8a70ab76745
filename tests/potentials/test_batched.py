"""BatchedCHGNet: one model call for several structures == sequential CHGNetCalculator calls."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.build import bulk

from solidion import potentials
from solidion.errors import InputError
from solidion.potentials import BatchedCHGNet, Evaluation


def structures():
    """Three small cells with different atom counts (2, 4, 8), species and strains."""
    two = bulk("NaCl", "rocksalt", a=5.64)
    two.symbols[1] = "O"
    four = bulk("NaCl", "rocksalt", a=5.0).repeat((1, 1, 2))
    four.symbols[0] = "Li"
    four.rattle(0.05, seed=1)
    eight = bulk("NaCl", "rocksalt", a=5.5, cubic=True)
    eight.symbols[2] = "Al"
    eight.rattle(0.05, seed=3)
    return [two, four, eight]


def test_empty_list_needs_no_model():
    batched = BatchedCHGNet()
    assert batched.compute([]) == []
    assert batched._model is None  # nothing was loaded


def test_bad_inputs_name_the_argument():
    with pytest.raises(InputError, match=r"structures\[1\]: expected ase.Atoms"):
        BatchedCHGNet().compute([bulk("Cu"), "Cu"])
    with pytest.raises(InputError, match=r"structures\[0\]: has no atoms"):
        BatchedCHGNet().compute([bulk("Cu")[:0]])
    with pytest.raises(InputError, match="model"):
        BatchedCHGNet(model=3.0)


@pytest.mark.slow
def test_batched_equals_sequential_calculator():
    cells = structures()
    batched = BatchedCHGNet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = batched.compute(cells)
        assert batched.model is potentials.get().model  # shares the registry's cached model
        for atoms, result in zip(cells, results, strict=True):
            assert isinstance(result, Evaluation)
            energy, forces, stress = result  # unpacks as a tuple
            assert forces.shape == (len(atoms), 3) and forces.dtype == np.float64
            assert stress.shape == (6,)
            atoms.calc = potentials.get()
            assert energy == pytest.approx(float(atoms.get_potential_energy()), abs=1e-4)
            np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-5)
            np.testing.assert_allclose(stress, atoms.get_stress(), atol=1e-6)

        # energy is the total, not per atom: a doubled cell has twice the energy
        doubled = cells[1].repeat((2, 1, 1))
        pair = batched.compute([cells[1], doubled])
    assert pair[1].energy_eV == pytest.approx(2 * pair[0].energy_eV, rel=1e-5)
    np.testing.assert_allclose(pair[1].stress_eV_A3, pair[0].stress_eV_A3, atol=1e-5)


@pytest.mark.slow
def test_model_instance_device_and_describe():
    model = potentials.load_model("chgnet").model
    batched = BatchedCHGNet(model)
    assert batched.model is model
    assert potentials.describe(batched)["source"] == "model instance"
    record = potentials.describe(BatchedCHGNet("chgnet"))
    assert record["spec"] == "chgnet"
    assert record["calculator"].endswith("BatchedCHGNet")
    other = "cpu" if batched.device.startswith("cuda") else "cuda:0"
    with pytest.raises(InputError, match="device"):
        _ = BatchedCHGNet(model, device=other).model


@pytest.mark.slow
def test_isolated_atom_is_an_input_error_naming_the_structure():
    from ase import Atoms

    lonely = Atoms("Li2", positions=[[0, 0, 0], [10, 10, 10]], cell=[20, 20, 20], pbc=True)
    batched = BatchedCHGNet()
    graph_converter = batched.model.graph_converter
    response = graph_converter.on_isolated_atoms
    graph_converter.set_isolated_atom_response("error")
    try:
        with pytest.raises(InputError, match=r"structures\[1\]"):
            batched.compute([structures()[0], lonely])
    finally:
        graph_converter.set_isolated_atom_response(response)

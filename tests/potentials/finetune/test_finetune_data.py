"""The committed SevenNet-0 dataset: readable, what its script makes, and what the fine-tune
test trains on (see ``tests/data/README.md``)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from solidion.potentials.finetune import read_labelled, split_dataset

DATA = Path(__file__).resolve().parents[2] / "data" / "finetune_LiAlClO_7net0.extxyz"


def test_dataset_is_readable_and_split_by_trajectory():
    ds = read_labelled(DATA)
    assert len(ds) == 50 and ds.species == ("Li", "O", "Al", "Cl")
    assert ds.groups == ("nvt600", "nvt900", "nvt1200", "nvt1500", "strain900")
    assert all(f.n_atoms == 21 and f.stress_eV_A3 is not None for f in ds)
    assert DATA.stat().st_size < 1_000_000
    s = split_dataset(ds, (3, 1, 1), by="trajectory", seed=0)
    assert (len(s.train), len(s.validation), len(s.test)) == (30, 10, 10)
    # plausible labels: SevenNet-0 (uncorrected PBE) energies near −4 eV/atom, |σ| < 30 GPa
    e = np.array([f.energy_eV_atom for f in ds])
    assert np.all((-5 < e) & (e < -3))
    assert max(np.abs(f.stress_eV_A3).max() for f in ds) < 30 / 160.2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script inside sevenn
@pytest.mark.skipif(
    importlib.util.find_spec("sevenn") is None,
    reason="sevenn is not installed (pip install 'solidion[sevennet]'); the labels cannot be re-made",
)
def test_labels_are_sevennet0():
    import torch
    from sevenn.calculator import SevenNetCalculator

    torch.set_num_threads(1)
    ds = read_labelled(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = SevenNetCalculator(model="7net-0", device="cpu")
    for k in (0, 47):
        atoms = ds[k].atoms.copy()
        atoms.calc = calc
        assert atoms.get_potential_energy() == pytest.approx(ds[k].energy_eV, abs=1e-3)
        np.testing.assert_allclose(atoms.get_forces(), ds[k].forces_eV_A, atol=2e-4)
        np.testing.assert_allclose(atoms.get_stress(), ds[k].stress_eV_A3, atol=2e-6)

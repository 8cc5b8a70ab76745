"""Error metrics against a naive loop, the softening ratio, and the parity plot."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones

from solidion.errors import InputError
from solidion.potentials.finetune import (
    LabelledDataset,
    LabelledStructure,
    compare,
    evaluate,
    parity_plot,
    predict,
    softening_ratio,
)

GPA = 1 / 160.21766208


def argon_lj(epsilon: float = 0.0104, sigma: float = 3.4) -> LennardJones:
    return LennardJones(epsilon=epsilon, sigma=sigma, rc=8.0, smooth=True)


def labelled_argon(n: int = 6, calc=None, seed: int = 0) -> LabelledDataset:
    """Rattled, strained fcc argon labelled by Lennard-Jones (the reference)."""
    calc = calc or argon_lj()
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
        atoms.set_cell(atoms.cell * (1 + rng.uniform(-0.02, 0.02)), scale_atoms=True)
        atoms.rattle(0.15, seed=int(rng.integers(1 << 30)))
        atoms.calc = calc
        frames.append(
            LabelledStructure(
                atoms=atoms.copy(),
                energy_eV=float(atoms.get_potential_energy()),
                forces_eV_A=atoms.get_forces().copy(),
                stress_eV_A3=atoms.get_stress().copy(),
                group=f"g{k % 2}",
            )
        )
    return LabelledDataset(tuple(frames))


class Scaled(Calculator):
    """Another calculator's energy (and so forces and stress) times a factor: a softer surface."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, inner: Calculator, factor: float) -> None:
        super().__init__()
        self.inner, self.factor = inner, factor

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(self.atoms, ["energy", "forces", "stress"], system_changes)
        self.results = {
            k: self.factor * np.asarray(self.inner.results[k]) for k in self.implemented_properties
        }


def test_softening_ratio_is_one_for_the_reference_itself():
    data = labelled_argon()
    metrics, _ = evaluate(argon_lj(), data)
    assert metrics.softening_ratio == pytest.approx(1.0, abs=1e-12)
    assert metrics.force_mae_meV_A == pytest.approx(0.0, abs=1e-9)
    assert metrics.energy_mae_meV_atom == pytest.approx(0.0, abs=1e-9)
    assert metrics.stress_mae_GPa == pytest.approx(0.0, abs=1e-12)
    assert metrics.n_structures == 6 and metrics.n_atoms == 6 * 32


def test_softening_ratio_below_one_for_a_softened_potential():
    data = labelled_argon()
    # uniformly softened: every force is 0.7 of the reference
    metrics, _ = evaluate(Scaled(argon_lj(), 0.7), data)
    assert metrics.softening_ratio == pytest.approx(0.7, abs=1e-9)
    # softened in shape: a shallower well (ε 20 % lower, σ 1 % longer) gives smaller curvature
    shallow, _ = evaluate(argon_lj(epsilon=0.0104 * 0.8, sigma=3.4 * 1.01), data)
    assert 0.85 < shallow.softening_ratio < 0.97  # 0.925 here
    assert shallow.softening_ratio_stderr < 0.1
    # a stiffer one is above 1
    stiff, _ = evaluate(argon_lj(epsilon=0.0104 * 1.3), data)
    assert stiff.softening_ratio > 1.1


def test_metrics_equal_a_naive_loop():
    data = labelled_argon()
    model = argon_lj(epsilon=0.0095, sigma=3.45)
    metrics, pred = evaluate(model, data)
    de, df, ds = [], [], []
    for f in data:
        a = f.atoms.copy()
        a.calc = model
        de.append(a.get_potential_energy() / len(a) - f.energy_eV / len(a))
        df.extend((a.get_forces() - f.forces_eV_A).ravel())
        ds.extend((a.get_stress() - f.stress_eV_A3) / GPA)
    de, df, ds = map(np.array, (de, df, ds))
    assert metrics.energy_mae_meV_atom == pytest.approx(1000 * np.abs(de).mean(), rel=1e-10)
    assert metrics.energy_rmse_meV_atom == pytest.approx(1000 * np.sqrt((de**2).mean()), rel=1e-10)
    assert metrics.force_mae_meV_A == pytest.approx(1000 * np.abs(df).mean(), rel=1e-10)
    assert metrics.force_rmse_meV_A == pytest.approx(1000 * np.sqrt((df**2).mean()), rel=1e-10)
    assert metrics.stress_mae_GPa == pytest.approx(np.abs(ds).mean(), rel=1e-10)
    f_ref = np.concatenate([f.forces_eV_A for f in data]).ravel()
    slope = (f_ref * pred.forces_pred_eV_A.ravel()).sum() / (f_ref**2).sum()
    assert metrics.softening_ratio == pytest.approx(slope, rel=1e-12)
    assert compare(pred) == metrics
    d = metrics.to_dict()
    assert d["softening_ratio"]["value"] == metrics.softening_ratio


def test_softening_ratio_bootstrap_and_errors():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(40, 3))
    groups = np.repeat(np.arange(8), 5)
    noisy = 0.8 * f + rng.normal(0, 0.3, f.shape)
    s, err = softening_ratio(f, noisy, groups, rng=0)
    assert s == pytest.approx(0.8, abs=3 * err) and 0 < err < 0.2
    assert softening_ratio(f, noisy, groups, rng=0) == (s, err)  # seeded
    with pytest.raises(InputError, match="shape"):
        softening_ratio(f, f[:3])
    with pytest.raises(InputError, match="all zero"):
        softening_ratio(np.zeros((3, 3)), f[:3])


def test_predict_without_stress_and_bad_potential(tmp_path):
    from ase.calculators.emt import EMT

    frames = []
    for k in range(2):
        a = bulk("Cu", cubic=True).repeat(2)
        a.rattle(0.05, seed=k)
        a.calc = EMT()
        frames.append(
            LabelledStructure(a.copy(), a.get_potential_energy(), a.get_forces(), None, "g")
        )
    pred = predict("ase.calculators.emt:EMT", frames)
    assert pred.stress_ref_GPa.shape == (0, 6)
    assert compare(pred).stress_mae_GPa is None
    with pytest.raises(InputError, match="potential"):
        predict(42, frames)
    with pytest.raises(InputError, match="no structures"):
        predict(EMT(), [])


def test_parity_plot_writes_a_png(tmp_path):
    data = labelled_argon(3)
    _, before = evaluate(Scaled(argon_lj(), 0.8), data)
    _, after = evaluate(argon_lj(), data)
    out = parity_plot(tmp_path / "parity.png", [("soft", before), ("ref", after)], title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    with pytest.raises(InputError):
        parity_plot(tmp_path / "none.png", [])

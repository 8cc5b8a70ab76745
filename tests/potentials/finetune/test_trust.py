"""Descriptors and the training-domain check: analytic values, invariances, calibration, storage."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from solidion.errors import InputError
from solidion.potentials.finetune import RadialDescriptor, TrustReference, trust_block
from solidion.potentials.finetune.descriptors import frame_descriptors
from solidion.potentials.finetune.trust import frames_of_trajectory


def rattled(n: int, scale: float = 1.0, sigma: float = 0.05, seed0: int = 0) -> list[Atoms]:
    base = bulk("NaCl", "rocksalt", a=5.64 * scale, cubic=True)
    out = []
    for k in range(n):
        a = base.copy()
        a.rattle(sigma, seed=seed0 + k)
        out.append(a)
    return out


def test_descriptor_counts_a_shell_of_neighbours():
    # fcc Cu: 12 neighbours at a/√2; a narrow channel centred there counts them
    a = 3.6
    atoms = bulk("Cu", "fcc", a=a, cubic=True)
    d = RadialDescriptor(("Cu",), cutoff_A=3.0, n_radial=21, r_min_A=1.0)
    x, unknown = d.environments(atoms)
    r1 = a / np.sqrt(2)
    fc = 0.5 * (np.cos(np.pi * r1 / 3.0) + 1)
    mu, w = d.centers_A, d.width_A
    expected = (
        12
        * np.exp(-((r1 - mu) ** 2) / (2 * w * w))
        * fc
        / (4 * np.pi * mu**2 * w * np.sqrt(2 * np.pi))
    )
    np.testing.assert_allclose(x, np.tile(expected, (len(atoms), 1)), rtol=1e-12)
    assert not unknown.any()


def test_descriptor_invariances():
    atoms = rattled(1)[0]
    d = RadialDescriptor(("Na", "Cl"))
    x, _ = d.environments(atoms)
    moved = atoms.copy()
    moved.translate([0.7, -1.3, 2.2])
    moved.wrap()
    np.testing.assert_allclose(d.environments(moved)[0], x, atol=1e-12)
    perm = np.random.default_rng(0).permutation(len(atoms))
    np.testing.assert_allclose(d.environments(atoms[perm])[0], x[perm], atol=1e-12)
    rot = atoms.copy()
    rot.rotate(37, "z", rotate_cell=True)
    np.testing.assert_allclose(d.environments(rot)[0], x, atol=1e-10)


def test_unknown_species_are_flagged():
    atoms = rattled(1)[0].repeat(2)
    atoms.symbols[0] = "K"
    _, unknown = RadialDescriptor(("Na", "Cl")).environments(atoms)
    assert unknown[0]
    # its neighbours within the cutoff see an unknown species too
    assert unknown.sum() > 1 and not unknown.all()
    with pytest.raises(InputError, match="unknown element"):
        RadialDescriptor(("Na", "Qq"))
    with pytest.raises(InputError, match="r_min_A"):
        RadialDescriptor(("Na",), cutoff_A=1.0, r_min_A=2.0)


def test_in_domain_frames_pass_and_compressed_or_foreign_ones_fail():
    train, val, test = rattled(8), rattled(4, seed0=100), rattled(3, seed0=200)
    ref = TrustReference.build(train, val)
    ok = ref.check(test)
    assert ok.fraction_out_of_domain <= 0.05 and not ok.out_of_domain
    assert ok.relative_distance_median < 1
    squeezed = rattled(2, scale=0.92, seed0=300)
    bad = ref.check(squeezed, temperature_K=600)
    assert bad.out_of_domain and bad.fraction_out_of_domain > 0.9
    assert bad.relative_distance_median > 1
    hot = rattled(2, sigma=0.35, seed0=400)  # large thermal disorder
    assert ref.check(hot).fraction_out_of_domain > ok.fraction_out_of_domain
    foreign = rattled(1, seed0=500)[0]
    foreign.symbols[:4] = "K"
    rep = ref.check([foreign])
    assert rep.unknown_species == ("K",) and rep.n_unknown_environments >= 4
    assert rep.fraction_out_by_species["K"] == 1.0
    assert "species absent from it: K" in rep.message()
    d = rep.to_dict()
    assert d["unknown_species"] == ["K"] and d["out_of_domain"] is True


def test_threshold_is_the_held_out_quantile():
    train, val = rattled(6), rattled(5, seed0=50)
    ref = TrustReference.build(train, val, quantile=0.9)
    # the fraction of held-out environments beyond the threshold is 1 - quantile (per species)
    rel = np.concatenate([ref.relative_distances(a) for a in val])
    assert np.mean(rel > 1) == pytest.approx(0.1, abs=0.03)
    kfold = TrustReference.build(train)  # no held-out frames: k-fold over the training frames
    assert "fold" in kfold.calibration and all(t > 0 for t in kfold.thresholds.values())


def test_calibration_errors():
    with pytest.raises(InputError, match="no training frames"):
        TrustReference.build([])
    with pytest.raises(InputError, match="one reference frame"):
        TrustReference.build(rattled(1))
    frames = rattled(3)
    with pytest.raises(InputError, match="coincide"):
        TrustReference.build(frames, [f.copy() for f in frames])
    with pytest.raises(InputError, match="quantile"):
        TrustReference.build(frames, quantile=1.5)


def test_state_round_trip_and_validation():
    import torch

    ref = TrustReference.build(rattled(5), rattled(2, seed0=9), max_environments=20, rng=1)
    assert all(len(e) <= 20 for e in ref.environments.values())
    state = ref.to_state()
    back = TrustReference.from_state(state)
    assert back.thresholds == ref.thresholds and back.descriptor == ref.descriptor
    frames = rattled(2, seed0=77)
    np.testing.assert_allclose(
        back.relative_distances(frames[0]), ref.relative_distances(frames[0]), rtol=1e-6
    )
    broken = dict(state, environments={"Na": torch.zeros(3, 5), "Cl": state["environments"]["Cl"]})
    with pytest.raises(InputError, match=r"environments\['Na'\]"):
        TrustReference.from_state(broken)
    with pytest.raises(InputError, match="not a solidion trust reference"):
        TrustReference.from_state({"format": "other"})
    with pytest.raises(InputError, match="malformed"):
        TrustReference.from_state({k: v for k, v in state.items() if k != "thresholds"})


def test_frame_descriptors_separate_frames():
    frames = rattled(3) + rattled(1, scale=0.9)
    x = frame_descriptors(frames)
    assert x.shape[0] == 4
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    assert d[3, :3].min() > 3 * d[:3, :3].max()


def test_trust_block_without_a_reference_says_why(tmp_path):
    for spec in ("chgnet", "CHGNet"):
        block = trust_block(spec, [])
        assert block["available"] is False
        assert "no training-domain reference" in block["reason"]
    from ase.calculators.emt import EMT

    assert "EMT object" in trust_block(EMT(), [])["reason"]


def test_frames_of_trajectory_reads_h5md_and_extxyz(tmp_path):
    from ase.io import write

    from solidion import Trajectory

    frames = rattled(7)
    pos = np.array([f.positions for f in frames])
    traj = Trajectory.from_arrays(
        list(frames[0].get_chemical_symbols()), pos, frames[0].cell.array, 10.0, 600.0
    )
    traj.write(tmp_path / "run.h5")
    got, info = frames_of_trajectory(tmp_path / "run.h5", max_frames=3)
    assert info["frame_indices"] == [0, 3, 6] and info["temperature_K"] == 600.0
    np.testing.assert_allclose(
        got[1].get_scaled_positions() % 1.0, frames[3].get_scaled_positions() % 1.0, atol=1e-9
    )
    write(tmp_path / "run.extxyz", frames)
    got, info = frames_of_trajectory(tmp_path / "run.extxyz")
    assert len(got) == 7 and info["temperature_K"] is None
    (tmp_path / "bad.extxyz").write_text("3\nnonsense\nNa 0 0\n")
    with pytest.raises(InputError, match="bad.extxyz"):
        frames_of_trajectory(tmp_path / "bad.extxyz")
    with pytest.raises(InputError, match="no such file"):
        frames_of_trajectory(tmp_path / "absent.h5")

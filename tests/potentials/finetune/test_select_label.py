"""Frame selection (farthest-point sampling, committee) and the labelling helper."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import read, write

from solidion.errors import InputError
from solidion.potentials.finetune import (
    RadialDescriptor,
    farthest_point_sampling,
    frame_descriptors,
    label_frames,
    read_labelled,
    select_by_committee,
    select_frames,
    write_frames,
)
from solidion.potentials.finetune.label import calculator_from_spec, partial_path


def md_like_run(n: int = 30, seed: int = 0):
    """Cu frames drifting slowly in disorder, each followed by a near-copy (1e-4 Å away)."""
    rng = np.random.default_rng(seed)
    base = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    frames = []
    for k in range(n):
        a = base.copy()
        a.positions += rng.normal(0, 0.01 + 0.01 * k, a.positions.shape)
        b = a.copy()
        b.positions += rng.normal(0, 1e-4, b.positions.shape)
        frames += [a, b]
    return frames


def test_fps_picks_no_near_duplicates_and_is_reproducible():
    run = md_like_run()
    x = frame_descriptors(run, RadialDescriptor(("Cu",)))
    for seed in (0, 1):
        chosen = farthest_point_sampling(x, 12, rng=seed)
        assert len(set(chosen.tolist())) == 12
        assert len({i // 2 for i in chosen}) == 12  # never a frame and its near-copy
        d = np.linalg.norm(x[chosen][:, None] - x[chosen][None], axis=2)
        pair = np.linalg.norm(x[0::2] - x[1::2], axis=1).max()  # copy-to-frame distance
        assert d[np.triu_indices(12, 1)].min() > 10 * pair
        np.testing.assert_array_equal(farthest_point_sampling(x, 12, rng=seed), chosen)
    assert set(farthest_point_sampling(x, 12, rng=0)) != set(farthest_point_sampling(x, 12, rng=5))


def test_fps_spreads_further_than_random_picks():
    x = frame_descriptors(md_like_run(), RadialDescriptor(("Cu",)))
    chosen = farthest_point_sampling(x, 8, rng=0)

    def min_gap(idx):
        d = np.linalg.norm(x[idx][:, None] - x[idx][None], axis=2)
        return d[np.triu_indices(len(idx), 1)].min()

    rng = np.random.default_rng(0)
    random_gaps = [min_gap(rng.choice(len(x), 8, replace=False)) for _ in range(50)]
    assert min_gap(chosen) > max(random_gaps)


def test_fps_refuses_exact_duplicates():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    with pytest.warns(UserWarning, match="only 2 of the 4"):
        chosen = farthest_point_sampling(x, 4, rng=0)
    assert sorted(x[chosen, 0].tolist()) == [0.0, 1.0]
    with pytest.raises(InputError):
        farthest_point_sampling(np.zeros((0, 2)), 2)
    with pytest.raises(InputError):
        farthest_point_sampling(x, 0)


def test_select_frames_from_files_and_write(tmp_path):
    run = md_like_run(10)
    write(tmp_path / "a.extxyz", run[:10])
    write(tmp_path / "b.extxyz", run[10:])
    picked = select_frames([tmp_path / "a.extxyz", tmp_path / "b.extxyz"], 5, rng=3)
    again = select_frames([tmp_path / "a.extxyz", tmp_path / "b.extxyz"], 5, rng=3)
    assert [(p.info["source"], p.info["frame"]) for p in picked] == [
        (p.info["source"], p.info["frame"]) for p in again
    ]
    assert {p.info["trajectory"] for p in picked} <= {
        str(tmp_path / "a.extxyz"),
        str(tmp_path / "b.extxyz"),
    }
    out = write_frames(picked, tmp_path / "frames.extxyz")
    back = read(out, index=":")
    assert len(back) == 5 and back[0].info["frame"] == picked[0].info["frame"]
    np.testing.assert_allclose(back[2].positions, picked[2].positions, atol=1e-6)


def test_committee_selection_prefers_disputed_frames():
    run = md_like_run(12)[0::2]
    committee = [
        LennardJones(sigma=2.3, epsilon=0.4, rc=5.0),
        LennardJones(sigma=2.28, epsilon=0.4, rc=5.0),
    ]
    picked = select_by_committee([run], committee, 3, min_distance=0.0)
    spreads = [p.info["committee_force_spread_eV_A"] for p in picked]
    assert spreads == sorted(spreads, reverse=True)
    # the most disordered frames are the most disputed here
    assert all(p.info["frame"] >= 6 for p in picked)
    with pytest.raises(InputError, match="at least two"):
        select_by_committee([run], committee[:1], 2)


class Failing(Calculator):
    """EMT, except on the third structure it is asked about (a failed DFT run)."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self):
        super().__init__()
        self.inner, self.calls, self.fail_at = EMT(), 0, 2

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.calls == self.fail_at:
            self.calls += 1
            raise RuntimeError("SCF did not converge")
        self.calls += 1
        self.inner.calculate(self.atoms, ["energy", "forces", "stress"], system_changes)
        self.results = dict(self.inner.results)


def test_label_frames_with_emt_writes_a_readable_dataset(tmp_path):
    frames = md_like_run(4)[0::2]
    for k, a in enumerate(frames):
        a.info = {"trajectory": "md0", "frame": k}
    write(tmp_path / "in.extxyz", frames)
    ds = label_frames(tmp_path / "in.extxyz", "ase.calculators.emt:EMT", tmp_path / "out.extxyz")
    assert len(ds) == 4 and ds.groups == ("md0",)
    again = read_labelled(tmp_path / "out.extxyz")
    ref = frames[1].copy()
    ref.calc = EMT()
    assert again[1].energy_eV == pytest.approx(ref.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(again[1].forces_eV_A, ref.get_forces(), atol=1e-6)
    np.testing.assert_allclose(again[1].stress_eV_A3, ref.get_stress(), atol=1e-7)
    assert not partial_path(tmp_path / "out.extxyz").exists()


def test_label_frames_resumes_after_a_failure(tmp_path):
    frames = md_like_run(4)[0::2]
    out = tmp_path / "labelled.extxyz"
    calc = Failing()
    with pytest.raises(InputError, match=r"frame 2: the reference calculation failed") as err:
        label_frames(frames, calc, out)
    assert "2 labelled frame(s) are kept" in str(err.value)
    assert not out.exists()  # nothing under the final name
    assert len(read(partial_path(out), index=":")) == 2
    # a crash while writing frame 2 left half a frame: the two complete ones are kept
    text = partial_path(out).read_text()
    partial_path(out).write_text(text + text.splitlines(keepends=True)[0] + "Cu 0.0 0.0\n")
    ds = label_frames(frames, calc, out)  # continues at frame 2 (the calculator now works)
    assert len(ds) == 4 and calc.calls == 5
    assert not partial_path(out).exists()
    # a partial file from other structures is refused
    write(partial_path(tmp_path / "other.extxyz"), md_like_run(3, seed=9)[0])
    with pytest.raises(InputError, match="delete it to start over"):
        label_frames(frames, EMT(), tmp_path / "other.extxyz")


def test_calculator_specs_and_input_errors(tmp_path):
    assert (
        type(calculator_from_spec("ase.calculators.lj:LennardJones", {"sigma": 2.0})).__name__
        == "LennardJones"
    )
    with pytest.raises(InputError, match="cannot import"):
        calculator_from_spec("no_such_module_xyz:Calc")
    with pytest.raises(InputError, match="has no Nope"):
        calculator_from_spec("ase.calculators.emt:Nope")
    with pytest.raises(InputError, match="cannot be built"):
        calculator_from_spec("fractions:Fraction", {"bogus": 1})
    with pytest.raises(InputError, match="not an ASE calculator"):
        calculator_from_spec("collections:OrderedDict")
    with pytest.raises(InputError, match="no such file"):
        label_frames(tmp_path / "absent.extxyz", EMT(), tmp_path / "x.extxyz")
    with pytest.raises(InputError, match="does not exist"):
        label_frames(md_like_run(1), EMT(), tmp_path / "nodir" / "x.extxyz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert calculator_from_spec(EMT()).__class__.__name__ == "EMT"

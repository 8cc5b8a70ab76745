"""Einstein transference numbers outside [0, 1]: withheld when it is noise, kept when resolved."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from solidion import Trajectory
from solidion.transport import analyze
from tests.transport.conftest import DT_FS, STEP_A


def _free_li_static_cl(seed: int, n: int = 30, n_frames: int = 1500, box: float = 30.0):
    """Li⁺ random walkers among Cl⁻ that only vibrate: t_E(Li) = 1 and t_E(Cl) = 0 exactly,
    so about half of all runs land just outside [0, 1] by noise."""
    rng = np.random.default_rng(seed)
    li = rng.normal(0, STEP_A, (n_frames, n, 3)).cumsum(axis=0) + rng.uniform(0, box, (1, n, 3))
    cl = rng.uniform(0, box, (1, n, 3)) + rng.normal(0, 0.05, (n_frames, n, 3))
    return Trajectory.from_arrays(
        ["Li"] * n + ["Cl"] * n, np.concatenate([li, cl], axis=1), np.eye(3) * box, DT_FS, 600.0
    )


def _anion_rich_triplets(seed: int, n: int = 40, n_frames: int = 3000, box: float = 30.0):
    """NaCl₂⁻ units that walk rigidly beside free Li⁺ walkers with the same D.

    Σ_j z_j L_ij in units of N·D: Li 1; Na 1 − 2 = −1; Cl −(−4 + 2) = 2; σ ∝ 2, so
    t_E = (Li 0.5, Na −0.5, Cl 1.0): the Na⁺ current runs against the field.
    """
    rng = np.random.default_rng(seed)
    li = rng.normal(0, STEP_A, (n_frames, n, 3)).cumsum(axis=0) + rng.uniform(0, box, (1, n, 3))
    centre = rng.normal(0, STEP_A, (n_frames, n, 3)).cumsum(axis=0)
    centre += rng.uniform(0, box, (1, n, 3))
    off = rng.normal(size=(n, 3))
    off *= 2.3 / np.linalg.norm(off, axis=1)[:, None]
    na = centre + rng.normal(0, 0.05, centre.shape)
    cl = np.concatenate([centre + off, centre - off], axis=1) + rng.normal(
        0, 0.05, (n_frames, 2 * n, 3)
    )
    return Trajectory.from_arrays(
        ["Li"] * n + ["Na"] * n + ["Cl"] * (2 * n),
        np.concatenate([li, na, cl], axis=1),
        np.eye(3) * box,
        DT_FS,
        600.0,
    )


def test_noise_outside_unit_range_is_withheld_with_its_interval():
    outside = 0
    for seed in range(8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyze(_free_li_static_cl(seed), mobile="Li", frame="lab", cluster_cutoffs={})
        t = res.transference["einstein"]
        if "t_E" in res.withheld:
            outside += 1
            reason = res.withheld["t_E"]
            assert "outside [0, 1] by less than 2σ" in reason and "interval" in reason, reason
            # t_Li + t_Cl = 1 exactly: when one is below 0 the other is above 1
            assert all(np.isnan(e.value) for e in t.values())
            assert not any(k.startswith("transference.einstein") for k in res.intervals)
            assert res.to_dict()["transference"]["einstein"]["Li"]["value"] is None
        else:
            for e in t.values():
                assert 0.0 <= e.value <= 1.0
    # t_E(Cl) = 0 exactly: roughly half of the runs fall below it; these seeds give some
    assert 1 <= outside <= 7


def test_a_resolved_negative_transference_number_is_kept_with_a_note():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(
            _anion_rich_triplets(3), mobile="Li", frame="lab", cluster_cutoffs={}, charges={"Na": 1}
        )
    t = res.transference["einstein"]
    assert "t_E" not in res.withheld
    assert t["Na"].value == pytest.approx(-0.5, abs=3 * t["Na"].stderr + 0.02)
    _, hi = res.intervals["transference.einstein.Na"]
    assert hi < 0.0 and t["Na"].value + 2 * t["Na"].stderr < 0.0
    assert t["Li"].value + t["Na"].value + t["Cl"].value == pytest.approx(1.0)
    assert any("t_E(Na)" in w and "resolved" in w for w in res.warnings)


def test_only_the_noisy_species_is_withheld():
    """A frozen framework species has t_E = 0 exactly; the mobile ion's t_E stands."""
    rng = np.random.default_rng(5)
    n, n_frames, box = 30, 1500, 30.0
    li = rng.normal(0, STEP_A, (n_frames, n, 3)).cumsum(axis=0) + rng.uniform(0, box, (1, n, 3))
    cl = rng.normal(0, STEP_A, (n_frames, n, 3)).cumsum(axis=0) + rng.uniform(0, box, (1, n, 3))
    o = rng.uniform(0, box, (1, n, 3)) + rng.normal(0, 0.05, (n_frames, n, 3))
    al = rng.uniform(0, box, (1, n, 3)) + rng.normal(0, 0.05, (n_frames, n, 3))
    traj = Trajectory.from_arrays(
        ["Li"] * n + ["Cl"] * n + ["O"] * n + ["Al"] * n,
        np.concatenate([li, cl, o, al], axis=1),
        np.eye(3) * box,
        DT_FS,
        600.0,
    )
    charges = {"Li": 1, "Cl": -1, "O": -2, "Al": 2}
    seen = 0
    for cut in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyze(
                traj[cut * 100 :], mobile="Li", frame="lab", cluster_cutoffs={}, charges=charges
            )
        t = res.transference["einstein"]
        assert 0.0 <= t["Li"].value <= 1.0 and 0.0 <= t["Cl"].value <= 1.0
        for s in ("O", "Al"):
            if np.isnan(t[s].value):
                seen += 1
                assert f"t_E({s})" in res.withheld["t_E"]
            else:
                assert 0.0 <= t[s].value <= 1.0
    assert seen >= 1

"""analyze(): analytic truths, frames, several runs, chunked files, JSON, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from solidion import AnalysisError, InputError, Trajectory
from solidion.transport import Estimate, analyze
from tests.transport.conftest import (
    D_TRUE_CM2_S,
    correlated_cation_pairs,
    rigid_pairs,
    walkers,
)


def _within(est: Estimate, truth: float, k: float = 3.0) -> bool:
    return abs(est.value - truth) <= k * est.stderr


def test_gaussian_walkers_recover_d_and_haven_one():
    res = analyze(
        walkers(7, n_frames=2000, n_each=40), mobile="Li", frame="lab", cluster_cutoffs={}
    )
    for s in ("Li", "Cl"):
        assert _within(res.tracer_diffusivity[s], D_TRUE_CM2_S)
        assert res.tracer_diffusivity[s].relative_error < 0.1
    assert _within(res.charge_diffusivity, D_TRUE_CM2_S)
    assert _within(res.haven_ratio, 1.0)
    c = res.conductivity
    assert _within(c.einstein, c.nernst_einstein.value)
    # with no clusters, cNE is NE (same free ions)
    assert c.cluster_nernst_einstein.value == pytest.approx(c.nernst_einstein.value, rel=0.05)
    assert res.warnings == ()
    # transference: equal D, equal counts, |z| equal → 0.5 each; sums to one exactly
    for kind in ("einstein", "nernst_einstein"):
        t = res.transference[kind]
        assert t["Li"].value + t["Cl"].value == pytest.approx(1.0)
        assert _within(t["Li"], 0.5)


def test_rigid_neutral_pairs_carry_no_current():
    res = analyze(rigid_pairs(1), mobile="Li", frame="lab")
    c = res.conductivity
    assert c.nernst_einstein.value > 0.1
    assert abs(c.einstein.value) < 0.05 * c.nernst_einstein.value
    assert abs(c.einstein.value) < 3 * c.einstein.stderr
    assert abs(c.cluster_nernst_einstein.value) < 0.05 * c.nernst_einstein.value
    assert 2.2 < res.cluster_cutoffs_A["Li-Cl"] < 4.0  # first minimum after the 2.2 Å peak
    assert res.cluster_types["Li1Cl1"]["mean_count"] > 20
    # Onsager entries add up to σ_E, and the Li–Cl cross term cancels the self terms
    total = sum(e.total.value for e in res.onsager.values())
    assert total == pytest.approx(c.einstein.value, abs=1e-12)
    assert res.onsager["Li-Cl"].total.value < 0


def test_correlated_cation_pairs_give_haven_one_half():
    res = analyze(correlated_cation_pairs(2), mobile="Li", frame="lab", cluster_cutoffs={})
    assert _within(res.haven_ratio, 0.5)
    assert res.haven_ratio.stderr < 0.1
    assert any("Cl: no diffusive regime" in w for w in res.warnings)  # Cl only vibrate


def test_sigma_e_is_the_same_in_every_frame():
    traj = correlated_cation_pairs(3)
    sig = {
        f: analyze(traj, mobile="Li", frame=f, cluster_cutoffs={})
        for f in ("lab", "barycentric", "framework")
    }
    ref = sig["lab"].conductivity.einstein.value
    for f, r in sig.items():
        assert r.frame == f
        assert r.conductivity.einstein.value == pytest.approx(ref, rel=1e-9)
    # the Haven ratio is frame dependent: in the barycentric frame the Cl recoil is removed
    assert abs(sig["barycentric"].haven_ratio.value - sig["lab"].haven_ratio.value) > 0.05


def test_framework_frame_removes_a_common_drift():
    traj = walkers(4)
    drift = np.linspace(0, 50, traj.n_frames)[:, None, None] * np.array([1.0, 0, 0])
    moved = Trajectory.from_arrays(
        traj.symbols, traj.positions + drift, traj.cell, traj.timestep_fs, 600.0
    )
    a = analyze(traj, mobile="Li", cluster_cutoffs={})
    b = analyze(moved, mobile="Li", cluster_cutoffs={})
    assert b.tracer_diffusivity["Li"].value == pytest.approx(
        a.tracer_diffusivity["Li"].value, rel=1e-8
    )
    lab = analyze(moved, mobile="Li", frame="lab", cluster_cutoffs={})
    assert lab.tracer_diffusivity["Li"].value > 2 * a.tracer_diffusivity["Li"].value


def test_several_runs_combine_into_one_estimate():
    runs = [walkers(s) for s in (10, 11, 12)]
    one = analyze(runs[0], mobile="Li", frame="lab", cluster_cutoffs={})
    all3 = analyze(runs, mobile="Li", frame="lab", cluster_cutoffs={})
    assert all3.n_blocks == 3 * one.n_blocks
    assert all3.tracer_diffusivity["Li"].stderr < one.tracer_diffusivity["Li"].stderr
    assert _within(all3.tracer_diffusivity["Li"], D_TRUE_CM2_S)
    assert all3.duration_ps == pytest.approx(3 * one.duration_ps)


def test_h5md_in_chunks_equals_in_memory(tmp_path):
    traj = walkers(5, n_frames=800)
    traj.write(tmp_path / "w.h5md")
    mem = analyze(traj, mobile="Li", cluster_cutoffs={})
    chunked = analyze(tmp_path / "w.h5md", mobile="Li", cluster_cutoffs={}, max_memory_mb=0.5)
    for s in ("Li", "Cl"):
        assert chunked.tracer_diffusivity[s].value == pytest.approx(
            mem.tracer_diffusivity[s].value, rel=1e-10
        )
    assert chunked.haven_ratio.value == pytest.approx(mem.haven_ratio.value, rel=1e-10)
    with pytest.raises(InputError, match="max_memory_mb"):
        analyze(tmp_path / "w.h5md", mobile="Li", max_memory_mb=1e-3)


def test_json_layout_and_round_trip():
    res = analyze(walkers(6), mobile="Li", charges={"Li": 1, "Cl": -1}, cluster_cutoffs={})
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {
        "temperature_K",
        "mobile",
        "frame",
        "species",
        "charge_diffusivity_cm2_s",
        "haven_ratio",
        "conductivity_S_cm",
        "transference",
        "onsager_S_cm",
        "warnings",
    }
    assert set(d["species"]["Li"]) == {"tracer_diffusivity_cm2_s", "fit_window_ps"}
    assert set(d["conductivity_S_cm"]) == {"einstein", "nernst_einstein", "cluster_nernst_einstein"}
    assert set(d["onsager_S_cm"]) == {"Li-Li", "Li-Cl", "Cl-Cl"}
    assert set(d["onsager_S_cm"]["Li-Cl"]) == {"total", "self", "distinct"}
    assert Estimate.from_dict(d["haven_ratio"]) == res.haven_ratio
    ons = sum(v["total"]["value"] for v in d["onsager_S_cm"].values())
    assert ons == pytest.approx(d["conductivity_S_cm"]["einstein"]["value"])


def test_fit_window_override_is_used_and_checked():
    res = analyze(walkers(8), mobile="Li", fit_window_ps=(0.1, 0.8), cluster_cutoffs={})
    assert res.species["Li"].fit_window_ps == pytest.approx((0.1, 0.8))
    with pytest.raises(InputError, match="fit_window_ps"):
        analyze(walkers(8), mobile="Li", fit_window_ps=(0.8, 0.1))
    with pytest.raises(InputError, match="blocks last"):
        analyze(walkers(8), mobile="Li", fit_window_ps=(0.1, 15.0), n_blocks=4)


def test_frozen_species_warns_and_is_not_clamped():
    rng = np.random.default_rng(0)
    traj = walkers(9)
    pos = traj.positions.copy()
    pos[:, 20:] = pos[0, 20:] + rng.normal(0, 0.05, pos[:, 20:].shape)  # Cl only vibrate
    frozen = Trajectory.from_arrays(traj.symbols, pos, traj.cell, traj.timestep_fs, 600.0)
    with pytest.warns(UserWarning, match="Cl: no diffusive regime"):
        res = analyze(frozen, mobile="Li", frame="lab", cluster_cutoffs={})
    d_cl = res.tracer_diffusivity["Cl"]
    assert abs(d_cl.value) < 3 * d_cl.stderr + 1e-9  # consistent with zero, sign not forced


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"mobile": "Na"}, InputError, "'Na' is not present"),
        ({"temperature_K": 0.0}, InputError, "temperature_K must be positive"),
        ({"frame": "moon"}, InputError, "frame must be one of"),
        ({"charges": {"Xe": 1}}, InputError, "not in the system"),
        ({"n_blocks": 1}, InputError, "n_blocks"),
        ({"cluster_cutoffs": {"Li-Na": 3.0}}, InputError, "cluster cutoff key"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = {"mobile": "Li"}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        analyze(walkers(0, n_frames=200), **args)


@pytest.mark.parametrize("n_frames", [1, 2, 3])
def test_too_few_frames(n_frames):
    with pytest.raises(AnalysisError, match="frames"):
        analyze(walkers(0, n_frames=n_frames), mobile="Li")


def test_missing_temperature_and_non_neutral_charges():
    t = walkers(0, n_frames=300)
    no_t = Trajectory.from_arrays(t.symbols, t.positions, t.cell, t.timestep_fs)
    with pytest.raises(InputError, match="temperature"):
        analyze(no_t, mobile="Li")
    with pytest.warns(UserWarning, match="net charge"):
        res = analyze(t, mobile="Li", charges={"Li": 1, "Cl": -2}, cluster_cutoffs={})
    assert any("net charge" in w for w in res.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="different temperatures"):
            other = Trajectory.from_arrays(t.symbols, t.positions, t.cell, t.timestep_fs, 700.0)
            analyze([t, other], mobile="Li")


def test_tracer_fast_path_equals_the_full_analysis():
    from solidion.transport import tracer_diffusivity

    traj = walkers(13)
    full = analyze(traj, mobile="Li", cluster_cutoffs={})
    fast = tracer_diffusivity(traj, "Li")
    assert fast.tracer_diffusivity_cm2_s.value == pytest.approx(
        full.tracer_diffusivity["Li"].value, rel=1e-12
    )
    assert fast.tracer_diffusivity_cm2_s.stderr == pytest.approx(
        full.tracer_diffusivity["Li"].stderr, rel=1e-12
    )
    assert fast.fit_window_ps == full.species["Li"].fit_window_ps


@pytest.mark.parametrize("stated_fs, warned", [(2.0, False), (20.0, True)])
def test_mislabelled_frame_interval_is_reported(stated_fs, warned):
    from tests.transport.test_msd import vibrating_ions

    li = vibrating_ions(400, 2.0, 600.0, 6.94)
    cl = np.random.default_rng(3).uniform(0, 10, size=(1, 40, 3)).repeat(400, axis=0)
    traj = Trajectory.from_arrays(
        ["Li"] * 40 + ["Cl"] * 40, np.concatenate([li, cl], axis=1), np.eye(3) * 10, stated_fs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(traj, mobile="Li", temperature_K=600.0)
    hits = [w for w in res.warnings if "ballistic" in w]
    assert bool(hits) is warned
    if warned:
        assert "frames 2" in hits[0] and "20 fs" in hits[0]

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
    with pytest.warns(UserWarning, match="σ_E not determined"):
        res = analyze(rigid_pairs(1), mobile="Li", frame="lab")
    c = res.conductivity
    assert c.nernst_einstein.value > 0.1
    # the charge MSD does not grow: σ_E is withheld, never reported as a (maybe negative) number
    assert np.isnan(c.einstein.value) and np.isnan(c.einstein.stderr)
    assert (
        "consistent with zero" in res.withheld["sigma_E"]
        or "not positive" in res.withheld["sigma_E"]
    )
    assert np.isnan(res.transference["einstein"]["Li"].value)  # a ratio to an unknown σ_E
    assert "t_E" in res.withheld
    d = res.to_dict()
    assert d["conductivity_S_cm"]["einstein"] == {"value": None, "stderr": None}
    assert "sigma_E" in d["withheld"]
    assert abs(c.cluster_nernst_einstein.value) < 0.05 * c.nernst_einstein.value or np.isnan(
        c.cluster_nernst_einstein.value
    )
    # Onsager entries are reported (cross terms may be negative) and cancel to zero within error
    total = sum(e.total.value for e in res.onsager.values())
    spread = np.sqrt(sum(e.total.stderr**2 for e in res.onsager.values()))
    assert abs(total) < 0.05 * c.nernst_einstein.value + 3 * spread
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
        # the charge MSD is frame invariant; the slope weights follow the mobile ion's MSD,
        # which the frame moves by O(1/N)
        assert r.conductivity.einstein.value == pytest.approx(ref, rel=1e-5)
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
    assert (one.n_runs, all3.n_runs) == (1, 3)
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
        "reference_frame",
        "fit_window_ps",
        "fit_weights",
        "diffusive_onset_ps",
        "species",
        "charge_diffusivity_cm2_s",
        "haven_ratio",
        "conductivity_S_cm",
        "transference",
        "onsager_S_cm",
        "intervals_68",
        "withheld",
        "clusters",
        "warnings",
    }
    assert d["reference_frame"]["name"] == d["frame"] == "framework"
    assert d["reference_frame"]["species"] == ["Cl"]
    assert d["reference_frame"]["mobile_collective_factor_vs_barycentric"] == pytest.approx(
        (1 + 6.94 / 35.45) ** 2, rel=1e-3
    )
    lo, hi = d["intervals_68"]["haven_ratio"]
    assert lo < d["haven_ratio"]["value"] < hi
    assert d["clusters"] == {"definition": "none", "cutoffs_A": {}, "withheld_because": []}
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
    assert res.fit_window_ps == pytest.approx((0.1, 0.8))
    with pytest.raises(InputError, match="fit_window_ps"):
        analyze(walkers(8), mobile="Li", fit_window_ps=(0.8, 0.1))
    with pytest.raises(InputError, match="beyond half the shortest run"):
        analyze(walkers(8), mobile="Li", fit_window_ps=(0.1, 15.0))


def test_frozen_species_warns_and_is_not_clamped():
    rng = np.random.default_rng(0)
    traj = walkers(9)
    pos = traj.positions.copy()
    pos[:, 20:] = pos[0, 20:] + rng.normal(0, 0.05, pos[:, 20:].shape)  # Cl only vibrate
    frozen = Trajectory.from_arrays(traj.symbols, pos, traj.cell, traj.timestep_fs, 600.0)
    with pytest.warns(UserWarning, match="Cl: no diffusive regime"):
        res = analyze(frozen, mobile="Li", frame="lab", cluster_cutoffs={})
    # a slope consistent with zero is withheld with its numbers in the reason, not clamped
    assert np.isnan(res.tracer_diffusivity["Cl"].value)
    assert "D* not determined" in res.withheld["D*(Cl)"]
    assert "vibrate but do not diffuse" in res.withheld["D*(Cl)"]
    assert res.tracer_diffusivity["Li"].value > 0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"mobile": "Na"}, InputError, "'Na' is not present"),
        ({"temperature_K": 0.0}, InputError, "temperature_K must be positive"),
        ({"frame": "moon"}, InputError, "frame must be one of"),
        ({"charges": {"Xe": 1}}, InputError, "not in the system"),
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


def test_one_window_for_every_number():
    """The reported D*/D_σ is the reported H_R, and every quantity shares one fit window."""
    res = analyze(correlated_cation_pairs(5), mobile="Li", frame="lab", cluster_cutoffs={})
    d, d_sigma = res.tracer_diffusivity["Li"], res.charge_diffusivity
    assert res.haven_ratio.value == pytest.approx(d.value / d_sigma.value, rel=1e-12)
    assert {sp.fit_window_ps for sp in res.species.values()} == {res.fit_window_ps}
    lo, hi = res.intervals["haven_ratio"]
    assert lo < res.haven_ratio.value < hi
    assert res.haven_ratio.stderr == pytest.approx((hi - lo) / 2)
    # σ_NE is Σ N z² D* of the reported D*s (same window), so σ_E/σ_NE compares like with like
    from solidion.units import nernst_einstein_prefactor_S_cm

    ne = nernst_einstein_prefactor_S_cm(res.volume_A3, 600.0) * sum(
        res.species[s].count * res.species[s].charge ** 2 * res.tracer_diffusivity[s].value
        for s in ("Li", "Cl")
        if np.isfinite(res.tracer_diffusivity[s].value)
    )
    assert res.conductivity.nernst_einstein.value == pytest.approx(ne, rel=0.02)


def test_window_identity_survives_a_sub_diffusive_run():
    """A caged, sub-linear MSD: no diffusive regime, equal (OLS) weights over the long lags."""
    from tests.transport.synthetic import caged_electrolyte

    traj, _ = caged_electrolyte(3, n_frames=600, p_hop=0.004, vib_A=0.5, tau_frames=30.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = analyze(traj, mobile="Li", framework=["Cl"], cluster_cutoffs={})
    assert res.fit_weights == "OLS" and res.diffusive_onset_ps is None
    assert any("no diffusive regime found" in str(w.message) for w in caught)
    lo, hi = res.fit_window_ps
    assert lo == pytest.approx(0.02 * 60) and hi == pytest.approx(0.02 * 299)
    for name, est in (
        ("D_sigma", res.charge_diffusivity),
        ("sigma_E", res.conductivity.einstein),
        ("H_R", res.haven_ratio),
    ):
        assert np.isnan(est.value) or est.value > 0, name  # never a negative number
    if np.isfinite(res.haven_ratio.value):
        assert res.haven_ratio.value == pytest.approx(
            res.tracer_diffusivity["Li"].value / res.charge_diffusivity.value
        )


def test_negative_collective_slope_is_withheld():
    """Ions that only vibrate: every collective slope is noise about zero; nothing negative."""
    rng = np.random.default_rng(4)
    pos = rng.uniform(0, 15, (1, 40, 3)) + rng.normal(0, 0.1, (800, 40, 3))
    traj = Trajectory.from_arrays(["Li"] * 20 + ["Cl"] * 20, pos, np.eye(3) * 15, 20.0, 600.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(traj, mobile="Li", frame="lab", cluster_cutoffs={})
    numbers = [
        res.conductivity.einstein,
        res.conductivity.nernst_einstein,
        res.charge_diffusivity,
        res.haven_ratio,
        *res.tracer_diffusivity.values(),
    ]
    for est in numbers:
        assert np.isnan(est.value) or est.value > 2 * est.stderr
    assert {"sigma_E", "D_sigma", "H_R"} <= set(res.withheld)
    assert "D*(Li) is not determined" in res.withheld["H_R"]  # nothing diffuses at all


def test_frame_is_reported_beside_the_haven_ratio():
    traj = correlated_cation_pairs(3)
    bary = analyze(traj, mobile="Li", frame="barycentric", cluster_cutoffs={})
    fw = analyze(traj, mobile="Li", cluster_cutoffs={})
    lab = analyze(traj, mobile="Li", frame="lab", cluster_cutoffs={})
    assert (bary.frame, bary.frame_factor) == ("barycentric", 1.0)
    assert fw.frame == "framework" and fw.frame_species == ("Cl",)
    # (1 + M_Li/M_Cl)² for 60 Li and 60 Cl
    assert fw.frame_factor == pytest.approx((1 + 6.94 / 35.45) ** 2, rel=1e-3)
    assert np.isnan(lab.frame_factor)
    assert lab.to_dict()["reference_frame"]["mobile_collective_factor_vs_barycentric"] is None

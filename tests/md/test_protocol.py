"""Stages, ramps and presets."""

from __future__ import annotations

import pytest

from solidion.errors import InputError
from solidion.md import Stage, preset


def test_stage_ramp_steps_and_frames():
    s = Stage("nvt", 1500, 500, 1.0, 2.0, name="quench", frame_interval_fs=20)
    assert s.n_steps == 500
    assert s.save_every == 10
    assert s.temperature_at(0) == pytest.approx(1500 - 1000 / 500)
    assert s.temperature_at(499) == 500.0
    assert s.tdamp == 200.0 and s.pdamp == 2000.0
    assert Stage.from_dict(s.to_dict()) == s
    assert Stage("nve", 300, duration_ps=0.1).T_end_K == 300.0
    assert Stage.relax().is_md is False and Stage.relax().save_every == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ensemble="nvx"), "ensemble"),
        (dict(ensemble="nvt", T_start_K=-5, duration_ps=1), "T_start_K"),
        (dict(ensemble="nvt", T_start_K=300, duration_ps=0), "duration_ps"),
        (dict(ensemble="nvt", T_start_K=300, duration_ps=1, timestep_fs=50), "timestep_fs"),
        (dict(ensemble="nvt", T_start_K=300, duration_ps=1e-5), "shorter than one timestep"),
        (dict(ensemble="nvt", T_start_K=300, duration_ps=1, pressure_GPa=1), "NPT stages"),
        (dict(ensemble="nvt", T_start_K=300, duration_ps=1, thermostat="andersen"), "thermostat"),
        (
            dict(ensemble="nvt", T_start_K=300, duration_ps=1, timestep_fs=2, frame_interval_fs=1),
            "frame_interval_fs",
        ),
    ],
)
def test_bad_stages(kwargs, match):
    with pytest.raises(InputError, match=match):
        Stage(**kwargs)


def test_unknown_stage_field():
    with pytest.raises(InputError, match="unknown stage fields: colour"):
        Stage.from_dict({"ensemble": "nvt", "colour": "red"})


def test_quick_preset_melts_quenches_anneals_then_produces():
    p = preset("quick", temperatures=[600, 800, 700])
    names = [s.name for s in p.melt_quench]
    assert names == ["relax", "warm", "density", "heat", "melt", "quench", "anneal"]
    relax, warm, density, heat, melt, quench, anneal = p.melt_quench
    assert relax.relax_cell and warm.thermostat == heat.thermostat == "langevin"
    # the density is found at the anneal temperature and 0 GPa, then the melt keeps that volume
    assert density.ensemble == "npt" and density.T_start_K == 600 and density.pressure_GPa == 0
    assert density.rescale_to_mean_volume and melt.ensemble == quench.ensemble == "nvt"
    assert heat.T_start_K < heat.T_end_K == melt.T_start_K
    # the quench runs from the melt to the lowest production temperature at the stated rate
    assert quench.T_start_K == 1500 and quench.T_end_K == 600
    assert (quench.T_start_K - quench.T_end_K) / quench.duration_ps == pytest.approx(
        p.quench_rate_K_ps
    )
    assert anneal.ensemble == "npt" and anneal.T_start_K == 600 and anneal.rescale_to_mean_volume
    assert [s[0].T_start_K for s in p.production] == [600, 800, 700]
    assert p.production_for(800)[0].name == "production_800K"
    assert p.converged is False and p.n_atoms == 42
    assert preset("paper").n_atoms == 1300 and preset("paper").converged
    assert preset("standard").md_steps > p.md_steps


@pytest.mark.parametrize(
    "args, match",
    [
        (("fast",), "unknown preset 'fast'"),
        (("quick", []), "at least one"),
        (("quick", [600, 1600]), "below the 1500 K melt"),
        (("quick", [600, 600]), "duplicates"),
    ],
)
def test_bad_presets(args, match):
    with pytest.raises(InputError, match=match):
        preset(*args)
    with pytest.raises(InputError, match="not a production temperature"):
        preset("quick").production_for(650)


def test_preset_round_trips_through_a_dict():
    p = preset("quick", temperatures=[650, 750])
    q = type(p).from_dict(p.to_dict())
    assert q == p
    with pytest.raises(InputError, match="malformed field"):
        type(p).from_dict({"temperatures_K": [600]})
    bad = p.to_dict()
    bad["production"] = bad["production"][:1]
    with pytest.raises(InputError, match="2 temperatures but 1 production"):
        type(p).from_dict(bad)

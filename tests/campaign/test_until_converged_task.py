"""A campaign's [until_converged] table: parsed with clear errors, and an md task that extends
its production until the target is met (in process, on a Lennard-Jones stand-in potential)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase.calculators.lj import LennardJones

from solidion import potentials
from solidion.campaign.config import parse_campaign
from solidion.campaign.tasks import HISTORY_FILE, Job, run_glass, run_md
from solidion.errors import InputError
from solidion.pipeline.converge import Target
from tests.pipeline.test_until_converged import brownian_preset


def test_until_converged_table_is_parsed_and_checked(tmp_path):
    base = {"compositions": ["LiCl"], "temperatures": [600]}
    c = parse_campaign(
        {**base, "until_converged": {"diffusivity_rel_err": 0.1, "budget": "1h30m"}},
        tmp_path / "c.toml",
    )
    assert c.until_converged == Target(diffusivity_rel_err=0.1, budget_s=5400.0)
    assert parse_campaign(base, tmp_path / "c.toml").until_converged is None
    with pytest.raises(InputError, match=r"c.toml: until_converged.budget: .*cannot read 'soon'"):
        parse_campaign({**base, "until_converged": {"budget": "soon"}}, tmp_path / "c.toml")
    with pytest.raises(InputError, match="c.toml: until_converged: diffusivity_rel_err"):
        parse_campaign({**base, "until_converged": {"diffusivity_rel_err": 0}}, tmp_path / "c.toml")
    with pytest.raises(InputError, match="unknown key.*target"):
        parse_campaign({**base, "until_converged": {"target": 0.2}}, tmp_path / "c.toml")
    with pytest.raises(InputError, match="must be a table"):
        parse_campaign({**base, "until_converged": 0.2}, tmp_path / "c.toml")


@pytest.fixture
def lj_potential():
    name = "lj-stand-in"
    potentials.register(
        name, lambda device: LennardJones(epsilon=0.01, sigma=2.0, rc=4.5, smooth=True)
    )
    yield name
    potentials.registry.BACKENDS.pop(name, None)


@pytest.mark.slow
def test_md_task_extends_until_the_target(tmp_path, lj_potential):
    p = brownian_preset()
    common = {
        "formula": "LiCl",
        "composition_dir": str(tmp_path),
        "preset": p,
        "potential": lj_potential,
        "seed": 1,
    }
    glass = run_glass(
        Job(task_id="glass:LiCl", kind="glass", run_dir=str(tmp_path / "glass"), **common)
    )
    target = Target(diffusivity_rel_err=0.25, min_hops_per_ion=3.0)
    job = Job(
        task_id="md:LiCl:T600K:r0",
        kind="md",
        run_dir=str(tmp_path / "T600K"),
        temperature_K=600.0,
        replica=0,
        until_converged=target,
        **common,
    )
    rec = run_md(job, glass)
    hist = rec["convergence_history"]
    assert len(hist) >= 2 and hist[-1]["met"] and not hist[0]["met"]
    assert json.loads((Path(job.run_dir) / HISTORY_FILE).read_text()) == hist
    # run again (a retried task): nothing more to do, the history is not repeated
    again = run_md(job, glass)
    assert again["convergence_history"] == hist

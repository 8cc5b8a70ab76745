"""The task graph: ids, dependencies, directories and seeds, costs, fingerprints, estimates."""

from __future__ import annotations

import pytest

from solidion.campaign import Throughput, build_plan, estimate, load_campaign, parse_campaign
from solidion.campaign.plan import replica_dir, replica_seed
from solidion.pipeline.stages import seed_for
from tests.campaign.conftest import tiny_campaign


def test_ids_dependencies_and_layout(tmp_path):
    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75"], extra="replicas = 2"))
    plan = build_plan(c)
    ids = [t.id for t in plan.tasks]
    assert ids == [
        "glass:LiAlCl2.5O0.75",
        "md:LiAlCl2.5O0.75:T600K:r0",
        "md:LiAlCl2.5O0.75:T600K:r1",
        "md:LiAlCl2.5O0.75:T800K:r0",
        "md:LiAlCl2.5O0.75:T800K:r1",
        "analysis:LiAlCl2.5O0.75",
    ]
    assert plan.counts() == {"glass": 1, "md": 4, "analysis": 1}
    root = c.output / "LiAlCl2.5O0.75"
    glass, r0, r1 = plan.task(ids[0]), plan.task(ids[1]), plan.task(ids[2])
    assert all(plan.task(i).deps == (ids[0],) for i in ids[1:5])
    assert plan.task(ids[5]).deps == tuple(ids[1:5])
    # replica 0 is the layout and seed of `solidion run`; replica 1 lives in r1/ with its own seed
    assert glass.run_dir == root / "glass" and glass.seed == 3
    assert r0.run_dir == root / "T600K" and r0.seed == 3
    assert r1.run_dir == root / "r1" / "T600K" and r1.seed == seed_for(3, "r1") != 3
    assert replica_dir(root, 0) == root and replica_seed(3, 0) == 3


def test_costs_are_atoms_times_steps(tmp_path):
    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75"]))
    plan = build_plan(c)
    # 21 atoms; melt-quench: 150 FIRE steps (the limit) + 30 + 20 MD steps; production: 50 steps
    assert plan.n_atoms == {"LiAlCl2.5O0.75": 21}
    assert [t.atom_steps for t in plan.tasks] == [21 * 200, 21 * 50, 21 * 50, 0]
    assert plan.atom_steps == 21 * 300


def test_estimate_is_a_list_schedule(tmp_path):
    c = parse_campaign(
        {"compositions": ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"], "temperatures": [600, 700]},
        tmp_path / "c.toml",
    )
    plan = build_plan(c)
    # quick preset, 42 atoms: glass 1600 steps (300 FIRE + 1300 MD), each md 900 steps
    # (0.5 ps unstored equilibration + 1.3 ps stored, at 2 fs)
    assert [t.atom_steps for t in plan.tasks[:2]] == [42 * 1600, 42 * 900]
    tp = Throughput(42.0, "one step per second")
    one = estimate(plan, 1, tp)
    assert one.serial_s == one.wall_s == 2 * (1600 + 1800)
    assert one.critical_path_s == 1600 + 900
    assert one.per_kind_s == {"glass": 3200.0, "md": 3600.0, "analysis": 0.0}
    # two workers: both glasses at once, then the four md tasks two by two
    two = estimate(plan, 2, tp)
    assert two.wall_s == 1600 + 2 * 900
    # enough workers: the critical path
    assert estimate(plan, 8, tp).wall_s == one.critical_path_s
    with pytest.raises(ValueError):
        estimate(plan, 0, tp)


def test_fingerprints_follow_the_inputs(tmp_path):
    base = {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600, 700]}
    fp = {t.id: t.fingerprint for t in build_plan(parse_campaign(base, tmp_path / "c.toml")).tasks}
    # another production length: the glass is the same, the md and the analysis are not
    longer = build_plan(parse_campaign({**base, "production_ps": 4.0}, tmp_path / "c.toml"))
    new = {t.id: t.fingerprint for t in longer.tasks}
    assert new["glass:LiAlCl2.5O0.75"] == fp["glass:LiAlCl2.5O0.75"]
    assert new["md:LiAlCl2.5O0.75:T600K:r0"] != fp["md:LiAlCl2.5O0.75:T600K:r0"]
    assert new["analysis:LiAlCl2.5O0.75"] != fp["analysis:LiAlCl2.5O0.75"]
    # another seed changes everything; a lower temperature changes the anneal, hence the glass
    reseeded = build_plan(parse_campaign({**base, "seed": 1}, tmp_path / "c.toml"))
    assert all(t.fingerprint != fp[t.id] for t in reseeded.tasks)
    colder = build_plan(
        parse_campaign({**base, "temperatures": [500, 600, 700]}, tmp_path / "c.toml")
    )
    assert colder.task("glass:LiAlCl2.5O0.75").fingerprint != fp["glass:LiAlCl2.5O0.75"]


def test_a_non_neutral_composition_is_planned_with_a_warning(tmp_path):
    c = parse_campaign(
        {"compositions": ["LiAlCl2.5O0.75", "LiAlCl2.5O0.8"], "temperatures": [600]},
        tmp_path / "c.toml",
    )
    plan = build_plan(c)
    assert plan.counts() == {"glass": 2, "md": 2, "analysis": 2}
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith(
        "LiAlCl2.5O0.8: LiAlCl2.5O0.8 is not"
    )

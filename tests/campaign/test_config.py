"""The campaign file: TOML and YAML, the family, presets and explicit protocols, and every
mistake reported with the file and the key."""

from __future__ import annotations

import json

import pytest

from solidion.campaign import load_campaign, parse_campaign
from solidion.errors import InputError
from solidion.md import preset
from tests.campaign.conftest import tiny_campaign


def test_family_toml(tmp_path):
    path = tmp_path / "amx.toml"
    path.write_text(
        'temperatures = [600, 700, 800, 900]\npreset = "paper"\nproduction_ps = 100000\n'
        "replicas = 2\nseed = 7\n[compositions]\nformulas = ['Li3InCl6']\n"
        "[compositions.family]\nA = ['Li', 'Na', 'K']\n"
    )
    c = load_campaign(path)
    assert c.name == "amx" and c.output == tmp_path / "runs" / "amx"
    assert c.database == tmp_path / "runs" / "amx" / "campaign.sqlite"
    assert [x.formula for x in c.compositions][:4] == [
        "Li3InCl6",
        "LiAlCl2.5O0.75",
        "LiAlBr2.5O0.75",
        "LiAlI2.5O0.75",
    ]
    assert len(c.compositions) == 28 and not c.is_family  # Li3InCl6 is not a member
    k = c.compositions[-1]
    assert (k.formula, k.A, k.M, k.X) == ("KInI2.5O0.75", "K", "In", "I")
    assert c.compositions[0].A is None
    assert c.temperatures_K == (600.0, 700.0, 800.0, 900.0)
    assert c.preset == preset("paper", [600, 700, 800, 900], production_ps=100000)
    assert (c.replicas, c.seed, c.max_attempts, c.threads_per_task) == (2, 7, 3, 1)
    assert c.potential == "chgnet"


def test_yaml_equals_toml(tmp_path):
    toml = tiny_campaign(tmp_path, ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"])
    yaml = tmp_path / "tiny.yaml"
    yaml.write_text(
        "name: tiny\noutput: tiny-out\ntemperatures: [600, 800]\nseed: 3\n"
        "compositions: [LiAlCl2.5O0.75, NaAlCl2.5O0.75]\nprotocol:\n  n_atoms: 21\n"
        "  checkpoint_every: 20\n  melt_quench:\n"
        "    - {ensemble: relax, max_steps: 150, fmax_eV_A: 0.05}\n"
        "    - {ensemble: nvt, T_start_K: 100, T_end_K: 600, duration_ps: 0.03, timestep_fs: 1.0,"
        " name: heat, thermostat: langevin, friction_per_fs: 0.05}\n"
        "    - {ensemble: npt, T_start_K: 600, T_end_K: 600, duration_ps: 0.02, timestep_fs: 1.0,"
        " name: anneal, frame_interval_fs: 5, pdamp_fs: 100, tdamp_fs: 20}\n"
        "  production:\n    - {ensemble: nvt, duration_ps: 0.1, timestep_fs: 2.0,"
        " frame_interval_fs: 4, tdamp_fs: 20}\n"
    )
    a, b = load_campaign(toml), load_campaign(yaml)
    assert a.preset == b.preset and a.compositions == b.compositions and a.output == b.output
    # the production template runs at each temperature, named after it
    stages = a.preset.production_for(800)
    assert [(s.name, s.T_start_K, s.T_end_K, s.n_steps) for s in stages] == [
        ("production_800K", 800.0, 800.0, 50)
    ]
    assert a.preset.n_atoms == 21 and a.preset.checkpoint_every == 20
    assert not a.preset.converged and a.preset_label == "protocol table"


def test_preset_json_file_and_checkpoint_paths(tmp_path):
    p = preset("quick", [500, 650])
    (tmp_path / "mine.json").write_text(json.dumps({**p.to_dict(), "name": "mine"}))
    c = parse_campaign(
        {
            "compositions": ["LiAlCl2.5O0.75"],
            "preset": "mine.json",
            "n_atoms": 84,
            "potential": "models/ft.pth",
        },
        tmp_path / "c.toml",
    )
    assert c.temperatures_K == (500.0, 650.0) and c.preset.n_atoms == 84
    assert c.preset_label == "mine.json"
    assert c.potential == str(tmp_path / "models" / "ft.pth")
    with pytest.raises(InputError, match=r"c\.toml: temperatures: the preset file mine\.json"):
        parse_campaign(
            {"compositions": ["LiAlCl2.5O0.75"], "preset": "mine.json", "temperatures": [600]},
            tmp_path / "c.toml",
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"temperatures": [600]}, "c.toml: compositions: required"),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600, -5]},
            "c.toml: temperatures: -5 must be positive",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600, 600]},
            "c.toml: temperatures: duplicates",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [1600]},
            "c.toml: temperatures: 1600 K must be positive and below the 1500 K melt",
        ),
        ({"compositions": ["LiAlCl2.5O0.75"]}, "c.toml: temperatures: required"),
        (
            {"compositions": ["LiXx2"], "temperatures": [600]},
            "c.toml: compositions.formulas: invalid formula 'LiXx2'",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75", "LiAlCl2.5O0.75"], "temperatures": [600]},
            "c.toml: compositions: LiAlCl2.5O0.75 is listed twice",
        ),
        (
            {"compositions": {"family": {"A": ["Mg"]}}, "temperatures": [600]},
            "c.toml: compositions.family: A must be alkali metals",
        ),
        (
            {"compositions": {"family": {"Z": ["Li"]}}, "temperatures": [600]},
            "c.toml: compositions.family: unknown key",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600], "replicas": 0},
            "c.toml: replicas: must be at least 1, got 0",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600], "seed": 1.5},
            "c.toml: seed: must be an integer",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600], "preset": "fast"},
            "c.toml: preset: unknown preset 'fast'",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600], "tempratures": [1]},
            "c.toml: unknown key(s) tempratures",
        ),
        (
            {"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600], "preset": "x.json"},
            "c.toml: preset: cannot read the preset file",
        ),
        (
            {
                "compositions": ["LiAlCl2.5O0.75"],
                "temperatures": [600],
                "protocol": {
                    "n_atoms": 21,
                    "melt_quench": [{"ensemble": "relax"}],
                    "production": [{"ensemble": "nvt", "T_start_K": 600, "duration_ps": 1}],
                },
            },
            "c.toml: protocol.production: T_start_K: production stages run at each",
        ),
        (
            {
                "compositions": ["LiAlCl2.5O0.75"],
                "temperatures": [600],
                "protocol": {
                    "n_atoms": 21,
                    "melt_quench": [{"ensemble": "boil"}],
                    "production": [{"ensemble": "nvt", "duration_ps": 1}],
                },
            },
            "c.toml: protocol.melt_quench: ensemble must be one of",
        ),
        (
            {
                "compositions": ["LiAlCl2.5O0.75"],
                "temperatures": [600],
                "preset": "quick",
                "protocol": {},
            },
            "c.toml: protocol: give either preset or a [protocol] table",
        ),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path, data, message):
    with pytest.raises(InputError) as info:
        parse_campaign(data, tmp_path / "c.toml", label="c.toml")
    assert str(info.value).startswith(message), str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such campaign file"):
        load_campaign(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("temperatures = [600,\n")
    with pytest.raises(InputError, match=r"bad\.toml: not valid TOML"):
        load_campaign(bad)
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(InputError, match=r"\.toml, \.yaml or \.yml"):
        load_campaign(tmp_path / "c.json")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="top level must be a table"):
        load_campaign(tmp_path / "list.yaml")


def test_a_non_neutral_composition_is_accepted_here(tmp_path):
    """It must fail as a task, not stop the campaign at parsing."""
    c = parse_campaign(
        {"compositions": ["LiAlCl2.5O0.75", "LiAlCl2.5O0.8"], "temperatures": [600]},
        tmp_path / "c.toml",
    )
    assert c.compositions[0].neutrality_problem() is None
    assert "not charge-neutral" in c.compositions[1].neutrality_problem()


def test_the_example_files_parse():
    from pathlib import Path

    from solidion.campaign import build_plan
    from solidion.campaign.execute import cluster_kwargs

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    amx = load_campaign(examples / "amx_campaign.toml")
    assert amx.is_family and len(amx.compositions) == 27
    assert amx.output == examples.parents[1] / "runs" / "amx"
    assert build_plan(amx).counts() == {"glass": 27, "md": 108, "analysis": 27}
    assert amx.preset.production_for(900)[0].n_steps == 50_000_000
    assert build_plan(load_campaign(examples / "quick_campaign.toml")).counts()["md"] == 4
    kwargs, own = cluster_kwargs(examples / "slurm.toml")
    assert own == {"jobs": 27} and kwargs["processes"] == 1

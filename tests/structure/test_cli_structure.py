"""`solidion structure`: JSON keys, ε_a across temperatures, figures, user mistakes."""

from __future__ import annotations

import json

import pytest

from solidion.cli import main
from tests.structure.test_residence import hopping_trajectory


@pytest.fixture(scope="module")
def two_temperatures(tmp_path_factory):
    d = tmp_path_factory.mktemp("hop")
    paths = []
    for temp, seed in ((600.0, 1), (800.0, 2)):
        scale = (600.0 / temp) ** 3
        traj, _ = hopping_trajectory(
            {"Cl4": 2.0 * scale, "Cl3O1": 6.0 * scale}, n_frames=2500, temperature_K=temp, seed=seed
        )
        p = d / f"hop{int(temp)}.h5md"
        traj.write(p)
        paths.append(str(p))
    return paths


def test_single_file_json_keys(two_temperatures, tmp_path):
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "structure",
                two_temperatures[0],
                "--center",
                "Al",
                "--ligands",
                "Cl,O",
                "--mobile",
                "Li",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert set(d) >= {"rdf", "polyhedra", "fragments", "residence"}
    assert set(d["rdf"]["Al-Cl"]) == {"r_A", "g", "n", "first_minimum_A"}
    assert d["polyhedra"]["center"] == "Al"
    assert d["polyhedra"]["fractions"] == pytest.approx({"Cl4": 2 / 3, "Cl3O1": 1 / 3})
    assert d["polyhedra"]["mean_coordination"] == pytest.approx(4.0)
    assert d["fragments"]["size_histogram"] == {"1": 27.0}
    assert set(d["residence"]) == {"Cl4", "Cl3O1"}
    tau = d["residence"]["Cl4"]["tau_ps"]
    assert abs(tau["value"] - 2.0) < 3 * tau["stderr"]
    assert d["residence"]["Cl4"]["model"] == "exponential"


def test_two_temperatures_give_activation_and_figures(two_temperatures, tmp_path):
    out = tmp_path / "series.json"
    figs = tmp_path / "figs"
    assert (
        main(
            [
                "structure",
                *two_temperatures,
                "--temperature",
                "600",
                "800",
                "--json",
                str(out),
                "--plots",
                str(figs),
                "--every",
                "2",
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    # τ ∝ T⁻³ between 600 and 800 K: ε = 3 k ln(4/3) / (1/600 − 1/800) = 0.178 eV
    for label in ("Cl4", "Cl3O1"):
        e = d["residence_activation_eV"][label]
        assert abs(e["value"] - 0.1784) < 3 * e["stderr"]
    names = {p.name for p in figs.iterdir()}
    assert {"residence_activation.png", "polyhedra_600K.png", "rdf_Al-Cl_800K.png"} <= names
    assert all((figs / n).stat().st_size > 1000 for n in names)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--center", "Ga"], "'Ga' is not in the trajectory"),
        (["--cutoffs", "Cl=40,O=2.8"], "half the smallest cell width"),
        (["--every", "0"], "--every"),
        (["--temperature", "600", "700", "800"], "3 temperatures for 1 files"),
    ],
)
def test_user_mistakes_exit_2(two_temperatures, tmp_path, capsys, extra, match):
    out = tmp_path / "never.json"
    assert main(["structure", two_temperatures[0], *extra, "--json", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()

"""Polyhedra and fragments on hand-built cells whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from solidion import Trajectory
from solidion.errors import InputError
from solidion.structure import FragmentResult, PolyhedraResult, fragments, polyhedra
from solidion.structure.neighbors import environment_label
from solidion.structure.polyhedra import default_center

AL_CL, AL_O = 2.13, 1.75
CUT = {"Cl": 2.6, "O": 2.2}
BOX = 24.0

#: Unit vectors to the corners of a regular tetrahedron.
TET = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def build(atoms: list[tuple[str, np.ndarray]], box: float | np.ndarray = BOX, frames=None):
    """One-frame (or multi-frame) trajectory from (symbol, position) pairs, centred in the box."""
    symbols = [s for s, _ in atoms]
    pos = np.array([p for _, p in atoms], dtype=float)
    cell = np.eye(3) * box if np.ndim(box) == 0 else np.asarray(box)
    stack = pos[None] if frames is None else np.asarray(frames)
    return Trajectory.from_arrays(symbols, stack + 0.5 * cell.sum(axis=0), cell, 1.0)


def tetrahedron(center: np.ndarray, ligands: list[str], directions=TET) -> list:
    """An Al at ``center`` and a ligand of the given species along each direction."""
    out = [("Al", np.asarray(center, float))]
    for s, u in zip(ligands, directions, strict=True):
        out.append((s, center + (AL_O if s == "O" else AL_CL) * u))
    return out


def dimer() -> list:
    """Cl3Al–O–AlCl3: two tetrahedra sharing one O corner (Al–O–Al linear)."""
    al1 = np.zeros(3)
    o = al1 + AL_O * TET[0]
    al2 = o + AL_O * TET[0]
    first = tetrahedron(al1, ["O", "Cl", "Cl", "Cl"])
    second = tetrahedron(al2, ["Cl", "Cl", "Cl"], -TET[1:])
    return first + second


def chain3() -> list:
    """Three corner-sharing tetrahedra: ClxAl–O–AlCl2–O–AlCl3, the middle one Cl2O2."""
    mid = np.zeros(3)
    atoms = tetrahedron(mid, ["O", "O", "Cl", "Cl"])
    for k in (0, 1):  # an end tetrahedron beyond each bridging O, inverted so it points back
        end = mid + 2 * AL_O * TET[k]
        others = [u for m, u in enumerate(-TET) if m != k]
        atoms += tetrahedron(end, ["Cl", "Cl", "Cl"], others)
    return atoms


def ring3() -> list:
    """Three AlCl2O2 tetrahedra closed into a planar Al3O3 ring by corner-sharing O."""
    atoms = []
    for k in range(6):  # hexagon of side AL_O: Al at even corners, O at odd ones
        phi = np.pi / 3 * k
        p = AL_O * np.array([np.cos(phi), np.sin(phi), 0.0])
        if k % 2:
            atoms.append(("O", p))
            continue
        atoms.append(("Al", p))
        out = p / np.linalg.norm(p)  # two Cl outward, tilted above and below the ring plane
        for z in (1, -1):
            u = np.cos(np.radians(55)) * out + np.sin(np.radians(55)) * np.array([0, 0, z])
            atoms.append(("Cl", p + AL_CL * u))
    return atoms


def check_bonds(traj: Trajectory, expected: dict[str, int]) -> None:
    """Guard the hand-built geometry: ligand counts as intended with the test cutoffs."""
    res = polyhedra(traj, ligands=("Cl", "O"), cutoffs=CUT)
    got = {k: round(v * res.n_centers) for k, v in res.fractions.items()}
    assert got == expected


# -- polyhedra ------------------------------------------------------------------------------
def test_isolated_alcl4_tetrahedron():
    traj = build(tetrahedron(np.zeros(3), ["Cl"] * 4))
    res = polyhedra(traj, ligands=("Cl",), cutoffs={"Cl": 2.6})
    assert isinstance(res, PolyhedraResult)
    assert res.fractions == {"Cl4": 1.0}
    assert res.mean_coordination == 4.0
    assert res.coordination_histogram == {4: 1.0}
    frag = fragments(traj, ligands=("Cl",), cutoffs={"Cl": 2.6})
    assert frag.size_histogram == {1: 1.0}
    assert frag.classes["isolated"] == 1.0
    assert frag.bridging == {"Cl": 0.0}
    assert frag.mean_size == 1.0


def test_oxygen_bridged_dimer():
    traj = build(dimer())
    res = polyhedra(traj, center="Al", ligands=("Cl", "O"), cutoffs=CUT)
    assert res.fractions == {"Cl3O1": 1.0}
    assert res.mean_ligands == {"Cl": 3.0, "O": 1.0}
    frag = fragments(traj, center="Al", ligands=("Cl", "O"), cutoffs=CUT)
    assert isinstance(frag, FragmentResult)
    assert frag.bridging == {"Cl": 0.0, "O": 1.0}
    assert frag.size_histogram == {2: 1.0}
    assert frag.mean_size == 2.0
    assert frag.classes == {"isolated": 0, "chain": 1.0, "branched": 0, "ring": 0, "infinite": 0}


def test_chain_of_three_corner_sharing_tetrahedra():
    traj = build(chain3())
    res = polyhedra(traj, cutoffs=CUT)
    assert res.labels == ("Cl3O1", "Cl2O2")
    assert res.fractions == pytest.approx({"Cl3O1": 2 / 3, "Cl2O2": 1 / 3})
    assert res.mean_coordination == 4.0
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {3: 1.0}
    assert frag.max_size == 3
    assert frag.classes["chain"] == 1.0
    assert frag.bridging["O"] == 1.0


def test_three_ring():
    traj = build(ring3())
    check_bonds(traj, {"Cl2O2": 3})
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {3: 1.0}
    assert frag.classes["ring"] == 1.0
    assert frag.classes["chain"] == frag.classes["infinite"] == 0.0


def test_oxygen_shared_by_three_al_is_a_branch_not_a_ring():
    atoms = [("O", np.zeros(3))]
    for k in range(3):
        u = np.array([np.cos(2 * np.pi * k / 3), np.sin(2 * np.pi * k / 3), 0.0])
        al = 1.85 * u
        atoms.append(("Al", al))
        for v in (np.array([0, 0, 1.0]), np.array([0, 0, -1.0]), u):  # Cl above, below, out
            atoms.append(("Cl", al + AL_CL * v))
    traj = build(atoms)
    check_bonds(traj, {"Cl3O1": 3})
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {3: 1.0}
    assert frag.classes["branched"] == 1.0


def test_edge_sharing_al2cl6_is_a_four_ring():
    atoms = [("Al", np.array([1.6, 0, 0])), ("Al", np.array([-1.6, 0, 0]))]
    atoms += [("Cl", np.array([0, 1.6, 0])), ("Cl", np.array([0, -1.6, 0]))]  # bridging
    for x in (2.5, -2.5):
        atoms += [("Cl", np.array([x, 0, 1.8])), ("Cl", np.array([x, 0, -1.8]))]
    traj = build(atoms)
    assert polyhedra(traj, ligands=("Cl",), cutoffs={"Cl": 2.6}).fractions == {"Cl4": 1.0}
    frag = fragments(traj, ligands=("Cl",), cutoffs={"Cl": 2.6})
    assert frag.bridging == {"Cl": pytest.approx(2 / 6)}
    assert frag.size_histogram == {2: 1.0}
    assert frag.classes["ring"] == 1.0


def test_chain_through_the_periodic_boundary_is_infinite_not_a_ring():
    """…Al–O–Al–O… along x with two Al per 7 Å period: a ring only through the image."""
    cell = np.diag([2 * 2 * AL_O, 14.0, 14.0])
    atoms = []
    for k in range(2):
        al = np.array([2 * AL_O * k, 0, 0])
        x, y = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
        atoms += [("Al", al), ("O", al + AL_O * x)]
        atoms += [("Cl", al + AL_CL * y), ("Cl", al - AL_CL * y)]
    traj = build(atoms, cell)
    check_bonds(traj, {"Cl2O2": 2})
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {2: 1.0}
    assert frag.classes["infinite"] == 1.0
    assert frag.classes["ring"] == 0.0


def test_triclinic_cell_same_answer():
    cell = np.array([[BOX, 0, 0], [0.4 * BOX, BOX, 0], [0.3 * BOX, -0.2 * BOX, BOX]])
    atoms = chain3()
    # Put the chain across the cell boundary: the bonds are found through the images.
    pos = np.array([p for _, p in atoms]) + 0.2 * cell[0] - 0.05 * cell[1]
    traj = Trajectory.from_arrays([s for s, _ in atoms], pos[None], cell, 1.0)
    res = polyhedra(traj, cutoffs=CUT)
    assert res.fractions == pytest.approx({"Cl3O1": 2 / 3, "Cl2O2": 1 / 3})
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {3: 1.0}
    assert frag.classes["chain"] == 1.0


def test_per_frame_and_averaged():
    """Frame 0: the O-bridged dimer; frame 1: the second AlCl3 pulled away from the O."""
    atoms = dimer()
    f0 = np.array([p for _, p in atoms])
    f1 = f0.copy()
    f1[5:] += [0.0, 6.0, 0.0]  # second Al and its three Cl
    traj = build(atoms, frames=[f0, f1])
    res = polyhedra(traj, cutoffs=CUT)
    assert res.labels == ("Cl3", "Cl3O1")  # three-fold first
    np.testing.assert_allclose(res.per_frame_fractions, [[0.0, 1.0], [0.5, 0.5]])
    assert res.fractions == pytest.approx({"Cl3": 0.25, "Cl3O1": 0.75})
    assert res.coordination_histogram == pytest.approx({3: 0.25, 4: 0.75})
    assert res.mean_coordination == pytest.approx(3.75)
    frag = fragments(traj, cutoffs=CUT)
    assert frag.size_histogram == {1: 1.0, 2: 0.5}
    assert frag.mean_size == pytest.approx(4 / 3)  # 4 Al in 3 fragments
    assert frag.weight_mean_size == pytest.approx((2 * 1 + 4 * 1) / 4)
    assert frag.classes["isolated"] == 1.0 and frag.classes["chain"] == 0.5
    assert frag.bridging["O"] == 0.5
    np.testing.assert_allclose(frag.per_frame_bridging[:, 1], [1.0, 0.0])
    # Frame selection: only frame 1.
    assert polyhedra(traj, cutoffs=CUT, frames=[1]).fractions == {"Cl3": 0.5, "Cl3O1": 0.5}
    assert polyhedra(traj, cutoffs=CUT, every=2).n_frames == 1


def test_defaults_centre_and_cutoffs_from_the_rdf():
    """Eight AlCl4 units on a grid with random orientations, and a Li: centre Al by charge."""
    rng = np.random.default_rng(3)
    atoms = [("Li", np.array([3.5, 3.5, 3.5]))]
    for corner in np.stack(np.meshgrid(*[[0.0, 7.0]] * 3), -1).reshape(-1, 3):
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        atoms += tetrahedron(corner, ["Cl"] * 4, TET @ rot.T)
    traj = build(atoms, 14.0)
    assert default_center(traj, ("Cl",)) == "Al"
    res = polyhedra(traj, center=None, ligands=("Cl",))
    assert res.center == "Al"
    assert 2.3 < res.cutoffs_A["Cl"] < 4.5  # in the gap between 2.13 Å and 4.87 Å
    assert res.fractions == {"Cl4": 1.0}


def test_to_dict_json_keys():
    traj = build(chain3())
    d = json.loads(json.dumps(polyhedra(traj, cutoffs=CUT).to_dict()))
    assert {"center", "fractions", "mean_coordination"} <= set(d)
    assert d["center"] == "Al" and d["fractions"]["Cl2O2"] == pytest.approx(1 / 3)
    f = json.loads(json.dumps(fragments(traj, cutoffs=CUT).to_dict()))
    assert {"size_histogram", "mean_size", "bridging", "classes"} <= set(f)
    assert f["size_histogram"] == {"3": 1.0}
    assert f["bridging"] == {"Cl": 0.0, "O": 1.0}


def test_environment_label_drop_zeros():
    assert environment_label({"Cl": 4}, ("Cl", "O")) == "Cl4O0"
    assert environment_label({"Cl": 4, "O": 0}, ("Cl", "O"), drop_zeros=True) == "Cl4"
    assert environment_label({"O": 4}, ("Cl", "O"), drop_zeros=True) == "O4"


# -- bad input ------------------------------------------------------------------------------
def test_absent_species_are_named():
    traj = build(dimer())
    with pytest.raises(InputError, match="'Ga'"):
        polyhedra(traj, center="Ga", cutoffs=CUT)
    with pytest.raises(InputError, match="'F'"):
        fragments(traj, ligands=("Cl", "F"), cutoffs={"Cl": 2.6, "F": 2.2})


def test_cutoff_beyond_half_the_box_is_refused():
    traj = build(dimer(), 10.0)
    with pytest.raises(InputError, match=r"Al-Cl = 5.5 Å .* half the smallest cell width"):
        polyhedra(traj, cutoffs={"Cl": 5.5, "O": 2.2})
    with pytest.raises(InputError, match="half the smallest cell width"):
        fragments(traj, cutoffs={"Cl": 2.6, "O": 6.0})


def test_other_bad_arguments():
    traj = build(dimer())
    with pytest.raises(InputError, match="no cutoff for ligand"):
        polyhedra(traj, cutoffs={"Cl": 2.6})
    with pytest.raises(InputError, match="not ligands"):
        polyhedra(traj, cutoffs={"Cl": 2.6, "O": 2.2, "Br": 3.0})
    with pytest.raises(InputError, match="cannot also be a ligand"):
        polyhedra(traj, center="O", cutoffs=CUT)
    with pytest.raises(InputError, match="every"):
        fragments(traj, cutoffs=CUT, every=0)
    with pytest.raises(InputError, match="no cation"):
        default_center(build([("Cl", np.zeros(3)), ("O", np.ones(3))]), ("Cl",))


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from solidion.structure.plots import plot_fragments, plot_polyhedra

    traj = build(chain3())
    ax = plot_polyhedra(polyhedra(traj, cutoffs=CUT))
    assert len(ax.patches) == 2
    ax2 = plot_fragments(fragments(traj, cutoffs=CUT))
    assert len(ax2.patches) == 1
    plt.close("all")

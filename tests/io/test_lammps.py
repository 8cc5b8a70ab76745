"""LAMMPS text dump reader and writer: round trips, hand-written dumps, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from solidion.errors import InputError, TrajectoryError
from solidion.io import read_trajectory, write_trajectory
from solidion.io.lammps import read, write
from solidion.trajectory import Trajectory

ORTHO = np.diag([7.0, 8.0, 9.0])
TRICLINIC = np.array([[7.0, 0.0, 0.0], [1.5, 8.0, 0.0], [-1.0, 0.8, 9.0]])
TYPE_MAP = {1: "Li", 2: "Cl"}

# Orthogonal box, wrapped coordinates with image flags, atoms not sorted by id (as a parallel
# run writes them). Sorted by id, the unwrapped positions are
#   step 0:   id 1 (9.5, 1, 2)    id 2 (1, -4.5 + 10, 11.5)   id 3 (5, 0, 6)
#   step 100: id 1 (0.5 + 10, 1, 2)  id 2 (1, 4.5, 0.5 + 12)  id 3 (5 - 10, 0, 6)
IMAGES_TEXT = """\
ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS pp pp pp
0.0000000000000000e+00 1.0000000000000000e+01
-5.0000000000000000e+00 5.0000000000000000e+00
0.0000000000000000e+00 1.2000000000000000e+01
ITEM: ATOMS id type x y z ix iy iz
3 2 5.0 0.0 6.0 0 0 0
1 1 9.5 1.0 2.0 0 0 0
2 1 1.0 -4.5 11.5 0 1 0
ITEM: TIMESTEP
100
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS pp pp pp
0.0000000000000000e+00 1.0000000000000000e+01
-5.0000000000000000e+00 5.0000000000000000e+00
0.0000000000000000e+00 1.2000000000000000e+01
ITEM: ATOMS id type x y z ix iy iz
1 1 0.5 1.0 2.0 1 0 0
2 1 1.0 4.5 0.5 0 0 1
3 2 5.0 0.0 6.0 -1 0 0
"""
IMAGES_EXPECTED = np.array(
    [
        [[9.5, 1.0, 2.0], [1.0, 5.5, 11.5], [5.0, 0.0, 6.0]],
        [[10.5, 1.0, 2.0], [1.0, 4.5, 12.5], [-5.0, 0.0, 6.0]],
    ]
)

# Triclinic box with xy = 1, xz = -0.5, yz = 0.5 and xlo = ylo = zlo = 0, xhi = 10, yhi = 8,
# zhi = 12, so the bounding box is x in [0 + min(0, 1, -0.5, 0.5), 10 + max(0, 1, -0.5, 0.5)]
# = [-0.5, 11], y in [0, 8.5], z in [0, 12]. Scaled coordinates; elements named in the dump.
# Atom 1 at s = (0.5, 0.5, 0.5) is at 0.5 a + 0.5 b + 0.5 c = (5.25, 4.25, 6). Atom 2 moves
# from s = (0, 0, 0) to (0.95, 0, 0), i.e. by -0.05 a = (-0.5, 0, 0) across the boundary.
TRICLINIC_TEXT = """\
ITEM: TIMESTEP
2000
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS xy xz yz pp pp pp
-0.5 11.0 1.0
0.0 8.5 -0.5
0.0 12.0 0.5
ITEM: ATOMS id element xs ys zs
1 Li 0.5 0.5 0.5
2 O 0.0 0.0 0.0
ITEM: TIMESTEP
2500
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS xy xz yz pp pp pp
-0.5 11.0 1.0
0.0 8.5 -0.5
0.0 12.0 0.5
ITEM: ATOMS id element xs ys zs
2 O 0.95 0.0 0.0
1 Li 0.5 0.5 0.5
"""


def _write_text(tmp_path: Path, text: str, name: str = "run.dump") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _random_walk(
    rng: np.random.Generator, cells: np.ndarray, n_atoms: int, sigma: float
) -> np.ndarray:
    """Unwrapped Gaussian random walk (Å) whose frame 0 lies inside the first cell."""
    start = rng.random((n_atoms, 3)) @ cells[0]
    steps = rng.normal(scale=sigma, size=(cells.shape[0], n_atoms, 3))
    steps[0] = start
    return np.cumsum(steps, axis=0)


def _box_lines(cell: np.ndarray, origin: np.ndarray) -> str:
    """A LAMMPS BOX BOUNDS section for a lower-triangular cell, as LAMMPS writes it."""
    xlo, ylo, zlo = origin
    xhi, yhi, zhi = origin + np.diag(cell)
    xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
    if xy == xz == yz == 0.0:
        bounds = "".join(
            f"{lo:.17g} {hi:.17g}\n" for lo, hi in ((xlo, xhi), (ylo, yhi), (zlo, zhi))
        )
        return "ITEM: BOX BOUNDS pp pp pp\n" + bounds
    return (
        "ITEM: BOX BOUNDS xy xz yz pp pp pp\n"
        f"{xlo + min(0.0, xy, xz, xy + xz):.17g} {xhi + max(0.0, xy, xz, xy + xz):.17g} {xy:.17g}\n"
        f"{ylo + min(0.0, yz):.17g} {yhi + max(0.0, yz):.17g} {xz:.17g}\n"
        f"{zlo:.17g} {zhi:.17g} {yz:.17g}\n"
    )


def _dump_text(
    rng: np.random.Generator,
    columns: str,
    unwrapped: np.ndarray,
    cell: np.ndarray,
    origin: np.ndarray,
    types: list[int],
    steps: list[int],
) -> str:
    """A dump with the given position columns, atoms shuffled in every frame, one extra column.

    ``unwrapped`` is Cartesian with the box origin included: r = origin + s @ cell.
    """
    frac = np.matmul(unwrapped - origin, np.linalg.inv(cell))
    image = np.floor(frac)
    wrapped_frac = frac - image
    data = {
        "x y z": wrapped_frac @ cell + origin,
        "xs ys zs": wrapped_frac,
        "xu yu zu": unwrapped,
        "xsu ysu zsu": frac,
    }
    pos_cols = " ".join(columns.split()[:3])
    with_images = "ix" in columns
    out = []
    n_atoms = unwrapped.shape[1]
    for t, step in enumerate(steps):
        out.append(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n")
        out.append(_box_lines(cell, origin))
        out.append(f"ITEM: ATOMS id type {columns} q\n")
        for i in rng.permutation(n_atoms):
            x, y, z = data[pos_cols][t, i]
            line = f"{i + 1} {types[i]} {x:.17g} {y:.17g} {z:.17g}"
            if with_images:
                line += " {:d} {:d} {:d}".format(*image[t, i].astype(int))
            out.append(line + " -0.5\n")
    return "".join(out)


# -- round trips ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthogonal", "triclinic"])
def test_fixed_cell_round_trip(tmp_path: Path, cell: np.ndarray) -> None:
    rng = np.random.default_rng(10)
    pos = _random_walk(rng, np.broadcast_to(cell, (100, 3, 3)), 5, 0.5)
    symbols = ["O", "Li", "O", "Li", "P"]
    traj = Trajectory.from_arrays(
        symbols, pos, cell, 2.0, 800.0, {"steps": list(range(0, 5000, 50))}
    )
    path = tmp_path / "run.lammpstrj"
    write(traj, path)
    back = read(path, timestep_fs=2.0)
    np.testing.assert_allclose(back.positions, pos, rtol=0, atol=1e-10)
    assert back.symbols == tuple(symbols)
    assert back.cell.shape == (3, 3)
    np.testing.assert_allclose(back.cell, cell, rtol=0, atol=1e-12)
    assert back.timestep_fs == 2.0
    assert back.metadata == {
        "source": str(path),
        "format": "lammps-dump",
        "steps": list(range(0, 5000, 50)),
    }
    text = path.read_text()
    header = "BOX BOUNDS pp pp pp" if cell is ORTHO else "BOX BOUNDS xy xz yz pp pp pp"
    assert text.count(header) == 100
    # Types number the elements in order of first appearance: O=1, Li=2, P=3.
    first = text.split("ITEM: ATOMS id type element xu yu zu\n")[1].splitlines()[:5]
    assert [ln.split()[:3] for ln in first] == [
        ["1", "1", "O"],
        ["2", "2", "Li"],
        ["3", "1", "O"],
        ["4", "2", "Li"],
        ["5", "3", "P"],
    ]


@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthogonal", "triclinic"])
def test_variable_cell_round_trip(tmp_path: Path, cell: np.ndarray) -> None:
    rng = np.random.default_rng(11)
    n_frames = 60
    cells = cell[None] * (1.0 + 0.02 * rng.standard_normal(n_frames))[:, None, None]
    pos = _random_walk(rng, cells, 4, 0.5)
    traj = Trajectory.from_arrays(["Na", "Cl", "Cl", "Na"], pos, cells, 0.5)
    path = tmp_path / "npt.dump"
    write_trajectory(traj, path)
    back = read_trajectory(path, timestep_fs=0.5)
    assert back.variable_cell
    np.testing.assert_allclose(back.cell, cells, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.positions, pos, rtol=0, atol=1e-10)
    assert back.metadata["steps"] == list(range(n_frames))
    assert back.timestep_fs == 0.5


def test_writer_uses_the_inverse_type_map(tmp_path: Path) -> None:
    traj = Trajectory.from_arrays(["Cl", "Li"], np.ones((1, 2, 3)), ORTHO, 1.0)
    path = tmp_path / "a.dump"
    write(traj, path, type_map={"1": "Li", "2": "Cl"})
    atoms = path.read_text().split("xu yu zu\n")[1].splitlines()
    assert [ln.split()[:3] for ln in atoms] == [["1", "2", "Cl"], ["2", "1", "Li"]]
    with pytest.raises(InputError, match="no type for element"):
        write(traj, tmp_path / "b.dump", type_map={1: "Li"})
    assert not (tmp_path / "b.dump").exists()


@pytest.mark.parametrize(
    "columns",
    ["x y z", "x y z ix iy iz", "xs ys zs", "xs ys zs ix iy iz", "xu yu zu", "xsu ysu zsu"],
)
def test_wrapped_dump_of_a_random_walk_recovers_the_true_path(tmp_path: Path, columns: str) -> None:
    rng = np.random.default_rng(12)
    cells = np.broadcast_to(TRICLINIC, (200, 3, 3))
    origin = np.array([-2.0, 1.0, 0.5])
    true = _random_walk(rng, cells, 6, 0.4) + origin
    crossings = np.abs(np.diff(np.floor((true - origin) @ np.linalg.inv(TRICLINIC)), axis=0))
    assert crossings.sum() > 40  # the walk leaves the box many times
    types = [1, 1, 2, 2, 1, 2]
    steps = list(range(1000, 1000 + 200 * 20, 20))
    path = _write_text(tmp_path, _dump_text(rng, columns, true, TRICLINIC, origin, types, steps))
    traj = read(path, timestep_fs=20.0, type_map=TYPE_MAP)
    np.testing.assert_allclose(traj.positions, true, rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.cell, TRICLINIC, rtol=0, atol=1e-12)
    assert traj.symbols == ("Li", "Li", "Cl", "Cl", "Li", "Cl")
    assert traj.metadata["steps"] == steps


# -- hand-written dumps ---------------------------------------------------------------------
def test_hand_written_dump_with_image_flags(tmp_path: Path) -> None:
    traj = read(_write_text(tmp_path, IMAGES_TEXT), timestep_fs=100.0, type_map=TYPE_MAP)
    assert traj.symbols == ("Li", "Li", "Cl")
    np.testing.assert_array_equal(traj.positions, IMAGES_EXPECTED)
    np.testing.assert_array_equal(traj.cell, np.diag([10.0, 10.0, 12.0]))
    assert traj.metadata["steps"] == [0, 100]
    assert traj.duration_ps == pytest.approx(0.1)


def test_type_map_with_string_keys_or_as_text(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    a = read(path, timestep_fs=1.0, type_map={"1": "Li", "2": "Cl"})
    b = read(path, timestep_fs=1.0, type_map="1=Li,2=Cl")
    assert a.symbols == b.symbols == ("Li", "Li", "Cl")


def test_hand_written_triclinic_dump(tmp_path: Path) -> None:
    traj = read(_write_text(tmp_path, TRICLINIC_TEXT), timestep_fs=250.0)
    assert traj.symbols == ("Li", "O")
    np.testing.assert_array_equal(traj.cell, [[10.0, 0.0, 0.0], [1.0, 8.0, 0.0], [-0.5, 0.5, 12.0]])
    np.testing.assert_allclose(
        traj.positions,
        [[[5.25, 4.25, 6.0], [0.0, 0.0, 0.0]], [[5.25, 4.25, 6.0], [-0.5, 0.0, 0.0]]],
        rtol=0,
        atol=1e-12,
    )
    assert traj.metadata["steps"] == [2000, 2500]


def test_changing_box_gives_a_per_frame_cell(tmp_path: Path) -> None:
    text = _edit(18, "-5.0 5.5\n")  # frame 1: y from -5 to 5.5
    traj = read(_write_text(tmp_path, text), timestep_fs=1.0, type_map=TYPE_MAP)
    assert traj.variable_cell
    np.testing.assert_array_equal(traj.cell[:, 2, 2], [12.0, 12.0])
    np.testing.assert_array_equal(traj.cell[:, 0, 0], [10.0, 10.0])
    np.testing.assert_array_equal(traj.cell[:, 1, 1], [10.0, 10.5])


# -- bad input ------------------------------------------------------------------------------
LINES = IMAGES_TEXT.splitlines(keepends=True)  # frame 0: LINES[0:12], frame 1: LINES[12:24]


def _edit(index: int, new: str | None) -> str:
    """IMAGES_TEXT with 0-based line ``index`` replaced (or removed when ``new`` is None)."""
    lines = list(LINES)
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return "".join(lines)


THIRD_FRAME = "".join(LINES[12:]).replace("ITEM: TIMESTEP\n100", "ITEM: TIMESTEP\n250")
BAD_FILES = {
    # name: (text, message fragment, frame or None)
    "empty": ("", "empty", None),
    "truncated_at_end": ("".join(LINES[:-1]), "truncated: the ATOMS section has 2 of 3", 1),
    "truncated_mid_file": (_edit(11, None), "truncated: the ATOMS section has 2 of 3", 0),
    "ends_after_box": ("".join(LINES[:20]), "without its 'ITEM: ATOMS' section", 1),
    "ends_after_timestep": ("".join(LINES[:14]), "without its 'ITEM: NUMBER OF ATOMS'", 1),
    "garbled_number": (_edit(10, "1 1 9.5.1 1.0 2.0 0 0 0\n"), "not a valid number", 0),
    "garbled_image": (_edit(22, "2 1 1.0 4.5 0.5 0 0 x\n"), "image flag value", 1),
    "garbled_id": (_edit(22, "2b 1 1.0 4.5 0.5 0 0 1\n"), "id value", 1),
    "nan_position": (_edit(21, "1 1 nan 1.0 2.0 1 0 0\n"), "NaN", 1),
    "wrong_column_count": (_edit(21, "1 1 0.5 1.0 2.0 1 0\n"), "expected 8 columns", 1),
    "garbled_timestep": (_edit(13, "1e2x\n"), "TIMESTEP '1e2x' is not an integer", 1),
    "garbled_box": (_edit(6, "-5.0 5,0\n"), "not numeric", 0),
    "box_wrong_columns": (_edit(6, "-5.0 5.0 1.0\n"), "needs 2 numbers", 0),
    "missing_number_of_atoms": (
        "".join(LINES[:14] + LINES[16:]),
        "no 'ITEM: NUMBER OF ATOMS' before its atoms",
        1,
    ),
    "missing_box": ("".join(LINES[:16] + LINES[20:]), "no 'ITEM: BOX BOUNDS' before", 1),
    "not_starting_with_timestep": ("".join(LINES[2:]), "must start with 'ITEM: TIMESTEP'", 0),
    "atom_count_changes": (
        "".join(LINES[:15]) + "2\n" + "".join(LINES[16:23]),
        "atom count changes from 3 to 2",
        1,
    ),
    "id_set_changes": (_edit(23, "4 2 5.0 0.0 6.0 -1 0 0\n"), "atom ids differs", 1),
    "duplicate_id": (_edit(10, "3 1 9.5 1.0 2.0 0 0 0\n"), "atom id 3 appears more than once", 0),
    "type_changes": (_edit(23, "3 1 5.0 0.0 6.0 -1 0 0\n"), "atom id 3 changes its type", 1),
    "columns_change": (_edit(20, "ITEM: ATOMS id type x y z iy ix iz\n"), "columns change", 1),
    "no_id_column": (_edit(8, "ITEM: ATOMS ID type x y z ix iy iz\n"), "no 'id' column", 0),
    "no_position_columns": (
        _edit(8, "ITEM: ATOMS id type vx vy vz ix iy iz\n"),
        "no position columns",
        0,
    ),
    "unknown_section": (_edit(4, "ITEM: BOXES pp pp pp\n"), "unknown dump section", 0),
    "general_triclinic": (_edit(4, "ITEM: BOX BOUNDS abc origin pp pp pp\n"), "abc origin", 0),
    "lj_units": ("".join(LINES[:2]) + "ITEM: UNITS\nlj\n" + "".join(LINES[2:]), "units 'lj'", 0),
    "uneven_steps": (IMAGES_TEXT + THIRD_FRAME, "evenly spaced", 2),
    "steps_go_back": (_edit(13, "0\n"), "evenly spaced", 1),
    "stray_text": (IMAGES_TEXT + "garbage\n", "expected an 'ITEM:' line", 1),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_raises_naming_the_file_and_frame(tmp_path: Path, case: str) -> None:
    text, fragment, frame = BAD_FILES[case]
    path = _write_text(tmp_path, text, f"bad_{case}.dump")
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, timestep_fs=1.0, type_map=TYPE_MAP)
    assert fragment in str(info.value)
    assert info.value.frame == frame
    if frame is not None:
        assert f"frame {frame}" in str(info.value)


def test_missing_timestep_raises(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, type_map=TYPE_MAP)
    assert "pass timestep_fs" in str(info.value)
    assert "100 steps × the MD timestep" in str(info.value)


def test_missing_type_map_raises(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, timestep_fs=1.0)
    assert "pass type_map" in str(info.value)
    assert "--type-map" in str(info.value)


def test_type_missing_from_type_map_is_named(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, timestep_fs=1.0, type_map={1: "Li"})
    assert "atom type(s) 2 not in type_map" in str(info.value)


def test_bad_type_map_argument_raises_input_error(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    with pytest.raises(InputError, match="not an integer"):
        read(path, timestep_fs=1.0, type_map={"Li": 1})
    with pytest.raises(InputError, match="mapping"):
        read(path, timestep_fs=1.0, type_map=["Li", "Cl"])


def test_unknown_element_in_type_map_raises(tmp_path: Path) -> None:
    path = _write_text(tmp_path, IMAGES_TEXT)
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, timestep_fs=1.0, type_map={1: "Li", 2: "Qq"})
    assert "unknown element symbol 'Qq'" in str(info.value)


def test_cell_not_in_lammps_orientation_writes_nothing(tmp_path: Path) -> None:
    rotated = np.array([[5.0, 1.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 7.0]])  # a not along x
    traj = Trajectory.from_arrays(["Li"], np.ones((2, 1, 3)), rotated, 1.0)
    target = tmp_path / "out.dump"
    with pytest.raises(TrajectoryError, match=re.escape(str(target))) as info:
        write(traj, target)
    assert "lower-triangular orientation" in str(info.value)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    # An existing file of that name is left as it was.
    target.write_text("keep me\n")
    with pytest.raises(TrajectoryError):
        write(traj, target)
    assert target.read_text() == "keep me\n"


def test_variable_cell_not_in_lammps_orientation_names_the_frame(tmp_path: Path) -> None:
    cells = np.stack([ORTHO, ORTHO, ORTHO.T + np.array([[0, 0, 0.5], [0, 0, 0], [0, 0, 0]])])
    traj = Trajectory.from_arrays(["Li"], np.ones((3, 1, 3)), cells, 1.0)
    target = tmp_path / "npt.dump"
    with pytest.raises(TrajectoryError, match="frame 2") as info:
        write(traj, target)
    assert str(target) in str(info.value)
    assert not target.exists()

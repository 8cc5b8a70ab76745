"""VASP XDATCAR reader and writer: round trips, hand-written files, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from solidion.errors import InputError, TrajectoryError
from solidion.io import read_trajectory, write_trajectory
from solidion.io.xdatcar import read, write
from solidion.trajectory import Trajectory

ORTHO = np.diag([7.0, 8.0, 9.0])
TRICLINIC = np.array([[7.0, 0.0, 0.0], [1.5, 8.0, 0.0], [-1.0, 0.8, 9.0]])

# A 2-frame, 4-atom fixed-cell XDATCAR as VASP 5 writes it. Between the frames atom 1 crosses
# the +x face (0.9 -> 0.05) and atom 2 the -z face (0.0 -> 0.95).
FIXED_TEXT = """\
Li2 Cl2
           1
     4.000000    0.000000    0.000000
     0.000000    4.000000    0.000000
     0.000000    0.000000    5.000000
   Li   Cl
     2     2
Direct configuration=     1
  0.10000000  0.20000000  0.30000000
  0.90000000  0.50000000  0.50000000
  0.50000000  0.50000000  0.00000000
  0.00000000  0.00000000  0.50000000
Direct configuration=     2
  0.15000000  0.20000000  0.30000000
  0.05000000  0.50000000  0.50000000
  0.50000000  0.45000000  0.95000000
  0.00000000  0.00000000  0.50000000
"""

# Variable cell: the header is repeated before each configuration; the cell grows along x.
VARIABLE_TEXT = """\
LiCl
   1.00000000000000
     4.0000000000    0.0000000000    0.0000000000
     0.0000000000    4.0000000000    0.0000000000
     0.0000000000    0.0000000000    4.0000000000
   Li   Cl
     1     1
Direct configuration=     1
  0.25000000  0.50000000  0.50000000
  0.75000000  0.50000000  0.50000000
LiCl
   1.00000000000000
     5.0000000000    0.0000000000    0.0000000000
     0.0000000000    4.0000000000    0.0000000000
     0.0000000000    0.0000000000    4.0000000000
   Li   Cl
     1     1
Direct configuration=     2
  0.20000000  0.50000000  0.50000000
  0.80000000  0.50000000  0.50000000
"""


def _random_walk(
    rng: np.random.Generator, cells: np.ndarray, n_atoms: int, sigma: float
) -> np.ndarray:
    """Unwrapped Gaussian random walk (Å) whose frame 0 lies inside the first cell."""
    n_frames = cells.shape[0]
    start = rng.random((n_atoms, 3)) @ cells[0]
    steps = rng.normal(scale=sigma, size=(n_frames, n_atoms, 3))
    steps[0] = start
    return np.cumsum(steps, axis=0)


def _crossings(positions: np.ndarray, cells: np.ndarray) -> int:
    """Number of frame-to-frame boundary crossings of the path wrapped into each frame's cell."""
    image = np.floor(np.matmul(positions, np.linalg.inv(cells)))
    return int(np.abs(np.diff(image, axis=0)).sum())


def _write_text(tmp_path: Path, text: str, name: str = "XDATCAR") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- round trips ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_fixed_cell_round_trip_recovers_unwrapped_walk(tmp_path: Path, cell: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    cells = np.broadcast_to(cell, (300, 3, 3))
    pos = _random_walk(rng, cells, 6, 0.4)
    assert _crossings(pos, cells) > 50  # the walk really leaves the cell, many times
    symbols = ["Li", "Li", "Li", "P", "S", "S"]
    traj = Trajectory.from_arrays(symbols, pos, cell, 2.5, 600.0)
    path = tmp_path / "XDATCAR"
    write(traj, path)
    back = read(path, timestep_fs=2.5)
    np.testing.assert_allclose(back.positions, pos, rtol=0, atol=1e-10)
    assert back.symbols == tuple(symbols)
    assert back.cell.shape == (3, 3)
    np.testing.assert_allclose(back.cell, cell, rtol=0, atol=1e-12)
    assert back.timestep_fs == 2.5
    assert back.temperature_K is None
    assert back.metadata == {"source": str(path), "format": "xdatcar"}
    # The file holds wrapped fractional coordinates and one header.
    text = path.read_text()
    assert text.count("Direct configuration=") == 300
    assert text.count("Li    P    S") == 1
    body = [ln for ln in text.splitlines()[7:] if not ln.startswith("Direct")]
    coords = np.array([ln.split() for ln in body], dtype=float)
    assert coords.shape == (300 * 6, 3)
    assert coords.min() >= 0.0 and coords.max() <= 1.0


@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["orthorhombic", "triclinic"])
def test_variable_cell_round_trip_recovers_unwrapped_walk(tmp_path: Path, cell: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    n_frames = 200
    breathe = 1.0 + 0.03 * np.sin(np.linspace(0.0, 6.0, n_frames))
    cells = cell[None] * breathe[:, None, None]
    pos = _random_walk(rng, cells, 5, 0.4)
    assert _crossings(pos, cells) > 30
    traj = Trajectory.from_arrays(["Na", "Na", "Cl", "Cl", "Na"], pos, cells, 1.0)
    path = tmp_path / "run.xdatcar"
    write(traj, path)
    text = path.read_text()
    assert text.count("Direct configuration=") == n_frames
    assert text.count("Na   Cl   Na") == n_frames  # header repeated, unsorted species kept
    back = read(path, timestep_fs=1.0, temperature_K=900.0)
    assert back.variable_cell
    np.testing.assert_allclose(back.cell, cells, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.positions, pos, rtol=0, atol=1e-10)
    assert back.symbols == ("Na", "Na", "Cl", "Cl", "Na")
    assert back.temperature_K == 900.0


def test_round_trip_through_the_registry(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pos = _random_walk(rng, np.broadcast_to(ORTHO, (20, 3, 3)), 3, 0.2)
    traj = Trajectory.from_arrays(["Li", "O", "O"], pos, ORTHO, 4.0)
    path = tmp_path / "XDATCAR"
    write_trajectory(traj, path)
    back = read_trajectory(path, timestep_fs=4.0)
    np.testing.assert_allclose(back.positions, pos, rtol=0, atol=1e-10)
    assert back.times_ps[-1] == pytest.approx(19 * 4.0e-3)


def test_frame_zero_outside_the_cell_comes_back_shifted_by_a_lattice_vector(
    tmp_path: Path,
) -> None:
    pos = np.array([[[8.0, -1.0, 4.0]], [[8.5, -1.5, 4.0]]])  # outside a 7 x 8 x 9 cell
    write(Trajectory.from_arrays(["Li"], pos, ORTHO, 1.0), tmp_path / "XDATCAR")
    back = read(tmp_path / "XDATCAR", timestep_fs=1.0)
    np.testing.assert_allclose(back.positions[0, 0], [1.0, 7.0, 4.0], atol=1e-10)
    np.testing.assert_allclose(back.positions - back.positions[0], pos - pos[0], atol=1e-10)


# -- hand-written files ---------------------------------------------------------------------
def test_hand_written_fixed_cell_file(tmp_path: Path) -> None:
    traj = read(_write_text(tmp_path, FIXED_TEXT), timestep_fs=5.0)
    assert traj.symbols == ("Li", "Li", "Cl", "Cl")
    assert traj.n_frames == 2
    np.testing.assert_array_equal(traj.cell, np.diag([4.0, 4.0, 5.0]))
    expected = np.array(
        [
            [[0.4, 0.8, 1.5], [3.6, 2.0, 2.5], [2.0, 2.0, 0.0], [0.0, 0.0, 2.5]],
            [[0.6, 0.8, 1.5], [4.2, 2.0, 2.5], [2.0, 1.8, -0.25], [0.0, 0.0, 2.5]],
        ]
    )
    np.testing.assert_allclose(traj.positions, expected, rtol=0, atol=1e-12)
    assert traj.timestep_fs == 5.0
    assert traj.duration_ps == pytest.approx(0.005)


def test_hand_written_variable_cell_file(tmp_path: Path) -> None:
    traj = read(_write_text(tmp_path, VARIABLE_TEXT), timestep_fs=1.0)
    assert traj.variable_cell
    np.testing.assert_array_equal(traj.cell[0], np.diag([4.0, 4.0, 4.0]))
    np.testing.assert_array_equal(traj.cell[1], np.diag([5.0, 4.0, 4.0]))
    np.testing.assert_allclose(
        traj.positions,
        [[[1.0, 2.0, 2.0], [3.0, 2.0, 2.0]], [[1.0, 2.0, 2.0], [4.0, 2.0, 2.0]]],
        atol=1e-12,
    )
    np.testing.assert_allclose(traj.volume_A3, [64.0, 80.0])


def test_positive_scale_factor_multiplies_the_lattice(tmp_path: Path) -> None:
    text = FIXED_TEXT.replace("           1\n", "   2.0\n", 1).replace("4.000000", "2.000000")
    text = text.replace("5.000000", "2.500000", 1)
    traj = read(_write_text(tmp_path, text), timestep_fs=1.0)
    np.testing.assert_allclose(traj.cell, np.diag([4.0, 4.0, 5.0]), atol=1e-14)
    np.testing.assert_allclose(traj.positions[0, 1], [3.6, 2.0, 2.5], atol=1e-12)


def test_negative_scale_factor_is_the_volume(tmp_path: Path) -> None:
    # Lattice diag(1, 1, 1.25) has volume 1.25; a volume of 80 Å^3 scales it by 64^(1/3) = 4.
    text = FIXED_TEXT.replace("           1\n", "  -80.0\n", 1).replace("4.000000", "1.000000")
    text = text.replace("5.000000", "1.250000", 1)
    traj = read(_write_text(tmp_path, text), timestep_fs=1.0)
    np.testing.assert_allclose(traj.cell, np.diag([4.0, 4.0, 5.0]), atol=1e-12)
    assert traj.volume_A3[0] == pytest.approx(80.0, rel=1e-14)


def test_vasp6_potcar_labels_in_the_species_line(tmp_path: Path) -> None:
    text = FIXED_TEXT.replace("   Li   Cl\n", "   Li_sv/4a5b6c   Cl/0f1e2d\n")
    traj = read(_write_text(tmp_path, text), timestep_fs=1.0)
    assert traj.symbols == ("Li", "Li", "Cl", "Cl")


# -- bad input ------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _replace_line(lines: list[str], index: int, new: str) -> list[str]:
    return [*lines[:index], new, *lines[index + 1 :]]


FIXED = _lines(FIXED_TEXT)
BAD_FILES = {
    # name: (text, expected message fragment, frame or None)
    "empty": ("", "empty", None),
    "blank": ("\n\n  \n", "empty", None),
    "truncated_last_frame": ("".join(FIXED[:-2]), "truncated", 1),
    "truncated_header": ("".join(FIXED[:4]), "truncated", 0),
    "no_configuration": ("".join(FIXED[:7]), "no frames", None),
    "garbled_number": (FIXED_TEXT.replace("0.45000000", "0.45O00000"), "not numeric", 1),
    "fortran_overflow": (FIXED_TEXT.replace("0.15000000", "**********"), "not numeric", 1),
    "nan_coordinate": (FIXED_TEXT.replace("0.45000000", "nan"), "NaN", 1),
    "four_columns": (
        FIXED_TEXT.replace("0.15000000  0.20000000", "0.15000000  0.20000000  0.1"),
        "3 fractional coordinates, found 4",
        1,
    ),
    "two_columns": (
        FIXED_TEXT.replace("0.00000000  0.00000000  0.50000000", "0.0 0.5"),
        "found 2",
        0,
    ),
    "unknown_element": (FIXED_TEXT.replace("   Li   Cl\n", "   Li   Qq\n"), "unknown element", 0),
    "counts_not_integers": (
        FIXED_TEXT.replace("     2     2\n", "     2     2.5\n"),
        "integers",
        0,
    ),
    "counts_length": (FIXED_TEXT.replace("     2     2\n", "     2     2     1\n"), "3 counts", 0),
    "vasp4_no_species": (FIXED_TEXT.replace("   Li   Cl\n", "     2     2\n", 1), "VASP 4", 0),
    "singular_lattice": (
        FIXED_TEXT.replace("0.000000    0.000000    5.000000", "4.000000    0.000000    0.000000"),
        "singular",
        0,
    ),
    "garbled_lattice": (
        FIXED_TEXT.replace("4.000000    0.000000", "4.0OO000    0.000000", 1),
        "not numeric",
        0,
    ),
    "zero_scale": (FIXED_TEXT.replace("           1\n", "           0\n", 1), "scale factor", 0),
    "extra_atom_line": (
        FIXED_TEXT.replace(
            "Direct configuration=     2", "  0.1 0.1 0.1\nDirect configuration=     2"
        ),
        "expected a 'Direct configuration=' line",
        1,
    ),
    "cartesian": (FIXED_TEXT.replace("Direct", "Cartesian"), "Cartesian", 0),
    "variable_cell_truncated_header": (
        "".join(_lines(VARIABLE_TEXT)[:14]),
        "truncated",
        1,
    ),
    "variable_cell_species_change": (
        "".join(_replace_line(_lines(VARIABLE_TEXT), 16, "     2     1\n")),
        "differ from the first frame",
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_raises_naming_the_file_and_frame(tmp_path: Path, case: str) -> None:
    text, fragment, frame = BAD_FILES[case]
    path = _write_text(tmp_path, text, f"XDATCAR_{case}")
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path, timestep_fs=1.0)
    assert fragment in str(info.value)
    assert info.value.frame == frame
    if frame is not None:
        assert f"frame {frame}" in str(info.value)


def test_missing_timestep_raises(tmp_path: Path) -> None:
    path = _write_text(tmp_path, FIXED_TEXT)
    with pytest.raises(TrajectoryError, match=re.escape(str(path))) as info:
        read(path)
    assert "XDATCAR stores no timestep; pass timestep_fs" in str(info.value)


def test_missing_file_raises_trajectory_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "XDATCAR"
    with pytest.raises(TrajectoryError, match="no such file"):
        read(path, timestep_fs=1.0)


def test_unknown_option_raises() -> None:
    with pytest.raises(InputError, match="type_map"):
        read("XDATCAR", timestep_fs=1.0, type_map={1: "Li"})


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    traj = Trajectory.from_arrays(["Li"], np.zeros((2, 1, 3)), ORTHO, 1.0)
    target = tmp_path / "missing_dir" / "XDATCAR"
    with pytest.raises(TrajectoryError, match="does not exist"):
        write(traj, target)
    assert not target.exists()
    with pytest.raises(InputError):
        write(traj, tmp_path / "XDATCAR", type_map={1: "Li"})
    assert list(tmp_path.iterdir()) == []

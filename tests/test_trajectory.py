"""The Trajectory type and frame-to-frame unwrapping (orthorhombic, triclinic, NPT)."""

from __future__ import annotations

import numpy as np
import pytest

from solidion import InputError, Trajectory, TrajectoryError
from solidion.trajectory import unwrap_positions
from tests.conftest import random_walk

TRICLINIC = np.array([[9.0, 0.0, 0.0], [3.1, 8.2, 0.0], [-2.0, 1.7, 7.5]])


def _wrap(u: np.ndarray, cells: np.ndarray) -> np.ndarray:
    frac = np.einsum("fai,fij->faj", u, np.linalg.inv(cells))
    return np.einsum("fai,fij->faj", frac - np.floor(frac), cells)


@pytest.mark.parametrize("cell", [np.diag([6.0, 7.0, 8.0]), TRICLINIC], ids=["ortho", "triclinic"])
def test_unwrap_fixed_cell_recovers_walker_crossing_many_times(cell):
    n = 3000
    start = np.array([[1.0, 2.0, 3.0], [4.0, 1.0, 2.0]]) @ np.linalg.inv(cell) % 1 @ cell
    true = start + random_walk(n, 2, 0.4, seed=1)
    cells = np.broadcast_to(cell, (n, 3, 3))
    wrapped = _wrap(true, cells)
    crossings = np.abs(np.diff(np.floor(true @ np.linalg.inv(cell)), axis=0)).sum()
    assert crossings > 50  # the walker really crosses the boundaries many times
    traj = Trajectory.from_wrapped(["Li", "Cl"], wrapped, cell, 2.0)
    np.testing.assert_allclose(traj.positions, true, atol=1e-9)


def test_unwrap_variable_cell_npt_follows_the_instantaneous_box():
    """NPT: an atom takes small steps and is wrapped into each frame's own (changing) box."""
    rng = np.random.default_rng(3)
    n = 2000
    cells = TRICLINIC * (1 + 0.03 * np.sin(np.arange(n) / 50.0))[:, None, None]
    cells = cells + rng.normal(0, 0.02, size=(n, 3, 3)) * np.tril(np.ones((3, 3)))
    steps = rng.normal(0, 0.35, size=(n, 3, 3))
    steps[0] = 0
    true = np.cumsum(steps, axis=0) + np.array([[1.0, 1.0, 1.0], [5.0, 4.0, 3.0], [2.0, 6.0, 1.0]])
    wrapped = np.empty_like(true)
    wrapped[0] = _wrap(true[:1], cells[:1])[0]
    offset = wrapped[0] - true[0]
    for t in range(1, n):  # wrap each new position into the current box
        wrapped[t] = _wrap((wrapped[t - 1] + steps[t])[None], cells[t : t + 1])[0]
    traj = Trajectory.from_wrapped(["Li", "Al", "O"], wrapped, cells, 5.0)
    assert traj.variable_cell
    np.testing.assert_allclose(traj.positions - offset, true, atol=1e-9)
    # the naive scheme (unwrap fractional coordinates, scale by the current cell) gets it wrong
    frac = np.einsum("fai,fij->faj", wrapped, np.linalg.inv(cells))
    naive_frac = frac.copy()
    naive_frac[1:] -= np.cumsum(np.rint(np.diff(frac, axis=0)), axis=0)
    naive = np.einsum("fai,fij->faj", naive_frac, cells)
    assert np.abs(naive - offset - true).max() > 0.5


def test_unwrap_leaves_an_unwrapped_path_bit_for_bit():
    true = random_walk(500, 4, 0.3, seed=2) + 3.0  # wanders far outside the cell
    out = unwrap_positions(true, np.eye(3) * 5.0)
    assert np.array_equal(out, true)


def test_unwrap_refuses_frames_too_far_apart():
    cell = np.eye(3) * 10.0
    path = np.zeros((3, 1, 3))
    path[2, 0, 0] = 5.5  # 0.55 box in one frame: looks like -0.45
    with pytest.raises(TrajectoryError, match="too far apart") as err:
        Trajectory.from_wrapped(["Li"], path % 10.0, cell, 1.0, metadata={"source": "walk.xyz"})
    assert "walk.xyz" in str(err.value) and "frame 2" in str(err.value)


def test_images_give_exact_unwrapping():
    cell = np.diag([5.0, 6.0, 7.0])
    true = random_walk(50, 3, 1.0, seed=4) + 2.0
    frac = true @ np.linalg.inv(cell)
    img = np.floor(frac)
    wrapped = (frac - img) @ cell
    traj = Trajectory.from_wrapped(["Li"] * 3, wrapped, cell, 1.0, images=img)
    np.testing.assert_allclose(traj.positions, true, atol=1e-12)


def test_basic_properties_and_slicing():
    cell = np.diag([4.0, 5.0, 6.0])
    traj = Trajectory.from_arrays(
        ["Li", "Cl", "Li"], random_walk(10, 3, 0.1), cell, 2.5, temperature_K=600
    )
    assert traj.positions.dtype == np.float64
    assert traj.indices("Li").tolist() == [0, 2]
    assert traj.indices(["Cl", "Li"]).tolist() == [0, 1, 2]
    np.testing.assert_allclose(traj.times_ps, np.arange(10) * 0.0025)
    np.testing.assert_allclose(traj.volume_A3, np.full(10, 120.0))
    sub = traj[2:10:2]
    assert sub.n_frames == 4 and sub.timestep_fs == 5.0
    np.testing.assert_array_equal(sub.positions, traj.positions[2:10:2])
    assert traj[-1].n_frames == 1
    assert traj.counts() == {"Li": 2, "Cl": 1}
    li = traj.select_atoms(traj.indices("Li"))
    assert li.symbols == ("Li", "Li")
    with pytest.raises(InputError, match="'Na' is not in the trajectory"):
        traj.indices("Na")
    with pytest.raises(InputError):
        traj[::-1]
    with pytest.raises(ValueError):  # frozen read-only data
        traj.positions[0, 0, 0] = 1.0


def test_variable_cell_volume_per_frame():
    cells = np.stack([np.eye(3) * a for a in (4.0, 5.0)])
    traj = Trajectory.from_arrays(["Li"], np.zeros((2, 1, 3)), cells, 1.0)
    np.testing.assert_allclose(traj.volume_A3, [64.0, 125.0])


def test_wrapped_positions_lie_in_the_cell():
    traj = Trajectory.from_arrays(["Li"] * 5, random_walk(200, 5, 0.5) + 7, TRICLINIC, 1.0)
    frac = traj.wrapped_positions() @ np.linalg.inv(TRICLINIC)
    assert frac.min() >= 0 and frac.max() < 1
    np.testing.assert_allclose(
        unwrap_positions(traj.wrapped_positions(), TRICLINIC)
        - traj.wrapped_positions()[0]
        + traj.positions[0],
        traj.positions,
        atol=1e-9,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"positions": np.full((2, 1, 3), np.nan)}, "NaN"),
        ({"cell": np.zeros((3, 3))}, "singular"),
        ({"cell": np.array([[1, 0, 0], [2, 0, 0], [0, 0, 1.0]])}, "singular"),
        ({"symbols": ["Qq"]}, "unknown element symbol 'Qq'"),
        ({"symbols": ["Li", "Li"]}, "2 symbols for 1 atoms"),
        ({"timestep_fs": 0.0}, "timestep_fs must be positive"),
        ({"timestep_fs": None}, "timestep_fs must be a number"),
        ({"temperature_K": -5.0}, "temperature_K must be positive"),
        ({"positions": np.zeros((2, 1, 2))}, "shape"),
    ],
)
def test_bad_arrays_raise_trajectory_error_naming_the_source(kwargs, match):
    args = {
        "symbols": ["Li"],
        "positions": np.zeros((2, 1, 3)),
        "cell": np.eye(3) * 3,
        "timestep_fs": 1.0,
        "temperature_K": None,
        "metadata": {"source": "bad.h5md"},
    }
    args.update(kwargs)
    with pytest.raises(TrajectoryError, match=match) as err:
        Trajectory(**args)
    assert "bad.h5md" in str(err.value)


def test_nan_names_the_frame():
    pos = np.zeros((5, 2, 3))
    pos[3, 1, 2] = np.nan
    with pytest.raises(TrajectoryError, match="frame 3"):
        Trajectory.from_arrays(["Li", "O"], pos, np.eye(3), 1.0, metadata={"source": "x"})

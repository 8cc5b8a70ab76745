"""H5MD: round trips, appending, lazy slices, files from other programs, bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from solidion import Trajectory, TrajectoryError, read_trajectory
from solidion.io.h5md import H5MDReader, append_frames
from tests.conftest import random_walk

TRICLINIC = np.array([[9.0, 0.0, 0.0], [3.1, 8.2, 0.0], [-2.0, 1.7, 7.5]])


def _traj(n=40, cell=None, temperature=650.0):
    cell = TRICLINIC if cell is None else cell
    pos = random_walk(n, 4, 0.3, seed=5) + np.array([1.0, 2.0, 3.0])
    return Trajectory.from_arrays(
        ["Li", "Al", "Cl", "O"], pos, cell, 20.0, temperature, {"run": "test"}
    )


def _assert_same(a: Trajectory, b: Trajectory) -> None:
    assert a.symbols == b.symbols
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-10)
    np.testing.assert_allclose(a.cell, b.cell, atol=1e-10)
    assert a.timestep_fs == pytest.approx(b.timestep_fs, rel=1e-12)
    assert a.temperature_K == b.temperature_K
    np.testing.assert_allclose(a.times_ps, b.times_ps, atol=1e-12)


def test_round_trip_fixed_cell(tmp_path):
    t = _traj()
    t.write(tmp_path / "a.h5md")
    back = read_trajectory(tmp_path / "a.h5md")
    _assert_same(t, back)
    assert back.metadata["run"] == "test"


def test_round_trip_variable_cell(tmp_path):
    cells = TRICLINIC * np.linspace(1.0, 1.05, 40)[:, None, None]
    t = _traj(cell=cells)
    t.write(tmp_path / "npt.h5md")
    back = read_trajectory(tmp_path / "npt.h5md")
    assert back.variable_cell
    _assert_same(t, back)


def test_layout_follows_h5md(tmp_path):
    _traj().write(tmp_path / "a.h5md", observables={"potential_energy": np.arange(40.0)})
    with h5py.File(tmp_path / "a.h5md") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        box = f["particles/all/box"]
        assert box.attrs["dimension"] == 3
        assert [b.decode() for b in box.attrs["boundary"]] == ["periodic"] * 3
        value = f["particles/all/position/value"]
        assert value.shape == (40, 4, 3) and value.compression == "gzip"
        assert value.chunks == (40, 4, 3)  # tiles of frames × atoms
        np.testing.assert_allclose(f["particles/all/position/time"][:3], [0.0, 0.02, 0.04])
        assert f["particles/all/species"][()].tolist() == [3, 13, 17, 8]
        assert f["observables/potential_energy/value"].shape == (40,)


def test_append_streams_frames(tmp_path):
    t = _traj(60)
    p = tmp_path / "md.h5md"
    append_frames(p, t[:25])  # creates
    append_frames(p, t[25:40], observables=None)
    append_frames(p, t[40:])
    back = read_trajectory(p)
    _assert_same(t, back)
    with h5py.File(p) as f:
        assert f["particles/all/position/step"][()].tolist() == list(range(60))


def test_append_refuses_a_different_system(tmp_path):
    p = tmp_path / "md.h5md"
    append_frames(p, _traj(5))
    other = Trajectory.from_arrays(["Li"], np.zeros((2, 1, 3)), TRICLINIC, 20.0)
    with pytest.raises(TrajectoryError, match="md.h5md"):
        append_frames(p, other)
    slower = Trajectory.from_arrays(["Li", "Al", "Cl", "O"], np.zeros((2, 4, 3)), TRICLINIC, 10.0)
    with pytest.raises(TrajectoryError, match="timestep"):
        append_frames(p, slower)
    assert read_trajectory(p).n_frames == 5


def test_lazy_slices_read_only_the_selection(tmp_path):
    t = _traj(100)
    t.write(tmp_path / "a.h5md")
    with H5MDReader(tmp_path / "a.h5md") as r:
        assert (r.n_frames, r.n_atoms) == (100, 4)
        part = r.read(frames=slice(10, 90, 4), atoms=[3, 0])
        assert part.symbols == ("O", "Li") and part.timestep_fs == 80.0
        np.testing.assert_allclose(part.positions, t.positions[10:90:4][:, [3, 0]], atol=1e-12)
        chunks = list(r.iter_frames(30, atoms=r.indices("Li")))
        assert [c.n_frames for c in chunks] == [30, 30, 30, 10]
        np.testing.assert_allclose(
            np.concatenate([c.positions for c in chunks]), t.positions[:, [0]], atol=1e-12
        )


def test_memory_budget_fails_fast(tmp_path):
    p = tmp_path / "big.h5md"
    _traj(10).write(p)
    with h5py.File(p, "a") as f:  # declare an absurd number of frames (sparse, never written)
        v = f["particles/all/position/value"]
        v.resize(10**9, axis=0)
        for name in ("step", "time"):
            f["particles/all/position"][name].resize(10**9, axis=0)
    with pytest.raises(TrajectoryError, match="memory budget") as err:
        read_trajectory(p, timestep_fs=1.0)
    assert "big.h5md" in str(err.value)
    with pytest.raises(TrajectoryError, match="memory budget"):
        read_trajectory(
            tmp_path / "big.h5md", timestep_fs=1.0, frames=slice(0, 5), max_memory_mb=1e-4
        )


def _foreign(path, *, unit="nm", image=True, scalar_time=True, cuboid=True):
    """An H5MD file as another program (e.g. a GROMACS/LAMMPS H5MD writer) would write it."""
    rng = np.random.default_rng(9)
    n, box = 30, np.array([1.0, 1.2, 1.4])  # nm
    true = 0.3 + np.cumsum(rng.normal(0, 0.05, (n, 3, 3)), axis=0)
    img = np.floor(true / box)
    wrapped = true - img * box
    with h5py.File(path, "w") as f:
        f.create_group("h5md").attrs["version"] = [1, 0]
        part = f.create_group("particles/all")
        part["species"] = np.array([3, 3, 17])
        pos = part.create_group("position")
        pos["value"] = wrapped
        pos["value"].attrs["unit"] = unit
        pos["step"] = np.arange(n) * 100
        if scalar_time:
            pos["time"] = 0.5
        else:
            pos["time"] = np.arange(n) * 0.5
        pos["time"].attrs["unit"] = "ps"
        if image:
            part["image"] = img.astype(np.int32)
        b = part.create_group("box")
        b.attrs["dimension"] = 3
        b.attrs["boundary"] = np.array([b"periodic"] * 3)
        b["edges"] = box if cuboid else np.diag(box)
    return true * 10.0


@pytest.mark.parametrize("image", [True, False])
@pytest.mark.parametrize("scalar_time", [True, False])
def test_reads_files_written_by_other_programs(tmp_path, image, scalar_time):
    true = _foreign(tmp_path / "other.h5", image=image, scalar_time=scalar_time)
    t = read_trajectory(tmp_path / "other.h5")
    assert t.symbols == ("Li", "Li", "Cl")
    assert t.timestep_fs == pytest.approx(500.0)
    np.testing.assert_allclose(t.cell, np.diag([10.0, 12.0, 14.0]))
    np.testing.assert_allclose(t.positions - t.positions[0], true - true[0], atol=1e-9)
    if image:
        np.testing.assert_allclose(t.positions, true, atol=1e-9)


def test_not_hdf5_or_truncated(tmp_path):
    p = tmp_path / "garbage.h5md"
    p.write_bytes(b"this is not hdf5 at all" * 10)
    with pytest.raises(TrajectoryError, match="garbage.h5md"):
        read_trajectory(p)
    good = tmp_path / "good.h5md"
    _traj(50).write(good)
    data = good.read_bytes()
    cut = tmp_path / "cut.h5md"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TrajectoryError, match="cut.h5md"):
        read_trajectory(cut)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.__delitem__("particles/all/species"), "species"),
        (lambda f: f.__delitem__("h5md"), "not an H5MD file"),
        (lambda f: f.__delitem__("particles/all/box"), "box"),
        (
            lambda f: (
                f.__delitem__("particles/all/species"),
                f.create_dataset("particles/all/species", data=[3, 3]),
            ),
            "species has shape",
        ),
        (
            lambda f: (
                f.__delitem__("particles/all/species"),
                f.create_dataset("particles/all/species", data=[3, 3, 200, 8]),
            ),
            "unknown atomic number 200",
        ),
        (lambda f: f["particles/all/position/value"].__setitem__((3, 1, 0), np.nan), "frame 3"),
        (lambda f: f["particles/all/position/time"].__setitem__(5, 99.0), "evenly spaced"),
        (
            lambda f: (
                f["particles/all/box"].__delitem__("edges"),
                f["particles/all/box"].create_dataset("edges", data=np.zeros((3, 3))),
            ),
            "singular",
        ),
    ],
)
def test_bad_files_name_the_file(tmp_path, mutate, match):
    p = tmp_path / "broken.h5md"
    _traj(10).write(p)
    with h5py.File(p, "a") as f:
        mutate(f)
    with pytest.raises(TrajectoryError, match=match) as err:
        read_trajectory(p)
    assert "broken.h5md" in str(err.value)


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    import solidion.io.h5md as h5md

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(h5md, "_write_new", boom)
    with pytest.raises(KeyboardInterrupt):
        _traj().write(tmp_path / "a.h5md")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    import solidion.io.h5md as h5md

    t = _traj()
    t.write(tmp_path / "a.h5md")
    monkeypatch.setattr(h5md, "_write_new", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        _traj(5).write(tmp_path / "a.h5md")
    assert read_trajectory(tmp_path / "a.h5md").n_frames == 40
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5md"]


def test_truncate_drops_trailing_frames_everywhere(tmp_path):
    from solidion.io import h5md

    rng = np.random.default_rng(3)
    pos = np.cumsum(rng.normal(0, 0.1, (10, 4, 3)), axis=0)
    cells = np.broadcast_to(np.eye(3) * 8.0, (10, 3, 3)).copy()
    cells[:, 0, 0] += np.linspace(0, 0.5, 10)
    traj = Trajectory.from_arrays(["Li", "Li", "Cl", "Cl"], pos, cells, 5.0)
    path = tmp_path / "t.h5"
    h5md.write(traj, path, observables={"temperature_K": np.arange(10.0)})
    h5md.truncate(path, 6)
    assert h5md.n_frames(path) == 6
    back = h5md.read(path)
    np.testing.assert_allclose(back.positions, pos[:6])
    np.testing.assert_allclose(back.cells, cells[:6])
    with h5py.File(path) as f:
        assert f["observables/temperature_K/value"].shape == (6,)
        assert f["particles/all/box/edges/step"].shape == (6,)
    # appending after truncation continues the time axis with no gap or duplicate
    h5md.append_frames(
        path, traj[6:], steps=np.arange(6, 10), observables={"temperature_K": np.arange(6.0, 10.0)}
    )
    again = h5md.read(path)
    np.testing.assert_allclose(again.positions, pos)
    np.testing.assert_allclose(again.times_ps, traj.times_ps)
    with pytest.raises(TrajectoryError, match="has 10"):
        h5md.truncate(path, 11)
    assert h5md.n_frames(tmp_path / "absent.h5") == 0

"""Streaming reads and conversion: chunked == whole file, failures leave nothing, memory bounded."""

from __future__ import annotations

import re
import tracemalloc
from itertools import chain
from pathlib import Path

import h5py
import numpy as np
import pytest
from ase import Atoms
from ase.io import write as ase_write

from solidion.cli import main
from solidion.errors import FormatError, InputError, TrajectoryError
from solidion.io import ase_formats, h5md, lammps, read_trajectory
from solidion.io.stream import convert_to_h5md, iter_chunks, iter_trajectory
from solidion.trajectory import ChunkUnwrapper, Trajectory, unwrap_positions
from tests.io.test_lammps import IMAGES_TEXT, ORTHO, TRICLINIC, TYPE_MAP, _box_lines

CHUNKS = [1, 2, 7, 1000]  # 1000 is more than any file here holds


def _walk(rng: np.random.Generator, cells: np.ndarray, n_atoms: int, sigma: float) -> np.ndarray:
    """Unwrapped Gaussian random walk (Å) starting inside the first cell."""
    start = rng.random((n_atoms, 3)) @ cells[0]
    steps = rng.normal(scale=sigma, size=(cells.shape[0], n_atoms, 3))
    steps[0] = start
    return np.cumsum(steps, axis=0)


def _dump(
    rng: np.random.Generator,
    columns: str,
    true: np.ndarray,
    cells: np.ndarray,
    origin: np.ndarray,
    types: list[int],
    steps: list[int],
) -> str:
    """A LAMMPS dump of the path ``true`` (origin included), one cell per frame, ids shuffled."""
    out = []
    n_atoms = true.shape[1]
    for t, step in enumerate(steps):
        frac = (true[t] - origin) @ np.linalg.inv(cells[t])
        image = np.floor(frac)
        wrapped = (frac - image) @ cells[t] + origin
        data = {"x y z": wrapped, "xs ys zs": frac - image, "xu yu zu": true[t]}
        pos = data[" ".join(columns.split()[:3])]
        out.append(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n")
        out.append(_box_lines(cells[t], origin))
        out.append(f"ITEM: ATOMS id type {columns}\n")
        for i in rng.permutation(n_atoms):
            line = f"{i + 1} {types[i]} {pos[i, 0]:.17g} {pos[i, 1]:.17g} {pos[i, 2]:.17g}"
            if "ix" in columns:
                line += " {:d} {:d} {:d}".format(*image[i].astype(int))
            out.append(line + "\n")
    return "".join(out)


def _lammps_file(tmp_path: Path, columns: str, cell: np.ndarray, variable: bool = False) -> Path:
    rng = np.random.default_rng(21)
    n_frames = 40
    cells = np.repeat(cell[None], n_frames, axis=0)
    if variable:  # the box is fixed for 10 frames, then breathes (NPT)
        cells[10:] *= (1.0 + 0.02 * rng.standard_normal(n_frames - 10))[:, None, None]
    origin = np.array([-2.0, 1.0, 0.5])
    true = _walk(rng, cells, 6, 0.5) + origin
    crossings = np.abs(np.diff(np.floor((true - origin) @ np.linalg.inv(cell)), axis=0)).sum()
    assert crossings > 10  # the atoms leave the box often
    path = tmp_path / "run.lammpstrj"
    steps = list(range(500, 500 + 25 * n_frames, 25))
    path.write_text(_dump(rng, columns, true, cells, origin, [1, 2, 1, 2, 2, 1], steps))
    return path


def _same(streamed: Path, whole: Trajectory, tmp_path: Path) -> None:
    """The streamed H5MD file holds the whole-file read, and the file a whole-file conversion
    (``h5md.write`` of that read) would have written: same positions, cells, times."""
    reference = tmp_path / "whole.h5md"
    h5md.write(whole, reference)
    back = read_trajectory(streamed)
    np.testing.assert_allclose(back.positions, whole.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.cells, whole.cells, rtol=0, atol=1e-12)
    assert back.variable_cell == whole.variable_cell
    assert back.symbols == whole.symbols
    assert back.temperature_K == whole.temperature_K
    assert back.timestep_fs == read_trajectory(reference).timestep_fs
    assert back.timestep_fs == pytest.approx(whole.timestep_fs, rel=1e-12)
    with h5py.File(streamed) as a, h5py.File(reference) as b:
        time = "particles/all/position/time"
        np.testing.assert_array_equal(a[time][()], b[time][()])
    reference.unlink()


# -- the unwrapper ---------------------------------------------------------------------------
@pytest.mark.parametrize("variable", [False, True], ids=["fixed", "npt"])
def test_chunk_unwrapper_is_unwrap_positions_bit_for_bit(variable: bool) -> None:
    rng = np.random.default_rng(3)
    n_frames = 150
    cells = np.repeat(TRICLINIC[None], n_frames, axis=0)
    if variable:
        cells *= (1.0 + 0.02 * rng.standard_normal(n_frames))[:, None, None]
    true = _walk(rng, cells, 12, 0.4)
    frac = np.matmul(true, np.linalg.inv(cells))
    wrapped = np.matmul(frac - np.floor(frac), cells)
    whole = unwrap_positions(wrapped, cells if variable else TRICLINIC)
    for size in (1, 2, 7, 64, 1000):
        u = ChunkUnwrapper()
        parts = [
            u.unwrap(wrapped[a : a + size], cells[a : a + size]) for a in range(0, n_frames, size)
        ]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        assert u.n_frames == n_frames


def test_chunk_unwrapper_names_the_frame_of_a_jump() -> None:
    w = np.zeros((6, 1, 3))
    w[4:, 0, 0] = 0.45  # a jump of 0.45 box between frames 3 and 4
    u = ChunkUnwrapper(source="jump.dump")
    u.unwrap(w[:3], np.eye(3))
    with pytest.raises(TrajectoryError, match=r"jump\.dump, frame 4: atom 0 .* from frame 3"):
        u.unwrap(w[3:], np.eye(3))
    with pytest.raises(InputError):
        ChunkUnwrapper(max_step_fraction=0.6)


# -- LAMMPS dumps ----------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize(
    ("columns", "cell", "variable"),
    [
        ("x y z", ORTHO, False),
        ("x y z", TRICLINIC, False),
        ("x y z ix iy iz", ORTHO, False),
        ("x y z ix iy iz", TRICLINIC, True),
        ("xs ys zs", TRICLINIC, False),
        ("xu yu zu", ORTHO, False),
        ("x y z", TRICLINIC, True),
    ],
    ids=["ortho", "triclinic", "images", "images-npt", "scaled", "unwrapped", "npt"],
)
def test_streamed_lammps_convert_equals_whole_file_read(
    tmp_path: Path, columns: str, cell: np.ndarray, variable: bool, chunk: int
) -> None:
    src = _lammps_file(tmp_path, columns, cell, variable)
    whole = lammps.read(src, timestep_fs=5.0, temperature_K=650.0, type_map=TYPE_MAP)
    target = tmp_path / "out.h5md"
    summary = convert_to_h5md(
        src, target, chunk_frames=chunk, timestep_fs=5.0, temperature_K=650.0, type_map=TYPE_MAP
    )
    _same(target, whole, tmp_path)
    assert (summary.n_frames, summary.n_atoms, summary.variable_cell) == (40, 6, variable)
    with h5py.File(target) as f:  # the dump's MD steps, not frame indices
        assert f["particles/all/position/step"][()].tolist() == whole.metadata["steps"]
        edges = f["particles/all/box/edges"]
        assert isinstance(edges, h5py.Group) == variable
        if variable:
            assert edges["step"][()].tolist() == whole.metadata["steps"]
    parts = list(iter_trajectory(src, chunk_frames=chunk, timestep_fs=5.0, type_map="1=Li,2=Cl"))
    assert [p.metadata["first_frame"] for p in parts] == list(range(0, 40, chunk))
    streamed = np.concatenate([p.positions for p in parts])
    np.testing.assert_allclose(streamed, whole.positions, rtol=0, atol=1e-12)
    assert list(chain(*(p.metadata["steps"] for p in parts))) == whole.metadata["steps"]
    assert sorted(tmp_path.iterdir()) == sorted([src, target])  # no temporary file left


@pytest.mark.parametrize("chunk", [2, 4, 5])
def test_boundary_crossing_at_a_chunk_edge(tmp_path: Path, chunk: int) -> None:
    """Atom 1 leaves the 5 Å box between frames 3 and 4, atom 2 between 4 and 5 (backwards)."""
    n_frames = 10
    t = np.arange(n_frames)
    true = np.zeros((n_frames, 2, 3))
    true[:, 0] = np.stack([4.0 + 0.3 * t, 2.0 + 0 * t, 2.5 + 0 * t], axis=1)
    true[:, 1] = np.stack([2.5 + 0 * t, 1.25 - 0.3 * t, 1.0 + 0 * t], axis=1)
    cells = np.repeat(np.diag([5.0, 5.0, 5.0])[None], n_frames, axis=0)
    src = tmp_path / "edge.dump"
    src.write_text(
        _dump(np.random.default_rng(0), "x y z", true, cells, np.zeros(3), [1, 2], list(t))
    )
    text = src.read_text()
    assert "1 1 0.20000000000000018" in text  # frame 4 holds atom 1 wrapped
    target = tmp_path / "edge.h5md"
    convert_to_h5md(src, target, chunk_frames=chunk, timestep_fs=1.0, type_map=TYPE_MAP)
    _same(target, lammps.read(src, timestep_fs=1.0, type_map=TYPE_MAP), tmp_path)
    np.testing.assert_allclose(read_trajectory(target).positions, true, rtol=0, atol=1e-12)


def test_lammps_chunks_keep_the_reader_features(tmp_path: Path) -> None:
    """Shuffled ids sorted, image flags, type_map, steps — chunk by chunk."""
    src = tmp_path / "images.dump"
    src.write_text(IMAGES_TEXT)
    chunks = list(iter_chunks(src, chunk_frames=1, timestep_fs=100.0, type_map=TYPE_MAP))
    assert [c.start for c in chunks] == [0, 1]
    assert chunks[0].symbols == ("Li", "Li", "Cl")
    assert [c.steps.tolist() for c in chunks if c.steps is not None] == [[0], [100]]
    assert chunks[1].images is not None
    assert chunks[1].images[0].tolist() == [[1, 0, 0], [0, 0, 1], [-1, 0, 0]]
    u = ChunkUnwrapper()
    streamed = np.concatenate([u.unwrap_chunk(c) for c in chunks])
    np.testing.assert_array_equal(
        streamed, lammps.read(src, timestep_fs=100.0, type_map=TYPE_MAP).positions
    )


def test_binary_file_is_named(tmp_path: Path) -> None:
    src = tmp_path / "binary.dump"
    src.write_bytes(IMAGES_TEXT.encode() + b"\xff\xfe\x00garbage\n")
    with pytest.raises(TrajectoryError, match=r"binary\.dump, frame \d+: not a text file"):
        convert_to_h5md(src, tmp_path / "out.h5md", timestep_fs=1.0, type_map=TYPE_MAP)
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_lammps_stream_needs_timestep_and_even_steps(tmp_path: Path) -> None:
    src = tmp_path / "a.dump"
    src.write_text(IMAGES_TEXT)
    with pytest.raises(TrajectoryError, match="100 steps × the MD timestep"):
        list(iter_chunks(src, chunk_frames=1, type_map=TYPE_MAP))
    third = IMAGES_TEXT.split("ITEM: TIMESTEP\n100\n")[1]
    src.write_text(IMAGES_TEXT + "ITEM: TIMESTEP\n250\n" + third)  # steps 0, 100, 250
    with pytest.raises(TrajectoryError, match="step 250 follows step 100") as info:
        list(iter_chunks(src, chunk_frames=2, timestep_fs=1.0, type_map=TYPE_MAP))
    assert info.value.frame == 2
    with pytest.raises(InputError, match="chunk_frames"):
        list(iter_chunks(src, chunk_frames=0, timestep_fs=1.0, type_map=TYPE_MAP))
    with pytest.raises(FormatError, match="cannot be read in chunks"):
        iter_chunks(tmp_path / "x.h5md")


# -- extended XYZ ----------------------------------------------------------------------------
def _extxyz(tmp_path: Path, variable: bool, name: str = "md.extxyz") -> Path:
    """Wrapped frames (as ASE MD writes them) with a time_fs entry per frame."""
    rng = np.random.default_rng(8)
    n_frames = 30
    cells = np.repeat(TRICLINIC[None], n_frames, axis=0)
    if variable:
        cells *= np.linspace(1.0, 1.03, n_frames)[:, None, None]
    true = _walk(rng, cells, 5, 0.5)
    frames = []
    for t in range(n_frames):
        a = Atoms("LiLiClClO", positions=true[t], cell=cells[t], pbc=True)
        a.wrap()
        a.info.update(time_fs=2.5 * t, temperature_K=900.0)
        frames.append(a)
    path = tmp_path / name
    ase_write(path, frames)
    return path


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize(
    ("name", "variable"),
    [("md.extxyz", False), ("md.extxyz", True), ("md.traj", True)],
    ids=["fixed", "npt", "ase-traj"],
)
def test_streamed_extxyz_convert_equals_whole_file_read(
    tmp_path: Path, chunk: int, name: str, variable: bool
) -> None:
    src = _extxyz(tmp_path, variable, name)
    whole = ase_formats.read(src)
    assert whole.timestep_fs == 2.5 and whole.temperature_K == 900.0
    target = tmp_path / "md.h5md"
    summary = convert_to_h5md(src, target, chunk_frames=chunk)
    _same(target, whole, tmp_path)
    assert summary.n_frames == 30
    parts = list(iter_trajectory(src, chunk_frames=chunk))
    np.testing.assert_allclose(
        np.concatenate([p.positions for p in parts]), whole.positions, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("bad", ["nan", "flat cell"])
def test_bad_frame_deep_in_a_stream_is_named_with_its_file_index(tmp_path: Path, bad: str) -> None:
    frames = [Atoms("LiCl", positions=[[0, 0, 0], [1, 1, 1]], cell=np.eye(3) * 4, pbc=True)]
    frames = [f.copy() for f in frames * 9]
    for t, a in enumerate(frames):
        a.info["time_fs"] = 2.0 * t
    if bad == "nan":
        frames[7].positions[1, 2] = np.nan
    else:
        frames[7].cell[2] = frames[7].cell[0] + frames[7].cell[1]  # coplanar: zero volume
    src = tmp_path / "bad.extxyz"
    ase_write(src, frames, format="extxyz")
    match = "NaN or infinite" if bad == "nan" else "singular"
    for chunk in (1, 3, 1000):
        with pytest.raises(TrajectoryError, match=r"bad\.extxyz, frame 7: .*" + match):
            convert_to_h5md(src, tmp_path / "out.h5md", chunk_frames=chunk)
        with pytest.raises(TrajectoryError, match=r"bad\.extxyz, frame 7: .*" + match):
            ase_formats.read(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_extxyz_stream_checks_time_spacing(tmp_path: Path) -> None:
    frames = [Atoms("Li", cell=np.eye(3) * 4, pbc=True) for _ in range(4)]
    for a, t in zip(frames, [0.0, 1.0, 2.0, 4.0], strict=True):
        a.info["time_fs"] = t
    ase_write(tmp_path / "uneven.xyz", frames, format="extxyz")
    with pytest.raises(TrajectoryError, match=r"uneven\.xyz, frame 3: time_fs .* not evenly"):
        list(iter_chunks(tmp_path / "uneven.xyz", chunk_frames=2))
    assert sum(c.n_frames for c in iter_chunks(tmp_path / "uneven.xyz", timestep_fs=1.0)) == 4


# -- failures leave nothing ------------------------------------------------------------------
def _truncated_lammps(tmp_path: Path) -> Path:
    src = _lammps_file(tmp_path, "x y z ix iy iz", ORTHO)
    lines = src.read_text().splitlines(keepends=True)
    src.write_text("".join(lines[:-2]))  # frame 39 loses two of its six atom lines
    return src


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_truncated_last_frame_leaves_no_file(tmp_path: Path, chunk: int) -> None:
    src = _truncated_lammps(tmp_path)
    target = tmp_path / "out.h5md"
    with pytest.raises(TrajectoryError, match=re.escape(str(src))) as info:
        convert_to_h5md(src, target, chunk_frames=chunk, timestep_fs=1.0, type_map=TYPE_MAP)
    assert info.value.frame == 39
    assert "frame 39" in str(info.value) and "truncated" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]  # no target, no temp file
    # An existing target is left as it was.
    target.write_bytes(b"keep me")
    with pytest.raises(TrajectoryError):
        convert_to_h5md(src, target, chunk_frames=chunk, timestep_fs=1.0, type_map=TYPE_MAP)
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, target.name])


def test_truncated_extxyz_leaves_no_file(tmp_path: Path) -> None:
    src = _extxyz(tmp_path, False)
    lines = src.read_text().splitlines(keepends=True)
    src.write_text("".join(lines[:-1]))
    with pytest.raises(TrajectoryError, match=re.escape(str(src)) + ", frame 29"):
        convert_to_h5md(src, tmp_path / "out.h5md", chunk_frames=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_cli_convert_streams_and_fails_with_one_line(tmp_path: Path, capsys) -> None:
    src = _lammps_file(tmp_path, "x y z", TRICLINIC)
    target = tmp_path / "run.h5md"
    args = ["convert", str(src), str(target), "--timestep-fs", "5", "--type-map", "1=Li,2=Cl"]
    assert main([*args, "--chunk-frames", "3"]) == 0
    assert "40 frames × 5 fs" in capsys.readouterr().out
    _same(target, lammps.read(src, timestep_fs=5.0, type_map=TYPE_MAP), tmp_path)
    target.unlink()
    bad = _truncated_lammps(tmp_path)
    assert (
        main(["convert", str(bad), str(target), "--timestep-fs", "5", "--type-map", "1=Li,2=Cl"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(bad) in err and "frame 39" in err
    assert not target.exists()
    assert main([*args, "--chunk-frames", "0"]) == 2


# -- memory ----------------------------------------------------------------------------------
def _big_dump(path: Path, n_frames: int, n_atoms: int, box: float = 20.0) -> None:
    rng = np.random.default_rng(1)
    pos = rng.random((n_atoms, 3)) * box
    atoms = "".join(f"{i + 1} {1 + i % 2} %.6f %.6f %.6f\n" for i in range(n_atoms))
    head = (
        f"ITEM: NUMBER OF ATOMS\n{n_atoms}\nITEM: BOX BOUNDS pp pp pp\n0 {box}\n0 {box}\n"
        f"0 {box}\nITEM: ATOMS id type x y z\n"
    )
    with open(path, "w") as fh:
        for t in range(n_frames):
            pos = (pos + rng.normal(scale=0.2, size=pos.shape)) % box
            fh.write(f"ITEM: TIMESTEP\n{10 * t}\n{head}" + atoms % tuple(pos.ravel()))


def test_peak_memory_scales_with_the_chunk_not_the_file(tmp_path: Path) -> None:
    """tracemalloc's peak (numpy arrays and Python objects) stays under a bound set by the
    chunk size, which is well below what holding the whole file's positions would take."""
    n_frames, n_atoms = 1000, 200
    src = tmp_path / "long.dump"
    _big_dump(src, n_frames, n_atoms)
    warm = tmp_path / "warm.dump"  # first use imports modules and fills caches: not measured
    _big_dump(warm, 3, n_atoms)
    convert_to_h5md(warm, tmp_path / "warm.h5md", timestep_fs=1.0, type_map=TYPE_MAP)
    whole_bytes = n_frames * n_atoms * 3 * 8
    for chunk in (8, 32):
        chunk_bytes = chunk * n_atoms * 3 * 8
        bound = 1_000_000 + 10 * chunk_bytes  # measured: ~0.2 MB + ~5 chunks
        assert bound < whole_bytes  # holding all positions once would already break it
        tracemalloc.start()
        try:
            convert_to_h5md(
                src,
                tmp_path / f"c{chunk}.h5md",
                chunk_frames=chunk,
                timestep_fs=1.0,
                type_map=TYPE_MAP,
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < bound, f"chunk {chunk}: peak {peak / 1e6:.2f} MB, bound {bound / 1e6:.2f}"
    assert read_trajectory(tmp_path / "c8.h5md").n_frames == n_frames

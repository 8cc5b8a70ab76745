"""H5MD files as other programs write them (H5MD 1.1 variants), each against a known answer.

The hand-made files store a known path ``TRUE`` (Å) in some unit; the reader must give it back
in Å. Files from MDAnalysis's own H5MD writer are compared with what MDAnalysis reads back.
Every refusal must name the dataset and the attribute at fault.
"""

from __future__ import annotations

import contextlib
import io

import h5py
import numpy as np
import pytest
from ase import units as ase_units

from solidion import Trajectory, TrajectoryError, read_trajectory
from solidion.errors import InputError
from solidion.io.h5md import LENGTH_UNITS_A, TIME_UNITS_PS, H5MDReader, parse_unit

N_FRAMES, N_ATOMS = 12, 3
BOX_A = np.array([10.0, 11.0, 12.0])
TRICLINIC_A = np.array([[10.0, 0.0, 0.0], [2.0, 11.0, 0.0], [-1.5, 1.0, 12.0]])
DT_FS = 20.0
PERIODIC = np.array([b"periodic"] * 3)


def _path_A(seed: int = 1) -> np.ndarray:
    """An unwrapped random walk in Å, (N_FRAMES, N_ATOMS, 3), small steps, inside the box."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.15, (N_FRAMES, N_ATOMS, 3))
    steps[0] = 0.0
    return np.array([4.0, 5.0, 6.0]) + np.cumsum(steps, axis=0)


TRUE = _path_A()


def _h5md(
    path,
    positions=TRUE,
    edges=BOX_A,
    *,
    group: str = "all",
    unit: object = "Angstrom",
    edges_unit: object = None,
    edges_series: bool = False,
    time: object = "per-frame",
    time_unit: object = "fs",
    step: object = "per-frame",
    species: object = (3, 3, 17),
    image=None,
    image_as_group: bool = False,
    boundary: object = PERIODIC,
    velocities: bool = False,
    creator: str | None = None,
) -> None:
    """A minimal H5MD 1.1 file; ``time`` is "per-frame" (ΔT = DT_FS), a scalar, or None."""
    n = positions.shape[0]
    with h5py.File(path, "w") as f:
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1])
        if creator is not None:
            h5md.create_group("creator").attrs["name"] = creator
        part = f.create_group(f"particles/{group}")
        pos = part.create_group("position")
        pos["value"] = positions
        if unit is not None:
            pos["value"].attrs["unit"] = unit
        if isinstance(step, str):
            pos["step"] = 100 + 10 * np.arange(n)
        elif step is not None:
            pos["step"] = step
        if isinstance(time, str):
            pos["time"] = np.arange(n) * DT_FS
        elif time is not None:
            pos["time"] = time
        if time is not None and time_unit is not None:
            pos["time"].attrs["unit"] = time_unit
        if velocities:
            vel = part.create_group("velocity")
            vel["value"] = np.ones_like(positions)
            vel["value"].attrs["unit"] = "Angstrom fs-1"
            vel["step"] = pos["step"]
        if species is not None:
            part["species"] = species
        if image is not None:
            if image_as_group:
                part.create_group("image")["value"] = image
            else:
                part["image"] = image
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        if boundary is not None:
            box.attrs["boundary"] = boundary
        if edges_series:
            e = box.create_group("edges")
            e["value"] = edges
            e["step"] = pos["step"]
            e["time"] = pos["time"]
            target = e["value"]
        else:
            box["edges"] = edges
            target = box["edges"]
        if edges_unit is not None:
            target.attrs["unit"] = edges_unit


# ---------------------------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------------------------
LENGTHS = [
    ("Å", 1.0),
    ("A", 1.0),
    ("Ang", 1.0),
    ("angstrom", 1.0),
    ("Angstrom", 1.0),
    ("nm", 10.0),
    ("pm", 0.01),
    ("bohr", ase_units.Bohr),
    ("0.1 nm", 1.0),  # the units module allows one leading numeric factor
    ("10 pm", 0.1),
    ("nm1", 10.0),  # ... and a power after the symbol
]


@pytest.mark.parametrize(("unit", "scale"), LENGTHS)
def test_length_units(tmp_path, unit, scale):
    p = tmp_path / "u.h5"
    _h5md(p, TRUE / scale, BOX_A / scale, unit=unit)
    t = read_trajectory(p)
    np.testing.assert_allclose(t.positions, TRUE, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.cell, np.diag(BOX_A), rtol=0, atol=1e-9)


def test_atomic_units_are_ases():
    assert LENGTH_UNITS_A["bohr"] == ase_units.Bohr == pytest.approx(0.52917721, rel=1e-8)
    assert TIME_UNITS_PS["au"] == pytest.approx(ase_units._aut * 1e12, rel=1e-15)
    assert parse_unit("2.5 au", TIME_UNITS_PS) == pytest.approx(2.5 * 2.4188843e-5, rel=1e-7)


@pytest.mark.parametrize(
    "stored",
    [
        "nm",
        b"nm",
        np.bytes_(b"nm"),
        np.array([b"nm"]),
        np.array(["nm"], dtype=h5py.string_dtype()),
    ],
    ids=["str", "bytes", "numpy-bytes", "1-array-bytes", "1-array-vlen-str"],
)
def test_unit_attribute_storage(tmp_path, stored):
    p = tmp_path / "s.h5"
    _h5md(p, TRUE / 10.0, BOX_A / 10.0, unit=stored, time_unit="ps")
    t = read_trajectory(p)
    np.testing.assert_allclose(t.positions, TRUE, atol=1e-9)
    assert t.timestep_fs == pytest.approx(DT_FS * 1000.0)  # DT_FS stored "per frame" in ps


@pytest.mark.parametrize(
    ("unit", "fs_per_unit"),
    [
        ("fs", 1.0),
        ("ps", 1000.0),
        ("ns", 1e6),
        ("au", ase_units._aut * 1e15),
        ("2 fs", 2.0),
    ],
)
def test_time_units(tmp_path, unit, fs_per_unit):
    p = tmp_path / "t.h5"
    _h5md(p, time=np.arange(N_FRAMES) * (DT_FS / fs_per_unit), time_unit=unit)
    assert read_trajectory(p).timestep_fs == pytest.approx(DT_FS, rel=1e-9)


def test_edges_without_a_unit_take_the_unit_of_positions(tmp_path):
    p = tmp_path / "e.h5"
    _h5md(p, TRUE / 10.0, BOX_A / 10.0, unit="nm")
    np.testing.assert_allclose(read_trajectory(p).cell, np.diag(BOX_A), atol=1e-9)
    q = tmp_path / "e2.h5"
    _h5md(q, TRUE / 10.0, BOX_A, unit="nm", edges_unit="Angstrom")  # its own unit wins
    np.testing.assert_allclose(read_trajectory(q).cell, np.diag(BOX_A), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# step and time
# ---------------------------------------------------------------------------------------------
def _scalar(f_path, name, value, offset):
    with h5py.File(f_path, "a") as f:
        g = f["particles/all/position"]
        unit = g[name].attrs.get("unit") if name in g else None
        del g[name]
        g[name] = value
        if offset is not None:
            g[name].attrs["offset"] = offset
        if unit is not None:
            g[name].attrs["unit"] = unit


@pytest.mark.parametrize("layout", ["per-frame", "scalar", "scalar-with-offset", "no-step"])
def test_fixed_and_per_frame_step_and_time(tmp_path, layout):
    p = tmp_path / "s.h5"
    _h5md(p, step=None if layout == "no-step" else "per-frame")
    if layout.startswith("scalar"):
        offset = layout.endswith("offset")
        _scalar(p, "time", DT_FS, 5000.0 if offset else None)
        _scalar(p, "step", 10, 100 if offset else None)
    t = read_trajectory(p)
    assert t.timestep_fs == pytest.approx(DT_FS, rel=1e-12)
    np.testing.assert_allclose(t.times_ps, np.arange(N_FRAMES) * DT_FS / 1000.0, atol=1e-12)
    np.testing.assert_allclose(t.positions, TRUE, atol=1e-12)


def test_float32_times_are_accepted(tmp_path):
    """MDAnalysis writes float32 times: their round-off is not an uneven series."""
    p = tmp_path / "f32.h5"
    _h5md(p, time=(1e4 + np.arange(N_FRAMES) * 0.5).astype(np.float32), time_unit="ps")
    assert read_trajectory(p).timestep_fs == pytest.approx(500.0, rel=1e-3)


@pytest.mark.parametrize(
    ("kind", "frame"), [("duplicate", 3), ("backwards", 7), ("duplicate", 11), ("backwards", 1)]
)
def test_non_increasing_times_name_the_dataset_and_frame(tmp_path, kind, frame):
    t = np.arange(N_FRAMES) * DT_FS
    t[frame] = t[frame - 1] if kind == "duplicate" else t[frame - 1] - 3.0
    p = tmp_path / "bad.h5"
    _h5md(p, time=t)
    with pytest.raises(TrajectoryError, match=rf"/particles/all/position/time: .*frame {frame}\b"):
        read_trajectory(p)


def test_uneven_times_name_the_dataset_and_frame(tmp_path):
    t = np.arange(N_FRAMES) * DT_FS
    t[6:] += 5.0
    p = tmp_path / "uneven.h5"
    _h5md(p, time=t)
    with pytest.raises(TrajectoryError, match=r"frame 6.*/particles/all/position/time.*evenly"):
        read_trajectory(p)


def test_missing_time_asks_for_timestep(tmp_path):
    p = tmp_path / "notime.h5"
    _h5md(p, time=None)
    with pytest.raises(TrajectoryError, match=r"/particles/all/position has no time.*timestep_fs"):
        read_trajectory(p)
    assert read_trajectory(p, timestep_fs=5.0).timestep_fs == 5.0


# ---------------------------------------------------------------------------------------------
# box
# ---------------------------------------------------------------------------------------------
def _cells_per_frame() -> np.ndarray:
    return TRICLINIC_A * np.linspace(1.0, 1.03, N_FRAMES)[:, None, None]


@pytest.mark.parametrize(
    ("edges", "series", "expected"),
    [
        (BOX_A, False, np.diag(BOX_A)),
        (TRICLINIC_A, False, TRICLINIC_A),
        (np.outer(np.linspace(1.0, 1.02, N_FRAMES), BOX_A), True, None),
        (_cells_per_frame(), True, _cells_per_frame()),
    ],
    ids=["vector", "matrix", "vector-series", "matrix-series"],
)
def test_box_edges_layouts(tmp_path, edges, series, expected):
    if expected is None:
        expected = np.stack([np.diag(e) for e in edges])
    p = tmp_path / "box.h5"
    _h5md(p, TRUE / 10.0, edges / 10.0, unit="nm", edges_series=series)
    t = read_trajectory(p)
    assert t.variable_cell == series
    np.testing.assert_allclose(t.cell, expected, atol=1e-9)
    np.testing.assert_allclose(t.positions, TRUE, atol=1e-9)


@pytest.mark.parametrize(
    ("boundary", "shown"),
    [
        (np.array([b"periodic", b"periodic", b"none"]), "none"),
        (np.array(["none"] * 3, dtype=h5py.string_dtype()), "none"),
    ],
)
def test_non_periodic_boundary_is_refused(tmp_path, boundary, shown):
    p = tmp_path / "open.h5"
    _h5md(p, boundary=boundary)
    with pytest.raises(
        TrajectoryError, match=rf"/particles/all/box: attribute 'boundary'.*{shown}"
    ):
        read_trajectory(p)


def test_boundary_as_vlen_strings_is_accepted(tmp_path):
    p = tmp_path / "vlen.h5"  # as MDAnalysis writes it
    _h5md(p, boundary=np.array(["periodic"] * 3, dtype=h5py.string_dtype()))
    np.testing.assert_allclose(read_trajectory(p).positions, TRUE, atol=1e-12)


def test_box_sampled_at_other_steps_is_refused(tmp_path):
    p = tmp_path / "steps.h5"
    _h5md(p, edges=_cells_per_frame(), edges_series=True)
    with h5py.File(p, "a") as f:
        e = f["particles/all/box/edges"]
        del e["step"]
        e["step"] = 10 * np.arange(N_FRAMES)  # positions are at 100, 110, ...
    with pytest.raises(TrajectoryError, match=r"/particles/all/box/edges/step"):
        read_trajectory(p)


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_group", [False, True], ids=["dataset", "image/value"])
@pytest.mark.parametrize("cell_kind", ["fixed", "per-frame"])
def test_image_unwrapping_matches_manual(tmp_path, as_group, cell_kind):
    rng = np.random.default_rng(4)
    cells = (
        _cells_per_frame()
        if cell_kind == "per-frame"
        else np.broadcast_to(TRICLINIC_A, (N_FRAMES, 3, 3))
    )
    # a long walk: atoms cross the cell several times, which minimum image could not tell
    true = np.cumsum(rng.normal(0.0, 4.0, (N_FRAMES, N_ATOMS, 3)), axis=0)
    frac = np.einsum("fai,fij->faj", true, np.linalg.inv(cells))
    img = np.floor(frac).astype(np.int32)
    wrapped = true - np.einsum("fai,fij->faj", img.astype(float), cells)
    manual = wrapped + np.einsum("fai,fij->faj", img.astype(float), cells)
    assert np.abs(img).max() >= 2  # the test really exercises images
    p = tmp_path / "img.h5"
    _h5md(
        p,
        wrapped / 10.0,
        (cells if cell_kind == "per-frame" else TRICLINIC_A) / 10.0,
        unit="nm",
        edges_series=cell_kind == "per-frame",
        image=img,
        image_as_group=as_group,
    )
    t = read_trajectory(p)
    np.testing.assert_allclose(t.positions, manual, atol=1e-9)
    np.testing.assert_allclose(t.positions, true, atol=1e-9)
    with H5MDReader(p) as r:  # a frame/atom selection unwraps the same way
        part = r.read(frames=slice(3, 11, 2), atoms=[2, 0])
    np.testing.assert_allclose(part.positions, true[3:11:2][:, [2, 0]], atol=1e-9)


def test_image_of_the_wrong_shape_is_refused(tmp_path):
    p = tmp_path / "img.h5"
    _h5md(p, image=np.zeros((N_FRAMES, N_ATOMS + 1, 3), dtype=np.int32))
    with pytest.raises(TrajectoryError, match=r"/particles/all/image: box images must be"):
        read_trajectory(p)


# ---------------------------------------------------------------------------------------------
# particle groups, velocities, species
# ---------------------------------------------------------------------------------------------
def test_another_group_name(tmp_path):
    p = tmp_path / "atoms.h5"
    _h5md(p, group="atoms")
    t = read_trajectory(p)
    assert t.symbols == ("Li", "Li", "Cl")
    np.testing.assert_allclose(t.positions, TRUE, atol=1e-12)
    with H5MDReader(p) as r:
        assert r.group == "atoms"


def test_several_groups_need_group_option(tmp_path):
    p = tmp_path / "two.h5"
    _h5md(p, group="solvent")
    other = _path_A(seed=2)
    with h5py.File(p, "a") as f:  # a second, complete particle group
        f.copy(f["particles/solvent"], "particles/ions")
        del f["particles/ions/position/value"]
        f["particles/ions/position/value"] = other
    with pytest.raises(TrajectoryError, match=r"several particle groups \(ions, solvent\).*group="):
        read_trajectory(p)
    np.testing.assert_allclose(read_trajectory(p, group="ions").positions, other, atol=1e-12)
    np.testing.assert_allclose(read_trajectory(p, group="solvent").positions, TRUE, atol=1e-12)
    with pytest.raises(TrajectoryError, match=r"no particle group 'all' \(it has: ions, solvent\)"):
        read_trajectory(p, group="all")


@pytest.mark.parametrize("velocities", [False, True])
def test_with_and_without_velocities(tmp_path, velocities):
    p = tmp_path / "v.h5"
    _h5md(p, velocities=velocities)
    np.testing.assert_allclose(read_trajectory(p).positions, TRUE, atol=1e-12)


@pytest.mark.parametrize(
    "species",
    [
        np.array([b"Li", b"Li", b"Cl"]),
        np.array(["Li", "Li", "Cl"], dtype=h5py.string_dtype()),
        np.array([3, 3, 17], dtype=np.uint8),
    ],
    ids=["fixed-bytes", "vlen-str", "uint8-numbers"],
)
def test_species_as_strings_or_numbers(tmp_path, species):
    p = tmp_path / "sp.h5"
    _h5md(p, species=species)
    assert read_trajectory(p).symbols == ("Li", "Li", "Cl")


def test_species_as_hdf5_enum(tmp_path):
    p = tmp_path / "enum.h5"
    _h5md(p, species=None)
    with h5py.File(p, "a") as f:
        dt = h5py.enum_dtype({"Li": 0, "Cl": 1}, basetype="i1")
        f["particles/all"].create_dataset("species", data=np.array([0, 0, 1]), dtype=dt)
    assert read_trajectory(p).symbols == ("Li", "Li", "Cl")


def test_time_dependent_species(tmp_path):
    p = tmp_path / "tds.h5"
    _h5md(p, species=None)
    per_frame = np.tile([3, 3, 17], (N_FRAMES, 1))
    with h5py.File(p, "a") as f:
        f["particles/all"].create_group("species")["value"] = per_frame
    assert read_trajectory(p).symbols == ("Li", "Li", "Cl")
    per_frame[5, 1] = 11
    with h5py.File(p, "a") as f:
        f["particles/all/species/value"][...] = per_frame
    with pytest.raises(TrajectoryError, match=r"frame 5.*/particles/all/species/value"):
        read_trajectory(p)


def test_type_ids_with_type_map(tmp_path):
    p = tmp_path / "types.h5"
    _h5md(p, species=np.array([1, 1, 2]), creator="LAMMPS")
    with pytest.raises(TrajectoryError, match=r"/particles/all/species: LAMMPS.*type_map"):
        read_trajectory(p)
    assert read_trajectory(p, type_map={1: "Li", 2: "Cl"}).symbols == ("Li", "Li", "Cl")
    assert read_trajectory(p, type_map="1=Li,2=Cl").symbols == ("Li", "Li", "Cl")
    with pytest.raises(TrajectoryError, match=r"/particles/all/species: type_map has no .* 2"):
        read_trajectory(p, type_map={1: "Li"})


def test_a_lammps_dump_h5md_layout(tmp_path):
    """As LAMMPS's dump h5md writes it: types in species, no units, image/value, edges series."""
    rng = np.random.default_rng(8)
    true = np.cumsum(rng.normal(0.0, 3.0, (N_FRAMES, N_ATOMS, 3)), axis=0)
    box = np.outer(np.linspace(1.0, 1.01, N_FRAMES), BOX_A)
    img = np.floor(true / box[:, None, :]).astype(np.int32)
    p = tmp_path / "lammps.h5"
    _h5md(
        p,
        true - img * box[:, None, :],
        box,
        unit=None,
        time_unit=None,
        edges_series=True,
        species=np.array([1, 1, 2], dtype=np.int32),
        image=img,
        image_as_group=True,
        creator="lammps",
    )
    with pytest.raises(
        TrajectoryError, match=r"/particles/all/position/time has no attribute 'unit'.*timestep_fs"
    ):
        read_trajectory(p, type_map={1: "Li", 2: "Cl"})
    with pytest.raises(TrajectoryError, match=r"/particles/all/species: LAMMPS.*type_map"):
        read_trajectory(p, timestep_fs=DT_FS)
    t = read_trajectory(p, timestep_fs=DT_FS, type_map={1: "Li", 2: "Cl"})
    assert t.symbols == ("Li", "Li", "Cl")
    np.testing.assert_allclose(t.positions, true, atol=1e-9)
    np.testing.assert_allclose(t.cell, np.stack([np.diag(b) for b in box]), atol=1e-12)


def test_unknown_atomic_number_suggests_type_map(tmp_path):
    p = tmp_path / "z0.h5"
    _h5md(p, species=np.array([3, 0, 17]))
    with pytest.raises(
        TrajectoryError, match=r"/particles/all/species: atom 1: .*number 0.*type_map"
    ):
        read_trajectory(p)


def test_missing_species_names_the_dataset_and_the_option(tmp_path):
    p = tmp_path / "nosp.h5"
    _h5md(p, species=None)
    with pytest.raises(TrajectoryError, match=r"/particles/all/species is missing.*species="):
        read_trajectory(p)
    assert read_trajectory(p, species=["Li", "Li", "Cl"]).symbols == ("Li", "Li", "Cl")
    assert read_trajectory(p, species="Li2Cl").symbols == ("Li", "Li", "Cl")
    assert read_trajectory(p, species="Li, Li, Cl").symbols == ("Li", "Li", "Cl")
    assert read_trajectory(p, species=[3, 3, 17]).symbols == ("Li", "Li", "Cl")
    with pytest.raises(InputError, match="2 elements for a file of 3 atoms"):
        read_trajectory(p, species="LiCl")


def test_unknown_options_are_refused(tmp_path):
    p = tmp_path / "o.h5"
    _h5md(p)
    with pytest.raises(InputError, match="grup"):
        read_trajectory(p, grup="all")


# ---------------------------------------------------------------------------------------------
# refusals name the dataset and the attribute
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"unit": "furlong"},
            r"bad\.h5: /particles/all/position/value: unknown length unit 'furlong' in "
            r"attribute 'unit'",
        ),
        ({"unit": "nm2"}, r"/particles/all/position/value: unknown length unit 'nm2'"),
        ({"unit": "nm ps-1"}, r"/particles/all/position/value: unknown length unit"),
        ({"unit": "-1 nm"}, r"/particles/all/position/value: unknown length unit"),
        ({"unit": 10.0}, r"/particles/all/position/value: attribute 'unit' must be a string"),
        (
            {"unit": np.array([b"nm", b"nm"])},
            r"/particles/all/position/value: attribute 'unit' must hold one string",
        ),
        (
            {"time_unit": "fortnight"},
            r"/particles/all/position/time: unknown time unit 'fortnight' in attribute 'unit'",
        ),
        (
            {"edges_unit": "parsec"},
            r"/particles/all/box/edges: unknown length unit 'parsec' in attribute 'unit'",
        ),
        (
            {"edges_unit": "parsec", "edges_series": True, "edges": _cells_per_frame()},
            r"/particles/all/box/edges/value: unknown length unit 'parsec'",
        ),
        ({"edges": np.ones((2, 3))}, r"/particles/all/box/edges: box edges have shape \(2, 3\)"),
        ({"time": np.arange(N_FRAMES + 1.0)}, r"/particles/all/position/time has shape"),
        ({"time": -2.0}, r"/particles/all/position/time: the time between frames must be"),
    ],
)
def test_refusals_name_dataset_and_attribute(tmp_path, kwargs, match):
    p = tmp_path / "bad.h5"
    _h5md(p, **kwargs)
    with pytest.raises(TrajectoryError, match=match):
        read_trajectory(p)


def test_dimension_attribute_other_than_3_is_refused(tmp_path):
    p = tmp_path / "2d.h5"
    _h5md(p)
    with h5py.File(p, "a") as f:
        f["particles/all/box"].attrs["dimension"] = 2
    with pytest.raises(TrajectoryError, match=r"/particles/all/box: attribute 'dimension' is 2"):
        read_trajectory(p)


# ---------------------------------------------------------------------------------------------
# files written by MDAnalysis
# ---------------------------------------------------------------------------------------------
def _mdanalysis_file(path, lengthunit, timeunit, velocities, dims, seed=3):
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.coordinates.H5MD import H5MDWriter
    from MDAnalysis.coordinates.memory import MemoryReader

    rng = np.random.default_rng(seed)
    coords = 4.0 + np.cumsum(rng.normal(0.0, 0.2, (N_FRAMES, N_ATOMS, 3)), axis=0)
    u = mda.Universe.empty(N_ATOMS, trajectory=True)
    vel = rng.normal(0.0, 0.01, coords.shape).astype(np.float32) if velocities else None
    u.load_new(
        coords.astype(np.float32), format=MemoryReader, dimensions=dims, dt=0.5, velocities=vel
    )
    units = {"lengthunit": lengthunit, "timeunit": timeunit}
    if velocities:
        units["velocityunit"] = "Angstrom/ps"
    with H5MDWriter(str(path), N_ATOMS, **units) as w:
        for _ in u.trajectory:
            w.write(u)


def _mdanalysis_reads(path):
    from MDAnalysis.coordinates.H5MD import H5MDReader as MDAReader

    r = MDAReader(str(path))
    pos, times, cells = [], [], []
    for ts in r:
        pos.append(ts.positions.astype(np.float64))
        times.append(float(ts.time))
        cells.append(ts.triclinic_dimensions.astype(np.float64))
    r.close()
    return np.array(pos), np.array(times), np.array(cells)


@pytest.mark.parametrize(
    ("lengthunit", "timeunit", "velocities"),
    [("nm", "ps", False), ("Angstrom", "fs", True), ("pm", "ns", False)],
)
def test_files_written_by_mdanalysis(tmp_path, lengthunit, timeunit, velocities):
    p = tmp_path / "mda.h5md"
    dims = np.array([10.0, 11.0, 12.0, 90.0, 80.0, 70.0])
    _mdanalysis_file(p, lengthunit, timeunit, velocities, dims)
    pos, times_ps, cells = _mdanalysis_reads(p)
    t = read_trajectory(p, species="Li2Cl")
    assert t.symbols == ("Li", "Li", "Cl")
    np.testing.assert_allclose(t.positions, pos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.cells, cells, rtol=0, atol=1e-5)
    np.testing.assert_allclose(t.times_ps, times_ps - times_ps[0], rtol=0, atol=1e-6)
    assert t.timestep_fs == pytest.approx(500.0, rel=1e-6)


def test_mdanalysis_file_without_species_names_the_dataset(tmp_path):
    p = tmp_path / "mda.h5md"
    _mdanalysis_file(p, "nm", "ps", False, np.array([10.0, 11.0, 12.0, 90.0, 90.0, 90.0]))
    with pytest.raises(
        TrajectoryError, match=r"/particles/trajectory/species is missing.*species="
    ):
        read_trajectory(p)


# ---------------------------------------------------------------------------------------------
# round trip and the CLI
# ---------------------------------------------------------------------------------------------
def test_round_trip_triclinic_per_frame_cell(tmp_path):
    cells = _cells_per_frame()
    traj = Trajectory.from_arrays(["Li", "Li", "Cl"], TRUE, cells, DT_FS, 700.0)
    p = tmp_path / "rt.h5md"
    traj.write(p)
    back = read_trajectory(p)
    assert back.symbols == traj.symbols and back.temperature_K == 700.0
    np.testing.assert_allclose(back.positions, traj.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.cell, cells, rtol=0, atol=1e-12)
    assert back.timestep_fs == pytest.approx(DT_FS, rel=1e-12)


def test_cli_reads_a_foreign_file_and_reports_a_missing_species(tmp_path):
    from solidion.cli import main

    good = tmp_path / "atoms.h5"
    _h5md(good, TRUE / 10.0, BOX_A / 10.0, group="atoms", unit="nm", time_unit="ps")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", str(good)]) == 0
    assert "Li2 Cl1" in out.getvalue()
    bad = tmp_path / "nosp.h5"
    _h5md(bad, species=None)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["convert", str(bad), str(tmp_path / "out.h5md")]) == 2
    assert "/particles/all/species is missing" in err.getvalue()
    assert not (tmp_path / "out.h5md").exists()

"""H5MD trajectories (HDF5): lazy reading by frame and atom slices, writing, appending.

H5MD 1.1: de Buyl, Colberg & Höfling, Comput. Phys. Commun. 185, 1546 (2014);
https://www.nongnu.org/h5md/h5md.html, units module https://www.nongnu.org/h5md/modules/units.html.

What solidion writes:

- ``/h5md`` with attribute ``version = [1, 1]`` and ``author``/``creator`` groups;
- ``/particles/all/position/{value,step,time}``: value (frames, atoms, 3) in Å, time in ps;
- ``/particles/all/box`` with attributes ``dimension = 3``, ``boundary = ["periodic"]*3`` and
  ``edges`` either a fixed (3, 3) dataset (rows = lattice vectors) or a time series group
  ``edges/{value,step,time}``;
- ``/particles/all/species``: atomic numbers (atoms,);
- optional ``/observables/<name>/{value,step,time}`` (energies, temperature, pressure);
- ``/parameters/solidion``: attributes ``temperature_K``, ``timestep_fs``, ``positions_unwrapped``
  and ``metadata`` (JSON text).

What the reader accepts from other programs (MDAnalysis, LAMMPS, other H5MD writers):

- **Particle group**: any name under ``/particles`` (MDAnalysis writes ``trajectory``). The only
  group there is read; when there are several, ``group=`` names one and the error lists them.
- **Units**: the ``unit`` attribute (str, bytes, numpy bytes or a one-element array) of
  ``position/value``, ``box/edges`` (or ``edges/value``) and ``position/time``. Lengths
  ``Å A Ang angstrom Angstrom nm pm fm m bohr Bohr``, times ``fs ps ns s au`` (ħ/E_h), each
  optionally raised to the power 1 (``nm1``) and after one leading numeric factor, as the units
  module allows (``"0.1 nm"``, ``"2 fs"``). No attribute means Å and ps; box edges without a
  unit of their own take the unit of the positions.
- **Time**: ``time`` per frame (it must increase and be evenly spaced; float32 round-off is
  tolerated) or a scalar, the interval of a regularly sampled series (its ``offset`` attribute
  does not change the interval). Without ``time`` pass ``timestep_fs``; ``timestep_fs`` also
  overrides the file, and then ``step``/``time`` are not read. A time-dependent box must be
  sampled at the same steps as the positions.
- **Box**: ``dimension`` 3; ``boundary`` all ``"periodic"`` (solidion needs a periodic cell, so
  ``"none"`` is refused naming the attribute); ``edges`` a vector (3,) (cuboid) or a matrix
  (3, 3) whose rows are the edge vectors, fixed or as ``edges/{value,step,time}`` with value
  (frames, 3) or (frames, 3, 3).
- **Images**: an ``image`` dataset or ``image/value`` (frames, atoms, 3) of integer box images;
  then unwrapped = position + image · edges, with the cell of each frame. Without images,
  positions are unwrapped frame to frame by the minimum-image convention (which leaves an
  already unwrapped path unchanged); solidion's own files say they are unwrapped.
- **Species**: atomic numbers, element symbols (fixed or variable-length strings, bytes) or an
  HDF5 enum whose names are symbols; ``species/value`` per frame is accepted if it never
  changes. Integer type ids (LAMMPS writes its atom types) need ``type_map={1: "Li", ...}``. A
  file without species (MDAnalysis writes none) needs ``species=``: one element per atom, or a
  formula in atom order such as ``"Li32Cl32"``. ``species=`` overrides the file.
- **LAMMPS** (``dump h5md``, creator ``lammps``) writes no ``unit`` attributes: lengths are
  taken as Å (``units metal``/``real``), and since its time is in the unit of the ``units``
  style (ps or fs), ``timestep_fs`` is required.
- ``velocity``, ``force`` and other elements are ignored: a :class:`Trajectory` holds positions.

A unit or layout the reader cannot interpret raises one :class:`TrajectoryError` naming the
file, the dataset and the attribute, e.g. ``run.h5: /particles/all/position/value: unknown
length unit 'furlong' in attribute 'unit'``.

Reading is lazy: :class:`H5MDReader` knows the shape without loading, and ``read(frames=...,
atoms=...)`` loads only the selection, after checking that the selection fits the memory
budget, so a file that declares absurd sizes fails fast.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from solidion.errors import InputError, SolidionError, TrajectoryError
from solidion.io._atomic import atomic_path
from solidion.trajectory import Trajectory
from solidion.units import (
    ANGSTROM_PER_BOHR,
    ANGSTROM_PER_FM,
    ANGSTROM_PER_M,
    ANGSTROM_PER_NM,
    ANGSTROM_PER_PM,
    FS_PER_PS,
    PS_PER_AU_TIME,
    PS_PER_FS,
    PS_PER_NS,
    PS_PER_S,
)

__all__ = [
    "H5MDReader",
    "append_frames",
    "n_frames",
    "parse_unit",
    "read",
    "truncate",
    "write",
]

#: Å per unit of length, by the symbols H5MD writers use.
LENGTH_UNITS_A: dict[str, float] = {
    "Å": 1.0,
    "A": 1.0,
    "Ang": 1.0,
    "angstrom": 1.0,
    "Angstrom": 1.0,
    "nm": ANGSTROM_PER_NM,
    "pm": ANGSTROM_PER_PM,
    "fm": ANGSTROM_PER_FM,
    "m": ANGSTROM_PER_M,
    "bohr": ANGSTROM_PER_BOHR,
    "Bohr": ANGSTROM_PER_BOHR,
}
#: ps per unit of time; ``au`` is the atomic unit ħ/E_h.
TIME_UNITS_PS: dict[str, float] = {
    "fs": PS_PER_FS,
    "ps": 1.0,
    "ns": PS_PER_NS,
    "s": PS_PER_S,
    "au": PS_PER_AU_TIME,
}

#: A numeric unit factor of the H5MD units module: an integer or a decimal fraction.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: A unit symbol, optionally raised to the power 1 (any other power is not a length or time).
_SYMBOL = re.compile(r"(?P<symbol>\D+?)(\+?1)?")


def _decode(raw: object) -> str:
    if isinstance(raw, bytes):  # numpy bytes too
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return str(raw)


def _attr_text(obj: h5py.HLObject, name: str, source: object) -> str | None:
    """A string attribute stored as str, bytes, numpy bytes or a one-element array."""
    if name not in obj.attrs:
        return None
    val = obj.attrs[name]
    if isinstance(val, np.ndarray):
        if val.size != 1:
            raise TrajectoryError(
                f"{obj.name}: attribute {name!r} must hold one string, got {val.tolist()!r}",
                path=source,
            )
        val = val.reshape(-1)[0]
    if not isinstance(val, (str, bytes)):
        raise TrajectoryError(
            f"{obj.name}: attribute {name!r} must be a string, got {val!r}", path=source
        )
    return _decode(val).strip()


def parse_unit(text: str, table: Mapping[str, float]) -> float | None:
    """Scale of an H5MD unit string in the units of ``table``; None when it is not one of them.

    The units module allows one leading numeric factor and a power after each symbol, so
    ``"nm"``, ``"0.1 nm"`` and ``"10 pm1"`` are lengths; ``"nm2"`` and ``"nm ps-1"`` are not.

    Example:
        >>> parse_unit("0.1 nm", LENGTH_UNITS_A), parse_unit("furlong", LENGTH_UNITS_A)
        (1.0, None)
    """
    tokens = text.split()
    factor = 1.0
    if tokens and _NUMBER.fullmatch(tokens[0]):
        factor = float(tokens.pop(0))
    if len(tokens) != 1 or not factor > 0:
        return None
    m = _SYMBOL.fullmatch(tokens[0])
    scale = table.get(m["symbol"]) if m else None
    return None if scale is None else factor * scale


def _unit_scale(
    ds: h5py.Dataset,
    table: Mapping[str, float],
    kind: str,
    source: object,
    default: float = 1.0,
) -> float:
    """Scale of the ``unit`` attribute of ``ds``; ``default`` when it has none."""
    text = _attr_text(ds, "unit", source)
    if not text:
        return default
    scale = parse_unit(text, table)
    if scale is None:
        raise TrajectoryError(
            f"{ds.name}: unknown {kind} unit {text!r} in attribute 'unit' (solidion reads "
            f"{', '.join(table)}, optionally after a numeric factor such as '0.1 nm')",
            path=source,
        )
    return scale


def _element(value: object) -> str | None:
    """Element symbol of an atomic number or a symbol; None when it is neither."""
    from ase.data import atomic_numbers, chemical_symbols

    if isinstance(value, (int, np.integer)):
        return chemical_symbols[int(value)] if 0 < int(value) < len(chemical_symbols) else None
    s = str(value).strip()
    return s if s in atomic_numbers and s != "X" else None


def _species_option(species: Sequence[str | int] | str, n_atoms: int) -> tuple[str, ...]:
    """The ``species=`` option: one element per atom, or a formula in atom order."""
    if isinstance(species, str):
        from ase.symbols import string2symbols

        if "," in species:
            items: list[Any] = [s.strip() for s in species.split(",")]
        else:
            try:
                items = list(string2symbols(species))
            except (ValueError, KeyError):
                raise InputError(
                    f"species={species!r} is neither a formula in atom order ('Li2Cl2') nor a "
                    "comma-separated list of elements"
                ) from None
    else:
        items = list(species)
    if len(items) != n_atoms:
        raise InputError(f"species= gives {len(items)} elements for a file of {n_atoms} atoms")
    out = []
    for i, item in enumerate(items):
        el = _element(item)
        if el is None:
            raise InputError(f"species=: atom {i}: {item!r} is not an element symbol or number")
        out.append(el)
    return tuple(out)


def _step_at(series: h5py.Group, i: int, n: int) -> int | None:
    """MD step of entry ``i`` of a time series (scalar step: ``offset + i*step``)."""
    step = series.get("step")
    if not isinstance(step, h5py.Dataset) or step.dtype.kind not in "iu":
        return None
    if step.shape == ():
        offset = int(np.asarray(step.attrs.get("offset", 0)).reshape(-1)[0])
        return offset + i * int(step[()])
    return int(step[i]) if step.shape == (n,) else None


def _available_bytes() -> int:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


class H5MDReader:
    """Lazy view of an H5MD trajectory.

    Args:
        path: The file.
        timestep_fs: Overrides the time between frames found in the file (which is then not read).
        temperature_K: Overrides the temperature stored by solidion.
        max_memory_mb: Largest selection :meth:`read` may load; defaults to the memory
            available on the machine.
        group: Particle group under ``/particles``; needed only when there are several.
        species: One element (symbol or atomic number) per atom, or a formula in atom order
            (``"Li2Cl2"``); overrides the file's ``species`` and is needed when it has none.
        type_map: Integer species id → element, e.g. ``{1: "Li", 2: "Cl"}`` or ``"1=Li,2=Cl"``,
            for files whose species are type ids rather than atomic numbers (LAMMPS).

    Attributes:
        symbols: Element symbol of each atom.
        n_frames: Stored frames.
        n_atoms: Atoms in the particle group.
        group: Name of the particle group read.

    Example:
        >>> with H5MDReader("run.h5md") as r:            # doctest: +SKIP
        ...     first = r.read(frames=slice(0, 1000), atoms=r.indices("Li"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timestep_fs: float | None = None,
        temperature_K: float | None = None,
        max_memory_mb: float | None = None,
        group: str | None = None,
        species: Sequence[str | int] | str | None = None,
        type_map: Mapping[int | str, str | int] | str | None = None,
    ) -> None:
        from solidion.io.lammps import _normalize_type_map

        self.path = Path(path)
        tmap = _normalize_type_map(type_map)
        try:
            self._f = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise TrajectoryError("no such file", path=self.path) from None
        except OSError as exc:
            raise TrajectoryError(f"not a readable HDF5 file ({exc})", path=self.path) from None
        try:
            self._inspect(timestep_fs, temperature_K, group, species, tmap)
        except SolidionError:
            self._f.close()
            raise
        except (KeyError, ValueError, TypeError, OSError) as exc:
            self._f.close()
            raise TrajectoryError(f"not a valid H5MD trajectory ({exc})", path=self.path) from None
        self.max_bytes = (
            int(max_memory_mb * 2**20) if max_memory_mb is not None else _available_bytes()
        )

    # -- layout checks ------------------------------------------------------------------
    def _fail(self, message: str, frame: int | None = None) -> TrajectoryError:
        return TrajectoryError(message, path=self.path, frame=frame)

    def _inspect(
        self,
        timestep_fs: float | None,
        temperature_K: float | None,
        group: str | None,
        species: Sequence[str | int] | str | None,
        type_map: dict[int, str | int] | None,
    ) -> None:
        f = self._f
        if "h5md" not in f:
            raise self._fail("no /h5md group: not an H5MD file")
        part = self._particle_group(group)
        self.group = part.name.rsplit("/", 1)[-1]
        pos = part.get("position")
        if not isinstance(pos, h5py.Group) or not isinstance(pos.get("value"), h5py.Dataset):
            raise self._fail(
                f"missing {part.name}/position/value: the positions must be a time series "
                "group position/{value,step,time}"
            )
        self._value = pos["value"]
        shape = self._value.shape
        if len(shape) != 3 or shape[2] != 3:
            raise self._fail(f"{self._value.name} must be (frames, atoms, 3), got {shape}")
        if self._value.dtype.kind not in "iuf":
            raise self._fail(
                f"{self._value.name}: positions must be numbers, got {self._value.dtype}"
            )
        self.n_frames, self.n_atoms = int(shape[0]), int(shape[1])
        if self.n_frames < 1 or self.n_atoms < 1:
            raise self._fail(f"{self._value.name} is empty, shape {shape}")
        self._length_scale = _unit_scale(self._value, LENGTH_UNITS_A, "length", self.path)
        if species is not None:
            self.symbols = _species_option(species, self.n_atoms)
        else:
            self.symbols = self._species(part, type_map)
        self._image = self._image_dataset(part)
        self._inspect_box(part, pos)
        solid = f["parameters/solidion"].attrs if "parameters/solidion" in f else {}
        self._unwrapped = bool(solid.get("positions_unwrapped", False))
        self.metadata: dict[str, Any] = {}
        if "metadata" in solid:
            raw = solid["metadata"]
            self.metadata = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        self.metadata.update({"source": str(self.path), "format": "h5md"})
        self.timestep_fs = timestep_fs if timestep_fs is not None else self._timestep_from_file(pos)
        stored_t = solid.get("temperature_K")
        self.temperature_K = (
            temperature_K
            if temperature_K is not None
            else (float(stored_t) if stored_t is not None and np.isfinite(stored_t) else None)
        )

    def _particle_group(self, group: str | None) -> h5py.Group:
        particles = self._f.get("particles")
        if not isinstance(particles, h5py.Group):
            raise self._fail("missing /particles group")
        names = sorted(k for k in particles if isinstance(particles.get(k), h5py.Group))
        if group is not None:
            if group not in names:
                raise self._fail(
                    f"/particles has no particle group {group!r} "
                    f"(it has: {', '.join(names) or 'none'})"
                )
            return particles[group]
        if len(names) == 1:
            return particles[names[0]]
        if not names:
            raise self._fail("/particles holds no particle group")
        raise self._fail(
            f"/particles holds several particle groups ({', '.join(names)}); choose one with "
            f"group=, e.g. group={names[0]!r}"
        )

    def _species(self, part: h5py.Group, type_map: dict[int, str | int] | None) -> tuple[str, ...]:
        where = f"{part.name}/species"
        node = part.get("species")
        if node is None:
            raise self._fail(
                f"{where} is missing, so the file does not say which element each atom is; "
                "pass species= (one element per atom, e.g. species=['Li', 'Li', 'Cl'], or a "
                "formula in atom order such as species='Li2Cl')"
            )
        if isinstance(node, h5py.Group):  # time-dependent species: accepted while they never change
            ds = node.get("value")
            if not isinstance(ds, h5py.Dataset) or ds.shape != (self.n_frames, self.n_atoms):
                raise self._fail(
                    f"{where}/value must be ({self.n_frames}, {self.n_atoms}), got "
                    f"{getattr(ds, 'shape', None)}"
                )
            per_frame = np.asarray(ds[()])
            changed = np.flatnonzero((per_frame != per_frame[0]).any(axis=1))
            if changed.size:
                raise self._fail(
                    f"{where}/value: species change between frames; solidion needs a fixed "
                    "composition",
                    frame=int(changed[0]),
                )
            raw = per_frame[0]
        else:
            ds = node
            if ds.shape != (self.n_atoms,):
                raise self._fail(
                    f"{where}: species has shape {ds.shape} but {self._value.name} has "
                    f"{self.n_atoms} atoms"
                )
            raw = np.asarray(ds[()])
        if raw.dtype.kind in "SOU":
            items: list[Any] = [_decode(s).strip() for s in raw]
        elif raw.dtype.kind in "iu":
            items = self._species_ids(ds, raw.astype(np.int64), type_map, where)
        else:
            raise self._fail(
                f"{where}: species must be integers or element symbols, got dtype {raw.dtype}"
            )
        out = []
        for i, item in enumerate(items):
            el = _element(item)
            if el is None:
                if isinstance(item, (int, np.integer)):
                    raise self._fail(
                        f"{where}: atom {i}: unknown atomic number {int(item)}; if the species "
                        "are type ids, pass type_map={id: element}, e.g. type_map={1: 'Li'}"
                    )
                raise self._fail(f"{where}: atom {i}: unknown element symbol {item!r}")
            out.append(el)
        return tuple(out)

    def _species_ids(
        self,
        ds: h5py.Dataset,
        ids: np.ndarray,
        type_map: dict[int, str | int] | None,
        where: str,
    ) -> list[Any]:
        """Integer species → what names the element: type_map, HDF5 enum names, atomic numbers."""
        if type_map is not None:
            missing = sorted(set(np.unique(ids).tolist()) - set(type_map))
            if missing:
                raise self._fail(
                    f"{where}: type_map has no element for species id(s) "
                    f"{', '.join(map(str, missing))} (it maps {', '.join(map(str, type_map))})"
                )
            return [type_map[int(i)] for i in ids]
        enum = h5py.check_enum_dtype(ds.dtype)
        if enum:
            names = {int(v): k for k, v in enum.items()}
            return [names.get(int(i), int(i)) for i in ids]
        if self._written_by_lammps():
            raise self._fail(
                f"{where}: LAMMPS stores atom types, not elements, in species; pass "
                "type_map={type: element}, e.g. type_map={1: 'Li', 2: 'Cl'}"
            )
        return ids.tolist()

    def _written_by_lammps(self) -> bool:
        creator = self._f.get("h5md/creator")
        name = _attr_text(creator, "name", self.path) if creator is not None else None
        return bool(name) and "lammps" in name.lower()

    def _image_dataset(self, part: h5py.Group) -> h5py.Dataset | None:
        node = part.get("image")
        if node is None:
            return None
        ds = node.get("value") if isinstance(node, h5py.Group) else node
        expected = (self.n_frames, self.n_atoms, 3)
        if not isinstance(ds, h5py.Dataset) or ds.shape != expected:
            raise self._fail(
                f"{node.name}: box images must be (frames, atoms, 3) = {expected}, got "
                f"{getattr(ds, 'shape', None)}"
            )
        if ds.dtype.kind not in "iuf":
            raise self._fail(f"{ds.name}: box images must be integers, got dtype {ds.dtype}")
        return ds

    def _inspect_box(self, part: h5py.Group, pos: h5py.Group) -> None:
        box = part.get("box")
        if not isinstance(box, h5py.Group):
            raise self._fail(f"missing {part.name}/box (H5MD requires one per particle group)")
        dim = box.attrs.get("dimension")
        if dim is not None and np.asarray(dim).reshape(-1).tolist() != [3]:
            raise self._fail(
                f"{box.name}: attribute 'dimension' is {np.asarray(dim).tolist()}; solidion "
                "reads three-dimensional boxes"
            )
        boundary = box.attrs.get("boundary")
        if boundary is not None:
            b = [_decode(x).strip() for x in np.atleast_1d(boundary)]
            b = b * 3 if len(b) == 1 else b  # one string for all three directions
            if len(b) != 3 or any(x.lower() != "periodic" for x in b):
                raise self._fail(
                    f"{box.name}: attribute 'boundary' is {b}; solidion needs a cell that is "
                    "periodic in all three directions (boundary = ['periodic'] * 3)"
                )
        edges = box.get("edges")
        if edges is None:
            raise self._fail(f"missing {box.name}/edges")
        self._edges_series = isinstance(edges, h5py.Group)
        ds = edges.get("value") if self._edges_series else edges
        if not isinstance(ds, h5py.Dataset):
            raise self._fail(f"missing {edges.name}/value")
        self._edges = ds
        lead = (self.n_frames,) if self._edges_series else ()
        if ds.shape not in ((*lead, 3), (*lead, 3, 3)):
            raise self._fail(
                f"{ds.name}: box edges have shape {ds.shape}, expected {(*lead, 3)} or "
                f"{(*lead, 3, 3)}"
            )
        if ds.dtype.kind not in "iuf":
            raise self._fail(f"{ds.name}: box edges must be numbers, got dtype {ds.dtype}")
        self._edges_scale = _unit_scale(
            ds, LENGTH_UNITS_A, "length", self.path, default=self._length_scale
        )
        if self._edges_series:
            last = self.n_frames - 1
            ours = [_step_at(edges, i, self.n_frames) for i in (0, last)]
            theirs = [_step_at(pos, i, self.n_frames) for i in (0, last)]
            if None not in ours and None not in theirs and ours != theirs:
                raise self._fail(
                    f"{edges.name}/step: the box is sampled at steps {ours[0]}..{ours[1]} but "
                    f"the positions at {theirs[0]}..{theirs[1]}; solidion needs the box of "
                    "every position frame"
                )

    def _timestep_from_file(self, pos: h5py.Group) -> float:
        time = pos.get("time")
        if time is None:
            if "step" in pos:
                hint = " = the step interval of " + pos["step"].name + " × the MD timestep"
            else:
                hint = ""
            raise self._fail(
                f"{pos.name} has no time dataset; pass timestep_fs (time between stored "
                f"frames, fs{hint})"
            )
        if not isinstance(time, h5py.Dataset) or time.dtype.kind not in "iuf":
            raise self._fail(f"{time.name}: time must be a numeric dataset")
        if not _attr_text(time, "unit", self.path) and self._written_by_lammps():
            raise self._fail(
                f"{time.name} has no attribute 'unit': LAMMPS writes time in the unit of its "
                "`units` style (metal: ps, real: fs); pass timestep_fs (time between stored "
                "frames, fs)"
            )
        scale = _unit_scale(time, TIME_UNITS_PS, "time", self.path)
        n = self.n_frames
        if time.shape == ():  # H5MD 1.1: a scalar time is the interval of a regular series
            dt_ps = float(time[()]) * scale
            if not (np.isfinite(dt_ps) and dt_ps > 0):
                raise self._fail(
                    f"{time.name}: the time between frames must be positive, got {dt_ps} ps"
                )
            return dt_ps * FS_PER_PS
        if time.shape != (n,):
            raise self._fail(
                f"{time.name} has shape {time.shape}, expected a scalar (the interval) or ({n},)"
            )
        if n < 2:
            solid = self._f["parameters/solidion"].attrs if "parameters/solidion" in self._f else {}
            if "timestep_fs" in solid:
                return float(solid["timestep_fs"])
            raise self._fail("one frame: cannot tell the timestep; pass timestep_fs")
        t = np.asarray(time[()], dtype=np.float64) * scale
        bad = ~np.isfinite(t)
        if bad.any():
            raise self._fail(f"{time.name}: time is not finite", frame=int(np.argmax(bad)))
        d = np.diff(t)
        back = np.flatnonzero(d <= 0)
        if back.size:
            k = int(back[0]) + 1
            raise self._fail(
                f"{time.name}: times must increase and be evenly spaced, but frame {k} at "
                f"{t[k]:g} ps does not come after frame {k - 1} at {t[k - 1]:g} ps",
                frame=k,
            )
        # float32 times (MDAnalysis) carry a round-off of a few eps × |t| in each difference
        eps = float(np.finfo(time.dtype).eps) if time.dtype.kind == "f" else 0.0
        usual = float(np.median(d))
        tol = max(1e-6 * usual, 4.0 * eps * float(np.abs(t).max()))
        uneven = np.flatnonzero(np.abs(d - usual) > tol)
        if uneven.size:
            k = int(uneven[0]) + 1
            raise self._fail(
                f"{time.name}: frames are not evenly spaced in time (frame {k} comes "
                f"{d[k - 1]:g} ps after frame {k - 1}, the usual spacing is {usual:g} ps); "
                "solidion needs a regular series",
                frame=k,
            )
        return (t[-1] - t[0]) / (n - 1) * FS_PER_PS

    # -- access -------------------------------------------------------------------------
    def __enter__(self) -> H5MDReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def indices(self, species: str) -> np.ndarray:
        """Atom indices of one element (without loading positions)."""
        idx = np.flatnonzero(np.asarray(self.symbols) == species)
        if idx.size == 0:
            raise TrajectoryError(f"species {species!r} is not in the file", path=self.path)
        return idx

    def nbytes(self, n_frames: int | None = None, n_atoms: int | None = None) -> int:
        """Bytes of float64 positions for a selection (defaults: the whole file)."""
        nf = self.n_frames if n_frames is None else n_frames
        na = self.n_atoms if n_atoms is None else n_atoms
        return nf * na * 3 * 8

    def cells(self, frames: slice | None = None) -> np.ndarray:
        """Cell in Å: (3, 3) for a fixed box, (n_selected, 3, 3) for a time series.

        Cuboid edges stored as a 3-vector become a diagonal cell.
        """
        if self._edges_series:
            edges = np.asarray(
                self._edges[frames if frames is not None else slice(None)], dtype=np.float64
            )
        else:
            edges = np.asarray(self._edges[()], dtype=np.float64)
        edges = edges * self._edges_scale
        if edges.shape[-1:] == (3,) and edges.ndim == (2 if self._edges_series else 1):
            edges = edges[..., None] * np.eye(3)  # cuboid edges → diagonal cell
        return edges

    def read(
        self, frames: slice | None = None, atoms: Sequence[int] | np.ndarray | None = None
    ) -> Trajectory:
        """Load a frame slice and an atom selection into a :class:`Trajectory`.

        Raises:
            TrajectoryError: If the selection exceeds the memory budget, or the data are bad.
        """
        fsl = frames if frames is not None else slice(None)
        if not isinstance(fsl, slice):
            raise TrajectoryError("frames must be a slice", path=self.path)
        start, stop, step = fsl.indices(self.n_frames)
        if step <= 0:
            raise TrajectoryError("frame slices must have a positive step", path=self.path)
        nf = len(range(start, stop, step))
        if nf == 0:
            raise TrajectoryError(f"frame slice {fsl} selects no frames", path=self.path)
        if atoms is None:
            aidx: np.ndarray | slice = slice(None)
            na = self.n_atoms
        else:
            aidx = np.asarray(atoms, dtype=np.intp)
            if aidx.ndim != 1 or aidx.size == 0:
                raise TrajectoryError("atoms must be a non-empty 1-D index list", path=self.path)
            if aidx.min() < 0 or aidx.max() >= self.n_atoms:
                raise TrajectoryError(
                    f"atom index out of range 0..{self.n_atoms - 1}", path=self.path
                )
            na = int(aidx.size)
        need = self.nbytes(nf, na) * (2 if not self._unwrapped else 1)
        if need > self.max_bytes:
            raise TrajectoryError(
                f"selection of {nf} frames × {na} atoms needs {need / 2**20:.0f} MiB, over the "
                f"memory budget of {self.max_bytes / 2**20:.0f} MiB; read it in chunks "
                "(frames=/atoms=) or raise max_memory_mb",
                path=self.path,
            )
        sel = np.s_[start:stop:step]
        try:
            if isinstance(aidx, slice):
                pos = np.asarray(self._value[sel], dtype=np.float64)
                img = (
                    None if self._image is None else np.asarray(self._image[sel], dtype=np.float64)
                )
            else:
                order = np.argsort(aidx)
                sorted_idx = aidx[order]
                uniq, inverse = np.unique(sorted_idx, return_inverse=True)
                back = np.empty_like(order)
                back[order] = np.arange(order.size)
                pos = np.asarray(self._value[sel, uniq], dtype=np.float64)[:, inverse][:, back]
                img = (
                    None
                    if self._image is None
                    else np.asarray(self._image[sel, uniq], dtype=np.float64)[:, inverse][:, back]
                )
            edges = self.cells(sel)
        except (OSError, ValueError) as exc:
            raise TrajectoryError(f"cannot read positions ({exc})", path=self.path) from None
        pos *= self._length_scale
        symbols = self.symbols if isinstance(aidx, slice) else tuple(self.symbols[i] for i in aidx)
        meta = dict(self.metadata)
        meta["first_frame"] = start
        dt = self.timestep_fs * step
        bad = ~np.isfinite(pos).all(axis=(1, 2))
        if bad.any():
            raise TrajectoryError(
                "positions contain NaN or infinite values",
                path=self.path,
                frame=start + step * int(np.argmax(bad)),
            )
        if self._unwrapped:
            return Trajectory(symbols, pos, edges, dt, self.temperature_K, meta)
        return Trajectory.from_wrapped(
            symbols, pos, edges, dt, self.temperature_K, meta, images=img
        )

    def iter_frames(
        self, chunk_frames: int, atoms: Sequence[int] | np.ndarray | None = None
    ) -> Iterator[Trajectory]:
        """Yield consecutive frame blocks of at most ``chunk_frames`` frames."""
        if chunk_frames < 1:
            raise TrajectoryError("chunk_frames must be at least 1", path=self.path)
        for start in range(0, self.n_frames, chunk_frames):
            yield self.read(
                frames=slice(start, min(start + chunk_frames, self.n_frames)), atoms=atoms
            )


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    frames: slice | None = None,
    atoms: Sequence[int] | np.ndarray | None = None,
    max_memory_mb: float | None = None,
    group: str | None = None,
    species: Sequence[str | int] | str | None = None,
    type_map: Mapping[int | str, str | int] | str | None = None,
    **options: Any,
) -> Trajectory:
    """Read an H5MD file (or a frame/atom selection of it) into a :class:`Trajectory`.

    Args:
        path: The file.
        timestep_fs: Time between stored frames in fs; overrides the file's ``time``.
        temperature_K: Simulation temperature in K; overrides the file's value.
        frames: Frame slice to load (positive step).
        atoms: Atom indices to load.
        max_memory_mb: Memory budget of the selection.
        group: Particle group under ``/particles``; needed only when there are several.
        species: Elements of the atoms (list or formula in atom order); needed when the file
            has no ``species`` (MDAnalysis), and overrides it otherwise.
        type_map: Species id → element, for files whose species are type ids (LAMMPS).
        **options: None accepted (options passed as ``None`` are ignored).

    Raises:
        TrajectoryError: If the file is not H5MD, or a unit or layout cannot be interpreted; the
            message names the file, the dataset and the attribute (and the frame).
        InputError: For an unknown option or a malformed ``species``/``type_map``.
    """
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"the H5MD reader takes no option(s) {', '.join(unknown)}")
    with H5MDReader(
        path,
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        max_memory_mb=max_memory_mb,
        group=group,
        species=species,
        type_map=type_map,
    ) as r:
        return r.read(frames=frames, atoms=atoms)


#: Atoms per HDF5 chunk: analyses read atom blocks over all frames, MD appends frames, so chunks
#: are tiles of (frames × atoms) and neither access decompresses the whole file.
CHUNK_ATOMS = 64


def _chunk_shape(shape: tuple[int, ...], chunk_frames: int) -> tuple[int, ...]:
    frames = max(1, min(chunk_frames, shape[0]))
    if len(shape) == 3:  # (frames, atoms, 3)
        return (frames, max(1, min(CHUNK_ATOMS, shape[1])), shape[2])
    return (frames, *shape[1:])


def _series(
    group: h5py.Group,
    name: str,
    first: np.ndarray,
    chunk_frames: int,
    compression: str | None,
    unit: str | None = None,
) -> h5py.Group:
    g = group.create_group(name)
    shape = first.shape
    kw: dict[str, Any] = {}
    if compression:
        kw = {"compression": compression, "shuffle": True}
    value = g.create_dataset(
        "value",
        shape=shape,
        maxshape=(None, *shape[1:]),
        dtype=first.dtype,
        chunks=_chunk_shape(shape, chunk_frames),
        **kw,
    )
    value[...] = first
    if unit:
        value.attrs["unit"] = unit
    g.create_dataset("step", shape=(shape[0],), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    t = g.create_dataset(
        "time", shape=(shape[0],), maxshape=(None,), dtype=np.float64, chunks=(1024,)
    )
    t.attrs["unit"] = "ps"
    return g


def _extend(g: h5py.Group, data: np.ndarray, steps: np.ndarray, times_ps: np.ndarray) -> None:
    n0 = g["value"].shape[0]
    n = data.shape[0]
    for name, arr in (("value", data), ("step", steps), ("time", times_ps)):
        ds = g[name]
        ds.resize(n0 + n, axis=0)
        ds[n0:] = arr


def _write_new(
    f: h5py.File,
    traj: Trajectory,
    steps: np.ndarray,
    times_ps: np.ndarray,
    compression: str | None,
    chunk_frames: int,
    observables: Mapping[str, np.ndarray] | None,
) -> None:
    from ase.data import atomic_numbers

    import solidion

    f.create_group("h5md").attrs["version"] = np.array([1, 1], dtype=np.int32)
    f["h5md"].create_group("author").attrs["name"] = "solidion user"
    creator = f["h5md"].create_group("creator")
    creator.attrs["name"] = "solidion"
    creator.attrs["version"] = solidion.__version__
    part = f.create_group("particles/all")
    part.create_dataset(
        "species", data=np.array([atomic_numbers[s] for s in traj.symbols], dtype=np.int32)
    )
    pos = _series(part, "position", traj.positions, chunk_frames, compression, "Angstrom")
    pos["step"][...] = steps
    pos["time"][...] = times_ps
    box = part.create_group("box")
    box.attrs["dimension"] = np.int32(3)
    box.attrs["boundary"] = np.array([b"periodic"] * 3)
    if traj.variable_cell:
        e = _series(box, "edges", traj.cell, chunk_frames, None, "Angstrom")
        e["step"][...] = steps
        e["time"][...] = times_ps
    else:
        box.create_dataset("edges", data=traj.cell).attrs["unit"] = "Angstrom"
    for name, values in (observables or {}).items():
        arr = np.asarray(values, dtype=np.float64)
        g = _series(f.require_group("observables"), name, arr, chunk_frames, None)
        g["step"][...] = steps
        g["time"][...] = times_ps
    par = f.create_group("parameters/solidion")
    par.attrs["positions_unwrapped"] = np.int8(1)
    par.attrs["timestep_fs"] = traj.timestep_fs
    par.attrs["temperature_K"] = np.nan if traj.temperature_K is None else traj.temperature_K
    meta = {k: v for k, v in traj.metadata.items() if k not in ("source", "format", "first_frame")}
    par.attrs["metadata"] = json.dumps(meta, default=str)


def write(
    traj: Trajectory,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    compression: str | None = "gzip",
    chunk_frames: int = 256,
    observables: Mapping[str, np.ndarray] | None = None,
    **_: Any,
) -> None:
    """Write a new H5MD file (chunked, compressed), atomically.

    Args:
        traj: The trajectory; positions are stored unwrapped, in Å, time in ps.
        path: Target file; replaced only once the new file is complete.
        format: Ignored (the registry passes it).
        steps: MD step number of each frame; defaults to the frame index.
        compression: HDF5 filter for positions (``"gzip"``, ``"lzf"`` or None).
        chunk_frames: Frames per HDF5 chunk.
        observables: Per-frame scalars or arrays, e.g. ``{"potential_energy": e_eV}``.
    """
    st = np.arange(traj.n_frames, dtype=np.int64) if steps is None else np.asarray(steps, np.int64)
    if st.shape != (traj.n_frames,):
        raise TrajectoryError(f"steps must have {traj.n_frames} entries", path=path)
    with atomic_path(path, suffix=".h5md.tmp") as tmp, h5py.File(tmp, "w") as f:
        _write_new(f, traj, st, traj.times_ps, compression, chunk_frames, observables)


def append_frames(
    path: str | os.PathLike[str],
    traj: Trajectory,
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    observables: Mapping[str, np.ndarray] | None = None,
    compression: str | None = "gzip",
    chunk_frames: int = 64,
) -> None:
    """Append frames to an H5MD file, creating it (atomically) when it does not exist.

    The appended frames continue the time axis: frame *k* of ``traj`` gets the time of the last
    stored frame plus (k + 1) timesteps. Positions must be unwrapped and continue the stored path
    (MD writes them so). The file is closed after every call, so readers see complete frames.

    Raises:
        TrajectoryError: If the atoms, species, timestep or cell kind do not match the file.
    """
    p = Path(path)
    if not p.exists():
        write(
            traj,
            p,
            steps=steps,
            compression=compression,
            chunk_frames=chunk_frames,
            observables=observables,
        )
        return
    try:
        f = h5py.File(p, "r+")
    except OSError as exc:
        raise TrajectoryError(f"cannot open for appending ({exc})", path=p) from None
    with f:
        pos = f["particles/all/position"]
        n_atoms = pos["value"].shape[1]
        if n_atoms != traj.n_atoms:
            raise TrajectoryError(
                f"file has {n_atoms} atoms, new frames have {traj.n_atoms}", path=p
            )
        from ase.data import atomic_numbers

        z = np.array([atomic_numbers[s] for s in traj.symbols])
        if not np.array_equal(z, f["particles/all/species"][()]):
            raise TrajectoryError("species of the new frames differ from the file", path=p)
        par = f["parameters/solidion"].attrs if "parameters/solidion" in f else {}
        dt = float(par.get("timestep_fs", traj.timestep_fs))
        if not np.isclose(dt, traj.timestep_fs, rtol=1e-9):
            raise TrajectoryError(
                f"timestep {traj.timestep_fs} fs differs from the file's {dt} fs", path=p
            )
        edges = f["particles/all/box/edges"]
        series = isinstance(edges, h5py.Group)
        if not series and not (
            not traj.variable_cell and np.allclose(edges[()], traj.cell, rtol=0, atol=1e-12)
        ):
            raise TrajectoryError("file has a fixed cell; the new frames' cell differs", path=p)
        n0 = pos["value"].shape[0]
        last_step = int(pos["step"][n0 - 1])
        last_time = float(pos["time"][n0 - 1])
        k = np.arange(1, traj.n_frames + 1)
        st = last_step + k if steps is None else np.asarray(steps, np.int64)
        times = last_time + k * traj.timestep_fs / FS_PER_PS
        _extend(pos, traj.positions, st, times)
        if series:
            _extend(edges, np.asarray(traj.cells), st, times)
        for name, values in (observables or {}).items():
            obs = f.require_group("observables")
            arr = np.asarray(values, dtype=np.float64)
            if name not in obs:
                raise TrajectoryError(f"observable {name!r} is not in the file", path=p)
            _extend(obs[name], arr, st, times)


def n_frames(path: str | os.PathLike[str]) -> int:
    """Number of stored frames, without reading them (0 when the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return 0
    try:
        with h5py.File(p, "r") as f:
            return int(f["particles/all/position/value"].shape[0])
    except (OSError, KeyError) as exc:
        raise TrajectoryError(f"not a readable H5MD trajectory ({exc})", path=p) from None


def truncate(path: str | os.PathLike[str], n_frames: int) -> None:
    """Drop every frame after the first ``n_frames`` (positions, cell series, observables).

    Used when an MD run resumes from a checkpoint: frames written after the checkpoint was
    taken would otherwise be duplicated by the resumed run.

    Raises:
        TrajectoryError: If the file cannot be opened or holds fewer than ``n_frames`` frames.
    """
    p = Path(path)
    try:
        f = h5py.File(p, "r+")
    except OSError as exc:
        raise TrajectoryError(f"cannot open for truncation ({exc})", path=p) from None
    with f:
        pos = f["particles/all/position"]
        have = pos["value"].shape[0]
        if not 0 <= n_frames <= have:
            raise TrajectoryError(f"cannot keep {n_frames} frames: the file has {have}", path=p)
        groups = [pos]
        edges = f["particles/all/box/edges"]
        if isinstance(edges, h5py.Group):
            groups.append(edges)
        if "observables" in f:
            groups.extend(g for g in f["observables"].values() if isinstance(g, h5py.Group))
        for g in groups:
            for name in ("value", "step", "time"):
                if name in g:
                    g[name].resize(n_frames, axis=0)

"""Labelled structures (energy, forces, stress) for fine-tuning: readers, checks, splits.

Every reader converts, once, at the edge, into :class:`LabelledStructure`, whose units are
ASE's: total energy in eV, forces in eV/Å, stress in eV/Å³ in Voigt order
``(xx, yy, zz, yz, xz, xy)`` with **ASE's sign** (σ = (1/V) ∂E/∂ε: positive under tension,
negative under compression).

Formats (:data:`FORMATS`), chosen from the file name or ``format=``:

* ``extxyz`` — extended XYZ through ``ase.io``; labels from the calculator block ASE reads
  (``energy``, ``forces``, ``stress``), or from ``atoms.info``/``atoms.arrays`` keys named with
  ``energy_key=``/``forces_key=``/``stress_key=`` (e.g. ``REF_energy``); a ``virial``
  (W = −σV, the libAtoms convention) is turned into a stress when no stress is given;
* ``ase-db`` — an ASE database (``ase.db``), one row per structure;
* ``vasp-xml`` (``vasprun.xml``) and ``vasp-out`` (``OUTCAR``) — every ionic step, through ASE's
  VASP readers. VASP prints stress in kBar with the *pressure* sign (compression positive); ASE
  converts it, σ_ASE = −0.1 GPa/kBar × σ_VASP (``ase.io.vasp``: ``stress *= -0.1 * GPa``), and
  reorders OUTCAR's ``XX YY ZZ XY YZ ZX`` into Voigt order. The tests pin this against numbers
  written by hand into a vasprun.xml and an OUTCAR.

For files written by other tools, ``stress_unit=`` (``"eV/A3"``, ``"GPa"``, ``"kbar"``) and
``stress_sign=`` (``"ase"`` or ``"pressure"``) say what the file holds. A stress beyond
:data:`MAX_PLAUSIBLE_STRESS_EV_A3` (1 eV/Å³ ≈ 160 GPa) after conversion is refused: it almost
always means GPa or kBar read as eV/Å³.

Splits (:func:`split_dataset`) are reproducible from a seed, by structure or by *trajectory*
(``LabelledStructure.group``): frames of one MD run are near-duplicates of each other, so a
test split drawn from the same runs as the training split measures interpolation, not
transfer.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError

if TYPE_CHECKING:
    from ase import Atoms

__all__ = [
    "FORMATS",
    "MAX_PLAUSIBLE_STRESS_EV_A3",
    "DatasetSplit",
    "LabelledDataset",
    "LabelledStructure",
    "detect_format",
    "read_labelled",
    "split_dataset",
    "stress_to_ase",
    "write_labelled",
]

#: Largest |σ| component (eV/Å³) accepted after unit conversion (1 eV/Å³ = 160.2 GPa).
MAX_PLAUSIBLE_STRESS_EV_A3 = 1.0

#: 1 GPa and 1 kBar in eV/Å³ (ase.units.GPa = 1/160.21766...).
_GPA_EV_A3 = 1.0 / 160.21766208
_STRESS_UNITS: dict[str, float] = {
    "ev/a3": 1.0,
    "ev/å3": 1.0,
    "ev/å³": 1.0,
    "ev/a^3": 1.0,
    "gpa": _GPA_EV_A3,
    "kbar": 0.1 * _GPA_EV_A3,
    "kb": 0.1 * _GPA_EV_A3,
}
_STRESS_SIGNS = {"ase": 1.0, "pressure": -1.0}


def stress_to_ase(stress: Any, *, unit: str = "eV/A3", sign: str = "ase") -> np.ndarray:
    """A stress in any unit and sign convention → Voigt eV/Å³ with ASE's sign.

    Args:
        stress: Voigt ``(6,)`` (xx, yy, zz, yz, xz, xy) or a ``(3, 3)`` tensor.
        unit: ``"eV/A3"``, ``"GPa"`` or ``"kbar"``.
        sign: ``"ase"`` (σ = (1/V) ∂E/∂ε, tension positive) or ``"pressure"`` (compression
            positive, as VASP prints it and as a pressure is counted).

    Returns:
        float64 ``(6,)`` in eV/Å³, ASE's sign.

    Example:
        >>> stress_to_ase([10, 10, 10, 0, 0, 0], unit="kbar", sign="pressure").round(6)[:3]
        array([-0.006242, -0.006242, -0.006242])
    """
    factor = _STRESS_UNITS.get(str(unit).strip().lower())
    if factor is None:
        raise InputError(f"stress_unit: unknown unit {unit!r}; use eV/A3, GPa or kbar")
    direction = _STRESS_SIGNS.get(str(sign).strip().lower())
    if direction is None:
        raise InputError(f"stress_sign: {sign!r} is not 'ase' or 'pressure'")
    s = np.asarray(stress, dtype=np.float64)
    if s.shape == (3, 3):
        s = np.array([s[0, 0], s[1, 1], s[2, 2], (s[1, 2] + s[2, 1]) / 2, (s[0, 2] + s[2, 0]) / 2,
                      (s[0, 1] + s[1, 0]) / 2])  # fmt: skip
    elif s.shape == (9,):
        return stress_to_ase(s.reshape(3, 3), unit=unit, sign=sign)
    if s.shape != (6,):
        raise InputError(f"stress: expected 6 Voigt components or a 3x3 tensor, got {s.shape}")
    return s * factor * direction


@dataclass(frozen=True, eq=False)
class LabelledStructure:
    """One structure with its reference labels, in ASE units.

    Attributes:
        atoms: The structure (periodic cell, positions in Å). Treat as read-only.
        energy_eV: Total energy in eV.
        forces_eV_A: Forces, float64 ``(n_atoms, 3)`` in eV/Å.
        stress_eV_A3: Voigt stress ``(6,)`` in eV/Å³ with ASE's sign, or None when unlabelled.
        group: The trajectory (MD run, relaxation) the frame came from; splits by trajectory
            keep each group whole.
        source: The file it was read from.
        index: Its position in that file (0-based frame or row).
    """

    atoms: Atoms
    energy_eV: float
    forces_eV_A: np.ndarray
    stress_eV_A3: np.ndarray | None
    group: str
    source: str = ""
    index: int = 0

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.atoms)

    @property
    def energy_eV_atom(self) -> float:
        """Energy per atom in eV."""
        return self.energy_eV / len(self.atoms)

    @property
    def where(self) -> str:
        """``file, frame i`` for messages."""
        return f"{self.source}, frame {self.index}" if self.source else f"frame {self.index}"


@dataclass(frozen=True)
class LabelledDataset:
    """An ordered collection of labelled structures.

    Attributes:
        frames: The structures, in reading order.
    """

    frames: tuple[LabelledStructure, ...]

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self):
        return iter(self.frames)

    def __getitem__(self, i: int) -> LabelledStructure:
        return self.frames[i]

    @property
    def n_atoms(self) -> int:
        """Total number of atoms over all frames."""
        return sum(f.n_atoms for f in self.frames)

    @property
    def species(self) -> tuple[str, ...]:
        """Elements present, ordered by atomic number."""
        from ase.data import atomic_numbers

        found = {s for f in self.frames for s in f.atoms.get_chemical_symbols()}
        return tuple(sorted(found, key=atomic_numbers.__getitem__))

    @property
    def groups(self) -> tuple[str, ...]:
        """Trajectory groups in order of first appearance."""
        return tuple(dict.fromkeys(f.group for f in self.frames))

    @property
    def has_stress(self) -> bool:
        """Whether any frame carries a stress label."""
        return any(f.stress_eV_A3 is not None for f in self.frames)

    def subset(self, indices: Iterable[int]) -> LabelledDataset:
        """The frames at ``indices``, in that order."""
        return LabelledDataset(tuple(self.frames[i] for i in indices))

    def sha256(self) -> str:
        """Hex digest of every number the fine-tuning sees (species, cells, positions, labels).

        Two datasets with equal digests train the same model from the same seed.
        """
        h = hashlib.sha256()
        for f in self.frames:
            for arr in (
                f.atoms.numbers.astype(np.int64),
                np.asarray(f.atoms.cell.array, dtype=np.float64),
                np.asarray(f.atoms.pbc, dtype=np.int8),
                np.asarray(f.atoms.positions, dtype=np.float64),
                np.array([f.energy_eV], dtype=np.float64),
                np.asarray(f.forces_eV_A, dtype=np.float64),
                np.full(6, np.nan) if f.stress_eV_A3 is None else f.stress_eV_A3,
            ):
                h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Counts for run records: frames, atoms, species, groups, stress labels."""
        return {
            "n_frames": len(self),
            "n_atoms": self.n_atoms,
            "species": list(self.species),
            "groups": list(self.groups),
            "n_with_stress": sum(f.stress_eV_A3 is not None for f in self.frames),
            "sha256": self.sha256(),
        }

    @classmethod
    def concatenate(cls, parts: Iterable[LabelledDataset]) -> LabelledDataset:
        """One dataset holding the frames of ``parts`` in order."""
        return cls(tuple(f for p in parts for f in p.frames))


# -- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    name: str
    reader: Callable[..., list[Atoms]]
    matches: Callable[[str], bool]
    converts_stress: bool  # the ASE reader already turned the file's stress into ASE's
    description: str


def _read_ase(fmt: str) -> Callable[..., list[Atoms]]:
    def read(path: Path) -> list[Atoms]:
        from ase.io import read as ase_read

        out = ase_read(path, index=":", format=fmt)
        return list(out) if isinstance(out, list) else [out]

    return read


def _read_db(path: Path) -> list[Atoms]:
    import ase.db

    frames = []
    db = ase.db.connect(path, type="db", append=True)
    for row in db.select():
        atoms = row.toatoms(add_additional_information=True)
        atoms.info.update(dict(atoms.info.get("key_value_pairs", {})))
        frames.append(atoms)
    return frames


def _name(path: str) -> str:
    return Path(path).name.lower()


#: Registered formats: name → reader (anchor: ``ase/io/formats.py``).
FORMATS: dict[str, _Format] = {
    f.name: f
    for f in (
        _Format(
            "extxyz",
            _read_ase("extxyz"),
            lambda p: _name(p).endswith((".xyz", ".extxyz")),
            False,
            "extended XYZ (ase.io)",
        ),
        _Format("ase-db", _read_db, lambda p: _name(p).endswith(".db"), False, "ASE database"),
        _Format(
            "vasp-xml",
            _read_ase("vasp-xml"),
            lambda p: _name(p).endswith(".xml") and "vasprun" in _name(p),
            True,
            "VASP vasprun.xml, every ionic step",
        ),
        _Format(
            "vasp-out",
            _read_ase("vasp-out"),
            lambda p: "outcar" in _name(p),
            True,
            "VASP OUTCAR, every ionic step",
        ),
    )
}


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name for a file name (``*.xyz``/``*.extxyz``, ``*.db``, ``vasprun*.xml``,
    ``*OUTCAR*``).

    Raises:
        InputError: no format matches; the message lists them.
    """
    for fmt in FORMATS.values():
        if fmt.matches(os.fspath(path)):
            return fmt.name
    raise InputError(
        f"{path}: cannot tell the format from the file name; pass format= one of "
        f"{', '.join(FORMATS)}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _label(atoms: Atoms, key: str, kind: str) -> Any:
    """A label from the calculator results, else ``atoms.info``/``atoms.arrays``."""
    calc = atoms.calc
    results = getattr(calc, "results", {}) or {}
    if key in results and results[key] is not None:
        return results[key]
    store = atoms.arrays if kind == "per-atom" else atoms.info
    return store.get(key)


def _to_frame(
    atoms: Atoms,
    *,
    where: str,
    group: str,
    source: str,
    index: int,
    energy_key: str,
    forces_key: str,
    stress_key: str,
    stress_unit: str,
    stress_sign: str,
) -> LabelledStructure:
    n = len(atoms)
    if n == 0:
        raise InputError(f"{where}: the structure has no atoms")
    if not all(atoms.pbc) or atoms.cell.rank < 3:
        raise InputError(f"{where}: a labelled structure needs a periodic cell in 3 dimensions")
    energy = _label(atoms, energy_key, "global")
    if energy is None:
        raise InputError(f"{where}: no energy label ({energy_key!r}); fine-tuning needs energies")
    try:
        energy = float(np.asarray(energy, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise InputError(f"{where}: energy label {energy_key!r} is not a number") from None
    forces = _label(atoms, forces_key, "per-atom")
    if forces is None:
        raise InputError(f"{where}: no force labels ({forces_key!r}); fine-tuning needs forces")
    forces = np.array(forces, dtype=np.float64)
    if forces.shape != (n, 3):
        raise InputError(f"{where}: forces have shape {forces.shape}, expected ({n}, 3)")
    stress = _label(atoms, stress_key, "global")
    if stress is not None:
        stress = stress_to_ase(stress, unit=stress_unit, sign=stress_sign)
    elif "virial" in atoms.info:
        virial = stress_to_ase(atoms.info["virial"])  # W = −σV, eV
        stress = -virial / atoms.get_volume()
    if not math.isfinite(energy) or not np.all(np.isfinite(forces)):
        raise InputError(f"{where}: energy or forces contain NaN or infinite values")
    if stress is not None:
        if not np.all(np.isfinite(stress)):
            raise InputError(f"{where}: stress contains NaN or infinite values")
        big = float(np.abs(stress).max())
        if big > MAX_PLAUSIBLE_STRESS_EV_A3:
            raise InputError(
                f"{where}: |stress| up to {big:.3g} eV/Å³ (= {big / _GPA_EV_A3:.3g} GPa) is "
                "implausible; the file probably stores GPa or kBar — pass stress_unit='GPa' or "
                "'kbar' (and stress_sign='pressure' for VASP-style numbers)"
            )
    clean = atoms.copy()
    clean.calc = None
    for key in list(clean.arrays):
        if key not in ("numbers", "positions"):
            del clean.arrays[key]
    clean.info = {}
    return LabelledStructure(
        atoms=clean,
        energy_eV=energy,
        forces_eV_A=forces,
        stress_eV_A3=stress,
        group=group,
        source=source,
        index=index,
    )


def read_labelled(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    group: str | None = None,
    energy_key: str = "energy",
    forces_key: str = "forces",
    stress_key: str = "stress",
    stress_unit: str = "eV/A3",
    stress_sign: str = "ase",
) -> LabelledDataset:
    """Read labelled structures from one file.

    Args:
        path: The file.
        format: A name from :data:`FORMATS`; guessed from the file name when omitted.
        group: Trajectory group of every frame. Default: ``atoms.info["trajectory"]`` (extxyz)
            or the row's ``trajectory`` key (ase-db) when present, else the file path (one VASP
            run is one trajectory).
        energy_key: Key of the total energy in eV (calculator results first, then
            ``atoms.info``).
        forces_key: Key of the forces in eV/Å (calculator results, then ``atoms.arrays``).
        stress_key: Key of the stress (calculator results, then ``atoms.info``).
        stress_unit: Unit of the stress in the file (extxyz and ase-db only).
        stress_sign: ``"ase"`` or ``"pressure"`` (extxyz and ase-db only).

    Returns:
        The frames in file order.

    Raises:
        InputError: missing file, unknown format, a file ASE cannot parse, a frame without
            energy or forces, forces of the wrong shape, NaN labels, an implausible stress;
            the message names the file and the frame.
    """
    p = Path(path)
    name = format or detect_format(p)
    fmt = FORMATS.get(name)
    if fmt is None:
        raise InputError(f"{p}: unknown format {name!r}; known: {', '.join(FORMATS)}")
    if not p.is_file():
        raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: is not a file")
    if fmt.converts_stress and (
        stress_unit.lower() not in ("ev/a3", "ev/å³", "ev/å3", "ev/a^3") or stress_sign != "ase"
    ):
        raise InputError(
            f"{p}: stress_unit/stress_sign apply to extxyz and ase-db files; ASE's {name} reader "
            "already converts VASP's kBar (pressure sign) into eV/Å³ with ASE's sign"
        )
    try:
        images = fmt.reader(p)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: cannot be read as {name} ({_first_line(exc)})") from None
    if not images:
        raise InputError(f"{p}: holds no structures")
    frames = []
    for i, atoms in enumerate(images):
        g = group
        if g is None:
            g = str(atoms.info.get("trajectory", "")) or str(p)
        frames.append(
            _to_frame(
                atoms,
                where=f"{p}, frame {i}",
                group=g,
                source=str(p),
                index=i,
                energy_key=energy_key,
                forces_key=forces_key,
                stress_key=stress_key,
                stress_unit=stress_unit,
                stress_sign=stress_sign,
            )
        )
    return LabelledDataset(tuple(frames))


def read_many(paths: Sequence[str | os.PathLike[str]], **options: Any) -> LabelledDataset:
    """:func:`read_labelled` on each file, concatenated in order (same options for all)."""
    if not paths:
        raise InputError("data: give at least one labelled-data file")
    return LabelledDataset.concatenate(read_labelled(p, **options) for p in paths)


def write_labelled(
    frames: Iterable[LabelledStructure] | LabelledDataset, path: str | os.PathLike[str]
) -> Path:
    """Write labelled frames as extended XYZ (atomically: a temporary file renamed into place).

    Each frame's ``info`` holds ``trajectory`` (its group), ``source`` and ``frame``; energy,
    forces and stress (eV, eV/Å, eV/Å³ with ASE's sign) go in the calculator block, which
    :func:`read_labelled` reads back.

    Returns:
        The path written.
    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from solidion.io._atomic import atomic_path

    images = []
    for f in frames:
        atoms = f.atoms.copy()
        atoms.info = {"trajectory": f.group, "source": f.source, "frame": int(f.index)}
        results: dict[str, Any] = {"energy": f.energy_eV, "forces": f.forces_eV_A}
        if f.stress_eV_A3 is not None:
            results["stress"] = f.stress_eV_A3
        atoms.calc = SinglePointCalculator(atoms, **results)
        images.append(atoms)
    out = Path(path)
    with atomic_path(out, suffix=".extxyz.tmp") as tmp:
        write(tmp, images, format="extxyz")
    return out


# -- splits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSplit:
    """Train / validation / test parts of a dataset.

    Attributes:
        train: Frames the weights are fitted to.
        validation: Frames for early stopping (and the trust threshold's calibration).
        test: Frames for the before/after errors; never seen during training.
        by: ``"structure"`` or ``"trajectory"``.
        seed: The seed of the shuffle.
        fractions: Requested (train, validation, test) fractions.
    """

    train: LabelledDataset
    validation: LabelledDataset
    test: LabelledDataset
    by: str
    seed: int
    fractions: tuple[float, float, float] = field(default=(0.8, 0.1, 0.1))

    def to_dict(self) -> dict[str, Any]:
        """Counts and groups of each part, for the checkpoint's metadata."""
        return {
            "by": self.by,
            "seed": self.seed,
            "fractions": list(self.fractions),
            **{
                name: {"n_frames": len(part), "groups": list(part.groups)}
                for name, part in (
                    ("train", self.train),
                    ("validation", self.validation),
                    ("test", self.test),
                )
            },
        }


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3:
        raise InputError(f"fractions: expected (train, validation, test), got {fractions!r}")
    fr = tuple(float(x) for x in fractions)
    if any(not math.isfinite(x) or x < 0 for x in fr) or fr[0] <= 0:
        raise InputError(f"fractions: must be ≥ 0 with a positive train part, got {fractions!r}")
    total = sum(fr)
    return (fr[0] / total, fr[1] / total, fr[2] / total)


def split_dataset(
    dataset: LabelledDataset,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    by: str = "structure",
    seed: int = 0,
) -> DatasetSplit:
    """Split a dataset into train, validation and test parts, reproducibly.

    Args:
        dataset: The labelled frames.
        fractions: Shares of (train, validation, test), normalised to sum to one. A non-zero
            share gets at least one frame (``by="structure"``) or one group
            (``by="trajectory"``).
        by: ``"structure"`` shuffles frames; ``"trajectory"`` shuffles whole groups
            (:attr:`LabelledStructure.group`) and fills test, then validation, up to their
            share of frames, so no trajectory contributes to two parts.
        seed: Seed of the shuffle (``numpy.random.default_rng``).

    Returns:
        The split; each part keeps the dataset's frame order.

    Raises:
        InputError: bad fractions, too few frames or groups for the non-zero parts.

    Example:
        >>> from ase.build import bulk
        >>> frames = [LabelledStructure(bulk("Cu"), 0.0, np.zeros((1, 3)), None, f"g{i % 4}")
        ...           for i in range(8)]
        >>> s = split_dataset(LabelledDataset(tuple(frames)), (2, 1, 1), by="trajectory", seed=1)
        >>> len(s.train), len(s.validation), len(s.test)
        (4, 2, 2)
        >>> set(s.train.groups) & set(s.test.groups)
        set()
    """
    fr = _check_fractions(fractions)
    if by not in ("structure", "trajectory"):
        raise InputError(f"by: expected 'structure' or 'trajectory', got {by!r}")
    n = len(dataset)
    rng = np.random.default_rng(seed)
    wanted = [i for i in (1, 2) if fr[i] > 0]
    if by == "structure":
        if n < 1 + len(wanted):
            raise InputError(f"dataset: {n} frame(s) cannot fill {1 + len(wanted)} non-empty parts")
        order = rng.permutation(n)
        sizes = [0, 0, 0]
        for i in wanted:
            sizes[i] = max(1, round(fr[i] * n))
        while sizes[1] + sizes[2] > n - 1:  # keep at least one training frame
            sizes[1 if sizes[1] >= sizes[2] else 2] -= 1
        test = order[: sizes[2]]
        val = order[sizes[2] : sizes[2] + sizes[1]]
        train = order[sizes[2] + sizes[1] :]
        parts = [np.sort(train), np.sort(val), np.sort(test)]
    else:
        groups = dataset.groups
        if len(groups) < 1 + len(wanted):
            raise InputError(
                f"dataset: split by trajectory needs at least {1 + len(wanted)} trajectories "
                f"(one per non-empty part), found {len(groups)}: {', '.join(groups)}; split by "
                "structure instead, or label the frames with their trajectory"
            )
        members = {g: [i for i, f in enumerate(dataset.frames) if f.group == g] for g in groups}
        order = [groups[k] for k in rng.permutation(len(groups))]
        chosen: dict[int, list[str]] = {0: [], 1: [], 2: []}
        pos = 0
        for part in (2, 1):
            if fr[part] <= 0:
                continue
            target = fr[part] * n
            got = 0
            reserve = (1 if part == 2 and fr[1] > 0 else 0) + 1  # groups left for later parts
            while pos < len(order) - reserve and (not chosen[part] or got < target):
                nxt = len(members[order[pos]])
                if chosen[part] and abs(got + nxt - target) > abs(got - target):
                    break
                chosen[part].append(order[pos])
                got += nxt
                pos += 1
        chosen[0] = order[pos:]
        parts = [np.sort([i for g in chosen[k] for i in members[g]]).astype(int) for k in (0, 1, 2)]
    train_ds, val_ds, test_ds = (dataset.subset(p.tolist()) for p in parts)
    return DatasetSplit(train_ds, val_ds, test_ds, by, int(seed), fr)


def groups_of(frames: Iterable[LabelledStructure]) -> Mapping[str, int]:
    """Frames per group, in order of first appearance."""
    out: dict[str, int] = {}
    for f in frames:
        out[f.group] = out.get(f.group, 0) + 1
    return out

"""Existing structures as starting points: a crystal file, repeated into a supercell."""

from __future__ import annotations

import itertools
import math
import numbers
import os
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from solidion.errors import InputError

__all__ = ["from_structure", "supercell_repeat"]


def _widths_A(cell: np.ndarray) -> np.ndarray:
    """Perpendicular widths of a cell (distance between opposite faces), shape (3,)."""
    volume = abs(float(np.linalg.det(cell)))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    return volume / areas


def supercell_repeat(cell: np.ndarray, n_atoms: int, target: int) -> tuple[int, int, int]:
    """The repeat (n1, n2, n3) of a cell of ``n_atoms`` atoms closest to ``target`` atoms.

    Candidates are near-isotropic: for each edge length ℓ of a roughly cubic supercell, each
    n_k is the floor or the ceiling of ℓ / w_k (w_k the perpendicular widths), at least 1.
    Among them the atom count closest to ``target`` wins; ties go to the most compact
    supercell (the largest smallest width), then to the smaller count.

    Args:
        cell: Lattice vectors as rows (3, 3).
        n_atoms: Atoms in the cell (> 0).
        target: Wanted atom count (> 0).

    Returns:
        The repeat along each lattice vector.

    Example:
        >>> supercell_repeat(np.eye(3) * 5.64, 8, 64)
        (2, 2, 2)
        >>> supercell_repeat(np.diag([4.0, 4.0, 8.0]), 4, 40)
        (3, 3, 1)
    """
    w = _widths_A(np.asarray(cell, dtype=np.float64))
    n_max = math.ceil((2.0 * target / n_atoms) ** (1.0 / 3.0) * w.max() / w.min()) + 2
    lengths = sorted({(k + 0.5) * wk for wk in w for k in range(n_max + 1)} | set(w))

    def key(rep: tuple[int, ...]) -> tuple[int, float, int]:
        count = n_atoms * rep[0] * rep[1] * rep[2]
        return abs(count - target), -float((np.array(rep) * w).min()), count

    candidates = {
        rep
        for ell in lengths
        for rep in itertools.product(
            *[{max(1, math.floor(ell / wk)), max(1, math.ceil(ell / wk))} for wk in w]
        )
    }
    n1, n2, n3 = min(sorted(candidates), key=key)
    return n1, n2, n3


def from_structure(
    path_or_atoms: str | os.PathLike[str] | Atoms,
    supercell: int | tuple[int, int, int] | None = None,
    *,
    format: str | None = None,
) -> Atoms:
    """An existing structure (usually a crystal, to be amorphised by the melt) as ``ase.Atoms``.

    Args:
        path_or_atoms: A structure file that ``ase.io.read`` understands (CIF, POSCAR, extxyz,
            ...; the last frame of a trajectory), or an ``ase.Atoms`` (copied).
        supercell: A repeat ``(n1, n2, n3)`` of positive integers, or a target atom count for
            which the near-isotropic repeat closest to it is chosen (:func:`supercell_repeat`).
        format: The ``ase.io`` format name, when the file extension does not tell it.

    Returns:
        The structure with ``pbc=True`` and ``atoms.info["solidion"]`` naming the source and
        the repeat.

    Raises:
        InputError: If the file does not exist or cannot be read (the message names it), the
            structure is empty or has no three-dimensional cell, or ``supercell`` is invalid.

    Example:
        >>> from ase.build import bulk
        >>> atoms = from_structure(bulk("NaCl", "rocksalt", a=5.64, cubic=True), supercell=64)
        >>> len(atoms), atoms.info["solidion"]["supercell"]
        (64, [2, 2, 2])
    """
    if isinstance(path_or_atoms, Atoms):
        atoms = path_or_atoms.copy()
        source = "Atoms"
    elif isinstance(path_or_atoms, str | os.PathLike):
        path = Path(path_or_atoms)
        source = str(path)
        if not path.is_file():
            raise InputError(f"structure file '{path}' does not exist or is not a file")
        try:
            read = ase.io.read(path, format=format)
        except Exception as exc:  # ase raises many types for unreadable files
            raise InputError(
                f"cannot read structure file '{path}': {type(exc).__name__}: {exc}"
            ) from exc
        atoms = read[-1] if isinstance(read, list) else read
    else:
        raise InputError(
            f"path_or_atoms must be a file path or an ase.Atoms, got {type(path_or_atoms).__name__}"
        )
    if len(atoms) == 0:
        raise InputError(f"structure from {source} holds no atoms")
    if abs(atoms.cell.volume) < 1e-9:
        raise InputError(
            f"structure from {source} has no three-dimensional cell; a periodic start needs one"
        )
    atoms.pbc = True
    if supercell is None:
        rep = (1, 1, 1)
    elif isinstance(supercell, numbers.Integral) and not isinstance(supercell, bool):
        if supercell <= 0:
            raise InputError(f"supercell must be a positive atom count, got {supercell}")
        rep = supercell_repeat(atoms.cell[:], len(atoms), int(supercell))
    elif (
        isinstance(supercell, tuple | list)
        and len(supercell) == 3
        and all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
            for n in supercell
        )
    ):
        rep = (int(supercell[0]), int(supercell[1]), int(supercell[2]))
    else:
        raise InputError(
            f"supercell must be three positive integers or a positive atom count, got {supercell!r}"
        )
    if rep != (1, 1, 1):
        atoms = atoms.repeat(rep)
    atoms.info["solidion"] = {
        "builder": "from_structure",
        "source": source,
        "supercell": list(rep),
    }
    return atoms

"""A cheap, deterministic local-environment descriptor: smoothed partial neighbour densities.

For atom *i* and neighbour species *s*, channel *k* is the Gaussian-smoothed number density of
*s*-atoms at distance μ_k, inside a smooth cutoff:

.. math::

    G_{i,s,k} = \\frac{1}{4\\pi\\mu_k^2\\,w\\sqrt{2\\pi}}
        \\sum_{j \\ne i,\\; Z_j = s,\\; r_{ij} < r_c}
        \\exp\\!\\left(-\\frac{(r_{ij}-\\mu_k)^2}{2w^2}\\right) f_c(r_{ij}),
    \\qquad f_c(r) = \\tfrac12\\left[\\cos(\\pi r / r_c) + 1\\right]

with μ_k evenly spaced on [r_min, r_c] and w their spacing. These are Behler–Parrinello radial
symmetry functions (J. Behler and M. Parrinello, Phys. Rev. Lett. 98, 146401 (2007);
J. Behler, J. Chem. Phys. 134, 074106 (2011)) divided by the shell volume, so a channel reads
as a local partial density in Å⁻³ (≈ ρ_s where the environment looks uniform, like ρ_s g(r)).
They are invariant to translation, rotation and the order of atoms, continuous in the
positions, and need one neighbour list per frame (``ase.neighborlist.neighbor_list``), so
thousands of frames are described in seconds. They see radial order only (no angles); that is
enough to tell a compressed, melted or chemically different environment from the training
data, which is what the trust check and the frame selection need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError

if TYPE_CHECKING:
    from ase import Atoms

__all__ = ["RadialDescriptor", "frame_descriptors"]


@dataclass(frozen=True)
class RadialDescriptor:
    """Per-atom smoothed partial neighbour densities (see the module docstring).

    Args:
        species: Neighbour species, one block of channels each (order matters).
        cutoff_A: Cutoff radius r_c in Å.
        n_radial: Channels per species.
        r_min_A: First channel centre in Å (closer than any bond).

    Example:
        >>> from ase import Atoms
        >>> d = RadialDescriptor(("Li",), cutoff_A=4.0, n_radial=7, r_min_A=1.0)
        >>> pair = Atoms("Li2", positions=[[0, 0, 0], [2.0, 0, 0]], cell=[20, 20, 20], pbc=True)
        >>> x, unknown = d.environments(pair)
        >>> x.shape, bool(unknown.any())
        ((2, 7), False)
        >>> mu, w = d.centers_A[2], d.width_A  # the channel centred on the 2 Å bond:
        >>> expected = 0.5 / (4 * np.pi * mu**2 * w * np.sqrt(2 * np.pi))  # f_c(2 Å) = 1/2
        >>> bool(np.isclose(x[0, 2], expected)), bool(np.allclose(x[0], x[1]))
        (True, True)
    """

    species: tuple[str, ...]
    cutoff_A: float = 5.0
    n_radial: int = 12
    r_min_A: float = 1.0

    def __post_init__(self) -> None:
        from ase.data import atomic_numbers

        object.__setattr__(self, "species", tuple(str(s) for s in self.species))
        if not self.species:
            raise InputError("species: the descriptor needs at least one species")
        unknown = [s for s in self.species if s not in atomic_numbers or s == "X"]
        if unknown:
            raise InputError(f"species: unknown element(s) {', '.join(unknown)}")
        if len(set(self.species)) != len(self.species):
            raise InputError(f"species: listed twice in {self.species}")
        if not (0 < self.r_min_A < self.cutoff_A):
            raise InputError(
                f"cutoff_A, r_min_A: need 0 < r_min_A < cutoff_A, got {self.r_min_A}, "
                f"{self.cutoff_A}"
            )
        if int(self.n_radial) < 2:
            raise InputError(f"n_radial: need at least 2 channels, got {self.n_radial}")

    @property
    def centers_A(self) -> np.ndarray:
        """Channel centres μ_k in Å."""
        return np.linspace(self.r_min_A, self.cutoff_A, int(self.n_radial))

    @property
    def width_A(self) -> float:
        """Gaussian width w in Å (the spacing of the centres)."""
        return float((self.cutoff_A - self.r_min_A) / (int(self.n_radial) - 1))

    @property
    def n_features(self) -> int:
        """Length of one atom's descriptor: species × channels."""
        return len(self.species) * int(self.n_radial)

    def environments(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors of every atom of one structure.

        Args:
            atoms: A periodic (or not) structure.

        Returns:
            ``(x, unknown)``: float64 ``(n_atoms, n_features)`` in Å⁻³, and a boolean mask of
            the atoms whose own species or a neighbour's (within the cutoff) is not in
            :attr:`species` — their environments cannot be compared with the reference.
        """
        from ase.neighborlist import neighbor_list

        n = len(atoms)
        mu = self.centers_A
        w = self.width_A
        index = {s: k for k, s in enumerate(self.species)}
        symbols = atoms.get_chemical_symbols()
        kind = np.array([index.get(s, -1) for s in symbols], dtype=np.intp)
        i, j, d = neighbor_list("ijd", atoms, float(self.cutoff_A))
        unknown = kind < 0
        if i.size:
            np.logical_or.at(unknown, i, kind[j] < 0)
        keep = kind[j] >= 0
        i, j, d = i[keep], j[keep], d[keep]
        fc = 0.5 * (np.cos(np.pi * d / self.cutoff_A) + 1.0)
        g = np.exp(-((d[:, None] - mu[None, :]) ** 2) / (2 * w * w)) * fc[:, None]
        x = np.zeros((n, len(self.species), int(self.n_radial)))
        np.add.at(x, (i, kind[j]), g)
        x /= 4 * np.pi * mu**2 * w * np.sqrt(2 * np.pi)
        return x.reshape(n, -1), unknown

    def to_dict(self) -> dict[str, Any]:
        """JSON/checkpoint form."""
        return {
            "kind": "radial-density",
            "species": list(self.species),
            "cutoff_A": float(self.cutoff_A),
            "n_radial": int(self.n_radial),
            "r_min_A": float(self.r_min_A),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RadialDescriptor:
        """Inverse of :meth:`to_dict`."""
        if d.get("kind", "radial-density") != "radial-density":
            raise InputError(f"descriptor: unknown kind {d.get('kind')!r}")
        try:
            return cls(
                tuple(d["species"]), float(d["cutoff_A"]), int(d["n_radial"]), float(d["r_min_A"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"descriptor: malformed settings {dict(d)!r} ({exc})") from None


def frame_descriptors(
    frames: Sequence[Atoms], descriptor: RadialDescriptor | None = None
) -> np.ndarray:
    """One vector per structure: mean and spread of its atoms' descriptors, per centre species.

    For each centre species *c* of ``descriptor.species`` the block is the mean and the standard
    deviation over the *c*-atoms of :meth:`RadialDescriptor.environments` (zeros when the frame
    has none), concatenated over *c*. Euclidean distances between these vectors compare whole
    frames, for farthest-point sampling.

    Args:
        frames: Structures.
        descriptor: Default: species of all frames (by atomic number), 5 Å, 12 channels.

    Returns:
        float64 ``(n_frames, 2 · n_species · n_features)``.
    """
    frames = list(frames)
    if descriptor is None:
        descriptor = RadialDescriptor(species_of(frames))
    blocks = []
    for atoms in frames:
        x, _ = descriptor.environments(atoms)
        symbols = np.array(atoms.get_chemical_symbols())
        parts = []
        for c in descriptor.species:
            sel = x[symbols == c]
            if len(sel):
                parts += [sel.mean(axis=0), sel.std(axis=0)]
            else:
                parts += [np.zeros(descriptor.n_features)] * 2
        blocks.append(np.concatenate(parts))
    return np.array(blocks).reshape(len(frames), -1)


def species_of(frames: Iterable[Atoms]) -> tuple[str, ...]:
    """Elements present in any of ``frames``, ordered by atomic number."""
    from ase.data import atomic_numbers

    found = {s for a in frames for s in a.get_chemical_symbols()}
    if not found:
        raise InputError("frames: no atoms")
    return tuple(sorted(found, key=atomic_numbers.__getitem__))

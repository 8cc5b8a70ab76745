"""Coordination polyhedra of a central cation and the network they form by sharing anions.

**Polyhedra.** The ligands of a centre M (default: the trivalent metal, Al in the oxychlorides)
are the anions within the cutoff of their pair (M–Cl, M–O; by default the first minimum of
g_M-X(r), see :func:`~solidion.structure.neighbors.default_cutoffs`). Each polyhedron is named by
its ligand composition in the order of ``ligands`` with zero counts left out: tetrahedra read
M X_n O_(4−n) as ``Cl4``, ``Cl3O1``, ``Cl2O2``, ``Cl1O3``, ``O4``, and other coordination
numbers show in the label (``Cl4O1`` is five-fold) and in the coordination histogram.

**Fragments.** A ligand bonded to two or more M *bridges* them. The M–anion–M network is the
bipartite graph of the M and their bridging ligands, its edges the M–ligand bonds; its connected
components are the fragments, of size = number of M (an M without bridges is a fragment of size
one). Two M are in one fragment when a path of shared ligands joins them (corner-, edge- and
face-sharing alike). The topology of each fragment's graph gives its class:

- ``isolated``: one M;
- ``chain``: a tree whose nodes all have degree ≤ 2 (corner-sharing M–X–M–X–M ...);
- ``branched``: a tree with a node of degree ≥ 3 (an M with three bridges, or a ligand shared by
  three M such as an OAl3 tricluster);
- ``ring``: the graph has a cycle (edges ≥ nodes), e.g. three corner-sharing tetrahedra closed
  into an Al3O3 ring, or two edge-sharing tetrahedra (the Al2Cl2 four-ring of Al2Cl6);
- ``infinite``: a cycle that closes only through a periodic image, i.e. a chain or network
  bonded to its own image across the cell (it would otherwise be miscounted as a ring).

The graph is the bipartite one rather than the M–M graph ("share at least one ligand") because
there a ligand shared by three M becomes a triangle, a false ring. Components are found with
:func:`scipy.sparse.csgraph.connected_components`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from solidion.chemistry import FORMAL_CHARGES
from solidion.errors import InputError
from solidion.structure.neighbors import default_cutoffs, environment_label, ligand_shells, wrap
from solidion.structure.rdf import max_rdf_radius
from solidion.trajectory import Trajectory

__all__ = [
    "FRAGMENT_CLASSES",
    "FragmentResult",
    "PolyhedraResult",
    "default_center",
    "fragments",
    "polyhedra",
]

#: Fragment classes, in the order of :attr:`FragmentResult.per_frame_classes`.
FRAGMENT_CLASSES = ("isolated", "chain", "branched", "ring", "infinite")

#: Label of a centre with no ligand within the cutoffs.
NO_LIGANDS = "none"


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PolyhedraResult:
    """Ligand composition of the coordination polyhedra of one central species.

    Attributes:
        center: Central species M.
        ligands: Ligand species, in label order.
        cutoffs_A: M–ligand cutoff per ligand species, Å.
        labels: Polyhedron classes seen, by coordination number, then richest in the first
            ligand (``Cl4``, ``Cl3O1``, ..., ``O4``, ``Cl4O1``, ...).
        fractions: ``{label: fraction}`` of all polyhedra over the frames used (sums to 1).
        per_frame_fractions: Fractions per frame, (n_frames, n_labels), columns as ``labels``.
        mean_coordination: Mean number of ligands per M.
        coordination_histogram: ``{n: fraction of M with n ligands}``.
        mean_ligands: ``{ligand: mean number per M}``.
        n_centers: Number of M atoms.
        frames: Frame indices used.
    """

    center: str
    ligands: tuple[str, ...]
    cutoffs_A: dict[str, float]
    labels: tuple[str, ...]
    fractions: dict[str, float]
    per_frame_fractions: np.ndarray
    mean_coordination: float
    coordination_histogram: dict[int, float]
    mean_ligands: dict[str, float]
    n_centers: int
    frames: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames used."""
        return int(self.frames.size)

    def to_dict(self) -> dict[str, object]:
        """JSON form; ``center``, ``fractions`` and ``mean_coordination`` are the stable keys."""
        return {
            "center": self.center,
            "ligands": list(self.ligands),
            "cutoffs_A": dict(self.cutoffs_A),
            "fractions": dict(self.fractions),
            "mean_coordination": self.mean_coordination,
            "coordination_histogram": {str(k): v for k, v in self.coordination_histogram.items()},
            "mean_ligands": dict(self.mean_ligands),
            "n_centers": self.n_centers,
            "n_frames": self.n_frames,
            "per_frame_fractions": {
                lab: self.per_frame_fractions[:, k].tolist() for k, lab in enumerate(self.labels)
            },
        }


@dataclass(frozen=True, eq=False)
class FragmentResult:
    """Fragments of M polyhedra joined by shared ligands.

    Attributes:
        center: Central species M.
        ligands: Ligand species.
        cutoffs_A: M–ligand cutoff per ligand species, Å.
        size_histogram: ``{size: mean number of fragments of that size per frame}``, size in M.
        mean_size: Number-average fragment size (M per fragment, over all frames).
        weight_mean_size: Weight-average size Σ s² n_s / Σ s n_s: the mean size of the
            fragment a randomly picked M belongs to.
        max_size: Largest fragment seen.
        bridging: ``{ligand: fraction of the atoms of that species bonded to ≥ 2 M}``.
        classes: ``{class: mean number of fragments per frame}`` over :data:`FRAGMENT_CLASSES`.
        per_frame_sizes: Fragment counts per frame, (n_frames, max_size + 1); column s counts
            fragments of s M.
        per_frame_classes: Class counts per frame, (n_frames, len(FRAGMENT_CLASSES)).
        per_frame_bridging: Bridging fractions per frame, (n_frames, n_ligands).
        n_centers: Number of M atoms.
        frames: Frame indices used.
    """

    center: str
    ligands: tuple[str, ...]
    cutoffs_A: dict[str, float]
    size_histogram: dict[int, float]
    mean_size: float
    weight_mean_size: float
    max_size: int
    bridging: dict[str, float]
    classes: dict[str, float]
    per_frame_sizes: np.ndarray
    per_frame_classes: np.ndarray
    per_frame_bridging: np.ndarray
    n_centers: int
    frames: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames used."""
        return int(self.frames.size)

    def to_dict(self) -> dict[str, object]:
        """JSON form; ``size_histogram`` (string keys), ``mean_size``, ``bridging``, ``classes``."""
        return {
            "center": self.center,
            "ligands": list(self.ligands),
            "cutoffs_A": dict(self.cutoffs_A),
            "size_histogram": {str(k): v for k, v in self.size_histogram.items()},
            "mean_size": self.mean_size,
            "weight_mean_size": self.weight_mean_size,
            "max_size": self.max_size,
            "bridging": dict(self.bridging),
            "classes": dict(self.classes),
            "n_centers": self.n_centers,
            "n_frames": self.n_frames,
        }


# -- set-up shared by both analyses ------------------------------------------------------------
@dataclass(frozen=True)
class _Setup:
    center: str
    ligands: tuple[str, ...]
    center_idx: np.ndarray
    ligand_idx: dict[str, np.ndarray]
    cutoffs_A: dict[str, float]
    frames: np.ndarray


def default_center(traj: Trajectory, ligands: Sequence[str]) -> str:
    """The species of largest positive formal charge that is not a ligand (Al in Li–Al–Cl–O).

    Raises:
        InputError: If no non-ligand species has a positive formal charge.
    """
    best, charge = None, 0
    for s in traj.species:
        if s not in ligands and FORMAL_CHARGES.get(s, 0) > charge:
            best, charge = s, FORMAL_CHARGES[s]
    if best is None:
        raise InputError(
            f"no cation to centre polyhedra on among {', '.join(traj.species)}; pass center="
        )
    return best


def _frames(traj: Trajectory, frames: Sequence[int] | None, every: int) -> np.ndarray:
    if every < 1:
        raise InputError(f"every must be a positive integer, got {every}")
    if frames is None:
        out = np.arange(traj.n_frames)
    else:
        out = np.asarray(frames, dtype=np.intp).ravel()
        if out.size and (out.min() < -traj.n_frames or out.max() >= traj.n_frames):
            raise InputError(f"frames must index the {traj.n_frames} frames of the trajectory")
        out = out % traj.n_frames
    out = out[::every]
    if out.size == 0:
        raise InputError("frames selects no frames")
    return out


def _setup(
    traj: Trajectory,
    center: str | None,
    ligands: Sequence[str],
    cutoffs: Mapping[str, float] | None,
    frames: Sequence[int] | None,
    every: int,
) -> _Setup:
    ligands = tuple(dict.fromkeys([ligands] if isinstance(ligands, str) else ligands))
    if not ligands:
        raise InputError("ligands must name at least one species")
    center = default_center(traj, ligands) if center is None else center
    if center in ligands:
        raise InputError(f"the centre {center!r} cannot also be a ligand")
    center_idx = traj.indices(center)
    ligand_idx = {s: traj.indices(s) for s in ligands}
    used = _frames(traj, frames, every)
    if cutoffs is None:
        cut = default_cutoffs(traj, center, ligands)
    else:
        unknown = set(cutoffs) - set(ligands)
        if unknown:
            raise InputError(
                f"cutoffs given for {', '.join(sorted(unknown))}, which are not ligands "
                f"({', '.join(ligands)})"
            )
        missing = [s for s in ligands if s not in cutoffs]
        if missing:
            raise InputError(f"no cutoff for ligand(s) {', '.join(missing)}; pass cutoffs=")
        cut = {s: float(cutoffs[s]) for s in ligands}
    limit = min(max_rdf_radius(traj.cells[f]) for f in np.unique(used))
    for s, rc in cut.items():
        if not 0 < rc <= limit:
            raise InputError(
                f"cutoff {center}-{s} = {rc} Å must be positive and at most half the smallest "
                f"cell width ({limit:.3f} Å), or periodic images would count as ligands"
            )
    return _Setup(center, ligands, center_idx, ligand_idx, cut, used)


def _bonds(traj: Trajectory, st: _Setup, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wrapped positions and the (centre atom, ligand atom) bonds of frame ``f``."""
    cell = traj.cells[f]
    wrapped = wrap(traj.positions[f], cell)
    c, lig, _ = ligand_shells(wrapped, cell, st.center_idx, st.ligand_idx, st.cutoffs_A)
    return wrapped, c, lig


def _local(index: np.ndarray, n_atoms: int) -> np.ndarray:
    """Lookup table atom index → position in ``index`` (−1 elsewhere)."""
    out = np.full(n_atoms, -1, dtype=np.intp)
    out[index] = np.arange(index.size)
    return out


# -- polyhedra -------------------------------------------------------------------------------
def polyhedra(
    traj: Trajectory,
    center: str | None = "Al",
    ligands: Sequence[str] = ("Cl", "O"),
    cutoffs: Mapping[str, float] | None = None,
    frames: Sequence[int] | None = None,
    every: int = 1,
) -> PolyhedraResult:
    """Classify the coordination polyhedra of ``center`` by their ligand composition.

    Args:
        traj: The trajectory.
        center: Central species; None picks the non-ligand species of largest positive formal
            charge (:func:`default_center`).
        ligands: Ligand species, in the order they are written in labels.
        cutoffs: ``{ligand: r_cut}`` in Å; default the first minimum of each g_M-X(r).
        frames: Frames to use (default all), then thinned by ``every``.
        every: Use every n-th of those frames.

    Returns:
        A :class:`PolyhedraResult`.

    Raises:
        InputError: A species absent from the trajectory, a cutoff missing, non-positive or
            beyond half the cell width, or no clear first shell to default a cutoff from.

    Example:
        >>> from solidion.trajectory import Trajectory
        >>> tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * 2.1 / 3**0.5
        >>> pos = np.vstack([[0, 0, 0], tet]) + 10.0
        >>> t = Trajectory.from_arrays(["Al"] + ["Cl"] * 4, pos[None], np.eye(3) * 20, 1.0)
        >>> polyhedra(t, ligands=("Cl",), cutoffs={"Cl": 2.6}).fractions
        {'Cl4': 1.0}
    """
    st = _setup(traj, center, ligands, cutoffs, frames, every)
    nl = len(st.ligands)
    lig_species = np.full(traj.n_atoms, -1, dtype=np.intp)
    for k, s in enumerate(st.ligands):
        lig_species[st.ligand_idx[s]] = k
    center_local = _local(st.center_idx, traj.n_atoms)
    n_c = st.center_idx.size
    per_frame: list[dict[tuple[int, ...], int]] = []
    cn_total = np.zeros(0, dtype=np.int64)
    lig_total = np.zeros(nl)
    for f in st.frames:
        _, c, lig = _bonds(traj, st, int(f))
        flat = center_local[c] * nl + lig_species[lig]
        counts = np.bincount(flat, minlength=n_c * nl).reshape(n_c, nl)  # ligands per centre
        rows, n_rows = np.unique(counts, axis=0, return_counts=True)
        per_frame.append(
            {tuple(int(x) for x in r): int(n) for r, n in zip(rows, n_rows, strict=True)}
        )
        cn = counts.sum(axis=1)
        cn_total = _add_hist(cn_total, cn)
        lig_total += counts.sum(axis=0)
    keys = sorted({k for d in per_frame for k in d}, key=lambda k: (sum(k), tuple(-x for x in k)))
    labels = tuple(
        environment_label(dict(zip(st.ligands, k, strict=True)), st.ligands, drop_zeros=True)
        or NO_LIGANDS
        for k in keys
    )
    table = np.array([[d.get(k, 0) / n_c for k in keys] for d in per_frame], dtype=np.float64)
    n_poly = n_c * st.frames.size
    return PolyhedraResult(
        center=st.center,
        ligands=st.ligands,
        cutoffs_A=dict(st.cutoffs_A),
        labels=labels,
        fractions={lab: float(v) for lab, v in zip(labels, table.mean(axis=0), strict=True)},
        per_frame_fractions=table,
        mean_coordination=float(np.dot(np.arange(cn_total.size), cn_total) / n_poly),
        coordination_histogram={int(k): float(v / n_poly) for k, v in enumerate(cn_total) if v > 0},
        mean_ligands={s: float(lig_total[k] / n_poly) for k, s in enumerate(st.ligands)},
        n_centers=n_c,
        frames=st.frames,
    )


def _add_hist(total: np.ndarray, values: np.ndarray) -> np.ndarray:
    h = np.bincount(values)
    if h.size > total.size:
        total = np.pad(total, (0, h.size - total.size))
    total[: h.size] += h
    return total


# -- fragments -------------------------------------------------------------------------------
def _bond_shifts(
    wrapped: np.ndarray, cell: np.ndarray, c: np.ndarray, lig: np.ndarray
) -> np.ndarray:
    """Lattice shift s of each bond: ligand image ``r_lig + s @ cell`` is the one bonded to c.

    With cutoffs at most half the cell width the bonded image is the nearest one; it is searched
    among the 27 images around the rounded fractional separation (exact in triclinic cells too).
    """
    v = wrapped[lig] - wrapped[c]
    base = -np.rint(v @ np.linalg.inv(cell))
    delta = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    cand = base[:, None, :] + delta[None, :, :]
    length = np.linalg.norm(v[:, None, :] + cand @ cell, axis=-1)
    return cand[np.arange(v.shape[0]), np.argmin(length, axis=1)].astype(np.int64)


def _winds(nodes: np.ndarray, a: np.ndarray, b: np.ndarray, shift: np.ndarray) -> bool:
    """True when a cycle of the bond graph closes through a periodic image.

    Breadth-first search gives every node an image vector (``b`` = ``a`` + shift along each
    bond); an edge that disagrees with them closes a loop with a net lattice translation.
    """
    adj: dict[int, list[tuple[int, np.ndarray]]] = {int(n): [] for n in nodes}
    for x, y, s in zip(a.tolist(), b.tolist(), shift, strict=True):
        adj[x].append((y, s))
        adj[y].append((x, -s))
    image: dict[int, np.ndarray] = {}
    for start in adj:
        if start in image:
            continue
        image[start] = np.zeros(3, dtype=np.int64)
        queue = [start]
        while queue:
            x = queue.pop()
            for y, s in adj[x]:
                want = image[x] + s
                if y not in image:
                    image[y] = want
                    queue.append(y)
                elif not np.array_equal(image[y], want):
                    return True
    return False


def fragments(
    traj: Trajectory,
    center: str | None = "Al",
    ligands: Sequence[str] = ("Cl", "O"),
    cutoffs: Mapping[str, float] | None = None,
    frames: Sequence[int] | None = None,
    every: int = 1,
) -> FragmentResult:
    """Fragments of ``center`` polyhedra joined by shared ligands, with sizes and topology.

    See the module docstring for the graph and the classes.

    Args:
        traj: The trajectory.
        center: Central species; None picks the non-ligand species of largest positive formal
            charge (:func:`default_center`).
        ligands: Ligand species.
        cutoffs: ``{ligand: r_cut}`` in Å; default the first minimum of each g_M-X(r).
        frames: Frames to use (default all), then thinned by ``every``.
        every: Use every n-th of those frames.

    Returns:
        A :class:`FragmentResult`.

    Raises:
        InputError: As for :func:`polyhedra`.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    st = _setup(traj, center, ligands, cutoffs, frames, every)
    n_c = st.center_idx.size
    lig_all = np.concatenate([st.ligand_idx[s] for s in st.ligands])
    lig_species = np.concatenate(
        [np.full(st.ligand_idx[s].size, k) for k, s in enumerate(st.ligands)]
    )
    n_l = lig_all.size
    n_species = np.bincount(lig_species, minlength=len(st.ligands))
    center_local = _local(st.center_idx, traj.n_atoms)
    lig_local = _local(lig_all, traj.n_atoms)
    sizes_per_frame: list[np.ndarray] = []
    classes = np.zeros((st.frames.size, len(FRAGMENT_CLASSES)))
    bridging = np.zeros((st.frames.size, len(st.ligands)))
    for t, f in enumerate(st.frames):
        wrapped, c_atom, l_atom = _bonds(traj, st, int(f))
        c, lg = center_local[c_atom], lig_local[l_atom]
        n_m_of_lig = np.bincount(lg, minlength=n_l)
        bridge = n_m_of_lig >= 2
        bridging[t] = np.bincount(lig_species[bridge], minlength=len(st.ligands)) / n_species
        keep = bridge[lg]
        # Bipartite graph: M are nodes 0..n_c-1, ligands n_c..n_c+n_l-1 (non-bridging ligands
        # stay isolated and are ignored below).
        a, b = c[keep], n_c + lg[keep]
        n_nodes = n_c + n_l
        graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n_nodes, n_nodes))
        _, label = connected_components(graph, directed=False)
        comp_of_m = label[:n_c]
        comps, m_count = np.unique(comp_of_m, return_counts=True)
        n_comp = label.max() + 1
        in_graph = np.zeros(n_nodes, bool)
        in_graph[:n_c] = True
        in_graph[n_c:] = bridge
        nodes = np.bincount(label[in_graph], minlength=n_comp)
        edges = np.bincount(label[a], minlength=n_comp)
        degree = np.bincount(a, minlength=n_nodes) + np.bincount(b, minlength=n_nodes)
        max_deg = np.zeros(n_comp, dtype=np.int64)
        np.maximum.at(max_deg, label, degree)
        cyclic = edges >= nodes
        kind = np.where(max_deg <= 2, 1, 2)  # chain / branched (trees)
        for comp in np.flatnonzero(cyclic[comps] & (m_count > 1)):
            k = comps[comp]
            sel = label[a] == k
            if sel.any():
                shift = _bond_shifts(wrapped, traj.cells[f], c_atom[keep][sel], l_atom[keep][sel])
                ring_nodes = np.flatnonzero((label == k) & in_graph)
                kind[k] = 4 if _winds(ring_nodes, a[sel], b[sel], shift) else 3
        kind[comps[m_count == 1]] = 0
        classes[t] = np.bincount(kind[comps], minlength=len(FRAGMENT_CLASSES))
        sizes_per_frame.append(np.bincount(m_count))
    max_size = max(s.size for s in sizes_per_frame) - 1
    per_frame_sizes = np.zeros((st.frames.size, max_size + 1))
    for t, s in enumerate(sizes_per_frame):
        per_frame_sizes[t, : s.size] = s
    total = per_frame_sizes.sum(axis=0)
    size = np.arange(max_size + 1)
    n_frag = total.sum()
    return FragmentResult(
        center=st.center,
        ligands=st.ligands,
        cutoffs_A=dict(st.cutoffs_A),
        size_histogram={
            int(k): float(total[k] / st.frames.size) for k in range(1, max_size + 1) if total[k]
        },
        mean_size=float(np.dot(size, total) / n_frag),
        weight_mean_size=float(np.dot(size**2, total) / np.dot(size, total)),
        max_size=int(max_size),
        bridging={s: float(bridging[:, k].mean()) for k, s in enumerate(st.ligands)},
        classes={
            name: float(v) for name, v in zip(FRAGMENT_CLASSES, classes.mean(axis=0), strict=True)
        },
        per_frame_sizes=per_frame_sizes,
        per_frame_classes=classes,
        per_frame_bridging=bridging,
        n_centers=n_c,
        frames=st.frames,
    )

"""Dimensionality of periodic networks, random blocking and the garnet example
(solidion.theory.percolation)."""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest

from solidion.errors import AnalysisError, InputError
from solidion.theory import percolation as perc
from solidion.theory.percolation import (
    dimensionality,
    garnet_li_sublattice,
    lattice_basis,
    network_dimension,
    percolation_threshold,
    periodic_edges,
)

#: Site percolation threshold of the simple cubic lattice (Deng & Blöte, PRE 72, 016126 (2005)).
P_C_SC = 0.3116077


def sc_supercell(n: int) -> tuple[np.ndarray, np.ndarray]:
    """An n×n×n simple cubic lattice with unit spacing: fractional coordinates and cell."""
    f = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) / n
    return f, np.eye(3) * n


def dims(components) -> list[int]:
    return [c.dimension for c in components]


# ---------------------------------------------------------------------------------------------
# integer lattice algebra
# ---------------------------------------------------------------------------------------------
def test_lattice_basis_is_canonical_and_exact():
    a = lattice_basis([[1, 1, 0], [1, -1, 0]])
    b = lattice_basis([[2, 0, 0], [1, 1, 0], [3, 1, 0], [0, 2, 0]])
    assert a == b == ((1, 1, 0), (0, 2, 0))  # the same index-2 sublattice of the plane
    assert lattice_basis([[0, 0, 0]]) == ()
    assert lattice_basis(np.zeros((0, 3), int)) == ()
    # huge entries stay exact (no float rank tolerance)
    big = 10**15
    assert len(lattice_basis([[big, 1, 0], [big + 1, 1, 0]])) == 2
    assert len(lattice_basis([[big, big, 0], [2 * big, 2 * big, 0]])) == 1
    assert lattice_basis([[3, 0, 0], [0, 0, -2], [5, 0, 0]]) == ((1, 0, 0), (0, 0, 2))
    with pytest.raises(InputError, match="integers"):
        lattice_basis([[0.5, 0, 0]])


# ---------------------------------------------------------------------------------------------
# dimensionality of fixed networks
# ---------------------------------------------------------------------------------------------
def test_chain_bonded_to_its_own_image_in_a_one_site_cell():
    edges, d = periodic_edges([[0.3, 0.2, 0.9]], np.diag([2.0, 6.0, 6.0]), 2.1)
    assert edges.tolist() == [[0, 0, 1, 0, 0]] and d.tolist() == pytest.approx([2.0])
    (chain,) = dimensionality([[0.3, 0.2, 0.9]], np.diag([2.0, 6.0, 6.0]), 2.1)
    assert chain.dimension == 1 and chain.translations == ((1, 0, 0),)
    assert chain.translation_vectors_A.tolist() == [[2.0, 0.0, 0.0]]


def test_several_images_of_the_same_pair():
    # two sites 1 Å apart both ways along a 2 Å axis: edges with offsets 0 and -1
    frac = [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]
    edges, _ = periodic_edges(frac, np.diag([2.0, 6.0, 6.0]), 1.05)
    assert sorted(map(tuple, edges.tolist())) == [(0, 1, -1, 0, 0), (0, 1, 0, 0, 0)]
    (chain,) = dimensionality(frac, np.diag([2.0, 6.0, 6.0]), 1.05)
    assert chain.dimension == 1 and chain.translations == ((1, 0, 0),)
    # a tiny cell: the site bonds to images 1 and 2 cells away along x
    edges, _ = periodic_edges([[0.0, 0.0, 0.0]], np.diag([1.0, 9.0, 9.0]), 2.05)
    assert sorted(map(tuple, edges.tolist())) == [(0, 0, 1, 0, 0), (0, 0, 2, 0, 0)]


def test_unwrapped_input_coordinates_give_offsets_in_their_frame():
    frac = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    shifted = frac + np.array([[3, -2, 1], [-1, 0, 0]])
    (a,) = dimensionality(frac, np.diag([2.0, 6.0, 6.0]), 1.05)
    (b,) = dimensionality(shifted, np.diag([2.0, 6.0, 6.0]), 1.05)
    assert a.translations == b.translations
    e, _ = periodic_edges(shifted, np.diag([2.0, 6.0, 6.0]), 1.05)
    for i, j, *n in e.tolist():  # the offsets reproduce the 1 Å bond from the given coords
        vec = (shifted[j] + n - shifted[i]) * [2.0, 6.0, 6.0]
        assert np.linalg.norm(vec) == pytest.approx(1.0)


def test_zigzag_chain_and_diagonal_chain_in_a_skewed_cell():
    zigzag = [[0.0, 0.0, 0.0], [0.5, 0.2, 0.0]]  # A-B-A... along x, 1.6 Å bonds
    (c,) = dimensionality(zigzag, np.diag([3.0, 3.0, 10.0]), 2.0)
    assert c.dimension == 1 and c.translations == ((1, 0, 0),)
    assert c.n_sites == 2
    # one site; the shortest lattice vector is a + b, so the chain runs along [1 1 0]
    cell = np.array([[3.0, 0.0, 0.0], [-2.5, 1.0, 0.0], [0.0, 0.0, 10.0]])
    (d,) = dimensionality([[0.1, 0.7, 0.2]], cell, 1.5)
    assert d.dimension == 1 and d.translations == ((1, 1, 0),)
    assert np.linalg.norm(d.translation_vectors_A[0]) == pytest.approx(np.hypot(0.5, 1.0))


def test_sheets_in_non_orthogonal_cells():
    hexagonal = np.array([[3.0, 0.0, 0.0], [-1.5, 1.5 * np.sqrt(3), 0.0], [0.0, 0.0, 12.0]])
    (tri,) = dimensionality([[0.0, 0.0, 0.5]], hexagonal, 3.1)  # triangular lattice
    assert tri.dimension == 2 and tri.translations == ((1, 0, 0), (0, 1, 0))
    honeycomb = [[1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]]  # C–C = 3/√3 = 1.73 Å
    (hc,) = dimensionality(honeycomb, hexagonal, 1.8)
    assert hc.dimension == 2 and hc.n_sites == 2
    # triclinic cell with a sheet in the (a, c) plane stacked far apart along b
    tric = np.array([[2.0, 0.0, 0.0], [0.7, 8.0, 0.0], [0.9, 0.4, 2.2]])
    (s,) = dimensionality([[0.5, 0.5, 0.5]], tric, 2.5)
    assert s.dimension == 2 and s.translations == ((1, 0, 0), (0, 0, 1))


def test_three_dimensional_networks():
    (sc,) = dimensionality([[0.5, 0.5, 0.5]], np.eye(3) * 2.5, 2.6)
    assert sc.dimension == 3 and sc.interpenetration == 1
    # body-centred cubic with only the A–B (√3/2 a) bonds: one network over both sites
    (bcc,) = dimensionality([[0, 0, 0], [0.5, 0.5, 0.5]], np.eye(3) * 3.0, 2.7)
    assert bcc.dimension == 3 and bcc.n_sites == 2
    assert bcc.translations == ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def test_isolated_clusters():
    dimers = [[0.1, 0.1, 0.1], [0.2, 0.1, 0.1], [0.6, 0.6, 0.6], [0.7, 0.6, 0.6], [0.4, 0.9, 0.2]]
    comps = dimensionality(dimers, np.eye(3) * 10.0, 1.5)
    assert dims(comps) == [0, 0, 0]
    assert [c.sites for c in comps] == [(0, 1), (2, 3), (4,)]
    assert all(c.translations == () for c in comps)
    assert network_dimension(comps) == 0
    assert network_dimension([]) == 0


def test_interpenetrating_components():
    # two independent simple cubic nets (explicit edges: no cross links)
    axes = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    edges = [(s, s, a) for s in (0, 1) for a in axes]
    comps = dimensionality([[0, 0, 0], [0.5, 0.5, 0.5]], np.eye(3) * 4.0, edges)
    assert dims(comps) == [3, 3] and [c.sites for c in comps] == [(0,), (1,)]
    # one site whose bonds skip every other cell along x: two interpenetrating copies
    (c,) = dimensionality(
        [[0, 0, 0]], None, [(0, 0, (2, 0, 0)), (0, 0, (0, 1, 0)), (0, 0, (0, 0, 1))]
    )
    assert c.dimension == 3 and c.interpenetration == 2
    assert c.translations == ((2, 0, 0), (0, 1, 0), (0, 0, 1))
    # the same with explicit edges given as an (m, 5) array; a (1, 1, 0) bond joins the copies
    arr = np.array([[0, 0, 2, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 1, 1, 0]])
    (joined,) = dimensionality([[0, 0, 0]], None, arr)
    assert joined.interpenetration == 1


def test_blocked_sites_cut_the_network():
    frac, cell = sc_supercell(3)
    assert dims(dimensionality(frac, cell, 1.1)) == [3]
    plane_x0 = np.flatnonzero(np.isclose(frac[:, 0], 0.0))
    # a blocked plane leaves a slab two sites thick, periodic in b and c only
    (slab,) = dimensionality(frac, cell, 1.1, blocked=plane_x0)
    assert slab.dimension == 2 and slab.n_sites == 18
    assert slab.translations == ((0, 1, 0), (0, 0, 1))
    # two crossing planes leave a rod along c
    mask = np.isclose(frac[:, 0], 0.0) | np.isclose(frac[:, 1], 0.0)
    (rod,) = dimensionality(frac, cell, 1.1, blocked=mask)
    assert rod.dimension == 1 and rod.n_sites == 12 and rod.translations == ((0, 0, 1),)
    # and a third plane leaves a finite 2x2x2 cube
    mask |= np.isclose(frac[:, 2], 0.0)
    (cube,) = dimensionality(frac, cell, 1.1, blocked=mask)
    assert cube.dimension == 0 and cube.n_sites == 8
    everything = dimensionality(frac, cell, 1.1, blocked=np.ones(len(frac), bool))
    assert everything == [] and network_dimension(everything) == 0


def _reference_components(n_sites, edges, blocked):
    """Plain breadth-first search with image vectors (the textbook algorithm, one site at a time)."""
    nb = {i: [] for i in range(n_sites) if not blocked[i]}
    for i, j, *n in edges:
        if blocked[i] or blocked[j]:
            continue
        nb[i].append((j, np.array(n)))
        nb[j].append((i, -np.array(n)))
    seen, out = {}, []
    for start in nb:
        if start in seen:
            continue
        seen[start] = np.zeros(3, int)
        queue, members, trans = deque([start]), [start], []
        while queue:
            i = queue.popleft()
            for j, n in nb[i]:
                if j not in seen:
                    seen[j] = seen[i] + n
                    members.append(j)
                    queue.append(j)
                else:
                    t = seen[i] + n - seen[j]
                    if t.any():
                        trans.append(t)
        out.append((tuple(sorted(members)), len(lattice_basis(trans)) if trans else 0))
    return sorted(out)


def test_vectorised_search_matches_a_plain_bfs_on_random_graphs():
    rng = np.random.default_rng(11)
    for _ in range(30):
        n = int(rng.integers(1, 25))
        m = int(rng.integers(0, 40))
        i = rng.integers(0, n, m)
        j = rng.integers(0, n, m)
        off = rng.integers(-1, 2, (m, 3)) * (rng.random((m, 1)) < 0.4)
        keep = (i != j) | off.any(axis=1)
        edges = np.column_stack([i, j, off])[keep]
        blocked = rng.random(n) < 0.2
        got = sorted(
            (c.sites, c.dimension) for c in dimensionality(np.zeros((n, 3)), None, edges, blocked)
        )
        assert got == _reference_components(n, edges.tolist(), blocked)


def test_component_images_unwrap_the_network():
    # every edge inside a finite cluster joins sites whose unwrapped positions are 1 Å apart
    frac = np.array([[0.95, 0.5, 0.5], [0.05, 0.5, 0.5], [0.15, 0.5, 0.5]])  # straddles x = 0
    (c,) = dimensionality(frac, np.eye(3) * 10.0, 1.05)
    assert c.dimension == 0
    unwrapped = (frac[list(c.sites)] + c.images) * 10.0
    assert np.ptp(unwrapped[:, 0]) == pytest.approx(2.0)
    assert json.loads(json.dumps(c.to_dict()))["dimension"] == 0


# ---------------------------------------------------------------------------------------------
# Monte Carlo threshold
# ---------------------------------------------------------------------------------------------
def test_newman_ziff_agrees_with_dimensionality_trial_by_trial():
    frac, cell = sc_supercell(4)
    edges, _ = periodic_edges(frac, cell, 1.1)
    nb = perc._adjacency(len(frac), edges)
    rng = np.random.default_rng(5)
    for _ in range(8):
        order = rng.permutation(len(frac))
        for d in (1, 2, 3):
            k = perc._first_percolating(order, nb, len(frac), d)
            before = np.ones(len(frac), bool)
            before[order[: k - 1]] = False
            at = np.ones(len(frac), bool)
            at[order[:k]] = False
            assert network_dimension(dimensionality(frac, cell, edges, before)) < d
            assert network_dimension(dimensionality(frac, cell, edges, at)) >= d


def test_simple_cubic_threshold():
    frac, cell = sc_supercell(8)
    r3 = percolation_threshold(frac, cell, 1.1, n_trials=200, rng=0)
    # 3D percolation (a rank-3 component) of a periodic 8x8x8 lattice is lost at a blocked
    # fraction a little below the infinite-lattice 1 - p_c = 0.688 (finite-size shift)
    assert 0.62 < r3.threshold_blocked_fraction.value < 0.70
    assert r3.threshold_blocked_fraction.stderr < 0.005
    assert r3.probability[0] == 1.0 and r3.probability[-1] == 0.0
    assert np.all(np.diff(r3.probability) <= 0)
    assert r3.probability_at(0.5) == 1.0 and r3.probability_at(0.8) == 0.0
    # the first wrapping cluster (rank >= 1) appears close to p_c already at L = 8
    r1 = percolation_threshold(frac, cell, 1.1, dimension=1, n_trials=200, rng=0)
    assert r1.threshold_open_fraction.value == pytest.approx(P_C_SC, abs=0.01)
    same = percolation_threshold(frac, cell, 1.1, n_trials=200, rng=0)
    np.testing.assert_array_equal(same.trial_thresholds, r3.trial_thresholds)
    assert json.loads(json.dumps(r3.to_dict()))["n_sites"] == 512


def test_simple_cubic_threshold_finite_size_scaling():
    # p_c(L) = p_c + A L^(-1/ν), ν = 0.8765 in 3D: extrapolate L = 6, 8, 12 to L → ∞
    sizes = np.array([6, 8, 12])
    p = []
    for n in sizes:
        frac, cell = sc_supercell(int(n))
        r = percolation_threshold(frac, cell, 1.1, n_trials=150, rng=int(n))
        p.append(r.threshold_open_fraction.value)
    assert p[0] > p[1] > p[2] > P_C_SC  # approaches from above
    slope, p_inf = np.polyfit(sizes ** (-1 / 0.8765), p, 1)
    assert p_inf == pytest.approx(P_C_SC, abs=0.01)
    assert slope > 0


def test_threshold_with_permanent_blocking_and_no_percolation():
    frac, cell = sc_supercell(4)
    plane = np.isclose(frac[:, 0], 0.0)
    with pytest.raises(AnalysisError, match="only 2D"):
        percolation_threshold(frac, cell, 1.1, blocked=plane, rng=0)
    r = percolation_threshold(frac, cell, 1.1, blocked=plane, dimension=2, n_trials=20, rng=0)
    assert r.n_sites == 48 and r.dimension == 2


# ---------------------------------------------------------------------------------------------
# garnet Li7La3Zr2O12
# ---------------------------------------------------------------------------------------------
def _pair_distances(sub, a, b, r_max=3.0):
    edges, d = periodic_edges(sub.frac_coords, sub.cell, r_max)
    lab = np.array(sub.labels)
    li, lj = lab[edges[:, 0]], lab[edges[:, 1]]
    m = ((li == a) & (lj == b)) | ((li == b) & (lj == a))
    return np.unique(d[m].round(3))


def test_cubic_garnet_sites_are_physical():
    g = garnet_li_sublattice("cubic")
    assert g.counts() == {"24d": 24, "96h": 96}
    assert g.n_ions == pytest.approx(56.0, abs=0.05)  # Li7La3Zr2O12 × Z = 8
    assert _pair_distances(g, "24d", "96h")[0] == pytest.approx(1.62, abs=0.03)
    assert _pair_distances(g, "96h", "96h")[0] == pytest.approx(0.82, abs=0.03)
    assert _pair_distances(g, "24d", "24d").size == 0  # tetrahedra never share faces
    # the next Li–Li distance lies well above the hop cutoff
    assert _pair_distances(g, "24d", "96h")[1] > g.hop_cutoff_A + 0.15
    edges, _ = periodic_edges(g.frac_coords, g.cell, g.hop_cutoff_A)
    tet = np.array(g.labels) == "24d"
    n_oct_neighbours = np.bincount(edges[:, 0][tet[edges[:, 0]]], minlength=g.n_sites)
    n_oct_neighbours += np.bincount(edges[:, 1][tet[edges[:, 1]]], minlength=g.n_sites)
    assert set(n_oct_neighbours[tet]) == {4}  # each tetrahedron: 4 face-sharing octahedra


def test_cubic_garnet_matches_pymatgen_wyckoff_generation():
    pytest.importorskip("pymatgen.core")
    from pymatgen.core import Lattice, Structure

    g = garnet_li_sublattice("cubic")
    s = Structure.from_spacegroup(
        "Ia-3d",
        Lattice.cubic(perc.CUBIC_LLZO_A),
        ["Li", "Na"],  # Na marks the 96h site
        [perc.CUBIC_LLZO_LI["24d"][0], perc.CUBIC_LLZO_LI["96h"][0]],
    )
    for label, el in (("24d", "Li"), ("96h", "Na")):
        ours = g.frac_coords[np.array(g.labels) == label] % 1.0
        theirs = np.array([site.frac_coords for site in s if site.specie.symbol == el]) % 1.0
        assert len(ours) == len(theirs)
        diff = ours[:, None] - theirs[None]
        diff -= np.round(diff)
        assert np.abs(diff).max(axis=-1).min(axis=1).max() < 1e-6


def test_cubic_garnet_is_a_3d_vacancy_network():
    g = garnet_li_sublattice("cubic")
    assert not g.fully_occupied().any()
    comps = g.vacancy_network()
    assert len(comps) == 1 and comps[0].dimension == 3 and comps[0].n_sites == 120
    assert comps[0].interpenetration == 1
    # the tetrahedral sites alone are isolated: the octahedral cages are the links
    tet_only = dimensionality(
        g.frac_coords, g.cell, g.hop_cutoff_A, blocked=np.array(g.labels) == "96h"
    )
    assert dims(tet_only) == [0] * 24


def test_tetragonal_garnet_has_no_vacancy_path():
    g = garnet_li_sublattice("tetragonal")
    assert g.counts() == {"8a": 8, "16e": 16, "16f": 16, "32g": 32}
    assert g.n_ions == pytest.approx(56.0)
    assert g.cell[0, 0] == pytest.approx(13.134) and g.cell[2, 2] == pytest.approx(12.663)
    # the site geometry is still the connected garnet framework ...
    assert dims(dimensionality(g.frac_coords, g.cell, g.hop_cutoff_A)) == [3]
    # ... but ordered Li fills 8a, 16f and 32g; only the 16e tetrahedra are empty, and each is
    # enclosed by full octahedra: no vacancy network at all
    comps = g.vacancy_network()
    assert dims(comps) == [0] * 16
    assert {g.labels[c.sites[0]] for c in comps} == {"16e"}
    assert network_dimension(comps) == 0
    assert json.loads(json.dumps(g.to_dict()))["space_group"] == "I4_1/acd"


def test_cubic_garnet_blocking_threshold():
    g = garnet_li_sublattice("cubic")
    r = percolation_threshold(g.frac_coords, g.cell, g.hop_cutoff_A, n_trials=100, rng=3)
    # 3D vacancy transport in one cubic cell is lost once ~17 % of the sites are blocked
    assert 0.12 < r.threshold_blocked_fraction.value < 0.23


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: dimensionality([[0, 0, 0]], np.eye(3), -1.0), "cutoff_A"),
        (lambda: dimensionality([[0, 0, 0]], np.eye(3), True), "edges_or_cutoff"),
        (lambda: dimensionality([[0, 0]], np.eye(3), 1.0), "frac_coords"),
        (lambda: dimensionality([[0, 0, np.nan]], np.eye(3), 1.0), "frac_coords"),
        (lambda: dimensionality([[0, 0, 0]], np.zeros((3, 3)), 1.0), "cell"),
        (lambda: dimensionality([[0, 0, 0]], None, 1.0), "cell"),
        (lambda: dimensionality([[0, 0, 0]], np.eye(3), 1.0, blocked=[3]), "blocked"),
        (lambda: dimensionality([[0, 0, 0]], np.eye(3), 1.0, blocked=[True, False]), "blocked"),
        (lambda: dimensionality([[0, 0, 0]], None, [(0, 1, (0, 0, 0))]), "edges_or_cutoff"),
        (lambda: dimensionality([[0, 0, 0]], None, [(0, 0, (0, 0, 0))]), "edges_or_cutoff"),
        (lambda: dimensionality([[0, 0, 0]], None, [(0, 0, (0.5, 0, 0))]), "edges_or_cutoff"),
        (lambda: dimensionality([[0, 0, 0]], None, [(0, 0)]), "edges_or_cutoff"),
        (lambda: periodic_edges([[0, 0, 0]], np.eye(3) * 0.1, 50.0), "cutoff_A"),
        (lambda: percolation_threshold([[0, 0, 0]], np.eye(3), 1.1, n_trials=1), "n_trials"),
        (lambda: percolation_threshold([[0, 0, 0]], np.eye(3), 1.1, dimension=4), "dimension"),
        (lambda: percolation_threshold([[0, 0, 0]], np.eye(3), 1.1, blocked=[0]), "blocked"),
        (lambda: garnet_li_sublattice("hexagonal"), "phase"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(InputError, match=name):
        call()

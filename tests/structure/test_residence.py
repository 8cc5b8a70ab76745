"""Residence times: Poisson hopping with known rates, Arrhenius ε_a, tolerance, kernels, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from solidion import InputError, Trajectory
from solidion.structure.neighbors import ligand_shells, wrap
from solidion.structure.residence import (
    activation_to_dict,
    assign_hosts,
    fill_excursions,
    plot_activation,
    plot_survival,
    residence_activation,
    residence_times,
    survival_counts,
    survival_function,
)
from solidion.units import BOLTZMANN_EV_K

#: Tetrahedron vertex directions; the mobile-ion sites are the face centres opposite them.
TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)
SPACING = 7.0
N_CELL = 3
BOX = SPACING * N_CELL
M_X = 2.2  # centre–ligand distance
M_LI = 2.8  # centre–mobile distance
CUTOFFS = {"Cl": 2.8, "O": 2.8}
HOST_CUT = 4.0


def hopping_trajectory(
    tau_ps: dict[str, float],
    n_frames: int = 5000,
    dt_fs: float = 20.0,
    n_mobile: int = 30,
    temperature_K: float | None = 600.0,
    seed: int = 0,
    noise: float = 0.05,
    centre_tau_ps: np.ndarray | None = None,
) -> tuple[Trajectory, np.ndarray]:
    """Al on a cubic lattice, 4 ligands each (every third centre Cl3O1, the others Cl4), and
    Li ions on the faces of their host tetrahedron that jump to a random other centre as a
    Poisson process with the mean residence time of the host's environment.

    ``centre_tau_ps`` overrides the residence time centre by centre. Returns the trajectory and
    the true host (Al atom index) of each Li per frame.
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(N_CELL) * SPACING + 1.0
    centres = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    n_c = centres.shape[0]
    env = np.where(np.arange(n_c) % 3 == 0, "Cl3O1", "Cl4")
    lig_pos = (centres[:, None, :] + M_X * TETRA[None]).reshape(-1, 3)
    lig_sym = np.where((env[:, None] == "Cl3O1") & (np.arange(4)[None] == 0), "O", "Cl").ravel()
    taus = np.array([tau_ps[e] for e in env]) if centre_tau_ps is None else centre_tau_ps
    assert taus.shape == (n_c,)
    p_jump = 1.0 - np.exp(-dt_fs * 1e-3 / taus)
    host = rng.integers(n_c, size=n_mobile)
    site = rng.integers(4, size=n_mobile)
    hosts = np.empty((n_frames, n_mobile), dtype=np.int64)
    sites = np.empty_like(hosts)
    for t in range(n_frames):
        hosts[t], sites[t] = host, site
        jump = rng.random(n_mobile) < p_jump[host]
        k = int(jump.sum())
        host = host.copy()
        site = site.copy()
        host[jump] = (host[jump] + rng.integers(1, n_c, size=k)) % n_c
        site[jump] = rng.integers(4, size=k)
    li = centres[hosts] - M_LI * TETRA[sites]
    frame = np.concatenate([centres, lig_pos])
    pos = np.concatenate([np.broadcast_to(frame, (n_frames, *frame.shape)), li], axis=1)
    pos = pos + rng.normal(0.0, noise, pos.shape)
    symbols = ["Al"] * n_c + list(lig_sym) + ["Li"] * n_mobile
    traj = Trajectory.from_arrays(symbols, pos, np.eye(3) * BOX, dt_fs, temperature_K)
    return traj, hosts  # Al atoms are 0 … n_c − 1, so a centre number is its atom index


@pytest.fixture(scope="module")
def poisson():
    taus = {"Cl4": 2.0, "Cl3O1": 6.0}
    traj, truth = hopping_trajectory(taus, n_frames=5000, seed=1)
    return taus, traj, truth


def test_hosts_and_environments_are_recovered(poisson):
    _, traj, truth = poisson
    hosts, labels, names = assign_hosts(
        traj, "Li", "Al", ("Cl", "O"), CUTOFFS, host_cutoff_A=HOST_CUT, every=5
    )
    assert names == ("Cl3O1", "Cl4")
    np.testing.assert_array_equal(hosts, truth[::5])
    expect = np.where(np.arange(labels.shape[1]) % 3 == 0, 0, 1)
    assert (labels == expect).all()
    # the shared-ligand rule agrees here: each Li shares a face (3 ligands) with its host only
    shared, _, _ = assign_hosts(
        traj[:200],
        "Li",
        "Al",
        ("Cl", "O"),
        CUTOFFS,
        rule="shared_ligand",
        mobile_cutoffs={"Cl": 3.3, "O": 3.3},
    )
    np.testing.assert_array_equal(shared, truth[:200])


def test_poisson_residence_times_recovered(poisson):
    taus, traj, _ = poisson
    res = residence_times(
        traj, "Li", "Al", ("Cl", "O"), cutoffs=CUTOFFS, host_cutoff_A=HOST_CUT, every=5
    )
    assert set(res.classes) == {"Cl4", "Cl3O1"}
    for label, tau in taus.items():
        c = res.classes[label]
        assert c.model == "exponential"
        assert abs(c.tau_ps.value - tau) < 3 * c.tau_ps.stderr, (label, c.tau_ps, tau)
        assert c.tau_ps.stderr / c.tau_ps.value < 0.2
        assert c.beta == pytest.approx(1.0, abs=0.15)
        assert c.n_events > 100
    share = res.classes["Cl4"].fraction_of_time + res.classes["Cl3O1"].fraction_of_time
    assert share == pytest.approx(1.0)
    assert res.unassigned_fraction == 0.0
    # P(t) is exp(−t/τ) up to its error bar
    p = res.survival["Cl4"]
    t = res.lags_ps
    m = (t > 0) & (t < 6.0)
    z = (p[m] - np.exp(-t[m] / taus["Cl4"])) / res.survival_stderr["Cl4"][m]
    assert np.abs(z).max() < 4
    d = res.to_dict()
    assert set(d["Cl4"]) >= {"tau_ps", "model"}
    assert set(d["Cl4"]["tau_ps"]) == {"value", "stderr"}
    assert d["Cl4"]["model"] == "exponential"


def test_a_mixture_of_rates_is_reported_as_stretched():
    """Cl4 centres of two kinds (τ = 1 ps and 10 ps): P(t) is bi-exponential, not exponential."""
    n_c = N_CELL**3
    cl3o1 = np.arange(n_c) % 3 == 0
    centre_tau = np.where(cl3o1, 4.0, 1.0)
    centre_tau[np.flatnonzero(~cl3o1)[:4]] = 10.0
    traj, _ = hopping_trajectory({}, n_frames=5000, seed=0, centre_tau_ps=centre_tau)
    res = residence_times(
        traj, "Li", "Al", ("Cl", "O"), cutoffs=CUTOFFS, host_cutoff_A=HOST_CUT, every=5
    )
    assert res.classes["Cl3O1"].model == "exponential"
    c = res.classes["Cl4"]
    assert c.model == "stretched_exponential"
    assert c.beta < 0.85
    # origin-weighted P(t) = Σ w_k exp(−t/τ_k), w_k ∝ n_k τ_k; its mean residence time ∫P dt
    w = np.array([14 * 1.0, 4 * 10.0])
    mean_tau = float(np.sum(w / w.sum() * np.array([1.0, 10.0])))
    assert abs(c.tau_ps.value - mean_tau) < 3 * c.tau_ps.stderr
    assert c.tau_kww_ps is not None and c.tau_kww_ps < c.tau_ps.value


def test_default_cutoffs_find_the_shells(poisson):
    _, traj, truth = poisson
    hosts, _, names = assign_hosts(traj[:500], "Li", "Al", ("Cl", "O"))
    assert names == ("Cl3O1", "Cl4")
    np.testing.assert_array_equal(hosts, truth[:500])


def test_two_temperatures_give_the_activation_energy():
    eps = {"Cl4": 0.25, "Cl3O1": 0.35}
    temps = (600.0, 900.0)
    results = []
    for i, temp in enumerate(temps):
        # τ = 1 ps at 900 K for both environments
        taus = {
            k: np.exp(e / (BOLTZMANN_EV_K * temp) - e / (BOLTZMANN_EV_K * 900.0))
            for k, e in eps.items()
        }
        traj, _ = hopping_trajectory(taus, n_frames=5000, temperature_K=temp, seed=10 + i)
        results.append(
            residence_times(
                traj, "Li", "Al", ("Cl", "O"), cutoffs=CUTOFFS, host_cutoff_A=HOST_CUT, every=5
            )
        )
    fits = residence_activation(results)
    assert set(fits) == set(eps)
    for label, e in eps.items():
        ea = fits[label].activation_energy_eV
        assert abs(ea.value - e) < 3 * ea.stderr, (label, ea, e)
        assert ea.stderr < 0.05
    d = activation_to_dict(fits)
    assert set(d["Cl4"]) == {"value", "stderr"}


def test_tolerance_turns_a_one_frame_excursion_into_a_stay():
    # one ion, host 5, away (no host) for one frame, back to 5
    h = np.array([5, 5, 5, -1, 5, 5, 5, 5])
    cont = survival_function(h, 3)
    # lag 1: origins 0,1,2,4,5,6 → survivors 0,1,4,5,6; lag 2: 0,1,2,4,5 → 0,4,5;
    # lag 3: 0,1,2,4 → 4
    np.testing.assert_allclose(cont, [1.0, 5 / 6, 3 / 5, 1 / 4])
    np.testing.assert_allclose(survival_function(h, 3, tolerance_frames=1), 1.0)
    # a one-frame visit to another host is also forgiven, a two-frame one only with tolerance 2
    h2 = np.array([5, 5, 7, 7, 5, 5])
    assert fill_excursions(h2, 1).tolist() == [5, 5, 7, 7, 5, 5]
    assert fill_excursions(h2, 2).tolist() == [5, 5, 5, 5, 5, 5]
    # an excursion still open at the end is not filled
    assert fill_excursions(np.array([5, 5, -1]), 3).tolist() == [5, 5, -1]


def _one_ion_trajectory(host_seq: list[int], dt_fs: float = 50.0) -> Trajectory:
    """Two Cl4 tetrahedra and one Li that sits on the face of the given host (0 or 1, −1: far)."""
    centres = np.array([[2.0, 2.0, 2.0], [12.0, 12.0, 12.0]])
    ligs = (centres[:, None, :] + M_X * TETRA[None]).reshape(-1, 3)
    far = np.array([7.0, 7.0, 7.0])
    li = np.array([centres[h] - M_LI * TETRA[0] if h >= 0 else far for h in host_seq])
    frame = np.concatenate([centres, ligs])
    pos = np.concatenate(
        [np.broadcast_to(frame, (len(host_seq), *frame.shape)), li[:, None, :]], axis=1
    )
    return Trajectory.from_arrays(["Al"] * 2 + ["Cl"] * 8 + ["Li"], pos, np.eye(3) * 20.0, dt_fs)


def test_tolerance_end_to_end():
    seq = [0] * 6 + [-1] + [0] * 9 + [1] * 8
    traj = _one_ion_trajectory(seq)  # 24 frames of 50 fs
    kw = {"cutoffs": {"Cl": 2.8}, "host_cutoff_A": 4.0, "max_lag_ps": 0.15, "n_blocks": 2}
    cont = residence_times(traj, "Li", "Al", ("Cl",), **kw)
    inter = residence_times(traj, "Li", "Al", ("Cl",), tolerance_ps=0.05, **kw)
    assert cont.definition == "continuous" and inter.definition == "intermittent"
    np.testing.assert_allclose(cont.survival["Cl4"], survival_function(np.array(seq), 3))
    filled = [0] * 16 + [1] * 8
    np.testing.assert_allclose(inter.survival["Cl4"], survival_function(np.array(filled), 3))
    assert cont.classes["Cl4"].n_events == 2 and inter.classes["Cl4"].n_events == 1
    # tolerance just below one frame: still continuous counting
    below = residence_times(traj, "Li", "Al", ("Cl",), tolerance_ps=0.049, **kw)
    np.testing.assert_allclose(below.survival["Cl4"], cont.survival["Cl4"])


@pytest.mark.parametrize(
    ("seq", "why"),
    [([0] * 40, "longer than the run"), ([0, 1] * 20, "shorter than the frame spacing")],
)
def test_unresolved_residences_warn(seq, why):
    traj = _one_ion_trajectory(seq)
    with pytest.warns(UserWarning, match=why):
        res = residence_times(
            traj, "Li", "Al", ("Cl",), cutoffs={"Cl": 2.8}, host_cutoff_A=4.0, n_blocks=2
        )
    c = res.classes["Cl4"]
    assert c.model == "unresolved"
    assert res.to_dict()["Cl4"]["tau_ps"] == {"value": None, "stderr": None}


def test_survival_counts_match_a_naive_loop():
    rng = np.random.default_rng(3)
    n, n_ions, max_lag, n_blocks = 60, 4, 7, 3
    hosts = rng.choice([-1, 0, 1, 2], size=(n, n_ions), p=[0.1, 0.3, 0.3, 0.3])
    hosts = np.repeat(hosts, 2, axis=0)[:n]  # runs of two and more
    cls = np.where(hosts >= 0, hosts % 2, -1)
    surv, orig = survival_counts(hosts, cls, 2, max_lag, n_blocks)
    s_ref = np.zeros_like(surv)
    o_ref = np.zeros_like(orig)
    for t0 in range(n):
        for i in range(n_ions):
            if hosts[t0, i] < 0:
                continue
            start = t0
            while start > 0 and hosts[start - 1, i] == hosts[t0, i]:
                start -= 1
            b = start * n_blocks // n  # block of the frame where this residence began
            c = cls[t0, i]
            for m in range(min(max_lag, n - 1 - t0) + 1):
                o_ref[b, c, m] += 1
                s_ref[b, c, m] += np.all(hosts[t0 : t0 + m + 1, i] == hosts[t0, i])
    np.testing.assert_array_equal(surv, s_ref)
    np.testing.assert_array_equal(orig, o_ref)


def test_dense_ligand_counts_match_ligand_shells():
    """The batched kernel counts the same bonds as the neighbour-list primitive (triclinic)."""
    rng = np.random.default_rng(4)
    cell = np.array([[11.0, 0.0, 0.0], [3.0, 10.5, 0.0], [-2.0, 1.5, 12.0]])
    n_c, n_l, n_m = 6, 40, 5
    frac = rng.uniform(0, 1, (n_c + n_l + n_m, 3))
    pos = frac @ cell + rng.uniform(-30, 30, (n_c + n_l + n_m, 3))  # arbitrary images
    symbols = ["Al"] * n_c + ["Cl"] * (n_l // 2) + ["O"] * (n_l // 2) + ["Li"] * n_m
    traj = Trajectory.from_arrays(symbols, pos[None], cell, 10.0)
    cut = {"Cl": 3.9, "O": 3.1}
    _, labels, names = assign_hosts(traj, "Li", "Al", ("Cl", "O"), cut, host_cutoff_A=4.5)
    w = wrap(pos, cell)
    c, lig, _ = ligand_shells(
        w, cell, np.arange(n_c), {"Cl": traj.indices("Cl"), "O": traj.indices("O")}, cut
    )
    for k in range(n_c):
        mine = lig[c == k]
        n_cl = int(np.sum(np.isin(mine, traj.indices("Cl"))))
        n_o = int(np.sum(np.isin(mine, traj.indices("O"))))
        expect = "".join(f"{s}{n}" for s, n in (("Cl", n_cl), ("O", n_o)) if n) or "none"
        assert names[labels[0, k]] == expect


def test_plots_and_missing_environments(poisson):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, traj, _ = poisson
    kw = {"cutoffs": CUTOFFS, "host_cutoff_A": HOST_CUT, "every": 5}
    res_a = replace(residence_times(traj[:2500], "Li", "Al", ("Cl", "O"), **kw), temperature_K=600)
    res_b = replace(residence_times(traj[2500:], "Li", "Al", ("Cl", "O"), **kw), temperature_K=700)
    ax = plot_survival(res_a)
    assert ax.get_yscale() == "log"
    fits = residence_activation([res_a, res_b])
    ax = plot_activation(fits, diffusion_Ea_eV=0.3)
    assert len(ax.patches) == 2
    plt.close("all")
    # an environment seen at one temperature only gets no ε_a, with a warning
    no_cl4 = replace(res_b, classes={"Cl3O1": res_b.classes["Cl3O1"]})
    with pytest.warns(UserWarning, match="fewer than two"):
        only = residence_activation([res_a, no_cl4])
    assert set(only) == {"Cl3O1"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mobile": "Na"}, "Na"),
        ({"center": "Ga"}, "Ga"),
        ({"ligands": ("Cl", "Br")}, "Br"),
        ({"cutoffs": {"Cl": 15.0, "O": 2.8}}, "half the cell"),
        ({"host_cutoff_A": 11.0}, "half the cell"),
        ({"max_lag_ps": 1000.0}, "longer than the trajectory"),
        ({"rule": "voronoi"}, "rule"),
        ({"tolerance_ps": -1.0}, "tolerance"),
        ({"n_blocks": 1}, "n_blocks"),
    ],
)
def test_bad_input(poisson, kwargs, match):
    _, traj, _ = poisson
    args = {
        "mobile": "Li",
        "center": "Al",
        "ligands": ("Cl", "O"),
        "cutoffs": CUTOFFS,
        "host_cutoff_A": HOST_CUT,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        residence_times(traj[:500], **args)


def test_activation_needs_temperatures(poisson):
    _, traj, _ = poisson
    res = residence_times(
        traj[:1000], "Li", "Al", ("Cl", "O"), cutoffs=CUTOFFS, host_cutoff_A=HOST_CUT
    )
    with pytest.raises(InputError, match="two distinct temperatures"):
        residence_activation([res, res])


@pytest.mark.parametrize("rule", ["nearest_center", "shared_ligand"])
def test_hosts_match_a_dense_minimum_image_reference(rule):
    """The per-frame k-d tree assigns the same hosts as dense minimum-image distances."""
    from solidion.structure.neighbors import min_image_distances

    rng = np.random.default_rng(11)
    cell = np.array([[11.0, 0.0, 0.0], [3.0, 10.5, 0.0], [-2.0, 1.5, 12.0]])
    n_c, n_l, n_m, n_f = 8, 30, 10, 6
    frac = rng.uniform(0, 1, (n_f, n_c + n_l + n_m, 3))
    pos = frac @ cell + rng.integers(-3, 4, (1, n_c + n_l + n_m, 3)) @ cell
    symbols = ["Al"] * n_c + ["Cl"] * (n_l // 2) + ["O"] * (n_l // 2) + ["Li"] * n_m
    traj = Trajectory.from_arrays(symbols, pos, cell, 10.0)
    cut, mcut, host_cut = {"Cl": 3.4, "O": 3.0}, {"Cl": 3.2, "O": 2.9}, 4.2
    hosts, _, _ = assign_hosts(
        traj,
        "Li",
        "Al",
        ("Cl", "O"),
        cut,
        rule=rule,
        host_cutoff_A=host_cut,
        mobile_cutoffs=mcut,
    )
    ic, im, il = traj.indices("Al"), traj.indices("Li"), traj.indices(["Cl", "O"])
    lig_cut = np.array([cut[s] for s in np.asarray(symbols)[il]])
    mob_cut = np.array([mcut[s] for s in np.asarray(symbols)[il]])
    x = traj.positions
    d_mc = min_image_distances(x[:, im], x[:, ic], cell)
    expect = np.full((n_f, n_m), -1)
    for f in range(n_f):
        bonded = min_image_distances(x[f : f + 1, ic], x[f : f + 1, il], cell)[0] <= lig_cut
        mine = min_image_distances(x[f : f + 1, im], x[f : f + 1, il], cell)[0] <= mob_cut
        for m in range(n_m):
            if rule == "nearest_center":
                k = int(np.argmin(d_mc[f, m]))
                if d_mc[f, m, k] <= host_cut:
                    expect[f, m] = ic[k]
            else:
                shared = (bonded & mine[m]).sum(axis=1)
                if shared.max() >= 1:
                    best = np.flatnonzero(shared == shared.max())
                    expect[f, m] = ic[best[np.argmin(d_mc[f, m, best])]]
    assert (expect >= 0).any() and (expect < 0).any()
    np.testing.assert_array_equal(hosts, expect)

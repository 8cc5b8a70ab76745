"""Hopping theory: TST, Vineyard, NEB + Hessians from a potential, Nernst–Einstein, isotopes."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from scipy import constants as sc

from solidion.errors import AnalysisError, InputError
from solidion.theory import hopping as hp
from solidion.units import BOLTZMANN_EV_K, nernst_einstein_prefactor_S_cm

# Independent of the module's own conversion: ν = √(k/m)/2π, k in eV/Å², m in amu (scipy's
# CODATA amu may differ from the module's CODATA 2018 value in the 9th digit: compare to 1e-8).
_SI_OMEGA = math.sqrt(sc.e / (1e-20 * sc.atomic_mass))


def nu_THz(k_eV_A2: float, m_amu: float) -> float:
    return _SI_OMEGA * math.sqrt(k_eV_A2 / m_amu) / (2 * math.pi) / 1e12


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


# ---------------------------------------------------------------------------------------------
# rates and random walks
# ---------------------------------------------------------------------------------------------
def test_tst_rate_hand_value_and_arrays():
    kt = BOLTZMANN_EV_K * 300.0
    assert hp.tst_rate(1e13, 0.3, 300.0) == pytest.approx(1e13 * math.exp(-0.3 / kt), rel=1e-12)
    rates = hp.tst_rate(1e13, 0.3, np.array([300.0, 600.0]))
    assert rates.shape == (2,) and rates[1] > rates[0]
    # Arrhenius: ln k vs 1/kT has slope −E_m
    t = np.array([400.0, 800.0])
    slope = np.diff(np.log(hp.tst_rate(2e12, 0.45, t))) / np.diff(1 / (BOLTZMANN_EV_K * t))
    assert slope[0] == pytest.approx(-0.45, rel=1e-12)


def test_random_walk_diffusivity_hand_value():
    # Γ = 1e9 /s, a = 2 Å: D = Γ a²/6 = 1e9 · 4e-16 / 6 cm²/s
    assert hp.random_walk_diffusivity(1e9, 2.0) == pytest.approx(4e-7 / 6, rel=1e-12)
    assert hp.random_walk_diffusivity(1e9, 2.0, 0.5, dimensionality=2) == pytest.approx(
        1e9 * 4e-16 * 0.5 / 4, rel=1e-12
    )


def test_random_walk_diffusivity_matches_a_simulated_lattice_walk():
    # simple cubic walkers, 6 neighbours, one jump per unit time: D = Γ a² / 6 per the MSD
    rng = np.random.default_rng(7)
    a, n_walkers, n_jumps = 1.5, 4000, 400
    steps = np.concatenate([np.eye(3), -np.eye(3)]) * a
    r = steps[rng.integers(0, 6, size=(n_walkers, n_jumps))].sum(axis=1)
    d_sim_A2_s = np.mean(np.sum(r**2, axis=1)) / (6 * n_jumps)  # Γ = 1 Hz
    d_cm2 = hp.random_walk_diffusivity(1.0, a)
    assert d_sim_A2_s * 1e-16 == pytest.approx(d_cm2, rel=0.05)


def test_correlation_factors_table_and_errors():
    assert hp.correlation_factor("fcc") == 0.78146
    assert hp.correlation_factor("BCC") == 0.72722
    assert hp.correlation_factor("simple_cubic") == 0.65311
    assert hp.correlation_factor("triangular") == 0.56006
    assert hp.correlation_factor("honeycomb") == pytest.approx(1 / 3)
    assert hp.correlation_factor("chain") == 0.0
    assert hp.correlation_factor("diamond", "interstitial") == 1.0
    assert hp.correlation_factor("fcc", "interstitialcy") == pytest.approx(2 / 3)
    # the 1 − 2/z estimate is close for the cubic lattices
    for lattice, z in (("sc", 6), ("bcc", 8), ("fcc", 12)):
        assert abs(hp.correlation_factor(lattice) - (1 - 2 / z)) < 0.06
    with pytest.raises(InputError, match=r"lattice: .*fcc"):
        hp.correlation_factor("hcp")
    with pytest.raises(InputError, match=r"mechanism: .*vacancy"):
        hp.correlation_factor("fcc", "ring")
    with pytest.raises(TypeError):
        hp.CORRELATION_FACTORS["vacancy"]["fcc"] = 1.0  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# Vineyard prefactor
# ---------------------------------------------------------------------------------------------
def test_vineyard_single_atom_sinusoidal_barrier_is_the_well_frequency():
    # V = E/2 (1 − cos 2πx/a): curvature ±2π²E/a² at the minimum and saddle; y, z unchanged
    e_m, a, m = 0.4, 3.0, 6.94
    k = 2 * math.pi**2 * e_m / a**2
    h_min = np.diag([k, 1.3, 2.1])
    h_sad = np.diag([-k, 1.3, 2.1])
    nu = hp.vineyard_prefactor_from_hessians(h_min, h_sad, [m])
    assert nu == pytest.approx(nu_THz(k, m) * 1e12, rel=1e-8)
    # rotated frame: same result
    rot = random_rotation(np.random.default_rng(1))
    nu_rot = hp.vineyard_prefactor_from_hessians(rot @ h_min @ rot.T, rot @ h_sad @ rot.T, [m])
    assert nu_rot == pytest.approx(nu, rel=1e-10)


def test_vineyard_transverse_modes_stiffening_at_the_saddle():
    # 3D well: ν* = ν_x · ν_y ν_z / (ν'_y ν'_z), with the transverse curvatures ×(1 + c) at the saddle
    m, kx, ky, kz, c = 7.0, 3.0, 2.0, 5.0, 0.8
    freqs_min = [nu_THz(kx, m), nu_THz(ky, m), nu_THz(kz, m)]
    freqs_sad = [-nu_THz(1.0, m), nu_THz(ky * (1 + c), m), nu_THz(kz * (1 + c), m)]
    expected = nu_THz(kx, m) / (1 + c) * 1e12
    assert hp.vineyard_prefactor(freqs_min, freqs_sad) == pytest.approx(expected, rel=1e-12)
    # imaginary mode given as a complex number, as ase.vibrations writes it
    freqs_sad_c = np.array(freqs_sad, dtype=complex)
    freqs_sad_c[0] = 1e-9 + 1j * nu_THz(1.0, m)
    assert hp.vineyard_prefactor(freqs_min, freqs_sad_c) == pytest.approx(expected, rel=1e-12)


def _saddle_from(h_min: np.ndarray, rng) -> np.ndarray:
    """A saddle Hessian: h_min with one direction turned unstable."""
    v = rng.normal(size=h_min.shape[0])
    v /= np.linalg.norm(v)
    h = h_min - 3.0 * np.max(np.linalg.eigvalsh(h_min)) * np.outer(v, v)
    return 0.5 * (h + h.T)


def test_vineyard_equals_the_ratio_of_determinants_for_many_atoms():
    rng = np.random.default_rng(3)
    n = 6
    b = rng.normal(size=(3 * n, 3 * n))
    h_min = b @ b.T + 0.5 * np.eye(3 * n)  # symmetric positive definite, eV/Å²
    h_sad = _saddle_from(h_min, rng)
    masses = rng.uniform(5, 60, size=n)
    inv = np.repeat(masses**-0.5, 3)
    d_min = inv[:, None] * h_min * inv[None, :]
    d_sad = inv[:, None] * h_sad * inv[None, :]
    lam_sad = np.linalg.eigvalsh(d_sad)
    assert np.count_nonzero(lam_sad < 0) == 1
    # ν*² (2π)² = det D_min / |det' D_sad|  (det' without the unstable eigenvalue)
    ratio = np.linalg.det(d_min) / abs(np.linalg.det(d_sad)) * abs(lam_sad[0])
    expected = math.sqrt(ratio) * _SI_OMEGA / (2 * math.pi)
    got = hp.vineyard_prefactor_from_hessians(h_min, h_sad, masses)
    assert got == pytest.approx(expected, rel=1e-8)


def _spring_ring(n: int, rng) -> np.ndarray:
    """Translation-invariant force constants: random pair springs among n atoms."""
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in range(i + 1, n):
            u = rng.normal(size=3)
            k = rng.uniform(0.5, 2.0) * np.outer(u, u) / (u @ u) + 0.3 * np.eye(3)
            for p, q, s in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
                h[3 * p : 3 * p + 3, 3 * q : 3 * q + 3] += s * k
    return h


def test_full_3n_lists_drop_the_translations():
    rng = np.random.default_rng(5)
    n = 5
    h_min = _spring_ring(n, rng)
    # saddle: destabilise one internal (translation-free) direction
    v = rng.normal(size=3 * n)
    v = v.reshape(n, 3)
    v -= v.mean(axis=0)
    v = v.ravel() / np.linalg.norm(v)
    h_sad = h_min - 4.0 * np.max(np.linalg.eigvalsh(h_min)) * np.outer(v, v)
    masses = np.full(n, 20.0)  # equal masses keep translations exact zero modes
    f_min = hp.harmonic_frequencies_THz(h_min, masses)
    f_sad = hp.harmonic_frequencies_THz(h_sad, masses)
    # three numerical zeros in each list (their sign is up to the BLAS kernel), far below the
    # stated relative tolerance
    for f in (f_min, f_sad):
        assert np.sum(np.abs(f) <= hp.ZERO_MODE_REL_TOL * np.max(np.abs(f))) == 3
    nu = hp.vineyard_prefactor(f_min, f_sad, remove_translations=True)
    # pseudo-determinants over the non-zero eigenvalues
    lam_min = np.linalg.eigvalsh(h_min / 20.0)
    lam_sad = np.linalg.eigvalsh(h_sad / 20.0)
    keep_min = np.sort(lam_min)[3:]
    lam_sad = lam_sad[np.argsort(np.abs(lam_sad))][3:]
    log_ratio = np.sum(np.log(keep_min)) - np.sum(np.log(np.abs(lam_sad[lam_sad > 0])))
    expected = math.exp(0.5 * log_ratio) * _SI_OMEGA / (2 * math.pi)
    assert nu == pytest.approx(expected, rel=1e-8)
    assert hp.vineyard_prefactor_from_hessians(
        h_min, h_sad, masses, remove_translations=True
    ) == pytest.approx(nu, rel=1e-12)
    # the same lists without removal: zero modes at the minimum are refused, and the error
    # names the minimum's list whichever sign the solver gave its numerical zeros
    zeros = np.argsort(np.abs(f_min))[:3]
    for signs in ([1, 1, 1], [-1, 1, 1], [-1, -1, -1]):
        f = f_min.copy()
        f[zeros] = np.array(signs) * np.maximum(np.abs(f[zeros]), 1e-9)
        with pytest.raises(InputError, match=r"freqs_min_THz: .* 3 zero modes"):
            hp.vineyard_prefactor(f, f_sad)
    # the saddle's numerical zeros are not counted as imaginary modes either
    zeros = np.argsort(np.abs(f_sad))[:3]
    f = f_sad.copy()
    f[zeros] = -np.maximum(np.abs(f[zeros]), 1e-9)
    with pytest.raises(InputError, match=r"freqs_saddle_THz: 3 zero modes at the saddle"):
        hp.vineyard_prefactor(np.sort(np.abs(f_min))[3:], f)


def test_vineyard_overflow_free_for_many_modes():
    f_min = np.full(3000, 40.0)
    f_sad = np.concatenate([[-5.0], np.full(2999, 39.9)])
    nu = hp.vineyard_prefactor(f_min, f_sad)
    assert math.isfinite(nu)
    assert math.log(nu) == pytest.approx(
        math.log(40.0) + 2999 * math.log(40.0 / 39.9) + math.log(1e12), rel=1e-12
    )


@pytest.mark.parametrize(
    ("f_min", "f_sad", "match"),
    [
        ([5.0, 8.0, 8.0], [3.0, 10.0, 10.0], r"freqs_saddle_THz: .*exactly one imaginary.*found 0"),
        ([5.0, 8.0, 8.0], [-3.0, -1.0, 10.0], r"freqs_saddle_THz: .*found 2"),
        ([5.0, 8.0, 8.0], [-3.0, 10.0], r"freqs_saddle_THz: wrong count"),
        ([5.0, 8.0, 8.0], [-3.0, 10.0, 10.0, 11.0], r"freqs_saddle_THz: wrong count"),
        ([-5.0, 8.0, 8.0], [-3.0, 10.0, 10.0], r"freqs_min_THz: .*imaginary"),
        ([0.0, 8.0, 8.0], [-3.0, 10.0, 10.0], r"freqs_min_THz"),
        ([5.0, 8.0, 8.0], [-3.0, 0.0, 10.0], r"freqs_saddle_THz"),
        ([[5.0, 8.0]], [-3.0, 10.0], r"freqs_min_THz: expected a non-empty 1-D"),
        ([], [-3.0], r"freqs_min_THz"),
        ([5.0, np.nan, 8.0], [-3.0, 10.0, 10.0], r"freqs_min_THz: .*finite"),
    ],
)
def test_vineyard_rejects_bad_mode_lists(f_min, f_sad, match):
    with pytest.raises(InputError, match=match):
        hp.vineyard_prefactor(f_min, f_sad)


def test_vineyard_remove_translations_checks_that_they_are_zero():
    f_min = [0.01, -0.02, 0.005, 5.0, 8.0, 8.0]
    f_sad = [0.0, 0.01, -0.01, -3.0, 10.0, 10.0]
    assert hp.vineyard_prefactor(f_min, f_sad, remove_translations=True) == pytest.approx(3.2e12)
    with pytest.raises(InputError, match=r"freqs_min_THz: .*not near-zero"):
        hp.vineyard_prefactor([1.0, 2.0, 3.0, 5.0], [-1.0, 2.0, 3.0, 5.0], remove_translations=True)
    with pytest.raises(InputError, match="freqs_min_THz"):
        hp.vineyard_prefactor([0.0, 0.0, 0.0], [0.0, 0.0, -1.0], remove_translations=True)
    # a free cluster: 6 zero modes
    f_min6 = [0.0] * 6 + [5.0, 8.0]
    f_sad6 = [0.0] * 6 + [-2.0, 10.0]
    assert hp.vineyard_prefactor(
        f_min6, f_sad6, remove_translations=True, periodic=False
    ) == pytest.approx(4e12)


@pytest.mark.parametrize(
    ("hessian", "masses", "match"),
    [
        (np.eye(3), [0.0], "masses_amu"),
        (np.eye(3), [-1.0], "masses_amu"),
        (np.eye(3), [1.0, 2.0], "masses_amu"),
        (np.eye(4), [1.0], "hessian_eV_A2"),
        (np.triu(np.ones((3, 3))), [1.0], r"hessian_eV_A2: .*not symmetric"),
        (np.full((3, 3), np.inf), [1.0], "hessian_eV_A2"),
    ],
)
def test_harmonic_frequencies_rejects_bad_input(hessian, masses, match):
    with pytest.raises(InputError, match=match):
        hp.harmonic_frequencies_THz(hessian, masses)


def test_quantum_rate_limits():
    f_min, f_sad = [5.0, 8.0, 8.0], [-3.0, 10.0, 10.0]
    classical = hp.harmonic_rate_Hz(f_min, f_sad, 0.3, 300.0)
    assert classical == pytest.approx(hp.tst_rate(3.2e12, 0.3, 300.0), rel=1e-12)
    # high T: quantum partition functions → classical
    hot = 1e5
    assert hp.harmonic_rate_Hz(f_min, f_sad, 0.3, hot, quantum=True) == pytest.approx(
        hp.harmonic_rate_Hz(f_min, f_sad, 0.3, hot), rel=1e-5
    )
    # the full form by hand: 2 sinh(x/2) = e^{x/2} (1 − e^{−x}); the e^{x/2} are the ZPE shift
    cold = 40.0
    full = hp.harmonic_rate_Hz(f_min, f_sad, 0.05, cold, quantum="full")
    zpe = hp.harmonic_rate_Hz(f_min, f_sad, 0.05, cold, quantum="zpe")
    h = sc.h / sc.e
    x_min = h * np.array(f_min) * 1e12 / (BOLTZMANN_EV_K * cold)
    x_sad = h * np.array(f_sad[1:]) * 1e12 / (BOLTZMANN_EV_K * cold)
    thermal = np.prod(-np.expm1(-x_min)) / np.prod(-np.expm1(-x_sad))
    assert full == pytest.approx(zpe * (BOLTZMANN_EV_K * cold / h) / 3.2e12 * thermal, rel=1e-9)
    with pytest.raises(InputError, match="quantum"):
        hp.harmonic_rate_Hz(f_min, f_sad, 0.3, 300.0, quantum="semi")
    with pytest.raises(InputError, match="T_K"):
        hp.harmonic_rate_Hz(f_min, f_sad, 0.3, -300.0)


# ---------------------------------------------------------------------------------------------
# NEB + vibrations through a potential
# ---------------------------------------------------------------------------------------------
E_M, PERIOD_A, K_Y, K_Z, STIFFEN = 0.35, 3.0, 2.0, 3.0, 0.6


class Corrugated(Calculator):
    """One atom on V = E_M (1 − cos qx)/2 + k_y(x) y²/2 + K_Z z²/2, k_y = K_Y (1 + c s(x)).

    s = (1 − cos qx)/2 is 0 at the minima and 1 at the saddle, so the y curvature grows by
    1 + STIFFEN from the minimum to the saddle: ν* = ν_x / √(1 + STIFFEN) exactly.
    """

    implemented_properties = ("energy", "forces")
    stiffen = STIFFEN

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        q = 2 * math.pi / PERIOD_A
        s, ds = (1 - math.cos(q * x)) / 2, q * math.sin(q * x) / 2
        ky = K_Y * (1 + self.stiffen * s)
        energy = E_M * s + 0.5 * ky * y**2 + 0.5 * K_Z * z**2
        grad = [E_M * ds + 0.5 * K_Y * self.stiffen * ds * y**2, ky * y, K_Z * z]
        self.results = {"energy": energy, "forces": -np.array([grad])}


def test_hop_from_potential_recovers_a_closed_form_prefactor():
    m = 6.94
    initial = Atoms("Li", positions=[[0.0, 0.0, 0.0]], masses=[m])
    final = Atoms("Li", positions=[[PERIOD_A, 0.0, 0.0]], masses=[m])
    res = hp.hop_from_potential(
        initial, final, Corrugated, n_images=3, fmax=1e-3, radii_A=(1.0,), delta_A=1e-3
    )
    k_x = E_M * (2 * math.pi / PERIOD_A) ** 2 / 2
    assert res.migration_energy_eV == pytest.approx(E_M, abs=1e-6)
    assert res.translations_removed is False  # not periodic: no zero modes
    assert res.n_imaginary_saddle == 1 and res.n_imaginary_min == 0
    assert res.frequencies_saddle_THz[0] == pytest.approx(-nu_THz(k_x, m), rel=1e-4)
    assert res.prefactor_Hz == pytest.approx(
        nu_THz(k_x, m) * 1e12 / math.sqrt(1 + STIFFEN), rel=1e-4
    )
    assert res.hop_length_A == pytest.approx(PERIOD_A)
    assert res.hopping_index == 0
    # single particle: the classical isotope exponent is exactly 1/2
    assert res.isotope_exponent(hp.MASS_LI6_AMU, hp.MASS_LI7_AMU) == pytest.approx(0.5, abs=1e-10)


def _cu_vacancy_hop() -> tuple[Atoms, Atoms]:
    """fcc Cu 2×2×2 conventional (32 sites) minus the atom at the origin; a neighbour hops in."""
    perfect = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    d = perfect.get_distances(0, range(len(perfect)), mic=True)
    j = int(np.argsort(d)[1])
    initial = perfect.copy()
    del initial[0]
    final = perfect.copy()
    final.positions[j] = perfect.positions[0]
    del final[0]
    return initial, final


@pytest.fixture(scope="module")
def cu_hop() -> hp.HopResult:
    initial, final = _cu_vacancy_hop()
    return hp.hop_from_potential(
        initial,
        final,
        EMT,
        n_images=3,
        fmax=0.03,
        optimizer="FIRE",
        radii_A=(2.6, 3.7, 7.0),  # 1st shell, 2nd shell, the whole 31-atom cell
        neighbour_radius_A=3.7,
    )


def test_emt_vacancy_hop_has_one_imaginary_mode_and_sensible_numbers(cu_hop):
    res = cu_hop
    assert res.n_imaginary_saddle == 1 and res.n_imaginary_min == 0
    assert np.count_nonzero(res.frequencies_saddle_THz < 0) == 1
    assert np.all(res.frequencies_min_THz > 0)
    # EMT gives 0.76 eV here (experiment for Cu: ~0.7 eV)
    assert 0.65 < res.migration_energy_eV < 0.85
    assert res.reverse_migration_energy_eV == pytest.approx(res.migration_energy_eV, abs=0.01)
    assert 1e12 < res.prefactor_Hz < 1e14
    # the hopping atom moves one nearest-neighbour distance a/√2
    assert res.hop_length_A == pytest.approx(3.6 / math.sqrt(2), abs=0.05)
    assert max(res.neb_energies_eV) == pytest.approx(res.migration_energy_eV)
    assert 0 < res.saddle_image < len(res.neb_energies_eV) - 1


def test_emt_prefactor_convergence_with_radius(cu_hop):
    res = cu_hop
    assert list(res.prefactor_by_radius_Hz) == [2.6, 3.7, 7.0]
    assert res.n_atoms_by_radius == {2.6: 12, 3.7: 19, 7.0: 31}
    assert res.prefactor_Hz == res.prefactor_by_radius_Hz[3.7]
    assert res.hessian_indices[0] == res.hopping_index
    assert res.hessian_min_eV_A2.shape == res.hessian_saddle_eV_A2.shape == (57, 57)
    assert res.translations_removed is False
    values = np.array(list(res.prefactor_by_radius_Hz.values()))
    # partial Hessians converge on the whole-cell value (translations removed there)
    assert np.all(np.abs(values / values[-1] - 1) < 0.15)
    # the partial Hessian reproduces the stored frequencies
    np.testing.assert_allclose(
        hp.harmonic_frequencies_THz(res.hessian_saddle_eV_A2, res.masses_amu),
        res.frequencies_saddle_THz,
    )


def test_emt_rates_diffusivity_and_isotopes(cu_hop):
    res = cu_hop
    t = 1000.0
    k = res.rate_Hz(t)
    assert k == pytest.approx(
        res.prefactor_Hz * math.exp(-res.migration_energy_eV / (BOLTZMANN_EV_K * t))
    )
    a = 3.6 / math.sqrt(2)
    d = res.diffusivity_cm2_s(t, a, n_neighbour_sites=12, correlation_factor=0.78146)
    assert d == pytest.approx(12 * k * (a * 1e-8) ** 2 * 0.78146 / 6, rel=1e-12)
    assert res.diffusivity_cm2_s(t, 2.0, n_neighbour_sites=12) == pytest.approx(
        hp.random_walk_diffusivity(12 * k, 2.0)
    )
    with pytest.raises(InputError, match="n_neighbour_sites"):
        res.diffusivity_cm2_s(t, a, n_neighbour_sites=0)
    # ⁶³Cu/⁶⁵Cu on the hopping atom only: its neighbours share the unstable mode, α < 1/2
    alpha_tracer = res.isotope_exponent(62.9296, 64.9278)
    assert 0.3 < alpha_tracer < 0.5
    # every displaced Cu substituted (pure isotope): masses scale out, exactly 1/2
    assert res.isotope_exponent(62.9296, 64.9278, substitute="element") == pytest.approx(
        0.5, abs=1e-9
    )


def test_hop_result_round_trips_through_json(cu_hop):
    d = json.loads(json.dumps(cu_hop.to_dict()))
    back = hp.HopResult.from_dict(d)
    assert back.to_dict() == d
    assert back.prefactor_by_radius_Hz == cu_hop.prefactor_by_radius_Hz
    np.testing.assert_array_equal(back.hessian_min_eV_A2, cu_hop.hessian_min_eV_A2)


def test_hop_from_potential_rejects_bad_endpoints():
    initial, final = _cu_vacancy_hop()
    with pytest.raises(InputError, match="final"):
        hp.hop_from_potential(initial, final[:-1], EMT)
    with pytest.raises(InputError, match="final: .*same state"):
        hp.hop_from_potential(initial, initial.copy(), EMT, relax_endpoints=False)
    with pytest.raises(InputError, match="initial"):
        hp.hop_from_potential("POSCAR", final, EMT)
    with pytest.raises(InputError, match="n_images"):
        hp.hop_from_potential(initial, final, EMT, n_images=0)
    with pytest.raises(InputError, match="radii_A"):
        hp.hop_from_potential(initial, final, EMT, radii_A=(-1.0,))
    with pytest.raises(InputError, match="calculator"):
        hp.hop_from_potential(initial, final, 3.0)


class SecondOrder(Corrugated):
    """k_y turns negative at the top of the path: a second-order saddle on the straight band."""

    stiffen = -2.0


def test_hop_from_potential_reports_wrong_mode_counts():
    m = 6.94
    initial = Atoms("Li", positions=[[0.0, 0.0, 0.0]], masses=[m])
    final = Atoms("Li", positions=[[PERIOD_A, 0.0, 0.0]], masses=[m])
    with pytest.raises(AnalysisError, match=r"radius 1 Å: 0 imaginary .* and 2 at the saddle"):
        hp.hop_from_potential(initial, final, SecondOrder, n_images=3, fmax=1e-3, radii_A=(1.0,))
    res = hp.hop_from_potential(
        initial,
        final,
        SecondOrder,
        n_images=3,
        fmax=1e-3,
        radii_A=(1.0,),
        require_first_order=False,
    )
    assert res.n_imaginary_saddle == 2 and math.isnan(res.prefactor_Hz)
    assert res.to_dict()["prefactor_Hz"] is None


@pytest.fixture
def one_torch_thread():
    """One torch thread: on a small shared CPU box, two threads fighting other jobs run ~4× slower."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _li2o_vacancy_hop() -> tuple[Atoms, Atoms]:
    """Antifluorite Li2O, 2×1×1 conventional cells (24 sites) minus one Li; a Li hops along x.

    The hop (a/2 along x) is not half a lattice vector of the 2a × a × a cell, so the minimum-image
    path is unique.
    """
    a = 4.61
    o_sites = [(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)]
    li_sites = list(itertools.product((0.25, 0.75), repeat=3))
    perfect = Atoms("O4Li8", scaled_positions=o_sites + li_sites, cell=[a, a, a], pbc=True).repeat(
        (2, 1, 1)
    )
    li = [i for i, s in enumerate(perfect.get_chemical_symbols()) if s == "Li"]
    vac = li[0]
    vec = perfect.get_distances(vac, li, mic=True, vector=True)
    j = next(li[k] for k in range(len(li)) if np.allclose(np.abs(vec[k]), [a / 2, 0, 0]))
    initial = perfect.copy()
    del initial[vac]
    final = perfect.copy()
    final.positions[j] = perfect.positions[vac]
    del final[vac]
    return initial, final


@pytest.mark.slow
def test_chgnet_lithium_vacancy_hop_in_li2o(one_torch_thread):
    """The same API with the default potential (CHGNet) on a 23-atom ionic cell (~50 s)."""
    initial, final = _li2o_vacancy_hop()
    # the straight path through the O–O edge is a second-order saddle for CHGNet: a small
    # perpendicular kick lets the single climbing image find the first-order one beside it
    res = hp.hop_from_potential(
        initial, final, None, n_images=1, fmax=0.1, radii_A=(1.0, 2.1), perturb_A=0.05, rng=0
    )
    assert res.n_imaginary_saddle == 1 and res.n_imaginary_min == 0
    assert 0.1 < res.migration_energy_eV < 1.5
    assert 1e11 < res.prefactor_Hz < 1e15
    assert initial.numbers[res.hopping_index] == 3
    # both endpoints relax the hopping Li toward the vacancy: less than the a/2 = 2.3 Å site spacing
    assert 1.5 < res.hop_length_A < 4.61 / 2
    assert set(res.prefactor_by_radius_Hz) == {1.0, 2.1}
    assert res.n_atoms_by_radius[1.0] == 1 and res.n_atoms_by_radius[2.1] > 1


# ---------------------------------------------------------------------------------------------
# Nernst–Einstein, Haven ratio
# ---------------------------------------------------------------------------------------------
def test_nernst_einstein_hand_value_and_z_squared():
    # n = 1e28 m⁻³, z = 1, D = 1e-12 m²/s, T = 300 K: σ = n e² D / (k_B T)
    by_hand = 1e28 * (1.602176634e-19) ** 2 * 1e-12 / (1.380649e-23 * 300.0)
    assert by_hand == pytest.approx(0.061975, rel=1e-4)
    assert hp.nernst_einstein_conductivity(1e28, 1, 1e-12, 300.0) == pytest.approx(
        by_hand, rel=1e-12
    )
    one = hp.nernst_einstein_conductivity(1e28, 1, 1e-12, 300.0)
    assert hp.nernst_einstein_conductivity(1e28, 2, 1e-12, 300.0) == pytest.approx(
        4 * one, rel=1e-14
    )
    assert hp.nernst_einstein_conductivity(1e28, -2, 1e-12, 300.0) == pytest.approx(
        4 * one, rel=1e-14
    )
    assert hp.nernst_einstein_conductivity(1e28, 3, 1e-12, 300.0) == pytest.approx(
        9 * one, rel=1e-14
    )


def test_nernst_einstein_inverse_round_trip():
    for z in (1, 2, -1, 3):
        sigma = hp.nernst_einstein_conductivity(3.3e27, z, 4.2e-11, 450.0)
        assert hp.diffusivity_from_conductivity(sigma, 3.3e27, z, 450.0) == pytest.approx(
            4.2e-11, rel=1e-12
        )


def test_nernst_einstein_agrees_with_the_units_prefactor():
    # N ions in V Å³ with D in cm²/s through units.nernst_einstein_prefactor_S_cm (S/cm)
    volume_A3, n_ions, z, d_cm2_s, t = 1234.0, 10, 2, 3e-6, 500.0
    s_cm = nernst_einstein_prefactor_S_cm(volume_A3, t) * n_ions * z**2 * d_cm2_s
    n_per_m3 = n_ions / (volume_A3 * 1e-30)
    s_m = hp.nernst_einstein_conductivity(n_per_m3, z, d_cm2_s * 1e-4, t)
    assert s_m / 100.0 == pytest.approx(s_cm, rel=1e-12)


def test_haven_ratio_conversions():
    d_tracer, d_sigma = 2.0e-12, 5.0e-12
    h = hp.haven_ratio(d_tracer, d_sigma)
    assert h == pytest.approx(0.4)
    assert hp.charge_diffusivity(d_tracer, h) == pytest.approx(d_sigma)
    sigma = hp.conductivity_from_tracer(1e28, 1, d_tracer, 300.0, haven_ratio=h)
    assert sigma == pytest.approx(hp.nernst_einstein_conductivity(1e28, 1, d_sigma, 300.0))
    assert hp.conductivity_from_tracer(1e28, 1, d_tracer, 300.0) == pytest.approx(
        sigma * h, rel=1e-12
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hp.nernst_einstein_conductivity(1e28, 1, 1e-12, -300.0), "T_K"),
        (lambda: hp.nernst_einstein_conductivity(1e28, 1, 1e-12, 0.0), "T_K"),
        (lambda: hp.nernst_einstein_conductivity(-1e28, 1, 1e-12, 300.0), "n_per_m3"),
        (lambda: hp.nernst_einstein_conductivity(1e28, 0, 1e-12, 300.0), "z"),
        (lambda: hp.nernst_einstein_conductivity(1e28, 1, -1e-12, 300.0), "D_m2_s"),
        (lambda: hp.diffusivity_from_conductivity(0.1, 0.0, 1, 300.0), "n_per_m3"),
        (lambda: hp.diffusivity_from_conductivity(-0.1, 1e28, 1, 300.0), "sigma_S_m"),
        (lambda: hp.haven_ratio(1e-12, 0.0), "D_sigma"),
        (lambda: hp.charge_diffusivity(1e-12, -0.3), "haven_ratio"),
        (lambda: hp.conductivity_from_tracer(1e28, 1, 1e-12, 300.0, haven_ratio=0), "haven_ratio"),
        (lambda: hp.tst_rate(1e13, 0.3, -10.0), "T_K"),
        (lambda: hp.tst_rate(-1e13, 0.3, 300.0), "nu_Hz"),
        (lambda: hp.tst_rate(1e13, -0.3, 300.0), "Em_eV"),
        (lambda: hp.random_walk_diffusivity(1e9, 0.0), "hop_length_A"),
        (lambda: hp.random_walk_diffusivity(-1e9, 1.0), "rate_Hz"),
        (lambda: hp.random_walk_diffusivity(1e9, 1.0, 1.2), "correlation_factor"),
        (lambda: hp.random_walk_diffusivity(1e9, 1.0, dimensionality=4), "dimensionality"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(InputError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# isotope effect
# ---------------------------------------------------------------------------------------------
def test_isotope_exponent_from_measured_ratios():
    ln_mass = math.log(7.0160040 / 6.0151223)
    assert hp.isotope_exponent(1.08, 1.0) == pytest.approx(math.log(1.08) / ln_mass, rel=1e-12)
    assert hp.isotope_exponent(1.08, 1.0) == pytest.approx(0.500, abs=1e-3)
    assert hp.isotope_exponent(1.03, 1.0) == pytest.approx(0.192, abs=1e-3)
    # round trip: σ ∝ M^−α
    for alpha in (0.1, 0.37, 0.5):
        ratio = (hp.MASS_LI7_AMU / hp.MASS_LI6_AMU) ** alpha
        assert hp.isotope_exponent(ratio * 2e-4, 2e-4) == pytest.approx(alpha, rel=1e-12)
    assert hp.isotope_exponent(2.0, 1.0, 1.0, 4.0) == pytest.approx(0.5)
    with pytest.raises(InputError, match="m_heavy"):
        hp.isotope_exponent(1.08, 1.0, 7.0, 6.0)
    with pytest.raises(InputError, match="m_light"):
        hp.isotope_exponent(1.08, 1.0, 0.0, 6.0)
    with pytest.raises(InputError, match="sigma_heavy"):
        hp.isotope_exponent(1.08, 0.0)


def _single_li(rng, k_min=(2.7, 2.7, 2.7), k_sad=(-1.0, 8.0, 8.0)):
    rot = random_rotation(rng)
    return rot @ np.diag(k_min) @ rot.T, rot @ np.diag(k_sad) @ rot.T


def test_predicted_isotope_exponent_is_one_half_for_a_single_particle():
    h_min, h_sad = _single_li(np.random.default_rng(11))
    alpha = hp.predicted_isotope_exponent(h_min, h_sad, [6.94], 0)
    assert alpha == pytest.approx(0.5, abs=1e-12)
    # a mask, and a spectator atom that is not coupled to the Li: still exactly 1/2
    big_min = np.zeros((6, 6))
    big_sad = np.zeros((6, 6))
    big_min[:3, :3], big_sad[:3, :3] = h_min, h_sad
    big_min[3:, 3:] = big_sad[3:, 3:] = np.diag([4.0, 5.0, 6.0])
    alpha2 = hp.predicted_isotope_exponent(big_min, big_sad, [6.94, 88.9], np.array([True, False]))
    assert alpha2 == pytest.approx(0.5, abs=1e-12)


def test_predicted_isotope_exponent_of_a_rigid_pair_matches_the_effective_mass():
    # Li (substituted) stiffly bound to a partner of mass M; the pair rolls over the barrier
    m_partner, k_ext, k_bond = 16.0, 1.5, 2000.0
    h_min = np.zeros((6, 6))
    h_sad = np.zeros((6, 6))
    bond = k_bond * np.array([[1.0, -1.0], [-1.0, 1.0]])
    for axis, (k0, k1) in enumerate(((k_ext, -k_ext), (2.0, 3.0), (2.5, 3.5))):
        idx = [axis, 3 + axis]
        h_min[np.ix_(idx, idx)] = bond + k0 * np.eye(2)
        h_sad[np.ix_(idx, idx)] = bond + k1 * np.eye(2)
    alpha = hp.predicted_isotope_exponent(h_min, h_sad, [7.0, m_partner], [0])
    expected = hp.collective_isotope_exponent(partner_mass_amu=m_partner)
    assert expected < 0.5
    assert alpha == pytest.approx(expected, abs=2e-3)


def test_zero_point_energy_lowers_alpha_when_the_saddle_is_stiffer():
    h_min, h_sad = _single_li(np.random.default_rng(2), (2.7, 2.7, 2.7), (-1.0, 8.0, 8.0))
    # stiffer transverse saddle modes: ΔE_ZPE > 0, larger for ⁶Li → ⁶Li slowed → α < 1/2
    f_min = hp.harmonic_frequencies_THz(h_min, [7.0])
    f_sad = hp.harmonic_frequencies_THz(h_sad, [7.0])
    assert np.sum(f_sad[1:]) > np.sum(f_min)
    a_zpe = hp.predicted_isotope_exponent(h_min, h_sad, [7.0], 0, T_K=300.0, quantum="zpe")
    a_full = hp.predicted_isotope_exponent(h_min, h_sad, [7.0], 0, T_K=300.0, quantum=True)
    assert a_zpe < 0.45 and a_full < 0.45
    # ZPE correction to α by hand: ΔE_ZPE ∝ M^{-1/2}
    h = sc.h / sc.e
    dzpe_7 = 0.5 * h * 1e12 * (np.sum(f_sad[1:]) - np.sum(f_min))
    dzpe_6 = dzpe_7 * math.sqrt(7.0 / hp.MASS_LI6_AMU)
    dzpe_7 *= math.sqrt(7.0 / hp.MASS_LI7_AMU)
    by_hand = 0.5 - (dzpe_6 - dzpe_7) / (BOLTZMANN_EV_K * 300.0) / math.log(
        hp.MASS_LI7_AMU / hp.MASS_LI6_AMU
    )
    assert a_zpe == pytest.approx(by_hand, rel=1e-9)
    # softer saddle: the opposite
    h_min2, h_sad2 = _single_li(np.random.default_rng(2), (2.7, 2.7, 2.7), (-1.0, 1.0, 1.0))
    assert hp.predicted_isotope_exponent(h_min2, h_sad2, [7.0], 0, T_K=300.0, quantum="zpe") > 0.55
    # hot: quantum → classical 1/2
    assert hp.predicted_isotope_exponent(
        h_min, h_sad, [7.0], 0, T_K=1e6, quantum="full"
    ) == pytest.approx(0.5, abs=1e-3)


def test_predicted_isotope_exponent_rejects_bad_input():
    h_min, h_sad = _single_li(np.random.default_rng(0))
    with pytest.raises(InputError, match="T_K"):
        hp.predicted_isotope_exponent(h_min, h_sad, [7.0], 0, quantum="zpe")
    with pytest.raises(InputError, match="T_K"):
        hp.predicted_isotope_exponent(h_min, h_sad, [7.0], 0, T_K=-5.0, quantum=True)
    with pytest.raises(InputError, match="masses_amu"):
        hp.predicted_isotope_exponent(h_min, h_sad, [-7.0], 0)
    with pytest.raises(InputError, match="isotope_atoms"):
        hp.predicted_isotope_exponent(h_min, h_sad, [7.0], 3)
    with pytest.raises(InputError, match="isotope_atoms"):
        hp.predicted_isotope_exponent(h_min, h_sad, [7.0], np.array([False]))
    with pytest.raises(InputError, match="hessian_saddle_eV_A2"):
        hp.predicted_isotope_exponent(h_min, np.eye(6), [7.0], 0)
    with pytest.raises(InputError, match="freqs_min_THz"):
        hp.predicted_isotope_exponent(h_sad, h_sad, [7.0], 0)


def test_collective_isotope_exponent():
    assert hp.collective_isotope_exponent() == pytest.approx(0.5, abs=1e-15)
    # n identical substituted ions moving together still scale as M^{-1/2}
    for n in (2, 3):
        assert hp.collective_isotope_exponent(n_substituted=n) == pytest.approx(0.5, abs=1e-15)
    alphas = [hp.collective_isotope_exponent(partner_mass_amu=m) for m in (0.0, 7.0, 30.0, 200.0)]
    assert all(b < a for a, b in itertools.pairwise(alphas))
    # first order: α ≈ ΔK/2 with ΔK = m/(m + M)
    m_mean = 0.5 * (hp.MASS_LI6_AMU + hp.MASS_LI7_AMU)
    assert alphas[1] == pytest.approx(0.5 * m_mean / (m_mean + 7.0), rel=0.01)
    assert hp.collective_isotope_exponent(correlation_factor=0.5) == pytest.approx(0.25)
    with pytest.raises(InputError, match="n_substituted"):
        hp.collective_isotope_exponent(n_substituted=0)
    with pytest.raises(InputError, match="partner_mass_amu"):
        hp.collective_isotope_exponent(partner_mass_amu=-1.0)

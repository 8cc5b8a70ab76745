"""Phonon-assisted barriers, VDOS from MD and soft-mode extrapolation (solidion.theory.vibrations).

The checks are analytic: the barrier shift against explicit numerical thermal averaging (with
the quantum density summed over oscillator eigenstates), the VDOS of Einstein crystals with
known frequencies, and soft-mode fits to constructed ω²(T) data.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from solidion.errors import AnalysisError, InputError
from solidion.theory.vibrations import (
    AMU_A2_PS2_EV,
    VDOS,
    mean_square_amplitude,
    phonon_assisted_barrier_shift,
    soft_mode_fit,
    spectrum_from_vacf,
    thermal_average_barrier_shift,
    track_mode,
    vacf_fft,
    vdos,
)
from solidion.trajectory import Trajectory
from solidion.units import BOLTZMANN_EV_K

# Literal SI values, independent of the module's constants (CODATA 2018 / SI 2019).
AMU_KG = 1.66053906660e-27
EV_J = 1.602176634e-19
HBAR_EV_S = 6.582119569e-16

LI_AMU = 6.94


# ---------------------------------------------------------------------------------------------
# phonon-assisted barrier shift
# ---------------------------------------------------------------------------------------------
def test_units_by_hand():
    # λ = 0.5 eV/Å, m = 6.94 amu, ν = 5 THz: ΔE = λ²/(2mω²) in SI, converted to eV
    omega = 2 * np.pi * 5e12  # rad/s
    k_si = LI_AMU * AMU_KG * omega**2  # N/m
    lam_si = 0.5 * EV_J / 1e-10  # N
    expected_eV = lam_si**2 / (2 * k_si) / EV_J
    assert phonon_assisted_barrier_shift(0.5, LI_AMU, 5.0) == pytest.approx(expected_eV, rel=1e-12)
    assert expected_eV == pytest.approx(0.17608, abs=1e-5)
    assert AMU_A2_PS2_EV == pytest.approx(AMU_KG * 1e4 / EV_J, rel=1e-15)


@pytest.mark.parametrize("nu", [2.0, 5.0, 10.0, 20.0])
def test_classical_shift_matches_thermal_average_and_scales_as_inverse_omega_squared(nu):
    shift = phonon_assisted_barrier_shift(0.4, LI_AMU, nu, 600.0)
    assert thermal_average_barrier_shift(0.4, LI_AMU, nu, 600.0) == pytest.approx(shift, rel=1e-9)
    # ΔE ∝ 1/ω²: ΔE·ν² is the same for every frequency
    ref = phonon_assisted_barrier_shift(0.4, LI_AMU, 1.0)
    assert shift * nu**2 == pytest.approx(ref, rel=1e-12)


def test_classical_shift_is_the_relaxation_energy_and_independent_of_temperature():
    lam, nu = 0.3, 4.0
    k = LI_AMU * (2 * np.pi * nu) ** 2 * AMU_A2_PS2_EV
    relax = minimize_scalar(lambda q: 0.5 * k * q * q - lam * q, bounds=(-5, 5), method="bounded")
    shift = phonon_assisted_barrier_shift(lam, LI_AMU, nu)
    assert -relax.fun == pytest.approx(shift, rel=1e-8)
    temps = np.array([100.0, 300.0, 1000.0])
    np.testing.assert_allclose(phonon_assisted_barrier_shift(lam, LI_AMU, nu, temps), shift)
    # and the numerical average does not depend on T either
    assert thermal_average_barrier_shift(lam, LI_AMU, nu, 150.0) == pytest.approx(shift, rel=1e-9)


@pytest.mark.parametrize(("nu", "temp"), [(5.0, 50.0), (5.0, 300.0), (10.0, 100.0), (2.0, 900.0)])
def test_quantum_shift_matches_eigenstate_sum(nu, temp):
    closed = phonon_assisted_barrier_shift(0.5, LI_AMU, nu, temp, quantum=True)
    numeric = thermal_average_barrier_shift(0.5, LI_AMU, nu, temp, quantum=True)
    assert numeric == pytest.approx(closed, rel=1e-8)


def test_quantum_exceeds_classical_at_low_temperature_and_meets_it_at_high():
    nu = 8.0
    cl = phonon_assisted_barrier_shift(0.5, LI_AMU, nu)
    temps = np.array([30.0, 100.0, 300.0, 1000.0, 20000.0])
    q = phonon_assisted_barrier_shift(0.5, LI_AMU, nu, temps, quantum=True)
    assert np.all(q > cl)
    assert np.all(np.diff(q) < 0)  # decreasing towards the classical value
    x = HBAR_EV_S * 2 * np.pi * nu * 1e12 / (2 * BOLTZMANN_EV_K * temps)
    np.testing.assert_allclose(q / cl, x / np.tanh(x), rtol=1e-9)  # ΔE_q/ΔE_cl = x coth x
    assert q[-1] == pytest.approx(cl, rel=1e-4)
    assert q[0] > 2 * cl  # zero-point spread dominates at 30 K


def test_mean_square_amplitude_limits():
    nu, m = 6.0, 16.0
    omega = 2 * np.pi * nu * 1e12
    zero_point_A2 = HBAR_EV_S * EV_J / (2 * m * AMU_KG * omega) * 1e20
    assert mean_square_amplitude(m, nu, 0.5, quantum=True) == pytest.approx(zero_point_A2, 1e-9)
    hot = 1e5
    classical_A2 = BOLTZMANN_EV_K * hot * EV_J / (m * AMU_KG * omega**2) * 1e20
    assert mean_square_amplitude(m, nu, hot) == pytest.approx(classical_A2, rel=1e-12)
    assert mean_square_amplitude(m, nu, hot, quantum=True) == pytest.approx(classical_A2, 1e-6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mass_amu": -1.0}, "mass_amu"),
        ({"frequency_THz": 0.0}, "frequency_THz"),
        ({"coupling_eV_A": float("nan")}, "coupling_eV_A"),
        ({"temperature_K": -5.0}, "temperature_K"),
        ({"temperature_K": None, "quantum": True}, "temperature_K"),
    ],
)
def test_barrier_shift_bad_input(kwargs, name):
    args = {"coupling_eV_A": 0.5, "mass_amu": LI_AMU, "frequency_THz": 5.0, "temperature_K": 300.0}
    args.update(kwargs)
    with pytest.raises(InputError, match=name):
        phonon_assisted_barrier_shift(**args)


def test_thermal_average_bad_input():
    with pytest.raises(InputError, match="n_grid"):
        thermal_average_barrier_shift(0.5, LI_AMU, 5.0, 300.0, n_grid=10)
    with pytest.raises(InputError, match="temperature_K"):
        thermal_average_barrier_shift(0.5, LI_AMU, 5.0, 0.0)
    with pytest.raises(AnalysisError, match="states"):
        thermal_average_barrier_shift(0.5, LI_AMU, 0.05, 3000.0, quantum=True)


# ---------------------------------------------------------------------------------------------
# VDOS
# ---------------------------------------------------------------------------------------------
def einstein_crystal(
    species: dict[str, tuple[int, float, float]],
    temperature_K: float,
    dt_fs: float,
    n_frames: int,
    seed: int = 0,
) -> Trajectory:
    """Independent 3D harmonic oscillators, exact thermal trajectories with random phases.

    ``species`` maps a symbol to (n_atoms, frequency_THz, mass_amu). Each Cartesian component is
    x(t) = s [g₁ cos ωt + g₂ sin ωt] with g ~ N(0, 1) and s² = k_BT/(mω²): a stationary Gaussian
    process with the Boltzmann distribution of positions and velocities.
    """
    rng = np.random.default_rng(seed)
    t_ps = np.arange(n_frames) * dt_fs * 1e-3
    positions, symbols = [], []
    for sym, (n, nu, m) in species.items():
        w = 2 * np.pi * nu
        s = np.sqrt(BOLTZMANN_EV_K * temperature_K / (m * w * w * AMU_A2_PS2_EV))
        g1, g2 = rng.normal(size=(2, n, 3))
        x = s * (g1 * np.cos(w * t_ps)[:, None, None] + g2 * np.sin(w * t_ps)[:, None, None])
        positions.append(x + rng.uniform(0, 12, size=(1, n, 3)))
        symbols += [sym] * n
    return Trajectory.from_arrays(symbols, np.concatenate(positions, axis=1), np.eye(3) * 12, dt_fs)


def test_vacf_fft_matches_naive_loop():
    v = np.random.default_rng(1).normal(size=(37, 5, 3))
    c = vacf_fft(v, 20)
    naive = np.array(
        [[np.mean(np.sum(v[m:, a] * v[: 37 - m, a], axis=-1)) for a in range(5)] for m in range(20)]
    )
    np.testing.assert_allclose(c, naive, rtol=1e-10, atol=1e-12)


def test_spectrum_integrates_to_zero_lag_value():
    rng = np.random.default_rng(2)
    c = np.exp(-np.arange(64) / 10.0) * np.cos(np.arange(64) * 0.7) + 0.01 * rng.normal(size=64)
    for window in ("hann", "blackman", "none"):
        nu, s = spectrum_from_vacf(c, 0.005, window=window)
        area = np.sum(0.5 * (s[1:] + s[:-1]) * np.diff(nu))
        assert area == pytest.approx(c[0], rel=1e-10)
        assert nu[-1] == pytest.approx(100.0)  # Nyquist 1/(2Δt) for Δt = 5 fs


@pytest.fixture(scope="module")
def li_cl_crystal() -> Trajectory:
    # Li at 10 THz, Cl at 4 THz, 300 K, frames every 4 fs over 4.8 ps
    return einstein_crystal({"Li": (250, 10.0, LI_AMU), "Cl": (250, 4.0, 35.45)}, 300.0, 4.0, 1200)


def test_vdos_peaks_at_the_einstein_frequencies(li_cl_crystal):
    g = vdos(li_cl_crystal)
    assert isinstance(g, VDOS)
    grid_step = g.frequencies_THz[1] - g.frequencies_THz[0]
    assert abs(g.peak_frequency_THz("Li") - 10.0) < grid_step
    assert abs(g.peak_frequency_THz("Cl") - 4.0) < grid_step
    np.testing.assert_allclose(g.peaks_THz(), [4.0, 10.0], atol=grid_step)
    assert grid_step < g.resolution_THz  # the grid interpolates within the resolution
    # three modes per atom, and all of a species' modes near its frequency
    for sp, nu in (("Li", 10.0), ("Cl", 4.0)):
        assert g.modes(sp) == pytest.approx(3.0, rel=1e-12)
        assert g.modes(sp, (nu - 2, nu + 2)) == pytest.approx(3.0, abs=0.02)
    assert g.modes() == pytest.approx(3.0, rel=1e-12)
    assert json.loads(json.dumps(g.to_dict()))["counts"] == {"Li": 250, "Cl": 250}


def test_vdos_total_obeys_equipartition(li_cl_crystal):
    g = vdos(li_cl_crystal)
    # mass-weighted: each atom carries 3 modes whatever its mass -> half the modes per band
    assert g.modes(None, (8, 12)) == pytest.approx(1.5, abs=0.05)
    assert g.modes(None, (2, 6)) == pytest.approx(1.5, abs=0.05)
    for sp in ("Li", "Cl"):
        assert g.kinetic_temperature_K[sp] == pytest.approx(300.0, rel=0.06)
    # plain velocity spectrum: weight ∝ <v²> ∝ 1/m
    u = vdos(li_cl_crystal, mass_weighted=False)
    share_li = (1 / LI_AMU) / (1 / LI_AMU + 1 / 35.45)
    assert u.modes(None, (8, 12)) == pytest.approx(3 * share_li, abs=0.05)
    np.testing.assert_allclose(u.dos["Li"], g.dos["Li"])  # partials do not depend on weighting


def test_vdos_corrects_the_finite_difference_velocities():
    # νΔt = 0.25 at 20 fs: raw forward differences lose sinc²(0.25) = 19 % of <v²>
    # (same seed: the same oscillators, sampled over the same 4 ps)
    species = {"Li": (200, 12.5, LI_AMU)}
    fine = vdos(einstein_crystal(species, 400.0, 2.0, 2000, seed=3))
    coarse = vdos(einstein_crystal(species, 400.0, 20.0, 200, seed=3))
    t_fine, t_coarse = fine.kinetic_temperature_K["Li"], coarse.kinetic_temperature_K["Li"]
    assert t_coarse == pytest.approx(t_fine, rel=0.01)
    assert np.sinc(0.25) ** 2 < 0.82  # what an uncorrected estimate would be off by
    assert abs(coarse.peak_frequency_THz("Li") - 12.5) < 0.05


def test_vdos_warns_when_the_timestep_contradicts_the_temperature(li_cl_crystal):
    labelled = Trajectory.from_arrays(
        li_cl_crystal.symbols, li_cl_crystal.positions, li_cl_crystal.cell, 4.0, 300.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vdos(labelled)  # consistent: no warning
    # the same frames labelled 40 fs apart: velocities 10x too small, T 100x too low
    wrong = Trajectory.from_arrays(
        li_cl_crystal.symbols, li_cl_crystal.positions, li_cl_crystal.cell, 40.0, 300.0
    )
    with pytest.warns(RuntimeWarning, match="timestep_fs"):
        g = vdos(wrong)
    assert g.kinetic_temperature_K["Li"] == pytest.approx(3.0, rel=0.1)


def test_vdos_species_selection_and_bad_input(li_cl_crystal):
    only_li = vdos(li_cl_crystal, "Li")
    assert list(only_li.dos) == ["Li"]
    np.testing.assert_allclose(only_li.total, only_li.dos["Li"])
    with pytest.raises(InputError, match="species 'Na'"):
        vdos(li_cl_crystal, "Na")
    with pytest.raises(InputError, match="window"):
        vdos(li_cl_crystal, window="kaiser")
    with pytest.raises(InputError, match="correlation_time_ps"):
        vdos(li_cl_crystal, correlation_time_ps=100.0)
    with pytest.raises(AnalysisError, match="8 frames"):
        vdos(li_cl_crystal[:5])
    with pytest.raises(InputError, match="traj"):
        vdos(np.zeros((10, 2, 3)))
    with pytest.raises(InputError, match="window_THz"):
        only_li.peak_frequency_THz("Li", (5.0, 1.0))
    with pytest.raises(InputError, match="species 'Cl'"):
        only_li.peak_frequency_THz("Cl")
    still = Trajectory.from_arrays(["Li"] * 2, np.zeros((20, 2, 3)), np.eye(3) * 5, 1.0)
    with pytest.raises(AnalysisError, match="do not move"):
        vdos(still)


# ---------------------------------------------------------------------------------------------
# soft modes
# ---------------------------------------------------------------------------------------------
def test_soft_mode_fit_exact_data_both_directions():
    temps = np.array([200.0, 300.0, 400.0, 500.0])
    heating = soft_mode_fit(temps, np.sqrt(0.02 * (750.0 - temps)))
    assert heating.critical_temperature_K.value == pytest.approx(750.0, rel=1e-10)
    assert heating.softens_on_heating
    assert heating.slope_THz2_per_K.value == pytest.approx(-0.02, rel=1e-10)
    cooling = soft_mode_fit(temps, np.sqrt(0.05 * (temps - 120.0)))
    assert cooling.critical_temperature_K.value == pytest.approx(120.0, rel=1e-10)
    assert not cooling.softens_on_heating
    assert cooling.frequency_THz(320.0) == pytest.approx(np.sqrt(10.0), rel=1e-10)
    with pytest.raises(InputError, match="beyond T_c"):
        cooling.frequency_THz(100.0)
    assert json.loads(json.dumps(heating.to_dict()))["critical_temperature_K"]["value"] > 0


def test_soft_mode_fit_stderr_is_calibrated():
    # noisy frequencies with stated errors: T_c within ±1 stderr about 68 % of the time
    rng = np.random.default_rng(7)
    temps = np.array([300.0, 400.0, 500.0, 600.0, 700.0])
    true_nu = np.sqrt(0.03 * (900.0 - temps))
    sigma = 0.05
    hits, n_rep = 0, 400
    for _ in range(n_rep):
        fit = soft_mode_fit(temps, true_nu + rng.normal(0, sigma, temps.size), [sigma] * 5)
        tc = fit.critical_temperature_K
        hits += abs(tc.value - 900.0) < tc.stderr
    assert 0.62 < hits / n_rep < 0.74


def test_track_mode_and_soft_mode_extrapolation_end_to_end():
    # an Einstein mode that softens as ν² = 0.05 (1000 K − T); a stiff 15 THz mode beside it
    temps = [300.0, 450.0, 600.0, 750.0]
    spectra = []
    for k, t in enumerate(temps):
        nu = np.sqrt(0.05 * (1000.0 - t))
        spectra.append(
            vdos(einstein_crystal({"Li": (60, nu, LI_AMU), "O": (60, 15.0, 16.0)}, t, 5.0, 800, k))
        )
    nus = track_mode(spectra, (1.0, 12.0), which="lowest")
    np.testing.assert_allclose(nus, np.sqrt(0.05 * (1000.0 - np.array(temps))), atol=0.05)
    np.testing.assert_allclose(track_mode(spectra, (1.0, 20.0), which="highest"), 15.0, atol=0.05)
    fit = soft_mode_fit(temps, nus)
    assert fit.critical_temperature_K.value == pytest.approx(
        1000.0, abs=max(15.0, 3 * fit.critical_temperature_K.stderr)
    )
    with pytest.raises(AnalysisError, match="no peak"):
        track_mode(spectra, (30.0, 40.0))
    with pytest.raises(InputError, match="which"):
        track_mode(spectra, (1.0, 12.0), which="middle")


@pytest.mark.parametrize(
    ("args", "exc", "name"),
    [
        (([300.0, 400.0], [2.0, 1.0, 0.5]), InputError, "differ in length"),
        (([300.0, 400.0], [2.0, 1.0]), InputError, "at least 3"),
        (([300.0, 300.0, 300.0], [2.0, 1.0, 0.5]), InputError, "two distinct"),
        (([300.0, 400.0, 500.0], [2.0, 0.0, 0.5]), InputError, "frequencies_THz"),
        (([300.0, -400.0, 500.0], [2.0, 1.0, 0.5]), InputError, "temperatures_K"),
        (([300.0, 400.0, 500.0], [2.0, 2.0, 2.0]), AnalysisError, "does not change"),
    ],
)
def test_soft_mode_fit_bad_input(args, exc, name):
    with pytest.raises(exc, match=name):
        soft_mode_fit(*args)


def test_soft_mode_fit_bad_stderr():
    with pytest.raises(InputError, match="frequency_stderr_THz"):
        soft_mode_fit([300.0, 400.0, 500.0], [2.0, 1.5, 1.0], [0.1, 0.1])
    with pytest.raises(InputError, match="frequency_stderr_THz"):
        soft_mode_fit([300.0, 400.0, 500.0], [2.0, 1.5, 1.0], [0.1, 0.0, 0.1])

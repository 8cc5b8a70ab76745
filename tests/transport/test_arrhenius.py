"""Arrhenius fits: exact data, error propagation, a synthetic temperature series, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from solidion import InputError, Trajectory
from solidion.transport import analyze_series, fit_arrhenius, plot_arrhenius
from solidion.units import BOLTZMANN_EV_K


def test_exact_arrhenius_data():
    t = np.array([500.0, 600.0, 700.0, 800.0])
    d = 2e-3 * np.exp(-0.25 / (BOLTZMANN_EV_K * t))
    fit = fit_arrhenius(t, d, 0.02 * d)
    assert fit.activation_energy_eV.value == pytest.approx(0.25, rel=1e-9)
    assert fit.prefactor.value == pytest.approx(2e-3, rel=1e-9)
    assert fit.predict(300.0).value == pytest.approx(2e-3 * np.exp(-0.25 / (BOLTZMANN_EV_K * 300)))
    assert fit.reduced_chi2 == pytest.approx(0.0, abs=1e-12)


def test_errors_propagate_like_a_monte_carlo():
    rng = np.random.default_rng(0)
    t = np.array([500.0, 600.0, 700.0])
    truth = 1e-4 * np.exp(-0.3 / (BOLTZMANN_EV_K * t))
    rel = np.array([0.1, 0.08, 0.05])
    fit0 = fit_arrhenius(t, truth, rel * truth)
    ea, d300 = [], []
    for _ in range(3000):
        noisy = truth * np.exp(rng.normal(0, rel))
        f = fit_arrhenius(t, noisy, rel * noisy)
        ea.append(f.activation_energy_eV.value)
        d300.append(np.log(f.predict(300.0).value))
    assert np.std(ea) == pytest.approx(fit0.activation_energy_eV.stderr, rel=0.08)
    assert np.std(d300) == pytest.approx(fit0.predict(300.0).relative_error, rel=0.08)


def test_conductivity_fit_uses_sigma_t():
    t = np.array([500.0, 650.0, 800.0])
    sigma = 1e3 / t * np.exp(-0.35 / (BOLTZMANN_EV_K * t))
    fit = fit_arrhenius(t, sigma, 0.05 * sigma, kind="conductivity")
    assert fit.activation_energy_eV.value == pytest.approx(0.35, rel=1e-9)
    assert fit.predict(300.0).value == pytest.approx(
        1e3 / 300 * np.exp(-0.35 / (BOLTZMANN_EV_K * 300))
    )
    lo, hi = fit.predict_interval(300.0)
    assert lo < fit.predict(300.0).value < hi


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([600.0], [1e-5], [1e-6]), "two distinct"),
        (([600.0, 700.0], [1e-5, -1e-6], [1e-6, 1e-6]), "positive values"),
        (([600.0, -700.0], [1e-5, 1e-5], [1e-6, 1e-6]), "temperatures must be positive"),
        (([600.0, 700.0], [1e-5, 2e-5], [0.0, 1e-6]), "stderr"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(InputError, match=match):
        fit_arrhenius(*args)


def _walkers_at(temperature: float, seed: int, ea: float = 0.3) -> Trajectory:
    """Independent Li⁺/Cl⁻ walkers whose D follows an Arrhenius law."""
    dt_ps = 0.02
    d = 50.0 * np.exp(-ea / (BOLTZMANN_EV_K * temperature))  # Å²/ps
    s = np.sqrt(2 * d * dt_ps)
    rng = np.random.default_rng(seed)
    pos = rng.normal(0, s, (1200, 40, 3)).cumsum(axis=0) + rng.uniform(0, 20, (1, 40, 3))
    return Trajectory.from_arrays(["Li"] * 20 + ["Cl"] * 20, pos, np.eye(3) * 20, 20.0, temperature)


def test_series_recovers_the_activation_energy():
    runs = [_walkers_at(t, seed) for seed, t in enumerate((500.0, 650.0, 800.0))]
    series = analyze_series(runs, None, "Li", frame="lab", cluster_cutoffs={})
    fit = series.diffusivity_fit
    assert abs(fit.activation_energy_eV.value - 0.3) < 3 * fit.activation_energy_eV.stderr
    assert fit.activation_energy_eV.stderr < 0.05
    truth_300 = 50.0 * np.exp(-0.3 / (BOLTZMANN_EV_K * 300)) * 1e-4
    assert abs(np.log(fit.predict(300).value / truth_300)) < 3 * fit.predict(300).relative_error
    block = series.arrhenius_dict()
    assert set(block) >= {
        "activation_energy_eV",
        "prefactor_cm2_s",
        "diffusivity_300K_cm2_s",
        "conductivity_300K_S_cm",
    }
    ax = plot_arrhenius(fit)
    assert len(ax.lines) >= 1
    with pytest.raises(InputError, match="2 temperatures for 3 files"):
        analyze_series(runs, [500.0, 600.0], "Li")

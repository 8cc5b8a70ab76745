"""Arrhenius fits: exact data, error propagation, scatter beyond the stated errors (Birge),
t-quantile intervals, points left out, a synthetic temperature series, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # χ²_red > 4 happens by chance with 1 dof
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


def _scattered() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four temperatures, 20–25 % off an Arrhenius law, with stated errors of 3 %."""
    t = np.array([600.0, 650.0, 700.0, 800.0])
    d = 1e-3 * np.exp(-0.27 / (BOLTZMANN_EV_K * t)) * np.array([1.25, 0.8, 1.2, 0.78])
    return t, d, 0.03 * d


def test_scatter_beyond_the_errors_scales_them_like_curve_fit():
    t, d, s = _scattered()
    with pytest.warns(UserWarning, match=r"χ²_red = \d+(\.\d+)? > 4 with 2 degrees"):
        fit = fit_arrhenius(t, d, s)
    assert fit.reduced_chi2 > 50 and fit.dof == 2
    assert fit.birge_factor == pytest.approx(np.sqrt(fit.reduced_chi2))
    assert fit.warnings and "Birge factor" in fit.warnings[0]
    # scipy's weighted least squares with the covariance scaled by χ²_red
    popt, pcov = optimize.curve_fit(
        lambda x, a, b: a + b * x, 1 / t, np.log(d), sigma=s / d, absolute_sigma=False
    )
    assert -popt[1] * BOLTZMANN_EV_K == pytest.approx(fit.activation_energy_eV.value, rel=1e-6)
    assert np.sqrt(pcov[1, 1]) * BOLTZMANN_EV_K == pytest.approx(
        fit.activation_energy_eV.stderr, rel=1e-6
    )
    np.testing.assert_allclose(fit.covariance, pcov, rtol=1e-6)
    # the stated errors alone would claim about 8× less
    _, pcov_abs = optimize.curve_fit(
        lambda x, a, b: a + b * x, 1 / t, np.log(d), sigma=s / d, absolute_sigma=True
    )
    assert fit.activation_energy_eV.stderr > 7 * np.sqrt(pcov_abs[1, 1]) * BOLTZMANN_EV_K
    assert fit.activation_energy_eV.stderr > 0.03  # eV: the honest size for this scatter
    assert fit.to_dict()["birge_factor"] == fit.birge_factor
    assert fit.to_dict()["dof"] == 2


def test_exact_data_keep_their_stated_errors():
    t = np.array([500.0, 600.0, 700.0, 800.0])
    d = 2e-3 * np.exp(-0.25 / (BOLTZMANN_EV_K * t))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no χ² warning
        fit = fit_arrhenius(t, d, 0.05 * d)
    assert fit.birge_factor == 1.0 and fit.warnings == ()
    _, pcov = optimize.curve_fit(
        lambda x, a, b: a + b * x, 1 / t, np.log(d), sigma=np.full(4, 0.05), absolute_sigma=True
    )
    assert fit.activation_energy_eV.stderr == pytest.approx(
        np.sqrt(pcov[1, 1]) * BOLTZMANN_EV_K, rel=1e-6
    )


def test_interval_uses_the_t_quantile_with_n_minus_2_dof():
    t, d, s = _scattered()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_arrhenius(t, d, s)
    est = fit.predict(300.0)
    lo, hi = fit.predict_interval(300.0)
    q = np.log(hi / est.value) / (est.stderr / est.value)
    assert q == pytest.approx(stats.t.ppf(0.5 + 0.682689492 / 2, 2), rel=1e-6)  # 1.32
    assert q == pytest.approx(1.3213, abs=1e-3)
    assert np.log(est.value / lo) == pytest.approx(np.log(hi / est.value))
    # the normal quantile (±1σ) is 1.32× narrower; at 95 % t₂ is 4.30 against 1.96
    _, hi95 = fit.predict_interval(300.0, confidence=0.95)
    assert np.log(hi95 / est.value) / (est.stderr / est.value) == pytest.approx(4.3027, abs=1e-3)
    # with the Birge factor, D(300 K) is known to tens of %, not to a few %
    assert est.relative_error > 0.3
    two = fit_arrhenius(t[:2], d[:2], s[:2])  # no dof left: normal quantile
    assert two.dof == 0 and two.quantile() == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(InputError, match="confidence"):
        fit.predict_interval(300.0, confidence=1.0)


def test_points_without_a_diffusive_regime_are_left_out():
    t = np.array([400.0, 500.0, 600.0, 700.0])
    d = 1e-4 * np.exp(-0.3 / (BOLTZMANN_EV_K * t))
    d_obs = d.copy()
    d_obs[0] = 3e-6  # vibration, not diffusion (far above the law)
    why = "Li: no diffusive regime found in 5 ps"
    fit = fit_arrhenius(t, d_obs, 0.02 * d_obs, exclude=[why, None, None, None])
    assert fit.temperatures_K == (500.0, 600.0, 700.0)
    assert fit.activation_energy_eV.value == pytest.approx(0.3, rel=1e-9)
    (p,) = fit.excluded
    assert (p.temperature_K, p.value, p.reason) == (400.0, 3e-6, why)
    assert fit.to_dict()["excluded"] == [
        {"temperature_K": 400.0, "value": 3e-6, "stderr": 0.02 * 3e-6, "reason": why}
    ]
    # a left-out point may be non-positive; too few left is an error that names the exclusions
    fit_arrhenius(t, [-1.0, *d[1:]], [1.0, *(0.02 * d[1:])], exclude=["drift", None, None, None])
    nan = fit_arrhenius(
        t, [np.nan, *d[1:]], [np.nan, *(0.02 * d[1:])], exclude=["?", None, None, None]
    )
    assert nan.to_dict()["excluded"][0] == {
        "temperature_K": 400.0,
        "value": None,
        "stderr": None,
        "reason": "?",
    }
    with pytest.raises(InputError, match="two distinct temperatures.*3 left out.*500 K: x"):
        fit_arrhenius(t, d, 0.02 * d, exclude=["x", "x", "x", None])
    with pytest.raises(InputError, match="one entry per point"):
        fit_arrhenius(t, d, 0.02 * d, exclude=[None])


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


def test_series_leaves_out_a_run_without_a_diffusive_regime():
    runs = [_walkers_at(t, seed) for seed, t in enumerate((500.0, 650.0, 800.0))]
    rng = np.random.default_rng(9)
    caged = runs[0].positions[:1] + rng.normal(0, 0.1, runs[0].positions.shape)  # vibration only
    runs.append(Trajectory.from_arrays(runs[0].symbols, caged, np.eye(3) * 20, 20.0, 400.0))
    with pytest.warns(UserWarning, match="no diffusive regime"):
        series = analyze_series(runs, None, "Li", frame="lab", cluster_cutoffs={})
    fit = series.diffusivity_fit
    assert fit.temperatures_K == (500.0, 650.0, 800.0)
    (left,) = fit.excluded
    assert left.temperature_K == 400.0 and left.reason.startswith("Li: no diffusive regime")
    # σ_E of the caged run is noise around zero (here negative): it must not stop the σ fit
    assert [(p.temperature_K, p.reason) for p in series.conductivity_fit.excluded] == [
        (400.0, left.reason)
    ]
    assert any(w.startswith("400 K left out of the Arrhenius fits") for w in series.warnings)
    block = series.arrhenius_dict()["fits"]
    assert block["diffusivity"]["excluded"][0]["temperature_K"] == 400.0
    assert block["diffusivity"]["dof"] == 1
    lo, hi = block["conductivity"]["interval_300K_S_cm"]
    assert lo < series.conductivity_fit.predict(300.0).value < hi

"""The reported 1σ error bars cover the truth about 68 % of the time.

Many independent synthetic trajectories with a known answer (Gaussian walkers, D = s²/2Δt per
axis, independent so H_R = 1 and σ_E = σ_NE(true)); the fraction of runs whose value ± stderr
contains the truth must be close to 0.683. With 120 runs the binomial spread is ±0.043, so the
accepted band [0.55, 0.81] is ±3σ around 0.68. Seeds are fixed: the test is deterministic.
"""

from __future__ import annotations

import warnings

import numpy as np

from solidion.transport import analyze
from solidion.units import nernst_einstein_prefactor_S_cm
from tests.transport.conftest import D_TRUE_CM2_S, walkers

N_RUNS = 120


def test_error_bars_are_calibrated():
    z = {"D*": [], "D_sigma": [], "H_R": [], "sigma_E": []}
    sigma_true = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(N_RUNS):
            traj = walkers(1000 + seed, n_frames=600, n_each=16)
            if sigma_true is None:
                n = traj.counts()["Li"] + traj.counts()["Cl"]
                sigma_true = (
                    nernst_einstein_prefactor_S_cm(traj.volume_A3[0], 600.0) * n * D_TRUE_CM2_S
                )
            r = analyze(traj, mobile="Li", frame="lab", cluster_cutoffs={})
            for key, est, truth in (
                ("D*", r.tracer_diffusivity["Li"], D_TRUE_CM2_S),
                ("D_sigma", r.charge_diffusivity, D_TRUE_CM2_S),
                ("H_R", r.haven_ratio, 1.0),
                ("sigma_E", r.conductivity.einstein, sigma_true),
            ):
                z[key].append((est.value - truth) / est.stderr)
    for key, values in z.items():
        values = np.asarray(values)
        coverage = float(np.mean(np.abs(values) < 1.0))
        assert 0.55 <= coverage <= 0.81, f"{key}: 1σ coverage {coverage:.2f}"
        assert abs(float(np.median(values))) < 0.3, (
            f"{key}: biased, median z {np.median(values):.2f}"
        )

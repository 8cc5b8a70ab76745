"""Synthetic results in the layout of ``results.json``, made by solidion's own analyses.

:func:`lattice_hopper` is a small oxyhalide-like toy: Al on a cubic lattice with four ligands
each (every third AlCl3O, the others AlCl4), and Li ions sitting on the faces of their host
tetrahedron that hop to a neighbouring Al (unwrapped, so they diffuse) as a Poisson process
whose mean residence time is Arrhenius in T and depends on the host's environment. It is the
hopping trajectory of ``tests/structure/test_residence.py`` made diffusive, so transport and
structure analyses both have something to measure. :func:`synthetic_results` runs
``analyze_series`` and ``analyze_structure_series`` on it at a few temperatures and adds the MSD
and convergence blocks as the pipeline writes them.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from solidion import Trajectory, __version__

TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)
SPACING_A = 7.0
N_CELL = 3
BOX_A = SPACING_A * N_CELL
M_X_A = 2.2  # Al–ligand distance
M_LI_A = 2.8  # Al–Li distance
#: Hop barrier per host environment (eV) and attempt time (ps) of the toy.
BARRIER_EV = {"Cl4": 0.45, "Cl3O1": 0.55}
TAU0_PS = 2e-4
K_B_EV = 8.617333262e-5
#: Convergence criteria, as in the pipeline.
MIN_DURATION_OVER_ONSET = 5.0
MIN_HOPS_PER_ION = 10.0


def lattice_hopper(
    temperature_K: float, n_frames: int = 400, dt_fs: float = 20.0, seed: int = 0
) -> tuple[Trajectory, int]:
    """The toy trajectory (171 atoms: Al27 Cl99 O9 Li36, neutral) and its number of Li hops."""
    rng = np.random.default_rng(seed)
    grid = np.arange(N_CELL) * SPACING_A + 1.0
    centres = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    n_c = centres.shape[0]
    env = np.where(np.arange(n_c) % 3 == 0, "Cl3O1", "Cl4")
    ligands = (centres[:, None, :] + M_X_A * TETRA[None]).reshape(-1, 3)
    lig_sym = np.where((env[:, None] == "Cl3O1") & (np.arange(4)[None] == 0), "O", "Cl").ravel()
    tau = np.array([TAU0_PS * math.exp(BARRIER_EV[e] / (K_B_EV * temperature_K)) for e in env])
    p_jump = 1.0 - np.exp(-dt_fs * 1e-3 / tau)
    n_li = 36  # 9 AlCl3O²⁻ + 18 AlCl4⁻ = 36 negative charges
    cell = rng.integers(N_CELL, size=(n_li, 3))  # unwrapped lattice index of the host
    site = rng.integers(4, size=n_li)
    steps = np.concatenate([np.eye(3, dtype=int), -np.eye(3, dtype=int)])
    li = np.empty((n_frames, n_li, 3))
    n_hops = 0
    for t in range(n_frames):
        li[t] = cell * SPACING_A + 1.0 - M_LI_A * TETRA[site]
        host = np.ravel_multi_index(tuple((cell % N_CELL).T), (N_CELL,) * 3)
        jump = rng.random(n_li) < p_jump[host]
        k = int(jump.sum())
        if t < n_frames - 1:
            n_hops += k
        cell = cell.copy()
        site = site.copy()
        cell[jump] += steps[rng.integers(6, size=k)]
        site[jump] = rng.integers(4, size=k)
    frame = np.concatenate([centres, ligands])
    pos = np.concatenate([np.broadcast_to(frame, (n_frames, *frame.shape)), li], axis=1)
    pos = pos + rng.normal(0.0, 0.08 * math.sqrt(temperature_K / 600.0), pos.shape)
    symbols = ["Al"] * n_c + list(lig_sym) + ["Li"] * n_li
    traj = Trajectory.from_arrays(symbols, pos, np.eye(3) * BOX_A, dt_fs, temperature_K)
    return traj, n_hops


def _convergence(result: Any, n_hops: int, n_mobile: int, preset_converged: bool) -> dict:
    from solidion.transport.msd import diffusive_onset

    lag = np.asarray(result.msd_lag_ps)
    onset = diffusive_onset(np.asarray(result.msd_A2["Li"]))
    onset_ps = float(lag[onset]) if onset is not None else None
    per_ion = n_hops / n_mobile
    reasons = []
    if not preset_converged:
        reasons.append("demonstration preset: too few atoms and too short to converge")
    if onset_ps is None:
        reasons.append("the Li MSD never becomes linear (no diffusive regime reached)")
    elif result.duration_ps < MIN_DURATION_OVER_ONSET * onset_ps:
        reasons.append(
            f"trajectory ({result.duration_ps:.1f} ps) is only "
            f"{result.duration_ps / onset_ps:.1f}× the time to the diffusive regime"
        )
    if per_ion < MIN_HOPS_PER_ION:
        reasons.append(f"{per_ion:.1f} hops per Li ion observed; need ≥ {MIN_HOPS_PER_ION:g}")
    return {
        "temperature_K": float(result.temperature_K),
        "duration_ps": float(result.duration_ps),
        "diffusive_onset_ps": onset_ps,
        "n_hops": int(n_hops),
        "hops_per_ion": per_ion,
        "converged": not reasons,
        "reasons": reasons,
    }


def synthetic_results(
    temperatures_K: Sequence[float] = (600.0, 700.0, 800.0),
    n_frames: int = 400,
    *,
    preset: str = "quick",
    preset_converged: bool = False,
) -> dict[str, Any]:
    """A complete results dictionary from solidion's analyses of the toy, JSON round-tripped."""
    from solidion.structure.summary import analyze_structure_series
    from solidion.transport.series import analyze_series

    runs = [lattice_hopper(t, n_frames, seed=i) for i, t in enumerate(temperatures_K)]
    trajs = [r[0] for r in runs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = analyze_series(trajs, None, "Li", cluster_origins=4)
        structure = analyze_structure_series(
            trajs, rdf_frames=20, polyhedra_frames=20, residence_every=2
        )
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    convergence = [
        _convergence(res, hops, 36, preset_converged)
        for res, (_, hops) in zip(series.results, runs, strict=True)
    ]
    if not all(c["converged"] for c in convergence):
        notes.insert(0, "not converged: see the convergence panel before trusting any number")
    results = {
        "solidion_version": __version__,
        "formula": "LiAlCl2.5O0.75",
        "cell_formula": "Li36Al27Cl99O9",
        "n_atoms": trajs[0].n_atoms,
        "preset": preset,
        "preset_converged": preset_converged,
        "potential": {"name": "synthetic", "model_version": "lattice-hopper toy (no MD)"},
        "seed": 0,
        "mobile": "Li",
        "temperatures_K": [float(t) for t in temperatures_K],
        "transport": series.to_dict(),
        "structure": structure.to_dict(),
        "msd": [
            {
                "temperature_K": float(r.temperature_K),
                "lag_ps": np.asarray(r.msd_lag_ps).tolist(),
                "msd_A2": {s: np.asarray(v).tolist() for s, v in r.msd_A2.items()},
            }
            for r in series.results
        ],
        "convergence": convergence,
        "warnings": notes,
    }
    return json.loads(json.dumps(results))


def transport_only_results(temperatures_K: Sequence[float] = (600.0, 800.0)) -> dict[str, Any]:
    """A minimal results dictionary: the transport block only, every other block null."""
    from solidion.transport.series import analyze_series

    trajs = [lattice_hopper(t, 200, seed=10 + i)[0] for i, t in enumerate(temperatures_K)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = analyze_series(trajs, None, "Li", cluster_cutoffs={})
    return json.loads(
        json.dumps(
            {
                "solidion_version": __version__,
                "mobile": "Li",
                "temperatures_K": [float(t) for t in temperatures_K],
                "transport": series.to_dict(),
                "structure": None,
                "msd": None,
                "convergence": None,
                "warnings": [],
            }
        )
    )

"""Calibration study: do solidion's 1σ error bars cover the truth 68 % of the time?

Usage::

    .venv/bin/python bench/calibration.py                      # 200 runs per system (~6 min)
    .venv/bin/python bench/calibration.py --runs 40 --out /tmp/cal

Four synthetic systems with exact answers (``tests/transport/synthetic.py`` and
``tests/transport/conftest.py``), each analysed by ``solidion.transport.analyze`` once per seed:

- ``walkers``: independent Gaussian Li⁺/Cl⁻ walkers, lab frame (H_R = 1, σ_E = σ_NE);
- ``caged``: caged hoppers (vibration + hops, sub-diffusive at short times), framework frame
  with a drifting cell (H_R = 1);
- ``electrolyte``: caged hoppers with Li dimers (H_R = 0.8), neutral Li–Br pairs (clusters,
  σ_E < σ_NE), framework frame, drifting cell;
- ``noisy``: the electrolyte run for half as long, so D_σ is known to only ~25–30 % and H_R is
  often withheld.

For each quantity it reports the 1σ coverage (the fraction of runs whose value ± stderr holds
the truth; for H_R the reported Fieller interval), the spread of z = (value − truth)/stderr, the
median relative error and how often the quantity was withheld (σ_cNE is not included: what it
should be depends on the bond definition, see docs/transport-numbers.md); writes ``<out>/calibration.json``
and the figure ``docs/calibration.png`` (``--figure``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solidion.transport import analyze  # noqa: E402
from solidion.units import nernst_einstein_prefactor_S_cm  # noqa: E402
from tests.transport.conftest import D_TRUE_CM2_S, walkers  # noqa: E402
from tests.transport.synthetic import caged_electrolyte  # noqa: E402

QUANTITIES = ("D*", "D_sigma", "sigma_E", "sigma_NE", "H_R")


def _walkers(seed: int) -> tuple[Any, dict[str, float]]:
    traj = walkers(1000 + seed, n_frames=600, n_each=16)
    sigma = nernst_einstein_prefactor_S_cm(traj.volume_A3[0], 600.0) * 32 * D_TRUE_CM2_S
    res = analyze(traj, mobile="Li", frame="lab", cluster_cutoffs={})
    truth = {
        "D*": D_TRUE_CM2_S,
        "D_sigma": D_TRUE_CM2_S,
        "sigma_E": sigma,
        "sigma_NE": sigma,
        "H_R": 1.0,
    }
    return res, truth


def _caged_factory(**kw: Any):
    def run(seed: int) -> tuple[Any, dict[str, float]]:
        traj, t = caged_electrolyte(100 + seed, **kw)
        cutoffs = {"Li-Br": 3.0} if kw.get("n_pair", 8) else {}
        res = analyze(
            traj, mobile="Li", frame="framework", framework=["Cl"], cluster_cutoffs=cutoffs
        )
        truth = {
            "D*": t.d_star_cm2_s,
            "D_sigma": t.d_sigma_cm2_s,
            "sigma_E": t.sigma_e_S_cm,
            "sigma_NE": t.sigma_ne_S_cm,
            "H_R": t.haven_ratio,
        }
        return res, truth

    return run


SYSTEMS = {
    "walkers": _walkers,
    "caged": _caged_factory(n_dimer=0, n_pair=0),
    "electrolyte": _caged_factory(),
    "noisy": _caged_factory(n_frames=1000),
}


def _estimates(res: Any) -> dict[str, Any]:
    return {
        "D*": res.tracer_diffusivity["Li"],
        "D_sigma": res.charge_diffusivity,
        "sigma_E": res.conductivity.einstein,
        "sigma_NE": res.conductivity.nernst_einstein,
        "H_R": res.haven_ratio,
    }


def study(name: str, runs: int) -> dict[str, Any]:
    z: dict[str, list[float]] = {q: [] for q in QUANTITIES}
    rel: dict[str, list[float]] = {q: [] for q in QUANTITIES}
    inside: list[bool] = []
    withheld = dict.fromkeys(QUANTITIES, 0)
    gls = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(runs):
            res, truth = SYSTEMS[name](seed)
            gls += res.fit_weights == "GLS"
            for q, est in _estimates(res).items():
                if not np.isfinite(est.value):
                    withheld[q] += 1
                    continue
                z[q].append((est.value - truth[q]) / est.stderr)
                rel[q].append(est.stderr / truth[q])
                if q == "H_R":
                    lo, hi = res.intervals["haven_ratio"]
                    inside.append(bool(lo <= truth[q] <= hi))
    out: dict[str, Any] = {
        "runs": runs,
        "seconds": time.perf_counter() - t0,
        "gls_windows": gls,
        "quantities": {},
    }
    for q in QUANTITIES:
        v = np.asarray(z[q])
        cov = float(np.mean(inside)) if q == "H_R" and inside else float(np.mean(np.abs(v) < 1))
        out["quantities"][q] = {
            "coverage_1sigma": cov if v.size else None,
            "z_median": float(np.median(v)) if v.size else None,
            "z_std": float(np.std(v)) if v.size else None,
            "median_relative_error": float(np.median(rel[q])) if v.size else None,
            "withheld": withheld[q],
            "z": v.tolist(),
        }
    return out


def figure(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    ax = axes[0]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        qs = results[name]["quantities"]
        cov = [qs[q]["coverage_1sigma"] or np.nan for q in QUANTITIES]
        ax.bar(
            np.arange(len(QUANTITIES)) + (i - (len(names) - 1) / 2) * width, cov, width, label=name
        )
    n = min(r["runs"] for r in results.values())
    band = 2 * np.sqrt(0.683 * 0.317 / n)
    ax.axhspan(0.683 - band, 0.683 + band, color="0.85", zorder=0, label=f"68.3 % ± 2σ ({n} runs)")
    ax.axhline(0.683, color="k", lw=0.8)
    ax.set_xticks(range(len(QUANTITIES)), QUANTITIES)
    ax.set_ylim(0, 1)
    ax.set_ylabel("1σ coverage")
    ax.legend(fontsize=7, frameon=False, ncols=2)
    ax = axes[1]
    grid = np.linspace(-4, 4, 200)
    for q in ("D*", "sigma_E", "D_sigma"):
        v = np.concatenate([results[nm]["quantities"][q]["z"] for nm in names])
        ax.hist(np.clip(v, -4, 4), bins=40, range=(-4, 4), density=True, histtype="step", label=q)
    ax.plot(grid, np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi), "k--", lw=1, label="N(0, 1)")
    ax.set_xlabel("z = (value − truth) / stderr, all systems")
    ax.legend(fontsize=7, frameon=False)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200, help="seeds per system")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma list")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "calibration.png")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.systems.split(","):
        results[name] = study(name, args.runs)
        r = results[name]
        print(f"{name}: {r['runs']} runs in {r['seconds']:.0f} s, {r['gls_windows']} GLS windows")
        for q, s in r["quantities"].items():
            if s["coverage_1sigma"] is None:
                print(f"  {q:9s} withheld in every run")
                continue
            print(
                f"  {q:9s} coverage {s['coverage_1sigma']:.2f}  z median {s['z_median']:+.2f} "
                f"std {s['z_std']:.2f}  rel. error {s['median_relative_error']:.2f}  "
                f"withheld {s['withheld']}"
            )
    (args.out / "calibration.json").write_text(json.dumps(results))
    figure(results, args.figure)
    print(f"wrote {args.out / 'calibration.json'} and {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

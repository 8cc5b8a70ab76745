"""Benchmark: the structure analysis at the reference study's size, and its RDF against a peer.

Run:  .venv/bin/python bench/structure.py [--frames 10000] [--peer-frames 10] [--out bench/out]

Data: a synthetic amorphous-like cell the size of the reference study (Li248 Al248 Cl620 O186,
1302 atoms, 25 Å box): Al on a jittered grid, its ligands on the vertices of a tetrahedron
(2.2 Å), 806 ligands on the 992 vertices so that coordination varies; Li ions sit beside an Al
and hop to another Al as a Poisson process (τ = 2 ps); every atom vibrates (0.1 Å). 10 000
frames, 20 fs apart. The geometry is not physical (neighbouring tetrahedra may overlap) — the
point is the cost of each analysis on a realistic atom count and frame count.

Timed, in this one process after a warm-up on a small slice:
1. g(r) of all 10 species pairs on 50 frames (``rdf_all_pairs``);
2. polyhedra and fragments of Al on every 10th frame;
3. residence times of Li by host environment on every frame;
and, for the peer comparison, g(Li–Cl) on the same ``--peer-frames`` frames, r_max = 10 Å, by
solidion's ``rdf`` and by pymatgen-analysis-diffusion's ``RadialDistributionFunction``
(structures built before the clock starts). Peak memory from ``resource.getrusage``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
import warnings
from pathlib import Path

import numpy as np

TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)
COUNTS = {"Li": 248, "Al": 248, "Cl": 620, "O": 186}
BOX = 25.0


def build(n_frames: int, seed: int = 0):
    """The synthetic cell and its trajectory (see the module docstring)."""
    from solidion import Trajectory

    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*(np.arange(7),) * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[rng.choice(len(grid), COUNTS["Al"], replace=False)] * (BOX / 7) + 1.0
    al = sites + rng.normal(0, 0.3, sites.shape)
    vertices = (al[:, None, :] + 2.2 * TETRA[None]).reshape(-1, 3)
    chosen = rng.choice(len(vertices), COUNTS["Cl"] + COUNTS["O"], replace=False)
    cl, ox = vertices[chosen[: COUNTS["Cl"]]], vertices[chosen[COUNTS["Cl"] :]]
    n_li, n_al = COUNTS["Li"], COUNTS["Al"]
    p_jump = 1 - np.exp(-0.02 / 2.0)
    host = rng.integers(n_al, size=n_li)
    face = rng.integers(4, size=n_li)
    li = np.empty((n_frames, n_li, 3))
    for t in range(n_frames):
        li[t] = al[host] - 2.8 * TETRA[face]
        jump = rng.random(n_li) < p_jump
        host = np.where(jump, rng.integers(n_al, size=n_li), host)
        face = np.where(jump, rng.integers(4, size=n_li), face)
    fixed = np.concatenate([al, cl, ox])
    pos = np.empty((n_frames, 1302, 3))
    pos[:, :n_li] = li
    pos[:, n_li:] = fixed
    pos += rng.normal(0, 0.1, pos.shape)
    symbols = ["Li"] * n_li + ["Al"] * n_al + ["Cl"] * COUNTS["Cl"] + ["O"] * COUNTS["O"]
    return Trajectory.from_arrays(symbols, pos, np.eye(3) * BOX, 20.0, 600.0)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--peer-frames", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("bench/out"))
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from solidion.structure import fragments, polyhedra, rdf, rdf_all_pairs, residence_times

    traj, t_build = timed(build, args.frames)
    small = traj[:200]
    frames_rdf = np.unique(np.linspace(0, traj.n_frames - 1, 50).astype(int)).tolist()
    frames_poly = list(range(0, traj.n_frames, 10))
    cut = {"Cl": 2.7, "O": 2.7}
    # warm-up on a slice (imports, first calls)
    rdf_all_pairs(small, frames=[0, 1])
    polyhedra(small, "Al", ("Cl", "O"), cutoffs=cut, frames=[0])
    residence_times(small, "Li", "Al", ("Cl", "O"), cutoffs=cut, host_cutoff_A=3.6)

    rows = {}
    _, rows["rdf_all_pairs_50_frames_s"] = timed(rdf_all_pairs, traj, frames=frames_rdf)
    poly, t_poly = timed(polyhedra, traj, "Al", ("Cl", "O"), cutoffs=cut, frames=frames_poly)
    _, t_frag = timed(fragments, traj, "Al", ("Cl", "O"), cutoffs=cut, frames=frames_poly)
    rows["polyhedra_every_10th_s"] = t_poly
    rows["fragments_every_10th_s"] = t_frag
    res, rows["residence_all_frames_s"] = timed(
        residence_times, traj, "Li", "Al", ("Cl", "O"), cutoffs=cut, host_cutoff_A=3.6
    )
    rows["structure_total_s"] = sum(rows.values())

    # the peer: g(Li–Cl) on the same frames, same r_max
    peer_frames = list(range(0, traj.n_frames, traj.n_frames // args.peer_frames))[
        : args.peer_frames
    ]
    ours, t_ours = timed(rdf, traj, "Li", "Cl", r_max=10.0, n_bins=101, frames=peer_frames)
    peer = {"solidion_rdf_Li-Cl_s": t_ours}
    try:
        from pymatgen.analysis.diffusion.aimd.rdf import RadialDistributionFunction
        from pymatgen.core import Lattice, Structure

        lattice = Lattice(np.asarray(traj.cell))
        wrapped = traj.wrapped_positions()
        structures = [
            Structure(lattice, list(traj.symbols), wrapped[f], coords_are_cartesian=True)
            for f in peer_frames
        ]
        li, cl = traj.indices("Li").tolist(), traj.indices("Cl").tolist()
        pm, t_pm = timed(
            RadialDistributionFunction, structures, li, cl, ngrid=101, rmax=10.0, sigma=0.1
        )
        peer["pymatgen_rdf_Li-Cl_s"] = t_pm
        peer["speedup_vs_pymatgen"] = t_pm / t_ours
        # same physics: first-peak positions agree within a bin
        peak_ours = float(ours.r_A[np.argmax(ours.g)])
        peak_pm = float(np.asarray(pm.interval)[np.argmax(pm.rdf)])
        peer["first_peak_A"] = {"solidion": peak_ours, "pymatgen": peak_pm}
    except ImportError as exc:
        peer["pymatgen_rdf_Li-Cl_s"] = f"not installed ({exc})"

    out = {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(__import__("os").sched_getaffinity(0)),
        },
        "size": {"atoms": traj.n_atoms, "frames": traj.n_frames, "build_s": t_build},
        "timings": rows,
        "peer": peer,
        "residence_classes": {k: format(v.tau_ps) for k, v in res.classes.items()},
        "polyhedra_classes_found": len(poly.fractions),
        "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "structure.json").write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

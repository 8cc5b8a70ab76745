"""Benchmark: tracer diffusivity of Li from a reference-size trajectory, solidion vs its peers.

Usage::

    .venv/bin/python bench/transport.py                       # reference size, 1302 atoms × 20 000
    .venv/bin/python bench/transport.py --frames 2000         # quick check
    .venv/bin/python bench/transport.py --tools numpy,solidion_dstar --out bench/out

The synthetic trajectory has the size of the reference study (Binci, Jun et al. 2026):
Li248 Al248 Cl620 O186 in a ~25 Å cubic box, 20 fs between frames, 600 K. Li ions do a Gaussian
random walk with step std s = 0.1 Å per axis per frame, so the input tracer diffusivity is known
exactly, D = s²/(2Δt) = 0.25 Å²/ps = 2.5e-5 cm²/s; the framework (Al, Cl, O) vibrates with std
0.1 Å about fixed sites. It is written once (seeded) as H5MD through solidion and as a raw
``.npy`` of unwrapped float64 positions (n_frames, n_atoms, 3) for the peers.

Each tool then runs in its own process under ``/usr/bin/time -v`` (peak RSS of that process
alone), loads the data (timed), warms up on a small slice, and times the computation of D
(see ``_peers.py`` for how each peer is driven). The parent collects load and compute time,
whole-process wall time and peak RSS, checks every D against the input D, prints a markdown
table and writes ``<out>/transport.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _peers import A2_PS_TO_CM2_S, FIT_WINDOW, FS_PER_PS, RESULT_TAG, WORKERS, run_worker

SCRIPT = Path(__file__).resolve()

#: The reference study's cell: atoms per species, box edge (Å), frames, Δt (fs), T (K).
REF_COUNTS = {"Li": 248, "Al": 248, "Cl": 620, "O": 186}
REF_BOX_A = 25.0
REF_FRAMES = 20_000
TIMESTEP_FS = 20.0
TEMPERATURE_K = 600.0
#: Li random-walk step std per axis per frame (Å) and framework vibration std (Å).
LI_STEP_A = 0.1
FRAMEWORK_VIB_A = 0.1
DEFAULT_SEED = 20260
DEFAULT_TIMEOUT_S = 900.0
#: Tools whose compute time solidion_dstar is compared with (the two full-featured peers).
DSTAR_PEERS = ("pymatgen", "kinisi")
SOLIDION_TOOLS = ("solidion_dstar", "solidion_full", "solidion_h5md_chunked")
MB = 1e6  # reported sizes are decimal megabytes


def input_diffusivity_cm2_s() -> float:
    """D = s²/(2Δt) of the Li random walk, in cm²/s."""
    return LI_STEP_A**2 / (2.0 * TIMESTEP_FS / FS_PER_PS) * A2_PS_TO_CM2_S


def species_counts(atoms_scale: float) -> dict[str, int]:
    return {el: max(1, round(n * atoms_scale)) for el, n in REF_COUNTS.items()}


# -- data ---------------------------------------------------------------------------------------
def generate_dataset(
    out: Path, atoms_scale: float, n_frames: int, seed: int, compression: str | None
) -> Path:
    """Write the synthetic trajectory (H5MD + .npy) unless an identical one is there already.

    Returns:
        The path of its ``.meta.json``, written last (its presence means the data are complete).
    """
    counts = species_counts(atoms_scale)
    n_atoms = sum(counts.values())
    box = REF_BOX_A * (n_atoms / sum(REF_COUNTS.values())) ** (1.0 / 3.0)
    stem = f"synthetic_{n_atoms}atoms_{n_frames}frames_seed{seed}_{compression or 'raw'}"
    meta_path = out / f"{stem}.meta.json"
    npy, h5 = out / f"{stem}.npy", out / f"{stem}.h5md"
    if meta_path.exists() and npy.exists() and h5.exists():
        return meta_path

    import solidion

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    symbols = [el for el, n in counts.items() for _ in range(n)]
    n_li = counts["Li"]
    start = rng.uniform(0.0, box, (n_atoms, 3))
    pos = np.empty((n_frames, n_atoms, 3), dtype=np.float64)
    pos[0, :n_li] = start[:n_li]
    if n_frames > 1:
        steps = rng.normal(0.0, LI_STEP_A, (n_frames - 1, n_li, 3))
        np.cumsum(steps, axis=0, out=steps)
        pos[1:, :n_li] = start[:n_li] + steps
        del steps
    block = 2000
    for f0 in range(0, n_frames, block):
        f1 = min(n_frames, f0 + block)
        vib = rng.normal(0.0, FRAMEWORK_VIB_A, (f1 - f0, n_atoms - n_li, 3))
        pos[f0:f1, n_li:] = start[n_li:] + vib
    tmp = out / f"{stem}.tmp.npy"
    np.save(tmp, pos)
    tmp.replace(npy)
    traj = solidion.Trajectory.from_arrays(
        symbols,
        pos,
        np.eye(3) * box,
        TIMESTEP_FS,
        TEMPERATURE_K,
        metadata={"generator": "bench/transport.py", "seed": seed},
    )
    traj.write(h5, compression=compression)
    meta = {
        "npy": str(npy.resolve()),
        "h5md": str(h5.resolve()),
        "counts": counts,
        "n_atoms": n_atoms,
        "n_frames": n_frames,
        "box_A": box,
        "timestep_fs": TIMESTEP_FS,
        "temperature_K": TEMPERATURE_K,
        "li_step_A": LI_STEP_A,
        "framework_vib_A": FRAMEWORK_VIB_A,
        "d_input_cm2_s": input_diffusivity_cm2_s(),
        "seed": seed,
        "h5md_compression": compression,
        "positions_bytes": pos.nbytes,
        "generate_s": time.perf_counter() - t0,
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta_path


# -- isolated runs ------------------------------------------------------------------------------
def _parse_time_v(text: str) -> dict[str, float]:
    """Peak RSS (MB) and elapsed wall time (s) from GNU time's ``-v`` report."""
    out: dict[str, float] = {}
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    if m:
        out["peak_rss_mb"] = int(m.group(1)) * 1024 / MB
    m = re.search(r"Elapsed \(wall clock\) time[^:]*:\s*([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["elapsed_s"] = secs
    return out


def _time_binary() -> str | None:
    for cand in ("/usr/bin/time", shutil.which("time")):
        if cand and os.access(cand, os.X_OK):
            try:
                probe = subprocess.run(
                    [cand, "-v", "true"], capture_output=True, text=True, check=False
                )
            except OSError:
                continue
            if "Maximum resident set size" in probe.stderr:
                return cand
    return None


def run_isolated(
    tool: str,
    meta_path: Path,
    timeout_s: float,
    log_dir: Path,
    time_bin: str | None,
    fit_window: tuple[float, float] = FIT_WINDOW,
) -> dict[str, Any]:
    """Run one worker in its own process group; collect its JSON line, wall time and peak RSS."""
    cmd = [sys.executable, str(SCRIPT), "--worker", tool, "--meta", str(meta_path)]
    cmd += ["--fit-window", f"{fit_window[0]:g},{fit_window[1]:g}"]
    with tempfile.TemporaryDirectory() as tmpd:
        time_out = Path(tmpd) / "time.txt"
        if time_bin:
            cmd = [time_bin, "-v", "-o", str(time_out), *cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, nothing else
            stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t0
        tv = _parse_time_v(time_out.read_text()) if time_out.exists() else {}
    (log_dir / f"{tool}.log").write_text(
        f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    )
    row: dict[str, Any] = {"tool": tool}
    for line in stdout.splitlines():
        if line.startswith(RESULT_TAG):
            row = json.loads(line[len(RESULT_TAG) :])
    if timed_out:
        row["error"] = f"not finished within {timeout_s:.0f} s (killed)"
    elif "D_cm2_s" not in row and "error" not in row:
        tail = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        row["error"] = f"exit status {proc.returncode}: {tail[0]}"
    row["exit_status"] = proc.returncode
    row["whole_process_s"] = tv.get("elapsed_s", wall)
    if "peak_rss_mb" in tv:
        row["peak_rss_mb"] = tv["peak_rss_mb"]
        row["peak_rss_source"] = "/usr/bin/time -v"
    elif row.get("peak_rss_self_mb") is not None:
        row["peak_rss_mb"] = row["peak_rss_self_mb"]
        row["peak_rss_source"] = "getrusage(RUSAGE_SELF) in the worker"
    return row


# -- report -------------------------------------------------------------------------------------
def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| tool | load s | compute s | whole-process s | peak RSS MB | D (cm²/s) "
        "| rel. error vs input D | compute CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "error" in r:
            d_cell = "error: " + str(r["error"]).replace("|", "/")[:120]
            err_cell = "—"
        else:
            d_cell = _fmt(r.get("D_cm2_s"), ".4e")
            err_cell = _fmt(100 * r["rel_error"], "+.2f") + " %" if "rel_error" in r else "—"
        lines.append(
            f"| {r['tool']} | {_fmt(r.get('load_s'), '.2f')} | {_fmt(r.get('compute_s'), '.2f')} "
            f"| {_fmt(r.get('whole_process_s'), '.1f')} | {_fmt(r.get('peak_rss_mb'), '.0f')} "
            f"| {d_cell} | {err_cell} | {_fmt(r.get('compute_cpu_s'), '.2f')} |"
        )
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]], positions_bytes: int) -> dict[str, Any]:
    by = {r["tool"]: r for r in rows}
    out: dict[str, Any] = {"positions_mb": positions_bytes / MB}
    ok = [
        by[t]
        for t in DSTAR_PEERS
        if t in by and "error" not in by[t] and by[t].get("compute_s") is not None
    ]
    ds = by.get("solidion_dstar")
    if ok and ds and "error" not in ds and ds.get("compute_s"):
        fastest = min(ok, key=lambda r: r["compute_s"])
        out["dstar_speedup_vs_fastest_of_pymatgen_kinisi"] = fastest["compute_s"] / ds["compute_s"]
        out["fastest_of_pymatgen_kinisi"] = fastest["tool"]
    else:
        out["dstar_speedup_vs_fastest_of_pymatgen_kinisi"] = None
        out["no_speedup_because"] = (
            "neither pymatgen nor kinisi was run"
            if not any(t in by for t in DSTAR_PEERS)
            else "a run failed"
        )
    for t in SOLIDION_TOOLS:
        r = by.get(t)
        if r and r.get("peak_rss_mb") is not None and "error" not in r:
            out[f"{t}_peak_rss_over_positions"] = r["peak_rss_mb"] * MB / positions_bytes
    return out


def ratio_lines(rat: dict[str, Any]) -> list[str]:
    lines = []
    sp = rat.get("dstar_speedup_vs_fastest_of_pymatgen_kinisi")
    if sp is None:
        lines.append(
            "- solidion_dstar compute vs the faster of pymatgen/kinisi: n/a "
            f"({rat.get('no_speedup_because', 'a run failed')})"
        )
    else:
        lines.append(
            f"- solidion_dstar compute is {sp:.1f}× faster than the faster of pymatgen/kinisi "
            f"({rat['fastest_of_pymatgen_kinisi']})"
        )
    for t in SOLIDION_TOOLS:
        key = f"{t}_peak_rss_over_positions"
        if key in rat:
            lines.append(
                f"- {t} peak RSS = {rat[key]:.2f} × the positions array "
                f"({rat['positions_mb']:.0f} MB)"
            )
    return lines


def fit_lines(rows: list[dict[str, Any]]) -> list[str]:
    """How each tool fitted D, with its own uncertainty where it gives one."""
    lines = []
    for r in rows:
        if "error" in r:
            continue
        unc = ""
        for key, label in (("D_stderr_cm2_s", "stderr"), ("D_std_cm2_s", "posterior std")):
            if r.get(key) is not None:
                unc = f"; {label} {r[key]:.2e} cm²/s ({100 * r[key] / r['D_cm2_s']:.1f} %)"
        haven = ""
        if r.get("haven_ratio") is not None:
            haven = f"; Haven ratio {r['haven_ratio']:.3f} ± {r.get('haven_ratio_stderr', 0):.3f}"
        lines.append(f"- {r['tool']}: {r.get('fit', '?')}{unc}{haven}")
    return lines


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_1_5_15min_at_end": list(os.getloadavg()),
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        if m:
            info["cpu"] = m.group(1).strip()
        mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        if mem:
            info["mem_total_gb"] = int(mem.group(1)) * 1024 / 1e9
    except OSError:
        pass
    return info


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--atoms-scale", type=float, default=1.0, help="scale all species counts")
    p.add_argument("--frames", type=int, default=REF_FRAMES, help="number of frames")
    p.add_argument("--out", type=Path, default=Path("bench/out"), help="output directory")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument(
        "--tools", default=",".join(WORKERS), help=f"comma list from {', '.join(WORKERS)}"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="per-tool wall-clock limit in s; a tool past it is killed and marked so",
    )
    p.add_argument(
        "--h5md-compression",
        choices=("gzip", "lzf", "none"),
        default="gzip",
        help="compression of the H5MD file (gzip is solidion's default)",
    )
    p.add_argument(
        "--fit-window",
        default=f"{FIT_WINDOW[0]:g},{FIT_WINDOW[1]:g}",
        help="lag window LO,HI (fractions of the run) of the peers' linear fits and kinisi's "
        "dt range; solidion chooses its own",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--meta", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.frames < 10:
        p.error("--frames must be at least 10")
    if args.atoms_scale <= 0:
        p.error("--atoms-scale must be positive")
    try:
        lo, hi = (float(x) for x in args.fit_window.split(","))
    except ValueError:
        p.error("--fit-window must be two fractions LO,HI, e.g. 0.1,0.5")
    if not 0 <= lo < hi <= 1:
        p.error("--fit-window needs 0 <= LO < HI <= 1")
    args.fit_window = (lo, hi)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compression = None if args.h5md_compression == "none" else args.h5md_compression
    if args.worker == "generate":
        meta = generate_dataset(args.out, args.atoms_scale, args.frames, args.seed, compression)
        print(RESULT_TAG + json.dumps({"meta": str(meta)}), flush=True)
        return 0
    if args.worker:
        return run_worker(args.worker, args.meta, args.fit_window)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in WORKERS]
    if unknown:
        print(f"unknown tools: {', '.join(unknown)}; known: {', '.join(WORKERS)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = args.out / "logs"
    log_dir.mkdir(exist_ok=True)

    # The data are made in a child process too, so this parent stays small.
    t0 = time.perf_counter()
    gen = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--worker",
            "generate",
            "--out",
            str(args.out),
            "--frames",
            str(args.frames),
            "--atoms-scale",
            str(args.atoms_scale),
            "--seed",
            str(args.seed),
            "--h5md-compression",
            args.h5md_compression,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if gen.returncode != 0:
        print(gen.stderr, file=sys.stderr)
        print("could not generate the synthetic trajectory", file=sys.stderr)
        return 1
    line = next(ln for ln in gen.stdout.splitlines() if ln.startswith(RESULT_TAG))
    meta_path = Path(json.loads(line[len(RESULT_TAG) :])["meta"])
    meta = json.loads(meta_path.read_text())
    print(
        f"data: {meta['n_atoms']} atoms × {meta['n_frames']} frames, box {meta['box_A']:.2f} Å, "
        f"{meta['positions_bytes'] / MB:.0f} MB of positions, input D = "
        f"{meta['d_input_cm2_s']:.4e} cm²/s ({time.perf_counter() - t0:.1f} s; {meta_path.name})",
        flush=True,
    )

    load_before = list(os.getloadavg())
    if load_before[0] > 0.5 * len(os.sched_getaffinity(0)):
        print(
            f"note: load average {load_before[0]:.1f} on {len(os.sched_getaffinity(0))} cores; "
            "other work is running and the timings will be noisy",
            file=sys.stderr,
        )
    time_bin = _time_binary()
    if time_bin is None:
        print(
            "note: no GNU time found; peak RSS is each worker's own getrusage(RUSAGE_SELF)",
            file=sys.stderr,
        )
    rows = []
    for tool in tools:
        print(f"running {tool} …", end=" ", flush=True)
        row = run_isolated(tool, meta_path, args.timeout, log_dir, time_bin, args.fit_window)
        rows.append(row)
        if "error" in row:
            print(f"error: {row['error']}", flush=True)
        else:
            print(
                f"D = {row['D_cm2_s']:.4e} cm²/s, rel. error {100 * row['rel_error']:+.2f} %, "
                f"compute {row['compute_s']:.2f} s, peak {row.get('peak_rss_mb', 0):.0f} MB",
                flush=True,
            )

    rat = ratios(rows, int(meta["positions_bytes"]))
    table = markdown_table(rows)
    size = f"{meta['n_atoms']} atoms ({meta['counts']['Li']} Li) × {meta['n_frames']} frames"
    report = "\n".join(
        [
            f"### {size}, Δt = {meta['timestep_fs']:g} fs, input D = "
            f"{meta['d_input_cm2_s']:.3e} cm²/s",
            "",
            table,
            "",
            *ratio_lines(rat),
            "",
            "Fits:",
            *fit_lines(rows),
        ]
    )
    print()
    print(report)
    result = {
        "config": {k: v for k, v in meta.items() if k not in ("npy", "h5md")},
        "data_files": {"npy": meta["npy"], "h5md": meta["h5md"]},
        "fit_window_fraction_of_run": list(args.fit_window),
        "timeout_s": args.timeout,
        "peak_rss_source": "/usr/bin/time -v" if time_bin else "getrusage(RUSAGE_SELF)",
        "machine": {**machine_info(), "loadavg_1_5_15min_at_start": load_before},
        "rows": rows,
        "ratios": rat,
    }
    (args.out / "transport.json").write_text(json.dumps(result, indent=2))
    (args.out / "transport.md").write_text(report + "\n")
    print(f"\nwrote {args.out / 'transport.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

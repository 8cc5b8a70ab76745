"""Benchmark: streaming a multi-GB LAMMPS dump — solidion's convert to H5MD next to ASE and
MDAnalysis reading the same file.

Usage::

    .venv/bin/python bench/convert.py                          # ≥ 2 GB dump, every tool
    .venv/bin/python bench/convert.py --size-gb 0.2            # quick check
    .venv/bin/python bench/convert.py --tools solidion,ase --peer-prefix-mb 500

The dump is synthetic and written once (seeded) with numpy: the reference study's cell,
Li248 Al248 Cl620 O186 = 1302 atoms in a 25 Å cubic box, ``ITEM: ATOMS id type x y z ix iy iz``
(wrapped positions, 6 decimals, with image flags, atoms in id order), 100 MD steps between
frames; Li ions random-walk (0.1 Å per axis per frame) and cross the box many times, the
framework vibrates about fixed sites. Frames are added until the file reaches ``--size-gb``.

Every tool runs in its own process under ``/usr/bin/time -v`` (peak RSS of that process
alone; without GNU time the worker's own ``getrusage`` peak is used) on the same file:

- ``solidion``: ``solidion.io.stream.convert_to_h5md`` — parse, unwrap (image flags), write
  a gzip H5MD file (read + unwrap + write);
- ``solidion_read``: ``solidion.io.stream.iter_trajectory`` — parse and unwrap only, the
  like-for-like comparison with the two readers below;
- ``ase``: ``ase.io.iread(path, index=":", format="lammps-dump-text")``, every frame built as
  an ``Atoms`` (reading only; ASE does not unwrap or write). In ASE 3.29 this is not streaming:
  ``read_lammps_dump_text`` returns ``list(...)`` of all frames for a slice index, and
  ``iread`` iterates over that list;
- ``ase_lammpsrun``: the generator underneath, ``ase.io.lammpsrun.iread_lammps_dump_text(fh,
  index=slice(None))``, which does stream (reading only);
- ``mdanalysis``: ``MDAnalysis.Universe(path, format="LAMMPSDUMP",
  topology_format="LAMMPSDUMP")`` (the dump is its own topology), then iterating every frame
  (reading only; opening the file scans it once for frame offsets, which is counted).

Throughput is the file size over the worker's own time for that work (imports excluded), in
decimal MB/s, both per wall-clock second and per CPU second (user + system of the worker, which
depends less on other work sharing the machine). ``--peer-prefix-mb`` runs ASE and MDAnalysis on the first N MB of the file
(cut at a frame boundary) when the whole file would take them too long; the table says so.
The big files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
MB = 1e6  # decimal megabytes, as in bench/transport.py
RESULT_TAG = "BENCH_RESULT "
GNU_TIME = "/usr/bin/time"

COUNTS = {"Li": 248, "Al": 248, "Cl": 620, "O": 186}
TYPE_MAP = "1=Li,2=Al,3=Cl,4=O"
BOX_A = 25.0
STEPS_PER_FRAME = 100
TIMESTEP_FS = 20.0  # time between stored frames (100 MD steps × 0.2 fs)
LI_STEP_A = 0.1
VIB_A = 0.1
SEED = 20261
TOOLS = ("solidion", "solidion_read", "ase", "ase_lammpsrun", "mdanalysis")
PEERS = ("ase", "ase_lammpsrun", "mdanalysis")
DESCRIPTION = {
    "solidion": "convert to H5MD (read + unwrap + gzip write)",
    "solidion_read": "read + unwrap (iter_trajectory)",
    "ase": "ase.io.iread, every frame an Atoms (read only)",
    "ase_lammpsrun": "ase.io.lammpsrun.iread_lammps_dump_text (read only)",
    "mdanalysis": "Universe(LAMMPSDUMP) + iterate (read only)",
}


# -- data -----------------------------------------------------------------------------------
def generate(path: Path, size_bytes: int, seed: int) -> dict[str, Any]:
    """Write the synthetic dump (numpy formatting, one frame at a time) until ``size_bytes``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_atoms = sum(COUNTS.values())
    types = np.concatenate([[k + 1] * n for k, n in enumerate(COUNTS.values())])
    sites = rng.random((n_atoms, 3)) * BOX_A
    li = types == 1
    unwrapped = sites.copy()
    atoms_fmt = "".join(f"{i + 1} {t} %.6f %.6f %.6f %d %d %d\n" for i, t in enumerate(types))
    head = (
        f"ITEM: NUMBER OF ATOMS\n{n_atoms}\nITEM: BOX BOUNDS pp pp pp\n"
        + f"0.0 {BOX_A}\n" * 3
        + "ITEM: ATOMS id type x y z ix iy iz\n"
    )
    tmp = path.with_name(path.name + ".part")
    n_frames = 0
    written = 0
    t0 = time.perf_counter()
    with open(tmp, "w", encoding="ascii") as fh:
        while written < size_bytes:
            if n_frames:
                unwrapped[li] += rng.normal(scale=LI_STEP_A, size=(int(li.sum()), 3))
                unwrapped[~li] = sites[~li] + rng.normal(scale=VIB_A, size=(int((~li).sum()), 3))
            image = np.floor(unwrapped / BOX_A)
            wrapped = unwrapped - image * BOX_A
            text = f"ITEM: TIMESTEP\n{n_frames * STEPS_PER_FRAME}\n{head}" + atoms_fmt % tuple(
                np.concatenate([wrapped, image], axis=1).ravel()
            )
            fh.write(text)
            written += len(text)
            n_frames += 1
    tmp.replace(path)
    meta = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "n_frames": n_frames,
        "n_atoms": n_atoms,
        "counts": COUNTS,
        "columns": "id type x y z ix iy iz",
        "box_A": BOX_A,
        "seed": seed,
        "generate_s": time.perf_counter() - t0,
    }
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def prefix_file(src: Path, dst: Path, n_bytes: int) -> dict[str, Any]:
    """Copy the frames of ``src`` that start within its first ``n_bytes`` (whole frames)."""
    n_frames = 0
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        done = 0
        for line in fi:
            if line.startswith(b"ITEM: TIMESTEP"):
                if done >= n_bytes:
                    break
                n_frames += 1
            fo.write(line)
            done += len(line)
    return {"file": str(dst), "bytes": dst.stat().st_size, "n_frames": n_frames}


# -- workers (each in its own process) ------------------------------------------------------
def _cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _work_solidion(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from solidion.io.h5md import n_frames
    from solidion.io.stream import convert_to_h5md

    target = Path(args.h5md)
    t0, c0 = time.perf_counter(), _cpu_s()
    summary = convert_to_h5md(
        path,
        target,
        chunk_frames=args.chunk_frames,
        timestep_fs=TIMESTEP_FS,
        type_map=TYPE_MAP,
    )
    work = time.perf_counter() - t0
    return {
        "work_s": work,
        "cpu_s": _cpu_s() - c0,
        "frames": summary.n_frames,
        "frames_in_h5md": n_frames(target),
        "h5md_bytes": target.stat().st_size,
    }


def _work_solidion_read(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from solidion.io.stream import iter_trajectory

    t0, c0 = time.perf_counter(), _cpu_s()
    frames = 0
    for part in iter_trajectory(
        path, chunk_frames=args.chunk_frames, timestep_fs=TIMESTEP_FS, type_map=TYPE_MAP
    ):
        frames += part.n_frames
    return {"work_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0, "frames": frames}


def _work_ase(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    import ase.io

    t0, c0 = time.perf_counter(), _cpu_s()
    frames = 0
    for atoms in ase.io.iread(str(path), index=":", format="lammps-dump-text"):
        atoms.positions.sum()  # touch the data
        frames += 1
    return {"work_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0, "frames": frames}


def _work_ase_lammpsrun(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from ase.io.lammpsrun import iread_lammps_dump_text

    t0, c0 = time.perf_counter(), _cpu_s()
    frames = 0
    with open(path, encoding="ascii") as fh:
        for atoms in iread_lammps_dump_text(fh, index=slice(None)):
            atoms.positions.sum()
            frames += 1
    return {"work_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0, "frames": frames}


def _work_mdanalysis(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    import warnings

    import MDAnalysis as mda

    warnings.simplefilter("ignore")  # "Guessed all Masses to 1.0", "no dt information"
    t0, c0 = time.perf_counter(), _cpu_s()
    u = mda.Universe(str(path), format="LAMMPSDUMP", topology_format="LAMMPSDUMP")
    opened = time.perf_counter() - t0
    frames = 0
    for ts in u.trajectory:
        ts.positions.sum()
        frames += 1
    return {
        "work_s": time.perf_counter() - t0,
        "cpu_s": _cpu_s() - c0,
        "open_s": opened,
        "frames": frames,
    }


WORKERS = {
    "solidion": _work_solidion,
    "solidion_read": _work_solidion_read,
    "ase": _work_ase,
    "ase_lammpsrun": _work_ase_lammpsrun,
    "mdanalysis": _work_mdanalysis,
}


def run_worker(args: argparse.Namespace) -> int:
    row: dict[str, Any] = {"tool": args.worker}
    try:
        row.update(WORKERS[args.worker](Path(args.file), args))
    except Exception as exc:  # report, do not crash: the parent puts it in the table
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["peak_rss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
    print(RESULT_TAG + json.dumps(row), flush=True)
    return 0 if "error" not in row else 1


# -- driver ---------------------------------------------------------------------------------
def _run_tool(tool: str, path: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(SCRIPT), "--worker", tool, "--file", str(path)]
    cmd += ["--chunk-frames", str(args.chunk_frames), "--h5md", str(out / "convert_bench.h5md")]
    if Path(GNU_TIME).exists():
        cmd = [GNU_TIME, "-v", *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"tool": tool, "error": f"timed out after {args.timeout:.0f} s"}
    wall = time.perf_counter() - t0
    (out / "logs").mkdir(exist_ok=True)
    (out / "logs" / f"convert_{tool}.log").write_text(proc.stdout + proc.stderr)
    row: dict[str, Any] = {"tool": tool, "error": f"no result (exit {proc.returncode})"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            row = json.loads(line[len(RESULT_TAG) :])
    row["process_s"] = wall
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if m:
        row["peak_rss_mb"] = int(m.group(1)) * 1024 / MB
        row["rss_from"] = "/usr/bin/time -v"
    else:
        row["peak_rss_mb"] = row.get("peak_rss_self_mb")
        row["rss_from"] = "getrusage(RUSAGE_SELF) in the worker"
    return row


def _table(rows: list[dict[str, Any]], files: dict[str, dict[str, Any]]) -> str:
    for r in rows:
        if "error" not in r:
            mb = files[r["tool"]]["bytes"] / MB
            r["mb_per_s"] = mb / r["work_s"]
            r["mb_per_cpu_s"] = mb / r["cpu_s"]
    ref = next((r for r in rows if r["tool"] == "solidion" and "error" not in r), None)
    lines = [
        "| tool | what it does | file | frames | time (s) | CPU (s) | MB/s | MB per CPU s "
        "| peak RSS (MB) | MB/s vs solidion | MB per CPU s vs solidion | RSS vs solidion |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        f = files[r["tool"]]
        size = f"{f['bytes'] / MB:,.0f} MB" + (" (prefix)" if f.get("prefix") else "")
        if "error" in r:
            lines.append(
                f"| {r['tool']} | {DESCRIPTION[r['tool']]} | {size} |"
                + " |" * 8
                + f" {r['error']} |"
            )
            continue
        vs = ["", "", ""]
        if ref is not None:
            vs = [
                f"{r['mb_per_s'] / ref['mb_per_s']:.2f}×",
                f"{r['mb_per_cpu_s'] / ref['mb_per_cpu_s']:.2f}×",
                f"{r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}×",
            ]
        lines.append(
            f"| {r['tool']} | {DESCRIPTION[r['tool']]} | {size} | {r['frames']:,} "
            f"| {r['work_s']:.1f} | {r['cpu_s']:.1f} | {r['mb_per_s']:.1f} "
            f"| {r['mb_per_cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | {' | '.join(vs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gb", type=float, default=2.05, help="dump size, decimal GB")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--chunk-frames", type=int, default=256)
    ap.add_argument(
        "--peer-prefix-mb",
        type=float,
        default=0.0,
        help="run ASE and MDAnalysis on the first N MB only (0: the whole file)",
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="per tool, s")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", action="store_true", help="keep the dump and H5MD files")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--h5md", help=argparse.SUPPRESS)
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.generate:
        generate(args.generate, int(args.size_gb * 1e9), args.seed)
        return 0

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        ap.error(f"unknown tools {unknown}; known: {', '.join(TOOLS)}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    size = int(args.size_gb * 1e9)
    need = 2.2 * size  # the dump, its H5MD (~half), a prefix copy, margin
    free = shutil.disk_usage(out).free
    if free < need:
        print(f"error: {out} has {free / 1e9:.1f} GB free, the bench needs ~{need / 1e9:.1f} GB")
        return 2
    dump = out / "convert_bench.lammpstrj"
    meta_path = dump.with_suffix(".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and dump.exists() else None
    if meta is None or meta["bytes"] < size or meta["seed"] != args.seed:
        print(f"writing a {size / 1e9:.2f} GB dump to {dump} ...", flush=True)
        # In a process of its own, so that the driver stays small (a child's peak RSS can
        # inherit its parent's at exec).
        gen = [sys.executable, str(SCRIPT), "--generate", str(dump), "--size-gb", str(size / 1e9)]
        subprocess.run([*gen, "--seed", str(args.seed)], check=True)
        meta = json.loads(meta_path.read_text())
        print(f"  {meta['n_frames']} frames in {meta['generate_s']:.0f} s", flush=True)
    full = {"bytes": meta["bytes"], "n_frames": meta["n_frames"], "file": str(dump)}
    prefix = None
    if args.peer_prefix_mb > 0 and any(t in PEERS for t in tools):
        prefix = prefix_file(
            dump, out / "convert_bench_prefix.lammpstrj", int(args.peer_prefix_mb * MB)
        )
        prefix["prefix"] = True
    files = {t: (prefix if prefix is not None and t in PEERS else full) for t in tools}
    load = os.getloadavg()
    rows = []
    for tool in tools:
        path = Path(files[tool]["file"])
        print(f"{tool}: {DESCRIPTION[tool]} on {files[tool]['bytes'] / MB:,.0f} MB ...", flush=True)
        row = _run_tool(tool, path, args, out)
        rows.append(row)
        shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
        print(f"  {shown}", flush=True)
    table = _table(rows, files)
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_before": load,
        "loadavg_after": os.getloadavg(),
    }
    result = {
        "command": " ".join(
            [Path(sys.executable).name, "bench/convert.py", *(argv or sys.argv[1:])]
        ),
        "dump": meta,
        "prefix": prefix,
        "chunk_frames": args.chunk_frames,
        "machine": machine,
        "rows": rows,
    }
    (out / "convert.json").write_text(json.dumps(result, indent=2))
    (out / "convert.md").write_text(table + "\n")
    print()
    print(
        f"dump: {meta['bytes'] / MB:,.0f} MB, {meta['n_frames']:,} frames × {meta['n_atoms']} "
        f"atoms ({meta['columns']}); chunk {args.chunk_frames} frames"
    )
    print(table)
    print(f"\nmachine: {machine}")
    if not args.keep:
        for p in (dump, out / "convert_bench.h5md", out / "convert_bench_prefix.lammpstrj"):
            p.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Workers for ``bench/transport.py``: each one loads the data, warms up and times one tool.

Every worker runs in its own process (see ``transport.py``), so that its peak memory is its own.
A worker reports two phases:

- ``load``: read the file and build the tool's own input (pymatgen ``Structure`` + site-major
  displacements, kinisi scipp arrays of wrapped fractional coordinates, an MDAnalysis in-memory
  ``Universe``, the Li positions for tidynamics/numpy, a ``solidion.Trajectory`` from H5MD);
- ``compute``: everything from that input to the tracer diffusivity D of Li in cm²/s.

How each peer is driven follows ``../shared/PEERS.md`` (the cheapest honest route for each).
Tools that let us choose the fit window fit MSD(t) = 6 D t + c over lag times from 10 % to 50 %
of the run (:data:`FIT_WINDOW`, ``--fit-window`` in ``transport.py``); pymatgen fixes its own
window (1 ps to the end of the run) and solidion chooses its own (reported as ``fit_window_ps``).

The peers' modules are imported inside their worker, so no worker pays for another tool's import.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Lag-time window of the linear MSD fit, as fractions of the run length.
FIT_WINDOW = (0.1, 0.5)
#: Å²/ps → cm²/s (the same named constant as ``solidion.units``; not imported from there so
#: that the peers' processes do not pay for importing solidion).
A2_PS_TO_CM2_S = 1e-16 / 1e-12
#: Femtoseconds per picosecond.
FS_PER_PS = 1000.0
#: Charges of the reference study's ions, used by the full solidion analysis.
CHARGES = {"Li": 1, "Al": 3, "Cl": -1, "O": -2}
#: Prefix of the one stdout line on which a worker reports its JSON result.
RESULT_TAG = "BENCH_RESULT "


@dataclass(frozen=True)
class Dataset:
    """The synthetic trajectory on disk, as described by its ``*.meta.json``."""

    npy: Path
    h5md: Path
    symbols: tuple[str, ...]
    box_A: float
    timestep_fs: float
    temperature_K: float
    n_frames: int
    n_atoms: int
    d_input_cm2_s: float
    seed: int
    fit_window: tuple[float, float] = FIT_WINDOW

    @classmethod
    def from_meta(cls, path: str | Path, fit_window: tuple[float, float] = FIT_WINDOW) -> Dataset:
        meta = json.loads(Path(path).read_text())
        symbols: list[str] = []
        for el, n in meta["counts"].items():
            symbols += [el] * n
        return cls(
            npy=Path(meta["npy"]),
            h5md=Path(meta["h5md"]),
            symbols=tuple(symbols),
            box_A=float(meta["box_A"]),
            timestep_fs=float(meta["timestep_fs"]),
            temperature_K=float(meta["temperature_K"]),
            n_frames=int(meta["n_frames"]),
            n_atoms=int(meta["n_atoms"]),
            d_input_cm2_s=float(meta["d_input_cm2_s"]),
            seed=int(meta["seed"]),
            fit_window=fit_window,
        )

    @property
    def cell(self) -> np.ndarray:
        return np.eye(3) * self.box_A

    @property
    def timestep_ps(self) -> float:
        return self.timestep_fs / FS_PER_PS

    @property
    def duration_ps(self) -> float:
        return (self.n_frames - 1) * self.timestep_ps

    @property
    def fit_label(self) -> str:
        lo, hi = self.fit_window
        return f"linear, {100 * lo:g}–{100 * hi:g} % of run"

    def indices(self, species: str) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.symbols) == species)


class Timer:
    """Wall and CPU (user + system, all threads) seconds per named phase."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @staticmethod
    def _cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        c0, t0 = self._cpu(), time.perf_counter()
        try:
            yield
        finally:
            self.wall[phase] = self.wall.get(phase, 0.0) + time.perf_counter() - t0
            self.cpu[phase] = self.cpu.get(phase, 0.0) + self._cpu() - c0


# -- shared numerics -------------------------------------------------------------------------
def fit_diffusivity(lag_ps: np.ndarray, msd_A2: np.ndarray, ds: Dataset) -> float:
    """D in cm²/s from a least-squares line MSD = 6 D t + c over the run fraction ds.fit_window."""
    lo, hi = ds.fit_window[0] * ds.duration_ps, ds.fit_window[1] * ds.duration_ps
    sel = (lag_ps >= lo) & (lag_ps <= hi)
    if sel.sum() < 2:
        raise ValueError(f"fewer than two MSD points in the fit window {lo:g}–{hi:g} ps")
    slope = np.polyfit(lag_ps[sel], msd_A2[sel], 1)[0]
    return float(slope / 6.0 * A2_PS_TO_CM2_S)


def msd_fft_numpy(x: np.ndarray, atoms_per_block: int = 32) -> np.ndarray:
    """Mean over atoms of the time-origin-averaged MSD, by FFT (the S1 − 2 S2 algorithm).

    MSD(m) = S1(m) − 2 S2(m), with S1(m) = Σ_k (r²_k + r²_{k+m}) / (N − m) from running sums and
    S2(m) = Σ_k r_k · r_{k+m} / (N − m) the position autocorrelation, by zero-padded FFT
    (Kneller, Keiner, Kneller & Schiller, Comput. Phys. Commun. 91, 191 (1995); Calandrini et al.,
    JDN 12, 201 (2011)).

    Args:
        x: Unwrapped positions (n_frames, n_atoms, 3), Å.
        atoms_per_block: Atoms transformed at once (bounds the FFT's memory).

    Returns:
        MSD in Å² at lags 0..n_frames-1 (in frames), shape (n_frames,).
    """
    n = x.shape[0]
    count = (n - np.arange(n, dtype=np.float64))[:, None]
    total = np.zeros(n)
    for a0 in range(0, x.shape[1], atoms_per_block):
        blk = np.asarray(x[:, a0 : a0 + atoms_per_block], dtype=np.float64)
        sq = np.square(blk).sum(axis=-1)  # (n, atoms)
        head = np.cumsum(sq, axis=0)
        tail = np.cumsum(sq[::-1], axis=0)
        s1 = np.empty_like(sq)
        s1[0] = 2.0 * head[-1]
        s1[1:] = 2.0 * head[-1] - head[:-1] - tail[:-1]
        f = np.fft.rfft(blk, n=2 * n, axis=0)
        s2 = np.fft.irfft(np.abs(f) ** 2, n=2 * n, axis=0)[:n].sum(axis=-1)
        total += ((s1 - 2.0 * s2) / count).sum(axis=1)
    return total / x.shape[1]


def load_positions(ds: Dataset) -> np.ndarray:
    return np.load(ds.npy)


# -- peers ------------------------------------------------------------------------------------
def run_pymatgen(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import pymatgen.analysis.diffusion as pmgd
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    with timer("load"):
        pos = load_positions(ds)
        structure = Structure(Lattice(ds.cell), list(ds.symbols), pos[0], coords_are_cartesian=True)
        pos -= pos[0].copy()  # displacements relative to frame 0, in place
        disp = pos.transpose(1, 0, 2)  # site-major (n_sites, n_frames, 3), a view
    args = ("Li", ds.temperature_K, ds.timestep_fs, 1)
    DiffusionAnalyzer(structure, disp[:, : min(300, ds.n_frames)], *args)  # warm-up
    with timer("compute"):
        da = DiffusionAnalyzer(structure, disp, *args)
    return {
        "D_cm2_s": float(da.diffusivity),
        "version": getattr(pmgd, "__version__", _dist_version("pymatgen-analysis-diffusion")),
        "fit": "pymatgen's own: 1 ps to end of run, smoothed='max'",
    }


def _kinisi_analyze(
    frac: np.ndarray,
    latt: np.ndarray,
    ds: Dataset,
    n_frames: int,
    n_samples: int,
    n_burn: int,
) -> Any:
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer
    from kinisi.displacement import calculate_msd
    from kinisi.parser import Parser

    li = ds.indices("Li")
    frame_work = np.setdiff1d(np.arange(ds.n_atoms), li)
    dur_frames = n_frames - 1
    lo_frame = ds.fit_window[0] * dur_frames
    hi_frame = max(2, round(ds.fit_window[1] * dur_frames))
    dt_frames = np.unique(np.linspace(1, hi_frame, 100).round().astype(np.int64))
    time_step = sc.scalar(ds.timestep_fs, unit="fs")
    parser = Parser(
        coords=sc.array(dims=["time", "particle", "dimension"], values=frac, unit=""),
        latt=sc.array(dims=["time", "dimension1", "dimension2"], values=latt, unit="angstrom"),
        time_step=time_step,
        step_skip=sc.scalar(1, unit=""),
        dt=sc.array(dims=["time interval"], values=dt_frames * ds.timestep_fs, unit="fs"),
        specie_indices=sc.array(dims=["particle"], values=li),
        drift_indices=sc.array(dims=["particle"], values=frame_work),
    )
    analyzer = DiffusionAnalyzer(parser)
    analyzer._dg = calculate_msd(parser, progress=False)  # what the from_* constructors do
    analyzer.diffusion(
        sc.scalar(lo_frame * ds.timestep_fs, unit="fs"),
        n_samples=n_samples,
        n_burn=n_burn,
        progress=False,
        random_state=np.random.RandomState(ds.seed),
    )
    return analyzer


def run_kinisi(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import kinisi

    with timer("load"):
        pos = load_positions(ds)
        frac = pos @ np.linalg.inv(ds.cell)
        del pos
        frac -= np.floor(frac)  # wrapped fractional coordinates, as a parser would give
        latt = np.broadcast_to(ds.cell, (ds.n_frames, 3, 3)).copy()
    w = min(300, ds.n_frames)
    _kinisi_analyze(frac[:w], latt[:w], ds, w, n_samples=50, n_burn=50)  # warm-up
    with timer("compute"):
        analyzer = _kinisi_analyze(frac, latt, ds, ds.n_frames, n_samples=1000, n_burn=500)
    samples = np.asarray(analyzer.D.values)
    return {
        "D_cm2_s": float(samples.mean()),
        "D_std_cm2_s": float(samples.std()),
        "version": kinisi.__version__,
        "fit": f"Bayesian GLS (MCMC), 100 dt, {ds.fit_label.removeprefix('linear, ')}",
    }


def run_mdanalysis(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import warnings

    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.coordinates.memory import MemoryReader

    warnings.filterwarnings("ignore", module="MDAnalysis")
    with timer("load"):
        pos = load_positions(ds)
        u = mda.Universe.empty(ds.n_atoms, trajectory=True)
        u.add_TopologyAttr("type", list(ds.symbols))
        a = ds.box_A
        u.load_new(
            pos,
            format=MemoryReader,
            order="fac",
            dt=ds.timestep_ps,
            dimensions=[a, a, a, 90.0, 90.0, 90.0],
        )
        del pos
    EinsteinMSD(u, select="type Li", msd_type="xyz", fft=True).run(stop=min(300, ds.n_frames))
    with timer("compute"):
        msd = EinsteinMSD(u, select="type Li", msd_type="xyz", fft=True).run()
        lag = np.asarray(msd.results.delta_t_values, dtype=np.float64)
        d = fit_diffusivity(lag, np.asarray(msd.results.timeseries), ds)
    return {"D_cm2_s": d, "version": mda.__version__, "fit": ds.fit_label}


def run_tidynamics(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import tidynamics

    with timer("load"):
        li = load_positions(ds)[:, ds.indices("Li")]
    tidynamics.msd(li[: min(300, ds.n_frames), 0])  # warm-up
    with timer("compute"):
        msd = np.mean([tidynamics.msd(li[:, i]) for i in range(li.shape[1])], axis=0)
        lag = np.arange(ds.n_frames) * ds.timestep_ps
        d = fit_diffusivity(lag, msd, ds)
    return {"D_cm2_s": d, "version": _dist_version("tidynamics"), "fit": ds.fit_label}


def run_numpy(ds: Dataset, timer: Timer) -> dict[str, Any]:
    with timer("load"):
        li = load_positions(ds)[:, ds.indices("Li")]
    msd_fft_numpy(li[: min(300, ds.n_frames), :4])  # warm-up
    with timer("compute"):
        msd = msd_fft_numpy(li)
        lag = np.arange(ds.n_frames) * ds.timestep_ps
        d = fit_diffusivity(lag, msd, ds)
    return {"D_cm2_s": d, "version": np.__version__, "fit": ds.fit_label}


# -- solidion ---------------------------------------------------------------------------------
def _tiny_trajectory(ds: Dataset) -> Any:
    """A small random trajectory with the same species, for warming solidion's code path."""
    import solidion

    rng = np.random.default_rng(1)
    # Charge-neutral with CHARGES, like the real cell: 4·1 + 4·3 − 10·1 − 3·2 = 0.
    symbols = [s for s, k in (("Li", 4), ("Al", 4), ("Cl", 10), ("O", 3)) for _ in range(k)]
    n = 300
    pos = rng.uniform(0, 10, (1, len(symbols), 3)) + np.cumsum(
        rng.normal(0, 0.05, (n, len(symbols), 3)), axis=0
    )
    return solidion.Trajectory.from_arrays(
        symbols, pos, np.eye(3) * 10.0, ds.timestep_fs, ds.temperature_K
    )


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with warnings silenced (the warm-up data are too short to be physical)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _solidion_result(res: Any) -> dict[str, Any]:
    import solidion

    out: dict[str, Any] = {
        "D_cm2_s": float(res.tracer_diffusivity["Li"].value),
        "version": solidion.__version__,
        "fit": "solidion default",
    }
    window = getattr(getattr(res, "species", {}).get("Li"), "fit_window_ps", None)
    if window is not None:
        out["fit_window_ps"] = [float(w) for w in window]
        out["fit"] = f"solidion automatic: {window[0]:g}–{window[1]:g} ps"
    try:
        out["D_stderr_cm2_s"] = float(res.tracer_diffusivity["Li"].stderr)
    except (AttributeError, TypeError, ValueError):
        pass
    haven = getattr(res, "haven_ratio", None)
    if haven is not None:
        try:
            out["haven_ratio"] = float(haven.value)
            out["haven_ratio_stderr"] = float(haven.stderr)
        except (AttributeError, TypeError, ValueError):
            pass
    return out


def run_solidion_dstar(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import solidion
    from solidion.transport import tracer_diffusivity

    with timer("load"):
        traj = solidion.read_trajectory(ds.h5md)
    _quiet(tracer_diffusivity, _tiny_trajectory(ds), "Li")  # warm-up
    with timer("compute"):
        res = tracer_diffusivity(traj, "Li")
    return {
        "D_cm2_s": float(res.tracer_diffusivity_cm2_s.value),
        "D_stderr_cm2_s": float(res.tracer_diffusivity_cm2_s.stderr),
        "version": solidion.__version__,
        "fit": f"solidion default window {res.fit_window_ps[0]:.3g}–{res.fit_window_ps[1]:.3g} ps",
    }


def run_solidion_full(ds: Dataset, timer: Timer) -> dict[str, Any]:
    import solidion
    from solidion.transport import analyze

    with timer("load"):
        traj = solidion.read_trajectory(ds.h5md)
    _quiet(analyze, _tiny_trajectory(ds), mobile="Li", charges=CHARGES)  # warm-up
    with timer("compute"):
        res = analyze(traj, mobile="Li", charges=CHARGES)
    return _solidion_result(res)


def run_solidion_h5md_chunked(ds: Dataset, timer: Timer) -> dict[str, Any]:
    from solidion.transport import analyze

    with timer("load"):
        path = str(ds.h5md)  # nothing is loaded up front: analyze reads atom chunks itself
    _quiet(analyze, _tiny_trajectory(ds), mobile="Li", charges=CHARGES)  # warm-up
    with timer("compute"):
        res = analyze(path, mobile="Li", charges=CHARGES, max_memory_mb=200)
    out = _solidion_result(res)
    out["note"] = "reads H5MD inside compute (max_memory_mb=200)"
    return out


WORKERS: dict[str, Callable[[Dataset, Timer], dict[str, Any]]] = {
    "pymatgen": run_pymatgen,
    "kinisi": run_kinisi,
    "mdanalysis": run_mdanalysis,
    "tidynamics": run_tidynamics,
    "numpy": run_numpy,
    "solidion_dstar": run_solidion_dstar,
    "solidion_full": run_solidion_full,
    "solidion_h5md_chunked": run_solidion_h5md_chunked,
}


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def run_worker(
    name: str, meta_path: str | Path, fit_window: tuple[float, float] = FIT_WINDOW
) -> int:
    """Run one worker and print its result as one tagged JSON line; never raise."""
    timer = Timer()
    row: dict[str, Any] = {"tool": name}
    try:
        ds = Dataset.from_meta(meta_path, fit_window)
        row.update(WORKERS[name](ds, timer))
        row["rel_error"] = row["D_cm2_s"] / ds.d_input_cm2_s - 1.0
    except Exception as exc:  # report, do not crash: the parent puts it in the table
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        row["error"] = last
        traceback.print_exc(file=sys.stderr)
    row["load_s"] = timer.wall.get("load")
    row["compute_s"] = timer.wall.get("compute")
    row["load_cpu_s"] = timer.cpu.get("load")
    row["compute_cpu_s"] = timer.cpu.get("compute")
    # ru_maxrss is in KiB on Linux: this process's own peak, a cross-check on /usr/bin/time.
    row["peak_rss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(row), flush=True)
    return 0 if "error" not in row else 1

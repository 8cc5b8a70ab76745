"""Transport analysis with the full correlation picture: ``analyze(traj, mobile="Li")``.

For a trajectory at temperature T and volume V, with species i of N_i ions and charge z_i:

- tracer diffusivity  D*_i = lim (1/6) d/dt ⟨|Δr_a(t)|²⟩_{a∈i}   (Einstein);
- collective displacement  ΔR_i(t) = Σ_{a∈i} Δr_a(t) and Onsager coefficients
  L_ij = lim 1/(6 V k_B T) d/dt ⟨ΔR_i(t)·ΔR_j(t)⟩, split for i = j into the self part
  (Σ_a |Δr_a|²) and the distinct part (a ≠ b);
- full-Einstein conductivity σ_E = e² Σ_ij z_i z_j L_ij (every cross term);
- Nernst–Einstein σ_NE = e²/(V k_B T) Σ_i N_i z_i² D*_i;
- cluster Nernst–Einstein σ_cNE (France-Lanord & Grossman 2019, see
  :mod:`solidion.transport.clusters`);
- charge diffusivity of the mobile species D_σ = lim (1/6N) d/dt ⟨|ΔR_m|²⟩ and the Haven ratio
  H_R = D*/D_σ;
- transference numbers t_i = z_i Σ_j z_j L_ij / Σ_kl z_k z_l L_kl (exact), and their NE and
  cNE counterparts.

References: Murch, Solid State Ionics 7, 177 (1982) for the Haven ratio; Fong, Self, Diederichsen,
Wood, McCloskey & Persson, Macromolecules 53, 8 (2020) and Vargas-Barbosa & Roling,
ChemElectroChem 7, 367 (2020) for Onsager coefficients and transference numbers.

**Reference frame.** Displacements are measured, by default, relative to the centre of mass of
the framework (all species but the mobile one), as in pymatgen-analysis-diffusion and kinisi;
``frame="barycentric"`` uses the centre of mass of the whole system and ``frame="lab"`` applies
no correction. σ_E of a neutral system is the same in every frame; D*, H_R and transference
numbers are not, so the frame is part of the result.

**Fit windows.** The diffusive regime begins where the local exponent d ln MSD / d ln t of the
mobile ion's MSD settles near 1 (:func:`~solidion.transport.msd.diffusive_onset`); tracer
quantities are fitted from there to half a block, collective quantities (one random walk per
run, whose noise grows fast with lag) only over the first fifth of that range. Both windows are
reported and can be set.

**Uncertainty.** Each run is cut into equal time blocks; every quantity is computed from the
block-averaged raw slopes and its error from the delete-one-block jackknife, scaled to a
calibrated 68 % interval (:mod:`solidion.transport.estimate`). Several runs at one temperature
contribute blocks of one common length and combine into one estimate.
"""

from __future__ import annotations

import os
import warnings as _warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from solidion.chemistry import formal_charges
from solidion.errors import AnalysisError, InputError
from solidion.trajectory import Trajectory
from solidion.transport.clusters import ClusterTypes, cluster_block_statistics
from solidion.transport.estimate import Estimate, jackknife
from solidion.transport.msd import (
    ballistic_frame_interval_fs,
    cross_msd_fft,
    diffusive_onset,
    linear_fit,
    local_exponent,
    msd_fft,
)
from solidion.units import A2_PS_TO_CM2_S, PS_PER_FS, nernst_einstein_prefactor_S_cm

__all__ = [
    "Conductivity",
    "OnsagerEntry",
    "SpeciesTransport",
    "TransportResult",
    "analyze",
    "tracer_diffusivity",
]

FRAMES = ("framework", "barycentric", "lab")
#: Fewest frames a run may have to be analysed.
MIN_FRAMES = 20


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeciesTransport:
    """Tracer transport of one species.

    Attributes:
        tracer_diffusivity_cm2_s: D* ± stderr.
        fit_window_ps: Lag window of the fit, in ps.
        count: Number of ions.
        charge: Formal charge used.
        msd_exponent: Mean local exponent d ln MSD / d ln t over the fit window (1 = diffusive).
    """

    tracer_diffusivity_cm2_s: Estimate
    fit_window_ps: tuple[float, float]
    count: int
    charge: float
    msd_exponent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracer_diffusivity_cm2_s": self.tracer_diffusivity_cm2_s.to_dict(),
            "fit_window_ps": [float(x) for x in self.fit_window_ps],
        }


class _AllEstimates:
    """Mixin for result dataclasses whose every field is an :class:`Estimate`."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name).to_dict() for f in fields(self)}


@dataclass(frozen=True)
class Conductivity(_AllEstimates):
    """Ionic conductivity three ways, in S/cm."""

    einstein: Estimate
    nernst_einstein: Estimate
    cluster_nernst_einstein: Estimate


@dataclass(frozen=True)
class OnsagerEntry(_AllEstimates):
    """e² z_i z_j L_ij of one species pair in S/cm (both orders for i ≠ j), self and distinct."""

    total: Estimate
    self: Estimate
    distinct: Estimate


@dataclass(frozen=True)
class TransportResult:
    """Everything :func:`analyze` measures at one temperature.

    ``to_dict()`` gives the JSON of ``solidion analyze --json``; the attributes mirror it.
    MSD curves (``msd_lag_ps``, ``msd_A2``) and cluster details are kept for plots and reports
    but are not part of the JSON.
    """

    temperature_K: float
    mobile: str
    frame: str
    species: dict[str, SpeciesTransport]
    charge_diffusivity: Estimate
    haven_ratio: Estimate
    conductivity: Conductivity
    transference: dict[str, dict[str, Estimate]]
    onsager: dict[str, OnsagerEntry]
    warnings: tuple[str, ...]
    charges: dict[str, float]
    n_blocks: int
    block_ps: float
    collective_window_ps: tuple[float, float]
    cluster_cutoffs_A: dict[str, float]
    cluster_types: dict[str, dict[str, float]]
    volume_A3: float
    duration_ps: float
    msd_lag_ps: np.ndarray = field(repr=False)
    msd_A2: dict[str, np.ndarray] = field(repr=False)

    @property
    def tracer_diffusivity(self) -> dict[str, Estimate]:
        """D* per species in cm²/s."""
        return {s: v.tracer_diffusivity_cm2_s for s, v in self.species.items()}

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of ``solidion analyze --json`` (values as {"value", "stderr"})."""
        return {
            "temperature_K": self.temperature_K,
            "mobile": self.mobile,
            "frame": self.frame,
            "species": {s: v.to_dict() for s, v in self.species.items()},
            "charge_diffusivity_cm2_s": self.charge_diffusivity.to_dict(),
            "haven_ratio": self.haven_ratio.to_dict(),
            "conductivity_S_cm": self.conductivity.to_dict(),
            "transference": {
                k: {s: e.to_dict() for s, e in v.items()} for k, v in self.transference.items()
            },
            "onsager_S_cm": {k: v.to_dict() for k, v in self.onsager.items()},
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# data sources: an in-memory Trajectory or an H5MD file read in atom chunks
# ---------------------------------------------------------------------------------------------
class _Source(Protocol):
    """Uniform access to positions by atoms (all frames) or by frames (all atoms)."""

    symbols: tuple[str, ...]
    n_frames: int
    timestep_fs: float
    temperature_K: float | None
    cells: np.ndarray
    name: str

    def atoms(self, idx: np.ndarray) -> np.ndarray:
        """Positions of the atoms ``idx`` over all frames, (n_frames, k, 3)."""
        ...

    def frames(self, fidx: Sequence[int]) -> np.ndarray:
        """Positions of all atoms at the frames ``fidx``, (k, n_atoms, 3)."""
        ...

    def close(self) -> None:
        """Release file handles."""
        ...


class _MemorySource:
    def __init__(self, traj: Trajectory):
        self.traj = traj
        self.symbols = traj.symbols
        self.n_frames = traj.n_frames
        self.timestep_fs = traj.timestep_fs
        self.temperature_K = traj.temperature_K
        self.cells = traj.cells
        self.name = str(traj.metadata.get("source", "trajectory"))

    def atoms(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.size and np.all(np.diff(idx) == 1):  # contiguous: a view, no copy
            return self.traj.positions[:, idx[0] : idx[-1] + 1]
        return self.traj.positions[:, idx]

    def frames(self, fidx: Sequence[int]) -> np.ndarray:
        return self.traj.positions[list(fidx)]

    def close(self) -> None:
        """Nothing to release."""


class _H5MDSource:
    def __init__(self, path: Path, timestep_fs: float | None, temperature_K: float | None):
        from solidion.io.h5md import H5MDReader

        self.reader = H5MDReader(path, timestep_fs=timestep_fs, temperature_K=temperature_K)
        r = self.reader
        from ase.data import chemical_symbols

        self.symbols = tuple(chemical_symbols[s] if isinstance(s, int) else s for s in r.symbols)
        self.n_frames = r.n_frames
        self.timestep_fs = r.timestep_fs
        self.temperature_K = r.temperature_K
        edges = r.cells()
        self.cells = edges if edges.ndim == 3 else np.broadcast_to(edges, (self.n_frames, 3, 3))
        self.name = str(path)

    def atoms(self, idx: np.ndarray) -> np.ndarray:
        return self.reader.read(atoms=idx).positions

    def frames(self, fidx: Sequence[int]) -> np.ndarray:
        return np.concatenate(
            [self.reader.read(frames=slice(f, f + 1)).positions for f in fidx], axis=0
        )

    def close(self) -> None:
        self.reader.close()


def _open_sources(
    data: Any, timestep_fs: float | None, temperature_K: float | None, format: str | None
) -> list[_Source]:
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    if not items:
        raise InputError("analyze needs at least one trajectory")
    out: list[_Source] = []
    for item in items:
        if isinstance(item, Trajectory):
            out.append(_MemorySource(item))
        elif isinstance(item, (str, os.PathLike)):
            from solidion.io import detect_format, read_trajectory

            fmt = format or detect_format(item)
            if fmt == "h5md":
                out.append(_H5MDSource(Path(item), timestep_fs, temperature_K))
            else:
                out.append(
                    _MemorySource(
                        read_trajectory(
                            item, format=fmt, timestep_fs=timestep_fs, temperature_K=temperature_K
                        )
                    )
                )
        else:
            raise InputError(
                f"analyze takes Trajectory objects or file paths, got {type(item).__name__}"
            )
    return out


# ---------------------------------------------------------------------------------------------
# the analysis
# ---------------------------------------------------------------------------------------------
def _chunk_atoms(n_frames: int, max_memory_mb: float | None) -> int:
    if max_memory_mb is None:
        return 64
    # positions chunk + centred copy + FFT workspace (~2 complex per value)
    per_atom = n_frames * 3 * 8 * 6
    k = int(max_memory_mb * 2**20 // per_atom)
    if k < 1:
        raise InputError(
            f"max_memory_mb={max_memory_mb} cannot hold even one atom's {n_frames} frames "
            f"(needs {per_atom / 2**20:.1f} MB)"
        )
    return min(k, 256)


def _reference_drift(
    src: _Source, species: Sequence[str], ref_species: Sequence[str], chunk: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Drift of the reference centre of mass and the summed positions of each species."""
    symbols = np.asarray(src.symbols)
    sums = {s: np.zeros((src.n_frames, 3)) for s in species}
    com = np.zeros((src.n_frames, 3))
    mass_total = 0.0
    for s in species:
        idx = np.flatnonzero(symbols == s)
        m = float(atomic_masses[atomic_numbers[s]])
        for start in range(0, idx.size, chunk):
            block = np.asarray(src.atoms(idx[start : start + chunk]), dtype=np.float64)
            part = np.einsum("tak->tk", block)  # 4× faster than .sum(axis=1) on views
            sums[s] += part
            if s in ref_species:
                com += m * part
                mass_total += m * block.shape[1]
    if mass_total > 0:
        com /= mass_total
        drift = com - com[0]
    else:
        drift = np.zeros_like(com)
    return drift, sums


def _slope_A2_ps(curve: np.ndarray, lo: int, hi: int, dt_ps: float) -> float:
    lags = np.arange(lo, hi + 1)
    return linear_fit(lags * dt_ps, curve[lo : hi + 1])[0]


def analyze(
    data: Trajectory | str | os.PathLike[str] | Sequence[Trajectory | str | os.PathLike[str]],
    mobile: str = "Li",
    charges: Mapping[str, float] | None = None,
    *,
    temperature_K: float | None = None,
    timestep_fs: float | None = None,
    format: str | None = None,
    frame: str = "framework",
    framework: Iterable[str] | None = None,
    fit_window_ps: tuple[float, float] | None = None,
    collective_window_ps: tuple[float, float] | None = None,
    n_blocks: int | None = None,
    cluster_cutoffs: Mapping[str, float] | None = None,
    cluster_origins: int = 8,
    max_memory_mb: float | None = None,
) -> TransportResult:
    """Analyse transport in one or several runs at one temperature.

    Args:
        data: A :class:`Trajectory`, a file path, or a list of them (replicas or consecutive
            segments at one temperature; they must hold the same atoms). H5MD files are read in
            atom chunks, never whole.
        mobile: The mobile species (its MSD sets the fit window; D_σ and H_R refer to it).
        charges: Formal charges per species; defaults from :mod:`solidion.chemistry`.
        temperature_K: Temperature; required when the trajectory does not carry one.
        timestep_fs: Time between frames, for files that do not store it.
        format: File format of path inputs (default: from the name).
        frame: ``"framework"`` (default), ``"barycentric"`` or ``"lab"``.
        framework: Species whose centre of mass defines the framework frame (default: all but
            ``mobile``).
        fit_window_ps: Tracer fit window (lag range in ps) instead of the automatic one.
        collective_window_ps: Collective fit window (lags in ps) instead of the automatic one.
        n_blocks: Time blocks for the error bars (default: as many as fit, 3–10).
        cluster_cutoffs: ``{"Li-Cl": 3.1, ...}`` bond cutoffs (Å) defining clusters for σ_cNE;
            default: the first g(r) minimum of the mobile ion with every counter-ion species;
            ``{}`` means no clusters (every ion free).
        cluster_origins: Time origins per block for the cluster analysis.
        max_memory_mb: Memory budget for reading files in chunks.

    Returns:
        A :class:`TransportResult`.

    Raises:
        InputError: Unknown species or frame, non-positive temperature, bad windows, runs that
            do not match.
        AnalysisError: Too few frames to analyse.
    """
    if frame not in FRAMES:
        raise InputError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")
    sources = _open_sources(data, timestep_fs, temperature_K, format)
    try:
        return _analyze(
            sources,
            mobile,
            charges,
            temperature_K,
            frame,
            framework,
            fit_window_ps,
            collective_window_ps,
            n_blocks,
            cluster_cutoffs,
            cluster_origins,
            max_memory_mb,
        )
    finally:
        for s in sources:
            s.close()


def tracer_diffusivity(
    data: Trajectory | str | os.PathLike[str] | Sequence[Trajectory | str | os.PathLike[str]],
    species: str = "Li",
    *,
    temperature_K: float | None = None,
    timestep_fs: float | None = None,
    format: str | None = None,
    frame: str = "framework",
    framework: Iterable[str] | None = None,
    fit_window_ps: tuple[float, float] | None = None,
    n_blocks: int | None = None,
    max_memory_mb: float | None = None,
) -> SpeciesTransport:
    """Tracer diffusivity D* of one species only — the fast path of :func:`analyze`.

    Same reference frame, fit window and block error bars as :func:`analyze` (with ``species``
    as the mobile ion), without the collective, Onsager and cluster work. The framework is all
    other species unless given.

    Returns:
        A :class:`SpeciesTransport` (D* in cm²/s ± stderr, fit window, MSD exponent).
    """
    if frame not in FRAMES:
        raise InputError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")
    sources = _open_sources(data, timestep_fs, temperature_K, format)
    try:
        return _analyze(
            sources,
            species,
            None,
            temperature_K or 1.0,
            frame,
            framework,
            fit_window_ps,
            None,
            n_blocks,
            {},
            1,
            max_memory_mb,
            tracer_only=True,
        )
    finally:
        for s in sources:
            s.close()


def _analyze(
    sources: list[_Source],
    mobile: str,
    charges_in: Mapping[str, float] | None,
    temperature_K: float | None,
    frame: str,
    framework: Iterable[str] | None,
    fit_window_ps: tuple[float, float] | None,
    collective_window_ps: tuple[float, float] | None,
    n_blocks: int | None,
    cluster_cutoffs: Mapping[str, float] | None,
    cluster_origins: int,
    max_memory_mb: float | None,
    tracer_only: bool = False,
) -> TransportResult | SpeciesTransport:
    notes: list[str] = []
    first = sources[0]
    for s in sources[1:]:
        if s.symbols != first.symbols:
            raise InputError(f"{s.name} holds other atoms than {first.name}; runs must match")
        if not np.isclose(s.timestep_fs, first.timestep_fs):
            raise InputError(f"{s.name} has another time between frames than {first.name}")
    temps = {s.temperature_K for s in sources if s.temperature_K is not None}
    if temperature_K is None:
        if not temps:
            raise InputError("the temperature is unknown: pass temperature_K (--temperature)")
        if len(temps) > 1:
            raise InputError(f"runs at different temperatures {sorted(temps)} cannot be combined")
        temperature_K = temps.pop()
    if not (np.isfinite(temperature_K) and temperature_K > 0):
        raise InputError(f"temperature_K must be positive, got {temperature_K}")
    species = list(dict.fromkeys(first.symbols))
    if mobile not in species:
        raise InputError(
            f"mobile species {mobile!r} is not present (species: {', '.join(species)})"
        )
    charges = formal_charges(species, charges_in)
    symbols = np.asarray(first.symbols)
    counts = {s: int((symbols == s).sum()) for s in species}
    net = sum(counts[s] * charges[s] for s in species)
    if abs(net) > 1e-6:
        notes.append(
            f"charges {charges} leave the cell with a net charge of {net:+g} e: σ_E then depends on "
            "the reference frame; check the charges"
        )
    if framework is not None:
        fw = list(framework)
        for s in fw:
            if s not in species:
                raise InputError(f"framework species {s!r} is not present")
    else:
        fw = [s for s in species if s != mobile]
    if frame == "framework" and not fw:
        raise InputError("frame='framework' needs at least one species besides the mobile one")
    ref_species = {"framework": fw, "barycentric": species, "lab": []}[frame]

    dt_ps = first.timestep_fs * PS_PER_FS
    n_min = min(s.n_frames for s in sources)
    if n_min < MIN_FRAMES:
        raise AnalysisError(
            f"{sources[int(np.argmin([s.n_frames for s in sources]))].name}: {n_min} frames; "
            f"transport needs at least {MIN_FRAMES} (and many more for a converged answer)"
        )
    chunk = _chunk_atoms(max(s.n_frames for s in sources), max_memory_mb)

    # pass 1: reference drift, species sums, full-run MSD of the mobile ion (for the window)
    drifts, sums = [], []
    mobile_all = np.flatnonzero(symbols == mobile)
    # the onset needs the shape of the MSD, not its last digit: 64 ions are plenty
    mobile_idx = mobile_all[np.unique(np.linspace(0, mobile_all.size - 1, 64).astype(int))]
    full_msd = np.zeros(n_min)
    for src in sources:
        d, sm = _reference_drift(src, species, ref_species, chunk)
        drifts.append(d)
        sums.append(sm)
        acc = np.zeros(src.n_frames)
        for start in range(0, mobile_idx.size, chunk):
            x = np.asarray(src.atoms(mobile_idx[start : start + chunk]), dtype=np.float64)
            x = x - d[:, None, :]
            acc += msd_fft(x) * x.shape[1]
        full_msd += acc[:n_min] / mobile_idx.size / len(sources)

    implied_fs = ballistic_frame_interval_fs(
        full_msd, float(atomic_masses[atomic_numbers[mobile]]), temperature_K
    )
    if implied_fs is not None and not 0.5 < implied_fs / first.timestep_fs < 2.0:
        notes.append(
            f"{mobile}: the MSD is ballistic over the first frames and at {temperature_K:g} K "
            f"that means frames {implied_fs:.3g} fs apart, not the stated "
            f"{first.timestep_fs:g} fs; check the time between frames (every D and σ scales "
            "with it)"
        )

    # the fit windows and the blocks
    onset_found = True
    if fit_window_ps is not None:
        lo_ps, hi_ps = (float(v) for v in fit_window_ps)
        if not 0 < lo_ps < hi_ps:
            raise InputError(
                f"fit_window_ps must be (start, end) with 0 < start < end, got {fit_window_ps}"
            )
        onset = max(1, int(round(lo_ps / dt_ps)))
    else:
        found = diffusive_onset(full_msd, last_lag=n_min // 4)
        onset_found = found is not None
        onset = found if found is not None else n_min
    # blocks: as many as fit 4× the onset in the shortest run (3–10 in all)
    if n_blocks is not None:
        if n_blocks < 2:
            raise InputError(f"n_blocks must be at least 2, got {n_blocks}")
        nb_short = n_blocks
    else:
        need = 4 * onset if fit_window_ps is None else int(round(2 * hi_ps / dt_ps)) + 1
        nb_short = min(n_min // max(need, 1), 10)
        if nb_short * len(sources) < 3:
            nb_short = -(-3 // len(sources))
            if onset_found:
                notes.append(
                    f"the runs are short for their diffusive onset ({onset * dt_ps:.3g} ps of "
                    f"{n_min * dt_ps:.3g} ps): blocks shorter than 4× the onset are used; "
                    "error bars are rough"
                )
    block = n_min // nb_short
    if block < 8:
        raise AnalysisError(f"blocks of {block} frames are too short; the runs need more frames")
    runs_blocks = [
        (si, b * block) for si, s in enumerate(sources) for b in range(s.n_frames // block)
    ]
    nb = len(runs_blocks)
    if nb < 2:
        raise AnalysisError("need at least two time blocks for an error bar")

    if fit_window_ps is not None:
        i0, i1 = onset, int(round(hi_ps / dt_ps))
        if i1 > block - 1:
            raise InputError(
                f"fit_window_ps ends at {hi_ps} ps but blocks last {(block - 1) * dt_ps:.4g} ps; "
                "choose a shorter window or fewer blocks (n_blocks)"
            )
    else:
        i1 = block // 2
        i0 = onset if onset_found else block // 4
        if not onset_found:
            notes.append(
                f"{mobile}: no diffusive regime found in {n_min * dt_ps:.3g} ps (the MSD never "
                f"grows linearly); D* is the slope over the longest reliable lags "
                f"{i0 * dt_ps:.3g}–{i1 * dt_ps:.3g} ps, an estimate, not a converged diffusivity — "
                "run longer"
            )
        elif i0 > i1 - 2:
            i0 = max(1, i1 // 2)
            notes.append(
                f"the diffusive onset ({onset * dt_ps:.3g} ps) is beyond half a block; fitting "
                f"from {i0 * dt_ps:.3g} ps — the run is too short for a converged D*"
            )
    if collective_window_ps is not None:
        c0, c1 = (int(round(float(v) / dt_ps)) for v in collective_window_ps)
        if not 1 <= c0 < c1 <= block - 1:
            raise InputError(
                f"collective_window_ps {collective_window_ps} must lie within (0, "
                f"{(block - 1) * dt_ps:.4g}] ps with start < end"
            )
    else:
        c0, c1 = i0, i0 + max(1, (i1 - i0) // 5)

    # pass 2: self MSD per species per block (centred on the reference frame)
    n_sp = len(species)
    self_sum = np.zeros((nb, n_sp, block))  # Σ_a MSD_a(lag) per block
    for si, src in enumerate(sources):
        my_blocks = [(k, start) for k, (sj, start) in enumerate(runs_blocks) if sj == si]
        for s_i, s in enumerate(species):
            if tracer_only and s != mobile:
                continue
            idx = np.flatnonzero(symbols == s)
            for start in range(0, idx.size, chunk):
                x = np.asarray(src.atoms(idx[start : start + chunk]), dtype=np.float64)
                x = x - drifts[si][:, None, :]
                for k, f0 in my_blocks:
                    self_sum[k, s_i] += msd_fft(x[f0 : f0 + block]) * x.shape[1]
                del x

    if tracer_only:
        m = species.index(mobile)
        slopes = [
            _slope_A2_ps(self_sum[k, m] / counts[mobile], i0, i1, dt_ps) / 6.0 for k in range(nb)
        ]
        value, err = jackknife(lambda v: v * A2_PS_TO_CM2_S, np.asarray(slopes)[:, None])
        lags = np.arange(max(i0, 1), i1 + 1)
        curve = self_sum[:, m].mean(axis=0) / counts[mobile]
        beta = float(np.nanmean(local_exponent(lags, curve[lags])))
        for note in notes:
            _warnings.warn(note, stacklevel=3)
        return SpeciesTransport(
            Estimate(float(value[0]), float(err[0])),
            (i0 * dt_ps, i1 * dt_ps),
            counts[mobile],
            charges[mobile],
            beta,
        )

    # collective cross-MSD per block for every species pair
    pairs = [(i, j) for i in range(n_sp) for j in range(i, n_sp)]
    coll = np.zeros((nb, len(pairs), block))
    volumes = np.zeros(nb)
    for k, (si, f0) in enumerate(runs_blocks):
        src = sources[si]
        rs = [
            sums[si][s][f0 : f0 + block] - counts[s] * drifts[si][f0 : f0 + block] for s in species
        ]
        for p, (i, j) in enumerate(pairs):
            coll[k, p] = cross_msd_fft(rs[i], None if i == j else rs[j])
        volumes[k] = float(np.abs(np.linalg.det(src.cells[f0 : f0 + block])).mean())

    # cluster statistics (for σ_cNE)
    masses_all = np.array([atomic_masses[atomic_numbers[s]] for s in first.symbols])
    species_index = np.array([species.index(s) for s in first.symbols])
    z_vec = np.array([charges[s] for s in species])
    cut_pairs, cut_named = _cluster_cutoffs(
        sources[0], species, mobile, charges, cluster_cutoffs, notes
    )
    types = ClusterTypes(tuple(species), z_vec)
    lags_c = np.unique(np.linspace(i0, i1, 6).astype(int))
    block_clusters = []
    for si, f0 in runs_blocks:
        src = sources[si]
        block_clusters.append(
            cluster_block_statistics(
                src.frames,
                src.cells,
                drifts[si],
                species_index,
                masses_all,
                cut_pairs,
                types,
                f0,
                block,
                lags_c,
                cluster_origins,
                dt_ps,
            )
        )
    n_types = len(types.keys)
    clus = np.zeros((nb, n_types))
    clus_n = np.zeros((nb, n_types))
    for k, stats_k in enumerate(block_clusters):
        for t, (n_c, d_c) in stats_k.items():
            clus[k, t] = n_c * d_c
            clus_n[k, t] = n_c

    # raw numbers per block → derived numbers with jackknife errors
    raw_tr = np.array(
        [
            [
                _slope_A2_ps(self_sum[k, s] / counts[sp], i0, i1, dt_ps) / 6.0
                for s, sp in enumerate(species)
            ]
            for k in range(nb)
        ]
    )
    raw_self_c = np.array(
        [
            [_slope_A2_ps(self_sum[k, s], c0, c1, dt_ps) / 6.0 for s in range(n_sp)]
            for k in range(nb)
        ]
    )
    raw_coll = np.array(
        [
            [_slope_A2_ps(coll[k, p], c0, c1, dt_ps) / 6.0 for p in range(len(pairs))]
            for k in range(nb)
        ]
    )
    raw = np.concatenate([raw_tr, raw_self_c, raw_coll, clus, volumes[:, None]], axis=1)
    m_idx = species.index(mobile)
    n_vec = np.array([counts[s] for s in species], dtype=np.float64)
    comp = np.array([types.composition(t) for t in range(n_types)]).reshape(n_types, n_sp)
    z_c = comp @ z_vec if n_types else np.zeros(0)
    layout = _Layout(n_sp, len(pairs), n_types)

    def derived(mean: np.ndarray) -> np.ndarray:
        tr, selfc, lam, nd, vol = layout.split(mean)
        pref = nernst_einstein_prefactor_S_cm(float(vol), temperature_K) * A2_PS_TO_CM2_S
        lam_m = np.zeros((n_sp, n_sp))
        for p, (i, j) in enumerate(pairs):
            lam_m[i, j] = lam_m[j, i] = lam[p]
        zz = np.outer(z_vec, z_vec)
        sigma_e = pref * float((zz * lam_m).sum())
        ne_terms = pref * n_vec * z_vec**2 * tr
        sigma_ne = float(ne_terms.sum())
        cne_terms = pref * z_c**2 * nd
        sigma_cne = float(cne_terms.sum())
        d_sigma = lam_m[m_idx, m_idx] / n_vec[m_idx]
        haven = selfc[m_idx] / lam_m[m_idx, m_idx]
        t_e = z_vec * (lam_m @ z_vec) / (zz * lam_m).sum()
        t_ne = ne_terms / sigma_ne
        t_cne = (
            (comp * z_vec[None, :] * (z_c * nd)[:, None]).sum(axis=0) / (z_c**2 * nd).sum()
            if n_types
            else np.full(n_sp, np.nan)
        )
        ons_tot = np.array([pref * zz[i, j] * lam_m[i, j] * (1 if i == j else 2) for i, j in pairs])
        ons_self = np.array([pref * z_vec[i] ** 2 * selfc[i] if i == j else 0.0 for i, j in pairs])
        return np.concatenate(
            [
                tr * A2_PS_TO_CM2_S,
                [d_sigma * A2_PS_TO_CM2_S, haven, sigma_e, sigma_ne, sigma_cne],
                t_e,
                t_ne,
                t_cne,
                ons_tot,
                ons_self,
                ons_tot - ons_self,
            ]
        )

    with np.errstate(divide="ignore", invalid="ignore"):
        value, err = jackknife(derived, raw)
    out = _Reader(value, err)
    lag_ps = np.arange(block) * dt_ps
    msd_curves = {s: self_sum[:, i].mean(axis=0) / counts[s] for i, s in enumerate(species)}
    species_res: dict[str, SpeciesTransport] = {}
    d_star = out.take(n_sp)
    for i, s in enumerate(species):
        lags = np.arange(max(i0, 1), i1 + 1)
        beta = float(np.nanmean(local_exponent(lags, msd_curves[s][lags])))
        species_res[s] = SpeciesTransport(
            d_star[i], (i0 * dt_ps, i1 * dt_ps), counts[s], charges[s], beta
        )
        if not beta > 0.5 and (onset_found or s != mobile):
            notes.append(
                f"{s}: no diffusive regime in the fit window (MSD exponent {beta:.2f}); its D* "
                f"({d_star[i].value:.3g} cm²/s) measures vibration or drift, not diffusion"
            )
    d_sigma, haven, s_e, s_ne, s_cne = out.take(5)
    t_e, t_ne, t_cne = out.take(n_sp), out.take(n_sp), out.take(n_sp)
    ons_tot, ons_self, ons_dist = out.take(len(pairs)), out.take(len(pairs)), out.take(len(pairs))
    onsager = {
        f"{species[i]}-{species[j]}": OnsagerEntry(ons_tot[p], ons_self[p], ons_dist[p])
        for p, (i, j) in enumerate(pairs)
    }
    mean_nd = clus.mean(axis=0)
    cluster_types = {
        types.name(t): {
            "charge": types.net_charge(t),
            "mean_count": float(clus_n[:, t].mean()),
            "n_times_D_A2_ps": float(mean_nd[t]),
        }
        for t in range(n_types)
    }
    if not np.isfinite(t_cne[0].value):
        notes.append("cluster-NE transference numbers are undefined: every cluster is neutral")
    for note in notes:
        _warnings.warn(note, stacklevel=3)
    return TransportResult(
        temperature_K=float(temperature_K),
        mobile=mobile,
        frame=frame,
        species=species_res,
        charge_diffusivity=d_sigma,
        haven_ratio=haven,
        conductivity=Conductivity(s_e, s_ne, s_cne),
        transference={
            "einstein": dict(zip(species, t_e, strict=True)),
            "nernst_einstein": dict(zip(species, t_ne, strict=True)),
            "cluster_nernst_einstein": dict(zip(species, t_cne, strict=True)),
        },
        onsager=onsager,
        warnings=tuple(notes),
        charges=charges,
        n_blocks=nb,
        block_ps=block * dt_ps,
        collective_window_ps=(c0 * dt_ps, c1 * dt_ps),
        cluster_cutoffs_A=cut_named,
        cluster_types=cluster_types,
        volume_A3=float(volumes.mean()),
        duration_ps=float(sum((s.n_frames - 1) * dt_ps for s in sources)),
        msd_lag_ps=lag_ps,
        msd_A2=msd_curves,
    )


@dataclass(frozen=True)
class _Layout:
    n_sp: int
    n_pairs: int
    n_types: int

    def split(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        a = self.n_sp
        b = a + self.n_sp
        c = b + self.n_pairs
        d = c + self.n_types
        return v[:a], v[a:b], v[b:c], v[c:d], float(v[d])


class _Reader:
    """Reads consecutive Estimates off the jackknife output vectors."""

    def __init__(self, value: np.ndarray, err: np.ndarray):
        self.value, self.err, self.pos = value, err, 0

    def take(self, n: int) -> list[Estimate]:
        sl = slice(self.pos, self.pos + n)
        self.pos += n
        return [
            Estimate(float(v), float(e)) for v, e in zip(self.value[sl], self.err[sl], strict=True)
        ]


def _cluster_cutoffs(
    src: _Source,
    species: list[str],
    mobile: str,
    charges: Mapping[str, float],
    given: Mapping[str, float] | None,
    notes: list[str],
) -> tuple[dict[tuple[int, int], float], dict[str, float]]:
    """Bond cutoffs between species numbers for the cluster analysis."""
    named: dict[str, float] = {}
    if given is not None:
        for key, rc in given.items():
            a, sep, b = key.partition("-")
            if not sep or a not in species or b not in species:
                raise InputError(
                    f"cluster cutoff key {key!r} must be 'A-B' with species present ({', '.join(species)})"
                )
            if not float(rc) > 0:
                raise InputError(f"cluster cutoff {key} must be positive, got {rc}")
            named[key] = float(rc)
    else:
        from solidion.structure.rdf import first_minimum, max_rdf_radius, rdf

        counter = [s for s in species if charges[s] * charges[mobile] < 0]
        frames = np.unique(np.linspace(0, src.n_frames - 1, min(20, src.n_frames)).astype(int))
        snap = Trajectory(src.symbols, src.frames(frames), src.cells[frames], 1.0)
        r_max = min(8.0, max_rdf_radius(snap.cells[0]))
        for c in counter:
            res = rdf(snap, mobile, c, r_max=r_max, n_bins=160)
            rc = first_minimum(res.r_A, res.g)
            if rc is None:
                notes.append(
                    f"g({mobile}-{c}) has no clear first shell; {mobile} and {c} form no clusters "
                    "in σ_cNE (set cluster_cutoffs to choose)"
                )
            else:
                named[f"{mobile}-{c}"] = rc
    pairs = {}
    for key, rc in named.items():
        a, _, b = key.partition("-")
        pairs[(species.index(a), species.index(b))] = rc
    return pairs, named

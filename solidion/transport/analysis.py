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

The framework frame multiplies L_mobile,mobile (so D_σ, and 1/H_R) by (1 + M_m/M_fw)² relative
to the barycentric frame, with M_m and M_fw the total masses of the mobile ions and of the
framework (1.11 for Li, 1.39 for Na, 1.71 for K in AMX₂.₅O₀.₇₅); the result carries that factor
(``frame_factor``) beside the frame, and comparisons must not mix frames.

**One fit window.** Every number — D* of each species, the collective (Onsager) slopes, and so
D_σ, σ_E, σ_NE, σ_cNE, H_R and the transference numbers — is fitted over one window of lags,
chosen once per call from the mobile ion's MSD (:func:`~solidion.transport.msd.choose_fit_window`):
from the diffusive onset (local exponent within 0.85–1.15) to half the shortest run. So the
reported D*/D_σ *is* the reported H_R, and σ_E/σ_NE compares like with like. In a diffusive
regime the slope is taken by GLS with the covariance of the all-origin MSD between lags; when the
MSD never becomes linear, from a tenth to half of the run with every lag weighted equally (the
apparent long-lag slope, as the established tools take it), with a warning.

**Uncertainty.** Every MSD averages over all time origins of the whole run. D* takes its error
from the spread of each ion's own slope over the window; collective slopes from the covariance of
their MSDs between lags, computed from the measured MSDs under Gaussian statistics
(:func:`~solidion.transport.estimate.msd_covariance`); ratios (H_R, transference numbers) get a
Fieller 68 % interval (``intervals``) and are reported only when their denominator is known to
30 %. A conductivity, diffusivity or Haven ratio that is not resolved from zero is withheld
(NaN, reason in ``warnings`` and ``withheld``), never reported as a negative number: it must lie
two standard errors above zero. Several runs
at one temperature are averaged, weighted by length.
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
from solidion.transport.clusters import (
    DEFINITIONS as CLUSTER_DEFINITIONS,
)
from solidion.transport.clusters import (
    ClusterTypes,
    bonded_species_pairs,
    cluster_block_statistics,
    default_definition,
    percolation_reasons,
)
from solidion.transport.estimate import (
    Estimate,
    Variogram,
    _finite_or_none,
    fieller_interval,
    form_covariance,
    gls_slope_weights,
    jackknife,
    msd_covariance,
    ols_slope_weights,
    t_factor,
)
from solidion.transport.msd import (
    DIFFUSIVE_BAND,
    FitWindow,
    ballistic_frame_interval_fs,
    choose_fit_window,
    cross_msd_fft,
    diffusive_onset,
    local_exponent,
    msd_fft,
    msd_fft_particles,
    resolved_lag,
    window_lags,
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
    Every number comes from the one window ``fit_window_ps`` (slope weights ``fit_weights``:
    ``"GLS"`` in a diffusive regime, ``"OLS"`` when the MSD never became linear); ``frame`` is
    the reference frame of D*, D_σ, H_R and the transference numbers, ``frame_species`` the
    species whose centre of mass defines it and ``frame_factor`` = (1 + M_m/M_fw)² the factor on
    L_mm (D_σ) relative to the barycentric frame. ``intervals`` holds the Fieller 68 % intervals
    of the ratios (keys ``haven_ratio``, ``transference.einstein.Li``, …); ``withheld`` the
    quantities the run cannot determine, with the reason (their values are NaN).
    MSD curves (``msd_lag_ps``, ``msd_A2``) and the cluster types are kept for plots and reports
    but are not part of the JSON. The cluster definition used for σ_cNE (``cluster_definition``:
    ``"metal-centred"``, ``"mobile-anion"``, ``"custom"`` or ``"none"``), its bond cutoffs and
    the reasons σ_cNE and t^cNE were withheld (``cluster_withheld``, empty when they stand) are
    in the JSON under ``clusters``.
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
    fit_window_ps: tuple[float, float]
    fit_weights: str
    diffusive_onset_ps: float | None
    n_runs: int
    frame_species: tuple[str, ...]
    frame_factor: float
    intervals: dict[str, tuple[float, float]]
    withheld: dict[str, str]
    cluster_cutoffs_A: dict[str, float]
    cluster_types: dict[str, dict[str, float]]
    cluster_definition: str
    cluster_withheld: tuple[str, ...]
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
            "reference_frame": {
                "name": self.frame,
                "species": list(self.frame_species),
                "mobile_collective_factor_vs_barycentric": _finite_or_none(self.frame_factor),
            },
            "fit_window_ps": [float(x) for x in self.fit_window_ps],
            "fit_weights": self.fit_weights,
            "diffusive_onset_ps": self.diffusive_onset_ps,
            "species": {s: v.to_dict() for s, v in self.species.items()},
            "charge_diffusivity_cm2_s": self.charge_diffusivity.to_dict(),
            "haven_ratio": self.haven_ratio.to_dict(),
            "conductivity_S_cm": self.conductivity.to_dict(),
            "transference": {
                k: {s: e.to_dict() for s, e in v.items()} for k, v in self.transference.items()
            },
            "onsager_S_cm": {k: v.to_dict() for k, v in self.onsager.items()},
            "intervals_68": {k: [float(x) for x in v] for k, v in self.intervals.items()},
            "withheld": dict(self.withheld),
            "clusters": {
                "definition": self.cluster_definition,
                "cutoffs_A": dict(self.cluster_cutoffs_A),
                "withheld_because": list(self.cluster_withheld),
            },
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
    cluster_cutoffs: Mapping[str, float] | None = None,
    cluster_definition: str = "auto",
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
        fit_window_ps: The fit window (first and last lag in ps, at most half the shortest run)
            instead of the automatic one; it is used for every quantity.
        cluster_cutoffs: ``{"Al-Cl": 3.0, ...}`` bond cutoffs (Å) defining clusters for σ_cNE
            instead of a built-in definition; ``{}`` means no clusters (every ion free).
        cluster_definition: Bonds of the built-in clusters, each cut at the first g(r)
            minimum (:mod:`solidion.transport.clusters`): ``"metal-centred"`` (framework
            cations of charge ≥ +3 with the anions; the mobile ion free), ``"mobile-anion"``
            (the mobile ion with every counter-ion, France-Lanord & Grossman's ion pairs) or
            ``"auto"`` (default): metal-centred where the composition has a framework cation,
            else mobile-anion. Clusters that percolate withhold σ_cNE and t^cNE (NaN + warning).
        cluster_origins: Time origins per group for the cluster analysis (four groups per
            run).
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
    if cluster_definition not in ("auto", *CLUSTER_DEFINITIONS):
        raise InputError(
            f"cluster_definition must be 'auto' or one of {', '.join(CLUSTER_DEFINITIONS)}, "
            f"got {cluster_definition!r}"
        )
    if cluster_cutoffs is not None and cluster_definition != "auto":
        raise InputError(
            "give cluster_cutoffs (your own bonds) or cluster_definition (a built-in one), not both"
        )
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
            cluster_cutoffs,
            cluster_origins,
            max_memory_mb,
            cluster_definition=cluster_definition,
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
    max_memory_mb: float | None = None,
) -> SpeciesTransport:
    """Tracer diffusivity D* of one species only — the fast path of :func:`analyze`.

    Same reference frame, fit window, slope weights and error bar as :func:`analyze` (with
    ``species`` as the mobile ion), without the collective, Onsager and cluster work. The framework is all
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
    cluster_cutoffs: Mapping[str, float] | None,
    cluster_origins: int,
    max_memory_mb: float | None,
    tracer_only: bool = False,
    cluster_definition: str = "auto",
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

    # one fit window for every quantity, and the weights of the slope over it
    window = _fit_window(
        full_msd, n_min, mobile_idx.size * len(sources), fit_window_ps, dt_ps, mobile, notes
    )
    lags = window.lags
    i0, i1 = window.start, window.end
    weights, weights_kind = _slope_weights(full_msd, window, n_min, dt_ps)
    run_w = np.array([s.n_frames for s in sources], dtype=np.float64)
    run_w /= run_w.sum()

    # pass 2: every ion's own all-origin MSD at the window lags (centred on the reference frame)
    n_sp = len(species)
    ion_slopes = {s: np.zeros(counts[s]) for s in species}  # Å²/ps, run-weighted
    curve_sum = {s: np.zeros(n_min) for s in species}
    for si, src in enumerate(sources):
        for s in species:
            if tracer_only and s != mobile:
                continue
            idx = np.flatnonzero(symbols == s)
            for start in range(0, idx.size, chunk):
                x = src.atoms(idx[start : start + chunk])
                mean, per = msd_fft_particles(x, lags, shift=drifts[si], chunk=chunk)
                curve_sum[s] += mean[:n_min] * x.shape[1] / len(sources)
                ion_slopes[s][start : start + x.shape[1]] += run_w[si] * (weights @ per)
                del x
    msd_curves = {s: curve_sum[s] / counts[s] for s in species}
    tracer = {
        s: _tracer_slope(ion_slopes[s], msd_curves[s], window, weights, n_min, dt_ps, len(sources))
        for s in species
        if not tracer_only or s == mobile
    }

    if tracer_only:
        d, var = tracer[mobile]
        est = Estimate(float(d * A2_PS_TO_CM2_S), float(np.sqrt(var) * A2_PS_TO_CM2_S))
        beta = _window_exponent(msd_curves[mobile], lags)
        reason = _positive_reason(est, "cm²/s")
        if reason:
            notes.append(f"{mobile}: D* not determined: the MSD slope {reason}")
            est = _UNDETERMINED
        for note in notes:
            _warnings.warn(note, stacklevel=3)
        return SpeciesTransport(
            est, (i0 * dt_ps, i1 * dt_ps), counts[mobile], charges[mobile], beta
        )

    # collective displacements: per-axis cross-MSD of every species pair, slopes and covariance
    pairs = [(i, j) for i in range(n_sp) for j in range(i, n_sp)]
    lam, lam_cov = _collective_slopes(
        [
            np.stack([sums[si][s] - counts[s] * drifts[si] for s in species], axis=1)
            for si in range(len(sources))
        ],
        pairs,
        window,
        weights,
        run_w,
        dt_ps,
    )
    run_volumes = np.array([float(np.abs(np.linalg.det(s.cells)).mean()) for s in sources])
    volume = float(run_w @ run_volumes)

    # cluster statistics (for σ_cNE): the lags of the window that carry its slope, and time
    # origins in four disjoint groups per run (the groups of the jackknife)
    n_groups = 4
    reach = int(_cluster_lags(lags, weights, weights_kind)[-1])
    span = max(1, (n_min - reach) // n_groups)  # frames of origins per group
    block = span + reach  # frames a group's displacements reach
    runs_blocks = [
        (si, g * span) for si, s in enumerate(sources) for g in range((s.n_frames - reach) // span)
    ]
    nb = len(runs_blocks)

    # cluster statistics (for σ_cNE)
    masses_all = np.array([atomic_masses[atomic_numbers[s]] for s in first.symbols])
    species_index = np.array([species.index(s) for s in first.symbols])
    z_vec = np.array([charges[s] for s in species])
    cut_pairs, cut_named, cluster_def = _cluster_cutoffs(
        sources[0], species, mobile, charges, cluster_cutoffs, cluster_definition, notes
    )
    types = ClusterTypes(tuple(species), z_vec)
    lags_c = _cluster_lags(lags, weights, weights_kind)
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
                species.index(mobile),
            )
        )
    n_types = len(types.keys)
    clus = np.zeros((nb, n_types))
    clus_n = np.zeros((nb, n_types))
    for k, stats_k in enumerate(block_clusters):
        for t, (n_c, d_c) in stats_k.types.items():
            clus[k, t] = n_c * d_c
            clus_n[k, t] = n_c
    cluster_withheld: tuple[str, ...] = ()
    if cut_pairs:  # percolation checks over every sampled origin of every run
        cluster_withheld = percolation_reasons(
            np.concatenate(
                [
                    np.full(b.origins.size, si)
                    for (si, _), b in zip(runs_blocks, block_clusters, strict=True)
                ]
            ),
            np.concatenate([b.origins for b in block_clusters]),
            [s.n_frames for s in sources],
            np.concatenate([b.wrap_dimension for b in block_clusters]),
            np.concatenate([b.largest_mobile for b in block_clusters]),
            np.concatenate([b.membership for b in block_clusters]),
            counts[mobile],
            mobile,
        )

    # the numbers, each fitted over the one window, with their covariances
    m_idx = species.index(mobile)
    n_vec = np.array([counts[s] for s in species], dtype=np.float64)
    pref = nernst_einstein_prefactor_S_cm(volume, temperature_K) * A2_PS_TO_CM2_S
    tr = np.array([tracer[s][0] for s in species])  # D* in Å²/ps
    tr_var = np.array([tracer[s][1] for s in species])
    zz_pairs = np.array([z_vec[i] * z_vec[j] * (1.0 if i == j else 2.0) for i, j in pairs])
    p_mm = pairs.index((m_idx, m_idx))

    def linear(g: np.ndarray) -> tuple[float, float]:
        """Value and variance of Σ g_p Λ_p (collective slopes); a variance below zero is
        rounding of an exactly zero one (a species that does not move)."""
        return float(g @ lam), max(float(g @ lam_cov @ g), 0.0)

    s_e_val, s_e_var = linear(pref * zz_pairs)
    ne_terms = pref * n_vec * z_vec**2 * tr
    ne_vars = (pref * n_vec * z_vec**2) ** 2 * tr_var
    s_ne_val, s_ne_var = float(ne_terms.sum()), float(ne_vars.sum())
    d_sig_val, d_sig_var = lam[p_mm] / n_vec[m_idx], lam_cov[p_mm, p_mm] / n_vec[m_idx] ** 2
    cm2 = A2_PS_TO_CM2_S
    d_star = {
        s: Estimate(float(tr[i] * cm2), float(np.sqrt(tr_var[i]) * cm2))
        for i, s in enumerate(species)
    }
    d_sigma = Estimate(float(d_sig_val * cm2), float(np.sqrt(d_sig_var) * cm2))
    s_e = Estimate(s_e_val, float(np.sqrt(s_e_var)))
    s_ne = Estimate(s_ne_val, float(np.sqrt(s_ne_var)))
    withheld: dict[str, str] = {}
    intervals: dict[str, tuple[float, float]] = {}

    species_res: dict[str, SpeciesTransport] = {}
    for s in species:
        beta = _window_exponent(msd_curves[s], lags)
        est = d_star[s]
        reason = _positive_reason(est, "cm²/s")
        if reason:
            vib = (
                f" (MSD exponent {beta:.2f}: the ions vibrate but do not diffuse)"
                if beta < 0.5
                else ""
            )
            withheld[f"D*({s})"] = (
                f"{s}: no diffusive regime in the fit window; D* not determined: the MSD slope {reason}{vib}"
            )
            est = _UNDETERMINED
        elif not beta > 0.5 and (window.diffusive or s != mobile):
            notes.append(
                f"{s}: no diffusive regime in the fit window (MSD exponent {beta:.2f}); its D* "
                f"({est.value:.3g} cm²/s) measures vibration or drift, not diffusion"
            )
        species_res[s] = SpeciesTransport(
            est, (i0 * dt_ps, i1 * dt_ps), counts[s], charges[s], beta
        )

    reason = _positive_reason(d_sigma, "cm²/s")
    if reason:
        withheld["D_sigma"] = (
            f"D_σ({mobile}) not determined: the slope of the collective {mobile} MSD {reason}"
            + _longer(d_sigma, d_star[mobile].value)
        )
    # H_R = D*/D_σ over the one window; a Fieller interval, undefined when D_σ is too noisy.
    # D* and D_σ share the self terms: for independent Gaussian ions Cov(D*, D_σ) = Var(D*).
    if f"D*({mobile})" in withheld:
        withheld["H_R"] = f"H_R not determined: D*({mobile}) is not determined"
        haven = _UNDETERMINED
    else:
        haven = _ratio(
            "H_R",
            tr[m_idx],
            d_sig_val,
            tr_var[m_idx],
            d_sig_var,
            float(min(tr_var[m_idx], np.sqrt(tr_var[m_idx] * d_sig_var))),
            withheld,
            intervals,
            key="haven_ratio",
            denominator=f"D_σ({mobile})",
            require_positive=True,
        )
    reason = _positive_reason(s_e, "S/cm")
    if reason:
        withheld["sigma_E"] = (
            "σ_E not determined: the slope of the charge MSD " + reason + _longer(s_e, s_ne.value)
        )
    reason = _positive_reason(s_ne, "S/cm")
    if reason:
        withheld["sigma_NE"] = "σ_NE not determined: Σ N z² D* " + reason
    # transference numbers: ratios to σ_E (Einstein) and σ_NE (Nernst–Einstein)
    g_den = pref * zz_pairs
    t_e, t_ne = [], []
    for i, s in enumerate(species):
        g_num = pref * _row_coefficients(i, pairs, z_vec)
        t_e.append(
            _ratio(
                f"t_E({s})",
                float(g_num @ lam),
                s_e_val,
                float(g_num @ lam_cov @ g_num),
                s_e_var,
                float(g_num @ lam_cov @ g_den),
                withheld,
                intervals,
                key=f"transference.einstein.{s}",
                denominator="σ_E",
            )
        )
        t_ne.append(
            _ratio(
                f"t_NE({s})",
                float(ne_terms[i]),
                s_ne_val,
                float(ne_vars[i]),
                s_ne_var,
                float(ne_vars[i]),
                withheld,
                intervals,
                key=f"transference.nernst_einstein.{s}",
                denominator="σ_NE",
            )
        )
    t_e, note = _einstein_transference_in_range(species, t_e, intervals, withheld)
    if note:
        notes.append(note)
    ons_tot = [
        linear(pref * z_vec[i] * z_vec[j] * (1.0 if i == j else 2.0) * _unit(p, len(pairs)))
        for p, (i, j) in enumerate(pairs)
    ]
    ons_self = [(float(ne_terms[i]), float(ne_vars[i])) if i == j else (0.0, 0.0) for i, j in pairs]
    onsager = {
        f"{species[i]}-{species[j]}": OnsagerEntry(
            Estimate(ons_tot[p][0], float(np.sqrt(ons_tot[p][1]))),
            Estimate(ons_self[p][0], float(np.sqrt(ons_self[p][1]))),
            Estimate(
                ons_tot[p][0] - ons_self[p][0], float(np.sqrt(ons_tot[p][1] + ons_self[p][1]))
            ),
        )
        for p, (i, j) in enumerate(pairs)
    }

    # σ_cNE and t^cNE from the cluster statistics (delete-one-group jackknife)
    comp = np.array([types.composition(t) for t in range(n_types)]).reshape(n_types, n_sp)
    z_c = comp @ z_vec if n_types else np.zeros(0)

    def cne(mean: np.ndarray) -> np.ndarray:
        nd = mean
        sigma_cne = float((pref * z_c**2 * nd).sum())
        t_cne = (
            (comp * z_vec[None, :] * (z_c * nd)[:, None]).sum(axis=0) / (z_c**2 * nd).sum()
            if n_types
            else np.full(n_sp, np.nan)
        )
        return np.concatenate([[sigma_cne], t_cne])

    if nb >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            cne_val, cne_err = jackknife(cne, clus)
    else:
        cne_val = cne(clus.mean(axis=0))
        cne_err = np.full(cne_val.shape, np.nan)
    s_cne = Estimate(float(cne_val[0]), float(cne_err[0]))
    t_cne = [Estimate(float(v), float(e)) for v, e in zip(cne_val[1:], cne_err[1:], strict=True)]
    mean_nd = clus.mean(axis=0)
    cluster_types = {
        types.name(t): {
            "charge": types.net_charge(t),
            "mean_count": float(clus_n[:, t].mean()),
            "n_times_D_A2_ps": float(mean_nd[t]),
        }
        for t in range(n_types)
    }
    if cluster_withheld:
        undefined = Estimate(float("nan"), float("nan"))
        s_cne, t_cne = undefined, [undefined] * n_sp
        bonds = ", ".join(f"{k} < {v:.2f} Å" for k, v in cut_named.items())
        withheld["sigma_cNE"] = (
            f"σ_cNE and t^cNE withheld: the {cluster_def} clusters ({bonds}) percolate — "
            + "; ".join(cluster_withheld)
            + ". Such clusters are not independent carriers (the cluster Nernst–Einstein picture "
            "assumes dilute ion pairs)"
            + (
                "; try cluster_definition='metal-centred'"
                if cluster_def == "mobile-anion"
                and bonded_species_pairs("metal-centred", species, charges, mobile)
                else ""
            )
        )
    elif not np.isfinite(t_cne[0].value):
        notes.append("cluster-NE transference numbers are undefined: every cluster is neutral")
    else:
        # a species that only ever occurs as a free ion has 0 ≤ t^cNE ≤ 1 unless some N_c·D_c < 0
        bad = _free_ion_out_of_bounds(species, comp, t_cne)
        if bad:
            neg = [types.name(t) for t in range(n_types) if z_c[t] != 0 and mean_nd[t] < 0]
            withheld["t_cNE"] = (
                f"t^cNE withheld: {bad}, outside [0, 1], which a free ion's transference number "
                "cannot be unless a cluster's N·D is negative"
                + (
                    f"; here {', '.join(neg)} {'has' if len(neg) == 1 else 'have'} N·D < 0: "
                    "their centre-of-mass diffusion is not resolved in this run"
                    if neg
                    else ""
                )
            )
            t_cne = [Estimate(float("nan"), float("nan"))] * n_sp
    if np.isfinite(s_cne.value):
        reason = _positive_reason(s_cne, "S/cm")
        if reason:
            withheld["sigma_cNE"] = "σ_cNE not determined: Σ z_c² N_c D_c " + reason
    if "D_sigma" in withheld:
        d_sigma = _UNDETERMINED
    if "sigma_E" in withheld:
        s_e = _UNDETERMINED
    if "sigma_NE" in withheld:
        s_ne = _UNDETERMINED
    if "sigma_cNE" in withheld:
        s_cne = _UNDETERMINED
    notes.extend(withheld.values())
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
        fit_window_ps=(i0 * dt_ps, i1 * dt_ps),
        fit_weights=weights_kind,
        diffusive_onset_ps=None if window.onset is None else window.onset * dt_ps,
        n_runs=len(sources),
        frame_species=tuple(ref_species),
        frame_factor=_frame_factor(frame, species, counts, mobile, ref_species),
        intervals=intervals,
        withheld=withheld,
        cluster_cutoffs_A=cut_named,
        cluster_types=cluster_types,
        cluster_definition=cluster_def,
        cluster_withheld=cluster_withheld,
        volume_A3=volume,
        duration_ps=float(sum((s.n_frames - 1) * dt_ps for s in sources)),
        msd_lag_ps=np.arange(n_min) * dt_ps,
        msd_A2=msd_curves,
    )


#: An estimate the run cannot determine (reported as null, with the reason among the warnings).
_UNDETERMINED = Estimate(float("nan"), float("nan"))
#: A transference number outside [0, 1] by more than this many standard errors is a result
#: (correlated motion); closer, it is noise and withheld.
RESOLVED_SIGMAS = 2.0
#: A ratio (H_R, t_i) is reported only when its denominator is known to this relative error.
MAX_DENOMINATOR_REL_ERR = 0.3
#: A positive quantity (σ, D, H_R) is reported only this many standard errors above zero.
RESOLVED_SIGMAS = 2.0
#: Ions of a species needed to take D*'s error from the spread of their own slopes.
MIN_IONS_FOR_SPREAD = 10


def _fit_window(
    full_msd: np.ndarray,
    n_min: int,
    n_sampled: int,
    fit_window_ps: tuple[float, float] | None,
    dt_ps: float,
    mobile: str,
    notes: list[str],
) -> FitWindow:
    """The one fit window: automatic (:func:`choose_fit_window`) or the given lags."""
    limit = (n_min - 1) // 2
    if fit_window_ps is None:
        window = choose_fit_window(full_msd, n_min, n_sampled)
    else:
        lo_ps, hi_ps = (float(v) for v in fit_window_ps)
        if not 0 < lo_ps < hi_ps:
            raise InputError(
                f"fit_window_ps must be (start, end) with 0 < start < end, got {fit_window_ps}"
            )
        i0, i1 = max(1, int(round(lo_ps / dt_ps))), int(round(hi_ps / dt_ps))
        if i1 > limit:
            raise InputError(
                f"fit_window_ps ends at {hi_ps:g} ps, beyond half the shortest run "
                f"({limit * dt_ps:.4g} ps), where fewer than two independent displacements per "
                "ion remain; choose a shorter window"
            )
        if i1 - i0 < 2:
            raise InputError(f"fit_window_ps {fit_window_ps} spans fewer than three frames")
        last = min(n_min // 4, max(8, resolved_lag(n_min, n_sampled)))
        onset = diffusive_onset(full_msd[:n_min], last_lag=last)
        window = FitWindow(
            window_lags(i0, i1), onset if onset is not None and onset <= i0 else None, limit
        )
    if window.onset is None:
        lo, hi = window.start * dt_ps, window.end * dt_ps
        notes.append(
            f"{mobile}: no diffusive regime found in {(n_min - 1) * dt_ps:.3g} ps (the local "
            f"exponent of the MSD never settles within {DIFFUSIVE_BAND[0]}–{DIFFUSIVE_BAND[1]}); "
            f"every number is the average slope over the lags {lo:.3g}–{hi:.3g} ps, an apparent "
            "value, not a converged diffusivity — run longer"
        )
    return window


def _isotropic_variogram(curve: np.ndarray, window: FitWindow, slope_per_frame: float) -> Variogram:
    """Per-axis variogram of one ion from its MSD: measured to the window start, then linear."""
    short = np.broadcast_to(curve[: window.start + 1] / 3.0, (3, 1, 1, window.start + 1))
    return Variogram(short, np.full((3, 1, 1), max(slope_per_frame, 0.0) / 3.0))


def _slope_weights(
    full_msd: np.ndarray, window: FitWindow, n_min: int, dt_ps: float
) -> tuple[np.ndarray, str]:
    """Slope weights over the window lags (per ps): GLS in a diffusive regime, else OLS.

    GLS uses the covariance between lags of the mobile ion's all-origin MSD (Gaussian model,
    :func:`~solidion.transport.estimate.msd_covariance`); it is unbiased when the MSD is linear
    over the window and several times more precise than OLS. When the MSD is still curved
    (no diffusive regime), GLS would take the steeper slope at the start of the window, so
    every lag counts the same (OLS), as in the established tools.
    """
    t = window.lags * dt_ps
    ols = ols_slope_weights(t)
    if not window.diffusive:
        return ols, "OLS"
    curve = full_msd[:n_min]
    model = _isotropic_variogram(curve, window, float(ols @ curve[window.lags]) * dt_ps)
    cov = 2.0 * msd_covariance(model, window.lags, n_min)[:, :, 0, 0, 0, 0]
    return gls_slope_weights(t, cov), "GLS"


def _tracer_slope(
    ion_slopes: np.ndarray,
    curve: np.ndarray,
    window: FitWindow,
    weights: np.ndarray,
    n_min: int,
    dt_ps: float,
    n_runs: int,
) -> tuple[float, float]:
    """D* (Å²/ps) and its variance from each ion's own slope over the window.

    With ``MIN_IONS_FOR_SPREAD`` ions or more the error is the spread of the ions' slopes (no
    model of the MSD's covariance between lags, non-Gaussian hops included), times the Student
    factor of :func:`~solidion.transport.estimate.t_factor`; with fewer, the Gaussian model of
    one ion's MSD covariance.
    """
    n = ion_slopes.size
    d = float(ion_slopes.mean()) / 6.0
    if n >= MIN_IONS_FOR_SPREAD:
        se = float(ion_slopes.std(ddof=1)) / np.sqrt(n) * t_factor(n)
        return d, (se / 6.0) ** 2
    slope = float(weights @ curve[window.lags]) * dt_ps
    kernel = msd_covariance(_isotropic_variogram(curve, window, slope), window.lags, n_min)
    var = 2.0 * float(weights @ kernel[:, :, 0, 0, 0, 0] @ weights) / n / n_runs
    return d, var / 36.0


def _cluster_lags(lags: np.ndarray, weights: np.ndarray, kind: str) -> np.ndarray:
    """Lags of the cluster diffusivities: where the window's slope weights lie.

    The cluster statistics fit their own line through a few lags, so they take the part of the
    window that carries the slope: with GLS weights the lags up to 90 % of the summed absolute
    weight (at least three), with OLS six lags across the whole window.
    """
    if kind != "GLS":
        return np.unique(np.round(np.linspace(lags[0], lags[-1], 6)).astype(np.intp))
    share = np.cumsum(np.abs(weights)) / np.abs(weights).sum()
    k = max(3, int(np.searchsorted(share, 0.9)) + 1)
    return np.unique(np.round(np.linspace(lags[0], lags[min(k, lags.size) - 1], 6)).astype(np.intp))


def _window_exponent(curve: np.ndarray, lags: np.ndarray) -> float:
    """Mean local exponent d ln MSD / d ln t over the window lags."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nanmean(local_exponent(lags, curve[lags])))


def _collective_slopes(
    runs: Sequence[np.ndarray],
    pairs: Sequence[tuple[int, int]],
    window: FitWindow,
    weights: np.ndarray,
    run_w: np.ndarray,
    dt_ps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Slopes/6 of the collective cross-MSDs ⟨ΔR_i·ΔR_j⟩ (Å²/ps) and their covariance.

    Args:
        runs: Per run, the summed (drift-corrected) positions of each species (n, P, 3).
        pairs: Species pairs (i ≤ j).
        window: The fit window.
        weights: Slope weights over its lags (per ps).
        run_w: Weight of each run in the average.
        dt_ps: Time between frames.

    Returns:
        ``(lam, cov)``: (F,) and (F, F) for the F pairs. The covariance is the Gaussian
        model of :func:`~solidion.transport.estimate.msd_covariance`, with the per-axis
        cross-variograms measured up to the window start and continued with the fitted slopes
        (their matrix made positive semi-definite, as a valid variogram's must be).
    """
    lags, i0 = window.lags, window.start
    n_sp = runs[0].shape[1]
    lam = np.zeros(len(pairs))
    g_short = np.zeros((3, n_sp, n_sp, i0 + 1))
    g_slope = np.zeros((3, n_sp, n_sp))
    for r, pos in enumerate(runs):
        for p, (i, j) in enumerate(pairs):
            c = cross_msd_fft(pos[:, i], None if i == j else pos[:, j], per_axis=True)
            axis_slope = weights @ c[lags]  # (3,) Å²/ps
            lam[p] += run_w[r] * float(axis_slope.sum()) / 6.0
            g_short[:, i, j] += run_w[r] * c[: i0 + 1].T
            g_slope[:, i, j] += run_w[r] * axis_slope * dt_ps
            if i != j:
                g_short[:, j, i] = g_short[:, i, j]
                g_slope[:, j, i] = g_slope[:, i, j]
    evals, evecs = np.linalg.eigh(g_slope)
    g_psd = np.einsum("xab,xb,xcb->xac", evecs, np.clip(evals, 0.0, None), evecs)
    model = Variogram(g_short, g_psd)
    forms = np.zeros((len(pairs), 2, n_sp))
    for p, (i, j) in enumerate(pairs):
        forms[p, 0, i] = forms[p, 1, j] = 1.0
    cov = np.zeros((len(pairs), len(pairs)))
    lengths = np.array([pos.shape[0] for pos in runs])
    for n in np.unique(lengths):
        kernel = msd_covariance(model, lags, int(n))
        share = float((run_w[lengths == n] ** 2).sum())
        cov += share * form_covariance(kernel, weights, forms) / 36.0
    return lam, cov


def _positive_reason(est: Estimate, unit: str = "") -> str | None:
    """Why a quantity that must be positive is not determined, or None when it is."""
    u = f" {unit}" if unit else ""
    if not np.isfinite(est.value):
        return "could not be computed"
    if est.value <= 0:
        return f"is not positive ({est.value:.3g} ± {est.stderr:.3g}{u})"
    if est.value < RESOLVED_SIGMAS * est.stderr:
        return (
            f"is consistent with zero ({est.value:.3g} ± {est.stderr:.3g}{u}, less than "
            f"{RESOLVED_SIGMAS:g} standard errors)"
        )
    return None


def _times(k: float) -> str:
    return f"{k:.1f}" if k < 10 else f"{k:.0f}"


def _longer(est: Estimate, reference: float) -> str:
    """'; a run k× longer would resolve it …': the error falls as 1/√(run length) at a fixed
    window start, and the size of the quantity is its own value, or ``reference`` (its
    uncorrelated expectation, e.g. σ_NE for σ_E) when the value is not positive."""
    size = est.value if est.value > 0 else reference
    if not (np.isfinite(est.stderr) and np.isfinite(size) and size > 0):
        return ""
    k = (est.stderr / (MAX_DENOMINATOR_REL_ERR * size)) ** 2
    return f"; a run ≈{_times(k)}× longer would resolve it to ±30 %" if k > 1 else ""


def _ratio(
    name: str,
    a: float,
    b: float,
    var_a: float,
    var_b: float,
    cov_ab: float,
    withheld: dict[str, str],
    intervals: dict[str, tuple[float, float]],
    *,
    key: str,
    denominator: str,
    require_positive: bool = False,
) -> Estimate:
    """a/b with a Fieller 68 % interval; undetermined when b is not known to 30 %.

    The value is a/b of the reported numbers (so H_R is exactly D*/D_σ); the stderr is half the
    Fieller interval, which is stored in ``intervals`` under ``key``.
    """
    group = name.split("(")[0]
    rel = np.sqrt(var_b) / b if b > 0 else np.inf
    if not rel <= MAX_DENOMINATOR_REL_ERR:
        if group not in withheld:
            known = f"known only to ±{rel:.0%}" if np.isfinite(rel) else "not positive"
            k = (rel / MAX_DENOMINATOR_REL_ERR) ** 2
            longer = f"; a run ≈{_times(k)}× longer would resolve it" if np.isfinite(rel) else ""
            what = {
                "H_R": "H_R",
                "t_E": "Einstein transference numbers",
                "t_NE": "NE transference numbers",
            }.get(group, group)
            withheld[group] = (
                f"{what} not determined: {denominator} is {known} (a ratio needs it to "
                f"±{MAX_DENOMINATOR_REL_ERR:.0%}){longer}"
            )
        return _UNDETERMINED
    interval = fieller_interval(a, b, var_a, var_b, cov_ab, z=1.0)
    value = a / b
    if interval is None or (require_positive and not interval[0] > 0):
        if group not in withheld:
            withheld[group] = (
                f"{name} not determined: its numerator is consistent with zero ({a:.3g} ± {np.sqrt(var_a):.3g})"
            )
        return _UNDETERMINED
    intervals[key] = interval
    return Estimate(float(value), float(interval[1] - interval[0]) / 2.0)


def _row_coefficients(i: int, pairs: Sequence[tuple[int, int]], z: np.ndarray) -> np.ndarray:
    """Coefficients c_p with Σ_p c_p Λ_p = z_i Σ_j z_j Λ_ij over the pair slopes (p ≤ q, each
    symmetric pair counted once): the numerator of the Einstein transference number t_i."""
    return np.array(
        [
            (z[i] * z[q] if p == i else 0.0) + (z[i] * z[p] if q == i and p != q else 0.0)
            for p, q in pairs
        ]
    )


def _unit(p: int, n: int) -> np.ndarray:
    e = np.zeros(n)
    e[p] = 1.0
    return e


def _frame_factor(
    frame: str, species: Sequence[str], counts: Mapping[str, int], mobile: str, ref: Sequence[str]
) -> float:
    """(1 + M_mobile/M_framework)²: the factor on L_mobile,mobile (and so on D_σ, 1/H_R) of the
    framework frame relative to the barycentric one; 1 for barycentric, NaN for lab or a
    framework that is not every other species (then there is no closed form)."""
    if frame == "barycentric":
        return 1.0
    if frame != "framework" or set(ref) != set(species) - {mobile}:
        return float("nan")
    mass = {s: float(atomic_masses[atomic_numbers[s]]) * counts[s] for s in species}
    m_fw = sum(mass[s] for s in ref)
    return (1.0 + mass[mobile] / m_fw) ** 2


def _free_ion_out_of_bounds(
    species: list[str], comp: np.ndarray, t_cne: Sequence[Estimate]
) -> str | None:
    """``t_Li^cNE = 1.12 ± 0.05`` for a species met only as a free ion whose t^cNE lies outside
    [0, 1] by more than twice its error and more than 0.01; None when there is none."""
    for i, s in enumerate(species):
        holds = comp[:, i] > 0
        if not holds.any() or np.any(comp[holds].sum(axis=1) != 1):
            continue
        t = t_cne[i]
        tol = max(2.0 * t.stderr, 0.01) if np.isfinite(t.stderr) else 0.01
        if np.isfinite(t.value) and not -tol <= t.value <= 1.0 + tol:
            return f"t_{s}^cNE = {t:.3g}"
    return None


def _einstein_transference_in_range(
    species: list[str],
    t_e: list[Estimate],
    intervals: dict[str, tuple[float, float]],
    withheld: dict[str, str],
) -> tuple[list[Estimate], str | None]:
    """Withhold Einstein transference numbers whose value leaves [0, 1] only by noise.

    t_i^E = z_i Σ_j z_j L_ij / Σ_kl z_k z_l L_kl may lie outside [0, 1] in a concentrated
    electrolyte: strongly correlated cation–anion motion makes a "negative transference number"
    (measured in polymer and ionic-liquid electrolytes; Pesko et al., J. Electrochem. Soc. 164,
    E3569 (2017); Fong et al., ACS Cent. Sci. 5, 1250 (2019)). Such a value is a result only when
    it lies outside [0, 1] by more than :data:`RESOLVED_SIGMAS` (2) half-widths of its 68 %
    Fieller interval — about a 95 % test; a 68 % interval alone excludes the boundary in one
    run of three by chance. Otherwise the sign or the excess over one is noise: a framework
    species that does not move has t^E = 0 exactly and lands below zero in half of all runs.
    Each such value is withheld (NaN, its interval dropped) with the value and interval in the
    reason; the other species keep theirs. A resolved value outside [0, 1] is kept, with a note.

    Returns:
        The transference numbers (NaN where withheld) and a note for a resolved value outside
        [0, 1] (or None).
    """
    out, noisy, resolved = list(t_e), [], []
    for i, (s, t) in enumerate(zip(species, t_e, strict=True)):
        key = f"transference.einstein.{s}"
        if not np.isfinite(t.value) or key not in intervals or 0.0 <= t.value <= 1.0:
            continue
        lo, hi = intervals[key]
        bound = 0 if t.value < 0.0 else 1
        text = f"t_E({s}) = {t.value:.3g} (68 % interval {lo:.3g} … {hi:.3g})"
        excess = -t.value if t.value < 0.0 else t.value - 1.0
        if excess > RESOLVED_SIGMAS * t.stderr:
            resolved.append(text)
        else:
            noisy.append(f"{text}, consistent with {bound}")
            out[i] = _UNDETERMINED
            del intervals[key]
    if noisy:
        withheld.setdefault(
            "t_E",
            "Einstein transference number withheld: "
            + "; ".join(noisy)
            + f" — outside [0, 1] by less than {RESOLVED_SIGMAS:g}σ, so the sign or the excess "
            "over one is noise of the distinct (cross) correlations, not a result (a species "
            "that does not move has t_E = 0 exactly); a longer run would resolve it",
        )
    note = None
    if resolved:
        note = (
            "; ".join(resolved)
            + f": outside [0, 1] by more than {RESOLVED_SIGMAS:g}σ — correlated cation–anion "
            "motion (a resolved 'negative transference number'); check the reference frame "
            "before comparing"
        )
    return out, note


def _cluster_cutoffs(
    src: _Source,
    species: list[str],
    mobile: str,
    charges: Mapping[str, float],
    given: Mapping[str, float] | None,
    definition: str,
    notes: list[str],
) -> tuple[dict[tuple[int, int], float], dict[str, float], str]:
    """Bond cutoffs between species numbers for the cluster analysis, and the definition used."""
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
        used = "custom" if named else "none"
    else:
        from solidion.structure.rdf import first_minimum, max_rdf_radius, rdf

        used = default_definition(species, charges, mobile) if definition == "auto" else definition
        wanted = bonded_species_pairs(used, species, charges, mobile)
        if used == "metal-centred" and not wanted:
            raise InputError(
                "cluster_definition='metal-centred' needs a framework cation (formal charge ≥ +3, "
                f"not {mobile}) and anions; the charges are {dict(charges)}"
            )
        frames = np.unique(np.linspace(0, src.n_frames - 1, min(20, src.n_frames)).astype(int))
        snap = Trajectory(src.symbols, src.frames(frames), src.cells[frames], 1.0)
        r_max = min(8.0, max_rdf_radius(snap.cells[0]))
        for a, b in wanted:
            res = rdf(snap, a, b, r_max=r_max, n_bins=160)
            rc = first_minimum(res.r_A, res.g)
            if rc is None:
                notes.append(
                    f"g({a}-{b}) has no clear first shell; {a} and {b} form no clusters "
                    "in σ_cNE (set cluster_cutoffs to choose)"
                )
            else:
                named[f"{a}-{b}"] = rc
    pairs = {}
    for key, rc in named.items():
        a, _, b = key.partition("-")
        pairs[(species.index(a), species.index(b))] = rc
    return pairs, named, used

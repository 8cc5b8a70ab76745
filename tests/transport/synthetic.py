"""Synthetic electrolytes with known transport, for calibration and peer tests.

Every mobile unit is a *caged hopper*: it vibrates about a site (an Ornstein–Uhlenbeck process
of std ``vib_A`` per axis and correlation time ``tau_frames``) and the site hops by ``hop_A`` in
a random direction with probability ``p_hop`` per frame. Its MSD is sub-diffusive at short
times (the vibrational plateau) and 6Dt + const at long times, with D = p_hop·hop_A²/(6Δt)
exactly. Units that share one hopping site move together:

- *single* Li⁺: one ion per site;
- *dimers*: two Li⁺ sharing one site walk (perfectly correlated cations: they lower H_R);
- *pairs*: one Li⁺ and one Br⁻ sharing one site walk (neutral: they carry no current);
- the framework Cl⁻ vibrates about fixed sites and never hops.

A common random walk of the whole cell (``drift_A`` per axis per frame) mimics the centre-of-
mass drift of a thermostat: the lab frame sees it, the framework frame (framework = Cl) removes
it exactly. In the framework frame the answers are then (D as above, N_Li = n_s + 2n_d + n_p):

- D*(Li) = D*(Br) = D, D*(Cl) = 0;
- D_σ(Li) = D (n_s + 4n_d + n_p)/N_Li and H_R = N_Li/(n_s + 4n_d + n_p);
- σ_E = e²D(n_s + 4n_d)/(V k_B T) (pairs are neutral; the Cl do not move);
- σ_NE = e²D(N_Li + n_p)/(V k_B T); t_E(Li) = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from solidion import Trajectory
from solidion.units import A2_PS_TO_CM2_S, nernst_einstein_prefactor_S_cm

DT_FS = 20.0
TEMPERATURE_K = 600.0


def caged_walks(
    rng: np.random.Generator,
    n_frames: int,
    n_units: int,
    *,
    p_hop: float,
    hop_A: float,
    drift_per_frame: np.ndarray | None = None,
) -> np.ndarray:
    """Site positions (n_frames, n_units, 3) of independent hopping sites, starting at 0."""
    hops = rng.random((n_frames - 1, n_units)) < p_hop
    d = rng.normal(size=(n_frames - 1, n_units, 3))
    d *= hop_A / np.linalg.norm(d, axis=-1, keepdims=True)
    steps = np.where(hops[..., None], d, 0.0)
    out = np.zeros((n_frames, n_units, 3))
    np.cumsum(steps, axis=0, out=out[1:])
    return out


def vibration(
    rng: np.random.Generator, n_frames: int, n_atoms: int, vib_A: float, tau_frames: float
) -> np.ndarray:
    """Stationary Ornstein–Uhlenbeck vibration, std ``vib_A`` per axis, (n_frames, n_atoms, 3).

    x₀ ~ N(0, vib²) and x_t = φ x_{t−1} + ε_t with φ = exp(−1/τ), ε ~ N(0, vib²(1 − φ²)).
    """
    phi = float(np.exp(-1.0 / tau_frames))
    x0 = rng.normal(0.0, vib_A, (1, n_atoms, 3))
    eps = rng.normal(0.0, vib_A * np.sqrt(1.0 - phi**2), (n_frames - 1, n_atoms, 3))
    rest = lfilter([1.0], [1.0, -phi], eps, axis=0, zi=phi * x0)[0]
    return np.concatenate([x0, rest], axis=0)


@dataclass(frozen=True)
class Truth:
    """Exact framework-frame answers of a :func:`caged_electrolyte` (cm²/s, S/cm)."""

    d_star_cm2_s: float
    d_sigma_cm2_s: float
    haven_ratio: float
    sigma_e_S_cm: float
    sigma_ne_S_cm: float
    sigma_cne_S_cm: float


def caged_electrolyte(
    seed: int,
    *,
    n_frames: int = 2000,
    n_single: int = 16,
    n_dimer: int = 4,
    n_pair: int = 8,
    p_hop: float = 0.02,
    hop_A: float = 2.5,
    vib_A: float = 0.35,
    tau_frames: float = 4.0,
    drift_A: float = 0.05,
    box: float = 24.0,
) -> tuple[Trajectory, Truth]:
    """A caged Li⁺/Br⁻/Cl⁻ electrolyte (see the module docstring) and its exact answers."""
    rng = np.random.default_rng(seed)
    n_li = n_single + 2 * n_dimer + n_pair
    n_cl = n_single + 2 * n_dimer
    units = caged_walks(rng, n_frames, n_single + n_dimer + n_pair, p_hop=p_hop, hop_A=hop_A)
    s_walk = units[:, :n_single]
    d_walk = units[:, n_single : n_single + n_dimer]
    p_walk = units[:, n_single + n_dimer :]
    li = np.concatenate(
        [
            s_walk,
            d_walk,
            d_walk + np.array([2.5, 0.0, 0.0]),
            p_walk + np.array([1.1, 0.0, 0.0]),
        ],
        axis=1,
    )
    br = p_walk - np.array([1.1, 0.0, 0.0])
    cl = np.zeros((n_frames, n_cl, 3))
    pos = np.concatenate([li, br, cl], axis=1)
    n_atoms = pos.shape[1]
    pos += vibration(rng, n_frames, n_atoms, vib_A, tau_frames)
    pos += rng.uniform(0.0, box, (1, n_atoms, 3))
    drift = np.cumsum(rng.normal(0.0, drift_A, (n_frames, 1, 3)), axis=0)
    pos += drift
    symbols = ["Li"] * n_li + ["Br"] * n_pair + ["Cl"] * n_cl
    traj = Trajectory.from_arrays(symbols, pos, np.eye(3) * box, DT_FS, TEMPERATURE_K)
    d = p_hop * hop_A**2 / (6.0 * DT_FS * 1e-3) * A2_PS_TO_CM2_S
    pref = nernst_einstein_prefactor_S_cm(box**3, TEMPERATURE_K)
    coll = n_single + 4 * n_dimer + n_pair
    truth = Truth(
        d_star_cm2_s=d,
        d_sigma_cm2_s=d * coll / n_li,
        haven_ratio=n_li / coll,
        sigma_e_S_cm=pref * d * (n_single + 4 * n_dimer),
        sigma_ne_S_cm=pref * d * (n_li + n_pair),
        sigma_cne_S_cm=pref * d * (n_single + 2 * n_dimer),
    )
    return traj, truth


def back_hopping(
    seed: int,
    *,
    n_frames: int = 1000,
    n_li: int = 96,
    n_framework: int = 96,
    dt_fs: float = 10.0,
    p_hop: float = 0.004,
    p_back: float = 0.6,
    hop_A: float = 2.5,
    vib_A: float = 0.35,
    box: float = 20.0,
) -> Trajectory:
    """Li that hop back to the site they came from with probability ``p_back``: a sub-linear MSD.

    Correlated back-hops make the MSD grow more slowly than linearly for many hop times
    (the long-time D is p_hop·hop_A²/(6Δt)·(1 − p_back)/(1 + p_back)), like a short AIMD run
    of a real conductor that never reaches its diffusive regime. The framework (S) vibrates.
    """
    rng = np.random.default_rng(seed)
    hops = rng.random((n_frames, n_li)) < p_hop
    back = rng.random((n_frames, n_li)) < p_back
    d = rng.normal(size=(n_frames, n_li, 3))
    d *= hop_A / np.linalg.norm(d, axis=-1, keepdims=True)
    site = np.zeros((n_frames, n_li, 3))
    cur = np.zeros((n_li, 3))
    last = np.zeros((n_li, 3))
    for t in range(n_frames):
        step = np.where(back[t][:, None], -last, d[t])
        step = np.where(hops[t][:, None], step, 0.0)
        cur = cur + step
        last = np.where(hops[t][:, None], step, last)
        site[t] = cur
    li = site + vibration(rng, n_frames, n_li, vib_A, 3.0)
    fw = vibration(rng, n_frames, n_framework, 0.2, 3.0)
    pos = np.concatenate([li, fw], axis=1) + rng.uniform(0, box, (1, n_li + n_framework, 3))
    return Trajectory.from_arrays(
        ["Li"] * n_li + ["S"] * n_framework, pos, np.eye(3) * box, dt_fs, 500.0
    )

"""What an MD run writes: streamed H5MD frames, the run record, checkpoints, the thermo log.

Layout of a run directory::

    record.json        protocol, potential, seed, software versions, status, stage summaries
    checkpoint.npz     the last checkpoint (atoms, momenta, cell, integrator state, RNG state)
    thermo.log         one line per stored frame (and per frame interval of an equilibration):
                       stage, step, time, T, energies, P, V
    initial.extxyz     the starting structure
    NN_<stage>.h5      frames of each stage that stores a trajectory (H5MD, unwrapped), after
                       the stage's equilibration
    NN_<stage>.vdos.h5 the densely sampled segment of a stage with ``vdos_ps`` (H5MD)
    NN_<stage>.final.extxyz  the structure (with momenta) at the end of each stage
    final.extxyz       the structure at the end of the protocol

``temperature_K`` is the kinetic temperature of the 3N − 3 degrees of freedom a cell with a
fixed centre of mass has (:func:`solidion.md.integrators.kinetic_temperature`).

Frames are buffered and appended to the H5MD file in blocks (the file is closed after each
append, so it can be read while the run goes on). A checkpoint first flushes the buffer and
then records how many frames the file holds; a resumed run truncates the file back to that
count, so frames written after the checkpoint are neither lost nor duplicated.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from solidion.errors import InputError
from solidion.io import h5md
from solidion.io._atomic import atomic_path
from solidion.trajectory import Trajectory

__all__ = ["FrameWriter", "load_checkpoint", "read_record", "save_checkpoint", "write_record"]

RECORD = "record.json"
CHECKPOINT = "checkpoint.npz"
THERMO = "thermo.log"
#: Observables stored with each frame, in this order (NaN where the calculator lacks one).
OBSERVABLES = (
    "potential_energy_eV",
    "kinetic_energy_eV",
    "conserved_energy_eV",
    "temperature_K",
    "target_temperature_K",
    "pressure_GPa",
    "volume_A3",
)


def now() -> str:
    """UTC timestamp for records."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def software_versions() -> dict[str, str]:
    """Versions of the software that shapes the numbers of a run."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("solidion", "numpy", "ase", "torch", "chgnet", "h5py"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def write_record(out_dir: Path, record: Mapping[str, Any]) -> None:
    """Write ``record.json`` atomically."""
    with atomic_path(out_dir / RECORD, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")


def read_record(out_dir: Path) -> dict[str, Any]:
    """Read ``record.json`` of a run directory.

    Raises:
        InputError: If the directory holds no readable run record.
    """
    path = Path(out_dir) / RECORD
    if not path.is_file():
        raise InputError(f"{out_dir}: no {RECORD} here, so no solidion MD run to continue")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable run record ({exc})") from None


def save_checkpoint(
    out_dir: Path, atoms: Atoms, state: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> None:
    """Write ``checkpoint.npz`` atomically: atoms, momenta, cell, integrator state, metadata.

    Arrays only (``allow_pickle=False`` on reading): a checkpoint is data, not code.
    """
    arrays = {
        "numbers": atoms.get_atomic_numbers(),
        "positions": atoms.get_positions(),
        "momenta": atoms.get_momenta(),
        "cell": np.array(atoms.get_cell()),
        "pbc": atoms.get_pbc(),
        "meta": np.array(json.dumps(meta, default=str)),
    }
    arrays.update({f"state_{k}": np.asarray(v) for k, v in state.items()})
    with atomic_path(out_dir / CHECKPOINT, suffix=".npz.tmp") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())


def load_checkpoint(out_dir: Path) -> tuple[Atoms, dict[str, np.ndarray], dict[str, Any]]:
    """Read ``checkpoint.npz``: ``(atoms without calculator, integrator state, metadata)``.

    Raises:
        InputError: If the checkpoint is missing or damaged.
    """
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        raise InputError(f"{out_dir}: no {CHECKPOINT}; the run never reached its first one")
    try:
        with np.load(path, allow_pickle=False) as z:
            atoms = Atoms(
                numbers=z["numbers"], positions=z["positions"], cell=z["cell"], pbc=z["pbc"]
            )
            atoms.set_momenta(z["momenta"])
            state = {k[6:]: z[k] for k in z.files if k.startswith("state_")}
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: damaged checkpoint ({exc})") from None
    return atoms, state, meta


class FrameWriter:
    """Buffers frames of one stage and appends them to its H5MD file in blocks.

    Args:
        path: The stage's H5MD file.
        symbols: Element symbols.
        frame_interval_fs: Time between stored frames.
        variable_cell: Store the cell per frame (NPT).
        temperature_K: Recorded in the file (the stage's final target).
        metadata: Recorded in the file.
        flush_every: Frames per append.
    """

    def __init__(
        self,
        path: Path,
        symbols: list[str],
        frame_interval_fs: float,
        *,
        variable_cell: bool,
        temperature_K: float,
        metadata: Mapping[str, Any],
        flush_every: int = 50,
    ):
        self.path = path
        self.symbols = symbols
        self.frame_interval_fs = frame_interval_fs
        self.variable_cell = variable_cell
        self.temperature_K = temperature_K
        self.metadata = dict(metadata)
        self.flush_every = max(1, int(flush_every))
        self._pos: list[np.ndarray] = []
        self._cell: list[np.ndarray] = []
        self._steps: list[int] = []
        self._obs: list[list[float]] = []
        self.n_written = h5md.n_frames(path)

    @property
    def n_frames(self) -> int:
        """Frames written plus frames buffered."""
        return self.n_written + len(self._steps)

    def add(self, step: int, atoms: Atoms, observables: Mapping[str, float]) -> None:
        """Buffer one frame (positions as they are: ASE keeps MD positions unwrapped)."""
        self._pos.append(atoms.get_positions())
        self._cell.append(np.array(atoms.get_cell()))
        self._steps.append(int(step))
        self._obs.append([float(observables.get(k, np.nan)) for k in OBSERVABLES])
        if len(self._steps) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Append the buffered frames to the file."""
        if not self._steps:
            return
        cells = np.array(self._cell) if self.variable_cell else self._cell[0]
        traj = Trajectory.from_arrays(
            self.symbols,
            np.array(self._pos),
            cells,
            self.frame_interval_fs,
            self.temperature_K,
            self.metadata,
        )
        obs = np.array(self._obs)
        h5md.append_frames(
            self.path,
            traj,
            steps=np.array(self._steps, dtype=np.int64),
            observables={k: obs[:, i] for i, k in enumerate(OBSERVABLES)},
        )
        self.n_written += len(self._steps)
        self._pos, self._cell, self._steps, self._obs = [], [], [], []


def append_thermo(out_dir: Path, stage: str, step: int, time_ps: float, obs: Mapping) -> None:
    """One line of the thermodynamic log."""
    path = out_dir / THERMO
    new = not path.exists()
    with open(path, "a") as fh:
        if new:
            fh.write("# stage step time_ps " + " ".join(OBSERVABLES) + "\n")
        values = " ".join(f"{float(obs.get(k, np.nan)):.6g}" for k in OBSERVABLES)
        fh.write(f"{stage} {step} {time_ps:.4f} {values}\n")

"""Quantum ESPRESSO ``pw.x`` output of a molecular-dynamics run (``calculation='md'``).

The configurations are read by ``ase.io.read(..., format="espresso-out")``: the starting
positions from the header, then every ``ATOMIC_POSITIONS`` card printed after ``Entering
Dynamics`` that has an SCF result after it (the card pw.x prints after ``End of molecular
dynamics calculation`` has none, and is dropped). A cell printed with the positions
(``CELL_PARAMETERS``, variable-cell MD) is kept per frame. pw.x does not wrap positions unless
asked to; the reader unwraps by minimum image either way.

The time step comes from the line ``Time step = 20.00 a.u., 0.9676 femto-seconds`` that pw.x
prints when the MD starts (``dynamics_module.f90``): ``dt`` is in Rydberg atomic units, 2 ħ/E_h
= 0.0483777 fs. The a.u. value (two decimals) is used, unless it disagrees with the fs value
(four decimals) by more than their rounding, in which case the fs value is. A run continued from
a restart prints no such line; pass ``timestep_fs`` then. The temperature is the
``Starting temperature`` of a thermostatted run (tempw); without a thermostat pw.x prints none.

Every ``ATOMIC_POSITIONS`` card that becomes a frame must list the header's number of atoms,
one ``label x y z`` line each; the error names the frame and the line (ase.io fails with an
unrelated error on a card with fewer atoms, and drops atoms silently from one with more).
"""

from __future__ import annotations

import bisect
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from ase import units as _ase_units

from solidion.errors import InputError, TrajectoryError
from solidion.io._text import read_lines
from solidion.trajectory import Trajectory

__all__ = ["read"]

#: fs per Rydberg atomic unit of time, 2 ħ/E_h (pw.x's ``dt`` unit).
FS_PER_RY_TIME: float = 2.0 * float(_ase_units._aut) * 1e15

_TIME_STEP = re.compile(
    r"^\s*Time step\s*=\s*([-+0-9.EeDd]+)\s*a\.u\.,\s*([-+0-9.EeDd]+)\s*femto-seconds"
)
_START_T = re.compile(r"^\s*Starting temperature\s*=\s*([-+0-9.EeDd]+)\s*K")


#: Lines after which ase.io counts a configuration as one with results, i.e. a frame (its
#: ``results_required``): energy, forces, stress, moments, bands.
_RESULTS = (
    "!    total energy",
    "Forces acting on atoms",
    "total   stress",
    "Magnetic moment per site",
    "End of self-consistent calculation",
    "End of band structure calculation",
)
_NAT = re.compile(r"^\s*number of atoms/cell\s*=\s*(\d+)")


def _is_atom_line(line: str) -> bool:
    """``label x y z`` (and maybe fixed-coordinate flags), as pw.x prints a card's atoms."""
    tokens = line.split()
    if len(tokens) < 4:
        return False
    try:
        [_number(t) for t in tokens[1:4]]
    except ValueError:
        return False
    return True


def _check_cards(lines: list[str], path: Path) -> None:
    """Check that every ``ATOMIC_POSITIONS`` card that becomes a frame lists the header's
    number of atoms (``number of atoms/cell``), one ``label x y z`` line each.

    ase.io takes exactly that many lines after a card: from a card with fewer atoms it fails
    with an unrelated error (StopIteration inside its generator), from one with more it drops
    atoms silently. Frames are numbered as ase.io gives them: every configuration (the header's
    or a card) that has a result after it, before the next one.
    """
    configs = [i for i, ln in enumerate(lines) if "Program PWSCF" in ln or "ATOMIC_POSITIONS" in ln]
    results = [i for i, ln in enumerate(lines) if any(m in ln for m in _RESULTS)]
    frame = 0
    nat = None
    for k, start in enumerate(configs):
        end = configs[k + 1] if k + 1 < len(configs) else len(lines)
        if "Program PWSCF" in lines[start]:
            nat = next((int(m.group(1)) for ln in lines[start:end] if (m := _NAT.match(ln))), None)
        after = bisect.bisect_right(results, start)
        if not (after < len(results) and results[after] < end):
            continue  # no result after it: ase.io drops it (the reprinted last card)
        if "Program PWSCF" not in lines[start] and nat is not None:
            rows = lines[start + 1 : start + 1 + nat + 1]
            count = next((j for j, ln in enumerate(rows) if not _is_atom_line(ln)), len(rows))
            if count != nat:
                if count > nat:
                    what = f"it lists more than {nat} atoms"
                elif count < len(rows) and rows[count].strip():
                    what = f"line {start + 2 + count} is not an atom ('label x y z'): "
                    what += repr(rows[count].strip()[:60])
                else:
                    what = f"it lists {count} atoms"
                raise TrajectoryError(
                    f"cannot parse as pw.x output: the ATOMIC_POSITIONS card at line "
                    f"{start + 1}: {what}, where the header says {nat} atoms (number of "
                    "atoms/cell)",
                    path=path,
                    frame=frame,
                )
        frame += 1


def _number(text: str) -> float:
    return float(text.replace("D", "E").replace("d", "e"))


def _timestep_fs(lines: list[str], path: Path) -> float | None:
    """pw.x's MD time step in fs, or None when the file prints none."""
    values: set[float] = set()
    for lineno, line in enumerate(lines, start=1):
        m = _TIME_STEP.match(line)
        if not m:
            continue
        try:
            au, fs = _number(m.group(1)), _number(m.group(2))
        except ValueError:
            raise TrajectoryError(
                f"line {lineno}: unreadable time step: {line.strip()!r}", path=path
            ) from None
        from_au = au * FS_PER_RY_TIME
        # Printed as F8.2 a.u. and F8.4 fs: when the fs value is the a.u. value rounded, the
        # a.u. value is exact (dt = 20 gives 0.967554 fs); otherwise the a.u. was rounded.
        dt = from_au if abs(from_au - fs) <= 5e-5 + 1e-9 else fs
        values.add(round(dt, 12))
    if len(values) > 1:
        raise TrajectoryError(
            f"the file prints different MD time steps {sorted(values)} fs (concatenated runs?); "
            "pass timestep_fs",
            path=path,
        )
    return values.pop() if values else None


def _temperature(lines: list[str], path: Path) -> float | None:
    temps = [float(m.group(1)) for ln in lines if (m := _START_T.match(ln))]
    if not temps:
        return None
    if any(ln.lstrip().startswith("Thermalization: T") for ln in lines):
        warnings.warn(
            f"{path}: the thermostat changes the target temperature during the run "
            f"(rescale-T/reduce-T); temperature_K is the starting {temps[0]:g} K",
            stacklevel=3,
        )
    return temps[0] if temps[0] > 0 else None


def read(
    path: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    temperature_K: float | None = None,
    **options: Any,
) -> Trajectory:
    """Read the MD configurations of a pw.x output file.

    Args:
        path: The pw.x output (stdout of ``pw.x -in md.in``).
        timestep_fs: Time between frames in fs; default the file's ``Time step``.
        temperature_K: Temperature in K; default the ``Starting temperature`` (tempw).
        **options: None accepted (options passed as ``None`` are ignored).

    Returns:
        The trajectory, one frame per MD step (the starting configuration first).

    Raises:
        TrajectoryError: Not a pw.x MD output, no frames, a garbled configuration or one
            with another number of atoms, no time step in the file and no ``timestep_fs`` —
            naming the file and, for a configuration, the frame.
        InputError: For an unknown option.

    Example:
        >>> from pathlib import Path
        >>> data = Path(__file__).parents[2] / "tests" / "data" / "formats"
        >>> t = read(data / "espresso_md.pwo")
        >>> t.n_frames, round(t.timestep_fs, 6), t.temperature_K
        (8, 0.967554, 600.0)
    """
    import ase.io

    p = Path(path)
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise InputError(f"pw.x output reader takes no option(s) {', '.join(unknown)}")
    lines = read_lines(p)
    if not any("Program PWSCF" in ln for ln in lines[:200]):
        raise TrajectoryError("not a pw.x output (no 'Program PWSCF' line)", path=p)
    if not any("Entering Dynamics" in ln or "Molecular Dynamics Calculation" in ln for ln in lines):
        raise TrajectoryError(
            "not a molecular-dynamics run: pw.x printed no 'Entering Dynamics' "
            "(calculation = 'md' or 'vc-md')",
            path=p,
        )
    if timestep_fs is None:
        timestep_fs = _timestep_fs(lines, p)
        if timestep_fs is None:
            raise TrajectoryError(
                "no 'Time step' line (a run continued from a restart prints none); pass "
                "timestep_fs (fs between frames, i.e. dt × 0.048378 for dt in Ry a.u.)",
                path=p,
            )
    if temperature_K is None:
        temperature_K = _temperature(lines, p)
    _check_cards(lines, p)
    frames = []
    try:
        for atoms in ase.io.iread(p, index=":", format="espresso-out"):
            frames.append(atoms)
    except Exception as exc:  # ase raises many types for a broken file
        raise TrajectoryError(
            f"cannot parse as pw.x output ({type(exc).__name__}: {exc})", path=p, frame=len(frames)
        ) from None
    if not frames:
        raise TrajectoryError("no configuration with an SCF result in the file", path=p)
    symbols = frames[0].get_chemical_symbols()
    for i, a in enumerate(frames):
        if a.get_chemical_symbols() != symbols:
            raise TrajectoryError(
                f"{len(a)} atoms / element order differ from the first configuration",
                path=p,
                frame=i,
            )
    pos = np.stack([a.get_positions() for a in frames])
    cells = np.stack([np.asarray(a.cell[:], dtype=np.float64) for a in frames])
    cell = cells[0] if np.allclose(cells, cells[0], rtol=0.0, atol=1e-12) else cells
    meta = {"source": str(p), "format": "espresso-out"}
    return Trajectory.from_wrapped(symbols, pos, cell, timestep_fs, temperature_K, meta)

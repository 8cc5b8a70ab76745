"""Label structures with any ASE calculator: the reference half of the fine-tuning loop.

:func:`label_frames` runs a calculator (VASP, Quantum ESPRESSO, GPAW — whatever ASE drives and
is installed — or another potential) over input structures and writes energies, forces and
stresses as extended XYZ that :func:`~solidion.potentials.finetune.datasets.read_labelled`
reads. Reference calculations are expensive and fail one at a time, so each labelled frame is
appended to a partial file beside the target as soon as it is done; a rerun continues after the
last labelled frame, and only a complete set is renamed to the final name.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from solidion.errors import InputError, SolidionError
from solidion.potentials.finetune.datasets import LabelledDataset, read_labelled

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

__all__ = ["calculator_from_spec", "label_frames", "partial_path"]


def calculator_from_spec(
    spec: str | Calculator, options: Mapping[str, Any] | None = None
) -> Calculator:
    """An ASE calculator from ``"module:Class"``, a potential spec, or a calculator.

    Args:
        spec: ``"ase.calculators.emt:EMT"``, ``"ase.calculators.vasp:Vasp"``, ... (the class is
            imported and called with ``options``); a name or checkpoint for
            :func:`solidion.potentials.get` (``"sevennet"``, ``"chgnet"``, ``model.pt``); or an
            ASE calculator, returned as it is.
        options: Keyword arguments of the class (or of :func:`solidion.potentials.get`).

    Raises:
        InputError: the module or class cannot be imported, or rejects the options.

    Example:
        >>> type(calculator_from_spec("ase.calculators.emt:EMT")).__name__
        'EMT'
    """
    from ase.calculators.calculator import BaseCalculator

    options = dict(options or {})
    if isinstance(spec, BaseCalculator):
        if options:
            raise InputError("calculator: options cannot be applied to a calculator instance")
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"calculator: expected 'module:Class' or a potential, got {spec!r}")
    if ":" in spec and not Path(spec).exists():
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"calculator {spec!r}: cannot import {module_name} ({exc})") from None
        cls = getattr(module, class_name, None)
        if cls is None or not callable(cls):
            raise InputError(f"calculator {spec!r}: {module_name} has no {class_name}")
        try:
            calc = cls(**options)
        except Exception as exc:
            raise InputError(
                f"calculator {spec!r}: cannot be built with {options!r} ({exc})"
            ) from None
        if not isinstance(calc, BaseCalculator):
            raise InputError(f"calculator {spec!r}: {class_name} is not an ASE calculator")
        return calc
    from solidion.potentials import get

    return get(spec, **options)


def partial_path(out: str | os.PathLike[str]) -> Path:
    """Where :func:`label_frames` keeps the frames labelled so far for ``out``."""
    out = Path(out)
    return out.with_name(f".{out.name}.partial.extxyz")


def _read_inputs(frames: str | os.PathLike[str] | Sequence[Atoms]) -> tuple[list[Atoms], str]:
    from ase import Atoms
    from ase.io import read

    if isinstance(frames, str | os.PathLike):
        p = Path(frames)
        if not p.is_file():
            raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
        try:
            images = read(p, index=":")
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise InputError(
                f"{p}: cannot read structures ({type(exc).__name__}: {first})"
            ) from None
        images = images if isinstance(images, list) else [images]
        return images, str(p)
    images = [frames] if isinstance(frames, Atoms) else list(frames)
    return images, "structures"


def _same_structure(a: Atoms, b: Atoms) -> bool:
    return (
        len(a) == len(b)
        and bool(np.all(a.numbers == b.numbers))
        and np.allclose(a.cell.array, b.cell.array, atol=1e-5)
        and np.allclose(a.positions, b.positions, atol=1e-5)
    )


def label_frames(
    frames: str | os.PathLike[str] | Sequence[Atoms],
    calculator: str | Calculator,
    out: str | os.PathLike[str],
    *,
    calculator_options: Mapping[str, Any] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    stress: bool = True,
    log: Callable[[str], None] | None = None,
) -> LabelledDataset:
    """Compute reference labels of structures and write them as extended XYZ.

    Args:
        frames: Structures (a file ASE reads, e.g. from ``solidion potential select``, or a
            list of ``ase.Atoms``). ``info["trajectory"]`` is kept as the frame's group.
        calculator: See :func:`calculator_from_spec`.
        out: The labelled file to write (extxyz).
        calculator_options: Options of the calculator class.
        workdir: For file-based calculators (VASP, QE, ...): each frame runs in
            ``workdir/frame_NNNNN`` (the calculator's ``directory``), so inputs and outputs of
            every reference calculation are kept.
        stress: Also compute the stress (skipped, with None, if the calculator has none).
        log: Called with one line per frame.

    Returns:
        The labelled dataset, as read back from ``out``.

    Raises:
        InputError: unreadable inputs, a bad calculator, a partial file from other inputs, or
            a calculation that failed (its message names the frame; the frames done so far stay
            in :func:`partial_path` and a rerun continues after them).
    """
    from ase.calculators.calculator import PropertyNotImplementedError
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import iread, write

    from solidion.io._atomic import atomic_path

    images, src = _read_inputs(frames)
    if not images:
        raise InputError(f"{src}: no structures to label")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"--out {out}: the directory {out.parent} does not exist")
    partial = partial_path(out)
    done: list[Atoms] = []
    if partial.exists():
        try:
            for atoms in iread(partial, index=":", format="extxyz"):
                done.append(atoms)
        except Exception:
            # a frame cut short by a crash: keep the complete ones before it
            with atomic_path(partial, suffix=".extxyz.tmp") as tmp:
                write(tmp, done, format="extxyz")
        if len(done) > len(images) or not all(
            _same_structure(d, images[i]) for i, d in enumerate(done)
        ):
            raise InputError(
                f"{partial}: holds labels of other structures than {src}; delete it to start over"
            )
        if log and done:
            log(f"continuing after {len(done)} frames already labelled in {partial}")
    calc = calculator_from_spec(calculator, calculator_options)
    name = getattr(calculator, "__name__", None) or (
        calculator if isinstance(calculator, str) else type(calc).__name__
    )
    if not done and partial.exists():
        partial.unlink()
    for k in range(len(done), len(images)):
        atoms = images[k].copy()
        info = dict(images[k].info)
        atoms.calc = calc
        if workdir is not None and hasattr(calc, "directory"):
            directory = Path(workdir) / f"frame_{k:05d}"
            directory.mkdir(parents=True, exist_ok=True)
            calc.directory = str(directory)
        try:
            results: dict[str, Any] = {
                "energy": float(atoms.get_potential_energy()),
                "forces": np.array(atoms.get_forces(), dtype=np.float64),
            }
            if stress:
                try:
                    results["stress"] = np.array(atoms.get_stress(), dtype=np.float64)
                except (PropertyNotImplementedError, NotImplementedError):
                    pass
        except SolidionError:
            raise
        except Exception as exc:
            raise InputError(
                f"{src}, frame {k}: the reference calculation failed ({type(exc).__name__}: "
                f"{exc}); {k} labelled frame(s) are kept in {partial} and a rerun continues "
                "after them"
            ) from exc
        labelled = images[k].copy()
        labelled.calc = None
        labelled.info = {
            "trajectory": str(info.get("trajectory", src)),
            "source": str(info.get("source", src)),
            "frame": int(info.get("frame", k)),
            "labels": str(name),
        }
        labelled.calc = SinglePointCalculator(labelled, **results)
        write(partial, labelled, format="extxyz", append=True)
        if log:
            log(f"frame {k + 1}/{len(images)}: E = {results['energy']:.4f} eV")
    os.replace(partial, out)
    return read_labelled(out, format="extxyz")

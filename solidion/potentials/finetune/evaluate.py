"""Errors of a potential against reference labels, the softening ratio, and a parity plot.

Errors follow the usual conventions of the MLIP literature (e.g. CHGNet: B. Deng et al.,
Nat. Mach. Intell. 5, 1031 (2023)):

* energy per atom, meV/atom: MAE = mean_s |e_pred − e_ref| over structures *s*;
* forces, meV/Å: MAE and RMSE over every Cartesian component of every atom;
* stress, GPa: over the six Voigt components of every structure with a stress label.

The **softening ratio** is the slope of predicted against reference forces, fitted through the
origin over every force component,

.. math::  s = \\frac{\\sum_k F^{\\mathrm{pred}}_k F^{\\mathrm{ref}}_k}{\\sum_k (F^{\\mathrm{ref}}_k)^2},

the least-squares *a* of F_pred ≈ a F_ref. A potential that reproduces the reference has
s = 1; universal potentials trained on near-equilibrium data give s < 1, a softened
potential-energy surface — curvatures and barriers too low, diffusion too fast (B. Deng et al.,
"Systematic softening in universal machine learning interatomic potentials",
npj Comput. Mater. 11, 9 (2025)). Its standard error comes from a bootstrap over structures
(force components of one structure are correlated, so they are resampled together).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import InputError
from solidion.potentials.finetune.datasets import LabelledDataset, LabelledStructure

__all__ = [
    "ErrorMetrics",
    "Predictions",
    "compare",
    "evaluate",
    "parity_plot",
    "predict",
    "softening_ratio",
]

#: ase.units.GPa in eV/Å³.
_GPA_EV_A3 = 1.0 / 160.21766208
_MEV_PER_EV = 1000.0


@dataclass(frozen=True, eq=False)
class Predictions:
    """Reference and predicted labels of a set of structures, side by side.

    Attributes:
        energy_ref_eV_atom: ``(n_structures,)`` reference energies per atom.
        energy_pred_eV_atom: ``(n_structures,)`` predictions.
        forces_ref_eV_A: ``(n_atoms_total, 3)`` reference forces, structures concatenated.
        forces_pred_eV_A: ``(n_atoms_total, 3)`` predictions.
        atoms_per_structure: ``(n_structures,)`` atom counts (to split the force arrays).
        stress_ref_GPa: ``(m, 6)`` reference Voigt stresses (ASE sign) of the m structures
            with a stress label.
        stress_pred_GPa: ``(m, 6)`` predictions.
    """

    energy_ref_eV_atom: np.ndarray
    energy_pred_eV_atom: np.ndarray
    forces_ref_eV_A: np.ndarray
    forces_pred_eV_A: np.ndarray
    atoms_per_structure: np.ndarray
    stress_ref_GPa: np.ndarray
    stress_pred_GPa: np.ndarray

    @property
    def structure_of_atom(self) -> np.ndarray:
        """Index of the structure each force row belongs to."""
        return np.repeat(np.arange(len(self.atoms_per_structure)), self.atoms_per_structure)


@dataclass(frozen=True)
class ErrorMetrics:
    """Errors of predictions against reference labels (see the module docstring).

    Attributes:
        n_structures: Structures compared.
        n_atoms: Atoms compared.
        energy_mae_meV_atom: Energy MAE per atom.
        energy_rmse_meV_atom: Energy RMSE per atom.
        force_mae_meV_A: Force MAE over components.
        force_rmse_meV_A: Force RMSE over components.
        stress_mae_GPa: Stress MAE over Voigt components (None without stress labels).
        stress_rmse_GPa: Stress RMSE (None without stress labels).
        softening_ratio: Slope of predicted vs reference forces through the origin.
        softening_ratio_stderr: Its bootstrap standard error over structures.
    """

    n_structures: int
    n_atoms: int
    energy_mae_meV_atom: float
    energy_rmse_meV_atom: float
    force_mae_meV_A: float
    force_rmse_meV_A: float
    stress_mae_GPa: float | None
    stress_rmse_GPa: float | None
    softening_ratio: float
    softening_ratio_stderr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form; the softening ratio as ``{"value", "stderr"}``."""
        return {
            "n_structures": self.n_structures,
            "n_atoms": self.n_atoms,
            "energy_mae_meV_atom": self.energy_mae_meV_atom,
            "energy_rmse_meV_atom": self.energy_rmse_meV_atom,
            "force_mae_meV_A": self.force_mae_meV_A,
            "force_rmse_meV_A": self.force_rmse_meV_A,
            "stress_mae_GPa": self.stress_mae_GPa,
            "stress_rmse_GPa": self.stress_rmse_GPa,
            "softening_ratio": {
                "value": self.softening_ratio,
                "stderr": self.softening_ratio_stderr,
            },
        }


def softening_ratio(
    forces_ref: np.ndarray,
    forces_pred: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    n_bootstrap: int = 200,
    rng: int | np.random.Generator | None = 0,
) -> tuple[float, float]:
    """Slope of predicted vs reference forces through the origin, with a bootstrap error.

    Args:
        forces_ref: Reference forces, any shape.
        forces_pred: Predicted forces, the same shape.
        groups: Per leading-axis row, the structure it belongs to (bootstrap unit); default:
            each row on its own.
        n_bootstrap: Resamples for the standard error (0: no error, NaN).
        rng: Seed of the resampling.

    Returns:
        ``(slope, stderr)``.

    Raises:
        InputError: shapes differ, or the reference forces are all zero.

    Example:
        >>> f = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])
        >>> softening_ratio(f, f)[0], softening_ratio(f, 0.8 * f)[0]
        (1.0, 0.8)
    """
    x = np.asarray(forces_ref, dtype=np.float64)
    y = np.asarray(forces_pred, dtype=np.float64)
    if x.shape != y.shape:
        raise InputError(f"forces: reference {x.shape} and prediction {y.shape} differ in shape")
    x2 = x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(-1, 1)
    y2 = y.reshape(x2.shape)
    den = float((x2 * x2).sum())
    if not den > 0:
        raise InputError("forces: the reference forces are all zero; no slope to fit")
    slope = float((x2 * y2).sum() / den)
    if n_bootstrap <= 0:
        return slope, float("nan")
    g = np.arange(len(x2)) if groups is None else np.asarray(groups)
    labels, inverse = np.unique(g, return_inverse=True)
    num_g = np.bincount(inverse, weights=(x2 * y2).sum(axis=1), minlength=len(labels))
    den_g = np.bincount(inverse, weights=(x2 * x2).sum(axis=1), minlength=len(labels))
    if len(labels) < 2:
        return slope, float("nan")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    pick = gen.integers(0, len(labels), size=(int(n_bootstrap), len(labels)))
    num_b, den_b = num_g[pick].sum(axis=1), den_g[pick].sum(axis=1)
    ok = den_b > 0
    return slope, float(np.std(num_b[ok] / den_b[ok], ddof=1))


def compare(predictions: Predictions) -> ErrorMetrics:
    """:class:`ErrorMetrics` of a :class:`Predictions` pair."""
    de = predictions.energy_pred_eV_atom - predictions.energy_ref_eV_atom
    df = predictions.forces_pred_eV_A - predictions.forces_ref_eV_A
    ds = predictions.stress_pred_GPa - predictions.stress_ref_GPa
    ratio, err = softening_ratio(
        predictions.forces_ref_eV_A,
        predictions.forces_pred_eV_A,
        predictions.structure_of_atom,
    )
    has_s = ds.size > 0
    return ErrorMetrics(
        n_structures=int(len(de)),
        n_atoms=int(len(df)),
        energy_mae_meV_atom=float(np.abs(de).mean() * _MEV_PER_EV),
        energy_rmse_meV_atom=float(np.sqrt((de**2).mean()) * _MEV_PER_EV),
        force_mae_meV_A=float(np.abs(df).mean() * _MEV_PER_EV),
        force_rmse_meV_A=float(np.sqrt((df**2).mean()) * _MEV_PER_EV),
        stress_mae_GPa=float(np.abs(ds).mean()) if has_s else None,
        stress_rmse_GPa=float(np.sqrt((ds**2).mean())) if has_s else None,
        softening_ratio=ratio,
        softening_ratio_stderr=err,
    )


def _as_frames(dataset: LabelledDataset | Sequence[LabelledStructure]) -> list[LabelledStructure]:
    frames = list(dataset.frames if isinstance(dataset, LabelledDataset) else dataset)
    if not frames:
        raise InputError("dataset: no structures to evaluate")
    return frames


def predict(
    potential: Any,
    dataset: LabelledDataset | Sequence[LabelledStructure],
    *,
    batch_size: int = 8,
    device: str | None = None,
) -> Predictions:
    """Predict energies, forces and stresses of labelled structures.

    Args:
        potential: A ``chgnet.model.CHGNet`` (evaluated in batches with
            :class:`~solidion.potentials.BatchedCHGNet`), a spec for
            :func:`solidion.potentials.get` (``"chgnet"``, a checkpoint path, ``"sevennet"``),
            an ASE calculator, or ``"module:Class"`` of one
            (:func:`~solidion.potentials.finetune.label.calculator_from_spec`).
        dataset: The labelled structures.
        batch_size: Structures per CHGNet call.
        device: Device for a spec.

    Returns:
        The reference labels and the predictions, side by side.
    """
    from ase.calculators.calculator import BaseCalculator, PropertyNotImplementedError

    from solidion.potentials import BatchedCHGNet, load_model

    frames = _as_frames(dataset)
    model = None
    if hasattr(potential, "graph_converter"):
        model = potential
    elif isinstance(potential, str) and ":" in potential and not Path(potential).exists():
        from solidion.potentials.finetune.label import calculator_from_spec

        potential = calculator_from_spec(potential)
    elif isinstance(potential, str | os.PathLike):
        loaded = load_model(potential, device=device)
        if hasattr(loaded.model, "graph_converter"):
            model = loaded.model
        else:
            potential = loaded.new_calculator()
    elif not isinstance(potential, BaseCalculator):
        raise InputError(
            "potential: expected a CHGNet model, a potential name or checkpoint path, or an ASE "
            f"calculator, got {type(potential).__name__}"
        )
    energies, forces, stresses = [], [], []
    if model is not None:
        batched = BatchedCHGNet(model)
        was_training = model.training
        for start in range(0, len(frames), max(1, int(batch_size))):
            chunk = frames[start : start + max(1, int(batch_size))]
            for ev in batched.compute([f.atoms for f in chunk]):
                energies.append(ev.energy_eV)
                forces.append(ev.forces_eV_A)
                stresses.append(ev.stress_eV_A3)
        if was_training:
            model.train()
    else:
        for f in frames:
            atoms = f.atoms.copy()
            atoms.calc = potential
            energies.append(float(atoms.get_potential_energy()))
            forces.append(np.array(atoms.get_forces(), dtype=np.float64))
            try:
                stresses.append(np.array(atoms.get_stress(), dtype=np.float64))
            except (PropertyNotImplementedError, NotImplementedError):
                stresses.append(None)
    with_s = [
        i for i, f in enumerate(frames) if f.stress_eV_A3 is not None and stresses[i] is not None
    ]
    n = np.array([f.n_atoms for f in frames])
    return Predictions(
        energy_ref_eV_atom=np.array([f.energy_eV_atom for f in frames]),
        energy_pred_eV_atom=np.array(energies) / n,
        forces_ref_eV_A=np.concatenate([f.forces_eV_A for f in frames]),
        forces_pred_eV_A=np.concatenate(forces),
        atoms_per_structure=n,
        stress_ref_GPa=np.array([frames[i].stress_eV_A3 for i in with_s]).reshape(-1, 6)
        / _GPA_EV_A3,
        stress_pred_GPa=np.array([stresses[i] for i in with_s]).reshape(-1, 6) / _GPA_EV_A3,
    )


def evaluate(
    potential: Any,
    dataset: LabelledDataset | Sequence[LabelledStructure],
    *,
    batch_size: int = 8,
    device: str | None = None,
) -> tuple[ErrorMetrics, Predictions]:
    """Errors and softening ratio of a potential on labelled structures.

    Args:
        potential: See :func:`predict`.
        dataset: The labelled structures (usually the test split).
        batch_size: Structures per CHGNet call.
        device: Device for a spec.

    Returns:
        ``(metrics, predictions)``.
    """
    pred = predict(potential, dataset, batch_size=batch_size, device=device)
    return compare(pred), pred


def parity_plot(
    path: str | os.PathLike[str],
    curves: Sequence[tuple[str, Predictions]],
    *,
    title: str | None = None,
) -> Path:
    """Predicted against reference energy, forces and stress, one colour per potential.

    Args:
        path: PNG to write (atomically).
        curves: ``(label, predictions)`` pairs, e.g. ``[("pretrained", before),
            ("fine-tuned", after)]``; each label gets its MAE and softening ratio.
        title: Figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from solidion.io._atomic import atomic_path

    if not curves:
        raise InputError("curves: nothing to plot")
    has_s = any(p.stress_ref_GPa.size for _, p in curves)
    ncol = 3 if has_s else 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 4.2), constrained_layout=True)
    panels = [
        ("energy (eV/atom)", lambda p: (p.energy_ref_eV_atom, p.energy_pred_eV_atom)),
        ("force component (eV/Å)", lambda p: (p.forces_ref_eV_A, p.forces_pred_eV_A)),
        ("stress component (GPa)", lambda p: (p.stress_ref_GPa, p.stress_pred_GPa)),
    ][:ncol]
    for ax, (name, get) in zip(axes, panels, strict=True):
        lo, hi = np.inf, -np.inf
        for label, pred in curves:
            ref, out = (np.ravel(a) for a in get(pred))
            if not ref.size:
                continue
            text = label
            if name.startswith("force"):
                m = compare(pred)
                text = f"{label}: MAE {m.force_mae_meV_A:.0f} meV/Å, slope {m.softening_ratio:.3f}"
            elif name.startswith("energy"):
                text = f"{label}: MAE {1000 * np.abs(out - ref).mean():.1f} meV/atom"
            else:
                text = f"{label}: MAE {np.abs(out - ref).mean():.2f} GPa"
            ax.scatter(ref, out, s=6, alpha=0.5, label=text)
            lo, hi = min(lo, ref.min(), out.min()), max(hi, ref.max(), out.max())
        if np.isfinite(lo):
            ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8, ls="--")
        ax.set_xlabel(f"reference {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    out_path = Path(path)
    try:
        with atomic_path(out_path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=130, format="png")
    finally:
        plt.close(fig)
    return out_path

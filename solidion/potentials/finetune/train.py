"""Fine-tune CHGNet on reference labels with chgnet's own trainer.

Start from pretrained weights (or an earlier checkpoint), freeze some layers, and train on
energies, forces and stresses with chgnet's ``Trainer`` — its loss (``CombinedLoss``: weighted
MSE of energy per atom, force components and stress components), its optimiser and its cosine
learning-rate schedule — one epoch at a time, so that solidion adds early stopping on the
validation split, a progress bar and keeps the best epoch's weights in memory instead of
writing a file per epoch (B. Deng et al., Nat. Mach. Intell. 5, 1031 (2023), whose fine-tuning
recipe freezes the embeddings and the first interaction blocks).

Units inside the trainer are CHGNet's: energy per atom in eV, forces in eV/Å, stress in GPa
with ASE's sign (tension positive); labels are converted from
:class:`~solidion.potentials.finetune.datasets.LabelledStructure` (eV, eV/Å, eV/Å³) once.

**Reference-energy shift.** A reference method (another functional, another pseudopotential set,
another potential's training data) shifts energies per element. CHGNet's composition model
(``AtomRef``, a linear function of the element fractions) absorbs exactly that shift:
before training its weights are refitted by least squares to the training residuals
(min-norm for elements the data cannot separate), as chgnet advises training the composition
model when "the fine-tuning dataset has large elemental energy shift". Without it the energy
term of the loss spends the first epochs moving the network by a constant.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import InputError
from solidion.potentials.finetune.datasets import (
    DatasetSplit,
    LabelledDataset,
    LabelledStructure,
    read_many,
    split_dataset,
)

__all__ = [
    "FREEZE_PRESETS",
    "EpochRecord",
    "FinetuneConfig",
    "FinetuneReport",
    "FinetuneResult",
    "finetune",
    "freeze_layers",
    "load_base_model",
    "run_finetune",
]

_EMBEDDINGS = (
    "atom_embedding",
    "bond_embedding",
    "angle_embedding",
    "bond_basis_expansion",
    "angle_basis_expansion",
)
#: Named sets of CHGNet parameter-name prefixes to freeze. ``message-passing`` is the recipe of
#: chgnet's fine-tuning example: everything but the last atom-convolution block and the readout.
#: The default is ``embeddings``: on 30 structures (docs/finetune.md), 10 epochs at chgnet's
#: default settings removed 12 % of the test force error with ``message-passing`` frozen and 23 %
#: with nothing frozen, and ``embeddings`` matched ``none`` at the better settings (−32 %).
FREEZE_PRESETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "embeddings": _EMBEDDINGS,
    "message-passing": (
        *_EMBEDDINGS,
        "atom_conv_layers.0",
        "atom_conv_layers.1",
        "atom_conv_layers.2",
        "bond_conv_layers",
        "angle_layers",
    ),
    "all-but-readout": (*_EMBEDDINGS, "atom_conv_layers", "bond_conv_layers", "angle_layers"),
}
_GPA_EV_A3 = 1.0 / 160.21766208
_MEV = 1000.0


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a fine-tuning run.

    Attributes:
        base_model: ``"0.3.0"``, ``"0.2.0"``, ``"r2scan"`` (pretrained weights in the chgnet
            wheel) or the path of a CHGNet checkpoint to continue from.
        epochs: Most epochs.
        learning_rate: Initial learning rate (cosine decay to 1 % over ``epochs``).
        batch_size: Structures per optimiser step.
        energy_weight: Loss weight of the energy per atom (eV/atom)².
        force_weight: Loss weight of the force components (eV/Å)².
        stress_weight: Loss weight of the stress components (GPa)²; 0 drops stress.
        freeze: A :data:`FREEZE_PRESETS` name, or parameter-name prefixes
            (``("atom_embedding", "atom_conv_layers.0")``).
        patience_epochs: Stop after this many epochs without a better validation score.
        criterion: ``"Huber"`` (δ = 0.1, as in CHGNet's pretraining), ``"MSE"`` or ``"MAE"``
            (chgnet's ``CombinedLoss``).
        refit_composition: Refit the composition model to the training energies first.
        seed: Seed of torch and of the batch order.
    """

    base_model: str | os.PathLike[str] = "0.3.0"
    epochs: int = 30
    learning_rate: float = 2e-3
    batch_size: int = 4
    energy_weight: float = 1.0
    force_weight: float = 1.0
    stress_weight: float = 0.1
    freeze: str | tuple[str, ...] = "embeddings"
    patience_epochs: int = 8
    criterion: str = "Huber"
    refit_composition: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_model", os.fspath(self.base_model))
        if not isinstance(self.freeze, str):
            object.__setattr__(self, "freeze", tuple(str(x) for x in self.freeze))
        checks = {
            "epochs": int(self.epochs) >= 1,
            "learning_rate": self.learning_rate > 0,
            "batch_size": int(self.batch_size) >= 1,
            "patience_epochs": int(self.patience_epochs) >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"{name}: must be positive, got {getattr(self, name)!r}")
        for name in ("energy_weight", "force_weight", "stress_weight"):
            value = getattr(self, name)
            if not (value >= 0 and np.isfinite(value)):
                raise InputError(f"{name}: must be ≥ 0, got {value!r}")
        if self.energy_weight == 0 and self.force_weight == 0:
            raise InputError("energy_weight, force_weight: at least one must be positive")
        if self.criterion not in ("MSE", "Huber", "MAE"):
            raise InputError(f"criterion: expected MSE, Huber or MAE, got {self.criterion!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        d = asdict(self)
        d["freeze"] = self.freeze if isinstance(self.freeze, str) else list(self.freeze)
        return d


@dataclass(frozen=True)
class EpochRecord:
    """Errors after one epoch (training errors averaged over the epoch's batches).

    Attributes:
        epoch: 0-based epoch.
        train_energy_mae_meV_atom: Training energy MAE.
        train_force_mae_meV_A: Training force MAE.
        val_energy_mae_meV_atom: Validation energy MAE.
        val_force_mae_meV_A: Validation force MAE.
        val_stress_mae_GPa: Validation stress MAE (None without stress in the loss).
        val_score: The early-stopping score: Σ weight × validation MAE (eV/atom, eV/Å, GPa).
        wall_s: Seconds the epoch took.
    """

    epoch: int
    train_energy_mae_meV_atom: float
    train_force_mae_meV_A: float
    val_energy_mae_meV_atom: float
    val_force_mae_meV_A: float
    val_stress_mae_GPa: float | None
    val_score: float
    wall_s: float


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """What :func:`finetune` returns.

    Attributes:
        model: The fine-tuned ``chgnet.model.CHGNet`` with the best epoch's weights, eval mode.
        config: The settings.
        history: One record per epoch run.
        best_epoch: Epoch whose weights were kept.
        stopped_early: Whether patience ran out before ``config.epochs``.
        composition_shift_eV_atom: Mean energy shift the composition refit applied to the
            training structures (0 without the refit).
        trainable_parameters: Parameters updated by the optimiser.
        total_parameters: All parameters of the model.
        frozen: Parameter-name prefixes that were frozen.
        wall_s: Seconds of training.
    """

    model: Any
    config: FinetuneConfig
    history: tuple[EpochRecord, ...]
    best_epoch: int
    stopped_early: bool
    composition_shift_eV_atom: float
    trainable_parameters: int
    total_parameters: int
    frozen: tuple[str, ...]
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form (without the model)."""
        return {
            "config": self.config.to_dict(),
            "history": [asdict(h) for h in self.history],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "composition_shift_eV_atom": self.composition_shift_eV_atom,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "frozen": list(self.frozen),
            "wall_s": self.wall_s,
        }


# -- model preparation -----------------------------------------------------------------------------


def load_base_model(base: str | os.PathLike[str] = "0.3.0", device: str = "cpu") -> Any:
    """A fresh, trainable CHGNet (never the cached model :func:`solidion.potentials.get` shares).

    Args:
        base: A pretrained name (``"0.3.0"``, ``"0.2.0"``, ``"r2scan"``; ``"chgnet"`` means
            ``"0.3.0"``) or a CHGNet checkpoint path, read with ``weights_only=True``.
        device: Torch device.

    Raises:
        InputError: unknown name, missing or unsafe checkpoint.
    """
    from solidion.potentials import _chgnet

    name = os.fspath(base)
    if name.strip().lower() == "chgnet":
        name = "0.3.0"
    if name in _chgnet.PRETRAINED:
        path = _chgnet.pretrained_weights_file(name)
    else:
        path = Path(name).expanduser()
        if not path.is_file():
            raise InputError(
                f"base_model: {name!r} is neither a pretrained CHGNet "
                f"({', '.join(_chgnet.PRETRAINED)}) nor a checkpoint file"
            )
    model = _chgnet.build_model(_chgnet.read_checkpoint(path), path)
    return model.to(device)


def freeze_layers(model: Any, freeze: str | Sequence[str]) -> tuple[str, ...]:
    """Set ``requires_grad=False`` on parameters whose names start with the given prefixes.

    Args:
        model: A CHGNet.
        freeze: A :data:`FREEZE_PRESETS` name or prefixes (a comma-separated string works too).

    Returns:
        The prefixes applied.

    Raises:
        InputError: an unknown preset or a prefix that matches no parameter (the message lists
            the model's top-level modules).
    """
    if isinstance(freeze, str):
        key = freeze.strip()
        if key in FREEZE_PRESETS:
            prefixes = FREEZE_PRESETS[key]
        else:
            prefixes = tuple(p.strip() for p in key.split(",") if p.strip())
    else:
        prefixes = tuple(freeze)
    names = [n for n, _ in model.named_parameters()]
    for p in prefixes:
        if not any(n == p or n.startswith(p + ".") for n in names):
            modules = sorted({n.split(".")[0] for n in names})
            raise InputError(
                f"freeze: {p!r} matches no parameter; presets: {', '.join(FREEZE_PRESETS)}; "
                f"modules: {', '.join(modules)}"
            )
    for n, param in model.named_parameters():
        if n.startswith("composition_model"):
            # per-element offsets: set by the refit, never moved by the optimiser (as chgnet's
            # Trainer.train does by default, train_composition_model=False)
            param.requires_grad = False
            continue
        param.requires_grad = not any(n == p or n.startswith(p + ".") for p in prefixes)
    return prefixes


def _composition_features(frames: Sequence[LabelledStructure], n_elements: int) -> np.ndarray:
    x = np.zeros((len(frames), n_elements))
    for k, f in enumerate(frames):
        counts = np.bincount(f.atoms.numbers - 1, minlength=n_elements)[:n_elements]
        x[k] = counts / f.n_atoms
    return x


def refit_composition(model: Any, frames: Sequence[LabelledStructure]) -> float:
    """Shift CHGNet's composition-model weights by the least-squares fit of the residuals.

    Δw = argmin ‖X Δw − (e_ref − e_pred)‖ (min-norm), X the element fractions; then
    w ← w + Δw, which changes every prediction by X Δw and nothing else.

    Returns:
        The mean applied shift over ``frames`` in eV/atom.
    """
    import torch

    from solidion.potentials.finetune.evaluate import predict

    comp = getattr(model, "composition_model", None)
    if comp is None or not hasattr(comp, "fc"):
        raise InputError("refit_composition: this CHGNet has no AtomRef composition model")
    pred = predict(model, frames)
    residual = pred.energy_ref_eV_atom - pred.energy_pred_eV_atom
    weight = comp.fc.weight
    x = _composition_features(frames, weight.shape[1])
    delta, *_ = np.linalg.lstsq(x, residual, rcond=None)
    with torch.no_grad():
        weight += torch.as_tensor(delta, dtype=weight.dtype, device=weight.device).view_as(weight)
    return float((x @ delta).mean())


# -- data ------------------------------------------------------------------------------------------


def _graph_dataset(model: Any, frames: Sequence[LabelledStructure], with_stress: bool) -> Any:
    """(graph, targets) pairs in CHGNet units, graphs built once with the model's converter."""
    import torch
    from pymatgen.io.ase import AseAtomsAdaptor

    items = []
    for k, f in enumerate(frames):
        try:
            graph = model.graph_converter(
                AseAtomsAdaptor.get_structure(f.atoms), graph_id=str(k), mp_id=f.where
            )
        except Exception as exc:  # e.g. an isolated atom: chgnet's converter refuses it
            raise InputError(f"{f.where}: CHGNet cannot build its graph ({exc})") from None
        targets = {
            "e": torch.tensor(f.energy_eV_atom, dtype=torch.float32),
            "f": torch.tensor(f.forces_eV_A, dtype=torch.float32),
        }
        if with_stress:
            if f.stress_eV_A3 is None:
                s = torch.full((3, 3), float("nan"))
            else:
                from ase.stress import voigt_6_to_full_3x3_stress

                s = torch.tensor(
                    voigt_6_to_full_3x3_stress(f.stress_eV_A3) / _GPA_EV_A3, dtype=torch.float32
                )
            targets["s"] = s
        items.append((graph, targets))

    class GraphSet(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(items)

        def __getitem__(self, idx: int) -> Any:
            return items[idx]

    return GraphSet()


def _loader(dataset: Any, batch_size: int, shuffle: bool, seed: int) -> Any:
    import torch
    from chgnet.data.dataset import collate_graphs

    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=shuffle,
        collate_fn=collate_graphs,
        generator=gen,
        num_workers=0,
    )


# -- training --------------------------------------------------------------------------------------


class _EpochBar:
    """A rich progress bar over epochs (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]fine-tuning"),
                BarColumn(),
                TextColumn("epoch {task.completed}/{task.total}"),
                TextColumn("{task.description}"),
                TimeRemainingColumn(),
            )
            self.task = self.bar.add_task("", total=total)

    def __enter__(self) -> _EpochBar:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def advance(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=text)


def finetune(
    train: LabelledDataset | Sequence[LabelledStructure],
    validation: LabelledDataset | Sequence[LabelledStructure],
    config: FinetuneConfig | None = None,
    *,
    model: Any = None,
    device: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Fine-tune CHGNet on labelled structures with early stopping on the validation set.

    Args:
        train: Training structures.
        validation: Validation structures (early stopping; never trained on).
        config: Settings (default :class:`FinetuneConfig`).
        model: A CHGNet to train in place; default a fresh copy of ``config.base_model``.
        device: Torch device; default CUDA when available, else the CPU.
        progress: Progress bar over epochs (default: when stderr is a terminal).
        log: Called with one line per epoch (when no progress bar shows it).

    Returns:
        The model with the weights of the epoch with the best validation score.

    Raises:
        InputError: empty splits, a bad freeze list, a structure CHGNet cannot make a graph of.
    """
    import torch
    from chgnet.trainer import Trainer

    from solidion.potentials.registry import resolve_device

    config = config or FinetuneConfig()
    train_frames = list(train.frames if isinstance(train, LabelledDataset) else train)
    val_frames = list(validation.frames if isinstance(validation, LabelledDataset) else validation)
    if not train_frames:
        raise InputError("train: no training structures")
    if not val_frames:
        raise InputError("validation: early stopping needs at least one validation structure")
    dev = resolve_device(device)
    torch.manual_seed(int(config.seed))
    if model is None:
        model = load_base_model(config.base_model, dev)
    else:
        model = model.to(dev)
    t0 = time.perf_counter()
    shift = refit_composition(model, train_frames) if config.refit_composition else 0.0
    frozen = freeze_layers(model, config.freeze)
    with_stress = config.stress_weight > 0 and any(f.stress_eV_A3 is not None for f in train_frames)
    targets = "efs" if with_stress else "ef"
    train_loader = _loader(
        _graph_dataset(model, train_frames, with_stress), config.batch_size, True, config.seed
    )
    val_loader = _loader(
        _graph_dataset(model, val_frames, with_stress), config.batch_size, False, config.seed
    )
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(
            model=model,
            targets=targets,
            energy_loss_ratio=config.energy_weight,
            force_loss_ratio=config.force_weight,
            stress_loss_ratio=config.stress_weight,
            optimizer="Adam",
            scheduler="CosLR",
            criterion=config.criterion,
            epochs=int(config.epochs),
            learning_rate=config.learning_rate,
            print_freq=10**9,
            torch_seed=int(config.seed),
            use_device=dev,
        )
    weights = {"e": config.energy_weight, "f": config.force_weight, "s": config.stress_weight}
    best_score, best_epoch, best_state = np.inf, -1, None
    history: list[EpochRecord] = []
    stale = 0
    show = sys.stderr.isatty() if progress is None else bool(progress)
    with _EpochBar(show, int(config.epochs)) as bar:
        for epoch in range(int(config.epochs)):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                train_mae = trainer._train(train_loader, epoch)
                val_mae = trainer._validate(val_loader)
            score = float(sum(weights[k] * val_mae[k] for k in targets))
            if not np.isfinite(score):
                raise InputError(
                    f"fine-tuning diverged at epoch {epoch} (validation score {score}); lower "
                    "the learning rate"
                )
            record = EpochRecord(
                epoch=epoch,
                train_energy_mae_meV_atom=train_mae["e"] * _MEV,
                train_force_mae_meV_A=train_mae["f"] * _MEV,
                val_energy_mae_meV_atom=val_mae["e"] * _MEV,
                val_force_mae_meV_A=val_mae["f"] * _MEV,
                val_stress_mae_GPa=val_mae.get("s"),
                val_score=score,
                wall_s=time.perf_counter() - start,
            )
            history.append(record)
            if score < best_score:
                best_score, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            line = (
                f"epoch {epoch}: val energy {record.val_energy_mae_meV_atom:.1f} meV/atom, "
                f"forces {record.val_force_mae_meV_A:.1f} meV/Å"
                + (
                    f", stress {record.val_stress_mae_GPa:.3f} GPa"
                    if record.val_stress_mae_GPa is not None
                    else ""
                )
                + (" (best)" if best_epoch == epoch else "")
            )
            bar.advance(line)
            if log is not None and bar.bar is None:  # the live bar shows the line itself
                log(line)
            if stale >= int(config.patience_epochs):
                break
    model.load_state_dict(best_state)
    model.eval()
    for param in model.parameters():
        param.requires_grad = True
    trainable = sum(
        p.numel()
        for n, p in model.named_parameters()
        if not n.startswith("composition_model")
        and not any(n == q or n.startswith(q + ".") for q in frozen)
    )
    return FinetuneResult(
        model=model,
        config=config,
        history=tuple(history),
        best_epoch=best_epoch,
        stopped_early=len(history) < int(config.epochs),
        composition_shift_eV_atom=shift,
        trainable_parameters=int(trainable),
        total_parameters=int(sum(p.numel() for p in model.parameters())),
        frozen=tuple(frozen),
        wall_s=time.perf_counter() - t0,
    )


# -- the whole job: files in, checkpoint out ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FinetuneReport:
    """What :func:`run_finetune` did.

    Attributes:
        checkpoint: The checkpoint written.
        split: The train/validation/test split.
        result: The training result (model, history).
        before: Test-set errors of the base model (None without a test split).
        after: Test-set errors of the fine-tuned model (None without a test split).
        metadata: What the checkpoint stores.
        parity_plot: The parity plot written, if any.
    """

    checkpoint: Path
    split: DatasetSplit
    result: FinetuneResult
    before: Any
    after: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)
    parity_plot: Path | None = None


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for pkg in ("solidion", "chgnet", "torch", "ase"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def run_finetune(
    data: Sequence[str | os.PathLike[str]] | LabelledDataset,
    out: str | os.PathLike[str],
    config: FinetuneConfig | None = None,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    split_by: str = "structure",
    device: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    parity: str | os.PathLike[str] | None = None,
    read_options: Mapping[str, Any] | None = None,
) -> FinetuneReport:
    """Read labelled data, split it, fine-tune, evaluate before/after, save the checkpoint.

    The checkpoint (:func:`~solidion.potentials.finetune.checkpoint.save_checkpoint`) holds the
    weights :func:`solidion.potentials.get` loads, the metadata (base model, dataset digest,
    split, loss weights, history, test errors before and after) and the training-domain
    reference (:class:`~solidion.potentials.finetune.trust.TrustReference` of the training
    split, thresholds calibrated on the validation split). Nothing is written unless training
    succeeds; the file appears whole or not at all.

    Args:
        data: Labelled-data files (:func:`~solidion.potentials.finetune.datasets.read_labelled`)
            or a dataset.
        out: Checkpoint path.
        config: Training settings; ``config.seed`` also seeds the split.
        fractions: (train, validation, test) shares.
        split_by: ``"structure"`` or ``"trajectory"``.
        device: Torch device (default CUDA when present, else the CPU).
        progress: Progress bar (default: when stderr is a terminal).
        log: Called with progress lines.
        parity: Also write a parity plot (PNG) of the test split, before and after.
        read_options: Options for the readers (``stress_unit``, ``energy_key``, ...).

    Returns:
        A :class:`FinetuneReport`.
    """
    from solidion.potentials.finetune.checkpoint import save_checkpoint
    from solidion.potentials.finetune.evaluate import evaluate, parity_plot
    from solidion.potentials.finetune.trust import TrustReference
    from solidion.potentials.registry import resolve_device

    config = config or FinetuneConfig()
    say = log or (lambda _m: None)
    out_path = Path(out)
    if out_path.is_dir():
        raise InputError(f"--out {out_path}: is a directory; give a file name such as model.pt")
    if not (out_path.parent if str(out_path.parent) else Path(".")).is_dir():
        raise InputError(f"--out {out_path}: the directory {out_path.parent} does not exist")
    if isinstance(data, LabelledDataset):
        dataset, files = data, []
    else:
        files = [str(p) for p in data]
        dataset = read_many(files, **dict(read_options or {}))
    split = split_dataset(dataset, fractions, by=split_by, seed=config.seed)
    say(
        f"{len(dataset)} labelled structures ({dataset.n_atoms} atoms): train {len(split.train)}, "
        f"validation {len(split.validation)}, test {len(split.test)} (split by {split_by})"
    )
    dev = resolve_device(device)
    model = load_base_model(config.base_model, dev)
    before = None
    if len(split.test):
        before = evaluate(model, split.test)
        say(
            f"base model on the test split: forces {before[0].force_mae_meV_A:.1f} meV/Å MAE, "
            f"energy {before[0].energy_mae_meV_atom:.1f} meV/atom, softening ratio "
            f"{before[0].softening_ratio:.3f}"
        )
    result = finetune(
        split.train, split.validation, config, model=model, device=dev, progress=progress, log=log
    )
    after = evaluate(result.model, split.test) if len(split.test) else None
    if after is not None:
        say(
            f"fine-tuned on the test split: forces {after[0].force_mae_meV_A:.1f} meV/Å MAE, "
            f"energy {after[0].energy_mae_meV_atom:.1f} meV/atom, softening ratio "
            f"{after[0].softening_ratio:.3f}"
        )
    reference = TrustReference.build(
        [f.atoms for f in split.train], [f.atoms for f in split.validation], rng=config.seed
    )
    base = config.base_model
    metadata = {
        "kind": "solidion fine-tuned CHGNet",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "base_model": base,
        "device": dev,
        "dataset": {"files": files, **dataset.summary()},
        "split": split.to_dict(),
        "training": result.to_dict(),
        "test_before": None if before is None else before[0].to_dict(),
        "test_after": None if after is None else after[0].to_dict(),
    }
    path = save_checkpoint(out_path, result.model, metadata=metadata, trust_reference=reference)
    say(f"wrote {path}")
    plot = None
    if parity is not None and (before is None or after is None):
        say(f"no parity plot ({parity}): there is no test split")
    if parity is not None and before is not None and after is not None:
        plot = parity_plot(
            parity,
            [(f"base ({base})", before[1]), ("fine-tuned", after[1])],
            title=f"test split: {len(split.test)} structures",
        )
        say(f"wrote {plot}")
    return FinetuneReport(
        checkpoint=path,
        split=split,
        result=result,
        before=None if before is None else before[0],
        after=None if after is None else after[0],
        metadata=metadata,
        parity_plot=plot,
    )

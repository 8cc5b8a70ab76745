"""Fine-tuned checkpoints: written as data, read as data.

Layout (a superset of what :func:`solidion.potentials.get` already loads)::

    {"model": {"model_args": {...}, "state_dict": {name: tensor}},      # CHGNet.as_dict()
     "solidion": {"format": "solidion.finetune/1",
                  "metadata": {...},             # base model, dataset digest, split, loss
                                                 # weights, history, test errors (plain JSON)
                  "trust_reference": {...} | None}}   # TrustReference.to_state(): tensors

Everything in it is a tensor, a dict, a list, a string, a number, a bool or None, so
``torch.load(weights_only=True)`` reads it; a file that needs anything else (a pickled object
whose unpickling would run code) is refused by the same reader that
:func:`solidion.potentials.get` uses (:func:`solidion.potentials._chgnet.load_state`), before
anything it names is imported or called. chgnet's own ``CHGNet.from_file`` unpickles with
``weights_only=False`` and is never used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solidion.errors import InputError
from solidion.potentials.finetune.trust import TrustReference

__all__ = ["CHECKPOINT_FORMAT", "FinetuneCheckpoint", "read_finetune_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "solidion.finetune/1"


def plain(obj: Any, where: str = "metadata") -> Any:
    """``obj`` as JSON-like plain data (numpy scalars and arrays → numbers and lists).

    Raises:
        InputError: something that is not plain data (an object, a function).
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist(), where)
    if isinstance(obj, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise InputError(f"{where}: {type(obj).__name__} is not plain data and cannot be stored")


@dataclass(frozen=True, eq=False)
class FinetuneCheckpoint:
    """A checkpoint read back: the model's dictionary, its metadata and its trust reference.

    Attributes:
        path: The file.
        model_dict: ``{"model_args", "state_dict"}`` for ``CHGNet.from_dict``.
        metadata: What :func:`save_checkpoint` stored (``{}`` for a plain CHGNet checkpoint).
        trust_reference: The training environments, or None when the file has none.
    """

    path: Path
    model_dict: Mapping[str, Any]
    metadata: Mapping[str, Any]
    trust_reference: TrustReference | None

    def build_model(self, device: str = "cpu") -> Any:
        """A fresh ``chgnet.model.CHGNet`` with these weights, in eval mode on ``device``."""
        from solidion.potentials._chgnet import build_model

        model = build_model(self.model_dict, self.path).to(device)
        model.eval()
        return model


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    trust_reference: TrustReference | None = None,
) -> Path:
    """Write a fine-tuned CHGNet as a weights-only checkpoint, atomically.

    Args:
        path: Target file (``.pt``/``.pth.tar``; :func:`solidion.potentials.get` loads it).
        model: A ``chgnet.model.CHGNet``.
        metadata: Plain JSON-like data stored with it.
        trust_reference: Training environments for trust checks of runs made with it.

    Returns:
        The path written.

    Raises:
        InputError: metadata that is not plain data, or an unwritable target.
    """
    import torch

    from solidion.io._atomic import atomic_path

    dct = model.as_dict()
    state = {
        "model": {
            "model_args": plain(dct["model_args"], "model_args"),
            "state_dict": {k: v.detach().cpu().clone() for k, v in dct["state_dict"].items()},
        },
        "solidion": {
            "format": CHECKPOINT_FORMAT,
            "metadata": plain(dict(metadata or {})),
            "trust_reference": None if trust_reference is None else trust_reference.to_state(),
        },
    }
    out = Path(path)
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory; give a file name such as model.pt")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"--out {out}: the directory {out.parent} does not exist")
    with atomic_path(out, suffix=".pt.tmp") as tmp:
        torch.save(state, tmp)
    return out


def read_finetune_checkpoint(path: str | os.PathLike[str]) -> FinetuneCheckpoint:
    """Read a checkpoint safely, with its solidion metadata and trust reference when present.

    Plain CHGNet checkpoints (trainer files, ``as_dict()`` dumps, the pretrained files) read
    too, with empty metadata and no trust reference.

    Raises:
        InputError: a missing file, one ``torch.load(weights_only=True)`` refuses (a pickled
            object is never run), one without a valid CHGNet model part, or a malformed
            ``solidion`` block; the message names the file.
    """
    from solidion.potentials._chgnet import load_state, model_part

    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"spec: checkpoint file not found: {p}")
    if not p.is_file():
        raise InputError(f"spec: {p} is not a file (expected a CHGNet checkpoint)")
    state = load_state(p)
    model = model_part(state, p)
    extra = state.get("solidion")
    if extra is None:
        return FinetuneCheckpoint(p, model, {}, None)
    if not isinstance(extra, Mapping) or extra.get("format") != CHECKPOINT_FORMAT:
        raise InputError(
            f"{p}: its 'solidion' block is not a {CHECKPOINT_FORMAT} block "
            f"(format {extra.get('format') if isinstance(extra, Mapping) else type(extra).__name__!r})"
        )
    metadata = extra.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise InputError(f"{p}: solidion metadata is not a dictionary")
    ref_state = extra.get("trust_reference")
    ref = (
        None
        if ref_state is None
        else TrustReference.from_state(ref_state, where=f"{p}: trust reference")
    )
    return FinetuneCheckpoint(p, model, dict(metadata), ref)

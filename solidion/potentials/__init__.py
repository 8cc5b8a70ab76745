"""Interatomic potentials as ASE calculators, loaded once per process.

>>> from solidion import potentials
>>> "chgnet" in potentials.available()
True

``get("chgnet")`` returns a ``CHGNetCalculator`` around the pretrained weights that ship inside
the chgnet wheel; ``get(path)`` reads a fine-tuned CHGNet checkpoint as data
(``torch.load(weights_only=True)``); ``get(calculator)`` returns it unchanged.
:class:`~solidion.potentials.batched.BatchedCHGNet` evaluates several structures (MD replicas)
in one model call.
Fine-tuning on reference data, errors and softening ratio, frame selection for labelling and
the training-domain check of MD runs live in :mod:`solidion.potentials.finetune`.

Importing this package imports neither torch nor chgnet; they load on the first ``get``.
"""

from __future__ import annotations

from solidion.potentials.base import LoadedModel
from solidion.potentials.batched import BatchedCHGNet, Evaluation
from solidion.potentials.registry import (
    BACKENDS,
    Backend,
    available,
    clear_cache,
    describe,
    get,
    load_model,
    register,
    resolve_device,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BatchedCHGNet",
    "Evaluation",
    "LoadedModel",
    "available",
    "clear_cache",
    "describe",
    "get",
    "load_model",
    "register",
    "resolve_device",
]

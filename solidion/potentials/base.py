"""The record a potential loader returns, shared by the registry and the backends."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = ["LoadedModel", "copying_factory"]


@dataclass(frozen=True)
class LoadedModel:
    """What a loader returns: the heavy model, a calculator factory and a run-record entry.

    Attributes:
        model: The object that holds the weights (for CHGNet, the ``torch.nn.Module``). It is
            what the cache keeps alive and what :func:`solidion.potentials.get` calls share.
        new_calculator: Builds a fresh ASE calculator around ``model`` (cheap: no weights are read).
        info: JSON-ready facts for :func:`solidion.potentials.describe` (name, spec, versions,
            device, sha256, ...).
    """

    model: Any
    new_calculator: Callable[[], Calculator]
    info: Mapping[str, Any] = field(default_factory=dict)


def copying_factory(template: Calculator) -> Callable[[], Calculator]:
    """Fresh calculators from one template: shallow copies that share its model.

    Each copy gets its own ``parameters``, ``atoms`` and ``results``, the per-structure state of
    an ASE calculator; everything else (the model above all) is shared.
    """

    def new_calculator() -> Calculator:
        calc = copy.copy(template)
        calc.parameters = copy.deepcopy(getattr(template, "parameters", {}))
        calc.atoms = None
        calc.results = {}
        return calc

    return new_calculator

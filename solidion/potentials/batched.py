"""Energies, forces and stresses of several structures in one CHGNet call (MD replicas).

Each structure is turned into a CHGNet crystal graph with the model's own ``graph_converter``
(through pymatgen, exactly as ``CHGNetCalculator`` does, so the neighbour lists are the same),
and all graphs go through **one** ``model(graphs, task="efs")`` call, where CHGNet concatenates
them into a single batched graph. The numbers equal single-structure ``CHGNetCalculator``
results to float32 round-off; the units are ASE's:

* energy: CHGNet predicts eV/atom; :class:`Evaluation` holds the total, ``e × n_atoms``, in eV;
* forces: eV/Å, shape ``(n_atoms, 3)``;
* stress: CHGNet returns GPa with ASE's sign (σ = (1/V) ∂E/∂ε, positive under tension);
  it is multiplied by ``ase.units.GPa`` (= 1/160.21766) into eV/Å³ and given in Voigt order
  ``(xx, yy, zz, yz, xz, xy)``, as ``atoms.get_stress()`` returns it.

Calling ``model(graphs)`` directly rather than ``model.predict_structure(..., batch_size=k)``
skips predict_graph's per-call ``model.eval()`` walk and the magnetic-moment head; both end in
the same ``CHGNet.forward``. ``bench/batched_eval.py`` measures batched against sequential calls.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from solidion.errors import InputError
from solidion.potentials.registry import load_model

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms

__all__ = ["BatchedCHGNet", "Evaluation"]


class Evaluation(NamedTuple):
    """One structure's result; unpacks as ``energy, forces, stress``.

    Attributes:
        energy_eV: Total potential energy in eV (not per atom).
        forces_eV_A: Forces, float64 array ``(n_atoms, 3)`` in eV/Å.
        stress_eV_A3: Stress, float64 Voigt array ``(6,)`` in eV/Å³, ASE order and sign.
    """

    energy_eV: float
    forces_eV_A: np.ndarray
    stress_eV_A3: np.ndarray


class BatchedCHGNet:
    """Evaluate a list of structures with one batched CHGNet forward/backward pass.

    Args:
        model: A ``chgnet.model.CHGNet``; or a spec for :func:`solidion.potentials.load_model`
            (``"chgnet"``, a checkpoint path); ``None`` means ``"chgnet"``. Specs share the
            per-process model cache with :func:`solidion.potentials.get`. The model is
            resolved on first use, not here.
        device: Device for a spec (see :func:`solidion.potentials.resolve_device`). With a
            model instance it must be ``None`` or the model's own device: the model is never
            moved, since calculators may share it.

    Example:
        ``BatchedCHGNet().compute([atoms_a, atoms_b])`` →
        ``[Evaluation(energy_eV=..., forces_eV_A=..., stress_eV_A3=...), ...]``
    """

    def __init__(self, model: Any = None, device: str | None = None) -> None:
        if model is None:
            model = "chgnet"
        if not isinstance(model, str | os.PathLike) and not hasattr(model, "graph_converter"):
            raise InputError(
                "model: expected a chgnet CHGNet, a potential name or a checkpoint path, "
                f"got {type(model).__name__}"
            )
        self._spec = model
        self._device = device
        self._model: Any = None
        self._info: dict[str, Any] | None = None

    @property
    def model(self) -> Any:
        """The CHGNet model, loaded (or taken from the cache) on first access."""
        if self._model is None:
            if isinstance(self._spec, str | os.PathLike):
                loaded = load_model(self._spec, device=self._device)
                model = loaded.model
                if not hasattr(model, "graph_converter"):
                    raise InputError(f"model: {self._spec!r} is not a CHGNet model")
                self._info = dict(loaded.info)
            else:
                model = self._spec
                own = str(next(model.parameters()).device)
                if self._device is not None and str(self._device) not in {own, own.split(":")[0]}:
                    raise InputError(
                        f"device: the model lives on {own!r}, not {self._device!r}; "
                        "move it yourself or pass a spec instead of a model"
                    )
            self._model = model
        return self._model

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(next(self.model.parameters()).device)

    @property
    def _solidion_potential(self) -> dict[str, Any]:
        """The :func:`solidion.potentials.describe` record (the attribute describe() reads)."""
        model = self.model
        if self._info is not None:
            info = dict(self._info)
        else:
            info = {"name": "chgnet", "spec": None, "source": "model instance"}
            info["model_version"] = getattr(model, "version", None)
            info["device"] = self.device
        info["calculator"] = f"{__name__}.{type(self).__qualname__}"
        return info

    def compute(self, structures: Sequence[Atoms]) -> list[Evaluation]:
        """Energies, forces and stresses of ``structures`` from a single batched model call.

        Args:
            structures: ASE ``Atoms`` objects with cells; any atom counts and species.

        Returns:
            One :class:`Evaluation` per structure, in order.

        Raises:
            InputError: an entry is not an ``ase.Atoms``, has no atoms, or has an atom without
                neighbours (CHGNet's graph converter refuses it).
        """
        from ase import Atoms, units
        from ase.stress import full_3x3_to_voigt_6_stress
        from pymatgen.io.ase import AseAtomsAdaptor

        structures = list(structures)
        for i, atoms in enumerate(structures):
            if not isinstance(atoms, Atoms):
                raise InputError(f"structures[{i}]: expected ase.Atoms, got {type(atoms).__name__}")
            if len(atoms) == 0:
                raise InputError(f"structures[{i}]: has no atoms")
        if not structures:
            return []

        model = self.model
        device = self.device
        if model.training:
            model.eval()
        graphs = []
        for i, atoms in enumerate(structures):
            try:
                graph = model.graph_converter(AseAtomsAdaptor.get_structure(atoms))
            except ValueError as exc:  # e.g. an atom with no neighbour within the cutoff
                raise InputError(f"structures[{i}]: CHGNet cannot build its graph: {exc}") from exc
            graphs.append(graph.to(device))
        prediction = model(graphs, task="efs")

        energies = prediction["e"].detach().cpu().numpy().astype(np.float64)
        results = []
        for i, atoms in enumerate(structures):
            per_atom = len(atoms) if model.is_intensive else 1
            forces = prediction["f"][i].detach().cpu().numpy().astype(np.float64)
            stress_gpa = prediction["s"][i].detach().cpu().numpy().astype(np.float64)
            results.append(
                Evaluation(
                    energy_eV=float(energies[i] * per_atom),
                    forces_eV_A=forces,
                    stress_eV_A3=full_3x3_to_voigt_6_stress(stress_gpa * units.GPa),
                )
            )
        return results

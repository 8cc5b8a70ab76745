"""CHGNet loaders: the pretrained weights from the wheel, and fine-tuned checkpoints read safely.

chgnet and torch are imported inside the functions, never at module level.

Checkpoint layouts (see ``chgnet/model/model.py``: ``CHGNet.as_dict``/``from_dict``/``from_file``,
and ``chgnet/trainer/trainer.py``: ``Trainer.save``):

* trainer files and the pretrained files: ``{"model": {"model_args": ..., "state_dict": ...},
  "optimizer": ..., "scheduler": ..., ...}`` — what ``CHGNet.from_file`` reads;
* a bare ``model.as_dict()``: ``{"model_args": ..., "state_dict": ...}``.

``CHGNet.from_file`` unpickles with ``weights_only=False``, which runs whatever code a crafted
file names. Here files go through ``torch.load(weights_only=True)`` (tensors and plain
containers only) and the dictionary is checked before ``CHGNet.from_dict`` builds the model.

**Task by request.** The stock ``CHGNetCalculator.calculate`` runs CHGNet's ``task="efsm"``
whatever ASE asked for: the stress (a second gradient, through the strain) and the magnetic
moments on every MD step. :class:`SolidionCHGNetCalculator` (built on first use, so that chgnet
stays unimported until then) runs ``"ef"`` and adds the stress or the moments only when asked
(:func:`chgnet_task`). On a 294-atom Li–Al–Cl–O cell on 2 CPU cores this took MD from 550 to
820 atom-steps/s with the same forces (issue #17). A later ``get_stress`` on the same atoms still
works: ASE calls ``calculate`` again with ``properties=["stress"]`` because ``"stress"`` is
missing from the results, and the new results are merged into the old.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solidion.errors import InputError
from solidion.potentials.base import LoadedModel

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

#: Pretrained CHGNet versions shipped inside the chgnet wheel (``CHGNet.load(model_name=...)``).
PRETRAINED = ("0.3.0", "0.2.0", "r2scan")

_REQUIRED_MODEL_KEYS = ("model_args", "state_dict")

#: The calculator class, for the run record (:func:`calculator_class`).
CALCULATOR_NAME = f"{__name__}.SolidionCHGNetCalculator"


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def _chgnet_version() -> str | None:
    try:
        return metadata.version("chgnet")
    except metadata.PackageNotFoundError:
        return None


def _import_chgnet() -> Any:
    try:
        from chgnet.model import model as chgnet_model
    except ImportError as exc:
        raise InputError(
            f"spec: CHGNet cannot be imported ({exc}); install solidion's dependencies"
        ) from exc
    # CHGNet 0.4 converts a grad-tracking volume tensor to a float on every stress call; the
    # warning is harmless and would otherwise print once per process in every MD log.
    warnings.filterwarnings(
        "ignore", message="Converting a tensor with requires_grad=True", category=UserWarning
    )
    return chgnet_model


def pretrained_weights_file(model_name: str) -> Path:
    """The ``.pth.tar`` inside the installed chgnet package for ``model_name``."""
    chgnet_model = _import_chgnet()
    folder = Path(chgnet_model.__file__).resolve().parents[1] / "pretrained" / model_name
    files = sorted(folder.glob("*.pth.tar"))
    if not files:
        raise InputError(f"model_name: no pretrained CHGNet weights for {model_name!r} in {folder}")
    return files[0]


#: What ``properties=None`` means to ``CHGNetCalculator.calculate`` (ase's ``all_properties``
#: as far as CHGNet predicts it).
_ALL_PROPERTIES = ("energy", "forces", "stress", "magmoms")


def chgnet_task(properties: Sequence[str] | None, *, with_stress: bool = False) -> str:
    """CHGNet's prediction task for the properties ASE asks for.

    Energy and forces always (an MD step needs both, and CHGNet's forces are the gradient of
    its energy, so ``"e"`` alone would save little); ``"s"`` when ``"stress"`` is asked for or
    ``with_stress`` is set; ``"sm"`` when ``"magmoms"`` is asked for (CHGNet 0.4 knows the tasks
    ``e``, ``ef``, ``em``, ``efs`` and ``efsm``: no ``efm``). ``None`` means every property, as
    in the stock ``CHGNetCalculator.calculate``.

    Examples:
        >>> chgnet_task(["forces"]), chgnet_task(["energy"], with_stress=True)
        ('ef', 'efs')
        >>> chgnet_task(["stress"]), chgnet_task(["magmoms"]), chgnet_task(None)
        ('efs', 'efsm', 'efsm')
    """
    wanted = set(_ALL_PROPERTIES if properties is None else properties)
    if "magmoms" in wanted:
        return "efsm"
    return "efs" if with_stress or "stress" in wanted else "ef"


@functools.cache
def calculator_class() -> type[Calculator]:
    """``SolidionCHGNetCalculator``: ``CHGNetCalculator`` computing what is asked for only.

    Built on the first call so that chgnet is imported only then; the module's ``__getattr__``
    hands out the same class under ``solidion.potentials._chgnet.SolidionCHGNetCalculator``,
    which is also where pickle looks for it.
    """
    from chgnet.model.dynamics import CHGNetCalculator

    class SolidionCHGNetCalculator(CHGNetCalculator):
        """``CHGNetCalculator`` whose CHGNet task follows the requested properties.

        Results are those of the stock calculator for every property it computes: the same
        ``predict_graph`` call with a shorter task (:func:`chgnet_task`).

        Attributes:
            with_stress: Compute the stress on every call, also when only energy or forces are
                asked for, so that a later ``get_stress`` costs no second model call. The MD
                driver sets it for the steps whose pressure it will use (NPT, logged steps).
        """

        with_stress: bool = False

        def calculate(
            self,
            atoms: Atoms | None = None,
            properties: list[str] | None = None,
            system_changes: list[str] | None = None,
            task: str | None = None,
        ) -> None:
            """As ``CHGNetCalculator.calculate``; ``task=None`` chooses it from ``properties``."""
            if task is None:
                task = chgnet_task(properties, with_stress=self.with_stress)
            super().calculate(atoms, properties, system_changes, task=task)

    SolidionCHGNetCalculator.__module__ = __name__
    SolidionCHGNetCalculator.__qualname__ = "SolidionCHGNetCalculator"
    return SolidionCHGNetCalculator


def __getattr__(name: str) -> Any:
    """``SolidionCHGNetCalculator`` on demand (PEP 562), building it on first access."""
    if name == "SolidionCHGNetCalculator":
        return calculator_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def calculator_factory(model: Any, device: str) -> Any:
    """A function building fresh ``SolidionCHGNetCalculator`` objects around ``model`` (no reload)."""
    from ase import units

    cls = calculator_class()

    def new_calculator() -> Calculator:
        # CHGNetCalculator prints the device on construction; a library keeps stdout quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            # stress_weight converts CHGNet's GPa into ASE's eV/Å³ (ase.units.GPa = 1/160.2177).
            return cls(model=model, use_device=device, stress_weight=units.GPa)

    return new_calculator


def load_pretrained(device: str, *, model_name: str = "0.3.0") -> LoadedModel:
    """Load a pretrained CHGNet from the weights shipped in the chgnet wheel (no network).

    Args:
        device: Resolved torch device.
        model_name: ``"0.3.0"`` (default), ``"0.2.0"`` or ``"r2scan"``.

    Returns:
        The model with a ``CHGNetCalculator`` factory and its run record.
    """
    if model_name not in PRETRAINED:
        raise InputError(
            f"model_name: unknown pretrained CHGNet {model_name!r}; choose one of "
            f"{', '.join(PRETRAINED)}"
        )
    chgnet_model = _import_chgnet()
    weights = pretrained_weights_file(model_name)
    with contextlib.redirect_stdout(io.StringIO()):
        model = chgnet_model.CHGNet.load(model_name=model_name, use_device=device, verbose=False)
    model.eval()
    info = {
        "name": "chgnet",
        "spec": "chgnet",
        "source": "pretrained",
        "package": "chgnet",
        "package_version": _chgnet_version(),
        "model_version": model.version,
        "weights_file": weights.name,
        "sha256": sha256_file(weights),
        "device": device,
        "options": {"model_name": model_name},
        "calculator": CALCULATOR_NAME,
    }
    return LoadedModel(model, calculator_factory(model, device), info)


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, for error messages that stay on one line."""
    text = str(exc).strip()
    match = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\. Please use|\n|$)", text)
    line = match.group(1).strip() if match else (text.splitlines()[0] if text else "")
    return f"{type(exc).__name__}: {line[:limit]}" if line else type(exc).__name__


def load_state(path: Path) -> Mapping[str, Any]:
    """Read a checkpoint file as data: ``torch.load(weights_only=True)``, a dictionary at the top.

    ``weights_only=True`` unpickles tensors and plain containers (dict, list, tuple, str,
    numbers, None) only; a file naming any other class or function is refused before anything
    it names is imported or called.

    Args:
        path: The checkpoint file.

    Returns:
        The top-level dictionary.

    Raises:
        InputError: the file cannot be read, ``torch.load(weights_only=True)`` refuses it
            (garbage, or a pickled object — whose code is never run), or it does not hold a
            dictionary. The message names the file.
    """
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's note on the pickle protocol
            state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise InputError(f"spec: cannot read checkpoint {path}: {exc}") from exc
    except Exception as exc:
        raise InputError(
            f"spec: {path} is not a loadable checkpoint: torch.load(weights_only=True) refused "
            f"it ({_first_line(exc)}); a checkpoint may hold only "
            "tensors and plain containers"
        ) from exc
    if not isinstance(state, Mapping):
        raise InputError(
            f"spec: {path} is not a CHGNet checkpoint: it holds a {type(state).__name__}, "
            "not a dictionary"
        )
    return state


def model_part(state: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The validated ``{"model_args", "state_dict"}`` part of a checkpoint read by :func:`load_state`.

    Raises:
        InputError: the keys a CHGNet checkpoint has are missing or of the wrong type.
    """
    import torch

    part: Any = state.get("model", state)
    where = "['model']" if "model" in state else ""
    if not isinstance(part, Mapping):
        raise InputError(
            f"spec: {path} is not a CHGNet checkpoint: checkpoint{where} is a "
            f"{type(part).__name__}, expected a dictionary with {' and '.join(_REQUIRED_MODEL_KEYS)}"
        )
    missing = [key for key in _REQUIRED_MODEL_KEYS if key not in part]
    if missing:
        found = ", ".join(map(repr, list(part)[:10])) or "nothing"
        raise InputError(
            f"spec: {path} is not a CHGNet checkpoint: checkpoint{where} lacks "
            f"{', '.join(map(repr, missing))} (found {found})"
        )
    if not isinstance(part["model_args"], Mapping):
        raise InputError(f"spec: {path}: checkpoint{where}['model_args'] is not a dictionary")
    if not isinstance(part["state_dict"], Mapping) or not all(
        isinstance(v, torch.Tensor) for v in part["state_dict"].values()
    ):
        raise InputError(
            f"spec: {path}: checkpoint{where}['state_dict'] is not a dictionary of tensors"
        )
    return {"model_args": dict(part["model_args"]), "state_dict": part["state_dict"]}


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Read a CHGNet checkpoint as data and return its ``{"model_args", "state_dict"}`` part.

    Args:
        path: The checkpoint file.

    Returns:
        The dictionary ``CHGNet.from_dict`` takes.

    Raises:
        InputError: the file cannot be read by ``torch.load(weights_only=True)`` (garbage, an
            arbitrary pickled object — whose code is never run), or lacks the keys a CHGNet
            checkpoint has. The message names the file.
    """
    return model_part(load_state(path), path)


def build_model(dct: Mapping[str, Any], path: Path) -> Any:
    """``CHGNet.from_dict`` on a validated model part; InputError naming ``path`` if it fails."""
    chgnet_model = _import_chgnet()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return chgnet_model.CHGNet.from_dict(dict(dct))
    except Exception as exc:
        raise InputError(
            f"spec: {path}: its model_args and state_dict do not build a CHGNet "
            f"({_first_line(exc)})"
        ) from exc


def load_checkpoint(path: Path, device: str) -> LoadedModel:
    """Build a CHGNet from a fine-tuned checkpoint file, safely (see the module docstring).

    Args:
        path: The checkpoint file.
        device: Resolved torch device.

    Returns:
        The model with a ``CHGNetCalculator`` factory and its run record (with the sha256, and
        for a checkpoint written by ``solidion potential finetune`` a ``finetune`` summary: base
        model, training-set digest, whether it carries a training-domain reference).

    Raises:
        InputError: the file is not a valid CHGNet checkpoint; the message names it.
    """
    digest = sha256_file(path)
    state = load_state(path)  # bad files fail here, before chgnet is imported
    dct = model_part(state, path)
    model = build_model(dct, path)
    model = model.to(device)
    model.eval()
    info = {
        "name": "chgnet",
        "spec": str(path.resolve()),
        "source": "checkpoint",
        "package": "chgnet",
        "package_version": _chgnet_version(),
        "model_version": model.version,
        "weights_file": path.name,
        "sha256": digest,
        "device": device,
        "options": {},
        "calculator": CALCULATOR_NAME,
    }
    extra = state.get("solidion")
    if isinstance(extra, Mapping) and isinstance(extra.get("metadata"), Mapping):
        meta = extra["metadata"]
        info["finetune"] = {
            "base_model": meta.get("base_model"),
            "training_set_sha256": (meta.get("dataset") or {}).get("sha256")
            if isinstance(meta.get("dataset"), Mapping)
            else None,
            "trust_reference": isinstance(extra.get("trust_reference"), Mapping),
        }
    return LoadedModel(model, calculator_factory(model, device), info)

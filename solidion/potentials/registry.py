"""The potential registry: names → loaders, one cached model per process, fresh calculators.

A *backend* is a name (``"chgnet"``) and a loader that builds the heavy model once. The loader
runs the first time :func:`load_model` (and so :func:`get`) sees a given spec, device and options;
its result, a :class:`LoadedModel`, is kept in a per-process cache. Every :func:`get` call then
returns a **new** ASE calculator around that **same** model: the weights are read once, while each
caller (an MD run, a replica, a relaxation) gets its own calculator, because an ASE calculator
stores the last structure and its results (anchor: ``ase/calculators/calculator.py``). Two
replicas sharing one calculator would not be wrong, only slower: each would throw away the
other's cached results on every step.

Nothing here imports torch, chgnet or sevenn at module level; loaders import them when they run
(anchor: ``ase/io/formats.py``, whose format table names modules that are imported on use).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solidion.errors import InputError
from solidion.potentials import _chgnet, _sevennet
from solidion.potentials.base import LoadedModel, copying_factory

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

__all__ = [
    "BACKENDS",
    "Backend",
    "LoadedModel",
    "available",
    "clear_cache",
    "describe",
    "get",
    "load_model",
    "register",
    "resolve_device",
]

#: File-name endings that mark a string spec as a checkpoint path rather than a backend name.
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt")

#: The attribute under which calculators made by :func:`get` carry their :func:`describe` record.
_INFO_ATTR = "_solidion_potential"


#: A loader: ``loader(device, **options) -> LoadedModel | Calculator``; ``device`` is the
#: resolved torch device string ("cpu", "cuda:0", ...).
Loader = Callable[..., "LoadedModel | Calculator"]


@dataclass(frozen=True)
class Backend:
    """A registered potential.

    Attributes:
        name: Lower-case name passed as ``spec`` to :func:`get`.
        loader: ``loader(device, **options)``; returns a :class:`LoadedModel`, or a calculator,
            in which case :func:`get` hands out shallow copies of it that share its model.
        requires: Top-level module that must be importable for the backend to work (checked
            with :func:`importlib.util.find_spec`, which does not import it).
        description: One line for listings.
    """

    name: str
    loader: Loader
    requires: str | None = None
    description: str = ""

    def installed(self) -> bool:
        """Whether :attr:`requires` can be imported (without importing it)."""
        if self.requires is None:
            return True
        try:
            return importlib.util.find_spec(self.requires) is not None
        except (ImportError, ValueError):
            return False


BACKENDS: dict[str, Backend] = {}

_CACHE: dict[Hashable, LoadedModel] = {}
_LOCK = threading.RLock()


def register(
    name: str,
    loader: Loader,
    *,
    requires: str | None = None,
    description: str = "",
    overwrite: bool = False,
) -> Backend:
    """Register a potential backend (for plugins).

    Args:
        name: The name users pass to :func:`get`; stored lower-case.
        loader: ``loader(device: str, **options)`` building the model once; see :class:`Backend`.
            Its keyword parameters are the options :func:`get` accepts for this name.
        requires: Module whose presence marks the backend as installed in :func:`available`.
        description: One line for listings.
        overwrite: Replace an existing registration of ``name`` instead of raising.

    Returns:
        The registered :class:`Backend`.

    Raises:
        InputError: ``name`` is empty, looks like a path, or is taken and ``overwrite`` is False.
    """
    key = name.strip().lower() if isinstance(name, str) else ""
    if not key or _looks_like_path(key):
        raise InputError(f"name: a potential name must be a plain word, got {name!r}")
    if not callable(loader):
        raise InputError(f"loader: must be callable, got {type(loader).__name__}")
    with _LOCK:
        if key in BACKENDS and not overwrite:
            raise InputError(f"name: potential {key!r} is already registered (pass overwrite=True)")
        backend = Backend(key, loader, requires, description)
        BACKENDS[key] = backend
        for cache_key in [k for k in _CACHE if k[0] == "name" and k[1] == key]:
            del _CACHE[cache_key]
    return backend


def available() -> dict[str, bool]:
    """The registered potential names, each with whether its backend is installed.

    Returns:
        ``{name: installed}`` in registration order.

    Example:
        >>> from solidion.potentials import available
        >>> available()["chgnet"]
        True
    """
    return {name: backend.installed() for name, backend in BACKENDS.items()}


def clear_cache() -> None:
    """Forget every cached model (the next :func:`get` loads again); frees their memory."""
    with _LOCK:
        _CACHE.clear()


def resolve_device(device: str | None = None) -> str:
    """The torch device to run on: ``device`` checked, or CUDA when present, else the CPU.

    Args:
        device: ``None`` (automatic), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns:
        A normalised device string; a bare ``"cuda"`` becomes ``"cuda:<current device>"``, so
        ``device=None`` and an explicit equal device share one cached model.

    Raises:
        InputError: the string is not a device, or the device is not available here.
    """
    import torch

    if device is None:
        return resolve_device("cuda") if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(str(device))
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"device: {device!r} is not a torch device ({exc})") from exc
    if dev.type == "cpu":
        return "cpu"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device: {device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='cpu' or leave it unset"
            )
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise InputError(
                f"device: {device!r} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
        return f"cuda:{index}"
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"device: {device!r} was requested but MPS is not available")
        return "mps"
    raise InputError(f"device: {device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'mps'")


def _looks_like_path(spec: str) -> bool:
    return (
        "/" in spec
        or os.sep in spec
        or (os.altsep is not None and os.altsep in spec)
        or spec.lower().endswith(CHECKPOINT_SUFFIXES)
        or spec.startswith("~")
    )


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for an option value, so equal options hit the same cache entry."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        items = [_freeze(v) for v in value]
        return (
            tuple(sorted(items, key=repr)) if isinstance(value, set | frozenset) else tuple(items)
        )
    hash(value)  # TypeError for anything else that cannot be a cache key
    return value


def _options_key(options: Mapping[str, Any]) -> Hashable:
    try:
        return tuple(sorted((k, _freeze(v)) for k, v in options.items()))
    except TypeError as exc:
        raise InputError(
            f"options: every option value must be hashable to key the model cache ({exc})"
        ) from exc


def _check_options(
    name: str, loader: Loader, device: str, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The options with the loader's defaults filled in; InputError naming a bad option.

    Filling in defaults makes ``get("chgnet")`` and ``get("chgnet", model_name="0.3.0")`` one
    cache entry.
    """
    try:
        signature = inspect.signature(loader)
    except (TypeError, ValueError):  # builtins without a signature: let the loader decide
        return dict(options)
    params = signature.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [
            p for p in list(params)[1:] if params[p].kind is not inspect.Parameter.VAR_POSITIONAL
        ]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            hint = f"accepted: {', '.join(accepted)}" if accepted else "it takes no options"
            raise InputError(
                f"options: potential {name!r} does not take {', '.join(map(repr, unknown))} "
                f"({hint})"
            )
    try:
        bound = signature.bind(device, **options)
    except TypeError as exc:
        raise InputError(f"options: invalid options for potential {name!r}: {exc}") from exc
    bound.apply_defaults()
    first = next(iter(params))
    full: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        if key == first or params[key].kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if params[key].kind is inspect.Parameter.VAR_KEYWORD:
            full.update(value)
        else:
            full[key] = value
    return full


def _as_loaded(result: Any, *, where: str) -> LoadedModel:
    from ase.calculators.calculator import BaseCalculator

    if isinstance(result, LoadedModel):
        return result
    if isinstance(result, BaseCalculator):
        return LoadedModel(
            model=getattr(result, "model", result),
            new_calculator=copying_factory(result),
            info={"name": where, "calculator": _qualname(result)},
        )
    raise TypeError(
        f"the loader of {where!r} returned {type(result).__name__}, "
        "not a LoadedModel or an ASE Calculator"
    )


def load_model(
    spec: str | os.PathLike[str] = "chgnet", *, device: str | None = None, **options: Any
) -> LoadedModel:
    """The cached model behind :func:`get`, loading it on first use.

    Args:
        spec: A registered name or the path of a fine-tuned CHGNet checkpoint.
        device: See :func:`resolve_device`.
        **options: Backend options (for ``"chgnet"``: ``model_name``).

    Returns:
        The :class:`LoadedModel`; the same object for the same spec, device and options.

    Raises:
        InputError: unknown name, missing or invalid checkpoint, unavailable device or backend,
            or an option the backend does not take.
    """
    if isinstance(spec, os.PathLike):
        return _load_checkpoint(Path(os.fspath(spec)), device, options)
    if not isinstance(spec, str):
        raise InputError(
            "spec: expected a potential name, a checkpoint path or an ASE Calculator, "
            f"got {type(spec).__name__}"
        )
    name = spec.strip().lower()
    backend = BACKENDS.get(name)
    if backend is None:
        if _looks_like_path(spec) or Path(spec).exists():
            return _load_checkpoint(Path(spec), device, options)
        raise InputError(
            f"spec: unknown potential {spec!r}; registered: {', '.join(BACKENDS)} "
            "(or pass the path of a CHGNet checkpoint, or an ASE Calculator)"
        )
    resolved = resolve_device(device)
    options = _check_options(name, backend.loader, resolved, options)
    key = ("name", name, resolved, _options_key(options))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _as_loaded(backend.loader(resolved, **options), where=name)
        return _CACHE[key]


def _load_checkpoint(path: Path, device: str | None, options: Mapping[str, Any]) -> LoadedModel:
    if options:
        raise InputError(
            f"options: a checkpoint path takes no options, got {', '.join(map(repr, options))}"
        )
    path = path.expanduser()
    if not path.exists():
        raise InputError(f"spec: checkpoint file not found: {path}")
    if not path.is_file():
        raise InputError(f"spec: {path} is not a file (expected a CHGNet checkpoint)")
    resolved = resolve_device(device)
    real = path.resolve()
    stat = real.stat()
    key = ("path", str(real), stat.st_size, stat.st_mtime_ns, resolved)
    with _LOCK:
        if key not in _CACHE:
            loaded = _chgnet.load_checkpoint(path, resolved)
            # the file was rewritten: forget the model(s) built from its older contents
            for old in [
                k for k in _CACHE if k[0] == "path" and k[1] == key[1] and k[-1] == resolved
            ]:
                del _CACHE[old]
            _CACHE[key] = loaded
        return _CACHE[key]


def get(
    spec: str | os.PathLike[str] | Calculator = "chgnet",
    *,
    device: str | None = None,
    **options: Any,
) -> Calculator:
    """An ASE calculator for a potential, its model loaded once per process.

    Args:
        spec: One of

            * a registered name (:func:`available`): ``"chgnet"`` (default; the pretrained
              weights shipped inside the chgnet wheel, never downloaded) or ``"sevennet"``
              (the optional extra ``pip install 'solidion[sevennet]'``);
            * the path (``str`` or :class:`~pathlib.Path`) of a fine-tuned CHGNet checkpoint,
              read with ``torch.load(weights_only=True)``, so a checkpoint is data, never code.
              Accepted layouts: chgnet's trainer files ``{"model": {"model_args", "state_dict"},
              ...}`` (the pretrained files have it too) and a bare ``model.as_dict()``,
              ``{"model_args", "state_dict"}``. A registered name wins over a file of the same
              name in the working directory: write ``./chgnet`` for the file;
            * an ASE ``Calculator``, returned as it is (``device`` and options must then be unset).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; default: CUDA when available,
            else the CPU.
        **options: Backend options, part of the cache key. ``"chgnet"``: ``model_name``
            (``"0.3.0"`` default, ``"0.2.0"``, ``"r2scan"``). ``"sevennet"``: passed to
            ``SevenNetCalculator`` (e.g. ``model="7net-0"``).

    Returns:
        A new calculator on every call, sharing the cached model with earlier calls that had the
        same spec, device and options. CHGNet stress is in eV/Å³ (ASE's unit and sign).

    Raises:
        InputError: unknown name (the message lists the registered ones), a missing or invalid
            checkpoint (the message names the file and the problem), an unavailable device or
            backend, or an option the backend does not take.
    """
    from ase.calculators.calculator import BaseCalculator

    if isinstance(spec, BaseCalculator):
        if device is not None or options:
            raise InputError(
                "spec: a Calculator instance is returned as it is; device and options cannot be "
                "applied to it"
            )
        return spec
    loaded = load_model(spec, device=device, **options)
    calc = loaded.new_calculator()
    setattr(calc, _INFO_ATTR, dict(loaded.info))
    return calc


def _qualname(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def describe(calc: Any) -> dict[str, Any]:
    """A small JSON-ready record of a potential, for run metadata.

    Args:
        calc: A calculator from :func:`get`, any ASE calculator, or a
            :class:`~solidion.potentials.batched.BatchedCHGNet`.

    Returns:
        For potentials made by solidion: ``name``, ``spec`` (the name, or the checkpoint's
        absolute path: ``get(record["spec"], **record["options"])`` rebuilds the potential),
        ``source`` ("pretrained" or "checkpoint"), ``package`` and ``package_version``,
        ``model_version``, ``weights_file``, ``sha256`` (of the weights file), ``device``,
        ``options`` and ``calculator``. For other calculators: ``name`` (class name),
        ``spec`` None, ``calculator`` and, where the calculator exposes them, ``device`` and
        ``model_version``.
    """
    info = getattr(calc, _INFO_ATTR, None)
    if info is not None:
        return dict(info)
    record: dict[str, Any] = {
        "name": type(calc).__name__,
        "spec": None,
        "calculator": _qualname(calc),
    }
    if getattr(calc, "device", None) is not None:
        record["device"] = str(calc.device)
    model = getattr(calc, "model", None)
    version = getattr(model, "version", None)
    if isinstance(version, str):
        record["model_version"] = version
    return record


def _register_builtins() -> None:
    register(
        "chgnet",
        _chgnet.load_pretrained,
        requires="chgnet",
        description="CHGNet pretrained universal potential (weights inside the chgnet wheel)",
    )
    register(
        "sevennet",
        _sevennet.load,
        requires="sevenn",
        description="SevenNet (optional extra: pip install 'solidion[sevennet]')",
    )


_register_builtins()

"""SevenNet loader (optional extra ``solidion[sevennet]``); sevenn is imported only when used.

``SevenNetCalculator`` reads its checkpoint in its constructor, so the cached object is one
calculator built once; :func:`solidion.potentials.get` hands out shallow copies of it (own
``atoms``/``results``, shared ``model``). solidion itself never downloads weights: a SevenNet
model name whose checkpoint is not on disk is sevenn's business, and fails without a network.
"""

from __future__ import annotations

import contextlib
import io
from importlib import metadata
from typing import Any

from solidion.errors import InputError
from solidion.potentials.base import LoadedModel, copying_factory

#: The message when the extra is missing (tests look for the pip command in it).
MISSING_EXTRA = "potential 'sevennet' needs the optional extra: pip install 'solidion[sevennet]'"


def load(device: str, **options: Any) -> LoadedModel:
    """Build a ``SevenNetCalculator`` once.

    Args:
        device: Resolved torch device.
        **options: Passed to ``sevenn.calculator.SevenNetCalculator`` (e.g. ``model="7net-0"``,
            ``modal=...``).

    Returns:
        The loaded model with a factory of fresh calculators sharing it.

    Raises:
        InputError: sevenn is not installed, or it rejects the options.
    """
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise InputError(MISSING_EXTRA) from exc
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            template = SevenNetCalculator(device=device, **options)
    except (TypeError, ValueError, FileNotFoundError) as exc:
        raise InputError(f"options: SevenNet could not be built with {options!r}: {exc}") from exc
    try:
        version = metadata.version("sevenn")
    except metadata.PackageNotFoundError:
        version = None
    info = {
        "name": "sevennet",
        "spec": "sevennet",
        "source": "pretrained" if "model" not in options else str(options["model"]),
        "package": "sevenn",
        "package_version": version,
        "model_version": str(options.get("model", "7net-0")),
        "weights_file": None,
        "sha256": None,
        "device": device,
        "options": {
            k: repr(v) if not isinstance(v, str | int | float | bool) else v
            for k, v in options.items()
        },
        "calculator": "sevenn.calculator.SevenNetCalculator",
    }
    return LoadedModel(getattr(template, "model", template), copying_factory(template), info)

"""Results dictionaries for the report tests, made once per session by solidion's analyses.

``quick_results`` is the realistic case (transport, structure, MSD and convergence blocks at
three temperatures, quick preset, so not converged); ``converged_results`` is the same numbers
marked converged under a converged preset; ``transport_only`` has only the transport block.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.report.synthetic import synthetic_results, transport_only_results


@pytest.fixture(scope="session")
def quick_results() -> dict[str, Any]:
    return synthetic_results()


@pytest.fixture(scope="session")
def converged_results(quick_results) -> dict[str, Any]:
    res = copy.deepcopy(quick_results)
    res["preset"] = "paper"
    res["preset_converged"] = True
    for row in res["convergence"]:
        row["converged"] = True
        row["reasons"] = []
    res["warnings"] = [w for w in res["warnings"] if not w.startswith("not converged")]
    return res


@pytest.fixture(scope="session")
def transport_only() -> dict[str, Any]:
    return transport_only_results()


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory, quick_results) -> Path:
    """A run directory with results.json and the report.html built from it (once)."""
    from solidion.report import build_report

    out = tmp_path_factory.mktemp("run")
    (out / "results.json").write_text(json.dumps(quick_results, indent=1))
    build_report(out)
    return out


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901)."""
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc

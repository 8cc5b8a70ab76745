"""Every ```python block of every page under docs/ runs, in page order, in one namespace.

The worked examples of the theory pages assert the numbers a reader can check by hand, so a
page whose example no longer gives its number fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if _BLOCK.search(p.read_text(encoding="utf-8")))


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fences of a markdown text, in order."""
    return [m.group(1) for m in _BLOCK.finditer(text)]


def test_block_extraction():
    text = "intro\n```python\nx = 1\n```\nprose\n```text\nnot run\n```\n```python\ny = x + 1\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x + 1\n"]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page: Path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(python_blocks(page.read_text(encoding="utf-8"))):
        code = compile(block, f"{page.relative_to(DOCS)}[block {i}]", "exec")
        exec(code, namespace)

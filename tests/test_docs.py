"""The runnable examples in docs/autograd.md and docs/ops.md run and their assertions hold.

Each page's ```python blocks run in order in one namespace (a page reads as one session);
illustrative blocks are marked ```text and skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["autograd.md", "ops.md"]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, source) of every ```python block."""
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    ]


def test_python_blocks_are_found() -> None:
    sample = "intro\n```python\nx = 1\n```\n```text\nnot run\n```\n```python\ny = 2\n```\n"
    assert python_blocks(sample) == [(3, "x = 1\n"), (9, "y = 2\n")]


@pytest.mark.parametrize("page", PAGES)
def test_documented_examples_run(page: str) -> None:
    text = (DOCS / page).read_text()
    blocks = python_blocks(text)
    assert len(blocks) >= 5, f"{page}: expected its runnable examples, found {len(blocks)}"
    namespace: dict = {"__name__": f"docs_{page.removesuffix('.md')}"}
    for line, source in blocks:
        # pad with newlines so a traceback points at the right line of the page
        code = compile("\n" * (line - 1) + source, str(DOCS / page), "exec")
        exec(code, namespace)

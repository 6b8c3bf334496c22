"""The runnable examples in every docs/*.md page run and their assertions hold.

Each page's ```python blocks run in order in one namespace (a page reads as one session), in a
temporary working folder (so files they write go nowhere), with examples/ importable.
Illustrative blocks are marked ```text (or ```console, or any language but python) and are not
run; so is a ```python block with ``<!-- not run: <reason> -->`` on the line before it. Blocks
that load MNIST skip the rest of their page, saying so, when the files are absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mnist_files import mnist_available

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
PAGES = sorted(path.name for path in DOCS.glob("*.md"))
# Pages that must keep at least this many runnable examples.
MIN_BLOCKS = {"autograd.md": 5, "ops.md": 5}
NOT_RUN_MARKER = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->\s*\n```python\n$")

def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, source) of every ```python block not marked ``<!-- not run: ... -->``."""
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
        if not NOT_RUN_MARKER.search(text[: match.start() + len("```python\n")])
    ]


def test_python_blocks_are_found() -> None:
    sample = "intro\n```python\nx = 1\n```\n```text\nnot run\n```\n```python\ny = 2\n```\n"
    assert python_blocks(sample) == [(3, "x = 1\n"), (9, "y = 2\n")]


def test_blocks_marked_not_run_are_left_out() -> None:
    sample = ("```python\nx = 1\n```\n<!-- not run: needs the network -->\n```python\n"
              "download()\n```\n```python\ny = 2\n```\n")
    assert python_blocks(sample) == [(2, "x = 1\n"), (9, "y = 2\n")]


@pytest.mark.parametrize("page", PAGES)
def test_documented_examples_run(page: str, tmp_path, monkeypatch) -> None:
    text = (DOCS / page).read_text()
    blocks = python_blocks(text)
    minimum = MIN_BLOCKS.get(page, 0)
    assert len(blocks) >= minimum, f"{page}: expected its runnable examples, found {len(blocks)}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    namespace: dict = {"__name__": f"docs_{page.removesuffix('.md')}"}
    for line, source in blocks:
        if "load_mnist(" in source and not mnist_available():
            pytest.skip(f"{page}: the block at line {line} (and the rest of the page) needs the "
                        "MNIST files, which are not present: set TINYGRAD_EDU_DATA to a folder "
                        "holding them")
        # pad with newlines so a traceback points at the right line of the page
        code = compile("\n" * (line - 1) + source, str(DOCS / page), "exec")
        exec(code, namespace)


def test_custom_layer_page_shows_the_example_files_verbatim() -> None:
    sources = [source for _, source in python_blocks((DOCS / "custom-layer.md").read_text())]
    for name in ("custom_layer.py", "test_custom_layer.py"):
        assert (EXAMPLES / name).read_text() in sources, (
            f"docs/custom-layer.md must show examples/{name} exactly as it is"
        )

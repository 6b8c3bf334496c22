"""The docs build as a book: ``mkdocs build --strict`` passes (no broken link, no missing image
or page) and every page of docs/ is in the book's navigation."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mkdocs_build_strict_succeeds(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    if "No module named mkdocs" in result.stderr:
        raise AssertionError("mkdocs is not installed: pip install '.[test]' (it is in the test "
                             "extra) or pip install mkdocs")
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_page_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    in_nav = set(re.findall(r":\s*([\w./-]+\.md)\s*$", config, flags=re.M))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert pages - in_nav == set(), "add these pages to the nav in mkdocs.yml"
    assert in_nav - pages == set(), "the nav in mkdocs.yml names pages that do not exist"

"""The README's promises: CI runs its test command verbatim, and its example prints what it says."""

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = bash_blocks(readme)[1].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_quick_start_trains_lenet5():
    readme = (ROOT / "README.md").read_text()
    assert bash_blocks(readme)[0].strip().startswith("pip install . && tinygrad-edu train")


def test_readme_python_examples_run_and_print_what_they_promise():
    readme = (ROOT / "README.md").read_text()
    first, *others = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(first, "README.md", "exec"), {})
    assert output.getvalue().strip() == "Tensor([2., 4., 6.])"
    for block in others:  # each asserts its own claims
        exec(compile(block, "README.md", "exec"), {})

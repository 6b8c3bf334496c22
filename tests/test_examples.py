"""The scripts in examples/ run: each experiment's --quick mode prints its results table and
saves its plots, plot_filters draws a model's filters, and the custom-layer proof passes."""

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mnist_files import needs_mnist

from tinygrad_edu import manual_seed
from tinygrad_edu.models import LeNet5

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="the example scripts draw their plots with matplotlib, which is not installed "
    "(pip install '.[plot]')",
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# script -> (a column of its results table, the plots it saves)
EXPERIMENTS = {
    "initialisation": ("| initialisation", ["initialisation_loss.png",
                                             "initialisation_gradients.png"]),
    "batch_size_lr": ("| lr", ["batch_size_lr_examples.png", "batch_size_lr_time.png"]),
    "optimizers": ("| optimizer", ["optimizers_loss.png"]),
    "vanishing_gradients": ("| set-up", ["vanishing_gradients_layers.png",
                                         "vanishing_gradients_loss.png"]),
    "overfitting": ("| set-up", ["overfitting_accuracy.png"]),
    "mnist_ladder": ("| model", ["mnist_ladder.png"]),
}


def run_example(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def test_every_experiment_script_is_tested():
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    helpers = {"common", "custom_layer", "test_custom_layer", "plot_filters"}
    assert scripts - helpers == set(EXPERIMENTS)


@needs_mnist
@needs_matplotlib
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_quick_mode_prints_its_table_and_saves_its_plots(name, tmp_path):
    column, plots = EXPERIMENTS[name]
    result = run_example(f"{name}.py", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert table and table[0].startswith(column), result.stdout
    assert set(table[1]) <= {"|", "-"}  # the Markdown header rule
    assert len(table) >= 3
    for plot in plots:
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG"), plot
        assert f"wrote {tmp_path / plot}" in result.stdout


@needs_matplotlib
def test_plot_filters_draws_the_first_convolution(tmp_path):
    manual_seed(0)
    LeNet5().save(tmp_path / "model.npz")
    out = tmp_path / "filters.png"
    result = run_example("plot_filters.py", str(tmp_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "conv1.weight (6, 1, 5, 5)" in result.stdout
    assert out.read_bytes().startswith(b"\x89PNG")


def test_custom_layer_proof_passes(monkeypatch):
    # examples/test_custom_layer.py is the file docs/custom-layer.md shows; run its tests here
    # (under this suite's hypothesis settings) so the suite proves what the page promises.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    proof = importlib.import_module("test_custom_layer")
    tests = [getattr(proof, name) for name in dir(proof) if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()

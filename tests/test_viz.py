"""tinygrad_edu.viz: graph drawings, the gradient-flow table and its warnings, and the CLI parts
that use them (``graph``, ``train --log-gradients``)."""

import importlib.util
import json
import math
import re
import shutil
import sys

import numpy as np
import pytest
from mnist_files import needs_mnist

from tinygrad_edu import Tensor, nn
from tinygrad_edu.cli import main
from tinygrad_edu.nn import functional as F
from tinygrad_edu.viz import (
    EXPLODING_NORM,
    FIRST_LAST_RATIO,
    VANISHING_NORM,
    GradientRow,
    format_gradient_flow,
    gradient_flow,
    gradient_warnings,
    mean_gradient_flow,
    plot_gradient_flow,
    render,
    retain_grads,
    to_dot,
)


def scalar_graph():
    """L = tanh(a * b + a) at a = 2, b = -0.5: five nodes (Tanh, Add, Mul, a, b), five edges."""
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(-0.5, requires_grad=True)
    loss = (a * b + a).tanh()
    return a, b, loss


def node_labels(dot: str) -> dict[str, str]:
    return dict(re.findall(r'^  (n\d+) \[label="(.*?)"', dot, flags=re.M))


def edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^  (n\d+) -> (n\d+);", dot, flags=re.M)


def test_to_dot_draws_one_node_per_op_and_leaf_with_its_label():
    a, b, loss = scalar_graph()
    dot = to_dot(loss, {"a": a, "b": b})
    labels = node_labels(dot)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert [label.split("\\n")[0] for label in labels.values()] == ["Tanh", "Add", "Mul", "a", "b"]
    assert all("shape () float32" in label for label in labels.values())
    assert "value 2" in labels["n3"] and "value -0.5" in labels["n4"]
    assert sorted(edges(dot)) == sorted([("n1", "n0"), ("n2", "n1"), ("n3", "n1"), ("n3", "n2"),
                                         ("n4", "n2")])
    assert "\\ngrad" not in dot  # no backward yet
    assert to_dot(scalar_graph()[2]) == to_dot(loss)  # ids do not depend on memory addresses


def test_to_dot_shows_gradients_after_backward():
    a, b, loss = scalar_graph()
    retain_grads(loss)
    loss.backward()
    labels = node_labels(to_dot(loss, {"a": a, "b": b}))
    d = 2.0 * -0.5 + 2.0
    local = 1 - math.tanh(d) ** 2  # dL/d(a*b + a)
    assert f"grad {local * (-0.5 + 1):.4g}" in labels["n3"]  # dL/da = local * (b + 1)
    assert f"grad {local * 2.0:.4g}" in labels["n4"]  # dL/db = local * a
    assert f"grad {local:.4g}" in labels["n1"] and "grad 1" in labels["n0"]


def test_to_dot_names_module_parameters_and_gives_gradient_norms():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = F.cross_entropy(model(Tensor(np.ones((2, 3), np.float32))), np.array([0, 1]))
    loss.backward()
    labels = node_labels(to_dot(loss, model)).values()
    weight = next(label for label in labels if label.startswith("0.weight"))
    assert "shape (4, 3) float32" in weight
    assert f"grad norm {np.linalg.norm(model[0].weight.grad.data):.4g}" in weight
    assert any(label.startswith("2.bias") for label in labels)
    assert any(label.startswith("input\\nshape (2, 3)") for label in labels)
    assert sum(label.startswith("MatMul") for label in labels) == 2


def test_to_dot_rejects_what_it_cannot_draw():
    with pytest.raises(TypeError, match="expected a Tensor"):
        to_dot(np.ones(3))
    with pytest.raises(TypeError, match="Module or a dict"):
        to_dot(Tensor(1.0), params=[Tensor(1.0)])


def test_render_without_dot_writes_the_dot_file_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, _, loss = scalar_graph()
    notes = []
    written = render(loss, tmp_path / "graph.svg", log=notes.append)
    assert written == tmp_path / "graph.dot"
    assert written.read_text() == to_dot(loss)
    assert not (tmp_path / "graph.svg").exists()
    assert len(notes) == 1 and "'dot' program is not installed" in notes[0]
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]  # no temporary file left


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_draws_svg_with_dot(tmp_path):
    _, _, loss = scalar_graph()
    written = render(loss, tmp_path / "graph.svg", log=pytest.fail)
    assert written == tmp_path / "graph.svg" and "<svg" in written.read_text()


def test_render_rejects_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        render(Tensor(1.0), tmp_path / "graph.jpg")


def small_model_after_backward():
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 2))
    for index, param in enumerate(model.parameters()):
        param.data[...] = np.linspace(-1, 1, param.size).reshape(param.shape) * (index + 1)
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32))
    F.cross_entropy(model(x), np.array([1, 0])).backward()
    return model


def test_gradient_flow_matches_numpy():
    model = small_model_after_backward()
    rows = gradient_flow(model)
    assert [row.name for row in rows] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for row, (_, param) in zip(rows, model.named_parameters()):
        weight, grad = param.data.astype(np.float64), param.grad.data.astype(np.float64)
        assert row.shape == param.shape
        assert row.weight_norm == pytest.approx(np.sqrt((weight**2).sum()))
        assert row.grad_norm == pytest.approx(np.sqrt((grad**2).sum()))
        assert row.grad_mean == pytest.approx(grad.mean())
        assert row.grad_abs_mean == pytest.approx(np.abs(grad).mean())
        assert row.ratio == pytest.approx(row.grad_norm / row.weight_norm)
    assert [row.name for row in gradient_flow(dict(model.named_parameters()))] == [
        row.name for row in rows]


def test_gradient_flow_marks_missing_gradients_and_zero_weights():
    unused, zero = nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.zeros(2, np.float32))
    (zero * 3.0).sum().backward()
    missing, zero_row = gradient_flow({"unused": unused, "zero": zero})
    assert math.isnan(missing.grad_norm) and math.isnan(missing.ratio)
    assert zero_row.weight_norm == 0 and zero_row.ratio == math.inf
    table = format_gradient_flow([missing, zero_row]).splitlines()
    assert table[0].split()[:2] == ["parameter", "shape"]
    assert table[1].split()[2:] == ["1.41", "-", "-", "-", "-"]
    assert table[2].split()[-1] == "inf"


def test_mean_gradient_flow_averages_field_by_field():
    first = [GradientRow("w", (2, 2), 1.0, 2.0, 0.5, 1.0, 2.0)]
    second = [GradientRow("w", (2, 2), 3.0, 4.0, -0.5, 2.0, 4.0 / 3)]
    (row,) = mean_gradient_flow([first, second])
    assert (row.name, row.shape, row.weight_norm, row.grad_norm, row.grad_mean) == (
        "w", (2, 2), 2.0, 3.0, 0.0)
    assert mean_gradient_flow([]) == []


def row(name, grad_norm, shape=(4, 4)):
    return GradientRow(name, shape, 1.0, grad_norm, 0.0, grad_norm / 16, grad_norm)


def test_gradient_warnings_thresholds():
    assert (VANISHING_NORM, EXPLODING_NORM, FIRST_LAST_RATIO) == (1e-7, 1e3, 1e4)
    healthy = [row("fc1.weight", 0.01), row("fc1.bias", 0.5, (4,)), row("fc2.weight", 1.0)]
    assert gradient_warnings(healthy) == []
    at_the_limits = [row("fc1.weight", 1e-3), row("fc2.weight", 1e-7), row("fc3.weight", 10.0)]
    assert gradient_warnings(at_the_limits) == []  # thresholds are strict inequalities

    (warning,) = gradient_warnings([row("fc1.weight", 5e-8, (4,)), row("fc2.weight", 1.0)])
    assert warning.startswith("vanishing gradient: fc1.weight") and "< 1e-07" in warning
    (warning,) = gradient_warnings([row("fc1.weight", 2e3), row("fc2.weight", 1.0)])
    assert warning.startswith("exploding gradient: fc1.weight") and "> 1000" in warning
    (warning,) = gradient_warnings([row("fc1.weight", 1e-5), row("fc1.bias", 1e-3, (4,)),
                                    row("fc2.weight", 0.5)])
    assert warning.startswith("gradient shrinks by a factor 5e+04 (> 10000)")
    assert "fc1.weight" in warning and "fc2.weight" in warning
    grows = gradient_warnings([row("fc1.weight", 500.0), row("fc2.weight", 0.01)])
    assert grows[0].startswith("gradient grows by a factor 5e+04")
    assert gradient_warnings([row("w", math.nan), row("v", 1.0)]) == []


def test_plot_gradient_flow_draws_rows_and_histories(tmp_path):
    pytest.importorskip("matplotlib")
    rows = gradient_flow(small_model_after_backward())
    assert plot_gradient_flow(rows, tmp_path / "rows.png") == tmp_path / "rows.png"
    plot_gradient_flow({"fc1.weight": [0.5, 0.25], "fc2.weight": [1.0, None]},
                       tmp_path / "history.png")
    for name in ("rows.png", "history.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_plot_gradient_flow_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_edu\[plot\]'"):
        plot_gradient_flow([], tmp_path / "never.png")


def test_graph_command_draws_a_model_with_named_parameters(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["graph", "--model", "lenet5", "--out", str(tmp_path / "lenet.svg")]) == 0
    out = capsys.readouterr().out
    assert "Graphviz's 'dot' program is not installed" in out
    assert f"wrote {tmp_path / 'lenet.dot'}" in out
    labels = list(node_labels((tmp_path / "lenet.dot").read_text()).values())
    for name in ("conv1.weight", "conv2.weight", "fc3.bias", "Conv2d", "MaxPool2d", "MatMul"):
        assert any(label.startswith(name) for label in labels), name
    assert any(label.startswith("input\\nshape (2, 1, 28, 28)") for label in labels)
    assert all("grad" in label for label in labels if not label.startswith("input"))


def test_graph_command_rejects_unknown_models(capsys):
    with pytest.raises(SystemExit):
        main(["graph", "--model", "resnet"])
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


@needs_mnist
def test_train_log_gradients_records_and_plots_gradient_norms(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--limit", "256", "--epochs", "1", "--model", "softmax", "--no-verify",
                 "--log-gradients", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    norms = metrics["gradient_norms"]
    assert sorted(norms) == ["linear.bias", "linear.weight"]
    assert all(len(values) == 1 and 0 < values[0] < 1e3 for values in norms.values())
    printed = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is None:
        assert "no gradients.png was drawn" in printed and "tinygrad_edu[plot]" in printed
    else:
        assert (out / "gradients.png").read_bytes().startswith(b"\x89PNG")
        assert f"wrote {out / 'gradients.png'}" in printed

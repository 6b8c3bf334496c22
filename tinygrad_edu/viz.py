"""Seeing backpropagation: the graph behind a tensor as Graphviz DOT, and how gradients flow.

The graph
---------
Every tensor an op made remembers that op in ``tensor.grad_fn`` (a ``Context`` with ``.name``
and ``.inputs``), so walking ``grad_fn.inputs`` from a loss back to the leaves visits the whole
computation. :func:`to_dot` writes that walk as DOT text, one node per op and per leaf:

    op node     Mul                      leaf node   fc1.weight
                shape (2, 3) float32                 shape (120, 400) float32
                grad norm 0.53                       grad norm 1.2

Node ids (``n0`` is the tensor you pass, then the others in the order a depth-first walk
through the inputs meets them) do not depend on memory addresses, so the text is the same
every run. A one-element tensor shows its value and its (signed) gradient rather than a norm.
A leaf's gradient is its ``.grad``; an op's output keeps one only if ``retain_grad()`` was
called on it (:func:`retain_grads` does that for a whole graph). :func:`render` turns the text
into SVG or PNG with the ``dot`` program when it is installed.

Gradient flow
-------------
:func:`gradient_flow` measures, per named parameter after a backward pass, the weight norm,
the gradient norm, mean and mean absolute value, and the ratio of gradient to weight norm
(roughly how far one SGD step with learning rate 1 would move the weight).
:func:`gradient_warnings` flags the numbers that mean trouble; its thresholds are
:data:`VANISHING_NORM`, :data:`EXPLODING_NORM` and :data:`FIRST_LAST_RATIO`.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .files import atomic_write
from .nn import Module
from .tensor import Tensor

# A parameter whose gradient norm is below this gets (almost) no update: "vanishing".
VANISHING_NORM = 1e-7
# A gradient norm above this makes one step move a weight far beyond its scale: "exploding".
EXPLODING_NORM = 1e3
# First-layer and last-layer gradient norms more than this factor apart: the gradient shrinks
# (or grows) on its way back through the layers, so the early layers learn at another speed.
FIRST_LAST_RATIO = 1e4

RENDER_FORMATS = ("svg", "png", "pdf")

Params = Module | Mapping[str, Tensor] | None


def _named(params: Params) -> list[tuple[str, Tensor]]:
    """(name, tensor) pairs from a Module's named_parameters() or a name -> Tensor mapping."""
    if params is None:
        return []
    if isinstance(params, Module):
        return list(params.named_parameters())
    if isinstance(params, Mapping):
        return list(params.items())
    raise TypeError(
        f"params must be a Module or a dict of name -> Tensor, got {type(params).__name__}"
    )


# ---------------------------------------------------------------------------------- the graph


def _walk(root: Tensor) -> list[Tensor]:
    """Every tensor in the graph behind ``root``, each once, in depth-first order (root first)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        order.append(tensor)
        if tensor.grad_fn is not None:
            inputs = [x for x in tensor.grad_fn.inputs if isinstance(x, Tensor)]
            stack.extend(reversed(inputs))  # so the first input is visited first
    return order


def retain_grads(tensor: Tensor) -> None:
    """Call ``retain_grad()`` on every op output behind ``tensor``, so that after
    ``backward`` each op node of the drawing shows its gradient too."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"retain_grads: expected a Tensor, got {type(tensor).__name__}")
    for node in _walk(tensor):
        if node.grad_fn is not None:
            node.retain_grad()


def _number(value: float) -> str:
    return f"{value:.4g}"


def _label(tensor: Tensor, title: str) -> str:
    lines = [title, f"shape {tuple(tensor.shape)} {tensor.dtype}"]
    if tensor.size == 1:
        lines.append(f"value {_number(float(tensor.data.reshape(())))}")
    if tensor.grad is not None:
        grad = tensor.grad.data
        if grad.size == 1:
            lines.append(f"grad {_number(float(grad.reshape(())))}")
        else:
            lines.append(f"grad norm {_number(float(np.linalg.norm(grad)))}")
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def to_dot(tensor: Tensor, params: Params = None) -> str:
    """Graphviz DOT text of the graph that computed ``tensor``.

    One box per op (its name, e.g. ``MatMul``) and per leaf. ``params`` (a Module, or a dict
    of name -> Tensor) names the leaves that are its parameters; other leaves that require a
    gradient are called ``leaf``, the rest ``input``. The drawn tensor has a double border.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = {id(value): name for name, value in _named(params)}
    nodes = _walk(tensor)
    node_id = {id(node): f"n{index}" for index, node in enumerate(nodes)}
    lines = [
        "digraph tinygrad_edu {",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    for node in nodes:
        if node.grad_fn is not None:
            title, colour = node.grad_fn.name, "#dbe9f6"
        elif id(node) in names:
            title, colour = names[id(node)], "#fff2cc"
        elif node.requires_grad:
            title, colour = "leaf", "#fff2cc"
        else:
            title, colour = "input", "#eeeeee"
        extra = ", peripheries=2" if node is tensor else ""
        lines.append(
            f'  {node_id[id(node)]} [label="{_label(node, title)}", fillcolor="{colour}"{extra}];'
        )
    for node in nodes:
        if node.grad_fn is None:
            continue
        for parent in node.grad_fn.inputs:
            if isinstance(parent, Tensor):
                lines.append(f"  {node_id[id(parent)]} -> {node_id[id(node)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor: Tensor, path: str | os.PathLike, params: Params = None,
           log: Callable[[str], None] = print) -> Path:
    """Draw the graph behind ``tensor`` into ``path`` (.svg, .png, .pdf or .dot).

    Needs Graphviz's ``dot`` program for pictures. Without it, the DOT text is written next to
    ``path`` with the suffix ``.dot`` and a note says how to turn it into a picture. Returns the
    path actually written. Files are written atomically.
    """
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in (*RENDER_FORMATS, "dot"):
        raise ValueError(
            f"render: cannot tell the format from {path.name!r}; end the name in "
            + ", ".join(f".{k}" for k in (*RENDER_FORMATS, "dot"))
        )
    text = to_dot(tensor, params)
    dot_program = shutil.which("dot")
    if kind == "dot" or dot_program is None:
        target = path.with_suffix(".dot")
        with atomic_write(target) as handle:
            handle.write(text.encode())
        if kind != "dot":
            log(f"note: Graphviz's 'dot' program is not installed, so {path.name} was not drawn; "
                f"wrote the graph as {target} instead (draw it with: dot -T{kind} {target} "
                f"-o {path}; install Graphviz with e.g. 'apt-get install graphviz')")
        return target
    result = subprocess.run([dot_program, f"-T{kind}"], input=text.encode(),
                            capture_output=True, timeout=120)
    if result.returncode != 0:
        raise OSError(f"render: dot -T{kind} failed: {result.stderr.decode().strip()}")
    with atomic_write(path) as handle:
        handle.write(result.stdout)
    return path


# ---------------------------------------------------------------------------- gradient flow


@dataclass
class GradientRow:
    """One parameter's numbers after a backward pass (NaN where it has no gradient)."""

    name: str
    shape: tuple[int, ...]
    weight_norm: float
    grad_norm: float
    grad_mean: float
    grad_abs_mean: float
    ratio: float  # grad_norm / weight_norm (inf for an all-zero weight with a gradient)


def gradient_flow(model: Module | Mapping[str, Tensor]) -> list[GradientRow]:
    """Per named parameter of ``model`` (a Module or a dict name -> Tensor), in order: weight
    norm, gradient norm, gradient mean and mean absolute value, gradient/weight norm ratio.
    Call it after ``loss.backward()`` and before ``optimizer.step()``."""
    rows = []
    for name, param in _named(model):
        weight = param.data.astype(np.float64)
        weight_norm = float(np.linalg.norm(weight))
        if param.grad is None:
            grad_norm = grad_mean = grad_abs_mean = ratio = math.nan
        else:
            grad = param.grad.data.astype(np.float64)
            grad_norm = float(np.linalg.norm(grad))
            grad_mean = float(grad.mean()) if grad.size else 0.0
            grad_abs_mean = float(np.abs(grad).mean()) if grad.size else 0.0
            if weight_norm > 0:
                ratio = grad_norm / weight_norm
            else:
                ratio = math.inf if grad_norm > 0 else 0.0
        rows.append(GradientRow(name, tuple(param.shape), weight_norm, grad_norm, grad_mean,
                                grad_abs_mean, ratio))
    return rows


def mean_gradient_flow(flows: Sequence[Sequence[GradientRow]]) -> list[GradientRow]:
    """The average of several ``gradient_flow`` tables of the same model (e.g. one epoch's
    batches), field by field."""
    if not flows:
        return []
    numeric = [f.name for f in fields(GradientRow) if f.name not in ("name", "shape")]
    rows = []
    for same_parameter in zip(*flows):
        values = {key: float(np.mean([getattr(row, key) for row in same_parameter]))
                  for key in numeric}
        rows.append(GradientRow(same_parameter[0].name, same_parameter[0].shape, **values))
    return rows


def format_gradient_flow(rows: Sequence[GradientRow]) -> str:
    """``gradient_flow`` rows as a plain-text table, one line per parameter."""
    header = ("parameter", "shape", "weight norm", "grad norm", "grad mean", "grad |mean|",
              "grad/weight")
    body = [
        (row.name, "x".join(map(str, row.shape)) or "()",
         *(_cell(value) for value in (row.weight_norm, row.grad_norm, row.grad_mean,
                                      row.grad_abs_mean, row.ratio)))
        for row in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    lines = []
    for line in (header, *body):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(line[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3g}"


def gradient_warnings(rows: Sequence[GradientRow]) -> list[str]:
    """Plain-language warnings about gradients that vanish or explode, with the thresholds:

    - a parameter's gradient norm below ``VANISHING_NORM`` (1e-7): it barely learns;
    - a parameter's gradient norm above ``EXPLODING_NORM`` (1e3): steps overshoot;
    - the first layer's and the last layer's weight gradient norms more than
      ``FIRST_LAST_RATIO`` (1e4) apart. Layers are the parameters with two or more axes
      (weight matrices and kernels), in the model's order.

    Parameters without a gradient (NaN) are skipped. An empty list means nothing to report.
    """
    warnings = []
    measured = [row for row in rows if not math.isnan(row.grad_norm)]
    for row in measured:
        if row.grad_norm < VANISHING_NORM:
            warnings.append(f"vanishing gradient: {row.name} has gradient norm "
                            f"{row.grad_norm:.3g} < {VANISHING_NORM:g}")
        elif row.grad_norm > EXPLODING_NORM:
            warnings.append(f"exploding gradient: {row.name} has gradient norm "
                            f"{row.grad_norm:.3g} > {EXPLODING_NORM:g}")
    layers = [row for row in measured if len(row.shape) >= 2]
    if len(layers) >= 2:
        first, last = layers[0], layers[-1]
        low, high = sorted((first.grad_norm, last.grad_norm))
        if high > 0 and (low == 0 or high / low > FIRST_LAST_RATIO):
            trend = "shrinks" if first.grad_norm < last.grad_norm else "grows"
            factor = "inf" if low == 0 else f"{high / low:.3g}"
            warnings.append(
                f"gradient {trend} by a factor {factor} (> {FIRST_LAST_RATIO:g}) from the last "
                f"layer ({last.name}, norm {last.grad_norm:.3g}) back to the first "
                f"({first.name}, norm {first.grad_norm:.3g})"
            )
    return warnings


def plot_gradient_flow(rows_or_history: Sequence[GradientRow] | Mapping[str, Iterable[float]],
                       path: str | os.PathLike, title: str = "gradient flow") -> Path:
    """Draw gradient norms into a PNG at ``path`` (needs matplotlib: ``tinygrad_edu[plot]``).

    Given ``gradient_flow`` rows: one bar per parameter (gradient norm and mean absolute
    gradient, log scale). Given a history ``{name: [value per epoch]}`` (what
    ``train --log-gradients`` records): one line per parameter over the epochs.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plot_gradient_flow needs matplotlib: pip install 'tinygrad_edu[plot]'"
        ) from None
    path = Path(path)
    if isinstance(rows_or_history, Mapping):
        figure, axes = plt.subplots(figsize=(8, 4.5))
        for name, values in rows_or_history.items():
            values = list(values)
            axes.plot(range(1, len(values) + 1), values, marker="o", label=name)
        axes.set(xlabel="epoch", ylabel="gradient norm (mean over batches)", yscale="log",
                 title=title)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        rows = list(rows_or_history)
        figure, axes = plt.subplots(figsize=(max(6, 0.5 * len(rows) + 2), 4.5))
        positions = np.arange(len(rows))
        axes.bar(positions - 0.2, [r.grad_norm for r in rows], width=0.4, label="grad norm")
        axes.bar(positions + 0.2, [r.grad_abs_mean for r in rows], width=0.4,
                 label="mean |grad|")
        axes.set_xticks(positions, [r.name for r in rows], rotation=60, ha="right", fontsize=8)
        axes.set(ylabel="gradient", yscale="log", title=title)
        axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return path


__all__ = [
    "EXPLODING_NORM",
    "FIRST_LAST_RATIO",
    "VANISHING_NORM",
    "GradientRow",
    "format_gradient_flow",
    "gradient_flow",
    "gradient_warnings",
    "mean_gradient_flow",
    "plot_gradient_flow",
    "render",
    "retain_grads",
    "to_dot",
]

"""The catalogue of built-in backward rules with small float64 inputs, ready to gradcheck.

``tinygrad-edu gradcheck`` runs all of it and prints a table; ``tinygrad-edu train`` runs the
entries its model uses before the first epoch. Inputs are drawn away from kinks (relu and abs at
0, ties in max) and domain edges (log near 0), where finite differences measure nothing useful.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import nn
from .gradcheck import GradcheckError, check_gradients, first_derivative
from .nn import functional as F
from .random import manual_seed
from .tensor import Tensor, cat, maximum, minimum, stack, where

Check = tuple[Callable, tuple]


def _tensor(rng: np.random.Generator, *shape: int, low: float = -2.0, high: float = 2.0,
            away_from_zero: bool = False) -> Tensor:
    values = rng.uniform(low, high, shape)
    if away_from_zero:  # keep |x| >= 0.2 so the kink at 0 is far from x +- eps
        values = np.sign(values) * (np.abs(values) + 0.2)
    return Tensor(values, requires_grad=True)


def _distinct(rng: np.random.Generator, *shape: int) -> Tensor:
    """Values at least 0.05 apart in random order: no ties for max, min or max pooling."""
    values = rng.permutation(int(np.prod(shape))) * 0.05 + rng.uniform(-1, 0)
    return Tensor(values.reshape(shape), requires_grad=True)


def _layer(module: nn.Module, x: Tensor) -> Check:
    """Check a layer with respect to its input and every parameter."""
    module.double()
    parameters = tuple(module.parameters())
    return (lambda inp, *_: module(inp)), (x, *parameters)


def _seeded(fn: Callable) -> Callable:
    """Reseed before each call so a random op (dropout) draws the same mask every time."""
    def wrapped(*args):
        manual_seed(0)
        return fn(*args)
    return wrapped


CATALOGUE: dict[str, Callable[[np.random.Generator], Check]] = {
    # elementwise
    "add": lambda r: (lambda a, b: a + b, (_tensor(r, 3, 1), _tensor(r, 4))),
    "sub": lambda r: (lambda a, b: a - b, (_tensor(r, 2, 3), _tensor(r, 3))),
    "mul": lambda r: (lambda a, b: a * b, (_tensor(r, 2, 3), _tensor(r, 2, 1))),
    "div": lambda r: (lambda a, b: a / b, (_tensor(r, 2, 3), _tensor(r, 3, away_from_zero=True))),
    "pow": lambda r: (lambda a, b: a**b, (_tensor(r, 2, 3, low=0.5), _tensor(r, 3))),
    "neg": lambda r: (lambda a: -a, (_tensor(r, 2, 3),)),
    "exp": lambda r: (lambda a: a.exp(), (_tensor(r, 2, 3),)),
    "log": lambda r: (lambda a: a.log(), (_tensor(r, 2, 3, low=0.2),)),
    "sqrt": lambda r: (lambda a: a.sqrt(), (_tensor(r, 2, 3, low=0.2),)),
    "tanh": lambda r: (lambda a: a.tanh(), (_tensor(r, 2, 3),)),
    "sigmoid": lambda r: (lambda a: a.sigmoid(), (_tensor(r, 2, 3),)),
    "relu": lambda r: (lambda a: a.relu(), (_tensor(r, 2, 3, away_from_zero=True),)),
    "abs": lambda r: (lambda a: a.abs(), (_tensor(r, 2, 3, away_from_zero=True),)),
    "clip": lambda r: (lambda a: a.clip(-0.5, 0.5),
                       (Tensor(np.array([[-1.0, -0.3, 0.1], [0.4, 0.9, -0.7]]),
                               requires_grad=True),)),
    "maximum": lambda r: (lambda a, b: maximum(a, b), (_distinct(r, 2, 3), _distinct(r, 3) * 1.01)),
    "minimum": lambda r: (lambda a, b: minimum(a, b), (_distinct(r, 2, 3), _distinct(r, 3) * 1.01)),
    "where": lambda r: (lambda a, b: where(np.array([[True, False, True]]), a, b),
                        (_tensor(r, 2, 3), _tensor(r, 3))),
    # reductions
    "sum": lambda r: (lambda a: a.sum(axis=1), (_tensor(r, 2, 3, 2),)),
    "mean": lambda r: (lambda a: a.mean(axis=(0, 2), keepdims=True), (_tensor(r, 2, 3, 2),)),
    "max": lambda r: (lambda a: a.max(axis=-1), (_distinct(r, 3, 4),)),
    "min": lambda r: (lambda a: a.min(axis=0), (_distinct(r, 3, 4),)),
    "logsumexp": lambda r: (lambda a: a.logsumexp(axis=1), (_tensor(r, 3, 4),)),
    "softmax": lambda r: (lambda a: a.softmax(axis=-1), (_tensor(r, 3, 4),)),
    "log_softmax": lambda r: (lambda a: a.log_softmax(axis=-1), (_tensor(r, 3, 4),)),
    # movement
    "reshape": lambda r: (lambda a: a.reshape(3, 2), (_tensor(r, 2, 3),)),
    "permute": lambda r: (lambda a: a.permute(2, 0, 1), (_tensor(r, 2, 3, 2),)),
    "expand": lambda r: (lambda a: a.expand(2, 3, 4), (_tensor(r, 3, 1),)),
    "getitem": lambda r: (lambda a: a[np.array([0, 2, 0]), 1:], (_tensor(r, 3, 3),)),
    "pad": lambda r: (lambda a: a.pad(((1, 0), (0, 2))), (_tensor(r, 2, 3),)),
    "cat": lambda r: (lambda a, b: cat([a, b], axis=1), (_tensor(r, 2, 3), _tensor(r, 2, 1))),
    "stack": lambda r: (lambda a, b: stack([a, b], axis=0), (_tensor(r, 2, 3), _tensor(r, 2, 3))),
    "flip": lambda r: (lambda a: a.flip(0), (_tensor(r, 2, 3),)),
    # linear algebra
    "matmul": lambda r: (lambda a, b: a @ b, (_tensor(r, 2, 3, 4), _tensor(r, 4, 2))),
    # convolution and pooling
    "conv2d": lambda r: (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                         (_tensor(r, 2, 2, 5, 5), _tensor(r, 3, 2, 3, 3), _tensor(r, 3))),
    "max_pool2d": lambda r: (lambda x: F.max_pool2d(x, 2), (_distinct(r, 2, 2, 4, 4),)),
    "avg_pool2d": lambda r: (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
                             (_tensor(r, 2, 2, 5, 5),)),
    # losses
    "cross_entropy": lambda r: (lambda x: F.cross_entropy(x, np.array([0, 3, 1])),
                                (_tensor(r, 3, 4),)),
    "mse_loss": lambda r: (lambda x, y: F.mse_loss(x, y), (_tensor(r, 3, 4), _tensor(r, 3, 4))),
    # layers (with respect to the input and every parameter)
    "Linear": lambda r: _layer(nn.Linear(4, 3), _tensor(r, 2, 4)),
    "Conv2d": lambda r: _layer(nn.Conv2d(2, 3, 3, padding=1), _tensor(r, 2, 2, 4, 4)),
    "BatchNorm1d": lambda r: _layer(nn.BatchNorm1d(3), _tensor(r, 4, 3)),
    "BatchNorm2d": lambda r: _layer(nn.BatchNorm2d(2), _tensor(r, 3, 2, 2, 2)),
    "Dropout": lambda r: (_seeded(nn.Dropout(0.5)), (_tensor(r, 3, 4),)),
    "Flatten": lambda r: _layer(nn.Flatten(), _tensor(r, 2, 3, 2)),
    "MaxPool2d": lambda r: _layer(nn.MaxPool2d(2), _distinct(r, 1, 2, 4, 4)),
    "AvgPool2d": lambda r: _layer(nn.AvgPool2d(2), _tensor(r, 1, 2, 4, 4)),
    "ReLU": lambda r: _layer(nn.ReLU(), _tensor(r, 2, 3, away_from_zero=True)),
    "Sigmoid": lambda r: _layer(nn.Sigmoid(), _tensor(r, 2, 3)),
    "Tanh": lambda r: _layer(nn.Tanh(), _tensor(r, 2, 3)),
    "Softmax": lambda r: _layer(nn.Softmax(axis=-1), _tensor(r, 2, 3)),
    "LogSoftmax": lambda r: _layer(nn.LogSoftmax(axis=-1), _tensor(r, 2, 3)),
}


def run_checks(names: list[str], second_order: bool = False, seed: int = 0,
               log: Callable[[str], None] = print) -> list[str]:
    """Gradcheck each named entry, print one table row per check; return the failed names."""
    failed = []
    log(f"{'rule':<16} {'order':>5} {'max abs error':>14} {'max rel error':>14}  result")
    for name in names:
        orders = (1, 2) if second_order else (1,)
        for order in orders:
            fn, inputs = CATALOGUE[name](np.random.default_rng(seed))
            if order == 2:
                fn, inputs = first_derivative(fn, inputs)
            result = check_gradients(fn, inputs)
            log(f"{name:<16} {order:>5} {result.max_abs_error:>14.2e} "
                f"{result.max_rel_error:>14.2e}  {'pass' if result.passed else 'FAIL'}")
            if not result.passed:
                log(result.report())
                failed.append(name)
    log(f"{len(names) - len(set(failed))} of {len(names)} rules passed")
    return failed


def rules_used_by(model: nn.Module) -> list[str]:
    """The catalogue entries a model's forward and loss go through."""
    names = []
    for module in model.modules():
        name = type(module).__name__
        if name in CATALOGUE and name not in names:
            names.append(name)
    return names + ["relu", "cross_entropy"]


def verify_model(model: nn.Module, log: Callable[[str], None] = print) -> None:
    """Gradcheck the rules a model uses; raise GradcheckError with the report if one fails."""
    log("checking the backward rules this model uses (float64 finite differences):")
    failed = run_checks(rules_used_by(model), log=lambda line: log("  " + line))
    if failed:
        raise GradcheckError(f"backward rule(s) {', '.join(failed)} failed the gradient check")

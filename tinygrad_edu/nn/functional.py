"""Stateless forms of the layers and the losses: ``import tinygrad_edu.nn.functional as F``.

Everything here is written with Tensor operations, so it is differentiable (twice, for the
smooth ones) without a backward rule of its own. Names, argument order and defaults are
PyTorch's, with numpy's ``axis=`` where PyTorch says ``dim=``. The convolution and pooling ops
live in ``ops/nnops.py`` (they need fast kernels) and are handed on from here.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ops.normalization import BatchNorm
from ..random import generator
from ..tensor import Tensor, stack

__all__ = [
    "avg_pool2d",  # noqa: F822 (handed on from ops.nnops by __getattr__ below)
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "conv2d",  # noqa: F822 (handed on from ops.nnops by __getattr__ below)
    "cross_entropy",
    "dropout",
    "linear",
    "log_softmax",
    "max_pool2d",  # noqa: F822 (handed on from ops.nnops by __getattr__ below)
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------------ layers and activations


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with ``weight`` of shape (out_features, in_features)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not end in the {weight.shape[-1]} "
            f"features that weight of shape {weight.shape} expects"
        )
    out = input @ weight.T
    return out if bias is None else out + bias


def relu(input: Tensor) -> Tensor:
    """max(x, 0)"""
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))"""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def softmax(input: Tensor, axis: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``axis`` (PyTorch's ``dim``)."""
    return input.softmax(axis=axis)


def log_softmax(input: Tensor, axis: int = -1) -> Tensor:
    """x_i - log sum_j exp(x_j) along ``axis``: stable, unlike ``softmax(x).log()``."""
    return input.log_softmax(axis=axis)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p).

    The scaling ("inverted dropout") keeps the expected value of every element, so nothing
    changes at evaluation time, when (``training=False``) the input passes through unchanged.
    The mask comes from ``tinygrad_edu.random.generator()``, so ``manual_seed`` reproduces it.
    """
    _check_fraction(p, "dropout", "probability p")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = generator().random(input.shape) >= p
    return input * Tensor(keep.astype(input.dtype) / np.asarray(1.0 - p, dtype=input.dtype))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of an (N, C, ...) input, then scale and shift.

    y = (x - mean) / sqrt(var + eps) * weight + bias

    In training, mean and var are the batch's (var biased, dividing by n) and the running
    statistics, if given, move towards them in place:
    ``running = (1 - momentum) * running + momentum * batch``, using the *unbiased* batch
    variance (n / (n - 1) times var) for ``running_var``, as PyTorch does. Otherwise the running
    statistics normalise.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got shape {input.shape}")
    channels = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and value.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} has shape {value.shape} but the input of shape "
                f"{input.shape} has {channels} channels; expected ({channels},)"
            )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.dtype != input.dtype:
            raise TypeError(
                f"batch_norm: {name} is {value.dtype} but the input is {input.dtype}; "
                "convert one with .astype(...) (or the module with .double()/.float())"
            )
    axes = (0,) + tuple(range(2, input.ndim))  # every axis but the channels
    channel_shape = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        count = int(np.prod([input.shape[a] for a in axes]))
        if count < 2:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {input.shape}"
            )
        mean = input.data.mean(axis=axes, keepdims=True)
        var = input.data.var(axis=axes, keepdims=True)
        if running_mean is not None:  # plain numpy: the running statistics are not in the graph
            _move_towards(running_mean, mean.reshape(channels), momentum)
        if running_var is not None:
            _move_towards(running_var, var.reshape(channels) * count / (count - 1), momentum)
        return BatchNorm.apply(input, weight, bias, mean=mean, var=var, eps=eps)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    centred = input - Tensor(running_mean.data.reshape(channel_shape).astype(input.dtype))
    var = Tensor(running_var.data.reshape(channel_shape).astype(input.dtype))
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(channel_shape)
    if bias is not None:
        out = out + bias.reshape(channel_shape)
    return out


def _check_fraction(value: Any, op: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{op}: {what} must be a number in [0, 1], got {value!r}")


def _move_towards(running: Tensor, batch_value: np.ndarray, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch_value, keeping running's dtype.

    The array is replaced rather than written into, so a graph that saved the old one is safe.
    """
    running.data = ((1 - momentum) * running.data + momentum * batch_value).astype(running.dtype)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Constant padding with PyTorch's spelling: (left, right) of the last axis first, then
    (top, bottom) of the one before, and so on: ``pad(x, (1, 1, 2, 2))`` pads the last axis by
    1 and the second-to-last by 2 on each side. Only ``mode="constant"`` and non-negative
    widths are supported (PyTorch also has reflect/replicate and cropping by negative pads).
    """
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    widths = [int(w) for w in pad]
    if len(widths) % 2 or len(widths) // 2 > input.ndim:
        raise ValueError(
            f"pad: pad {tuple(pad)} must have an even length of at most 2 * ndim = "
            f"{2 * input.ndim} for shape {input.shape}"
        )
    pairs = [(0, 0)] * input.ndim
    for k in range(len(widths) // 2):
        pairs[input.ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    return input.pad(pairs, value=value)


def one_hot(labels: Tensor | np.ndarray, num_classes: int = -1) -> Tensor:
    """An int64 Tensor of shape labels.shape + (num_classes,) with a 1 at each label.

    ``num_classes=-1`` means one more than the largest label. Use ``.astype(np.float32)`` to
    multiply it with float tensors.
    """
    labels = _integer_array(labels, "one_hot", "labels")
    if labels.size and labels.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {labels.min()}")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"one_hot: label {labels.max()} is out of range for num_classes={num_classes}"
        )
    return Tensor(np.eye(num_classes, dtype=np.int64)[labels])


# ------------------------------------------------------------------------ losses


def _integer_array(target: Any, op: str, what: str = "target") -> np.ndarray:
    array = target.data if isinstance(target, Tensor) else np.asarray(target)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: {what} must hold integer class indices, got dtype {array.dtype}"
            + (" (convert with .astype(np.int64))" if array.dtype.kind == "f" else "")
        )
    return array


def _class_targets(input: Tensor, target: Any, op: str) -> np.ndarray:
    """Check integer class targets against (N, C) or (N, C, d1, ...) scores; return them."""
    target = _integer_array(target, op)
    if input.ndim < 1:
        raise ValueError(f"{op}: input must have a class axis, got shape {input.shape}")
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(
            f"{op}: target of shape {target.shape} does not fit input of shape {input.shape}; "
            f"expected target shape {expected} (one class index per row)"
        )
    if target.size and (target.min() < 0 or target.max() >= classes):
        bad = target[(target < 0) | (target >= classes)]
        raise ValueError(
            f"{op}: target values must be class indices in [0, {classes - 1}] for input of "
            f"shape {input.shape}, got {bad[:5].tolist()}"
        )
    return target


def _classes_last(input: Tensor, target: np.ndarray) -> tuple[Tensor, np.ndarray]:
    """(N, C, d1, ...) scores and (N, d1, ...) targets as (M, C) rows and (M,) targets."""
    if input.ndim == 1:
        return input.reshape(1, input.shape[0]), target.reshape(1)
    if input.ndim > 2:
        input = input.permute(0, *range(2, input.ndim), 1)
    return input.reshape(-1, input.shape[-1]), target.reshape(-1)


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_weight(weight: Any, input: Tensor, op: str) -> Tensor | None:
    if weight is None:
        return None
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    weight = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, input.dtype))
    if weight.shape != (classes,):
        raise ValueError(
            f"{op}: weight must have shape ({classes},), one per class of input {input.shape}; "
            f"got {weight.shape}"
        )
    return weight.astype(input.dtype)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def nll_loss(input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes, given log-probabilities ``input``.

    loss_i = -weight[t_i] * input[i, t_i]. ``mean`` divides the sum by sum_i weight[t_i] (by N
    without weights), as PyTorch does. Input (N, C) with target (N,), (N, C, d1, ...) with
    target (N, d1, ...), or (C,) with a 0-d target. Targets are integer Tensors or arrays.
    ``reduction`` is keyword-only here (PyTorch keeps deprecated positional arguments before
    it); there is no ``ignore_index``.
    """
    return _nll(input, target, weight, reduction, "nll_loss")


def _nll(log_probs: Tensor, target: Any, weight: Any, reduction: str, op: str) -> Tensor:
    _check_reduction(reduction, op)
    target = _class_targets(log_probs, target, op)
    weight = _class_weight(weight, log_probs, op)
    rows, flat_target = _classes_last(log_probs, target)
    loss = -rows[np.arange(len(flat_target)), flat_target]
    if weight is not None:
        target_weight = weight[flat_target]
        loss = loss * target_weight
        if reduction == "mean":
            return loss.sum() / target_weight.sum()
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` against integer class ``target``.

    loss_i = (1 - s) * nll_i + (s / C) * sum_c -weight[c] * log_softmax(x_i)_c, with s the
    ``label_smoothing``: the target distribution puts 1 - s + s/C on the true class and s/C on
    the others. Computed from ``log_softmax``, so logits of +-1000 are fine. Shapes, ``weight``
    and ``reduction`` are as in :func:`nll_loss` (and PyTorch); class-probability targets and
    ``ignore_index`` are not supported.
    """
    op = "cross_entropy"
    _check_fraction(label_smoothing, op, "label_smoothing")
    class_axis = 1 if input.ndim > 1 else 0
    log_probs = input.log_softmax(axis=class_axis)
    loss = _nll(log_probs, target, weight, reduction, op)
    if label_smoothing == 0.0:
        return loss
    weight = _class_weight(weight, input, op)
    classes = input.shape[class_axis]
    if weight is not None:
        weight_shape = [1] * input.ndim
        weight_shape[class_axis] = classes
        log_probs = log_probs * weight.reshape(weight_shape)
    smooth = -log_probs.sum(axis=class_axis)
    if reduction == "mean" and weight is not None:
        # divided by the same sum of target weights as the nll part, as PyTorch does
        smooth = smooth.sum() / weight[_integer_array(target, op).reshape(-1)].sum()
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _float_target(input: Tensor, target: Any, op: str) -> Tensor:
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    if target.shape != input.shape:
        raise ValueError(
            f"{op}: target of shape {target.shape} does not match input of shape {input.shape} "
            "(PyTorch would broadcast with a warning; we refuse)"
        )
    return target.astype(input.dtype) if target.dtype.kind != "f" else target


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(x - y)^2 per element, averaged, summed or kept (``reduction``). Shapes must match."""
    _check_reduction(reduction, "mse_loss")
    difference = input - _float_target(input, target, "mse_loss")
    return _reduce(difference * difference, reduction)


def _softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) = logsumexp(0, x): stable for any x, smooth (derivative sigmoid(x))."""
    return stack([Tensor.zeros_like(x), x], axis=-1).logsumexp(axis=-1)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, *,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(x) against targets t in [0, 1], from the logits x.

    loss = -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
         = w [(1 - t) x + (1 + (p - 1) t) softplus(-x)]
    with softplus computed as a log-sum-exp, so it is exact for any x (no log(0) at x = +-1000)
    and smooth everywhere (also at x = 0). ``weight`` multiplies each element (broadcast),
    ``pos_weight`` p weighs the positive term (broadcast along the last axis, one per class).
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _float_target(input, target, "binary_cross_entropy_with_logits")
    negative_log_sigmoid = _softplus(-input)
    if pos_weight is None:
        loss = (1 - target) * input + negative_log_sigmoid
    else:
        pos_weight = _as_float(pos_weight, input)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * negative_log_sigmoid
    if weight is not None:
        loss = loss * _as_float(weight, input)
    return _reduce(loss, reduction)


def _as_float(value: Any, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value.astype(like.dtype)
    return Tensor(np.asarray(value, dtype=like.dtype))


# ------------------------------------------------------------------------ convolution and pooling

_NNOPS = ("conv2d", "max_pool2d", "avg_pool2d")


def __getattr__(name: str) -> Any:
    """``conv2d``, ``max_pool2d`` and ``avg_pool2d`` are ``ops.nnops``'s, handed on unchanged.

    They are imported on first use, so ``import tinygrad_edu.nn`` does not load Numba and its
    kernels until a model needs them.
    """
    if name in _NNOPS:
        from ..ops import nnops

        return getattr(nnops, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_NNOPS])

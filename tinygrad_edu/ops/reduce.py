"""Reductions: many input elements combine into one output element.

Backward spreads each output gradient back over the elements that made it. A reduction's
``grad`` has the reduced shape, so it is first reshaped to the ``keepdims=True`` shape, where
broadcasting lines it up with the input again.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .broadcast import kept_shape, normalize_axes


def _reduce_setup(ctx, x: np.ndarray, axis, op: str) -> tuple[int, ...]:
    axes = normalize_axes(axis, x.ndim, op)
    ctx.input_shape = x.shape
    ctx.kept = kept_shape(x.shape, axes)
    return axes


class Sum(Function):
    """y = sum_i x_i         dy/dx_i = 1: every input element receives the output's gradient"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _reduce_setup(ctx, x, axis, "sum")
        return np.sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.kept).expand(ctx.input_shape)


class Mean(Function):
    """y = (1/n) sum_i x_i   dy/dx_i = 1/n, with n the number of elements averaged"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _reduce_setup(ctx, x, axis, "mean")
        ctx.count = int(np.prod([x.shape[a] for a in axes]))
        if ctx.count == 0:
            raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape})")
        return np.mean(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.kept).expand(ctx.input_shape) * (1.0 / ctx.count)


def _extremum_forward(ctx, x: np.ndarray, axis, keepdims: bool, reduce, op: str) -> np.ndarray:
    ctx.axes = _reduce_setup(ctx, x, axis, op)
    if any(x.shape[a] == 0 for a in ctx.axes):
        raise ValueError(f"{op}: cannot reduce over an empty axis (shape {x.shape})")
    y = reduce(x, axis=ctx.axes, keepdims=keepdims)
    ctx.save_for_backward(x, y)
    return y


def _extremum_backward(ctx, grad: Tensor) -> Tensor:
    """Route the gradient to the extreme elements; k tied extremes share it equally (1/k each).

    This is the rule of ``torch.amax``/``torch.amin`` (and of ``Tensor.max()`` without a dim).
    """
    x, y = ctx.saved_tensors
    is_extreme = x.data == y.data.reshape(ctx.kept)
    share = is_extreme / np.sum(is_extreme, axis=ctx.axes, keepdims=True)
    return grad.reshape(ctx.kept) * Tensor(share.astype(grad.dtype))


class Max(Function):
    """y = max_i x_i         dy/dx_i = 1 for the maximum, 0 elsewhere (ties share equally)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extremum_forward(ctx, x, axis, keepdims, np.max, "max")

    backward = staticmethod(_extremum_backward)


class Min(Function):
    """y = min_i x_i         dy/dx_i = 1 for the minimum, 0 elsewhere (ties share equally)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extremum_forward(ctx, x, axis, keepdims, np.min, "min")

    backward = staticmethod(_extremum_backward)


class LogSumExp(Function):
    """y = log sum_i exp(x_i)        dy/dx_i = exp(x_i - y) = softmax(x)_i

    Computed as m + log sum_i exp(x_i - m) with m = max_i x_i, so no exp overflows.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _reduce_setup(ctx, x, axis, "logsumexp")
        shift = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros(ctx.kept, x.dtype)
        shift = np.where(np.isfinite(shift), shift, 0)
        y = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
        if not keepdims:
            y = y.reshape([n for i, n in enumerate(y.shape) if i not in axes])
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad.reshape(ctx.kept) * (x - y.reshape(ctx.kept)).exp()


class Softmax(Function):
    """y_i = exp(x_i) / sum_j exp(x_j)     dL/dx_i = y_i (g_i - sum_j g_j y_j)"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axes(axis, x.ndim, "softmax")
        exps = np.exp(x - np.max(x, axis=ctx.axis, keepdims=True))
        y = exps / np.sum(exps, axis=ctx.axis, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - log sum_j exp(x_j)      dL/dx_i = g_i - exp(y_i) sum_j g_j"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axes(axis, x.ndim, "log_softmax")
        shifted = x - np.max(x, axis=ctx.axis, keepdims=True)
        y = shifted - np.log(np.sum(np.exp(shifted), axis=ctx.axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - y.exp() * grad.sum(axis=ctx.axis, keepdims=True)

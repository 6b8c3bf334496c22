"""Movement ops: they rearrange, copy or select elements without computing new values.

So their backward rules compute nothing either: they move the gradient back to where each
element came from (and add it up where one element was used several times).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .broadcast import normalize_axes, unbroadcast


class Reshape(Function):
    """y = x viewed with another shape      dL/dx = dL/dy reshaped back"""

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.input_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)


class Permute(Function):
    """y = x with its axes reordered        dL/dx = dL/dy with the inverse order"""

    @staticmethod
    def forward(ctx, x, dims=()):
        in_range = all(-x.ndim <= int(d) < x.ndim for d in dims)
        if not in_range or sorted(int(d) % x.ndim for d in dims) != list(range(x.ndim)):
            raise ValueError(
                f"permute: dims {tuple(dims)} are not a reordering of the {x.ndim} axes "
                f"of a tensor of shape {x.shape}"
            )
        ctx.inverse = tuple(np.argsort([int(d) % x.ndim for d in dims]))
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.permute(*ctx.inverse)


class Expand(Function):
    """y = x broadcast to a larger shape    dL/dx = dL/dy summed over the copies"""

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.input_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"expand: cannot broadcast shape {x.shape} to {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.input_shape)


class GetItem(Function):
    """y = x[index]        dL/dx = zeros with dL/dy added at the indexed positions

    Works for ints, slices (with steps, negative), None, Ellipsis, boolean masks and integer
    arrays. With integer arrays an element may be picked several times; its gradient is then
    the sum of all its picks (``np.add.at`` accumulates repeated indices).
    """

    @staticmethod
    def forward(ctx, x, index=()):
        ctx.input_shape = x.shape
        ctx.index = index
        try:
            return np.array(x[index])
        except IndexError as error:
            raise IndexError(f"getitem: index {index!r} for shape {x.shape}: {error}") from None

    @staticmethod
    def backward(ctx, grad):
        return ScatterAdd.apply(grad, index=ctx.index, shape=ctx.input_shape)


class ScatterAdd(Function):
    """y = zeros(shape); y[index] += x      dL/dx = dL/dy[index]  (the adjoint of GetItem)"""

    @staticmethod
    def forward(ctx, x, index=(), shape=()):
        ctx.index = index
        out = np.zeros(shape, dtype=x.dtype)
        np.add.at(out, index, x)
        return out

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, index=ctx.index)


class Pad(Function):
    """y = x surrounded by a constant border      dL/dx = the middle part of dL/dy

    ``pad_width`` is numpy's: one (before, after) pair per axis.
    """

    @staticmethod
    def forward(ctx, x, pad_width=(), value=0.0):
        ctx.inside = tuple(
            slice(before, before + size)
            for (before, _), size in zip(pad_width, x.shape, strict=True)
        )
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.inside]


class Cat(Function):
    """y = [x_1, x_2, ...] joined along an axis   dL/dx_k = the k-th slab of dL/dy"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size in ctx.sizes:
            index = [slice(None)] * grad.ndim
            index[ctx.axis] = slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


class Flip(Function):
    """y = x reversed along axes       dL/dx = dL/dy reversed along the same axes"""

    @staticmethod
    def forward(ctx, x, axis=None):
        ctx.axis = normalize_axes(axis, x.ndim, "flip")
        return np.flip(x, ctx.axis).copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.axis)


def check_same(tensors: list[Tensor], op: str, axis: int) -> int:
    """Validate the tensors to join in cat/stack; return the normalised axis."""
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    first = tensors[0]
    for t in tensors[1:]:
        if t.dtype != first.dtype:
            raise TypeError(f"{op}: dtypes differ: {first.dtype} and {t.dtype}")
    ndim = first.ndim + (1 if op == "stack" else 0)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"{op}: axis {axis} is out of range for {ndim} dimensions")
    axis %= ndim
    shapes = [t.shape for t in tensors]
    others = first.shape[:axis] + first.shape[axis + 1 :]
    for shape in shapes:
        if len(shape) != first.ndim or (
            op == "stack" and shape != first.shape
        ) or (op == "cat" and shape[:axis] + shape[axis + 1 :] != others):
            raise ValueError(
                f"{op}: shapes {shapes} do not match along the other axes (axis={axis})"
            )
    return axis

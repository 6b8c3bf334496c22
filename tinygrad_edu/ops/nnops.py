"""Convolution and pooling as autograd ops, around the numeric kernels in ``kernels/``.

Convolution y = conv(x, w) is linear in x and linear in w, so its two gradients are
"transposed convolutions" that are themselves linear:

    dL/dx = conv_grad_input(g, w)      (the adjoint of x -> conv(x, w))
    dL/dw = conv_grad_weight(x, g)     (the adjoint of w -> conv(x, w))

Each of the three is a Function whose backward is made of the other two (see their docstrings),
so the family is closed under differentiation and grad-of-grad works through a CNN.

Pooling works the same way: max pooling's backward scatters the gradient to the arg-max
positions and the adjoint of that scatter is a gather; average pooling is linear, so its
backward's backward is average pooling again.
"""

from __future__ import annotations

from ..autograd import Function
from ..kernels import conv, pool
from ..kernels.geometry import check_conv2d, check_pool2d, pair
from ..tensor import Tensor


def _geometry(ctx, stride, padding, dilation):
    ctx.geometry = stride, padding, dilation
    return ctx.geometry


def _options(ctx) -> dict:
    """The saved geometry as keyword options for the next op of the family."""
    return dict(zip(("stride", "padding", "dilation"), ctx.geometry))


class Conv2d(Function):
    """y[n,o,i,j] = sum_{c,p,q} x[n, c, i*s + p*d - pad, j*s + q*d - pad] * w[o,c,p,q]

    dL/dx = conv_grad_input(g, w)        dL/dw = conv_grad_weight(x, g)
    """

    @staticmethod
    def forward(ctx, x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        ctx.save_for_backward(x, w)
        return conv.conv2d_forward(x, w, *_geometry(ctx, stride, padding, dilation))

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        options = _options(ctx)
        grad_x = ConvGradInput.apply(grad, w, input_shape=x.shape, **options) \
            if ctx.needs_input_grad[0] else None
        grad_w = ConvGradWeight.apply(x, grad, weight_shape=w.shape, **options) \
            if ctx.needs_input_grad[1] else None
        return grad_x, grad_w


class ConvGradInput(Function):
    """z = conv_grad_input(g, w), the gradient of conv with respect to its input.

    For an incoming gradient h (shaped like x): <h, z> = <conv(h, w), g>, hence
    dL/dg = conv(h, w)        dL/dw = conv_grad_weight(h, g)
    """

    @staticmethod
    def forward(ctx, g, w, input_shape=(), stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        ctx.save_for_backward(g, w)
        return conv.conv2d_grad_input(g, w, input_shape, *_geometry(ctx, stride, padding, dilation))

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved_tensors
        options = _options(ctx)
        grad_g = Conv2d.apply(h, w, **options) if ctx.needs_input_grad[0] else None
        grad_w = ConvGradWeight.apply(h, g, weight_shape=w.shape, **options) \
            if ctx.needs_input_grad[1] else None
        return grad_g, grad_w


class ConvGradWeight(Function):
    """z = conv_grad_weight(x, g), the gradient of conv with respect to its weight.

    For an incoming gradient h (shaped like w): <h, z> = <conv(x, h), g>, hence
    dL/dx = conv_grad_input(g, h)        dL/dg = conv(x, h)
    """

    @staticmethod
    def forward(ctx, x, g, weight_shape=(), stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        ctx.save_for_backward(x, g)
        geometry = _geometry(ctx, stride, padding, dilation)
        return conv.conv2d_grad_weight(x, g, weight_shape, *geometry)

    @staticmethod
    def backward(ctx, h):
        x, g = ctx.saved_tensors
        options = _options(ctx)
        grad_x = ConvGradInput.apply(g, h, input_shape=x.shape, **options) \
            if ctx.needs_input_grad[0] else None
        grad_g = Conv2d.apply(x, h, **options) if ctx.needs_input_grad[1] else None
        return grad_x, grad_g


class MaxPool2d(Function):
    """y = max over each window        dL/dx = g scattered to each window's arg-max

    Ties: the first maximum in the window (row-major order) takes the whole gradient, as in
    PyTorch. Overlapping windows that share an arg-max add their gradients.
    """

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        y, ctx.indices = pool.max_pool2d_forward(x, kernel, stride, padding)
        ctx.input_shape = x.shape
        return y

    @staticmethod
    def backward(ctx, grad):
        return PoolScatter.apply(grad, indices=ctx.indices, input_shape=ctx.input_shape)


class PoolScatter(Function):
    """z = zeros(input_shape); z[indices] += g     dL/dg = h[indices] (a gather)"""

    @staticmethod
    def forward(ctx, g, indices=None, input_shape=()):
        ctx.indices = indices
        return pool.max_pool2d_backward(g, indices, input_shape)

    @staticmethod
    def backward(ctx, h):
        return PoolGather.apply(h, indices=ctx.indices)


class PoolGather(Function):
    """z = h[indices]     dL/dh = zeros; add g at indices (a scatter)"""

    @staticmethod
    def forward(ctx, h, indices=None):
        ctx.indices = indices
        ctx.input_shape = h.shape
        return pool.max_pool2d_gather(h, indices)

    @staticmethod
    def backward(ctx, g):
        return PoolScatter.apply(g, indices=ctx.indices, input_shape=ctx.input_shape)


class AvgPool2d(Function):
    """y = mean over each window (padding counts as zeros)   dL/dx = each g spread evenly"""

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        ctx.window = kernel, stride, padding
        ctx.input_shape = x.shape
        return pool.avg_pool2d_forward(x, kernel, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        return AvgPoolBackward.apply(grad, input_shape=ctx.input_shape, window=ctx.window)


class AvgPoolBackward(Function):
    """z = avg_pool2d's gradient spread (linear in g)    dL/dg = avg_pool2d(h)"""

    @staticmethod
    def forward(ctx, g, input_shape=(), window=()):
        ctx.window = window
        return pool.avg_pool2d_backward(g, input_shape, *window)

    @staticmethod
    def backward(ctx, h):
        kernel, stride, padding = ctx.window
        return AvgPool2d.apply(h, kernel=kernel, stride=stride, padding=padding)


def _check_tensors(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: needs float32 or float64 tensors, got {t.dtype}")
    if len({t.dtype for t in tensors}) > 1:
        shown = ", ".join(f"{t.dtype} {t.shape}" for t in tensors)
        raise TypeError(f"{op}: dtypes differ ({shown}); convert with .astype(...)")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1) -> Tensor:
    """2-D convolution (really cross-correlation, as in PyTorch) of NCHW ``input`` with
    ``weight`` of shape (out_channels, in_channels, kernel_height, kernel_width)."""
    _check_tensors("conv2d", input, weight, *([bias] if bias is not None else []))
    stride, padding, dilation = (pair(v, name, "conv2d") for v, name in
                                 ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    check_conv2d(input.shape, weight.shape, stride, padding, dilation)
    out = Conv2d.apply(input, weight, stride=stride, padding=padding, dilation=dilation)
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"conv2d: bias has shape {bias.shape}, expected ({weight.shape[0]},) for weight "
                f"of shape {weight.shape}"
            )
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def _pool_window(op: str, input: Tensor, kernel_size, stride, padding):
    _check_tensors(op, input)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    check_pool2d(op, input.shape, kernel, stride, padding)
    return kernel, stride, padding


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Max over kernel_size windows of an NCHW tensor (stride defaults to kernel_size)."""
    kernel, stride, padding = _pool_window("max_pool2d", input, kernel_size, stride, padding)
    return MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Mean over kernel_size windows of an NCHW tensor; zero padding counts in the mean
    (PyTorch's default count_include_pad=True)."""
    kernel, stride, padding = _pool_window("avg_pool2d", input, kernel_size, stride, padding)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding)


__all__ = ["avg_pool2d", "conv2d", "max_pool2d"]

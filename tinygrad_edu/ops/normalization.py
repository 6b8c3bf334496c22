"""Batch normalisation in training mode, as one op.

Written as a composite of Tensor ops, batch norm costs about twenty passes over the activations
in backward; as one op with its closed-form gradient, five. That is most of a LeNet-5 step.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class BatchNorm(Function):
    """Normalise each channel (axis 1) with the batch's statistics, then scale and shift.

    x_hat = (x - mean) / sqrt(var + eps)          y = x_hat * weight + bias

    with mean and var (biased) over every axis but the channels, n values each. Backward:

    dL/dbias = sum g        dL/dweight = sum g * x_hat
    dL/dx = weight / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat))

    (the last two terms are what mean and var, themselves functions of x, pass back).
    ``mean`` and ``var`` arrive precomputed (the caller also needs them for running
    statistics). For plain backward the rule runs on the saved arrays; under
    ``create_graph=True`` it recomputes x_hat from x with Tensor ops so it can be differentiated
    again. ``weight`` and ``bias`` may be None (``affine=False``).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, eps=1e-5):
        ctx.axes = (0,) + tuple(range(2, x.ndim))
        ctx.channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        ctx.eps = eps
        ctx.inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        ctx.x_hat = (x - mean) * ctx.inv_std
        ctx.save_for_backward(x, weight)
        y = ctx.x_hat
        if weight is not None:
            y = y * weight.reshape(ctx.channel_shape)
        if bias is not None:
            y = y + bias.reshape(ctx.channel_shape)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        if is_grad_enabled():
            return _differentiable_backward(ctx, x, weight, grad)
        axes, shape = ctx.axes, ctx.channel_shape
        g, x_hat = grad.data, ctx.x_hat
        mean_g = g.mean(axis=axes, keepdims=True)
        mean_g_x_hat = (g * x_hat).mean(axis=axes, keepdims=True)
        scale = ctx.inv_std if weight is None else ctx.inv_std * weight.data.reshape(shape)
        grad_x = scale * (g - mean_g - x_hat * mean_g_x_hat)
        count = g.size // g.shape[1]
        grad_weight = Tensor(mean_g_x_hat.reshape(-1) * count) if ctx.needs_input_grad[1] else None
        grad_bias = Tensor(mean_g.reshape(-1) * count) if ctx.needs_input_grad[2] else None
        return Tensor(grad_x), grad_weight, grad_bias


def _differentiable_backward(ctx, x: Tensor, weight: Tensor | None, grad: Tensor):
    """The same rule in Tensor ops, with x_hat recomputed from x, for create_graph=True."""
    axes, shape = ctx.axes, ctx.channel_shape
    centred = x - x.mean(axis=axes, keepdims=True)
    inv_std = ((centred * centred).mean(axis=axes, keepdims=True) + ctx.eps) ** -0.5
    x_hat = centred * inv_std
    mean_g = grad.mean(axis=axes, keepdims=True)
    mean_g_x_hat = (grad * x_hat).mean(axis=axes, keepdims=True)
    scale = inv_std if weight is None else inv_std * weight.reshape(shape)
    grad_x = scale * (grad - mean_g - x_hat * mean_g_x_hat)
    grad_weight = (grad * x_hat).sum(axis=axes) if ctx.needs_input_grad[1] else None
    grad_bias = grad.sum(axis=axes) if ctx.needs_input_grad[2] else None
    return grad_x, grad_weight, grad_bias

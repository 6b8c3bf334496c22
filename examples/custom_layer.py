"""A layer of your own: PReLU, y = x for x > 0 and y = a * x otherwise, with a learnable slope a."""

import numpy as np

from tinygrad_edu import Function, Tensor, nn


class PReLUFunction(Function):
    """y = x if x > 0 else a x      dy/dx = 1 if x > 0 else a      dy/da = 0 if x > 0 else x"""

    @staticmethod
    def forward(ctx, x, a):
        ctx.save_for_backward(x, a)  # given back as the input Tensors in backward
        return np.where(x > 0, x, a * x)

    @staticmethod
    def backward(ctx, grad):
        x, a = ctx.saved_tensors
        positive = Tensor((x.data > 0).astype(x.dtype))  # a constant: 1 where x > 0, else 0
        grad_x = grad * (positive + (1 - positive) * a)
        grad_a = (grad * (1 - positive) * x).sum()  # a is a scalar: sum over every element
        return grad_x, grad_a


class PReLU(nn.Module):
    """PReLU with one slope for all inputs, starting at ``init`` (PyTorch's default 0.25)."""

    def __init__(self, init: float = 0.25):
        super().__init__()
        self.slope = nn.Parameter(np.array(init, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return PReLUFunction.apply(x, self.slope)

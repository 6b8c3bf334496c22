"""Matrix multiplication, with numpy's rules for batches and broadcasting."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from ..autograd import Function
from .broadcast import unbroadcast

# One parallel runtime at a time: the Numba kernels already keep both cores busy, and BLAS
# threads left spinning beside them make a LeNet-5 step 3-7x slower (docs/kernels.md). Our
# matrices are small, so numpy's BLAS runs single-threaded once tinygrad_edu is imported.
threadpool_limits(1, user_api="blas")


class MatMul(Function):
    """C = A @ B        dL/dA = dL/dC @ B^T        dL/dB = A^T @ dL/dC

    Both inputs have at least 2 dimensions here (``Tensor.matmul`` turns 1-D vectors into
    matrices and back). Leading "batch" dimensions broadcast, so each gradient is summed back
    to its input's shape.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(grad @ b.transpose(-1, -2), a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = unbroadcast(a.transpose(-1, -2) @ grad, b.shape)
        return grad_a, grad_b

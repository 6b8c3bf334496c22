"""Elementwise ops: each output element depends on the same-position element of each input.

Every backward rule is "local derivative times incoming gradient" (the chain rule), summed over
broadcast axes by ``unbroadcast``. Rules are written with Tensor operations, so they can be
differentiated again.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor, where
from .broadcast import unbroadcast


def _constant(array: np.ndarray, like: Tensor) -> Tensor:
    """A non-differentiable Tensor (a mask, a sign) in the dtype of ``like``."""
    return Tensor(np.asarray(array, dtype=like.dtype))


class Add(Function):
    """z = a + b        dz/da = 1        dz/db = 1"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        return unbroadcast(grad, a_shape), unbroadcast(grad, b_shape)


class Sub(Function):
    """z = a - b        dz/da = 1        dz/db = -1"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        return unbroadcast(grad, a_shape), unbroadcast(-grad, b_shape)


class Mul(Function):
    """z = a * b        dz/da = b        dz/db = a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad * b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad * a, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """z = a / b        dz/da = 1 / b        dz/db = -a / b^2"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Pow(Function):
    """z = a ** b       dz/da = b * a^(b-1)        dz/db = a^b * log(a)

    The exponent's gradient is only computed when the exponent requires one, so ``x ** 2`` of a
    negative ``x`` never takes the log of a negative number. As in PyTorch, at a = 0 the two
    products that would give nan are 0: dz/da where b = 0 (``x ** 0`` is constant, even at
    x = 0: 0 * 0^-1) and dz/db where b >= 0 (a^b * log 0).
    """

    @staticmethod
    def forward(ctx, a, b):
        z = a**b
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        a, b, z = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            local = b * a ** (b - 1)
            zero_power = (a.data == 0) & (b.data == 0)  # 0 * 0^-1 = nan: the constant 0^0 = 1
            if np.any(zero_power):
                local = where(np.broadcast_to(zero_power, local.shape), 0.0, local)
            grad_a = unbroadcast(grad * local, a.shape)
        if ctx.needs_input_grad[1]:
            local = z * a.log()
            zero_base = (a.data == 0) & (b.data >= 0)
            if np.any(zero_base):
                local = where(np.broadcast_to(zero_base, local.shape), 0.0, local)
            grad_b = unbroadcast(grad * local, b.shape)
        return grad_a, grad_b


class Neg(Function):
    """y = -x           dy/dx = -1"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    """y = exp(x)       dy/dx = exp(x) = y"""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    """y = log(x)       dy/dx = 1 / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    """y = sqrt(x)      dy/dx = 1 / (2 sqrt(x)) = 1 / (2y)"""

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad / (y * 2)


class Tanh(Function):
    """y = tanh(x)      dy/dx = 1 - tanh(x)^2 = 1 - y^2"""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x))        dy/dx = y (1 - y)

    Computed as exp(-log(1 + exp(-x))) so that large |x| neither overflows nor loses precision.
    """

    @staticmethod
    def forward(ctx, x):
        y = np.exp(-np.logaddexp(0, -x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Relu(Function):
    """y = max(x, 0)    dy/dx = 1 where x > 0, else 0 (0 at the kink x = 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _constant(x.data > 0, grad)


class Abs(Function):
    """y = |x|          dy/dx = sign(x) (0 at x = 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _constant(np.sign(x.data), grad)


class Clip(Function):
    """y = min(max(x, low), high)   dy/dx = 1 where low <= x <= high, else 0

    Like ``torch.clamp``, the gradient passes at the bounds themselves. Either bound may be None.
    """

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        ctx.save_for_backward(x)
        ctx.bounds = low, high
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x.data >= low
        if high is not None:
            inside &= x.data <= high
        return grad * _constant(inside, grad)


class Maximum(Function):
    """z = max(a, b) elementwise   dz/da = 1 where a > b, 1/2 where a == b, else 0

    At a tie the gradient is shared equally between the two inputs, as PyTorch does.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        share_a = _constant((a.data > b.data) + 0.5 * (a.data == b.data), grad)
        return unbroadcast(grad * share_a, a.shape), unbroadcast(grad * (1 - share_a), b.shape)


class Minimum(Function):
    """z = min(a, b) elementwise   dz/da = 1 where a < b, 1/2 where a == b, else 0"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        share_a = _constant((a.data < b.data) + 0.5 * (a.data == b.data), grad)
        return unbroadcast(grad * share_a, a.shape), unbroadcast(grad * (1 - share_a), b.shape)


class Where(Function):
    """z = a where cond else b     dz/da = cond        dz/db = not cond

    ``cond`` is a boolean array (no gradient). The gradient is routed with ``where`` itself
    rather than multiplied by a mask, so an inf or nan in the unused branch stays out.
    """

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = np.asarray(cond, dtype=bool)
        ctx.shapes = a.shape, b.shape
        return np.where(ctx.cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        zero = Tensor(np.zeros((), dtype=grad.dtype))
        grad_a = unbroadcast(Where.apply(ctx.cond, grad, zero), a_shape)
        grad_b = unbroadcast(Where.apply(ctx.cond, zero, grad), b_shape)
        return None, grad_a, grad_b


class Cast(Function):
    """y = x converted to another float dtype      dy/dx = 1 (the gradient is cast back)"""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype)

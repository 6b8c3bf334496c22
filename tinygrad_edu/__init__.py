"""tinygrad_edu: a small, readable deep-learning framework for seeing backpropagation work.

This file only hands names on; everything is defined in the modules it imports from.
"""

from . import nn, optim
from .autograd import Context, Function, enable_grad, grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .random import manual_seed
from .tensor import Tensor, cat, matmul, maximum, minimum, stack, where

__version__ = "0.1.0"

__all__ = [
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "cat",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "optim",
    "stack",
    "where",
]

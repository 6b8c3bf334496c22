"""Weight initialisers: fill a Tensor in place and return it (PyTorch's ``torch.nn.init``).

Why initialisation matters, in three steps:

* **All zeros** (or any constant): every unit of a layer computes the same thing and receives
  the same gradient, so they stay identical forever; the layer acts like one unit.
* **Small random values** break that symmetry, but a fixed scale is wrong for most layer sizes:
  each layer multiplies the signal's variance by about ``fan_in * std**2``, so with many layers
  activations and gradients shrink to nothing or blow up.
* **Xavier/Glorot** (std = gain * sqrt(2 / (fan_in + fan_out))) and **Kaiming/He**
  (std = gain / sqrt(fan_in)) pick the scale from the layer's size so the variance stays about
  the same from layer to layer; the ``gain`` corrects for what the nonlinearity does to it
  (sqrt(2) for ReLU, which zeroes half its inputs).

Every function draws from ``tinygrad_edu.random.generator()`` (so ``manual_seed`` reproduces
it), writes into ``tensor.data`` without recording a graph, and returns the tensor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import no_grad
from ..random import generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR_GAIN = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which to scale the std for a nonlinearity (PyTorch's table).

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);  selu: 3/4;
    leaky_relu: sqrt(2 / (1 + negative_slope**2)), negative_slope = ``param`` (default 0.01).
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            negative_slope = float(param)
        return math.sqrt(2.0 / (1 + negative_slope**2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field.

    For a Linear weight (out, in) that is (in, out); for a Conv2d weight (out, in, kh, kw) the
    receptive field is kh * kw.
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(shape {tensor.shape})"
        )
    receptive_field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


@no_grad()
def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    tensor.data[...] = values
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (fine for biases; for weights it makes every unit the same)."""
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1.0)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b)."""
    if a > b:
        raise ValueError(f"uniform_: a={a} must not be greater than b={b}")
    return _fill(tensor, generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, generator().normal(mean, std, tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # a uniform on [-a, a] has std a / sqrt(3)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015).

    ``gain = calculate_gain(nonlinearity, a)``, where ``a`` is the leaky ReLU's negative slope;
    ``fan`` is fan_in (keeps forward activations' variance) or fan_out (backward gradients').
    A tensor with no elements is left as it is.
    """
    if tensor.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan); arguments as in :func:`kaiming_uniform_`."""
    if tensor.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)

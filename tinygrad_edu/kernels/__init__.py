"""Numeric kernels for convolution and pooling: numpy arrays in, fresh numpy arrays out.

Nothing here knows about Tensor or autograd, and nothing imports the rest of tinygrad_edu.

* ``conv`` and ``pool``: the fast Numba kernels the autograd layer calls.
* ``reference``: the same functions as plain loops, to read and to test against.
* ``geometry``: window arithmetic and the argument checks both share.

All arrays are NCHW, float32 or float64 (the result has the input's dtype). Kernel, stride,
padding and dilation arguments are (height, width) pairs of ints; :func:`pair` makes one.
"""

from .conv import conv2d_forward, conv2d_grad_input, conv2d_grad_weight
from .geometry import check_conv2d, check_pool2d, output_size, pair
from .pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    max_pool2d_gather,
)

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "check_conv2d",
    "check_pool2d",
    "conv2d_forward",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_pool2d_gather",
    "output_size",
    "pair",
]

"""Window geometry and argument checks shared by the convolution and pooling kernels.

A 2-D sliding window is described per spatial axis by four integers: the window (kernel) size
``k``, the ``stride`` s between window positions, the zero ``padding`` p added on both sides, and
the ``dilation`` d (the gap between kernel taps; pooling uses d = 1). The window spans
``d*(k-1) + 1`` input positions and fits ``floor((size + 2p - d*(k-1) - 1) / s) + 1`` times
(:func:`output_size`, the formula PyTorch documents for ``Conv2d`` and ``MaxPool2d``).

The ``check_*`` functions turn every impossible geometry into a ``ValueError`` (or ``TypeError``
for a wrong type) that names the op and the shapes, before any kernel runs: a kernel fed an
impossible geometry would read out of bounds instead of failing. :func:`kernel_arrays` does the
same for dtypes and memory layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IntPair = tuple[int, int]


def _is_int(value: object) -> bool:
    # bool is an int subclass, but stride=True is a bug, not a stride of 1.
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def pair(value: int | Sequence[int], name: str, op: str) -> IntPair:
    """Normalise ``value`` (an int, or a pair of ints for (height, width)) to ``(int, int)``.

    >>> pair(3, "kernel_size", "max_pool2d")
    (3, 3)
    >>> pair((1, 2), "stride", "conv2d")
    (1, 2)

    Raises ``TypeError`` for anything that is not an int or a length-2 sequence of ints and
    ``ValueError`` for a sequence of the wrong length; both messages name ``op`` and ``name``.
    """
    if _is_int(value):
        return int(value), int(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{op}: {name} must be an int or a pair of ints, got {type(value).__name__} {value!r}"
        )
    if len(value) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {tuple(value)!r}")
    if not all(_is_int(item) for item in value):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {tuple(value)!r}")
    return int(value[0]), int(value[1])


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Number of window positions along one axis.

    ``out = floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``

    The window covers ``dilation*(kernel-1) + 1`` positions of the padded axis, and its first
    position is 0; it then moves ``stride`` at a time while it still fits. The result is < 1
    when the window does not fit at all; the ``check_*`` functions turn that into an error.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_conv2d(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | Sequence[int],
    padding: int | Sequence[int],
    dilation: int | Sequence[int],
) -> IntPair:
    """Validate a conv2d geometry and return ``(out_height, out_width)``.

    ``input_shape`` is (N, C, H, W) and ``weight_shape`` is (O, C, KH, KW); stride, padding and
    dilation are ints or (height, width) pairs. The batch N may be 0; every other size must be
    at least 1. Raises ``ValueError`` naming "conv2d" and both shapes when the geometry is
    impossible: wrong rank, channel mismatch, negative padding, stride or dilation below 1, or a
    dilated kernel larger than the padded input.
    """
    op = "conv2d"
    input_shape = tuple(int(size) for size in input_shape)
    weight_shape = tuple(int(size) for size in weight_shape)
    shapes = f"input {input_shape}, weight {weight_shape}"
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got {shapes}")
    if len(weight_shape) != 4:
        raise ValueError(f"{op}: weight must be 4-D (O, C, KH, KW), got {shapes}")
    stride, padding, dilation = (
        pair(stride, "stride", op),
        pair(padding, "padding", op),
        pair(dilation, "dilation", op),
    )
    batch, channels, height, width = input_shape
    _, weight_channels, kernel_h, kernel_w = weight_shape
    if batch < 0 or min(channels, height, width) < 1:
        raise ValueError(f"{op}: input sizes must be >= 1 (batch >= 0), got {shapes}")
    if min(weight_shape) < 1:
        raise ValueError(f"{op}: weight sizes must be >= 1, got {shapes}")
    if channels != weight_channels:
        raise ValueError(
            f"{op}: input has {channels} channels but weight expects {weight_channels} "
            f"(weight shape[1]), got {shapes}"
        )
    if min(stride) < 1:
        raise ValueError(f"{op}: stride must be >= 1, got stride={stride} for {shapes}")
    if min(dilation) < 1:
        raise ValueError(f"{op}: dilation must be >= 1, got dilation={dilation} for {shapes}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be >= 0, got padding={padding} for {shapes}")
    out_h = output_size(height, kernel_h, stride[0], padding[0], dilation[0])
    out_w = output_size(width, kernel_w, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        span = (dilation[0] * (kernel_h - 1) + 1, dilation[1] * (kernel_w - 1) + 1)
        padded = (height + 2 * padding[0], width + 2 * padding[1])
        raise ValueError(
            f"{op}: kernel spans {span} (dilation={dilation}) which is larger than the padded "
            f"input {padded} (padding={padding}), got {shapes}"
        )
    return out_h, out_w


def check_pool2d(
    op_name: str,
    input_shape: Sequence[int],
    kernel: int | Sequence[int],
    stride: int | Sequence[int],
    padding: int | Sequence[int],
) -> IntPair:
    """Validate a 2-D pooling geometry and return ``(out_height, out_width)``.

    ``input_shape`` is (N, C, H, W); kernel, stride and padding are ints or (height, width)
    pairs. Besides the conv2d rules (kernel and stride >= 1, padding >= 0, window fits the
    padded input) this enforces PyTorch's ``padding <= kernel / 2``, which guarantees that every
    window holds at least one real input element. Raises ``ValueError`` naming ``op_name``.
    """
    op = op_name
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got input {input_shape}")
    kernel, stride, padding = (
        pair(kernel, "kernel_size", op),
        pair(stride, "stride", op),
        pair(padding, "padding", op),
    )
    batch, channels, height, width = input_shape
    where = f"for input {input_shape}"
    if batch < 0 or min(channels, height, width) < 1:
        raise ValueError(f"{op}: input sizes must be >= 1 (batch >= 0), got input {input_shape}")
    if min(kernel) < 1:
        raise ValueError(f"{op}: kernel_size must be >= 1, got kernel_size={kernel} {where}")
    if min(stride) < 1:
        raise ValueError(f"{op}: stride must be >= 1, got stride={stride} {where}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be >= 0, got padding={padding} {where}")
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(
            f"{op}: padding must be at most half the kernel size, got padding={padding} "
            f"with kernel_size={kernel} {where}"
        )
    out_h = output_size(height, kernel[0], stride[0], padding[0], 1)
    out_w = output_size(width, kernel[1], stride[1], padding[1], 1)
    if out_h < 1 or out_w < 1:
        padded = (height + 2 * padding[0], width + 2 * padding[1])
        raise ValueError(
            f"{op}: kernel_size={kernel} is larger than the padded input {padded} "
            f"(padding={padding}) {where}"
        )
    return out_h, out_w


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def kernel_arrays(op: str, **arrays: np.ndarray) -> list[np.ndarray]:
    """Check that the named arrays share one float dtype; return them C-contiguous.

    The Numba kernels are compiled once per (dtype, layout) combination; accepting only
    contiguous float32/float64 keeps that to two compilations per kernel. A non-contiguous
    argument is copied (``np.ascontiguousarray`` is free for contiguous ones). Raises
    ``TypeError`` naming ``op`` and every argument's dtype otherwise.
    """
    dtypes = {name: np.asarray(array).dtype for name, array in arrays.items()}
    first = next(iter(dtypes.values()))
    if first not in FLOAT_DTYPES or any(dtype != first for dtype in dtypes.values()):
        described = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"{op}: expected float32 or float64 arrays of one dtype, got {described}")
    return [np.ascontiguousarray(array) for array in arrays.values()]


def check_shape(op: str, name: str, shape: Sequence[int], expected: Sequence[int]) -> None:
    """Raise ``ValueError`` naming ``op`` unless ``shape`` equals ``expected``."""
    if tuple(shape) != tuple(expected):
        raise ValueError(f"{op}: {name} must have shape {tuple(expected)}, got {tuple(shape)}")

"""Fast 2-D max and average pooling, forward and backward (Numba, NCHW in and out).

Same maths, names and arguments as ``reference.py``. Pooling never mixes channels or samples,
so every (n, c) plane is an independent task for ``prange``, and the backward passes, which
add into overlapping windows, never race: a plane's gradient is written by one task only.

Instead of testing each window element against the padding, each window is first clipped to
the rows and columns that exist: padding adds nothing to a sum and never wins a max, so it can
simply be skipped. (Average pooling still divides by the full window size, as PyTorch's
default ``count_include_pad=True`` does.)

Max pooling's tie rule is the reference's (and PyTorch's): the window is scanned row by row
and only a strictly greater value replaces the current best, so the first maximum wins; a NaN
replaces any best, so a window with NaNs reports its last NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .geometry import IntPair, check_pool2d, check_shape, kernel_arrays


def max_pool2d_forward(
    x: np.ndarray, kernel: IntPair, stride: IntPair, padding: IntPair
) -> tuple[np.ndarray, np.ndarray]:
    """out[n, c, i, j] = max of x[n, c, i*sh - ph + kh, j*sw - pw + kw] over the window
    (padding is -inf); indices[n, c, i, j] = row * W + col of the first maximum (int64)."""
    out_height, out_width = check_pool2d("max_pool2d", x.shape, kernel, stride, padding)
    (x,) = kernel_arrays("max_pool2d", x=x)
    return _max_pool_kernel(x, out_height, out_width, *kernel, *stride, *padding)


def max_pool2d_backward(
    grad_out: np.ndarray, indices: np.ndarray, input_shape: tuple[int, int, int, int]
) -> np.ndarray:
    """grad_x = zeros(input_shape), then grad_x[n, c].flat[indices[n, c, i, j]] +=
    grad_out[n, c, i, j] for every window (overlapping windows accumulate)."""
    input_shape = tuple(int(size) for size in input_shape)
    _check_indices("max_pool2d_backward", indices, grad_out.shape, input_shape)
    (grad_out,) = kernel_arrays("max_pool2d_backward", grad_out=grad_out)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    return _max_pool_scatter_kernel(grad_out, indices, input_shape[2], input_shape[3])


def max_pool2d_gather(grad_x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """result[n, c, i, j] = grad_x[n, c].flat[indices[n, c, i, j]]: the adjoint of the scatter
    in :func:`max_pool2d_backward` (what grad-of-grad through max pooling needs)."""
    op = "max_pool2d_gather"
    if grad_x.ndim != 4 or indices.ndim != 4 or grad_x.shape[:2] != indices.shape[:2]:
        raise ValueError(
            f"{op}: grad_x (N, C, H, W) and indices (N, C, out_H, out_W) must be 4-D with the "
            f"same N and C, got grad_x {grad_x.shape} and indices {indices.shape}"
        )
    _check_indices(op, indices, indices.shape, grad_x.shape)
    (grad_x,) = kernel_arrays(op, grad_x=grad_x)
    batch, channels, height, width = grad_x.shape
    _, _, out_height, out_width = indices.shape
    planes = grad_x.reshape(batch, channels, height * width)
    flat_indices = indices.reshape(batch, channels, out_height * out_width)
    return np.take_along_axis(planes, flat_indices, axis=2).reshape(indices.shape)


def avg_pool2d_forward(
    x: np.ndarray, kernel: IntPair, stride: IntPair, padding: IntPair
) -> np.ndarray:
    """out[n, c, i, j] = (1 / (KH*KW)) * sum of x[n, c, i*sh - ph + kh, j*sw - pw + kw] over
    the window, padding counted as zeros (count_include_pad=True, ceil_mode=False)."""
    out_height, out_width = check_pool2d("avg_pool2d", x.shape, kernel, stride, padding)
    (x,) = kernel_arrays("avg_pool2d", x=x)
    return _avg_pool_kernel(x, out_height, out_width, *kernel, *stride, *padding)


def avg_pool2d_backward(
    grad_out: np.ndarray,
    input_shape: tuple[int, int, int, int],
    kernel: IntPair,
    stride: IntPair,
    padding: IntPair,
) -> np.ndarray:
    """grad_x[n, c, row, col] = sum of grad_out[n, c, i, j] / (KH*KW) over the windows (i, j)
    that contain (row, col)."""
    input_shape = tuple(int(size) for size in input_shape)
    out_height, out_width = check_pool2d("avg_pool2d", input_shape, kernel, stride, padding)
    expected = input_shape[:2] + (out_height, out_width)
    check_shape("avg_pool2d_backward", "grad_out", grad_out.shape, expected)
    (grad_out,) = kernel_arrays("avg_pool2d_backward", grad_out=grad_out)
    height, width = input_shape[2:]
    return _avg_pool_backward_kernel(grad_out, height, width, *kernel, *stride, *padding)


def _check_indices(op, indices, out_shape, input_shape):
    """Indices come from max_pool2d_forward, but a wrong one would make the Numba scatter write
    outside its plane, so check shape, type and range (one cheap pass) before using them."""
    check_shape(op, "indices", indices.shape, out_shape)
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input shape must be 4-D (N, C, H, W), got {tuple(input_shape)}")
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{op}: indices must be integers, got {indices.dtype}")
    plane_size = input_shape[2] * input_shape[3]
    if indices.size and (indices.min() < 0 or indices.max() >= plane_size):
        raise ValueError(
            f"{op}: indices must lie in [0, {plane_size}) for input shape {tuple(input_shape)}, "
            f"got values in [{indices.min()}, {indices.max()}]"
        )


@njit(cache=True)
def _window(out_index, stride, padding, kernel, size):
    """The part of one window that lies inside the input: [start, stop) along one axis."""
    start = out_index * stride - padding
    return max(start, 0), min(start + kernel, size)


@njit(parallel=True, cache=True)
def _max_pool_kernel(
    x, out_height, out_width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w
):
    batch, channels, height, width = x.shape
    out = np.empty((batch, channels, out_height, out_width), x.dtype)
    indices = np.empty((batch, channels, out_height, out_width), np.int64)
    for plane in prange(batch * channels):
        n, c = plane // channels, plane % channels
        image = x[n, c]
        for i in range(out_height):
            row_start, row_stop = _window(i, stride_h, pad_h, kernel_h, height)
            for j in range(out_width):
                col_start, col_stop = _window(j, stride_w, pad_w, kernel_w, width)
                # Start from the first real element: padding is -inf and never wins.
                best_value = image[row_start, col_start]
                best_index = row_start * width + col_start
                saw_nan = False
                for row in range(row_start, row_stop):
                    for col in range(col_start, col_stop):
                        value = image[row, col]
                        saw_nan |= value != value
                        # A plain "greater than" is the whole tie rule, and LLVM turns it
                        # into branch-free selects; a NaN test in the same condition made
                        # it branch (3x slower on random data). NaNs are fixed up below.
                        if value > best_value:
                            best_value = value
                            best_index = row * width + col
                if saw_nan:
                    # The reference lets every NaN replace the best, so the last NaN wins.
                    for row in range(row_start, row_stop):
                        for col in range(col_start, col_stop):
                            if image[row, col] != image[row, col]:
                                best_value = image[row, col]
                                best_index = row * width + col
                out[n, c, i, j] = best_value
                indices[n, c, i, j] = best_index
    return out, indices


@njit(parallel=True, cache=True)
def _max_pool_scatter_kernel(grad_out, indices, height, width):
    batch, channels, out_height, out_width = grad_out.shape
    grad_input = np.empty((batch, channels, height * width), grad_out.dtype)
    for plane in prange(batch * channels):
        n, c = plane // channels, plane % channels
        target = grad_input[n, c]
        target[:] = 0
        for i in range(out_height):
            for j in range(out_width):
                target[indices[n, c, i, j]] += grad_out[n, c, i, j]
    return grad_input.reshape(batch, channels, height, width)


@njit(parallel=True, cache=True)
def _avg_pool_kernel(
    x, out_height, out_width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w
):
    batch, channels, height, width = x.shape
    window_size = x.dtype.type(kernel_h * kernel_w)  # keep float32 sums in float32
    out = np.empty((batch, channels, out_height, out_width), x.dtype)
    for plane in prange(batch * channels):
        n, c = plane // channels, plane % channels
        image = x[n, c]
        for i in range(out_height):
            row_start, row_stop = _window(i, stride_h, pad_h, kernel_h, height)
            for j in range(out_width):
                col_start, col_stop = _window(j, stride_w, pad_w, kernel_w, width)
                total = x.dtype.type(0)
                for row in range(row_start, row_stop):
                    for col in range(col_start, col_stop):
                        total += image[row, col]
                out[n, c, i, j] = total / window_size
    return out


@njit(parallel=True, cache=True)
def _avg_pool_backward_kernel(
    grad_out, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w
):
    batch, channels, out_height, out_width = grad_out.shape
    window_size = grad_out.dtype.type(kernel_h * kernel_w)
    grad_input = np.empty((batch, channels, height, width), grad_out.dtype)
    for plane in prange(batch * channels):
        n, c = plane // channels, plane % channels
        target = grad_input[n, c]
        target[:] = 0
        for i in range(out_height):
            row_start, row_stop = _window(i, stride_h, pad_h, kernel_h, height)
            for j in range(out_width):
                col_start, col_stop = _window(j, stride_w, pad_w, kernel_w, width)
                share = grad_out[n, c, i, j] / window_size
                for row in range(row_start, row_stop):
                    for col in range(col_start, col_stop):
                        target[row, col] += share
    return grad_input

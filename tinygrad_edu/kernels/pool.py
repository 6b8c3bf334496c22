"""Fast 2-D max and average pooling, forward and backward (Numba, NCHW in and out).

Same maths, names and arguments as ``reference.py``. Pooling never mixes channels or samples,
so every (n, c) plane is an independent task for ``prange``, and the backward passes, which
add into overlapping windows, never race: a plane's gradient is written by one task only.

Max pooling clips each window to the rows and columns that exist instead of testing every
element against the padding: padding is minus infinity and never wins, so it can be skipped.
Average pooling sums each window column by column (see the note above its kernels) and still
divides by the full window size, padding included, as PyTorch's default
``count_include_pad=True`` does.

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
    op = "max_pool2d_backward"
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 4 or grad_out.ndim != 4 or grad_out.shape[:2] != input_shape[:2]:
        raise ValueError(
            f"{op}: grad_out (N, C, out_H, out_W) and input_shape (N, C, H, W) must be 4-D with "
            f"the same N and C, got grad_out {grad_out.shape} and input_shape {input_shape}"
        )
    _check_index_array(op, indices, grad_out.shape)
    (grad_out,) = kernel_arrays(op, grad_out=grad_out)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    grad_input, outside = _max_pool_scatter_kernel(grad_out, indices, *input_shape[2:])
    if outside:
        _raise_outside_plane(op, indices, input_shape)
    return grad_input


def max_pool2d_gather(grad_x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """result[n, c, i, j] = grad_x[n, c].flat[indices[n, c, i, j]]: the adjoint of the scatter
    in :func:`max_pool2d_backward` (what grad-of-grad through max pooling needs)."""
    op = "max_pool2d_gather"
    if grad_x.ndim != 4 or indices.ndim != 4 or grad_x.shape[:2] != indices.shape[:2]:
        raise ValueError(
            f"{op}: grad_x (N, C, H, W) and indices (N, C, out_H, out_W) must be 4-D with the "
            f"same N and C, got grad_x {grad_x.shape} and indices {indices.shape}"
        )
    _check_index_array(op, indices, indices.shape)
    plane_size = grad_x.shape[2] * grad_x.shape[3]
    if indices.size and (indices.min() < 0 or indices.max() >= plane_size):
        _raise_outside_plane(op, indices, grad_x.shape)
    (grad_x,) = kernel_arrays(op, grad_x=grad_x)
    batch, channels, height, width = grad_x.shape
    # indices count within one (n, c) plane; shift them to count in the whole flat array.
    plane_starts = np.arange(batch * channels, dtype=np.int64).reshape(batch, channels, 1, 1)
    return np.take(grad_x.reshape(-1), indices + plane_starts * (height * width))


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


def _check_index_array(op, indices, expected_shape):
    check_shape(op, "indices", indices.shape, expected_shape)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{op}: indices must be integers, got {indices.dtype}")


def _raise_outside_plane(op, indices, input_shape):
    # Indices come from max_pool2d_forward; a wrong one would read or write outside its
    # (n, c) plane, so the kernels refuse it instead of silently mixing planes.
    raise ValueError(
        f"{op}: indices must lie in [0, {input_shape[2] * input_shape[3]}) for input shape "
        f"{tuple(input_shape)}, got values in [{indices.min()}, {indices.max()}]"
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
    """Scatter-add each plane's gradient to its winners; also count indices outside the plane
    (skipped here, reported as an error by the caller)."""
    batch, channels, out_height, out_width = grad_out.shape
    plane_size = height * width
    grad_input = np.empty((batch, channels, plane_size), grad_out.dtype)
    outside = 0
    for plane in prange(batch * channels):
        n, c = plane // channels, plane % channels
        target = grad_input[n, c]
        target[:] = 0
        for i in range(out_height):
            for j in range(out_width):
                index = indices[n, c, i, j]
                if 0 <= index < plane_size:
                    target[index] += grad_out[n, c, i, j]
                else:
                    outside += 1
    return grad_input.reshape(batch, channels, height, width), outside


# Average pooling is separable: a window's sum is the sum over its columns of that column's
# sum over the window's rows. The row sums are long contiguous additions that SIMD does well;
# what is left per output is a KW-term sum instead of a KH*KW-term one (3x faster at 2x2).
# Both kernels work on one output row at a time through a buffer as wide as the padded input,
# whose padding columns stay zero, so no window needs clipping sideways.


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
        column_sums = np.zeros(width + 2 * pad_w, x.dtype)
        inside = column_sums[pad_w : pad_w + width]
        for i in range(out_height):
            row_start, row_stop = _window(i, stride_h, pad_h, kernel_h, height)
            inside[:] = image[row_start]
            for row in range(row_start + 1, row_stop):
                line = image[row]
                for col in range(width):
                    inside[col] += line[col]
            for j in range(out_width):
                total = column_sums[j * stride_w]
                for kw in range(1, kernel_w):
                    total += column_sums[j * stride_w + kw]
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
        column_shares = np.empty(width + 2 * pad_w, grad_out.dtype)
        inside = column_shares[pad_w : pad_w + width]
        for i in range(out_height):
            # What each column of this output row's windows receives...
            column_shares[:] = 0
            for j in range(out_width):
                share = grad_out[n, c, i, j] / window_size
                for kw in range(kernel_w):
                    column_shares[j * stride_w + kw] += share
            # ...goes to every real row of the windows.
            row_start, row_stop = _window(i, stride_h, pad_h, kernel_h, height)
            for row in range(row_start, row_stop):
                line = target[row]
                for col in range(width):
                    line[col] += inside[col]
    return grad_input

"""Convolution and pooling as plain loops: slow, obvious, and the oracle for the fast kernels.

Read this file first. Every function here has the name, arguments and result of its fast twin
in ``conv.py`` / ``pool.py``, and the tests check that the two agree. Nothing is vectorised:
each loop nest walks the output exactly as the maths reads, so a learner can follow one output
element from its formula to its gradient.

Layout is NCHW throughout: ``x[n, c, h, w]`` is sample n, channel c, row h, column w.
A conv weight is ``weight[o, c, kh, kw]``: output channel o, input channel c, kernel row and
column. Stride, padding and dilation are (height, width) pairs of ints.

Index maths used everywhere (per axis, shown for rows):

    in_row = out_row * stride - padding + kernel_row * dilation

Output row ``out_row`` starts its window at ``out_row * stride`` in the *padded* input, which
is ``out_row * stride - padding`` in the real input; kernel row ``kh`` is ``kh * dilation``
further down. When ``in_row`` falls outside ``0 .. H-1`` it lands in the padding: zero for a
convolution and for average pooling, minus infinity for max pooling. We never build a padded
copy here; we just skip (or count) those positions.

The backward functions are the forward loop nest with the multiply-add read backwards. If the
forward did ``out[i] += a * b`` then, by the chain rule, ``grad_a += grad_out[i] * b`` and
``grad_b += grad_out[i] * a``, once for every time the pair met.
"""

from __future__ import annotations

import numpy as np

from .geometry import IntPair, check_conv2d, check_pool2d


def _input_index(out_index: int, stride: int, padding: int, kernel_index: int, dilation: int):
    """Where output position ``out_index`` and kernel tap ``kernel_index`` read the input."""
    return out_index * stride - padding + kernel_index * dilation


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, stride: IntPair, padding: IntPair, dilation: IntPair
) -> np.ndarray:
    """Cross-correlation (what deep learning calls convolution), no bias.

    out[n, o, i, j] = sum over c, kh, kw of
                      weight[o, c, kh, kw] * x[n, c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]

    where x reads as zero outside the input (zero padding).
    """
    out_height, out_width = check_conv2d(x.shape, weight.shape, stride, padding, dilation)
    batch, in_channels, height, width = x.shape
    out_channels, _, kernel_height, kernel_width = weight.shape
    out = np.zeros((batch, out_channels, out_height, out_width), dtype=x.dtype)
    for n in range(batch):
        for o in range(out_channels):
            for i in range(out_height):
                for j in range(out_width):
                    total = 0.0
                    for c in range(in_channels):
                        for kh in range(kernel_height):
                            row = _input_index(i, stride[0], padding[0], kh, dilation[0])
                            if not 0 <= row < height:
                                continue  # a padded row: contributes zero
                            for kw in range(kernel_width):
                                col = _input_index(j, stride[1], padding[1], kw, dilation[1])
                                if 0 <= col < width:
                                    total += weight[o, c, kh, kw] * x[n, c, row, col]
                    out[n, o, i, j] = total
    return out


def conv2d_grad_input(
    grad_out: np.ndarray,
    weight: np.ndarray,
    input_shape: tuple[int, int, int, int],
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> np.ndarray:
    """Gradient of the loss with respect to the conv input.

    Every input element x[n, c, row, col] met weight[o, c, kh, kw] once for each output
    out[n, o, i, j] whose window put tap (kh, kw) on it, so

    grad_x[n, c, row, col] = sum of grad_out[n, o, i, j] * weight[o, c, kh, kw]
                             over all (o, i, j, kh, kw) with row = i*sh - ph + kh*dh and
                             col = j*sw - pw + kw*dw.

    We walk the forward loops and add each product where the forward read it. Padding was
    never a real input element, so its gradient is dropped.
    """
    check_conv2d(input_shape, weight.shape, stride, padding, dilation)
    batch, in_channels, height, width = input_shape
    out_channels, _, kernel_height, kernel_width = weight.shape
    _, _, out_height, out_width = grad_out.shape
    grad_input = np.zeros(input_shape, dtype=grad_out.dtype)
    for n in range(batch):
        for o in range(out_channels):
            for i in range(out_height):
                for j in range(out_width):
                    g = grad_out[n, o, i, j]
                    for c in range(in_channels):
                        for kh in range(kernel_height):
                            row = _input_index(i, stride[0], padding[0], kh, dilation[0])
                            if not 0 <= row < height:
                                continue
                            for kw in range(kernel_width):
                                col = _input_index(j, stride[1], padding[1], kw, dilation[1])
                                if 0 <= col < width:
                                    grad_input[n, c, row, col] += g * weight[o, c, kh, kw]
    return grad_input


def conv2d_grad_weight(
    x: np.ndarray,
    grad_out: np.ndarray,
    weight_shape: tuple[int, int, int, int],
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> np.ndarray:
    """Gradient of the loss with respect to the conv weight.

    One weight is shared by every window position of every sample, so its gradient sums over
    all of them:

    grad_weight[o, c, kh, kw] = sum over n, i, j of
                                grad_out[n, o, i, j] * x[n, c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]
    """
    check_conv2d(x.shape, weight_shape, stride, padding, dilation)
    batch, in_channels, height, width = x.shape
    out_channels, _, kernel_height, kernel_width = weight_shape
    _, _, out_height, out_width = grad_out.shape
    grad_weight = np.zeros(weight_shape, dtype=x.dtype)
    for o in range(out_channels):
        for c in range(in_channels):
            for kh in range(kernel_height):
                for kw in range(kernel_width):
                    total = 0.0
                    for n in range(batch):
                        for i in range(out_height):
                            row = _input_index(i, stride[0], padding[0], kh, dilation[0])
                            if not 0 <= row < height:
                                continue
                            for j in range(out_width):
                                col = _input_index(j, stride[1], padding[1], kw, dilation[1])
                                if 0 <= col < width:
                                    total += grad_out[n, o, i, j] * x[n, c, row, col]
                    grad_weight[o, c, kh, kw] = total
    return grad_weight


def max_pool2d_forward(
    x: np.ndarray, kernel: IntPair, stride: IntPair, padding: IntPair
) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window, and where it was.

    out[n, c, i, j] = max over kh, kw of x[n, c, i*sh - ph + kh, j*sw - pw + kw]

    Padding counts as minus infinity, so it never wins (every window holds at least one real
    element because padding <= kernel / 2). ``indices[n, c, i, j]`` is the flat position
    ``row * W + col`` of the winner inside its (n, c) plane, as PyTorch's
    ``return_indices=True`` gives.

    Ties: the window is scanned in row-major order and only a strictly greater value replaces
    the current best, so the *first* maximum wins. A NaN always replaces the best (so a NaN in
    the window makes the output NaN, as in PyTorch).
    """
    out_height, out_width = check_pool2d("max_pool2d", x.shape, kernel, stride, padding)
    batch, channels, height, width = x.shape
    out = np.empty((batch, channels, out_height, out_width), dtype=x.dtype)
    indices = np.empty((batch, channels, out_height, out_width), dtype=np.int64)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                for j in range(out_width):
                    best_value = -np.inf
                    best_index = -1
                    for kh in range(kernel[0]):
                        row = _input_index(i, stride[0], padding[0], kh, 1)
                        if not 0 <= row < height:
                            continue  # padding is -inf: it never wins
                        for kw in range(kernel[1]):
                            col = _input_index(j, stride[1], padding[1], kw, 1)
                            if not 0 <= col < width:
                                continue
                            value = x[n, c, row, col]
                            if best_index < 0 or value > best_value or np.isnan(value):
                                best_value = value
                                best_index = row * width + col
                    out[n, c, i, j] = best_value
                    indices[n, c, i, j] = best_index
    return out, indices


def max_pool2d_backward(
    grad_out: np.ndarray, indices: np.ndarray, input_shape: tuple[int, int, int, int]
) -> np.ndarray:
    """Route each output gradient to the input element that won its window.

    grad_x[n, c, row, col] = sum of grad_out[n, c, i, j] over the windows (i, j) whose
    maximum was at ``row * W + col``. Overlapping windows can share a winner, so we add.
    """
    batch, channels, height, width = input_shape
    _, _, out_height, out_width = grad_out.shape
    grad_input = np.zeros(input_shape, dtype=grad_out.dtype)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                for j in range(out_width):
                    row, col = divmod(int(indices[n, c, i, j]), width)
                    grad_input[n, c, row, col] += grad_out[n, c, i, j]
    return grad_input


def max_pool2d_gather(grad_x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Pick ``grad_x`` at each window's winner: the adjoint of :func:`max_pool2d_backward`.

    result[n, c, i, j] = grad_x[n, c, row, col] with (row, col) = divmod(indices[n, c, i, j], W)

    The backward of max pooling is linear in ``grad_out`` (a scatter-add), and the gradient of
    a scatter-add is this gather; it is what makes grad-of-grad through max pooling work.
    """
    batch, channels, _, width = grad_x.shape
    _, _, out_height, out_width = indices.shape
    result = np.empty(indices.shape, dtype=grad_x.dtype)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                for j in range(out_width):
                    row, col = divmod(int(indices[n, c, i, j]), width)
                    result[n, c, i, j] = grad_x[n, c, row, col]
    return result


def avg_pool2d_forward(
    x: np.ndarray, kernel: IntPair, stride: IntPair, padding: IntPair
) -> np.ndarray:
    """Mean over each window, padding counted as zeros.

    out[n, c, i, j] = (1 / (KH * KW)) * sum over kh, kw of x[n, c, i*sh - ph + kh, j*sw - pw + kw]

    This is PyTorch's default (``count_include_pad=True``, ``ceil_mode=False``): the divisor
    is always the full window size, even where part of the window is padding.
    """
    out_height, out_width = check_pool2d("avg_pool2d", x.shape, kernel, stride, padding)
    batch, channels, height, width = x.shape
    window_size = kernel[0] * kernel[1]
    out = np.empty((batch, channels, out_height, out_width), dtype=x.dtype)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                for j in range(out_width):
                    total = 0.0
                    for kh in range(kernel[0]):
                        row = _input_index(i, stride[0], padding[0], kh, 1)
                        if not 0 <= row < height:
                            continue  # padding adds zero (but still counts in window_size)
                        for kw in range(kernel[1]):
                            col = _input_index(j, stride[1], padding[1], kw, 1)
                            if 0 <= col < width:
                                total += x[n, c, row, col]
                    out[n, c, i, j] = total / window_size
    return out


def avg_pool2d_backward(
    grad_out: np.ndarray,
    input_shape: tuple[int, int, int, int],
    kernel: IntPair,
    stride: IntPair,
    padding: IntPair,
) -> np.ndarray:
    """Spread each output gradient evenly over its window.

    d out[n, c, i, j] / d x[n, c, row, col] = 1 / (KH * KW) for every real element of the
    window, so each input element collects grad_out / (KH * KW) from every window it is in.
    """
    check_pool2d("avg_pool2d", input_shape, kernel, stride, padding)
    batch, channels, height, width = input_shape
    _, _, out_height, out_width = grad_out.shape
    window_size = kernel[0] * kernel[1]
    grad_input = np.zeros(input_shape, dtype=grad_out.dtype)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                for j in range(out_width):
                    share = grad_out[n, c, i, j] / window_size
                    for kh in range(kernel[0]):
                        row = _input_index(i, stride[0], padding[0], kh, 1)
                        if not 0 <= row < height:
                            continue
                        for kw in range(kernel[1]):
                            col = _input_index(j, stride[1], padding[1], kw, 1)
                            if 0 <= col < width:
                                grad_input[n, c, row, col] += share
    return grad_input

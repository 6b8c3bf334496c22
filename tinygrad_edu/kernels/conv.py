"""Fast conv2d: forward, gradient of the input, gradient of the weight (Numba, NCHW in and out).

Same maths, names and arguments as ``reference.py`` (read that first); this file is only about
speed. No bias: the autograd layer adds it.

The idea: put the batch last
----------------------------
A stride-1 convolution output row is a sum of *shifted input rows*, one per kernel tap:

    out[o, i, :] = sum over c, kh, kw of  weight[o, c, kh, kw] * x_padded[c, i + kh, kw : kw + OW]

Each term is a multiply-add over a contiguous run of OW values, which the CPU can do 8 float32 at
a time (SIMD). For LeNet's second layer OW is 10, far too short to keep SIMD lanes busy. So we
first copy the input into *batch-last rows*: ``rows[c, h, w * N + n] = x_padded[n, c, h, w]``.
Now the N samples of one pixel sit side by side, and the same tap, applied to a whole row of
every sample at once, is one contiguous run of ``OW * N`` values (1280 for N=128 in LeNet's
second layer):

    out_rows[o, i, :] += weight[o, c, kh, kw] * rows[c, i*sh + kh*dh, kw*dw*N : kw*dw*N + OW*N]

With stride sw > 1 the output columns no longer read evenly spaced input columns, so the run
splits into OW runs of N values (one per output column); nothing else changes. Each tap
t = (c, kh, kw) reads at a fixed offset from its window's start (:func:`_tap_offsets`), so the
kernels loop over a flat list of taps, four at a time, whatever channel and row they are in.

What makes the innermost loop fast, measured at LeNet sizes:

* Register blocking (1.5x): the innermost loop updates two output rows from four input runs,
  so each loaded input value feeds two multiply-adds and each stored sum took four
  (:func:`_madd_2x4`). Loads and stores, not arithmetic, are what bound these loops.
* ``fastmath={"contract"}`` (1.1x) lets LLVM fuse ``a * b + c`` into one FMA instruction (one
  rounding instead of two: at least as accurate). The weight gradient, a long dot product,
  also allows ``reassoc`` so that LLVM may keep its sums in SIMD lanes at all.
* No BLAS: im2col + matmul was 4 to 9 times slower here (the column matrix costs more to write
  than the matmul saves), and BLAS threads fight Numba's for the cores (docs/kernels.md).

Each pass is one copy into batch-last rows plus one parallel kernel that writes the NCHW result
directly. ``prange`` splits the work into tasks that each own what they write (an output
channel pair and row, an input channel pair and row, or an output channel pair and four taps),
so there are no locks, no races, and results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .geometry import IntPair, check_conv2d, check_shape, kernel_arrays

_FMA = {"contract"}
_FMA_AND_REORDERED_SUMS = {"contract", "reassoc"}


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, stride: IntPair, padding: IntPair, dilation: IntPair
) -> np.ndarray:
    """out[n, o, i, j] = sum over c, kh, kw of weight[o, c, kh, kw] * x[n, c, i*sh - ph + kh*dh,
    j*sw - pw + kw*dw], zero outside the input. x (N, C, H, W), weight (O, C, KH, KW)."""
    out_height, out_width = check_conv2d(x.shape, weight.shape, stride, padding, dilation)
    x, weight = kernel_arrays("conv2d", x=x, weight=weight)
    rows = _to_batch_last_rows(x, padding[0], padding[1])
    return _forward_kernel(rows, weight, x.shape[0], out_height, out_width, *stride, *dilation)


def conv2d_grad_input(
    grad_out: np.ndarray,
    weight: np.ndarray,
    input_shape: tuple[int, int, int, int],
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> np.ndarray:
    """grad_x[n, c, row, col] = sum of grad_out[n, o, i, j] * weight[o, c, kh, kw] over all
    (o, i, j, kh, kw) with row = i*sh - ph + kh*dh and col = j*sw - pw + kw*dw."""
    input_shape = tuple(int(size) for size in input_shape)
    out_height, out_width = check_conv2d(input_shape, weight.shape, stride, padding, dilation)
    batch, out_channels = input_shape[0], weight.shape[0]
    expected = (batch, out_channels, out_height, out_width)
    check_shape("conv2d_grad_input", "grad_out", grad_out.shape, expected)
    grad_out, weight = kernel_arrays("conv2d_grad_input", grad_out=grad_out, weight=weight)
    grad_rows = _to_batch_last_rows(grad_out, 0, 0)
    # (C, KH, KW, O): the weights that one input channel's tap sends to each output channel,
    # contiguous so that four of them load as one short run.
    weight_by_input = np.ascontiguousarray(weight.transpose(1, 2, 3, 0))
    _, _, height, width = input_shape
    return _grad_input_kernel(
        grad_rows, weight_by_input, batch, height, width, out_width, *stride, *padding, *dilation
    )


def conv2d_grad_weight(
    x: np.ndarray,
    grad_out: np.ndarray,
    weight_shape: tuple[int, int, int, int],
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> np.ndarray:
    """grad_weight[o, c, kh, kw] = sum over n, i, j of
    grad_out[n, o, i, j] * x[n, c, i*sh - ph + kh*dh, j*sw - pw + kw*dw]."""
    weight_shape = tuple(int(size) for size in weight_shape)
    out_height, out_width = check_conv2d(x.shape, weight_shape, stride, padding, dilation)
    expected = (x.shape[0], weight_shape[0], out_height, out_width)
    check_shape("conv2d_grad_weight", "grad_out", grad_out.shape, expected)
    x, grad_out = kernel_arrays("conv2d_grad_weight", x=x, grad_out=grad_out)
    rows = _to_batch_last_rows(x, padding[0], padding[1])
    grad_rows = _to_batch_last_rows(grad_out, 0, 0)
    _, _, kernel_height, kernel_width = weight_shape
    return _grad_weight_kernel(
        rows, grad_rows, x.shape[0], out_width, kernel_height, kernel_width, *stride, *dilation
    )


# --- layout ---------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def _to_batch_last_rows(x, pad_h, pad_w):
    """rows[c, pad_h + h, (pad_w + w) * N + n] = x[n, c, h, w]; the padding border is zero."""
    batch, channels, height, width = x.shape
    padded_height = height + 2 * pad_h
    padded_width = width + 2 * pad_w
    rows = np.empty((channels, padded_height, padded_width * batch), x.dtype)
    for task in prange(channels * padded_height):
        c, padded_row = task // padded_height, task % padded_height
        row = rows[c, padded_row]
        h = padded_row - pad_h
        if h < 0 or h >= height:
            row[:] = 0
            continue
        row[: pad_w * batch] = 0
        row[(pad_w + width) * batch :] = 0
        for n in range(batch):
            source = x[n, c, h]
            for w in range(width):
                row[(pad_w + w) * batch + n] = source[w]
    return rows


@njit(cache=True)
def _runs(out_width, batch, stride_w):
    """How one output row splits into contiguous runs: (number of runs, run length).

    Output column j, sample n lives at j * batch + n. With stride 1 a tap reads the input row
    at the same position shifted by a constant, so the whole row is one run; with a larger
    stride each output column is its own run of ``batch`` values.
    """
    if stride_w == 1:
        return 1, out_width * batch
    return out_width, batch


# --- the inner loops everything is built from --------------------------------------------


@njit(cache=True)
def _tap_offsets(rows, batch, kernel_height, kernel_width, dil_h, dil_w):
    """Where each kernel tap t = (c, kh, kw), in weight order, starts reading the flattened
    batch-last rows, relative to where its window starts: row c*Hp + kh*dh, column kw*dw."""
    in_channels, padded_height, row_length = rows.shape
    offsets = np.empty(in_channels * kernel_height * kernel_width, np.int64)
    for c in range(in_channels):
        for kh in range(kernel_height):
            for kw in range(kernel_width):
                t = (c * kernel_height + kh) * kernel_width + kw
                offsets[t] = (c * padded_height + kh * dil_h) * row_length + kw * dil_w * batch
    return offsets


@njit(cache=True)
def _run(flat, start, length):
    """The contiguous run flat[start : start + length]."""
    return flat[start : start + length]


@njit(cache=True, fastmath=_FMA)
def _madd_2x4(y0, y1, x0, x1, x2, x3, a, b):
    """y0 += a[0]*x0 + a[1]*x1 + a[2]*x2 + a[3]*x3 and y1 likewise with b (elementwise)."""
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    b0, b1, b2, b3 = b[0], b[1], b[2], b[3]
    for q in range(y0.shape[0]):
        v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
        y0[q] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
        y1[q] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3


@njit(cache=True, fastmath=_FMA)
def _madd_2x1(y0, y1, x0, a0, b0):
    """y0 += a0 * x0 and y1 += b0 * x0 (elementwise): the leftover taps of _madd_2x4."""
    for q in range(y0.shape[0]):
        y0[q] += a0 * x0[q]
        y1[q] += b0 * x0[q]


@njit(cache=True, fastmath=_FMA_AND_REORDERED_SUMS)
def _dot_2x4(g0, g1, x0, x1, x2, x3):
    """The eight dot products of (g0, g1) with (x0, x1, x2, x3): each load feeds several sums."""
    zero = g0.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    for q in range(g0.shape[0]):
        u, v = g0[q], g1[q]
        v0, v1, v2, v3 = x0[q], x1[q], x2[q], x3[q]
        s00 += u * v0
        s01 += u * v1
        s02 += u * v2
        s03 += u * v3
        s10 += v * v0
        s11 += v * v1
        s12 += v * v2
        s13 += v * v3
    return s00, s01, s02, s03, s10, s11, s12, s13


@njit(cache=True, fastmath=_FMA_AND_REORDERED_SUMS)
def _dot_2x1(g0, g1, x0):
    """The dot products of g0 and g1 with x0."""
    zero = g0.dtype.type(0)
    s0 = s1 = zero
    for q in range(g0.shape[0]):
        s0 += g0[q] * x0[q]
        s1 += g1[q] * x0[q]
    return s0, s1


# --- forward ----------------------------------------------------------------------------------


@njit(parallel=True, cache=True, fastmath=_FMA)
def _forward_kernel(rows, weight, batch, out_height, out_width, stride_h, stride_w, dil_h, dil_w):
    """out_rows[o, i] = sum over taps t of weight[o, t] * (the run tap t reads for row i),
    two output channels and four taps at a time. One task owns one (channel pair, output row)."""
    in_channels, padded_height, row_length = rows.shape
    out_channels, _, kernel_height, kernel_width = weight.shape
    flat = rows.reshape(rows.size)
    weights = weight.reshape(out_channels, in_channels * kernel_height * kernel_width)
    offsets = _tap_offsets(rows, batch, kernel_height, kernel_width, dil_h, dil_w)
    taps = offsets.shape[0]
    blocked_taps = taps - taps % 4
    runs, run_length = _runs(out_width, batch, stride_w)
    out = np.empty((batch, out_channels, out_height, out_width), rows.dtype)
    channel_pairs = (out_channels + 1) // 2
    for task in prange(channel_pairs * out_height):
        pair, i = task // out_height, task % out_height
        # Two output channels share every input load. With an odd count the last pair is
        # (O-1, O-1): computed twice, which is simpler than a one-channel copy of the loop.
        o0 = 2 * pair
        o1 = min(o0 + 1, out_channels - 1)
        sums0 = np.zeros(out_width * batch, rows.dtype)
        sums1 = np.zeros(out_width * batch, rows.dtype)
        for run in range(runs):
            y0 = _run(sums0, run * run_length, run_length)
            y1 = _run(sums1, run * run_length, run_length)
            window = i * stride_h * row_length + run * stride_w * batch  # tap (0, 0, 0) reads here
            for t in range(0, blocked_taps, 4):
                _madd_2x4(
                    y0,
                    y1,
                    _run(flat, window + offsets[t], run_length),
                    _run(flat, window + offsets[t + 1], run_length),
                    _run(flat, window + offsets[t + 2], run_length),
                    _run(flat, window + offsets[t + 3], run_length),
                    weights[o0, t : t + 4],
                    weights[o1, t : t + 4],
                )
            for t in range(blocked_taps, taps):
                x0 = _run(flat, window + offsets[t], run_length)
                _madd_2x1(y0, y1, x0, weights[o0, t], weights[o1, t])
        # Back from (column, sample) order to NCHW.
        for n in range(batch):
            for j in range(out_width):
                out[n, o0, i, j] = sums0[j * batch + n]
                out[n, o1, i, j] = sums1[j * batch + n]
    return out


# --- gradient of the input ------------------------------------------------------------------


@njit(parallel=True, cache=True, fastmath=_FMA)
def _grad_input_kernel(
    grad_rows,
    weight_by_input,
    batch,
    height,
    width,
    out_width,
    stride_h,
    stride_w,
    pad_h,
    pad_w,
    dil_h,
    dil_w,
):
    """The forward's data flow reversed: each output-gradient run is added back, scaled by the
    tap's weight, onto the input run that tap read. One task owns one (input channel pair,
    input row), so no two tasks ever add into the same place; four output channels at a time
    feed both channels of the pair."""
    out_channels, out_height, _ = grad_rows.shape
    in_channels, kernel_height, kernel_width, _ = weight_by_input.shape
    row_length = (width + 2 * pad_w) * batch
    runs, run_length = _runs(out_width, batch, stride_w)
    blocked_channels = out_channels - out_channels % 4
    grad_input = np.empty((batch, in_channels, height, width), grad_rows.dtype)
    channel_pairs = (in_channels + 1) // 2
    for task in prange(channel_pairs * height):
        pair, h = task // height, task % height
        c0 = 2 * pair
        c1 = min(c0 + 1, in_channels - 1)  # odd count: the last channel is done twice
        sums0 = np.zeros(row_length, grad_rows.dtype)
        sums1 = np.zeros(row_length, grad_rows.dtype)
        for kh in range(kernel_height):
            # Which output row i read this (padded) input row with kernel row kh?
            # The one with i*sh + kh*dh == h + ph, if there is one.
            offset = h + pad_h - kh * dil_h
            if offset < 0 or offset % stride_h != 0 or offset // stride_h >= out_height:
                continue
            i = offset // stride_h
            for kw in range(kernel_width):
                for run in range(runs):
                    landing = (run * stride_w + kw * dil_w) * batch  # where the tap read
                    y0 = _run(sums0, landing, run_length)
                    y1 = _run(sums1, landing, run_length)
                    g = run * run_length
                    for o in range(0, blocked_channels, 4):
                        _madd_2x4(
                            y0,
                            y1,
                            _run(grad_rows[o, i], g, run_length),
                            _run(grad_rows[o + 1, i], g, run_length),
                            _run(grad_rows[o + 2, i], g, run_length),
                            _run(grad_rows[o + 3, i], g, run_length),
                            weight_by_input[c0, kh, kw, o : o + 4],
                            weight_by_input[c1, kh, kw, o : o + 4],
                        )
                    for o in range(blocked_channels, out_channels):
                        x0 = _run(grad_rows[o, i], g, run_length)
                        w0, w1 = weight_by_input[c0, kh, kw, o], weight_by_input[c1, kh, kw, o]
                        _madd_2x1(y0, y1, x0, w0, w1)
        # Drop the padding columns and go back to NCHW.
        for n in range(batch):
            for w in range(width):
                grad_input[n, c0, h, w] = sums0[(pad_w + w) * batch + n]
                grad_input[n, c1, h, w] = sums1[(pad_w + w) * batch + n]
    return grad_input


# --- gradient of the weight -----------------------------------------------------------------


@njit(parallel=True, cache=True, fastmath=_FMA_AND_REORDERED_SUMS)
def _grad_weight_kernel(
    rows, grad_rows, batch, out_width, kernel_height, kernel_width, stride_h, stride_w, dil_h, dil_w
):
    """grad_weight[o, t] = the dot product, over every output row and run, of output channel
    o's gradient run with the run tap t read. One task owns one (output channel pair, block of
    four taps): eight weights, eight sums kept in registers."""
    in_channels, _, row_length = rows.shape
    out_channels, out_height, _ = grad_rows.shape
    flat = rows.reshape(rows.size)
    offsets = _tap_offsets(rows, batch, kernel_height, kernel_width, dil_h, dil_w)
    taps = offsets.shape[0]
    tap_blocks = (taps + 3) // 4
    runs, run_length = _runs(out_width, batch, stride_w)
    grad_weight = np.empty((out_channels, taps), rows.dtype)
    channel_pairs = (out_channels + 1) // 2
    for task in prange(channel_pairs * tap_blocks):
        pair, block = task // tap_blocks, task % tap_blocks
        o0 = 2 * pair
        o1 = min(o0 + 1, out_channels - 1)
        first = 4 * block
        last = min(first + 4, taps)
        sums = np.zeros((2, 4), rows.dtype)
        for i in range(out_height):
            for run in range(runs):
                g0 = _run(grad_rows[o0, i], run * run_length, run_length)
                g1 = _run(grad_rows[o1, i], run * run_length, run_length)
                window = i * stride_h * row_length + run * stride_w * batch
                if last - first == 4:
                    dots = _dot_2x4(
                        g0,
                        g1,
                        _run(flat, window + offsets[first], run_length),
                        _run(flat, window + offsets[first + 1], run_length),
                        _run(flat, window + offsets[first + 2], run_length),
                        _run(flat, window + offsets[first + 3], run_length),
                    )
                    for k in range(4):
                        sums[0, k] += dots[k]
                        sums[1, k] += dots[4 + k]
                else:  # the last one to three taps
                    for t in range(first, last):
                        x0 = _run(flat, window + offsets[t], run_length)
                        dot0, dot1 = _dot_2x1(g0, g1, x0)
                        sums[0, t - first] += dot0
                        sums[1, t - first] += dot1
        for t in range(first, last):
            grad_weight[o0, t] = sums[0, t - first]
            grad_weight[o1, t] = sums[1, t - first]
    return grad_weight.reshape(out_channels, in_channels, kernel_height, kernel_width)

"""Hypothesis strategies that draw valid convolution and pooling geometry.

Use them to test your own conv or pool layer against a reference over many shapes::

    from hypothesis import given, settings
    from tinygrad_edu.testing.strategies import conv2d_geometry

    @settings(deadline=None)
    @given(conv2d_geometry(max_size=6))
    def test_my_conv(geometry):
        input_shape, weight_shape, stride, padding, dilation = geometry
        ...

"Valid" means exactly what ``tinygrad_edu.kernels.check_conv2d`` / ``check_pool2d`` accept:
the (dilated) window fits the padded input, stride and dilation are >= 1, padding is >= 0 (and at
most half the kernel for pooling). Within that, draws reach the edges on purpose: windows that
exactly fill the padded input, size-1 images, channels and kernels, odd and even sizes, padding
wider than the image. Keep the maxima small: shapes grow fast and reference loops are slow.

Every argument is optional. Stride, padding, dilation and kernel come back as (height, width)
pairs of ints, shapes as tuples of ints.
"""

from __future__ import annotations

from hypothesis import strategies as st

IntPair = tuple[int, int]
Shape4 = tuple[int, int, int, int]
Conv2dGeometry = tuple[Shape4, Shape4, IntPair, IntPair, IntPair]
Pool2dGeometry = tuple[Shape4, IntPair, IntPair, IntPair]


def _pair_of(low: int, high: int) -> st.SearchStrategy[IntPair]:
    return st.tuples(st.integers(low, high), st.integers(low, high))


def _input_size(draw, window_span: int, padding: int, max_size: int) -> int:
    """An input size the window fits: size + 2*padding >= window_span, and size >= 1.

    The smallest such size makes the window exactly fill the padded input; hypothesis favours
    the ends of a range, so that edge comes up often.
    """
    smallest = max(1, window_span - 2 * padding)
    return draw(st.integers(smallest, max(smallest, max_size)))


@st.composite
def conv2d_geometry(
    draw,
    *,
    min_batch: int = 1,
    max_batch: int = 3,
    max_in_channels: int = 3,
    max_out_channels: int = 3,
    max_size: int = 8,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
) -> Conv2dGeometry:
    """Draw ``(input_shape, weight_shape, stride, padding, dilation)`` for a valid conv2d.

    input_shape is (N, C, H, W) with ``min_batch <= N <= max_batch``; weight_shape is
    (O, C, KH, KW). H and W are at most ``max_size`` unless the drawn (dilated) kernel needs
    more, in which case they are the smallest size the kernel fits.
    """
    batch = draw(st.integers(min_batch, max_batch))
    in_channels = draw(st.integers(1, max_in_channels))
    out_channels = draw(st.integers(1, max_out_channels))
    kernel = draw(_pair_of(1, max_kernel))
    stride = draw(_pair_of(1, max_stride))
    padding = draw(_pair_of(0, max_padding))
    dilation = draw(_pair_of(1, max_dilation))
    height, width = (
        _input_size(draw, dilation[axis] * (kernel[axis] - 1) + 1, padding[axis], max_size)
        for axis in (0, 1)
    )
    input_shape = (batch, in_channels, height, width)
    weight_shape = (out_channels, in_channels, kernel[0], kernel[1])
    return input_shape, weight_shape, stride, padding, dilation


@st.composite
def pool2d_geometry(
    draw,
    *,
    min_batch: int = 1,
    max_batch: int = 3,
    max_channels: int = 3,
    max_size: int = 8,
    max_kernel: int = 4,
    max_stride: int = 3,
) -> Pool2dGeometry:
    """Draw ``(input_shape, kernel, stride, padding)`` for a valid 2-D max or average pool.

    Padding is drawn per axis from 0 to ``kernel // 2`` (PyTorch's limit), so windows that are
    half padding come up too. Strides below the kernel size give overlapping windows.
    """
    batch = draw(st.integers(min_batch, max_batch))
    channels = draw(st.integers(1, max_channels))
    kernel = draw(_pair_of(1, max_kernel))
    stride = draw(_pair_of(1, max_stride))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height, width = (_input_size(draw, kernel[axis], padding[axis], max_size) for axis in (0, 1))
    return (batch, channels, height, width), kernel, stride, padding

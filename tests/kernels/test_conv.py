"""The fast conv2d kernels agree with the reference loops, and bad geometry fails clearly.

Each pass is a row in PASSES; hypothesis draws the geometry (tinygrad_edu.testing.geometry), a
seed draws the values. The reference always runs in float64 on the same values, so a float32
comparison measures only the fast kernel's own rounding.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinygrad_edu.kernels import conv, reference
from tinygrad_edu.kernels.geometry import check_conv2d, output_size, pair
from tinygrad_edu.testing.geometry import conv2d_geometry

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def assert_matches_reference(fast: np.ndarray, expected: np.ndarray, dtype) -> None:
    """Equal within TOLERANCE relative to each value and to the result's overall scale."""
    assert fast.dtype == dtype
    assert fast.shape == expected.shape
    tolerance = TOLERANCE[dtype]
    scale = np.abs(expected).max(initial=1.0)
    np.testing.assert_allclose(fast, expected, rtol=tolerance, atol=tolerance * scale)


def run_forward(module, x, weight, grad_out, geometry):
    return module.conv2d_forward(x, weight, *geometry)


def run_grad_input(module, x, weight, grad_out, geometry):
    return module.conv2d_grad_input(grad_out, weight, x.shape, *geometry)


def run_grad_weight(module, x, weight, grad_out, geometry):
    return module.conv2d_grad_weight(x, grad_out, weight.shape, *geometry)


PASSES = [run_forward, run_grad_input, run_grad_weight]


def random_problem(input_shape, weight_shape, stride, padding, dilation, seed, dtype):
    rng = np.random.default_rng(seed)
    out_shape = (input_shape[0], weight_shape[0]) + check_conv2d(
        input_shape, weight_shape, stride, padding, dilation
    )
    x, weight, grad_out = (
        rng.standard_normal(shape).astype(dtype) for shape in (input_shape, weight_shape, out_shape)
    )
    return x, weight, grad_out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("run", PASSES)
@settings(deadline=None, max_examples=60)
@given(geometry=conv2d_geometry(), seed=st.integers(0, 2**32 - 1))
# Everything size 1.
@example(geometry=((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0), (1, 1)), seed=0)
# The dilated kernel exactly fills the padded input: a single output pixel.
@example(geometry=((2, 2, 3, 2), (3, 2, 3, 2), (2, 3), (1, 1), (2, 3)), seed=1)
# Padding wider than the image, odd sizes, strides that skip the last rows.
@example(geometry=((1, 3, 1, 5), (2, 3, 2, 3), (3, 2), (2, 2), (1, 1)), seed=2)
# More taps than one 2x4 block and an odd number of output channels.
@example(geometry=((2, 3, 6, 7), (5, 3, 3, 5), (1, 1), (1, 2), (1, 1)), seed=3)
def test_fast_kernel_matches_reference(run, dtype, geometry, seed):
    x, weight, grad_out = random_problem(*geometry, seed=seed, dtype=dtype)
    stride_padding_dilation = geometry[2:]
    expected = run(
        reference,
        x.astype(np.float64),
        weight.astype(np.float64),
        grad_out.astype(np.float64),
        stride_padding_dilation,
    )
    fast = run(conv, x, weight, grad_out, stride_padding_dilation)
    assert_matches_reference(fast, expected, dtype)


LONG_RUN_GEOMETRY = [
    # Stride 1: each kernel tap is one run of out_width * batch = 112 values, long enough for
    # the SIMD body of the inner loops (the small drawn shapes mostly exercise their tails).
    ((16, 3, 6, 7), (5, 3, 3, 5), (1, 1), (1, 2), (1, 1)),
    # Stride 2 along the width: runs of batch = 40 values, one per output column.
    ((40, 2, 5, 6), (4, 2, 2, 3), (1, 2), (0, 1), (2, 1)),
]


@pytest.mark.parametrize("geometry", LONG_RUN_GEOMETRY)
@pytest.mark.parametrize("run", PASSES)
def test_long_runs_match_reference_in_float32(run, geometry):
    x, weight, grad_out = random_problem(*geometry, seed=7, dtype=np.float32)
    as64 = [array.astype(np.float64) for array in (x, weight, grad_out)]
    expected = run(reference, *as64, geometry[2:])
    assert_matches_reference(run(conv, x, weight, grad_out, geometry[2:]), expected, np.float32)


@pytest.mark.parametrize("run", PASSES)
def test_empty_batch_gives_empty_or_zero_result(run):
    geometry = ((0, 2, 5, 5), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1))
    x, weight, grad_out = random_problem(*geometry, seed=0, dtype=np.float64)
    expected = run(reference, x, weight, grad_out, geometry[2:])
    np.testing.assert_array_equal(run(conv, x, weight, grad_out, geometry[2:]), expected)


@pytest.mark.parametrize("run", PASSES)
def test_non_contiguous_inputs_give_the_same_result(run):
    geometry = ((2, 3, 6, 5), (4, 3, 3, 2), (1, 2), (1, 0), (2, 1))
    x, weight, grad_out = random_problem(*geometry, seed=4, dtype=np.float64)
    # Same values, reversed memory order: views with negative strides.
    views = [np.ascontiguousarray(array[..., ::-1])[..., ::-1] for array in (x, weight, grad_out)]
    assert not any(view.flags.c_contiguous for view in views)
    np.testing.assert_array_equal(
        run(conv, *views, geometry[2:]), run(conv, x, weight, grad_out, geometry[2:])
    )


@pytest.mark.parametrize("run", PASSES)
def test_results_are_fresh_arrays(run):
    """Callers may keep and modify results: no kernel hands out a cached or shared buffer."""
    geometry = ((2, 2, 5, 5), (2, 2, 3, 3), (1, 1), (1, 1), (1, 1))
    x, weight, grad_out = random_problem(*geometry, seed=5, dtype=np.float32)
    first = run(conv, x, weight, grad_out, geometry[2:])
    kept = first.copy()
    second = run(conv, x, weight, grad_out, geometry[2:])
    first[...] = np.nan
    np.testing.assert_array_equal(second, kept)
    for array in (x, weight, grad_out):
        assert not np.shares_memory(second, array)


@pytest.mark.parametrize("run", PASSES)
def test_results_do_not_depend_on_the_number_of_threads(run):
    """Each output element is summed by one task in a fixed order: bitwise reproducible."""
    geometry = ((9, 3, 7, 6), (5, 3, 3, 2), (1, 1), (1, 0), (1, 1))
    x, weight, grad_out = random_problem(*geometry, seed=6, dtype=np.float32)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = run(conv, x, weight, grad_out, geometry[2:])
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(run(conv, x, weight, grad_out, geometry[2:]), single)


@pytest.mark.parametrize(
    "x_dtype, weight_dtype",
    [(np.float32, np.float64), (np.float64, np.float32), (np.int64, np.int64), (np.float16,) * 2],
)
def test_unsupported_or_mixed_dtypes_raise_type_error(x_dtype, weight_dtype):
    x = np.ones((1, 1, 3, 3), x_dtype)
    weight = np.ones((1, 1, 2, 2), weight_dtype)
    with pytest.raises(TypeError, match=r"conv2d: .*x .*weight"):
        conv.conv2d_forward(x, weight, (1, 1), (0, 0), (1, 1))


# --- geometry checks --------------------------------------------------------------------------

BAD_CONV_GEOMETRY = [
    # (input_shape, weight_shape, stride, padding, dilation, what the message says)
    ((1, 3, 5), (2, 3, 3, 3), 1, 0, 1, "input must be 4-D"),
    ((1, 3, 5, 5), (2, 3, 3), 1, 0, 1, "weight must be 4-D"),
    ((1, 3, 5, 5), (2, 4, 3, 3), 1, 0, 1, "input has 3 channels but weight expects 4"),
    ((1, 3, 5, 5), (2, 3, 6, 3), 1, 0, 1, "larger than the padded input"),
    ((1, 3, 5, 5), (2, 3, 3, 3), 1, 0, (1, 3), "larger than the padded input"),
    ((1, 3, 2, 2), (2, 3, 5, 5), 1, 1, 1, "larger than the padded input"),
    ((1, 3, 5, 5), (2, 3, 3, 3), 1, -1, 1, "padding must be >= 0"),
    ((1, 3, 5, 5), (2, 3, 3, 3), (1, 0), 0, 1, "stride must be >= 1"),
    ((1, 3, 5, 5), (2, 3, 3, 3), 1, 0, 0, "dilation must be >= 1"),
    ((1, 0, 5, 5), (2, 0, 3, 3), 1, 0, 1, "input sizes must be >= 1"),
    ((1, 3, 5, 5), (0, 3, 3, 3), 1, 0, 1, "weight sizes must be >= 1"),
]


@pytest.mark.parametrize(
    "input_shape, weight_shape, stride, padding, dilation, message", BAD_CONV_GEOMETRY
)
def test_bad_geometry_raises_value_error_naming_op_and_shapes(
    input_shape, weight_shape, stride, padding, dilation, message
):
    with pytest.raises(ValueError) as raised:
        check_conv2d(input_shape, weight_shape, stride, padding, dilation)
    text = str(raised.value)
    assert text.startswith("conv2d: ")
    assert message in text
    assert f"input {tuple(input_shape)}, weight {tuple(weight_shape)}" in text


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w, g: conv.conv2d_forward(x, w, (1, 1), (0, 0), (1, 1)),
        lambda x, w, g: conv.conv2d_grad_input(g, w, x.shape, (1, 1), (0, 0), (1, 1)),
        lambda x, w, g: conv.conv2d_grad_weight(x, g, w.shape, (1, 1), (0, 0), (1, 1)),
    ],
)
def test_kernels_check_geometry_before_running(call):
    x, weight, grad_out = np.ones((1, 2, 4, 4)), np.ones((3, 5, 3, 3)), np.ones((1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d: input has 2 channels but weight expects 5"):
        call(x, weight, grad_out)


@pytest.mark.parametrize("run", [run_grad_input, run_grad_weight])
def test_backward_rejects_grad_out_of_the_wrong_shape(run):
    x, weight = np.ones((2, 1, 5, 5)), np.ones((3, 1, 3, 3))
    grad_out = np.ones((2, 3, 4, 3))  # should be (2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d_grad_\w+: grad_out must have shape"):
        run(conv, x, weight, grad_out, ((1, 1), (0, 0), (1, 1)))


@settings(deadline=None, max_examples=100)
@given(geometry=conv2d_geometry(min_batch=0, max_size=12, max_kernel=6, max_dilation=3))
def test_drawn_geometry_is_valid_and_output_size_counts_windows(geometry):
    input_shape, weight_shape, stride, padding, dilation = geometry
    out_height, out_width = check_conv2d(*geometry)
    for axis, out_size in ((0, out_height), (1, out_width)):
        size, kernel = input_shape[2 + axis], weight_shape[2 + axis]
        span = dilation[axis] * (kernel - 1) + 1
        # Count window starts in the padded input directly.
        starts = range(0, size + 2 * padding[axis] - span + 1, stride[axis])
        assert out_size == len(starts) >= 1


def test_output_size_matches_pytorch_formula():
    # floor((28 + 2*2 - 1*(5-1) - 1) / 1) + 1 = 28, LeNet's first layer.
    assert output_size(28, 5, 1, 2, 1) == 28
    assert output_size(14, 5, 1, 0, 1) == 10
    assert output_size(7, 3, 2, 1, 2) == 3
    assert output_size(2, 5, 1, 1, 1) == 0  # does not fit: the checks turn this into an error


@pytest.mark.parametrize(
    "value, expected", [(3, (3, 3)), ((1, 2), (1, 2)), ([4, 5], (4, 5)), (np.int64(2), (2, 2))]
)
def test_pair_normalises_ints_and_pairs(value, expected):
    result = pair(value, "stride", "conv2d")
    assert result == expected
    assert all(type(item) is int for item in result)


@pytest.mark.parametrize(
    "value, error",
    [
        ("3", TypeError),
        (2.0, TypeError),
        (True, TypeError),
        ((1, 2.5), TypeError),
        (None, TypeError),
        ((1, 2, 3), ValueError),
        ((), ValueError),
    ],
)
def test_pair_rejects_other_values_naming_op_and_argument(value, error):
    with pytest.raises(error, match=r"^conv2d: stride must be an int or a pair of ints"):
        pair(value, "stride", "conv2d")

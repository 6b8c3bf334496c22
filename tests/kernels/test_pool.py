"""The fast pooling kernels agree with the reference loops; ties, NaN and bad geometry behave.

Max pooling is compared on distinct values (a permutation), where the winner is unique and the
indices must match exactly; the tie rule has its own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinygrad_edu.kernels import pool, reference
from tinygrad_edu.kernels.geometry import check_pool2d
from tinygrad_edu.testing.geometry import pool2d_geometry

DTYPES = [np.float64, np.float32]
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}

# Size-1 everything; a window that exactly fills the padded input; windows that are half
# padding with overlapping strides; stride larger than the kernel (skipped pixels).
EDGE_GEOMETRY = [
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0)),
    ((2, 1, 2, 3), (4, 3), (1, 2), (1, 0)),
    ((1, 2, 5, 4), (3, 2), (1, 1), (1, 1)),
    ((2, 3, 7, 6), (2, 1), (3, 2), (0, 0)),
]


def distinct_values(shape, seed, dtype):
    """A shuffled 0..size-1 (exact in float32 for our sizes), centred so signs vary."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2).reshape(shape).astype(dtype)


def out_shape(input_shape, kernel, stride, padding):
    return input_shape[:2] + check_pool2d("pool", input_shape, kernel, stride, padding)


def assert_close(fast, expected, dtype):
    assert fast.dtype == dtype and fast.shape == expected.shape
    tolerance = TOLERANCE[dtype]
    scale = np.abs(expected).max(initial=1.0)
    np.testing.assert_allclose(fast, expected, rtol=tolerance, atol=tolerance * scale)


def with_edge_examples(test):
    for geometry in EDGE_GEOMETRY:
        test = example(geometry=geometry, seed=0)(test)
    return test


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None, max_examples=60)
@given(geometry=pool2d_geometry(), seed=st.integers(0, 2**32 - 1))
@with_edge_examples
def test_max_pool_forward_matches_reference(dtype, geometry, seed):
    input_shape, kernel, stride, padding = geometry
    x = distinct_values(input_shape, seed, dtype)
    out, indices = pool.max_pool2d_forward(x, kernel, stride, padding)
    expected_out, expected_indices = reference.max_pool2d_forward(x, kernel, stride, padding)
    assert out.dtype == dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(indices, expected_indices)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None, max_examples=60)
@given(geometry=pool2d_geometry(), seed=st.integers(0, 2**32 - 1))
@with_edge_examples
def test_max_pool_backward_and_gather_match_reference(dtype, geometry, seed):
    input_shape, kernel, stride, padding = geometry
    x = distinct_values(input_shape, seed, dtype)
    _, indices = reference.max_pool2d_forward(x, kernel, stride, padding)
    rng = np.random.default_rng(seed)
    grad_out = rng.standard_normal(indices.shape).astype(dtype)
    assert_close(
        pool.max_pool2d_backward(grad_out, indices, input_shape),
        reference.max_pool2d_backward(grad_out.astype(np.float64), indices, input_shape),
        dtype,
    )
    np.testing.assert_array_equal(
        pool.max_pool2d_gather(x, indices), reference.max_pool2d_gather(x, indices)
    )


@settings(deadline=None, max_examples=60)
@given(geometry=pool2d_geometry(), seed=st.integers(0, 2**32 - 1))
def test_gather_is_the_adjoint_of_the_scatter(geometry, seed):
    """<scatter(g), v> == <g, gather(v)>: the gather is exactly the scatter's transpose."""
    input_shape, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    _, indices = pool.max_pool2d_forward(rng.standard_normal(input_shape), kernel, stride, padding)
    g = rng.standard_normal(indices.shape)
    v = rng.standard_normal(input_shape)
    left = np.vdot(pool.max_pool2d_backward(g, indices, input_shape), v)
    right = np.vdot(g, pool.max_pool2d_gather(v, indices))
    np.testing.assert_allclose(left, right, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None, max_examples=60)
@given(geometry=pool2d_geometry(), seed=st.integers(0, 2**32 - 1))
@with_edge_examples
def test_avg_pool_forward_and_backward_match_reference(dtype, geometry, seed):
    input_shape, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape).astype(dtype)
    grad_out = rng.standard_normal(out_shape(*geometry)).astype(dtype)
    as64 = x.astype(np.float64), grad_out.astype(np.float64)
    assert_close(
        pool.avg_pool2d_forward(x, kernel, stride, padding),
        reference.avg_pool2d_forward(as64[0], kernel, stride, padding),
        dtype,
    )
    assert_close(
        pool.avg_pool2d_backward(grad_out, input_shape, kernel, stride, padding),
        reference.avg_pool2d_backward(as64[1], input_shape, kernel, stride, padding),
        dtype,
    )


# --- the tie rule, NaN, padding ------------------------------------------------------------


@pytest.mark.parametrize("module", [pool, reference])
def test_ties_go_to_the_first_maximum_in_row_major_window_order(module):
    x = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 1.0, 2.0, 2.0]]]])
    out, indices = module.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(out, [[[[3.0, 2.0]]]])
    # Window 0: the 3 at (0, 1) beats the 3 at (1, 0). Window 1: the 2 at (0, 2) is first.
    np.testing.assert_array_equal(indices, [[[[1, 2]]]])


@pytest.mark.parametrize("module", [pool, reference])
def test_constant_input_picks_the_first_real_element_of_each_window(module):
    x = np.zeros((1, 1, 3, 3), np.float32)
    _, indices = module.max_pool2d_forward(x, (2, 2), (2, 2), (1, 1))
    # Windows start at padded (0, 0), (0, 2), (2, 0), (2, 2): the padding never wins a tie.
    np.testing.assert_array_equal(indices, [[[[0, 1], [3, 4]]]])


@pytest.mark.parametrize("module", [pool, reference])
def test_padding_never_wins_even_against_minus_infinity(module):
    x = np.full((1, 1, 2, 2), -np.inf)
    out, indices = module.max_pool2d_forward(x, (2, 2), (1, 1), (1, 1))
    assert np.all(out == -np.inf)
    assert indices.min() >= 0 and indices.max() < 4


def test_nan_in_a_window_wins_like_pytorch():
    x = np.array([[[[1.0, np.nan], [5.0, 2.0]]]])
    for module in (pool, reference):
        out, indices = module.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
        assert np.isnan(out[0, 0, 0, 0]) and indices[0, 0, 0, 0] == 1


def test_overlapping_windows_accumulate_in_the_backward():
    x = np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    _, indices = pool.max_pool2d_forward(x, (2, 2), (1, 1), (0, 0))
    grad = pool.max_pool2d_backward(np.ones((1, 1, 2, 2)), indices, x.shape)
    assert grad[0, 0, 1, 1] == 4.0 and grad.sum() == 4.0


def test_avg_pool_divides_by_the_full_window_including_padding():
    x = np.ones((1, 1, 2, 2))
    out = pool.avg_pool2d_forward(x, (2, 2), (2, 2), (1, 1))
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


def test_empty_batch():
    x = np.ones((0, 2, 4, 4), np.float32)
    out, indices = pool.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert out.shape == indices.shape == (0, 2, 2, 2)
    assert pool.max_pool2d_backward(out, indices, x.shape).shape == x.shape
    assert pool.max_pool2d_gather(x, indices).shape == out.shape
    assert pool.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0)).shape == out.shape
    assert pool.avg_pool2d_backward(out, x.shape, (2, 2), (2, 2), (0, 0)).shape == x.shape


def test_results_are_fresh_arrays_and_non_contiguous_inputs_work():
    x = distinct_values((2, 3, 6, 6), 0, np.float32)
    view = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    out, indices = pool.max_pool2d_forward(view, (3, 3), (2, 2), (1, 1))
    again, _ = pool.max_pool2d_forward(x, (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(out, again)
    out[...] = 0
    assert again.any() and not np.shares_memory(again, x)


# --- errors ------------------------------------------------------------------------------------

BAD_POOL_GEOMETRY = [
    # (input_shape, kernel, stride, padding, what the message says)
    ((1, 2, 5), 2, 2, 0, "input must be 4-D"),
    ((1, 2, 5, 5), 0, 1, 0, "kernel_size must be >= 1"),
    ((1, 2, 5, 5), 2, (1, 0), 0, "stride must be >= 1"),
    ((1, 2, 5, 5), 2, 2, -1, "padding must be >= 0"),
    ((1, 2, 5, 5), 2, 2, (0, 2), "padding must be at most half the kernel size"),
    ((1, 2, 5, 5), (6, 2), 2, 0, "larger than the padded input"),
    ((1, 0, 5, 5), 2, 2, 0, "input sizes must be >= 1"),
]


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("input_shape, kernel, stride, padding, message", BAD_POOL_GEOMETRY)
def test_bad_geometry_raises_value_error_naming_op_and_shape(
    op, input_shape, kernel, stride, padding, message
):
    forward = {"max_pool2d": pool.max_pool2d_forward, "avg_pool2d": pool.avg_pool2d_forward}[op]
    x = np.zeros(input_shape)
    with pytest.raises(ValueError) as raised:
        forward(x, kernel, stride, padding)
    text = str(raised.value)
    assert text.startswith(f"{op}: ") and message in text and str(input_shape) in text


def test_pool_rejects_integer_input():
    with pytest.raises(TypeError, match=r"max_pool2d: expected float32 or float64"):
        pool.max_pool2d_forward(np.ones((1, 1, 2, 2), np.int32), (2, 2), (2, 2), (0, 0))


def test_backward_rejects_indices_outside_the_plane_or_of_the_wrong_shape():
    grad_out = np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices must lie in \[0, 16\)"):
        pool.max_pool2d_backward(grad_out, np.full((1, 1, 2, 2), 16), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices must lie in"):
        pool.max_pool2d_backward(grad_out, np.full((1, 1, 2, 2), -1), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices must have shape"):
        pool.max_pool2d_backward(grad_out, np.zeros((1, 1, 2, 3), np.int64), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_out .* same N and C"):
        pool.max_pool2d_backward(grad_out, np.zeros((1, 1, 2, 2), np.int64), (2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_gather: indices must lie in"):
        pool.max_pool2d_gather(np.ones((1, 1, 4, 4)), np.full((1, 1, 2, 2), 99))
    with pytest.raises(TypeError, match=r"max_pool2d_gather: indices must be integers"):
        pool.max_pool2d_gather(np.ones((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)))


def test_avg_backward_rejects_grad_out_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: grad_out must have shape"):
        pool.avg_pool2d_backward(np.ones((1, 1, 3, 3)), (1, 1, 4, 4), (2, 2), (2, 2), (0, 0))


@settings(deadline=None, max_examples=100)
@given(geometry=pool2d_geometry(min_batch=0, max_size=12, max_kernel=6))
def test_drawn_geometry_is_valid(geometry):
    input_shape, kernel, stride, padding = geometry
    out_height, out_width = check_pool2d("max_pool2d", *geometry)
    assert out_height >= 1 and out_width >= 1
    assert all(2 * p <= k for p, k in zip(padding, kernel, strict=True))


@settings(deadline=None, max_examples=40)
@given(geometry=pool2d_geometry(), seed=st.integers(0, 2**32 - 1))
def test_max_pool_with_nans_matches_reference(geometry, seed):
    """NaN wins any comparison it is in, so a window with NaNs reports its last NaN."""
    input_shape, kernel, stride, padding = geometry
    x = distinct_values(input_shape, seed, np.float64)
    x[np.random.default_rng(seed).random(input_shape) < 0.3] = np.nan
    out, indices = pool.max_pool2d_forward(x, kernel, stride, padding)
    expected_out, expected_indices = reference.max_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(indices, expected_indices)

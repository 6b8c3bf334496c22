"""The public hypothesis strategies (``tinygrad_edu.testing.strategies``) obey their arguments."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as ts


@given(st.data(), st.integers(0, 3), st.integers(0, 2), st.integers(0, 2), st.integers(1, 4))
def test_shapes_obey_their_bounds(data, min_dims, extra_dims, min_side, extra_side) -> None:
    max_dims, max_side = min_dims + extra_dims, min_side + extra_side
    shape = data.draw(ts.shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple) and min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(st.data(), st.integers(2, 4), st.integers(0, 3))
def test_broadcastable_shapes_broadcast(data, num_shapes, max_dims) -> None:
    drawn = data.draw(ts.broadcastable_shapes(num_shapes, max_dims=max_dims, max_side=3))
    assert len(drawn) == num_shapes
    assert all(len(shape) <= max_dims and all(1 <= n <= 3 for n in shape) for shape in drawn)
    np.broadcast_shapes(*drawn)  # raises ValueError if they did not broadcast


@given(st.data(), st.floats(-5, 5), st.floats(0.5, 5), st.floats(-5, 5), st.floats(0.01, 0.2))
def test_floats_stay_in_range_and_away_from_avoided_points(data, low, width, point, margin) -> None:
    value = data.draw(ts.floats(low, low + width, avoid=(point,), margin=margin))
    assert low <= value <= low + width and np.isfinite(value)
    assert abs(value - point) >= margin


@given(
    ts.tensors(shape=(2, 3), min_value=0.1, max_value=2.0, avoid=(1.0,), margin=0.1)
)
def test_tensors_obey_shape_range_and_avoid(t: Tensor) -> None:
    assert isinstance(t, Tensor) and t.shape == (2, 3)
    assert t.dtype == np.float64 and t.requires_grad  # the defaults gradcheck needs
    values = t.numpy()
    assert ((values >= 0.1) & (values <= 2.0)).all()
    assert (np.abs(values - 1.0) >= 0.1).all()


@given(ts.tensors(shape=ts.shapes(min_dims=1, max_dims=2, max_side=5), unique=True))
def test_unique_tensors_have_no_ties(t: Tensor) -> None:
    values = t.numpy().ravel()
    assert len(np.unique(values)) == values.size


@given(ts.tensors(dtype=np.float32, min_value=-1.0, max_value=1.0, requires_grad=False))
def test_dtype_and_requires_grad_arguments(t: Tensor) -> None:
    assert t.dtype == np.float32 and not t.requires_grad
    assert ((t.numpy() >= -1) & (t.numpy() <= 1)).all()


@given(ts.tensors(dtype=np.int64, min_value=-2.5, max_value=4.0, avoid=(0,), margin=1))
def test_integer_tensors_draw_integers_in_range_and_never_require_grad(t: Tensor) -> None:
    assert t.dtype == np.int64 and not t.requires_grad  # requires_grad=True is ignored for ints
    assert ((t.numpy() >= -2) & (t.numpy() <= 4) & (t.numpy() != 0)).all()


@given(ts.tensors(dtype=np.bool_))
def test_boolean_tensors(t: Tensor) -> None:
    assert t.dtype == np.bool_ and not t.requires_grad


@given(ts.tensors(shape=(3,), elements=st.sampled_from([7.0, 8.0])))
def test_elements_overrides_the_values(t: Tensor) -> None:
    assert set(t.numpy().tolist()) <= {7.0, 8.0}


@given(st.data(), st.integers(0, 4))
def test_reduction_axes_are_valid_for_the_rank(data, ndim) -> None:
    axis = data.draw(ts.reduction_axes(ndim))
    if ndim == 0:
        assert axis in (None, (), 0, -1)
        return
    if axis is None:
        return
    if isinstance(axis, int):
        assert -ndim <= axis < ndim
    else:
        assert isinstance(axis, tuple) and len(set(axis)) == len(axis)
        assert all(0 <= a < ndim for a in axis)
    np.sum(np.ones((1,) * ndim), axis=axis)  # numpy accepts it


def _kind(axis) -> str:
    if axis is None:
        return "none"
    if isinstance(axis, tuple):
        return "tuple"
    return "negative" if axis < 0 else "non-negative"


def test_reduction_axes_cover_every_kind() -> None:
    kinds = set()

    @settings(max_examples=100)
    @given(ts.reduction_axes(3))
    def collect(axis) -> None:
        kinds.add(_kind(axis))

    collect()
    assert kinds == {"none", "tuple", "negative", "non-negative"}

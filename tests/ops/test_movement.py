"""Movement ops (``ops/movement.py``): a table row per op, then indexing cases and errors.

Indices for ``getitem`` are drawn by hypothesis: basic indices (ints, negative ints, slices with
steps, None, Ellipsis), boolean masks and integer arrays (which repeat indices: the gradient of
an element picked k times is the sum of k gradients).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as ts

from .op_table import (
    MAX_SIDE,
    Call,
    Op,
    shapes,
    table_tests,
)


def tensor_and(option_strategy, min_dims: int = 0, min_side: int = 1):
    """A composite drawing a tensor, then options that depend on its shape."""

    @st.composite
    def draw_call(draw) -> Call:
        shape = draw(shapes(min_dims=min_dims, min_side=min_side))
        options = draw(option_strategy(shape))
        return Call((draw(ts.tensors(shape)),), options)

    return draw_call()


def reshape_targets(shape):
    size = int(np.prod(shape))
    targets = [(size,), (-1,), tuple(reversed(shape)), (1, *shape), (*shape, 1)]
    if len(shape) >= 2:
        targets += [(shape[0], -1), (-1, shape[-1])]
    return st.fixed_dictionaries({"shape": st.sampled_from(targets)})


def permutations(shape):
    ndim = len(shape)
    signs = st.lists(st.booleans(), min_size=ndim, max_size=ndim)
    return st.tuples(st.permutations(range(ndim)), signs).map(
        lambda drawn: {
            "dims": tuple(d - ndim if negative else d for d, negative in zip(*drawn, strict=True))
        }
    )


def axis_pairs(shape):
    axis = st.integers(-len(shape), len(shape) - 1)
    return st.fixed_dictionaries({"axis0": axis, "axis1": axis})


@st.composite
def flatten_ranges(draw, shape):
    ndim = max(len(shape), 1)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    # either spelling of each end: counted from the front or (negative) from the back
    start = start - ndim if draw(st.booleans()) else start
    end = end - ndim if draw(st.booleans()) else end
    return {"start_dim": start, "end_dim": end}


@st.composite
def expand_targets(draw, shape):
    """Stretch size-1 axes, add leading axes, and sometimes keep a size with -1."""
    target = [draw(st.integers(1, 3)) if n == 1 else n for n in shape]
    target = [-1 if draw(st.booleans()) else n for n in target]
    leading = draw(st.lists(st.integers(1, 3), max_size=2))
    return {"shape": tuple(leading + target)}


def squeeze_axes(shape):
    if not shape:
        return st.fixed_dictionaries({"axis": st.sampled_from([None, 0, -1])})
    return st.fixed_dictionaries(
        {"axis": st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))}
    )


def unsqueeze_axes(shape):
    return st.fixed_dictionaries({"axis": st.integers(-len(shape) - 1, len(shape))})


def basic_indices(shape):
    index = hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True)
    return st.fixed_dictionaries({"index": index})


@st.composite
def boolean_masks(draw, shape):
    """A mask over the leading k axes (k >= 1), or a 0-d mask for a 0-d tensor."""
    k = draw(st.integers(1, len(shape))) if shape else 0
    return {"index": draw(hnp.arrays(np.bool_, shape[:k]))}


def integer_arrays(shape):
    return st.fixed_dictionaries({"index": hnp.integer_array_indices(shape)})


@st.composite
def pad_widths(draw, shape):
    widths = tuple(
        (draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape
    )
    return {"pad_width": widths, "value": draw(st.floats(-2, 2))}


def flip_axes(shape):
    return st.fixed_dictionaries({"axis": ts.reduction_axes(len(shape))})


@st.composite
def cat_call(draw) -> Call:
    """2-3 tensors equal but for their size along ``axis``."""
    shape = list(draw(shapes(min_dims=1)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    tensors = []
    for _ in range(draw(st.integers(2, 3))):
        shape[axis] = draw(st.integers(1, MAX_SIDE))
        tensors.append(draw(ts.tensors(tuple(shape))))
    return Call(tuple(tensors), {"axis": axis})


@st.composite
def stack_call(draw) -> Call:
    shape = draw(shapes())
    count = draw(st.integers(2, 3))
    tensors = tuple(draw(ts.tensors(shape)) for _ in range(count))
    return Call(tensors, {"axis": draw(st.integers(-len(shape) - 1, len(shape)))})


def _numpy_axis(x, axis):
    """numpy rejects axis 0 / -1 of a 0-d array, which we (like PyTorch) accept."""
    return () if x.ndim == 0 and axis is not None else axis


def _squeeze(x, axis):
    if x.ndim == 0 or (axis is not None and x.shape[axis] != 1):
        return x  # squeezing an axis that is not 1 is a no-op (as PyTorch)
    return np.squeeze(x, axis)


def _flatten(x, start_dim, end_dim):
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])


def _expand(x, shape):
    offset = len(shape) - x.ndim
    return np.broadcast_to(x, [x.shape[i - offset] if n == -1 else n for i, n in enumerate(shape)])


OPS = [
    Op("reshape", lambda x, shape: x.reshape(*shape), np.reshape, tensor_and(reshape_targets)),
    Op("reshape_tuple", lambda x, shape: x.reshape(shape), np.reshape, tensor_and(reshape_targets)),
    Op(
        "permute",
        lambda x, dims: x.permute(*dims),
        lambda x, dims: np.transpose(x, dims),
        tensor_and(permutations),
    ),
    Op(
        "transpose",
        Tensor.transpose,
        lambda x, axis0, axis1: np.swapaxes(x, axis0, axis1),
        tensor_and(axis_pairs, min_dims=1),
    ),
    Op("T", lambda x: x.T, lambda x: x.T, tensor_and(lambda shape: st.just({}))),
    Op("flatten", Tensor.flatten, _flatten, tensor_and(flatten_ranges)),
    Op("expand", lambda x, shape: x.expand(*shape), _expand, tensor_and(expand_targets)),
    Op("squeeze", Tensor.squeeze, _squeeze, tensor_and(squeeze_axes)),
    Op("unsqueeze", Tensor.unsqueeze, np.expand_dims, tensor_and(unsqueeze_axes)),
    Op(
        "getitem_basic",
        lambda x, index: x[index],
        lambda x, index: x[index],
        tensor_and(basic_indices),
    ),
    Op(
        "getitem_boolean_mask",
        lambda x, index: x[index],
        lambda x, index: x[index],
        tensor_and(boolean_masks),
    ),
    Op(
        "getitem_integer_arrays",
        lambda x, index: x[index],
        lambda x, index: x[index],
        tensor_and(integer_arrays, min_dims=1),
    ),
    Op(
        "pad",
        Tensor.pad,
        lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
        tensor_and(pad_widths, min_dims=1),
    ),
    Op(
        "cat",
        lambda *tensors, axis: tg.cat(tensors, axis=axis),
        lambda *arrays, axis: np.concatenate(arrays, axis=axis),
        cat_call(),
    ),
    Op(
        "stack",
        lambda *tensors, axis: tg.stack(tensors, axis=axis),
        lambda *arrays, axis: np.stack(arrays, axis=axis),
        stack_call(),
    ),
    Op(
        "flip",
        Tensor.flip,
        lambda x, axis: np.flip(x, _numpy_axis(x, axis)),
        tensor_and(flip_axes),
    ),
]


test_forward_matches_numpy, test_gradient, test_second_derivative = table_tests(OPS)


# ------------------------------------------------------------------------ indexing cases


def _index_grad(values, index):
    x = Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    x[index].sum().backward()
    return x.grad.numpy()


def test_repeated_integer_indices_accumulate() -> None:
    np.testing.assert_array_equal(_index_grad([1.0, 2.0, 3.0], [0, 0, 2, 0]), [3.0, 0.0, 1.0])
    grid = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(
        _index_grad(grid, (np.array([1, 1, -1]), slice(None, None, -2))),
        [[0.0, 0.0, 0.0], [3.0, 0.0, 3.0]],
    )


@pytest.mark.parametrize(
    ("index", "expected_grad"),
    [
        (-1, [[0, 0, 0], [1, 1, 1]]),
        ((slice(None), slice(None, None, -2)), [[1, 0, 1], [1, 0, 1]]),
        ((Ellipsis, None, 1), [[0, 1, 0], [0, 1, 0]]),
        (np.array([[True, False, True], [False, False, True]]), [[1, 0, 1], [0, 0, 1]]),
        ([True, False], [[1, 1, 1], [0, 0, 0]]),
    ],
    ids=["negative_int", "negative_step", "ellipsis_none", "mask", "mask_list"],
)
def test_index_gradients_land_where_the_elements_came_from(index, expected_grad) -> None:
    np.testing.assert_array_equal(_index_grad(np.arange(6.0).reshape(2, 3), index), expected_grad)


def test_tensor_and_list_indices_work_like_numpy_arrays() -> None:
    x = Tensor(np.arange(12.0).reshape(3, 4))
    rows = Tensor(np.array([2, 0]), dtype=np.int64)
    np.testing.assert_array_equal(x[rows].numpy(), x.numpy()[[2, 0]])
    np.testing.assert_array_equal(x[[2, 0], 1].numpy(), [9.0, 1.0])
    np.testing.assert_array_equal(x[x > 6].numpy(), np.arange(7.0, 12.0))


def test_getitem_copies_so_the_result_does_not_alias_the_input() -> None:
    x = Tensor(np.arange(4.0))
    y = x[1:3]
    y.data[0] = 100.0
    assert x.numpy()[1] == 1.0


def test_iterating_a_tensor_gives_differentiable_rows() -> None:
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(row.shape == (2,) for row in rows)
    (rows[0] * 2 + rows[2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


# ------------------------------------------------------------------------ errors


def test_reshape_to_a_wrong_size_names_both_shapes() -> None:
    message = r"reshape: .* shape \(2, 3\) \(6 elements\) into shape \(4, 2\)"
    with pytest.raises(ValueError, match=message):
        Tensor(np.ones((2, 3))).reshape(4, 2)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: x.permute(0, 0), ValueError, r"permute: dims \(0, 0\) are not a reordering"),
        (lambda x: x.permute(2, 1), ValueError, r"permute: dims \(2, 1\) .* shape \(2, 3\)"),
        (lambda x: x.permute(0, 1, 2), ValueError, r"permute: got 3 dims"),
        (lambda x: x.transpose(0, 2), np.exceptions.AxisError, r"transpose: axes \(0, 2\)"),
        (lambda x: x.squeeze(2), np.exceptions.AxisError, r"squeeze: axis 2 is out of range"),
        (lambda x: x.squeeze(-3), np.exceptions.AxisError, r"squeeze: axis -3"),
        (lambda x: x.unsqueeze(3), np.exceptions.AxisError, r"unsqueeze: axis 3 .* \(2, 3\)"),
        (lambda x: x.flip(2), np.exceptions.AxisError, r"flip: axis 2 is out of range"),
        (lambda x: x.flatten(2), np.exceptions.AxisError, r"flatten: axis 2 is out of range"),
        (lambda x: x.flatten(1, 0), ValueError, r"flatten: start_dim 1 comes after end_dim 0"),
        (lambda x: x.expand(4, 3), ValueError, r"expand: .* shape \(2, 3\) to \(4, 3\)"),
        (lambda x: x[2], IndexError, r"getitem: index 2 for shape \(2, 3\)"),
        (lambda x: x[np.array([True, False, True])], IndexError, r"getitem: .* shape \(2, 3\)"),
        (lambda x: x.pad(-1), ValueError, r"pad: negative pad_width -1 for shape \(2, 3\)"),
        (lambda x: x.pad(((1, 1),) * 3), ValueError, r"pad: pad_width .* shape \(2, 3\)"),
    ],
)
def test_bad_movement_arguments_raise_errors_naming_the_op(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call(Tensor(np.ones((2, 3))))


def test_cat_and_stack_reject_mismatched_inputs() -> None:
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"cat: shapes \[\(2, 3\), \(3, 2\)\] do not match"):
        tg.cat([a, b], axis=0)
    with pytest.raises(ValueError, match=r"stack: shapes \[\(2, 3\), \(3, 2\)\]"):
        tg.stack([a, b])
    with pytest.raises(TypeError, match="cat: dtypes differ: float64 and float32"):
        tg.cat([a, Tensor(np.ones((2, 3), np.float32))])
    with pytest.raises(ValueError, match="cat: shapes"):
        tg.cat([a, Tensor(np.ones(3))])
    with pytest.raises(np.exceptions.AxisError, match="cat: axis 2"):
        tg.cat([a, a], axis=2)
    with pytest.raises(ValueError, match="stack: needs at least one tensor"):
        tg.stack([])
    with pytest.raises(TypeError, match="cat: expected Tensors, got ndarray"):
        tg.cat([a, np.ones((2, 3))])

"""Reductions (``ops/reduce.py``): a table row per op over drawn axes, then ties and extremes.

``axis`` is drawn as None, an int (negative too) or a tuple (empty included), with and without
``keepdims``; max and min get distinct values on a grid, so no two elements tie or nearly tie.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck
from tinygrad_edu.testing import strategies as ts

from .op_table import (
    Call,
    Op,
    grid,
    shapes,
    table_tests,
)


@st.composite
def reduction(draw, min_side: int = 1, unique: bool = False) -> Call:
    """A tensor with drawn ``axis`` and ``keepdims``."""
    shape = draw(shapes(min_side=min_side))
    elements = grid(-3, 3, 0.125) if unique else None
    x = draw(ts.tensors(shape, elements=elements, unique=unique))
    axis = draw(ts.reduction_axes(len(shape)))
    return Call((x,), {"axis": axis, "keepdims": draw(st.booleans())})


@st.composite
def variance(draw) -> Call:
    """Like ``reduction``, plus a correction that leaves at least one degree of freedom."""
    call = draw(reduction())
    (x,) = call.tensors
    axis = call.options["axis"]
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    count = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
    correction = draw(st.sampled_from([0, 1] if count > 1 else [0]))
    return Call(call.tensors, {**call.options, "correction": correction})


@st.composite
def along_one_axis(draw) -> Call:
    """A tensor and one int axis (maybe negative), for softmax and log_softmax."""
    shape = draw(shapes())
    ndim = max(len(shape), 1)  # a 0-d tensor accepts axis 0 or -1
    return Call((draw(ts.tensors(shape)),), {"axis": draw(st.integers(-ndim, ndim - 1))})


def _logsumexp(x, axis, keepdims):
    axis = () if x.ndim == 0 else axis
    return np.logaddexp.reduce(x, axis=axis, keepdims=keepdims) if x.size else np.log(
        np.sum(np.exp(x), axis=axis, keepdims=keepdims)
    )


def _softmax(x, axis):
    exps = np.exp(x - x.max(axis=axis, keepdims=True))
    return exps / exps.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _numpy_axis(x, axis):
    """numpy rejects axis 0 / -1 of a 0-d array, which we (like PyTorch) accept."""
    return () if x.ndim == 0 and axis is not None else axis


OPS = [
    Op(
        # empty axes included: a sum over nothing is 0 and its gradient is empty
        "sum",
        Tensor.sum,
        lambda x, axis, keepdims: np.sum(x, axis=_numpy_axis(x, axis), keepdims=keepdims),
        reduction(min_side=0),
    ),
    Op(
        "mean",
        Tensor.mean,
        lambda x, axis, keepdims: np.mean(x, axis=_numpy_axis(x, axis), keepdims=keepdims),
        reduction(),
    ),
    Op(
        "max",
        Tensor.max,
        lambda x, axis, keepdims: np.max(x, axis=_numpy_axis(x, axis), keepdims=keepdims),
        reduction(unique=True),
    ),
    Op(
        "min",
        Tensor.min,
        lambda x, axis, keepdims: np.min(x, axis=_numpy_axis(x, axis), keepdims=keepdims),
        reduction(unique=True),
    ),
    Op(
        "var",
        Tensor.var,
        lambda x, axis, keepdims, correction: np.var(
            x, axis=_numpy_axis(x, axis), keepdims=keepdims, ddof=correction
        ),
        variance(),
    ),
    Op(
        "logsumexp",
        Tensor.logsumexp,
        lambda x, axis, keepdims: _logsumexp(x, _numpy_axis(x, axis), keepdims),
        reduction(),
    ),
    Op(
        "softmax",
        Tensor.softmax,
        lambda x, axis: _softmax(x, _numpy_axis(x, axis)),
        along_one_axis(),
    ),
    Op(
        "log_softmax",
        Tensor.log_softmax,
        lambda x, axis: _log_softmax(x, _numpy_axis(x, axis)),
        along_one_axis(),
    ),
]


test_forward_matches_numpy, test_gradient, test_second_derivative = table_tests(OPS)


# ------------------------------------------------------------------------ ties


@pytest.mark.parametrize(
    ("method", "values", "axis", "expected"),
    [
        ("max", [1.0, 3.0, 3.0, 2.0], None, [0.0, 0.5, 0.5, 0.0]),
        ("min", [1.0, 1.0, 1.0, 2.0], None, [1 / 3, 1 / 3, 1 / 3, 0.0]),
        ("max", [[5.0, 5.0], [1.0, 2.0]], 1, [[0.5, 0.5], [0.0, 1.0]]),
        ("min", [[5.0, 5.0], [1.0, 2.0]], 0, [[0.0, 0.0], [1.0, 1.0]]),
    ],
)
def test_tied_extremes_share_the_gradient_equally(method, values, axis, expected) -> None:
    x = Tensor(np.array(values), requires_grad=True)
    getattr(x, method)(axis=axis).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_max_of_a_0d_tensor_and_full_reduction_give_0d_results() -> None:
    x = Tensor(np.array([[1.0, 4.0], [3.0, 2.0]]), requires_grad=True)
    y = x.max()
    assert y.shape == () and y.item() == 4.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0], [0.0, 0.0]])
    scalar = Tensor(np.array(2.5), requires_grad=True)
    assert scalar.max(axis=0).shape == () and scalar.sum(axis=-1, keepdims=True).shape == ()


# ------------------------------------------------------------------------ extreme logits


def _stable_softmax(x):
    return _softmax(x, -1)


@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_softmax_family_is_finite_for_huge_logits(scale: float) -> None:
    logits = np.array([[1.0, -1.0, 0.5], [1.0, 1.0, -1.0]]) * scale
    weights = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.7]])
    expected_softmax = _stable_softmax(logits)
    closed_forms = {
        # d/dx sum(w * softmax(x)) = s * (w - sum(w * s))
        "softmax": expected_softmax
        * (weights - (weights * expected_softmax).sum(-1, keepdims=True)),
        # d/dx sum(w * log_softmax(x)) = w - s * sum(w)
        "log_softmax": weights - expected_softmax * weights.sum(-1, keepdims=True),
        # d/dx sum(w[:, 0] * logsumexp(x)) = w[:, 0] * s
        "logsumexp": weights[:, :1] * expected_softmax,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no invalid value
        for name, closed_form in closed_forms.items():
            x = Tensor(logits, requires_grad=True)
            if name == "logsumexp":
                y = x.logsumexp(axis=-1, keepdims=True)
                np.testing.assert_allclose(y.numpy(), _logsumexp(logits, -1, True))
                (y * Tensor(weights[:, :1])).sum().backward()
            else:
                y = getattr(x, name)(axis=-1)
                reference = _softmax(logits, -1) if name == "softmax" else _log_softmax(logits, -1)
                np.testing.assert_allclose(y.numpy(), reference)
                (y * Tensor(weights)).sum().backward()
            assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all(), name
            np.testing.assert_allclose(x.grad.numpy(), closed_form, atol=1e-12, err_msg=name)


@given(ts.tensors(shapes(min_dims=1), min_value=-1000.0, max_value=1000.0))
def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log(x: Tensor) -> None:
    probabilities = x.softmax(axis=-1).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-12)
    # compare where log(p) is still accurate (subnormal p has lost digits; log_softmax has not)
    normal = probabilities > 1e-200
    log_probabilities = x.log_softmax(axis=-1).numpy()
    np.testing.assert_allclose(log_probabilities[normal], np.log(probabilities[normal]),
                               rtol=1e-9, atol=1e-9)
    assert np.isfinite(log_probabilities).all()


def test_gradcheck_at_large_logits() -> None:
    logits = Tensor(np.array([[800.0, 799.0, -900.0], [-1000.0, -999.5, -1001.0]]),
                    requires_grad=True)
    for fn in (lambda x: x.softmax(), lambda x: x.log_softmax(), lambda x: x.logsumexp(axis=1)):
        assert gradcheck(fn, (logits,))


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "logsumexp", "var"])
def test_bad_axis_is_an_axis_error_naming_the_op(method: str) -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError, match=rf"{method}: axis 2 is out of range"):
        getattr(x, method)(axis=2)
    with pytest.raises(ValueError, match=rf"{method}: .* names the same axis twice"):
        getattr(x, method)(axis=(1, -1))
    # AxisError is both, so `except ValueError` and `except IndexError` both catch it
    assert issubclass(np.exceptions.AxisError, ValueError)
    assert issubclass(np.exceptions.AxisError, IndexError)


def test_var_needs_a_degree_of_freedom() -> None:
    with pytest.raises(ValueError, match=r"var: 1 element\(s\) .* correction=1 \(shape \(1, 3\)"):
        Tensor(np.ones((1, 3))).var(axis=0)
    assert Tensor(np.ones((1, 3))).var(axis=0, correction=0).numpy().tolist() == [0.0] * 3


def test_softmax_bad_axis_and_empty_reductions() -> None:
    with pytest.raises(np.exceptions.AxisError, match="softmax"):
        Tensor(np.ones((2, 3))).softmax(axis=-3)
    message = r"mean: cannot average over an empty axis \(shape \(0, 3\)\)"
    with pytest.raises(ValueError, match=message):
        Tensor(np.ones((0, 3))).mean(axis=0)
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty axis"):
        Tensor(np.ones((0, 3))).max()
    assert Tensor(np.ones((0, 3))).max(axis=1).shape == (0,)

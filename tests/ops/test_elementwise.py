"""Elementwise ops (``ops/elementwise.py``): a table row per op, then the rules at the kinks.

Every row is checked three ways (forward against numpy, gradcheck, gradgradcheck) in float64
over drawn shapes, broadcasting included; see ``op_table.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as ts

from .op_table import (
    MAX_DIMS,
    MAX_SIDE,
    Call,
    Op,
    binary,
    grid,
    shapes,
    table_tests,
    unary,
    with_option,
)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@st.composite
def clip_call(draw) -> Call:
    """x with bounds (either may be None), no value of x within 0.05 of a bound."""
    low = draw(st.one_of(st.none(), st.floats(-2.0, 0.0)))
    high = draw(st.one_of(st.none(), st.floats(0.5, 2.0)))
    if low is None and high is None:
        low = -1.0
    bounds = tuple(b for b in (low, high) if b is not None)
    x = draw(ts.tensors(shapes(), avoid=bounds, margin=0.05))
    return Call((x,), {"low": low, "high": high})


@st.composite
def where_call(draw) -> Call:
    """A condition, a and b of three mutually broadcastable shapes."""
    cond_shape, a_shape, b_shape = draw(
        ts.broadcastable_shapes(3, max_dims=MAX_DIMS, max_side=MAX_SIDE)
    )
    condition = draw(ts.tensors(cond_shape, dtype=np.bool_)).numpy()
    return Call((draw(ts.tensors(a_shape)), draw(ts.tensors(b_shape))), {"condition": condition})


@st.composite
def array_operand(draw) -> Call:
    """A tensor (away from 0: it may divide) and a numpy array broadcasting with it."""
    call = draw(binary(first={"avoid": (0.0,), "margin": 0.3}))
    tensor, other = call.tensors
    return Call((tensor,), {"other": other.numpy().copy()})


# maximum/minimum: a on multiples of 1/4, b halfway between, so a and b never tie or nearly tie.
SEPARATED = {
    "first": {"elements": grid(-3, 3, 0.25)},
    "second": {"elements": grid(-3, 3, 0.25, 0.125)},
}
NUMBER = st.floats(-3.0, 3.0)

OPS = [
    Op("add", lambda a, b: a + b, np.add, binary()),
    Op("sub", lambda a, b: a - b, np.subtract, binary()),
    Op("mul", lambda a, b: a * b, np.multiply, binary()),
    Op("div", lambda a, b: a / b, np.divide, binary(second={"avoid": (0.0,), "margin": 0.3})),
    Op(
        "pow_tensor_tensor",
        lambda a, b: a**b,
        np.power,
        binary(
            first={"min_value": 0.2, "max_value": 2.5},
            second={"min_value": -2, "max_value": 2},
        ),
    ),
    Op(
        # integer exponents: any base (away from 0 for the negative ones)
        "pow_tensor_int",
        lambda x, exponent: x**exponent,
        lambda x, exponent: np.power(x, exponent),
        with_option(
            unary(avoid=(0.0,), margin=0.2), exponent=st.sampled_from([0, 1, 2, 3, -1, -2])
        ),
    ),
    Op(
        # a non-integer power of a negative number is not real: positive bases only
        "pow_tensor_float",
        lambda x, exponent: x**exponent,
        lambda x, exponent: np.power(x, exponent),
        with_option(unary(min_value=0.2, max_value=3.0), exponent=st.floats(-2.5, 2.5)),
    ),
    Op(
        "pow_number_tensor",
        lambda x, base: base**x,
        lambda x, base: np.power(base, x),
        with_option(unary(), base=st.floats(0.2, 3.0)),
    ),
    Op("radd", lambda x, c: c + x, lambda x, c: c + x, with_option(unary(), c=NUMBER)),
    Op("rsub", lambda x, c: c - x, lambda x, c: c - x, with_option(unary(), c=NUMBER)),
    Op("rmul", lambda x, c: c * x, lambda x, c: c * x, with_option(unary(), c=NUMBER)),
    Op(
        "rdiv",
        lambda x, c: c / x,
        lambda x, c: c / x,
        with_option(unary(avoid=(0.0,), margin=0.3), c=NUMBER),
    ),
    Op("rsub_array", lambda x, other: other - x, lambda x, other: other - x, array_operand()),
    Op("rdiv_array", lambda x, other: other / x, lambda x, other: other / x, array_operand()),
    Op("neg", lambda x: -x, np.negative, unary()),
    Op("exp", Tensor.exp, np.exp, unary()),
    Op("log", Tensor.log, np.log, unary(min_value=0.1, max_value=5.0)),
    Op("sqrt", Tensor.sqrt, np.sqrt, unary(min_value=0.1, max_value=5.0)),
    Op("tanh", Tensor.tanh, np.tanh, unary()),
    Op("sigmoid", Tensor.sigmoid, _sigmoid, unary(min_value=-8.0, max_value=8.0)),
    Op("relu", Tensor.relu, lambda x: np.maximum(x, 0), unary(avoid=(0.0,))),
    Op("abs", Tensor.abs, np.abs, unary(avoid=(0.0,))),
    Op("square", Tensor.square, np.square, unary()),
    Op(
        "clip",
        lambda x, low, high: x.clip(low, high),
        lambda x, low, high: np.clip(x, low, high),
        clip_call(),
    ),
    Op("maximum", tg.maximum, np.maximum, binary(**SEPARATED)),
    Op("minimum", tg.minimum, np.minimum, binary(**SEPARATED)),
    Op(
        "maximum_number",
        lambda x, c: tg.maximum(c, x),
        lambda x, c: np.maximum(c, x),
        with_option(unary(elements=grid(-3, 3, 0.25)), c=grid(-3, 3, 0.25, 0.125)),
    ),
    Op(
        "where",
        lambda a, b, condition: tg.where(condition, a, b),
        lambda a, b, condition: np.where(condition, a, b),
        where_call(),
    ),
]


test_forward_matches_numpy, test_gradient, test_second_derivative = table_tests(OPS)


# ------------------------------------------------------------------------ rules at the kinks


def _grads(fn, *values):
    tensors = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*tensors).sum().backward()
    return [t.grad.numpy() for t in tensors]


def test_relu_and_abs_have_zero_gradient_at_zero() -> None:
    (relu_grad,) = _grads(Tensor.relu, [-1.0, 0.0, 2.0])
    (abs_grad,) = _grads(Tensor.abs, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu_grad, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(abs_grad, [-1.0, 0.0, 1.0])


def test_clip_passes_the_gradient_at_its_bounds() -> None:
    (grad,) = _grads(lambda x: x.clip(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0, 1.0, 1.0, 0.0])
    (only_low,) = _grads(lambda x: x.clip(min=0.0), [-1.0, 0.0, 5.0])
    np.testing.assert_array_equal(only_low, [0.0, 1.0, 1.0])


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum], ids=["maximum", "minimum"])
def test_maximum_minimum_share_the_gradient_at_ties(fn) -> None:
    grad_a, grad_b = _grads(fn, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
    winner_a = [1.0, 0.0, 1.0] if fn is tg.maximum else [1.0, 1.0, 0.0]
    expected_a = np.where([True, False, False], 0.5, winner_a)
    np.testing.assert_array_equal(grad_a, expected_a)
    np.testing.assert_array_equal(grad_b, 1.0 - expected_a)


def test_maximum_tie_under_broadcasting_sums_the_halves() -> None:
    grad_a, grad_b = _grads(tg.maximum, [2.0, 2.0, 3.0], 2.0)
    np.testing.assert_array_equal(grad_a, [0.5, 0.5, 1.0])
    assert grad_b.shape == () and grad_b == 1.0


def test_where_keeps_nan_of_the_unused_branch_out_of_the_gradient() -> None:
    x = Tensor(np.array([-1.0, 0.0, 4.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        safe = tg.where(x > 0, x, 1.0).sqrt()  # x.sqrt() would be nan at -1
        chosen = tg.where(x > 0, (x.abs() + 1).log(), x * 0)
    (safe + chosen).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.25 + 1 / 5])


def test_pow_with_a_constant_exponent_never_logs_a_negative_base() -> None:
    x = Tensor(np.array([-2.0, -0.5, 3.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log(-2) would warn "invalid value"
        (x**2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-4.0, -1.0, 6.0])


@given(ts.tensors(min_value=-1000.0, max_value=1000.0))
def test_sigmoid_of_large_values_is_finite_and_exact(x: Tensor) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        y = x.sigmoid()
        y.sum().backward()
    expected = np.exp(-np.logaddexp(0, -x.numpy()))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected * (1 - expected), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("method", ["exp", "log", "sqrt", "tanh", "sigmoid"])
def test_integer_tensors_promote_to_float64_like_numpy(method: str) -> None:
    counts = np.array([1, 2, 4])
    result = getattr(Tensor(counts), method)()
    assert result.dtype == np.float64 and not result.requires_grad
    reference = _sigmoid if method == "sigmoid" else getattr(np, method)
    np.testing.assert_allclose(result.numpy(), reference(counts))


# ------------------------------------------------------------------------ astype (Cast)


@pytest.mark.parametrize(
    ("source", "target"), [(np.float32, np.float64), (np.float64, np.float32)]
)
def test_astype_between_float_dtypes_casts_values_and_gradient(source, target) -> None:
    x = Tensor(np.array([1.5, -2.0, 0.25], dtype=source), requires_grad=True)
    y = x.astype(target)
    assert y.dtype == target and y.requires_grad and y.grad_fn is not None
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(target))
    (y * y).sum().backward()
    assert x.grad.dtype == source  # the gradient comes back in the input's dtype
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-6)


def test_astype_is_twice_differentiable() -> None:
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (first,) = tg.grad((x.astype(np.float32) ** 3).sum(), x, create_graph=True)
    assert first.dtype == np.float64
    (second,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy(), rtol=1e-6)


def test_astype_to_the_same_dtype_or_to_int() -> None:
    x = Tensor(np.array([1.7, -2.2]), requires_grad=True)
    assert x.astype(np.float64) is x
    as_int = x.astype(np.int32)
    assert as_int.dtype == np.int32 and not as_int.requires_grad
    np.testing.assert_array_equal(as_int.numpy(), [1, -2])
    assert x.double() is x and x.float().dtype == np.float32


# ------------------------------------------------------------------------ errors


def test_binary_op_with_unbroadcastable_shapes_names_op_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"maximum: shapes \(3,\) and \(2,\)"):
        tg.maximum(Tensor(np.ones(3)), Tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"where: shapes \(2,\), \(3,\) and \(\)"):
        tg.where(np.array([True, False]), Tensor(np.ones(3)), 0.0)


def test_float32_and_float64_never_mix_silently() -> None:
    single, double = Tensor(np.ones(3, np.float32)), Tensor(np.ones(3))
    message = r"dtypes differ: float\d\d \(3,\) and float\d\d \(3,\)"
    mixes = [lambda: single + double, lambda: double * single, lambda: tg.minimum(single, double)]
    for op in mixes:
        with pytest.raises(TypeError, match=message):
            op()


def test_clip_needs_a_bound_and_where_a_boolean_condition() -> None:
    with pytest.raises(ValueError, match="clip"):
        Tensor([1.0]).clip()
    with pytest.raises(TypeError, match="where: condition must be boolean"):
        tg.where(np.array([1, 0]), Tensor([1.0, 2.0]), 0.0)


def test_pow_gradients_at_zero_follow_pytorch() -> None:
    # d(x**0)/dx = 0 even at x = 0, and d(0**b)/db = 0 for b >= 0 (not 0 * log 0 = nan);
    # numpy warns about the inf and nan on the way, which the rule then replaces
    with np.errstate(divide="ignore", invalid="ignore"):
        check_pow_at_zero()


def check_pow_at_zero() -> None:
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    base = Tensor(np.array([0.0, 0.0, 3.0]), requires_grad=True)
    exponent = Tensor(np.array([0.0, 2.0, 2.0]), requires_grad=True)
    (base**exponent).sum().backward()
    np.testing.assert_allclose(exponent.grad.numpy(), [0.0, 0.0, 9.0 * np.log(3.0)])
    np.testing.assert_allclose(base.grad.numpy(), [0.0, 0.0, 6.0])

"""``Tensor`` itself: construction and dtypes, properties, conversions, operators with Python
numbers and numpy arrays, comparisons, factories and seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as ts

# ------------------------------------------------------------------------ construction


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        (3, ()),
        (2.5, ()),
        ([1, 2, 3], (3,)),
        ([[1.0, 2.0], [3.0, 4.0]], (2, 2)),
        ([[[0]]], (1, 1, 1)),
    ],
)
def test_python_numbers_and_lists_become_float32(data, shape) -> None:
    t = Tensor(data)
    assert t.dtype == np.float32 and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float32))
    assert not t.requires_grad and t.grad is None and t.grad_fn is None and t.is_leaf


def test_python_booleans_stay_boolean() -> None:
    assert Tensor([True, False]).dtype == np.bool_


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.float16, np.int8, np.int32, np.int64, np.uint8, np.bool_]
)
def test_numpy_arrays_keep_their_dtype_and_are_shared(dtype) -> None:
    array = np.ones((2, 3), dtype=dtype)
    t = Tensor(array)
    assert t.dtype == dtype
    assert t.numpy() is array  # shared, not copied
    scalar = Tensor(array[0, 0])  # a numpy scalar keeps its dtype too
    assert scalar.dtype == dtype and scalar.shape == ()


def test_explicit_dtype_converts() -> None:
    t = Tensor([1, 2], dtype=np.float64)
    assert t.dtype == np.float64
    assert Tensor(np.arange(3), dtype="float32").dtype == np.float32
    with pytest.raises(TypeError, match="is not a dtype"):
        Tensor([1.0], dtype="no such dtype")


@pytest.mark.parametrize("data", ["text", None, [1 + 2j], {"a": 1}])
def test_non_numeric_data_is_a_type_error(data) -> None:
    with pytest.raises(TypeError, match="cannot hold data of dtype"):
        Tensor(data)


def test_non_numeric_explicit_dtype_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot hold data of dtype complex64"):
        Tensor([1.0], dtype=np.complex64)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.float16])
def test_only_float32_and_float64_can_require_grad(dtype) -> None:
    message = f"only float32/float64 tensors can require gradients.*{np.dtype(dtype)}"
    with pytest.raises(TypeError, match=message):
        Tensor(np.zeros(2, dtype=dtype), requires_grad=True)
    t = Tensor(np.zeros(2, dtype=dtype))
    with pytest.raises(TypeError):
        t.requires_grad = True
    for dtype in (np.float32, np.float64):
        assert Tensor(np.zeros(2, dtype=dtype), requires_grad=True).requires_grad


def test_a_tensor_from_a_tensor_shares_its_data() -> None:
    a = Tensor(np.arange(3.0))
    b = Tensor(a)
    assert b.numpy() is a.numpy() and b.dtype == np.float64


# ------------------------------------------------------------------------ properties, conversions


@given(ts.tensors(requires_grad=False))
def test_properties_match_the_array(t: Tensor) -> None:
    array = t.numpy()
    assert t.shape == array.shape and t.ndim == array.ndim
    assert t.size == array.size and t.dtype == array.dtype
    assert t.tolist() == array.tolist()
    np.testing.assert_array_equal(t.T.numpy(), array.T)
    if t.ndim:
        assert len(t) == t.shape[0]
    else:
        with pytest.raises(TypeError, match="len"):
            len(t)


def test_item_gives_a_python_number_for_one_element() -> None:
    value = Tensor(np.array([[2.5]])).item()
    assert value == 2.5 and isinstance(value, float)
    assert isinstance(Tensor(np.array(3, dtype=np.int64)).item(), int)
    with pytest.raises(ValueError, match=r"item: .* shape \(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_bool_of_one_element_and_ambiguity_of_many() -> None:
    assert bool(Tensor([1.0])) and not bool(Tensor(0.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.numpy() is y.numpy()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert y.grad_fn is not None and not y.is_leaf and y.grad_fn.name == "Mul"
    (d * x).sum().backward()  # d is a constant: x gets d, not d + 2x
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_repr_shows_values_dtype_and_grad_state() -> None:
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    x = Tensor(np.array([1.0]), requires_grad=True)
    assert repr(x) == "Tensor([1.], dtype=float64, requires_grad=True)"
    assert repr(x * 2).endswith("grad_fn=<Mul>)")


# ------------------------------------------------------------------------ operators


NUMBERS = st.floats(-3, 3).filter(lambda v: abs(v) > 0.1)


@given(ts.tensors(avoid=(0.0,), margin=0.1, requires_grad=False), NUMBERS)
def test_operators_with_python_numbers_both_ways(t: Tensor, c: float) -> None:
    x = t.numpy()
    cases = [
        (t + c, x + c), (c + t, c + x), (t - c, x - c), (c - t, c - x),
        (t * c, x * c), (c * t, c * x), (t / c, x / c), (c / t, c / x),
        (-t, -x), (abs(c) ** t, abs(c) ** x), (t**2, x**2),
    ]
    for result, expected in cases:
        assert isinstance(result, Tensor) and result.dtype == np.float64
        np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12)


def test_operators_with_numpy_arrays_both_ways_keep_the_tensor_dtype() -> None:
    t = Tensor([1.0, 2.0, 4.0])  # float32
    array = np.array([[2.0], [3.0]])  # float64, broadcasts to (2, 3)
    for result, expected in [
        (t + array, t.numpy() + array), (array + t, array + t.numpy()),
        (array - t, array - t.numpy()), (array * t, array * t.numpy()),
        (array / t, array / t.numpy()), (array**t, array ** t.numpy()),
        (t @ np.ones((3, 2)), t.numpy() @ np.ones((3, 2))),
        (np.ones((2, 3)) @ t, np.ones((2, 3)) @ t.numpy()),
    ]:
        assert isinstance(result, Tensor) and result.dtype == np.float32
        np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_reflected_ops_send_the_gradient_to_the_tensor() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (10 - x * 3 + 1 / x + 2**x).sum().backward()
    expected = -3 - 1 / np.array([1.0, 2.0]) ** 2 + np.log(2) * 2 ** np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_integer_tensors_enter_float_ops_as_constants() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    counts = Tensor(np.array([3, 4]))
    y = x * counts
    assert y.dtype == np.float64
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert (counts + 1).dtype.kind == "i"


def test_unsupported_operand_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="add: cannot combine a Tensor with str"):
        Tensor([1.0]) + "1"
    with pytest.raises(TypeError, match="mul: cannot combine a Tensor with dict"):
        Tensor([1.0]) * {}


# ------------------------------------------------------------------------ comparisons


@given(ts.tensors(requires_grad=True), st.floats(-3, 3))
def test_comparisons_give_bool_tensors_without_grad(t: Tensor, c: float) -> None:
    x = t.numpy()
    for result, expected in [
        (t < c, x < c), (t <= c, x <= c), (t > c, x > c), (t >= c, x >= c),
        (t == c, x == c), (t != c, x != c), (t == t, x == x), (t > t * 0.5, x > x * 0.5),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.numpy(), expected)


def test_any_all_argmax_argmin() -> None:
    t = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    assert (t > 6).any() and not (t > 6).all() and (t >= 0).all()
    np.testing.assert_array_equal(t.argmax(axis=1).numpy(), [1, 0])
    np.testing.assert_array_equal(t.argmin(axis=0, keepdims=True).numpy(), [[0, 1, 0]])
    assert t.argmax().item() == 3 and t.argmax().dtype.kind == "i"


def test_tensors_hash_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b, a}) == 2


# ------------------------------------------------------------------------ factories and seeding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_factories(dtype) -> None:
    for t, expected in [
        (Tensor.zeros(2, 3, dtype=dtype), np.zeros((2, 3))),
        (Tensor.zeros((2, 3), dtype=dtype), np.zeros((2, 3))),
        (Tensor.ones(4, dtype=dtype), np.ones(4)),
        (Tensor.full((2, 2), 7, dtype=dtype), np.full((2, 2), 7.0)),
        (Tensor.arange(5, dtype=dtype), np.arange(5.0)),
        (Tensor.arange(1, 2, 0.25, dtype=dtype), np.arange(1, 2, 0.25)),
        (Tensor.zeros_like(Tensor(np.ones(3, dtype=dtype))), np.zeros(3)),
        (Tensor.ones_like(Tensor(np.ones(3, dtype=dtype))), np.ones(3)),
    ]:
        assert t.dtype == dtype
        np.testing.assert_array_equal(t.numpy(), expected)
    assert Tensor.zeros(2).dtype == np.float32 and Tensor.arange(3).dtype == np.float32
    assert Tensor.ones(2, dtype=dtype, requires_grad=True).requires_grad
    assert Tensor.zeros(0, 3).shape == (0, 3) and Tensor.ones().shape == ()


def test_random_factories_have_the_right_shape_dtype_and_range() -> None:
    tg.manual_seed(0)
    normal = Tensor.randn(200, 50, dtype=np.float64)
    assert normal.shape == (200, 50) and normal.dtype == np.float64
    assert abs(normal.numpy().mean()) < 0.05 and abs(normal.numpy().std() - 1) < 0.05
    unit = Tensor.rand(1000)
    assert unit.dtype == np.float32 and unit.numpy().min() >= 0 and unit.numpy().max() < 1
    wide = Tensor.uniform(3, 1000, low=-2.0, high=5.0, requires_grad=True)
    assert wide.requires_grad and wide.numpy().min() >= -2 and wide.numpy().max() < 5
    assert wide.numpy().max() > 4.5 and wide.numpy().min() < -1.5


def test_manual_seed_makes_random_draws_reproducible() -> None:
    def draws():
        return [Tensor.randn(3).numpy(), Tensor.rand(2, 2).numpy(), Tensor.uniform(4).numpy()]

    tg.manual_seed(123)
    first = draws()
    tg.manual_seed(123)
    second = draws()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    tg.manual_seed(124)
    assert not np.array_equal(draws()[0], first[0])
    with pytest.raises(TypeError, match="seed must be an int"):
        tg.manual_seed(1.5)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        tg.manual_seed(-1)


def test_std_is_the_square_root_of_the_corrected_variance():
    data = np.random.default_rng(3).normal(size=(4, 5))
    x = Tensor(data, requires_grad=True)
    np.testing.assert_allclose(x.std(axis=1).numpy(), data.std(axis=1, ddof=1))
    np.testing.assert_allclose(x.std(correction=0).numpy(), data.std())
    assert tg.gradcheck(lambda t: t.std(axis=0, keepdims=True), x)

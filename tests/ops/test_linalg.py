"""Matrix multiplication (``ops/linalg.py``) with numpy's rules, a table row per operand layout.

1-D x 1-D is a dot product, a 1-D first operand is a row vector and a 1-D second operand a
column vector (their axis dropped from the result), and leading batch axes broadcast.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as ts

from .op_table import (
    MAX_SIDE,
    Call,
    Op,
    table_tests,
)

SIDE = st.integers(1, MAX_SIDE)


@st.composite
def operands(draw, a_dims: int, b_dims: int) -> Call:
    """``a_dims``/``b_dims``: 1 (vector), 2 (matrix) or 3 (batched, batch shapes broadcast)."""
    n, k, m = draw(SIDE), draw(SIDE), draw(SIDE)
    batch_a, batch_b = draw(ts.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=2))
    shape_a = (k,) if a_dims == 1 else (n, k) if a_dims == 2 else (*batch_a, n, k)
    shape_b = (k,) if b_dims == 1 else (k, m) if b_dims == 2 else (*batch_b, k, m)
    return Call((draw(ts.tensors(shape_a)), draw(ts.tensors(shape_b))))


LAYOUTS = [("vector", 1), ("matrix", 2), ("batched", 3)]

OPS = [
    Op(f"{a_name}@{b_name}", lambda a, b: a @ b, np.matmul, operands(a_dims, b_dims))
    for a_name, a_dims in LAYOUTS
    for b_name, b_dims in LAYOUTS
] + [
    Op("tg.matmul", tg.matmul, np.matmul, operands(3, 3)),
    Op("Tensor.matmul", Tensor.matmul, np.matmul, operands(2, 3)),
    Op("rmatmul_array", lambda b, a: a @ b, lambda b, a: a @ b,
       operands(2, 3).map(lambda c: Call((c.tensors[1],), {"a": c.tensors[0].numpy().copy()}))),
]


test_forward_matches_numpy, test_gradient, test_second_derivative = table_tests(OPS)


def test_matmul_gradients_have_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    a_values, b_values = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    weights = rng.normal(size=(2, 4))
    a, b = Tensor(a_values, requires_grad=True), Tensor(b_values, requires_grad=True)
    ((a @ b) * Tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), weights @ b_values.T)  # dL/dA = G B^T
    np.testing.assert_allclose(b.grad.numpy(), a_values.T @ weights)  # dL/dB = A^T G


def test_broadcast_batch_gradient_is_summed_back_to_the_input_shape() -> None:
    a = Tensor(np.ones((2, 1, 3, 4)), requires_grad=True)
    b = Tensor(np.ones((5, 4, 2)), requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.shape == (2, 1, 3, 4) and b.grad.shape == (5, 4, 2)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 1, 3, 4), 5.0 * 2))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((5, 4, 2), 2.0 * 3))


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "message"),
    [
        ((3, 4), (5, 6), r"matmul: shapes \(3, 4\) and \(5, 6\) are not aligned: 4 .* != 5"),
        ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) are not aligned"),
        ((2, 3, 4), (5, 4, 2), r"matmul: batch shapes of \(2, 3, 4\) and \(5, 4, 2\)"),
        ((), (3,), r"matmul: operands must have at least 1 dimension, got \(\) and \(3,\)"),
    ],
)
def test_matmul_shape_errors_name_both_shapes(a_shape, b_shape, message) -> None:
    with pytest.raises(ValueError, match=message):
        Tensor(np.ones(a_shape)) @ Tensor(np.ones(b_shape))


def test_module_level_matmul_accepts_an_array_first() -> None:
    b = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    product = tg.matmul(np.ones((2, 3)), b)
    assert product.dtype == np.float64
    np.testing.assert_array_equal(product.numpy(), np.ones((2, 3)) @ b.numpy())
    product.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full((3, 2), 2.0))


def test_matmul_refuses_mixed_float_dtypes() -> None:
    with pytest.raises(TypeError, match="matmul: dtypes differ"):
        Tensor(np.ones((2, 2))) @ Tensor(np.ones((2, 2), np.float32))

"""The op-table machinery every ``tests/ops`` file shares: a row per op, three checks per row.

A row (:class:`Op`) names an op, gives the tinygrad call and the numpy reference, and a
hypothesis strategy that draws a :class:`Call`: the input Tensors (float64, requiring grad)
and keyword options such as ``axis``. The strategy keeps inputs inside the op's smooth domain:
away from kinks (relu and abs at 0, clip bounds, ties of max/min/maximum/minimum), where a
finite difference straddles two slopes and measures neither, and away from domain edges (log
and sqrt near 0, division by ~0, non-integer powers of negative numbers).

Each test file feeds its table to the three checks with :func:`table_tests`, as minitorch
and MyGrad do:

* :func:`check_forward`: the float64 result equals numpy's; float32 in gives float32 out
  (and float32 gradients).
* :func:`check_gradient`: ``gradcheck``, the analytic Jacobian against central differences.
* :func:`check_second_derivative`: ``gradgradcheck``, the same for the backward pass itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck, gradgradcheck
from tinygrad_edu.testing import strategies as ts

# Small shapes: gradgradcheck costs about (elements of inputs + outputs)^2 op evaluations.
MAX_DIMS = 3
MAX_SIDE = 3


@dataclass
class Call:
    """One drawn application of an op: its input Tensors and its keyword options."""

    tensors: tuple[Tensor, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.tensors)
        return f"Call(shapes=[{shapes}], options={self.options!r})"


@dataclass(frozen=True)
class Op:
    """A table row: ``fn(*tensors, **options)`` must match ``reference(*arrays, **options)``."""

    name: str
    fn: Callable[..., Tensor]
    reference: Callable[..., Any]
    inputs: st.SearchStrategy[Call]

    def __str__(self) -> str:
        return self.name


# ------------------------------------------------------------------------ input strategies


def shapes(min_dims: int = 0, min_side: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    return ts.shapes(min_dims=min_dims, max_dims=MAX_DIMS, min_side=min_side, max_side=MAX_SIDE)


def grid(low: float, high: float, step: float, offset: float = 0.0) -> st.SearchStrategy[float]:
    """Values offset + k * step in [low, high]: distinct draws are at least ``step`` apart.

    With ``unique=True`` this rules out ties *and* near-ties (two values closer than the
    finite-difference step would swap order under perturbation, a kink in disguise).
    """
    first, last = int(np.ceil((low - offset) / step)), int(np.floor((high - offset) / step))
    return st.integers(first, last).map(lambda k: offset + k * step)


def unary(shape: Any = None, **values: Any) -> st.SearchStrategy[Call]:
    """One tensor of a drawn shape; ``values`` go to ``strategies.tensors`` (ranges, avoid...)."""
    return ts.tensors(shapes() if shape is None else shape, **values).map(lambda t: Call((t,)))


@st.composite
def binary(draw, first: dict | None = None, second: dict | None = None) -> Call:
    """Two tensors whose shapes broadcast together (missing and size-1 axes, 0-d included)."""
    shape_a, shape_b = draw(ts.broadcastable_shapes(2, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    a = draw(ts.tensors(shape_a, **(first or {})))
    b = draw(ts.tensors(shape_b, **(second or {})))
    return Call((a, b))


def with_option(call: st.SearchStrategy[Call], **options: st.SearchStrategy) -> st.SearchStrategy:
    """Add independently drawn keyword options to each drawn Call."""
    return st.tuples(call, st.fixed_dictionaries(options)).map(
        lambda drawn: Call(drawn[0].tensors, {**drawn[0].options, **drawn[1]})
    )


# ------------------------------------------------------------------------ the three checks


def _bound(op: Op, call: Call) -> Callable[..., Tensor]:
    return lambda *tensors: op.fn(*tensors, **call.options)


def check_forward(op: Op, call: Call) -> None:
    """float64 values equal numpy's; the same inputs in float32 give float32 and close values."""
    arrays = [t.numpy().copy() for t in call.tensors]
    expected = np.asarray(op.reference(*arrays, **call.options))
    out = op.fn(*call.tensors, **call.options)
    assert isinstance(out, Tensor)
    assert out.dtype == np.float64, f"{op.name}: float64 inputs gave {out.dtype}"
    assert out.shape == expected.shape, f"{op.name}: shape {out.shape}, numpy {expected.shape}"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    for t, a in zip(call.tensors, arrays, strict=True):
        np.testing.assert_array_equal(t.numpy(), a, err_msg=f"{op.name} changed its input")

    # float32 stays float32 both ways: the output, and every gradient backward brings back
    singles = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    doubles = [Tensor(a, requires_grad=True) for a in arrays]
    out32, out64 = op.fn(*singles, **call.options), op.fn(*doubles, **call.options)
    assert out32.dtype == np.float32, f"{op.name}: float32 inputs gave {out32.dtype}"
    np.testing.assert_allclose(out32.numpy(), expected, rtol=1e-4, atol=1e-5)
    out32.backward(np.ones(out32.shape))
    out64.backward(np.ones(out64.shape))
    for single, double in zip(singles, doubles, strict=True):
        assert single.grad.dtype == np.float32, f"{op.name}: float32 got {single.grad.dtype}"
        np.testing.assert_allclose(single.grad.numpy(), double.grad.numpy(), rtol=1e-3, atol=1e-4)


def check_gradient(op: Op, call: Call) -> None:
    assert gradcheck(_bound(op, call), call.tensors)


def check_second_derivative(op: Op, call: Call) -> None:
    assert gradgradcheck(_bound(op, call), call.tensors)


def table_tests(ops: list[Op]) -> tuple[Callable, Callable, Callable]:
    """The three checks over every row of ``ops``, as pytest tests for a module to bind:

    test_forward_matches_numpy, test_gradient, test_second_derivative = table_tests(OPS)
    """

    @pytest.mark.parametrize("op", ops, ids=str)
    @given(data=st.data())
    def test_forward_matches_numpy(op: Op, data) -> None:
        check_forward(op, data.draw(op.inputs, label="call"))

    @pytest.mark.parametrize("op", ops, ids=str)
    @given(data=st.data())
    def test_gradient(op: Op, data) -> None:
        check_gradient(op, data.draw(op.inputs, label="call"))

    @pytest.mark.parametrize("op", ops, ids=str)
    @given(data=st.data())
    def test_second_derivative(op: Op, data) -> None:
        check_second_derivative(op, data.draw(op.inputs, label="call"))

    return test_forward_matches_numpy, test_gradient, test_second_derivative

"""Parity with PyTorch (optional: skipped when torch is not installed; it is never a dependency).

For a representative table of ops, on drawn float64 inputs: the forward values, the first-order
vector-Jacobian products and the second-order ones (the gradient of <grad, u> with
``create_graph=True``) must equal torch's, including torch's tie rules where they apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="torch is optional; parity tests need it installed")

from ops.op_table import Call, binary, grid, shapes, unary, with_option  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu import Tensor  # noqa: E402
from tinygrad_edu.testing import strategies as ts  # noqa: E402


@dataclass(frozen=True)
class Parity:
    name: str
    ours: Callable[..., Tensor]
    theirs: Callable[..., Any]  # torch tensors in, a torch tensor out
    inputs: st.SearchStrategy[Call]

    def __str__(self) -> str:
        return self.name


@st.composite
def with_axis(draw, unique: bool = False, min_dims: int = 1) -> Call:
    """One tensor plus an int axis (negative too) and keepdims."""
    shape = draw(shapes(min_dims=min_dims))
    elements = grid(-3, 3, 0.125) if unique else None
    x = draw(ts.tensors(shape, elements=elements, unique=unique))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Call((x,), {"axis": axis, "keepdims": draw(st.booleans())})


@st.composite
def integer_index(draw) -> Call:
    shape = draw(shapes(min_dims=1))
    index = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5))
    return Call((draw(ts.tensors(shape)),), {"index": np.array(index)})


@st.composite
def matmul_pair(draw) -> Call:
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (2, 1)]))
    return Call((draw(ts.tensors((*batch, n, k))), draw(ts.tensors((k, m)))))


@st.composite
def where_call(draw) -> Call:
    shape_a, shape_b = draw(ts.broadcastable_shapes(2, max_dims=3, max_side=3))
    a, b = draw(ts.tensors(shape_a)), draw(ts.tensors(shape_b))
    condition = draw(ts.tensors(np.broadcast_shapes(shape_a, shape_b), dtype=np.bool_)).numpy()
    return Call((a, b), {"condition": condition})


SEPARATED = {
    "first": {"elements": grid(-3, 3, 0.25)},
    "second": {"elements": grid(-3, 3, 0.25, 0.125)},
}

TABLE = [
    Parity("add", lambda a, b: a + b, lambda a, b: a + b, binary()),
    Parity("mul", lambda a, b: a * b, lambda a, b: a * b, binary()),
    Parity("div", lambda a, b: a / b, lambda a, b: a / b,
           binary(second={"avoid": (0.0,), "margin": 0.3})),
    # exponent 0 is avoided: torch masks the base's gradient there with a `where`, which
    # drops the mixed second derivative d2(a**b)/da db = 1 (at a = 1) on one of its two paths
    Parity("pow", lambda a, b: a**b, lambda a, b: a**b,
           binary(first={"min_value": 0.2, "max_value": 2.5}, second={"avoid": (0.0,)})),
    Parity("rpow", lambda x, base: base**x, lambda x, base: base**x,
           with_option(unary(), base=st.floats(0.2, 3.0))),
    Parity("exp", Tensor.exp, torch.exp, unary()),
    Parity("log", Tensor.log, torch.log, unary(min_value=0.1)),
    Parity("sqrt", Tensor.sqrt, torch.sqrt, unary(min_value=0.1)),
    Parity("tanh", Tensor.tanh, torch.tanh, unary()),
    Parity("sigmoid", Tensor.sigmoid, torch.sigmoid, unary(min_value=-8, max_value=8)),
    Parity("relu", Tensor.relu, torch.relu, unary(avoid=(0.0,))),
    Parity("abs", Tensor.abs, torch.abs, unary(avoid=(0.0,))),
    Parity("clip", lambda x: x.clip(-1.0, 1.5), lambda x: torch.clamp(x, -1.0, 1.5),
           unary(avoid=(-1.0, 1.5))),
    Parity("maximum", tg.maximum, torch.maximum, binary(**SEPARATED)),
    Parity("minimum", tg.minimum, torch.minimum, binary(**SEPARATED)),
    Parity("where", lambda a, b, condition: tg.where(condition, a, b),
           lambda a, b, condition: torch.where(torch.as_tensor(condition), a, b), where_call()),
    Parity("sum", Tensor.sum, lambda x, axis, keepdims: torch.sum(x, dim=axis, keepdim=keepdims),
           with_axis()),
    Parity("mean", Tensor.mean, lambda x, axis, keepdims: torch.mean(x, dim=axis, keepdim=keepdims),
           with_axis()),
    Parity("max", Tensor.max, lambda x, axis, keepdims: torch.amax(x, dim=axis, keepdim=keepdims),
           with_axis(unique=True)),
    Parity("min", Tensor.min, lambda x, axis, keepdims: torch.amin(x, dim=axis, keepdim=keepdims),
           with_axis(unique=True)),
    Parity("var", Tensor.var, lambda x, axis, keepdims: torch.var(x, dim=axis, keepdim=keepdims),
           with_axis().filter(lambda c: c.tensors[0].shape[c.options["axis"]] > 1)),
    Parity("logsumexp", Tensor.logsumexp,
           lambda x, axis, keepdims: torch.logsumexp(x, dim=axis, keepdim=keepdims), with_axis()),
    Parity("softmax", lambda x, axis, keepdims: x.softmax(axis=axis),
           lambda x, axis, keepdims: torch.softmax(x, dim=axis), with_axis()),
    Parity("log_softmax", lambda x, axis, keepdims: x.log_softmax(axis=axis),
           lambda x, axis, keepdims: torch.log_softmax(x, dim=axis), with_axis()),
    Parity("getitem_repeated", lambda x, index: x[index],
           lambda x, index: x[torch.as_tensor(index)], integer_index()),
    Parity("permute_reshape", lambda x: x.T.reshape(-1),
           lambda x: x.permute(tuple(reversed(range(x.ndim)))).reshape(-1), unary()),
    Parity("cat", lambda a, b: tg.cat([a, b], axis=-1), lambda a, b: torch.cat([a, b], dim=-1),
           binary().filter(lambda c: c.tensors[0].ndim == c.tensors[1].ndim >= 1
                           and c.tensors[0].shape[:-1] == c.tensors[1].shape[:-1])),
    Parity("matmul", lambda a, b: a @ b, lambda a, b: a @ b, matmul_pair()),
]


def _torch_inputs(call: Call):
    return [torch.tensor(t.numpy(), dtype=torch.float64, requires_grad=True) for t in call.tensors]


def _unit_vectors(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("row", TABLE, ids=str)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_values_and_first_and_second_derivatives_match_torch(row: Parity, data, seed: int) -> None:
    call = data.draw(row.inputs, label="call")
    ours_in, theirs_in = call.tensors, _torch_inputs(call)
    ours_out = row.ours(*ours_in, **call.options)
    theirs_out = row.theirs(*theirs_in, **call.options)
    expected = theirs_out.detach().numpy()
    np.testing.assert_allclose(ours_out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert ours_out.shape == tuple(theirs_out.shape)

    # first order: the vector-Jacobian product with a drawn vector
    vector = _unit_vectors(seed, ours_out.shape)
    ours_grads = tg.grad((ours_out * Tensor(vector)).sum(), list(ours_in), create_graph=True)
    theirs_grads = torch.autograd.grad((theirs_out * torch.from_numpy(vector)).sum(), theirs_in,
                                       create_graph=True)
    for ours, theirs in zip(ours_grads, theirs_grads, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)

    # second order: the gradient of <first-order gradients, u>
    directions = [_unit_vectors(seed + 1 + i, t.shape) for i, t in enumerate(ours_in)]
    ours_scalar = Tensor(0.0, dtype=np.float64)
    for g, u in zip(ours_grads, directions, strict=True):
        ours_scalar = ours_scalar + (g * Tensor(u)).sum()
    theirs_scalar = sum(
        (g * torch.from_numpy(u)).sum() for g, u in zip(theirs_grads, directions, strict=True)
    )
    if not theirs_scalar.requires_grad:  # a linear op: the first-order gradients are constants
        assert not ours_scalar.requires_grad
        return
    ours_second = tg.grad(ours_scalar, list(ours_in), allow_unused=True)
    theirs_second = torch.autograd.grad(theirs_scalar, theirs_in, allow_unused=True)
    for x, ours, theirs in zip(ours_in, ours_second, theirs_second, strict=True):
        # force=True: torch returns a lazy "ZeroTensor" for a zero second derivative (abs)
        expected = np.zeros(x.shape) if theirs is None else theirs.numpy(force=True)
        actual = np.zeros_like(expected) if ours is None else ours.numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda x: x.max(), lambda x: torch.amax(x, dim=(0, 1))),
        (lambda x: x.min(axis=1), lambda x: torch.amin(x, dim=1)),
        (lambda x: tg.maximum(x, x.flip(1)), lambda x: torch.maximum(x, x.flip(1))),
        (lambda x: x.relu() + x.abs(), lambda x: torch.relu(x) + torch.abs(x)),
        (lambda x: x.clip(0.0, 2.0), lambda x: torch.clamp(x, 0.0, 2.0)),
    ],
    ids=["max_ties", "min_ties", "maximum_ties", "relu_abs_at_zero", "clip_at_bounds"],
)
def test_tie_and_kink_rules_match_torch(ours, theirs) -> None:
    values = np.array([[2.0, 0.0, 2.0], [0.0, -1.0, 0.0]])
    x = Tensor(values, requires_grad=True)
    y = torch.tensor(values, requires_grad=True)
    ours(x).sum().backward()
    theirs(y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())

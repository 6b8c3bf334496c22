"""The backward engine (``autograd.py``): order, accumulation, freeing, ``grad``, higher
derivatives, grad mode, and custom Functions through the public mechanism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu as tg
from tinygrad_edu import Function, Tensor, gradcheck, gradgradcheck
from tinygrad_edu.testing import strategies as ts


def leaf(values) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------------ accumulation and order


def test_gradients_accumulate_across_backward_calls() -> None:
    x = leaf([1.0, -2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy() + 3)
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_grad_is_a_plain_tensor_each_leaf_owns() -> None:
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # the same incoming gradient reaches both leaves
    assert isinstance(a.grad, Tensor) and not a.grad.requires_grad and a.grad.dtype == np.float64
    a.grad.data += 10  # an optimizer may update .grad in place
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


class CountingIdentity(Function):
    """y = x, counting backward calls: the engine must run each node's backward exactly once."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        CountingIdentity.calls += 1
        return grad


def test_diamond_graph_runs_each_backward_once_with_the_complete_gradient() -> None:
    CountingIdentity.calls = 0
    x = leaf([0.5, -1.0])
    shared = CountingIdentity.apply(x * 2)  # x -> shared -> (left, right) -> out
    left, right = shared.exp(), shared * shared
    (left + right).sum().backward()
    assert CountingIdentity.calls == 1
    s = 2 * x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(s) + 2 * s))


def test_a_tensor_used_many_times_collects_every_use() -> None:
    x = leaf([1.5, -0.5])
    y = x
    for _ in range(5):
        y = y * x + x  # each step uses x twice
    y.sum().backward()
    # y5 = sum_{k=1..6} x^k, so dy/dx = sum_{k=1..6} k x^(k-1)
    expected = sum(k * x.numpy() ** (k - 1) for k in range(1, 7))
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_deep_graphs_do_not_hit_the_recursion_limit() -> None:
    x = leaf([1.0])
    y = x
    for _ in range(5000):
        y = y + 1e-3 * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0 + 5000 * 1e-3])


def test_retain_grad_keeps_the_gradient_of_an_intermediate() -> None:
    x = leaf([1.0, 2.0])
    hidden = x * 3
    hidden.retain_grad()
    other = x * 2  # no retain_grad: no .grad
    (hidden * hidden + other).sum().backward()
    np.testing.assert_array_equal(hidden.grad.numpy(), 2 * hidden.numpy())
    assert other.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), 18 * x.numpy() + 2)


# ------------------------------------------------------------------------ backward's arguments


def test_backward_of_a_non_scalar_needs_a_gradient_and_names_the_shape() -> None:
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"backward: output has shape \(2, 3\)"):
        (x * 2).backward()
    (x * 2).backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
    message = r"gradient has shape \(3,\) but the output has shape \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        (x * 2).backward(Tensor(np.ones(3)))


def test_backward_gradient_of_another_dtype_is_a_type_error() -> None:
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    message = r"backward: gradient has dtype float64 but the output \(shape \(3,\)\) has dtype"
    with pytest.raises(TypeError, match=message):
        (x * 2).backward(Tensor(np.ones(3)))
    (x * 2).backward(np.ones(3))  # plain data takes the output's dtype
    assert x.grad.dtype == np.float32


def test_backward_of_a_one_element_tensor_with_axes_needs_no_gradient() -> None:
    x = leaf([[2.0]])
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[4.0]])


def test_backward_without_a_graph_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()
    x = leaf([1.0])
    with tg.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match=r"\(shape \(1,\)\) does not require grad"):
        y.backward()


def test_second_backward_through_a_freed_graph_is_a_runtime_error() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    message = "backward through the graph a second time.*retain_graph=True"
    with pytest.raises(RuntimeError, match=message):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.numpy()) * (1 + x.numpy()))


def test_backward_runs_inside_no_grad() -> None:
    x = leaf([3.0])
    y = (x * x).sum()
    with tg.no_grad():
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0])


# ------------------------------------------------------------------------ tinygrad_edu.grad


def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    hidden = x * w
    hidden.retain_grad()
    grad_x, grad_w = tg.grad((hidden * hidden).sum(), [x, w])
    assert x.grad is None and w.grad is None and hidden.grad is None
    np.testing.assert_array_equal(grad_x.numpy(), 2 * x.numpy() * w.numpy() ** 2)
    np.testing.assert_array_equal(grad_w.numpy(), 2 * w.numpy() * x.numpy() ** 2)


def test_grad_of_an_intermediate_and_of_several_outputs() -> None:
    x = leaf([1.0, 2.0])
    hidden = x * 2
    (grad_hidden,) = tg.grad((hidden * hidden).sum(), hidden)
    np.testing.assert_array_equal(grad_hidden.numpy(), 2 * hidden.numpy())
    (total,) = tg.grad([(x * x).sum(), (x * 3).sum()], x)
    np.testing.assert_array_equal(total.numpy(), 2 * x.numpy() + 3)


def test_grad_outputs_give_vector_jacobian_products() -> None:
    x = leaf([1.0, 2.0, 3.0])
    vector = np.array([1.0, -1.0, 0.5])
    (vjp,) = tg.grad(x * x, x, Tensor(vector))
    np.testing.assert_array_equal(vjp.numpy(), 2 * x.numpy() * vector)
    with pytest.raises(RuntimeError, match=r"grad: output has shape \(3,\)"):
        tg.grad(x * x, x)
    with pytest.raises(ValueError, match="got 2 grad_outputs for 1 outputs"):
        tg.grad(x * x, x, [Tensor(vector), Tensor(vector)])


def test_grad_runs_only_the_part_of_the_graph_it_needs() -> None:
    CountingIdentity.calls = 0
    x = leaf([1.0, 2.0])
    hidden = CountingIdentity.apply(x).exp()
    (grad_hidden,) = tg.grad((hidden * 2).sum(), hidden)
    np.testing.assert_array_equal(grad_hidden.numpy(), [2.0, 2.0])
    assert CountingIdentity.calls == 0  # behind `hidden`: neither run nor freed...
    (hidden * 3).sum().backward()  # ...so a later backward can still go through it
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(x.numpy()))
    assert CountingIdentity.calls == 1


def test_grad_of_unused_inputs_and_inputs_without_grad() -> None:
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(1,\)\) is not used"):
        tg.grad((x * 2).sum(), [x, unused])
    grad_x, grad_unused = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert grad_unused is None and grad_x.item() == 2.0
    with pytest.raises(RuntimeError, match="every input must be a Tensor with requires_grad=True"):
        tg.grad((x * 2).sum(), Tensor([1.0]))
    with pytest.raises(RuntimeError, match="none of the outputs requires grad"):
        tg.grad(Tensor([1.0]).sum(), x)


# ------------------------------------------------------------------------ create_graph


@given(ts.tensors())
def test_grad_of_grad_of_cube_is_six_x(x: Tensor) -> None:
    (first,) = tg.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    assert first.requires_grad
    (second,) = tg.grad(first.sum(), x, create_graph=True)
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy())
    (third,) = tg.grad(second.sum(), x)
    np.testing.assert_allclose(third.numpy(), np.full(x.shape, 6.0))


def test_backward_with_create_graph_makes_grad_differentiable() -> None:
    x = leaf([1.0, -2.0])
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.grad_fn is not None
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_hessian_vector_product_matches_the_closed_form() -> None:
    """f(x) = 1/2 x^T A x + sum(exp(x))  =>  H v = A v + exp(x) * v   (A symmetric)."""
    rng = np.random.default_rng(0)
    half = rng.normal(size=(4, 4))
    matrix = half + half.T
    point, vector = rng.normal(size=4), rng.normal(size=4)
    x = leaf(point)
    f = (x * (Tensor(matrix) @ x)).sum() * 0.5 + x.exp().sum()
    (gradient,) = tg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(gradient.numpy(), matrix @ point + np.exp(point))
    (hvp,) = tg.grad((gradient * Tensor(vector)).sum(), x)
    np.testing.assert_allclose(hvp.numpy(), matrix @ vector + np.exp(point) * vector)


def _penalty(weight: Tensor, inputs: np.ndarray) -> Tensor:
    """||d model(x) / dx||^2 for model(x) = sum(tanh(x @ W)): a WGAN-GP style gradient penalty."""
    x = Tensor(inputs, requires_grad=True)
    (grad_x,) = tg.grad((x @ weight).tanh().sum(), x, create_graph=True)
    return (grad_x * grad_x).sum()


def test_gradient_penalty_differentiates_to_the_right_parameter_gradient() -> None:
    rng = np.random.default_rng(1)
    inputs, weight_values = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)) * 0.5

    def closed_form(w):  # d/dx sum(tanh(xW)) = (1 - tanh(xW)^2) W^T
        slope = 1 - np.tanh(inputs @ w) ** 2
        return np.sum((slope @ w.T) ** 2)

    weight = leaf(weight_values)
    penalty = _penalty(weight, inputs)
    np.testing.assert_allclose(penalty.item(), closed_form(weight_values))
    penalty.backward()
    numerical = np.zeros_like(weight_values)
    eps = 1e-6
    for index in np.ndindex(*weight_values.shape):
        step = np.zeros_like(weight_values)
        step[index] = eps
        difference = closed_form(weight_values + step) - closed_form(weight_values - step)
        numerical[index] = difference / (2 * eps)
    np.testing.assert_allclose(weight.grad.numpy(), numerical, rtol=1e-6, atol=1e-8)
    assert gradcheck(lambda w: _penalty(w, inputs), (leaf(weight_values),))


# ------------------------------------------------------------------------ grad mode


def test_no_grad_and_enable_grad_nest_as_context_managers() -> None:
    x = leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        outside = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            inside = x * 2
            with tg.no_grad():
                innermost = x * 2
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not outside.requires_grad and outside.grad_fn is None
    assert inside.requires_grad and inside.grad_fn is not None
    assert not innermost.requires_grad
    assert x.requires_grad  # the leaf itself is unchanged


def test_grad_mode_works_as_decorators_and_restores_after_errors() -> None:
    @tg.no_grad()
    def evaluate(t):
        assert not tg.is_grad_enabled()
        return t * 2

    @tg.enable_grad()
    def train_step(t):
        return t * 2

    x = leaf([1.0])
    assert not evaluate(x).requires_grad
    with tg.no_grad():
        assert train_step(x).requires_grad
        assert not evaluate(x).requires_grad
        assert not tg.is_grad_enabled()
    assert evaluate.__name__ == "evaluate"  # functools.wraps
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            raise ZeroDivisionError
    assert tg.is_grad_enabled()


# ------------------------------------------------------------------------ custom Functions


class ScaledCube(Function):
    """y = scale * x^3 (scale a non-tensor positional arg)   dy/dx = 3 scale x^2"""

    seen_needs_input_grad: tuple = ()

    @staticmethod
    def forward(ctx, x, scale, offset=0.0):
        ctx.save_for_backward(x)
        ctx.scale = scale
        ScaledCube.seen_needs_input_grad = ctx.needs_input_grad
        return scale * x**3 + offset

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (3 * ctx.scale) * x * x, None


def test_custom_function_through_the_public_mechanism() -> None:
    x = leaf([1.0, -2.0])
    y = ScaledCube.apply(x, 2.0, offset=1.0)
    assert y.grad_fn.name == "ScaledCube" and y.grad_fn.function is ScaledCube
    assert ScaledCube.seen_needs_input_grad == (True, False)
    np.testing.assert_array_equal(y.numpy(), 2 * x.numpy() ** 3 + 1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 6 * x.numpy() ** 2)
    # written with Tensor ops, so it is right to the second order
    assert gradcheck(lambda t: ScaledCube.apply(t, 0.5), (leaf([0.3, -1.2]),))
    assert gradgradcheck(lambda t: ScaledCube.apply(t, 0.5), (leaf([0.3, -1.2]),))


class Multiply(Function):
    """z = a * b, recording what its context reports."""

    record: dict = {}

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b, a * b)
        Multiply.record["needs"] = ctx.needs_input_grad
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b, product = ctx.saved_tensors
        Multiply.record["saved"] = (a, b, product)
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def test_saved_inputs_come_back_as_the_input_tensors() -> None:
    a, b = leaf([2.0]), Tensor(np.array([5.0]))
    Multiply.apply(a, b).sum().backward()
    assert Multiply.record["needs"] == (True, False)
    saved_a, saved_b, product = Multiply.record["saved"]
    assert saved_a is a and saved_b is b  # so a backward rule stays connected to the graph
    assert isinstance(product, Tensor) and product.item() == 10.0
    assert a.grad.item() == 5.0 and b.grad is None


def test_no_graph_is_recorded_when_no_input_needs_grad() -> None:
    y = Multiply.apply(Tensor([1.0]), Tensor([2.0]))
    assert not y.requires_grad and y.grad_fn is None
    with tg.no_grad():
        z = Multiply.apply(leaf([1.0]), Tensor([2.0]))
    assert not z.requires_grad and z.grad_fn is None


class ReturnsNumpy(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad.numpy() * 2  # an ndarray is accepted and wrapped


class WrongCount(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum()

    @staticmethod
    def backward(ctx, grad):
        return grad  # should be expanded back to the input's shape


class WrongDtype(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return Tensor(grad.numpy().astype(np.float64) * 2)


def test_backward_may_return_arrays() -> None:
    x = leaf([1.0, 2.0])
    ReturnsNumpy.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_wrong_gradient_count_or_shape_is_a_clear_runtime_error() -> None:
    message = r"WrongCount.backward returned 1 gradient\(s\) but forward took 2"
    with pytest.raises(RuntimeError, match=message):
        WrongCount.apply(leaf([1.0]), leaf([2.0])).sum().backward()
    message = r"WrongShape.backward returned a gradient of shape \(\) for an input of shape \(3,\)"
    with pytest.raises(RuntimeError, match=message):
        WrongShape.apply(leaf([1.0, 2.0, 3.0])).backward()
    single = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    message = r"WrongDtype.backward returned a float64 gradient for a float32 input of shape \(3,\)"
    with pytest.raises(RuntimeError, match=message):
        WrongDtype.apply(single).sum().backward()


def test_a_saved_0d_result_stays_connected_for_higher_derivatives() -> None:
    # numpy gives ufunc results on 0-d arrays as numpy scalars; exp saves its result for
    # backward, and saved_tensors must still hand back the output Tensor, not a constant
    x = Tensor(np.array(0.7), requires_grad=True)
    (first,) = tg.grad(x.exp(), x, create_graph=True)
    (second,) = tg.grad(first, x)
    np.testing.assert_allclose(second.item(), np.exp(0.7))
    # a full max saves its 0-d result too
    values = leaf([1.0, 3.0, 2.0])
    values.max().backward()
    np.testing.assert_array_equal(values.grad.numpy(), [0.0, 1.0, 0.0])


class SavesNumpyScalar(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.float64(3.0))
        return x * 3.0

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved_tensors
        assert isinstance(scale, Tensor)
        return grad * scale


def test_saved_values_come_back_as_tensors() -> None:
    x = leaf([1.0, 2.0])
    SavesNumpyScalar.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])

"""The checker itself (``gradcheck.py``): it must catch wrong rules and say where they are wrong."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError, Tensor, gradcheck, gradgradcheck
from tinygrad_edu.gradcheck import check_gradients


def leaf(values) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


class SlightlyWrongSquare(Function):
    """y = x^2 with a backward 1% too large: 2.02 x instead of 2 x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x * 2.02


class WrongAtOneElement(Function):
    """y = a b^2, but the derivative with respect to element 1 of b is off by 0.5."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        bump = np.zeros(b.shape)
        bump[1] = 0.5
        return grad * b * b, grad * (a * b * 2 + Tensor(bump))


def test_a_one_percent_error_is_caught() -> None:
    x = leaf([0.5, -1.5, 2.0])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(SlightlyWrongSquare.apply, (x,))
    assert isinstance(caught.value, AssertionError)  # so a bare `assert gradcheck(...)` style works
    report = str(caught.value)
    assert "gradient check failed: 3 of 9 Jacobian entries differ" in report
    # the worst entry: input 0, element (2,), output element (2,), analytic 4.04 vs numerical 4
    worst = report.splitlines()[2].split()
    assert worst[:5] == ["0", "(2,)", "0", "(2,)", "4.04"]
    assert float(worst[5]) == pytest.approx(4.0, rel=1e-6)
    assert float(worst[6]) == pytest.approx(0.04, rel=1e-4)  # abs error
    assert float(worst[7]) == pytest.approx(0.01, rel=1e-4)  # rel error


def test_the_report_pinpoints_the_wrong_input_and_element() -> None:
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, 1.5, -1.0])
    result = check_gradients(WrongAtOneElement.apply, (a, b))
    assert not result.passed
    assert len(result.mismatches) == 1
    mismatch = result.mismatches[0]
    assert mismatch.input_index == 1
    assert mismatch.input_element == (1,) and mismatch.output_element == (1,)
    assert mismatch.analytic == pytest.approx(2 * 2.0 * 1.5 + 0.5)
    assert mismatch.numerical == pytest.approx(2 * 2.0 * 1.5, rel=1e-8)
    assert mismatch.abs_error == pytest.approx(0.5, rel=1e-6)
    report = result.report()
    assert re.search(r"^\s+1\s+\(1,\)\s+0\s+\(1,\)\s+6\.5\s+6\s+5\.00e-01", report, re.MULTILINE)
    assert "input element" in report and "analytic" in report and "numerical" in report


def test_raise_exception_false_returns_false_and_correct_rules_return_true() -> None:
    x = leaf([0.5, -1.5])
    assert gradcheck(SlightlyWrongSquare.apply, (x,), raise_exception=False) is False
    assert gradcheck(lambda t: t * t, (x,), raise_exception=False) is True
    assert gradcheck(lambda t: t * t, x) is True  # a single tensor needs no tuple


def test_tolerances_are_honoured() -> None:
    x = leaf([0.5, -1.5])
    assert gradcheck(SlightlyWrongSquare.apply, (x,), rtol=0.02)
    result = check_gradients(lambda t: t * t, (x,))
    assert result.passed and result.max_abs_error < 1e-7 and result.checked == 4
    assert result.report().startswith("gradient check passed: 4 Jacobian entries")


def test_float32_inputs_are_refused_with_an_explanation() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"gradcheck: input 0 is float32; use float64 .*rounding"):
        gradcheck(lambda t: t * t, (x,))
    with pytest.raises(TypeError, match=r"gradgradcheck: input 0 is float32"):
        gradgradcheck(lambda t: t * t, (x,))


def test_inputs_without_grad_and_non_tensor_outputs_are_refused() -> None:
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, (Tensor(np.ones(2)),))
    with pytest.raises(TypeError, match="fn must return Tensors, got float"):
        gradcheck(lambda t: 1.0, (leaf([1.0]),))


def test_several_outputs_and_constant_inputs() -> None:
    x, constant = leaf([0.5, 2.0]), Tensor(np.array([3.0, -1.0]))
    assert gradcheck(lambda t, c: (t * c, t.exp(), (t > 1)), (x, constant))
    result = check_gradients(lambda t: (t * 2, SlightlyWrongSquare.apply(t)), (x,))
    assert {m.output_index for m in result.mismatches} == {1}


def test_inputs_are_restored_and_the_check_runs_inside_no_grad() -> None:
    x = leaf([0.5, 2.0])
    data = x.data
    with tg.no_grad():
        assert gradcheck(lambda t: (t * t).sum(), (x,))
        assert gradgradcheck(lambda t: (t * t * t).sum(), (x,))
    assert x.data is data and np.array_equal(data, [0.5, 2.0]) and x.grad is None


def test_functions_that_take_gradients_themselves_can_be_checked() -> None:
    def gradient_norm(w):
        x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
        (grad_x,) = tg.grad((x * w).tanh().sum(), x, create_graph=True)
        return (grad_x * grad_x).sum()

    assert gradcheck(gradient_norm, (leaf([1.5, -0.5]),))


# ------------------------------------------------------------------------ gradgradcheck


class CubeWithFrozenBackward(Function):
    """y = x^3 with dy/dx = 3x^2 computed from x.data: numerically right, but a constant to the
    graph, so create_graph=True sees a zero second derivative instead of 6x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Tensor(3 * x.data**2)


class CubeWithTensorBackward(Function):
    """The same rule written with Tensor operations: right to every order."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable() -> None:
    x = leaf([0.5, -1.5, 2.0])
    assert gradcheck(CubeWithFrozenBackward.apply, (x,))  # first order: fine
    with pytest.raises(GradcheckError, match="second-derivative check failed") as caught:
        gradgradcheck(CubeWithFrozenBackward.apply, (x,))
    report = str(caught.value)
    # input 0 is x; the analytic second derivative is 0 where the numerical one is 6 x v
    row = next(line.split() for line in report.splitlines()[2:] if line.split()[0] == "0")
    assert float(row[4]) == 0.0 and abs(float(row[5])) > 0.1
    assert gradgradcheck(CubeWithFrozenBackward.apply, (x,), raise_exception=False) is False
    assert gradgradcheck(CubeWithTensorBackward.apply, (x,))


def test_gradgradcheck_with_given_grad_outputs() -> None:
    x = leaf([[0.5, -1.5], [2.0, 0.1]])
    vector = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    assert gradgradcheck(lambda t: t.tanh() * t, (x,), grad_outputs=(vector,))
    assert not gradgradcheck(CubeWithFrozenBackward.apply, (x,), grad_outputs=vector,
                             raise_exception=False)


def test_gradgradcheck_of_a_linear_function_has_zero_second_derivative() -> None:
    # the gradient of a linear function does not depend on x: the VJP is checked against
    # its (zero) dependence on x and its dependence on the vector
    assert gradgradcheck(lambda t: t * 3 + 1, (leaf([1.0, 2.0]),))

"""Finite-difference gradient checks: the proof that a backward rule is right.

For every input element x_j and every output element y_i the analytic derivative dy_i/dx_j (from
the backward rules, one vector-Jacobian product per output element) is compared with the central
difference

    (y_i(x + eps e_j) - y_i(x - eps e_j)) / (2 eps)

whose error shrinks like eps^2. The whole Jacobian is checked, as PyTorch's gradcheck does, and a
mismatch is reported with the worst elements so you can see *where* a rule goes wrong.

Use float64: with float32's 7 significant digits, a difference quotient with eps = 1e-6 is mostly
rounding noise, and correct rules "fail".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .autograd import enable_grad, grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences; the message is the report."""


@dataclass
class Mismatch:
    input_index: int
    output_index: int
    output_element: tuple[int, ...]
    input_element: tuple[int, ...]
    analytic: float
    numerical: float

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numerical)

    @property
    def rel_error(self) -> float:
        return self.abs_error / max(abs(self.numerical), 1e-300)


@dataclass
class GradcheckResult:
    """What a check found: the largest errors and the worst mismatching Jacobian entries."""

    passed: bool
    max_abs_error: float
    max_rel_error: float
    checked: int
    atol: float
    rtol: float
    mismatches: list[Mismatch] = field(default_factory=list)
    what: str = "gradient"

    def report(self, shown: int = 5) -> str:
        if self.passed:
            return (
                f"{self.what} check passed: {self.checked} Jacobian entries, max abs error "
                f"{self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}"
            )
        worst = sorted(self.mismatches, key=lambda m: -m.abs_error)[:shown]
        lines = [
            f"{self.what} check failed: {len(self.mismatches)} of {self.checked} Jacobian entries "
            "differ by more than atol + rtol * |numerical| "
            f"(atol={self.atol:g}, rtol={self.rtol:g})",
            f"  {'input':>5} {'input element':>15} {'output':>6} {'output element':>15} "
            f"{'analytic':>12} {'numerical':>12} {'abs error':>10} {'rel error':>10}",
        ]
        for m in worst:
            lines.append(
                f"  {m.input_index:>5} {str(m.input_element):>15} {m.output_index:>6} "
                f"{str(m.output_element):>15} {m.analytic:>12.5g} {m.numerical:>12.5g} "
                f"{m.abs_error:>10.2e} {m.rel_error:>10.2e}"
            )
        return "\n".join(lines)


def _as_tuple(value) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _outputs(fn: Callable, inputs: Sequence) -> tuple[Tensor, ...]:
    outputs = _as_tuple(fn(*inputs))
    for out in outputs:
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(out).__name__}")
    return outputs


def _check_inputs(inputs: tuple, what: str) -> list[int]:
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not positions:
        raise ValueError(f"{what}: no input has requires_grad=True, so there is nothing to check")
    for i in positions:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"{what}: input {i} is {inputs[i].dtype}; use float64 inputs. In float32 the "
                "finite difference (f(x+eps) - f(x-eps)) / 2eps with eps=1e-6 is dominated by "
                "rounding error (7 significant digits), so correct gradients would look wrong."
            )
    return positions


def _numerical_jacobians(fn, inputs, positions, outputs, eps) -> dict[int, list[np.ndarray]]:
    """Central differences: per input position, one (out_size, in_size) block per output."""
    jacobians = {}
    for position in positions:
        x = inputs[position]
        original = x.data
        x.data = np.array(original, dtype=np.float64, copy=True)
        flat = x.data.reshape(-1)
        blocks = [np.zeros((out.size, x.size)) for out in outputs]
        try:
            for j in range(x.size):
                saved = flat[j]
                flat[j] = saved + eps
                plus = [o.data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
                flat[j] = saved - eps
                minus = [o.data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
                flat[j] = saved
                for block, p, m in zip(blocks, plus, minus, strict=True):
                    block[:, j] = (p - m) / (2 * eps)
        finally:
            x.data = original
        jacobians[position] = blocks
    return jacobians


def _analytic_jacobians(inputs, positions, outputs) -> dict[int, list[np.ndarray]]:
    """One vector-Jacobian product per output element, with a one-hot vector."""
    differentiable = [inputs[p] for p in positions]
    jacobians = {p: [np.zeros((out.size, inputs[p].size)) for out in outputs] for p in positions}
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue  # nothing connects this output to the inputs: its Jacobian is zero
        for i in range(out.size):
            one_hot = np.zeros(out.size, dtype=out.dtype)
            one_hot[i] = 1
            grads = grad(out, differentiable, Tensor(one_hot.reshape(out.shape)),
                         retain_graph=True, allow_unused=True)
            for position, g in zip(positions, grads, strict=True):
                if g is not None:
                    jacobians[position][k][i] = g.data.reshape(-1)
    return jacobians


@enable_grad()  # the analytic side needs the graph, and fn may itself differentiate
def check_gradients(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5,
                    rtol: float = 1e-3, what: str = "gradient") -> GradcheckResult:
    """Compare analytic and numerical Jacobians of ``fn`` and return what was found.

    ``fn`` runs with grad mode on, even inside ``no_grad``: the analytic Jacobian needs its
    graph, and a function that takes gradients itself (a gradient penalty) needs it too.
    """
    inputs = _as_tuple(inputs)
    positions = _check_inputs(inputs, "gradcheck")
    outputs = _outputs(fn, inputs)
    numerical = _numerical_jacobians(fn, inputs, positions, outputs, eps)
    analytic = _analytic_jacobians(inputs, positions, outputs)
    mismatches, max_abs, max_rel, checked = [], 0.0, 0.0, 0
    for position in positions:
        for k, out in enumerate(outputs):
            a, n = analytic[position][k], numerical[position][k]
            error = np.abs(a - n)
            checked += error.size
            if error.size == 0:
                continue
            max_abs = max(max_abs, float(error.max()))
            max_rel = max(max_rel, float((error / np.maximum(np.abs(n), 1e-12)).max()))
            for i, j in zip(*np.nonzero(~(error <= atol + rtol * np.abs(n))), strict=True):
                output_element = tuple(int(v) for v in np.unravel_index(i, out.shape))
                input_element = tuple(int(v) for v in np.unravel_index(j, inputs[position].shape))
                mismatches.append(Mismatch(position, k, output_element, input_element,
                                           float(a[i, j]), float(n[i, j])))
    return GradcheckResult(not mismatches, max_abs, max_rel, checked, atol, rtol, mismatches, what)


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` (float64 Tensors) against finite differences.

    ``fn`` takes the inputs and returns a Tensor (any shape) or a tuple of Tensors. Returns True
    when every Jacobian entry agrees within ``atol + rtol * |numerical|``; otherwise raises
    :class:`GradcheckError` with a report (or returns False if ``raise_exception=False``).
    """
    result = check_gradients(fn, inputs, eps, atol, rtol)
    if not result.passed and raise_exception:
        raise GradcheckError(result.report())
    return result.passed


def first_derivative(fn: Callable, inputs, grad_outputs=None) -> tuple[Callable, tuple]:
    """The function (inputs, v) -> v^T J(inputs) whose gradient is the second derivative of fn.

    Returns it together with its full argument tuple (the inputs followed by ``grad_outputs``,
    drawn at random in float64 when not given), ready for :func:`check_gradients`.
    """
    inputs = _as_tuple(inputs)
    positions = _check_inputs(inputs, "gradgradcheck")
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor(rng.standard_normal(out.shape), requires_grad=True) for out in outputs
        )
    grad_outputs = _as_tuple(grad_outputs)
    count = len(inputs)

    @enable_grad()  # it differentiates fn, so it needs the graph even inside no_grad
    def vector_jacobian_product(*args):
        outs = _outputs(fn, args[:count])
        pairs = [(o, v) for o, v in zip(outs, args[count:], strict=True) if o.requires_grad]
        differentiable = [args[p] for p in positions]
        if not pairs:
            return tuple(Tensor.zeros_like(x) for x in differentiable)
        grads = grad([o for o, _ in pairs], differentiable, [v for _, v in pairs],
                     create_graph=True, allow_unused=True)
        return tuple(
            Tensor.zeros_like(x) if g is None else g
            for x, g in zip(differentiable, grads, strict=True)
        )

    return vector_jacobian_product, inputs + grad_outputs


def gradgradcheck(fn: Callable, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of the gradient of ``fn`` (with create_graph=True).

    ``grad_outputs`` are the vectors v in v^T J; they are random float64 tensors unless given,
    and the check covers the derivative with respect to them too.
    """
    vjp, arguments = first_derivative(fn, inputs, grad_outputs)
    result = check_gradients(vjp, arguments, eps, atol, rtol, what="second-derivative")
    if not result.passed and raise_exception:
        raise GradcheckError(result.report())
    return result.passed

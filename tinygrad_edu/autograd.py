"""The autograd machinery: ``Function``, its ``Context``, the grad-mode switch, the backward engine.

How it fits together
--------------------
Every differentiable operation is a :class:`Function` subclass with two static methods:

``forward(ctx, *arrays)``
    computes the result from plain numpy arrays (Tensor arguments arrive unwrapped).
``backward(ctx, grad)``
    receives the gradient of the final scalar with respect to the output (a Tensor) and
    returns the gradient with respect to each input, written with Tensor operations.

``MyOp.apply(*args)`` runs ``forward`` and, when any input needs a gradient, records a
:class:`Context` on the output. The context is the graph node: it remembers the op, its input
Tensors and what ``forward`` saved. ``Tensor.backward`` walks these nodes from the output back to
the leaves in reverse topological order, so each node's gradient is complete (every path into it
summed) before it is pushed further back.

Because backward rules are Tensor code, running them with grad mode *on*
(``create_graph=True``) records the backward pass as a graph of its own, which is what makes
gradients of gradients work.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when operations record a graph for backward."""
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode on entry and restores it on exit."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self.previous.append(_grad_enabled)
        _grad_enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self.previous.pop()

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return func(*args, **kwargs)

        return wrapper


def no_grad() -> _GradMode:
    """Record no graph inside the block (or the decorated function): for evaluation and updates."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record the graph inside the block even where an outer ``no_grad`` switched it off."""
    return _GradMode(True)


class Context:
    """What one application of a Function remembers: the graph node between inputs and output.

    ``ctx.needs_input_grad`` has one bool per positional input of ``forward``.
    ``ctx.save_for_backward(*values)`` keeps what backward needs; ``ctx.saved_tensors`` gives
    it back as Tensors. Saving an input array gives back the input *Tensor* and saving the output
    array gives back the output Tensor, so a backward rule written with them stays connected
    to the graph and can itself be differentiated.
    """

    def __init__(self, function: type[Function], inputs: Sequence[Any]):
        from .tensor import Tensor

        self.function = function
        self.inputs = tuple(inputs)
        self.needs_input_grad = tuple(
            isinstance(x, Tensor) and x.requires_grad for x in self.inputs
        )
        self._saved: tuple[Any, ...] | None = ()
        self._output: weakref.ref[Tensor] | None = None

    @property
    def name(self) -> str:
        """The op's name, as shown in graph drawings and error messages."""
        return self.function.__name__

    def save_for_backward(self, *values: Any) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        from .tensor import Tensor

        if self._saved is None:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time; its saved "
                "values were freed after the first backward. Pass retain_graph=True (or "
                "create_graph=True) to the first backward if you need to go through it again."
            )
        output = self._output() if self._output is not None else None
        saved = []
        for value in self._saved:
            saved.append(self._as_graph_tensor(value, output, Tensor))
        return tuple(saved)

    def _as_graph_tensor(self, value: Any, output: Tensor | None, tensor_type: type) -> Any:
        """Map a saved array back to the Tensor it came from (input or output), else wrap it."""
        if not isinstance(value, (np.ndarray, np.generic)):
            return value
        for x in self.inputs:
            if isinstance(x, tensor_type) and x.data is value:
                return x
        if output is not None and output.data is value:
            return output
        return tensor_type(value)

    def free(self) -> None:
        """Drop saved values after a backward that does not retain the graph."""
        self._saved = None


class Function:
    """Base class of every differentiable operation, built-in or yours.

    Subclass it and write ``forward(ctx, *args)`` (numpy in, numpy out) and
    ``backward(ctx, grad)`` (Tensors in, one gradient per positional input out: a Tensor, or
    None for an input that needs none). Keyword arguments to ``apply`` are options passed to
    ``forward`` unchanged; they get no gradient.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **options: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Tensor | None | tuple[Tensor | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **options: Any) -> Tensor:
        from .tensor import Tensor

        ctx = Context(cls, args)
        arrays = [x.data if isinstance(x, Tensor) else x for x in args]
        result = cls.forward(ctx, *arrays, **options)
        if not isinstance(result, np.ndarray):
            # numpy gives 0-d results as scalars (np.exp of a 0-d array is an np.float64). If
            # forward saved that scalar, point the saved value at the array the output holds,
            # so saved_tensors gives back the output Tensor and higher derivatives stay right.
            returned, result = result, np.asarray(result)
            ctx._saved = tuple(result if value is returned else value for value in ctx._saved)
        requires_grad = _grad_enabled and any(ctx.needs_input_grad)
        output = Tensor._from_op(result, requires_grad=requires_grad)
        if requires_grad:
            output.grad_fn = ctx
            ctx._output = weakref.ref(output)
        return output


# --------------------------------------------------------------------------------------------
# The backward engine
# --------------------------------------------------------------------------------------------


def _topological_order(roots: Iterable[Tensor]) -> list[Tensor]:
    """Tensors reachable from ``roots`` through grad_fn, each after every tensor it depends on.

    Iterative depth-first search, so deep graphs (long training unrolls) do not hit Python's
    recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in reversed(list(roots))]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.grad_fn is not None:
            for parent in node.grad_fn.inputs:
                if _is_tensor(parent) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _leading_to(order: list[Tensor], targets: set[int]) -> set[int]:
    """The ids of the tensors in ``order`` with a path back to a target (targets included)."""
    leads: set[int] = set()
    for node in order:  # each tensor comes after the tensors it was computed from
        inputs = node.grad_fn.inputs if node.grad_fn is not None else ()
        if id(node) in targets or any(id(x) in leads for x in inputs):
            leads.add(id(node))
    return leads


def _is_tensor(value: Any) -> bool:
    from .tensor import Tensor

    return isinstance(value, Tensor)


def _as_tuple(grads: Any, count: int, name: str) -> tuple:
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != count:
        raise RuntimeError(
            f"{name}.backward returned {len(grads)} gradient(s) but forward took {count} "
            "positional input(s); return one per input (None for inputs without a gradient)"
        )
    return grads


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor],
    create_graph: bool,
    retain_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> dict[int, Tensor]:
    """Push ``grad_outputs`` back through the graph behind ``outputs``.

    With ``capture=None`` gradients of leaves are accumulated into their ``.grad`` (and of
    tensors that called ``retain_grad``). Otherwise nothing's ``.grad`` changes and the summed
    gradients of the ``capture`` tensors are returned, keyed by ``id``.
    """
    from .tensor import Tensor

    capture_ids = None if capture is None else {id(t) for t in capture}
    pending: dict[int, Tensor] = {}
    for output, grad in zip(outputs, grad_outputs, strict=True):
        pending[id(output)] = pending[id(output)] + grad if id(output) in pending else grad
    captured: dict[int, Tensor] = {}
    order = _topological_order(outputs)
    # grad() runs only the nodes on a path to a captured tensor: the rest of the graph is
    # neither computed nor freed, so another backward can still go through it
    leads = None if capture_ids is None else _leading_to(order, capture_ids)

    with _GradMode(create_graph):
        for node in reversed(order):
            grad = pending.pop(id(node), None)
            if grad is None:
                continue
            if capture_ids is not None:
                if id(node) in capture_ids:
                    captured[id(node)] = grad
            elif node.grad_fn is None or node._retains_grad:
                node._accumulate_grad(grad)
            ctx = node.grad_fn
            if ctx is None or (leads is not None and not any(id(x) in leads for x in ctx.inputs)):
                continue
            input_grads = _as_tuple(
                ctx.function.backward(ctx, grad), len(ctx.inputs), ctx.name
            )
            if not retain_graph:
                ctx.free()
            for parent, parent_grad in zip(ctx.inputs, input_grads, strict=True):
                if parent_grad is None or not isinstance(parent, Tensor):
                    continue
                if not parent.requires_grad:
                    continue
                if not isinstance(parent_grad, Tensor):
                    parent_grad = Tensor(parent_grad, dtype=parent.dtype)
                if parent_grad.shape != parent.shape:
                    raise RuntimeError(
                        f"{ctx.name}.backward returned a gradient of shape {parent_grad.shape} "
                        f"for an input of shape {parent.shape}; they must match"
                    )
                if parent_grad.dtype != parent.dtype:
                    raise RuntimeError(
                        f"{ctx.name}.backward returned a {parent_grad.dtype} gradient for a "
                        f"{parent.dtype} input of shape {parent.shape}; they must match"
                    )
                key = id(parent)
                pending[key] = pending[key] + parent_grad if key in pending else parent_grad
    return captured


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching any ``.grad``.

    Like ``torch.autograd.grad``: ``grad_outputs`` is the vector in the vector-Jacobian product
    (needed for non-scalar outputs). With ``create_graph=True`` the returned gradients carry a
    graph, so they can be differentiated again (Hessian-vector products, gradient penalties).
    """
    from .tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("grad: every input must be a Tensor with requires_grad=True")
    seeds = [
        _initial_grad(out, g, "grad") for out, g in zip(outputs, grad_outputs, strict=True)
    ]
    usable = [(o, s) for o, s in zip(outputs, seeds, strict=True) if o.requires_grad]
    if not usable and not allow_unused:
        raise RuntimeError("grad: none of the outputs requires grad, so no graph leads to inputs")
    retain = create_graph if retain_graph is None else retain_graph
    captured = run_backward(
        [o for o, _ in usable], [s for _, s in usable], create_graph, retain, capture=inputs
    )
    result = []
    for index, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {index} (shape {x.shape}) is not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


def _initial_grad(output: Tensor, gradient: Any, op: str) -> Tensor:
    """The gradient backward starts from: ones for a scalar, else the caller's ``gradient``."""
    from .tensor import Tensor

    if gradient is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"{op}: output has shape {output.shape}, so its gradient is not implied; "
                "call backward on a scalar (e.g. loss.sum()) or pass gradient= of the same shape"
            )
        return Tensor(np.ones_like(output.data))
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=output.dtype)
    if gradient.shape != output.shape:
        raise ValueError(
            f"{op}: gradient has shape {gradient.shape} but the output has shape {output.shape}"
        )
    if gradient.dtype != output.dtype:
        raise TypeError(
            f"{op}: gradient has dtype {gradient.dtype} but the output (shape {output.shape}) "
            f"has dtype {output.dtype}; convert it with .astype(...)"
        )
    return gradient

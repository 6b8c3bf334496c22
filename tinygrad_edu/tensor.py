"""``Tensor``: a numpy array that remembers how it was made, so gradients can flow back.

Each operator or method here is a one-liner that calls a ``Function`` from ``ops/``; the maths
and the backward rules live there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd
from .ops.broadcast import normalize_axes
from .random import generator

DEFAULT_DTYPE = np.dtype(np.float32)
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

Number = int | float | bool


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """The ndarray a Tensor holds: numpy data keeps its dtype, Python data becomes float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Tensor: {dtype!r} is not a dtype") from None
        array = np.asarray(data, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
    else:
        array = np.asarray(data)
        if array.dtype.kind in "iuf":
            array = array.astype(DEFAULT_DTYPE)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: cannot hold data of dtype {array.dtype}; give numbers, nested lists of "
            "numbers, or a numeric numpy array"
        )
    return array


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is a number, a nested list or a
    numpy array. Python data becomes float32 (the default dtype); a numpy array keeps its
    dtype and is shared, not copied. Only floating-point tensors can require gradients.
    """

    __array_ufunc__ = None  # so `ndarray + Tensor` calls Tensor.__radd__ instead of numpy
    __hash__ = object.__hash__  # == is elementwise, so hash by identity (as PyTorch does)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn: autograd.Context | None = None
        self._retains_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an op's result without conversion (the fast path used by ``Function.apply``)."""
        tensor = cls.__new__(cls)
        tensor.data = data
        tensor.grad = None
        tensor.grad_fn = None
        tensor._retains_grad = False
        tensor._requires_grad = requires_grad
        return tensor

    # ---------------------------------------------------------------- properties

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"only float32/float64 tensors can require gradients, this one is {self.dtype}"
            )
        self._requires_grad = bool(value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records a graph."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """All axes reversed (a plain transpose for a matrix)."""
        return self.permute(*reversed(range(self.ndim)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = "" if self.dtype == DEFAULT_DTYPE else f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extras += f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"Tensor({body}{extras})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data)

    # ---------------------------------------------------------------- conversions

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> Number:
        """The single value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert, this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph: no grad_fn, no gradient."""
        return Tensor._from_op(self.data)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; differentiable between float32 and float64."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if self.requires_grad and dtype in _FLOAT_DTYPES:
            return E.Cast.apply(self, dtype=dtype)
        return Tensor._from_op(self.data.astype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ---------------------------------------------------------------- autograd

    def backward(
        self,
        gradient: Tensor | np.ndarray | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is needed unless self is a scalar. After it, the graph's saved values are
        freed unless ``retain_graph`` (default: ``create_graph``) is True. With
        ``create_graph=True`` the backward pass is itself recorded, for higher derivatives.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward: this tensor (shape {self.shape}) does not require grad; no leaf "
                "that requires grad was used to compute it (or it was computed under no_grad)"
            )
        seed = autograd._initial_grad(self, gradient, "backward")
        retain = create_graph if retain_graph is None else retain_graph
        autograd.run_backward([self], [seed], create_graph, retain)

    def retain_grad(self) -> None:
        """Also keep ``.grad`` for this non-leaf tensor during backward."""
        self._retains_grad = True

    def _accumulate_grad(self, grad: Tensor) -> None:
        if self.grad is None:
            # Own a copy: the same gradient Tensor may reach several leaves (e.g. through an
            # add), and optimizers and clip_grad_* change .grad in place.
            self.grad = grad if grad.requires_grad else Tensor._from_op(grad.data.copy())
        else:
            self.grad = self.grad + grad

    def zero_grad(self) -> None:
        self.grad = None

    # ---------------------------------------------------------------- factories

    @staticmethod
    def zeros(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
        return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def ones(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
        return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def full(shape: Sequence[int] | int, value: Number, dtype: Any = DEFAULT_DTYPE,
             requires_grad: bool = False) -> Tensor:
        return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def randn(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
        """Standard normal samples from the library generator (see ``manual_seed``)."""
        data = generator().standard_normal(_shape(shape)).astype(dtype)
        return Tensor(data, requires_grad=requires_grad)

    @staticmethod
    def rand(*shape: int, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
        """Uniform samples in [0, 1) from the library generator."""
        return Tensor.uniform(*shape, dtype=dtype, requires_grad=requires_grad)

    @staticmethod
    def uniform(*shape: int, low: float = 0.0, high: float = 1.0, dtype: Any = DEFAULT_DTYPE,
                requires_grad: bool = False) -> Tensor:
        """Uniform samples in [low, high) from the library generator."""
        data = generator().uniform(low, high, _shape(shape)).astype(dtype)
        return Tensor(data, requires_grad=requires_grad)

    @staticmethod
    def arange(start: Number, stop: Number | None = None, step: Number = 1,
               dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
        """Evenly spaced values in [start, stop) (float32 unless ``dtype`` says otherwise)."""
        if stop is None:
            start, stop = 0, start
        return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)

    @staticmethod
    def zeros_like(other: Tensor, requires_grad: bool = False) -> Tensor:
        return Tensor(np.zeros_like(other.data), requires_grad=requires_grad)

    @staticmethod
    def ones_like(other: Tensor, requires_grad: bool = False) -> Tensor:
        return Tensor(np.ones_like(other.data), requires_grad=requires_grad)

    # ---------------------------------------------------------------- arithmetic

    def _operand(self, other: Any, op: str) -> Tensor:
        """``other`` as a Tensor that can meet this one in a binary op.

        Python numbers, lists and arrays take this tensor's float dtype, as do integer and
        boolean tensors (they enter as constants). Two different float dtypes never mix
        silently: float32 against float64 is a TypeError.
        """
        if not isinstance(other, Tensor):
            if not isinstance(other, (int, float, bool, np.number, np.bool_, np.ndarray, list)):
                raise TypeError(f"{op}: cannot combine a Tensor with {type(other).__name__}")
            dtype = self.dtype if self.dtype.kind == "f" else None
            return Tensor._from_op(np.asarray(other, dtype=dtype))
        if other.dtype == self.dtype:
            return other
        if self.dtype.kind == "f" and other.dtype.kind == "f":
            raise TypeError(
                f"{op}: dtypes differ: {self.dtype} {self.shape} and {other.dtype} "
                f"{other.shape}; convert one with .astype(...)"
            )
        if self.dtype.kind == "f":
            return Tensor._from_op(other.data.astype(self.dtype))
        return other

    def _binary(self, function: type[autograd.Function], other: Any, op: str,
                reflected: bool = False) -> Tensor:
        other = self._operand(other, op)
        me = other._operand(self, op) if other.dtype.kind == "f" else self
        a, b = (other, me) if reflected else (me, other)
        if a.shape != b.shape:
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(
                    f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together"
                ) from None
        return function.apply(a, b)

    def add(self, other: Any) -> Tensor:
        return self._binary(E.Add, other, "add")

    def sub(self, other: Any) -> Tensor:
        return self._binary(E.Sub, other, "sub")

    def mul(self, other: Any) -> Tensor:
        return self._binary(E.Mul, other, "mul")

    def div(self, other: Any) -> Tensor:
        return self._binary(E.Div, other, "div")

    def pow(self, exponent: Any) -> Tensor:
        return self._binary(E.Pow, exponent, "pow")

    def neg(self) -> Tensor:
        return E.Neg.apply(self)

    __add__ = add
    __sub__ = sub
    __mul__ = mul
    __truediv__ = div
    __pow__ = pow
    __neg__ = neg

    def __radd__(self, other: Any) -> Tensor:
        return self._binary(E.Add, other, "add", reflected=True)

    def __rsub__(self, other: Any) -> Tensor:
        return self._binary(E.Sub, other, "sub", reflected=True)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary(E.Mul, other, "mul", reflected=True)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary(E.Div, other, "div", reflected=True)

    def __rpow__(self, other: Any) -> Tensor:
        return self._binary(E.Pow, other, "pow", reflected=True)

    def matmul(self, other: Any) -> Tensor:
        """Matrix product with numpy's rules: 1-D vectors, batches, broadcast batch axes."""
        return matmul(self, other)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(self._operand(other, "matmul"), self)

    # ---------------------------------------------------------------- comparisons (no gradient)

    def _compare(self, other: Any, compare) -> Tensor:
        other_data = other.data if isinstance(other, Tensor) else other
        return Tensor._from_op(np.asarray(compare(self.data, other_data)))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def any(self) -> bool:
        return bool(np.any(self.data))

    def all(self) -> bool:
        return bool(np.all(self.data))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (int64; no gradient)."""
        return Tensor._from_op(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdims)))

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the minima (int64; no gradient)."""
        return Tensor._from_op(np.asarray(np.argmin(self.data, axis=axis, keepdims=keepdims)))

    # ---------------------------------------------------------------- elementwise functions

    def exp(self) -> Tensor:
        return E.Exp.apply(self)

    def log(self) -> Tensor:
        return E.Log.apply(self)

    def sqrt(self) -> Tensor:
        return E.Sqrt.apply(self)

    def tanh(self) -> Tensor:
        return E.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return E.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return E.Relu.apply(self)

    def abs(self) -> Tensor:
        return E.Abs.apply(self)

    def clip(self, min: Number | None = None, max: Number | None = None) -> Tensor:  # noqa: A002
        """Limit values to [min, max] (either may be None), like ``torch.clamp``."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return E.Clip.apply(self, low=min, high=max)

    clamp = clip

    def square(self) -> Tensor:
        return self * self

    # ---------------------------------------------------------------- reductions

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return R.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return R.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Largest value over ``axis``; tied maxima share the gradient equally (as torch.amax)."""
        return R.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Smallest value over ``axis``; tied minima share the gradient equally (as torch.amin)."""
        return R.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False,
            correction: int = 1) -> Tensor:
        """Variance, sum((x - mean)^2) / (n - correction); PyTorch's default correction=1."""
        count = int(np.prod([self.shape[a] for a in normalize_axes(axis, self.ndim, "var")]))
        if count - correction <= 0:
            raise ValueError(
                f"var: {count} element(s) per result leave no degrees of freedom with "
                f"correction={correction} (shape {self.shape}, axis={axis!r})"
            )
        centred = self - self.mean(axis=axis, keepdims=True)
        return (centred * centred).sum(axis=axis, keepdims=keepdims) * (1.0 / (count - correction))

    def std(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False,
            correction: int = 1) -> Tensor:
        """Standard deviation, sqrt(var); PyTorch's default correction=1."""
        return self.var(axis=axis, keepdims=keepdims, correction=correction).sqrt()

    def logsumexp(self, axis: int | tuple[int, ...] | None = None,
                  keepdims: bool = False) -> Tensor:
        return R.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return R.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return R.LogSoftmax.apply(self, axis=axis)

    # ---------------------------------------------------------------- movement

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        shape = _shape(shape)
        if shape == self.shape:
            return self
        return M.Reshape.apply(self, shape=shape)

    view = reshape

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        dims = _shape(dims)
        if len(dims) != self.ndim:
            raise ValueError(
                f"permute: got {len(dims)} dims {dims} for a tensor with {self.ndim} axes "
                f"{self.shape}"
            )
        return M.Permute.apply(self, dims=dims)

    def transpose(self, axis0: int = -2, axis1: int = -1) -> Tensor:
        """Swap two axes (the last two by default)."""
        dims = list(range(self.ndim))
        try:
            dims[axis0], dims[axis1] = dims[axis1], dims[axis0]
        except IndexError:
            raise np.exceptions.AxisError(
                f"transpose: axes ({axis0}, {axis1}) out of range for shape {self.shape}"
            ) from None
        return self.permute(*dims)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes start_dim..end_dim into one (PyTorch's names and defaults)."""
        if self.ndim == 0:
            return self.reshape(1)
        (start,), (end,) = (normalize_axes(d, self.ndim, "flatten") for d in (start_dim, end_dim))
        if start > end:
            raise ValueError(
                f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                f"for shape {self.shape}"
            )
        merged = int(np.prod(self.shape[start : end + 1]))
        return self.reshape(*self.shape[:start], merged, *self.shape[end + 1 :])

    def squeeze(self, axis: int | None = None) -> Tensor:
        if axis is None:
            return self.reshape(*[n for n in self.shape if n != 1])
        axes = normalize_axes(axis, self.ndim, "squeeze")  # () for a 0-d tensor
        if not axes or self.shape[axes[0]] != 1:
            return self
        return self.reshape(*self.shape[: axes[0]], *self.shape[axes[0] + 1 :])

    def unsqueeze(self, axis: int) -> Tensor:
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise np.exceptions.AxisError(
                f"unsqueeze: axis {axis} out of range for shape {self.shape}"
            )
        axis %= self.ndim + 1
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to ``shape``; -1 keeps an axis's size (as PyTorch)."""
        shape = _shape(shape)
        offset = len(shape) - self.ndim
        shape = tuple(
            self.shape[i - offset] if n == -1 and i >= offset else n for i, n in enumerate(shape)
        )
        if shape == self.shape:
            return self
        return M.Expand.apply(self, shape=shape)

    broadcast_to = expand

    def __getitem__(self, index: Any) -> Tensor:
        return M.GetItem.apply(self, index=_index(index))

    def pad(self, pad_width: int | Sequence, value: Number = 0.0) -> Tensor:
        """Constant padding with numpy's ``pad_width``: an int, or (before, after) per axis."""
        try:
            widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (self.ndim, 2))
        except ValueError:
            raise ValueError(
                f"pad: pad_width {pad_width!r} does not fit a tensor of shape {self.shape}; give "
                "an int, one (before, after) pair, or one pair per axis"
            ) from None
        if (widths < 0).any():
            raise ValueError(f"pad: negative pad_width {pad_width!r} for shape {self.shape}")
        return M.Pad.apply(self, pad_width=tuple(map(tuple, widths.tolist())), value=value)

    def flip(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return M.Flip.apply(self, axis=axis)


def _shape(shape: tuple) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)) as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _index(index: Any) -> Any:
    """Tensors and lists inside an index become numpy arrays (the form numpy's indexing takes)."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ------------------------------------------------------------------------ module-level ops


def matmul(a: Tensor | np.ndarray, b: Any) -> Tensor:
    """``a @ b`` with numpy's rules; a 1-D operand is a vector and its axis is dropped after."""
    a, b = _pair(a, b, "matmul")
    b = a._operand(b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least 1 dimension, got {a.shape} and {b.shape}"
        )
    a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
    b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"{a2.shape[-1]} (last axis of the first) != {b2.shape[-2]} (the second's "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis)"
        )
    try:
        np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    out = L.MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.reshape(*out.shape[:-2], out.shape[-1])
    if b.ndim == 1:
        out = out.reshape(*out.shape[:-1])
    return out


def maximum(a: Tensor | Number, b: Tensor | Number) -> Tensor:
    """Elementwise maximum; at ties each input gets half the gradient (as PyTorch)."""
    a, b = _pair(a, b, "maximum")
    return a._binary(E.Maximum, b, "maximum")


def minimum(a: Tensor | Number, b: Tensor | Number) -> Tensor:
    """Elementwise minimum; at ties each input gets half the gradient (as PyTorch)."""
    a, b = _pair(a, b, "minimum")
    return a._binary(E.Minimum, b, "minimum")


def where(condition: Tensor | np.ndarray, a: Tensor | Number, b: Tensor | Number) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (all three broadcast together)."""
    a, b = _pair(a, b, "where")
    b = a._operand(b, "where")
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    try:
        shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be broadcast together"
        ) from None
    return E.Where.apply(np.broadcast_to(cond, shape), a, b)


def _pair(a: Any, b: Any, op: str) -> tuple[Tensor, Any]:
    if isinstance(a, Tensor):
        return a, b
    if isinstance(b, Tensor):
        return b._operand(a, op), b
    raise TypeError(f"{op}: at least one argument must be a Tensor")


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    axis = M.check_same(tensors, "cat", axis)
    return M.Cat.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis."""
    tensors = list(tensors)
    axis = M.check_same(tensors, "stack", axis)
    return cat([t.unsqueeze(axis) for t in tensors], axis=axis)


# The ops modules import Tensor, so they are imported after it is defined.
from .ops import elementwise as E  # noqa: E402
from .ops import linalg as L  # noqa: E402
from .ops import movement as M  # noqa: E402
from .ops import reduce as R  # noqa: E402

"""Hypothesis strategies that draw shapes and Tensors for gradient checks.

Every argument is optional. Tensors come in float64 (what gradcheck needs) with
``requires_grad=True`` by default, and their values can be kept away from points where an op
has a kink or an edge of its domain (``avoid=(0.0,)`` for relu or abs, ``min_value=0.1`` for
log), because finite differences across a kink measure neither side's derivative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..tensor import Tensor
from .geometry import conv2d_geometry, pool2d_geometry

__all__ = [
    "broadcastable_shapes",
    "conv2d_geometry",
    "floats",
    "pool2d_geometry",
    "reduction_axes",
    "shapes",
    "tensors",
]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes; scalars (``()``) come with ``min_dims=0``, empty axes with ``min_side=0``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that numpy broadcasts together (size-1 and missing axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda drawn: drawn.input_shapes)


def floats(min_value: float = -3.0, max_value: float = 3.0, avoid: Sequence[float] = (),
           margin: float = 0.05) -> st.SearchStrategy[float]:
    """Finite floats in [min_value, max_value], at least ``margin`` away from each of ``avoid``."""
    values = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    if avoid:
        values = values.filter(lambda v: all(abs(v - point) >= margin for point in avoid))
    return values


def tensors(shape: tuple[int, ...] | st.SearchStrategy | None = None, dtype=np.float64,
            elements: st.SearchStrategy | None = None, min_value: float = -3.0,
            max_value: float = 3.0, avoid: Sequence[float] = (), margin: float = 0.05,
            unique: bool = False, requires_grad: bool = True) -> st.SearchStrategy[Tensor]:
    """Tensors of a fixed or drawn ``shape`` (default: ``shapes()``).

    ``elements`` overrides the value strategy; otherwise values come from :func:`floats` with
    ``min_value``, ``max_value``, ``avoid`` and ``margin`` (integers in that range for an integer
    ``dtype``, True/False for bool). ``unique=True`` draws distinct values
    (no ties, for max/min and max pooling). ``requires_grad`` is only set on float tensors.
    """
    if shape is None:
        shape = shapes()
    dtype = np.dtype(dtype)
    if elements is None and dtype.kind == "b":
        elements = st.booleans()
    elif elements is None and dtype.kind in "iu":
        # floats would not fit an integer dtype; keep the same range and avoided points
        elements = st.integers(int(np.ceil(min_value)), int(np.floor(max_value))).filter(
            lambda v: all(abs(v - point) >= margin for point in avoid)
        )
    elif elements is None:
        elements = floats(min_value, max_value, avoid, margin)
    return hnp.arrays(dtype, shape, elements=elements, unique=unique).map(
        lambda array: Tensor(array, requires_grad=requires_grad and dtype.kind == "f")
    )


@st.composite
def reduction_axes(draw, ndim: int) -> None | int | tuple[int, ...]:
    """An ``axis`` for a tensor with ``ndim`` axes: None, an int (maybe negative) or a tuple."""
    if ndim == 0:
        return draw(st.sampled_from([None, (), 0, -1]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(chosen)

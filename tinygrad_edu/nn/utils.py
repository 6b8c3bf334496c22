"""Helpers around parameters: gradient clipping, weight penalties, flattening to one vector."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor, cat

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "parameters_to_vector",
    "vector_to_parameters",
]

Parameters = Tensor | Iterable[Tensor]


def _as_list(parameters: Parameters) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(values: np.ndarray, norm_type: float) -> float:
    """||v||_p = (sum |v_i|^p)^(1/p); the inf-norm is max |v_i|."""
    magnitudes = np.abs(values.astype(np.float64, copy=False))
    if norm_type == math.inf:
        return float(magnitudes.max()) if magnitudes.size else 0.0
    return float(np.sum(magnitudes**norm_type) ** (1.0 / norm_type))


@no_grad()
def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint norm is at most ``max_norm``; return the
    norm they had (a 0-d Tensor), as PyTorch.

    total = || (||g_1||, ||g_2||, ...) ||_p, the p-norm of all gradient elements as if they
    were one vector (``norm_type=math.inf``: the largest |element|). Each gradient is multiplied
    by min(1, max_norm / (total + 1e-6)). Parameters without a gradient are skipped. A nan or
    inf total raises RuntimeError if ``error_if_nonfinite``.
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type}")
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    per_tensor = np.array([_vector_norm(g.data, norm_type) for g in grads])
    total = _vector_norm(per_tensor, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
            "so they cannot be clipped; pass error_if_nonfinite=False to clip anyway"
        )
    scale = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g.data = (g.data * scale).astype(g.dtype)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


@no_grad()
def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value]."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.data = np.clip(p.grad.data, -clip_value, clip_value)


def l1_penalty(parameters: Parameters) -> Tensor:
    """sum_w |w| over every element of every parameter: a differentiable Tensor to add to the
    loss (times a coefficient) for L1 regularisation, which pushes weights to exactly zero."""
    terms = [p.abs().sum() for p in _as_list(parameters)]
    return _total(terms)


def l2_penalty(parameters: Parameters) -> Tensor:
    """sum_w w**2 over every element of every parameter (the sum of squares, *not* half of it):
    a differentiable Tensor to add to the loss for L2 regularisation. Its gradient is 2 w, so
    ``loss + (lam / 2) * l2_penalty(...)`` equals SGD's ``weight_decay=lam``."""
    terms = [(p * p).sum() for p in _as_list(parameters)]
    return _total(terms)


def _total(terms: list[Tensor]) -> Tensor:
    if not terms:
        return Tensor(np.zeros((), dtype=np.float32))
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def parameters_to_vector(parameters: Parameters) -> Tensor:
    """All parameters flattened and joined into one 1-D Tensor (differentiable)."""
    return cat([p.reshape(-1) for p in _as_list(parameters)])


@no_grad()
def vector_to_parameters(vector: Tensor, parameters: Parameters) -> None:
    """Copy consecutive slices of a 1-D ``vector`` into the parameters (the inverse of
    :func:`parameters_to_vector`)."""
    parameters = _as_list(parameters)
    needed = sum(p.size for p in parameters)
    if vector.ndim != 1 or vector.size != needed:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {needed} elements, got shape "
            f"{vector.shape}"
        )
    start = 0
    for p in parameters:
        p.data = vector.data[start:start + p.size].reshape(p.shape).astype(p.dtype)
        start += p.size

"""conv2d, max_pool2d and avg_pool2d against PyTorch over drawn geometry: values, gradients and
a second derivative. Runs only when torch is installed (it is never a dependency)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing.strategies import conv2d_geometry, pool2d_geometry

torch = pytest.importorskip("torch", reason="PyTorch is not installed; parity is optional")


def both(array: np.ndarray):
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def close(ours: Tensor, theirs) -> None:
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-11)


def compare(our_fn, their_fn, arrays, seed: int) -> None:
    """Forward, first derivatives (for a random output vector) and the derivative of
    <grad, u> (a second derivative) agree with torch's."""
    rng = np.random.default_rng(seed)
    pairs = [both(a) for a in arrays]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    our_out, their_out = our_fn(*ours), their_fn(*theirs)
    close(our_out, their_out)
    v = rng.standard_normal(our_out.shape)
    our_grads = grad(our_out, ours, Tensor(v), create_graph=True)
    their_grads = torch.autograd.grad(their_out, theirs, torch.from_numpy(v), create_graph=True)
    for g, h in zip(our_grads, their_grads):
        close(g, h)
    us = [rng.standard_normal(a.shape) for a in arrays]
    our_second = grad(sum(((g * Tensor(u)).sum() for g, u in zip(our_grads, us)), Tensor(0.0,
                      dtype=np.float64)), ours, allow_unused=True)
    their_total = sum((h * torch.from_numpy(u)).sum() for h, u in zip(their_grads, us))
    if their_total.requires_grad:
        their_second = torch.autograd.grad(their_total, theirs, allow_unused=True)
        for g, h in zip(our_second, their_second):
            if h is None:
                assert g is None or not np.any(g.numpy())
            else:
                close(g if g is not None else Tensor(np.zeros(h.shape)), h)


@settings(max_examples=20)
@given(conv2d_geometry(max_batch=2, max_in_channels=3, max_out_channels=3, max_size=6),
       st.integers(0, 2**32 - 1))
def test_conv2d_matches_torch(geometry, seed):
    input_shape, weight_shape, stride, padding, dilation = geometry
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(input_shape), rng.standard_normal(weight_shape),
              rng.standard_normal(weight_shape[:1])]
    options = dict(stride=stride, padding=padding, dilation=dilation)
    compare(lambda x, w, b: F.conv2d(x, w, b, **options),
            lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **options), arrays, seed)


@settings(max_examples=20)
@given(pool2d_geometry(max_batch=2, max_channels=3, max_size=7), st.integers(0, 2**32 - 1))
def test_pooling_matches_torch(geometry, seed):
    input_shape, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(input_shape))).reshape(input_shape) * 0.01  # no ties
    for ours, theirs in ((F.max_pool2d, torch.nn.functional.max_pool2d),
                         (F.avg_pool2d, torch.nn.functional.avg_pool2d)):
        compare(lambda t, f=ours: f(t, kernel, stride, padding),
                lambda t, f=theirs: f(t, kernel, stride, padding), [x.astype(np.float64)], seed)

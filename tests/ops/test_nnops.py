"""Convolution, pooling and batch norm as autograd ops: proven over drawn geometry.

The kernels themselves are tested equal to the plain-loop references in tests/kernels; here the
autograd wrappers are: forward (with bias) against the reference, first and second derivatives
by finite differences, and the errors that name the op and the shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad, gradcheck, gradgradcheck
from tinygrad_edu.kernels import reference
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing.strategies import conv2d_geometry, pool2d_geometry

# Small geometry: a second-derivative check costs about (inputs + outputs)^2 evaluations.
SMALL_CONV = dict(max_batch=2, max_in_channels=2, max_out_channels=2, max_size=4, max_kernel=3,
                  max_stride=2, max_padding=1, max_dilation=2)
SMALL_POOL = dict(max_batch=2, max_channels=2, max_size=5, max_kernel=3, max_stride=2)


def random_tensor(rng: np.random.Generator, shape) -> Tensor:
    return Tensor(rng.uniform(-1, 1, shape), requires_grad=True)


def distinct_tensor(rng: np.random.Generator, shape) -> Tensor:
    """Values 0.05 apart in random order: no ties for max pooling to break."""
    values = rng.permutation(int(np.prod(shape))) * 0.05 - 1.0
    return Tensor(values.reshape(shape), requires_grad=True)


@st.composite
def conv_case(draw):
    input_shape, weight_shape, stride, padding, dilation = draw(conv2d_geometry(**SMALL_CONV))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w = random_tensor(rng, input_shape), random_tensor(rng, weight_shape)
    b = random_tensor(rng, weight_shape[:1])
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation)


@st.composite
def pool_case(draw):
    input_shape, kernel, stride, padding = draw(pool2d_geometry(**SMALL_POOL))
    seed = draw(st.integers(0, 2**32 - 1))
    return input_shape, kernel, dict(stride=stride, padding=padding), seed


@settings(max_examples=15)
@given(conv_case())
def test_conv2d_forward_with_bias_matches_the_reference(case):
    x, w, b, options = case
    expected = reference.conv2d_forward(x.numpy(), w.numpy(), **options)
    expected = expected + b.numpy().reshape(1, -1, 1, 1)
    np.testing.assert_allclose(F.conv2d(x, w, b, **options).numpy(), expected, rtol=1e-10,
                               atol=1e-12)


@settings(max_examples=15)
@given(conv_case())
def test_conv2d_gradients(case):
    x, w, b, options = case
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **options), (x, w, b))


@settings(max_examples=6)
@given(conv_case())
def test_conv2d_second_derivatives(case):
    x, w, b, options = case
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **options), (x, w, b))


@settings(max_examples=15)
@given(pool_case())
def test_max_pool2d_gradients(case):
    input_shape, kernel, options, seed = case
    x = distinct_tensor(np.random.default_rng(seed), input_shape)
    assert gradcheck(lambda x: F.max_pool2d(x, kernel, **options), x)
    assert gradgradcheck(lambda x: F.max_pool2d(x, kernel, **options), x)


@settings(max_examples=15)
@given(pool_case())
def test_avg_pool2d_gradients(case):
    input_shape, kernel, options, seed = case
    x = random_tensor(np.random.default_rng(seed), input_shape)
    np.testing.assert_allclose(F.avg_pool2d(x, kernel, **options).numpy(),
                               reference.avg_pool2d_forward(x.numpy(), kernel, **options))
    assert gradcheck(lambda x: F.avg_pool2d(x, kernel, **options), x)
    assert gradgradcheck(lambda x: F.avg_pool2d(x, kernel, **options), x)


def test_max_pool2d_gives_a_tied_window_gradient_to_its_first_maximum():
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 2.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_a_cnn_has_a_hessian_vector_product():
    """grad of (grad . v) through conv -> pool -> square equals the finite difference of the
    gradient along v: the backward ops are differentiable through a whole small CNN."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.uniform(-1, 1, (1, 1, 6, 6)))
    w = Tensor(rng.uniform(-1, 1, (2, 1, 3, 3)), requires_grad=True)
    v = rng.uniform(-1, 1, w.shape)

    def loss(weight):
        return (F.avg_pool2d(F.conv2d(x, weight, padding=1), 2) ** 2).sum()

    (g,) = grad(loss(w), w, create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), w)
    eps = 1e-6
    w_plus = Tensor(w.numpy() + eps * v, requires_grad=True)
    w_minus = Tensor(w.numpy() - eps * v, requires_grad=True)
    (g_plus,) = grad(loss(w_plus), w_plus)
    (g_minus,) = grad(loss(w_minus), w_minus)
    np.testing.assert_allclose(hv.numpy(), (g_plus.numpy() - g_minus.numpy()) / (2 * eps),
                               rtol=1e-5, atol=1e-7)


@st.composite
def batch_norm_case(draw):
    shape = (draw(st.integers(2, 4)), draw(st.integers(1, 3))) + tuple(
        draw(st.lists(st.integers(1, 2), max_size=2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_tensor(rng, shape)
    affine = draw(st.booleans())
    weight = Tensor(rng.uniform(0.5, 2, shape[1]), requires_grad=True) if affine else None
    bias = random_tensor(rng, shape[1:2]) if affine else None
    return x, weight, bias


@settings(max_examples=15)
@given(batch_norm_case())
def test_batch_norm_train_mode_gradients(case):
    x, weight, bias = case
    inputs = tuple(t for t in (x, weight, bias) if t is not None)

    def normalise(x, *parameters):
        return F.batch_norm(x, None, None, *parameters, training=True)

    assert gradcheck(normalise, inputs)
    assert gradgradcheck(normalise, inputs)


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(Tensor.zeros(1, 3, 5, 5), Tensor.zeros(2, 2, 3, 3)),
     r"conv2d: input has 3 channels but weight expects 2.*\(1, 3, 5, 5\).*\(2, 2, 3, 3\)"),
    (lambda: F.conv2d(Tensor.zeros(1, 1, 2, 2), Tensor.zeros(1, 1, 5, 5)),
     r"conv2d.*\(1, 1, 2, 2\)"),
    (lambda: F.conv2d(Tensor.zeros(1, 5, 5), Tensor.zeros(1, 1, 3, 3)), r"conv2d.*\(1, 5, 5\)"),
    (lambda: F.conv2d(Tensor.zeros(1, 1, 5, 5), Tensor.zeros(1, 1, 3, 3), padding=-1),
     r"conv2d.*padding"),
    (lambda: F.conv2d(Tensor.zeros(1, 1, 5, 5), Tensor.zeros(2, 1, 3, 3), Tensor.zeros(3)),
     r"conv2d: bias has shape \(3,\), expected \(2,\)"),
    (lambda: F.max_pool2d(Tensor.zeros(1, 1, 2, 2), 3), r"max_pool2d.*\(1, 1, 2, 2\)"),
    (lambda: F.avg_pool2d(Tensor.zeros(4, 4), 2), r"avg_pool2d.*\(4, 4\)"),
])
def test_bad_geometry_is_a_value_error_naming_the_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_conv2d_refuses_mixed_dtypes():
    with pytest.raises(TypeError, match="conv2d: dtypes differ"):
        F.conv2d(Tensor.zeros(1, 1, 5, 5), Tensor(np.zeros((1, 1, 3, 3))))

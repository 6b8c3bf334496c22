"""Every layer: forward against plain numpy, gradients against finite differences (float64)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck, gradgradcheck, manual_seed
from tinygrad_edu.nn import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

FLOAT64 = np.float64


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in +-[0.2, 2], so finite differences never straddle relu's kink at 0."""
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.01 apart (no ties for max pooling), shuffled."""
    values = np.arange(int(np.prod(shape)), dtype=FLOAT64) * 0.05 - 1.0
    return rng.permutation(values).reshape(shape)


# ------------------------------------------------------------------------ numpy references


def conv2d_reference(x, w, b, stride, padding, dilation):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    out_h = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    out_w = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                      j * sw: j * sw + dw * (kw - 1) + 1: dw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out if b is None else out + b[None, :, None, None]


def pool_reference(x, kernel, stride, padding, reduce, fill):
    k, s, p = kernel, stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    out_h, out_w = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.zeros(x.shape[:2] + (out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = reduce(x[:, :, i * s: i * s + k, j * s: j * s + k], axis=(2, 3))
    return out


def softmax_reference(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def batch_norm_reference(x, weight, bias, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


# ------------------------------------------------------------------------ the layer table

# name -> (make the layer in float64, input shape, input values, numpy reference of forward)
LAYERS = {
    "Linear": (lambda: Linear(3, 2, dtype=FLOAT64), (4, 3), away_from_zero,
               lambda m, x: x @ m.weight.data.T + m.bias.data),
    "Linear-no-bias-3d": (lambda: Linear(3, 2, bias=False, dtype=FLOAT64), (2, 2, 3),
                          away_from_zero, lambda m, x: x @ m.weight.data.T),
    "Conv2d": (lambda: Conv2d(2, 3, 3, dtype=FLOAT64), (2, 2, 4, 4), away_from_zero,
               lambda m, x: conv2d_reference(x, m.weight.data, m.bias.data, (1, 1), (0, 0),
                                             (1, 1))),
    "Conv2d-geometry": (lambda: Conv2d(1, 2, (2, 3), stride=(2, 1), padding=(1, 2),
                                       dilation=(1, 2), bias=False, dtype=FLOAT64),
                        (1, 1, 5, 4), away_from_zero,
                        lambda m, x: conv2d_reference(x, m.weight.data, None, (2, 1), (1, 2),
                                                      (1, 2))),
    "MaxPool2d": (lambda: MaxPool2d(2), (2, 2, 4, 4), distinct,
                  lambda m, x: pool_reference(x, 2, 2, 0, np.max, -np.inf)),
    "MaxPool2d-overlap-pad": (lambda: MaxPool2d(3, stride=2, padding=1), (1, 2, 5, 5), distinct,
                              lambda m, x: pool_reference(x, 3, 2, 1, np.max, -np.inf)),
    "AvgPool2d": (lambda: AvgPool2d(2), (2, 2, 4, 4), away_from_zero,
                  lambda m, x: pool_reference(x, 2, 2, 0, np.mean, 0.0)),
    "AvgPool2d-overlap-pad": (lambda: AvgPool2d(3, stride=2, padding=1), (1, 2, 5, 5),
                              away_from_zero,
                              lambda m, x: pool_reference(x, 3, 2, 1, np.mean, 0.0)),
    "Flatten": (Flatten, (2, 3, 2, 2), away_from_zero, lambda m, x: x.reshape(2, 12)),
    "Flatten-middle": (lambda: Flatten(1, 2), (2, 3, 2, 2), away_from_zero,
                       lambda m, x: x.reshape(2, 6, 2)),
    "ReLU": (ReLU, (3, 4), away_from_zero, lambda m, x: np.maximum(x, 0)),
    "Sigmoid": (Sigmoid, (3, 4), away_from_zero, lambda m, x: 1 / (1 + np.exp(-x))),
    "Tanh": (Tanh, (3, 4), away_from_zero, lambda m, x: np.tanh(x)),
    "Softmax": (Softmax, (3, 4), away_from_zero, lambda m, x: softmax_reference(x)),
    "Softmax-axis0": (lambda: Softmax(axis=0), (3, 4), away_from_zero,
                      lambda m, x: softmax_reference(x, 0)),
    "LogSoftmax": (LogSoftmax, (3, 4), away_from_zero, lambda m, x: np.log(softmax_reference(x))),
    "Identity": (Identity, (3, 4), away_from_zero, lambda m, x: x),
    "Dropout-eval": (lambda: Dropout(0.5).eval(), (3, 4), away_from_zero, lambda m, x: x),
    "BatchNorm1d-2d": (lambda: BatchNorm1d(3, dtype=FLOAT64), (4, 3), away_from_zero,
                       lambda m, x: batch_norm_reference(x, m.weight.data, m.bias.data, m.eps)),
    "BatchNorm1d-3d": (lambda: BatchNorm1d(2, dtype=FLOAT64), (3, 2, 2), away_from_zero,
                       lambda m, x: batch_norm_reference(x, m.weight.data, m.bias.data, m.eps)),
    "BatchNorm2d": (lambda: BatchNorm2d(2, dtype=FLOAT64), (2, 2, 2, 2), away_from_zero,
                    lambda m, x: batch_norm_reference(x, m.weight.data, m.bias.data, m.eps)),
}


def make(name: str, seed: int = 0) -> tuple:
    factory, shape, values, reference = LAYERS[name]
    manual_seed(seed)
    layer = factory()
    rng = np.random.default_rng(seed)
    for param in layer.parameters():  # not the default init: ones/zeros would hide mistakes
        param.data[...] = away_from_zero(rng, param.shape)
    x = Tensor(values(rng, shape), requires_grad=True)
    return layer, x, reference


@pytest.mark.parametrize("name", LAYERS)
def test_forward_matches_numpy(name):
    layer, x, reference = make(name)
    out = layer(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, reference(layer, x.data), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_match_finite_differences(name):
    layer, x, _ = make(name, seed=1)

    def forward(x, *parameters):  # the layer uses these same Parameter objects
        return layer(x)

    assert gradcheck(forward, (x, *layer.parameters()))


SECOND_ORDER = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d-overlap-pad", "Sigmoid", "Tanh",
                "Softmax", "LogSoftmax", "BatchNorm1d-2d", "BatchNorm2d"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_match_finite_differences(name):
    layer, x, _ = make(name, seed=2)

    def forward(x, *parameters):
        return layer(x)

    assert gradgradcheck(forward, (x, *layer.parameters()))


@pytest.mark.parametrize("layer, shape", [
    (Linear(2, 3), (2, 2)), (Conv2d(1, 2, 3), (2, 1, 4, 4)), (BatchNorm1d(2), (2, 2)),
    (BatchNorm2d(2), (2, 2, 3, 3)),
])
def test_float32_by_default(layer, shape):
    assert {p.dtype for p in layer.parameters()} == {np.dtype(np.float32)}
    assert layer(Tensor(np.ones(shape, np.float32))).dtype == np.float32


def test_dtype_keyword():
    bn = BatchNorm2d(2, dtype=np.float64)
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match="float32 or float64"):
        Linear(2, 3, dtype=np.int32)


@settings(max_examples=25, deadline=None)
@given(batch=st.tuples(st.integers(1, 3)) | st.tuples(st.integers(1, 2), st.integers(1, 3)),
       in_features=st.integers(1, 4), out_features=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_linear_any_batch_shape(batch, in_features, out_features, bias, seed):
    manual_seed(seed)
    layer = Linear(in_features, out_features, bias=bias, dtype=np.float64)
    x = np.random.default_rng(seed).standard_normal(batch + (in_features,))
    expected = x @ layer.weight.data.T + (layer.bias.data if bias else 0.0)
    out = layer(Tensor(x))
    assert out.shape == batch + (out_features,)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_linear_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        Linear(4, 3)(Tensor(np.zeros((2, 5), np.float32)))


# ------------------------------------------------------------------------ default initialisation


@pytest.mark.parametrize("make_layer, fan_in", [
    (lambda: Linear(50, 40), 50),
    (lambda: Conv2d(4, 30, (3, 5)), 4 * 3 * 5),
])
def test_default_init_is_pytorchs(make_layer, fan_in):
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same."""
    manual_seed(0)
    layer = make_layer()
    bound = 1 / math.sqrt(fan_in)
    weight, bias = layer.weight.data, layer.bias.data
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.95 * bound  # fills the range, is not a narrower one
    np.testing.assert_allclose(weight.var(), bound**2 / 3, rtol=0.1)
    assert np.abs(weight.mean()) < 0.1 * bound
    assert len(np.unique(weight)) == weight.size  # random, not constant


def test_default_init_follows_manual_seed():
    manual_seed(7)
    first = Linear(3, 2).weight.data.copy()
    manual_seed(7)
    np.testing.assert_array_equal(Linear(3, 2).weight.data, first)
    assert not np.array_equal(Linear(3, 2).weight.data, first)


# ------------------------------------------------------------------------ Dropout


def test_dropout_zeroes_about_p_and_preserves_the_mean():
    manual_seed(0)
    x = Tensor(np.ones((200, 500), np.float32))
    for p in (0.1, 0.5, 0.8):
        out = Dropout(p)(x).data
        zeroed = np.mean(out == 0)
        assert abs(zeroed - p) < 0.01, (p, zeroed)
        np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)
        assert abs(out.mean() - 1.0) < 0.03


def test_dropout_gradient_uses_the_same_mask():
    manual_seed(3)
    x = Tensor(np.full((20, 20), 2.0), requires_grad=True)
    out = Dropout(0.3)(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, out.data / 2.0)


def test_dropout_is_identity_in_eval_and_reproducible_with_manual_seed():
    x = Tensor(np.arange(1.0, 101.0))
    layer = Dropout(0.5)
    manual_seed(11)
    first = layer(x).data
    manual_seed(11)
    np.testing.assert_array_equal(layer(x).data, first)
    assert not np.array_equal(layer(x).data, first)  # a fresh mask each call
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert Dropout(0.0)(x) is x
    np.testing.assert_array_equal(Dropout(1.0)(x).data, 0.0)


def test_dropout_gradcheck_with_a_fixed_mask():
    layer = Dropout(0.4)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)

    def forward(x):
        manual_seed(5)  # the same mask for every evaluation
        return layer(x)

    assert gradcheck(forward, x)
    assert gradgradcheck(forward, x)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match="probability p"):
        Dropout(p)


# ------------------------------------------------------------------------ BatchNorm


def test_batchnorm_running_stats_update_formula():
    rng = np.random.default_rng(0)
    layer = BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = rng.normal(2.0, 3.0, (4, 3, 2, 5))
        layer(Tensor(x))
        n = 4 * 2 * 5
        mean = 0.8 * mean + 0.2 * x.mean(axis=(0, 2, 3))
        var = 0.8 * var + 0.2 * x.var(axis=(0, 2, 3)) * n / (n - 1)  # unbiased
        np.testing.assert_allclose(layer.running_mean.data, mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var.data, var, rtol=1e-12)
        assert int(layer.num_batches_tracked.data) == step


def test_batchnorm_cumulative_average_when_momentum_is_none():
    rng = np.random.default_rng(1)
    layer = BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rng.normal(size=(5, 2)) for _ in range(3)]
    for x in batches:
        layer(Tensor(x))
    np.testing.assert_allclose(layer.running_mean.data,
                               np.mean([x.mean(axis=0) for x in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data,
                               np.mean([x.var(axis=0, ddof=1) for x in batches], axis=0),
                               rtol=1e-12)


def test_batchnorm_eval_uses_running_stats_and_changes_nothing():
    layer = BatchNorm1d(3, dtype=np.float64)
    layer.running_mean.data = np.array([1.0, -2.0, 0.5])
    layer.running_var.data = np.array([4.0, 0.25, 1.0])
    layer.weight.data[...] = [2.0, 1.0, -1.0]
    layer.bias.data[...] = [0.0, 1.0, 3.0]
    layer.eval()
    x = np.random.default_rng(2).normal(size=(2, 3, 4))
    out = layer(Tensor(x)).data
    expected = ((x - layer.running_mean.data[:, None]) / np.sqrt(layer.running_var.data[:, None]
                + 1e-5) * layer.weight.data[:, None] + layer.bias.data[:, None])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean.data, [1.0, -2.0, 0.5])
    assert int(layer.num_batches_tracked.data) == 0
    # a single sample is fine in eval mode (it is not in training)
    assert layer(Tensor(x[:1, :, :1])).shape == (1, 3, 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer.train()(Tensor(x[:1, :, :1]))


def test_batchnorm_eval_gradcheck():
    layer = BatchNorm2d(2, dtype=np.float64)
    layer(Tensor(np.random.default_rng(3).normal(size=(3, 2, 2, 2))))  # non-trivial running stats
    layer.eval()
    x = Tensor(np.random.default_rng(4).normal(size=(2, 2, 2, 2)), requires_grad=True)

    def forward(x, weight, bias):
        return layer(x)

    assert gradcheck(forward, (x, layer.weight, layer.bias))


def test_batchnorm_without_affine_or_running_stats():
    layer = BatchNorm1d(2, affine=False, track_running_stats=False, dtype=np.float64)
    assert list(layer.parameters()) == [] and list(layer.buffers()) == []
    assert list(layer.state_dict()) == []
    x = np.random.default_rng(5).normal(size=(6, 2))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(layer.eval()(Tensor(x)).data, expected, rtol=1e-12)  # batch stats


@pytest.mark.parametrize("layer, shape", [
    (BatchNorm1d(3), (2, 4)), (BatchNorm1d(3), (2, 3, 2, 2)), (BatchNorm2d(3), (2, 3, 4)),
    (BatchNorm2d(3), (2, 2, 4, 4)),
])
def test_batchnorm_rejects_wrong_input_shapes(layer, shape):
    with pytest.raises(ValueError, match=re.escape(f"3 channels on axis 1, got shape {shape}")):
        layer(Tensor(np.zeros(shape, np.float32)))


def test_softmax_layers_take_axis():
    x = np.random.default_rng(6).normal(size=(2, 3, 4))
    np.testing.assert_allclose(Softmax(axis=1)(Tensor(x)).data, softmax_reference(x, 1))
    np.testing.assert_allclose(LogSoftmax(1)(Tensor(x)).data, np.log(softmax_reference(x, 1)))

"""nn.functional: losses and stateless layers against numpy, gradchecks, input validation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck, gradgradcheck, manual_seed
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import strategies as tst


def log_softmax_reference(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def cross_entropy_reference(x, target, weight=None, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition for (N, C) logits, written out with numpy."""
    classes = x.shape[1]
    weight = np.ones(classes) if weight is None else weight
    log_probs = log_softmax_reference(x)
    rows = np.arange(len(target))
    nll = -weight[target] * log_probs[rows, target]
    smooth = -(weight * log_probs).sum(axis=1)
    if reduction == "mean":
        nll, smooth = nll.sum() / weight[target].sum(), smooth.sum() / weight[target].sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - label_smoothing) * nll + label_smoothing / classes * smooth


def reduce_reference(loss: np.ndarray, reduction: str):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def logits_and_targets(draw, min_classes=1):
    rows = draw(st.integers(1, 4))
    classes = draw(st.integers(min_classes, 4))
    x = draw(tst.tensors(shape=(rows, classes), min_value=-5, max_value=5))
    target = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows)))
    return x, target


# ------------------------------------------------------------------------ cross entropy and nll


@settings(max_examples=40, deadline=None)
@given(data=logits_and_targets(), reduction=st.sampled_from(REDUCTIONS),
       label_smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]), weighted=st.booleans())
def test_cross_entropy_matches_numpy(data, reduction, label_smoothing, weighted):
    x, target = data
    weight = np.linspace(0.5, 2.0, x.shape[1]) if weighted else None
    out = F.cross_entropy(x, target, weight, reduction=reduction, label_smoothing=label_smoothing)
    expected = cross_entropy_reference(x.data, target, weight, reduction, label_smoothing)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


def test_label_smoothing_is_cross_entropy_against_the_smoothed_distribution():
    x = np.random.default_rng(0).normal(size=(5, 4))
    target = np.array([0, 3, 1, 1, 2])
    smoothing, classes = 0.2, 4
    q = np.full((5, classes), smoothing / classes)
    q[np.arange(5), target] += 1 - smoothing
    expected = -(q * log_softmax_reference(x)).sum(axis=1)
    out = F.cross_entropy(Tensor(x), target, reduction="none", label_smoothing=smoothing)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_cross_entropy_with_spatial_axes_is_per_position():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 2, 2))
    target = rng.integers(0, 3, size=(2, 2, 2))
    rows = np.moveaxis(x, 1, -1).reshape(-1, 3)
    out = F.cross_entropy(Tensor(x), Tensor(target), reduction="none", label_smoothing=0.1)
    assert out.shape == (2, 2, 2)
    expected = cross_entropy_reference(rows, target.reshape(-1), None, "none", 0.1)
    np.testing.assert_allclose(out.data.reshape(-1), expected, rtol=1e-12)
    single = F.cross_entropy(Tensor(x[0, :, 0, 0]), np.array(target[0, 0, 0]), label_smoothing=0.1)
    np.testing.assert_allclose(single.data, expected[0], rtol=1e-12)


def test_nll_loss_picks_the_target_log_probabilities():
    log_probs = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    target = np.array([1, 0, 1])
    weight = np.array([2.0, 1.0])
    for reduction in REDUCTIONS:
        out = F.nll_loss(Tensor(log_probs), target, reduction=reduction)
        expected = reduce_reference(-log_probs[[0, 1, 2], target], reduction)
        np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    weighted = F.nll_loss(Tensor(log_probs), target, weight)
    expected = -(1 * np.log(0.8) + 2 * np.log(0.6) + 1 * np.log(0.5)) / (1 + 2 + 1)
    np.testing.assert_allclose(weighted.data, expected, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = Tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]), requires_grad=True)
    target = np.array([0, 2])
    loss = F.cross_entropy(x, target, reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 1.0 + np.log1p(np.exp(-1.0))], atol=1e-12)
    loss.sum().backward()
    probs = np.exp(log_softmax_reference(x.data))
    probs[[0, 1], target] -= 1
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, probs, atol=1e-12)
    x32 = Tensor(np.array([[1000.0, -1000.0]], np.float32))
    assert np.isfinite(F.cross_entropy(x32, np.array([1]), label_smoothing=0.1).data)


LOSS_CASES = {
    "ce-mean": lambda x, t: F.cross_entropy(x, t),
    "ce-sum": lambda x, t: F.cross_entropy(x, t, reduction="sum"),
    "ce-none": lambda x, t: F.cross_entropy(x, t, reduction="none"),
    "ce-smooth-mean": lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
    "ce-smooth-sum": lambda x, t: F.cross_entropy(x, t, reduction="sum", label_smoothing=0.3),
    "ce-smooth-none": lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
    "ce-weight-smooth": lambda x, t: F.cross_entropy(x, t, np.array([1.0, 2.0, 0.5]),
                                                     label_smoothing=0.2),
    "nll-mean": lambda x, t: F.nll_loss(x.log_softmax(), t),
    "nll-weight-none": lambda x, t: F.nll_loss(x, t, np.array([1.0, 3.0, 0.5]), reduction="none"),
}


@pytest.mark.parametrize("name", LOSS_CASES)
def test_classification_loss_gradients(name):
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    target = np.array([0, 2, 1, 2])

    def loss(x):
        return LOSS_CASES[name](x, target)

    assert gradcheck(loss, x)
    assert gradgradcheck(loss, x)


def test_cross_entropy_gradient_with_respect_to_class_weights():
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(size=(3, 3)), requires_grad=True)
    weight = Tensor(np.array([1.0, 2.0, 0.5]), requires_grad=True)
    target = np.array([2, 0, 0])
    assert gradcheck(lambda x, w: F.cross_entropy(x, target, w, label_smoothing=0.1), (x, weight))


@pytest.mark.parametrize("target, error, pattern", [
    (np.array([0.0, 1.0]), TypeError, "integer class indices, got dtype float64"),
    (np.array([True, False]), TypeError, "dtype bool"),
    (np.array([0, 1, 1]), ValueError,
     re.escape("target of shape (3,) does not fit input of shape (2, 3)")),
    (np.array([[0], [1]]), ValueError, re.escape("expected target shape (2,)")),
    (np.array([0, 3]), ValueError, re.escape("in [0, 2] for input of shape (2, 3), got [3]")),
    (np.array([-1, 0]), ValueError, re.escape("got [-1]")),
])
def test_class_targets_are_validated(target, error, pattern):
    x = Tensor(np.zeros((2, 3)))
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(error, match=pattern):
            loss(x, target)


def test_loss_options_are_validated():
    x, target = Tensor(np.zeros((2, 3))), np.array([0, 1])
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, target, reduction="average")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, target, label_smoothing=1.5)
    with pytest.raises(ValueError, match=re.escape("weight must have shape (3,)")):
        F.cross_entropy(x, target, np.ones(2))
    with pytest.raises(ValueError, match=re.escape("(2, 3) does not match input of shape (2,)")):
        F.mse_loss(Tensor(np.zeros(2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction"):
        F.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), reduction="all")


# -------------------------------------------------------------- regression and binary losses


@settings(max_examples=25, deadline=None)
@given(x=tst.tensors(shape=tst.shapes(min_dims=1)), reduction=st.sampled_from(REDUCTIONS))
def test_mse_loss_matches_numpy(x, reduction):
    target = np.cos(x.data)
    out = F.mse_loss(x, Tensor(target), reduction)
    np.testing.assert_allclose(out.data, reduce_reference((x.data - target) ** 2, reduction),
                               rtol=1e-12)


def bce_reference(x, t, weight=1.0, pos_weight=1.0):
    p = 1 / (1 + np.exp(-x))
    return -weight * (pos_weight * t * np.log(p) + (1 - t) * np.log(1 - p))


@settings(max_examples=25, deadline=None)
@given(x=tst.tensors(shape=(3, 2), min_value=-8, max_value=8),
       reduction=st.sampled_from(REDUCTIONS), data=st.data())
def test_bce_with_logits_matches_numpy(x, reduction, data):
    target = data.draw(tst.tensors(shape=(3, 2), min_value=0, max_value=1, requires_grad=False))
    out = F.binary_cross_entropy_with_logits(x, target, reduction=reduction)
    expected = reduce_reference(bce_reference(x.data, target.data), reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)
    weight, pos_weight = np.array([0.5, 2.0]), np.array([3.0, 0.25])
    out = F.binary_cross_entropy_with_logits(x, target, weight, reduction=reduction,
                                             pos_weight=pos_weight)
    expected = reduce_reference(bce_reference(x.data, target.data, weight, pos_weight), reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)


def test_bce_with_logits_is_stable_and_smooth():
    x = Tensor(np.array([1000.0, -1000.0, 0.0, 40.0]), requires_grad=True)
    target = Tensor(np.array([0.0, 1.0, 1.0, 1.0]))
    loss = F.binary_cross_entropy_with_logits(x, target, reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 1000.0, np.log(2.0), np.log1p(np.exp(-40.0))],
                               rtol=1e-12, atol=1e-16)
    loss.sum().backward()
    # d/dx = sigmoid(x) - t, including at x = 0 exactly (a relu/abs formulation gets -t there)
    np.testing.assert_allclose(x.grad.data, [1.0, -1.0, -0.5, -np.exp(-40.0)], rtol=1e-9, atol=0)


REGRESSION_CASES = {
    "mse-mean": lambda x, t: F.mse_loss(x, t),
    "mse-sum": lambda x, t: F.mse_loss(x, t, "sum"),
    "mse-none": lambda x, t: F.mse_loss(x, t, reduction="none"),
    "bce-mean": lambda x, t: F.binary_cross_entropy_with_logits(x, t),
    "bce-sum": lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
    "bce-none": lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
    "bce-weights": lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, np.array([1.0, 0.5, 2.0]), pos_weight=np.array([2.0, 1.0, 0.5])),
}


@pytest.mark.parametrize("name", REGRESSION_CASES)
def test_regression_loss_gradients_in_input_and_target(name):
    rng = np.random.default_rng(4)
    x = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    target = Tensor(rng.uniform(0, 1, size=(2, 3)), requires_grad=True)
    assert gradcheck(REGRESSION_CASES[name], (x, target))
    assert gradgradcheck(REGRESSION_CASES[name], (x, target))


# ------------------------------------------------------------------------ layers as functions


def test_linear_matches_numpy_and_is_twice_differentiable():
    rng = np.random.default_rng(5)
    x, w, b = (Tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 4), (2, 4), (2,)))
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data, rtol=1e-12)
    np.testing.assert_allclose(F.linear(x, w).data, x.data @ w.data.T, rtol=1e-12)
    assert gradgradcheck(F.linear, (x, w, b))


def test_activations_match_numpy():
    x = np.random.default_rng(6).normal(size=(3, 4))
    np.testing.assert_allclose(F.relu(Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.sigmoid(Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(F.tanh(Tensor(x)).data, np.tanh(x))
    np.testing.assert_allclose(F.log_softmax(Tensor(x), axis=0).data, log_softmax_reference(x, 0),
                               rtol=1e-12)
    np.testing.assert_allclose(F.softmax(Tensor(x)).data, np.exp(log_softmax_reference(x)),
                               rtol=1e-12)


def test_dropout_function():
    x = Tensor(np.ones((100, 100)))
    assert F.dropout(x, 0.3, training=False) is x
    manual_seed(0)
    out = F.dropout(x, 0.3).data
    assert abs(np.mean(out == 0) - 0.3) < 0.02
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7])
    for p in (-0.5, 2, None):
        with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
            F.dropout(x, p)


def test_batch_norm_function_train_mode_gradients():
    rng = np.random.default_rng(7)
    x = Tensor(rng.normal(size=(3, 2, 2)), requires_grad=True)
    weight = Tensor(rng.uniform(0.5, 2, size=2), requires_grad=True)
    bias = Tensor(rng.normal(size=2), requires_grad=True)

    def normalise(x, weight, bias):
        return F.batch_norm(x, None, None, weight, bias, training=True)

    assert gradcheck(normalise, (x, weight, bias))
    assert gradgradcheck(normalise, (x, weight, bias))


def test_batch_norm_without_affine_parameters_gradients():
    x = Tensor(np.random.default_rng(9).normal(size=(4, 3, 2, 2)), requires_grad=True)

    def normalise(x):
        return F.batch_norm(x, None, None, training=True)

    assert gradcheck(normalise, (x,))
    assert gradgradcheck(normalise, (x,))


def test_batch_norm_refuses_parameters_of_another_dtype():
    x = Tensor(np.zeros((4, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="batch_norm: weight is float32 but the input is float64"):
        F.batch_norm(x, None, None, Tensor(np.ones(2, np.float32)), None, training=True)


def test_batch_norm_function_updates_the_running_tensors_it_is_given():
    x = np.random.default_rng(8).normal(size=(4, 3))
    running_mean, running_var = Tensor(np.zeros(3)), Tensor(np.ones(3))
    out = F.batch_norm(Tensor(x), running_mean, running_var, training=True, momentum=0.5)
    np.testing.assert_allclose(out.data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(running_mean.data, 0.5 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(running_var.data, 0.5 + 0.5 * x.var(0, ddof=1), rtol=1e-12)
    evaluated = F.batch_norm(Tensor(x), running_mean, running_var, eps=0.0)
    np.testing.assert_allclose(evaluated.data, (x - running_mean.data) / np.sqrt(running_var.data),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="needed when not training"):
        F.batch_norm(Tensor(x), None, None)
    with pytest.raises(ValueError, match=re.escape("running_mean has shape (2,)")):
        F.batch_norm(Tensor(x), Tensor(np.zeros(2)), running_var)


def test_one_hot():
    out = F.one_hot(np.array([[0, 2], [1, 2]]))
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data[1, 0], [0, 1, 0])
    np.testing.assert_array_equal(F.one_hot(Tensor(np.array([1])), num_classes=4).data,
                                  [[0, 1, 0, 0]])
    with pytest.raises(ValueError, match="label 3 is out of range for num_classes=3"):
        F.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match=">= 0"):
        F.one_hot(np.array([-1]))
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(np.array([1.0]))


@settings(max_examples=25, deadline=None)
@given(x=tst.tensors(shape=tst.shapes(min_dims=1, max_dims=3, max_side=3)), data=st.data(),
       value=st.sampled_from([0.0, -1.5]))
def test_pad_matches_numpy_with_last_axis_first(x, data, value):
    pairs = data.draw(st.integers(1, x.ndim))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs))
    numpy_widths = [(0, 0)] * (x.ndim - pairs) + [
        (widths[2 * k], widths[2 * k + 1]) for k in reversed(range(pairs))]
    out = F.pad(x, widths, value=value)
    np.testing.assert_array_equal(out.data, np.pad(x.data, numpy_widths, constant_values=value))


def test_pad_gradient_and_errors():
    x = Tensor(np.random.default_rng(9).normal(size=(2, 3)), requires_grad=True)
    assert F.pad(x, (1, 2)).shape == (2, 6)
    assert F.pad(x, (0, 1, 2, 0)).shape == (4, 4)
    assert gradcheck(lambda x: F.pad(x, (1, 0, 0, 2), value=3.0), x)
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="negative"):
        F.pad(x, (-1, 0))
    with pytest.raises(ValueError, match="constant"):
        F.pad(x, (1, 1), mode="reflect")


def test_convolution_and_pooling_are_handed_on_from_nnops():
    from tinygrad_edu.ops import nnops

    assert F.conv2d is nnops.conv2d
    assert F.max_pool2d is nnops.max_pool2d
    assert F.avg_pool2d is nnops.avg_pool2d
    with pytest.raises(AttributeError, match="no attribute 'conv3d'"):
        F.conv3d  # noqa: B018

"""nn.init: fans, gains, and the empirical distribution of every initialiser on large tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, manual_seed
from tinygrad_edu.nn import Parameter, init


@pytest.mark.parametrize("shape, fans", [
    ((30, 20), (20, 30)),          # Linear weight (out, in)
    ((8, 3, 5, 5), (75, 200)),     # Conv2d weight (out, in, kh, kw)
    ((4, 2, 3), (6, 12)),
    ((0, 5), (5, 0)),
])
def test_fans_are_pytorchs(shape, fans):
    assert init._calculate_fan_in_and_fan_out(Tensor(np.zeros(shape))) == fans


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(Tensor(np.zeros(5)))


@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
])
def test_calculate_gain(nonlinearity, param, gain):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-12)


def test_calculate_gain_rejects_unknown_input():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softsign'"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")


SHAPE = (300, 200, 2)  # fan_in = 400, fan_out = 600, 120 000 samples
FAN_IN, FAN_OUT = 400, 600

# name -> (initialiser call, expected mean, expected std, bound or None)
DISTRIBUTIONS = {
    "uniform": (lambda t: init.uniform_(t, -1.0, 3.0), 1.0, 4 / math.sqrt(12), (-1.0, 3.0)),
    "uniform-default": (init.uniform_, 0.5, 1 / math.sqrt(12), (0.0, 1.0)),
    "normal": (lambda t: init.normal_(t, 2.0, 0.5), 2.0, 0.5, None),
    "normal-default": (init.normal_, 0.0, 1.0, None),
    "xavier_uniform": (lambda t: init.xavier_uniform_(t, gain=2.0), 0.0,
                       2.0 * math.sqrt(2 / (FAN_IN + FAN_OUT)),
                       2.0 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "xavier_normal": (init.xavier_normal_, 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    "kaiming_uniform": (init.kaiming_uniform_, 0.0, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    "kaiming_uniform-relu-fan_out": (
        lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), 0.0,
        math.sqrt(2 / FAN_OUT), math.sqrt(6 / FAN_OUT)),
    "kaiming_uniform-a-sqrt5": (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 0.0,
                                1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN)),
    "kaiming_normal": (init.kaiming_normal_, 0.0, math.sqrt(2 / FAN_IN), None),
    "kaiming_normal-tanh-fan_out": (
        lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"), 0.0,
        5 / 3 / math.sqrt(FAN_OUT), None),
}


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_empirical_mean_and_std_match_the_formula(name):
    fill, mean, std, bound = DISTRIBUTIONS[name]
    manual_seed(0)
    tensor = Parameter(np.zeros(SHAPE, np.float32))
    values = fill(tensor).data
    # the sample mean's std is std / sqrt(n) ~ std / 350; allow ~4 of those
    assert abs(values.mean() - mean) < 0.012 * std
    assert values.std() == pytest.approx(std, rel=0.01)
    if isinstance(bound, tuple):
        assert bound[0] <= values.min() < bound[0] + 0.01 * std
        assert bound[1] - 0.01 * std < values.max() <= bound[1]
    elif bound is not None:
        assert -bound <= values.min() < -0.99 * bound and 0.99 * bound < values.max() <= bound


def test_fills_in_place_returns_the_tensor_and_records_no_graph():
    tensor = Parameter(np.zeros((3, 4), np.float32))
    array = tensor.data
    for fill in (init.zeros_, init.ones_, lambda t: init.constant_(t, 0.25), init.uniform_,
                 init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                 init.kaiming_normal_):
        assert fill(tensor) is tensor
        assert tensor.data is array and tensor.dtype == np.float32
        assert tensor.grad_fn is None and tensor.requires_grad
    np.testing.assert_array_equal(init.zeros_(tensor).data, 0.0)
    np.testing.assert_array_equal(init.ones_(tensor).data, 1.0)
    np.testing.assert_array_equal(init.constant_(tensor, -2.5).data, -2.5)


def test_initialisers_follow_manual_seed():
    tensor = Tensor(np.zeros((5, 5)))
    manual_seed(42)
    first = init.kaiming_normal_(tensor).data.copy()
    manual_seed(42)
    np.testing.assert_array_equal(init.kaiming_normal_(tensor).data, first)
    assert not np.array_equal(init.kaiming_normal_(tensor).data, first)


def test_invalid_arguments():
    tensor = Tensor(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="fan_in' or 'fan_out"):
        init.kaiming_uniform_(tensor, mode="fan_avg")
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(tensor, std=-1.0)
    with pytest.raises(ValueError, match="not be greater than"):
        init.uniform_(tensor, 1.0, 0.0)
    empty = Tensor(np.zeros((0, 3)))
    assert init.kaiming_uniform_(empty) is empty  # nothing to fill, as in PyTorch

"""The reference models: shapes, parameter counts, and that each one can learn."""

import numpy as np
import pytest

from tinygrad_edu import Tensor, manual_seed, optim
from tinygrad_edu.models import MLP, LeNet5, SoftmaxRegression, build_model
from tinygrad_edu.nn import functional as F


def count(model):
    return sum(p.size for p in model.parameters())


def test_softmax_regression_is_one_linear_layer():
    model = SoftmaxRegression()
    assert count(model) == 784 * 10 + 10
    assert model(Tensor.zeros(5, 28, 28)).shape == (5, 10)


def test_mlp_layers_follow_the_hidden_sizes():
    model = MLP(hidden=(32, 16), dropout=0.5, batch_norm=True)
    assert count(model) == (784 * 32 + 32) + 2 * 32 + (32 * 16 + 16) + 2 * 16 + (16 * 10 + 10)
    assert model(Tensor.zeros(4, 28, 28)).shape == (4, 10)


def test_lenet5_has_the_classic_parameter_count():
    # conv1 6*25+6, conv2 16*6*25+16, fc 400*120+120, 120*84+84, 84*10+10
    assert count(LeNet5()) == 156 + 2416 + 48120 + 10164 + 850
    assert LeNet5()(Tensor.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert LeNet5()(Tensor.zeros(2, 28, 28)).shape == (2, 10)  # channel axis added


def test_lenet5_batch_norm_adds_one_scale_and_shift_per_channel():
    assert count(LeNet5(batch_norm=True)) - count(LeNet5()) == 2 * 6 + 2 * 16


@pytest.mark.parametrize("name", ["softmax", "mlp", "lenet5"])
def test_each_model_fits_a_tiny_batch(name):
    manual_seed(0)
    rng = np.random.default_rng(0)
    images = Tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32))
    labels = Tensor(rng.integers(0, 10, 16))
    model = build_model(name)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = F.cross_entropy(model(images), labels)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first


def test_build_model_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet")
    with pytest.raises(ValueError, match="softmax"):
        build_model("softmax", dropout=0.5)

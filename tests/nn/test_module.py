"""Module, Parameter, Sequential, ModuleList: registration, traversal, modes, conversions, repr."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn import functional as F


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, np.float32))
        self.register_buffer("count", Tensor(np.zeros((), np.int64)))
        self.inner = nn.Linear(2, 2)
        self.cache = Tensor(np.zeros(2))  # a plain Tensor attribute: neither parameter nor buffer
        self.shift = nn.Parameter(np.zeros(2, np.float32))

    def forward(self, x):
        return self.inner(x) * self.scale + self.shift


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.layers = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(3))
        self.heads = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 2)])

    def forward(self, x):
        x = self.layers(self.first(x))
        return [head(x) for head in self.heads]


def test_parameters_buffers_and_modules_are_registered_by_assignment():
    block = Block()
    assert list(block._parameters) == ["scale", "shift"]
    assert list(block._buffers) == ["count"]
    assert list(block._modules) == ["inner"]
    assert "cache" not in dict(block.named_buffers())
    assert block.scale is block._parameters["scale"]
    assert block.inner is block._modules["inner"]


def test_named_parameters_use_pytorchs_dotted_names_in_order():
    names = [name for name, _ in Net().named_parameters()]
    assert names == [
        "first.scale", "first.shift", "first.inner.weight", "first.inner.bias",
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias",
    ]
    net = Net()
    assert [p.shape for p in net.parameters()][4:6] == [(3, 2), (3,)]
    assert [name for name, _ in net.named_buffers()] == [
        "first.count", "layers.2.running_mean", "layers.2.running_var",
        "layers.2.num_batches_tracked"]
    assert [name for name, _ in net.named_parameters(recurse=False)] == []
    assert [name for name, _ in net.named_children()] == ["first", "layers", "heads"]
    assert [name for name, _ in net.named_modules()] == [
        "", "first", "first.inner", "layers", "layers.0", "layers.1", "layers.2", "heads",
        "heads.0", "heads.1"]
    assert list(net.children())[1] is net.layers
    assert len(list(net.modules())) == 10


def test_shared_parameters_and_modules_come_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3
    tied = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    tied[1].weight = tied[0].weight
    assert [name for name, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]  # as PyTorch


def test_registration_errors():
    block = Block()
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        block.scale = Tensor(np.ones(2))
    with pytest.raises(TypeError, match="cannot assign ndarray as buffer 'count'"):
        block.count = np.zeros(())
    with pytest.raises(TypeError, match="cannot assign int as child module 'inner'"):
        block.inner = 3
    with pytest.raises(KeyError, match="attribute 'cache' already exists"):
        block.register_buffer("cache", Tensor(np.zeros(2)))
    with pytest.raises(KeyError, match="contain no '.'"):
        block.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="Parameter or None"):
        block.register_parameter("w", Tensor(np.ones(1)))

    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(1, np.float32))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_reassigning_and_deleting_keeps_registries_consistent():
    block = Block()
    block.scale = None
    assert [name for name, _ in block.named_parameters(recurse=False)] == ["shift"]
    block.scale = nn.Parameter(np.full(2, 3.0, np.float32))  # back in its original position
    assert list(block._parameters) == ["scale", "shift"]
    block.cache = nn.Parameter(np.zeros(1, np.float32))  # a plain attribute becomes a parameter
    assert list(block._parameters) == ["scale", "shift", "cache"] and "cache" not in block.__dict__
    block.count = Tensor(np.ones((), np.int64))
    assert int(block.state_dict()["count"]) == 1
    del block.shift
    assert "shift" not in block._parameters
    with pytest.raises(AttributeError, match="no attribute 'shift'"):
        block.shift  # noqa: B018
    block.register_buffer("scratch", Tensor(np.zeros(3)), persistent=False)
    assert "scratch" in dict(block.named_buffers()) and "scratch" not in block.state_dict()


def test_train_and_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.layers.train(False)
    assert net.training and not net.layers[2].training and net.heads[0].training
    with pytest.raises(ValueError, match="bool"):
        net.train("no")


def test_zero_grad_sets_gradients_to_none():
    net = Net()
    out = net(Tensor(np.ones((4, 2), np.float32)))
    (out[0].sum() + out[1].sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_call_runs_forward_and_base_forward_explains():
    x = Tensor(np.ones((1, 2), np.float32))
    layer = nn.Linear(2, 1)
    np.testing.assert_array_equal(layer(x).data, layer.forward(x).data)
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(x)


def test_repr_is_pytorch_like():
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Sequential(nn.Linear(10, 4, bias=False), nn.LogSoftmax(axis=1)),
    )
    assert repr(model) == """Sequential(
  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
  (1): BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
  (2): ReLU()
  (3): MaxPool2d(kernel_size=2, stride=2, padding=0)
  (4): Flatten(start_dim=1, end_dim=-1)
  (5): Dropout(p=0.25)
  (6): Sequential(
    (0): Linear(in_features=10, out_features=4, bias=False)
    (1): LogSoftmax(axis=1)
  )
)"""
    assert repr(nn.AvgPool2d(3, stride=1)) == "AvgPool2d(kernel_size=3, stride=1, padding=0)"
    assert repr(nn.Identity()) == "Identity()"

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "size=3"

    assert repr(WithExtra()) == (
        "WithExtra(\n  size=3\n  (fc): Linear(in_features=1, out_features=1, bias=True)\n)")


def test_parameter():
    array = np.ones(3, np.float32)
    param = nn.Parameter(array)
    assert param.requires_grad and param.is_leaf and isinstance(param, Tensor)
    assert param.data is array  # shared, as torch.nn.Parameter(tensor) shares storage
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert nn.Parameter(Tensor(np.zeros(2))).dtype == np.float64
    assert not nn.Parameter(np.zeros(1), requires_grad=False).requires_grad
    assert repr(nn.Parameter(np.zeros(1, np.float32))).startswith("Parameter containing:\nTensor(")
    for bad in (np.arange(3), np.array([True])):
        with pytest.raises(TypeError, match="float32/float64"):
            nn.Parameter(bad)


def test_sequential_container():
    relu, linear = nn.ReLU(), nn.Linear(2, 2)
    model = nn.Sequential(linear, relu)
    assert len(model) == 2 and model[0] is linear and model[-1] is relu
    assert list(model) == [linear, relu]
    assert isinstance(model[:1], nn.Sequential) and list(model[:1]) == [linear]
    with pytest.raises(IndexError, match="out of range"):
        model[2]  # noqa: B018
    model.append(nn.Tanh())
    assert list(model._modules) == ["0", "1", "2"]
    x = Tensor(np.array([[1.0, -2.0]], np.float32))
    np.testing.assert_allclose(model(x).data, np.tanh(np.maximum(linear(x).data, 0)), rtol=1e-6)
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 1), act=nn.Sigmoid()))
    assert [name for name, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]


def test_module_list_container():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.Linear(1, 2)).extend([nn.Linear(2, 3)])
    assert len(layers) == 3 and [m.out_features for m in layers] == [1, 2, 3]
    replacement = nn.Linear(1, 5)
    layers[0] = replacement
    assert list(layers._modules) == ["0", "1", "2"] and layers[0] is replacement
    assert [name for name, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert list(layers[1:]) == [layers[1], layers[2]]
    with pytest.raises(IndexError):
        layers[3]  # noqa: B018
    with pytest.raises(TypeError, match="not a Module"):
        layers[0] = "linear"


def test_double_and_float_convert_parameters_buffers_and_gradients():
    net = Net()
    params = list(net.parameters())
    out = net(Tensor(np.ones((3, 2), np.float32)))
    out[0].sum().backward()
    assert net.double() is net
    assert list(net.parameters()) == params  # same objects, an optimizer holding them still works
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters() if p.grad is not None)
    bn = net.layers[2]
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    assert net(Tensor(np.ones((3, 2))))[1].dtype == np.float64
    net.float()
    dtypes = {t.dtype for t in net.state_dict().values()}
    assert dtypes == {np.dtype(np.float32), np.dtype(np.int64)}
    with pytest.raises(TypeError, match="float32 or float64"):
        net.to(np.int32)


def test_requires_grad_apply_deepcopy_and_pickle():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    twin = copy.deepcopy(net)
    assert twin.layers[0].weight is not net.layers[0].weight
    np.testing.assert_array_equal(twin.layers[0].weight.data, net.layers[0].weight.data)
    restored = pickle.loads(pickle.dumps(net))
    assert [n for n, _ in restored.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_a_model_trains():
    """End to end: parameters found by the module get gradients that reduce the loss."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(32, 2)).astype(np.float32))
    target = (x.data[:, 0] > x.data[:, 1]).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), target)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
    assert losses[-1] < 0.5 * losses[0]

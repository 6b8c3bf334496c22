"""The same layers, losses and state dicts in PyTorch give the same numbers (when torch is here)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="parity tests compare with PyTorch, which is optional")

from tinygrad_edu import Tensor, manual_seed, nn  # noqa: E402
from tinygrad_edu.nn import functional as F  # noqa: E402
from tinygrad_edu.nn import init, utils  # noqa: E402

TF = torch.nn.functional


def ours(array: np.ndarray) -> Tensor:
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def theirs(array: np.ndarray):
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def copy_parameters(source: nn.Module, target) -> None:
    """Our parameters and buffers into the torch module with the same architecture."""
    target.load_state_dict({k: torch.from_numpy(v) for k, v in source.state_dict().items()})


def assert_close(our: Tensor | np.ndarray, their, rtol: float = 1e-10, atol: float = 1e-12):
    our = our.data if isinstance(our, Tensor) else our
    np.testing.assert_allclose(our, their.detach().numpy(), rtol=rtol, atol=atol)


# ------------------------------------------------------------------------ layers


@pytest.mark.parametrize("make_ours, make_theirs, shape", [
    (lambda: nn.Linear(4, 3, dtype=np.float64), lambda: torch.nn.Linear(4, 3).double(), (5, 4)),
    (lambda: nn.Linear(4, 3, bias=False, dtype=np.float64),
     lambda: torch.nn.Linear(4, 3, bias=False).double(), (2, 2, 4)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64),
     lambda: torch.nn.Conv2d(2, 3, 3, stride=2, padding=1).double(), (2, 2, 5, 5)),
    (lambda: nn.Conv2d(1, 2, (2, 3), dilation=(2, 1), bias=False, dtype=np.float64),
     lambda: torch.nn.Conv2d(1, 2, (2, 3), dilation=(2, 1), bias=False).double(), (1, 1, 6, 5)),
])
def test_parametrised_layers_match_outputs_and_gradients(make_ours, make_theirs, shape):
    manual_seed(0)
    our_layer, their_layer = make_ours(), make_theirs()
    copy_parameters(our_layer, their_layer)
    x = np.random.default_rng(0).normal(size=shape)
    our_x, their_x = ours(x), theirs(x)
    our_out, their_out = our_layer(our_x), their_layer(their_x)
    assert_close(our_out, their_out)
    g = np.random.default_rng(1).normal(size=our_out.shape)
    our_out.backward(g)
    their_out.backward(torch.from_numpy(g))
    assert_close(our_x.grad, their_x.grad)
    for (name, p), (their_name, q) in zip(our_layer.named_parameters(),
                                          their_layer.named_parameters(), strict=True):
        assert name == their_name
        assert_close(p.grad, q.grad)


@pytest.mark.parametrize("make_ours, make_theirs", [
    (lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: torch.nn.MaxPool2d(3, 2, 1)),
    (lambda: nn.AvgPool2d((2, 3), stride=1, padding=1),
     lambda: torch.nn.AvgPool2d((2, 3), stride=1, padding=1)),
    (lambda: nn.Flatten(1, 2), lambda: torch.nn.Flatten(1, 2)),
    (lambda: nn.LogSoftmax(axis=1), lambda: torch.nn.LogSoftmax(dim=1)),
])
def test_parameterless_layers_match(make_ours, make_theirs):
    x = np.random.default_rng(8).permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) * 0.1
    our_x, their_x = ours(x), theirs(x)
    our_out, their_out = make_ours()(our_x), make_theirs()(their_x)
    assert_close(our_out, their_out)
    g = np.random.default_rng(9).normal(size=our_out.shape)
    our_out.backward(g)
    their_out.backward(torch.from_numpy(g))
    assert_close(our_x.grad, their_x.grad)


@pytest.mark.parametrize("our_class, their_class, shape", [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 2, 4)),
])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_in_train_and_eval(our_class, their_class, shape, momentum):
    our_layer = our_class(3, momentum=momentum, dtype=np.float64)
    their_layer = their_class(3, momentum=momentum).double()
    rng = np.random.default_rng(2)
    our_layer.weight.data[...] = rng.uniform(0.5, 2, 3)
    our_layer.bias.data[...] = rng.normal(size=3)
    copy_parameters(our_layer, their_layer)
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=shape)
        our_x, their_x = ours(x), theirs(x)
        our_out, their_out = our_layer(our_x), their_layer(their_x)
        assert_close(our_out, their_out)
        g = rng.normal(size=shape)
        our_out.backward(g)
        their_out.backward(torch.from_numpy(g))
        assert_close(our_x.grad, their_x.grad)
        assert_close(our_layer.weight.grad, their_layer.weight.grad)
    for name, value in our_layer.state_dict().items():
        np.testing.assert_allclose(value, their_layer.state_dict()[name].numpy(), rtol=1e-12)
    our_layer.eval()
    their_layer.eval()
    x = rng.normal(size=shape)
    assert_close(our_layer(ours(x)), their_layer(theirs(x)))


# ------------------------------------------------------------------------ losses

CLASSIFICATION = [
    dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.25),
    dict(label_smoothing=0.1, reduction="sum"), dict(label_smoothing=0.3, reduction="none"),
    dict(weight=[0.2, 1.0, 3.0, 0.5]), dict(weight=[0.2, 1.0, 3.0, 0.5], reduction="sum"),
    dict(weight=[0.2, 1.0, 3.0, 0.5], label_smoothing=0.2),
    dict(weight=[0.2, 1.0, 3.0, 0.5], label_smoothing=0.2, reduction="none"),
]


def weights_for(options: dict, wrap) -> dict:
    options = dict(options)
    if "weight" in options:
        options["weight"] = wrap(np.array(options["weight"]))
    return options


@pytest.mark.parametrize("options", CLASSIFICATION)
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3)])
def test_cross_entropy_and_nll_match(options, shape):
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape) * 3
    target = rng.integers(0, 4, size=shape[:1] + shape[2:])
    our_x, their_x = ours(x), theirs(x)
    our_loss = F.cross_entropy(our_x, target, **weights_for(options, np.asarray))
    their_loss = TF.cross_entropy(their_x, torch.from_numpy(target),
                                  **weights_for(options, torch.from_numpy))
    assert_close(our_loss, their_loss)
    our_loss.sum().backward()
    their_loss.sum().backward()
    assert_close(our_x.grad, their_x.grad)
    if "label_smoothing" not in options:
        our_nll = F.nll_loss(ours(x).log_softmax(axis=1), target,
                             **weights_for(options, np.asarray))
        their_nll = TF.nll_loss(theirs(x).log_softmax(1), torch.from_numpy(target),
                                **weights_for(options, torch.from_numpy))
        assert_close(our_nll, their_nll)


def test_cross_entropy_huge_logits_match():
    x = np.array([[1000.0, -1000.0, 3.0], [-1000.0, 1000.0, 999.5]])
    target = np.array([2, 2])
    our_x, their_x = ours(x), theirs(x)
    our_loss = F.cross_entropy(our_x, target, label_smoothing=0.1)
    their_loss = TF.cross_entropy(their_x, torch.from_numpy(target), label_smoothing=0.1)
    assert_close(our_loss, their_loss)
    our_loss.backward()
    their_loss.backward()
    assert_close(our_x.grad, their_x.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_and_mse_match(reduction, weighted):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 3)) * 4
    x[0, 0], x[1, 1] = 0.0, 200.0
    t = rng.uniform(0, 1, size=(4, 3))
    options = dict(weight=np.array([0.5, 1.0, 2.0]), pos_weight=np.array([3.0, 1.0, 0.2])) \
        if weighted else {}
    our_x, their_x, our_t, their_t = ours(x), theirs(x), ours(t), theirs(t)
    our_loss = F.binary_cross_entropy_with_logits(our_x, our_t, reduction=reduction, **options)
    their_loss = TF.binary_cross_entropy_with_logits(
        their_x, their_t, reduction=reduction,
        **{k: torch.from_numpy(v) for k, v in options.items()})
    assert_close(our_loss, their_loss)
    our_loss.sum().backward()
    their_loss.sum().backward()
    assert_close(our_x.grad, their_x.grad)
    assert_close(our_t.grad, their_t.grad)
    our_mse, their_mse = F.mse_loss(ours(x), t, reduction), TF.mse_loss(theirs(x), theirs(t),
                                                                       reduction=reduction)
    assert_close(our_mse, their_mse)


def test_functional_helpers_match():
    x = np.random.default_rng(5).normal(size=(2, 3, 4))
    assert_close(F.pad(ours(x), (1, 2, 0, 1), value=-1.0),
                 TF.pad(theirs(x), (1, 2, 0, 1), value=-1.0))
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(labels).data,
                                  TF.one_hot(torch.from_numpy(labels)).numpy())
    assert_close(F.log_softmax(ours(x), axis=1), TF.log_softmax(theirs(x), dim=1))


def test_calculate_gain_matches():
    for nonlinearity, param in [("linear", None), ("tanh", None), ("relu", None), ("selu", None),
                                ("leaky_relu", None), ("leaky_relu", 0.3), ("sigmoid", None)]:
        assert init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches(norm_type, max_norm):
    rng = np.random.default_rng(6)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    our_params = [ours(np.zeros_like(g)) for g in grads]
    their_params = [theirs(np.zeros_like(g)) for g in grads]
    for p, q, g in zip(our_params, their_params, grads, strict=True):
        p.grad = Tensor(g.copy())
        q.grad = torch.from_numpy(g.copy())
    our_norm = utils.clip_grad_norm_(our_params, max_norm, norm_type)
    their_norm = torch.nn.utils.clip_grad_norm_(their_params, max_norm, norm_type)
    assert_close(our_norm, their_norm, rtol=1e-12)
    for p, q in zip(our_params, their_params, strict=True):
        assert_close(p.grad, q.grad, rtol=1e-12)


# ------------------------------------------------------------------------ state dicts


def lenet(our: bool):
    """The same small CNN in both libraries (names and shapes must line up)."""
    lib = nn if our else torch.nn
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(4 * 3 * 3, 8), lib.BatchNorm1d(8), lib.ReLU(),
        lib.Dropout(0.5), lib.Linear(8, 3),
    )


def test_state_dict_loads_into_pytorch_and_back():
    manual_seed(0)
    our_model, their_model = lenet(True), lenet(False)
    x = np.random.default_rng(7).normal(size=(4, 1, 6, 6)).astype(np.float32)
    our_model(Tensor(x))  # training step: running statistics move
    our_state = our_model.state_dict()
    result = their_model.load_state_dict({k: torch.from_numpy(v) for k, v in our_state.items()})
    assert not result.missing_keys and not result.unexpected_keys
    assert list(their_model.state_dict()) == list(our_state)
    our_model.eval()
    their_model.eval()
    np.testing.assert_allclose(our_model(Tensor(x)).data, their_model(torch.from_numpy(x))
                               .detach().numpy(), rtol=1e-5, atol=1e-6)

    fresh = lenet(True).eval()
    fresh.load_state_dict({k: v.numpy() for k, v in their_model.state_dict().items()})
    np.testing.assert_array_equal(fresh(Tensor(x)).data, our_model(Tensor(x)).data)


def test_reprs_match_pytorchs_for_shared_layers():
    for our, their in [(nn.Linear(3, 2), torch.nn.Linear(3, 2)),
                       (nn.Conv2d(1, 6, 5, padding=2), torch.nn.Conv2d(1, 6, 5, padding=2)),
                       (nn.Conv2d(2, 3, (1, 3), stride=2, dilation=2, bias=False),
                        torch.nn.Conv2d(2, 3, (1, 3), stride=2, dilation=2, bias=False)),
                       (nn.Flatten(), torch.nn.Flatten()), (nn.ReLU(), torch.nn.ReLU())]:
        assert repr(our) == repr(their)

"""Optimizers: their update rules step by step, convergence, dtypes, param groups, state dicts.

The expected trajectories are written from the published formulas (textbook form: Adam with
m_hat and v_hat, SGD's buffer with an explicit first step, ...), not from the code, for
f(x) = (x - 1/2)^2 elementwise, starting at X0. (Not x^2: with a gradient proportional to x,
L2 weight decay only rescales it, and Adam, RMSprop and Adagrad ignore the scale.)
"""

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

X0 = np.array([1.0, -2.0])


def grad_f(x):
    """Gradient of f(x) = (x - 1/2)^2."""
    return 2 * (x - 0.5)


def make_param(values=X0, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def set_grad(param, grad):
    param.grad = Tensor(np.asarray(grad, dtype=param.dtype))


def run(optimizer_factory, steps=3, gradient=grad_f, start=X0):
    """Parameter values after each of ``steps`` steps, with gradients ``gradient(x)``."""
    param = make_param(start)
    optimizer = optimizer_factory([param])
    trajectory = []
    for _ in range(steps):
        set_grad(param, gradient(param.data))
        optimizer.step()
        trajectory.append(param.data.copy())
    return trajectory


# ------------------------------------------------------------------------ expected trajectories


def sgd_expected(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, steps=3):
    x, buffer, out = X0.copy(), None, []
    for t in range(1, steps + 1):
        g = grad_f(x) + weight_decay * x
        if momentum:
            buffer = g if t == 1 else momentum * buffer + (1 - dampening) * g
            g = g + momentum * buffer if nesterov else buffer
        x = x - lr * g
        out.append(x)
    return out


def adam_expected(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                  decoupled=False, steps=3):
    beta1, beta2 = betas
    x, m, v, v_max, out = X0.copy(), 0.0, 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = grad_f(x)
        if decoupled:
            x = x - lr * weight_decay * x
        else:
            g = g + weight_decay * x
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(x)
    return out


def rmsprop_expected(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                     steps=3):
    x, square_avg, grad_avg, buffer, out = X0.copy(), 0.0, 0.0, 0.0, []
    for _ in range(steps):
        g = grad_f(x) + weight_decay * x
        square_avg = alpha * square_avg + (1 - alpha) * g**2
        grad_avg = alpha * grad_avg + (1 - alpha) * g
        variance = square_avg - grad_avg**2 if centered else square_avg
        scaled = g / (np.sqrt(variance) + eps)
        if momentum:
            buffer = momentum * buffer + scaled
            x = x - lr * buffer
        else:
            x = x - lr * scaled
        out.append(x)
    return out


def adagrad_expected(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10, steps=3):
    x, total, out = X0.copy(), initial_accumulator_value, []
    for t in range(1, steps + 1):
        g = grad_f(x) + weight_decay * x
        total = total + g**2
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
        out.append(x)
    return out


# (id, optimizer factory, expected trajectory, the plain rule it must differ from)
UPDATE_RULES = [
    ("sgd", lambda p: SGD(p, lr=0.1), sgd_expected(0.1), None),
    ("sgd-momentum", lambda p: SGD(p, lr=0.1, momentum=0.9),
     sgd_expected(0.1, momentum=0.9), sgd_expected(0.1)),
    ("sgd-dampening", lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
     sgd_expected(0.1, momentum=0.9, dampening=0.5), sgd_expected(0.1, momentum=0.9)),
    ("sgd-nesterov", lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
     sgd_expected(0.1, momentum=0.9, nesterov=True), sgd_expected(0.1, momentum=0.9)),
    ("sgd-weight-decay", lambda p: SGD(p, lr=0.1, momentum=0.5, weight_decay=0.3),
     sgd_expected(0.1, momentum=0.5, weight_decay=0.3), sgd_expected(0.1, momentum=0.5)),
    ("adam", lambda p: Adam(p, lr=0.1), adam_expected(0.1), None),
    ("adam-betas-eps", lambda p: Adam(p, lr=0.1, betas=(0.5, 0.6), eps=0.1),
     adam_expected(0.1, betas=(0.5, 0.6), eps=0.1), adam_expected(0.1)),
    ("adam-amsgrad", lambda p: Adam(p, lr=0.5, betas=(0.9, 0.5), amsgrad=True),
     adam_expected(0.5, betas=(0.9, 0.5), amsgrad=True), adam_expected(0.5, betas=(0.9, 0.5))),
    ("adam-weight-decay", lambda p: Adam(p, lr=0.1, weight_decay=3.0),
     adam_expected(0.1, weight_decay=3.0), adam_expected(0.1)),
    ("adamw", lambda p: AdamW(p, lr=0.1, weight_decay=0.5),
     adam_expected(0.1, weight_decay=0.5, decoupled=True), adam_expected(0.1, weight_decay=0.5)),
    ("adamw-amsgrad", lambda p: AdamW(p, lr=0.5, betas=(0.9, 0.5), amsgrad=True),
     adam_expected(0.5, betas=(0.9, 0.5), weight_decay=1e-2, amsgrad=True, decoupled=True),
     adam_expected(0.5, betas=(0.9, 0.5), weight_decay=1e-2, decoupled=True)),
    ("rmsprop", lambda p: RMSprop(p, lr=0.01), rmsprop_expected(0.01), None),
    ("rmsprop-alpha-eps", lambda p: RMSprop(p, lr=0.01, alpha=0.5, eps=0.1),
     rmsprop_expected(0.01, alpha=0.5, eps=0.1), rmsprop_expected(0.01)),
    ("rmsprop-centered", lambda p: RMSprop(p, lr=0.01, centered=True),
     rmsprop_expected(0.01, centered=True), rmsprop_expected(0.01)),
    ("rmsprop-momentum", lambda p: RMSprop(p, lr=0.01, momentum=0.9),
     rmsprop_expected(0.01, momentum=0.9), rmsprop_expected(0.01)),
    ("rmsprop-centered-momentum-wd",
     lambda p: RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=2.0),
     rmsprop_expected(0.01, momentum=0.9, centered=True, weight_decay=2.0),
     rmsprop_expected(0.01, momentum=0.9, centered=True)),
    ("adagrad", lambda p: Adagrad(p, lr=0.1), adagrad_expected(0.1), None),
    ("adagrad-lr-decay", lambda p: Adagrad(p, lr=0.1, lr_decay=0.5),
     adagrad_expected(0.1, lr_decay=0.5), adagrad_expected(0.1)),
    ("adagrad-weight-decay", lambda p: Adagrad(p, lr=0.1, weight_decay=0.5),
     adagrad_expected(0.1, weight_decay=0.5), adagrad_expected(0.1)),
    ("adagrad-initial-accumulator", lambda p: Adagrad(p, lr=0.1, initial_accumulator_value=2.0),
     adagrad_expected(0.1, initial_accumulator_value=2.0), adagrad_expected(0.1)),
    ("adagrad-eps", lambda p: Adagrad(p, lr=0.1, eps=0.5),
     adagrad_expected(0.1, eps=0.5), adagrad_expected(0.1)),
]
RULE_IDS = [row[0] for row in UPDATE_RULES]


@pytest.mark.parametrize("row", UPDATE_RULES, ids=RULE_IDS)
def test_first_three_steps_follow_the_update_rule(row):
    _, factory, expected, _ = row
    for step, (got, want) in enumerate(zip(run(factory), expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"step {step + 1}")


OPTION_ROWS = [row for row in UPDATE_RULES if row[3] is not None]


@pytest.mark.parametrize("row", OPTION_ROWS, ids=[row[0] for row in OPTION_ROWS])
def test_each_option_changes_the_trajectory(row):
    """Guards the table: an implementation ignoring the option would fail the test above."""
    _, _, expected, plain = row
    assert not np.allclose(expected[-1], plain[-1], rtol=1e-6)


@pytest.mark.parametrize("row", UPDATE_RULES, ids=RULE_IDS)
def test_maximize_climbs_the_negated_function_along_the_same_path(row):
    name, factory, expected, _ = row

    def maximizing(params):
        optimizer = factory(params)
        for group in optimizer.param_groups:
            group["maximize"] = True
        return optimizer

    for got, want in zip(run(maximizing, gradient=lambda x: -grad_f(x)), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_maximize_is_a_constructor_option_of_every_optimizer():
    for optimizer_class in (SGD, Adam, AdamW, RMSprop, Adagrad):
        optimizer = optimizer_class([make_param()], maximize=True)
        assert optimizer.param_groups[0]["maximize"] is True


def test_sgd_numbers_by_hand():
    # x <- x - 0.1 * 2 (x - 0.5) = 0.8 x + 0.1
    np.testing.assert_allclose(run(lambda p: SGD(p, lr=0.1)),
                               [[0.9, -1.5], [0.82, -1.1], [0.756, -0.78]])
    # first coordinate: g = 1, b = 1, x = 0.9;  g = 0.8, b = 0.9 + 0.8 = 1.7, x = 0.73;
    # g = 0.46, b = 0.9 * 1.7 + 0.46 = 1.99, x = 0.531
    np.testing.assert_allclose(run(lambda p: SGD(p, lr=0.1, momentum=0.9)),
                               [[0.9, -1.5], [0.73, -0.65], [0.531, 0.345]])


def test_adam_first_step_moves_every_coordinate_by_lr():
    # m_hat = g and v_hat = g^2 after one step, so the step is lr * g / (|g| + eps).
    got = run(lambda p: Adam(p, lr=0.1), steps=1, gradient=lambda x: np.array([1e3, -1e-3]))[0]
    np.testing.assert_allclose(got, X0 - 0.1 * np.array([1.0, -1.0]), rtol=1e-5)


def test_adamw_decays_the_weights_without_a_gradient_signal():
    param = make_param([4.0])
    optimizer = AdamW([param], lr=0.1, weight_decay=0.5)
    set_grad(param, [0.0])
    optimizer.step()
    np.testing.assert_allclose(param.data, [4.0 * (1 - 0.1 * 0.5)], rtol=1e-12)


# ------------------------------------------------------------------------ convergence

CURVATURE = np.array([1.0, 10.0])
MINIMUM = np.array([3.0, -1.0])

CONVERGING = [
    ("sgd", lambda p: SGD(p, lr=0.05)),
    ("sgd-momentum", lambda p: SGD(p, lr=0.02, momentum=0.9)),
    ("sgd-nesterov", lambda p: SGD(p, lr=0.02, momentum=0.9, nesterov=True)),
    ("sgd-dampening", lambda p: SGD(p, lr=0.05, momentum=0.5, dampening=0.5)),
    ("adam", lambda p: Adam(p, lr=0.1)),
    ("adam-amsgrad", lambda p: Adam(p, lr=0.1, amsgrad=True)),
    ("adamw", lambda p: AdamW(p, lr=0.1, weight_decay=0.0)),
    ("rmsprop", lambda p: RMSprop(p, lr=0.01)),
    ("rmsprop-centered-momentum", lambda p: RMSprop(p, lr=0.005, momentum=0.5, centered=True)),
    ("adagrad", lambda p: Adagrad(p, lr=1.0)),
    ("adagrad-lr-decay", lambda p: Adagrad(p, lr=1.0, lr_decay=1e-3)),
]


@pytest.mark.parametrize("maximize", [False, True], ids=["minimize", "maximize"])
@pytest.mark.parametrize("row", CONVERGING, ids=[row[0] for row in CONVERGING])
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(row, maximize):
    """f(x) = sum(a (x - c)^2) / 2 through the real autograd; ``maximize`` climbs -f instead."""
    _, factory = row
    param = make_param([0.0, 0.0])
    optimizer = factory([param])
    for group in optimizer.param_groups:
        group["maximize"] = maximize
    sign = -1.0 if maximize else 1.0
    for _ in range(500):
        optimizer.zero_grad()
        loss = ((param - MINIMUM) * (param - MINIMUM) * CURVATURE).sum() * (0.5 * sign)
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(param.data, MINIMUM, atol=2e-3)


def test_weight_decay_moves_the_minimum_towards_zero():
    # argmin of x^2 + (wd/2) x^2 ... for f = (x - 3)^2 / 2 with L2 wd: x* = 3 / (1 + wd)
    param = make_param([0.0])
    optimizer = SGD([param], lr=0.1, weight_decay=0.5)
    for _ in range(300):
        set_grad(param, param.data - 3.0)
        optimizer.step()
    np.testing.assert_allclose(param.data, [3.0 / 1.5], rtol=1e-9)


# ------------------------------------------------------------------------ mechanics

ALL_STATE = [  # configurations that create every kind of state buffer
    ("sgd-momentum", lambda p: SGD(p, lr=0.1, momentum=0.9)),
    ("adam-amsgrad", lambda p: Adam(p, lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("adamw", lambda p: AdamW(p, lr=0.1)),
    ("rmsprop-centered-momentum", lambda p: RMSprop(p, momentum=0.9, centered=True)),
    ("adagrad", lambda p: Adagrad(p, lr_decay=0.1, initial_accumulator_value=0.1)),
]
STATE_IDS = [row[0] for row in ALL_STATE]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", ALL_STATE, ids=STATE_IDS)
def test_parameters_and_state_keep_their_dtype_and_memory(row, dtype):
    param = make_param(dtype=dtype)
    array = param.data
    optimizer = row[1]([param])
    for _ in range(3):
        set_grad(param, 2 * param.data)
        optimizer.step()
    assert param.data is array, "the update must happen in place"
    assert param.dtype == dtype
    assert param.grad_fn is None and param.requires_grad
    arrays = [v for v in optimizer.state[param].values() if isinstance(v, np.ndarray)]
    assert arrays, "these options keep state arrays"
    assert all(a.dtype == dtype and a.shape == param.shape for a in arrays)
    assert not np.allclose(param.data, X0)


def test_numpy_scalar_hyperparameters_keep_float32_state():
    param = make_param(dtype=np.float32)
    optimizer = SGD([param], lr=np.float64(0.1), momentum=np.float64(0.9),
                    weight_decay=np.float64(0.1))
    for _ in range(2):
        set_grad(param, [1.0, 1.0])
        optimizer.step()
    assert param.dtype == np.float32
    assert optimizer.state[param]["momentum_buffer"].dtype == np.float32


@pytest.mark.parametrize("row", ALL_STATE, ids=STATE_IDS)
def test_parameters_without_gradient_are_skipped(row):
    moving, frozen = make_param(), make_param()
    optimizer = row[1]([moving, frozen])
    set_grad(moving, [1.0, 1.0])
    optimizer.step()
    np.testing.assert_array_equal(frozen.data, X0)
    assert optimizer.state[frozen].get("step", 0) == 0
    assert not np.array_equal(moving.data, X0)


def test_zero_grad_sets_to_none_or_zeros_in_place():
    a, b = make_param(), make_param()
    optimizer = SGD([a, b], lr=0.1)
    set_grad(a, [1.0, 2.0])
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None

    set_grad(a, [1.0, 2.0])
    grad = a.grad
    optimizer.zero_grad(set_to_none=False)
    assert a.grad is grad
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    assert b.grad is None


def test_zero_grad_of_a_graph_gradient_replaces_it():
    param = make_param()
    (param * param).sum().backward(create_graph=True)
    graph_grad = param.grad
    SGD([param]).zero_grad(set_to_none=False)
    assert param.grad is not graph_grad and not param.grad.requires_grad
    np.testing.assert_array_equal(param.grad.data, [0.0, 0.0])
    assert not np.array_equal(graph_grad.data, [0.0, 0.0])


def test_step_with_closure_reevaluates_and_returns_the_loss():
    param = make_param()
    optimizer = SGD([param], lr=0.1)
    calls = []

    def closure():
        optimizer.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == pytest.approx(5.0) and calls == [pytest.approx(5.0)]
    np.testing.assert_allclose(param.data, 0.8 * X0)
    assert optimizer.step() is None


def test_gradient_of_the_wrong_shape_or_dtype_is_an_error():
    param = make_param()
    optimizer = SGD([param])
    param.grad = Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\).*gradient of shape \(3,\)"):
        optimizer.step()
    param.grad = Tensor(np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="float32 gradient"):
        optimizer.step()


# ------------------------------------------------------------------------ param groups


def test_param_groups_with_different_learning_rates():
    slow, fast = make_param(), make_param()
    optimizer = SGD([{"params": [slow]}, {"params": fast, "lr": 0.1}], lr=0.01, momentum=0.0)
    for param in (slow, fast):
        set_grad(param, [1.0, 1.0])
    optimizer.step()
    np.testing.assert_allclose(slow.data, X0 - 0.01)
    np.testing.assert_allclose(fast.data, X0 - 0.1)
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.1]


def test_every_group_holds_every_option():
    param = make_param()
    optimizer = Adam([{"params": [param], "betas": (0.5, 0.9)}], lr=0.2)
    (group,) = optimizer.param_groups
    assert len(group["params"]) == 1 and group["params"][0] is param
    assert group["betas"] == (0.5, 0.9) and group["lr"] == 0.2
    assert set(group) == {"params", *optimizer.defaults}


def test_group_options_override_defaults_per_group():
    with_momentum, without = make_param(), make_param()
    optimizer = SGD([{"params": [with_momentum], "momentum": 0.9}, {"params": [without]}], lr=0.1)
    for _ in range(2):
        for param in (with_momentum, without):
            set_grad(param, [1.0, 1.0])
        optimizer.step()
    np.testing.assert_allclose(with_momentum.data, X0 - 0.1 * (1 + 1.9))
    np.testing.assert_allclose(without.data, X0 - 0.2)
    assert "momentum_buffer" in optimizer.state[with_momentum]
    assert not optimizer.state[without]


def test_add_param_group_trains_the_new_group():
    first, later = make_param(), make_param()
    optimizer = Adam([first], lr=0.1)
    optimizer.add_param_group({"params": [later], "lr": 0.5})
    assert optimizer.param_groups[1]["betas"] == (0.9, 0.999)
    set_grad(later, [1.0, -1.0])
    optimizer.step()
    np.testing.assert_allclose(later.data, X0 - 0.5 * np.array([1.0, -1.0]), rtol=1e-6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [first]})


def test_adagrad_initialises_state_for_groups_added_later():
    first, later = make_param(), make_param()
    optimizer = Adagrad([first], lr=0.1, initial_accumulator_value=1.0)
    optimizer.add_param_group({"params": [later]})
    set_grad(later, [1.0, 1.0])
    optimizer.step()
    np.testing.assert_allclose(later.data, X0 - 0.1 / (np.sqrt(2.0) + 1e-10))


# ------------------------------------------------------------------------ construction errors


@pytest.mark.parametrize(
    "params, error, match",
    [
        ([], ValueError, "empty parameter list"),
        ([np.zeros(2)], TypeError, "can only optimize Tensors.*ndarray"),
        (lambda: make_param(), TypeError, "single Tensor"),
        (lambda: [make_param() * 2], ValueError, "non-leaf"),
        (lambda: {make_param()}, TypeError, "not a set"),
        (lambda: [{"params": {make_param()}}], TypeError, "not a set"),
        (lambda: [{"params": [make_param()]}, make_param()], TypeError, "must be a dict"),
        (lambda: [{"lr": 0.1}], ValueError, "'params'"),
        (lambda: (lambda p: [p, p])(make_param()), ValueError, "more than once"),
        (lambda: (lambda p: [{"params": [p]}, {"params": [p]}])(make_param()), ValueError,
         "more than one parameter group"),
    ],
    ids=["empty", "ndarray", "bare-tensor", "non-leaf", "set", "set-in-group",
         "mixed", "no-params", "duplicate", "duplicate-across-groups"],
)
def test_bad_params_are_rejected(params, error, match):
    if callable(params):
        params = params()
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


@pytest.mark.parametrize(
    "optimizer_class, options, match",
    [
        (SGD, {"lr": -0.1}, "Invalid learning rate: -0.1"),
        (SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
        (SGD, {"weight_decay": -1e-4}, "Invalid weight_decay value: -0.0001"),
        (SGD, {"nesterov": True}, "Nesterov momentum requires.*momentum=0"),
        (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
         "Nesterov momentum requires.*dampening=0.1"),
        (Adam, {"lr": -1.0}, "Invalid learning rate: -1.0"),
        (Adam, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
        (Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        (Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        (Adam, {"weight_decay": -2.0}, "Invalid weight_decay value: -2.0"),
        (AdamW, {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
        (AdamW, {"lr": -3.0}, "Invalid learning rate: -3.0"),
        (RMSprop, {"alpha": -0.9}, "Invalid alpha value: -0.9"),
        (RMSprop, {"momentum": -1.0}, "Invalid momentum value: -1.0"),
        (RMSprop, {"eps": -1.0}, "Invalid epsilon value: -1.0"),
        (RMSprop, {"lr": -0.01}, "Invalid learning rate: -0.01"),
        (Adagrad, {"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
        (Adagrad, {"initial_accumulator_value": -1.0},
         "Invalid initial_accumulator_value value: -1.0"),
        (Adagrad, {"eps": -0.5}, "Invalid epsilon value: -0.5"),
        (Adagrad, {"weight_decay": -0.5}, "Invalid weight_decay value: -0.5"),
    ],
)
def test_bad_hyperparameters_name_the_value(optimizer_class, options, match):
    with pytest.raises(ValueError, match=match):
        optimizer_class([make_param()], **options)


def test_group_options_are_validated_too():
    with pytest.raises(ValueError, match="Invalid learning rate: -5"):
        SGD([{"params": [make_param()], "lr": -5}], lr=0.1)


def test_defaults_match_pytorch():
    param = make_param()
    assert SGD([param]).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                                         nesterov=False, maximize=False)
    assert Adam([param]).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                                          amsgrad=False, maximize=False,
                                          decoupled_weight_decay=False)
    adamw = AdamW([param]).defaults
    assert adamw["weight_decay"] == 1e-2 and adamw["decoupled_weight_decay"] is True
    assert RMSprop([param]).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
                                             momentum=0, centered=False, maximize=False)
    assert Adagrad([param]).defaults == dict(lr=1e-2, lr_decay=0, weight_decay=0,
                                             initial_accumulator_value=0, eps=1e-10,
                                             maximize=False)
    assert issubclass(AdamW, Adam) and issubclass(SGD, Optimizer)


# ------------------------------------------------------------------------ state dicts


def gradients(count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((2,)) * np.exp(rng.normal()) for _ in range(count)]


@pytest.mark.parametrize("row", ALL_STATE, ids=STATE_IDS)
def test_state_dict_round_trip_continues_the_same_trajectory(row):
    factory = row[1]
    grads = gradients(8)
    original = make_param()
    optimizer = factory([original])
    for grad in grads[:3]:
        set_grad(original, grad)
        optimizer.step()
    saved = optimizer.state_dict()

    restored = make_param(original.data.copy())
    other = factory([restored])
    other.load_state_dict(saved)
    for grad in grads[3:]:
        for param, opt in ((original, optimizer), (restored, other)):
            set_grad(param, grad)
            opt.step()
    np.testing.assert_array_equal(restored.data, original.data)
    for key, value in optimizer.state[original].items():
        np.testing.assert_array_equal(other.state[restored][key], value)


def test_state_dict_is_a_snapshot_and_loading_copies():
    param = make_param()
    optimizer = Adam([param], lr=0.1)
    set_grad(param, [1.0, 1.0])
    optimizer.step()
    saved = optimizer.state_dict()
    exp_avg = saved["state"][0]["exp_avg"].copy()
    optimizer.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], exp_avg)

    other = Adam([make_param()], lr=0.1)
    other.load_state_dict(saved)
    saved["state"][0]["exp_avg"][:] = 123.0
    saved["param_groups"][0]["betas"] = (0.0, 0.0)
    np.testing.assert_array_equal(other.state[other.param_groups[0]["params"][0]]["exp_avg"],
                                  exp_avg)
    assert other.param_groups[0]["betas"] == (0.9, 0.999)


def test_state_dict_layout_is_pytorchs():
    a, b, c = make_param(), make_param([1.0]), make_param()
    optimizer = SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for param in (a, c):
        set_grad(param, np.ones(param.shape))
    optimizer.step()
    saved = optimizer.state_dict()
    assert set(saved) == {"state", "param_groups"}
    assert sorted(saved["state"]) == [0, 2]
    assert set(saved["state"][2]) == {"momentum_buffer"}
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]
    assert saved["param_groups"][1]["lr"] == 0.5 and saved["param_groups"][0]["momentum"] == 0.9
    assert not any(isinstance(v, Tensor) for g in saved["param_groups"] for v in g.values())


def test_load_state_dict_restores_options_and_casts_to_the_param_dtype():
    source = SGD([make_param()], lr=0.5, momentum=0.9)
    set_grad(source.param_groups[0]["params"][0], [1.0, 1.0])
    source.step()
    target_param = make_param(dtype=np.float32)
    target = SGD([target_param], lr=0.01)
    target.load_state_dict(source.state_dict())
    assert target.param_groups[0]["lr"] == 0.5 and target.param_groups[0]["momentum"] == 0.9
    assert target.param_groups[0]["params"][0] is target_param
    assert target.state[target_param]["momentum_buffer"].dtype == np.float32


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter group"),
        (lambda sd: sd["param_groups"][0]["params"].append(7), "group 0 has 3 parameter"),
        (lambda sd: sd["state"].__setitem__(0, {"exp_avg": np.zeros(5), "step": 1}),
         r"'exp_avg' of parameter 0 has shape \(5,\).*\(2,\)"),
        (lambda sd: sd["state"].__setitem__(9, {"step": 1}), "unknown parameter index 9"),
        (lambda sd: sd.pop("state"), "no 'state' entry"),
        (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "Invalid learning rate"),
    ],
    ids=["group-count", "param-count", "shape", "unknown-index", "not-a-state-dict", "bad-lr"],
)
def test_load_state_dict_rejects_mismatches(change, match):
    params = [make_param(), make_param()]
    optimizer = Adam(params, lr=0.1)
    for param in params:
        set_grad(param, [1.0, 1.0])
    optimizer.step()
    saved = optimizer.state_dict()
    change(saved)
    fresh = Adam([make_param(), make_param()], lr=0.1)
    with pytest.raises(ValueError, match=match):
        fresh.load_state_dict(saved)


def test_repr_lists_each_group():
    text = repr(SGD([make_param()], lr=0.25))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.25" in text


# ------------------------------------------------------------------------ a small network


def two_blobs(count=64, seed=0):
    """Two well-separated classes in the plane, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    centres = np.array([[-2.0, 1.0], [2.0, -1.0]])
    return centres[labels] + 0.5 * rng.standard_normal((count, 2)), labels


def train_mlp(factory, steps):
    rng = np.random.default_rng(1)
    inputs, labels = two_blobs()
    w1 = make_param(rng.standard_normal((16, 2)) * 0.5)
    b1 = make_param(np.zeros(16))
    w2 = make_param(rng.standard_normal((2, 16)) * 0.25)
    b2 = make_param(np.zeros(2))
    optimizer = factory([w1, b1, w2, b2])
    x = Tensor(inputs)
    for _ in range(steps):
        optimizer.zero_grad()
        hidden = (x @ w1.T + b1).relu()
        log_probs = (hidden @ w2.T + b2).log_softmax(axis=-1)
        loss = -log_probs[np.arange(len(labels)), labels].mean()
        loss.backward()
        optimizer.step()
    return loss.item()


@pytest.mark.parametrize(
    "factory",
    [
        lambda p: SGD(p, lr=0.1, momentum=0.9),
        lambda p: Adam(p, lr=0.02),
        lambda p: AdamW(p, lr=0.02),
        lambda p: RMSprop(p, lr=0.01),
        lambda p: Adagrad(p, lr=0.1),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"],
)
def test_a_two_layer_mlp_learns_a_separable_problem(factory):
    assert train_mlp(factory, steps=1) > 0.3
    assert train_mlp(factory, steps=100) < 0.02


def test_frozen_parameters_are_accepted_and_left_alone():
    # As in PyTorch: a tensor with requires_grad=False never gets a gradient, so step skips it.
    frozen = Tensor(np.array([1.0, 2.0]))
    trained = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    optimizer = SGD([frozen, trained], lr=0.5)
    (trained * trained).sum().backward()
    optimizer.step()
    assert np.array_equal(frozen.data, [1.0, 2.0])
    assert np.allclose(trained.data, [0.0, 0.0])

"""Optimizers and schedulers against PyTorch's: same gradients in, same trajectories out.

Each row runs one optimizer configuration on both sides with identical inputs for 25 steps
and compares the parameters after every step (float64, 1e-6 relative, and in practice
equal to rounding).
"""

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="parity tests compare with PyTorch, an optional test dependency"
)

from tinygrad_edu import Tensor, optim  # noqa: E402
from tinygrad_edu.optim import lr_scheduler  # noqa: E402

STEPS = 25
SHAPE = (3, 4)

OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "maximize": True, "amsgrad": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3, "maximize": True}),
]


def case_id(case):
    name, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


def gradient_sequence(seed):
    """Random gradients whose scale changes a lot from step to step (so AMSGrad's max matters)."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.normal(0, 1.5, size=STEPS))
    return [scale * rng.standard_normal(SHAPE) for scale in scales]


def run_both(name, options, gradients_of, dtype=np.float64):
    """Step both libraries with the gradients ``gradients_of(step, params)`` gives, side by side."""
    start = np.random.default_rng(0).standard_normal(SHAPE).astype(dtype)
    ours = Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    our_optimizer = getattr(optim, name)([ours], **options)
    their_optimizer = getattr(torch.optim, name)([theirs], **options)
    pairs = []
    for step in range(STEPS):
        ours.grad = Tensor(gradients_of(step, ours.data).astype(dtype))
        theirs.grad = torch.from_numpy(gradients_of(step, theirs.detach().numpy()).astype(dtype))
        our_optimizer.step()
        their_optimizer.step()
        pairs.append((ours.data.copy(), theirs.detach().numpy().copy()))
    return our_optimizer, their_optimizer, pairs


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=case_id)
def test_trajectory_on_fixed_random_gradients(case):
    gradients = gradient_sequence(1)
    _, _, pairs = run_both(*case, lambda step, param: gradients[step])
    for step, (ours, theirs) in enumerate(pairs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12, err_msg=f"step {step}")


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=case_id)
def test_trajectory_on_a_quadratic(case):
    curvature = np.linspace(0.5, 3.0, 12).reshape(SHAPE)
    _, _, pairs = run_both(*case, lambda step, param: curvature * (param - 1.0))
    for step, (ours, theirs) in enumerate(pairs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12, err_msg=f"step {step}")


@pytest.mark.parametrize("case", OPTIMIZER_CASES[::4], ids=case_id)
def test_float32_trajectory(case):
    gradients = gradient_sequence(2)
    _, _, pairs = run_both(*case, lambda step, param: gradients[step], dtype=np.float32)
    for step, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6, err_msg=f"step {step}")


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=case_id)
def test_state_dict_layout_matches(case):
    gradients = gradient_sequence(3)
    ours, theirs, _ = run_both(*case, lambda step, param: gradients[step])
    our_dict, their_dict = ours.state_dict(), theirs.state_dict()
    assert our_dict["state"].keys() == their_dict["state"].keys()
    for index, their_state in their_dict["state"].items():
        our_state = our_dict["state"][index]
        assert our_state.keys() == their_state.keys()
        for key, value in their_state.items():
            np.testing.assert_allclose(our_state[key], np.asarray(value), rtol=1e-6, atol=1e-12)
    for our_group, their_group in zip(our_dict["param_groups"], their_dict["param_groups"],
                                      strict=True):
        assert set(our_group) <= set(their_group)
        for key, value in our_group.items():
            assert their_group[key] == value, key


def test_param_groups_with_their_own_options():
    start = np.random.default_rng(0).standard_normal((2, 3))
    gradients = gradient_sequence(4)
    ours = [Tensor(row.copy(), requires_grad=True) for row in start]
    theirs = [torch.tensor(row.copy(), requires_grad=True) for row in start]

    def groups(params):
        return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.01, "momentum": 0.5}]

    our_optimizer = optim.SGD(groups(ours), lr=0.1, momentum=0.9, nesterov=False)
    their_optimizer = torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        for index in range(2):
            grad = gradients[step][index, :3]
            ours[index].grad = Tensor(grad.copy())
            theirs[index].grad = torch.from_numpy(grad.copy())
        our_optimizer.step()
        their_optimizer.step()
        for our, their in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(our.data, their.detach().numpy(), rtol=1e-6, atol=1e-12)


# ------------------------------------------------------------------------ schedulers

SCHEDULER_CASES = [
    ("SGD", "StepLR", {"step_size": 3, "gamma": 0.5}, 30),
    ("SGD", "MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}, 15),
    ("SGD", "ExponentialLR", {"gamma": 0.9}, 30),
    ("SGD", "CosineAnnealingLR", {"T_max": 10}, 45),
    ("Adam", "CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, 45),
    ("SGD", "OneCycleLR", {"max_lr": 1.0, "total_steps": 30}, 30),
    ("SGD", "OneCycleLR", {"max_lr": [1.0, 0.5], "epochs": 4, "steps_per_epoch": 5,
                           "three_phase": True}, 20),
    ("Adam", "OneCycleLR", {"max_lr": 0.01, "total_steps": 25, "anneal_strategy": "linear",
                            "pct_start": 0.4, "base_momentum": 0.8}, 25),
    ("RMSprop", "OneCycleLR", {"max_lr": 0.1, "total_steps": 12, "div_factor": 5.0,
                               "final_div_factor": 100.0}, 12),
    ("Adagrad", "OneCycleLR", {"max_lr": 0.1, "total_steps": 12, "cycle_momentum": False}, 12),
]


def scheduler_id(case):
    return f"{case[0]}-{case[1]}-{case[3]}"


def momentum_of(group):
    """SGD/RMSprop momentum, Adam's beta1, or 0.0 for an optimizer with neither (Adagrad)."""
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum", 0.0)


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=scheduler_id)
def test_scheduler_lr_and_momentum_sequences(case):
    optimizer_name, scheduler_name, options, epochs = case
    optimizer_options = {"momentum": 0.9} if optimizer_name in ("SGD", "RMSprop") else {}
    ours = getattr(optim, optimizer_name)(
        [{"params": [Tensor(np.zeros(2), requires_grad=True)]},
         {"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": 0.05}],
        lr=0.1, **optimizer_options,
    )
    theirs = getattr(torch.optim, optimizer_name)(
        [{"params": [torch.zeros(2, requires_grad=True)]},
         {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.05}],
        lr=0.1, **optimizer_options,
    )
    our_scheduler = getattr(lr_scheduler, scheduler_name)(ours, **options)
    their_scheduler = getattr(torch.optim.lr_scheduler, scheduler_name)(theirs, **options)
    for epoch in range(epochs + 1):
        np.testing.assert_allclose(our_scheduler.get_last_lr(), their_scheduler.get_last_lr(),
                                   rtol=1e-9, atol=1e-12, err_msg=f"epoch {epoch}")
        for our_group, their_group in zip(ours.param_groups, theirs.param_groups, strict=True):
            assert our_group["lr"] == pytest.approx(their_group["lr"], rel=1e-9, abs=1e-12)
            assert momentum_of(our_group) == pytest.approx(momentum_of(their_group), rel=1e-9)
        assert our_scheduler.last_epoch == their_scheduler.last_epoch
        if epoch < epochs:
            theirs.step()  # no gradients: nothing moves, but torch wants this order
            our_scheduler.step()
            their_scheduler.step()


def test_one_cycle_refuses_to_step_past_total_steps_like_torch():
    ours = lr_scheduler.OneCycleLR(
        optim.SGD([Tensor(np.zeros(1), requires_grad=True)]), max_lr=0.1, total_steps=4)
    theirs = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)]), max_lr=0.1, total_steps=4)
    for _ in range(4):
        theirs.optimizer.step()
        ours.step()
        theirs.step()
    with pytest.raises(ValueError, match="Tried to step 5 times") as their_error:
        theirs.step()
    with pytest.raises(ValueError) as our_error:
        ours.step()
    assert str(our_error.value) == str(their_error.value)


def test_one_cycle_with_adam_trains_like_torch():
    start = np.random.default_rng(5).standard_normal(SHAPE)
    gradients = gradient_sequence(5)
    ours = Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    our_optimizer = optim.AdamW([ours], weight_decay=0.1)
    their_optimizer = torch.optim.AdamW([theirs], weight_decay=0.1)
    our_scheduler = lr_scheduler.OneCycleLR(our_optimizer, max_lr=0.1, total_steps=STEPS)
    their_scheduler = torch.optim.lr_scheduler.OneCycleLR(their_optimizer, max_lr=0.1,
                                                          total_steps=STEPS)
    for step in range(STEPS):
        ours.grad = Tensor(gradients[step].copy())
        theirs.grad = torch.from_numpy(gradients[step].copy())
        our_optimizer.step()
        their_optimizer.step()
        our_scheduler.step()
        their_scheduler.step()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-12)

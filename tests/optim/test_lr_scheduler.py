"""Learning-rate schedulers against their closed forms, epoch by epoch."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.optim import SGD, Adagrad, Adam, lr_scheduler

BASE_LRS = (0.1, 0.02)


def make_optimizer(optimizer_class=SGD, **options):
    """Two param groups, with learning rates BASE_LRS."""
    params = [Tensor(np.zeros(2), requires_grad=True) for _ in BASE_LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, BASE_LRS, strict=True)]
    return optimizer_class(groups, **options)


def lrs_over(scheduler, epochs):
    """get_last_lr() at epoch 0 (after construction) and after each of ``epochs`` steps."""
    history = [scheduler.get_last_lr()]
    for _ in range(epochs):
        scheduler.optimizer.step()
        scheduler.step()
        history.append(scheduler.get_last_lr())
    return np.array(history)


def expected(rule, epochs):
    return np.array([[rule(base, epoch) for base in BASE_LRS] for epoch in range(epochs + 1)])


def one_cycle_lr(step, start, peak, end, warm_up_end, last_step, cos=True):
    """The two-phase 1cycle value at ``step``, written out from the policy's definition."""
    if step <= warm_up_end:
        low, high, pct = start, peak, step / warm_up_end
    else:
        low, high, pct = peak, end, (step - warm_up_end) / (last_step - warm_up_end)
    if cos:
        return high + (low - high) * (1 + math.cos(math.pi * pct)) / 2
    return low + (high - low) * pct


CLOSED_FORMS = [
    ("step", lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
     lambda base, e: base * 0.5 ** (e // 3)),
    ("step-default-gamma", lambda o: lr_scheduler.StepLR(o, step_size=4),
     lambda base, e: base * 0.1 ** (e // 4)),
    ("multistep", lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5),
     lambda base, e: base * 0.5 ** sum(m <= e for m in [3, 7, 7, 12])),
    ("exponential", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
     lambda base, e: base * 0.9**e),
    ("cosine", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10),
     lambda base, e: base * (1 + math.cos(math.pi * e / 10)) / 2),
    ("cosine-eta-min", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.005),
     lambda base, e: 0.005 + (base - 0.005) * (1 + math.cos(math.pi * e / 6)) / 2),
    ("one-cycle", lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=20, pct_start=0.25),
     lambda base, e: one_cycle_lr(e, 1.0 / 25, 1.0, 1.0 / 25 / 1e4, 4.0, 19)),
    ("one-cycle-linear",
     lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.5, 2.0], epochs=3, steps_per_epoch=5,
                                       anneal_strategy="linear", div_factor=10.0,
                                       final_div_factor=100.0),
     None),  # per-group max_lr: checked below against its own rule
]


@pytest.mark.parametrize("row", [r for r in CLOSED_FORMS if r[2]], ids=lambda r: r[0])
def test_learning_rates_follow_the_closed_form(row):
    _, make_scheduler, rule = row
    epochs = 19 if "one-cycle" in row[0] else 30
    got = lrs_over(make_scheduler(make_optimizer(momentum=0.9)), epochs)
    np.testing.assert_allclose(got, expected(rule, epochs), rtol=1e-9, atol=1e-15)


def test_one_cycle_with_per_group_max_lr_and_linear_annealing():
    scheduler = CLOSED_FORMS[-1][1](make_optimizer(momentum=0.9))
    assert scheduler.total_steps == 15
    got = lrs_over(scheduler, 14)
    for group, max_lr in enumerate([0.5, 2.0]):
        want = [one_cycle_lr(s, max_lr / 10, max_lr, max_lr / 10 / 100, 0.3 * 15 - 1, 14,
                             cos=False) for s in range(15)]
        np.testing.assert_allclose(got[:, group], want, rtol=1e-12)
    np.testing.assert_allclose(got[-1], [0.5 / 1000, 2.0 / 1000])


def test_one_cycle_three_phases():
    scheduler = lr_scheduler.OneCycleLR(make_optimizer(momentum=0.9), max_lr=1.0, total_steps=20,
                                        pct_start=0.25, three_phase=True)
    got = lrs_over(scheduler, 19)[:, 0]
    initial, minimum = 1.0 / 25, 1.0 / 25 / 1e4

    def cos(low, high, pct):
        return high + (low - high) * (1 + math.cos(math.pi * pct)) / 2

    want = [cos(initial, 1.0, s / 4) if s <= 4
            else cos(1.0, initial, (s - 4) / 4) if s <= 8
            else cos(initial, minimum, (s - 8) / 11) for s in range(20)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[4] == pytest.approx(1.0) and got[8] == pytest.approx(initial)


@pytest.mark.parametrize("optimizer_class, read_momentum",
                         [(SGD, lambda g: g["momentum"]), (Adam, lambda g: g["betas"][0])],
                         ids=["sgd-momentum", "adam-beta1"])
def test_one_cycle_cycles_momentum_opposite_to_the_lr(optimizer_class, read_momentum):
    optimizer = make_optimizer(optimizer_class)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=20, pct_start=0.25,
                                        base_momentum=0.8, max_momentum=0.9)
    momenta = [read_momentum(optimizer.param_groups[0])]
    for _ in range(19):
        scheduler.step()
        momenta.append(read_momentum(optimizer.param_groups[0]))
    # momentum goes max -> base while the lr warms up, then base -> max
    want = [one_cycle_lr(s, 0.9, 0.8, 0.9, 4.0, 19) for s in range(20)]
    np.testing.assert_allclose(momenta, want, rtol=1e-12)
    assert momenta[0] == pytest.approx(0.9) and momenta[4] == pytest.approx(0.8)
    if optimizer_class is Adam:
        assert optimizer.param_groups[0]["betas"][1] == 0.999
    group = optimizer.param_groups[0]
    assert (group["max_momentum"], group["base_momentum"]) == (0.9, 0.8)
    assert group["max_lr"] == 1.0 and group["min_lr"] == pytest.approx(1.0 / 25 / 1e4)


def test_one_cycle_refuses_to_step_past_total_steps():
    scheduler = lr_scheduler.OneCycleLR(make_optimizer(), max_lr=0.1, total_steps=5)
    for _ in range(5):
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 6 times. The specified number of total "
                                         "steps is 5"):
        scheduler.step()


@pytest.mark.parametrize(
    "options, match",
    [
        ({}, "either total_steps OR"),
        ({"total_steps": 0}, "positive integer total_steps, but got 0"),
        ({"epochs": 2, "steps_per_epoch": -1}, "steps_per_epoch, but got -1"),
        ({"epochs": 0, "steps_per_epoch": 3}, "epochs, but got 0"),
        ({"total_steps": 10, "pct_start": 1.5}, "pct_start, but got 1.5"),
        ({"total_steps": 10, "anneal_strategy": "exp"}, "instead got exp"),
        ({"total_steps": 10, "max_lr": [0.1, 0.2, 0.3]}, "max_lr has 3 values, param_groups has 2"),
    ],
)
def test_one_cycle_validates_its_arguments(options, match):
    options = {"max_lr": 0.1, **options}
    with pytest.raises(ValueError, match=match):
        lr_scheduler.OneCycleLR(make_optimizer(), **options)


def test_one_cycle_needs_momentum_or_betas_to_cycle():
    with pytest.raises(ValueError, match="momentum or beta1.*Adagrad has neither"):
        lr_scheduler.OneCycleLR(make_optimizer(Adagrad), max_lr=0.1, total_steps=10)
    scheduler = lr_scheduler.OneCycleLR(make_optimizer(Adagrad), max_lr=0.1, total_steps=10,
                                        cycle_momentum=False)
    assert scheduler.get_last_lr() == [pytest.approx(0.1 / 25)] * 2


def test_cosine_closed_form_equals_pytorchs_recursive_form():
    """PyTorch updates lr_e from lr_{e-1}; with only step() changing the lr they agree."""
    t_max, eta_min, base = 7, 0.01, 0.1
    scheduler = lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=t_max, eta_min=eta_min)
    got = lrs_over(scheduler, 4 * t_max)[:, 0]
    recursive = [base]
    for e in range(1, 4 * t_max + 1):
        previous = recursive[-1]
        if (e - 1 - t_max) % (2 * t_max) == 0:
            recursive.append(previous + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2)
        else:
            ratio = (1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max))
            recursive.append(eta_min + (previous - eta_min) * ratio)
    np.testing.assert_allclose(got, recursive, rtol=1e-9)


def test_step_lr_composes_with_lr_changes_made_outside():
    optimizer = make_optimizer()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    scheduler.step()
    optimizer.param_groups[0]["lr"] = 1.0
    scheduler.step()
    assert scheduler.get_last_lr()[0] == 0.5


def test_the_optimizer_steps_with_the_scheduled_lr():
    param = Tensor(np.zeros(1), requires_grad=True)
    optimizer = SGD([param], lr=1.0)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    for _ in range(3):
        param.grad = Tensor(np.ones(1))
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(param.data, [-(1.0 + 0.5 + 0.25)])


def test_initial_lr_base_lrs_and_last_epoch():
    optimizer = make_optimizer()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    assert [g["initial_lr"] for g in optimizer.param_groups] == list(BASE_LRS)
    assert scheduler.base_lrs == list(BASE_LRS) and scheduler.last_epoch == 0
    scheduler.step()
    scheduler.step()
    assert scheduler.last_epoch == 2
    assert [g["initial_lr"] for g in optimizer.param_groups] == list(BASE_LRS)
    last = scheduler.get_last_lr()
    last[0] = 123.0
    assert scheduler.get_last_lr()[0] == pytest.approx(0.025)


ROUND_TRIPS = [
    ("step", lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ("multistep", lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 6, 9])),
    ("exponential", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8)),
    ("cosine", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.001)),
    ("one-cycle", lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=15)),
]


@pytest.mark.parametrize("row", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_state_dict_round_trip_resumes_the_schedule(row):
    _, make_scheduler = row
    optimizer = make_optimizer(momentum=0.9)
    scheduler = make_scheduler(optimizer)
    for _ in range(5):
        scheduler.step()
    scheduler_state, optimizer_state = scheduler.state_dict(), optimizer.state_dict()
    assert "optimizer" not in scheduler_state and scheduler_state["last_epoch"] == 5

    resumed_optimizer = make_optimizer(momentum=0.9)
    resumed = make_scheduler(resumed_optimizer)
    resumed_optimizer.load_state_dict(optimizer_state)
    resumed.load_state_dict(scheduler_state)
    np.testing.assert_allclose(lrs_over(resumed, 9), lrs_over(scheduler, 9), rtol=1e-12)
    for ours, theirs in zip(resumed_optimizer.param_groups, optimizer.param_groups, strict=True):
        assert ours["momentum"] == pytest.approx(theirs["momentum"])


def test_scheduler_state_dict_does_not_alias():
    scheduler = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[2, 4])
    saved = scheduler.state_dict()
    saved["milestones"][3] = 1
    saved["base_lrs"][0] = 9.0
    assert 3 not in scheduler.milestones and scheduler.base_lrs[0] == BASE_LRS[0]


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size.*got 0"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max.*got 0"),
        (lambda o: lr_scheduler.ExponentialLR(object(), gamma=0.5), TypeError,
         "object is not an Optimizer"),
        (lambda o: lr_scheduler.OneCycleLR("sgd", max_lr=0.1, total_steps=3), TypeError,
         "str is not an Optimizer"),
    ],
    ids=["step-size", "t-max", "not-an-optimizer", "one-cycle-not-an-optimizer"],
)
def test_bad_scheduler_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make(make_optimizer())

"""Learning-rate schedulers: change each param group's ``lr`` as training goes on.

Same names, arguments and learning rates as ``torch.optim.lr_scheduler``. Use::

    optimizer = SGD(params, lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(optimizer)          # optimizer.step() inside
        scheduler.step()                    # after the optimizer's steps

Creating a scheduler records each group's starting lr as ``group['initial_lr']`` (kept in
``scheduler.base_lrs``) and sets the lr for epoch 0. Every ``step()`` adds one to
``last_epoch`` and writes the lr for that epoch into the groups; ``get_last_lr()`` reads it.

The schedules, with lr_0 = base lr and e = last_epoch::

    StepLR             lr_e = lr_0 * gamma ** (e // step_size)
    MultiStepLR        lr_e = lr_0 * gamma ** (number of milestones <= e)
    ExponentialLR      lr_e = lr_0 * gamma ** e
    CosineAnnealingLR  lr_e = eta_min + (lr_0 - eta_min) * (1 + cos(pi * e / T_max)) / 2
    OneCycleLR         warm up from max_lr / div_factor to max_lr, then anneal down to
                       max_lr / div_factor / final_div_factor (see the class)

StepLR, MultiStepLR and ExponentialLR work as PyTorch's do: they *multiply the group's
current lr* by gamma at the right epochs, so they compose with changes made from outside.
CosineAnnealingLR uses the closed form above; PyTorch's recursive form
``lr_e = eta_min + (lr_{e-1} - eta_min) * (1 + cos(pi e / T_max)) / (1 + cos(pi (e-1) / T_max))``
gives the same numbers (to rounding) when only ``step()`` changes the lr, but unlike it the
closed form ignores lr changes made from outside.

Differences from PyTorch: ``step()`` takes no ``epoch`` argument (deprecated there) and
constructors take no ``last_epoch``: to resume, create the scheduler and call
``load_state_dict``. No warning is given if ``scheduler.step()`` comes before
``optimizer.step()``.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses write ``get_lr()``, the lrs for epoch ``self.last_epoch``."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """The lr of every param group at epoch ``last_epoch`` (called by ``step``).

        To read the current lrs, use :meth:`get_last_lr`.
        """
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set its learning rates in the optimizer's groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything the scheduler holds except the optimizer (as PyTorch)."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (load the optimizer's own state dict separately)."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: lr_0 * gamma ** (e // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``.

    lr_e = lr_0 * gamma ** (number of milestones <= e); a milestone listed twice counts twice.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._group_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: lr_e = lr_0 * gamma ** e."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base lr down to ``eta_min`` over ``T_max`` epochs.

    lr_e = eta_min + (lr_0 - eta_min) * (1 + cos(pi * e / T_max)) / 2. Past T_max the cosine
    goes on, back up towards lr_0 at 2 * T_max, exactly as PyTorch's scheduler does.
    This is the closed form; see the module docstring for how it relates to PyTorch's
    recursive form.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017): one warm-up and one annealing, stepped per batch.

    With initial_lr = max_lr / div_factor, min_lr = initial_lr / final_div_factor and
    N = total_steps (or epochs * steps_per_epoch), step s of the schedule is in::

        phase 1   s = 0 .. pct_start*N - 1      lr: initial_lr -> max_lr   momentum: max -> base
        phase 2   s = .. N - 1                  lr: max_lr -> min_lr       momentum: base -> max

    or, with ``three_phase=True``::

        phase 1   s = 0 .. pct_start*N - 1      lr: initial_lr -> max_lr   momentum: max -> base
        phase 2   s = .. 2*pct_start*N - 2      lr: max_lr -> initial_lr   momentum: base -> max
        phase 3   s = .. N - 1                  lr: initial_lr -> min_lr   momentum: max

    Within a phase, with pct going from 0 to 1, a value goes from ``start`` to ``end`` along
    half a cosine, ``end + (start - end) * (1 + cos(pi * pct)) / 2`` (``anneal_strategy='cos'``)
    or a straight line, ``start + (end - start) * pct`` (``'linear'``). With
    ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam, AdamW) is cycled between
    ``max_momentum`` and ``base_momentum``, opposite to the lr.

    ``step()`` can be called ``total_steps`` times; one more is a ValueError (as PyTorch).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self.anneal_strategy = anneal_strategy
        self.phases = _phases(pct_start, self.total_steps, three_phase)

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        for group, group_max_lr in zip(optimizer.param_groups, max_lrs, strict=True):
            group["initial_lr"] = group_max_lr / div_factor
            group["max_lr"] = group_max_lr
            group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option "
                    f"enabled; {type(optimizer).__name__} has neither"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            for group, group_max, group_base in zip(
                optimizer.param_groups, max_momentums, base_momentums, strict=True
            ):
                self._set_momentum(group, group_max)
                group["max_momentum"] = group_max
                group["base_momentum"] = group_base
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for number, phase in enumerate(self.phases):
                if step <= phase["end_step"] or number == len(self.phases) - 1:
                    pct = (step - phase_start) / (phase["end_step"] - phase_start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                        self._set_momentum(group, momentum)
                    break
                phase_start = phase["end_step"]
        return lrs

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """From ``start`` (pct = 0) to ``end`` (pct = 1) along half a cosine or a line."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"Expected positive integer epochs, but got {epochs}")
    if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
        raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
    return epochs * steps_per_epoch


def _phases(pct_start: float, total_steps: int, three_phase: bool) -> list[dict[str, Any]]:
    """The 1cycle phases: the step each ends at and the group keys of its start/end values."""
    warm_up_end = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            _phase(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            _phase(float(2 * pct_start * total_steps) - 2,
                   "max_lr", "initial_lr", "base_momentum", "max_momentum"),
            _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]
    return [
        _phase(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
    ]


def _phase(end_step: float, start_lr: str, end_lr: str, start_momentum: str,
           end_momentum: str) -> dict[str, Any]:
    return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": start_momentum, "end_momentum": end_momentum}


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per param group: a list/tuple must have one per group, a number is repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)

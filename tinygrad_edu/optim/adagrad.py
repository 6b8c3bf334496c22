"""Adagrad (Duchi, Hazan & Singer, 2011). PyTorch's ``torch.optim.Adagrad``.

Each parameter keeps the running *sum* of its squared gradients (not a decaying average as
RMSprop and Adam do), so the effective step of every coordinate only ever shrinks.

For each parameter p with gradient g, at step t = 1, 2, ...
(sum = initial_accumulator_value before step 1)::

    if maximize:            g = -g
    if weight_decay != 0:   g = g + weight_decay * p                      (L2 penalty)
    clr = lr / (1 + (t - 1) * lr_decay)                                   (decayed lr)
    sum = sum + g * g
    p = p - clr * g / (sqrt(sum) + eps)

As in PyTorch, the state (step = 0 and the accumulator) exists from construction, not from
the first step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    """Adagrad: ``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10, *, maximize=False)``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param] = self._init_state(param.data, group)

    def _check_options(self, options: dict[str, Any]) -> None:
        if not 0.0 <= options["lr"]:
            raise ValueError(f"Invalid learning rate: {options['lr']}")
        if not 0.0 <= options["lr_decay"]:
            raise ValueError(f"Invalid lr_decay value: {options['lr_decay']}")
        if not 0.0 <= options["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {options['weight_decay']}")
        if not 0.0 <= options["initial_accumulator_value"]:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {options['initial_accumulator_value']}"
            )
        if not 0.0 <= options["eps"]:
            raise ValueError(f"Invalid epsilon value: {options['eps']}")

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(param, group["initial_accumulator_value"])}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        state["step"] += 1
        step = state["step"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum += grad * grad
        std = np.sqrt(state_sum)
        std += group["eps"]
        param -= clr * grad / std

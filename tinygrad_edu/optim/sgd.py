"""Stochastic gradient descent, optionally with (Nesterov) momentum. PyTorch's ``torch.optim.SGD``.

For each parameter p with gradient g, at step t = 1, 2, ...::

    if maximize:            g = -g
    if weight_decay != 0:   g = g + weight_decay * p                      (L2 penalty)
    if momentum != 0:
        if t == 1:          b = g                                         (no dampening)
        else:               b = momentum * b + (1 - dampening) * g
        if nesterov:        g = g + momentum * b
        else:               g = b
    p = p - lr * g

The momentum buffer b starts as the first gradient itself, not as zeros, so the first step
of momentum SGD is a plain SGD step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent: ``SGD(params, lr=1e-3, momentum=0, dampening=0,
    weight_decay=0, nesterov=False, *, maximize=False)``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        if options["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {options['lr']}")
        if options["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {options['momentum']}")
        if options["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {options['weight_decay']}")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={options['momentum']} and dampening={options['dampening']}"
            )

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        momentum = group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.astype(param.dtype)  # a copy
            else:
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= group["lr"] * grad

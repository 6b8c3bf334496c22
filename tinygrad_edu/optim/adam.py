"""Adam: adaptive moment estimation (Kingma & Ba, 2014). PyTorch's ``torch.optim.Adam``.

Each parameter keeps a running mean of its gradients (m, the first moment) and of their
squares (v, the second moment); the step divides one by the square root of the other, so
every coordinate moves by about ``lr`` whatever the scale of its gradient.

For each parameter p with gradient g, at step t = 1, 2, ... (m = v = v_max = 0 before)::

    if maximize:                g = -g
    if weight_decay != 0:
        if decoupled:           p = p * (1 - lr * weight_decay)           (AdamW)
        else:                   g = g + weight_decay * p                  (L2 penalty)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** t        (m and v start at 0, so early averages are
    bias_correction2 = 1 - beta2 ** t         too small by exactly these factors)
    if amsgrad:                 v_max = maximum(v_max, v);  v_used = v_max
    else:                       v_used = v
    denom = sqrt(v_used) / sqrt(bias_correction2) + eps
    p = p - (lr / bias_correction1) * m / denom

eps is added *after* the bias correction of v, as PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT, state_buffer


class Adam(Optimizer):
    """Adam: ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, *, maximize=False, decoupled_weight_decay=False)``.

    ``decoupled_weight_decay=True`` makes it :class:`AdamW` (as in PyTorch 2.x).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        if not 0.0 <= options["lr"]:
            raise ValueError(f"Invalid learning rate: {options['lr']}")
        if not 0.0 <= options["eps"]:
            raise ValueError(f"Invalid epsilon value: {options['eps']}")
        betas = options["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        if not 0.0 <= options["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {options['weight_decay']}")

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step

        second_moment = exp_avg_sq
        if group["amsgrad"]:
            second_moment = state_buffer(state, "max_exp_avg_sq", param)
            np.maximum(second_moment, exp_avg_sq, out=second_moment)
        denom = np.sqrt(second_moment) / math.sqrt(bias_correction2) + group["eps"]
        param -= (lr / bias_correction1) * exp_avg / denom

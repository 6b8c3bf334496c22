"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2017). ``torch.optim.AdamW``.

Adam's ``weight_decay`` adds ``weight_decay * p`` to the gradient, which then gets divided by
sqrt(v) like the rest of it: weights with large gradients are barely decayed. AdamW shrinks
the weights directly instead, outside the adaptive step, before the moments are updated::

    p = p * (1 - lr * weight_decay)
    ... then exactly Adam's update with weight_decay = 0 (see ``adam.py``):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v_used) / sqrt(1 - beta2 ** t) + eps          (v_used = max so far if amsgrad)
    p = p - (lr / (1 - beta1 ** t)) * m / denom

As in PyTorch 2.x, AdamW *is* Adam with ``decoupled_weight_decay=True``; only the default
``weight_decay`` differs (1e-2 here, 0 for Adam).
"""

from __future__ import annotations

from .adam import Adam
from .optimizer import ParamsT


class AdamW(Adam):
    """AdamW: ``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, *, maximize=False)``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad,
            maximize=maximize, decoupled_weight_decay=True,
        )

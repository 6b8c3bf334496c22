"""Optimizers and learning-rate schedulers, shaped like ``torch.optim``.

Each optimizer lives in its own file with its update rule written out in the docstring;
``lr_scheduler`` holds the schedulers. Optimizers only touch ``.data``, ``.grad`` and
``.requires_grad`` of the tensors they are given.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]

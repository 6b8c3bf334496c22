"""Neural-network building blocks, shaped like ``torch.nn``.

    from tinygrad_edu import nn
    from tinygrad_edu.nn import functional as F

``Module``/``Parameter``/``Sequential``/``ModuleList`` (module.py), the layers (layers.py),
stateless functions and losses (``nn.functional``), initialisers (``nn.init``) and parameter
helpers such as gradient clipping and weight penalties (``nn.utils``).
"""

from . import functional, init, utils
from .layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential, StateDictError

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "functional",
    "init",
    "utils",
]

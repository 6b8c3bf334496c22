"""The reference models of the MNIST ladder: softmax regression, an MLP, LeNet-5.

Plain ``nn.Module`` classes: each ``forward`` reads top to bottom like the network's diagram.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import nn
from .tensor import Tensor


class SoftmaxRegression(nn.Module):
    """One linear layer from the 784 pixels to 10 class scores (the softmax is in the loss)."""

    def __init__(self, in_features: int = 28 * 28, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))


class MLP(nn.Module):
    """Fully connected layers with ReLU, optionally batch norm and dropout after each hidden one."""

    def __init__(self, hidden: Sequence[int] = (512, 256), in_features: int = 28 * 28,
                 num_classes: int = 10, dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 inputs (LeCun et al. 1998, with ReLU and max pooling).

    conv 5x5 (1->6, pad 2) -> pool -> conv 5x5 (6->16) -> pool -> 400 -> 120 -> 84 -> 10.
    Optional batch norm after each convolution and dropout before the last two linear layers.
    """

    def __init__(self, num_classes: int = 10, batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(6) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.bn2 = nn.BatchNorm2d(16) if batch_norm else nn.Identity()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:  # (N, 28, 28) -> (N, 1, 28, 28)
            x = x.unsqueeze(1)
        x = self.pool(self.bn1(self.conv1(x)).relu())   # (N, 6, 14, 14)
        x = self.pool(self.bn2(self.conv2(x)).relu())   # (N, 16, 5, 5)
        x = self.flatten(x)                             # (N, 400)
        x = self.dropout(self.fc1(x).relu())
        x = self.dropout(self.fc2(x).relu())
        return self.fc3(x)


MODELS = {"softmax": SoftmaxRegression, "mlp": MLP, "lenet5": LeNet5}


def build_model(name: str, dropout: float = 0.0, batch_norm: bool = False) -> nn.Module:
    """One of the reference models by its CLI name: 'softmax', 'mlp' or 'lenet5'."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if name == "softmax":
        if dropout or batch_norm:
            raise ValueError("the softmax model has no hidden layer for dropout or batch norm")
        return SoftmaxRegression()
    return MODELS[name](dropout=dropout, batch_norm=batch_norm)

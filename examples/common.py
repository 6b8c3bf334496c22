"""What every experiment in this folder shares: its arguments, MNIST subsets, the training
loop, accuracy, a results table and saving plots. Public tinygrad_edu API only.

Each experiment runs as ``python examples/<name>.py [--quick] [--out FOLDER] [--seed N]``:
the full mode takes about a minute on two cores; ``--quick`` takes a few seconds on a sliver
of the data (for CI: it proves the script works, its numbers mean little).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor, manual_seed, nn, no_grad, optim
from tinygrad_edu.data import DataLoader, Normalize, load_mnist
from tinygrad_edu.nn import functional as F

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def parse_args(name: str, description: str) -> argparse.Namespace:
    """--quick, --out (default runs/<name>) and --seed; the seed is applied at once."""
    parser = argparse.ArgumentParser(prog=f"examples/{name}.py", description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds on a small slice of MNIST (for CI)")
    parser.add_argument("--out", type=Path, default=Path("runs") / name,
                        help=f"folder for the plots (default: runs/{name})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manual_seed(args.seed)
    return args


def mnist_subsets(train_size: int, test_size: int):
    """The first ``train_size`` training and ``test_size`` test images and labels (uint8).

    MNIST is found as ``load_mnist`` finds it: ``$TINYGRAD_EDU_DATA``, then the cache folder.
    """
    try:
        train_images, train_labels = load_mnist(split="train")
        test_images, test_labels = load_mnist(split="test")
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    return (train_images[:train_size], train_labels[:train_size],
            test_images[:test_size], test_labels[:test_size])


def loader(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0,
           shuffle: bool = True, augment: Callable | None = None) -> DataLoader:
    """Batches scaled to [0, 1] and normalised with MNIST's mean and std (after ``augment``)."""
    normalize = Normalize(MNIST_MEAN, MNIST_STD)
    transform = normalize if augment is None else (lambda batch: normalize(augment(batch)))
    return DataLoader((images, labels), batch_size=batch_size, shuffle=shuffle, seed=seed,
                      transform=transform)


def train_epoch(model: nn.Module, optimizer: optim.Optimizer, batches: DataLoader,
                penalty: Callable[[], Tensor] | None = None,
                after_backward: Callable[[], None] | None = None) -> list[float]:
    """One pass over ``batches``; the training loss of each step.

    ``penalty()`` is added to the loss (L1, say); ``after_backward()`` runs between backward and
    the optimizer step (to measure gradients).
    """
    model.train()
    losses = []
    for images, labels in batches:
        loss = F.cross_entropy(model(images), labels)
        losses.append(loss.item())
        if penalty is not None:
            loss = loss + penalty()
        optimizer.zero_grad()
        loss.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
    return losses


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction classified correctly, in eval mode and without recording a graph."""
    model.eval()
    correct = 0
    with no_grad():
        for batch, batch_labels in loader(images, labels, 1000, shuffle=False):
            correct += int((model(batch).data.argmax(axis=1) == batch_labels.data).sum())
    model.train()
    return correct / len(labels)


class Timer:
    """Seconds since creation (wall clock: on a shared machine, expect noise)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal, and pasted as is into docs/experiments.md)."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
            return f"{value:.2e}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def percent(fraction: float) -> str:
    return f"{fraction:.2%}"


def pyplot():
    """matplotlib's pyplot with a file-only backend, or a clear exit if it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("error: the experiments draw plots with matplotlib: "
                 "pip install 'tinygrad_edu[plot]'")
    return plt


def save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot().close(figure)
    print(f"wrote {path}")


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start), to see a noisy loss curve."""
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)

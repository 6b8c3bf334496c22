"""Draw the six 5x5 filters of a trained LeNet-5's first convolution, and what each one sees.

    tinygrad-edu train --epochs 2 --out /tmp/lenet            # a briefly trained LeNet-5
    python examples/plot_filters.py /tmp/lenet --out docs/images/lenet5-filters.png

The argument is a run folder of ``tinygrad-edu train`` or its ``model.npz`` (a plain
``state_dict`` archive, so the filters are its ``conv1.weight``, shape (6, 1, 5, 5)). Top row:
the filters (red positive, blue negative, one colour scale for all six). Bottom row, when
MNIST is found: each filter's response (``conv2d`` plus bias, before batch norm and ReLU) to
the first test image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import MNIST_MEAN, MNIST_STD, pyplot, save

from tinygrad_edu import Tensor
from tinygrad_edu.data import load_mnist
from tinygrad_edu.nn import functional as F


def main() -> None:
    parser = argparse.ArgumentParser(prog="examples/plot_filters.py", description=__doc__)
    parser.add_argument("model", type=Path, help="a run folder or its model.npz")
    parser.add_argument("--out", type=Path, default=Path("runs") / "lenet5-filters.png")
    args = parser.parse_args()
    path = args.model / "model.npz" if args.model.is_dir() else args.model
    with np.load(path, allow_pickle=False) as state:
        weight, bias = state["conv1.weight"], state["conv1.bias"]
    print(f"{path}: conv1.weight {weight.shape}, values in [{weight.min():.3f}, "
          f"{weight.max():.3f}], norm per filter "
          + " ".join(f"{np.linalg.norm(w):.2f}" for w in weight))

    try:
        images, _ = load_mnist(split="test")
        digit = ((images[:1] / 255.0 - MNIST_MEAN) / MNIST_STD).astype(np.float32)[:, None]
        responses = F.conv2d(Tensor(digit), Tensor(weight), Tensor(bias), padding=2).numpy()[0]
    except FileNotFoundError:
        responses = None  # no MNIST here: draw the filters alone

    plt = pyplot()
    rows = 1 if responses is None else 2
    figure, axes = plt.subplots(rows, len(weight), figsize=(1.6 * len(weight), 1.8 * rows),
                                squeeze=False)
    limit = np.abs(weight).max()
    for index, kernel in enumerate(weight[:, 0]):
        axes[0, index].imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, index].set_title(f"filter {index + 1}", fontsize=9)
        if responses is not None:
            axes[1, index].imshow(responses[index], cmap="gray")
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    if responses is not None:
        axes[1, 0].set_ylabel("response", fontsize=9)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save(figure, args.out)


if __name__ == "__main__":
    main()

"""Overfitting a small training set, and ways to fight it.

An MLP (784 -> 256 -> 256 -> 10, ReLU) has about 270,000 weights; trained on only 1,000 images
for long enough, it learns them by heart (training accuracy 100 %) while its test accuracy
stalls. Then the same run with:

- L2: ``lam / 2 * sum(w**2)`` over the weights added to the loss (what SGD's weight_decay=lam
  does), pulling every weight towards 0 in proportion to its size;
- L1: ``lam * sum(|w|)`` over the weights added to the loss, pulling every weight towards 0 by
  the same amount, which makes many exactly 0;
- dropout: ``nn.Dropout(0.5)`` after each hidden layer, so no unit can rely on another;
- noise augmentation: every training image gets fresh Gaussian pixel noise (std 0.5 on the
  [0, 1] pixel scale) each time it is seen, so no two epochs see the same images;
- and, for comparison, another augmentation: random shifts of up to 2 pixels, a change
  that real handwriting makes (noise is one it does not).

Prints train and test accuracy and their gap per set-up and saves the accuracy curves.

    python examples/overfitting.py [--quick] [--out runs/overfitting]
"""

from __future__ import annotations

import numpy as np
from common import (
    Timer,
    accuracy,
    loader,
    mnist_subsets,
    parse_args,
    percent,
    pyplot,
    save,
    table,
    train_epoch,
)

from tinygrad_edu import manual_seed, nn, optim
from tinygrad_edu.data import GaussianNoise, RandomShift

L2, L1, DROPOUT, NOISE_STD, SHIFT = 3e-3, 1e-5, 0.5, 0.5, 2
SETUPS = ("no regularisation", f"L2 (lam {L2:g})", f"L1 (lam {L1:g})", f"dropout {DROPOUT:g}",
          f"noise (std {NOISE_STD:g})", f"shifts (up to {SHIFT} pixels)")


def mlp(dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for fan_in, fan_out in ((28 * 28, 256), (256, 256)):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(256, 10))
    return nn.Sequential(*layers)


def weight_penalty(name: str, weights: list[nn.Parameter]):
    """The term the set-up adds to the loss (a function, re-evaluated at every step), or None."""
    if name.startswith("L2"):
        return lambda: nn.utils.l2_penalty(weights) * (L2 / 2)
    if name.startswith("L1"):
        return lambda: nn.utils.l1_penalty(weights) * L1
    return None


def main() -> None:
    args = parse_args("overfitting", __doc__.splitlines()[0])
    train_size, epochs, every = (256, 4, 2) if args.quick else (1000, 150, 10)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, 500 if args.quick else 10000)
    results, curves = [], {}
    for name in SETUPS:
        manual_seed(args.seed)
        model = mlp(DROPOUT if name.startswith("dropout") else 0.0)
        weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
        penalty = weight_penalty(name, weights)
        augment = None
        if name.startswith("noise"):
            augment = GaussianNoise(NOISE_STD)
        elif name.startswith("shifts"):
            augment = RandomShift(SHIFT)
        optimizer = optim.SGD(list(model.parameters()), lr=0.05, momentum=0.9)
        batches = loader(train_x, train_y, batch_size=50, seed=args.seed, augment=augment)
        timer = Timer()
        points = []
        for epoch in range(1, epochs + 1):
            train_epoch(model, optimizer, batches, penalty=penalty)
            if epoch % every == 0:
                points.append((epoch, accuracy(model, train_x, train_y),
                               accuracy(model, test_x, test_y)))
        seconds = timer.seconds
        _, train_accuracy, test_accuracy = points[-1]
        curves[name] = points
        near_zero = np.mean([np.mean(np.abs(w.data) < 1e-3) for w in weights])
        results.append((name, percent(train_accuracy), percent(test_accuracy),
                        f"{(train_accuracy - test_accuracy) * 100:.1f} points",
                        f"{near_zero:.0%}", f"{seconds:.1f}"))
        print(f"{name}: done in {seconds:.1f} s", flush=True)

    print()
    print(f"{len(train_y)} training images, {epochs} epochs, tested on {len(test_y)} images")
    print(table(["set-up", "train accuracy", "test accuracy", "gap",
                 "weights with abs < 1e-3", "seconds"], results))

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for index, (name, points) in enumerate(curves.items()):
        epoch, train_accuracy, test_accuracy = np.array(points).T
        colour = f"C{index}"
        axes.plot(epoch, train_accuracy, color=colour, linestyle="--")
        axes.plot(epoch, test_accuracy, color=colour, label=name)
    axes.set(xlabel="epoch", ylabel="accuracy (dashed: train, solid: test)",
             title=f"MLP on {len(train_y)} MNIST images")
    axes.legend()
    save(figure, args.out / "overfitting_accuracy.png")


if __name__ == "__main__":
    main()

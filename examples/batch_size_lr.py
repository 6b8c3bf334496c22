"""Batch size and learning rate for plain SGD: progress per example seen and per second.

The same MLP (784 -> 128 -> 10, ReLU) starts from the same weights for every pair of batch
size and learning rate, and sees the same number of training images. A smaller batch makes
more (noisier) updates from those images; a bigger batch makes fewer updates but each costs
less time per image. A learning rate too large for the batch size diverges.

Prints a table (steps, final loss, test accuracy, seconds, images per second) and saves the
loss against images seen and against wall-clock time, one panel per learning rate.

    python examples/batch_size_lr.py [--quick] [--out runs/batch_size_lr]
"""

from __future__ import annotations

import math

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
    smooth,
    table,
    train_epoch,
)

from tinygrad_edu import manual_seed, nn, optim

BATCH_SIZES = (16, 64, 256, 1024)
LEARNING_RATES = (0.01, 0.1, 0.5)


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, 10))


def main() -> None:
    args = parse_args("batch_size_lr", __doc__.splitlines()[0])
    train_size, epochs = (2048, 1) if args.quick else (60000, 2)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, 500 if args.quick else 10000)
    results, runs = [], {}
    for lr in LEARNING_RATES:
        for batch_size in BATCH_SIZES:
            manual_seed(args.seed)  # same initial weights for every run
            model = mlp()
            optimizer = optim.SGD(list(model.parameters()), lr=lr)
            batches = loader(train_x, train_y, batch_size=batch_size, seed=args.seed)
            stamps: list[float] = []
            losses: list[float] = []
            timer = Timer()
            for _ in range(epochs):
                losses += train_epoch(model, optimizer, batches,
                                      after_backward=lambda t=timer, s=stamps: s.append(t.seconds))
            seconds = timer.seconds
            final = float(np.mean(losses[-max(1, 2048 // batch_size):]))
            runs[lr, batch_size] = (losses, stamps)
            results.append((f"{lr:g}", batch_size, len(losses),
                            f"{final:.3f}" if math.isfinite(final) else "diverged",
                            percent(accuracy(model, test_x, test_y)), f"{seconds:.1f}",
                            f"{len(losses) * batch_size / seconds:,.0f}"))
        print(f"lr {lr}: done", flush=True)

    print()
    print(table(["lr", "batch size", "steps", "final loss (last ~2048 images)",
                 "test accuracy", "seconds", "images/s"], results))

    plt = pyplot()
    for axis_name, filename in (("images seen", "batch_size_lr_examples.png"),
                                ("seconds", "batch_size_lr_time.png")):
        figure, panels = plt.subplots(1, len(LEARNING_RATES), figsize=(13, 4), sharey=True)
        for panel, lr in zip(panels, LEARNING_RATES):
            for batch_size in BATCH_SIZES:
                losses, stamps = runs[lr, batch_size]
                x = (np.arange(1, len(losses) + 1) * batch_size if axis_name == "images seen"
                     else np.asarray(stamps))
                # average over about 2048 images, so every curve is about as smooth
                panel.plot(x, smooth(losses, max(1, 2048 // batch_size)),
                           label=f"batch {batch_size}")
            panel.set(title=f"SGD lr {lr}", xlabel=axis_name, ylim=(0, 2.5))
            panel.legend()
        panels[0].set_ylabel("training loss (running mean)")
        save(figure, args.out / filename)


if __name__ == "__main__":
    main()

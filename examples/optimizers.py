"""SGD, momentum, AdaGrad, RMSProp and Adam on the same network, from the same weights.

An MLP (784 -> 256 -> 128 -> 10, ReLU) trains on the same batches in the same order with
each optimizer at a learning rate usual for it (the same rate for all would favour one).

Prints a table (final loss, test accuracy, seconds) and saves the loss curves.

    python examples/optimizers.py [--quick] [--out runs/optimizers]
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
    smooth,
    table,
    train_epoch,
)

from tinygrad_edu import manual_seed, nn, optim

# name -> (learning rate, how to build the optimizer)
OPTIMIZERS = {
    "SGD": (0.05, lambda params, lr: optim.SGD(params, lr=lr)),
    "SGD + momentum 0.9": (0.05, lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9)),
    "AdaGrad": (0.01, lambda params, lr: optim.Adagrad(params, lr=lr)),
    "RMSProp": (0.001, lambda params, lr: optim.RMSprop(params, lr=lr)),
    "Adam": (0.001, lambda params, lr: optim.Adam(params, lr=lr)),
}


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def main() -> None:
    args = parse_args("optimizers", __doc__.splitlines()[0])
    train_size, epochs = (1024, 1) if args.quick else (60000, 3)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, 500 if args.quick else 10000)
    results, curves = [], {}
    for name, (lr, build) in OPTIMIZERS.items():
        manual_seed(args.seed)  # the same initial weights for every optimizer
        model = mlp()
        optimizer = build(list(model.parameters()), lr)
        batches = loader(train_x, train_y, batch_size=64, seed=args.seed)
        timer = Timer()
        losses: list[float] = []
        for _ in range(epochs):
            losses += train_epoch(model, optimizer, batches)
        seconds = timer.seconds
        curves[name] = losses
        results.append((name, f"{lr:g}", f"{np.mean(losses[:100]):.3f}",
                        f"{np.mean(losses[-100:]):.3f}", percent(accuracy(model, test_x, test_y)),
                        f"{seconds:.1f}"))
        print(f"{name}: done in {seconds:.1f} s", flush=True)

    print()
    print(table(["optimizer", "lr", "mean loss, first 100 steps", "mean loss, last 100 steps",
                 "test accuracy", "seconds"], results))

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        axes.plot(smooth(losses, 50), label=name)
    axes.set(xlabel="step (batch 64)", ylabel="training loss (running mean of 50)",
             yscale="log", title="the same MLP, five optimizers")
    axes.legend()
    save(figure, args.out / "optimizers_loss.png")


if __name__ == "__main__":
    main()

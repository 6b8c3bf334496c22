"""Vanishing gradients in a deep sigmoid network, and two fixes.

A 10-layer MLP (784 -> 9 x 64 -> 10) with a sigmoid after every hidden layer. Going back
through one layer multiplies the gradient by the weights and by sigmoid'(z) <= 1/4, so with
weights that do not make up for that factor the gradient shrinks layer by layer, and the layers
near the input barely learn. Four set-ups, trained with the same SGD on the same batches:

- default init: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``nn.Linear``'s own);
- Xavier normal: Var(w) = 2 / (fan_in + fan_out), made for tanh (slope 1 at 0), not sigmoid;
- Xavier normal, gain 4: weights 4 times larger make up for sigmoid's slope of 1/4 at 0;
- default init + batch norm before each sigmoid: each layer's input is re-scaled to unit
  variance, whatever the weights (the Linear before it has no bias: batch norm subtracts the
  mean, so that bias would get a zero gradient).

Prints the gradient norm of every layer's weight at the first step and the warnings of
``tinygrad_edu.viz.gradient_warnings``, then the training results; saves both as plots.

    python examples/vanishing_gradients.py [--quick] [--out runs/vanishing_gradients]
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
from tinygrad_edu.viz import gradient_flow, gradient_warnings

SETUPS = {
    "default init": (None, False),
    "Xavier normal": (nn.init.xavier_normal_, False),
    "Xavier normal, gain 4": (lambda w: nn.init.xavier_normal_(w, gain=4.0), False),
    "default init + batch norm": (None, True),
}


def deep_sigmoid_net(init, batch_norm: bool, depth: int = 10, width: int = 64) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = 28 * 28
    for _ in range(depth - 1):
        linear = nn.Linear(fan_in, width, bias=not batch_norm)
        if init is not None:
            init(linear.weight)
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid())
        fan_in = width
    layers.append(nn.Linear(fan_in, 10))
    return nn.Sequential(*layers)


def main() -> None:
    args = parse_args("vanishing_gradients", __doc__.splitlines()[0])
    train_size, epochs = (1024, 1) if args.quick else (60000, 2)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, 500 if args.quick else 10000)
    results, curves, first_step = [], {}, {}
    for name, (init, batch_norm) in SETUPS.items():
        manual_seed(args.seed)
        model = deep_sigmoid_net(init, batch_norm)
        optimizer = optim.SGD(list(model.parameters()), lr=0.1, momentum=0.9)
        batches = loader(train_x, train_y, batch_size=64, seed=args.seed)
        flows = []
        timer = Timer()
        losses: list[float] = []
        for _ in range(epochs):
            losses += train_epoch(model, optimizer, batches,
                                  after_backward=lambda m=model, f=flows: f.append(
                                      gradient_flow(m)))
        seconds = timer.seconds
        weights = [row for row in flows[0] if len(row.shape) == 2]  # the Linear weights
        first_step[name] = [row.grad_norm for row in weights]
        warnings = gradient_warnings(flows[0])
        print(f"{name}: {len(warnings)} warning(s) at step 1", flush=True)
        for warning in warnings:
            print(f"  {warning}")
        curves[name] = losses
        results.append((name, weights[0].grad_norm, weights[-1].grad_norm,
                        weights[-1].grad_norm / weights[0].grad_norm, len(warnings),
                        f"{np.mean(losses[-100:]):.3f}", percent(accuracy(model, test_x, test_y)),
                        f"{seconds:.1f}"))

    print()
    print(table(["set-up", "layer 1 grad norm", "layer 10 grad norm", "ratio 10 / 1",
                 "warnings", "final loss (last 100 steps)", "test accuracy", "seconds"],
                results))

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, norms in first_step.items():
        axes.plot(range(1, len(norms) + 1), norms, marker="o", label=name)
    axes.set(xlabel="layer (1 = input side)", ylabel="weight gradient norm at step 1",
             yscale="log", title="10-layer sigmoid MLP: gradient norm per layer")
    axes.legend()
    save(figure, args.out / "vanishing_gradients_layers.png")

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        axes.plot(smooth(losses, 50), label=name)
    axes.set(xlabel="step (batch 64)", ylabel="training loss (running mean of 50)",
             title="10-layer sigmoid MLP: training loss")
    axes.legend()
    save(figure, args.out / "vanishing_gradients_loss.png")


if __name__ == "__main__":
    main()

"""How the starting weights decide whether a deep network learns at all.

An 8-layer tanh MLP (784 -> 7 x 100 -> 10) starts from five initialisations and trains with
plain SGD on the same batches:

- zeros: every unit of a layer computes the same thing, forever (and tanh(0) = 0 blocks the
  gradient of every weight but the last layer's);
- small random, N(0, 0.01^2): symmetry is broken, but signals shrink ~10x per layer, and so
  do the gradients on the way back;
- Xavier/Glorot uniform and normal, Var(w) = 2 / (fan_in + fan_out): keeps the variance of
  signals and gradients about constant through tanh layers;
- Kaiming normal, Var(w) = 2 / fan_in: derived for ReLU (which zeroes half its inputs), so a
  little too large for tanh.

Prints a table (gradient norm of the first and last weight at the start, final loss, test
accuracy) and saves the loss curves and the per-layer gradient norms.

    python examples/initialisation.py [--quick] [--out runs/initialisation]
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
from tinygrad_edu.viz import gradient_flow

INITS = {
    "zeros": nn.init.zeros_,
    "small random": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "Xavier uniform": nn.init.xavier_uniform_,
    "Xavier normal": nn.init.xavier_normal_,
    "Kaiming normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}


def deep_mlp(init, depth: int = 8, width: int = 100) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [28 * 28] + [width] * (depth - 1) + [10]
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        init(linear.weight)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if index < depth - 1:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def weight_gradient_norms(model: nn.Module) -> list[float]:
    """Gradient norm of each layer's weight matrix, input layer first."""
    return [row.grad_norm for row in gradient_flow(model) if row.name.endswith("weight")]


def main() -> None:
    args = parse_args("initialisation", __doc__.splitlines()[0])
    train_size, epochs = (512, 1) if args.quick else (60000, 2)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, 500 if args.quick else 10000)
    results, curves, first_norms = [], {}, {}
    for name, init in INITS.items():
        manual_seed(args.seed)
        model = deep_mlp(init)
        optimizer = optim.SGD(list(model.parameters()), lr=0.05)
        batches = loader(train_x, train_y, batch_size=64, seed=args.seed)
        norms: list[list[float]] = []
        timer = Timer()
        losses: list[float] = []
        for _ in range(epochs):
            losses += train_epoch(model, optimizer, batches,
                                  after_backward=lambda m=model, n=norms: n.append(
                                      weight_gradient_norms(m)))
        first_norms[name] = norms[0]
        curves[name] = losses
        results.append((name, norms[0][0], norms[0][-1], float(np.mean(losses[-20:])),
                        percent(accuracy(model, test_x, test_y)), f"{timer.seconds:.1f}"))
        print(f"{name}: done in {timer.seconds:.1f} s", flush=True)

    print()
    print(table(["initialisation", "first-layer grad norm (step 1)",
                 "last-layer grad norm (step 1)", "final loss (last 20 steps)",
                 "test accuracy", "seconds"], results))

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        axes.plot(smooth(losses, 20), label=name)
    axes.set(xlabel="SGD step (batch 64)", ylabel="training loss (running mean of 20)",
             title="8-layer tanh MLP: loss by initialisation")
    axes.legend()
    save(figure, args.out / "initialisation_loss.png")

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, layer_norms in first_norms.items():
        floor = np.maximum(layer_norms, 1e-12)  # zeros init: exact zeros, drawn at the floor
        axes.plot(range(1, len(floor) + 1), floor, marker="o", label=name)
    axes.set(xlabel="layer (1 = input side)", ylabel="weight gradient norm at step 1",
             yscale="log", title="gradient norm per layer at initialisation (0 drawn as 1e-12)")
    axes.legend()
    save(figure, args.out / "initialisation_gradients.png")


if __name__ == "__main__":
    main()

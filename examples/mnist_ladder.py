"""The MNIST ladder: softmax regression -> MLP -> LeNet-5, each trained the same short way.

Each rung is one of ``tinygrad_edu.models`` (the models ``tinygrad-edu train`` uses), trained
for two epochs on the 60,000 training images with batch 64, then tested on the 10,000 test
images. Two epochs are far from the best each model can do (``tinygrad-edu train`` with its
defaults trains longer, with schedules, batch norm and augmentation; see docs/training.md);
it shows what each step up the ladder buys, and what it costs in time.

Prints accuracy, parameter count and time per model and saves a bar chart.

    python examples/mnist_ladder.py [--quick] [--out runs/mnist_ladder]
"""

from __future__ import annotations

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

from tinygrad_edu import manual_seed, optim
from tinygrad_edu.models import MLP, LeNet5, SoftmaxRegression

# name -> (model class, optimizer and learning rate)
LADDER = {
    "softmax regression": (SoftmaxRegression, lambda params: optim.SGD(params, lr=0.03)),
    "MLP 784-512-256-10": (MLP, lambda params: optim.Adam(params, lr=1e-3)),
    "LeNet-5": (LeNet5, lambda params: optim.Adam(params, lr=1e-3)),
}


def main() -> None:
    args = parse_args("mnist_ladder", __doc__.splitlines()[0])
    train_size, test_size, epochs = (512, 500, 1) if args.quick else (60000, 10000, 2)
    train_x, train_y, test_x, test_y = mnist_subsets(train_size, test_size)
    results = []
    for name, (model_class, make_optimizer) in LADDER.items():
        manual_seed(args.seed)
        model = model_class()
        optimizer = make_optimizer(list(model.parameters()))
        batches = loader(train_x, train_y, batch_size=64, seed=args.seed)
        timer = Timer()
        for _ in range(epochs):
            train_epoch(model, optimizer, batches)
        train_seconds = timer.seconds
        timer = Timer()
        test_accuracy = accuracy(model, test_x, test_y)
        test_seconds = timer.seconds
        parameters = sum(p.size for p in model.parameters())
        results.append((name, f"{parameters:,}", percent(test_accuracy), f"{train_seconds:.1f}",
                        f"{epochs * len(train_y) / train_seconds:,.0f}", f"{test_seconds:.1f}"))
        print(f"{name}: done in {train_seconds + test_seconds:.1f} s", flush=True)

    print()
    print(f"{epochs} epoch(s) on {len(train_y)} training images (batch 64), "
          f"tested on {len(test_y)}")
    print(table(["model", "parameters", "test accuracy", "training seconds", "images/s",
                 "test seconds"], results))

    plt = pyplot()
    figure, (accuracy_axes, time_axes) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [row[0] for row in results]
    accuracy_axes.barh(names, [float(row[2].rstrip("%")) for row in results])
    accuracy_axes.set(xlabel="test accuracy (%)", xlim=(80, 100), title="accuracy")
    time_axes.barh(names, [float(row[3]) for row in results], color="C1")
    time_axes.set(xlabel=f"training seconds ({epochs} epoch(s))", title="cost")
    time_axes.set_yticks(range(len(names)), [""] * len(names))
    save(figure, args.out / "mnist_ladder.png")


if __name__ == "__main__":
    main()

"""A whole LeNet-5 training step (forward, backward, SGD update) against PyTorch CPU.

    python benchmarks/bench_train_step.py [--batch 128] [--steps 50] [--batch-norm]

Both frameworks train the same architecture from the same weights on the same random batch,
float32, 2 threads. Each figure is the median of ``--steps`` timed steps after warm-up; the ratio
is ours / PyTorch's, measured in the same run (a ratio below 1 means we are faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinygrad_edu import Tensor, manual_seed, optim
from tinygrad_edu.models import LeNet5
from tinygrad_edu.nn import functional as F


def time_steps(step, steps: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ours(images: np.ndarray, labels: np.ndarray, batch_norm: bool):
    manual_seed(0)
    model = LeNet5(batch_norm=batch_norm)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = Tensor(images), Tensor(labels)

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return model, step


def theirs(state: dict, images: np.ndarray, labels: np.ndarray, batch_norm: bool):
    import torch
    from torch import nn

    torch.set_num_threads(2)
    norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
    layers = [nn.Conv2d(1, 6, 5, padding=2), norm(6), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(6, 16, 5), norm(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
              nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)]
    model = nn.Sequential(*layers)
    names = ["conv1", "bn1", None, None, "conv2", "bn2", None, None, None, "fc1", None, "fc2",
             None, "fc3"]
    torch_state = {}
    for index, name in enumerate(names):
        for key, value in state.items():
            if name and key.startswith(name + "."):
                torch_state[f"{index}.{key[len(name) + 1:]}"] = torch.from_numpy(value.copy())
    model.load_state_dict(torch_state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-norm", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, args.batch)
    variant = "LeNet-5" + (" + batch norm" if args.batch_norm else "")
    initial = _initial_state(args.batch_norm)
    _, our_step = ours(images, labels, args.batch_norm)
    try:
        torch_step = theirs(initial, images, labels, args.batch_norm)
    except ImportError:
        torch_step = None
    # Alternate the two in rounds so that a drift in machine speed hits both alike.
    our_times, torch_times = [], []
    for _ in range(3):
        our_times.append(time_steps(our_step, args.steps))
        if torch_step is not None:
            torch_times.append(time_steps(torch_step, args.steps))
    our_time = statistics.median(our_times)
    print(f"{variant} training step, batch {args.batch}, float32, median of 3 rounds of "
          f"{args.steps} steps")
    print(f"{'framework':<14} {'ms/step':>9} {'images/s':>10}")
    print(f"{'tinygrad_edu':<14} {our_time * 1e3:>9.2f} {args.batch / our_time:>10,.0f}")
    if torch_step is None:
        print("PyTorch is not installed: no peer to compare with (pip install torch==2.13.0)")
        return
    torch_time = statistics.median(torch_times)
    print(f"{'PyTorch':<14} {torch_time * 1e3:>9.2f} {args.batch / torch_time:>10,.0f}")
    print(f"ratio tinygrad_edu / PyTorch: {our_time / torch_time:.2f}")


def _initial_state(batch_norm: bool) -> dict:
    manual_seed(0)
    return LeNet5(batch_norm=batch_norm).state_dict()


if __name__ == "__main__":
    main()

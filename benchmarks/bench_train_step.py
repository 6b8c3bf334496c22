"""A whole LeNet-5 training step (forward, backward, SGD update) against PyTorch CPU.

    python benchmarks/bench_train_step.py [--batch 128] [--steps 50] [--batch-norm]

Both frameworks train the same architecture from the same weights on the same random batch,
float32, 2 threads, each in its own process (so neither's thread pools disturb the other),
alternating in three rounds. Each round is the median of ``--steps`` timed steps after warm-up;
the ratio is ours / PyTorch's medians from the same run (below 1 means we are faster).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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

    return step


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
    parser.add_argument("--only", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(one_round(args.only, args.batch, args.steps, args.batch_norm))
        return

    try:
        import torch  # noqa: F401
        frameworks = ("ours", "torch")
    except ImportError:
        frameworks = ("ours",)
    # Each measurement runs in its own process, so neither framework's thread pools disturb
    # the other, and the two alternate in rounds so a drift in machine speed hits both alike.
    times: dict[str, list[float]] = {name: [] for name in frameworks}
    for _ in range(3):
        for name in frameworks:
            command = [sys.executable, __file__, "--only", name, "--batch", str(args.batch),
                       "--steps", str(args.steps)] + (["--batch-norm"] if args.batch_norm else [])
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            times[name].append(float(output.split()[-1]))
    variant = "LeNet-5" + (" + batch norm" if args.batch_norm else "")
    print(f"{variant} training step, batch {args.batch}, float32, median of 3 rounds of "
          f"{args.steps} steps, each round in a fresh process")
    print(f"{'framework':<14} {'ms/step':>9} {'images/s':>10}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, label in (("ours", "tinygrad_edu"), ("torch", "PyTorch")):
        if name in medians:
            print(f"{label:<14} {medians[name] * 1e3:>9.2f} {args.batch / medians[name]:>10,.0f}")
    if "torch" not in medians:
        print("PyTorch is not installed: no peer to compare with (pip install torch==2.13.0)")
        return
    print(f"ratio tinygrad_edu / PyTorch: {medians['ours'] / medians['torch']:.2f}")


def one_round(framework: str, batch: int, steps: int, batch_norm: bool) -> float:
    """Median seconds per step of one framework on the shared batch and initial weights."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    if framework == "ours":
        step = ours(images, labels, batch_norm)
    else:
        step = theirs(_initial_state(batch_norm), images, labels, batch_norm)
    return time_steps(step, steps)


def _initial_state(batch_norm: bool) -> dict:
    manual_seed(0)
    return LeNet5(batch_norm=batch_norm).state_dict()


if __name__ == "__main__":
    main()

"""Time the conv/pool kernels at LeNet-5 shapes against the reference loops and PyTorch CPU.

    python benchmarks/bench_kernels.py [--batch 128] [--repeat 50] [--no-cold-start]

Prints markdown tables (paste them into docs/kernels.md):

1. Per-op times at LeNet-5 shapes, float32: the Numba kernels, the plain-loop reference
   (timed once at a small batch and scaled linearly, because it takes seconds), and PyTorch
   CPU with 2 threads when torch is installed. Every number is the median of ``--repeat`` runs
   measured in this process; ratios compare numbers from the same run. Numba and torch are
   timed in separate blocks with a pause between them, so that one library's idle worker
   threads do not steal cores from the other's, and the blocks alternate in three rounds.
2. The thread fight: a numpy matmul (BLAS) followed by a Numba kernel, with BLAS allowed its
   default threads and limited to one.
3. Cold and warm start: a fresh process compiles (cold, empty cache) or loads (warm) every
   kernel once; NUMBA_CACHE_DIR points at a new temporary folder for both.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinygrad_edu.kernels import conv, pool, reference  # noqa: E402

# (name, input shape without batch, weight shape, padding) of LeNet-5's convolutions, and the
# (name, input shape without batch) of its 2x2, stride-2 pooling layers.
CONV_LAYERS = [("conv1", (1, 28, 28), (6, 1, 5, 5), 2), ("conv2", (6, 14, 14), (16, 6, 5, 5), 0)]
POOL_LAYERS = [("pool1", (6, 28, 28)), ("pool2", (16, 10, 10))]
ROUNDS = 3  # the per-op table alternates Numba and torch this many times
ONES = (1, 1)
POOL = (2, 2)
NO_PAD = (0, 0)


def run_times(function, repeat: int, warmup: int = 3) -> list[float]:
    """Seconds taken by each of ``repeat`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median_ms(function, repeat: int) -> float:
    return 1e3 * statistics.median(run_times(function, repeat))


def make_problems(batch: int, dtype=np.float32) -> list[tuple[str, str, dict]]:
    """Every (layer, op, arguments) we time, with random float32 data for the given batch."""
    rng = np.random.default_rng(0)
    problems = []
    for name, in_shape, weight_shape, pad in CONV_LAYERS:
        x = rng.standard_normal((batch, *in_shape)).astype(dtype)
        weight = rng.standard_normal(weight_shape).astype(dtype)
        geometry = (ONES, (pad, pad), ONES)
        grad_out = rng.standard_normal(conv.conv2d_forward(x, weight, *geometry).shape)
        args = dict(x=x, weight=weight, grad_out=grad_out.astype(dtype), geometry=geometry)
        for op in ("forward", "grad_input", "grad_weight"):
            problems.append((name, op, args))
    for name, in_shape in POOL_LAYERS:
        x = rng.standard_normal((batch, *in_shape)).astype(dtype)
        _, indices = pool.max_pool2d_forward(x, POOL, POOL, NO_PAD)
        grad_out = rng.standard_normal(indices.shape).astype(dtype)
        args = dict(x=x, indices=indices, grad_out=grad_out)
        for op in ("max forward", "max backward", "max gather", "avg forward", "avg backward"):
            problems.append((name, op, args))
    return problems


def numpy_call(module, op: str, args: dict):
    """A zero-argument function running ``op`` from ``conv``/``pool`` or ``reference``."""
    x, grad_out = args["x"], args["grad_out"]
    if "weight" in args:
        weight, geometry = args["weight"], args["geometry"]
        return {
            "forward": lambda: module.conv2d_forward(x, weight, *geometry),
            "grad_input": lambda: module.conv2d_grad_input(grad_out, weight, x.shape, *geometry),
            "grad_weight": lambda: module.conv2d_grad_weight(x, grad_out, weight.shape, *geometry),
        }[op]
    indices = args["indices"]
    return {
        "max forward": lambda: module.max_pool2d_forward(x, POOL, POOL, NO_PAD),
        "max backward": lambda: module.max_pool2d_backward(grad_out, indices, x.shape),
        "max gather": lambda: module.max_pool2d_gather(x, indices),
        "avg forward": lambda: module.avg_pool2d_forward(x, POOL, POOL, NO_PAD),
        "avg backward": lambda: module.avg_pool2d_backward(grad_out, x.shape, POOL, POOL, NO_PAD),
    }[op]


def torch_call(torch, op: str, args: dict):
    """The same op in PyTorch; backward ops called directly, without autograd bookkeeping."""
    convolution_backward = torch.ops.aten.convolution_backward
    x, grad_out = torch.from_numpy(args["x"]), torch.from_numpy(args["grad_out"])
    if "weight" in args:
        weight = torch.from_numpy(args["weight"])
        stride, padding, dilation = (list(pair) for pair in args["geometry"])

        def conv_backward(mask):
            return lambda: convolution_backward(
                grad_out, x, weight, None, stride, padding, dilation, False, [0, 0], 1, mask
            )

        return {
            "forward": lambda: torch.nn.functional.conv2d(x, weight, None, stride, padding),
            "grad_input": conv_backward([True, False, False]),
            "grad_weight": conv_backward([False, True, False]),
        }[op]
    indices = torch.from_numpy(args["indices"])
    aten = torch.ops.aten
    pool_args = ([2, 2], [2, 2], [0, 0])
    return {
        "max forward": lambda: torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True),
        "max backward": lambda: aten.max_pool2d_with_indices_backward(
            grad_out, x, *pool_args, [1, 1], False, indices
        ),
        "max gather": None,
        "avg forward": lambda: torch.nn.functional.avg_pool2d(x, 2, 2),
        "avg backward": lambda: aten.avg_pool2d_backward(
            grad_out, x, *pool_args, False, True, None
        ),
    }[op]


def time_reference(batch: int, reference_batch: int) -> dict:
    """Reference loops at ``reference_batch``, timed once and scaled to ``batch`` (all our
    loops are linear in the batch)."""
    times = {}
    for name, op, args in make_problems(reference_batch):
        call = numpy_call(reference, op, args)
        start = time.perf_counter()
        call()
        times[name, op] = 1e3 * (time.perf_counter() - start) * batch / reference_batch
    return times


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


def format_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def format_ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "-"
    ratio = numerator / denominator
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.2f}x"


def per_op_table(args) -> str:
    """Numba, then torch, in ``ROUNDS`` alternating rounds, so that a slow spell of the machine
    hits both alike; each op's time is the median over all its rounds."""
    problems = make_problems(args.batch)
    torch = import_torch()
    per_round = max(1, args.repeat // ROUNDS)
    numba_times, torch_times = defaultdict(list), defaultdict(list)
    for _ in range(ROUNDS):
        for name, op, a in problems:
            module = conv if "weight" in a else pool
            numba_times[name, op] += run_times(numpy_call(module, op, a), per_round)
        time.sleep(0.5)
        if torch is not None:
            with torch.no_grad():
                for name, op, a in problems:
                    call = torch_call(torch, op, a)
                    if call is not None:
                        torch_times[name, op] += run_times(call, per_round)
            time.sleep(0.5)
    numba_ms = {key: 1e3 * statistics.median(times) for key, times in numba_times.items()}
    torch_ms = {key: 1e3 * statistics.median(times) for key, times in torch_times.items()}
    reference_ms = time_reference(args.batch, args.reference_batch)

    lines = [
        "| layer | op | numba ms | torch ms | numba / torch | reference ms (est.) "
        "| reference / numba |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, op, _ in problems:
        key = (name, op)
        lines.append(
            f"| {name} | {op} | {format_ms(numba_ms[key])} | {format_ms(torch_ms.get(key))} "
            f"| {format_ratio(numba_ms[key], torch_ms.get(key))} "
            f"| {format_ms(reference_ms[key])} | {format_ratio(reference_ms[key], numba_ms[key])} |"
        )
    for name, *_ in CONV_LAYERS:
        ops = ("forward", "grad_input", "grad_weight")
        ours = sum(numba_ms[name, op] for op in ops)
        theirs = sum(torch_ms[name, op] for op in ops) if torch_ms else None
        lines.append(
            f"| **{name}** | **forward + grad_input + grad_weight** | **{format_ms(ours)}** "
            f"| **{format_ms(theirs)}** | **{format_ratio(ours, theirs)}** | | |"
        )
    return "\n".join(lines)


def im2col_forward(x: np.ndarray, weight: np.ndarray, padding: int) -> np.ndarray:
    """The textbook vectorised conv forward: copy every window into a row of a matrix
    (im2col), then one BLAS matmul with the flattened weights."""
    batch, channels, _, _ = x.shape
    out_channels, _, kernel_height, kernel_width = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    window = (kernel_height, kernel_width)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=(2, 3))
    _, _, out_height, out_width, _, _ = windows.shape
    columns = windows.transpose(0, 2, 3, 1, 4, 5).reshape(batch * out_height * out_width, -1)
    out = columns @ weight.reshape(out_channels, -1).T
    return out.reshape(batch, out_height, out_width, out_channels).transpose(0, 3, 1, 2).copy()


def im2col_table(args) -> str:
    """Our conv forward against im2col + BLAS, with BLAS on one thread and on all."""
    lines = [
        "| layer | numba kernel ms | im2col + matmul, 1 BLAS thread ms | im2col + matmul, "
        "default BLAS threads ms |",
        "|---|---:|---:|---:|",
    ]
    for name, op, problem in make_problems(args.batch):
        if op != "forward":
            continue
        x, weight = problem["x"], problem["weight"]
        padding = problem["geometry"][1][0]
        expected = conv.conv2d_forward(x, weight, *problem["geometry"])
        textbook = functools.partial(im2col_forward, x, weight, padding)
        np.testing.assert_allclose(textbook(), expected, rtol=1e-4, atol=1e-4)
        ours = median_ms(numpy_call(conv, op, problem), args.repeat)
        time.sleep(0.5)
        with threadpool_limits(1, "blas"):
            single = median_ms(textbook, args.repeat)
        time.sleep(0.5)
        default = median_ms(textbook, args.repeat)
        time.sleep(0.5)
        lines.append(f"| {name} | {format_ms(ours)} | {format_ms(single)} | {format_ms(default)} |")
    return "\n".join(lines)


def thread_fight_table(args) -> str:
    """A LeNet fc1-sized matmul (BLAS) then conv2's forward (Numba), over and over."""
    rng = np.random.default_rng(0)
    activations = rng.standard_normal((args.batch, 400)).astype(np.float32)
    fc_weight = rng.standard_normal((400, 120)).astype(np.float32)
    (name, op, problem), *_ = [p for p in make_problems(args.batch) if p[0] == "conv2"]
    conv_forward = numpy_call(conv, op, problem)

    def run(label: str) -> str:
        matmul_times, conv_times = [], []
        for step in range(args.repeat + 3):
            start = time.perf_counter()
            activations @ fc_weight
            middle = time.perf_counter()
            conv_forward()
            end = time.perf_counter()
            if step >= 3:
                matmul_times.append(middle - start)
                conv_times.append(end - middle)
        matmul, conv_ms = (1e3 * statistics.median(t) for t in (matmul_times, conv_times))
        return f"| {label} | {format_ms(matmul)} | {format_ms(conv_ms)} |"

    blas_threads = max(
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    )
    lines = [
        "| BLAS threads | matmul (B,400)@(400,120) ms | conv2 forward ms |",
        "|---|---:|---:|",
        run(f"default ({blas_threads})"),
    ]
    time.sleep(0.5)
    with threadpool_limits(1, "blas"):
        lines.append(run("limited to 1 (threadpoolctl)"))
    return "\n".join(lines)


START_ALL_KERNELS = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    import numpy as np
    from tinygrad_edu.kernels import conv, pool
    x = np.ones((2, 3, 9, 9), np.float32)
    weight = np.ones((4, 3, 5, 5), np.float32)
    geometry = ((1, 1), (2, 2), (1, 1))
    out = conv.conv2d_forward(x, weight, *geometry)
    conv.conv2d_grad_input(out, weight, x.shape, *geometry)
    conv.conv2d_grad_weight(x, out, weight.shape, *geometry)
    pooled, indices = pool.max_pool2d_forward(out, (2, 2), (2, 2), (0, 0))
    pool.max_pool2d_backward(pooled, indices, out.shape)
    pool.max_pool2d_gather(out, indices)
    pooled = pool.avg_pool2d_forward(out, (2, 2), (2, 2), (0, 0))
    pool.avg_pool2d_backward(pooled, out.shape, (2, 2), (2, 2), (0, 0))
    print(time.perf_counter() - start)
    """
)


def start_times() -> str:
    """Seconds from ``import`` to every kernel run once (float32), in fresh processes."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
        seconds = []
        for _ in ("cold", "warm"):
            result = subprocess.run(
                [sys.executable, "-c", START_ALL_KERNELS],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            seconds.append(float(result.stdout.split()[-1]))
    return "\n".join(
        [
            "| start | seconds to import and run every kernel once (float32) |",
            "|---|---:|",
            f"| cold (empty Numba cache: compile everything) | {seconds[0]:.1f} |",
            f"| warm (cache filled by the cold run) | {seconds[1]:.2f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per op (median)")
    parser.add_argument(
        "--reference-batch", type=int, default=1, help="batch the slow reference is timed at"
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip the start timings")
    args = parser.parse_args()

    torch = import_torch()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {__import__('numba').__version__}, "
        f"torch {torch.__version__ if torch else 'not installed'}; batch {args.batch}, float32, "
        f"median of {args.repeat} runs.\n"
    )
    print(
        f"Per op (reference timed once at batch {args.reference_batch}, scaled to {args.batch}):\n"
    )
    print(per_op_table(args), end="\n\n")
    print("Conv forward against im2col + BLAS matmul (numpy):\n")
    print(im2col_table(args), end="\n\n")
    print("Thread fight (BLAS matmul, then a Numba kernel, repeated):\n")
    print(thread_fight_table(args), end="\n\n")
    if not args.no_cold_start:
        print(start_times())


if __name__ == "__main__":
    main()

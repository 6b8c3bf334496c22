"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

Subcommands: ``train``, ``evaluate``, ``gradcheck``, ``graph``, ``download``. Bad arguments and
missing or corrupt files end with one clear message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .gradcheck import GradcheckError


def _number(kind: type, low: float, high: float | None = None, low_allowed: bool = True):
    """An argparse type: ``kind`` (int or float) in [low, high), or (low, high) when
    ``low_allowed`` is False; a bad value gives one message naming it."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not (value >= low if low_allowed else value > low):
            raise argparse.ArgumentTypeError(f"must be {'>=' if low_allowed else '>'} {low}, "
                                             f"got {text}")
        if high is not None and not value < high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}), got {text}")
        return value
    return parse


_positive_int = _number(int, 1)
_non_negative_int = _number(int, 0)
_non_negative_float = _number(float, 0)
_positive_float = _number(float, 0, low_allowed=False)
_probability = _number(float, 0, high=1)


def build_parser() -> argparse.ArgumentParser:
    from .train import DEFAULTS, OPTIMIZERS, SCHEDULES

    parser = argparse.ArgumentParser(
        prog="tinygrad-edu",
        description="A small, readable deep-learning framework: train, evaluate and prove "
                    "backpropagation on MNIST.",
    )
    parser.add_argument("--version", action="version", version=f"tinygrad_edu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a model on MNIST (default: LeNet-5)",
        description="Train softmax regression, an MLP or LeNet-5 on MNIST. Unset options take "
                    "the model's tuned defaults: "
                    + "; ".join(f"{m}: {d['epochs']} epochs, {d['optimizer']} lr {d['lr']:g}, "
                                f"{d['schedule']} schedule" for m, d in DEFAULTS.items()),
    )
    train.add_argument("--model", choices=sorted(DEFAULTS), default="lenet5")
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--optimizer", choices=OPTIMIZERS)
    train.add_argument("--lr", type=_positive_float, help="learning rate (peak, with onecycle)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0, help="L2 penalty")
    train.add_argument("--l1", type=_non_negative_float, default=0.0,
                       help="L1 penalty coefficient added to the loss")
    train.add_argument("--dropout", type=_probability)
    train.add_argument("--batch-norm", dest="batch_norm", action=argparse.BooleanOptionalAction,
                       default=None, help="batch norm after each hidden layer / convolution")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="random shifts of up to 2 pixels")
    train.add_argument("--schedule", choices=SCHEDULES)
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--data-dir", help="folder with the MNIST files (used alone when given)")
    train.add_argument("--out", help="output folder (default: runs/<timestamp>)")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue from a checkpoint.npz (or its run folder)")
    train.add_argument("--limit", type=_positive_int, metavar="N",
                       help="train on the first N images only")
    train.add_argument("--download", action="store_true",
                       help="download MNIST into --data-dir (or the cache folder) if it is missing")
    train.add_argument("--no-verify", dest="verify", action="store_false",
                       help="skip the gradient check of the model's backward rules")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar (default: only when stderr is a terminal)")
    train.add_argument("--log-gradients", action="store_true",
                       help="record per-layer gradient norms per epoch (metrics.json, "
                            "gradients.png) and warn when they vanish or explode")

    evaluate = commands.add_parser("evaluate", help="accuracy, per class and confusion matrix")
    evaluate.add_argument("--checkpoint", required=True,
                          help="a run folder, its checkpoint.npz or its model.npz")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--plot", metavar="PNG", help="also draw the confusion matrix")

    gradcheck = commands.add_parser(
        "gradcheck", help="prove every built-in backward rule with finite differences")
    gradcheck.add_argument("ops", nargs="*", metavar="OP",
                           help="names to check (default: all; see --list)")
    gradcheck.add_argument("--list", action="store_true", help="list the names and exit")
    gradcheck.add_argument("--second-order", action="store_true",
                           help="also check second derivatives (gradgradcheck)")

    graph = commands.add_parser(
        "graph", help="draw the computation graph of one forward/backward pass of a model",
        description="Run a model on a small random batch, backpropagate the loss and draw the "
                    "graph (ops, named parameters, shapes, gradient norms) as SVG/PNG with "
                    "Graphviz's dot, or as a .dot file when dot is not installed.")
    graph.add_argument("--model", choices=sorted(DEFAULTS), default="lenet5")
    graph.add_argument("--out", default="graph.svg",
                       help="picture to write: .svg, .png, .pdf or .dot (default: graph.svg)")
    graph.add_argument("--batch-size", type=_positive_int, default=2)
    graph.add_argument("--seed", type=_non_negative_int, default=0)

    download = commands.add_parser("download", help="download MNIST and verify its checksums")
    download.add_argument("--dest", help="target folder (default: the user cache folder)")
    return parser


def _run_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    config = TrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, l1=args.l1,
        dropout=args.dropout, batch_norm=args.batch_norm, augment=args.augment,
        schedule=args.schedule, seed=args.seed, data_dir=args.data_dir, limit=args.limit,
    )
    if args.download:
        from .data import download_mnist, locate_mnist

        try:
            locate_mnist(args.data_dir, "train")
            locate_mnist(args.data_dir, "test")
        except FileNotFoundError:
            print(f"MNIST not found; downloading it into {download_mnist(args.data_dir)}")
    if args.out:
        out = Path(args.out)
    elif args.resume:
        resume = Path(args.resume)
        out = resume if resume.is_dir() else resume.parent
    else:
        out = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    train(config, out, resume=args.resume, verify=args.verify, progress=args.progress,
          log_gradients=args.log_gradients)
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint

    print(evaluate_checkpoint(args.checkpoint, args.data_dir, args.split, args.plot))
    return 0


def _run_gradcheck(args: argparse.Namespace) -> int:
    from .proofs import CATALOGUE, run_checks

    if args.list:
        print("\n".join(CATALOGUE))
        return 0
    unknown = [name for name in args.ops if name not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown op(s) {', '.join(unknown)}; see 'tinygrad-edu gradcheck --list'")
    failed = run_checks(args.ops or list(CATALOGUE), second_order=args.second_order, log=print)
    return 1 if failed else 0


def _run_graph(args: argparse.Namespace) -> int:
    import numpy as np

    from .models import build_model
    from .nn import functional as F
    from .random import manual_seed
    from .tensor import Tensor
    from .train import TrainConfig
    from .viz import render, retain_grads

    config = TrainConfig(model=args.model).resolved()  # the architecture train would build
    manual_seed(args.seed)
    model = build_model(config.model, dropout=config.dropout, batch_norm=config.batch_norm)
    image_shape = (1, 28, 28) if config.model == "lenet5" else (28, 28)
    images = Tensor.randn(args.batch_size, *image_shape)
    labels = np.arange(args.batch_size) % 10
    loss = F.cross_entropy(model(images), labels)
    retain_grads(loss)
    loss.backward()
    written = render(loss, args.out, params=model)
    print(f"wrote {written}: {config.model} on a random batch of {args.batch_size}, "
          f"loss {loss.item():.4f}")
    return 0


def _run_download(args: argparse.Namespace) -> int:
    from .data import download_mnist

    folder = download_mnist(args.dest)
    print(f"MNIST is in {folder}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    runners = {"train": _run_train, "evaluate": _run_evaluate, "gradcheck": _run_gradcheck,
               "graph": _run_graph, "download": _run_download}
    try:
        return runners[args.command](args)
    except KeyboardInterrupt:
        print(f"tinygrad-edu {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, KeyError, GradcheckError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"tinygrad-edu {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

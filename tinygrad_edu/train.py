"""The training loop behind ``tinygrad-edu train``: data, model, optimizer, schedule, checkpoints.

One epoch is the loop every course draws:

    for images, labels in loader:
        loss = cross_entropy(model(images), labels)    # forward
        optimizer.zero_grad()
        loss.backward()                                # backward
        optimizer.step()                               # update

Everything else here is bookkeeping a real run needs: progress, metrics, checkpoints that resume
exactly, and a plot.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import nn, optim
from .autograd import no_grad
from .data import AddChannelAxis, Compose, DataLoader, Normalize, RandomShift, load_mnist
from .files import atomic_write
from .models import build_model
from .nn import functional as F
from .random import generator, manual_seed

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")

# Per-model defaults, chosen so that the default run reaches its target with margin
# (softmax >= 92 %, MLP >= 98 %, LeNet-5 >= 99 %); see docs/training.md for the measurements.
DEFAULTS: dict[str, dict[str, Any]] = {
    "softmax": dict(epochs=10, batch_size=128, optimizer="sgd", lr=0.1, schedule="cosine",
                    dropout=0.0, batch_norm=False, augment=False),
    "mlp": dict(epochs=10, batch_size=128, optimizer="adam", lr=1e-3, schedule="cosine",
                dropout=0.2, batch_norm=False, augment=False),
    "lenet5": dict(epochs=8, batch_size=128, optimizer="momentum", lr=0.05, schedule="onecycle",
                   dropout=0.0, batch_norm=True, augment=True),
}


@dataclass
class TrainConfig:
    """Everything that defines a run; ``None`` fields take the model's default."""

    model: str = "lenet5"
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float = 0.0
    l1: float = 0.0
    dropout: float | None = None
    batch_norm: bool | None = None
    augment: bool | None = None
    schedule: str | None = None
    seed: int = 0
    data_dir: str | None = None
    limit: int | None = None

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` replaced by the model's default, validated."""
        if self.model not in DEFAULTS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(DEFAULTS)}")
        values = asdict(self)
        for key, default in DEFAULTS[self.model].items():
            if values[key] is None:
                values[key] = default
        config = TrainConfig(**values)
        config.validate()
        return config

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}"),
            (self.l1 >= 0, f"l1 must be >= 0, got {self.l1}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.optimizer in OPTIMIZERS,
             f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES,
             f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"),
            (self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def make_optimizer(config: TrainConfig, parameters: list) -> optim.Optimizer:
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, weight_decay=wd)
    if name == "momentum":
        return optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    if name == "adagrad":
        return optim.Adagrad(parameters, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return optim.RMSprop(parameters, lr=lr, weight_decay=wd)
    if name == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=wd)
    return optim.AdamW(parameters, lr=lr, weight_decay=wd)


def make_scheduler(config: TrainConfig, optimizer: optim.Optimizer, steps_per_epoch: int):
    """The learning-rate schedule, and whether it steps once per batch (else once per epoch)."""
    schedulers = optim.lr_scheduler
    if config.schedule == "step":
        return schedulers.StepLR(optimizer, step_size=max(config.epochs // 3, 1)), False
    if config.schedule == "cosine":
        total_steps = config.epochs * steps_per_epoch
        return schedulers.CosineAnnealingLR(optimizer, T_max=total_steps), True
    if config.schedule == "onecycle":
        return schedulers.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                     steps_per_epoch=steps_per_epoch), True
    return None, False


def make_transform(config: TrainConfig, train: bool) -> Compose:
    """Scale to [0, 1] (done by the DataLoader), normalise, add the channel axis for CNNs,
    and, when training with augmentation, shift each image by up to 2 pixels."""
    steps: list = [Normalize(MNIST_MEAN, MNIST_STD)]
    if train and config.augment:
        steps.insert(0, RandomShift(2))
    if config.model == "lenet5":
        steps.append(AddChannelAxis())
    return Compose(steps)


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, config: TrainConfig,
             batch_size: int = 1000) -> tuple[float, np.ndarray]:
    """Accuracy on (images, labels) and the predicted classes, in eval mode, without a graph."""
    was_training = model.training
    model.eval()
    loader = DataLoader((images, labels), batch_size=batch_size,
                        transform=make_transform(config, train=False))
    predictions = []
    with no_grad():
        for batch, _ in loader:
            predictions.append(model(batch).data.argmax(axis=1))
    model.train(was_training)
    predicted = np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)
    accuracy = float(np.mean(predicted == labels)) if len(labels) else 0.0
    return accuracy, predicted


# ------------------------------------------------------------------------------ checkpoints


def _flatten_optimizer_state(state: dict) -> dict[str, np.ndarray]:
    arrays = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            arrays[f"optimizer/state/{index}/{key}"] = np.asarray(value)
    return arrays


def _unflatten_optimizer_state(arrays: dict[str, np.ndarray], groups: list) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in arrays.items():
        _, _, index, key = name.split("/", 3)
        state.setdefault(int(index), {})[key] = value if value.ndim else value.item()
    return {"state": state, "param_groups": groups}


def save_checkpoint(path: Path, model: nn.Module, optimizer: optim.Optimizer, scheduler,
                    epoch: int, history: dict, config: TrainConfig) -> None:
    """Everything to continue exactly: weights, optimizer and schedule state, the random
    generator, the epoch and the history so far. Written atomically, loadable without pickle."""
    optimizer_state = optimizer.state_dict()
    meta = {
        "format": "tinygrad_edu-checkpoint-1",
        "epoch": epoch,
        "config": asdict(config),
        "history": history,
        "param_groups": optimizer_state["param_groups"],
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": generator().bit_generator.state,
    }
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    arrays.update(_flatten_optimizer_state(optimizer_state))
    arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def load_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray], dict]:
    """(meta, model state_dict, optimizer state_dict) from a checkpoint written by train."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != "tinygrad_edu-checkpoint-1":
            raise KeyError("format")
    except (OSError, ValueError, KeyError, EOFError, NotImplementedError,
            zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is not a tinygrad_edu training checkpoint (truncated or foreign file: {error})"
        ) from None
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    optimizer_arrays = {k: v for k, v in arrays.items() if k.startswith("optimizer/")}
    return meta, model_state, _unflatten_optimizer_state(optimizer_arrays, meta["param_groups"])


# ------------------------------------------------------------------------------ the run


@dataclass
class RunResult:
    metrics: dict
    out: Path
    model: nn.Module


def _write_json(path: Path, payload: dict) -> None:
    with atomic_write(path) as handle:
        handle.write(json.dumps(payload, indent=2, default=_json_default).encode())


def train(config: TrainConfig, out: str | os.PathLike, resume: str | os.PathLike | None = None,
          verify: bool = True, log: Callable[[str], None] = print,
          progress: bool | None = None, log_gradients: bool = False) -> RunResult:
    """Train one model on MNIST and leave metrics.json, model.npz, checkpoint.npz (and
    curves.png with matplotlib) in ``out``. Returns the final metrics.

    ``log_gradients``: also record each parameter's gradient norm (mean over the epoch's
    batches) per epoch, as ``gradient_norms`` in metrics.json and in gradients.png, and warn
    when gradients vanish or explode (thresholds in ``tinygrad_edu.viz``)."""
    start_epoch, history = 1, {"train_loss": [], "train_accuracy": [], "test_accuracy": [],
                               "epoch_seconds": []}
    if resume is not None:
        meta, model_state, optimizer_state = load_checkpoint(resume)
        saved = TrainConfig.from_dict(meta["config"])
        saved.epochs = config.epochs or saved.epochs
        config = saved
        start_epoch, history = meta["epoch"] + 1, meta["history"]
    config = config.resolved()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    train_images, train_labels = load_mnist(config.data_dir, "train")
    test_images, test_labels = load_mnist(config.data_dir, "test")
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]

    manual_seed(config.seed)
    model = build_model(config.model, dropout=config.dropout, batch_norm=config.batch_norm)
    loader = DataLoader((train_images, train_labels), batch_size=config.batch_size, shuffle=True,
                        seed=config.seed, transform=make_transform(config, train=True))
    optimizer = make_optimizer(config, list(model.parameters()))
    scheduler, per_batch = make_scheduler(config, optimizer, len(loader))

    if resume is not None:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        if scheduler is not None and meta["scheduler"] is not None:
            scheduler.load_state_dict(meta["scheduler"])
        generator().bit_generator.state = meta["rng"]
        log(f"resuming {config.model} from epoch {start_epoch - 1} of {resume}")
    elif verify:
        from .proofs import verify_model

        verify_model(model, log=log)

    log(f"training {config.model} on {len(train_labels)} images for {config.epochs} epochs "
        f"({config.optimizer}, lr {config.lr:g}, batch {config.batch_size}, "
        f"schedule {config.schedule})")
    show_progress = sys.stderr.isatty() if progress is None else progress
    if log_gradients:
        history.setdefault("gradient_norms", {})
    run_start = time.perf_counter()
    images_seen = 0
    epoch = start_epoch - 1
    try:
        for epoch in range(start_epoch, config.epochs + 1):
            loader.set_epoch(epoch - 1)
            epoch_start = time.perf_counter()
            loss, accuracy, seen, gradients = _train_epoch(
                model, loader, optimizer, scheduler, per_batch, config, epoch, show_progress,
                log_gradients)
            if scheduler is not None and not per_batch:
                scheduler.step()
            images_seen += seen
            test_accuracy, _ = evaluate(model, test_images, test_labels, config)
            seconds = time.perf_counter() - epoch_start
            for key, value in (("train_loss", loss), ("train_accuracy", accuracy),
                               ("test_accuracy", test_accuracy), ("epoch_seconds", seconds)):
                history[key].append(value)
            if log_gradients:
                _record_gradients(history["gradient_norms"], gradients, log)
            save_checkpoint(out / "checkpoint.npz", model, optimizer, scheduler, epoch, history,
                            config)
            model.save(out / "model.npz")
            log(f"epoch {epoch}/{config.epochs}: train loss {loss:.4f}, train accuracy "
                f"{accuracy:.2%}, test accuracy {test_accuracy:.2%}, {seconds:.1f} s "
                f"({seen / seconds:,.0f} images/s)")
    except KeyboardInterrupt:
        finished = len(history["test_accuracy"])
        if finished:
            log(f"interrupted; the checkpoint of epoch {finished} is in "
                f"{out / 'checkpoint.npz'} (continue with --resume)")
        else:
            log("interrupted before the first epoch finished; no checkpoint was written")
        raise

    total_seconds = time.perf_counter() - run_start
    metrics = {
        "model": config.model,
        "test_accuracy": history["test_accuracy"][-1] if history["test_accuracy"] else None,
        "train_loss": history["train_loss"],
        "train_accuracy": history["train_accuracy"],
        "test_accuracy_per_epoch": history["test_accuracy"],
        "epoch_seconds": history["epoch_seconds"],
        "seconds": sum(history["epoch_seconds"]),
        "images_per_second": images_seen / total_seconds if images_seen else None,
        "epochs": config.epochs,
        "config": asdict(config),
    }
    if log_gradients:
        metrics["gradient_norms"] = history["gradient_norms"]
    _write_json(out / "metrics.json", metrics)
    log(_plot_curves(history, out / "curves.png"))
    if log_gradients:
        log(_plot_gradients(history["gradient_norms"], out / "gradients.png"))
    log(f"test accuracy {metrics['test_accuracy']:.2%} after {config.epochs} epochs "
        f"({metrics['seconds']:.0f} s); results in {out}")
    return RunResult(metrics, out, model)


def _train_epoch(model, loader, optimizer, scheduler, per_batch, config, epoch, show_progress,
                 log_gradients=False):
    from .viz import gradient_flow, mean_gradient_flow

    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", disable=not show_progress,
               leave=False, unit="batch")
    parameters = list(model.parameters())
    flows = []  # with log_gradients: one gradient_flow table per batch
    for images, labels in bar:
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        if config.l1 > 0:
            loss = loss + nn.utils.l1_penalty(parameters) * config.l1
        optimizer.zero_grad()
        loss.backward()
        if log_gradients:
            flows.append(gradient_flow(model))
        optimizer.step()
        if scheduler is not None and per_batch:
            scheduler.step()
        batch = len(labels)
        total_loss += loss.item() * batch
        correct += int((logits.data.argmax(axis=1) == labels.data).sum())
        seen += batch
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.2%}",
                        img_s=f"{seen / (time.perf_counter() - start):,.0f}")
    return total_loss / max(seen, 1), correct / max(seen, 1), seen, mean_gradient_flow(flows)


def _record_gradients(norms: dict[str, list], rows: list, log: Callable[[str], None]) -> None:
    """Append one epoch's gradient norm per parameter (None if it had no gradient) and warn
    when gradients vanish or explode."""
    from .viz import gradient_warnings

    for row in rows:
        norms.setdefault(row.name, []).append(None if np.isnan(row.grad_norm) else row.grad_norm)
    for warning in gradient_warnings(rows):
        log(f"warning: {warning}")


def _plot_gradients(norms: dict[str, list], path: Path) -> str:
    from .viz import plot_gradient_flow

    try:
        plot_gradient_flow(norms, path, title="gradient norm per parameter (mean over batches)")
    except ImportError as error:
        return f"note: {error}; no {path.name} was drawn"
    return f"wrote {path}"


def _plot_curves(history: dict, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("note: matplotlib is not installed, so no curves.png "
                "(pip install 'tinygrad_edu[plot]')")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, history["train_loss"], marker="o")
    loss_axes.set(xlabel="epoch", ylabel="training loss", title="loss")
    accuracy_axes.plot(epochs, history["train_accuracy"], marker="o", label="train")
    accuracy_axes.plot(epochs, history["test_accuracy"], marker="o", label="test")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    accuracy_axes.legend()
    figure.tight_layout()
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return f"wrote {path}"


__all__ = ["DEFAULTS", "TrainConfig", "evaluate", "load_checkpoint", "train"]

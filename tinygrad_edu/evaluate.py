"""``tinygrad-edu evaluate``: accuracy, per-class accuracy and the confusion matrix of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .data import load_mnist
from .files import atomic_write
from .models import build_model
from .train import TrainConfig, evaluate, load_checkpoint


def _load_run(path: Path) -> tuple[TrainConfig, dict[str, np.ndarray] | None, Path]:
    """The run's config, and its weights when they come from checkpoint.npz."""
    if path.is_dir():
        candidates = [path / "checkpoint.npz", path / "model.npz"]
        path = next((p for p in candidates if p.is_file()), candidates[0])
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        meta, model_state, _ = load_checkpoint(path)
        return TrainConfig.from_dict(meta["config"]), model_state, path
    except ValueError:
        pass  # not a training checkpoint: a model.npz, whose config is in metrics.json
    metrics = path.parent / "metrics.json"
    if not metrics.is_file():
        raise ValueError(
            f"{path} is not a training checkpoint, and there is no metrics.json beside it "
            "to say which model it holds"
        )
    config = json.loads(metrics.read_text())["config"]
    return TrainConfig.from_dict(config), None, path


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(labels.astype(np.int64) * classes + predicted,
                       minlength=classes * classes).reshape(classes, classes)


def evaluate_checkpoint(checkpoint: str, data_dir: str | None = None, split: str = "test",
                        plot: str | None = None) -> str:
    """Load a run's model, evaluate it, and return the text report."""
    config, model_state, path = _load_run(Path(checkpoint))
    config = config.resolved()
    model = build_model(config.model, dropout=config.dropout, batch_norm=config.batch_norm)
    if model_state is not None:
        model.load_state_dict(model_state)
    else:
        model.load(path)
    images, labels = load_mnist(data_dir if data_dir is not None else config.data_dir, split)
    accuracy, predicted = evaluate(model, images, labels, config)
    classes = int(max(labels.max(initial=0), predicted.max(initial=0))) + 1
    counts = confusion_matrix(labels, predicted, classes)
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=1), 1)

    lines = [f"{config.model} from {path}: {split} accuracy {accuracy:.2%} "
             f"({int(np.diag(counts).sum())} of {len(labels)})", "", "per-class accuracy:"]
    lines += [f"  {c}: {per_class[c]:.2%} ({counts[c].sum()} images)" for c in range(classes)]
    lines += ["", "confusion matrix (rows: true class, columns: predicted class):"]
    lines.append("      " + "".join(f"{c:>6}" for c in range(classes)))
    lines += [f"  {c:>2}: " + "".join(f"{n:>6}" for n in counts[c]) for c in range(classes)]
    if plot:
        lines += ["", _plot_confusion(counts, Path(plot))]
    return "\n".join(lines)


def _plot_confusion(counts: np.ndarray, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "note: matplotlib is not installed, no plot (pip install 'tinygrad_edu[plot]')"
    figure, axes = plt.subplots(figsize=(6, 5))
    image = axes.imshow(counts, cmap="Blues")
    axes.set(xlabel="predicted class", ylabel="true class", title="confusion matrix",
             xticks=range(len(counts)), yticks=range(len(counts)))
    figure.colorbar(image)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return f"wrote {path}"

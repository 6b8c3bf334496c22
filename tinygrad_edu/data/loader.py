"""Batches for training: a seeded, shuffling DataLoader and vectorised per-batch transforms.

A data set is a tuple ``(images, labels)`` of numpy arrays with the same first dimension, as
:func:`~tinygrad_edu.data.mnist.load_mnist` returns. Each batch goes through three steps:

1. ``ToFloat``: uint8 pixels become float32 in [0, 1] (float arrays are only cast to float32),
   the same scaling as torchvision's ``ToTensor``;
2. the user's ``transform`` (e.g. ``Compose([Normalize(0.1307, 0.3081), AddChannelAxis()])``),
   which takes and returns a numpy batch;
3. wrapping: images as a float32 Tensor, labels as an int64 Tensor.

Transforms act on a whole batch at once ("expanding the data" with noise and shifts costs a
few numpy calls per batch, not a Python loop per image). Random ones draw from the generator
they were given, or else from the library generator, so ``manual_seed`` makes them repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from tinygrad_edu.random import generator as library_generator
from tinygrad_edu.tensor import Tensor

BatchTransform = Callable[[np.ndarray], np.ndarray]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_floating(name: str, batch: np.ndarray) -> None:
    if not isinstance(batch, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(batch).__name__}")
    if not np.issubdtype(batch.dtype, np.floating):
        raise TypeError(f"{name}: expected a float batch, got {batch.dtype}; apply ToFloat first")


def _rng(source: np.random.Generator | int | None) -> np.random.Generator | None:
    """A Generator from a seed; None stays None (meaning: the library generator at call time)."""
    if source is None or isinstance(source, np.random.Generator):
        return source
    return np.random.default_rng(_check_int("seed", source, 0))


class ToFloat:
    """uint8 pixels -> float32 in [0, 1] (divide by 255); float batches are cast to float32."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if not isinstance(batch, np.ndarray):
            raise TypeError(f"ToFloat: expected a numpy array, got {type(batch).__name__}")
        if batch.dtype == np.uint8:
            return batch.astype(np.float32) / np.float32(255)
        if np.issubdtype(batch.dtype, np.floating):
            return batch.astype(np.float32, copy=False)
        raise TypeError(f"ToFloat: expected uint8 or float pixels, got {batch.dtype}")

    def __repr__(self) -> str:
        return "ToFloat()"


class Normalize:
    """(x - mean) / std. Scalars, or one value per channel for an (N, C, H, W) batch.

    For MNIST scaled to [0, 1] use ``Normalize(0.1307, 0.3081)``, the training set's statistics.
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self._given = (mean, std)  # for repr, without float32 rounding noise
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if self.mean.ndim > 1 or self.std.ndim > 1:
            raise ValueError("Normalize: mean and std must be scalars or 1-D per-channel values")
        if not np.all(self.std > 0):
            raise ValueError(f"Normalize: std must be > 0, got {std}")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        _check_floating("Normalize", batch)
        mean, std = self.mean, self.std
        if mean.ndim == 1 or std.ndim == 1:  # per channel: broadcast along axis 1 of NCHW
            if batch.ndim != 4:
                raise ValueError(
                    f"Normalize: per-channel values need (N, C, H, W), got {batch.shape}"
                )
            mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        return ((batch - mean) / std).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self._given[0]!r}, std={self._given[1]!r})"


class GaussianNoise:
    """x + noise, noise ~ N(0, std**2) drawn independently for every pixel."""

    def __init__(self, std: float, rng: np.random.Generator | int | None = None) -> None:
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std, self.rng = float(std), _rng(rng)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        _check_floating("GaussianNoise", batch)
        rng = self.rng if self.rng is not None else library_generator()
        noise = rng.standard_normal(batch.shape, dtype=np.float32) * np.float32(self.std)
        return (batch + noise).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


def shift_images(images: np.ndarray, shift_y: np.ndarray, shift_x: np.ndarray) -> np.ndarray:
    """Move image i down by ``shift_y[i]`` and right by ``shift_x[i]`` pixels, filling with 0.

    ``images`` is (N, H, W) or (N, C, H, W) (the last two axes are shifted); negative shifts
    move up/left. ``out[i, y, x] = images[i, y - shift_y[i], x - shift_x[i]]``, or 0 where that
    falls outside. Vectorised: pad by the largest shift, then one gather with index arrays.
    """
    if not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
        raise ValueError(
            f"shift_images: expected (N, H, W) or (N, C, H, W), got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    shift_y, shift_x = np.asarray(shift_y, dtype=np.int64), np.asarray(shift_x, dtype=np.int64)
    if shift_y.shape != (count,) or shift_x.shape != (count,):
        raise ValueError(
            f"shift_images: need one shift per image ({count}), got "
            f"{shift_y.shape} and {shift_x.shape}"
        )
    pad = int(max(np.abs(shift_y).max(initial=0), np.abs(shift_x).max(initial=0)))
    pad_y, pad_x = min(pad, height), min(pad, width)  # larger shifts only ever read zeros
    channels = math.prod(images.shape[1:-2])  # 1 for (N, H, W)
    stacked = images.reshape(count, channels, height, width)
    padded = np.pad(stacked, ((0, 0), (0, 0), (pad_y, pad_y), (pad_x, pad_x)))
    # Output row y reads padded row y - shift + pad; clipping keeps far shifts on the zero border.
    rows = np.clip(np.arange(height) - shift_y[:, None] + pad_y, 0, height + 2 * pad_y - 1)
    cols = np.clip(np.arange(width) - shift_x[:, None] + pad_x, 0, width + 2 * pad_x - 1)
    batch_index = np.arange(count)[:, None, None, None]
    channel_index = np.arange(channels)[None, :, None, None]
    shifted = padded[batch_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]
    return shifted.reshape(images.shape)


class RandomShift:
    """Shift each image by a random whole number of pixels in [-max_shift, max_shift], in y and
    in x independently, filling the uncovered border with zeros (see :func:`shift_images`)."""

    def __init__(self, max_shift: int, rng: np.random.Generator | int | None = None) -> None:
        self.max_shift, self.rng = _check_int("RandomShift: max_shift", max_shift, 0), _rng(rng)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        rng = self.rng if self.rng is not None else library_generator()
        count = len(batch)
        shift_y = rng.integers(-self.max_shift, self.max_shift + 1, size=count)
        shift_x = rng.integers(-self.max_shift, self.max_shift + 1, size=count)
        return shift_images(batch, shift_y, shift_x)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class AddChannelAxis:
    """(N, H, W) -> (N, 1, H, W), the NCHW layout convolution layers (LeNet) expect."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if not isinstance(batch, np.ndarray) or batch.ndim != 3:
            raise ValueError(
                f"AddChannelAxis: expected (N, H, W), got "
                f"{getattr(batch, 'shape', type(batch).__name__)}"
            )
        return batch[:, None, :, :]

    def __repr__(self) -> str:
        return "AddChannelAxis()"


class Compose:
    """Apply transforms in order: ``Compose([a, b])(x) == b(a(x))``."""

    def __init__(self, transforms: Sequence[BatchTransform]) -> None:
        self.transforms = list(transforms)
        for transform in self.transforms:
            if not callable(transform):
                raise TypeError(f"Compose: {transform!r} is not callable")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        for transform in self.transforms:
            batch = transform(batch)
        return batch

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class DataLoader:
    """Iterate over ``(images, labels)`` in batches of ``(Tensor float32, Tensor int64)``.

    - ``shuffle``: a new order every epoch, each sample exactly once. With ``seed`` the order of
      epoch ``e`` comes from ``(seed, e)``, so the same seed replays the same epochs; without
      one it comes from the library generator (see ``tinygrad_edu.manual_seed``).
    - ``drop_last``: drop a final batch smaller than ``batch_size``; ``len(loader)`` counts
      batches accordingly.
    - images: uint8 is scaled to [0, 1] before ``transform`` (see the module docstring).

    Unlike PyTorch's, the data set is a tuple of arrays, not an indexable Dataset object.
    """

    def __init__(
        self,
        dataset: tuple[np.ndarray, np.ndarray],
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: BatchTransform | None = None,
    ) -> None:
        if not isinstance(dataset, (tuple, list)) or len(dataset) != 2:
            raise TypeError("DataLoader: dataset must be a tuple (images, labels) of numpy arrays")
        images, labels = dataset
        for name, array in (("images", images), ("labels", labels)):
            if not isinstance(array, np.ndarray):
                raise TypeError(
                    f"DataLoader: {name} must be a numpy array, got {type(array).__name__}"
                )
            if array.ndim == 0:
                raise ValueError(f"DataLoader: {name} needs a sample axis, got a 0-d array")
        if len(images) != len(labels):
            raise ValueError(f"DataLoader: {len(images)} images but {len(labels)} labels")
        if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
            raise TypeError(f"DataLoader: images must be uint8 or float, got {images.dtype}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(
                f"DataLoader: labels must be integers (class indices), got {labels.dtype}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {transform!r}")
        self.images, self.labels = images, labels
        self.batch_size = _check_int("DataLoader: batch_size", batch_size, 1)
        self.shuffle, self.drop_last, self.transform = bool(shuffle), bool(drop_last), transform
        self.seed = None if seed is None else _check_int("DataLoader: seed", seed, 0)
        self.epoch = 0  # the epoch the next iteration will produce
        self._to_float = ToFloat()

    def __len__(self) -> int:
        count = len(self.labels)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch`` (e.g. when resuming training)."""
        self.epoch = _check_int("DataLoader: epoch", epoch, 0)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The sample indices of ``epoch`` in batch order (for a seeded or unshuffled loader)."""
        count = len(self.labels)
        if not self.shuffle:
            return np.arange(count)
        if self.seed is None:
            raise ValueError(
                "DataLoader: epoch_order needs a seed; without one each epoch "
                "draws its order from the library generator"
            )
        return np.random.default_rng([self.seed, epoch]).permutation(count)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.shuffle and self.seed is None:
            order = library_generator().permutation(len(self.labels))
        else:
            order = self.epoch_order(self.epoch)
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start : start + self.batch_size]
            images = self._to_float(self.images[indices])
            if self.transform is not None:
                images = self.transform(images)
                if not isinstance(images, np.ndarray) or len(images) != len(indices):
                    raise ValueError(
                        f"DataLoader: transform {self.transform!r} must return a "
                        f"numpy batch of {len(indices)} samples"
                    )
            labels = self.labels[indices].astype(np.int64)
            yield Tensor(images.astype(np.float32, copy=False)), Tensor(labels)

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.labels)} samples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, "
            f"transform={self.transform!r})"
        )

"""DataLoader (batching, seeded shuffling) and the per-batch transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import (
    AddChannelAxis,
    Compose,
    DataLoader,
    GaussianNoise,
    Normalize,
    RandomShift,
    ToFloat,
    shift_images,
)
from tinygrad_edu.random import manual_seed
from tinygrad_edu.tensor import Tensor


def numbered_dataset(count: int, height: int = 4, width: int = 4):
    """Image i is filled with i % 256 and its label is i, so every batch can be traced back."""
    labels = np.arange(count, dtype=np.int32)
    images = np.broadcast_to(
        (labels % 256).astype(np.uint8)[:, None, None], (count, height, width)
    ).copy()
    return images, labels


def epoch_labels(loader: DataLoader) -> list[int]:
    return [int(value) for _, labels in loader for value in labels.numpy()]


# --- DataLoader --------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    count=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_every_sample_once_per_epoch_in_the_right_batches(
    count, batch_size, shuffle, drop_last, seed
):
    loader = DataLoader(
        numbered_dataset(count),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        seed=seed,
    )
    expected_batches = count // batch_size if drop_last else math.ceil(count / batch_size)
    assert len(loader) == expected_batches
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == expected_batches
        sizes = [len(labels.numpy()) for _, labels in batches]
        assert all(size == batch_size for size in sizes[:-1])
        if sizes:
            assert sizes[-1] == (
                batch_size if drop_last or count % batch_size == 0 else count % batch_size
            )
        seen = [int(v) for _, labels in batches for v in labels.numpy()]
        assert len(seen) == len(set(seen))  # never twice
        if drop_last:
            assert len(seen) == expected_batches * batch_size
        else:
            assert sorted(seen) == list(range(count))
        if not shuffle:
            assert seen == list(range(len(seen)))
        for images, labels in batches:  # images stay paired with their labels
            np.testing.assert_allclose(images.numpy()[:, 0, 0], (labels.numpy() % 256) / 255)


def test_batches_are_float32_images_and_int64_labels():
    images, labels = numbered_dataset(10, 28, 28)
    batch_images, batch_labels = next(iter(DataLoader((images, labels), batch_size=4)))
    assert isinstance(batch_images, Tensor) and isinstance(batch_labels, Tensor)
    assert batch_images.numpy().dtype == np.float32 and batch_images.shape == (4, 28, 28)
    assert batch_labels.numpy().dtype == np.int64 and batch_labels.shape == (4,)
    assert not batch_images.requires_grad
    # uint8 is scaled to [0, 1] exactly like torchvision's ToTensor
    np.testing.assert_array_equal(batch_images.numpy(), images[:4].astype(np.float32) / 255)
    float_images = np.linspace(-3, 3, 10 * 9).reshape(10, 3, 3)  # float64: cast, not scaled
    batch_images, _ = next(iter(DataLoader((float_images, labels), batch_size=10)))
    np.testing.assert_array_equal(batch_images.numpy(), float_images.astype(np.float32))


def test_last_partial_batch_kept_or_dropped():
    dataset = numbered_dataset(10)
    kept = [labels.numpy().tolist() for _, labels in DataLoader(dataset, batch_size=4)]
    assert kept == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = DataLoader(dataset, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b.numpy()) for _, b in dropped] == [4, 4]


def test_seeded_shuffle_replays_the_same_epochs_and_changes_each_epoch():
    dataset = numbered_dataset(100)
    first = DataLoader(dataset, batch_size=7, shuffle=True, seed=3)
    second = DataLoader(dataset, batch_size=7, shuffle=True, seed=3)
    first_epochs = [epoch_labels(first) for _ in range(3)]
    assert first_epochs == [epoch_labels(second) for _ in range(3)]
    assert first_epochs[0] != first_epochs[1] != first_epochs[2]
    assert all(sorted(epoch) == list(range(100)) for epoch in first_epochs)
    assert first_epochs[0] != list(range(100))
    assert epoch_labels(DataLoader(dataset, shuffle=True, seed=4)) != first_epochs[0]
    second.set_epoch(1)  # resuming: the next iteration is epoch 1 again
    assert epoch_labels(second) == first_epochs[1]
    assert first.epoch_order(2).tolist() == first_epochs[2]


def test_unseeded_shuffle_follows_the_library_generator():
    dataset = numbered_dataset(50)
    manual_seed(11)
    loader = DataLoader(dataset, batch_size=8, shuffle=True)
    epochs = [epoch_labels(loader), epoch_labels(loader)]
    manual_seed(11)
    assert [epoch_labels(loader), epoch_labels(loader)] == epochs
    assert epochs[0] != epochs[1]
    with pytest.raises(ValueError, match="seed"):
        loader.epoch_order(0)


@pytest.mark.parametrize(
    "dataset, kwargs, error, match",
    [
        ([np.zeros((3, 2, 2))], {}, TypeError, "tuple"),
        ((np.zeros((3, 2, 2)), [0, 1, 2]), {}, TypeError, "labels must be a numpy array"),
        ((np.zeros((3, 2, 2)), np.zeros(4, int)), {}, ValueError, "3 images but 4 labels"),
        ((np.zeros((3, 2, 2)), np.zeros(3)), {}, TypeError, "labels must be integers"),
        ((np.zeros((3, 2, 2), np.int64), np.zeros(3, int)), {}, TypeError, "uint8 or float"),
        ((np.zeros(()), np.zeros(())), {}, ValueError, "sample axis"),
        ((np.zeros((3, 2)), np.zeros(3, int)), {"batch_size": 0}, ValueError, ">= 1"),
        ((np.zeros((3, 2)), np.zeros(3, int)), {"batch_size": 2.0}, TypeError, "int"),
        ((np.zeros((3, 2)), np.zeros(3, int)), {"batch_size": True}, TypeError, "int"),
        ((np.zeros((3, 2)), np.zeros(3, int)), {"seed": -1}, ValueError, "seed"),
        ((np.zeros((3, 2)), np.zeros(3, int)), {"transform": 3}, TypeError, "callable"),
    ],
)
def test_bad_arguments_are_reported(dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(dataset, **kwargs)


def test_a_transform_that_drops_samples_is_reported():
    loader = DataLoader(numbered_dataset(4), batch_size=4, transform=lambda batch: batch[:2])
    with pytest.raises(ValueError, match="4 samples"):
        next(iter(loader))


def test_transform_runs_on_the_scaled_batch_and_can_add_a_channel_axis():
    images, labels = numbered_dataset(6, 28, 28)
    loader = DataLoader(
        (images, labels), batch_size=6, transform=Compose([Normalize(0.5, 0.25), AddChannelAxis()])
    )
    batch_images, _ = next(iter(loader))
    assert batch_images.shape == (6, 1, 28, 28) and batch_images.numpy().dtype == np.float32
    expected = (images.astype(np.float32) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(batch_images.numpy()[:, 0], expected, rtol=1e-6)


# --- transforms --------------------------------------------------------------------------------


def test_to_float_scales_uint8_and_only_casts_floats():
    pixels = np.array([[0, 51, 255]], np.uint8)
    np.testing.assert_array_equal(ToFloat()(pixels), np.array([[0, 0.2, 1]], np.float32))
    assert ToFloat()(pixels).dtype == np.float32
    assert ToFloat()(np.array([2.5])).dtype == np.float32 and ToFloat()(np.array([2.5])) == 2.5
    with pytest.raises(TypeError, match="uint8 or float"):
        ToFloat()(np.array([1, 2], np.int32))


def test_normalize_gives_zero_mean_unit_std():
    rng = np.random.default_rng(0)
    batch = (rng.standard_normal((64, 28, 28)) * 2 + 5).astype(np.float32)
    out = Normalize(batch.mean(), batch.std())(batch)
    assert out.dtype == np.float32
    assert abs(out.mean()) < 1e-4 and out.std() == pytest.approx(1, abs=1e-4)


def test_normalize_per_channel_on_nchw():
    batch = np.ones((2, 3, 4, 4), np.float32) * np.array([1, 2, 3], np.float32)[:, None, None]
    out = Normalize([1, 2, 3], [1, 2, 4])(batch)
    np.testing.assert_array_equal(out, np.zeros_like(batch))
    out = Normalize([0, 0, 0], [1, 2, 4])(batch)
    np.testing.assert_array_equal(out[0, :, 0, 0], [1, 1, 0.75])
    with pytest.raises(ValueError, match="N, C, H, W"):
        Normalize([0, 0], [1, 1])(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="std must be > 0"):
        Normalize(0, 0)
    with pytest.raises(TypeError, match="ToFloat"):
        Normalize(0, 1)(np.zeros((2, 4, 4), np.uint8))


def test_gaussian_noise_has_the_requested_statistics():
    batch = np.zeros((100, 28, 28), np.float32)
    noisy = GaussianNoise(0.5, rng=0)(batch)
    assert noisy.dtype == np.float32 and noisy.shape == batch.shape
    assert abs(noisy.mean()) < 0.01
    assert noisy.std() == pytest.approx(0.5, rel=0.01)
    assert np.corrcoef(noisy[0].ravel(), noisy[1].ravel())[0, 1] < 0.1  # independent pixels
    np.testing.assert_array_equal(GaussianNoise(0.0)(batch + 1), batch + 1)
    assert (GaussianNoise(0.5, rng=0)(batch) == noisy).all()  # a seed repeats the draw
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-1)
    with pytest.raises(TypeError, match="ToFloat"):
        GaussianNoise(0.1)(np.zeros((1, 2, 2), np.uint8))


def test_random_transforms_without_rng_follow_manual_seed():
    batch = np.zeros((8, 10, 10), np.float32)
    batch[:, 5, 5] = 1
    noise, shift = GaussianNoise(1.0), RandomShift(3)
    manual_seed(5)
    first = (noise(batch), shift(batch))
    manual_seed(5)
    second = (noise(batch), shift(batch))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def _shift_reference(image: np.ndarray, shift_y: int, shift_x: int) -> np.ndarray:
    """The obvious per-image version: copy the overlapping window, zeros elsewhere."""
    height, width = image.shape[-2:]
    out = np.zeros_like(image)
    for y in range(height):
        for x in range(width):
            if 0 <= y - shift_y < height and 0 <= x - shift_x < width:
                out[..., y, x] = image[..., y - shift_y, x - shift_x]
    return out


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    count=st.integers(0, 5),
    channels=st.sampled_from([None, 1, 3]),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
)
def test_shift_images_matches_the_per_image_reference(data, count, channels, height, width):
    shape = (count, height, width) if channels is None else (count, channels, height, width)
    images = np.arange(math.prod(shape), dtype=np.float32).reshape(shape) + 1
    shifts = st.lists(st.integers(-8, 8), min_size=count, max_size=count)
    shift_y, shift_x = np.array(data.draw(shifts), int), np.array(data.draw(shifts), int)
    out = shift_images(images, shift_y, shift_x)
    assert out.shape == images.shape and out.dtype == images.dtype
    for index in range(count):
        np.testing.assert_array_equal(
            out[index], _shift_reference(images[index], shift_y[index], shift_x[index])
        )


def test_shift_images_rejects_bad_shapes():
    with pytest.raises(ValueError, match="one shift per image"):
        shift_images(np.zeros((2, 3, 3)), np.zeros(3, int), np.zeros(2, int))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        shift_images(np.zeros((3, 3)), np.zeros(3, int), np.zeros(3, int))


def test_random_shift_draws_every_shift_within_range_and_keeps_the_ink():
    count, max_shift = 2000, 2
    batch = np.zeros((count, 28, 28), np.float32)
    batch[:, 14, 14] = 1  # one dot: where it lands is the shift that was drawn
    batch[:, 10:13, 12:16] += 0.5  # a "digit" well inside the frame
    out = RandomShift(max_shift, rng=np.random.default_rng(1))(batch)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), batch.sum(axis=(1, 2)))
    dot = np.argwhere(out == 1)
    assert len(dot) == count  # exactly one dot per image
    shift_y, shift_x = dot[:, 1] - 14, dot[:, 2] - 14
    counts = np.zeros((5, 5), int)
    np.add.at(counts, (shift_y + max_shift, shift_x + max_shift), 1)
    assert counts.sum() == count and counts.min() > 40  # all 25 shifts, roughly uniform (80 each)
    for index in range(0, count, 97):
        np.testing.assert_array_equal(
            out[index], _shift_reference(batch[index], shift_y[index], shift_x[index])
        )


def test_random_shift_fills_with_zeros_and_moves_channels_together():
    batch = np.ones((200, 2, 6, 6), np.float32)
    out = RandomShift(2, rng=3)(batch)
    kept = out.sum(axis=(2, 3))
    np.testing.assert_array_equal(kept[:, 0], kept[:, 1])  # both channels moved alike
    assert set(kept[:, 0].tolist()) <= {rows * cols for rows in (4, 5, 6) for cols in (4, 5, 6)}
    assert kept.min() == 16  # some images moved by 2 in both axes
    np.testing.assert_array_equal(RandomShift(0)(batch), batch)
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)


def test_add_channel_axis_and_compose_order():
    batch = np.zeros((5, 28, 28), np.float32)
    assert AddChannelAxis()(batch).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        AddChannelAxis()(np.zeros((5, 1, 28, 28)))
    composed = Compose([lambda x: x + 1, lambda x: x * 10])
    assert composed(np.zeros(2)).tolist() == [10, 10]
    with pytest.raises(TypeError, match="not callable"):
        Compose([AddChannelAxis(), 3])
    assert repr(Compose([RandomShift(2), Normalize(0.1307, 0.3081)])) == (
        "Compose([RandomShift(max_shift=2), Normalize(mean=0.1307, std=0.3081)])"
    )

"""MNIST files: the IDX reader/writer, the look-up order, validation errors, the real data."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import (
    ENV_VAR,
    MNIST_CHECKSUMS,
    IDXFormatError,
    atomic_write,
    default_cache_dir,
    load_mnist,
    locate_mnist,
    read_idx,
    verify_mnist,
    write_idx,
)
from tinygrad_edu.data import mnist as mnist_module

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def write_fake_mnist(folder: Path, count: int = 5, suffix: str = ".gz", offset: int = 0) -> None:
    """Small fake train and test splits; pixel values start at ``offset`` to tell folders apart."""
    folder.mkdir(parents=True, exist_ok=True)
    for images_name, labels_name in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        images = (np.arange(count * 28 * 28) + offset).astype(np.uint8).reshape(count, 28, 28)
        write_idx(folder / (images_name + suffix), images)
        write_idx(folder / (labels_name + suffix), (np.arange(count) % 10).astype(np.uint8))


@pytest.fixture
def no_lookup_env(monkeypatch, tmp_path):
    """No $TINYGRAD_EDU_DATA and an empty private cache folder, so only what a test sets counts."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# --- IDX reader and writer ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(IDX_DTYPES),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    compress=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_idx_round_trip_every_dtype_and_rank(dtype, shape, compress, seed):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = (rng.standard_normal(shape) * 1e3).astype(dtype)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("array.idx" + (".gz" if compress else ""))
        write_idx(path, array)
        with open(path, "rb") as written:
            assert (written.read(2) == b"\x1f\x8b") == compress
        loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    assert loaded.shape == shape
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable


def test_idx_header_is_big_endian_as_the_format_says(tmp_path):
    write_idx(tmp_path / "a.idx", np.array([[1, 2, 3]], dtype=np.int16))
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw == bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 1, 0, 2, 0, 3])


def test_read_idx_accepts_big_endian_and_gzip_without_gz_name(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(6, dtype=">i4").reshape(2, 3))
    os.rename(tmp_path / "a.gz", tmp_path / "a.idx")
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, "U1")])
def test_write_idx_rejects_dtypes_idx_cannot_hold(tmp_path, array):
    with pytest.raises(TypeError, match="IDX cannot store"):
        write_idx(tmp_path / "a.idx", array)
    assert not any(tmp_path.iterdir())


def test_write_idx_rejects_scalars_and_non_arrays(tmp_path):
    with pytest.raises(ValueError, match="dims"):
        write_idx(tmp_path / "a.idx", np.array(3, np.uint8))
    with pytest.raises(TypeError, match="numpy array"):
        write_idx(tmp_path / "a.idx", [1, 2])


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "labels.gz"
    write_idx(path, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(mnist_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(400, dtype=np.uint8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.gz"]


def test_atomic_write_never_creates_a_partial_file(tmp_path):
    path = tmp_path / "new.bin"
    with pytest.raises(RuntimeError):
        with atomic_write(path) as out_file:
            out_file.write(b"half of it")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_write(path) as out_file:
        out_file.write(b"all of it")
    assert path.read_bytes() == b"all of it" and list(tmp_path.iterdir()) == [path]


# --- corrupt files ----------------------------------------------------------------------------


def _corrupt(folder: Path, name: str, how: str) -> None:
    path = folder / name
    data = path.read_bytes()
    if how == "truncated gzip":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bad gzip":
        path.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    elif how == "not gzip":
        path.write_bytes(gzip.decompress(data))  # named .gz but stored raw
    elif how == "short data":
        path.write_bytes(gzip.compress(gzip.decompress(data)[:-1]))
    elif how == "trailing bytes":
        path.write_bytes(gzip.compress(gzip.decompress(data) + b"\x00"))
    elif how == "garbage magic":
        path.write_bytes(gzip.compress(b"\x12\x34" + gzip.decompress(data)[2:]))
    elif how == "empty":
        path.write_bytes(gzip.compress(b""))


@pytest.mark.parametrize(
    "how, message",
    [
        ("truncated gzip", "gzip"),
        ("bad gzip", "gzip"),
        ("not gzip", "gzip"),
        ("short data", "truncated"),
        ("trailing bytes", "trailing bytes"),
        ("garbage magic", "not an IDX file"),
        ("empty", "too short"),
    ],
)
@pytest.mark.parametrize("name", [TRAIN_IMAGES + ".gz", TRAIN_LABELS + ".gz"])
def test_corrupt_file_is_a_value_error_naming_it(no_lookup_env, how, message, name):
    folder = no_lookup_env / "data"
    write_fake_mnist(folder)
    _corrupt(folder, name, how)
    with pytest.raises(IDXFormatError, match=message) as caught:
        load_mnist(folder)
    assert isinstance(caught.value, ValueError) and name in str(caught.value)
    load_mnist(folder, split="test")  # the other split is untouched and still loads


def test_labels_in_place_of_images_is_a_wrong_magic_error(no_lookup_env):
    folder = no_lookup_env / "data"
    write_fake_mnist(folder)
    write_idx(folder / (TRAIN_IMAGES + ".gz"), np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"3-D unsigned-byte IDX file \(magic 0x00000803\)"):
        load_mnist(folder)
    write_idx(folder / (TRAIN_IMAGES + ".gz"), np.zeros((5, 28, 28), np.float32))
    with pytest.raises(ValueError, match="got 3-D float32"):
        load_mnist(folder)


def test_image_and_label_counts_must_agree(no_lookup_env):
    folder = no_lookup_env / "data"
    write_fake_mnist(folder, count=5)
    write_idx(folder / (TRAIN_LABELS + ".gz"), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(folder)


# --- where the files are found ------------------------------------------------------------------


def test_split_must_be_train_or_test(no_lookup_env):
    write_fake_mnist(no_lookup_env)
    with pytest.raises(ValueError, match=r"\['test', 'train'\].*'validation'"):
        load_mnist(no_lookup_env, split="validation")


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("child", ["", "mnist"])
def test_folder_or_its_mnist_child_gzip_or_raw(no_lookup_env, suffix, child):
    write_fake_mnist(no_lookup_env / "root" / child, count=7, suffix=suffix)
    images, labels = load_mnist(no_lookup_env / "root", split="test")
    assert images.shape == (7, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.uint8 and labels.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert images[0, 0, :3].tolist() == [0, 1, 2]


def test_missing_files_name_the_files_and_every_folder_searched(no_lookup_env, monkeypatch):
    env_folder = no_lookup_env / "env"
    env_folder.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env_folder))
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist(split="test")
    message = str(caught.value)
    for expected in (
        TEST_IMAGES,
        TEST_LABELS,
        str(env_folder),
        str(env_folder / "mnist"),
        str(default_cache_dir()),
        str(default_cache_dir() / "mnist"),
    ):
        assert expected in message


def test_half_present_split_names_the_missing_file(no_lookup_env):
    write_fake_mnist(no_lookup_env / "data")
    (no_lookup_env / "data" / (TRAIN_LABELS + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match=TRAIN_LABELS + r"\[\.gz\] is missing"):
        load_mnist(no_lookup_env / "data")


def test_explicit_data_dir_is_never_papered_over(no_lookup_env, monkeypatch):
    write_fake_mnist(no_lookup_env / "env")
    write_fake_mnist(default_cache_dir())
    monkeypatch.setenv(ENV_VAR, str(no_lookup_env / "env"))
    (no_lookup_env / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist(no_lookup_env / "empty")
    assert str(no_lookup_env / "empty") in str(caught.value)
    assert str(no_lookup_env / "env") not in str(caught.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(no_lookup_env / "typo")


def test_lookup_order_env_var_then_cache(no_lookup_env, monkeypatch):
    write_fake_mnist(default_cache_dir(), offset=100)
    assert load_mnist()[0].flat[0] == 100  # only the cache holds data
    write_fake_mnist(no_lookup_env / "env" / "mnist", offset=7)
    monkeypatch.setenv(ENV_VAR, str(no_lookup_env / "env"))
    assert load_mnist()[0].flat[0] == 7  # the env var comes first
    assert locate_mnist()[0] == no_lookup_env / "env" / "mnist" / (TRAIN_IMAGES + ".gz")


def test_a_tilde_in_data_dir_means_home(no_lookup_env, monkeypatch):
    monkeypatch.setenv("HOME", str(no_lookup_env / "home"))
    write_fake_mnist(no_lookup_env / "home" / "datasets", count=3)
    assert len(load_mnist("~/datasets")[0]) == 3


def test_default_cache_dir_honours_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tinygrad_edu" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_edu" / "mnist"


def test_loading_writes_nothing_next_to_the_data(no_lookup_env):
    folder = no_lookup_env / "data"
    write_fake_mnist(folder)
    before = sorted(folder.iterdir())
    folder.chmod(0o555)
    try:
        load_mnist(folder)
        load_mnist(folder, split="test")
    finally:
        folder.chmod(0o755)
    assert sorted(folder.iterdir()) == before


def test_verify_is_opt_in_and_catches_files_that_are_not_mnist(no_lookup_env):
    folder = no_lookup_env / "data"
    write_fake_mnist(folder)
    load_mnist(folder)  # fake data: loads, because loading does not hash by default
    with pytest.raises(ValueError, match="does not match the published MNIST file: size"):
        load_mnist(folder, verify=True)
    with pytest.raises(ValueError, match="does not match the published file"):
        verify_mnist(folder)
    (folder / (TEST_LABELS + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match=TEST_LABELS):
        verify_mnist(folder)


# --- the real MNIST files ------------------------------------------------------------------------


def _real_mnist_folder() -> Path | None:
    root = os.environ.get(ENV_VAR)
    if not root:
        return None
    for folder in (Path(root), Path(root) / "mnist"):
        if all(
            (folder / (name + ".gz")).is_file()
            for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
        ):
            return folder
    return None


REAL_FOLDER = _real_mnist_folder()
needs_real_mnist = pytest.mark.skipif(
    REAL_FOLDER is None,
    reason=f"the real MNIST .gz files are not in ${ENV_VAR} (or its mnist/ child)",
)


@pytest.fixture(scope="module")
def real_train():
    return load_mnist(split="train")


@pytest.fixture(scope="module")
def real_test():
    return load_mnist(split="test")


@needs_real_mnist
def test_real_mnist_shapes_dtypes_and_first_labels(real_train, real_test):
    (train_images, train_labels), (test_images, test_labels) = real_train, real_test
    assert train_images.shape == (60000, 28, 28) and train_labels.shape == (60000,)
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    for array in (train_images, train_labels, test_images, test_labels):
        assert array.dtype == np.uint8
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_real_mnist
def test_real_mnist_label_histograms_and_pixel_statistics(real_train, real_test):
    train_images, train_labels = real_train
    assert np.bincount(train_labels, minlength=10).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(real_test[1], minlength=10).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert train_images.min() == 0 and train_images.max() == 255
    # The statistics everyone normalises MNIST with (see Normalize in docs/data.md).
    value_counts = np.bincount(train_images.ravel(), minlength=256)
    values = np.arange(256) / 255
    mean = (value_counts * values).sum() / value_counts.sum()
    std = np.sqrt((value_counts * (values - mean) ** 2).sum() / value_counts.sum())
    assert mean == pytest.approx(0.1307, abs=5e-5) and std == pytest.approx(0.3081, abs=5e-5)


@needs_real_mnist
def test_real_mnist_matches_published_checksums(real_test):
    verify_mnist(REAL_FOLDER)
    images, _ = load_mnist(REAL_FOLDER, split="test", verify=True)
    np.testing.assert_array_equal(images, real_test[0])


@needs_real_mnist
def test_real_mnist_decompressed_matches_and_verifies(tmp_path, real_train, real_test):
    for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS):
        with gzip.open(REAL_FOLDER / (name + ".gz")) as compressed:
            (tmp_path / name).write_bytes(compressed.read())
    verify_mnist(tmp_path)  # the SHA-256 and sizes of the decompressed files
    for split, expected in (("train", real_train), ("test", real_test)):
        images, labels = load_mnist(tmp_path, split=split, verify=True)
        np.testing.assert_array_equal(images, expected[0])
        np.testing.assert_array_equal(labels, expected[1])


def test_checksum_table_covers_every_file():
    for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS):
        packed, unpacked = MNIST_CHECKSUMS[name + ".gz"], MNIST_CHECKSUMS[name]
        assert len(packed.md5) == 32 and len(packed.sha256) == 64 and packed.size > 0
        assert len(unpacked.sha256) == 64 and unpacked.size > packed.size

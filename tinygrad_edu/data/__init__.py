"""Data for training: MNIST-style IDX files on disk, and batches with transforms in memory.

``load_mnist`` finds and validates the files (``mnist.py``); ``DataLoader`` batches, shuffles
and transforms them into Tensors (``loader.py``).
"""

from tinygrad_edu.data.loader import (
    AddChannelAxis,
    Compose,
    DataLoader,
    GaussianNoise,
    Normalize,
    RandomShift,
    ToFloat,
    shift_images,
)
from tinygrad_edu.data.mnist import (
    ENV_VAR,
    FASHION_MNIST_CHECKSUMS,
    FASHION_MNIST_MIRRORS,
    MNIST_CHECKSUMS,
    MNIST_MIRRORS,
    DownloadError,
    FileChecksum,
    IDXFormatError,
    atomic_write,
    default_cache_dir,
    download_mnist,
    load_mnist,
    locate_mnist,
    read_idx,
    verify_mnist,
    write_idx,
)

__all__ = [
    "ENV_VAR",
    "FASHION_MNIST_CHECKSUMS",
    "FASHION_MNIST_MIRRORS",
    "MNIST_CHECKSUMS",
    "MNIST_MIRRORS",
    "AddChannelAxis",
    "Compose",
    "DataLoader",
    "DownloadError",
    "FileChecksum",
    "GaussianNoise",
    "IDXFormatError",
    "Normalize",
    "RandomShift",
    "ToFloat",
    "atomic_write",
    "default_cache_dir",
    "download_mnist",
    "load_mnist",
    "locate_mnist",
    "read_idx",
    "shift_images",
    "verify_mnist",
    "write_idx",
]

"""Where the tests find the real MNIST files, and the skip used when they are absent."""

import pytest

from tinygrad_edu.data import locate_mnist


def mnist_available() -> bool:
    try:
        locate_mnist(None, "train")
        locate_mnist(None, "test")
    except (FileNotFoundError, OSError, ValueError):
        return False
    return True


needs_mnist = pytest.mark.skipif(
    not mnist_available(),
    reason="the MNIST files are not present: set TINYGRAD_EDU_DATA to a folder holding them "
    "(CI sets it to ../shared/data)",
)

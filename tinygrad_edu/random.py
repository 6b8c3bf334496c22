"""One seeded random generator for the whole library.

Every random draw in tinygrad_edu (``Tensor.randn``, weight initialisers, dropout masks,
DataLoader shuffling without an explicit seed) goes through :func:`generator`, so one call to
:func:`manual_seed` makes a whole run reproducible, as ``torch.manual_seed`` does.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the global generator to a known state and return it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator every random draw in the library uses."""
    return _generator

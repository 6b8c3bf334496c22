"""Shared pytest settings: hypothesis profiles sized so the whole suite stays fast on 2 cores.

``default`` is used unless ``HYPOTHESIS_PROFILE`` names another. Gradient checks run the op
hundreds of times per example, so examples are few and no per-example deadline applies (the
first example of a test also pays numpy's and numba's warm-up). ``ci`` is the same, but
derandomized so a CI failure reproduces exactly. ``thorough`` draws 8x as many examples, for
hunting bugs after changing a backward rule (a few minutes).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

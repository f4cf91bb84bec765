"""Shared pytest setup for kerasviz's tests.

TensorFlow's C++ logging is silenced before anything imports TensorFlow, the
`slow` marker is registered (slow tests still run by default; deselect them
with `-m "not slow"`), a fixture switches Keras to mixed precision for
one test and restores the previous policy afterwards, and another skips
the reduced-precision speed probe.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Property-based tests (tests/test_properties.py): "ci" is the default, with a
# fixed seed and a small budget; "dev" runs ten times more examples
# (HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py).
settings.register_profile(
    "ci", max_examples=10, derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, print_blob=True, suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a test that takes several seconds (runs by default)"
    )


@pytest.fixture
def mixed_float16():
    """Run the test under the 'mixed_float16' policy, then restore the old one."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield keras.mixed_precision.global_policy()
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.fixture(scope="module")
def fast_probe():
    """Skip the reduced-precision speed probe for a module (it is tested on its own, in tests/test_precision.py)."""
    from kerasviz import precision as precision_lib

    saved = dict(precision_lib._measured)
    precision_lib._measured.update({"bfloat16": 0.5, "float16": 0.5})
    yield
    precision_lib._measured.clear()
    precision_lib._measured.update(saved)

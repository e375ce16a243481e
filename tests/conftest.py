"""pytest hooks only: each test starts from the float32 policy and a fixed seed.

The shared helpers (tiny configs, random inputs, real-data paths) and the
``TestCase`` base class live in ``tests/test_case.py``.
"""

import pytest

import tfbert  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import keras


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts from the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")

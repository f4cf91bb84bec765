"""Refuse to run under a Keras backend other than TensorFlow.

`check_environment` reads `KERAS_BACKEND` only (no import: `import kerasviz`
calls it); `check_keras` imports Keras and asks it (called before kerasviz
imports its core).
"""

import os


def check_environment() -> None:
    """Raise `ImportError` if `KERAS_BACKEND` names another backend."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise ImportError(
            "kerasviz needs the TensorFlow backend of Keras 3: its backward rules are "
            "tf.custom_gradient functions. Unset KERAS_BACKEND or set "
            f"KERAS_BACKEND=tensorflow before importing keras. Received: "
            f"KERAS_BACKEND={backend!r}"
        )


def check_keras() -> None:
    """Raise `ImportError` if Keras runs on another backend (e.g. set in keras.json)."""
    check_environment()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "kerasviz needs the TensorFlow backend of Keras 3. Set "
            "KERAS_BACKEND=tensorflow (or 'backend' in ~/.keras/keras.json). "
            f"Received: backend={keras.backend.backend()!r}"
        )

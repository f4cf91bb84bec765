"""Refuse to import under a Keras backend other than TensorFlow."""

import os

_backend = os.environ.get("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        "kerasviz needs the TensorFlow backend of Keras 3: its backward rules are "
        "tf.custom_gradient functions. Unset KERAS_BACKEND or set "
        f"KERAS_BACKEND=tensorflow before importing keras. Received: "
        f"KERAS_BACKEND={_backend!r}"
    )

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "kerasviz needs the TensorFlow backend of Keras 3. Set "
        "KERAS_BACKEND=tensorflow (or 'backend' in ~/.keras/keras.json). "
        f"Received: backend={keras.backend.backend()!r}"
    )

"""The edges of issue 11: subclassed and input-less models, the callback's folders,
overlays of batches, target names in any case, sanity checks of one image."""

import re

import keras
import numpy as np
import pytest

import kerasviz as kv

L = keras.layers


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        L.Conv2D(4, 3, activation="relu", name="c1"),
        L.Flatten(name="flat"),
        L.Dense(3, name="logits"),
    ])


def test_sanity_check_of_one_image_warns_that_input_similarity_is_nan():
    image = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    message = (
        "sanity_check: the input similarity (M6) compares the maps of different images, so with "
        "one image it is nan. Pass 2 images or more (4-16 are plenty). Received: images with "
        "shape (1, 8, 8, 3)"
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        report = kv.analysis.sanity_check(_cnn(), image, num_random_classes=1, progress=False)
    assert np.isnan(report["saliency"].input_similarity)

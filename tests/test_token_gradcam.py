"""Grad-CAM on a transformer-style token layer (N, L, D): the patch tokens laid out as a grid, against NumPy."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidArgumentError

L = keras.layers


def _tiny_vit():
    """Patches of 2x2 pixels -> 16 tokens, a class token in front (17), an encoder block, the class token's head."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 1))
    patches = L.Reshape((16, 6), name="patches")(L.Conv2D(6, 2, strides=2, name="embed")(x))
    cls = L.Reshape((1, 6))(L.GlobalAveragePooling1D()(patches))
    tokens = L.Concatenate(axis=1, name="with_cls")([cls, patches])
    encoded = L.Dense(6, activation="relu", bias_initializer="random_normal", name="encoder_3")(tokens)
    odd = L.Reshape((15, 6), name="odd")(L.Cropping1D((1, 1))(encoded))
    head_in = L.Concatenate()([encoded[:, 0], L.GlobalAveragePooling1D()(odd)])
    return keras.Model(x, L.Dense(3, name="head")(head_in))


def _numpy_cam(model, x, layer, cls, grid):
    tapped = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        a, logits = tapped(x)
        score = logits[:, cls]
    g = tape.gradient(score, a).numpy()
    a = a.numpy()
    h, w = grid
    a, g = a[:, -h * w:].reshape(len(x), h, w, -1), g[:, -h * w:].reshape(len(x), h, w, -1)
    cam = np.maximum((g.mean(axis=(1, 2), keepdims=True) * a).sum(-1), 0.0)
    return tf.image.resize(cam[..., None], (8, 8), method="bilinear").numpy()[..., 0]


def test_token_gradcam_after_a_class_token_and_on_a_square_layer_equal_numpy():
    model = _tiny_vit()
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    viz = kv.Visualizer(model, rules=("saliency",))
    for layer, grid in (("encoder_3", (4, 4)), ("patches", (4, 4))):
        cams = viz(x, target=1, method=kv.methods.GradCAM(layer), progress=False)["saliency"]
        assert cams.shape == (3, 8, 8)
        np.testing.assert_allclose(cams, _numpy_cam(model, x, layer, 1, grid), rtol=1e-4, atol=1e-6)
    cams = viz(x, target=1, method=kv.methods.GradCAM("odd", grid=(3, 5)), progress=False)["saliency"]
    np.testing.assert_allclose(cams, _numpy_cam(model, x, "odd", 1, (3, 5)), rtol=1e-4, atol=1e-6)


def test_token_gradcam_needs_a_grid_when_the_tokens_are_not_one():
    viz = kv.Visualizer(_tiny_vit(), rules=("saliency",))
    message = ("Layer 'odd' has 15 tokens: not a square grid of patches, nor a class token followed by one. "
               "Say how the last h x w tokens lie on the image with GradCAM(layer, grid=(h, w)). Received: grid=None")
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        viz(np.zeros((1, 8, 8, 1), np.float32), method=kv.methods.GradCAM("odd"), progress=False)
    with pytest.raises(InvalidArgumentError, match=re.escape("Received: grid=(0, 3)")):
        kv.methods.GradCAM("odd", grid=(0, 3))
    assert kv.methods.token_grid(50, None, "x") == (7, 7)

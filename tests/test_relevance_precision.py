"""Relevance rules (LRP, DeepLIFT) in reduced precision.

References: the same rules computed in float32 in the test, the models'
own logits, and NumPy (float64) for DeepLIFT's Rescale quotient.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz import relevance as relevance_lib
from kerasviz import relevance_layers


pytestmark = pytest.mark.usefixtures("fast_probe")  # tests/conftest.py


def _pearson(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _bias_free_net(seed=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", use_bias=False, kernel_initializer="he_normal"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu", use_bias=False, kernel_initializer="he_normal"),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu", use_bias=False, kernel_initializer="he_normal"),
        keras.layers.Dense(4, use_bias=False, kernel_initializer="he_normal"),
    ])


def _spans(model):
    return [layer for layer in model.layers if isinstance(layer, relevance_layers.RelevanceLayer)]


def test_relevance_layers_compute_in_float32_whatever_the_precision_or_global_policy(mixed_float16):
    model = _bias_free_net()
    for precision in ("bfloat16", "float16", None):  # None: each layer's own type, here the global policy's
        spans = _spans(kv.rewrite(model, "lrp-epsilon", precision=precision))
        assert len(spans) == 5  # after the four linear layers and the max pooling
        assert {span.compute_dtype for span in spans} == {"float32"}, precision


def test_deeplift_rescale_divides_in_float32_on_bfloat16_values():
    rng = np.random.default_rng(0)
    z, z0, grad = (tf.cast(rng.uniform(-2, 2, 4096), tf.bfloat16) for _ in range(3))
    out, out0 = tf.nn.relu(z), tf.nn.relu(z0)
    derivative = tf.cast(z > 0, tf.bfloat16)
    got = relevance_lib.deeplift_relu(grad, derivative, z, out, z0, out0)
    assert got.dtype == tf.bfloat16
    z, z0, grad, out, out0 = (t.numpy().astype(np.float64) for t in (z, z0, grad, out, out0))
    near = z == z0  # bfloat16 values differ by far more than 1e-7 where they differ
    expected = grad * np.where(near, z > 0, (out - out0) / np.where(near, 1.0, z - z0))
    assert 0 < near.sum() < 100
    # One rounding to bfloat16 at the end (2⁻⁹ relative); dividing in bfloat16 rounds Δout, Δz and the quotient.
    np.testing.assert_allclose(got.numpy().astype(np.float64), expected, rtol=2.0 ** -8, atol=0)


def test_lrp_epsilon_in_bfloat16_matches_float32_on_the_trained_net():
    model = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x, _) = kv.data.fashion_mnist()
    x = x[:8]
    maps = {p: kv.visualize(model, x, rules=("lrp-epsilon", "deeplift"), target="max", precision=p,
                            progress=False) for p in ("float32", "bfloat16")}
    for rule in ("lrp-epsilon", "deeplift"):
        single, reduced = maps["float32"][rule], maps["bfloat16"][rule]
        assert reduced.dtype == np.float32
        r = np.array([_pearson(a, b) for a, b in zip(single, reduced)])
        # Measured (16 images): lrp-epsilon r min 0.985, median 0.996; deeplift min 0.992, median 0.998.
        assert r.min() >= 0.97 and np.median(r) >= 0.99, (rule, r)
        sums = [m.reshape(len(x), -1).sum(1) for m in (single, reduced)]
        # Measured: the sums differ by at most 1.1% (lrp-epsilon) and 0.3% (deeplift).
        np.testing.assert_allclose(sums[1], sums[0], rtol=0.03)


def test_relevance_is_conserved_in_bfloat16_on_a_bias_free_net():
    model = _bias_free_net()
    x = np.random.default_rng(3).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)
    viz = kv.Visualizer(model, ("lrp-epsilon", "lrp-epsilon-plus-flat", "deeplift"), precision="bfloat16")
    maps = viz(x, target=0, progress=False)
    logits = viz.predict(x)[:, 0]  # the bfloat16 forward's logits: the score the maps start from
    assert np.abs(logits).min() > 0.2
    for rule, m in maps.items():
        # A zero input's logit is 0 on a bias-free net, so all three sum to the logit: exactly in float32,
        # within bfloat16's rounding here (measured: 0.8% on this net; 1.8% and 2.7% on the nets of seeds 4, 5).
        np.testing.assert_allclose(m.reshape(len(x), -1).sum(1), logits, rtol=0.03, err_msg=rule)

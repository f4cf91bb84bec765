"""Tests for kerasviz.layers: kerasviz's layers load after `import kerasviz` alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import kerasviz as kv
from kerasviz import layers, rules, zoo
from kerasviz.rewrite import SoftmaxRemoved


def test_layers_stay_importable_from_their_old_modules_under_stable_names():
    """Old imports give the same classes, and the registered names saved files use are unchanged."""
    assert zoo.SubtractMean is layers.SubtractMean
    assert SoftmaxRemoved is layers.SoftmaxRemoved
    assert kv.layers is layers
    for cls, name in ((layers.SubtractMean, "kerasviz>SubtractMean"),
                      (layers.SoftmaxRemoved, "kerasviz>SoftmaxRemoved"),
                      (rules.RuleReLU, "kerasviz>RuleReLU")):
        assert keras.saving.get_registered_name(cls) == name
        assert keras.saving.get_registered_object(name) is cls


def _model_with_the_three_layers() -> keras.Model:
    """SubtractMean, then a fused ReLU and a final softmax that rewrite turns into RuleReLU and SoftmaxRemoved."""
    inputs = keras.Input((4, 4, 3))
    x = layers.SubtractMean(reverse_channels=True, name="subtract_mean")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    x = keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomNormal(seed=2))(x)
    outputs = keras.layers.Softmax()(x)
    return keras.Model(inputs, outputs)


def _gradient(model, x) -> np.ndarray:
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(model(x)[:, 1])
    return tape.gradient(score, x).numpy()


_LOAD = """
import json, sys
import numpy as np, tensorflow as tf, keras
import kerasviz
model = keras.saving.load_model(sys.argv[1])
x = tf.constant(np.load(sys.argv[2]))
with tf.GradientTape() as tape:
    tape.watch(x)
    outputs = model(x)
    score = tf.reduce_sum(outputs[:, 1])
np.savez(sys.argv[3], outputs=outputs.numpy(), gradient=tape.gradient(score, x).numpy())
print(json.dumps({"types": [type(layer).__name__ for layer in model.layers],
                  "zoo_imported": "kerasviz.zoo" in sys.modules}))
"""


def test_saved_model_with_every_kerasviz_layer_loads_after_import_kerasviz_alone(tmp_path):
    """A fresh interpreter that only imports kerasviz loads the .keras file: same outputs, same rule gradient."""
    source = _model_with_the_three_layers()
    model = kv.rewrite(source, "deconvnet")
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"SubtractMean", "RuleReLU", "SoftmaxRemoved"} <= kinds
    path = str(tmp_path / "model.keras")
    model.save(path)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _LOAD, path, str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info == {"types": [type(layer).__name__ for layer in model.layers], "zoo_imported": False}
    loaded = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(loaded["outputs"], model(x).numpy())
    expected = _gradient(model, x)
    # The rule matters here: the DeconvNet map is not the saliency map (nor RuleReLU's default, guided).
    for other in ("saliency", "guided"):
        assert not np.allclose(_gradient(kv.rewrite(source, other), x), expected), other
    np.testing.assert_array_equal(loaded["gradient"], expected)

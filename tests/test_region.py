"""kv.targets.Region: a class's logits summed over a mask, against tf.GradientTape of that masked sum."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidTargetError, UnknownTargetError

L = keras.layers


def _segmenter():
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu", bias_initializer="random_normal")(x)
    return keras.Model(x, L.Conv2D(3, 1, activation="softmax")(h))


def _masked_gradient(model, x, class_index, mask):
    """d/dx of sum_p mask[p] * logits[p, class], the logits written out from the weights."""
    first, last = model.layers[1], model.layers[2]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        h = tf.nn.relu(tf.nn.conv2d(xt, first.kernel, 1, "SAME") + first.bias)
        logits = tf.nn.conv2d(h, last.kernel, 1, "SAME") + last.bias
        score = tf.reduce_sum(logits[..., class_index] * mask, axis=(1, 2))
    return tape.gradient(score, xt).numpy()


def test_region_is_the_gradient_of_the_masked_sum_of_the_class_logits():
    model = _segmenter()
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 2)).astype(np.float32)
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    maps = kv.visualize(model, x, rules=("saliency",), target=kv.targets.Region(1, mask), progress=False)
    np.testing.assert_allclose(maps["saliency"], _masked_gradient(model, x, 1, mask.astype(np.float32)),
                               rtol=1e-4, atol=1e-6)
    per_sample = np.random.default_rng(1).uniform(size=(3, 8, 8)).astype(np.float32)
    maps = kv.visualize(model, x, rules=("saliency",), target=kv.targets.Region(2, per_sample), progress=False)
    np.testing.assert_allclose(maps["saliency"], _masked_gradient(model, x, 2, per_sample), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("target, message", [
    (lambda: kv.targets.Region(1, np.ones((4, 4))),
     "The mask must be shaped like the output's positions, (8, 8) (or one per sample, (N, *(8, 8))), for the "
     "output (N, 8, 8, 3). Received: mask shape=(4, 4)"),
    (lambda: kv.targets.Region(3, np.ones((8, 8))), "The output has 3 classes (0..2). Received: class_index=3"),
    (lambda: kv.targets.Region(0, np.ones((2, 8, 8))),
     "A mask per sample needs one mask for each of the 3 samples. Received: mask shape=(2, 8, 8)"),
])
def test_region_that_does_not_fit_the_output_is_refused(target, message):
    x = np.zeros((3, 8, 8, 2), np.float32)
    with pytest.raises(InvalidTargetError, match=f"^{re.escape(message)}$"):
        kv.visualize(_segmenter(), x, rules=("saliency",), target=target(), progress=False)


def test_region_arguments_are_checked():
    with pytest.raises(UnknownTargetError, match=re.escape("Received: class_index='a'")):
        kv.targets.Region("a", np.ones((8, 8)))
    with pytest.raises(UnknownTargetError, match=re.escape("Received: mask of shape (1,) and dtype <U1")):
        kv.targets.Region(0, ["a"])

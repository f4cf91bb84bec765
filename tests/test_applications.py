"""kerasviz on the `keras.applications` architectures (random weights).

For each architecture, at the smallest input size it allows:
- the rewritten model's softmax equals the original probabilities;
- `report.num_replaced` equals the ReLUs counted here independently
  (`ReLU` layers, `Activation("relu"/"relu6")` and fused `activation="relu"`);
- the guided map equals a reference built by a different route: a
  `keras.models.clone_model` of the model in which every ReLU is a `Lambda`
  applying a guided-ReLU `tf.custom_gradient` written here (layers with a
  fused ReLU are re-created with it as their activation and their weights
  copied; the other layers are reused as they are).

Left out for time on 2 CPU cores (each takes 10-60 s to build and trace):
ResNet101/152, ResNet101V2/152V2, DenseNet169/201, MobileNetV3Large and the
EfficientNets (the latter use swish, not ReLU).
"""

import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv

L = keras.layers

SIZES = {
    "VGG16": 32,
    "VGG19": 32,
    "ResNet50": 32,
    "ResNet50V2": 32,
    "DenseNet121": 32,
    "InceptionV3": 75,
    "InceptionResNetV2": 75,
    "Xception": 71,
    "MobileNet": 32,
    "MobileNetV2": 32,
    "MobileNetV3Small": 32,
    "NASNetMobile": 32,
}
SLOW = {"DenseNet121", "InceptionV3", "InceptionResNetV2", "NASNetMobile"}
APPLICATIONS = [
    pytest.param(name, id=name, marks=[pytest.mark.slow] if name in SLOW else [])
    for name in SIZES
]

RELU_NAMES = {"relu": None, "relu6": 6.0}


def _relu_max_value(function):
    """(is a ReLU, its max_value) for an activation function."""
    name = getattr(function, "__name__", None)
    return name in RELU_NAMES, RELU_NAMES.get(name)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def count_relus(model):
    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, L.ReLU):
            count += 1
        elif _relu_max_value(getattr(layer, "activation", None))[0]:
            count += 1  # Activation("relu") and fused activation="relu"
    return count


def guided_relu(max_value=None, negative_slope=0.0, threshold=0.0):
    """A guided-backprop ReLU written independently of kerasviz.rules."""

    @tf.custom_gradient
    def fn(z):
        y = tf.where(z >= threshold, z, negative_slope * (z - threshold))
        keep = z > threshold
        if max_value is not None:
            y = tf.minimum(y, tf.cast(max_value, z.dtype))
            keep = tf.logical_and(keep, z < max_value)
        mask = tf.cast(keep, z.dtype) + negative_slope * tf.cast(z <= threshold, z.dtype)

        def grad(dy):
            return tf.where(dy > 0, dy, tf.zeros_like(dy)) * tf.cast(mask, dy.dtype)

        return y, grad

    return fn


def guided_reference(model):
    """A clone of `model` with guided ReLUs and without the final softmax.

    Layers without a ReLU are reused (same weights); a layer with a fused
    ReLU or softmax is re-created from its config, given the guided ReLU (or
    no activation), and its weights are copied.
    """
    copies = []

    def guided_lambda(layer, max_value=None, negative_slope=0.0, threshold=0.0):
        return L.Lambda(
            guided_relu(max_value, negative_slope, threshold),
            output_shape=lambda shape: shape,
            name=layer.name,
        )

    def clone(layer):
        if not isinstance(layer, L.Layer):
            return layer  # keras.ops in the graph (e.g. `x + 3.0`)
        if isinstance(layer, L.ReLU):
            return guided_lambda(layer, layer.max_value, layer.negative_slope, layer.threshold)
        activation = getattr(layer, "activation", None)
        is_relu, max_value = _relu_max_value(activation)
        if isinstance(layer, L.Activation):
            if is_relu:
                return guided_lambda(layer, max_value)
            if activation is keras.activations.softmax:
                return L.Identity(name=layer.name)
            return layer
        if not is_relu and activation is not keras.activations.softmax:
            return layer
        new = type(layer).from_config(layer.get_config())
        new.activation = guided_relu(max_value) if is_relu else keras.activations.linear
        copies.append((new, layer))
        return new

    reference = keras.models.clone_model(model, clone_function=clone)
    for new, old in copies:
        new.set_weights(old.get_weights())
    return reference


def _guided_map(model, images, classes):
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        score = tf.gather(logits, classes, axis=-1, batch_dims=1)
    return logits.numpy(), tape.gradient(score, x).numpy()


@pytest.mark.parametrize("name", APPLICATIONS)
def test_rewrite_keeps_the_forward_replaces_every_relu_and_maps_like_a_reference(name):
    size = SIZES[name]
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10, classifier_activation="softmax"
    )
    images = np.random.default_rng(0).uniform(0, 255, size=(2, size, size, 3)).astype(np.float32)
    probabilities = model(images, training=False).numpy()
    classes = probabilities.argmax(axis=-1)

    rewritten = kv.rewrite(model, "guided", on_unsupported="keep")
    report = rewritten.kerasviz_report
    expected_count = count_relus(model)
    assert expected_count > 10
    assert report.num_replaced == expected_count, dict(report.replaced)
    assert report.softmax_removed == ["predictions"]

    logits, guided = _guided_map(rewritten, images, classes)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probabilities, atol=1e-5)

    _, expected = _guided_map(guided_reference(model), images, classes)
    scale = float(np.abs(expected).max())
    assert scale > 0
    np.testing.assert_allclose(guided, expected, rtol=1e-3, atol=1e-4 * scale)
    del model, rewritten
    gc.collect()

"""Inner-layer outputs of rewritten models: `kv.tap`, `Visualizer.layer_model`, `Neuron` on any layer.

References are computed on the *user's* model with plain `tf.GradientTape`:
a `keras.Model` built from the user's layer output (for a layer inside a
nested model, from the nested model's own graph), differentiated directly.
Under saliency the rewritten model must give exactly that gradient.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidTargetError, UnknownLayerError, UnknownTargetError


def _seeded(builder):
    keras.utils.set_random_seed(3)
    return builder()


def _sequential():
    return keras.Sequential(
        [
            keras.Input((10, 10, 3), name="image"),
            keras.layers.Conv2D(4, 3, name="conv_plain", bias_initializer="random_normal"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Conv2D(5, 3, activation="relu", name="conv_relu", bias_initializer="random_normal"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(6, name="dense_linear"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="seq",
    )


def _residual():
    """ResNet50-like: conv-BN-ReLU, a projection shortcut, Add, then ReLU."""
    x = inputs = keras.Input((12, 12, 3), name="image")
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    shortcut = keras.layers.Conv2D(8, 1, name="block_0_conv")(x)
    y = keras.layers.Conv2D(4, 1, activation="relu", name="block_1_conv")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="block_2_conv")(y)
    y = keras.layers.BatchNormalization(name="block_2_bn")(y)
    x = keras.layers.Add(name="block_add")([shortcut, y])
    x = keras.layers.Activation("relu", name="block_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet_like")


def _nested():
    inner = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="inner_conv", bias_initializer="random_normal"),
            keras.layers.Conv2D(3, 3, name="inner_plain", bias_initializer="random_normal"),
        ],
        name="backbone",
    )
    inputs = keras.Input((10, 10, 3), name="image")
    x = inner(inputs)
    x = keras.layers.ReLU(name="after")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(4, name="logits")(x)
    return keras.Model(inputs, outputs, name="outer")


def _images(model, n=3, seed=0):
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def _user_layer_model(model, path):
    """keras.Model(inputs, output) of the user's layer at `path`, on its own graph."""
    *outer, name = path.split("/")
    for part in outer:
        model = model.get_layer(part)
    return keras.Model(model.inputs[0], model.get_layer(name).output)


def _channel_sum_gradient(submodel, images, channel):
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(tf.reshape(submodel(x, training=False)[..., channel], (len(images), -1)), axis=-1)
    return tape.gradient(score, x).numpy()


def _assert_close(actual, expected):
    scale = float(np.abs(expected).max())
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


CASES = [
    (_sequential, ["conv_plain", "bn", "relu", "conv_relu", "pool", "flat", "dense_linear"]),
    (_residual, ["conv1_conv", "conv1_bn", "conv1_relu", "block_0_conv", "block_1_conv", "block_2_bn",
                 "block_add", "avg_pool"]),
    (_nested, ["backbone", "backbone/inner_conv", "backbone/inner_plain", "after", "flat"]),
]


@pytest.mark.parametrize("builder, paths", CASES, ids=["sequential", "residual", "nested"])
def test_neuron_on_every_layer_is_the_saliency_of_the_users_layer(builder, paths):
    model = _seeded(builder)
    images = _images(model)
    viz = kv.Visualizer(model, rules=("saliency",))
    for path in paths:
        expected = _channel_sum_gradient(_user_layer_model(model, path), images, channel=1)
        maps = viz(images, target=kv.targets.Neuron(path, 1), progress=False)
        _assert_close(maps["saliency"], expected)


def test_layer_model_gives_inner_and_final_outputs_of_one_forward_pass():
    model = _seeded(_residual)
    images = _images(model)
    viz = kv.Visualizer(model, rules=kv.RULES)
    tapped = viz.layer_model("block_2_bn")
    activations, logits = tapped(tf.constant(images), training=False)
    user_inner = _user_layer_model(model, "block_2_bn")
    np.testing.assert_allclose(activations.numpy(), user_inner(images, training=False).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), viz.predict(images), rtol=1e-5, atol=1e-6)
    # Grad-CAM's weights: d logit / d activations, under each rule, from one recorded pass.
    x = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        activations, logits = tapped(x, training=False)
        score = logits[:, 2]
    grads = {}
    for rule in kv.RULES:
        with kv.rules.backward_rule(rule):
            grads[rule] = tape.gradient(score, activations).numpy()
    # Reference: the user's model split at block_2_bn, the rest re-run on a watched tensor.
    a = tf.Variable(user_inner(images, training=False))
    shortcut = _user_layer_model(model, "block_0_conv")(images, training=False)
    with tf.GradientTape() as tape:
        y = tf.nn.relu(shortcut + a)
        pooled = tf.reduce_mean(y, axis=(1, 2))
        dense = model.get_layer("predictions")
        logit = pooled @ dense.kernel + dense.bias
        ref_score = logit[:, 2]
    saliency = tape.gradient(ref_score, a).numpy()
    _assert_close(grads["saliency"], saliency)
    # Guided and DeconvNet differ from saliency only at the block_out ReLU:
    # relu(g) * mask and relu(g), with g the gradient arriving there.
    w = dense.kernel.numpy()[:, 2] / (y.shape[1] * y.shape[2])
    g = np.broadcast_to(w, y.shape)
    mask = (y.numpy() > 0).astype(np.float32)
    _assert_close(grads["guided"], np.maximum(g, 0) * mask)
    _assert_close(grads["deconvnet"], np.maximum(g, 0))


def test_tap_on_keras_applications_mobilenet_nested_path():
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), weights=None, classes=4)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(3)(base(inputs)))
    rewritten = kv.rewrite(model, "saliency", on_unsupported="keep")
    path = f"{base.name}/block_16_project"
    assert path in kv.layer_paths(rewritten)
    tapped = kv.tap(rewritten, [path, f"{base.name}/Conv1_relu"])
    images = _images(model, n=2)
    inner, early, final = tapped(images, training=False)
    np.testing.assert_allclose(inner.numpy(), _user_layer_model(model, path)(images).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(final.numpy(), model(images).numpy(), rtol=1e-4, atol=1e-6)
    expected = _channel_sum_gradient(_user_layer_model(model, f"{base.name}/Conv1_relu"), images, channel=0)
    maps = kv.visualize(model, images, rules=("saliency",), on_unsupported="keep", progress=False,
                        target=kv.targets.Neuron(f"{base.name}/Conv1_relu", 0))
    _assert_close(maps["saliency"], expected)


def test_fused_relu_layer_is_tapped_after_its_relu():
    model = _seeded(_sequential)
    rewritten = kv.rewrite(model, "guided")
    tapped = kv.tap(rewritten, "conv_relu", outputs=False)
    images = _images(model)
    out = tapped(images).numpy()
    assert out.min() == 0.0
    np.testing.assert_allclose(out, _user_layer_model(model, "conv_relu")(images).numpy(), rtol=1e-5, atol=1e-6)


def test_shared_layer_gives_its_first_call():
    keras.utils.set_random_seed(1)
    shared = keras.layers.Dense(5, name="shared")
    inputs = keras.Input((5,))
    first = shared(inputs)
    second = shared(keras.layers.ReLU()(first))
    model = keras.Model(inputs, keras.layers.Dense(2)(second))
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    out = kv.tap(kv.rewrite(model), "shared", outputs=False)(x).numpy()
    np.testing.assert_allclose(out, keras.Model(inputs, first)(x).numpy(), rtol=1e-6)


def test_unknown_layer_lists_real_paths_and_points_into_nested_models():
    model = _seeded(_nested)
    viz = kv.Visualizer(model, rules=("saliency",))
    images = _images(model)
    message = (
        "No layer 'conv9' in model 'outer'. Layers: backbone, after, flat, logits, "
        "backbone/inner_conv, backbone/inner_plain. Received: layer='conv9'"
    )
    with pytest.raises(UnknownLayerError, match=f"^{re.escape(message)}$") as info:
        viz(images, target=kv.targets.Neuron("conv9", 0), progress=False)
    assert isinstance(info.value, InvalidTargetError)
    message = (
        "No layer 'inner_conv' in model 'outer'. Layer 'inner_conv' is inside a nested "
        "model: name it by its path, 'backbone/inner_conv'. Received: layer='inner_conv'"
    )
    with pytest.raises(UnknownLayerError, match=f"^{re.escape(message)}$"):
        viz.layer_model("inner_conv")


def test_sequential_layer_names_hide_kerasviz_internals():
    rewritten = kv.rewrite(_seeded(_sequential), "guided")
    assert kv.layer_paths(rewritten) == [
        "conv_plain", "bn", "relu", "conv_relu", "pool", "flat", "dense_linear", "head",
    ]
    assert rewritten.inputs[0]._keras_history.operation.name == "image"


@pytest.mark.parametrize(
    "neuron, message",
    [
        (kv.targets.Neuron("conv_relu", 0, position=(6, 0)),
         "Position out of range: layer 'conv_relu' has output shape (None, 6, 6, 5), so each index "
         "lies in 0..size-1 of its axis (0..5, 0..5). Received: position=(6, 0)"),
        (kv.targets.Neuron("conv_relu", 0, position=(-1, 0)),
         "Position out of range: layer 'conv_relu' has output shape (None, 6, 6, 5), so each index "
         "lies in 0..size-1 of its axis (0..5, 0..5). Received: position=(-1, 0)"),
        (kv.targets.Neuron("conv_relu", 0, position=(1,)),
         "Layer 'conv_relu' has output shape (None, 6, 6, 5): a position has 2 index(es), one per "
         "axis between the batch and the channels. Received: position=(1,)"),
        (kv.targets.Neuron("dense_linear", 0, position=(1,)),
         "Layer 'dense_linear' has output shape (None, 6): a position has 0 index(es), one per axis "
         "between the batch and the channels (pass position=None). Received: position=(1,)"),
        (kv.targets.Neuron("flat", 45),
         "Layer 'flat' has 45 channels (0..44). Received: channel=45"),
    ],
)
def test_channel_and_position_are_checked_against_the_layers_shape(neuron, message):
    model = _seeded(_sequential)
    viz = kv.Visualizer(model, rules=("saliency",))
    with pytest.raises(InvalidTargetError, match=f"^{re.escape(message)}$"):
        viz(_images(model), target=neuron, progress=False)


def test_neuron_position_is_one_unit():
    model = _seeded(_sequential)
    images = _images(model)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = _user_layer_model(model, "pool")(x)[:, 1, 2, 3]
    expected = tape.gradient(score, x).numpy()
    maps = kv.visualize(model, images, rules=("saliency",), progress=False,
                        target=kv.targets.Neuron("pool", 3, position=(1, 2)))
    _assert_close(maps["saliency"], expected)


@pytest.mark.parametrize(
    "args, message",
    [
        (("conv", 1.5), "Neuron(layer, channel): the channel is an int index along the layer's last "
                        "axis. Received: channel=1.5"),
        (("conv", True), "Neuron(layer, channel): the channel is an int index along the layer's last "
                         "axis. Received: channel=True"),
        (("conv", 0, ("a", 1)), "Neuron(layer, channel, position): the position is a tuple of int "
                                "indices, one per spatial axis of the layer's output, e.g. (row, col). "
                                "Received: position=('a', 1)"),
        (("", 0), "Neuron(layer, channel) names the layer by its name. Received: layer=''"),
    ],
)
def test_neuron_arguments_are_checked_when_made(args, message):
    with pytest.raises(UnknownTargetError, match=f"^{re.escape(message)}$"):
        kv.targets.Neuron(*args)


def test_tap_refuses_subclassed_models_and_bad_paths():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), np.float32))
    message = (
        "kerasviz can tap Functional and Sequential models, not a subclassed model (Net): its "
        "call() is Python code whose layers' outputs cannot be reached. Build the same network "
        "with the Functional API. Received: model='net' of type Net"
    )
    with pytest.raises(kv.errors.UnsupportedModelError, match=f"^{re.escape(message)}$"):
        kv.tap(net, "dense")
    model = _seeded(_sequential)
    message = ("A layer is named by a non-empty string, e.g. 'conv1' or 'nested_model/conv1'. "
               "Received: layer=3")
    with pytest.raises(UnknownLayerError, match=f"^{re.escape(message)}$"):
        kv.tap(model, [3])

"""Tests for kerasviz.rewrite: invariants of the clone, over many kinds of model.

The forward pass is unchanged, the report counts what was replaced, the
user's model keeps its weights, layers, activations and gradients, variables
are shared (not copied), and the rewritten model saves and loads. Plus the
paper's property that DeconvNet maps do not depend on the image when there is
no max-pooling.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import (
    InvalidArgumentError,
    KerasvizError,
    UnsupportedActivationError,
    UnsupportedModelError,
)

L = keras.layers


# -- model kinds ----------------------------------------------------------------
# Each builder returns (model, expected report.replaced).


def sequential_model():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(4, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(6),
            L.ReLU(),
            L.Dense(5, activation="softmax"),
        ],
        name="sequential_model",
    )
    return model, {"fused relu in Conv2D": 1, "ReLU layer": 1}


def functional_model():
    inputs = keras.Input((8, 8, 3))
    h = L.Conv2D(4, 3)(inputs)
    h = L.Activation("relu")(h)
    h = L.Conv2D(4, 3, activation="relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dense(5)(h)
    outputs = L.Activation("softmax")(h)
    return keras.Model(inputs, outputs), {"Activation('relu')": 1, "fused relu in Conv2D": 1}


def softmax_layer_model():
    """A Functional model ending in a `Softmax` layer (it takes a `mask=` argument)."""
    inputs = keras.Input((8, 8, 3))
    h = L.Conv2D(4, 3, activation="relu")(inputs)
    h = L.Dense(5)(L.Flatten()(h))
    outputs = L.Softmax()(h)
    return keras.Model(inputs, outputs), {"fused relu in Conv2D": 1}


def _base(name="base"):
    inputs = keras.Input((8, 8, 3))
    h = L.Conv2D(4, 3, activation="relu", name=f"{name}_conv1")(inputs)
    h = L.Conv2D(4, 3, name=f"{name}_conv2")(h)
    h = L.ReLU(max_value=6.0, name=f"{name}_relu6")(h)
    return keras.Model(inputs, h, name=name)


BASE_COUNTS = {"fused relu in Conv2D": 1, "ReLU layer": 1}


def nested_functional_model():
    inputs = keras.Input((8, 8, 3))
    h = _base()(inputs)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    h = L.Dense(6, activation="relu", name="fc")(h)
    outputs = L.Dense(5, activation="softmax", name="head")(h)
    return keras.Model(inputs, outputs), {**BASE_COUNTS, "fused relu in Dense": 1}


def sequential_with_functional_base():
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), _base(), L.Flatten(name="flat"), L.Dense(5, activation="softmax", name="head")]
    )
    return model, dict(BASE_COUNTS)


def _single_relu_model(make_relu):
    inputs = keras.Input((8, 8, 3))
    h = L.Conv2D(4, 3)(inputs)
    h = make_relu(h)
    h = L.Flatten()(h)
    outputs = L.Dense(5, activation="softmax")(h)
    return keras.Model(inputs, outputs)


def relu_layer_model():
    return _single_relu_model(L.ReLU()), {"ReLU layer": 1}


def relu6_layer_model():
    return _single_relu_model(L.ReLU(max_value=6.0)), {"ReLU layer": 1}


def activation_layer_model():
    return _single_relu_model(L.Activation("relu")), {"Activation('relu')": 1}


def ops_relu_model():
    return _single_relu_model(keras.ops.relu), {"keras.ops.relu": 1}


def _fused_model(input_shape, layer):
    inputs = keras.Input(input_shape)
    h = layer(inputs)
    h = L.Flatten()(h)
    outputs = L.Dense(5, activation="softmax")(h)
    return keras.Model(inputs, outputs)


FUSED = {
    "Conv1D": ((10, 3), lambda: L.Conv1D(4, 3, activation="relu")),
    "Conv2D": ((8, 8, 3), lambda: L.Conv2D(4, 3, activation="relu")),
    "Conv3D": ((5, 5, 5, 2), lambda: L.Conv3D(3, 3, activation="relu")),
    "SeparableConv2D": ((8, 8, 3), lambda: L.SeparableConv2D(4, 3, activation="relu")),
    "DepthwiseConv2D": ((8, 8, 3), lambda: L.DepthwiseConv2D(3, activation="relu")),
    "Conv2DTranspose": ((6, 6, 3), lambda: L.Conv2DTranspose(4, 3, activation="relu")),
    "Dense": ((12,), lambda: L.Dense(8, activation="relu")),
}


def _fused_builder(kind):
    shape, factory = FUSED[kind]
    return lambda: (_fused_model(shape, factory()), {f"fused relu in {kind}": 1})


MODELS = {
    "sequential": sequential_model,
    "functional": functional_model,
    "functional_softmax_layer": softmax_layer_model,
    "nested_functional": nested_functional_model,
    "sequential_with_functional_base": sequential_with_functional_base,
    "relu_layer": relu_layer_model,
    "relu6_layer": relu6_layer_model,
    "activation_relu": activation_layer_model,
    "keras_ops_relu": ops_relu_model,
    **{f"fused_{kind}": _fused_builder(kind) for kind in FUSED},
}


def _images(model, n=3, seed=0):
    shape = (n, *model.inputs[0].shape[1:])
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _randomize_biases(model, seed=1):
    """Nonzero biases, so that a ReLU's mask is not just the sign of W x."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "bias" in variable.path:
            variable.assign(rng.normal(0.0, 0.3, size=variable.shape))


def _tape_map(model, x, rule=None):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_max(model(x), axis=-1)
    if rule is None:
        return tape.gradient(score, x).numpy()
    with kv.rules.backward_rule(rule):
        return tape.gradient(score, x).numpy()


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


@pytest.fixture(params=sorted(MODELS))
def model_kind(request):
    keras.utils.set_random_seed(0)
    model, counts = MODELS[request.param]()
    _randomize_biases(model)
    return model, counts, _images(model)


# -- invariants over model kinds ----------------------------------------------------


def test_forward_is_unchanged_and_report_counts_are_right(model_kind):
    model, counts, x = model_kind
    expected = model(x).numpy()
    for rule in kv.RULES:
        rewritten = kv.rewrite(model, rule, on_unsupported="error")
        report = rewritten.kerasviz_report
        assert report.rule == rule
        assert dict(report.replaced) == counts
        assert report.num_replaced == sum(counts.values())
        assert len(report.softmax_removed) == 1
        assert report.unsupported == []
        logits = rewritten(x)
        np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), expected, atol=1e-6)
        rule_layers = [layer for layer in _all_layers(rewritten) if isinstance(layer, kv.rules.RuleReLU)]
        assert len(rule_layers) == sum(counts.values())
        assert {layer.rule for layer in rule_layers} == {rule}


def test_users_model_is_left_untouched(model_kind):
    model, _, x = model_kind
    layers = list(_all_layers(model))
    activations = [getattr(layer, "activation", None) for layer in layers]
    configs = [layer.get_config() for layer in layers]
    weights = [w.copy() for w in model.get_weights()]
    variables = list(model.weights)
    gradient = _tape_map(model, x)
    outputs = model(x).numpy()

    for rule in kv.RULES:
        rewritten = kv.rewrite(model, rule, on_unsupported="error")
        _tape_map(rewritten, x)  # run the rule layers' backward pass too

    after = list(_all_layers(model))
    assert len(after) == len(layers)
    assert all(a is b for a, b in zip(after, layers))
    assert [getattr(layer, "activation", None) for layer in after] == activations
    assert [layer.get_config() for layer in after] == configs
    assert not any(isinstance(layer, kv.rules.RuleReLU) for layer in after)
    assert all(a is b for a, b in zip(model.weights, variables))
    for before, now in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(now, before)
    np.testing.assert_array_equal(model(x).numpy(), outputs)
    np.testing.assert_array_equal(_tape_map(model, x), gradient)


def test_weights_are_shared_not_copied(model_kind):
    model, _, x = model_kind
    rewritten = kv.rewrite(model, "guided", on_unsupported="error")
    assert len(rewritten.weights) == len(model.weights)
    assert {id(v) for v in rewritten.weights} == {id(v) for v in model.weights}

    rng = np.random.default_rng(7)
    old_logits = rewritten(x).numpy()
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, size=variable.shape))
    new_logits = rewritten(x).numpy()
    assert not np.allclose(new_logits, old_logits)
    np.testing.assert_allclose(keras.ops.softmax(new_logits).numpy(), model(x).numpy(), atol=1e-6)


def test_logits_false_keeps_the_softmax(model_kind):
    model, counts, x = model_kind
    rewritten = kv.rewrite(model, "guided", logits=False, on_unsupported="keep")
    assert rewritten.kerasviz_report.softmax_removed == []
    assert dict(rewritten.kerasviz_report.replaced) == counts
    np.testing.assert_allclose(rewritten(x).numpy(), model(x).numpy(), atol=1e-6)


# -- sharing, nesting, reuse --------------------------------------------------------


def test_shared_layers_stay_shared():
    inputs = keras.Input((6,))
    shared_dense = L.Dense(6, activation="relu", name="shared_dense")
    shared_relu = L.ReLU(name="shared_relu")
    a = shared_relu(shared_dense(inputs))
    b = shared_relu(shared_dense(L.Dense(6, name="pre")(inputs)))
    h = L.Concatenate()([a, b])
    outputs = L.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs)
    _randomize_biases(model)
    x = _images(model)

    rewritten = kv.rewrite(model, "guided")
    assert dict(rewritten.kerasviz_report.replaced) == {"fused relu in Dense": 1, "ReLU layer": 1}
    assert len(rewritten.weights) == len(model.weights)
    assert {id(v) for v in rewritten.weights} == {id(v) for v in model.weights}
    for name in ("shared_dense", "shared_dense_kerasviz_relu", "shared_relu"):
        assert len(rewritten.get_layer(name)._inbound_nodes) == 2, name
    np.testing.assert_allclose(keras.ops.softmax(rewritten(x)).numpy(), model(x).numpy(), atol=1e-6)


def _flat_equivalent(nested):
    """The nested models' layers, in one flat Functional model, same weights."""
    inputs = keras.Input((8, 8, 3))
    h = L.Conv2D(4, 3, activation="relu")(inputs)
    h = L.Conv2D(4, 3)(h)
    h = L.ReLU(max_value=6.0)(h)
    if isinstance(nested, keras.Sequential):
        h = L.Flatten()(h)
    else:
        h = L.GlobalAveragePooling2D()(h)
        h = L.Dense(6, activation="relu")(h)
    outputs = L.Dense(5, activation="softmax")(h)
    flat = keras.Model(inputs, outputs)
    flat.set_weights(nested.get_weights())
    return flat


@pytest.mark.parametrize("builder", [nested_functional_model, sequential_with_functional_base])
def test_nested_models_give_the_maps_of_their_flat_equivalent(builder):
    keras.utils.set_random_seed(0)
    nested, _ = builder()
    _randomize_biases(nested)
    flat = _flat_equivalent(nested)
    x = _images(nested, n=4)
    np.testing.assert_allclose(flat(x).numpy(), nested(x).numpy(), atol=1e-6)
    nested_maps = kv.visualize(nested, x, progress=False)
    flat_maps = kv.visualize(flat, x, progress=False)
    for rule in kv.RULES:
        np.testing.assert_allclose(nested_maps[rule], flat_maps[rule], rtol=1e-5, atol=1e-7)
    assert not np.allclose(nested_maps["saliency"], nested_maps["guided"])
    assert kv.rewrite(nested).kerasviz_report.nested_models == ["base"]


def test_lambda_layer_is_reused_and_the_model_still_rewrites():
    inputs = keras.Input((8, 8, 3))
    conv = L.Conv2D(4, 3, activation="relu")
    head = L.Dense(5, activation="softmax")
    scaled = L.Lambda(lambda t: t * 2.0 - 1.0, name="scale")(inputs)
    model = keras.Model(inputs, head(L.Flatten()(conv(scaled))))
    x = _images(model)
    rewritten = kv.rewrite(model, "guided", on_unsupported="error")
    assert rewritten.get_layer("scale") is model.get_layer("scale")
    assert dict(rewritten.kerasviz_report.replaced) == {"fused relu in Conv2D": 1}
    np.testing.assert_allclose(keras.ops.softmax(rewritten(x)).numpy(), model(x).numpy(), atol=1e-6)
    # The chain rule through the Lambda: the map is 2x the map of the same
    # layers on the scaled images.
    inner_inputs = keras.Input((8, 8, 3))
    without = kv.rewrite(keras.Model(inner_inputs, head(L.Flatten()(conv(inner_inputs)))), "guided")
    np.testing.assert_allclose(
        _tape_map(rewritten, x), 2.0 * _tape_map(without, x * 2.0 - 1.0), rtol=1e-5, atol=1e-7
    )


# -- save / load ----------------------------------------------------------------------


def test_rule_relu_is_registered_serializable():
    assert keras.saving.get_registered_object("kerasviz>RuleReLU") is kv.rules.RuleReLU


@pytest.mark.parametrize("rule", ["deconvnet", "guided"])
def test_save_and_load_round_trip_keeps_the_maps(tmp_path, rule):
    keras.utils.set_random_seed(0)
    model, counts = nested_functional_model()
    _randomize_biases(model)
    x = _images(model)
    rewritten = kv.rewrite(model, rule)
    path = tmp_path / f"{rule}.keras"
    rewritten.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    rule_layers = [layer for layer in _all_layers(loaded) if isinstance(layer, kv.rules.RuleReLU)]
    assert len(rule_layers) == sum(counts.values())
    assert {layer.rule for layer in rule_layers} == {rule}
    assert sorted(str(layer.max_value) for layer in rule_layers) == ["6.0", "None", "None"]
    np.testing.assert_array_equal(loaded(x).numpy(), rewritten(x).numpy())
    np.testing.assert_array_equal(_tape_map(loaded, x), _tape_map(rewritten, x))
    assert not np.allclose(_tape_map(loaded, x), _tape_map(model, x))


def test_every_model_kind_saves_and_loads(model_kind, tmp_path):
    model, _, x = model_kind
    rewritten = kv.rewrite(model, "deconvnet", on_unsupported="error")
    rewritten.save(tmp_path / "rewritten.keras")
    loaded = keras.models.load_model(tmp_path / "rewritten.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded(x).numpy(), rewritten(x).numpy())
    np.testing.assert_array_equal(_tape_map(loaded, x), _tape_map(rewritten, x))


# -- unsupported models and activations --------------------------------------------


class TinySubclassed(keras.Model):
    def __init__(self):
        super().__init__(name="tiny_subclassed")
        self.dense = L.Dense(3)

    def call(self, x):
        return keras.ops.relu(self.dense(x))


def test_subclassed_model_is_refused_with_a_pointer_to_the_functional_api():
    model = TinySubclassed()
    model(np.zeros((1, 4), np.float32))
    message = (
        "kerasviz can rewrite Functional and Sequential models, not a subclassed "
        "model (TinySubclassed): its call() is Python code whose ReLUs cannot be "
        "found. Build the same network with the Functional API, or use "
        "kerasviz.rules.RuleReLU layers in place of its ReLUs. Received: "
        "model='tiny_subclassed' of type TinySubclassed"
    )
    with pytest.raises(UnsupportedModelError, match=f"^{re.escape(message)}$") as info:
        kv.rewrite(model, "guided")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, KerasvizError)


def _tanh_silu_model():
    inputs = keras.Input((6,))
    h = L.Dense(6, activation="tanh", name="tanh_dense")(inputs)
    h = L.Activation("silu", name="silu")(h)
    h = L.Dense(6, activation="relu", name="relu_dense")(h)
    outputs = L.Dense(3, activation="softmax", name="head")(h)
    return keras.Model(inputs, outputs)


UNSUPPORTED_TEXT = (
    "non-ReLU activations: tanh_dense (tanh), silu (silu). Maps through them are "
    "not pure 'guided' maps"
)


def test_on_unsupported_error_refuses():
    message = (
        f"kerasviz.rewrite found {UNSUPPORTED_TEXT}. Pass on_unsupported='warn' or "
        "'keep' to keep their ordinary gradient. Received: on_unsupported='error'"
    )
    with pytest.raises(UnsupportedActivationError, match=f"^{re.escape(message)}$") as info:
        kv.rewrite(_tanh_silu_model(), "guided", on_unsupported="error")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", ["ignore", None, "Error"])
def test_on_unsupported_must_be_a_known_policy(value):
    message = f"Unknown on_unsupported policy. Known: 'error', 'warn', 'keep'. Received: on_unsupported={value!r}"
    model = _tanh_silu_model()
    for call in (
        lambda: kv.rewrite(model, "guided", on_unsupported=value),
        lambda: kv.Visualizer(model, on_unsupported=value),
    ):
        with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
            call()
        assert isinstance(info.value, KerasvizError)
        assert isinstance(info.value, ValueError)


def test_on_unsupported_warn_warns_and_keeps_them():
    model = _tanh_silu_model()
    x = _images(model)
    message = (
        f"kerasviz.rewrite kept the ordinary gradient of these {UNSUPPORTED_TEXT}. "
        "Pass on_unsupported='keep' to silence this, or 'error' to refuse such models."
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        rewritten = kv.rewrite(model, "guided")
    assert rewritten.kerasviz_report.unsupported == ["tanh_dense (tanh)", "silu (silu)"]
    assert rewritten.get_layer("silu") is model.get_layer("silu")
    np.testing.assert_allclose(keras.ops.softmax(rewritten(x)).numpy(), model(x).numpy(), atol=1e-6)


def test_on_unsupported_keep_is_silent():
    model = _tanh_silu_model()
    x = _images(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rewritten = kv.rewrite(model, "guided", on_unsupported="keep")
    report = rewritten.kerasviz_report
    assert report.unsupported == ["tanh_dense (tanh)", "silu (silu)"]
    assert dict(report.replaced) == {"fused relu in Dense": 1}
    np.testing.assert_allclose(keras.ops.softmax(rewritten(x)).numpy(), model(x).numpy(), atol=1e-6)


# -- the paper's property -------------------------------------------------------------


def _conv_net(max_pool):
    layers = [keras.Input((10, 10, 3)), L.Conv2D(6, 3, activation="relu", bias_initializer="zeros")]
    if max_pool:
        layers.append(L.MaxPooling2D(2))
    layers += [
        L.Conv2D(6, 3, activation="relu", bias_initializer="zeros"),
        L.Flatten(),
        L.Dense(5, bias_initializer="zeros"),
    ]
    return keras.Sequential(layers)


def test_deconvnet_maps_do_not_depend_on_the_image_without_max_pooling():
    keras.utils.set_random_seed(3)
    model = _conv_net(max_pool=False)
    x = np.random.default_rng(5).normal(size=(2, 10, 10, 3)).astype(np.float32)
    assert not np.allclose(x[0], x[1])
    maps = kv.visualize(model, x, rules=("deconvnet", "guided"), target=2, progress=False)
    deconv = maps["deconvnet"]
    np.testing.assert_allclose(deconv[0], deconv[1], rtol=0, atol=1e-6 * np.abs(deconv).max())
    assert np.abs(deconv).max() > 0
    assert not np.allclose(maps["guided"][0], maps["guided"][1], atol=1e-3 * np.abs(maps["guided"]).max())


def test_deconvnet_maps_depend_on_the_image_through_max_pool_switches():
    keras.utils.set_random_seed(3)
    model = _conv_net(max_pool=True)
    x = np.random.default_rng(5).normal(size=(2, 10, 10, 3)).astype(np.float32)
    deconv = kv.visualize(model, x, rules=("deconvnet",), target=2, progress=False)["deconvnet"]
    assert not np.allclose(deconv[0], deconv[1], atol=1e-3 * np.abs(deconv).max())

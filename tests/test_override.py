"""The op path (kerasviz/override.py): ReLUs that are not Keras layers follow the rules.

References are not the code under test: `tf.GradientTape` for saliency, and for
the rules a hand-written forward of the same weights whose ReLUs are written
here with `tf.custom_gradient`.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv

L = keras.layers


def _reference_relu(rule, *, max_value=None, negative_slope=0.0):
    """A ReLU (ReLU6, leaky ReLU) whose gradient is the rule's, written from its definition."""

    @tf.custom_gradient
    def relu(z):
        if negative_slope:
            out = tf.where(z > 0, z, negative_slope * z)
            d = tf.where(z > 0, 1.0, negative_slope)
        else:
            out = tf.maximum(z, 0.0) if max_value is None else tf.clip_by_value(z, 0.0, max_value)
            d = tf.cast(z > 0, z.dtype) * (1.0 if max_value is None else tf.cast(z < max_value, z.dtype))

        def backward(g):
            return {"saliency": g * d, "deconvnet": tf.maximum(g, 0.0), "guided": tf.maximum(g, 0.0) * d}[rule]

        return out, backward

    return relu


def _reference_maps(forward, x, classes):
    """{rule: d forward(x, relu)[:, class] / dx}, one class per sample, under each rule."""
    out = {}
    for rule in kv.RULES:
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            logits = forward(xt, lambda z, **o: _reference_relu(rule, **o)(z))
            score = tf.gather(logits, classes, batch_dims=1)
        out[rule] = tape.gradient(score, xt).numpy()
    return out


def _assert_rules_match(maps, reference):
    for rule in kv.RULES:
        np.testing.assert_allclose(maps[rule], reference[rule], rtol=1e-4, atol=1e-5, err_msg=rule)
    assert not np.allclose(reference["guided"], reference["saliency"])  # the rules differ here


class _Subclassed(keras.Model):
    """ReLUs only in call(): tf.nn.relu, keras.activations.relu6, keras.ops.leaky_relu; a final softmax."""

    def __init__(self):
        super().__init__(name="subclassed")
        self.conv1 = L.Conv2D(6, 3, bias_initializer="random_normal")
        self.conv2 = L.Conv2D(6, 3, bias_initializer="random_normal")
        self.head = L.Dense(4, bias_initializer="random_normal")

    def call(self, x):
        return keras.activations.softmax(self.forward(x, lambda z, **o: _LIBRARY[tuple(o)](z)))

    def forward(self, x, relu):
        h = relu(self.conv1(x))
        h = relu(self.conv2(h) * 4.0, max_value=6.0)
        h = keras.ops.mean(h, axis=(1, 2))
        return self.head(relu(h, negative_slope=0.1))


_LIBRARY = {
    (): tf.nn.relu,
    ("max_value",): keras.activations.relu6,
    ("negative_slope",): lambda z: keras.ops.leaky_relu(z, negative_slope=0.1),
}


def _images(n=3, size=8, channels=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, channels)).astype(np.float32)


def test_subclassed_model_follows_every_rule_at_its_relu_ops():
    keras.utils.set_random_seed(0)
    model = _Subclassed()
    x = _images()
    model(x)
    viz = kv.Visualizer(model, rules=kv.RULES)
    classes = np.array([0, 2, 3])
    maps = viz(x, target=classes, progress=False)
    _assert_rules_match(maps, _reference_maps(model.forward, x, classes))
    assert viz.uses_ops
    assert dict(viz.report.replaced) == {"Relu op in call()": 1, "Relu6 op in call()": 1, "LeakyRelu op in call()": 1}
    assert viz.report.softmax_removed == ["final Softmax op"]
    # the logits, not the softmax: equal to the hand-written forward's
    np.testing.assert_allclose(viz.predict(x), model.forward(x, lambda z, **o: _LIBRARY[tuple(o)](z)), rtol=1e-5)


def test_subclassed_model_k_classes_in_one_call_equal_one_call_per_class():
    keras.utils.set_random_seed(1)
    model = _Subclassed()
    x = _images(seed=1)
    model(x)
    viz = kv.Visualizer(model, rules=kv.RULES)
    per_class = viz(x, target=[[0, 1, 3]] * 3, progress=False)
    for k, c in enumerate((0, 1, 3)):
        reference = _reference_maps(model.forward, x, np.full(3, c))
        for rule in kv.RULES:
            np.testing.assert_allclose(per_class[rule][:, k], reference[rule], rtol=1e-4, atol=1e-5)


def test_saliency_on_the_op_path_is_the_tape_gradient():
    keras.utils.set_random_seed(2)
    model = _Subclassed()
    x = _images(seed=2)
    model(x)
    maps = kv.visualize(model, x, rules=("saliency",), target="max", progress=False)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        probabilities = model(xt)
        logits = tf.math.log(probabilities)  # log-softmax differs from the logits by a per-sample constant
        score = tf.reduce_max(logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True), axis=-1)
    # d max-log-prob = d max-logit - d logsumexp: take the logits' gradient directly instead
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = model.forward(xt, lambda z, **o: _LIBRARY[tuple(o)](z))
        score = tf.reduce_max(logits, axis=-1)
    np.testing.assert_allclose(maps["saliency"], tape.gradient(score, xt).numpy(), rtol=1e-4, atol=1e-6)


@keras.saving.register_keras_serializable(package="kerasviz_tests")
class _ReluBlock(L.Layer):
    """A custom layer: Dense, then keras.ops.relu written in call()."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(units, bias_initializer="random_normal")

    def call(self, x):
        return keras.ops.relu(self.dense(x))


def _functional_with_hidden_relus():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 2))
    h = L.Conv2D(5, 3, activation="relu", bias_initializer="random_normal", name="conv")(inputs)
    h = L.Lambda(lambda t: tf.nn.relu(t - 0.1), name="shifted_relu")(h)
    h = L.Flatten()(h)
    h = _ReluBlock(7, name="block")(h)
    outputs = L.Dense(3, activation="softmax", name="head")(h)
    return keras.Model(inputs, outputs)


def _hidden_forward(model):
    conv, block, head = model.get_layer("conv"), model.get_layer("block"), model.get_layer("head")

    def forward(x, relu):
        h = relu(tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias)
        h = relu(h - 0.1)
        h = tf.reshape(h, (tf.shape(h)[0], -1))
        h = relu(h @ block.dense.kernel + block.dense.bias)
        return h @ head.kernel + head.bias

    return forward


def test_custom_layer_and_lambda_relus_follow_the_rule_in_a_functional_model():
    model = _functional_with_hidden_relus()
    x = _images(seed=3)
    viz = kv.Visualizer(model, rules=kv.RULES)
    assert viz.uses_ops  # found by tracing: the rewrite sees the conv's fused ReLU only
    assert dict(viz.report.replaced) == {"fused relu in Conv2D": 1, "Relu op in call()": 2}
    classes = np.array([1, 0, 2])
    _assert_rules_match(viz(x, target=classes, progress=False), _reference_maps(_hidden_forward(model), x, classes))


def test_rewrite_engine_keeps_the_old_behaviour_and_the_two_engines_agree_where_both_see_everything():
    model = _functional_with_hidden_relus()
    x = _images(seed=4)
    only_layers = kv.Visualizer(model, rules=kv.RULES, engine="rewrite", on_unsupported="keep")
    assert not only_layers.uses_ops
    ops = kv.Visualizer(model, rules=kv.RULES, engine="ops")
    assert ops.uses_ops
    reference = _reference_maps(_hidden_forward(model), x, np.array([2, 2, 2]))
    _assert_rules_match(ops(x, target=2, progress=False), reference)
    # the rewrite alone misses the two hidden ReLUs: its guided map is not the reference's
    assert not np.allclose(only_layers(x, target=2, progress=False)["guided"], reference["guided"], atol=1e-5)


def test_no_relu_warning_fires_only_when_the_trace_has_none():
    model = _functional_with_hidden_relus()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.Visualizer(model, rules=("guided",))  # ReLUs in a custom layer: no warning

    class _Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, x):
            return self.dense(keras.ops.reshape(x, (-1, 8 * 8 * 2)))

    linear = _Linear()
    linear(_images())
    viz = kv.Visualizer(linear, rules=("guided",))
    with pytest.warns(UserWarning, match=re.escape("the 'guided' map is identical to saliency: no ReLU in this model")):
        viz(_images(), progress=False)


def test_engine_argument_is_checked():
    with pytest.raises(kv.errors.InvalidArgumentError, match="Received: engine='tape'"):
        kv.Visualizer(_functional_with_hidden_relus(), engine="tape")


def test_rule_ops_refuses_eager_execution():
    with pytest.raises(kv.errors.UnsupportedModelError, match=r"Received: eager execution$"):
        with kv.override.rule_ops():
            pass


class _TwoInputSubclassed(keras.Model):
    def __init__(self):
        super().__init__(name="two_input_subclassed")
        self.conv = L.Conv2D(3, 3, bias_initializer="random_normal")
        self.meta = L.Dense(4, bias_initializer="random_normal")
        self.head = L.Dense(2)

    def call(self, inputs):
        return self.forward(inputs, lambda z, **o: tf.nn.relu(z))

    def forward(self, inputs, relu):
        image, meta = inputs
        h = keras.ops.mean(relu(self.conv(image)), axis=(1, 2))
        return self.head(keras.ops.concatenate([h, relu(self.meta(meta))], axis=-1))


def test_subclassed_model_with_two_inputs_gives_a_map_per_input():
    keras.utils.set_random_seed(6)
    model = _TwoInputSubclassed()
    images, meta = _images(seed=6), np.random.default_rng(6).normal(size=(3, 5)).astype(np.float32)
    model([images, meta])
    maps = kv.visualize(model, [images, meta], rules=kv.RULES, target=1, progress=False)
    for rule in kv.RULES:
        ts = [tf.constant(images), tf.constant(meta)]
        with tf.GradientTape() as tape:
            tape.watch(ts)
            score = model.forward(ts, _reference_relu(rule))[:, 1]
        expected = tape.gradient(score, ts)
        np.testing.assert_allclose(maps[rule][0], expected[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(maps[rule][1], expected[1], rtol=1e-4, atol=1e-5)


def test_activations_all_on_the_op_path_says_what_it_cannot_see():
    model = _Subclassed()
    model(_images())
    with pytest.warns(UserWarning, match=re.escape("the op path (a subclassed model, or engine='ops') sees ReLU "
                                                   "ops only: other activations in call() keep their ordinary "
                                                   "gradient. Received: activations='all'")):
        kv.Visualizer(model, activations="all")


@pytest.mark.parametrize("method, target", [
    (kv.methods.GradCAM("conv"), 1),
    (kv.methods.GuidedGradCAM("conv"), [[0, 2]] * 3),
    (None, kv.targets.Neuron("head", 1)),  # the head's softmax is removed on both paths
    (None, kv.targets.Neuron("conv", 2)),
])
def test_methods_and_inner_targets_on_the_op_path_equal_the_rewrite(method, target):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 2))
    h = L.Conv2D(4, 3, activation="relu", name="conv", bias_initializer="random_normal")(inputs)
    model = keras.Model(inputs, L.Dense(3, activation="softmax", name="head")(L.Flatten()(h)))
    x = _images(seed=7)
    ops = kv.visualize(model, x, rules=kv.RULES, target=target, method=method, engine="ops", progress=False)
    rewrite = kv.visualize(model, x, rules=kv.RULES, target=target, method=method, engine="rewrite", progress=False)
    for rule in kv.RULES:
        np.testing.assert_allclose(ops[rule], rewrite[rule], rtol=1e-5, atol=1e-6)


def test_subclassed_model_takes_a_dataset_once_it_has_seen_an_array():
    keras.utils.set_random_seed(8)
    model = _Subclassed()
    x = _images(seed=8)
    model(x)
    viz = kv.Visualizer(model, rules=("guided",))
    dataset = tf.data.Dataset.from_tensor_slices(x)
    with pytest.raises(kv.errors.InvalidInputError, match=re.escape("Received: images=<tf.data.Dataset> on the first call")):
        viz(dataset, progress=False)
    expected = viz(x, target=1, progress=False)["guided"]
    np.testing.assert_allclose(viz(dataset, target=1, progress=False)["guided"], expected, rtol=1e-6)

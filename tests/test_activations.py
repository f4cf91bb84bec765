"""Models without ReLUs, and `activations="all"` (the rules at every elementwise activation).

The reference for `activations="all"` is a NumPy backward pass written here:
at each activation `f` with pre-activation `z` and arriving gradient `g`,
saliency passes `g * f'(z)`, DeconvNet `relu(g)`, guided `relu(g) * f'(z)`,
with `f'` written out by hand for swish, GELU, tanh and ELU.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf

import kerasviz as kv
from kerasviz.errors import InvalidArgumentError

L = keras.layers


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {  # name: (f, f')
    "swish": (lambda z: z * _sigmoid(z), lambda z: _sigmoid(z) * (1 + z * (1 - _sigmoid(z)))),
    "gelu": (lambda z: 0.5 * z * (1 + erf(z / np.sqrt(2))),
             lambda z: 0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z: np.where(z > 0, 1.0, np.exp(z))),
}
ORDER = ("swish", "gelu", "tanh", "elu")


def _mlp():
    """swish fused in Dense, an Activation('gelu') layer, keras.ops.tanh, an ELU layer."""
    keras.utils.set_random_seed(5)
    init = keras.initializers.RandomNormal(stddev=0.8)
    inputs = keras.Input((6,))
    h = L.Dense(7, activation="swish", kernel_initializer=init, bias_initializer=init, name="d1")(inputs)
    h = L.Activation("gelu", name="act_gelu")(L.Dense(7, kernel_initializer=init, bias_initializer=init, name="d2")(h))
    h = keras.ops.tanh(L.Dense(7, kernel_initializer=init, bias_initializer=init, name="d3")(h))
    h = L.ELU(name="elu")(L.Dense(7, kernel_initializer=init, bias_initializer=init, name="d4")(h))
    outputs = L.Dense(4, activation="softmax", kernel_initializer=init, name="head")(h)
    return keras.Model(inputs, outputs, name="no_relu_mlp")


def _numpy_maps(model, x, classes):
    """{rule: d logit[class] / d x} by a hand-written backward pass."""
    dense = [model.get_layer(name) for name in ("d1", "d2", "d3", "d4")]
    weights = [(layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)) for layer in dense]
    head = model.get_layer("head").kernel.numpy().astype(np.float64)
    a = x.astype(np.float64)
    pre = []
    for (w, b), name in zip(weights, ORDER):
        z = a @ w + b
        pre.append(z)
        a = ACTIVATIONS[name][0](z)
    maps = {}
    for rule in kv.RULES:
        g = head[:, classes].T  # (N, 7)
        for (w, _), z, name in reversed(list(zip(weights, pre, ORDER))):
            d = ACTIVATIONS[name][1](z)
            g = {"saliency": g * d, "deconvnet": np.maximum(g, 0), "guided": np.maximum(g, 0) * d}[rule]
            g = g @ w.T
        maps[rule] = g
    return maps


def _x(n=5, d=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_activations_all_follows_the_rule_at_every_elementwise_activation():
    model = _mlp()
    x = _x()
    classes = np.array([0, 1, 2, 3, 1])
    viz = kv.Visualizer(model, rules=kv.RULES, activations="all")
    report = viz.report
    assert report.num_replaced == 0
    assert dict(report.other_replaced) == {
        "fused silu in Dense": 1, "Activation('gelu')": 1, "keras.ops.tanh": 1, "ELU layer": 1,
    }
    assert report.unsupported == []
    maps = viz(x, target=classes, progress=False)
    expected = _numpy_maps(model, x, classes)
    for rule in kv.RULES:
        np.testing.assert_allclose(maps[rule], expected[rule], rtol=1e-4, atol=1e-5)
    assert not np.allclose(expected["guided"], expected["saliency"])
    assert not np.allclose(expected["deconvnet"], expected["guided"])
    # Forward unchanged: the logits under the user's softmax are the user's outputs.
    np.testing.assert_allclose(keras.ops.softmax(viz.predict(x)).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_activations_all_saliency_is_the_users_gradient_on_a_conv_net_with_k_classes():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        L.Conv2D(4, 3, activation="gelu", bias_initializer="random_normal"),
        L.Conv2D(4, 3, activation="swish"),
        L.GlobalAveragePooling2D(),
        L.Dense(3),
    ])
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    maps = kv.visualize(model, x, rules=kv.RULES, activations="all", target=[[0, 2], [1, 0]], progress=False)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        scores = tf.gather(model(xt), [[0, 2], [1, 0]], batch_dims=1)
    expected = tape.batch_jacobian(scores, xt).numpy()
    np.testing.assert_allclose(maps["saliency"], expected, rtol=1e-4, atol=1e-6)
    assert maps["guided"].shape == expected.shape
    assert not np.allclose(maps["guided"], expected)


def test_a_model_without_relus_says_its_maps_are_saliency_everywhere_the_user_looks():
    model = _mlp()
    message = (
        "kerasviz: the 'deconvnet' and 'guided' maps are identical to saliency: no ReLU in "
        "this model (the rules differ only at ReLUs; without them every rule gives the "
        "gradient). Pass activations='all' to apply the rules at every elementwise "
        "activation too, or on_unsupported='keep' to silence this."
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        viz = kv.Visualizer(model, rules=kv.RULES)
    assert [str(w.message) for w in caught] == [message]
    assert caught[0].filename == __file__
    report = viz.report
    assert report.identical_to_saliency
    assert str(report).splitlines()[0] == (
        "kerasviz rewrite, rule 'saliency': 0 ReLUs replaced (identical to saliency: no ReLU in this model)"
    )
    with pytest.warns(UserWarning, match="^" + re.escape(message.replace(
            "the 'deconvnet' and 'guided' maps are", "the 'guided' map is")) + "$"):
        rewritten = kv.rewrite(model, "guided")
    assert str(rewritten.kerasviz_report).splitlines()[0] == (
        "kerasviz rewrite, rule 'guided': 0 ReLUs replaced (identical to saliency: no ReLU in this model)"
    )
    maps = kv.visualize(model, _x(), on_unsupported="keep", progress=False)
    np.testing.assert_array_equal(maps["guided"], maps["saliency"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.Visualizer(model, rules=("saliency",))  # the gradient is exact: nothing to say


def test_unsupported_activation_warning_names_every_affected_rule():
    inputs = keras.Input((4,))
    h = L.Dense(4, activation="relu", name="r")(inputs)
    outputs = L.Dense(2, activation="tanh", name="t")(h)
    model = keras.Model(inputs, outputs)
    message = (
        "kerasviz.rewrite kept the ordinary gradient of these non-ReLU activations: t (tanh). "
        "Maps through them are not pure 'deconvnet' and 'guided' maps. Pass "
        "on_unsupported='keep' to silence this, or 'error' to refuse such models."
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        kv.Visualizer(model, rules=("saliency", "deconvnet", "guided"))


def test_activations_all_model_saves_and_loads(tmp_path):
    model = _mlp()
    rewritten = kv.rewrite(model, "guided", activations="all")
    path = tmp_path / "all.keras"
    rewritten.save(path)
    loaded = keras.saving.load_model(path)
    x = tf.constant(_x())
    maps = []
    for net in (rewritten, loaded):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = net(x)[:, 1]
        maps.append(tape.gradient(score, x).numpy())
    np.testing.assert_allclose(maps[1], maps[0], rtol=1e-6)
    np.testing.assert_allclose(maps[0], _numpy_maps(model, x.numpy(), np.ones(5, int))["guided"], rtol=1e-4,
                               atol=1e-5)


def test_activations_all_taps_a_fused_activation_after_it():
    model = _mlp()
    rewritten = kv.rewrite(model, "guided", activations="all")
    assert "d1_kerasviz_activation" not in kv.layer_paths(rewritten)
    x = _x()
    np.testing.assert_allclose(
        kv.tap(rewritten, "d1", outputs=False)(x).numpy(),
        keras.Model(model.inputs[0], model.get_layer("d1").output)(x).numpy(), rtol=1e-6,
    )


def test_bad_activations_value_raises():
    message = (
        "activations must be 'relu' (the rules act at ReLUs, the paper's definition) or 'all' "
        "(at every elementwise activation). Received: activations='swish'"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        kv.rewrite(_mlp(), "guided", activations="swish")
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        kv.Visualizer(_mlp(), activations="swish")


def _tanh_cnn():
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(3, 3, activation="tanh", name="c1"),
        L.MaxPooling2D(name="pool"),
        L.Flatten(name="flat"),
        L.Dense(4, name="logits"),
    ])


def test_sanity_verdict_of_a_model_without_relus_says_identical_to_saliency():
    images = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    with pytest.warns(UserWarning, match="identical to saliency: no ReLU in this model"):
        report = kv.analysis.sanity_check(_tanh_cnn(), images, num_random_classes=2, progress=False)
    verdicts = report.verdicts
    assert verdicts["deconvnet"] == verdicts["guided"] == "identical to saliency: no ReLU in this model"
    assert verdicts["saliency"] != "identical to saliency: no ReLU in this model"
    assert kv.analysis.sanity.NO_RELU_VERDICT in kv.analysis.sanity.VERDICTS
    assert "identical to saliency: no ReLU in this model" in str(report)

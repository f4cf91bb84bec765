"""Tests for kerasviz.rules: each backward rule against the rule table of docs/rules_and_targets.md.

The references are hand-written NumPy forward and backward passes of a tiny
dense net and a tiny conv + max-pool net (max-pool gradients go to the forward
argmax), and closed-form toys for the ReLU variants. The maps are checked both
through `kv.visualize` and through `kv.rewrite` + `tf.GradientTape`.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import KerasvizError, UnknownRuleError

KNOWN_RULES_TEXT = (
    "Known rules: 'saliency', 'deconvnet', 'guided' "
    "(aliases 'gradient', 'vanilla', 'deconv', 'gbp', 'guided_backprop')"
)


# -- NumPy references -----------------------------------------------------------


def np_rule(rule, grad, derivative):
    """The rule table (docs/rules_and_targets.md): the gradient a ReLU passes to its input."""
    if rule == "saliency":
        return grad * derivative
    if rule == "deconvnet":
        return np.maximum(grad, 0.0)
    if rule == "guided":
        return np.maximum(grad, 0.0) * derivative
    raise AssertionError(rule)


def np_conv_valid(x, kernel, bias):
    k = kernel.shape[0]
    n, h, w, _ = x.shape
    out = np.zeros((n, h - k + 1, w - k + 1, kernel.shape[3]))
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            out[:, i, j, :] = np.einsum("nabc,abco->no", x[:, i:i + k, j:j + k, :], kernel) + bias
    return out


def np_conv_valid_backward(grad, kernel, x_shape):
    k = kernel.shape[0]
    grad_x = np.zeros(x_shape)
    for i in range(grad.shape[1]):
        for j in range(grad.shape[2]):
            grad_x[:, i:i + k, j:j + k, :] += np.einsum("no,abco->nabc", grad[:, i, j, :], kernel)
    return grad_x


def np_maxpool2(a):
    """2x2 / stride 2 max-pool; also returns each window's argmax (row-major)."""
    n, h, w, c = a.shape
    windows = a[:, : h // 2 * 2, : w // 2 * 2, :].reshape(n, h // 2, 2, w // 2, 2, c)
    windows = windows.transpose(0, 1, 3, 5, 2, 4).reshape(n, h // 2, w // 2, c, 4)
    return windows.max(axis=-1), windows.argmax(axis=-1)


def np_maxpool2_backward(grad, argmax, a_shape):
    """The whole gradient of each window goes to its forward argmax (the switches)."""
    grad_a = np.zeros(a_shape)
    n, hp, wp, c = grad.shape
    for p in range(hp):
        for q in range(wp):
            rows = 2 * p + argmax[:, p, q, :] // 2
            cols = 2 * q + argmax[:, p, q, :] % 2
            for b in range(n):
                for ch in range(c):
                    grad_a[b, rows[b, ch], cols[b, ch], ch] += grad[b, p, q, ch]
    return grad_a


def np_onehot_target(logits, target):
    classes = logits.argmax(axis=-1) if isinstance(target, str) else np.asarray(target)
    if classes.ndim == 0:
        classes = np.full(len(logits), classes)
    return np.eye(logits.shape[-1])[classes]


# -- tiny models ----------------------------------------------------------------


def _randomize(model, seed):
    """Random normal kernels and clearly nonzero biases."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.6, size=w.shape) for w in model.get_weights()])
    return model


def dense_net(seed=0):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(5, activation="relu", name="fc1")(inputs)
    h = keras.layers.Dense(4, name="fc2")(h)
    h = keras.layers.ReLU(name="relu2")(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="logits")(h)
    return _randomize(keras.Model(inputs, outputs), seed)


def np_dense_maps(model, x, rule, target="max"):
    w1, b1, w2, b2, w3, b3 = [w.astype(np.float64) for w in model.get_weights()]
    x = x.astype(np.float64)
    z1 = x @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    a2 = np.maximum(z2, 0)
    logits = a2 @ w3 + b3
    g = np_onehot_target(logits, target) @ w3.T
    g = np_rule(rule, g, (z2 > 0).astype(float)) @ w2.T
    g = np_rule(rule, g, (z1 > 0).astype(float)) @ w1.T
    return g


def conv_net(seed=0):
    return _randomize(
        keras.Sequential(
            [
                keras.Input((8, 8, 2)),
                keras.layers.Conv2D(3, 3, padding="valid", name="conv"),
                keras.layers.ReLU(name="conv_relu"),
                keras.layers.MaxPooling2D(2, name="pool"),
                keras.layers.Flatten(name="flatten"),
                keras.layers.Dense(4, activation="softmax", name="logits"),
            ]
        ),
        seed,
    )


def np_conv_maps(model, x, rule, target="max"):
    kernel, bias, w, b = [v.astype(np.float64) for v in model.get_weights()]
    x = x.astype(np.float64)
    z = np_conv_valid(x, kernel, bias)
    a = np.maximum(z, 0)
    pooled, argmax = np_maxpool2(a)
    logits = pooled.reshape(len(x), -1) @ w + b
    g = (np_onehot_target(logits, target) @ w.T).reshape(pooled.shape)
    g = np_maxpool2_backward(g, argmax, a.shape)
    g = np_rule(rule, g, (z > 0).astype(float))
    return np_conv_valid_backward(g, kernel, x.shape)


def _inputs(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _tape_maps(rewritten, x, target="max"):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = rewritten(x)
        if isinstance(target, str):
            score = tf.reduce_max(logits, axis=-1)
        else:
            score = tf.gather(logits, np.asarray(target), axis=-1, batch_dims=1)
    return tape.gradient(score, x).numpy()


def assert_maps_close(actual, expected, rtol=1e-4):
    atol = 1e-6 * float(np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


NETS = {
    "dense": (dense_net, np_dense_maps, (5, 6)),
    "conv_maxpool": (conv_net, np_conv_maps, (4, 8, 8, 2)),
}


@pytest.fixture(params=sorted(NETS))
def net(request):
    build, reference, shape = NETS[request.param]
    return build(), reference, _inputs(shape)


# -- the rule table on the tiny nets ----------------------------------------------


def test_visualize_matches_numpy_backward_pass_per_rule(net):
    model, reference, x = net
    maps = kv.visualize(model, x, rules=kv.RULES, target="max", progress=False)
    assert set(maps) == set(kv.RULES)
    for rule in kv.RULES:
        assert maps[rule].dtype == np.float32
        assert_maps_close(maps[rule], reference(model, x, rule))


@pytest.mark.parametrize("rule", kv.RULES)
def test_rewrite_and_gradient_tape_match_numpy_backward_pass(net, rule):
    model, reference, x = net
    rewritten = kv.rewrite(model, rule)
    assert_maps_close(_tape_maps(rewritten, x), reference(model, x, rule))


def test_per_sample_class_targets_match_numpy(net):
    model, reference, x = net
    classes = np.arange(len(x)) % 3
    maps = kv.visualize(model, x, rules=kv.RULES, target=classes, progress=False)
    for rule in kv.RULES:
        assert_maps_close(maps[rule], reference(model, x, rule, classes))


def test_the_three_rules_give_different_maps(net):
    """Guards the references: if all rules coincided, the checks above would be weak."""
    model, reference, x = net
    maps = {rule: reference(model, x, rule) for rule in kv.RULES}
    assert not np.allclose(maps["saliency"], maps["guided"])
    assert not np.allclose(maps["saliency"], maps["deconvnet"])
    assert not np.allclose(maps["deconvnet"], maps["guided"])


def test_maxpool_reference_has_negative_windows_for_deconvnet():
    """DeconvNet passes gradient through windows whose ReLU outputs are all zero.

    Such windows exist in the conv test data, so the switch (argmax) handling of
    ties at zero is exercised: the maps above agree with TensorFlow's choice.
    """
    model = conv_net()
    x = _inputs((4, 8, 8, 2))
    kernel, bias = model.get_weights()[:2]
    a = np.maximum(np_conv_valid(x.astype(np.float64), kernel, bias), 0)
    pooled, _ = np_maxpool2(a)
    assert (pooled == 0).any()


# -- ReLU variants: closed-form toys ------------------------------------------------

VALUES = np.array([-7.3, -2.1, -0.4, 0.2, 0.45, 0.7, 3.3, 5.9, 6.4, 9.0], np.float32)
WEIGHTS = np.array([1.5, -2.0, 0.7, -0.3, 2.2, -1.1, 0.9, -0.6, 1.3, -2.4], np.float32)

VARIANTS = {
    # name: (layer factory, max_value, negative_slope, threshold)
    "ReLU": (lambda: keras.layers.ReLU(), None, 0.0, 0.0),
    "ReLU(max_value=6)": (lambda: keras.layers.ReLU(max_value=6.0), 6.0, 0.0, 0.0),
    "ReLU(negative_slope=0.1)": (lambda: keras.layers.ReLU(negative_slope=0.1), None, 0.1, 0.0),
    "ReLU(threshold=0.5)": (lambda: keras.layers.ReLU(threshold=0.5), None, 0.0, 0.5),
    "ReLU(6, 0.1, 0.5)": (
        lambda: keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5), 6.0, 0.1, 0.5
    ),
    "LeakyReLU(0.3)": (lambda: keras.layers.LeakyReLU(negative_slope=0.3), None, 0.3, 0.0),
    "Activation('relu6')": (lambda: keras.layers.Activation("relu6"), 6.0, 0.0, 0.0),
    "Activation('leaky_relu')": (lambda: keras.layers.Activation("leaky_relu"), None, 0.2, 0.0),
    "Dense(activation='relu6')": (
        lambda: keras.layers.Dense(
            len(VALUES), activation="relu6", kernel_initializer="identity", bias_initializer="zeros"
        ),
        6.0, 0.0, 0.0,
    ),
}


def np_variant_forward(z, max_value, negative_slope, threshold):
    out = np.where(z >= threshold, z, negative_slope * (z - threshold))
    return out if max_value is None else np.minimum(out, max_value)


def np_variant_derivative(z, max_value, negative_slope, threshold):
    upper = (z > threshold) & (True if max_value is None else z < max_value)
    return upper.astype(np.float64) + negative_slope * (z <= threshold)


def _toy(factory):
    """x -> ReLU variant -> sum_i c_i a_i, and the same graph ending at the ReLU."""
    inputs = keras.Input((len(VALUES),))
    activations = factory()(inputs)
    score = keras.layers.Dense(1, use_bias=False, name="weighted_sum")(activations)
    model = keras.Model(inputs, score)
    model.get_layer("weighted_sum").set_weights([WEIGHTS[:, None]])
    return model, keras.Model(inputs, activations)


def _toy_inputs():
    # Row 1 reverses row 0, so the two samples have different masks.
    return np.stack([VALUES, -VALUES[::-1]])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_relu_variant_forward_is_unchanged(variant):
    factory, max_value, slope, threshold = VARIANTS[variant]
    _, activations = _toy(factory)
    x = _toy_inputs()
    expected = np_variant_forward(x.astype(np.float64), max_value, slope, threshold)
    np.testing.assert_allclose(activations(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    for rule in kv.RULES:
        rewritten = kv.rewrite(activations, rule)
        assert rewritten.kerasviz_report.num_replaced == 1
        np.testing.assert_allclose(rewritten(x).numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_relu_variant_derivative_follows_rule_table(variant):
    factory, max_value, slope, threshold = VARIANTS[variant]
    model, _ = _toy(factory)
    x = _toy_inputs()
    derivative = np_variant_derivative(x.astype(np.float64), max_value, slope, threshold)
    upstream = np.broadcast_to(WEIGHTS.astype(np.float64), x.shape)
    maps = kv.visualize(model, x, rules=kv.RULES, target=0, progress=False)
    for rule in kv.RULES:
        expected = np_rule(rule, upstream, derivative)
        np.testing.assert_allclose(maps[rule], expected, rtol=1e-6, atol=1e-7)
        tape_map = _tape_maps(kv.rewrite(model, rule), x, [0, 0])
        np.testing.assert_allclose(tape_map, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_deconvnet_ignores_the_mask_in_every_variant(variant):
    """Both samples (different masks) get max(c, 0), whatever the ReLU's parameters."""
    model, _ = _toy(VARIANTS[variant][0])
    deconv_map = _tape_maps(kv.rewrite(model, "deconvnet"), _toy_inputs(), [0, 0])
    expected = np.maximum(WEIGHTS, 0)
    np.testing.assert_array_equal(deconv_map, np.stack([expected, expected]))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("rule", kv.RULES)
def test_rule_relu_gradient_keeps_the_incoming_dtype(rule, dtype):
    z = tf.constant(VALUES, dtype=dtype)
    upstream = tf.constant(WEIGHTS, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = kv.rules.rule_relu(z, rule, max_value=6.0)
    grad = tape.gradient(out, z, output_gradients=upstream)
    assert out.dtype == z.dtype
    assert grad.dtype == z.dtype
    expected = np_rule(rule, WEIGHTS.astype(np.float64), np_variant_derivative(VALUES, 6.0, 0.0, 0.0))
    np.testing.assert_allclose(grad.numpy().astype(np.float64), expected, rtol=1e-2)


def test_rule_relu_layer_config_keeps_its_parameters():
    layer = kv.rules.RuleReLU("gbp", max_value=6, negative_slope=0.1, threshold=0.5, name="r")
    config = layer.get_config()
    assert (config["rule"], config["max_value"], config["negative_slope"], config["threshold"]) == (
        "guided", 6.0, 0.1, 0.5,
    )
    clone = kv.rules.RuleReLU.from_config(config)
    x = tf.constant(VALUES)
    np.testing.assert_array_equal(clone(x).numpy(), keras.layers.ReLU(6.0, 0.1, 0.5)(x).numpy())


# -- registry ---------------------------------------------------------------------


ALIASES = [
    ("gradient", "saliency"),
    ("vanilla", "saliency"),
    ("deconv", "deconvnet"),
    ("gbp", "guided"),
    ("guided_backprop", "guided"),
    ("Guided", "guided"),
]


@pytest.mark.parametrize("alias, canonical", ALIASES)
def test_aliases_rewrite_to_the_canonical_rule(alias, canonical):
    assert kv.rules.canonical_name(alias) == canonical
    model, x = dense_net(), _inputs((3, 6))
    assert_maps_close(_tape_maps(kv.rewrite(model, alias), x), np_dense_maps(model, x, canonical))


def test_visualize_accepts_aliases():
    model, x = dense_net(), _inputs((3, 6))
    maps = kv.visualize(model, x, rules=("vanilla", "deconv", "guided_backprop"), progress=False)
    assert list(maps) == ["saliency", "deconvnet", "guided"]
    for rule in kv.RULES:
        assert_maps_close(maps[rule], np_dense_maps(model, x, rule))


@pytest.fixture
def absolute_rule():
    """A user rule, removed again after the test: |g| times the mask."""
    kv.rules.register("absolute", lambda grad, derivative: tf.abs(grad) * derivative)
    try:
        yield "absolute"
    finally:
        kv.rules.unregister("absolute")


def test_registered_rule_gives_its_maps(absolute_rule):
    assert absolute_rule in kv.rules.known_rules()
    model, _ = _toy(VARIANTS["ReLU(max_value=6)"][0])
    x = _toy_inputs()
    maps = kv.visualize(model, x, rules=("saliency", absolute_rule), target=0, progress=False)
    derivative = np_variant_derivative(x.astype(np.float64), 6.0, 0.0, 0.0)
    np.testing.assert_allclose(maps[absolute_rule], np.abs(WEIGHTS) * derivative, rtol=1e-6)
    np.testing.assert_allclose(maps["saliency"], WEIGHTS * derivative, rtol=1e-6)


def test_registered_rule_works_on_the_dense_net(absolute_rule):
    model, x = dense_net(), _inputs((3, 6))
    w1, b1, w2, b2, w3, b3 = [w.astype(np.float64) for w in model.get_weights()]
    z1 = x @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    logits = np.maximum(z2, 0) @ w3 + b3
    g = np.abs(np_onehot_target(logits, "max") @ w3.T) * (z2 > 0)
    expected = (np.abs(g @ w2.T) * (z1 > 0)) @ w1.T
    maps = kv.visualize(model, x, rules=(absolute_rule,), progress=False)
    assert_maps_close(maps[absolute_rule], expected)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kv.rules.register("absolute", lambda g, d: g),
            "A rule named 'absolute' is already registered; pass overwrite=True to "
            "replace it. Received: name='absolute'",
        ),
        (
            lambda: kv.rules.register("gbp", lambda g, d: g),
            "'gbp' is an alias of 'guided'; choose another name. Received: name='gbp'",
        ),
        (lambda: kv.rules.register("three", 3), "A rule is a callable fn(grad, derivative). Received: fn=3"),
        (lambda: kv.rules.register("", abs), "A rule name is a non-empty string. Received: name=''"),
        (lambda: kv.rules.register(7, abs), "A rule name is a non-empty string. Received: name=7"),
        (
            lambda: kv.rules.unregister("gbp"),
            "Built-in rules cannot be removed; register a rule under another name "
            "instead. Received: name='gbp'",
        ),
    ],
)
def test_register_refuses_taken_names_aliases_and_non_callables(absolute_rule, call, message):
    with pytest.raises(kv.errors.InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
        call()
    assert isinstance(info.value, KerasvizError)
    assert isinstance(info.value, ValueError)
    kv.rules.register("absolute", lambda g, d: g, overwrite=True)
    assert kv.rules.get_rule("absolute")(3.0, 0.0) == 3.0


def test_canonical_names_resolves_aliases_and_drops_duplicates():
    assert kv.rules.canonical_names(("gbp", "guided", "Vanilla", "deconv")) == ("guided", "saliency", "deconvnet")
    assert kv.rules.canonical_names("GBP") == ("guided",)
    for empty in ((), []):
        with pytest.raises(
            kv.errors.InvalidArgumentError,
            match=f"^{re.escape(f'Give at least one rule, e.g. {kv.RULES}. Received: rules={empty!r}')}$",
        ) as info:
            kv.rules.canonical_names(empty)
        assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownRuleError, match=re.escape("Unknown rule 'gpb'.")):
        kv.rules.canonical_names(("saliency", "gpb"))


def test_unknown_rule_raises_with_the_known_names_and_the_received_value():
    message = f"Unknown rule 'gpb'. {KNOWN_RULES_TEXT}. Received: rule='gpb'"
    model, x = dense_net(), _inputs((2, 6))
    for call in (
        lambda: kv.visualize(model, x, rules=("saliency", "gpb")),
        lambda: kv.rewrite(model, "gpb"),
        lambda: kv.rules.RuleReLU("gpb"),
        lambda: kv.rules.backward_rule("gpb").__enter__(),
    ):
        with pytest.raises(UnknownRuleError, match=f"^{re.escape(message)}$") as info:
            call()
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, KerasvizError)


def test_rule_that_is_not_a_string_raises():
    message = f"A rule is named by a string. {KNOWN_RULES_TEXT}. Received: rule=3"
    with pytest.raises(UnknownRuleError, match=f"^{re.escape(message)}$"):
        kv.rules.canonical_name(3)


# -- backward_rule overrides ----------------------------------------------------------


def test_backward_rule_overrides_the_layers_rule_for_one_recorded_forward():
    model, x = conv_net(), _inputs((3, 8, 8, 2))
    rewritten = kv.rewrite(model, "saliency")
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        score = tf.reduce_max(rewritten(xt), axis=-1)
    for rule in ("deconvnet", "guided"):
        with kv.rules.backward_rule(rule) as name:
            assert name == rule
            assert kv.rules.active_override() == rule
            assert_maps_close(tape.gradient(score, xt).numpy(), np_conv_maps(model, x, rule))
    assert kv.rules.active_override() is None
    assert_maps_close(tape.gradient(score, xt).numpy(), np_conv_maps(model, x, "saliency"))


def test_nested_backward_rules_restore_the_outer_one():
    with kv.rules.backward_rule("deconv"):
        with kv.rules.backward_rule("gbp"):
            assert kv.rules.active_override() == "guided"
        assert kv.rules.active_override() == "deconvnet"
    assert kv.rules.active_override() is None


# -- precision and execution mode ------------------------------------------------------


def test_mixed_float16_maps_are_finite_and_close_to_float32(mixed_float16):
    x = _inputs((4, 8, 8, 2))
    keras.mixed_precision.set_global_policy("float32")
    reference = kv.visualize(conv_net(), x, progress=False)
    keras.mixed_precision.set_global_policy(mixed_float16)
    model = conv_net()
    assert model.layers[0].compute_dtype == "float16"
    rewritten = kv.rewrite(model, "guided")
    assert all(
        layer.compute_dtype == "float16"
        for layer in rewritten.layers
        if isinstance(layer, kv.rules.RuleReLU)
    )
    maps = kv.visualize(model, x, progress=False)
    for rule in kv.RULES:
        assert maps[rule].dtype == np.float32
        assert np.isfinite(maps[rule]).all()
        error = np.linalg.norm(maps[rule] - reference[rule]) / np.linalg.norm(reference[rule])
        assert error < 2e-2, (rule, error)


@pytest.mark.parametrize("rule", kv.RULES)
def test_eager_and_tf_function_give_identical_maps(rule):
    model, x = conv_net(), tf.constant(_inputs((3, 8, 8, 2)))
    rewritten = kv.rewrite(model, rule)

    def maps(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = tf.reduce_max(rewritten(images), axis=-1)
        return tape.gradient(score, images)

    eager = maps(x).numpy()
    graph = tf.function(maps)(x).numpy()
    np.testing.assert_array_equal(eager, graph)
    assert_maps_close(eager, np_conv_maps(model, x.numpy(), rule))

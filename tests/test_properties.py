"""Property-based tests (hypothesis): random small architectures, and the public API's arguments.

Architectures are drawn as small specs (Functional or Sequential; conv, dense,
pooling, BatchNormalization, dropout, residual `Add`, `Concatenate`, nested
models, shared layers, every ReLU form, a softmax head or not) and built with
a fixed seed. For each:

- the rewrite's forward pass equals the user's model;
- saliency equals `tf.GradientTape` on the user's model;
- guided and DeconvNet equal `reference_maps`, a backward pass written here
  node by node over the user's graph: the vector-Jacobian product of every
  layer, except that at each ReLU the gradient `g` becomes `relu(g)`
  (DeconvNet) or `relu(g) * f'(z)` (guided), with `f'` TensorFlow's own
  derivative of that very activation;
- the user's model is left as it was; a rewritten model saves and loads.

The API properties draw images of any dtype, rank and shape, targets, rules,
batch sizes, render options and metric inputs: the answer is right, or the
error is a `KerasvizError` whose message says "Received:", never a raw
TensorFlow or NumPy error.

Budgets come from the hypothesis profile (tests/conftest.py): "ci" by default
(derandomized, few examples), "dev" with ten times more
(`HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py`).
"""

from __future__ import annotations

import contextlib
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kerasviz as kv
from kerasviz.errors import KerasvizError

L = keras.layers

#: Examples per test scale with the profile: 1 for "ci" (10 examples), 10 for "dev".
SCALE = max(1, settings.default.max_examples // 10)


def _examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, suppress_health_check=list(HealthCheck))


# -- architectures ---------------------------------------------------------------------

RELU_FORMS = ("relu_layer", "relu_params", "leaky", "act_relu", "act_relu6", "ops_relu")
FUSED = (None, "relu", "relu6", "leaky_relu")


@st.composite
def architectures(draw):
    kind = draw(st.sampled_from(["functional", "sequential"]))
    branching = ["add", "concat", "shared"] if kind == "functional" else []
    block = st.one_of(
        st.tuples(st.just("conv"), st.integers(2, 4), st.sampled_from([1, 3]), st.sampled_from(FUSED)),
        st.tuples(st.just("relu"), st.sampled_from(RELU_FORMS),
                  st.sampled_from([None, 6.0, 1.0]), st.sampled_from([0.0, 0.1]), st.sampled_from([0.0, 0.2])),
        st.tuples(st.just("bn")),
        st.tuples(st.just("dropout")),
        st.tuples(st.just("pool"), st.sampled_from(["max", "avg"])),
        st.tuples(st.just("nested"), st.sampled_from(["functional", "sequential"])),
        *[st.tuples(st.just(name)) for name in branching],
    )
    return {
        "kind": kind,
        "size": draw(st.sampled_from([6, 8])),
        "channels": draw(st.sampled_from([1, 3])),
        "blocks": draw(st.lists(block, min_size=1, max_size=4)),
        "dense": draw(st.sampled_from([None, "relu", "leaky_relu"])),
        "head": draw(st.sampled_from(["flatten", "gap"])),
        "softmax": draw(st.booleans()),
        "classes": draw(st.integers(2, 4)),
        "seed": draw(st.integers(0, 3)),
    }


def _relu_layer(form, max_value, slope, threshold, functional):
    if form == "relu_layer":
        return L.ReLU()
    if form == "relu_params":
        return L.ReLU(max_value=max_value, negative_slope=slope, threshold=threshold)
    if form == "leaky":
        return L.LeakyReLU(negative_slope=0.3)
    if form == "act_relu":
        return L.Activation("relu")
    if form == "act_relu6":
        return L.Activation("relu6")
    return keras.ops.relu if functional else L.ReLU()


def _nested(kind, shape):
    init = keras.initializers.RandomNormal(stddev=0.5)
    layers = [L.Conv2D(shape[-1], 3, padding="same", activation="relu", bias_initializer=init), L.ReLU(max_value=2.0)]
    if kind == "sequential":
        return keras.Sequential([keras.Input(shape), *layers])
    inputs = keras.Input(shape)
    return keras.Model(inputs, layers[1](layers[0](inputs)))


def build(spec) -> keras.Model:
    """The model a spec describes (weights seeded by the spec)."""
    keras.utils.set_random_seed(spec["seed"])
    init = keras.initializers.RandomNormal(stddev=0.5)
    functional = spec["kind"] == "functional"
    inputs = keras.Input((spec["size"], spec["size"], spec["channels"]))
    x, seq = inputs, []
    channels, side = spec["channels"], spec["size"]

    def add(layer):
        nonlocal x
        if functional:
            x = layer(x)
        else:
            seq.append(layer)

    for block in spec["blocks"]:
        name = block[0]
        if name == "conv":
            _, filters, kernel, act = block
            add(L.Conv2D(filters, kernel, padding="same", activation=act, bias_initializer=init))
            channels = filters
        elif name == "relu":
            add(_relu_layer(*block[1:], functional))
        elif name == "bn":
            add(L.BatchNormalization(beta_initializer=init, moving_mean_initializer=init))
        elif name == "dropout":
            add(L.Dropout(0.5))
        elif name == "pool" and side >= 4:
            add(L.MaxPooling2D(2) if block[1] == "max" else L.AveragePooling2D(2))
            side //= 2
        elif name == "nested":
            add(_nested(block[1], (side, side, channels)))
        elif name == "add":
            y = L.Conv2D(channels, 3, padding="same", activation="relu", bias_initializer=init)(x)
            x = L.Add()([x, y])
        elif name == "concat":
            a = L.Conv2D(2, 1, activation="relu", bias_initializer=init)(x)
            b = L.Conv2D(2, 3, padding="same", bias_initializer=init)(x)
            x = L.Concatenate()([a, b])
            channels = 4
        elif name == "shared":
            conv = L.Conv2D(channels, 3, padding="same", activation="relu", bias_initializer=init)
            x = conv(L.ReLU()(conv(x)))
    add(L.Flatten() if spec["head"] == "flatten" else L.GlobalAveragePooling2D())
    if spec["dense"]:
        add(L.Dense(5, activation=spec["dense"], kernel_initializer=init, bias_initializer=init))
    add(L.Dense(spec["classes"], activation="softmax" if spec["softmax"] else None,
                kernel_initializer=init, name="head"))
    if functional:
        return keras.Model(inputs, x)
    return keras.Sequential([inputs, *seq])


# -- the independent reference -----------------------------------------------------------

_RELU_FUNCTIONS = (keras.activations.relu, keras.activations.relu6, keras.activations.leaky_relu)


def _graph(model):
    return model._functional if isinstance(model, keras.Sequential) else model


def _is_relu(op) -> bool:
    if isinstance(op, (L.ReLU, L.LeakyReLU)):
        return True
    if isinstance(op, L.Activation):
        return op.activation in _RELU_FUNCTIONS
    return type(op).__name__ in ("Relu", "Relu6", "LeakyRelu")


@contextlib.contextmanager
def _linear(layer):
    saved = layer.activation
    layer.activation = keras.activations.linear
    try:
        yield saved
    finally:
        layer.activation = saved


def _derivative(fn, z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = fn(z)
    return tape.gradient(y, z)


def _rule(rule, g, d):
    return {"saliency": g * d, "deconvnet": tf.nn.relu(g), "guided": tf.nn.relu(g) * d}[rule]


def _vjp(op, args, kwargs, flat_in, grads_out, activation_rule=None):
    with tf.GradientTape() as tape:
        tape.watch(flat_in)
        outputs = keras.tree.flatten(op(*args, **kwargs))
    if activation_rule is not None:
        grads_out = [activation_rule(outputs[0], grads_out[0])]
    grads = tape.gradient(outputs, flat_in, output_gradients=grads_out)
    return [tf.zeros_like(x) if g is None else g for g, x in zip(grads, flat_in)]


def _backward(model, inputs, grads_out, rule, head=None):
    """Gradients w.r.t. `inputs` of <outputs, grads_out>, the rule applied at every ReLU."""
    graph = _graph(model)
    values = {id(t): v for t, v in zip(graph.inputs, inputs)}
    calls = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.is_input or not node.operation:
                continue
            if any(id(t) not in values for t in node.input_tensors):
                continue
            args, kwargs = node.arguments.fill_in(values)
            outputs = keras.tree.flatten(node.operation(*args, **kwargs))
            for t, v in zip(node.outputs, outputs):
                values[id(t)] = v
            calls.append((node, args, kwargs))
    grads = {id(t): g for t, g in zip(graph.outputs, grads_out)}
    for node, args, kwargs in reversed(calls):
        if not any(id(t) in grads for t in node.outputs):
            continue
        op = node.operation
        flat_in = [values[id(t)] for t in node.input_tensors]
        g_out = [grads.get(id(t), tf.zeros_like(values[id(t)])) for t in node.outputs]
        if isinstance(op, keras.Model):
            g_in = _backward(op, flat_in, g_out, rule)
        elif _is_relu(op):
            d = _derivative(lambda z: op(z), flat_in[0])
            g_in = [_rule(rule, g_out[0], d)]
        elif op is head:  # the removed softmax: the logits are explained
            with _linear(op):
                g_in = _vjp(op, args, kwargs, flat_in, g_out)
        elif getattr(op, "activation", None) in _RELU_FUNCTIONS:
            with _linear(op) as activation:
                g_in = _vjp(op, args, kwargs, flat_in, g_out,
                            lambda z, g: _rule(rule, g, _derivative(activation, z)))
        else:
            g_in = _vjp(op, args, kwargs, flat_in, g_out)
        for t, g in zip(node.input_tensors, g_in):
            grads[id(t)] = grads[id(t)] + g if id(t) in grads else g
    return [grads.get(id(t)) for t in graph.inputs]


def reference_maps(model, x, classes, rule):
    """d logit[classes] / d x under `rule`, by `_backward` over the user's graph."""
    head = model.get_layer("head")
    with _linear(head):
        logits = model(x)
    seed = tf.one_hot(classes, logits.shape[-1], dtype=logits.dtype)
    return _backward(model, [tf.constant(x)], [seed], rule, head=head)[0].numpy()


def users_gradient(model, x, classes):
    head = model.get_layer("head")
    xt = tf.constant(x)
    with _linear(head), tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.gather(model(xt), classes, batch_dims=1)
    return tape.gradient(score, xt).numpy()


def _close(actual, expected, what):
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=what)


def _snapshot(model):
    return ([layer.get_config() for layer in model.layers], [w.copy() for w in model.get_weights()])


@_examples(12)
@given(spec=architectures(), data=st.data())
def test_random_architectures_keep_the_forward_and_give_the_rules_maps(spec, data):
    model = build(spec)
    rng = np.random.default_rng(spec["seed"])
    x = rng.normal(size=(3, spec["size"], spec["size"], spec["channels"])).astype(np.float32)
    before = _snapshot(model)
    outputs_before = model(x).numpy()
    classes = np.array(data.draw(st.lists(st.integers(0, spec["classes"] - 1), min_size=3, max_size=3)))
    viz = kv.Visualizer(model, rules=kv.RULES, on_unsupported="error")
    logits = viz.predict(x)
    expected_outputs = keras.ops.softmax(logits).numpy() if spec["softmax"] else logits
    _close(expected_outputs, outputs_before, "forward")
    maps = viz(x, target=classes, progress=False)
    _close(maps["saliency"], users_gradient(model, x, classes), "saliency vs tf.GradientTape")
    for rule in ("saliency", "deconvnet", "guided"):
        _close(maps[rule], reference_maps(model, x, classes, rule), f"{rule} vs the reference")
    # An inner layer's channel (the taps of the rewritten graph): the same three references,
    # on the user's model cut at that layer.
    names = [layer.name for layer in model.layers if not isinstance(layer, L.InputLayer)]
    layer = model.get_layer(data.draw(st.sampled_from(names), label="layer"))
    in_graph = {id(n) for nodes in _graph(model)._nodes_by_depth.values() for n in nodes}
    first_call = next(n for n in layer._inbound_nodes if id(n) in in_graph)  # not a nested model's own node
    cut = keras.Model(model.inputs[0], first_call.outputs[0])
    channel = data.draw(st.integers(0, cut.outputs[0].shape[-1] - 1), label="channel")
    maps = viz(x, target=kv.targets.Neuron(layer.name, channel), progress=False)
    seed = tf.broadcast_to(tf.one_hot(channel, cut.outputs[0].shape[-1]), cut(x).shape)
    xt = tf.constant(x)
    # The head's removed softmax: a Neuron there is a logit, as the maps explain logits.
    logits_only = _linear(layer) if layer.name == "head" else contextlib.nullcontext()
    with logits_only, tf.GradientTape() as tape:
        tape.watch(xt)
        inner = cut(xt)
    _close(maps["saliency"], tape.gradient(inner, xt, output_gradients=seed).numpy(), f"Neuron({layer.name})")
    for rule in ("deconvnet", "guided"):
        with _linear(layer) if layer.name == "head" else contextlib.nullcontext():
            expected = _backward(cut, [xt], [seed], rule)[0].numpy()
        _close(maps[rule], expected, f"{rule} of Neuron({layer.name}) vs the reference")
    after = _snapshot(model)
    assert after[0] == before[0]
    for a, b in zip(after[1], before[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model(x).numpy(), outputs_before)


def _as_relu_ops(spec):
    """The spec with every ReLU one that TensorFlow runs as a ReLU op (Relu, Relu6, LeakyRelu).

    A ReLU with a threshold is a comparison and a select, one with a max_value
    other than 6 a Relu and a clip: the op path cannot see them as ReLUs.
    """
    blocks = [("relu", b[1], None if b[2] == 1.0 else b[2], b[3] if b[2] is None else 0.0, 0.0)
              if b[0] == "relu" else b for b in spec["blocks"]]
    return {**spec, "blocks": blocks}


@_examples(2)
@given(spec=architectures().map(_as_relu_ops), data=st.data())
def test_op_path_gives_the_rewrites_maps_on_random_architectures(spec, data):
    model = build(spec)
    x = np.random.default_rng(spec["seed"]).normal(size=(3, spec["size"], spec["size"], spec["channels"]))
    classes = np.array(data.draw(st.lists(st.lists(st.integers(0, spec["classes"] - 1), min_size=2, max_size=2),
                                          min_size=3, max_size=3)))
    rewrite = kv.Visualizer(model, rules=kv.RULES, engine="rewrite", on_unsupported="error")
    ops = kv.Visualizer(model, rules=kv.RULES, engine="ops", on_unsupported="error")
    assert ops.uses_ops and not rewrite.uses_ops
    _close(ops.predict(x), rewrite.predict(x), "logits")
    for target in (classes, classes[:, 0]):
        expected = rewrite(x, target=target, progress=False)
        actual = ops(x, target=target, progress=False)
        for rule in kv.RULES:
            _close(actual[rule], expected[rule], f"{rule}: op path vs rewrite")


@_examples(3)
@given(spec=architectures(), rule=st.sampled_from(kv.RULES))
def test_random_architectures_save_and_load_with_their_rule(spec, rule, tmp_path_factory):
    model = build(spec)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, spec["size"], spec["size"], spec["channels"])),
                    tf.float32)
    rewritten = kv.rewrite(model, rule, on_unsupported="error")
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    rewritten.save(path)
    loaded = keras.saving.load_model(path)
    maps = []
    for net in (rewritten, loaded):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = net(x)[:, 0]
        maps.append(tape.gradient(score, x).numpy())
    np.testing.assert_allclose(maps[1], maps[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(loaded(x).numpy(), rewritten(x).numpy(), rtol=1e-6, atol=1e-7)


# -- the public API's arguments ---------------------------------------------------------

def _says_received(err: Exception) -> None:
    assert isinstance(err, KerasvizError), f"{type(err).__name__}: {err}"
    assert "Received:" in str(err), str(err)


@pytest.fixture(scope="module")
def small():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Conv2D(3, 3, activation="relu", bias_initializer="random_normal", name="conv"),
        L.MaxPooling2D(name="pool"),
        L.Flatten(name="flat"),
        L.Dense(4, name="head"),
    ])
    return model, kv.Visualizer(model, rules=kv.RULES)


DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_, np.complex64])


def _any_array(max_rank=5, max_side=7):
    shapes = hnp.array_shapes(min_dims=0, max_dims=max_rank, min_side=0, max_side=max_side)
    return DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, shapes))


def _image_batches():
    valid = hnp.arrays(
        np.float32, st.integers(1, 4).map(lambda n: (n, 6, 6, 2)),
        elements=st.floats(-3, 3, width=32),
    )
    return st.one_of(valid, _any_array(), st.just([[1, 2]]), st.just("images"), st.none())


TARGETS = st.one_of(
    st.sampled_from(["max", "MAX", "random", "loss", "maximum", ""]),
    st.integers(-2, 6),
    st.lists(st.integers(-1, 5), min_size=0, max_size=5),
    st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=3), min_size=1, max_size=4),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.builds(kv.targets.Neuron, st.sampled_from(["conv", "pool", "flat", "head", "nope", "conv/x"]),
              st.integers(-1, 40), st.one_of(st.none(), st.lists(st.integers(-1, 4), max_size=3))),
)


def _classes_of(target, logits):
    """The class per sample a valid class target asks for (None: not a class target)."""
    if isinstance(target, str) and target.lower() == "max":
        return logits.argmax(-1)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return np.full(len(logits), target)
    if isinstance(target, list) and target and not isinstance(target[0], list):
        return np.array(target)
    return None


@_examples(40)
@given(images=_image_batches(), target=TARGETS, batch_size=st.one_of(st.none(), st.integers(-1, 3), st.just(2.5)))
def test_visualizer_calls_are_right_or_a_kerasviz_error(small, images, target, batch_size):
    model, viz = small
    try:
        maps = viz(images, target=target, batch_size=batch_size, progress=False)
    except Exception as err:  # noqa: BLE001 - the property is about the type of every error
        _says_received(err)
        return
    array = np.asarray(images).astype(np.float32)
    for rule in kv.RULES:
        assert maps[rule].dtype == np.float32 and np.isfinite(maps[rule]).all()
        extra = (np.asarray(target).shape[1],) if isinstance(target, list) and target and isinstance(target[0], list) else ()
        assert maps[rule].shape == (array.shape[0], *extra, *array.shape[1:])
    classes = _classes_of(target, model(array).numpy())
    if classes is not None:
        xt = tf.constant(array)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            score = tf.gather(model(xt), classes, batch_dims=1)
        _close(maps["saliency"], tape.gradient(score, xt).numpy(), "saliency")


RULE_LISTS = st.lists(st.sampled_from(["saliency", "gbp", "Guided", "deconv", "vanilla", "gpb", "", 3]),
                      max_size=4)


@_examples(15)
@given(rules=st.one_of(RULE_LISTS, st.sampled_from(["guided", "nope"]), st.none()),
       output=st.one_of(st.none(), st.integers(-1, 2), st.sampled_from(["head", "conv", "x"])),
       activations=st.sampled_from(["relu", "all", "RELU", None]),
       on_unsupported=st.sampled_from(["warn", "keep", "error", "ignore"]))
def test_visualizer_arguments_are_right_or_a_kerasviz_error(small, rules, output, activations, on_unsupported):
    model, _ = small
    try:
        viz = kv.Visualizer(model, rules=rules, output=output, activations=activations,
                            on_unsupported=on_unsupported)
    except Exception as err:  # noqa: BLE001
        _says_received(err)
        return
    assert set(viz.rules) <= set(kv.RULES) and viz.rules
    assert viz.num_classes == 4


NORMALIZE = st.sampled_from(["minmax", "abs", "diverging", "percentile", "MINMAX", "bogus", "", None, 3])


@_examples(30)
@given(m=_any_array(max_rank=4, max_side=6), how=NORMALIZE)
def test_render_normalize_is_right_or_a_kerasviz_error(m, how):
    try:
        shown = kv.render.normalize(m, how)
    except Exception as err:  # noqa: BLE001
        _says_received(err)
        return
    assert np.isfinite(shown).all()
    assert shown.min() >= (-1 if how == "diverging" else 0) - 1e-6 and shown.max() <= 1 + 1e-6


@_examples(30)
@given(image=_any_array(max_rank=4, max_side=6), m=_any_array(max_rank=4, max_side=6),
       alpha=st.one_of(st.floats(-1, 2), st.just(math.nan), st.just("0.5")))
def test_render_overlay_is_right_or_a_kerasviz_error(image, m, alpha):
    try:
        shown = kv.render.overlay(image, m, alpha=alpha)
    except Exception as err:  # noqa: BLE001
        _says_received(err)
        return
    assert shown.shape[-1] == 3 and shown.shape[:-1] == np.asarray(m).shape[: shown.ndim - 1]
    assert np.isfinite(shown).all() and shown.min() >= 0 and shown.max() <= 1 + 1e-6


METRIC_ARRAYS = st.one_of(
    hnp.arrays(np.float32, st.sampled_from([(8, 8, 3), (8, 8), (8, 8, 1)]), elements=st.floats(-5, 5, width=32)),
    _any_array(max_rank=4, max_side=9),
)


@_examples(30)
@given(a=METRIC_ARRAYS, b=METRIC_ARRAYS,
       metric=st.sampled_from(["map_similarity", "recovery", "input_independence"]))
def test_metrics_are_right_or_a_kerasviz_error(a, b, metric):
    function = getattr(kv.analysis.metrics, metric)
    try:
        result = function(a, b)
    except Exception as err:  # noqa: BLE001
        _says_received(err)
        return
    values = result.values() if isinstance(result, dict) else [result]
    for value in values:
        assert isinstance(value, float)
        assert math.isnan(value) or -1 - 1e-6 <= value <= 1 + 1e-6, result

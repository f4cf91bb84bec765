"""Tests for kerasviz.visualizer: input checks, batching, preprocessing, live
weights, several outputs, and one shared forward pass per batch.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import (
    InvalidArgumentError,
    InvalidInputError,
    InvalidTargetError,
    KerasvizError,
    UnknownRuleError,
    UnknownTargetError,
    UnsupportedModelError,
)


def _conv_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal", name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(5, activation="softmax", name="probs"),
        ],
        name="conv_model",
    )


@pytest.fixture(scope="module")
def model():
    return _conv_model()


@pytest.fixture(scope="module")
def viz(model):
    return kv.Visualizer(model)


def _images(n=5, seed=3, shape=(8, 8, 3)):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def assert_maps_close(actual, expected, rtol=1e-5):
    assert set(actual) == set(expected)
    for rule in expected:
        assert actual[rule].dtype == np.float32
        scale = float(np.abs(expected[rule]).max())
        assert scale > 0
        np.testing.assert_allclose(actual[rule], expected[rule], rtol=rtol, atol=1e-6 * scale)


# -- bad inputs --------------------------------------------------------------------

BAD_IMAGES = {
    "one image": (
        np.zeros((8, 8, 3), np.float32),
        "`images` must have rank 4, shaped (N, 8, 8, 3). For one image, pass images[None]. "
        "Received: shape=(8, 8, 3)",
    ),
    "rank 2": (
        np.zeros((8, 8), np.float32),
        "`images` must have rank 4, shaped (N, 8, 8, 3). Received: shape=(8, 8)",
    ),
    "size": (
        np.zeros((2, 9, 8, 3), np.float32),
        "Wrong image size in `images`: the model takes (N, 8, 8, 3). Resize the images (e.g. "
        "kv.data.load_image(path, size=...)). Received: shape=(2, 9, 8, 3)",
    ),
    "channels": (
        np.zeros((2, 8, 8, 1), np.float32),
        "Wrong image channel count in `images`: the model takes (N, 8, 8, 3). Convert the images to "
        "3 channels. Received: shape=(2, 8, 8, 1)",
    ),
    "empty": (
        np.zeros((0, 8, 8, 3), np.float32),
        "`images` is an empty batch: give at least one image. Received: shape=(0, 8, 8, 3)",
    ),
    "strings": (
        np.full((2, 8, 8, 3), "a"),
        "`images` must be numbers. Received: dtype=<U1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_images_raise_with_the_received_shape(viz, case):
    images, message = BAD_IMAGES[case]
    with _raises(InvalidInputError, message) as info:
        viz(images, progress=False)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KerasvizError)
    with _raises(InvalidInputError, message):
        viz.predict(images)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused(viz, bad):
    images = _images(2)
    images[1, 2, 3, 0] = bad
    images[0, 0, 0, 2] = bad
    message = (
        "`images` contain 2 NaN or Inf values; gradients of them are meaningless. Clean "
        "the images first. Received: shape=(2, 8, 8, 3)"
    )
    with _raises(InvalidInputError, message):
        viz(images, progress=False)


@pytest.mark.parametrize(
    "target, received",
    [(7, "7"), (-1, "-1"), ([0, 9, 2, 9, 1], "[9]"), ([[0, 5]] * 5, "[5]")],
)
def test_class_index_out_of_range_names_the_bad_value(viz, target, received):
    message = f"Class index out of range: the model has 5 classes (0..4). Received: target={received}"
    with _raises(InvalidTargetError, message) as info:
        viz(_images(5), target=target, progress=False)
    assert isinstance(info.value, ValueError)


def test_unknown_target_raises(viz):
    message = (
        "Unknown target. Use 'max', 'random', 'loss', a class index, an array of class "
        "indices, a callable f(outputs) -> (N,), or kv.targets.Neuron(layer, channel). "
        "Received: target='maximum'"
    )
    with _raises(UnknownTargetError, message):
        viz(_images(2), target="maximum", progress=False)


def test_unknown_rule_raises(model):
    message = (
        "Unknown rule 'gpb'. Known rules: 'saliency', 'deconvnet', 'guided' (aliases "
        "'gradient', 'vanilla', 'deconv', 'gbp', 'guided_backprop'). Received: rule='gpb'"
    )
    with _raises(UnknownRuleError, message):
        kv.Visualizer(model, rules=("saliency", "gpb"))


def test_labels_are_for_the_loss_target_only(viz):
    message = (
        "labels= is used by target='loss' only; for classes pass them as the target. "
        "Received: target='max' with labels"
    )
    with _raises(InvalidTargetError, message):
        viz(_images(2), target="max", labels=[0, 1], progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=0), "`batch_size` must be a positive integer. Received: batch_size=0"),
        (dict(batch_size=2.0), "`batch_size` must be a positive integer. Received: batch_size=2.0"),
        (dict(rules=()), "Give at least one rule, e.g. ('saliency', 'deconvnet', 'guided'). Received: rules=()"),
        (dict(rules=[]), "Give at least one rule, e.g. ('saliency', 'deconvnet', 'guided'). Received: rules=[]"),
    ],
)
def test_bad_arguments_raise(model, kwargs, message):
    with _raises(InvalidArgumentError, message) as info:
        kv.Visualizer(model, **kwargs)
    assert isinstance(info.value, KerasvizError)
    assert isinstance(info.value, ValueError)


def test_bad_call_arguments_raise(viz):
    with _raises(InvalidArgumentError, "`batch_size` must be a positive integer. Received: batch_size=-2") as info:
        viz(_images(2), batch_size=-2, progress=False)
    assert isinstance(info.value, ValueError)
    with _raises(InvalidArgumentError, "`batch_size` must be a positive integer. Received: batch_size=-2"):
        viz.predict(_images(2), batch_size=-2)


def test_not_a_model_raises():
    with _raises(UnsupportedModelError, "Visualizer takes a keras.Model. Received: model of type Dense"):
        kv.Visualizer(keras.layers.Dense(3))


# -- several inputs or outputs ------------------------------------------------------


def _two_headed():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal")(inputs)
    h = keras.layers.Flatten()(h)
    head_a = keras.layers.Dense(3, activation="softmax", name="head_a")(h)
    head_b = keras.layers.Dense(4, activation="softmax", name="head_b")(h)
    return keras.Model(inputs, [head_a, head_b], name="two_headed")


def test_several_outputs_need_output(model):
    message = (
        "The model has 2 outputs (head_a, head_b): say which to explain with "
        "output=<index or name>. Received: output=None"
    )
    with _raises(UnsupportedModelError, message):
        kv.Visualizer(_two_headed())
    with _raises(UnsupportedModelError, "No output named 'head_c'; the outputs are ['head_a', "
                                        "'head_b']. Received: output='head_c'"):
        kv.Visualizer(_two_headed(), output="head_c")
    with _raises(UnsupportedModelError, "output must index one of the 2 outputs ['head_a', "
                                        "'head_b']. Received: output=2"):
        kv.Visualizer(_two_headed(), output=2)


def test_output_selects_one_head_like_a_single_output_model():
    two = _two_headed()
    x = _images(3)
    for output, head in ((1, "head_b"), ("head_b", "head_b"), ("head_a", "head_a"), (0, "head_a")):
        single = keras.Model(two.inputs, two.get_layer(head).output)
        maps = kv.visualize(two, x, output=output, progress=False)
        assert_maps_close(maps, kv.visualize(single, x, progress=False))
        viz = kv.Visualizer(two, output=output)
        assert viz.num_classes == single.outputs[0].shape[-1]


# -- batching, preprocessing, live weights ---------------------------------------------


def test_batches_give_the_maps_of_one_batch(model, capsys):
    x = _images(5)
    whole = kv.Visualizer(model, batch_size=5)(x)
    in_twos = kv.Visualizer(model, batch_size=2)(x)  # progress bar on: 3 batches
    assert_maps_close(in_twos, whole)
    assert_maps_close(kv.Visualizer(model)(x, batch_size=2, progress=False), whole)
    assert "Traceback" not in capsys.readouterr().err


def test_integer_images_are_cast(model, viz):
    x = np.random.default_rng(0).integers(0, 4, size=(3, 8, 8, 3)).astype(np.uint8)
    assert_maps_close(viz(x, progress=False), viz(x.astype(np.float32), progress=False))


def test_maps_are_taken_with_respect_to_raw_images_under_preprocess(model, viz):
    x = _images(4)
    raw = kv.Visualizer(model, preprocess=lambda t: t * 2.0 - 1.0)
    maps = raw(x, progress=False)
    on_preprocessed = viz(x * 2.0 - 1.0, progress=False)
    assert_maps_close(maps, {rule: 2.0 * m for rule, m in on_preprocessed.items()})
    np.testing.assert_allclose(
        keras.ops.softmax(raw.predict(x)).numpy(), model(x * 2.0 - 1.0).numpy(), atol=1e-6
    )


def test_visualizer_follows_the_live_weights():
    model = _conv_model(seed=5)
    x = _images(3)
    viz = kv.Visualizer(model)
    before = viz(x, progress=False)
    rng = np.random.default_rng(8)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, size=variable.shape))
    after = viz(x, progress=False)
    assert not np.allclose(after["guided"], before["guided"])
    assert_maps_close(after, kv.Visualizer(model)(x, progress=False))
    np.testing.assert_allclose(
        keras.ops.softmax(viz.predict(x)).numpy(), model(x).numpy(), atol=1e-6
    )


# -- one forward pass per batch, shared by the rules -----------------------------------


def _op_types(function, *args):
    graph = function.get_concrete_function(*args).graph
    return [op.type for op in graph.get_operations()]


def test_one_traced_forward_pass_is_shared_by_the_rules():
    model = _conv_model()
    viz = kv.Visualizer(model, rules=kv.RULES)
    forward_calls = []
    outputs = viz._outputs

    def counting_outputs(x, layer):
        forward_calls.append(layer)
        return outputs(x, layer)

    viz._outputs = counting_outputs
    x = _images(4)
    maps = viz(x, progress=False)
    assert forward_calls == [None]
    assert len(viz._functions) == 1
    (function,) = viz._functions.values()
    assert function.experimental_get_tracing_count() == 1
    # The traced graph holds one forward convolution and one backward
    # convolution (to the input) per rule.
    aux = np.zeros((4, 1), np.int32)
    types = _op_types(function, [tf.constant(x)], tf.constant(aux))
    assert types.count("Conv2D") == 1
    assert types.count("Conv2DBackpropInput") == len(kv.RULES)
    assert types.count("MaxPoolGrad") == len(kv.RULES)

    # Same target kind again: no new trace, no new forward; maps unchanged.
    again = viz(x, progress=False)
    assert forward_calls == [None]
    assert function.experimental_get_tracing_count() == 1
    assert_maps_close(again, maps)

    # Another kind of target gets its own function, traced once.
    viz(x, target=2, progress=False)
    viz(x, target=[0, 1, 2, 3], progress=False)
    assert forward_calls == [None, None]
    assert len(viz._functions) == 2


def test_k_classes_share_the_forward_pass():
    model = _conv_model()
    viz = kv.Visualizer(model, rules=kv.RULES)
    x = _images(3)
    viz(x, target=np.tile([0, 2, 4], (3, 1)), progress=False)
    (function,) = viz._functions.values()
    aux = np.tile([0, 2, 4], (3, 1)).astype(np.int32)
    assert _op_types(function, [tf.constant(x)], tf.constant(aux)).count("Conv2D") == 1


def test_visualizing_leaves_no_traced_gradient_holding_the_net():
    """TensorFlow keeps every traced tf.custom_gradient (and its net's weights) in a global registry;
    rewrite and the Visualizer drop the entries they add, so a sweep over nets holds one at a time."""
    before = kv.rules.custom_gradient_entries()
    for seed in range(2):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dense(4)])
        kv.Visualizer(model)(np.ones((2, 8, 8, 3), np.float32), target=[[0, 1]] * 2, progress=False)
    assert kv.rules.custom_gradient_entries() <= before

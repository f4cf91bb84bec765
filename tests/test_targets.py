"""Tests for kerasviz.targets: each target form gives the map of its score.

References are `tf.GradientTape` gradients of the score written out by hand
on the rewritten model (one recorded forward, each rule via
`kv.rules.backward_rule`), and for `Neuron` the gradient of a submodel of the
*original* model.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidTargetError, UnknownTargetError

NUM_CLASSES = 6


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(11)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal", name="conv1"),
            keras.layers.Conv2D(5, 3, activation="relu", bias_initializer="random_normal", name="conv2"),
            keras.layers.Flatten(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax", name="logits"),
        ]
    )
    return model


@pytest.fixture(scope="module")
def viz(model):
    return kv.Visualizer(model, rules=kv.RULES)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(2).normal(size=(5, 8, 8, 3)).astype(np.float32)


def tape_maps(model, images, score_fn):
    """{rule: d score_fn(logits) / d images} on the rewritten model."""
    rewritten = kv.rewrite(model, "saliency")
    x = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        score = score_fn(rewritten(x))
    maps = {}
    for rule in kv.RULES:
        with kv.rules.backward_rule(rule):
            maps[rule] = tape.gradient(score, x).numpy()
    return maps


def assert_maps_equal(actual, expected):
    for rule in kv.RULES:
        scale = float(np.abs(expected[rule]).max())
        assert scale > 0, rule
        np.testing.assert_allclose(actual[rule], expected[rule], rtol=1e-5, atol=1e-6 * scale)


def _logits(model, images):
    return kv.rewrite(model, "saliency")(images).numpy()


def test_max_is_the_largest_logit(model, viz, images):
    expected = tape_maps(model, images, lambda z: tf.reduce_max(z, axis=-1))
    assert_maps_equal(viz(images, target="max", progress=False), expected)
    assert_maps_equal(viz(images, progress=False), expected)


def test_int_is_that_class_for_every_sample(model, viz, images):
    expected = tape_maps(model, images, lambda z: z[:, 3])
    assert_maps_equal(viz(images, target=3, progress=False), expected)
    assert_maps_equal(viz(images, target=np.int64(3), progress=False), expected)


def test_array_is_one_class_per_sample(model, viz, images):
    classes = np.array([4, 0, 5, 1, 1])
    expected = tape_maps(model, images, lambda z: tf.gather(z, classes, axis=-1, batch_dims=1))
    assert_maps_equal(viz(images, target=classes, progress=False), expected)
    assert_maps_equal(viz(images, target=classes.tolist(), progress=False), expected)


def test_2d_array_gives_k_maps_per_sample_equal_to_k_single_calls(viz, images):
    classes = np.array([[0, 3, 5], [1, 1, 2], [5, 4, 0], [2, 3, 4], [0, 1, 2]])
    maps = viz(images, target=classes, progress=False)
    for rule in kv.RULES:
        assert maps[rule].shape == (5, 3, 8, 8, 3)
    for k in range(classes.shape[1]):
        single = viz(images, target=classes[:, k], progress=False)
        assert_maps_equal({rule: maps[rule][:, k] for rule in kv.RULES}, single)


def test_random_is_never_the_predicted_class_and_is_seeded(model, images):
    many = np.random.default_rng(9).normal(size=(12, 8, 8, 3)).astype(np.float32)
    viz = kv.Visualizer(model, rules=kv.RULES, seed=4)
    random_maps = viz(many, target="random", progress=False)
    every_class = viz(many, target=np.tile(np.arange(NUM_CLASSES), (len(many), 1)), progress=False)
    predicted = _logits(model, many).argmax(axis=-1)
    chosen = []
    for n in range(len(many)):
        matches = [
            c for c in range(NUM_CLASSES)
            if all(
                np.allclose(random_maps[rule][n], every_class[rule][n, c], rtol=1e-5, atol=1e-7)
                for rule in kv.RULES
            )
        ]
        assert len(matches) == 1, (n, matches)
        assert matches[0] != predicted[n]
        chosen.append(matches[0])
    assert len(set(chosen)) > 1
    # The target draws with the library's one "random other class" helper.
    np.testing.assert_array_equal(chosen, kv.targets.random_other_classes(predicted, NUM_CLASSES, 1, seed=4)[:, 0])

    again = kv.Visualizer(model, rules=kv.RULES, seed=4)(many, target="random", progress=False)
    for rule in kv.RULES:
        np.testing.assert_array_equal(again[rule], random_maps[rule])
    other = kv.visualize(model, many, target="random", seed=5, progress=False)
    assert not all(np.allclose(other[rule], random_maps[rule]) for rule in kv.RULES)


def _reference_other_classes(predicted, num_classes, count, seed):
    """Per sample in order, `count` of the other classes drawn without replacement."""
    rng = np.random.default_rng(seed)
    return np.array(
        [rng.choice(np.delete(np.arange(num_classes), p), count, replace=False) for p in predicted]
    )


@pytest.mark.parametrize("num_classes, count, seed", [(2, 1, 0), (6, 3, 4), (10, 9, 7), (1000, 5, 1)])
def test_random_other_classes_matches_a_numpy_reference(num_classes, count, seed):
    predicted = np.random.default_rng(seed + 100).integers(0, num_classes, size=40)
    out = kv.targets.random_other_classes(predicted, num_classes, count, seed)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, _reference_other_classes(predicted, num_classes, count, seed))
    assert not (out == predicted[:, None]).any()
    assert all(len(set(row)) == count for row in out.tolist())
    assert ((out >= 0) & (out < num_classes)).all()
    np.testing.assert_array_equal(out, kv.targets.random_other_classes(list(predicted), num_classes, count, seed))


def test_random_other_classes_covers_every_other_class():
    out = kv.targets.random_other_classes(np.full(600, 2), 4, 1, seed=0)[:, 0]
    counts = np.bincount(out, minlength=4)
    assert counts[2] == 0
    assert counts[[0, 1, 3]].min() > 150  # ~200 each


def test_random_other_classes_of_no_samples():
    assert kv.targets.random_other_classes(np.zeros(0, int), 5, 2).shape == (0, 2)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.array([0]), 1, 1, 0), InvalidTargetError,
         "Random other classes need a model with at least 2 classes. Received: num_classes=1"),
        ((np.array([0]), 4, 4, 0), InvalidTargetError,
         "There are only 3 classes other than the predicted one; draw at most that many. Received: count=4"),
        ((np.array([0]), 4, 0, 0), kv.errors.InvalidArgumentError,
         "`count` must be a positive integer. Received: count=0"),
        ((np.array([0]), 4, 1, -1), kv.errors.InvalidArgumentError,
         "`seed` must be a non-negative integer. Received: seed=-1"),
        ((np.array([0, 4, 7]), 4, 1, 0), InvalidTargetError,
         "Class index out of range: the model has 4 classes (0..3). Received: predicted=[4, 7]"),
        ((np.zeros((2, 1), int), 4, 1, 0), InvalidTargetError,
         "predicted must be one int class per sample, shaped (N,). Received: predicted with "
         "shape=(2, 1), dtype=int64"),
    ],
)
def test_random_other_classes_rejects(args, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$") as info:
        kv.targets.random_other_classes(*args)
    assert isinstance(info.value, kv.errors.KerasvizError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("seed", [-1, 1.5, None])
def test_random_target_rejects_bad_seeds(seed):
    message = (
        "`seed` must be a non-negative integer. Received: seed=" + repr(seed)
    )
    with pytest.raises(kv.errors.InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
        kv.targets.resolve("random", seed=seed)
    assert isinstance(info.value, kv.errors.KerasvizError)
    assert isinstance(info.value, ValueError)


def _cost(labels):
    def score(z):
        onehot = tf.one_hot(labels(z), NUM_CLASSES)
        return tf.reduce_sum(tf.square(tf.nn.softmax(z) - onehot), axis=-1)

    return score


def test_loss_with_given_labels_is_the_papers_cost(model, viz, images):
    labels = np.array([2, 2, 0, 5, 3])
    expected = tape_maps(model, images, _cost(lambda z: labels))
    assert_maps_equal(viz(images, target="loss", labels=labels, progress=False), expected)
    assert_maps_equal(kv.visualize(model, images, target="loss", labels=labels, progress=False), expected)


def test_loss_without_labels_uses_the_predicted_class(model, viz, images):
    expected = tape_maps(model, images, _cost(lambda z: tf.argmax(z, axis=-1)))
    assert_maps_equal(viz(images, target="loss", progress=False), expected)
    # ... and differs from the cost of another label.
    other = tape_maps(model, images, _cost(lambda z: (tf.argmax(z, axis=-1) + 1) % NUM_CLASSES))
    assert not np.allclose(expected["saliency"], other["saliency"])


def test_callable_gives_the_map_of_its_score(model, viz, images):
    def fn(z):
        return z[:, 1] - 2.0 * z[:, 4]

    assert_maps_equal(viz(images, target=fn, progress=False), tape_maps(model, images, fn))


def test_callable_with_a_wrong_shape_raises(viz, images):
    def fn(z):
        return z

    message = (
        "A callable target must return one score per sample, shaped (N,). "
        f"Received: shape=(5, 6) from {fn!r}"
    )
    with pytest.raises(InvalidTargetError, match=f"^{re.escape(message)}$"):
        viz(images, target=fn, progress=False)


def _conv1_pre_relu(model, x):
    kernel, bias = model.get_layer("conv1").get_weights()
    return keras.ops.conv(x, kernel, padding="valid") + bias


def _submodel_map(model, layer, images, select):
    submodel = keras.Model(model.inputs, model.get_layer(layer).output)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = select(submodel(x))
    return tape.gradient(score, x).numpy()


def test_neuron_on_a_fused_relu_conv_is_its_post_relu_channel_sum(model, viz, images):
    channel = 2
    post_relu = _submodel_map(model, "conv1", images, lambda a: tf.reduce_sum(a[..., channel], axis=(1, 2)))
    # DeconvNet passes the (positive) gradient of the sum through the ReLU
    # whatever its mask: the gradient of the pre-ReLU channel sum.
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        pre_relu = tf.reduce_sum(_conv1_pre_relu(model, x)[..., channel], axis=(1, 2))
    deconv = tape.gradient(pre_relu, x).numpy()
    maps = viz(images, target=kv.targets.Neuron("conv1", channel), progress=False)
    assert_maps_equal(maps, {"saliency": post_relu, "guided": post_relu, "deconvnet": deconv})
    assert not np.allclose(post_relu, deconv)


def test_neuron_at_a_position_and_through_a_relu(model, viz, images):
    expected = _submodel_map(model, "conv2", images, lambda a: a[:, 1, 2, 3])
    maps = viz(images, target=kv.targets.Neuron("conv2", 3, position=(1, 2)), progress=False)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(maps["saliency"], expected, rtol=1e-5, atol=1e-7)
    summed = _submodel_map(model, "conv2", images, lambda a: tf.reduce_sum(a[..., 0], axis=(1, 2)))
    maps = viz(images, target=kv.targets.Neuron("conv2", 0), progress=False)
    np.testing.assert_allclose(maps["saliency"], summed, rtol=1e-5, atol=1e-7)


def test_neuron_errors_name_the_layer_and_channel(viz, images):
    message = "Layer 'conv1' has 4 channels (0..3). Received: channel=4"
    with pytest.raises(InvalidTargetError, match=f"^{re.escape(message)}$"):
        viz(images, target=kv.targets.Neuron("conv1", 4), progress=False)
    with pytest.raises(InvalidTargetError, match=r"^No layer 'conv9' in model '\w+'\. "
                       r"Layers: conv1, conv2, flatten\w*, logits\. Received: layer='conv9'$"):
        viz(images, target=kv.targets.Neuron("conv9", 0), progress=False)
    message = "Neuron(layer, channel) names the layer by its name. Received: layer=3"
    with pytest.raises(UnknownTargetError, match=f"^{re.escape(message)}$"):
        kv.targets.Neuron(3, 0)


@pytest.mark.parametrize(
    "target, message",
    [
        ("maximum", "Unknown target. Use 'max', 'random', 'loss', a class index, an array of "
                    "class indices, a callable f(outputs) -> (N,), or kv.targets.Neuron(layer, "
                    "channel). Received: target='maximum'"),
        (True, "A target cannot be a bool. Received: target=True"),
        (1.5, "A class target is an int, a 1-D array of one int per sample or a 2-D (N, K) "
              "int array. Received: target=1.5"),
        (np.zeros((1, 1, 1), int), "A class target is an int, a 1-D array of one int per "
                                   "sample or a 2-D (N, K) int array. Received: "
                                   "target=array([[[0]]])"),
    ],
)
def test_resolve_rejects_unknown_targets(target, message):
    with pytest.raises(UnknownTargetError, match=f"^{re.escape(message)}$") as info:
        kv.targets.resolve(target)
    assert isinstance(info.value, ValueError)


def test_class_targets_must_fit_the_batch(viz, images):
    message = (
        "The target gives classes for 2 samples but 5 images were passed: give one "
        "class per image. Received: target shape=(2,)"
    )
    with pytest.raises(InvalidTargetError, match=f"^{re.escape(message)}$"):
        viz(images, target=[1, 2], progress=False)

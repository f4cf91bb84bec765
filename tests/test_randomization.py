"""Tests for kerasviz.randomization: weight layers, randomize, the E5 protocols, the cascade order."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from kerasviz import randomization, zoo
from kerasviz.analysis import experiments
from kerasviz.errors import InvalidInputError, UnsupportedModelError


def _assert_paper_kernel(kernel: np.ndarray, stddev: float = 0.1, rtol: float = 0.05) -> None:
    """TruncatedNormal(stddev): std 0.88 * stddev, mean 0, nothing beyond 2 stddev."""
    kernel = np.asarray(kernel)
    assert abs(kernel.std() / (stddev * 0.8796256610342398) - 1) < rtol, kernel.std()
    assert abs(kernel.mean()) < 5 * stddev / np.sqrt(kernel.size)
    assert np.abs(kernel).max() <= 2 * stddev + 1e-6


# --------------------------------------------------------------------------
# randomize and the E5 protocols
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source():
    """A fashion_cnn whose biases are all 0.5, so any re-initialization shows."""
    net = zoo.fashion_cnn(seed=0)
    for layer in randomization.weight_layers(net):
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, np.full_like(bias, 0.5)])
    return net


def _changed(model, reference) -> list[int]:
    """Indices of the weight layers whose kernel or bias differs."""
    out = []
    for i, (a, b) in enumerate(zip(randomization.weight_layers(model), randomization.weight_layers(reference))):
        wa, wb = a.get_weights(), b.get_weights()
        if any(not np.array_equal(u, v) for u, v in zip(wa, wb)):
            out.append(i)
    return out


def test_randomize_copies_and_leaves_source_untouched(source):
    """randomize returns a new model; the source keeps every weight and its layers."""
    before = [w.copy() for w in source.get_weights()]
    layers_before = list(source.layers)
    copy = randomization.randomize(source, ["block2_conv1", "fc1"], seed=0)
    assert copy is not source
    assert [layer.name for layer in copy.layers] == [layer.name for layer in source.layers]
    assert all(a is not b for a, b in zip(copy.layers[1:], source.layers[1:]))
    assert list(source.layers) == layers_before
    for u, v in zip(before, source.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert _changed(copy, source) == [2, 4]
    # Non-randomized layers are equal copies, and the copy computes independently.
    x = np.random.default_rng(0).uniform(0, 1, (2, 28, 28, 1)).astype(np.float32)
    assert not np.allclose(copy(x), source(x))


def test_randomized_weights_are_the_values_randomize_gives_without_a_copy(source):
    before = [w.copy() for w in source.get_weights()]
    for init in ("paper", "keras"):
        fresh = randomization.randomized_weights(source, ["block2_conv1", -1], seed=3, init=init)
        copy = randomization.randomize(source, ["block2_conv1", -1], seed=3, init=init)
        assert sorted(fresh) == [2, 5]
        for index, values in fresh.items():
            for mine, theirs in zip(values, randomization.weight_layers(copy)[index].get_weights()):
                np.testing.assert_array_equal(mine, theirs)
    for u, v in zip(before, source.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_randomize_paper_init_values(source):
    """Paper init: TruncatedNormal(0.1) kernels, conv bias 0, dense bias 1."""
    copy = randomization.randomize(source, [3, 4], seed=0, init="paper")
    kernel, bias = copy.get_layer("block2_conv2").get_weights()
    _assert_paper_kernel(kernel)
    np.testing.assert_array_equal(bias, 0.0)
    kernel, bias = copy.get_layer("fc1").get_weights()
    _assert_paper_kernel(kernel, rtol=0.02)
    np.testing.assert_array_equal(bias, 1.0)


def test_randomize_keras_init_values(source):
    """Keras init: the layer's own initializers (Glorot uniform, zeros), reseeded."""
    copy = randomization.randomize(source, ["fc1"], seed=0, init="keras")
    kernel, bias = copy.get_layer("fc1").get_weights()
    limit = np.sqrt(6.0 / (1568 + 128))
    assert np.abs(kernel).max() <= limit + 1e-6
    assert abs(kernel.std() / (limit / np.sqrt(3)) - 1) < 0.02
    np.testing.assert_array_equal(bias, 0.0)
    assert not np.array_equal(kernel, source.get_layer("fc1").get_weights()[0])


def test_randomize_is_deterministic(source):
    """Same seed, same weights; another seed, other weights."""
    a = randomization.randomize(source, [1, 5], seed=7)
    b = randomization.randomize(source, [1, 5], seed=7)
    c = randomization.randomize(source, [1, 5], seed=8)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert _changed(c, a) == [1, 5]


def test_randomize_names_indices_and_negative_indices_agree(source):
    """'fc1', 4 and -2 address the same layer and give the same weights."""
    by_name = randomization.randomize(source, "fc1", seed=3)
    by_index = randomization.randomize(source, [4], seed=3)
    by_negative = randomization.randomize(source, -2, seed=3)
    for model in (by_index, by_negative):
        for u, v in zip(by_name.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(u, v)
    assert _changed(randomization.randomize(source, [], seed=3), source) == []


@pytest.mark.parametrize(
    "layers, message",
    [
        (
            ["nope"],
            "Layer 'nope' is not a weight layer of model 'fashion_cnn'. Weight layers: "
            "'block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2', 'fc1', "
            "'predictions'. Received: layers=['nope']",
        ),
        (
            [6],
            "Layer index 6 is out of range: model 'fashion_cnn' has 6 weight layers "
            "(indices 0..5). Received: layers=[6]",
        ),
        (
            [1.5],
            "`layers` items must be layer names (str) or indices (int). Received: layers=[1.5]",
        ),
    ],
)
def test_randomize_bad_layers(source, layers, message):
    """Unknown names and out-of-range indices raise InvalidInputError."""
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        randomization.randomize(source, layers)


def test_randomize_bad_init_and_model(source):
    """An unknown init or a non-model is refused."""
    with pytest.raises(InvalidInputError, match=re.escape("Received: init='xavier'")):
        randomization.randomize(source, [0], init="xavier")
    with pytest.raises(
        UnsupportedModelError,
        match=re.escape("Expected a keras.Model. Received: model of type Dense"),
    ):
        randomization.weight_layers(keras.layers.Dense(3))


@pytest.mark.parametrize(
    "protocol, k, expected",
    [
        ("part", -1, [0, 1, 2, 3, 4, 5]),
        ("part", 2, [3, 4, 5]),
        ("part", 5, []),
        ("reverse", -1, []),
        ("reverse", 2, [0, 1, 2]),
        ("reverse", 5, [0, 1, 2, 3, 4, 5]),
        ("only", 0, [0]),
        ("only", 4, [4]),
    ],
)
def test_protocols_change_exactly_the_right_layers(source, protocol, k, expected):
    """part(k): 0..k trained; reverse(k): 0..k random; only(k): k random."""
    assert randomization.protocol_layers(source, protocol, k) == expected
    build = {
        "part": randomization.randomize_part,
        "reverse": randomization.randomize_reverse,
        "only": randomization.randomize_only,
    }[protocol]
    assert _changed(build(source, k, seed=0), source) == expected


def test_protocols_share_the_random_draw_of_a_layer(source):
    """A layer gets the same random weights in every protocol with the same seed."""
    only = randomization.randomize_only(source, 4, seed=5)
    part = randomization.randomize_part(source, 2, seed=5)
    reverse = randomization.randomize_reverse(source, 5, seed=5)
    for model in (part, reverse):
        for u, v in zip(only.get_layer("fc1").get_weights(), model.get_layer("fc1").get_weights()):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    "protocol, k, message",
    [
        ("part", -2, "`k` must be an integer in -1..5 for protocol 'part'"),
        ("reverse", 6, "`k` must be an integer in -1..5 for protocol 'reverse'"),
        ("only", -1, "`k` must be an integer in 0..5 for protocol 'only'"),
        ("cascade", 0, "Unknown protocol 'cascade'. Known protocols: 'part', 'reverse', 'only'."),
    ],
)
def test_protocol_layers_validates(source, protocol, k, message):
    """k out of range or an unknown protocol raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match=re.escape(message)) as info:
        randomization.protocol_layers(source, protocol, k)
    assert "Received: " in str(info.value)


def test_randomization_protocols_sequential_model():
    """Every protocol and k, on a Sequential model, with the right layer names."""
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", name="d0"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Dense(3, activation="relu", name="d1"),
            keras.layers.Dense(2, name="d2"),
        ]
    )
    steps = list(randomization.randomization_protocols(net, seed=1))
    assert [(p, k, names) for p, k, names, _ in steps] == [
        ("part", 0, ["d1", "d2"]),
        ("part", 1, ["d2"]),
        ("part", 2, []),
        ("reverse", 0, ["d0"]),
        ("reverse", 1, ["d0", "d1"]),
        ("reverse", 2, ["d0", "d1", "d2"]),
        ("only", 0, ["d0"]),
        ("only", 1, ["d1"]),
        ("only", 2, ["d2"]),
    ]
    for protocol, k, names, model in steps:
        assert _changed(model, net) == randomization.protocol_layers(net, protocol, k)
        for name in names:
            np.testing.assert_array_equal(model.get_layer(name).get_weights()[1], 1.0)
    with pytest.raises(InvalidInputError, match=re.escape("Received: protocols=('top',)")):
        list(randomization.randomization_protocols(net, protocols=("top",)))


# --------------------------------------------------------------------------
# randomize_protocol and the old names
# --------------------------------------------------------------------------


def test_zoo_reexports_the_randomization_names():
    """kv.zoo.randomize & co. are the randomization module's own objects."""
    for name in ("PAPER_STDDEV", "PROTOCOLS", "weight_layers", "randomize", "protocol_layers",
                 "randomize_part", "randomize_reverse", "randomize_only", "randomization_protocols"):
        assert name in zoo.__all__, name
        assert getattr(zoo, name) is getattr(randomization, name), name
    assert experiments.cascade_steps is randomization.cascade_steps


@pytest.mark.parametrize("protocol, k", [("part", 3), ("reverse", 1), ("only", 4)])
def test_randomize_protocol_is_randomize_on_the_protocol_layers(source, protocol, k):
    """randomize_protocol(p, k) == randomize(protocol_layers(p, k)) == the old short name."""
    expected = randomization.randomize(source, randomization.protocol_layers(source, protocol, k), seed=2)
    short = {"part": zoo.randomize_part, "reverse": zoo.randomize_reverse, "only": zoo.randomize_only}[protocol]
    for model in (randomization.randomize_protocol(source, protocol, k, seed=2), short(source, k, seed=2)):
        for u, v in zip(expected.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(u, v)


def test_randomize_protocol_validates(source):
    with pytest.raises(InvalidInputError, match=re.escape(
        "Unknown protocol 'top'. Known protocols: 'part', 'reverse', 'only'. Received: protocol='top'"
    )):
        randomization.randomize_protocol(source, "top", 0)
    with pytest.raises(InvalidInputError, match=re.escape("Received: init='xavier'")):
        randomization.randomize_protocol(source, "only", 0, init="xavier")


# --------------------------------------------------------------------------
# The cascade order
# --------------------------------------------------------------------------


def test_cascade_order_is_top_down_and_selects_layers(source):
    """All layers from the logits down; a selection keeps that order; max_layers keeps the top ones."""
    assert randomization.cascade_order(source) == [5, 4, 3, 2, 1, 0]
    assert randomization.cascade_order(source, max_layers=2) == [5, 4]
    assert randomization.cascade_order(source, ["block1_conv1", -1, "fc1", 4]) == [5, 4, 0]
    assert randomization.cascade_order(source, "fc1") == [4]
    assert randomization.cascade_order(source, [0, 2, 3], max_layers=2) == [3, 2]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(layers=[]),
         "layers is empty: give at least one weight layer to randomize, or None for all of "
         "['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2', 'fc1', 'predictions']. "
         "Received: layers=[]"),
        (dict(layers=[6]),
         "6 is not a weight layer of model 'fashion_cnn'. Weight layers (by name or index 0..5): "
         "['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2', 'fc1', 'predictions']. "
         "Received: layers=[6]"),
        (dict(max_layers=0), "`max_layers` must be a positive integer or None. Received: max_layers=0"),
    ],
)
def test_cascade_order_validates(source, kwargs, message):
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        randomization.cascade_order(source, **kwargs)


def test_cascade_steps_part_follows_the_cascade_order(source):
    """Step j of "part" randomizes the top j+1 layers, labelled by the layer it adds."""
    names = [layer.name for layer in randomization.weight_layers(source)]
    steps = randomization.cascade_steps(source, "part")
    assert [label for _, _, label in steps] == names[::-1]
    for j, (k, layers, _) in enumerate(steps):
        assert layers == list(range(len(names) - 1 - j, len(names)))
        assert layers == randomization.protocol_layers(source, "part", k)
    with pytest.raises(InvalidInputError, match=re.escape("Received: protocol='cascade'")):
        randomization.cascade_steps(source, "cascade")

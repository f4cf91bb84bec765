"""Tests for kerasviz._compat: each private Keras / TensorFlow internal behaves as kerasviz relies on.

Every test checks behaviour (not just that an attribute exists) and fails with
"Keras X.Y changed <internal>; update kerasviz/_compat.py" when an upgrade
breaks the internal.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasviz import _compat, rules


@contextlib.contextmanager
def internal(name: str, library: str = "Keras"):
    """Turn any failure inside the block into the loud "<library> changed <name>" message."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - any failure means the internal changed
        pytest.fail(f"{_compat.changed(name, library)}. {type(err).__name__}: {err}", pytrace=True)


def _functional() -> keras.Model:
    inputs = keras.Input((4,), name="image")
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="logits")(keras.ops.relu(hidden))
    return keras.Model(inputs, outputs, name="net")


def test_changed_names_the_library_version_and_the_module_to_update():
    assert _compat.changed("Layer._track_variable") == (
        f"Keras {keras.__version__} changed Layer._track_variable; update kerasviz/_compat.py"
    )
    assert _compat.changed("the gradient registry", "TensorFlow").startswith(f"TensorFlow {tf.__version__} changed")


@pytest.mark.parametrize(
    "function, kind, name",
    [
        (keras.ops.relu, "nn", "Relu"),
        (keras.ops.relu6, "nn", "Relu6"),
        (keras.ops.leaky_relu, "nn", "LeakyRelu"),
        (keras.ops.sigmoid, "nn", "Sigmoid"),
        (keras.ops.silu, "nn", "Silu"),
        (keras.ops.tanh, "numpy", "Tanh"),
    ],
)
def test_ops_module_holds_the_class_keras_ops_leave_in_a_graph(function, kind, name):
    """`keras.ops.relu(x)` in a functional model is an operation of class ops_module("nn").Relu (rewrite finds ReLUs so)."""
    with internal(f"keras.src.ops.{kind}.{name}"):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, function(keras.layers.Dense(4)(inputs)))
        op_class = getattr(_compat.ops_module(kind), name)
        assert [type(operation) for operation in model.operations[2:]] == [op_class]
        assert isinstance(_compat.producing_operation(model.outputs[0]), op_class)


def test_is_functional_tells_functional_from_sequential_and_subclassed_models():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with internal("keras.src.models.functional.Functional"):
        assert _compat.is_functional(_functional())
        assert not _compat.is_functional(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
        assert not _compat.is_functional(Subclassed())
        assert not _compat.is_functional(keras.layers.Dense(2))


def test_producing_operation_names_the_layer_that_made_a_tensor():
    """The history of a model output is the layer computing it; of an input, its InputLayer."""
    model = _functional()
    with internal("KerasTensor._keras_history"):
        assert _compat.producing_operation(model.outputs[0]) is model.get_layer("logits")
        source = _compat.producing_operation(model.inputs[0])
        assert isinstance(source, keras.layers.InputLayer)
        assert source.name == "image"
        nested = keras.Model(model.inputs, model(model.inputs[0]), name="outer")
        assert _compat.producing_operation(nested.outputs[0]) is model


def test_producing_operation_fails_clearly_on_a_tensor_without_history():
    with pytest.raises(RuntimeError, match=r"changed KerasTensor\._keras_history; update kerasviz/_compat\.py"):
        _compat.producing_operation(np.zeros(3))


def test_sequential_graph_runs_like_the_sequential_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with internal("Sequential._functional"):
        graph = _compat.sequential_graph(model)
        assert _compat.is_functional(graph)
        assert [layer for layer in graph.layers if not isinstance(layer, keras.layers.InputLayer)] == model.layers
        np.testing.assert_array_equal(graph(x), model(x))
        assert _compat.sequential_graph(keras.Sequential([keras.layers.Dense(2)])) is None  # not built


def test_run_through_graph_calls_every_layer_in_order_and_returns_the_output():
    model = _functional()
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    seen = []

    def call(operation, *args, **kwargs):
        seen.append(operation.name)
        return operation(*args, **kwargs)

    with internal("Functional._run_through_graph"):
        outputs = _compat.run_through_graph(model, [keras.ops.convert_to_tensor(x)], call)
        assert seen == [operation.name for operation in model.operations[1:]] == ["hidden", seen[1], "logits"]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), model(x), rtol=1e-6)


def test_standardize_inputs_flattens_to_the_graphs_inputs():
    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    model = keras.Model({"a": a, "b": b}, keras.layers.Concatenate()([a, b]))
    xa, xb = np.ones((1, 2), np.float32), np.zeros((1, 3), np.float32)
    with internal("Functional._standardize_inputs"):
        assert hasattr(model, "_standardize_inputs")
        flat = _compat.standardize_inputs(model, {"b": xb, "a": xa})
        assert [tuple(t.shape) for t in flat] == [(1, 2), (1, 3)]  # in the order of model.inputs


def test_track_variable_makes_a_layer_own_a_shared_variable():
    """A layer given another layer's variable lists it (trainable) and trains it."""
    owner = keras.layers.Dense(2)
    owner.build((None, 3))
    adopter = keras.layers.Layer()
    with internal("Layer._track_variable"):
        _compat.track_variable(adopter, owner.kernel)
        assert [w is owner.kernel for w in adopter.weights] == [True]
        assert [w is owner.kernel for w in adopter.trainable_weights] == [True]


def test_gradient_registry_grows_when_a_custom_gradient_is_traced_and_release_removes_it():
    """Tracing a RuleReLU in a tf.function registers "CustomGradient-<n>"; released_custom_gradients drops it."""
    with internal("tensorflow.python.framework.ops._gradient_registry._registry", "TensorFlow"):
        registry = _compat.gradient_registry()
        assert isinstance(registry, dict)
        before = set(registry)

        @tf.function
        def traced(x):
            return rules.rule_relu(x, "guided")

        traced(tf.constant([1.0, -1.0]))
        added = set(registry) - before
        assert added and all(str(key).startswith("CustomGradient-") for key in added)
        assert added <= rules.custom_gradient_entries()
        for key in added:  # leave the registry as it was
            registry.pop(key)

        with rules.released_custom_gradients():
            tf.function(lambda x: rules.rule_relu(x, "deconvnet"))(tf.constant([2.0]))
            assert len(set(registry) - before) == 1
        assert set(registry) == before

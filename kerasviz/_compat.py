"""The one module that touches private Keras and TensorFlow internals.

kerasviz needs a few things that Keras and TensorFlow do not offer publicly:
which class a `keras.ops` call leaves in a functional graph, which layer made
a symbolic tensor, walking a functional graph layer by layer, and
TensorFlow's registry of traced custom gradients. Each is wrapped here in one
small named function; the rest of the package calls these, never the
internals. `tests/test_compat.py` checks the behaviour of every one, so an
upgrade that changes one fails there, with "Keras X.Y changed <internal>;
update kerasviz/_compat.py", instead of as a silently wrong map elsewhere.

| function | internal |
|---|---|
| `ops_module` | `keras.src.ops.nn`, `keras.src.ops.numpy` (the operation classes) |
| `is_functional` | `keras.src.models.functional.Functional` |
| `sequential_graph` | `Sequential._functional` |
| `producing_operation` | `KerasTensor._keras_history` |
| `run_through_graph` | `Functional._run_through_graph` |
| `standardize_inputs` | `Functional._standardize_inputs` |
| `track_variable` | `Layer._track_variable` |
| `gradient_registry` | TensorFlow's `ops._gradient_registry._registry` |
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Literal

import keras

try:
    from keras.src.models.functional import Functional as _Functional
    from keras.src.ops import nn as _keras_nn_ops
    from keras.src.ops import numpy as _keras_numpy_ops
except ImportError as _err:  # pragma: no cover - only with an unsupported Keras
    raise ImportError(
        f"Keras {keras.__version__} changed keras.src.ops.nn, keras.src.ops.numpy or "
        f"keras.src.models.functional.Functional; update kerasviz/_compat.py ({_err})"
    ) from _err


def changed(internal: str, library: str = "Keras") -> str:
    """The message for an internal that this Keras / TensorFlow no longer has."""
    if library == "Keras":
        version = keras.__version__
    else:
        import tensorflow as tf

        version = tf.__version__
    return f"{library} {version} changed {internal}; update kerasviz/_compat.py"


def ops_module(kind: Literal["nn", "numpy"]) -> types.ModuleType:
    """The module holding the operation classes that `keras.ops.<kind>` calls add to a graph.

    `keras.ops.relu(x)` on a symbolic `x` leaves an instance of
    `ops_module("nn").Relu` in the functional graph (as a layer of the
    model); `keras.ops.tanh` leaves an `ops_module("numpy").Tanh`.

    Args:
        kind: `"nn"` or `"numpy"`.

    Returns:
        `keras.src.ops.nn` or `keras.src.ops.numpy`.
    """
    return {"nn": _keras_nn_ops, "numpy": _keras_numpy_ops}[kind]


def is_functional(model: Any) -> bool:
    """Whether `model` is a Functional model (built with `keras.Model(inputs, outputs)`).

    A `keras.Sequential` is not one (see `sequential_graph`), nor is a
    subclassed model.
    """
    return isinstance(model, _Functional)


def sequential_graph(model: keras.Sequential) -> keras.Model | None:
    """The Functional graph a built `Sequential` model runs, or `None` before it is built."""
    return getattr(model, "_functional", None)


def producing_operation(tensor: Any) -> Any:
    """The layer or operation whose call produced the symbolic Keras tensor `tensor`.

    For `model.outputs[i]` it is the layer that computes that output; for
    `model.inputs[i]` the `InputLayer` (its name is the input's name).

    Raises:
        RuntimeError: if this Keras keeps no history on symbolic tensors.
    """
    try:
        return tensor._keras_history.operation
    except AttributeError as err:
        raise RuntimeError(changed("KerasTensor._keras_history") + f" ({err})") from err


def run_through_graph(
    graph: keras.Model, inputs: list, call_fn: Callable[..., Any]
) -> Any:
    """Run a Functional graph on `inputs`, calling `call_fn(operation, *args, **kwargs)` per node.

    `call_fn` replaces each layer call, in graph order, so a caller can record
    or change every inner output. The return value has the structure of the
    graph's outputs.

    Raises:
        RuntimeError: if this Keras's Functional has no such walk.
    """
    try:
        run = graph._run_through_graph
    except AttributeError as err:
        raise RuntimeError(changed("Functional._run_through_graph") + f" ({err})") from err
    return run(inputs, call_fn=call_fn)


def standardize_inputs(graph: keras.Model, inputs: Any) -> list:
    """`inputs` (a tensor, list or dict) as the flat list of a Functional graph's inputs."""
    standardize = getattr(graph, "_standardize_inputs", None)
    return standardize(inputs) if standardize is not None else keras.tree.flatten(inputs)


def track_variable(layer: keras.layers.Layer, variable: keras.Variable) -> None:
    """Make `layer` own `variable` (it then appears in `layer.weights`), as `add_weight` would.

    Raises:
        RuntimeError: if this Keras's layers cannot adopt a variable.
    """
    try:
        track = layer._track_variable
    except AttributeError as err:
        raise RuntimeError(changed("Layer._track_variable") + f" ({err})") from err
    track(variable)


def gradient_registry() -> dict | None:
    """TensorFlow's global gradient registry, or `None` if this TensorFlow hides it.

    Every trace of a `tf.custom_gradient` in graph mode adds a
    `"CustomGradient-<n>"` entry that TensorFlow never removes
    (`kerasviz.rules.released_custom_gradients` removes ours).
    """
    try:
        from tensorflow.python.framework import ops as tf_ops

        registry = tf_ops._gradient_registry._registry  # noqa: SLF001
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None

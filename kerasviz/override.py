"""The rules at ReLU *ops*: the path for models whose ReLUs are not Keras layers.

`kv.rewrite` finds a model's ReLUs among its layers, so it cannot see the
ReLUs that a subclassed model's `call()`, a custom layer or a `Lambda` runs
(`tf.nn.relu`, `keras.ops.relu`, `keras.activations.relu(x, max_value=...)`,
`leaky_relu`...). Those all become one of TensorFlow's ReLU ops (`Relu`,
`Relu6`, `LeakyRelu`; a `max_value` other than 6 is a `Relu` followed by a
clip). Inside a `tf.function`, ops created under `rule_ops()` get kerasviz's
gradient in place of TensorFlow's when they are differentiated with
`tf.gradients` (TensorFlow's per-op gradient override; `tf.GradientTape`
ignores it): with `g` the gradient arriving at the op's output and `d` the
op's local derivative (`1[z > 0]`, `1[0 < z < 6]` or `1[z > 0] + α 1[z ≤ 0]`),
the op passes `fn(g, d)` of the rule set by the enclosing
`kv.rules.backward_rule`, the ordinary gradient outside one. So one traced
forward pass serves every rule, as on the rewritten model.

A ReLU written with a `threshold` is not a ReLU op (TensorFlow builds it from
a comparison and a select) and keeps its ordinary gradient.

Example:

```python
import tensorflow as tf
import kerasviz as kv

@tf.function
def guided_map(x):
    with kv.override.rule_ops():
        score = tf.reduce_max(subclassed_model(x, training=False), axis=-1)
    with kv.rules.backward_rule("guided"):
        return tf.gradients(score, x)[0]
```
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

import tensorflow as tf

from kerasviz import rules as rules_lib
from kerasviz.errors import UnsupportedModelError

#: TensorFlow op types whose gradient follows the rule on this path.
RELU_OPS: tuple[str, ...] = ("Relu", "Relu6", "LeakyRelu")
_GRADIENT_NAME = "KerasvizRuleReLU"
_probe = threading.local()


def _rule_gradient(op, grad):
    seen = getattr(_probe, "seen", None)
    if seen is not None:
        seen[op.type] += 1
    z = op.inputs[0]
    if op.type == "Relu6":
        derivative = rules_lib.relu_derivative(z, max_value=6.0)
    elif op.type == "LeakyRelu":
        derivative = rules_lib.relu_derivative(z, negative_slope=float(op.get_attr("alpha")))
    else:
        derivative = rules_lib.relu_derivative(z)
    fn = rules_lib.get_rule(rules_lib.active_override() or "saliency")
    return fn(grad, tf.cast(derivative, grad.dtype))


try:  # registered once per process, at import (TensorFlow keeps gradients by name)
    tf.RegisterGradient(_GRADIENT_NAME)(_rule_gradient)
except KeyError:  # the module imported again (e.g. reloaded): the first registration stands
    pass


@contextlib.contextmanager
def rule_ops() -> Iterator[None]:
    """ReLU ops created inside the block follow the active rule under `tf.gradients`.

    Use it around a forward pass traced in a `tf.function`, and call
    `tf.gradients` (not a `GradientTape`) after the block, under
    `kv.rules.backward_rule(rule)`.

    Raises:
        UnsupportedModelError: when not tracing a `tf.function` (eager ops
            have no graph to carry the override).
    """
    if tf.executing_eagerly():
        raise UnsupportedModelError(
            "kv.override.rule_ops() works while a tf.function is traced: eager ops "
            "are differentiated by a GradientTape, which ignores per-op overrides. "
            "Received: eager execution"
        )
    graph = tf.compat.v1.get_default_graph()
    # The name scope: a model named like "_net" is not a valid *root* scope in a graph.
    with graph.gradient_override_map({op: _GRADIENT_NAME for op in RELU_OPS}), tf.name_scope("kerasviz"):
        yield


@contextlib.contextmanager
def counting() -> Iterator[collections.Counter]:
    """Count, by op type, the rule ReLU ops whose gradient is built inside the block.

    A ReLU inside a `kv.rules.RuleReLU` (a rewritten model's layer) is
    behind its own custom gradient and is not counted: what is counted is
    what a backward pass crosses and the rewrite could not see.
    """
    previous = getattr(_probe, "seen", None)
    _probe.seen = collections.Counter()
    try:
        yield _probe.seen
    finally:
        _probe.seen = previous


def logits_of(output: tf.Tensor) -> tuple[tf.Tensor, bool]:
    """The input of a final `Softmax` op (through `Identity` and `Cast` ops), else `output`.

    Returns:
        `(tensor, removed)`: the logits (in `output`'s dtype) and whether a
        softmax was removed.
    """
    tensor = output
    while getattr(tensor, "op", None) is not None and tensor.op.type in ("Identity", "Cast"):
        tensor = tensor.op.inputs[0]
    if getattr(tensor, "op", None) is not None and tensor.op.type == "Softmax":
        return tf.cast(tensor.op.inputs[0], output.dtype), True
    return output, False


def probe(call, specs, variables) -> tuple[collections.Counter, object]:
    """Trace `call(*specs)` once under `rule_ops` and differentiate it: which ReLU ops it crosses.

    Args:
        call: the forward function (e.g. the model called with `training=False`).
        specs: a `tf.TensorSpec` per argument.
        variables: variables to differentiate with respect to as well as the
            float arguments (so ReLUs behind an integer input are found).

    Returns:
        `(counts, outputs)`: the rule ReLU ops by type that the backward pass
        from every float output crosses (those inside a `kv.rules.RuleReLU`
        are behind its own gradient and not counted), and the traced outputs
        (symbolic: their shapes and producing ops can be read).
    """
    found = collections.Counter()

    def traced(*args):
        with rule_ops():
            outputs = call(*args)
        flat = [t for t in tf.nest.flatten(outputs) if t.dtype.is_floating]
        sources = [a for a in args if a.dtype.is_floating] + list(variables)
        if flat and sources:
            with counting() as seen:
                tf.gradients([tf.reduce_sum(t) for t in flat], sources)
            found.update(seen)
        return outputs

    with rules_lib.released_custom_gradients():  # the trace registers rule ReLUs' gradients
        concrete = tf.function(traced, autograph=False).get_concrete_function(*specs)
    return found, concrete.structured_outputs


def gradients(scores: tf.Tensor, sources: list, vectorized: bool) -> list:
    """`tf.gradients` of `scores` for each source; with `vectorized`, one per score column.

    Args:
        scores: `(B,)` scores, or `(B, K)` with `vectorized`.
        sources: tensors of the traced forward pass (inputs, activations).
        vectorized: differentiate each of the `K` columns on its own, in one
            vectorized backward pass (`tf.vectorized_map`, as a tape's
            `batch_jacobian` does): `(B, K, ...)` per source.

    Returns:
        One gradient per source, `None` where a source does not reach the scores.
    """
    if not vectorized:
        return tf.gradients(scores, sources)
    connected = [g is not None for g in tf.gradients(tf.reduce_sum(scores), sources)]
    reached = [s for s, c in zip(sources, connected) if c]
    if not reached:
        return [None] * len(sources)
    columns = tf.eye(tf.shape(scores)[1], dtype=scores.dtype)

    def column(onehot):
        return tf.gradients(scores, reached, grad_ys=tf.broadcast_to(onehot, tf.shape(scores)))

    stacked = iter(tf.vectorized_map(column, columns))
    out = [next(stacked) if c else None for c in connected]
    return [None if g is None else tf.experimental.numpy.moveaxis(g, 0, 1) for g in out]

"""The layers that put the relevance rules (LRP, DeepLIFT) into a rewritten model.

`kv.rewrite` (and so the `Visualizer`) calls `Spans.after_call` for every
layer call of the clone when a relevance rule is among the rules. After each
linear layer (Dense, Conv1D/2D/3D, DepthwiseConv1D/2D) it adds a
`RelevanceSpan`: forward the identity; backward, under a saliency or ReLU
rule, the ordinary gradient (so those rules are untouched), and under a
relevance rule the rule's signal straight to the linear layer's *input*
(the ordinary path through the layer then carries nothing). A
BatchNormalization right after a linear layer gets a span of its own that
folds it into the layer (`W' = W γ/σ`, `b' = (b − μ) γ/σ + β`) and skips
both: LRP's canonization step. A max pooling after a linear layer gets a
`MaxPoolSpan`: the ordinary gradient, except under DeepLIFT, whose Rescale
rule it applies over each window (summation to delta holds through it).

The first linear layers (no linear layer between them and the model's
input, nested models looked into) hand down the relevance itself, so the
gradient that reaches the input is the relevance map.

Example:

```python
import kerasviz as kv

lrp_model = kv.rewrite(model, "lrp-epsilon-plus-flat")
with tf.GradientTape() as tape:
    tape.watch(x)
    score = lrp_model(x)[:, 3]
relevance = tape.gradient(score, x)  # sums to about the logit of class 3
```
"""

from __future__ import annotations

import warnings

import keras
import tensorflow as tf

from kerasviz import _compat
from kerasviz import relevance as relevance_lib
from kerasviz import rules as rules_lib
from kerasviz.errors import UnsupportedModelError
from kerasviz.layers import SoftmaxRemoved, SubtractMean

__all__ = [
    "LINEAR_LAYERS", "MaxPoolSpan", "RelevanceLayer", "RelevancePass", "RelevanceSpan", "SUFFIX", "Spans",
    "check_covered",
    "first_linear_layers",
]

SUFFIX = "_kerasviz_relevance"

#: The layers the LRP rules act at.
LINEAR_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in ("Dense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D")
    if hasattr(keras.layers, name)
)
_DEPTHWISE = tuple(getattr(keras.layers, n) for n in ("DepthwiseConv1D", "DepthwiseConv2D") if hasattr(keras.layers, n))

_nn_ops = _compat.ops_module("nn")
_np_ops = _compat.ops_module("numpy")
#: Layers whose ordinary gradient is the relevance rule (proportional, pass-through or winner-takes-all).
_COVERED = tuple(
    getattr(module, name)
    for module, names in (
        (keras.layers, (
            "InputLayer", "ReLU", "LeakyReLU", "BatchNormalization", "Flatten", "Reshape", "Permute",
            "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
            "GaussianDropout", "AlphaDropout", "Add", "Subtract", "Average", "Concatenate", "Identity",
            "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
            "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
            "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
            "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
            "UpSampling1D", "UpSampling2D", "UpSampling3D", "Rescaling", "Normalization",
        )),
        (_nn_ops, ("Relu", "Relu6", "LeakyRelu")),
        (_np_ops, ("Add", "Subtract", "Reshape", "Transpose", "Concatenate", "ExpandDims", "Squeeze")),
    )
    for name in names
    if hasattr(module, name)
) + (rules_lib.RuleReLU, SoftmaxRemoved, SubtractMean)


def _kind(layer) -> str:
    return "dense" if isinstance(layer, keras.layers.Dense) else "conv"


def _linear_function(layer):
    """`f(a, W)`: the layer's linear map without bias (the same strides, padding, dilation)."""
    if isinstance(layer, keras.layers.Dense):
        return lambda a, w: tf.tensordot(a, w, axes=[[a.shape.rank - 1], [0]])
    if isinstance(layer, _DEPTHWISE):
        def depthwise(a, w):
            return keras.ops.depthwise_conv(
                a, w, strides=layer.strides, padding=layer.padding,
                data_format=layer.data_format, dilation_rate=layer.dilation_rate,
            )
        return depthwise
    return layer.convolution_op


def _output_axis(layer) -> int:
    return 1 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _folded(layer, batchnorm) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The kernel and bias of `layer`, with `batchnorm` (if any) folded in."""
    w = tf.convert_to_tensor(layer.kernel)
    b = tf.convert_to_tensor(layer.bias) if layer.use_bias else None
    if batchnorm is None:
        return w, b
    scale = tf.math.rsqrt(tf.convert_to_tensor(batchnorm.moving_variance) + batchnorm.epsilon)
    if batchnorm.gamma is not None:
        scale = scale * tf.convert_to_tensor(batchnorm.gamma)
    mean = tf.convert_to_tensor(batchnorm.moving_mean)
    shift = -mean * scale
    if batchnorm.beta is not None:
        shift = shift + tf.convert_to_tensor(batchnorm.beta)
    w = w * tf.reshape(scale, w.shape[-2:]) if isinstance(layer, _DEPTHWISE) else w * scale
    b = shift if b is None else b * scale + shift
    return w, b


def _foldable(layer, batchnorm, rank: int) -> bool:
    """Whether `batchnorm` normalizes `layer`'s output channels (its axis is the channel axis)."""
    axes = batchnorm.axis if isinstance(batchnorm.axis, (list, tuple)) else [batchnorm.axis]
    return len(axes) == 1 and axes[0] % rank == _output_axis(layer) % rank


class RelevanceLayer(keras.layers.Layer):
    """Base of the layers a rewrite adds for the relevance rules (`tap` and `layer_paths` skip them).

    They compute in float32 whatever the rewrite's precision or Keras's
    global policy: in a `precision="bfloat16"` rewrite their inputs are cast
    up, so the rules' ratios `R / stab(z)` (and the products that feed them)
    are float32 arithmetic on the reduced-precision forward values, and the
    relevance they hand down is cast back to the model's type.

    They read the variables of the layers they stand behind (a Keras
    config cannot name another layer of the model) and hold the rule
    object, so a model rewritten for a relevance rule cannot be saved:
    `get_config` raises an `UnsupportedModelError` that says to save the
    original model and rewrite the loaded one.

    Example:

    ```python
    lrp_model = kv.rewrite(model, "lrp-epsilon", precision="bfloat16")
    {layer.compute_dtype for layer in lrp_model.layers if isinstance(layer, RelevanceLayer)}  # {'float32'}
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "dtype": "float32"})

    def get_config(self) -> dict:
        raise UnsupportedModelError(
            "kerasviz: a model rewritten for a relevance rule (LRP, DeepLIFT) cannot be saved or cloned: its "
            f"{type(self).__name__} layers read the variables of the layers they stand behind, which a Keras "
            "config cannot refer to. Save the original model instead (model.save('model.keras')), load it, "
            "and call kv.rewrite or kv.Visualizer on the loaded model: the maps are the same. "
            f"Received: layer {self.name!r} ({type(self).__name__})"
        )


class RelevancePass(RelevanceLayer):
    """Identity on `y = layer(x)` for an elementwise affine layer before the first linear layer.

    Called as `RelevancePass()(y, x)`. Under a relevance rule the relevance of
    `y` becomes that of `x` unchanged (a `Rescaling(1/255)` or
    `Normalization` in front of the network moves relevance, it does not
    scale it); under any other rule, the ordinary gradient.
    """

    def __init__(self, default=None, **kwargs):
        super().__init__(**kwargs)
        self.default = default

    def call(self, y, x):
        default = self.default

        @tf.custom_gradient
        def passed(y, x):
            def backward(g):
                if rules_lib.active_relevance(default) is None:
                    return g, None
                return None, g

            return tf.identity(y), backward

        return passed(y, x)

    def compute_output_shape(self, y_shape, x_shape=None):
        return y_shape


class RelevanceSpan(RelevanceLayer):
    """Identity on a linear layer's output `z`; the relevance rules' backward to its input `a`.

    Called as `span(z, a)`. Not meant to be built by hand: `kv.rewrite`
    adds one after every linear layer (and BatchNormalization folded into
    one) when a relevance rule is among the rules.

    Args:
        linear: the Dense / Conv / DepthwiseConv layer (its variables are read, not copied).
        batchnorm: a BatchNormalization layer right after it, folded in. Defaults to `None`.
        first: whether `linear` is a first linear layer (it hands down relevance). Defaults to `False`.
        default: the relevance rule used outside a `kv.rules.backward_rule` block. Defaults to `None`.
        nonnegative: whether `a` is known to be `>= 0` (it comes from a ReLU, through pooling,
            reshaping...), so that z+ and alpha-beta skip their negative-input terms (half the
            work). Defaults to `False`.
    """

    def __init__(self, linear, batchnorm=None, first: bool = False, default=None, nonnegative: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.linear, self.batchnorm, self.first, self.default = linear, batchnorm, bool(first), default
        self.nonnegative = bool(nonnegative)
        self.kind = _kind(linear)

    def call(self, z, a):
        f = _linear_function(self.linear)
        w, b = _folded(self.linear, self.batchnorm)
        if b is not None and _output_axis(self.linear) == 1:
            b = tf.reshape(b, [-1] + [1] * (a.shape.rank - 2))
        baseline = relevance_lib.reference(id(self), a) if self.first else {}
        first, kind, default, nonnegative = self.first, self.kind, self.default, self.nonnegative

        @tf.custom_gradient
        def span(z, a):
            def backward(g):
                rule = rules_lib.active_relevance(default)
                if rule is None:
                    return g, None  # the ordinary gradient, through the layer
                if isinstance(rule, relevance_lib.DeepLift):
                    if not first:
                        return g, None  # DeepLIFT's linear rule is the gradient
                    a0 = baseline[rule.name][0] if rule.name in baseline else tf.zeros_like(a)
                    return None, (a - a0) * relevance_lib.vjp(f, a, w, g)
                relevance = relevance_lib.lrp_backward(
                    rule.kind_for(kind, first), rule, f, a, z, w, b, g, first, nonnegative=nonnegative)
                return None, relevance

            return tf.identity(z), backward

        return span(z, a)

    def compute_output_shape(self, z_shape, a_shape=None):
        return z_shape


class MaxPoolSpan(RelevanceLayer):
    """Identity on a max pooling's output `y`; DeepLIFT's Rescale back to its input `x`.

    Called as `span(y, x)`; `kv.rewrite` adds one after every max pooling
    that follows a linear layer when a relevance rule is among the rules.
    Under DeepLIFT each window's `Δy` goes to the winner of the image or of
    the baseline (`kerasviz.relevance.deeplift_max_pool`), so summation to
    delta holds through it; under any other rule (LRP included), the
    ordinary gradient: winner takes all.

    Args:
        pool: the MaxPooling / GlobalMaxPooling layer (its `call` is the pooling).
        default: the relevance rule used outside a `kv.rules.backward_rule` block. Defaults to `None`.

    Example:

    ```python
    deeplift_model = kv.rewrite(model, "deeplift")  # a MaxPoolSpan after each max pooling
    ```
    """

    def __init__(self, pool, default=None, **kwargs):
        super().__init__(**kwargs)
        self.pool, self.default = pool, default

    def call(self, y, x):
        baseline = relevance_lib.reference(id(self), x, y)
        pool, default = self.pool.call, self.default

        @tf.custom_gradient
        def span(y, x):
            def backward(g):
                rule = rules_lib.active_relevance(default)
                if not isinstance(rule, relevance_lib.DeepLift) or rule.name not in baseline:
                    return g, None  # the ordinary gradient, through the pooling
                return None, relevance_lib.deeplift_max_pool(pool, g, x, y, *baseline[rule.name])

            return tf.identity(y), backward

        return span(y, x)

    def compute_output_shape(self, y_shape, x_shape=None):
        return y_shape


def first_linear_layers(model: keras.Model) -> set[int]:
    """Ids of the linear layers with no linear layer between them and `model`'s inputs.

    Nested Functional and Sequential models are looked into.
    """
    first: set[int] = set()

    class Mark:
        def __init__(self, passed: bool):
            self.passed = passed

    def walk(graph, marks):
        def call(op, *args, **kwargs):
            passed = any(m.passed for m in keras.tree.flatten((args, kwargs)) if isinstance(m, Mark))
            nested = _graph_of(op) if isinstance(op, keras.Model) else None
            if nested is not None:
                inner = [m for m in keras.tree.flatten(args) if isinstance(m, Mark)]
                return keras.tree.flatten(walk(nested, inner))
            if isinstance(op, LINEAR_LAYERS):
                if not passed:
                    first.add(id(op))
                passed = True
            return [Mark(passed)] * 16  # the walk zips this with the node's outputs

        return _compat.run_through_graph(graph, marks, call)

    graph = _graph_of(model)
    if graph is not None:
        walk(graph, [Mark(False) for _ in graph.inputs])
    return first


def _graph_of(model):
    if isinstance(model, keras.Sequential):
        return _compat.sequential_graph(model)
    return model if _compat.is_functional(model) else None


class Spans:
    """The relevance bookkeeping of one rewrite: first layers, spans, uncovered layers.

    Args:
        default: the relevance rule that spans use outside a
            `kv.rules.backward_rule` block (the rewrite's own rule), or `None`.
    """

    def __init__(self, default=None):
        self.default = default
        self.first: set[int] | None = None
        self.unsupported: list[str] = []
        self._origin: dict[int, int] = {}
        self._spans: dict[int, tuple] = {}
        self._nonnegative: set[int] = set()  # ids of symbolic tensors known to be >= 0
        self._passed: set[int] = set()  # ids of symbolic tensors computed from a linear layer's output

    def prepare(self, model: keras.Model) -> None:
        """Find the first linear layers of the outermost model (called once, before cloning)."""
        if self.first is None:
            self.first = first_linear_layers(model)

    def cloned(self, original, clone) -> None:
        """Note that `clone` stands for `original` (a linear layer's twin keeps its place)."""
        self._origin[id(clone)] = id(original)

    def _track(self, layer, args: tuple, outputs):
        """Note outputs computed from a linear layer's; pass relevance through a rescaling before any."""
        inputs = [t for t in keras.tree.flatten(args) if hasattr(t, "shape") and hasattr(t, "dtype")]
        if isinstance(layer, LINEAR_LAYERS) or any(id(t) in self._passed for t in inputs):
            self._passed.update(id(t) for t in keras.tree.flatten(outputs))
        elif isinstance(layer, _RESCALING) and len(inputs) == 1 and tuple(inputs[0].shape) == tuple(outputs.shape):
            outputs = RelevancePass(default=self.default, name=f"{layer.name}{SUFFIX}")(outputs, inputs[0])
        return outputs

    def after_call(self, layer, args: tuple, outputs):
        """The outputs of one layer call of the clone, with a span after a linear layer."""
        if _keeps_sign(layer, args, self._nonnegative):
            self._nonnegative.update(id(t) for t in keras.tree.flatten(outputs))
        outputs = self._track(layer, args, outputs)
        if isinstance(layer, _MAX_POOLING) and args and id(args[0]) in self._passed:
            return self._after_max_pool(layer, args[0], outputs)
        activation = getattr(layer, "activation", None)
        if isinstance(layer, LINEAR_LAYERS) and activation not in (keras.activations.linear, None):
            self.unsupported.append(f"{layer.name} ({type(layer).__name__} with a fused {activation.__name__})")
            return outputs
        if isinstance(layer, LINEAR_LAYERS) and args:
            first = self._origin.get(id(layer), id(layer)) in (self.first or set())
            span = RelevanceSpan(layer, first=first, default=self.default, name=f"{layer.name}{SUFFIX}",
                                 nonnegative=id(args[0]) in self._nonnegative)
            result = span(outputs, args[0])
            self._spans[id(result)] = (layer, args[0], first)
            self._passed.add(id(result))
            return result
        if isinstance(layer, keras.layers.BatchNormalization) and args and id(args[0]) in self._spans:
            linear, a, first = self._spans[id(args[0])]
            if _foldable(linear, layer, len(args[0].shape)):
                span = RelevanceSpan(linear, batchnorm=layer, first=first, default=self.default,
                                     name=f"{layer.name}{SUFFIX}", nonnegative=id(a) in self._nonnegative)
                result = span(outputs, a)
                self._passed.add(id(result))
                return result
        linear_activation = isinstance(layer, keras.layers.Activation) and layer.activation in (
            keras.activations.linear, None)
        if not (isinstance(layer, _COVERED + (keras.Model,)) or linear_activation):
            self.unsupported.append(f"{layer.name} ({type(layer).__name__})")
        return outputs

    def _after_max_pool(self, layer, x, outputs):
        """A max pooling's output behind a `MaxPoolSpan` (DeepLIFT's Rescale), keeping what is known of it."""
        result = MaxPoolSpan(layer, default=self.default, name=f"{layer.name}{SUFFIX}")(outputs, x)
        self._passed.add(id(result))
        if id(outputs) in self._nonnegative:
            self._nonnegative.add(id(result))
        return result


#: Layers whose output is >= 0 where all their inputs are (they select, average, move or add values).
_SIGN_KEEPING = tuple(
    getattr(keras.layers, name)
    for name in (
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
        "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Flatten", "Reshape",
        "Permute", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ZeroPadding1D",
        "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D",
        "UpSampling2D", "UpSampling3D", "Add", "Average", "Concatenate", "Identity",
    )
    if hasattr(keras.layers, name)
)


_MAX_POOLING = tuple(
    getattr(keras.layers, name)
    for name in ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
                 "GlobalMaxPooling3D")
    if hasattr(keras.layers, name)
)
_RESCALING = tuple(getattr(keras.layers, n) for n in ("Rescaling", "Normalization") if hasattr(keras.layers, n))


def _keeps_sign(layer, args: tuple, nonnegative: set[int]) -> bool:
    """Whether `layer`'s output is known to be >= 0 (a plain ReLU, or a sign-keeping layer of such inputs)."""
    if isinstance(layer, rules_lib.RuleReLU):
        return layer.negative_slope == 0 and layer.threshold >= 0
    inputs = [t for t in keras.tree.flatten(args) if hasattr(t, "shape") and hasattr(t, "dtype")]
    return isinstance(layer, _SIGN_KEEPING) and bool(inputs) and all(id(t) in nonnegative for t in inputs)


def check_covered(spans: Spans, rules: tuple[str, ...], on_unsupported: str, stacklevel: int) -> None:
    """Raise (`"error"`), warn (`"warn"`) or stay silent (`"keep"`) about layers no relevance rule covers.

    Such a layer passes the ordinary gradient, so relevance through it is
    "gradient × input" there, not LRP's (or DeepLIFT's).
    """
    if not spans.unsupported or on_unsupported == "keep":
        return
    named = " and ".join(repr(rule) for rule in rules)
    text = (
        f"no rule of {named} covers the layers {', '.join(spans.unsupported)} (kerasviz covers Dense, "
        f"Conv, DepthwiseConv, pooling, BatchNormalization, Add, Concatenate, Flatten/Reshape and the "
        f"ReLU family)"
    )
    if on_unsupported == "error":
        raise UnsupportedModelError(
            f"kerasviz: {text}. Pass on_unsupported='warn' to pass the ordinary gradient through them. "
            f"Received: on_unsupported={on_unsupported!r}"
        )
    warnings.warn(
        f"kerasviz: {text}; they pass the ordinary gradient. Pass on_unsupported='keep' to silence this, "
        f"or 'error' to refuse such models.",
        stacklevel=stacklevel,
    )

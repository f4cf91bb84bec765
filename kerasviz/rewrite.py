"""Rewrite a Keras model so that every ReLU follows a backward rule.

`rewrite(model, rule)` returns a new Functional model in which every ReLU
(`ReLU` and `LeakyReLU` layers, `Activation("relu")`, fused
`activation="relu"`/`"relu6"`/`"leaky_relu"` in Conv/Dense layers,
`keras.ops.relu` in a functional graph, inside nested models too) is a
`kerasviz.rules.RuleReLU`. The user's model is left as it was: its weights,
layers, activations and gradients do not change.

Weights are shared, not copied: layers without a ReLU are reused as they are,
and a layer with a fused ReLU is re-created with a linear activation on the
*same* variables, followed by a `RuleReLU`. So the rewrite costs no memory
for weights and sees a model that keeps training.

Example:

```python
import keras
import kerasviz as kv

model = keras.Sequential([
    keras.Input((8, 8, 3)),
    keras.layers.Conv2D(4, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(5, activation="softmax"),
])
guided = kv.rewrite(model, "guided")
print(guided.kerasviz_report)
```
"""

from __future__ import annotations

import collections
import dataclasses
import types
import warnings
from typing import Literal

import keras

from kerasviz import _compat, _validation
from kerasviz import rules as rules_lib
from kerasviz.errors import (
    InvalidArgumentError,
    UnknownLayerError,
    UnsupportedActivationError,
    UnsupportedModelError,
)
from kerasviz.layers import SoftmaxRemoved  # re-exported: kerasviz.rewrite.SoftmaxRemoved

keras_nn_ops = _compat.ops_module("nn")
keras_numpy_ops = _compat.ops_module("numpy")
OnUnsupported = Literal["error", "warn", "keep"]
_ON_UNSUPPORTED = ("error", "warn", "keep")

_RELU_FUNCTIONS = {
    keras.activations.relu: {},
    keras.activations.relu6: {"max_value": 6.0},
    keras.activations.leaky_relu: {"negative_slope": 0.2},
}
_LINEAR_FUNCTIONS = (keras.activations.linear, None)
_SOFTMAX_FUNCTIONS = (keras.activations.softmax,)
_UNSUPPORTED_OPS = tuple(
    getattr(keras_nn_ops, name)
    for name in ("Silu", "Gelu", "Elu", "Selu", "Sigmoid", "Tanh", "Softplus",
                 "HardSigmoid", "HardSilu", "Mish", "Softsign", "Celu", "Glu")
    if hasattr(keras_nn_ops, name)
)
Activations = Literal["relu", "all"]
_ACTIVATIONS = ("relu", "all")
#: keras.ops operations that act elementwise -> the Keras activation they compute.
_ELEMENTWISE_OPS = {
    getattr(module, op): name
    for module, op, name in (
        (keras_nn_ops, "Silu", "silu"), (keras_nn_ops, "Gelu", "gelu"), (keras_nn_ops, "Elu", "elu"),
        (keras_nn_ops, "Selu", "selu"), (keras_nn_ops, "Sigmoid", "sigmoid"),
        (keras_nn_ops, "Softplus", "softplus"), (keras_nn_ops, "HardSigmoid", "hard_sigmoid"),
        (keras_nn_ops, "HardSilu", "hard_silu"), (keras_nn_ops, "Softsign", "softsign"),
        (keras_nn_ops, "Celu", "celu"), (keras_nn_ops, "LogSigmoid", "log_sigmoid"),
        (keras_nn_ops, "SparsePlus", "sparse_plus"), (keras_nn_ops, "SparseSigmoid", "sparse_sigmoid"),
        (keras_nn_ops, "HardTanh", "hard_tanh"), (keras_nn_ops, "TanhShrink", "tanh_shrink"),
        (keras_nn_ops, "SoftShrink", "soft_shrink"), (keras_nn_ops, "HardShrink", "hard_shrink"),
        (keras_nn_ops, "Squareplus", "squareplus"), (keras_nn_ops, "Threshold", "threshold"),
        (keras_numpy_ops, "Tanh", "tanh"),
    )
    if hasattr(module, op)
}
_NON_ELEMENTWISE_OPS = tuple(
    getattr(keras_nn_ops, name)
    for name in ("Glu", "Softmax", "LogSoftmax", "Sparsemax")
    if hasattr(keras_nn_ops, name)
)
_UNSUPPORTED_OPS = tuple(dict.fromkeys(_UNSUPPORTED_OPS + tuple(_ELEMENTWISE_OPS) + _NON_ELEMENTWISE_OPS))


@dataclasses.dataclass
class RewriteReport:
    """What `rewrite` replaced.

    Attributes:
        rule: the rule the new ReLUs follow.
        replaced: counts per kind of ReLU replaced, e.g.
            `{"fused relu in Conv2D": 13, "ReLU layer": 2}`.
        softmax_removed: names of the layers whose final softmax was removed.
        unsupported: `"layer: activation"` for every non-ReLU activation left
            as it is (its gradient is the ordinary one).
        nested_models: names of the nested models rewritten recursively.
        activation_after: for each layer whose fused ReLU was split off, the
            name of the `RuleReLU` layer that now follows it.
        activations: `"relu"` (the rule acts at ReLUs only) or `"all"` (at
            every elementwise activation).
        other_replaced: with `activations="all"`, counts per kind of non-ReLU
            activation that now follows the rule, e.g. `{"Activation('silu')": 16}`.
    """

    rule: str
    replaced: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    softmax_removed: list[str] = dataclasses.field(default_factory=list)
    unsupported: list[str] = dataclasses.field(default_factory=list)
    nested_models: list[str] = dataclasses.field(default_factory=list)
    activation_after: dict[str, str] = dataclasses.field(default_factory=dict)
    activations: str = "relu"
    other_replaced: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def num_replaced(self) -> int:
        """How many ReLUs now follow the rule."""
        return sum(self.replaced.values())

    @property
    def num_rule_activations(self) -> int:
        """How many activations follow the rule: ReLUs, and others with `activations="all"`."""
        return self.num_replaced + sum(self.other_replaced.values())

    @property
    def identical_to_saliency(self) -> bool:
        """True when no activation follows the rule, so every rule gives the saliency map."""
        return self.num_rule_activations == 0

    def no_rule_text(self) -> str:
        """Why every rule gives the saliency map here (`""` if they do not)."""
        if not self.identical_to_saliency:
            return ""
        if self.activations == "all":
            return "identical to saliency: no ReLU and no other elementwise activation in this model"
        return "identical to saliency: no ReLU in this model"

    def __str__(self) -> str:
        lines = [f"kerasviz rewrite, rule {self.rule!r}: {self.num_replaced} ReLUs replaced"]
        if self.identical_to_saliency:
            lines[0] += f" ({self.no_rule_text()})"
        lines += [f"  {count:4d} x {kind}" for kind, count in sorted(self.replaced.items())]
        if self.other_replaced:
            lines.append(
                f"  {sum(self.other_replaced.values())} other activations follow the rule "
                f"(activations='all'):"
            )
            lines += [f"  {count:4d} x {kind}" for kind, count in sorted(self.other_replaced.items())]
        if self.softmax_removed:
            lines.append(f"  softmax removed from: {', '.join(self.softmax_removed)}")
        if self.nested_models:
            lines.append(f"  nested models rewritten: {', '.join(self.nested_models)}")
        if self.unsupported:
            lines.append(f"  left as they are (ordinary gradient): {', '.join(self.unsupported)}")
        return "\n".join(lines)


def rewrite(
    model: keras.Model,
    rule: str = "guided",
    *,
    logits: bool = True,
    on_unsupported: OnUnsupported = "warn",
    activations: Activations = "relu",
) -> keras.Model:
    """Clone `model` with every ReLU replaced by a `RuleReLU` following `rule`.

    The three rules differ only at ReLUs, so a model without ReLUs gets the
    saliency map from every rule: the report says "identical to saliency: no
    ReLU in this model", and a warning names the rules affected. With
    `activations="all"` the rule acts at every elementwise activation `f`
    (swish, GELU, tanh, ELU, sigmoid...) as well: with `g` the gradient
    arriving at `f(z)`, saliency passes `g * f'(z)` (the ordinary gradient),
    DeconvNet `relu(g)` and guided `relu(g) * f'(z)`. This extends the
    paper's rules (which are defined at ReLUs only) to EfficientNet- or
    ConvNeXt-like models; the default keeps the paper's definition.

    Args:
        model: a built Functional or Sequential Keras model (nested models
            inside it are rewritten too).
        rule: rule name or alias (`kv.RULES`, or one registered with
            `kv.rules.register`). Defaults to `"guided"`.
        logits: remove a final softmax (fused in the last layer or a separate
            `Activation("softmax")`/`Softmax` layer), so that maps are
            gradients of logits. Defaults to `True`.
        on_unsupported: what to do about non-ReLU activations (silu, gelu,
            sigmoid, tanh, elu, PReLU, a softmax inside the net, nested
            subclassed models): `"error"` raises, `"warn"` warns, `"keep"` is
            silent. They keep their ordinary gradient. Defaults to `"warn"`.
        activations: `"relu"` applies the rule at the ReLU family only (the
            paper's definition); `"all"` at every elementwise activation too
            (`kv.rules.ELEMENTWISE_ACTIVATIONS`, fused, `Activation` layers,
            `ELU` layers and `keras.ops` calls). Defaults to `"relu"`.

    Returns:
        A new Functional `keras.Model` sharing `model`'s variables, with a
        `kerasviz_report` attribute (a `RewriteReport`).

    Raises:
        UnknownRuleError: for an unknown rule.
        UnsupportedModelError: for a subclassed or unbuilt model.
        UnsupportedActivationError: with `on_unsupported="error"`.
        InvalidArgumentError: (a `ValueError`) for an `on_unsupported` other
            than `"error"`, `"warn"` or `"keep"`.

    Example:

    ```python
    gbp_model = kv.rewrite(model, "gbp")
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_max(gbp_model(x), axis=-1)
    gbp_map = tape.gradient(score, x)
    ```
    """
    name = rules_lib.canonical_name(rule)
    return rewrite_for(
        model, (name,), logits=logits, on_unsupported=on_unsupported, activations=activations,
        stacklevel=3,
    )


def rewrite_for(
    model: keras.Model,
    rules: tuple[str, ...],
    *,
    logits: bool = True,
    on_unsupported: OnUnsupported = "warn",
    activations: Activations = "relu",
    stacklevel: int = 2,
    warn: bool = True,
) -> keras.Model:
    """`rewrite(model, rules[0], ...)`, warning (or raising) for all of `rules`.

    A model rewritten once serves every rule (`kv.rules.backward_rule`
    switches them), so the `Visualizer` and the callback use this to name
    every rule a non-ReLU model affects, not only the first. With
    `warn=False` the caller warns later with `warn_about` (the `Visualizer`
    first counts the ReLU ops the rewrite cannot see).
    """
    _validation.one_of(on_unsupported, "on_unsupported", _ON_UNSUPPORTED, what="on_unsupported policy")
    activations = _check_activations(activations)
    report = RewriteReport(rule=rules[0], activations=activations)
    with rules_lib.released_custom_gradients():  # symbolic building traces the rule ReLUs
        new_model = _Rewriter(rules[0], report, activations).model(model, logits=logits)
    if warn:
        warn_about(report, rules, on_unsupported, stacklevel + 1)
    new_model.kerasviz_report = report
    return new_model


def check_model(model) -> None:
    """Raise the `UnsupportedModelError` that says why `rewrite` cannot take `model`.

    The one place that words it: `rewrite`, `Visualizer` and the callback
    all raise these messages. A subclassed model, or a Sequential model that
    has no input shape yet, is refused; Functional and built Sequential
    models pass.
    """
    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise UnsupportedModelError(
                f"The Sequential model {model.name!r} has no known input shape. "
                f"Start it with keras.Input(shape) or call it on a batch before "
                f"rewriting it. Received: model={model.name!r} (not built)"
            )
        return
    if not _compat.is_functional(model):
        raise UnsupportedModelError(
            f"kerasviz can rewrite Functional and Sequential models, not a "
            f"subclassed model ({type(model).__name__}): its call() is Python "
            f"code whose ReLUs cannot be found. Build the same network with the "
            f"Functional API, or use kerasviz.rules.RuleReLU layers in place of "
            f"its ReLUs. Received: model={getattr(model, 'name', None)!r} of type "
            f"{type(model).__name__}"
        )


def _check_activations(activations) -> str:
    if activations not in _ACTIVATIONS:
        raise InvalidArgumentError(
            f"activations must be 'relu' (the rules act at ReLUs, the paper's "
            f"definition) or 'all' (at every elementwise activation). "
            f"Received: activations={activations!r}"
        )
    return activations


def _rules_text(rules: list[str]) -> str:
    quoted = [repr(rule) for rule in rules]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def warn_about(report: RewriteReport, rules: tuple[str, ...], on_unsupported: str, stacklevel: int) -> None:
    """Warn (or raise) about maps that are not what their rule's name says."""
    affected = [rule for rule in rules if rule != "saliency"]  # saliency is the gradient anyway
    if not affected or on_unsupported == "keep":
        return
    if report.unsupported:
        found = (
            f"non-ReLU activations: {', '.join(report.unsupported)}. Maps through "
            f"them are not pure {_rules_text(affected)} maps"
        )
        if on_unsupported == "error":
            raise UnsupportedActivationError(
                f"kerasviz.rewrite found {found}. Pass on_unsupported='warn' or "
                f"'keep' to keep their ordinary gradient. Received: "
                f"on_unsupported={on_unsupported!r}"
            )
    if report.identical_to_saliency:
        maps = "map is" if len(affected) == 1 else "maps are"
        fix = (
            "Pass activations='all' to apply the rules at every elementwise "
            "activation too, or on_unsupported='keep' to silence this."
            if report.activations == "relu" and report.unsupported
            else "Pass on_unsupported='keep' to silence this."
        )
        warnings.warn(
            f"kerasviz: the {_rules_text(affected)} {maps} {report.no_rule_text()} "
            f"(the rules differ only at ReLUs; without them every rule gives the "
            f"gradient). {fix}",
            stacklevel=stacklevel,
        )
    elif report.unsupported:
        warnings.warn(
            f"kerasviz.rewrite kept the ordinary gradient of these {found}. Pass "
            f"on_unsupported='keep' to silence this, or 'error' to refuse such models.",
            stacklevel=stacklevel,
        )


class _Rewriter:
    """One rewrite: clones models, keeps the report, shares layers once."""

    def __init__(self, rule: str, report: RewriteReport, activations: str = "relu"):
        self.rule = rule
        self.report = report
        self.all_activations = activations == "all"
        self._clones: dict[int, object] = {}
        self._after: dict[int, keras.layers.Layer] = {}

    # -- models -------------------------------------------------------------
    def model(self, model: keras.Model, *, logits: bool) -> keras.Model:
        check_model(model)
        if isinstance(model, keras.Sequential):
            return self._sequential(model, logits=logits)
        return self._functional(model, logits=logits)

    def _sequential(self, model: keras.Sequential, *, logits: bool) -> keras.Model:
        source = model.inputs[0]
        inputs = keras.Input(
            batch_shape=source.shape, dtype=source.dtype, name=_compat.producing_operation(source).name
        )
        outputs = inputs
        last = len(model.layers) - 1
        for index, layer in enumerate(model.layers):
            clone = self._clone(layer, final=logits and index == last)
            outputs = self._call(clone, outputs)
        return keras.Model(inputs, outputs, name=model.name)

    def _functional(self, model: keras.Model, *, logits: bool) -> keras.Model:
        final_ids = {id(_compat.producing_operation(t)) for t in model.outputs} if logits else set()
        return keras.models.clone_model(
            model,
            clone_function=lambda layer: self._clone(layer, final=id(layer) in final_ids),
            call_function=self._call,
        )

    # -- layers -------------------------------------------------------------
    def _call(self, layer, *args, **kwargs):
        outputs = layer(*args, **kwargs)
        after = self._after.get(id(layer))
        if after is not None:
            _release_shared_weights(layer)
            outputs = after(outputs)
        return outputs

    def _clone(self, layer, *, final: bool):
        if id(layer) not in self._clones:
            self._clones[id(layer)] = self._replacement(layer, final)
        return self._clones[id(layer)]

    def _rule_relu(self, kind: str, source, *, name: str | None = None, **options):
        """A `RuleReLU` standing for `source`'s ReLU, named `name` or after it."""
        self.report.replaced[kind] += 1
        dtype = getattr(source, "dtype_policy", None)
        name = name or (source.name if isinstance(source, keras.layers.Layer) else None)
        return rules_lib.RuleReLU(self.rule, dtype=dtype, name=name, **options)

    def _replacement(self, layer, final: bool):
        if isinstance(layer, keras.Model):
            if isinstance(layer, keras.Sequential) or _compat.is_functional(layer):
                self.report.nested_models.append(layer.name)
                return self.model(layer, logits=final)
            self.report.unsupported.append(
                f"{layer.name} (subclassed model {type(layer).__name__}, not inspected)"
            )
            return layer
        if isinstance(layer, keras.layers.ReLU):
            return self._rule_relu(
                "ReLU layer", layer,
                max_value=layer.max_value,
                negative_slope=layer.negative_slope,
                threshold=layer.threshold,
            )
        if isinstance(layer, keras.layers.LeakyReLU):
            return self._rule_relu("LeakyReLU layer", layer, negative_slope=layer.negative_slope)
        if isinstance(layer, keras.layers.Softmax):
            return self._without_softmax(layer) if final else self._unsupported(layer, "softmax")
        if isinstance(layer, keras_nn_ops.Relu):
            return self._rule_relu("keras.ops.relu", layer)
        if isinstance(layer, keras_nn_ops.Relu6):
            return self._rule_relu("keras.ops.relu6", layer, max_value=6.0)
        if isinstance(layer, keras_nn_ops.LeakyRelu):
            return self._rule_relu("keras.ops.leaky_relu", layer, negative_slope=layer.negative_slope)
        if final and _SOFTMAX_OP is not None and isinstance(layer, _SOFTMAX_OP):
            return self._without_softmax(layer)
        if self.all_activations and type(layer) in _ELEMENTWISE_OPS:
            name = _ELEMENTWISE_OPS[type(layer)]
            options = {key: getattr(layer, key) for key in rules_lib.ELEMENTWISE_ACTIVATIONS[name]}
            return self._rule_activation(f"keras.ops.{name}", name, layer, options=options)
        if self.all_activations and isinstance(layer, keras.layers.ELU):
            return self._rule_activation("ELU layer", "elu", layer, options={"alpha": float(layer.alpha)})
        if isinstance(layer, _UNSUPPORTED_OPS):
            return self._unsupported(layer, type(layer).__name__)
        if isinstance(layer, (keras.layers.PReLU, keras.layers.ELU)):
            return self._unsupported(layer, type(layer).__name__)
        activation = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.Activation):
            return self._activation_layer(layer, activation, final)
        if activation is None or activation in _LINEAR_FUNCTIONS:
            return layer
        if activation in _RELU_FUNCTIONS:
            twin = _linear_twin(layer)
            after = self._rule_relu(
                f"fused {activation.__name__} in {type(layer).__name__}",
                layer,
                name=f"{layer.name}_kerasviz_relu",
                **_RELU_FUNCTIONS[activation],
            )
            self._after[id(twin)] = after
            self.report.activation_after[layer.name] = after.name
            return twin
        if activation in _SOFTMAX_FUNCTIONS and final:
            self.report.softmax_removed.append(layer.name)
            return _linear_twin(layer)
        name = _elementwise_name(activation)
        if self.all_activations and name:
            twin = _linear_twin(layer)
            after = self._rule_activation(
                f"fused {name} in {type(layer).__name__}", name, layer,
                layer_name=f"{layer.name}{_ACTIVATION_SUFFIX}",
            )
            self._after[id(twin)] = after
            self.report.activation_after[layer.name] = after.name
            return twin
        return self._unsupported(layer, getattr(activation, "__name__", repr(activation)))

    def _activation_layer(self, layer, activation, final: bool):
        if activation in _RELU_FUNCTIONS:
            return self._rule_relu(
                f"Activation({activation.__name__!r})", layer, **_RELU_FUNCTIONS[activation]
            )
        if activation in _SOFTMAX_FUNCTIONS and final:
            return self._without_softmax(layer)
        if activation in _LINEAR_FUNCTIONS:
            return layer
        name = _elementwise_name(activation)
        if self.all_activations and name:
            return self._rule_activation(f"Activation({name!r})", name, layer)
        return self._unsupported(layer, getattr(activation, "__name__", repr(activation)))

    def _rule_activation(self, kind: str, activation: str, source, *, layer_name=None, options=None):
        """A `RuleActivation` standing for `source`'s elementwise activation."""
        self.report.other_replaced[kind] += 1
        return rules_lib.RuleActivation(
            activation, self.rule, options=options,
            dtype=getattr(source, "dtype_policy", None), name=layer_name or source.name,
        )

    def _without_softmax(self, layer):
        self.report.softmax_removed.append(layer.name)
        return SoftmaxRemoved(name=f"{layer.name}_removed")

    def _unsupported(self, layer, what: str):
        self.report.unsupported.append(f"{layer.name} ({what})")
        return layer


_SOFTMAX_OP = getattr(keras_nn_ops, "Softmax", None)
_ACTIVATION_SUFFIX = "_kerasviz_activation"


def _elementwise_name(activation) -> str | None:
    """The `ELEMENTWISE_ACTIVATIONS` name of a Keras activation function, else `None`."""
    for name in rules_lib.ELEMENTWISE_ACTIVATIONS:
        if getattr(keras.activations, name, None) is activation:
            return name
    return None


def _linear_twin(layer):
    """Re-create `layer` with a linear activation, on the same variables."""
    config = layer.get_config()
    config["activation"] = "linear"
    try:
        twin = type(layer).from_config(config)
    except Exception as err:  # noqa: BLE001 - any failure means "cannot clone"
        raise UnsupportedModelError(
            f"kerasviz cannot re-create layer {layer.name!r} "
            f"({type(layer).__name__}) from its config to split off its fused "
            f"activation ({err}). Give it activation=None and follow it with a "
            f"keras.layers.ReLU layer. Received: layer={layer.name!r}"
        ) from err
    by_name = {variable.name: variable for variable in layer.weights}
    if len(by_name) != len(layer.weights):
        raise UnsupportedModelError(
            f"Layer {layer.name!r} has several variables of one name, so kerasviz "
            f"cannot share them with its rewritten twin. Give it activation=None "
            f"and follow it with a keras.layers.ReLU layer. Received: "
            f"variables={[v.name for v in layer.weights]}"
        )

    def add_weight(self, *args, name=None, **kwargs):
        if name not in by_name:
            raise UnsupportedModelError(
                f"While sharing the weights of layer {layer.name!r}, its twin "
                f"asked for a variable {name!r} the layer does not have. "
                f"Received: available={sorted(by_name)}"
            )
        variable = by_name[name]
        _compat.track_variable(self, variable)
        return variable

    object.__setattr__(twin, "add_weight", types.MethodType(add_weight, twin))
    return twin


def _release_shared_weights(twin) -> None:
    """Give the twin back its own `add_weight` once it is built."""
    if "add_weight" in vars(twin):
        object.__delattr__(twin, "add_weight")


# -- taps: inner outputs of a (rewritten) model ---------------------------------
_RELU_SUFFIX = "_kerasviz_relu"
_SOFTMAX_SUFFIX = "_removed"


def layer_paths(model: keras.Model) -> list[str]:
    """The paths `tap` accepts: layer names, and `"nested/inner"` inside nested models.

    Input layers and the layers kerasviz adds (the `RuleReLU` split off a
    fused ReLU, the stand-in of a removed softmax) are not listed: the layer
    they belong to stands for them.

    Args:
        model: a Functional or Sequential model (rewritten or not).

    Returns:
        Paths in the order of `model.layers`, each nested model followed by
        the paths inside it.

    Example:

    ```python
    kv.layer_paths(wrapper)  # ['mobilenetv2_1.00_32', 'mobilenetv2_1.00_32/Conv1', ...]
    ```
    """
    paths: list[str] = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if _split_off_from(layer) is not None:
            continue
        if isinstance(layer, SoftmaxRemoved) and layer.name.endswith(_SOFTMAX_SUFFIX):
            paths.append(layer.name[: -len(_SOFTMAX_SUFFIX)])
            continue
        paths.append(layer.name)
        if _graph_of(layer) is not None:
            paths += [f"{layer.name}/{inner}" for inner in layer_paths(layer)]
    return paths


def tap(
    model: keras.Model,
    layers: str | list[str] | tuple[str, ...],
    *,
    outputs: bool = True,
) -> keras.Model:
    """A model giving inner layers' outputs and the final outputs in one pass.

    The new model re-runs `model`'s graph on its own `keras.Input`s, sharing
    every layer (and so every variable and every `RuleReLU` of a rewritten
    model), so a `tf.GradientTape` around one call of it sees the rule's
    backward pass from the final output down to each inner output and from
    there down to the input. Nested models on a requested path are run
    inline, so their inner tensors are reachable.

    A path is a layer name (`"conv1"`), or names joined by `"/"` into nested
    models (`"mobilenetv2_1.00_32/block_16_project"`); a nested model's own
    name gives its output. For a layer whose fused ReLU the rewrite split off,
    the output is taken after that ReLU (as the user's layer gives it); for a
    removed final softmax, it is the logits. A layer called several times
    (shared) gives the output of its first call.

    Args:
        model: a Functional or Sequential model: usually `kv.rewrite`'s
            result, but any such model works.
        layers: one path or a list of paths (`layer_paths(model)` lists them).
        outputs: also return the model's own outputs, after the inner ones.
            Defaults to `True`.

    Returns:
        A `keras.Model` on `model`'s inputs with outputs
        `[inner_1, ..., inner_k, *model.outputs]` (or only the inner ones).

    Raises:
        UnknownLayerError: (a `ValueError`) for a path that names no layer;
            the message lists the paths there are.
        UnsupportedModelError: for a subclassed model, or a layer with
            several outputs.

    Example (Grad-CAM's activations and gradients, one forward pass):

    ```python
    gbp = kv.rewrite(model, "guided")
    tapped = kv.tap(gbp, "block5_conv3")
    with tf.GradientTape() as tape:
        activations, logits = tapped(x, training=False)
        score = tf.reduce_max(logits, axis=-1)
    grads = tape.gradient(score, activations)  # through guided ReLUs
    ```
    """
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    graph = _graph_of(model)
    if graph is None:
        raise _subclassed_error(model, "tap")
    for path in layers:
        if not isinstance(path, str) or not path:
            raise UnknownLayerError(
                f"A layer is named by a non-empty string, e.g. 'conv1' or "
                f"'nested_model/conv1'. Received: layer={path!r}"
            )
        _check_path(model, path)
    inputs = [
        keras.Input(batch_shape=x.shape, dtype=x.dtype, name=_compat.producing_operation(x).name)
        for x in graph.inputs
    ]
    walker = _Tap(layers)
    with rules_lib.released_custom_gradients():  # symbolic building traces rule ReLUs
        final = walker.run(graph, inputs, prefix="")
        inner = []
        for path in layers:
            if path not in walker.tensors:
                raise UnknownLayerError(
                    f"Layer {path!r} is not on the way from the model's inputs to "
                    f"its outputs, so it has no output to tap. Received: layer={path!r}"
                )
            tensors = keras.tree.flatten(walker.tensors[path])
            if len(tensors) != 1:
                raise UnsupportedModelError(
                    f"Layer {path!r} has {len(tensors)} outputs; kerasviz taps "
                    f"layers with one output. Tap the layers that use them. "
                    f"Received: layer={path!r}"
                )
            inner += tensors
        model_outputs = keras.tree.flatten(final) if outputs else []
        model_inputs = inputs[0] if len(inputs) == 1 else inputs
        return keras.Model(model_inputs, inner + model_outputs, name=f"{model.name}_tap")


class _Tap:
    """Runs a graph on new inputs, recording the output of every layer call."""

    def __init__(self, wanted: list[str]):
        self.wanted = wanted
        self.tensors: dict[str, object] = {}

    def run(self, graph, inputs, prefix: str):
        for x, y in zip(graph.inputs, inputs):
            self.tensors.setdefault(prefix + _compat.producing_operation(x).name, y)
        return _compat.run_through_graph(graph, inputs, lambda op, *a, **k: self._call(op, prefix, a, k))

    def _call(self, op, prefix: str, args, kwargs):
        path = prefix + op.name
        nested = _graph_of(op) if isinstance(op, keras.Model) else None
        if nested is not None and any(w.startswith(path + "/") for w in self.wanted):
            flat = _compat.standardize_inputs(nested, args[0])
            outputs = self.run(nested, flat, prefix=path + "/")
            outputs = outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs
        else:
            outputs = op(*args, **kwargs)
        self.tensors.setdefault(path, outputs)
        owner = None
        if _split_off_from(op) is not None:
            owner = prefix + _split_off_from(op)
            if not (args and self.tensors.get(owner) is args[0]):
                owner = None
        elif isinstance(op, SoftmaxRemoved) and op.name.endswith(_SOFTMAX_SUFFIX):
            owner = prefix + op.name[: -len(_SOFTMAX_SUFFIX)]
        if owner is not None:
            self.tensors[owner] = outputs
        return outputs


def _split_off_from(layer) -> str | None:
    """The layer whose fused activation `layer` is, if the rewrite split it off."""
    for kind, suffix in ((rules_lib.RuleReLU, _RELU_SUFFIX), (rules_lib.RuleActivation, _ACTIVATION_SUFFIX)):
        if isinstance(layer, kind) and layer.name.endswith(suffix):
            return layer.name[: -len(suffix)]
    return None


def _graph_of(model):
    """The Functional graph of a Functional or built Sequential model, else `None`."""
    if isinstance(model, keras.Sequential):
        return _compat.sequential_graph(model)
    return model if _compat.is_functional(model) else None


def _check_path(model, path: str) -> None:
    paths = layer_paths(model)
    inputs = {_compat.producing_operation(x).name for x in _graph_of(model).inputs}
    if path in paths or path in inputs:
        return
    last = path.rsplit("/", 1)[-1]
    near = [p for p in paths if p.rsplit("/", 1)[-1] == last]
    if near:
        hint = f"Layer {last!r} is inside a nested model: name it by its path, " + " or ".join(
            repr(p) for p in near[:3]
        ) + "."
    else:
        paths = sorted(paths, key=lambda p: p.count("/"))  # top-level layers first
        shown = ", ".join(paths[:40]) + (f" ... ({len(paths) - 40} more)" if len(paths) > 40 else "")
        hint = f"Layers: {shown}."
    raise UnknownLayerError(
        f"No layer {path!r} in model {model.name!r}. {hint} Received: layer={path!r}"
    )


def _subclassed_error(model, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"kerasviz can {what} Functional and Sequential models, not a "
        f"subclassed model ({type(model).__name__}): its call() is Python "
        f"code whose layers' outputs cannot be reached. Build the same network "
        f"with the Functional API. Received: model={getattr(model, 'name', model)!r} "
        f"of type {type(model).__name__}"
    )

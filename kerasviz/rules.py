"""Backward rules at a ReLU: saliency, DeconvNet and Guided Backpropagation.

The three rules differ only in the gradient a ReLU passes back. With forward
`a = relu(z)`, `g` the gradient arriving at `a` and `d = relu'(z)` the ReLU's
local derivative (its forward mask):

| rule        | gradient passed to `z` |
|-------------|------------------------|
| `saliency`  | `g * d` (the ordinary gradient) |
| `deconvnet` | `max(g, 0)` (backward ReLU only) |
| `guided`    | `max(g, 0) * d` (both) |

A rule is a function `fn(grad, derivative) -> grad_z`; `register` adds one.
`RuleReLU` is the Keras layer that applies a rule; `kv.rewrite` puts it in
place of every ReLU of a model.

Example:

```python
import numpy as np
import keras
import kerasviz as kv

layer = kv.rules.RuleReLU("guided")
x = keras.ops.convert_to_tensor(np.array([-1.0, 2.0]))
layer(x)  # forward is an ordinary ReLU: [0., 2.]
```

References:
    Nie, Zhang, Patel. A Theoretical Explanation for Perplexing Behaviors of
    Backpropagation-based Visualizations. ICML 2018.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator

import keras
import tensorflow as tf

from kerasviz import _compat, names
from kerasviz import relevance as relevance_lib
from kerasviz.errors import InvalidArgumentError, UnknownRuleError
from kerasviz.relevance import LRP, DeepLift, RelevanceRule  # kv.rules.LRP, kv.rules.DeepLift

RuleFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

# The names live in `kerasviz.names` (TensorFlow-free), where the command checks them before loading.
RULES: tuple[str, ...] = names.RULE_NAMES

_ALIASES: dict[str, str] = names.RULE_ALIASES


def _saliency(grad: tf.Tensor, derivative: tf.Tensor) -> tf.Tensor:
    return grad * derivative


def _deconvnet(grad: tf.Tensor, derivative: tf.Tensor) -> tf.Tensor:
    del derivative  # DeconvNet ignores the forward pass.
    return tf.nn.relu(grad)


def _guided(grad: tf.Tensor, derivative: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu(grad) * derivative


_REGISTRY: dict[str, RuleFunction] = {
    "saliency": _saliency,
    "deconvnet": _deconvnet,
    "guided": _guided,
}


def known_rules() -> tuple[str, ...]:
    """Names of every registered rule, built-in ones first."""
    return tuple(_REGISTRY)


def _known_names_text(rule: object = None) -> str:
    names = ", ".join(repr(n) for n in _REGISTRY)
    aliases = ", ".join(repr(a) for a in _ALIASES)
    text = f"Known rules: {names} (aliases {aliases})"
    if isinstance(rule, str) and rule.lower().startswith(("lrp", "deep")):  # a relevance rule was meant
        relevance = ", ".join(repr(n) for n in relevance_lib.NAMED)
        text += f"; relevance rules {relevance}, or kv.rules.LRP(...) / kv.rules.DeepLift(...)"
    return text


def canonical_name(rule: str) -> str:
    """The registered name of `rule`, resolving aliases.

    Args:
        rule: a rule name or alias, e.g. `"gbp"`.

    Returns:
        The canonical name, e.g. `"guided"`.

    Raises:
        UnknownRuleError: (a `ValueError`) if no rule has that name.

    Example:

    ```python
    kv.rules.canonical_name("gbp")  # "guided"
    ```
    """
    if isinstance(rule, RelevanceRule):
        return rule.name
    if not isinstance(rule, str):
        raise UnknownRuleError(
            f"A rule is named by a string. {_known_names_text()}. "
            f"Received: rule={rule!r}"
        )
    name = _ALIASES.get(rule.lower(), rule.lower())
    if name not in _REGISTRY and name not in relevance_lib.NAMED:
        raise UnknownRuleError(
            f"Unknown rule {rule!r}. {_known_names_text(rule)}. "
            f"Received: rule={rule!r}"
        )
    return name


def canonical_names(rules: str | Iterable[str], name: str = "rules") -> tuple[str, ...]:
    """The registered names of one rule or several, aliases resolved, duplicates dropped.

    Args:
        rules: a rule name or alias, or an iterable of them, e.g. `("gbp", "saliency")`.
        name: the argument's name, used in the message. Defaults to `"rules"`.

    Returns:
        The canonical names in the order given, each once, e.g. `("guided", "saliency")`.

    Raises:
        InvalidArgumentError: (a `ValueError`) if `rules` is empty.
        UnknownRuleError: (a `ValueError`) for a name that is not registered.

    Example:

    ```python
    kv.rules.canonical_names(("gbp", "guided", "vanilla"))  # ("guided", "saliency")
    ```
    """
    if isinstance(rules, (str, RelevanceRule)):
        rules = (rules,)
    given = rules
    try:
        rules = tuple(rules)
    except TypeError:
        raise UnknownRuleError(
            f"Give a rule name or a list of them, e.g. {RULES}. {_known_names_text()}. "
            f"Received: {name}={rules!r}"
        ) from None
    names = tuple(dict.fromkeys(canonical_name(r) for r in rules))
    if not names:
        raise InvalidArgumentError(
            f"Give at least one rule, e.g. {RULES}. Received: {name}={given!r}"
        )
    return names


def get_rule(rule: str) -> RuleFunction:
    """The backward function `fn(grad, derivative)` registered as `rule`.

    Relevance rules pass the gradient at a ReLU (their work is at the linear
    layers), so for them it is the saliency function.
    """
    return _REGISTRY.get(canonical_name(rule), _saliency)


def register(name: str, fn: RuleFunction, *, overwrite: bool = False) -> None:
    """Register a backward rule under `name`.

    Args:
        name: the new rule's name (lower case; not an alias).
        fn: `fn(grad, derivative) -> Tensor`, the gradient to pass to the
            ReLU's input, given the gradient `grad` arriving at its output and
            the ReLU's local derivative `derivative` (same shape and dtype).
        overwrite: replace an existing rule of that name. Defaults to `False`.

    Raises:
        InvalidArgumentError: (a `ValueError`) if the name is not a non-empty
            string, is taken (and `overwrite` is off) or is an alias, or `fn`
            is not callable.

    Example:

    ```python
    # "Positive saliency": the gradient, with negative parts dropped.
    kv.rules.register("positive", lambda g, d: tf.nn.relu(g * d))
    kv.visualize(model, images, rules=("positive",))
    ```
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"A rule name is a non-empty string. Received: name={name!r}")
    key = name.lower()
    if key in _ALIASES:
        raise InvalidArgumentError(
            f"{name!r} is an alias of {_ALIASES[key]!r}; choose another name. "
            f"Received: name={name!r}"
        )
    if key in _REGISTRY and not overwrite:
        raise InvalidArgumentError(
            f"A rule named {name!r} is already registered; pass overwrite=True "
            f"to replace it. Received: name={name!r}"
        )
    if not callable(fn):
        raise InvalidArgumentError(
            f"A rule is a callable fn(grad, derivative). Received: fn={fn!r}"
        )
    _REGISTRY[key] = fn


def unregister(name: str) -> None:
    """Remove a user-registered rule. Built-in rules cannot be removed.

    Args:
        name: the rule's name or alias.

    Raises:
        UnknownRuleError: (a `ValueError`) if no rule has that name.
        InvalidArgumentError: (a `ValueError`) for a built-in rule.

    Example:

    ```python
    kv.rules.unregister("positive")
    ```
    """
    key = canonical_name(name)
    if key in RULES or key not in _REGISTRY:
        raise InvalidArgumentError(
            f"Built-in rules cannot be removed; register a rule under another name "
            f"instead. Received: name={name!r}"
        )
    del _REGISTRY[key]


def relevance_rules(rules: str | RelevanceRule | Iterable) -> dict[str, RelevanceRule]:
    """`{name: rule object}` of the relevance rules among `rules` (named ones and objects).

    Example:

    ```python
    kv.rules.relevance_rules(("saliency", "lrp-epsilon"))  # {"lrp-epsilon": LRP(dense='epsilon', ...)}
    ```
    """
    if isinstance(rules, (str, RelevanceRule)):
        rules = (rules,)
    found = {}
    for rule in rules:
        if isinstance(rule, RelevanceRule):
            found.setdefault(rule.name, rule)
        elif isinstance(rule, str) and canonical_name(rule) in relevance_lib.NAMED:
            found.setdefault(canonical_name(rule), relevance_lib.named(canonical_name(rule)))
    return found


_override = threading.local()


@contextlib.contextmanager
def backward_rule(rule: str | RelevanceRule) -> Iterator[str]:
    """Make every `RuleReLU` use `rule` for gradients taken inside the block.

    The rule is read when the backward pass is built, so one recorded forward
    pass can be differentiated under several rules: this is how the
    `Visualizer` shares a forward pass across rules.

    Example:

    ```python
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        score = rewritten(x)[:, 3]
    with kv.rules.backward_rule("deconvnet"):
        deconv_map = tape.gradient(score, x)
    with kv.rules.backward_rule("guided"):
        guided_map = tape.gradient(score, x)
    ```
    """
    name = canonical_name(rule)
    previous = getattr(_override, "rule", None), getattr(_override, "relevance", None)
    _override.rule = name
    _override.relevance = rule if isinstance(rule, RelevanceRule) else relevance_lib.named(name)
    try:
        yield name
    finally:
        _override.rule, _override.relevance = previous


def active_override() -> str | None:
    """The rule set by an enclosing `backward_rule` block, if any."""
    return getattr(_override, "rule", None)


def active_relevance(default: str | RelevanceRule | None = None) -> RelevanceRule | None:
    """The relevance rule in force: the enclosing `backward_rule`'s, else `default`'s, else `None`."""
    if active_override() is not None:
        return getattr(_override, "relevance", None)
    if isinstance(default, RelevanceRule):
        return default
    return relevance_lib.named(default) if isinstance(default, str) else None


def custom_gradient_entries() -> set[str]:
    """Names of the `tf.custom_gradient` functions TensorFlow keeps registered."""
    registry = _compat.gradient_registry() or {}
    return {key for key in registry if str(key).startswith("CustomGradient-")}


@contextlib.contextmanager
def released_custom_gradients() -> Iterator[None]:
    """Drop the rule gradients traced inside the block once it ends.

    Every trace of a `tf.custom_gradient` in graph mode (each `RuleReLU` in a
    `tf.function`, or in Keras's symbolic model building) registers a
    "CustomGradient-<n>" entry in TensorFlow's global gradient registry that
    is never removed; its closure holds the traced graph and with it the
    weights the graph captured. Visualizing one network after another would
    keep every network in memory. Use this block around code that traces
    *and* differentiates (as `Visualizer` and `rewrite` do): the traced
    functions already hold their backward graphs, nothing needs the entries
    afterwards. Do not use it around a forward pass whose gradient is taken
    after the block.
    """
    before = custom_gradient_entries()
    try:
        yield
    finally:
        registry = _compat.gradient_registry()
        if registry is not None:
            for key in custom_gradient_entries() - before:
                registry.pop(key, None)


def relu_derivative(
    z: tf.Tensor,
    *,
    max_value: float | None = None,
    negative_slope: float = 0.0,
    threshold: float = 0.0,
) -> tf.Tensor:
    """Local derivative of Keras's `relu(z, negative_slope, max_value, threshold)`.

    `1[threshold < z < max_value] + negative_slope * 1[z <= threshold]`, in
    `z`'s dtype (the derivative at a kink is taken as 0, like TensorFlow's).
    """
    upper = tf.greater(z, threshold)
    if max_value is not None:
        upper = tf.logical_and(upper, tf.less(z, max_value))
    derivative = tf.cast(upper, z.dtype)
    if negative_slope:
        lower = tf.cast(tf.less_equal(z, threshold), z.dtype)
        derivative = derivative + tf.cast(negative_slope, z.dtype) * lower
    return derivative


def rule_relu(
    z: tf.Tensor,
    rule: str = "guided",
    *,
    max_value: float | None = None,
    negative_slope: float = 0.0,
    threshold: float = 0.0,
    reference_key: int | None = None,
) -> tf.Tensor:
    """A ReLU whose gradient follows `rule` (or an enclosing `backward_rule`).

    Args:
        z: the pre-activation tensor.
        rule: rule name or alias. Defaults to `"guided"`.
        max_value: saturation value (6 for ReLU6). Defaults to `None`.
        negative_slope: slope below the threshold (leaky ReLU). Defaults to 0.
        threshold: the kink. Defaults to 0.
        reference_key: the calling layer's id, under which DeepLIFT notes
            the baseline's values (`kerasviz.relevance.reference`). Defaults
            to `None` (no DeepLIFT reference).

    Returns:
        `keras.activations.relu(z, ...)`, with the rule's gradient.
    """
    default_rule = canonical_name(rule)
    options = dict(max_value=max_value, negative_slope=negative_slope, threshold=threshold)

    @tf.custom_gradient
    def _forward(x):
        out = keras.activations.relu(x, **options)
        baseline = relevance_lib.reference(reference_key, x, out) if reference_key is not None else {}

        def _backward(grad):
            derivative = tf.cast(relu_derivative(x, **options), grad.dtype)
            relevance = active_relevance(default_rule)
            if relevance is not None:  # LRP passes relevance through (the gradient); DeepLIFT rescales
                if isinstance(relevance, DeepLift) and relevance.name in baseline:
                    return relevance_lib.deeplift_relu(grad, derivative, x, out, *baseline[relevance.name])
                return grad * derivative
            fn = _REGISTRY[active_override() or default_rule]
            return fn(grad, derivative)

        return out, _backward

    return _forward(z)


@keras.saving.register_keras_serializable(package="kerasviz")
class RuleReLU(keras.layers.Layer):
    """A ReLU layer whose backward pass follows a kerasviz rule.

    Forward it is exactly `keras.layers.ReLU(max_value, negative_slope,
    threshold)`; backward it passes the gradient of its rule (the table in
    docs/rules_and_targets.md).
    It serializes, so a rewritten model saves to `.keras` and loads back.

    Args:
        rule: rule name or alias. Defaults to `"guided"`.
        max_value: saturation (6.0 for ReLU6). Defaults to `None`.
        negative_slope: slope below the threshold. Defaults to `0.0`.
        threshold: the kink. Defaults to `0.0`.

    Example:

    ```python
    x = keras.Input((8,))
    y = kv.rules.RuleReLU("deconvnet")(keras.layers.Dense(4)(x))
    ```
    """

    def __init__(
        self,
        rule: str = "guided",
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rule = canonical_name(rule)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self.supports_masking = True

    def call(self, inputs):
        return rule_relu(
            inputs,
            self.rule,
            max_value=self.max_value,
            negative_slope=self.negative_slope,
            threshold=self.threshold,
            reference_key=id(self),
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            rule=self.rule,
            max_value=self.max_value,
            negative_slope=self.negative_slope,
            threshold=self.threshold,
        )
        return config


#: Keras activations that act elementwise, by name, with the options each takes.
#: `rewrite(..., activations="all")` applies the rules at these.
ELEMENTWISE_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "celu": ("alpha",),
    "elu": ("alpha",),
    "exponential": (),
    "gelu": ("approximate",),
    "hard_shrink": ("threshold",),
    "hard_sigmoid": (),
    "hard_silu": (),
    "hard_tanh": (),
    "log_sigmoid": (),
    "mish": (),
    "selu": (),
    "sigmoid": (),
    "silu": (),
    "soft_shrink": ("threshold",),
    "softplus": (),
    "softsign": (),
    "sparse_plus": (),
    "sparse_sigmoid": (),
    "squareplus": ("b",),
    "tanh": (),
    "tanh_shrink": (),
    "threshold": ("threshold", "default_value"),
}


def rule_activation(
    z: tf.Tensor,
    activation: Callable[[tf.Tensor], tf.Tensor],
    rule: str = "guided",
) -> tf.Tensor:
    """An elementwise activation `f` whose gradient follows `rule`.

    Forward it is `f(z)`. Backward, with `g` the gradient arriving at `f(z)`
    and `d = f'(z)` its local derivative, it passes `fn(g, d)` of the rule:
    saliency `g * f'(z)` (the ordinary gradient), DeconvNet `relu(g)`,
    guided `relu(g) * f'(z)`. For `f = relu` these are the ReLU rules.

    Args:
        z: the pre-activation tensor.
        activation: an elementwise function (its derivative is taken by
            automatic differentiation, so it must be differentiable almost
            everywhere).
        rule: rule name or alias (or an enclosing `backward_rule`). Defaults
            to `"guided"`.

    Returns:
        `activation(z)`, with the rule's gradient.
    """
    default_rule = canonical_name(rule)

    @tf.custom_gradient
    def _forward(x):
        out = activation(x)

        def _backward(grad):
            fn = _REGISTRY.get(active_override() or default_rule, _saliency)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = activation(x)
            derivative = tape.gradient(y, x)  # elementwise: the sum's gradient is f'(x)
            if derivative is None:
                derivative = tf.zeros_like(x)
            if active_relevance(default_rule) is not None:  # no relevance rule covers it: the gradient
                return grad * tf.cast(derivative, grad.dtype)
            return fn(grad, tf.cast(derivative, grad.dtype))

        return out, _backward

    return _forward(z)


@keras.saving.register_keras_serializable(package="kerasviz")
class RuleActivation(keras.layers.Layer):
    """An elementwise activation whose backward pass follows a kerasviz rule.

    `kv.rewrite(model, rule, activations="all")` puts it in place of every
    elementwise non-ReLU activation (swish, GELU, tanh, ELU, sigmoid...).
    Forward it is `keras.activations.<activation>(x, **options)`; backward
    it passes `fn(g, f'(z))` of the rule (see `rule_activation`).

    Args:
        activation: a name in `ELEMENTWISE_ACTIVATIONS`, e.g. `"silu"`.
        rule: rule name or alias. Defaults to `"guided"`.
        options: keyword arguments of the activation, e.g.
            `{"approximate": True}` for GELU. Defaults to `None`.

    Example:

    ```python
    x = keras.Input((8,))
    y = kv.rules.RuleActivation("silu", "guided")(keras.layers.Dense(4)(x))
    ```
    """

    def __init__(self, activation: str = "silu", rule: str = "guided", options: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if activation not in ELEMENTWISE_ACTIVATIONS:
            raise InvalidArgumentError(
                f"RuleActivation takes an elementwise Keras activation: "
                f"{', '.join(sorted(ELEMENTWISE_ACTIVATIONS))}. "
                f"Received: activation={activation!r}"
            )
        self.activation = activation
        self.rule = canonical_name(rule)
        self.options = dict(options or {})
        self._function = getattr(keras.activations, activation)
        self.supports_masking = True

    def call(self, inputs):
        return rule_activation(inputs, lambda x: self._function(x, **self.options), self.rule)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(activation=self.activation, rule=self.rule, options=self.options)
        return config

"""Relevance rules: LRP (epsilon, z+, alpha-beta, gamma, flat, w², z-box) and DeepLIFT (Rescale).

The ReLU rules of `kerasviz.rules` change the backward pass at ReLUs. The
rules here change it at the linear layers (Dense, Conv, DepthwiseConv, with
a following BatchNormalization folded in) and give a *relevance* map: the
output relevance is the target's score and every layer hands its relevance
down to its inputs, so the map sums to (about) the score.

Formulation (the "gradient × input" form of LRP, as zennit computes it): the
backward pass carries `g` with relevance `R = a ⊙ g` at every tensor `a`. It
starts with `g = ∂S/∂logits`, so `R_out = logits ⊙ ∂S/∂logits` (the score
itself for a class or neuron score). Between the linear layers `g` follows
the ordinary gradient, which is exactly the proportional rule for pooling,
Add, Concatenate, Flatten/Reshape and the ReLU pass-through (see
docs/relevance.md). At a linear layer `z = f(a; W) + b` each rule is
a modified forward `z' = f(a'; W') (+ b')` and

    g_a = Σ_k  mask_k ⊙ vjp_f(W'_k)( z ⊙ g / stab(z') )

with the rule's input masks; the first linear layer hands down the relevance
`R_a = a ⊙ g_a` itself (or its own formula: flat, w², z-box), and the map is
the gradient that reaches the input. This module holds the rule objects and
the formulas (pure TensorFlow on tensors); `kerasviz.relevance_layers` puts
them into a rewritten model.

Example:

```python
import kerasviz as kv

rule = kv.rules.LRP(dense="epsilon", conv="zplus", first="flat")
rule.name   # 'lrp-epsilon-plus-flat' (a named composite keeps its name)
kv.rules.LRP(conv="gamma", gamma=0.5).name  # its repr: the key of the returned maps
```

References:
    - Bach et al. "On Pixel-Wise Explanations for Non-Linear Classifier
      Decisions by Layer-Wise Relevance Propagation". PLoS ONE 2015.
    - Montavon et al. "Layer-Wise Relevance Propagation: An Overview". 2019.
    - Shrikumar, Greenside, Kundaje. "Learning Important Features Through
      Propagating Activation Differences". ICML 2017 (DeepLIFT).
    - Anders et al. "Software for Dataset-wide XAI: From Local Explanations
      to Global Insights with Zennit, CoRelAy, and ViRelAy". 2021.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from kerasviz.errors import InvalidArgumentError

__all__ = [
    "DeepLift",
    "FIRST_ONLY",
    "HIDDEN_CHOICES",
    "LRP",
    "NAMED",
    "RelevanceRule",
    "baseline_passes",
    "check_method",
    "deeplift_max_pool",
    "deeplift_relu",
    "lrp_backward",
    "named",
    "recording",
    "reference",
    "replaying",
    "stabilize",
    "vjp",
]

#: Rules for any linear layer.
HIDDEN_CHOICES: tuple[str, ...] = ("epsilon", "zplus", "gamma", "alpha-beta")
#: Rules that ignore or bound the layer's input: first layer only.
FIRST_ONLY: tuple[str, ...] = ("flat", "wsquare", "zbox")
#: Stabilizer of the rules that have no epsilon of their own (zennit's 1e-6).
STABILIZER = 1e-6
#: |z − z₀| below which DeepLIFT's Rescale multiplier is the ReLU's derivative.
RESCALE_TOLERANCE = 1e-7


class RelevanceRule:
    """Base class of the relevance rules (usable in `rules=` like a rule name).

    `name` is the key of the map in the returned dict: the composite's name
    for the named rules, the `repr` otherwise.
    """

    name: str = ""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))


def _number(value: Any, name: str, example: str) -> float:
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
          and math.isfinite(float(value)))
    if not ok:
        raise InvalidArgumentError(f"`{name}` must be a finite number, {example}. Received: {name}={value!r}")
    return float(value)


def _choice(value: Any, name: str, known: tuple[str, ...]) -> str:
    if value not in known:
        hint = ""
        if value in FIRST_ONLY:
            hint = (f" {value!r} ignores or bounds the layer's input, so it is a first-layer rule "
                    f"(LRP practice): pass it as first={value!r}.")
        raise InvalidArgumentError(
            f"`{name}` must be one of {', '.join(repr(k) for k in known)}.{hint} Received: {name}={value!r}"
        )
    return value


class LRP(RelevanceRule):
    """A Layer-wise Relevance Propagation composite: one rule per kind of layer.

    Dense layers follow `dense`, convolutions (Conv1D/2D/3D, DepthwiseConv2D)
    follow `conv`, and the first linear layer on the way from the input
    (whatever its kind) follows `first`. With `z = f(a; W) + b` the layer's
    output, `R` its relevance and `stab(z) = z + ε·(1 if z ≥ 0 else −1)`:

    | rule | `R_a` |
    |---|---|
    | `"epsilon"` | `a ⊙ Wᵀ(R / stab(z))` (ε = `epsilon`; the bias absorbs its share) |
    | `"zplus"` | `a⁺ ⊙ W⁺ᵀ(R / stab(z⁺)) + a⁻ ⊙ W⁻ᵀ(R / stab(z⁺))`, `z⁺ = W⁺a⁺ + W⁻a⁻` (no bias) |
    | `"alpha-beta"` | `α·` the same with `z⁺` `− β·` the same for the negative contributions `z⁻ = W⁻a⁺ + W⁺a⁻` |
    | `"gamma"` | `a ⊙ W'ᵀ(R / stab(W'a + b'))`, `W' = W + γW⁺`, `b' = b + γb⁺` |
    | `"flat"` | `1ᵀ(R / stab(1ᵀ1))`: every input of an output shares its relevance equally (first only) |
    | `"wsquare"` | `(W²)ᵀ(R / stab(W²·1))` (first only) |
    | `"zbox"` | `a ⊙ Wᵀs − l ⊙ W⁺ᵀs − h ⊙ W⁻ᵀs`, `s = R / stab(Wa − W⁺l − W⁻h)` (first only) |

    `stab` uses `epsilon` for the epsilon rule and 1e-6 for the others (as
    zennit does). A BatchNormalization right after a linear layer is folded
    into it first. Every other layer passes relevance in proportion to its
    inputs' contributions (see docs/relevance.md).

    Args:
        dense: rule of Dense layers: `"epsilon"`, `"zplus"`, `"gamma"` or
            `"alpha-beta"`. Defaults to `"epsilon"`.
        conv: rule of convolutions (the same choices). Defaults to `"zplus"`.
        first: rule of the first linear layer: those, or `"flat"`,
            `"wsquare"`, `"zbox"`. Defaults to `"flat"`.
        epsilon: the epsilon rule's stabilizer, `>= 0`. Defaults to `1e-6`.
        gamma: the gamma rule's `γ >= 0`. Defaults to `0.25`.
        alpha: alpha-beta's `α`. Defaults to `1.0`.
        beta: alpha-beta's `β >= 0`; `α − β` must be 1 (conservation).
            Defaults to `0.0`.
        low: z-box's lowest input value, a number, or `None` for each image's
            smallest first-layer input. Defaults to `0.0`.
        high: z-box's highest input value (`>= low`), or `None` for each
            image's largest. Defaults to `255.0`.

    Raises:
        InvalidArgumentError: for an unknown choice, a negative `epsilon`,
            `gamma` or `beta`, `alpha − beta ≠ 1`, or `low > high`.

    Example:

    ```python
    rule = kv.rules.LRP(dense="epsilon", conv="alpha-beta", alpha=2.0, beta=1.0, first="zbox")
    maps = kv.visualize(model, images, rules=("saliency", rule), target=3)
    relevance = maps[rule.name]  # sums to about the logit of class 3
    ```
    """

    def __init__(
        self,
        dense: str = "epsilon",
        conv: str = "zplus",
        first: str = "flat",
        epsilon: float = 1e-6,
        gamma: float = 0.25,
        alpha: float = 1.0,
        beta: float = 0.0,
        low: float | None = 0.0,
        high: float | None = 255.0,
    ):
        self.dense = _choice(dense, "dense", HIDDEN_CHOICES)
        self.conv = _choice(conv, "conv", HIDDEN_CHOICES)
        self.first = _choice(first, "first", HIDDEN_CHOICES + FIRST_ONLY)
        self.epsilon = _number(epsilon, "epsilon", "e.g. 1e-6")
        if self.epsilon < 0:
            raise InvalidArgumentError(
                f"`epsilon` is added to |z|, so it must be >= 0, e.g. 1e-6 (0 is the plain z-rule). "
                f"Received: epsilon={epsilon!r}"
            )
        self.gamma = _number(gamma, "gamma", "e.g. 0.25")
        if self.gamma < 0:
            raise InvalidArgumentError(
                f"`gamma` weighs the positive weights up, so it must be >= 0, e.g. 0.25. Received: gamma={gamma!r}"
            )
        self.alpha = _number(alpha, "alpha", "e.g. 2.0")
        self.beta = _number(beta, "beta", "e.g. 1.0")
        if self.beta < 0 or abs(self.alpha - self.beta - 1.0) > 1e-9:
            raise InvalidArgumentError(
                "alpha-beta conserves relevance only with beta >= 0 and alpha - beta = 1 "
                f"(e.g. alpha=2.0, beta=1.0, or alpha=1.0, beta=0.0). Received: alpha={alpha!r}, beta={beta!r}"
            )
        self.low = None if low is None else _number(low, "low", "e.g. 0.0")
        self.high = None if high is None else _number(high, "high", "e.g. 255.0")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidArgumentError(
                f"z-box's bounds need low <= high (the input's smallest and largest values). "
                f"Received: low={low!r}, high={high!r}"
            )
        self.name = next((n for n, rule in _COMPOSITES.items() if rule == repr(self)), repr(self))

    def kind_for(self, layer_kind: str, first: bool) -> str:
        """The rule of a linear layer of kind `"dense"` or `"conv"`."""
        return self.first if first else getattr(self, layer_kind)

    def __repr__(self) -> str:
        return (f"LRP(dense={self.dense!r}, conv={self.conv!r}, first={self.first!r}, "
                f"epsilon={self.epsilon!r}, gamma={self.gamma!r}, alpha={self.alpha!r}, beta={self.beta!r}, "
                f"low={self.low!r}, high={self.high!r})")


class DeepLift(RelevanceRule):
    """DeepLIFT with the Rescale rule: contributions of `x − baseline` to `S(x) − S(baseline)`.

    Each ReLU passes `g · (relu(z) − relu(z₀)) / (z − z₀)` (its derivative
    where `|z − z₀| < 1e-7`), with `z₀` its input on the baseline; linear
    layers, average pooling, Add and BatchNorm pass the gradient; max pooling
    hands each window's difference to the winner of the image or of the
    baseline, whichever is larger (Captum's rule); the first linear layer
    hands down `(a − a₀) ⊙ g_a`. On a net of linear layers, ReLUs,
    pooling and Add, the map sums to `S(x) − S(baseline)` (summation to
    delta). The `Visualizer` runs the baseline's forward pass in the same
    compiled function as the image's.

    Args:
        baseline: a number (every pixel) or an array shaped like one image,
            in the space of the images given to the `Visualizer`.
            Defaults to `0.0`.

    Raises:
        InvalidArgumentError: for a baseline that is not a finite number or
            array.

    Example:

    ```python
    maps = kv.visualize(model, images, rules=(kv.rules.DeepLift(baseline=images.mean(axis=0)),))
    ```
    """

    def __init__(self, baseline: float | np.ndarray = 0.0):
        array = None
        if not isinstance(baseline, (bool, np.bool_)):
            try:
                array = np.asarray(baseline, dtype=np.float32)
            except (TypeError, ValueError):
                array = None
        if array is None or array.size == 0 or not np.isfinite(array).all():
            raise InvalidArgumentError(
                "The DeepLIFT baseline must be a finite number or an array shaped like one image "
                f"(e.g. 0.0 or images.mean(axis=0)). Received: baseline={baseline!r}"
            )
        self.baseline = array
        self.name = "deeplift" if array.ndim == 0 and float(array) == 0.0 else repr(self)

    def baseline_like(self, x: tf.Tensor) -> tf.Tensor:
        """The baseline broadcast to the batch `x`."""
        try:
            np.broadcast_shapes(self.baseline.shape, tuple(x.shape[1:]))
        except ValueError:
            raise InvalidArgumentError(
                "The DeepLIFT baseline must be a number or an array shaped like one image, "
                f"{tuple(x.shape[1:])} (or broadcastable to it). Received: baseline shape={self.baseline.shape}"
            ) from None
        return tf.broadcast_to(tf.cast(self.baseline, x.dtype), tf.shape(x))

    def __repr__(self) -> str:
        if self.baseline.ndim == 0:
            return f"DeepLift(baseline={float(self.baseline)!r})"
        digest = hashlib.sha1(np.ascontiguousarray(self.baseline).tobytes()).hexdigest()[:12]
        return f"DeepLift(baseline=array(shape={self.baseline.shape}, sha1={digest}))"


#: The named composites, as zennit ships them (see docs/relevance.md).
NAMED: dict[str, Callable[[], RelevanceRule]] = {
    "lrp-epsilon": lambda: LRP(dense="epsilon", conv="epsilon", first="epsilon"),
    "lrp-zplus": lambda: LRP(dense="zplus", conv="zplus", first="zplus"),
    "lrp-alpha2-beta1": lambda: LRP(dense="alpha-beta", conv="alpha-beta", first="alpha-beta", alpha=2.0, beta=1.0),
    "lrp-epsilon-plus": lambda: LRP(dense="epsilon", conv="zplus", first="zplus"),
    "lrp-epsilon-plus-flat": lambda: LRP(dense="epsilon", conv="zplus", first="flat"),
    "lrp-epsilon-gamma-box": lambda: LRP(dense="epsilon", conv="gamma", first="zbox", low=None, high=None),
    "deeplift": lambda: DeepLift(0.0),
}
_COMPOSITES: dict[str, str] = {}  # name -> repr, filled below


def named(name: str) -> RelevanceRule | None:
    """The rule object of a named relevance rule, or `None` for any other name."""
    factory = NAMED.get(name)
    return factory() if factory is not None else None


_COMPOSITES.update({name: repr(factory()) for name, factory in NAMED.items() if name != "deeplift"})


# -- formulas ------------------------------------------------------------------------

Linear = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]  # f(a, W) without bias


def stabilize(z: tf.Tensor, epsilon: float) -> tf.Tensor:
    """`z + ε·sign(z)` with sign(0) = +1 (zennit's convention), so it is never 0 for ε > 0."""
    return z + tf.where(z >= 0, tf.constant(epsilon, z.dtype), tf.constant(-epsilon, z.dtype))


def vjp(f: Linear, a: tf.Tensor, w: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
    """`(∂f(a, w)/∂a)ᵀ s`: the transposed linear map applied to `s`."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        z = f(a, w)
    return tape.gradient(z, a, output_gradients=s)


def _divide(numerator: tf.Tensor, z: tf.Tensor, epsilon: float) -> tf.Tensor:
    return numerator / stabilize(z, epsilon)


def lrp_backward(
    kind: str, rule: LRP, f: Linear, a: tf.Tensor, z: tf.Tensor, w: tf.Tensor, b: tf.Tensor | None,
    g: tf.Tensor, first: bool, *, nonnegative: bool = False,
) -> tf.Tensor:
    """What a linear layer hands down under LRP rule `kind`.

    Args:
        kind: one of `HIDDEN_CHOICES + FIRST_ONLY`.
        rule: the `LRP` object (its parameters).
        f: the layer's linear map without bias, `f(a, W)`.
        a: the layer's input.
        z: the layer's output (bias and folded BatchNorm included).
        w: the (folded) kernel.
        b: the (folded) bias, or `None`.
        g: the backward signal at `z` (relevance `R_z = z ⊙ g`).
        first: whether this is the first linear layer.
        nonnegative: whether `a >= 0` is known, so that z+ and alpha-beta
            skip the terms of negative inputs (they are zero). Defaults to
            `False`.

    Returns:
        The relevance `R_a` when `first`, else `g_a` with `R_a = a ⊙ g_a`.
    """
    r = z * g  # the layer's output relevance
    eps = STABILIZER
    pos, neg = tf.nn.relu(w), -tf.nn.relu(-w)
    if kind == "epsilon":
        ga = vjp(f, a, w, _divide(r, z, rule.epsilon))
    elif kind == "gamma":
        wg = w + rule.gamma * pos
        zg = f(a, wg)
        if b is not None:
            zg = zg + b + rule.gamma * tf.nn.relu(b)
        ga = vjp(f, a, wg, _divide(r, zg, eps))
    elif kind in ("zplus", "alpha-beta") and nonnegative:  # a = a⁺: the a⁻ terms vanish
        ga = vjp(f, a, pos, _divide(r, f(a, pos), eps))
        if kind == "alpha-beta":
            ga = rule.alpha * ga - rule.beta * vjp(f, a, neg, _divide(r, f(a, neg), eps))
    elif kind in ("zplus", "alpha-beta"):
        a_pos, a_neg = tf.nn.relu(a), -tf.nn.relu(-a)
        on_pos, on_neg = tf.cast(a > 0, a.dtype), tf.cast(a < 0, a.dtype)
        z_pos = f(a_pos, pos) + f(a_neg, neg)
        s = _divide(r, z_pos, eps)
        ga = on_pos * vjp(f, a, pos, s) + on_neg * vjp(f, a, neg, s)
        if kind == "alpha-beta":
            z_neg = f(a_pos, neg) + f(a_neg, pos)
            s = _divide(r, z_neg, eps)
            ga_neg = on_pos * vjp(f, a, neg, s) + on_neg * vjp(f, a, pos, s)
            ga = rule.alpha * ga - rule.beta * ga_neg
    elif kind == "flat":
        ones_w, ones_a = tf.ones_like(w), tf.ones_like(a)
        return vjp(f, ones_a, ones_w, _divide(r, f(ones_a, ones_w), eps))
    elif kind == "wsquare":
        ones_a = tf.ones_like(a)
        return vjp(f, ones_a, w * w, _divide(r, f(ones_a, w * w), eps))
    elif kind == "zbox":
        axes = list(range(1, a.shape.rank))
        low = tf.reduce_min(a, axis=axes, keepdims=True) if rule.low is None else rule.low
        high = tf.reduce_max(a, axis=axes, keepdims=True) if rule.high is None else rule.high
        low, high = tf.ones_like(a) * low, tf.ones_like(a) * high
        zb = f(a, w) - f(low, pos) - f(high, neg)
        s = _divide(r, zb, eps)
        return a * vjp(f, a, w, s) - low * vjp(f, low, pos, s) - high * vjp(f, high, neg, s)
    else:  # pragma: no cover - LRP checks its choices
        raise InvalidArgumentError(f"Unknown LRP rule. Received: kind={kind!r}")
    return a * ga if first else ga


def deeplift_relu(
    grad: tf.Tensor, derivative: tf.Tensor, z: tf.Tensor, out: tf.Tensor, z0: tf.Tensor, out0: tf.Tensor
) -> tf.Tensor:
    """DeepLIFT's Rescale at an activation: `grad · Δout / Δz`, its derivative where `Δz ≈ 0`.

    Args:
        grad: the backward signal at the activation's output.
        derivative: the activation's local derivative at `z`.
        z: its input on the images.
        out: its output on the images.
        z0: its input on the baseline.
        out0: its output on the baseline.

    Returns:
        The signal at the activation's input, in `grad`'s dtype. The
        differences and the quotient are float32 arithmetic whatever the
        inputs' type (in bfloat16, `Δout / Δz` would round twice).
    """
    dtype = grad.dtype
    grad, derivative, z, out, z0, out0 = (tf.cast(t, tf.float32) for t in (grad, derivative, z, out, z0, out0))
    dz = z - z0
    near = tf.abs(dz) < RESCALE_TOLERANCE
    quotient = (out - out0) / tf.where(near, tf.ones_like(dz), dz)
    return tf.cast(grad * tf.where(near, derivative, quotient), dtype)


def deeplift_max_pool(
    pool: Callable[[tf.Tensor], tf.Tensor], grad: tf.Tensor, x: tf.Tensor, y: tf.Tensor, x0: tf.Tensor,
    y0: tf.Tensor,
) -> tf.Tensor:
    """DeepLIFT's Rescale at a max pooling (Captum's rule): each window's `Δy` goes to one winner.

    With `t = max(y, y₀)`, the image's winner gets `g·(t − y₀)` and the
    baseline's winner `g·(y − t)`: one of them is 0, and they add up to
    `g·Δy`. Dividing by `Δx` at each input gives its multiplier (the
    gradient where `|Δx| < 1e-7`), so `Σ_window Δx ⊙ g_x = Δy ⊙ g`:
    summation to delta holds through the pooling. Float32 arithmetic.

    Args:
        pool: the pooling as a function `y = pool(x)`.
        grad: the multipliers at the pooling's output.
        x: its input on the images.
        y: its output on the images.
        x0: its input on the baseline.
        y0: its output on the baseline.

    Returns:
        The multipliers at the pooling's input, in `grad`'s dtype.

    Example:

    ```python
    pool = keras.layers.MaxPooling2D().call
    deeplift_max_pool(pool, tf.ones((1, 1, 1, 1)), x, pool(x), x0, pool(x0))  # x, x0: (1, 2, 2, 1)
    ```
    """
    dtype = grad.dtype
    grad, x, y, x0, y0 = (tf.cast(t, tf.float32) for t in (grad, x, y, x0, y0))
    top = tf.maximum(y, y0)
    shares = _pool_vjp(pool, x, grad * (top - y0)) + _pool_vjp(pool, x0, grad * (y - top))
    dx = x - x0
    near = tf.abs(dx) < RESCALE_TOLERANCE
    quotient = shares / tf.where(near, tf.ones_like(dx), dx)
    return tf.cast(tf.where(near, _pool_vjp(pool, x, grad), quotient), dtype)


def _pool_vjp(pool: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
    """`s` routed back to the winners of `pool` on `x` (its gradient)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = pool(x)
    return tape.gradient(y, x, output_gradients=s)


# -- how the Visualizer uses them ------------------------------------------------------

#: Methods that multiply or read gradients in a way a relevance map has no use for, and why.
_REFUSED_METHODS = {
    "gradxinput": "a relevance map is already the contribution of each input (it is not a gradient "
                  "to multiply by the input)",
    "ig": "Integrated Gradients multiplies path gradients by x - baseline; a relevance map is no "
          "gradient (DeepLIFT is the relevance rule with a baseline)",
    "gradcam": "Grad-CAM weighs activations by the gradient reaching them, and under a relevance rule "
               "that signal is LRP's internal quantity, neither a gradient nor a relevance",
    "gradcampp": "Grad-CAM++ weighs activations by the gradient reaching them, and under a relevance rule "
                 "that signal is LRP's internal quantity, neither a gradient nor a relevance",
}


def check_method(method: Any, relevance: dict[str, RelevanceRule]) -> None:
    """Refuse a method that makes no sense over a relevance map (SmoothGrad and the plain map do).

    Raises:
        InvalidArgumentError: naming the method, the rules and why.
    """
    why = _REFUSED_METHODS.get(getattr(method, "name", ""))
    if relevance and why:
        raise InvalidArgumentError(
            f"{type(method).__name__} does not combine with the relevance rules {', '.join(relevance)}: {why}. "
            f"Use the plain map (method=None) or SmoothGrad, or visualize these rules in a separate call. "
            f"Received: method={method!r}"
        )


def baseline_passes(relevance: dict[str, RelevanceRule], forward: Callable[[Any], Any], xs: list[tf.Tensor]) -> dict:
    """Run `forward` on each DeepLIFT rule's baseline (one per input of `xs`), recording what its layers need."""
    recorded = {}
    for name, rule in relevance.items():
        if isinstance(rule, DeepLift):
            with recording(name) as values:
                forward([rule.baseline_like(x) for x in xs])
            recorded[name] = values
    return recorded


# -- the baseline's forward pass (DeepLIFT) -------------------------------------------

_state = threading.local()


@contextlib.contextmanager
def recording(name: str) -> Iterator[dict]:
    """Record, for DeepLIFT rule `name`, the tensors layers note during a forward pass (the baseline's)."""
    recorded: dict = {}
    previous = getattr(_state, "recording", None)
    _state.recording = (name, recorded)
    try:
        yield recorded
    finally:
        _state.recording = previous


@contextlib.contextmanager
def replaying(recorded: dict[str, dict]) -> Iterator[None]:
    """Let layers read the baseline tensors `{rule name: recorded}` during the images' forward pass."""
    previous = getattr(_state, "replaying", None)
    _state.replaying = ({name: {key: list(values) for key, values in r.items()} for name, r in recorded.items()})
    try:
        yield
    finally:
        _state.replaying = previous


def reference(key: int, *tensors: tf.Tensor) -> dict[str, tuple]:
    """Note `tensors` (a layer's forward values) under `key`; return the baseline's, per DeepLIFT rule.

    While `recording`, the tensors are kept and `{}` is returned; while
    `replaying`, the next recorded tuple of each rule is returned (layers
    called several times get their calls' values in order); otherwise `{}`.
    """
    rec = getattr(_state, "recording", None)
    if rec is not None:
        rec[1].setdefault(key, []).append(tensors)
        return {}
    replay = getattr(_state, "replaying", None)
    if not replay:
        return {}
    found = {}
    for name, recorded in replay.items():
        values = recorded.get(key)
        if values:
            found[name] = values.pop(0)
    return found

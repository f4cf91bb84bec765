"""How gradients become maps: Gradient×Input, SmoothGrad, Integrated Gradients, Grad-CAM.

A method is a way of *using* the `Visualizer`'s engine, not a new engine:
every method runs on the rewritten model, under every backward rule, and
shares each forward pass across the rules. Pass one as `method=`:

| method | map of image `x` for a score `S` | shape |
|---|---|---|
| `Gradient()` (`method=None`) | `∇S(x)` under the rule | like the images |
| `GradientXInput()` | `x ⊙ ∇S(x)` | like the images |
| `SmoothGrad(samples, noise, aggregate)` | mean of `∇S(x + ε)` (or of its square, or its variance), `ε ~ N(0, σ²)` | like the images |
| `IntegratedGradients(steps, baseline)` | `(x − b) ⊙ mean_k ∇S(b + α_k (x − b))` | like the images |
| `GradCAM(layer, plus_plus)` | `ReLU(Σ_c w_c A_c)` upsampled to the input | `(N, H, W)` |
| `GuidedGradCAM(layer)` | each rule's `∇S(x)` × the saliency Grad-CAM | like the images |

"Under the rule" means the gradient is taken with the rule's backward pass
(`"saliency"` gives the ordinary gradient, so `SmoothGrad` under saliency is
Smilkov et al.'s SmoothGrad and `GuidedGradCAM` under `"guided"` is Selvaraju
et al.'s Guided Grad-CAM). With `K` classes per sample every shape gains a
`K` axis after `N`.

Shared work: the noisy copies of `SmoothGrad` and the path points of
`IntegratedGradients` are fed to the model as ordinary forward batches
(`batch_size` counts them), and each image's copies are combined afterwards;
the Grad-CAM activations and the rule maps of `GuidedGradCAM` come from one
forward pass.

Classes are chosen on the original image: for `target="max"`, `"random"` and
`"loss"` without labels, the class is the one the model predicts for `x`,
and that class is differentiated on every noisy copy and path point (a noisy
copy may be predicted differently; its gradient is still taken for `x`'s
class). Callable and `Neuron` targets are evaluated on each copy.

Every method has a stable `repr`, e.g. `SmoothGrad(samples=16, noise=0.15,
aggregate='mean', seed=0)`, usable as a cache key; equal reprs compare equal.

Example:

```python
import kerasviz as kv

viz = kv.Visualizer(model, rules=("saliency", "guided"))
smooth = viz(images, target=3, method=kv.methods.SmoothGrad(samples=16, noise=0.15))
cams = viz(images, target=3, method=kv.methods.GradCAM())       # {rule: (N, H, W)}
```

References:
    - Shrikumar et al. "Not Just a Black Box: Learning Important Features
      Through Propagating Activation Differences". 2016 (Gradient×Input).
    - Smilkov et al. "SmoothGrad: removing noise by adding noise". 2017.
    - Adebayo et al. "Local Explanation Methods for Deep Neural Networks
      Lack Sensitivity to Parameter Values". 2018 (VarGrad).
    - Sundararajan, Taly, Yan. "Axiomatic Attribution for Deep Networks".
      ICML 2017 (Integrated Gradients).
    - Selvaraju et al. "Grad-CAM: Visual Explanations from Deep Networks via
      Gradient-based Localization". ICCV 2017 (Grad-CAM, Guided Grad-CAM).
    - Chattopadhay et al. "Grad-CAM++: Generalized Gradient-Based Visual
      Explanations for Deep Convolutional Networks". WACV 2018.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import tensorflow as tf

import keras

from kerasviz import _validation
from kerasviz.errors import InvalidArgumentError, InvalidTargetError, UnsupportedModelError
from kerasviz.rewrite import layer_paths

__all__ = [
    "AGGREGATES",
    "NAMES",
    "GradCAM",
    "Gradient",
    "GradientXInput",
    "GuidedGradCAM",
    "IntegratedGradients",
    "KernelSHAP",
    "LayerCAM",
    "Method",
    "MethodLike",
    "Occlusion",
    "RISE",
    "ScoreCAM",
    "SmoothGrad",
    "cam_layer",
    "token_grid",
    "resolve",
]

#: `SmoothGrad` aggregations: SmoothGrad, SquareGrad, VarGrad.
AGGREGATES: tuple[str, ...] = ("mean", "square", "var")

# Per-rule backward: `differentiate(rule, sources) -> [d scores / d source]`.
Differentiate = Callable[[str, Sequence[tf.Tensor]], list]


class Method:
    """Base class: how the engine's gradients become one map per image.

    The `Visualizer` calls the private hooks below; a method never runs the
    model itself. The hooks are internal and may change.
    """

    #: the name `resolve` and the `kerasviz explain --method` option know it by.
    name: str = ""
    #: forward images per image (noisy copies, path points).
    copies: int = 1
    #: the inner layer (name or path) whose activations the method reads.
    layer: str | None = None
    #: forward passes only (`kerasviz.perturbation`): the `Visualizer` hands the call to `_explain`.
    forward_only: bool = False

    @property
    def needs_layer(self) -> bool:
        """Whether the method reads an inner layer's activations (Grad-CAM)."""
        return False

    def cache_key(self) -> tuple:
        """Methods with equal keys share one compiled function."""
        return (type(self).__name__,)

    # -- hooks used by the Visualizer ------------------------------------------------
    def _inputs(self, images: np.ndarray, sample: np.ndarray, copy: np.ndarray) -> np.ndarray:
        """The forward images for (image index, copy index) pairs."""
        del copy
        return images[sample]

    def _graph(self, x, activations, differentiate: Differentiate, rules, vectorized: bool, layer) -> dict:
        """`{rule: map tensor}` of one forward batch (inside the compiled function).

        `activations` are `layer`'s outputs (`None` unless `needs_layer`);
        `differentiate(rule, sources)` runs one backward pass under `rule`.
        """
        return {rule: differentiate(rule, [x])[0] for rule in rules}

    def _backward_passes(self, rules: Sequence[str], vectorized: bool) -> int:
        """How many times `_graph` differentiates (a persistent tape when > 1)."""
        return len(rules)

    def _reducer(self, images: np.ndarray, rules: Sequence[str]) -> _Reducer:
        """How the per-forward-image maps become per-image maps."""
        return _Concatenate(rules)

    def _for_input(self, position: int, name: str) -> Method:
        """The method as it applies to one input of a model with several (its own noise, baseline)."""
        del position, name
        return self

    # -- identity ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Gradient(Method):
    """The rule's gradient map itself, `∇S(x)` (what `method=None` gives).

    Example:

    ```python
    viz(images, target=3, method=kv.methods.Gradient())  # == viz(images, target=3)
    ```
    """

    name = "gradient"


class GradientXInput(Method):
    """The gradient times the input, `x ⊙ ∇S(x)`, per rule.

    The product is taken with the images as passed to the `Visualizer` (before
    its `preprocess`). For a ReLU network without biases under the saliency
    rule its sum over pixels is the score (Euler's theorem for
    positively homogeneous functions).

    Example:

    ```python
    maps = viz(images, target=3, method=kv.methods.GradientXInput())
    ```

    References:
        Shrikumar et al. 2016, arXiv:1605.01713; Ancona et al. "Towards
        better understanding of gradient-based attribution methods", ICLR 2018.
    """

    name = "gradxinput"

    def _graph(self, x, activations, differentiate, rules, vectorized, layer):
        scale = x[:, None] if vectorized else x
        return {rule: differentiate(rule, [x])[0] * scale for rule in rules}


class SmoothGrad(Method):
    """The average of the rule's maps over noisy copies of each image.

    Copy `c` of image `i` (its index in the call) is `x_i + σ_i ε_c` with
    `σ_i = noise × (max(x_i) − min(x_i))` (Smilkov et al.'s noise level, the
    range taken over all pixels and channels of that image) and
    `ε = np.random.default_rng([seed, i]).standard_normal((samples,
    *x_i.shape), dtype=np.float32)`, so the same call gives the same maps,
    whatever the batch size. A model with several inputs gets noise on each
    explained input, scaled by that input's own range, the `j`-th input's
    (`j ≥ 1`) drawn from `default_rng([seed, i, j])`; token ids get it on
    their embedding. The copies' maps `g_c` are combined into
    `mean_c g_c` (`"mean"`, SmoothGrad), `mean_c g_c²` (`"square"`,
    SquareGrad) or `mean_c g_c² − (mean_c g_c)²` (`"var"`, VarGrad).

    The copies are forward images: `samples` copies of `B` images cost
    `B × samples` forward images, batched by the `Visualizer`'s `batch_size`.
    Classes of `"max"`, `"random"` and `"loss"` targets are those of the
    original images (see the module docstring).

    Args:
        samples: noisy copies per image. Defaults to `16`.
        noise: the noise's standard deviation as a fraction of each image's
            value range; `0` gives the plain maps (for `"mean"`). Defaults to
            `0.15`.
        aggregate: `"mean"`, `"square"` or `"var"`. Defaults to `"mean"`.
        seed: seed of the noise (a non-negative int). Defaults to `0`.

    Raises:
        InvalidArgumentError: for a bad argument (at construction).

    Example:

    ```python
    vargrad = kv.methods.SmoothGrad(samples=32, noise=0.2, aggregate="var", seed=1)
    maps = viz(images, target="max", method=vargrad)
    ```

    References:
        Smilkov et al. "SmoothGrad: removing noise by adding noise", 2017,
        arXiv:1706.03825; Adebayo et al. 2018, arXiv:1810.03307 (VarGrad);
        Hooker et al. 2019 (SquareGrad).
    """

    name = "smoothgrad"

    def __init__(self, samples: int = 16, noise: float = 0.15, aggregate: str = "mean", seed: int = 0):
        self.samples = _validation.positive_int(samples, "samples")
        self.noise = _non_negative_number(noise, "noise", "e.g. 0.15 (15 % of each image's value range)")
        self.aggregate = _validation.one_of(aggregate, "aggregate", AGGREGATES, what="aggregation")
        self.seed = _validation.seed(seed, non_negative=True)
        self.copies = self.samples
        self.name = {"mean": "smoothgrad", "square": "squaregrad", "var": "vargrad"}[self.aggregate]
        self._position = 0

    def _for_input(self, position, name):
        view = copy.copy(self)
        view._position = int(position)
        return view

    def noise_of(self, image: np.ndarray, index: int) -> np.ndarray:
        """The `samples` noise arrays added to `image`, the `index`-th image of a call.

        Args:
            image: one image, as passed to the `Visualizer` (float32).
            index: the image's index in the batch of the call.

        Returns:
            `(samples, *image.shape)` float32 noise, `σ ε` as documented above.
        """
        sigma = np.float32(self.noise * (float(image.max()) - float(image.min())))
        # the model's first input draws from [seed, index], its j-th from [seed, index, j]
        rng = np.random.default_rng([self.seed, int(index), *([self._position] if self._position else [])])
        return sigma * rng.standard_normal((self.samples, *image.shape), dtype=np.float32)

    def _inputs(self, images, sample, copy):
        out = np.empty((len(sample), *images.shape[1:]), np.float32)
        for i in np.unique(sample):
            rows = sample == i
            out[rows] = images[i] + self.noise_of(images[i], i)[copy[rows]]
        return out

    def cache_key(self):
        return ("Gradient",)  # the compiled function is the gradient's; copies are combined after

    def _reducer(self, images, rules):
        return _Moments(rules, len(images), self.samples, self.aggregate)

    def __repr__(self):
        return (f"SmoothGrad(samples={self.samples}, noise={self.noise!r}, "
                f"aggregate={self.aggregate!r}, seed={self.seed})")


class IntegratedGradients(Method):
    """`(x − b) ⊙` the mean of the rule's maps along the straight path from `b` to `x`.

    The path points are `b + α_k (x − b)` with `α_k = (k + ½) / steps`,
    `k = 0 … steps − 1` (the midpoint Riemann rule). Under the saliency rule
    the map's sum approaches `S(x) − S(b)` as `steps` grows (completeness,
    Sundararajan et al.'s axiom); under other rules it is "Integrated
    Gradients of that rule", defined the same way. Path points are forward
    images: `steps × B` of them, batched by `batch_size`. The class of a
    `"max"`, `"random"` or `"loss"` target is the one predicted for `x`.
    In a reduced precision (`Visualizer(..., precision="bfloat16")`) each
    path point's gradient is rounded to that type, so completeness holds up
    to that rounding as well as the Riemann sum's error;
    `kv.precision_report(..., method=IntegratedGradients(...))` prints the
    completeness error `|Σ map − (S(x) − S(b))| / |S(x) − S(b)|` in both
    precisions on your images.

    Args:
        steps: path points per image. Defaults to `64`.
        baseline: a number (every pixel) or an array shaped like one image,
            in the space of the images passed to the `Visualizer`. For a
            model with several inputs, a dict of them keyed by input name
            (inputs left out get `0.0`). Token ids are explained at their
            embedding, so their baseline is an embedding vector, `(E,)` or
            `(T, E)`: `0.0` (the zero vector), or a pad id's,
            `embedding_layer.embeddings[pad_id]`. Defaults to `0.0`.

    Raises:
        InvalidArgumentError: for a bad argument (at construction; a baseline
            of the wrong shape at the call).

    Example:

    ```python
    ig = kv.methods.IntegratedGradients(steps=128, baseline=images.mean(axis=0))
    maps = viz(images, target=3, method=ig)
    ```

    References:
        Sundararajan, Taly, Yan. "Axiomatic Attribution for Deep Networks",
        ICML 2017, arXiv:1703.01365.
    """

    name = "ig"

    def __init__(self, steps: int = 64, baseline: float | np.ndarray | dict = 0.0):
        self.steps = _validation.positive_int(steps, "steps")
        if isinstance(baseline, dict):  # one per input of a model with several, by input name
            self.baselines = {str(k): _baseline(v) for k, v in baseline.items()}
            self.baseline = np.float32(0.0)
        else:
            self.baselines = None
            self.baseline = _baseline(baseline)
        self.copies = self.steps

    def _for_input(self, position, name):
        if self.baselines is None:
            return self
        view = copy.copy(self)
        view.baseline = self.baselines.get(name, np.zeros((), np.float32))
        return view

    @property
    def alphas(self) -> np.ndarray:
        """The `steps` path positions `α_k = (k + ½) / steps`."""
        return ((np.arange(self.steps) + 0.5) / self.steps).astype(np.float32)

    def _baseline_for(self, images: np.ndarray) -> np.ndarray:
        try:
            fits = np.broadcast_shapes(self.baseline.shape, images.shape[1:]) == images.shape[1:]
        except ValueError:
            fits = False
        if not fits:
            raise InvalidArgumentError(
                "The baseline must be a number or an array shaped like one image, "
                f"{images.shape[1:]} (or broadcastable to it, e.g. one value per channel). "
                f"Received: baseline shape={self.baseline.shape}"
            )
        return self.baseline

    def _inputs(self, images, sample, copy):
        baseline = self._baseline_for(images)
        alpha = self.alphas[copy].reshape((-1,) + (1,) * (images.ndim - 1))
        return (baseline + alpha * (images[sample] - baseline)).astype(np.float32)

    def cache_key(self):
        return ("Gradient",)  # the compiled function is the gradient's; path points are combined after

    def _reducer(self, images, rules):
        return _Moments(rules, len(images), self.steps, "mean",
                        scale=(images - self._baseline_for(images)).astype(np.float32))

    def __repr__(self):
        if self.baselines is not None:
            inner = ", ".join(f"{k!r}: {_baseline_text(v)}" for k, v in self.baselines.items())
            return f"IntegratedGradients(steps={self.steps}, baseline={{{inner}}})"
        return f"IntegratedGradients(steps={self.steps}, baseline={_baseline_text(self.baseline)})"


def _baseline_text(baseline: np.ndarray) -> str:
    if baseline.ndim == 0:
        return repr(float(baseline))
    digest = hashlib.sha1(np.ascontiguousarray(baseline).tobytes()).hexdigest()[:12]
    return f"array(shape={baseline.shape}, sha1={digest})"


class GradCAM(Method):
    """Grad-CAM (or Grad-CAM++) of an inner layer, under each rule.

    With `A` the layer's activations `(h, w, channels)` for the image and
    `G = ∂S/∂A` the gradient reaching it through the rule's backward pass
    above the layer (the saliency rule gives the ordinary gradient, i.e.
    standard Grad-CAM):

    - Grad-CAM: `w_c = mean_ij G_ijc`;
    - Grad-CAM++ (`plus_plus=True`): `w_c = Σ_ij α_ijc ReLU(G_ijc)` with
      `α_ijc = G_ijc² / (2 G_ijc² + G_ijc³ Σ_ab A_abc)` (0 where the
      denominator is 0), Chattopadhay et al.'s closed form for the score
      `exp(S)` with the per-image factor `exp(S)` left out (it scales the
      whole map and would overflow);

    then `ReLU(Σ_c w_c A_c)`, upsampled to the input's `H × W` by bilinear
    interpolation with half-pixel centres (`tf.image.resize`). Maps are
    `(N, H, W)` (`(N, K, H, W)` for K classes per sample), unnormalized.

    Args:
        layer: the layer whose activations are used: a layer name, or a path
            into nested models (`"mobilenetv2/block_16_project"`) as
            `kv.targets.Neuron` names them. For a layer with a fused ReLU the
            activations are taken after the ReLU. Defaults to `None`: the
            last convolutional layer of the model (nested models searched
            too), as xplique and tf-keras-vis choose.
        plus_plus: use Grad-CAM++ weights. Defaults to `False`.
        grid: `(h, w)`, how a token layer's tokens lie on the image. A layer
            with an output `(N, L, D)` (a transformer's encoder block) is
            read as a grid of patch tokens: all `L` tokens when `L` is a
            square, else the last `h × w = L − 1` after a class token, else
            the last `h × w` tokens for the `grid` given here. Defaults to
            `None`.

    Raises:
        InvalidArgumentError: for a bad argument (at construction), or a
            layer without a spatial output, or a token layer whose tokens do
            not form a grid and no `grid` (at the call).

    Example:

    ```python
    cams = kv.visualize(vgg, images, rules=("saliency",), method=kv.methods.GradCAM("block5_conv3"))
    cams["saliency"].shape  # (N, 224, 224)
    ```

    References:
        Selvaraju et al. ICCV 2017, arXiv:1610.02391; Chattopadhay et al.
        WACV 2018, arXiv:1710.11063.
    """

    name = "gradcam"

    def __init__(self, layer: str | None = None, plus_plus: bool = False, grid: tuple[int, int] | None = None):
        self.layer = _layer_name(layer)
        if not isinstance(plus_plus, (bool, np.bool_)):
            raise InvalidArgumentError(f"`plus_plus` must be True or False. Received: plus_plus={plus_plus!r}")
        self.plus_plus = bool(plus_plus)
        if self.plus_plus:
            self.name = "gradcampp"
        self.grid = None if grid is None else _validation.int_pair(grid)
        if grid is not None and (self.grid is None or min(self.grid) < 1):
            raise InvalidArgumentError(
                f"`grid` is (h, w), the patch tokens' rows and columns, two positive ints. Received: grid={grid!r}"
            )

    @property
    def needs_layer(self) -> bool:
        return True

    def cache_key(self):
        return (type(self).__name__, self.layer, self.plus_plus, self.grid)

    def _graph(self, x, activations, differentiate, rules, vectorized, layer):
        tokens = activations.shape.rank == 3
        grid = token_grid(activations.shape[1], self.grid, layer) if tokens else None
        if not tokens:
            _check_spatial(activations, x, layer)
        size = x.shape[1:3] if x.shape.rank == 4 else grid
        maps = {}
        for rule in rules:
            gradient = _connected(differentiate(rule, [activations])[0], layer)
            a = _as_grid(activations, grid, False) if tokens else activations
            g = _as_grid(gradient, grid, vectorized) if tokens else gradient
            maps[rule] = _cam(a, g, self.plus_plus, size, vectorized)
        return maps

    def __repr__(self):
        grid = "" if self.grid is None else f", grid={self.grid}"
        return f"GradCAM(layer={self.layer!r}, plus_plus={self.plus_plus}{grid})"


def token_grid(length: int | None, grid: tuple[int, int] | None, layer: str | None) -> tuple[int, int]:
    """How `length` tokens of a token layer lie on a grid: `grid`, or all of them, or all after a class token.

    Args:
        length: the number of tokens `L` of the layer's output `(N, L, D)`.
        grid: `(h, w)` given by the user, or `None`.
        layer: the layer's name, for the message.

    Returns:
        `(h, w)`; the map is read from the last `h × w` tokens.

    Raises:
        InvalidArgumentError: when `L` is unknown, `grid` asks for more than
            `L` tokens, or no grid is given and neither `L` nor `L − 1` is a square.

    Example:

    ```python
    kv.methods.token_grid(50, None, "encoder_3")   # (7, 7): a class token, then 7 x 7 patches
    ```
    """
    if length is None:
        raise InvalidArgumentError(
            f"Grad-CAM on token layer {layer!r} needs a known number of tokens. Received: length=None"
        )
    if grid is not None:
        if grid[0] * grid[1] > length:
            raise InvalidArgumentError(
                f"Layer {layer!r} has {length} tokens, fewer than the grid's {grid[0]} x {grid[1]}. "
                f"Received: grid={grid}"
            )
        return grid
    for patches in (length, length - 1):
        side = math.isqrt(max(patches, 0))
        if patches > 0 and side * side == patches:
            return side, side
    raise InvalidArgumentError(
        f"Layer {layer!r} has {length} tokens: not a square grid of patches, nor a class token followed "
        f"by one. Say how the last h x w tokens lie on the image with GradCAM(layer, grid=(h, w)). "
        f"Received: grid=None"
    )


def _as_grid(tokens, grid, vectorized: bool):
    """The last `h × w` tokens of `(B, [K,] L, D)` as `(B, [K,] h, w, D)`."""
    h, w = grid
    last = tokens[..., -h * w:, :]
    lead = tf.shape(last)[:2] if vectorized else tf.shape(last)[:1]
    return tf.reshape(last, tf.concat([lead, [h, w, tf.shape(last)[-1]]], axis=0))


class _LayerMethod(Method):
    """Base class of the methods whose only argument is the inner `layer` they read (the CAMs)."""

    def __init__(self, layer: str | None = None):
        self.layer = _layer_name(layer)

    @property
    def needs_layer(self) -> bool:
        return True

    def cache_key(self):
        return (type(self).__name__, self.layer)


class GuidedGradCAM(_LayerMethod):
    """Each rule's gradient map times the saliency-rule Grad-CAM.

    `map = ∇S(x) ⊙ GradCAM(x)`, the CAM (standard Grad-CAM, see `GradCAM`)
    broadcast over the channels. Under the `"guided"` rule this is
    Selvaraju et al.'s Guided Grad-CAM. The CAM and the rule maps come from
    one forward pass; the CAM's backward pass is shared with the saliency
    rule's when saliency is among the rules.

    Args:
        layer: the Grad-CAM layer (see `GradCAM`). Defaults to `None`: the
            last convolutional layer.

    Raises:
        InvalidArgumentError: for a bad `layer`.

    Example:

    ```python
    viz = kv.Visualizer(model, rules=("guided",))
    maps = viz(images, target="max", method=kv.methods.GuidedGradCAM())
    ```

    References:
        Selvaraju et al. ICCV 2017, arXiv:1610.02391.
    """

    name = "guided-gradcam"

    def _backward_passes(self, rules, vectorized):
        # With saliency among the rules, one backward pass gives its map and the
        # CAM's gradient (two for K classes per sample: one batch Jacobian per source).
        shared = "saliency" in rules and not vectorized
        return len(rules) + (0 if shared else 1)

    def _graph(self, x, activations, differentiate, rules, vectorized, layer):
        _check_spatial(activations, x, layer)
        gradients = {}
        if "saliency" in rules:  # one backward pass gives the saliency map and the CAM's gradient
            gradients["saliency"], cam_gradient = differentiate("saliency", [x, activations])
        else:
            (cam_gradient,) = differentiate("saliency", [activations])
        cam = _cam(activations, _connected(cam_gradient, layer), False, x.shape[1:3], vectorized)
        maps = {}
        for rule in rules:
            gradient = gradients[rule] if rule in gradients else differentiate(rule, [x])[0]
            maps[rule] = gradient * cam[..., None]
        return maps

    def __repr__(self):
        return f"GuidedGradCAM(layer={self.layer!r})"


class LayerCAM(_LayerMethod):
    """Jiang et al.'s Layer-CAM of an inner layer, under each rule.

    With `A` the layer's activations and `G = ∂S/∂A` the gradient reaching
    them through the rule's backward pass (as for `GradCAM`), the map is
    `ReLU(Σ_c ReLU(G_c) ⊙ A_c)`: each position's activation weighted by its
    own positive gradient rather than by a channel mean, upsampled to the
    input exactly as `GradCAM` (bilinear, half-pixel centres). Maps are
    `(N, H, W)` (`(N, K, H, W)` for K classes per sample), unnormalized.

    Args:
        layer: the layer whose activations are used (see `GradCAM`).
            Defaults to `None`: the last convolutional layer.

    Raises:
        InvalidArgumentError: for a bad `layer`, or one without a spatial
            output (at the call).

    Example:

    ```python
    cams = viz(images, target=3, method=kv.methods.LayerCAM())   # {rule: (N, H, W)}
    ```

    References:
        Jiang et al. "LayerCAM: Exploring Hierarchical Class Activation Maps
        for Localization". IEEE TIP 2021.
    """

    name = "layercam"

    def _graph(self, x, activations, differentiate, rules, vectorized, layer):
        _check_spatial(activations, x, layer)
        a = activations[:, None] if vectorized else activations
        maps = {}
        for rule in rules:
            weighted = tf.nn.relu(tf.cast(_connected(differentiate(rule, [activations])[0], layer), a.dtype)) * a
            # Σ_c weighted_c is Grad-CAM's channel sum with unit weights: `_cam` with
            # gradients of ones applies the same ReLU and upsampling.
            maps[rule] = _cam(weighted, tf.ones_like(weighted), False, x.shape[1:3], False)
        return maps

    def __repr__(self):
        return f"LayerCAM(layer={self.layer!r})"


MethodLike = Union[Method, str, None]

#: Method names `resolve` knows (with default arguments), as `kerasviz explain --method` takes them.
NAMES: dict[str, Callable[[], Method]] = {
    "gradient": Gradient,
    "gradxinput": GradientXInput,
    "smoothgrad": SmoothGrad,
    "squaregrad": lambda: SmoothGrad(aggregate="square"),
    "vargrad": lambda: SmoothGrad(aggregate="var"),
    "ig": IntegratedGradients,
    "gradcam": GradCAM,
    "gradcampp": lambda: GradCAM(plus_plus=True),
    "guided-gradcam": GuidedGradCAM,
    "layercam": LayerCAM,
    "scorecam": lambda: __getattr__("ScoreCAM")(),
    "occlusion": lambda: __getattr__("Occlusion")(),
    "rise": lambda: __getattr__("RISE")(),
    "kernelshap": lambda: __getattr__("KernelSHAP")(),
}

#: Methods of `kerasviz.perturbation`, re-exported here on first use (they subclass `Method`).
_PERTURBATION = ("KernelSHAP", "Occlusion", "RISE", "ScoreCAM")


def __getattr__(name: str):
    if name in _PERTURBATION:
        from kerasviz import perturbation

        return getattr(perturbation, name)
    raise AttributeError(f"module 'kerasviz.methods' has no attribute {name!r}")


def resolve(method: MethodLike) -> Method:
    """A `Method` from a method, one of `NAMES` (default arguments), or `None`.

    Args:
        method: a `Method`, a name such as `"smoothgrad"`, or `None` for the
            plain gradient.

    Returns:
        The `Method` (`Gradient()` for `None`).

    Raises:
        InvalidArgumentError: for anything else.

    Example:

    ```python
    kv.methods.resolve("gradcampp")  # GradCAM(layer=None, plus_plus=True)
    ```
    """
    if method is None:
        return Gradient()
    if isinstance(method, Method):
        return method
    if isinstance(method, str) and method in NAMES:
        return NAMES[method]()
    raise InvalidArgumentError(
        "method must be a kv.methods method (e.g. kv.methods.SmoothGrad()), one of the "
        f"names {', '.join(repr(n) for n in NAMES)}, or None for the gradient. "
        f"Received: method={method!r}"
    )


#: Layers `GradCAM(layer=None)` may choose: convolutions with a spatial output.
_CONVOLUTIONS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
)


def cam_layer(model: keras.Model, method: Method) -> str:
    """The path of the layer whose activations `method` reads on `model`.

    `method.layer` when it is set; otherwise the last convolutional layer of
    `model` in the order of `kv.layer_paths` (nested models searched too).

    Args:
        model: a Functional or Sequential model (e.g. a rewritten one).
        method: a method with `needs_layer` (e.g. `GradCAM`).

    Returns:
        A layer name or path, e.g. `"block5_conv3"`.

    Raises:
        UnsupportedModelError: when `layer` is `None` and the model has no
            convolutional layer.

    Example:

    ```python
    kv.methods.cam_layer(vgg, kv.methods.GradCAM())  # "block5_conv3"
    ```
    """
    if method.layer is not None:
        return method.layer
    chosen = None
    for path in layer_paths(model):
        if isinstance(_layer_at(model, path), _CONVOLUTIONS):
            chosen = path
    if chosen is None:
        raise UnsupportedModelError(
            f"{type(method).__name__} found no convolutional layer in model {model.name!r} "
            f"to take as its layer; name a layer with a spatial output (N, h, w, channels) "
            f"with {type(method).__name__}(layer=...). Received: layer=None"
        )
    return chosen


def _layer_at(model: keras.Model, path: str):
    layer = model
    for name in path.split("/"):
        layer = layer.get_layer(name)
    return layer


# -- reducers: per-forward-image maps -> per-image maps ---------------------------------


class _Reducer:
    def add(self, sample: np.ndarray, maps: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def result(self) -> dict[str, np.ndarray]:
        raise NotImplementedError


class _Concatenate(_Reducer):
    """One forward image per image: the batches' maps, in order."""

    def __init__(self, rules):
        self.chunks: dict[str, list[np.ndarray]] = {rule: [] for rule in rules}

    def add(self, sample, maps):
        for rule, parts in self.chunks.items():
            parts.append(maps[rule])

    def result(self):
        return {rule: np.concatenate(parts).astype(np.float32, copy=False) for rule, parts in self.chunks.items()}


class _Moments(_Reducer):
    """`copies` consecutive forward images per image: mean (or mean square, or variance) of their maps."""

    def __init__(self, rules, num_samples: int, copies: int, aggregate: str, scale: np.ndarray | None = None):
        self.rules, self.num_samples, self.copies = tuple(rules), num_samples, copies
        self.aggregate, self.scale = aggregate, scale
        self.sums: dict[str, np.ndarray] = {}
        self.squares: dict[str, np.ndarray] = {}

    def add(self, sample, maps):
        # Forward images come image by image, so each image's rows are contiguous.
        starts = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
        images = sample[starts]
        for rule in self.rules:
            m = maps[rule].astype(np.float64)
            if rule not in self.sums:
                self.sums[rule] = np.zeros((self.num_samples, *m.shape[1:]), np.float64)
                if self.aggregate != "mean":
                    self.squares[rule] = np.zeros_like(self.sums[rule])
            if self.aggregate != "square":
                self.sums[rule][images] += np.add.reduceat(m, starts, axis=0)
            if self.aggregate != "mean":
                self.squares[rule][images] += np.add.reduceat(m * m, starts, axis=0)

    def result(self):
        out = {}
        for rule in self.rules:
            if self.aggregate == "mean":
                value = self.sums[rule] / self.copies
            elif self.aggregate == "square":
                value = self.squares[rule] / self.copies
            else:
                mean = self.sums[rule] / self.copies
                value = np.maximum(self.squares[rule] / self.copies - mean * mean, 0.0)
            if self.scale is not None:
                extra = value.ndim - self.scale.ndim  # a K axis for K classes per sample
                value = value * self.scale.reshape(self.scale.shape[:1] + (1,) * extra + self.scale.shape[1:])
            out[rule] = value.astype(np.float32)
        return out


# -- Grad-CAM in the graph ----------------------------------------------------------


def _connected(gradient, layer):
    if gradient is None:
        raise InvalidTargetError(
            "The target does not depend on the Grad-CAM layer (e.g. a Neuron target "
            "below it): choose a layer between the input and the target. "
            f"Received: layer={layer!r}"
        )
    return gradient


def _check_spatial(activations, x, layer) -> None:
    if activations.shape.rank != 4 or x.shape.rank != 4:
        raise InvalidArgumentError(
            "Grad-CAM needs images (N, H, W, C) and a layer with a spatial output "
            f"(N, h, w, channels); layer {layer!r} outputs {_validation.shape_text(activations.shape)} "
            f"for inputs {_validation.shape_text(x.shape)}. Choose a convolutional layer. "
            f"Received: layer={layer!r}"
        )


def _cam(activations, gradients, plus_plus: bool, size, vectorized: bool):
    """`ReLU(Σ_c w_c A_c)` upsampled to `size`; gradients `(B, [K,] h, w, c)`."""
    a = activations[:, None] if vectorized else activations
    g = tf.cast(gradients, a.dtype)
    if plus_plus:
        g2 = tf.square(g)
        denominator = 2.0 * g2 + g2 * g * tf.reduce_sum(a, axis=(-3, -2), keepdims=True)
        safe = tf.where(tf.equal(denominator, 0.0), tf.ones_like(denominator), denominator)
        alphas = tf.where(tf.equal(denominator, 0.0), tf.zeros_like(g2), g2 / safe)
        weights = tf.reduce_sum(alphas * tf.nn.relu(g), axis=(-3, -2), keepdims=True)
    else:
        weights = tf.reduce_mean(g, axis=(-3, -2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * a, axis=-1))  # (B, [K,] h, w)
    lead = tf.shape(cam)[:-2]
    flat = tf.reshape(cam, tf.concat([[-1], tf.shape(cam)[-2:], [1]], axis=0))
    up = tf.image.resize(tf.cast(flat, tf.float32), size, method="bilinear")
    return tf.reshape(up, tf.concat([lead, tf.constant(list(size), tf.int32)], axis=0))


# -- argument checks ------------------------------------------------------------------


def _non_negative_number(value: Any, name: str, example: str) -> float:
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
          and math.isfinite(float(value)) and float(value) >= 0)
    if not ok:
        raise InvalidArgumentError(
            f"`{name}` must be a finite number >= 0, {example}. Received: {name}={value!r}"
        )
    return float(value)


def _baseline(value: Any) -> np.ndarray:
    if isinstance(value, (bool, np.bool_)):
        array = None
    else:
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 - anything not array-like
            array = None
    if array is None or array.dtype.kind not in "iuf" or array.size == 0:
        raise InvalidArgumentError(
            "The baseline must be a number or an array shaped like one image (e.g. 0.0, "
            f"or images.mean(axis=0)). Received: baseline={value!r}"
        )
    if not np.isfinite(array).all():
        raise InvalidArgumentError(
            f"The baseline must be finite (no NaN or Inf). Received: baseline={value!r}"
        )
    return array.astype(np.float32)


def _layer_name(layer: Any) -> str | None:
    if layer is None or (isinstance(layer, str) and layer.strip("/")):
        return layer
    raise InvalidArgumentError(
        "`layer` names a layer by its name or its path into nested models (e.g. "
        "'block5_conv3' or 'mobilenetv2/block_16_project'), or is None for the last "
        f"convolutional layer. Received: layer={layer!r}"
    )

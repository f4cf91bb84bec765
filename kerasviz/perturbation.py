"""Methods that perturb the input: Occlusion, RISE, KernelSHAP and Score-CAM.

They use no gradient: each perturbed input is an ordinary forward image,
batched by the `Visualizer` like any other (`batch_size` counts them), and
its score (the target's logit as `kv.targets` defines it; Score-CAM: the
target class's softmax probability) is combined into one map per image.

| method | map of image `x` for a score `S` | forward images per image |
|---|---|---|
| `Occlusion(window, stride, baseline)` | mean of `S(x) − S(x with a window at baseline)` over the windows covering the pixel | windows + 1 |
| `RISE(masks, cell, probability, seed)` | `Σ_m S(x ⊙ M_m) M_m / (masks · probability)` | `masks` |
| `KernelSHAP(segments, samples, seed)` | Shapley values of SLIC superpixels, spread over their pixels | `samples + 2` |
| `ScoreCAM(layer)` | `ReLU(Σ_c softmax(x ⊙ norm(A_c))_t · A_c)`, upsampled | the layer's channels |

Every map is `(N, H, W)` (`(N, K, H, W)` for K classes per sample), raw
float32. **The rule does not change them** (no backward pass): the map is
computed once per call and the *same array* is returned under every rule
key of the `Visualizer` (`maps["saliency"] is maps["guided"]`), so a
Visualizer with three rules costs what one with a single rule costs.

Classes are chosen on the original image: `target="max"` and `"random"`
are fixed to the class the model predicts for `x` before any perturbation,
so every perturbed copy is scored for that class.

Example:

```python
import kerasviz as kv

viz = kv.Visualizer(model, rules=("saliency",))
occ = viz(images, target=3, method=kv.methods.Occlusion(window=16, stride=8))["saliency"]
```

References:
    - Zeiler & Fergus. "Visualizing and Understanding Convolutional
      Networks". ECCV 2014 (Occlusion).
    - Petsiuk, Das, Saenko. "RISE: Randomized Input Sampling for Explanation
      of Black-box Models". BMVC 2018.
    - Lundberg & Lee. "A Unified Approach to Interpreting Model
      Predictions". NeurIPS 2017 (KernelSHAP).
    - Wang et al. "Score-CAM: Score-Weighted Visual Explanations for
      Convolutional Neural Networks". CVPR Workshops 2020.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kerasviz import _validation
from kerasviz import targets as targets_lib
from kerasviz.errors import InvalidArgumentError, InvalidTargetError
from kerasviz.methods import Method, _baseline, _check_spatial, _LayerMethod, cam_layer

__all__ = ["KernelSHAP", "Occlusion", "RISE", "ScoreCAM", "fixed_target", "run_plan"]


# -- the forward-only engine ----------------------------------------------------------


class Plan:
    """The perturbed inputs of one call and how their scores become maps.

    `copies` forward images per image; the engine asks for them in batches
    of `(image index, copy index)` pairs, image by image.
    """

    copies: int = 1

    def inputs(self, sample: np.ndarray, copy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add(self, sample: np.ndarray, copy: np.ndarray, scores: np.ndarray) -> None:
        """`scores` is `(B, K)` (K = 1 for one score per image)."""
        raise NotImplementedError

    def result(self) -> np.ndarray:
        """`(N, K, ...)` float32."""
        raise NotImplementedError


class _Scores(Plan):
    """Keeps every score, `(N, copies, K)`: for plans that combine them at the end."""

    def __init__(self, num_images: int, copies: int):
        self.copies = copies
        self.scores = np.full((num_images, copies, 1), np.nan, np.float64)

    def add(self, sample, copy, scores):
        if self.scores.shape[-1] != scores.shape[-1]:
            self.scores = np.full((*self.scores.shape[:2], scores.shape[-1]), np.nan, np.float64)
        self.scores[sample, copy] = scores


def fixed_target(viz, images: np.ndarray, target: targets_lib.Target, batch: int) -> targets_lib.Target:
    """`target` with the classes read off the prediction fixed to those of the unperturbed images."""
    if not target.reads_prediction:
        return target
    predicted = np.argmax(viz.predict(images, batch_size=batch), axis=-1)
    return target.for_predicted(predicted, viz.num_classes)


def run_plan(viz, images: np.ndarray, target: targets_lib.Target, plan: Plan, batch: int,
             progress: bool = False, softmax: bool = False) -> np.ndarray:
    """Scores every forward image of `plan` in batches of `batch`; returns `plan.result()`.

    Args:
        viz: the `Visualizer` whose compiled forward function scores the images.
        images: the call's images, `(N, H, W, C)` float32.
        target: a target that reads no prediction (see `fixed_target`).
        plan: the perturbed inputs and their reduction.
        batch: forward images per batch.
        progress: show a tqdm bar when there is more than one batch.
        softmax: score with the target's softmax probability instead of its logit.

    Returns:
        `plan.result()`.
    """
    aux = np.asarray(target.aux(len(images), viz._target_width(target, [images.shape])))
    scores_of = viz._score_function(target, softmax=softmax)
    total = len(images) * plan.copies
    starts = range(0, total, batch)
    for start in tqdm(starts, desc="kerasviz", unit="batch", disable=not progress or len(starts) < 2):
        sample, copy = np.divmod(np.arange(start, min(start + batch, total)), plan.copies)
        x = plan.inputs(sample, copy)
        scores = scores_of(tf.constant(x, tf.float32), tf.constant(aux[sample])).numpy()
        plan.add(sample, copy, scores.reshape(len(sample), -1).astype(np.float64))
    return plan.result()


class _Forward(Method):
    """Base class of the perturbation methods: forward images only, one map for every rule."""

    forward_only = True

    def cache_key(self):
        return (type(self).__name__,)

    def _plan(self, viz, images: np.ndarray, target: targets_lib.Target) -> Plan:
        raise NotImplementedError

    def _explain(self, viz, images, target, batch, progress):
        target = fixed_target(viz, images, target, batch)
        maps = run_plan(viz, images, target, self._plan(viz, images, target), batch, progress,
                        softmax=self._softmax(viz))
        if target.num_scores is None:
            maps = maps[:, 0]
        maps = maps.astype(np.float32, copy=False)
        return {rule: maps for rule in viz.rules}  # computed once: the rule plays no part

    def _softmax(self, viz) -> bool:
        return False


def _with_baseline(images: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The baseline as a full image (broadcast), checked against the images' shape."""
    try:
        return np.broadcast_to(baseline, images.shape[1:]).astype(np.float32)
    except ValueError as err:
        raise InvalidArgumentError(
            f"The baseline must be a number or an array shaped like one image "
            f"{tuple(images.shape[1:])}. Received: baseline shape={tuple(baseline.shape)}"
        ) from err


def _size_pair(value: Any, name: str, example: str) -> tuple[int, int]:
    pair = _validation.int_pair(value)
    if _validation.is_int(value) and not isinstance(value, (bool, np.bool_)):
        pair = (int(value), int(value))
    if pair is None or min(pair) < 1:
        raise InvalidArgumentError(
            f"`{name}` must be a positive int or a (height, width) pair of them, {example}. "
            f"Received: {name}={value!r}"
        )
    return int(pair[0]), int(pair[1])


def _spatial(images: np.ndarray, method: str) -> tuple[int, int]:
    if images.ndim != 4:
        raise InvalidArgumentError(
            f"{method} needs images (N, H, W, C). Received: images shape={tuple(images.shape)}"
        )
    return int(images.shape[1]), int(images.shape[2])


# -- Occlusion ------------------------------------------------------------------------


class Occlusion(_Forward):
    """Zeiler & Fergus's occlusion: the score drop when a window is set to the baseline.

    A `window` (all channels) slides over the image with `stride`, starting
    at the top-left corner; window `w` set to `baseline` gives the drop
    `d_w = S(x) − S(x_w)`. A pixel's value is the mean of `d_w` over the
    windows covering it. As in Captum's `Occlusion`, the windows start at
    `0, s, 2s, …` up to `ceil((H − window) / stride)` strides, the last one
    cut at the image's edge, so that every pixel is covered. xplique's
    `Occlusion` differs: it places only windows that fit entirely (pixels
    past the last one get 0) and sums the drops of the windows covering a
    pixel instead of averaging them, so its maps grow with
    `window / stride`.

    Cost: `1 + windows` forward images per image (the `1` is `x` itself).

    Args:
        window: the window's side, or `(height, width)`. Defaults to `16`.
        stride: the step between windows, or `(height, width)`. Defaults to `8`.
        baseline: the value of occluded pixels: a number, or an array shaped
            like one image (its pixels under the window are used). Defaults
            to `0.0`.

    Raises:
        InvalidArgumentError: for a bad argument (at construction), a window
            larger than the image or a baseline of the wrong shape (at the
            call).

    Example:

    ```python
    occ = viz(images, target=3, method=kv.methods.Occlusion(window=16, stride=8))
    ```
    """

    name = "occlusion"

    def __init__(self, window: int | tuple[int, int] = 16, stride: int | tuple[int, int] = 8,
                 baseline: float | np.ndarray = 0.0):
        self.window = _size_pair(window, "window", "e.g. 16 for 16x16 windows")
        self.stride = _size_pair(stride, "stride", "e.g. 8")
        self.baseline = _baseline(baseline)

    def windows(self, height: int, width: int) -> list[tuple[int, int]]:
        """The top-left corners of the windows over an `height × width` image.

        Raises:
            InvalidArgumentError: if the window is larger than the image.
        """
        if self.window[0] > height or self.window[1] > width:
            raise InvalidArgumentError(
                f"The occlusion window {self.window} is larger than the images ({height}, {width}); "
                f"choose a window of at most the image's size. Received: window={self.window}"
            )
        rows = [k * self.stride[0] for k in range(math.ceil((height - self.window[0]) / self.stride[0]) + 1)]
        cols = [k * self.stride[1] for k in range(math.ceil((width - self.window[1]) / self.stride[1]) + 1)]
        return [(r, c) for r in rows for c in cols]

    def _plan(self, viz, images, target):
        return _OcclusionPlan(images, self.windows(*_spatial(images, "Occlusion")), self.window,
                              _with_baseline(images, self.baseline))

    def __repr__(self):
        baseline = (repr(float(self.baseline)) if self.baseline.ndim == 0
                    else f"array(shape={self.baseline.shape})")
        return f"Occlusion(window={self.window}, stride={self.stride}, baseline={baseline})"


class _OcclusionPlan(_Scores):
    def __init__(self, images, windows, window, baseline):
        super().__init__(len(images), 1 + len(windows))
        self.images, self.windows, self.window, self.baseline = images, windows, window, baseline

    def _box(self, w: int) -> tuple[slice, slice]:
        r, c = self.windows[w]
        return slice(r, r + self.window[0]), slice(c, c + self.window[1])

    def inputs(self, sample, copy):
        x = self.images[sample].copy()
        for row, k in enumerate(copy):
            if k > 0:  # copy 0 is the image itself
                box = self._box(k - 1)
                x[row][box] = self.baseline[box]
        return x

    def result(self):
        n, _, classes = self.scores.shape
        h, w = self.images.shape[1:3]
        total = np.zeros((n, classes, h, w), np.float64)
        count = np.zeros((h, w), np.float64)
        drops = self.scores[:, :1] - self.scores[:, 1:]  # (N, windows, K)
        for k in range(len(self.windows)):
            box = self._box(k)
            total[(slice(None), slice(None), *box)] += drops[:, k, :, None, None]
            count[box] += 1
        return total / count


# -- RISE -----------------------------------------------------------------------------


class RISE(_Forward):
    """Petsiuk et al.'s RISE: the score-weighted mean of random smooth masks.

    Mask `m` is a `cell × cell` grid of independent Bernoulli(`probability`)
    cells, upsampled bilinearly (half-pixel centres, edges clamped) to
    `(cell + 1) × ceil(H / cell)` by `(cell + 1) × ceil(W / cell)` and
    cropped to `H × W` at a random shift of less than one cell, as in the
    authors' code. The map is `Σ_m S(x ⊙ M_m) M_m / (masks · probability)`.
    Masks are drawn from `np.random.default_rng([seed, m])`, the same for
    every image and every batch size.

    Cost: `masks` forward images per image.

    Args:
        masks: the number of masks. Defaults to `4000`.
        cell: cells per side of the grid. Defaults to `7`.
        probability: the probability that a cell is kept, in (0, 1).
            Defaults to `0.5`.
        seed: the masks' seed (an int >= 0). Defaults to `0`.

    Raises:
        InvalidArgumentError: for a bad argument (at construction).

    Example:

    ```python
    rise = viz(images, target=3, method=kv.methods.RISE(masks=500, cell=7, seed=0))
    ```
    """

    name = "rise"

    def __init__(self, masks: int = 4000, cell: int = 7, probability: float = 0.5, seed: int = 0):
        self.masks = _validation.positive_int(masks, "masks")
        self.cell = _validation.positive_int(cell, "cell")
        ok = (isinstance(probability, (int, float, np.integer, np.floating))
              and not isinstance(probability, (bool, np.bool_)) and 0.0 < float(probability) < 1.0)
        if not ok:
            raise InvalidArgumentError(
                "`probability` (that a cell is kept) must be a number strictly between 0 and 1, "
                f"e.g. 0.5. Received: probability={probability!r}"
            )
        self.probability = float(probability)
        self.seed = _validation.seed(seed, non_negative=True)

    def mask(self, index: int, height: int, width: int) -> np.ndarray:
        """Mask `index` for `height × width` images, `(H, W)` float32 in [0, 1]."""
        rng = np.random.default_rng([self.seed, int(index)])
        grid = (rng.random((self.cell, self.cell)) < self.probability).astype(np.float64)
        cell_h, cell_w = math.ceil(height / self.cell), math.ceil(width / self.cell)
        dy, dx = int(rng.integers(0, cell_h)), int(rng.integers(0, cell_w))
        rows = _bilinear_matrix(self.cell, (self.cell + 1) * cell_h)[dy:dy + height]
        cols = _bilinear_matrix(self.cell, (self.cell + 1) * cell_w)[dx:dx + width]
        return (rows @ grid @ cols.T).astype(np.float32)

    def _plan(self, viz, images, target):
        return _RisePlan(self, images)

    def __repr__(self):
        return (f"RISE(masks={self.masks}, cell={self.cell}, probability={self.probability!r}, "
                f"seed={self.seed})")


def _bilinear_matrix(size: int, out: int) -> np.ndarray:
    """`(out, size)`: linear interpolation of `size` samples at `out` half-pixel centres."""
    source = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size - 1)
    frac = source - low
    matrix = np.zeros((out, size))
    np.add.at(matrix, (np.arange(out), low), 1 - frac)
    np.add.at(matrix, (np.arange(out), high), frac)
    return matrix


class _RisePlan(Plan):
    def __init__(self, method: RISE, images: np.ndarray):
        self.method, self.images = method, images
        self.copies = method.masks
        self.size = _spatial(images, "RISE")
        self.sums: np.ndarray | None = None
        self._last: tuple = (None, None)  # the last batch's copy indices and masks

    def _mask_rows(self, copy):
        return np.stack([self.method.mask(int(k), *self.size) for k in copy])

    def inputs(self, sample, copy):
        masks = self._mask_rows(copy)
        self._last = (copy, masks)  # `add` gets the same batch next: no second draw
        return self.images[sample] * masks[..., None]

    def add(self, sample, copy, scores):
        last_copy, masks = self._last
        if last_copy is not copy:
            masks = self._mask_rows(copy)
        if self.sums is None:
            self.sums = np.zeros((len(self.images), scores.shape[1], *self.size), np.float64)
        for i in np.unique(sample):
            rows = sample == i
            self.sums[i] += np.einsum("bk,bhw->khw", scores[rows], masks[rows])

    def result(self):
        return self.sums / (self.method.masks * self.method.probability)


# -- KernelSHAP -----------------------------------------------------------------------


class KernelSHAP(_Forward):
    """Lundberg & Lee's KernelSHAP over SLIC superpixels.

    Each image is cut into about `segments` superpixels with
    `skimage.segmentation.slic` (on the image min-max scaled to [0, 1],
    `start_label=0`, deterministic). A coalition `z` keeps the superpixels
    it contains and sets the others to `baseline`. `samples` coalitions are
    drawn from `np.random.default_rng([seed, image index])`: a size
    `1 ≤ s ≤ M − 1` with probability proportional to the Shapley kernel's
    total weight of that size, `(M − 1) / (s (M − s))`, then a uniform
    subset of that size, so the regression's weights are all equal (the
    sampling form of the kernel, as in Captum's `KernelShap`). The Shapley
    values `φ` solve the least-squares fit of `S(z) − S(∅)` by `z · φ`
    subject to `Σ φ = S(x) − S(∅)` (the efficiency property, held exactly
    as in the `shap` package). Each pixel gets its superpixel's value.

    Cost: `samples + 2` forward images per image (`x` and the all-baseline
    image).

    Args:
        segments: the approximate number of superpixels. Defaults to `50`.
        samples: coalitions per image. Defaults to `1000`.
        baseline: the value of removed superpixels: a number, or an array
            shaped like one image. Defaults to `0.0`.
        seed: the coalitions' seed (an int >= 0). Defaults to `0`.

    Raises:
        InvalidArgumentError: for a bad argument.

    Example:

    ```python
    shap = viz(images, target=3, method=kv.methods.KernelSHAP(segments=50, samples=1000))
    ```
    """

    name = "kernelshap"

    def __init__(self, segments: int = 50, samples: int = 1000, baseline: float | np.ndarray = 0.0,
                 seed: int = 0):
        self.segments = _validation.positive_int(segments, "segments")
        self.samples = _validation.positive_int(samples, "samples")
        self.baseline = _baseline(baseline)
        self.seed = _validation.seed(seed, non_negative=True)

    def segmentation(self, image: np.ndarray) -> np.ndarray:
        """The superpixels of one `(H, W, C)` image: `(H, W)` int labels `0 … M − 1`."""
        from skimage.segmentation import slic

        low, high = float(image.min()), float(image.max())
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        if scaled.shape[-1] == 1:
            labels = slic(scaled[..., 0], n_segments=self.segments, start_label=0, channel_axis=None)
        else:
            labels = slic(scaled, n_segments=self.segments, start_label=0, channel_axis=-1)
        return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)  # labels 0..M-1

    def coalitions(self, count: int, index: int) -> np.ndarray:
        """`(samples, count)` bool coalitions of `count` superpixels for image `index`."""
        rng = np.random.default_rng([self.seed, int(index)])
        if count < 2:
            return np.ones((self.samples, count), bool)
        sizes = np.arange(1, count)
        weights = (count - 1) / (sizes * (count - sizes))
        drawn = rng.choice(sizes, size=self.samples, p=weights / weights.sum())
        order = np.argsort(rng.random((self.samples, count)), axis=1)
        return np.argsort(order, axis=1) < drawn[:, None]  # a uniform subset of each size

    def _plan(self, viz, images, target):
        _spatial(images, "KernelSHAP")
        return _ShapPlan(self, images, _with_baseline(images, self.baseline))

    def __repr__(self):
        baseline = (repr(float(self.baseline)) if self.baseline.ndim == 0
                    else f"array(shape={self.baseline.shape})")
        return (f"KernelSHAP(segments={self.segments}, samples={self.samples}, "
                f"baseline={baseline}, seed={self.seed})")


class _ShapPlan(_Scores):
    def __init__(self, method: KernelSHAP, images, baseline):
        super().__init__(len(images), method.samples + 2)
        self.images, self.baseline = images, baseline
        self.labels = [method.segmentation(image) for image in images]
        self.coalitions = [method.coalitions(int(labels.max()) + 1, i) for i, labels in enumerate(self.labels)]

    def inputs(self, sample, copy):
        x = np.empty((len(sample), *self.images.shape[1:]), np.float32)
        for row, (i, k) in enumerate(zip(sample, copy)):
            if k == 0:
                x[row] = self.images[i]
            elif k == 1:
                x[row] = self.baseline
            else:
                keep = self.coalitions[i][k - 2][self.labels[i]]
                x[row] = np.where(keep[..., None], self.images[i], self.baseline)
        return x

    def result(self):
        n, _, classes = self.scores.shape
        maps = np.zeros((n, classes, *self.images.shape[1:3]), np.float64)
        for i in range(n):
            z = self.coalitions[i].astype(np.float64)
            for k in range(classes):
                full, empty, values = self.scores[i, 0, k], self.scores[i, 1, k], self.scores[i, 2:, k]
                maps[i, k] = shapley_values(z, values - empty, full - empty)[self.labels[i]]
        return maps


def shapley_values(coalitions: np.ndarray, gains: np.ndarray, total: float) -> np.ndarray:
    """Least-squares `φ` with `coalitions @ φ ≈ gains` and `Σ φ = total` exactly.

    The constraint eliminates the last value (`φ_M = total − Σ_{j<M} φ_j`),
    as the `shap` package does.

    Args:
        coalitions: `(samples, M)` 0/1 coalitions.
        gains: `(samples,)` `S(z) − S(∅)`.
        total: `S(x) − S(∅)`.

    Returns:
        `(M,)` float64 values summing to `total`.
    """
    count = coalitions.shape[1]
    if count == 1:
        return np.array([total])
    last = coalitions[:, -1:]
    design = coalitions[:, :-1] - last
    head = np.linalg.lstsq(design, gains - last[:, 0] * total, rcond=None)[0]
    return np.append(head, total - head.sum())


# -- Score-CAM ------------------------------------------------------------------------


class ScoreCAM(_LayerMethod, _Forward):
    """Wang et al.'s Score-CAM: channels weighted by the class probability of the input they mask.

    With `A` the layer's activations `(h, w, channels)` for image `x`: each
    channel `A_c` is upsampled to `H × W` (bilinear, half-pixel centres, as
    `GradCAM`), min–max normalized to [0, 1] and multiplies `x` (all
    channels); its weight `s_c` is the softmax probability of the target
    class for that masked input (a constant channel gets weight 0 and is
    skipped, as in the authors' code). The map is `ReLU(Σ_c s_c up(A_c))`,
    raw: the authors' code then min–max normalizes it, which `kv.render`
    does at display time. With `logits=False` the explained output is taken
    as probabilities already (no second softmax).

    Cost: one forward image per channel of the layer and image (512 for
    VGG-16's `block5_conv3`), plus one forward pass for the activations.
    The rule does not change the map (see the module docstring).

    Args:
        layer: the layer whose activations mask the input (see `GradCAM`).
            Defaults to `None`: the last convolutional layer.

    Raises:
        InvalidArgumentError: for a bad `layer`, or one without a spatial
            output.
        InvalidTargetError: for a target that is not a class (`"loss"`, a
            callable, a `Neuron`): Score-CAM weighs by a class probability.

    Example:

    ```python
    cams = viz(images, target=3, method=kv.methods.ScoreCAM())   # {rule: (N, H, W)}
    ```
    """

    name = "scorecam"

    def _softmax(self, viz):
        return viz._logits

    def _plan(self, viz, images, target):
        if not isinstance(target, targets_lib.Classes):
            raise InvalidTargetError(
                "Score-CAM weighs each channel by the softmax probability of a class: use "
                "target='max', 'random', a class index or class indices. "
                f"Received: target={target!r}"
            )
        layer = cam_layer(viz.model, self)
        tapped = viz.layer_model(layer)
        parts = []
        for start in range(0, len(images), viz.batch_size):
            x = tf.constant(images[start:start + viz.batch_size])
            activations = tapped(viz.preprocess(x) if viz.preprocess else x, training=False)[0]
            _check_spatial(activations, x, layer)
            parts.append(activations.numpy())
        return _ScoreCamPlan(images, np.concatenate(parts).astype(np.float32))

    def __repr__(self):
        return f"ScoreCAM(layer={self.layer!r})"


class _ScoreCamPlan(_Scores):
    def __init__(self, images, activations):
        super().__init__(len(images), activations.shape[-1])
        self.images, self.activations = images, activations
        low = activations.min(axis=(1, 2))
        self.constant = activations.max(axis=(1, 2)) == low  # (N, channels): weight 0

    def _upsampled(self, maps: np.ndarray) -> np.ndarray:
        """`(B, h, w)` -> `(B, H, W)`, bilinear with half-pixel centres (Grad-CAM's)."""
        resized = tf.image.resize(tf.constant(maps[..., None], tf.float32), self.images.shape[1:3], "bilinear")
        return resized.numpy()[..., 0]

    def inputs(self, sample, copy):
        up = self._upsampled(self.activations[sample, :, :, copy])
        low = up.min(axis=(1, 2), keepdims=True)
        span = up.max(axis=(1, 2), keepdims=True) - low
        norm = np.where(span > 0, (up - low) / np.where(span > 0, span, 1), 0)
        return self.images[sample] * norm[..., None].astype(np.float32)

    def result(self):
        weights = np.where(self.constant[..., None], 0.0, self.scores)  # (N, channels, K)
        # Bilinear upsampling is linear: up(Σ_c s_c A_c) = Σ_c s_c up(A_c), one resize per map.
        summed = np.einsum("nhwc,nck->nkhw", self.activations.astype(np.float64), weights)
        n, k, h, w = summed.shape
        up = self._upsampled(summed.reshape(n * k, h, w).astype(np.float32))
        return np.maximum(up, 0).reshape(n, k, *up.shape[1:])

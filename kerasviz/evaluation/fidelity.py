"""MuFidelity (Bhatt et al. 2020) and infidelity (Yeh et al. 2019): do map sums predict score changes?

Both compare, over random perturbations of `x`, the change of the score
`S(x) − S(x̃)` (the target's logit as `kv.targets` defines it) with the
sum of the map over what was perturbed, using the **signed** map summed
over channels (a map `(N, H, W)` is spread over the channels: its value
multiplies each channel's perturbation).

Example:

```python
gxi = kv.visualize(model, images, rules=("saliency",), target=3,
                   method=kv.methods.GradientXInput())["saliency"]
kv.evaluation.mu_fidelity(model, images, gxi, target=3)   # near 1: faithful
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasviz import _validation
from kerasviz.errors import InvalidArgumentError
from kerasviz.evaluation import _common
from kerasviz.perturbation import _Scores, run_plan


def mu_fidelity(model, images, maps, target="max", grid: int = 8, subset: float = 0.2, samples: int = 128,
                baseline=0.0, seed: int = 0, *, batch_size: int | None = None,
                positions: Sequence[int] | None = None) -> np.ndarray:
    """Bhatt et al.'s MuFidelity: the correlation of map sums and score drops over random subsets.

    The image is cut into `grid × grid` cells (row and column edges at
    `round(k · H / grid)`). Each of `samples` draws (from
    `np.random.default_rng([seed, image index])`) sets `round(subset ·
    grid²)` cells (at least one), chosen uniformly, to `baseline`, giving
    `x_S`. The value is Pearson's correlation, over the draws, between
    `S(x) − S(x_S)` and the sum of the signed map over the cells of `S`.
    **Higher is better** (1: the map's sums predict every drop; about 0:
    unrelated). NaN when either has no variance (e.g. an all-zero map).

    xplique's `MuFidelity` is the same correlation (defaults `grid_size=9`,
    `subset_percent=0.2`, `nb_samples=200`) on the model's output as it is;
    Quantus calls it `FaithfulnessCorrelation`, drawing pixel subsets rather
    than grid cells, and averages over runs.

    Args:
        model: a Keras model, or a `kv.Visualizer`.
        images: `(N, H, W, C)`.
        maps: `(N, H, W)` or `(N, H, W, C)`.
        target: `"max"`, an int, or one int per image. Defaults to `"max"`.
        grid: cells per side. Defaults to `8`.
        subset: the fraction of cells set to the baseline, in (0, 1).
            Defaults to `0.2`.
        samples: random subsets per image. Defaults to `128`.
        baseline: a number or an array shaped like one image. Defaults to `0.0`.
        seed: an int >= 0. Defaults to `0`.
        batch_size: forward images per batch (`samples + 1` per image).
            Defaults to `None` (the Visualizer's).
        positions: the images' places in a larger set, used as their
            "image index" in the draws (so a dataset evaluated chunk by chunk
            gets the draws of one call). Defaults to `None` (0 … N − 1).

    Returns:
        `(N,)` float64 correlations.

    Raises:
        InvalidArgumentError: for a bad argument, or a grid finer than the image.

    Example:

    ```python
    kv.evaluation.mu_fidelity(model, images, maps, target=3, grid=8, subset=0.2, samples=128, seed=0)
    ```
    """
    grid = _common.positive(grid, "grid")
    subset = _common.fraction(subset, "subset", "e.g. 0.2 (a fifth of the cells)")
    samples = _common.positive(samples, "samples")
    seed = _validation.seed(seed, non_negative=True)
    viz = _common.visualizer(model, batch_size)
    images, maps, target, batch = _common.prepared(viz, images, maps, target, batch_size)
    height, width = images.shape[1:3]
    if grid > min(height, width):
        raise InvalidArgumentError(
            f"The grid is finer than the images ({height}, {width}): choose at most "
            f"{min(height, width)} cells per side. Received: grid={grid}"
        )
    rows = np.round(np.arange(grid + 1) * height / grid).astype(int)
    cols = np.round(np.arange(grid + 1) * width / grid).astype(int)
    cell_of = (np.searchsorted(rows, np.arange(height), side="right") - 1)[:, None] * grid + (
        np.searchsorted(cols, np.arange(width), side="right") - 1)[None, :]
    positions = _positions(positions, len(images))
    chosen = max(1, int(round(subset * grid * grid)))
    subsets = np.zeros((len(images), samples, grid * grid), bool)
    for i in range(len(images)):
        rng = np.random.default_rng([seed, positions[i]])
        picks = np.argsort(rng.random((samples, grid * grid)), axis=1)[:, :chosen]
        np.put_along_axis(subsets[i], picks, True, axis=1)
    base = _common.image_baseline(images, baseline)
    plan = _MaskPlan(images, lambda i, k: subsets[i, k][cell_of][..., None], base, samples)
    scores = run_plan(viz, images, target, plan, batch)[:, :, 0]
    drops = scores[:, :1] - scores[:, 1:]
    cell_sums = np.zeros((len(images), grid * grid))
    np.add.at(cell_sums, (slice(None), cell_of.ravel()), maps.sum(axis=-1).reshape(len(images), -1))
    sums = np.einsum("nsc,nc->ns", subsets.astype(np.float64), cell_sums)
    return np.array([_pearson(a, b) for a, b in zip(sums, drops)])


def infidelity(model, images, maps, target="max", noise: float = 0.1, samples: int = 64, seed: int = 0, *,
               batch_size: int | None = None, positions: Sequence[int] | None = None) -> np.ndarray:
    """Yeh et al.'s infidelity: `E_I[(I · map − (S(x) − S(x − I)))²]` for Gaussian `I`.

    `I = σ ε`, `ε ~ N(0, 1)` per pixel and channel from
    `np.random.default_rng([seed, image index])`, with `σ = noise × (max(x)
    − min(x))`; the expectation is the mean over `samples` draws. **Lower is
    better** (0: the map is the exact linear effect of any small noise).
    The map is not rescaled, so the value grows with the map's scale: it
    compares maps in the units of a gradient times an input change
    (gradient, Gradient × Input, Integrated Gradients), not CAMs or
    perturbation maps. Captum's `infidelity` takes the perturbation from the
    user and rescales the map by the least-squares factor only with
    `normalize=True`; Quantus's `Infidelity` follows the same paper with
    other default perturbations. Set them alike before comparing numbers.

    Args:
        model: a Keras model, or a `kv.Visualizer`.
        images: `(N, H, W, C)`.
        maps: `(N, H, W)` or `(N, H, W, C)`.
        target: `"max"`, an int, or one int per image. Defaults to `"max"`.
        noise: `σ` as a fraction of each image's value range. Defaults to `0.1`.
        samples: noise draws per image. Defaults to `64`.
        seed: an int >= 0. Defaults to `0`.
        batch_size: forward images per batch. Defaults to `None`.
        positions: the images' indices in the draws (see `mu_fidelity`).
            Defaults to `None` (0 … N − 1).

    Returns:
        `(N,)` float64 mean squared errors.

    Raises:
        InvalidArgumentError: for a bad argument or maps of the wrong shape.

    Example:

    ```python
    kv.evaluation.infidelity(model, images, maps, target=3, noise=0.1, samples=64)
    ```
    """
    noise = _common.non_negative(noise, "noise", "e.g. 0.1 (10 % of each image's value range)")
    samples = _common.positive(samples, "samples")
    seed = _validation.seed(seed, non_negative=True)
    viz = _common.visualizer(model, batch_size)
    images, maps, target, batch = _common.prepared(viz, images, maps, target, batch_size)
    positions = _positions(positions, len(images))

    def draws(i):
        sigma = noise * (float(images[i].max()) - float(images[i].min()))
        rng = np.random.default_rng([seed, positions[i]])
        return (sigma * rng.standard_normal((samples, *images.shape[1:]))).astype(np.float32)

    plan = _NoisePlan(images, draws, samples)
    scores = run_plan(viz, images, target, plan, batch)[:, :, 0]
    errors = np.empty(len(images))
    for i in range(len(images)):
        perturbation = draws(i).astype(np.float64)
        explained = (perturbation * maps[i]).reshape(samples, -1).sum(axis=1)
        errors[i] = np.mean((explained - (scores[i, 0] - scores[i, 1:])) ** 2)
    return errors


def _positions(positions, count: int) -> list[int]:
    if positions is None:
        return list(range(count))
    array = np.asarray(positions)
    values = [int(p) for p in array.reshape(-1)] if array.dtype.kind in "iu" else []
    if len(values) != count or min(values, default=-1) < 0:
        raise InvalidArgumentError(
            f"`positions` must be one int >= 0 per image ({count}). Received: positions={positions!r}"
        )
    return values


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


class _MaskPlan(_Scores):
    """Copy 0 is `x`; copy `k` sets `where(i, k - 1)` to the baseline."""

    def __init__(self, images, where, baseline, samples):
        super().__init__(len(images), samples + 1)
        self.images, self.where, self.baseline = images, where, baseline

    def inputs(self, sample, copy):
        x = self.images[sample].copy()
        for row, (i, k) in enumerate(zip(sample, copy)):
            if k > 0:
                x[row] = np.where(self.where(i, k - 1), self.baseline, x[row])
        return x

    def result(self):
        return self.scores


class _NoisePlan(_Scores):
    """Copy 0 is `x`; copy `k` is `x − I_k` for image `i`'s draws."""

    def __init__(self, images, draws, samples):
        super().__init__(len(images), samples + 1)
        self.images, self.draws = images, draws
        self._cache: tuple[int, np.ndarray] | None = None

    def _draws(self, i):
        if self._cache is None or self._cache[0] != i:
            self._cache = (i, self.draws(i))
        return self._cache[1]

    def inputs(self, sample, copy):
        x = self.images[sample].copy()
        for row, (i, k) in enumerate(zip(sample, copy)):
            if k > 0:
                x[row] -= self._draws(i)[k - 1]
        return x

    def result(self):
        return self.scores

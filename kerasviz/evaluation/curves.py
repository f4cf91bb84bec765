"""Deletion and insertion (Petsiuk et al. 2018): the score as top-ranked pixels are removed or added.

Pixels are ranked by `|map|` summed over the channels, largest first, ties
broken by position (row-major: the earlier pixel first). Step `k` of
`steps` changes the first `n_k = round(k · H · W / steps)` pixels (all
channels): deletion sets them to `baseline` in `x`, insertion copies them
from `x` into the all-baseline image. The score is the target's logit (as
`kv.targets` defines it); the area under the curve of the `steps + 1`
scores over the fraction `n_k / (H · W)` is taken with the trapezoid rule.

Differences from the other toolkits: xplique's `Deletion` / `Insertion`
score the model's output as it is (a probability for a softmax model, the
original RISE protocol), rank by the signed map (its docs advise against
taking absolute values) and can stop at `max_percentage_perturbed`;
Quantus's `PixelFlipping` returns the whole curve rather than its area.
Areas here are in logit units, so compare methods on the same images and
model, not across models.

Example:

```python
maps = kv.visualize(model, images, rules=("saliency",), target=3)["saliency"]
kv.evaluation.deletion(model, images, maps, target=3)    # lower is better
kv.evaluation.insertion(model, images, maps, target=3)   # higher is better
```
"""

from __future__ import annotations

import numpy as np

from kerasviz.evaluation import _common
from kerasviz.perturbation import _Scores, run_plan


def deletion(model, images, maps, target="max", steps: int = 20, baseline=0.0, *,
             batch_size: int | None = None, return_curves: bool = False) -> np.ndarray:
    """The area under the score curve as the top-ranked pixels are set to `baseline`.

    **Lower is better**: a faithful map names first the pixels whose removal
    makes the score fall. See the module docstring for the ranking, the
    steps and how xplique's and Quantus's conventions differ.

    Args:
        model: a Keras model, or a `kv.Visualizer` (its compiled functions
            are reused).
        images: `(N, H, W, C)`, as the model takes them.
        maps: `(N, H, W)` or `(N, H, W, C)` maps, one per image.
        target: the class scored: `"max"` (the class predicted for each
            original image), an int, or one int per image. Defaults to
            `"max"`.
        steps: points of the curve after the first. Defaults to `20`.
        baseline: the value of removed pixels: a number or an array shaped
            like one image. Defaults to `0.0`.
        batch_size: forward images per batch (`steps + 1` per image).
            Defaults to `None` (the Visualizer's, 32).
        return_curves: also return the curves. Defaults to `False`.

    Returns:
        `(N,)` float64 areas; with `return_curves`, `(areas, fractions
        (steps + 1,), scores (N, steps + 1))`.

    Raises:
        InvalidArgumentError: for `steps < 1`, maps of the wrong shape or a
            bad baseline.

    Example:

    ```python
    kv.evaluation.deletion(model, images, maps, target=3, steps=20, baseline=0.0)
    ```
    """
    return _area(model, images, maps, target, steps, baseline, batch_size, return_curves, insert=False)


def insertion(model, images, maps, target="max", steps: int = 20, baseline=0.0, *,
              batch_size: int | None = None, return_curves: bool = False) -> np.ndarray:
    """The area under the score curve as the top-ranked pixels are copied into the baseline image.

    **Higher is better**: a faithful map names first the pixels that bring
    the score back. Arguments, returns and errors as for `deletion`.

    Example:

    ```python
    kv.evaluation.insertion(model, images, maps, target=3, steps=20, baseline=0.0)
    ```
    """
    return _area(model, images, maps, target, steps, baseline, batch_size, return_curves, insert=True)


def ranks(maps: np.ndarray) -> np.ndarray:
    """`(N, H·W)`: each pixel's place in the order (0 = first changed), by `|map|` summed over channels.

    Args:
        maps: `(N, H, W, C)` maps.

    Returns:
        int64 ranks; ties go to the earlier pixel in row-major order.
    """
    importance = np.abs(maps).sum(axis=-1).reshape(len(maps), -1)
    order = np.argsort(-importance, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(order.shape[1])[None].repeat(len(order), 0), axis=1)
    return out


def _area(model, images, maps, target, steps, baseline, batch_size, return_curves, *, insert):
    steps = _common.positive(steps, "steps")
    viz = _common.visualizer(model, batch_size)
    images, maps, target, batch = _common.prepared(viz, images, maps, target, batch_size)
    base = _common.image_baseline(images, baseline)
    pixels = images.shape[1] * images.shape[2]
    counts = np.round(np.arange(steps + 1) * pixels / steps).astype(np.int64)
    plan = _CurvePlan(images, ranks(maps), counts, base, insert)
    scores = run_plan(viz, images, target, plan, batch)[:, :, 0]
    fractions = counts / pixels
    areas = np.trapezoid(scores, fractions, axis=1)
    return (areas, fractions, scores) if return_curves else areas


class _CurvePlan(_Scores):
    def __init__(self, images, rank, counts, baseline, insert):
        super().__init__(len(images), len(counts))
        self.images, self.rank, self.counts, self.baseline, self.insert = images, rank, counts, baseline, insert

    def inputs(self, sample, copy):
        changed = (self.rank[sample] < self.counts[copy][:, None]).reshape(len(sample), *self.images.shape[1:3], 1)
        if self.insert:
            return np.where(changed, self.images[sample], self.baseline)
        return np.where(changed, self.baseline, self.images[sample])

    def result(self):
        return self.scores

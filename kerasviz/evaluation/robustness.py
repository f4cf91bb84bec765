"""Sensitivity-max (Yeh et al. 2019) and stability: how much a map changes under small input noise.

Both redraw the map of `x + δ`, `δ` uniform in `[−r, r]` per pixel and
channel with `r = radius × (max(x) − min(x))` (from
`np.random.default_rng([seed, image index, draw])`), for the class chosen on `x`
(so `"max"` does not switch class with the noise), and measure the relative
change `‖map(x + δ) − map(x)‖ / ‖map(x)‖` (Frobenius norms). **Lower is
better** for both. `sensitivity_max` takes the largest change over the
draws (Yeh et al.), `stability` the mean (xplique's `AverageStability`
averages the unnormalized distance instead; Captum's `sensitivity_max`
does not divide by `‖map(x)‖` by default; Quantus's `MaxSensitivity` and
`AvgSensitivity` divide, as here).

Example:

```python
kv.evaluation.sensitivity_max(model, images, target=3, method=kv.methods.SmoothGrad(samples=8))
```
"""

from __future__ import annotations

import numpy as np

from kerasviz import _validation
from kerasviz import methods as methods_lib
from kerasviz import rules as rules_lib
from kerasviz import targets as targets_lib
from kerasviz.errors import InvalidArgumentError
from kerasviz.evaluation import _common
from kerasviz.visualizer import Visualizer


def sensitivity_max(model, images, target="max", method: methods_lib.MethodLike = None, rule: str = "saliency",
                    radius: float = 0.02, samples: int = 8, seed: int = 0, *,
                    batch_size: int | None = None) -> np.ndarray:
    """The largest relative change of the map over `samples` noisy copies (lower is better).

    Args:
        model: a Keras model, or a `kv.Visualizer` that has `rule`.
        images: `(N, H, W, C)`.
        target: `"max"`, an int, or one int per image. Defaults to `"max"`.
        method: the method making the maps (`kv.methods`). Defaults to
            `None` (the gradient).
        rule: the backward rule. Defaults to `"saliency"`.
        radius: the noise's half-width as a fraction of each image's value
            range. Defaults to `0.02`.
        samples: noisy copies per image. Defaults to `8`.
        seed: an int >= 0. Defaults to `0`.
        batch_size: forward images per batch. Defaults to `None`.

    Returns:
        `(N,)` float64 (NaN where `map(x)` is all zero).

    Raises:
        InvalidArgumentError: for a bad argument, or a rule the Visualizer lacks.

    Example:

    ```python
    kv.evaluation.sensitivity_max(model, images, target=3, rule="guided", radius=0.02)
    ```
    """
    return _changes(model, images, target, method, rule, radius, samples, seed, batch_size).max(axis=1)


def stability(model, images, target="max", method: methods_lib.MethodLike = None, rule: str = "saliency",
              radius: float = 0.02, samples: int = 8, seed: int = 0, *,
              batch_size: int | None = None) -> np.ndarray:
    """The mean relative change of the map over `samples` noisy copies (lower is better).

    Arguments, returns and errors as for `sensitivity_max`.

    Example:

    ```python
    kv.evaluation.stability(model, images, target=3, method=kv.methods.GradCAM())
    ```
    """
    return _changes(model, images, target, method, rule, radius, samples, seed, batch_size).mean(axis=1)


def _changes(model, images, target, method, rule, radius, samples, seed, batch_size) -> np.ndarray:
    radius = _common.non_negative(radius, "radius", "e.g. 0.02 (2 % of each image's value range)")
    samples = _common.positive(samples, "samples")
    seed = _validation.seed(seed, non_negative=True)
    (rule,) = rules_lib.canonical_names((rule,))
    method = methods_lib.resolve(method)
    viz = model if isinstance(model, Visualizer) else _common.visualizer(model, batch_size)
    if isinstance(model, Visualizer) and rule not in viz.rules:
        raise InvalidArgumentError(
            f"The Visualizer has no rule {rule!r}; its rules are {list(viz.rules)}. Received: rule={rule!r}"
        )
    if not isinstance(model, Visualizer) and rule != "saliency":
        viz = Visualizer(model, rules=(rule,), batch_size=batch_size or 32, on_unsupported="keep")
    images, _, fixed, batch = _common.prepared(viz, images, None, target, batch_size)
    classes = fixed.aux(len(images), viz.num_classes)[:, 0] if isinstance(fixed, targets_lib.Classes) else fixed
    reference = viz(images, target=classes, method=method, batch_size=batch, progress=False)[rule]
    reference = reference.reshape(len(images), -1).astype(np.float64)
    norms = np.linalg.norm(reference, axis=1)
    changes = np.empty((len(images), samples))
    for s in range(samples):
        noisy = np.empty_like(images)
        for i in range(len(images)):
            r = radius * (float(images[i].max()) - float(images[i].min()))
            rng = np.random.default_rng([seed, i, s])
            noisy[i] = images[i] + rng.uniform(-r, r, images.shape[1:]).astype(np.float32)
        maps = viz(noisy, target=classes, method=method, batch_size=batch, progress=False)[rule]
        difference = np.linalg.norm(maps.reshape(len(images), -1) - reference, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            changes[:, s] = np.where(norms > 0, difference / norms, np.nan)
    return changes

"""What every metric shares: the Visualizer, the checked images, maps and target."""

from __future__ import annotations

import numpy as np

from kerasviz import _validation
from kerasviz.errors import InvalidArgumentError, InvalidTargetError, UnsupportedModelError
from kerasviz.perturbation import _with_baseline, fixed_target
from kerasviz.visualizer import Visualizer


def visualizer(model, batch_size: int | None) -> Visualizer:
    """`model` itself when it is a `Visualizer`, else a saliency-only one (logits, ReLUs kept as they are)."""
    if isinstance(model, Visualizer):
        return model
    import keras

    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            "The metrics take a keras.Model or a kv.Visualizer. "
            f"Received: model of type {type(model).__name__}"
        )
    return Visualizer(model, rules=("saliency",), batch_size=batch_size or 32, on_unsupported="keep")


def prepared(viz: Visualizer, images, maps, target, batch_size: int | None):
    """`(images, maps (N, H, W, C') as float64, one-score target, batch)` after the checks.

    Maps may be `(N, H, W)` or `(N, H, W, C)` like the images.
    """
    images = _validation.image_batch(images, viz.input_shape)
    batch = _validation.positive_int(batch_size or viz.batch_size, "batch_size")
    if maps is not None:
        maps = np.asarray(maps)
        if maps.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"`maps` must be numbers. Received: dtype={maps.dtype}")
        if maps.shape == images.shape[:3]:
            maps = maps[..., None]
        if maps.shape[:3] != images.shape[:3] or maps.ndim != 4 or maps.shape[-1] not in (1, images.shape[-1]):
            raise InvalidArgumentError(
                f"`maps` must be one map per image, (N, H, W) or shaped like the images "
                f"{images.shape}. Received: maps shape={maps.shape}"
            )
        if not np.isfinite(maps).all():
            raise InvalidArgumentError(
                f"`maps` hold NaN or Inf; judge only finite maps. Received: maps shape={maps.shape}"
            )
        maps = maps.astype(np.float64)
    resolved = fixed_target(viz, images, viz._target(target, None), batch)
    if resolved.num_scores is not None:
        raise InvalidTargetError(
            "The metrics judge one map per image: give one class per image (an int or (N,) ints), "
            f"not several. Received: target shape={np.shape(target)}"
        )
    return images, maps, resolved, batch


def image_baseline(images: np.ndarray, baseline) -> np.ndarray:
    """The baseline as one full image."""
    from kerasviz.methods import _baseline

    return _with_baseline(images, _baseline(baseline))


def positive(value, name: str) -> int:
    return _validation.positive_int(value, name)


def fraction(value, name: str, example: str) -> float:
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
          and 0.0 < float(value) < 1.0)
    if not ok:
        raise InvalidArgumentError(
            f"`{name}` must be a number strictly between 0 and 1, {example}. Received: {name}={value!r}"
        )
    return float(value)


def non_negative(value, name: str, example: str) -> float:
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
          and np.isfinite(float(value)) and float(value) >= 0)
    if not ok:
        raise InvalidArgumentError(
            f"`{name}` must be a finite number >= 0, {example}. Received: {name}={value!r}"
        )
    return float(value)


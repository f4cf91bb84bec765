"""FGSM adversarial examples for experiment E7 (docs/paper.md), checked after uint8 rounding.

The Fast Gradient Sign Method moves every pixel by ±ε along the sign of the
gradient of the cross-entropy loss (at the predicted class):
`x_adv = clip(x + ε · sign(∇_x CE(f(x), ŷ)), lo, hi)`. E7 wants the *smallest*
ε that flips the top-1 class, so `minimal_fgsm` scans a fine grid of ε (steps
of `step` grey levels, i.e. `step / 255` of the input range) and keeps the
first ε whose image still flips **after rounding to uint8**, the form an image
is stored and shown in. `fgsm` applies one fixed ε (E7's ε ∈ {1, 2, 4, 8}/255
of the range).

Every function takes `value_range`: `(0, 1)` for Fashion-MNIST as
`kv.data.fashion_mnist` returns it, `(0, 255)` for raw RGB photos fed to the
zoo's VGG-16. Rounding to uint8 means `round(x · 255 / range) · range / 255`.

Example:

```python
import kerasviz as kv
from kerasviz.analysis import adversarial

net = kv.zoo.fashion_cnn(weights="trained")
(_, _), (x_test, _) = kv.data.fashion_mnist()
result = adversarial.minimal_fgsm(net, x_test[:8])
result.flipped, result.epsilon * 255  # which images flip, at how many grey levels
```

References:
    Goodfellow, Shlens, Szegedy. "Explaining and Harnessing Adversarial
    Examples". ICLR 2015.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz.errors import InvalidInputError

__all__ = [
    "FIXED_EPSILONS",
    "FGSMResult",
    "fgsm",
    "fgsm_direction",
    "minimal_fgsm",
    "predict_classes",
    "quantize",
]

#: The fixed budgets of E7, in grey levels (multiples of range / 255).
FIXED_EPSILONS: tuple[int, ...] = (1, 2, 4, 8)


@dataclasses.dataclass
class FGSMResult:
    """The outcome of `minimal_fgsm` for a batch of images.

    Attributes:
        x_adv: `(N, ...)` adversarial images, rounded to uint8 levels (the
            original image where no ε of the grid flipped it).
        epsilon: `(N,)` the smallest grid ε (input units) whose *rounded*
            image flips the top-1 class; `nan` where none did.
        epsilon_float: `(N,)` the smallest grid ε whose unrounded image
            flips; `nan` where none did.
        linf: `(N,)` the measured ‖x_adv − x‖∞ after rounding (0 where
            nothing flipped).
        class_x: `(N,)` top-1 class of x.
        class_adv: `(N,)` top-1 class of x_adv.
        flipped: `(N,)` bool, whether the rounded x_adv has another top-1
            class than x.
    """

    x_adv: np.ndarray
    epsilon: np.ndarray
    epsilon_float: np.ndarray
    linf: np.ndarray
    class_x: np.ndarray
    class_adv: np.ndarray
    flipped: np.ndarray


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "`value_range` must be a pair (low, high), e.g. (0, 1) or (0, 255). "
            f"Received: value_range={value_range!r}"
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise InvalidInputError(
            "`value_range` must be finite with high > low. "
            f"Received: value_range={value_range!r}"
        )
    return lo, hi


def _check_images(images) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim < 2 or x.shape[0] == 0:
        raise InvalidInputError(
            "`images` must be a non-empty batch shaped (N, ...). "
            f"Received: shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise InvalidInputError(f"`images` contain NaN or Inf. Received: shape={x.shape}")
    return x


def quantize(images, value_range: Sequence[float] = (0.0, 1.0)) -> np.ndarray:
    """Round images to the 256 uint8 levels of `value_range` (and clip to it).

    Args:
        images: array of any shape, on the scale of `value_range`.
        value_range: `(low, high)` of the pixel scale. Defaults to `(0, 1)`.

    Returns:
        float32 array, each value `low + k · (high − low) / 255` for an
        integer `k` in 0..255 (ties round half up).

    Example:

    ```python
    quantize(np.array([0.0021, 0.5]))  # [0.00392157, 0.50196081] = [1/255, 128/255]
    ```
    """
    lo, hi = _check_range(value_range)
    scale = (hi - lo) / 255.0
    levels = np.floor((np.asarray(images, np.float64) - lo) / scale + 0.5)
    return (lo + np.clip(levels, 0, 255) * scale).astype(np.float32)


def predict_classes(model: keras.Model, images, batch_size: int = 256) -> np.ndarray:
    """Top-1 classes of `images` under `model` (argmax of its output)."""
    x = _check_images(images)
    out = [
        np.asarray(model(tf.constant(x[i : i + batch_size]), training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out).argmax(axis=-1)


def fgsm_direction(model: keras.Model, images, labels=None) -> np.ndarray:
    """sign(∇_x CE(logits(x), label)), the FGSM step direction.

    The model must return logits (as every `kv.zoo` network does). Labels
    default to the predicted classes. For an image whose softmax is so
    saturated that the cross-entropy gradient underflows to exactly zero, the
    gradient of the margin `max_{k≠y} z_k − z_y` is used instead (same
    direction in the unsaturated case).

    Args:
        model: a Keras model returning logits.
        images: `(N, ...)` images as the model takes them.
        labels: `(N,)` classes to move away from. Defaults to `None` (predicted).

    Returns:
        float32 array shaped like `images` with entries in {−1, 0, 1}.
    """
    x = tf.constant(_check_images(images))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        logits = tf.cast(model(x, training=False), tf.float32)
        y = tf.argmax(logits, axis=-1) if labels is None else tf.constant(np.asarray(labels).reshape(-1))
        y = tf.cast(y, tf.int32)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        onehot = tf.one_hot(y, tf.shape(logits)[-1], dtype=logits.dtype)
        margin = tf.reduce_max(logits - 1e30 * onehot, axis=-1) - tf.reduce_sum(logits * onehot, axis=-1)
    grad = tape.gradient(loss, x).numpy()
    flat = grad.reshape(len(grad), -1)
    dead = ~np.any(flat != 0, axis=1)
    if dead.any():
        grad_margin = tape.gradient(margin, x).numpy()
        grad[dead] = grad_margin[dead]
    del tape
    return np.sign(grad).astype(np.float32)


def fgsm(
    model: keras.Model,
    images,
    epsilon: float,
    *,
    value_range: Sequence[float] = (0.0, 1.0),
    round_to_uint8: bool = True,
    direction: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One FGSM step of size `epsilon` (input units), clipped to `value_range`.

    Args:
        model: a Keras model returning logits.
        images: `(N, ...)` clean images.
        epsilon: the step, in input units (e.g. `2 / 255` for Fashion-MNIST,
            `2.0` for raw RGB in [0, 255]), >= 0.
        value_range: `(low, high)` of the pixels. Defaults to `(0, 1)`.
        round_to_uint8: round the result to uint8 levels. Defaults to `True`.
        direction: a precomputed `fgsm_direction`. Defaults to `None`.

    Returns:
        `(x_adv, flipped)`: the adversarial images and a bool `(N,)` array
        saying whether their top-1 class differs from that of `images`.

    Raises:
        InvalidInputError: on bad images, range or a negative ε.

    Example:

    ```python
    x_adv, flipped = fgsm(net, x, 4 / 255)
    ```
    """
    x = _check_images(images)
    lo, hi = _check_range(value_range)
    if not (np.isfinite(epsilon) and epsilon >= 0):
        raise InvalidInputError(f"`epsilon` must be a finite number >= 0. Received: epsilon={epsilon!r}")
    sign = fgsm_direction(model, x) if direction is None else np.asarray(direction, np.float32)
    x_adv = np.clip(x + np.float32(epsilon) * sign, lo, hi).astype(np.float32)
    if round_to_uint8:
        x_adv = quantize(x_adv, (lo, hi))
    flipped = predict_classes(model, x_adv) != predict_classes(model, x)
    return x_adv, flipped


def minimal_fgsm(
    model: keras.Model,
    images,
    *,
    value_range: Sequence[float] = (0.0, 1.0),
    step: float = 0.2,
    max_epsilon: float = 64.0,
    chunk: int = 32,
) -> FGSMResult:
    """The smallest FGSM ε on a fine grid that flips top-1, re-checked after uint8 rounding.

    The grid is `ε_k = k · step · (high − low) / 255`, k = 1, 2, …, up to
    `max_epsilon` grey levels; the default step of 0.2 grey levels never
    lands on a rounding tie. For each image the grid is scanned from small
    to large, `chunk` values per batch, until an ε flips the top-1 class of
    the *rounded* image; the smallest ε that flips the unrounded image is
    recorded too (`epsilon_float`, usually a little smaller).

    Args:
        model: a Keras model returning logits.
        images: `(N, ...)` clean images on the uint8 grid of `value_range`
            (use `quantize` first, otherwise rounding alone moves them).
        value_range: `(low, high)` of the pixels. Defaults to `(0, 1)`.
        step: grid step in grey levels (1/255 of the range). Defaults to `0.2`.
        max_epsilon: the largest ε tried, in grey levels. Defaults to `64`.
        chunk: ε values evaluated per forward batch. Defaults to `32`.

    Returns:
        An `FGSMResult` (see there); images that never flip keep
        `flipped=False` and `epsilon=nan`.

    Raises:
        InvalidInputError: on bad images, range, step or max_epsilon.

    Example:

    ```python
    r = minimal_fgsm(net, x_test[:4])
    r.class_x, r.class_adv, r.epsilon * 255
    ```
    """
    x = _check_images(images)
    lo, hi = _check_range(value_range)
    if not (np.isfinite(step) and step > 0 and np.isfinite(max_epsilon) and max_epsilon >= step):
        raise InvalidInputError(
            "`step` must be > 0 and `max_epsilon` >= step (both in grey levels). "
            f"Received: step={step!r}, max_epsilon={max_epsilon!r}"
        )
    level = (hi - lo) / 255.0
    grid = np.arange(1, int(np.floor(max_epsilon / step + 1e-9)) + 1) * step * level
    sign = fgsm_direction(model, x)
    class_x = predict_classes(model, x)
    n = len(x)
    result = FGSMResult(
        x_adv=x.copy(),
        epsilon=np.full(n, np.nan),
        epsilon_float=np.full(n, np.nan),
        linf=np.zeros(n),
        class_x=class_x.copy(),
        class_adv=class_x.copy(),
        flipped=np.zeros(n, bool),
    )
    for i in range(n):
        for start in range(0, len(grid), chunk):
            eps = grid[start : start + chunk].astype(np.float32)
            shape = (len(eps),) + (1,) * (x.ndim - 1)
            raw = np.clip(x[i][None] + eps.reshape(shape) * sign[i][None], lo, hi).astype(np.float32)
            rounded = quantize(raw, (lo, hi))
            classes = predict_classes(model, np.concatenate([raw, rounded]))
            raw_flip = classes[: len(eps)] != class_x[i]
            round_flip = classes[len(eps) :] != class_x[i]
            if np.isnan(result.epsilon_float[i]) and raw_flip.any():
                result.epsilon_float[i] = float(eps[np.argmax(raw_flip)])
            if round_flip.any():
                j = int(np.argmax(round_flip))
                result.epsilon[i] = float(eps[j])
                result.x_adv[i] = rounded[j]
                result.class_adv[i] = classes[len(eps) + j]
                result.linf[i] = float(np.max(np.abs(rounded[j] - x[i])))
                result.flipped[i] = True
                break
    return result

"""What scalar per sample is differentiated.

A target turns the model's outputs (pre-softmax logits, unless it says
otherwise) into one score per sample, or `K` scores per sample for `K`
classes at once. `resolve` accepts the short forms the `Visualizer` takes:

| spec | meaning |
|------|---------|
| `"max"` | the largest logit of each sample (the paper's default) |
| `3` | logit 3 of every sample |
| `[3, 1, 0]` | one class per sample |
| `[[3, 1], [0, 2]]` (N, K) | K classes per sample; maps are `(N, K, H, W, C)` |
| `"random"` | a seeded random class, never the predicted one |
| `"loss"` | the paper's `cost`: sum_k (softmax(z)_k - onehot(label)_k)^2 |
| callable | `f(outputs) -> (N,)` tensor |
| `Neuron(layer, channel)` | a channel of an inner layer |
| `Region(class_index, mask)` | segmentation: a class's logits summed over a mask of the output's positions |

A regression head is a model whose output has one unit: `"max"` (the
largest of one logit) and `0` are both that unit, the predicted value.

Example:

```python
import kerasviz as kv

kv.targets.resolve("max")          # MaxLogit()
kv.targets.resolve([[3, 1]])       # Classes, two classes per sample
kv.targets.Neuron("block5_conv3", 7)
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from kerasviz import _validation
from kerasviz.errors import InvalidTargetError, UnknownTargetError


class Target:
    """Base class: one score (or `num_scores` scores) per sample.

    Subclasses implement `scores(outputs, aux)`, a TensorFlow function of the
    model outputs, and optionally `aux(num_samples, num_classes)`, per-sample
    NumPy data computed once per call (class indices, random offsets...).
    """

    #: the inner layer whose output `scores` reads (`None`: the model output).
    layer: str | None = None

    @property
    def num_scores(self) -> int | None:
        """`K` when the target gives K scores per sample, else `None`."""
        return None

    def aux(self, num_samples: int, num_classes: int) -> np.ndarray:
        """Per-sample data for `scores`, shaped `(num_samples, ...)`."""
        return np.zeros((num_samples, 1), np.int32)

    def scores(self, outputs: tf.Tensor, aux: tf.Tensor) -> tf.Tensor:
        """Scores `(N,)` (or `(N, K)`) to differentiate."""
        raise NotImplementedError

    def check(self, shape) -> None:
        """Raise `InvalidTargetError` if the target does not fit outputs of `shape`."""

    #: whether `scores` picks classes from the model's own prediction ("max", "random", ...).
    reads_prediction: bool = False

    def for_predicted(self, predicted: np.ndarray, num_classes: int) -> Target:
        """This target with the classes it reads off the prediction fixed to `predicted`.

        Methods that differentiate copies of each image (the noisy copies of
        `kv.methods.SmoothGrad`, the path points of
        `kv.methods.IntegratedGradients`) call it with the classes the model
        predicts for the original images, so that every copy is
        differentiated for the class chosen on the original. Targets with
        `reads_prediction` false return themselves.

        Args:
            predicted: the predicted class of each image, shaped `(N,)`.
            num_classes: the number of classes of the explained output.

        Returns:
            A `Target` that does not depend on the prediction.
        """
        del predicted, num_classes
        return self

    def cache_key(self) -> tuple:
        """Targets with equal keys share one compiled function."""
        return (type(self).__name__, self.layer, self.num_scores)


def _gather(outputs: tf.Tensor, classes: tf.Tensor) -> tf.Tensor:
    return tf.gather(outputs, tf.cast(classes, tf.int32), axis=-1, batch_dims=1)


def _predicted(outputs: tf.Tensor) -> tf.Tensor:
    return tf.stop_gradient(tf.argmax(outputs, axis=-1, output_type=tf.int32))


class MaxLogit(Target):
    """The largest logit of each sample (`target="max"`)."""

    reads_prediction = True

    def for_predicted(self, predicted, num_classes):
        return Classes(np.asarray(predicted, np.int64))

    def scores(self, outputs, aux):
        return _gather(outputs, _predicted(outputs)[:, None])[:, 0]

    def __repr__(self):
        return "MaxLogit()"


class Classes(Target):
    """Given classes: one int for all samples, one per sample, or `(N, K)`.

    Args:
        classes: an int, a 1-D array of N ints or a 2-D `(N, K)` array.
    """

    def __init__(self, classes: int | Sequence[int] | np.ndarray):
        array = np.asarray(classes)
        if array.dtype.kind not in "iu" or array.ndim > 2:
            raise UnknownTargetError(
                "A class target is an int, a 1-D array of one int per sample or a "
                f"2-D (N, K) int array. Received: target={classes!r}"
            )
        self.classes = array.astype(np.int64)

    @property
    def num_scores(self):
        return int(self.classes.shape[1]) if self.classes.ndim == 2 else None

    def aux(self, num_samples, num_classes):
        classes = self.classes
        if classes.ndim == 0:
            classes = np.full((num_samples,), int(classes))
        if classes.shape[0] != num_samples:
            raise InvalidTargetError(
                f"The target gives classes for {classes.shape[0]} samples but "
                f"{num_samples} images were passed: give one class per image. "
                f"Received: target shape={self.classes.shape}"
            )
        bad = (classes < 0) | (classes >= num_classes)
        if bad.any():
            received = (
                int(self.classes) if self.classes.ndim == 0
                else np.unique(classes[bad])[:5].tolist()
            )
            raise InvalidTargetError(
                f"Class index out of range: the model has {num_classes} classes "
                f"(0..{num_classes - 1}). Received: target={received}"
            )
        return classes.reshape(num_samples, -1).astype(np.int32)

    def scores(self, outputs, aux):
        scores = _gather(outputs, aux)
        return scores if self.num_scores else scores[:, 0]

    def __repr__(self):
        return f"Classes({self.classes.tolist()!r})"


def _other_class_draws(num_samples: int, num_classes: int, count: int, seed: int) -> np.ndarray:
    """Per sample, `count` distinct indices into the `num_classes - 1` other classes."""
    rng = np.random.default_rng(seed)
    draws = [rng.choice(num_classes - 1, size=count, replace=False) for _ in range(num_samples)]
    return np.asarray(draws, np.int64).reshape(num_samples, count)


def random_other_classes(
    predicted: Sequence[int] | np.ndarray,
    num_classes: int,
    count: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Seeded random classes other than each sample's predicted one.

    The one implementation of "pick random other classes" in kerasviz: the
    `"random"` target, `kv.analysis.sanity_check`, `VisualizationCallback` and
    experiment E6 all draw with it. For sample `i` it draws `count` distinct
    classes uniformly from the `num_classes - 1` classes other than
    `predicted[i]`; samples are drawn in order from one
    `np.random.default_rng(seed)`, so equal arguments give equal classes.

    Args:
        predicted: the predicted class of each sample, shaped `(N,)`.
        num_classes: the number of classes (at least 2).
        count: classes to draw per sample, `1..num_classes - 1`. Defaults to `1`.
        seed: the random seed, an int >= 0. Defaults to `0`.

    Returns:
        An int64 array `(N, count)`: row `i` holds distinct classes in
        `0..num_classes - 1`, none equal to `predicted[i]`.

    Raises:
        InvalidTargetError: (a `ValueError`) if `num_classes < 2` or a
            predicted class is out of range.
        InvalidArgumentError: (a `ValueError`) for a bad `count` or `seed`.

    Example:

    ```python
    predicted = logits.argmax(axis=-1)                     # (N,)
    others = kv.targets.random_other_classes(predicted, 10, count=3, seed=0)
    maps = kv.visualize(model, images, target=others)      # (N, 3, H, W, C)
    ```
    """
    if not _validation.is_int(num_classes) or num_classes < 2:
        raise InvalidTargetError(
            "Random other classes need a model with at least 2 classes. "
            f"Received: num_classes={num_classes!r}"
        )
    count = _validation.positive_int(count, "count")
    if count > num_classes - 1:
        raise InvalidTargetError(
            f"There are only {num_classes - 1} classes other than the predicted one; "
            f"draw at most that many. Received: count={count}"
        )
    seed = _validation.seed(seed, non_negative=True)
    predicted = np.asarray(predicted)
    if predicted.ndim != 1 or predicted.dtype.kind not in "iu":
        raise InvalidTargetError(
            "predicted must be one int class per sample, shaped (N,). "
            f"Received: predicted with shape={predicted.shape}, dtype={predicted.dtype}"
        )
    bad = (predicted < 0) | (predicted >= num_classes)
    if bad.any():
        raise InvalidTargetError(
            f"Class index out of range: the model has {num_classes} classes "
            f"(0..{num_classes - 1}). Received: predicted={np.unique(predicted[bad])[:5].tolist()}"
        )
    draws = _other_class_draws(len(predicted), int(num_classes), count, seed)
    # Index j among the other classes is class j below the predicted one, j + 1 above it.
    return draws + (draws >= predicted[:, None])


class RandomClass(Target):
    """A seeded random class per sample, never the predicted one.

    The class of sample `i` is `random_other_classes(predicted, num_classes,
    1, seed)[i, 0]`, with `predicted` the model's top class.

    Args:
        seed: the random seed, an int >= 0. Defaults to `0`.

    Raises:
        InvalidArgumentError: (a `ValueError`) if `seed` is not an int >= 0.
    """

    def __init__(self, seed: int = 0):
        self.seed = _validation.seed(seed, non_negative=True)

    def aux(self, num_samples, num_classes):
        if num_classes < 2:
            raise InvalidTargetError(
                "target='random' needs a model with at least 2 classes. "
                f"Received: num_classes={num_classes}"
            )
        # The predicted classes are known in the graph only: `scores` maps these
        # draws to classes the way `random_other_classes` does.
        return _other_class_draws(num_samples, num_classes, 1, self.seed).astype(np.int32)

    reads_prediction = True

    def for_predicted(self, predicted, num_classes):
        return Classes(random_other_classes(np.asarray(predicted), num_classes, 1, self.seed)[:, 0])

    def scores(self, outputs, aux):
        predicted = _predicted(outputs)[:, None]
        classes = aux + tf.cast(aux >= predicted, aux.dtype)
        return _gather(outputs, classes)[:, 0]

    def __repr__(self):
        return f"RandomClass(seed={self.seed})"


class Loss(Target):
    """The paper's `cost`: sum_k (softmax(z)_k - onehot(label)_k)^2.

    Args:
        labels: one int label per sample, or `None` to use the predicted
            class. Defaults to `None`.
    """

    def __init__(self, labels: Sequence[int] | np.ndarray | None = None):
        self.labels = None if labels is None else np.asarray(labels)

    def aux(self, num_samples, num_classes):
        if self.labels is None:
            return np.full((num_samples, 1), -1, np.int32)
        return Classes(self.labels.reshape(-1)).aux(num_samples, num_classes)

    @property
    def reads_prediction(self):
        return self.labels is None

    def for_predicted(self, predicted, num_classes):
        return Loss(np.asarray(predicted, np.int64)) if self.labels is None else self

    def scores(self, outputs, aux):
        labels = tf.where(aux[:, 0] < 0, _predicted(outputs), aux[:, 0])
        onehot = tf.one_hot(labels, tf.shape(outputs)[-1], dtype=outputs.dtype)
        return tf.reduce_sum(tf.square(tf.nn.softmax(outputs) - onehot), axis=-1)

    def __repr__(self):
        return "Loss()" if self.labels is None else f"Loss(labels={self.labels.tolist()!r})"


class Function(Target):
    """A callable `f(outputs) -> (N,)` tensor of scores."""

    def __init__(self, fn: Callable[[tf.Tensor], tf.Tensor]):
        self.fn = fn

    def scores(self, outputs, aux):
        scores = self.fn(outputs)
        if scores.shape.rank != 1:
            raise InvalidTargetError(
                "A callable target must return one score per sample, shaped (N,). "
                f"Received: shape={tuple(scores.shape)} from {self.fn!r}"
            )
        return scores

    def cache_key(self):
        return ("Function", id(self.fn))

    def __repr__(self):
        return f"Function({self.fn!r})"


class Neuron(Target):
    """A channel of an inner layer: its sum over space, or one unit.

    Args:
        layer: the layer's name, or its path into nested models
            (`"mobilenetv2_1.00_224/block_16_project"`, see `kv.layer_paths`).
            Any layer works; for a layer with a fused ReLU, the unit is taken
            after the ReLU, as in the original. A shared layer gives its
            first call's output.
        channel: index along the last axis.
        position: spatial index (e.g. `(row, col)`) of one unit, or `None` to
            sum the channel over all positions. Defaults to `None`.

    Example:

    ```python
    maps = kv.visualize(vgg, images, target=kv.targets.Neuron("block5_conv3", 7))
    ```

    Raises:
        UnknownTargetError: (a `ValueError`) for a layer that is not a name, a
            channel that is not an int or a position that is not ints.
        InvalidTargetError: (a `ValueError`) when used, for a channel or
            position outside the layer's output, or an unknown layer.
    """

    def __init__(self, layer: str, channel: int, position: Sequence[int] | None = None):
        if not isinstance(layer, str) or not layer:
            raise UnknownTargetError(
                f"Neuron(layer, channel) names the layer by its name. Received: layer={layer!r}"
            )
        if not _validation.is_int(channel):
            raise UnknownTargetError(
                f"Neuron(layer, channel): the channel is an int index along the "
                f"layer's last axis. Received: channel={channel!r}"
            )
        if position is not None:
            try:
                position = tuple(position)
            except TypeError:
                position = (position,)
            if not all(_validation.is_int(p) for p in position):
                raise UnknownTargetError(
                    "Neuron(layer, channel, position): the position is a tuple of "
                    "int indices, one per spatial axis of the layer's output, e.g. "
                    f"(row, col). Received: position={position!r}"
                )
            position = tuple(int(p) for p in position)
        self.layer = layer
        self.channel = int(channel)
        self.position = position

    def check(self, shape: Sequence[int | None]) -> None:
        """Check `channel` and `position` against the layer's output shape `(N, ..., C)`.

        Raises:
            InvalidTargetError: for a channel or position outside the output.
        """
        shape = tuple(shape)
        channels = shape[-1]
        if channels is not None and not 0 <= self.channel < channels:
            raise InvalidTargetError(
                f"Layer {self.layer!r} has {channels} channels (0..{channels - 1}). "
                f"Received: channel={self.channel}"
            )
        if self.position is None:
            return
        spatial = shape[1:-1]
        if len(self.position) != len(spatial):
            raise InvalidTargetError(
                f"Layer {self.layer!r} has output shape {shape}: a position has "
                f"{len(spatial)} index(es), one per axis between the batch and the "
                f"channels{' (pass position=None)' if not spatial else ''}. "
                f"Received: position={self.position}"
            )
        for index, size in zip(self.position, spatial):
            if size is not None and not 0 <= index < size:
                raise InvalidTargetError(
                    f"Position out of range: layer {self.layer!r} has output shape "
                    f"{shape}, so each index lies in 0..size-1 of its axis "
                    f"({', '.join(f'0..{d - 1}' if d else '?' for d in spatial)}). "
                    f"Received: position={self.position}"
                )

    def scores(self, outputs, aux):
        self.check(tuple(outputs.shape))
        values = outputs[..., self.channel]
        if self.position is not None:
            return values[(slice(None), *self.position)]
        return tf.reduce_sum(tf.reshape(values, (tf.shape(values)[0], -1)), axis=-1)

    def cache_key(self):
        return ("Neuron", self.layer, self.channel, self.position)

    def __repr__(self):
        return f"Neuron({self.layer!r}, {self.channel}, position={self.position})"


class Region(Target):
    """Segmentation: one class's logits summed over a region of the output.

    For an output `(N, H', W', K)` (or any `(N, ..., K)`: a sequence
    labelling `(N, T, K)`), the score of sample `i` is
    `Σ_p mask_i[p] · outputs_i[p, class_index]`, the sum running over the
    output's positions. The mask is the same for every sample, `(H', W')`,
    or one per sample, `(N, H', W')`; it may be boolean or weights.

    Args:
        class_index: the class (index along the output's last axis).
        mask: `(H', W')` or `(N, H', W')`, at the output's resolution.

    Raises:
        UnknownTargetError: (a `ValueError`) for a class that is not an int,
            or a mask that is not a finite numeric array.
        InvalidTargetError: (a `ValueError`) when used, for a mask whose
            shape is not the output's positions, a mask per sample for
            another number of samples, or a class out of range.

    Example:

    ```python
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    maps = kv.visualize(segmenter, images, target=kv.targets.Region(2, mask))
    ```
    """

    def __init__(self, class_index: int, mask):
        if not _validation.is_int(class_index):
            raise UnknownTargetError(
                f"Region(class_index, mask): the class is an int index along the output's last axis. "
                f"Received: class_index={class_index!r}"
            )
        try:
            array = np.asarray(mask)
        except Exception:  # noqa: BLE001 - anything not array-like
            array = np.asarray(None, dtype=object)
        if array.dtype.kind not in "biuf" or array.ndim < 1 or not np.isfinite(array.astype(np.float64)).all():
            raise UnknownTargetError(
                "Region(class_index, mask): the mask is a finite numeric or boolean array shaped like the "
                f"output's positions, (H', W') or (N, H', W'). Received: mask of shape {array.shape} "
                f"and dtype {array.dtype}"
            )
        self.class_index = int(class_index)
        self.mask = array.astype(np.float32)

    def check(self, shape):
        shape = tuple(shape)
        positions = shape[1:-1]
        if shape[-1] is not None and not 0 <= self.class_index < shape[-1]:
            raise InvalidTargetError(
                f"The output has {shape[-1]} classes (0..{shape[-1] - 1}). Received: class_index={self.class_index}"
            )
        fits = bool(positions) and self.mask.ndim >= len(positions) and all(
            p is None or p == m for p, m in zip(positions, self.mask.shape[-len(positions):]))
        if not fits or self.mask.ndim not in (len(positions), len(positions) + 1):
            raise InvalidTargetError(
                f"The mask must be shaped like the output's positions, {positions} (or one per sample, "
                f"(N, *{positions})), for the output {_validation.shape_text(shape)}. "
                f"Received: mask shape={self.mask.shape}"
            )
        self._positions_rank = len(positions)

    def aux(self, num_samples, num_classes):
        # `check` (called first, on the output's shape) says how many axes the positions have.
        if self.mask.ndim == self._positions_rank:
            return np.broadcast_to(self.mask, (num_samples, *self.mask.shape))
        if self.mask.shape[0] != num_samples:
            raise InvalidTargetError(
                f"A mask per sample needs one mask for each of the {num_samples} samples. "
                f"Received: mask shape={self.mask.shape}"
            )
        return self.mask

    def scores(self, outputs, aux):
        values = outputs[..., self.class_index] * tf.cast(aux, outputs.dtype)
        return tf.reduce_sum(tf.reshape(values, (tf.shape(values)[0], -1)), axis=-1)

    def cache_key(self):
        return ("Region", self.class_index, self.mask.ndim)

    def __repr__(self):
        return f"Region({self.class_index}, mask={_validation.shape_text(self.mask.shape)})"


TargetLike = Union[str, int, Sequence[int], np.ndarray, Callable, Target]

_NAMED = {"max": MaxLogit, "loss": Loss}


def resolve(target: TargetLike, *, seed: int = 0) -> Target:
    """Turn a target spec into a `Target`.

    Args:
        target: see the table in this module's docstring.
        seed: seed for `"random"`. Defaults to `0`.

    Returns:
        A `Target`.

    Raises:
        UnknownTargetError: (a `ValueError`) for anything else.
    """
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        name = target.strip().lower()  # like rule names: "MAX", "Random" work
        if name == "random":
            return RandomClass(seed)
        if name in _NAMED:
            return _NAMED[name]()
        raise UnknownTargetError(
            "Unknown target. Use 'max', 'random', 'loss', a class index, an "
            "array of class indices, a callable f(outputs) -> (N,), or "
            f"kv.targets.Neuron(layer, channel). Received: target={target!r}"
        )
    if callable(target):
        return Function(target)
    if isinstance(target, (bool, np.bool_)):
        raise UnknownTargetError(f"A target cannot be a bool. Received: target={target!r}")
    try:
        return Classes(target)
    except UnknownTargetError:
        raise
    except (TypeError, ValueError) as err:
        raise UnknownTargetError(
            f"Cannot read the target as class indices ({err}). Received: target={target!r}"
        ) from err

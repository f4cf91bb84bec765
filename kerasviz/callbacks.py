"""`VisualizationCallback`: saliency, DeconvNet and GBP maps in TensorBoard during `fit`.

The callback watches a fixed set of images while a model trains. At every
logging step it computes each rule's map of each image with the model's
*current* weights and writes, into the same `log_dir` as
`keras.callbacks.TensorBoard`:

| what | tag | step |
|------|-----|------|
| image and map side by side, one picture per image | `kerasviz/{rule}` | epoch (0-based), or the global batch count with `every_n_batches` |
| class sensitivity, 1 − SSIM(max-logit map, random-class map) | `kerasviz/{rule}/class_sensitivity` | same |
| image recovery, Pearson r of the map with the image | `kerasviz/{rule}/recovery` | same |

Layout: `keras.callbacks.TensorBoard(log_dir)` writes the runs
`log_dir/train` and `log_dir/validation`; this callback writes the run
`log_dir/kerasviz` (the `run_name` argument), so TensorBoard lists the three
runs side by side: `tensorboard --logdir log_dir`. Steps use the same
convention as Keras's callback (epochs from 0; batches counted from 1 over the
whole `fit`), so the curves line up with `epoch_loss` and `batch_loss`.

With `png_dir`, each logging step also writes one PNG grid there
(`epoch_0003.png` or `batch_000120.png`): one row per image, the image then
one map per rule.

The model is rewritten once per `fit` (`kv.Visualizer`, which shares the
model's variables), so each step sees the live weights without cloning the
model again. Training is not changed: no weights, layers or optimizer state
are touched, nothing draws from a global random generator (the random classes
come from a seeded NumPy generator), and a seeded `fit` ends with the same
weights with and without the callback.

Example:

```python
import keras
import numpy as np
import kerasviz as kv

model = keras.Sequential([
    keras.Input((16, 16, 1)),
    keras.layers.Conv2D(8, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(4, activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy")
x = np.random.default_rng(0).uniform(size=(64, 16, 16, 1)).astype("float32")
y = np.arange(64) % 4
callbacks = [
    keras.callbacks.TensorBoard("logs"),
    kv.callbacks.VisualizationCallback(x[:4], log_dir="logs"),
]
model.fit(x, y, epochs=2, callbacks=callbacks, verbose=0)
# tensorboard --logdir logs  ->  runs train, kerasviz; images kerasviz/guided, ...
```
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import _validation, render
from kerasviz import methods as methods_lib
from kerasviz import rules as rules_lib
from kerasviz import targets as targets_lib
from kerasviz.analysis import metrics
from kerasviz.errors import (
    InvalidArgumentError,
    InvalidInputError,
    InvalidTargetError,
    KerasvizError,
    UnsupportedModelError,
)
from kerasviz.rewrite import _check_activations
from kerasviz.visualizer import Visualizer

__all__ = ["VisualizationCallback"]


class VisualizationCallback(keras.callbacks.Callback):
    """Logs backprop maps and their sanity scores to TensorBoard while a model trains.

    At each logging step, for every rule, it writes an image summary
    `kerasviz/{rule}` (each image of the set beside its map, as
    `kv.render.tile_row` draws it) and, unless `scores=False`, two scalars:

    - `kerasviz/{rule}/class_sensitivity`: the mean over images and
      `num_random_classes` seeded random classes (never the predicted one) of
      `1 - kv.analysis.metrics.random_logit_ssim(max-logit map,
      random-class map)` (Sixt et al. 2020). Near 0: the map does not depend
      on the class explained.
    - `kerasviz/{rule}/recovery`: the mean over images of
      `kv.analysis.metrics.recovery(max-logit map, image)["r_image"]`. Near 1:
      the map is the image again (Nie et al. 2018).

    Both scores always use the max logit (the paper's default), whatever
    `target` the pictures show. They are also kept in `self.history`.

    With a `method` (`kv.methods`, e.g. `SmoothGrad()` or `GradCAM()`) the
    pictures and the scores are that method's maps, and every tag gains the
    method's name: `kerasviz/{method}/{rule}`, e.g. `kerasviz/gradcam/saliency`
    (so callbacks with different methods can share one run). Grad-CAM maps
    are drawn as a heat map over the image; their scores treat the CAM as a
    one-channel map (recovery against the image's channel mean), as
    `kv.analysis.sanity_check` does.

    The run directory is `log_dir/run_name` (`log_dir/kerasviz` by default),
    next to the `train` and `validation` runs of `keras.callbacks.TensorBoard`
    with the same `log_dir`. Steps follow that callback: the epoch index
    (from 0), or with `every_n_batches` the number of batches trained since
    `fit` began (from 1).

    Args:
        images: `(N, H, W, C)` images exactly as the model takes them (or as
            `preprocess` takes them). Keep N small (4–8): every map is
            recomputed at every logging step.
        log_dir: the TensorBoard log directory (the one given to
            `keras.callbacks.TensorBoard`, if any).
        rules: rule names or aliases. Defaults to `kv.RULES`.
        target: what the pictured maps explain: `"max"`, a class, one class
            per image, `"random"`, `"loss"` (uses `labels`), a callable or a
            `kv.targets.Target` giving one score per image. Defaults to
            `"max"`.
        every_n_epochs: log at the end of epochs `0, n, 2n, ...` (as
            Keras's `histogram_freq`). Defaults to `1`.
        every_n_batches: log every `n` training batches instead of at epoch
            ends (step = global batch count). Defaults to `None`.
        png_dir: also write one PNG grid per logging step into this folder
            (created if needed). Defaults to `None`.
        normalize: how maps are drawn, a key of `kv.render.NORMALIZATIONS`.
            Defaults to `"minmax"` (the paper's display).
        labels: the true class of each image, for `target="loss"`. Defaults
            to `None`.
        num_random_classes: random classes per image for the class
            sensitivity. Defaults to `3`.
        scores: write the scalar scores. Defaults to `True`.
        run_name: the sub-folder of `log_dir`, i.e. the TensorBoard run.
            Defaults to `"kerasviz"`.
        preprocess: a function applied to the images inside the gradient
            computation (see `kv.Visualizer`). Defaults to `None`.
        output: which output to explain for a multi-output model (see
            `kv.Visualizer`). Defaults to `None`.
        seed: seed of the random classes. Defaults to `0`.
        activations: `"relu"` (the rules act at ReLUs) or `"all"` (at every
            elementwise activation too; see `kv.rewrite`). Defaults to
            `"relu"`.
        method: how the gradients become maps: a `kv.methods` method or one
            of `kv.methods.NAMES`. Defaults to `None` (the rule's gradient).

    Raises:
        InvalidInputError: at construction, for images that are not a
            non-empty, finite `(N, H, W, C)` array, bad labels, `log_dir` or
            `run_name`; when training begins, for images that do not fit
            the model.
        InvalidArgumentError: (an `InvalidInputError`) at construction, for
            no rules or a bad `every_n_epochs`, `every_n_batches`,
            `normalize`, `num_random_classes` or `seed`.
        UnknownRuleError: for an unknown rule name.
        UnknownTargetError / InvalidTargetError: for a bad target.
        UnsupportedModelError: when training begins, for a model that
            `kv.Visualizer` cannot explain or that does not take images.

    Example:

    ```python
    cb = kv.callbacks.VisualizationCallback(
        x_val[:4], log_dir="logs", rules=("saliency", "guided"), png_dir="logs/png"
    )
    model.fit(x, y, epochs=3, callbacks=[keras.callbacks.TensorBoard("logs"), cb])
    cb.history["kerasviz/guided/class_sensitivity"]  # e.g. [(0, 0.14), (1, 0.13), (2, 0.13)]
    ```

    References:
        - Nie, Zhang, Patel. A Theoretical Explanation for Perplexing
          Behaviors of Backpropagation-based Visualizations. ICML 2018.
        - Sixt, Granz, Landgraf. When Explanations Lie: Why Many Modified BP
          Attributions Fail. ICML 2020.
    """

    def __init__(
        self,
        images,
        log_dir: str | os.PathLike,
        rules: Iterable[str] = rules_lib.RULES,
        target: targets_lib.TargetLike = "max",
        every_n_epochs: int = 1,
        every_n_batches: int | None = None,
        png_dir: str | os.PathLike | None = None,
        normalize: str = "minmax",
        labels: Sequence[int] | np.ndarray | None = None,
        *,
        num_random_classes: int = 3,
        scores: bool = True,
        run_name: str = "kerasviz",
        preprocess: Callable | None = None,
        output: int | str | None = None,
        seed: int = 0,
        activations: str = "relu",
        method: methods_lib.MethodLike = None,
    ):
        super().__init__()
        self.images = _validation.image_batch(images)
        self.log_dir = _folder(log_dir, "log_dir")
        self.rules: tuple[str, ...] = rules_lib.canonical_names(rules)
        self.every_n_epochs = _validation.positive_int(every_n_epochs, "every_n_epochs")
        if every_n_batches is not None:
            every_n_batches = _validation.positive_int(every_n_batches, "every_n_batches")
            if every_n_epochs != 1:
                raise InvalidInputError(
                    "Give every_n_epochs or every_n_batches, not both: with every_n_batches "
                    "the callback logs by batch and ignores epochs. Received: "
                    f"every_n_epochs={every_n_epochs!r}, every_n_batches={every_n_batches!r}"
                )
        self.every_n_batches = every_n_batches
        self.png_dir = None if png_dir is None else _folder(png_dir, "png_dir")
        self.normalize = _validation.one_of(normalize, "normalize", render.NORMALIZATIONS, what="normalization")
        self.labels = _check_labels(labels, len(self.images))
        self.target = targets_lib.resolve(target, seed=seed)
        if self.target.num_scores is not None:
            raise InvalidTargetError(
                "VisualizationCallback pictures one map per image: give one class per "
                "image, not several. Received: target with "
                f"{self.target.num_scores} classes per image"
            )
        if self.labels is not None and not isinstance(self.target, targets_lib.Loss):
            raise InvalidTargetError(
                "labels= is used by target='loss' only; for classes pass them as "
                f"the target. Received: target={target!r} with labels"
            )
        if isinstance(self.target, targets_lib.Loss) and self.labels is not None:
            self.target = targets_lib.Loss(self.labels)
        self.num_random_classes = _validation.positive_int(num_random_classes, "num_random_classes")
        self.scores = bool(scores)
        if not isinstance(run_name, str) or not run_name or os.sep in run_name:
            raise InvalidInputError(
                "run_name must be a non-empty folder name without a path separator, "
                f"e.g. 'kerasviz'. Received: run_name={run_name!r}"
            )
        self.run_name = run_name
        self.preprocess = preprocess
        self.output = output
        self.seed = _validation.seed(seed, non_negative=True)
        self.activations = _check_activations(activations)
        resolved = methods_lib.resolve(method)
        #: the `kv.methods` method of the maps, `None` for the gradient itself.
        self.method = None if isinstance(resolved, methods_lib.Gradient) else resolved
        #: `{tag: [(step, value), ...]}` of every scalar written.
        self.history: dict[str, list[tuple[int, float]]] = {}
        self._viz: Visualizer | None = None
        self._viz_model: keras.Model | None = None
        self._num_other_classes = 0
        self._writer = None
        self._batches_seen = 0
        self._epoch_start_batch = 0

    # -- paths ----------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        """The folder the event files go to: `log_dir/run_name`."""
        return os.path.join(self.log_dir, self.run_name)

    # -- Keras hooks ----------------------------------------------------------
    def on_train_begin(self, logs=None):
        # A Sequential model without an Input is built by its first batch:
        # the visualizer is then made at the first logging step instead.
        if not _unbuilt_sequential(self.model):
            with _global_random_state_kept():
                if self._viz is None or self._viz_model is not self.model:
                    self._build()
        self._writer = tf.summary.create_file_writer(self.run_dir)
        if self.png_dir is not None:
            os.makedirs(self.png_dir, exist_ok=True)
        self._batches_seen = 0
        self._epoch_start_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_batch = self._batches_seen

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_batches is None:
            return
        # `batch` is the index within the epoch of the last batch run (several
        # with steps_per_execution > 1), so count from it rather than calls.
        seen = max(self._batches_seen, self._epoch_start_batch + int(batch) + 1)
        crossed = seen // self.every_n_batches > self._batches_seen // self.every_n_batches
        self._batches_seen = seen
        if crossed:
            self._log(seen, f"batch_{seen:06d}")

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_batches is None and epoch % self.every_n_epochs == 0:
            self._log(int(epoch), f"epoch_{int(epoch):04d}")

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- internals ------------------------------------------------------------
    def _build(self) -> None:
        model = self.model
        try:
            viz = Visualizer(
                model, self.rules, output=self.output, preprocess=self.preprocess, seed=self.seed,
                activations=self.activations,
            )
        except KerasvizError as err:
            raise type(err)(f"VisualizationCallback cannot explain this model: {err}") from err
        if viz.input_shape is not None and len(viz.input_shape) != 4:
            raise UnsupportedModelError(
                "VisualizationCallback draws maps of images: the model must take "
                f"(N, H, W, C) inputs. Received: model input shape {viz.input_shape}"
            )
        try:
            viz.predict(self.images)  # the visualizer's own checks of images vs model
        except KerasvizError as err:
            raise type(err)(f"VisualizationCallback(images=...) do not fit the model: {err}") from err
        if len(viz.input_shape) != 4:  # a subclassed model's input is known once traced
            raise UnsupportedModelError(
                "VisualizationCallback draws maps of images: the model must take "
                f"(N, H, W, C) inputs. Received: model input shape {viz.input_shape}"
            )
        num_classes = viz.num_classes
        if self.scores and num_classes < 2:
            raise UnsupportedModelError(
                "The class sensitivity score needs a model with at least 2 classes; "
                f"pass scores=False for this model. Received: num_classes={num_classes}"
            )
        if self.labels is not None and self.labels.max() >= num_classes:
            raise InvalidInputError(
                f"labels must be class indices 0..{num_classes - 1} of the model. "
                f"Received: labels={self.labels.tolist()}"
            )
        self._num_other_classes = min(self.num_random_classes, max(num_classes - 1, 1))
        self._viz = viz
        self._viz_model = model

    def _maps(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """Maps pictured, and maps of [max logit, random classes...] per image."""
        viz = self._viz
        per_class = None
        if self.scores:
            logits = viz.predict(self.images)
            num_classes = logits.shape[-1]
            predicted = np.argmax(logits, axis=-1)
            others = targets_lib.random_other_classes(predicted, num_classes, self._num_other_classes, self.seed)
            classes = np.concatenate([predicted[:, None], others], axis=1)
            per_class = viz(self.images, target=classes, method=self.method, progress=False)
        if per_class is not None and isinstance(self.target, targets_lib.MaxLogit):
            shown = {rule: maps[:, 0] for rule, maps in per_class.items()}
        else:
            shown = viz(self.images, target=self.target, method=self.method, progress=False)
        return shown, per_class

    def _tag(self, rule: str) -> str:
        """`kerasviz/{rule}`, or `kerasviz/{method}/{rule}` with a method."""
        return f"kerasviz/{rule}" if self.method is None else f"kerasviz/{self.method.name}/{rule}"

    def _log(self, step: int, png_stem: str) -> None:
        if self._writer is None:
            return
        if self._viz is None or self._viz_model is not self.model:
            with _global_random_state_kept():
                self._build()
        with _global_random_state_kept():
            shown, per_class = self._maps()
            values = self._scores(per_class) if per_class is not None else {}
        tiles = {
            rule: np.stack([render.tile_row(image, [m], self.normalize) for image, m in zip(self.images, maps)])
            for rule, maps in shown.items()
        }
        # keras.callbacks.TensorBoard may have pushed a record_if() that is
        # False on this step (update_freq=n); these summaries are always wanted.
        with self._writer.as_default(), tf.summary.record_if(True):
            for rule in self.rules:
                what = rule if self.method is None else f"{self.method!r} {rule}"
                tf.summary.image(
                    self._tag(rule),
                    tiles[rule],
                    step=step,
                    max_outputs=len(self.images),
                    description=f"Each image beside its {what} map ({self.normalize} normalization).",
                )
            for tag, value in values.items():
                tf.summary.scalar(tag, value, step=step)
                self.history.setdefault(tag, []).append((step, value))
        self._writer.flush()
        if self.png_dir is not None:
            self._write_png(shown, png_stem)

    def _scores(self, per_class: dict[str, np.ndarray]) -> dict[str, float]:
        values = {}
        for rule in self.rules:
            maps = per_class[rule]
            if maps.ndim == self.images.ndim:  # Grad-CAM (N, K, H, W): one-channel maps
                maps = maps[..., None]
            ssims = [
                metrics.random_logit_ssim(maps[i, 0], maps[i, j])
                for i in range(maps.shape[0])
                for j in range(1, maps.shape[1])
            ]
            recoveries = [
                metrics.recovery(
                    maps[i, 0], image if maps.shape[-1] == image.shape[-1] else image.mean(-1, keepdims=True)
                )["r_image"]
                for i, image in enumerate(self.images)
            ]
            values[f"{self._tag(rule)}/class_sensitivity"] = float(1.0 - np.mean(ssims))
            values[f"{self._tag(rule)}/recovery"] = float(np.mean(recoveries))
        return values

    def _write_png(self, shown: dict[str, np.ndarray], stem: str) -> None:
        from PIL import Image

        rows = [
            render.tile_row(image, [shown[rule][i] for rule in self.rules], self.normalize)
            for i, image in enumerate(self.images)
        ]
        Image.fromarray(np.concatenate(rows, axis=0)).save(os.path.join(self.png_dir, f"{stem}.png"))


class _global_random_state_kept:
    """Restores Python's and NumPy's global random states on exit.

    Rewriting a model re-creates layers (a `Dropout` without a seed draws one
    from Python's `random`), which must not shift what `fit` draws next.
    """

    def __enter__(self):
        self._python = random.getstate()
        self._numpy = np.random.get_state()
        return self

    def __exit__(self, *exc):
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        return False


def _check_labels(labels, num_images: int) -> np.ndarray | None:
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.dtype.kind not in "iu" or array.shape != (num_images,) or (array < 0).any():
        raise InvalidInputError(
            f"labels must be one non-negative int class per image, shaped ({num_images},). "
            f"Received: labels with shape={array.shape}, dtype={array.dtype}"
        )
    return array.astype(np.int64)


def _unbuilt_sequential(model) -> bool:
    return isinstance(model, keras.Sequential) and not (model.built and model.inputs)


def _folder(path, name: str) -> str:
    """`path` as a str, if it is (or can become) a folder: no file on its way."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidInputError(
            f"{name} must be a folder path (str or os.PathLike). Received: {name}={path!r}"
        )
    text = os.fspath(path)
    probe = os.path.abspath(text)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return text
        probe = parent
    if not os.path.isdir(probe):
        raise InvalidArgumentError(
            f"{name} must be a folder (created if missing), but {probe!r} is a file. "
            f"Pass another path. Received: {name}={text!r}"
        )
    return text

"""One chunk in, its maps and table rows out: the work both engines share.

A `ChunkExplainer` holds one `kv.Visualizer` (one compiled map function for
the whole job) and one compiled forward function for the table's
`predicted` and `score` columns. `explain(chunk)` turns a `Chunk` into float32
maps (the store encodes them) and one row per input; the local engine calls it in the
main process, each Ray actor calls it on its own copy.

Targets are made per chunk so that every input's map depends on the input
alone, never on how the job was split into chunks, resumed or spread over
workers:

- per-input classes (an array of `N` ints) are sliced to the chunk;
- `target="loss"` uses the source's labels when it has them (`(image, label)`
  datasets, `(images, labels)` arrays), else the predicted class;
- `target="random"` draws with seed `seed + chunk index` (the Visualizer's
  seeded draw, restarted per chunk);
- a `kv.targets.Region` with one mask per input is sliced to the chunk (a
  segmentation output has no one predicted class: the table's `predicted`
  is -1, `target` the region's class and `score` its masked sum).

Example:

```python
explainer = ChunkExplainer(model, ("saliency", "guided"), target="max")
maps, rows = explainer.explain(chunk)
```
"""

from __future__ import annotations

import numpy as np

from kerasviz import targets as targets_lib
from kerasviz.datasets.sources import Chunk
from kerasviz.errors import FileReadError, InvalidInputError, InvalidTargetError


class ChunkExplainer:
    """The maps and table rows of one chunk at a time.

    Args:
        model: the Keras model.
        rules: rule names.
        target: the target spec, as `kv.explain_dataset` takes it.
        method: a `kv.methods` method, or `None`. Defaults to `None`.
        num_inputs: N, to check per-input targets. Defaults to `None`.
        has_labels: whether chunks carry the source's labels. Defaults to `False`.
        on_error: `"raise"` or `"skip"`. Defaults to `"raise"`.
        source_kind: `"files"`, `"array"` or `"tf.data"` (for messages).
            Defaults to `"array"`.
        **visualizer_kwargs: `output`, `preprocess`, `logits`,
            `on_unsupported`, `batch_size`, `seed`, `jit_compile`, `precision`
            for the `Visualizer`.

    Raises:
        InvalidTargetError: for a target that does not fit a dataset job.
    """

    def __init__(self, model, rules, *, target="max", method=None, num_inputs: int | None = None,
                 has_labels: bool = False, on_error: str = "raise",
                 source_kind: str = "array", **visualizer_kwargs):
        import tensorflow as tf

        from kerasviz.visualizer import Visualizer

        self.viz = Visualizer(model, rules, **visualizer_kwargs)
        self.rules = self.viz.rules
        self.target = check_target(target, num_inputs, seed=self.viz.seed)
        self.method = method
        self.has_labels = has_labels
        self.on_error = on_error
        self.source_kind = source_kind
        self.image_shape = tuple(self.viz.input_shape[1:])
        viz = self.viz

        # one trace for every chunk size (the last chunk is smaller)
        spec = getattr(viz, "input_spec", None) or []
        # token ids (the Visualizer embeds them) and several inputs: the Visualizer's own forward pass
        self._plain = len(spec) <= 1 and not any(getattr(s, "tokens", False) for s in spec)
        self.input_dtype = tf.as_dtype(spec[0].dtype if spec else viz.model.inputs[0].dtype)
        # a segmentation (N, H', W', K) or sequence-labelling (N, T, K) output: no one predicted class
        self._output_rank = _output_rank(viz)
        if self._per_input_mask(self.target) and num_inputs is not None and len(self.target.mask) != num_inputs:
            raise InvalidTargetError(
                f"A Region with one mask per input needs one mask for each of the {num_inputs} inputs. "
                f"Received: mask shape={self.target.mask.shape}"
            )
        signature = [tf.TensorSpec((None, *self.image_shape), self.input_dtype)]

        @tf.function(input_signature=signature, autograph=False, jit_compile=viz.jit_compile)
        def logits_of(x):
            return viz.explained_output(x)

        self._logits_of = logits_of if self._plain else None
        # The map function's own forward pass hands its logits to the table (see `_Capture`), when
        # nothing else runs through it: the plain gradient, no XLA (a variable of varying shape).
        self._sink = None
        if method is None and not viz.jit_compile and self._plain and self._output_rank == 2:
            self._sink = tf.Variable(tf.zeros((0, viz.num_classes)), trainable=False,
                                     shape=tf.TensorShape([None, viz.num_classes]), name="kerasviz_logits")

    def map_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one map: the image's, unless the method says otherwise (Grad-CAM)."""
        same = self.method is None or type(self.method).__name__ in ("Gradient", "GradientXInput")
        if same and self.input_dtype.is_floating:  # token ids are explained at their embedding
            return tuple(image_shape)
        probe = Chunk(0, 0, np.zeros((1, *image_shape), self.input_dtype.as_numpy_dtype), ["probe"],
                      np.zeros(1, np.int64), [None])
        maps = self._maps(self.chunk_target(probe, np.ones(1, bool)), probe.images)
        return tuple(next(iter(maps.values())).shape[1:])

    def chunk_target(self, chunk: Chunk, ok: np.ndarray) -> targets_lib.Target:
        """The chunk's own target (see the module docstring), for its readable rows `ok`."""
        target = self.target
        rows = slice(chunk.start, chunk.start + len(chunk.ids))
        if isinstance(target, targets_lib.RandomClass):
            return targets_lib.RandomClass(target.seed + chunk.index)
        if isinstance(target, targets_lib.Classes) and target.classes.ndim == 1:
            return targets_lib.Classes(target.classes[rows][ok])
        if isinstance(target, targets_lib.Loss):
            if target.labels is not None:
                return targets_lib.Loss(target.labels[rows][ok])
            if self.has_labels:
                return targets_lib.Loss(chunk.labels[ok])
        if self._per_input_mask(target):
            return targets_lib.Region(target.class_index, target.mask[rows][ok])
        return target

    def _per_input_mask(self, target) -> bool:
        """Whether `target` is a Region with one mask per input (the output's positions plus one axis)."""
        region = getattr(targets_lib, "Region", None)
        return region is not None and isinstance(target, region) and target.mask.ndim == self._output_rank - 1

    def explain(self, chunk: Chunk) -> tuple[dict[str, np.ndarray], dict[str, list]]:
        """Maps (float32, NaN for unreadable inputs) and table rows of `chunk`.

        Raises:
            FileReadError: with `on_error="raise"`, for the chunk's first
                unreadable file.
            InvalidInputError: with `on_error="raise"`, for an image with
                NaN or Inf values.
        """
        count = len(chunk.ids)
        finite = np.isfinite(chunk.images.reshape(count, -1)).all(axis=1)
        errors, ok, (predicted, classes, scores) = self._prelude(chunk, finite, "the image holds NaN or Inf values")
        maps = None
        if ok.any():
            images = chunk.images[ok]
            target = self.chunk_target(chunk, ok)
            capture = self._sink is not None and target.layer is None
            computed = self._maps(_Capture(target, self._sink) if capture else target, images)
            logits = self._sink.numpy() if capture else None
            if logits is not None and len(logits) != len(images):  # not one forward batch: compute them
                logits = None
            maps = {}
            for rule, values in computed.items():
                if ok.all():
                    maps[rule] = np.asarray(values, np.float32)
                else:
                    maps[rule] = np.full((count, *values.shape[1:]), np.nan, np.float32)
                    maps[rule][ok] = values
            predicted[ok], classes[ok], scores[ok] = self._table(target, images, logits)
        if maps is None:  # nothing readable: every map is NaN
            shape = self.map_shape(chunk.images.shape[1:])
            maps = {rule: np.full((count, *shape), np.nan, np.float32) for rule in self.rules}
        return maps, self._rows(chunk, errors, predicted, classes, scores)

    # -- internals -------------------------------------------------------------------------
    def _prelude(self, chunk: Chunk, finite: np.ndarray, message: str):
        """The chunk's errors, readable rows and unfilled table columns, before any map is computed.

        Each row that is not `finite` (and not already an error) gets the
        error `message`; with `on_error="raise"` the first error is raised.
        Returns `(errors, ok, (predicted, classes, scores))`: the columns are
        -1, -1 and NaN until the readable rows `ok` are filled in.
        """
        count = len(chunk.ids)
        errors = list(chunk.errors)
        for row in np.flatnonzero(~finite):
            if errors[row] is None:
                errors[row] = message
        if self.on_error == "raise":
            self._raise_first(chunk, errors)
        ok = np.array([e is None for e in errors], bool)
        predicted = np.full(count, -1, np.int64)
        classes = np.full(count, -1, np.int64)
        scores = np.full(count, np.nan, np.float32)
        return errors, ok, (predicted, classes, scores)

    @staticmethod
    def _rows(chunk: Chunk, errors: list, predicted, classes, scores) -> dict[str, list]:
        """The chunk's table rows: one status per input ("ok" or "error: <reason>") beside its columns."""
        return {
            "id": list(chunk.ids),
            "status": ["ok" if e is None else f"error: {e}" for e in errors],
            "label": chunk.labels,
            "predicted": predicted,
            "target": classes,
            "score": scores,
        }

    def _maps(self, target, images) -> dict[str, np.ndarray]:
        kwargs = {} if self.method is None else {"method": self.method}
        return self.viz(images, target=target, progress=False, **kwargs)

    def _table(self, target, images, logits=None):
        import tensorflow as tf

        if logits is None and self._logits_of is None:
            logits = self.viz.predict(images)
        logits = self._logits_of(tf.constant(images)) if logits is None else tf.constant(logits)
        if logits.shape.rank > 2:  # per-position logits: the target's score, no predicted class
            return self._positions_table(target, logits)
        predicted = np.argmax(logits.numpy(), axis=-1)
        num_classes = int(logits.shape[-1])
        fixed = _fixed(target, predicted, num_classes)
        if isinstance(fixed, targets_lib.Classes):
            classes = np.broadcast_to(fixed.classes, predicted.shape)
        elif isinstance(fixed, targets_lib.Loss) and fixed.labels is not None:
            classes = fixed.labels.reshape(-1)
        else:
            classes = np.full(predicted.shape, -1)
        if target.layer is not None:  # a Neuron: its score is inside the network
            scores = np.full(predicted.shape, np.nan, np.float32)
        elif isinstance(fixed, targets_lib.Classes) and type(fixed) is targets_lib.Classes:
            scores = np.take_along_axis(logits.numpy(), classes[:, None].astype(np.int64), axis=1)[:, 0]
        else:
            aux = np.asarray(fixed.aux(len(images), num_classes))
            scores = fixed.scores(logits, tf.constant(aux)).numpy()
        return predicted, classes, scores

    def _positions_table(self, target, logits):
        """Table columns for an output with positions: `predicted` -1, a Region's class and masked sum."""
        import tensorflow as tf

        count = int(logits.shape[0])
        predicted = np.full(count, -1, np.int64)
        classes = np.full(count, getattr(target, "class_index", -1), np.int64)
        scores = np.full(count, np.nan, np.float32)
        if isinstance(target, (targets_lib.Region, targets_lib.Function)):  # one score per input
            target.check(tuple(logits.shape))
            aux = np.asarray(target.aux(count, int(logits.shape[-1])))
            scores = target.scores(logits, tf.constant(aux)).numpy()
        return predicted, classes, scores

    def _raise_first(self, chunk: Chunk, errors: list) -> None:
        for row, reason in enumerate(errors):
            if reason is None:
                continue
            name, position = chunk.ids[row], chunk.start + row
            fix = (
                "Chunks before it are saved: fix the input and rerun the same call to resume, or "
                "pass on_error='skip' (command line: --on-error skip) to record it as an error "
                "row and go on."
            )
            if self.source_kind == "files":
                raise FileReadError(f"Cannot read image {name!r} (input {position}): {reason}. {fix} "
                                    f"Received: path={name!r}")
            raise InvalidInputError(f"Input {name!r} (position {position}): {reason}. {fix} "
                                    f"Received: id={name!r}")


class _Capture(targets_lib.Target):
    """`target`, whose scores also store the explained output in `sink` (a `tf.Variable`).

    The table needs the logits of every image (`predicted`, `score`); the
    map function computes them anyway in its forward pass. Wrapping the
    chunk's target in `_Capture` hands them over instead of running the
    model a second time (a forward pass is 15-25% of the work for 3 rules).
    All wrappers share the explainer's one `sink`, so the function the
    `Visualizer` compiles for the first chunk (it caches by `cache_key`)
    serves every chunk; built-in targets read their per-chunk data from
    `aux`, which the Visualizer passes each call.
    """

    def __init__(self, target: targets_lib.Target, sink):
        self.target, self.sink = target, sink
        self.layer = target.layer

    def __getattr__(self, name):  # num_scores, reads_prediction, check, for_predicted, ...
        if name in ("target", "sink"):
            raise AttributeError(name)
        return getattr(self.target, name)

    @property
    def num_scores(self):
        return self.target.num_scores

    @property
    def reads_prediction(self):
        return getattr(self.target, "reads_prediction", False)

    def check(self, shape):
        if hasattr(self.target, "check"):
            self.target.check(shape)

    def for_predicted(self, predicted, num_classes):
        return self.target.for_predicted(predicted, num_classes)

    def aux(self, num_samples, num_classes):
        return self.target.aux(num_samples, num_classes)

    def scores(self, outputs, aux):
        import tensorflow as tf

        self.sink.assign(tf.cast(outputs, tf.float32))
        return self.target.scores(outputs, aux)

    def cache_key(self):
        return ("kerasviz.datasets.capture", *self.target.cache_key())

    def __repr__(self):
        return repr(self.target)


def _fixed(target, predicted: np.ndarray, num_classes: int) -> targets_lib.Target:
    """`target` with the classes it reads off the prediction fixed (`Target.for_predicted`)."""
    if hasattr(target, "for_predicted"):
        return target.for_predicted(predicted, num_classes) if target.reads_prediction else target
    if isinstance(target, targets_lib.MaxLogit):  # kerasviz without Target.for_predicted
        return targets_lib.Classes(predicted)
    if isinstance(target, targets_lib.RandomClass):
        drawn = targets_lib.random_other_classes(predicted, num_classes, 1, target.seed)
        return targets_lib.Classes(drawn[:, 0])
    if isinstance(target, targets_lib.Loss) and target.labels is None:
        return targets_lib.Loss(predicted)
    return target


def check_target(target, num_inputs: int | None, *, seed: int = 0) -> targets_lib.Target:
    """`target` as a `Target` that a dataset job can split into chunks.

    Raises:
        InvalidTargetError: for `K` classes per input (the store holds one
            map per input and rule), or per-input classes or labels whose
            count is not the number of inputs.
    """
    resolved = targets_lib.resolve(target, seed=seed)
    if resolved.num_scores is not None:
        raise InvalidTargetError(
            "A dataset job stores one map per input and rule; for K classes per input run one "
            "job per class (target=k) into separate stores. "
            f"Received: target of shape {np.shape(target)}"
        )
    per_input = None
    if isinstance(resolved, targets_lib.Classes) and resolved.classes.ndim == 1:
        per_input = resolved.classes
    if isinstance(resolved, targets_lib.Loss) and resolved.labels is not None:
        resolved = targets_lib.Loss(np.asarray(resolved.labels).reshape(-1))
        per_input = resolved.labels
    if per_input is not None and num_inputs is not None and len(per_input) != num_inputs:
        raise InvalidTargetError(
            f"Per-input classes must give one class per input ({num_inputs}). "
            f"Received: {len(per_input)} classes"
        )
    return resolved


def _output_rank(viz) -> int:
    """The rank of the explained output, `(N, K)` -> 2 (2 when it cannot be told before a call)."""
    try:
        return len(viz.model.outputs[viz.output_index].shape)
    except (AttributeError, IndexError, TypeError, ValueError):  # a subclassed model, not traced yet
        return 2

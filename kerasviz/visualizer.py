"""The `Visualizer`: compiled saliency, DeconvNet and GBP maps of a Keras model.

One `Visualizer` rewrites the model once (sharing its variables) and compiles
one `tf.function` per kind of target. Each call runs **one** forward pass per
batch and one backward pass per rule; `K` classes per sample share that
forward pass too (the backward is vectorized over the classes).

Example:

```python
import kerasviz as kv

viz = kv.Visualizer(model, rules=kv.RULES)
maps = viz(images, target="max")       # {"saliency": ..., "deconvnet": ..., "guided": ...}
per_class = viz(images, target=[[0, 1, 2]] * len(images))  # (N, 3, H, W, C) each
```
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kerasviz import _compat, _validation
from kerasviz import methods as methods_lib
from kerasviz import rules as rules_lib
from kerasviz import targets as targets_lib
from kerasviz.errors import InvalidInputError, InvalidTargetError, UnsupportedModelError
from kerasviz.rewrite import Activations, OnUnsupported, check_model, rewrite_for, tap

Maps = dict[str, np.ndarray]


class Visualizer:
    """Backpropagation maps of a Keras model under several backward rules.

    Args:
        model: a built Functional or Sequential Keras model with one input.
            It is never modified; the visualizer follows its weights as they
            change (e.g. during training).
        rules: rule names or aliases. Defaults to `kv.RULES`.
        output: which output to explain (index or layer name) when the model
            has several. Defaults to `None` (the only one).
        preprocess: a function applied to the images inside the gradient
            computation (e.g. a `keras.applications` `preprocess_input`), so
            maps are taken with respect to the raw images. Defaults to `None`.
        logits: explain pre-softmax logits (a final softmax is removed).
            Defaults to `True`.
        on_unsupported: `"error"`, `"warn"` or `"keep"` for non-ReLU
            activations (see `kv.rewrite`). Defaults to `"warn"`.
        activations: `"relu"` (the rules act at ReLUs, the paper's
            definition) or `"all"` (at every elementwise activation too: swish,
            GELU, tanh...; see `kv.rewrite`). Defaults to `"relu"`.
        batch_size: images per forward pass. Defaults to `32`.
        seed: seed of the `"random"` target. Defaults to `0`.
        jit_compile: compile the map function with XLA (`tf.function`'s
            `jit_compile`). Often faster on a GPU, slower to trace; off by
            default because not every op has an XLA kernel. Defaults to
            `False`.

    Raises:
        UnknownRuleError: for an unknown rule name.
        InvalidArgumentError: for no rules, or a `batch_size` that is not a
            positive int.
        UnsupportedModelError: for a model with several inputs, or several
            outputs and no `output`.

    Example:

    ```python
    viz = kv.Visualizer(model, rules=("saliency", "guided"))
    maps = viz(images, target=3)
    maps["guided"].shape == images.shape  # True
    ```
    """

    def __init__(
        self,
        model: keras.Model,
        rules: Iterable[str] = rules_lib.RULES,
        *,
        output: int | str | None = None,
        preprocess: Callable | None = None,
        logits: bool = True,
        on_unsupported: OnUnsupported = "warn",
        batch_size: int = 32,
        seed: int = 0,
        jit_compile: bool = False,
        activations: Activations = "relu",
    ):
        self.rules: tuple[str, ...] = rules_lib.canonical_names(rules)
        if not isinstance(model, keras.Model):
            raise UnsupportedModelError(
                f"Visualizer takes a keras.Model. Received: model of type {type(model).__name__}"
            )
        check_model(model)  # subclassed or input-less: rewrite's message
        inputs = getattr(model, "inputs", None) or []
        if len(inputs) != 1:
            raise UnsupportedModelError(
                f"kerasviz explains models with one image input; this model has "
                f"{len(inputs)} inputs. Wrap it in a model that takes the image "
                f"and closes over the other inputs. Received: model={model.name!r}"
            )
        self.model = rewrite_for(
            model, self.rules, logits=logits, on_unsupported=on_unsupported,
            activations=activations, stacklevel=3,
        )
        self.output_index = _output_index(model, output)
        self.logits = bool(logits)
        self.input_shape: tuple = tuple(model.inputs[0].shape)
        self.preprocess = preprocess
        self.batch_size = _validation.positive_int(batch_size, "batch_size")
        self.seed = seed
        self.jit_compile = bool(jit_compile)
        self._functions: dict[tuple, Callable] = {}
        self._submodels: dict[tuple, keras.Model] = {}

    @property
    def report(self):
        """The `RewriteReport` of the model's rewrite."""
        return self.model.kerasviz_report

    @property
    def num_classes(self) -> int:
        """Size of the last axis of the explained output."""
        return int(self.model.outputs[self.output_index].shape[-1])

    def __call__(
        self,
        images,
        target: targets_lib.TargetLike = "max",
        *,
        method: methods_lib.MethodLike = None,
        labels: Sequence[int] | np.ndarray | None = None,
        batch_size: int | None = None,
        progress: bool = True,
    ) -> Maps:
        """Maps of `images` for every rule.

        Args:
            images: array `(N, *input_shape)`, as the model takes them (or as
                `preprocess` takes them). Integer arrays are cast to float32.
                Or a finite `tf.data.Dataset` of images, batched or not, or
                of `(image, ...)` tuples (the first element is taken): it is
                read batch by batch (for datasets larger than memory, write
                the maps to disk with `kv.explain_dataset`).
            target: what to differentiate: `"max"`, an int, one int per
                sample, `(N, K)` ints, `"random"`, `"loss"`, a callable or a
                `kv.targets.Target`. Defaults to `"max"`.
            method: how the gradients become maps: a `kv.methods` method
                (`GradientXInput()`, `SmoothGrad(...)`,
                `IntegratedGradients(...)`, `GradCAM(...)`,
                `GuidedGradCAM(...)`), one of `kv.methods.NAMES`, or `None`
                for the gradient itself. Defaults to `None`.
            labels: labels for `target="loss"` (default: predicted classes).
            batch_size: overrides the visualizer's batch size. It counts
                forward images: noisy copies and path points too.
            progress: show a progress bar when there is more than one batch.
                Defaults to `True`.

        Returns:
            `{rule: float32 array}` shaped like `images`, or `(N, K, ...)`
            for K classes per sample (`(N, H, W)` / `(N, K, H, W)` for
            `GradCAM`). Raw values: normalize with `kv.render`.

        Raises:
            InvalidInputError: for images of the wrong rank, size or channel
                count, an empty batch, NaN or Inf.
            InvalidTargetError / UnknownTargetError: for a bad target.
        """
        if isinstance(images, tf.data.Dataset):
            images = _dataset_images(images, self.input_shape, batch_size or self.batch_size)
        images = _validation.image_batch(images, self.input_shape)
        method = methods_lib.resolve(method)
        target = self._target(target, labels)
        num_samples = images.shape[0]
        batch = _validation.positive_int(batch_size or self.batch_size, "batch_size")
        if method.forward_only:  # perturbation methods: forward batches, no backward (kerasviz.perturbation)
            return method._explain(self, images, target, batch, progress)
        if method.copies > 1 and target.reads_prediction:
            # Copies of an image (noise, path points) are differentiated for the
            # class chosen on the image itself, not for each copy's own top class.
            predicted = np.argmax(self.predict(images, batch_size=batch), axis=-1)
            target = target.for_predicted(predicted, self.num_classes)
        aux = np.asarray(target.aux(num_samples, self._target_width(target, images.shape)))
        function = self._function(target, method)
        reducer = method._reducer(images, self.rules)
        total = num_samples * method.copies  # forward images
        starts = range(0, total, batch)
        for start in tqdm(starts, desc="kerasviz", unit="batch", disable=not progress or len(starts) < 2):
            sample, copy = np.divmod(np.arange(start, min(start + batch, total)), method.copies)
            x = images[start:start + batch] if method.copies == 1 else method._inputs(images, sample, copy)
            with rules_lib.released_custom_gradients():  # a trace's entries would hold the weights forever
                maps = function(tf.constant(x), tf.constant(aux[sample]))
            reducer.add(sample, {rule: maps[rule].numpy() for rule in self.rules})
        return reducer.result()

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """The explained output (logits) for `images`, as the maps see it."""
        images = _validation.image_batch(images, self.input_shape)
        batch = _validation.positive_int(batch_size or self.batch_size, "batch_size")
        parts = [self._outputs(tf.constant(images[i:i + batch]), None).numpy()
                 for i in range(0, len(images), batch)]
        return np.concatenate(parts)

    def _score_function(self, target: targets_lib.Target, *, softmax: bool = False) -> Callable:
        """A compiled `scores(x, aux)` of forward images only, no backward pass.

        The scores are the target's (logits as `kv.targets` defines them), or
        with `softmax=True` the target's entries of the explained output's
        softmax (Score-CAM's weights; class targets only). Used by the
        perturbation methods and `kv.evaluation`.
        """
        key = ("forward", softmax) + target.cache_key()
        if key not in self._functions:
            def scores(x, aux):
                outputs = self._outputs(x, target.layer)
                return target.scores(tf.nn.softmax(outputs) if softmax else outputs, aux)

            self._functions[key] = tf.function(
                functools.partial(scores), reduce_retracing=True, autograph=False, jit_compile=self.jit_compile
            )
        return self._functions[key]

    # -- internals ------------------------------------------------------------
    def _target(self, target, labels) -> targets_lib.Target:
        if isinstance(target, str) and target.strip().lower() == "loss" and labels is not None:
            return targets_lib.Loss(labels)
        if labels is not None:
            raise InvalidTargetError(
                "labels= is used by target='loss' only; for classes pass them as "
                f"the target. Received: target={target!r} with labels"
            )
        return targets_lib.resolve(target, seed=self.seed)

    def _target_width(self, target: targets_lib.Target, images_shape: tuple) -> int:
        """The explained tensor's last axis; checks that the target fits that tensor."""
        if target.layer is None:
            tensor = self.model.outputs[self.output_index]
            model = self.model
        else:
            model = self._tap(target.layer, with_output=False)
            tensor = model.outputs[0]
        shape = tuple(tensor.shape)
        if None in shape[1:] and self.preprocess is None:
            shape = tuple(keras.tree.flatten(model.compute_output_shape(images_shape))[
                0 if target.layer is not None else self.output_index])
        target.check(shape)
        return int(shape[-1])

    def layer_model(self, layer: str) -> keras.Model:
        """A model giving `[layer's output, explained output]` in one forward pass.

        It is `kv.tap` of the rewritten model (all its `RuleReLU`s, variables
        shared with the user's model), so under `kv.rules.backward_rule(rule)`
        a `tf.GradientTape` around one call gives each rule's gradient of a
        score of the explained output with respect to the layer's output
        (Grad-CAM's weights) and with respect to the input. `preprocess` is
        not applied: call it on the images first.

        Args:
            layer: a layer name or a path into nested models
                (`"nested/inner"`, see `kv.layer_paths`). For a layer with a
                fused ReLU, the output is taken after the ReLU.

        Returns:
            A cached `keras.Model` with outputs `[activations, output]`.

        Raises:
            UnknownLayerError: (a `ValueError`) for a path naming no layer;
                the message lists the paths there are.

        Example:

        ```python
        tapped = viz.layer_model("block5_conv3")
        with tf.GradientTape(persistent=True) as tape:
            activations, logits = tapped(x, training=False)
            score = tf.reduce_max(logits, axis=-1)
        for rule in viz.rules:
            with kv.rules.backward_rule(rule):
                weights = tape.gradient(score, activations)
        ```
        """
        return self._tap(layer, with_output=True)

    def _tap(self, layer: str, *, with_output: bool) -> keras.Model:
        key = (layer, with_output)
        if key not in self._submodels:
            tapped = tap(self.model, layer, outputs=with_output)
            if with_output:  # keep the explained output only
                tapped = keras.Model(
                    tapped.inputs[0], [tapped.outputs[0], tapped.outputs[1 + self.output_index]],
                    name=tapped.name,
                )
            self._submodels[key] = tapped
        return self._submodels[key]

    def _outputs(self, x: tf.Tensor, layer: str | None) -> tf.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        if layer is not None:
            return self._tap(layer, with_output=False)(x, training=False)
        return _flat_outputs_of(self.model(x, training=False))[self.output_index]

    def _function(self, target: targets_lib.Target, method: methods_lib.Method) -> Callable:
        key = target.cache_key() + method.cache_key()
        if key not in self._functions:
            self._functions[key] = self._compile(target, method)
        return self._functions[key]

    def _forward(self, x: tf.Tensor, layer: str | None, cam_layer: str | None):
        """The explained tensor and, when `cam_layer` is given, that layer's activations."""
        if cam_layer is None:
            return self._outputs(x, layer), None
        if self.preprocess is not None:
            x = self.preprocess(x)
        if layer is None:
            activations, outputs = self._tap(cam_layer, with_output=True)(x, training=False)
            return outputs, activations
        key = ("cam", cam_layer, layer)
        if key not in self._submodels:
            self._submodels[key] = tap(self.model, [cam_layer, layer], outputs=False)
        activations, outputs = self._submodels[key](x, training=False)
        return outputs, activations

    def _compile(self, target: targets_lib.Target, method: methods_lib.Method) -> Callable:
        rules = self.rules
        vectorized = target.num_scores is not None
        cam_layer = methods_lib.cam_layer(self.model, method) if method.needs_layer else None
        persistent = method._backward_passes(rules, vectorized) > 1

        # autograph=False: no tensor-dependent Python control flow here, and
        # without AutoGraph a kerasviz error raised while tracing (e.g. by a
        # target) reaches the user as itself, not wrapped in a StagingError.
        def compute(x, aux):
            with tf.GradientTape(persistent=persistent) as tape:
                tape.watch(x)
                outputs, activations = self._forward(x, target.layer, cam_layer)
                scores = target.scores(outputs, aux)

            done = []  # the previous backward pass's result

            def differentiate(rule, sources):
                """One backward pass under `rule`: d scores / d each source.

                Each pass waits for the previous one (a control dependency):
                run side by side, the passes of several rules hold their
                large gradient tensors at once and were slower on a CPU
                than one after the other (VGG-16, 112x112, a batch of 32
                images, three rules: 11.8 s instead of 15.0 s).
                """
                with rules_lib.backward_rule(rule), tf.control_dependencies(done[-1:]):
                    if vectorized:
                        result = [tape.batch_jacobian(scores, source) for source in sources]
                    else:
                        result = tape.gradient(scores, list(sources))
                done.append(result[0])
                return result

            return method._graph(x, activations, differentiate, rules, vectorized, cam_layer)

        # Each Visualizer (and each kind of target) compiles its own function by
        # design. TensorFlow counts the traces of all functions with one code
        # object together and would warn of "frequent retracing" that is not
        # happening; a partial has no code object, so each is counted on its own
        # (no logging filter, no global state; tests/test_global_state.py).
        return tf.function(
            functools.partial(compute), reduce_retracing=True, autograph=False, jit_compile=self.jit_compile
        )


def visualize(
    model: keras.Model,
    images,
    rules: Iterable[str] = rules_lib.RULES,
    target: targets_lib.TargetLike = "max",
    **kwargs,
) -> Maps:
    """One-shot form of `Visualizer(model, rules, ...)(images, target)`.

    Keyword arguments go to `Visualizer` (`output`, `preprocess`, `logits`,
    `on_unsupported`, `activations`, `batch_size`, `seed`) or to the call (`method`,
    `labels`, `progress`). For repeated calls keep a `Visualizer`: it
    compiles once.

    Example:

    ```python
    maps = kv.visualize(model, images, rules=("saliency", "guided"), target="max")
    smooth = kv.visualize(model, images, rules=("guided",), method=kv.methods.SmoothGrad())
    ```
    """
    call_keys = {"method", "labels", "progress"}
    call_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in call_keys}
    return Visualizer(model, rules, **kwargs)(images, target, **call_kwargs)


def _flat_outputs_of(outputs) -> list:
    return tf.nest.flatten(outputs)


def _output_index(model: keras.Model, output: int | str | None) -> int:
    names = [_compat.producing_operation(t).name for t in model.outputs]
    if output is None:
        if len(names) > 1:
            raise UnsupportedModelError(
                f"The model has {len(names)} outputs ({', '.join(names)}): say which "
                f"to explain with output=<index or name>. Received: output=None"
            )
        return 0
    if isinstance(output, str):
        if output not in names:
            raise UnsupportedModelError(
                f"No output named {output!r}; the outputs are {names}. "
                f"Received: output={output!r}"
            )
        return names.index(output)
    if not 0 <= int(output) < len(names):
        raise UnsupportedModelError(
            f"output must index one of the {len(names)} outputs {names}. "
            f"Received: output={output!r}"
        )
    return int(output)


def _dataset_images(dataset: tf.data.Dataset, input_shape: tuple, batch_size: int) -> np.ndarray:
    """The images of a finite `tf.data.Dataset`, read batch by batch into one array.

    Elements are images, `(image, ...)` tuples or dicts with an `"image"`
    key; batched or not. The maps of the whole dataset are returned in
    memory anyway (one array per rule, each the size of the images), so
    holding the images costs at most one more such array.
    """
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise InvalidInputError(
            "The dataset is infinite (e.g. it ends with .repeat()); take a finite part "
            "with dataset.take(n). Received: images=<infinite tf.data.Dataset>"
        )

    def first(element):
        if isinstance(element, dict):
            return element.get("image", next(iter(element.values())))
        return element[0] if isinstance(element, (tuple, list)) else element

    spec = first(dataset.element_spec)
    shape = getattr(spec, "shape", None)
    if shape is not None and shape.rank == len(input_shape) - 1 and shape.is_fully_defined():
        dataset = dataset.batch(batch_size)  # else element by element: sizes may differ
    parts = []
    for element in dataset:
        part = np.asarray(first(element))
        parts.append(part[None] if part.ndim == len(input_shape) - 1 else part)
    if not parts:
        raise InvalidInputError(f"The dataset is empty. Received: images={dataset!r}")
    try:
        return np.concatenate(parts)
    except ValueError as err:
        raise InvalidInputError(
            "The dataset's images differ in shape; resize them in the dataset to the "
            f"model's input size {tuple(input_shape[1:])} (e.g. with tf.image.resize). "
            f"Received: shapes {sorted({p.shape[1:] for p in parts})}"
        ) from err

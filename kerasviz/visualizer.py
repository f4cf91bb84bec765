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
import warnings
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kerasviz import _compat, _validation
from kerasviz import inputs as inputs_lib
from kerasviz import methods as methods_lib
from kerasviz import override
from kerasviz import rules as rules_lib
from kerasviz import targets as targets_lib
from kerasviz.errors import InvalidArgumentError, InvalidInputError, InvalidTargetError, UnsupportedModelError
from kerasviz.rewrite import Activations, OnUnsupported, RewriteReport, check_model, rewrite_for, tap, warn_about

Maps = dict[str, np.ndarray]
#: How the rules reach the model's ReLUs (see `Visualizer`'s `engine`).
ENGINES: tuple[str, ...] = ("auto", "rewrite", "ops")


class Visualizer:
    """Backpropagation maps of a Keras model under several backward rules.

    Args:
        model: a Keras model: Functional or Sequential (ReLU layers are
            rewritten; ReLU ops in custom layers and `Lambda`s follow the
            rules on the op path, found by tracing), or subclassed (the op
            path, `kv.override`: every ReLU op its `call()` runs). It may
            take several inputs (maps for each, in the structure they are
            given) and token ids that feed an `Embedding` (explained at the
            embedding's output). It is never modified; the visualizer
            follows its weights as they change (e.g. during training).
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
        engine: how the rules reach the ReLUs: `"auto"` (rewrite the
            layers, and use the op path where tracing finds ReLU ops the
            rewrite cannot see, or for a subclassed model), `"rewrite"`
            (layers only; subclassed models refused) or `"ops"` (the op
            path on the model as it is). Defaults to `"auto"`.
        inputs: the inputs to explain, by name or index, for a model with
            several: one (its maps come as one array) or a list. Defaults to
            `None`: every input with a gradient (floats, and token ids).

    Raises:
        UnknownRuleError: for an unknown rule name.
        InvalidArgumentError: for no rules, or a `batch_size` that is not a
            positive int.
        UnsupportedModelError: for a model with several outputs and no
            `output`, or (with `engine="rewrite"`) a subclassed model.

    Example:

    ```python
    viz = kv.Visualizer(model, rules=("saliency", "guided"))
    maps = viz(images, target=3)
    maps["guided"].shape == images.shape  # True
    maps = kv.Visualizer(two_input_model, rules=("guided",))([images, meta], target=0)
    image_map, meta_map = maps["guided"]
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
        engine: str = "auto",
        inputs: str | int | Sequence[str | int] | None = None,
    ):
        self.rules: tuple[str, ...] = rules_lib.canonical_names(rules)
        if not isinstance(model, keras.Model):
            raise UnsupportedModelError(
                f"Visualizer takes a keras.Model. Received: model of type {type(model).__name__}"
            )
        self.engine = _validation.one_of(engine, "engine", ENGINES, what="engine")
        graph_model = isinstance(model, keras.Sequential) or _compat.is_functional(model)
        if graph_model or self.engine == "rewrite":
            check_model(model)  # subclassed (engine="rewrite") or input-less: rewrite's message
        self._on_unsupported = on_unsupported
        self._logits = bool(logits)
        # The op path: the model's own ReLU ops follow the rules (kv.override),
        # used for what the layer rewrite cannot see (decided by tracing).
        self._ops = not graph_model or self.engine == "ops"
        self._strip_softmax = self._ops and self._logits
        self._probed: dict[tuple, tuple] = {}
        self._inputs_arg = inputs
        #: the model's inputs (`kv.inputs.InputSpec`); a subclassed model's are known once called.
        self.input_spec: list[inputs_lib.InputSpec] | None = None
        self._structure: str | None = None  # how a subclassed model takes them: "single", "list", "dict"
        source = model
        if graph_model:
            self.input_spec = inputs_lib.describe(model)
            source, self.input_spec = inputs_lib.split_at_embeddings(model, self.input_spec)
            self._positions, self._selection = inputs_lib.explained(self.input_spec, inputs)
        if self._ops:
            if activations == "all":
                warnings.warn(
                    "kerasviz: activations='all' applies the rules at activation layers, and the op "
                    "path (a subclassed model, or engine='ops') sees ReLU ops only: other activations "
                    "in call() keep their ordinary gradient. Received: activations='all'",
                    stacklevel=2,
                )
            self.model = source
            self._report = None  # counted when the model is first traced
        else:
            self.model = rewrite_for(
                source, self.rules, logits=logits, on_unsupported=on_unsupported,
                activations=activations, stacklevel=3, warn=False,
            )
            self._report = self.model.kerasviz_report
        self.output_index = _output_index(model, output) if graph_model else output
        self.input_shape: tuple | None = tuple(model.inputs[0].shape) if graph_model else None
        self.preprocess = preprocess
        if graph_model:
            self._probe(stacklevel=3)
        self.batch_size = _validation.positive_int(batch_size, "batch_size")
        self.seed = seed
        self.jit_compile = bool(jit_compile)
        self._functions: dict[tuple, Callable] = {}
        self._submodels: dict[tuple, keras.Model] = {}

    @property
    def report(self):
        """The `RewriteReport`: the ReLUs that follow the rules (layers rewritten, ReLU ops found).

        For a subclassed model it is known once the model has been traced
        (after the first call); `None` before.
        """
        return self._report

    @property
    def uses_ops(self) -> bool:
        """Whether the rules act at the model's ReLU ops (`kv.override`) rather than only at rewritten layers."""
        return self._ops

    @property
    def num_classes(self) -> int:
        """Size of the last axis of the explained output."""
        if not self._probed:
            return int(self.model.outputs[self.output_index].shape[-1])
        return int(next(iter(self._probed.values()))[-1])

    def _model_input(self, xs: list):
        """The model's input value from one tensor per input, in the structure the model takes."""
        if self._structure == "dict":
            return {spec.name: x for spec, x in zip(self.input_spec, xs)}
        if self._structure == "list" or len(xs) > 1:
            return list(xs)
        return xs[0]

    def _call_model(self, xs: list, model: keras.Model | None = None):
        x = self._model_input(xs)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return (model or self.model)(x, training=False)

    def _probe(self, *, stacklevel: int) -> tuple:
        """Trace the model once for its inputs: its ReLU ops, the explained output's shape.

        ReLU ops that a backward pass crosses outside the rewritten layers
        (custom layers, `Lambda`s, a subclassed `call()`) switch on the op
        path; the "no ReLU" warning fires only when the trace has none.
        """
        key = tuple(spec.map_shape[1:] for spec in self.input_spec)
        if key in self._probed:
            return self._probed[key]
        specs = [tf.TensorSpec((None, *shape), "float32" if spec.tokens else spec.dtype)
                 for spec, shape in zip(self.input_spec, key)]
        found, outputs = override.probe(lambda *xs: self._call_model(list(xs)), specs, self.model.trainable_weights)
        flat = _flat_outputs_of(outputs)
        if not self._probed and not isinstance(self.output_index, int):
            self.output_index = _traced_output_index(outputs, self.output_index)
        self._probed[key] = tuple(flat[self.output_index].shape)
        if len(self._probed) > 1:
            return self._probed[key]
        if self._report is None:
            self._report = RewriteReport(rule=self.rules[0])
        if found and not self._ops and self.engine == "auto":
            self._ops = True  # the rewritten layers and the hidden ReLU ops, in one traced pass
        if self._ops:
            for op_type, count in found.items():
                self._report.replaced[f"{op_type} op in call()"] += count
        if self._strip_softmax and override.logits_of(flat[self.output_index])[1]:
            self._report.softmax_removed.append("final Softmax op")
        warn_about(self._report, self.rules, self._on_unsupported, stacklevel + 1)
        return self._probed[key]

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
                For a model with several inputs, a list of one array per
                input (in order) or a dict keyed by input name; token ids as
                integers.
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
            `GradCAM`). Token ids give `(N, T, E)` maps over their
            embedding. With several inputs, each rule's value is a list
            (or a dict) of such arrays, one per explained input, as the
            inputs were given. Raw values: normalize with `kv.render`.

        Raises:
            InvalidInputError: for images of the wrong rank, size or channel
                count, an empty batch, NaN or Inf; for inputs that do not
                match the model (count, names, float or out-of-range ids).
            InvalidTargetError / UnknownTargetError: for a bad target.
        """
        if isinstance(images, tf.data.Dataset):
            if self.input_shape is None:
                raise InvalidInputError(
                    "A subclassed model's input shape is learnt from its first array: call the "
                    "Visualizer (or its predict) once with an array before passing a tf.data.Dataset. "
                    "Received: images=<tf.data.Dataset> on the first call"
                )
            images = _dataset_images(images, self.input_shape, batch_size or self.batch_size)
        flat, structure = self._flat(images)
        method = methods_lib.resolve(method)
        target = self._target(target, labels)
        num_samples = flat[0].shape[0]
        batch = _validation.positive_int(batch_size or self.batch_size, "batch_size")
        if method.copies > 1 and target.reads_prediction:
            # Copies of an image (noise, path points) are differentiated for the
            # class chosen on the image itself, not for each copy's own top class.
            predicted = np.argmax(self._predict(flat, batch), axis=-1)
            target = target.for_predicted(predicted, self.num_classes)
        aux = np.asarray(target.aux(num_samples, self._target_width(target, [a.shape for a in flat])))
        positions = self._explained(method)
        per_input = {j: method._for_input(j, self.input_spec[j].name) for j in positions}
        function = self._function(target, method, positions)
        reducers = {j: per_input[j]._reducer(flat[j], self.rules) for j in positions}
        total = num_samples * method.copies  # forward images
        starts = range(0, total, batch)
        for start in tqdm(starts, desc="kerasviz", unit="batch", disable=not progress or len(starts) < 2):
            sample, copy = np.divmod(np.arange(start, min(start + batch, total)), method.copies)
            xs = [a[start:start + batch] if method.copies == 1
                  else per_input[j]._inputs(a, sample, copy) if j in per_input else a[sample]
                  for j, a in enumerate(flat)]
            with rules_lib.released_custom_gradients():  # a trace's entries would hold the weights forever
                maps = function([tf.constant(x) for x in xs], tf.constant(aux[sample]))
            for k, j in enumerate(positions):
                reducers[j].add(sample, {rule: maps[rule][k].numpy() for rule in self.rules})
        results = [reducers[j].result() for j in positions]
        if method.needs_layer:  # one map per sample, over the image input
            return results[0]
        return {rule: inputs_lib.restructure([r[rule] for r in results], positions, self.input_spec,
                                             structure, self._selection)
                for rule in self.rules}

    def predict(self, images, *, batch_size: int | None = None) -> np.ndarray:
        """The explained output (logits) for `images`, as the maps see it."""
        flat, _ = self._flat(images)
        return self._predict(flat, _validation.positive_int(batch_size or self.batch_size, "batch_size"))

    def explained_output(self, xs) -> tf.Tensor:
        """The explained output (logits) of one forward pass, traced inside a `tf.function`.

        It is what the maps differentiate: `preprocess` applied, the chosen
        output, a final softmax removed (for a subclassed model, the input of
        its final `Softmax` op).

        Args:
            xs: a tensor for a one-input model, or a list of one tensor per
                input (token ids as their embeddings, `(N, T, E)`).

        Returns:
            The output tensor, e.g. `(N, classes)` logits.

        Raises:
            UnsupportedModelError: when called eagerly.

        Example:

        ```python
        logits_of = tf.function(viz.explained_output)
        logits = logits_of(tf.constant(images))
        ```
        """
        return self._traced_outputs(list(xs) if isinstance(xs, (list, tuple)) else [xs], None)

    # -- internals ------------------------------------------------------------
    def _predict(self, flat: list[np.ndarray], batch: int) -> np.ndarray:
        outputs = self._outputs
        if self._strip_softmax:  # the softmax is found among the traced ops
            if "predict" not in self._functions:
                self._functions["predict"] = tf.function(functools.partial(self._traced_outputs), autograph=False)
            outputs = self._functions["predict"]
        with rules_lib.released_custom_gradients():
            parts = [outputs([tf.constant(a[i:i + batch]) for a in flat], None).numpy()
                     for i in range(0, len(flat[0]), batch)]
        return np.concatenate(parts)

    def _traced_outputs(self, xs: list, layer: str | None) -> tf.Tensor:
        with override.rule_ops():
            return self._outputs(xs, layer)

    def _flat(self, given) -> tuple[list[np.ndarray], str]:
        """The inputs checked against the model, one float32 array per input (ids embedded)."""
        if self.input_spec is None:  # a subclassed model: its inputs are what it is first given
            self._learn_inputs(given)
        flat, structure = inputs_lib.flatten(self.input_spec, given)
        if self._structure is not None and structure != self._structure and len(flat) > 1:
            structure = self._structure
        return flat, structure

    def _learn_inputs(self, given) -> None:
        if isinstance(given, dict):
            names, values, self._structure = list(given), list(given.values()), "dict"
        elif isinstance(given, (list, tuple)) and len(given) > 1 and all(hasattr(v, "shape") for v in given):
            names, values, self._structure = [f"input_{j}" for j in range(len(given))], list(given), "list"
        else:
            names, values, self._structure = ["input"], [given], "single"
        checked = [_validation.image_batch(v, (None,) * max(np.ndim(v), 2), name=f"images[{n!r}]")
                   for n, v in zip(names, values)]
        self.input_spec = [inputs_lib.InputSpec(n, (None, *a.shape[1:]), "float32") for n, a in zip(names, checked)]
        self._positions, self._selection = inputs_lib.explained(self.input_spec, self._inputs_arg)
        self.input_shape = self.input_spec[0].shape
        self._probe(stacklevel=5)

    def _target(self, target, labels) -> targets_lib.Target:
        if isinstance(target, str) and target.strip().lower() == "loss" and labels is not None:
            return targets_lib.Loss(labels)
        if labels is not None:
            raise InvalidTargetError(
                "labels= is used by target='loss' only; for classes pass them as "
                f"the target. Received: target={target!r} with labels"
            )
        return targets_lib.resolve(target, seed=self.seed)

    def _target_width(self, target: targets_lib.Target, shapes: list[tuple]) -> int:
        """The explained tensor's last axis; checks that the target fits that tensor."""
        if target.layer is None and self._probed:
            shape = (None, *self._probe(stacklevel=4)[1:])
            target.check(shape)
            return int(shape[-1])
        images_shape = shapes[0] if len(shapes) == 1 else list(shapes)
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
                    tapped.inputs[0] if len(tapped.inputs) == 1 else tapped.inputs,
                    [tapped.outputs[0], tapped.outputs[1 + self.output_index]], name=tapped.name,
                )
            self._submodels[key] = tapped
        return self._submodels[key]

    def _outputs(self, xs: list, layer: str | None) -> tf.Tensor:
        if layer is not None:
            return self._without_softmax(self._call_model(xs, self._tap(layer, with_output=False)))
        return self._without_softmax(_flat_outputs_of(self._call_model(xs))[self.output_index])

    def _without_softmax(self, outputs: tf.Tensor) -> tf.Tensor:
        """On the op path, the final softmax's input (the rewrite removes the softmax layer instead)."""
        return override.logits_of(outputs)[0] if self._strip_softmax else outputs

    def _explained(self, method: methods_lib.Method) -> list[int]:
        """The inputs a method's maps are of: every explained input, or Grad-CAM's one image input."""
        if not method.needs_layer or len(self.input_spec) == 1:
            return self._positions
        images = [j for j in self._positions if len(self.input_spec[j].shape) == 4]
        if len(images) != 1:
            raise InvalidArgumentError(
                f"{type(method).__name__} upsamples to one image input (N, H, W, C); name it with "
                f"inputs=<its name>. Received: inputs={self._inputs_arg!r} with explained inputs "
                f"{[self.input_spec[j].name for j in self._positions]}"
            )
        return images

    def _function(self, target: targets_lib.Target, method: methods_lib.Method, positions: list[int]) -> Callable:
        key = target.cache_key() + method.cache_key() + tuple(positions)
        if key not in self._functions:
            self._functions[key] = self._compile(target, method, positions)
        return self._functions[key]

    def _forward(self, xs: list, layer: str | None, cam_layer: str | None):
        """The explained tensor and, when `cam_layer` is given, that layer's activations."""
        if cam_layer is None:
            return self._outputs(xs, layer), None
        if layer is None:
            activations, outputs = self._call_model(xs, self._tap(cam_layer, with_output=True))
            return self._without_softmax(outputs), activations
        key = ("cam", cam_layer, layer)
        if key not in self._submodels:
            self._submodels[key] = tap(self.model, [cam_layer, layer], outputs=False)
        activations, outputs = self._call_model(xs, self._submodels[key])
        return self._without_softmax(outputs), activations

    def _compile(self, target: targets_lib.Target, method: methods_lib.Method, positions: list[int]) -> Callable:
        rules = self.rules
        vectorized = target.num_scores is not None
        cam_layer = methods_lib.cam_layer(self.model, method) if method.needs_layer else None
        persistent = method._backward_passes(rules, vectorized) > 1 or len(positions) > 1
        per_input = {j: method._for_input(j, self.input_spec[j].name) for j in positions}

        # autograph=False: no tensor-dependent Python control flow here, and
        # without AutoGraph a kerasviz error raised while tracing (e.g. by a
        # target) reaches the user as itself, not wrapped in a StagingError.
        def compute(xs, aux):
            xs = list(xs)
            if self._ops:  # ReLU ops follow the rules under tf.gradients (a tape ignores the override)
                tape = None
                with override.rule_ops():
                    outputs, activations = self._forward(xs, target.layer, cam_layer)
                    scores = target.scores(outputs, aux)
            else:
                with tf.GradientTape(persistent=persistent) as tape:
                    for j in positions:
                        tape.watch(xs[j])
                    outputs, activations = self._forward(xs, target.layer, cam_layer)
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
                with rules_lib.backward_rule(rule), tf.control_dependencies([d for d in done[-1:] if d is not None]):
                    if tape is None:
                        result = override.gradients(scores, list(sources), vectorized)
                    elif vectorized:
                        result = [tape.batch_jacobian(scores, source) for source in sources]
                    else:
                        result = tape.gradient(scores, list(sources))
                done.append(next((r for r in result if r is not None), None))
                return result

            inputs = [xs[j] for j in positions]
            shared: dict = {}

            def differentiate_all(rule, sources):
                """`differentiate`, where asking for one input's gradient computes every explained input's.

                Each input's method graph asks for its own input; the first
                asks, under each rule, for all of them in one backward pass.
                """
                if len(inputs) == 1 or not any(s is x for s in sources for x in inputs):
                    return differentiate(rule, sources)
                extra = [s for s in sources if not any(s is x for x in inputs)]
                key = (rule, tuple(id(s) for s in extra))
                if key not in shared:
                    shared[key] = dict(zip(map(id, inputs + extra), differentiate(rule, inputs + extra)))
                return [shared[key][id(s)] for s in sources]

            maps = {rule: [] for rule in rules}
            for j in positions:
                graph = per_input[j]._graph(xs[j], activations, differentiate_all, rules, vectorized, cam_layer)
                for rule in rules:
                    maps[rule].append(graph[rule])
            return maps

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
    `on_unsupported`, `activations`, `batch_size`, `seed`, `engine`, `inputs`) or to the call (`method`,
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


def _traced_output_index(outputs, output: int | str | None) -> int:
    """`output` as an index into the flattened outputs of a traced (subclassed) model."""
    flat = _flat_outputs_of(outputs)
    names = sorted(outputs) if isinstance(outputs, dict) else list(range(len(flat)))
    if output is None and len(flat) == 1:
        return 0
    if output in names and not isinstance(output, bool):
        return names.index(output)
    raise UnsupportedModelError(
        f"The model has {len(flat)} outputs ({', '.join(map(str, names))}): say which to "
        f"explain with output=<index, or key of its output dict>. Received: output={output!r}"
    )


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

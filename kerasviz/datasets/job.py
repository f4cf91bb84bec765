"""`explain_dataset`: check the arguments, open or create the store, run an engine.

Example:

```python
store = kv.explain_dataset(model, "photos/", "maps.zarr", rules=("saliency", "guided"))
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from kerasviz import _validation, names
from kerasviz import precision as precision_lib
from kerasviz.datasets.fingerprint import fingerprint
from kerasviz.datasets.store import DTYPES, MapStore, model_identity, open_maps, stable_repr
from kerasviz.errors import InvalidArgumentError, UnsupportedModelError

ENGINES = ("local", "ray")
ON_ERROR = ("raise", "skip")


def explain_dataset(
    model,
    source,
    store: str | os.PathLike,
    rules: Iterable[str] = names.RULE_NAMES,
    target="max",
    method=None,
    *,
    batch_size: int = 32,
    image_size: int | tuple[int, int] | None = None,
    preprocess: Callable | None = None,
    dtype: str = "float16",
    on_error: str = "raise",
    engine: str = "local",
    workers: int | None = None,
    num_gpus: float | None = None,
    ray_address: str | None = None,
    restart: bool = False,
    output: int | str | None = None,
    logits: bool = True,
    on_unsupported: str = "warn",
    activations: str | None = None,
    seed: int = 0,
    jit_compile: bool = False,
    precision: str = "float32",
    progress: bool = True,
    storage_options: dict | None = None,
) -> MapStore:
    """Maps of every input of a dataset, streamed into a resumable Zarr store.

    Memory stays bounded whatever the dataset's size: inputs are read chunk
    by chunk (`batch_size` inputs per chunk), decoding overlaps the gradient
    computation, and each chunk's maps and table rows are written as soon as
    they are computed. Rerunning the same call after a crash or `kill -9`
    continues where the job stopped and ends with exactly the store an
    uninterrupted run writes (chunks not marked done are rewritten).

    Args:
        model: a Keras model with one input (as `kv.Visualizer` takes):
            images `(N, H, W, C)`, sequences `(N, T, C)`, tables `(N, D)`
            or token ids `(N, T)` (see `kerasviz.datasets.inputs`); or a
            Functional model with several inputs (the store then keeps one
            array per rule and input, `<rule>/<input name>`).
        source: a folder (every non-hidden file below it, sorted), a glob
            pattern, a list of image files, an `(N, ...)` NumPy array or
            `np.memmap` of the model's input shape, a tuple
            `(inputs, labels[, ids])` of arrays, or a finite
            `tf.data.Dataset` of inputs, `(input, label)` or
            `(input, label, id)`, batched or not. Files are decoded on the
            [0, 255] scale; other inputs are read as they are (no resizing).
            For several inputs: a list of arrays (in `model.inputs` order)
            or a dict keyed by input name, optionally in a tuple
            `(inputs, labels[, ids])`.
        store: where to write: a local path (conventionally `*.zarr`) or an
            fsspec URL (`"s3://bucket/maps.zarr"`).
        rules: rule names or aliases, or relevance rule objects
            (`kv.rules.LRP(...)`, `kv.rules.DeepLift(...)`: their maps and
            the store's settings go by the rule's `name`). Defaults to
            `kv.RULES`.
        target: `"max"`, a class index, one class per input, `"random"`
            (seeded per chunk: `seed + chunk index`), `"loss"` (with the
            source's labels when it has them), a callable or a
            `kv.targets.Target`. Defaults to `"max"`.
        method: any method the `Visualizer` takes (`kv.methods`), or `None`
            for the gradient. Defaults to `None`.
        batch_size: inputs per forward pass, and per chunk of the store.
            Defaults to `32`.
        image_size: `(height, width)` or one side that images are fitted to
            (center crop to the aspect ratio, then bilinear resize). Defaults
            to `None` (the model's input size).
        preprocess: a function applied inside the gradient computation, as
            for `Visualizer`. Part of the settings by its name and a hash of
            its code, constants, defaults, closure values and the globals
            it reads (lambdas too), so a changed preprocess is refused on
            resume; a function whose content cannot be hashed is refused
            with the reason. Defaults to `None`.
        dtype: the maps' stored dtype: `"float16"` (half the disk; each map
            is divided by its largest |value|, kept as a float32 scale, so
            every finite map comes back within 2**-11 of its largest value
            from 1e-30 to 1e30) or `"float32"` (exact). A map that cannot
            be stored faithfully (Inf or NaN from the model) makes its row
            `"error: <why>"`. Defaults to `"float16"`.
        on_error: `"raise"` stops at the first unreadable input with an
            error naming it (the chunks before it are kept); `"skip"` writes
            its row with status `"error: <reason>"` and NaN maps, and goes
            on. Defaults to `"raise"`.
        engine: `"local"` (this process) or `"ray"` (Ray Data actors, see
            `kerasviz.datasets.ray_engine`). Defaults to `"local"`.
        workers: Ray actors. Defaults to `None` (one per GPU of the cluster,
            else 1).
        num_gpus: GPUs per Ray actor. Defaults to `None` (1 when the cluster
            has GPUs, else 0).
        ray_address: the address of a running Ray cluster (`"auto"`,
            `"ray://head:10001"`). Defaults to `None`: use the Ray instance
            this process already started, else the cluster the `RAY_ADDRESS`
            environment variable names, else start a local Ray of the job's
            own (never one that happens to run on the machine).
        restart: delete the store's content and start over, instead of
            resuming. Defaults to `False`.
        output: which output to explain for models with several. Defaults
            to `None`.
        logits: explain pre-softmax logits. Defaults to `True`.
        on_unsupported: `"error"`, `"warn"` or `"keep"` for non-ReLU
            activations. Defaults to `"warn"`.
        activations: where the rules act, as for `Visualizer`: `"relu"` or
            `"all"`. Defaults to `None` (the Visualizer's default, `"relu"`).
        seed: seed of `target="random"`. Defaults to `0`.
        jit_compile: compile with XLA (not part of the settings: a store may
            be finished with or without it). Defaults to `False`.
        precision: the arithmetic of the maps, `"float32"`, `"bfloat16"` or
            `"float16"` (see `kv.Visualizer`; maps are float32 before they
            are stored in `dtype`). Part of the settings. Defaults to
            `"float32"`.
        progress: show a tqdm bar (images/s, time left; one per Ray worker).
            Defaults to `True`.
        storage_options: fsspec options for a URL store. Defaults to `None`.

    Returns:
        The finished store, opened for reading (`kv.open_maps`).

    Raises:
        StoreSettingsError: if the store holds maps made with other settings
            (the message lists them; pass `restart=True`).
        StoreError: if another job is writing the store, or a write fails
            (the store then resumes cleanly).
        FileReadError: for an unreadable file with `on_error="raise"`.
        InvalidInputError / InvalidArgumentError / InvalidTargetError: for
            bad arguments.

    Example:

    ```python
    store = kv.explain_dataset(model, "photos/", "maps.zarr", rules=("saliency", "guided"),
                               on_error="skip")
    store["guided"][0]                      # the first map, (H, W, C)
    store.table.query("status != 'ok'")     # the files that could not be read
    ```
    """
    import keras

    from kerasviz import rules as rules_lib  # here: importing this module loads no TensorFlow (the CLI's checks)
    from kerasviz.datasets.explainer import ChunkExplainer
    from kerasviz.datasets.inputs import resolve_array_source
    from kerasviz.datasets.lock import JobLock
    from kerasviz.datasets.sources import iter_ranges, resolve_source
    from kerasviz.datasets.store import StoreWriter

    path = os.fspath(store)
    rules = tuple(rules) if isinstance(rules, Iterator) else rules
    rules_lib.canonical_names(rules)  # unknown names are refused before any work; rule objects are kept
    batch_size = _validation.positive_int(batch_size, "batch_size")
    _validation.one_of(dtype, "dtype", DTYPES, what="map dtype")
    _validation.one_of(on_error, "on_error", ON_ERROR, what="on_error choice")
    _validation.one_of(engine, "engine", ENGINES, what="engine")
    precision_lib.check(precision)
    workers = _validation.positive_int(workers, "workers", allow_none=True)
    preprocess_id = fingerprint(preprocess)  # refuses, before any work, one it cannot tell apart
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise UnsupportedModelError(
            "explain_dataset takes a Functional or Sequential keras.Model (one input or several). "
            f"Received: model of type {type(model).__name__}"
        )
    input_shape = tuple(model.inputs[0].shape)
    several = _several_specs(model, source, image_size, engine)  # one array per input, as they are
    spec = None if several else _input_spec(model, source, image_size)  # sequences, tables, token ids
    if several:
        from kerasviz.datasets.inputs import SeveralArraySource

        size, sample_shape = None, {s.name: s.shape for s in several}
        data = SeveralArraySource(source, model, several)
    elif spec is None:
        size = _image_size(input_shape, image_size, source)
        data = resolve_source(source, size=size, channels=int(input_shape[-1]))
        sample_shape = (*size, int(input_shape[-1]))
    else:
        size, sample_shape = None, spec.shape
        data = resolve_array_source(source, spec)
    if engine == "ray":
        from kerasviz.datasets import ray_engine

        ray_engine.check(data)
    visualizer_kwargs = dict(output=output, preprocess=preprocess, logits=logits,
                             on_unsupported=on_unsupported, batch_size=batch_size, seed=seed,
                             jit_compile=jit_compile, precision=precision)
    if activations is not None:
        visualizer_kwargs["activations"] = activations
    explainer_kwargs = dict(target=target, method=method, num_inputs=len(data), has_labels=data.has_labels,
                            on_error=on_error, source_kind=data.kind, **visualizer_kwargs)
    if several:
        from kerasviz.datasets.several import SeveralInputsExplainer

        explainer = SeveralInputsExplainer(model, rules, input_names=list(sample_shape), **explainer_kwargs)
    else:
        explainer = ChunkExplainer(model, rules, **explainer_kwargs)
    settings = {
        "model": model_identity(model),
        "rules": list(explainer.rules),
        "method": _method_text(method),
        "target": stable_repr(explainer.target) if not _per_input(explainer.target) else
        f"{type(explainer.target).__name__}({'mask' if hasattr(explainer.target, 'mask') else 'per input'}, "
        f"sha256:{_digest(explainer.target)})",
        "image_size": list(size) if size is not None else None,
        "dtype": dtype,
        "batch_size": batch_size,
        "preprocess": preprocess_id,
        "output": explainer.viz.output_index,
        "logits": bool(logits),
        "activations": activations or "relu",
        "seed": int(seed),
        "source": data.identity(),
        "precision": precision,
    }
    if spec is not None:  # only for non-images: image stores keep their settings (and resume)
        settings["input"] = {"kind": spec.kind, "shape": list(spec.shape), "dtype": spec.dtype}
    if several:
        settings["input"] = {s.name: {"kind": s.kind, "shape": list(s.shape), "dtype": s.dtype}
                             for s in several}
    map_shape = explainer.map_shape(sample_shape)
    with JobLock(path, storage_options):
        writer = StoreWriter(
            path, settings=settings, rules=explainer.rules, num_inputs=len(data),
            chunk_size=batch_size, map_shape=map_shape, dtype=dtype, restart=restart,
            storage_options=storage_options,
            axis_names=({s.name: s.axis_names(map_shape[s.name]) for s in several if s.name in map_shape}
                        if several else None if spec is None else spec.axis_names(map_shape)),
            inputs=list(map_shape) if several else None,
        )
        ranges = iter_ranges(len(data), batch_size, writer.done())
        if engine == "local":
            from kerasviz.datasets.local import run_local

            run_local(explainer, data, writer, ranges, progress=progress)
        else:
            from kerasviz.datasets.ray_engine import run_ray

            run_ray(model, data, writer, ranges, rules=explainer.viz.rule_objects, target=explainer.target,
                    method=method, on_error=on_error, workers=workers,
                    num_gpus=num_gpus, ray_address=ray_address, progress=progress,
                    storage_options=storage_options, **visualizer_kwargs)
    return open_maps(path, storage_options=storage_options)


def _several_specs(model, source, image_size, engine: str):
    """The `InputSpec`s of a model with several inputs (`kerasviz.datasets.inputs`), else `None`."""
    if len(model.inputs) == 1:
        return None
    from kerasviz.datasets.inputs import describe_inputs

    if image_size is not None:
        raise InvalidArgumentError(
            f"image_size is for models with one image input; the {len(model.inputs)} inputs of this "
            f"model are read as they are. Leave it out. Received: image_size={image_size!r}"
        )
    if engine != "local":
        raise InvalidArgumentError(
            f"A model with several inputs is explained by the local engine only. Pass "
            f"engine='local'. Received: engine={engine!r}"
        )
    return describe_inputs(model, source)


def _input_spec(model, source, image_size):
    """The `InputSpec` of a model that takes no images (`kerasviz.datasets.inputs`), else `None`."""
    from kerasviz.datasets.inputs import describe_input, kind_of

    if kind_of(model.inputs[0]) == "image":
        return None
    if image_size is not None:
        raise InvalidArgumentError(
            f"image_size is for models that take images; this one takes "
            f"{kind_of(model.inputs[0])} inputs of shape {tuple(model.inputs[0].shape)}. Leave it "
            f"out. Received: image_size={image_size!r}"
        )
    return describe_input(model.inputs[0], source)


def _image_size(input_shape: tuple, image_size, source) -> tuple[int, int]:
    if image_size is not None:
        if _validation.is_int(image_size):
            image_size = (image_size, image_size)
        if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
                or not all(_validation.is_int(s) and s > 0 for s in image_size)):
            raise InvalidArgumentError(
                f"image_size is one positive int or (height, width). Received: image_size={image_size!r}"
            )
        model_size = input_shape[1:3]
        for want, got in zip(model_size, image_size):
            if want is not None and want != got:
                raise InvalidArgumentError(
                    f"image_size does not fit the model, which takes {tuple(input_shape[1:])} images. "
                    f"Received: image_size={tuple(image_size)}"
                )
        return int(image_size[0]), int(image_size[1])
    if None not in input_shape[1:3]:
        return int(input_shape[1]), int(input_shape[2])
    shape = getattr(source[0] if isinstance(source, tuple) else source, "shape", None)
    if shape is not None and len(shape) == 4:
        return int(shape[1]), int(shape[2])
    raise InvalidArgumentError(
        f"The model takes images of any size {tuple(input_shape[1:])}: say which with "
        f"image_size=(height, width). Received: image_size=None"
    )


def _method_text(method) -> str:
    try:  # None and "gradient" both mean Gradient()
        from kerasviz import methods

        return stable_repr(methods.resolve(method))
    except ImportError:  # pragma: no cover - before kv.methods existed
        return stable_repr(method)


def _per_input(target) -> bool:
    from kerasviz import targets

    region = getattr(targets, "Region", None)  # its mask's content matters, shared or per input
    return (isinstance(target, targets.Classes) and target.classes.ndim == 1) or (
        isinstance(target, targets.Loss) and target.labels is not None) or (
        region is not None and isinstance(target, region))


def _digest(target) -> str:
    import hashlib

    import numpy as np

    if hasattr(target, "mask"):  # a Region: its class and mask
        data = np.ascontiguousarray(target.mask, np.float32)
        text = f"{target.class_index}:{data.shape}".encode() + data.tobytes()
        return hashlib.sha256(text).hexdigest()[:16]
    values = target.classes if hasattr(target, "classes") else target.labels
    return hashlib.sha256(np.ascontiguousarray(values, np.int64).tobytes()).hexdigest()[:16]

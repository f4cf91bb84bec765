"""Inputs that are not images: sequences, tables and token ids, as arrays or `tf.data`.

`explain_dataset` looks at the model's input (`describe_input`) and reads
images through `sources` (decoded, center-cropped and resized); every other
input is read as it is, one sample of exactly the model's shape per row:

| the model takes | kind | one sample | stored map (one per rule) |
|---|---|---|---|
| `(N, H, W, C)` floats | `"image"` | `(H, W, C)` | `(H, W, C)` (Grad-CAM `(H, W)`) |
| `(N, T, C)` floats | `"sequence"` | `(T, C)` | `(T, C)`, axes `time, channel` |
| `(N, D)` floats | `"table"` | `(D,)` | `(D,)`, axis `feature` |
| `(N, T)` integers | `"tokens"` | `(T,)` ids | what the model's maps are, e.g. `(T, E)` at the Embedding |
| any other rank | `"array"` | as given | as the maps are |

Arrays (NumPy, `np.memmap`, any sliceable array-like), tuples
`(inputs, labels[, ids])` and finite `tf.data.Dataset`s of samples,
`(sample, label)` or `(sample, label, id)`, batched or not, are accepted;
files are for images only. A model axis of unknown length (`None`, e.g.
the time axis of a sequence model) takes the source's length, which every
sample then shares (a store holds maps of one shape). Float samples are
read as float32, token ids as int32; float token ids are refused, never
rounded.

Store layout: one Zarr array per rule, named `<rule>`, for a model with
one input. A model with several inputs gets one array per rule and input,
`<rule>/<input name>` (see `array_name`).

Example:

```python
spec = describe_input(model, sequences)
source = resolve_array_source(sequences, spec)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kerasviz.datasets.sources import (ArraySource, Chunk, Source, _check_finite_dataset, _int_labels, _one_label,
                                      _unbatched_and_counted)
from kerasviz.errors import InvalidArgumentError, InvalidInputError

#: The names of a stored map's axes (after `input`), per kind of input and map rank.
AXIS_NAMES: dict[tuple[str, int], tuple[str, ...]] = {
    ("image", 3): ("height", "width", "channel"),
    ("image", 2): ("height", "width"),
    ("sequence", 2): ("time", "channel"),
    ("sequence", 1): ("time",),
    ("table", 1): ("feature",),
    ("tokens", 1): ("token",),
    ("tokens", 2): ("token", "embedding"),
}


@dataclass(frozen=True)
class InputSpec:
    """What one input of the model takes.

    Attributes:
        kind: `"image"`, `"sequence"`, `"table"`, `"tokens"` or `"array"`.
        shape: one sample's shape (no batch axis), every length known.
        dtype: `"float32"`, or `"int32"` for token ids.
        name: the input's name in the model.
    """

    kind: str
    shape: tuple[int, ...]
    dtype: str
    name: str

    def axis_names(self, map_shape: Sequence[int]) -> tuple[str, ...]:
        """The names of a stored map's axes, e.g. `("time", "channel")`."""
        named = AXIS_NAMES.get((self.kind, len(map_shape)))
        return named or tuple(f"axis_{i}" for i in range(1, len(map_shape) + 1))


def array_name(rule: str, input_name: str | None = None) -> str:
    """The store's array of `rule`'s maps: `<rule>`, or `<rule>/<input name>` for several inputs."""
    return rule if input_name is None else f"{rule}/{input_name}"


def kind_of(model_input) -> str:
    """`"image"`, `"sequence"`, `"table"`, `"tokens"` or `"array"` for a Keras input tensor."""
    rank = len(model_input.shape)
    if np.dtype(_dtype_name(model_input)).kind in "iu":
        return "tokens" if rank == 2 else "array"
    return {4: "image", 3: "sequence", 2: "table"}.get(rank, "array")


def describe_input(model_input, source) -> InputSpec:
    """The `InputSpec` of a non-image input, its unknown lengths taken from `source`.

    Args:
        model_input: the model's input tensor (`model.inputs[0]`).
        source: the array, tuple or `tf.data.Dataset` the job reads.

    Returns:
        The `InputSpec`.

    Raises:
        InvalidArgumentError: when the model leaves a length open and the
            source does not tell it.
    """
    kind = kind_of(model_input)
    wanted = tuple(model_input.shape[1:])
    shape = _source_sample_shape(source, len(wanted))
    if None in wanted:
        if shape is None or len(shape) != len(wanted):
            raise InvalidArgumentError(
                f"The model takes inputs of shape {_text(wanted)}, with a length left open; pass an "
                f"array (or a tf.data.Dataset with a known element shape) to fix it. "
                f"Received: source of type {type(source).__name__}"
            )
        wanted = tuple(s if w is None else w for w, s in zip(wanted, shape))
    dtype = "int32" if kind in ("tokens", "array") and np.dtype(_dtype_name(model_input)).kind in "iu" \
        else "float32"
    return InputSpec(kind, tuple(int(s) for s in wanted), dtype, _input_name(model_input))


def resolve_array_source(source, spec: InputSpec) -> Source:
    """A `Source` of non-image samples: an array, a tuple `(inputs, labels[, ids])` or a `tf.data.Dataset`.

    Raises:
        InvalidArgumentError: for files or another kind of source.
        InvalidInputError: for samples of the wrong shape or dtype.
    """
    import tensorflow as tf

    if isinstance(source, tf.data.Dataset):
        return SampleDatasetSource(source, spec)
    if isinstance(source, tuple) and 2 <= len(source) <= 3 and hasattr(source[0], "shape"):
        return SampleArraySource(source[0], spec, labels=source[1],
                                 ids=source[2] if len(source) == 3 else None)
    if hasattr(source, "shape") and hasattr(source, "__getitem__"):
        return SampleArraySource(source, spec)
    raise InvalidArgumentError(
        f"This model takes {spec.kind} inputs of shape {_text(spec.shape)}: the source is an array "
        f"(N, {_text(spec.shape)[1:-1]}) (NumPy or np.memmap), a tuple (inputs, labels[, ids]) or a "
        f"tf.data.Dataset; files are read as images only. Received: source of type "
        f"{type(source).__name__}"
    )


class SampleArraySource(ArraySource):
    """A sliceable `(N, *shape)` array of sequences, table rows or token ids, read as they are."""

    def __init__(self, samples, spec: InputSpec, labels=None, ids=None):
        shape = tuple(getattr(samples, "shape", ()))
        if shape[1:] != spec.shape or not shape or shape[0] == 0:
            raise InvalidInputError(
                f"An array source for this model's input {spec.name!r} must be shaped "
                f"(N, {_text(spec.shape)[1:-1]}) with N >= 1 ({spec.kind}). Received: source of "
                f"shape {shape}"
            )
        _check_dtype(getattr(samples, "dtype", None), spec)
        self.size, self.channels, self.spec = (0, 0), 0, spec
        self.images = samples
        self.labels = None if labels is None else _int_labels(labels, shape[0])
        self.has_labels = self.labels is not None
        if ids is not None and len(ids) != shape[0]:
            raise InvalidInputError(f"Give one id per input ({shape[0]}). Received: {len(ids)} ids")
        self._ids = None if ids is None else [str(i) for i in ids]

    def identity(self):
        return {**super().identity(), "input": self.spec.kind}

    def _chunks(self, ranges):
        for index, start, stop in ranges:
            samples = np.asarray(self.images[start:stop], dtype=self.spec.dtype)
            labels = self.labels[start:stop] if self.has_labels else np.full(stop - start, -1, np.int64)
            ids = self._ids[start:stop] if self._ids is not None else [str(i) for i in range(start, stop)]
            yield Chunk(index, start, samples, ids, labels, [None] * (stop - start))


class SampleDatasetSource(Source):
    """A finite `tf.data.Dataset` of samples, `(sample, label)` or `(sample, label, id)`, batched or not."""

    kind = "tf.data"

    def __init__(self, dataset, spec: InputSpec):
        import tensorflow as tf

        super().__init__((0, 0), 0)
        self.spec = spec
        _check_finite_dataset(dataset)
        element = dataset.element_spec
        parts = element if isinstance(element, tuple) else (element,)
        sample = parts[0]
        rank = len(spec.shape)
        if (not isinstance(sample, tf.TensorSpec) or sample.shape.rank not in (rank, rank + 1)
                or not sample.shape[-rank:].is_compatible_with(spec.shape)):
            raise InvalidInputError(
                f"A dataset source for this model yields samples {_text(spec.shape)}, batched or "
                f"not, or tuples (sample, label) / (sample, label, id). Received: element_spec="
                f"{element!r}"
            )
        _check_dtype(sample.dtype.as_numpy_dtype, spec)
        self.dataset, self._count = _unbatched_and_counted(dataset, batched=sample.shape.rank == rank + 1)
        self.has_labels = len(parts) > 1
        self.has_ids = len(parts) > 2
        self.element = repr(element)

    def __len__(self):
        return self._count

    def identity(self):
        return {"kind": self.kind, "count": len(self), "element_spec": self.element,
                "input": self.spec.kind}

    def _chunks(self, ranges):
        if not ranges:
            return
        elements = iter(self.dataset.skip(ranges[0][1]))
        position = ranges[0][1]
        for index, start, stop in ranges:
            while position < start:  # a done chunk between two to do
                next(elements)
                position += 1
            samples = np.zeros((stop - start, *self.spec.shape), self.spec.dtype)
            labels = np.full(stop - start, -1, np.int64)
            ids = [str(i) for i in range(start, stop)]
            for row in range(stop - start):
                parts = next(elements)
                parts = parts if isinstance(parts, tuple) else (parts,)
                value = parts[0].numpy()
                if value.shape != self.spec.shape:
                    raise InvalidInputError(
                        f"Input {start + row} of the dataset is shaped {value.shape}; the model's "
                        f"input {self.spec.name!r} takes {self.spec.shape}. Received: shape={value.shape}"
                    )
                samples[row] = value
                if self.has_labels:
                    labels[row] = _one_label(parts[1].numpy())
                if self.has_ids:
                    name = parts[2].numpy()
                    ids[row] = name.decode("utf-8") if isinstance(name, bytes) else str(name)
                position += 1
            yield Chunk(index, start, samples, ids, labels, [None] * (stop - start))


def _check_dtype(dtype, spec: InputSpec) -> None:
    kind = np.dtype(dtype).kind if dtype is not None else "?"
    if spec.dtype == "int32" and kind not in "iu":
        raise InvalidInputError(
            f"The model's input {spec.name!r} takes integer token ids; cast the source to an "
            f"integer dtype (float ids are not rounded). Received: dtype={dtype}"
        )
    if spec.dtype == "float32" and kind not in "biuf":
        raise InvalidInputError(
            f"The model's input {spec.name!r} takes numbers. Received: dtype={dtype}"
        )


def _source_sample_shape(source, rank: int) -> tuple | None:
    import tensorflow as tf

    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(spec, tf.TensorSpec) or spec.shape.rank is None:
            return None
        shape = tuple(spec.shape)
        return shape[1:] if len(shape) == rank + 1 else shape  # batched or not
    array = source[0] if isinstance(source, tuple) and len(source) in (2, 3) else source
    shape = getattr(array, "shape", None)
    return tuple(shape[1:]) if shape is not None else None


def _dtype_name(model_input) -> str:
    dtype = getattr(model_input, "dtype", "float32")
    return getattr(dtype, "name", None) or str(dtype)


def _text(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


# -- several inputs --------------------------------------------------------------------------------
def describe_inputs(model, source) -> list[InputSpec]:
    """One `InputSpec` per input of a model with several, in `model.inputs` order.

    Args:
        model: the Keras model.
        source: a list of arrays (in the model's input order), a dict keyed
            by input name, or a tuple `(those, labels[, ids])`.

    Returns:
        The specs; images are read as they are (not fitted), like every input.

    Raises:
        InvalidArgumentError: for a source that is not one array per input.
    """
    arrays = _several(source, model)
    return [describe_input(x, array) for x, array in zip(model.inputs, arrays)]


class SeveralArraySource(Source):
    """One sliceable `(N, ...)` array per input; a chunk's `images` is the list of their rows."""

    kind = "array"

    def __init__(self, source, model, specs: list[InputSpec]):
        super().__init__((0, 0), 0)
        self.specs = specs
        self.arrays = _several(source, model)
        labels = source[1] if isinstance(source, tuple) else None
        ids = source[2] if isinstance(source, tuple) and len(source) == 3 else None
        counts = {spec.name: int(a.shape[0]) for spec, a in zip(specs, self.arrays)}
        if len(set(counts.values())) != 1 or 0 in counts.values():
            raise InvalidInputError(
                f"Every input needs the same number N >= 1 of rows. Received: rows per input {counts}"
            )
        for spec, array in zip(specs, self.arrays):
            SampleArraySource(array, spec)  # the shape and dtype checks, with the input's name
        self._count = next(iter(counts.values()))
        self.labels = None if labels is None else _int_labels(labels, self._count)
        self.has_labels = self.labels is not None
        if ids is not None and len(ids) != self._count:
            raise InvalidInputError(f"Give one id per input ({self._count}). Received: {len(ids)} ids")
        self._ids = None if ids is None else [str(i) for i in ids]

    def __len__(self):
        return self._count

    def identity(self):
        return {"kind": self.kind, "count": len(self), "labels": self.has_labels,
                "inputs": {s.name: {"shape": list(a.shape), "dtype": str(getattr(a, "dtype", "?"))}
                           for s, a in zip(self.specs, self.arrays)}}

    def _chunks(self, ranges):
        for index, start, stop in ranges:
            parts = [np.asarray(a[start:stop], dtype=s.dtype) for s, a in zip(self.specs, self.arrays)]
            labels = self.labels[start:stop] if self.has_labels else np.full(stop - start, -1, np.int64)
            ids = self._ids[start:stop] if self._ids is not None else [str(i) for i in range(start, stop)]
            yield Chunk(index, start, parts, ids, labels, [None] * (stop - start))


def _several(source, model) -> list:
    """The arrays of a several-input source, in `model.inputs` order."""
    names = [_input_name(x) for x in model.inputs]
    given = source[0] if isinstance(source, tuple) and 2 <= len(source) <= 3 else source
    if isinstance(given, dict):
        missing, unknown = sorted(set(names) - set(given)), sorted(set(given) - set(names))
        if missing or unknown:
            raise InvalidArgumentError(
                f"A dict source has one array per input, keyed {names}. Received: keys {sorted(given)} "
                f"(missing {missing}, unknown {unknown})"
            )
        return [given[name] for name in names]
    if isinstance(given, list) and len(given) == len(names) and all(hasattr(a, "shape") for a in given):
        return list(given)
    raise InvalidArgumentError(
        f"This model takes {len(names)} inputs {names}: the source is a list of {len(names)} arrays "
        f"(in that order) or a dict keyed by input name, optionally in a tuple (inputs, labels[, ids]). "
        f"Received: source of type {type(given).__name__}"
        + (f" with {len(given)} items" if isinstance(given, (list, tuple)) else "")
    )


def _input_name(model_input) -> str:
    from kerasviz import _compat

    return _compat.producing_operation(model_input).name

"""A model's inputs as the `Visualizer` explains them: several inputs, token ids.

A model may take several inputs (an image and metadata), given as one array,
a list or a dict keyed by input name. The `Visualizer` gives maps in the
structure the inputs were given (list -> list, dict -> dict), for every
explained input. Token ids (an integer input that feeds an `Embedding`) have
no gradient: they are explained at the embedding's output, so the model is
split there (`split_at_embeddings`) and the ids are looked up in the
embedding's table before the forward pass; their maps are `(N, T, E)`.

Example:

```python
spec = kv.inputs.describe(model)      # one InputSpec per input
split, spec = kv.inputs.split_at_embeddings(model, spec)
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerasviz import _compat, _validation
from kerasviz.errors import InvalidArgumentError, InvalidInputError, UnsupportedModelError


@dataclasses.dataclass
class InputSpec:
    """One input of a model.

    Attributes:
        name: the input's name (its `keras.Input`'s).
        shape: its batch shape, e.g. `(None, 32, 32, 3)`; for token ids
            explained at their embedding, the ids' shape `(None, T)`.
        dtype: its dtype, e.g. `"float32"` or `"int32"`.
        embedding: the `Embedding` layer the ids feed (token inputs), else `None`.
    """

    name: str
    shape: tuple
    dtype: str
    embedding: keras.layers.Embedding | None = None

    @property
    def tokens(self) -> bool:
        """Whether the input is token ids explained at their embedding."""
        return self.embedding is not None

    @property
    def differentiable(self) -> bool:
        """Whether maps can be taken for it (floats, or token ids at their embedding)."""
        return self.tokens or np.dtype(self.dtype).kind == "f"

    @property
    def map_shape(self) -> tuple:
        """The shape of its maps: the input's, or `(None, T, E)` for tokens."""
        return (*self.shape, self.embedding.output_dim) if self.tokens else self.shape


def describe(model: keras.Model) -> list[InputSpec]:
    """One `InputSpec` per input of a Functional or Sequential model, in `model.inputs` order."""
    return [
        InputSpec(_compat.producing_operation(x).name, tuple(x.shape), str(keras.backend.standardize_dtype(x.dtype)))
        for x in model.inputs
    ]


def split_at_embeddings(model: keras.Model, spec: list[InputSpec]) -> tuple[keras.Model, list[InputSpec]]:
    """The model with each integer input that feeds an `Embedding` replaced by that embedding's output.

    The new model takes `(N, T, E)` float embeddings where `model` took
    `(N, T)` ids, and shares every layer (and so every variable) with it.

    Args:
        model: a Functional or Sequential model.
        spec: `describe(model)`.

    Returns:
        `(model, spec)`: `model` itself and `spec` when no input is split, else
        the split model and the spec with each split input's `embedding` set.

    Raises:
        UnsupportedModelError: when token ids feed other layers besides their
            `Embedding` (there is no single place to explain them).
    """
    graph = _compat.sequential_graph(model) if isinstance(model, keras.Sequential) else model
    integer = [np.dtype(s.dtype).kind in "iu" for s in spec]
    if not any(integer) or graph is None:
        return model, spec
    inputs = [keras.Input(batch_shape=s.shape, dtype=s.dtype, name=s.name) for s in spec]
    embedded: dict[int, tuple] = {}

    def call(op, *args, **kwargs):
        position = next((j for j, x in enumerate(inputs) if args and args[0] is x and integer[j]), None)
        if isinstance(op, keras.layers.Embedding) and position is not None and position not in embedded:
            new = keras.Input(batch_shape=(*spec[position].shape, op.output_dim), dtype=op.compute_dtype,
                              name=f"{spec[position].name}_embedded")
            embedded[position] = (op, new)
            return new
        return op(*args, **kwargs)

    outputs = _compat.run_through_graph(graph, inputs, call)
    if not embedded:
        return model, spec
    new_inputs = [embedded[j][1] if j in embedded else x for j, x in enumerate(inputs)]
    try:
        split = keras.Model(new_inputs[0] if len(new_inputs) == 1 else new_inputs, outputs, name=model.name)
    except ValueError as err:
        names = [spec[j].name for j in embedded]
        raise UnsupportedModelError(
            f"The token ids of input(s) {names} feed other layers besides their Embedding, so "
            f"they cannot be explained at the embedding's output. Feed the ids to the "
            f"Embedding only. Received: model={model.name!r}"
        ) from err
    spec = [dataclasses.replace(s, embedding=embedded[j][0]) if j in embedded else s for j, s in enumerate(spec)]
    return split, spec


def explained(spec: list[InputSpec], inputs: Any) -> tuple[list[int], Any]:
    """The positions of the inputs to explain, from `inputs=` (names, indices or `None`).

    Returns:
        `(positions, selection)`: the positions, and how the user named them
        (`None`: every differentiable input; a str or int: one input, whose
        maps come as one array).

    Raises:
        InvalidArgumentError: for a name or index that is not an input, or an input
            that cannot be differentiated (integer ids that feed no `Embedding`).
    """
    names = [s.name for s in spec]
    if inputs is None:
        positions = [j for j, s in enumerate(spec) if s.differentiable]
        if not positions:
            raise UnsupportedModelError(
                f"No input of the model can be differentiated: {_listing(spec)}. Integer inputs are "
                f"explained at the Embedding they feed. Received: inputs=None"
            )
        return positions, None
    chosen = [inputs] if isinstance(inputs, (str, int, np.integer)) else inputs
    try:
        chosen = list(chosen)
    except TypeError:
        chosen = [inputs]
    positions = []
    for item in chosen:
        if isinstance(item, str) and item in names:
            j = names.index(item)
        elif _validation.is_int(item) and -len(spec) <= item < len(spec):
            j = int(item) % len(spec)
        else:
            raise InvalidArgumentError(
                f"inputs= names the inputs to explain by name or index: {_listing(spec)}. "
                f"Received: inputs={inputs!r}"
            )
        if not spec[j].differentiable:
            raise InvalidArgumentError(
                f"Input {spec[j].name!r} ({spec[j].dtype}) has no gradient: integer inputs are "
                f"explained at the Embedding they feed, and this one feeds none. "
                f"Received: inputs={inputs!r}"
            )
        positions.append(j)
    if not positions or len(set(positions)) != len(positions):
        raise InvalidArgumentError(
            f"inputs= names each input to explain once, at least one: {_listing(spec)}. "
            f"Received: inputs={inputs!r}"
        )
    return positions, inputs


def flatten(spec: list[InputSpec], given: Any, name: str = "images") -> tuple[list[np.ndarray], str]:
    """The inputs a user passed, checked against the model, as one array per input.

    Token ids are checked (integers, within the embedding's table) and
    looked up: the returned array is their `(N, T, E)` embedding.

    Args:
        spec: the model's inputs (`split_at_embeddings`'s spec).
        given: an array (one input), a list/tuple (one array per input, in
            order) or a dict keyed by input name.
        name: the argument's name in messages. Defaults to `"images"`.

    Returns:
        `(arrays, structure)`: float32 arrays, and `"single"`, `"list"` or `"dict"`.

    Raises:
        InvalidInputError: for the wrong number of inputs, unknown or missing
            names, arrays that do not fit their input, float ids or ids out of range.
    """
    names = [s.name for s in spec]
    if isinstance(given, dict):
        if set(given) != set(names):
            raise InvalidInputError(
                f"`{name}` as a dict needs one array per model input, keyed by name: "
                f"{_listing(spec)}. Received: keys={sorted(map(str, given))}"
            )
        arrays, structure = [given[n] for n in names], "dict"
    elif isinstance(given, (list, tuple)) and (len(spec) > 1 or _is_structure(given, spec[0])):
        if len(given) != len(spec):
            raise InvalidInputError(
                f"The model takes {len(spec)} input(s), {_listing(spec)}: give one array per "
                f"input, in this order (or a dict keyed by name). Received: {len(given)} arrays"
            )
        arrays, structure = list(given), "list"
    elif len(spec) > 1:
        raise InvalidInputError(
            f"The model takes {len(spec)} inputs, {_listing(spec)}: give a list of one array "
            f"per input, or a dict keyed by name. Received: {type(given).__name__}"
        )
    else:
        arrays, structure = [given], "single"
    label = (lambda s: name) if structure == "single" else (lambda s: f"{name}[{s.name!r}]")
    batches = [_one(s, a, label(s)) for s, a in zip(spec, arrays)]
    sizes = {len(b) for b in batches}
    if len(sizes) > 1:
        raise InvalidInputError(
            f"Every input needs the same number of samples; nothing is broadcast. "
            f"Received: {', '.join(f'{s.name}: {len(b)}' for s, b in zip(spec, batches))}"
        )
    return batches, structure


def _is_structure(given: Sequence, spec: InputSpec) -> bool:
    """A one-element list holding a whole batch for the one input (not a list of images)."""
    return len(given) == 1 and hasattr(given[0], "shape") and np.ndim(given[0]) == len(spec.shape)


def _one(spec: InputSpec, value: Any, label: str) -> np.ndarray:
    if not spec.tokens:
        if np.dtype(spec.dtype).kind in "iu":
            return _ids(spec, value, label, high=None)
        if len(spec.shape) == 4:  # images: the image checks and their messages
            return _validation.image_batch(value, spec.shape, name=label)
        return _floats(spec, value, label)
    ids = _ids(spec, value, label, high=spec.embedding.input_dim)
    table = keras.ops.convert_to_numpy(spec.embedding.embeddings)
    return table[ids].astype(np.float32)


def _floats(spec: InputSpec, value: Any, label: str) -> np.ndarray:
    """A batch of sequences `(N, T, C)`, table rows `(N, D)` or any other non-image input."""
    want = _validation.shape_text(spec.shape)
    try:
        array = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - anything not array-like
        raise InvalidInputError(
            f"`{label}` must be an array shaped {want} for input {spec.name!r}. "
            f"Received: {type(value).__name__} ({err})"
        ) from err
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"`{label}` must be numbers. Received: dtype={array.dtype}")
    if array.ndim != len(spec.shape) or array.shape[0] == 0 or any(
        want_size is not None and got != want_size for got, want_size in zip(array.shape[1:], spec.shape[1:])
    ):
        hint = f" For one sample, pass {label}[None]." if array.ndim == len(spec.shape) - 1 else ""
        raise InvalidInputError(
            f"`{label}` must be a non-empty batch shaped {want} for input {spec.name!r}.{hint} "
            f"Received: shape={array.shape}"
        )
    array = array.astype(np.float32, copy=False)
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise InvalidInputError(
            f"`{label}` contains {bad} NaN or Inf values; gradients of them are meaningless. "
            f"Received: shape={array.shape}"
        )
    return array


def _ids(spec: InputSpec, value: Any, label: str, high: int | None) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise InvalidInputError(
            f"`{label}` holds ids for input {spec.name!r} ({spec.dtype}): give integers "
            f"(float ids are not rounded). Received: dtype={array.dtype}"
        )
    if array.ndim != len(spec.shape) or any(
        want is not None and got != want for got, want in zip(array.shape[1:], spec.shape[1:])
    ) or array.shape[0] == 0:
        raise InvalidInputError(
            f"`{label}` must be shaped {_validation.shape_text(spec.shape)} (a non-empty batch) for "
            f"input {spec.name!r}. Received: shape={array.shape}"
        )
    if high is not None and array.size and (array.min() < 0 or array.max() >= high):
        raise InvalidInputError(
            f"`{label}` holds ids outside the vocabulary of {spec.embedding.name!r} "
            f"(0..{high - 1}). Received: min={array.min()}, max={array.max()}"
        )
    return array


def _listing(spec: list[InputSpec]) -> str:
    return ", ".join(f"{s.name!r} {_validation.shape_text(s.shape)}" for s in spec)


def restructure(per_input: list, positions: list[int], spec: list[InputSpec], structure: str, selection: Any):
    """Maps of the explained inputs (in `positions` order) in the structure the inputs came in."""
    if isinstance(selection, (str, int, np.integer)) or structure == "single":
        return per_input[0]
    if structure == "dict":
        return {spec[j].name: m for j, m in zip(positions, per_input)}
    return list(per_input)

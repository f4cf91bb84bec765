"""The map store: one Zarr group holding the maps, the per-input table and the job's settings.

Layout (Zarr format 3; every array of the root group, so `xarray.open_zarr`
gives one `Dataset` whose variables share the `input` dimension):

| array | shape, chunks | content |
|---|---|---|
| `<rule>` (one per rule) | `(N, H, W, C)`, `(B, H, W, C)` | maps in `dtype`, divided by `<rule>_scale`; NaN where there is no map |
| `<rule>_scale` | `(N,)`, `(B,)` | float32: the map is `<rule>[i] * <rule>_scale[i]` |
| `<rule>/<input>`, `<rule>/<input>_scale` (several inputs: one pair per rule and input, instead) | `(N, *input map)`, `(N,)` | the same, per explained input |
| `id` | `(N,)`, `(B,)` | path, given id or position |
| `status` | `(N,)`, `(B,)` | `"ok"`, `"error: <reason>"`, or `"pending"` (not written yet) |
| `label` | `(N,)`, `(B,)` | the source's label, `-1` when it has none |
| `predicted` | `(N,)`, `(B,)` | the model's top class (argmax of the explained output) |
| `target` | `(N,)`, `(B,)` | the class differentiated, `-1` when the target is no class |
| `score` | `(N,)`, `(B,)` | the differentiated score (NaN for `Neuron` targets) |
| `done` | `(N / B,)`, `(1,)` | chunk `k` is complete |

The table is kept as Zarr arrays chunked like the maps, not as a Parquet
file or the group's attributes, so that the maps and the rows of a chunk
live in chunk files that only one writer touches: Ray workers never share a
file, and a crash can only leave the chunk being written half done. Chunk
`k`'s `done` flag (a chunk of its own) is written after every other array
of that chunk, so a chunk counts as done only once fully written; resuming
rewrites every chunk not marked done. `MapStore.table` turns the columns into
a pandas `DataFrame`.

Why a scale: float16 keeps about three significant digits but only
magnitudes from 6e-5 to 65504, while raw gradient maps range from 1e-13
(random BatchNorm nets) to 1e10 (the paper's random VGG-16). Each map is
stored divided by its largest finite |value| (float32, its own array), so
the float16 values lie in [-1, 1] and every finite map comes back within
2**-11 of its largest value, whatever its magnitude; `MapStore[rule]` does
the multiplication. float32 stores keep the maps as they are (scale 1).
A map that still cannot be stored within `TOLERANCE` of its largest value
(Inf or NaN values from the model itself) turns its row's status into
`"error: ..."` (see `encode_maps`).

The group's attributes hold `attrs["kerasviz"]`: the format version, the
number of inputs, the chunk size, the rules, the map shape and the
*settings*: the model's identity (a hash of its config and weights), the
rules, method, target, image size, dtype, batch size, preprocess function,
explained output and the source's identity. A job on an existing store
compares them first and refuses to mix maps made with other settings.

Example:

```python
store = kv.open_maps("maps.zarr")
store.rules, len(store)          # ("saliency", "guided"), 50000
store["guided"][7]               # (H, W, C) float32 array: the stored values times their scale
store["guided"][:100]            # (100, H, W, C)
store.table.query("status != 'ok'")
```
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from kerasviz.errors import InvalidArgumentError, StoreError, StoreSettingsError

#: Version of the layout above (1: maps stored as they are, no scale arrays).
FORMAT = 2
#: The largest error of a stored map, relative to its largest |value|, that counts as faithful.
TOLERANCE = 1e-3
#: The name of the array of `rule`'s scales.
SCALE_SUFFIX = "_scale"
#: The table's columns in order, with their Zarr dtype and fill value.
COLUMNS: dict[str, tuple[object, object]] = {
    "id": (str, ""),
    "status": (str, "pending"),
    "label": ("int64", -1),
    "predicted": ("int64", -1),
    "target": ("int64", -1),
    "score": ("float32", float("nan")),
}
DONE = "done"
#: Map dtypes a store takes.
DTYPES = ("float16", "float32")
#: The settings, in the order a mismatch lists them.
SETTINGS = ("model", "rules", "method", "target", "image_size", "dtype", "batch_size",
            "preprocess", "output", "logits", "activations", "seed", "source")


def is_url(path: str) -> bool:
    """Whether `path` is an fsspec URL (`s3://...`) rather than a local path."""
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path))


def stable_repr(value) -> str:
    """`repr(value)` without memory addresses; functions by module and qualified name."""
    if value is None:
        return "None"
    name = getattr(value, "__qualname__", None)
    if callable(value) and name is not None and not isinstance(value, type):
        return f"{getattr(value, '__module__', '?')}.{name}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def model_identity(model) -> str:
    """`"<name> sha256:<16 hex>"` of the model's config and weights.

    Equal for a model and its `.keras` copy reloaded; different as soon as
    one weight changes.
    """
    digest = hashlib.sha256()
    config = model.get_config()
    digest.update(json.dumps(config, sort_keys=True, default=str).encode("utf-8"))
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        digest.update(f"{weight.path}:{value.dtype}:{value.shape}".encode("utf-8"))
        digest.update(np.ascontiguousarray(value).tobytes())
    return f"{model.name} sha256:{digest.hexdigest()[:16]}"


class MapStore:
    """A map store written by `kv.explain_dataset`, opened for reading.

    `store[rule]` is the rule's Zarr array: index it like a NumPy array
    (`store["guided"][i]` is one `(H, W, C)` map, slices give batches; only
    the chunks touched are read). `len(store)` is the number of inputs.

    Attributes:
        path: where the store is.
        rules: the rules, in order.
        group: the underlying `zarr.Group`, for anything else.
    """

    def __init__(self, group, path: str):
        info = group.attrs.get("kerasviz")
        if not isinstance(info, dict) or "settings" not in info:
            raise StoreError(
                f"{path!r} is a Zarr group but not a kerasviz map store (its attributes "
                f"have no 'kerasviz' settings). Received: path={path!r}"
            )
        self.group = group
        self.path = path
        self.info = info
        self.rules: tuple[str, ...] = tuple(info["rules"])

    def __len__(self) -> int:
        return int(self.info["num_inputs"])

    def __getitem__(self, rule: str):
        if rule.split("/")[0] not in self.rules or rule.count("/") > (1 if self.info.get("inputs") else 0):
            raise KeyError(f"No maps of rule {rule!r} in this store; its rules are {list(self.rules)}"
                           f"{' and inputs ' + str(self.info['inputs']) if self.info.get('inputs') else ''}.")
        if int(self.info.get("format", 1)) < 2:  # maps stored as they are, no scale
            return self.group[rule]
        if self.info.get("inputs") and "/" not in rule:  # several inputs: {input: maps}
            return {name: self[f"{rule}/{name}"] for name in self.info["inputs"]}
        return ScaledMaps(self.group[rule], self.group[rule + SCALE_SUFFIX])

    def __contains__(self, rule: str) -> bool:
        return rule in self.rules

    def __repr__(self) -> str:
        return (f"MapStore({self.path!r}, rules={list(self.rules)}, inputs={len(self)}, "
                f"done={int(self.done.sum())}/{len(self.done)} chunks)")

    @property
    def settings(self) -> dict:
        """The settings the maps were made with."""
        return dict(self.info["settings"])

    @property
    def chunk_size(self) -> int:
        """Inputs per chunk."""
        return int(self.info["chunk_size"])

    @property
    def map_shape(self) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """The shape of one map, e.g. `(H, W, C)`; `{input name: shape}` for several inputs."""
        if isinstance(self.info["map_shape"], dict):
            return {name: tuple(shape) for name, shape in self.info["map_shape"].items()}
        return tuple(self.info["map_shape"])

    @property
    def done(self) -> np.ndarray:
        """One bool per chunk: written completely."""
        return read_done(self.group, int(self.info["num_chunks"]))

    @property
    def complete(self) -> bool:
        """Whether every chunk is written."""
        return bool(self.done.all())

    @property
    def table(self):
        """One row per input: `id`, `status`, `label`, `predicted`, `target`, `score`.

        Columns added by `kv.evaluate_dataset` (`<metric>_<rule>`) follow, NaN
        where not computed yet.

        Returns:
            A pandas `DataFrame` indexed by the input's position. Rows of
            chunks not written yet have status `"pending"`.
        """
        import pandas as pd

        done = self.done
        count, chunk = len(self), self.chunk_size
        columns = {}
        for name, (_, fill) in COLUMNS.items():
            array = self.group[name]
            if done.all():
                values = array[:]
            else:  # read only complete chunks: the others may be half written
                values = np.full(count, fill, dtype=object if name in ("id", "status") else array.dtype)
                for k in np.flatnonzero(done):
                    values[k * chunk:(k + 1) * chunk] = array[k * chunk:(k + 1) * chunk]
            columns[name] = values.astype(object) if name in ("id", "status") else values
        for name in self.info.get("metrics", {}):  # columns of kv.evaluate_dataset, done flags of their own
            values = np.full(count, np.nan, np.float32)
            for k in np.flatnonzero(read_done(self.group, len(done), name=f"{name}.done")):
                values[k * chunk:(k + 1) * chunk] = self.group[name][k * chunk:(k + 1) * chunk]
            columns[name] = values
        return pd.DataFrame(columns)


class ScaledMaps:
    """One rule's maps as they were computed: the stored values times their scale, in float32.

    Indexes like the Zarr array (an int, a slice or a list of ints first,
    then anything for the map's own axes); only the chunks touched are read.

    Attributes:
        values: the stored Zarr array (`dtype` of the store).
        scale: the Zarr array of one float32 scale per input.
    """

    def __init__(self, values, scale):
        self.values, self.scale = values, scale

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def dtype(self) -> np.dtype:
        """float32: what indexing returns (the stored dtype is `values.dtype`)."""
        return np.dtype("float32")

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self.values.chunks)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key and key[0] is not Ellipsis else slice(None)
        if isinstance(first, list):
            first = np.asarray(first)
        if isinstance(first, np.ndarray):  # a list of inputs: Zarr's orthogonal selection
            values = self.values.oindex[(first, *key[1:])] if len(key) > 1 else self.values.oindex[first]
        else:
            values = self.values[key]
        scale = np.asarray(self.scale.oindex[first] if isinstance(first, np.ndarray) else self.scale[first],
                           np.float32)
        scale = scale.reshape(scale.shape + (1,) * (np.ndim(values) - scale.ndim))
        return (np.asarray(values, np.float32) * scale).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"ScaledMaps(shape={self.shape}, stored as {self.values.dtype} times a float32 scale per input)"


def encode_maps(maps: dict[str, np.ndarray], dtype) -> tuple[dict, dict, list]:
    """The stored values, scales and problems of a chunk's float32 maps (see the module docstring).

    Args:
        maps: `{rule: (n, ...) float32 maps}`, NaN for inputs without a map.
        dtype: the stored dtype.

    Returns:
        `(values, scales, problems)`: `{rule: values in dtype}`, `{rule: (n,)
        float32 scales}`, and per input `None` or why its maps are not
        stored within `TOLERANCE` of its largest |value| (Inf or NaN in a
        map, or a rounding error beyond it). The caller ignores the problems
        of inputs without a map (all NaN).
    """
    dtype = np.dtype(dtype)
    values, scales = {}, {}
    problems: list = [None] * len(next(iter(maps.values())))
    for rule, computed in maps.items():
        computed = np.asarray(computed, np.float32)
        flat = computed.reshape(len(computed), -1)
        finite = np.isfinite(flat)
        if dtype == np.float32:
            scale = np.ones(len(flat), np.float32)
            stored = computed
        else:
            peak = np.where(finite, np.abs(flat), 0).max(axis=1, initial=0)
            scale = np.where(peak > 0, peak, 1).astype(np.float32)
            with np.errstate(over="ignore", invalid="ignore"):
                stored = (flat / scale[:, None]).astype(dtype).reshape(computed.shape)
        back = stored.reshape(len(flat), -1).astype(np.float32) * scale[:, None]
        with np.errstate(invalid="ignore"):
            error = np.where(finite, np.abs(back - flat), 0).max(axis=1, initial=0)
        peak = np.where(finite, np.abs(flat), 0).max(axis=1, initial=0)
        for row in range(len(flat)):
            if finite[row].all():
                reason = None
            else:
                reason = (f"the {rule!r} map holds {int((~finite[row]).sum())} Inf or NaN values "
                          f"(the model's scores overflow float32?)")
            if reason is None and error[row] > TOLERANCE * peak[row]:
                reason = (f"the {rule!r} map cannot be stored in {dtype.name} within {TOLERANCE:g} of its "
                          f"largest value (error {error[row] / peak[row]:.2g}); use dtype='float32'")
            if reason is not None:
                problems[row] = reason if problems[row] is None else f"{problems[row]}; {reason}"
        values[rule], scales[rule] = stored, scale
    return values, scales, problems


def open_maps(path: str | os.PathLike, *, storage_options: dict | None = None) -> MapStore:
    """Open a map store written by `kv.explain_dataset`, for reading.

    Args:
        path: the store's path or fsspec URL (`"s3://bucket/maps.zarr"`).
        storage_options: fsspec options for a URL (credentials, ...).
            Defaults to `None`.

    Returns:
        A `MapStore`: `store.rules`, `len(store)`, `store[rule][i]`,
        `store.table`.

    Raises:
        StoreError: if there is no store there, or it was not written by
            kerasviz.

    Example:

    ```python
    store = kv.open_maps("maps.zarr")
    first = store["guided"][0]                  # (H, W, C)
    failed = store.table.query("status != 'ok'")
    ```
    """
    import zarr

    path = os.fspath(path)
    try:
        group = zarr.open_group(path, mode="r", storage_options=storage_options)
    except Exception as err:  # noqa: BLE001 - missing path, not a group, bad URL
        raise StoreError(
            f"Cannot open the map store {path!r}: {type(err).__name__}: {err}. "
            f"Received: path={path!r}"
        ) from err
    return MapStore(group, path)


def read_done(group, num_chunks: int, name: str = DONE) -> np.ndarray:
    """The `done` flags (or those of array `name`); a flag that cannot be read (a killed write) counts as not done."""
    array = group[name]
    try:
        return np.asarray(array[:], dtype=bool)
    except Exception:  # noqa: BLE001 - read flag by flag
        flags = np.zeros(num_chunks, bool)
        for k in range(num_chunks):
            try:
                flags[k] = bool(array[k])
            except Exception:  # noqa: BLE001
                flags[k] = False
        return flags


class StoreWriter:
    """Creates a store or opens one to continue, and writes whole chunks.

    Args:
        path: local path or fsspec URL.
        settings: the job's settings (see `SETTINGS`).
        rules: the rules, in order.
        num_inputs: N.
        chunk_size: inputs per chunk (the batch size).
        map_shape: the shape of one map.
        dtype: `"float16"` or `"float32"`.
        restart: delete what is there and start over.
        storage_options: fsspec options for a URL.
        axis_names: the names of a map's axes; `None` names them as image
            axes (`height`, `width`, `channel`). `{input: names}` with `inputs`.
        inputs: the names of the explained inputs of a model with several:
            one array per rule and input, `<rule>/<input>`, and `map_shape`
            is `{input: shape}`. Defaults to `None` (one input: `<rule>`).

    Raises:
        StoreSettingsError: if the store holds maps made with other settings.
        StoreError: if the path holds something that is not a map store.
    """

    def __init__(self, path: str, *, settings: dict, rules: Sequence[str], num_inputs: int,
                 chunk_size: int, map_shape: tuple[int, ...], dtype: str, restart: bool = False,
                 storage_options: dict | None = None, axis_names: tuple[str, ...] | None = None,
                 inputs: Sequence[str] | None = None):
        import zarr

        self.path = path
        self.dtype = np.dtype(dtype)
        self.chunk_size = int(chunk_size)
        self.num_inputs = int(num_inputs)
        self.num_chunks = -(-self.num_inputs // self.chunk_size)
        self.rules = tuple(rules)
        scales = {rule + SCALE_SUFFIX for rule in self.rules}
        clash = sorted(set(self.rules) & (set(COLUMNS) | {DONE} | scales))
        if clash:
            raise InvalidArgumentError(
                f"A rule may not be named like a table column ({', '.join(COLUMNS)}, {DONE}) or another "
                f"rule's scale (<rule>{SCALE_SUFFIX}). Received: rules={list(self.rules)}"
            )
        self.info = {
            "format": FORMAT, "num_inputs": self.num_inputs, "chunk_size": self.chunk_size,
            "num_chunks": self.num_chunks, "rules": list(self.rules),
            "map_shape": {k: list(v) for k, v in map_shape.items()} if inputs else list(map_shape),
            "dtype": self.dtype.name, "settings": settings,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.storage_options = storage_options
        self.axis_names = axis_names
        self.inputs = tuple(inputs) if inputs else None
        if self.inputs:  # one array per rule and input: "<rule>/<input>"
            self.info["inputs"] = list(self.inputs)
        existing = _existing(path, storage_options)  # refuses paths that hold something else
        if existing is not None and not restart:
            _check_settings(existing, settings, path)
            self.group = zarr.open_group(path, mode="r+", storage_options=storage_options)
            self.info = existing
            _remove_partial_files(path)
        else:
            self.group = self._create(zarr, map_shape)

    def _create(self, zarr, map_shape):
        if is_url(self.path):
            group = zarr.open_group(self.path, mode="w", storage_options=self.storage_options)
        else:
            _clear_local(self.path)
            group = zarr.open_group(self.path, mode="a")
        chunk, count = self.chunk_size, self.num_inputs
        spatial = {3: ("height", "width", "channel"), 2: ("height", "width")}.get(
            len(map_shape), tuple(f"axis_{i}" for i in range(1, len(map_shape) + 1)))
        spatial = self.axis_names or spatial  # sequences, tables, tokens name their own axes
        for name in self.map_names():
            shape = map_shape[name.split("/")[1]] if self.inputs else map_shape
            names = self.axis_names[name.split("/")[1]] if self.inputs else spatial
            group.create_array(
                name, shape=(count, *shape), chunks=(chunk, *shape), dtype=self.dtype,
                fill_value=np.nan, dimension_names=("input", *names), compressors=_map_compressor(),
            )
            group.create_array(name + SCALE_SUFFIX, shape=(count,), chunks=(chunk,), dtype="float32",
                               fill_value=np.nan, dimension_names=("input",))
        for name, (dtype, fill) in COLUMNS.items():
            group.create_array(name, shape=(count,), chunks=(chunk,), dtype=dtype,
                               fill_value=fill, dimension_names=("input",))
        group.create_array(DONE, shape=(self.num_chunks,), chunks=(1,), dtype=bool,
                           fill_value=False, dimension_names=("chunk",))
        group.attrs["kerasviz"] = self.info  # last: a store without it is no store yet
        return group

    @classmethod
    def attach(cls, path: str, *, storage_options: dict | None = None) -> StoreWriter:
        """A writer of the existing store at `path`, without any check (for Ray workers).

        The job's driver has created or checked the store and holds its lock.
        """
        import zarr

        writer = cls.__new__(cls)
        writer.path, writer.storage_options = path, storage_options
        writer.group = zarr.open_group(path, mode="r+", storage_options=storage_options)
        writer.info = dict(writer.group.attrs["kerasviz"])
        writer.rules = tuple(writer.info["rules"])
        writer.dtype = np.dtype(writer.info["dtype"])
        writer.chunk_size = int(writer.info["chunk_size"])
        writer.num_inputs = int(writer.info["num_inputs"])
        writer.num_chunks = int(writer.info["num_chunks"])
        writer.inputs = tuple(writer.info["inputs"]) if writer.info.get("inputs") else None
        return writer

    def done(self) -> np.ndarray:
        """One bool per chunk."""
        return read_done(self.group, self.num_chunks)

    def write_chunk(self, index: int, start: int, maps: dict[str, np.ndarray],
                    rows: dict[str, Sequence]) -> None:
        """Write chunk `index`'s maps (float32, as computed) and rows, then mark it done.

        The maps are stored with their scales (`encode_maps`); an `"ok"` row
        whose maps cannot be stored faithfully gets status `"error: <why>"`
        (its maps are stored as they come out), with one warning per writer.

        Raises:
            StoreError: if a write fails (disk full, permissions, network):
                the chunk is not marked done, so a rerun rewrites it.
        """
        stop = start + len(rows["status"])
        values, scales, problems = encode_maps({name: maps[name] for name in self.map_names()}, self.dtype)
        problems = [p if status == "ok" else None for status, p in zip(rows["status"], problems)]
        rows = dict(rows, status=[status if p is None else f"error: {p}"
                                  for status, p in zip(rows["status"], problems)])
        self._warn(rows, problems)
        try:
            arrays = self._arrays()
            for name in self.map_names():
                arrays[name][start:stop] = values[name]
                arrays[name + SCALE_SUFFIX][start:stop] = scales[name]
            for name, (dtype, _) in COLUMNS.items():
                values = np.asarray(rows[name], dtype=object if dtype is str else dtype)
                arrays[name][start:stop] = values.astype(str) if dtype is str else values
            self.mark_done(index)
        except Exception as err:  # noqa: BLE001 - disk full, permissions, network: all end the job
            raise StoreError(
                f"Writing chunk {index} (inputs {start}..{stop - 1}) to {self.path!r} failed: "
                f"{type(err).__name__}: {err}. Chunks written before are kept and this one is not "
                f"marked done: fix the cause (e.g. free disk space) and rerun the same call to "
                f"resume. Received: store={self.path!r}"
            ) from err

    def _warn(self, rows: dict, problems: list) -> None:
        """Say once per writer that rows were marked, with the first one's reason."""
        marked = [row for row, problem in enumerate(problems) if problem is not None]
        if not marked or getattr(self, "_warned", False):
            return
        self._warned = True
        row = marked[0]
        warnings.warn(
            f"Input {rows['id'][row]!r}: {problems[row]}. Its row's status says so (and so will every "
            f"other such row's): store.table.query(\"status != 'ok'\").", RuntimeWarning, stacklevel=3)

    def mark_done(self, index: int) -> None:
        """Mark chunk `index` complete (after all its arrays are written)."""
        self._arrays()[DONE][index] = True

    def _arrays(self) -> dict:
        """The store's arrays, opened once (a fresh handle costs ~10 ms per write)."""
        if getattr(self, "_handles", None) is None:
            names = (*self.map_names(), *(name + SCALE_SUFFIX for name in self.map_names()), *COLUMNS, DONE)
            self._handles = {name: self.group[name] for name in names}
        return self._handles

    def map_names(self) -> list[str]:
        """The maps' arrays: `<rule>`, or `<rule>/<input>` for several inputs."""
        inputs = getattr(self, "inputs", None)
        return [f"{rule}/{name}" for rule in self.rules for name in inputs] if inputs else list(self.rules)


def _map_compressor():
    """Blosc, zstd level 1 on bit-shuffled values: about half the time of Zarr's default
    (zstd level 3) for the same size; raw gradient maps compress little (~10%)."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")


def _existing(path: str, storage_options) -> dict | None:
    """The `kerasviz` attributes of the store at `path`; None if there is none."""
    import zarr

    if not is_url(path) and not os.path.exists(path):
        return None
    if not is_url(path) and os.path.isdir(path) and not os.path.exists(os.path.join(path, "zarr.json")):
        entries = [e for e in os.listdir(path) if e != LOCK_NAME]
        if not entries:
            return None
        raise StoreError(
            f"{path!r} is a folder that holds other files, not a map store; kerasviz does not "
            f"write into it. Choose another path. Received: store={path!r}"
        )
    try:
        group = zarr.open_group(path, mode="r", storage_options=storage_options)
    except Exception as err:  # noqa: BLE001
        if is_url(path):
            return None
        raise StoreError(
            f"{path!r} exists but is not a Zarr group ({type(err).__name__}: {err}). Choose another "
            f"path. Received: store={path!r}"
        ) from err
    info = group.attrs.get("kerasviz")
    if not isinstance(info, dict):
        if not list(group.keys()):
            return None  # created by a job killed before it wrote its settings
        raise StoreError(
            f"{path!r} is a Zarr group that kerasviz did not write; it is left alone. Choose "
            f"another path. Received: store={path!r}"
        )
    return info


def _check_settings(existing: dict, settings: dict, path: str) -> None:
    # Stores made before the precision setting existed computed in float32.
    before = {"precision": "float32", **existing.get("settings", {})}
    if existing.get("format") != FORMAT:
        raise StoreSettingsError(
            f"The store {path!r} has layout version {existing.get('format')}; this kerasviz "
            f"writes version {FORMAT} (maps with a scale per input, exact from 1e-30 to 1e30). "
            f"kv.open_maps still reads it; to add maps, pass restart=True (command line: "
            f"--restart) to start over, or write to another path. Received: store={path!r}"
        )
    names = [k for k in SETTINGS if before.get(k) != settings.get(k)]
    names += sorted(k for k in set(before) | set(settings)
                    if k not in SETTINGS and before.get(k) != settings.get(k))
    if names:
        differences = "; ".join(
            f"{k} was {_text(before.get(k))}, now {_text(settings.get(k))}" for k in names
        )
        raise StoreSettingsError(
            f"The store {path!r} holds maps made with other settings ({differences}). Its maps "
            f"and the new ones would not belong together. Pass restart=True (command line: "
            f"--restart) to delete it and start over, or write to another path. "
            f"Received: store={path!r}"
        )


def _text(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


#: The lock file inside a store (see `kerasviz.datasets.lock`).
LOCK_NAME = "kerasviz.lock"


def _clear_local(path: str) -> None:
    """Empty the folder `path` (but its lock), creating it if needed."""
    import shutil

    os.makedirs(path, exist_ok=True)
    for entry in os.listdir(path):
        if entry == LOCK_NAME:
            continue
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.remove(full)


def _remove_partial_files(path: str) -> None:
    """Remove the temporary files of writes a killed job left (Zarr writes `*.partial`, then renames)."""
    if is_url(path):
        return
    for folder, _, files in os.walk(path):
        for name in files:
            if name.endswith(".partial"):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass

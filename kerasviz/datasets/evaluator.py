"""`evaluate_dataset`: faithfulness metrics of a store's maps, added as columns of its table.

A map store holds the maps and the table, not the inputs, so the metrics
read the inputs again, chunk by chunk, from the same source: `source=`
(checked against the identity the store recorded), or, for a store made
from image files, the paths in its `id` column (their hash is checked too).

Each `(metric, rule)` pair becomes one float32 column `<metric>_<rule>`
(e.g. `deletion_guided`), chunked like the table, with its own per-chunk
done flags (`<column>.done`) written after the chunk's values, exactly as
`explain_dataset` does for the maps: a killed job leaves at most the chunk
being written half done, and rerunning the same call computes only the
chunks whose flag is not set. The metric's settings are kept in the
store's attributes; a rerun with other settings is refused
(`restart=True` recomputes the columns). Rows whose status is not `"ok"`,
whose target is no class (`-1`), or whose chunk of maps is not done, get
NaN. `MapStore.table` shows the columns beside the others.

Example:

```python
store = kv.explain_dataset(model, images, "maps.zarr", rules=("saliency", "guided"), target=3)
store = kv.evaluate_dataset(model, "maps.zarr", metrics=("deletion", "insertion"), source=images)
store.table[["deletion_saliency", "deletion_guided"]].mean()
```
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np

from kerasviz import _validation
from kerasviz.datasets.store import MapStore, model_identity, open_maps, read_done, stable_repr
from kerasviz.errors import InvalidArgumentError, StoreSettingsError

#: The metrics by name (`kv.evaluation`), each called as `f(viz, images, maps, target=classes, **options)`.
METRICS = ("deletion", "insertion", "mu_fidelity", "infidelity")
#: Metrics with random draws, seeded per input.
SEEDED = ("mu_fidelity", "infidelity")


def evaluate_dataset(
    model,
    store: str | os.PathLike,
    metrics: Sequence[str] = ("deletion", "insertion"),
    source=None,
    *,
    rules: Iterable[str] | None = None,
    options: dict[str, dict] | None = None,
    preprocess=None,
    restart: bool = False,
    progress: bool = True,
    storage_options: dict | None = None,
) -> MapStore:
    """Faithfulness metrics of every map of a store, written as columns of its table.

    Streams the store chunk by chunk (one chunk of inputs and maps in memory
    at a time) and resumes after a kill: see the module docstring for the
    layout, the done flags and where the inputs come from.

    Args:
        model: the Keras model the maps were made with (checked against the
            store's record of its config and weights).
        store: the store's path or URL, written by `kv.explain_dataset`.
        metrics: names from `kv.evaluation`: `"deletion"`, `"insertion"`,
            `"mu_fidelity"`, `"infidelity"`. Defaults to `("deletion",
            "insertion")`.
        source: the inputs the maps were made from, as `explain_dataset`
            took them. Defaults to `None`: the files named in the `id`
            column (stores made from files only).
        rules: the rules whose maps to judge. Defaults to `None` (all).
        options: keyword arguments per metric, e.g. `{"deletion":
            {"steps": 10}}` (part of the column's settings). Defaults to `None`.
        preprocess: the `preprocess` function the maps were made with (the
            store records its name). Defaults to `None`.
        restart: recompute the columns even if they exist with other
            settings. Defaults to `False`.
        progress: show a tqdm bar. Defaults to `True`.
        storage_options: fsspec options for a URL store. Defaults to `None`.

    Returns:
        The store, opened again for reading (its `table` has the new columns).

    Raises:
        StoreError: if the store cannot be opened or another job writes it.
        StoreSettingsError: for another model, source or preprocess than the
            maps were made with, or columns made with other settings.
        InvalidArgumentError: for an unknown metric or rule, or a missing
            `source` for a store not made from files.

    Example:

    ```python
    kv.evaluate_dataset(model, "maps.zarr", metrics=("deletion",), source=images,
                        options={"deletion": {"steps": 10}})
    ```
    """
    from tqdm.auto import tqdm

    from kerasviz import evaluation
    from kerasviz.datasets.lock import JobLock
    from kerasviz.datasets.sources import iter_ranges, resolve_source
    from kerasviz.visualizer import Visualizer

    path = os.fspath(store)
    opened = open_maps(path, storage_options=storage_options)
    settings = opened.settings
    metrics = tuple(_validation.one_of(m, "metrics", METRICS, what="metric") for m in _names(metrics))
    rules = opened.rules if rules is None else tuple(rules)
    unknown = [r for r in rules if r not in opened.rules]
    if unknown:
        raise InvalidArgumentError(
            f"The store has no maps of rules {unknown}; its rules are {list(opened.rules)}. "
            f"Received: rules={list(rules)}"
        )
    options = dict(options or {})
    extra = sorted(set(options) - set(metrics))
    if extra:
        raise InvalidArgumentError(
            f"`options` names metrics that are not evaluated: {extra}. Received: options={options!r}"
        )
    _check(settings, "model", model_identity(model), path)
    _check(settings, "preprocess", stable_repr(preprocess), path)
    size = tuple(settings["image_size"])
    data = _source(opened, source, size, int(model.inputs[0].shape[-1]), resolve_source)
    viz = Visualizer(model, rules=("saliency",), output=settings["output"], logits=settings["logits"],
                     preprocess=preprocess, batch_size=opened.chunk_size, on_unsupported="keep")
    columns = {f"{m}_{r}": (m, r) for m in metrics for r in rules}
    column_settings = {name: stable_repr(options.get(m, {})) for name, (m, _) in columns.items()}
    with JobLock(path, storage_options):
        import zarr

        group = zarr.open_group(path, mode="r+", storage_options=storage_options)
        num_chunks, chunk = int(opened.info["num_chunks"]), opened.chunk_size
        recorded = dict(group.attrs["kerasviz"].get("metrics", {}))
        for name in columns:
            if name in recorded and recorded[name] != column_settings[name] and not restart:
                raise StoreSettingsError(
                    f"Column {name!r} of {path!r} was computed with options {recorded[name]}, not "
                    f"{column_settings[name]}: pass restart=True to recompute it. Received: options={options!r}"
                )
            if name not in recorded or restart:
                group.create_array(name, shape=(len(opened),), chunks=(chunk,), dtype="float32",
                                   fill_value=np.nan, dimension_names=("input",), overwrite=True)
                group.create_array(f"{name}.done", shape=(num_chunks,), chunks=(1,), dtype=bool,
                                   fill_value=False, dimension_names=("chunk",), overwrite=True)
                recorded[name] = column_settings[name]
                info = dict(group.attrs["kerasviz"])
                info["metrics"] = recorded
                group.attrs["kerasviz"] = info
        maps_done = opened.done
        flags = {name: read_done_column(group, name, num_chunks) for name in columns}
        todo = np.array([maps_done[k] and not all(flags[n][k] for n in columns) for k in range(num_chunks)])
        ranges = iter_ranges(len(opened), chunk, ~todo)
        with tqdm(total=sum(stop - start for _, start, stop in ranges), unit="img", desc="kerasviz",
                  disable=not progress) as bar:
            for part in data.chunks(ranges):
                start, stop = part.start, part.start + len(part.ids)
                status = np.array([str(s) for s in group["status"][start:stop]])
                classes = np.asarray(group["target"][start:stop], np.int64)
                ok = (status == "ok") & (classes >= 0)
                for name, (metric, rule) in columns.items():
                    if flags[name][part.index]:
                        continue
                    values = np.full(stop - start, np.nan, np.float32)
                    if ok.any():
                        maps = np.asarray(group[rule][start:stop], np.float32)[ok]
                        kwargs = dict(options.get(metric, {}))
                        if metric in SEEDED:  # each input's draws by its position: chunking changes nothing
                            kwargs["positions"] = np.arange(start, stop)[ok]
                        values[ok] = getattr(evaluation, metric)(
                            viz, part.images[ok], maps, target=classes[ok], **kwargs)
                    group[name][start:stop] = values
                    group[f"{name}.done"][part.index] = True  # after the values: a killed write is redone
                bar.update(stop - start)
    return open_maps(path, storage_options=storage_options)


def read_done_column(group, name: str, num_chunks: int) -> np.ndarray:
    """The done flags of metric column `name` (unreadable flags count as not done)."""
    return read_done(group, num_chunks, name=f"{name}.done")


def _names(metrics) -> tuple:
    if isinstance(metrics, str):
        return (metrics,)
    return tuple(metrics)


def _check(settings: dict, key: str, value, path: str) -> None:
    if settings.get(key) != value:
        raise StoreSettingsError(
            f"The maps of {path!r} were made with {key} {settings.get(key)!r}, not {value!r}: evaluate "
            f"them with the {key} that made them. Received: {key}={value!r}"
        )


def _source(opened: MapStore, source, size, channels: int, resolve_source):
    recorded = opened.settings["source"]
    if source is None:
        if recorded.get("kind") != "files":
            raise InvalidArgumentError(
                f"The store keeps the maps, not the inputs: pass the {recorded.get('kind')} source the maps "
                f"were made from as source=. Received: source=None"
            )
        source = [str(i) for i in opened.group["id"][:]]
    data = resolve_source(source, size=size, channels=channels)
    if json.dumps(data.identity(), sort_keys=True) != json.dumps(recorded, sort_keys=True):
        raise StoreSettingsError(
            f"The source is not the one the maps were made from: the store recorded {recorded}, "
            f"this source is {data.identity()}. Received: source={type(source).__name__}"
        )
    return data


__all__ = ["METRICS", "evaluate_dataset"]

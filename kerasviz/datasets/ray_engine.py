"""The Ray Data engine: chunks spread over actors on several GPUs or machines.

Needs `pip install "kerasviz[ray]"` (Ray Data). The job becomes a Ray
dataset with one row per chunk still to do; `map_batches` sends each row to
an actor of a fixed pool (`ray.data.ActorPoolStrategy(size=workers)`, what
the older `concurrency=workers` asked for; `num_gpus` per actor). Each actor
is a callable class that builds its `ChunkExplainer` (one `kv.Visualizer`,
compiled once) when it starts, then for every row reads the chunk's inputs
from the source, computes the maps and writes them, with the chunk's table
rows and `done` flag, straight into the store. Chunks are whole rows, so
no two actors ever write the same chunk file (Zarr takes concurrent writers
of distinct chunks); the driver only creates the store, holds its lock and
counts the finished chunks (a tqdm bar for the job, one per worker).

How the pieces reach the workers:

- the model: Keras 3 models pickle as their `.keras` archive (config and
  weights); the pickled bytes go through Ray's object store (once per node)
  and each actor unpickles them after importing the kerasviz modules that
  register its layers. Layers of your own must be importable on the workers
  too (register them with `keras.saving.register_keras_serializable` in a
  module the workers import, e.g. installed or sent with `runtime_env`);
- the source: file paths and arrays go through the object store (a NumPy
  array is read zero-copy on each node); an `np.memmap` goes as its file
  name and is reopened by each worker (the file must be on every node, e.g.
  a shared file system). A `tf.data.Dataset` cannot be shipped: use the
  local engine, or save the images as files or an `.npy` memmap;
- the store: each worker opens it by path, so on several machines it must be
  on a shared file system (NFS) or an object store URL (`s3://...`).

`ray_address=None` uses the Ray instance this process already started, else
joins the cluster the `RAY_ADDRESS` environment variable names, else starts
a local Ray of its own (`ray.init(address="local")`, never a cluster that
happens to run on the machine) and shuts it down at the end;
`ray_address="auto"` or `"ray://head:10001"` joins a running cluster
(`ray start --head` on one machine, `ray start --address=<head>:6379` on
the others). File paths are made absolute on the driver before they are
shipped; a file a worker cannot find is reported as "not found on worker
<host>".

Example:

```python
store = kv.explain_dataset(model, "/shared/photos", "/shared/maps.zarr",
                           engine="ray", workers=8, ray_address="auto")
```
"""

from __future__ import annotations

import os
import pickle
import socket

from tqdm.auto import tqdm

from kerasviz import errors as errors_lib
from kerasviz.datasets.sources import ChunkRange, DatasetSource, Source
from kerasviz.datasets.store import StoreWriter
from kerasviz.errors import InvalidArgumentError, KerasvizError


def run_ray(model, source: Source, writer: StoreWriter, ranges: list[ChunkRange], *, rules, target,
            method, on_error: str, workers: int | None, num_gpus: float | None,
            ray_address: str | None, progress: bool = True, storage_options: dict | None = None,
            **visualizer_kwargs) -> int:
    """Explain and write the chunks `ranges` on Ray actors; returns how many inputs were explained.

    Raises:
        InvalidArgumentError: without Ray installed, or for a `tf.data` source.
        FileReadError / InvalidInputError: for an unreadable input with
            `on_error="raise"` (chunks finished before are kept).
        StoreError: if a worker's write fails.
    """
    check(source)
    import ray
    import ray.data

    if not ranges:
        return 0
    started = not ray.is_initialized()
    if started:
        ray.init(address=address(ray_address), include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    bars_before = context.enable_progress_bars
    context.enable_progress_bars = False  # ours count images per worker
    try:
        gpus = float(ray.cluster_resources().get("GPU", 0))
        if num_gpus is None:
            num_gpus = 1 if gpus >= 1 else 0
        if workers is None:
            workers = max(1, int(gpus // num_gpus)) if num_gpus else 1
        actor_kwargs = dict(
            model=ray.put(pickle.dumps(model)), source=ray.put(source), path=writer.path,
            storage_options=storage_options, rules=rules, target=target, method=method,
            on_error=on_error, visualizer_kwargs=visualizer_kwargs,
        )
        items = [{"chunk": k, "start": start, "stop": stop} for k, start, stop in ranges]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            ChunkActor, fn_constructor_kwargs=actor_kwargs, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers), num_gpus=num_gpus,
            **_quiet_tensorflow(),
        )
        return _follow(dataset, source, ranges, progress)
    finally:
        context.enable_progress_bars = bars_before
        if started:
            ray.shutdown()


def address(ray_address: str | None) -> str:
    """Where the job's Ray runs: `ray_address`, else `RAY_ADDRESS`, else `"local"` (a new local Ray).

    Never `None`: `ray.init(address=None)` would join whatever Ray cluster
    already runs on this machine (another user's, another environment's).
    """
    return ray_address or os.environ.get("RAY_ADDRESS") or "local"


def check(source: Source) -> None:
    """Refuse, before any store is touched, a job the Ray engine cannot run.

    Raises:
        InvalidArgumentError: without Ray Data installed, or for a
            `tf.data` source.
    """
    try:
        import ray.data  # noqa: F401
    except ImportError as err:
        raise InvalidArgumentError(
            'engine="ray" needs Ray Data: pip install "kerasviz[ray]". Received: engine=\'ray\''
        ) from err
    if isinstance(source, DatasetSource):
        raise InvalidArgumentError(
            "A tf.data.Dataset cannot be shipped to Ray workers. Use engine='local', or give "
            "the images as files or an .npy file opened with np.load(path, mmap_mode='r'). "
            "Received: source=<tf.data.Dataset>, engine='ray'"
        )


def _follow(dataset, source: Source, ranges: list[ChunkRange], progress: bool) -> int:
    """Consume the actors' reports: progress bars, and the first fatal error raised here."""
    todo = sum(stop - start for _, start, stop in ranges)
    total = tqdm(total=len(source), initial=len(source) - todo, unit="img", desc="kerasviz",
                 disable=not progress, position=0)
    bars: dict[str, tqdm] = {}
    explained = 0
    try:
        for row in dataset.iter_rows():
            if row["fatal"]:
                error_type = getattr(errors_lib, str(row["fatal_type"]), KerasvizError)
                raise error_type(str(row["fatal"]))
            worker, count = str(row["worker"]), int(row["inputs"])
            if worker not in bars:
                bars[worker] = tqdm(unit="img", desc=f"worker {worker}", disable=not progress,
                                    position=len(bars) + 1, leave=False)
            bars[worker].update(count)
            total.update(count)
            explained += count
    finally:
        for bar in bars.values():
            bar.close()
        total.close()
    return explained


def _register_kerasviz_layers() -> None:
    """Import the modules that register kerasviz's serializable layers (SubtractMean, ...)."""
    import importlib

    for name in ("kerasviz.layers", "kerasviz.rules", "kerasviz.zoo"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _quiet_tensorflow() -> dict:
    """The driver's TensorFlow log level for the workers too (else each prints its start-up logs)."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    return {"runtime_env": {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": level}}} if level else {}


class ChunkActor:
    """A Ray Data callable class: builds the explainer once, then explains and writes chunks.

    Args:
        model: the Keras model (an object ref, resolved by Ray).
        source: the `Source` (an object ref).
        path: the store.
        storage_options: fsspec options.
        rules: rule names.
        target: the checked target.
        method: the method or `None`.
        on_error: `"raise"` or `"skip"`.
        visualizer_kwargs: the Visualizer's keyword arguments.
    """

    def __init__(self, *, model, source, path, storage_options, rules, target, method, on_error,
                 visualizer_kwargs):
        import ray

        from kerasviz.datasets.explainer import ChunkExplainer

        model = ray.get(model) if isinstance(model, ray.ObjectRef) else model
        if isinstance(model, bytes):  # unpickled here, once kerasviz's layers are registered
            _register_kerasviz_layers()
            model = pickle.loads(model)
        self.source = ray.get(source) if isinstance(source, ray.ObjectRef) else source
        self.source.node = socket.gethostname()  # named when one of its files is missing here
        self.explainer = ChunkExplainer(
            model, rules, target=target, method=method, has_labels=self.source.has_labels,
            on_error=on_error, source_kind=self.source.kind, **visualizer_kwargs,
        )
        self.writer = StoreWriter.attach(path, storage_options=storage_options)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        report = {"worker": [self.name], "inputs": [0], "fatal": [""], "fatal_type": [""],
                  "chunk": [int(batch["chunk"][0])]}
        ranges = [(int(k), int(a), int(b)) for k, a, b in zip(batch["chunk"], batch["start"], batch["stop"])]
        try:
            for chunk in self.source.chunks(ranges):
                maps, rows = self.explainer.explain(chunk)
                self.writer.write_chunk(chunk.index, chunk.start, maps, rows)
                report["inputs"][0] += len(chunk.ids)
        except KerasvizError as err:
            report["fatal"], report["fatal_type"] = [str(err)], [type(err).__name__]
        return {key: np.asarray(value) for key, value in report.items()}

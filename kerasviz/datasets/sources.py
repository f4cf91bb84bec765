"""Where a dataset job's images come from: files, arrays or a `tf.data.Dataset`.

`resolve_source` turns what the user passed into a `Source`: a known number
of inputs, one id per input, and `chunks(ranges)`, which yields the inputs of
the requested chunks in order as `Chunk`s of decoded, resized float32 images.
Inputs that cannot be read are not exceptions here: their rows carry the
reason (`Chunk.errors`) and a zero image, and the engine decides
(`on_error="raise"` or `"skip"`).

| source | ids | labels |
|---|---|---|
| a folder (every non-hidden file below it, sorted), a glob, a list of paths | the paths | none |
| a NumPy array, `np.memmap` (or any array-like with `shape` and slicing) `(N, H, W, C)` | `"0"`, `"1"`, ... | none |
| a tuple `(images, labels)` or `(images, labels, ids)` of arrays | given | given |
| a `tf.data.Dataset` of images, `(image, label)` or `(image, label, id)`, batched or not | given or positions | given or none |

Files are read and decoded by a `tf.data` pipeline (`num_parallel_calls`
AUTOTUNE, deterministic order, prefetched), so decoding runs in TensorFlow's
threads while the previous chunk's gradients are computed. A file TensorFlow
cannot decode is read again with PIL (`kv.data`'s reader), which decodes the
formats TensorFlow lacks (TIFF, BMP, ...) and otherwise gives the reason
reported for the file. Every image is fitted to the model's size the same
way: center-cropped to the target aspect ratio, then resized bilinearly with
antialiasing (`tf.image.resize`), on the [0, 255] scale of the file (arrays
and datasets keep their own scale). Chunks are assembled in a background
thread, two ahead of the consumer, so memory stays bounded whatever the
number of inputs.

Example:

```python
source = resolve_source("photos/", size=(224, 224), channels=3)
for chunk in source.chunks([(0, 0, 32), (1, 32, 64)]):
    chunk.images.shape, chunk.ids[:2], chunk.errors[:2]
```
"""

from __future__ import annotations

import glob as glob_lib
import hashlib
import mmap
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kerasviz.errors import InvalidArgumentError, InvalidInputError

#: `(chunk index, first input, end)` of one chunk.
ChunkRange = tuple[int, int, int]

#: Chunks assembled ahead of the consumer.
PREFETCH_CHUNKS = 2


@dataclass
class Chunk:
    """The inputs of one chunk.

    Attributes:
        index: the chunk's number.
        start: the position of its first input in the dataset.
        images: float32 `(n, H, W, C)`; zero where `errors` has a reason.
        ids: one id per input (path, given id or position).
        labels: int64 `(n,)`, `-1` where the source has no label.
        errors: `None` per readable input, else why it could not be read.
    """

    index: int
    start: int
    images: np.ndarray
    ids: list[str]
    labels: np.ndarray
    errors: list[str | None]


class Source:
    """Base class: `len(source)` inputs, their ids, and their chunks."""

    #: `"files"`, `"array"` or `"tf.data"`.
    kind: str = ""
    #: whether the source has labels (for `target="loss"` and the table).
    has_labels: bool = False

    def __init__(self, size: tuple[int, int], channels: int):
        self.size = (int(size[0]), int(size[1]))
        self.channels = int(channels)

    def __len__(self) -> int:
        raise NotImplementedError

    def identity(self) -> dict:
        """What identifies the inputs, for the store's settings."""
        raise NotImplementedError

    def chunks(self, ranges: Sequence[ChunkRange]) -> Iterator[Chunk]:
        """The chunks `ranges` (in that order), assembled ahead in a thread."""
        return _prefetched(self._chunks(list(ranges)), PREFETCH_CHUNKS)

    def _chunks(self, ranges: list[ChunkRange]) -> Iterator[Chunk]:
        raise NotImplementedError


# -- files -----------------------------------------------------------------------------------------
class FileSource(Source):
    """Image files decoded and resized in parallel by a `tf.data` pipeline."""

    kind = "files"

    def __init__(self, paths: Sequence[str], size, channels):
        super().__init__(size, channels)
        self.paths = [os.fspath(p) for p in paths]  # the ids, as given
        # what is read: absolute here, so the source reads the same files wherever it is shipped (Ray)
        self.files = [os.path.abspath(p) for p in self.paths]
        self.node: str | None = None  # the Ray worker reading, named in "not found" errors

    def __len__(self):
        return len(self.paths)

    @property
    def ids(self) -> list[str]:
        return self.paths

    def identity(self):
        digest = hashlib.sha256("\n".join(self.paths).encode("utf-8")).hexdigest()[:16]
        return {"kind": self.kind, "count": len(self), "paths_sha256": digest}

    def _chunks(self, ranges):
        import tensorflow as tf

        positions = np.concatenate([np.arange(start, stop) for _, start, stop in ranges]
                                   or [np.zeros(0, np.int64)])
        if not len(positions):
            return
        size, channels = self.size, self.channels

        def decode(position, path):
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
            image = tf.cast(image, tf.float32)
            same = tf.reduce_all(tf.equal(tf.shape(image)[:2], size))
            image = tf.cond(same, lambda: image, lambda: fit(image, size))  # resizing costs: only if needed
            return position, tf.ensure_shape(image, (*size, channels))

        batch = max(stop - start for _, start, stop in ranges)
        dataset = tf.data.Dataset.from_tensor_slices((positions, [self.files[p] for p in positions]))
        dataset = (dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                   .ignore_errors()  # a failed file leaves a gap: read again below, for its reason
                   .batch(batch).prefetch(2))
        batches = ((b_positions.numpy(), b_images.numpy()) for b_positions, b_images in dataset)
        held_positions, held_images = np.zeros(0, np.int64), np.zeros((0, *size, channels), np.float32)
        exhausted = False
        for index, start, stop in ranges:
            # positions increase: once one >= stop - 1 is held, every decodable file of the chunk is
            while not exhausted and (not len(held_positions) or held_positions[-1] < stop - 1):
                more = next(batches, None)
                if more is None:
                    exhausted = True
                else:
                    held_positions = np.concatenate([held_positions, more[0]])
                    held_images = np.concatenate([held_images, more[1]])
            mine = held_positions < stop
            images = np.zeros((stop - start, *size, channels), np.float32)
            images[held_positions[mine] - start] = held_images[mine]
            missing = sorted(set(range(start, stop)) - set(held_positions[mine].tolist()))
            held_positions, held_images = held_positions[~mine], held_images[~mine]
            errors: list[str | None] = [None] * (stop - start)
            for position in missing:
                try:  # TensorFlow could not decode it: PIL may, else it says why
                    images[position - start] = self._decode_with_pil(self.files[position])
                except FileNotFoundError as err:
                    where = "" if self.node is None else (
                        f"not found on worker {self.node} (every Ray node must see the files, e.g. on a "
                        f"shared file system): ")
                    errors[position - start] = f"{type(err).__name__}: {where}{err}"
                except Exception as err:  # noqa: BLE001 - every reason a file is unreadable
                    errors[position - start] = f"{type(err).__name__}: {err}"
            no_labels = np.full(stop - start, -1, np.int64)
            yield Chunk(index, start, images, self.paths[start:stop], no_labels, errors)

    def _decode_with_pil(self, path: str) -> np.ndarray:
        import tensorflow as tf

        from kerasviz.data import _read_with_pil, _to_rgb_float

        image = _to_rgb_float(_read_with_pil(path))
        if self.channels == 1:
            image = tf.image.rgb_to_grayscale(image).numpy()
        elif self.channels != 3:
            raise InvalidInputError(f"cannot convert to {self.channels} channels")
        return fit(image, self.size).numpy()


# -- arrays ----------------------------------------------------------------------------------------
class ArraySource(Source):
    """A NumPy array, `np.memmap` or other sliceable `(N, H, W, C)` array.

    Only the rows of the chunk being assembled are read, so a memmap (or an
    h5py / zarr array) larger than memory streams from disk.
    """

    kind = "array"

    def __init__(self, images, size, channels, labels=None, ids=None):
        super().__init__(size, channels)
        shape = tuple(getattr(images, "shape", ()))
        if len(shape) != 4 or shape[-1] != channels or shape[0] == 0:
            raise InvalidInputError(
                f"An array source must be shaped (N, H, W, {channels}) with N >= 1 for this "
                f"model. Received: source of shape {shape}"
            )
        self.images = images
        self.labels = None if labels is None else _int_labels(labels, shape[0])
        self.has_labels = self.labels is not None
        if ids is not None and len(ids) != shape[0]:
            raise InvalidInputError(
                f"Give one id per image ({shape[0]}). Received: {len(ids)} ids"
            )
        self._ids = None if ids is None else [str(i) for i in ids]

    def __len__(self):
        return int(self.images.shape[0])

    def __getstate__(self):
        # A memmap travels as its file name (pickling it would copy the data): for Ray workers.
        state = dict(self.__dict__)
        images = self.images
        # only a memmap of the whole mapping (a view's `offset` is its parent's)
        if isinstance(images, np.memmap) and images.filename and isinstance(images.base, mmap.mmap):
            state["images"] = None
            state["_memmap"] = (os.fspath(images.filename), images.dtype.str, images.shape,
                                images.offset, "F" if images.flags.f_contiguous and not
                                images.flags.c_contiguous else "C")
        return state

    def __setstate__(self, state):
        memmap = state.pop("_memmap", None)
        self.__dict__.update(state)
        if memmap is not None:
            filename, dtype, shape, offset, order = memmap
            self.images = np.memmap(filename, dtype=dtype, mode="r", shape=shape, offset=offset, order=order)

    @property
    def ids(self) -> list[str]:
        return self._ids if self._ids is not None else [str(i) for i in range(len(self))]

    def identity(self):
        return {"kind": self.kind, "count": len(self), "shape": list(self.images.shape),
                "dtype": str(getattr(self.images, "dtype", "?")), "labels": self.has_labels}

    def _chunks(self, ranges):
        for index, start, stop in ranges:
            images = np.asarray(self.images[start:stop], dtype=np.float32)
            if images.shape[1:3] != self.size:
                images = fit(images, self.size).numpy()
            labels = self.labels[start:stop] if self.has_labels else np.full(stop - start, -1, np.int64)
            ids = self._ids[start:stop] if self._ids is not None else [str(i) for i in range(start, stop)]
            yield Chunk(index, start, images, ids, labels, [None] * (stop - start))


# -- tf.data ---------------------------------------------------------------------------------------
class DatasetSource(Source):
    """A finite `tf.data.Dataset` of images, `(image, label)` or `(image, label, id)`.

    Batched datasets are unbatched. A dataset whose length TensorFlow cannot
    tell (after `unbatch`, `filter`, ...) is read once to count it; declare it
    with `dataset.apply(tf.data.experimental.assert_cardinality(n))` to skip
    that pass. Resuming reads (but does not explain) the inputs of done chunks.
    """

    kind = "tf.data"

    def __init__(self, dataset, size, channels):
        import tensorflow as tf

        super().__init__(size, channels)
        _check_finite_dataset(dataset)
        spec = dataset.element_spec
        parts = spec if isinstance(spec, tuple) else (spec,)
        image_spec = parts[0]
        if not isinstance(image_spec, tf.TensorSpec) or image_spec.shape.rank not in (3, 4):
            raise InvalidInputError(
                "A dataset source yields images (H, W, C), batched or not, or tuples "
                "(image, label) / (image, label, id). Received: element_spec="
                f"{spec!r}"
            )
        self.dataset, self._count = _unbatched_and_counted(dataset, batched=image_spec.shape.rank == 4)
        self.has_labels = len(parts) > 1
        self.has_ids = len(parts) > 2
        self.spec = repr(spec)

    def __len__(self):
        return self._count

    def identity(self):
        return {"kind": self.kind, "count": len(self), "element_spec": self.spec}

    def _chunks(self, ranges):
        if not ranges:
            return
        first = ranges[0][1]
        elements = iter(self.dataset.skip(first))
        position = first
        for index, start, stop in ranges:
            while position < start:  # a done chunk between two to do
                next(elements)
                position += 1
            images = np.zeros((stop - start, *self.size, self.channels), np.float32)
            labels = np.full(stop - start, -1, np.int64)
            ids = [str(i) for i in range(start, stop)]
            errors: list[str | None] = [None] * (stop - start)
            for row in range(stop - start):
                element = next(elements)
                parts = element if isinstance(element, tuple) else (element,)
                image = parts[0].numpy().astype(np.float32)
                if image.shape[-1] != self.channels:
                    raise InvalidInputError(
                        f"The dataset's images have {image.shape[-1]} channels; the model takes "
                        f"{self.channels}. Convert them in the dataset. Received: shape={image.shape}"
                    )
                images[row] = image if image.shape[:2] == self.size else fit(image, self.size).numpy()
                if self.has_labels:
                    labels[row] = _one_label(parts[1].numpy())
                if self.has_ids:
                    value = parts[2].numpy()
                    ids[row] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
                position += 1
            yield Chunk(index, start, images, ids, labels, errors)


# -- resolution ------------------------------------------------------------------------------------
def resolve_source(source, *, size: tuple[int, int], channels: int) -> Source:
    """A `Source` for what `kv.explain_dataset` was given.

    Args:
        source: a folder, a glob pattern, a list of image paths, an
            `(N, H, W, C)` array (NumPy, memmap, ...), a tuple
            `(images, labels[, ids])` of arrays, or a `tf.data.Dataset`.
        size: `(height, width)` the images are fitted to.
        channels: the model's channel count.

    Returns:
        The `Source`.

    Raises:
        InvalidArgumentError: for a path or pattern that names no file, or a
            source of another kind.
        InvalidInputError: for an array of the wrong shape.
    """
    try:
        import tensorflow as tf

        if isinstance(source, tf.data.Dataset):
            return DatasetSource(source, size, channels)
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        pass
    if isinstance(source, (str, os.PathLike)):
        return FileSource(_paths_of(os.fspath(source)), size, channels)
    if isinstance(source, tuple) and 2 <= len(source) <= 3 and hasattr(source[0], "shape"):
        return ArraySource(source[0], size, channels, labels=source[1],
                           ids=source[2] if len(source) == 3 else None)
    if hasattr(source, "shape") and hasattr(source, "__getitem__"):
        return ArraySource(source, size, channels)
    paths = isinstance(source, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in source)
    if paths and source:
        return FileSource(list(source), size, channels)
    raise InvalidArgumentError(
        "A source is a folder, a glob pattern, a list of image paths, an (N, H, W, C) array "
        "(NumPy or np.memmap), a tuple (images, labels[, ids]) or a tf.data.Dataset. "
        f"Received: source of type {type(source).__name__}"
    )


def _paths_of(text: str) -> list[str]:
    if os.path.isdir(text):
        root = Path(text)
        paths = sorted(
            str(path) for path in root.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
        )
        if not paths:
            raise InvalidArgumentError(f"The folder {text!r} holds no files. Received: source={text!r}")
        return paths
    if os.path.isfile(text):
        return [text]
    if glob_lib.has_magic(text):
        paths = sorted(p for p in glob_lib.glob(text, recursive=True) if os.path.isfile(p))
        if not paths:
            raise InvalidArgumentError(f"The pattern {text!r} matches no file. Received: source={text!r}")
        return paths
    raise InvalidArgumentError(
        f"{text!r} is neither a folder, a file nor a glob pattern. Received: source={text!r}"
    )


def fit(images, size: tuple[int, int]):
    """Center-crop `images` to the aspect ratio of `size`, then resize to `size`.

    Args:
        images: `(H, W, C)` or `(N, H, W, C)` float images.
        size: `(height, width)`.

    Returns:
        A float32 tensor of the same rank, `size` in its spatial axes
        (bilinear with antialiasing; the images themselves when they
        already have that size).
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    height, width = tf.shape(images)[-3], tf.shape(images)[-2]
    # the largest window of the target aspect ratio: h/w = size[0]/size[1]
    crop_h = tf.minimum(height, width * size[0] // size[1])
    crop_w = tf.minimum(width, height * size[1] // size[0])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    cropped = images[..., top:top + crop_h, left:left + crop_w, :]
    return tf.image.resize(cropped, size, method="bilinear", antialias=True)


def _check_finite_dataset(dataset) -> None:
    """Raise `InvalidInputError` for a `tf.data.Dataset` that never ends (e.g. `.repeat()`)."""
    import tensorflow as tf

    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise InvalidInputError(
            "The dataset is infinite (e.g. it ends with .repeat()); take a finite part "
            "with dataset.take(n). Received: source=<infinite tf.data.Dataset>"
        )


def _unbatched_and_counted(dataset, *, batched: bool):
    """`(dataset, number of samples)`: unbatched first if `batched`; raises `InvalidInputError` if empty.

    A cardinality that tf.data cannot tell (after `unbatch`, `filter`, ...)
    is found by reading the dataset once.
    """
    if batched:
        dataset = dataset.unbatch()
    count = int(dataset.cardinality())
    if count < 0:  # unknown: count once
        count = int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
    if count == 0:
        raise InvalidInputError("The dataset is empty. Received: source=<empty tf.data.Dataset>")
    return dataset, count


def _one_label(value) -> int:
    value = np.asarray(value)
    if value.ndim == 0:
        return int(value)
    return int(np.argmax(value))  # one-hot or scores


def _int_labels(labels, count: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim == 2:
        array = array.argmax(axis=-1)
    if array.shape != (count,) or array.dtype.kind not in "iu":
        raise InvalidInputError(
            f"Labels are one int per image ({count}) or one-hot rows. Received: labels of "
            f"shape {array.shape} and dtype {array.dtype}"
        )
    return array.astype(np.int64)


def _prefetched(iterator: Iterator, depth: int) -> Iterator:
    """`iterator`'s items, produced by a background thread up to `depth` ahead.

    Exceptions of the producer are raised in the consumer at the item where
    they happened; closing the consumer early stops the producer.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((end, None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            items.put((end, err))

    thread = threading.Thread(target=produce, name="kerasviz-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, err = items.get()
            if err is not None:
                raise err
            if item is end:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)


def iter_ranges(count: int, chunk: int, done: Iterable[bool] | None = None) -> list[ChunkRange]:
    """The `(index, start, stop)` of every chunk of `count` inputs not marked done."""
    ranges = [(k, start, min(start + chunk, count)) for k, start in enumerate(range(0, count, chunk))]
    if done is None:
        return ranges
    done = list(done)
    return [r for r in ranges if not done[r[0]]]

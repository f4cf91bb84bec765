"""The viewer's pictures, written once into the store: chunk by chunk, resumable, with a progress bar.

Layout, inside the store (a Zarr group of its own, so that Zarr, xarray
and `kv.open_maps` see a subgroup and nothing unknown):

| path | content |
|---|---|
| `thumbnails/zarr.json` | the group; its attribute `kerasviz_view` says how they were made |
| `thumbnails/thumb/<kind>/<i // 1000>/<i>.png` | input `i`'s thumbnail (longer side at most `size`) |
| `thumbnails/full/<kind>/<i // 1000>/<i>.png` | its full-size picture (only when maps are larger than `size`) |
| `thumbnails/<level>/done/<k>` | chunk `k` of that level is complete |

`<kind>` is `_input` (the input image) or a rule's name. A chunk's marker
is written after its pictures, each picture atomically, so a killed run
resumes at the first chunk without a marker; chunks of the store that are
not written yet are left for a later run. Thumbnails made for another
store (the store was started over) or at another size are deleted and made
again. One file per picture, not sprite sheets: a page sorted by score shows
inputs from all over the store, and should load only those.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kerasviz.errors import InvalidArgumentError
from kerasviz.view import images as images_lib
from kerasviz.view.store import THUMBNAILS, StoreView

#: The longer side of a thumbnail, in pixels.
THUMB_SIZE = 64
#: The folder name of input pictures (rules are named otherwise).
INPUT_KIND = "_input"
FORMAT = 1
_ATTRIBUTE = "kerasviz_view"


@dataclass(frozen=True)
class Pictures:
    """Where a store's pictures are and how they were made.

    Attributes:
        folder: the `thumbnails` folder.
        size: the longer side of a thumbnail.
        has_full: whether full-size pictures differ from thumbnails.
        has_inputs: whether input pictures exist (files found, or images given).
        written: chunks written by this call, per level.
    """

    folder: str
    size: int
    has_full: bool
    has_inputs: bool
    written: dict


def picture_path(folder: str, level: str, kind: str, index: int) -> str:
    """The file of input `index`'s picture of `kind` (`"_input"` or a rule) at `level` (`"thumb"`, `"full"`)."""
    return os.path.join(folder, level, kind, str(index // 1000), f"{index}.png")


def picture_url(level: str, kind: str, index: int) -> str:
    """The same, relative to the page (what `app.js` builds)."""
    return f"{level}/{kind}/{index // 1000}/{index}.png"


def write_thumbnails(
    store: str | os.PathLike | StoreView,
    *,
    images: np.ndarray | None = None,
    size: int = THUMB_SIZE,
    full: bool = False,
    progress: bool = True,
) -> Pictures:
    """Write the thumbnails of every written chunk of a map store (and, with `full`, full-size pictures).

    Chunks done before are skipped, so calling it again after a crash, or
    after the dataset job wrote more chunks, does only the missing work.

    Args:
        store: the store's path (or a `StoreView`).
        images: the inputs, `(N, H, W, C)` in store order, for stores made
            from arrays; stores made from files find the files by their ids
            (relative ids from the current folder or the store's parent).
            Without either, entries show the maps alone. Defaults to `None`.
        size: the longer side of a thumbnail in pixels. Defaults to `64`.
        full: also write every full-size picture (a static page needs them;
            the server makes them on demand). Defaults to `False`.
        progress: show a tqdm progress bar. Defaults to `True`.

    Returns:
        A `Pictures`.

    Raises:
        StoreError: if `store` is not a map store.
        InvalidArgumentError: for a bad `size` or `images` of the wrong length.

    Example:

    ```python
    pictures = kv.view.write_thumbnails("maps.zarr")
    ```
    """
    from tqdm.auto import tqdm

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise InvalidArgumentError(
            f"size is the longer side of a thumbnail in pixels, an integer of at least 8. Received: size={size!r}"
        )
    view = store if isinstance(store, StoreView) else StoreView(store)
    if images is not None and len(images) != len(view):
        raise InvalidArgumentError(
            f"images are the store's inputs in its order, one per input ({len(view)}). "
            f"Received: images with {len(images)} entries"
        )
    folder = _prepare(view, int(size))
    levels = ["thumb"] + (["full"] if full and has_full(view, size) else [])
    done = view.done()
    todo = [(level, k) for level in levels for k in np.flatnonzero(done)
            if not os.path.exists(os.path.join(folder, level, "done", str(k)))]
    inputs = _InputReader(view, images)
    written = {level: 0 for level in levels}
    if view.image_like:
        for level, k in tqdm(todo, desc="thumbnails", unit="chunk", disable=not progress or not todo,
                             dynamic_ncols=True):
            _write_chunk(view, folder, level, int(k), int(size), inputs)
            written[level] += 1
    made = read_made(folder) or {}
    if inputs.available and not made.get("inputs"):
        import zarr

        zarr.open_group(folder, mode="r+").attrs[_ATTRIBUTE] = {**made, "inputs": True}
    return Pictures(folder, int(size), has_full(view, size), bool(inputs.available or made.get("inputs")), written)


def has_full(view: StoreView, size: int) -> bool:
    """Whether the maps are larger than a thumbnail (else the thumbnail is the full picture)."""
    return view.image_like and max(view.map_shape[:2]) > size


def render_picture(view: StoreView, level: str, kind: str, index: int, size: int,
                   images: np.ndarray | None = None) -> np.ndarray | None:
    """One picture's pixels, computed from the store (for the server's full-size pictures)."""
    if kind == INPUT_KIND:
        pixels = _InputReader(view, images).pixels(index)
    elif kind in view.rules:
        pixels = images_lib.map_to_pixels(view.maps(kind, index, index + 1)[0])
    else:
        return None
    if pixels is None:
        return None
    return images_lib.fit_pixels(pixels, size) if level == "thumb" else pixels


def _prepare(view: StoreView, size: int) -> str:
    """The thumbnails folder, emptied when it holds pictures of another store or size."""
    import zarr

    folder = os.path.join(view.path, THUMBNAILS)
    wanted = {"format": FORMAT, "size": size, "store_created": view.info.get("created"),
              "map_shape": list(view.map_shape)}
    if os.path.isdir(folder):
        try:
            made = read_made(folder)
        except (OSError, ValueError):  # a folder Zarr cannot read: made again
            made = None
        if made is not None and all(made.get(key) == value for key, value in wanted.items()):
            return folder
        shutil.rmtree(folder)
    group = zarr.open_group(folder, mode="w")
    group.attrs[_ATTRIBUTE] = wanted
    return folder


def _write_chunk(view: StoreView, folder: str, level: str, k: int, size: int, inputs: _InputReader) -> None:
    start = k * view.chunk_size
    stop = min(start + view.chunk_size, len(view))
    for rule in view.rules:
        maps = view.maps(rule, start, stop)
        for offset, m in enumerate(maps):
            _write(folder, level, rule, start + offset, images_lib.map_to_pixels(m), size)
    if inputs.available:
        for index in range(start, stop):
            _write(folder, level, INPUT_KIND, index, inputs.pixels(index), size)
    marker = os.path.join(folder, level, "done", str(k))
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    open(marker, "wb").close()  # after every picture of the chunk


def _write(folder: str, level: str, kind: str, index: int, pixels: np.ndarray | None, size: int) -> None:
    if pixels is None:  # a failed input's NaN map, or an input file gone: no picture
        return
    if level == "thumb":
        pixels = images_lib.fit_pixels(pixels, size)
    images_lib.write_png(picture_path(folder, level, kind, index), pixels)


class _InputReader:
    """Input `i`'s pixels at the maps' size: from the given images, or the file its id names."""

    def __init__(self, view: StoreView, images: np.ndarray | None):
        self.view = view
        self.images = images
        self.ids: Sequence[str] | None = None
        self.available = images is not None
        if images is None and view.image_like and view.settings.get("source", {}).get("kind") == "files":
            self.ids = [str(i) for i in view.group["id"][:]]
            self.available = any(self._path(i) for i in self.ids[: view.chunk_size] if i)

    def _path(self, identifier: str) -> str | None:
        candidates = [identifier, os.path.join(os.path.dirname(os.path.abspath(self.view.path)), identifier)]
        return next((c for c in candidates if os.path.isfile(c)), None)

    def pixels(self, index: int) -> np.ndarray | None:
        if self.images is not None:
            return images_lib.image_to_pixels(self.images[index])
        if self.ids is None or not self.ids[index]:
            return None
        path = self._path(self.ids[index])
        if path is None:
            return None
        return images_lib.load_input(path, tuple(self.view.map_shape[:2]))


def read_made(folder: str) -> dict | None:
    """How the pictures in `folder` were made (`None` when there are none)."""
    path = os.path.join(folder, "zarr.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file).get("attributes", {}).get(_ATTRIBUTE)

"""A map store read for the viewer: Zarr directly, no TensorFlow.

`kv.open_maps` lives in `kerasviz.datasets`, whose package imports the
engine (and so TensorFlow); the viewer must start in well under a second and
run where TensorFlow is not installed, so it reads the layout documented in
`kerasviz.datasets.store` with `zarr` alone.

The table the viewer shows is the store's own columns (`TABLE_COLUMNS`) plus
every other one-dimensional numeric array with one value per input, in the
root group or a subgroup (e.g. metric columns that `evaluate_dataset` adds):
they are all sortable and filterable.
"""

from __future__ import annotations

import os

import numpy as np

from kerasviz.errors import StoreError

#: The store's own table columns (`kerasviz.datasets.store.COLUMNS`) and the fill of rows not written yet.
TABLE_COLUMNS: dict[str, object] = {
    "id": "", "status": "pending", "label": -1, "predicted": -1, "target": -1, "score": float("nan"),
}
#: Integer columns that hold classes (filtered by equality: `?predicted=3`).
CLASS_COLUMNS = ("label", "predicted", "target")
#: The group of thumbnails inside a store (written by `kerasviz.view.thumbnails`).
THUMBNAILS = "thumbnails"
DONE = "done"
#: The suffix of each rule's per-input scale array (`kerasviz.datasets.store.SCALE_SUFFIX`;
#: not imported from there, since importing `kerasviz.datasets` loads TensorFlow).
SCALE_SUFFIX = "_scale"


class StoreView:
    """The parts of a map store the viewer needs.

    Args:
        path: the store's folder (a local path).

    Raises:
        StoreError: if `path` is not a kerasviz map store.
    """

    def __init__(self, path: str | os.PathLike):
        import zarr

        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise StoreError(
                f"There is no map store at {self.path!r}: the viewer opens the folder that "
                f"kv.explain_dataset or `kerasviz explain ... --out maps.zarr` wrote. "
                f"Received: store={self.path!r}"
            )
        try:
            self.group = zarr.open_group(self.path, mode="r")
        except Exception as err:  # noqa: BLE001 - not a Zarr group, unreadable metadata
            raise StoreError(
                f"{self.path!r} is not a Zarr group ({type(err).__name__}: {err}); the viewer opens "
                f"map stores written by kv.explain_dataset. Received: store={self.path!r}"
            ) from err
        info = self.group.attrs.get("kerasviz")
        if not isinstance(info, dict) or "rules" not in info:
            raise StoreError(
                f"{self.path!r} is a Zarr group but not a kerasviz map store (its attributes have no "
                f"'kerasviz' settings). Received: store={self.path!r}"
            )
        self.info = info
        self.rules: tuple[str, ...] = tuple(info["rules"])
        self.num_inputs = int(info["num_inputs"])
        self.chunk_size = int(info["chunk_size"])
        self.num_chunks = int(info["num_chunks"])
        if isinstance(info["map_shape"], dict):
            raise StoreError(
                f"{self.path!r} holds maps of several inputs ({', '.join(info['map_shape'])}); the viewer "
                f"shows stores of one input. Read it with kv.open_maps. Received: store={self.path!r}"
            )
        self.map_shape: tuple[int, ...] = tuple(int(s) for s in info["map_shape"])

    def __len__(self) -> int:
        return self.num_inputs

    @property
    def settings(self) -> dict:
        """The settings the maps were made with."""
        return dict(self.info.get("settings", {}))

    @property
    def method(self) -> str:
        """The method's name as the settings spell it (`"gradient"` for the rule's map itself)."""
        method = self.settings.get("method")
        return "gradient" if method in (None, "None") else str(method)

    @property
    def image_like(self) -> bool:
        """Whether the maps can be shown as pictures: `(H, W, C)` maps or `(H, W)` CAMs."""
        return len(self.map_shape) in (2, 3) and min(self.map_shape[:2]) > 1

    def done(self) -> np.ndarray:
        """One bool per chunk: written completely (a flag that cannot be read counts as not done)."""
        try:
            return np.asarray(self.group[DONE][:], dtype=bool)
        except Exception:  # noqa: BLE001 - a killed write: no chunk counts
            return np.zeros(self.num_chunks, bool)

    def rows_done(self) -> np.ndarray:
        """One bool per input: its chunk is written."""
        return np.repeat(self.done(), self.chunk_size)[: self.num_inputs]

    def maps(self, rule: str, start: int, stop: int) -> np.ndarray:
        """The maps of inputs `start..stop-1` of `rule`, as float32 (times their scale, where stored)."""
        maps = np.asarray(self.group[rule][start:stop], dtype=np.float32)
        if rule + SCALE_SUFFIX not in self.group:  # a store written before scales were kept
            return maps
        scale = np.asarray(self.group[rule + SCALE_SUFFIX][start:stop], dtype=np.float32)
        return maps * scale.reshape((-1,) + (1,) * (maps.ndim - 1))

    def columns(self) -> dict[str, np.ndarray]:
        """Every table column: the store's own, then the extra numeric ones by their path.

        Rows of chunks not written yet hold the column's fill (`"pending"`
        status, -1 classes, NaN scores), never half-written values.
        """
        done = self.done()
        rows = np.repeat(done, self.chunk_size)[: self.num_inputs]
        out: dict[str, np.ndarray] = {}
        for name, fill in TABLE_COLUMNS.items():
            values = self.group[name][:] if name in self.group else np.full(self.num_inputs, fill)
            values = np.asarray(values).astype(object if name in ("id", "status") else values.dtype)
            if not done.all():
                values = values.copy()
                values[~rows] = fill
            out[name] = values
        for name, array in self.extra_arrays().items():
            values = np.asarray(array[:], dtype=np.float64)
            if not done.all():
                values[~rows] = np.nan
            out[name] = values
        return out

    def extra_arrays(self) -> dict:
        """`{path: array}` of the numeric one-per-input arrays that are not the store's own."""
        skip = {*TABLE_COLUMNS, DONE, *self.rules, *(rule + SCALE_SUFFIX for rule in self.rules)}
        found = {}

        def visit(group, prefix: str) -> None:
            for name, member in group.members():
                path = f"{prefix}{name}"
                if path == THUMBNAILS:
                    continue
                if hasattr(member, "shape"):
                    if (path not in skip and tuple(member.shape) == (self.num_inputs,)
                            and _is_numeric(member.dtype)):
                        found[path] = member
                else:
                    visit(member, f"{path}/")

        visit(self.group, "")
        return dict(sorted(found.items()))


def _is_numeric(dtype) -> bool:
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:  # a Zarr dtype NumPy does not know (strings of other libraries)
        return False

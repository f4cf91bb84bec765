"""The viewer's page: its table as one compact JSON script, and the static folder.

The page is three fixed files (`static/index.html`, `app.js`, `style.css`,
no framework) and `table.js`, which sets `window.KV_DATA` to the whole
table, column by column: one request, parsed once, also from a `file://`
folder where a page may not fetch JSON. The server (`kerasviz.view.server`)
sends the same four files; `write_html` writes them with every picture into
a folder that needs no server.

`KV_DATA` holds `n`, `rules`, `method`, `map_shape`, `image_like`,
`message` (why maps are not shown, if they are not), `columns` (`id`,
`status` as codes into `status_values`, `label`, `predicted`, `target`,
`score`, then every extra numeric column), `numeric` (the sortable,
filterable columns), `classes` (those filtered by equality) and `pictures`
(`size`, `full`, `inputs`).
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources

import numpy as np

from kerasviz.errors import InvalidArgumentError
from kerasviz.view.store import CLASS_COLUMNS, StoreView
from kerasviz.view.thumbnails import Pictures, write_thumbnails

#: The page's fixed files, in the package's `static/` folder.
STATIC_FILES = ("index.html", "app.js", "style.css")


def static_file(name: str) -> bytes:
    """One of `STATIC_FILES`, as bytes."""
    return resources.files("kerasviz.view").joinpath("static", name).read_bytes()


def _floats(values: np.ndarray) -> str:
    """A JSON list of floats with 7 significant digits (float32's), `null` for NaN and inf."""
    return "[" + ",".join(format(v, ".7g") if np.isfinite(v) else "null" for v in values.tolist()) + "]"


def table_script(view: StoreView, pictures: Pictures | None) -> str:
    """`table.js`: `window.KV_DATA = {...};` for `view`'s store."""
    columns = view.columns()
    status_values, codes = np.unique(columns["status"].astype(str), return_inverse=True)
    encoded = {
        "id": json.dumps([str(v) for v in columns["id"]], ensure_ascii=False, separators=(",", ":")),
        "status": json.dumps(codes.astype(int).tolist(), separators=(",", ":")),
    }
    numeric = []
    for name, values in columns.items():
        if name in encoded:
            continue
        numeric.append(name)
        if name in CLASS_COLUMNS:
            encoded[name] = json.dumps(np.asarray(values, dtype=np.int64).tolist(), separators=(",", ":"))
        else:
            encoded[name] = _floats(np.asarray(values, dtype=np.float64))
    message = ""
    if not view.image_like:
        message = (f"The maps of this store have shape {list(view.map_shape)}, which is not an image "
                   f"((H, W, C) maps or (H, W) CAMs): the table is shown without pictures.")
    head = {
        "title": os.path.basename(os.path.normpath(view.path)),
        "n": len(view),
        "rules": list(view.rules),
        "method": view.method,
        "map_shape": list(view.map_shape),
        "image_like": view.image_like,
        "message": message,
        "status_values": [str(v) for v in status_values],
        "numeric": numeric,
        "classes": [c for c in CLASS_COLUMNS if c in numeric],
        "pictures": {
            "size": None if pictures is None else pictures.size,
            "full": bool(pictures is not None and pictures.has_full),
            "inputs": bool(pictures is not None and pictures.has_inputs),
        },
    }
    body = ",".join(f"{json.dumps(name)}:{text}" for name, text in encoded.items())
    data = json.dumps(head, ensure_ascii=False)[:-1] + ',"columns":{' + body + "}}"
    return f"window.KV_DATA = {data};\n"


def write_html(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images: np.ndarray | None = None,
    progress: bool = True,
) -> str:
    """Write the viewer of a map store as a static folder: `out/index.html` opens in any browser.

    The thumbnails are written into the store first (once; see
    `write_thumbnails`), then linked (or copied) into `out` with the
    full-size pictures, the page and its table.

    Args:
        store: the map store's path.
        out: the folder to write; created if needed.
        images: the inputs `(N, H, W, C)` in store order, for stores made
            from arrays. Defaults to `None`.
        progress: show progress bars. Defaults to `True`.

    Returns:
        The path of `index.html`.

    Raises:
        StoreError: if `store` is not a map store.
        InvalidArgumentError: if `out` is a file.

    Example:

    ```python
    kv.view.write_html("maps.zarr", "maps-view")   # then open maps-view/index.html
    ```
    """
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise InvalidArgumentError(
            f"out is the folder the page is written to, but {out!r} is a file. Pass another path. "
            f"Received: out={out!r}"
        )
    view = StoreView(store)
    pictures = write_thumbnails(view, images=images, full=True, progress=progress)
    os.makedirs(out, exist_ok=True)
    for level in ("thumb", "full"):
        source = os.path.join(pictures.folder, level)
        if os.path.isdir(source):
            _link_tree(source, os.path.join(out, level))
    for name in STATIC_FILES:
        with open(os.path.join(out, name), "wb") as file:
            file.write(static_file(name))
    with open(os.path.join(out, "table.js"), "w", encoding="utf-8") as file:
        file.write(table_script(view, pictures))
    return os.path.join(out, "index.html")


def _link_tree(source: str, target: str) -> None:
    """Hard-link every picture of `source` into `target` (copy across file systems); markers stay behind."""
    for folder, subfolders, files in os.walk(source):
        subfolders[:] = [s for s in subfolders if not (folder == source and s == "done")]
        into = os.path.join(target, os.path.relpath(folder, source))
        os.makedirs(into, exist_ok=True)
        for name in files:
            destination = os.path.join(into, name)
            if os.path.exists(destination):
                os.remove(destination)
            try:
                os.link(os.path.join(folder, name), destination)
            except OSError:
                shutil.copyfile(os.path.join(folder, name), destination)

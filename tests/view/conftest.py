"""Stores for the viewer's tests: a real one from a tiny CNN over image files, and synthetic ones.

The real store is what `kv.explain_dataset` writes for twelve 72×72 PNG files
and one unreadable file (an `error:` row), in chunks of four; its maps are
larger than a thumbnail, so the page has full-size pictures. Synthetic stores
are written by the datasets' own `StoreWriter`, so their layout is the real
one, with maps and rows chosen by the test.
"""

import keras
import numpy as np
import pytest
from PIL import Image

import kerasviz as kv
from kerasviz.datasets.store import StoreWriter

SIZE = 72
RULES = ("saliency", "guided")


@pytest.fixture(scope="session")
def photo_store(tmp_path_factory):
    """(store path, photo folder, images): 12 photos and one bad file through a tiny CNN."""
    root = tmp_path_factory.mktemp("view")
    photos = root / "photos"
    photos.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (12, SIZE, SIZE, 3)).astype(np.uint8)
    for i, image in enumerate(images):
        Image.fromarray(image).save(photos / f"img{i:02d}.png")
    (photos / "img05b.png").write_bytes(b"not a png")  # sorts between img05 and img06
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(8),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ], name="tiny_view_cnn")
    store = root / "maps.zarr"
    kv.explain_dataset(model, str(photos), str(store), rules=RULES, batch_size=4, on_error="skip")
    return store, photos, images


def make_store(path, maps: dict, rows: dict, *, chunk_size: int, done=None) -> str:
    """A store at `path` holding `maps` ({rule: (N, ...)}) and `rows` (the table's columns).

    Chunks in `done` (default: all) are written; the others stay pending.
    """
    rules = tuple(maps)
    count = len(rows["id"])
    shape = next(iter(maps.values())).shape[1:]
    writer = StoreWriter(str(path), settings={"test": "synthetic", "method": "gradient"}, rules=rules,
                         num_inputs=count, chunk_size=chunk_size, map_shape=shape, dtype="float32")
    chunks = range(-(-count // chunk_size)) if done is None else done
    for k in chunks:
        start, stop = k * chunk_size, min((k + 1) * chunk_size, count)
        writer.write_chunk(k, start, {r: m[start:stop] for r, m in maps.items()},
                           {name: list(values[start:stop]) for name, values in rows.items()})
    return str(path)


def synthetic_rows(count: int, seed: int = 0) -> dict:
    """The table's columns: ids `in<i>`, every 7th input an error, random classes and scores."""
    rng = np.random.default_rng(seed)
    status = np.array(["ok"] * count, dtype=object)
    status[::7] = "error: OSError: unreadable"
    score = rng.normal(size=count).astype(np.float32)
    score[::7] = np.nan
    return {"id": np.array([f"in{i}" for i in range(count)], dtype=object), "status": status,
            "label": rng.integers(0, 4, count), "predicted": rng.integers(0, 4, count),
            "target": rng.integers(0, 4, count), "score": score}

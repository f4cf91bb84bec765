"""Shared fixtures of the dataset tests: a tiny CNN, 32×32 images and image files.

Images hold whole numbers in [0, 255] so that PNG files store them exactly:
a map of a decoded PNG can then be compared with the map of the array.
"""

import keras
import numpy as np
import pytest
from PIL import Image

SIZE = 32
RULES = ("saliency", "guided")


@pytest.fixture(scope="session")
def model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(4),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ], name="tiny_cnn")


@pytest.fixture(scope="session")
def images():
    return np.random.default_rng(0).integers(0, 256, (10, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory, images):
    """Ten PNG files of `images`, named so that their sorted order is the array's."""
    folder = tmp_path_factory.mktemp("photos")
    for i, image in enumerate(images):
        Image.fromarray(image.astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


def bad_files(folder):
    """A corrupt JPEG, a truncated PNG and a text file in `folder`; their paths."""
    good = next(iter(sorted(folder.glob("*.png")))).read_bytes()
    corrupt, truncated, text = folder / "corrupt.jpg", folder / "truncated.png", folder / "notes.txt"
    corrupt.write_bytes(np.random.default_rng(1).bytes(500))
    truncated.write_bytes(good[: len(good) // 2])
    text.write_text("not an image")
    return corrupt, truncated, text


def fail_chunk_writes(monkeypatch, array: str, start: int):
    """Writes of store array `array` at rows `start:` fail as a full disk does; returns the real `__setitem__`.

    Put it back with `monkeypatch.setattr(zarr.Array, "__setitem__", original)` to let a job resume.
    """
    import zarr

    original = zarr.Array.__setitem__

    def disk_full(self, selection, value):
        if self.path == array and isinstance(selection, slice) and selection.start == start:
            raise OSError(28, "No space left on device")
        return original(self, selection, value)

    monkeypatch.setattr(zarr.Array, "__setitem__", disk_full)
    return original

"""Tests for kerasviz.data: sample photos, image files, Fashion-MNIST."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from kerasviz import data
from kerasviz.errors import FileReadError, InvalidInputError, KerasvizError


# --------------------------------------------------------------------------
# IMAGENET_MEAN
# --------------------------------------------------------------------------


def test_imagenet_mean_values_and_copy():
    """imagenet_mean() is the paper's RGB mean, as a fresh float32 array."""
    assert data.IMAGENET_MEAN == (123.68, 116.779, 103.939)
    mean = data.imagenet_mean()
    assert mean.dtype == np.float32 and mean.shape == (3,)
    np.testing.assert_array_equal(mean, np.float32([123.68, 116.779, 103.939]))
    mean[0] = 0.0
    assert data.imagenet_mean()[0] == np.float32(123.68)


# --------------------------------------------------------------------------
# sample_images
# --------------------------------------------------------------------------


def test_sample_images_default_shape_and_range():
    """The four default photos come back as (4, 224, 224, 3) float32 raw RGB."""
    images = data.sample_images()
    assert data.SAMPLE_IMAGES == ("chelsea", "astronaut", "coffee", "rocket")
    assert images.shape == (4, 224, 224, 3)
    assert images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 255.0
    # Real photos on the [0, 255] scale (not [0, 1]), and not all alike.
    assert images.max() > 200.0
    assert all(images[i].std() > 20.0 for i in range(4))
    assert not np.allclose(images[0], images[1])


def test_sample_images_center_crop_and_resize_match_skimage():
    """Each photo is its centered square, resized with anti-aliasing."""
    import skimage.data
    from skimage.transform import resize

    photo = skimage.data.chelsea().astype(np.float64)  # (300, 451, 3)
    left = (451 - 300) // 2
    expected = resize(
        photo[:, left : left + 300],
        (32, 32),
        order=1,
        mode="reflect",
        anti_aliasing=True,
        preserve_range=True,
    )
    np.testing.assert_allclose(data.sample_images(("chelsea",), size=32)[0], expected, atol=1e-3)


def test_sample_images_grayscale_becomes_three_equal_channels():
    """'camera' is grayscale: its three output channels are identical."""
    images = data.sample_images(("camera", "coffee"), size=40)
    assert images.shape == (2, 40, 40, 3)
    np.testing.assert_array_equal(images[0, ..., 0], images[0, ..., 1])
    np.testing.assert_array_equal(images[0, ..., 0], images[0, ..., 2])
    assert not np.allclose(images[1, ..., 0], images[1, ..., 2])


def test_sample_images_single_name_string():
    """A single name may be passed as a string."""
    assert data.sample_images("rocket", size=8).shape == (1, 8, 8, 3)


def test_sample_images_unknown_name_lists_known_names():
    """An unknown name raises InvalidInputError naming it and the known ones."""
    with pytest.raises(InvalidInputError) as info:
        data.sample_images(("chelsea", "kitten"))
    message = str(info.value)
    assert message.startswith("Unknown sample image 'kitten'. Known names: 'astronaut',")
    assert "'chelsea'" in message and "'rocket'" in message
    assert message.endswith("Received: names=('chelsea', 'kitten')")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("size", [0, -3, 2.5])
def test_sample_images_bad_size(size):
    """size must be a positive integer."""
    with pytest.raises(
        InvalidInputError,
        match=re.escape(f"`size` must be a positive integer. Received: size={size!r}"),
    ):
        data.sample_images(size=size)


# --------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------


def test_load_image_rgb_roundtrip(tmp_path):
    """A PNG written from uint8 RGB reads back exactly, as float32."""
    import skimage.io

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 17, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    skimage.io.imsave(path, pixels, check_contrast=False)
    image = data.load_image(path)
    assert image.dtype == np.float32 and image.shape == (12, 17, 3)
    np.testing.assert_array_equal(image, pixels.astype(np.float32))


def test_load_image_grayscale_and_rgba(tmp_path):
    """Grayscale becomes 3 equal channels; alpha is dropped."""
    import skimage.io

    gray = np.arange(100, dtype=np.uint8).reshape(10, 10)
    skimage.io.imsave(tmp_path / "gray.png", gray, check_contrast=False)
    image = data.load_image(tmp_path / "gray.png")
    assert image.shape == (10, 10, 3)
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], gray.astype(np.float32))

    rgba = np.zeros((6, 6, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10
    skimage.io.imsave(tmp_path / "rgba.png", rgba, check_contrast=False)
    image = data.load_image(str(tmp_path / "rgba.png"))
    assert image.shape == (6, 6, 3)
    np.testing.assert_array_equal(image[..., 0], 200.0)
    np.testing.assert_array_equal(image[..., 1:], 0.0)


def test_load_image_size_crops_and_resizes(tmp_path):
    """size= center-crops to a square and resizes; a constant image stays constant."""
    import skimage.io

    pixels = np.full((20, 40, 3), 90, dtype=np.uint8)
    skimage.io.imsave(tmp_path / "wide.png", pixels, check_contrast=False)
    image = data.load_image(tmp_path / "wide.png", size=8)
    assert image.shape == (8, 8, 3)
    np.testing.assert_allclose(image, 90.0, atol=1e-3)


def test_load_image_missing_file(tmp_path):
    """A missing file raises FileReadError naming the path and the reason."""
    path = str(tmp_path / "nope.png")
    with pytest.raises(FileReadError) as info:
        data.load_image(path)
    assert str(info.value) == (
        f"Cannot read image {path!r}: no such file. Received: path={path!r}"
    )
    assert isinstance(info.value, KerasvizError)


def test_load_image_corrupt_file(tmp_path):
    """A file that is not an image raises FileReadError with the decoder's reason."""
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not a png at all")
    with pytest.raises(FileReadError) as info:
        data.load_image(path)
    message = str(info.value)
    assert message.startswith(f"Cannot read image {str(path)!r}: ")
    assert message.endswith(f"Received: path={str(path)!r}")
    # The reason (exception type and text) sits between the two.
    bare = f"Cannot read image {str(path)!r}: . Received: path={str(path)!r}"
    assert len(message) > len(bare) + 5


def test_load_image_directory(tmp_path):
    """A directory is not an image."""
    with pytest.raises(FileReadError, match="it is a directory"):
        data.load_image(tmp_path)


def test_load_image_bad_size(tmp_path):
    """size must be a positive integer or None."""
    with pytest.raises(
        InvalidInputError,
        match=re.escape("`size` must be a positive integer or None. Received: size=0"),
    ):
        data.load_image(tmp_path / "x.png", size=0)


# --------------------------------------------------------------------------
# fashion_mnist
# --------------------------------------------------------------------------


def _write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _write_tiny_fashion(folder, compress: bool = True):
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28)),
        "train-labels-idx1-ubyte": np.array([0, 1, 2, 3, 9]),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte": np.array([7, 8, 5]),
    }
    for stem, array in arrays.items():
        _write_idx(folder / (stem + (".gz" if compress else "")), array, compress)
    return arrays


@pytest.fixture(scope="module")
def fashion():
    return data.fashion_mnist()


def test_fashion_mnist_shapes_dtypes_ranges(fashion):
    """The installed data set: 60000/10000 images in [0, 1], int64 labels."""
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    # Fashion-MNIST is balanced: 6000 / 1000 images per class.
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    # The well-known first test sample is an ankle boot.
    assert data.FASHION_CLASSES[y_test[0]] == "Ankle boot"
    assert len(data.FASHION_CLASSES) == 10


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_reads_idx_files_from_path(tmp_path, compress):
    """path= reads gzipped or plain IDX files and scales by 1/255 exactly."""
    arrays = _write_tiny_fashion(tmp_path, compress)
    (x_train, y_train), (x_test, y_test) = data.fashion_mnist(path=tmp_path)
    assert x_train.shape == (5, 28, 28, 1) and x_test.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(
        x_train[..., 0], arrays["train-images-idx3-ubyte"].astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(y_test, [7, 8, 5])
    assert y_train.dtype == np.int64


def test_fashion_mnist_env_var(tmp_path, monkeypatch):
    """KERASVIZ_FASHION_MNIST_DIR points the loader at another folder."""
    _write_tiny_fashion(tmp_path)
    monkeypatch.setenv("KERASVIZ_FASHION_MNIST_DIR", str(tmp_path))
    (x_train, _), (x_test, _) = data.fashion_mnist()
    assert len(x_train) == 5 and len(x_test) == 3


def test_fashion_mnist_env_var_empty_folder(tmp_path, monkeypatch):
    """An env var naming a folder without the files is an error, not a download."""
    monkeypatch.setenv("KERASVIZ_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(FileReadError) as info:
        data.fashion_mnist()
    message = str(info.value)
    assert message.startswith(f"Fashion-MNIST files not found in {str(tmp_path)!r}")
    assert message.endswith(f"Received: KERASVIZ_FASHION_MNIST_DIR={str(tmp_path)!r}")


def test_fashion_mnist_corrupt_file(tmp_path):
    """A file that is not IDX raises FileReadError naming it."""
    _write_tiny_fashion(tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x01\x02\x03\x04garbage")
    with pytest.raises(FileReadError, match=re.escape(f"Cannot read {str(bad)!r}: not an")):
        data.fashion_mnist(path=tmp_path)


def test_fashion_mnist_falls_back_to_keras(tmp_path, monkeypatch):
    """Without the Debian files, keras.datasets is used (and converted)."""
    import keras

    monkeypatch.delenv("KERASVIZ_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", str(tmp_path))
    x = np.full((2, 28, 28), 255, dtype=np.uint8)
    y = np.array([3, 4], dtype=np.uint8)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((x, y), (x, y)))
    (x_train, y_train), _ = data.fashion_mnist()
    assert x_train.shape == (2, 28, 28, 1) and x_train.max() == 1.0
    assert y_train.dtype == np.int64


def test_fashion_mnist_nothing_available(tmp_path, monkeypatch):
    """No files and no download: the error says how to get the data."""
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.delenv("KERASVIZ_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(FileReadError) as info:
        data.fashion_mnist()
    message = str(info.value)
    assert "(OSError: no network)" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "go online" in message

"""Images and data sets for kerasviz: sample photos, image files, Fashion-MNIST.

Everything here works offline first:

- `sample_images` uses the photos shipped inside scikit-image (`skimage.data`).
- `load_image` reads a file from disk with scikit-image (PIL underneath).
- `fashion_mnist` reads the IDX files of Debian's `dataset-fashion-mnist`
  package (or a folder you name) before it tries Keras's download cache.

Example:

```python
import kerasviz as kv
images = kv.data.sample_images(size=64)          # (4, 64, 64, 3) float32 in [0, 255]
(x_train, y_train), (x_test, y_test) = kv.data.fashion_mnist()
```
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from kerasviz import _validation
from kerasviz.errors import FileReadError, InvalidInputError

__all__ = [
    "FASHION_CLASSES",
    "FASHION_MNIST_DIR",
    "IMAGENET_MEAN",
    "SAMPLE_IMAGES",
    "fashion_mnist",
    "fashion_mnist_rgb32",
    "to_rgb32",
    "imagenet_mean",
    "load_image",
    "sample_images",
]

#: Per-channel ImageNet mean in RGB order, on the [0, 255] scale. The paper's
#: networks (and Keras's "caffe" preprocessing, after its RGB -> BGR flip)
#: subtract it from the raw image.
IMAGENET_MEAN: tuple[float, float, float] = (123.68, 116.779, 103.939)

#: The default photos of `sample_images` (names in `skimage.data`).
SAMPLE_IMAGES: tuple[str, ...] = ("chelsea", "astronaut", "coffee", "rocket")

#: Photos of `skimage.data` that `sample_images` accepts (all ship with
#: scikit-image itself, no download needed).
_KNOWN_SAMPLES: tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "checkerboard",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)

#: The ten Fashion-MNIST classes, index = label.
FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Where Debian's `dataset-fashion-mnist` package installs the IDX files.
FASHION_MNIST_DIR: str = "/usr/share/datasets/fashion-mnist"

_FASHION_ENV = "KERASVIZ_FASHION_MNIST_DIR"
_FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def imagenet_mean() -> np.ndarray:
    """Return the per-channel ImageNet mean (RGB order, [0, 255] scale).

    Returns:
        A new float32 array `[123.68, 116.779, 103.939]` of shape `(3,)`
        (a copy of `IMAGENET_MEAN`; changing it changes nothing else).

    Example:

    ```python
    x_centered = images - kv.data.imagenet_mean()
    ```
    """
    return np.asarray(IMAGENET_MEAN, dtype=np.float32)


def _to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Return `image` as float32 (H, W, 3) on the [0, 255] scale."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] == 1:
        image = np.concatenate([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if image.ndim != 3 or image.shape[-1] != 3:
        raise InvalidInputError(
            "Expected a grayscale, RGB or RGBA image. "
            f"Received: an array of shape {image.shape}."
        )
    if image.dtype == np.bool_:
        image = image.astype(np.float32) * 255.0
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / np.float32(257.0)
    elif image.max(initial=0.0) <= 1.0:
        # scikit-image float convention: [0, 1].
        image = image * 255.0
    return np.clip(image.astype(np.float32), 0.0, 255.0)


def _center_crop(image: np.ndarray) -> np.ndarray:
    """Crop the largest centered square out of an (H, W, C) image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top = (h - side) // 2
    left = (w - side) // 2
    return image[top : top + side, left : left + side]


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square (S, S, 3) float image in [0, 255] to (size, size, 3)."""
    from skimage.transform import resize

    if image.shape[0] == size and image.shape[1] == size:
        return image.astype(np.float32)
    out = resize(
        image,
        (size, size),
        order=1,
        mode="reflect",
        anti_aliasing=image.shape[0] > size,
        preserve_range=True,
    )
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def sample_images(
    names: tuple[str, ...] | list[str] | str = SAMPLE_IMAGES, size: int = 224
) -> np.ndarray:
    """Return photos from `skimage.data`, center-cropped and resized to squares.

    Grayscale photos (e.g. `"camera"`) are repeated over three channels and the
    alpha channel of RGBA photos is dropped, so every image is RGB.

    Args:
        names: the names of the photos in `skimage.data` (one name or a
            sequence). Known names: see `kerasviz.data._KNOWN_SAMPLES`.
            Defaults to `SAMPLE_IMAGES`
            (`("chelsea", "astronaut", "coffee", "rocket")`).
        size: the side of the square output images, in pixels. Defaults to
            `224`.

    Returns:
        A float32 array of shape `(len(names), size, size, 3)` with values in
        [0, 255] (raw RGB, no mean subtracted).

    Raises:
        InvalidInputError: if a name is unknown, `names` is empty or `size` is
            not a positive integer.

    Example:

    ```python
    images = kv.data.sample_images(("chelsea", "camera"), size=64)
    images.shape  # (2, 64, 64, 3)
    ```
    """
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    size = _validation.positive_int(size, "size")
    if not names:
        raise InvalidInputError(
            "`names` must name at least one photo. Received: names=()"
        )
    for name in names:
        if name not in _KNOWN_SAMPLES:
            known = ", ".join(repr(n) for n in _KNOWN_SAMPLES)
            raise InvalidInputError(
                f"Unknown sample image {name!r}. Known names: {known}. "
                f"Received: names={names!r}"
            )
    import skimage.data

    out = np.empty((len(names), size, size, 3), dtype=np.float32)
    for i, name in enumerate(names):
        image = _to_rgb_float(getattr(skimage.data, name)())
        out[i] = _resize(_center_crop(image), int(size))
    return out


def _read_with_pil(path: str) -> np.ndarray:
    """Decode the first frame of an image file with PIL, keeping 8/16-bit values."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        if img.mode in ("1", "L", "RGB", "RGBA") or img.mode.startswith("I;16"):
            return np.asarray(img)
        if img.mode in ("I", "F"):
            array = np.asarray(img, dtype=np.float32)
            return array / np.float32(257.0) if array.max(initial=0) > 255 else array
        return np.asarray(img.convert("RGBA" if "A" in img.getbands() else "RGB"))


def load_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Read an image file as raw RGB on the [0, 255] scale.

    Grayscale files become three equal channels; an alpha channel is dropped;
    16-bit files are rescaled to [0, 255]; palette and CMYK files are converted
    to RGB. Files are decoded with PIL (scikit-image's readers for formats PIL
    lacks); multi-frame files give their first frame.

    Args:
        path: the image file (any format scikit-image / PIL reads: PNG, JPEG,
            TIFF, BMP, ...).
        size: if given, center-crop to a square and resize to
            `(size, size)`. Defaults to `None` (keep the file's size).

    Returns:
        A float32 array of shape `(H, W, 3)` (or `(size, size, 3)`) with values
        in [0, 255].

    Raises:
        FileReadError: if the file does not exist or cannot be decoded as an
            image; the message names the path and the reason.
        InvalidInputError: if `size` is not a positive integer or the file
            holds something other than a 2-D grayscale/RGB/RGBA image.

    Example:

    ```python
    image = kv.data.load_image("cat.jpg", size=224)[None]  # (1, 224, 224, 3)
    ```
    """
    size = _validation.positive_int(size, "size", allow_none=True)
    path_str = os.fspath(path)
    if not os.path.exists(path_str):
        raise FileReadError(
            f"Cannot read image {path_str!r}: no such file. Received: path={path_str!r}"
        )
    if os.path.isdir(path_str):
        raise FileReadError(
            f"Cannot read image {path_str!r}: it is a directory. "
            f"Received: path={path_str!r}"
        )
    try:
        image = _read_with_pil(path_str)
    except Exception as err:  # PIL raises many different types.
        try:  # formats PIL lacks, through scikit-image's imageio plugins
            import skimage.io

            image = skimage.io.imread(path_str)
        except Exception:
            raise FileReadError(
                f"Cannot read image {path_str!r}: {type(err).__name__}: {err}. "
                f"Received: path={path_str!r}"
            ) from err
    image = np.asarray(image)
    if image.dtype == object or image.ndim not in (2, 3):
        raise FileReadError(
            f"Cannot read image {path_str!r}: expected a single 2-D image, got "
            f"an array of shape {image.shape}. Received: path={path_str!r}"
        )
    image = _to_rgb_float(image)
    if size is not None:
        image = _resize(_center_crop(image), int(size))
    return image


def _read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise FileReadError(
            f"Cannot read {str(path)!r}: not an unsigned-byte IDX file "
            f"(magic bytes {data[:4]!r}). Received: path={str(path)!r}"
        )
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise FileReadError(
            f"Cannot read {str(path)!r}: header says {dims} ({expected} bytes) but "
            f"the file holds {len(data) - offset} bytes. Received: path={str(path)!r}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    """Return `folder/stem.gz` or `folder/stem` if either exists."""
    for name in (stem + ".gz", stem):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _load_idx_folder(folder: Path) -> dict[str, np.ndarray] | None:
    """Load the four Fashion-MNIST arrays from `folder`; None if files are missing."""
    paths = {key: _find_idx(folder, stem) for key, stem in _FASHION_FILES.items()}
    if any(p is None for p in paths.values()):
        return None
    return {key: _read_idx(p) for key, p in paths.items()}


def _finish(
    arrays: dict[str, np.ndarray],
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Scale images to float32 [0, 1] with a channel axis; labels to int64."""

    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / np.float32(255.0))[..., None]

    return (
        (images(arrays["x_train"]), arrays["y_train"].astype(np.int64)),
        (images(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )


def fashion_mnist(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST, offline first.

    Looks for the four IDX files (`train-images-idx3-ubyte[.gz]`,
    `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`,
    `t10k-labels-idx1-ubyte[.gz]`) in this order:

    1. the folder `path`, if given (then only there: a missing file is an
       error, not a reason to download);
    2. the folder in the environment variable `KERASVIZ_FASHION_MNIST_DIR`,
       if set (same rule);
    3. `/usr/share/datasets/fashion-mnist` (Debian's
       `dataset-fashion-mnist` package);
    4. `keras.datasets.fashion_mnist.load_data()`, which uses the Keras cache
       (`~/.keras/datasets`) and downloads when online.

    Args:
        path: a folder holding the IDX files. Defaults to `None` (search as
            above).

    Returns:
        `((x_train, y_train), (x_test, y_test))`: images float32 of shape
        `(N, 28, 28, 1)` scaled to [0, 1] (60000 train, 10000 test), labels
        int64 of shape `(N,)` in 0..9 (names in `FASHION_CLASSES`).

    Raises:
        FileReadError: if the files are missing or corrupt in an explicitly
            named folder, or if no source works (the message says to run
            `apt-get install dataset-fashion-mnist` or to go online).

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = kv.data.fashion_mnist()
    x_test.shape, kv.data.FASHION_CLASSES[y_test[0]]  # (10000, 28, 28, 1), 'Ankle boot'
    ```
    """
    explicit = None
    if path is not None:
        explicit = ("path", os.fspath(path))
    elif os.environ.get(_FASHION_ENV):
        explicit = (_FASHION_ENV, os.environ[_FASHION_ENV])
    wanted = ", ".join(stem + "[.gz]" for stem in _FASHION_FILES.values())
    if explicit is not None:
        source, folder = explicit
        arrays = _load_idx_folder(Path(folder))
        if arrays is None:
            raise FileReadError(
                f"Fashion-MNIST files not found in {folder!r} (expected {wanted}). "
                f"Point {source} at a folder holding them, or unset it to use "
                f"{FASHION_MNIST_DIR!r} / the Keras cache. Received: {source}={folder!r}"
            )
        return _finish(arrays)

    arrays = _load_idx_folder(Path(FASHION_MNIST_DIR))
    if arrays is not None:
        return _finish(arrays)

    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as err:  # no network, broken cache, ...
        raise FileReadError(
            "Fashion-MNIST is not available offline and could not be downloaded "
            f"({type(err).__name__}: {err}). Install it with "
            "`apt-get install dataset-fashion-mnist` (files in "
            f"{FASHION_MNIST_DIR}), set {_FASHION_ENV} to a folder holding {wanted}, "
            "or go online once so that Keras caches it in ~/.keras/datasets."
        ) from err
    return _finish(
        {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    )


def to_rgb32(images: np.ndarray) -> np.ndarray:
    """Zero-pad 28×28 grayscale images to 32×32 and replicate them to RGB.

    The input convention of `kv.zoo.fashion_vgg`, which takes the same
    3-channel inputs as colour nets.

    Args:
        images: array `(N, 28, 28, 1)` (or `(N, 28, 28)`), e.g. from
            `fashion_mnist`.

    Returns:
        float32 array `(N, 32, 32, 3)`, values unchanged, 2-pixel black border.

    Raises:
        InvalidInputError: for any other shape.

    Example:

    ```python
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    kv.data.to_rgb32(x_test[:4]).shape  # (4, 32, 32, 3)
    ```
    """
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != (28, 28, 1):
        raise InvalidInputError(
            "to_rgb32 takes 28x28 grayscale images shaped (N, 28, 28, 1) or (N, 28, 28). "
            f"Received: images of shape {np.shape(images)}"
        )
    padded = np.pad(array, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return np.repeat(padded, 3, axis=-1)


def fashion_mnist_rgb32(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`fashion_mnist` with images as `kv.zoo.fashion_vgg` takes them.

    Same sources and labels as `fashion_mnist`; images go through `to_rgb32`:
    float32 `(N, 32, 32, 3)` in [0, 1].

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = kv.data.fashion_mnist_rgb32()
    x_test.shape  # (10000, 32, 32, 3)
    ```
    """
    (x_train, y_train), (x_test, y_test) = fashion_mnist(path)
    return (to_rgb32(x_train), y_train), (to_rgb32(x_test), y_test)

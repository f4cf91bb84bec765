"""The networks of the experiments: the paper's random nets and VGG-16, and the trained nets kerasviz ships.

Networks (all Functional `keras.Model`s returning logits, no softmax, ReLUs as
fused `activation="relu"`):

| function | paper setup | input |
|---|---|---|
| `fc3` | E1, random 3-layer fully connected net | raw RGB in [0, 255] |
| `cnn3` | E2 / E3, random 3-layer CNN (± 9×9 max-pool) | raw RGB in [0, 255] |
| `vgg16` | E4, VGG-16 with the paper's or Keras's init, or ImageNet weights | raw RGB in [0, 255] |
| `fashion_cnn` | the "trained net" of E4–E7 offline: a small VGG-style CNN | grayscale in [0, 1] |

The RGB networks subtract the ImageNet mean in their first layer
(`SubtractMean`), so maps are gradients with respect to the raw image.

Layer-wise weight randomization (E5: `weight_layers`, `randomize`, the
protocols) lives in `kerasviz.randomization`; its names are re-exported here,
so `kv.zoo.randomize` keeps working.

Example:

```python
import kerasviz as kv
net = kv.zoo.cnn3(filters=16, input_shape=(32, 32, 3), num_classes=10)
trained = kv.zoo.fashion_cnn(weights="trained")
top_random = kv.zoo.randomize_part(trained, k=3, seed=0)  # layers 4.. random
```
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence

import keras
import numpy as np

from kerasviz import _validation
from kerasviz.data import IMAGENET_MEAN
from kerasviz.errors import (
    FileReadError,
    InvalidInputError,
    WeightsUnavailableError,
)
from kerasviz.layers import SubtractMean  # re-exported: kv.zoo.SubtractMean
from kerasviz.randomization import (  # re-exported: kv.zoo.randomize, ...
    PAPER_STDDEV,
    PROTOCOLS,
    InitName,
    _check_init,
    _check_seed,
    _derive_seed,
    protocol_layers,
    randomization_protocols,
    randomize,
    randomize_only,
    randomize_part,
    randomize_reverse,
    weight_layers,
)

__all__ = [
    "PAPER_STDDEV",
    "PROTOCOLS",
    "SubtractMean",
    "cnn3",
    "FASHION_VGG_WIDTHS",
    "fashion_cnn",
    "fashion_vgg",
    "fc3",
    "is_keras_h5_layout",
    "protocol_layers",
    "randomization_protocols",
    "randomize",
    "randomize_only",
    "randomize_part",
    "randomize_reverse",
    "vgg16",
    "weight_layers",
]

_VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

_FASHION_WEIGHTS = "fashion_cnn.weights.h5"

_VGG16_FILES = {
    True: (
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
    ),
    False: (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}


# --------------------------------------------------------------------------
# Helpers.
# --------------------------------------------------------------------------


def _check_positive_int(name: str, value) -> int:
    return _validation.positive_int(value, name)


def _check_input_shape(input_shape, channels: int | None = 3, min_side: int = 1):
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    ok = (
        shape is not None
        and len(shape) == 3
        and all(
            not isinstance(d, bool) and isinstance(d, (int, np.integer)) and d >= 1
            for d in shape
        )
    )
    if not ok:
        raise InvalidInputError(
            "`input_shape` must be (height, width, channels) with positive integers. "
            f"Received: input_shape={input_shape!r}"
        )
    shape = tuple(int(d) for d in shape)
    if channels is not None and shape[-1] != channels:
        raise InvalidInputError(
            f"`input_shape` must have {channels} channels (raw RGB; the first layer "
            f"subtracts the ImageNet mean). Received: input_shape={input_shape!r}"
        )
    if shape[0] < min_side or shape[1] < min_side:
        raise InvalidInputError(
            f"`input_shape` must be at least {min_side}x{min_side}. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def _paper_kernel(seed: int, index: int, stddev: float = PAPER_STDDEV):
    return keras.initializers.TruncatedNormal(
        mean=0.0, stddev=stddev, seed=_derive_seed(seed, index, 0)
    )


def _keras_kernel(seed: int, index: int):
    return keras.initializers.GlorotUniform(seed=_derive_seed(seed, index, 0))


def _check_weights_file(path, what: str) -> None:
    path_str = os.fspath(path)
    if not os.path.isfile(path_str):
        raise FileReadError(
            f"Cannot load weights for {what}: no such file {path_str!r}. "
            f"Received: weights={path_str!r}"
        )


def is_keras_h5_layout(path: str | os.PathLike) -> bool:
    """Whether `path` is a weights file in Keras's legacy `.h5` layout, as Keras's downloads are.

    Keras's ImageNet files (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`)
    hold one HDF5 group per layer, listed in the root attribute
    `layer_names`; Keras 3's own `.weights.h5` files do not. A whole model
    saved in the legacy format (`model_weights` group) counts too.

    Args:
        path: a file path.

    Returns:
        `True` for that layout; `False` for a `.weights.h5` file, another
        layout, or a file HDF5 cannot read.

    Example:

    ```python
    kv.zoo.is_keras_h5_layout("vgg16_weights_tf_dim_ordering_tf_kernels.h5")  # True
    ```
    """
    path_str = os.fspath(path)
    if path_str.endswith(".weights.h5") or not os.path.isfile(path_str):
        return False
    import h5py  # a dependency of Keras

    try:
        with h5py.File(path_str, "r") as f:
            return "layer_names" in f.attrs or (
                "model_weights" in f and "layer_names" in f["model_weights"].attrs
            )
    except OSError:
        return False


def _load_weights_file(model: keras.Model, path, what: str) -> None:
    _check_weights_file(path, what)
    path_str = os.fspath(path)
    try:
        model.load_weights(path_str)
    except Exception as err:
        raise FileReadError(
            f"Cannot load weights for {what} from {path_str!r}: "
            f"{type(err).__name__}: {err}. The file must be a `.weights.h5` saved from "
            f"the same architecture. Received: weights={path_str!r}"
        ) from err


# --------------------------------------------------------------------------
# E1 / E2 / E3: random shallow networks.
# --------------------------------------------------------------------------


def fc3(
    hidden: int = 5000,
    input_shape: tuple[int, int, int] = (64, 64, 3),
    num_classes: int = 1000,
    seed: int = 0,
) -> keras.Model:
    """Build the paper's random 3-layer fully connected network (setup E1).

    `image → SubtractMean → Flatten → Dense(hidden, relu) → Dense(num_classes)`.
    The hidden kernel is TruncatedNormal(std 0.1) with bias 1.0; the logit
    kernel is TruncatedNormal(std 10) with bias 0 (the authors' settings).

    The hidden kernel has `H·W·3·hidden` floats: 64·64·3·5000 = 61 M
    (245 MB); the paper's sweep goes to `hidden=70000` (3.4 GB).

    Args:
        hidden: number of hidden ReLU units N_h. Defaults to `5000`.
        input_shape: `(height, width, 3)` of the raw RGB input. Defaults to
            `(64, 64, 3)`.
        num_classes: number of logits. Defaults to `1000`.
        seed: seed of the initializers (each layer draws from its own seed
            derived from this one). Defaults to `0`.

    Returns:
        A Functional `keras.Model` named `"fc3"` with layers `subtract_mean`,
        `flatten`, `fc1`, `logits`, taking raw RGB in [0, 255] and returning
        `(N, num_classes)` logits.

    Raises:
        InvalidInputError: if an argument is not a positive integer or
            `input_shape` is not `(H, W, 3)`.

    Example:

    ```python
    net = kv.zoo.fc3(hidden=1000, input_shape=(32, 32, 3), num_classes=10)
    net(kv.data.sample_images(size=32)).shape  # (4, 10)
    ```
    """
    hidden = _check_positive_int("hidden", hidden)
    num_classes = _check_positive_int("num_classes", num_classes)
    seed = _check_seed(seed)
    shape = _check_input_shape(input_shape)
    inputs = keras.Input(shape=shape, name="image")
    x = SubtractMean(IMAGENET_MEAN, name="subtract_mean")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        hidden,
        activation="relu",
        kernel_initializer=_paper_kernel(seed, 0),
        bias_initializer=keras.initializers.Constant(1.0),
        name="fc1",
    )(x)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_initializer=_paper_kernel(seed, 1, stddev=10.0),
        bias_initializer="zeros",
        name="logits",
    )(x)
    return keras.Model(inputs, outputs, name="fc3")


def cnn3(
    filters: int = 16,
    kernel_size: int = 7,
    max_pool: bool = False,
    input_shape: tuple[int, int, int] = (224, 224, 3),
    num_classes: int = 1000,
    seed: int = 0,
) -> keras.Model:
    """Build the paper's random 3-layer CNN (setups E2 and, with `max_pool`, E3).

    `image → SubtractMean → Conv2D(filters, kernel_size, stride 1, SAME, relu)
    → [MaxPool2D(9, stride 1, SAME)] → Flatten → Dense(num_classes)`.
    Every kernel is TruncatedNormal(std 0.1), every bias 0.

    Warning: the dense layer holds `H·W·filters·num_classes` float32 values,
    i.e. `H·W·filters·num_classes·4` bytes: at the paper's size,
    224·224·64·1000 floats = 12.8 GB. One logit's map does not depend on how
    many other logits exist, so use a small `num_classes` (e.g. 10) and/or a
    smaller input.

    Args:
        filters: number of conv filters N (the paper sweeps 1, 4, 16, 64, 256).
            Defaults to `16`.
        kernel_size: side of the square conv kernel. Defaults to `7`.
        max_pool: add the 9×9, stride-1, SAME max-pool between the ReLU and
            the dense layer (E3). Defaults to `False`.
        input_shape: `(height, width, 3)` of the raw RGB input. Defaults to
            `(224, 224, 3)`.
        num_classes: number of logits. Defaults to `1000`.
        seed: seed of the initializers. Defaults to `0`.

    Returns:
        A Functional `keras.Model` named `"cnn3"` (or `"cnn3_maxpool"`) with
        layers `subtract_mean`, `conv`, [`pool`], `flatten`, `logits`, taking
        raw RGB in [0, 255] and returning `(N, num_classes)` logits.

    Raises:
        InvalidInputError: if an argument is not a positive integer, `max_pool`
            is not a bool, or `input_shape` is not `(H, W, 3)`.

    Example:

    ```python
    net = kv.zoo.cnn3(filters=64, max_pool=True, input_shape=(64, 64, 3), num_classes=10)
    net.summary()
    ```
    """
    filters = _check_positive_int("filters", filters)
    kernel_size = _check_positive_int("kernel_size", kernel_size)
    num_classes = _check_positive_int("num_classes", num_classes)
    if not isinstance(max_pool, (bool, np.bool_)):
        raise InvalidInputError(
            f"`max_pool` must be True or False. Received: max_pool={max_pool!r}"
        )
    seed = _check_seed(seed)
    shape = _check_input_shape(input_shape)
    inputs = keras.Input(shape=shape, name="image")
    x = SubtractMean(IMAGENET_MEAN, name="subtract_mean")(inputs)
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=1,
        padding="same",
        activation="relu",
        kernel_initializer=_paper_kernel(seed, 0),
        bias_initializer="zeros",
        name="conv",
    )(x)
    if max_pool:
        x = keras.layers.MaxPooling2D(pool_size=9, strides=1, padding="same", name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_initializer=_paper_kernel(seed, 1),
        bias_initializer="zeros",
        name="logits",
    )(x)
    return keras.Model(inputs, outputs, name="cnn3_maxpool" if max_pool else "cnn3")


# --------------------------------------------------------------------------
# E4: VGG-16.
# --------------------------------------------------------------------------


def _keras_home() -> str:
    """The Keras cache folder as Keras would pick it now (`$KERAS_HOME` or ~/.keras)."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return os.path.expanduser(home)
    return os.path.join(os.path.expanduser("~"), ".keras")


def _fetch_imagenet_weights(include_top: bool) -> str:
    """Return the path of Keras's VGG-16 ImageNet file, downloading it if needed."""
    fname, origin, file_hash = _VGG16_FILES[include_top]
    home = _keras_home()
    try:
        return keras.utils.get_file(
            fname, origin, cache_subdir="models", file_hash=file_hash, cache_dir=home
        )
    except Exception as err:
        target = os.path.join(home, "models", fname)
        raise WeightsUnavailableError(
            f"Cannot get the ImageNet VGG-16 weights ({type(err).__name__}: {err}). "
            f"kerasviz loads Keras's own file: download {origin} on a machine that is "
            f"online and copy it to {target!r} (the Keras cache, $KERAS_HOME/models or "
            "~/.keras/models), or pass weights=None to use random weights. "
            "Received: weights='imagenet'"
        ) from err


def vgg16(
    weights: str | os.PathLike | None = None,
    init: InitName = "paper",
    input_shape: tuple[int, int, int] = (224, 224, 3),
    num_classes: int = 1000,
    include_top: bool = True,
    seed: int = 0,
    caffe_bgr: bool | None = None,
) -> keras.Model:
    """Build VGG-16 taking raw RGB in [0, 255] (setup E4).

    The architecture is `keras.applications.VGG16`'s with the same layer names
    (`block1_conv1` … `block5_pool`, then `flatten`, `fc1`, `fc2`,
    `predictions`), preceded by a `subtract_mean` layer and ending in logits
    (no softmax).

    What the model expects: raw RGB images in [0, 255], shape
    `(N, H, W, 3)`. The first layer computes

    - `x - [123.68, 116.779, 103.939]` (RGB, the paper's preprocessing) when
      `caffe_bgr=False`;
    - `(x - [123.68, 116.779, 103.939])[..., ::-1]`, i.e. BGR minus
      `[103.939, 116.779, 123.68]`, exactly `keras.applications.vgg16.
      preprocess_input(x)` ("caffe" mode), when `caffe_bgr=True`. This is the
      default for `weights="imagenet"`, whose filters were trained on BGR,
      and for a weights file in Keras's own `.h5` layout (see `weights`).

    Args:
        weights: `None` (random, see `init`), `"imagenet"` (Keras's pretrained
            weights; needs the file in the Keras cache or the network), or the
            path of a weights file: a `.weights.h5` saved from this
            architecture, or a file in the layout of Keras's own download
            (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`, or any legacy
            `.h5` saved from `keras.applications.VGG16`), loaded layer by
            layer with the caffe BGR preprocessing of `weights="imagenet"`.
            The file must match `input_shape`, `num_classes` and
            `include_top`. Defaults to `None`.
        init: random initialization when `weights` is `None` (also the
            starting point before loading a file): `"paper"` — every kernel
            TruncatedNormal(std 0.1), conv biases 0, dense biases 1.0;
            `"keras"` — Keras's defaults (GlorotUniform kernels, zero biases).
            Defaults to `"paper"`.
        input_shape: `(height, width, 3)`; at least 32×32. Must be
            `(224, 224, 3)` when `include_top=True` and `weights="imagenet"`.
            Defaults to `(224, 224, 3)`.
        num_classes: number of logits of `predictions`; must be 1000 with
            ImageNet weights. Ignored when `include_top=False`. Defaults to
            `1000`.
        include_top: keep `flatten`, `fc1`, `fc2`, `predictions`; otherwise the
            output is `block5_pool`. Defaults to `True`.
        seed: seed of the random initialization. Defaults to `0`.
        caffe_bgr: flip RGB→BGR after the mean subtraction (see above).
            Defaults to `None`: `True` for `weights="imagenet"` and for a
            file in Keras's `.h5` layout, `False` otherwise.

    Returns:
        A Functional `keras.Model` named `"vgg16"`: `(N, num_classes)` logits,
        or `(N, H/32, W/32, 512)` features when `include_top=False`.

    Raises:
        InvalidInputError: for an unknown `init`, a bad `input_shape` or
            `num_classes`, or an ImageNet request with an incompatible shape.
        WeightsUnavailableError: if `weights="imagenet"` and the file is
            neither cached nor downloadable (the message says where to put it).
        FileReadError: if `weights` is a path that does not exist or does not
            fit the architecture.

    Example:

    ```python
    random_vgg = kv.zoo.vgg16(init="paper", input_shape=(64, 64, 3), num_classes=10)
    trained_vgg = kv.zoo.vgg16(weights="imagenet")  # online, or cached file
    same = kv.zoo.vgg16(weights="vgg16_weights_tf_dim_ordering_tf_kernels.h5")  # a downloaded copy
    ```
    """
    init = _check_init(init)
    seed = _check_seed(seed)
    if not isinstance(include_top, (bool, np.bool_)):
        raise InvalidInputError(
            f"`include_top` must be True or False. Received: include_top={include_top!r}"
        )
    shape = _check_input_shape(input_shape, min_side=32)
    num_classes = _check_positive_int("num_classes", num_classes)
    imagenet = isinstance(weights, str) and weights == "imagenet"
    if imagenet and include_top:
        if num_classes != 1000:
            raise InvalidInputError(
                "ImageNet weights with include_top=True have 1000 classes. "
                f"Received: num_classes={num_classes}"
            )
        if shape != (224, 224, 3):
            raise InvalidInputError(
                "ImageNet weights with include_top=True need input_shape=(224, 224, 3) "
                f"(fc1 is tied to a 7x7x512 map). Received: input_shape={input_shape!r}"
            )
    # Check the weights source before building: a missing file fails fast.
    imagenet_path = None
    if imagenet:
        imagenet_path = _fetch_imagenet_weights(bool(include_top))
    elif weights is not None:
        if not isinstance(weights, (str, os.PathLike)):
            raise InvalidInputError(
                "`weights` must be None, 'imagenet' or the path of a .weights.h5 file. "
                f"Received: weights={weights!r}"
            )
        _check_weights_file(weights, "vgg16")
    if caffe_bgr is None:
        caffe_bgr = imagenet or (weights is not None and is_keras_h5_layout(weights))

    def kernel(index: int):
        return _paper_kernel(seed, index) if init == "paper" else _keras_kernel(seed, index)

    dense_bias = keras.initializers.Constant(1.0) if init == "paper" else "zeros"
    inputs = keras.Input(shape=shape, name="image")
    x = SubtractMean(IMAGENET_MEAN, reverse_channels=bool(caffe_bgr), name="subtract_mean")(
        inputs
    )
    index = 0
    for block, (filters, convs) in enumerate(_VGG16_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                kernel_initializer=kernel(index),
                bias_initializer="zeros",
                name=f"block{block}_conv{conv}",
            )(x)
            index += 1
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        for name, units, act in (
            ("fc1", 4096, "relu"),
            ("fc2", 4096, "relu"),
            ("predictions", num_classes, None),
        ):
            x = keras.layers.Dense(
                units,
                activation=act,
                kernel_initializer=kernel(index),
                bias_initializer=dense_bias,
                name=name,
            )(x)
            index += 1
    model = keras.Model(inputs, x, name="vgg16")

    if imagenet_path is not None:
        path = imagenet_path
        reference = keras.applications.VGG16(
            include_top=bool(include_top),
            weights=None,
            input_shape=shape,
            classes=num_classes,
            classifier_activation=None,
        )
        try:
            reference.load_weights(path)
        except Exception as err:
            raise WeightsUnavailableError(
                f"The ImageNet VGG-16 file {path!r} could not be loaded "
                f"({type(err).__name__}: {err}); delete it so that it is downloaded "
                "again. Received: weights='imagenet'"
            ) from err
        for layer in weight_layers(model):
            layer.set_weights(reference.get_layer(layer.name).get_weights())
    elif weights is not None:
        _load_weights_file(model, weights, "vgg16")
    return model


# --------------------------------------------------------------------------
# The trained network shipped with kerasviz.
# --------------------------------------------------------------------------


def _check_shipped_or_path(weights, what: str) -> None:
    """Check `weights` of a shipped net (None, "trained" or a weights file) before it is built."""
    if weights is None or (isinstance(weights, str) and weights == "trained"):
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise InvalidInputError(
            "`weights` must be None, 'trained' or the path of a .weights.h5 file. "
            f"Received: weights={weights!r}"
        )
    _check_weights_file(weights, what)


def _load_shipped_or_path(
    model: keras.Model, weights, file_name: str, what: str, *, missing: str
) -> keras.Model:
    """Load `weights` checked by `_check_shipped_or_path`: "trained" is `kerasviz/weights/file_name`.

    The package file is found through `importlib.resources`, so it works after
    `pip install`; `missing` is the message when this installation lacks it.
    """
    if weights is None:
        return model
    if isinstance(weights, str) and weights == "trained":
        resource = importlib.resources.files("kerasviz").joinpath("weights", file_name)
        if not resource.is_file():
            raise WeightsUnavailableError(missing)
        with importlib.resources.as_file(resource) as path:
            _load_weights_file(model, path, what)
        return model
    _load_weights_file(model, weights, what)
    return model


def _conv_blocks(x, widths: Sequence[int], seed: int):
    """VGG blocks: two 3×3 ReLU convolutions of each width, then 2×2 max-pooling.

    Returns the output tensor and the number of convolutions (the next
    layer's initializer index).
    """
    index = 0
    for block, filters in enumerate(widths, start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                kernel_initializer=_keras_kernel(seed, index),
                name=f"block{block}_conv{conv}",
            )(x)
            index += 1
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return x, index


def fashion_cnn(weights: str | os.PathLike | None = None, seed: int = 0) -> keras.Model:
    """Build the small VGG-style Fashion-MNIST CNN that kerasviz ships trained.

    | layer | output | parameters |
    |---|---|---|
    | `block1_conv1` 3×3, 16, relu | 28×28×16 | 160 |
    | `block1_conv2` 3×3, 16, relu | 28×28×16 | 2,320 |
    | `block1_pool` 2×2 max | 14×14×16 | |
    | `block2_conv1` 3×3, 32, relu | 14×14×32 | 4,640 |
    | `block2_conv2` 3×3, 32, relu | 14×14×32 | 9,248 |
    | `block2_pool` 2×2 max | 7×7×32 | |
    | `flatten`, `dropout` (0.3, training only) | 1568 | |
    | `fc1` 128, relu | 128 | 200,832 |
    | `predictions` (logits) | 10 | 1,290 |

    Six weight layers (`weight_layers`), 218,490 parameters. It is the
    offline stand-in for the paper's trained VGG-16 in experiments E4–E7;
    `models/fashion_cnn.md` is its model card (test accuracy ≥ 0.91).

    Args:
        weights: `None` (Keras's default init, seeded), `"trained"` (the
            weights shipped inside the package, `kerasviz/weights/
            fashion_cnn.weights.h5`, found through `importlib.resources` so
            they work after `pip install`), or a path to a `.weights.h5`.
            Defaults to `None`.
        seed: seed of the random initialization. Defaults to `0`.

    Returns:
        A Functional `keras.Model` named `"fashion_cnn"` taking grayscale
        images `(N, 28, 28, 1)` in [0, 1] (as `kerasviz.data.fashion_mnist`
        returns them) and returning `(N, 10)` logits (class names in
        `kerasviz.data.FASHION_CLASSES`).

    Raises:
        WeightsUnavailableError: if `weights="trained"` and the package was
            installed without its weights file.
        FileReadError: if `weights` is a path that cannot be loaded.
        InvalidInputError: for any other `weights` value.

    Example:

    ```python
    net = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, y_test) = kv.data.fashion_mnist()
    logits = net.predict(x_test[:100])
    ```
    """
    seed = _check_seed(seed)
    _check_shipped_or_path(weights, "fashion_cnn")
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x, index = _conv_blocks(inputs, (16, 32), seed)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(0.3, seed=_derive_seed(seed, 100), name="dropout")(x)
    x = keras.layers.Dense(
        128, activation="relu", kernel_initializer=_keras_kernel(seed, index), name="fc1"
    )(x)
    outputs = keras.layers.Dense(
        10, kernel_initializer=_keras_kernel(seed, index + 1), name="predictions"
    )(x)
    model = keras.Model(inputs, outputs, name="fashion_cnn")

    return _load_shipped_or_path(
        model,
        weights,
        _FASHION_WEIGHTS,
        "fashion_cnn",
        missing=(
            f"The trained Fashion-MNIST weights ({_FASHION_WEIGHTS}) are not in this "
            "kerasviz installation. Reinstall kerasviz with its package data, or "
            "train them with `python models/train_fashion_cnn.py`. "
            "Received: weights='trained'"
        ),
    )


#: Base widths of the shipped `fashion_vgg` nets (filters of the first block).
FASHION_VGG_WIDTHS: tuple[int, ...] = (8, 16, 64)


def _fashion_vgg_weights_name(width: int) -> str:
    return "fashion_vgg.weights.h5" if width == 64 else f"fashion_vgg_w{width}.weights.h5"


def fashion_vgg(
    weights: str | os.PathLike | None = None, seed: int = 0, width: int = 64
) -> keras.Model:
    """Build the VGG-style Fashion-MNIST net that kerasviz ships trained.

    Three VGG blocks of two 3×3 convolutions with ReLU (`width`, `2·width`,
    `4·width` filters: 64–128–256 by default) each followed by 2×2
    max-pooling, then two fully connected ReLU layers of 256 units and the
    logits. No batch norm (VGG-16 has none). Inputs are Fashion-MNIST images
    zero-padded to 32×32 with the gray channel replicated to RGB
    (`kv.data.fashion_mnist_rgb32`), in [0, 1].

    | layer | output (width 64) |
    |---|---|
    | `block1_conv1`, `block1_conv2` 3×3, relu; `block1_pool` | 16×16×64 |
    | `block2_conv1`, `block2_conv2` 3×3, relu; `block2_pool` | 8×8×128 |
    | `block3_conv1`, `block3_conv2` 3×3, relu; `block3_pool` | 4×4×256 |
    | `flatten`, `dropout` 0.5; `fc1` 256 relu; `dropout_fc1` 0.5 | 256 |
    | `fc2` 256 relu; `predictions` (logits) | 10 |

    Nine weight layers (`weight_layers`). `models/fashion_vgg.md` is its
    model card. Widths 8, 16 and 64 ship trained the same way
    (`FASHION_VGG_WIDTHS`) for the width study of `kerasviz reproduce --full`.

    Args:
        weights: `None` (Glorot init, seeded), `"trained"` (the shipped
            weights of this width) or a path to a `.weights.h5`. Defaults
            to `None`.
        seed: seed of the random initialization. Defaults to `0`.
        width: filters of the first block. Defaults to `64`.

    Returns:
        A Functional `keras.Model` named `"fashion_vgg"` (or
        `"fashion_vgg_w{width}"`) taking `(N, 32, 32, 3)` images in [0, 1]
        and returning `(N, 10)` logits.

    Raises:
        WeightsUnavailableError: if `weights="trained"` and no shipped file
            exists for this width.
        FileReadError: if `weights` is a path that cannot be loaded.
        InvalidInputError: for any other `weights` value or a bad `width`.

    Example:

    ```python
    net = kv.zoo.fashion_vgg(weights="trained")
    (_, _), (x_test, y_test) = kv.data.fashion_mnist_rgb32()
    logits = net.predict(x_test[:100])
    ```
    """
    seed = _check_seed(seed)
    width = _check_positive_int("width", width)
    _check_shipped_or_path(weights, "fashion_vgg")
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x, index = _conv_blocks(inputs, (width, 2 * width, 4 * width), seed)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(0.5, seed=_derive_seed(seed, 100), name="dropout")(x)
    x = keras.layers.Dense(
        256, activation="relu", kernel_initializer=_keras_kernel(seed, index), name="fc1"
    )(x)
    x = keras.layers.Dropout(0.5, seed=_derive_seed(seed, 101), name="dropout_fc1")(x)
    x = keras.layers.Dense(
        256, activation="relu", kernel_initializer=_keras_kernel(seed, index + 1), name="fc2"
    )(x)
    outputs = keras.layers.Dense(
        10, kernel_initializer=_keras_kernel(seed, index + 2), name="predictions"
    )(x)
    name = "fashion_vgg" if width == 64 else f"fashion_vgg_w{width}"
    model = keras.Model(inputs, outputs, name=name)

    file_name = _fashion_vgg_weights_name(width)
    return _load_shipped_or_path(
        model,
        weights,
        file_name,
        "fashion_vgg",
        missing=(
            f"No trained weights for fashion_vgg width {width} ({file_name}) in this "
            f"kerasviz installation; shipped widths: {FASHION_VGG_WIDTHS}. Train them "
            f"with `python models/train_fashion_vgg.py --width {width}`. "
            f"Received: weights='trained', width={width}"
        ),
    )


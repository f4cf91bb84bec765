"""The trained nets of E4 (trained side)–E7: what `kerasviz reproduce --weights` loads.

`TrainedNet` pairs a model with where its images come from; `load_trained`
builds one from `"trained"`, `"random"`, `"imagenet"` or a weights file
(Keras's VGG-16 download, or a `.weights.h5` of `kv.zoo.vgg16`,
`kv.zoo.fashion_cnn` or `kv.zoo.fashion_vgg`). `reproduce.load_trained_nets`
picks the nets of a run.

Example:

```python
from kerasviz.analysis import trained_nets
net = trained_nets.load_trained("trained")
images, names = net.images(0, 4)  # 4 Fashion-MNIST test images for seed 0
net.key  # "fashion_cnn"
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.errors import FileReadError, KerasvizError

#: The sample photos of the photo-based experiments (and of VGG-16's E4–E7).
PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
_PHOTOS = PHOTOS




@dataclasses.dataclass
class TrainedNet:
    """A net of E4 (trained side)–E7 and where its images come from.

    Attributes:
        name: a description for the report.
        model: the Keras model (returns logits).
        value_range: the pixel range of its inputs.
        images: `images(seed, count) -> (images, names)`.
        center: maps images to what its first weight layer sees (for M1).
        kernel_size: the first convolution's kernel (for x̃).
        key: the net's short name, the `"net"` of its records and claim
            rows: `"fashion_cnn"`, `"fashion_vgg"`, `"fashion_vgg_w16"`,
            `"vgg16"`.
        width: the `fashion_vgg` width, else `None`.
    """

    name: str
    model: Any
    value_range: tuple[float, float]
    images: Callable[[int, int], tuple[np.ndarray, list[str]]]
    center: Callable[[np.ndarray], np.ndarray]
    kernel_size: int = 3
    key: str = "trained"
    width: int | None = None


def _fashion_images(seed: int, count: int) -> tuple[np.ndarray, list[str]]:
    from kerasviz import data

    (_, _), (x_test, _) = data.fashion_mnist()
    index = np.sort(np.random.default_rng(seed).choice(len(x_test), count, replace=False))
    return x_test[index], [f"test{i}" for i in index]


def _fashion_rgb32_images(seed: int, count: int) -> tuple[np.ndarray, list[str]]:
    from kerasviz import data

    images, names = _fashion_images(seed, count)  # the same test images as the 28×28 net's
    return data.to_rgb32(images), names


def _as_float64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64)


def _fashion_net(name: str, model) -> TrainedNet:
    return TrainedNet(name, model, (0.0, 1.0), _fashion_images, _as_float64, 3, key="fashion_cnn")


def _fashion_vgg_net(name: str, model, width: int) -> TrainedNet:
    key = "fashion_vgg" if width == 64 else f"fashion_vgg_w{width}"
    return TrainedNet(name, model, (0.0, 1.0), _fashion_rgb32_images, _as_float64, 3, key=key, width=width)


def _vgg16_file_layout(path: Path) -> tuple[tuple[int, int, int], int] | None:
    """`(input_shape, num_classes)` of a VGG-16 weights file with its top, read from its dense kernels."""
    import h5py  # a dependency of Keras

    shapes: list[tuple[int, ...]] = []

    def visit(_name, item):
        if isinstance(item, h5py.Dataset) and len(item.shape) == 2:
            shapes.append(tuple(int(v) for v in item.shape))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError:
        return None
    if len(shapes) != 3 or shapes[0][0] % 512:
        return None
    cells = shapes[0][0] // 512
    side = int(round(cells**0.5))
    if side * side != cells:
        return None
    return (32 * side, 32 * side, 3), shapes[-1][1]


def _vgg_net(name: str, model, image_names: Sequence[str]) -> TrainedNet:
    from kerasviz import data
    from kerasviz.analysis import experiments

    size = int(model.inputs[0].shape[1] or 224)

    def images(seed: int, count: int):
        del seed, count  # the same photos for every seed
        return data.sample_images(tuple(image_names), size=size), list(image_names)

    return TrainedNet(name, model, (0.0, 255.0), images, experiments.center, 3, key="vgg16")


def load_trained(weights: str, image_names: Sequence[str] = _PHOTOS) -> TrainedNet:
    """The net that `--weights` names: `trained`, `imagenet`, `random` or a weights file path.

    `trained` is the shipped `fashion_cnn`; a path is tried as
    `kv.zoo.fashion_cnn()`, `kv.zoo.fashion_vgg()` (each of `kv.zoo.FASHION_VGG_WIDTHS`) and
    `kv.zoo.vgg16()` in that order. A VGG-16 file may be Keras's download
    (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`, loaded with the caffe
    BGR preprocessing of `weights="imagenet"`) or a `.weights.h5` saved from
    `kv.zoo.vgg16()`; its input size and classes are read from its dense
    kernels, so a VGG-16 built at 32×32 with 10 classes loads too.

    Raises:
        WeightsUnavailableError: when the shipped or ImageNet weights cannot
            be found or fetched (the message says what to do).
        FileReadError: for a path that none of the architectures can load.
    """
    from kerasviz import zoo

    if weights == "trained":
        return _fashion_net("Fashion-MNIST CNN shipped with kerasviz (kv.zoo.fashion_cnn(weights='trained'))",
                            zoo.fashion_cnn(weights="trained"))
    if weights == "random":
        return _fashion_net("untrained Fashion-MNIST CNN (kv.zoo.fashion_cnn(), Keras init, seed 0)",
                            zoo.fashion_cnn(seed=0))
    if weights == "imagenet":
        return _vgg_net("VGG-16 with Keras's ImageNet weights", zoo.vgg16(weights="imagenet"), image_names)
    path = Path(weights)
    if not path.is_file():
        raise FileReadError(
            "--weights is 'trained', 'imagenet', 'random' or the path of a weights file of "
            "kv.zoo.fashion_cnn(), kv.zoo.fashion_vgg() or kv.zoo.vgg16() (or Keras's VGG-16 download). "
            f"No such file. Received: --weights {weights}"
        )
    errors = []
    try:
        return _fashion_net(f"kv.zoo.fashion_cnn() with weights {path}", zoo.fashion_cnn(weights=str(path)))
    except KerasvizError as err:
        errors.append(f"fashion_cnn: {err}")
    for width in sorted(zoo.FASHION_VGG_WIDTHS, reverse=True):
        try:
            return _fashion_vgg_net(f"kv.zoo.fashion_vgg(width={width}) with weights {path}",
                                    zoo.fashion_vgg(weights=str(path), width=width), width)
        except KerasvizError as err:
            if width == max(zoo.FASHION_VGG_WIDTHS):
                errors.append(f"fashion_vgg: {err}")
    layout = _vgg16_file_layout(path)
    shape, classes = layout if layout is not None else ((224, 224, 3), 1000)
    try:
        model = zoo.vgg16(weights=str(path), input_shape=shape, num_classes=classes)
    except KerasvizError as err:
        errors.append(f"vgg16: {err}")
    else:
        keras_layout = zoo.is_keras_h5_layout(path)
        return _vgg_net(
            f"VGG-16 with weights {path} ({shape[0]}×{shape[1]}, {classes} classes"
            + (", Keras's file layout: caffe BGR preprocessing as for --weights imagenet)" if keras_layout else ")"),
            model, image_names)
    raise FileReadError(
        f"{path} fits none of kv.zoo.fashion_cnn(), kv.zoo.fashion_vgg() and kv.zoo.vgg16(): "
        + " / ".join(errors) + f" Received: --weights {weights}"
    )

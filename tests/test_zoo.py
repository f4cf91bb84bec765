"""Tests for kerasviz.zoo: the paper's networks (layer randomization: test_randomization.py)."""

from __future__ import annotations

import importlib.resources
import json
import re
import socket
import time

import keras
import numpy as np
import pytest

from kerasviz import data, zoo
from kerasviz.errors import (
    FileReadError,
    InvalidArgumentError,
    InvalidInputError,
    WeightsUnavailableError,
)

MEAN = np.float32([123.68, 116.779, 103.939])
# Std of a normal(0, s) truncated at 2 s: s * sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)).
TRUNC_STD = 0.1 * 0.8796256610342398


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def _assert_paper_kernel(kernel: np.ndarray, stddev: float = 0.1, rtol: float = 0.05) -> None:
    """TruncatedNormal(stddev): std 0.88 * stddev, mean 0, nothing beyond 2 stddev."""
    kernel = np.asarray(kernel)
    assert abs(kernel.std() / (stddev * 0.8796256610342398) - 1) < rtol, kernel.std()
    assert abs(kernel.mean()) < 5 * stddev / np.sqrt(kernel.size)
    assert np.abs(kernel).max() <= 2 * stddev + 1e-6


# --------------------------------------------------------------------------
# SubtractMean
# --------------------------------------------------------------------------


def test_subtract_mean_is_exact():
    """The first layer outputs x - IMAGENET_MEAN exactly, per channel."""
    x = _images(2, 5)
    out = keras.ops.convert_to_numpy(zoo.SubtractMean()(x))
    np.testing.assert_array_equal(out, x - MEAN)


def test_subtract_mean_reverse_channels_is_keras_caffe_preprocessing():
    """reverse_channels=True reproduces keras.applications.vgg16.preprocess_input."""
    x = _images(2, 5)
    out = keras.ops.convert_to_numpy(zoo.SubtractMean(reverse_channels=True)(x))
    expected = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(out, expected, atol=1e-4)
    np.testing.assert_array_equal(out[..., 0], x[..., 2] - MEAN[2])


def test_subtract_mean_serializes():
    """get_config / from_config and a .keras round trip keep the layer."""
    layer = zoo.SubtractMean(mean=(1.0, 2.0), reverse_channels=True, name="m")
    config = layer.get_config()
    assert config["mean"] == [1.0, 2.0] and config["reverse_channels"] is True
    clone = zoo.SubtractMean.from_config(config)
    x = np.ones((1, 2, 2, 2), np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x))[0, 0, 0], [-1.0, 0.0])


def test_subtract_mean_channel_mismatch():
    """Three mean values cannot be applied to a one-channel input."""
    inputs = keras.Input((4, 4, 1))
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "SubtractMean has 3 mean values but the input has 1 channels. "
            "Received: input_shape=(None, 4, 4, 1)"
        ),
    ):
        zoo.SubtractMean()(inputs)


# --------------------------------------------------------------------------
# fc3 (E1)
# --------------------------------------------------------------------------


def test_fc3_init_statistics_and_forward_values():
    """E1 init (std 0.1 / bias 1, std 10 / bias 0) and a NumPy forward pass."""
    net = zoo.fc3(hidden=300, input_shape=(16, 16, 3), num_classes=10, seed=0)
    assert [layer.name for layer in net.layers] == [
        "image",
        "subtract_mean",
        "flatten",
        "fc1",
        "logits",
    ]
    w1, b1 = net.get_layer("fc1").get_weights()
    w2, b2 = net.get_layer("logits").get_weights()
    assert w1.shape == (768, 300) and w2.shape == (300, 10)
    _assert_paper_kernel(w1, 0.1, rtol=0.03)
    _assert_paper_kernel(w2, 10.0, rtol=0.1)
    np.testing.assert_array_equal(b1, 1.0)
    np.testing.assert_array_equal(b2, 0.0)

    x = _images(2, 16)
    hidden = np.maximum((x - MEAN).reshape(2, -1).astype(np.float64) @ w1 + b1, 0)
    expected = hidden @ w2 + b2
    np.testing.assert_allclose(net(x), expected, rtol=1e-4, atol=1e-2)


def test_fc3_seeded():
    """Same seed, same weights; another seed, other weights."""
    a = zoo.fc3(hidden=20, input_shape=(4, 4, 3), num_classes=3, seed=1).get_weights()
    b = zoo.fc3(hidden=20, input_shape=(4, 4, 3), num_classes=3, seed=1).get_weights()
    c = zoo.fc3(hidden=20, input_shape=(4, 4, 3), num_classes=3, seed=2).get_weights()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden": 0}, "`hidden` must be a positive integer. Received: hidden=0"),
        ({"num_classes": 2.5}, "`num_classes` must be a positive integer. Received: num_classes=2.5"),
        (
            {"input_shape": (8, 8, 1)},
            "`input_shape` must have 3 channels (raw RGB; the first layer subtracts the "
            "ImageNet mean). Received: input_shape=(8, 8, 1)",
        ),
        (
            {"input_shape": (8, 8)},
            "`input_shape` must be (height, width, channels) with positive integers. "
            "Received: input_shape=(8, 8)",
        ),
    ],
)
def test_fc3_validates_arguments(kwargs, message):
    """Bad arguments raise InvalidInputError naming the received value."""
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        zoo.fc3(**kwargs)


# --------------------------------------------------------------------------
# cnn3 (E2 / E3)
# --------------------------------------------------------------------------


def _numpy_cnn3(x, kernel, bias, dense_w, dense_b, max_pool):
    """Reference: SAME conv (odd k, stride 1) + ReLU [+ 9x9 SAME max-pool] + dense."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    p = k // 2
    z = (x - MEAN).astype(np.float64)
    padded = np.pad(z, ((0, 0), (p, p), (p, p), (0, 0)))
    conv = np.zeros((n, h, w, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            patch = padded[:, i : i + k, j : j + k, :]
            conv[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    act = np.maximum(conv + bias, 0)
    if max_pool:
        q = 4
        padded = np.pad(act, ((0, 0), (q, q), (q, q), (0, 0)), constant_values=-np.inf)
        pooled = np.empty_like(act)
        for i in range(h):
            for j in range(w):
                pooled[:, i, j, :] = padded[:, i : i + 9, j : j + 9, :].max(axis=(1, 2))
        act = pooled
    return act.reshape(n, -1) @ dense_w + dense_b


@pytest.mark.parametrize("max_pool", [False, True])
def test_cnn3_forward_matches_numpy(max_pool):
    """cnn3 equals a hand-written NumPy conv / ReLU / max-pool / dense pass."""
    net = zoo.cnn3(
        filters=2, kernel_size=3, max_pool=max_pool, input_shape=(6, 6, 3), num_classes=4, seed=3
    )
    kernel, bias = net.get_layer("conv").get_weights()
    dense_w, dense_b = net.get_layer("logits").get_weights()
    # Non-zero conv biases make the ReLU and the pooling matter more.
    bias = np.float32([5.0, -5.0])
    net.get_layer("conv").set_weights([kernel, bias])
    x = _images(3, 6, seed=1)
    expected = _numpy_cnn3(x, kernel, bias, dense_w, dense_b, max_pool)
    np.testing.assert_allclose(net(x), expected, rtol=1e-4, atol=1e-3)


def test_cnn3_single_filter_7x7_matches_numpy():
    """The paper's 7x7 kernel with one filter, against NumPy."""
    net = zoo.cnn3(filters=1, input_shape=(9, 9, 3), num_classes=2, seed=0)
    kernel, bias = net.get_layer("conv").get_weights()
    dense_w, dense_b = net.get_layer("logits").get_weights()
    x = _images(2, 9, seed=2)
    expected = _numpy_cnn3(x, kernel, bias, dense_w, dense_b, max_pool=False)
    np.testing.assert_allclose(net(x), expected, rtol=1e-4, atol=1e-3)


def test_cnn3_structure_and_init():
    """Layers, the E3 max-pool's settings, and the paper's init statistics."""
    plain = zoo.cnn3(filters=64, input_shape=(8, 8, 3), num_classes=10)
    pooled = zoo.cnn3(filters=64, max_pool=True, input_shape=(8, 8, 3), num_classes=10)
    assert [layer.name for layer in plain.layers] == [
        "image",
        "subtract_mean",
        "conv",
        "flatten",
        "logits",
    ]
    assert [layer.name for layer in pooled.layers] == [
        "image",
        "subtract_mean",
        "conv",
        "pool",
        "flatten",
        "logits",
    ]
    pool = pooled.get_layer("pool")
    assert isinstance(pool, keras.layers.MaxPooling2D)
    assert pool.pool_size == (9, 9) and pool.strides == (1, 1) and pool.padding == "same"
    conv = plain.get_layer("conv")
    assert conv.kernel_size == (7, 7) and conv.strides == (1, 1) and conv.padding == "same"
    assert conv.activation is keras.activations.relu
    assert plain.get_layer("logits").activation is keras.activations.linear

    kernel, bias = conv.get_weights()
    dense_w, dense_b = plain.get_layer("logits").get_weights()
    assert kernel.shape == (7, 7, 3, 64) and dense_w.shape == (8 * 8 * 64, 10)
    _assert_paper_kernel(kernel)
    _assert_paper_kernel(dense_w, rtol=0.03)
    np.testing.assert_array_equal(bias, 0.0)
    np.testing.assert_array_equal(dense_b, 0.0)


def test_cnn3_saves_and_loads(tmp_path):
    """A cnn3 with max-pool round-trips through a .keras file."""
    net = zoo.cnn3(filters=3, max_pool=True, input_shape=(10, 10, 3), num_classes=2)
    path = tmp_path / "cnn3.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    x = _images(2, 10)
    np.testing.assert_array_equal(loaded(x), net(x))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0}, "`filters` must be a positive integer. Received: filters=0"),
        ({"kernel_size": -1}, "`kernel_size` must be a positive integer. Received: kernel_size=-1"),
        ({"max_pool": "yes"}, "`max_pool` must be True or False. Received: max_pool='yes'"),
        (
            {"input_shape": (0, 8, 3)},
            "`input_shape` must be (height, width, channels) with positive integers. "
            "Received: input_shape=(0, 8, 3)",
        ),
    ],
)
def test_cnn3_validates_arguments(kwargs, message):
    """Bad arguments raise InvalidInputError naming the received value."""
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        zoo.cnn3(**{"input_shape": (8, 8, 3), "num_classes": 2, **kwargs})


# --------------------------------------------------------------------------
# vgg16 (E4)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_top():
    return zoo.vgg16(input_shape=(32, 32, 3), num_classes=10, seed=0)


def test_vgg16_matches_keras_architecture_and_forward(vgg_top):
    """Same layer names as keras.applications.VGG16; same output on x - mean."""
    reference = keras.applications.VGG16(
        weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )
    assert [layer.name for layer in vgg_top.layers[2:]] == [
        layer.name for layer in reference.layers[1:]
    ]
    assert vgg_top.layers[1].name == "subtract_mean"
    assert [layer.name for layer in zoo.weight_layers(vgg_top)] == [
        "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
        "block3_conv1", "block3_conv2", "block3_conv3",
        "block4_conv1", "block4_conv2", "block4_conv3",
        "block5_conv1", "block5_conv2", "block5_conv3",
        "fc1", "fc2", "predictions",
    ]  # fmt: skip
    reference.set_weights(vgg_top.get_weights())
    x = _images(2, 32)
    expected = keras.ops.convert_to_numpy(reference(x - MEAN))
    np.testing.assert_allclose(vgg_top(x), expected, rtol=1e-5)
    assert vgg_top.get_layer("predictions").activation is keras.activations.linear


def test_vgg16_paper_init(vgg_top):
    """Paper init: kernels TruncatedNormal(0.1), conv biases 0, dense biases 1."""
    for layer in zoo.weight_layers(vgg_top):
        kernel, bias = layer.get_weights()
        if isinstance(layer, keras.layers.Dense):
            np.testing.assert_array_equal(bias, 1.0)
        else:
            np.testing.assert_array_equal(bias, 0.0)
        if kernel.size > 10000:
            _assert_paper_kernel(kernel)
    first = vgg_top.get_layer("block1_conv1").get_weights()[0]
    second = vgg_top.get_layer("block1_conv2").get_weights()[0]
    assert not np.allclose(first[..., :3, :], second[..., :3, :])


def test_vgg16_keras_init_and_seed():
    """init='keras': Glorot-uniform kernels, zero biases; seeded."""
    a = zoo.vgg16(init="keras", input_shape=(32, 32, 3), include_top=False, seed=4)
    assert a.output.shape == (None, 1, 1, 512)
    assert len(zoo.weight_layers(a)) == 13
    for layer in zoo.weight_layers(a):
        kernel, bias = layer.get_weights()
        fan_in = np.prod(kernel.shape[:-1])
        fan_out = kernel.shape[-1] * np.prod(kernel.shape[:-2])
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit + 1e-6
        assert kernel.std() > 0.5 * limit / np.sqrt(3)
        np.testing.assert_array_equal(bias, 0.0)
    b = zoo.vgg16(init="keras", input_shape=(32, 32, 3), include_top=False, seed=4)
    np.testing.assert_array_equal(
        a.get_layer("block3_conv2").get_weights()[0], b.get_layer("block3_conv2").get_weights()[0]
    )


def test_vgg16_missing_weights_file_fails_before_building(tmp_path):
    """weights=<missing path> raises FileReadError naming the path."""
    missing = str(tmp_path / "missing.weights.h5")
    with pytest.raises(
        FileReadError,
        match=re.escape(
            f"Cannot load weights for vgg16: no such file {missing!r}. Received: weights={missing!r}"
        ),
    ):
        zoo.vgg16(weights=missing)


def test_vgg16_imagenet_file_is_loaded_with_caffe_preprocessing(tmp_path, monkeypatch):
    """With Keras's (legacy h5) file, vgg16(x) == keras VGG16(preprocess_input(x))."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.VGG16(
        weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    monkeypatch.setattr(zoo, "_fetch_imagenet_weights", lambda include_top: str(path))
    net = zoo.vgg16(weights="imagenet", input_shape=(32, 32, 3), include_top=False)
    assert net.get_layer("subtract_mean").reverse_channels is True
    x = _images(2, 32)
    expected = keras.ops.convert_to_numpy(
        reference(keras.applications.vgg16.preprocess_input(x.copy()))
    )
    np.testing.assert_allclose(net(x), expected, rtol=1e-4, atol=1e-3)


def test_vgg16_imagenet_offline_raises_quickly(tmp_path, monkeypatch):
    """No cached file and no network: WeightsUnavailableError saying where to put it."""

    def no_network(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    start = time.time()
    with pytest.raises(WeightsUnavailableError) as info:
        zoo.vgg16(weights="imagenet", input_shape=(32, 32, 3), include_top=False)
    assert time.time() - start < 30
    message = str(info.value)
    target = str(tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert message.startswith("Cannot get the ImageNet VGG-16 weights (")
    assert f"copy it to {target!r}" in message
    assert message.endswith("Received: weights='imagenet'")
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"weights": "imagenet", "input_shape": (64, 64, 3)},
            "ImageNet weights with include_top=True need input_shape=(224, 224, 3) (fc1 is "
            "tied to a 7x7x512 map). Received: input_shape=(64, 64, 3)",
        ),
        (
            {"weights": "imagenet", "num_classes": 10},
            "ImageNet weights with include_top=True have 1000 classes. Received: num_classes=10",
        ),
        (
            {"input_shape": (16, 16, 3)},
            "`input_shape` must be at least 32x32. Received: input_shape=(16, 16, 3)",
        ),
        (
            {"init": "glorot"},
            "Unknown init 'glorot'. Known inits: 'paper' (TruncatedNormal std 0.1, conv "
            "biases 0, dense biases 1.0), 'keras' (the layers' own initializers). "
            "Received: init='glorot'",
        ),
        (
            {"weights": 3, "include_top": False, "input_shape": (32, 32, 3)},
            "`weights` must be None, 'imagenet' or the path of a .weights.h5 file. "
            "Received: weights=3",
        ),
    ],
)
def test_vgg16_validates_arguments(kwargs, message):
    """Bad arguments raise InvalidInputError naming the received value."""
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        zoo.vgg16(**kwargs)


# --------------------------------------------------------------------------
# fashion_cnn and the shipped weights
# --------------------------------------------------------------------------


def test_fashion_cnn_architecture():
    """Six weight layers, ReLU everywhere, (28, 28, 1) -> 10 logits."""
    net = zoo.fashion_cnn()
    assert net.input_shape == (None, 28, 28, 1) and net.output_shape == (None, 10)
    names = [layer.name for layer in zoo.weight_layers(net)]
    assert names == [
        "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "fc1", "predictions"
    ]  # fmt: skip
    for layer in zoo.weight_layers(net)[:-1]:
        assert layer.activation is keras.activations.relu
    assert net.get_layer("predictions").activation is keras.activations.linear
    assert net.count_params() == 218490


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_fashion_cnn_weights_path_roundtrip(tmp_path):
    """weights=<path> loads a .weights.h5 saved from the same architecture."""
    source = zoo.fashion_cnn(seed=1)
    path = tmp_path / "net.weights.h5"
    source.save_weights(path)
    loaded = zoo.fashion_cnn(weights=path, seed=2)
    for u, v in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(u, v)
    other = tmp_path / "other.weights.h5"
    zoo.cnn3(filters=2, input_shape=(8, 8, 3), num_classes=2).save_weights(other)
    with pytest.raises(FileReadError) as info:
        zoo.fashion_cnn(weights=other)
    message = str(info.value)
    assert message.startswith(f"Cannot load weights for fashion_cnn from {str(other)!r}: ")
    assert message.endswith(f"Received: weights={str(other)!r}")


def test_fashion_cnn_bad_weights():
    """An unknown weights value raises InvalidInputError."""
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "`weights` must be None, 'trained' or the path of a .weights.h5 file. "
            "Received: weights=3"
        ),
    ):
        zoo.fashion_cnn(weights=3)


def test_shipped_weights_are_package_data():
    """The weights and their json sit inside the package, a few MB at most."""
    folder = importlib.resources.files("kerasviz").joinpath("weights")
    weights = folder.joinpath("fashion_cnn.weights.h5")
    assert weights.is_file(), "kerasviz/weights/fashion_cnn.weights.h5 is missing"
    with importlib.resources.as_file(weights) as path:
        assert path.stat().st_size < 5_000_000
    meta = json.loads(folder.joinpath("fashion_cnn.json").read_text())
    assert meta["test_accuracy"] >= 0.91
    assert {"epochs", "seed"} <= set(meta)


def test_trained_accuracy():
    """fashion_cnn(weights='trained') classifies the full test set with accuracy >= 0.90."""
    try:
        _, (x_test, y_test) = data.fashion_mnist()
    except Exception as err:  # must fail, not skip: the shipped weights are a claim
        pytest.fail(
            f"Fashion-MNIST is needed to check the shipped weights and could not be "
            f"loaded: {err}. Install it with `apt-get install dataset-fashion-mnist`."
        )
    assert len(x_test) == 10000
    net = zoo.fashion_cnn(weights="trained")
    logits = net.predict(x_test, batch_size=1000, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    assert accuracy >= 0.90, f"test accuracy {accuracy:.4f} < 0.90"
    meta = json.loads(
        importlib.resources.files("kerasviz").joinpath("weights", "fashion_cnn.json").read_text()
    )
    assert abs(accuracy - meta["test_accuracy"]) < 0.002



@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden": 0}, "`hidden` must be a positive integer. Received: hidden=0"),
        ({"seed": 1.5}, "`seed` must be an integer. Received: seed=1.5"),
        ({"seed": True}, "`seed` must be an integer. Received: seed=True"),
    ],
)
def test_counts_and_seeds_raise_invalid_argument_errors(kwargs, message):
    """Counts and seeds are checked by kerasviz._validation: an InvalidArgumentError (an InvalidInputError)."""
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
        zoo.fc3(input_shape=(8, 8, 3), **kwargs)
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, ValueError)


def test_to_rgb32_pads_with_black_and_replicates_the_gray_channel():
    gray = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    rgb = data.to_rgb32(gray)
    assert rgb.shape == (2, 32, 32, 3) and rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb[:, 2:30, 2:30, :], np.repeat(gray, 3, axis=-1))
    assert not rgb[:, :2].any() and not rgb[:, 30:].any() and not rgb[:, :, :2].any() and not rgb[:, :, 30:].any()
    with pytest.raises(InvalidInputError, match=r"Received: images of shape \(2, 32, 32\)"):
        data.to_rgb32(np.zeros((2, 32, 32)))


@pytest.mark.parametrize("width", zoo.FASHION_VGG_WIDTHS)
def test_every_shipped_fashion_vgg_width_is_package_data_with_its_card(width):
    name = "fashion_vgg" if width == 64 else f"fashion_vgg_w{width}"
    folder = importlib.resources.files("kerasviz").joinpath("weights")
    with importlib.resources.as_file(folder.joinpath(f"{name}.weights.h5")) as path:
        assert path.stat().st_size < 20_000_000
    meta = json.loads(folder.joinpath(f"{name}.json").read_text())
    assert (meta["width"], meta["seed"], meta["epochs"]) == (width, 0, 10)
    net = zoo.fashion_vgg(weights="trained", width=width)
    assert net.count_params() == meta["parameters"]


def test_fashion_vgg_trained_accuracy_on_the_full_test_set():
    """fashion_vgg(weights='trained') reaches >= 0.93 on all 10,000 test images, as its card says."""
    _, (x_test, y_test) = data.fashion_mnist_rgb32()
    assert len(x_test) == 10000
    logits = zoo.fashion_vgg(weights="trained").predict(x_test, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    meta = json.loads(importlib.resources.files("kerasviz").joinpath("weights", "fashion_vgg.json").read_text())
    assert accuracy >= 0.93, f"test accuracy {accuracy:.4f} < 0.93"
    assert abs(accuracy - meta["test_accuracy"]) < 0.002

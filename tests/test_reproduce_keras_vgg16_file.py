"""The ImageNet route end to end, offline: a file in the layout of Keras's VGG-16 download, passed as --weights PATH.

Keras's `vgg16_weights_tf_dim_ordering_tf_kernels.h5` cannot be downloaded here, so the tests write a file of the
same layout (HDF5 root attributes `layer_names`, `backend`, `keras_version`; one group per layer with its
`weight_names`) holding the random weights of `keras.applications.VGG16` built at 32×32 with 10 classes, and check
`kv.zoo.vgg16(weights=PATH)` against Keras's own model and preprocessing, then `kerasviz reproduce --weights PATH`
from the command line through REPORT.md.
"""

import json
import re

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz import cli
from kerasviz.analysis import metrics

SIZE = 32
CLASSES = 10


def write_keras_layout(model: keras.Model, path) -> None:
    """Write `model`'s weights as Keras 2 wrote its application files (the layout of the VGG-16 download)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.0.8"
        for layer in model.layers:
            group = f.create_group(layer.name)
            values = layer.get_weights()
            names = [f"{layer.name}_{'W' if i == 0 else 'b'}_1:0".encode() for i in range(len(values))]
            group.attrs["weight_names"] = np.array(names)
            for name, value in zip(names, values):
                group.create_dataset(name.decode(), data=value)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    reference = keras.applications.VGG16(weights=None, input_shape=(SIZE, SIZE, 3), classes=CLASSES,
                                         classifier_activation=None)
    path = tmp_path_factory.mktemp("keras") / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    write_keras_layout(reference, path)
    return reference, path


def test_vgg16_loads_the_keras_file_with_kerass_own_preprocessing(keras_file):
    reference, path = keras_file
    assert kv.zoo.is_keras_h5_layout(path)
    model = kv.zoo.vgg16(weights=str(path), input_shape=(SIZE, SIZE, 3), num_classes=CLASSES)
    x = kv.data.sample_images(("chelsea", "coffee"), size=SIZE)
    expected = reference.predict(keras.applications.vgg16.preprocess_input(x.copy()), verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    # The saliency map is the gradient through Keras's preprocessing (caffe: RGB→BGR, minus the mean).
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logit = reference(keras.applications.vgg16.preprocess_input(xt))[:, 3]
    grad = tape.gradient(logit, xt).numpy()
    saliency = kv.visualize(model, x, rules=("saliency",), target=3)["saliency"]
    np.testing.assert_allclose(saliency, grad, rtol=1e-4, atol=1e-5 * np.abs(grad).max())


def test_a_weights_h5_of_kv_zoo_vgg16_is_not_taken_for_kerass_layout(tmp_path):
    path = tmp_path / "mine.weights.h5"
    kv.zoo.vgg16(input_shape=(SIZE, SIZE, 3), num_classes=CLASSES).save_weights(path)
    assert not kv.zoo.is_keras_h5_layout(path)


@pytest.mark.slow
def test_reproduce_with_the_keras_file_reports_vgg16_rows(keras_file, tmp_path, capsys):
    """`kerasviz reproduce --smoke --weights PATH` (about 40 s on 2 idle cores): C8–C10 rows for net "vgg16"."""
    _, path = keras_file
    out = tmp_path / "repro"
    status = cli.main(["reproduce", "--smoke", "--weights", str(path), "--out", str(out), "--no-progress"])
    assert status == 0
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    claims = payload["claims"]
    assert [(c["id"], c["net"]) for c in claims if c["id"] in ("C8", "C9", "C10")] == [
        (cid, net) for cid in ("C8", "C9", "C10") for net in ("fashion_cnn", "vgg16")]
    assert {r["net"] for r in payload["records"] if r["experiment"] in ("E5", "E6", "E7")} == {
        "fashion_cnn", "vgg16"}
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    vgg_rows = [line for line in text.splitlines() if re.match(r"\| C(8|9|10) \| [^|]+ \| vgg16 \| ", line)]
    assert len(vgg_rows) == 3
    assert f"`vgg16`: VGG-16 with weights {path} ({SIZE}×{SIZE}, {CLASSES} classes, Keras's file layout" in text
    assert "(vgg16)" in capsys.readouterr().out

    # The vgg16 C9 row is the mean of its E6 records, and one record is M5 of maps computed here.
    e6 = [r for r in payload["records"] if r["experiment"] == "E6" and r["net"] == "vgg16"
          and r["rule"] == "guided" and r["metric"] == "ssim"]
    c9 = next(c for c in claims if (c["id"], c["net"]) == ("C9", "vgg16"))
    assert c9["value"]["ssim(GBP)"] == pytest.approx(np.mean([r["value"] for r in e6]))
    first = e6[0]
    model = kv.zoo.vgg16(weights=str(path), input_shape=(SIZE, SIZE, 3), num_classes=CLASSES)
    image = kv.data.sample_images((first["image"],), size=SIZE)
    a, b = (int(c) for c in first["pair"].split("-"))
    viz = kv.Visualizer(model, rules=("guided",))
    map_a = viz(image, target=a, progress=False)["guided"][0]
    map_b = viz(image, target=b, progress=False)["guided"][0]
    assert metrics.class_pair_similarity(map_a, map_b)["ssim"] == pytest.approx(first["value"], abs=1e-3)

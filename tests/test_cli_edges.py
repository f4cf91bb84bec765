"""`kerasviz explain` at its edges (issue 11): non-square and two-output models,
arguments checked before any map is computed, 1-channel scaling, labels, activations."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import skimage.io

import kerasviz as kv
from kerasviz import cli, render

L = keras.layers


def _run(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _one_line_error(status, err, message):
    assert status == 2
    assert err == f"kerasviz: error: {message}\n", err


def _image_files(tmp_path, count=2, shape=(30, 40)):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = tmp_path / f"img{i}.png"
        skimage.io.imsave(path, rng.integers(0, 256, (*shape, 3), dtype=np.uint8), check_contrast=False)
        paths.append(str(path))
    return paths


def _save(model, tmp_path, name):
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return str(path)


def _wide_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((12, 20, 3)),
        L.Conv2D(3, 3, activation="relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(4),
    ])


@pytest.fixture
def no_maps(monkeypatch):
    """Fail the test if any map is computed."""
    def refuse(*args, **kwargs):
        raise AssertionError("maps were computed before the arguments were checked")

    monkeypatch.setattr(kv.Visualizer, "__call__", refuse)


def test_a_non_square_model_takes_its_own_size_or_size_h_w(tmp_path, capsys):
    model = _wide_model()
    path = _save(model, tmp_path, "wide")
    images = _image_files(tmp_path)
    for size in ([], ["--size", "12", "20"], ["--size", "12x20"]):
        out = tmp_path / ("out" + "".join(size))
        status, _, err = _run(["explain", *images, "--model", path, *size, "--out", str(out)], capsys)
        assert status == 0, err
        saved = np.load(out / "maps.npz")
        assert saved["images"].shape == (2, 12, 20, 3)
        expected = kv.visualize(model, saved["images"], progress=False)
        np.testing.assert_allclose(saved["guided"], expected["guided"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "size, message",
    [
        (["10"], "--size 10x10 does not fit the model, which takes (12, 20, 3) images. Received: --size 10"),
        (["12", "x"], "--size is one side (224), HxW (224x160) or H W (224 160), in pixels. Received: --size 12 x"),
        (["1", "2", "3"], "--size is one side (224), HxW (224x160) or H W (224 160), in pixels. "
                          "Received: --size 1 2 3"),
        (["0x5"], "--size is one side (224), HxW (224x160) or H W (224 160), in pixels. Received: --size 0x5"),
    ],
)
def test_a_bad_size_is_one_line_before_any_map(tmp_path, capsys, no_maps, size, message):
    path = _save(_wide_model(), tmp_path, "wide")
    status, _, err = _run(["explain", "--model", path, "--size", *size, "--out", str(tmp_path / "o")], capsys)
    _one_line_error(status, err, message)


def _two_heads():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    h = L.Flatten()(L.Conv2D(3, 3, activation="relu")(inputs))
    return keras.Model(inputs, [L.Dense(4, name="kind")(h), L.Dense(2, name="colour")(h)])


def test_output_picks_the_head_of_a_two_output_model(tmp_path, capsys):
    model = _two_heads()
    path = _save(model, tmp_path, "two")
    images = _image_files(tmp_path, shape=(8, 8))
    status, _, err = _run(["explain", *images, "--model", path, "--out", str(tmp_path / "a")], capsys)
    assert status == 2 and "say which to explain with --output" in err and err.count("\n") == 1, err
    for output in ("1", "colour"):
        out = tmp_path / output
        status, _, err = _run(["explain", *images, "--model", path, "--output", output, "--out", str(out)], capsys)
        assert status == 0, err
        saved = np.load(out / "maps.npz")
        expected = kv.visualize(model, saved["images"], output=1, progress=False)
        np.testing.assert_allclose(saved["saliency"], expected["saliency"], rtol=1e-5, atol=1e-7)


def test_arguments_are_checked_before_any_map_is_computed(tmp_path, capsys, no_maps):
    path = _save(_wide_model(), tmp_path, "wide")
    status, _, err = _run(["explain", "--model", path, "--normalize", "bogus", "--out", str(tmp_path / "o")], capsys)
    _one_line_error(status, err, "--normalize is one of minmax, abs, diverging, percentile. "
                                 "Received: --normalize bogus")
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    status, _, err = _run(["explain", "--model", path, "--out", str(a_file)], capsys)
    _one_line_error(status, err, f"--out is the folder the maps go to, but {str(a_file)!r} is a file. "
                                 f"Pass another path. Received: --out {a_file}")
    status, _, err = _run(["explain", "--model", path, "--weights", "imagenet", "--out", str(tmp_path / "o")],
                          capsys)
    _one_line_error(status, err, "--weights is for the named models (vgg16, fashion_cnn, fashion_vgg, vgg19, resnet50, "
                                 "resnet50v2, densenet121, inceptionv3, xception, mobilenet, mobilenetv2); a .keras "
                                 f"file holds its own weights. Received: --weights imagenet with --model {path}")
    assert not (tmp_path / "o").exists()


def test_offline_imagenet_names_the_flag_value_random(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    status, _, err = _run(["explain", "--weights", "imagenet", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and err.count("\n") == 1, err
    assert "pass --weights random to use random weights" in err
    assert "weights=None" not in err
    assert err.endswith("Received: --weights imagenet\n")


def test_one_channel_scaling_is_said_and_can_be_set(tmp_path, capsys):
    images = _image_files(tmp_path, count=1, shape=(28, 28))
    status, out, err = _run(["explain", *images, "--model", "fashion_cnn", "--out", str(tmp_path / "a")], capsys)
    assert status == 0, err
    assert ("1-channel model: the images are turned gray and scaled by 1/255 to [0, 1] "
            "(--scale sets the factor)") in out
    scaled = np.load(tmp_path / "a" / "maps.npz")["images"]
    status, out, err = _run(["explain", *images, "--model", "fashion_cnn", "--scale", "1",
                             "--out", str(tmp_path / "b")], capsys)
    assert status == 0, err
    raw = np.load(tmp_path / "b" / "maps.npz")["images"]
    np.testing.assert_allclose(raw / 255.0, scaled, rtol=1e-6)
    assert "scaled by 1 " in out


def test_row_labels_show_the_target_when_one_is_given(tmp_path, capsys, monkeypatch):
    model = _wide_model()
    path = _save(model, tmp_path, "wide")
    images = _image_files(tmp_path)
    seen = {}
    real = render.plot_maps

    def spy(*args, **kwargs):
        seen["labels"] = kwargs["row_labels"]
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "plot_maps", spy)
    status, _, err = _run(["explain", *images, "--model", path, "--target", "2,3", "--out", str(tmp_path / "t")],
                          capsys)
    assert status == 0, err
    predicted = np.load(tmp_path / "t" / "maps.npz")["predicted"]
    assert seen["labels"] == [f"img0\ntarget 2 (predicted {predicted[0]})", f"img1\ntarget 3 (predicted {predicted[1]})"]
    status, _, err = _run(["explain", *images, "--model", path, "--out", str(tmp_path / "m")], capsys)
    assert seen["labels"] == [f"img{i}\nclass {c}" for i, c in enumerate(np.load(tmp_path / "m" / "maps.npz")["predicted"])]
    status, _, err = _run(["explain", *images, "--model", path, "--target", "random", "--out", str(tmp_path / "r")],
                          capsys)
    predicted = np.load(tmp_path / "r" / "maps.npz")["predicted"]
    drawn = kv.targets.random_other_classes(predicted, 4, 1, 0)[:, 0]
    assert seen["labels"] == [f"img{i}\ntarget {d} (predicted {p})" for i, (d, p) in enumerate(zip(drawn, predicted))]


def test_no_relu_model_says_so_and_activations_all_applies_the_rules(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(3, 3, activation="swish"), L.Flatten(), L.Dense(3)])
    path = _save(model, tmp_path, "swish")
    images = _image_files(tmp_path, shape=(8, 8))
    with pytest.warns(UserWarning, match="'deconvnet' and 'guided' maps are identical to saliency"):
        status, out, err = _run(["explain", *images, "--model", path, "--out", str(tmp_path / "a")], capsys)
    assert status == 0, err
    assert "identical to saliency: no ReLU in this model" in out
    status, out, err = _run(["explain", *images, "--model", path, "--activations", "all",
                             "--out", str(tmp_path / "b")], capsys)
    assert status == 0, err
    assert "1 other activations follow the rule (activations='all')" in out
    saved = np.load(tmp_path / "b" / "maps.npz")
    expected = kv.visualize(model, saved["images"], activations="all", progress=False)
    np.testing.assert_allclose(saved["guided"], expected["guided"], rtol=1e-5, atol=1e-7)
    assert not np.allclose(saved["guided"], saved["saliency"])

"""Tests for the `kerasviz explain` command, run in-process through `cli.main`."""

import json
import runpy
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import skimage.io

import kerasviz as kv
from kerasviz import cli

ROOT = Path(__file__).resolve().parents[1]


def _run(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_explain_with_no_arguments_writes_the_paper_grid(tmp_path, capsys):
    """The README's first command: sample photos through a random VGG-16."""
    status, out, err = _run(["explain", "--out", str(tmp_path)], capsys)
    assert status == 0, err
    saved = np.load(tmp_path / "maps.npz")
    assert saved["images"].shape == (4, 224, 224, 3)
    for rule in kv.RULES:
        assert saved[rule].shape == (4, 224, 224, 3)
        assert np.abs(saved[rule]).max() > 0
    # The paper's observation, computed: GBP of a random VGG recovers the image, saliency does not.
    centered = saved["images"] - saved["images"].mean()
    r_gbp = np.corrcoef(saved["guided"].ravel(), centered.ravel())[0, 1]
    r_sal = np.corrcoef(saved["saliency"].ravel(), centered.ravel())[0, 1]
    assert r_gbp > r_sal + 0.3
    summary = json.loads((tmp_path / "explain.json").read_text())
    assert summary["images"] == list(kv.data.SAMPLE_IMAGES)
    assert (tmp_path / "maps.png").stat().st_size > 10_000
    assert "15 ReLUs replaced" in out


def _tiny_model_file(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    path = tmp_path / "tiny.keras"
    model.save(path)
    return model, path


def _image_files(tmp_path, count=2, size=20):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = tmp_path / f"img{i}.png"
        skimage.io.imsave(path, rng.integers(0, 256, (size, size, 3), dtype=np.uint8), check_contrast=False)
        paths.append(str(path))
    return paths


def test_explain_a_saved_model_on_image_files_matches_the_library(tmp_path, capsys):
    model, path = _tiny_model_file(tmp_path)
    images = _image_files(tmp_path)
    out = tmp_path / "out"
    status, _, err = _run(
        ["explain", *images, "--model", str(path), "--rules", "gbp", "saliency",
         "--target", "2,4", "--out", str(out)], capsys)
    assert status == 0, err
    saved = np.load(out / "maps.npz")
    assert sorted(saved.files) == ["guided", "images", "predicted", "saliency"]
    expected = kv.visualize(model, saved["images"], rules=("guided", "saliency"), target=[2, 4])
    for rule in ("guided", "saliency"):
        np.testing.assert_allclose(saved[rule], expected[rule], rtol=1e-5, atol=1e-7)
    assert saved["images"].shape == (2, 16, 16, 3)  # resized to the model's input


def test_explain_trained_fashion_net(tmp_path, capsys):
    images = _image_files(tmp_path, count=1, size=40)
    status, _, err = _run(["explain", *images, "--model", "fashion_cnn", "--weights", "trained",
                           "--out", str(tmp_path / "o")], capsys)
    assert status == 0, err
    assert np.load(tmp_path / "o" / "maps.npz")["guided"].shape == (1, 28, 28, 1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "nonexistent.keras"], r"--model is a model name .* Received: --model nonexistent.keras"),
        (["--model", "fashion_cnn", "--rules", "gpb"], r"Unknown rule 'gpb'\..*Received: --rules gpb"),
        (["--model", "fashion_cnn", "--target", "12"], r"Class index out of range.*Received: target=12$"),
    ],
)
def test_explain_reports_bad_input_without_a_traceback(tmp_path, capsys, argv, message):
    status, _, err = _run(["explain", *argv, "--out", str(tmp_path)], capsys)
    assert status == 2
    assert "Traceback" not in err
    assert err.startswith("kerasviz: error: ")
    import re

    assert re.search(message, err, re.S), err


def test_explain_reports_an_unreadable_image(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    status, _, err = _run(["explain", str(bad), "--model", "fashion_cnn", "--out", str(tmp_path)], capsys)
    assert status == 2 and str(bad) in err


def test_explain_reports_an_unreadable_model_file(tmp_path, capsys):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    status, _, err = _run(["explain", "--model", str(bad), "--out", str(tmp_path)], capsys)
    assert status == 2 and "Cannot load the model file" in err


def test_unsafe_lambda_model_needs_the_explicit_flag(tmp_path, capsys):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Conv2D(2, 3, activation="relu")(x)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    images = _image_files(tmp_path, count=1, size=8)
    status, _, err = _run(["explain", *images, "--model", str(path), "--out", str(tmp_path)], capsys)
    assert status == 2 and "--unsafe" in err
    status, _, err = _run(["explain", *images, "--model", str(path), "--unsafe", "--out", str(tmp_path)], capsys)
    assert status == 0, err


def test_bad_target_text_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explain", "--target", "cat"])
    assert exit_info.value.code == 2
    assert "Received: --target cat" in capsys.readouterr().err


def test_python_dash_m_kerasviz_runs_the_command(monkeypatch, capsys):
    """`python -m kerasviz explain --help`, run in this process (a fresh process: test_cli_console.py)."""
    monkeypatch.setattr(sys, "argv", ["kerasviz", "explain", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("kerasviz", run_name="__main__")
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: kerasviz explain [-h]") and "--weights" in printed


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```bash") + 1: readme.index("```bash") + 3]
    assert block[0] == "pip install . && kerasviz explain"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert block[1] in ci


def test_explain_with_a_method_matches_the_library(tmp_path, capsys):
    model, path = _tiny_model_file(tmp_path)
    images = _image_files(tmp_path)
    conv = model.layers[0].name
    runs = {
        "smoothgrad": (["--method", "smoothgrad", "--samples", "3", "--noise", "0.1"],
                       kv.methods.SmoothGrad(samples=3, noise=0.1, seed=0)),
        "gradcampp": (["--method", "gradcampp", "--layer", conv], kv.methods.GradCAM(conv, plus_plus=True)),
    }
    for name, (options, method) in runs.items():
        out = tmp_path / name
        status, _, err = _run(["explain", *images, "--model", str(path), "--rules", "gbp", "saliency",
                               "--target", "1", *options, "--out", str(out)], capsys)
        assert status == 0, err
        saved = np.load(out / "maps.npz")
        expected = kv.visualize(model, saved["images"], rules=("guided", "saliency"), target=1, method=method)
        for rule in ("guided", "saliency"):
            np.testing.assert_allclose(saved[rule], expected[rule], rtol=1e-5, atol=1e-7)
        assert json.loads((out / "explain.json").read_text())["method"] == repr(method)
        assert (out / "maps.png").stat().st_size > 5_000
    assert np.load(tmp_path / "gradcampp" / "maps.npz")["guided"].shape == (2, 16, 16)


def test_method_options_belong_to_their_method(tmp_path, capsys):
    status, _, err = _run(["explain", "--method", "smoothgrad", "--steps", "8", "--out", str(tmp_path)], capsys)
    assert status == 2
    assert err.strip() == (
        "kerasviz: error: --steps is an option of --method ig. Received: --steps 8 with --method smoothgrad"
    )


def test_method_names_are_the_librarys():
    assert cli.METHOD_NAMES == tuple(kv.methods.NAMES)

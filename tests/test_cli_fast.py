"""`kerasviz explain` answers argument errors and refused jobs before TensorFlow loads.

The fast paths run in one fresh process started as the console script
(`sys.argv[0] == "kerasviz"`), which then reports whether `tensorflow` is in
`sys.modules`: the reference for "before TensorFlow loads" (timings on a
shared machine are not). The TF-free name lists are compared with the
registries they copy; named models built at `--size` are compared with the
zoo's model built at that size, map for map.
"""

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import kerasviz as kv
from kerasviz import cli, names

ROOT = Path(__file__).resolve().parents[1]

FAST = """
import contextlib, io, json, sys
sys.argv[0] = "kerasviz"
from kerasviz import cli
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit:
            code = exit.code
    results.append([code, err.getvalue()])
print(json.dumps({"results": results, "tensorflow": "tensorflow" in sys.modules}))
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_the_tf_free_name_lists_equal_the_registries():
    from kerasviz import methods, render, rules

    assert names.RULE_NAMES == kv.RULES == rules.known_rules()[:3]
    assert names.RULE_ALIASES == rules._ALIASES
    assert names.METHOD_NAMES == tuple(methods.NAMES) == cli.METHOD_NAMES
    assert names.NORMALIZATION_NAMES == tuple(render.NORMALIZATIONS)


def _fake_store(path: Path, settings: dict) -> None:
    """A store's folder as the CLI reads it before TensorFlow: `zarr.json` with kerasviz's attributes."""
    from kerasviz.datasets.store import FORMAT

    path.mkdir(parents=True)
    attributes = {"kerasviz": {"format": FORMAT, "settings": settings}}
    (path / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}))


def test_errors_and_refused_jobs_come_back_before_tensorflow_loads(tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    photos = tmp_path / "photos"
    photos.mkdir()
    locked, other = tmp_path / "locked.zarr", tmp_path / "other.zarr"
    _fake_store(locked, {})
    (locked / "kerasviz.lock").write_text(json.dumps(
        {"pid": os.getpid(), "host": os.uname().nodename, "started": "2026-01-01 00:00:00", "token": "x"}))
    _fake_store(other, {"rules": ["guided"], "dtype": "float16", "batch_size": 32, "seed": 0,
                        "activations": "relu"})
    cases = [
        (["explain", str(image), "--rules", "gpb"],
         "Unknown rule 'gpb'. Known rules: 'saliency', 'deconvnet', 'guided' (aliases 'gradient', 'vanilla', "
         "'deconv', 'gbp', 'guided_backprop'). Received: --rules gpb"),
        (["explain", "--workers", "2"],
         "--workers applies to --engine ray only (Ray actors). Received: --workers 2 with --engine local"),
        (["explain", "--ray-address", "auto"],
         "--ray-address applies to --engine ray only (Ray actors). Received: --ray-address auto with --engine local"),
        (["explain", "--restart"],
         "--restart applies to dataset jobs only (a folder or glob of images, or --out ending in .zarr); this run "
         "writes a PNG grid. Received: --restart"),
        (["explain", "--model", "fashion_vgg", "--size", "64"],
         "--model fashion_vgg takes 32x32 images only (its dense layers are sized for them); leave out --size or "
         "pass --size 32. Received: --size 64 with --model fashion_vgg"),
        (["explain", "--model", "vgg16", "--weights", "imagenet", "--size", "64"],
         "--model vgg16 with --weights imagenet takes 224x224 images (the weights' dense layers are sized for "
         "them); random weights build at any --size from 32. Received: --size 64 with --model vgg16"),
        (["explain", "--model", "no_such_model"],
         "--model is a model name (vgg16, fashion_cnn, fashion_vgg, vgg19, resnet50, resnet50v2, densenet121, "
         "inceptionv3, xception, mobilenet, mobilenetv2) or an existing .keras file. Received: --model no_such_model"),
        (["explain", str(tmp_path / "missing.png")],
         f"No image file {str(tmp_path / 'missing.png')!r}: pass existing image files, a folder, or a quoted glob "
         f"pattern. Received: {tmp_path / 'missing.png'}"),
        (["explain", "--normalize", "loud"],
         "--normalize is one of minmax, abs, diverging, percentile. Received: --normalize loud"),
        (["explain", str(photos), "--out", str(locked)],
         f"Another job is writing the store {str(locked)!r} (process {os.getpid()} on {os.uname().nodename}, "
         f"started 2026-01-01 00:00:00); two jobs on one store would write the same chunks. Wait for it to "
         f"finish, or write to another path. Received: store={str(locked)!r}"),
        (["explain", str(photos), "--out", str(other), "--rules", "gbp", "--dtype", "float32", "--batch-size", "8"],
         f"The store {str(other)!r} holds maps made with other settings (dtype was 'float16', now 'float32'; "
         "batch_size was 32, now 8). Its maps and the new ones would not belong together. Pass restart=True "
         "(command line: --restart) to delete it and start over, or write to another path. "
         f"Received: store={str(other)!r}"),
    ]
    result = subprocess.run([sys.executable, "-c", FAST, json.dumps([argv for argv, _ in cases])],
                            capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for (argv, message), (code, err) in zip(cases, report["results"]):
        assert (code, err) == (2, f"kerasviz: error: {message}\n"), argv
    assert report["tensorflow"] is False


def test_named_models_build_at_size_and_fashion_vgg_is_a_cli_model(tmp_path, capsys):
    before = warnings.formatwarning
    out = tmp_path / "vgg"
    assert cli.main(["explain", "--size", "48", "--rules", "saliency", "--out", str(out)]) == 0
    saved = np.load(out / "maps.npz")
    assert saved["saliency"].shape == (4, 48, 48, 3)
    reference = kv.Visualizer(kv.zoo.vgg16(input_shape=(48, 48, 3), seed=0), "saliency")(saved["images"],
                                                                                         progress=False)
    np.testing.assert_allclose(saved["saliency"], reference["saliency"], rtol=1e-4,
                               atol=1e-6 * np.abs(reference["saliency"]).max())
    out = tmp_path / "fashion"
    assert cli.main(["explain", "--model", "fashion_vgg", "--rules", "gbp", "--out", str(out)]) == 0
    assert "fashion_vgg takes images in [0, 1]: the pixels are scaled by 1/255" in capsys.readouterr().out
    saved = np.load(out / "maps.npz")
    assert saved["images"].shape == (4, 32, 32, 3) and saved["images"].max() <= 1.0
    reference = kv.Visualizer(kv.zoo.fashion_vgg(seed=0), "guided")(saved["images"], progress=False)
    np.testing.assert_allclose(saved["guided"], reference["guided"], rtol=1e-4,
                               atol=1e-6 * np.abs(reference["guided"]).max())
    assert warnings.formatwarning is before  # the command's one-line format is put back


def test_dataset_job_warnings_are_one_line_each(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    for weight in model.weights:
        weight.assign(weight.numpy() * 1e22)  # maps overflow float32: the store warns and marks the row
    model.save(tmp_path / "huge.keras")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(photos / "a.png")
    result = subprocess.run([sys.executable, "-m", "kerasviz", "explain", str(photos), "--out", "m.zarr",
                             "--model", str(tmp_path / "huge.keras"), "--rules", "saliency"],
                            capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Warning" in line and not line.startswith("WARNING")]
    assert lines == [
        f"kerasviz: RuntimeWarning: Input {str(photos / 'a.png')!r}: the 'saliency' map holds 192 Inf or NaN "
        "values (the model's scores overflow float32?). Its row's status says so (and so will every other such "
        "row's): store.table.query(\"status != 'ok'\")."
    ], result.stderr
    assert "warnings.warn(" not in result.stderr and ".py:" not in result.stderr.replace("port.cc:", "")


def test_ray_log_lines_are_quiet_inside_the_command_only():
    ray_logger = logging.getLogger("ray")
    before = ray_logger.level
    with cli._quiet_ray_logs():
        assert not ray_logger.isEnabledFor(logging.CRITICAL)
        assert not logging.getLogger("ray.data.x").isEnabledFor(logging.ERROR)
    assert ray_logger.level == before


@pytest.mark.parametrize("argv", [["explain", "--dtype", "float32"], ["explain", "--batch-size", "8"]])
def test_dataset_flags_on_a_png_run_say_so(argv, capsys):
    assert cli.main(argv) == 2
    assert "applies to dataset jobs only" in capsys.readouterr().err

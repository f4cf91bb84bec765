"""`kerasviz explain --rules` with relevance rules (LRP composites, DeepLIFT), run in-process.

References: `kv.visualize` on the same model and images (tested against
NumPy in tests/test_relevance.py) and `kv.explain_dataset`'s store.
"""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import kerasviz as kv
from kerasviz import cli, cli_checks, names, relevance

RULES = ("lrp-epsilon-plus-flat", "deeplift")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small ReLU CNN saved to `.keras`, and three 16×16 PNG files."""
    folder = tmp_path_factory.mktemp("relevance_cli")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    model.save(folder / "tiny.keras")
    photos = folder / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(photos / f"img{i}.png")
    return model, folder / "tiny.keras", sorted(str(p) for p in photos.glob("*.png")), photos


def test_the_tf_free_relevance_names_are_the_named_rules():
    assert names.RELEVANCE_RULE_NAMES == tuple(relevance.NAMED)
    assert cli_checks.rule_names(["gbp", "LRP-Epsilon,deeplift", "guided"]) == ("guided", "lrp-epsilon", "deeplift")


def test_explain_writes_the_relevance_maps_of_the_library(tiny, tmp_path, capsys):
    model, path, images, _ = tiny
    out = tmp_path / "out"
    status = cli.main(["explain", *images, "--model", str(path), "--rules", "lrp-epsilon-plus-flat,deeplift",
                       "gbp", "--target", "1", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    saved = np.load(out / "maps.npz")
    assert sorted(saved.files) == sorted(["images", "predicted", "guided", *RULES])
    expected = kv.visualize(model, saved["images"], rules=(*RULES, "guided"), target=1)
    for rule in (*RULES, "guided"):
        np.testing.assert_allclose(saved[rule], expected[rule], rtol=1e-5, atol=1e-6)
    assert json.loads((out / "explain.json").read_text())["rules"] == [*RULES, "guided"]
    assert (out / "maps.png").stat().st_size > 5_000


def test_a_dataset_job_from_the_command_stores_the_relevance_maps_and_resumes(tiny, tmp_path, capsys):
    model, path, _, photos = tiny
    store_path = tmp_path / "maps.zarr"
    argv = ["explain", str(photos), "--model", str(path), "--rules", ",".join(RULES), "--out", str(store_path),
            "--batch-size", "2", "--dtype", "float32"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    store = kv.open_maps(str(store_path))
    assert store.rules == RULES
    images = np.stack([np.asarray(Image.open(p), np.float32) for p in sorted(photos.glob("*.png"))])
    expected = kv.visualize(model, images, rules=RULES)
    for rule in RULES:
        np.testing.assert_allclose(store[rule][:], expected[rule], rtol=1e-5, atol=1e-6)
    assert cli.main(argv) == 0  # the same command again: the complete store is accepted
    assert cli.main([*argv[:5], "lrp-epsilon", *argv[6:]]) == 2  # other rules: refused before any work
    assert 'rules was ["lrp-epsilon-plus-flat", "deeplift"], now ["lrp-epsilon"]' in capsys.readouterr().err


def test_an_unknown_rule_lists_the_relevance_rules_too(capsys):
    assert cli.main(["explain", "--rules", "lrp-eps"]) == 2
    err = capsys.readouterr().err
    assert "Unknown rule 'lrp-eps'." in err and "relevance rules 'lrp-epsilon', " in err
    assert err.strip().endswith("Received: --rules lrp-eps")

"""`explain_dataset(..., precision=...)`: maps in reduced precision, part of the store's settings.

References: the `Visualizer`'s maps in the same precision (tested against
Keras's own mixed-precision gradient in tests/test_precision.py) and the
float32 job's store.
"""

import numpy as np
import pytest
from conftest import RULES

import kerasviz as kv
from kerasviz import cli


pytestmark = pytest.mark.usefixtures("fast_probe")  # tests/conftest.py


def _explain(model, source, path, **kwargs):
    kwargs = {"rules": RULES, "batch_size": 4, "progress": False, "dtype": "float32", **kwargs}
    return kv.explain_dataset(model, source, str(path), **kwargs)


def test_a_bfloat16_job_stores_the_bfloat16_maps_and_refuses_other_precisions(model, images, tmp_path):
    path = tmp_path / "maps.zarr"
    store = _explain(model, images, path, precision="bfloat16")
    assert store.settings["precision"] == "bfloat16"
    reference = kv.Visualizer(model, RULES, batch_size=4, precision="bfloat16")(images, progress=False)
    single = kv.Visualizer(model, RULES, batch_size=4)(images, progress=False)
    for rule in RULES:
        assert store[rule].dtype == np.float32
        np.testing.assert_allclose(store[rule][:], reference[rule], rtol=1e-6, atol=1e-6)
        assert not np.array_equal(store[rule][:], single[rule])  # computed in bfloat16 indeed
    logits = model(images).numpy()
    assert store.table["predicted"].tolist() == logits.argmax(-1).tolist()  # no class changed here
    np.testing.assert_allclose(store.table["score"], logits.max(-1), rtol=2.0**-7)
    with pytest.raises(kv.errors.StoreSettingsError,
                       match=r"other settings \(precision was 'bfloat16', now 'float32'\)"):
        _explain(model, images, path)
    with pytest.raises(kv.errors.StoreSettingsError,
                       match=r"other settings \(precision was 'bfloat16', now 'float16'\)"):
        _explain(model, images, path, precision="float16")
    assert _explain(model, images, path, precision="bfloat16").complete  # same settings: resumes


def test_a_float32_store_is_refused_to_a_bfloat16_job(model, images, tmp_path):
    path = tmp_path / "f32.zarr"
    assert _explain(model, images, path).settings["precision"] == "float32"
    with pytest.raises(kv.errors.StoreSettingsError,
                       match=r"other settings \(precision was 'float32', now 'bfloat16'\)"):
        _explain(model, images, path, precision="bfloat16")


def test_a_store_made_before_the_precision_setting_resumes_as_float32(model, images, tmp_path):
    import json

    import zarr

    path = tmp_path / "old.zarr"
    _explain(model, images[:4], path)
    group = zarr.open_group(str(path), mode="r+")
    info = dict(group.attrs["kerasviz"])
    info["settings"] = {k: v for k, v in info["settings"].items() if k != "precision"}
    group.attrs["kerasviz"] = json.loads(json.dumps(info))
    assert _explain(model, images[:4], path).complete  # float32 job: the same settings
    with pytest.raises(kv.errors.StoreSettingsError, match=r"precision was 'float32', now 'bfloat16'"):
        _explain(model, images[:4], path, precision="bfloat16")


def test_bad_precision_is_refused_before_any_work(model, images, tmp_path):
    with pytest.raises(kv.errors.InvalidArgumentError,
                       match=r"Choose one of 'float32', 'bfloat16', 'float16'. Received: precision='half'"):
        _explain(model, images, tmp_path / "bad.zarr", precision="half")
    assert not (tmp_path / "bad.zarr").exists()


def test_the_command_passes_precision_to_the_job(model, photo_dir, tmp_path):
    path = tmp_path / "cli.zarr"
    model_path = tmp_path / "tiny.keras"
    model.save(model_path)
    assert cli.main(["explain", str(photo_dir), "--out", str(path), "--model", str(model_path),
                     "--rules", *RULES, "--precision", "bfloat16", "--batch-size", "4"]) == 0
    store = kv.open_maps(str(path))
    assert store.settings["precision"] == "bfloat16"
    reference = kv.Visualizer(model, RULES, batch_size=4, precision="bfloat16")(
        np.stack([np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(p), np.float32)
                  for p in sorted(photo_dir.glob("*.png"))]), progress=False)
    np.testing.assert_allclose(store["guided"][:].astype(np.float32), reference["guided"],
                               rtol=2.0**-10, atol=1e-7)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["explain", "--precision", "bf16"])

"""`kv.explain_dataset` with the local engine: contents, sources, bad inputs, settings, locks, failed writes.

References: the `Visualizer`'s maps of the same images as one array (itself
tested against plain `tf.GradientTape` gradients) and the model's own
logits for the table. Stored maps are float16 divided by a float32 scale per
input (the map's largest |value|), so they are compared within float16
rounding of that largest value (2**-11); float32 stores exactly.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import zarr
from conftest import RULES, bad_files, fail_chunk_writes

import kerasviz as kv



def _assert_f16(got, want):
    """Each map within float16 rounding (2**-11) of its own largest |value|."""
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    single = got.ndim == 3
    got, want = (got[None], want[None]) if single else (got, want)
    error = np.abs(got - want).reshape(len(want), -1).max(axis=1)
    peak = np.abs(want).reshape(len(want), -1).max(axis=1)
    assert (error <= 2.0**-11 * peak).all(), (error / peak).max()


def _reference(model, images, target="max", labels=None):
    return kv.Visualizer(model, RULES, batch_size=4)(images, target=target, labels=labels, progress=False)


def _explain(model, source, path, **kwargs):
    kwargs = {"rules": RULES, "batch_size": 4, "progress": False, **kwargs}
    return kv.explain_dataset(model, source, str(path), **kwargs)


def test_store_holds_the_visualizers_maps_and_the_models_predictions(model, images, tmp_path):
    store = _explain(model, images, tmp_path / "maps.zarr")
    reference = _reference(model, images)
    assert store.rules == RULES and len(store) == 10 and store.complete
    for rule in RULES:
        assert store[rule].dtype == np.float32 and store[rule].shape == images.shape
        assert store.group[rule].dtype == np.float16
        _assert_f16(store[rule][:], reference[rule])
        _assert_f16(store[rule][7], reference[rule][7])
        _assert_f16(store[rule][2:6], reference[rule][2:6])
    logits = model(images).numpy()
    table = store.table
    assert list(table.columns) == ["id", "status", "label", "predicted", "target", "score"]
    assert table["id"].tolist() == [str(i) for i in range(10)]
    assert table["status"].tolist() == ["ok"] * 10
    assert table["label"].tolist() == [-1] * 10
    np.testing.assert_array_equal(table["predicted"], logits.argmax(axis=1))
    np.testing.assert_array_equal(table["target"], logits.argmax(axis=1))
    np.testing.assert_allclose(table["score"], logits.max(axis=1), rtol=1e-5)


def test_float32_store_and_plain_zarr_reading(model, images, tmp_path):
    path = tmp_path / "maps32.zarr"
    _explain(model, images, path, dtype="float32", target=2)
    reference = _reference(model, images, target=2)
    group = zarr.open_group(str(path), mode="r")  # no kerasviz needed to read it
    np.testing.assert_array_equal(group["guided"][:], reference["guided"])
    assert group["guided"].chunks == (4, 32, 32, 3)
    assert group["guided"].metadata.dimension_names == ("input", "height", "width", "channel")
    assert group["target"][:].tolist() == [2] * 10
    assert group.attrs["kerasviz"]["settings"]["target"] == "Classes(2)"


def test_a_folder_of_files_gives_the_maps_of_the_decoded_images(model, images, photo_dir, tmp_path):
    store = _explain(model, photo_dir, tmp_path / "files.zarr")
    reference = _reference(model, images)
    assert store.table["id"].tolist() == [str(photo_dir / f"img{i:02d}.png") for i in range(10)]
    _assert_f16(store["guided"][:], reference["guided"])
    glob_store = _explain(model, str(photo_dir / "img0[0-3].png"), tmp_path / "glob.zarr")
    assert len(glob_store) == 4
    np.testing.assert_array_equal(glob_store["saliency"][:], store["saliency"][:4])


def test_images_are_center_cropped_to_the_aspect_ratio_before_resizing(model, tmp_path):
    wide = np.zeros((32, 48, 3), np.uint8)
    wide[:, 8:40] = 100  # the centered 32x32 window; bands of 0 on both sides
    from PIL import Image

    Image.fromarray(wide).save(tmp_path / "wide.png")
    source = kv.datasets.sources.resolve_source(str(tmp_path / "wide.png"), size=(32, 32), channels=3)
    chunk = next(iter(source.chunks([(0, 0, 1)])))
    np.testing.assert_array_equal(chunk.images[0], np.full((32, 32, 3), 100.0, np.float32))


def test_skip_records_each_bad_file_as_a_row_and_goes_on(model, images, photo_dir, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i:02d}.png").write_bytes((photo_dir / f"img{i:02d}.png").read_bytes())
    corrupt, truncated, text = bad_files(folder)
    store = _explain(model, folder, tmp_path / "skip.zarr", on_error="skip")
    table = store.table.set_index("id")
    assert table["status"].to_dict() == {
        str(corrupt): f"error: UnidentifiedImageError: cannot identify image file {str(corrupt)!r}",
        str(folder / "img00.png"): "ok",
        str(folder / "img01.png"): "ok",
        str(folder / "img02.png"): "ok",
        str(text): f"error: UnidentifiedImageError: cannot identify image file {str(text)!r}",
        str(truncated): "error: OSError: image file is truncated",
    }
    positions = {name: i for i, name in enumerate(store.table["id"])}
    reference = _reference(model, images[:3])
    for i in range(3):
        row = positions[str(folder / f"img{i:02d}.png")]
        _assert_f16(store["guided"][row], reference["guided"][i])
    for bad in (corrupt, truncated, text):
        row = positions[str(bad)]
        assert np.isnan(store["guided"][row]).all()
        assert (store.table.loc[row, ["predicted", "target"]] == -1).all()


def test_raise_names_the_first_bad_file_and_keeps_the_chunks_before(model, photo_dir, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for i in range(5):
        (folder / f"img{i:02d}.png").write_bytes((photo_dir / f"img{i:02d}.png").read_bytes())
    (folder / "zz.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    path = tmp_path / "raise.zarr"
    with pytest.raises(kv.errors.FileReadError) as info:
        _explain(model, folder, path)
    name = str(folder / "zz.jpg")
    assert str(info.value) == (
        f"Cannot read image {name!r} (input 5): UnidentifiedImageError: cannot identify image file "
        f"{name!r}. Chunks before it are saved: fix the input and rerun the same call to resume, or "
        "pass on_error='skip' (command line: --on-error skip) to record it as an error row and go on. "
        f"Received: path={name!r}"
    )
    assert kv.open_maps(path).done.tolist() == [True, False]
    assert not (path / "kerasviz.lock").exists()
    # the same job with on_error="skip" resumes: on_error is not a setting of the maps
    store = _explain(model, folder, path, on_error="skip")
    assert store.table["status"].tolist()[4:] == [
        "ok", f"error: UnidentifiedImageError: cannot identify image file {name!r}"]


def test_nan_images_of_an_array_are_rows_or_errors(model, images, tmp_path):
    broken = images[:5].copy()
    broken[3, 0, 0, 0] = np.nan
    with pytest.raises(kv.errors.InvalidInputError) as info:
        _explain(model, broken, tmp_path / "nan.zarr")
    assert str(info.value).startswith("Input '3' (position 3): the image holds NaN or Inf values. ")
    store = _explain(model, broken, tmp_path / "nan.zarr", on_error="skip")
    assert store.table["status"].tolist() == ["ok"] * 3 + ["error: the image holds NaN or Inf values", "ok"]
    reference = _reference(model, images[[0, 1, 2, 4]])
    _assert_f16(store["guided"][[0, 1, 2, 4]], reference["guided"])


def test_memmap_with_labels_and_ids_and_the_loss_target(model, images, tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, images)
    mapped = np.load(path, mmap_mode="r")
    labels = np.arange(10) % 5
    ids = [f"x{i}" for i in range(10)]
    store = _explain(model, (mapped, labels, ids), tmp_path / "memmap.zarr", target="loss")
    reference = _reference(model, images, target="loss", labels=labels)
    _assert_f16(store["saliency"][:], reference["saliency"])
    table = store.table
    assert table["id"].tolist() == ids
    assert table["label"].tolist() == labels.tolist() == table["target"].tolist()
    logits = model(images).numpy()
    onehot = np.eye(5)[labels]
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(table["score"], ((softmax - onehot) ** 2).sum(1), rtol=1e-4, atol=1e-6)


def test_a_tf_data_source_with_labels_and_ids(model, images, tmp_path):
    labels = np.arange(10) % 5
    ids = [f"img-{i}" for i in range(10)]
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, ids)).batch(3)
    store = _explain(model, dataset, tmp_path / "tfdata.zarr")
    reference = _reference(model, images)
    _assert_f16(store["guided"][:], reference["guided"])
    assert store.table["id"].tolist() == ids
    assert store.table["label"].tolist() == labels.tolist()


def test_per_input_classes_and_random_targets_do_not_depend_on_chunking(model, images, tmp_path):
    classes = np.arange(10) % 5
    store = _explain(model, images, tmp_path / "classes.zarr", target=classes)
    _assert_f16(store["guided"][:], _reference(model, images, target=classes)["guided"])
    assert store.table["target"].tolist() == classes.tolist()
    store = _explain(model, images, tmp_path / "random.zarr", target="random", seed=5)
    viz = kv.Visualizer(model, RULES)
    for k, start in enumerate(range(0, 10, 4)):  # documented: chunk k draws with seed + k
        chunk = images[start:start + 4]
        expected = viz(chunk, target=kv.targets.RandomClass(5 + k), progress=False)["guided"]
        _assert_f16(store["guided"][start:start + 4], expected)
        predicted = model(chunk).numpy().argmax(1)
        drawn = kv.targets.random_other_classes(predicted, 5, 1, seed=5 + k)[:, 0]
        assert store.table["target"].tolist()[start:start + 4] == drawn.tolist()


def test_other_settings_are_refused_and_restart_starts_over(model, images, tmp_path):
    path = tmp_path / "settings.zarr"
    _explain(model, images, path)
    with pytest.raises(kv.errors.StoreSettingsError) as info:
        _explain(model, images, path, rules=("guided",), dtype="float32")
    assert str(info.value) == (
        f"The store {str(path)!r} holds maps made with other settings (rules was [\"saliency\", "
        "\"guided\"], now [\"guided\"]; dtype was 'float16', now 'float32'). Its maps and the new ones "
        "would not belong together. Pass restart=True (command line: --restart) to delete it and "
        f"start over, or write to another path. Received: store={str(path)!r}"
    )
    assert isinstance(info.value, ValueError)
    store = _explain(model, images, path, rules=("guided",), dtype="float32", restart=True)
    assert store.rules == ("guided",) and store["guided"].dtype == np.float32
    assert sorted(store.group.array_keys()) == ["done", "guided", "guided_scale", "id", "label", "predicted",
                                                "score", "status", "target"]


def test_a_changed_weight_is_another_model(model, images, tmp_path):
    import keras

    path = tmp_path / "model.zarr"
    _explain(model, images[:4], path)
    other = keras.models.clone_model(model)
    other.set_weights([w + 1e-3 for w in model.get_weights()])
    with pytest.raises(kv.errors.StoreSettingsError, match=r"\(model was 'tiny_cnn sha256:[0-9a-f]{16}', "
                       r"now 'tiny_cnn(_\d+)? sha256:[0-9a-f]{16}'\)"):
        _explain(other, images[:4], path)


def _write_lock(path, pid, host=None):
    path.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started": "2026-01-01 00:00:00",
              "token": "t"}
    (path / "kerasviz.lock").write_text(json.dumps(record))


def test_a_second_job_is_refused_while_the_first_runs(model, images, tmp_path):
    path = tmp_path / "locked.zarr"
    _write_lock(path, os.getpid())  # a live process holds it
    with pytest.raises(kv.errors.StoreError) as info:
        _explain(model, images, path)
    assert str(info.value) == (
        f"Another job is writing the store {str(path)!r} (process {os.getpid()} on "
        f"{socket.gethostname()}, started 2026-01-01 00:00:00); two jobs on one store would write "
        f"the same chunks. Wait for it to finish, or write to another path. Received: store={str(path)!r}"
    )
    _write_lock(path, 1, host="elsewhere")
    with pytest.raises(kv.errors.StoreError, match="It runs on another host, so kerasviz cannot tell "
                       "whether it is still alive: if it is not, delete"):
        _explain(model, images, path)


def test_a_dead_jobs_lock_is_taken_over_with_a_warning(model, images, tmp_path):
    path = tmp_path / "stale.zarr"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lock(path, dead.pid)
    with pytest.warns(RuntimeWarning) as record:
        store = _explain(model, images[:4], path)
    assert str(record[0].message) == (
        f"Taking over the lock of process {dead.pid} on {socket.gethostname()} (started "
        f"2026-01-01 00:00:00), which no longer runs; resuming its store {str(path)!r}."
    )
    assert store.complete and not (path / "kerasviz.lock").exists()


def test_a_failed_write_ends_clearly_and_the_store_resumes(model, images, tmp_path, monkeypatch):
    path = tmp_path / "full.zarr"
    original = fail_chunk_writes(monkeypatch, "guided", start=4)  # chunk 1
    with pytest.raises(kv.errors.StoreError) as info:
        _explain(model, images, path)
    assert str(info.value) == (
        f"Writing chunk 1 (inputs 4..7) to {str(path)!r} failed: OSError: [Errno 28] No space left on "
        "device. Chunks written before are kept and this one is not marked done: fix the cause (e.g. "
        f"free disk space) and rerun the same call to resume. Received: store={str(path)!r}"
    )
    assert not (path / "kerasviz.lock").exists()
    assert kv.open_maps(path).done.tolist()[:2] == [True, False]
    monkeypatch.setattr(zarr.Array, "__setitem__", original)
    resumed = _explain(model, images, path)
    fresh = _explain(model, images, tmp_path / "fresh.zarr")
    for rule in RULES:
        np.testing.assert_array_equal(resumed[rule][:], fresh[rule][:])
    assert resumed.table.equals(fresh.table)


def test_bad_arguments_are_refused(model, images, tmp_path):
    with pytest.raises(kv.errors.InvalidArgumentError) as info:
        _explain(model, images, tmp_path / "x.zarr", dtype="float64")
    assert str(info.value) == "Unknown map dtype. Known: 'float16', 'float32'. Received: dtype='float64'"
    with pytest.raises(kv.errors.InvalidTargetError) as info:
        _explain(model, images, tmp_path / "x.zarr", target=[[0, 1]] * 10)
    assert str(info.value).startswith("A dataset job stores one map per input and rule; for K classes")
    folder = tmp_path / "notastore"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(kv.errors.StoreError) as info:
        _explain(model, images, folder, restart=True)
    assert str(info.value) == (
        f"{str(folder)!r} is a folder that holds other files, not a map store; kerasviz does not "
        f"write into it. Choose another path. Received: store={str(folder)!r}"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    with pytest.raises(kv.errors.StoreError, match=f"^Cannot open the map store {str(folder)!r}: "):
        kv.open_maps(folder)


def test_a_method_reaches_the_visualizer_and_the_table_still_has_the_predictions(model, images, tmp_path):
    methods = pytest.importorskip("kerasviz.methods")
    smooth = methods.SmoothGrad(samples=2, noise=0.1, seed=1)
    store = _explain(model, images[:4], tmp_path / "smooth.zarr", method=smooth)
    reference = kv.Visualizer(model, RULES, batch_size=4)(images[:4], method=smooth, progress=False)
    _assert_f16(store["guided"][:], reference["guided"])
    assert store.settings["method"] == repr(smooth)
    logits = model(images[:4]).numpy()
    np.testing.assert_array_equal(store.table["predicted"], logits.argmax(axis=1))
    np.testing.assert_allclose(store.table["score"], logits.max(axis=1), rtol=1e-5)

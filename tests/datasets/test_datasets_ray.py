"""The Ray Data engine writes the store the local engine writes.

One local Ray instance with 2 CPUs serves the module (Ray's start-up and its
actors' TensorFlow imports take most of the time on a small machine).
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import RULES, bad_files

import kerasviz as kv

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.mark.slow
def test_ray_engine_equals_the_local_engine(photo_dir, tmp_path, local_ray):
    # kerasviz's own SubtractMean layer must reach the workers too
    model = kv.zoo.cnn3(filters=4, kernel_size=3, input_shape=(32, 32, 3), num_classes=5, seed=1)
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted(photo_dir.glob("*.png")):
        (folder / path.name).write_bytes(path.read_bytes())
    bad_files(folder)
    kwargs = dict(rules=RULES, batch_size=2, on_error="skip", progress=False)
    local = kv.explain_dataset(model, folder, str(tmp_path / "local.zarr"), **kwargs)
    distributed = kv.explain_dataset(model, folder, str(tmp_path / "ray.zarr"), engine="ray", workers=2,
                                     **kwargs)
    assert distributed.complete and len(distributed) == 13
    for rule in RULES:
        np.testing.assert_array_equal(distributed[rule][:], local[rule][:])
    assert distributed.table.equals(local.table)
    assert distributed.settings == local.settings
    assert (distributed.table["status"] != "ok").sum() == 3
    assert ray.is_initialized()  # the job used this instance and left it running


def test_a_tf_data_source_is_refused_before_the_store_is_made(model, images, tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices(images)
    with pytest.raises(kv.errors.InvalidArgumentError) as info:
        kv.explain_dataset(model, dataset, str(tmp_path / "r.zarr"), engine="ray")
    assert str(info.value) == (
        "A tf.data.Dataset cannot be shipped to Ray workers. Use engine='local', or give the images "
        "as files or an .npy file opened with np.load(path, mmap_mode='r'). "
        "Received: source=<tf.data.Dataset>, engine='ray'"
    )
    assert not (tmp_path / "r.zarr").exists()


def test_an_actor_reports_a_bad_file_and_the_driver_raises_it(model, photo_dir, tmp_path):
    """The actor and the driver's loop, without a Ray instance: what crosses between them."""
    import pickle

    from kerasviz.datasets import ray_engine
    from kerasviz.datasets.sources import resolve_source

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes((photo_dir / "img00.png").read_bytes())
    (folder / "b.png").write_text("not an image")
    path = str(tmp_path / "actor.zarr")
    kv.explain_dataset(model, folder, path, rules=RULES, batch_size=1, on_error="skip", progress=False)
    source = resolve_source(str(folder), size=(32, 32), channels=3)
    actor = ray_engine.ChunkActor(
        model=pickle.dumps(model), source=source, path=path, storage_options=None, rules=RULES,
        target=kv.targets.MaxLogit(), method=None, on_error="raise",
        visualizer_kwargs={"batch_size": 1},
    )
    report = actor({"chunk": np.array([1]), "start": np.array([1]), "stop": np.array([2])})
    name = str(folder / "b.png")
    assert report["fatal_type"].tolist() == ["FileReadError"] and report["inputs"].tolist() == [0]
    assert report["fatal"][0].startswith(f"Cannot read image {name!r} (input 1): UnidentifiedImageError")

    class Rows:
        def iter_rows(self):
            yield {key: value[0] for key, value in report.items()}

    with pytest.raises(kv.errors.FileReadError) as info:
        ray_engine._follow(Rows(), source, [(1, 1, 2)], progress=False)
    assert str(info.value) == report["fatal"][0]
    good = actor({"chunk": np.array([0]), "start": np.array([0]), "stop": np.array([1])})
    assert good["fatal"].tolist() == [""] and good["inputs"].tolist() == [1]


def test_without_an_address_the_job_starts_its_own_local_ray(monkeypatch):
    from kerasviz.datasets import ray_engine

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_engine.address(None) == "local"  # ray.init(address="local"): a new instance, not a running one
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert ray_engine.address(None) == "10.0.0.1:6379"
    assert ray_engine.address("ray://head:10001") == "ray://head:10001"


def test_relative_paths_travel_absolute_and_a_missing_file_names_the_worker(model, photo_dir, tmp_path,
                                                                           monkeypatch):
    import pickle
    import socket

    from kerasviz.datasets import ray_engine
    from kerasviz.datasets.sources import resolve_source

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes((photo_dir / "img00.png").read_bytes())
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "actor.zarr")
    kv.explain_dataset(model, "photos", path, rules=RULES, batch_size=1, progress=False)
    source = resolve_source("photos", size=(32, 32), channels=3)
    assert source.ids == [str(Path("photos") / "a.png"), str(Path("photos") / "b.png")]  # ids as given
    shipped = pickle.loads(pickle.dumps(source))
    monkeypatch.chdir(photo_dir)  # a worker's other working directory
    chunk = next(iter(shipped.chunks([(0, 0, 2)])))
    assert chunk.errors == [None, None]
    np.testing.assert_array_equal(chunk.images[0], chunk.images[1])

    (folder / "b.png").unlink()  # present on the driver when the job started, not on this worker
    actor = ray_engine.ChunkActor(model=pickle.dumps(model), source=shipped, path=path, storage_options=None,
                                  rules=RULES, target=kv.targets.MaxLogit(), method=None, on_error="raise",
                                  visualizer_kwargs={"batch_size": 1})
    report = actor({"chunk": np.array([1]), "start": np.array([1]), "stop": np.array([2])})
    assert report["fatal_type"].tolist() == ["FileReadError"]
    assert report["fatal"][0].startswith(
        f"Cannot read image {str(Path('photos') / 'b.png')!r} (input 1): FileNotFoundError: not found on worker "
        f"{socket.gethostname()} (every Ray node must see the files, e.g. on a shared file system): ")

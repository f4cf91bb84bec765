"""A job killed with SIGKILL mid-run, then rerun, ends with the store an uninterrupted run writes.

The job runs in a subprocess that sleeps between writing a chunk's arrays and
its `done` flag, so the kill lands on a half-finished chunk: the arrays are
on disk, the flag is not. The rerun must take over the dead job's lock,
rewrite exactly the chunks not marked done, and leave every input once.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import zarr
from conftest import RULES

import kerasviz as kv

CHILD = """
import sys, time
import keras, numpy as np
import kerasviz as kv
from kerasviz.datasets.store import StoreWriter

mark_done = StoreWriter.mark_done
def slow_mark_done(self, index):
    time.sleep(0.5)  # a chunk's arrays are written, its done flag not yet
    mark_done(self, index)
StoreWriter.mark_done = slow_mark_done
model = keras.saving.load_model(sys.argv[1])
kv.explain_dataset(model, np.load(sys.argv[2], mmap_mode="r"), sys.argv[3], rules=("saliency", "guided"),
                   batch_size=4, progress=False)
"""


def _done_files(path):
    folder = path / "done" / "c"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []


@pytest.mark.slow
def test_a_killed_job_resumes_to_the_uninterrupted_store(model, tmp_path):
    images = np.random.default_rng(4).integers(0, 256, (48, 32, 32, 3)).astype(np.float32)
    model_path, images_path, path = tmp_path / "m.keras", tmp_path / "x.npy", tmp_path / "killed.zarr"
    model.save(model_path)
    np.save(images_path, images)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(model_path), str(images_path), str(path)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while len(_done_files(path)) < 3:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the job did not get going"
        time.sleep(0.05)
    time.sleep(0.25)  # into the next chunk's sleep
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = _done_files(path)
    assert 3 <= len(done) < 12
    group = zarr.open_group(str(path), mode="r")
    half_done = len(done)  # written in the subprocess, not marked done when it was killed
    assert group["status"][half_done * 4] == "ok" and not group["done"][half_done]
    lock = json.loads((path / "kerasviz.lock").read_text())
    assert lock["pid"] == child.pid

    loaded = keras.saving.load_model(model_path)
    with pytest.warns(RuntimeWarning) as record:
        resumed = kv.explain_dataset(loaded, np.load(images_path, mmap_mode="r"), str(path), rules=RULES,
                                     batch_size=4, progress=False)
    assert str(record[0].message) == (
        f"Taking over the lock of process {child.pid} on {socket.gethostname()} (started "
        f"{lock['started']}), which no longer runs; resuming its store {str(path)!r}."
    )
    fresh = kv.explain_dataset(loaded, images, str(tmp_path / "fresh.zarr"), rules=RULES, batch_size=4,
                               progress=False)
    assert resumed.complete and not (path / "kerasviz.lock").exists()
    assert resumed.settings == fresh.settings
    for rule in RULES:
        np.testing.assert_array_equal(resumed[rule][:], fresh[rule][:])
    assert resumed.table.equals(fresh.table)
    assert resumed.table["id"].tolist() == [str(i) for i in range(48)]  # every input, once, in order
    assert not list(path.rglob("*.partial"))

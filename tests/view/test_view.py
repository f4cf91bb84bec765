"""`kerasviz view` without a browser: the table it sends, the pictures it writes, its server and command.

References: the table against `kv.open_maps(...).table` (the datasets'
own reader); pictures against min–max (or Σ|s|, or jet) computed here with
NumPy on the store's maps, and against the PNG files the inputs came from.
"""

import io
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import zarr
from conftest import RULES, SIZE, make_store, synthetic_rows
from PIL import Image

import kerasviz as kv
from kerasviz.datasets import store as store_lib
from kerasviz.errors import InvalidArgumentError, StoreError
from kerasviz.view import images, page, server, thumbnails
from kerasviz.view.store import TABLE_COLUMNS, StoreView

ROOT = Path(__file__).resolve().parents[2]


def _table(store) -> dict:
    text = page.table_script(StoreView(store), None)
    assert text.startswith("window.KV_DATA = ") and text.endswith(";\n")
    return json.loads(text[len("window.KV_DATA = "):-2])


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _minmax_u8(m: np.ndarray) -> np.ndarray:
    lo, hi = m.min(), m.max()
    return np.round((m - lo) / (hi - lo) * 255).astype(np.uint8)


def test_table_columns_match_the_datasets_reader(photo_store):
    store, _, _ = photo_store
    data = _table(store)
    table = kv.open_maps(store).table
    assert list(TABLE_COLUMNS) == list(store_lib.COLUMNS)  # the viewer's copy of the layout
    columns = data["columns"]
    assert columns["id"] == list(table["id"])
    assert [data["status_values"][c] for c in columns["status"]] == list(table["status"])
    for name in ("label", "predicted", "target"):
        assert columns[name] == table[name].tolist()
    scores = table["score"].to_numpy()
    assert [v is None for v in columns["score"]] == np.isnan(scores).tolist()
    finite = ~np.isnan(scores)
    np.testing.assert_allclose(np.array([v for v in columns["score"] if v is not None]), scores[finite], rtol=1e-6)
    assert data["n"] == 13 and data["rules"] == list(RULES) and data["image_like"] and data["message"] == ""
    assert sum(s.startswith("error:") for s in table["status"]) == 1


def test_maps_are_the_datasets_readers_values_scale_included(photo_store):
    """The viewer reads float16 maps times their per-input scale, as kv.open_maps does."""
    store, _, _ = photo_store
    view, maps = StoreView(store), kv.open_maps(store)
    for rule in RULES:
        assert rule + "_scale" in zarr.open_group(store, mode="r")  # a store with scales: can fail
        np.testing.assert_array_equal(view.maps(rule, 0, len(view)), maps[rule][:])
    assert not any(name.endswith("_scale") for name in view.extra_arrays())


def test_extra_numeric_columns_become_sortable_and_pending_chunks_stay_pending(tmp_path):
    rows = synthetic_rows(10)
    maps = {"saliency": np.random.default_rng(1).normal(size=(10, 4, 4, 3)).astype(np.float32)}
    path = make_store(tmp_path / "s.zarr", maps, rows, chunk_size=4, done=[0, 2])
    group = zarr.open_group(path, mode="a")
    deletion = np.arange(10) / 10
    group.create_group("metrics").create_array("deletion", shape=(10,), dtype="float64")[:] = deletion
    group.create_array("auc", shape=(10,), dtype="int32")[:] = np.arange(10) * 3
    group.create_array("note", shape=(10,), dtype=str)[:] = np.array(["x"] * 10)  # not numeric: left out
    group.create_array("other", shape=(3,), dtype="float32")[:] = 1  # not one per input: left out
    data = _table(path)
    assert data["numeric"] == ["label", "predicted", "target", "score", "auc", "metrics/deletion"]
    pending = [4, 5, 6, 7]  # chunk 1 was never written
    expected = [None if i in pending else float(v) for i, v in enumerate(deletion)]
    assert data["columns"]["metrics/deletion"] == expected
    assert data["columns"]["auc"] == [None if i in pending else 3 * i for i in range(10)]
    assert [data["status_values"][c] == "pending" for c in data["columns"]["status"]] == [
        i in pending for i in range(10)]
    assert [data["columns"]["predicted"][i] for i in pending] == [-1] * 4


def test_thumbnails_are_the_maps_and_inputs_as_shown(photo_store):
    store, photos, source = photo_store
    pictures = thumbnails.write_thumbnails(store, progress=False)
    opened = kv.open_maps(store)
    table = opened.table
    assert pictures.has_inputs and pictures.has_full and pictures.size == 64
    for index in (0, 7):  # an ok input, in two chunks
        name = Path(table["id"][index]).name
        assert table["status"][index] == "ok"
        full = images.map_to_pixels(opened["guided"][index].astype(np.float32))
        np.testing.assert_array_equal(full, _minmax_u8(opened["guided"][index].astype(np.float64)))
        thumb = _png(thumbnails.picture_path(pictures.folder, "thumb", "guided", index))
        assert thumb.shape == (64, 64, 3)
        reference = np.asarray(Image.fromarray(full).resize((64, 64), Image.Resampling.BOX))
        np.testing.assert_array_equal(thumb, reference)
        source_image = np.asarray(Image.open(photos / name))
        small = np.asarray(Image.fromarray(source_image).resize((64, 64), Image.Resampling.BOX))
        np.testing.assert_array_equal(_png(thumbnails.picture_path(pictures.folder, "thumb", "_input", index)), small)
    error = int(np.flatnonzero(table["status"].str.startswith("error"))[0])
    assert not os.path.exists(thumbnails.picture_path(pictures.folder, "thumb", "guided", error))
    # the store stays a store: Zarr sees a subgroup, the datasets' reader is unchanged
    assert "thumbnails" in zarr.open_group(str(store), mode="r")
    assert kv.open_maps(store).table.equals(table)


def test_thumbnails_resume_at_the_missing_chunk(tmp_path, capsys):
    rows = synthetic_rows(12)
    maps = {"saliency": np.random.default_rng(2).normal(size=(12, 6, 5, 1)).astype(np.float32)}
    path = make_store(tmp_path / "s.zarr", maps, rows, chunk_size=4)
    first = thumbnails.write_thumbnails(path, size=8)
    assert "thumbnails" in capsys.readouterr().err  # the progress bar
    assert first.written == {"thumb": 3} and not first.has_full and not first.has_inputs
    lost = thumbnails.picture_path(first.folder, "thumb", "saliency", 5)
    kept = thumbnails.picture_path(first.folder, "thumb", "saliency", 1)
    before = _png(lost)
    np.testing.assert_array_equal(before, _minmax_u8(maps["saliency"][5, ..., 0].astype(np.float64)))
    os.remove(lost)
    os.remove(os.path.join(first.folder, "thumb", "done", "1"))  # as if killed while writing chunk 1
    stamp = os.stat(kept).st_mtime_ns
    again = thumbnails.write_thumbnails(path, size=8, progress=False)
    assert again.written == {"thumb": 1}
    np.testing.assert_array_equal(_png(lost), before)
    assert os.stat(kept).st_mtime_ns == stamp
    assert thumbnails.write_thumbnails(path, size=8, progress=False).written == {"thumb": 0}
    resized = thumbnails.write_thumbnails(path, size=16, progress=False)
    assert resized.written == {"thumb": 3}  # another size: made again


def test_pictures_of_cams_other_channels_and_non_finite_values():
    rng = np.random.default_rng(0)
    cam = np.abs(rng.normal(size=(5, 6))).astype(np.float32)
    expected = matplotlib.colormaps["jet"](cam / cam.max())[..., :3]
    np.testing.assert_array_equal(images.map_to_pixels(cam), np.round(expected * 255).astype(np.uint8))
    four = rng.normal(size=(5, 6, 4)).astype(np.float32)
    s = np.abs(four).sum(-1)
    np.testing.assert_array_equal(images.map_to_pixels(four),
                                  np.round(np.clip(s / np.percentile(s, 99), 0, 1) * 255).astype(np.uint8))
    m = rng.normal(size=(4, 4, 3)).astype(np.float32)
    spoiled = m.copy()
    spoiled[0, 0, 0], spoiled[1, 1, 1] = np.inf, np.nan
    shown = images.map_to_pixels(spoiled)
    finite = np.isfinite(spoiled)
    lo, hi = spoiled[finite].min(), spoiled[finite].max()
    assert shown[0, 0, 0] == 255 and shown[1, 1, 1] == 0
    np.testing.assert_array_equal(shown[finite], np.round((spoiled[finite] - lo) / (hi - lo) * 255).astype(np.uint8))
    assert images.map_to_pixels(np.full((3, 3, 3), np.nan, np.float32)) is None


def test_maps_that_are_not_images_give_the_table_and_a_message(tmp_path):
    rows = synthetic_rows(5)
    path = make_store(tmp_path / "tokens.zarr", {"saliency": np.ones((5, 7), np.float32)}, rows, chunk_size=5)
    data = _table(path)
    assert not data["image_like"] and "shape [7], which is not an image" in data["message"]
    assert thumbnails.write_thumbnails(path, progress=False).written == {"thumb": 0}


def test_server_binds_localhost_and_sends_the_page_table_and_pictures(photo_store):
    store, _, _ = photo_store
    view_server = server.make_server(store, port=0, progress=False)
    thread = threading.Thread(target=view_server.serve_forever, daemon=True)
    thread.start()
    try:
        assert view_server.server_address[0] == "127.0.0.1"
        assert view_server.url == f"http://127.0.0.1:{view_server.server_address[1]}/"

        def get(path):
            with urllib.request.urlopen(view_server.url + path, timeout=10) as response:
                return response.read(), response.headers["Content-Type"]

        body, kind = get("")
        assert kind.startswith("text/html") and body == page.static_file("index.html")
        table, _ = get("table.js?x=1")
        assert json.loads(table.decode()[len("window.KV_DATA = "):-2])["n"] == 13
        thumb, kind = get(thumbnails.picture_url("thumb", "guided", 0))
        assert kind == "image/png"
        assert thumb == Path(thumbnails.picture_path(view_server.pictures.folder, "thumb", "guided", 0)).read_bytes()
        full_path = thumbnails.picture_path(view_server.pictures.folder, "full", "saliency", 2)
        if os.path.exists(full_path):
            os.remove(full_path)
        full, _ = get(thumbnails.picture_url("full", "saliency", 2))  # made on demand, then kept
        expected = images.map_to_pixels(kv.open_maps(store)["saliency"][2].astype(np.float32))
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(full))), expected)
        assert os.path.exists(full_path) and expected.shape == (SIZE, SIZE, 3)
        for bad in ("zarr.json", "thumb/../zarr.json", "thumb/nope/0/0.png", "full/guided/0/99.png"):
            with pytest.raises(urllib.error.HTTPError) as info:
                get(bad)
            assert info.value.code == 404
    finally:
        view_server.shutdown()
        view_server.server_close()


def test_static_folder_holds_the_page_table_and_every_picture(photo_store, tmp_path):
    store, _, _ = photo_store
    index = kv.view.write_html(store, tmp_path / "out", progress=False)
    out = tmp_path / "out"
    assert index == str(out / "index.html")
    assert sorted(p.name for p in out.iterdir()) == ["app.js", "full", "index.html", "style.css", "table.js", "thumb"]
    table = kv.open_maps(store).table
    ok = [i for i in range(len(table)) if table["status"][i] == "ok"]
    for level in ("thumb", "full"):
        for kind in ("_input", *RULES):
            files = {int(p.stem) for p in (out / level / kind).rglob("*.png")}
            assert files == set(ok), (level, kind)
    assert not (out / "thumb" / "done").exists()
    _, photos, _ = photo_store
    first = Path(table["id"][0]).name
    np.testing.assert_array_equal(_png(out / "full" / "_input" / "0" / "0.png"), _png(photos / first))
    with pytest.raises(InvalidArgumentError, match=r"is a file.*Received: out="):
        kv.view.write_html(store, out / "index.html", progress=False)


def test_not_a_store_says_so(tmp_path):
    with pytest.raises(StoreError, match=r"There is no map store.*Received: store="):
        StoreView(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(StoreError, match=r"not a kerasviz map store.*Received: store="):
        StoreView(tmp_path / "plain.zarr")
    with pytest.raises(InvalidArgumentError, match=r"Received: size=4"):
        thumbnails.write_thumbnails(tmp_path / "plain.zarr", size=4)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_command_writes_the_static_folder_without_tensorflow(photo_store, tmp_path):
    store, _, _ = photo_store
    out = tmp_path / "html"
    code = ("import sys\nsys.argv[0] = 'kerasviz'\nfrom kerasviz.cli import main\n"
            f"status = main(['view', {str(store)!r}, '--html', {str(out)!r}, '--no-progress'])\n"
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {out / 'index.html'}", "0 False False"]
    assert (out / "table.js").read_text() == page.table_script(StoreView(store), thumbnails.write_thumbnails(
        store, progress=False))


def test_command_serves_on_a_free_port_and_prints_its_url(photo_store):
    store, _, _ = photo_store
    process = subprocess.Popen([sys.executable, "-m", "kerasviz", "view", str(store), "--port", "0", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        line = process.stdout.readline()
        assert line.startswith(f"kerasviz view: {store} at http://127.0.0.1:"), (line, process.stderr.read())
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "index.html?sort=-score", timeout=10) as response:
            assert response.read() == page.static_file("index.html")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("argv, message", [
    (["view", "nowhere.zarr", "--html", "x"], r"There is no map store at 'nowhere.zarr'.*Received: store="),
    (["view", "s.zarr", "--html", "x", "--port", "3"], r"--port and --open are for serving.*Received: --html x"),
])
def test_command_errors_say_what_to_do(argv, message, capsys, tmp_path, monkeypatch):
    from kerasviz import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_store_of_cams_gets_jet_thumbnails_and_array_inputs(tmp_path):
    """Grad-CAM maps (N, H, W) are pictures too; inputs given as an array become the input pictures."""
    rng = np.random.default_rng(4)
    cams = np.abs(rng.normal(size=(6, 10, 12))).astype(np.float32)
    inputs = rng.uniform(0, 255, (6, 10, 12, 3)).astype(np.float32)
    path = make_store(tmp_path / "cams.zarr", {"saliency": cams}, synthetic_rows(6), chunk_size=3)
    pictures = thumbnails.write_thumbnails(path, images=inputs, progress=False)
    assert pictures.has_inputs and not pictures.has_full
    for index in (1, 4):  # input 0 is a synthetic error row
        jet = matplotlib.colormaps["jet"](cams[index] / cams[index].max())[..., :3]
        np.testing.assert_array_equal(_png(thumbnails.picture_path(pictures.folder, "thumb", "saliency", index)),
                                      np.round(jet * 255).astype(np.uint8))
        np.testing.assert_array_equal(_png(thumbnails.picture_path(pictures.folder, "thumb", "_input", index)),
                                      _minmax_u8(inputs[index].astype(np.float64)))
    assert thumbnails.write_thumbnails(path, progress=False).has_inputs  # remembered without the array
    with pytest.raises(InvalidArgumentError, match=r"one per input \(6\).*Received: images with 2 entries"):
        thumbnails.write_thumbnails(path, images=inputs[:2])

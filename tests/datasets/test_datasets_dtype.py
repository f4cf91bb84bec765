"""The default store keeps every finite map within 1e-3 of the Visualizer's, from 1e-30 to 1e30.

References: the `Visualizer`'s float32 maps of the same images (tested
elsewhere against `tf.GradientTape`), read back through `kv.open_maps` and
through plain Zarr (`values * scale`, as docs/datasets.md says), and, for
`encode_maps` alone, the maps it was given. The error of a map is measured
relative to that map's largest |value|.
"""

import keras
import numpy as np
import pytest
import zarr

import kerasviz as kv
from kerasviz.datasets import store as store_lib

SIZE = 16
RULES = ("saliency", "guided")


def _net(weight_scale: float, seed: int = 0):
    """A tiny ReLU net whose weights are multiplied by `weight_scale`: its maps by weight_scale**2."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(5)])
    for weight in model.weights:
        weight.assign(weight.numpy() * weight_scale)
    return model


def _relative_errors(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    error = np.abs(got - want).reshape(len(want), -1).max(axis=1)
    return error / np.abs(want).reshape(len(want), -1).max(axis=1)


@pytest.mark.parametrize("weight_scale, magnitude", [(3e4, 1e10), (1e-6, 1e-13)])
def test_huge_and_tiny_maps_come_back_within_1e_3(tmp_path, weight_scale, magnitude):
    model = _net(weight_scale)
    images = np.random.default_rng(0).uniform(0, 255, (6, SIZE, SIZE, 3)).astype(np.float32)
    reference = kv.Visualizer(model, RULES)(images, progress=False)
    peak = np.abs(reference["saliency"]).max()
    assert magnitude / 100 < peak < magnitude * 100  # the regime the test is about
    # a plain float16 store loses them: Inf (huge) or zeros (tiny)
    with np.errstate(over="ignore"):
        plain = reference["saliency"].astype(np.float16)
    assert np.isinf(plain).any() if magnitude > 1 else (plain == 0).all()

    path = str(tmp_path / "maps.zarr")
    store = kv.explain_dataset(model, images, path, rules=RULES, batch_size=4, progress=False)
    assert store.table["status"].tolist() == ["ok"] * 6
    group = zarr.open_group(path, mode="r")
    for rule in RULES:
        assert (_relative_errors(store[rule][:], reference[rule]) <= 1e-3).all()
        assert (_relative_errors(store[rule][[1, 4]], reference[rule][[1, 4]]) <= 1e-3).all()
        assert _relative_errors(store[rule][3][None], reference[rule][3][None])[0] <= 1e-3
        # plain Zarr: the stored float16 values times their float32 scale
        assert group[rule].dtype == np.float16 and group[rule + "_scale"].dtype == np.float32
        plain_zarr = group[rule][:].astype(np.float32) * group[rule + "_scale"][:][:, None, None, None]
        np.testing.assert_array_equal(plain_zarr, store[rule][:])


def test_encode_keeps_every_magnitude_from_1e_30_to_1e_30():
    rng = np.random.default_rng(1)
    magnitudes = 10.0 ** np.arange(-30, 31, 5)
    maps = (rng.standard_normal((len(magnitudes), 8, 8, 3)) * magnitudes[:, None, None, None]).astype(np.float32)
    maps[0, 0, 0, 0] = 0.0  # and a zero map
    maps = np.concatenate([maps, np.zeros((1, 8, 8, 3), np.float32)])
    for dtype in ("float16", "float32"):
        values, scales, problems = store_lib.encode_maps({"guided": maps}, dtype)
        assert values["guided"].dtype == np.dtype(dtype) and problems == [None] * len(maps)
        decoded = values["guided"].astype(np.float32) * scales["guided"][:, None, None, None]
        errors = _relative_errors(decoded[:-1], maps[:-1])
        assert (errors <= (2.0**-11 if dtype == "float16" else 0)).all(), errors
        np.testing.assert_array_equal(decoded[-1], 0.0)


def test_a_map_with_inf_marks_its_row_and_warns_once(tmp_path):
    model = _net(1e22)  # maps ~1e44: Inf in float32 already
    images = np.random.default_rng(2).uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    images[1] = 0.0  # no unit active: a zero map, finite
    reference = kv.Visualizer(model, RULES)(images, progress=False)
    assert not np.isfinite(reference["guided"][0]).all() and np.isfinite(reference["guided"][1]).all()
    with pytest.warns(RuntimeWarning) as record:
        store = kv.explain_dataset(model, images, str(tmp_path / "inf.zarr"), rules=RULES, batch_size=3,
                                   progress=False)
    status = store.table["status"].tolist()
    assert status[1] == "ok"
    for row in (0, 2):
        assert status[row].startswith("error: the 'saliency' map holds ")
        assert "Inf or NaN values (the model's scores overflow float32?); the 'guided' map holds" in status[row]
    assert len(record) == 1
    assert str(record[0].message).startswith(f"Input '0': {status[0][len('error: '):]}. Its row's status says so")


def test_an_old_store_opens_and_resuming_it_is_refused(tmp_path):
    model = _net(1.0)
    images = np.random.default_rng(3).uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    path = str(tmp_path / "old.zarr")
    kv.explain_dataset(model, images, path, rules=("guided",), batch_size=4, progress=False, dtype="float32")
    group = zarr.open_group(path, mode="r+")  # turn it into a format-1 store: no scale arrays
    info = dict(group.attrs["kerasviz"], format=1)
    del group["guided_scale"]
    group.attrs["kerasviz"] = info
    reference = kv.Visualizer(model, ("guided",))(images, progress=False)["guided"]
    old = kv.open_maps(path)
    np.testing.assert_array_equal(old["guided"][:], reference)
    with pytest.raises(kv.errors.StoreSettingsError) as error:
        kv.explain_dataset(model, images, path, rules=("guided",), batch_size=4, progress=False, dtype="float32")
    assert str(error.value) == (
        f"The store {path!r} has layout version 1; this kerasviz writes version 2 (maps with a scale per "
        "input, exact from 1e-30 to 1e30). kv.open_maps still reads it; to add maps, pass restart=True "
        f"(command line: --restart) to start over, or write to another path. Received: store={path!r}"
    )

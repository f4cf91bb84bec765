"""Dataset jobs with relevance rules (LRP, DeepLIFT): names and `kv.rules` objects.

References: the `Visualizer`'s maps of the same images and rules (tested
against NumPy in tests/test_relevance.py), the float16 encoding's own bound
(a map divided by its peak |value| is rounded to float16: at most 2⁻¹¹ of
the peak), and an uninterrupted job's store.
"""

import numpy as np
import pytest
import zarr
from conftest import fail_chunk_writes

import kerasviz as kv

RELEVANCE = ("lrp-epsilon", "deeplift")


def _explain(model, source, path, rules=RELEVANCE, **kwargs):
    return kv.explain_dataset(model, source, str(path), rules=rules, batch_size=4, progress=False, **kwargs)


def _assert_within_float16_encoding(stored, reference):
    """Each map within half a float16 step of its peak |value| (the encoding's rounding), and not all zero."""
    peak = np.abs(reference).reshape(len(reference), -1).max(axis=1)
    assert (peak > 0).all()
    error = np.abs(stored - reference).reshape(len(reference), -1).max(axis=1)
    assert (error <= peak * 2.0**-11 * 1.01).all(), error / peak


def test_a_store_holds_the_relevance_maps_of_the_visualizer(model, images, tmp_path):
    store = _explain(model, images, tmp_path / "maps.zarr")
    reference = kv.Visualizer(model, RELEVANCE, batch_size=4)(images, progress=False)
    assert store.rules == RELEVANCE and store.settings["rules"] == list(RELEVANCE)
    group = zarr.open_group(str(tmp_path / "maps.zarr"), mode="r")
    for rule in RELEVANCE:
        assert group[rule].dtype == np.float16
        _assert_within_float16_encoding(store[rule][:], reference[rule])
    logits = model(images).numpy()
    np.testing.assert_allclose(store.table["score"], logits.max(-1), rtol=1e-5)


def test_an_interrupted_relevance_job_resumes_to_the_uninterrupted_store(model, images, tmp_path, monkeypatch):
    path = tmp_path / "cut.zarr"
    original = fail_chunk_writes(monkeypatch, "deeplift", start=4)  # chunk 1
    with pytest.raises(kv.errors.StoreError, match="Writing chunk 1"):
        _explain(model, images, path)
    assert kv.open_maps(str(path)).done.tolist()[:2] == [True, False]
    monkeypatch.setattr(zarr.Array, "__setitem__", original)
    resumed, fresh = _explain(model, images, path), _explain(model, images, tmp_path / "fresh.zarr")
    assert resumed.complete
    for rule in RELEVANCE:
        np.testing.assert_array_equal(resumed[rule][:], fresh[rule][:])
    assert resumed.table.equals(fresh.table)


def test_rule_objects_are_stored_under_their_name_and_resume_only_with_the_same_rule(model, images, tmp_path):
    gamma = kv.rules.LRP(conv="gamma", gamma=0.5)
    baseline = np.full(images.shape[1:], 128.0, np.float32)
    deeplift = kv.rules.DeepLift(baseline=baseline)
    rules = (gamma, deeplift, "saliency")
    path = tmp_path / "objects.zarr"
    store = _explain(model, images[:8], path, rules=rules)
    names = (gamma.name, deeplift.name, "saliency")
    assert store.rules == names and store.settings["rules"] == list(names)
    reference = kv.Visualizer(model, rules, batch_size=4)(images[:8], progress=False)
    for name in names:
        _assert_within_float16_encoding(store[name][:], reference[name])
    assert not np.allclose(reference[deeplift.name], kv.visualize(model, images[:8], rules=("deeplift",))["deeplift"])
    # the same objects (equal ones, built anew) resume; another parameter is another rule
    again = (kv.rules.LRP(conv="gamma", gamma=0.5), kv.rules.DeepLift(baseline=baseline.copy()), "saliency")
    assert _explain(model, images[:8], path, rules=again).complete
    for other in ((kv.rules.LRP(conv="gamma", gamma=0.25), deeplift, "saliency"),
                  (gamma, kv.rules.DeepLift(baseline=baseline + 1), "saliency")):
        with pytest.raises(kv.errors.StoreSettingsError, match=r"other settings \(rules was .*, now .*\)"):
            _explain(model, images[:8], path, rules=other)


def test_named_composites_as_objects_share_the_named_rules_store(model, images, tmp_path):
    path = tmp_path / "named.zarr"
    _explain(model, images[:4], path, rules=("lrp-epsilon-plus-flat",))
    same = kv.rules.LRP(dense="epsilon", conv="zplus", first="flat")
    assert _explain(model, images[:4], path, rules=(same,)).rules == ("lrp-epsilon-plus-flat",)

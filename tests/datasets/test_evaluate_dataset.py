"""kv.evaluate_dataset: metric columns of a store's table, chunk by chunk, resumable.

The columns are compared with `kv.evaluation`'s metrics of the same stored
maps (whose own correctness `tests/test_evaluation.py` checks against
explicit loops); the resume test interrupts the job after its first chunk
and checks that the rerun computes only the other chunks and ends with the
columns an uninterrupted run writes.
"""

import re

import numpy as np
import pytest
from conftest import RULES

import kerasviz as kv
from kerasviz import evaluation
from kerasviz.errors import InvalidArgumentError, StoreSettingsError

OPTIONS = {"deletion": {"steps": 4}, "insertion": {"steps": 4}}
DELETION = {"deletion": {"steps": 4}}


@pytest.fixture()
def store(model, images, tmp_path):
    path = str(tmp_path / "maps.zarr")
    kv.explain_dataset(model, images, path, rules=RULES, target=2, batch_size=4, dtype="float32", progress=False)
    return path


def test_columns_hold_each_metric_of_each_rules_stored_maps(model, images, store):
    out = kv.evaluate_dataset(model, store, metrics=("deletion", "insertion"), source=images, options=OPTIONS,
                              progress=False)
    table = out.table
    for rule in RULES:
        maps = out[rule][:]
        for metric in ("deletion", "insertion"):
            expected = getattr(evaluation, metric)(model, images, maps, target=2, steps=4)
            np.testing.assert_allclose(table[f"{metric}_{rule}"], expected, rtol=1e-5)
    assert list(table.columns[:6]) == ["id", "status", "label", "predicted", "target", "score"]


def test_an_interrupted_job_resumes_without_redoing_a_chunk(model, images, store, tmp_path, monkeypatch):
    calls = []
    original = evaluation.deletion

    def interrupted(viz, x, maps, **kwargs):
        calls.append(len(x))
        if len(calls) == 3:  # chunk 0 done for both rules; chunk 1's first rule killed
            raise KeyboardInterrupt
        return original(viz, x, maps, **kwargs)

    monkeypatch.setattr(evaluation, "deletion", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kv.evaluate_dataset(model, store, metrics=("deletion",), source=images, options=DELETION, progress=False)
    partial = kv.open_maps(store).table
    assert partial["deletion_saliency"][:4].notna().all() and partial["deletion_saliency"][4:].isna().all()

    calls.clear()
    monkeypatch.setattr(evaluation, "deletion", lambda viz, x, maps, **kw: calls.append(len(x)) or original(
        viz, x, maps, **kw))
    resumed = kv.evaluate_dataset(model, store, metrics=("deletion",), source=images, options=DELETION,
                                  progress=False).table
    assert calls == [4, 4, 2, 2]  # chunks 1 and 2, both rules: chunk 0 was not redone

    fresh_path = str(tmp_path / "fresh.zarr")
    kv.explain_dataset(model, images, fresh_path, rules=RULES, target=2, batch_size=4, dtype="float32",
                       progress=False)
    fresh = kv.evaluate_dataset(model, fresh_path, metrics=("deletion",), source=images, options=DELETION,
                                progress=False).table
    for rule in RULES:
        np.testing.assert_array_equal(resumed[f"deletion_{rule}"], fresh[f"deletion_{rule}"])


def test_a_store_of_files_reads_its_inputs_again_from_the_id_column(model, images, photo_dir, tmp_path):
    path = str(tmp_path / "files.zarr")
    kv.explain_dataset(model, str(photo_dir), path, rules=("saliency",), target=1, batch_size=4,
                       dtype="float32", progress=False)
    table = kv.evaluate_dataset(model, path, metrics=("mu_fidelity",), progress=False,
                                options={"mu_fidelity": {"samples": 16, "grid": 4}}).table
    maps = kv.open_maps(path)["saliency"][:]
    expected = evaluation.mu_fidelity(model, images, maps, target=1, samples=16, grid=4)
    np.testing.assert_allclose(table["mu_fidelity_saliency"], expected, rtol=1e-5)


def test_wrong_source_model_or_settings_are_refused(model, images, store):
    with pytest.raises(InvalidArgumentError, match=re.escape(
            "The store keeps the maps, not the inputs: pass the array source the maps were made from as "
            "source=. Received: source=None")):
        kv.evaluate_dataset(model, store, progress=False)
    with pytest.raises(StoreSettingsError, match="The source is not the one the maps were made from"):
        kv.evaluate_dataset(model, store, source=images[:6], progress=False)
    import keras

    other = keras.models.clone_model(model)
    with pytest.raises(StoreSettingsError, match=r"were made with model .* evaluate them with the model"):
        kv.evaluate_dataset(other, store, source=images, progress=False)
    kv.evaluate_dataset(model, store, metrics=("insertion",), source=images,
                        options={"insertion": {"steps": 4}}, progress=False)
    with pytest.raises(StoreSettingsError, match="pass restart=True to recompute it"):
        kv.evaluate_dataset(model, store, metrics=("insertion",), source=images, progress=False)
    with pytest.raises(InvalidArgumentError, match=r"Received: metrics='faithfulness'$"):
        kv.evaluate_dataset(model, store, metrics=("faithfulness",), source=images, progress=False)

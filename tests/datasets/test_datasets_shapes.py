"""`kv.explain_dataset` on inputs that are not images: sequences `(N, T, C)`, tables `(N, D)`, token ids.

References: the `Visualizer`'s maps of the same inputs as one array (itself
tested against `tf.GradientTape`), plain `tf.GradientTape` gradients for
the saliency maps, and the model's own logits for the table. Stores are
written in float32 where maps are compared exactly.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import zarr

import kerasviz as kv

RULES = ("saliency", "guided")


@pytest.fixture(scope="module")
def sequence_model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((12, 2))
    hidden = keras.layers.Conv1D(4, 3, activation="relu")(inputs)
    hidden = keras.layers.Conv1D(6, 3, activation="relu")(hidden)
    hidden = keras.layers.GlobalMaxPooling1D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden), name="tiny_conv1d")


@pytest.fixture(scope="module")
def table_model():
    keras.utils.set_random_seed(6)
    return keras.Sequential([keras.Input((7,)), keras.layers.Dense(6, activation="relu"),
                             keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)],
                            name="tiny_mlp")


@pytest.fixture(scope="module")
def sequences():
    return np.random.default_rng(0).normal(size=(10, 12, 2)).astype(np.float32)


def _explain(model, source, path, **kwargs):
    kwargs = {"rules": RULES, "batch_size": 4, "progress": False, "dtype": "float32", **kwargs}
    return kv.explain_dataset(model, source, str(path), **kwargs)


def _tape_saliency(model, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x)
        score = tf.reduce_sum(tf.reduce_max(logits, axis=-1))
    return tape.gradient(score, x).numpy()


def test_sequence_store_equals_the_visualizer_and_the_tape(sequence_model, sequences, tmp_path):
    store = _explain(sequence_model, sequences, tmp_path / "seq.zarr")
    reference = kv.Visualizer(sequence_model, RULES, batch_size=4)(sequences, progress=False)
    assert store.complete and len(store) == 10 and store.map_shape == (12, 2)
    for rule in RULES:
        assert store[rule].shape == sequences.shape
        np.testing.assert_array_equal(store[rule][:], reference[rule])
    np.testing.assert_allclose(store["saliency"][:], _tape_saliency(sequence_model, sequences),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(store["guided"][:], store["saliency"][:])  # the rules differ here
    table = store.table
    logits = sequence_model(sequences).numpy()
    np.testing.assert_array_equal(table["predicted"], logits.argmax(axis=1))
    np.testing.assert_allclose(table["score"], logits.max(axis=1), rtol=1e-5)
    # the arrays name their axes as a sequence's, for xarray
    group = zarr.open_group(str(tmp_path / "seq.zarr"), mode="r")
    assert tuple(group["guided"].metadata.dimension_names) == ("input", "time", "channel")
    assert store.settings["input"] == {"kind": "sequence", "shape": [12, 2], "dtype": "float32"}
    assert store.settings["image_size"] is None


def test_float16_sequence_store_within_rounding(sequence_model, sequences, tmp_path):
    store = _explain(sequence_model, sequences, tmp_path / "seq16.zarr", dtype="float16")
    reference = kv.Visualizer(sequence_model, RULES)(sequences, progress=False)
    for rule in RULES:
        assert store[rule].values.dtype == np.float16  # float16 values times a float32 scale per input
        largest = np.abs(reference[rule]).reshape(len(sequences), -1).max(axis=1)[:, None, None]
        assert np.all(np.abs(store[rule][:] - reference[rule]) <= 2.0**-11 * largest)


def test_table_store_with_labels_and_a_method(table_model, tmp_path):
    rows = np.random.default_rng(1).normal(size=(9, 7)).astype(np.float32)
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1])
    method = kv.methods.IntegratedGradients(steps=8)
    store = _explain(table_model, (rows, labels), tmp_path / "table.zarr", target="loss", method=method)
    reference = kv.Visualizer(table_model, RULES)(rows, target="loss", labels=labels, method=method,
                                                   progress=False)
    for rule in RULES:
        assert store[rule].shape == (9, 7)
        np.testing.assert_allclose(store[rule][:], reference[rule], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(store.table["label"], labels)
    group = zarr.open_group(str(tmp_path / "table.zarr"), mode="r")
    assert tuple(group["saliency"].metadata.dimension_names) == ("input", "feature")


def test_tf_data_of_sequences_batched_and_not(sequence_model, sequences, tmp_path):
    reference = kv.Visualizer(sequence_model, RULES)(sequences, progress=False)
    labels = np.arange(10) % 3
    for name, dataset in {
        "plain": tf.data.Dataset.from_tensor_slices(sequences),
        "batched": tf.data.Dataset.from_tensor_slices((sequences, labels)).batch(3),
    }.items():
        store = _explain(sequence_model, dataset, tmp_path / f"{name}.zarr")
        assert len(store) == 10
        for rule in RULES:
            np.testing.assert_array_equal(store[rule][:], reference[rule])
    np.testing.assert_array_equal(store.table["label"], labels)


def test_open_length_takes_the_sources_and_resumes(tmp_path):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((None, 3))
    hidden = keras.layers.Conv1D(4, 3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(hidden)))
    x = np.random.default_rng(2).normal(size=(6, 20, 3)).astype(np.float32)
    store = _explain(model, x, tmp_path / "open.zarr")
    assert store.map_shape == (20, 3)
    np.testing.assert_array_equal(store["guided"][:], kv.Visualizer(model, RULES)(x, progress=False)["guided"])
    again = _explain(model, x, tmp_path / "open.zarr")  # same settings: resumes, nothing to do
    assert again.complete
    with pytest.raises(kv.errors.StoreSettingsError, match=r'input was \{"kind": "sequence", "shape": \[20, 3\]'):
        _explain(model, x[:, :16], tmp_path / "open.zarr")


def test_shapes_that_do_not_fit_are_refused(sequence_model, table_model, sequences, tmp_path):
    with pytest.raises(kv.errors.InvalidInputError,
                       match=r"must be shaped \(N, 12, 2\) .*Received: source of shape \(10, 12, 3\)"):
        _explain(sequence_model, np.zeros((10, 12, 3), np.float32), tmp_path / "a.zarr")
    with pytest.raises(kv.errors.InvalidInputError, match=r"yields samples \(7\).*Received: element_spec"):
        _explain(table_model, tf.data.Dataset.from_tensor_slices(np.zeros((4, 3, 5), np.float32)),
                 tmp_path / "b.zarr")
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"files are read as images only"):
        _explain(sequence_model, str(tmp_path), tmp_path / "c.zarr")
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"image_size is for models that take images"
                       r".*sequence inputs.*Received: image_size=8"):
        _explain(sequence_model, sequences, tmp_path / "d.zarr", image_size=8)


def test_float_token_ids_are_refused_not_rounded(tmp_path):
    model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    with pytest.raises(kv.errors.InvalidInputError,
                       match=r"takes integer token ids.*Received: dtype=float32"):
        _explain(model, np.ones((3, 5), np.float32), tmp_path / "ids.zarr")
    with pytest.raises(kv.errors.InvalidInputError, match=r"must be shaped \(N, 5\)"):
        _explain(model, np.ones((3, 6), np.int64), tmp_path / "ids.zarr")


def test_kind_and_layout_names():
    from kerasviz.datasets import inputs

    assert inputs.kind_of(keras.Input((4, 4, 3))) == "image"
    assert inputs.kind_of(keras.Input((9, 2))) == "sequence"
    assert inputs.kind_of(keras.Input((5,))) == "table"
    assert inputs.kind_of(keras.Input((5,), dtype="int32")) == "tokens"
    assert inputs.array_name("guided") == "guided"
    assert inputs.array_name("guided", "meta") == "guided/meta"


def test_token_store_holds_maps_at_the_embedding(tmp_path):
    keras.utils.set_random_seed(8)
    ids_in = keras.Input((6,), dtype="int32")
    embedded = keras.layers.Embedding(12, 4)(ids_in)
    hidden = keras.layers.Conv1D(5, 3, activation="relu", padding="same")(embedded)
    model = keras.Model(ids_in, keras.layers.Dense(2)(keras.layers.GlobalMaxPooling1D()(hidden)))
    ids = np.random.default_rng(3).integers(0, 12, (7, 6)).astype(np.int32)
    store = _explain(model, ids, tmp_path / "tokens.zarr")
    reference = kv.Visualizer(model, RULES)(ids, progress=False)
    assert store.map_shape == (6, 4)
    for rule in RULES:
        assert store[rule].shape == (7, 6, 4)
        np.testing.assert_array_equal(store[rule][:], reference[rule])
    # saliency at the embedding: the tape gradient of the head from the looked-up vectors
    table = model.layers[1].embeddings.numpy()
    vectors = tf.constant(table[ids])
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        logits = model.layers[-1](model.layers[-2](model.layers[2](vectors)))
        score = tf.reduce_sum(tf.reduce_max(logits, axis=-1))
    np.testing.assert_allclose(store["saliency"][:], tape.gradient(score, vectors).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(store.table["predicted"], model(ids).numpy().argmax(axis=1))
    group = zarr.open_group(str(tmp_path / "tokens.zarr"), mode="r")
    assert tuple(group["guided"].metadata.dimension_names) == ("input", "token", "embedding")


@pytest.fixture(scope="module")
def two_input_model():
    keras.utils.set_random_seed(9)
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    h = keras.layers.Conv2D(4, 3, activation="relu")(image)
    h = keras.layers.GlobalMaxPooling2D()(h)
    m = keras.layers.Dense(4, activation="relu")(meta)
    h = keras.layers.Dense(5, activation="relu")(keras.layers.Concatenate()([h, m]))
    return keras.Model([image, meta], keras.layers.Dense(2)(h), name="image_meta")


def test_several_inputs_store_one_array_per_rule_and_input(two_input_model, tmp_path):
    rng = np.random.default_rng(4)
    images = rng.normal(size=(9, 8, 8, 1)).astype(np.float32)
    meta = rng.normal(size=(9, 3)).astype(np.float32)
    labels = np.arange(9) % 2
    reference = kv.Visualizer(two_input_model, RULES)({"image": images, "meta": meta}, progress=False)
    for source in ({"meta": meta, "image": images}, ([images, meta], labels)):
        path = tmp_path / f"two{isinstance(source, tuple)}.zarr"
        store = _explain(two_input_model, source, path)
        assert store.map_shape == {"image": (8, 8, 1), "meta": (3,)}
        for rule in RULES:
            np.testing.assert_array_equal(store[f"{rule}/image"][:], reference[rule]["image"])
            np.testing.assert_array_equal(store[rule]["meta"][:], reference[rule]["meta"])
        logits = two_input_model([images, meta]).numpy()
        np.testing.assert_array_equal(store.table["predicted"], logits.argmax(axis=1))
        np.testing.assert_allclose(store.table["score"], logits.max(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(store.table["label"], labels)
    # saliency of the metadata: the tape gradient
    x = [tf.constant(images), tf.constant(meta)]
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(tf.reduce_max(two_input_model(x), axis=-1))
    np.testing.assert_allclose(store["saliency/meta"][:], tape.gradient(score, x)[1].numpy(), rtol=1e-5, atol=1e-6)
    group = zarr.open_group(str(path), mode="r")
    assert tuple(group["guided/meta"].metadata.dimension_names) == ("input", "feature")
    assert tuple(group["guided/image"].metadata.dimension_names) == ("input", "height", "width", "channel")
    with pytest.raises(KeyError, match=r"No maps of rule 'guided/meta/x'"):
        store["guided/meta/x"]


def test_several_inputs_bad_sources_are_refused(two_input_model, tmp_path):
    images, meta = np.zeros((4, 8, 8, 1), np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"keyed \['image', 'meta'\].*missing \['meta'\]"):
        _explain(two_input_model, {"image": images}, tmp_path / "a.zarr")
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"takes 2 inputs.*Received: source of type ndarray"):
        _explain(two_input_model, images, tmp_path / "b.zarr")
    with pytest.raises(kv.errors.InvalidInputError, match=r"same number N >= 1 of rows.*'meta': 3"):
        _explain(two_input_model, [images, meta[:3]], tmp_path / "c.zarr")
    with pytest.raises(kv.errors.InvalidInputError, match=r"input 'meta' must be shaped \(N, 3\)"):
        _explain(two_input_model, [images, np.zeros((4, 5), np.float32)], tmp_path / "d.zarr")
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"local engine only.*Received: engine='ray'"):
        _explain(two_input_model, [images, meta], tmp_path / "e.zarr", engine="ray")


def test_segmentation_store_with_region_masks_per_input(tmp_path):
    keras.utils.set_random_seed(10)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(hidden), name="segmenter")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 8, 8, 1)).astype(np.float32)
    masks = rng.random((6, 8, 8)) > 0.7
    target = kv.targets.Region(1, masks)
    store = _explain(model, x, tmp_path / "seg.zarr", target=target)
    reference = kv.Visualizer(model, RULES)(x, target=target, progress=False)
    for rule in RULES:
        np.testing.assert_array_equal(store[rule][:], reference[rule])
    # chunk 2 (inputs 4, 5) used masks 4, 5: its saliency is the tape gradient of their masked sums
    xs = tf.constant(x[4:])
    with tf.GradientTape() as tape:
        tape.watch(xs)
        score = tf.reduce_sum(model(xs)[..., 1] * masks[4:].astype(np.float32))
    np.testing.assert_allclose(store["saliency"][4:], tape.gradient(score, xs).numpy(), rtol=1e-5, atol=1e-6)
    table = store.table
    np.testing.assert_allclose(table["score"], (model(x).numpy()[..., 1] * masks).sum(axis=(1, 2)), rtol=1e-5)
    assert table["predicted"].tolist() == [-1] * 6 and table["target"].tolist() == [1] * 6
    with pytest.raises(kv.errors.StoreSettingsError, match=r"target was 'Region\(mask, sha256:"):
        _explain(model, x, tmp_path / "seg.zarr", target=kv.targets.Region(1, ~masks))
    with pytest.raises(kv.errors.InvalidTargetError, match=r"one mask for each of the 6 inputs.*\(5, 8, 8\)"):
        _explain(model, x, tmp_path / "seg5.zarr", target=kv.targets.Region(1, masks[:5]))

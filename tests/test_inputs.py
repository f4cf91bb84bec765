"""Several inputs, token ids, sequences and tables (kerasviz/inputs.py and the Visualizer).

References are not the code under test: a hand-written forward of the same
weights whose ReLUs have the rule's gradient written here (`tf.custom_gradient`),
differentiated with `tf.GradientTape`; Integrated Gradients' completeness.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_override import _reference_relu

import kerasviz as kv
from kerasviz.errors import InvalidArgumentError, InvalidInputError

L = keras.layers
INIT = keras.initializers.RandomNormal(stddev=0.5)


def _rule_gradients(forward, xs, classes):
    """{rule: [d forward(xs, relu)[:, class] / d x for x in xs]} with the rule's ReLU."""
    out = {}
    for rule in kv.RULES:
        ts = [tf.constant(x) for x in xs]
        with tf.GradientTape() as tape:
            for t in ts:
                tape.watch(t)
            logits = forward(ts, _reference_relu(rule))
            score = tf.gather(logits, classes, batch_dims=1)
        out[rule] = [g.numpy() for g in tape.gradient(score, ts)]
    return out


def _close(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=what)


# -- two inputs: an image and metadata ------------------------------------------------


def _two_input_model():
    keras.utils.set_random_seed(0)
    image = keras.Input((8, 8, 2), name="image")
    meta = keras.Input((3,), name="meta")
    h = L.Conv2D(4, 3, activation="relu", bias_initializer=INIT, name="conv")(image)
    h = L.GlobalAveragePooling2D()(h)
    m = L.Dense(5, activation="relu", bias_initializer=INIT, name="meta_dense")(meta)
    out = L.Dense(3, name="head", kernel_initializer=INIT)(L.Concatenate()([h, m]))
    return keras.Model([image, meta], out, name="two_inputs")


def _two_input_forward(model):
    conv, dense, head = model.get_layer("conv"), model.get_layer("meta_dense"), model.get_layer("head")

    def forward(xs, relu):
        h = tf.reduce_mean(relu(tf.nn.conv2d(xs[0], conv.kernel, 1, "VALID") + conv.bias), axis=(1, 2))
        m = relu(xs[1] @ dense.kernel + dense.bias)
        return tf.concat([h, m], axis=-1) @ head.kernel + head.bias

    return forward


def _two_inputs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 2)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32)


def test_two_inputs_give_a_map_per_input_in_the_structure_given():
    model = _two_input_model()
    images, meta = _two_inputs()
    reference = _rule_gradients(_two_input_forward(model), [images, meta], np.zeros(3, int))
    maps = kv.visualize(model, [images, meta], rules=kv.RULES, target=0, progress=False)
    for rule in kv.RULES:
        assert isinstance(maps[rule], list) and len(maps[rule]) == 2
        _close(maps[rule][0], reference[rule][0], f"{rule} image")
        _close(maps[rule][1], reference[rule][1], f"{rule} meta")
    assert not np.allclose(reference["guided"][1], reference["saliency"][1])
    as_dict = kv.visualize(model, {"meta": meta, "image": images}, rules=("guided",), target=0, progress=False)
    assert sorted(as_dict["guided"]) == ["image", "meta"]
    _close(as_dict["guided"]["meta"], reference["guided"][1])
    only_meta = kv.visualize(model, [images, meta], rules=("guided",), target=0, inputs="meta", progress=False)
    _close(only_meta["guided"], reference["guided"][1])


def test_two_inputs_k_classes_per_sample():
    model = _two_input_model()
    images, meta = _two_inputs(seed=1)
    maps = kv.Visualizer(model, rules=kv.RULES)([images, meta], target=[[0, 2]] * 3, progress=False)
    for k, c in enumerate((0, 2)):
        reference = _rule_gradients(_two_input_forward(model), [images, meta], np.full(3, c))
        for rule in kv.RULES:
            _close(maps[rule][0][:, k], reference[rule][0])
            _close(maps[rule][1][:, k], reference[rule][1])


def test_integrated_gradients_take_a_baseline_per_input_and_are_complete():
    model = _two_input_model()
    images, meta = _two_inputs(seed=2)
    base_meta = np.full(3, 0.5, np.float32)
    ig = kv.methods.IntegratedGradients(steps=256, baseline={"meta": base_meta})
    maps = kv.visualize(model, [images, meta], rules=("saliency",), target=1, method=ig, progress=False)
    logits = model([images, meta]).numpy()[:, 1]
    at_baseline = model([np.zeros_like(images), np.broadcast_to(base_meta, meta.shape)]).numpy()[:, 1]
    total = maps["saliency"][0].sum(axis=(1, 2, 3)) + maps["saliency"][1].sum(axis=1)
    np.testing.assert_allclose(total, logits - at_baseline, rtol=2e-2, atol=2e-3)
    assert "baseline={'meta': array(shape=(3,)" in repr(ig)


def test_smoothgrad_noises_each_input_with_its_own_scale_and_stream():
    model = _two_input_model()
    images, meta = _two_inputs(n=2, seed=3)
    sg = kv.methods.SmoothGrad(samples=3, noise=0.2, seed=5)
    maps = kv.visualize(model, [images, meta], rules=("saliency",), target=2, method=sg, progress=False)
    for i in range(2):
        noisy = []
        for j, x in enumerate((images[i], meta[i])):
            sigma = np.float32(0.2 * (x.max() - x.min()))
            rng = np.random.default_rng([5, i] + ([j] if j else []))
            noisy.append(x + sigma * rng.standard_normal((3, *x.shape), dtype=np.float32))
        ts = [tf.constant(a) for a in noisy]
        with tf.GradientTape() as tape:
            for t in ts:
                tape.watch(t)
            score = model(ts)[:, 2]
        grads = tape.gradient(score, ts)
        _close(maps["saliency"][0][i], grads[0].numpy().mean(axis=0))
        _close(maps["saliency"][1][i], grads[1].numpy().mean(axis=0))


def test_gradcam_on_two_inputs_upsamples_to_the_image_input():
    model = _two_input_model()
    images, meta = _two_inputs()
    cams = kv.visualize(model, [images, meta], rules=("saliency",), target=0,
                        method=kv.methods.GradCAM("conv"), progress=False)
    assert cams["saliency"].shape == (3, 8, 8)
    tapped = keras.Model(model.inputs, [model.get_layer("conv").output, model.output])
    with tf.GradientTape() as tape:
        a, logits = tapped([images, meta])
        score = logits[:, 0]
    g = tape.gradient(score, a).numpy()
    cam = np.maximum((g.mean(axis=(1, 2), keepdims=True) * a.numpy()).sum(-1), 0)
    expected = tf.image.resize(cam[..., None], (8, 8), method="bilinear").numpy()[..., 0]
    _close(cams["saliency"], expected)


@pytest.mark.parametrize("given, message", [
    (lambda im, me: [im], "The model takes 2 input(s), 'image' (N, 8, 8, 2), 'meta' (N, 3): give one array per "
                          "input, in this order (or a dict keyed by name). Received: 1 arrays"),
    (lambda im, me: im, "The model takes 2 inputs, 'image' (N, 8, 8, 2), 'meta' (N, 3): give a list of one "
                        "array per input, or a dict keyed by name. Received: ndarray"),
    (lambda im, me: {"image": im}, "`images` as a dict needs one array per model input, keyed by name: "
                                   "'image' (N, 8, 8, 2), 'meta' (N, 3). Received: keys=['image']"),
    (lambda im, me: [im, me[:2]], "Every input needs the same number of samples; nothing is broadcast. "
                                  "Received: image: 3, meta: 2"),
    (lambda im, me: [im, me[:, :2]], "`images['meta']` must be a non-empty batch shaped (N, 3) for input 'meta'. "
                                     "Received: shape=(3, 2)"),
    (lambda im, me: [im, me[0]], "`images['meta']` must be a non-empty batch shaped (N, 3) for input 'meta'. "
                                 "For one sample, pass images['meta'][None]. Received: shape=(3,)"),
    (lambda im, me: [im, me * np.nan], "`images['meta']` contains 9 NaN or Inf values; gradients of them are "
                                       "meaningless. Received: shape=(3, 3)"),
])
def test_inputs_that_do_not_match_the_model_are_refused(given, message):
    viz = kv.Visualizer(_two_input_model(), rules=("saliency",))
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        viz(given(*_two_inputs()), progress=False)


def test_inputs_argument_names_inputs_of_the_model():
    with pytest.raises(InvalidArgumentError, match=re.escape(
            "inputs= names the inputs to explain by name or index: 'image' (N, 8, 8, 2), 'meta' (N, 3). "
            "Received: inputs='label'")):
        kv.Visualizer(_two_input_model(), inputs="label")


# -- tokens ---------------------------------------------------------------------------


def _text_model():
    keras.utils.set_random_seed(4)
    ids = keras.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(12, 4, name="emb")(ids)
    h = L.Conv1D(5, 3, activation="relu", bias_initializer=INIT, name="conv")(e)
    out = L.Dense(2, name="head")(L.GlobalAveragePooling1D()(h))
    model = keras.Model(ids, out, name="text")
    # Head weights of both signs for each class, whatever the random draw gave: then GBP and DeconvNet
    # must differ from saliency (with one sign only, a draw could make them equal).
    signs = np.array([[1, -1], [-1, 1], [1, 1], [-1, -1], [1, -1]], np.float32)
    model.get_layer("head").kernel.assign(np.abs(model.get_layer("head").kernel.numpy()) * signs + 0.1 * signs)
    # Biases fixed too (INIT's seed is drawn when the test module is imported, so depends on test order):
    # channels on and off whatever the small embedding gives, among them one that GBP cuts for each class.
    model.get_layer("conv").bias.assign(np.array([0.5, -0.5, 0.5, 0.5, -0.5], np.float32))
    return model


def _text_forward(model):
    conv, head = model.get_layer("conv"), model.get_layer("head")

    def forward(xs, relu):
        h = relu(tf.nn.conv1d(xs[0], conv.kernel, 1, "VALID") + conv.bias)
        return tf.reduce_mean(h, axis=1) @ head.kernel + head.bias

    return forward


def test_token_ids_are_explained_at_the_embedding_output():
    model = _text_model()
    ids = np.random.default_rng(0).integers(0, 12, (3, 6))
    maps = kv.visualize(model, ids, rules=kv.RULES, target=1, progress=False)
    embedded = model.get_layer("emb").embeddings.numpy()[ids]
    reference = _rule_gradients(_text_forward(model), [embedded], np.ones(3, int))
    for rule in kv.RULES:
        assert maps[rule].shape == (3, 6, 4)
        _close(maps[rule], reference[rule][0], rule)
    assert not np.allclose(reference["guided"][0], reference["saliency"][0])


def test_token_integrated_gradients_from_a_pad_embedding_are_complete():
    model = _text_model()
    ids = np.random.default_rng(1).integers(1, 12, (2, 6))
    table = model.get_layer("emb").embeddings.numpy()
    ig = kv.methods.IntegratedGradients(steps=256, baseline=table[0])  # the pad id 0's embedding
    maps = kv.visualize(model, ids, rules=("saliency",), target=0, method=ig, progress=False)
    expected = model(ids).numpy()[:, 0] - model(np.zeros_like(ids)).numpy()[:, 0]
    np.testing.assert_allclose(maps["saliency"].sum(axis=(1, 2)), expected, rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("ids, message", [
    (np.full((2, 6), 1.0), "`images` holds ids for input 'ids' (int32): give integers (float ids are not "
                           "rounded). Received: dtype=float64"),
    (np.full((2, 6), 12), "`images` holds ids outside the vocabulary of 'emb' (0..11). Received: min=12, max=12"),
    (np.full((2, 5), 1), "`images` must be shaped (N, 6) (a non-empty batch) for input 'ids'. "
                         "Received: shape=(2, 5)"),
])
def test_bad_token_ids_are_refused(ids, message):
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        kv.visualize(_text_model(), ids, rules=("saliency",), progress=False)


# -- sequences and tables ---------------------------------------------------------------


def test_sequence_and_table_models_follow_the_rules():
    keras.utils.set_random_seed(5)
    seq_in = keras.Input((10, 3))
    conv = L.Conv1D(4, 3, activation="relu", bias_initializer=INIT)
    head = L.Dense(2)
    sequence = keras.Model(seq_in, head(L.Flatten()(conv(seq_in))))
    x = np.random.default_rng(2).normal(size=(3, 10, 3)).astype(np.float32)

    def seq_forward(xs, relu):
        h = relu(tf.nn.conv1d(xs[0], conv.kernel, 1, "VALID") + conv.bias)
        return tf.reshape(h, (3, -1)) @ head.kernel + head.bias

    maps = kv.visualize(sequence, x, rules=kv.RULES, target=1, progress=False)
    reference = _rule_gradients(seq_forward, [x], np.ones(3, int))
    for rule in kv.RULES:
        _close(maps[rule], reference[rule][0], f"sequence {rule}")

    table_in = keras.Input((6,))
    d1, d2 = L.Dense(8, activation="relu", bias_initializer=INIT), L.Dense(3)
    table = keras.Model(table_in, d2(d1(table_in)))
    t = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    maps = kv.visualize(table, t, rules=kv.RULES, target=2, progress=False)
    reference = _rule_gradients(lambda xs, relu: relu(xs[0] @ d1.kernel + d1.bias) @ d2.kernel + d2.bias,
                                [t], np.full(4, 2))
    for rule in kv.RULES:
        _close(maps[rule], reference[rule][0], f"table {rule}")


def test_sanity_check_of_an_image_input_equals_that_of_the_image_only_model():
    """The meta branch adds a constant per sample (zero kernel): the image's maps and scores are those
    of the image-only model made of the same layers."""
    model = _two_input_model()
    model.get_layer("meta_dense").set_weights([np.zeros((3, 5), np.float32), np.zeros(5, np.float32)])
    pooled = L.GlobalAveragePooling2D()(model.get_layer("conv").output)
    no_meta = keras.ops.zeros_like(model.inputs[0][:, 0, 0, :1]) * np.zeros((1, 5), np.float32)
    image_only = keras.Model(model.inputs[0], model.get_layer("head")(L.Concatenate()([pooled, no_meta])))
    images, meta = _two_inputs(n=3, seed=9)
    both = kv.analysis.sanity_check(model, [images, meta], rules=("saliency", "guided"), num_random_classes=2,
                                    layers=["conv"], progress=False)
    alone = kv.analysis.sanity_check(image_only, images, rules=("saliency", "guided"), num_random_classes=2,
                                     layers=["conv"], progress=False)
    for label in ("saliency", "guided"):
        assert both.results[label].class_ssim == pytest.approx(alone.results[label].class_ssim, abs=1e-4)
        assert both.results[label].recovery == pytest.approx(alone.results[label].recovery, abs=1e-4)
        assert both.results[label].input_similarity == pytest.approx(alone.results[label].input_similarity, abs=1e-4)
        assert [step.ssim for step in both.results[label].cascade] == pytest.approx(
            [step.ssim for step in alone.results[label].cascade], abs=1e-4)


def test_a_masking_embedding_is_refused_with_the_reason():
    ids = keras.Input((4,), dtype="int32")
    h = L.Embedding(5, 3, mask_zero=True, name="masked")(ids)
    model = keras.Model(ids, L.Dense(2)(L.GlobalAveragePooling1D()(h)))
    with pytest.raises(kv.errors.UnsupportedModelError, match=re.escape(
            "Embedding 'masked' has mask_zero=True: its padding mask comes from the ids, which that split model "
            "does not take.")):
        kv.Visualizer(model, rules=("saliency",))

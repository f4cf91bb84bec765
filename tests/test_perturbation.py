"""Layer-CAM, Score-CAM, Occlusion, RISE and KernelSHAP against independent references.

Layer-CAM and Score-CAM are rebuilt in NumPy from the layer's activations
and `tf.GradientTape` gradients (of `kv.rewrite(model, rule)` for the other
rules) and the user's model's own logits; Occlusion by an explicit loop over
the windows; RISE and KernelSHAP on a linear model whose score depends only
on a known region (whose exact Shapley values are known).
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz import methods
from kerasviz.errors import InvalidArgumentError, InvalidTargetError, KerasvizError

SIZE = 16


def _net(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal", name="c1"),
        keras.layers.Conv2D(5, 3, strides=2, activation="relu", bias_initializer="random_normal", name="c2"),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer="random_normal", name="logits"),
    ])


@pytest.fixture(scope="module")
def model():
    return _net()


@pytest.fixture(scope="module")
def viz(model):
    return kv.Visualizer(model, rules=kv.RULES)


def _images(n=2, seed=1):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, SIZE, SIZE, 3)).astype(np.float32)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def _resize(a, height, width):
    """NumPy bilinear upsampling with half-pixel centres (edge pixels clamped)."""

    def axis(out, size):
        src = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, size - 1), src - lo

    r0, r1, fr = axis(height, a.shape[0])
    c0, c1, fc = axis(width, a.shape[1])
    rows = a[r0] * (1 - fr)[:, None] + a[r1] * fr[:, None]
    return rows[:, c0] * (1 - fc)[None] + rows[:, c1] * fc[None]


def _logits(model, x):
    return model(tf.constant(x, tf.float32), training=False).numpy().astype(np.float64)


# -- Layer-CAM ---------------------------------------------------------------------------


def test_layercam_matches_numpy_from_the_layers_activations_and_gradients(model, viz):
    x = _images()
    classes = np.array([1, 3])
    cams = viz(x, target=classes, method=methods.LayerCAM(layer="c2"), progress=False)
    for rule in kv.RULES:
        if rule == "saliency":
            probe = keras.Model(model.inputs, [model.get_layer("c2").output, model.outputs[0]])
        else:  # the rewrite splits the fused ReLU: kv.tap takes the output after it
            probe = kv.tap(kv.rewrite(model, rule), ["c2"])
        with tf.GradientTape() as tape:
            a, logits = probe(tf.constant(x), training=False)
            score = tf.gather(logits, classes[:, None], axis=-1, batch_dims=1)
        g = tape.gradient(score, a).numpy().astype(np.float64)
        a = a.numpy().astype(np.float64)
        expected = np.stack([_resize(np.maximum((np.maximum(g[i], 0) * a[i]).sum(-1), 0), SIZE, SIZE)
                             for i in range(len(x))])
        assert cams[rule].shape == (2, SIZE, SIZE)
        np.testing.assert_allclose(cams[rule], expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert np.abs(cams["saliency"]).max() > 0
    assert methods.resolve("layercam") == methods.LayerCAM()


# -- Score-CAM ---------------------------------------------------------------------------


def test_scorecam_matches_numpy_from_the_layers_activations_and_the_models_softmax(model, viz):
    x = _images()
    classes = np.array([0, 2])
    cams = viz(x, target=classes, method=methods.ScoreCAM(layer="c2"), progress=False)
    activations = keras.Model(model.inputs, model.get_layer("c2").output)(tf.constant(x)).numpy().astype(np.float64)
    for i in range(len(x)):
        total = np.zeros((SIZE, SIZE))
        for c in range(activations.shape[-1]):
            up = _resize(activations[i, :, :, c], SIZE, SIZE)
            if up.max() == up.min():
                continue  # the authors' code skips a constant channel
            mask = (up - up.min()) / (up.max() - up.min())
            logits = _logits(model, (x[i] * mask[..., None])[None])[0]
            probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            total += probabilities[classes[i]] * up
        np.testing.assert_allclose(cams["saliency"][i], np.maximum(total, 0), rtol=1e-4, atol=1e-6)
    assert cams["guided"] is cams["saliency"]  # no gradient: one map for every rule


def test_scorecam_takes_class_targets_only(viz):
    with _raises(InvalidTargetError, "Score-CAM weighs each channel by the softmax probability of a class: "
                 "use target='max', 'random', a class index or class indices. Received: target=Loss(labels=[0, 1])"):
        viz(_images(), target="loss", labels=[0, 1], method=methods.ScoreCAM(), progress=False)


# -- Occlusion ---------------------------------------------------------------------------


@pytest.mark.parametrize("window, stride", [(4, 3), ((5, 3), (4, 2))])
def test_occlusion_matches_an_explicit_loop_over_the_windows(model, viz, window, stride):
    x = _images()
    maps = viz(x, target=2, method=methods.Occlusion(window=window, stride=stride, baseline=0.5),
               batch_size=7, progress=False)
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    full = _logits(model, x)[:, 2]
    total, count = np.zeros((2, SIZE, SIZE)), np.zeros((SIZE, SIZE))
    r = 0
    while True:  # Captum's windows: every stride until one reaches the edge, the last one cut
        c = 0
        while True:
            occluded = x.copy()
            occluded[:, r:r + wh, c:c + ww] = 0.5
            total[:, r:r + wh, c:c + ww] += (full - _logits(model, occluded)[:, 2])[:, None, None]
            count[r:r + wh, c:c + ww] += 1
            if c + ww >= SIZE:
                break
            c += sw
        if r + wh >= SIZE:
            break
        r += sh
    np.testing.assert_allclose(maps["deconvnet"], total / count, rtol=1e-4, atol=1e-5)
    assert maps["saliency"] is maps["guided"] is maps["deconvnet"]


def test_occlusion_refuses_a_window_larger_than_the_image(viz):
    with _raises(InvalidArgumentError, "The occlusion window (20, 20) is larger than the images (16, 16); "
                 "choose a window of at most the image's size. Received: window=(20, 20)"):
        viz(_images(), target=1, method=methods.Occlusion(window=20), progress=False)
    with pytest.raises(KerasvizError, match=r"Received: stride=0$"):
        methods.Occlusion(stride=0)


# -- RISE and KernelSHAP on a model that reads one region -------------------------------

REGION = (slice(2, 7), slice(9, 15))


@pytest.fixture(scope="module")
def regional():
    """Logit 0 = Σ w x over REGION only (w > 0); logit 1 = 0."""
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    weights = np.zeros((SIZE, SIZE, 3, 2), np.float32)
    region = REGION + (slice(None), 0)
    weights[region] = np.random.default_rng(3).uniform(0.5, 1.5, weights[region].shape)
    model.layers[-1].set_weights([weights.reshape(-1, 2), np.zeros(2, np.float32)])
    return model, weights[..., 0]


def _region_mask():
    mask = np.zeros((SIZE, SIZE), bool)
    mask[REGION] = True
    return mask


def test_rise_ranks_the_region_the_score_reads_first(regional):
    model, _ = regional
    x = _images(2, seed=5)
    rise = methods.RISE(masks=800, cell=8, probability=0.5, seed=0)
    maps = kv.Visualizer(model, rules=("saliency",))(x, target=0, method=rise, progress=False)["saliency"]
    inside = _region_mask()
    for m in maps:
        top = np.argsort(-m.ravel(), kind="stable")[:inside.sum()]
        assert inside.ravel()[top].mean() >= 0.8
    # the documented formula, from the documented masks
    masks = np.stack([rise.mask(k, SIZE, SIZE) for k in range(800)]).astype(np.float64)
    scores = np.stack([_logits(model, x[i] * masks[..., None].astype(np.float32))[:, 0] for i in range(2)])
    expected = np.einsum("nk,khw->nhw", scores, masks) / (800 * 0.5)
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-5)
    again = kv.Visualizer(model, rules=("saliency",))(x, target=0, method=rise, batch_size=9, progress=False)
    np.testing.assert_allclose(again["saliency"], maps, rtol=1e-5)


def test_rise_masks_are_smooth_binary_grids_kept_with_the_probability():
    rise = methods.RISE(masks=10, cell=4, probability=0.3, seed=1)
    masks = np.stack([rise.mask(k, 16, 16) for k in range(300)])
    assert masks.min() >= 0 and masks.max() <= 1
    assert abs(masks.mean() - 0.3) < 0.05
    assert not np.array_equal(rise.mask(0, 16, 16), methods.RISE(seed=2).mask(0, 16, 16))


@pytest.mark.parametrize("probability", [0, 1, 1.5, -0.1, True])
def test_rise_refuses_a_probability_outside_0_1(probability):
    with _raises(InvalidArgumentError, "`probability` (that a cell is kept) must be a number strictly between "
                 f"0 and 1, e.g. 0.5. Received: probability={probability!r}"):
        methods.RISE(probability=probability)


def test_kernelshap_gives_the_exact_shapley_values_of_a_linear_score(regional):
    model, weights = regional
    # 4x4 blocks of random colours: superpixels that follow them, some inside the region, some away from it
    blocks = np.random.default_rng(6).uniform(0.0, 1.0, (2, 4, 4, 3)).astype(np.float32)
    x = blocks.repeat(4, axis=1).repeat(4, axis=2)
    shap = methods.KernelSHAP(segments=16, samples=300, seed=0)
    viz = kv.Visualizer(model, rules=("saliency", "guided"), on_unsupported="keep")
    maps = viz(x, target=0, method=shap, progress=False)
    inside = _region_mask()
    for i, m in enumerate(maps["saliency"]):
        labels = shap.segmentation(x[i])
        # A linear score is additive over superpixels: each one's Shapley value is Σ w x over it.
        contribution = (weights * x[i]).sum(-1)
        exact = np.array([contribution[labels == s].sum() for s in range(labels.max() + 1)])
        np.testing.assert_allclose(m, exact[labels], rtol=1e-4, atol=1e-4)
        # efficiency: the values sum to S(x) - S(all superpixels at the baseline)
        values = np.array([m[labels == s][0] for s in range(labels.max() + 1)])
        assert values.sum() == pytest.approx(_logits(model, x[i:i + 1])[0, 0] - _logits(model, 0 * x[:1])[0, 0],
                                             rel=1e-5)
        top = np.unravel_index(np.argmax(m), m.shape)
        assert inside[labels == labels[top]].any()  # a superpixel of the region ranks first
        assert np.abs(m[~np.isin(labels, np.unique(labels[inside]))]).max() < 1e-4
    assert maps["guided"] is maps["saliency"]


def test_kernelshap_efficiency_holds_on_a_relu_network(model, viz):
    x = _images(1, seed=7)
    shap = methods.KernelSHAP(segments=8, samples=60, baseline=0.25, seed=3)
    m = viz(x, target=1, method=shap, progress=False)["saliency"][0]
    labels = shap.segmentation(x[0])
    values = np.array([m[labels == s][0] for s in range(labels.max() + 1)])
    expected = _logits(model, x)[0, 1] - _logits(model, np.full_like(x, 0.25))[0, 1]
    assert values.sum() == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_perturbation_maps_have_a_class_axis_for_several_classes(viz, model):
    x = _images()
    maps = viz(x, target=[[0, 1], [2, 3]], method=methods.Occlusion(window=8, stride=8), progress=False)
    one = viz(x, target=[1, 2], method=methods.Occlusion(window=8, stride=8), progress=False)
    assert maps["saliency"].shape == (2, 2, SIZE, SIZE)
    np.testing.assert_allclose(maps["saliency"][:, 1, ...][[0]], one["saliency"][[0]], rtol=1e-5)
    np.testing.assert_allclose(maps["saliency"][:, 0, ...][[1]], one["saliency"][[1]], rtol=1e-5)

"""Maps in reduced precision (`precision="bfloat16" | "float16"`).

References: Keras's own mixed-precision model (the same layers built under a
`mixed_bfloat16` policy, the same weights) differentiated with
`tf.GradientTape`; float32 maps computed in the test; NumPy for ties,
correlations and IG's completeness.
"""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz import precision as precision_lib

REDUCED = ("bfloat16", "float16")


def _small_cnn(seed=0, name="small", softmax=True):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, name="conv2"),
        keras.layers.ReLU(),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax" if softmax else None, name="logits"),
    ], name=name)


def _images(n=4, size=12, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, size, size, 3)).astype(np.float32)


def _pearson(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["bf16", "float64", "FLOAT32", None, 16, np.float16])
def test_unknown_precisions_are_refused_with_the_choices(bad):
    message = (r"precision is the floating-point type maps are computed in: 'float32' \(exact\), "
               r"'bfloat16' or 'float16' .* Choose one of 'float32', 'bfloat16', 'float16'\. "
               rf"Received: precision={__import__('re').escape(repr(bad))}$")
    with pytest.raises(kv.errors.KerasvizError, match=message) as info:
        kv.Visualizer(_small_cnn(), precision=bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(kv.errors.InvalidArgumentError, match=message):
        kv.visualize(_small_cnn(), _images(), precision=bad)
    if bad is not None:  # rewrite's None keeps each layer's own policy
        with pytest.raises(kv.errors.InvalidArgumentError, match=message):
            kv.rewrite(_small_cnn(), "guided", precision=bad)


def test_precision_report_refuses_float32_and_k_classes(fast_probe):
    with pytest.raises(kv.errors.InvalidArgumentError, match="choose 'bfloat16' or 'float16'. "
                       "Received: precision='float32'"):
        kv.precision_report(_small_cnn(), _images(), precision="float32")
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"not K classes per image. "
                       r"Received: target of shape \(4, 2\)"):
        kv.precision_report(_small_cnn(), _images(), target=[[0, 1]] * 4)


# -- what is computed in which type ---------------------------------------------------------


@pytest.mark.parametrize("precision", REDUCED)
def test_rewritten_layers_compute_in_the_reduced_type_on_the_users_variables(precision, fast_probe):
    model = _small_cnn()
    before = [v.numpy().copy() for v in model.weights]
    policies = [layer.dtype_policy.name for layer in model.layers]
    viz = kv.Visualizer(model, precision=precision)
    computing = [layer for layer in viz.model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert {layer.compute_dtype for layer in computing} == {precision}
    assert {layer.variable_dtype for layer in computing} == {"float32"}
    # shared, not copied: the very same variables, still float32
    assert {id(v) for v in viz.model.weights} == {id(v) for v in model.weights}
    assert all(v.dtype == "float32" for v in model.weights)
    maps = viz(_images(), progress=False)
    assert {m.dtype for m in maps.values()} == {np.dtype(np.float32)}
    assert viz.predict(_images()).dtype == np.float32
    # the user's model and the global policy are untouched
    assert [layer.dtype_policy.name for layer in model.layers] == policies
    assert keras.mixed_precision.global_policy().name == "float32"
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))


def test_bfloat16_saliency_equals_keras_mixed_precision_gradient(fast_probe):
    """The reference: the same network built by Keras under 'mixed_bfloat16', same weights."""
    model, x = _small_cnn(softmax=False), _images()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        twin = _small_cnn(name="twin", softmax=False)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    twin.set_weights(model.get_weights())
    assert twin.layers[0].compute_dtype == "bfloat16"

    @tf.function
    def saliency(xt):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            logits = tf.cast(twin(xt, training=False), tf.float32)
            score = tf.gather(logits, tf.argmax(logits, axis=-1), axis=1, batch_dims=1)
        return tape.gradient(score, xt)

    reference = saliency(tf.constant(x)).numpy()
    got = kv.Visualizer(model, rules=("saliency",), precision="bfloat16")(x, progress=False)["saliency"]
    float32 = kv.Visualizer(model, rules=("saliency",))(x, progress=False)["saliency"]
    np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-7)
    assert not np.allclose(got, float32, rtol=1e-4, atol=0)  # it really ran in bfloat16
    assert _pearson(got, float32) > 0.99


def _assert_close(got, expected, threshold, where):
    assert got.dtype == np.float32 and got.shape == expected.shape, where
    assert np.isfinite(got).all(), where
    if expected.std() == 0:  # e.g. a Grad-CAM that ReLU zeroed: nothing to correlate
        np.testing.assert_allclose(got, expected, atol=1e-6 * max(1.0, float(np.abs(expected).max())))
    else:
        assert _pearson(got, expected) > threshold, where


METHODS = [None, "gradxinput", kv.methods.SmoothGrad(samples=3), kv.methods.IntegratedGradients(steps=4),
           kv.methods.GradCAM("conv2"), kv.methods.GradCAM("conv2", plus_plus=True),
           kv.methods.GuidedGradCAM("conv2")]


@pytest.fixture(scope="module")
def both_visualizers(fast_probe):
    model = _small_cnn()
    return kv.Visualizer(model), kv.Visualizer(model, precision="bfloat16")


@pytest.mark.parametrize("method", METHODS, ids=repr)
def test_every_method_gives_float32_maps_close_to_float32(method, both_visualizers):
    single, reduced = both_visualizers
    x = _images()
    expected = single(x, method=method, progress=False)
    got = reduced(x, method=method, progress=False)
    assert reduced.ties == 0
    for rule in kv.RULES:
        if getattr(method, "plus_plus", False):
            # Grad-CAM++'s weights divide by 2g² + g³ΣA, which cancels: rounding g to
            # bfloat16 can move it arbitrarily far, so only dtype and shape are checked.
            assert got[rule].dtype == np.float32 and got[rule].shape == expected[rule].shape
            continue
        _assert_close(got[rule], expected[rule], 0.98, (method, rule))


@pytest.mark.parametrize("target", [1, [[0, 3]] * 4, "random", "loss", kv.targets.Neuron("conv2", 2)],
                         ids=repr)
def test_every_target_works_in_bfloat16(target, both_visualizers):
    single, reduced = both_visualizers
    x = _images()
    expected = single(x, target=target, progress=False)
    got = reduced(x, target=target, progress=False)
    assert reduced.ties == 0
    for rule in kv.RULES:
        _assert_close(got[rule], expected[rule], 0.98, (target, rule))


def test_float16_works_for_the_methods_too(fast_probe):
    model, x = _small_cnn(), _images(2)
    viz = kv.Visualizer(model, precision="float16")
    assert {layer.compute_dtype for layer in viz.model.layers[1:]} == {"float16"}
    for method in (None, kv.methods.SmoothGrad(samples=2), kv.methods.GradCAM("conv2")):
        maps = viz(x, method=method, progress=False)
        reference = kv.Visualizer(model)(x, method=method, progress=False)
        for rule in kv.RULES:
            _assert_close(maps[rule], reference[rule], 0.99, (method, rule))


def test_nested_models_and_branches_compute_in_the_reduced_type(fast_probe):
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.Conv2D(8, 3)], name="inner")
    x_in = keras.Input((12, 12, 3))
    h = keras.layers.ReLU()(inner(x_in))
    h = keras.layers.Add()([h, keras.layers.Conv2D(8, 1, activation="relu")(h)])
    model = keras.Model(x_in, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(h)))
    viz = kv.Visualizer(model, precision="bfloat16")
    nested = viz.model.get_layer("inner")
    assert {layer.compute_dtype for layer in nested.layers if layer.weights} == {"bfloat16"}
    assert {layer.compute_dtype for layer in viz.model.layers
            if not isinstance(layer, (keras.layers.InputLayer, keras.Model))} == {"bfloat16"}
    assert {id(v) for v in viz.model.weights} == {id(v) for v in model.weights}
    x = _images()
    expected, got = kv.Visualizer(model)(x, progress=False), viz(x, progress=False)
    for rule in kv.RULES:
        _assert_close(got[rule], expected[rule], 0.99, rule)


# -- models built in mixed precision ---------------------------------------------------------


@pytest.mark.parametrize("precision", ("float32", "bfloat16"))
def test_a_mixed_float16_model_works_in_every_precision(precision, mixed_float16, fast_probe):
    keras.mixed_precision.set_global_policy("float32")
    plain = _small_cnn()
    keras.mixed_precision.set_global_policy(mixed_float16)
    model = _small_cnn(name="mixed")
    model.set_weights(plain.get_weights())
    assert model.layers[0].compute_dtype == "float16"
    x = _images()
    reference = kv.Visualizer(plain)(x, progress=False)
    viz = kv.Visualizer(model, precision=precision)
    assert {layer.compute_dtype for layer in viz.model.layers[1:]} == {precision}
    maps = viz(x, progress=False)
    for rule in kv.RULES:
        assert maps[rule].dtype == np.float32
        if precision == "float32":  # float32 arithmetic on the float32 variables: the float32 maps
            np.testing.assert_allclose(maps[rule], reference[rule], rtol=1e-5, atol=1e-6)
        else:
            assert _pearson(maps[rule], reference[rule]) > 0.99
    assert model.layers[0].compute_dtype == "float16"  # the user's model is as it was
    assert keras.mixed_precision.global_policy().name == "mixed_float16"


# -- ties ---------------------------------------------------------------------------------------


def _near_tie_model():
    """Logits 1.0 and 1.002 plus a tiny input term: float32 picks class 1, bfloat16 rounds both to 1.0."""
    inputs = keras.Input((4, 4, 1))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(keras.layers.Flatten()(inputs))
    logits = keras.layers.Dense(3, name="logits")(hidden)
    model = keras.Model(inputs, logits)
    model.get_layer("hidden").set_weights([np.full((16, 3), 1e-4, np.float32), np.zeros(3, np.float32)])
    model.get_layer("logits").set_weights([np.full((3, 3), 1e-4, np.float32),
                                           np.array([1.0, 1.002, 0.0], np.float32)])
    return model


@pytest.mark.parametrize("method", [None, "smoothgrad"])
def test_argmax_ties_under_reduced_precision_are_reported(method, fast_probe):
    model, x = _near_tie_model(), np.ones((3, 4, 4, 1), np.float32)
    assert np.all(model(x).numpy().argmax(-1) == 1)
    single = kv.Visualizer(model, precision="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        single(x, method=method, progress=False)
    assert single.ties == 0
    reduced = kv.Visualizer(model, precision="bfloat16")
    assert precision_lib.count_ties(reduced.predict(x)) == 3  # reference: NumPy on the logits
    with pytest.warns(RuntimeWarning, match=r"3 of 3 images have a tie for the top class in their "
                      r"bfloat16 logits, so the predicted class .* is the lowest-index class"):
        reduced(x, method=method, progress=False)
    assert reduced.ties == 3
    with warnings.catch_warnings():  # given classes: no argmax, no tie to report
        warnings.simplefilter("error")
        reduced(x, target=1, method=method, progress=False)
    assert reduced.ties == 0


def test_count_ties_against_hand_made_logits():
    logits = np.array([[1.0, 3.0, 3.0], [0.0, 1.0, 2.0], [5.0, 5.0, 5.0], [2.0, 2.0, 9.0]])
    assert precision_lib.count_ties(logits) == 2
    assert precision_lib.count_ties(np.zeros((4, 1))) == 0


# -- the speed probe --------------------------------------------------------------------------


def test_a_slow_reduced_type_is_reported_once_with_its_ratio(monkeypatch):
    monkeypatch.setattr(precision_lib, "_measured", {"bfloat16": 1.73})
    monkeypatch.setattr(precision_lib, "_warned", set())
    with pytest.warns(RuntimeWarning, match=r"bfloat16 arithmetic is not faster than float32 on this "
                      r"machine: a convolution took 1\.73x the float32 time"):
        kv.Visualizer(_small_cnn(), precision="bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.Visualizer(_small_cnn(), precision="bfloat16")  # said once
        kv.Visualizer(_small_cnn(), precision="float32")   # float32 is never probed


def test_probe_times_both_types(monkeypatch):
    monkeypatch.setattr(precision_lib, "_measured", {})
    calls = []

    def fake(precision, shape, repeats):
        calls.append(shape)
        return {(1, 8, 8, 64): 9.0 if precision == "float16" else 1.0}.get(shape, 0.4)

    monkeypatch.setattr(precision_lib, "_conv_ratio", fake)
    assert precision_lib.probe_ratio("float16") == 9.0 and calls == [(1, 8, 8, 64)]  # settled by the tiny one
    assert precision_lib.probe_ratio("bfloat16") == 0.4 and calls[1:] == [(1, 8, 8, 64), (8, 24, 24, 64)]
    assert precision_lib.probe_ratio("bfloat16") == 0.4 and len(calls) == 3  # once per process
    assert precision_lib.probe_ratio("float32") == 1.0


def test_conv_ratio_measures_a_real_convolution():
    ratio = precision_lib._conv_ratio("bfloat16", (1, 8, 8, 16), 2)
    assert np.isfinite(ratio) and ratio > 0


# -- fidelity on the shipped trained nets --------------------------------------------------------


@pytest.fixture(scope="module")
def fashion_test():
    (_, _), (x, y) = kv.data.fashion_mnist()
    return x[:8], kv.data.to_rgb32(x[:8])


@pytest.mark.parametrize("net", ["fashion_cnn", "fashion_vgg"])
def test_bfloat16_maps_of_the_trained_nets_match_float32(net, fashion_test, fast_probe):
    model = getattr(kv.zoo, net)(weights="trained")
    x = fashion_test[0] if net == "fashion_cnn" else fashion_test[1]
    single, reduced = kv.Visualizer(model), kv.Visualizer(model, precision="bfloat16")
    smooth = kv.methods.SmoothGrad(samples=16, noise=0.15, seed=0)
    for method in (None, smooth):
        expected = single(x, method=method, progress=False)
        got = reduced(x, method=method, progress=False)
        assert reduced.ties == 0
        for rule in kv.RULES:
            r = np.array([_pearson(a, b) for a, b in zip(got[rule], expected[rule])])
            if method is None:
                assert np.median(r) >= 0.99, (net, rule, r)
            else:
                assert r.min() >= 0.99, (net, rule, r)


# -- precision_report -------------------------------------------------------------------------


def test_precision_report_measures_what_it_says(fast_probe):
    model, x = _small_cnn(), _images(6)
    report = kv.precision_report(model, x, rules=("saliency", "guided"), repeats=2)
    expected = kv.Visualizer(model, ("saliency", "guided"))(x, progress=False)
    got = kv.Visualizer(model, ("saliency", "guided"), precision="bfloat16")(x, progress=False)
    for rule in ("saliency", "guided"):
        np.testing.assert_allclose(report.pearson[rule],
                                   [_pearson(a, b) for a, b in zip(got[rule], expected[rule])], atol=1e-6)
        assert report.ssim[rule].shape == (6,) and np.all(report.ssim[rule] <= 1.0)
        ssim = kv.analysis.metrics.map_similarity(got[rule][0], expected[rule][0])["ssim"]
        assert report.ssim[rule][0] == pytest.approx(ssim)
    assert report.speed_ratio == pytest.approx(report.seconds_reduced / report.seconds_float32)
    assert report.changed_predictions == int(np.sum(kv.Visualizer(model).predict(x).argmax(-1)
                                                    != kv.Visualizer(model, precision="bfloat16")
                                                    .predict(x).argmax(-1)))
    text = str(report)
    assert text.startswith("kerasviz precision report: bfloat16 vs float32, Gradient(), 6 images")
    assert f"ratio {report.speed_ratio:.2f}" in text
    assert f"  {'saliency':<12} {report.pearson['saliency'].min():7.4f}" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["pearson"]["guided"] == pytest.approx(report.pearson["guided"].tolist())
    assert data["summary"]["saliency"]["ssim"]["median"] == pytest.approx(np.median(report.ssim["saliency"]))


def test_precision_report_gives_igs_completeness_in_both_precisions(fast_probe):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(),
                              keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    x = _images(3, 6)[..., :2]
    ig = kv.methods.IntegratedGradients(steps=8)
    report = kv.precision_report(model, x, method=ig, rules=("saliency",), target=2, repeats=1)
    for precision in ("float32", "bfloat16"):
        maps = kv.Visualizer(model, ("saliency",), precision=precision)(x, target=2, method=ig, progress=False)
        difference = model(x).numpy()[:, 2] - model(np.zeros_like(x)).numpy()[:, 2]
        expected = np.abs(maps["saliency"].reshape(3, -1).sum(1) - difference) / np.abs(difference)
        np.testing.assert_allclose(report.completeness[precision], expected, rtol=1e-4, atol=1e-6)
    assert "IG completeness error" in str(report)
    assert kv.precision_report(model, x, rules=("guided",), repeats=1).completeness == {}

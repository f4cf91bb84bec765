"""Tests for kerasviz.methods on the Visualizer's engine.

Each method is checked against a computation that does not use it: plain
`tf.GradientTape` gradients of the user's model (the saliency rule) or of
`kv.rewrite(model, rule)` (the other rules), combined in NumPy as the
method's formula says (noise drawn from the documented stream, midpoint path
points, Grad-CAM weights and a NumPy bilinear upsampling).
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz import methods
from kerasviz.errors import InvalidArgumentError, InvalidTargetError, KerasvizError, UnsupportedModelError

SIZE = 32


def _net(seed=0, name="net"):
    """A small ReLU CNN with biases and max-pooling; logits out."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, strides=2, activation="relu", bias_initializer="random_normal", name="c1"),
            keras.layers.Conv2D(6, 3, activation="relu", bias_initializer="random_normal", name="c2"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(5, bias_initializer="random_normal", name="logits"),
        ],
        name=name,
    )


@pytest.fixture(scope="module")
def model():
    return _net()


@pytest.fixture(scope="module")
def viz(model):
    return kv.Visualizer(model, rules=kv.RULES)


def _images(n=3, seed=1):
    return np.random.default_rng(seed).uniform(-1.0, 2.0, size=(n, SIZE, SIZE, 3)).astype(np.float32)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def _close(actual, expected, rtol=1e-4):
    scale = float(np.abs(expected).max())
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-5 * scale)


# -- independent references ------------------------------------------------------------


def _probe(model, rule, layers=()):
    """`[*layer outputs, logits]` of `model` (saliency) or of its rewrite under `rule`."""
    net = model if rule == "saliency" else kv.rewrite(model, rule)
    if not layers:
        return net
    if rule == "saliency":
        return keras.Model(model.inputs, [model.get_layer(name).output for name in layers] + list(model.outputs))
    return kv.tap(net, list(layers))


def _gradients(model, rule, points, score, wrt="input", layers=()):
    """d score / d input (or d score / d the first tapped layer) of each point."""
    net = _probe(model, rule, layers)
    x = tf.constant(points)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outs = net(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        s = score(*outs)
    if wrt == "input":
        return tape.gradient(s, x).numpy()
    return outs[0].numpy(), tape.gradient(s, outs[0]).numpy()


def _class_score(classes):
    """A score of the probe's last output (the logits): one class per image."""
    classes = tf.constant(np.asarray(classes), tf.int32)
    return lambda *outs: tf.gather(outs[-1], classes[:, None], axis=-1, batch_dims=1)[:, 0]


def _noisy(images, samples, noise, seed):
    """The documented noise stream: image i gets default_rng([seed, i])."""
    out = []
    for i, image in enumerate(images):
        sigma = noise * (image.max() - image.min())
        eps = np.random.default_rng([seed, i]).standard_normal((samples, *image.shape), dtype=np.float32)
        out.append(image + np.float32(sigma) * eps)
    return np.stack(out)  # (N, S, H, W, C)


def _resize_bilinear(a, height, width):
    """NumPy bilinear upsampling with half-pixel centres (edge pixels clamped)."""

    def axis(out, size):
        src = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, size - 1), src - lo

    r0, r1, fr = axis(height, a.shape[0])
    c0, c1, fc = axis(width, a.shape[1])
    rows = a[r0] * (1 - fr)[:, None] + a[r1] * fr[:, None]
    return rows[:, c0] * (1 - fc)[None] + rows[:, c1] * fc[None]


def _numpy_cam(a, g, plus_plus):
    """Grad-CAM / Grad-CAM++ of one image from activations and gradients (h, w, c)."""
    a, g = a.astype(np.float64), g.astype(np.float64)
    if plus_plus:
        denominator = 2 * g**2 + g**3 * a.sum(axis=(0, 1), keepdims=True)
        alphas = np.divide(g**2, denominator, out=np.zeros_like(g), where=denominator != 0)
        weights = (alphas * np.maximum(g, 0)).sum(axis=(0, 1))
    else:
        weights = g.mean(axis=(0, 1))
    cam = np.maximum((a * weights).sum(axis=-1), 0)
    return _resize_bilinear(cam, SIZE, SIZE)


# -- Gradient x Input ------------------------------------------------------------------


def test_gradient_x_input_is_the_gradient_times_the_images(model, viz):
    x = _images()
    classes = np.array([0, 3, 4])
    maps = viz(x, target=classes, method=methods.GradientXInput(), progress=False)
    for rule in kv.RULES:
        _close(maps[rule], x * _gradients(model, rule, x, _class_score(classes)))


# -- SmoothGrad ----------------------------------------------------------------------------


@pytest.mark.parametrize("aggregate", methods.AGGREGATES)
def test_smoothgrad_combines_the_gradients_of_the_documented_noisy_copies(model, viz, aggregate):
    x = _images()
    classes = np.array([1, 2, 0])
    method = methods.SmoothGrad(samples=5, noise=0.2, aggregate=aggregate, seed=7)
    maps = viz(x, target=classes, method=method, batch_size=4, progress=False)  # copies split across batches
    noisy = _noisy(x, 5, 0.2, 7)
    for rule in kv.RULES:
        one_by_one = np.stack([
            np.stack([_gradients(model, rule, noisy[i, s][None], _class_score([classes[i]]))[0] for s in range(5)])
            for i in range(len(x))
        ]).astype(np.float64)  # (N, S, H, W, C)
        expected = {
            "mean": one_by_one.mean(axis=1),
            "square": (one_by_one**2).mean(axis=1),
            "var": one_by_one.var(axis=1),
        }[aggregate]
        _close(maps[rule], expected, rtol=2e-4)


def test_smoothgrad_is_seeded_independent_of_batching_and_plain_without_noise(viz):
    x = _images()
    method = methods.SmoothGrad(samples=4, noise=0.3, seed=3)
    first = viz(x, target=2, method=method, batch_size=32, progress=False)
    again = viz(x, target=2, method=methods.SmoothGrad(samples=4, noise=0.3, seed=3), batch_size=3, progress=False)
    other_seed = viz(x, target=2, method=methods.SmoothGrad(samples=4, noise=0.3, seed=4), progress=False)
    plain = viz(x, target=2, progress=False)
    without_noise = viz(x, target=2, method=methods.SmoothGrad(samples=4, noise=0.0), progress=False)
    for rule in kv.RULES:
        _close(again[rule], first[rule])
        assert not np.allclose(other_seed[rule], first[rule])
        _close(without_noise[rule], plain[rule])


def test_noisy_copies_are_forward_images_batched_by_batch_size(model):
    viz = kv.Visualizer(model, rules=("saliency",))
    x = _images(3)
    viz(x, target=1, progress=False)
    (key,) = viz._functions
    compiled = viz._functions[key]
    sizes = []

    def counting(images, aux):
        sizes.append(int(images[0].shape[0]))
        return compiled(images, aux)

    viz._functions[key] = counting
    viz(x, target=1, method=methods.SmoothGrad(samples=4), batch_size=5, progress=False)
    assert sizes == [5, 5, 2]  # 12 forward images; the plain gradient's function is reused
    sizes.clear()
    viz(x, target=1, method=methods.IntegratedGradients(steps=2), batch_size=4, progress=False)
    assert sizes == [4, 2]
    assert len(viz._functions) == 1


# -- Integrated Gradients --------------------------------------------------------------------


def test_integrated_gradients_follow_the_midpoint_rule(model, viz):
    x = _images()
    classes = np.array([4, 0, 2])
    baseline = np.random.default_rng(9).uniform(size=(SIZE, SIZE, 3)).astype(np.float32)
    maps = viz(x, target=classes, method=methods.IntegratedGradients(steps=6, baseline=baseline), progress=False)
    alphas = (np.arange(6) + 0.5) / 6
    for rule in kv.RULES:
        mean_gradient = np.mean([
            _gradients(model, rule, (baseline + a * (x - baseline)).astype(np.float32), _class_score(classes))
            for a in alphas
        ], axis=0)
        _close(maps[rule], (x - baseline) * mean_gradient)


@pytest.mark.parametrize("baseline", [0.0, "mean image"])
def test_integrated_gradients_are_complete_under_saliency(model, baseline):
    """Sum of the map = score(x) - score(baseline) within 1 % at 256 steps (Sundararajan et al.)."""
    x = _images(4, seed=5)
    if baseline == "mean image":
        baseline = x.mean(axis=0) * 0.5
    viz = kv.Visualizer(model, rules=("saliency",), batch_size=256)
    maps = viz(x, target="max", method=methods.IntegratedGradients(steps=256, baseline=baseline), progress=False)
    logits = model(x).numpy()
    top = logits.argmax(axis=-1)
    base = model(np.broadcast_to(np.asarray(baseline, np.float32), x.shape)).numpy()
    difference = logits[np.arange(4), top] - base[np.arange(4), top]
    sums = maps["saliency"].reshape(4, -1).sum(axis=1)
    assert np.abs(difference).min() > 0.05
    np.testing.assert_allclose(sums, difference, rtol=0.01)


# -- Grad-CAM, Grad-CAM++, Guided Grad-CAM -------------------------------------------------------


@pytest.mark.parametrize("plus_plus", [False, True])
def test_gradcam_matches_numpy_from_the_layers_activations_and_gradients(model, viz, plus_plus):
    x = _images()
    classes = np.array([2, 2, 3])
    cams = viz(x, target=classes, method=methods.GradCAM(layer="c2", plus_plus=plus_plus), progress=False)
    default = viz(x, target=classes, method=methods.GradCAM(plus_plus=plus_plus), progress=False)
    for rule in kv.RULES:
        a, g = _gradients(model, rule, x, _class_score(classes), "layer", ("c2",))
        expected = np.stack([_numpy_cam(a[i], g[i], plus_plus) for i in range(len(x))])
        assert cams[rule].shape == (3, SIZE, SIZE)
        _close(cams[rule], expected)
        _close(default[rule], cams[rule])  # the last convolutional layer is c2
    assert methods.cam_layer(model, methods.GradCAM()) == "c2"


def test_guided_gradcam_is_each_rules_map_times_the_saliency_cam(viz):
    x = _images()
    guided_cam = viz(x, target="max", method=methods.GuidedGradCAM(), progress=False)
    maps = viz(x, target="max", progress=False)
    cam = viz(x, target="max", method=methods.GradCAM(), progress=False)["saliency"]
    for rule in kv.RULES:
        _close(guided_cam[rule], maps[rule] * cam[..., None])


def _op_types(function, *args):
    return [op.type for op in function.get_concrete_function(*args).graph.get_operations()]


@pytest.mark.parametrize("rules", [("deconvnet", "guided"), kv.RULES])
def test_guided_gradcam_takes_the_cam_and_the_maps_from_one_forward_pass(model, rules):
    viz = kv.Visualizer(model, rules=rules)
    x = _images(2)
    viz(x, target=1, method=methods.GuidedGradCAM(), progress=False)
    (function,) = viz._functions.values()
    types = _op_types(function, [tf.constant(x)], tf.constant(np.ones((2, 1), np.int32)))
    assert types.count("Conv2D") == 2  # c1 and c2, once
    # A backward pass per rule, and one for the CAM unless saliency's pass gives it too
    # (each pass goes through the max-pooling once).
    assert types.count("MaxPoolGrad") == len(rules) + (0 if "saliency" in rules else 1)


def test_gradcam_reaches_a_layer_inside_a_nested_model():
    inner = _net(seed=2, name="inner")
    trunk = keras.Model(inner.inputs[0], inner.get_layer("flat").output, name="trunk")
    inputs = keras.Input((SIZE, SIZE, 3))
    outer = keras.Model(inputs, keras.layers.Dense(3, name="head")(trunk(inputs)), name="outer")
    x = _images(2)
    assert methods.cam_layer(outer, methods.GradCAM()) == "trunk/c2"
    cams = kv.Visualizer(outer, rules=("saliency",))(x, target=1, method=methods.GradCAM(), progress=False)
    flat = keras.Model(inner.inputs, outer.get_layer("head")(inner.get_layer("flat").output))
    probe = keras.Model(flat.inputs, [inner.get_layer("c2").output, flat.output])
    with tf.GradientTape() as tape:
        a, logits = probe([tf.constant(x)])
        score = logits[:, 1]
    g = tape.gradient(score, a).numpy()
    expected = np.stack([_numpy_cam(a.numpy()[i], g[i], False) for i in range(2)])
    _close(cams["saliency"], expected)


# -- every method x every target x every rule --------------------------------------------------

METHODS = {
    "gradxinput": methods.GradientXInput(),
    "smoothgrad": methods.SmoothGrad(samples=3, noise=0.2, seed=1),
    "ig": methods.IntegratedGradients(steps=4, baseline=0.5),
    "gradcam": methods.GradCAM(),
    "gradcampp": methods.GradCAM(plus_plus=True),
    "guided-gradcam": methods.GuidedGradCAM(),
}


def _saliency_reference(model, name, x, score, layers=()):
    """The method's formula on plain-tape saliency gradients of `score(*probe outputs)`."""
    if name in ("gradcam", "gradcampp"):
        a, g = _gradients(model, "saliency", x, score, "layer", ("c2", *layers))
        return np.stack([_numpy_cam(a[i], g[i], name == "gradcampp") for i in range(len(x))])
    if name == "guided-gradcam":
        a, g = _gradients(model, "saliency", x, score, "layer", ("c2", *layers))
        cam = np.stack([_numpy_cam(a[i], g[i], False) for i in range(len(x))])
        return _gradients(model, "saliency", x, score, layers=("c2", *layers)) * cam[..., None]
    if name == "gradxinput":
        return x * _gradients(model, "saliency", x, score, layers=layers)
    if name == "smoothgrad":
        noisy = _noisy(x, 3, 0.2, 1)
        grads = [_gradients(model, "saliency", noisy[:, s], score, layers=layers) for s in range(3)]
        return np.mean(grads, axis=0)
    alphas = (np.arange(4) + 0.5) / 4
    grads = [_gradients(model, "saliency", (0.5 + a * (x - 0.5)).astype(np.float32), score, layers=layers)
             for a in alphas]
    return (x - 0.5) * np.mean(grads, axis=0)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_target_kind_under_every_rule(model, viz, name):
    method = METHODS[name]
    x = _images()
    logits = model(x).numpy()
    predicted = logits.argmax(axis=-1)
    classes = np.array([[0, 4], [3, 3], [1, 2]])
    per_class = viz(x, target=classes, method=method, progress=False)
    by_max = viz(x, target="max", method=method, progress=False)
    on_predicted = viz(x, target=predicted, method=method, progress=False)
    by_random = viz(x, target="random", method=method, progress=False)
    on_random = viz(x, target=kv.targets.random_other_classes(predicted, 5, 1, seed=0)[:, 0], method=method,
                    progress=False)
    by_loss = viz(x, target="loss", method=method, progress=False)
    on_labels = viz(x, target="loss", labels=predicted, method=method, progress=False)
    for rule in kv.RULES:
        assert per_class[rule].shape[:2] == (3, 2)
        for k in range(2):
            single = viz(x, target=classes[:, k], method=method, progress=False)[rule]
            _close(per_class[rule][:, k], single)
        _close(by_max[rule], on_predicted[rule])  # "max" is the class predicted for the image itself
        _close(by_random[rule], on_random[rule])
        _close(by_loss[rule], on_labels[rule])
    # Values under saliency, against the plain tape: a class target and an inner neuron.
    _close(per_class["saliency"][:, 1], _saliency_reference(model, name, x, _class_score(classes[:, 1])))
    neuron = viz(x, target=kv.targets.Neuron("c2", 3), method=method, progress=False)["saliency"]
    reference = _saliency_reference(
        model, name, x, lambda *outs: tf.reduce_sum(outs[-2][..., 3], axis=(1, 2)), layers=("c2",)
    )
    _close(neuron, reference)


def test_a_callable_target_is_evaluated_on_each_copy(model, viz):
    x = _images()
    method = methods.SmoothGrad(samples=3, noise=0.2, seed=1)
    maps = viz(x, target=lambda logits: tf.reduce_max(logits, axis=-1), method=method, progress=False)
    noisy = _noisy(x, 3, 0.2, 1)
    expected = np.mean([
        _gradients(model, "saliency", noisy[:, s], lambda logits: tf.reduce_max(logits, axis=-1))
        for s in range(3)
    ], axis=0)
    _close(maps["saliency"], expected)


# -- names, reprs, errors ----------------------------------------------------------------------


def test_reprs_are_stable_and_equal_methods_compare_equal():
    assert repr(methods.SmoothGrad()) == "SmoothGrad(samples=16, noise=0.15, aggregate='mean', seed=0)"
    assert repr(methods.IntegratedGradients(steps=8)) == "IntegratedGradients(steps=8, baseline=0.0)"
    assert repr(methods.GradCAM("c2", plus_plus=True)) == "GradCAM(layer='c2', plus_plus=True)"
    assert repr(methods.GuidedGradCAM()) == "GuidedGradCAM(layer=None)"
    assert repr(methods.GradientXInput()) == "GradientXInput()"
    ones = np.ones((2, 2, 3), np.float32)
    assert methods.IntegratedGradients(baseline=ones) == methods.IntegratedGradients(baseline=ones.copy())
    assert methods.IntegratedGradients(baseline=ones) != methods.IntegratedGradients(baseline=2 * ones)
    assert re.fullmatch(r"IntegratedGradients\(steps=64, baseline=array\(shape=\(2, 2, 3\), sha1=[0-9a-f]{12}\)\)",
                        repr(methods.IntegratedGradients(baseline=ones)))
    assert methods.SmoothGrad(seed=1) != methods.SmoothGrad(seed=2)
    assert len({methods.SmoothGrad(), methods.SmoothGrad()}) == 1


def test_names_resolve_to_methods_with_default_arguments():
    assert methods.resolve(None) == methods.Gradient()
    assert methods.resolve("gradcampp") == methods.GradCAM(plus_plus=True)
    assert methods.resolve("ig") == methods.IntegratedGradients()
    assert methods.resolve("guided-gradcam") == methods.GuidedGradCAM()
    assert methods.resolve("vargrad") == methods.SmoothGrad(aggregate="var")
    for name, make in methods.NAMES.items():
        assert methods.resolve(name).name == name
        assert make().name == name


def test_visualize_takes_a_method(model, viz):
    x = _images(2)
    maps = kv.visualize(model, x, rules=("guided",), target=1, method="gradxinput", progress=False)
    _close(maps["guided"], viz(x, target=1, method=methods.GradientXInput(), progress=False)["guided"])


BAD_ARGUMENTS = [
    (lambda: methods.SmoothGrad(samples=0), "`samples` must be a positive integer. Received: samples=0"),
    (lambda: methods.SmoothGrad(samples=2.0), "`samples` must be a positive integer. Received: samples=2.0"),
    (lambda: methods.SmoothGrad(noise=-0.1),
     "`noise` must be a finite number >= 0, e.g. 0.15 (15 % of each image's value range). Received: noise=-0.1"),
    (lambda: methods.SmoothGrad(noise=float("nan")),
     "`noise` must be a finite number >= 0, e.g. 0.15 (15 % of each image's value range). Received: noise=nan"),
    (lambda: methods.SmoothGrad(noise="0.1"),
     "`noise` must be a finite number >= 0, e.g. 0.15 (15 % of each image's value range). Received: noise='0.1'"),
    (lambda: methods.SmoothGrad(aggregate="sum"),
     "Unknown aggregation. Known: 'mean', 'square', 'var'. Received: aggregate='sum'"),
    (lambda: methods.SmoothGrad(seed=-1), "`seed` must be a non-negative integer. Received: seed=-1"),
    (lambda: methods.IntegratedGradients(steps=0), "`steps` must be a positive integer. Received: steps=0"),
    (lambda: methods.IntegratedGradients(baseline="black"),
     "The baseline must be a number or an array shaped like one image (e.g. 0.0, or images.mean(axis=0)). "
     "Received: baseline='black'"),
    (lambda: methods.IntegratedGradients(baseline=float("inf")),
     "The baseline must be finite (no NaN or Inf). Received: baseline=inf"),
    (lambda: methods.GradCAM(layer=3),
     "`layer` names a layer by its name or its path into nested models (e.g. 'block5_conv3' or "
     "'mobilenetv2/block_16_project'), or is None for the last convolutional layer. Received: layer=3"),
    (lambda: methods.GuidedGradCAM(layer=""),
     "`layer` names a layer by its name or its path into nested models (e.g. 'block5_conv3' or "
     "'mobilenetv2/block_16_project'), or is None for the last convolutional layer. Received: layer=''"),
    (lambda: methods.GradCAM(plus_plus="yes"), "`plus_plus` must be True or False. Received: plus_plus='yes'"),
    (lambda: methods.resolve("smooth"),
     "method must be a kv.methods method (e.g. kv.methods.SmoothGrad()), one of the names 'gradient', "
     "'gradxinput', 'smoothgrad', 'squaregrad', 'vargrad', 'ig', 'gradcam', 'gradcampp', 'guided-gradcam', "
     "'layercam', 'scorecam', 'occlusion', 'rise', 'kernelshap', or None for the gradient. "
     "Received: method='smooth'"),
]


@pytest.mark.parametrize("index", range(len(BAD_ARGUMENTS)))
def test_bad_arguments_raise_a_kerasviz_error_saying_what_was_wrong(index):
    make, message = BAD_ARGUMENTS[index]
    with _raises(InvalidArgumentError, message) as info:
        make()
    assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)


def test_errors_at_the_call(viz):
    x = _images(2)
    with _raises(InvalidArgumentError, "The baseline must be a number or an array shaped like one image, "
                                       "(32, 32, 3) (or broadcastable to it, e.g. one value per channel). "
                                       "Received: baseline shape=(4, 4, 3)"):
        viz(x, method=methods.IntegratedGradients(baseline=np.zeros((4, 4, 3))), progress=False)
    with _raises(InvalidArgumentError, "Grad-CAM needs images (N, H, W, C) and a layer with a spatial output "
                                       "(N, h, w, channels); layer 'flat' outputs (N, 216) for inputs "
                                       "(N, 32, 32, 3). Choose a convolutional layer. Received: layer='flat'"):
        viz(x, method=methods.GradCAM("flat"), progress=False)
    with _raises(InvalidTargetError, "The target does not depend on the Grad-CAM layer (e.g. a Neuron target "
                                     "below it): choose a layer between the input and the target. "
                                     "Received: layer='c2'"):
        viz(x, target=kv.targets.Neuron("c1", 0), method=methods.GradCAM("c2"), progress=False)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="dense_only")
    with _raises(UnsupportedModelError, "GradCAM found no convolutional layer in model 'dense_only' to take "
                                        "as its layer; name a layer with a spatial output (N, h, w, channels) "
                                        "with GradCAM(layer=...). Received: layer=None"):
        kv.Visualizer(dense)(np.ones((1, 4), np.float32), method="gradcam", progress=False)

"""The edges of issue 11: subclassed and input-less models, the callback's folders,
overlays of batches, target names in any case, sanity checks of one image."""

import re

import keras
import numpy as np
import pytest

import kerasviz as kv

L = keras.layers


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        L.Conv2D(4, 3, activation="relu", name="c1"),
        L.Flatten(name="flat"),
        L.Dense(3, name="logits"),
    ])


def test_sanity_check_of_one_image_warns_that_input_similarity_is_nan():
    image = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    message = (
        "sanity_check: the input similarity (M6) compares the maps of different images, so with "
        "one image it is nan. Pass 2 images or more (4-16 are plenty). Received: images with "
        "shape (1, 8, 8, 3)"
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        report = kv.analysis.sanity_check(_cnn(), image, num_random_classes=1, progress=False)
    assert np.isnan(report["saliency"].input_similarity)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="tiny_net")
        self.conv = L.Conv2D(2, 3, activation="relu")
        self.flat = L.Flatten()
        self.head = L.Dense(3)

    def call(self, x):
        return self.head(self.flat(self.conv(x)))


SUBCLASSED = (
    "kerasviz can rewrite Functional and Sequential models, not a subclassed model (_Subclassed): "
    "its call() is Python code whose ReLUs cannot be found. Build the same network with the "
    "Functional API, or use kerasviz.rules.RuleReLU layers in place of its ReLUs. Received: "
    "model='tiny_net' of type _Subclassed"
)


def _images(n=4):
    return np.random.default_rng(0).normal(size=(n, 8, 8, 3)).astype(np.float32)


def test_subclassed_model_is_refused_by_the_rewrite_and_explained_on_the_op_path(tmp_path):
    model = _Subclassed()
    model(_images())
    for make in (lambda: kv.rewrite(model), lambda: kv.Visualizer(model, engine="rewrite")):
        with pytest.raises(kv.errors.UnsupportedModelError, match=f"^{re.escape(SUBCLASSED)}$"):
            make()
    viz = kv.Visualizer(model, rules=("saliency",))
    np.testing.assert_allclose(viz(_images(), target=1, progress=False)["saliency"],
                               kv.visualize(model, _images(), rules=("saliency",), target=1, engine="ops",
                                            progress=False)["saliency"])
    model.compile("sgd", "mse")
    callback = kv.callbacks.VisualizationCallback(_images(2), log_dir=tmp_path / "logs", scores=False,
                                                  rules=("saliency",))
    model.fit(_images(), np.zeros((4, 3)), epochs=1, verbose=0, callbacks=[callback])
    expected = kv.visualize(model, _images(2), rules=("saliency",), progress=False)["saliency"]
    np.testing.assert_allclose(callback._viz(_images(2), progress=False)["saliency"], expected, rtol=1e-5, atol=1e-7)


def test_sequential_without_input_gets_the_same_message_from_visualizer_and_rewrite():
    model = keras.Sequential([L.Conv2D(2, 3), L.Flatten(), L.Dense(3)], name="no_input")
    message = (
        "The Sequential model 'no_input' has no known input shape. Start it with keras.Input(shape) "
        "or call it on a batch before rewriting it. Received: model='no_input' (not built)"
    )
    for make in (lambda: kv.rewrite(model), lambda: kv.Visualizer(model)):
        with pytest.raises(kv.errors.UnsupportedModelError, match=f"^{re.escape(message)}$"):
            make()


def test_callback_on_a_sequential_built_during_fit_just_works(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([L.Conv2D(2, 3, activation="relu"), L.Flatten(), L.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    images = _images(2)
    callback = kv.callbacks.VisualizationCallback(images, log_dir=tmp_path / "logs", rules=("saliency",),
                                                  png_dir=tmp_path / "png", scores=False)
    model.fit(_images(), np.array([0, 1, 2, 0]), epochs=2, verbose=0, callbacks=[callback])
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["epoch_0000.png", "epoch_0001.png"]
    expected = kv.visualize(model, images, rules=("saliency",), progress=False)["saliency"]
    np.testing.assert_allclose(callback._viz(images, progress=False)["saliency"], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("argument", ["log_dir", "png_dir"])
def test_callback_folder_that_is_a_file_is_refused_when_the_callback_is_made(tmp_path, argument):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for path in (a_file, a_file / "sub"):
        kwargs = {"log_dir": tmp_path / "logs", argument: path}
        message = (
            f"{argument} must be a folder (created if missing), but {str(a_file)!r} is a file. "
            f"Pass another path. Received: {argument}={str(path)!r}"
        )
        with pytest.raises(kv.errors.InvalidArgumentError, match=f"^{re.escape(message)}$"):
            kv.callbacks.VisualizationCallback(_images(2), **kwargs)


def test_callback_takes_activations_all(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(2, 3, activation="swish"), L.Flatten(), L.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = kv.callbacks.VisualizationCallback(_images(2), log_dir=tmp_path, rules=("guided",),
                                                  scores=False, activations="all")
    model.fit(_images(), np.array([0, 1, 2, 0]), epochs=1, verbose=0, callbacks=[callback])
    assert dict(callback._viz.report.other_replaced) == {"fused silu in Conv2D": 1}
    message = (
        "activations must be 'relu' (the rules act at ReLUs, the paper's definition) or 'all' "
        "(at every elementwise activation). Received: activations='most'"
    )
    with pytest.raises(kv.errors.InvalidArgumentError, match=f"^{re.escape(message)}$"):
        kv.callbacks.VisualizationCallback(_images(2), log_dir=tmp_path, activations="most")


def test_overlay_of_a_batch_is_the_overlay_of_each_image():
    rng = np.random.default_rng(0)
    images, maps = rng.random((3, 6, 7, 3)), rng.normal(size=(3, 6, 7, 3))
    batch = kv.render.overlay(images, maps, alpha=0.4)
    assert batch.shape == (3, 6, 7, 3)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], kv.render.overlay(images[i], maps[i], alpha=0.4))


@pytest.mark.parametrize(
    "image_shape, map_shape",
    [((2, 6, 7, 3), (6, 7, 3)), ((2, 6, 7, 3), (3, 6, 7, 3)), ((6, 7, 3), (6, 8, 3)), ((7,), (7,))],
)
def test_overlay_of_shapes_that_do_not_pair_is_a_clear_error(image_shape, map_shape):
    message = (
        "overlay takes an image and its map, (H, W, C) or (H, W) each, or a batch of each, "
        "(N, H, W, C) with N maps: the same height and width. Received: image shape="
        f"{image_shape}, map shape={map_shape}"
    )
    with pytest.raises(kv.errors.InvalidInputError, match=f"^{re.escape(message)}$"):
        kv.render.overlay(np.zeros(image_shape), np.ones(map_shape))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "half", float("nan")])
def test_overlay_alpha_must_lie_in_0_1(alpha):
    message = f"alpha is the weight of the map, a number in [0, 1]. Received: alpha={alpha!r}"
    with pytest.raises(kv.errors.InvalidInputError, match=f"^{re.escape(message)}$"):
        kv.render.overlay(np.zeros((4, 4, 3)), np.ones((4, 4, 3)), alpha=alpha)


@pytest.mark.parametrize("spec, expected", [("MAX", "MaxLogit()"), ("Max", "MaxLogit()"),
                                            ("Random", "RandomClass(seed=0)"), ("LOSS", "Loss()"),
                                            (" max ", "MaxLogit()")])
def test_target_names_are_case_insensitive_like_rule_names(spec, expected):
    assert repr(kv.targets.resolve(spec)) == expected


def test_rules_that_are_not_a_list_are_a_kerasviz_error():
    """Found by tests/test_properties.py: rules=None was a raw TypeError."""
    message = (
        "Give a rule name or a list of them, e.g. ('saliency', 'deconvnet', 'guided'). Known rules: "
        "'saliency', 'deconvnet', 'guided' (aliases 'gradient', 'vanilla', 'deconv', 'gbp', "
        "'guided_backprop'). Received: rules=None"
    )
    with pytest.raises(kv.errors.UnknownRuleError, match=f"^{re.escape(message)}$"):
        kv.Visualizer(_cnn(), rules=None)


@pytest.mark.parametrize("bad, problem", [(np.zeros((0,)), "empty"), (np.full((2, 2, 1), np.nan), "nan")])
def test_percentile_normalization_of_an_empty_or_nan_map_is_a_kerasviz_error(bad, problem):
    """Found by tests/test_properties.py: an empty map was a raw IndexError, NaN gave NaN."""
    with pytest.raises(kv.errors.InvalidInputError, match=r"^`percentile`: .*Received: "):
        kv.render.normalize(bad, "percentile")


def test_complex_or_text_maps_are_a_kerasviz_error_not_a_silent_cast():
    """Found by tests/test_properties.py: complex maps lost their imaginary part with a NumPy warning."""
    message = "`map_similarity`: `a` must hold real numbers. Received: a.dtype=complex128"
    with pytest.raises(kv.errors.InvalidInputError, match=f"^{re.escape(message)}$"):
        kv.analysis.metrics.map_similarity(np.ones((8, 8, 3), complex), np.ones((8, 8, 3)))
    with pytest.raises(kv.errors.InvalidInputError, match=r"must hold real numbers\. Received: m\.dtype=<U1$"):
        kv.render.normalize(np.array([["a"]]), "minmax")


def test_overlay_of_an_empty_batch_is_a_kerasviz_error():
    """Found by tests/test_properties.py: an empty batch was a raw NumPy ValueError."""
    with pytest.raises(kv.errors.InvalidInputError, match=r"^overlay takes .*Received: image shape=\(0, 0, 0, 0\)"):
        kv.render.overlay(np.zeros((0, 0, 0, 0)), np.zeros((0, 0, 0, 0)))

"""Tests for kerasviz.callbacks.VisualizationCallback.

Every test trains a tiny conv net on random 16x16x1 data and reads the event
files back with TensorBoard's own reader.
"""

import contextlib
import io
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

import kerasviz as kv
import kerasviz.callbacks as callbacks_lib
from kerasviz import render
from kerasviz.analysis import metrics
from kerasviz.callbacks import VisualizationCallback
from kerasviz.errors import InvalidArgumentError, InvalidInputError, InvalidTargetError, KerasvizError, UnknownRuleError

SIZE = 16
NUM_IMAGES = 3
BATCH = 8
X = np.random.default_rng(0).uniform(size=(48, SIZE, SIZE, 1)).astype("float32")
Y = np.arange(48) % 4
IMAGES = X[:NUM_IMAGES]
IMAGE_TAGS = {f"kerasviz/{rule}" for rule in kv.RULES}
SCALAR_TAGS = {f"kerasviz/{rule}/{score}" for rule in kv.RULES for score in ("class_sensitivity", "recovery")}


def _sequential(dropout: bool = False) -> keras.Model:
    layers = [
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(0.3))
    layers.append(keras.layers.Dense(4, activation="softmax"))
    return keras.Sequential(layers)


def _functional() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(8, 3)(inputs)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(4)(x)
    outputs = keras.layers.Activation("softmax")(x)
    return keras.Model(inputs, outputs)


def _compiled(build, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _read(run_dir: str) -> dict[str, list]:
    """{tag: [TensorEvent, ...]} of one run, through TensorBoard's reader.

    TF2 summaries (`tf.summary.image` / `scalar`) are tensor summaries: the
    reader lists them under "tensors" (its "images"/"scalars" hold the TF1
    kinds only).
    """
    guidance = {event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}
    accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance=guidance)
    accumulator.Reload()
    return {tag: accumulator.Tensors(tag) for tag in accumulator.Tags()["tensors"]}


def _pngs(event) -> tuple[int, int, list[np.ndarray]]:
    """Width, height and decoded pictures of an image-summary event."""
    values = event.tensor_proto.string_val
    width, height = int(values[0]), int(values[1])
    return width, height, [np.asarray(Image.open(io.BytesIO(v))) for v in values[2:]]


@pytest.mark.parametrize("kind", ["sequential", "functional_default_strategy"])
def test_epoch_logs_beside_tensorboard_runs_with_live_logit_maps(kind, tmp_path, monkeypatch):
    """One image tag per rule and two scalars per rule at steps 0..E-1, next to TensorBoard's runs.

    The last pictures equal those of a fresh Visualizer on the trained model
    (live weights, maps of the logits although the model ends in softmax),
    and the model is rewritten only once per fit.
    """
    built = []
    real = callbacks_lib.Visualizer
    monkeypatch.setattr(callbacks_lib, "Visualizer", lambda *a, **k: built.append(1) or real(*a, **k))
    log_dir, png_dir = str(tmp_path / "logs"), str(tmp_path / "png")
    scope = tf.distribute.get_strategy().scope() if kind != "sequential" else contextlib.nullcontext()
    with scope:
        model = _compiled(_sequential if kind == "sequential" else _functional)
        callback = VisualizationCallback(IMAGES, log_dir=log_dir, png_dir=png_dir)
        model.fit(
            X, Y, epochs=3, batch_size=BATCH, verbose=0,
            callbacks=[keras.callbacks.TensorBoard(log_dir), callback],
        )

    assert built == [1]
    assert sorted(os.listdir(log_dir)) == ["kerasviz", "train"]
    events = _read(os.path.join(log_dir, "kerasviz"))
    assert set(events) == IMAGE_TAGS | SCALAR_TAGS
    for tag, tag_events in events.items():
        assert [e.step for e in tag_events] == [0, 1, 2], tag
    for tag in IMAGE_TAGS:
        for event in events[tag]:
            width, height, pictures = _pngs(event)
            assert (width, height) == ((1 + 1) * SIZE, SIZE)
            assert [p.shape for p in pictures] == [(SIZE, 2 * SIZE, 3)] * NUM_IMAGES
    for tag in SCALAR_TAGS:
        logged = [float(tf.make_ndarray(e.tensor_proto)) for e in events[tag]]
        np.testing.assert_allclose(logged, [v for _, v in callback.history[tag]], rtol=1e-6)
        low, high = (0.0, 2.0) if tag.endswith("class_sensitivity") else (-1.0, 1.0)
        assert all(low <= v <= high for v in logged), (tag, logged)

    # The last pictures are the maps of the trained model's logits.
    fresh_viz = kv.Visualizer(model)
    assert fresh_viz.report.softmax_removed
    fresh = fresh_viz(IMAGES, target="max", progress=False)
    for rule in kv.RULES:
        _, _, pictures = _pngs(events[f"kerasviz/{rule}"][-1])
        for image, m, picture in zip(IMAGES, fresh[rule], pictures):
            np.testing.assert_array_equal(picture, render.tile_row(image, [m]))

    # The last scalars, recomputed with kv.analysis.metrics from the trained model's maps: recovery of
    # the max-logit map, and 1 - SSIM against the other classes' maps (4 classes and 3 random classes
    # per image: all of the other classes, whichever order the callback draws them in).
    predicted = fresh_viz.predict(IMAGES).argmax(axis=-1)
    classes = [[p, *(c for c in range(4) if c != p)] for p in predicted]
    per_class = fresh_viz(IMAGES, target=classes, progress=False)
    for rule in kv.RULES:
        maps = per_class[rule]
        recovery = np.mean([metrics.recovery(maps[i, 0], IMAGES[i])["r_image"] for i in range(NUM_IMAGES)])
        ssims = [metrics.random_logit_ssim(maps[i, 0], maps[i, j]) for i in range(NUM_IMAGES) for j in (1, 2, 3)]
        for score, expected in (("recovery", recovery), ("class_sensitivity", 1.0 - np.mean(ssims))):
            logged = float(tf.make_ndarray(events[f"kerasviz/{rule}/{score}"][-1].tensor_proto))
            np.testing.assert_allclose(logged, expected, rtol=1e-5, atol=1e-6, err_msg=f"{rule}/{score}")

    assert sorted(os.listdir(png_dir)) == ["epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]
    grid = np.asarray(Image.open(os.path.join(png_dir, "epoch_0002.png")))
    assert grid.shape == (NUM_IMAGES * SIZE, (1 + len(kv.RULES)) * SIZE, 3)


@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory):
    """The same seeded, shuffled fit with dropout, with and without the callback.

    The callback logs every 5 batches (12 batches in all) and shares its
    log_dir with a TensorBoard callback whose update_freq=2 switches
    summaries off on odd batch steps.
    """
    log_dir = str(tmp_path_factory.mktemp("batch_logs"))
    fit = dict(x=X, y=Y, epochs=2, batch_size=BATCH, shuffle=True, verbose=0)
    plain = _compiled(lambda: _sequential(dropout=True), seed=3)
    plain.fit(**fit)
    watched = _compiled(lambda: _sequential(dropout=True), seed=3)
    callback = VisualizationCallback(IMAGES, log_dir=log_dir, every_n_batches=5, rules=("gbp", "saliency"))
    watched.fit(**fit, callbacks=[keras.callbacks.TensorBoard(log_dir, update_freq=2), callback])
    return plain, watched, log_dir


def test_fit_ends_with_identical_weights_with_and_without_callback(batch_runs):
    """The callback never changes training: same seed, same final weights."""
    plain, watched, _ = batch_runs
    for a, b in zip(plain.get_weights(), watched.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_n_batches_logs_at_global_batch_counts(batch_runs):
    """Steps are the global batch counts 5 and 10, even where TensorBoard's record_if is off."""
    _, _, log_dir = batch_runs
    events = _read(os.path.join(log_dir, "kerasviz"))
    expected = {"kerasviz/guided", "kerasviz/saliency"} | {
        f"kerasviz/{rule}/{score}" for rule in ("guided", "saliency") for score in ("class_sensitivity", "recovery")
    }
    assert set(events) == expected
    for tag, tag_events in events.items():
        assert [e.step for e in tag_events] == [5, 10], tag


def test_every_n_epochs_logs_epochs_0_n_2n(tmp_path):
    """every_n_epochs=2 over 3 epochs logs epochs 0 and 2, like Keras's histogram_freq.

    Also: target="loss" with labels, and scores=False (pictures only).
    """
    model = _compiled(_sequential)
    callback = VisualizationCallback(
        IMAGES[:1], log_dir=str(tmp_path), rules="guided", target="loss", labels=[2],
        every_n_epochs=2, scores=False,
    )
    model.fit(X[:16], Y[:16], epochs=3, batch_size=BATCH, verbose=0, callbacks=[callback])
    events = _read(os.path.join(str(tmp_path), "kerasviz"))
    assert set(events) == {"kerasviz/guided"}
    assert [e.step for e in events["kerasviz/guided"]] == [0, 2]
    assert callback.history == {}


def test_images_that_do_not_fit_the_model_stop_fit_before_training(tmp_path):
    model = _compiled(_sequential)
    before = [w.copy() for w in model.get_weights()]
    callback = VisualizationCallback(np.zeros((2, 8, 8, 1)), log_dir=str(tmp_path))
    message = (
        "VisualizationCallback(images=...) do not fit the model: Wrong image size in `images`: the model "
        "takes (N, 16, 16, 1). Resize the images (e.g. kv.data.load_image(path, size=...)). "
        "Received: shape=(2, 8, 8, 1)"
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        model.fit(X[:8], Y[:8], epochs=1, verbose=0, callbacks=[callback])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(every_n_epochs=0), InvalidArgumentError, "`every_n_epochs` must be a positive integer. Received: every_n_epochs=0"),
        (dict(every_n_batches=-1), InvalidArgumentError, "`every_n_batches` must be a positive integer. Received: every_n_batches=-1"),
        (
            dict(every_n_epochs=2, every_n_batches=10),
            InvalidInputError,
            "Give every_n_epochs or every_n_batches, not both: with every_n_batches the callback "
            "logs by batch and ignores epochs. Received: every_n_epochs=2, every_n_batches=10",
        ),
        (
            dict(normalize="log"),
            InvalidArgumentError,
            "Unknown normalization. Known: 'minmax', 'abs', 'diverging', 'percentile'. Received: normalize='log'",
        ),
        (
            dict(images=IMAGES[0]),
            InvalidInputError,
            "`images` must have rank 4, shaped (N, H, W, C). For one image, pass images[None]. "
            "Received: shape=(16, 16, 1)",
        ),
        (
            dict(images=IMAGES[:0]),
            InvalidInputError,
            "`images` is an empty batch: give at least one image. Received: shape=(0, 16, 16, 1)",
        ),
        (
            dict(images=np.full((1, 4, 4, 1), np.nan)),
            InvalidInputError,
            "`images` contain 16 NaN or Inf values; gradients of them are meaningless. Clean the "
            "images first. Received: shape=(1, 4, 4, 1)",
        ),
        (
            dict(rules=("gpb",)),
            UnknownRuleError,
            "Unknown rule 'gpb'. Known rules: 'saliency', 'deconvnet', 'guided' (aliases 'gradient', "
            "'vanilla', 'deconv', 'gbp', 'guided_backprop'). Received: rule='gpb'",
        ),
        (
            dict(rules=()),
            InvalidArgumentError,
            "Give at least one rule, e.g. ('saliency', 'deconvnet', 'guided'). Received: rules=()",
        ),
        (
            dict(target=[[0, 1]] * NUM_IMAGES),
            InvalidTargetError,
            "VisualizationCallback pictures one map per image: give one class per image, not "
            "several. Received: target with 2 classes per image",
        ),
        (
            dict(labels=[0, 1, 2]),
            InvalidTargetError,
            "labels= is used by target='loss' only; for classes pass them as the target. "
            "Received: target='max' with labels",
        ),
        (
            dict(target="loss", labels=[0, 1]),
            InvalidInputError,
            "labels must be one non-negative int class per image, shaped (3,). "
            "Received: labels with shape=(2,), dtype=int64",
        ),
        (
            dict(num_random_classes=0),
            InvalidArgumentError,
            "`num_random_classes` must be a positive integer. Received: num_random_classes=0",
        ),
        (dict(seed=-3), InvalidArgumentError, "`seed` must be a non-negative integer. Received: seed=-3"),
        (
            dict(run_name="a/b"),
            InvalidInputError,
            "run_name must be a non-empty folder name without a path separator, e.g. 'kerasviz'. "
            "Received: run_name='a/b'",
        ),
    ],
    ids=[
        "every_n_epochs", "every_n_batches", "both_frequencies", "normalize", "one_image",
        "no_images", "nan_images", "unknown_rule", "no_rules", "several_classes", "labels_without_loss",
        "labels_shape", "num_random_classes", "seed", "run_name",
    ],
)
def test_bad_arguments_raise_with_clear_messages(kwargs, error, message, tmp_path):
    kwargs = {"images": IMAGES, "log_dir": str(tmp_path), **kwargs}
    with pytest.raises(error, match=f"^{re.escape(message)}$") as info:
        VisualizationCallback(**kwargs)
    assert isinstance(info.value, KerasvizError)
    assert isinstance(info.value, ValueError)


def test_a_method_logs_its_maps_and_scores_under_its_own_tags(tmp_path):
    """Grad-CAM pictures (heat map over the image) and scores of the CAMs, tagged kerasviz/gradcam/{rule}."""
    log_dir = str(tmp_path / "logs")
    model = _compiled(_sequential)
    callback = VisualizationCallback(IMAGES, log_dir=log_dir, rules=("saliency", "guided"), method="gradcam")
    model.fit(X, Y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    events = _read(os.path.join(log_dir, "kerasviz"))
    assert set(events) == {f"kerasviz/gradcam/{rule}{score}" for rule in ("saliency", "guided")
                           for score in ("", "/class_sensitivity", "/recovery")}
    fresh_viz = kv.Visualizer(model, rules=("saliency", "guided"))
    cams = fresh_viz(IMAGES, method=kv.methods.GradCAM(), progress=False)
    predicted = fresh_viz.predict(IMAGES).argmax(axis=-1)
    classes = [[p, *(c for c in range(4) if c != p)] for p in predicted]
    per_class = fresh_viz(IMAGES, target=classes, method="gradcam", progress=False)
    for rule in ("saliency", "guided"):
        _, _, pictures = _pngs(events[f"kerasviz/gradcam/{rule}"][-1])
        for image, cam, picture in zip(IMAGES, cams[rule], pictures):
            np.testing.assert_array_equal(picture, render.tile_row(image, [cam]))
        maps = per_class[rule][..., None]  # CAMs as one-channel maps
        ssims = [metrics.random_logit_ssim(maps[i, 0], maps[i, j]) for i in range(NUM_IMAGES) for j in (1, 2, 3)]
        recovery = np.mean([metrics.recovery(maps[i, 0], IMAGES[i])["r_image"] for i in range(NUM_IMAGES)])
        for score, expected in (("recovery", recovery), ("class_sensitivity", 1.0 - np.mean(ssims))):
            logged = float(tf.make_ndarray(events[f"kerasviz/gradcam/{rule}/{score}"][-1].tensor_proto))
            np.testing.assert_allclose(logged, expected, rtol=1e-5, atol=1e-6, err_msg=f"{rule}/{score}")


def test_an_unknown_method_is_refused_at_construction(tmp_path):
    message = (
        "method must be a kv.methods method (e.g. kv.methods.SmoothGrad()), one of the names 'gradient', "
        "'gradxinput', 'smoothgrad', 'squaregrad', 'vargrad', 'ig', 'gradcam', 'gradcampp', 'guided-gradcam', "
        "'layercam', 'scorecam', 'occlusion', 'rise', 'kernelshap', or None for the gradient. "
        "Received: method='gradcam++'"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        VisualizationCallback(IMAGES, log_dir=str(tmp_path), method="gradcam++")

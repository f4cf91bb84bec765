"""Tests for `sanity_check(..., methods=[...])`: every (method, rule) pair scored.

The scores of a pair are recomputed here from maps taken with
`kv.Visualizer(...)(..., method=...)` and the metrics of
`kv.analysis.metrics`, outside `sanity_check`.
"""

import re

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz import methods, randomization
from kerasviz.analysis import metrics
from kerasviz.analysis.sanity import sanity_check, verdict
from kerasviz.errors import InvalidArgumentError

SIZE = 32


def _cnn():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", bias_initializer="random_normal", name="c1"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Conv2D(8, 3, activation="relu", bias_initializer="random_normal", name="c2"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="fc"),
            keras.layers.Dense(6, name="logits"),
        ],
        name="cnn",
    )


@pytest.fixture(scope="module")
def setting():
    model = _cnn()
    images = np.random.default_rng(4).uniform(size=(3, SIZE, SIZE, 3)).astype(np.float32)
    chosen = [methods.Gradient(), methods.SmoothGrad(samples=2, noise=0.1), methods.GradCAM()]
    report = sanity_check(model, images, rules=("saliency", "guided"), methods=chosen,
                          num_random_classes=2, max_layers=2, seed=0, progress=False)
    return model, images, chosen, report


def test_every_method_and_rule_pair_is_scored_under_its_label(setting):
    _, _, _, report = setting
    assert list(report.results) == [
        "saliency", "guided", "smoothgrad:saliency", "smoothgrad:guided", "gradcam:saliency", "gradcam:guided",
    ]
    assert report.methods == ("gradient", "smoothgrad", "gradcam")
    assert report["gbp"] is report.results["guided"]
    assert report["gradcam:saliency"] is report[("gradcam", "vanilla")] is report.results["gradcam:saliency"]
    assert report["smoothgrad:guided"].method == "smoothgrad"
    table = report.to_markdown()
    assert "| gradcam:guided |" in table and "| layer | saliency | guided | smoothgrad:saliency" in table
    assert report.to_dict()["rules"]["gradcam:guided"]["method"] == "gradcam"


def test_each_pair_carries_the_faithfulness_of_its_max_logit_maps(setting):
    model, images, chosen, report = setting
    viz = kv.Visualizer(model, rules=("saliency", "guided"))
    predicted = viz.predict(images).argmax(-1)
    for method in chosen:
        maps = viz(images, target=predicted, method=method, progress=False)
        for rule in ("saliency", "guided"):
            result = report[(method.name, rule)]
            expected = {
                "deletion": kv.evaluation.deletion(model, images, maps[rule], target=predicted, steps=10).mean(),
                "insertion": kv.evaluation.insertion(model, images, maps[rule], target=predicted, steps=10).mean(),
                "mu_fidelity": kv.evaluation.mu_fidelity(model, images, maps[rule], target=predicted, grid=7,
                                                         samples=64, seed=0).mean(),
            }
            for name, value in expected.items():
                assert getattr(result, name) == pytest.approx(value, rel=1e-3, abs=1e-4), (method, rule, name)
    row = next(line for line in report.to_markdown().splitlines() if line.startswith("| gradcam:guided |"))
    assert f"| {report['gradcam:guided'].mu_fidelity:.3f} |" in row


def test_the_gradient_pairs_are_the_plain_report(setting):
    model, images, _, report = setting
    plain = sanity_check(model, images, rules=("saliency", "guided"), num_random_classes=2, max_layers=2,
                         seed=0, progress=False)
    assert plain.methods == ("gradient",)
    for rule in ("saliency", "guided"):
        assert report[rule] == plain[rule]


def test_a_cam_pair_is_scored_from_the_cam_maps(setting):
    """Class sensitivity, recovery (against the image's channel mean), M6 and the first cascade step."""
    model, images, _, report = setting
    viz = kv.Visualizer(model, rules=("saliency",))
    predicted = viz.predict(images).argmax(axis=-1)
    others = kv.targets.random_other_classes(predicted, 6, 2, seed=0)
    cams = viz(images, target=np.concatenate([predicted[:, None], others], axis=1), method="gradcam",
               progress=False)["saliency"][..., None]  # (N, 3, H, W, 1)
    ssim = np.mean([metrics.map_similarity(cams[i, 0], cams[i, j])["ssim"] for i in range(3) for j in (1, 2)])
    result = report["gradcam:saliency"]
    np.testing.assert_allclose(result.class_sensitivity, 1 - ssim, rtol=1e-5)
    gray = images.mean(axis=-1, keepdims=True)
    recovery = np.mean([metrics.recovery(cams[i, 0], gray[i])["r_image"] for i in range(3)])
    np.testing.assert_allclose(result.recovery, recovery, rtol=1e-5, atol=1e-7)
    shifted = viz(np.roll(images, 1, axis=0), target=predicted, method="gradcam", progress=False)["saliency"]
    similarity = np.mean([metrics.input_independence(cams[i, 0], shifted[i][..., None]) for i in range(3)])
    np.testing.assert_allclose(result.input_similarity, similarity, rtol=1e-5, atol=1e-7)
    # Top layer randomized as kv.randomization does it: the CAM of the predicted class.
    layers = [layer.name for layer in randomization.weight_layers(model)]
    assert report.layers == ("logits", "fc")
    top = randomization.randomize(model, [layers.index("logits")], seed=0, init="keras")
    random_cams = kv.Visualizer(top, rules=("saliency",))(images, target=predicted, method="gradcam",
                                                          progress=False)["saliency"][..., None]
    step = np.mean([metrics.map_similarity(cams[i, 0], random_cams[i])["ssim"] for i in range(3)])
    np.testing.assert_allclose(result.cascade[1].ssim, step, rtol=1e-5)


def test_a_pairs_verdict_takes_the_same_methods_saliency_as_baseline(setting):
    _, _, _, report = setting
    for method in ("gradient", "smoothgrad", "gradcam"):
        label = "guided" if method == "gradient" else f"{method}:guided"
        baseline = report["saliency" if method == "gradient" else f"{method}:saliency"]
        assert report[label].verdict == verdict(report[label], baseline)


def test_the_plot_shows_every_pair(setting, tmp_path):
    _, _, _, report = setting
    fig = report.plot(tmp_path / "sanity.png")
    left, right = fig.axes[:2]
    assert [line.get_label() for line in left.get_lines()] == list(report.results)
    assert [t.get_text() for t in right.get_yticklabels()] == list(report.results)
    assert (tmp_path / "sanity.png").stat().st_size > 10_000


def test_methods_must_differ_by_name():
    model = _cnn()
    images = np.zeros((2, SIZE, SIZE, 3), np.float32)
    message = (
        "methods must be a non-empty list of kv.methods methods (or names) with different names, one per "
        "kind, e.g. ['gradient', 'smoothgrad', 'gradcam']. Received: methods=['smoothgrad', "
        "SmoothGrad(samples=4, noise=0.15, aggregate='mean', seed=0)]"
    )
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        sanity_check(model, images, methods=["smoothgrad", methods.SmoothGrad(samples=4)], progress=False)

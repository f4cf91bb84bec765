"""Tests for kerasviz.analysis.sanity: the paper's checks on a user's own model.

The directions asserted below (saliency is class- and weight-sensitive, GBP
recovers the image) were checked on random small CNNs of seeds 0-2, on the
shipped Fashion-MNIST net with three image samples and on an independently
trained one with two; the margins asserted are well inside what was seen
(numbers in `sanity.verdict`).
"""

import json
import re

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz import zoo
from kerasviz.analysis import metrics, sanity
from kerasviz.analysis.sanity import VERDICTS, SanityReport, sanity_check, verdict
from kerasviz.data import fashion_mnist
from kerasviz.errors import (
    InvalidArgumentError,
    InvalidInputError,
    KerasvizError,
    UnknownRuleError,
    UnsupportedModelError,
)


def _tiny_cnn(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu", name="fc"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="tiny",
    )


def _tiny_images(seed: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 16, 16, 1)).astype("float32")


@pytest.fixture(scope="module")
def tiny():
    """A random tiny CNN, its weights before the check, images and the report."""
    model = _tiny_cnn(0)
    before = [w.copy() for w in model.get_weights()]
    images = _tiny_images(0)
    return model, before, images, sanity_check(model, images, seed=0, progress=False)


@pytest.fixture(scope="module", params=[0, 1], ids=["tiny-seed0", "tiny-seed1"])
def random_report(request, tiny):
    if request.param == 0:
        return tiny[3]
    return sanity_check(_tiny_cnn(1), _tiny_images(1), seed=1, progress=False)


@pytest.fixture(scope="module", params=[0, 1], ids=["fashion-seed0", "fashion-seed1"])
def fashion_report(request):
    """The trained Fashion-MNIST net on 8 test images (a different sample per seed)."""
    net = zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, _) = fashion_mnist()
    index = np.random.default_rng(request.param).choice(len(x_test), 8, replace=False)
    return sanity_check(net, x_test[index], seed=request.param, progress=False)


def _assert_paper_directions(report: SanityReport, recovery_margin: float) -> None:
    sal, gbp = report["saliency"], report["guided"]
    assert sal.class_sensitivity > gbp.class_sensitivity + 0.5
    assert gbp.recovery > sal.recovery + recovery_margin
    assert sal.randomization_sensitivity > gbp.randomization_sensitivity + 0.3
    assert sal.final_ssim < gbp.final_ssim - 0.2
    for result in report.results.values():
        assert result.cascade[0].layer == "none"
        assert result.cascade[0].randomized == ()
        assert result.cascade[0].ssim == pytest.approx(1.0, abs=1e-6)
        assert result.cascade[0].spearman_abs == pytest.approx(1.0, abs=1e-6)
    assert report.verdicts["saliency"] == "reflects the decision"
    assert report.verdicts["guided"] == "mostly image recovery"


def test_random_cnn_saliency_is_class_and_weight_sensitive_gbp_recovers_image(random_report):
    _assert_paper_directions(random_report, recovery_margin=0.5)


def test_trained_fashion_cnn_saliency_is_class_and_weight_sensitive_gbp_recovers_image(fashion_report):
    _assert_paper_directions(fashion_report, recovery_margin=0.2)
    assert fashion_report.layers == (
        "predictions", "fc1", "block2_conv2", "block2_conv1", "block1_conv2", "block1_conv1",
    )


def test_cascade_randomizes_all_weight_layers_top_down_and_leaves_model_alone(tiny):
    model, before, _, report = tiny
    assert report.layers == ("logits", "fc", "conv2", "conv1")
    for result in report.results.values():
        assert [step.layer for step in result.cascade] == ["none", "logits", "fc", "conv2", "conv1"]
        assert result.cascade[-1].randomized == ("logits", "fc", "conv2", "conv1")
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cascade_step_matches_randomize_part(tiny):
    """After k steps the maps are those of kv.zoo.randomize_part with the same seed and init."""
    model, _, images, _ = tiny
    images = images[:2]
    report = sanity_check(
        model, images, rules="saliency", max_layers=2, num_random_classes=1, seed=4, progress=False
    )
    assert report.layers == ("logits", "fc")
    original = kv.visualize(model, images, rules="saliency", progress=False)["saliency"]
    predicted = np.argmax(kv.Visualizer(model).predict(images), axis=-1)
    part = zoo.randomize_part(model, 1, seed=4, init="keras")  # conv1, conv2 trained; fc, logits random
    randomized = kv.visualize(part, images, rules="saliency", target=predicted, progress=False)["saliency"]
    expected = np.mean([metrics.map_similarity(a, b)["ssim"] for a, b in zip(original, randomized)])
    step = report["saliency"].cascade[-1]
    assert step.randomized == ("logits", "fc")
    assert step.ssim == pytest.approx(expected, abs=1e-5)


def test_deconvnet_without_max_pooling_ignores_the_input():
    """Nie et al.: without max-pooling DeconvNet maps of different images are identical."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])
    report = sanity_check(
        model, _tiny_images(2, n=4), rules=("saliency", "deconvnet"), max_layers=1,
        num_random_classes=2, progress=False,
    )
    assert report["deconvnet"].input_similarity == pytest.approx(1.0, abs=1e-5)
    assert report.verdicts["deconvnet"] == "ignores the input"
    assert report["saliency"].input_similarity < 0.95


def test_layers_are_randomized_top_down_whatever_their_order(tiny):
    model, _, images, _ = tiny
    report = sanity_check(
        model, images[:2], rules="gbp", layers=["conv1", 2], num_random_classes=1, progress=False
    )
    assert report.layers == ("fc", "conv1")
    assert list(report.results) == ["guided"]
    assert report.num_random_classes == 1


def test_report_renders_as_markdown_dict_and_figure(tiny, tmp_path):
    _, _, _, report = tiny
    text = report.to_markdown()
    assert str(report) == text
    assert "| rule | class sensitivity (1 − SSIM) |" in text
    for rule, result in report.results.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {rule} |"))
        assert row.endswith(f"| {result.verdict} |")
        assert f"{result.class_sensitivity:.3f}" in row
    assert "| conv1 |" in text  # the cascade table's last row

    data = json.loads(json.dumps(report.to_dict()))
    assert data["layers"] == ["logits", "fc", "conv2", "conv1"]
    assert set(data["rules"]) == set(kv.RULES)
    guided = data["rules"]["guided"]
    assert guided["class_sensitivity"] == pytest.approx(1 - guided["class_ssim"])
    assert -1.0 <= guided["input_similarity"] <= 1.0
    assert [s["layer"] for s in guided["cascade"]] == ["none", "logits", "fc", "conv2", "conv1"]
    assert report["gbp"] is report.results["guided"]

    path = tmp_path / "sanity.png"
    fig = report.plot(path)
    assert path.stat().st_size > 0
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "scores, saliency, expected",
    [
        ((0.9, 0.8, 0.1), None, "reflects the decision"),
        ((0.1, 0.2, 0.7), None, "mostly image recovery"),
        ((0.9, 0.2, 0.5), None, "mostly image recovery"),
        ((0.1, 0.1, 0.05), None, "insensitive to class and weights"),
        ((0.9, 0.1, 0.05), None, "partly reflects the decision"),
        # 0.6 passes the absolute threshold but is under half of saliency's 1.4.
        ((0.6, 0.9, 0.05), (1.4, 0.9, 0.1), "partly reflects the decision"),
        ((0.6, 0.9, 0.05), (1.0, 0.9, 0.1), "reflects the decision"),
        # Maps that are the same for every image say nothing about the image.
        ((0.9, 0.8, 0.1, 0.99), None, "ignores the input"),
        ((0.9, 0.8, 0.1, 0.9), None, "reflects the decision"),
    ],
)
def test_verdict_rule_of_thumb(scores, saliency, expected):
    def as_dict(values):
        cs, ws, r, *m6 = values
        return {
            "class_sensitivity": cs, "randomization_sensitivity": ws, "recovery": r,
            "recovery_demeaned": r, "input_similarity": m6[0] if m6 else None,
        }

    got = verdict(as_dict(scores), None if saliency is None else as_dict(saliency))
    assert got == expected
    assert got in VERDICTS


def _dense_only() -> keras.Model:
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])


def _one_class() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_random_classes=0), InvalidArgumentError, "`num_random_classes` must be a positive integer. Received: num_random_classes=0"),
        (dict(max_layers=0), InvalidArgumentError, "`max_layers` must be a positive integer or None. Received: max_layers=0"),
        (dict(init="glorot"), InvalidArgumentError, "Unknown init. Known: 'keras', 'paper'. Received: init='glorot'"),
        (dict(seed=-1), InvalidArgumentError, "`seed` must be a non-negative integer. Received: seed=-1"),
        (dict(rules=()), InvalidArgumentError, "Give at least one rule, e.g. ('saliency', 'deconvnet', 'guided'). Received: rules=()"),
        (
            dict(rules=("gpb",)),
            UnknownRuleError,
            "Unknown rule 'gpb'. Known rules: 'saliency', 'deconvnet', 'guided' (aliases 'gradient', "
            "'vanilla', 'deconv', 'gbp', 'guided_backprop'). Received: rule='gpb'",
        ),
        (
            dict(layers=["nope"]),
            InvalidInputError,
            "'nope' is not a weight layer of model 'tiny'. Weight layers (by name or index 0..3): "
            "['conv1', 'conv2', 'fc', 'logits']. Received: layers=['nope']",
        ),
        (
            dict(layers=[]),
            InvalidInputError,
            "layers is empty: give at least one weight layer to randomize, or None for all of "
            "['conv1', 'conv2', 'fc', 'logits']. Received: layers=[]",
        ),
        (
            dict(images=np.zeros((2, 8, 8, 1), "float32")),
            InvalidInputError,
            "Wrong image size in `images`: the model takes (N, 16, 16, 1). Resize the images "
            "(e.g. kv.data.load_image(path, size=...)). Received: shape=(2, 8, 8, 1)",
        ),
        (
            dict(model=_dense_only, images=np.zeros((2, 8), "float32")),
            UnsupportedModelError,
            "sanity_check compares image-shaped maps: the model must take (N, H, W, C) inputs. "
            "Received: model input shape (None, 8)",
        ),
        (
            dict(model=_one_class, images=np.zeros((2, 8, 8, 1), "float32")),
            UnsupportedModelError,
            "Class sensitivity needs a model with at least 2 classes. Received: model output with 1 class",
        ),
    ],
    ids=[
        "num_random_classes", "max_layers", "init", "seed", "no_rules", "unknown_rule",
        "unknown_layer", "empty_layers", "image_size", "not_images", "one_class",
    ],
)
def test_bad_input_raises_with_clear_messages(tiny, kwargs, error, message):
    model, _, images, _ = tiny
    kwargs = {"model": model, "images": images[:2], "progress": False, **kwargs}
    if callable(kwargs["model"]) and not isinstance(kwargs["model"], keras.Model):
        kwargs["model"] = kwargs["model"]()
    with pytest.raises(error, match=f"^{re.escape(message)}$") as info:
        sanity_check(**kwargs)
    assert isinstance(info.value, KerasvizError)
    assert isinstance(info.value, ValueError if error is not UnsupportedModelError else TypeError)


def test_public_names():
    assert kv.analysis.sanity_check is sanity_check
    assert kv.analysis.sanity is sanity


def test_report_as_one_html_page_with_its_figure(tiny, tmp_path):
    """to_html: the rule table's cells as in to_markdown, and the figure of plot() as an embedded PNG."""
    import base64
    import io
    from html.parser import HTMLParser

    from PIL import Image

    _, _, _, report = tiny

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.images, self.cells, self.cell = [], [], None

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs)["src"])
            elif tag == "td":
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "td":
                self.cells.append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    path = tmp_path / "sanity.html"
    page = report.to_html(path, dpi=50)
    assert path.read_text(encoding="utf-8") == page
    parser = Parser()
    parser.feed(page)
    assert len(parser.images) == 1 and parser.images[0].startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(parser.images[0].split(",", 1)[1])))
    width, height = report.plot().get_size_inches() * 50
    assert picture.size == (round(width), round(height))
    for rule, result in report.results.items():
        at = parser.cells.index(rule)
        assert parser.cells[at + 1] == f"{result.class_sensitivity:.3f}"
        assert result.verdict in parser.cells[at + 1:at + 12]  # the row: 3 faithfulness columns before it

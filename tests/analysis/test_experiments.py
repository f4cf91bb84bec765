"""Tests for kerasviz.analysis.experiments: each experiment, in a tiny setting, shows its claim's direction."""

import re

import numpy as np
import pytest

from kerasviz import data, zoo
from kerasviz.analysis import experiments as ex
from kerasviz.analysis import metrics
from kerasviz.errors import InvalidArgumentError, KerasvizError

PHOTOS = ("chelsea", "coffee")
KEYS = {"experiment", "setting", "param", "seed", "image", "rule", "metric", "value"}


@pytest.fixture(scope="module")
def photos32():
    return data.sample_images(PHOTOS, size=32)


@pytest.fixture(scope="module")
def fashion_net():
    """The shipped trained net when present, else the untrained one (E5–E7 run on either)."""
    try:
        return zoo.fashion_cnn(weights="trained")
    except Exception:  # noqa: BLE001 - the weights file is optional here
        return zoo.fashion_cnn(seed=0)


@pytest.fixture(scope="module")
def fashion_images():
    (_, _), (x_test, _) = data.fashion_mnist()
    return x_test[:3]


def _mean(records, **filters):
    values = [r["value"] for r in records if all(r.get(k) == v for k, v in filters.items())]
    assert values, filters
    return float(np.mean(values))


@pytest.fixture(scope="module")
def e2_records(photos32):
    return ex.e2_random_cnn(photos32, filters=(16,), seeds=(0,), num_classes=3, names=PHOTOS)


def test_records_are_tidy(e2_records):
    assert all(KEYS <= set(r) for r in e2_records)
    assert {r["rule"] for r in e2_records} == {"saliency", "deconvnet", "guided", "images"}
    assert {r["image"] for r in e2_records if r["metric"] == "r_image"} == set(PHOTOS)
    # 2 images × 3 rules × 7 recovery metrics, plus one pair × (3 rules + the images' own r).
    assert len(e2_records) == 2 * 3 * 7 + 4


def test_e2_gbp_recovers_the_image_and_saliency_does_not(e2_records):
    """C1/C2 direction: cnn3 with 16 filters at 32×32 (theory: r ≈ 0.59)."""
    gbp = _mean(e2_records, rule="guided", metric="r_normalized")
    sal = _mean(e2_records, rule="saliency", metric="r_image")
    assert gbp > 0.4
    assert gbp > abs(sal) + 0.3


def test_e2_deconvnet_maps_of_two_images_are_identical_without_pooling(e2_records):
    """C3/C11: the same net and logit give the same DeconvNet map for any image (zero biases)."""
    assert _mean(e2_records, rule="deconvnet", metric="input_independence") > 1 - 1e-5
    assert _mean(e2_records, rule="guided", metric="input_independence") < 0.99


def test_center_subtracts_the_imagenet_mean():
    np.testing.assert_allclose(ex.center(np.full((1, 1, 3), 100.0))[0, 0],
                               100.0 - np.asarray(data.IMAGENET_MEAN))


def test_image_metrics_of_the_image_itself_are_one():
    x = ex.center(data.sample_images(("chelsea",), size=16))[0]
    values = ex.image_metrics(x, x, metrics.patch_normalized_box(x, 3))
    assert values["r_image"] == pytest.approx(1.0)
    assert values["highpass"] > 0.5
    assert set(values) == {"r_image", "abs_r_image", "r_image_demeaned", "r_normalized",
                           "r_normalized_demeaned", "highpass", "ssim_image"}


def test_e1_fc_recovery_grows_with_width_and_stays_below_the_cnn(photos32):
    """C5 direction at 32×32×3 (d = 3072): N_h = 250 → 0.09, 5000 → 0.38 (theory); CNN N=64 → 0.83."""
    records = ex.e1_fc_width(photos32, hidden=(250, 5000), seeds=(0,), num_classes=2, cnn_filters=64)
    narrow = _mean(records, setting="fc", param=250, rule="guided", metric="r_image")
    wide = _mean(records, setting="fc", param=5000, rule="guided", metric="r_image")
    cnn = _mean(records, setting="cnn", rule="guided", metric="r_image")
    assert narrow < wide < cnn
    assert {r["input_dim"] for r in records if r["setting"] == "fc"} == {3072}


def test_e3_max_pooling_makes_deconvnet_high_pass(photos32):
    """C6 direction: M2(Deconv) ≈ 0 without pooling, clearly positive with it."""
    records = ex.e3_max_pool(photos32, filters=16, seeds=(0,), num_classes=2, independence_class=None)
    plain = _mean(records, setting="cnn", rule="deconvnet", metric="highpass")
    pooled = _mean(records, setting="cnn_maxpool", rule="deconvnet", metric="highpass")
    assert abs(plain) < 0.15 < pooled


def test_e4_random_vgg_gbp_beats_saliency(photos32):
    """C7 direction on a 32×32 random VGG-16 with the paper's init."""
    records = ex.e4_random_vgg(photos32, seeds=(0,), num_classes=2)
    assert _mean(records, rule="guided", metric="r_image") > _mean(records, rule="saliency", metric="r_image") + 0.3


def test_cascade_steps_follow_the_three_protocols():
    net = zoo.fashion_cnn()
    part = ex.cascade_steps(net, "part")
    assert [k for k, _, _ in part] == [4, 3, 2, 1, 0, -1]
    assert part[0][1:] == ([5], "predictions") and part[-1][1] == [0, 1, 2, 3, 4, 5]
    assert [layers for _, layers, _ in ex.cascade_steps(net, "only")] == [[k] for k in range(6)]
    assert ex.cascade_steps(net, "reverse")[1][1:] == ([0, 1], "block1_conv2")


def test_e5_gbp_stays_close_to_the_trained_map_when_the_top_is_randomized(fashion_net, fashion_images):
    records = ex.e5_randomization(fashion_net, fashion_images[:2], protocols=("part",), seeds=(0,))
    assert len({r["step"] for r in records}) == 6
    first = [r for r in records if r["step"] == 0]
    assert {r["layer"] for r in first} == {"predictions"}
    assert _mean(first, rule="guided", metric="ssim") > _mean(first, rule="saliency", metric="ssim")
    head = {r["param"] for r in records if r["head_random"]}
    lowest = sorted({r["param"] for r in records if r["lowest_trained"]})
    assert head == {3} and lowest == [1, 2, 3, 4]


def test_e6_gbp_maps_of_two_classes_are_more_alike_than_saliency_maps(fashion_net, fashion_images):
    """C9 direction, with at least the requested number of class pairs per image."""
    records = ex.e6_class_pairs(fashion_net, fashion_images, pairs=6, seed=0)
    per_image = {r["pair"] for r in records if r["image"] == "image0" and r["rule"] == "guided"
                 and r["metric"] == "ssim"}
    assert len(per_image) >= 6
    assert _mean(records, rule="guided", metric="ssim") > _mean(records, rule="saliency", metric="ssim")
    assert any(r["with_max"] for r in records) and not all(r["with_max"] for r in records)


def test_classes_for_pairs():
    assert [ex.classes_for_pairs(10, p) for p in (1, 3, 20, 45, 100)] == [2, 3, 7, 10, 10]


def test_e7_records_the_attack_and_the_map_similarity(fashion_net, fashion_images):
    records = ex.e7_adversarial(fashion_net, fashion_images, fixed_epsilons=(4,), seed=0)
    attack = [r for r in records if r["rule"] == "attack" and r["setting"] == "fgsm_min"]
    assert {r["metric"] for r in attack} == {"epsilon", "epsilon_float", "linf", "class_x", "class_adv", "flipped"}
    flipped = [r["image"] for r in attack if r["metric"] == "flipped" and r["value"] == 1.0]
    assert flipped, "FGSM up to 64/255 flips at least one Fashion-MNIST image"
    for image in flipped:
        cls = {r["metric"]: r["value"] for r in attack if r["image"] == image}
        assert cls["class_x"] != cls["class_adv"]
        assert 0 < cls["linf"] <= cls["epsilon"] + 0.5 + 1e-6  # grey levels, measured after rounding
    sims = [r for r in records if r["setting"] == "fgsm_min" and r["rule"] != "attack"]
    assert {r["image"] for r in sims} == set(flipped)
    assert _mean(sims, rule="guided", metric="ssim") > _mean(sims, rule="saliency", metric="ssim")
    assert {r["param"] for r in records if r["setting"] == "fgsm_fixed"} == {4.0}


def test_example_maps_give_one_row_per_network(fashion_net, fashion_images):
    rows = ex.example_maps("coffee", size=32, fc_hidden=100, cnn_filters=4, vgg_size=32, vgg_classes=2,
                           trained=(fashion_net, fashion_images[0]))
    assert [row["label"].split("\n")[0] for row in rows] == [
        "random FC", "random CNN", "CNN + max-pool", "random VGG-16", "trained net"]
    for row in rows:
        assert set(row["maps"]) == {"saliency", "deconvnet", "guided"}
        assert all(m.shape == row["image"].shape for m in row["maps"].values())


def test_names_must_match_the_images(photos32):
    with pytest.raises(ValueError, match="Received: names="):
        ex.e2_random_cnn(photos32, filters=(1,), names=("one",))


@pytest.mark.parametrize(
    "seeds, message",
    [
        ((), "Give at least one seed, e.g. seeds=(0,). Received: seeds=()"),
        ((0, 1.5), "`seeds` must be an integer. Received: seeds=1.5"),
    ],
)
def test_bad_seeds_raise(seeds, message):
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
        ex.e2_random_cnn(np.zeros((1, 8, 8, 3), np.float32), filters=(4,), seeds=seeds)
    assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)


def test_e5_records_are_those_of_randomized_copies(fashion_net, fashion_images):
    """E5 writes each step's weights into one working copy; its maps equal those of kv.zoo.randomize copies."""
    import kerasviz as kv

    records = ex.e5_randomization(fashion_net, fashion_images, protocols=("part", "only"), seeds=(1,))
    viz = kv.Visualizer(fashion_net, rules=ex.RULES)
    classes = viz.predict(fashion_images).argmax(axis=-1)
    trained = viz(fashion_images, target=classes, progress=False)
    for protocol in ("part", "only"):
        steps = ex.cascade_steps(fashion_net, protocol)
        for position in (0, len(steps) - 2, len(steps) - 1):
            _, layers, _ = steps[position]
            copy = zoo.randomize(fashion_net, layers, seed=1)
            maps = kv.Visualizer(copy, rules=ex.RULES)(fashion_images, target=classes, progress=False)
            for rule in ex.RULES:
                expected = metrics.map_similarity(trained[rule][2], maps[rule][2])["ssim"]
                stored = [r["value"] for r in records if r["setting"] == protocol and r["step"] == position
                          and r["image"] == "image2" and r["rule"] == rule and r["metric"] == "ssim"]
                assert stored == [pytest.approx(expected, abs=1e-6)]

"""Tests for kerasviz.analysis.relevance_claims: the relevance rules' rows beside GBP's and saliency's.

The rows are computed on hand-made records (the means, C8's lowest step, the
placing and the agreement are checked against numbers worked out here), and
the signing of relevance maps in the experiments against a NumPy reference:
LRP-epsilon on a bias-free ReLU net is gradient × input.
"""

import re

import keras
import numpy as np
import pytest

from kerasviz.analysis import experiments as ex
from kerasviz.analysis import metrics
from kerasviz.analysis import relevance_claims as rc
from kerasviz.analysis.records import record
from kerasviz.errors import InvalidArgumentError, KerasvizError


def _random_records(values):
    """E2 (N = 64) and random VGG-16 records: `values[rule] = (r_normalized, r_image, vgg r_image)`, 2 images."""
    out = []
    for rule, (r_tilde, r_x, r_vgg) in values.items():
        for image, offset in (("a", -0.05), ("b", 0.05)):
            out.append(record("E2", "cnn", 64, 0, image, rule, "r_normalized", r_tilde + offset))
            out.append(record("E2", "cnn", 64, 0, image, rule, "r_image", r_x + offset))
            out.append(record("E4", "vgg16_random", None, 0, image, rule, "r_image", r_vgg + offset))
            out.append(record("E2", "cnn", 16, 0, image, rule, "r_image", 9.0))  # another N: not C1's
    return out


def _trained_records(net, values):
    """E5 (three steps), E6 and E7 records of one net: `values[rule] = (E5 per step, E6, E7)`."""
    out = []
    steps = [("predictions", False, False), ("fc1", True, False), ("block2_conv1", False, False),
             ("block1_conv1", False, True)]  # (layer, head_random, block 1 random)
    for rule, (e5, e6, e7) in values.items():
        for step, ((layer, head, low), value) in enumerate(zip(steps, e5, strict=True)):
            out.append(record("E5", "part", step, 0, "a", rule, "ssim", value, net=net, layer=layer, step=step,
                              head_random=head, lowest_trained=not low))
        out.append(record("E6", "class_pairs", 3, 0, "a", rule, "ssim", e6, net=net, pair="1-2"))
        out.append(record("E7", "fgsm_min", None, 0, "a", rule, "ssim", e7, net=net))
    return out


RANDOM = {"saliency": (0.0, 0.02, 0.05), "guided": (0.8, 0.78, 0.75), "lrp-zplus": (0.7, 0.7, -0.3),
          "deeplift": (0.1, 0.05, 0.6)}
TRAINED = {
    "saliency": ([0.4, 0.1, 0.0, 0.0], 0.1, 0.2),
    "guided": ([0.9, 0.8, 0.6, 0.3], 0.9, 0.25),  # E7: GBP and saliency differ by < SEPARATION
    "lrp-zplus": ([0.95, 0.9, 0.85, 0.1], 0.95, 0.9),
    "deeplift": ([0.5, 0.7, 0.2, 0.0], 0.2, 0.1),
}


@pytest.fixture(scope="module")
def section():
    records = _random_records(RANDOM) + _trained_records("net_a", TRAINED)
    return rc.summarize(records, ("lrp-zplus", "deeplift"))


def _row(table, rule):
    (row,) = [r for r in table["rows"] if r["rule"] == rule]
    return row


def test_random_nets_rows_are_the_means_of_c1s_records_placed_by_gbp_and_saliency(section):
    random_table = section["tables"][0]
    assert random_table["net"] is None
    assert [r["rule"] for r in random_table["rows"]] == ["saliency", "guided", "lrp-zplus", "deeplift"]
    zplus = _row(random_table, "lrp-zplus")
    assert [c["mean"] for c in zplus["cells"]] == pytest.approx([0.7, 0.7, -0.3])
    assert [c["n"] for c in zplus["cells"]] == [2, 2, 2]
    assert [c["like"] for c in zplus["cells"]] == ["GBP", "GBP", "saliency"]
    assert [c["meets_bound"] for c in zplus["cells"]] == [True, True, None]  # C1's 0.6; C7 bounds a difference
    assert (zplus["prediction"], zplus["agree"], zplus["placed"]) == ("GBP", 2, 3)
    assert zplus["disagree_on"] == ["C7: r(·, x), random VGG-16"]
    deeplift = _row(random_table, "deeplift")
    assert [c["like"] for c in deeplift["cells"]] == ["saliency", "saliency", "GBP"]
    assert (deeplift["prediction"], deeplift["agree"]) == ("saliency", 2)
    assert _row(random_table, "guided")["cells"][0]["like"] is None  # the references are not placed


def test_trained_net_rows_read_c8s_lowest_step_and_leave_unseparated_measures_unplaced(section):
    (table,) = [t for t in section["tables"] if t["net"] == "net_a"]
    zplus = _row(table, "lrp-zplus")
    # C8: the lowest of the three steps with block 1 trained (0.85), and the head-random step (0.9).
    assert [c["mean"] for c in zplus["cells"]] == pytest.approx([0.85, 0.9, 0.95, 0.9])
    assert [c["like"] for c in zplus["cells"]] == ["GBP", "GBP", "GBP", None]  # E7: 0.25 vs 0.2
    assert (zplus["agree"], zplus["placed"], zplus["disagree_on"]) == (3, 3, [])
    deeplift = _row(table, "deeplift")
    assert [c["mean"] for c in deeplift["cells"]] == pytest.approx([0.2, 0.7, 0.2, 0.1])
    assert [c["like"] for c in deeplift["cells"]] == ["saliency", "GBP", "saliency", None]
    assert (deeplift["agree"], deeplift["placed"]) == (2, 3)
    assert [c["meets_bound"] for c in deeplift["cells"]] == [False, True, False, False]


def test_place_is_the_nearer_reference_and_none_when_they_are_not_apart():
    assert rc.place(0.6, gbp=0.9, saliency=0.1) == "GBP"
    assert rc.place(0.4, gbp=0.9, saliency=0.1) == "saliency"
    assert rc.place(0.5, gbp=0.9, saliency=0.1) is None  # a tie
    assert rc.place(0.9, gbp=0.5, saliency=0.5 - rc.SEPARATION / 2) is None
    assert rc.place(None, gbp=0.9, saliency=0.1) is None


def test_markdown_has_one_table_per_net_and_a_row_per_rule(section):
    text = rc.markdown(section)
    assert "**random nets**" in text and "**trained net net_a**" in text
    assert "| lrp-zplus | GBP | 0.700✓ ≈GBP | 0.700✓ ≈GBP | -0.300 ≈Sal | 2 of 3 (not: C7: r(·, x), random VGG-16) |" \
        in text
    assert "| guided | — | 0.800✓ | 0.780✓ | 0.750 | reference |" in text


def test_a_rule_not_measured_says_so():
    records = _random_records({k: RANDOM[k] for k in ("saliency", "guided")})
    section = rc.summarize(records, ("lrp-epsilon",))
    row = _row(section["tables"][0], "lrp-epsilon")
    assert [c["mean"] for c in row["cells"]] == [None, None, None] and row["placed"] == 0
    assert "| lrp-epsilon | saliency | not measured | not measured | not measured | nothing placed |" \
        in rc.markdown(section)


@pytest.mark.parametrize("rules, said", [(("guided",), "unknown: ['guided']"),
                                         (("lrp-zplus", "lrp-zplus"), "a name twice")])
def test_check_rules_names_the_named_relevance_rules(rules, said):
    with pytest.raises(InvalidArgumentError, match=re.escape("Settings.relevance_rules lists named relevance rules")) \
            as info:
        rc.check_rules(rules)
    assert isinstance(info.value, KerasvizError) and said in str(info.value)
    assert f"Received: relevance_rules={rules!r}" in str(info.value) and "'lrp-epsilon-plus-flat'" in str(info.value)


def test_every_named_relevance_rule_has_a_prediction_entry():
    from kerasviz.relevance import NAMED

    assert set(rc.PREDICTIONS) == set(NAMED)


def _dense_net() -> keras.Model:
    """Bias-free Flatten → Dense(6, ReLU) → Dense(3); logit 2 is minus logit 0, so logits have both signs."""
    rng = np.random.default_rng(3)
    inputs = keras.Input((16, 16, 1))
    hidden = keras.layers.Dense(6, activation="relu", use_bias=False, name="fc1")(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Dense(3, use_bias=False, name="predictions")(hidden)
    model = keras.Model(inputs, outputs)
    model.get_layer("fc1").set_weights([rng.normal(size=(256, 6)).astype(np.float32)])
    w2 = rng.normal(size=(6, 3)).astype(np.float32)
    w2[:, 2] = -w2[:, 0]
    model.get_layer("predictions").set_weights([w2])
    return model


def test_e6_compares_relevance_maps_signed_by_their_logits_against_numpy():
    """LRP-epsilon on a bias-free ReLU net is gradient × input; E6 multiplies it by the sign of the logit."""
    model = _dense_net()
    images = np.random.default_rng(4).uniform(size=(2, 16, 16, 1)).astype(np.float32)
    w1, w2 = (model.get_layer(name).get_weights()[0].astype(np.float64) for name in ("fc1", "predictions"))
    flat = images.reshape(2, -1).astype(np.float64)
    hidden = flat @ w1
    logits = np.maximum(hidden, 0) @ w2
    assert (logits < 0).any() and (logits > 0).any()  # the signing matters: signed, maps 0 and 2 are equal

    def reference(i, c):
        relevance = flat[i] * (w1 @ ((hidden[i] > 0) * w2[:, c]))  # gradient × input
        assert relevance.sum() == pytest.approx(logits[i, c], rel=1e-3)
        return (relevance * np.sign(logits[i, c])).reshape(16, 16, 1)

    records = ex.e6_class_pairs(model, images, pairs=3, seed=0, rules=(*ex.RULES, "lrp-epsilon"))
    checked = 0
    for r in records:
        if r["rule"] == "lrp-epsilon" and r["metric"] == "ssim":
            i = int(r["image"][-1])
            a, b = (int(c) for c in r["pair"].split("-"))
            expected = metrics.class_pair_similarity(reference(i, a), reference(i, b))["ssim"]
            assert r["value"] == pytest.approx(expected, abs=1e-3)
            checked += 1
    assert checked == 2 * 3  # two images × the three pairs of three classes
    same = [r["value"] for r in records if r["rule"] == "lrp-epsilon" and r["metric"] == "ssim"
            and set(r["pair"].split("-")) == {"0", "2"}]
    assert same == pytest.approx([1.0, 1.0], abs=1e-3)
    assert {r["rule"] for r in records} == {*ex.RULES, "lrp-epsilon"}

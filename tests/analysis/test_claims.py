"""Tests for kerasviz.analysis.claims: verdicts of C1–C11 on synthetic records, at the thresholds."""

import copy
import math
import re

import pytest

from kerasviz.analysis import claims, metrics
from kerasviz.analysis.experiments import record
from kerasviz.errors import InvalidArgumentError, KerasvizError

FILTERS = (1, 4, 16, 64, 256)
WIDTHS = (1000, 5000, 20000, 70000)
D = 64 * 64 * 3


def _cnn(value_by_rule_metric, experiment="E2", setting="cnn", param=64, images=("a", "b")):
    out = []
    for (rule, metric), value in value_by_rule_metric.items():
        for image in images:
            out.append(record(experiment, setting, param, 0, image, rule, metric, value, size=64))
    return out


def _e5(sal=0.1, gbp=0.8, deconv=0.8, gbp_low=0.2):
    """Six weight layers like the Fashion-MNIST net: block1 (0, 1), block2 (2, 3), dense (4, 5)."""
    layers = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "fc1", "predictions"]
    out = []
    for step, k in enumerate(range(4, -2, -1)):
        randomized = set(range(k + 1, 6))
        lowest_trained = not randomized & {0, 1}
        values = {
            "saliency": sal,
            "guided": gbp if lowest_trained else gbp_low,
            "deconvnet": deconv if lowest_trained else gbp_low,
        }
        for rule, value in values.items():
            out.append(record("E5", "part", k, 0, "a", rule, "ssim", value, layer=layers[k + 1], step=step,
                              randomized=len(randomized), lowest_trained=lowest_trained,
                              head_random=randomized == {4, 5}))
    return out


def passing_records():
    """Records for which every claim holds (one seed, two images)."""
    out = []
    for n in FILTERS:
        theory = metrics.theoretical_recovery(n, 3)
        out += _cnn({("guided", "r_image"): theory - 0.05, ("guided", "r_normalized"): theory,
                     ("saliency", "r_image"): 0.0, ("deconvnet", "r_image_demeaned"): 0.0}, param=n)
    out.append(record("E2", "cnn", 64, 0, "a|b", "guided", "input_independence", 0.02))
    out.append(record("E2", "cnn", 64, 0, "a|b", "deconvnet", "input_independence", 1.0))
    out.append(record("E2", "cnn", 64, 0, "a|b", "images", "input_independence", 0.0))
    for width in WIDTHS:
        value = metrics.theoretical_recovery_fc(width, D)
        out += [record("E1", "fc", width, 0, image, "guided", "r_image", value, size=64, input_dim=D)
                for image in ("a", "b")]
    out += _cnn({("guided", "r_image"): 0.8}, experiment="E1")
    out += _cnn({("deconvnet", "highpass"): 0.0, ("saliency", "r_image"): 0.0}, experiment="E3")
    out += _cnn({("deconvnet", "highpass"): 0.6, ("saliency", "r_image"): 0.0, ("guided", "r_image"): 0.5},
                experiment="E3", setting="cnn_maxpool")
    out += _cnn({("guided", "r_image"): 0.8, ("saliency", "r_image"): 0.0}, experiment="E4",
                setting="vgg16_random", param=None)
    out += _e5()
    for experiment, setting in (("E6", "class_pairs"), ("E7", "fgsm_min")):
        for rule, value in (("guided", 0.95), ("deconvnet", 0.92), ("saliency", 0.3)):
            out.append(record(experiment, setting, None, 0, "a", rule, "ssim", value))
    out.append(record("E7", "fgsm_min", None, 0, "a", "attack", "flipped", 1.0))
    out.append(record("E7", "fgsm_min", None, 0, "a", "attack", "epsilon", 2.0))
    return out


def _verdict(records, cid):
    return claims.evaluate_claim(cid, records)


def _replace(records, new_value, **filters):
    out = copy.deepcopy(records)
    hits = 0
    for r in out:
        if all(r.get(k) == v for k, v in filters.items()):
            r["value"] = new_value
            hits += 1
    assert hits, filters
    return out


def test_every_claim_holds_on_passing_records_and_is_reported_in_order():
    verdicts = claims.evaluate(passing_records())
    assert [c["id"] for c in verdicts] == [f"C{i}" for i in range(1, 12)]
    failing = [(c["id"], [k for k in c["checks"] if not k["holds"]]) for c in verdicts if not c["holds"]]
    assert failing == []
    for claim in verdicts:
        assert set(claim) >= {"id", "claim", "setting", "metric", "value", "threshold", "holds", "criterion"}


def test_c1_holds_at_exactly_0_6_and_fails_just_below():
    """docs/paper.md, claim C1: r(GBP, x̃) ≥ 0.6 and r(GBP, x) ≥ 0.6 at N=64."""
    base = passing_records()
    at = _replace(_replace(base, 0.6, experiment="E2", param=64, rule="guided", metric="r_image"),
                  0.6, experiment="E2", param=64, rule="guided", metric="r_normalized")
    assert _verdict(at, "C1")["holds"]
    below = _replace(at, 0.5999, experiment="E2", param=64, rule="guided", metric="r_normalized")
    verdict = _verdict(below, "C1")
    assert not verdict["holds"]
    assert verdict["value"]["r(GBP, x̃)"] == pytest.approx(0.5999)


@pytest.mark.parametrize("sal, holds", [(0.05, True), (-0.05, True), (0.0501, False), (-0.06, False)])
def test_c2_bounds_the_absolute_mean_saliency_correlation(sal, holds):
    records = _replace(passing_records(), sal, experiment="E2", param=64, rule="saliency", metric="r_image")
    assert _verdict(records, "C2")["holds"] is holds


def test_c2_needs_a_gap_of_0_5_between_gbp_and_saliency():
    records = _replace(passing_records(), 0.45, experiment="E2", param=64, rule="guided", metric="r_image")
    verdict = _verdict(records, "C2")
    assert not verdict["holds"]
    assert verdict["value"]["r(GBP, x) − r(Sal, x)"] == pytest.approx(0.45)


def test_c3_and_c11_need_deconvnet_maps_identical_across_images():
    records = _replace(passing_records(), 1 - 2e-5, experiment="E2", rule="deconvnet",
                       metric="input_independence")
    assert not _verdict(records, "C3")["holds"]
    assert not _verdict(records, "C11")["holds"]


def test_c3_bounds_the_channel_demeaned_deconvnet_correlation_at_0_1():
    records = _replace(passing_records(), 0.11, experiment="E2", param=64, rule="deconvnet",
                       metric="r_image_demeaned")
    assert not _verdict(records, "C3")["holds"]


def test_c4_fails_when_recovery_is_not_strictly_increasing():
    theory16 = metrics.theoretical_recovery(16, 3)
    records = _replace(passing_records(), theory16 - 0.05, experiment="E2", param=64, rule="guided",
                       metric="r_image")
    verdict = _verdict(records, "C4")
    assert not verdict["holds"]
    assert not verdict["checks"][0]["holds"]  # the monotonicity check


def test_c4_fails_when_a_mean_is_more_than_0_1_from_the_theory():
    theory = metrics.theoretical_recovery(256, 3)
    records = _replace(passing_records(), theory + 0.11, experiment="E2", param=256, rule="guided",
                       metric="r_image")
    verdict = _verdict(records, "C4")
    assert not verdict["holds"]
    assert [c["holds"] for c in verdict["checks"]][-1] is False


def test_c5_fails_when_the_widest_fc_net_beats_the_cnn():
    records = _replace(passing_records(), 0.55, experiment="E1", setting="cnn", rule="guided", metric="r_image")
    verdict = _verdict(records, "C5")
    assert not verdict["holds"]
    assert sum(not c["holds"] for c in verdict["checks"]) == 1


def test_c6_checks_deconvnet_highpass_with_and_without_pooling():
    assert not _verdict(_replace(passing_records(), 0.29, experiment="E3", setting="cnn_maxpool",
                                 rule="deconvnet", metric="highpass"), "C6")["holds"]
    assert not _verdict(_replace(passing_records(), 0.2, experiment="E3", setting="cnn",
                                 rule="deconvnet", metric="highpass"), "C6")["holds"]


def test_c7_needs_gbp_more_than_0_3_above_saliency():
    at = _replace(passing_records(), 0.3, experiment="E4", rule="guided", metric="r_image")
    assert not _verdict(at, "C7")["holds"]  # strictly greater than r(Sal) + 0.3
    above = _replace(passing_records(), 0.31, experiment="E4", rule="guided", metric="r_image")
    assert _verdict(above, "C7")["holds"]


def test_c8_holds_when_gbp_stays_high_until_block1_and_saliency_drops_at_the_head():
    assert _verdict(_e5(), "C8")["holds"]


@pytest.mark.parametrize("kwargs", [
    {"gbp": 0.49},  # GBP drops before the first block is randomized
    {"deconv": 0.45},
    {"sal": 0.5},  # saliency does not drop below 0.5
    {"sal": 0.45, "gbp": 0.8, "deconv": 0.8},  # 0.45 > 0.5 × 0.8
])
def test_c8_fails_when_either_side_of_the_criterion_fails(kwargs):
    assert not _verdict(_e5(**kwargs), "C8")["holds"]


def test_c8_ignores_steps_after_the_first_block_is_randomized():
    assert _verdict(_e5(gbp_low=0.0), "C8")["holds"]


@pytest.mark.parametrize("cid, experiment", [("C9", "E6"), ("C10", "E7")])
def test_c9_c10_need_ssim_of_0_9_for_gbp_and_deconvnet_above_saliency(cid, experiment):
    base = passing_records()
    assert _verdict(_replace(base, 0.9, experiment=experiment, rule="deconvnet", metric="ssim"), cid)["holds"]
    assert not _verdict(_replace(base, 0.899, experiment=experiment, rule="guided", metric="ssim"), cid)["holds"]
    assert not _verdict(_replace(base, 0.96, experiment=experiment, rule="saliency", metric="ssim"), cid)["holds"]


@pytest.mark.parametrize("value, holds", [(0.1, True), (-0.1, True), (0.15, False)])
def test_c11_bounds_gbp_input_independence_at_0_1(value, holds):
    records = _replace(passing_records(), value, experiment="E2", rule="guided", metric="input_independence")
    assert _verdict(records, "C11")["holds"] is holds


def test_a_claim_without_records_does_not_hold_and_says_not_measured():
    verdicts = claims.evaluate([])
    assert len(verdicts) == 11
    assert not any(c["holds"] for c in verdicts)
    assert all(k.get("note") for c in verdicts for k in c["checks"] if k["value"] is None)


def test_nan_values_are_ignored_in_means():
    records = passing_records() + [record("E4", "vgg16_random", None, 1, "a", "guided", "r_image", math.nan)]
    assert _verdict(records, "C7")["holds"]


def test_unknown_claim_id_is_a_value_error():
    with pytest.raises(ValueError, match="Received: claim_id='C12'"):
        claims.evaluate_claim("C12", [])


def test_thresholds_are_papers():
    t = claims.THRESHOLDS
    assert (t["c1_r_gbp"], t["c2_abs_r_sal"], t["c2_gap"], t["c3_abs_r_deconv"]) == (0.6, 0.05, 0.5, 0.1)
    assert t["c3_independence"] == 1 - 1e-5
    assert (t["c4_tolerance"], t["c5_tolerance"], t["c6_deconv_pool"], t["c7_gap"]) == (0.1, 0.1, 0.3, 0.3)
    assert (t["c9_ssim"], t["c10_similarity"]) == (0.9, 0.9)


def test_unknown_claim_id_raises():
    known = ", ".join(repr(f"C{i}") for i in range(1, 12))
    message = f"Unknown claim. Known: {known}. Received: claim_id='C12'"
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$") as info:
        claims.evaluate_claim("C12", [])
    assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)


def _two_nets():
    """The passing records with C8–C10's records once for net 'small' (passing) and once for 'wide' (C9 fails)."""
    base = passing_records()
    trained = [r for r in base if r["experiment"] in ("E5", "E6", "E7")]
    others = [r for r in base if r["experiment"] not in ("E5", "E6", "E7")]
    small = [dict(r, net="small") for r in trained]
    wide = [dict(r, net="wide") for r in trained]
    wide = _replace(wide, 0.85, experiment="E6", rule="guided", metric="ssim")
    return others + small + wide


def test_trained_net_claims_get_one_row_per_net_in_order():
    verdicts = claims.evaluate(_two_nets())
    assert [(c["id"], c["net"]) for c in verdicts] == (
        [(f"C{i}", None) for i in range(1, 8)]
        + [(cid, net) for cid in ("C8", "C9", "C10") for net in ("small", "wide")] + [("C11", None)])
    holds = {(c["id"], c["net"]): c["holds"] for c in verdicts}
    assert holds[("C9", "small")] and not holds[("C9", "wide")]
    assert holds[("C8", "wide")] and holds[("C10", "wide")]
    wide_c9 = next(c for c in verdicts if (c["id"], c["net"]) == ("C9", "wide"))
    assert wide_c9["value"]["ssim(GBP)"] == pytest.approx(0.85)  # only that net's records


def test_per_net_rows_equal_the_claim_on_that_net_alone():
    records = _two_nets()
    for net in ("small", "wide"):
        alone = [r for r in records if r.get("net") in (None, net)]
        for cid in ("C8", "C9", "C10"):
            row = claims.evaluate_claim(cid, records, net=net)
            assert row == claims.evaluate_claim(cid, alone)
            assert row["net"] == net


def test_evaluate_claim_needs_net_when_the_records_hold_several():
    message = ("C9 is measured per trained net and the records hold 2: pass net= one of them. "
               "Received: trained_nets(records)=['small', 'wide']")
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(message)}$"):
        claims.evaluate_claim("C9", _two_nets())
    assert claims.evaluate_claim("C1", _two_nets())["holds"]  # random-net claims need no net


def test_width_study_records_get_no_claim_rows():
    records = _two_nets() + [dict(r, net="fashion_vgg_w16", study="width", width=16)
                             for r in passing_records() if r["experiment"] in ("E5", "E6")]
    assert claims.trained_nets(records) == ["small", "wide"]
    assert len(claims.evaluate(records)) == 7 + 3 * 2 + 1


def test_input_independence_curve_is_the_records_means_beside_our_theory():
    rows = []
    values = {4: (0.45, 0.43), 64: (0.2, 0.14), 256: (0.06, 0.04)}
    for n, (a, b) in values.items():
        for seed, value in ((0, a), (1, b)):
            rows.append(record("E2", "cnn", n, seed, "x|y", "guided", "input_independence", value))
            rows.append(record("E2", "cnn", n, seed, "x|y", "deconvnet", "input_independence", 1.0))
            rows.append(record("E2", "cnn", n, seed, "x|y", "images", "input_independence", 0.3))
    curve = claims.input_independence_curve(rows)
    assert [row["N"] for row in curve] == [4, 64, 256]
    for row in curve:
        a, b = values[row["N"]]
        s = row["N"] / (3 * math.pi**2)
        assert row["mean"] == pytest.approx((a + b) / 2) and row["n"] == 2
        assert row["theory"] == pytest.approx(0.5 / (1 + s))
        assert row["pair_theory"] == pytest.approx((0.5 + 0.3 * s) / (1 + s))
        assert row["deconvnet"] == 1.0
        assert row["within"] is (abs(row["mean"] - row["theory"]) <= claims.C11_CURVE_TOLERANCE)
    assert [row["within"] for row in curve] == [True, True, True]
    c11 = claims.evaluate_claim("C11", rows)
    assert c11["curve"] == curve and not c11["holds"]  # M6(GBP) = 0.17 at N = 64: above the 0.1 bound
    assert "within ±0.05 of the curve at N = 4, 64, 256" in c11["note"]

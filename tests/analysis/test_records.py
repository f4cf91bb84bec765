"""Tests for kerasviz.analysis.records: selecting records and their mean ± sd, NaN left out everywhere."""

import math

import pytest

from kerasviz.analysis import claims, experiments, metrics, records, report


def _rows():
    return [
        records.record("E2", "cnn", 4, 0, "a", "guided", "r_image", 0.2),
        records.record("E2", "cnn", 64, 0, "a", "guided", "r_image", 0.8),
        records.record("E2", "cnn", 64, 1, "a", "guided", "r_image", 0.6),
        records.record("E2", "cnn", 64, 1, "b", "guided", "r_image", math.nan),
        records.record("E2", "cnn", 64, 0, "a", "saliency", "r_image", 0.0),
    ]


def test_select_by_value_and_by_predicate():
    rows = _rows()
    assert records.select(rows, rule="saliency") == [rows[4]]
    assert records.select(rows, param=lambda n: n > 4, seed=1) == rows[2:4]
    assert records.select(rows, layer=None) == rows  # a missing key reads as None


def test_stats_leave_nan_and_none_out():
    rows = _rows()
    assert records.stats(rows, param=64, rule="guided") == (0.7, pytest.approx(math.sqrt(0.02)), 2)
    as_json = report.to_json(rows)  # NaN becomes None
    assert records.stats(as_json, param=64, rule="guided")[::2] == (0.7, 2)
    mean, sd, n = records.stats(rows, image="b")
    assert math.isnan(mean) and math.isnan(sd) and n == 0


def test_summarize_follows_the_same_nan_policy():
    table = records.summarize(_rows(), by=("rule", "param"))
    assert [(r["rule"], r["param"], r["n"]) for r in table] == [
        ("guided", 4, 1), ("guided", 64, 2), ("saliency", 64, 1)]
    assert table[1]["mean"] == pytest.approx(0.7)
    (empty,) = records.summarize([{"value": math.nan}])
    assert math.isnan(empty["mean"]) and empty["n"] == 0


def test_claims_and_report_count_the_same_values():
    rows = _rows()
    check = claims._mean_check(rows, "r", ">=", 0.6, experiment="E2", param=64, rule="guided", metric="r_image")
    assert (check["value"], check["n"]) == (pytest.approx(0.7), 2)
    assert "| 0.700 ± 0.141 |" in report.experiment_tables(rows)


def test_old_homes_still_give_the_same_objects():
    assert experiments.record is records.record
    assert metrics.summarize is records.summarize

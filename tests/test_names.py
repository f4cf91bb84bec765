"""Tests for kerasviz.names: the vocabulary matches the code that uses it; one mean ± sd with one NaN policy."""

import math

import numpy as np
import pytest

import kerasviz as kv
from kerasviz import names


def test_mean_sd_by_hand():
    mean, sd, n = names.mean_sd([1.0, 2.0, 4.0])
    assert (mean, n) == (7 / 3, 3)
    assert sd == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))


def test_mean_sd_leaves_out_nan_and_inf_and_counts_what_it_kept():
    assert names.mean_sd([1.0, math.nan, 3.0, np.inf, np.float32(-np.inf)]) == (2.0, math.sqrt(2.0), 2)


def test_mean_sd_of_one_value_has_sd_zero_and_of_nothing_is_nan():
    assert names.mean_sd([np.float32(0.5)]) == (0.5, 0.0, 1)
    mean, sd, n = names.mean_sd([math.nan])
    assert math.isnan(mean) and math.isnan(sd) and n == 0
    mean, sd, n = names.mean_sd(iter(()))
    assert math.isnan(mean) and math.isnan(sd) and n == 0


def test_rule_vocabulary_covers_the_papers_rules_in_order():
    assert tuple(names.RULE_LABELS) == tuple(names.RULE_SHORT) == tuple(names.RULE_COLORS) == kv.RULES
    assert names.RULE_LABELS["guided"] == "GBP"
    assert len(set(names.RULE_COLORS.values())) == 3


def test_ids_match_the_experiments_and_claims_modules():
    from kerasviz.analysis import claims

    assert list(names.EXPERIMENTS) == [f"E{i}" for i in range(1, 8)]
    assert all(title.startswith(f"{key} — ") for key, title in names.EXPERIMENTS.items())
    assert list(names.METRICS) == [f"M{i}" for i in range(1, 8)]
    assert list(claims.CLAIMS) == list(names.CLAIM_IDS) == [f"C{i}" for i in range(1, 12)]
    assert [c["id"] for c in claims.evaluate([])] == list(names.CLAIM_IDS)

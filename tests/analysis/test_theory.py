"""Tests for kerasviz.analysis.theory: S and √(S/(1+S)) by hand; the names still reachable from metrics."""

import math
import re

import numpy as np
import pytest

from kerasviz.analysis import experiments, metrics, theory
from kerasviz.errors import InvalidInputError


def test_signal_to_noise_and_recovery_by_hand():
    assert theory.signal_to_noise(64) == 64 / (3 * math.pi**2)
    assert theory.signal_to_noise(5000, 12288) == 5000 / (12288 * math.pi**2)
    s = 64 / (3 * math.pi**2)
    assert theory.theoretical_recovery(64) == pytest.approx(math.sqrt(s / (1 + s)), abs=1e-15)
    assert theory.theory_curve([1, 64], channels=3) == [theory.theoretical_recovery(1), theory.theoretical_recovery(64)]
    assert theory.theoretical_recovery_fc(5000, 12288) == theory.theoretical_recovery(5000, 12288)


def test_errors_name_the_function_that_was_called():
    with pytest.raises(InvalidInputError, match=re.escape(
            "`signal_to_noise`: `num_filters` must be a finite number >= 0. Received: num_filters=-1")):
        theory.signal_to_noise(-1)
    with pytest.raises(InvalidInputError, match=re.escape(
            "`theoretical_recovery`: `channels` must be a positive int, e.g. 3 for RGB. Received: channels=0")):
        theory.theoretical_recovery(4, 0)


def test_patch_normalized_of_a_constant_image_by_hand():
    """Every interior pixel lies in k² patches of norm sqrt(k²·C): x̃ = k²/sqrt(k²C) = k/sqrt(C)."""
    x = np.ones((9, 9, 3))
    for k in (3, 5):
        assert theory.patch_normalized(x, k)[4, 4, 0] == pytest.approx(k / math.sqrt(3))
        assert theory.patch_normalized_box(x, k)[4, 4, 0] == pytest.approx(k / math.sqrt(3))


def test_metrics_and_experiments_keep_the_theory_names():
    for name in ("patch_normalized", "patch_normalized_box", "theoretical_recovery", "theoretical_recovery_fc"):
        assert getattr(metrics, name) is getattr(theory, name)
        assert name in metrics.__all__
    assert experiments.theory_curve is theory.theory_curve


def test_input_independence_curve_by_hand():
    """Ours: M6(GBP) ≈ (0.5 + S·r̃)/(1+S), S = N/(π²C); 0.5/(1+S) for unrelated images."""
    s = 64 / (3 * math.pi**2)
    assert theory.theoretical_input_independence(64) == pytest.approx(0.5 / (1 + s), abs=1e-15)
    assert theory.theoretical_input_independence(64, 3, 0.4) == pytest.approx((0.5 + 0.4 * s) / (1 + s), abs=1e-15)
    assert theory.theoretical_input_independence(0) == 0.5  # no filters: all of the map is the common part
    assert theory.theoretical_input_independence(256) == pytest.approx(0.0518, abs=1e-4)


def test_input_independence_curve_rejects_a_correlation_outside_minus_one_to_one():
    message = ("`theoretical_input_independence`: `image_correlation` must be a number in [-1, 1] (a Pearson r). "
               "Received: image_correlation=1.5")
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        theory.theoretical_input_independence(64, 3, 1.5)

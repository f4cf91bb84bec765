"""Tests for kerasviz.normalize: one implementation behind render's pictures and the M4 metric."""

import re

import numpy as np
import pytest

from kerasviz import normalize, render
from kerasviz.analysis import metrics
from kerasviz.errors import InvalidArgumentError, InvalidInputError


def test_render_shows_exactly_these_normalizations_as_float32():
    m = np.random.default_rng(0).normal(size=(6, 5, 3))
    pairs = [(render.normalize_minmax, normalize.minmax), (render.normalize_abs, normalize.abs_normalized),
             (render.normalize_diverging, normalize.signed_normalized),
             (render.normalize_percentile, normalize.percentile)]
    for shown, computed in pairs:
        assert shown(m).dtype == np.float32
        np.testing.assert_array_equal(shown(m), computed(m).astype(np.float32))


def test_metrics_use_the_same_functions():
    assert metrics.minmax is normalize.minmax
    assert metrics.abs_normalized is normalize.abs_normalized
    assert metrics.signed_normalized is normalize.signed_normalized


def test_batches_are_scaled_image_by_image():
    m = np.stack([np.arange(12.0).reshape(2, 2, 3), 10 * np.arange(12.0).reshape(2, 2, 3)])
    np.testing.assert_allclose(normalize.minmax(m)[1], normalize.minmax(m[1]))
    np.testing.assert_allclose(normalize.minmax(m)[0], normalize.minmax(m)[1])
    np.testing.assert_allclose(normalize.abs_normalized(m)[1], normalize.abs_normalized(m[1]))


def test_percentile_by_hand_and_its_error():
    m = np.linspace(0.0, 1.0, 101).reshape(101, 1, 1)
    np.testing.assert_allclose(normalize.percentile(m, lo=10, hi=60)[[0, 35, 100], 0, 0], [0.0, 0.5, 1.0])
    with pytest.raises(InvalidArgumentError, match=re.escape(
            "Percentiles need 0 <= lo < hi <= 100. Received: lo=50, hi=50")) as info:
        normalize.percentile(m, lo=50, hi=50)
    assert isinstance(info.value, ValueError)


def test_a_map_with_nan_is_refused_by_name():
    m = np.zeros((4, 4, 1))
    m[0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match=re.escape("`signed_normalized`: `m` contains 1 NaN")):
        normalize.signed_normalized(m)

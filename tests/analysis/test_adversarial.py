"""Tests for kerasviz.analysis.adversarial: FGSM on a linear net whose answer is known in closed form."""

import keras
import numpy as np
import pytest

from kerasviz.analysis import adversarial
from kerasviz.errors import InvalidInputError


def _linear_net(bias1=1.5):
    """logits z0 = sum(x), z1 = bias1 for a 2×2×1 image.

    At x = 128/255 everywhere, z0 = 2.0078 > 1.5 = z1: class 0. The CE gradient
    at class 0 is p1 · (w1 − w0) = −p1 per pixel, so FGSM lowers every pixel by
    ε and the class flips once 4·x < 1.5.
    """
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(2)
    outputs = dense(x)
    dense.set_weights([np.stack([np.ones(4), np.zeros(4)], axis=1).astype("float32"),
                       np.array([0.0, bias1], "float32")])
    return keras.Model(inputs, outputs)


X = np.full((1, 2, 2, 1), 128 / 255, np.float32)


def test_quantize_rounds_to_the_256_levels_of_the_range():
    np.testing.assert_allclose(adversarial.quantize(np.array([0.0021, 0.5, 1.3, -0.1])),
                               [1 / 255, 128 / 255, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(adversarial.quantize(np.array([10.4, 10.6, 300.0]), (0, 255)), [10, 11, 255])


def test_direction_is_the_closed_form_sign_of_the_cross_entropy_gradient():
    np.testing.assert_array_equal(adversarial.fgsm_direction(_linear_net(), X), -np.ones_like(X))


def test_direction_falls_back_to_the_margin_when_the_softmax_saturates():
    """z0 − z1 = 202: p1 underflows to 0 in float32 and the CE gradient is exactly 0."""
    np.testing.assert_array_equal(adversarial.fgsm_direction(_linear_net(bias1=-200.0), X), -np.ones_like(X))


def test_minimal_fgsm_finds_the_smallest_grid_epsilon_that_flips_after_uint8_rounding():
    """Unrounded, ε = 32.4 levels flips (4·(128 − 32.4)/255 < 1.5); rounded, 95.6 → 96 does not
    (4·96/255 = 1.506), so the smallest ε that survives rounding is 32.6 (→ 95)."""
    net = _linear_net()
    result = adversarial.minimal_fgsm(net, X, step=0.2, max_epsilon=64)
    assert result.flipped.tolist() == [True]
    assert result.epsilon_float[0] * 255 == pytest.approx(32.4, abs=1e-3)
    assert result.epsilon[0] * 255 == pytest.approx(32.6, abs=1e-3)
    assert result.linf[0] * 255 == pytest.approx(33.0, abs=1e-3)
    assert (result.class_x[0], result.class_adv[0]) == (0, 1)
    np.testing.assert_allclose(result.x_adv, adversarial.quantize(result.x_adv))
    np.testing.assert_allclose(result.x_adv, 95 / 255, rtol=1e-6)
    assert adversarial.predict_classes(net, result.x_adv).tolist() == [1]
    # One grid step less does not survive rounding.
    below, flipped = adversarial.fgsm(net, X, 32.4 / 255)
    assert not flipped[0] and adversarial.predict_classes(net, below).tolist() == [0]


def test_minimal_fgsm_reports_images_that_never_flip():
    result = adversarial.minimal_fgsm(_linear_net(), X, step=0.5, max_epsilon=8)
    assert result.flipped.tolist() == [False]
    assert np.isnan(result.epsilon[0]) and np.isnan(result.epsilon_float[0])
    np.testing.assert_array_equal(result.x_adv, X)
    assert result.class_adv[0] == result.class_x[0] == 0


def test_fixed_epsilon_fgsm_flips_only_above_the_closed_form_budget():
    net = _linear_net()
    x_adv, flipped = adversarial.fgsm(net, X, 33 / 255)
    assert flipped.tolist() == [True]
    np.testing.assert_allclose(x_adv, 95 / 255, rtol=1e-6)
    _, flipped = adversarial.fgsm(net, X, 8 / 255)
    assert flipped.tolist() == [False]


def test_fgsm_clips_to_the_value_range():
    """At x = 2/255 with z1 = −1 the class is 0 and FGSM lowers x by 8/255: clipped at 0."""
    x_adv, _ = adversarial.fgsm(_linear_net(bias1=-1.0), np.full((1, 2, 2, 1), 2 / 255, np.float32), 8 / 255)
    np.testing.assert_array_equal(x_adv, 0.0)


@pytest.mark.parametrize("value_range", [(1, 0), (0, float("inf")), "ab"])
def test_bad_value_range_is_rejected(value_range):
    with pytest.raises(InvalidInputError, match="Received: value_range="):
        adversarial.quantize(X, value_range)


def test_bad_grid_is_rejected():
    with pytest.raises(InvalidInputError, match="Received: step=0"):
        adversarial.minimal_fgsm(_linear_net(), X, step=0)

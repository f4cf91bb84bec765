"""Tests for kerasviz.analysis.metrics: each metric on cases whose answer is known."""

import math
import re

import numpy as np
import pytest
from scipy import ndimage
from skimage.feature import hog

from kerasviz.analysis import metrics
from kerasviz.errors import InvalidInputError, KerasvizError


def _noise(seed, shape=(64, 64, 3)):
    return np.random.default_rng(seed).normal(size=shape)


def _blocky_image(seed=0):
    """64x64x3 image of 8x8 flat blocks: strong edges everywhere."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.uniform(size=(8, 8, 3)), np.ones((8, 8, 1)))


def _tf_patch_normalized(x, k, stride, padding):
    """Reference x̃ from TensorFlow's own patch extraction and its transpose.

    tf.image.extract_patches applies TF's padding rules; the gradient of
    sum_j <P_j x, w_j> with w_j = stop_gradient(x^(j)/||x^(j)||) is sum_j P_j^T w_j.
    """
    tf = pytest.importorskip("tensorflow")
    xt = tf.constant(x[None], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        patches = tf.image.extract_patches(
            xt, sizes=[1, k, k, 1], strides=[1, stride, stride, 1], rates=[1, 1, 1, 1],
            padding=padding.upper(),
        )
        norms = tf.norm(patches, axis=-1, keepdims=True)
        weights = tf.stop_gradient(patches / norms)
        total = tf.reduce_sum(patches * weights)
    return tape.gradient(total, xt).numpy()[0]


# ----------------------------------------------------------------- pearson --


def test_pearson_matches_hand_computation():
    """r([1,2,3],[1,2,4]) = 3 / sqrt(2 * 42/9) = 9 / sqrt(84)."""
    r = metrics.pearson(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert r == pytest.approx(9 / math.sqrt(84), abs=1e-12)


def test_pearson_is_one_under_positive_affine_map_and_minus_one_when_negated():
    x = _noise(0)
    assert metrics.pearson(x, 3.0 * x + 7.0) == pytest.approx(1.0, abs=1e-12)
    assert metrics.pearson(x, -x) == pytest.approx(-1.0, abs=1e-12)


def test_pearson_of_independent_noise_is_small():
    for seed in range(3):
        assert abs(metrics.pearson(_noise(seed), _noise(seed + 100))) < 0.05


def test_pearson_of_constant_array_is_zero_not_nan():
    assert metrics.pearson(np.full((4, 4, 3), 2.5), _noise(1, (4, 4, 3))) == 0.0
    assert metrics.pearson(np.zeros((4, 4, 3)), np.zeros((4, 4, 3))) == 0.0


def test_pearson_shape_mismatch_error_names_both_shapes():
    message = (
        "`pearson`: `a` and `b` must have the same shape; resize or crop one of them "
        "first. Received: a.shape=(2, 3), b.shape=(3, 2)"
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        metrics.pearson(np.zeros((2, 3)), np.zeros((3, 2)))


def test_pearson_error_is_a_value_error_and_a_kerasviz_error():
    with pytest.raises(ValueError) as info:
        metrics.pearson(np.zeros(3), np.zeros(4))
    assert isinstance(info.value, KerasvizError)


def test_pearson_rejects_nan_with_count():
    b = np.ones((2, 2))
    b[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"`b` contains 1 NaN or infinite value\(s\)"):
        metrics.pearson(np.ones((2, 2)), b)


def test_demean_channels_removes_each_channel_mean():
    m = np.zeros((2, 2, 2))
    m[..., 0] = [[1.0, 2.0], [3.0, 6.0]]  # mean 3
    m[..., 1] = 10.0
    out = metrics.demean_channels(m)
    np.testing.assert_allclose(out[..., 0], [[-2.0, -1.0], [0.0, 3.0]])
    np.testing.assert_allclose(out[..., 1], 0.0)
    batch = metrics.demean_channels(np.stack([m, m + 5.0]))
    np.testing.assert_allclose(batch[1], out)


def test_demean_channels_rejects_rank_2_with_hint():
    with pytest.raises(
        InvalidInputError,
        match=re.escape("add a channel axis with m[..., None]). Received: m.shape=(5, 5)"),
    ):
        metrics.demean_channels(np.zeros((5, 5)))


# -------------------------------------------------------- patch_normalized --


@pytest.mark.parametrize("value, channels", [(2.0, 3), (-0.5, 1)])
def test_patch_normalized_constant_image_interior_and_corner(value, channels):
    """Interior: k^2 patches of norm k*sqrt(C)*|v| -> k*sign(v)/sqrt(C).

    Corner (0, 0) with k=3, SAME: four patches hold 2x2, 2x3, 3x2, 3x3 real pixels.
    """
    x = np.full((9, 9, channels), value)
    out = metrics.patch_normalized(x, 3)
    np.testing.assert_allclose(out[2:-2, 2:-2], 3 * np.sign(value) / math.sqrt(channels))
    c = math.sqrt(channels) * abs(value)
    corner = value * (1 / (2 * c) + 2 / (math.sqrt(6) * c) + 1 / (3 * c))
    np.testing.assert_allclose(out[0, 0], corner)


def test_patch_normalized_is_invariant_to_positive_scale_and_odd_in_sign():
    x = _noise(2, (12, 12, 3))
    ref = metrics.patch_normalized(x, 5)
    np.testing.assert_allclose(metrics.patch_normalized(7.0 * x, 5), ref, atol=1e-12)
    np.testing.assert_allclose(metrics.patch_normalized(-x, 5), -ref, atol=1e-12)


@pytest.mark.parametrize(
    "k, stride, padding",
    [
        (3, 1, "same"), (4, 1, "same"), (3, 2, "same"),
        (4, 3, "same"), (3, 1, "valid"), (4, 2, "valid"),
    ],
)
def test_patch_normalized_matches_tensorflow_patches(k, stride, padding):
    x = _noise(3, (11, 10, 2))
    expected = _tf_patch_normalized(x, k, stride, padding)
    np.testing.assert_allclose(
        metrics.patch_normalized(x, k, stride=stride, padding=padding), expected, atol=1e-10
    )


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_patch_normalized_box_equals_patch_sum(k):
    x = _noise(4, (20, 17, 3))
    np.testing.assert_allclose(
        metrics.patch_normalized_box(x, k), metrics.patch_normalized(x, k), atol=1e-5
    )


def test_patch_normalized_batch_equals_per_image():
    batch = _noise(5, (2, 8, 8, 3))
    out = metrics.patch_normalized_box(batch, 3)
    np.testing.assert_allclose(out[1], metrics.patch_normalized(batch[1], 3), atol=1e-12)


def test_patch_normalized_errors_name_the_received_value():
    x = np.ones((4, 4, 3))
    with pytest.raises(InvalidInputError, match=re.escape("Received: kernel_size=0")):
        metrics.patch_normalized(x, 0)
    with pytest.raises(
        InvalidInputError,
        match=re.escape("`padding` must be 'same' or 'valid'. Received: padding='full'"),
    ):
        metrics.patch_normalized(x, 3, padding="full")
    with pytest.raises(
        InvalidInputError, match=re.escape("Received: kernel_size=5, image.shape=(4, 4, 3)")
    ):
        metrics.patch_normalized(x, 5, padding="valid")


# -------------------------------------------------------------- M1 - M3 --


def test_recovery_of_the_image_itself_is_one():
    x = _noise(6, (32, 32, 3))
    result = metrics.recovery(2.0 * x + 1.0, x)
    assert result["r_image"] == pytest.approx(1.0, abs=1e-12)
    assert set(result) == {"r_image", "r_image_demeaned"}


def test_recovery_demeaned_removes_channel_offsets():
    """A map = x + per-channel offsets: r drops, the demeaned r stays 1."""
    x = demeaned = metrics.demean_channels(_noise(7, (32, 32, 3)))
    shifted = demeaned + np.array([3.0, -2.0, 5.0])
    result = metrics.recovery(shifted, x)
    assert result["r_image"] < 0.5
    assert result["r_image_demeaned"] == pytest.approx(1.0, abs=1e-12)


def test_recovery_against_patch_normalized_image():
    x = _noise(8, (32, 32, 3)) + 0.3
    x_tilde = metrics.patch_normalized(x, 7)
    result = metrics.recovery(5.0 * x_tilde, x, kernel_size=7)
    assert result["r_normalized"] == pytest.approx(1.0, abs=1e-12)
    assert result["r_image"] == pytest.approx(metrics.pearson(x_tilde, x), abs=1e-12)


def test_recovery_of_independent_noise_is_small():
    result = metrics.recovery(_noise(9), _noise(10), kernel_size=7)
    assert set(result) == {"r_image", "r_image_demeaned", "r_normalized", "r_normalized_demeaned"}
    assert all(abs(v) < 0.05 for v in result.values()), result


def test_recovery_shape_mismatch_error():
    with pytest.raises(
        InvalidInputError,
        match=re.escape("Received: map.shape=(8, 8, 3), image.shape=(8, 8, 1)"),
    ):
        metrics.recovery(np.zeros((8, 8, 3)), np.zeros((8, 8, 1)))


def test_highpass_recovery_of_its_own_target_is_one():
    x = _blocky_image()
    high = x - ndimage.gaussian_filter(x, sigma=(2.0, 2.0, 0.0))
    assert metrics.highpass_recovery(high + np.array([1.0, 2.0, 3.0]), x) == pytest.approx(
        1.0, abs=1e-9
    )


def test_highpass_recovery_is_high_for_an_image_with_edges_and_small_for_noise():
    x = _blocky_image()
    assert metrics.highpass_recovery(x, x) > 0.6
    assert abs(metrics.highpass_recovery(_noise(11), x)) < 0.05


def test_highpass_recovery_rejects_bad_sigma():
    with pytest.raises(InvalidInputError, match=re.escape("Received: sigma=0")):
        metrics.highpass_recovery(np.ones((8, 8, 3)), np.ones((8, 8, 3)), sigma=0)


def test_ssim_to_image_is_one_for_affine_copies_and_small_for_noise():
    x = _blocky_image()
    assert metrics.ssim_to_image(4.0 * x - 2.0, x) == pytest.approx(1.0, abs=1e-9)
    assert abs(metrics.ssim_to_image(_noise(12), x)) < 0.1


def test_ssim_to_image_grayscale_and_small_images():
    x = _blocky_image()[..., :1]
    assert metrics.ssim_to_image(x, x) == pytest.approx(1.0, abs=1e-9)
    small = _noise(13, (6, 6, 1))
    assert metrics.ssim_to_image(small, small) == pytest.approx(1.0, abs=1e-9)
    assert metrics.ssim_to_image(-small, small) < 0.0


# ------------------------------------------------------- normalizations --


def test_minmax_joint_over_channels_and_constant_map():
    m = np.array([[[-1.0, 3.0], [0.0, 1.0]]])
    np.testing.assert_allclose(metrics.minmax(m), [[[0.0, 1.0], [0.25, 0.5]]])
    np.testing.assert_array_equal(metrics.minmax(np.full((3, 3, 3), 7.0)), 0.0)


def test_abs_and_signed_normalized_against_percentile_by_hand():
    """Sum over channels is 0..99 (signed: -49..50); P99 of 0..99 is 98.01."""
    values = np.arange(100.0).reshape(10, 10)
    m = np.stack([values / 2, -values / 2], axis=-1)  # sum |.| = values, sum = 0
    out = metrics.abs_normalized(m)
    np.testing.assert_allclose(out[0, 1], 1 / 98.01)
    assert out[9, 9] == 1.0 and out[9, 8] == pytest.approx(98 / 98.01)

    signed = np.stack([values - 49.0, np.zeros_like(values)], axis=-1)
    scale = np.percentile(np.abs(values - 49.0), 99)  # |s| in 0..50 -> 49.01
    out = metrics.signed_normalized(signed)
    np.testing.assert_allclose(out[0, 0], -49.0 / scale)
    assert out[9, 9] == 1.0
    np.testing.assert_allclose(metrics.signed_normalized(-signed), -out)


def test_normalizations_of_zero_map_are_zero():
    zeros = np.zeros((5, 5, 3))
    np.testing.assert_array_equal(metrics.abs_normalized(zeros), 0.0)
    np.testing.assert_array_equal(metrics.signed_normalized(zeros), 0.0)


# -------------------------------------------------------------- M4 - M7 --


def test_map_similarity_identical_maps_score_one():
    m = _noise(14)
    assert metrics.map_similarity(m, m) == pytest.approx(
        {"spearman_abs": 1.0, "spearman_signed": 1.0, "ssim": 1.0, "hog": 1.0, "ssim_abs_max": 1.0},
        abs=1e-9,
    )


def test_map_similarity_sign_flip():
    """-m: same magnitudes, reversed signs; only Sixt et al.'s SSIM ignores the sign."""
    m = _noise(15)
    sim = metrics.map_similarity(m, -m)
    assert sim["spearman_signed"] == pytest.approx(-1.0, abs=1e-12)
    assert sim["spearman_abs"] == pytest.approx(1.0, abs=1e-12)
    assert sim["ssim_abs_max"] == pytest.approx(1.0, abs=1e-9)
    assert sim["ssim"] < 0.0


def test_map_similarity_of_independent_noise_is_small():
    sim = metrics.map_similarity(_noise(16), _noise(17))
    for key in ("spearman_abs", "spearman_signed", "ssim", "ssim_abs_max"):
        assert abs(sim[key]) < 0.05, (key, sim)


def test_map_similarity_hog_uses_16_pixel_cells():
    a, b = _noise(18), _noise(19)
    fa = hog(metrics.abs_normalized(a), pixels_per_cell=(16, 16), cells_per_block=(3, 3))
    fb = hog(metrics.abs_normalized(b), pixels_per_cell=(16, 16), cells_per_block=(3, 3))
    from scipy.stats import spearmanr

    assert metrics.map_similarity(a, b)["hog"] == pytest.approx(spearmanr(fa, fb)[0], abs=1e-12)


def test_map_similarity_on_fashion_mnist_size_uses_7_pixel_cells():
    a = _noise(20, (28, 28, 1))
    b = a + 0.5 * _noise(21, (28, 28, 1))
    fa = hog(metrics.abs_normalized(a), pixels_per_cell=(7, 7), cells_per_block=(3, 3))
    fb = hog(metrics.abs_normalized(b), pixels_per_cell=(7, 7), cells_per_block=(3, 3))
    from scipy.stats import spearmanr

    sim = metrics.map_similarity(a, b)
    assert sim["hog"] == pytest.approx(spearmanr(fa, fb)[0], abs=1e-12)
    assert 0.5 < sim["spearman_abs"] < 1.0


def test_class_pair_similarity_is_map_similarity():
    a, b = _noise(22, (32, 32, 3)), _noise(23, (32, 32, 3))
    assert metrics.class_pair_similarity(a, a + 0.1 * b) == metrics.map_similarity(a, a + 0.1 * b)


def test_class_pair_similarity_error_uses_its_argument_names():
    with pytest.raises(
        InvalidInputError,
        match=re.escape("Received: map_class_a.shape=(8, 8, 3), map_class_b.shape=(9, 8, 3)"),
    ):
        metrics.class_pair_similarity(np.zeros((8, 8, 3)), np.zeros((9, 8, 3)))


def test_input_independence_is_pearson_of_the_maps():
    a, b = _noise(24), _noise(25)
    assert metrics.input_independence(a, a) == pytest.approx(1.0, abs=1e-12)
    assert metrics.input_independence(a, b) == metrics.pearson(a, b)
    assert abs(metrics.input_independence(a, b)) < 0.05


def test_adversarial_stability_records_the_attack():
    m = _noise(26, (32, 32, 3))
    result = metrics.adversarial_stability(
        m, m, epsilon=2 / 255, linf=np.float32(2 / 255), class_x=np.int64(3), class_adv=5
    )
    assert result["ssim"] == pytest.approx(1.0, abs=1e-9)
    assert result["epsilon"] == 2 / 255 and result["class_x"] == 3 and result["class_adv"] == 5
    assert type(result["class_x"]) is int
    with pytest.raises(InvalidInputError, match=re.escape("Received: epsilon=-0.1")):
        metrics.adversarial_stability(m, m, epsilon=-0.1, linf=0.0, class_x=1, class_adv=2)
    with pytest.raises(InvalidInputError, match=re.escape("Received: class_adv=2.0")):
        metrics.adversarial_stability(m, m, epsilon=0.1, linf=0.1, class_x=1, class_adv=2.0)


# ------------------------------------------------------ related work --


def test_random_logit_ssim():
    m = _noise(27)
    assert metrics.random_logit_ssim(m, 3.0 * m + 1.0) == pytest.approx(1.0, abs=1e-9)
    assert abs(metrics.random_logit_ssim(m, _noise(28))) < 0.05


def test_cosine_similarity_by_hand():
    assert metrics.cosine_similarity([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))
    assert metrics.cosine_similarity([[1.0, 2.0]], [[-2.0, -4.0]]) == pytest.approx(-1.0)
    assert metrics.cosine_similarity([0.0, 0.0], [1.0, 1.0]) == 0.0
    # Unlike Pearson, cosine does not remove the mean: two noises sharing an
    # offset of 10 are almost parallel, cos ~ 100/101, while Pearson stays ~0.
    x, y = _noise(29) + 10.0, _noise(31) + 10.0
    assert metrics.cosine_similarity(x, y) == pytest.approx(100 / 101, abs=0.005)
    assert abs(metrics.pearson(x, y)) < 0.05


def test_input_shift_invariance():
    m = _noise(30, (8, 8, 3))
    same = metrics.input_shift_invariance(m, m.astype(np.float32))
    assert same["invariant"] and same["max_abs_diff"] < 1e-6
    other = m.copy()
    other[0, 0, 0] += 1e-3
    result = metrics.input_shift_invariance(m, other)
    assert not result["invariant"]
    assert result["max_abs_diff"] == pytest.approx(1e-3, rel=1e-6)
    assert result["relative_diff"] == pytest.approx(1e-3 / np.max(np.abs(m)), rel=1e-6)
    assert metrics.input_shift_invariance(m, other, rtol=1e-3)["invariant"]


# ----------------------------------------------------------- theory --


def test_theoretical_recovery_matches_formula_and_paper_simulation():
    simulation = {1: 0.21, 4: 0.36, 16: 0.60, 64: 0.77, 256: 0.90}  # docs/paper.md, claim C4
    values = [metrics.theoretical_recovery(n) for n in simulation]
    assert values == sorted(values) and len(set(values)) == 5
    for n, simulated in simulation.items():
        s = n / (3 * math.pi**2)
        assert metrics.theoretical_recovery(n) == pytest.approx(math.sqrt(s / (1 + s)))
        assert abs(metrics.theoretical_recovery(n) - simulated) <= 0.1
    assert metrics.theoretical_recovery(0) == 0.0
    # One channel needs a third of the filters of RGB for the same recovery.
    assert metrics.theoretical_recovery(10, channels=1) == pytest.approx(
        metrics.theoretical_recovery(30, channels=3)
    )


def test_theoretical_recovery_fc_matches_paper_simulation():
    simulation = {1000: 0.08, 5000: 0.20, 20000: 0.39, 70000: 0.61}  # docs/paper.md, claim C5
    for hidden, simulated in simulation.items():
        assert abs(metrics.theoretical_recovery_fc(hidden, 64 * 64 * 3) - simulated) <= 0.1
    # Local connections: 64 conv filters beat 70k dense units on a 64x64x3 input.
    assert metrics.theoretical_recovery_fc(70000, 12288) < metrics.theoretical_recovery(64)


def test_theoretical_recovery_errors():
    with pytest.raises(InvalidInputError, match=re.escape("Received: num_filters=-1")):
        metrics.theoretical_recovery(-1)
    with pytest.raises(InvalidInputError, match=re.escape("Received: input_dim=0")):
        metrics.theoretical_recovery_fc(10, 0)


# ---------------------------------------------------------- summarize --


def test_summarize_mean_and_sample_sd_by_hand():
    records = [
        {"rule": "guided", "n_filters": 4, "value": 1.0},
        {"rule": "saliency", "n_filters": 4, "value": 5.0},
        {"rule": "guided", "n_filters": 4, "value": 2.0},
        {"rule": "guided", "n_filters": 4, "value": 3.0},
    ]
    table = metrics.summarize(records, by=("rule", "n_filters"))
    assert table == [
        {"rule": "guided", "n_filters": 4, "mean": 2.0, "sd": 1.0, "n": 3},
        {"rule": "saliency", "n_filters": 4, "mean": 5.0, "sd": 0.0, "n": 1},
    ]
    (overall,) = metrics.summarize(records)
    assert overall["mean"] == 2.75 and overall["n"] == 4
    assert overall["sd"] == pytest.approx(math.sqrt(((1.75**2) + 2.25**2 + 0.75**2 + 0.25**2) / 3))
    assert metrics.summarize(records, by="rule")[0]["mean"] == 2.0


def test_summarize_missing_key_error_shows_the_record():
    with pytest.raises(
        InvalidInputError,
        match=re.escape("record 1 has no key(s) ['rule']"),
    ) as info:
        metrics.summarize([{"rule": "a", "value": 1.0}, {"value": 2.0}], by="rule")
    assert "Received: record={'value': 2.0}" in str(info.value)


# ----------------------------------------------------- signed_by_score --


def test_signed_by_score_multiplies_each_map_by_the_sign_of_its_score():
    maps = np.arange(2 * 3 * 2 * 2 * 1, dtype=np.float32).reshape(2, 3, 2, 2, 1) - 10
    scores = np.array([[2.0, -0.5, 0.0], [-3.0, 1.0, 4.0]])
    signed = metrics.signed_by_score(maps, scores)
    for i in range(2):
        for k in range(3):
            np.testing.assert_array_equal(signed[i, k], maps[i, k] * np.sign(scores[i, k]))
    assert signed.dtype == np.float32
    one_per_map = metrics.signed_by_score(maps[:, 0], scores[:, 1])
    np.testing.assert_array_equal(one_per_map, np.stack([-maps[0, 0], maps[1, 0]]))


def test_signed_by_score_needs_one_score_per_map():
    with pytest.raises(InvalidInputError, match=re.escape("one score per map")) as info:
        metrics.signed_by_score(np.zeros((2, 4, 4, 1)), np.zeros(3))
    assert "Received: maps with shape (2, 4, 4, 1), scores with shape (3,)" in str(info.value)

"""Tests for kerasviz.render: normalizations by hand, figures on disk."""

import re

import numpy as np
import pytest

from kerasviz import render
from kerasviz.errors import InvalidArgumentError, InvalidInputError, KerasvizError


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_minmax_is_joint_over_pixels_and_channels():
    m = np.zeros((2, 2, 3))
    m[0, 0, 0], m[1, 1, 2] = -2.0, 6.0
    out = render.normalize_minmax(m)
    assert out[0, 0, 0] == 0.0 and out[1, 1, 2] == 1.0
    np.testing.assert_allclose(out[0, 1, 1], 0.25)  # (0 - -2) / 8, shared scale


def test_abs_sums_channels_and_clips_at_99th_percentile():
    m = np.ones((10, 10, 3))
    m[0, 0] = 100.0
    out = render.normalize_abs(m)
    assert out.shape == (10, 10)
    assert out[0, 0] == 1.0  # clipped
    np.testing.assert_allclose(out[5, 5], 3.0 / np.percentile(np.abs(m).sum(-1), 99))


def test_diverging_keeps_sign():
    m = np.zeros((4, 4, 1))
    m[0, 0], m[3, 3] = -1.0, 1.0
    out = render.normalize_diverging(m)
    assert out[0, 0] < 0 < out[3, 3]
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_percentile_clips_outliers():
    m = np.linspace(0, 1, 100).reshape(10, 10, 1)
    m[0, 0, 0] = 1e6
    out = render.normalize_percentile(m, lo=0, hi=98)
    assert out[0, 0, 0] == 1.0 and out.max() == 1.0
    assert 0.0 < out[5, 5, 0] < 1.0


def test_unknown_normalization_names_the_known_ones():
    message = "Unknown normalization. Known: 'minmax', 'abs', 'diverging', 'percentile'. Received: normalize='bogus'"
    for call in (
        lambda: render.normalize(np.zeros((2, 2, 1)), "bogus"),
        lambda: render.normalization("bogus"),
        lambda: render.tile_row(np.zeros((2, 2, 1)), [np.zeros((2, 2, 1))], "bogus"),
        lambda: render.plot_maps(np.zeros((1, 2, 2, 1)), {"guided": np.zeros((1, 2, 2, 1))}, normalize="bogus"),
    ):
        with _raises(InvalidArgumentError, message) as info:
            call()
        assert isinstance(info.value, KerasvizError)
        assert isinstance(info.value, ValueError)


def test_plot_maps_writes_a_png_of_the_right_grid(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 16, 16, 3))
    maps = {rule: rng.normal(size=images.shape) for rule in ("saliency", "guided")}
    path = tmp_path / "grid.png"
    fig = render.plot_maps(images, maps, path=path, row_labels=["a", "b", "c"])
    assert len(fig.axes) == 3 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "saliency", "guided"]
    import matplotlib.image

    assert matplotlib.image.imread(path).shape[:2] == (3 * 220, 3 * 220)


def test_plot_maps_rejects_maps_of_another_shape():
    images = np.zeros((2, 8, 8, 3))
    message = (
        "The 'guided' maps must be shaped like the images (2, 8, 8, 3); for K classes per sample "
        "plot one class at a time (maps[rule][:, k]). Received: shape=(2, 3, 8, 8, 3)"
    )
    with _raises(InvalidInputError, message) as info:
        render.plot_maps(images, {"guided": np.zeros((2, 3, 8, 8, 3))})
    assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("shape", [(8, 8, 3), (0, 8, 8, 3)])
def test_plot_maps_rejects_images_that_are_not_a_batch(shape):
    message = (
        "`images` must be a non-empty batch shaped (N, H, W, C); for one image, pass "
        f"images[None]. Received: shape={shape}"
    )
    with _raises(InvalidInputError, message) as info:
        render.plot_maps(np.zeros(shape), {"guided": np.zeros(shape)})
    assert isinstance(info.value, KerasvizError) and isinstance(info.value, ValueError)


def test_tile_row_puts_image_and_maps_side_by_side():
    image = np.zeros((4, 5, 1))
    image[0, 0] = 1.0
    m = np.zeros((4, 5, 1))
    m[3, 4] = 2.0
    tile = render.tile_row(image, [m])
    assert tile.dtype == np.uint8 and tile.shape == (4, 10, 3)
    assert tile[0, 0].tolist() == [255, 255, 255] and tile[3, 9].tolist() == [255, 255, 255]
    assert tile[1, 1].tolist() == [0, 0, 0]


def test_overlay_is_rgb_in_unit_range():
    rng = np.random.default_rng(1)
    out = render.overlay(rng.uniform(0, 255, (8, 8, 3)), rng.normal(size=(8, 8, 3)))
    assert out.shape == (8, 8, 3) and 0.0 <= out.min() and out.max() <= 1.0

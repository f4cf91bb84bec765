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
        "The 'guided' maps must be shaped like the images (2, 8, 8, 3) (or (2, 8, 8) for Grad-CAM); "
        "for K classes per sample plot one class at a time (maps[rule][:, k]). Received: shape=(2, 3, 8, 8, 3)"
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


# -- Grad-CAM maps: a heat map over the image ----------------------------------------


def test_normalize_cam_divides_by_the_maximum_so_zero_stays_zero():
    cam = np.array([[0.0, 1.0], [2.0, 4.0]])
    np.testing.assert_allclose(render.normalize_cam(cam), [[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_array_equal(render.normalize_cam(np.zeros((3, 3))), np.zeros((3, 3)))


def test_cam_overlay_blends_the_jet_heat_map_over_the_gray_image():
    import matplotlib

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 5, 3))
    cam = rng.uniform(0, 2, (6, 5))
    gray = ((image - image.min()) / (image.max() - image.min())).mean(axis=-1)
    heat = matplotlib.colormaps["jet"](cam / cam.max())[..., :3]
    np.testing.assert_allclose(render.cam_overlay(image, cam, alpha=0.3), 0.7 * gray[..., None] + 0.3 * heat,
                               rtol=1e-5, atol=1e-6)


def test_cam_maps_are_drawn_over_the_image_in_grids_and_rows(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    cams = rng.uniform(size=(2, 8, 8)).astype(np.float32)
    grads = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    fig = render.plot_maps(images, {"saliency": cams, "guided": grads}, method="gradcam",
                           path=tmp_path / "cam.png")
    axes = np.array(fig.axes).reshape(2, 3)
    np.testing.assert_allclose(axes[1, 1].get_images()[0].get_array(), render.cam_overlay(images[1], cams[1]))
    assert [ax.get_title() for ax in axes[0]] == ["image", "Grad-CAM, saliency", "Grad-CAM, guided"]
    row = render.tile_row(images[0], [cams[0], grads[0]])
    np.testing.assert_array_equal(row[:, 8:16], (render.cam_overlay(images[0], cams[0]) * 255).round())
    assert (tmp_path / "cam.png").stat().st_size > 1000


def test_cam_overlay_refuses_a_map_that_is_not_the_images_size():
    with _raises(InvalidInputError, "cam_overlay takes one image, (H, W, C) or (H, W), and its CAM (H, W) of "
                                    "the same height and width. Received: image shape=(8, 8, 3), cam shape=(4, 4)"):
        render.cam_overlay(np.zeros((8, 8, 3)), np.zeros((4, 4)))
    with _raises(InvalidInputError, "alpha is the weight of the heat map, a number in [0, 1]. Received: alpha=2"):
        render.cam_overlay(np.zeros((8, 8, 3)), np.zeros((8, 8)), alpha=2)

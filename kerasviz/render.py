"""Drawing backprop maps: display normalizations (float32) and the paper-style grid of maps.

Maps from `kv.visualize` are raw gradients. Rendering is a separate, named
step:

| function | what it shows |
|----------|---------------|
| `normalize_minmax` | the paper's display: min–max over all pixels and channels jointly, as RGB |
| `normalize_abs` | Σ_c abs, scaled by its 99th percentile, clipped: a gray-level importance |
| `normalize_diverging` | Σ_c signed, scaled by the 99th percentile of its magnitude, in [-1, 1] |
| `normalize_percentile` | joint percentiles (`lo`, `hi`) of pixels and channels, clipped to [0, 1] |
| `normalize_cam` | a Grad-CAM map `(H, W)` divided by its maximum: 0 stays "no evidence" |

Inputs that are not images have their own drawings (`kerasviz.render_inputs`,
named here too): `plot_tokens` / `tokens_html` (coloured tokens, per-token
`token_scores`), `plot_sequence` (attribution shaded under the line) and
`plot_table` (the top features as bars, with `feature_names=`).

Grad-CAM maps (`(N, H, W)`, no channel axis) are drawn as a heat map over
the grayscale image (`cam_overlay`), in `plot_maps` and `tile_row` alike.

These are `kerasviz.normalize`'s functions as float32 (the same ones the
metrics use). Figures are drawn on their own `matplotlib.figure.Figure`:
nothing here touches pyplot, the backend or the figures of a notebook.

Example:

```python
maps = kv.visualize(model, images)
kv.render.plot_maps(images, maps, path="maps.png")
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from kerasviz import _validation
from kerasviz import names
from kerasviz import normalize as normalize_lib
from kerasviz.errors import InvalidInputError


def normalize_minmax(m: np.ndarray) -> np.ndarray:
    """The paper's display: `(m - min) / (max - min)` over all pixels and channels.

    Args:
        m: one map `(H, W, C)`.

    Returns:
        float32 `(H, W, C)` in [0, 1] (zeros for a constant map).

    Example:

    ```python
    rgb = kv.render.normalize_minmax(maps["guided"][0])
    ```
    """
    return normalize_lib.minmax(m).astype(np.float32)


def normalize_abs(m: np.ndarray) -> np.ndarray:
    """Σ_c |m| scaled by its 99th percentile and clipped to [0, 1]: `(H, W)`."""
    return normalize_lib.abs_normalized(m).astype(np.float32)


def normalize_diverging(m: np.ndarray) -> np.ndarray:
    """Σ_c m scaled by the 99th percentile of its magnitude, in [-1, 1]: `(H, W)`."""
    return normalize_lib.signed_normalized(m).astype(np.float32)


def normalize_percentile(m: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> np.ndarray:
    """Clip `m` to its joint `lo`–`hi` percentiles and scale to [0, 1]: `(H, W, C)`.

    Args:
        m: one map `(H, W, C)`.
        lo: lower percentile. Defaults to `1.0`.
        hi: upper percentile. Defaults to `99.0`.
    """
    return normalize_lib.percentile(m, lo, hi).astype(np.float32)


def normalize_cam(cam: np.ndarray) -> np.ndarray:
    """A Grad-CAM map `(H, W)` divided by its maximum, in [0, 1] (zeros for an all-zero map).

    CAMs are ReLU'd, so 0 means "no evidence for the class"; scaling by the
    maximum keeps that, where min–max would not.

    Example:

    ```python
    shown = kv.render.normalize_cam(cams["saliency"][0])
    ```
    """
    cam = np.maximum(np.asarray(cam, dtype=np.float32), 0.0)
    top = float(cam.max()) if cam.size else 0.0
    return cam / top if top > 0 else np.zeros_like(cam)


def cam_overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A Grad-CAM map as a heat map over the grayscale image: RGB `(H, W, 3)` in [0, 1].

    The CAM is scaled by `normalize_cam` and coloured with
    `kv.names.CAM_COLORMAP` (the "jet" map of the Grad-CAM papers).

    Args:
        image: one image `(H, W, C)` or `(H, W)`, any scale.
        cam: its CAM `(H, W)`, e.g. `viz(x, method=kv.methods.GradCAM())["saliency"][0]`.
        alpha: the heat map's weight, in [0, 1]. Defaults to `0.5`.

    Returns:
        float32 `(H, W, 3)`.

    Raises:
        InvalidInputError: when the CAM is not `(H, W)` with the image's
            height and width, or for a bad `alpha`.

    Example:

    ```python
    cams = kv.visualize(model, images, rules=("saliency",), method=kv.methods.GradCAM())
    rgb = kv.render.cam_overlay(images[0], cams["saliency"][0])
    ```
    """
    import matplotlib

    image, cam = np.asarray(image), np.asarray(cam)
    if cam.ndim != 2 or image.ndim not in (2, 3) or image.shape[:2] != cam.shape:
        raise InvalidInputError(
            "cam_overlay takes one image, (H, W, C) or (H, W), and its CAM (H, W) of the same "
            f"height and width. Received: image shape={image.shape}, cam shape={cam.shape}"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not 0 <= alpha <= 1:
        raise InvalidInputError(
            f"alpha is the weight of the heat map, a number in [0, 1]. Received: alpha={alpha!r}"
        )
    heat = matplotlib.colormaps[names.CAM_COLORMAP](normalize_cam(cam))[..., :3]
    gray = display_image(image if image.ndim == 3 else image[..., None])
    if gray.ndim == 3:
        gray = gray.mean(axis=-1)
    return ((1 - alpha) * gray[..., None] + alpha * heat).astype(np.float32)


def _is_cam(m: np.ndarray, image_shape: tuple) -> bool:
    """A Grad-CAM map: the image's height and width, no channel axis."""
    return np.ndim(m) == len(image_shape) - 1 and tuple(np.shape(m)) == tuple(image_shape[:-1])


NORMALIZATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "minmax": normalize_minmax,
    "abs": normalize_abs,
    "diverging": normalize_diverging,
    "percentile": normalize_percentile,
}


def normalization(how: str) -> Callable[[np.ndarray], np.ndarray]:
    """The normalization function named `how` (a key of `NORMALIZATIONS`).

    Raises:
        InvalidArgumentError: (a `ValueError`) for an unknown name.
    """
    return NORMALIZATIONS[_validation.one_of(how, "normalize", NORMALIZATIONS, what="normalization")]


def normalize(m: np.ndarray, how: str = "minmax") -> np.ndarray:
    """Apply the normalization named `how` (a key of `NORMALIZATIONS`)."""
    return normalization(how)(m)


def display_image(image: np.ndarray) -> np.ndarray:
    """An input image as float RGB in [0, 1] for display (joint min–max).

    Grayscale `(H, W, 1)` becomes `(H, W)`; the scale of the input (0–255,
    0–1, mean-subtracted) does not matter.
    """
    shown = normalize_minmax(image)
    return shown[..., 0] if shown.shape[-1] == 1 else shown


def _as_panel(normalized: np.ndarray, how: str) -> tuple[np.ndarray, dict]:
    if how == "diverging":
        return normalized, {"cmap": "bwr", "vmin": -1, "vmax": 1}
    if normalized.ndim == 2:
        return normalized, {"cmap": "gray", "vmin": 0, "vmax": 1}
    if normalized.shape[-1] == 1:
        return normalized[..., 0], {"cmap": "gray", "vmin": 0, "vmax": 1}
    return normalized, {}


def plot_maps(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    path: str | os.PathLike | None = None,
    normalize: str = "minmax",
    titles: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    panel_size: float = 2.2,
    dpi: int = 100,
    method: str | None = None,
):
    """The paper-style grid: one row per image; the image, then one map per rule.

    Grad-CAM maps `(N, H, W)` are drawn as a heat map over the image
    (`cam_overlay`), whatever `normalize` says.

    Args:
        images: `(N, H, W, C)` images, any scale.
        maps: `{rule: (N, H, W, C)}` as returned by `kv.visualize`, or
            `{rule: (N, H, W)}` for `kv.methods.GradCAM`.
        path: write a PNG there when given. Defaults to `None`.
        normalize: a key of `NORMALIZATIONS`. Defaults to `"minmax"` (the
            paper's display).
        titles: column titles. Defaults to `"image"` and the rule names
            (after the method's label when `method` is given).
        row_labels: one label per row (e.g. the predicted class). Defaults to
            `None`.
        panel_size: inches per panel. Defaults to `2.2`.
        dpi: resolution of the PNG. Defaults to `100`.
        method: the `kv.methods` method's name (e.g. `"smoothgrad"`), for
            the column titles. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        InvalidInputError: (a `ValueError`) when `images` is not a non-empty
            `(N, H, W, C)` batch or a map's shape does not match the images.
        InvalidArgumentError: (a `ValueError`) for an unknown `normalize`.

    Example:

    ```python
    fig = kv.render.plot_maps(images, kv.visualize(model, images), path="grid.png")
    ```
    """
    from matplotlib.figure import Figure

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise InvalidInputError(
            f"`images` must be a non-empty batch shaped (N, H, W, C); for one image, pass "
            f"images[None]. Received: shape={images.shape}"
        )
    for rule, rule_maps in maps.items():
        if np.shape(rule_maps) != images.shape and np.shape(rule_maps) != images.shape[:-1]:
            raise InvalidInputError(
                f"The {rule!r} maps must be shaped like the images {images.shape} (or "
                f"{images.shape[:-1]} for Grad-CAM); for K classes per sample plot one class at "
                f"a time (maps[rule][:, k]). Received: shape={np.shape(rule_maps)}"
            )
    apply = normalization(normalize)
    rules = list(maps)
    if titles is None:
        prefix = f"{names.METHOD_LABELS.get(method, method)}, " if method else ""
        titles = ["image", *(prefix + rule for rule in rules)]
    titles = list(titles)
    rows, cols = images.shape[0], len(rules) + 1
    fig = Figure(figsize=(panel_size * cols, panel_size * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(display_image(images[row]), **({"cmap": "gray"} if images.shape[-1] == 1 else {}))
        for col, rule in enumerate(rules, start=1):
            if _is_cam(maps[rule][row], images.shape[1:]):
                axes[row, col].imshow(cam_overlay(images[row], maps[rule][row]))
                continue
            panel, style = _as_panel(apply(maps[rule][row]), normalize)
            axes[row, col].imshow(panel, **style)
        if row_labels is not None:
            axes[row, 0].set_ylabel(str(row_labels[row]))
    for col, title in enumerate(titles):
        axes[0, col].set_title(title)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def overlay(image: np.ndarray, m: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The abs-normalized map blended over the grayscale image, RGB in [0, 1].

    `image` and `m` are one image and its map (`(H, W, C)` or `(H, W)`), or
    a batch of each (`(N, H, W, C)`, giving `(N, H, W, 3)`); `alpha` in
    `[0, 1]` is the map's weight.

    Raises:
        InvalidInputError: for an image and map that do not pair, or a bad
            `alpha`.

    Example:

    ```python
    plt.imshow(kv.render.overlay(images[0], maps["guided"][0]))
    ```
    """
    import matplotlib

    image, m = np.asarray(image), np.asarray(m)
    pairs = (
        image.ndim in (2, 3) and m.ndim in (2, 3) and image.shape[:2] == m.shape[:2]
        or image.ndim == 4 and m.ndim == 4 and image.shape[:3] == m.shape[:3]
    )
    if not pairs or image.size == 0 or image.dtype.kind not in "biuf" or m.dtype.kind not in "biuf":
        raise InvalidInputError(
            "overlay takes an image and its map, (H, W, C) or (H, W) each, or a batch "
            "of each, (N, H, W, C) with N maps: the same height and width. Received: "
            f"image shape={image.shape}, map shape={m.shape}"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not 0 <= alpha <= 1:
        raise InvalidInputError(
            f"alpha is the weight of the map, a number in [0, 1]. Received: alpha={alpha!r}"
        )
    if image.ndim == 4:
        return np.stack([overlay(one, one_map, alpha) for one, one_map in zip(image, m)])
    heat = matplotlib.colormaps["inferno"](normalize_abs(m))[..., :3]
    gray = display_image(image)
    if gray.ndim == 3:
        gray = gray.mean(axis=-1)
    return ((1 - alpha) * gray[..., None] + alpha * heat).astype(np.float32)


def tile_row(image: np.ndarray, rule_maps: Sequence[np.ndarray], normalize: str = "minmax") -> np.ndarray:
    """One image and its maps side by side as a single uint8 RGB array.

    Used for TensorBoard summaries and quick PNGs. A Grad-CAM map `(H, W)`
    is drawn over the image (`cam_overlay`).
    """
    apply = normalization(normalize)
    panels = [display_image(image)]
    for m in rule_maps:
        if _is_cam(m, np.shape(image)):
            panels.append(cam_overlay(image, m))
            continue
        panel = apply(m)
        if normalize == "diverging":
            panel = (panel + 1.0) / 2.0
        panels.append(panel)
    rgb = [np.repeat(p[..., None], 3, -1) if p.ndim == 2 else (np.repeat(p, 3, -1) if p.shape[-1] == 1 else p)
           for p in panels]
    return (np.concatenate(rgb, axis=1) * 255).round().astype(np.uint8)


# Inputs that are not images (tokens, sequences, tables): drawn by their own module, named here.
from kerasviz.render_inputs import (  # noqa: E402
    plot_sequence,
    plot_table,
    plot_tokens,
    token_scores,
    tokens_html,
)

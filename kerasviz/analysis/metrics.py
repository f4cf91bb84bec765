"""Metrics that say whether a backprop map recovers the image or explains the model.

Pure NumPy / SciPy / scikit-image: nothing here imports TensorFlow, so the metrics
can be used on maps produced by any library. A map or image is a NumPy array
shaped `(H, W, C)`; functions that also take a batch `(N, H, W, C)` say so.

The definitions follow PAPER.md ("Metrics" and "Theory worth knowing"):

| name | function |
|---|---|
| x̃, the patch-normalized image | `patch_normalized`, `patch_normalized_box` |
| M1 recovery | `recovery` |
| M2 high-pass recovery | `highpass_recovery` |
| M3 SSIM to image | `ssim_to_image` |
| M4 map similarity (Adebayo et al.) | `map_similarity` |
| M5 class-pair similarity | `class_pair_similarity` |
| M6 input independence | `input_independence` |
| M7 adversarial stability | `adversarial_stability` |
| Sixt et al. 2020 | `random_logit_ssim`, `cosine_similarity` |
| Kindermans et al. 2019 | `input_shift_invariance` |
| the theory's √(S/(1+S)) | `theoretical_recovery`, `theoretical_recovery_fc` |
| mean ± sd tables | `summarize` |

The display normalizations `minmax`, `abs_normalized` and `signed_normalized` are
the ones M4 uses; `kerasviz.render` reuses them.

References:
    - Nie, Zhang, Patel. "A Theoretical Explanation for Perplexing Behaviors of
      Backpropagation-based Visualizations". ICML 2018. arXiv:1805.07039.
    - Adebayo et al. "Sanity Checks for Saliency Maps". NeurIPS 2018.
    - Sixt, Granz, Landgraf. "When Explanations Lie: Why Many Modified BP
      Attributions Fail". ICML 2020.
    - Kindermans et al. "The (Un)reliability of Saliency Methods". 2019.

Example:

```python
import numpy as np
from kerasviz.analysis import metrics

image = np.random.default_rng(0).normal(size=(32, 32, 3))
metrics.recovery(2.0 * image, image)["r_image"]  # 1.0
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage, stats
from skimage.feature import hog as _skimage_hog
from skimage.metrics import structural_similarity as _skimage_ssim

from kerasviz.errors import InvalidInputError

__all__ = [
    "pearson",
    "demean_channels",
    "patch_normalized",
    "patch_normalized_box",
    "recovery",
    "highpass_recovery",
    "ssim_to_image",
    "minmax",
    "abs_normalized",
    "signed_normalized",
    "map_similarity",
    "class_pair_similarity",
    "input_independence",
    "adversarial_stability",
    "random_logit_ssim",
    "cosine_similarity",
    "input_shift_invariance",
    "theoretical_recovery",
    "theoretical_recovery_fc",
    "summarize",
]

# SSIM settings shared by M3, M4 and Sixt et al. (PAPER.md, M3).
_SSIM_SIGMA = 1.5
# scikit-image's window for gaussian_weights=True and sigma=1.5 (Wang et al. 2004).
_SSIM_DEFAULT_WIN = 11
# Adebayo et al.'s HOG cells, and the 3x3 cells per block scikit-image uses by default.
_HOG_CELL = 16
_HOG_BLOCK = 3


# --------------------------------------------------------------------------- #
# Private helpers. They compute or *describe* problems; the public functions   #
# raise, so that every error points at the function the user called.          #
# --------------------------------------------------------------------------- #


def _as_float(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _array_problem(x: np.ndarray, name: str, ranks: Sequence[int], hint: str) -> str | None:
    """Returns a message if `x` has a rank outside `ranks` or non-finite values."""
    if x.ndim not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        return (
            f"`{name}` must have rank {wanted}; {hint} "
            f"Received: {name}.shape={x.shape}"
        )
    if x.size == 0:
        return f"`{name}` is empty. Received: {name}.shape={x.shape}"
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        return (
            f"`{name}` contains {bad} NaN or infinite value(s); a map with NaN usually "
            f"means the model or the rule overflowed. Received: {name} with "
            f"shape {x.shape}"
        )
    return None


def _pair_problem(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> str | None:
    if a.shape != b.shape:
        return (
            f"`{names[0]}` and `{names[1]}` must have the same shape; resize or crop "
            f"one of them first. Received: {names[0]}.shape={a.shape}, "
            f"{names[1]}.shape={b.shape}"
        )
    return None


_MAP_HINT = "pass one map shaped (H, W, C) (add a channel axis with m[..., None])."
_BATCH_HINT = (
    "pass one map shaped (H, W, C) or a batch shaped (N, H, W, C) "
    "(add a channel axis with m[..., None])."
)


def _pearson_raw(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two float64 arrays; 0.0 when either is constant."""
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    denom = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def _spearman_raw(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rho (ties get average ranks); 0.0 when either is constant."""
    return _pearson_raw(stats.rankdata(a.ravel()), stats.rankdata(b.ravel()))


def _minmax_raw(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    if hi == lo:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def _scale_by_p99(s: np.ndarray) -> np.ndarray:
    """Divides by the 99th percentile of |s|, falling back to max |s|, then to 1."""
    scale = float(np.percentile(np.abs(s), 99))
    if scale == 0.0:
        scale = float(np.max(np.abs(s)))
    if scale == 0.0:
        return np.zeros_like(s)
    return s / scale


def _ssim_win_size(shape: tuple[int, ...]) -> int:
    smallest = min(shape[0], shape[1])
    win = min(_SSIM_DEFAULT_WIN, smallest)
    return win if win % 2 == 1 else win - 1


def _ssim_raw(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W, C) arrays already in [0, 1] (PAPER.md M3 settings)."""
    return float(
        _skimage_ssim(
            a,
            b,
            gaussian_weights=True,
            sigma=_SSIM_SIGMA,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
            win_size=_ssim_win_size(a.shape),
        )
    )


def _hog_cell_size(height: int, width: int) -> int:
    smallest = min(height, width)
    if smallest >= _HOG_CELL * _HOG_BLOCK:
        return _HOG_CELL
    if smallest >= 4 * _HOG_BLOCK:
        return max(4, smallest // 4)
    return max(1, smallest // _HOG_BLOCK)


def _hog_raw(m2d: np.ndarray) -> np.ndarray:
    cell = _hog_cell_size(*m2d.shape)
    return _skimage_hog(
        m2d,
        orientations=9,
        pixels_per_cell=(cell, cell),
        cells_per_block=(_HOG_BLOCK, _HOG_BLOCK),
        feature_vector=True,
    )


def _pair(value: Any) -> tuple[int, int] | None:
    """(int, int) from an int or a pair of ints; None if it is neither."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def _same_padding(size: int, k: int, s: int) -> tuple[int, int, int]:
    """TF's SAME rule: (output size, padding before, padding after)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def _patch_normalized_one(
    x: np.ndarray, k: tuple[int, int], s: tuple[int, int], same: bool, eps: float
) -> np.ndarray:
    height, width, _ = x.shape
    (kh, kw), (sh, sw) = k, s
    if same:
        oh, top, bottom = _same_padding(height, kh, sh)
        ow, left, right = _same_padding(width, kw, sw)
    else:
        oh, top, bottom = (height - kh) // sh + 1, 0, 0
        ow, left, right = (width - kw) // sw + 1, 0, 0
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    # ||x^(j)|| for every patch j: windows of the channel-summed squares.
    squares = sliding_window_view(np.sum(xp * xp, axis=-1), (kh, kw))[::sh, ::sw]
    norms = np.sqrt(squares.sum(axis=(-2, -1)))[:oh, :ow]
    inv = (1.0 / np.maximum(norms, eps))[..., None]
    out = np.zeros_like(xp)
    # P_j^T x^(j)/||x^(j)||, one in-patch offset (di, dj) at a time for all j.
    for di in range(kh):
        rows = slice(di, di + sh * (oh - 1) + 1, sh)
        for dj in range(kw):
            cols = slice(dj, dj + sw * (ow - 1) + 1, sw)
            out[rows, cols, :] += xp[rows, cols, :] * inv
    return out[top : top + height, left : left + width, :]


def _box_sum(a: np.ndarray, axis: int, before: int, after: int) -> np.ndarray:
    """out[i] = sum of a[i - before : i + after + 1] along `axis`, zeros outside."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (before + 1, after)  # one extra leading zero for the cumsum
    cs = np.cumsum(np.pad(a, pad), axis=axis)
    n = a.shape[axis]
    hi = np.take(cs, np.arange(before + after + 1, before + after + 1 + n), axis=axis)
    lo = np.take(cs, np.arange(0, n), axis=axis)
    return hi - lo


def _patch_normalized_box_one(x: np.ndarray, k: tuple[int, int], eps: float) -> np.ndarray:
    (kh, kw) = k
    # TF SAME, stride 1: patch j covers rows [j - top, j + bottom].
    top, bottom = (kh - 1) // 2, kh - 1 - (kh - 1) // 2
    left, right = (kw - 1) // 2, kw - 1 - (kw - 1) // 2
    squares = np.sum(x * x, axis=-1)
    norms = np.sqrt(_box_sum(_box_sum(squares, 0, top, bottom), 1, left, right))
    inv = 1.0 / np.maximum(norms, eps)
    # Pixel p lies in patches j in [p - bottom, p + top]: the box is mirrored,
    # which only matters for even k.
    weight = _box_sum(_box_sum(inv, 0, bottom, top), 1, right, left)
    return x * weight[..., None]


# --------------------------------------------------------------------------- #
# Basic statistics                                                             #
# --------------------------------------------------------------------------- #


def pearson(a: Any, b: Any) -> float:
    """Pearson correlation over all entries of two arrays of the same shape.

    Both arrays are flattened (pixels and channels pooled) and compared in
    float64. If either array is constant the correlation is undefined; this
    function returns `0.0` in that case ("no linear relation"), never NaN.

    Args:
        a: array of any shape, e.g. a map `(H, W, C)`.
        b: array with the same shape as `a`.

    Returns:
        The correlation, a float in `[-1, 1]`; `0.0` if `a` or `b` is constant.

    Raises:
        InvalidInputError: if the shapes differ, an array is empty, or it holds
            NaN or infinite values.

    Example:

    ```python
    pearson(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))  # 0.982
    ```
    """
    a, b = _as_float(a), _as_float(b)
    if (problem := _pair_problem(a, b, ("a", "b"))) is not None:
        raise InvalidInputError(f"`pearson`: {problem}")
    for arr, name in ((a, "a"), (b, "b")):
        if (problem := _array_problem(arr, name, range(0, 33), "")) is not None:
            raise InvalidInputError(f"`pearson`: {problem}")
    return _pearson_raw(a, b)


def demean_channels(m: Any) -> np.ndarray:
    """Subtracts each channel's spatial mean.

    Args:
        m: one map `(H, W, C)` or a batch `(N, H, W, C)`; for a batch every
            image gets its own channel means.

    Returns:
        A float64 array shaped like `m` whose every channel has mean 0.

    Raises:
        InvalidInputError: if `m` is not rank 3 or 4, or holds NaN / inf.

    Example:

    ```python
    m = np.ones((4, 4, 3)) * np.array([1.0, 2.0, 3.0])
    demean_channels(m)  # all zeros
    ```
    """
    m = _as_float(m)
    if (problem := _array_problem(m, "m", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`demean_channels`: {problem}")
    return m - m.mean(axis=(-3, -2), keepdims=True)


# --------------------------------------------------------------------------- #
# The patch-normalized image x̃                                                 #
# --------------------------------------------------------------------------- #


def patch_normalized(
    image: Any,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: str = "same",
    eps: float = 1e-12,
) -> np.ndarray:
    """The patch-normalized image x̃ = Σ_j P_jᵀ x⁽ʲ⁾ / ‖x⁽ʲ⁾‖ (PAPER.md, theory).

    Every `k×k×C` patch `x⁽ʲ⁾` that a convolution with this kernel size, stride
    and padding would see is divided by its L2 norm and added back at its place.
    Padding follows TensorFlow: `"same"` pads with zeros, the extra row/column
    (even totals) going to the bottom/right; `"valid"` does not pad, and pixels
    no patch covers are 0. This is the target a random CNN's Guided Backprop
    map approaches as the number of filters grows.

    Args:
        image: one image `(H, W, C)` or a batch `(N, H, W, C)`, as fed to the
            network (e.g. after mean subtraction).
        kernel_size: `k` or `(kh, kw)` of the first convolution.
        stride: `s` or `(sh, sw)`. Defaults to `1`.
        padding: `"same"` or `"valid"` (case-insensitive). Defaults to `"same"`.
        eps: a patch norm below `eps` is replaced by `eps`, so an all-zero patch
            contributes 0. Defaults to `1e-12`.

    Returns:
        A float64 array shaped like `image`.

    Raises:
        InvalidInputError: on a bad rank, NaN/inf, a non-positive kernel size or
            stride, an unknown padding, or a "valid" kernel larger than the image.

    Example:

    ```python
    x = np.ones((8, 8, 3))
    patch_normalized(x, 3)[4, 4]  # 3 / sqrt(3) = 1.732 in every channel
    ```
    """
    x = _as_float(image)
    if (problem := _array_problem(x, "image", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`patch_normalized`: {problem}")
    k, s = _pair(kernel_size), _pair(stride)
    if k is None or min(k) < 1:
        raise InvalidInputError(
            "`patch_normalized`: `kernel_size` must be a positive int or a pair of "
            f"positive ints, e.g. 7 or (7, 7). Received: kernel_size={kernel_size!r}"
        )
    if s is None or min(s) < 1:
        raise InvalidInputError(
            "`patch_normalized`: `stride` must be a positive int or a pair of "
            f"positive ints, e.g. 1 or (2, 2). Received: stride={stride!r}"
        )
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("same", "valid"):
        raise InvalidInputError(
            "`patch_normalized`: `padding` must be 'same' or 'valid'. "
            f"Received: padding={padding!r}"
        )
    height, width = x.shape[-3], x.shape[-2]
    if mode == "valid" and (k[0] > height or k[1] > width):
        raise InvalidInputError(
            "`patch_normalized`: with padding='valid' the kernel must fit in the image; "
            "use padding='same' or a smaller kernel. "
            f"Received: kernel_size={kernel_size!r}, image.shape={x.shape}"
        )
    if x.ndim == 3:
        return _patch_normalized_one(x, k, s, mode == "same", eps)
    return np.stack([_patch_normalized_one(xi, k, s, mode == "same", eps) for xi in x])


def patch_normalized_box(
    image: Any, kernel_size: int | tuple[int, int], eps: float = 1e-12
) -> np.ndarray:
    """Closed form of `patch_normalized` for stride 1, SAME: x̃ = x ⊙ B_k(1/‖patch‖).

    `1/‖x⁽ʲ⁾‖` is computed for every patch position `j`, and each pixel is
    multiplied by the sum of those values over the `k×k` patches that contain
    it (a box sum, done with cumulative sums). For odd `k` the box is centred;
    for even `k` TensorFlow puts the extra padding at the bottom/right, so the
    box that collects the patches containing a pixel reaches one pixel further
    up/left than down/right. Either way the result equals
    `patch_normalized(image, kernel_size)` up to float error.

    Args:
        image: one image `(H, W, C)` or a batch `(N, H, W, C)`.
        kernel_size: `k` or `(kh, kw)`.
        eps: floor on the patch norms, as in `patch_normalized`. Defaults to `1e-12`.

    Returns:
        A float64 array shaped like `image`.

    Raises:
        InvalidInputError: on a bad rank, NaN/inf or a non-positive kernel size.

    Example:

    ```python
    x = np.random.default_rng(0).normal(size=(16, 16, 3))
    np.allclose(patch_normalized_box(x, 7), patch_normalized(x, 7))  # True
    ```
    """
    x = _as_float(image)
    if (problem := _array_problem(x, "image", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`patch_normalized_box`: {problem}")
    k = _pair(kernel_size)
    if k is None or min(k) < 1:
        raise InvalidInputError(
            "`patch_normalized_box`: `kernel_size` must be a positive int or a pair of "
            f"positive ints, e.g. 7 or (7, 7). Received: kernel_size={kernel_size!r}"
        )
    if x.ndim == 3:
        return _patch_normalized_box_one(x, k, eps)
    return np.stack([_patch_normalized_box_one(xi, k, eps) for xi in x])


# --------------------------------------------------------------------------- #
# M1-M3: does the map recover the image?                                       #
# --------------------------------------------------------------------------- #


def recovery(
    map: Any,  # noqa: A002 - the paper's word
    image: Any,
    kernel_size: int | tuple[int, int] | None = None,
) -> dict[str, float]:
    """M1: Pearson r between a map and the image (and the patch-normalized image).

    `r_image` pools all pixels and channels. `r_image_demeaned` first subtracts
    each channel's spatial mean from the map, which removes a per-channel
    offset (DeconvNet maps often carry one) without touching the image. With
    `kernel_size`, the same two numbers are computed against
    x̃ = `patch_normalized(image, kernel_size)` (stride 1, SAME).

    Args:
        map: the map `(H, W, C)`.
        image: the input `(H, W, C)` exactly as fed to the network.
        kernel_size: the first convolution's kernel size, or `None` to skip
            the x̃ comparisons. Defaults to `None`.

    Returns:
        A dict with `"r_image"` and `"r_image_demeaned"`, plus
        `"r_normalized"` and `"r_normalized_demeaned"` when `kernel_size` is
        given. Each is `0.0` when one side is constant.

    Raises:
        InvalidInputError: on shapes that differ or are not `(H, W, C)`, or NaN/inf.

    Example:

    ```python
    recovery(gbp_map, x, kernel_size=7)["r_normalized"]  # ~0.8 for N=64 filters
    ```
    """
    m, x = _as_float(map), _as_float(image)
    for arr, name in ((m, "map"), (x, "image")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`recovery`: {problem}")
    if (problem := _pair_problem(m, x, ("map", "image"))) is not None:
        raise InvalidInputError(f"`recovery`: {problem}")
    md = m - m.mean(axis=(0, 1), keepdims=True)
    result = {"r_image": _pearson_raw(m, x), "r_image_demeaned": _pearson_raw(md, x)}
    if kernel_size is not None:
        if (k := _pair(kernel_size)) is None or min(k) < 1:
            raise InvalidInputError(
                "`recovery`: `kernel_size` must be None, a positive int or a pair of "
                f"positive ints, e.g. 7. Received: kernel_size={kernel_size!r}"
            )
        xt = _patch_normalized_one(x, k, (1, 1), True, 1e-12)
        result["r_normalized"] = _pearson_raw(m, xt)
        result["r_normalized_demeaned"] = _pearson_raw(md, xt)
    return result


def highpass_recovery(
    map: Any,  # noqa: A002 - the paper's word
    image: Any,
    sigma: float = 2.0,
) -> float:
    """M2: Pearson(map − channel means, x − GaussianBlur_σ(x)), channels pooled.

    The blur is spatial only (`scipy.ndimage.gaussian_filter` with sigma
    `(σ, σ, 0)`, its default "reflect" borders), so `x − blur(x)` keeps the
    edges of each channel. DeconvNet with max-pooling scores high here even
    though its plain M1 `r` is near 0.

    Args:
        map: the map `(H, W, C)`.
        image: the input `(H, W, C)` as fed to the network.
        sigma: blur width in pixels, > 0. Defaults to `2.0`.

    Returns:
        The correlation, a float in `[-1, 1]` (`0.0` if a side is constant).

    Raises:
        InvalidInputError: on mismatched or non-`(H, W, C)` shapes, NaN/inf, or
            `sigma <= 0`.

    Example:

    ```python
    highpass_recovery(deconv_map_with_pool, x)  # >= 0.3 in the paper's E3
    ```
    """
    m, x = _as_float(map), _as_float(image)
    for arr, name in ((m, "map"), (x, "image")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`highpass_recovery`: {problem}")
    if (problem := _pair_problem(m, x, ("map", "image"))) is not None:
        raise InvalidInputError(f"`highpass_recovery`: {problem}")
    if not (isinstance(sigma, (int, float, np.number)) and math.isfinite(sigma) and sigma > 0):
        raise InvalidInputError(
            "`highpass_recovery`: `sigma` must be a positive number of pixels, e.g. 2.0. "
            f"Received: sigma={sigma!r}"
        )
    high = x - ndimage.gaussian_filter(x, sigma=(float(sigma), float(sigma), 0.0))
    return _pearson_raw(m - m.mean(axis=(0, 1), keepdims=True), high)


def ssim_to_image(map: Any, image: Any) -> float:  # noqa: A002 - the paper's word
    """M3: SSIM between the min–max normalized map and min–max normalized image.

    Both are scaled jointly over all pixels and channels to `[0, 1]`, then
    compared with scikit-image's SSIM (Gaussian weights, σ = 1.5, population
    covariance, data range 1, channels averaged). The window is scikit-image's
    11 pixels, or the largest odd size that fits when a side is shorter.
    Grayscale `(H, W, 1)` works the same way.

    Warning: SSIM stays low even for good recoveries (the map is x̃, not x);
    use it to order methods, not as an absolute score.

    Args:
        map: the map `(H, W, C)`.
        image: the input `(H, W, C)`.

    Returns:
        SSIM, a float in `[-1, 1]`.

    Raises:
        InvalidInputError: on mismatched or non-`(H, W, C)` shapes, or NaN/inf.

    Example:

    ```python
    ssim_to_image(x, x)  # 1.0
    ```
    """
    m, x = _as_float(map), _as_float(image)
    for arr, name in ((m, "map"), (x, "image")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`ssim_to_image`: {problem}")
    if (problem := _pair_problem(m, x, ("map", "image"))) is not None:
        raise InvalidInputError(f"`ssim_to_image`: {problem}")
    return _ssim_raw(_minmax_raw(m), _minmax_raw(x))


# --------------------------------------------------------------------------- #
# Normalizations (PAPER.md display rule and Adebayo et al.'s M4 inputs)        #
# --------------------------------------------------------------------------- #


def minmax(m: Any) -> np.ndarray:
    """Min–max normalizes a map jointly over all pixels and channels to `[0, 1]`.

    This is the paper's display rule (the map shown as RGB). A constant map
    has no range and becomes all zeros.

    Args:
        m: one map `(H, W, C)` or a batch `(N, H, W, C)`; each image of a
            batch is scaled on its own.

    Returns:
        A float64 array shaped like `m`, in `[0, 1]`.

    Raises:
        InvalidInputError: if `m` is not rank 3 or 4, or holds NaN / inf.

    Example:

    ```python
    minmax(np.array([[[-1.0], [0.0], [3.0]]]))  # [[[0.], [0.25], [1.]]]
    ```
    """
    m = _as_float(m)
    if (problem := _array_problem(m, "m", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`minmax`: {problem}")
    if m.ndim == 3:
        return _minmax_raw(m)
    return np.stack([_minmax_raw(mi) for mi in m])


def abs_normalized(m: Any) -> np.ndarray:
    """Σ_c |s| divided by its 99th percentile and clipped to `[0, 1]` (Adebayo et al.).

    If the 99th percentile is 0 (a map that is almost all zeros) the maximum is
    used instead; an all-zero map stays all zeros.

    Args:
        m: one map `(H, W, C)` or a batch `(N, H, W, C)` (each image scaled on
            its own).

    Returns:
        A float64 array `(H, W)` (or `(N, H, W)`) in `[0, 1]`.

    Raises:
        InvalidInputError: if `m` is not rank 3 or 4, or holds NaN / inf.

    Example:

    ```python
    abs_normalized(gbp_map)  # (H, W) heat map
    ```
    """
    m = _as_float(m)
    if (problem := _array_problem(m, "m", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`abs_normalized`: {problem}")
    s = np.sum(np.abs(m), axis=-1)
    if m.ndim == 3:
        return np.clip(_scale_by_p99(s), 0.0, 1.0)
    return np.stack([np.clip(_scale_by_p99(si), 0.0, 1.0) for si in s])


def signed_normalized(m: Any) -> np.ndarray:
    """Σ_c s divided by |P99 of |Σ_c s|| and clipped to `[-1, 1]` (Adebayo et al.).

    The sign is kept, so `signed_normalized(-m) == -signed_normalized(m)`. The
    same fallbacks as `abs_normalized` apply when the percentile is 0.

    Args:
        m: one map `(H, W, C)` or a batch `(N, H, W, C)` (each image scaled on
            its own).

    Returns:
        A float64 array `(H, W)` (or `(N, H, W)`) in `[-1, 1]`.

    Raises:
        InvalidInputError: if `m` is not rank 3 or 4, or holds NaN / inf.

    Example:

    ```python
    signed_normalized(saliency_map)  # (H, W), 0 means "no effect"
    ```
    """
    m = _as_float(m)
    if (problem := _array_problem(m, "m", (3, 4), _BATCH_HINT)) is not None:
        raise InvalidInputError(f"`signed_normalized`: {problem}")
    s = np.sum(m, axis=-1)
    if m.ndim == 3:
        return np.clip(_scale_by_p99(s), -1.0, 1.0)
    return np.stack([np.clip(_scale_by_p99(si), -1.0, 1.0) for si in s])


# --------------------------------------------------------------------------- #
# M4-M7: how similar are two maps?                                             #
# --------------------------------------------------------------------------- #


def map_similarity(a: Any, b: Any) -> dict[str, float]:
    """M4: Adebayo et al.'s similarities between two maps, plus Sixt et al.'s SSIM.

    - `"spearman_abs"`: Spearman rho of `abs_normalized(a)` and `abs_normalized(b)`.
    - `"spearman_signed"`: Spearman rho of the `signed_normalized` maps.
    - `"ssim"`: SSIM of `minmax(a)` and `minmax(b)` (settings of `ssim_to_image`).
    - `"ssim_abs_max"`: max(SSIM(minmax a, minmax b), SSIM(minmax a, minmax −b)),
      Sixt et al.'s sign-agnostic SSIM.
    - `"hog"`: Spearman rho of the HOG features (9 orientations, 3×3 cells per
      block) of the abs-normalized maps, with 16×16-pixel cells. Maps whose
      smaller side `L` is under 48 pixels cannot hold one 3×3 block of such
      cells, so they use `max(4, L // 4)`-pixel cells (e.g. 7 for 28×28), and
      under 12 pixels `max(1, L // 3)`.

    Rank correlations of a constant input are `0.0` (see `pearson`).

    Args:
        a: a map `(H, W, C)`.
        b: a map with the same shape.

    Returns:
        A dict with the five floats above.

    Raises:
        InvalidInputError: on mismatched or non-`(H, W, C)` shapes, or NaN/inf.

    Example:

    ```python
    sim = map_similarity(m, -m)
    sim["spearman_signed"], sim["ssim_abs_max"]  # -1.0, 1.0
    ```
    """
    a, b = _as_float(a), _as_float(b)
    for arr, name in ((a, "a"), (b, "b")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`map_similarity`: {problem}")
    if (problem := _pair_problem(a, b, ("a", "b"))) is not None:
        raise InvalidInputError(f"`map_similarity`: {problem}")
    abs_a = np.clip(_scale_by_p99(np.sum(np.abs(a), axis=-1)), 0.0, 1.0)
    abs_b = np.clip(_scale_by_p99(np.sum(np.abs(b), axis=-1)), 0.0, 1.0)
    signed_a = np.clip(_scale_by_p99(np.sum(a, axis=-1)), -1.0, 1.0)
    signed_b = np.clip(_scale_by_p99(np.sum(b, axis=-1)), -1.0, 1.0)
    mm_a = _minmax_raw(a)
    ssim = _ssim_raw(mm_a, _minmax_raw(b))
    ssim_flipped = _ssim_raw(mm_a, _minmax_raw(-b))
    return {
        "spearman_abs": _spearman_raw(abs_a, abs_b),
        "spearman_signed": _spearman_raw(signed_a, signed_b),
        "ssim": ssim,
        "hog": _spearman_raw(_hog_raw(abs_a), _hog_raw(abs_b)),
        "ssim_abs_max": max(ssim, ssim_flipped),
    }


def class_pair_similarity(map_class_a: Any, map_class_b: Any) -> dict[str, float]:
    """M5: `map_similarity` between the maps of two classes of the same image.

    High values mean the method is insensitive to the class (PAPER.md C9).

    Args:
        map_class_a: map `(H, W, C)` for one class.
        map_class_b: map for another class, same image, net and rule.

    Returns:
        The dict of `map_similarity`.

    Raises:
        InvalidInputError: on mismatched or non-`(H, W, C)` shapes, or NaN/inf.

    Example:

    ```python
    class_pair_similarity(gbp_max_logit, gbp_random_logit)["ssim"]  # >= 0.9 for GBP
    ```
    """
    a, b = _as_float(map_class_a), _as_float(map_class_b)
    for arr, name in ((a, "map_class_a"), (b, "map_class_b")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`class_pair_similarity`: {problem}")
    if (problem := _pair_problem(a, b, ("map_class_a", "map_class_b"))) is not None:
        raise InvalidInputError(f"`class_pair_similarity`: {problem}")
    return map_similarity(a, b)


def input_independence(map_image1: Any, map_image2: Any) -> float:
    """M6: Pearson r between the maps of two unrelated images (same net and logit).

    Near 0 for a map that depends on its input; exactly 1 for DeconvNet without
    max-pooling and zero biases, whose map ignores the input (PAPER.md C3, C11).

    Args:
        map_image1: map `(H, W, C)` of one image.
        map_image2: map of another image, same shape.

    Returns:
        The correlation (`0.0` if one map is constant).

    Raises:
        InvalidInputError: on mismatched shapes, or NaN/inf.

    Example:

    ```python
    input_independence(deconv(x1), deconv(x2))  # 1.0 without max-pooling
    ```
    """
    a, b = _as_float(map_image1), _as_float(map_image2)
    if (problem := _pair_problem(a, b, ("map_image1", "map_image2"))) is not None:
        raise InvalidInputError(f"`input_independence`: {problem}")
    for arr, name in ((a, "map_image1"), (b, "map_image2")):
        if (problem := _array_problem(arr, name, range(0, 33), "")) is not None:
            raise InvalidInputError(f"`input_independence`: {problem}")
    return _pearson_raw(a, b)


def adversarial_stability(
    map_x: Any,
    map_adv: Any,
    *,
    epsilon: float,
    linf: float,
    class_x: int,
    class_adv: int,
) -> dict[str, float | int]:
    """M7: `map_similarity` between the maps of x and x_adv, with the attack's record.

    Each map should be taken for its own image's max logit (PAPER.md E7).

    Args:
        map_x: map `(H, W, C)` of the clean image.
        map_adv: map of the adversarial image, same shape.
        epsilon: the attack's step size ε (in input units), >= 0.
        linf: the measured ‖x_adv − x‖∞ (after rounding to uint8, if any), >= 0.
        class_x: top-1 class of x.
        class_adv: top-1 class of x_adv.

    Returns:
        The dict of `map_similarity` plus `"epsilon"`, `"linf"` (floats) and
        `"class_x"`, `"class_adv"` (ints).

    Raises:
        InvalidInputError: on bad maps, a negative or non-finite `epsilon` /
            `linf`, or non-integer classes.

    Example:

    ```python
    adversarial_stability(m, m_adv, epsilon=2 / 255, linf=2 / 255, class_x=3, class_adv=5)
    ```
    """
    a, b = _as_float(map_x), _as_float(map_adv)
    for arr, name in ((a, "map_x"), (b, "map_adv")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`adversarial_stability`: {problem}")
    if (problem := _pair_problem(a, b, ("map_x", "map_adv"))) is not None:
        raise InvalidInputError(f"`adversarial_stability`: {problem}")
    for value, name in ((epsilon, "epsilon"), (linf, "linf")):
        if not (
            isinstance(value, (int, float, np.number))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            raise InvalidInputError(
                f"`adversarial_stability`: `{name}` must be a finite number >= 0. "
                f"Received: {name}={value!r}"
            )
    for value, name in ((class_x, "class_x"), (class_adv, "class_adv")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise InvalidInputError(
                f"`adversarial_stability`: `{name}` must be an int class index "
                f"(use int(np.argmax(logits))). Received: {name}={value!r}"
            )
    result: dict[str, float | int] = dict(map_similarity(a, b))
    result.update(
        epsilon=float(epsilon), linf=float(linf), class_x=int(class_x), class_adv=int(class_adv)
    )
    return result


# --------------------------------------------------------------------------- #
# Related work: Sixt et al. 2020, Kindermans et al. 2019                       #
# --------------------------------------------------------------------------- #


def random_logit_ssim(map_max: Any, map_random: Any) -> float:
    """Sixt et al.'s test: SSIM between the max-logit map and a random-logit map.

    Both maps are min–max normalized (jointly over pixels and channels) and
    compared with the settings of `ssim_to_image`. A value near 1 means the
    map does not depend on which logit is explained.

    Args:
        map_max: map `(H, W, C)` for the max logit.
        map_random: map for a random logit, same shape.

    Returns:
        SSIM, a float in `[-1, 1]`.

    Raises:
        InvalidInputError: on mismatched or non-`(H, W, C)` shapes, or NaN/inf.

    Example:

    ```python
    random_logit_ssim(gbp_max, gbp_random)  # close to 1 for GBP
    ```
    """
    a, b = _as_float(map_max), _as_float(map_random)
    for arr, name in ((a, "map_max"), (b, "map_random")):
        if (problem := _array_problem(arr, name, (3,), _MAP_HINT)) is not None:
            raise InvalidInputError(f"`random_logit_ssim`: {problem}")
    if (problem := _pair_problem(a, b, ("map_max", "map_random"))) is not None:
        raise InvalidInputError(f"`random_logit_ssim`: {problem}")
    return _ssim_raw(_minmax_raw(a), _minmax_raw(b))


def cosine_similarity(a: Any, b: Any) -> float:
    """Cosine similarity of two flattened arrays (Sixt et al.'s convergence measure).

    Sixt et al. track the cosine similarity between the relevance
    back-propagated from different logits, layer by layer: for GBP it tends to
    1 as the layers go down. An all-zero array has no direction; the result is
    then `0.0`.

    Args:
        a: array of any shape.
        b: array with the same shape.

    Returns:
        A float in `[-1, 1]`.

    Raises:
        InvalidInputError: on mismatched shapes, empty arrays or NaN/inf.

    Example:

    ```python
    cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0]))  # 0.7071
    ```
    """
    a, b = _as_float(a), _as_float(b)
    if (problem := _pair_problem(a, b, ("a", "b"))) is not None:
        raise InvalidInputError(f"`cosine_similarity`: {problem}")
    for arr, name in ((a, "a"), (b, "b")):
        if (problem := _array_problem(arr, name, range(0, 33), "")) is not None:
            raise InvalidInputError(f"`cosine_similarity`: {problem}")
    a, b = a.ravel(), b.ravel()
    denom = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def input_shift_invariance(
    map_a: Any, map_b: Any, atol: float = 1e-5, *, rtol: float = 0.0
) -> dict[str, float | bool]:
    """Kindermans et al.'s check: are two maps identical up to float error?

    Compare the maps of two nets that differ only by a constant input shift
    absorbed in the first layer's bias (x and x + c): all three rules should
    give identical maps.

    Args:
        map_a: map `(H, W, C)` (or any shape) from the first net.
        map_b: map from the shifted net, same shape.
        atol: absolute tolerance on max |a − b|. Defaults to `1e-5`.
        rtol: tolerance relative to max |map_a|, added to `atol` (useful for
            float32 maps with large values). Defaults to `0.0`.

    Returns:
        A dict with `"max_abs_diff"` = max |a − b|, `"relative_diff"` =
        max |a − b| / max |a| (0 if both are all zero, inf if only `map_a` is),
        and `"invariant"` = `max_abs_diff <= atol + rtol * max |a|`.

    Raises:
        InvalidInputError: on mismatched shapes, NaN/inf, or a negative tolerance.

    Example:

    ```python
    input_shift_invariance(gbp_net(x), gbp_shifted_net(x - c))["invariant"]  # True
    ```
    """
    a, b = _as_float(map_a), _as_float(map_b)
    if (problem := _pair_problem(a, b, ("map_a", "map_b"))) is not None:
        raise InvalidInputError(f"`input_shift_invariance`: {problem}")
    for arr, name in ((a, "map_a"), (b, "map_b")):
        if (problem := _array_problem(arr, name, range(0, 33), "")) is not None:
            raise InvalidInputError(f"`input_shift_invariance`: {problem}")
    for value, name in ((atol, "atol"), (rtol, "rtol")):
        if not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and value >= 0):
            raise InvalidInputError(
                f"`input_shift_invariance`: `{name}` must be a finite number >= 0. "
                f"Received: {name}={value!r}"
            )
    max_abs_diff = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(a)))
    if scale > 0:
        relative = max_abs_diff / scale
    else:
        relative = 0.0 if max_abs_diff == 0 else math.inf
    return {
        "max_abs_diff": max_abs_diff,
        "relative_diff": relative,
        "invariant": bool(max_abs_diff <= atol + rtol * scale),
    }


# --------------------------------------------------------------------------- #
# Theory and tables                                                            #
# --------------------------------------------------------------------------- #


def theoretical_recovery(num_filters: float, channels: int = 3) -> float:
    """The theory's GBP recovery r ≈ √(S/(1+S)), S = N/(π²·C), for a random CNN.

    PAPER.md C4: a random 3-layer CNN with `N` filters of any kernel size on a
    `C`-channel input. Simulation for C=3 and N = 1, 4, 16, 64, 256 gave
    r ≈ 0.21, 0.36, 0.60, 0.77, 0.90; this formula gives 0.18, 0.35, 0.59,
    0.83, 0.95.

    Args:
        num_filters: N, the first convolution's filter count, >= 0.
        channels: C, the input channels, >= 1. Defaults to `3`.

    Returns:
        The predicted correlation in `[0, 1)`.

    Raises:
        InvalidInputError: on a negative or non-finite `num_filters`, or
            `channels < 1`.

    Example:

    ```python
    theoretical_recovery(64)  # 0.827
    ```
    """
    if not (
        isinstance(num_filters, (int, float, np.number))
        and not isinstance(num_filters, bool)
        and math.isfinite(num_filters)
        and num_filters >= 0
    ):
        raise InvalidInputError(
            "`theoretical_recovery`: `num_filters` must be a finite number >= 0. "
            f"Received: num_filters={num_filters!r}"
        )
    if not isinstance(channels, (int, np.integer)) or isinstance(channels, bool) or channels < 1:
        raise InvalidInputError(
            "`theoretical_recovery`: `channels` must be a positive int, e.g. 3 for RGB. "
            f"Received: channels={channels!r}"
        )
    s = float(num_filters) / (math.pi**2 * int(channels))
    return math.sqrt(s / (1.0 + s))


def theoretical_recovery_fc(hidden: float, input_dim: int) -> float:
    """The theory's GBP recovery √(S/(1+S)), S = N_h/(π²·d), for a random FC net.

    PAPER.md C5: a fully connected layer sees the whole input, so `N_h` hidden
    units must grow with the input dimension `d` (12288 for 64×64×3). For
    N_h = 1k, 5k, 20k, 70k this gives 0.09, 0.20, 0.38, 0.60.

    Args:
        hidden: N_h, the hidden units, >= 0.
        input_dim: d, the flattened input size, >= 1.

    Returns:
        The predicted correlation in `[0, 1)`.

    Raises:
        InvalidInputError: on a negative or non-finite `hidden`, or `input_dim < 1`.

    Example:

    ```python
    theoretical_recovery_fc(5000, 64 * 64 * 3)  # 0.199
    ```
    """
    if not (
        isinstance(hidden, (int, float, np.number))
        and not isinstance(hidden, bool)
        and math.isfinite(hidden)
        and hidden >= 0
    ):
        raise InvalidInputError(
            "`theoretical_recovery_fc`: `hidden` must be a finite number >= 0. "
            f"Received: hidden={hidden!r}"
        )
    if not isinstance(input_dim, (int, np.integer)) or isinstance(input_dim, bool) or input_dim < 1:
        raise InvalidInputError(
            "`theoretical_recovery_fc`: `input_dim` must be a positive int, e.g. "
            f"64 * 64 * 3. Received: input_dim={input_dim!r}"
        )
    # The CNN's curve with the whole input in place of one patch's channels.
    return theoretical_recovery(hidden, channels=int(input_dim))


def summarize(
    records: Iterable[Mapping[str, Any]], by: Sequence[str] | str = ()
) -> list[dict[str, Any]]:
    """Groups records and reports mean ± sd of their `"value"` per group.

    Groups appear in the order their first record appears. `sd` is the sample
    standard deviation (ddof=1) when a group has more than one record, else
    `0.0`. NaN values are kept, so a group with a NaN reports NaN.

    Args:
        records: dicts, each with a numeric `"value"` and every key of `by`.
        by: the keys to group by (a single key may be given as a string).
            Defaults to `()`: one group of all records.

    Returns:
        One dict per group: the `by` keys with the group's values, then
        `"mean"`, `"sd"` and `"n"`.

    Raises:
        InvalidInputError: if a record lacks `"value"` or a `by` key, or its
            value is not a number.

    Example:

    ```python
    summarize([{"rule": "guided", "value": 0.7}, {"rule": "guided", "value": 0.9}], by="rule")
    # [{"rule": "guided", "mean": 0.8, "sd": 0.1414, "n": 2}]
    ```
    """
    keys = (by,) if isinstance(by, str) else tuple(by)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for index, record in enumerate(records):
        missing = [key for key in ("value", *keys) if key not in record]
        if missing:
            raise InvalidInputError(
                f"`summarize`: record {index} has no key(s) {missing}; every record needs "
                f"'value' and the `by` keys {list(keys)}. Received: record={dict(record)!r}"
            )
        value = record["value"]
        if not isinstance(value, (int, float, np.number)) or isinstance(value, (bool, np.bool_)):
            raise InvalidInputError(
                f"`summarize`: record {index} has a 'value' that is not a number. "
                f"Received: value={value!r}"
            )
        groups.setdefault(tuple(record[key] for key in keys), []).append(float(value))
    table = []
    for group, values in groups.items():
        arr = np.asarray(values, dtype=np.float64)
        row: dict[str, Any] = dict(zip(keys, group))
        row["mean"] = float(arr.mean())
        row["sd"] = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        row["n"] = int(arr.size)
        table.append(row)
    return table

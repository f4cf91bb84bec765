"""The metrics M1–M7: does a backprop map recover the image, or explain the model?

Pure NumPy / SciPy / scikit-image: nothing here imports TensorFlow, so the metrics
can be used on maps produced by any library. A map or image is a NumPy array
shaped `(H, W, C)`; functions that also take a batch `(N, H, W, C)` say so.
The definitions are those of the docs' analysis page (docs/analysis.md, "Metrics").

| name | function |
|---|---|
| M1 recovery | `recovery` |
| M2 high-pass recovery | `highpass_recovery` |
| M3 SSIM to image | `ssim_to_image` |
| M1–M3 of one map, as the experiments record them | `image_metrics` |
| M4 map similarity (Adebayo et al.) | `map_similarity` |
| M5 class-pair similarity | `class_pair_similarity` |
| M6 input independence | `input_independence` |
| M7 adversarial stability | `adversarial_stability` |
| Sixt et al. 2020 | `random_logit_ssim`, `cosine_similarity` |
| Kindermans et al. 2019 | `input_shift_invariance` |
| correlations | `pearson`, `demean_channels` |
| relevance maps signed by their score, before comparing | `signed_by_score` |

Also importable from here, as before, but defined in their own modules:

| names | home |
|---|---|
| `patch_normalized`, `patch_normalized_box`, `theoretical_recovery`, `theoretical_recovery_fc` | `kerasviz.analysis.theory` |
| `minmax`, `abs_normalized`, `signed_normalized` (M4's inputs, also `kerasviz.render`'s) | `kerasviz.normalize` |
| `summarize` (mean ± sd tables of records) | `kerasviz.analysis.records` |

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
from typing import Any

import numpy as np
from scipy import ndimage, stats
from skimage.feature import hog as _skimage_hog
from skimage.metrics import structural_similarity as _skimage_ssim

from kerasviz import _validation
from kerasviz.analysis import theory
from kerasviz.analysis.records import summarize
from kerasviz.analysis.theory import (
    patch_normalized,
    patch_normalized_box,
    theoretical_recovery,
    theoretical_recovery_fc,
)
from kerasviz.errors import InvalidInputError
from kerasviz.normalize import abs_normalized, minmax, signed_normalized

__all__ = [
    "pearson",
    "demean_channels",
    "patch_normalized",
    "patch_normalized_box",
    "recovery",
    "highpass_recovery",
    "ssim_to_image",
    "image_metrics",
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
    "signed_by_score",
    "theoretical_recovery",
    "theoretical_recovery_fc",
    "summarize",
]

# SSIM settings shared by M3, M4 and Sixt et al. (M3).
_SSIM_SIGMA = 1.5
# scikit-image's window for gaussian_weights=True and sigma=1.5 (Wang et al. 2004).
_SSIM_DEFAULT_WIN = 11
# Adebayo et al.'s HOG cells, and the 3x3 cells per block scikit-image uses by default.
_HOG_CELL = 16
_HOG_BLOCK = 3


# --------------------------------------------------------------------------- #
# Private helpers: the computations behind the checked public functions.      #
# --------------------------------------------------------------------------- #


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


def _ssim_win_size(shape: tuple[int, ...]) -> int:
    smallest = min(shape[0], shape[1])
    win = min(_SSIM_DEFAULT_WIN, smallest)
    return win if win % 2 == 1 else win - 1


def _ssim_raw(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W, C) arrays already in [0, 1] (the settings of M3)."""
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
    a, b = _validation.map_pair(a, b, ("a", "b"), where="pearson", shape_first=True)
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
    m = _validation.map_array(m, "m", ranks=(3, 4), hint=_validation.BATCH_HINT, where="demean_channels")
    return m - m.mean(axis=(-3, -2), keepdims=True)


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
    m, x = _validation.map_pair(
        map, image, ("map", "image"), ranks=(3,), hint=_validation.MAP_HINT, where="recovery"
    )
    md = m - m.mean(axis=(0, 1), keepdims=True)
    result = {"r_image": _pearson_raw(m, x), "r_image_demeaned": _pearson_raw(md, x)}
    if kernel_size is not None:
        if (k := _validation.int_pair(kernel_size)) is None or min(k) < 1:
            raise InvalidInputError(
                "`recovery`: `kernel_size` must be None, a positive int or a pair of "
                f"positive ints, e.g. 7. Received: kernel_size={kernel_size!r}"
            )
        xt = theory.patch_normalized(x, k)
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
    m, x = _validation.map_pair(
        map, image, ("map", "image"), ranks=(3,), hint=_validation.MAP_HINT, where="highpass_recovery"
    )
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
    m, x = _validation.map_pair(
        map, image, ("map", "image"), ranks=(3,), hint=_validation.MAP_HINT, where="ssim_to_image"
    )
    return _ssim_raw(minmax(m), minmax(x))


def image_metrics(m: np.ndarray, x: np.ndarray, x_tilde: np.ndarray | None = None) -> dict[str, float]:
    """M1–M3 of one map against the image x it was computed for, under the records' metric names.

    Args:
        m: the map `(H, W, C)`.
        x: the image as the first weight layer sees it (mean-subtracted for
            the zoo's RGB nets), `(H, W, C)`.
        x_tilde: the patch-normalized x̃, or `None` to skip the x̃ 

    Returns:
        `r_image`, `abs_r_image`, `r_image_demeaned`, (`r_normalized`,
        `r_normalized_demeaned`,) `highpass`, `ssim_image`.

    Raises:
        InvalidInputError: on maps or images that are not `(H, W, C)` of one
            shape, or hold NaN/inf.

    Example:

    ```python
    image_metrics(gbp_map, x, patch_normalized_box(x, 7))["r_normalized"]
    ```
    """
    rec = recovery(m, x)
    out = {
        "r_image": rec["r_image"],
        "abs_r_image": abs(rec["r_image"]),
        "r_image_demeaned": rec["r_image_demeaned"],
    }
    if x_tilde is not None:
        demeaned = demean_channels(m)
        out["r_normalized"] = pearson(m, x_tilde)
        out["r_normalized_demeaned"] = pearson(demeaned, x_tilde)
    out["highpass"] = highpass_recovery(m, x)
    out["ssim_image"] = ssim_to_image(m, x)
    return out


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
    a, b = _validation.map_pair(
        a, b, ("a", "b"), ranks=(3,), hint=_validation.MAP_HINT, where="map_similarity"
    )
    abs_a, abs_b = abs_normalized(a), abs_normalized(b)
    signed_a, signed_b = signed_normalized(a), signed_normalized(b)
    mm_a = minmax(a)
    ssim = _ssim_raw(mm_a, minmax(b))
    ssim_flipped = _ssim_raw(mm_a, minmax(-b))
    return {
        "spearman_abs": _spearman_raw(abs_a, abs_b),
        "spearman_signed": _spearman_raw(signed_a, signed_b),
        "ssim": ssim,
        "hog": _spearman_raw(_hog_raw(abs_a), _hog_raw(abs_b)),
        "ssim_abs_max": max(ssim, ssim_flipped),
    }


def class_pair_similarity(map_class_a: Any, map_class_b: Any) -> dict[str, float]:
    """M5: `map_similarity` between the maps of two classes of the same image.

    High values mean the method is insensitive to the class (claim C9).

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
    a, b = _validation.map_pair(
        map_class_a, map_class_b, ("map_class_a", "map_class_b"), ranks=(3,), hint=_validation.MAP_HINT, where="class_pair_similarity"
    )
    return map_similarity(a, b)


def signed_by_score(maps: Any, scores: Any) -> np.ndarray:
    """Relevance maps times the sign of their scores, so that they can be compared across classes and nets.

    A relevance map (LRP, DeepLIFT) sums to its score, so it carries the
    score's sign: the maps of a negative and a positive logit are mirror
    images even when they point at the same pixels. Multiplied by the sign
    of their scores, the comparisons (M4–M7) measure where the relevance
    goes, as they do for gradient maps. A score of 0 gives a zero map.

    Args:
        maps: `(N, ...)` maps, or `(N, K, ...)` for K classes per sample.
        scores: the explained score of each map: `(N,)`, or `(N, K)`.

    Returns:
        The signed maps, the dtype of `maps`.

    Raises:
        InvalidInputError: when `scores`' shape is not the leading axes of `maps`'.

    Example:

    ```python
    signed_by_score(np.ones((2, 4, 4, 1)), np.array([3.0, -0.5]))[:, 0, 0, 0]  # [1.0, -1.0]
    ```
    """
    maps, scores = np.asarray(maps), np.asarray(scores)
    if scores.ndim >= maps.ndim or maps.shape[:scores.ndim] != scores.shape:
        raise InvalidInputError(
            "signed_by_score needs one score per map: scores shaped like the leading axes of maps, (N,) for "
            f"(N, H, W, C) maps or (N, K) for (N, K, H, W, C). Received: maps with shape {maps.shape}, scores "
            f"with shape {scores.shape}"
        )
    sign = np.sign(scores).reshape(scores.shape + (1,) * (maps.ndim - scores.ndim))
    return maps * sign.astype(maps.dtype)


def input_independence(map_image1: Any, map_image2: Any) -> float:
    """M6: Pearson r between the maps of two unrelated images (same net and logit).

    Near 0 for a map that depends on its input; exactly 1 for DeconvNet without
    max-pooling and zero biases, whose map ignores the input (claims C3, C11).

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
    a, b = _validation.map_pair(
        map_image1, map_image2, ("map_image1", "map_image2"), where="input_independence", shape_first=True
    )
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

    Each map should be taken for its own image's max logit (as in E7).

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
    a, b = _validation.map_pair(
        map_x, map_adv, ("map_x", "map_adv"), ranks=(3,), hint=_validation.MAP_HINT, where="adversarial_stability"
    )
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
    a, b = _validation.map_pair(
        map_max, map_random, ("map_max", "map_random"), ranks=(3,), hint=_validation.MAP_HINT, where="random_logit_ssim"
    )
    return _ssim_raw(minmax(a), minmax(b))


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
    a, b = _validation.map_pair(a, b, ("a", "b"), where="cosine_similarity", shape_first=True)
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
    a, b = _validation.map_pair(
        map_a, map_b, ("map_a", "map_b"), where="input_shift_invariance", shape_first=True
    )
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

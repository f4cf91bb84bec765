"""The theory of Nie, Zhang & Patel (ICML 2018): the patch-normalized image x̃ and the √(S/(1+S)) curves.

A random ReLU network's Guided Backprop map approaches x̃ = Σ_j P_jᵀ x⁽ʲ⁾ / ‖x⁽ʲ⁾‖,
the image with every patch its first layer sees scaled to unit norm, and its
Pearson correlation with x̃ grows as √(S/(1+S)) with the signal-to-noise
ratio S = N/(π²·C) (N filters over C-channel patches; for a fully connected
layer S = N_h/(π²·d) over the whole input). The derivation is in
docs/theory.md. NumPy only.

| function | what |
|---|---|
| `patch_normalized` | x̃ for any kernel size, stride and padding (patch by patch) |
| `patch_normalized_box` | x̃ for stride 1, SAME, in closed form (box filters) |
| `signal_to_noise` | S = N/(π²·C) |
| `theoretical_recovery` | √(S/(1+S)) of a random CNN |
| `theoretical_recovery_fc` | √(S/(1+S)) of a random fully connected net, S = N_h/(π²·d) |
| `theory_curve` | `theoretical_recovery` over a sweep of N |
| `theoretical_input_independence` | M6(GBP) ≈ (0.5 + S·r(x̃_i, x̃_j))/(1+S): the part of GBP maps all images share (ours) |

`kerasviz.analysis.metrics` re-exports `patch_normalized`,
`patch_normalized_box`, `theoretical_recovery` and `theoretical_recovery_fc`,
as it did before this module existed.

Example:

```python
import numpy as np
from kerasviz.analysis import theory

x = np.random.default_rng(0).normal(size=(16, 16, 3))
np.allclose(theory.patch_normalized_box(x, 7), theory.patch_normalized(x, 7))  # True
theory.theoretical_recovery(64)  # 0.827
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kerasviz import _validation
from kerasviz.errors import InvalidInputError

__all__ = [
    "patch_normalized",
    "patch_normalized_box",
    "signal_to_noise",
    "theoretical_recovery",
    "theoretical_recovery_fc",
    "theory_curve",
    "theoretical_input_independence",
]


# --------------------------------------------------------------------------- #
# Private helpers                                                              #
# --------------------------------------------------------------------------- #


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
# The patch-normalized image x̃                                                 #
# --------------------------------------------------------------------------- #


def patch_normalized(
    image: Any,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: str = "same",
    eps: float = 1e-12,
) -> np.ndarray:
    """The patch-normalized image x̃ = Σ_j P_jᵀ x⁽ʲ⁾ / ‖x⁽ʲ⁾‖ (docs/theory.md).

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
    x = _validation.map_array(
        image, "image", ranks=(3, 4), hint=_validation.BATCH_HINT, where="patch_normalized"
    )
    k, s = _validation.int_pair(kernel_size), _validation.int_pair(stride)
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
    x = _validation.map_array(
        image, "image", ranks=(3, 4), hint=_validation.BATCH_HINT, where="patch_normalized_box"
    )
    k = _validation.int_pair(kernel_size)
    if k is None or min(k) < 1:
        raise InvalidInputError(
            "`patch_normalized_box`: `kernel_size` must be a positive int or a pair of "
            f"positive ints, e.g. 7 or (7, 7). Received: kernel_size={kernel_size!r}"
        )
    if x.ndim == 3:
        return _patch_normalized_box_one(x, k, eps)
    return np.stack([_patch_normalized_box_one(xi, k, eps) for xi in x])


# --------------------------------------------------------------------------- #
# The √(S/(1+S)) curves                                                        #
# --------------------------------------------------------------------------- #


def _signal_to_noise(num_filters: Any, channels: Any, where: str) -> float:
    if not (
        isinstance(num_filters, (int, float, np.number))
        and not isinstance(num_filters, bool)
        and math.isfinite(num_filters)
        and num_filters >= 0
    ):
        raise InvalidInputError(
            f"`{where}`: `num_filters` must be a finite number >= 0. "
            f"Received: num_filters={num_filters!r}"
        )
    if not isinstance(channels, (int, np.integer)) or isinstance(channels, bool) or channels < 1:
        raise InvalidInputError(
            f"`{where}`: `channels` must be a positive int, e.g. 3 for RGB. "
            f"Received: channels={channels!r}"
        )
    return float(num_filters) / (math.pi**2 * int(channels))


def signal_to_noise(num_filters: float, channels: int = 3) -> float:
    """The theory's signal-to-noise ratio S = N/(π²·C) of a random layer.

    `N` filters (or hidden units) each see a `C`-dimensional input: the
    channels of a patch for a CNN (C = 3 for RGB, whatever the kernel size),
    the whole flattened input for a fully connected layer (C = d).

    Args:
        num_filters: N, the first layer's filter (or unit) count, >= 0.
        channels: C, the input dimension a filter sees per patch, >= 1.
            Defaults to `3`.

    Returns:
        S, a float >= 0.

    Raises:
        InvalidInputError: on a negative or non-finite `num_filters`, or
            `channels < 1`.

    Example:

    ```python
    signal_to_noise(64)  # 2.16
    ```
    """
    return _signal_to_noise(num_filters, channels, "signal_to_noise")


def theoretical_recovery(num_filters: float, channels: int = 3) -> float:
    """The theory's GBP recovery r ≈ √(S/(1+S)), S = N/(π²·C), for a random CNN.

    Claim C4 (docs/analysis.md): a random 3-layer CNN with `N` filters of any kernel size on a
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
    s = _signal_to_noise(num_filters, channels, "theoretical_recovery")
    return math.sqrt(s / (1.0 + s))


def theoretical_recovery_fc(hidden: float, input_dim: int) -> float:
    """The theory's GBP recovery √(S/(1+S)), S = N_h/(π²·d), for a random FC net.

    Claim C5 (docs/analysis.md): a fully connected layer sees the whole input, so `N_h` hidden
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


def theory_curve(values: Iterable[float], channels: int = 3) -> list[float]:
    """√(S/(1+S)), S = N/(π²C), for each N in `values` (`theoretical_recovery`).

    Args:
        values: the filter counts N.
        channels: C. Defaults to `3`.

    Returns:
        One predicted correlation per N.

    Example:

    ```python
    theory_curve([1, 64])  # [0.18, 0.83]
    ```
    """
    return [theoretical_recovery(float(v), channels) for v in values]


def theoretical_input_independence(num_filters: float, channels: int = 3, image_correlation: float = 0.0) -> float:
    """Our prediction of M6(GBP), the correlation between two images' GBP maps: (0.5 + S·r̃)/(1+S).

    This derivation is kerasviz's, not the paper's (docs/theory.md, "Why GBP
    maps of different images correlate"). Writing the forward ReLU mask as
    ½ + (mask − ½), the GBP map splits into half the DeconvNet map, the same
    for every image, and an image-dependent rest. Of the map's variance,
    S/(1+S) is the recovered x̃ and 1/(1+S) is filter noise, half of which
    is that common DeconvNet half. So two images' maps, same net and logit,
    correlate 0.5/(1+S) through the common part, plus S/(1+S) times the
    correlation `r̃ = r(x̃_i, x̃_j)` of the images' own x̃. DeconvNet's M6 is
    1 at every N. The approximation is for large N (a sum over many firing
    filters); at N = 1 it does not apply.

    Args:
        num_filters: N, the first convolution's filter count, >= 0.
        channels: C, the input channels, >= 1. Defaults to `3`.
        image_correlation: r̃ = r(x̃_i, x̃_j) of the two images, in [-1, 1].
            Defaults to `0.0`: the curve 0.5/(1+S) of unrelated images.

    Returns:
        The predicted M6(GBP).

    Raises:
        InvalidInputError: on a negative or non-finite `num_filters`,
            `channels < 1`, or an `image_correlation` outside [-1, 1].

    Example:

    ```python
    theoretical_input_independence(64)   # 0.158: S = 64/(3π²) = 2.16
    theoretical_input_independence(256)  # 0.052
    ```
    """
    s = _signal_to_noise(num_filters, channels, "theoretical_input_independence")
    if not (
        isinstance(image_correlation, (int, float, np.number))
        and not isinstance(image_correlation, bool)
        and -1.0 <= float(image_correlation) <= 1.0
    ):
        raise InvalidInputError(
            "`theoretical_input_independence`: `image_correlation` must be a number in [-1, 1] "
            f"(a Pearson r). Received: image_correlation={image_correlation!r}"
        )
    return (0.5 + s * float(image_correlation)) / (1.0 + s)

"""Normalizations of backprop maps: the paper's min–max display and Adebayo et al.'s abs / signed maps.

A map from `kv.visualize` is a raw gradient; these functions put it on a
fixed scale. They are the one implementation behind both the figures
(`kerasviz.render`) and the metrics that compare maps
(`kerasviz.analysis.metrics.map_similarity`, M4). NumPy only.

| function | result |
|---|---|
| `minmax` | `(m − min) / (max − min)` jointly over pixels and channels, `(H, W, C)` in [0, 1]: the paper's display |
| `abs_normalized` | Σ_c abs(m) over its 99th percentile, clipped: `(H, W)` in [0, 1] |
| `signed_normalized` | Σ_c m over the 99th percentile of its magnitude, clipped: `(H, W)` in [-1, 1] |
| `percentile` | `m` clipped to its joint `lo`–`hi` percentiles, scaled to [0, 1] |

Example:

```python
import numpy as np
from kerasviz import normalize

normalize.minmax(np.array([[[-1.0], [0.0], [3.0]]]))  # [[[0.], [0.25], [1.]]]
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasviz import _validation
from kerasviz.errors import InvalidArgumentError

__all__ = ["abs_normalized", "minmax", "percentile", "signed_normalized"]


def _minmax_one(m: np.ndarray) -> np.ndarray:
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


def _map_or_batch(m: Any, where: str) -> np.ndarray:
    return _validation.map_array(m, "m", ranks=(3, 4), hint=_validation.BATCH_HINT, where=where)


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
    m = _map_or_batch(m, "minmax")
    if m.ndim == 3:
        return _minmax_one(m)
    return np.stack([_minmax_one(mi) for mi in m])


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
    m = _map_or_batch(m, "abs_normalized")
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
    m = _map_or_batch(m, "signed_normalized")
    s = np.sum(m, axis=-1)
    if m.ndim == 3:
        return np.clip(_scale_by_p99(s), -1.0, 1.0)
    return np.stack([np.clip(_scale_by_p99(si), -1.0, 1.0) for si in s])


def percentile(m: Any, lo: float = 1.0, hi: float = 99.0) -> np.ndarray:
    """Clip `m` to its joint `lo`–`hi` percentiles and scale to `[0, 1]`.

    One pair of percentiles is taken over all pixels and channels, so the
    colours keep their balance; a map whose two percentiles coincide becomes
    all zeros.

    Args:
        m: one map `(H, W, C)` (any shape works).
        lo: lower percentile. Defaults to `1.0`.
        hi: upper percentile. Defaults to `99.0`.

    Returns:
        A float64 array shaped like `m`, in `[0, 1]`.

    Raises:
        InvalidArgumentError: unless `0 <= lo < hi <= 100`.
        InvalidInputError: for an empty map, or one with NaN / inf.

    Example:

    ```python
    percentile(np.linspace(0, 1, 100).reshape(10, 10, 1), lo=0, hi=50).max()  # 1.0
    ```
    """
    if not 0 <= lo < hi <= 100:
        raise InvalidArgumentError(f"Percentiles need 0 <= lo < hi <= 100. Received: lo={lo}, hi={hi}")
    m = _validation.map_array(m, "m", where="percentile")  # non-empty, finite
    low, high = np.percentile(m, [lo, hi])
    if high <= low:
        return np.zeros(m.shape, np.float64)
    return np.clip((m - low) / (high - low), 0.0, 1.0)

"""The argument checks that kerasviz's public functions share (private).

One helper per idea: positive counts, seeds, names picked from a fixed set,
image batches, and single maps or pairs of maps. Each returns the cleaned
value, or raises a `kerasviz.errors.KerasvizError` subclass whose message says
what was wrong and ends with "Received: name=value".

This module imports only `kerasviz.errors` and NumPy, so every layer of the
package (core, render, analysis, callbacks, cli) can use it. Checks that need
another kerasviz module stay there (e.g. rule lists in `kerasviz.rules`).

Example:

```python
from kerasviz import _validation

batch_size = _validation.positive_int(batch_size, "batch_size")
images = _validation.image_batch(images, model.inputs[0].shape)
a, b = _validation.map_pair(a, b, ("a", "b"), where="pearson")
```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kerasviz.errors import InvalidArgumentError, InvalidInputError

__all__ = [
    "ANY_RANK",
    "MAP_HINT",
    "BATCH_HINT",
    "is_int",
    "positive_int",
    "seed",
    "one_of",
    "image_batch",
    "shape_text",
    "array_problem",
    "pair_problem",
    "map_array",
    "map_pair",
    "int_pair",
]

# Ranks accepted where any array will do (NumPy's limit is 32 axes).
ANY_RANK = range(0, 33)
MAP_HINT = "pass one map shaped (H, W, C) (add a channel axis with m[..., None])."
BATCH_HINT = (
    "pass one map shaped (H, W, C) or a batch shaped (N, H, W, C) "
    "(add a channel axis with m[..., None])."
)


def is_int(value: Any) -> bool:
    """Whether `value` is a Python or NumPy integer (a bool is not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """`value` as an `int` >= 1.

    Args:
        value: the argument to check.
        name: the argument's name, used in the message.
        allow_none: also accept `None` (returned as is). Defaults to `False`.

    Returns:
        `int(value)`, or `None` when `allow_none` and `value is None`.

    Raises:
        InvalidArgumentError: if `value` is not an integer >= 1 (a bool or a
            float such as `2.0` is not).

    Example:

    ```python
    positive_int(0, "batch_size")
    # InvalidArgumentError: `batch_size` must be a positive integer. Received: batch_size=0
    ```
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        also = " or None" if allow_none else ""
        raise InvalidArgumentError(
            f"`{name}` must be a positive integer{also}. Received: {name}={value!r}"
        )
    return int(value)


def seed(value: Any, name: str = "seed", *, non_negative: bool = False) -> int:
    """`value` as an `int` seed.

    Args:
        value: the seed to check.
        name: the argument's name, used in the message. Defaults to `"seed"`.
        non_negative: also require `value >= 0` (as `np.random.default_rng`
            does). Defaults to `False`.

    Returns:
        `int(value)`.

    Raises:
        InvalidArgumentError: if `value` is not an integer (or is negative
            with `non_negative=True`).

    Example:

    ```python
    seed(-1, non_negative=True)
    # InvalidArgumentError: `seed` must be a non-negative integer. Received: seed=-1
    ```
    """
    if not is_int(value) or (non_negative and value < 0):
        what = "a non-negative integer" if non_negative else "an integer"
        raise InvalidArgumentError(f"`{name}` must be {what}. Received: {name}={value!r}")
    return int(value)


def one_of(value: Any, name: str, known: Iterable[Any], *, what: str | None = None) -> Any:
    """`value` if it is one of `known`.

    Args:
        value: the argument to check.
        name: the argument's name, used in the message.
        known: the accepted values, in the order the message lists them.
        what: what `value` names, e.g. `"normalization"`. Defaults to `name`.

    Returns:
        `value`, unchanged.

    Raises:
        InvalidArgumentError: if `value` is not one of `known`.

    Example:

    ```python
    one_of("hot", "normalize", ("minmax", "abs"), what="normalization")
    # InvalidArgumentError: Unknown normalization. Known: 'minmax', 'abs'. Received: normalize='hot'
    ```
    """
    known = tuple(known)
    try:
        ok = value in known
    except TypeError:  # e.g. an unhashable value against a dict's keys
        ok = False
    if not ok:
        raise InvalidArgumentError(
            f"Unknown {what or name}. Known: {', '.join(repr(k) for k in known)}. "
            f"Received: {name}={value!r}"
        )
    return value


def shape_text(shape: Sequence[int | None]) -> str:
    """`(N, 8, 8, 3)` for a batch shape: `N` first; unknown sizes of an image
    batch as `H`, `W`, `C` (`(N, H, W, 3)`), of other ranks as `?`."""
    letters = "NHWC" if len(shape) == 4 else "N" + "?" * (len(shape) - 1)
    return "(" + ", ".join(
        letters[i] if i == 0 or d is None else str(d) for i, d in enumerate(shape)
    ) + ")"


def image_batch(
    images: Any,
    input_shape: Sequence[int | None] = (None, None, None, None),
    *,
    name: str = "images",
) -> np.ndarray:
    """`images` as a finite float32 batch that fits `input_shape`.

    Args:
        images: array-like batch, e.g. `(N, H, W, C)`.
        input_shape: the batch shape the images must have, `None` for any
            size (the batch axis is never checked). Defaults to
            `(None, None, None, None)`: any non-empty rank-4 batch.
        name: the argument's name, used in the messages. Defaults to `"images"`.

    Returns:
        The images as a float32 NumPy array (no copy when they already are).

    Raises:
        InvalidInputError: if the images are not numbers, have the wrong rank,
            size or channel count, are empty, or hold NaN or Inf.

    Example:

    ```python
    image_batch(np.zeros((8, 8, 3)), (None, 8, 8, 3))
    # InvalidInputError: `images` must have rank 4, shaped (N, 8, 8, 3). For one
    # image, pass images[None]. Received: shape=(8, 8, 3)
    ```
    """
    input_shape = tuple(input_shape)
    want = shape_text(input_shape)
    try:
        array = np.asarray(images)
    except Exception as err:  # noqa: BLE001 - anything not array-like
        raise InvalidInputError(
            f"`{name}` must be an array shaped {want}. "
            f"Received: {type(images).__name__} ({err})"
        ) from err
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"`{name}` must be numbers. Received: dtype={array.dtype}")
    if array.ndim != len(input_shape):
        hint = f" For one image, pass {name}[None]." if array.ndim == len(input_shape) - 1 else ""
        raise InvalidInputError(
            f"`{name}` must have rank {len(input_shape)}, shaped {want}.{hint} "
            f"Received: shape={array.shape}"
        )
    if array.shape[0] == 0:
        raise InvalidInputError(
            f"`{name}` is an empty batch: give at least one image. Received: shape={array.shape}"
        )
    for axis, (got, size) in enumerate(zip(array.shape[1:], input_shape[1:]), start=1):
        if size is not None and got != size:
            if axis == len(input_shape) - 1:
                what, fix = "channel count", f"Convert the images to {size} channels."
            else:
                what, fix = "size", "Resize the images (e.g. kv.data.load_image(path, size=...))."
            raise InvalidInputError(
                f"Wrong image {what} in `{name}`: the model takes {want}. "
                f"{fix} Received: shape={array.shape}"
            )
    array = array.astype(np.float32, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidInputError(
            f"`{name}` contain {int(bad.sum())} NaN or Inf values; gradients of them "
            f"are meaningless. Clean the images first. Received: shape={array.shape}"
        )
    return array


def array_problem(x: np.ndarray, name: str, ranks: Iterable[int] = ANY_RANK, hint: str = "") -> str | None:
    """A message if `x` has a rank outside `ranks`, is empty or holds NaN/Inf; else `None`.

    Args:
        x: the array (already converted with `np.asarray`).
        name: its argument name, used in the message.
        ranks: the accepted ranks. Defaults to `ANY_RANK`.
        hint: how to fix a wrong rank, e.g. `MAP_HINT`. Defaults to `""`.

    Returns:
        The message (ending "Received: ..."), or `None` when `x` is fine.
    """
    ranks = tuple(ranks)
    if x.ndim not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        return f"`{name}` must have rank {wanted}; {hint} Received: {name}.shape={x.shape}"
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


def pair_problem(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> str | None:
    """A message if `a` and `b` differ in shape; else `None`."""
    if a.shape != b.shape:
        return (
            f"`{names[0]}` and `{names[1]}` must have the same shape; resize or crop "
            f"one of them first. Received: {names[0]}.shape={a.shape}, "
            f"{names[1]}.shape={b.shape}"
        )
    return None


def _prefixed(where: str | None, problem: str) -> str:
    return f"`{where}`: {problem}" if where else problem


def map_array(
    x: Any,
    name: str,
    *,
    ranks: Iterable[int] = ANY_RANK,
    hint: str = "",
    where: str | None = None,
) -> np.ndarray:
    """`x` as a finite, non-empty float64 array of an accepted rank.

    Args:
        x: array-like map (or batch of maps).
        name: its argument name, used in the message.
        ranks: the accepted ranks. Defaults to `ANY_RANK`.
        hint: how to fix a wrong rank, e.g. `MAP_HINT`. Defaults to `""`.
        where: the public function's name; the message starts "`where`: ".
            Defaults to `None` (no prefix).

    Returns:
        `np.asarray(x, dtype=np.float64)`.

    Raises:
        InvalidInputError: on a wrong rank, an empty array, or NaN/Inf.
    """
    x = _real_array(x, name, where)
    if (problem := array_problem(x, name, ranks, hint)) is not None:
        raise InvalidInputError(_prefixed(where, problem))
    return x


def _real_array(x: Any, name: str, where: str | None) -> np.ndarray:
    """`x` as float64; an error for what is not an array of real numbers (complex, text...)."""
    try:
        array = np.asarray(x)
    except Exception as err:  # noqa: BLE001 - ragged lists and other non-arrays
        raise InvalidInputError(_prefixed(
            where, f"`{name}` must be an array of real numbers ({err}). Received: {type(x).__name__}"
        )) from err
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(_prefixed(
            where, f"`{name}` must hold real numbers. Received: {name}.dtype={array.dtype}"
        ))
    return array.astype(np.float64)


def map_pair(
    a: Any,
    b: Any,
    names: tuple[str, str] = ("a", "b"),
    *,
    ranks: Iterable[int] = ANY_RANK,
    hint: str = "",
    where: str | None = None,
    shape_first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Two maps as finite float64 arrays of the same shape and an accepted rank.

    Args:
        a: array-like map.
        b: array-like map, shaped like `a`.
        names: their argument names, used in the messages. Defaults to `("a", "b")`.
        ranks: the accepted ranks. Defaults to `ANY_RANK`.
        hint: how to fix a wrong rank, e.g. `MAP_HINT`. Defaults to `""`.
        where: the public function's name; messages start "`where`: ".
            Defaults to `None` (no prefix).
        shape_first: compare the shapes before checking each array (so a
            shape mismatch is reported first). Defaults to `False`.

    Returns:
        `(a, b)` as float64 arrays.

    Raises:
        InvalidInputError: on different shapes, a wrong rank, an empty array,
            or NaN/Inf.

    Example:

    ```python
    map_pair(np.zeros((4, 4, 3)), np.zeros((4, 4, 1)), where="pearson")
    # InvalidInputError: `pearson`: `a` and `b` must have the same shape; ...
    ```
    """
    a, b = _real_array(a, names[0], where), _real_array(b, names[1], where)
    ranks = tuple(ranks)
    if shape_first and (problem := pair_problem(a, b, names)) is not None:
        raise InvalidInputError(_prefixed(where, problem))
    for arr, name in ((a, names[0]), (b, names[1])):
        if (problem := array_problem(arr, name, ranks, hint)) is not None:
            raise InvalidInputError(_prefixed(where, problem))
    if (problem := pair_problem(a, b, names)) is not None:
        raise InvalidInputError(_prefixed(where, problem))
    return a, b


def int_pair(value: Any) -> tuple[int, int] | None:
    """`(int, int)` from an int or a pair of ints (a kernel size, a stride); `None` if it is neither.

    It describes rather than raises, like `array_problem`: the caller words
    the error (e.g. "`kernel_size` must be a positive int or a pair of
    positive ints"). Bools are not ints here.

    Example:

    ```python
    int_pair(7), int_pair((3, 5)), int_pair("7")  # (7, 7), (3, 5), None
    ```
    """
    if is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        return int(value[0]), int(value[1])
    return None

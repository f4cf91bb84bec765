"""Tests for kerasviz._validation: each shared check accepts what it should,
returns the cleaned value, and raises a KerasvizError with the whole message.
"""

import re

import numpy as np
import pytest

from kerasviz import _validation as v
from kerasviz.errors import InvalidArgumentError, InvalidInputError, KerasvizError


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def _check_kinds(excinfo, builtin=ValueError):
    assert isinstance(excinfo.value, KerasvizError)
    assert isinstance(excinfo.value, builtin)


def test_validation_imports_only_errors_and_numpy():
    """The module sits below every layer: it imports kerasviz.errors and NumPy only."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(v))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"__future__", "collections.abc", "typing", "numpy", "kerasviz.errors"}


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_integers(value):
    out = v.positive_int(value, "n")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 2.0, True, np.bool_(True), "3", None])
def test_positive_int_rejects(value):
    with _raises(InvalidArgumentError, f"`n` must be a positive integer. Received: n={value!r}") as info:
        v.positive_int(value, "n")
    _check_kinds(info)
    assert isinstance(info.value, InvalidInputError)  # what zoo and callbacks raised before


def test_positive_int_allow_none():
    assert v.positive_int(None, "size", allow_none=True) is None
    with _raises(InvalidArgumentError, "`size` must be a positive integer or None. Received: size=0"):
        v.positive_int(0, "size", allow_none=True)


def test_seed():
    assert v.seed(-5) == -5 and v.seed(np.int32(4)) == 4
    with _raises(InvalidArgumentError, "`seed` must be an integer. Received: seed=1.5") as info:
        v.seed(1.5)
    _check_kinds(info)
    with _raises(InvalidArgumentError, "`seed` must be a non-negative integer. Received: seed=-1"):
        v.seed(-1, non_negative=True)
    with _raises(InvalidArgumentError, "`base` must be an integer. Received: base=False"):
        v.seed(False, "base")


def test_one_of():
    assert v.one_of("abs", "normalize", ("minmax", "abs")) == "abs"
    message = "Unknown normalization. Known: 'minmax', 'abs'. Received: normalize='hot'"
    with _raises(InvalidArgumentError, message) as info:
        v.one_of("hot", "normalize", ("minmax", "abs"), what="normalization")
    _check_kinds(info)
    with _raises(InvalidArgumentError, "Unknown mode. Known: 'a'. Received: mode=['a']"):
        v.one_of(["a"], "mode", {"a": 1})  # unhashable against dict keys


def test_shape_text():
    assert v.shape_text((None, 8, None, 3)) == "(N, 8, W, 3)"
    assert v.shape_text((None, None, 5)) == "(N, ?, 5)"
    assert v.shape_text((None, None, None, None)) == "(N, H, W, C)"


def test_image_batch_returns_float32_without_copy():
    images = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    assert v.image_batch(images, (None, 8, 8, 3)) is images
    ints = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    out = v.image_batch(ints)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ints.astype(np.float32))


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((8, 8, 3)), "`images` must have rank 4, shaped (N, 8, 8, 3). For one image, pass images[None]. Received: shape=(8, 8, 3)"),
        (np.zeros((8, 8)), "`images` must have rank 4, shaped (N, 8, 8, 3). Received: shape=(8, 8)"),
        (np.zeros((0, 8, 8, 3)), "`images` is an empty batch: give at least one image. Received: shape=(0, 8, 8, 3)"),
        (np.array([[["a"]]]), "`images` must be numbers. Received: dtype=<U1"),
        (
            np.zeros((1, 9, 8, 3)),
            "Wrong image size in `images`: the model takes (N, 8, 8, 3). Resize the images "
            "(e.g. kv.data.load_image(path, size=...)). Received: shape=(1, 9, 8, 3)",
        ),
        (
            np.zeros((1, 8, 8, 1)),
            "Wrong image channel count in `images`: the model takes (N, 8, 8, 3). Convert "
            "the images to 3 channels. Received: shape=(1, 8, 8, 1)",
        ),
        (
            np.array([np.nan, 0.0, np.inf] * 64).reshape(1, 8, 8, 3),
            "`images` contain 128 NaN or Inf values; gradients of them are meaningless. "
            "Clean the images first. Received: shape=(1, 8, 8, 3)",
        ),
    ],
)
def test_image_batch_rejects(images, message):
    with _raises(InvalidInputError, message) as info:
        v.image_batch(images, (None, 8, 8, 3))
    _check_kinds(info)


def test_image_batch_not_array_like():
    class Bad:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("no")

    with _raises(InvalidInputError, "`x` must be an array shaped (N, H, W, C). Received: Bad (no)"):
        v.image_batch(Bad(), name="x")


def test_map_array():
    m = np.ones((4, 4, 3), np.float32)
    out = v.map_array(m, "m", ranks=(3,))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, m)
    message = f"`f`: `m` must have rank 3; {v.MAP_HINT} Received: m.shape=(4, 4)"
    with _raises(InvalidInputError, message) as info:
        v.map_array(np.ones((4, 4)), "m", ranks=(3,), hint=v.MAP_HINT, where="f")
    _check_kinds(info)
    with _raises(InvalidInputError, "`m` is empty. Received: m.shape=(0, 3)"):
        v.map_array(np.ones((0, 3)), "m")
    bad = np.ones((2, 2, 1))
    bad[0, 0, 0] = np.nan
    message = (
        "`m` contains 1 NaN or infinite value(s); a map with NaN usually means the model "
        "or the rule overflowed. Received: m with shape (2, 2, 1)"
    )
    with _raises(InvalidInputError, message):
        v.map_array(bad, "m")


def test_map_pair_order_of_checks():
    a, b = np.ones((3, 3, 1)), np.ones((0, 3, 1))
    pair = "`g`: `a` and `b` must have the same shape; resize or crop one of them first. Received: a.shape=(3, 3, 1), b.shape=(0, 3, 1)"
    with _raises(InvalidInputError, "`g`: `b` is empty. Received: b.shape=(0, 3, 1)"):
        v.map_pair(a, b, where="g")
    with _raises(InvalidInputError, pair) as info:
        v.map_pair(a, b, where="g", shape_first=True)
    _check_kinds(info)
    x, y = v.map_pair([1, 2], [3, 4], ("x", "y"))
    assert x.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(y, [3.0, 4.0])

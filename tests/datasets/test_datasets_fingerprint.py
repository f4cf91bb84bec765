"""A resumed job detects any change of its preprocess function, lambdas included.

Reference: the store's settings check, which must refuse the second job with
the message listing `preprocess`; and `fingerprint` itself on pairs of
functions that differ in one constant, default, closure value or global.
"""

import functools
import re

import numpy as np
import pytest

import kerasviz as kv
from kerasviz.datasets.fingerprint import fingerprint

SCALE = 255.0


def _explain(model, images, path, preprocess):
    return kv.explain_dataset(model, images, str(path), rules=("guided",), batch_size=5, progress=False,
                              preprocess=preprocess)


def test_a_lambda_with_another_constant_is_refused_on_resume(model, images, tmp_path):
    path = tmp_path / "maps.zarr"
    _explain(model, images, path, lambda x: x / 255)
    _explain(model, images, path, lambda x: x / 255)  # the same lambda, written again: resumes
    with pytest.raises(kv.errors.StoreSettingsError) as info:
        _explain(model, images, path, lambda x: x / 127)
    message = str(info.value)
    name = f"{__name__}.test_a_lambda_with_another_constant_is_refused_on_resume.<locals>.<lambda>"
    assert re.fullmatch(
        f"The store {re.escape(repr(str(path)))} holds maps made with other settings \\(preprocess was "
        f"'{re.escape(name)} sha256:[0-9a-f]{{16}}', now '{re.escape(name)} sha256:[0-9a-f]{{16}}'\\)\\. .*",
        message)


def _scaled(scale):
    return lambda x: x / scale


def _offset(x, offset=0.0):
    return x - offset


def test_every_part_of_a_function_is_in_its_fingerprint(monkeypatch):
    assert fingerprint(lambda x: x / 255) == fingerprint(lambda x: x / 255)
    assert fingerprint(lambda x: x / 255) != fingerprint(lambda x: x / 127)  # a constant
    assert fingerprint(lambda x: x / 255) != fingerprint(lambda x: x * 255)  # the code
    assert fingerprint(_scaled(2.0)) == fingerprint(_scaled(2.0))
    assert fingerprint(_scaled(2.0)) != fingerprint(_scaled(3.0))  # a closure value
    assert fingerprint(_scaled(np.ones(3))) != fingerprint(_scaled(np.array([1.0, 1.0, 2.0])))
    assert fingerprint(functools.partial(_offset, offset=1.0)) != fingerprint(functools.partial(_offset, offset=2.0))
    before = fingerprint(_offset)
    monkeypatch.setattr(_offset, "__defaults__", (5.0,))  # a default
    assert fingerprint(_offset) != before
    with_global = lambda x: x / SCALE  # noqa: E731
    before = fingerprint(with_global)
    monkeypatch.setitem(globals(), "SCALE", 127.0)  # a global it reads
    assert fingerprint(with_global) != before
    assert fingerprint(None) == "None"


def test_a_function_it_cannot_fingerprint_is_refused_with_the_reason(model, images, tmp_path):
    class Opaque:
        pass

    opaque = Opaque()
    with pytest.raises(kv.errors.InvalidArgumentError) as info:
        _explain(model, images, tmp_path / "x.zarr", lambda x: x if opaque else -x)
    assert str(info.value).startswith(
        "preprocess cannot be fingerprinted: preprocess's closure value 'opaque' is an object of type "
        "test_a_function_it_cannot_fingerprint_is_refused_with_the_reason.<locals>.Opaque with no content to "
        "compare (its repr shows only its address). ")
    assert str(info.value).endswith(f"Received: preprocess={__name__}.test_a_function_it_cannot_fingerprint_is_"
                                    "refused_with_the_reason.<locals>.<lambda>")
    assert not (tmp_path / "x.zarr").exists()  # refused before the store is made

"""A fingerprint of a Python function that changes whenever what it computes may change.

A dataset job stores its `preprocess` function among its settings so that a
resumed job cannot mix maps made with two preprocessings. A name is not
enough: every `lambda` is called `<lambda>`, and a named function may be
edited between runs. `fingerprint(fn)` hashes what the function computes
with:

- its code: the bytecode, its constants (nested code objects too) and the
  names it reads;
- its default arguments and the values of its closure cells;
- the values of the module-level names its code reads (`SCALE` in
  `lambda x: x / SCALE`), modules by name;
- for a Keras layer or model: its config and weights; for another
  callable object: its class's `__call__` and its attributes; for a
  `functools.partial`: the function, its arguments and keywords.

Functions of installed packages and the standard library
(`keras.applications.vgg16.preprocess_input`) count by their name alone.

Values are hashed by content: numbers, strings, containers, NumPy arrays
and tensors (their bytes), functions (recursively), classes and modules by
name, and other objects by a `repr` that holds no memory address. A value
that gives no stable content (an object whose `repr` is its address) makes
the function unfingerprintable: `fingerprint` raises, naming the value, and
the job refuses the function rather than risk a silent mix.

Example:

```python
fingerprint(lambda x: x / 255) != fingerprint(lambda x: x / 127)   # True
```
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import sysconfig
import types

import numpy as np

from kerasviz.errors import InvalidArgumentError

#: How deep functions called by functions are followed; beyond, a function counts by its name.
_MAX_DEPTH = 4
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class Unfingerprintable(Exception):
    """A value with no stable content; its message names it."""


def fingerprint(fn) -> str:
    """`"<module>.<name> sha256:<16 hex>"` of `fn` (see the module docstring); `"None"` for `None`.

    Args:
        fn: a function, a callable object, a `functools.partial`, or `None`.

    Returns:
        A string equal for two runs exactly when the function's code,
        constants, defaults, closure values and the globals it reads are.

    Raises:
        InvalidArgumentError: for a function whose content cannot be
            fingerprinted, with the value that prevents it.
    """
    if fn is None:
        return "None"
    digest = hashlib.sha256()
    try:
        _feed(digest, fn, depth=0, seen=set())
    except Unfingerprintable as err:
        raise InvalidArgumentError(
            f"preprocess cannot be fingerprinted: {err}. A resumed job compares the preprocess "
            f"function with the one the store was made with, and could not tell a change. Pass a "
            f"function whose defaults, closure and globals are numbers, strings, arrays or other "
            f"functions (e.g. a module-level function, or a lambda over constants). "
            f"Received: preprocess={_name(fn)}"
        ) from None
    return f"{_name(fn)} sha256:{digest.hexdigest()[:16]}"


def _name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"


def _feed(digest, value, *, depth: int, seen: set, where: str = "preprocess") -> None:
    """Hash `value`'s content into `digest`; `where` names it in an error."""
    update = digest.update
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (tuple, list, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        update(f"{type(value).__name__}[{len(items)}](".encode())
        for i, item in enumerate(items):
            _feed(digest, item, depth=depth, seen=seen, where=f"{where}[{i}]")
        update(b")")
    elif isinstance(value, dict):
        update(f"dict[{len(value)}](".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key, depth=depth, seen=seen, where=where)
            _feed(digest, value[key], depth=depth, seen=seen, where=f"{where}[{key!r}]")
        update(b")")
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        update(f"ndarray:{array.dtype.str}:{array.shape}:".encode())
        update(np.ascontiguousarray(array).tobytes() if array.dtype != object else repr(array.tolist()).encode())
    elif isinstance(value, types.ModuleType):
        update(f"module:{value.__name__};".encode())
    elif isinstance(value, type):
        update(f"type:{value.__module__}.{value.__qualname__};".encode())
    elif isinstance(value, types.CodeType):
        _feed_code(digest, value, depth=depth, seen=seen, where=where)
    elif isinstance(value, functools.partial):
        update(b"partial(")
        for part, name in ((value.func, "func"), (value.args, "args"), (value.keywords, "keywords")):
            _feed(digest, part, depth=depth, seen=seen, where=f"{where}.{name}")
        update(b")")
    elif isinstance(value, (types.FunctionType, types.MethodType)):
        _feed_function(digest, value, depth=depth, seen=seen, where=where)
    elif isinstance(value, (types.BuiltinFunctionType, np.ufunc)):
        update(f"builtin:{_name(value)};".encode())
    elif hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):  # tensors, variables
        _feed(digest, np.asarray(value.numpy()), depth=depth, seen=seen, where=where)
    elif hasattr(value, "get_config") and hasattr(value, "weights"):  # a Keras layer or model
        update(f"keras:{type(value).__module__}.{type(value).__qualname__}:".encode())
        update(json.dumps(value.get_config(), sort_keys=True, default=str).encode())
        for weight in value.weights:
            _feed(digest, np.asarray(weight.numpy()), depth=depth, seen=seen, where=where)
    elif callable(value) and hasattr(value, "__dict__") and not isinstance(value, type):  # a callable object
        update(f"object:{type(value).__module__}.{type(value).__qualname__}(".encode())
        if id(value) in seen:
            return
        seen.add(id(value))
        _feed(digest, type(value).__call__, depth=depth, seen=seen, where=f"{where}.__call__")
        _feed(digest, vars(value), depth=depth, seen=seen, where=where)
        update(b")")
    else:
        text = repr(value)
        if _ADDRESS.search(text) or text.startswith("<"):
            raise Unfingerprintable(
                f"{where} is an object of type {type(value).__qualname__} with no content to compare "
                f"(its repr shows only its address)"
            )
        update(f"{type(value).__module__}.{type(value).__qualname__}:{text};".encode())


def _feed_function(digest, fn, *, depth: int, seen: set, where: str) -> None:
    if isinstance(fn, types.MethodType):
        _feed(digest, fn.__self__, depth=depth, seen=seen, where=f"{where}.__self__")
        fn = fn.__func__
    digest.update(f"function:{_name(fn)}(".encode())
    if id(fn) in seen or depth > _MAX_DEPTH or _is_installed(fn):  # recursion, too deep, a library's: by name
        digest.update(b")")
        return
    seen.add(id(fn))
    code = fn.__code__
    _feed_code(digest, code, depth=depth, seen=seen, where=where)
    _feed(digest, fn.__defaults__, depth=depth + 1, seen=seen, where=f"{where} default")
    _feed(digest, fn.__kwdefaults__, depth=depth + 1, seen=seen, where=f"{where} default")
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later)
            content = None
        _feed(digest, content, depth=depth + 1, seen=seen, where=f"{where}'s closure value {name!r}")
    module_globals = fn.__globals__
    for name in _global_names(code):
        if name in module_globals:
            _feed(digest, name, depth=depth, seen=seen)
            _feed(digest, module_globals[name], depth=depth + 1, seen=seen,
                  where=f"{where}'s global {name!r}")
    digest.update(b")")


def _is_installed(fn) -> bool:
    """Whether `fn` comes from an installed package or the standard library (not the user's code).

    Such a function counts by its name: its globals hold loggers, caches and
    registries that have no stable content, and it does not change between
    two runs of a job.
    """
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    path = os.path.realpath(getattr(module, "__file__", None) or "")
    if not path:
        return False
    roots = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "purelib", "platlib")}
    return any(path.startswith(root + os.sep) for root in roots) or "site-packages" in path


def _feed_code(digest, code: types.CodeType, *, depth: int, seen: set, where: str) -> None:
    digest.update(b"code:" + code.co_code + repr((code.co_names, code.co_varnames, code.co_argcount)).encode())
    for const in code.co_consts:
        _feed(digest, const, depth=depth, seen=seen, where=f"{where}'s constant")


def _global_names(code: types.CodeType) -> list[str]:
    """The names `code` and the code nested in it read (globals among them), sorted."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return sorted(names)

"""Tests for kerasviz.errors and the error policy: every error kerasviz raises
for bad input is a KerasvizError (and the built-in type Python users expect).
"""

import ast
import builtins
import inspect
import pathlib

import kerasviz
from kerasviz import errors

PACKAGE = pathlib.Path(kerasviz.__file__).parent

# Built-in exceptions kerasviz must not raise directly: bad input gets a
# KerasvizError subclass (which is also one of these where users expect it).
FORBIDDEN = {"Exception", "ValueError", "TypeError", "RuntimeError", "AssertionError"}

# Documented exceptions: (file, exception) -> why it is not a bad-input error.
ALLOWED = {
    ("_compat.py", "RuntimeError"): "a Keras/TensorFlow upgrade changed an internal kerasviz relies on",
    ("analysis/claims.py", "ValueError"): "an unknown comparison in kerasviz's own claim table (a bug)",
}


def _builtin_raises_and_asserts(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            yield node.lineno, "AssertionError"
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and isinstance(getattr(builtins, exc.id, None), type):
                yield node.lineno, exc.id


def test_no_builtin_errors_or_asserts_for_bad_input():
    """`raise ValueError(...)`, `raise TypeError(...)` or `assert` in the package: use kerasviz.errors."""
    found, used = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "errors.py":
            continue
        for line, name in _builtin_raises_and_asserts(path):
            if name not in FORBIDDEN:
                continue  # protocol errors: AttributeError, KeyError, ImportError, NotImplementedError
            if (relative, name) in ALLOWED:
                used.add((relative, name))
                continue
            found.append(f"kerasviz/{relative}:{line}: {name}")
    assert found == [], "raise a kerasviz.errors class instead:\n" + "\n".join(found)
    assert used == set(ALLOWED), f"stale entries in ALLOWED: {set(ALLOWED) - used}"


def test_every_error_is_a_kerasviz_error_and_a_builtin_one():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert errors.KerasvizError in classes and len(classes) > 5
    for cls in classes:
        assert issubclass(cls, errors.KerasvizError), cls
        if cls is not errors.KerasvizError:
            assert issubclass(cls, (ValueError, TypeError, RuntimeError)), cls


def test_invalid_argument_error_is_an_invalid_input_error():
    """Counts, seeds and option names raised InvalidInputError before: catching that still works."""
    err = errors.InvalidArgumentError("`n` must be a positive integer. Received: n=0")
    assert isinstance(err, errors.InvalidInputError)
    assert isinstance(err, errors.KerasvizError)
    assert isinstance(err, ValueError)

"""Exception types raised by kerasviz.

Every error is a `KerasvizError`; most are also a `ValueError` or `TypeError`
so that code catching the built-in types keeps working.

Example:

```python
import kerasviz as kv
try:
    kv.rules.get_rule("gpb")
except kv.errors.UnknownRuleError as err:
    print(err)
```
"""


class KerasvizError(Exception):
    """Base class of every error kerasviz raises."""


class UnknownRuleError(KerasvizError, ValueError):
    """A backward rule name that is not registered."""


class UnknownTargetError(KerasvizError, ValueError):
    """A target specification that kerasviz does not understand."""


class InvalidInputError(KerasvizError, ValueError):
    """Images (or labels) that do not fit the model: rank, size, NaN, empty."""


class InvalidArgumentError(InvalidInputError):
    """An argument with a bad value: a count, a seed, an option name.

    A subclass of `InvalidInputError` (and so of `ValueError`): code that
    caught `InvalidInputError` for such arguments keeps working.
    """


class InvalidTargetError(KerasvizError, ValueError):
    """A target that does not fit the model, e.g. a class index out of range."""


class UnsupportedModelError(KerasvizError, TypeError):
    """A model kerasviz cannot rewrite or explain as it is."""


class UnsupportedActivationError(KerasvizError, ValueError):
    """A non-ReLU activation met with `on_unsupported="error"`."""


class FileReadError(KerasvizError, ValueError):
    """An image or model file that cannot be read."""


class WeightsUnavailableError(KerasvizError, RuntimeError):
    """Pretrained weights that cannot be loaded (e.g. no network)."""


class UnknownLayerError(InvalidTargetError):
    """A layer name or path (`"nested/inner"`) that names no layer of the model."""


class StoreError(KerasvizError, RuntimeError):
    """A map store that cannot be opened or written, or that another job is writing."""


class StoreSettingsError(StoreError, ValueError):
    """A map store written with other settings (model, rules, method, target, size, dtype, ...)."""

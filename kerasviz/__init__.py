"""kerasviz: backpropagation visualizations for Keras, and whether to trust them.

Saliency (plain gradient), DeconvNet and Guided Backpropagation maps of any
ReLU Keras model, plus the metrics of Nie, Zhang & Patel (ICML 2018) that tell
whether a map reflects the decision or just recovers the image.

Example:

```python
import kerasviz as kv

maps = kv.visualize(model, images, rules=kv.RULES, target="max")
kv.render.plot_maps(images, maps, path="maps.png")
```
"""

import importlib
import os
import sys
import types

from kerasviz import _backend_check, errors

_backend_check.check_environment()  # KERAS_BACKEND=jax fails here, before anything imports Keras

# `import kerasviz` loads the core (Keras, TensorFlow, and kerasviz's
# serializable layers, so `keras.saving.load_model` finds them after
# `import kerasviz` alone) -- except while the `kerasviz` command starts: its
# --help must not import TensorFlow, and it silences TensorFlow's C++ start-up
# lines before TensorFlow loads. There the core loads on first use of any of its
# names. Add new public names to _CORE or _LAZY_ATTRIBUTES, never as an import at
# the top of this file (tests/test_cli_console.py fails if the command loads
# TensorFlow for --help).
_CORE = {
    "RULES": "kerasviz.rules",
    "RewriteReport": "kerasviz.rewrite",
    "layer_paths": "kerasviz.rewrite",
    "rewrite": "kerasviz.rewrite",
    "tap": "kerasviz.rewrite",
    "Visualizer": "kerasviz.visualizer",
    "visualize": "kerasviz.visualizer",
}
_CORE_MODULES = ("inputs", "layers", "methods", "override", "rules", "targets")

__version__ = "0.1.0"

# Imported on first use (`kv.zoo`, `kv.analysis`, ...): they pull in
# matplotlib, scikit-image and TensorBoard, which the core does not need.
_LAZY_SUBMODULES = ("analysis", "callbacks", "data", "randomization", "render", "zoo")

__all__ = [
    "RULES",
    "RewriteReport",
    "Visualizer",
    "analysis",
    "callbacks",
    "data",
    "datasets",
    "errors",
    "explain_dataset",
    "inputs",
    "layer_paths",
    "layers",
    "methods",
    "randomization",
    "open_maps",
    "override",
    "render",
    "rewrite",
    "rules",
    "tap",
    "targets",
    "visualize",
    "zoo",
]

# `kv.explain_dataset`, `kv.open_maps` (and `kv.datasets`) pull in Zarr and
# pandas, also on first use.
_LAZY_ATTRIBUTES = {
    "datasets": "kerasviz.datasets",
    "explain_dataset": "kerasviz.datasets",
    "open_maps": "kerasviz.datasets",
}


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        # Importing a submodule binds it on its package: `kv.rewrite` stays the function.
        if name == "rewrite" and isinstance(value, types.ModuleType):
            value = value.rewrite
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
_core_state = "not loaded"


def _load_core() -> None:
    """Import the core once (Keras, TensorFlow, kerasviz's layers) and bind its names here."""
    global _core_state
    if _core_state != "not loaded":  # loaded, or loading (a core module importing a sibling)
        return
    _core_state = "loading"
    try:
        _backend_check.check_keras()
        for module in _CORE_MODULES:
            importlib.import_module(f"kerasviz.{module}")
        for name, module in _CORE.items():
            globals()[name] = getattr(importlib.import_module(module), name)
    except BaseException:
        _core_state = "not loaded"
        raise
    _core_state = "loaded"


def _console_command_starting() -> bool:
    """Whether this import is the `kerasviz` command starting up.

    The console script is named `kerasviz`; `python -m kerasviz` imports this
    package while `sys.argv[0]` is still `"-m"`.
    """
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return program in ("kerasviz", "kerasviz.exe", "-m")


if "keras" in sys.modules or not _console_command_starting():
    _load_core()


def __getattr__(name):
    if name in _CORE_MODULES:  # also `from kerasviz import rules` inside the core, while it loads
        _backend_check.check_keras()
        return importlib.import_module(f"kerasviz.{name}")
    if name in _CORE:
        _load_core()
        return globals()[name]
    if name in _LAZY_ATTRIBUTES:
        _load_core()
        module = importlib.import_module(_LAZY_ATTRIBUTES[name])
        return module if name == "datasets" else getattr(module, name)
    if name in _LAZY_SUBMODULES:
        _load_core()
        return importlib.import_module(f"kerasviz.{name}")
    raise AttributeError(f"module 'kerasviz' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

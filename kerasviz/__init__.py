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

from kerasviz import _backend_check  # noqa: F401  (must come first)
from kerasviz import errors, methods, rules, targets
from kerasviz import layers  # noqa: F401  (registers the serializable layers for load_model)
from kerasviz.rewrite import RewriteReport, layer_paths, rewrite, tap
from kerasviz.rules import RULES
from kerasviz.visualizer import Visualizer, visualize

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
    "layers",
    "layer_paths",
    "methods",
    "randomization",
    "open_maps",
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


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        import importlib

        module = importlib.import_module(_LAZY_ATTRIBUTES[name])
        return module if name == "datasets" else getattr(module, name)
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"kerasviz.{name}")
    raise AttributeError(f"module 'kerasviz' has no attribute {name!r}")

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
from kerasviz import errors, rules, targets
from kerasviz.rewrite import RewriteReport, rewrite
from kerasviz.rules import RULES
from kerasviz.visualizer import Visualizer, visualize

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "RewriteReport",
    "Visualizer",
    "errors",
    "rewrite",
    "rules",
    "targets",
    "visualize",
]

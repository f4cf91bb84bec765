"""Measuring backprop maps: metrics, the paper's experiments and claims, reports, sanity checks.

Example:

```python
import kerasviz as kv

report = kv.analysis.sanity_check(model, images)
r = kv.analysis.metrics.recovery(maps["guided"][0], image)["r_image"]
```
"""

from kerasviz.analysis import adversarial, claims, experiments, metrics, report, reproduce, sanity
from kerasviz.analysis.sanity import sanity_check

__all__ = [
    "adversarial",
    "claims",
    "experiments",
    "metrics",
    "report",
    "reproduce",
    "sanity",
    "sanity_check",
]

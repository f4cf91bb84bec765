"""Measuring backprop maps: metrics, the paper's experiments and claims, reports, sanity checks.

| module | owns |
|---|---|
| `metrics` | the metrics M1–M7 (and Sixt et al.'s, Kindermans et al.'s) |
| `theory` | x̃ and the √(S/(1+S)) curves |
| `sanity` | `sanity_check` of a user's own model |
| `precision_report` | speed and fidelity of reduced-precision maps (`kv.precision_report`) |
| `adversarial` | FGSM and the smallest flipping ε |
| `experiments` | the paper's setups E1–E7, as tidy records |
| `records` | the record format: build, select, mean ± sd |
| `claims` | the verdicts of C1–C11 on records |
| `relevance_claims` | the relevance rules (LRP, DeepLIFT) on C1 and C8–C10, beside GBP: measured rows |
| `figures` | the report's figures |
| `grid` | the paper-style grid: one photo through every network |
| `report` | results.json and REPORT.md |
| `trained_nets` | the trained nets of E4–E7 and where their images come from |
| `reproduce` | `kerasviz reproduce`: all of the above in one run |

Submodules are imported on first use (`kv.analysis.metrics`), so importing
one of them, or `kerasviz.callbacks`, does not load the experiments.

Example:

```python
import kerasviz as kv

report = kv.analysis.sanity_check(model, images)
r = kv.analysis.metrics.recovery(maps["guided"][0], image)["r_image"]
```
"""

import importlib

_SUBMODULES = (
    "adversarial",
    "claims",
    "experiments",
    "figures",
    "grid",
    "metrics",
    "precision_report",
    "records",
    "relevance_claims",
    "report",
    "reproduce",
    "sanity",
    "theory",
    "trained_nets",
)

__all__ = [*_SUBMODULES, "sanity_check"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasviz.analysis.{name}")
    if name == "sanity_check":
        return importlib.import_module("kerasviz.analysis.sanity").sanity_check
    raise AttributeError(f"module 'kerasviz.analysis' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})

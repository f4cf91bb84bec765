"""The paper's vocabulary: ids, titles, labels and colours of experiments, metrics, claims and rules.

Every string that names something of Nie, Zhang & Patel (ICML 2018) in a
table, a figure or a report is defined here once, and so is the one way
kerasviz summarizes repeated measurements (`mean_sd`). This module imports
nothing from kerasviz, so any layer can use it.

| name | what |
|---|---|
| `EXPERIMENTS` | `"E1"` … `"E7"` → the setup's title |
| `METRICS` | `"M1"` … `"M7"` → the metric's label |
| `CLAIM_IDS` | `"C1"` … `"C11"` |
| `RULE_LABELS` | rule name → its label in figures and tables (`"guided"` → `"GBP"`) |
| `RULE_SHORT` | rule name → its short form in formulas (`"saliency"` → `"Sal"`) |
| `RULE_COLORS` | rule name → its colour in figures |
| `METHOD_LABELS` | `kv.methods` method name → its label (`"gradcampp"` → `"Grad-CAM++"`) |
| `CAM_COLORMAP` | the matplotlib colour map of Grad-CAM heat maps |
| `mean_sd` | mean, sample sd and count of the finite values |

Example:

```python
from kerasviz import names

names.RULE_LABELS["guided"]          # "GBP"
names.mean_sd([0.7, 0.9, float("nan")])  # (0.8, 0.1414..., 2)
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = [
    "CAM_COLORMAP",
    "CLAIM_IDS",
    "EXPERIMENTS",
    "METHOD_LABELS",
    "METRICS",
    "RULE_COLORS",
    "RULE_LABELS",
    "RULE_SHORT",
    "mean_sd",
]

#: The setups E1–E7, id → title (the headings of the report's tables).
EXPERIMENTS: dict[str, str] = {
    "E1": "E1 — random fully connected net vs width (and the CNN on the same images)",
    "E2": "E2 — random 3-layer CNN",
    "E3": "E3 — random CNN with and without 9×9 max-pooling",
    "E4": "E4 — random VGG-16 (paper init) and the trained net",
    "E5": "E5 — layer-wise randomization of the trained net (similarity to the trained map)",
    "E6": "E6 — class insensitivity (similarity between maps of two classes)",
    "E7": "E7 — adversarial stability (similarity between maps of x and x_adv)",
}

#: The metrics M1–M7, id → label.
METRICS: dict[str, str] = {
    "M1": "recovery",
    "M2": "high-pass recovery",
    "M3": "SSIM to image",
    "M4": "map similarity (Adebayo et al.)",
    "M5": "class-pair similarity",
    "M6": "input independence",
    "M7": "adversarial stability",
}

#: The claims C1–C11, in order.
CLAIM_IDS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 12))

#: The paper's rules (`kv.RULES`, in that order) → label in figures and tables.
RULE_LABELS: dict[str, str] = {"saliency": "Saliency", "deconvnet": "DeconvNet", "guided": "GBP"}

#: Rule → the short form used in formulas such as "r(GBP, x) − r(Sal, x)".
RULE_SHORT: dict[str, str] = {"saliency": "Sal", "deconvnet": "Deconv", "guided": "GBP"}

#: Rule → its colour in every figure.
RULE_COLORS: dict[str, str] = {"saliency": "#7f7f7f", "deconvnet": "#1f77b4", "guided": "#d62728"}


#: `kv.methods` method name (`Method.name`) → label in figures and tables.
METHOD_LABELS: dict[str, str] = {
    "gradient": "Gradient",
    "gradxinput": "Gradient × Input",
    "smoothgrad": "SmoothGrad",
    "squaregrad": "SquareGrad",
    "vargrad": "VarGrad",
    "ig": "Integrated Gradients",
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "guided-gradcam": "Guided Grad-CAM",
    "layercam": "Layer-CAM",
    "scorecam": "Score-CAM",
    "occlusion": "Occlusion",
    "rise": "RISE",
    "kernelshap": "KernelSHAP",
}

#: The colour map of Grad-CAM heat maps over the image ("jet", as in the Grad-CAM papers).
CAM_COLORMAP = "jet"


def mean_sd(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation and count of the finite values.

    The one NaN policy of kerasviz's summaries: a value that is not finite
    (NaN — a measurement that could not be made, e.g. an image that never
    flipped — or ±inf) is left out, and `n` counts the values kept. With
    nothing left the result is `(nan, nan, 0)`. `sd` uses `ddof=1`, and is
    `0.0` for a single value.

    Args:
        values: numbers (Python or NumPy).

    Returns:
        `(mean, sd, n)`.

    Example:

    ```python
    mean_sd([1.0, 3.0, float("nan")])  # (2.0, 1.4142135623730951, 2)
    mean_sd([])                        # (nan, nan, 0)
    ```
    """
    kept = [float(v) for v in values if math.isfinite(float(v))]
    if not kept:
        return math.nan, math.nan, 0
    import numpy as np  # here: the command's --help imports this module for its names, and no NumPy

    arr = np.asarray(kept, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, int(arr.size)


# Names the `kerasviz` command checks before TensorFlow loads (tests/test_cli_fast.py checks that
# they equal the registries: `kv.rules`, `kv.methods.NAMES`, `kv.render.NORMALIZATIONS`).

#: The built-in rules, in `kv.RULES`'s order.
RULE_NAMES: tuple[str, ...] = ("saliency", "deconvnet", "guided")

#: The named relevance rules (LRP composites, DeepLIFT), in `kerasviz.relevance.NAMED`'s order.
RELEVANCE_RULE_NAMES: tuple[str, ...] = (
    "lrp-epsilon", "lrp-zplus", "lrp-alpha2-beta1", "lrp-epsilon-plus", "lrp-epsilon-plus-flat",
    "lrp-epsilon-gamma-box", "deeplift",
)

#: Rule aliases → the rule they name (`kv.rules.canonical_name`).
RULE_ALIASES: dict[str, str] = {
    "gradient": "saliency",
    "vanilla": "saliency",
    "deconv": "deconvnet",
    "gbp": "guided",
    "guided_backprop": "guided",
}

#: The method names `kv.methods.resolve` and `kerasviz explain --method` take.
METHOD_NAMES: tuple[str, ...] = tuple(METHOD_LABELS)

#: The map normalizations of `kv.render` (`--normalize`).
NORMALIZATION_NAMES: tuple[str, ...] = ("minmax", "abs", "diverging", "percentile")

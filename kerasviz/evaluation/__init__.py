"""Faithfulness and robustness of maps: does a map point at what the model uses?

A layer above the `Visualizer` (it scores perturbed images with the
Visualizer's forward-only function, and makes maps with it) and below
`kerasviz.datasets` (whose `evaluate_dataset` runs these metrics over a
store).

| module | metrics | better |
|---|---|---|
| `curves` | `deletion`, `insertion`: area under the score curve as the top-ranked pixels are removed / added | deletion lower, insertion higher |
| `fidelity` | `mu_fidelity` (Bhatt et al. 2020), `infidelity` (Yeh et al. 2019) | MuFidelity higher, infidelity lower |
| `robustness` | `sensitivity_max` (Yeh et al. 2019), `stability` | lower |

Every metric takes a Keras model (or a `kv.Visualizer`, to reuse its
compiled functions), the images, and either the maps to judge or the
method that makes them, and returns one float per image. Scores are the
target's logits as `kv.targets` defines them.

Example:

```python
import kerasviz as kv

maps = kv.visualize(model, images, rules=("saliency",), target=3)["saliency"]
kv.evaluation.deletion(model, images, maps, target=3, steps=20)    # (N,), lower is better
```
"""

from kerasviz.evaluation.curves import deletion, insertion
from kerasviz.evaluation.fidelity import infidelity, mu_fidelity
from kerasviz.evaluation.robustness import sensitivity_max, stability

#: The metrics `kv.evaluate_dataset` and `kv.analysis.sanity_check` know by name, with whether higher is better.
METRICS: dict[str, bool] = {
    "deletion": False,
    "insertion": True,
    "mu_fidelity": True,
    "infidelity": False,
}

__all__ = ["METRICS", "deletion", "infidelity", "insertion", "mu_fidelity", "sensitivity_max", "stability"]

"""One chunk of a model with several inputs in, its maps per rule and input out.

`SeveralInputsExplainer` is the `ChunkExplainer` of models with several
inputs (an image and metadata): a chunk's `images` is one array per input
(`inputs.SeveralArraySource`), the `Visualizer` is given them as a dict
keyed by input name, and every rule's maps come back per explained input.
They are returned under the store's array names `<rule>/<input>`
(`inputs.array_name`), so the store keeps one array per rule and input. An
input is unreadable (NaN maps, an error row) when any of its parts holds
NaN or Inf.

Example:

```python
explainer = SeveralInputsExplainer(model, ("saliency", "guided"), input_names=["image", "meta"])
maps, rows = explainer.explain(chunk)     # maps["guided/image"], maps["guided/meta"]
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasviz.datasets.explainer import ChunkExplainer
from kerasviz.datasets.inputs import array_name
from kerasviz.datasets.sources import Chunk


class SeveralInputsExplainer(ChunkExplainer):
    """The maps (per rule and input) and table rows of one chunk of a several-input model.

    Args:
        model: the Keras model.
        rules: rule names.
        input_names: the model's inputs, in `model.inputs` order.
        **kwargs: as `ChunkExplainer` takes them.
    """

    def __init__(self, model, rules, *, input_names: Sequence[str], **kwargs):
        super().__init__(model, rules, **kwargs)
        self.input_names = list(input_names)

    def map_shape(self, image_shape) -> dict[str, tuple[int, ...]]:
        """`{input name: the shape of one map}` of every explained input, from one probe.

        Args:
            image_shape: `{input name: the shape of one sample}`.
        """
        probe = Chunk(0, 0, [np.zeros((1, *image_shape[name]), self._dtype_of(name))
                             for name in self.input_names], ["probe"], np.zeros(1, np.int64), [None])
        maps = self._maps(self.chunk_target(probe, np.ones(1, bool)), self._given(probe.images))
        return {name: tuple(m.shape[1:]) for name, m in next(iter(maps.values())).items()}

    def explain(self, chunk: Chunk) -> tuple[dict[str, np.ndarray], dict[str, list]]:
        """Maps under `<rule>/<input>` (NaN for unreadable inputs) and table rows of `chunk`."""
        count = len(chunk.ids)
        finite = np.all([np.isfinite(np.asarray(part, np.float64).reshape(count, -1)).all(axis=1)
                         for part in chunk.images], axis=0)
        errors, ok, (predicted, classes, scores) = self._prelude(chunk, finite, "an input holds NaN or Inf values")
        maps: dict[str, np.ndarray] = {}
        if ok.any():
            given = self._given([part[ok] for part in chunk.images])
            target = self.chunk_target(chunk, ok)
            for rule, per_input in self._maps(target, given).items():
                for name, values in per_input.items():
                    full = np.full((count, *values.shape[1:]), np.nan, np.float32)
                    full[ok] = values
                    maps[array_name(rule, name)] = full
            logits = self.viz.predict(given)
            predicted[ok], classes[ok], scores[ok] = self._table(target, next(iter(given.values())), logits)
        else:  # nothing readable: every map is NaN
            shapes = self.map_shape({n: part.shape[1:] for n, part in zip(self.input_names, chunk.images)})
            maps = {array_name(rule, name): np.full((count, *shape), np.nan, np.float32)
                    for rule in self.rules for name, shape in shapes.items()}
        return maps, self._rows(chunk, errors, predicted, classes, scores)

    def _given(self, parts: list) -> dict[str, np.ndarray]:
        return dict(zip(self.input_names, parts))

    def _dtype_of(self, name: str):
        spec = next(s for s in self.viz.input_spec if s.name == name)
        return np.dtype(spec.dtype)

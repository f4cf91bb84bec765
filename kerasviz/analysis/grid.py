"""The paper-style grid: one photo through every network of the paper's figure.

`example_maps` computes the rows that `kv.analysis.figures.plot_grid` draws
(and `kerasviz reproduce` puts in `REPORT.md`): random FC, random CNN, the CNN
with max-pooling, random VGG-16 and, if given, a trained net.

Example:

```python
rows = kv.analysis.grid.example_maps("coffee", size=32, fc_hidden=100, cnn_filters=4)
```
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from kerasviz import data as data_lib
from kerasviz import zoo
from kerasviz.rules import RULES
from kerasviz.visualizer import Visualizer


def example_maps(
    image_name: str = "chelsea",
    *,
    size: int = 64,
    fc_size: int | None = None,
    fc_hidden: int = 5000,
    cnn_filters: int = 64,
    vgg_size: int | None = None,
    vgg_classes: int = 10,
    trained: tuple[keras.Model, np.ndarray] | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One image through every network of the paper's figure, for the grid.

    Rows: random FC (`fc_hidden` units, at `fc_size`), random CNN
    (`cnn_filters` filters), the CNN with max-pooling, random VGG-16 (paper
    init, at `vgg_size`) and, if given, the trained net on its own image.

    Args:
        image_name: a `kv.data.sample_images` photo. Defaults to `"chelsea"`.
        size: side of the CNN inputs. Defaults to `64`.
        fc_size: side of the FC input. Defaults to `size`.
        fc_hidden: N_h of the FC row. Defaults to `5000`.
        cnn_filters: N of the CNN rows. Defaults to `64`.
        vgg_size: side of the VGG input. Defaults to `size`.
        vgg_classes: VGG logits. Defaults to `10`.
        trained: `(model, image)` with `image` shaped as the model takes one
            sample. Defaults to `None` (no row).
        seed: the random nets' seed. Defaults to `0`.

    Returns:
        A list of `{"label", "image", "maps"}` dicts: `image` the displayed
        input `(H, W, C)`, `maps` `{rule: (H, W, C)}`.
    """
    fc_size = fc_size or size
    vgg_size = vgg_size or size
    rows = []
    specs = [
        (f"random FC\nN_h={fc_hidden}, {fc_size}×{fc_size}", fc_size,
         lambda s: zoo.fc3(hidden=fc_hidden, input_shape=(s, s, 3), num_classes=10, seed=seed)),
        (f"random CNN\nN={cnn_filters}, {size}×{size}", size,
         lambda s: zoo.cnn3(filters=cnn_filters, input_shape=(s, s, 3), num_classes=10, seed=seed)),
        (f"CNN + max-pool\nN={cnn_filters}", size,
         lambda s: zoo.cnn3(filters=cnn_filters, max_pool=True, input_shape=(s, s, 3), num_classes=10, seed=seed)),
        (f"random VGG-16\n(paper init), {vgg_size}×{vgg_size}", vgg_size,
         lambda s: zoo.vgg16(init="paper", input_shape=(s, s, 3), num_classes=vgg_classes, seed=seed)),
    ]
    for label, side, build in specs:
        image = data_lib.sample_images((image_name,), size=side)
        maps = Visualizer(build(side), rules=RULES, batch_size=1)(image, target="max", progress=False)
        rows.append({"label": label, "image": image[0] / 255.0, "maps": {r: m[0] for r, m in maps.items()}})
    if trained is not None:
        model, image = trained
        image = np.asarray(image, np.float32)[None]
        maps = Visualizer(model, rules=RULES, batch_size=1)(image, target="max", progress=False)
        rows.append({"label": "trained net", "image": image[0], "maps": {r: m[0] for r, m in maps.items()}})
    return rows

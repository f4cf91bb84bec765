"""The Keras layers kerasviz puts in models, registered for saving and loading.

This module owns kerasviz's serializable helper layers (`RuleReLU`, the
layer a rewrite puts in place of a ReLU, lives with its rules in
`kerasviz.rules`):

- `SubtractMean`: the first layer of the zoo's RGB networks (raw RGB in,
  mean-subtracted out);
- `SoftmaxRemoved`: stands where `kv.rewrite` removed a final softmax.

`import kerasviz` imports this module, so every layer is registered under
the `"kerasviz"` package and `keras.saving.load_model` reads any saved model
that uses them after `import kerasviz` alone. They stay importable from their
old places (`kv.zoo.SubtractMean`, `kerasviz.rewrite.SoftmaxRemoved`).

Example:

```python
import keras
import kerasviz as kv

model = keras.saving.load_model("rewritten_vgg16.keras")  # RuleReLU, SubtractMean, ...
```
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from kerasviz.data import IMAGENET_MEAN
from kerasviz.errors import InvalidInputError

__all__ = ["SoftmaxRemoved", "SubtractMean"]


@keras.saving.register_keras_serializable(package="kerasviz")
class SubtractMean(keras.layers.Layer):
    """Subtract a per-channel mean, then optionally reverse the channel order.

    `output = x - mean`, and with `reverse_channels=True`
    `output = (x - mean)[..., ::-1]` (RGB → BGR, as Keras's "caffe"
    preprocessing for the ImageNet VGG-16 does). The layer has no weights, its
    gradient is the identity (or the channel flip), and it serializes with
    `get_config`, so models using it save, load and clone.

    Args:
        mean: the per-channel mean, in the channel order of the *input*.
            Defaults to `IMAGENET_MEAN` (`(123.68, 116.779, 103.939)`, RGB).
        reverse_channels: flip the last axis after subtracting. Defaults to
            `False`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
        InvalidInputError: if `mean` is empty, or (when the layer is built) its
            length differs from the input's number of channels.

    Example:

    ```python
    layer = kv.zoo.SubtractMean()
    layer(np.full((1, 2, 2, 3), 128.0, "float32"))[0, 0, 0]
    # [4.32, 11.221, 24.061]
    ```
    """

    def __init__(
        self,
        mean: Sequence[float] = IMAGENET_MEAN,
        reverse_channels: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        mean = tuple(float(m) for m in np.asarray(mean, dtype=np.float64).ravel())
        if not mean:
            raise InvalidInputError(
                f"`mean` must hold one value per channel. Received: mean={mean!r}"
            )
        self.mean = mean
        self.reverse_channels = bool(reverse_channels)

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        if channels is not None and channels != len(self.mean):
            raise InvalidInputError(
                f"SubtractMean has {len(self.mean)} mean values but the input has "
                f"{channels} channels. Received: input_shape={tuple(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        x = x - keras.ops.convert_to_tensor(self.mean, dtype=x.dtype)
        if self.reverse_channels:
            x = keras.ops.flip(x, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"mean": list(self.mean), "reverse_channels": self.reverse_channels})
        return config


@keras.saving.register_keras_serializable(package="kerasviz")
class SoftmaxRemoved(keras.layers.Layer):
    """Stands where a final softmax was: passes the logits through.

    It accepts (and ignores) the `mask=` argument a `Softmax` layer takes, so
    it fits in that layer's place in any functional graph.
    """

    def call(self, inputs, mask=None):
        del mask
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

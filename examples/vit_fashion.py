"""A small Vision Transformer on Fashion-MNIST: GBP, saliency and token Grad-CAM side by side.

What it shows: a ViT (7×7 patches → 16 tokens and a class token, 2
encoder blocks of multi-head attention and a GELU MLP) trained here on
Fashion-MNIST (offline, `kv.data.fashion_mnist`), explained three ways:

- saliency and GBP with `activations="all"`, so the rules act on the GELUs
  of the MLPs too (a transformer has no ReLU);
- Grad-CAM on the tokens entering the last block's attention (its
  LayerNorm's output, `(N, 17, D)`): the 16 patch tokens after the class
  token, laid out as their 4 × 4 grid. (The last block's own output would
  give zeros: only its class token reaches the head.)

Beside the figure it prints r(map, x), the paper's image recovery, per
rule: GBP's map of a transformer still looks like the image.

Run it:

```bash
python examples/vit_fashion.py            # about a minute on two busy CPU cores
python examples/vit_fashion.py --smoke    # tiny settings, seconds
```

It writes `vit_fashion.png` and `results.json` to `--out` (default
`examples-out/vit_fashion`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402

PATCH, DIM, HEADS, BLOCKS = 7, 32, 4, 2
#: Grad-CAM's layer: the tokens entering the last block's attention. The last block's own output
#: is no use: only its class token reaches the head, so the patch tokens' gradients there are 0.
CAM_LAYER = f"encoder_{BLOCKS - 1}_norm1"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=12000, help="training images. Default: 12000")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs. Default: 4")
    parser.add_argument("--images", type=int, default=4, help="test images drawn. Default: 4")
    parser.add_argument("--test-images", type=int, default=2000, help="test images for the accuracy. Default: 2000")
    parser.add_argument("--seed", type=int, default=0, help="seed. Default: 0")
    parser.add_argument("--out", default="examples-out/vit_fashion", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny settings (seconds), for the tests")
    args = parser.parse_args(argv)
    if args.smoke:
        args.train_images, args.epochs, args.images, args.test_images = 256, 1, 2, 256
    return args


class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to the patch tokens."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros", name="token")

    def call(self, tokens):
        batch = keras.ops.shape(tokens)[0]
        return keras.ops.concatenate([keras.ops.tile(self.token, [batch, 1, 1]), tokens], axis=1)


class Positions(keras.layers.Layer):
    """Adds a learned position embedding to every token."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(1, *input_shape[1:]), initializer="random_normal",
                                         name="positions")

    def call(self, tokens):
        return tokens + self.positions


def vit(num_classes: int = 10) -> keras.Model:
    """The ViT: patch embedding (a strided Conv2D), class token, positions, encoder blocks, head."""
    inputs = keras.Input((28, 28, 1), name="image")
    patches = keras.layers.Conv2D(DIM, PATCH, strides=PATCH, name="patch_embedding")(inputs)
    tokens = keras.layers.Reshape(((28 // PATCH) ** 2, DIM), name="patch_tokens")(patches)
    tokens = Positions(name="positions")(ClassToken(name="class_token")(tokens))
    for block in range(BLOCKS):
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"encoder_{block}_norm1")(tokens)
        h = keras.layers.MultiHeadAttention(HEADS, DIM // HEADS, name=f"encoder_{block}_attention")(h, h)
        tokens = keras.layers.Add(name=f"encoder_{block}_add1")([tokens, h])
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"encoder_{block}_norm2")(tokens)
        h = keras.layers.Dense(2 * DIM, activation="gelu", name=f"encoder_{block}_mlp1")(h)
        h = keras.layers.Dense(DIM, name=f"encoder_{block}_mlp2")(h)
        tokens = keras.layers.Add(name=f"encoder_{block}")([tokens, h])
    cls = keras.layers.Lambda(lambda t: t[:, 0], name="class_output")(
        keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(tokens))
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(cls), name="tiny_vit")


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = kv.data.fashion_mnist()
    pick = np.random.default_rng(args.seed).permutation(len(x_train))[:args.train_images]
    model = vit()
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train[pick], y_train[pick], epochs=args.epochs, batch_size=128, verbose=0)
    _, accuracy = model.evaluate(x_test[:args.test_images], y_test[:args.test_images], verbose=0)
    print(f"tiny ViT: test accuracy {accuracy:.3f} on {args.test_images} test images "
          f"({args.train_images} training images, {args.epochs} epochs)")

    images = x_test[:args.images]
    maps = kv.visualize(model, images, rules=("saliency", "guided"), activations="all", progress=False)
    cam = kv.visualize(model, images, rules=("saliency",), progress=False,
                       method=kv.methods.GradCAM(layer=CAM_LAYER))["saliency"]
    recovery = {rule: float(np.mean([np.corrcoef(m.ravel(), x.ravel())[0, 1] for m, x in zip(maps[rule], images)]))
                for rule in maps}
    for rule, r in recovery.items():
        print(f"r(map, x) {rule:<9} {r:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kv.render.plot_maps(images, {"saliency": maps["saliency"], "guided": maps["guided"],
                                 "token Grad-CAM": cam},
                        row_labels=[kv.data.FASHION_CLASSES[y] for y in y_test[:args.images]],
                        path=out / "vit_fashion.png", normalize="abs")
    summary = {"test_accuracy": float(accuracy), "recovery": recovery, "cam_shape": list(cam.shape),
               "cam_max": [float(c.max()) for c in cam],
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {out / 'vit_fashion.png'} and {out / 'results.json'} ({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

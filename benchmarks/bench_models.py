"""Speed of the op path (kerasviz/override.py) on a subclassed VGG-style net, side by side in one run.

The net's ReLUs are `tf.nn.relu` calls in its `call()`, which only the op path
sees. It prints:

1. GBP map time ÷ a plain `tf.GradientTape` gradient of the same model
   (goal ≤ 1.10);
2. all three rules in one call ÷ three single-rule calls (goal ≤ 0.75);
3. for scale: GBP on the subclassed net (op path) ÷ GBP on a Functional twin
   with the same weights (layer rewrite);
4. 10 classes per sample in one call ÷ 10 single-class calls (one vectorized
   backward pass, `tf.vectorized_map` over `tf.gradients`).

Every ratio comes from timings interleaved round by round in this one run
(median of `--repeats` rounds). Not part of the test suite.

    python benchmarks/bench_models.py [--size 64] [--batch 8] [--width 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from bench_core import _plain_gradient, _race  # noqa: E402


def _nets(size: int, width: int):
    """A subclassed VGG-style net (ReLUs in call()) and a Functional twin sharing its layers."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    widths = (width, width, 2 * width, 2 * width, 4 * width, 4 * width)
    convs = [keras.layers.Conv2D(w, 3, padding="same") for w in widths]
    dense = keras.layers.Dense(4 * width)
    head = keras.layers.Dense(10)

    class VGGStyle(keras.Model):
        def call(self, x):
            for i, conv in enumerate(convs):
                x = tf.nn.relu(conv(x))
                if i % 2:
                    x = keras.ops.max_pool(x, 2, 2)
            return head(tf.nn.relu(dense(keras.ops.reshape(x, (-1, x.shape[1] * x.shape[2] * x.shape[3])))))

    subclassed = VGGStyle()
    subclassed(np.zeros((1, size, size, 3), np.float32))
    inputs = keras.Input((size, size, 3))
    x = inputs
    for i, conv in enumerate(convs):
        x = keras.layers.ReLU()(conv(x))
        if i % 2:
            x = keras.layers.MaxPooling2D(2)(x)
    functional = keras.Model(inputs, head(keras.layers.ReLU()(dense(keras.layers.Flatten()(x)))))
    return subclassed, functional


def run(size: int, batch: int, width: int, repeats: int) -> None:
    import tensorflow as tf

    import kerasviz as kv

    subclassed, functional = _nets(size, width)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    x = tf.constant(images)
    plain = _plain_gradient(subclassed)
    all_rules = kv.Visualizer(subclassed, kv.RULES)
    single = {rule: kv.Visualizer(subclassed, (rule,)) for rule in kv.RULES}
    rewritten = kv.Visualizer(functional, ("guided",))
    assert single["guided"].uses_ops and not rewritten.uses_ops
    np.testing.assert_allclose(single["guided"](images, progress=False)["guided"],
                               rewritten(images, progress=False)["guided"], rtol=1e-3, atol=1e-4)

    print(f"subclassed VGG-style net (width {width}), {size}x{size}, batch {batch}, "
          f"median of {repeats} interleaved rounds; load average {os.getloadavg()[0]:.2f}")
    t = _race({
        "plain": lambda: plain(x),
        "guided": lambda: single["guided"](images, progress=False),
        "rewrite": lambda: rewritten(images, progress=False),
    }, repeats)
    print(f"1. GBP / plain gradient           {t['guided'] / t['plain']:.3f}  "
          f"({t['guided']:.3f}s vs {t['plain']:.3f}s; goal <= 1.10)")
    print(f"3. op path / rewrite (GBP)        {t['guided'] / t['rewrite']:.3f}  "
          f"({t['guided']:.3f}s vs {t['rewrite']:.3f}s)")
    t = _race({
        "one call": lambda: all_rules(images, progress=False),
        "three calls": lambda: [single[r](images, progress=False) for r in kv.RULES][-1],
    }, repeats)
    print(f"2. 3 rules, one call / 3 calls    {t['one call'] / t['three calls']:.3f}  "
          f"({t['one call']:.3f}s vs {t['three calls']:.3f}s; goal <= 0.75)")
    guided = single["guided"]
    classes = np.tile(np.arange(10), (batch, 1))
    t = _race({
        "one call": lambda: guided(images, target=classes, progress=False),
        "ten calls": lambda: [guided(images, target=int(k), progress=False) for k in range(10)][-1],
    }, max(1, repeats // 2))
    print(f"4. 10 classes, one call / 10 calls {t['one call'] / t['ten calls']:.3f}  "
          f"({t['one call']:.3f}s vs {t['ten calls']:.3f}s; the rewrite's goal <= 0.60)")
    print(f"   load average after: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    run(args.size, args.batch, args.width, args.repeats)


if __name__ == "__main__":
    main()

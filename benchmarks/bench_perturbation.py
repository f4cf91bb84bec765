"""Perturbation methods and deletion/insertion against the plain forward passes they are made of.

On VGG-16 (random weights, logits) it times, side by side in one run,
each of Occlusion, RISE, Score-CAM and the deletion and insertion curves
against plain forward passes over the same number of forward images, at
the same batch size, through the same compiled forward function (the
Visualizer's scores-only `tf.function`, fed with unperturbed images), and
prints each ratio (goal ≤ 1.15: building the perturbed
inputs and combining the scores cost at most 15 % on top of the forward
passes themselves).

Timings are interleaved round by round (median of `--repeats` rounds after
one warm-up each). Not part of the test suite.

    python benchmarks/bench_perturbation.py [--size 64] [--images 2] [--batch 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import median_times  # noqa: E402 - this folder is on sys.path when run as a script


def _vgg16(size: int):
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(weights=None, input_shape=(size, size, 3), classifier_activation=None)


def _forward(viz, images: np.ndarray, classes: np.ndarray, batch: int):
    """Plain forward passes of `images` through the compiled scores-only function, batch by batch."""
    import tensorflow as tf

    from kerasviz import targets

    target = targets.Classes(np.resize(classes, len(images)))
    scores_of = viz._score_function(target)
    aux = target.aux(len(images), viz.num_classes)

    def forward():
        for start in range(0, len(images), batch):
            scores_of(tf.constant(images[start:start + batch]), tf.constant(aux[start:start + batch])).numpy()

    return forward


def run(size: int, count: int, batch: int, repeats: int, masks: int, steps: int) -> None:
    import kerasviz as kv
    from kerasviz import methods

    model = _vgg16(size)
    viz = kv.Visualizer(model, rules=("saliency", "guided", "deconvnet"), batch_size=batch)
    images = np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype(np.float32)
    classes = viz.predict(images).argmax(axis=-1)
    maps = np.random.default_rng(1).standard_normal((count, size, size))
    occlusion = methods.Occlusion(window=size // 4, stride=size // 8)
    windows = len(occlusion.windows(size, size))
    channels = int(model.get_layer("block5_conv3").output.shape[-1])
    cases = {  # name: (call, forward images per image)
        f"Occlusion {size // 4}/{size // 8}": (
            lambda: viz(images, target=classes, method=occlusion, progress=False), windows + 1),
        f"RISE {masks} masks": (
            lambda: viz(images, target=classes, method=methods.RISE(masks=masks, cell=7), progress=False), masks),
        "Score-CAM block5_conv3": (
            lambda: viz(images, target=classes, method=methods.ScoreCAM(), progress=False), channels),
        f"deletion {steps} steps": (
            lambda: kv.evaluation.deletion(viz, images, maps, target=classes, steps=steps), steps + 1),
        f"insertion {steps} steps": (
            lambda: kv.evaluation.insertion(viz, images, maps, target=classes, steps=steps), steps + 1),
    }
    print(f"VGG-16, {size}x{size}, {count} images, batch {batch}, median of {repeats} interleaved rounds; "
          f"3 rules (the map is computed once for all)")
    for name, (call, per_image) in cases.items():
        forward_images = np.resize(images, (count * per_image, size, size, 3))
        t = median_times({"method": call, "forward": _forward(viz, forward_images, classes, batch)}, repeats)
        print(f"{name:<26} {t['method'] / t['forward']:.3f}  ({t['method']:.2f}s vs {t['forward']:.2f}s for "
              f"{count * per_image} forward images; goal <= 1.15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--masks", type=int, default=500, help="RISE masks")
    parser.add_argument("--steps", type=int, default=50, help="deletion/insertion steps")
    args = parser.parse_args()
    run(args.size, args.images, args.batch, args.repeats, args.masks, args.steps)


if __name__ == "__main__":
    main()

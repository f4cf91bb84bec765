"""What sharing the engine saves for kerasviz's methods, measured side by side in one run.

On VGG-16 (random weights, logits) at 224×224, batch 4, it prints:

1. Guided Grad-CAM (the CAM and the GBP map from one forward pass) ÷ a GBP
   call plus a Grad-CAM call (goal ≤ 0.75);
2. SmoothGrad, 16 noisy copies, three rules in one call ÷ three one-rule
   calls (goal ≤ 0.75);
3. Integrated Gradients, 32 steps, in one call ÷ 32 plain-gradient calls on
   the path points (goal ≤ 1.0).

Every ratio comes from timings interleaved round by round in this one run
(median of `--repeats` rounds); classes are given explicitly so that both
sides do the same work. `--quick` runs a 64×64 input with fewer copies and
steps to check the script. Not part of the test suite.

    python benchmarks/bench_methods.py [--size 224] [--batch 4] [--repeats 3] [--quick] [--only 1 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _vgg16(size: int):
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(weights=None, input_shape=(size, size, 3), classifier_activation=None)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _race(candidates: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each candidate, run in interleaved rounds (after one warm-up each)."""
    for fn in candidates.values():  # warm-up: tracing and first allocations
        fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            times[name].append(_timed(fn))
    return {name: statistics.median(values) for name, values in times.items()}


def run(size: int, batch: int, repeats: int, samples: int, steps: int, only=(1, 2, 3)) -> None:
    import kerasviz as kv

    model = _vgg16(size)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    single = {rule: kv.Visualizer(model, (rule,)) for rule in kv.RULES}
    all_rules = kv.Visualizer(model, kv.RULES)
    classes = single["saliency"].predict(images).argmax(axis=-1)
    quiet = {"progress": False}

    print(f"VGG-16, {size}x{size}, batch {batch}, median of {repeats} interleaved rounds")
    guided, saliency = single["guided"], single["saliency"]
    if 1 in only:
        _guided_gradcam(guided, saliency, images, classes, quiet, repeats)
    if 2 in only:
        _smoothgrad(all_rules, single, images, classes, quiet, repeats, samples)
    if 3 in only:
        _integrated(saliency, images, classes, quiet, repeats, steps)


def _guided_gradcam(guided, saliency, images, classes, quiet, repeats) -> None:
    from kerasviz import methods

    t = _race({
        "one call": lambda: guided(images, target=classes, method=methods.GuidedGradCAM(), **quiet),
        "two calls": lambda: (guided(images, target=classes, **quiet),
                              saliency(images, target=classes, method=methods.GradCAM(), **quiet)),
    }, repeats)
    print(f"1. Guided Grad-CAM / (GBP + Grad-CAM)       {t['one call'] / t['two calls']:.3f}  "
          f"({t['one call']:.2f}s vs {t['two calls']:.2f}s; goal <= 0.75)")


def _smoothgrad(all_rules, single, images, classes, quiet, repeats, samples) -> None:
    import kerasviz as kv
    from kerasviz import methods

    smooth = methods.SmoothGrad(samples=samples, noise=0.15, seed=0)
    t = _race({
        "one call": lambda: all_rules(images, target=classes, method=smooth, **quiet),
        "three calls": lambda: [single[r](images, target=classes, method=smooth, **quiet) for r in kv.RULES],
    }, repeats)
    print(f"2. SmoothGrad x{samples}, 3 rules: 1 call / 3 calls  {t['one call'] / t['three calls']:.3f}  "
          f"({t['one call']:.2f}s vs {t['three calls']:.2f}s; goal <= 0.75)")


def _integrated(saliency, images, classes, quiet, repeats, steps) -> None:
    from kerasviz import methods

    ig = methods.IntegratedGradients(steps=steps, baseline=0.0)
    points = [np.float32((k + 0.5) / steps) * images for k in range(steps)]  # the midpoint path from 0
    t = _race({
        "one call": lambda: saliency(images, target=classes, method=ig, **quiet),
        "plain calls": lambda: [saliency(p, target=classes, **quiet) for p in points],
    }, repeats)
    print(f"3. IG {steps} steps / {steps} gradient calls       {t['one call'] / t['plain calls']:.3f}  "
          f"({t['one call']:.2f}s vs {t['plain calls']:.2f}s; goal <= 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=16, help="SmoothGrad copies")
    parser.add_argument("--steps", type=int, default=32, help="IG steps")
    parser.add_argument("--quick", action="store_true", help="64x64 input, 4 copies, 8 steps, 2 rounds")
    parser.add_argument("--only", type=int, nargs="+", choices=(1, 2, 3), default=(1, 2, 3),
                        help="run only these of the three measurements")
    args = parser.parse_args()
    if args.quick:
        args.size, args.samples, args.steps, args.repeats = 64, 4, 8, 2
    run(args.size, args.batch, args.repeats, args.samples, args.steps, tuple(args.only))


if __name__ == "__main__":
    main()

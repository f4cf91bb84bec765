"""What the relevance rules cost on kerasviz's shared engine, measured side by side in one run.

On `kv.zoo.vgg16()` (random weights, logits), batch 4, it prints:

1. one LRP rule ÷ the plain gradient (the saliency rule), one `Visualizer`
   each (goal ≤ 1.3), for `lrp-epsilon` and `lrp-epsilon-plus-flat`, and
   DeepLIFT (which adds the baseline's forward pass);
2. four rules (saliency, guided, lrp-epsilon-plus-flat, deeplift) in one
   call ÷ four one-rule calls (goal ≤ 0.75).

Every ratio comes from timings interleaved round by round in this one run
(median of `--repeats` rounds), with the classes given explicitly so that
both sides do the same work. Not part of the test suite.

    python benchmarks/bench_relevance.py [--size 224] [--batch 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import median_times  # noqa: E402 - this folder is on sys.path when run as a script

FOUR = ("saliency", "guided", "lrp-epsilon-plus-flat", "deeplift")


def run(size: int, batch: int, repeats: int) -> None:
    import kerasviz as kv

    model = kv.zoo.vgg16(input_shape=(size, size, 3), seed=0)
    images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    single = {rule: kv.Visualizer(model, (rule,)) for rule in FOUR + ("lrp-epsilon",)}
    together = kv.Visualizer(model, FOUR)
    classes = single["saliency"].predict(images).argmax(axis=-1)
    print(f"kv.zoo.vgg16, {size}x{size}, batch {batch}, median of {repeats} interleaved rounds, "
          f"load average {os.getloadavg()[0]:.2f}")

    def call(viz):
        return lambda: viz(images, target=classes, progress=False)

    t = median_times({rule: call(viz) for rule, viz in single.items()}, repeats)
    for rule in ("lrp-epsilon", "lrp-epsilon-plus-flat", "deeplift", "guided"):
        print(f"  {rule:24s} {t[rule]:7.3f} s  ÷ saliency {t['saliency']:.3f} s = {t[rule] / t['saliency']:.2f}"
              + ("  (goal <= 1.3)" if rule.startswith("lrp") else ""))
    four = median_times({"one call": call(together), **{rule: call(single[rule]) for rule in FOUR}}, repeats)
    separate = sum(four[rule] for rule in FOUR)
    print(f"  four rules in one call {four['one call']:.3f} s ÷ four calls {separate:.3f} s = "
          f"{four['one call'] / separate:.2f}  (goal <= 0.75)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run(args.size, args.batch, args.repeats)


if __name__ == "__main__":
    main()

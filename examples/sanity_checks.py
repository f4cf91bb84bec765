"""Sanity checks of saliency, DeconvNet and GBP on a trained network: do the maps reflect its decision?

What it shows: `kv.analysis.sanity_check` on the Fashion-MNIST CNN that
kerasviz ships trained (`kv.zoo.fashion_cnn(weights="trained")`, 92 % test
accuracy). For each rule it measures

- **class sensitivity**: 1 − SSIM between the map of the predicted class and
  maps of random other classes (Sixt et al. 2020);
- **cascading randomization** (Adebayo et al. 2018): the weight layers are
  re-initialized one by one from the top; SSIM of each map to the trained
  net's map. `randomization sensitivity` = 1 − the mean of that curve;
- **image recovery**: Pearson r of the map with the image (Nie et al. 2018);
- **input similarity**: Pearson r between the maps of two different images for
  the same class (1: the map ignores the image);

and sums them up in a verdict. Saliency — the plain gradient, by definition
what the output responds to — is the baseline. Expect saliency to "reflect
the decision" and GBP to be "mostly image recovery": its map barely changes
when the class changes or the learned weights are destroyed.

Run it:

```bash
python examples/sanity_checks.py             # 8 test images, 5 random classes each (under a minute)
python examples/sanity_checks.py --smoke     # 4 images, 2 random classes: seconds
```

It writes `sanity.md` (the report's tables), `sanity.png` (the cascading
curves and the scores) and `sanity.json` to `--out` (default
`examples-out/sanity_checks`). To check your own model, replace the model and
the images: `kv.analysis.sanity_check(model, images)` takes any ReLU Keras
model with one image input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from kerasviz.analysis import sanity_check  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="Fashion-MNIST test images. Default: 8")
    parser.add_argument("--random-classes", type=int, default=5,
                        help="random classes per image for the class sensitivity. Default: 5")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the image choice, the random classes and the random weights. Default: 0")
    parser.add_argument("--out", default="examples-out/sanity_checks", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="4 images, 2 random classes: seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.random_classes = 4, 2
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    model = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, y_test) = kv.data.fashion_mnist()
    index = np.sort(np.random.default_rng(args.seed).choice(len(x_test), args.images, replace=False))
    images = x_test[index]

    report = sanity_check(
        model, images, rules=kv.RULES, num_random_classes=args.random_classes, seed=args.seed, progress=False
    )
    print(f"Fashion-MNIST test images {index.tolist()} "
          f"({', '.join(kv.data.FASHION_CLASSES[y] for y in y_test[index])})\n")
    print(report.to_markdown())
    print()
    print(f"{'rule':<10} {'class sens.':>11} {'random. sens.':>13} {'recovery':>9} {'input sim.':>10}  verdict")
    for rule, result in report.results.items():
        print(f"{rule:<10} {result.class_sensitivity:>11.3f} {result.randomization_sensitivity:>13.3f} "
              f"{result.image_recovery:>9.3f} {result.input_similarity:>10.3f}  {result.verdict}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sanity.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
    fig = report.plot(out / "sanity.png", dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    summary = report.to_dict()
    summary["images"] = index.tolist()
    summary["seconds"] = time.perf_counter() - start
    (out / "sanity.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"\nwrote {out / 'sanity.md'}, {out / 'sanity.png'} and {out / 'sanity.json'} "
          f"({summary['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

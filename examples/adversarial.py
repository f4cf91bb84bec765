"""FGSM flips the class of Fashion-MNIST images; GBP's map changes far less than saliency's.

What it shows (docs/paper.md: setup E7, claim C10): on the trained Fashion-MNIST CNN
(`kv.zoo.fashion_cnn(weights="trained")`), the Fast Gradient Sign Method
(`kerasviz.analysis.adversarial.minimal_fgsm`) finds, per image, the smallest
step ε that changes the top-1 class, re-checked after rounding the image to
uint8. The network now "sees" another class, yet the GBP map of x_adv — for
its own, new top-1 class — still looks like the map of x: it shows the garment
(plus, being image recovery, a trace of the perturbation), not the decision.
Saliency, the plain gradient, changes much more.

It prints, per rule, the mean M4 similarities (`metrics.map_similarity`:
Spearman of abs and signed maps, SSIM, sign-agnostic SSIM, HOG) between the
maps of x and x_adv over the images that flipped, and draws x, x_adv and the
maps of both (`adversarial.png`).

Run it:

```bash
python examples/adversarial.py            # 8 test images, ε grid of 0.2 grey levels (under a minute)
python examples/adversarial.py --smoke    # 3 images, coarser grid: seconds
```

It writes `adversarial.png` and `results.json` to `--out` (default
`examples-out/adversarial`).
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
from kerasviz.analysis import adversarial, metrics  # noqa: E402
from kerasviz.analysis.experiments import SIMILARITY_METRICS as SIMILARITIES  # noqa: E402
from kerasviz.names import RULE_LABELS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="Fashion-MNIST test images. Default: 8")
    parser.add_argument("--step", type=float, default=0.2, help="ε grid step in grey levels. Default: 0.2")
    parser.add_argument("--max-epsilon", type=float, default=64.0,
                        help="the largest ε tried, in grey levels. Default: 64")
    parser.add_argument("--rows", type=int, default=4, help="flipped images drawn in the figure. Default: 4")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice. Default: 0")
    parser.add_argument("--out", default="examples-out/adversarial", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="3 images, a coarser grid: seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.step, args.max_epsilon, args.rows = 3, 0.5, 32.0, 3
    return args


def plot(x, x_adv, maps_x, maps_adv, rows, labels, path: Path) -> None:
    """Per flipped image: x, x_adv, then each rule's map of x and of x_adv (min–max normalized)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    columns = [("x", None), ("x_adv", None)]
    for rule in maps_x:
        columns += [(f"{RULE_LABELS.get(rule, rule)}(x)", (rule, False)), (f"{RULE_LABELS.get(rule, rule)}(x_adv)", (rule, True))]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.45 * len(columns), 1.6 * len(rows) + 0.3),
                             squeeze=False)
    for r, i in enumerate(rows):
        panels = [x[i], x_adv[i]] + [
            kv.render.normalize_minmax((maps_adv if adv else maps_x)[rule][i]) for _, (rule, adv) in columns[2:]
        ]
        for c, panel in enumerate(panels):
            axes[r, c].imshow(panel[..., 0], cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_xlabel(labels[i][0], fontsize=7)
        axes[r, 1].set_xlabel(labels[i][1], fontsize=7)
    for c, (title, _) in enumerate(columns):
        axes[0, c].set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    model = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, y_test) = kv.data.fashion_mnist()
    index = np.sort(np.random.default_rng(args.seed).choice(len(x_test), args.images, replace=False))
    x = adversarial.quantize(x_test[index], (0.0, 1.0))  # images on the uint8 grid, as stored

    attack = adversarial.minimal_fgsm(model, x, value_range=(0.0, 1.0), step=args.step,
                                      max_epsilon=args.max_epsilon)
    flipped = np.flatnonzero(attack.flipped)
    names = kv.data.FASHION_CLASSES
    print(f"FGSM on {len(x)} Fashion-MNIST test images {index.tolist()}: {len(flipped)} flipped "
          f"(smallest ε on a grid of {args.step} grey levels, checked after uint8 rounding)")
    print(f"{'image':>6} {'label':<12} {'class x':<12} {'class x_adv':<12} {'ε (grey levels)':>16} {'‖x_adv − x‖∞':>13}")
    for i in range(len(x)):
        eps = attack.epsilon[i] * 255
        print(f"{index[i]:>6} {names[y_test[index[i]]]:<12} {names[attack.class_x[i]]:<12} "
              f"{names[attack.class_adv[i]] if attack.flipped[i] else '(no flip)':<12} "
              f"{eps:>16.1f} {attack.linf[i] * 255:>13.1f}")
    if not flipped.size:
        print("No image flipped: raise --max-epsilon.", file=sys.stderr)
        return 1

    # Each map explains its own image's top-1 class (docs/paper.md, setup E7).
    viz = kv.Visualizer(model, rules=kv.RULES)
    maps_x = viz(x, target="max", progress=False)
    maps_adv = viz(attack.x_adv, target="max", progress=False)
    similarity = {}
    print(f"\nM4 similarity between the maps of x and x_adv, mean over the {len(flipped)} flipped images "
          "(1 = the same map):")
    print(f"{'rule':<10} " + " ".join(f"{m:>15}" for m in SIMILARITIES))
    for rule in kv.RULES:
        sims = [metrics.map_similarity(maps_x[rule][i], maps_adv[rule][i]) for i in flipped]
        similarity[rule] = {m: float(np.mean([s[m] for s in sims])) for m in SIMILARITIES}
        print(f"{rule:<10} " + " ".join(f"{similarity[rule][m]:>15.3f}" for m in SIMILARITIES))
    print(f"SSIM(GBP) - SSIM(Saliency) = {similarity['guided']['ssim'] - similarity['saliency']['ssim']:.3f} "
          "(claim C10 asks SSIM >= 0.9 for GBP and DeconvNet, and more than saliency's)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = {
        i: (f"{names[attack.class_x[i]]}", f"{names[attack.class_adv[i]]}, ε={attack.epsilon[i] * 255:.1f}/255")
        for i in flipped
    }
    plot(x, attack.x_adv, maps_x, maps_adv, list(flipped[: args.rows]), labels, out / "adversarial.png")
    results = {
        "images": index.tolist(),
        "flipped": attack.flipped.tolist(),
        "epsilon_grey_levels": [None if np.isnan(e) else float(e * 255) for e in attack.epsilon],
        "class_x": attack.class_x.tolist(),
        "class_adv": attack.class_adv.tolist(),
        "similarity": similarity,
        "seconds": time.perf_counter() - start,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'adversarial.png'} and {out / 'results.json'} ({results['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

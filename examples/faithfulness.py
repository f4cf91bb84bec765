"""Faithfulness of every map on the shipped trained nets: deletion, insertion and MuFidelity.

What it shows: `kv.evaluation` on `kv.zoo.fashion_cnn(weights="trained")` and
`kv.zoo.fashion_vgg(weights="trained")`, for the gradient methods under every
rule (saliency, DeconvNet, GBP), the CAMs, and the perturbation methods
(Occlusion, RISE: one map for every rule), beside two references that explain
nothing about the decision: the image itself (`|x|`, pure image recovery) and
a random map. Deletion (lower is better) and insertion (higher is better) are
areas under the target's logit curve over the fraction of pixels changed (a
black baseline); MuFidelity (higher is better) correlates map sums with score
drops over random 7×7-grid subsets.

Run it:

```bash
python examples/faithfulness.py           # 32 test images: tens of minutes on two CPU cores (RISE dominates)
python examples/faithfulness.py --smoke   # 4 images, fewer steps: seconds
```

It writes `faithfulness.md` and `results.json` to `--out` (default
`examples-out/faithfulness`).
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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32, help="Fashion-MNIST test images. Default: 32")
    parser.add_argument("--steps", type=int, default=28, help="deletion/insertion steps. Default: 28")
    parser.add_argument("--samples", type=int, default=128, help="MuFidelity subsets. Default: 128")
    parser.add_argument("--masks", type=int, default=1000, help="RISE masks. Default: 1000")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice and the draws. Default: 0")
    parser.add_argument("--out", default="examples-out/faithfulness", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="4 images, 8 steps, 32 subsets, 100 masks")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.steps, args.samples, args.masks = 4, 8, 32, 100
    return args


def maps_of(viz, images, classes, args) -> dict[str, np.ndarray]:
    """`{label: (N, H, W[, C]) maps}` for every method and rule, and the two references."""
    out = {}
    gradient_methods = {"gradient": None, "gradxinput": kv.methods.GradientXInput(),
                        "gradcam": kv.methods.GradCAM(), "layercam": kv.methods.LayerCAM()}
    for name, method in gradient_methods.items():
        for rule, maps in viz(images, target=classes, method=method, progress=False).items():
            out[f"{name}:{rule}"] = maps
    perturbation = {"occlusion": kv.methods.Occlusion(window=4, stride=2),
                    "rise": kv.methods.RISE(masks=args.masks, cell=7, seed=args.seed)}
    for name, method in perturbation.items():
        out[name] = viz(images, target=classes, method=method, progress=False)["saliency"]  # same for every rule
    out["reference: the image |x|"] = np.abs(images)
    out["reference: random map"] = np.random.default_rng(args.seed).standard_normal(images.shape[:3])
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    index = np.sort(np.random.default_rng(args.seed).choice(len(x_test), args.images, replace=False))
    images = x_test[index].astype(np.float32)
    results, lines = {}, ["| network | map | deletion ↓ | insertion ↑ | MuFidelity ↑ |", "|---|---|---|---|---|"]
    print(f"{'network':<12} {'map':<26} {'deletion':>9} {'insertion':>9} {'MuFid.':>7}")
    for key, model, images in (("fashion_cnn", kv.zoo.fashion_cnn(weights="trained"), images),
                               ("fashion_vgg", kv.zoo.fashion_vgg(weights="trained"), kv.data.to_rgb32(images))):
        viz = kv.Visualizer(model, rules=kv.RULES, batch_size=64)
        classes = viz.predict(images).argmax(-1)
        results[key] = {}
        for label, maps in maps_of(viz, images, classes, args).items():
            deletion = kv.evaluation.deletion(viz, images, maps, target=classes, steps=args.steps)
            insertion = kv.evaluation.insertion(viz, images, maps, target=classes, steps=args.steps)
            mu = kv.evaluation.mu_fidelity(viz, images, maps, target=classes, grid=7, samples=args.samples,
                                           seed=args.seed)
            row = {"deletion": float(deletion.mean()), "insertion": float(insertion.mean()),
                   "mu_fidelity": float(np.nanmean(mu))}
            results[key][label] = row
            print(f"{key:<12} {label:<26} {row['deletion']:>9.3f} {row['insertion']:>9.3f} "
                  f"{row['mu_fidelity']:>7.3f}")
            lines.append(f"| {key} | {label} | {row['deletion']:.2f} | {row['insertion']:.2f} | "
                         f"{row['mu_fidelity']:.2f} |")
    (out / "faithfulness.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = {"settings": vars(args), "results": results, "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"\nwrote {out / 'faithfulness.md'} and {out / 'results.json'} ({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

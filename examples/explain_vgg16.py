"""Saliency, DeconvNet and Guided Backprop maps of VGG-16 on the sample photos.

What it shows: the paper-style grid (one row per photo: the photo, then the
saliency, DeconvNet and GBP maps, each min–max normalized over all pixels and
channels) and, per rule, how much the map *is the image again*: the Pearson r
between the map and the mean-subtracted photo x (docs/paper.md, M1), also after
removing each channel's mean from the map, and the SSIM of map and photo (M3).

With the default random weights (the paper's initialization: every kernel
TruncatedNormal(std 0.1)) the network has learned nothing, yet GBP draws a
crisp picture of each photo while saliency is noise: GBP partly *recovers the
image* (Nie, Zhang & Patel, ICML 2018; claim C7).

Run it:

```bash
python examples/explain_vgg16.py                       # 4 photos, 224x224, random VGG-16 (offline)
python examples/explain_vgg16.py --weights imagenet    # Keras's pretrained VGG-16 (downloads once)
python examples/explain_vgg16.py --smoke               # 2 photos at 64x64: a few seconds
```

It writes `vgg16_maps.png`, `vgg16_maps.npz` (raw maps) and `results.json` to
`--out` (default `examples-out/explain_vgg16`).
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
from kerasviz.analysis import metrics  # noqa: E402
from kerasviz.names import RULE_LABELS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", choices=("random", "imagenet"), default="random",
                        help="random: the paper's initialization, offline (default); imagenet: Keras's "
                             "pretrained weights (needs the network once, or the file in ~/.keras/models)")
    parser.add_argument("--images", nargs="+", default=list(kv.data.SAMPLE_IMAGES),
                        help=f"scikit-image sample photos. Default: {' '.join(kv.data.SAMPLE_IMAGES)}")
    parser.add_argument("--size", type=int, default=224,
                        help="image side in pixels (224 with --weights imagenet). Default: 224")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights. Default: 0")
    parser.add_argument("--dpi", type=int, default=100, help="resolution of the PNG. Default: 100")
    parser.add_argument("--out", default="examples-out/explain_vgg16", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="2 photos at 64x64: a few seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images = ["chelsea", "coffee"]
        args.size = 64
    if args.weights == "imagenet" and args.size != 224:
        parser.error(f"--weights imagenet needs --size 224 (fc1 is tied to 224x224). Received: --size {args.size}")
    return args


def class_names(weights: str, logits: np.ndarray) -> list[str]:
    """ImageNet class names when the weights are ImageNet's and Keras can get the index file."""
    indices = logits.argmax(axis=-1)
    if weights == "imagenet":
        try:
            import keras

            probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
            decoded = keras.applications.vgg16.decode_predictions(probabilities, top=1)
            return [f"{label[0][1]} ({i})" for label, i in zip(decoded, indices)]
        except Exception:  # noqa: BLE001 - the class index file needs the network too
            pass
    return [f"class {i}" for i in indices]


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        model = kv.zoo.vgg16(
            weights=None if args.weights == "random" else "imagenet",
            input_shape=(args.size, args.size, 3),
            seed=args.seed,
        )
    except kv.errors.WeightsUnavailableError as err:
        print(f"explain_vgg16.py: the ImageNet weights are not available offline.\n{err}\n"
              "Run without --weights imagenet to use the paper's random VGG-16, which needs no download.",
              file=sys.stderr)
        return 2
    images = kv.data.sample_images(tuple(args.images), size=args.size)  # raw RGB in [0, 255]

    viz = kv.Visualizer(model, rules=kv.RULES, batch_size=4)
    maps = viz(images, target="max", progress=False)  # raw gradients, shaped like `images`
    logits = viz.predict(images)
    names = class_names(args.weights, logits)

    # The network subtracts the ImageNet mean in its first layer (identity gradient), so the
    # maps are compared with the mean-subtracted photo, as the paper's authors do.
    x = images - kv.data.imagenet_mean()
    results: dict = {"weights": args.weights, "size": args.size, "images": list(args.images),
                     "predicted": [int(i) for i in logits.argmax(axis=-1)], "rules": {}}
    print(f"VGG-16, {args.weights} weights, {len(images)} photos at {args.size}x{args.size}")
    print(viz.report)
    print(f"{'rule':<10} {'r(map, x)':>10} {'r(map - means, x)':>18} {'SSIM(map, x)':>13}")
    for rule, rule_maps in maps.items():
        rec = [metrics.recovery(m, xi) for m, xi in zip(rule_maps, x)]
        values = {
            "r_image": float(np.mean([r["r_image"] for r in rec])),
            "r_image_demeaned": float(np.mean([r["r_image_demeaned"] for r in rec])),
            "ssim_image": float(np.mean([metrics.ssim_to_image(m, xi) for m, xi in zip(rule_maps, x)])),
        }
        results["rules"][rule] = values
        print(f"{rule:<10} {values['r_image']:>10.3f} {values['r_image_demeaned']:>18.3f} "
              f"{values['ssim_image']:>13.3f}")
    gap = results["rules"]["guided"]["r_image"] - results["rules"]["saliency"]["r_image"]
    results["gbp_minus_saliency"] = gap
    print(f"r(GBP, x) - r(Saliency, x) = {gap:.3f}  (claim C7 asks > 0.3 for a random VGG-16)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "vgg16_maps.png"
    kv.render.plot_maps(
        images, maps, path=png, dpi=args.dpi,
        titles=["image", *(RULE_LABELS[r] for r in maps)],
        row_labels=[f"{name}\n{label}" for name, label in zip(args.images, names)],
    )
    np.savez_compressed(out / "vgg16_maps.npz", images=images, predicted=logits.argmax(axis=-1), **maps)
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {png}, {out / 'vgg16_maps.npz'} and {out / 'results.json'} "
          f"({results['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

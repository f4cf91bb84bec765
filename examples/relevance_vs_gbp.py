"""Does LRP-z+ behave like Guided Backpropagation? The theory's prediction, measured.

z+ keeps only positive weights on positive inputs, and GBP keeps only
positive gradients at each ReLU: both filter the backward signal to its
positive part, so the literature (Kindermans et al. 2017, Adebayo et al. 2018)
predicts that z+ maps, like GBP's, recover the image and ignore the class.
This script measures it, per rule, on

- VGG-16 with the paper's random initialization (`kv.zoo.vgg16(init="paper")`)
  on the sample photos at 64×64 (a net that has learned nothing);
- the shipped trained Fashion-MNIST CNN (`kv.zoo.fashion_cnn(weights="trained")`)
  on test images;

and prints, for every rule, the mean over images of: Pearson r of the map
with the GBP map (`r_gbp`), with the image (`r_image`, `kv.analysis.metrics.
recovery`), and the SSIM between the map of the predicted class and of
the runner-up class (`ssim_class`, 1 = class-blind). A relevance map carries
the sign of its score (the random VGG-16's logits are often all negative), so
each map is multiplied by the sign of its class's logit first: the GBP map
and the image have no such sign.

It writes both tables to `relevance_vs_gbp.json` in `--out`.

    python examples/relevance_vs_gbp.py [--images 8] [--size 64] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from kerasviz.analysis import metrics  # noqa: E402

RULES = ("saliency", "guided", "lrp-zplus", "lrp-alpha2-beta1", "lrp-epsilon-plus", "lrp-epsilon-plus-flat",
         "lrp-epsilon-gamma-box", "lrp-epsilon", "deeplift")


def measure(model, images) -> dict[str, dict[str, float]]:
    """Per rule: mean r with GBP, r with the image, and the SSIM of two classes' maps."""
    viz = kv.Visualizer(model, RULES)
    logits = viz.predict(images)
    top = logits.argmax(-1)
    other = np.argsort(logits, axis=-1)[:, -2]  # the runner-up class
    classes = np.stack([top, other], axis=1)
    maps = viz(images, target=classes, progress=False)
    scores = np.take_along_axis(logits, classes, axis=1)
    table = {}
    for rule in RULES:
        signed = metrics.signed_by_score(maps[rule], scores)
        rows = []
        for i, image in enumerate(images):
            own, second = signed[i, 0], signed[i, 1]
            rows.append((
                metrics.pearson(own, maps["guided"][i, 0]),
                metrics.recovery(own, image)["r_image"],
                metrics.class_pair_similarity(own, second)["ssim"],
            ))
        table[rule] = dict(zip(("r_gbp", "r_image", "ssim_class"), np.nanmean(np.array(rows), axis=0)))
    return table


def show(title: str, table: dict) -> None:
    print(f"\n{title}\n| rule | r with GBP | r with image | SSIM(class, runner-up) |\n|---|---|---|---|")
    for rule, row in table.items():
        print(f"| {rule} | {row['r_gbp']:.3f} | {row['r_image']:.3f} | {row['ssim_class']:.3f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="Fashion-MNIST test images. Default: 8")
    parser.add_argument("--size", type=int, default=64, help="VGG-16 input side. Default: 64")
    parser.add_argument("--out", default="examples-out/relevance_vs_gbp", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="2 test images, 2 photos at 32x32: seconds")
    args = parser.parse_args(argv)
    photos = kv.data.sample_images(size=args.size)
    if args.smoke:
        args.images, args.size = 2, 32
        photos = kv.data.sample_images(size=args.size)[:2]
    vgg = kv.zoo.vgg16(init="paper", input_shape=(args.size, args.size, 3), seed=0)
    tables = {"vgg16_random": measure(vgg, photos)}
    show(f"random VGG-16 (paper init), {len(photos)} photos at {args.size}x{args.size}", tables["vgg16_random"])
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    net = kv.zoo.fashion_cnn(weights="trained")
    tables["fashion_cnn"] = measure(net, x_test[:args.images])
    show(f"trained Fashion-MNIST CNN, {args.images} test images", tables["fashion_cnn"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "relevance_vs_gbp.json").write_text(json.dumps(tables, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

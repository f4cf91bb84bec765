"""The trust table: which method's maps reflect the decision, under each backward rule?

What it shows: `kv.analysis.sanity_check(..., methods=[...])` on two networks,
for every method of `kv.methods` (the gradient itself, Gradient × Input,
SmoothGrad, Integrated Gradients, Grad-CAM, Grad-CAM++, Layer-CAM, Guided
Grad-CAM) and every rule (saliency, DeconvNet, GBP):

- the shipped Fashion-MNIST CNN (`kv.zoo.fashion_cnn(weights="trained")`,
  92 % test accuracy) on test images;
- the shipped VGG-style Fashion-MNIST net (`kv.zoo.fashion_vgg(weights="trained")`,
  94 %) on the same images (as 32×32 RGB, `kv.data.to_rgb32`);
- VGG-16 with the paper's random initialization (`kv.zoo.vgg16(init="paper")`)
  on the sample photos at 64×64: a network that has learned nothing, so a
  map that looks like the photo shows the image, not a decision.

Per (method, rule) pair it prints the class sensitivity (1 − SSIM between
the map of the predicted class and maps of random other classes), the
randomization sensitivity (1 − the mean SSIM to the original map while the
weight layers are re-initialized from the top), the image recovery, the
input similarity, the faithfulness of the maps (`kv.evaluation`: deletion
area, lower is better; insertion area, higher is better; MuFidelity, higher
is better) and the verdict (see `kv.analysis.sanity.verdict`; a pair's
baseline is the same method under the saliency rule).

Run it:

```bash
python examples/trust_table.py           # 8 + 4 images; about an hour on two busy CPU cores
python examples/trust_table.py --smoke   # tiny settings, the Fashion-MNIST CNN only
```

The relevance rules (the LRP composites and DeepLIFT, docs/relevance.md) are
scored the same way, with the gradient method and SmoothGrad (the methods
that are defined over a relevance map), saliency as their baseline, into
`trust_table_relevance.md` and `sanity_<net>_relevance.png`.

It writes `trust_table.md`, `trust_table_relevance.md`, `trust_table.json` and
the sanity PNGs of each network to `--out` (default `examples-out/trust_table`).
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
from kerasviz import names  # noqa: E402
from kerasviz.analysis import sanity_check  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="Fashion-MNIST test images. Default: 8")
    parser.add_argument("--vgg-images", type=int, default=4, help="sample photos for VGG-16 (at most 4). Default: 4")
    parser.add_argument("--vgg-size", type=int, default=64, help="VGG-16 input side. Default: 64")
    parser.add_argument("--layers", type=int, default=None,
                        help="randomize only the top N weight layers of each net. Default: all (6 and 16)")
    parser.add_argument("--random-classes", type=int, default=5,
                        help="random classes per image for the class sensitivity. Default: 5")
    parser.add_argument("--samples", type=int, default=16, help="SmoothGrad noisy copies. Default: 16")
    parser.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps. Default: 32")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the image choice, the noise, the random classes and weights. Default: 0")
    parser.add_argument("--out", default="examples-out/trust_table", help="output folder")
    parser.add_argument("--smoke", action="store_true",
                        help="the Fashion-MNIST CNN alone, 3 images, top 2 layers, 2 copies, 4 steps: a minute")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.layers = 3, 2
        args.random_classes, args.samples, args.steps = 2, 2, 4
    return args


def methods(args) -> list:
    return [
        kv.methods.Gradient(),
        kv.methods.GradientXInput(),
        kv.methods.SmoothGrad(samples=args.samples, noise=0.15, seed=args.seed),
        kv.methods.IntegratedGradients(steps=args.steps, baseline=0.0),
        kv.methods.GradCAM(),
        kv.methods.GradCAM(plus_plus=True),
        kv.methods.LayerCAM(),
        kv.methods.GuidedGradCAM(),
    ]


#: The relevance rules of the trust table (all of them but the two variants of epsilon-plus).
RELEVANCE = ("lrp-epsilon", "lrp-zplus", "lrp-alpha2-beta1", "lrp-epsilon-plus-flat", "lrp-epsilon-gamma-box",
             "deeplift")


def relevance_setup(args) -> tuple[tuple, list]:
    """The rules (saliency first, the verdicts' baseline) and methods of the relevance table."""
    if args.smoke:  # the smoke run scores two rules
        return ("saliency", "lrp-zplus", "deeplift"), [kv.methods.Gradient()]
    return ("saliency",) + RELEVANCE, [
        kv.methods.Gradient(), kv.methods.SmoothGrad(samples=args.samples, noise=0.15, seed=args.seed)]


def networks(args):
    """`(key, title, model, images, max_layers)` of the two networks."""
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    index = np.sort(np.random.default_rng(args.seed).choice(len(x_test), args.images, replace=False))
    yield "fashion_cnn", "Fashion-MNIST CNN, trained", kv.zoo.fashion_cnn(weights="trained"), x_test[index], args.layers
    if args.smoke:  # tracing every method on the VGGs takes minutes
        return
    yield ("fashion_vgg", "Fashion-MNIST VGG, trained", kv.zoo.fashion_vgg(weights="trained"),
           kv.data.to_rgb32(x_test[index]), args.layers)
    size = args.vgg_size
    photos = kv.data.sample_images(size=size)[: args.vgg_images]
    vgg = kv.zoo.vgg16(init="paper", input_shape=(size, size, 3), seed=args.seed)
    yield "vgg16_random", f"VGG-16, paper's random init, {size}x{size}", vgg, photos, args.layers


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, relevance_rows, summary = [], [], {"settings": vars(args), "networks": {}}
    header = (f"{'network':<14} {'method':<15} {'rule':<10} {'class sens.':>11} {'random. sens.':>13} "
              f"{'recovery':>9} {'input sim.':>10} {'deletion':>9} {'insertion':>9} {'MuFid.':>7}  verdict")
    print(header)
    for key, title, model, images, max_layers in networks(args):
        began = time.perf_counter()
        report = sanity_check(model, images, rules=kv.RULES, methods=methods(args), max_layers=max_layers,
                              num_random_classes=args.random_classes, seed=args.seed, progress=False)
        summary["networks"][key] = {"title": title, "report": report.to_dict()}
        for result in report.results.values():
            print(f"{key:<14} {result.method:<15} {result.rule:<10} {result.class_sensitivity:>11.3f} "
                  f"{result.randomization_sensitivity:>13.3f} {result.image_recovery:>9.3f} "
                  f"{result.input_similarity:>10.3f} {result.deletion:>9.3f} {result.insertion:>9.3f} "
                  f"{result.mu_fidelity:>7.3f}  {result.verdict}")
            rows.append((title, result))
        report.plot(out / f"sanity_{key}.png", dpi=70)
        relevance_rows += relevance_table(args, key, title, model, images, max_layers, summary, out)
        summary["networks"][key]["seconds"] = time.perf_counter() - began
        print(f"({key}: {summary['networks'][key]['seconds']:.0f} s)")

    (out / "trust_table.md").write_text(table(rows), encoding="utf-8")
    (out / "trust_table_relevance.md").write_text(table(relevance_rows), encoding="utf-8")
    summary["seconds"] = time.perf_counter() - start
    (out / "trust_table.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"\nwrote {out / 'trust_table.md'}, {out / 'trust_table_relevance.md'}, {out / 'trust_table.json'} "
          f"and the sanity PNGs "
          f"({summary['seconds']:.0f} s)")
    return 0


def relevance_table(args, key, title, model, images, max_layers, summary, out) -> list:
    """Score the relevance rules on one network: print them, keep them in `summary`, plot them."""
    rules, relevance_methods = relevance_setup(args)
    relevance = sanity_check(model, images, rules=rules, methods=relevance_methods, max_layers=max_layers,
                             num_random_classes=args.random_classes, seed=args.seed, progress=False)
    summary["networks"][key]["relevance"] = relevance.to_dict()
    rows = []
    for result in relevance.results.values():
        if result.rule == "saliency":  # the baseline, already in the table above
            continue
        print(f"{key:<14} {result.method:<15} {result.rule:<10} {result.class_sensitivity:>11.3f} "
              f"{result.randomization_sensitivity:>13.3f} {result.image_recovery:>9.3f} "
              f"{result.input_similarity:>10.3f}  {result.verdict}")
        rows.append((title, result))
    relevance.plot(out / f"sanity_{key}_relevance.png", dpi=70)
    return rows


def table(rows) -> str:
    """The markdown table of `(network title, RuleSanity)` rows."""
    lines = [
        "| network | method | rule | class sensitivity | randomization sensitivity | image recovery "
        "| input similarity | deletion ↓ | insertion ↑ | MuFidelity ↑ | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for title, r in rows:
        lines.append(
            f"| {title} | {names.METHOD_LABELS.get(r.method, r.method)} | "
            f"{names.RULE_LABELS.get(r.rule, r.rule)} | {r.class_sensitivity:.2f} | "
            f"{r.randomization_sensitivity:.2f} | {r.image_recovery:.2f} | {r.input_similarity:.2f} | "
            f"{r.deletion:.2f} | {r.insertion:.2f} | {r.mu_fidelity:.2f} | {r.verdict} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

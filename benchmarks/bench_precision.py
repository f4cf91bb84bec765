"""Reduced-precision maps: bfloat16 ÷ float32, measured side by side in one run.

1. SmoothGrad-16 with three rules on the shipped `fashion_vgg` (trained),
   `--images` Fashion-MNIST test images: time ratio (goal ≤ 0.55) and the
   Pearson r of every map with its float32 map (goal ≥ 0.99);
2. a dataset job (`kv.explain_dataset`, three rules, the plain gradient) on
   `--job-images` test images: images/s ratio (goal ≥ 1.8). A job traces its
   map function once (about 2.4 s for fashion_vgg on 2 busy cores, the same
   in both precisions), so a short job's ratio is lower than a long one's;
3. with `--table`: `kv.precision_report` per method on `fashion_cnn`,
   `fashion_vgg` and a random VGG-16 at `--vgg-size` (docs/precision.md's
   table).

Timings are interleaved round by round (median of `--repeats` rounds, after
one warm-up call each). The load average is printed beside the figures:
other processes on the machine make both sides slower, not the ratio
exact. Not part of the test suite.

    python benchmarks/bench_precision.py [--images 64] [--job-images 1024] [--repeats 3] [--table]
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _timing import median_times  # noqa: E402 - this folder is on sys.path when run as a script


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def smoothgrad(images: np.ndarray, repeats: int) -> None:
    import kerasviz as kv

    model = kv.zoo.fashion_vgg(weights="trained")
    smooth = kv.methods.SmoothGrad(samples=16, noise=0.15, seed=0)
    vizs = {p: kv.Visualizer(model, kv.RULES, precision=p) for p in ("float32", "bfloat16")}
    maps = {}

    def run(precision):
        def call():
            maps[precision] = vizs[precision](images, method=smooth, progress=False)
        return call

    seconds = median_times({p: run(p) for p in vizs}, repeats)
    r = {rule: [np.corrcoef(a.ravel(), b.ravel())[0, 1]
                for a, b in zip(maps["bfloat16"][rule], maps["float32"][rule])] for rule in kv.RULES}
    ratio = seconds["bfloat16"] / seconds["float32"]
    print(f"1. SmoothGrad-16, 3 rules, fashion_vgg, {len(images)} images: float32 {seconds['float32']:.2f} s, "
          f"bfloat16 {seconds['bfloat16']:.2f} s, ratio {ratio:.2f} (goal <= 0.55) [{_load()}]")
    for rule in kv.RULES:
        print(f"   {rule:<10} r min {min(r[rule]):.4f}, median {np.median(r[rule]):.4f} (goal: every map >= 0.99)")


def dataset_job(images: np.ndarray, repeats: int) -> None:
    import kerasviz as kv

    model = kv.zoo.fashion_vgg(weights="trained")
    folder = tempfile.mkdtemp(prefix="kerasviz-bench-")

    def run(precision):
        def call():
            kv.explain_dataset(model, images, os.path.join(folder, f"{precision}.zarr"), rules=kv.RULES,
                               precision=precision, restart=True, progress=False)
        return call

    seconds = median_times({p: run(p) for p in ("float32", "bfloat16")}, repeats)
    rates = {p: len(images) / s for p, s in seconds.items()}
    print(f"2. dataset job, 3 rules, fashion_vgg, {len(images)} images: float32 {rates['float32']:.0f} images/s, "
          f"bfloat16 {rates['bfloat16']:.0f} images/s, {rates['bfloat16'] / rates['float32']:.2f}x "
          f"(goal >= 1.8) [{_load()}]")


def table(fashion: np.ndarray, fashion_rgb: np.ndarray, vgg_size: int, repeats: int) -> None:
    import keras

    import kerasviz as kv

    keras.utils.set_random_seed(0)
    photos = kv.data.sample_images(size=vgg_size)
    nets = {
        "fashion_cnn (trained)": (kv.zoo.fashion_cnn(weights="trained"), fashion),
        "fashion_vgg (trained)": (kv.zoo.fashion_vgg(weights="trained"), fashion_rgb),
        f"VGG-16 random, {vgg_size}x{vgg_size}": (
            kv.zoo.vgg16(input_shape=(vgg_size, vgg_size, 3), num_classes=10), photos),
    }
    methods = {"gradient": None, "SmoothGrad-16": kv.methods.SmoothGrad(samples=16),
               "IG-32": kv.methods.IntegratedGradients(steps=32), "Grad-CAM": kv.methods.GradCAM()}
    print("| net | method | rule | time ratio | r min | r median | SSIM min | SSIM median |")
    print("|---|---|---|---|---|---|---|---|")
    for net, (model, images) in nets.items():
        for name, method in methods.items():
            report = kv.precision_report(model, images, method=method, repeats=repeats)
            for rule in report.rules:
                r, s = report.pearson[rule], report.ssim[rule]
                print(f"| {net} | {name} | {rule} | {report.speed_ratio:.2f} | {r.min():.3f} | "
                      f"{np.median(r):.3f} | {s.min():.3f} | {np.median(s):.3f} |", flush=True)
    print(f"[{_load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--job-images", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--table-images", type=int, default=16)
    parser.add_argument("--vgg-size", type=int, default=64)
    parser.add_argument("--only", type=int, nargs="+", default=(1, 2))
    args = parser.parse_args()

    import kerasviz as kv

    (_, _), (x_test, _) = kv.data.fashion_mnist()
    rgb = kv.data.to_rgb32(x_test[: max(args.images, args.job_images, args.table_images)])
    print(f"kerasviz precision benchmark, bfloat16 / float32 [{_load()}]")
    if 1 in args.only:
        smoothgrad(rgb[: args.images], args.repeats)
    if 2 in args.only:
        dataset_job(rgb[: args.job_images], args.repeats)
    if args.table:
        table(x_test[: args.table_images], rgb[: args.table_images], args.vgg_size, args.repeats)


if __name__ == "__main__":
    main()

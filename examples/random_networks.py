"""The paper's random-network figures: why GBP recovers the image, and when.

What it shows, on networks that have never been trained (docs/paper.md, setups E1–E3):

1. **Number of filters** (E2, claim C4): a random 3-layer CNN (7×7 conv with N
   filters → ReLU → dense logits). r(GBP, x) grows with N and follows the
   theory √(S/(1+S)), S = N/(π²·3) (`metrics.theoretical_recovery`); saliency
   stays near 0. Figure `recovery_vs_filters.png`.
2. **Fully connected vs CNN** (E1, claim C5): a random FC net needs N_h of the
   order of the whole input dimension d to recover the image
   (S = N_h/(π²·d)); the CNN with 64 filters does better on the same images.
   Figure `fc_vs_cnn.png`.
3. **Max-pooling and DeconvNet** (E3, claims C3 and C6): without max-pooling
   DeconvNet's map ignores the input (two photos give the same map: M6 = 1)
   and holds no edges (M2 ≈ 0); the 9×9 max-pool's switches bring the edges in.
   Figure `max_pool.png`.
4. The paper-style grid: one photo through a random FC net, the CNN, the CNN
   with max-pooling and a random VGG-16 (`maps_grid.png`).

The measurements come from `kerasviz.analysis.experiments` (the functions
`kerasviz reproduce` runs), so the numbers are the report's, on smaller
settings. Maps are correlated with the mean-subtracted image x, and with the
patch-normalized image x̃ (`metrics.patch_normalized`).

Run it:

```bash
python examples/random_networks.py            # 4 photos, CNNs at 64x64, FC at 32x32 (a few minutes)
python examples/random_networks.py --smoke    # 2 photos at 32x32, 3 filter counts (about 30 s)
```

It writes the four figures and `results.json` (the summaries and every
record) to `--out` (default `examples-out/random_networks`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import kerasviz as kv  # noqa: E402
from kerasviz.analysis import experiments, metrics, report  # noqa: E402
from kerasviz.analysis.records import stats  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", nargs="+", default=list(kv.data.SAMPLE_IMAGES),
                        help=f"scikit-image sample photos. Default: {' '.join(kv.data.SAMPLE_IMAGES)}")
    parser.add_argument("--size", type=int, default=64, help="image side of the CNNs (E2, E3). Default: 64")
    parser.add_argument("--filters", type=int, nargs="+", default=[1, 4, 16, 64, 256],
                        help="the N sweep of E2. Default: 1 4 16 64 256")
    parser.add_argument("--fc-size", type=int, default=32, help="image side of E1 (FC vs CNN). Default: 32")
    parser.add_argument("--hidden", type=int, nargs="+", default=[250, 1250, 5000, 17500],
                        help="the N_h sweep of E1 (the paper's 1k-70k at 64x64, scaled to 32x32). "
                             "Default: 250 1250 5000 17500")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="network seeds. Default: 0 1")
    parser.add_argument("--classes", type=int, default=10, help="logits of the random nets. Default: 10")
    parser.add_argument("--dpi", type=int, default=80, help="resolution of max_pool.png. Default: 80")
    parser.add_argument("--out", default="examples-out/random_networks", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: about 30 s")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images = ["chelsea", "coffee"]
        args.size, args.fc_size = 32, 32
        args.filters = [4, 16, 64]
        args.hidden = [250, 1250]
        args.seeds = [0]
        args.classes = 4
    return args


def mean(records, **filters) -> float:
    """Mean `value` of the records that match every filter (NaN if none; NaN values left out)."""
    return stats(records, **filters)[0]


def filter_sweep(args, photos) -> tuple[list[dict], list[dict]]:
    """E2: recovery vs the number of filters N, beside the theory."""
    records = experiments.e2_random_cnn(
        photos, filters=args.filters, seeds=args.seeds, num_classes=args.classes, names=args.images
    )
    print(f"\n1. Random 3-layer CNN at {args.size}x{args.size}: recovery vs number of filters N (E2, C4)")
    print(f"{'N':>5} {'r(GBP, x)':>10} {'r(GBP, x~)':>11} {'theory':>7} {'r(Sal, x)':>10} "
          f"{'r(Deconv-means, x)':>19}")
    rows = []
    for n in args.filters:
        row = {
            "filters": n,
            "r_gbp": mean(records, param=n, rule="guided", metric="r_image"),
            "r_gbp_normalized": mean(records, param=n, rule="guided", metric="r_normalized"),
            "theory": metrics.theoretical_recovery(n, 3),
            "r_saliency": mean(records, param=n, rule="saliency", metric="r_image"),
            "r_deconvnet_demeaned": mean(records, param=n, rule="deconvnet", metric="r_image_demeaned"),
        }
        rows.append(row)
        print(f"{n:>5} {row['r_gbp']:>10.3f} {row['r_gbp_normalized']:>11.3f} {row['theory']:>7.3f} "
              f"{row['r_saliency']:>10.3f} {row['r_deconvnet_demeaned']:>19.3f}")
    return records, rows


def fc_vs_cnn(args, photos) -> tuple[list[dict], dict]:
    """E1: a fully connected net vs the CNN with 64 filters, same images."""
    records = experiments.e1_fc_width(
        photos, hidden=args.hidden, seeds=args.seeds, num_classes=args.classes, cnn_filters=64, names=args.images
    )
    d = args.fc_size * args.fc_size * 3
    print(f"\n2. Fully connected vs CNN at {args.fc_size}x{args.fc_size}x3, d = {d} (E1, C5)")
    print(f"{'N_h':>7} {'r(GBP, x)':>10} {'theory':>7} {'r(Sal, x)':>10}")
    rows = []
    for width in args.hidden:
        row = {
            "hidden": width,
            "r_gbp": mean(records, setting="fc", param=width, rule="guided", metric="r_image"),
            "theory": metrics.theoretical_recovery_fc(width, d),
            "r_saliency": mean(records, setting="fc", param=width, rule="saliency", metric="r_image"),
        }
        rows.append(row)
        print(f"{width:>7} {row['r_gbp']:>10.3f} {row['theory']:>7.3f} {row['r_saliency']:>10.3f}")
    cnn = mean(records, setting="cnn", rule="guided", metric="r_image")
    print(f"CNN with N = 64 filters on the same images: r(GBP, x) = {cnn:.3f}")
    return records, {"fc": rows, "cnn_r_gbp": cnn}


def max_pool(args, photos) -> tuple[list[dict], dict]:
    """E3: DeconvNet with and without the 9x9 max-pool."""
    records = experiments.e3_max_pool(
        photos, filters=64, seeds=args.seeds, num_classes=args.classes, names=args.images
    )
    print(f"\n3. Max-pooling and DeconvNet, N = 64 filters at {args.size}x{args.size} (E3, C3, C6)")
    print(f"{'network':<12} {'rule':<10} {'r(map, x)':>10} {'M2 high-pass':>13} {'M6 two photos':>14}")
    summary: dict = {}
    for setting in ("cnn", "cnn_maxpool"):
        for rule in kv.RULES:
            values = {
                "r_image": mean(records, setting=setting, rule=rule, metric="r_image"),
                "highpass": mean(records, setting=setting, rule=rule, metric="highpass"),
                "input_independence": mean(records, setting=setting, rule=rule, metric="input_independence"),
            }
            summary[f"{setting}/{rule}"] = values
            print(f"{setting:<12} {rule:<10} {values['r_image']:>10.3f} {values['highpass']:>13.3f} "
                  f"{values['input_independence']:>14.3f}")
    print("M6 = Pearson r between the maps of two different photos (same net, logit 0): "
          "1 means the map ignores the input.")
    return records, summary


def plot_max_pool(args, photos, path: Path, rows: int = 2, dpi: int = 80) -> None:
    """DeconvNet and GBP maps of the same CNN without and with the max-pool (first `rows` photos)."""
    photos = photos[:rows]
    maps = {}
    for pool in (False, True):
        net = kv.zoo.cnn3(filters=64, max_pool=pool, input_shape=photos.shape[1:],
                          num_classes=args.classes, seed=args.seeds[0])
        pool_maps = kv.visualize(net, photos, rules=("deconvnet", "guided"), target=0, progress=False)
        suffix = " + max-pool" if pool else ""
        maps[f"DeconvNet{suffix}"] = pool_maps["deconvnet"]
        maps[f"GBP{suffix}"] = pool_maps["guided"]
    order = ["DeconvNet", "DeconvNet + max-pool", "GBP", "GBP + max-pool"]
    fig = kv.render.plot_maps(photos, {k: maps[k] for k in order}, path=path, dpi=dpi,
                              row_labels=args.images[:rows])
    import matplotlib.pyplot as plt

    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    tf.get_logger().setLevel("ERROR")  # each net is new, so tf.function retraces on purpose
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photos = kv.data.sample_images(tuple(args.images), size=args.size)
    fc_photos = photos if args.fc_size == args.size else kv.data.sample_images(tuple(args.images), size=args.fc_size)

    e2, filters_rows = filter_sweep(args, photos)
    e1, fc_summary = fc_vs_cnn(args, fc_photos)
    e3, pool_summary = max_pool(args, photos)
    records = e2 + e1 + e3

    figures = {
        "recovery_vs_filters": report.plot_recovery_vs_filters(records, out / "recovery_vs_filters.png"),
        "fc_vs_cnn": report.plot_fc_vs_cnn(records, out / "fc_vs_cnn.png"),
    }
    plot_max_pool(args, photos, out / "max_pool.png", dpi=args.dpi)
    figures["max_pool"] = out / "max_pool.png"
    rows = experiments.example_maps(
        args.images[0], size=args.size, fc_size=args.fc_size, fc_hidden=args.hidden[min(1, len(args.hidden) - 1)],
        cnn_filters=64, vgg_size=max(args.size, 32), vgg_classes=args.classes, seed=args.seeds[0],
    )
    figures["maps_grid"] = report.plot_grid(rows, out / "maps_grid.png")

    results = {
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "filters": filters_rows,
        "fc_vs_cnn": fc_summary,
        "max_pool": pool_summary,
        "seconds": time.perf_counter() - start,
        "records": records,
    }
    (out / "results.json").write_text(json.dumps(report.to_json(results), indent=1))
    print(f"\nwrote {', '.join(str(p) for p in figures.values())} and {out / 'results.json'} "
          f"({results['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

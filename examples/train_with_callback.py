"""Watch saliency, DeconvNet and GBP maps in TensorBoard while a CNN trains on Fashion-MNIST.

What it shows: `kv.callbacks.VisualizationCallback` and
`keras.callbacks.TensorBoard` writing into the same `log_dir`, so TensorBoard
lists three runs side by side — `train` and `validation` (Keras's loss and
accuracy) and `kerasviz` (the maps as images, and two scalars per rule):

- `kerasviz/{rule}/class_sensitivity`: 1 − SSIM between the map of the
  predicted class and maps of random other classes. Near 0: the map does not
  depend on the class it is supposed to explain.
- `kerasviz/{rule}/recovery`: Pearson r between the map and the image. Near 1:
  the map is the image again.

Saliency's class sensitivity stays high while GBP's stays low however long the
net trains: GBP keeps drawing the garment, whatever the class (Nie, Zhang &
Patel, ICML 2018). The script prints both scores per epoch, writes the
callback's PNG grids (`png/epoch_0000.png`, ...), a plot of the scalars
(`scalars.png`) and `results.json`, then the command that opens TensorBoard.

Run it:

```bash
python examples/train_with_callback.py                  # 10,000 images, 3 epochs (about a minute on 2 cores)
python examples/train_with_callback.py --train-images 60000 --epochs 10   # the full data set
python examples/train_with_callback.py --smoke          # 384 images, 2 epochs: seconds
tensorboard --logdir examples-out/train_with_callback/logs
```

Needs Fashion-MNIST offline (`apt-get install dataset-fashion-mnist`) or the
network once (Keras's download); see `kv.data.fashion_mnist`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=10000,
                        help="training images (of 60,000). Default: 10000")
    parser.add_argument("--val-images", type=int, default=2000,
                        help="test images used for validation. Default: 2000")
    parser.add_argument("--epochs", type=int, default=3, help="epochs. Default: 3")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size. Default: 128")
    parser.add_argument("--watch", type=int, default=4, help="test images the callback watches. Default: 4")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data order. Default: 0")
    parser.add_argument("--out", default="examples-out/train_with_callback",
                        help="output folder; TensorBoard logs go to OUT/logs")
    parser.add_argument("--smoke", action="store_true", help="384 images, 2 epochs: seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.train_images, args.val_images, args.epochs, args.batch_size = 384, 128, 2, 64
    return args


def plot_scalars(history: dict, rules, path: Path) -> None:
    """The callback's two scalars per rule against the epoch, as TensorBoard shows them."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, score, title in (
        (axes[0], "class_sensitivity", "class sensitivity (1 − SSIM, max vs random class)"),
        (axes[1], "recovery", "image recovery (Pearson r of map and image)"),
    ):
        for rule in rules:
            steps, values = zip(*history[f"kerasviz/{rule}/{score}"])
            ax.plot(steps, values, marker="o", label=rule)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_xticks(sorted({s for rule in rules for s, _ in history[f"kerasviz/{rule}/{score}"]}))
        ax.axhline(0, color="#cccccc", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = kv.data.fashion_mnist()
    rng = np.random.default_rng(args.seed)
    train = rng.choice(len(x_train), min(args.train_images, len(x_train)), replace=False)
    val = np.arange(args.watch, args.watch + min(args.val_images, len(x_test) - args.watch))
    watched = x_test[: args.watch]  # images the callback draws; not among the validation images

    model = kv.zoo.fashion_cnn(seed=args.seed)  # untrained; kv.zoo.fashion_cnn(weights="trained") is trained
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    out = Path(args.out)
    log_dir = out / "logs"
    png_dir = out / "png"
    visualization = kv.callbacks.VisualizationCallback(
        watched, log_dir=log_dir, rules=kv.RULES, png_dir=png_dir, num_random_classes=3, seed=args.seed
    )
    fit = model.fit(
        x_train[train], y_train[train],
        validation_data=(x_test[val], y_test[val]),
        epochs=args.epochs, batch_size=args.batch_size, verbose=2,
        callbacks=[keras.callbacks.TensorBoard(log_dir), visualization],
    )

    history = visualization.history
    print(f"\nTrained on {len(train)} images for {args.epochs} epochs; the callback watched "
          f"{len(watched)} test images ({', '.join(kv.data.FASHION_CLASSES[y] for y in y_test[: args.watch])}).")
    print(f"{'epoch':>5} {'val acc':>8} " + " ".join(f"{'CS ' + r:>13} {'r ' + r:>12}" for r in kv.RULES))
    epochs = []
    for index, accuracy in enumerate(fit.history["val_accuracy"]):
        row = {"epoch": index, "val_accuracy": float(accuracy)}
        cells = []
        for rule in kv.RULES:
            cs = dict(history[f"kerasviz/{rule}/class_sensitivity"])[index]
            rec = dict(history[f"kerasviz/{rule}/recovery"])[index]
            row[rule] = {"class_sensitivity": cs, "recovery": rec}
            cells.append(f"{cs:>13.3f} {rec:>12.3f}")
        epochs.append(row)
        print(f"{index:>5} {accuracy:>8.3f} " + " ".join(cells))
    print("CS = class sensitivity (1 - SSIM between maps of the predicted and of random classes), "
          "r = Pearson r(map, image).")

    out.mkdir(parents=True, exist_ok=True)
    plot_scalars(history, kv.RULES, out / "scalars.png")
    results = {
        "train_images": int(len(train)), "epochs": args.epochs, "epochs_log": epochs,
        "log_dir": str(log_dir), "pngs": sorted(p.name for p in png_dir.glob("*.png")),
        "seconds": time.perf_counter() - start,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {log_dir}/ (runs train, validation, kerasviz), {png_dir}/, {out / 'scalars.png'} and "
          f"{out / 'results.json'} ({results['seconds']:.1f} s)")
    print(f"\nOpen it with:\n  tensorboard --logdir {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the VGG-style Fashion-MNIST nets that kerasviz ships (`kv.zoo.fashion_vgg(weights="trained")`).

Reproduces `kerasviz/weights/fashion_vgg*.weights.h5` and their `.json`
metadata (see `models/fashion_vgg.md`), one width per run:

```
python models/train_fashion_vgg.py --width 64 --epochs 10 --seed 0
python models/train_fashion_vgg.py --width 8 --epochs 10 --seed 0
python models/train_fashion_vgg.py --width 16 --epochs 10 --seed 0
```

Data: `kerasviz.data.fashion_mnist_rgb32()` (offline: Debian's
`dataset-fashion-mnist`), 28×28 images zero-padded to 32×32, gray replicated to
RGB, in [0, 1]. The last 5,000 training images are held out for validation;
random horizontal flips augment the rest. Optimizer: Adam, cosine-decayed
learning rate from 1e-3, batch 128, sparse categorical cross-entropy on the
logits. Training runs in `mixed_bfloat16` by default (2.3x faster on CPUs with
AVX512-BF16; variables stay float32); the shipped float32 model is evaluated on
the full test set once, at the end, for the reported accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasviz import data, zoo  # noqa: E402

WEIGHTS_DIR = ROOT / "kerasviz" / "weights"
VALIDATION = 5000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="filters of the first block (default 64)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (default 1e-3)")
    parser.add_argument(
        "--precision",
        default="mixed_bfloat16",
        choices=("mixed_bfloat16", "float32"),
        help="Keras dtype policy while training (default mixed_bfloat16)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="weights file to write (default: the shipped file of this width under kerasviz/weights)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first N training images (smoke tests)"
    )
    return parser.parse_args(argv)


def _augment(image, label):
    return tf.image.random_flip_left_right(image), label


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate the float32 model on the test set, write the weights and metadata."""
    args = parse_args(argv)
    out = Path(args.out or WEIGHTS_DIR / zoo._fashion_vgg_weights_name(args.width))
    if not out.name.endswith(".weights.h5"):
        raise SystemExit(f"--out must end in .weights.h5. Received: --out={out}")
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = data.fashion_mnist_rgb32()
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    held_out = min(VALIDATION, len(x_train) // 10)
    x_val, y_val = x_train[-held_out:], y_train[-held_out:]
    x_fit, y_fit = x_train[:-held_out], y_train[:-held_out]
    train = (
        tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
        .shuffle(len(x_fit), seed=args.seed, reshuffle_each_iteration=True)
        .map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )

    keras.mixed_precision.set_global_policy(args.precision)
    model = zoo.fashion_vgg(seed=args.seed, width=args.width)
    steps = args.epochs * int(np.ceil(len(x_fit) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=max(steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.summary()
    start = time.time()
    history = model.fit(train, epochs=args.epochs, validation_data=(x_val, y_val), verbose=2)
    train_seconds = time.time() - start

    # Evaluate what ships: a fresh float32 model holding the trained weights
    # (uncompiled, so the file holds the layer weights only, not Adam's moments).
    keras.mixed_precision.set_global_policy("float32")
    shipped = zoo.fashion_vgg(seed=args.seed, width=args.width)
    shipped.set_weights(model.get_weights())
    logits = shipped.predict(x_test, batch_size=1000, verbose=0)
    test_accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    print(f"test accuracy: {test_accuracy:.4f}  training time: {train_seconds:.0f} s", flush=True)

    out.parent.mkdir(parents=True, exist_ok=True)
    shipped.save_weights(out)
    meta = {
        "width": args.width,
        "test_accuracy": round(test_accuracy, 4),
        "validation_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
        "epochs": args.epochs,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "optimizer": "Adam + CosineDecay",
        "precision": args.precision,
        "augmentation": "random horizontal flip",
        "train_images": int(len(x_fit)),
        "validation_images": int(held_out),
        "parameters": int(shipped.count_params()),
        "training_seconds": round(train_seconds, 1),
        "cpu_count": os.cpu_count(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    }
    meta_path = out.with_name(out.name[: -len(".weights.h5")] + ".json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {meta_path}")
    return meta


if __name__ == "__main__":
    main()

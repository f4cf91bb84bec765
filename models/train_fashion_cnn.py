"""Train the Fashion-MNIST CNN that kerasviz ships (`kv.zoo.fashion_cnn(weights="trained")`).

Reproduces `kerasviz/weights/fashion_cnn.weights.h5` and
`kerasviz/weights/fashion_cnn.json` (see `models/fashion_cnn.md`):

```
python models/train_fashion_cnn.py --epochs 10 --seed 0
```

Data: `kerasviz.data.fashion_mnist()` (offline: Debian's
`dataset-fashion-mnist`), images in [0, 1]. Optimizer: Adam, cosine-decayed
learning rate from 1e-3, batch 128, sparse categorical cross-entropy on the
logits. The test set is used once, at the end, for the reported accuracy.
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

from kerasviz import data, zoo  # noqa: E402

DEFAULT_OUT = ROOT / "kerasviz" / "weights" / "fashion_cnn.weights.h5"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (default 1e-3)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="weights file to write; the metadata json goes beside it with the same "
        f"stem (default {DEFAULT_OUT.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first N training images (smoke tests)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate on the test set, write the weights and the metadata json."""
    args = parse_args(argv)
    out = Path(args.out)
    if not out.name.endswith(".weights.h5"):
        raise SystemExit(f"--out must end in .weights.h5. Received: --out={out}")
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = data.fashion_mnist()
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    model = zoo.fashion_cnn(seed=args.seed)
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=max(steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.summary()
    start = time.time()
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        shuffle=True,
        verbose=2,
    )
    train_seconds = time.time() - start
    _, test_accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    print(f"test accuracy: {test_accuracy:.4f}  training time: {train_seconds:.0f} s")

    out.parent.mkdir(parents=True, exist_ok=True)
    # Save from a fresh, uncompiled copy so that the file holds the layer weights
    # only (a compiled model would also store Adam's moments: 3x the size).
    shipped = zoo.fashion_cnn(seed=args.seed)
    shipped.set_weights(model.get_weights())
    shipped.save_weights(out)
    meta = {
        "test_accuracy": round(float(test_accuracy), 4),
        "epochs": args.epochs,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "optimizer": "Adam + CosineDecay",
        "train_images": int(len(x_train)),
        "training_seconds": round(train_seconds, 1),
        "cpu_count": os.cpu_count(),
        "keras": keras.__version__,
    }
    meta_path = out.with_name(out.name[: -len(".weights.h5")] + ".json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {meta_path}")
    return meta


if __name__ == "__main__":
    main()

"""Planted evidence: does a method × rule find what the model was built to use, outside images?

What it shows: small models trained here, in seconds, on data whose
evidence is known because it was planted, and for every method (the
gradient, Gradient × Input, SmoothGrad, Integrated Gradients) and rule
(saliency, DeconvNet, GBP) the share of the map's mass `Σ|m|` that falls on
that evidence, averaged over the explained inputs (1.0: all of it; the
"chance" column: the evidence's share of the input, what a map spread
evenly would score). Beside it, `r(m, x)`: the mean Pearson correlation
between a map and its input, the paper's image recovery measured outside
images.

| task | data | model | planted evidence |
|---|---|---|---|
| `series` | `(N, 64, 2)` noise; class 1 has a motif in channel 0, class 0 the same motif in channel 1 | Conv1D ×2, global max pool | the motif's 10 steps in channel 0 |
| `breast_cancer` | scikit-learn's bundled breast-cancer table (30 features, standardized) and 60 columns of its values shuffled across rows | MLP | the 30 real features (the 60 shuffled ones carry no label information) |
| `friedman` | `make_friedman1`: 10 uniform features, the target a function of the first 5 | MLP regression (one unit) | the first 5 features |
| `text` | sentences of 16 tokens from 30 neutral words; 2 tokens of 5 positive words planted in positive sentences, of 5 negative ones in negative sentences | Embedding, Conv1D, global max pool | the 2 planted tokens (maps at the embedding's output, mass summed per token) |
| `segmentation` | 24×24 noise with one square (class 1) and one disc (class 2), both +1 | 3 conv layers, per-pixel logits | the square's pixels |
| `image_meta` | a 16×16 image and 6 metadata features; class 1 = a bright 4×4 patch in the image and feature 0 > 0 | conv branch + dense branch | the patch (image), feature 0 (metadata): scored per input |

Classifiers are explained on correctly classified test inputs of class 1
(`target=1`), the regression on test inputs (`target=0`: its one unit), the
segmentation on test images with `kv.targets.Region(1, square)`: the square
class's logits summed over the square's true pixels.

Run it:

```bash
python examples/planted_evidence.py           # 2-3 minutes on two busy CPU cores
python examples/planted_evidence.py --smoke   # tiny settings, seconds
```

It writes `planted_evidence.md` (the tables of docs/beyond_images.md),
`results.json` and one figure per task (the first input's gradient maps,
drawn by `kv.render.plot_sequence`, `plot_table` or `plot_tokens`) to
`--out` (default `examples-out/planted_evidence`).
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402

TASKS = ("series", "breast_cancer", "friedman", "text", "segmentation", "image_meta")
METHOD_LABELS = {"gradient": "gradient", "gradient_x_input": "gradient × input",
                 "smoothgrad": "SmoothGrad", "integrated_gradients": "Integrated Gradients"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated. Default: {','.join(TASKS)}")
    parser.add_argument("--explain", type=int, default=64, help="inputs explained per task. Default: 64")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs. Default: per task")
    parser.add_argument("--samples", type=int, default=16, help="SmoothGrad noisy copies. Default: 16")
    parser.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps. Default: 32")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, weights and noise. Default: 0")
    parser.add_argument("--out", default="examples-out/planted_evidence", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny settings (seconds), for the tests")
    args = parser.parse_args(argv)
    if args.smoke:
        args.explain, args.samples, args.steps = 8, 4, 4
        args.epochs = args.epochs or 1
    args.tasks = [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        parser.error(f"unknown tasks {unknown}; known: {list(TASKS)}")
    return args


@dataclass
class Task:
    """A trained model, the inputs to explain and where their evidence is."""

    name: str
    model: keras.Model
    x: np.ndarray                      # the inputs explained
    evidence: np.ndarray               # bool, shaped like a map's mass (see `mass`)
    target: object                     # a class index, or a kv.targets.Region
    quality: dict                      # test accuracy or R², to show the model learned the task
    mass_axes: tuple = ()              # axes of a map summed into one mass per evidence unit
    notes: dict = field(default_factory=dict)


# -- the tasks -----------------------------------------------------------------------------------
def series_task(args, rng) -> Task:
    """A motif in channel 0 means class 1; the same motif in channel 1 means class 0."""
    n, steps, size = (160 if args.smoke else 3000), 64, 10
    motif = np.sin(np.linspace(0, 2 * np.pi, size)).astype(np.float32) * 1.5
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 0.5, (n, steps, 2)).astype(np.float32)
    starts = rng.integers(0, steps - size, n)
    evidence = np.zeros(x.shape, bool)
    for i in range(n):
        channel = 0 if labels[i] == 1 else 1
        x[i, starts[i]:starts[i] + size, channel] += motif
        evidence[i, starts[i]:starts[i] + size, channel] = True
    inputs = keras.Input((steps, 2), name="series")
    h = keras.layers.Conv1D(16, 5, activation="relu", padding="same")(inputs)
    h = keras.layers.Conv1D(16, 5, activation="relu", padding="same")(h)
    h = keras.layers.GlobalMaxPooling1D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h), name="motif_conv1d")
    return _classifier("series", model, x, labels, evidence, args, epochs=8, rng=rng)


def breast_cancer_task(args, rng) -> Task:
    """The real features against copies shuffled across rows (same values, no information)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    real = (data.data - data.data.mean(0)) / data.data.std(0)
    shuffled = np.concatenate([real[rng.permutation(len(real))] for _ in range(2)], axis=1)
    shuffled = shuffled[:, rng.permutation(shuffled.shape[1])]
    x = np.concatenate([real, shuffled], axis=1).astype(np.float32)
    labels = data.target
    evidence = np.zeros(x.shape, bool)
    evidence[:, :real.shape[1]] = True
    model = keras.Sequential([keras.Input((x.shape[1],), name="features"),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2)], name="cancer_mlp")
    task = _classifier("breast_cancer", model, x, labels, evidence, args, epochs=30, rng=rng)
    task.notes["feature_names"] = [*data.feature_names, *(f"shuffled {i}" for i in range(60))]
    return task


def friedman_task(args, rng) -> Task:
    """`y = 10 sin(π x0 x1) + 20 (x2 - 0.5)² + 10 x3 + 5 x4 + noise`; x5..x9 are noise."""
    from sklearn.datasets import make_friedman1

    n = 200 if args.smoke else 4000
    x, y = make_friedman1(n_samples=n, n_features=10, noise=0.5, random_state=int(rng.integers(1 << 30)))
    x = ((x - 0.5) / np.sqrt(1 / 12)).astype(np.float32)  # uniform [0, 1] standardized
    y = ((y - y.mean()) / y.std()).astype(np.float32)
    evidence = np.zeros(x.shape, bool)
    evidence[:, :5] = True
    model = keras.Sequential([keras.Input((10,), name="features"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1)], name="friedman_mlp")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    train = int(0.8 * n)
    model.fit(x[:train], y[:train], epochs=args.epochs or 60, batch_size=64, verbose=0)
    prediction = model.predict(x[train:], verbose=0)[:, 0]
    r2 = 1 - float(np.mean((prediction - y[train:]) ** 2) / np.var(y[train:]))
    pick = np.arange(train, n)[:args.explain]
    return Task("friedman", model, x[pick], evidence[pick], 0, {"test R²": r2},
                notes={"feature_names": [f"x{i}" for i in range(10)]})


def text_task(args, rng) -> Task:
    """Neutral words, with two positive (class 1) or two negative (class 0) words planted."""
    n, length, neutral = (160 if args.smoke else 4000), 16, 30
    positive, negative = np.arange(30, 35), np.arange(35, 40)
    labels = rng.integers(0, 2, n)
    ids = rng.integers(0, neutral, (n, length))
    evidence = np.zeros((n, length), bool)
    for i in range(n):
        where = rng.choice(length, 2, replace=False)
        ids[i, where] = rng.choice(positive if labels[i] == 1 else negative, 2)
        evidence[i, where] = True
    inputs = keras.Input((length,), dtype="int32", name="tokens")
    embed = keras.layers.Embedding(40, 8, name="embedding")
    conv = keras.layers.Conv1D(16, 3, activation="relu", padding="same", name="conv")
    pool = keras.layers.GlobalMaxPooling1D(name="pool")
    dense = keras.layers.Dense(2, name="logits")
    model = keras.Model(inputs, dense(pool(conv(embed(inputs)))), name="planted_words")
    task = _classifier("text", model, ids.astype(np.int32), labels, evidence, args, epochs=6, rng=rng)
    task.notes["tokens"] = [[WORDS[i] for i in row] for row in task.x]
    # kv explains token ids at the embedding's output: maps (N, T, E), compared with the embedded x
    task.notes["embedded"] = embed(task.x).numpy()
    task.mass_axes = (2,)
    return task


def _classifier(name, model, x, labels, evidence, args, *, epochs, rng) -> Task:
    """Train, then pick correctly classified class-1 test inputs. `x`, `evidence`: an array or a list (one per input)."""
    several = isinstance(x, list)
    n = len(labels)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    take = (lambda a, rows: [part[rows] for part in a]) if several else (lambda a, rows: a[rows])
    x, labels, evidence = take(x, order), labels[order], take(evidence, order)
    train = int(0.75 * n)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(take(x, slice(0, train)), labels[:train], epochs=args.epochs or epochs, batch_size=32, verbose=0)
    predicted = model.predict(take(x, slice(train, n)), verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels[train:]))
    test = np.arange(train, n)
    pick = test[(labels[test] == 1) & (predicted == 1)][:args.explain]
    if not len(pick):  # an untrained smoke model may predict no class 1: explain class 1 anyway
        pick = test[labels[test] == 1][:args.explain]
    return Task(name, model, take(x, pick), take(evidence, pick), 1, {"test accuracy": accuracy})


def segmentation_task(args, rng) -> Task:
    """Images with one square (class 1) and one disc (class 2) on noise; per-pixel classes."""
    n, size = (96 if args.smoke else 1500), 24
    yy, xx = np.mgrid[:size, :size]
    x = rng.normal(0, 0.3, (n, size, size, 1)).astype(np.float32)
    classes = np.zeros((n, size, size), np.int64)
    for i in range(n):
        while True:  # a square and a disc that do not touch
            side, radius = rng.integers(4, 8), rng.integers(2, 4)
            top, left = rng.integers(0, size - side, 2)
            cy, cx = rng.integers(radius, size - radius, 2)
            square = (yy >= top) & (yy < top + side) & (xx >= left) & (xx < left + side)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
            if not _touch(square, disc):
                break
        classes[i][square], classes[i][disc] = 1, 2
        x[i, ..., 0] += (square | disc).astype(np.float32)
    inputs = keras.Input((size, size, 1), name="image")
    h = inputs
    for k in range(3):
        h = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name=f"conv{k}")(h)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="classes")(h), name="shapes_segmenter")
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = int(0.75 * n)
    model.fit(x[:train], classes[:train], epochs=args.epochs or 12, batch_size=32, verbose=0)
    predicted = model.predict(x[train:], verbose=0).argmax(axis=-1)
    squares = classes[train:] == 1
    iou = float(((predicted == 1) & squares).sum() / max(((predicted == 1) | squares).sum(), 1))
    pick = np.arange(train, n)[:args.explain]
    evidence = classes[pick] == 1
    # class 1's logits summed over the square (its true pixels): kv.targets.Region
    target = kv.targets.Region(1, evidence)
    return Task("segmentation", model, x[pick], evidence[..., None], target, {"test square IoU": iou})


def _touch(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether mask `a`, grown by one pixel (8-neighbours), meets mask `b`."""
    grown = a.copy()
    grown[1:] |= a[:-1]
    grown[:-1] |= a[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    return bool((grown & b).any())


def image_meta_task(args, rng) -> Task:
    """Class 1 = a bright 4×4 patch in the image AND metadata feature 0 > 0; 5 other features are noise."""
    n, size, features = (160 if args.smoke else 3000), 16, 6
    images = rng.normal(0, 0.3, (n, size, size, 1)).astype(np.float32)
    meta = rng.normal(0, 1, (n, features)).astype(np.float32)
    patch = rng.random(n) < 0.5
    evidence_image = np.zeros(images.shape, bool)
    for i in np.flatnonzero(patch):
        top, left = rng.integers(0, size - 4, 2)
        images[i, top:top + 4, left:left + 4] += 1.0
        evidence_image[i, top:top + 4, left:left + 4] = True
    labels = (patch & (meta[:, 0] > 0)).astype(np.int64)
    evidence_meta = np.zeros(meta.shape, bool)
    evidence_meta[:, 0] = True
    image_in = keras.Input((size, size, 1), name="image")
    meta_in = keras.Input((features,), name="meta")
    h = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(image_in)
    h = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(h)
    h = keras.layers.GlobalMaxPooling2D()(h)
    m = keras.layers.Dense(8, activation="relu")(meta_in)
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([h, m]))
    model = keras.Model([image_in, meta_in], keras.layers.Dense(2)(h), name="image_and_meta")
    order = rng.permutation(n)
    task = _classifier("image_meta", model, [images[order], meta[order]], labels[order],
                       [evidence_image[order], evidence_meta[order]], args, epochs=10, rng=None)
    return task


#: The synthetic vocabulary: 30 neutral words, 5 positive, 5 negative.
WORDS = [f"w{i}" for i in range(30)] + [f"good{i}" for i in range(5)] + [f"bad{i}" for i in range(5)]

BUILDERS = {"series": series_task, "breast_cancer": breast_cancer_task, "friedman": friedman_task,
            "text": text_task, "segmentation": segmentation_task, "image_meta": image_meta_task}
#: The inputs of the several-input task, scored one by one.
INPUT_NAMES = {"image_meta": ("image", "meta")}


# -- the scores ----------------------------------------------------------------------------------
def mass_share(maps: np.ndarray, evidence: np.ndarray, mass_axes: tuple = ()) -> float:
    """Mean over inputs of `Σ|m|` on the evidence ÷ `Σ|m|` (inputs whose map is all zero are left out)."""
    mass = np.abs(maps.astype(np.float64))
    if mass_axes:
        mass = mass.sum(axis=mass_axes)
    flat, where = mass.reshape(len(mass), -1), evidence.reshape(len(evidence), -1)
    total = flat.sum(axis=1)
    shares = (flat * where).sum(axis=1)[total > 0] / total[total > 0]
    return float(shares.mean()) if len(shares) else float("nan")


def input_correlation(maps: np.ndarray, x: np.ndarray) -> float:
    """Mean over inputs of Pearson r(map, input), the paper's image recovery (NaN for a constant map)."""
    values = []
    for m, xi in zip(maps.reshape(len(maps), -1).astype(np.float64), x.reshape(len(x), -1).astype(np.float64)):
        if m.std() > 0 and xi.std() > 0:
            values.append(float(np.corrcoef(m, xi)[0, 1]))
    return float(np.mean(values)) if values else float("nan")


def methods(args) -> dict:
    return {
        "gradient": kv.methods.Gradient(),
        "gradient_x_input": kv.methods.GradientXInput(),
        "smoothgrad": kv.methods.SmoothGrad(samples=args.samples, noise=0.15, seed=args.seed),
        "integrated_gradients": kv.methods.IntegratedGradients(steps=args.steps),
    }


def score(task: Task, args, out: Path) -> dict:
    """`{result name: result}`: one result per task, or per input of a several-input task."""
    viz = kv.Visualizer(task.model, kv.RULES, batch_size=64, seed=args.seed)
    names = INPUT_NAMES.get(task.name)
    parts = names or (None,)
    xs = task.x if names else [task.notes.get("embedded", task.x)]
    evidence = task.evidence if names else [task.evidence]
    results = {}
    for k, part in enumerate(parts):
        results[task.name if part is None else f"{task.name} ({part})"] = {
            "chance": mass_share(np.ones(evidence[k].shape, np.float32), evidence[k]),
            "explained": len(xs[k]), **task.quality, "methods": {}}
    for key, method in methods(args).items():
        maps = viz(task.x, target=task.target, method=method, progress=False)
        for k, (name, result) in enumerate(results.items()):
            result["methods"][key] = {
                rule: {"share": mass_share(maps[rule][k] if names else maps[rule], evidence[k], task.mass_axes),
                       "r": input_correlation(maps[rule][k] if names else maps[rule], xs[k])}
                for rule in kv.RULES}
        if key == "gradient":
            first = {rule: (maps[rule][0][0] if names else maps[rule][0]) for rule in kv.RULES}
            draw(task, first, out / f"{task.name}.png")
    return results


def draw(task: Task, maps: dict, path: Path) -> None:
    """The first explained input's gradient maps, drawn by `kv.render` for its kind of input."""
    if task.name == "series":
        kv.render.plot_sequence(task.x[0], maps, channel_names=["channel 0", "channel 1"], path=path, dpi=70)
    elif task.name in ("segmentation", "image_meta"):
        image = task.x[0][0] if task.name == "image_meta" else task.x[0]
        kv.render.plot_maps(image[None], {rule: m[None] for rule, m in maps.items()}, path=path, dpi=70,
                            normalize="abs")
    elif task.name == "text":
        kv.render.plot_tokens(task.notes["tokens"][0], maps, reduce="l2", per_line=16, path=path, dpi=80)
    else:
        names = task.notes.get("feature_names")
        kv.render.plot_table(maps, feature_names=names, top=8, path=path, dpi=70)


def markdown(name: str, result: dict) -> str:
    quality = ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k.startswith("test"))
    lines = [f"**{name}** ({quality}; {result['explained']} inputs; chance {result['chance']:.3f})", "",
             "| method | " + " | ".join(f"{r}: share | {r}: r(m, x)" for r in kv.RULES) + " |",
             "|---|" + "---:|---:|" * len(kv.RULES)]
    for key, rules in result["methods"].items():
        cells = " | ".join(f"{rules[r]['share']:.3f} | {rules[r]['r']:.3f}" for r in kv.RULES)
        lines.append(f"| {METHOD_LABELS[key]} | {cells} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    results, sections = {}, []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.tasks:
        t0 = time.perf_counter()
        keras.utils.set_random_seed(args.seed + TASKS.index(name))  # each task's weights its own
        task = BUILDERS[name](args, np.random.default_rng([args.seed, TASKS.index(name)]))
        scored = score(task, args, out)
        for key, result in scored.items():
            result["seconds"] = time.perf_counter() - t0
            results[key] = result
            sections.append(markdown(key, result))
            print(sections[-1], flush=True)
        print(f"({time.perf_counter() - t0:.1f} s)\n", flush=True)
    (out / "planted_evidence.md").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    summary = {"tasks": results, "settings": {k: v for k, v in vars(args).items() if k != "out"},
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {out / 'planted_evidence.md'} and {out / 'results.json'} "
          f"({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

Classifiers are explained on correctly classified test inputs of class 1
(`target=1`), the regression on test inputs (`target=0`: its one unit).

Run it:

```bash
python examples/planted_evidence.py           # about a minute on two busy CPU cores
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

TASKS = ("series", "breast_cancer", "friedman", "text")
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
    target: int
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
    # Maps at the embedding's output: the same layers from the embedded tokens on, weights shared.
    embedded = keras.Input((length, 8), name="embedded")
    task.model = keras.Model(embedded, dense(pool(conv(embedded))), name="planted_words_head")
    task.x = embed(task.x).numpy()
    task.mass_axes = (2,)
    return task


def _classifier(name, model, x, labels, evidence, args, *, epochs, rng) -> Task:
    n = len(x)
    order = rng.permutation(n)
    x, labels, evidence = x[order], labels[order], evidence[order]
    train = int(0.75 * n)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x[:train], labels[:train], epochs=args.epochs or epochs, batch_size=32, verbose=0)
    predicted = model.predict(x[train:], verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels[train:]))
    test = np.arange(train, n)
    pick = test[(labels[test] == 1) & (predicted == 1)][:args.explain]
    if not len(pick):  # an untrained smoke model may predict no class 1: explain class 1 anyway
        pick = test[labels[test] == 1][:args.explain]
    return Task(name, model, x[pick], evidence[pick], 1, {"test accuracy": accuracy})


#: The synthetic vocabulary: 30 neutral words, 5 positive, 5 negative.
WORDS = [f"w{i}" for i in range(30)] + [f"good{i}" for i in range(5)] + [f"bad{i}" for i in range(5)]

BUILDERS = {"series": series_task, "breast_cancer": breast_cancer_task, "friedman": friedman_task,
            "text": text_task}


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
    viz = kv.Visualizer(task.model, kv.RULES, batch_size=64, seed=args.seed)
    chance = mass_share(np.ones(task.evidence.shape, np.float32), task.evidence)
    rows = {}
    for key, method in methods(args).items():
        maps = viz(task.x, target=task.target, method=method, progress=False)
        rows[key] = {rule: {"share": mass_share(maps[rule], task.evidence, task.mass_axes),
                            "r": input_correlation(maps[rule], task.x)} for rule in kv.RULES}
        if key == "gradient":
            draw(task, {rule: maps[rule][0] for rule in kv.RULES}, out / f"{task.name}.png")
    return {"chance": chance, "explained": len(task.x), **task.quality, "methods": rows}


def draw(task: Task, maps: dict, path: Path) -> None:
    """The first explained input's gradient maps, drawn by `kv.render` for its kind of input."""
    if task.name == "series":
        kv.render.plot_sequence(task.x[0], maps, channel_names=["channel 0", "channel 1"], path=path, dpi=70)
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
        task = BUILDERS[name](args, np.random.default_rng([args.seed, TASKS.index(name)]))
        results[name] = score(task, args, out)
        results[name]["seconds"] = time.perf_counter() - t0
        sections.append(markdown(name, results[name]))
        print(sections[-1], f"\n({results[name]['seconds']:.1f} s)\n", flush=True)
    (out / "planted_evidence.md").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    summary = {"tasks": results, "settings": {k: v for k, v in vars(args).items() if k != "out"},
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {out / 'planted_evidence.md'} and {out / 'results.json'} "
          f"({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`kerasviz reproduce`: run E1–E7, check C1–C11, write REPORT.md, results.json and figures.

```bash
kerasviz reproduce --quick --out repro          # < 10 min on 2 CPU cores
kerasviz reproduce --full --out repro-full      # the paper's sizes, 3 seeds × 4 images
kerasviz reproduce --weights imagenet           # E4–E7 on the ImageNet VGG-16 (online)
```

The settings of each mode are the `Settings` dataclasses `QUICK`, `FULL` and
`SMOKE` (seconds; checks the pipeline, not the claims). From Python:

```python
from kerasviz.analysis import reproduce
summary = reproduce.reproduce(reproduce.QUICK, out="repro")
[c["holds"] for c in summary["claims"]]
```

The trained-network experiments (E4 trained side, E5–E7) run on the
Fashion-MNIST net that kerasviz ships (`kv.zoo.fashion_cnn(weights="trained")`)
by default, on Keras's ImageNet VGG-16 with `--weights imagenet` (needs the
file in the Keras cache or the network), or on a `.weights.h5` file saved from
`kv.zoo.fashion_cnn()` or `kv.zoo.vgg16()`. `--weights random` uses the
untrained Fashion-MNIST net (to test the pipeline; C8–C10 then say nothing
about learned weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.errors import FileReadError, KerasvizError

__all__ = ["FULL", "QUICK", "SMOKE", "Settings", "TrainedNet", "load_trained", "plan", "reproduce", "run"]

DEFAULT_OUT = "kerasviz-reproduce"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The sizes of one reproduction run.

    Attributes:
        mode: `"quick"`, `"full"` or `"smoke"`.
        seeds: network seeds of E1–E4.
        image_names: `kv.data.sample_images` photos of E1–E4.
        cnn_size: image side of E2, E3 (and the grid's CNN rows).
        cnn_filters: the N sweep of E2.
        reference_filters: N of C1–C3, C6, C11 and of the CNN in E1.
        cnn_classes: logits of the random CNNs and FC nets.
        fc_size: image side of E1 (FC nets and the CNN they are compared with).
        fc_hidden: the N_h sweep of E1.
        vgg_size: image side of the random VGG-16 (E4).
        vgg_classes: its logits.
        trained_seeds: seeds of E5's random weights and of the trained-net image sets.
        trained_images: Fashion-MNIST test images per seed.
        protocols: E5 protocols.
        class_pairs: the least number of class pairs per image in E6.
        fgsm_step: E7 grid step, grey levels.
        fgsm_max: the largest ε E7 tries, grey levels.
        fixed_epsilons: E7's fixed ε, grey levels.
        notes: how this mode departs from the paper's setup.
    """

    mode: str
    seeds: tuple[int, ...]
    image_names: tuple[str, ...]
    cnn_size: int
    cnn_filters: tuple[int, ...]
    reference_filters: int
    cnn_classes: int
    fc_size: int
    fc_hidden: tuple[int, ...]
    vgg_size: int
    vgg_classes: int
    trained_seeds: tuple[int, ...]
    trained_images: int
    protocols: tuple[str, ...]
    class_pairs: int
    fgsm_step: float = 0.2
    fgsm_max: float = 64.0
    fixed_epsilons: tuple[float, ...] = (1, 2, 4, 8)
    notes: tuple[str, ...] = ()


_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")

QUICK = Settings(
    mode="quick",
    seeds=(0, 1),
    image_names=_PHOTOS,
    cnn_size=64,
    cnn_filters=(1, 4, 16, 64, 256),
    reference_filters=64,
    cnn_classes=10,
    fc_size=32,
    fc_hidden=(250, 1250, 5000, 17500),
    vgg_size=64,
    vgg_classes=10,
    trained_seeds=(0, 1),
    trained_images=8,
    protocols=("part",),
    class_pairs=20,
    notes=(
        "E2, E3 and the random VGG-16 (E4) run at 64×64 instead of 224×224: the theory's S = N/(π²C) does not "
        "depend on the image size (only the sampling noise of r does).",
        "E1 runs at 32×32×3 (d = 3072) with N_h = 250, 1250, 5000, 17500: the paper's 1k, 5k, 20k, 70k at "
        "64×64×3 scaled by d, so that S = N_h/(π²d) takes the same values; the CNN of C5 runs at 32×32 on the "
        "same images.",
        "2 seeds × 4 photos for E1–E4 and 2 seeds × 8 Fashion-MNIST test images for E4–E7 (the paper: "
        "≥ 3 × ≥ 4); E5 runs the cascading protocol only; E6 uses 21 class pairs per image.",
        "Random nets have 10 logits (VGG-16 too): one logit's map does not depend on the others.",
    ),
)

FULL = Settings(
    mode="full",
    seeds=(0, 1, 2),
    image_names=_PHOTOS,
    cnn_size=224,
    cnn_filters=(1, 4, 16, 64, 256),
    reference_filters=64,
    cnn_classes=10,
    fc_size=64,
    fc_hidden=(1000, 5000, 20000, 70000),
    vgg_size=224,
    vgg_classes=1000,
    trained_seeds=(0, 1, 2),
    trained_images=8,
    protocols=("part", "reverse", "only"),
    class_pairs=45,
    notes=(
        "The paper's sizes: E2/E3 at 224×224, E1 at 64×64×3 with N_h up to 70k, VGG-16 at 224×224 with 1000 "
        "logits; 3 seeds × 4 photos (E1–E4), 3 seeds × 8 Fashion-MNIST test images (E4–E7).",
        "The random CNNs and FC nets have 10 logits: one logit's map does not depend on the others, and "
        "224·224·256·1000 dense weights would not fit in memory.",
    ),
)

SMOKE = Settings(
    mode="smoke",
    seeds=(0,),
    image_names=("chelsea", "coffee"),
    cnn_size=32,
    cnn_filters=(4, 64),
    reference_filters=64,
    cnn_classes=4,
    fc_size=32,
    fc_hidden=(250, 1250),
    vgg_size=32,
    vgg_classes=4,
    trained_seeds=(0,),
    trained_images=2,
    protocols=("part",),
    class_pairs=3,
    fgsm_max=32.0,
    fixed_epsilons=(2,),
    notes=("Smoke test of the pipeline: tiny settings, one seed, two images; the verdicts mean little.",),
)

MODES = {"quick": QUICK, "full": FULL, "smoke": SMOKE}


# --------------------------------------------------------------------------- #
# The trained net                                                              #
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class TrainedNet:
    """The net of E4 (trained side)–E7 and where its images come from.

    Attributes:
        name: a description for the report.
        model: the Keras model (returns logits).
        value_range: the pixel range of its inputs.
        images: `images(seed, count) -> (images, names)`.
        center: maps images to what its first weight layer sees (for M1).
        kernel_size: the first convolution's kernel (for x̃).
    """

    name: str
    model: Any
    value_range: tuple[float, float]
    images: Callable[[int, int], tuple[np.ndarray, list[str]]]
    center: Callable[[np.ndarray], np.ndarray]
    kernel_size: int = 3


def _fashion_images(seed: int, count: int) -> tuple[np.ndarray, list[str]]:
    from kerasviz import data

    (_, _), (x_test, _) = data.fashion_mnist()
    index = np.sort(np.random.default_rng(seed).choice(len(x_test), count, replace=False))
    return x_test[index], [f"test{i}" for i in index]


def _fashion_net(name: str, model) -> TrainedNet:
    return TrainedNet(name, model, (0.0, 1.0), _fashion_images, lambda x: np.asarray(x, np.float64), 3)


def _vgg_net(name: str, model, image_names: Sequence[str]) -> TrainedNet:
    from kerasviz import data
    from kerasviz.analysis import experiments

    size = int(model.inputs[0].shape[1] or 224)

    def images(seed: int, count: int):
        del seed, count  # the same photos for every seed
        return data.sample_images(tuple(image_names), size=size), list(image_names)

    return TrainedNet(name, model, (0.0, 255.0), images, experiments.center, 3)


def load_trained(weights: str, image_names: Sequence[str] = _PHOTOS) -> TrainedNet:
    """The trained net for `--weights`: `trained`, `imagenet`, `random` or a `.weights.h5` path.

    Raises:
        WeightsUnavailableError: when the shipped or ImageNet weights cannot
            be found or fetched (the message says what to do).
        FileReadError: for a path that neither `fashion_cnn` nor `vgg16` can load.
    """
    from kerasviz import zoo

    if weights == "trained":
        return _fashion_net("Fashion-MNIST CNN shipped with kerasviz (kv.zoo.fashion_cnn(weights='trained'))",
                            zoo.fashion_cnn(weights="trained"))
    if weights == "random":
        return _fashion_net("untrained Fashion-MNIST CNN (kv.zoo.fashion_cnn(), Keras init, seed 0)",
                            zoo.fashion_cnn(seed=0))
    if weights == "imagenet":
        return _vgg_net("VGG-16 with Keras's ImageNet weights", zoo.vgg16(weights="imagenet"), image_names)
    path = Path(weights)
    if not path.is_file():
        raise FileReadError(
            "--weights is 'trained', 'imagenet', 'random' or the path of a .weights.h5 file saved from "
            f"kv.zoo.fashion_cnn() or kv.zoo.vgg16(). No such file. Received: --weights {weights}"
        )
    errors = []
    try:
        return _fashion_net(f"kv.zoo.fashion_cnn() with weights {path}", zoo.fashion_cnn(weights=str(path)))
    except KerasvizError as err:
        errors.append(f"fashion_cnn: {err}")
    try:
        return _vgg_net(f"kv.zoo.vgg16() with weights {path}", zoo.vgg16(weights=str(path)), image_names)
    except KerasvizError as err:
        errors.append(f"vgg16: {err}")
    raise FileReadError(
        f"{path} fits neither kv.zoo.fashion_cnn() nor kv.zoo.vgg16() (224×224, 1000 classes): "
        + " / ".join(errors) + f" Received: --weights {weights}"
    )


# --------------------------------------------------------------------------- #
# The plan                                                                     #
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Step:
    """One unit of work: a label for the progress bar and a function returning records."""

    label: str
    run: Callable[[], list[dict]]


def plan(settings: Settings, trained: TrainedNet, grid: list) -> list[Step]:
    """The steps of a run, in order (one per experiment × setting × seed)."""
    from kerasviz import data
    from kerasviz.analysis import experiments as ex

    s = settings
    photos = {}

    def images(size: int) -> np.ndarray:
        if size not in photos:
            photos[size] = data.sample_images(s.image_names, size=size)
        return photos[size]

    names = list(s.image_names)
    steps: list[Step] = []
    for n_filters in s.cnn_filters:
        for seed in s.seeds:
            steps.append(Step(f"E2 CNN N={n_filters} seed {seed}", lambda n=n_filters, seed=seed: ex.e2_random_cnn(
                images(s.cnn_size), filters=(n,), seeds=(seed,), num_classes=s.cnn_classes, names=names)))
    for seed in s.seeds:
        steps.append(Step(f"E3 max-pool seed {seed}", lambda seed=seed: ex.e3_max_pool(
            images(s.cnn_size), filters=s.reference_filters, seeds=(seed,), num_classes=s.cnn_classes,
            names=names)))
    for width in s.fc_hidden:
        for seed in s.seeds:
            steps.append(Step(f"E1 FC N_h={width} seed {seed}", lambda w=width, seed=seed: ex.e1_fc_width(
                images(s.fc_size), hidden=(w,), seeds=(seed,), num_classes=s.cnn_classes, cnn_filters=None,
                names=names)))
    for seed in s.seeds:
        steps.append(Step(f"E1 CNN N={s.reference_filters} seed {seed}", lambda seed=seed: ex.e1_fc_width(
            images(s.fc_size), hidden=(), seeds=(seed,), num_classes=s.cnn_classes,
            cnn_filters=s.reference_filters, names=names)))
    for seed in s.seeds:
        steps.append(Step(f"E4 random VGG-16 seed {seed}", lambda seed=seed: ex.e4_random_vgg(
            images(s.vgg_size), seeds=(seed,), num_classes=s.vgg_classes, names=names)))

    trained_sets = {}

    def trained_images(seed: int):
        if seed not in trained_sets:
            trained_sets[seed] = trained.images(seed, s.trained_images)
        return trained_sets[seed]

    for seed in s.trained_seeds:
        def e4(seed=seed):
            x, image_names = trained_images(seed)
            return ex.e4_trained(trained.model, x, x=trained.center(x), kernel_size=trained.kernel_size,
                                 seed=seed, names=image_names)
        steps.append(Step(f"E4 trained net seed {seed}", e4))
    for protocol in s.protocols:
        for seed in s.trained_seeds:
            def e5(seed=seed, protocol=protocol):
                x, image_names = trained_images(seed)
                return ex.e5_randomization(trained.model, x, protocols=(protocol,), seeds=(seed,),
                                           names=image_names)
            steps.append(Step(f"E5 {protocol} seed {seed}", e5))
    for seed in s.trained_seeds:
        def e6(seed=seed):
            x, image_names = trained_images(seed)
            return ex.e6_class_pairs(trained.model, x, pairs=s.class_pairs, seed=seed, names=image_names)
        steps.append(Step(f"E6 class pairs seed {seed}", e6))
    for seed in s.trained_seeds:
        def e7(seed=seed):
            x, image_names = trained_images(seed)
            return ex.e7_adversarial(trained.model, x, value_range=trained.value_range,
                                     fixed_epsilons=s.fixed_epsilons, step=s.fgsm_step, max_epsilon=s.fgsm_max,
                                     seed=seed, names=image_names)
        steps.append(Step(f"E7 FGSM seed {seed}", e7))

    def grid_step():
        x, _ = trained_images(s.trained_seeds[0])
        grid.extend(ex.example_maps(
            s.image_names[0], size=s.cnn_size, fc_size=s.fc_size,
            fc_hidden=s.fc_hidden[min(1, len(s.fc_hidden) - 1)], cnn_filters=s.reference_filters,
            vgg_size=s.vgg_size, vgg_classes=s.vgg_classes, trained=(trained.model, x[0]), seed=s.seeds[0]))
        return []

    steps.append(Step("figure grid", grid_step))
    return steps


# --------------------------------------------------------------------------- #
# Running                                                                      #
# --------------------------------------------------------------------------- #


def _preamble(settings: Settings, trained: TrainedNet, weights: str, elapsed: float, timings) -> str:
    lines = [
        f"Generated by `kerasviz reproduce --{settings.mode} --weights {weights}` on "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} ({platform.node() or 'unknown host'}, "
        f"{os.cpu_count()} CPUs) in **{elapsed / 60:.1f} min**.",
        "",
        "Setups, metrics and thresholds are those of docs/paper.md in the kerasviz repository; where the paper "
        "gives only words (\"≈ 0\", \"clearly positive\", \"stays high\"), the bound used is stated in the "
        "criterion column and was fixed before the runs (`kerasviz.analysis.claims.THRESHOLDS`). "
        "A claim that does not hold is reported as such.",
        "",
        "**Which x.** The zoo's RGB nets take raw RGB in [0, 255] and subtract the ImageNet mean in their first "
        "layer (identity gradient). As the authors do, recovery metrics correlate maps with the "
        "mean-subtracted image x = RGB − [123.68, 116.779, 103.939], and with x̃ = the patch-normalized x "
        "(`metrics.patch_normalized`, the first convolution's kernel: 7 for the 3-layer CNN, 3 for VGG-16). "
        "For the Fashion-MNIST net x is the image as fed, in [0, 1].",
        "",
        f"**Trained net (E4–E7):** {trained.name}.",
        "",
        f"**Settings ({settings.mode}):** seeds {list(settings.seeds)} × photos {list(settings.image_names)}; "
        f"E2 N ∈ {list(settings.cnn_filters)} at {settings.cnn_size}×{settings.cnn_size}; E1 N_h ∈ "
        f"{list(settings.fc_hidden)} at {settings.fc_size}×{settings.fc_size}×3; random VGG-16 at "
        f"{settings.vgg_size}×{settings.vgg_size}, {settings.vgg_classes} logits; trained-net seeds "
        f"{list(settings.trained_seeds)} × {settings.trained_images} images; E5 protocols "
        f"{list(settings.protocols)}; E6 ≥ {settings.class_pairs} class pairs per image; E7 grid step "
        f"{settings.fgsm_step} grey levels up to {settings.fgsm_max}, fixed ε {list(settings.fixed_epsilons)}/255.",
    ]
    if settings.notes:
        lines += ["", "Departures from the paper's setup in this mode:", ""]
        lines += [f"- {note}" for note in settings.notes]
    if timings:
        by_experiment: dict[str, float] = {}
        for label, seconds in timings:
            key = label.split()[0] if label[:1] == "E" else label
            by_experiment[key] = by_experiment.get(key, 0.0) + seconds
        lines += ["", "Time per experiment: " + ", ".join(f"{k} {v:.0f} s" for k, v in by_experiment.items()) + "."]
    return "\n".join(lines)


def reproduce(
    settings: Settings = QUICK,
    *,
    weights: str = "trained",
    out: str | os.PathLike = DEFAULT_OUT,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every experiment, evaluate the claims and write the report.

    Args:
        settings: `QUICK`, `FULL`, `SMOKE` or your own `Settings`. Defaults to `QUICK`.
        weights: the trained net: `"trained"`, `"imagenet"`, `"random"` or a
            `.weights.h5` path (see `load_trained`). Defaults to `"trained"`.
        out: the output folder. Defaults to `"kerasviz-reproduce"`.
        progress: show a tqdm progress bar over the steps. Defaults to `True`.

    Returns:
        `{"claims", "records", "paths", "seconds"}`.

    Raises:
        WeightsUnavailableError / FileReadError: when the trained net cannot
            be loaded (checked before anything else runs).
    """
    from tqdm.auto import tqdm

    from kerasviz.analysis import claims as claims_lib
    from kerasviz.analysis import report

    import tensorflow as tf

    start = time.perf_counter()
    trained = load_trained(weights, settings.image_names)
    # Each step builds new nets, so tf.function's retracing warning would fire on every one.
    tf_logger = tf.get_logger()
    old_level = tf_logger.level
    tf_logger.setLevel("ERROR")
    grid: list = []
    steps = plan(settings, trained, grid)
    records: list[dict] = []
    timings: list[tuple[str, float]] = []
    bar = tqdm(total=len(steps), desc="reproduce", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        for step in steps:
            bar.set_description(step.label)
            t0 = time.perf_counter()
            records.extend(step.run())
            timings.append((step.label, time.perf_counter() - t0))
            bar.update(1)
        bar.set_description("report")
        verdicts = claims_lib.evaluate(records)
        elapsed = time.perf_counter() - start
        paths = report.write_all(
            out, verdicts, records, grid_rows=grid,
            settings={"mode": settings.mode, "weights": weights, "trained_net": trained.name,
                      "seconds": elapsed, "timings": dict(timings), **dataclasses.asdict(settings)},
            preamble=_preamble(settings, trained, weights, elapsed, timings),
        )
    finally:
        bar.close()
        tf_logger.setLevel(old_level)
    return {"claims": verdicts, "records": records, "paths": paths, "seconds": time.perf_counter() - start}


def run(args: argparse.Namespace) -> int:
    """Run `kerasviz reproduce` from parsed arguments; returns the exit status."""
    settings = MODES[args.mode]
    summary = reproduce(settings, weights=args.weights, out=args.out, progress=not args.no_progress)
    for claim in summary["claims"]:
        verdict = "holds" if claim["holds"] else "does not hold"
        print(f"{claim['id']:>4}  {verdict:<13}  {claim['claim']}")
    held = sum(c["holds"] for c in summary["claims"])
    paths = summary["paths"]
    print(f"{held}/{len(summary['claims'])} claims hold ({summary['seconds'] / 60:.1f} min). "
          f"Wrote {paths['report']}, {paths['results']} and {len(paths['figures'])} figures.")
    if args.strict and held < len(summary["claims"]):
        return 1
    return 0


# The command line owns its arguments now (`kerasviz.cli`); these names stay
# for code that used them and warn.
_MOVED_TO_CLI = {
    "add_arguments": "kerasviz.cli.add_reproduce_arguments",
    "HELP": "kerasviz.cli.build_parser()",
    "DESCRIPTION": "kerasviz.cli.build_parser()",
}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from kerasviz import cli  # deprecated path only: analysis does not otherwise import the command line

    cli.add_reproduce_arguments(parser)
    parser.set_defaults(run=run)


def __getattr__(name: str):
    if name in _MOVED_TO_CLI:
        import warnings

        from kerasviz import cli  # deprecated path only (see `_add_arguments`)

        warnings.warn(
            f"kerasviz.analysis.reproduce.{name} is deprecated and will be removed; the `kerasviz` command's "
            f"arguments live in kerasviz.cli: use {_MOVED_TO_CLI[name]} instead.",
            DeprecationWarning, stacklevel=2,
        )
        if name == "add_arguments":
            return _add_arguments
        command = cli._COMMANDS["reproduce"]
        return command.help if name == "HELP" else command.description
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

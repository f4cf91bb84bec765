"""`kerasviz reproduce`: run E1–E7, check C1–C11, write REPORT.md, results.json and figures.

```bash
kerasviz reproduce --quick --out repro          # about 2 min on 2 idle CPU cores, 2 GB
kerasviz reproduce --full --out repro-full      # the paper's sizes, 3 seeds × 4 images, width study: ~5 min, 15 GB
kerasviz reproduce --weights imagenet           # adds the ImageNet VGG-16 (online)
kerasviz reproduce --weights vgg16_weights_tf_dim_ordering_tf_kernels.h5   # the same, from a downloaded copy
```

The settings of each mode are the `Settings` dataclasses `QUICK`, `FULL` and
`SMOKE` (seconds; checks the pipeline, not the claims). From Python:

```python
from kerasviz.analysis import reproduce
summary = reproduce.reproduce(reproduce.QUICK, out="repro")
[c["holds"] for c in summary["claims"]]
```

The trained-network experiments (E4 trained side, E5–E7) run on every
trained net kerasviz ships (`Settings.trained_nets`: the 4-convolution
`kv.zoo.fashion_cnn(weights="trained")` and the VGG-style
`kv.zoo.fashion_vgg(weights="trained")`), and C8–C10 are reported per net
(`load_trained_nets`). `--weights imagenet` adds Keras's ImageNet VGG-16
(needs the file in the Keras cache or the network); `--weights PATH` adds
VGG-16 from a weights file (Keras's download, or a `.weights.h5` saved from
`kv.zoo.vgg16()`, at any input size its `fc1` implies), or replaces the
shipped net whose architecture the file fits (`kv.zoo.fashion_cnn()`,
`kv.zoo.fashion_vgg()` of any width). `--weights random` uses the untrained
Fashion-MNIST net alone (to test the pipeline; C8–C10 then say nothing
about learned weights). `--full` also runs E5 (cascading) and E6 on the
shipped `fashion_vgg` widths (`Settings.width_study`): how C8's curves and
C9's class-pair SSIM change with the width of a trained net.

The relevance rules of `Settings.relevance_rules` (LRP composites, DeepLIFT;
`--quick` maps two, `--full` all seven named ones, `--smoke` none) are mapped beside the
paper's three where C1 and C8–C10 read GBP's maps, and the report's section
"Relevance rules" (`kerasviz.analysis.relevance_claims`) sets their numbers
beside GBP's and saliency's, with the theory's prediction: measured rows, no
verdict. Another list, from Python:

```python
import dataclasses
settings = dataclasses.replace(reproduce.QUICK, relevance_rules=("lrp-epsilon-plus-flat", "deeplift"))
```
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
from typing import Any

import numpy as np

from kerasviz.errors import InvalidArgumentError
from kerasviz.relevance import NAMED

__all__ = [
    "FULL",
    "QUICK",
    "SMOKE",
    "Settings",
    "TrainedNet",
    "load_trained",
    "load_trained_nets",
    "load_width_nets",
    "plan",
    "reproduce",
    "run",
]

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
        trained_nets: the shipped trained nets of E4–E7 (`"fashion_cnn"`,
            `"fashion_vgg"`); `--weights` may add VGG-16.
        width_study: run E5 (cascading) and E6 on every shipped
            `fashion_vgg` width (`kv.zoo.FASHION_VGG_WIDTHS`) for the width
            study.
        relevance_rules: named relevance rules (`kv.relevance.NAMED`:
            `"lrp-zplus"`, `"deeplift"`...) mapped beside the paper's three
            in E2 (N = `reference_filters`), the random VGG-16 and, on each
            trained net, E5 (cascading), E6 and E7; the report's section
            "Relevance rules" (`kerasviz.analysis.relevance_claims`) sets
            them against GBP and saliency. Empty: no relevance rule, no
            section.
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
    trained_nets: tuple[str, ...] = ("fashion_cnn", "fashion_vgg")
    width_study: bool = False
    relevance_rules: tuple[str, ...] = tuple(NAMED)
    notes: tuple[str, ...] = ()


from kerasviz.analysis.trained_nets import (  # noqa: E402 - kept importable from here
    _PHOTOS,
    TrainedNet,
    _fashion_vgg_net,
    load_trained,
)

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
    relevance_rules=("lrp-zplus", "deeplift"),
    notes=(
        "E2, E3 and the random VGG-16 (E4) run at 64×64 instead of 224×224: the theory's S = N/(π²C) does not "
        "depend on the image size (only the sampling noise of r does).",
        "E1 runs at 32×32×3 (d = 3072) with N_h = 250, 1250, 5000, 17500: the paper's 1k, 5k, 20k, 70k at "
        "64×64×3 scaled by d, so that S = N_h/(π²d) takes the same values; the CNN of C5 runs at 32×32 on the "
        "same images.",
        "2 seeds × 4 photos for E1–E4 and 2 seeds × 8 Fashion-MNIST test images for E4–E7 (the paper: "
        "≥ 3 × ≥ 4); E5 runs the cascading protocol only; E6 uses 21 class pairs per image.",
        "Random nets have 10 logits (VGG-16 too): one logit's map does not depend on the others.",
        "Two relevance rules (lrp-zplus, deeplift) beside the paper's three; --full maps all seven named ones.",
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
    width_study=True,
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
    trained_nets=("fashion_cnn",),
    relevance_rules=(),  # the pipeline only: --quick runs the relevance section
    notes=("Smoke test of the pipeline: tiny settings, one seed, two images; the verdicts mean little.",),
)

MODES = {"quick": QUICK, "full": FULL, "smoke": SMOKE}


def load_trained_nets(weights: str = "trained", settings: Settings | None = None) -> tuple[list[TrainedNet],
                                                                                           list[str]]:
    """Every trained net of E4–E7 for `--weights`, and a note for each shipped net left out.

    `random` gives the untrained `fashion_cnn` alone. Otherwise the shipped
    nets of `settings.trained_nets` are loaded (`fashion_cnn` must be there;
    a `fashion_vgg` whose weights are not in this installation is left out
    with a note), and the net of `imagenet` or a path (`load_trained`) is
    added after them, or replaces the shipped net of the same architecture.

    Args:
        weights: `"trained"`, `"imagenet"`, `"random"` or a weights file path.
            Defaults to `"trained"`.
        settings: the run's settings. Defaults to `QUICK`.

    Returns:
        `(nets, notes)`.

    Raises:
        WeightsUnavailableError / FileReadError: as `load_trained`, checked
            before any shipped net is loaded.
        InvalidArgumentError: for a name in `settings.trained_nets` other
            than `"fashion_cnn"` and `"fashion_vgg"`.

    Example:

    ```python
    nets, notes = reproduce.load_trained_nets("imagenet", reproduce.QUICK)
    [net.key for net in nets]  # ["fashion_cnn", "fashion_vgg", "vgg16"]
    ```
    """
    from kerasviz import zoo
    from kerasviz.errors import WeightsUnavailableError

    settings = QUICK if settings is None else settings
    unknown = [key for key in settings.trained_nets if key not in ("fashion_cnn", "fashion_vgg")]
    if unknown:
        raise InvalidArgumentError(
            f"Settings.trained_nets names the shipped nets 'fashion_cnn' and 'fashion_vgg' only. "
            f"Received: trained_nets={settings.trained_nets!r}"
        )
    if weights == "random":
        return [load_trained("random", settings.image_names)], []
    extra = None if weights == "trained" else load_trained(weights, settings.image_names)
    nets: list[TrainedNet] = []
    notes: list[str] = []
    for key in settings.trained_nets:
        if extra is not None and extra.key == key:
            nets.append(extra)
            extra = None
        elif key == "fashion_cnn":
            nets.append(load_trained("trained", settings.image_names))
        else:
            try:
                model = zoo.fashion_vgg(weights="trained")
            except WeightsUnavailableError as err:
                notes.append(f"fashion_vgg left out: {err}")
            else:
                nets.append(_fashion_vgg_net(
                    "VGG-style Fashion-MNIST net shipped with kerasviz (kv.zoo.fashion_vgg(weights='trained'), "
                    "64–128–256 filters, 32×32×3 inputs)", model, 64))
    if extra is not None:
        nets.append(extra)
    return nets, notes


def load_width_nets(settings: Settings, nets: Sequence[TrainedNet] = ()) -> tuple[list[TrainedNet], list[str]]:
    """The shipped `fashion_vgg` widths (`kv.zoo.FASHION_VGG_WIDTHS`) not already in `nets`, and notes on missing ones.

    Empty unless `settings.width_study`.

    Args:
        settings: the run's settings.
        nets: the run's trained nets (a `fashion_vgg` among them is reused).
            Defaults to none.

    Returns:
        `(width_nets, notes)`; a width whose weights are not shipped gets a
        note instead of a net.

    Example:

    ```python
    width_nets, notes = reproduce.load_width_nets(reproduce.FULL)
    ```
    """
    from kerasviz import zoo
    from kerasviz.errors import WeightsUnavailableError

    have = {net.width for net in nets if net.width is not None}
    out: list[TrainedNet] = []
    notes: list[str] = []
    for width in zoo.FASHION_VGG_WIDTHS if settings.width_study else ():
        if width in have:
            continue
        try:
            model = zoo.fashion_vgg(weights="trained", width=width)
        except WeightsUnavailableError as err:
            notes.append(f"width study: fashion_vgg width {width} left out: {err}")
            continue
        out.append(_fashion_vgg_net(f"kv.zoo.fashion_vgg(weights='trained', width={width})", model, width))
    return out, notes


# --------------------------------------------------------------------------- #
# The plan                                                                     #
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Step:
    """One unit of work: a label for the progress bar, a function returning records, and its trained net."""

    label: str
    run: Callable[[], list[dict]]
    net: str | None = None


def plan(settings: Settings, trained: TrainedNet | Sequence[TrainedNet], grid: list,
         width_nets: Sequence[TrainedNet] = ()) -> list[Step]:
    """The steps of a run, in order (one per experiment × setting × seed, and per trained net).

    Args:
        settings: the sizes.
        trained: the trained net(s) of E4–E7.
        grid: a list the last step fills with the rows of the maps grid.
        width_nets: more `fashion_vgg` widths for the width study (E5
            cascading and E6 only, records marked `"study": "width"`).

    Returns:
        The steps.
    """
    from kerasviz import data
    from kerasviz.analysis import experiments as ex

    s = settings
    photos = {}

    def images(size: int) -> np.ndarray:
        if size not in photos:
            photos[size] = data.sample_images(s.image_names, size=size)
        return photos[size]

    names = list(s.image_names)
    with_relevance = (*ex.RULES, *s.relevance_rules)
    steps: list[Step] = []
    for n_filters in s.cnn_filters:
        rules = with_relevance if n_filters == s.reference_filters else ex.RULES
        for seed in s.seeds:
            steps.append(Step(f"E2 CNN N={n_filters} seed {seed}", lambda n=n_filters, seed=seed, rules=rules:
                              ex.e2_random_cnn(images(s.cnn_size), filters=(n,), seeds=(seed,),
                                               num_classes=s.cnn_classes, names=names, rules=rules)))
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
            images(s.vgg_size), seeds=(seed,), num_classes=s.vgg_classes, names=names, rules=with_relevance)))

    nets = [trained] if isinstance(trained, TrainedNet) else list(trained)
    for net in nets:
        steps += _trained_steps(s, net, experiments=("E4", "E5", "E6", "E7"), protocols=s.protocols,
                                relevance_rules=s.relevance_rules)
    for net in width_nets:
        steps += _trained_steps(s, net, experiments=("E5", "E6"), protocols=("part",), study="width")

    def grid_step():
        from kerasviz.visualizer import Visualizer

        rows = []
        for net in nets:
            x, _ = net.images(s.trained_seeds[0], 1)
            rows.append((net, x[0]))
        first, image = rows[0]
        grid.extend(ex.example_maps(
            s.image_names[0], size=s.cnn_size, fc_size=s.fc_size,
            fc_hidden=s.fc_hidden[min(1, len(s.fc_hidden) - 1)], cnn_filters=s.reference_filters,
            vgg_size=s.vgg_size, vgg_classes=s.vgg_classes, trained=(first.model, image), seed=s.seeds[0]))
        grid[-1]["label"] = f"trained\n{first.key}"
        for net, image in rows[1:]:
            maps = Visualizer(net.model, rules=ex.RULES, batch_size=1)(image[None], target="max", progress=False)
            shown = image / 255.0 if net.value_range[1] > 1 else image
            grid.append({"label": f"trained\n{net.key}", "image": shown,
                         "maps": {rule: m[0] for rule, m in maps.items()}})
        return []

    steps.append(Step("figure grid", grid_step))
    return steps


def _trained_steps(s: Settings, net: TrainedNet, *, experiments: Sequence[str], protocols: Sequence[str],
                   study: str | None = None, relevance_rules: Sequence[str] = ()) -> list[Step]:
    """The E4 (trained side)–E7 steps of one trained net; its records carry `net` (and `width`, `study`).

    `relevance_rules` are mapped beside the paper's rules in E5 (cascading
    only: C8's protocol), E6 and E7.
    """
    from kerasviz.analysis import experiments as ex

    with_relevance = (*ex.RULES, *relevance_rules)

    cache: dict[int, tuple[np.ndarray, list[str]]] = {}
    tags: dict[str, Any] = {"net": net.key}
    if net.width is not None:
        tags["width"] = net.width
    if study is not None:
        tags["study"] = study

    def images(seed: int):
        if seed not in cache:
            cache[seed] = net.images(seed, s.trained_images)
        return cache[seed]

    def tagged(run: Callable[[], list[dict]]) -> Callable[[], list[dict]]:
        def step() -> list[dict]:
            records = run()
            for r in records:
                r.update(tags)
            return records
        return step

    steps: list[Step] = []
    if "E4" in experiments:
        for seed in s.trained_seeds:
            def e4(seed=seed):
                x, image_names = images(seed)
                return ex.e4_trained(net.model, x, x=net.center(x), kernel_size=net.kernel_size, seed=seed,
                                     names=image_names)
            steps.append(Step(f"E4 trained {net.key} seed {seed}", tagged(e4), net.key))
    if "E5" in experiments:
        for protocol in protocols:
            for seed in s.trained_seeds:
                def e5(seed=seed, protocol=protocol):
                    x, image_names = images(seed)
                    return ex.e5_randomization(net.model, x, protocols=(protocol,), seeds=(seed,),
                                               names=image_names,
                                               rules=with_relevance if protocol == "part" else ex.RULES)
                steps.append(Step(f"E5 {protocol} {net.key} seed {seed}", tagged(e5), net.key))
    if "E6" in experiments:
        for seed in s.trained_seeds:
            def e6(seed=seed):
                x, image_names = images(seed)
                return ex.e6_class_pairs(net.model, x, pairs=s.class_pairs, seed=seed, names=image_names,
                                         rules=with_relevance)
            steps.append(Step(f"E6 class pairs {net.key} seed {seed}", tagged(e6), net.key))
    if "E7" in experiments:
        for seed in s.trained_seeds:
            def e7(seed=seed):
                x, image_names = images(seed)
                return ex.e7_adversarial(net.model, x, value_range=net.value_range,
                                         fixed_epsilons=s.fixed_epsilons, step=s.fgsm_step,
                                         max_epsilon=s.fgsm_max, seed=seed, names=image_names,
                                         rules=with_relevance)
            steps.append(Step(f"E7 FGSM {net.key} seed {seed}", tagged(e7), net.key))
    return steps


# --------------------------------------------------------------------------- #
# Running                                                                      #
# --------------------------------------------------------------------------- #


def _peak_memory_gb() -> float | None:
    """The peak resident memory of this process so far, in GB (None where `resource` is missing)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def _preamble(settings: Settings, trained: TrainedNet | Sequence[TrainedNet], weights: str, elapsed: float,
              timings, notes: Sequence[str] = (), width_nets: Sequence[TrainedNet] = (),
              net_seconds: dict[str, float] | None = None) -> str:
    nets = [trained] if isinstance(trained, TrainedNet) else list(trained)
    peak = _peak_memory_gb()
    custom = " with settings changed from Python (below)" if settings != MODES.get(settings.mode) else ""
    lines = [
        f"Generated by `kerasviz reproduce --{settings.mode} --weights {weights}`{custom} on "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} ({platform.node() or 'unknown host'}, "
        f"{os.cpu_count()} CPUs) in **{elapsed / 60:.1f} min**"
        + (f", peak memory {peak:.1f} GB." if peak is not None else "."),
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
        "For the Fashion-MNIST nets x is the image as fed, in [0, 1] (28×28×1 for fashion_cnn, zero-padded to "
        "32×32×3 for fashion_vgg; both see the same test images).",
        "",
        "**Trained nets (E4–E7; C8–C10 are reported per net):** "
        + "; ".join(f"`{net.key}`: {net.name}" for net in nets) + ".",
        "",
        f"**Settings ({settings.mode}):** seeds {list(settings.seeds)} × photos {list(settings.image_names)}; "
        f"E2 N ∈ {list(settings.cnn_filters)} at {settings.cnn_size}×{settings.cnn_size}; E1 N_h ∈ "
        f"{list(settings.fc_hidden)} at {settings.fc_size}×{settings.fc_size}×3; random VGG-16 at "
        f"{settings.vgg_size}×{settings.vgg_size}, {settings.vgg_classes} logits; trained-net seeds "
        f"{list(settings.trained_seeds)} × {settings.trained_images} images; E5 protocols "
        f"{list(settings.protocols)}; E6 ≥ {settings.class_pairs} class pairs per image; E7 grid step "
        f"{settings.fgsm_step} grey levels up to {settings.fgsm_max}, fixed ε {list(settings.fixed_epsilons)}/255; "
        f"relevance rules {list(settings.relevance_rules) or 'none'}.",
    ]
    if width_nets or settings.width_study:
        widths = sorted({net.width for net in [*nets, *width_nets] if net.width is not None})
        lines += ["", f"**Width study:** E5 (cascading) and E6 on fashion_vgg widths {widths} "
                  "(same architecture and training, first-block filters = width): "
                  + (", ".join(f"`{net.key}`" for net in width_nets) or "no other width") + " beside `fashion_vgg`."]
    if notes:
        lines += ["", "Not run:", ""] + [f"- {note}" for note in notes]
    if settings.notes:
        lines += ["", "Departures from the paper's setup in this mode:", ""]
        lines += [f"- {note}" for note in settings.notes]
    if timings:
        by_experiment: dict[str, float] = {}
        for label, seconds in timings:
            key = label.split()[0] if label[:1] == "E" else label
            by_experiment[key] = by_experiment.get(key, 0.0) + seconds
        lines += ["", "Time per experiment: " + ", ".join(f"{k} {v:.0f} s" for k, v in by_experiment.items()) + "."]
    if net_seconds:
        lines += ["", "Time per trained net (E4–E7; the width study's nets E5 and E6 only): "
                  + ", ".join(f"{k} {v:.0f} s" for k, v in net_seconds.items()) + "."]
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
        weights: the trained nets: `"trained"` (the shipped ones),
            `"imagenet"` (adds Keras's VGG-16), `"random"` (the untrained
            Fashion-MNIST CNN alone) or a weights file path (see
            `load_trained_nets`). Defaults to `"trained"`.
        out: the output folder. Defaults to `"kerasviz-reproduce"`.
        progress: show a tqdm progress bar over the steps. Defaults to `True`.

    Returns:
        `{"claims", "records", "relevance", "paths", "seconds"}`; `relevance`
        is `relevance_claims.summarize`'s section (None without
        `settings.relevance_rules`).

    Raises:
        WeightsUnavailableError / FileReadError: when the trained net cannot
            be loaded (checked before anything else runs).
        InvalidArgumentError: for `settings.relevance_rules` that are not
            named relevance rules (checked first).
    """
    from tqdm.auto import tqdm

    from kerasviz.analysis import claims as claims_lib
    from kerasviz.analysis import relevance_claims, report

    import tensorflow as tf

    start = time.perf_counter()
    relevance_rules = relevance_claims.check_rules(settings.relevance_rules)
    nets, notes = load_trained_nets(weights, settings)
    width_nets, width_notes = load_width_nets(settings, nets) if settings.width_study else ([], [])
    notes = [*notes, *width_notes]
    # Each step builds new nets, so tf.function's retracing warning would fire on every one.
    tf_logger = tf.get_logger()
    old_level = tf_logger.level
    tf_logger.setLevel("ERROR")
    grid: list = []
    steps = plan(settings, nets, grid, width_nets=width_nets)
    records: list[dict] = []
    timings: list[tuple[str, float]] = []
    net_seconds: dict[str, float] = {}
    bar = tqdm(total=len(steps), desc="reproduce", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        for step in steps:
            bar.set_description(step.label)
            t0 = time.perf_counter()
            records.extend(step.run())
            timings.append((step.label, time.perf_counter() - t0))
            if step.net is not None:
                net_seconds[step.net] = net_seconds.get(step.net, 0.0) + timings[-1][1]
            bar.update(1)
        bar.set_description("report")
        verdicts = claims_lib.evaluate(records)
        relevance = relevance_claims.summarize(records, relevance_rules) if relevance_rules else None
        elapsed = time.perf_counter() - start
        paths = report.write_all(
            out, verdicts, records, grid_rows=grid,
            settings={"mode": settings.mode, "weights": weights,
                      "trained_net": "; ".join(f"{net.key}: {net.name}" for net in nets),
                      "nets": {net.key: net.name for net in [*nets, *width_nets]}, "not_run": notes,
                      "seconds": elapsed, "peak_memory_gb": _peak_memory_gb(), "timings": dict(timings),
                      **dataclasses.asdict(settings)},
            preamble=_preamble(settings, nets, weights, elapsed, timings, notes, width_nets, net_seconds),
            relevance=relevance,
        )
    finally:
        bar.close()
        tf_logger.setLevel(old_level)
    return {"claims": verdicts, "records": records, "relevance": relevance, "paths": paths,
            "seconds": time.perf_counter() - start}


def run(args: argparse.Namespace) -> int:
    """Run `kerasviz reproduce` from parsed arguments; returns the exit status."""
    settings = MODES[args.mode]
    summary = reproduce(settings, weights=args.weights, out=args.out, progress=not args.no_progress)
    for claim in summary["claims"]:
        verdict = "holds" if claim["holds"] else "does not hold"
        net = f" ({claim['net']})" if claim.get("net") else ""
        print(f"{claim['id']:>4}  {verdict:<13}  {claim['claim']}{net}")
    held = sum(c["holds"] for c in summary["claims"])
    paths = summary["paths"]
    ids = {c["id"] for c in summary["claims"]}
    rows = "claims hold" if len(ids) == len(summary["claims"]) else (
        f"claim rows hold ({len(ids)} claims, C8–C10 once per trained net)")
    print(f"{held}/{len(summary['claims'])} {rows} ({summary['seconds'] / 60:.1f} min). "
          f"Wrote {paths['report']}, {paths['html']}, {paths['results']} and {len(paths['figures'])} figures.")
    if args.strict and held < len(summary["claims"]):
        return 1
    return 0


# The command line owns its arguments (`kerasviz.cli`); the names that used to
# live here say where they went (analysis never imports the command line).
_MOVED_TO_CLI = {
    "add_arguments": "kerasviz.cli.add_reproduce_arguments",
    "HELP": "kerasviz.cli.build_parser()",
    "DESCRIPTION": "kerasviz.cli.build_parser()",
}


def __getattr__(name: str):
    if name in _MOVED_TO_CLI:
        raise AttributeError(
            f"kerasviz.analysis.reproduce.{name} was removed: the `kerasviz` command's arguments live "
            f"in kerasviz.cli; use {_MOVED_TO_CLI[name]} instead."
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

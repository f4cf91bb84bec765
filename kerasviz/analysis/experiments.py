"""The paper's experiments E1–E7 (docs/paper.md, setups), as functions that return tidy records.

Every function builds or takes the networks, computes saliency, DeconvNet and
GBP maps with one `kv.Visualizer` (one forward pass shared by the three
rules; E2, E4's random VGG-16 and E5–E7 take `rules=` to add relevance rules
such as `"lrp-zplus"` and `"deeplift"`, whose maps are multiplied by the
sign of their logit before they are measured), measures them with
`kerasviz.analysis.metrics` and returns a list of **records**
(`kerasviz.analysis.records`), one number each:

```python
{"experiment": "E2", "setting": "cnn", "param": 64, "seed": 0, "image": "chelsea",
 "rule": "guided", "metric": "r_image", "value": 0.78, "size": 64}
```

`records.summarize(records, by=("setting", "param", "rule", "metric"))` turns
them into mean ± sd over seeds × images; `kerasviz.analysis.claims` turns them
into the verdicts of C1–C11. The saliency baseline is always computed beside
DeconvNet and GBP.

| function | setup | claims |
|---|---|---|
| `e1_fc_width` | E1: random FC net, N_h sweep, and the CNN (N=64) on the same images | C5 |
| `e2_random_cnn` | E2: random 3-layer CNN, N sweep | C1–C4, C11 |
| `e3_max_pool` | E3: the CNN with and without the 9×9 max-pool | C6 |
| `e4_random_vgg`, `e4_trained` | E4: random VGG-16 (paper init); the trained net | C7 |
| `e5_randomization` | E5: cascading / reverse / independent randomization | C8 |
| `e6_class_pairs` | E6: maps of several classes of one image | C9 |
| `e7_adversarial` | E7: FGSM until the top-1 class flips, and fixed ε | C10 |

**Which x the maps are compared with.** The zoo's RGB networks take raw RGB in
[0, 255] and subtract the ImageNet mean in their first layer, whose gradient
is the identity. So the maps are also the gradients with respect to the
mean-subtracted image, and — as the authors do ("all inputs are RGB minus the
ImageNet mean") — recovery metrics correlate the maps with that
**mean-subtracted x = image − [123.68, 116.779, 103.939]**, and with
x̃ = `metrics.patch_normalized(x, kernel_size)` of the first convolution
(7 for the 3-layer CNN, 3 for VGG-16). For the Fashion-MNIST net, x is the
image as fed, in [0, 1].

**Recovery metrics** (per map; `image_metrics`): `r_image` = M1 r(map, x),
`abs_r_image` = |r(map, x)|, `r_image_demeaned` = r(map − channel means, x),
`r_normalized`/`r_normalized_demeaned` = the same against x̃, `highpass` = M2,
`ssim_image` = M3. **Pair metrics**: `input_independence` (M6, for every pair
of images, one fixed logit); the M4/M5/M7 similarities `spearman_abs`,
`spearman_signed`, `ssim`, `ssim_abs_max`, `hog`.

Example:

```python
import kerasviz as kv
from kerasviz.analysis import experiments, metrics

images = kv.data.sample_images(size=32)
records = experiments.e2_random_cnn(images, filters=(16,), seeds=(0,))
metrics.summarize([r for r in records if r["metric"] == "r_image"], by="rule")
```
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz import _validation
from kerasviz import data as data_lib
from kerasviz import zoo
from kerasviz.analysis import adversarial
from kerasviz.analysis.grid import example_maps  # kept importable from here
from kerasviz.analysis import metrics
from kerasviz.analysis.metrics import image_metrics  # kept importable from here
from kerasviz.analysis.records import Record, record  # `record` kept importable from here
from kerasviz.analysis.theory import theory_curve  # kept importable from here
from kerasviz.errors import InvalidArgumentError, InvalidInputError
from kerasviz.randomization import cascade_steps  # kept importable from here
from kerasviz.randomization import randomized_weights
from kerasviz.rules import RULES, relevance_rules
from kerasviz.targets import random_other_classes
from kerasviz.visualizer import Visualizer

__all__ = [
    "RULES",
    "SIMILARITY_METRICS",
    "cascade_steps",
    "center",
    "classes_for_pairs",
    "e1_fc_width",
    "e2_random_cnn",
    "e3_max_pool",
    "e4_random_vgg",
    "e4_trained",
    "e5_randomization",
    "e6_class_pairs",
    "e7_adversarial",
    "example_maps",
    "image_metrics",
    "record",
    "theory_curve",
]

#: The M4 similarities `map_similarity` returns, recorded by E5–E7.
SIMILARITY_METRICS: tuple[str, ...] = ("spearman_abs", "spearman_signed", "ssim", "ssim_abs_max", "hog")

#: Kernel size of the zoo's 3-layer CNN and of VGG-16's first convolution.
CNN_KERNEL = 7
VGG_KERNEL = 3


# --------------------------------------------------------------------------- #
# Per-map metrics                                                              #
# --------------------------------------------------------------------------- #


def center(images) -> np.ndarray:
    """Raw RGB in [0, 255] minus the ImageNet mean: the x the zoo's RGB nets see.

    Args:
        images: `(..., 3)` raw RGB.

    Returns:
        float64 array, same shape.
    """
    return np.asarray(images, np.float64) - np.asarray(data_lib.IMAGENET_MEAN, np.float64)


def _names(images: np.ndarray, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [f"image{i}" for i in range(len(images))]
    names = [str(n) for n in names]
    if len(names) != len(images):
        raise InvalidInputError(
            f"Give one name per image: {len(images)} images but {len(names)} names. "
            f"Received: names={names!r}"
        )
    return names


def _rgb_images(images, what: str) -> np.ndarray:
    array = np.asarray(images, np.float32)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        raise InvalidInputError(
            f"{what} takes raw RGB images shaped (N, H, W, 3) in [0, 255], e.g. "
            f"kv.data.sample_images(size=64). Received: shape={array.shape}"
        )
    return array


def _random_net_inputs(images, names, seeds, what: str):
    """E1–E4's checked inputs: images, names, seeds and x (the mean-subtracted images)."""
    images = _rgb_images(images, what)
    return images, _names(images, names), _check_seeds(seeds), center(images)


def _check_seeds(seeds) -> tuple[int, ...]:
    if _validation.is_int(seeds):
        return (int(seeds),)
    out = tuple(_validation.seed(s, "seeds") for s in seeds)
    if not out:
        raise InvalidArgumentError(f"Give at least one seed, e.g. seeds=(0,). Received: seeds={seeds!r}")
    return out


def _signed(maps: dict[str, np.ndarray], viz: Visualizer, images: np.ndarray,
            classes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The relevance rules' maps times the sign of their logits (`metrics.signed_by_score`), the others as given.

    `classes` are the explained logits, one per image (`None`: the max logit).
    Without a relevance rule among `maps` no forward pass is run.
    """
    relevance = relevance_rules(tuple(maps))
    if not relevance:
        return maps
    logits = viz.predict(images)
    scores = logits.max(axis=-1) if classes is None else logits[np.arange(len(logits)), classes]
    return {rule: metrics.signed_by_score(m, scores) if rule in relevance else m for rule, m in maps.items()}


def _recovery_records(
    experiment: str,
    setting: str,
    param,
    seed: int,
    names: list[str],
    maps: dict[str, np.ndarray],
    x: np.ndarray,
    x_tilde: np.ndarray | None,
    **extra,
) -> list[Record]:
    out = []
    for i, name in enumerate(names):
        for rule in maps:
            values = image_metrics(maps[rule][i], x[i], None if x_tilde is None else x_tilde[i])
            out.extend(
                record(experiment, setting, param, seed, name, rule, metric, value, **extra)
                for metric, value in values.items()
            )
    return out


def _independence_records(
    experiment: str,
    setting: str,
    param,
    seed: int,
    names: list[str],
    maps: dict[str, np.ndarray],
    reference: np.ndarray | None,
    **extra,
) -> list[Record]:
    """M6 for every pair of images; `reference` (x̃ or x) gives the images' own r."""
    out = []
    for i, j in itertools.combinations(range(len(names)), 2):
        pair = f"{names[i]}|{names[j]}"
        for rule in maps:
            value = metrics.input_independence(maps[rule][i], maps[rule][j])
            out.append(record(experiment, setting, param, seed, pair, rule, "input_independence", value, **extra))
        if reference is not None:
            value = metrics.pearson(reference[i], reference[j])
            out.append(record(experiment, setting, param, seed, pair, "images", "input_independence", value, **extra))
    return out


def _random_net_records(
    build: Callable[[int], keras.Model],
    images: np.ndarray,
    x: np.ndarray,
    x_tilde: np.ndarray | None,
    *,
    experiment: str,
    setting: str,
    param,
    seeds: Sequence[int],
    names: list[str],
    independence_class: int | None,
    batch_size: int = 8,
    rules: Sequence[str] = RULES,
    **extra,
) -> list[Record]:
    out = []
    for seed in seeds:
        out += _one_random_net(build(seed), images, x, x_tilde, experiment=experiment, setting=setting,
                               param=param, seed=seed, names=names, independence_class=independence_class,
                               batch_size=batch_size, rules=rules, **extra)
        # A Keras model and its Visualizer form reference cycles: only the cyclic
        # collector frees them, so without this the previous net (3.4 GB for the
        # 70k-unit FC) is still alive while the next one is built.
        gc.collect()
    return out


def _one_random_net(net, images, x, x_tilde, *, experiment, setting, param, seed, names, independence_class,
                    batch_size, rules, **extra) -> list[Record]:
    viz = Visualizer(net, rules=tuple(rules), batch_size=batch_size)
    maps = _signed(viz(images, target="max", progress=False), viz, images)
    out = _recovery_records(experiment, setting, param, seed, names, maps, x, x_tilde, **extra)
    if independence_class is not None and len(images) > 1:
        fixed_class = np.full(len(images), int(independence_class))
        fixed = _signed(viz(images, target=int(independence_class), progress=False), viz, images, fixed_class)
        reference = x_tilde if x_tilde is not None else x
        out += _independence_records(experiment, setting, param, seed, names, fixed, reference, **extra)
    return out


# --------------------------------------------------------------------------- #
# E1–E4: random networks                                                       #
# --------------------------------------------------------------------------- #


def e1_fc_width(
    images,
    hidden: Sequence[int] = (1000, 5000, 20000, 70000),
    seeds: Sequence[int] = (0,),
    *,
    num_classes: int = 10,
    cnn_filters: int | None = 64,
    names: Sequence[str] | None = None,
) -> list[Record]:
    """E1: GBP recovery of a random fully connected net vs its width N_h.

    For every `N_h` in `hidden` and every seed, builds `kv.zoo.fc3(N_h)` at
    the images' size and records M1–M3 of the three rules' max-logit maps
    (setting `"fc"`, `param` = N_h, extra key `input_dim` = H·W·3, the `d` of
    S = N_h/(π²d)). With `cnn_filters`, the random 3-layer CNN with that many
    filters runs on the same images and seeds (setting `"cnn"`), so that C5
    compares the two at the same size.

    Args:
        images: raw RGB `(N, H, W, 3)` in [0, 255].
        hidden: the hidden widths N_h. Defaults to the paper's
            `(1000, 5000, 20000, 70000)` (for 64×64; 70k needs 3.4 GB).
        seeds: network seeds. Defaults to `(0,)`.
        num_classes: logits of the nets (a logit's map does not depend on
            the others). Defaults to `10`.
        cnn_filters: filters of the comparison CNN, or `None` to skip it.
            Defaults to `64`.
        names: one name per image. Defaults to `image0`, `image1`, ...

    Returns:
        A list of records (experiment `"E1"`).

    Example:

    ```python
    experiments.e1_fc_width(kv.data.sample_images(size=32), hidden=(250, 1250))
    ```
    """
    images, names, seeds, x = _random_net_inputs(images, names, seeds, "e1_fc_width")
    shape = tuple(images.shape[1:])
    size = shape[0]
    out: list[Record] = []
    for width in hidden:
        out += _random_net_records(
            lambda seed, width=width: zoo.fc3(hidden=width, input_shape=shape, num_classes=num_classes, seed=seed),
            images, x, None, experiment="E1", setting="fc", param=int(width), seeds=seeds,
            names=names, independence_class=None, size=size, input_dim=int(np.prod(shape)),
        )
    if cnn_filters is not None:
        x_tilde = metrics.patch_normalized_box(x, CNN_KERNEL)
        out += _random_net_records(
            lambda seed: zoo.cnn3(filters=cnn_filters, input_shape=shape, num_classes=num_classes, seed=seed),
            images, x, x_tilde, experiment="E1", setting="cnn", param=int(cnn_filters), seeds=seeds,
            names=names, independence_class=None, size=size,
        )
    return out


def e2_random_cnn(
    images,
    filters: Sequence[int] = (1, 4, 16, 64, 256),
    seeds: Sequence[int] = (0,),
    *,
    num_classes: int = 10,
    independence_class: int | None = 0,
    names: Sequence[str] | None = None,
    rules: Sequence[str] = RULES,
) -> list[Record]:
    """E2: the random 3-layer CNN (7×7 conv, N filters, zero biases) vs N.

    Records M1–M3 of the max-logit maps (setting `"cnn"`, `param` = N) and
    M6 for every pair of images with one fixed logit (`independence_class`),
    plus the images' own correlation r(x̃_i, x̃_j) under rule `"images"` (the
    level a map that only recovered x̃ would reach).

    Args:
        images: raw RGB `(N, H, W, 3)` in [0, 255]; any size (the theory does
            not depend on it; the paper uses 224×224).
        filters: the filter counts N. Defaults to `(1, 4, 16, 64, 256)`.
        seeds: network seeds. Defaults to `(0,)`.
        num_classes: logits (the dense layer has H·W·N·num_classes weights).
            Defaults to `10`.
        independence_class: the logit whose maps M6 compares, or `None` to
            skip M6. Defaults to `0`.
        names: one name per image. Defaults to `image0`, ...
        rules: the rules mapped, in one `kv.Visualizer` (one forward pass):
            the paper's three, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`...) whose maps are multiplied by the sign of their
            logit (`metrics.signed_by_score`). Defaults to `RULES`.

    Returns:
        A list of records (experiment `"E2"`).

    Example:

    ```python
    records = experiments.e2_random_cnn(kv.data.sample_images(size=32), filters=(16,))
    ```
    """
    images, names, seeds, x = _random_net_inputs(images, names, seeds, "e2_random_cnn")
    shape = tuple(images.shape[1:])
    x_tilde = metrics.patch_normalized_box(x, CNN_KERNEL)
    out: list[Record] = []
    for n_filters in filters:
        out += _random_net_records(
            lambda seed, n=n_filters: zoo.cnn3(filters=n, input_shape=shape, num_classes=num_classes, seed=seed),
            images, x, x_tilde, experiment="E2", setting="cnn", param=int(n_filters), seeds=seeds,
            names=names, independence_class=independence_class, size=shape[0], rules=rules,
        )
    return out


def e3_max_pool(
    images,
    filters: int = 64,
    seeds: Sequence[int] = (0,),
    *,
    num_classes: int = 10,
    independence_class: int | None = 0,
    names: Sequence[str] | None = None,
) -> list[Record]:
    """E3: the random CNN with the 9×9 stride-1 max-pool (setting `"cnn_maxpool"`) vs without (`"cnn"`).

    Both nets share seeds and images; the records are those of
    `e2_random_cnn` (experiment `"E3"`, `param` = N). C6 reads M2
    (`highpass`) of DeconvNet, which the pool's switches make image-like.

    Args:
        images: raw RGB `(N, H, W, 3)` in [0, 255].
        filters: N. Defaults to `64`.
        seeds: network seeds. Defaults to `(0,)`.
        num_classes: logits. Defaults to `10`.
        independence_class: the logit of M6, or `None`. Defaults to `0`.
        names: one name per image.

    Returns:
        A list of records (experiment `"E3"`).
    """
    images, names, seeds, x = _random_net_inputs(images, names, seeds, "e3_max_pool")
    shape = tuple(images.shape[1:])
    x_tilde = metrics.patch_normalized_box(x, CNN_KERNEL)
    out: list[Record] = []
    for pool in (False, True):
        out += _random_net_records(
            lambda seed, pool=pool: zoo.cnn3(
                filters=filters, max_pool=pool, input_shape=shape, num_classes=num_classes, seed=seed
            ),
            images, x, x_tilde, experiment="E3", setting="cnn_maxpool" if pool else "cnn",
            param=int(filters), seeds=seeds, names=names, independence_class=independence_class,
            size=shape[0],
        )
    return out


def e4_random_vgg(
    images,
    seeds: Sequence[int] = (0,),
    *,
    num_classes: int = 10,
    init: str = "paper",
    names: Sequence[str] | None = None,
    rules: Sequence[str] = RULES,
) -> list[Record]:
    """E4: recovery by a random VGG-16 (the paper's init unless `init="keras"`).

    Records M1–M3 of the max-logit maps against x and x̃ (3×3 patches, the
    first convolution's), setting `"vgg16_random"`.

    Args:
        images: raw RGB `(N, H, W, 3)` in [0, 255], at least 32×32 (the top
            adapts: `flatten` sees (H/32)·(W/32)·512 values).
        seeds: network seeds. Defaults to `(0,)`.
        num_classes: logits. Defaults to `10` (the paper: 1000).
        init: `"paper"` (TruncatedNormal std 0.1, dense biases 1) or `"keras"`.
            Defaults to `"paper"`.
        names: one name per image.
        rules: the rules mapped, in one `kv.Visualizer` (one forward pass):
            the paper's three, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`...) whose maps are multiplied by the sign of their
            logit (`metrics.signed_by_score`). Defaults to `RULES`.

    Returns:
        A list of records (experiment `"E4"`).
    """
    images, names, seeds, x = _random_net_inputs(images, names, seeds, "e4_random_vgg")
    shape = tuple(images.shape[1:])
    x_tilde = metrics.patch_normalized_box(x, VGG_KERNEL)
    return _random_net_records(
        lambda seed: zoo.vgg16(init=init, input_shape=shape, num_classes=num_classes, seed=seed),
        images, x, x_tilde, experiment="E4", setting="vgg16_random", param=None, seeds=seeds,
        names=names, independence_class=None, batch_size=4, size=shape[0], rules=rules,
    )


def e4_trained(
    model: keras.Model,
    images,
    *,
    x: np.ndarray | None = None,
    kernel_size: int | None = 3,
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> list[Record]:
    """E4, trained side: M1–M3 of the trained net's maps (setting `"trained"`).

    Args:
        model: the trained net (returns logits).
        images: images as the model takes them.
        x: what its first weight layer sees (e.g. `center(images)` for the
            zoo's VGG-16). Defaults to `None`: the images themselves (right
            for the Fashion-MNIST net).
        kernel_size: first convolution's kernel for x̃, or `None`. Defaults to `3`.
        seed: the image-set seed recorded. Defaults to `0`.
        names: one name per image.

    Returns:
        A list of records (experiment `"E4"`).
    """
    images = np.asarray(images, np.float32)
    names = _names(images, names)
    x = np.asarray(images if x is None else x, np.float64)
    x_tilde = None if kernel_size is None else metrics.patch_normalized_box(x, kernel_size)
    maps = Visualizer(model, rules=RULES, batch_size=8)(images, target="max", progress=False)
    return _recovery_records("E4", "trained", None, seed, names, maps, x, x_tilde, size=images.shape[1])


# --------------------------------------------------------------------------- #
# E5: layer-wise randomization                                                 #
# --------------------------------------------------------------------------- #


class _RandomizedMaps:
    """Maps of randomized copies of one model, from one working copy and one compiled Visualizer.

    Each step's weights are those of `kv.zoo.randomize(model, layers, seed,
    init)`; they are written into the working copy (whose Visualizer keeps its
    compiled functions) instead of building and tracing a new model per step.
    A layer's random values depend only on (seed, layer, init), so a layer
    that stays random from one step to the next is left as it is.
    """

    def __init__(self, model: keras.Model, rules: Sequence[str] = RULES):
        self.model = model
        self.work = zoo.randomize(model, [])
        self.layers = zoo.weight_layers(self.work)
        self.trained = [layer.get_weights() for layer in zoo.weight_layers(model)]
        self.random: dict[int, tuple[int, str]] = {}  # layer index -> (seed, init) of its values
        self.viz = Visualizer(self.work, rules=tuple(rules), batch_size=16)

    def __call__(self, layers, seed, init, images, classes) -> dict[str, np.ndarray]:
        wanted = {int(i) % len(self.layers) for i in layers}  # indices into weight_layers
        for index in [i for i, state in self.random.items() if i not in wanted or state != (seed, init)]:
            self.layers[index].set_weights(self.trained[index])
            del self.random[index]
        new = sorted(wanted - set(self.random))
        for index, values in randomized_weights(self.model, new, seed=seed, init=init).items():
            self.layers[index].set_weights(values)
            self.random[index] = (seed, init)
        return _signed(self.viz(images, target=classes, progress=False), self.viz, images, classes)


def _lowest_block_and_head(model: keras.Model) -> tuple[set[int], set[int]]:
    """Indices (into `weight_layers`) of the first conv block and of the dense head.

    The first block is the layers named `block1_*` (VGG-16 and the
    Fashion-MNIST net), else the first weight layer; the head is every
    `Dense` layer.
    """
    layers = zoo.weight_layers(model)
    lowest = {i for i, layer in enumerate(layers) if layer.name.startswith("block1_")} or {0}
    head = {i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)}
    return lowest, head


def e5_randomization(
    model: keras.Model,
    images,
    protocols: Sequence[str] = ("part",),
    seeds: Sequence[int] = (0,),
    *,
    init: str = "paper",
    names: Sequence[str] | None = None,
    on_step: Callable[[str], None] | None = None,
    rules: Sequence[str] = RULES,
) -> list[Record]:
    """E5: similarity of each rule's map to the trained net's as layers are randomized.

    For every protocol step (`cascade_steps`) and seed, a copy of `model`
    with those layers re-initialized (`kv.zoo.randomize`, `init`) gives maps
    for the trained net's top-1 class of each image (the same logit as the
    trained map, so only the weights change); they are compared with the
    trained net's maps by M4 (`SIMILARITY_METRICS`). Records: setting = the
    protocol, `param` = k, extra keys `layer` (the label of the step),
    `step` (its position), `randomized` (how many layers are random),
    `lowest_trained` (the first conv block, `block1_*` or else layer 0, is
    still trained) and `head_random` (exactly the dense layers are random).

    Args:
        model: the trained net (returns logits). Left untouched.
        images: images as the model takes them.
        protocols: any of `"part"`, `"reverse"`, `"only"`. Defaults to
            `("part",)` (cascading randomization, C8).
        seeds: seeds of the random weights. Defaults to `(0,)`.
        init: `"paper"` or `"keras"` (see `kv.zoo.randomize`). Defaults to
            `"paper"`.
        names: one name per image.
        on_step: called with a description after each randomized model.
        rules: the rules mapped, in one `kv.Visualizer` (one forward pass):
            the paper's three, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`...) whose maps are multiplied by the sign of their
            logit in its own net (`metrics.signed_by_score`). Defaults to `RULES`.

    Returns:
        A list of records (experiment `"E5"`).
    """
    images = np.asarray(images, np.float32)
    names = _names(images, names)
    seeds = _check_seeds(seeds)
    lowest, head = _lowest_block_and_head(model)
    viz = Visualizer(model, rules=tuple(rules), batch_size=16)
    classes = viz.predict(images).argmax(axis=-1).astype(np.int64)
    trained = _signed(viz(images, target=classes, progress=False), viz, images, classes)
    randomized = _RandomizedMaps(model, rules)
    out: list[Record] = []
    for protocol in protocols:
        steps = cascade_steps(model, protocol)
        for seed in seeds:
            for position, (k, layers, label) in enumerate(steps):
                maps = randomized(layers, seed, init, images, classes)
                for i, name in enumerate(names):
                    for rule in trained:
                        sim = metrics.map_similarity(trained[rule][i], maps[rule][i])
                        out.extend(
                            record("E5", protocol, k, seed, name, rule, metric, sim[metric],
                                   layer=label, step=position, randomized=len(layers),
                                   lowest_trained=not lowest & set(layers),
                                   head_random=set(layers) == head)
                            for metric in SIMILARITY_METRICS
                        )
                if on_step is not None:
                    on_step(f"E5 {protocol} k={k} seed={seed}")
    return out


# --------------------------------------------------------------------------- #
# E6: class insensitivity                                                      #
# --------------------------------------------------------------------------- #


def classes_for_pairs(num_classes: int, pairs: int) -> int:
    """The fewest classes K whose K(K−1)/2 pairs reach `pairs` (at most `num_classes`)."""
    k = 2
    while k * (k - 1) // 2 < pairs and k < num_classes:
        k += 1
    return min(k, num_classes)


def e6_class_pairs(
    model: keras.Model,
    images,
    pairs: int = 20,
    *,
    seed: int = 0,
    names: Sequence[str] | None = None,
    rules: Sequence[str] = RULES,
) -> list[Record]:
    """E6: M5 similarity between maps of different classes of the same image.

    Per image, K classes are explained: the top-1 class and K−1 others drawn
    at random (seeded), K the fewest with K(K−1)/2 ≥ `pairs`; every pair of
    the K maps is compared (M5 = M4 on a class pair). Records: setting
    `"class_pairs"`, `param` = K, extra keys `pair` (`"a-b"`) and `with_max`
    (whether one of the two is the top-1 class).

    Args:
        model: the trained net (returns logits).
        images: images as the model takes them.
        pairs: the least number of class pairs per image. Defaults to `20`
            (docs/paper.md, setup E6: ≥ 20). With 10 classes, 45 gives every pair.
        seed: seed of the class draw. Defaults to `0`.
        names: one name per image.
        rules: the rules mapped, in one `kv.Visualizer` (one forward pass):
            the paper's three, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`...) whose maps are multiplied by the sign of their
            logit (`metrics.signed_by_score`). Defaults to `RULES`.

    Returns:
        A list of records (experiment `"E6"`).
    """
    images = np.asarray(images, np.float32)
    names = _names(images, names)
    viz = Visualizer(model, rules=tuple(rules), batch_size=16)
    num_classes = viz.num_classes
    if num_classes < 2:
        raise InvalidInputError(
            f"E6 needs a model with at least 2 classes. Received: num_classes={num_classes}"
        )
    k = classes_for_pairs(num_classes, int(pairs))
    predicted = viz.predict(images).argmax(axis=-1)
    others = random_other_classes(predicted, num_classes, k - 1, seed)
    classes = np.concatenate([predicted[:, None], others], axis=1).astype(np.int64)
    per_class = [_signed(viz(images, target=classes[:, j], progress=False), viz, images, classes[:, j])
                 for j in range(k)]
    out: list[Record] = []
    for i, name in enumerate(names):
        for a, b in itertools.combinations(range(k), 2):
            pair = f"{classes[i, a]}-{classes[i, b]}"
            for rule in per_class[a]:
                sim = metrics.class_pair_similarity(per_class[a][rule][i], per_class[b][rule][i])
                out.extend(
                    record("E6", "class_pairs", k, seed, name, rule, metric, sim[metric],
                           pair=pair, with_max=a == 0)
                    for metric in SIMILARITY_METRICS
                )
    return out


# --------------------------------------------------------------------------- #
# E7: adversarial stability                                                    #
# --------------------------------------------------------------------------- #


def e7_adversarial(
    model: keras.Model,
    images,
    *,
    value_range: Sequence[float] = (0.0, 1.0),
    fixed_epsilons: Sequence[float] = adversarial.FIXED_EPSILONS,
    step: float = 0.2,
    max_epsilon: float = 64.0,
    seed: int = 0,
    names: Sequence[str] | None = None,
    rules: Sequence[str] = RULES,
) -> list[Record]:
    """E7: M7 similarity between the maps of x and of an FGSM x_adv.

    The images are first rounded to uint8 levels. `adversarial.minimal_fgsm`
    finds, per image, the smallest ε on a grid of `step` grey levels that
    flips the top-1 class *after* rounding x_adv to uint8 (setting
    `"fgsm_min"`); each fixed ε (grey levels, setting `"fgsm_fixed"`,
    `param` = ε) is applied too, flipped or not. Each map is taken for its own
    image's max logit. Similarity records (rules) have the M4 metrics; the
    attack itself is recorded under rule `"attack"`: `epsilon` and
    `epsilon_float` (grey levels; before/after the uint8 check), `linf`
    (‖x_adv − x‖∞ in grey levels, measured after rounding), `class_x`,
    `class_adv`, `flipped` (1/0). Images that never flip up to
    `max_epsilon` get no `"fgsm_min"` similarity records.

    Args:
        model: the trained net (returns logits).
        images: images as the model takes them, on the scale of `value_range`.
        value_range: `(low, high)`: `(0, 1)` for Fashion-MNIST, `(0, 255)` for
            raw RGB. Defaults to `(0, 1)`.
        fixed_epsilons: fixed budgets in grey levels. Defaults to `(1, 2, 4, 8)`.
        step: grid step in grey levels. Defaults to `0.2`.
        max_epsilon: the largest ε tried, in grey levels. Defaults to `64`.
        seed: the image-set seed recorded. Defaults to `0`.
        names: one name per image.
        rules: the rules mapped, in one `kv.Visualizer` (one forward pass):
            the paper's three, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`...) whose maps are multiplied by the sign of their
            logit (`metrics.signed_by_score`). Defaults to `RULES`.

    Returns:
        A list of records (experiment `"E7"`).
    """
    lo, hi = (float(v) for v in value_range)
    level = (hi - lo) / 255.0
    x = adversarial.quantize(images, (lo, hi))
    names = _names(x, names)
    viz = Visualizer(model, rules=tuple(rules), batch_size=16)
    maps_x = _signed(viz(x, target="max", progress=False), viz, x)
    result = adversarial.minimal_fgsm(model, x, value_range=(lo, hi), step=step, max_epsilon=max_epsilon)
    out: list[Record] = []
    for i, name in enumerate(names):
        attack = {
            "epsilon": result.epsilon[i] / level,
            "epsilon_float": result.epsilon_float[i] / level,
            "linf": result.linf[i] / level,
            "class_x": result.class_x[i],
            "class_adv": result.class_adv[i],
            "flipped": float(result.flipped[i]),
        }
        out.extend(record("E7", "fgsm_min", None, seed, name, "attack", m, v) for m, v in attack.items())
    flipped = np.flatnonzero(result.flipped)
    if flipped.size:
        maps_adv = _signed(viz(result.x_adv[flipped], target="max", progress=False), viz, result.x_adv[flipped])
        for row, i in enumerate(flipped):
            for rule in maps_x:
                sim = metrics.adversarial_stability(
                    maps_x[rule][i], maps_adv[rule][row], epsilon=float(result.epsilon[i]),
                    linf=float(result.linf[i]), class_x=int(result.class_x[i]),
                    class_adv=int(result.class_adv[i]),
                )
                out.extend(
                    record("E7", "fgsm_min", None, seed, names[i], rule, m, sim[m],
                           epsilon=sim["epsilon"] / level, class_x=sim["class_x"], class_adv=sim["class_adv"])
                    for m in SIMILARITY_METRICS
                )
    direction = adversarial.fgsm_direction(model, x)
    for eps in fixed_epsilons:
        x_adv, flips = adversarial.fgsm(model, x, float(eps) * level, value_range=(lo, hi), direction=direction)
        maps_adv = _signed(viz(x_adv, target="max", progress=False), viz, x_adv)
        for i, name in enumerate(names):
            out.append(record("E7", "fgsm_fixed", float(eps), seed, name, "attack", "flipped", float(flips[i])))
            for rule in maps_x:
                sim = metrics.map_similarity(maps_x[rule][i], maps_adv[rule][i])
                out.extend(
                    record("E7", "fgsm_fixed", float(eps), seed, name, rule, m, sim[m])
                    for m in SIMILARITY_METRICS
                )
    return out

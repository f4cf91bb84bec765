"""`kerasviz explain`'s checks that run before TensorFlow loads: a wrong argument fails in a moment.

Everything that can be known from the command line, the file system and a
store's own `zarr.json` is checked here, with the standard library, NumPy
and kerasviz's TF-free modules only (`names`, `errors`, the store's lock):

- unknown rules (`--rules gpb`), normalizations and models; `--weights` or
  `--unsafe` with a model they do not apply to; method options given with
  another method; `--size` that is malformed or that a named model cannot
  take; image files that do not exist;
- flags that do not apply: `--workers` or `--ray-address` without
  `--engine ray`; the dataset-job flags (`--engine`, `--batch-size`,
  `--dtype`, `--on-error`, `--restart`) on a PNG-grid run;
- a dataset job refused by its store: another live job holds the lock, the
  path holds something else, or the store was made with other settings
  among those known before the model loads (layout version, rules, dtype,
  batch size, seed, activations); the job itself compares the rest.

Example:

```python
args = build_parser().parse_args(["explain", "--rules", "gpb"])
check_explain(args)   # UnknownRuleError: Unknown rule 'gpb'. ... Received: --rules gpb
```
"""

from __future__ import annotations

import argparse
import glob
import json
import os

from kerasviz import names
from kerasviz.errors import FileReadError, InvalidArgumentError, StoreSettingsError, UnknownRuleError

# Keras application models by command-line name: (constructor, preprocess module, ImageNet side, min side).
APPLICATIONS = {
    "vgg19": ("VGG19", "vgg19", 224, 32),
    "resnet50": ("ResNet50", "resnet", 224, 32),
    "resnet50v2": ("ResNet50V2", "resnet_v2", 224, 32),
    "densenet121": ("DenseNet121", "densenet", 224, 32),
    "inceptionv3": ("InceptionV3", "inception_v3", 299, 75),
    "xception": ("Xception", "xception", 299, 71),
    "mobilenet": ("MobileNet", "mobilenet", 224, 32),
    "mobilenetv2": ("MobileNetV2", "mobilenet_v2", 224, 32),
}
#: The trained Fashion-MNIST nets: their one input shape (height, width, channels); they take [0, 1].
FASHION_MODELS = {"fashion_cnn": (28, 28, 1), "fashion_vgg": (32, 32, 3)}
MODEL_NAMES = ("vgg16", *FASHION_MODELS, *APPLICATIONS)
METHOD_NAMES = names.METHOD_NAMES
SMOOTH = {"smoothgrad": "mean", "squaregrad": "square", "vargrad": "var"}
#: Each method option and the methods it belongs to.
METHOD_OPTIONS = {
    "samples": tuple(SMOOTH),
    "noise": tuple(SMOOTH),
    "steps": ("ig",),
    "layer": ("gradcam", "gradcampp", "guided-gradcam", "layercam", "scorecam"),
}
#: Options of dataset jobs only, with their defaults.
DATASET_OPTIONS = {"engine": "local", "batch_size": 32, "dtype": "float16", "on_error": "raise", "restart": False}
SIZE_HELP = "--size is one side (224), HxW (224x160) or H W (224 160), in pixels"


def check_explain(args: argparse.Namespace) -> tuple[int, int] | None:
    """Check `kerasviz explain`'s arguments without TensorFlow; returns the `--size` asked for.

    Raises:
        KerasvizError: the first problem found (see the module docstring).
    """
    rule_names(args.rules)
    if args.normalize not in names.NORMALIZATION_NAMES:
        raise InvalidArgumentError(
            f"--normalize is one of {', '.join(names.NORMALIZATION_NAMES)}. Received: --normalize {args.normalize}"
        )
    _check_out(args.out)
    _check_model(args)
    check_method_options(args)
    size = parse_size(args.size)
    _check_named_model_size(args.model, args.weights, size, args.size)
    dataset = is_dataset_job(args)
    _check_flags(args, dataset)
    if dataset:
        check_store(args)
    else:
        for image in args.images:
            if not os.path.isfile(image):
                raise FileReadError(
                    f"No image file {image!r}: pass existing image files, a folder, or a quoted glob "
                    f"pattern. Received: {image}")
    return size


def rule_names(rules) -> tuple[str, ...]:
    """The canonical names of `--rules`, in order, each once (`gbp saliency` or `gbp,saliency`).

    Raises:
        UnknownRuleError: for a name that is no built-in rule, alias or named relevance rule.

    Example:

    ```python
    rule_names(["gbp", "lrp-epsilon-plus-flat,deeplift"])  # ('guided', 'lrp-epsilon-plus-flat', 'deeplift')
    ```
    """
    canonical = []
    for rule in (part for text in rules for part in text.split(",") if part):
        name = names.RULE_ALIASES.get(rule.lower(), rule.lower())
        if name not in names.RULE_NAMES + names.RELEVANCE_RULE_NAMES:
            known = ", ".join(repr(n) for n in names.RULE_NAMES)
            aliases = ", ".join(repr(a) for a in names.RULE_ALIASES)
            relevance = ""
            if rule.lower().startswith(("lrp", "deep")):  # a relevance rule was meant, as the library says
                relevance = "; relevance rules " + ", ".join(repr(n) for n in names.RELEVANCE_RULE_NAMES)
            raise UnknownRuleError(
                f"Unknown rule {rule!r}. Known rules: {known} (aliases {aliases}){relevance}. "
                f"Received: --rules {' '.join(rules)}"
            )
        canonical.append(name)
    return tuple(dict.fromkeys(canonical))


def check_method_options(args: argparse.Namespace) -> None:
    """Refuse a method option given with a method it does not belong to."""
    name = getattr(args, "method", None) or "gradient"
    for option, users in METHOD_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None and name not in users:
            raise InvalidArgumentError(
                f"--{option} is an option of --method {' | '.join(users)}. "
                f"Received: --{option} {value} with --method {name}"
            )


def parse_size(size_text) -> tuple[int, int] | None:
    """`--size` as (height, width), or None when not given."""
    if size_text is None:
        return None
    parts = size_text[0].lower().split("x") if len(size_text) == 1 else list(size_text)
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InvalidArgumentError(f"{SIZE_HELP}. Received: --size {' '.join(size_text)}")
    return int(parts[0]), int(parts[1])


def is_dataset_job(args: argparse.Namespace) -> bool:
    """Whether `kerasviz explain` runs as a dataset job (a folder or glob, or `--out *.zarr`)."""
    if str(args.out).rstrip("/").endswith(".zarr"):
        return True
    return len(args.images) == 1 and (
        os.path.isdir(args.images[0]) or (glob.has_magic(args.images[0]) and not os.path.exists(args.images[0]))
    )


def store_path(args: argparse.Namespace) -> str:
    """Where a dataset job writes: `--out` if it ends in `.zarr`, else `OUT/maps.zarr`."""
    out = str(args.out).rstrip("/")
    return out if out.endswith(".zarr") else os.path.join(out, "maps.zarr")


def check_store(args: argparse.Namespace) -> None:
    """Refuse, before the model loads, a dataset job its store would refuse.

    Raises:
        InvalidArgumentError: without images.
        StoreError: if a live job holds the store's lock, or the path holds
            something other than a map store.
        StoreSettingsError: if the store was made with other settings among
            those the command line alone gives.
    """
    from kerasviz.datasets.lock import JobLock
    from kerasviz.datasets.store import FORMAT, LOCK_NAME, is_url

    if not args.images:
        raise InvalidArgumentError(
            "A dataset job needs images: a folder, a glob pattern or files. Received: no images"
        )
    path = store_path(args)
    if is_url(path) or not os.path.isdir(path):
        return
    JobLock(path).check()
    metadata = os.path.join(path, "zarr.json")
    if args.restart or not os.path.isfile(metadata):
        return  # a folder of other files: the job says so
    try:
        with open(metadata) as f:
            info = json.load(f).get("attributes", {}).get("kerasviz")
    except (OSError, ValueError):
        return  # the job reports what it finds
    if not isinstance(info, dict):
        return
    if info.get("format") != FORMAT:
        return  # the job's message (layout version) is the one to read
    known = {"rules": list(rule_names(args.rules)), "dtype": args.dtype, "batch_size": args.batch_size,
             "seed": args.seed, "activations": args.activations}
    before = info.get("settings", {})
    differ = [k for k in known if k in before and before[k] != known[k]]
    if differ:
        text = "; ".join(f"{k} was {_text(before[k])}, now {_text(known[k])}" for k in differ)
        raise StoreSettingsError(
            f"The store {path!r} holds maps made with other settings ({text}). Its maps and the new "
            f"ones would not belong together. Pass restart=True (command line: --restart) to delete "
            f"it and start over, or write to another path. Received: store={path!r}"
        )


def _text(value) -> str:  # as the store's own settings check writes values
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _check_out(out: str) -> None:
    probe = os.path.abspath(out)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise InvalidArgumentError(
            f"--out is the folder the maps go to, but {probe!r} is a file. Pass another "
            f"path. Received: --out {out}"
        )


def _check_model(args: argparse.Namespace) -> None:
    if args.model in MODEL_NAMES:
        if args.unsafe:
            raise InvalidArgumentError(
                f"--unsafe is for .keras files (it lets them run stored code); a named model has none. "
                f"Received: --unsafe with --model {args.model}"
            )
        return
    if args.weights is not None:
        raise InvalidArgumentError(
            f"--weights is for the named models ({', '.join(MODEL_NAMES)}); a .keras file "
            f"holds its own weights. Received: --weights {args.weights} with --model {args.model}"
        )
    if not args.model.endswith(".keras") or not os.path.isfile(args.model):
        raise FileReadError(
            f"--model is a model name ({', '.join(MODEL_NAMES)}) or an existing "
            f".keras file. Received: --model {args.model}"
        )


def _check_named_model_size(model: str, weights: str | None, size, size_text) -> None:
    """A named model is built at `--size`, within what its architecture and weights allow."""
    if size is None or model not in MODEL_NAMES:
        return
    given = f"Received: --size {' '.join(size_text)} with --model {model}"
    if model in FASHION_MODELS:
        side = FASHION_MODELS[model][:2]
        if size != side:
            raise InvalidArgumentError(
                f"--model {model} takes {side[0]}x{side[1]} images only (its dense layers are sized for "
                f"them); leave out --size or pass --size {side[0]}. {given}"
            )
        return
    default, smallest = (224, 32) if model == "vgg16" else APPLICATIONS[model][2:]
    if weights not in (None, "random") and size != (default, default):
        raise InvalidArgumentError(
            f"--model {model} with --weights {weights} takes {default}x{default} images (the weights' "
            f"dense layers are sized for them); random weights build at any --size from {smallest}. {given}"
        )
    if min(size) < smallest:
        raise InvalidArgumentError(f"--model {model} takes images of at least {smallest}x{smallest}. {given}")


def _check_flags(args: argparse.Namespace, dataset: bool) -> None:
    """Say so when a flag would have no effect."""
    if args.engine != "ray":
        for option in ("workers", "ray_address"):
            if getattr(args, option, None) is not None:
                raise InvalidArgumentError(
                    f"--{option.replace('_', '-')} applies to --engine ray only (Ray actors). "
                    f"Received: --{option.replace('_', '-')} {getattr(args, option)} with --engine {args.engine}"
                )
    if not dataset:
        for option, default in DATASET_OPTIONS.items():
            value = getattr(args, option, default)
            if value != default:
                flag = f"--{option.replace('_', '-')}"
                shown = flag if value is True else f"{flag} {value}"
                raise InvalidArgumentError(
                    f"{flag} applies to dataset jobs only (a folder or glob of images, or --out ending in "
                    f".zarr); this run writes a PNG grid. Received: {shown}"
                )

"""The `kerasviz` command: its parser, its subcommands and its console output.

`kerasviz explain` writes saliency, DeconvNet and GBP maps of images as a
paper-style PNG grid and the raw maps as `.npz`. With no arguments it runs
offline: four scikit-image sample photos at 224×224 through VGG-16 with the
paper's random initialization. `kerasviz reproduce` runs the paper's
experiments (`kerasviz.analysis.reproduce`). `kerasviz view` shows a map
store in a browser (`kerasviz.view`; it loads no TensorFlow).

This module owns every subcommand's arguments (one `add_*_arguments`
function each, registered in `_COMMANDS`) and builds the parser with the
standard library alone: `--help` loads no TensorFlow. Each command imports
what it needs when it runs; `main` first imports TensorFlow with its C++
start-up lines silenced (unless `TF_CPP_MIN_LOG_LEVEL` is set).

Example:

```bash
kerasviz explain                                   # the embedded defaults
kerasviz explain cat.jpg --weights imagenet        # needs Keras's download
kerasviz explain x.png --model my_model.keras --rules gbp saliency --target 3
kerasviz explain --method guided-gradcam --rules gbp  # Guided Grad-CAM (also smoothgrad, ig, gradcam...)
kerasviz explain photos/ --out maps.zarr --model my.keras --rules gbp saliency   # a dataset job
kerasviz explain "photos/*.jpg" --out maps.zarr --engine ray --workers 4          # on Ray Data
```

A folder or glob pattern as the image argument, or an `--out` ending in
`.zarr`, makes `explain` a dataset job (`kv.explain_dataset`): the maps of
every image stream into a resumable Zarr store instead of a PNG grid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from kerasviz import cli_checks
from kerasviz.errors import FileReadError, KerasvizError
from kerasviz.precision import PRECISIONS  # a tuple of names: imports no TensorFlow

DEFAULT_OUT = "kerasviz-out"

# The names and checks that run before TensorFlow loads live in `cli_checks` (TF-free).
_APPLICATIONS = cli_checks.APPLICATIONS
_SMOOTH = cli_checks.SMOOTH
MODEL_NAMES = cli_checks.MODEL_NAMES
METHOD_NAMES = cli_checks.METHOD_NAMES
is_dataset_job = cli_checks.is_dataset_job


def _parse_target(text: str):
    """'max' | 'random' | 'loss' | '3' | '3,1,0' (one class per image)."""
    if text.strip().lower() in ("max", "random", "loss"):
        return text.strip().lower()
    try:
        classes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a target is max, random, loss, a class index or comma-separated "
            f"indices (one per image). Received: --target {text}"
        ) from None
    return classes[0] if len(classes) == 1 else classes


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `kerasviz explain` to `parser` (standard library only)."""
    parser.add_argument("images", nargs="*",
                        help="image files (default: scikit-image sample photos); a folder or glob pattern "
                             "(quoted) makes a dataset job: maps of every file into a Zarr store")
    parser.add_argument(
        "--model", default="vgg16",
        help=f"a model name ({', '.join(MODEL_NAMES)}) or a .keras file. Default: vgg16",
    )
    parser.add_argument(
        "--weights", default=None,
        help="random | imagenet | trained (fashion_cnn, fashion_vgg) | PATH.weights.h5 (named models only: a .keras "
             "file holds its own weights). Default: random",
    )
    parser.add_argument("--rules", nargs="+", default=["saliency", "deconvnet", "guided"],
                        help="rules or aliases, space- or comma-separated, relevance rules too "
                             "(lrp-epsilon-plus-flat, deeplift...). Default: saliency deconvnet guided")
    parser.add_argument("--target", type=_parse_target, default="max",
                        help="max | random | loss | CLASS | C1,C2,... (one per image). Default: max")
    parser.add_argument("--size", nargs="+", default=None, metavar="SIZE",
                        help="image size in pixels: one side (224), HxW (224x160) or H W (224 160); named "
                             "models with random weights are built at it. Default: the model's input size, else 224")
    parser.add_argument("--output", default=None,
                        help="the output to explain (index or layer name) for a model with several")
    parser.add_argument("--activations", choices=("relu", "all"), default="relu",
                        help="relu: the rules act at ReLUs (the paper); all: at every elementwise "
                             "activation too (swish, GELU...). Default: relu")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="arithmetic of the forward and backward passes: float32 | bfloat16 | "
                             "float16 (about twice as fast where the hardware has a fast path; "
                             "kv.precision_report measures speed and fidelity). Default: float32")
    parser.add_argument("--scale", type=float, default=None,
                        help="multiply the pixels (0-255) by this factor before the model (default: "
                             "1/255 for 1-channel models and fashion_vgg, else 1)")
    parser.add_argument("--normalize", default="minmax",
                        help="minmax | abs | diverging | percentile. Default: minmax")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder. Default: {DEFAULT_OUT}")
    parser.add_argument("--seed", type=int, default=0, help="seed for random weights and targets")
    parser.add_argument("--unsafe", action="store_true",
                        help="load .keras files with safe_mode=False (runs code stored in them)")
    methods = parser.add_argument_group("methods", "how the gradients become maps (kv.methods), under every rule")
    methods.add_argument("--method", choices=METHOD_NAMES, default="gradient", metavar="METHOD",
                         help=f"{' | '.join(METHOD_NAMES)}. Default: gradient (the rule's map itself)")
    methods.add_argument("--samples", type=int, default=None,
                         help="smoothgrad, squaregrad, vargrad: noisy copies per image. Default: 16")
    methods.add_argument("--noise", type=float, default=None,
                         help="smoothgrad, squaregrad, vargrad: the noise's standard deviation as a fraction "
                              "of each image's value range. Default: 0.15")
    methods.add_argument("--steps", type=int, default=None, help="ig: points on the path from 0. Default: 64")
    methods.add_argument("--layer", default=None,
                         help="gradcam, gradcampp, guided-gradcam: the layer, by name or path into nested "
                              "models (outer/inner). Default: the last convolutional layer")
    jobs = parser.add_argument_group(
        "dataset jobs", "a folder or glob, or --out ending in .zarr: maps of every image into a resumable "
        "Zarr store (--out, or OUT/maps.zarr when --out does not end in .zarr); rerun the same command to "
        "resume after a crash")
    jobs.add_argument("--engine", choices=("local", "ray"), default="local",
                      help="local (this process) or ray (Ray Data actors; pip install \"kerasviz[ray]\"). "
                           "Default: local")
    jobs.add_argument("--workers", type=int, default=None,
                      help="Ray actors (default: one per GPU, else 1)")
    jobs.add_argument("--ray-address", default=None,
                      help="a running Ray cluster (auto, ray://HEAD:10001); default: start a local one")
    jobs.add_argument("--batch-size", type=int, default=32, help="images per batch and per chunk. Default: 32")
    jobs.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                      help="stored map dtype. Default: float16")
    jobs.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                      help="an unreadable file stops the job (raise) or becomes an error row (skip). "
                           "Default: raise")
    jobs.add_argument("--restart", action="store_true",
                      help="delete the store and start over instead of resuming")
    jobs.add_argument("--verbose", action="store_true",
                      help="show Ray's own log lines and full Python warnings (default: one line per warning)")


REPRODUCE_DEFAULT_OUT = "kerasviz-reproduce"


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `kerasviz reproduce` to `parser` (standard library only)."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small settings, all eleven claims, < 3 min on 2 idle CPU cores (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the paper's sizes, 3 seeds × 4 images, and the fashion_vgg width study (about 5 min on 2 "
                           "cores; needs about 16 GB of memory)")
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="tiny settings that only check the pipeline (seconds); the verdicts mean little")
    parser.set_defaults(mode="quick")
    parser.add_argument("--weights", default="trained",
                        help="the trained nets of E4–E7 (C8–C10 are reported per net): trained (the shipped "
                             "fashion_cnn and fashion_vgg), imagenet (adds Keras's VGG-16, needs the download), "
                             "random (the untrained fashion_cnn alone, to test the pipeline) or PATH (adds VGG-16 "
                             "from Keras's downloaded vgg16_weights_tf_dim_ordering_tf_kernels.h5 or a .weights.h5 "
                             "of kv.zoo.vgg16(); a file of kv.zoo.fashion_cnn()/fashion_vgg() replaces that "
                             "net). Default: trained")
    parser.add_argument("--out", default=REPRODUCE_DEFAULT_OUT,
                        help=f"output folder. Default: {REPRODUCE_DEFAULT_OUT}")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a claim does not hold (default: 0 once the report is written)")


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `kerasviz view` to `parser` (standard library only)."""
    parser.add_argument("store", help="a map store written by `kerasviz explain ... --out maps.zarr` "
                                      "or kv.explain_dataset")
    parser.add_argument("--html", default=None, metavar="OUT",
                        help="write the viewer as a static folder (OUT/index.html, no server needed) "
                             "instead of serving it")
    parser.add_argument("--port", type=int, default=None,
                        help="the port on 127.0.0.1 (0: any free one). Default: 8765, else any free one")
    parser.add_argument("--open", action="store_true", help="also open the page in the default browser")
    parser.add_argument("--no-progress", action="store_true", help="hide the thumbnails' progress bar")
    # The viewer reads Zarr alone: `main` does not load TensorFlow for it.
    parser.set_defaults(needs_tensorflow=False)


def _run_view(args: argparse.Namespace) -> int:
    from kerasviz.errors import InvalidArgumentError
    from kerasviz.view import page, server

    if args.html is not None:
        if args.port is not None or args.open:
            raise InvalidArgumentError(
                f"--port and --open are for serving the viewer; --html writes a static folder. "
                f"Received: --html {args.html} with {'--port' if args.port is not None else '--open'}"
            )
        index = page.write_html(args.store, args.html, progress=not args.no_progress)
        print(f"wrote {index}")
        return 0
    server.serve(args.store, port=args.port, progress=not args.no_progress, open_browser=args.open)
    return 0


def _run_explain(args: argparse.Namespace) -> int:
    if is_dataset_job(args):
        summary = explain_dataset(args)
        print(f"wrote {summary['store']}: {summary['inputs']} inputs, rules {' '.join(summary['rules'])}, "
              f"{summary['errors']} unreadable")
        return 0
    summary = explain(args)
    for note in summary["notes"]:
        print(note)
    print(summary["rewrite"])
    print(f"predicted classes: {summary['predicted']}")
    print(f"wrote {summary['png']} and {summary['npz']}")
    return 0


def _run_reproduce(args: argparse.Namespace) -> int:
    from kerasviz.analysis import reproduce

    return reproduce.run(args)


class _Command(NamedTuple):
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    # checks that need no TensorFlow: `main` runs them before TensorFlow loads
    check: Callable[[argparse.Namespace], object] | None = None


# Every subcommand, in the order `kerasviz --help` lists them. Building the
# parser imports nothing beyond the standard library: each `run` imports what it
# needs, so `--help` is instant and a broken module fails loudly when its
# command runs instead of hiding the command.
_COMMANDS = {
    "explain": _Command(
        help="saliency / DeconvNet / GBP maps of images (PNG grid + .npz)",
        description="Write saliency, DeconvNet and Guided Backprop maps of images. "
        "Without arguments: scikit-image sample photos through VGG-16 (random "
        "weights, the paper's init), offline.",
        add_arguments=add_explain_arguments,
        run=_run_explain,
        check=cli_checks.check_explain,
    ),
    "reproduce": _Command(
        help="run the paper's experiments E1–E7, check claims C1–C11, write REPORT.md + results.json + figures",
        description="Reproduce Nie, Zhang & Patel (ICML 2018): experiments E1–E7 on random FC/CNN/VGG-16 nets "
        "and on a trained net, the verdicts of claims C1–C11 (defined in docs/paper.md), and the figures. "
        "--quick (default) finishes in under 10 minutes on 2 CPU cores; --full uses the paper's sizes.",
        add_arguments=add_reproduce_arguments,
        run=_run_reproduce,
    ),
    "view": _Command(
        help="look through a map store in a browser (served on 127.0.0.1, or --html OUT: a static folder)",
        description="The maps of a store side by side, one entry per input, sorted and filtered by score, "
        "class, status or any metric column; the view lives in the page's URL. No TensorFlow needed.",
        add_arguments=add_view_arguments,
        run=_run_view,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `kerasviz` command (imports no TensorFlow)."""
    parser = argparse.ArgumentParser(
        prog="kerasviz",
        description="Backpropagation visualizations of Keras models, and whether to trust them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in _COMMANDS.items():
        subparser = commands.add_parser(name, help=command.help, description=command.description)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run, check=command.check)
    return parser


def _load_named_model(name: str, weights: str, seed: int, size: tuple[int, int] | None = None):
    """A model by name (built at `size` when given: `cli_checks` checked it fits), and its preprocess."""
    import keras

    from kerasviz import zoo

    from kerasviz.errors import WeightsUnavailableError

    weights_arg = None if weights == "random" else weights
    try:
        if name == "vgg16":
            return zoo.vgg16(weights=weights_arg, seed=seed, input_shape=(*(size or (224, 224)), 3)), None
        if name in cli_checks.FASHION_MODELS:
            return getattr(zoo, name)(weights=weights_arg, seed=seed), None
    except WeightsUnavailableError as err:  # say it in the command's words
        message = re.sub(r"weights=None", "--weights random", str(err))
        message = re.sub(r"Received: weights=.*$", f"Received: --weights {weights}", message, flags=re.S)
        raise WeightsUnavailableError(message) from err
    constructor, module, _, _ = _APPLICATIONS[name]
    keras.utils.set_random_seed(seed)
    shape = {} if size is None else {"input_shape": (*size, 3)}
    try:
        model = getattr(keras.applications, constructor)(weights=weights_arg, **shape)
    except Exception as err:  # noqa: BLE001 - a failed download or a bad file
        from kerasviz.errors import WeightsUnavailableError

        raise WeightsUnavailableError(
            f"Could not load {constructor} weights {weights!r}: {err}. Without a "
            f"network, put the weights file under ~/.keras/models or pass a local "
            f"path with --weights. Received: --weights {weights}"
        ) from err
    return model, getattr(keras.applications, module).preprocess_input


def _load_model(spec: str, weights: str, seed: int, unsafe: bool, size: tuple[int, int] | None = None):
    if spec in MODEL_NAMES:
        return _load_named_model(spec, weights, seed, size)
    path = Path(spec)  # an existing .keras file (`cli_checks` checked it)
    import keras

    from kerasviz import layers, rules  # noqa: F401  (register kerasviz's layers for load_model)

    try:
        return keras.saving.load_model(path, safe_mode=not unsafe), None
    except Exception as err:  # noqa: BLE001 - any unreadable model file
        hint = " If it holds Lambda layers you trust, add --unsafe." if "safe_mode" in str(err) else ""
        raise FileReadError(f"Cannot load the model file {spec}: {err}.{hint} Received: --model {spec}") from err


def build_method(args: argparse.Namespace):
    """The `kv.methods` method that `--method` and its options name (`None` for the gradient).

    Raises:
        InvalidArgumentError: for a method option given with another method,
            or a bad value (as the method's constructor says).
    """
    from kerasviz import methods

    cli_checks.check_method_options(args)
    name = getattr(args, "method", None) or "gradient"
    if name in _SMOOTH:
        return methods.SmoothGrad(
            samples=16 if args.samples is None else args.samples,
            noise=0.15 if args.noise is None else args.noise,
            aggregate=_SMOOTH[name], seed=args.seed,
        )
    if name == "ig":
        return methods.IntegratedGradients(steps=64 if args.steps is None else args.steps)
    if name in ("gradcam", "gradcampp"):
        return methods.GradCAM(layer=args.layer, plus_plus=name == "gradcampp")
    if name == "guided-gradcam":
        return methods.GuidedGradCAM(layer=args.layer)
    return methods.GradientXInput() if name == "gradxinput" else None


def explain(args: argparse.Namespace) -> dict:
    """Run `kerasviz explain`; returns what it wrote."""
    import numpy as np

    import kerasviz as kv
    from kerasviz import data, render

    requested = cli_checks.check_explain(args)  # before any work
    method = build_method(args)
    weights = args.weights or "random"
    model, preprocess = _load_model(args.model, weights, args.seed, args.unsafe, requested)
    height, width = _image_size(model, requested, args.size)
    channels = model.inputs[0].shape[-1]
    if args.images:
        images = np.stack([_fit(data.load_image(p, size=None if height != width else height), (height, width))
                           for p in args.images])
        names = [Path(p).stem for p in args.images]
    else:
        images = np.stack([_fit(image, (height, width)) for image in data.sample_images(size=max(height, width))])
        names = list(data.SAMPLE_IMAGES)
    notes = []
    scale = args.scale
    if channels == 1:
        scale = 1 / 255 if scale is None else scale
        images = images.mean(axis=-1, keepdims=True)
        factor = "1/255" if args.scale is None else f"{scale:g}"
        notes.append(f"1-channel model: the images are turned gray and scaled by {factor} to "
                     f"[0, {255 * scale:g}] (--scale sets the factor)")
    elif scale is None and args.model in cli_checks.FASHION_MODELS:
        scale = 1 / 255
        notes.append(f"{args.model} takes images in [0, 1]: the pixels are scaled by 1/255 (--scale sets the factor)")
    elif scale is not None:
        notes.append(f"the images are scaled by {scale:g} to [0, {255 * scale:g}]")
    if scale is not None:
        images = (images * scale).astype(np.float32)
    output = int(args.output) if args.output is not None and args.output.isdigit() else args.output
    try:
        viz = kv.Visualizer(model, cli_checks.rule_names(args.rules), preprocess=preprocess, batch_size=8, seed=args.seed,
                            output=output, activations=args.activations,
                            precision=getattr(args, "precision", "float32"))
    except kv.errors.UnsupportedModelError as err:
        raise type(err)(str(err).replace("with output=<index or name>", "with --output INDEX|NAME")) from err
    maps = viz(images, target=args.target, method=method)
    predicted = viz.predict(images).argmax(axis=-1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "maps.png"
    labels = _row_labels(names, predicted, args.target, viz.num_classes, args.seed)
    render.plot_maps(images, maps, path=png, normalize=args.normalize, row_labels=labels,
                     method=None if method is None else method.name)
    npz = out / "maps.npz"
    np.savez_compressed(npz, images=images, predicted=predicted, **maps)
    summary = {
        "model": args.model, "weights": weights, "rules": list(maps),
        "method": "gradient" if method is None else repr(method), "target": args.target, "images": names, "predicted": predicted.tolist(),
        "png": str(png), "npz": str(npz), "rewrite": str(viz.report), "notes": notes,
        "precision": viz.precision,
    }
    (out / "explain.json").write_text(json.dumps(summary, indent=2))
    return summary


class _Scaled:
    """`images * scale`, then the model's own preprocess: a dataset job's `--scale` (a stable repr for its settings)."""

    def __init__(self, scale: float, then=None):
        self.scale, self.then = scale, then

    def __call__(self, images):
        images = images * self.scale
        return images if self.then is None else self.then(images)

    def __repr__(self):
        then = "" if self.then is None else f", then={self.then.__module__}.{self.then.__qualname__}"
        return f"Scaled({self.scale:g}{then})"


def explain_dataset(args: argparse.Namespace) -> dict:
    """Run `kerasviz explain` as a dataset job (`kv.explain_dataset`); returns what it wrote.

    The images are decoded by the job (gray as luma for 1-channel models);
    `--scale` (1/255 by default for 1-channel models) is applied inside the
    gradient computation, so the stored maps are per raw 0-255 pixel.
    """
    import kerasviz as kv

    requested = cli_checks.check_explain(args)  # before any work (also refuses a job without images)
    method = build_method(args)
    model, preprocess = _load_model(args.model, args.weights or "random", args.seed, args.unsafe, requested)
    size = _image_size(model, requested, args.size)
    unit_range = model.inputs[0].shape[-1] == 1 or args.model in cli_checks.FASHION_MODELS
    scale = args.scale if args.scale is not None else (1 / 255 if unit_range else None)
    if scale is not None:
        preprocess = _Scaled(scale, preprocess)
    output = int(args.output) if args.output is not None and args.output.isdigit() else args.output
    path = cli_checks.store_path(args)
    source = args.images[0] if len(args.images) == 1 else list(args.images)
    quiet = args.engine == "ray" and not getattr(args, "verbose", False)
    with _quiet_ray_logs() if quiet else contextlib.nullcontext():
        store = _explain_dataset_job(kv, args, model, source, path, size, preprocess, method, output)
    table = store.table
    return {"store": path, "inputs": len(store), "rules": list(store.rules),
            "errors": int((table["status"] != "ok").sum())}


def _explain_dataset_job(kv, args, model, source, path, size, preprocess, method, output):
    return kv.explain_dataset(
        model, source, path, rules=cli_checks.rule_names(args.rules), target=args.target, batch_size=args.batch_size,
        image_size=size, preprocess=preprocess, dtype=args.dtype, on_error=args.on_error,
        engine=args.engine, workers=args.workers, ray_address=args.ray_address, restart=args.restart,
        seed=args.seed, output=output, activations=getattr(args, "activations", None),
        precision=getattr(args, "precision", "float32"),
        **({"method": method} if method is not None else {}),
    )


@contextlib.contextmanager
def _quiet_ray_logs():
    """Ray's own Python log lines off (its driver-side ERROR/WARNING notes), put back on the way out.

    The job's errors still come through: they are raised as kerasviz errors,
    not logged. `--verbose` leaves Ray's logging alone.
    """
    import logging

    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _image_size(model, requested: tuple[int, int] | None, size_text) -> tuple[int, int]:
    """(height, width) of the images: the model's, checked against `--size`, else 224."""
    from kerasviz.errors import InvalidArgumentError

    shape = tuple(model.inputs[0].shape)
    fixed = (shape[1], shape[2]) if len(shape) == 4 else (None, None)
    if requested is not None:
        if any(want is not None and want != got for want, got in zip(fixed, requested)):
            raise InvalidArgumentError(
                f"--size {requested[0]}x{requested[1]} does not fit the model, which takes "
                f"{shape[1:]} images. Received: --size {' '.join(size_text)}"
            )
        return requested
    return fixed[0] or 224, fixed[1] or fixed[0] or 224


def _fit(image, size: tuple[int, int]):
    """`image` center-cropped to the aspect of `size` and resized to it."""
    import numpy as np
    from skimage.transform import resize

    height, width = size
    if image.shape[:2] == (height, width):
        return image
    rows, cols = image.shape[:2]
    if rows * width > cols * height:  # too tall: crop rows
        keep = max(1, round(cols * height / width))
        top = (rows - keep) // 2
        image = image[top:top + keep]
    else:
        keep = max(1, round(rows * width / height))
        left = (cols - keep) // 2
        image = image[:, left:left + keep]
    return resize(image, (height, width), preserve_range=True, anti_aliasing=True).astype(np.float32)


def _row_labels(names, predicted, target, num_classes: int, seed: int) -> list[str]:
    """'name\\nclass C' for the max target, else the target beside the prediction."""
    if target == "max":
        return [f"{name}\nclass {cls}" for name, cls in zip(names, predicted)]
    if target == "loss":
        return [f"{name}\nloss (predicted {cls})" for name, cls in zip(names, predicted)]
    if target == "random":
        from kerasviz import targets

        shown = targets.random_other_classes(predicted, num_classes, 1, seed)[:, 0]
    else:
        shown = [target] * len(names) if isinstance(target, int) else list(target)
    return [f"{name}\ntarget {t} (predicted {cls})" for name, t, cls in zip(names, shown, predicted)]


# TensorFlow's C++ start-up lines on a machine without a GPU: absl's banner,
# INFO lines (oneDNN, no CUDA driver, CPU features) and the ERROR line of the
# failed cuInit. TF_CPP_MIN_LOG_LEVEL does not reach the lines logged before
# absl::InitializeLog (TensorFlow 2.19 and later), so the command captures them.
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_ABSL_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ [^\]]*\] (.*)")  # severity, MMDD, time, thread, file:line


def _is_startup_noise(line: str) -> bool:
    """Whether a line TensorFlow printed while starting is noise (not a real error)."""
    if line.strip() == _ABSL_BANNER:
        return True
    match = _ABSL_LINE.match(line)
    if match is None:
        return False
    severity, message = match.groups()
    return severity in "IW" or (severity == "E" and "failed call to cuInit" in message)


def _start_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their start-up log; console command only.

    Sets `TF_CPP_MIN_LOG_LEVEL=2` (warnings and info off, errors on) and,
    while TensorFlow loads and finds its devices, captures what the C++
    side writes to stderr; every captured line that is not start-up noise
    is written back. Does nothing when TensorFlow is imported already or
    when the user set `TF_CPP_MIN_LOG_LEVEL`: then they see what they asked
    for. Never called by `import kerasviz`.
    """
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. an embedding host)
        stderr_fd = None
    if stderr_fd is None:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved_fd = os.dup(stderr_fd)
    failed = True
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA's start-up (cuInit) happens here
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, stderr_fd)
            os.close(saved_fd)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            # If the import failed, everything it printed may explain why.
            sys.stderr.write("".join(line for line in lines if failed or not _is_startup_noise(line)))
            sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasviz` command; returns the exit status.

    `--help` and usage errors import no TensorFlow. Before a command runs,
    TensorFlow is imported with its C++ start-up log silenced unless
    `TF_CPP_MIN_LOG_LEVEL` is set (see `_start_tensorflow_quietly`).
    """
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "check", None) is not None:
            args.check(args)  # argument errors and refused jobs: before TensorFlow loads
        if getattr(args, "needs_tensorflow", True):
            _start_tensorflow_quietly()
        with _one_line_warnings(enabled=not getattr(args, "verbose", False)):
            return args.run(args)
    except KerasvizError as err:
        print(f"kerasviz: error: {err}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _one_line_warnings(enabled: bool = True):
    """Inside the command only: each Python warning as one line, `kerasviz: <Category>: <message>`.

    Python's default format adds the file, line number and the source line
    that warned, which mean nothing to a command-line user. The format is
    replaced (`warnings.formatwarning`), and, when nobody records warnings,
    so is the printing, through tqdm so that a line never lands inside a
    progress bar. Both are put back on the way out.
    """
    if not enabled:
        yield
        return
    from tqdm.auto import tqdm

    previous = warnings.formatwarning, warnings.showwarning

    def one_line(message, category, filename, lineno, line=None):
        return f"kerasviz: {category.__name__}: {' '.join(str(message).split())}\n"

    def show(message, category, filename, lineno, file=None, line=None):
        tqdm.write(one_line(message, category, filename, lineno).rstrip("\n"), file=file or sys.stderr)

    warnings.formatwarning = one_line
    if not _warnings_are_recorded():  # else `catch_warnings(record=True)` (pytest) keeps them
        warnings.showwarning = show
    try:
        yield
    finally:
        warnings.formatwarning, warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())


def _warnings_are_recorded() -> bool:
    """Whether an enclosing `warnings.catch_warnings(record=True)` collects warnings now.

    Recording replaces the `warnings` module's private `_showwarnmsg_impl`
    with the list's `append` (CPython 3.8+) and sets `showwarning` back to
    its original, so `showwarning` alone cannot tell. (Here, not in
    `kerasviz._compat`: that module loads Keras, and `kerasviz view` must not.)
    """
    impl = getattr(warnings, "_showwarnmsg_impl", None)
    return impl is not None and getattr(impl, "__module__", None) != "warnings"

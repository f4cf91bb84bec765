"""The `kerasviz` command.

`kerasviz explain` writes saliency, DeconvNet and GBP maps of images as a
paper-style PNG grid and the raw maps as `.npz`. With no arguments it runs
offline: four scikit-image sample photos at 224×224 through VGG-16 with the
paper's random initialization.

Example:

```bash
kerasviz explain                                   # the embedded defaults
kerasviz explain cat.jpg --weights imagenet        # needs Keras's download
kerasviz explain x.png --model my_model.keras --rules gbp saliency --target 3
```
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kerasviz.errors import FileReadError, KerasvizError

DEFAULT_OUT = "kerasviz-out"

# Keras application models by command-line name: (constructor, preprocess module).
_APPLICATIONS = {
    "vgg19": ("VGG19", "vgg19"),
    "resnet50": ("ResNet50", "resnet"),
    "resnet50v2": ("ResNet50V2", "resnet_v2"),
    "densenet121": ("DenseNet121", "densenet"),
    "inceptionv3": ("InceptionV3", "inception_v3"),
    "xception": ("Xception", "xception"),
    "mobilenet": ("MobileNet", "mobilenet"),
    "mobilenetv2": ("MobileNetV2", "mobilenet_v2"),
}
MODEL_NAMES = ("vgg16", "fashion_cnn", *_APPLICATIONS)


def _parse_target(text: str):
    """'max' | 'random' | 'loss' | '3' | '3,1,0' (one class per image)."""
    if text in ("max", "random", "loss"):
        return text
    try:
        classes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a target is max, random, loss, a class index or comma-separated "
            f"indices (one per image). Received: --target {text}"
        ) from None
    return classes[0] if len(classes) == 1 else classes


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `kerasviz` command."""
    parser = argparse.ArgumentParser(
        prog="kerasviz",
        description="Backpropagation visualizations of Keras models, and whether to trust them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser(
        "explain",
        help="saliency / DeconvNet / GBP maps of images (PNG grid + .npz)",
        description="Write saliency, DeconvNet and Guided Backprop maps of images. "
        "Without arguments: scikit-image sample photos through VGG-16 (random "
        "weights, the paper's init), offline.",
    )
    explain.add_argument("images", nargs="*", help="image files (default: scikit-image sample photos)")
    explain.add_argument(
        "--model", default="vgg16",
        help=f"a model name ({', '.join(MODEL_NAMES)}) or a .keras file. Default: vgg16",
    )
    explain.add_argument(
        "--weights", default="random",
        help="random | imagenet | trained (fashion_cnn) | PATH.weights.h5 (for named models). Default: random",
    )
    explain.add_argument("--rules", nargs="+", default=["saliency", "deconvnet", "guided"],
                         help="rules or aliases. Default: saliency deconvnet guided")
    explain.add_argument("--target", type=_parse_target, default="max",
                         help="max | random | loss | CLASS | C1,C2,... (one per image). Default: max")
    explain.add_argument("--size", type=int, default=None,
                         help="image side in pixels (default: the model's input size, else 224)")
    explain.add_argument("--normalize", default="minmax",
                         help="minmax | abs | diverging | percentile. Default: minmax")
    explain.add_argument("--out", default=DEFAULT_OUT, help=f"output folder. Default: {DEFAULT_OUT}")
    explain.add_argument("--seed", type=int, default=0, help="seed for random weights and targets")
    explain.add_argument("--unsafe", action="store_true",
                         help="load .keras files with safe_mode=False (runs code stored in them)")
    _add_reproduce(commands)
    return parser


def _add_reproduce(commands) -> None:
    try:
        from kerasviz.analysis import reproduce
    except ImportError:
        return
    reproduce.add_arguments(commands.add_parser(
        "reproduce", help=reproduce.HELP, description=reproduce.DESCRIPTION,
    ))


def _load_named_model(name: str, weights: str, seed: int):
    """A model by name, and the preprocess function maps must go through."""
    import keras

    from kerasviz import zoo

    weights_arg = None if weights == "random" else weights
    if name == "vgg16":
        return zoo.vgg16(weights=weights_arg, seed=seed), None
    if name == "fashion_cnn":
        return zoo.fashion_cnn(weights=weights_arg, seed=seed), None
    constructor, module = _APPLICATIONS[name]
    keras.utils.set_random_seed(seed)
    try:
        model = getattr(keras.applications, constructor)(weights=weights_arg)
    except Exception as err:  # noqa: BLE001 - a failed download or a bad file
        from kerasviz.errors import WeightsUnavailableError

        raise WeightsUnavailableError(
            f"Could not load {constructor} weights {weights!r}: {err}. Without a "
            f"network, put the weights file under ~/.keras/models or pass a local "
            f"path with --weights. Received: --weights {weights}"
        ) from err
    return model, getattr(keras.applications, module).preprocess_input


def _load_model(spec: str, weights: str, seed: int, unsafe: bool):
    if spec in MODEL_NAMES:
        return _load_named_model(spec, weights, seed)
    path = Path(spec)
    if path.suffix != ".keras" or not path.is_file():
        raise FileReadError(
            f"--model is a model name ({', '.join(MODEL_NAMES)}) or an existing "
            f".keras file. Received: --model {spec}"
        )
    import keras

    import kerasviz.zoo  # noqa: F401  (registers kerasviz's layers for loading)

    try:
        return keras.saving.load_model(path, safe_mode=not unsafe), None
    except Exception as err:  # noqa: BLE001 - any unreadable model file
        hint = " If it holds Lambda layers you trust, add --unsafe." if "safe_mode" in str(err) else ""
        raise FileReadError(f"Cannot load the model file {spec}: {err}.{hint} Received: --model {spec}") from err


def explain(args: argparse.Namespace) -> dict:
    """Run `kerasviz explain`; returns what it wrote."""
    import numpy as np

    import kerasviz as kv
    from kerasviz import data, render

    model, preprocess = _load_model(args.model, args.weights, args.seed, args.unsafe)
    height = model.inputs[0].shape[1] or args.size or 224
    if args.size is not None and model.inputs[0].shape[1] not in (None, args.size):
        raise kv.errors.InvalidInputError(
            f"--size {args.size} does not fit the model, which takes "
            f"{tuple(model.inputs[0].shape[1:])} images. Received: --size {args.size}"
        )
    channels = model.inputs[0].shape[-1]
    if args.images:
        images = np.stack([data.load_image(p, size=height) for p in args.images])
        names = [Path(p).stem for p in args.images]
    else:
        images = data.sample_images(size=height)
        names = list(data.SAMPLE_IMAGES)
    if channels == 1:
        images = images.mean(axis=-1, keepdims=True) / 255.0
    viz = kv.Visualizer(model, args.rules, preprocess=preprocess, batch_size=8, seed=args.seed)
    maps = viz(images, target=args.target)
    predicted = viz.predict(images).argmax(axis=-1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "maps.png"
    labels = [f"{name}\nclass {cls}" for name, cls in zip(names, predicted)]
    render.plot_maps(images, maps, path=png, normalize=args.normalize, row_labels=labels)
    npz = out / "maps.npz"
    np.savez_compressed(npz, images=images, predicted=predicted, **maps)
    summary = {
        "model": args.model, "weights": args.weights, "rules": list(maps),
        "target": args.target, "images": names, "predicted": predicted.tolist(),
        "png": str(png), "npz": str(npz), "rewrite": str(viz.report),
    }
    (out / "explain.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasviz` command; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "explain":
            summary = explain(args)
            print(summary["rewrite"])
            print(f"predicted classes: {summary['predicted']}")
            print(f"wrote {summary['png']} and {summary['npz']}")
            return 0
        return args.run(args)
    except KerasvizError as err:
        print(f"kerasviz: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

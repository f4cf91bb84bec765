"""`precision_report`: is reduced precision worth it on *my* model and images?

It computes the maps of the user's images twice, in float32 and in a reduced
precision (`kv.Visualizer(..., precision=...)`), times both side by side and
compares the maps image by image with the Pearson r and the SSIM that the
sanity checks use (`kv.analysis.metrics.pearson`, and `map_similarity`'s
`"ssim"`: SSIM of min-max normalized maps). It also counts the images whose
predicted class changes or ties in the reduced type and, for Integrated
Gradients under the saliency rule, how far each map's sum is from
`S(x) − S(baseline)` (completeness) in each precision.

Example:

```python
import kerasviz as kv

model = kv.zoo.fashion_cnn(weights="trained")
(_, _), (x_test, _) = kv.data.fashion_mnist()
report = kv.precision_report(model, x_test[:8], method="smoothgrad", rules=("saliency",))
print(report)
report.to_dict()["speed_ratio"]
```
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterable

import numpy as np

from kerasviz import precision as precision_lib
from kerasviz import rules as rules_lib
from kerasviz.analysis import metrics

__all__ = ["PrecisionReport", "precision_report"]


@dataclasses.dataclass
class PrecisionReport:
    """Speed and fidelity of maps in a reduced precision against float32.

    Attributes:
        precision: the reduced precision measured (`"bfloat16"` or `"float16"`).
        method: the method's repr (`"Gradient()"` for the plain gradient).
        rules: the rules compared.
        num_images: images compared.
        seconds_float32: median seconds of one call in float32.
        seconds_reduced: median seconds of the same call in `precision`.
        pearson: per rule, each image's Pearson r between its two maps.
        ssim: per rule, each image's SSIM between its two min-max normalized maps.
        changed_predictions: images whose predicted class differs between
            the two precisions.
        ties: images with a tie at the top of their reduced-precision logits.
        completeness: for `IntegratedGradients` under the saliency rule,
            `{"float32": ..., precision: ...}`, each image's
            `|Σ map − (S(x) − S(b))| / |S(x) − S(b)|` (scores in float32);
            empty otherwise.
        repeats: timed calls of each precision.
    """

    precision: str
    method: str
    rules: tuple[str, ...]
    num_images: int
    seconds_float32: float
    seconds_reduced: float
    pearson: dict[str, np.ndarray]
    ssim: dict[str, np.ndarray]
    changed_predictions: int
    ties: int
    completeness: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    repeats: int = 3

    @property
    def speed_ratio(self) -> float:
        """Reduced-precision time ÷ float32 time (below 1: faster)."""
        return self.seconds_reduced / self.seconds_float32

    @property
    def faster(self) -> bool:
        """Whether the reduced precision was faster here."""
        return self.speed_ratio < 1.0

    def to_dict(self) -> dict:
        """A JSON-ready dict: the attributes, per-image lists, and per-rule summaries."""
        def summary(values: np.ndarray) -> dict:
            return {"min": float(np.min(values)), "median": float(np.median(values)),
                    "mean": float(np.mean(values))}

        return {
            "precision": self.precision, "method": self.method, "rules": list(self.rules),
            "num_images": self.num_images, "repeats": self.repeats,
            "seconds_float32": self.seconds_float32, "seconds_reduced": self.seconds_reduced,
            "speed_ratio": self.speed_ratio,
            "pearson": {rule: [float(v) for v in values] for rule, values in self.pearson.items()},
            "ssim": {rule: [float(v) for v in values] for rule, values in self.ssim.items()},
            "summary": {rule: {"pearson": summary(self.pearson[rule]), "ssim": summary(self.ssim[rule])}
                        for rule in self.rules},
            "changed_predictions": self.changed_predictions, "ties": self.ties,
            "completeness": {key: [float(v) for v in values] for key, values in self.completeness.items()},
        }

    def __str__(self) -> str:
        verdict = (f"{1 / self.speed_ratio:.2f}x faster" if self.faster else
                   f"{self.speed_ratio:.2f}x SLOWER: this machine has no fast {self.precision} path")
        lines = [
            f"kerasviz precision report: {self.precision} vs float32, {self.method}, "
            f"{self.num_images} images",
            f"  time per call: float32 {self.seconds_float32:.3f} s, {self.precision} "
            f"{self.seconds_reduced:.3f} s (median of {self.repeats}): ratio "
            f"{self.speed_ratio:.2f}, {verdict}",
            "  fidelity per image vs float32:",
            f"  {'rule':<12} {'r min':>7} {'r median':>9} {'SSIM min':>9} {'SSIM median':>12}",
        ]
        for rule in self.rules:
            r, s = self.pearson[rule], self.ssim[rule]
            lines.append(f"  {rule:<12} {np.min(r):7.4f} {np.median(r):9.4f} {np.min(s):9.4f} "
                         f"{np.median(s):12.4f}")
        lines.append(f"  predicted class changed: {self.changed_predictions} of {self.num_images}; "
                     f"ties at the top of the {self.precision} logits: {self.ties}")
        for key, values in self.completeness.items():
            lines.append(f"  IG completeness error |sum - (S(x) - S(b))| / |S(x) - S(b)|, {key}: "
                         f"median {np.median(values):.4f}, max {np.max(values):.4f}")
        return "\n".join(lines)


def precision_report(
    model,
    images,
    method=None,
    rules: Iterable[str] = rules_lib.RULES,
    *,
    precision: str = "bfloat16",
    target="max",
    repeats: int = 3,
    batch_size: int = 32,
    **visualizer_kwargs,
) -> PrecisionReport:
    """Time and compare maps of `images` in `precision` against float32.

    Both `Visualizer`s are built and called once first (tracing is not
    timed); then `repeats` rounds call each once, side by side, and the
    medians are compared. Maps are compared image by image and rule by rule
    (Grad-CAM maps `(N, H, W)` as one-channel images).

    Args:
        model: a Keras model, as `kv.Visualizer` takes it.
        images: a batch `(N, ...)` as the model takes it (use a few dozen
            images for stable timings).
        method: a `kv.methods` method or name, or `None` for the gradient.
            Defaults to `None`.
        rules: rule names or aliases. Defaults to `kv.RULES`.
        precision: the reduced precision, `"bfloat16"` or `"float16"`.
            Defaults to `"bfloat16"`.
        target: the target of both calls: `"max"`, a class, one class per
            image, `"random"`, `"loss"`... (not `K` classes per image).
            Defaults to `"max"`.
        repeats: timed rounds. Defaults to `3`.
        batch_size: forward images per batch. Defaults to `32`.
        **visualizer_kwargs: other `kv.Visualizer` arguments (`preprocess`,
            `output`, `logits`, `activations`, `seed`...).

    Returns:
        A `PrecisionReport` (print it, or `to_dict()`).

    Raises:
        InvalidArgumentError: for `precision="float32"` or another unknown
            precision, a bad `repeats`, or `K` classes per image.

    Example:

    ```python
    model = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    print(kv.precision_report(model, x_test[:8], rules=("saliency", "guided")))
    ```
    """
    from kerasviz import _validation
    from kerasviz import methods as methods_lib
    from kerasviz import targets as targets_lib
    from kerasviz.errors import InvalidArgumentError
    from kerasviz.visualizer import Visualizer

    precision_lib.check(precision)
    if precision == "float32":
        raise InvalidArgumentError(
            "precision_report compares a reduced precision with float32; choose 'bfloat16' or "
            "'float16'. Received: precision='float32'"
        )
    repeats = _validation.positive_int(repeats, "repeats")
    method = methods_lib.resolve(method)
    if targets_lib.resolve(target).num_scores is not None:
        raise InvalidArgumentError(
            "precision_report compares one map per image and rule; give one class per image "
            f"(or 'max'), not K classes per image. Received: target of shape {np.shape(target)}"
        )
    single = Visualizer(model, rules, batch_size=batch_size, precision="float32", **visualizer_kwargs)
    reduced = Visualizer(model, rules, batch_size=batch_size, precision=precision, **visualizer_kwargs)
    images = _validation.image_batch(images, single.input_shape)

    def call(viz):
        return viz(images, target=target, method=method, progress=False)

    maps = {"float32": call(single), precision: call(reduced)}  # also traces both
    ties = reduced.ties
    times = {"float32": [], precision: []}
    for _ in range(repeats):
        for key, viz in (("float32", single), (precision, reduced)):
            start = time.perf_counter()
            call(viz)
            times[key].append(time.perf_counter() - start)
    logits = {"float32": single.predict(images), precision: reduced.predict(images)}
    changed = int(np.sum(np.argmax(logits["float32"], -1) != np.argmax(logits[precision], -1)))
    ties = max(ties, precision_lib.count_ties(logits[precision]))
    pearson, ssim = {}, {}
    for rule in single.rules:
        a, b = maps["float32"][rule], maps[precision][rule]
        pairs = [(_as_image(x), _as_image(y)) for x, y in zip(a, b)]
        pearson[rule] = np.array([metrics.pearson(x, y) for x, y in pairs])
        ssim[rule] = np.array([metrics.map_similarity(x, y)["ssim"] for x, y in pairs])
    return PrecisionReport(
        precision=precision, method=repr(method), rules=single.rules, num_images=len(images),
        seconds_float32=statistics.median(times["float32"]),
        seconds_reduced=statistics.median(times[precision]),
        pearson=pearson, ssim=ssim, changed_predictions=changed, ties=int(ties),
        completeness=_completeness(single, images, method, target, maps, logits["float32"]),
        repeats=repeats,
    )


def _as_image(m: np.ndarray) -> np.ndarray:
    """A map as `(H, W, C)`: Grad-CAM's `(H, W)` gets a channel axis."""
    return m[..., None] if m.ndim == 2 else m


def _completeness(viz, images, method, target, maps, logits) -> dict[str, np.ndarray]:
    """IG's completeness error per image in each precision (saliency rule, class targets)."""
    from kerasviz import methods as methods_lib

    if not isinstance(method, methods_lib.IntegratedGradients) or "saliency" not in viz.rules:
        return {}
    if isinstance(target, str) and target == "max":
        classes = np.argmax(logits, axis=-1)
    else:
        try:
            classes = np.broadcast_to(np.asarray(target, np.int64), (len(images),))
        except (TypeError, ValueError):
            return {}  # not one class per image: no score to compare the sum with
    baseline = np.broadcast_to(method.baseline, images.shape[1:]).astype(np.float32)
    base_logits = viz.predict(np.repeat(baseline[None], len(images), axis=0))
    rows = np.arange(len(images))
    difference = logits[rows, classes] - base_logits[rows, classes]
    scale = np.maximum(np.abs(difference), 1e-12)
    return {key: np.abs(value["saliency"].reshape(len(images), -1).sum(axis=1) - difference) / scale
            for key, value in maps.items()}

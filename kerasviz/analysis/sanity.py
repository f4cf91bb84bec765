"""`sanity_check`: does a backprop map of *your* network reflect its decision?

The paper's analysis, run on a user's own model and images. For every rule it
measures three things:

| check | question | how |
|---|---|---|
| class sensitivity | does the map change with the class explained? | 1 − mean SSIM between the max-logit map and maps of seeded random other classes (Sixt et al. 2020; docs/paper.md, M5) |
| cascading randomization | does the map change when the learned weights are destroyed? | weight layers re-initialized one by one from the top (Adebayo et al. 2018); SSIM and Spearman (abs) of each map to the original map |
| image recovery | is the map just the image again? | Pearson r of the map with the input image (docs/paper.md, M1) |
| input similarity | does the map ignore the image? | Pearson r between the maps of two different images for the same class (docs/paper.md, M6) |
| faithfulness | does the map point at what the score uses? | `kv.evaluation`: deletion and insertion areas (logits; lower / higher is better) and MuFidelity (higher is better), of the max-logit maps |

and sums them up in a verdict (see `verdict`). Saliency — the plain
gradient — is the baseline: it is, by definition, what the model's output
responds to, so a rule whose scores stay far below saliency's is not showing
the decision.

Example:

```python
import keras
import numpy as np
from kerasviz.analysis import sanity_check

model = keras.Sequential([
    keras.Input((16, 16, 1)),
    keras.layers.Conv2D(16, 3, activation="relu"),
    keras.layers.Conv2D(16, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(10),
])
images = np.random.default_rng(0).uniform(size=(4, 16, 16, 1)).astype("float32")
report = sanity_check(model, images, progress=False)
print(report)                      # Markdown table, one row per rule
report.verdicts                    # {"saliency": "reflects the decision", ...}
report.plot("sanity.png")
```

References:
    - Adebayo et al. "Sanity Checks for Saliency Maps". NeurIPS 2018.
    - Sixt, Granz, Landgraf. "When Explanations Lie: Why Many Modified BP
      Attributions Fail". ICML 2020.
    - Nie, Zhang, Patel. "A Theoretical Explanation for Perplexing Behaviors
      of Backpropagation-based Visualizations". ICML 2018.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras
import numpy as np
from tqdm.auto import tqdm

from kerasviz import _validation
from kerasviz import methods as methods_lib
from kerasviz import rules as rules_lib
from kerasviz import targets as targets_lib
from kerasviz import randomization
from kerasviz.analysis import metrics
from kerasviz.errors import InvalidArgumentError, UnsupportedModelError
from kerasviz.visualizer import Visualizer

__all__ = [
    "CascadeStep",
    "NO_RELU_VERDICT",
    "RuleSanity",
    "SanityReport",
    "VERDICTS",
    "sanity_check",
    "verdict",
]

#: Thresholds of the rule of thumb in `verdict` (documented there).
CLASS_SENSITIVITY_MIN = 0.5
RANDOMIZATION_SENSITIVITY_MIN = 0.5
RELATIVE_TO_SALIENCY_MIN = 0.5
RECOVERY_MIN = 0.3
INPUT_SIMILARITY_MAX = 0.95

#: The possible verdicts, in the order `verdict` tries them.
VERDICTS: tuple[str, ...] = (
    "ignores the input",
    "reflects the decision",
    "mostly image recovery",
    "insensitive to class and weights",
    "partly reflects the decision",
    "identical to saliency: no ReLU in this model",
)

#: The verdict of a non-saliency rule on a model without ReLUs: the rules
#: differ only at ReLUs, so its maps are the saliency maps, whatever the scores.
NO_RELU_VERDICT = VERDICTS[-1]


@dataclasses.dataclass(frozen=True)
class CascadeStep:
    """One point of a cascading-randomization curve.

    Attributes:
        layer: the weight layer re-initialized at this step (`"none"` for
            the first point: nothing randomized yet).
        randomized: every layer random at this step, top layer first.
        ssim: mean over images of the SSIM between this step's map and the
            original map (min–max normalized, docs/paper.md, M4).
        spearman_abs: mean Spearman rank correlation of the abs-normalized
            maps (Adebayo et al.'s main measure).
    """

    layer: str
    randomized: tuple[str, ...]
    ssim: float
    spearman_abs: float


@dataclasses.dataclass(frozen=True)
class RuleSanity:
    """The sanity scores of one rule.

    Attributes:
        rule: the rule's name.
        class_ssim: mean SSIM between the max-logit map and the random-class
            maps (over images and classes).
        class_spearman: mean Spearman (abs-normalized) between the same maps.
        cascade: the cascading-randomization curve, first point unrandomized.
        recovery: mean Pearson r of the max-logit map with the image.
        recovery_demeaned: the same after removing each channel's mean from
            the map.
        input_similarity: mean Pearson r between the map of each image and
            the map of another image of the set for the same class (1: the
            map does not depend on the image; NaN for a single image).
        verdict: one of `VERDICTS` (see `verdict`).
        method: the name of the `kv.methods` method that made the maps
            (`"gradient"`: the rule's gradient itself).
        deletion: mean `kv.evaluation.deletion` area of the max-logit maps
            (lower is better; NaN when not measured).
        insertion: mean `kv.evaluation.insertion` area (higher is better).
        mu_fidelity: mean `kv.evaluation.mu_fidelity` (higher is better).
    """

    rule: str
    class_ssim: float
    class_spearman: float
    cascade: tuple[CascadeStep, ...]
    recovery: float
    recovery_demeaned: float
    input_similarity: float
    verdict: str
    method: str = "gradient"
    deletion: float = math.nan
    insertion: float = math.nan
    mu_fidelity: float = math.nan

    @property
    def class_sensitivity(self) -> float:
        """`1 - class_ssim`: 0 when the map ignores the class explained."""
        return 1.0 - self.class_ssim

    @property
    def randomization_sensitivity(self) -> float:
        """`1 -` the mean SSIM over the randomized steps of the cascade.

        The area above the curve: near 0 when the map survives the loss of
        the learned weights, large when it changes as soon as the top layers
        are randomized.
        """
        steps = self.cascade[1:]
        if not steps:
            return math.nan
        return 1.0 - float(np.mean([step.ssim for step in steps]))

    @property
    def final_ssim(self) -> float:
        """SSIM to the original map once every listed layer is random."""
        return self.cascade[-1].ssim

    @property
    def image_recovery(self) -> float:
        """`max(recovery, recovery_demeaned)`: how much of the image the map holds."""
        return max(self.recovery, self.recovery_demeaned)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the scores, derived ones included."""
        return {
            "rule": self.rule,
            "method": self.method,
            "class_ssim": self.class_ssim,
            "class_spearman": self.class_spearman,
            "class_sensitivity": self.class_sensitivity,
            "randomization_sensitivity": self.randomization_sensitivity,
            "final_ssim": self.final_ssim,
            "recovery": self.recovery,
            "recovery_demeaned": self.recovery_demeaned,
            "input_similarity": None if math.isnan(self.input_similarity) else self.input_similarity,
            "verdict": self.verdict,
            **{name: None if math.isnan(getattr(self, name)) else getattr(self, name)
               for name in ("deletion", "insertion", "mu_fidelity")},
            "cascade": [dataclasses.asdict(step) | {"randomized": list(step.randomized)} for step in self.cascade],
        }


@dataclasses.dataclass(frozen=True)
class SanityReport:
    """What `sanity_check` found, per rule.

    Attributes:
        results: `{label: RuleSanity}`, methods in the order given, then
            rules: the label is the rule's name for the gradient method and
            `"method:rule"` for the others (e.g. `"smoothgrad:guided"`).
        model_name: the model's name.
        num_images: how many images were used.
        num_random_classes: random classes per image for class sensitivity.
        layers: the weight layers randomized, in cascade order (top first).
        seed: the seed of the random classes and weights.
        init: how randomized layers were re-initialized (`kv.zoo.randomize`).
        methods: the methods' names, in the order given.
    """

    results: dict[str, RuleSanity]
    model_name: str
    num_images: int
    num_random_classes: int
    layers: tuple[str, ...]
    seed: int
    init: str
    methods: tuple[str, ...] = ("gradient",)

    def __getitem__(self, key: str | tuple[str, str]) -> RuleSanity:
        """The scores of a rule (`"guided"`), or of a method and a rule (`"smoothgrad:guided"`, `("smoothgrad", "gbp")`)."""
        if isinstance(key, str) and ":" in key:
            key = tuple(key.split(":", 1))
        if isinstance(key, tuple):
            method, rule = key
            return self.results[_label(method, rules_lib.canonical_name(rule))]
        return self.results[rules_lib.canonical_name(key)]

    @property
    def verdicts(self) -> dict[str, str]:
        """`{rule: verdict}`."""
        return {rule: result.verdict for rule, result in self.results.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the settings and each rule's `RuleSanity.to_dict()`."""
        return {
            "model": self.model_name,
            "num_images": self.num_images,
            "num_random_classes": self.num_random_classes,
            "layers": list(self.layers),
            "seed": self.seed,
            "init": self.init,
            "methods": list(self.methods),
            "rules": {rule: result.to_dict() for rule, result in self.results.items()},
        }

    def to_markdown(self) -> str:
        """Two Markdown tables: the scores per rule, then the cascading curves (SSIM)."""
        lines = [
            f"Sanity check of `{self.model_name}` on {self.num_images} images "
            f"({self.num_random_classes} random classes each; {len(self.layers)} layers "
            f"randomized top-down, init {self.init!r}, seed {self.seed}).",
            "",
            "| rule | class sensitivity (1 − SSIM) | class Spearman | randomization sensitivity "
            "| SSIM, all randomized | recovery r | r, demeaned | input similarity "
            "| deletion ↓ | insertion ↑ | MuFidelity ↑ | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rule, r in self.results.items():
            lines.append(
                f"| {rule} | {r.class_sensitivity:.3f} | {r.class_spearman:.3f} | "
                f"{r.randomization_sensitivity:.3f} | {r.final_ssim:.3f} | {r.recovery:.3f} | "
                f"{r.recovery_demeaned:.3f} | {r.input_similarity:.3f} | {r.deletion:.3f} | "
                f"{r.insertion:.3f} | {r.mu_fidelity:.3f} | {r.verdict} |"
            )
        rules = list(self.results)
        lines += [
            "",
            "Cascading randomization, SSIM to the original map (layer = last one randomized):",
            "",
            "| layer | " + " | ".join(rules) + " |",
            "|---|" + "---|" * len(rules),
        ]
        first = next(iter(self.results.values()))
        for index, step in enumerate(first.cascade):
            values = " | ".join(f"{self.results[rule].cascade[index].ssim:.3f}" for rule in rules)
            lines.append(f"| {step.layer} | {values} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def to_html(self, path: str | os.PathLike | None = None, *, dpi: int = 100) -> str:
        """One HTML page: the tables of `to_markdown` and the figure of `plot`, embedded as base64 PNG.

        Args:
            path: write the page there when given. Defaults to `None`.
            dpi: resolution of the figure. Defaults to `100`.

        Returns:
            The page's HTML text.

        Example:

        ```python
        report.to_html("sanity.html")
        ```
        """
        import io

        from kerasviz.analysis import html

        buffer = io.BytesIO()
        self.plot(dpi=dpi).savefig(buffer, format="png", dpi=dpi)
        title = f"Sanity check of {self.model_name}"
        text = (f"# {title}\n\n{self.to_markdown()}\n\n"
                f"![cascading randomization and the scores per rule]({html.data_uri(buffer.getvalue())})\n")
        page = html.markdown_page(text, title=title)
        if path is not None:
            with open(path, "w", encoding="utf-8") as file:
                file.write(page)
        return page

    def plot(self, path: str | os.PathLike | None = None, *, dpi: int = 100):
        """Cascading curves per rule (left) and the four scores (right).

        With up to four (method, rule) pairs the scores are bars; with more,
        an annotated grid, one row per pair with its verdict.

        Args:
            path: write a PNG there when given. Defaults to `None`.
            dpi: resolution of the PNG. Defaults to `100`.

        Returns:
            The matplotlib `Figure` (its own, not registered with pyplot:
            show it in a notebook by leaving it as a cell's value).
        """
        from matplotlib.figure import Figure

        rules = list(self.results)
        many = len(rules) > 4
        fig = Figure(figsize=(14, max(4.0, 0.45 * len(rules) + 1.5)) if many else (11, 4))
        left, right = fig.subplots(1, 2, width_ratios=(1, 1.3) if many else (1, 1))
        first = self.results[rules[0]].cascade
        x = np.arange(len(first))
        rule_order = list(dict.fromkeys(r.rule for r in self.results.values()))
        method_order = list(dict.fromkeys(r.method for r in self.results.values()))
        dashes = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)))
        for rule in rules:
            r = self.results[rule]
            style = {}
            if len(method_order) > 1:  # colour: the rule; line style: the method
                style = {"color": f"C{rule_order.index(r.rule) % 10}",
                         "linestyle": dashes[method_order.index(r.method) % len(dashes)]}
            left.plot(x, [step.ssim for step in r.cascade], marker="o", label=rule, **style)
        left.set_xticks(x, [step.layer for step in first], rotation=45, ha="right")
        left.set_ylabel("SSIM to the original map")
        left.set_xlabel("randomized down to layer")
        left.set_title("Cascading randomization")
        left.set_ylim(min(0.0, left.get_ylim()[0]), 1.05)
        left.legend(fontsize="small" if many else None)
        names = ("class\nsensitivity", "randomization\nsensitivity", "image\nrecovery", "input\nsimilarity")
        if many:
            _score_grid(right, self.results, names)
            fig.tight_layout()
            if path is not None:
                fig.savefig(path, dpi=dpi)
            return fig
        width = 0.8 / len(rules)
        for i, rule in enumerate(rules):
            r = self.results[rule]
            values = [r.class_sensitivity, r.randomization_sensitivity, r.image_recovery, r.input_similarity]
            right.bar(np.arange(4) + (i - (len(rules) - 1) / 2) * width, values, width, label=rule)
        right.set_xticks(np.arange(4), names)
        right.axhline(0.0, color="black", linewidth=0.8)
        right.set_title("Scores (see SanityReport)")
        right.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=dpi)
        return fig


def _score_grid(axes, results: dict[str, RuleSanity], names) -> None:
    """The four scores of every (method, rule) pair as an annotated grid, verdicts on the right."""
    labels = list(results)
    values = np.array([
        [r.class_sensitivity, r.randomization_sensitivity, r.image_recovery, r.input_similarity]
        for r in results.values()
    ])
    axes.imshow(np.nan_to_num(values, nan=0.0), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        axes.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize="small",
                  color="white" if np.nan_to_num(value) < 0.6 else "black")
    axes.set_xticks(np.arange(len(names)), names, fontsize="small")
    axes.set_yticks(np.arange(len(labels)), labels, fontsize="small")
    twin = axes.secondary_yaxis("right")
    twin.set_yticks(np.arange(len(labels)), [r.verdict for r in results.values()], fontsize="small")
    axes.set_title("Scores (see SanityReport) and verdicts")


def verdict(result: RuleSanity | dict, saliency: RuleSanity | dict | None = None) -> str:
    """The rule of thumb that sums up one rule's scores.

    With `CS` the class sensitivity, `WS` the randomization sensitivity and
    `R = max(recovery, recovery_demeaned)`, a rule is *class-sensitive* when
    `CS >= 0.5` (`CLASS_SENSITIVITY_MIN`) and *weight-sensitive* when
    `WS >= 0.5` (`RANDOMIZATION_SENSITIVITY_MIN`); when saliency's scores are
    given, each must also be at least half of saliency's
    (`RELATIVE_TO_SALIENCY_MIN`). `M6` is the input similarity. Then, in this
    order:

    1. **"ignores the input"**: `M6 >= 0.95` (`INPUT_SIMILARITY_MAX`): maps
       of different images are (nearly) the same, so the map shows the
       weights and the class, not why *this* image got its class (Nie et
       al.: DeconvNet without max-pooling gives exactly 1). Class and
       weight sensitivity cannot rescue such a map.
    2. **"reflects the decision"**: class- and weight-sensitive.
    3. **"mostly image recovery"**: not both, and `R >= 0.3`
       (`RECOVERY_MIN`): the map looks like the input whatever the network
       decided (Nie et al.: GBP and DeconvNet).
    4. **"insensitive to class and weights"**: neither, and `R < 0.3`: the
       map follows neither the decision nor the image.
    5. **"partly reflects the decision"**: one of the two only, and `R < 0.3`.

    Calibration (`kv.zoo.fashion_cnn(weights="trained")`, 92 % test
    accuracy; 8 test images, 3 seeds): saliency CS ≈ 1.05–1.07,
    WS ≈ 0.94–0.96, R ≈ 0.09–0.11; DeconvNet CS ≈ 0.35–0.42,
    WS ≈ 0.51–0.55, R ≈ 0.33–0.39 (a borderline case: read its numbers);
    GBP CS ≈ 0.10–0.12, WS ≈ 0.27–0.33, R ≈ 0.53–0.58.
    On random small CNNs: saliency CS ≈ 1.0, WS ≈ 0.9–1.0; GBP CS ≈ 0.11,
    WS ≈ 0.19, R ≈ 0.77. `M6` is 0.05–0.3 for every rule on these nets
    with max-pooling; without max-pooling DeconvNet gives 1.0 and saliency
    of a shallow two-conv net ≈ 0.74. SSIM of two unrelated noise maps is ≈ 0, so
    `CS` and `WS` near 1 mean "as different as unrelated maps". These
    thresholds are a rule of thumb, not a test: read the numbers and the
    cascading curve too.

    Args:
        result: a `RuleSanity` or a dict with `class_sensitivity`,
            `randomization_sensitivity`, `recovery`, `recovery_demeaned` and
            optionally `input_similarity`.
        saliency: saliency's scores on the same model and images, or `None`
            to use the absolute thresholds only. Defaults to `None`.

    Returns:
        One of `VERDICTS`.
    """
    cs, ws, rec = _scores(result)
    similarity = (
        result.input_similarity if isinstance(result, RuleSanity) else result.get("input_similarity")
    )
    if similarity is not None and not math.isnan(similarity) and similarity >= INPUT_SIMILARITY_MAX:
        return VERDICTS[0]
    cs_min, ws_min = CLASS_SENSITIVITY_MIN, RANDOMIZATION_SENSITIVITY_MIN
    if saliency is not None:
        sal_cs, sal_ws, _ = _scores(saliency)
        cs_min = max(cs_min, RELATIVE_TO_SALIENCY_MIN * sal_cs)
        ws_min = max(ws_min, RELATIVE_TO_SALIENCY_MIN * sal_ws)
    class_ok = cs >= cs_min
    weights_ok = not math.isnan(ws) and ws >= ws_min
    if class_ok and weights_ok:
        return VERDICTS[1]
    if rec >= RECOVERY_MIN:
        return VERDICTS[2]
    if not class_ok and not weights_ok:
        return VERDICTS[3]
    return VERDICTS[4]


def _scores(result) -> tuple[float, float, float]:
    if isinstance(result, RuleSanity):
        return result.class_sensitivity, result.randomization_sensitivity, result.image_recovery
    return (
        float(result["class_sensitivity"]),
        float(result["randomization_sensitivity"]),
        max(float(result["recovery"]), float(result["recovery_demeaned"])),
    )


def sanity_check(
    model: keras.Model,
    images,
    rules: Iterable[str] = rules_lib.RULES,
    *,
    methods: Sequence[methods_lib.MethodLike] | None = None,
    num_random_classes: int = 5,
    layers: Sequence[int | str] | None = None,
    max_layers: int | None = None,
    init: str = "keras",
    seed: int = 0,
    preprocess: Callable | None = None,
    output: int | str | None = None,
    batch_size: int = 32,
    progress: bool = True,
    inputs: str | int | None = None,
    faithfulness: bool = True,
) -> SanityReport:
    """Class sensitivity, cascading randomization and image recovery of each rule's maps.

    For each image the maps explain the class the model predicts (its max
    logit). Then, per rule:

    - **class sensitivity**: the max-logit map is compared with the maps of
      `num_random_classes` other classes, drawn with `seed` (never the
      predicted one): mean SSIM and Spearman (abs) via
      `kv.analysis.metrics.map_similarity`; `class_sensitivity = 1 - SSIM`.
    - **cascading randomization** (Adebayo et al.): the weight layers
      (`kv.zoo.weight_layers`) are re-initialized one at a time from the
      top, cumulatively, as `kv.zoo.randomize_part` does (same values for the
      same `seed` and `init`); after each step the map of the same class is
      compared with the original map. The curve's first point is the
      unrandomized copy (similarity 1).
    - **image recovery**: `kv.analysis.metrics.recovery` of the max-logit
      map with the image, Pearson r raw and channel-demeaned.
    - **input similarity**: `kv.analysis.metrics.input_independence`
      between the map of image `i` and the map of image `i - 1` for image
      `i`'s class (needs 2 images or more; NaN otherwise).

    and a verdict (`verdict`, with saliency's scores as the baseline when
    saliency is among the rules). On a model without ReLUs every other rule
    gives the saliency map, and its verdict says so: "identical to saliency:
    no ReLU in this model" (`NO_RELU_VERDICT`). The model is not modified: randomization
    happens in a copy (two copies are made in all, and one `kv.Visualizer`
    per copy compiles once).

    A relevance map (LRP, DeepLIFT) sums to its score, so it carries the
    score's sign; each is multiplied by the sign of its class's logit (on the
    model it was taken on) before these comparisons, which then measure
    where the relevance goes, as for gradient maps.

    Args:
        model: a built Functional or Sequential Keras model taking images
            `(N, H, W, C)` and returning (logits or softmax) scores of at least
            2 classes.
        images: `(N, H, W, C)` images as the model (or `preprocess`) takes
            them. 4–16 images are plenty.
        rules: rule names or aliases, and relevance rules (`"lrp-zplus"`,
            `"deeplift"`, `kv.rules.LRP(...)`...). Defaults to `kv.RULES`.
        methods: `kv.methods` methods (or their names, e.g.
            `["gradient", "smoothgrad", "gradcam"]`): every (method, rule)
            pair is scored. Each check runs the method as it is (noisy copies
            included), so slow methods multiply the time. Grad-CAM maps
            `(H, W)` are compared as one-channel maps, and their image
            recovery is taken against the image's channel mean. The verdict
            of a pair uses the same method's saliency pair as its baseline.
            Defaults to `None`: the gradient only (`[kv.methods.Gradient()]`).
        num_random_classes: random classes per image, capped at
            `num_classes - 1`. Defaults to `5`.
        layers: the weight layers to randomize (names, or indices into
            `kv.zoo.weight_layers(model)`); they are randomized from the top
            whatever order they are given in. Defaults to `None` (all).
        max_layers: randomize only the top `max_layers` of them (for deep
            models, where the top layers tell most). Defaults to `None`.
        init: how a randomized layer is re-initialized: `"keras"` (its own
            initializers, reseeded) or `"paper"` (TruncatedNormal(0.1)
            kernels; see `kv.zoo.randomize`). Defaults to `"keras"`.
        seed: seed of the random classes and the random weights. Defaults to
            `0`.
        preprocess: a function applied to the images inside the gradient
            computation (see `kv.Visualizer`). Defaults to `None`.
        output: the output to explain for a multi-output model. Defaults to
            `None`.
        batch_size: images per forward pass. Defaults to `32`.
        progress: show a progress bar over the randomization steps.
            Defaults to `True`.
        inputs: for a model with several inputs (passed as `images`, a list
            or dict as `kv.Visualizer` takes them), the image input whose
            maps are judged, by name or index. Defaults to `None`: the
            model's one image input `(N, H, W, C)`.
        faithfulness: also score each pair's max-logit maps with
            `kv.evaluation.deletion` and `insertion` (10 steps, black
            baseline) and `mu_fidelity` (grid 7, 64 subsets, seed `seed`):
            forward passes only; not for a model with several inputs, whose
            other inputs the metrics do not perturb. Defaults to `True`.

    Returns:
        A `SanityReport`: `print` it for a table, `.to_dict()` for JSON,
        `.plot(path)` for a figure.

    Raises:
        InvalidInputError: for images that do not fit the model, or bad
            `layers`.
        InvalidArgumentError: (an `InvalidInputError`) for no rules, or a bad
            `num_random_classes`, `max_layers`, `init` or `seed`.
        UnsupportedModelError: for a model that `kv.Visualizer` cannot
            explain, that does not take images, has fewer than 2 classes or
            no weight layer.
        UnknownRuleError: for an unknown rule.

    Example:

    ```python
    net = kv.zoo.fashion_cnn(weights="trained")
    (_, _), (x_test, _) = kv.data.fashion_mnist()
    report = kv.analysis.sanity_check(net, x_test[:8], rules=("saliency", "guided"))
    print(report)
    report["guided"].verdict   # "mostly image recovery"
    methods = kv.analysis.sanity_check(net, x_test[:8], methods=["gradient", "smoothgrad", "gradcam"])
    methods["gradcam:saliency"].verdict, methods[("smoothgrad", "gbp")].verdict
    ```

    Warning:
        Maps of 2 or 3 images give noisy scores; the SSIM of maps smaller
        than 7×7 pixels is not meaningful.
    """
    rules = rules if isinstance(rules, (str, rules_lib.RelevanceRule)) else tuple(rules)
    rule_names = rules_lib.canonical_names(rules)
    method_list = _methods(methods)
    num_random_classes = _validation.positive_int(num_random_classes, "num_random_classes")
    max_layers = _validation.positive_int(max_layers, "max_layers", allow_none=True)
    init = _validation.one_of(init, "init", ("keras", "paper"))
    seed = _validation.seed(seed, non_negative=True)

    several = len(getattr(model, "inputs", None) or []) > 1
    inputs = _image_input(model, inputs) if several else None
    viz = Visualizer(model, rules, output=output, preprocess=preprocess, batch_size=batch_size, seed=seed,
                     inputs=inputs)
    for traced in (False, True):  # a subclassed model's input is known once traced
        if traced:
            logits = viz.predict(images)  # the visualizer's checks of images vs model
        if viz.input_shape is not None and len(viz.input_shape) != 4 and not several:
            raise UnsupportedModelError(
                "sanity_check compares image-shaped maps: the model must take (N, H, W, C) "
                f"inputs. Received: model input shape {viz.input_shape}"
            )
    given = images
    if several:  # the judged image input's array
        names = [spec.name for spec in viz.input_spec]
        position = names.index(inputs) if isinstance(inputs, str) else int(inputs) % len(names)
        if len(viz.input_spec[position].shape) != 4:
            raise UnsupportedModelError(
                "sanity_check compares image-shaped maps: the judged input must be (N, H, W, C). "
                f"Received: inputs={inputs!r} shaped {viz.input_spec[position].shape}"
            )
        images = given[names[position]] if isinstance(given, dict) else given[position]
    images = np.asarray(images, dtype=np.float32)
    num_classes = logits.shape[-1]
    if num_classes < 2:
        raise UnsupportedModelError(
            "Class sensitivity needs a model with at least 2 classes. "
            f"Received: model output with {num_classes} class"
        )
    all_layers = [layer.name for layer in randomization.weight_layers(model)]
    if not all_layers:
        raise UnsupportedModelError(
            "Cascading randomization needs layers with a kernel (Dense, Conv...); "
            f"model {model.name!r} has none. Received: model={model.name!r}"
        )
    order = randomization.cascade_order(model, layers, max_layers)

    if len(images) < 2:
        warnings.warn(
            "sanity_check: the input similarity (M6) compares the maps of different "
            "images, so with one image it is nan. Pass 2 images or more (4-16 are "
            f"plenty). Received: images with shape {images.shape}",
            stacklevel=2,
        )
    predicted = np.argmax(logits, axis=-1)
    k = min(num_random_classes, num_classes - 1)
    others = targets_lib.random_other_classes(predicted, num_classes, k, seed)
    classes = np.concatenate([predicted[:, None], others], axis=1)
    original: dict[str, np.ndarray] = {}
    class_scores = {}
    recoveries = {}
    relevance = rules_lib.relevance_rules(viz.rule_objects)
    for method in method_list:
        per_class = viz(given, target=classes, method=method, progress=False)
        for rule, maps in per_class.items():
            label = _label(method.name, rule)
            maps = _as_maps(maps)
            if rule in relevance:
                maps = metrics.signed_by_score(maps, np.take_along_axis(logits, classes, axis=1))
            original[label] = maps[:, 0]
            pairs = [
                metrics.map_similarity(maps[i, 0], maps[i, j]) for i in range(len(images)) for j in range(1, k + 1)
            ]
            class_scores[label] = (
                float(np.mean([p["ssim"] for p in pairs])),
                float(np.mean([p["spearman_abs"] for p in pairs])),
            )
            recoveries[label] = [metrics.recovery(m, _image_like(x, m)) for m, x in zip(original[label], images)]

    faithful = {label: _faithfulness(viz, images, maps, predicted, seed) if faithfulness and not several else {}
                for label, maps in original.items()}
    curves, shifted = _cascade(
        model, viz, given, predicted, original, order, all_layers, seed, init, output, progress, method_list,
        inputs,
    )

    results: dict[str, RuleSanity] = {}
    partial = {}
    for method in method_list:
        for rule in rule_names:
            label = _label(method.name, rule)
            partial[label] = RuleSanity(
                rule=rule,
                class_ssim=class_scores[label][0],
                class_spearman=class_scores[label][1],
                cascade=tuple(curves[label]),
                recovery=float(np.mean([r["r_image"] for r in recoveries[label]])),
                recovery_demeaned=float(np.mean([r["r_image_demeaned"] for r in recoveries[label]])),
                input_similarity=(
                    float(np.mean([
                        metrics.input_independence(a, b) for a, b in zip(original[label], shifted[label])
                    ]))
                    if shifted is not None else math.nan
                ),
                verdict="",
                method=method.name,
                **faithful[label],
            )
    for label, result in partial.items():
        rule = result.rule
        baseline = partial.get(_label(result.method, "saliency"))
        reference = None if rule == "saliency" else baseline
        said = verdict(result, reference)
        relevance = rule in rules_lib.relevance_rules(viz.rule_objects)  # differs from saliency without ReLUs
        if rule != "saliency" and viz.report.identical_to_saliency and not relevance:
            said = NO_RELU_VERDICT
        results[label] = dataclasses.replace(result, verdict=said)
    return SanityReport(
        results=results,
        model_name=model.name,
        num_images=len(images),
        num_random_classes=k,
        layers=tuple(all_layers[i] for i in order),
        seed=seed,
        init=init,
        methods=tuple(method.name for method in method_list),
    )


def _faithfulness(viz, images, maps, classes, seed) -> dict[str, float]:
    """Mean deletion, insertion and MuFidelity of one pair's max-logit maps."""
    from kerasviz import evaluation

    size = min(images.shape[1:3])
    mu = evaluation.mu_fidelity(viz, images, maps, target=classes, grid=min(7, size), samples=64, seed=seed)
    mu = mu[~np.isnan(mu)]  # NaN for an all-zero map: left out of the mean
    return {
        "deletion": float(np.mean(evaluation.deletion(viz, images, maps, target=classes, steps=10))),
        "insertion": float(np.mean(evaluation.insertion(viz, images, maps, target=classes, steps=10))),
        "mu_fidelity": float(mu.mean()) if len(mu) else math.nan,
    }


def _label(method: str, rule: str) -> str:
    """The results key of a (method, rule) pair: the rule alone for the gradient."""
    return rule if method == "gradient" else f"{method}:{rule}"


def _methods(methods) -> list[methods_lib.Method]:
    if methods is None:
        return [methods_lib.Gradient()]
    if isinstance(methods, (str, methods_lib.Method)):
        methods = [methods]
    resolved = [methods_lib.resolve(m) for m in methods]
    names = [m.name for m in resolved]
    if not resolved or len(set(names)) != len(names):
        raise InvalidArgumentError(
            "methods must be a non-empty list of kv.methods methods (or names) with "
            "different names, one per kind, e.g. ['gradient', 'smoothgrad', 'gradcam']. "
            f"Received: methods={list(methods)!r}"
        )
    return resolved


def _as_maps(maps: np.ndarray) -> np.ndarray:
    """`(N, K, H, W, C)` maps; Grad-CAM's `(N, K, H, W)` gain a channel axis."""
    return maps[..., None] if maps.ndim == 4 else maps


def _image_like(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The image to compare a map with: its channel mean for a one-channel map of a colour image."""
    return image.mean(axis=-1, keepdims=True) if m.shape[-1] != image.shape[-1] else image


def _image_input(model: keras.Model, inputs: str | int | None) -> str | int:
    """The image input of a model with several inputs whose maps `sanity_check` judges."""
    if inputs is not None:
        return inputs
    images = [x for x in model.inputs if len(x.shape) == 4]
    if len(images) != 1:
        raise UnsupportedModelError(
            f"sanity_check judges the maps of one image input (N, H, W, C); the model has {len(images)} "
            f"among its {len(model.inputs)} inputs: name it with inputs=<name or index>. Received: inputs=None"
        )
    return model.inputs.index(images[0])


def _rolled(images):
    """Each sample given the inputs of the one before it (every input of a model with several)."""
    if isinstance(images, dict):
        return {k: np.roll(np.asarray(v), 1, axis=0) for k, v in images.items()}
    if isinstance(images, (list, tuple)):
        return [np.roll(np.asarray(v), 1, axis=0) for v in images]
    return np.roll(images, 1, axis=0)


def _cascade(model, viz, images, predicted, original, order, all_layers, seed, init, output, progress, method_list,
             inputs=None):
    """The cascading-randomization curves `{label: [CascadeStep, ...]}`, and the M6 maps.

    The M6 maps (`{label: maps}` of the images shifted by one, for the
    original images' classes, or `None` for a single image) are taken on the
    unrandomized copy, so they share its compiled function.
    """
    copy = randomization.randomize(model, [], seed=seed, init=init)
    randomized = randomization.randomize(model, order, seed=seed, init=init)
    copy_layers, random_layers = randomization.weight_layers(copy), randomization.weight_layers(randomized)
    with warnings.catch_warnings():  # the same rewrite warnings as `viz`'s: said once
        warnings.simplefilter("ignore")
        copy_viz = Visualizer(
            copy, viz.rule_objects, output=output, preprocess=viz.preprocess, batch_size=viz.batch_size, seed=viz.seed,
            inputs=inputs,
        )
    curves: dict[str, list[CascadeStep]] = {label: [] for label in original}
    done: list[str] = []
    relevance = rules_lib.relevance_rules(viz.rule_objects)
    rows = np.arange(len(images))

    def signed(rule, maps, x):
        if rule not in relevance:
            return maps
        return metrics.signed_by_score(maps, copy_viz.predict(x)[rows, predicted])

    def measure(layer_name: str) -> None:
        for method in method_list:
            maps = copy_viz(images, target=predicted, method=method, progress=False)
            for rule in viz.rules:
                label = _label(method.name, rule)
                randomized_maps = signed(rule, _as_maps(maps[rule][:, None])[:, 0], images)
                sims = [metrics.map_similarity(a, b) for a, b in zip(original[label], randomized_maps)]
                curves[label].append(
                    CascadeStep(
                        layer=layer_name,
                        randomized=tuple(done),
                        ssim=float(np.mean([s["ssim"] for s in sims])),
                        spearman_abs=float(np.mean([s["spearman_abs"] for s in sims])),
                    )
                )

    measure("none")
    # Maps of image i-1 for image i's class, with the original weights (M6).
    shifted = None
    if len(predicted) > 1:
        shifted = {}
        for method in method_list:
            rolled = _rolled(images)
            maps = copy_viz(rolled, target=predicted, method=method, progress=False)
            shifted.update({
                _label(method.name, rule): signed(rule, _as_maps(m[:, None])[:, 0], rolled) for rule, m in maps.items()
            })
    for index in tqdm(order, desc="kerasviz sanity", unit="layer", disable=not progress):
        copy_layers[index].set_weights(random_layers[index].get_weights())
        done.append(all_layers[index])
        measure(all_layers[index])
    return curves, shifted

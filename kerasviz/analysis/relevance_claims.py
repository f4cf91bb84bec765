"""The relevance rules (LRP, DeepLIFT) on the claims GBP fails: measured rows beside GBP's, not verdicts.

`kerasviz reproduce` maps the relevance rules of `Settings.relevance_rules`
beside the paper's three in E2 (N = 64), on the random VGG-16 (E4) and, on
every trained net, in E5 (cascading), E6 and E7 (records with
`"rule": "lrp-zplus"` ...; each relevance map multiplied by the sign of its
logit, `metrics.signed_by_score`). `summarize` computes, for each rule, the
metric each claim reads for GBP:

| claim | measure (`MEASURES`) | GBP's side of the claim's bound |
|---|---|---|
| C1 | r(·, x̃) and r(·, x), E2 random CNN, N = 64 | ≥ 0.6 |
| C7 | r(·, x), random VGG-16 (paper init) | (C7 bounds a difference) |
| C8 | lowest mean SSIM to the trained map while block 1 is trained; mean SSIM once the dense head is random | ≥ 0.5 |
| C9 | mean class-pair SSIM (E6) | ≥ 0.9 |
| C10 | mean SSIM between the maps of x and x_adv (E7, smallest flipping ε) | ≥ 0.9 |

Each mean is then placed by the one it is closer to: GBP's or saliency's
(`"GBP"` / `"saliency"`), left unplaced where those two differ by less than
`SEPARATION`. `PREDICTIONS` states what the theory expects: z+ and
alpha-beta keep the positive part of the backward signal, as GBP's
positive-gradient filter does, so they should sit with GBP; epsilon and
DeepLIFT keep the negative contributions, so they should sit with
saliency (class- and weight-sensitive; on E2's bias-free ReLU net both are
exactly gradient × input). The composites mixing the two (z+ or gamma on the
convolutions, epsilon on the dense layers) get no prediction. Each row
counts how many placed measures agree with its prediction. No claim's
verdict reads these rows, and `reproduce` never fails because of them.

Example:

```python
from kerasviz.analysis import relevance_claims

section = relevance_claims.summarize(records, ("lrp-zplus", "deeplift"))
print(relevance_claims.markdown(section))
```
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kerasviz.analysis.claims import THRESHOLDS, lowest_step, trained_nets
from kerasviz.analysis.records import select
from kerasviz.analysis.records import stats as record_stats
from kerasviz.errors import InvalidArgumentError
from kerasviz.relevance import NAMED

__all__ = [
    "MEASURES",
    "PREDICTIONS",
    "SEPARATION",
    "Measure",
    "check_rules",
    "markdown",
    "place",
    "summarize",
]

Record = Mapping[str, Any]

#: Ours: GBP's and saliency's means must differ by at least this much for a measure to place a rule by them.
SEPARATION = 0.1

#: What the theory expects of each named relevance rule: to sit with `"GBP"` or with `"saliency"` (None: no prediction).
PREDICTIONS: dict[str, str | None] = {
    "lrp-zplus": "GBP",
    "lrp-alpha2-beta1": "GBP",
    "lrp-epsilon": "saliency",
    "deeplift": "saliency",
    "lrp-epsilon-plus": None,
    "lrp-epsilon-plus-flat": None,
    "lrp-epsilon-gamma-box": None,
}

#: The references every table shows first.
_REFERENCES = ("saliency", "guided")


@dataclasses.dataclass(frozen=True)
class Measure:
    """One claim's metric, as it is read for GBP: which records, and GBP's side of the claim's bound.

    Attributes:
        claim: the claim whose metric this is (`"C1"` ...).
        label: its column header.
        filters: the records it reads (`kerasviz.analysis.records.select`).
        bound: GBP's side of the claim's bound (at least this), or None.
        lowest: the lowest per-step mean (`claims.lowest_step`) instead of the mean.

    Example:

    ```python
    c9 = Measure("C9", "class-pair SSIM", {"experiment": "E6", "metric": "ssim"}, bound=0.9)
    c9.value(records, "lrp-zplus")  # (0.97, 336): the mean and how many records
    ```
    """

    claim: str
    label: str
    filters: Mapping[str, Any]
    bound: float | None = None
    lowest: bool = False

    def value(self, records: Sequence[Record], rule: str) -> tuple[float | None, int]:
        """The rule's mean (or lowest step mean) over the records of this measure, and how many records."""
        chosen = select(records, rule=rule, **self.filters)
        if not chosen:
            return None, 0
        mean = lowest_step(chosen, rule)[0] if self.lowest else record_stats(chosen)[0]
        return (mean if mean is not None and math.isfinite(mean) else None), len(chosen)


_N = THRESHOLDS["reference_filters"]

#: The measures of the random nets (`"random"`) and of each trained net (`"trained"`).
MEASURES: dict[str, tuple[Measure, ...]] = {
    "random": (
        Measure("C1", f"C1: r(·, x̃), E2 CNN N={_N}",
                {"experiment": "E2", "setting": "cnn", "param": _N, "metric": "r_normalized"},
                THRESHOLDS["c1_r_gbp"]),
        Measure("C1", f"C1: r(·, x), E2 CNN N={_N}",
                {"experiment": "E2", "setting": "cnn", "param": _N, "metric": "r_image"}, THRESHOLDS["c1_r_gbp"]),
        Measure("C7", "C7: r(·, x), random VGG-16",
                {"experiment": "E4", "setting": "vgg16_random", "metric": "r_image"}),
    ),
    "trained": (
        Measure("C8", "C8: lowest SSIM to trained map, block 1 trained",
                {"experiment": "E5", "setting": "part", "metric": "ssim", "lowest_trained": True},
                THRESHOLDS["c8_high"], lowest=True),
        Measure("C8", "C8: SSIM to trained map, dense head random",
                {"experiment": "E5", "setting": "part", "metric": "ssim", "head_random": True},
                THRESHOLDS["c8_sal_low"]),
        Measure("C9", "C9: class-pair SSIM",
                {"experiment": "E6", "setting": "class_pairs", "metric": "ssim"}, THRESHOLDS["c9_ssim"]),
        Measure("C10", "C10: SSIM(x, x_adv)",
                {"experiment": "E7", "setting": "fgsm_min", "metric": "ssim"}, THRESHOLDS["c10_similarity"]),
    ),
}


def check_rules(rules: Iterable[str]) -> tuple[str, ...]:
    """`rules` as a tuple, checked: named relevance rules (`kv.relevance.NAMED`), each once.

    Args:
        rules: rule names, e.g. `Settings.relevance_rules`.

    Returns:
        The rules, in order.

    Raises:
        InvalidArgumentError: for a name that is not a named relevance rule
            (the paper's rules are always mapped), or a name given twice.

    Example:

    ```python
    relevance_claims.check_rules(["lrp-zplus", "deeplift"])  # ("lrp-zplus", "deeplift")
    ```
    """
    rules = tuple(rules)
    unknown = [rule for rule in rules if rule not in NAMED]
    if unknown or len(set(rules)) != len(rules):
        raise InvalidArgumentError(
            f"Settings.relevance_rules lists named relevance rules, each once, from {list(NAMED)} (the paper's "
            f"saliency, deconvnet and guided are always mapped; () for none). "
            f"Received: relevance_rules={rules!r}" + (f", unknown: {unknown!r}" if unknown else ", a name twice")
        )
    return rules


def place(value: float | None, gbp: float | None, saliency: float | None) -> str | None:
    """Which of GBP's and saliency's means `value` is closer to: `"GBP"`, `"saliency"`, or None.

    None when a mean is missing or when GBP's and saliency's differ by less
    than `SEPARATION` (the measure cannot tell them apart); a tie goes to
    neither.

    Example:

    ```python
    relevance_claims.place(0.8, gbp=0.9, saliency=0.1)  # "GBP"
    ```
    """
    if value is None or gbp is None or saliency is None or abs(gbp - saliency) < SEPARATION:
        return None
    to_gbp, to_saliency = abs(value - gbp), abs(value - saliency)
    if to_gbp == to_saliency:
        return None
    return "GBP" if to_gbp < to_saliency else "saliency"


def _table(records: Sequence[Record], measures: Sequence[Measure], rules: Sequence[str], title: str,
           net: str | None) -> dict[str, Any]:
    """One table: the references' and each rule's value per measure, placed, and the agreement count."""
    values = {rule: [m.value(records, rule) for m in measures] for rule in (*_REFERENCES, *rules)}
    rows = []
    for rule, cells in values.items():
        predicted = PREDICTIONS.get(rule) if rule not in _REFERENCES else None
        row_cells = []
        for measure, (mean, n), gbp, sal in zip(measures, cells, values["guided"], values["saliency"], strict=True):
            like = None if rule in _REFERENCES else place(mean, gbp[0], sal[0])
            meets = None if mean is None or measure.bound is None else mean >= measure.bound
            row_cells.append({"mean": mean, "n": n, "like": like, "meets_bound": meets})
        placed = [(m, c) for m, c in zip(measures, row_cells, strict=True) if c["like"] is not None]
        row = {"rule": rule, "prediction": predicted, "cells": row_cells, "placed": len(placed)}
        if predicted is not None:
            row["agree"] = sum(c["like"] == predicted for _, c in placed)
            row["disagree_on"] = [m.label for m, c in placed if c["like"] != predicted]
        rows.append(row)
    return {"title": title, "net": net, "measures": [dataclasses.asdict(m) for m in measures], "rows": rows}


def summarize(records: Iterable[Record], rules: Sequence[str]) -> dict[str, Any]:
    """The section's tables: C1 (and C7's r) on the random nets, C8–C10 per trained net.

    Args:
        records: every record of the run (`kerasviz reproduce`'s).
        rules: the relevance rules mapped (`check_rules`).

    Returns:
        `{"rules", "predictions", "separation", "tables"}`; each table is
        `{"title", "net", "measures", "rows"}` and each row `{"rule",
        "prediction", "cells": [{"mean", "n", "like", "meets_bound"}],
        "placed", "agree", "disagree_on"}` (the last two with a prediction),
        saliency's and GBP's rows first. A mean not measured is None.

    Example:

    ```python
    section = relevance_claims.summarize(records, ("lrp-zplus",))
    [row["agree"] for row in section["tables"][0]["rows"][2:]]
    ```
    """
    rules = check_rules(rules)
    records = list(records)
    random = [r for r in records if r.get("experiment") in ("E2", "E4") and r.get("net") is None]
    tables = [_table(random, MEASURES["random"], rules, "random nets", None)]
    for net in trained_nets(records):
        own = [r for r in records if r.get("net") == net and r.get("study") is None]
        tables.append(_table(own, MEASURES["trained"], rules, f"trained net {net}" if net else "trained net", net))
    return {"rules": list(rules), "predictions": {rule: PREDICTIONS.get(rule) for rule in rules},
            "separation": SEPARATION, "tables": tables}


def _cell(cell: Mapping[str, Any]) -> str:
    if cell["mean"] is None:
        return "not measured"
    text = f"{cell['mean']:.3f}" + ("✓" if cell["meets_bound"] else "")
    return text + {"GBP": " ≈GBP", "saliency": " ≈Sal", None: ""}[cell["like"]]


def _agreement(row: Mapping[str, Any]) -> str:
    if row["prediction"] is None:
        return "no prediction" if row["rule"] not in _REFERENCES else "reference"
    if not row["placed"]:
        return "nothing placed"
    said = f"{row['agree']} of {row['placed']}"
    return said + (f" (not: {'; '.join(row['disagree_on'])})" if row["disagree_on"] else "")


def markdown(section: Mapping[str, Any]) -> str:
    """The section of REPORT.md: what the rows are, then one table per `summarize` table.

    Example:

    ```python
    text = relevance_claims.markdown(relevance_claims.summarize(records, ("lrp-zplus",)))
    ```
    """
    parts = [
        "Measured rows, not claims of the paper: no verdict above reads them. Each relevance map is multiplied "
        "by the sign of its logit before it is compared (`metrics.signed_by_score`); each cell is the metric the "
        "claim reads for GBP (mean over seeds × images, × pairs for C9), ✓ where it meets GBP's side of the "
        "claim's bound, then ≈GBP or ≈Sal: which of GBP's and saliency's means it is closer to (not placed "
        f"where those two differ by less than {section['separation']}). Prediction (the theory's): z+ and "
        "alpha-beta keep the positive part of the backward signal, as GBP's positive-gradient filter does, so "
        "they should sit with GBP; epsilon and DeepLIFT keep the negative contributions, so they should sit "
        "with saliency (on E2's bias-free ReLU net both are gradient × input); the composites that mix the two "
        "get none. \"agrees\" counts the placed cells that match the prediction.",
    ]
    for table in section["tables"]:
        labels = [m["label"] for m in table["measures"]]
        lines = [f"**{table['title']}**", "",
                 "| rule | prediction | " + " | ".join(labels) + " | agrees |",
                 "|---|---|" + "---|" * len(labels) + "---|"]
        for row in table["rows"]:
            cells = " | ".join(_cell(c) for c in row["cells"])
            lines.append(f"| {row['rule']} | {row['prediction'] or '—'} | {cells} | {_agreement(row)} |")
        parts += ["", "\n".join(lines)]
    return "\n".join(parts)

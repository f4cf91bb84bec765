"""The written report of `kerasviz reproduce`: results.json and REPORT.md (claim table, figures, tables).

| function | writes |
|---|---|
| `write_results` | `results.json`: `{"claims": [...], "records": [...], "settings": {...}}`, and `"relevance"` when given |
| `write_report` | `REPORT.md`: claim table (C8–C10 per trained net), what the numbers mean, figures with captions, C11's curve, the width study, the relevance rules' rows (`kerasviz.analysis.relevance_claims`), mean ± sd tables |
| `claim_table`, `plain_words`, `input_independence_table`, `width_table`, `experiment_tables` | its parts |
| `write_all` | results.json, the figures, REPORT.md and REPORT.html (figures embedded) into one folder |

The figures themselves are drawn by `kerasviz.analysis.figures`; its names
(`plot_grid`, `plot_recovery_vs_filters`, `plot_fc_vs_cnn`,
`plot_randomization`, `plot_similarity_bars`, `make_figures`, `FIGURES`)
are re-exported here. Mean ± sd follow `kerasviz.names.mean_sd` (NaN left out).

Example:

```python
from kerasviz.analysis import claims, experiments, report

records = experiments.e2_random_cnn(images, filters=(1, 16, 64))
report.write_all("out", claims.evaluate(records), records)
```
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.analysis import html, relevance_claims
from kerasviz.analysis.figures import (  # re-exported: the figures used to live here
    FIGURES,
    make_figures,
    plot_fc_vs_cnn,
    plot_grid,
    plot_input_independence,
    plot_randomization,
    plot_recovery_vs_filters,
    plot_similarity_bars,
    plot_width,
)
from kerasviz.analysis.records import stats as _stats
from kerasviz.names import EXPERIMENTS as EXPERIMENT_TITLES
from kerasviz.names import RULE_COLORS, RULE_LABELS  # noqa: F401  (kept importable from here)
from kerasviz.rules import RULES

#: The claims with one row per trained net (`kerasviz.analysis.claims.TRAINED_NET_CLAIMS`).
_TRAINED_NET_CLAIMS = ("C8", "C9", "C10")

__all__ = [
    "FIGURES",
    "claim_table",
    "experiment_tables",
    "input_independence_table",
    "make_figures",
    "plot_fc_vs_cnn",
    "plot_grid",
    "plot_input_independence",
    "plain_words",
    "plot_randomization",
    "plot_recovery_vs_filters",
    "plot_similarity_bars",
    "plot_width",
    "to_json",
    "write_all",
    "write_report",
    "width_table",
    "write_results",
]

Record = Mapping[str, Any]


# --------------------------------------------------------------------------- #
# JSON                                                                         #
# --------------------------------------------------------------------------- #


def to_json(value: Any) -> Any:
    """`value` with NumPy types made plain and NaN/inf replaced by `None` (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_results(
    path: str | os.PathLike,
    claims: Sequence[Mapping],
    records: Sequence[Record],
    settings: Mapping[str, Any] | None = None,
    relevance: Mapping[str, Any] | None = None,
) -> Path:
    """Write `results.json`: `{"claims": [...], "records": [...], "settings": {...}}`.

    Each claim keeps the keys of `claims.evaluate` (`id`, `claim`, `setting`,
    `metric`, `value`, `threshold`, `holds`, ...). NaN becomes `null`.
    `relevance` (`relevance_claims.summarize`) is written under `"relevance"`.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"claims": to_json(list(claims)), "records": to_json(list(records)),
               "settings": to_json(dict(settings or {}))}
    if relevance is not None:
        payload["relevance"] = to_json(dict(relevance))
    path.write_text(json.dumps(payload, indent=1, allow_nan=False, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- #
# Summaries                                                                    #
# --------------------------------------------------------------------------- #


def _fmt(mean: float | None, sd: float | None = None, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and not math.isfinite(mean)):
        return "—"
    text = f"{mean:.{digits}f}"
    if sd is not None and math.isfinite(sd):
        text += f" ± {sd:.{digits}f}"
    return text


def _fmt_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 1e4 or (value != 0 and abs(value) < 1e-3):
            return f"{value:.6g}"
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:g}"
    return str(value)


# --------------------------------------------------------------------------- #
# Markdown                                                                     #
# --------------------------------------------------------------------------- #


def _check_text(check: Mapping) -> str:
    name = check["name"]
    value = check.get("value")
    if value is None:
        return f"{name}: not measured"
    text = f"{name} = {_fmt(value, check.get('sd'))}"
    if "mean" in check and "theory" in check and check["theory"] is not None:
        text += f" (mean {_fmt(check['mean'])}, theory {_fmt(check['theory'])})"
    for part, stats in (check.get("parts") or {}).items():
        text += f"; {part} = {_fmt(stats.get('mean'), stats.get('sd'))}"
    mark = "✓" if check["holds"] else "✗"
    return f"{mark} {text}"


def _net_cell(claim: Mapping) -> str:
    if claim.get("net"):
        return str(claim["net"])
    return "trained net" if claim.get("id") in _TRAINED_NET_CLAIMS else "random nets"


def claim_table(claims: Sequence[Mapping]) -> str:
    """The markdown claim table: id, claim, net, setting, measured mean ± sd, criterion, verdict.

    C8–C10 have one row per trained net (the `"net"` of `claims.evaluate`);
    the other claims are measured on random nets.
    """
    lines = [
        "| id | claim | net | setting | measured (mean ± sd) | criterion | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in claims:
        measured = "<br>".join(_check_text(c) for c in claim.get("checks", []))
        if claim.get("note"):
            measured += f"<br>*{claim['note']}*"
        verdict = "✅ holds" if claim["holds"] else "❌ does not hold"
        cells = [claim["id"], claim["claim"], _net_cell(claim), claim["setting"], measured, claim["criterion"],
                 verdict]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Plain words                                                                  #
# --------------------------------------------------------------------------- #


def _v(claim: Mapping, name: str) -> float | None:
    value = (claim.get("value") or {}).get(name)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _part(claim: Mapping, index: int, name: str) -> float | None:
    checks = claim.get("checks") or []
    if index >= len(checks):
        return None
    value = ((checks[index].get("parts") or {}).get(name) or {}).get("mean")
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _n(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _verdict_words(claim: Mapping) -> str:
    return "holds" if claim["holds"] else "does not hold"


def _swept(claim: Mapping) -> list[tuple[Any, float]]:
    out = []
    for check in claim.get("checks", []):
        if "mean" in check and check.get("mean") is not None:
            out.append((check["name"].rsplit("=", 1)[-1], check["mean"]))
    return out


def _trained_sentence(cid: str, claim: Mapping) -> str:
    net = f"`{claim['net']}`" if claim.get("net") else "the trained net"
    verdict = _verdict_words(claim)
    if cid == "C8":
        gbp = _v(claim, "min SSIM(GBP) while block 1 is trained")
        deconv = _v(claim, "min SSIM(Deconv) while block 1 is trained")
        sal = _v(claim, "SSIM(Sal), dense head random")
        return (f"{net} ({verdict}): with everything above the first conv block randomized, GBP's map keeps SSIM ≥ "
                f"{_n(gbp)} with the trained map and DeconvNet's ≥ {_n(deconv)}, while saliency's falls to "
                f"{_n(sal)} as soon as the dense head is random.")
    if cid == "C9":
        return (f"{net} ({verdict}): SSIM between the maps of two classes of one image is {_n(_v(claim, 'ssim(GBP)'))} "
                f"for GBP, {_n(_v(claim, 'ssim(Deconv)'))} for DeconvNet and {_n(_part(claim, 2, 'ssim(Sal)'))} "
                "for saliency.")
    gbp, deconv, sal = _v(claim, "ssim(GBP)"), _v(claim, "ssim(Deconv)"), _part(claim, 2, "ssim(Sal)")
    return (f"{net} ({verdict}): after the smallest FGSM step that changes the predicted class, the map keeps SSIM "
            f"{_n(gbp)} with the clean image's for GBP, {_n(deconv)} for DeconvNet and {_n(sal)} for saliency.")


_ADVICE = {
    "C8": "A GBP or DeconvNet map that survives the randomization of the upper layers cannot tell you whether "
          "those layers learned anything: to check that a map depends on the learned weights, use saliency "
          "(the plain gradient) or run `kv.analysis.sanity_check` on your model.",
    "C9": "GBP, and to a lesser degree DeconvNet, draw nearly the same map whatever class you ask about: to see "
          "why the net chose one class over another, compare saliency maps (or another class-sensitive method), "
          "not GBP maps.",
    "C10": "A GBP map that hardly changes when the decision flips says little about the decision; saliency "
           "changes with it.",
}


def plain_words(claims: Sequence[Mapping]) -> str:
    """What the measured numbers mean for a user choosing a method: one paragraph per claim, in plain words.

    The numbers are those of `claims` (per trained net for C8–C10); the
    wording follows each verdict.

    Args:
        claims: the dicts of `claims.evaluate`.

    Returns:
        Markdown.
    """
    by_id: dict[str, list[Mapping]] = {}
    for claim in claims:
        by_id.setdefault(claim["id"], []).append(claim)

    def first(cid):
        return (by_id.get(cid) or [None])[0]

    lines = []
    c1 = first("C1")
    if c1:
        lines.append(f"- **C1 ({_verdict_words(c1)}).** On a random, untrained CNN with 64 filters, GBP maps "
                     f"correlate r = {_n(_v(c1, 'r(GBP, x)'))} with the image. A GBP map that looks like the "
                     "object is what any CNN gives, trained or not: its sharpness is no evidence of what the "
                     "network learned.")
    c2 = first("C2")
    if c2:
        lines.append(f"- **C2 ({_verdict_words(c2)}).** Saliency on the same random net correlates "
                     f"r = {_n(_v(c2, 'r(Sal, x)'), 3)} with the image: noise. On a trained net, structure in a "
                     "saliency map therefore comes from the learned weights, which is what an explanation "
                     "should reflect.")
    c3 = first("C3")
    if c3:
        lines.append(f"- **C3 ({_verdict_words(c3)}).** Without max-pooling, DeconvNet gives the same map for "
                     f"every image (M6 = {_n(_v(c3, 'M6(Deconv)'), 3)}): it shows the filters, neither the input "
                     "nor the decision.")
    c4 = first("C4")
    if c4:
        swept = _swept(c4)
        span = (f" (r(GBP, x) from {_n(swept[0][1])} at N = {swept[0][0]} to {_n(swept[-1][1])} at N = "
                f"{swept[-1][0]})") if len(swept) > 1 else ""
        lines.append(f"- **C4 ({_verdict_words(c4)}).** The more filters, the closer the GBP map is to the "
                     f"(patch-normalized) image{span}, along √(S/(1+S)): wide CNNs make GBP more of an image "
                     "copy, not less.")
    c5 = first("C5")
    if c5:
        gap = next((c["value"] for c in c5.get("checks", []) if c["name"].startswith("r_CNN")), None)
        lines.append(f"- **C5 ({_verdict_words(c5)}).** A fully connected net needs units in proportion to the "
                     f"whole input for the same recovery (the CNN beats the widest FC net by {_n(gap)} in r): "
                     "the effect comes from small convolution kernels, so it concerns every CNN.")
    c6 = first("C6")
    if c6:
        lines.append(f"- **C6 ({_verdict_words(c6)}).** Max-pooling makes DeconvNet edge-like (high-pass "
                     f"recovery {_n(_v(c6, 'M2(Deconv), no pool'))} → {_n(_v(c6, 'M2(Deconv), max-pool'))}): an "
                     "image-like DeconvNet map in a net with pooling reflects the pooling switches, not the "
                     "decision.")
    c7 = first("C7")
    if c7:
        lines.append(f"- **C7 ({_verdict_words(c7)}).** A random VGG-16 already gives GBP maps correlated with "
                     f"the image (r(GBP) − r(Sal) = {_n(_v(c7, 'r(GBP, x) − r(Sal, x)'))}): depth does not wash "
                     "the recovery out.")
    for cid, title in (("C8", "weights"), ("C9", "classes"), ("C10", "adversarial inputs")):
        rows = by_id.get(cid) or []
        if not rows:
            continue
        held = sum(c["holds"] for c in rows)
        lines.append(f"- **{cid} ({held} of {len(rows)} trained net{'s' if len(rows) != 1 else ''}).** "
                     + " ".join(_trained_sentence(cid, c) for c in rows) + " " + _ADVICE[cid])
    c11 = first("C11")
    if c11:
        curve = c11.get("curve") or []
        at64 = next((row for row in curve if row["N"] == 64), None)
        predicted = f" (our curve 0.5/(1+S) predicts {_n(at64['theory'], 3)})" if at64 else ""
        lines.append(f"- **C11 ({_verdict_words(c11)}).** GBP maps of two unrelated images correlate "
                     f"M6 = {_n(_v(c11, 'M6(GBP)'), 3)} at N = 64{predicted}: part of every GBP map (half the "
                     "DeconvNet map) is shared by all images and fades only as the number of filters grows, so "
                     "GBP maps of different inputs look alike partly by construction.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# C11's curve and the width study                                              #
# --------------------------------------------------------------------------- #


def input_independence_table(claims: Sequence[Mapping]) -> str:
    """C11 as a curve: the markdown table of `claims.input_independence_curve` (from the C11 claim)."""
    c11 = next((c for c in claims if c.get("id") == "C11"), None)
    curve = (c11 or {}).get("curve") or []
    if not curve:
        return ""
    lines = ["| N | S = N/(3π²) | M6(GBP) measured (mean ± sd, n) | ours: 0.5/(1+S) | measured − curve | "
             "per-pair (0.5 + S·r(x̃_i, x̃_j))/(1+S) | M6(Deconv) (theory 1) |",
             "|---|---|---|---|---|---|---|"]
    for row in curve:
        mark = "✓" if row["within"] else "✗"
        lines.append(f"| {row['N']} | {row['S']:.3f} | {_fmt(row['mean'], row['sd'])} ({row['n']}) | "
                     f"{row['theory']:.3f} | {mark} {row['mean'] - row['theory']:+.3f} | "
                     f"{_fmt(row['pair_theory'])} | {_fmt(row['deconvnet'])} |")
    return "\n".join(lines)


def width_table(records: Sequence[Record]) -> str:
    """The width study's table: per `fashion_vgg` width, C9's class-pair SSIM and C8's numbers (per rule).

    Rows come from the E5/E6 records that carry a `"width"`; C8's numbers
    are those of `claims.evaluate_claim("C8", ...)` on that width's records
    (same thresholds, no verdict row in the claim table).
    """
    from kerasviz.analysis import claims as claims_lib

    by_width: dict[int, list[Record]] = {}
    for r in records:
        if r.get("width") is not None and r.get("experiment") in ("E5", "E6"):
            by_width.setdefault(int(r["width"]), []).append(r)
    if len(by_width) < 2:
        return ""
    lines = ["| width | filters per block | C9: SSIM(GBP) | SSIM(Deconv) | SSIM(Sal) | C8: min SSIM(GBP), block 1 "
             "trained | min SSIM(Deconv) | SSIM(Sal), head random |", "|---|---|---|---|---|---|---|---|"]
    for width in sorted(by_width):
        chosen = [dict(r, study=None, net=f"w{width}") for r in by_width[width]]
        c8 = claims_lib.evaluate_claim("C8", chosen, net=f"w{width}")
        cells = [_fmt(*_stats(chosen, experiment="E6", rule=rule, metric="ssim")[:2])
                 for rule in ("guided", "deconvnet", "saliency")]
        c8_cells = [_fmt(c8["value"].get(name)) for name in (
            "min SSIM(GBP) while block 1 is trained", "min SSIM(Deconv) while block 1 is trained",
            "SSIM(Sal), dense head random")]
        lines.append(f"| {width} | {width}–{2 * width}–{4 * width} | " + " | ".join(cells + c8_cells) + " |")
    return "\n".join(lines)


_TABLE_METRICS = {
    "E5": ("ssim", "spearman_abs"),
}


def experiment_tables(records: Sequence[Record]) -> str:
    """Per-experiment markdown tables: rows (setting, param, metric), columns saliency / DeconvNet / GBP."""
    blocks = []
    experiments = [e for e in EXPERIMENT_TITLES if any(r.get("experiment") == e for r in records)]
    for experiment in experiments:
        chosen = [r for r in records if r.get("experiment") == experiment]
        keep = _TABLE_METRICS.get(experiment)
        extra_rules = [x for x in ("images",) if any(r["rule"] == x for r in chosen)]
        columns = [*RULES, *extra_rules]
        header = "| setting | param | metric | " + " | ".join(RULE_LABELS.get(c, f"{c} (x̃ vs x̃)") for c in columns)
        lines = [f"### {EXPERIMENT_TITLES[experiment]}", "", header + " |",
                 "|" + "---|" * (3 + len(columns))]
        rows = []
        for r in chosen:
            if r["rule"] == "attack" or (keep and r["metric"] not in keep):
                continue
            key = (r["setting"], r["param"], r.get("layer"), r["metric"], r.get("net"))
            if key not in rows:
                rows.append(key)
        for setting, param, layer, metric, net in rows:
            filters = dict(setting=setting, param=param, metric=metric, net=net)
            if layer is not None:
                filters["layer"] = layer
            cells = []
            for rule in columns:
                mean, sd, n = _stats(chosen, rule=rule, **filters)
                cells.append(_fmt(mean, sd) if n else "")
            param_text = _fmt_number(param) + (f" ({layer})" if layer is not None else "")
            setting_text = f"{setting} ({net})" if net is not None else setting
            lines.append(f"| {setting_text} | {param_text} | {metric} | " + " | ".join(cells) + " |")
        attack = [r for r in chosen if r["rule"] == "attack"]
        if attack:
            lines += ["", "Attack (grey levels of 255; `flipped` is the fraction of images whose top-1 class "
                      "changed after uint8 rounding):", "", "| setting | ε | metric | mean ± sd | n |",
                      "|---|---|---|---|---|"]
            seen = []
            for r in attack:
                key = (r["setting"], r["param"], r["metric"], r.get("net"))
                if key not in seen:
                    seen.append(key)
            for setting, param, metric, net in seen:
                mean, sd, n = _stats(attack, setting=setting, param=param, metric=metric, net=net)
                setting_text = f"{setting} ({net})" if net is not None else setting
                lines.append(f"| {setting_text} | {_fmt_number(param)} | {metric} | {_fmt(mean, sd)} | {n} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _curve_tolerance() -> float:
    from kerasviz.analysis import claims as claims_lib

    return claims_lib.C11_CURVE_TOLERANCE


def write_report(
    path: str | os.PathLike,
    claims: Sequence[Mapping],
    records: Sequence[Record],
    figures: Sequence[tuple[Path, str]] = (),
    *,
    title: str = "kerasviz reproduction of Nie, Zhang & Patel (ICML 2018)",
    preamble: str = "",
    relevance: Mapping[str, Any] | None = None,
) -> Path:
    """Write REPORT.md: the claim table, what it means, C11's curve, the width study, figures, tables.

    Sections: the claim table (one row per claim, and per trained net for
    C8–C10), "What the numbers mean for choosing a method" (`plain_words`),
    "C11 as a curve" (`input_independence_table`), the "Width study"
    (`width_table`, when records of two or more `fashion_vgg` widths exist),
    "Relevance rules" (`relevance_claims.markdown` of `relevance`, when
    given), the figures with captions and the per-experiment tables.

    Figures are embedded by their path relative to the report's folder.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    held = sum(1 for c in claims if c["holds"])
    ids = list(dict.fromkeys(c["id"] for c in claims))
    parts = [f"# {title}", ""]
    if preamble:
        parts += [preamble.strip(), ""]
    if len(ids) == len(claims):
        parts += [f"## Claims: {held} of {len(claims)} hold", ""]
    else:
        per_net = [i for i in ids if sum(c["id"] == i for c in claims) > 1]
        parts += [f"## Claims: {held} of {len(claims)} rows hold", "",
                  f"{len(ids)} claims; {', '.join(per_net)} are measured on each trained net, one row per "
                  "(claim, net), with the same thresholds.", ""]
    parts += [claim_table(claims), ""]
    words = plain_words(claims)
    if words:
        parts += ["## What the numbers mean for choosing a method", "", words, ""]
    curve = input_independence_table(claims)
    if curve:
        parts += ["## C11 as a curve", "",
                  "M6(GBP) against the number of filters N (E2, every image pair, one logit), beside our "
                  "derivation (docs/theory.md; ours, not the paper's): half of every GBP map is the DeconvNet "
                  "map, the same for every image, so two images' maps correlate 0.5/(1+S), plus S/(1+S) times "
                  "the correlation of their own x̃. C11's verdict keeps the bound |M6(GBP)| ≤ 0.1; the curve "
                  "shows where that bound is met (large N only). ✓ marks |measured − curve| ≤ "
                  f"{_curve_tolerance()}; the approximation needs many filters and does not apply at N = 1.", "",
                  curve, ""]
    widths = width_table(records)
    if widths:
        parts += ["## Width study", "",
                  "fashion_vgg trained at several widths (same architecture, data and schedule): C9's "
                  "class-pair SSIM and C8's numbers per width, with the same thresholds (0.9 for C9, 0.5 for "
                  "C8). On random nets the theory predicts more image recovery with more filters, hence GBP "
                  "maps less sensitive to the class and to the weights; the table shows whether trained nets "
                  "follow.", "", widths, ""]
    if relevance is not None:
        parts += ["## Relevance rules (LRP, DeepLIFT) on C1 and C8–C10", "", relevance_claims.markdown(relevance), ""]
    if figures:
        parts += ["## Figures", ""]
        for number, (figure, caption) in enumerate(figures, start=1):
            rel = os.path.relpath(figure, path.parent)
            parts += [f"![{Path(figure).stem}]({rel})", "", f"*Figure {number}. {caption}*", ""]
    parts += ["## Per-experiment results (mean ± sd over seeds × images)", "",
              "Saliency is the baseline beside DeconvNet and GBP in every table. Metric names: `r_image` = "
              "Pearson r(map, x); `abs_r_image` = |r|; `r_image_demeaned` = r(map − channel means, x); "
              "`r_normalized` = r(map, x̃); `highpass` = M2; `ssim_image` = M3; `input_independence` = M6 over "
              "image pairs (logit 0; the 'images' column is r(x̃_i, x̃_j) of the images themselves); "
              "`spearman_abs`, `spearman_signed`, `ssim`, `ssim_abs_max`, `hog` = M4.", "",
              experiment_tables(records), ""]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_all(
    out_dir: str | os.PathLike,
    claims: Sequence[Mapping],
    records: Sequence[Record],
    *,
    grid_rows: Sequence[Mapping] | None = None,
    settings: Mapping[str, Any] | None = None,
    preamble: str = "",
    relevance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write results.json, the figures, REPORT.md and REPORT.html (the same, figures embedded) into `out_dir`.

    `relevance` (`relevance_claims.summarize`) adds its section to both.

    Returns:
        `{"results": path, "report": path, "html": path, "figures": [paths]}`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = make_figures(records, out_dir, grid_rows)
    results = write_results(out_dir / "results.json", claims, records, settings, relevance)
    report = write_report(out_dir / "REPORT.md", claims, records, figures, preamble=preamble, relevance=relevance)
    page = html.write_markdown_page(out_dir / "REPORT.html", report.read_text(encoding="utf-8"),
                                    title="kerasviz reproduction report", base_dir=out_dir)
    return {"results": results, "report": report, "html": page, "figures": [f for f, _ in figures]}

"""The written report of `kerasviz reproduce`: results.json and REPORT.md (claim table, figures, tables).

| function | writes |
|---|---|
| `write_results` | `results.json`: `{"claims": [...], "records": [...], "settings": {...}}` |
| `write_report` | `REPORT.md`: claim table, figures with captions, mean ± sd tables |
| `write_all` | results.json, the figures and REPORT.md into one folder |

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

from kerasviz.analysis.figures import (  # re-exported: the figures used to live here
    FIGURES,
    make_figures,
    plot_fc_vs_cnn,
    plot_grid,
    plot_randomization,
    plot_recovery_vs_filters,
    plot_similarity_bars,
)
from kerasviz.analysis.records import stats as _stats
from kerasviz.names import EXPERIMENTS as EXPERIMENT_TITLES
from kerasviz.names import RULE_COLORS, RULE_LABELS  # noqa: F401  (kept importable from here)
from kerasviz.rules import RULES

__all__ = [
    "FIGURES",
    "claim_table",
    "experiment_tables",
    "make_figures",
    "plot_fc_vs_cnn",
    "plot_grid",
    "plot_randomization",
    "plot_recovery_vs_filters",
    "plot_similarity_bars",
    "to_json",
    "write_all",
    "write_report",
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
) -> Path:
    """Write `results.json`: `{"claims": [...], "records": [...], "settings": {...}}`.

    Each claim keeps the keys of `claims.evaluate` (`id`, `claim`, `setting`,
    `metric`, `value`, `threshold`, `holds`, ...). NaN becomes `null`.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"claims": to_json(list(claims)), "records": to_json(list(records)),
               "settings": to_json(dict(settings or {}))}
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


def claim_table(claims: Sequence[Mapping]) -> str:
    """The markdown claim table: id, claim, setting, measured mean ± sd, criterion, verdict."""
    lines = [
        "| id | claim | setting | measured (mean ± sd) | criterion | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for claim in claims:
        measured = "<br>".join(_check_text(c) for c in claim.get("checks", []))
        if claim.get("note"):
            measured += f"<br>*{claim['note']}*"
        verdict = "✅ holds" if claim["holds"] else "❌ does not hold"
        cells = [claim["id"], claim["claim"], claim["setting"], measured, claim["criterion"], verdict]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
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
            key = (r["setting"], r["param"], r.get("layer"), r["metric"])
            if key not in rows:
                rows.append(key)
        for setting, param, layer, metric in rows:
            filters = dict(setting=setting, param=param, metric=metric)
            if layer is not None:
                filters["layer"] = layer
            cells = []
            for rule in columns:
                mean, sd, n = _stats(chosen, rule=rule, **filters)
                cells.append(_fmt(mean, sd) if n else "")
            param_text = _fmt_number(param) + (f" ({layer})" if layer is not None else "")
            lines.append(f"| {setting} | {param_text} | {metric} | " + " | ".join(cells) + " |")
        attack = [r for r in chosen if r["rule"] == "attack"]
        if attack:
            lines += ["", "Attack (grey levels of 255; `flipped` is the fraction of images whose top-1 class "
                      "changed after uint8 rounding):", "", "| setting | ε | metric | mean ± sd | n |",
                      "|---|---|---|---|---|"]
            seen = []
            for r in attack:
                key = (r["setting"], r["param"], r["metric"])
                if key not in seen:
                    seen.append(key)
            for setting, param, metric in seen:
                mean, sd, n = _stats(attack, setting=setting, param=param, metric=metric)
                lines.append(f"| {setting} | {_fmt_number(param)} | {metric} | {_fmt(mean, sd)} | {n} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def write_report(
    path: str | os.PathLike,
    claims: Sequence[Mapping],
    records: Sequence[Record],
    figures: Sequence[tuple[Path, str]] = (),
    *,
    title: str = "kerasviz reproduction of Nie, Zhang & Patel (ICML 2018)",
    preamble: str = "",
) -> Path:
    """Write REPORT.md: the claim table, the figures with captions, the per-experiment tables.

    Figures are embedded by their path relative to the report's folder.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    held = sum(1 for c in claims if c["holds"])
    parts = [f"# {title}", ""]
    if preamble:
        parts += [preamble.strip(), ""]
    parts += [f"## Claims: {held} of {len(claims)} hold", "", claim_table(claims), ""]
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
) -> dict[str, Any]:
    """Write results.json, the figures and REPORT.md into `out_dir`.

    Returns:
        `{"results": path, "report": path, "figures": [paths]}`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = make_figures(records, out_dir, grid_rows)
    results = write_results(out_dir / "results.json", claims, records, settings)
    report = write_report(out_dir / "REPORT.md", claims, records, figures, preamble=preamble)
    return {"results": results, "report": report, "figures": [f for f, _ in figures]}

"""REPORT.md, results.json and the figures of `kerasviz reproduce`.

| function | writes |
|---|---|
| `write_results` | `results.json`: `{"claims": [...], "records": [...], "settings": {...}}` |
| `plot_grid` | the paper-style grid: image, saliency, DeconvNet, GBP per network |
| `plot_recovery_vs_filters` | r(GBP, x) vs N with the theory √(S/(1+S)) (E2, C4) |
| `plot_fc_vs_cnn` | r(GBP, x) of the FC net vs N_h, theory, and the CNN (E1, C5) |
| `plot_randomization` | similarity to the trained map per randomization step (E5, C8) |
| `plot_similarity_bars` | class-pair (E6, C9) and adversarial (E7, C10) similarity bars |
| `write_report` | `REPORT.md`: claim table, figures with captions, mean ± sd tables |
| `write_all` | all of the above into one folder |

Figures use matplotlib's Agg backend; maps are shown min–max normalized over
all pixels and channels (the paper's display).

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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.analysis import metrics

__all__ = [
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

RULES = ("saliency", "deconvnet", "guided")
RULE_LABELS = {"saliency": "Saliency", "deconvnet": "DeconvNet", "guided": "GBP"}
RULE_COLORS = {"saliency": "#7f7f7f", "deconvnet": "#1f77b4", "guided": "#d62728"}

EXPERIMENT_TITLES = {
    "E1": "E1 — random fully connected net vs width (and the CNN on the same images)",
    "E2": "E2 — random 3-layer CNN",
    "E3": "E3 — random CNN with and without 9×9 max-pooling",
    "E4": "E4 — random VGG-16 (paper init) and the trained net",
    "E5": "E5 — layer-wise randomization of the trained net (similarity to the trained map)",
    "E6": "E6 — class insensitivity (similarity between maps of two classes)",
    "E7": "E7 — adversarial stability (similarity between maps of x and x_adv)",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


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


def _finite_records(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if isinstance(r.get("value"), (int, float)) and math.isfinite(r["value"])]


def _mean_sd(records: Sequence[Record], **filters) -> tuple[float, float, int]:
    values = [r["value"] for r in _finite_records(records) if all(r.get(k) == v for k, v in filters.items())]
    if not values:
        return math.nan, math.nan, 0
    arr = np.asarray(values, np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, int(arr.size)


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
# Figures                                                                      #
# --------------------------------------------------------------------------- #


def plot_grid(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, panel: float = 2.1) -> Path:
    """The paper-style grid: one row per network, columns image, saliency, DeconvNet, GBP.

    Args:
        rows: `experiments.example_maps` output: `{"label", "image", "maps"}`.
        path: the PNG to write.
        panel: inches per panel. Defaults to `2.1`.

    Returns:
        The path written.
    """
    from kerasviz import render

    plt = _plt()
    cols = 1 + len(RULES)
    fig, axes = plt.subplots(len(rows), cols, figsize=(panel * cols + 1.2, panel * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        image = np.asarray(row["image"], np.float64)
        shown = render.display_image(image)
        axes[i, 0].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        axes[i, 0].set_ylabel(row["label"], fontsize=9)
        for j, rule in enumerate(RULES, start=1):
            m = render.normalize_minmax(np.asarray(row["maps"][rule]))
            if m.shape[-1] == 1:
                axes[i, j].imshow(m[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                axes[i, j].imshow(m)
    for j, title in enumerate(["input", *(RULE_LABELS[r] for r in RULES)]):
        axes[0, j].set_title(title, fontsize=11)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Backprop maps (min–max normalized, shown as RGB)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _errorbar(ax, xs, records, rule, metric, label=None, **style):
    stats = [_mean_sd(records, param=x, rule=rule, metric=metric) for x in xs]
    means = np.array([s[0] for s in stats])
    sds = np.array([s[1] for s in stats])
    ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3, label=label or RULE_LABELS.get(rule, rule),
                color=style.pop("color", RULE_COLORS.get(rule)), **style)
    return means


def _log_ticks(ax, xs, labels) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(xs)
    ax.set_xticklabels(labels)


def plot_recovery_vs_filters(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E2: r(GBP, x) and r(GBP, x̃) vs the number of filters N, with √(S/(1+S)), S = N/(3π²).

    Returns:
        The path written, or `None` when there are no E2 records.
    """
    chosen = [r for r in records if r.get("experiment") == "E2" and r.get("setting") == "cnn"]
    xs = sorted({r["param"] for r in chosen})
    if not xs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    grid = np.geomspace(min(xs) * 0.8, max(xs) * 1.25, 200)
    ax.plot(grid, [metrics.theoretical_recovery(n, 3) for n in grid], "k--", label="theory √(S/(1+S)), S=N/(3π²)")
    _errorbar(ax, xs, chosen, "guided", "r_image", label="GBP: r(map, x)")
    _errorbar(ax, xs, chosen, "guided", "r_normalized", label="GBP: r(map, x̃)", color="#ff9896", linestyle=":")
    _errorbar(ax, xs, chosen, "deconvnet", "r_image_demeaned", label="DeconvNet: r(map − means, x)")
    _errorbar(ax, xs, chosen, "saliency", "r_image", label="Saliency: r(map, x)")
    _log_ticks(ax, xs, [str(x) for x in xs])
    ax.axhline(0, color="#cccccc", lw=0.8)
    ax.set_xlabel("number of conv filters N")
    ax.set_ylabel("Pearson r (mean ± sd over seeds × images)")
    ax.set_ylim(-0.15, 1.0)
    ax.set_title("E2: random 3-layer CNN — recovery grows with N")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_fc_vs_cnn(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E1: r(GBP, x) of the random FC net vs N_h, the theory, and the CNN on the same images.

    Returns:
        The path written, or `None` when there are no E1 records.
    """
    fc = [r for r in records if r.get("experiment") == "E1" and r.get("setting") == "fc"]
    cnn = [r for r in records if r.get("experiment") == "E1" and r.get("setting") == "cnn"]
    xs = sorted({r["param"] for r in fc})
    if not xs:
        return None
    dims = sorted({r.get("input_dim") for r in fc if r.get("input_dim")})
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    if len(dims) == 1:
        d = int(dims[0])
        grid = np.geomspace(min(xs) * 0.8, max(xs) * 1.25, 200)
        ax.plot(grid, [metrics.theoretical_recovery_fc(h, d) for h in grid], "k--",
                label=f"theory √(S/(1+S)), S=N_h/(π²·{d})")
    _errorbar(ax, xs, fc, "guided", "r_image", label="FC, GBP")
    _errorbar(ax, xs, fc, "saliency", "r_image", label="FC, saliency")
    if cnn:
        mean, sd, _ = _mean_sd(cnn, rule="guided", metric="r_image")
        n_filters = cnn[0]["param"]
        ax.axhline(mean, color="#2ca02c", lw=2, label=f"CNN N={n_filters}, GBP: {mean:.2f}")
        ax.axhspan(mean - sd, mean + sd, color="#2ca02c", alpha=0.15)
    _log_ticks(ax, xs, [f"{x:,}" for x in xs])
    ax.axhline(0, color="#cccccc", lw=0.8)
    sizes = sorted({r.get("size") for r in fc if r.get("size")})
    ax.set_xlabel(f"hidden units N_h (input {' / '.join(f'{s}×{s}×3' for s in sizes)})")
    ax.set_ylabel("r(map, x) (mean ± sd)")
    ax.set_ylim(-0.1, 1.0)
    ax.set_title("E1 vs E2: a fully connected net needs N_h ∝ d")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_randomization(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E5: mean SSIM and Spearman (abs) to the trained map per randomization step, per rule.

    One panel per protocol present (`part` = cascading, `reverse`, `only`).

    Returns:
        The path written, or `None` when there are no E5 records.
    """
    e5 = [r for r in records if r.get("experiment") == "E5"]
    protocols = [p for p in ("part", "reverse", "only") if any(r["setting"] == p for r in e5)]
    if not protocols:
        return None
    titles = {"part": "cascading: randomize from the top down to …",
              "reverse": "reverse: randomize from the bottom up to …",
              "only": "independent: randomize only …"}
    plt = _plt()
    fig, axes = plt.subplots(1, len(protocols), figsize=(6.2 * len(protocols), 5.4), squeeze=False)
    for ax, protocol in zip(axes[0], protocols):
        chosen = [r for r in e5 if r["setting"] == protocol]
        steps = sorted({(r["step"], r["layer"]) for r in chosen})
        xs = np.arange(len(steps))
        for rule in RULES:
            for metric, style in (("ssim", "-"), ("spearman_abs", ":")):
                stats = [_mean_sd(chosen, step=s, rule=rule, metric=metric) for s, _ in steps]
                ax.errorbar(xs, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", ms=4,
                            capsize=2, linestyle=style, color=RULE_COLORS[rule],
                            label=f"{RULE_LABELS[rule]} {'SSIM' if metric == 'ssim' else 'Spearman |·|'}")
        head = sorted({r["step"] for r in chosen if r.get("head_random")})
        for s in head:
            ax.axvline(s, color="#999999", lw=0.8, linestyle="--")
        if protocol == "part":
            ax.axhline(0.5, color="k", lw=0.6, linestyle="--")
        ax.set_xticks(xs)
        ax.set_xticklabels([label for _, label in steps], rotation=45, ha="right", fontsize=8)
        ax.set_ylim(-0.2, 1.05)
        ax.set_ylabel("similarity to the trained net's map")
        ax.set_title(titles[protocol], fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle("E5: do the maps change when the learned weights are randomized?", fontsize=11)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_similarity_bars(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E6 and E7: bars of mean similarity (SSIM, Spearman |·|, HOG) per rule, threshold 0.9.

    Returns:
        The path written, or `None` when there are neither E6 nor E7 records.
    """
    panels = [
        ("E6", "class_pairs", "E6: maps of two classes, same image"),
        ("E7", "fgsm_min", "E7: maps of x and x_adv (smallest flipping ε)"),
    ]
    panels = [p for p in panels if any(r.get("experiment") == p[0] and r.get("setting") == p[1] for r in records)]
    if not panels:
        return None
    plt = _plt()
    metric_names = ("ssim", "spearman_abs", "hog")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.2), squeeze=False)
    width = 0.26
    for ax, (experiment, setting, title) in zip(axes[0], panels):
        chosen = [r for r in records if r.get("experiment") == experiment and r.get("setting") == setting]
        xs = np.arange(len(metric_names))
        for offset, rule in zip((-width, 0, width), RULES):
            stats = [_mean_sd(chosen, rule=rule, metric=m) for m in metric_names]
            ax.bar(xs + offset, [s[0] for s in stats], width, yerr=[s[1] for s in stats], capsize=3,
                   color=RULE_COLORS[rule], label=RULE_LABELS[rule])
        ax.axhline(0.9, color="k", lw=0.8, linestyle="--", label="0.9 (C9/C10)")
        ax.set_xticks(xs)
        ax.set_xticklabels(["SSIM", "Spearman |·|", "HOG Spearman"])
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
        ax.set_title(title, fontsize=10)
    axes[0, 0].set_ylabel("similarity (mean ± sd)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


FIGURES: dict[str, tuple[str, str]] = {
    "grid": ("maps_grid.png", "The three rules on a random FC net, a random CNN, the CNN with max-pooling, a random "
             "VGG-16 and the trained net (min–max normalized). GBP recovers the image on every random net; "
             "saliency is noise; DeconvNet is image-free without max-pooling and edge-like with it."),
    "filters": ("recovery_vs_filters.png", "E2/C4: r(GBP, x) against the number of filters N, with the theory "
                "√(S/(1+S)), S = N/(3π²); saliency and DeconvNet stay near 0."),
    "fc": ("fc_vs_cnn.png", "E1/C5: a random fully connected net needs N_h of the order of the whole input "
           "dimension d to recover the image (theory: S = N_h/(π²d)); the green line is the CNN with 64 filters on "
           "the same images."),
    "randomization": ("randomization.png", "E5/C8: similarity of each rule's map to the trained net's map as "
                      "layers are randomized (solid: SSIM, dotted: Spearman of abs maps; dashed vertical line: "
                      "the dense head is random; dashed horizontal line: C8's 0.5)."),
    "bars": ("similarity_bars.png", "E6/C9 and E7/C10: how similar the maps of two classes (left) and of x and "
             "its FGSM adversarial x_adv (right) are; the dashed line is the claims' 0.9."),
}


def make_figures(records: Sequence[Record], out_dir: str | os.PathLike,
                 grid_rows: Sequence[Mapping] | None = None) -> list[tuple[Path, str]]:
    """Write every figure the records (and grid rows) allow; returns `(path, caption)` pairs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    makers = {
        "grid": (lambda p: plot_grid(grid_rows, p)) if grid_rows else None,
        "filters": lambda p: plot_recovery_vs_filters(records, p),
        "fc": lambda p: plot_fc_vs_cnn(records, p),
        "randomization": lambda p: plot_randomization(records, p),
        "bars": lambda p: plot_similarity_bars(records, p),
    }
    for key, (name, caption) in FIGURES.items():
        maker = makers[key]
        if maker is None:
            continue
        path = maker(out_dir / name)
        if path is not None:
            written.append((Path(path), caption))
    return written


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
                mean, sd, n = _mean_sd(chosen, rule=rule, **filters)
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
                mean, sd, n = _mean_sd(attack, setting=setting, param=param, metric=metric)
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

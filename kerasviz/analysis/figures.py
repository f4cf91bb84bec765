"""The figures of the reproduction report: one PNG per experiment family, drawn with matplotlib.

| function | draws |
|---|---|
| `plot_grid` | the paper-style grid: image, saliency, DeconvNet, GBP per network |
| `plot_recovery_vs_filters` | r(GBP, x) vs N with the theory √(S/(1+S)) (E2, C4) |
| `plot_fc_vs_cnn` | r(GBP, x) of the FC net vs N_h, theory, and the CNN (E1, C5) |
| `plot_randomization` | similarity to the trained map per randomization step, per trained net (E5, C8) |
| `plot_similarity_bars` | class-pair (E6, C9) and adversarial (E7, C10) similarity bars, per trained net |
| `plot_input_independence` | M6(GBP) vs N with our curve 0.5/(1+S), DeconvNet's 1 and C11's bound (E2, C11) |
| `plot_width` | C9's class-pair SSIM and C8's cascading curves vs the width of `fashion_vgg` (E5, E6) |
| `make_figures` | every figure the records allow, with the captions of `FIGURES` |

Each figure is its own `matplotlib.figure.Figure`, written to a PNG and let
go: pyplot, the backend and a notebook's figures are left alone. Maps are
shown min–max normalized over all pixels and channels (the paper's display);
rules keep their labels and colours of `kerasviz.names`. `kerasviz.analysis.report`
re-exports every name here.

Example:

```python
from kerasviz.analysis import experiments, figures

records = experiments.e2_random_cnn(images, filters=(1, 16, 64))
figures.plot_recovery_vs_filters(records, "recovery_vs_filters.png")
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from kerasviz import render
from kerasviz.analysis import theory
from kerasviz.analysis.records import stats as _stats
from kerasviz.names import RULE_COLORS, RULE_LABELS
from kerasviz.rules import RULES

__all__ = [
    "FIGURES",
    "make_figures",
    "plot_fc_vs_cnn",
    "plot_grid",
    "plot_input_independence",
    "plot_randomization",
    "plot_recovery_vs_filters",
    "plot_similarity_bars",
    "plot_width",
]

Record = Mapping[str, Any]


def trained_nets(records: Sequence[Record], experiments: Sequence[str] = ("E5", "E6", "E7")) -> list:
    """The `"net"` of the trained-net records (width study left out), in order of appearance."""
    nets: list = []
    for r in records:
        if r.get("experiment") in experiments and r.get("study") is None and r.get("net") not in nets:
            nets.append(r.get("net"))
    return nets


def _net_title(net) -> str:
    return "trained net" if net is None else str(net)


def plot_grid(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, panel: float = 2.1) -> Path:
    """The paper-style grid: one row per network, columns image, saliency, DeconvNet, GBP.

    Args:
        rows: `experiments.example_maps` output: `{"label", "image", "maps"}`.
        path: the PNG to write.
        panel: inches per panel. Defaults to `2.1`.

    Returns:
        The path written.
    """
    cols = 1 + len(RULES)
    fig = Figure(figsize=(panel * cols + 1.2, panel * len(rows)))
    axes = fig.subplots(len(rows), cols, squeeze=False)
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
    return Path(path)


def _errorbar(ax, xs, records, rule, metric, label=None, **style):
    stats = [_stats(records, param=x, rule=rule, metric=metric) for x in xs]
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
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    grid = np.geomspace(min(xs) * 0.8, max(xs) * 1.25, 200)
    ax.plot(grid, [theory.theoretical_recovery(n, 3) for n in grid], "k--", label="theory √(S/(1+S)), S=N/(3π²)")
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
    fig = Figure(figsize=(6.4, 5.0))
    ax = fig.subplots()
    if len(dims) == 1:
        d = int(dims[0])
        grid = np.geomspace(min(xs) * 0.8, max(xs) * 1.25, 200)
        ax.plot(grid, [theory.theoretical_recovery_fc(h, d) for h in grid], "k--",
                label=f"theory √(S/(1+S)), S=N_h/(π²·{d})")
    _errorbar(ax, xs, fc, "guided", "r_image", label="FC, GBP")
    _errorbar(ax, xs, fc, "saliency", "r_image", label="FC, saliency")
    if cnn:
        mean, sd, _ = _stats(cnn, rule="guided", metric="r_image")
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
    return Path(path)


def plot_randomization(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E5: mean SSIM and Spearman (abs) to the trained map per randomization step, per rule.

    One row per trained net (`"net"` of the records; the width study's nets
    are drawn by `plot_width`), one panel per protocol present (`part` =
    cascading, `reverse`, `only`).

    Returns:
        The path written, or `None` when there are no E5 records.
    """
    e5 = [r for r in records if r.get("experiment") == "E5" and r.get("study") is None]
    protocols = [p for p in ("part", "reverse", "only") if any(r["setting"] == p for r in e5)]
    if not protocols:
        return None
    nets = trained_nets(e5, ("E5",))
    titles = {"part": "cascading: randomize from the top down to …",
              "reverse": "reverse: randomize from the bottom up to …",
              "only": "independent: randomize only …"}
    fig = Figure(figsize=(6.2 * len(protocols), 5.0 * len(nets) + 0.8))
    axes = fig.subplots(len(nets), len(protocols), squeeze=False)
    for row, net in enumerate(nets):
        for ax, protocol in zip(axes[row], protocols):
            chosen = [r for r in e5 if r["setting"] == protocol and r.get("net") == net]
            steps = sorted({(r["step"], r["layer"]) for r in chosen})
            xs = np.arange(len(steps))
            for rule in RULES:
                for metric, style in (("ssim", "-"), ("spearman_abs", ":")):
                    stats = [_stats(chosen, step=s, rule=rule, metric=metric) for s, _ in steps]
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
            ax.set_ylabel(f"{_net_title(net)}: similarity to the trained map", fontsize=9)
            ax.set_title(titles[protocol], fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle("E5: do the maps change when the learned weights are randomized?", fontsize=11)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.8 / (5.0 * len(nets) + 0.8) + 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_similarity_bars(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E6 and E7: bars of mean similarity (SSIM, Spearman |·|, HOG) per rule, threshold 0.9, per trained net.

    Returns:
        The path written, or `None` when there are neither E6 nor E7 records.
    """
    panels = [
        ("E6", "class_pairs", "E6: maps of two classes, same image"),
        ("E7", "fgsm_min", "E7: maps of x and x_adv (smallest flipping ε)"),
    ]
    chosen_all = [r for r in records if r.get("study") is None]
    panels = [p for p in panels
              if any(r.get("experiment") == p[0] and r.get("setting") == p[1] for r in chosen_all)]
    if not panels:
        return None
    nets = trained_nets(chosen_all, ("E6", "E7"))
    metric_names = ("ssim", "spearman_abs", "hog")
    fig = Figure(figsize=(5.6 * len(panels), 3.9 * len(nets) + 0.5))
    axes = fig.subplots(len(nets), len(panels), squeeze=False)
    width = 0.26
    for row, net in enumerate(nets):
        for ax, (experiment, setting, title) in zip(axes[row], panels):
            chosen = [r for r in chosen_all if r.get("experiment") == experiment and r.get("setting") == setting
                      and r.get("net") == net]
            xs = np.arange(len(metric_names))
            for offset, rule in zip((-width, 0, width), RULES):
                stats = [_stats(chosen, rule=rule, metric=m) for m in metric_names]
                ax.bar(xs + offset, [s[0] for s in stats], width, yerr=[s[1] for s in stats], capsize=3,
                       color=RULE_COLORS[rule], label=RULE_LABELS[rule])
            ax.axhline(0.9, color="k", lw=0.8, linestyle="--", label="0.9 (C9/C10)")
            ax.set_xticks(xs)
            ax.set_xticklabels(["SSIM", "Spearman |·|", "HOG Spearman"])
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
            ax.set_title(f"{_net_title(net)} — {title}" if len(nets) > 1 else title, fontsize=10)
        axes[row, 0].set_ylabel("similarity (mean ± sd)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.5 / (3.9 * len(nets) + 0.5) + 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_input_independence(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """E2/C11: M6(GBP) vs N, our curve 0.5/(1+S), DeconvNet's M6 and C11's bound 0.1.

    M6 is the Pearson correlation between the maps of two different images
    (same random CNN, same logit), over every image pair and seed. The curve
    is `theory.theoretical_input_independence` (our derivation, not the
    paper's); the grey band is C11's bound |M6(GBP)| ≤ 0.1.

    Returns:
        The path written, or `None` without E2 M6 records.
    """
    chosen = [r for r in records if r.get("experiment") == "E2" and r.get("setting") == "cnn"
              and r.get("metric") == "input_independence"]
    xs = sorted({r["param"] for r in chosen if r["rule"] == "guided"})
    if not xs:
        return None
    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.subplots()
    grid = np.geomspace(min(xs) * 0.8, max(xs) * 1.25, 200)
    ax.axhspan(-0.1, 0.1, color="#dddddd", alpha=0.6, lw=0, label="C11's bound |M6(GBP)| ≤ 0.1")
    ax.plot(grid, [theory.theoretical_input_independence(n, 3) for n in grid], "k--",
            label="ours: 0.5/(1+S), S=N/(3π²)")
    _errorbar(ax, xs, chosen, "guided", "input_independence", label="GBP: M6 measured")
    _errorbar(ax, xs, chosen, "deconvnet", "input_independence", label="DeconvNet: M6 measured (theory 1)")
    if any(r["rule"] == "images" for r in chosen):
        _errorbar(ax, xs, chosen, "images", "input_independence", label="the images: r(x̃_i, x̃_j)",
                  color="#2ca02c", linestyle=":")
    _log_ticks(ax, xs, [str(x) for x in xs])
    ax.axhline(0, color="#cccccc", lw=0.8)
    ax.set_xlabel("number of conv filters N")
    ax.set_ylabel("M6: r between two images' maps (mean ± sd)")
    ax.set_ylim(-0.5, 1.08)
    ax.set_title("C11: GBP maps of different images share 0.5/(1+S)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def _width_records(records: Sequence[Record]) -> dict[int, list[Record]]:
    by_width: dict[int, list[Record]] = {}
    for r in records:
        if r.get("width") is not None and r.get("experiment") in ("E5", "E6"):
            by_width.setdefault(int(r["width"]), []).append(r)
    return dict(sorted(by_width.items()))


def plot_width(records: Sequence[Record], path: str | os.PathLike) -> Path | None:
    """The width study: C9's class-pair SSIM and C8's cascading SSIM curves per `fashion_vgg` width.

    Left: mean SSIM between the maps of two classes (E6) against the width,
    per rule, with C9's 0.9. Right: mean SSIM to the trained map per step of
    cascading randomization (E5 `part`), one line per rule and width (darker
    and solid for wider nets), with C8's 0.5.

    Returns:
        The path written, or `None` with fewer than two widths.
    """
    by_width = _width_records(records)
    if len(by_width) < 2:
        return None
    widths = list(by_width)
    fig = Figure(figsize=(12.4, 5.2))
    left, right = fig.subplots(1, 2)
    for rule in RULES:
        stats = [_stats(by_width[w], experiment="E6", rule=rule, metric="ssim") for w in widths]
        left.errorbar(widths, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3,
                      color=RULE_COLORS[rule], label=RULE_LABELS[rule])
    left.axhline(0.9, color="k", lw=0.8, linestyle="--", label="0.9 (C9)")
    _log_ticks(left, widths, [str(w) for w in widths])
    left.set_xlabel("width (filters of the first block)")
    left.set_ylabel("SSIM between two classes' maps (mean ± sd)")
    left.set_ylim(min(-0.2, left.get_ylim()[0]), 1.05)
    left.set_title("C9: class-pair SSIM vs width", fontsize=10)
    left.legend(fontsize=8)
    styles = [":", "--", "-"]
    labels_done = False
    for index, width in enumerate(widths):
        chosen = [r for r in by_width[width] if r["experiment"] == "E5" and r["setting"] == "part"]
        steps = sorted({(r["step"], r["layer"]) for r in chosen})
        if not steps:
            continue
        xs = np.arange(len(steps))
        alpha = 0.45 + 0.55 * (index + 1) / len(widths)
        for rule in RULES:
            means = [_stats(chosen, step=s, rule=rule, metric="ssim")[0] for s, _ in steps]
            right.plot(xs, means, marker="o", ms=3, color=RULE_COLORS[rule], alpha=alpha,
                       linestyle=styles[min(index, len(styles) - 1)] if index < len(widths) - 1 else "-",
                       label=f"{RULE_LABELS[rule]}, width {width}")
        if not labels_done:
            right.set_xticks(xs)
            right.set_xticklabels([label for _, label in steps], rotation=45, ha="right", fontsize=8)
            labels_done = True
    right.axhline(0.5, color="k", lw=0.6, linestyle="--")
    right.set_ylim(-0.2, 1.05)
    right.set_ylabel("SSIM to the trained map (mean)")
    right.set_title("C8: cascading randomization, from the top down to …", fontsize=10)
    right.legend(fontsize=7, ncol=len(widths), loc="lower left")
    fig.suptitle("Width study: fashion_vgg trained at widths " + ", ".join(map(str, widths)), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
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
                      "layers are randomized, one row per trained net (solid: SSIM, dotted: Spearman of abs maps; "
                      "dashed vertical line: the dense head is random; dashed horizontal line: C8's 0.5)."),
    "bars": ("similarity_bars.png", "E6/C9 and E7/C10: how similar the maps of two classes (left) and of x and "
             "its FGSM adversarial x_adv (right) are, one row per trained net; the dashed line is the claims' 0.9."),
    "independence": ("input_independence.png", "E2/C11 as a curve: M6(GBP), the correlation between the GBP "
                     "maps of two different images (same random CNN, same logit), against the number of filters "
                     "N, beside our derivation's 0.5/(1+S), S = N/(3π²) (docs/theory.md; ours, not the paper's), "
                     "DeconvNet's M6 (1: the same map for every image) and C11's bound |M6| ≤ 0.1 (grey band)."),
    "width": ("width.png", "Width study: C9's class-pair SSIM (left) and C8's cascading-randomization SSIM "
              "(right) for fashion_vgg trained at three widths (first-block filters; the blocks have width, "
              "2·width, 4·width), same architecture, data and schedule."),
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
        "independence": lambda p: plot_input_independence(records, p),
        "width": lambda p: plot_width(records, p),
    }
    for key, (name, caption) in FIGURES.items():
        maker = makers[key]
        if maker is None:
            continue
        path = maker(out_dir / name)
        if path is not None:
            written.append((Path(path), caption))
    return written

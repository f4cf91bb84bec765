"""The paper's claims C1–C11 as computed verdicts on experiment records.

`evaluate(records)` reads the tidy records of `kerasviz.analysis.experiments`
and returns one dict per claim:

```python
{"id": "C1", "claim": "GBP recovers the image", "setting": "E2: ...",
 "metric": "mean Pearson r over seeds × images", "criterion": "r(GBP, x̃) ≥ 0.6 and r(GBP, x) ≥ 0.6",
 "value": {"r(GBP, x̃)": 0.82, "r(GBP, x)": 0.78}, "sd": {...}, "n": 8,
 "threshold": {"r(GBP, x̃)": 0.6, "r(GBP, x)": 0.6},
 "checks": [{"name": "r(GBP, x̃)", "value": 0.82, "sd": 0.03, "n": 8, "op": ">=",
             "threshold": 0.6, "holds": true}, ...],
 "holds": true}
```

**Per network.** C8–C10 (`TRAINED_NET_CLAIMS`) are measured on a trained
net, and `kerasviz reproduce` runs them on every trained net it has
(records carry a `"net"` key: `"fashion_cnn"`, `"fashion_vgg"`, `"vgg16"`).
`evaluate` returns one verdict per (claim, net) for them, each with its
`"net"`, in the order the nets first appear; the other claims have
`"net": None`. Records without a `"net"` key count as one unnamed net.
Records of the width study (`"study": "width"`) get no verdicts.

A claim holds when every one of its checks does. Each check compares a mean
over seeds × images (× pairs) — or a difference of such means — with a
threshold. The thresholds are those of docs/paper.md (claims C1–C11); where
the paper says "≈ 0", "clearly positive" or "stays high" without a number,
the bound chosen here is stated in `THRESHOLDS` and in each claim's
`criterion`, and was fixed before the experiments were run. A claim without
the records it needs does not hold (its checks say "not measured").

Conventions: "|r(Sal, x)| ≤ 0.05" is |mean r| (the mean over seeds × images
of the signed r, then its absolute value); the tables also list the mean of
|r| (`abs_r_image`).

Example:

```python
from kerasviz.analysis import claims, experiments

records = experiments.e2_random_cnn(images, filters=(64,), seeds=(0, 1))
[c for c in claims.evaluate(records) if c["id"] == "C1"][0]["holds"]
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from kerasviz import _validation
from kerasviz.analysis import theory
from kerasviz.analysis.records import select as _select
from kerasviz.analysis.records import stats as _record_stats
from kerasviz.errors import InvalidArgumentError
from kerasviz.names import CLAIM_IDS, RULE_SHORT

__all__ = [
    "C11_CURVE_TOLERANCE",
    "CLAIMS",
    "THRESHOLDS",
    "TRAINED_NET_CLAIMS",
    "evaluate",
    "evaluate_claim",
    "input_independence_curve",
    "lowest_step",
    "trained_nets",
]

Record = Mapping[str, Any]

#: Every number a verdict depends on: the thresholds of docs/paper.md (claims), plus the
#: bounds this module had to choose where the paper has only words (marked "ours").
THRESHOLDS: dict[str, float] = {
    "reference_filters": 64,  # C1–C3, C6, C11: "E2, N=64"
    "c1_r_gbp": 0.6,  # C1: r(GBP, x̃) ≥ 0.6 and r(GBP, x) ≥ 0.6
    "c2_abs_r_sal": 0.05,  # C2: |r(Sal, x)| ≤ 0.05
    "c2_gap": 0.5,  # C2: r(GBP) − r(Sal) ≥ 0.5
    "c3_abs_r_deconv": 0.1,  # C3: |r(Deconv, x)| ≤ 0.1, channel-demeaned
    "c3_independence": 1 - 1e-5,  # C3, C11: M6(Deconv) ≥ 1 − 1e-5
    "c4_tolerance": 0.1,  # C4: within ±0.1 of √(S/(1+S))
    "c5_tolerance": 0.1,  # C5: within ±0.1 of √(S/(1+S))
    "c6_deconv_no_pool": 0.1,  # C6 (ours): "M2(Deconv) ≈ 0" read as |M2| ≤ 0.1 (C3's bound)
    "c6_deconv_pool": 0.3,  # C6: M2(Deconv) ≥ 0.3 with pool
    "c6_abs_r_sal": 0.05,  # C6: |r(Sal)| stays ≤ 0.05
    "c6_r_gbp": 0.3,  # C6 (ours): "GBP stays clearly positive" read as r(GBP, x) ≥ 0.3
    "c7_gap": 0.3,  # C7: r(GBP, x) > r(Sal, x) + 0.3
    "c8_high": 0.5,  # C8 (ours): GBP/Deconv SSIM ≥ 0.5 while the first conv block is trained
    "c8_sal_low": 0.5,  # C8 (ours): saliency SSIM < 0.5 once the dense head is random ...
    "c8_ratio": 0.5,  # C8 (ours): ... and ≤ 0.5 × min(GBP, Deconv) SSIM at that step
    "c9_ssim": 0.9,  # C9: SSIM(GBP), SSIM(Deconv) ≥ 0.9 and > SSIM(Sal)
    "c10_similarity": 0.9,  # C10: M4 similarity (SSIM) ≥ 0.9 and > saliency's
    "c11_abs_r_gbp": 0.1,  # C11 (ours): "≈ 0" read as |M6(GBP)| ≤ 0.1
}

#: The claims measured on a trained net: `evaluate` gives one verdict per net.
TRAINED_NET_CLAIMS: tuple[str, ...] = ("C8", "C9", "C10")

#: Ours, and not part of any verdict: how far the mean M6(GBP) may lie from
#: the curve 0.5/(1+S) (`theory.theoretical_input_independence`) for the
#: report to call it "on the curve". C11's verdict keeps its 0.1 bound.
C11_CURVE_TOLERANCE = 0.05

#: id → (claim, setting), as in docs/paper.md (claims C1–C11).
CLAIMS: dict[str, tuple[str, str]] = {
    "C1": ("GBP recovers the image", "E2, N=64"),
    "C2": ("saliency is noise", "E2, N=64"),
    "C3": ("DeconvNet is noise and input-independent", "E2, N=64"),
    "C4": ("more filters, better recovery", "E2, N ∈ {1,4,16,64,256}"),
    "C5": ("local connections matter", "E1 N_h sweep vs E2 N=64, same images"),
    "C6": ("max-pooling makes DeconvNet image-like", "E3 vs E2, N=64"),
    "C7": ("recovery survives depth", "random VGG-16 (paper init)"),
    "C8": ("GBP/DeconvNet ignore the learned weights", "E5 cascading randomization, trained net"),
    "C9": ("class insensitivity", "E6 on the trained net"),
    "C10": ("adversarial invariance", "E7 on the trained net"),
    "C11": ("GBP maps are image-specific", "E2, N=64"),
}


# --------------------------------------------------------------------------- #
# Selecting and summarizing records                                            #
# --------------------------------------------------------------------------- #


def _stats(records: Sequence[Record], **filters) -> tuple[float | None, float | None, int]:
    """`records.stats`, with `None` for a mean that was not measured (a check's "not measured")."""
    mean, sd, n = _record_stats(records, **filters)
    return (None, None, 0) if n == 0 else (mean, sd, n)


def _check(name: str, value: float | None, op: str, threshold: float | None, *,
           sd: float | None = None, n: int | None = None, note: str | None = None) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        holds = False
        note = note or "not measured"
        value = None
    elif op == ">=":
        holds = value >= threshold
    elif op == ">":
        holds = value > threshold
    elif op == "<=":
        holds = value <= threshold
    elif op == "<":
        holds = value < threshold
    elif op == "abs<=":
        holds = abs(value) <= threshold
    else:  # pragma: no cover - programming error
        raise ValueError(f"Unknown comparison {op!r}")
    out = {"name": name, "value": value, "sd": sd, "n": n, "op": op, "threshold": threshold,
           "holds": bool(holds)}
    if note:
        out["note"] = note
    return out


def _mean_check(records, name, op, threshold, **filters) -> dict[str, Any]:
    mean, sd, n = _stats(records, **filters)
    return _check(name, mean, op, threshold, sd=sd, n=n)


def _diff_check(records, name, op, threshold, first: Mapping, second: Mapping) -> dict[str, Any]:
    a, _, na = _stats(records, **first)
    b, _, nb = _stats(records, **second)
    value = None if a is None or b is None else a - b
    return _check(name, value, op, threshold, n=min(na, nb) if value is not None else 0)


def _describe(records: Sequence[Record], **filters) -> str:
    chosen = _select(records, **filters)
    if not chosen:
        return "not run"
    seeds = sorted({r["seed"] for r in chosen if r.get("seed") is not None})
    per_seed: dict[Any, set] = {}
    for r in chosen:
        if "|" not in str(r["image"]):
            per_seed.setdefault(r.get("seed"), set()).add(r["image"])
    images = max((len(v) for v in per_seed.values()), default=0)
    sizes = sorted({r["size"] for r in chosen if r.get("size") is not None})
    parts = []
    if sizes:
        parts.append(", ".join(f"{s}×{s}" for s in sizes))
    parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} × {images} images")
    return ", ".join(parts)


def _claim(cid: str, setting: str, metric: str, criterion: str, checks: list[dict], note: str = "") -> dict:
    claim, _paper_setting = CLAIMS[cid]
    out = {
        "id": cid,
        "claim": claim,
        "setting": setting,
        "metric": metric,
        "criterion": criterion,
        "value": {c["name"]: c["value"] for c in checks},
        "sd": {c["name"]: c["sd"] for c in checks},
        "n": max((c["n"] or 0) for c in checks) if checks else 0,
        "threshold": {c["name"]: c["threshold"] for c in checks},
        "checks": checks,
        "holds": bool(checks) and all(c["holds"] for c in checks),
        "net": None,
    }
    if note:
        out["note"] = note
    return out


# --------------------------------------------------------------------------- #
# The claims                                                                   #
# --------------------------------------------------------------------------- #


def _e2(rule, metric, n_filters=None):
    n_filters = THRESHOLDS["reference_filters"] if n_filters is None else n_filters
    return dict(experiment="E2", setting="cnn", param=n_filters, rule=rule, metric=metric)


def _c1(records):
    t = THRESHOLDS["c1_r_gbp"]
    n = THRESHOLDS["reference_filters"]
    checks = [
        _mean_check(records, "r(GBP, x̃)", ">=", t, **_e2("guided", "r_normalized")),
        _mean_check(records, "r(GBP, x)", ">=", t, **_e2("guided", "r_image")),
    ]
    return _claim("C1", f"E2: random 3-layer CNN, N={n}, {_describe(records, experiment='E2', param=n)}",
                  "mean Pearson r over seeds × images", f"r(GBP, x̃) ≥ {t} and r(GBP, x) ≥ {t}", checks)


def _c2(records):
    t, gap = THRESHOLDS["c2_abs_r_sal"], THRESHOLDS["c2_gap"]
    n = THRESHOLDS["reference_filters"]
    checks = [
        _mean_check(records, "r(Sal, x)", "abs<=", t, **_e2("saliency", "r_image")),
        _diff_check(records, "r(GBP, x) − r(Sal, x)", ">=", gap,
                    _e2("guided", "r_image"), _e2("saliency", "r_image")),
    ]
    return _claim("C2", f"E2: random 3-layer CNN, N={n}, {_describe(records, experiment='E2', param=n)}",
                  "mean Pearson r over seeds × images", f"|r(Sal, x)| ≤ {t} and r(GBP, x) − r(Sal, x) ≥ {gap}",
                  checks)


def _c3(records):
    t, ind = THRESHOLDS["c3_abs_r_deconv"], THRESHOLDS["c3_independence"]
    n = THRESHOLDS["reference_filters"]
    checks = [
        _mean_check(records, "r(Deconv − channel means, x)", "abs<=", t,
                    **_e2("deconvnet", "r_image_demeaned")),
        _mean_check(records, "M6(Deconv)", ">=", ind, **_e2("deconvnet", "input_independence")),
    ]
    return _claim("C3", f"E2: random 3-layer CNN, N={n}, {_describe(records, experiment='E2', param=n)}; "
                  "M6 over all image pairs, logit 0", "mean Pearson r; M6 = Pearson between two images' maps",
                  f"|r(Deconv, x)| ≤ {t} (channel-demeaned) and M6(Deconv) ≥ 1 − 1e-5", checks)


def _increasing_check(name: str, params: list, means: list) -> dict:
    if len(means) < 2 or None in means:
        return _check(name, None, ">", 0.0, note="needs at least two measured settings")
    steps = np.diff(means)
    return _check(name, float(steps.min()), ">", 0.0, n=len(means))


def _c4(records):
    tol = THRESHOLDS["c4_tolerance"]
    chosen = _select(records, experiment="E2", setting="cnn", rule="guided", metric="r_image")
    params = sorted({r["param"] for r in chosen})
    means = [_stats(chosen, param=p)[0] for p in params]
    checks = [_increasing_check("smallest increase of r(GBP, x) from one N to the next", params, means)]
    for p, mean in zip(params, means):
        expected = theory.theoretical_recovery(p, 3)
        _, sd, count = _stats(chosen, param=p)
        check = _check(f"r(GBP, x) − theory, N={p}", None if mean is None else mean - expected,
                       "abs<=", tol, sd=sd, n=count)
        check["mean"] = mean
        check["theory"] = expected
        checks.append(check)
    return _claim("C4", f"E2: random 3-layer CNN, N ∈ {params}, {_describe(chosen)}",
                  "mean r(GBP, x) per N vs √(S/(1+S)), S = N/(3π²)",
                  f"strictly increasing in N and within ±{tol} of √(S/(1+S)) at every N", checks)


def _c5(records):
    tol = THRESHOLDS["c5_tolerance"]
    fc = _select(records, experiment="E1", setting="fc", rule="guided", metric="r_image")
    cnn = _select(records, experiment="E1", setting="cnn", rule="guided", metric="r_image")
    params = sorted({r["param"] for r in fc})
    means = [_stats(fc, param=p)[0] for p in params]
    checks = [_increasing_check("smallest increase of r_FC from one N_h to the next", params, means)]
    cnn_mean, _, _ = _stats(cnn)
    widest = means[-1] if means else None
    checks.append(_check(
        f"r_CNN(N={cnn[0]['param'] if cnn else '?'}) − r_FC(N_h={params[-1] if params else '?'})",
        None if widest is None or cnn_mean is None else cnn_mean - widest, ">", 0.0,
    ))
    for p, mean in zip(params, means):
        dims = {r.get("input_dim") for r in _select(fc, param=p)}
        d = int(next(iter(dims))) if len(dims) == 1 and None not in dims else None
        expected = None if d is None else theory.theoretical_recovery_fc(p, d)
        _, sd, count = _stats(fc, param=p)
        check = _check(f"r_FC − theory, N_h={p}",
                       None if mean is None or expected is None else mean - expected, "abs<=", tol, sd=sd,
                       n=count)
        check["mean"] = mean
        check["theory"] = expected
        checks.append(check)
    dims = sorted({r.get("input_dim") for r in fc if r.get("input_dim")})
    return _claim("C5", f"E1: random FC, N_h ∈ {params}, d = {dims} vs random CNN N="
                  f"{cnn[0]['param'] if cnn else '?'} on the same images, {_describe(fc)}",
                  "mean r(GBP, x) per N_h vs √(S/(1+S)), S = N_h/(π²d)",
                  f"r_FC strictly increasing in N_h; r_FC(largest N_h) < r_CNN; r_FC within ±{tol} of "
                  "√(S/(1+S)) at every N_h", checks)


def _c6(records):
    th = THRESHOLDS
    base = dict(experiment="E3", param=th["reference_filters"])
    checks = [
        _mean_check(records, "M2(Deconv), no pool", "abs<=", th["c6_deconv_no_pool"],
                    setting="cnn", rule="deconvnet", metric="highpass", **base),
        _mean_check(records, "M2(Deconv), max-pool", ">=", th["c6_deconv_pool"],
                    setting="cnn_maxpool", rule="deconvnet", metric="highpass", **base),
        _mean_check(records, "r(Sal, x), no pool", "abs<=", th["c6_abs_r_sal"],
                    setting="cnn", rule="saliency", metric="r_image", **base),
        _mean_check(records, "r(Sal, x), max-pool", "abs<=", th["c6_abs_r_sal"],
                    setting="cnn_maxpool", rule="saliency", metric="r_image", **base),
        _mean_check(records, "r(GBP, x), max-pool", ">=", th["c6_r_gbp"],
                    setting="cnn_maxpool", rule="guided", metric="r_image", **base),
    ]
    return _claim("C6", f"E3: random CNN N={th['reference_filters']} with vs without 9×9 max-pool, "
                  f"{_describe(records, **base)}", "mean M2 high-pass r and M1 r over seeds × images",
                  f"|M2(Deconv)| ≤ {th['c6_deconv_no_pool']} without pool (≈ 0, our bound) and "
                  f"≥ {th['c6_deconv_pool']} with pool; |r(Sal, x)| ≤ {th['c6_abs_r_sal']} with and without; "
                  f"r(GBP, x) ≥ {th['c6_r_gbp']} with pool (\"clearly positive\", our bound)", checks)


def _c7(records):
    gap = THRESHOLDS["c7_gap"]
    base = dict(experiment="E4", setting="vgg16_random", metric="r_image")
    checks = [_diff_check(records, "r(GBP, x) − r(Sal, x)", ">", gap,
                          dict(rule="guided", **base), dict(rule="saliency", **base))]
    for rule in ("guided", "saliency"):
        mean, sd, n = _stats(records, rule=rule, **base)
        checks[0].setdefault("parts", {})[f"r({RULE_SHORT[rule]}, x)"] = {"mean": mean, "sd": sd, "n": n}
    return _claim("C7", f"E4: random VGG-16 (paper init), {_describe(records, **base)}",
                  "mean Pearson r over seeds × images", f"r(GBP, x) > r(Sal, x) + {gap}", checks)


def lowest_step(records: Sequence[Record], rule: str) -> tuple[float | None, str | None]:
    """The lowest mean over E5's steps of one rule's records, and the label of that step.

    C8 reads it on the steps where the first conv block is still trained:
    a map that ignores the learned weights stays high at every one of them.

    Args:
        records: E5 records of one metric (and one net), e.g. those with
            `lowest_trained=True`.
        rule: the rule whose per-step means are compared.

    Returns:
        `(mean, layer)` of the step with the lowest mean over seeds ×
        images, or `(None, None)` without records of `rule`.

    Example:

    ```python
    held = records.select(rows, experiment="E5", setting="part", metric="ssim", lowest_trained=True)
    claims.lowest_step(held, "guided")  # (0.62, "block2_conv1")
    ```
    """
    worst, worst_label = None, None
    for step, label in sorted({(r["step"], r["layer"]) for r in records}):
        mean, _, _ = _stats(records, rule=rule, step=step)
        if mean is not None and (worst is None or mean < worst):
            worst, worst_label = mean, label
    return worst, worst_label


def _c8(records):
    th = THRESHOLDS
    part = _select(records, experiment="E5", setting="part", metric="ssim")
    held = _select(part, lowest_trained=True)
    held_steps = sorted({(r["step"], r["layer"]) for r in held})
    checks = []
    for rule in ("guided", "deconvnet"):
        worst, worst_label = lowest_step(held, rule)
        check = _check(f"min SSIM({RULE_SHORT[rule]}) while block 1 is trained", worst, ">=", th["c8_high"],
                       n=len(held_steps))
        if worst_label:
            check["note"] = f"lowest at the step randomizing down to {worst_label}"
        checks.append(check)
    head = _select(part, head_random=True)
    sal, sal_sd, sal_n = _stats(head, rule="saliency")
    checks.append(_check("SSIM(Sal), dense head random", sal, "<", th["c8_sal_low"], sd=sal_sd, n=sal_n))
    others = [_stats(head, rule=r)[0] for r in ("guided", "deconvnet")]
    ratio_value = None
    if sal is not None and None not in others:
        ratio_value = sal - th["c8_ratio"] * min(others)
    checks.append(_check(f"SSIM(Sal) − {th['c8_ratio']} × min(SSIM(GBP), SSIM(Deconv)), dense head random",
                         ratio_value, "<=", 0.0))
    return _claim(
        "C8", f"E5: cascading randomization of the trained net, {_describe(part)}, "
        f"{len({r['step'] for r in part})} steps", "mean SSIM (M4) of each step's map to the trained map",
        f"GBP and DeconvNet mean SSIM ≥ {th['c8_high']} at every step while the first conv block is still "
        f"trained; once the dense head is random, saliency's mean SSIM < {th['c8_sal_low']} and ≤ "
        f"{th['c8_ratio']} × min(GBP's, DeconvNet's) (our computed reading of 'stays high' / 'drops')",
        checks)


def _similarity_claim(cid: str, records, experiment: str, setting: str, threshold: float, metric: str,
                      what: str) -> dict:
    base = dict(experiment=experiment, setting=setting, metric=metric)
    checks = [
        _mean_check(records, f"{metric}(GBP)", ">=", threshold, rule="guided", **base),
        _mean_check(records, f"{metric}(Deconv)", ">=", threshold, rule="deconvnet", **base),
        _diff_check(records, f"{metric}(GBP) − {metric}(Sal)", ">", 0.0,
                    dict(rule="guided", **base), dict(rule="saliency", **base)),
        _diff_check(records, f"{metric}(Deconv) − {metric}(Sal)", ">", 0.0,
                    dict(rule="deconvnet", **base), dict(rule="saliency", **base)),
    ]
    mean, sd, n = _stats(records, rule="saliency", **base)
    checks[2]["parts"] = {f"{metric}(Sal)": {"mean": mean, "sd": sd, "n": n}}
    return _claim(cid, f"{what}, {_describe(records, **base)}", f"mean {metric} (M4) over images × pairs",
                  f"{metric}(GBP) ≥ {threshold} and {metric}(Deconv) ≥ {threshold}, both > {metric}(Sal)", checks)


def _c9(records):
    pairs = _select(records, experiment="E6", rule="guided", metric="ssim")
    per_image = {}
    for r in pairs:
        per_image.setdefault((r["seed"], r["image"]), 0)
        per_image[(r["seed"], r["image"])] += 1
    count = min(per_image.values()) if per_image else 0
    return _similarity_claim("C9", records, "E6", "class_pairs", THRESHOLDS["c9_ssim"], "ssim",
                             f"E6: class pairs of the trained net ({count} pairs per image)")


def _c10(records):
    attack = _select(records, experiment="E7", setting="fgsm_min", rule="attack", metric="flipped")
    flipped = sum(1 for r in attack if r["value"] > 0.5)
    claim = _similarity_claim("C10", records, "E7", "fgsm_min", THRESHOLDS["c10_similarity"], "ssim",
                              f"E7: smallest flipping FGSM ε (uint8-checked), {flipped}/{len(attack)} images flipped")
    eps, eps_sd, _ = _stats(records, experiment="E7", setting="fgsm_min", rule="attack", metric="epsilon")
    notes = []
    if eps is not None:
        notes.append(f"mean ε = {eps:.2f} ± {eps_sd:.2f} grey levels (of 255) over the flipped images")
    fixed = _select(records, experiment="E7", setting="fgsm_fixed")
    for eps_fixed in sorted({r["param"] for r in fixed}):
        flips, _, _ = _stats(fixed, param=eps_fixed, rule="attack", metric="flipped")
        ssim = [_stats(fixed, param=eps_fixed, rule=rule, metric="ssim")[0] for rule in ("guided", "deconvnet",
                                                                                          "saliency")]
        if flips is not None and None not in ssim:
            notes.append(f"fixed ε = {eps_fixed:g}: SSIM GBP {ssim[0]:.3f}, Deconv {ssim[1]:.3f}, Sal "
                         f"{ssim[2]:.3f} ({flips:.0%} flipped)")
    if notes:
        claim["note"] = "; ".join(notes)
    return claim


def input_independence_curve(records: Sequence[Record]) -> list[dict[str, Any]]:
    """C11 as a curve: mean M6(GBP) per N of E2 beside our prediction 0.5/(1+S).

    One row per filter count N with E2 `input_independence` records of GBP
    (all image pairs, one logit): `N`, `S` = N/(3π²), the measured `mean`,
    `sd` and `n` over seeds × pairs; `theory` = 0.5/(1+S)
    (`theory.theoretical_input_independence`); `pair_theory`, the mean over
    the same pairs of (0.5 + S·r(x̃_i, x̃_j))/(1+S) with each pair's own
    image correlation (`None` without the `"images"` records); `deconvnet`,
    DeconvNet's mean M6 (1 in theory); `within`, whether |mean − theory| ≤
    `C11_CURVE_TOLERANCE`.

    Args:
        records: records of `experiments.e2_random_cnn`.

    Returns:
        The rows, by increasing N.

    Example:

    ```python
    records = experiments.e2_random_cnn(images, filters=(4, 64, 256))
    [(row["N"], row["mean"], row["theory"]) for row in claims.input_independence_curve(records)]
    ```
    """
    chosen = _select(records, experiment="E2", setting="cnn", metric="input_independence")
    images = {(r["seed"], r["image"]): r["value"] for r in chosen if r["rule"] == "images"}
    rows = []
    for n_filters in sorted({r["param"] for r in chosen if r["rule"] == "guided"}):
        mean, sd, count = _stats(chosen, rule="guided", param=n_filters)
        if mean is None:
            continue
        expected = theory.theoretical_input_independence(n_filters, 3)
        pairs = [images.get((r["seed"], r["image"])) for r in _select(chosen, rule="guided", param=n_filters)]
        pair_values = [theory.theoretical_input_independence(n_filters, 3, float(np.clip(v, -1.0, 1.0)))
                       for v in pairs if isinstance(v, (int, float)) and math.isfinite(v)]
        deconv, _, _ = _stats(chosen, rule="deconvnet", param=n_filters)
        rows.append({
            "N": n_filters, "S": theory.signal_to_noise(n_filters, 3), "mean": mean, "sd": sd, "n": count,
            "theory": expected, "pair_theory": float(np.mean(pair_values)) if pair_values else None,
            "deconvnet": deconv, "within": bool(abs(mean - expected) <= C11_CURVE_TOLERANCE),
        })
    return rows


def _c11(records):
    t, ind = THRESHOLDS["c11_abs_r_gbp"], THRESHOLDS["c3_independence"]
    n = THRESHOLDS["reference_filters"]
    checks = [
        _mean_check(records, "M6(GBP)", "abs<=", t, **_e2("guided", "input_independence")),
        _mean_check(records, "M6(Deconv)", ">=", ind, **_e2("deconvnet", "input_independence")),
    ]
    img, img_sd, img_n = _stats(records, **_e2("images", "input_independence"))
    checks[0]["parts"] = {"r(x̃_i, x̃_j) of the images themselves": {"mean": img, "sd": img_sd, "n": img_n}}
    curve = input_independence_curve(records)
    note = ""
    if len(curve) > 1:
        on = [str(row["N"]) for row in curve if row["within"]]
        off = [str(row["N"]) for row in curve if not row["within"]]
        note = ("M6(GBP) by N (measured / our curve 0.5/(1+S), S = N/(3π²)): "
                + ", ".join(f"N={row['N']}: {row['mean']:.3f} / {row['theory']:.3f}" for row in curve)
                + f"; within ±{C11_CURVE_TOLERANCE} of the curve at N = {', '.join(on) or 'none'}"
                + (f", not at N = {', '.join(off)}" if off else "")
                + ". Our derivation, not the paper's (docs/theory.md): writing the forward mask as ½ + "
                "(mask − ½), half of every GBP map is the image-independent DeconvNet map, a common component "
                "worth 0.5/(1+S) of the correlation between any two images' maps; it fades only as N grows.")
    claim = _claim("C11", f"E2: random 3-layer CNN, N={n}, {_describe(records, experiment='E2', param=n)}; "
                   "all image pairs, logit 0", "mean M6 = Pearson between two images' maps",
                   f"|M6(GBP)| ≤ {t} (≈ 0, our bound) while M6(Deconv) ≥ 1 − 1e-5", checks, note)
    claim["curve"] = curve
    return claim


_EVALUATORS: dict[str, Callable[[Sequence[Record]], dict]] = dict(
    zip(CLAIM_IDS, (_c1, _c2, _c3, _c4, _c5, _c6, _c7, _c8, _c9, _c10, _c11), strict=True)
)


def trained_nets(records: Iterable[Record]) -> list[str | None]:
    """The trained nets of C8–C10 in `records`, in the order they first appear.

    Args:
        records: tidy records.

    Returns:
        The `"net"` of every E5–E7 record outside the width study, each
        once; `[None]` when the records name no net (or hold no E5–E7
        record), so that each trained-net claim still gets one verdict.

    Example:

    ```python
    claims.trained_nets(records)  # ["fashion_cnn", "fashion_vgg"]
    ```
    """
    nets: list[str | None] = []
    for r in records:
        if r.get("experiment") in ("E5", "E6", "E7") and r.get("study") is None and r.get("net") not in nets:
            nets.append(r.get("net"))
    return nets or [None]


def _for_net(claim_id: str, records: Sequence[Record], net: str | None) -> dict:
    claim = _EVALUATORS[claim_id]([r for r in records if r.get("net") == net and r.get("study") is None])
    claim["net"] = net
    return claim


_ANY_NET = object()


def evaluate_claim(claim_id: str, records: Iterable[Record], *, net: Any = _ANY_NET) -> dict:
    """The verdict of one claim (`"C1"` … `"C11"`) on `records`.

    Args:
        claim_id: the claim.
        records: tidy records from `kerasviz.analysis.experiments`.
        net: for C8–C10, the trained net whose records count (`None` for
            records without a `"net"` key). Defaults to the only trained net
            in `records`.

    Returns:
        The claim dict (see the module docstring).

    Raises:
        InvalidArgumentError: (a `ValueError`) for an unknown claim id, or
            when C8–C10 are asked of records of several trained nets
            without `net`.

    Example:

    ```python
    claims.evaluate_claim("C9", records, net="fashion_vgg")["holds"]
    ```
    """
    _validation.one_of(claim_id, "claim_id", _EVALUATORS, what="claim")
    records = list(records)
    if claim_id not in TRAINED_NET_CLAIMS:
        return _EVALUATORS[claim_id](records)
    if net is _ANY_NET:
        nets = trained_nets(records)
        if len(nets) > 1:
            raise InvalidArgumentError(
                f"{claim_id} is measured per trained net and the records hold {len(nets)}: pass net= one "
                f"of them. Received: trained_nets(records)={nets!r}"
            )
        net = nets[0]
    return _for_net(claim_id, records, net)


def evaluate(records: Iterable[Record]) -> list[dict]:
    """The verdicts of C1–C11 on `records` (see the module docstring).

    Args:
        records: tidy records from `kerasviz.analysis.experiments`.

    Returns:
        One claim dict per claim in order C1 … C11, and for C8–C10 one per
        (claim, trained net) (`trained_nets`): eleven dicts when the records
        hold one trained net.
    """
    records = list(records)
    nets = trained_nets(records)
    out = []
    for claim_id, evaluator in _EVALUATORS.items():
        if claim_id in TRAINED_NET_CLAIMS:
            out += [_for_net(claim_id, records, net) for net in nets]
        else:
            out.append(evaluator(records))
    return out

"""Drawing maps of inputs that are not images: tokens, sequences and table rows.

| function | what it shows |
|----------|---------------|
| `token_scores` | one value per token: the map summed (`"sum"`) or its L2 norm (`"l2"`) over the embedding axis |
| `plot_tokens`, `tokens_html` | the tokens, each on a background whose colour encodes its value (PNG / HTML) |
| `plot_sequence` | each channel's line, with the attribution of every time step shaded under it |
| `plot_table` | a bar chart of the `top` features of largest magnitude, with their names |

One colour code throughout: a value `v` of a map scaled by its largest
magnitude (`signed_scale`, so `v` is in [-1, 1]) is drawn red for `v > 0`
and blue for `v < 0`, with opacity `|v|` (`value_colors`); 0 is
transparent. Maps are one sample's (no batch axis), e.g. `maps[rule][i]`;
every function takes one map or `{rule: map}` (one row or panel per rule).
Figures are drawn on their own `matplotlib.figure.Figure` (never pyplot).
These functions are re-exported by `kv.render`.

Example:

```python
maps = kv.visualize(model, sequences, rules=("saliency", "guided"))
kv.render.plot_sequence(sequences[0], {r: m[0] for r, m in maps.items()}, path="seq.png")
```
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence

import numpy as np

from kerasviz import _validation
from kerasviz.errors import InvalidInputError

#: How `token_scores` reduces a token's embedding-axis map to one value.
REDUCTIONS = ("sum", "l2")
#: RGB of positive and negative values.
POSITIVE, NEGATIVE = (0.84, 0.15, 0.16), (0.12, 0.38, 0.71)


def token_scores(m, reduce: str = "sum") -> np.ndarray:
    """One value per token of a token map.

    Args:
        m: one sample's map, `(T, E)` (at the embedding's output) or `(T,)`.
        reduce: `"sum"` (signed: the sum over the embedding axis) or `"l2"`
            (the norm of each token's vector, >= 0). Defaults to `"sum"`.

    Returns:
        float32 `(T,)` (a `(T,)` map is returned as it is).

    Raises:
        InvalidInputError: for a map that is not `(T,)` or `(T, E)`.
        InvalidArgumentError: for an unknown `reduce`.

    Example:

    ```python
    kv.render.token_scores(np.array([[1.0, -3.0], [3.0, 4.0]]), reduce="l2")   # [3.16, 5.0]
    ```
    """
    _validation.one_of(reduce, "reduce", REDUCTIONS, what="token reduction")
    m = np.asarray(m, np.float32)
    if m.ndim == 1:
        return m
    if m.ndim != 2:
        raise InvalidInputError(
            f"A token map is one sample's, shaped (T, E) or (T,); for a batch pass maps[rule][i]. "
            f"Received: shape={m.shape}"
        )
    if reduce == "sum":
        return m.sum(axis=1)
    return np.sqrt((m.astype(np.float64) ** 2).sum(axis=1)).astype(np.float32)


def signed_scale(values) -> np.ndarray:
    """`values / max |values|` as float32 in [-1, 1]; zeros for a map of zeros."""
    values = np.asarray(values, np.float32)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return values / peak if peak > 0 else np.zeros_like(values)


def value_colors(scaled) -> np.ndarray:
    """RGBA `(..., 4)` of values in [-1, 1]: red if positive, blue if negative, opacity `|v|`."""
    scaled = np.clip(np.asarray(scaled, np.float32), -1.0, 1.0)
    rgb = np.where(scaled[..., None] >= 0, np.float32(POSITIVE), np.float32(NEGATIVE))
    return np.concatenate([rgb, np.abs(scaled)[..., None]], axis=-1)


def tokens_html(tokens: Sequence[str], maps, *, reduce: str = "sum") -> str:
    """The tokens as HTML spans whose background encodes each token's value.

    Each token is a `<span>` with `data-value` (its value from
    `token_scores`), a `title` showing it, and a background
    `rgba(r, g, b, a)` from `value_colors(signed_scale(values))`. With
    several rules, one line per rule, headed by its name.

    Args:
        tokens: the `T` token strings (escaped here).
        maps: one map `(T, E)` / `(T,)`, or `{rule: map}`.
        reduce: see `token_scores`. Defaults to `"sum"`.

    Returns:
        An HTML fragment (a `<div>`), e.g. for a notebook's `HTML(...)`.

    Raises:
        InvalidInputError: when a map has not one row per token.

    Example:

    ```python
    text = kv.render.tokens_html(["a", "good", "film"], np.array([0.0, 2.0, -1.0]))
    ```
    """
    lines = []
    for rule, m in _by_rule(maps).items():
        values = _checked_scores(tokens, m, reduce, rule)
        colors = value_colors(signed_scale(values))
        spans = " ".join(
            f'<span data-value="{v:.6g}" title="{v:.4g}" style="background-color: {_css(c)}; '
            f'padding: 1px 2px; border-radius: 3px">{html.escape(str(t))}</span>'
            for t, v, c in zip(tokens, values, colors)
        )
        head = f"<b>{html.escape(rule)}</b>: " if rule else ""
        lines.append(f'<p class="kerasviz-tokens" data-rule="{html.escape(rule)}">{head}{spans}</p>')
    return '<div class="kerasviz">' + "".join(lines) + "</div>"


def plot_tokens(tokens: Sequence[str], maps, *, reduce: str = "sum", per_line: int = 12,
                path: str | os.PathLike | None = None, dpi: int = 100):
    """The tokens drawn as text on coloured boxes, one panel per rule.

    Args:
        tokens: the `T` token strings.
        maps: one map `(T, E)` / `(T,)`, or `{rule: map}`.
        reduce: see `token_scores`. Defaults to `"sum"`.
        per_line: tokens per line of text. Defaults to `12`.
        path: write a PNG there when given. Defaults to `None`.
        dpi: resolution of the PNG. Defaults to `100`.

    Returns:
        The matplotlib `Figure`; token `i` of a panel is its `texts[i]`,
        whose box has `value_colors`' colour.

    Raises:
        InvalidInputError: when a map has not one row per token.

    Example:

    ```python
    fig = kv.render.plot_tokens(["a", "good", "film"], np.array([0.0, 2.0, -1.0]))
    ```
    """
    from matplotlib.figure import Figure

    per_line = _validation.positive_int(per_line, "per_line")
    by_rule = _by_rule(maps)
    lines = -(-len(tokens) // per_line) or 1
    width = max(4.0, 0.8 * min(per_line, len(tokens) or 1))
    fig = Figure(figsize=(width, (0.45 * lines + 0.5) * len(by_rule)))
    axes = fig.subplots(len(by_rule), 1, squeeze=False)[:, 0]
    for ax, (rule, m) in zip(axes, by_rule.items()):
        values = _checked_scores(tokens, m, reduce, rule)
        colors = value_colors(signed_scale(values))
        for i, (token, color) in enumerate(zip(tokens, colors)):
            ax.text((i % per_line) + 0.5, lines - 0.5 - i // per_line, str(token), ha="center",
                    va="center", fontsize=10, bbox=dict(facecolor=tuple(color), edgecolor="none",
                                                        boxstyle="round,pad=0.2"))
        ax.set_xlim(0, min(per_line, max(len(tokens), 1)))
        ax.set_ylim(0, lines)
        ax.set_axis_off()
        if rule:
            ax.set_title(f"{rule} ({reduce})", fontsize=10, loc="left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_sequence(sequence, maps, *, channel_names: Sequence[str] | None = None,
                  path: str | os.PathLike | None = None, panel_size: tuple[float, float] = (4.0, 1.4),
                  dpi: int = 100):
    """Each channel's line with its attribution shaded under it: one row per channel, one column per rule.

    Under the line, time step `t` of channel `c` is a bar from the panel's
    floor up to `sequence[t, c]`, coloured by `value_colors` of the map
    scaled jointly over all channels (`signed_scale(m)`), so channels
    compare.

    Args:
        sequence: one sample, `(T, C)` or `(T,)`.
        maps: one map shaped like it, or `{rule: map}`.
        channel_names: one name per channel. Defaults to `None`
            (`"channel 0"`, ...).
        path: write a PNG there when given. Defaults to `None`.
        panel_size: inches `(width, height)` per panel. Defaults to `(4.0, 1.4)`.
        dpi: resolution of the PNG. Defaults to `100`.

    Returns:
        The matplotlib `Figure`; panel `(c, r)`'s bars are its `patches`
        (one per time step), its line is `lines[0]`.

    Raises:
        InvalidInputError: when a map is not shaped like the sequence.

    Example:

    ```python
    t = np.linspace(0, 6, 50, dtype=np.float32)
    fig = kv.render.plot_sequence(np.sin(t), {"guided": np.cos(t)})
    ```
    """
    from matplotlib.figure import Figure

    sequence = np.asarray(sequence, np.float32)
    if sequence.ndim == 1:
        sequence = sequence[:, None]
    if sequence.ndim != 2 or not sequence.size:
        raise InvalidInputError(
            f"`sequence` is one sample, shaped (T, C) or (T,); for a batch pass x[i]. "
            f"Received: shape={sequence.shape}"
        )
    by_rule = _by_rule(maps)
    steps, channels = sequence.shape
    names = list(channel_names) if channel_names is not None else [f"channel {c}" for c in range(channels)]
    if len(names) != channels:
        raise InvalidInputError(
            f"Give one channel name per channel ({channels}). Received: {len(names)} channel_names"
        )
    fig = Figure(figsize=(panel_size[0] * len(by_rule), panel_size[1] * channels))
    axes = fig.subplots(channels, len(by_rule), squeeze=False, sharex=True)
    t = np.arange(steps)
    for col, (rule, m) in enumerate(by_rule.items()):
        m = np.asarray(m, np.float32)
        if m.ndim == 1 and channels == 1:  # the map of a (T,) sequence
            m = m[:, None]
        if np.shape(m) != sequence.shape:
            raise InvalidInputError(
                f"The {rule or 'given'} map must be shaped like the sequence {sequence.shape}. "
                f"Received: shape={np.shape(m)}"
            )
        colors = value_colors(signed_scale(m))
        for c in range(channels):
            ax = axes[c, col]
            line = sequence[:, c]
            floor = sequence_floor(line)
            ax.bar(t, line - floor, bottom=floor, width=1.0, color=colors[:, c], linewidth=0)
            ax.plot(t, line, color="black", linewidth=1.0)
            ax.set_ylim(floor, float(line.max()) + 0.05 * (float(line.max()) - floor + 1e-6))
            if col == 0:
                ax.set_ylabel(names[c], fontsize=9)
        if rule:
            axes[0, col].set_title(rule, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def sequence_floor(line: np.ndarray) -> float:
    """The bottom of a channel's panel: its minimum less 10% of its range (1 for a flat line)."""
    low, high = float(np.min(line)), float(np.max(line))
    return low - 0.1 * ((high - low) or 10.0)


def top_features(m, top: int) -> np.ndarray:
    """The indices of the `top` largest `|m|`, largest first (ties by index)."""
    m = np.asarray(m, np.float32).reshape(-1)
    return np.argsort(-np.abs(m), kind="stable")[:top]


def plot_table(maps, *, feature_names: Sequence[str] | None = None, top: int = 10,
               path: str | os.PathLike | None = None, dpi: int = 100):
    """A bar chart of the `top` features of largest magnitude, with their names: one panel per rule.

    Bars are the signed values (red positive, blue negative), the largest
    magnitude at the top.

    Args:
        maps: one row's map `(D,)`, or `{rule: map}`.
        feature_names: the `D` names. Defaults to `None` (`"feature 0"`, ...).
        top: how many features. Defaults to `10` (all when `D` is smaller).
        path: write a PNG there when given. Defaults to `None`.
        dpi: resolution of the PNG. Defaults to `100`.

    Returns:
        The matplotlib `Figure`; a panel's `patches` are its bars from top
        to bottom, its y tick labels the names.

    Raises:
        InvalidInputError: for a map that is not `(D,)`, or names that are
            not one per feature.

    Example:

    ```python
    fig = kv.render.plot_table(np.array([0.1, -2.0, 0.5]), feature_names=["age", "bmi", "bp"], top=2)
    ```
    """
    from matplotlib.figure import Figure

    top = _validation.positive_int(top, "top")
    by_rule = _by_rule(maps)
    first = np.asarray(next(iter(by_rule.values())))
    size = first.size
    names = list(feature_names) if feature_names is not None else [f"feature {i}" for i in range(size)]
    if len(names) != size:
        raise InvalidInputError(
            f"Give one feature name per feature ({size}). Received: {len(names)} feature_names"
        )
    shown = min(top, size)
    fig = Figure(figsize=(3.6 * len(by_rule), 0.3 * shown + 1.0))
    axes = fig.subplots(1, len(by_rule), squeeze=False)[0]
    for ax, (rule, m) in zip(axes, by_rule.items()):
        m = np.asarray(m, np.float32)
        if m.ndim != 1 or m.size != size:
            raise InvalidInputError(
                f"A table map is one row's, shaped ({size},); for a batch pass maps[rule][i]. "
                f"Received: shape={m.shape}"
            )
        order = top_features(m, shown)
        values = m[order]
        positions = np.arange(shown)[::-1]  # the largest on top
        ax.barh(positions, values, color=[POSITIVE if v >= 0 else NEGATIVE for v in values])
        ax.set_yticks(positions, [names[i] for i in order], fontsize=8)
        ax.axvline(0.0, color="black", linewidth=0.6)
        if rule:
            ax.set_title(rule, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def _by_rule(maps) -> dict[str, np.ndarray]:
    """`{rule: map}` from a mapping, or `{"": map}` for one map."""
    if isinstance(maps, Mapping):
        if not maps:
            raise InvalidInputError("`maps` is empty: give one map or {rule: map}. Received: maps={}")
        return {str(rule): np.asarray(m) for rule, m in maps.items()}
    return {"": np.asarray(maps)}


def _checked_scores(tokens: Sequence[str], m, reduce: str, rule: str) -> np.ndarray:
    values = token_scores(m, reduce)
    if len(values) != len(tokens):
        raise InvalidInputError(
            f"The {rule or 'given'} map has {len(values)} tokens; {len(tokens)} token strings were "
            f"given. Pass one string per token. Received: map shape={np.shape(m)}"
        )
    return values


def _css(color: np.ndarray) -> str:
    r, g, b, a = (float(v) for v in color)
    return f"rgba({round(255 * r)}, {round(255 * g)}, {round(255 * b)}, {a:.3f})"

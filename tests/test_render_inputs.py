"""`kv.render`'s drawings of non-image inputs: tokens (PNG and HTML), sequences, tables.

References: the reductions in plain NumPy (sum / L2 norm over the embedding
axis), the colour code written out by hand (red positive, blue negative,
opacity |v| / max |v|), and what the Figures hold read back from their
artists (texts and their boxes, bars, tick labels), not the pixels.
"""

import re

import matplotlib.colors as mcolors
import numpy as np
import pytest

import kerasviz as kv
from kerasviz import render_inputs

RED, BLUE = (0.84, 0.15, 0.16), (0.12, 0.38, 0.71)


def _expected_rgba(values):
    values = np.asarray(values, np.float64)
    peak = np.abs(values).max()
    return [(*(RED if v >= 0 else BLUE), abs(v) / peak) for v in values]


@pytest.fixture
def token_map():
    return np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)


def test_token_scores_match_numpy(token_map):
    np.testing.assert_allclose(kv.render.token_scores(token_map, "sum"),
                               [sum(row) for row in token_map.tolist()], rtol=1e-6)
    np.testing.assert_allclose(kv.render.token_scores(token_map, "l2"),
                               [np.sqrt(sum(v * v for v in row)) for row in token_map.tolist()], rtol=1e-6)
    np.testing.assert_array_equal(kv.render.token_scores(token_map[:, 0]), token_map[:, 0])
    with pytest.raises(kv.errors.InvalidArgumentError, match=r"Unknown token reduction. Known: 'sum', 'l2'. Received: reduce='mean'"):
        kv.render.token_scores(token_map, "mean")
    with pytest.raises(kv.errors.InvalidInputError, match=r"shaped \(T, E\) or \(T,\).*shape=\(2, 5, 4\)"):
        kv.render.token_scores(np.stack([token_map] * 2))


def test_tokens_html_values_and_colours(token_map):
    tokens = ["the", "<b>", "great", "film", "&"]
    text = kv.render.tokens_html(tokens, {"guided": token_map, "saliency": -token_map}, reduce="sum")
    rows = re.findall(r'<p class="kerasviz-tokens" data-rule="(\w+)">(.*?)</p>', text)
    assert [rule for rule, _ in rows] == ["guided", "saliency"]
    sums = token_map.astype(np.float64).sum(axis=1)
    for (rule, body), sign in zip(rows, (1, -1)):
        spans = re.findall(r'<span data-value="([^"]+)"[^>]*background-color: rgba\((\d+), (\d+), (\d+), '
                           r'([0-9.]+)\)[^>]*>(.*?)</span>', body)
        assert [s[-1] for s in spans] == ["the", "&lt;b&gt;", "great", "film", "&amp;"]  # escaped
        np.testing.assert_allclose([float(s[0]) for s in spans], sign * sums, rtol=1e-5)
        for span, (r, g, b, a) in zip(spans, _expected_rgba(sign * sums)):
            assert tuple(int(v) for v in span[1:4]) == (round(255 * r), round(255 * g), round(255 * b))
            assert float(span[4]) == pytest.approx(a, abs=1e-3)
    with pytest.raises(kv.errors.InvalidInputError, match=r"has 5 tokens; 4 token strings"):
        kv.render.tokens_html(tokens[:4], token_map)


def test_plot_tokens_colours_each_token(token_map, tmp_path):
    tokens = [f"w{i}" for i in range(5)]
    fig = kv.render.plot_tokens(tokens, {"guided": token_map}, reduce="l2", per_line=3,
                                path=tmp_path / "tokens.png")
    assert (tmp_path / "tokens.png").read_bytes()[:4] == b"\x89PNG"
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == tokens
    norms = np.linalg.norm(token_map.astype(np.float64), axis=1)
    for text, expected in zip(ax.texts, _expected_rgba(norms)):
        np.testing.assert_allclose(text.get_bbox_patch().get_facecolor(), expected, atol=1e-6)
    # three per line: token 3 starts the second line, below the first
    assert ax.texts[3].get_position()[0] == ax.texts[0].get_position()[0]
    assert ax.texts[3].get_position()[1] < ax.texts[0].get_position()[1]


def test_plot_sequence_shades_the_attribution_under_each_channel():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    m = rng.normal(size=(20, 2)).astype(np.float32)
    fig = kv.render.plot_sequence(x, {"saliency": m, "guided": np.maximum(m, 0)},
                                  channel_names=["ecg", "resp"])
    axes = np.array(fig.axes).reshape(2, 2)
    assert [a.get_title() for a in axes[0]] == ["saliency", "guided"]
    assert [a.get_ylabel() for a in axes[:, 0]] == ["ecg", "resp"]
    peak = np.abs(m).max()  # scaled jointly over both channels
    for c in range(2):
        ax = axes[c, 0]
        np.testing.assert_allclose(ax.lines[0].get_ydata(), x[:, c])
        bars = ax.patches
        assert len(bars) == 20
        floor = x[:, c].min() - 0.1 * (x[:, c].max() - x[:, c].min())
        for t, bar in enumerate(bars):
            assert bar.get_x() + bar.get_width() / 2 == pytest.approx(t)
            assert bar.get_y() == pytest.approx(floor, abs=1e-5)
            assert bar.get_y() + bar.get_height() == pytest.approx(x[t, c], abs=1e-5)
            rgb = RED if m[t, c] >= 0 else BLUE
            np.testing.assert_allclose(bar.get_facecolor(), (*rgb, abs(m[t, c]) / peak), atol=1e-6)
    # guided's panel: no blue anywhere (its map is >= 0)
    for bar in axes[0, 1].patches:
        assert bar.get_facecolor()[3] == 0 or mcolors.to_rgb(bar.get_facecolor()) == pytest.approx(RED)
    with pytest.raises(kv.errors.InvalidInputError, match=r"shaped like the sequence \(20, 2\).*\(2, 20\)"):
        kv.render.plot_sequence(x, m.T)


def test_plot_table_shows_the_top_features_in_order_with_names():
    m = np.array([0.2, -3.0, 0.0, 1.5, -0.7, 2.5], np.float32)
    names = ["age", "bmi", "bp", "s1", "s2", "s3"]
    fig = kv.render.plot_table({"guided": m, "saliency": -m}, feature_names=names, top=4)
    for ax, sign in zip(fig.axes, (1, -1)):
        bars = sorted(ax.patches, key=lambda p: -p.get_y())  # top to bottom
        order = sorted(range(6), key=lambda i: -abs(m[i]))[:4]   # by magnitude, hand-sorted
        np.testing.assert_allclose([b.get_width() for b in bars], sign * m[order])
        labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
        assert [labels[round(b.get_y() + b.get_height() / 2)] for b in bars] == [names[i] for i in order]
        for b, i in zip(bars, order):
            assert mcolors.to_rgb(b.get_facecolor()) == pytest.approx(RED if sign * m[i] >= 0 else BLUE)
    assert [ax.get_title() for ax in fig.axes] == ["guided", "saliency"]
    with pytest.raises(kv.errors.InvalidInputError, match=r"one feature name per feature \(6\).*Received: 2"):
        kv.render.plot_table(m, feature_names=["a", "b"])


def test_reexported_from_kv_render():
    for name in ("plot_tokens", "tokens_html", "plot_sequence", "plot_table", "token_scores"):
        assert getattr(kv.render, name) is getattr(render_inputs, name)

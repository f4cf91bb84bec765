"""Tests for kerasviz.analysis.report: results.json is valid JSON with the required keys, REPORT.md embeds the PNGs."""

import json
import math
import re

import numpy as np
import pytest

from kerasviz.analysis import claims, report
from kerasviz.analysis.experiments import record

RULES = ("saliency", "deconvnet", "guided")


def _records():
    """Records of every experiment, with a NaN (an image that never flipped) thrown in."""
    rng = np.random.default_rng(0)
    out = []
    for seed in (0, 1):
        for image in ("a", "b"):
            for n in (1, 4, 16, 64, 256):
                for rule, base in zip(RULES, (0.0, 0.0, math.sqrt(n / (n + 30)))):
                    for metric in ("r_image", "r_normalized", "r_image_demeaned", "highpass"):
                        out.append(record("E2", "cnn", n, seed, image, rule, metric, base + rng.normal(0, 0.02),
                                          size=64))
            for width in (250, 1250, 5000, 17500):
                for rule in RULES:
                    value = math.sqrt(width / (width + 30000)) if rule == "guided" else 0.0
                    out.append(record("E1", "fc", width, seed, image, rule, "r_image", value, size=32,
                                      input_dim=3072))
            out.append(record("E1", "cnn", 64, seed, image, "guided", "r_image", 0.8, size=32))
            for setting in ("cnn", "cnn_maxpool"):
                for rule in RULES:
                    out.append(record("E3", setting, 64, seed, image, rule, "highpass", 0.5, size=64))
            for rule in RULES:
                out.append(record("E4", "vgg16_random", None, seed, image, rule, "r_image", 0.4, size=64))
                for step, (k, layer) in enumerate(((4, "predictions"), (3, "fc1"), (-1, "block1_conv1"))):
                    for metric in ("ssim", "spearman_abs"):
                        out.append(record("E5", "part", k, seed, image, rule, metric, 0.9 - 0.2 * step, layer=layer,
                                          step=step, randomized=step + 1, lowest_trained=k >= 1,
                                          head_random=k == 3))
                for experiment, setting in (("E6", "class_pairs"), ("E7", "fgsm_min")):
                    for metric in ("ssim", "spearman_abs", "hog"):
                        out.append(record(experiment, setting, None, seed, image, rule, metric, 0.7))
            out.append(record("E2", "cnn", 64, seed, "a|b", "guided", "input_independence", 0.2))
            out.append(record("E2", "cnn", 64, seed, "a|b", "images", "input_independence", 0.0))
            out.append(record("E7", "fgsm_min", None, seed, image, "attack", "epsilon", math.nan))
            out.append(record("E7", "fgsm_min", None, seed, image, "attack", "flipped", 0.0))
    return out


def _grid_rows():
    rng = np.random.default_rng(1)
    rgb = {"label": "random CNN\nN=64", "image": rng.uniform(size=(16, 16, 3)),
           "maps": {rule: rng.normal(size=(16, 16, 3)) for rule in RULES}}
    gray = {"label": "trained net", "image": rng.uniform(size=(28, 28, 1)),
            "maps": {rule: rng.normal(size=(28, 28, 1)) for rule in RULES}}
    return [rgb, gray]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    records = _records()
    verdicts = claims.evaluate(records)
    paths = report.write_all(out, verdicts, records, grid_rows=_grid_rows(), settings={"mode": "test"},
                             preamble="Made by a test.")
    return out, paths, verdicts


def _reject_constant(name):
    raise ValueError(f"not JSON: {name}")


def test_results_json_is_strict_json_with_every_claim(written):
    out, paths, _ = written
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"), parse_constant=_reject_constant)
    assert set(payload) == {"claims", "records", "settings"}
    assert [c["id"] for c in payload["claims"]] == [f"C{i}" for i in range(1, 12)]
    for claim in payload["claims"]:
        assert {"id", "claim", "setting", "metric", "value", "threshold", "holds"} <= set(claim)
        assert isinstance(claim["holds"], bool)
    nan_record = next(r for r in payload["records"] if r["metric"] == "epsilon")
    assert nan_record["value"] is None  # NaN is written as null
    assert payload["settings"] == {"mode": "test"}


def test_report_embeds_every_figure_that_exists(written):
    out, paths, _ = written
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(embedded) == sorted(p.name for p in paths["figures"])
    assert {p.name for p in paths["figures"]} == {
        "maps_grid.png", "recovery_vs_filters.png", "fc_vs_cnn.png", "randomization.png", "similarity_bars.png",
        "input_independence.png"}
    for name in embedded:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert text.count("*Figure ") == len(embedded)


def test_report_has_the_claim_table_with_verdicts(written):
    out, _, verdicts = written
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    assert "| id | claim | net | setting | measured (mean ± sd) | criterion | verdict |" in text
    rows = [line for line in text.splitlines() if re.match(r"\| C\d+ \|", line)]
    assert len(rows) == 11
    for row, verdict in zip(rows, verdicts):
        assert row.endswith("✅ holds |" if verdict["holds"] else "❌ does not hold |")
        assert row.count(" | ") == 6  # seven cells: no unescaped '|' inside them
    held = sum(c["holds"] for c in verdicts)
    assert f"## Claims: {held} of 11 hold" in text
    assert "Made by a test." in text


def test_experiment_tables_put_saliency_beside_deconvnet_and_gbp(written):
    out, _, _ = written
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    for experiment in ("E1", "E2", "E3", "E4", "E5", "E6", "E7"):
        assert f"### {experiment} " in text
    headers = [line for line in text.splitlines() if line.startswith("| setting | param | metric |")]
    assert len(headers) == 7
    assert all("| Saliency | DeconvNet | GBP" in h for h in headers)


def test_figures_are_skipped_without_their_records(tmp_path):
    figures = report.make_figures([record("E2", "cnn", 4, 0, "a", "guided", "r_image", 0.3)], tmp_path)
    assert [p.name for p, _ in figures] == ["recovery_vs_filters.png"]


def test_to_json_makes_numpy_plain_and_nan_null():
    value = report.to_json({"a": np.float32(0.5), "b": [np.int64(3), np.nan, np.bool_(True)],
                            "c": np.arange(2)})
    assert value == {"a": 0.5, "b": [3, None, True], "c": [0, 1]}
    json.dumps(value, allow_nan=False)


def _per_net_records():
    """`_records()` with E5–E7 once per net, and E5/E6 of three fashion_vgg widths (width study)."""
    base = _records()
    trained = [r for r in base if r["experiment"] in ("E5", "E6", "E7")]
    out = [r for r in base if r["experiment"] not in ("E5", "E6", "E7")]
    for net, shift in (("fashion_cnn", 0.0), ("fashion_vgg", 0.2)):
        out += [dict(r, net=net, value=r["value"] + shift if r["rule"] != "attack" else r["value"],
                     **({"width": 64} if net == "fashion_vgg" else {})) for r in trained]
    for width, shift in ((16, -0.1), (32, 0.1)):
        out += [dict(r, net=f"fashion_vgg_w{width}", study="width", width=width, value=r["value"] + shift)
                for r in trained if r["experiment"] in ("E5", "E6")]
    return out


def test_the_report_has_one_row_per_claim_and_net_and_says_what_they_mean(tmp_path):
    records = _per_net_records()
    verdicts = claims.evaluate(records)
    paths = report.write_all(tmp_path, verdicts, records, settings={"mode": "test"})
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| C\d+ \|", line)]
    assert [(row.split(" | ")[0][2:], row.split(" | ")[2]) for row in rows] == [
        (c["id"], c["net"] or "random nets") for c in verdicts]
    assert [c["net"] for c in verdicts if c["id"] == "C9"] == ["fashion_cnn", "fashion_vgg"]
    held = sum(c["holds"] for c in verdicts)
    assert f"## Claims: {held} of 14 rows hold" in text
    # Each net's C9 number is the mean of that net's E6 SSIM records.
    for claim in (c for c in verdicts if c["id"] == "C9"):
        values = [r["value"] for r in records if r.get("net") == claim["net"] and r["experiment"] == "E6"
                  and r["rule"] == "guided" and r["metric"] == "ssim"]
        assert claim["value"]["ssim(GBP)"] == pytest.approx(np.mean(values))
        assert f"`{claim['net']}` (does not hold): SSIM between the maps of two classes of one image is " \
               f"{np.mean(values):.2f} for GBP" in text
    assert "## What the numbers mean for choosing a method" in text
    assert text.count("- **C") == 11  # one paragraph per claim
    # The width study: one row per width, from the records of that width.
    assert "## Width study" in text
    section = text.split("## Width study")[1].split("## ")[0]
    width_rows = [line for line in section.splitlines() if re.match(r"\| (16|32|64) \| ", line)]
    assert [line.split(" | ")[0][2:] for line in width_rows] == ["16", "32", "64"]
    for line, width in zip(width_rows, (16, 32, 64)):
        values = [r["value"] for r in records if r.get("width") == width and r["experiment"] == "E6"
                  and r["rule"] == "guided" and r["metric"] == "ssim"]
        assert line.split(" | ")[2].startswith(f"{np.mean(values):.3f}")
    assert {p.name for p in paths["figures"]} >= {"width.png", "randomization.png", "similarity_bars.png"}


def test_without_three_widths_there_is_no_width_study(tmp_path):
    records = [r for r in _per_net_records() if r.get("study") is None]
    assert report.width_table(records) == ""
    assert report.plot_width(records, tmp_path / "w.png") is None


def _html_parts(page: str):
    """(image sources, table rows as lists of cell texts) of an HTML page, parsed by the standard library."""
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.images, self.rows, self.cell = [], [], None

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs)["src"])
            elif tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.rows[-1].append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Parser()
    parser.feed(page)
    return parser.images, parser.rows


def test_report_html_is_one_page_with_every_figure_embedded(written):
    """REPORT.html: each figure's PNG bytes inside the page (base64), the claim table as an HTML table."""
    import base64

    out, paths, verdicts = written
    assert paths["html"] == out / "REPORT.html"
    images, rows = _html_parts(paths["html"].read_text(encoding="utf-8"))
    assert all(src.startswith("data:image/png;base64,") for src in images)
    embedded = sorted(base64.b64decode(src.split(",", 1)[1]) for src in images)
    assert embedded == sorted(p.read_bytes() for p in paths["figures"])
    header = next(i for i, row in enumerate(rows) if row[:2] == ["id", "claim"])
    claim_rows = rows[header + 1:header + 1 + len(verdicts)]
    assert [(row[0], row[1]) for row in claim_rows] == [(c["id"], c["claim"]) for c in verdicts]
    assert [row[-1].endswith("does not hold") for row in claim_rows] == [not c["holds"] for c in verdicts]

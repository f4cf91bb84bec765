"""C11 as a curve: measured M6(GBP) of random CNNs against our derivation 0.5/(1+S), S = N/(3π²)."""

import math

import numpy as np
import pytest

from kerasviz import data
from kerasviz.analysis import claims, experiments, metrics, report, theory

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
FILTERS = (4, 16, 64, 256)


@pytest.fixture(scope="module")
def records():
    """E2 at 32×32 on four photos (six image pairs), one seed: about 15 s on 2 cores."""
    images = data.sample_images(PHOTOS, size=32)
    return experiments.e2_random_cnn(images, filters=FILTERS, seeds=(0,), num_classes=2, names=PHOTOS)


@pytest.mark.slow
def test_measured_m6_falls_with_n_and_meets_the_curve_at_256(records):
    curve = claims.input_independence_curve(records)
    assert [row["N"] for row in curve] == list(FILTERS)
    means = [row["mean"] for row in curve]
    assert all(later < earlier for earlier, later in zip(means, means[1:])), means
    at_256 = curve[-1]
    s = 256 / (3 * math.pi**2)
    assert at_256["theory"] == pytest.approx(0.5 / (1 + s))
    assert abs(at_256["mean"] - 0.5 / (1 + s)) <= claims.C11_CURVE_TOLERANCE, at_256
    assert all(row["deconvnet"] > 1 - 1e-5 for row in curve)  # DeconvNet: the same map for every image


@pytest.mark.slow
def test_the_curve_means_are_m6_of_the_maps(records):
    """One pair's record recomputed from maps with kv.analysis.metrics, and the row mean from the records."""
    import kerasviz as kv

    images = data.sample_images(PHOTOS, size=32)
    net = kv.zoo.cnn3(filters=64, input_shape=(32, 32, 3), num_classes=2, seed=0)
    maps = kv.Visualizer(net, rules=("guided",))(images, target=0, progress=False)["guided"]
    value = metrics.input_independence(maps[0], maps[2])
    stored = [r["value"] for r in records if r["param"] == 64 and r["rule"] == "guided"
              and r["metric"] == "input_independence" and r["image"] == "chelsea|coffee"]
    assert stored == [pytest.approx(value, abs=1e-6)]
    row = next(row for row in claims.input_independence_curve(records) if row["N"] == 64)
    pairs = [r["value"] for r in records if r["param"] == 64 and r["rule"] == "guided"
             and r["metric"] == "input_independence"]
    assert len(pairs) == 6 and row["mean"] == pytest.approx(np.mean(pairs))
    assert row["sd"] == pytest.approx(np.std(pairs, ddof=1))


@pytest.mark.slow
def test_the_report_shows_the_curve_beside_the_bound(records, tmp_path):
    verdicts = claims.evaluate(records)
    table = report.input_independence_table(verdicts)
    lines = table.splitlines()
    assert lines[0].startswith("| N | S = N/(3π²) | M6(GBP) measured")
    for line, row in zip(lines[2:], claims.input_independence_curve(records)):
        assert line.startswith(f"| {row['N']} | {row['S']:.3f} | {row['mean']:.3f} ± {row['sd']:.3f} (6) | "
                               f"{theory.theoretical_input_independence(row['N']):.3f} |")
    c11 = next(c for c in verdicts if c["id"] == "C11")
    assert c11["criterion"].startswith("|M6(GBP)| ≤ 0.1")  # the bound stays in the claim table
    path = report.plot_input_independence(records, tmp_path / "c11.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

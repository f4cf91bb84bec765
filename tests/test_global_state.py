"""kerasviz changes no global state: matplotlib's backend and figures, TensorFlow's logger.

A notebook user's backend and open figures must survive `kv.render.plot_maps`,
`SanityReport.plot` and the report's figures; `import kerasviz` and a
`Visualizer` call must leave `tf.get_logger()`'s filters as they were.
"""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from kerasviz import render
from kerasviz.analysis import figures, sanity
from kerasviz.analysis.records import record

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "kerasviz"


@pytest.fixture
def users_pyplot_session():
    """A pyplot session as a user would have it: a non-Agg backend and one open figure."""
    old_backend = matplotlib.get_backend()
    plt.switch_backend("svg")
    figure = plt.figure()
    try:
        yield figure
    finally:
        plt.close(figure)
        plt.switch_backend(old_backend)


def _sanity_report() -> sanity.SanityReport:
    steps = tuple(sanity.CascadeStep(layer, (), ssim, 0.5) for layer, ssim in (("none", 1.0), ("dense", 0.3)))
    result = sanity.RuleSanity("guided", 0.9, 0.8, steps, 0.6, 0.5, 0.1, "mostly image recovery")
    return sanity.SanityReport({"guided": result}, "net", 2, 1, ("dense",), 0, "keras")


def test_plotting_leaves_the_users_backend_and_figures_alone(users_pyplot_session, tmp_path):
    backend, figures_before = matplotlib.get_backend(), plt.get_fignums()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 8, 8, 3))
    fig = render.plot_maps(images, {"guided": rng.normal(size=images.shape)}, path=tmp_path / "grid.png")
    render.overlay(images[0], rng.normal(size=(8, 8, 3)))
    report_fig = _sanity_report().plot(tmp_path / "sanity.png")
    written = figures.make_figures(
        [record("E2", "cnn", n, 0, "a", "guided", "r_image", 0.5) for n in (1, 4)], tmp_path
    )
    assert matplotlib.get_backend() == backend == "svg"
    assert plt.get_fignums() == figures_before
    for figure in (fig, report_fig):  # returned, but not managed by pyplot
        assert isinstance(figure, matplotlib.figure.Figure) and figure.canvas.manager is None
    assert [p.name for p, _ in written] == ["recovery_vs_filters.png"]
    for name in ("grid.png", "sanity.png", "recovery_vs_filters.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_no_module_imports_pyplot_or_switches_the_backend():
    """Parsed, not imported: `matplotlib.pyplot`, `matplotlib.use` and logging filters are off limits."""
    offences = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            if "matplotlib.pyplot" in names:
                offences.append(f"{path.name}:{node.lineno} imports matplotlib.pyplot")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if node.func.attr == "use" and isinstance(owner, ast.Name) and owner.id == "matplotlib":
                    offences.append(f"{path.name}:{node.lineno} calls matplotlib.use")
                if node.func.attr == "addFilter":
                    offences.append(f"{path.name}:{node.lineno} adds a logging filter")
    assert offences == []


def test_import_and_visualizer_calls_leave_tensorflows_logger_alone():
    """In a fresh interpreter: the same filters before and after; and no false retracing warning."""
    code = textwrap.dedent(
        """
        import logging
        import tensorflow as tf
        logger = tf.get_logger()
        before = list(logger.filters)
        messages = []

        class Keep(logging.Handler):
            def emit(self, record):
                messages.append(record.getMessage())

        logger.addHandler(Keep())
        import keras
        import numpy as np
        import kerasviz as kv
        after_import = list(logger.filters)
        images = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
        for seed in range(6):  # six visualizers: six functions of one code object
            model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                                      keras.layers.Flatten(), keras.layers.Dense(3, name=f"out{seed}")])
            kv.Visualizer(model)(images, progress=False)
        print(before == after_import == list(logger.filters), sum("retracing" in m for m in messages))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "0"]

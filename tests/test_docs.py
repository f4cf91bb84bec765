"""The documentation builds with `mkdocs build --strict`, and every image it links exists.

The build runs in a subprocess from the repository root, exactly as
`mkdocs build --strict` would. Strict mode turns every warning into a failure:
a broken link or anchor between pages, a page missing from the nav, and a
griffe warning about a docstring (e.g. an `Args:` entry naming a parameter
the function does not have).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MAX_FIGURE_BYTES = 400 * 1024
FIGURE_PAGES = ("index.md", "callback.md", "analysis.md")

# ![alt](target) or ![alt](target "title"), then an optional { attr list }.
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _markdown_files() -> list[Path]:
    return sorted(DOCS.glob("*.md")) + [ROOT / "README.md", ROOT / "examples" / "README.md"]


def _linked_images(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks link nothing
    return _IMAGE.findall(text)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return site_dir


def test_mkdocs_build_is_strict_clean_and_renders_every_page(site):
    for page in ("index.html", "theory/index.html", "paper/index.html", "rules_and_targets/index.html",
                 "methods/index.html", "callback/index.html", "analysis/index.html", "api/index.html"):
        assert (site / page).is_file(), f"{page} was not built"


def test_api_reference_is_generated_from_the_docstrings(site):
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    # Headings of documented objects, and text that only the docstrings hold.
    for anchor in ("kerasviz.visualizer.Visualizer", "kerasviz.rewrite.rewrite", "kerasviz.rules.register",
                   "kerasviz.targets.Neuron", "kerasviz.render.plot_maps",
                   "kerasviz.callbacks.VisualizationCallback", "kerasviz.zoo.vgg16", "kerasviz.data.fashion_mnist",
                   "kerasviz.analysis.metrics.map_similarity", "kerasviz.analysis.sanity.sanity_check",
                   "kerasviz.analysis.experiments.e2_random_cnn", "kerasviz.analysis.reproduce.reproduce"):
        assert f'id="{anchor}"' in api, f"{anchor} is missing from the API page"
    assert "Backpropagation maps of a Keras model under several backward rules." in api
    assert "Adebayo" in api


def test_pages_embed_their_figures(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'src="figures/explain_vgg16.png"' in index
    assert (site / "figures" / "explain_vgg16.png").is_file()


@pytest.mark.parametrize("markdown", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_linked_image_exists(markdown):
    images = _linked_images(markdown)
    if markdown.name in FIGURE_PAGES:
        assert images, f"{markdown.name} shows no figure"
    for target in images:
        assert not re.match(r"[a-z]+://", target), f"{markdown.name} links a remote image {target}"
        path = (markdown.parent / target).resolve()
        assert path.is_file(), f"{markdown.name} links {target}, which does not exist"


def test_docs_figures_are_small_pngs():
    figures = sorted((DOCS / "figures").glob("*.png"))
    linked = {(DOCS / t).resolve() for p in DOCS.glob("*.md") for t in _linked_images(p)}
    for figure in figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{figure.name} is not a PNG"
        if figure.resolve() in linked:  # README's figure is not a docs page's
            assert figure.stat().st_size < MAX_FIGURE_BYTES, f"{figure.name} is {figure.stat().st_size} bytes"

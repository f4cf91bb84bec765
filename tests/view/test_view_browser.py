"""The viewer in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Playwright never downloads a browser here: it launches the system's
Chromium. Without Playwright or Chromium these tests are skipped, saying
which is missing (README's test command installs both).

What the page shows is compared with the store read by `kv.open_maps`:
orders and filters are recomputed here with pandas.
"""

import os
import shutil
import threading

import numpy as np
import pytest
from conftest import RULES, SIZE, make_store, synthetic_rows

import kerasviz as kv
from kerasviz.view import server

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed (pip install playwright, or pip install '.[test]')",
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    opened = context.new_page()
    errors = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []  # no script error on any page


@pytest.fixture(scope="module")
def site(photo_store, tmp_path_factory):
    """The static folder of the photo store, as a file:// URL."""
    store, _, _ = photo_store
    index = kv.view.write_html(store, tmp_path_factory.mktemp("site") / "out", progress=False)
    return "file://" + index


def _open(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")


def _entries(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all("[data-input-id]", "es => es.map(e => [e.dataset.inputId, e.dataset.score])")


def test_sort_by_score_descending_from_the_url(page, site, photo_store):
    table = kv.open_maps(photo_store[0]).table
    _open(page, site + "?sort=-score")
    shown = _entries(page)
    expected = table.sort_values("score", ascending=False, kind="stable", na_position="last")
    assert [i for i, _ in shown] == list(expected["id"])
    scores = [float(s) for _, s in shown if s]
    assert scores == sorted(scores, reverse=True) and len(scores) == 12
    assert shown[-1][1] == ""  # the failed input has no score: last
    assert page.eval_on_selector("#sort", "e => e.value") == "-score"
    # the page measures its own load time (what benchmarks/bench_view.py reports): navigation to entries built
    ready, now = page.evaluate("[window.KV_READY_MS, performance.now()]")
    assert 0 < ready <= now


def test_status_and_class_filters_from_the_url(page, site, photo_store):
    table = kv.open_maps(photo_store[0]).table
    _open(page, site + "?status=error")
    errors = table[table["status"].str.startswith("error")]
    assert [i for i, _ in _entries(page)] == list(errors["id"])
    assert page.inner_text(".entry .reason") == errors["status"].iloc[0]
    assert page.query_selector_all("img[data-rule]") == []  # a failed input has no maps

    predicted = int(table.loc[table["status"] == "ok", "predicted"].mode()[0])
    _open(page, site + f"?predicted={predicted}&sort=score")
    chosen = table[table["predicted"] == predicted].sort_values("score", kind="stable")
    assert [i for i, _ in _entries(page)] == list(chosen["id"])
    assert page.inner_text("#count").startswith(f"{len(chosen)} of 13")


def test_controls_write_the_view_into_the_url(page, site, photo_store):
    table = kv.open_maps(photo_store[0]).table
    _open(page, site)
    assert [i for i, _ in _entries(page)] == list(table["id"])  # store order
    page.select_option("#sort", "score")
    page.select_option("#status", "ok")
    page.fill("#filter-score", "0..")
    page.press("#filter-score", "Enter")
    assert page.url.endswith("?sort=score&status=ok&score=0..")
    kept = table[(table["status"] == "ok") & (table["score"] >= 0)].sort_values("score", kind="stable")
    assert [i for i, _ in _entries(page)] == list(kept["id"])
    url = page.url
    _open(page, url)  # the shared link shows the same
    assert [i for i, _ in _entries(page)] == list(kept["id"])


def test_click_opens_full_size_maps_and_the_slider_sets_their_opacity(page, site, photo_store, tmp_path):
    _open(page, site + "?sort=-score")
    first = page.query_selector("[data-input-id]")
    thumbs = first.query_selector_all("img[data-rule]")
    assert [t.get_attribute("data-rule") for t in thumbs] == list(RULES)
    page.wait_for_function("() => [...document.querySelectorAll('.entry img')].slice(0, 6).every(i => i.complete)")
    assert [t.evaluate("e => e.naturalWidth") for t in thumbs] == [64, 64]
    first.click()
    assert page.is_visible("#modal")
    overlays = page.query_selector_all("#panel-maps img.overlay")
    assert [o.get_attribute("data-rule") for o in overlays] == list(RULES)
    page.wait_for_function("() => [...document.querySelectorAll('#panel-maps img')].every(i => i.complete)")
    assert [o.evaluate("e => e.naturalWidth") for o in overlays] == [SIZE, SIZE]  # full size, not the thumbnail
    assert "open=" in page.url
    for value in ("0.25", "0.9"):
        page.fill("#opacity", value)
        assert [o.evaluate("e => getComputedStyle(e).opacity") for o in overlays] == [value, value]
    path = tmp_path / "viewer.png"
    page.screenshot(path=str(path))
    from PIL import Image

    assert Image.open(path).size == (1100, 800)
    page.keyboard.press("Escape")
    assert not page.is_visible("#modal") and "open=" not in page.url


def test_served_page_makes_full_size_pictures_on_demand(page, photo_store):
    store, _, _ = photo_store
    view_server = server.make_server(store, port=0, progress=False)
    threading.Thread(target=view_server.serve_forever, daemon=True).start()
    try:
        full = os.path.join(view_server.pictures.folder, "full")
        shutil.rmtree(full, ignore_errors=True)
        _open(page, view_server.url + "?sort=score&open=3")
        overlays = page.query_selector_all("#panel-maps img.overlay")
        page.wait_for_function("() => [...document.querySelectorAll('#panel-maps img')].every(i => i.complete)")
        assert [o.evaluate("e => e.naturalWidth") for o in overlays] == [SIZE, SIZE]
        assert sorted(os.listdir(full)) == sorted(["_input", *RULES])
    finally:
        view_server.shutdown()
        view_server.server_close()


def test_a_long_store_is_built_a_page_at_a_time_as_it_scrolls(page, tmp_path):
    count = 400
    maps = {"saliency": np.random.default_rng(0).normal(size=(count, 4, 4, 1)).astype(np.float32)}
    store = make_store(tmp_path / "long.zarr", maps, synthetic_rows(count), chunk_size=100)
    index = kv.view.write_html(store, tmp_path / "out", progress=False)
    _open(page, "file://" + index + "?status=ok")
    ok = count - len(range(0, count, 7))
    assert page.inner_text("#count").startswith(f"{ok} of 400")
    first = len(page.query_selector_all("[data-input-id]"))
    assert first < ok
    for _ in range(40):
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(50)
        if len(page.query_selector_all("[data-input-id]")) == ok:
            break
    assert len(page.query_selector_all("[data-input-id]")) == ok

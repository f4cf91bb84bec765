"""`kerasviz view` on a big store: the page opens in under 2 s with 50,000 inputs.

Writes a synthetic map store with the datasets' own `StoreWriter` (`--rows`
inputs, two rules, tiny 8×8 maps, every 7th input failed, chunks of 1000),
its thumbnails and its static page, then opens the page in headless
Chromium (Debian's `chromium`, driven by Playwright; nothing is downloaded)
and prints, side by side in one run:

1. thumbnails: seconds to write them all, and a second call ÷ the first
   (resuming finds every chunk done: goal well under 0.05);
2. the page's own load time: from navigation start to the first entries
   built (`window.KV_READY_MS`, the table parsed, filtered, sorted), and to
   their pictures loaded, for the store order, `?sort=-score` and
   `?status=error&sort=-score`; median of `--repeats` fresh pages. Goal:
   under 2000 ms with 50,000 rows;
3. the same at a tenth of the rows, and the ratio (the page's cost per row).

Not part of the test suite (timings are not asserted there).

    python benchmarks/bench_view.py [--rows 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

RULES = ("saliency", "guided")
CHUNK = 1000
QUERIES = ("", "?sort=-score", "?status=error&sort=-score")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


def write_store(path: Path, rows: int) -> str:
    """A store of `rows` inputs written chunk by chunk, as a dataset job writes it."""
    from kerasviz.datasets.store import StoreWriter

    rng = np.random.default_rng(0)
    writer = StoreWriter(str(path), settings={"benchmark": "bench_view", "method": "gradient"}, rules=RULES,
                         num_inputs=rows, chunk_size=CHUNK, map_shape=(8, 8, 1), dtype="float16", restart=True)
    for k, start in enumerate(range(0, rows, CHUNK)):
        stop = min(start + CHUNK, rows)
        count = stop - start
        failed = (np.arange(start, stop) % 7) == 0
        score = rng.normal(size=count).astype(np.float32)
        score[failed] = np.nan
        maps = {r: rng.normal(size=(count, 8, 8, 1)).astype(np.float16) for r in RULES}
        for m in maps.values():
            m[failed] = np.nan
        writer.write_chunk(k, start, maps, {
            "id": [f"images/{i:06d}.png" for i in range(start, stop)],
            "status": ["error: OSError: unreadable" if f else "ok" for f in failed],
            "label": rng.integers(0, 10, count), "predicted": rng.integers(0, 10, count),
            "target": rng.integers(0, 10, count), "score": score,
        })
    return str(path)


def open_times(browser, index: str, repeats: int) -> dict[str, tuple[float, float]]:
    """{query: (median ms to the first entries, median ms to their pictures)} over fresh pages."""
    out = {}
    for query in QUERIES:
        ready, pictures = [], []
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto("file://" + index + query)
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.entry img')].filter(i => i.getBoundingClientRect().top"
                " < innerHeight).every(i => i.complete)")
            ready.append(page.evaluate("window.KV_READY_MS"))
            pictures.append(page.evaluate("performance.now()"))
            context.close()
        out[query] = (statistics.median(ready), statistics.median(pictures))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", default=None, help="a folder to keep the stores in (default: a temporary one)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from kerasviz.view import write_html, write_thumbnails

    root = Path(args.keep or tempfile.mkdtemp(prefix="bench_view_"))
    results = {}
    try:
        for rows in (args.rows // 10, args.rows):
            store = write_store(root / f"maps{rows}.zarr", rows)
            t0 = time.perf_counter()
            write_thumbnails(store, progress=False)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_thumbnails(store, progress=False)
            again = time.perf_counter() - t0
            index = write_html(store, root / f"site{rows}", progress=False)
            size = os.path.getsize(os.path.join(os.path.dirname(index), "table.js"))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
                times = open_times(browser, index, args.repeats)
                browser.close()
            results[rows] = (first, again, size, times)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    for rows, (first, again, size, times) in results.items():
        print(f"\n{rows} inputs, {len(RULES)} rules: thumbnails {first:.1f} s, again {again:.3f} s "
              f"(ratio {again / first:.4f}); table.js {size / 1e6:.2f} MB")
        for query, (ready, pictures) in times.items():
            print(f"  index.html{query or '':<28} entries built {ready:7.0f} ms  pictures {pictures:7.0f} ms  "
                  f"(goal < 2000 ms: {'met' if pictures < 2000 else 'NOT met'})")
    small, big = sorted(results)
    for query in QUERIES:
        ratio = results[big][3][query][0] / results[small][3][query][0]
        print(f"entries built, {big} ÷ {small} rows, index.html{query}: {ratio:.2f}")


if __name__ == "__main__":
    main()

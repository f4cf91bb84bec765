"""Look through the maps of a dataset in a browser: `kerasviz view` on Fashion-MNIST.

What it shows: the shipped trained Fashion-MNIST CNN
(`kv.zoo.fashion_cnn(weights="trained")`) explained on test images written
as PNG files (plus one unreadable file, which becomes an `error:` row), in a
map store (`kv.explain_dataset`), then that store as the viewer's static
folder (`kv.view.write_html`): one entry per image with the image and its
saliency, DeconvNet and GBP maps, sorted here by score, lowest first, so
the least confident inputs come first. Open `site/index.html` in a browser,
or serve the store with `kerasviz view <out>/maps.zarr`.

Run it:

```bash
python examples/view_fashion.py                       # 300 test images
python examples/view_fashion.py --smoke               # 24 images: seconds
python examples/view_fashion.py --screenshot docs/figures/view.png   # also screenshots (Playwright + Chromium)
```

It writes `photos/`, `maps.zarr`, `site/` and `view.json` (the counts, and
the ids of the five lowest scores) to `--out` (default
`examples-out/view_fashion`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np

RULES = ("saliency", "deconvnet", "guided")


def scale_pixels(images):
    """The trained net's input scale: the files' [0, 255] pixels to [0, 1]."""
    return images / 255.0


def write_photos(folder: str, count: int) -> None:
    """The first `count` Fashion-MNIST test images as 8-bit PNG files, and one unreadable file."""
    from PIL import Image

    import kerasviz as kv

    (_, _), (x_test, _) = kv.data.fashion_mnist()
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(x_test[:count]):
        Image.fromarray(np.round(image[..., 0] * 255).astype(np.uint8)).save(os.path.join(folder, f"test{i:05d}.png"))
    with open(os.path.join(folder, "test_broken.png"), "wb") as file:
        file.write(b"not a PNG")


def opened_path(path: str) -> str:
    """Where the screenshot of an opened entry goes: `view.png` -> `view_open.png`."""
    stem, extension = os.path.splitext(path)
    return f"{stem}_open{extension}"


def screenshot(index: str, path: str, query: str) -> None:
    """Screenshots of the page with the system's Chromium: the list (`path`), one entry opened (`opened_path`)."""
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        page = browser.new_page(viewport={"width": 1000, "height": 620})
        page.goto("file://" + os.path.abspath(index) + query)
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => [...document.querySelectorAll('.entry img')].slice(0, 24).every(i => i.complete)")
        page.screenshot(path=path)
        page.click("[data-input-id]:nth-child(2)")
        page.fill("#opacity", "0.5")
        page.wait_for_function("() => [...document.querySelectorAll('#panel-maps img')].every(i => i.complete)")
        page.screenshot(path=opened_path(path))
        browser.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300, help="test images to explain. Default: 300")
    parser.add_argument("--smoke", action="store_true", help="24 images: seconds")
    parser.add_argument("--out", default=os.path.join("examples-out", "view_fashion"))
    parser.add_argument("--screenshot", default=None, help="also write a PNG screenshot of the page there")
    args = parser.parse_args(argv)
    count = 24 if args.smoke else args.images

    import kerasviz as kv

    photos = os.path.join(args.out, "photos")
    write_photos(photos, count)
    model = kv.zoo.fashion_cnn(weights="trained")
    store = kv.explain_dataset(model, photos, os.path.join(args.out, "maps.zarr"), rules=RULES, batch_size=64,
                               preprocess=scale_pixels, on_error="skip", restart=True)
    index = kv.view.write_html(store.path, os.path.join(args.out, "site"))
    table = store.table
    lowest = table[table["status"] == "ok"].sort_values("score")["id"].head(5).tolist()
    summary = {"inputs": len(store), "errors": int((table["status"] != "ok").sum()), "index": index,
               "lowest_scores": lowest}
    with open(os.path.join(args.out, "view.json"), "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2)
    print(f"{summary['inputs']} inputs ({summary['errors']} unreadable); open {index}?sort=score")
    print("lowest scores:", ", ".join(os.path.basename(p) for p in lowest))
    if args.screenshot:
        screenshot(index, args.screenshot, "?sort=score")
        print(f"wrote {args.screenshot} and {opened_path(args.screenshot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

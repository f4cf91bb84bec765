"""A Markdown report as one self-contained HTML page: figures embedded as base64 PNG.

`kerasviz reproduce` writes REPORT.html beside REPORT.md and
`SanityReport.to_html` writes the sanity check's tables with its figure:
one file that opens in any browser and can be mailed or attached as it is.
Markdown is turned into HTML by Python-Markdown (with its `tables`
extension); every `<img>` whose source is a local file is replaced by the
file's bytes as a `data:` URI.

Example:

```python
html = markdown_page("# Title\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |", title="Title")
```
"""

from __future__ import annotations

import base64
import html as html_lib
import os
import re
from pathlib import Path

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
img { max-width: 100%; }
code { background: #f4f4f4; padding: 0 3px; }
"""
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
          ".gif": "image/gif", ".webp": "image/webp"}


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """`data:<mime>;base64,...` of `data`."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def embed_images(body: str, base_dir: str | os.PathLike) -> str:
    """`body` with each `<img src>` naming a file under `base_dir` (relative) replaced by its data URI.

    Sources that are URLs, data URIs or missing files are left as they are.
    """
    base = Path(base_dir)

    def replace(match: re.Match) -> str:
        src = html_lib.unescape(match.group(2))
        path = base / src
        mime = _TYPES.get(path.suffix.lower())
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src) or mime is None or not path.is_file():
            return match.group(0)
        return match.group(1) + data_uri(path.read_bytes(), mime) + match.group(3)

    return _IMG_SRC.sub(replace, body)


def markdown_page(text: str, *, title: str, base_dir: str | os.PathLike | None = None) -> str:
    """One HTML page of the Markdown `text`, its local images embedded.

    Args:
        text: the Markdown (tables, images, emphasis, code).
        title: the page's title.
        base_dir: the folder relative image paths start from; `None` leaves
            them as links. Defaults to `None`.

    Returns:
        The HTML text.
    """
    import markdown

    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    if base_dir is not None:
        body = embed_images(body, base_dir)
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html_lib.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def write_markdown_page(path: str | os.PathLike, text: str, *, title: str,
                        base_dir: str | os.PathLike | None = None) -> Path:
    """Write `markdown_page(text, ...)` to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_page(text, title=title, base_dir=base_dir), encoding="utf-8")
    return path

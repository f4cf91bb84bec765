"""Look at a map store in a browser: `kerasviz view maps.zarr` (served) or `--html out/` (a static folder).

One entry per input: its thumbnail beside each rule's map, its id, status
(with the reason of a failure), label, predicted class, target, score and
every extra numeric column; a click opens the full-size maps over the image
with an opacity slider. Sorting and filtering live in the page's URL
(`index.html?sort=-score`, `?status=error`, `?predicted=3`,
`?score=0.5..`), so a view can be shared. The viewer reads the store with
Zarr alone: it needs no TensorFlow.

| module | one job |
|---|---|
| `store` | the store's table and maps, read with Zarr (`StoreView`) |
| `images` | maps and inputs as 8-bit pictures and PNG files |
| `thumbnails` | the pictures, written once into the store, chunk by chunk, resumable |
| `page` | the page's table script, and the static folder (`write_html`) |
| `server` | the page served on 127.0.0.1 (`serve`, `make_server`) |

Example:

```python
kv.view.write_html("maps.zarr", "maps-view")     # open maps-view/index.html
kv.view.serve("maps.zarr")                       # http://127.0.0.1:8765/
```
"""

from kerasviz.view.page import write_html
from kerasviz.view.server import make_server, serve
from kerasviz.view.store import StoreView
from kerasviz.view.thumbnails import write_thumbnails

__all__ = ["StoreView", "make_server", "serve", "write_html", "write_thumbnails"]

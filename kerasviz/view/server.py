"""`kerasviz view maps.zarr`: the viewer served from the standard library's `http.server`, on 127.0.0.1 only.

It sends the page's fixed files, its table (made once at start) and the
pictures from the store's `thumbnails` folder. A picture that is not there
yet (a full-size one, or a chunk the job wrote after the server started)
is made from the store when first asked for and kept for the next time.
Nothing outside those three kinds of paths is served.
"""

from __future__ import annotations

import os
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from kerasviz.errors import InvalidArgumentError
from kerasviz.view import images as images_lib
from kerasviz.view.page import STATIC_FILES, static_file, table_script
from kerasviz.view.store import StoreView
from kerasviz.view.thumbnails import INPUT_KIND, Pictures, picture_path, render_picture, write_thumbnails

#: Where the server listens; only this machine can reach it.
HOST = "127.0.0.1"
#: The port tried first when none is given (then any free one).
DEFAULT_PORT = 8765
_PICTURE = re.compile(r"^/(thumb|full)/([A-Za-z0-9_.+-]+)/\d+/(\d+)\.png$")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png"}


class ViewServer(ThreadingHTTPServer):
    """The viewer's HTTP server for one store; `url` is its address.

    Attributes:
        view: the store.
        pictures: where its pictures are.
        url: `http://127.0.0.1:<port>/`.
    """

    daemon_threads = True

    def __init__(self, view: StoreView, pictures: Pictures, port: int, images: np.ndarray | None = None):
        super().__init__((HOST, port), _Handler)
        self.view = view
        self.pictures = pictures
        self.images = images
        self.table = table_script(view, pictures).encode("utf-8")
        self.url = f"http://{HOST}:{self.server_address[1]}/"
        self.lock = threading.Lock()  # one picture made at a time: Zarr reads and PNG writes stay simple


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer

    def log_message(self, format, *args):  # noqa: A002 - the signature of http.server
        pass  # a line per thumbnail would bury the URL the command printed

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/":
            path = "/index.html"
        name = path.lstrip("/")
        if name in STATIC_FILES:
            return self._send(static_file(name), name)
        if name == "table.js":
            return self._send(self.server.table, name)
        match = _PICTURE.match(path)
        if match is None:
            return self.send_error(HTTPStatus.NOT_FOUND)
        body = self._picture(match.group(1), match.group(2), int(match.group(3)))
        if body is None:
            return self.send_error(HTTPStatus.NOT_FOUND)
        return self._send(body, path)

    def _picture(self, level: str, kind: str, index: int) -> bytes | None:
        server = self.server
        if index >= len(server.view) or kind not in (INPUT_KIND, *server.view.rules):
            return None
        path = picture_path(server.pictures.folder, level, kind, index)
        if not os.path.isfile(path):
            if not server.view.rows_done()[index]:
                return None
            with server.lock:
                pixels = render_picture(server.view, level, kind, index, server.pictures.size, server.images)
                if pixels is None:
                    return None
                try:
                    images_lib.write_png(path, pixels)
                except OSError:  # a read-only store: send it without keeping it
                    return images_lib.png_bytes(pixels)
        with open(path, "rb") as file:
            return file.read()

    def _send(self, body: bytes, name: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _TYPES.get(os.path.splitext(name)[1], "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache" if name.endswith((".js", ".html")) else "max-age=3600")
        self.end_headers()
        self.wfile.write(body)


def make_server(
    store: str | os.PathLike,
    *,
    port: int | None = None,
    images: np.ndarray | None = None,
    progress: bool = True,
) -> ViewServer:
    """Write the store's thumbnails (once) and make its viewer's server, bound to 127.0.0.1.

    Call `serve_forever()` on it (or use `serve`); `url` says where it is.

    Args:
        store: the map store's path.
        port: the port; `0` takes any free one, `None` tries 8765 and then
            any free one. Defaults to `None`.
        images: the inputs `(N, H, W, C)` in store order, for stores made
            from arrays. Defaults to `None`.
        progress: show the thumbnails' progress bar. Defaults to `True`.

    Returns:
        A `ViewServer`.

    Raises:
        StoreError: if `store` is not a map store.
        InvalidArgumentError: if `port` is taken or not a port number.

    Example:

    ```python
    server = kv.view.make_server("maps.zarr", port=0)
    print(server.url)
    server.server_close()
    ```
    """
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise InvalidArgumentError(f"port is a port number, 0 to 65535 (0: any free one). Received: port={port!r}")
    view = StoreView(store)
    pictures = write_thumbnails(view, images=images, progress=progress)
    try:
        return ViewServer(view, pictures, DEFAULT_PORT if port is None else port, images)
    except OSError as err:
        if port is None:
            return ViewServer(view, pictures, 0, images)
        raise InvalidArgumentError(
            f"Cannot listen on {HOST}:{port} ({err.strerror or err}); pass another port, or 0 for any free "
            f"one. Received: port={port}"
        ) from err


def serve(store: str | os.PathLike, *, port: int | None = None, images: np.ndarray | None = None,
          progress: bool = True, open_browser: bool = False) -> None:
    """Serve the viewer of a map store on 127.0.0.1 until interrupted (Ctrl-C); prints its URL.

    Args:
        store: the map store's path.
        port: see `make_server`. Defaults to `None`.
        images: see `make_server`. Defaults to `None`.
        progress: show the thumbnails' progress bar. Defaults to `True`.
        open_browser: also open the page in the default browser. Defaults to `False`.

    Raises:
        StoreError: if `store` is not a map store.
    """
    server = make_server(store, port=port, images=images, progress=progress)
    print(f"kerasviz view: {server.view.path} at {server.url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

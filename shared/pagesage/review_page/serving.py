"""Answer a request for the review page (the `web` function's body).

Paths are those the function sees (the local stack mounts it at `/review`):

| path | answer |
|---|---|
| `/` | `static/index.html` (`Cache-Control: no-cache`, a Content-Security-Policy allowing only this origin) |
| `/<file>` | a file of `static/` (`no-cache`: revalidated by its ETag, so an edit shows at once) |
| `/vendor/<library>/<path>` | a file `vendor.json` allows of that npm package (`public, max-age=3600`) |

A path that names nothing of that (a folder, an unknown library, a file the allow-list does not
name, a kind of file not in `CONTENT_TYPES`, `..` anywhere) is a JSON 404: files are resolved with
werkzeug's `safe_join`, which refuses any path leaving its folder. `/review` without its slash
is redirected to `/review/`, so that the page's relative addresses resolve under it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import flask
from werkzeug.security import safe_join

from pagesage.errors import NotFound
from pagesage.review_page import content_type, static_dir, vendor_dir, vendor_libraries

INDEX_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
                "form-action 'self'")
"""The page's Content-Security-Policy: scripts, styles, images and API calls from its own origin
only, no inline script. `'unsafe-eval'`: the annotator draws with PixiJS (bundled inside
Annotorious), which compiles its WebGL shader code with `new Function` and refuses to start
without it; inline styles: OpenSeadragon positions its overlays with them; `data:`/`blob:` images
and workers: the viewer's and the annotator's canvases."""

OWN_CACHE = "no-cache"
VENDOR_CACHE = "public, max-age=3600"


def respond(request: flask.Request) -> flask.Response:
    """The answer to a GET or HEAD of the review page's `request.path` (module docstring).

    Raises:
        NotFound: nothing is served at that path (the caller answers 404 JSON).
    """
    path = request.path or "/"
    if path == "/":
        if not _asked_with_slash(request):
            return flask.redirect(_with_slash(request), code=308)
        return _file(static_dir() / "index.html", "index.html", OWN_CACHE, policy=INDEX_POLICY)
    relative = path.lstrip("/")
    if relative.startswith("vendor/"):
        return _vendor(relative.removeprefix("vendor/"))
    return _own(relative)


def _asked_with_slash(request: flask.Request) -> bool:
    """False when the request named the page's folder without its slash (`/review`): the
    server's request line (waitress `REQUEST_URI`, gunicorn `RAW_URI`) tells, as the mount
    turns both into `/`."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if not raw:
        return True
    return urlsplit(raw).path.endswith("/")


def _with_slash(request: flask.Request) -> str:
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or "/"
    parts = urlsplit(raw)
    return parts.path + "/" + (f"?{parts.query}" if parts.query else "")


def _own(relative: str) -> flask.Response:
    if relative == "index.html" or content_type(relative) is None:
        raise NotFound(f"no file /{relative} in the review page")
    found = safe_join(str(static_dir()), relative)
    if found is None or not Path(found).is_file():
        raise NotFound(f"no file /{relative} in the review page")
    return _file(Path(found), relative, OWN_CACHE)


def _vendor(relative: str) -> flask.Response:
    name, _, rest = relative.partition("/")
    library = vendor_libraries().get(name)
    if library is None or not rest or ".." in rest.split("/") or not library.allows(rest):
        raise NotFound(f"no vendor file /vendor/{relative}")
    package = safe_join(str(vendor_dir()), *library.package.split("/"))
    found = safe_join(package, rest) if package else None
    if found is None or not Path(found).is_file():
        raise NotFound(f"no vendor file /vendor/{relative} (are the npm packages installed? `make install`)")
    return _file(Path(found), rest, VENDOR_CACHE)


def _file(path: Path, name: str, cache: str, *, policy: str | None = None) -> flask.Response:
    response = flask.send_file(path, mimetype=content_type(name), conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    if policy:
        response.headers["Content-Security-Policy"] = policy
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


__all__ = ["INDEX_POLICY", "respond"]

"""The local stack: every HTTP function of `functions/` mounted in one WSGI app.

`POST /upload`, `GET /status/<job_id>`, `GET /result/<job_id>`, `POST /ocr`, `GET /costs` — the
paths the functions have in production, so a client needs only a base URL — and `GET
/api/v1/costs`, the cost API's path in the issue. Each function is loaded once, with
functions-framework's own `create_app`, exactly as its Cloud Function runtime loads it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import flask
import functions_framework
import waitress
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pagesage import bootstrap
from pagesage.api import openapi, routes
from pagesage.services.expiry import purge_expired
from pagesage.web import error_response

log = logging.getLogger(__name__)

HTTP_FUNCTIONS = ("upload", "status", "result", "ocr", "costs", "provenance", "ingest", "review")
"""Function names; each lives in `functions/<name>/main.py` with a target of the same name."""

MOUNTS: dict[str, str] = {
    **{f"/{name}": name for name in HTTP_FUNCTIONS},
    "/api/v1/costs": "costs",
}
"""Path -> function: every function at `/<name>`, and the costs API also at `/api/v1/costs`.
The provenance API's root (`routes.API_ROOT`) goes to whichever of its functions owns the route."""


def functions_dir() -> Path:
    """The repository's `functions/` folder (the package is installed editable from the repo)."""
    return Path(__file__).resolve().parents[2] / "functions"


def create_stack() -> DispatcherMiddleware:
    """A WSGI app serving each function under its paths in `MOUNTS`; other paths answer 404 JSON."""
    root = functions_dir()
    apps = {name: _rooted(functions_framework.create_app(name, str(root / name / "main.py"), "http")) for name in HTTP_FUNCTIONS}
    mounts = {path: apps[name] for path, name in MOUNTS.items()}
    mounts[routes.API_ROOT] = _api_router(apps)
    fallback = flask.Flask(__name__)

    @fallback.get("/openapi.json")
    def openapi_document() -> flask.Response:
        return flask.Response(json.dumps(openapi.document(), indent=1), mimetype="application/json")

    @fallback.route("/", defaults={"path": ""})
    @fallback.route("/<path:path>")
    def not_found(path: str) -> flask.Response:
        return error_response(f"no function at /{path}", "not_found", 404)

    return DispatcherMiddleware(fallback, mounts)


def _api_router(apps):
    """The provenance API root: each path goes to the function that serves it (the reads'
    function answers paths no route knows, with the API's own 404/405)."""

    def wsgi(environ, start_response):
        name = routes.function_for(environ.get("PATH_INFO") or "/", environ["REQUEST_METHOD"]) or "provenance"
        return apps[name](environ, start_response)

    return wsgi


def _rooted(app):
    """`/upload` reaches the function as `/`, as the Cloud Functions runtime delivers it."""

    def wsgi(environ, start_response):
        environ["PATH_INFO"] = environ.get("PATH_INFO") or "/"
        return app(environ, start_response)

    return wsgi


def start_expiry_thread(interval: float = 3600.0) -> threading.Thread:
    """Purge expired jobs now and every `interval` seconds, in a daemon thread."""

    def loop() -> None:
        while True:
            services = bootstrap.services()
            try:
                gone = purge_expired(store=services.store, blobs=services.blobs, now=services.clock())
                if gone:
                    log.info("purged %d expired jobs", len(gone))
            except Exception:  # noqa: BLE001 - the purge retries at the next interval
                log.exception("purging expired jobs failed")
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="pagesage-expiry", daemon=True)
    thread.start()
    return thread


def create_server(host: str, port: int, *, threads: int = 8):
    """A waitress server for the stack, bound but not yet serving (`.run()`, `.close()`).

    Port 0 binds a free port; the bound one is `server.effective_port`.
    """
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return waitress.create_server(create_stack(), host=host, port=port, threads=threads, ident="pagesage")

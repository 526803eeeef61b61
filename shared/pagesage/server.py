"""The local stack: every HTTP function of `functions/` mounted in one WSGI app, served by
waitress.

`POST /upload`, `GET /status/<job_id>`, `GET /result/<job_id>`, `POST /ocr`, `POST /sweep`,
`GET /costs` — the paths the functions have in production, so a client needs only a base URL —
`GET /api/v1/costs`, the provenance API under `/api/v1/ocr`, the book layer's under `/api/v1`
(`/projects`, `/pages`, `/boxes`) and the review page under `/review/`. Each function is loaded once,
with functions-framework's own `create_app`, exactly as its Cloud Function runtime loads it.
Every answer is JSON, waitress's own refusals included (`_JsonErrorTask`); `serving` runs and
stops the server from one thread; `start_maintenance` recovers, sweeps and purges.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import flask
import functions_framework
import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, WSGITask
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pagesage import bootstrap
from pagesage.api import openapi, routes
from pagesage.book.api import routes as book_routes
from pagesage.config import Settings
from pagesage.services.expiry import purge_expired
from pagesage.services.sweeper import recover, sweep
from pagesage.web import MULTIPART_SLACK, error_body, error_response, http_error_response

log = logging.getLogger(__name__)

HTTP_FUNCTIONS = ("upload", "status", "result", "ocr", "costs", "provenance", "ingest", "review", "sweep", "projects",
                  "annotations", "validate", "web")
"""Function names; each lives in `functions/<name>/main.py` with a target of the same name."""

MOUNTS: dict[str, str] = {
    **{f"/{name}": name for name in HTTP_FUNCTIONS if name != "review"},
    "/api/v1/costs": "costs",
    "/review": "web",
}
"""Path -> function: every function at `/<name>`, the costs API also at `/api/v1/costs`, the
review page (`web`) also at `/review`, where the provenance `review` function is not mounted:
its routes are all under `/api/v1/ocr`.
The provenance API's root (`/api/v1/ocr`) and the book layer's (`/api/v1`: projects, pages, boxes)
go to whichever of their functions owns the route (`API_TABLES`)."""

API_TABLES = (routes.TABLE, book_routes.TABLE)
"""The route tables of the APIs served by several functions, mounted at their roots."""


def functions_dir() -> Path:
    """The repository's `functions/` folder (the package is installed editable from the repo)."""
    return Path(__file__).resolve().parents[2] / "functions"


def create_stack():
    """A WSGI app serving each function under its paths in `MOUNTS`; other paths answer 404 JSON."""
    root = functions_dir()
    apps = {name: _rooted(functions_framework.create_app(name, str(root / name / "main.py"), "http")) for name in HTTP_FUNCTIONS}
    mounts = {path: apps[name] for path, name in MOUNTS.items()}
    for table in API_TABLES:
        mounts[table.root] = _api_router(apps, table)
    fallback = flask.Flask(__name__)
    fallback.register_error_handler(HTTPException, http_error_response)

    @fallback.get("/openapi.json")
    def openapi_document() -> flask.Response:
        return flask.Response(json.dumps(openapi.document(), indent=1), mimetype="application/json")

    @fallback.route("/", defaults={"path": ""}, methods=_EVERY_METHOD)
    @fallback.route("/<path:path>", methods=_EVERY_METHOD)
    def not_found(path: str) -> flask.Response:
        if path == "openapi.json":  # the document is GET only
            raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
        return error_response(f"no function at /{path}", "not_found", 404)

    return _paths_only(DispatcherMiddleware(fallback, mounts))


_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "PROPPATCH",
                 "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "QUERY", "PRI"]
"""The methods the stack's own 404 answers (any other method: 405, in the same JSON body)."""


def _paths_only(app):
    """Refuse a request target that is not a path (`OPTIONS *`, an absolute URI's leftovers)
    with 400 JSON, before routing would redirect it (RFC 9112 §3.2: origin-form is what a
    server answers)."""

    def wsgi(environ, start_response):
        if not (environ.get("PATH_INFO") or "/").startswith("/"):
            body = error_body("the request target must be a path starting with /", "bad_request")
            start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wsgi


def _api_router(apps, table):
    """An API root served by several functions (`API_TABLES`): each path goes to the function
    that serves it (the table's default function answers paths no route knows, with the API's
    own 404/405)."""

    def wsgi(environ, start_response):
        name = table.function_for(environ.get("PATH_INFO") or "/", environ["REQUEST_METHOD"]) or table.default
        return apps[name](environ, start_response)

    return wsgi


def _rooted(app):
    """`/upload` reaches the function as `/`, as the Cloud Functions runtime delivers it."""

    def wsgi(environ, start_response):
        environ["PATH_INFO"] = environ.get("PATH_INFO") or "/"
        return app(environ, start_response)

    return wsgi


def start_maintenance(*, purge_interval: float = 3600.0) -> threading.Thread:
    """What a long-running local stack does besides serving, in a daemon thread: on the embedded
    backend first `recover` what a killed process left (its queued work, page leases and
    temporary files); then every `settings.sweep_seconds` `sweep` stalled jobs, and every
    `purge_interval` seconds purge expired ones. A failing pass is logged and tried again."""

    def loop() -> None:
        services = bootstrap.services()
        if services.settings.backend == "local":
            _logged(lambda: recover(store=services.store, blobs=services.blobs, queue=services.queue,
                                    settings=services.settings, now=services.clock()), "recovery")
        last_purge = float("-inf")
        while True:
            services = bootstrap.services()
            if time.monotonic() - last_purge >= purge_interval:
                gone = _logged(lambda: purge_expired(store=services.store, blobs=services.blobs, now=services.clock()),
                               "purging expired jobs")
                if gone:
                    log.info("purged %d expired jobs", len(gone))
                last_purge = time.monotonic()
            _logged(lambda: sweep(store=services.store, blobs=services.blobs, queue=services.queue,
                                  settings=services.settings, now=services.clock()), "sweeping stalled jobs")
            time.sleep(services.settings.sweep_seconds)

    thread = threading.Thread(target=loop, name="pagesage-maintenance", daemon=True)
    thread.start()
    return thread


def _logged(step, what: str):
    try:
        return step()
    except Exception:  # noqa: BLE001 - maintenance retries at its next pass
        log.exception("%s failed", what)
        return None


def max_request_bytes(max_upload_bytes: int) -> int:
    """Largest request body a function takes, bytes: an upload (`max_upload_bytes` plus the
    multipart slack) or an API JSON body (`routes.MAX_JSON_BYTES`), whichever is larger."""
    return max(max_upload_bytes + MULTIPART_SLACK, routes.MAX_JSON_BYTES)


DRAIN_FACTOR = 2
"""Bodies up to this many times `max_request_bytes` are read in full (waitress spools them to a
temporary file) so the client, which is still sending, gets the function's 413 JSON answer;
a body declared larger is refused as soon as its headers arrive, and the connection closed
(a client still sending it may see the connection reset before the answer)."""


_WAITRESS_ERRORS = {400: ("bad_request", "malformed HTTP request"),
                    413: ("file_too_large", "request body exceeds the server's limit"),
                    431: ("headers_too_large", "request headers are too large"),
                    500: ("internal_error", "internal error"),
                    501: ("not_implemented", "transfer encoding not implemented")}
"""Waitress's own refusals (before any function runs) -> `error_code`, `detail`."""


class _JsonErrorTask(ErrorTask):
    """Waitress's answer to a request it refuses itself (a body over `max_request_body_size`,
    malformed chunking or headers, or an app that crashed before writing): the common JSON
    `ErrorResponse` instead of waitress's text page, with no detail from the request."""

    def execute(self) -> None:
        code = getattr(self.request.error, "code", 500)
        error_code, detail = _WAITRESS_ERRORS.get(code, ("bad_request", "malformed HTTP request"))
        body = error_body(detail, error_code)
        self.status = f"{code} {self.request.error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Parser(HTTPRequestParser):
    """Waitress's request parser, noting a request framed twice: `Content-Length` and
    `Transfer-Encoding: chunked` (waitress reads the chunks and drops the header)."""

    framed_twice = False

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.framed_twice = self.chunked and "CONTENT_LENGTH" in self.headers


class _Task(WSGITask):
    """A request's task; one framed twice closes its connection after the answer (RFC 9112
    §6.1: the server MUST, as such a message is how requests are smuggled past a proxy)."""

    def execute(self) -> None:
        if getattr(self.request, "framed_twice", False):
            self.set_close_on_finish()
        super().execute()


class _JsonErrorChannel(HTTPChannel):
    parser_class = _Parser
    task_class = _Task
    error_task_class = _JsonErrorTask


def create_server(host: str, port: int, *, threads: int = 8) -> BaseWSGIServer:
    """A waitress server for the stack, bound but not yet serving (`.run()`, or `serving()`).

    Port 0 binds a free port; the bound one is `server.effective_port`. Bodies over
    `DRAIN_FACTOR` x `max_request_bytes` are refused with a 413 JSON body as soon as their
    `Content-Length` (or the chunks received) say so, before the rest is read; smaller ones
    over a function's limit get that function's 413.
    """
    logging.getLogger("waitress").setLevel(logging.WARNING)
    limit = DRAIN_FACTOR * max_request_bytes(Settings().max_upload_bytes)
    server = waitress.create_server(create_stack(), host=host, port=port, threads=threads, ident="pagesage",
                                    max_request_body_size=limit)
    server.channel_class = _JsonErrorChannel
    return server


@contextmanager
def serving(server: BaseWSGIServer, *, drain_seconds: float = 5.0) -> Iterator[BaseWSGIServer]:
    """Serve `server` in a background thread for the duration of the block, then stop it.

    Stopping happens in the serving thread itself, so no socket is closed while that thread's
    event loop or a request thread still uses it: accepting stops, requests in progress get up
    to `drain_seconds` to finish and flush, then every connection is closed.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.2, map=server._map, use_poll=True, count=1)
        server.accepting = False
        server.del_channel()  # the listening socket leaves the map; connections stay
        server.socket.close()
        dispatcher = server.task_dispatcher
        dispatcher.set_thread_count(0)
        deadline = time.monotonic() + drain_seconds
        while (dispatcher.threads or _unflushed(server)) and time.monotonic() < deadline:
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        dispatcher.shutdown(timeout=0)
        for channel in list(server._map.values()):
            channel.close()

    thread = threading.Thread(target=loop, name="pagesage-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        server.pull_trigger()
        thread.join()


def _unflushed(server: BaseWSGIServer) -> bool:
    return any(getattr(channel, "total_outbufs_len", 0) or getattr(channel, "requests", None)
               for channel in server._map.values())

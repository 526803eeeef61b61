"""The Tesseract container: PageSage's `TesseractEngine` behind HTTP, for Cloud Run.

Endpoints (every JSON body is UTF-8; pixels, bytes and seconds throughout):

    POST /recognize?lang=eng&dpi=300&psm=3[&format=json|hocr]
        body: the page image, `Content-Type: image/png | image/jpeg | image/tiff`
        200 application/json: `EngineOutput` {"words": [{"text", "bbox": [x, y, w, h] (pixels),
            "confidence" (0-100), "block", "par", "line"}], "seconds": engine wall seconds}
        200 text/html (format=hocr): Tesseract's own hOCR for the page; the engine wall seconds
            are in the `X-Engine-Seconds` header
    POST /detect?dpi=300
        body: as for /recognize
        200 application/json: {"result": OsdResult | null, "seconds": engine wall seconds}
    GET /health (also /healthz)
        200 application/json: {"engine": "tesseract", "version": "5.3.0", "languages": [...]}

Cloud Run's front end answers `/healthz` itself (paths ending in `z` are reserved:
https://cloud.google.com/run/docs/known-issues), so callers on Cloud Run use `/health`.

Errors carry the common `ErrorResponse` body {"detail", "error_code", "timestamp"} and never a
traceback: 400 `bad_request` (parameters), `invalid_language`, `empty_file`,
`content_type_mismatch` (declared type vs magic bytes); 404 `not_found`; 405
`method_not_allowed`; 413 `file_too_large`; 415 `invalid_format`; 422 `ocr_engine_error` or
`timeout` (Tesseract failed on the page); 500 `internal_error`.

Serving follows the Cloud Run container contract (https://cloud.google.com/run/docs/container-contract):
listen on 0.0.0.0:$PORT. Each waitress thread keeps its own Tesseract models loaded across requests
(`TesseractEngine`, `OMP_THREAD_LIMIT=1`), and there are as many threads as usable CPUs, so deploy with `--concurrency` equal to `--cpu`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import flask
import waitress
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException

from pagesage.domain.pages import OsdResult
from pagesage.domain.languages import AUTO, parse_spec
from pagesage.engines.tesseract import TesseractEngine
from pagesage.errors import (ContentTypeMismatch, EmptyFile, EngineError, FileTooLarge, InputError, InvalidLanguage,
                             PageSageError, UnsupportedFormat)
from pagesage.imaging import MAGIC_BYTES_NEEDED, detect_format
from pagesage.responses import ErrorResponse

log = logging.getLogger("pagesage.tesseract_container")

IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif"}
"""Accepted `Content-Type`s of a page image, with the suffix of the temporary file."""

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest page image accepted: 32 MiB, Cloud Run's request size limit over HTTP/1
(https://cloud.google.com/run/quotas); larger bodies could not reach the container anyway."""

DPI_RANGE = (50, 1200)
"""Accepted `dpi`, inclusive: the range of `PAGESAGE_DPI`."""

RECOGNITION_PSMS = frozenset({1, *range(3, 14)})
"""Page segmentation modes that produce words (0 is OSD only, 2 is not implemented)."""

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "file_too_large", 415: "invalid_format"}


class DetectResponse(BaseModel):
    """Body of `POST /detect`: the OSD result (None: too little text) and engine wall seconds."""

    result: OsdResult | None
    seconds: float


class HealthResponse(BaseModel):
    """Body of `GET /health`: the engine's name, version and loadable models (sorted)."""

    engine: str
    version: str
    languages: list[str]


def create_app(engine: TesseractEngine | None = None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> flask.Flask:
    """The WSGI app serving `engine` (a fresh `TesseractEngine` by default).

    Args:
        engine: the adapter every request runs on.
        max_body_bytes: largest accepted page image, bytes; larger bodies get 413.
    """
    engine = engine or TesseractEngine()
    app = flask.Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.post("/recognize")
    def recognize() -> flask.Response:
        languages, dpi, psm = _languages(engine), _int_arg("dpi", 300, DPI_RANGE), _psm()
        output_format = flask.request.args.get("format", "json")
        if output_format not in ("json", "hocr"):
            raise InputError(f"format must be json or hocr, not {output_format!r}")
        with _page_image() as image:
            if output_format == "hocr":
                hocr, seconds = engine.hocr(image, languages=languages, dpi=dpi, psm=psm)
                response = flask.Response(hocr, mimetype="text/html")
                response.headers["X-Engine-Seconds"] = f"{seconds:.6f}"
                return response
            output = engine.recognize(image, languages=languages, dpi=dpi, psm=psm)
        return _json(output)

    @app.post("/detect")
    def detect() -> flask.Response:
        dpi = _int_arg("dpi", 300, DPI_RANGE)
        with _page_image() as image:
            result, seconds = engine.detect(image, dpi=dpi)
        return _json(DetectResponse(result=result, seconds=seconds))

    @app.get("/health")
    @app.get("/healthz")
    def health() -> flask.Response:
        return _json(HealthResponse(engine=engine.name, version=engine.version(),
                                    languages=sorted(engine.installed_languages())))

    @app.errorhandler(PageSageError)
    def pagesage_error(exc: PageSageError) -> flask.Response:
        if exc.http_status >= 422:
            log.warning("%s %s -> %d %s: %s", flask.request.method, flask.request.path, exc.http_status, exc.error_code, exc.detail)
        return error_response(exc.detail, exc.error_code, exc.http_status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> flask.Response:
        status = exc.code or 500
        if status == 413:
            return error_response(f"request body exceeds {max_body_bytes:,} bytes", "file_too_large", 413)
        response = error_response(exc.description or exc.name, _HTTP_CODES.get(status, "bad_request"), status)
        if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> flask.Response:
        log.exception("unhandled error on %s", flask.request.path)
        return error_response("internal error", "internal_error", 500)

    return app


def error_response(detail: str, error_code: str, status: int) -> flask.Response:
    """The common JSON `ErrorResponse` with `status` (as `pagesage.web.error_response`)."""
    body = ErrorResponse(detail=detail, error_code=error_code)
    return flask.Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/json")


def _json(model: BaseModel) -> flask.Response:
    return flask.Response(model.model_dump_json(), mimetype="application/json")


def _int_arg(name: str, default: int, bounds: tuple[int, int]) -> int:
    raw = flask.request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be an integer, not {raw!r}") from None
    if not bounds[0] <= value <= bounds[1]:
        raise InputError(f"{name} must be within {bounds[0]}-{bounds[1]}, not {value}")
    return value


def _psm() -> int:
    psm = _int_arg("psm", 3, (0, 13))
    if psm not in RECOGNITION_PSMS:
        raise InputError(f"psm {psm} recognises no words; use 1 or 3-13")
    return psm


def _languages(engine: TesseractEngine) -> str:
    spec = flask.request.args.get("lang", "eng")
    languages = parse_spec(spec, set(engine.installed_languages()))
    if languages == AUTO:
        raise InvalidLanguage("lang must name models; choose them from /detect's script first")
    return languages


@contextmanager
def _page_image() -> Iterator[Path]:
    """The request body, checked, in a temporary file for the span of the `with` block.

    Raises:
        UnsupportedFormat: another Content-Type. FileTooLarge: over the body limit.
        EmptyFile: no bytes. ContentTypeMismatch: the magic bytes say another type.
    """
    request = flask.request
    suffix = IMAGE_TYPES.get(request.mimetype)
    if suffix is None:
        raise UnsupportedFormat(f"Content-Type must be one of {', '.join(IMAGE_TYPES)}, not {request.mimetype or 'none'!r}")
    limit = flask.current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise FileTooLarge(f"request body of {request.content_length:,} bytes exceeds {limit:,} bytes")
    data = request.get_data(cache=False)
    if not data:
        raise EmptyFile("the request body is empty; send the page image")
    sniffed = detect_format(data[:MAGIC_BYTES_NEEDED])
    if sniffed is None or sniffed.value != request.mimetype:
        found = sniffed.value if sniffed else "none of PNG, JPEG, TIFF"
        raise ContentTypeMismatch(f"the body is not {request.mimetype} (its magic bytes say {found})")
    with tempfile.TemporaryDirectory(prefix="tesseract-") as tmp:
        path = Path(tmp) / f"page{suffix}"
        path.write_bytes(data)
        del data
        yield path


def usable_cpus() -> int:
    """CPUs this process may run on (Cloud Run: the instance's vCPUs)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def serve(app: flask.Flask, *, port: int, threads: int, max_body_bytes: int) -> None:
    """Serve `app` on 0.0.0.0:`port` with waitress and `threads` request threads.

    Waitress buffers a whole body before the app sees it; bodies over twice the app's limit are
    refused by waitress itself (413, plain text) without being read into memory (`/tmp` on
    Cloud Run is memory).
    """
    waitress.serve(app, host="0.0.0.0", port=port, threads=threads, max_request_body_size=2 * max_body_bytes, ident="pagesage-tesseract")


def main() -> None:
    """Entry point of the container: `PORT` (default 8080), `THREADS` (default: usable CPUs),
    `MAX_BODY_BYTES` (default 32 MiB), `TESSERACT_TIMEOUT` seconds (default 300)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    max_body_bytes = int(os.environ.get("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    engine = TesseractEngine(timeout=float(os.environ.get("TESSERACT_TIMEOUT", "300")))
    app = create_app(engine, max_body_bytes=max_body_bytes)
    serve(app, port=int(os.environ.get("PORT", "8080")), threads=int(os.environ.get("THREADS", usable_cpus())),
          max_body_bytes=max_body_bytes)


if __name__ == "__main__":
    main()

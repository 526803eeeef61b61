"""What every HTTP function shares: the error translator, rate limiting, client IP, uploads.

`endpoint` wraps a function body `(request, services) -> Response`:
    * a method not allowed -> 405;
    * the per-IP rate limit (services/ratelimit.py) -> 429 with `Retry-After`;
    * `PageSageError` -> its `http_status` and an `ErrorResponse` body;
    * Werkzeug's HTTP errors (e.g. 413 while parsing a body) -> the same body shape;
    * anything else -> 500 `internal_error`, the traceback logged, never sent.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Callable, TypeVar

import flask

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from pagesage import bootstrap
from pagesage.bootstrap import Services
from pagesage.errors import FileTooLarge, InputError, PageSageError, ValidationFailed
from pagesage.responses import ErrorResponse
from pagesage.services.ratelimit import check_rate_limit

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers, `lang`)."""

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "file_too_large", 415: "invalid_format"}

Handler = Callable[[flask.Request, Services], flask.Response]
BodyModel = TypeVar("BodyModel", bound=BaseModel)


def endpoint(*methods: str, rate_limited: bool = True) -> Callable[[Handler], Callable[[flask.Request], flask.Response]]:
    """Decorate a function body taking (request, services); see the module docstring.

    `rate_limited=False` exempts internal callers (the task queue calling the worker).
    """

    def wrap(body: Handler) -> Callable[[flask.Request], flask.Response]:
        @functools.wraps(body)
        def handle(request: flask.Request) -> flask.Response:
            try:
                if request.method not in methods:
                    response = error_response(f"method {request.method} not allowed", "method_not_allowed", 405)
                    response.headers["Allow"] = ", ".join(methods)
                    return response
                services = bootstrap.services()
                if rate_limited:
                    check_rate_limit(client_ip(request, services.settings.trust_x_forwarded_for),
                                     limit=services.settings.rate_limit, store=services.store, now=services.clock())
                return body(request, services)
            except PageSageError as exc:
                return _from_error(exc)
            except HTTPException as exc:
                status = exc.code or 500
                if status == 413:  # the body outgrew max_content_length while being parsed
                    return _from_error(FileTooLarge("request body exceeds the upload limit"))
                return error_response(exc.description or exc.name, _HTTP_CODES.get(status, "bad_request"), status)
            except Exception:  # noqa: BLE001 - the one place unknown errors become a 500
                log.exception("unhandled error in %s", body.__name__)
                return error_response("internal error", "internal_error", 500)

        return handle

    return wrap


def error_response(detail: str, error_code: str | None, status: int, *, job_status: str | None = None,
                   field: str | None = None) -> flask.Response:
    """A JSON `ErrorResponse` with `status`."""
    body = ErrorResponse(detail=detail, error_code=error_code, status=job_status, field=field)
    return flask.Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/json")


def json_response(model: BaseModel, status: int = 200) -> flask.Response:
    """A pydantic model as a JSON response."""
    return flask.Response(model.model_dump_json(), status=status, mimetype="application/json")


def client_ip(request: flask.Request, trust_x_forwarded_for: bool) -> str:
    """The client's IP: the socket peer, or the first `X-Forwarded-For` hop when trusted (and valid)."""
    if trust_x_forwarded_for:
        first = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            pass
    return request.remote_addr or "unknown"


def read_upload(request: flask.Request, max_bytes: int) -> tuple[FileStorage, str | None]:
    """The `file` part and `lang` field of a multipart upload, refusing oversize bodies early.

    A declared `Content-Length` over `max_bytes + MULTIPART_SLACK` is refused before any byte is
    read; a body without one is cut off once it passes that size.

    Raises:
        FileTooLarge: the body is too large. InputError: not multipart, or no `file` part.
    """
    limit = max_bytes + MULTIPART_SLACK
    if request.content_length is not None and request.content_length > limit:
        raise FileTooLarge(f"request body of {request.content_length:,} bytes exceeds the {max_bytes:,}-byte file limit")
    if request.mimetype != "multipart/form-data":
        raise InputError("expected a multipart/form-data body with the file in the field `file`")
    request.max_content_length = limit
    upload = request.files.get("file")
    if upload is None:
        raise InputError("no `file` field in the form", error_code="missing_file")
    return upload, request.form.get("lang")


def read_json(request: flask.Request, model: type[BodyModel], max_bytes: int) -> BodyModel:
    """The request's JSON body as `model`.

    Raises:
        FileTooLarge: the body is over `max_bytes` (by `Content-Length`, before reading; else
            cut off there). InputError (400): not `application/json`, or not valid JSON.
        ValidationFailed (422): valid JSON that breaks the model; `field` is the first error's
            JSON path, e.g. `tokens[3].bbox.w`.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise FileTooLarge(f"request body of {request.content_length:,} bytes exceeds the {max_bytes:,}-byte limit")
    if request.mimetype != "application/json":
        raise InputError("expected an application/json body", error_code="bad_json")
    request.max_content_length = max_bytes
    try:
        return model.model_validate_json(request.get_data())
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise InputError(f"body is not valid JSON: {first['msg']}", error_code="bad_json") from exc
        field = json_path(first["loc"])
        raise ValidationFailed(f"{field or 'body'}: {first['msg']}", field=field or None) from exc


def json_path(loc: tuple) -> str:
    """A pydantic error location as a JSON path: ('tokens', 3, 'bbox') -> `tokens[3].bbox`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def path_id(request: flask.Request) -> str:
    """The id a function is addressed with: `/<id>` after the function's own path, or `?job_id=`."""
    return request.path.strip("/").split("/")[-1] or request.args.get("job_id", "")


def _from_error(exc: PageSageError) -> flask.Response:
    response = error_response(exc.detail, exc.error_code, exc.http_status, job_status=getattr(exc, "status", None),
                              field=getattr(exc, "field", None))
    if isinstance(exc, FileTooLarge):
        # functions-framework reads the whole request body after a non-streamed response; a
        # streamed one skips that, so an oversize body is never read, and the connection closes.
        response.response = iter([response.get_data()])
        response.headers["Connection"] = "close"
    if retry_after := getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(retry_after)
    return response

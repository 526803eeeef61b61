"""What every HTTP function shares: the error translator, rate limiting, client IP, operator
authentication, request bodies.

`endpoint` wraps a function body `(request, services) -> Response`:
    * a method not allowed -> 405;
    * an operator endpoint without the configured API token -> 401 (see `check_operator`);
    * the per-IP rate limit (services/ratelimit.py) -> 429 with `Retry-After`;
    * `PageSageError` -> its `http_status` and an `ErrorResponse` body;
    * Werkzeug's HTTP errors (e.g. 413 while parsing a body) -> the same body shape;
    * anything else -> 500 `internal_error`, the traceback logged, never sent.
It also makes the function's Flask app answer what never reaches the body (paths functions-
framework keeps for itself such as `/favicon.ico`, a crash in Flask itself) with the same JSON.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from typing import Callable, TypeVar

import flask
from pydantic import BaseModel, JsonValue, TypeAdapter, ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from pagesage import bootstrap
from pagesage.bootstrap import Services
from pagesage.errors import (FileTooLarge, InputError, MethodNotAllowedError, PageSageError, PreconditionFailed, Unauthorized,
                             ValidationFailed, validation_failed)
from pagesage.responses import ErrorResponse
from pagesage.services.ratelimit import check_rate_limit

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers, `lang`)."""

MAX_FORM_FIELD_BYTES = 500_000
"""Largest non-file form field of an upload (`lang`), bytes: Flask's `MAX_FORM_MEMORY_SIZE`
default. Werkzeug also applies it to each chunk it buffers, so it cannot be much smaller."""

MAX_FORM_PARTS = 100
"""Most parts of an upload's form (werkzeug's `max_form_parts`; the file and `lang` need two)."""

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               413: "file_too_large", 415: "invalid_format"}

ANY_METHOD = "*"
"""`endpoint(ANY_METHOD)`: the body answers every method itself (a route table's 405 names the
methods of the path asked for)."""

Handler = Callable[[flask.Request, Services], flask.Response]
BodyModel = TypeVar("BodyModel", bound=BaseModel)


def endpoint(*methods: str, rate_limited: bool = True,
             operator: bool = False) -> Callable[[Handler], Callable[[flask.Request], flask.Response]]:
    """Decorate a function body taking (request, services); see the module docstring.

    `methods` are those the body answers (`ANY_METHOD`: all, it refuses the others itself);
    `rate_limited=False` exempts internal callers (the task queue calling the worker);
    `operator=True` marks an endpoint for operators only (`check_operator`).
    """
    _answer_json_on_the_app()

    allow = methods + (("HEAD",) if "GET" in methods and "HEAD" not in methods else ())

    def wrap(body: Handler) -> Callable[[flask.Request], flask.Response]:
        @functools.wraps(body)
        def handle(request: flask.Request) -> flask.Response:
            try:
                if ANY_METHOD not in methods and request.method not in allow:
                    raise MethodNotAllowedError(f"method {request.method} not allowed", allow=allow)
                services = bootstrap.services()
                if operator:
                    check_operator(request, services.settings.api_token_value)
                if rate_limited:
                    check_rate_limit(client_ip(request, services.settings.trusted_proxy_hops),
                                     limit=services.settings.rate_limit, store=services.store, now=services.clock())
                return body(request, services)
            except PageSageError as exc:
                return _from_error(exc)
            except HTTPException as exc:
                return http_error_response(exc)
            except Exception:  # noqa: BLE001 - the one place unknown errors become a 500
                log.exception("unhandled error in %s", body.__name__)
                return error_response("internal error", "internal_error", 500)

        return handle

    return wrap


def _answer_json_on_the_app() -> None:
    """While functions-framework loads a function's module it holds that function's Flask app
    as the current app: give it JSON answers for HTTP errors and crashes that happen outside
    the function body."""
    if not flask.has_app_context():
        return
    app = flask.current_app
    if getattr(app, "_pagesage_json_errors", False):
        return
    app.register_error_handler(HTTPException, http_error_response)

    def crashed(exc: Exception) -> flask.Response:
        log.error("unhandled error outside the function body", exc_info=exc)
        return error_response("internal error", "internal_error", 500)

    app.register_error_handler(500, crashed)
    app._pagesage_json_errors = True


def http_error_response(exc: HTTPException) -> flask.Response:
    """A Werkzeug HTTP error as the common JSON body: its status, a code for it, its description
    (and a 405's `Allow`)."""
    status = exc.code or 500
    if status == 413:  # a body outgrew max_content_length while being parsed
        return _from_error(FileTooLarge("request body exceeds the upload limit"))
    if isinstance(exc, MethodNotAllowed):
        return _from_error(MethodNotAllowedError(exc.description, allow=sorted(exc.valid_methods or [])))
    return error_response(exc.description or exc.name, _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error"),
                          status)


def error_body(detail: str, error_code: str | None, *, job_status: str | None = None, field: str | None = None,
               current_version: str | None = None) -> bytes:
    """The JSON bytes of an `ErrorResponse`."""
    body = ErrorResponse(detail=detail, error_code=error_code, status=job_status, field=field, current_version=current_version)
    return body.model_dump_json(exclude_none=True).encode()


def error_response(detail: str, error_code: str | None, status: int, *, job_status: str | None = None,
                   field: str | None = None, current_version: str | None = None) -> flask.Response:
    """A JSON `ErrorResponse` with `status`."""
    return flask.Response(error_body(detail, error_code, job_status=job_status, field=field, current_version=current_version),
                          status=status, mimetype="application/json")


def json_response(model: BaseModel, status: int = 200) -> flask.Response:
    """A pydantic model as a JSON response."""
    return flask.Response(model.model_dump_json(), status=status, mimetype="application/json")


def int_arg(request: flask.Request, name: str, *, default: int | None, low: int, high: int) -> int | None:
    """Query parameter `name` as an integer from `low` to `high`; `default` when absent.

    Raises:
        ValidationFailed: anything but ASCII digits in range (`field` the parameter).
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValidationFailed(f"`{name}` must be an integer from {low} to {high}", field=name)
    return int(raw)


def client_ip(request: flask.Request, trusted_proxy_hops: int) -> str:
    """The client's IP address, as the rate limit counts it.

    With `trusted_proxy_hops` 0 it is the socket peer. Behind N proxies that each append the
    address they received the request from to `X-Forwarded-For` (Google's front end does; MDN
    "X-Forwarded-For", "Selecting an IP address"), the client is the N-th entry from the right:
    entries further left were written by the client itself and prove nothing. A header with
    fewer entries, or an entry that is not an IP address, leaves the socket peer.
    """
    peer = request.remote_addr or "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    if len(hops) < trusted_proxy_hops:
        return peer
    try:
        return str(ipaddress.ip_address(hops[-trusted_proxy_hops]))
    except ValueError:
        return peer


def check_operator(request: flask.Request, api_token: str | None) -> None:
    """Admit a request to an operator endpoint: anyone when no API token is configured (Cloud
    IAM guards those functions in Google Cloud), else only `Authorization: Bearer <token>`,
    compared in constant time.

    Raises:
        Unauthorized: the token is configured and the request does not carry it.
    """
    if not api_token:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_token.encode()):
        raise Unauthorized("this endpoint needs `Authorization: Bearer <PAGESAGE_API_TOKEN>`")


def read_upload(request: flask.Request, max_bytes: int) -> tuple[FileStorage, str | None]:
    """The `file` part and `lang` field of a multipart upload (RFC 7578), refusing oversize
    bodies early.

    A declared `Content-Length` over `max_bytes + MULTIPART_SLACK` is refused before any byte is
    read; a body without one is cut off once it passes that size.

    Raises:
        FileTooLarge: the body is too large. InputError: not multipart (`bad_request`), a body
            that is not well-formed multipart or whose part headers are not UTF-8 (RFC 7578
            §5.1.1; `bad_multipart`), a `file` part without a file name (`missing_filename`:
            a name holding CR or LF breaks its header), or no `file` part (`missing_file`).
    """
    limit = max_bytes + MULTIPART_SLACK
    if request.content_length is not None and request.content_length > limit:
        raise FileTooLarge(f"request body of {request.content_length:,} bytes exceeds the {max_bytes:,}-byte file limit")
    if request.mimetype != "multipart/form-data":
        raise InputError("expected a multipart/form-data body with the file in the field `file`")
    request.max_content_length = limit  # caps `request.stream` when no Content-Length is sent
    parser = FormDataParser(max_content_length=limit, max_form_memory_size=MAX_FORM_FIELD_BYTES, max_form_parts=MAX_FORM_PARTS,
                            silent=False)
    try:  # the request's own stream, so that nothing reads the body a second time
        _, form, files = parser.parse(request.stream, request.mimetype, request.content_length, request.mimetype_params)
    except UnicodeDecodeError as exc:
        raise InputError("a part's headers are not valid UTF-8: send the file name as UTF-8 (RFC 7578 §5.1.1)",
                         error_code="bad_multipart") from exc
    except RequestEntityTooLarge as exc:
        if request.content_length is not None and request.content_length <= limit:  # the form's own limits
            raise InputError(f"a form field other than `file` is over {MAX_FORM_FIELD_BYTES:,} bytes, or the form has "
                             f"over {MAX_FORM_PARTS} parts", error_code="bad_multipart") from exc
        raise
    except ValueError as exc:
        raise InputError("the body is not well-formed multipart/form-data", error_code="bad_multipart") from exc
    upload = files.get("file")
    if upload is None:
        if "file" in form:
            raise InputError("the `file` part has no file name in its Content-Disposition (a file name holding CR or LF "
                             "breaks the part's header)", error_code="missing_filename")
        raise InputError("no `file` field in the form", error_code="missing_file")
    return upload, form.get("lang")


def read_json(request: flask.Request, model: type[BodyModel], max_bytes: int, *,
              choose: Callable[[JsonValue], type[BaseModel]] | None = None) -> BodyModel:
    """The request's JSON body as `model`, or, with `choose`, as the model `choose` names for
    the parsed body (one body, several shapes: the JSON is parsed once, then validated).

    Raises:
        FileTooLarge: the body is over `max_bytes` (by `Content-Length`, before reading; else
            cut off there). InputError (400): not `application/json`, or not valid JSON (NaN
            and Infinity are not JSON: RFC 8259 §6).
        ValidationFailed (422): valid JSON that breaks the model; `field` is the first error's
            JSON path, e.g. `tokens[3].bbox.w`.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise FileTooLarge(f"request body of {request.content_length:,} bytes exceeds the {max_bytes:,}-byte limit")
    if request.mimetype != "application/json":
        raise InputError("expected an application/json body", error_code="bad_json")
    request.max_content_length = max_bytes
    try:
        if choose is None:
            return model.model_validate_json(request.get_data())
        parsed = _JSON.validate_json(request.get_data())
        return choose(parsed).model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise InputError(f"body is not valid JSON: {first['msg']}", error_code="bad_json") from exc
        raise validation_failed(exc) from exc


_JSON = TypeAdapter(JsonValue)
"""Any JSON value, parsed as pydantic parses a model's body (no NaN or Infinity)."""


def path_id(request: flask.Request) -> str:
    """The id a function is addressed with: `/<id>` after the function's own path, or `?job_id=`."""
    return request.path.strip("/").split("/")[-1] or request.args.get("job_id", "")


def _from_error(exc: PageSageError) -> flask.Response:
    response = error_response(exc.detail, exc.error_code, exc.http_status, job_status=getattr(exc, "status", None),
                              field=getattr(exc, "field", None), current_version=getattr(exc, "current", None))
    if isinstance(exc, PreconditionFailed):
        response.headers["ETag"] = f'"{exc.current}"'
    if isinstance(exc, FileTooLarge):
        # functions-framework reads the rest of the request body after a response that is not
        # streamed (`read_request`), which raises again past the limit; a streamed one skips it
        response.response = iter([response.get_data()])
    if isinstance(exc, MethodNotAllowedError):
        response.headers["Allow"] = ", ".join(exc.allow)
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="pagesage"'
    if retry_after := getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(retry_after)
    return response

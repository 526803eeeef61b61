"""PageSage's exception tree. Every error a client can see carries its HTTP status and code.

    PageSageError                      500 internal_error
    ├── InputError                     400 bad_request
    │   ├── EmptyFile                  400 empty_file
    │   ├── ContentTypeMismatch        400 content_type_mismatch
    │   ├── InvalidLanguage            400 invalid_language
    │   ├── ValidationFailed           422 validation_failed (`field`: the JSON path)
    │   ├── FileTooLarge               413 file_too_large
    │   ├── UrlNotAllowed              400 url_not_allowed (a remote source the server will not fetch)
    │   └── UnsupportedFormat          415 invalid_format
    ├── Unauthorized                   401 unauthorized
    ├── MethodNotAllowedError          405 method_not_allowed (`allow`: the methods there are)
    ├── NotFound                       404 not_found
    ├── InvalidTransition              409 invalid_transition
    ├── Conflict                       409 conflict     (the stored state is not what the request was based on)
    ├── PreconditionFailed             412 precondition_failed (`current`: the current version id)
    ├── PreconditionRequired           428 precondition_required
    ├── JobNotFinished                 409 not_finished
    ├── JobFailed                      422 job_failed   (code replaced by the job's own error code)
    ├── RateLimited                    429 rate_limited
    ├── TransientError                 503 unavailable  (retryable)
    └── DocumentError                  job failure codes, recorded on the job, never raised to HTTP
        ├── CorruptedFile              corrupted_file
        ├── EncryptedFile              encrypted_file
        ├── MemoryLimit                memory_limit
        ├── EngineError                ocr_engine_error (timeout when the engine timed out)
        └── FetchFailed                fetch_failed (retryable when transient)
            ├── SourceNotFound         not_found
            └── SourceForbidden        forbidden

`detail` is what a client reads: a plain reason, never a server path, a traceback or the text
of an exception from a library (log those instead).

`http_status` and `error_code` are class attributes; `retryable` tells a task queue whether a
redelivery can help. The codes are the seed's `ErrorCode` values (upload-hocr-data-model.md §2)
plus the HTTP-level ones of its validation table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class PageSageError(Exception):
    """Base of all PageSage errors.

    Attributes:
        http_status: HTTP status an entry point answers with.
        error_code: machine-readable code put in the `ErrorResponse` body.
        retryable: True when the same request or task may succeed later.
    """

    http_status = 500
    error_code = "internal_error"
    retryable = False

    def __init__(self, detail: str, *, error_code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if error_code is not None:
            self.error_code = error_code


class InputError(PageSageError):
    """The request is malformed or names something impossible (HTTP 400)."""

    http_status = 400
    error_code = "bad_request"


class ValidationFailed(InputError):
    """A well-formed request whose content breaks a rule (HTTP 422); `field` names where, e.g.
    `tokens[3].bbox` (JSON path from the body's root)."""

    http_status = 422
    error_code = "validation_failed"

    def __init__(self, detail: str, *, field: str | None = None, error_code: str | None = None) -> None:
        super().__init__(detail, error_code=error_code)
        self.field = field


def json_path(loc: tuple) -> str:
    """A pydantic error location as a JSON path: ('tokens', 3, 'bbox') -> `tokens[3].bbox`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validation_failed(exc: "ValidationError", *, prefix: str = "") -> ValidationFailed:
    """The first error of a pydantic `ValidationError` as `ValidationFailed`: `field` its JSON
    path (under `prefix`), `detail` "<field>: <the rule it breaks>" (pydantic's message, without
    its documentation link or input echo), e.g. `tokens[0].bbox.x: Input should be less than or
    equal to 1000000`."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = json_path(((prefix,) if prefix else ()) + tuple(first["loc"]))
    message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return ValidationFailed(f"{field or 'body'}: {message}", field=field or None)


class Unauthorized(PageSageError):
    """A request lacks the credential its endpoint needs (HTTP 401): the configured API token of an
    operator endpoint, or a verified caller of an edit (`pagesage.identity`): none at all, or a
    token that failed verification."""

    http_status = 401
    error_code = "unauthorized"


class MethodNotAllowedError(InputError):
    """A method the path does not answer (HTTP 405); `allow` lists those it does, for the
    `Allow` header (RFC 9110 §15.5.6)."""

    http_status = 405
    error_code = "method_not_allowed"

    def __init__(self, detail: str, *, allow: list[str] | tuple[str, ...]) -> None:
        super().__init__(detail)
        self.allow = tuple(allow)


class EmptyFile(InputError):
    """The uploaded file has zero bytes."""

    error_code = "empty_file"


class ContentTypeMismatch(InputError):
    """The declared Content-Type of the file part contradicts its magic bytes."""

    error_code = "content_type_mismatch"


class InvalidLanguage(InputError):
    """A Tesseract language spec names a model that is unknown or not installed."""

    error_code = "invalid_language"


class FileTooLarge(InputError):
    """The upload exceeds the size limit (26,214,400 bytes by default; seed FR-007)."""

    http_status = 413
    error_code = "file_too_large"


class UrlNotAllowed(InputError):
    """A remote source's URL the server refuses to fetch: not https, credentials in it, or a
    host that is not public and not on the operator's allow-list (`domain.fetch_policy`)."""

    error_code = "url_not_allowed"


class UnsupportedFormat(InputError):
    """The file's magic bytes are none of JPEG, PNG, PDF, TIFF (seed FR-006)."""

    http_status = 415
    error_code = "invalid_format"


class NotFound(PageSageError):
    """No such job (or it expired, or the id is malformed): HTTP 404."""

    http_status = 404
    error_code = "not_found"


class InvalidTransition(PageSageError):
    """A job state change the state machine forbids (seed §2 state diagram)."""

    http_status = 409
    error_code = "invalid_transition"


class Conflict(PageSageError):
    """The request was based on a state that is no longer stored, e.g. a text correction whose
    `oldText` is not the box's current text (HTTP 409); nothing was changed."""

    http_status = 409
    error_code = "conflict"


class PreconditionFailed(PageSageError):
    """`If-Match` names a version that is no longer current (HTTP 412, RFC 9110 §13.1.1);
    `current` is the current version id (the `ETag` to retry with). Nothing was changed."""

    http_status = 412
    error_code = "precondition_failed"

    def __init__(self, detail: str, *, current: str) -> None:
        super().__init__(detail)
        self.current = current


class PreconditionRequired(PageSageError):
    """A write without `If-Match` (HTTP 428, RFC 6585 §3): every edit must name the version it
    was based on, so that two editors cannot overwrite each other unknowingly."""

    http_status = 428
    error_code = "precondition_required"


class JobNotFinished(PageSageError):
    """The result was asked for before the job completed; `status` is the job's status."""

    http_status = 409
    error_code = "not_finished"

    def __init__(self, detail: str, *, status: str) -> None:
        super().__init__(detail)
        self.status = status


class JobFailed(PageSageError):
    """The result was asked for a job that failed; `error_code` is the job's own code."""

    http_status = 422
    error_code = "job_failed"


class RateLimited(PageSageError):
    """The client exceeded its requests per window (seed `RateLimitEntry`, FR-015).

    Attributes:
        retry_after: whole seconds until the next window opens (>= 1).
    """

    http_status = 429
    error_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class TransientError(PageSageError):
    """A dependency is briefly unavailable; the caller or queue should retry."""

    http_status = 503
    error_code = "unavailable"
    retryable = True


class DocumentError(PageSageError):
    """A permanent failure of one document or page; recorded on the job, not retried."""

    http_status = 422


class CorruptedFile(DocumentError):
    """The bytes claim a supported format but cannot be decoded or rendered."""

    error_code = "corrupted_file"


class EncryptedFile(DocumentError):
    """A PDF that needs a password to open (a user password: ISO 32000-1 §7.6.3)."""

    error_code = "encrypted_file"


class MemoryLimit(DocumentError):
    """A page too large to decode or recognise within this worker's memory."""

    error_code = "memory_limit"


class EngineError(DocumentError):
    """The OCR engine failed on a page (crash, bad output, or timeout)."""

    error_code = "ocr_engine_error"


class FetchFailed(DocumentError):
    """A remote source could not be fetched: the connection, TLS, a timeout, a redirect loop, or
    an answer that is not the document. `retryable` when a later attempt can succeed (a timeout,
    a refused connection, HTTP 408, 429 or 5xx)."""

    error_code = "fetch_failed"

    def __init__(self, detail: str, *, transient: bool = False, error_code: str | None = None) -> None:
        super().__init__(detail, error_code=error_code)
        self.retryable = transient


class SourceNotFound(FetchFailed):
    """The remote source does not exist (HTTP 404 or 410, no such bucket or object)."""

    error_code = "not_found"


class SourceForbidden(FetchFailed):
    """The remote source refuses the configured credentials (HTTP 401 or 403)."""

    error_code = "forbidden"

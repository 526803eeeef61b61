"""The `tesseract` engine over HTTP: the Tesseract container (`containers/tesseract/`) on Cloud Run.

The container runs the same `TesseractEngine` adapter, so a page gives the same words, boxes
and confidences as in-process. `EngineOutput.seconds` is the engine's wall time the container
measured (what the cost log bills as compute); the HTTP round trip is reported beside it as
`RemoteEngineOutput.round_trip_seconds`.

Authentication: with an `audience` (normally the service URL), every request carries
`Authorization: Bearer <Google-signed ID token>`, fetched from Application Default Credentials
(on Google Cloud, the metadata server) as Cloud Run service-to-service calls require
(https://cloud.google.com/run/docs/authenticating/service-to-service). Tokens live one hour and
are reused until shortly before they expire.

Failures: connection failures are retried by the httpx transport; 429 and 503 (Cloud Run's
answers while no instance is free or one is starting) are retried with exponential backoff by
`google.api_core.retry` until `retry_deadline`, then raise `TransientError`. Other 5xx and
timeouts raise `TransientError` (the task queue redelivers the page). 4xx raise `EngineError`
(the page failed for good), except 401/403, which say the caller's identity is wrong and raise a
plain `PageSageError` (`internal_error`): not the document's fault.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import httpx
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from PIL import Image

from pagesage.domain.jobs import JobErrorCode
from pagesage.domain.pages import OsdResult
from pagesage.errors import EngineError, PageSageError, TransientError
from pagesage.imaging import MAGIC_BYTES_NEEDED, PAGE_PNG_LEVEL, detect_format, png_bytes
from pagesage.ports import EngineOutput

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 503})
"""Statuses retried with backoff: Cloud Run's "no instance available" and "starting" answers."""

CONNECT_RETRIES = 3
"""Connection attempts the httpx transport repeats (connect errors only; nothing was sent)."""

HEALTH_PATH = "/health"
"""Not `/healthz`: Cloud Run's front end answers paths ending in `z` itself
(https://cloud.google.com/run/docs/known-issues)."""


class RemoteEngineOutput(EngineOutput):
    """`EngineOutput` plus the HTTP round trip of the call, seconds (upload, queueing, engine,
    download): `round_trip_seconds - seconds` is the price of running the engine remotely."""

    round_trip_seconds: float


class _Retryable(TransientError):
    """A 429/503 answer, retried with backoff before it surfaces as `TransientError`."""


class GoogleIdTokenSource:
    """Google-signed ID tokens for one audience, cached until `refresh_margin` seconds before
    their `exp` claim. Thread-safe; call it for the current token.

    Args:
        audience: the receiving service's URL (Cloud Run) or custom audience.
        refresh_margin: seconds before expiry at which a new token is fetched.
        fetch: `audience -> token`; defaults to `google.oauth2.id_token.fetch_id_token` with
            Application Default Credentials.
        clock: the current Unix time, seconds.

    Raises (on call):
        TransientError: the token could not be fetched (metadata server or network failure).
        PageSageError: no credentials that can mint ID tokens are configured.
    """

    def __init__(self, audience: str, *, refresh_margin: float = 300.0,
                 fetch: Callable[[str], str] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.audience = audience
        self.refresh_margin = refresh_margin
        self._fetch = fetch or _fetch_google_id_token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self.refresh_margin:
                token = self._fetch(self.audience)
                self._expires_at = _expiry(token)
                self._token = token
            return self._token


class RemoteTesseractEngine:
    """The `OcrEngine` port served by the Tesseract container at `base_url`.

    Args:
        base_url: the container's URL, e.g. `https://tesseract-abc-uc.a.run.app`.
        audience: when set, requests carry an ID token for this audience.
        timeout: seconds one HTTP request may take (connect at most 10 of them); above the
            container's own Tesseract timeout, so the container reports its timeouts itself.
        http: the client to use (its base URL is ignored); by default one with `CONNECT_RETRIES`.
        token_source: `() -> ID token`, used only with `audience`; by default a
            `GoogleIdTokenSource(audience)`.
        retry_deadline: seconds 429/503 answers are retried for before `TransientError`.
        retry_initial: first backoff delay, seconds (doubling, jittered, at most 10).
    """

    name = "tesseract"
    service = "cloud-run-tesseract"
    detects_orientation = True
    """Priced as the engine seconds the container measured, on one vCPU (`pagesage.pricing`)."""

    def __init__(self, base_url: str, *, audience: str | None = None, timeout: float, http: httpx.Client | None = None,
                 token_source: Callable[[], str] | None = None, retry_deadline: float = 60.0, retry_initial: float = 0.5) -> None:
        if token_source is not None and audience is None:
            raise ValueError("token_source needs an audience")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token_source = token_source or (GoogleIdTokenSource(audience) if audience else None)
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
        )
        self._retry = api_retry.Retry(
            predicate=api_retry.if_exception_type(_Retryable), initial=retry_initial, maximum=10.0,
            multiplier=2.0, timeout=retry_deadline, on_error=self._log_retry,
        )
        self._health_lock = threading.Lock()
        self._health: dict | None = None

    def version(self) -> str:
        """Tesseract's version in the container, e.g. `5.3.0` (read once from `/health`)."""
        return str(self._read_health()["version"])

    def installed_languages(self) -> frozenset[str]:
        """Models the container's Tesseract can load (read once from `/health`)."""
        return frozenset(self._read_health()["languages"])

    def detect(self, image: Path | Image.Image, *, dpi: int) -> tuple[OsdResult | None, float]:
        """OSD of the page (a file, or a Pillow image sent as PNG) in the container; returns
        (result or None, engine wall seconds).

        Raises:
            EngineError: the container refused the image or Tesseract failed on it.
            TransientError: the container is unavailable or did not answer in time.
        """
        response, round_trip = self._post("/detect", image, {"dpi": dpi})
        body = self._json(response)
        result = OsdResult.model_validate(body["result"]) if body.get("result") is not None else None
        log.debug("detect: engine %.3f s, round trip %.3f s", body["seconds"], round_trip)
        return result, float(body["seconds"])

    def recognize(self, image: Path, *, languages: str, dpi: int, psm: int) -> RemoteEngineOutput:
        """Words of the page image read by the container's Tesseract.

        Raises:
            EngineError: the container refused the request or Tesseract failed on the page.
            TransientError: the container is unavailable or did not answer in time.
        """
        response, round_trip = self._post("/recognize", image, {"lang": languages, "dpi": dpi, "psm": psm})
        try:
            output = EngineOutput.model_validate(self._json(response))
        except ValueError as exc:
            log.warning("unreadable recognition from %s: %s", self.base_url, exc)
            raise EngineError("the Tesseract service answered with an unreadable recognition") from exc
        return RemoteEngineOutput(words=output.words, seconds=output.seconds, round_trip_seconds=round_trip)

    def hocr(self, image: Path, *, languages: str, dpi: int, psm: int) -> tuple[bytes, float]:
        """Tesseract's own hOCR of the page; returns (UTF-8 XHTML bytes, engine wall seconds).

        Raises:
            EngineError, TransientError: as for `recognize`.
        """
        response, _ = self._post("/recognize", image, {"lang": languages, "dpi": dpi, "psm": psm, "format": "hocr"})
        return response.content, float(response.headers.get("X-Engine-Seconds", "nan"))

    def close(self) -> None:
        """Close the HTTP client if this engine created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "RemoteTesseractEngine":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _read_health(self) -> dict:
        with self._health_lock:
            if self._health is None:
                self._health = self._json(self._retrying(lambda: self._send("GET", HEALTH_PATH)))
            return self._health

    def _post(self, path: str, image: Path | Image.Image, params: dict) -> tuple[httpx.Response, float]:
        """POST the image file (a Pillow image as a PNG at the query's `dpi`, which every
        endpoint's `params` carry); returns (the 2xx response, round-trip seconds of the last
        attempt)."""
        if isinstance(image, Image.Image):
            data = png_bytes(image, dpi=params["dpi"], compress_level=PAGE_PNG_LEVEL)
        else:
            data = image.read_bytes()
        fmt = detect_format(data[:MAGIC_BYTES_NEEDED])
        if fmt is None or not fmt.value.startswith("image/"):
            raise EngineError("the page image is not a PNG, JPEG or TIFF image")
        started = 0.0

        def attempt() -> httpx.Response:
            nonlocal started
            started = time.perf_counter()
            return self._send("POST", path, params=params, content=data, headers={"Content-Type": fmt.value})

        response = self._retrying(attempt)
        return response, time.perf_counter() - started

    def _retrying(self, attempt: Callable[[], httpx.Response]) -> httpx.Response:
        """`attempt()`, repeated on 429/503 with backoff until `retry_deadline`.

        Raises:
            TransientError: still 429/503 at the deadline.
        """
        try:
            return self._retry(attempt)()
        except api_exceptions.RetryError as exc:
            raise TransientError(f"the engine service stayed busy: {exc.cause}") from exc

    def _send(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> httpx.Response:
        """One request; raises the mapped error for any answer but 2xx."""
        headers = dict(headers or {})
        if self._token_source is not None:
            headers["Authorization"] = f"Bearer {self._token_source()}"
        url = self.base_url + path
        try:
            response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"the Tesseract service timed out after {self.timeout:g} s ({method} {path})") from exc
        except httpx.TransportError as exc:
            log.warning("%s %s failed: %r", method, url, exc)  # a message a client may see names no address
            raise TransientError(f"the Tesseract service could not be reached ({method} {path}: {type(exc).__name__})") from exc
        if response.is_success:
            return response
        raise _error_for(response)

    @staticmethod
    def _json(response: httpx.Response) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise EngineError(f"the Tesseract service answered {response.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise EngineError(f"the Tesseract service answered a JSON {type(body).__name__}, not an object")
        return body

    @staticmethod
    def _log_retry(exc: Exception) -> None:
        log.warning("tesseract container busy, retrying: %s", exc)


def _error_for(response: httpx.Response) -> PageSageError:
    """The PageSage error for a non-2xx answer (see the module docstring)."""
    status = response.status_code
    detail, code = _error_body(response)
    where = f"{response.request.method} {response.request.url.path} -> {status}"
    if status in RETRIED_STATUSES:
        return _Retryable(f"{where}: {detail}")
    if status >= 500:
        return TransientError(f"{where}: {detail}")
    if status in (401, 403):
        return PageSageError(f"{where}: the engine service refused this caller's identity ({detail})")
    known = {c.value for c in JobErrorCode}
    return EngineError(f"{where}: {detail}", error_code=code if code in known else None)


def _error_body(response: httpx.Response) -> tuple[str, str | None]:
    """(detail, error_code) of the common error body, or the start of any other body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase, None
    if isinstance(body, dict):
        return str(body.get("detail", body))[:500], body.get("error_code")
    return str(body)[:200], None


def _expiry(token: str) -> float:
    """The `exp` claim (Unix seconds) of a JWT, read without verifying it: the token is only
    passed on, and the receiving service verifies it."""
    from google.auth import jwt

    try:
        return float(jwt.decode(token, verify=False)["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PageSageError(f"the ID token has no readable exp claim: {exc}") from exc


def _fetch_google_id_token(audience: str) -> str:
    """An ID token for `audience` from Application Default Credentials.

    Raises:
        PageSageError: no credentials that can mint ID tokens.
        TransientError: fetching failed (metadata server, token endpoint).
    """
    import google.auth.exceptions
    import google.auth.transport.requests
    import google.oauth2.id_token

    try:
        return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise PageSageError(f"no credentials to mint an ID token for {audience}: {exc}") from exc
    except google.auth.exceptions.GoogleAuthError as exc:
        raise TransientError(f"fetching an ID token for {audience} failed: {exc}") from exc

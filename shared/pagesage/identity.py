"""Who is calling: the verified caller an edit is attributed to.

In Google Cloud the caller is a Google-signed identity, never a name the request states:

* behind Identity-Aware Proxy (`PAGESAGE_IAP_AUDIENCE` set), IAP's signed header
  `X-Goog-IAP-JWT-Assertion`: an ES256 JWT checked against IAP's public keys (`IAP_CERTS_URL`),
  issuer `https://cloud.google.com/iap`, audience `PAGESAGE_IAP_AUDIENCE`;
* with `PAGESAGE_ID_TOKEN_AUDIENCE` set, a Google ID token sent as `Authorization: Bearer`:
  checked against Google's OAuth 2.0 certificates (`GOOGLE_CERTS_URL`), issuer
  `accounts.google.com` or `https://accounts.google.com`, audience `PAGESAGE_ID_TOKEN_AUDIENCE`
  (what `google.oauth2.id_token.verify_oauth2_token` checks, with the certificates' address
  taken from this module so that it can be pointed elsewhere).

Signature, expiry (`exp`, `iat`, with `CLOCK_SKEW_SECONDS` of tolerance) and audience are
verified by google-auth (`google.oauth2.id_token.verify_token`), the issuer (`iss`) by this
module: the claims of a JSON Web Token (RFC 7519 §4.1) as an OpenID Connect ID token carries
them (OpenID Connect Core 1.0 §2). The caller's `userId` is the token's `email` (unless the token says `email_verified` false), else its
`sub`; its `name` the token's `name`, else the e-mail, else the subject.

Locally (neither audience set) the caller is the configured `PAGESAGE_USER`, "Ada Lovelace
<ada@example.org>" or just a name. A deployment that verifies identities never falls back to it.

A token that fails verification raises `Unauthorized` with a plain message (never the token, nor
google-auth's text, which is logged); keys that cannot be fetched raise `TransientError` (503).
An edit endpoint calls `require_caller`, which answers 401 when there is no identity at all.

Public keys are cached per address for the `max-age` the key server gives (else
`CERTS_CACHE_SECONDS`), and fetched again when a token names a key id the cache lacks (Google
rotates its keys).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pagesage.book.domain.model import UserAttribution
from pagesage.errors import TransientError, Unauthorized

if TYPE_CHECKING:
    from pagesage.config import Settings

log = logging.getLogger(__name__)

IAP_HEADER = "X-Goog-IAP-JWT-Assertion"
"""The header Identity-Aware Proxy signs every request it lets through with."""

IAP_CERTS_URL = "https://www.gstatic.com/iap/verify/public_key"
"""IAP's public keys: JSON `{key id: PEM public key}`."""

IAP_ISSUER = "https://cloud.google.com/iap"
"""The `iss` of IAP's assertions."""

IAP_ALGORITHM = "ES256"
"""IAP signs with ECDSA P-256 and SHA-256; an assertion with another `alg` is refused."""

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
"""Google's OAuth 2.0 certificates for ID tokens (google-auth's default for `verify_oauth2_token`)."""

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
"""The `iss` values of Google ID tokens."""

CLOCK_SKEW_SECONDS = 10
"""Tolerance on `iat` and `exp`, seconds, for clocks slightly apart."""

CERTS_CACHE_SECONDS = 300
"""How long fetched public keys are kept when the key server gives no `max-age`, seconds."""

CERTS_TIMEOUT_SECONDS = 10
"""Timeout of one fetch of public keys, seconds."""

_MAX_TOKEN_CHARS = 16_384
"""Longest token looked at (a Google ID token is ~1 KB)."""


def caller(headers: Mapping[str, str], settings: Settings) -> UserAttribution | None:
    """The verified caller of a request with `headers`, None when it carries no identity.

    IAP's assertion is used when `settings.iap_audience` is set and the header is there; else a
    bearer Google ID token when `settings.id_token_audience` is set (the operator's
    `PAGESAGE_API_TOKEN` sent as bearer names nobody and is passed over); else, when neither
    audience is set, `settings.user`.

    Raises:
        Unauthorized: a token is there and fails verification (forged, expired, another
            audience or issuer, malformed).
        TransientError: the public keys could not be fetched.
    """
    if settings.iap_audience:
        assertion = _header(headers, IAP_HEADER)
        if assertion:
            claims = _verify(assertion, audience=settings.iap_audience, certs_url=IAP_CERTS_URL,
                             issuers=(IAP_ISSUER,), algorithms=(IAP_ALGORITHM,), what="IAP assertion")
            return _attribution(claims)
    if settings.id_token_audience:
        token = _bearer(headers)
        if token and not _is_api_token(token, settings):
            claims = _verify(token, audience=settings.id_token_audience, certs_url=GOOGLE_CERTS_URL,
                             issuers=GOOGLE_ISSUERS, algorithms=None, what="ID token")
            return _attribution(claims)
    if not settings.iap_audience and not settings.id_token_audience and settings.user:
        return configured_user(settings.user)
    return None


def require_caller(headers: Mapping[str, str], settings: Settings) -> UserAttribution:
    """The verified caller, for an endpoint that edits.

    Raises:
        Unauthorized: no identity at all (HTTP 401), or one that fails verification.
        TransientError: the public keys could not be fetched.
    """
    found = caller(headers, settings)
    if found is None:
        raise Unauthorized(_missing_identity_message(settings))
    return found


def configured_user(value: str) -> UserAttribution:
    """`PAGESAGE_USER` as the caller: "Ada Lovelace <ada@example.org>" (name and e-mail, userId
    the e-mail), "ada@example.org" (the e-mail as both), or a plain name ("Ada Lovelace", userId
    the name).

    Raises:
        ValueError: empty, or an address in `<...>` that is not an e-mail.
    """
    text = value.strip()
    if not text:
        raise ValueError("PAGESAGE_USER is empty")
    if "<" in text or "@" in text:
        name, address = parseaddr(text)
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address or ""):
            raise ValueError("PAGESAGE_USER must be a name, an e-mail address, or 'Name <e-mail>'")
        name = name.strip() or address
        return _user(name=name, user_id=address, email=address)
    return _user(name=text, user_id=text, email=None)


# -- verification -----------------------------------------------------------------------------

def _verify(token: str, *, audience: str, certs_url: str, issuers: tuple[str, ...], algorithms: tuple[str, ...] | None,
            what: str) -> Mapping[str, Any]:
    """The claims of `token` once google-auth verified its signature (keys at `certs_url`), its
    times and its audience, and its issuer is one of `issuers`."""
    import google.auth.exceptions
    import google.auth.jwt
    import google.oauth2.id_token

    refused = Unauthorized(f"the {what} could not be verified (signature, expiry, issuer or audience)")
    if len(token) > _MAX_TOKEN_CHARS:
        raise refused
    try:
        header = google.auth.jwt.decode_header(token)
        if algorithms is not None and header.get("alg") not in algorithms:
            log.info("%s refused: algorithm %r", what, header.get("alg"))
            raise refused
        kid = header.get("kid")
        if isinstance(kid, str) and kid not in _CERTS.get(certs_url):
            _CERTS.get(certs_url, refresh=True)  # keys rotated since the last fetch?
        claims = google.oauth2.id_token.verify_token(token, _CERTS.request, audience=audience, certs_url=certs_url,
                                                     clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
    except google.auth.exceptions.TransportError as exc:
        log.warning("%s: public keys unavailable at %s: %s", what, certs_url, exc)
        raise TransientError(f"the keys to verify the {what} could not be fetched; try again") from None
    except Unauthorized:
        raise
    except (google.auth.exceptions.GoogleAuthError, ValueError, TypeError, KeyError) as exc:
        log.info("%s refused: %s", what, exc)  # google-auth's reason, which never holds the token
        raise refused from None
    if claims.get("iss") not in issuers:
        log.info("%s refused: issuer %r", what, claims.get("iss"))
        raise refused
    return claims


def _attribution(claims: Mapping[str, Any]) -> UserAttribution:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the identity token names no subject")
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") in (False, "false"):
        email = None
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        name = email or subject
    try:
        return _user(name=name.strip()[:200], user_id=email or subject, email=email)
    except ValidationError:
        raise Unauthorized("the identity token's name or e-mail is not usable") from None


def _user(*, name: str, user_id: str, email: str | None) -> UserAttribution:
    return UserAttribution(name=name, user_id=user_id, email=email)


def _missing_identity_message(settings: Settings) -> str:
    if settings.iap_audience:
        return f"this endpoint needs a caller signed in through Identity-Aware Proxy ({IAP_HEADER})"
    if settings.id_token_audience:
        return "this endpoint needs a Google ID token as `Authorization: Bearer <token>`"
    return "this endpoint needs a caller: set PAGESAGE_USER (e.g. 'Ada Lovelace <ada@example.org>')"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: look the name up whatever its case
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    value = (value or "").strip()
    return value or None


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = (_header(headers, "Authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _is_api_token(token: str, settings: Settings) -> bool:
    api_token = settings.api_token_value
    return bool(api_token) and hmac.compare_digest(token.encode(), api_token.encode())


# -- public keys ------------------------------------------------------------------------------

class _CertsCache:
    """Public key documents by address, kept for their `max-age`; `request` is a google-auth
    transport request that answers a cached document without fetching it again. A refresh
    (a token naming an unknown key id) fetches at most once per `MIN_REFRESH_SECONDS`, so
    tokens with made-up key ids cannot make every request fetch."""

    MIN_REFRESH_SECONDS = 30

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[float, float, bytes]] = {}  # url -> (fetched, expires, body)
        self._transport = None

    def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        """The key document at `url` (key id -> key), fetched when absent, stale or `refresh`."""
        try:
            document = json.loads(self._fetch(url, refresh=refresh))
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    def request(self, url: str, method: str = "GET", body=None, headers=None, timeout=None, **kwargs):
        """google-auth's `Request` interface: a GET of a key document, from the cache."""
        if method != "GET" or body is not None:
            return self._get_transport()(url, method=method, body=body, headers=headers,
                                         timeout=timeout or CERTS_TIMEOUT_SECONDS, **kwargs)
        return _Response(self._fetch(url))

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()

    def _fetch(self, url: str, *, refresh: bool = False) -> bytes:
        now = time.monotonic()
        with self._lock:
            cached = self._documents.get(url)
        if cached:
            fetched, expires, body = cached
            if now < expires and (not refresh or now - fetched < self.MIN_REFRESH_SECONDS):
                return body
        import google.auth.exceptions

        response = self._get_transport()(url, method="GET", timeout=CERTS_TIMEOUT_SECONDS)
        if response.status != 200:
            raise google.auth.exceptions.TransportError(f"key server answered HTTP {response.status}")
        with self._lock:
            self._documents[url] = (now, now + _max_age(response.headers), response.data)
        return response.data

    def _get_transport(self):
        if self._transport is None:
            import google.auth.transport.requests

            self._transport = google.auth.transport.requests.Request()
        return self._transport


class _Response:
    """A cached key document as google-auth's transport `Response`."""

    status = 200
    headers: dict[str, str] = {}

    def __init__(self, data: bytes) -> None:
        self.data = data


def _max_age(headers: Mapping[str, str] | None) -> float:
    """Seconds a key document may be kept: its `Cache-Control: max-age` (at most a day), else
    `CERTS_CACHE_SECONDS`."""
    headers = headers or {}
    control = headers.get("Cache-Control") or headers.get("cache-control") or ""
    match = re.search(r"max-age=(\d+)", control)
    return min(int(match.group(1)), 86_400) if match else CERTS_CACHE_SECONDS


_CERTS = _CertsCache()
"""The process's key cache."""

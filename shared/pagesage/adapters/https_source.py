"""Fetch a document a client names by URL, under the fetch policy (`domain.fetch_policy`,
docs/security.md "Fetching what a client names").

Each hop: the URL is checked, its host resolved once and every address checked, and httpx
connects to the first checked address itself — the request goes to `https://<address>/...` with
the `Host` header and the TLS server name (SNI, certificate check) of the URL's host — so there
is no second lookup a name could answer differently. Redirects are followed here, at most
`max_redirects`, each hop checked the same way. The body is streamed to `dest`, hashed as it
goes and cut off past `max_bytes`.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import datetime, timezone
from typing import BinaryIO, Callable
from urllib.parse import urljoin

import httpx

from pagesage.adapters.source_body import CHUNK, TRANSIENT_STATUSES, CappedWriter, check_size
from pagesage.ports import Fetched
from pagesage.domain.fetch_policy import DEFAULT_PORTS, AllowList, FetchTarget, IPAddress, check_addresses, check_url
from pagesage.errors import FetchFailed, SourceForbidden, SourceNotFound

Resolver = Callable[[FetchTarget], list[IPAddress]]


def resolve(target: FetchTarget) -> list[IPAddress]:
    """The addresses of `target.host` (its literal, or a DNS lookup through the system
    resolver), each once, in the resolver's order.

    Raises:
        FetchFailed: the name does not resolve (transient: DNS can recover).
    """
    if target.literal is not None:
        return [target.literal]
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchFailed(f"{target.host} does not resolve", transient=True) from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def fetch(url: str, dest: BinaryIO, *, allow: AllowList, max_bytes: int, timeout: float = 30.0,
          max_redirects: int = 3, resolver: Resolver = resolve, transport: httpx.BaseTransport | None = None,
          verify: ssl.SSLContext | bool = True) -> Fetched:
    """GET `url` into `dest` (a binary file open for writing), under the fetch policy.

    Args:
        allow: the operator's allow-list (`PAGESAGE_FETCH_ALLOW_HOSTS`).
        max_bytes: the most bytes accepted (the upload limit).
        timeout: seconds for connecting and between two reads.
        max_redirects: hops followed after the first request.
        resolver, transport: the name lookup and httpx transport (tests).
        verify: the TLS context servers are verified with (True: the certifi bundle).

    Raises:
        UrlNotAllowed: the URL, a redirect's target or an address is refused (before any
            request to it).
        FileTooLarge: the body is, or is announced to be, over `max_bytes`; `dest` then holds
            a prefix the caller discards.
        SourceNotFound, SourceForbidden: HTTP 404/410, 401/403.
        FetchFailed: the connection, TLS, a timeout, too many redirects, another status
            (`retryable` for a timeout, a refused connection, 408, 425, 429, 5xx; not for a
            certificate that fails verification).
    """
    target = check_url(url, allow)
    with httpx.Client(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False, verify=verify) as client:
        for _ in range(max_redirects + 1):
            address = check_addresses(target, resolver(target))[0]
            request = _request(client, target, address)
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException:
                raise FetchFailed(f"{target.host} did not answer in time", transient=True) from None
            except httpx.TransportError as exc:
                if _certificate_refused(exc):  # the same certificate will be refused next time
                    raise FetchFailed(f"the TLS certificate of {target.host} could not be verified") from None
                raise FetchFailed(f"could not connect to {target.host}", transient=True) from None
            fetched_at = datetime.now(timezone.utc)
            try:
                if response.is_redirect and "location" in response.headers:
                    target = check_url(urljoin(target.url, response.headers["location"]), allow)
                    continue
                _raise_for_status(response.status_code, target)
                return _write(response, dest, max_bytes=max_bytes, url=target.url, fetched_at=fetched_at)
            finally:
                response.close()
    raise FetchFailed(f"more than {max_redirects} redirects")


def _certificate_refused(exc: BaseException) -> bool:
    """True when `exc` was caused by a server certificate that failed verification."""
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _request(client: httpx.Client, target: FetchTarget, address: IPAddress) -> httpx.Request:
    """The request for `target` sent to `address`, with the host's `Host` header and SNI."""
    host = _bracketed(target.host)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.literal is None else {}
    return client.build_request(
        "GET", f"{target.scheme}://{_bracketed(str(address))}:{target.port}{target.path}",
        headers={"Host": host if target.port == DEFAULT_PORTS[target.scheme] else f"{host}:{target.port}",
                 "Accept-Encoding": "identity"},
        extensions=extensions)


def _bracketed(host: str) -> str:
    """A host as a URL authority writes it: an IPv6 address in brackets (RFC 3986 §3.2.2)."""
    return f"[{host}]" if ":" in host else host


def _raise_for_status(status: int, target: FetchTarget) -> None:
    if 200 <= status < 300:
        return
    if status in (404, 410):
        raise SourceNotFound(f"{target.host} has no such document (HTTP {status})")
    if status in (401, 403):
        raise SourceForbidden(f"{target.host} refused the request (HTTP {status})")
    raise FetchFailed(f"{target.host} answered HTTP {status}", transient=status in TRANSIENT_STATUSES)


def _write(response: httpx.Response, dest: BinaryIO, *, max_bytes: int, url: str, fetched_at: datetime) -> Fetched:
    announced = response.headers.get("content-length", "")
    if announced.isdigit():
        check_size(int(announced), max_bytes)
    writer = CappedWriter(dest, max_bytes)
    try:
        for chunk in response.iter_raw(CHUNK):
            writer.write(chunk)
    except httpx.TimeoutException:
        raise FetchFailed("the answer stopped arriving", transient=True) from None
    except httpx.TransportError:
        raise FetchFailed("the connection broke during the answer", transient=True) from None
    return writer.fetched(etag=response.headers.get("etag"), content_type=response.headers.get("content-type"),
                          url=url, fetched_at=fetched_at)

"""Fetching a URL under the fetch policy, from a loopback HTTP server on the allow-list: the
bytes and their SHA-256, redirects checked hop by hop, the size cap, status codes, and the
connection made to the checked address."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import ssl
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import trustme

from pagesage import emulators
from pagesage.adapters.https_source import fetch
from pagesage.domain.fetch_policy import AllowList
from pagesage.errors import FetchFailed, FileTooLarge, SourceForbidden, SourceNotFound, UrlNotAllowed

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "tesseract-testing-2pages.pdf"
LOOPBACK = ipaddress.ip_address("127.0.0.1")


class Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append((self.path, self.headers.get("Host", "")))
        status, headers, body = self.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    with _serve() as served:
        yield served


@contextmanager
def _serve(tls: ssl.SSLContext | None = None):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    pdf = SAMPLE.read_bytes()
    Handler.seen = []
    Handler.routes = {
        "/scan.pdf": (200, {"ETag": '"v1"', "Content-Type": "application/pdf"}, pdf),
        "/moved": (302, {"Location": "/scan.pdf"}, b""),
        "/twice": (301, {"Location": f"http://corpus.test:{port}/moved"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/to-other-port": (302, {"Location": f"http://127.0.0.1:{port + 1}/scan.pdf"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/forbidden": (403, {}, b"no"),
        "/gone": (410, {}, b"gone"),
        "/busy": (503, {}, b"later"),
        "/teapot": (418, {}, b"tea"),
        "/announced": (200, {"Content-Length": "999999999"}, b""),
    }
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield port, pdf
    finally:
        httpd.shutdown()
        httpd.server_close()


def allow(port: int) -> AllowList:
    return AllowList.parse(f"127.0.0.1:{port},corpus.test:{port}")


def only_loopback(target):
    """The test's DNS: `corpus.test` is loopback; the system resolver knows no such name."""
    assert target.host in ("corpus.test", "127.0.0.1")
    return [LOOPBACK]


def test_a_document_is_fetched_whole_with_its_hash_size_and_etag(server):
    port, pdf = server
    out = io.BytesIO()
    fetched = fetch(f"http://127.0.0.1:{port}/scan.pdf", out, allow=allow(port), max_bytes=len(pdf))
    assert out.getvalue() == pdf
    assert (fetched.sha256, fetched.size, fetched.etag, fetched.content_type) == \
        (hashlib.sha256(pdf).hexdigest(), len(pdf), '"v1"', "application/pdf")


def test_the_connection_goes_to_the_checked_address_with_the_hosts_name(server):
    port, pdf = server
    out = io.BytesIO()
    fetched = fetch(f"http://corpus.test:{port}/twice", out, allow=allow(port), max_bytes=len(pdf),
                    resolver=only_loopback)
    # `corpus.test` resolves only through the checked resolver: httpx made no lookup of its own
    assert out.getvalue() == pdf and fetched.url == f"http://corpus.test:{port}/scan.pdf"
    assert Handler.seen == [(p, f"corpus.test:{port}") for p in ("/twice", "/moved", "/scan.pdf")]


def test_a_name_resolving_to_loopback_is_refused_before_any_request(server):
    port, _ = server
    with pytest.raises(UrlNotAllowed):
        fetch(f"https://corpus.test:{port}/scan.pdf", io.BytesIO(), allow=AllowList(), max_bytes=10**8,
              resolver=only_loopback)
    assert Handler.seen == []


@pytest.mark.parametrize("path", ["/to-metadata", "/to-other-port"])
def test_every_redirect_hop_is_checked(server, path):
    port, _ = server
    with pytest.raises(UrlNotAllowed):
        fetch(f"http://127.0.0.1:{port}{path}", io.BytesIO(), allow=allow(port), max_bytes=10**8)
    assert [p for p, _ in Handler.seen] == [path]  # the refused target was never asked


def test_redirects_stop_after_max_redirects(server):
    port, _ = server
    with pytest.raises(FetchFailed) as failed:
        fetch(f"http://127.0.0.1:{port}/loop", io.BytesIO(), allow=allow(port), max_bytes=10**8, max_redirects=3)
    assert failed.value.error_code == "fetch_failed" and not failed.value.retryable
    assert len(Handler.seen) == 4


def test_a_body_over_the_limit_is_cut_off(server):
    port, pdf = server
    with pytest.raises(FileTooLarge):
        fetch(f"http://127.0.0.1:{port}/scan.pdf", io.BytesIO(), allow=allow(port), max_bytes=len(pdf) - 1)
    out = io.BytesIO()
    with pytest.raises(FileTooLarge):
        fetch(f"http://127.0.0.1:{port}/announced", out, allow=allow(port), max_bytes=10**6)
    assert out.getvalue() == b""  # refused on the announced length, before reading


@pytest.mark.parametrize(("path", "error", "code", "retryable"), [
    ("/missing", SourceNotFound, "not_found", False), ("/gone", SourceNotFound, "not_found", False),
    ("/forbidden", SourceForbidden, "forbidden", False), ("/busy", FetchFailed, "fetch_failed", True),
    ("/teapot", FetchFailed, "fetch_failed", False),
])
def test_status_codes_become_fetch_errors(server, path, error, code, retryable):
    port, _ = server
    with pytest.raises(error) as failed:
        fetch(f"http://127.0.0.1:{port}{path}", io.BytesIO(), allow=allow(port), max_bytes=10**8)
    assert failed.value.error_code == code and failed.value.retryable is retryable


def test_a_refused_connection_is_a_transient_failure():
    closed = emulators.free_port()  # bound and released: nothing listens there
    with pytest.raises(FetchFailed) as failed:
        fetch(f"http://127.0.0.1:{closed}/scan.pdf", io.BytesIO(), allow=allow(closed), max_bytes=10**8, timeout=5)
    assert failed.value.retryable


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def https_server(ca: trustme.CA, name: str):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return _serve(context)


def trusting(ca: trustme.CA) -> httpx.HTTPTransport:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return httpx.HTTPTransport(verify=context)


def test_https_is_verified_against_the_urls_host_while_connecting_to_its_checked_address(ca):
    out = io.BytesIO()
    with https_server(ca, "corpus.test") as (port, pdf):
        # the request goes to 127.0.0.1, the certificate names corpus.test: it passes only with
        # the URL's host as the TLS server name
        fetched = fetch(f"https://corpus.test:{port}/scan.pdf", out, allow=allow(port), max_bytes=len(pdf),
                        resolver=only_loopback, transport=trusting(ca))
    assert out.getvalue() == pdf and fetched.sha256 == hashlib.sha256(pdf).hexdigest()


def test_a_certificate_for_another_name_fails_the_fetch(ca):
    with https_server(ca, "other.test") as (port, _), pytest.raises(FetchFailed) as failed:
        fetch(f"https://corpus.test:{port}/scan.pdf", io.BytesIO(), allow=allow(port), max_bytes=10**8,
              resolver=only_loopback, transport=trusting(ca))
    assert Handler.seen == []
    assert not failed.value.retryable and "certificate" in failed.value.detail  # it would be refused again

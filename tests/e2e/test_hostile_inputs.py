"""Hostile inputs against the server users actually run: `pagesage serve` in a subprocess.

One server for the module (embedded backend in a temporary data folder, one worker, no rate
limit, `PAGESAGE_MEMORY_BYTES` 2 GiB so the page pixel limit is about 44.7 megapixels), spoken
to over real sockets: httpx for what a client library sends, raw sockets for the HTTP that
httpx refuses to produce. Every bad input is checked for:

1. its status and `error_code`, `Content-Type: application/json` and the common error body
   (`detail` non-empty, `timestamp` ISO 8601, optional `status`/`field`);
2. no stack trace and no server path in the body;
3. the server still serving afterwards;
4. nothing stored: no original, job, spooled upload, source document, run, page result,
   token, review or link more than before.

Inputs that are accepted but cannot be read must fail their job with the stated code and a
clean message; unusual but valid scans (owner-password PDF, CMYK JPEG, 16-bit PNG, palette +
alpha PNG, EXIF-rotated JPEG) must be read. Every fixture is generated here, in memory, from
`samples/alice_1.png` and `samples/tesseract-testing-2pages.pdf` (PDFs are written by hand,
encryption included: RC4 128-bit, ISO 32000-1 §7.6.3, as pypdf is not installed).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from conftest import REPO, SAMPLES, wait_for
from servers import LiveServer
from lxml import etree
from markdown_it import MarkdownIt
from PIL import Image, ImageDraw, ImageFont

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary and its eng model")

Image.MAX_IMAGE_PIXELS = 1_000_000_000  # the fixtures below open their own bombs' headers

API = "/api/v1/ocr"
UNKNOWN_JOB = "A" * 43
LIMIT = 26_214_400  # the default PAGESAGE_MAX_UPLOAD_BYTES
MIB = 1024 * 1024
MEMORY_BYTES = 2 * 1024**3  # -> max_page_pixels = 2 GiB / 1 worker * 0.5 / 24 = 44,739,242
BOUNDARY = b"hostileBoundary7d1f"
ALICE_WORDS = {"Alice", "sister", "book", "pictures", "conversations"}
"""Words of the first paragraph of samples/alice_1.png (the crop every image fixture shows)."""

BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# -- the server ------------------------------------------------------------------------------

@dataclass
class Reply:
    """One HTTP answer, from httpx or a raw socket. `closed`: the server closed the connection
    after it (only measured when asked)."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> "Reply":
        return cls(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    def json(self):
        return json.loads(self.body)


@dataclass(frozen=True)
class Snapshot:
    """What the server has stored: compared before and after a refused request."""

    originals: frozenset[str]
    spooled_uploads: frozenset[str]
    source_docs: tuple[str, ...]
    rows: tuple[tuple[str, int], ...]


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    http: httpx.Client = field(repr=False)

    # requests
    def request(self, method: str, path: str, **kwargs) -> Reply:
        return Reply.of(self.http.request(method, path, **kwargs))

    def upload(self, data: bytes, name: str = "scan.png", content_type: str = "image/png", **fields) -> Reply:
        return self.request("POST", "/upload", files={"file": (name, data, content_type)}, data=fields)

    def upload_raw(self, body: bytes, content_type: str = f"multipart/form-data; boundary={BOUNDARY.decode()}") -> Reply:
        return self.request("POST", "/upload", content=body, headers={"Content-Type": content_type})

    def post_json(self, path: str, body) -> Reply:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", API + path, content=content, headers={"Content-Type": "application/json"})

    def wait(self, job_id: str, timeout: float = 120.0) -> dict:
        """Poll /status until the job completed or failed; the last status body."""
        def finished() -> dict | None:
            reply = self.request("GET", f"/status/{job_id}")
            assert reply.status == 200, reply.body[:200]
            status = reply.json()
            return status if status["status"] in ("completed", "failed") else None

        return wait_for(finished, timeout, f"job {job_id} unfinished", interval=0.1)

    def submit(self, data: bytes, name: str, content_type: str, **fields) -> tuple[str, dict]:
        """Upload, expect 202, wait for the job: (job id, final status)."""
        reply = self.upload(data, name=name, content_type=content_type, **fields)
        assert reply.status == 202, (reply.status, reply.body[:200])
        job_id = reply.json()["job_id"]
        return job_id, self.wait(job_id)

    # liveness and storage
    def assert_alive(self) -> None:
        """The server still answers: an unknown job is a 404 JSON."""
        reply = self.request("GET", f"/status/{UNKNOWN_JOB}")
        assert_error(reply, 404, "not_found", self)

    def _rows(self) -> tuple[tuple[str, int], ...]:
        db = sqlite3.connect(f"file:{self.data_dir / 'pagesage.db'}?mode=ro", uri=True, timeout=10)
        try:
            return tuple((t, db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])  # noqa: S608 - fixed names
                         for t in ("jobs", "source_docs", "doc_pages", "runs", "page_results", "tokens", "reviews", "links"))
        finally:
            db.close()

    def source_doc_ids(self) -> tuple[str, ...]:
        """Every source document, through the API (`GET source_docs`, all pages of the list)."""
        ids, cursor = [], None
        while True:
            reply = self.request("GET", f"{API}/source_docs", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
            assert reply.status == 200, reply.body[:200]
            page = reply.json()
            ids += [d["source_doc_id"] for d in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return tuple(ids)

    def snapshot(self) -> Snapshot:
        originals = self.data_dir / "blobs" / "originals"
        tmp = self.data_dir / "tmp"
        return Snapshot(
            originals=frozenset(str(p.relative_to(originals)) for p in originals.rglob("*") if p.is_file()) if originals.exists() else frozenset(),
            spooled_uploads=frozenset(p.name for p in tmp.glob("pagesage-upload-*")) if tmp.exists() else frozenset(),
            source_docs=self.source_doc_ids(),
            rows=self._rows(),
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """`pagesage serve` on a free loopback port, in a subprocess, for the whole module."""
    live = LiveServer(tmp_path_factory.mktemp("hostile") / "data", env={"PAGESAGE_MEMORY_BYTES": str(MEMORY_BYTES)})
    live.start(timeout=60)
    client = httpx.Client(base_url=live.url, timeout=httpx.Timeout(60.0, connect=5.0))
    try:
        yield Server(url=live.url, port=live.port, data_dir=live.data_dir, log_path=live.log, process=live.process, http=client)
    finally:
        client.close()
        live.stop()


# -- assertions ------------------------------------------------------------------------------

ERROR_KEYS = {"detail", "error_code", "timestamp", "status", "field"}
_PY_FILE = re.compile(rb"[\w-]+\.py\b")


def assert_no_leak(body: bytes, server: Server) -> None:
    """No stack trace and no server path (data folder, checkout, temporary folder, a .py file)."""
    for needle in (b"Traceback", b'File "', b"/tmp", b"/work", str(server.data_dir).encode(), str(REPO).encode()):
        assert needle not in body, f"{needle!r} leaked in {body[:300]!r}"
    assert not _PY_FILE.search(body), f"a .py file name leaked in {body[:300]!r}"


def assert_error(reply: Reply, status: int, code: str, server: Server) -> dict:
    """`reply` is the common JSON error body with `status` and `code`; returns the body."""
    assert reply.status == status, f"expected {status} {code}, got {reply.status}: {reply.body[:200]!r}"
    content_type = reply.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", f"Content-Type {content_type!r}: {reply.body[:200]!r}"
    body = reply.json()
    assert isinstance(body, dict) and {"detail", "error_code", "timestamp"} <= set(body) <= ERROR_KEYS, body
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    assert body["error_code"] == code, body
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None, body
    assert_no_leak(reply.body, server)
    return body


# -- raw HTTP ----------------------------------------------------------------------------------

def raw_request(server: Server, data: bytes | Iterator[bytes], *, timeout: float = 30.0,
                check_closed: bool = False) -> Reply:
    """Send bytes as they are and read one response (http.client's parser)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        first = b""
        try:
            for piece in ([data] if isinstance(data, bytes) else data):
                first = first or piece
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything: read its answer
        method = first.split(b" ", 1)[0].decode("latin-1") or "GET"
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            body = response.read()
        except TimeoutError:
            raise AssertionError(f"no answer within {timeout} s") from None
        headers = {k.lower(): v for k, v in response.getheaders()}
        closed = None
        if check_closed:
            closed = headers.get("connection", "").lower() == "close" or _eof_within(sock, 2.0)
        return Reply(response.status, headers, body, closed)
    finally:
        sock.close()


def _eof_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def http_head(request_line: bytes, *headers: bytes) -> bytes:
    return request_line + b"\r\nHost: 127.0.0.1\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


MULTIPART = b"Content-Type: multipart/form-data; boundary=" + BOUNDARY


def part(disposition: bytes, data: bytes, content_type: bytes | None = b"image/png") -> bytes:
    """One multipart/form-data part, its Content-Disposition parameters given as bytes."""
    head = b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; " + disposition + b"\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    return head + b"\r\n" + data + b"\r\n"


END = b"--" + BOUNDARY + b"--\r\n"


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer coding of `pieces`."""
    for piece in pieces:
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


# -- fixtures built in memory ------------------------------------------------------------------

@cache
def alice() -> Image.Image:
    """The title and first paragraph of samples/alice_1.png (a scanned book page), 2488 x 1100."""
    with Image.open(SAMPLES / "alice_1.png") as page:
        return page.crop((0, 0, 2488, 1100)).convert("L")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@cache
def alice_png() -> bytes:
    return encoded(alice(), "PNG")


@cache
def blank_png() -> bytes:
    """A small white page: OCR'd at once (no words)."""
    return encoded(Image.new("L", (200, 80), 255), "PNG")


@cache
def sample_pdf() -> bytes:
    return (SAMPLES / "tesseract-testing-2pages.pdf").read_bytes()


def grey16_png() -> bytes:
    """alice as a 16-bit greyscale PNG (each 8-bit value v stored as v * 257)."""
    grey = alice().tobytes()
    wide = bytearray(2 * len(grey))
    wide[0::2] = grey
    wide[1::2] = grey
    data = encoded(Image.frombytes("I;16", alice().size, bytes(wide)), "PNG")
    assert data[24] == 16 and data[25] == 0  # IHDR: bit depth 16, colour type 0 (greyscale)
    return data


def palette_alpha_png() -> bytes:
    """alice as an 8-colour palette PNG whose paper colour is transparent (a tRNS chunk)."""
    palette = alice().convert("RGB").quantize(8)
    colours = palette.getpalette()[:24]
    paper = max(range(8), key=lambda i: sum(colours[3 * i:3 * i + 3]))
    data = encoded(palette, "PNG", transparency=paper)
    assert b"PLTE" in data and b"tRNS" in data
    return data


def cmyk_jpeg() -> bytes:
    data = encoded(alice().convert("CMYK"), "JPEG", quality=90)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "CMYK"
    return data


def exif_rotated_jpeg() -> bytes:
    """alice stored turned 90° anticlockwise with EXIF Orientation 6 ("rotate 90° clockwise to
    display"): upright only for a reader that applies the tag."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(alice().transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif)


def script_png() -> bytes:
    """A page whose text is markup: `<script>alert(1)</script> ]]>`."""
    canvas = Image.new("L", (2400, 400), 255)
    ImageDraw.Draw(canvas).text((60, 120), "<script>alert(1)</script> ]]>", fill=0, font=ImageFont.load_default(size=120))
    return encoded(canvas, "PNG", dpi=(300, 300))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zeros_deflated(row: bytes, rows: int) -> bytes:
    z = zlib.compressobj(9)
    block = row * 256
    out = [z.compress(block) for _ in range(rows // 256)]
    return b"".join(out) + z.compress(row * (rows % 256)) + z.flush()


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width x height white pixels, a few hundred KB."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = _zeros_deflated(b"\x00" + b"\xff" * ((width + 7) // 8), height)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def tiff_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit TIFF of width x height (WhiteIsZero), one Deflate strip of zeros."""
    strip = _zeros_deflated(bytes((width + 7) // 8), height)
    tags = [(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, 8), (262, 3, 0), (273, 4, None),
            (277, 3, 1), (278, 4, height), (279, 4, len(strip))]
    strip_offset = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        value = strip_offset if value is None else value
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + strip


def jpeg_header_bomb(width: int = 65_500, height: int = 65_500) -> bytes:
    """A tiny JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(encoded(Image.new("L", (16, 16), 255), "JPEG"))
    at = 2
    while data[at + 1] != 0xC0:  # walk the marker segments to the baseline frame header
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def tiff_frames(count: int) -> bytes:
    frames = [Image.new("1", (16, 16), 1) for _ in range(count)]
    return encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:], compression="group4")


# PDFs, written by hand (ISO 32000-1), optionally with the standard security handler.

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_PDF_ID = b"pagesage-hostile"


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def _security(user: str, owner: str, permissions: int = -3904) -> tuple[bytes, bytes, int, bytes]:
    """RC4 128-bit, revision 3 (ISO 32000-1 §7.6.3.3, algorithms 2, 3 and 5): O, U, P, file key."""
    padded = lambda pw: (pw.encode("latin-1") + _PAD)[:32]  # noqa: E731
    digest = hashlib.md5(padded(owner or user)).digest()
    for _ in range(50):
        digest = hashlib.md5(digest).digest()
    o = _rc4(digest, padded(user))
    for i in range(1, 20):
        o = _rc4(bytes(b ^ i for b in digest), o)
    digest = hashlib.md5(padded(user) + o + struct.pack("<i", permissions) + _PDF_ID).digest()
    for _ in range(50):
        digest = hashlib.md5(digest).digest()
    key = digest
    u = _rc4(key, hashlib.md5(_PAD + _PDF_ID).digest())
    for i in range(1, 20):
        u = _rc4(bytes(b ^ i for b in key), u)
    return o, u + bytes(16), permissions, key


def build_pdf(objects: list[tuple[str, bytes | None]], *, passwords: tuple[str, str] | None = None) -> bytes:
    """A PDF of `objects` (dictionary text, stream data or None), numbered from 1, object 1 the
    catalog; with `passwords` (user, owner) its streams are encrypted."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    security = _security(*passwords) if passwords else None
    for number, (text, stream) in enumerate(objects, start=1):
        offsets.append(out.tell())
        if stream is None:
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, text.encode()))
            continue
        if security:
            object_key = hashlib.md5(security[3] + struct.pack("<I", number)[:3] + b"\x00\x00").digest()
            stream = _rc4(object_key, stream)
        out.write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (number, text.encode(), len(stream), stream))
    encrypt = b""
    if security:
        o, u, p, _ = security
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /O <%s> /U <%s> /P %d >>\nendobj\n"
                  % (len(offsets), o.hex().encode(), u.hex().encode(), p))
        encrypt = b" /Encrypt %d 0 R" % len(offsets)
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>]%s >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(offsets) + 1, _PDF_ID.hex().encode(), _PDF_ID.hex().encode(), encrypt, xref))
    return out.getvalue()


def image_pdf(image: Image.Image, *, dpi: int = 300, passwords: tuple[str, str] | None = None) -> bytes:
    """A one-page PDF showing `image` (a greyscale JPEG) at `dpi`."""
    jpeg = encoded(image.convert("L"), "JPEG", quality=90)
    w, h = image.size
    pw, ph = w * 72 / dpi, h * 72 / dpi
    return build_pdf([
        ("<< /Type /Catalog /Pages 2 0 R >>", None),
        ("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", None),
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] /Resources << /XObject << /Im0 5 0 R >> >> "
         "/Contents 4 0 R >>", None),
        ("", f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im0 Do Q".encode()),
        (f"/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8 "
         "/Filter /DCTDecode", jpeg),
    ], passwords=passwords)


def blank_pages_pdf(count: int) -> bytes:
    """`count` empty one-inch pages."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(count))
    return build_pdf([("<< /Type /Catalog /Pages 2 0 R >>", None),
                      (f"<< /Type /Pages /Kids [{kids}] /Count {count} /MediaBox [0 0 72 72] >>", None)]
                     + [("<< /Type /Page /Parent 2 0 R >>", None)] * count)


ZIP_LOCAL_HEADER = b"PK\x03\x04" + bytes(26)


# -- 1. uploads refused before anything is stored ------------------------------------------------

def _over_limit_file(server: Server) -> Reply:
    return server.upload(b"\x89PNG\r\n\x1a\n" + bytes(LIMIT + 1 - 8), name="big.png")


def _27mib_with_length(server: Server) -> Reply:
    return server.upload(b"\x89PNG\r\n\x1a\n" + bytes(27 * MIB - 8), name="big.png")


def _27mib_multipart_pieces() -> Iterator[bytes]:
    yield b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
    yield b"\x89PNG\r\n\x1a\n" + bytes(MIB - 8)
    for _ in range(26):
        yield bytes(MIB)
    yield b"\r\n" + END


def _27mib_chunked_httpx(server: Server) -> Reply:
    return server.upload_raw(_27mib_multipart_pieces())  # a generator: httpx sends it chunked


def _27mib_chunked_raw(server: Server) -> Reply:
    head = http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Transfer-Encoding: chunked")
    return raw_request(server, iter([head, *chunked(_27mib_multipart_pieces())]))


def _huge_declared_length(server: Server) -> Reply:
    head = http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Content-Length: 1000000000000")
    return raw_request(server, head + b"--" + BOUNDARY + b"\r\n")


def _multipart_file(data: bytes, name: bytes = b"scan.png", content_type: bytes = b"image/png") -> bytes:
    return part(b'name="file"; filename="' + name + b'"', data, content_type)


def _lang(value: str) -> Callable[[Server], Reply]:
    return lambda server: server.upload(alice_png(), lang=value)


def _sends(data: bytes, name: str = "scan.png", content_type: str = "image/png") -> Callable[[Server], Reply]:
    return lambda server: server.upload(data, name=name, content_type=content_type)


def _sends_raw(body: Callable[[], bytes], content_type: str | None = None) -> Callable[[Server], Reply]:
    return lambda server: server.upload_raw(body(), **({"content_type": content_type} if content_type else {}))


REFUSED_UPLOADS = [
    # size
    pytest.param(_over_limit_file, 413, "file_too_large", id="file-of-limit-plus-1-byte"),
    pytest.param(_27mib_with_length, 413, "file_too_large", id="27MiB-with-content-length"),
    pytest.param(_27mib_chunked_httpx, 413, "file_too_large", id="27MiB-chunked-httpx"),
    pytest.param(_27mib_chunked_raw, 413, "file_too_large", id="27MiB-chunked-raw-socket"),
    pytest.param(_huge_declared_length, 413, "file_too_large", id="content-length-1e12-tiny-body"),
    pytest.param(lambda s: s.upload_raw(_multipart_file(alice_png()) + part(b'name="lang"', b"e" * 600_000, None) + END),
                 400, "bad_multipart", id="lang-field-600KB"),
    pytest.param(lambda s: s.upload_raw(b"".join(part(b'name="f%d"' % i, b"x", None) for i in range(200))
                                        + _multipart_file(alice_png()) + END),
                 400, "bad_multipart", id="200-form-parts"),
    # what the bytes are
    pytest.param(_sends(b"GIF89a" + bytes(200), "scan.gif", "image/gif"), 415, "invalid_format", id="gif"),
    pytest.param(_sends(b"plain text, not a scan\n" * 20, "scan.png", "application/octet-stream"), 415, "invalid_format", id="text"),
    pytest.param(_sends(b"<!doctype html><script>alert(1)</script>", "scan.png", "image/png"), 415, "invalid_format",
                 id="html-declared-png"),
    pytest.param(lambda s: s.upload(ZIP_LOCAL_HEADER + bytes(2048) + sample_pdf(), name="poly.pdf", content_type="application/pdf"),
                 415, "invalid_format", id="zip-then-pdf-header-after-1KiB"),
    pytest.param(lambda s: s.upload(ZIP_LOCAL_HEADER + sample_pdf(), name="poly.zip", content_type="application/zip"),
                 400, "content_type_mismatch", id="zip-then-pdf-declared-zip"),
    pytest.param(_sends(b""), 400, "empty_file", id="empty-file"),
    pytest.param(lambda s: s.upload(alice_png(), content_type="application/pdf"), 400, "content_type_mismatch", id="png-declared-pdf"),
    pytest.param(lambda s: s.upload(alice_png(), content_type="text/html"), 400, "content_type_mismatch", id="png-declared-html"),
    # the form
    pytest.param(lambda s: s.request("POST", "/upload", files={"other": ("scan.png", alice_png(), "image/png")}),
                 400, "missing_file", id="no-file-field"),
    pytest.param(lambda s: s.request("POST", "/upload", json={"file": "x"}), 400, "bad_request", id="json-not-multipart"),
    pytest.param(_sends_raw(alice_png, "image/png"), 400, "bad_request", id="raw-png-body"),
    pytest.param(_sends_raw(lambda: _multipart_file(alice_png()) + END, "multipart/form-data"), 400, "bad_multipart",
                 id="multipart-without-boundary"),
    pytest.param(_sends_raw(lambda: _multipart_file(alice_png())), 400, "bad_multipart", id="multipart-without-closing-boundary"),
    pytest.param(_sends_raw(lambda: b"garbage, not a multipart body"), 400, "bad_multipart", id="multipart-garbage"),
    pytest.param(_sends_raw(lambda: _multipart_file(alice_png(), name=b"caf\xe9.png") + END), 400, "bad_multipart",
                 id="latin1-filename"),
    pytest.param(_sends_raw(lambda: _multipart_file(alice_png(), name=b"a\r\nb.png") + END), 400, "missing_filename",
                 id="crlf-in-filename"),
    pytest.param(_sends_raw(lambda: part(b'name="file"', alice_png()) + END), 400, "missing_filename", id="file-part-without-filename"),
    # lang
    pytest.param(_lang("../eng"), 400, "invalid_language", id="lang-dotdot-eng"),
    pytest.param(_lang("eng;rm -rf /"), 400, "invalid_language", id="lang-shell"),
    pytest.param(_lang("$(id)"), 400, "invalid_language", id="lang-command-substitution"),
    pytest.param(_lang("e" * 10_240), 400, "invalid_language", id="lang-10KB"),
    pytest.param(_lang("eng\x00"), 400, "invalid_language", id="lang-nul"),
    pytest.param(_lang("osd"), 400, "invalid_language", id="lang-osd"),
    pytest.param(_lang("eng+osd"), 400, "invalid_language", id="lang-eng+osd"),
    pytest.param(_lang("/usr/share/tesseract-ocr/5/tessdata/eng"), 400, "invalid_language", id="lang-absolute-path"),
]


@pytest.mark.parametrize(("send", "status", "code"), REFUSED_UPLOADS)
def test_refused_upload_stores_nothing(server, send, status, code):
    before = server.snapshot()
    assert_error(send(server), status, code, server)
    server.assert_alive()
    assert server.snapshot() == before


# -- 2. malformed HTTP, unknown paths and methods ----------------------------------------------

MALFORMED_HTTP = [
    pytest.param(http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Transfer-Encoding: chunked") + b"zz\r\nabc\r\n0\r\n\r\n",
                 400, "bad_request", id="chunk-size-not-hex"),
    pytest.param(http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Transfer-Encoding: gzip"), 501, "not_implemented",
                 id="transfer-encoding-gzip"),
    pytest.param(http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Content-Length: abc"), 400, "bad_request",
                 id="content-length-abc"),
    pytest.param(http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Content-Length: -5"), 400, "bad_request",
                 id="content-length-negative"),
    pytest.param(http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Content-Length: 5", b"Content-Length: 6") + b"abcdef",
                 400, "bad_request", id="content-length-twice"),
    pytest.param(http_head(b"GET /status/x HTTP/1.1", b"X-Big: " + b"a" * 262_200), 431, "headers_too_large",
                 id="header-over-256KiB"),
    pytest.param(b"\x00\x01\x02 garbage\r\n\r\n", 400, "bad_request", id="garbage-request-line"),
    pytest.param(http_head(b"GET /status/\xff\xfe HTTP/1.1"), 400, "bad_request", id="non-utf8-path"),
    pytest.param(http_head(b"GET /status/x HTTP/1.1", b"Bad Header: 1"), 400, "bad_request", id="space-in-header-name"),
    pytest.param(http_head(b"POST /api/v1/ocr/runs HTTP/1.1", b"Content-Type: application/json",
                           b"Content-Length: 1000000000000") + b"{}", 413, "file_too_large", id="json-content-length-1e12"),
]


@pytest.mark.parametrize(("data", "status", "code"), MALFORMED_HTTP)
def test_malformed_http_is_answered_with_json(server, data, status, code):
    before = server.snapshot()
    assert_error(raw_request(server, data), status, code, server)
    server.assert_alive()
    assert server.snapshot() == before


def test_content_length_with_transfer_encoding_closes_the_connection(server):
    """RFC 9112 §6.1: a server that processes a request with both Content-Length and
    Transfer-Encoding (a request-smuggling pattern) MUST close the connection after responding."""
    before = server.snapshot()
    data = http_head(b"POST /upload HTTP/1.1", MULTIPART, b"Content-Length: 5", b"Transfer-Encoding: chunked") + b"0\r\n\r\n"
    reply = raw_request(server, data, check_closed=True)
    code = reply.json().get("error_code") if reply.status == 400 else None
    assert code in ("bad_request", "bad_multipart"), (reply.status, reply.body[:200])
    assert_error(reply, 400, code, server)
    assert reply.closed, "the connection stayed open after a request with both Content-Length and Transfer-Encoding"
    server.assert_alive()
    assert server.snapshot() == before


ROUTES = [
    ("DELETE", "/upload", 405, "method_not_allowed"),
    ("PROPFIND", "/status/x", 405, "method_not_allowed"),
    ("PUT", "/result/x", 405, "method_not_allowed"),
    ("GET", "/ocr", 405, "method_not_allowed"),
    ("DELETE", "/costs", 405, "method_not_allowed"),
    ("DELETE", "/api/v1/costs", 405, "method_not_allowed"),
    ("POST", "/provenance", 404, "not_found"),  # an API function's root is no route
    ("GET", "/ingest", 404, "not_found"),
    ("GET", "/review/nothing.js", 404, "not_found"),  # the review page serves only its own files
    ("GET", "/review/vendor/openseadragon/../../../package.json", 404, "not_found"),
    ("POST", "/review/", 405, "method_not_allowed"),
    ("PUT", "/api/v1/ocr/source_docs", 405, "method_not_allowed"),
    ("PROPFIND", "/api/v1/ocr/source_docs", 405, "method_not_allowed"),
    ("GET", "/upload/favicon.ico", 404, "not_found"),
    ("GET", "/status/robots.txt", 404, "not_found"),
    ("GET", "/nothing", 404, "not_found"),
    ("GET", "/api/v1/ocr", 404, "not_found"),
    ("GET", "/api/v1/ocr/nothing", 404, "not_found"),
    ("GET", "/api/v1/ocr/source_docs/..%2f..%2fetc", 404, "not_found"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", 404, "not_found"),
    # the stack's fallback app (paths no function serves) with a method other than GET
    ("POST", "/nothing", 404, "not_found"),
    ("PROPFIND", "/nothing", 404, "not_found"),
    ("DELETE", "/", 404, "not_found"),
    ("POST", "/openapi.json", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), ROUTES, ids=[f"{m}-{p}" for m, p, _, _ in ROUTES])
def test_unknown_paths_and_methods_answer_json(server, method, path, status, code):
    reply = server.request(method, path)
    assert_error(reply, status, code, server)
    if status == 405:
        assert reply.headers.get("allow"), reply.headers
    server.assert_alive()


@pytest.mark.parametrize("request_line", [b"OPTIONS * HTTP/1.1", b"GET * HTTP/1.1", b"PRI * HTTP/2.0"],
                         ids=["OPTIONS-asterisk", "GET-asterisk", "http2-preface"])
def test_asterisk_request_target_answers_json(server, request_line):
    """A request-target that is not a path: a 4xx JSON error, not a redirect or an HTML page."""
    data = http_head(request_line) + (b"SM\r\n\r\n" if request_line.startswith(b"PRI") else b"")
    reply = raw_request(server, data)
    assert reply.status in (400, 404, 405), (reply.status, reply.headers, reply.body[:200])
    assert_error(reply, reply.status, {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}[reply.status], server)
    server.assert_alive()


# -- 3. accepted documents that cannot be read fail their job cleanly ------------------------------

def _truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


FAILING_DOCUMENTS = [
    pytest.param(lambda: ("poly.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "image/png"),
                 "corrupted_file", r"cannot be decoded", id="png-magic-then-html"),
    pytest.param(lambda: ("poly.jpg", b"\xff\xd8\xff<?php system($_GET['c']); ?>", "image/jpeg"),
                 "corrupted_file", r"cannot be decoded|damaged", id="jpeg-magic-then-php"),
    pytest.param(lambda: ("exact.png", b"\x89PNG\r\n\x1a\n" + bytes(LIMIT - 8), "image/png"),
                 "corrupted_file", r"damaged|cannot be decoded", id="png-of-exactly-the-limit"),
    pytest.param(lambda: ("cut.pdf", _truncated(sample_pdf()), "application/pdf"), "corrupted_file", r"damaged or truncated",
                 id="truncated-pdf"),
    pytest.param(lambda: ("cut.jpg", _truncated(encoded(alice(), "JPEG")), "image/jpeg"), "corrupted_file",
                 r"damaged or truncated", id="truncated-jpeg"),
    pytest.param(lambda: ("cut.tif", _truncated(encoded(alice(), "TIFF")), "image/tiff"), "corrupted_file",
                 r"damaged or truncated", id="truncated-tiff"),
    pytest.param(lambda: ("cut.png", _truncated(alice_png(), 1 / 3), "image/png"), "corrupted_file",
                 r"damaged or truncated|cannot be decoded", id="truncated-png"),
    pytest.param(lambda: ("locked.pdf", image_pdf(alice(), passwords=("usersecret", "ownersecret")), "application/pdf"),
                 "encrypted_file", r"password", id="pdf-with-user-password"),
    pytest.param(lambda: ("bomb.png", png_bomb(30_000, 30_000), "image/png"), "memory_limit", r"30,000 x 30,000",
                 id="png-30000x30000"),
    pytest.param(lambda: ("bomb.tif", tiff_bomb(30_000, 30_000), "image/tiff"), "memory_limit", r"30,000 x 30,000",
                 id="tiff-30000x30000"),
    pytest.param(lambda: ("bomb.png", png_bomb(50_000, 50_000), "image/png"), "memory_limit", r"pixels",
                 id="png-50000x50000-over-pillow-guard"),
    pytest.param(lambda: ("bomb.jpg", jpeg_header_bomb(), "image/jpeg"), "memory_limit", r"pixels", id="jpeg-header-65500x65500"),
    pytest.param(lambda: ("many.pdf", blank_pages_pdf(2001), "application/pdf"), "invalid_format", r"2,?001 pages.*limit.*2,?000",
                 id="pdf-2001-pages"),
    pytest.param(lambda: ("many.tif", tiff_frames(2100), "image/tiff"), "invalid_format", r"2,?100 pages.*limit.*2,?000",
                 id="tiff-2100-frames"),
]


@pytest.mark.parametrize(("build", "code", "message"), FAILING_DOCUMENTS)
def test_unreadable_document_fails_its_job_cleanly(server, build, code, message):
    name, data, content_type = build()
    job_id, status = server.submit(data, name, content_type)
    assert (status["status"], status["error_code"]) == ("failed", code), status
    assert status["error_message"] and re.search(message, status["error_message"]), status["error_message"]
    assert_no_leak(json.dumps(status).encode(), server)
    assert_error(server.request("GET", f"/result/{job_id}"), 422, code, server)
    server.assert_alive()


# -- 4. unusual but valid scans are read ----------------------------------------------------------

MUST_OCR = [
    pytest.param(lambda: ("owner.pdf", image_pdf(alice(), passwords=("", "ownersecret")), "application/pdf"),
                 id="pdf-owner-password-only"),
    pytest.param(lambda: ("cmyk.jpg", cmyk_jpeg(), "image/jpeg"), id="cmyk-jpeg"),
    pytest.param(lambda: ("grey16.png", grey16_png(), "image/png"), id="16-bit-grey-png"),
    pytest.param(lambda: ("palette.png", palette_alpha_png(), "image/png"), id="palette-alpha-png"),
    pytest.param(lambda: ("exif6.jpg", exif_rotated_jpeg(), "image/jpeg"), id="exif-orientation-6-jpeg"),
    # `%PDF-` within the first KiB after other bytes (ISO 32000-1 Annex H.3): a PDF, and read as one
    pytest.param(lambda: ("poly.pdf", ZIP_LOCAL_HEADER + b"junk" + image_pdf(alice()), "application/pdf"),
                 id="zip-header-then-pdf"),
]


@pytest.mark.parametrize("build", MUST_OCR)
def test_unusual_scan_is_read(server, build):
    name, data, content_type = build()
    # `eng`, not `auto`: OSD must not be what turns the EXIF-rotated page upright
    job_id, status = server.submit(data, name, content_type, lang="eng")
    assert status["status"] == "completed", status
    text = server.request("GET", f"/result/{job_id}", params={"format": "text"}).body.decode()
    missing = ALICE_WORDS - set(re.findall(r"[A-Za-z]+", text))
    assert not missing, f"words {sorted(missing)} not read from {name}: {text[:300]!r}"
    if name == "exif6.jpg":
        page = server.request("GET", f"/result/{job_id}", params={"format": "json"}).json()["pages"][0]
        assert (page["width"], page["height"]) == alice().size, page
        assert any("EXIF orientation 6" in w for w in page["result"]["warnings"]), page["result"]["warnings"]
    server.assert_alive()


# -- 5. hostile file names are accepted and neutralised --------------------------------------------

HOSTILE_NAMES = [
    pytest.param("\u202egnp.exe", None, id="rlo-override"),
    pytest.param("\u2067evil\u2069\u200fgnp\u061c.exe\u202d.png", None, id="bidi-isolates-and-marks"),
    pytest.param("../../etc/passwd.png", "passwd.png", id="posix-traversal"),
    pytest.param("..\\..\\windows\\win.png", "win.png", id="windows-traversal"),
    pytest.param("/etc/passwd", "passwd", id="absolute-path"),
    pytest.param("a\x00b.png", "a_b.png", id="nul-in-name"),
    pytest.param("n" * 100_000 + ".png", None, id="100K-character-name"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE_NAMES)
def test_hostile_filename_is_sanitised(server, name, expected):
    before = server.snapshot()
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')  # an RFC 9110 quoted-string
    body = _multipart_file(blank_png(), name=quoted.encode()) + END
    reply = server.upload_raw(body)
    assert reply.status == 202, reply.body[:200]
    job_id = reply.json()["job_id"]
    status = server.wait(job_id)
    assert status["status"] == "completed", status
    shown = status["file_name"]
    assert not BIDI_CONTROLS & set(shown), repr(shown)
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in shown), repr(shown)
    assert "/" not in shown and "\\" not in shown and not shown.startswith(".") and 0 < len(shown) <= 255, repr(shown)
    if expected is not None:
        assert shown == expected
    hocr = server.request("GET", f"/result/{job_id}").body
    etree.fromstring(hocr)  # well-formed
    assert not BIDI_CONTROLS & set(hocr.decode())
    after = server.snapshot()
    new = after.originals - before.originals
    assert new and all(p.startswith(f"{job_id}/original.png") for p in new), new
    assert not (server.data_dir.parent / "etc").exists() and not (server.data_dir / "etc").exists()
    server.assert_alive()


# -- 6. markup read off a page is escaped in every format ------------------------------------------

def test_markup_read_from_a_page_is_escaped_in_every_output(server):
    job_id, status = server.submit(script_png(), '"><svg onload=alert(1)>.png', "image/png", lang="eng")
    assert status["status"] == "completed", status
    get = lambda fmt: server.request("GET", f"/result/{job_id}", params={"format": fmt})  # noqa: E731

    text = get("text")
    assert text.headers["content-type"].startswith("text/plain")
    assert "<script>" in text.body.decode() and "]]>" in text.body.decode(), f"the OCR did not read the markup: {text.body!r}"

    hocr = get("hocr")
    root = etree.fromstring(hocr.body)  # well-formed XML, so `]]>` and `<` are escaped
    words = [w.xpath("string()") for w in root.iter("{http://www.w3.org/1999/xhtml}span") if w.get("class") == "ocrx_word"]
    assert any("<script>" in w for w in words) and "]]>" in words, words
    assert b"&lt;script&gt;" in hocr.body and b"<script" not in hocr.body and b"<svg" not in hocr.body
    assert b"]]&gt;" in hocr.body

    markdown = get("markdown").body.decode()
    assert not re.search(r"(?<!\\)<(?!!-- page \d+ -->)", markdown), f"a raw `<` in {markdown!r}"
    rendered = MarkdownIt("commonmark").render(markdown)
    assert "<script" not in rendered and "&lt;script&gt;" in rendered, rendered

    tokens = [t["text"] for t in get("json").json()["pages"][0]["tokens"]]
    assert any("<script>" in t for t in tokens) and "]]>" in tokens, tokens
    server.assert_alive()


# -- 7. the provenance API -------------------------------------------------------------------

@pytest.fixture(scope="module")
def registered(server) -> dict[str, str]:
    """A registered two-page document and an outside run over it: the ids hostile writes aim at."""
    doc = server.post_json("/source_docs", {"kind": "image_set", "title": "hostile target",
                                             "pages": [{"page_no": 1, "width": 1000, "height": 1000},
                                                       {"page_no": 2, "width": 1000, "height": 1000}]})
    assert doc.status == 201, doc.body[:300]
    source_doc = doc.json()
    run = server.post_json("/runs", {"source_doc_id": source_doc["source_doc"]["source_doc_id"], "engine": "kraken",
                                     "engine_version": "5.2.9", "config": {"languages": "eng"}})
    assert run.status == 201, run.body[:300]
    run = run.json()
    return {"sid": source_doc["source_doc"]["source_doc_id"], "page": source_doc["pages"][0]["page_id"],
            "run": run["run"]["run_id"], "pr": run["page_results"][0]["page_result_id"],
            "pr2": run["page_results"][1]["page_result_id"]}


def _token(**changes) -> dict:
    return {"token_no": 0, "text": "word", "bbox": {"x": 0, "y": 0, "w": 10, "h": 10}, "confidence": 90.0, **changes}


def _bbox_number(literal: str, where: str) -> bytes:
    """A token body whose bbox `x` (bulk_create) or `h` (ingest) is the JSON number `literal`."""
    if where == "bulk":
        return b'{"tokens":[{"token_no":0,"text":"a","bbox":{"x":%s,"y":0,"w":1,"h":1},"confidence":1}]}' % literal.encode()
    return b'{"mode":"replace","tokens":[{"token_no":0,"text":"a","bbox":{"x":0,"y":0,"w":1,"h":%s},"confidence":1}]}' % literal.encode()


def _run_with_option(literal: str, key: str = "options") -> Callable[[dict], bytes]:
    def body(ids: dict) -> bytes:
        config = f'{{"languages":"eng","options":{{"x":{literal}}}}}' if key == "options" else f'{{"languages":"eng","dpi":{literal}}}'
        return f'{{"source_doc_id":"{ids["sid"]}","engine":"k","engine_version":"1","config":{config}}}'.encode()
    return body


def _doc(**changes) -> dict:
    return {"kind": "image_set", "title": "t", "pages": [{"page_no": 1}], **changes}


BULK = "/page_results/{pr}/tokens/bulk_create"
INGEST = "/page_results/{pr}/ingest"

REFUSED_API = [
    # not JSON, or JSON no parser should recurse into
    pytest.param("POST", "/source_docs", b'{"kind": "pdf", ', 400, "bad_json", None, id="malformed-json"),
    pytest.param("POST", "/source_docs", b"[" * 100_000 + b"]" * 100_000, 400, "bad_json", None, id="arrays-nested-100000-deep"),
    pytest.param("POST", "/source_docs", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400, "bad_json", None,
                 id="objects-nested-100000-deep"),
    pytest.param("POST", "/source_docs", b'{"kind":"pdf","title":"t","pages":[{"page_no":1}],"metadata":{"a":'
                 + b"[" * 50_000 + b"]" * 50_000 + b"}}", 400, "bad_json", None, id="metadata-nested-50000-deep"),
    pytest.param("POST", "/source_docs", b'{"kind":"pdf","title":"caf\xe9","pages":[{"page_no":1}]}', 400, "bad_json", None, id="invalid-utf8"),
    # sizes
    pytest.param("POST", "/runs", lambda ids: b'{"source_doc_id":"' + b"x" * (33 * MIB) + b'"}', 413, "file_too_large", None,
                 id="33MiB-json-body"),
    pytest.param("POST", "/source_docs", _doc(pages=[{"page_no": i + 1} for i in range(10_001)]), 422, "validation_failed",
                 "pages", id="10001-pages"),
    pytest.param("POST", BULK, {"tokens": [_token(token_no=i) for i in range(100_001)]}, 422, "validation_failed", "tokens",
                 id="100001-tokens"),
    pytest.param("POST", "/page_results/{pr}/links/bulk_create", {"links": [{"fk_entry_id": "e1", "link_conf": 1}] * 10_001},
                 422, "validation_failed", "links", id="10001-links"),
    pytest.param("POST", "/source_docs", _doc(metadata={"blob": "x" * (10 * MIB)}), 422, "validation_failed", "metadata.blob",
                 id="metadata-10MB-value"),
    pytest.param("POST", "/source_docs", _doc(metadata={f"k{i}": "x" * 5000 for i in range(20)}), 422, "validation_failed",
                 "metadata", id="metadata-100KB-in-all"),
    pytest.param("POST", "/runs", lambda ids: json.dumps({"source_doc_id": ids["sid"], "engine": "k", "engine_version": "1",
                                                           "config": {"languages": "eng"}, "log": ["y" * 10_000] * 1000}).encode(),
                 422, "validation_failed", "log", id="run-log-10MB"),
    # numbers JSON cannot carry, or no store can
    pytest.param("POST", "/runs", _run_with_option("NaN"), 422, "validation_failed", "config.options.x", id="options-NaN"),
    pytest.param("POST", "/runs", _run_with_option("Infinity"), 422, "validation_failed", "config.options.x", id="options-Infinity"),
    pytest.param("POST", "/runs", _run_with_option("-Infinity"), 422, "validation_failed", "config.options.x",
                 id="options-minus-Infinity"),
    pytest.param("POST", "/runs", _run_with_option("1e999"), 422, "validation_failed", "config.options.x", id="options-1e999"),
    pytest.param("POST", "/runs", _run_with_option(str(2**64)), 422, "validation_failed", "config.options.x", id="options-2^64"),
    pytest.param("POST", "/runs", _run_with_option("NaN", key="dpi"), 422, "validation_failed", "config.dpi", id="config-dpi-NaN"),
    pytest.param("POST", "/source_docs", b'{"kind":"pdf","title":"t","pages":[{"page_no":1}],"metadata":{"a":NaN}}',
                 422, "validation_failed", "metadata.a", id="metadata-NaN"),
    pytest.param("POST", BULK, _bbox_number(str(2**63), "bulk"), 422, "validation_failed", "tokens[0].bbox.x", id="bulk-bbox-2^63"),
    pytest.param("POST", BULK, _bbox_number(str(2**70), "bulk"), 422, "validation_failed", "tokens[0].bbox.x", id="bulk-bbox-2^70"),
    pytest.param("POST", BULK, _bbox_number(str(10**400), "bulk"), 422, "validation_failed", "tokens[0].bbox.x",
                 id="bulk-bbox-10^400"),
    pytest.param("POST", BULK, _bbox_number(str(-(2**63) - 1), "bulk"), 422, "validation_failed", "tokens[0].bbox.x",
                 id="bulk-bbox-minus-2^63-1"),
    pytest.param("POST", INGEST, _bbox_number(str(2**63), "ingest"), 422, "validation_failed", "tokens[0].bbox.h",
                 id="ingest-bbox-2^63"),
    pytest.param("POST", INGEST, _bbox_number(str(2**70), "ingest"), 422, "validation_failed", "tokens[0].bbox.h",
                 id="ingest-bbox-2^70"),
    pytest.param("POST", INGEST, _bbox_number(str(10**400), "ingest"), 422, "validation_failed", "tokens[0].bbox.h",
                 id="ingest-bbox-10^400"),
    pytest.param("POST", INGEST, _bbox_number("1e400", "ingest"), 422, "validation_failed", "tokens[0].bbox.h",
                 id="ingest-bbox-1e400"),
    pytest.param("POST", INGEST, {"mode": "replace", "tokens": [_token(token_no=2**64)]}, 422, "validation_failed",
                 "tokens[0].token_no", id="ingest-token-no-2^64"),
    # text
    pytest.param("POST", INGEST, {"mode": "replace", "tokens": [_token(text="a\x00b")]}, 422, "validation_failed",
                 "tokens[0].text", id="token-text-NUL"),
    pytest.param("POST", BULK, {"tokens": [_token(text="a\x0cb")]}, 422, "validation_failed", "tokens[0].text",
                 id="token-text-form-feed"),
    pytest.param("POST", INGEST, {"mode": "replace", "tokens": [_token(text="\u202eabc")]}, 422, "validation_failed",
                 "tokens[0].text", id="token-text-RLO"),
    pytest.param("POST", "/page_results/{pr}/review", {"review_status": "approved", "approved_text": "ok\x00"}, 422,
                 "validation_failed", "approved_text", id="review-text-NUL"),
    pytest.param("POST", "/source_docs", _doc(kind="remote_url", uri="javascript:alert(1)"), 422, "validation_failed", "uri",
                 id="uri-javascript"),
    pytest.param("POST", "/source_docs", _doc(kind="remote_url", uri="file:///etc/passwd"), 422, "validation_failed", "uri",
                 id="uri-file"),
    pytest.param("POST", "/source_docs", _doc(kind="remote_url", uri="https://exa mple.com/a"), 422, "validation_failed", "uri",
                 id="uri-with-space"),
    pytest.param("POST", "/source_docs", _doc(evil=1), 422, "validation_failed", "evil", id="unknown-field"),
    pytest.param("POST", "/runs", {"source_doc_id": "../../nothing", "engine": "k", "engine_version": "1",
                                   "config": {"languages": "eng"}}, 404, "not_found", None, id="run-of-unknown-doc"),
    # reads
    pytest.param("GET", "/pages/{page}/diff?a={run}", None, 400, "missing_parameter", None, id="diff-without-b"),
    pytest.param("GET", "/pages/{page}/diff?a={run}&b=nosuchrun", None, 404, "not_found", None, id="diff-unknown-run"),
    pytest.param("GET", "/pages/nosuch_p1/diff?a={run}&b={run}", None, 404, "not_found", None, id="diff-unknown-page"),
    pytest.param("GET", "/source_docs?limit=abc", None, 422, "validation_failed", "limit", id="limit-abc"),
    pytest.param("GET", "/source_docs?limit=" + "9" * 30, None, 422, "validation_failed", "limit", id="limit-10^30"),
    pytest.param("GET", "/source_docs?cursor=%00%ff", None, 400, "invalid_cursor", None, id="cursor-garbage"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), REFUSED_API)
def test_refused_api_request_stores_nothing(server, registered, method, path, body, status, code, field):
    before = server.snapshot()
    tokens_before = server.request("GET", f"{API}/page_results/{registered['pr']}/full").json()["tokens"]
    if callable(body):
        body = body(registered)
    url = API + path.format(**registered)
    if body is None:
        reply = server.request(method, url)
    else:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        reply = server.request(method, url, content=content, headers={"Content-Type": "application/json"})
    error = assert_error(reply, status, code, server)
    if field is not None:
        assert error.get("field") == field, error
    assert "errors.pydantic.dev" not in error["detail"] and len(reply.body) < 4096, error
    server.assert_alive()
    assert server.snapshot() == before
    # what was there still reads
    for read in ("/source_docs", f"/source_docs/{registered['sid']}/pages", f"/pages/{registered['page']}/results"):
        assert server.request("GET", API + read).status == 200, read
    assert server.request("GET", f"{API}/page_results/{registered['pr']}/full").json()["tokens"] == tokens_before


def test_markup_in_tokens_is_stored_verbatim_and_served_as_json(server, registered):
    texts = ["<script>alert(1)</script>", "]]>", "&amp;", "\"quoted\""]
    tokens = [_token(token_no=i, text=t) for i, t in enumerate(texts)]
    written = server.post_json(f"/page_results/{registered['pr2']}/ingest", {"mode": "replace", "tokens": tokens})
    assert written.status == 200, written.body[:300]
    full = server.request("GET", f"{API}/page_results/{registered['pr2']}/full")
    assert full.status == 200 and full.headers["content-type"].split(";")[0] == "application/json"
    assert [t["text"] for t in full.json()["tokens"]] == texts
    server.assert_alive()


def test_run_config_is_not_copied_into_every_page_result(server):
    """A run's `config` (50 options of 10,000 characters: 500 KB, within every documented bound)
    over a 100-page document: refused, or stored without being copied 100 times (each page
    result carrying its own copy turns a 10,000-page document into 5 GB of writes)."""
    doc = server.post_json("/source_docs", {"kind": "image_set", "title": "amplifier",
                                             "pages": [{"page_no": i + 1} for i in range(100)]})
    assert doc.status == 201, doc.body[:200]
    body = json.dumps({"source_doc_id": doc.json()["source_doc"]["source_doc_id"], "engine": "k", "engine_version": "1",
                       "config": {"languages": "eng", "options": {f"k{i}": "x" * 10_000 for i in range(50)}}}).encode()
    before = server.snapshot()
    reply = server.post_json("/runs", body)
    if reply.status != 201:
        assert_error(reply, reply.status, reply.json().get("error_code", "?"), server)
        assert 400 <= reply.status < 500
        assert server.snapshot() == before
        return
    run_id = reply.json()["run"]["run_id"]
    db = sqlite3.connect(f"file:{server.data_dir / 'pagesage.db'}?mode=ro", uri=True, timeout=10)
    try:
        stored = db.execute("SELECT COALESCE(SUM(LENGTH(doc)), 0) FROM page_results WHERE run_id = ?", (run_id,)).fetchone()[0]
        stored += db.execute("SELECT COALESCE(SUM(LENGTH(doc)), 0) FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
    finally:
        db.close()
    assert stored <= 10 * len(body), f"a {len(body):,}-byte request stored {stored:,} bytes ({len(reply.body):,}-byte answer)"


# -- last: the server logged no crash --------------------------------------------------------

def test_server_logged_no_unhandled_error(server):
    server.assert_alive()
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]

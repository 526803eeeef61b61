"""A IIIF manifest URL becomes one document of its canvases: real public manifests
(tests/fixtures/iiif, licences in SOURCE.md) served from a loopback IIIF server that answers each
image service's `info.json` and image requests with real scans, resized as the request asks."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import threading
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.test import Client

from pagesage import bootstrap
from pagesage.config import Settings
from pagesage.domain.jobs import FileFormat
from pagesage.imaging import render_page

from conftest import SAMPLES, wait_finished

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iiif"
SOURCE_DOCS = "/api/v1/ocr/source_docs"
IMAGE_REQUEST = re.compile(r"^(?P<service>/.+)/full/(?P<size>[^/]+)/0/default\.jpg$")


def scans() -> list[bytes]:
    """Three real pages as JPEG: the Alice sample and the two pages of the Tesseract test PDF."""
    out = []
    pages = [Image.open(SAMPLES / "alice_1.png")] + [
        render_page(SAMPLES / "tesseract-testing-2pages.pdf", FileFormat.PDF, n, dpi=300).image for n in (1, 2)]
    for image in pages:
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


SCANS = scans()
PHRASES = ["Alice", "This is a lot of 12 point text", "den faulen Hund"]
"""A phrase each of `SCANS` reads as."""


class Iiif(http.server.BaseHTTPRequestHandler):
    """`documents`: path -> JSON text; every `<service>/info.json` is `info` (a fixture) made to
    describe the scan its service shows; `<service>/full/<size>/0/default.jpg` answers that scan,
    resized to `max`/`full`, `w,` or `w,h`. `requests` lists every path asked for."""

    documents: dict[str, str] = {}
    info: dict = {}
    services: list[str] = []
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        self.requests.append(self.path)
        if self.path in self.documents:
            return self._send(self.documents[self.path].encode(), "application/ld+json")
        service = self.path.removesuffix("/info.json")
        if service != self.path and service in self.services:
            scan = Image.open(io.BytesIO(self._scan_of(service)))
            key = "id" if "id" in self.info else "@id"
            body = {**self.info, key: f"http://{self.headers['Host']}{service}", "width": scan.width, "height": scan.height}
            return self._send(json.dumps(body).encode(), "application/json")
        match = IMAGE_REQUEST.match(self.path)
        if match and match["service"] in self.services:
            return self._send(self._sized(self._scan_of(match["service"]), match["size"]), "image/jpeg")
        self.send_error(404)

    def _scan_of(self, service: str) -> bytes:
        return SCANS[self.services.index(service) % len(SCANS)]

    def _sized(self, jpeg: bytes, size: str) -> bytes:
        if size in ("max", "full"):
            return jpeg
        image = Image.open(io.BytesIO(jpeg))
        width, _, height = size.partition(",")
        w = int(width)
        h = int(height) if height else round(image.height * w / image.width)
        buffer = io.BytesIO()
        image.resize((w, h)).save(buffer, format="JPEG", quality=90)
        return buffer.getvalue()

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def iiif(tmp_path):
    """(host, services, client): a loopback IIIF server on the allow-list of fresh services."""
    Iiif.documents, Iiif.info, Iiif.services, Iiif.requests = {}, {}, [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Iiif)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    built = bootstrap.build(Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0, fetch_allow_hosts=host, max_pages=30))
    bootstrap.use(built)
    yield host, built
    bootstrap.use(None)
    built.queue.close()
    server.shutdown()
    server.server_close()


def publish(host: str, fixture: str, image_base: str, info: str) -> tuple[dict, bytes]:
    """Serve `fixture` at /manifest.json with its image services moved from `image_base` to the
    loopback server; returns the manifest as published (parsed) and its bytes."""
    text = (FIXTURES / fixture).read_text(encoding="utf-8").replace(image_base, f"http://{host}/images/")
    manifest = json.loads(text)
    Iiif.documents["/manifest.json"] = text
    Iiif.info = json.loads((FIXTURES / info).read_text(encoding="utf-8"))
    ids = {m.group(1) for m in re.finditer(rf'"(?:@id|id)": "http://{re.escape(host)}(/images/[^"]+)"', text)}
    Iiif.services = sorted((i for i in ids if not i.endswith(".jpg")), key=text.index)
    return manifest, text.encode()


def ocr(client: Client, uri: str, **extra) -> dict:
    answer = client.post(SOURCE_DOCS, json={"kind": "remote_url", "uri": uri, "ocr": {"lang": "eng"}, **extra})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()


def test_a_presentation_3_manifest_becomes_one_document_of_its_canvases(iiif, stack):
    host, services = iiif
    client = Client(stack)
    manifest, published = publish(host, "v3-manuscript-manifest-cookbook-0024.json",
                                  "https://iiif.io/api/image/3.0/example/reference/", "info-v3.json")
    canvases = manifest["items"]
    assert len(canvases) == 6 and len(Iiif.services) == 6

    accepted = ocr(client, f"http://{host}/manifest.json")
    status = wait_finished(client, accepted["job_id"])
    assert status["status"] == "completed" and status["progress"]["pages_done"] == 6, status

    doc = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()
    assert doc["title"] == "Ethiopic Ms 10" and doc["content_type"] == "application/ld+json"
    assert doc["sha256"] == hashlib.sha256(published).hexdigest()
    pages = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}/pages").get_json()["items"]
    assert [p["label"] for p in pages] == [c["label"]["en"][0] for c in canvases]  # f. 1r, f. 1v, ...
    assert [p["canvas"] for p in pages] == [{"id": c["id"], "width": c["width"], "height": c["height"]} for c in canvases]

    result = client.get(f"/result/{accepted['job_id']}?format=json").get_json()
    for n, page in enumerate(result["pages"]):
        assert page["canvas"]["id"] == canvases[n]["id"] and page["label"] == canvases[n]["label"]["en"][0]
        text = " ".join(t["text"] for t in page["tokens"])
        assert PHRASES[n % 3] in text, (n, text[:200])
        assert (page["width"], page["height"]) == Image.open(io.BytesIO(SCANS[n % 3])).size  # read at the scan's own pixels
    # no physical size: each canvas read at full size, after its info.json
    assert [r for r in Iiif.requests if r != "/manifest.json"] == [
        f"{s}{suffix}" for s in Iiif.services for suffix in ("/info.json", "/full/max/0/default.jpg")]
    assert services.blobs.exists(f"originals/{accepted['job_id']}/manifest.json")


def test_a_presentation_2_manifest_brings_its_label_and_metadata(iiif, stack):
    host, services = iiif
    client = Client(stack)
    manifest, _ = publish(host, "v2-manifest.json", "https://api.bl.uk/image/iiif/", "info-v2.json")
    canvases = manifest["sequences"][0]["canvases"]
    assert len(canvases) == 20
    accepted = ocr(client, f"http://{host}/manifest.json", metadata={"project": "anzac"})
    status = wait_finished(client, accepted["job_id"], timeout=600)
    assert status["status"] == "completed" and status["progress"]["pages_done"] == 20, status
    doc = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()
    assert doc["title"] == "Anzac bulletin Number 24(1917:Jun.)"
    assert doc["metadata"]["Held by"] == "The British Library" and doc["metadata"]["project"] == "anzac"
    pages = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}/pages").get_json()["items"]
    assert [p["canvas"]["id"] for p in pages] == [c["@id"] for c in canvases]
    assert {p["label"] for p in pages} == {"-"}  # the British Library labels every canvas "-"
    # the v2 services were asked in 2.x syntax
    assert all(r.endswith(("/info.json", "/full/full/0/default.jpg")) for r in Iiif.requests if r != "/manifest.json")


def test_a_manifest_over_the_page_limit_fails_before_any_image_is_fetched(iiif, stack, tmp_path):
    host, services = iiif
    publish(host, "v2-manifest.json", "https://api.bl.uk/image/iiif/", "info-v2.json")
    built = bootstrap.build(Settings(data_dir=tmp_path / "small", workers=1, rate_limit=0, fetch_allow_hosts=host, max_pages=5))
    bootstrap.use(built)
    try:
        client = Client(stack)
        status = wait_finished(client, ocr(client, f"http://{host}/manifest.json")["job_id"])
        assert (status["status"], status["error_code"]) == ("failed", "invalid_format")
        assert "20 canvases" in status["error_message"]
        assert Iiif.requests == ["/manifest.json"]
    finally:
        bootstrap.use(None)
        built.queue.close()


def test_an_image_service_at_a_private_address_fails_the_job_and_stores_nothing(iiif, stack):
    host, services = iiif
    client = Client(stack)
    text = (FIXTURES / "v3-manuscript-manifest-cookbook-0024.json").read_text(encoding="utf-8")
    Iiif.documents["/manifest.json"] = text.replace("https://iiif.io/api/image/3.0/", "https://10.0.0.7/iiif/")
    accepted = ocr(client, f"http://{host}/manifest.json")
    status = wait_finished(client, accepted["job_id"])
    assert (status["status"], status["error_code"]) == ("failed", "url_not_allowed"), status
    assert not [p for p in (services.settings.data_dir / "blobs").rglob("*") if p.is_file()]

"""`POST /api/v1/ocr/source_docs` with `kind: remote_url` and `ocr`: a document fetched from a
loopback HTTP server (allow-listed), from S3 (moto) and from Cloud Storage (the emulator) is
OCR'd like an upload of the same bytes; every refusal is answered before anything is fetched;
every failed fetch fails its job with its code and stores nothing."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pagesage import bootstrap
from pagesage.adapters.gcs_blobs import storage_client
from pagesage.cli import main
from pagesage.config import Settings
from pagesage.ports import Task
from pagesage.server import create_server, serving
from pagesage.services.worker import handle_task

from werkzeug.test import Client

from conftest import SAMPLES, upload, wait_finished

PNG = SAMPLES / "alice_1.png"
PDF = SAMPLES / "tesseract-testing-2pages.pdf"
SOURCE_DOCS = "/api/v1/ocr/source_docs"


class Files(http.server.BaseHTTPRequestHandler):
    """Serves `routes`: path -> (status, body, headers); counts the requests per path."""

    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    hits: dict[str, int] = {}

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        status, body, headers = self.routes.get(self.path, (404, b"no such file", {}))
        if callable(body):
            status, body = body(self.hits[self.path])
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def files():
    """A loopback HTTP server; yields (its `host:port`, its routes)."""
    Files.routes, Files.hits = {}, {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}", Files.routes
    server.shutdown()
    server.server_close()


@pytest.fixture()
def allowed(files, tmp_path: Path):
    """Services whose allow-list admits the loopback server; yields (host, routes, services)."""
    host, routes = files
    built = bootstrap.build(Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0, fetch_allow_hosts=host))
    bootstrap.use(built)
    yield host, routes, built
    bootstrap.use(None)
    built.queue.close()


@pytest.fixture()
def client(stack) -> Client:
    """A test client of the stack, talking to whatever services a test installed."""
    return Client(stack)


def submit(http, uri: str, **extra):
    return http.post(SOURCE_DOCS, json={"kind": "remote_url", "uri": uri, "ocr": {"lang": "eng"}, **extra})


def words(http, job_id: str) -> list[tuple[str, dict]]:
    doc = http.get(f"/result/{job_id}?format=json").get_json()
    return [(t["text"], t["bbox"]) for page in doc["pages"] for t in page["tokens"]]


def test_a_document_on_an_allowed_http_server_is_fetched_and_read_as_its_upload_is(allowed, client):
    host, routes, services = allowed
    routes["/scans/alice.png"] = (200, PNG.read_bytes(), {"ETag": '"v1"', "Content-Type": "image/png"})

    answer = submit(client, f"http://{host}/scans/alice.png", title="Alice, page 1", metadata={"shelfmark": "A.1"})
    assert answer.status_code == 202, answer.get_json()
    accepted = answer.get_json()
    status = wait_finished(client, accepted["job_id"])
    assert status["status"] == "completed", status
    assert status["file_name"] == "alice.png"

    doc = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()
    assert doc["kind"] == "remote_url" and doc["uri"] == f"http://{host}/scans/alice.png"
    assert doc["title"] == "Alice, page 1" and doc["metadata"] == {"shelfmark": "A.1"}
    assert doc["sha256"] == hashlib.sha256(PNG.read_bytes()).hexdigest() and doc["file_size"] == PNG.stat().st_size
    assert doc["etag"] == '"v1"' and doc["fetched_at"] and doc["content_type"] == "image/png"
    pages = client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}/pages").get_json()["items"]
    assert [p["page_no"] for p in pages] == [1]

    uploaded = upload(client, PNG, lang="eng").get_json()["job_id"]
    assert wait_finished(client, uploaded)["status"] == "completed"
    fetched_words = words(client, accepted["job_id"])
    assert len(fetched_words) > 50 and fetched_words == words(client, uploaded)
    assert Files.hits["/scans/alice.png"] == 1


@pytest.mark.parametrize("uri", [
    "https://169.254.169.254/latest/meta-data/",   # the metadata server
    "https://127.0.0.1/scan.pdf",                   # loopback
    "https://[::1]/scan.pdf",                       # IPv6 loopback
    "https://10.1.2.3/scan.pdf",                    # RFC 1918
    "https://[fe80::1]/scan.pdf",                   # IPv6 link-local
    "https://[::ffff:192.168.0.1]/scan.pdf",        # IPv4-mapped private
    "https://224.0.0.1/scan.pdf",                   # multicast
    "https://user:secret@example.org/scan.pdf",     # credentials in the URL
    "ftp://example.org/scan.pdf",
    "file:///etc/passwd",
])
def test_a_refused_url_is_answered_400_before_anything_is_made(services, http, uri):
    answer = submit(http, uri)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error_code"] == "url_not_allowed"
    assert http.get(SOURCE_DOCS).get_json()["items"] == []


def test_plain_http_to_a_host_off_the_allow_list_is_refused(files, services, http):
    host, routes = files
    routes["/a.png"] = (200, PNG.read_bytes(), {})
    answer = submit(http, f"http://{host}/a.png")
    assert answer.status_code == 400 and answer.get_json()["error_code"] == "url_not_allowed"
    assert Files.hits == {}


def test_a_bucket_uri_without_a_key_is_refused_and_a_body_without_ocr_stays_a_registration(services, http):
    answer = submit(http, "s3://scans")
    assert answer.status_code == 400, answer.get_json()
    registered = http.post(SOURCE_DOCS, json={"kind": "remote_url", "title": "elsewhere", "uri": "s3://scans/a.pdf",
                                              "pages": [{"page_no": 1}]})
    assert registered.status_code == 201 and registered.get_json()["source_doc"]["job_id"] is None
    misspelt = http.post(SOURCE_DOCS, json={"kind": "remote_url", "uri": "s3://scans/a.pdf", "ocr": {"language": "eng"}})
    assert misspelt.status_code == 422 and misspelt.get_json()["field"] == "ocr.language"


@pytest.mark.parametrize("path, served, code", [
    ("/missing.pdf", None, "not_found"),
    ("/private.pdf", (403, b"no", {}), "forbidden"),
    ("/notes.txt", (200, b"plain text, not a scan\n" * 10, {"Content-Type": "application/pdf"}), "invalid_format"),
    ("/empty.pdf", (200, b"", {}), "empty_file"),
    ("/moved.pdf", (302, b"", {"Location": "http://127.0.0.2:9/inside.pdf"}), "url_not_allowed"),
])
def test_a_failed_fetch_fails_the_job_with_its_code_and_stores_nothing(allowed, client, path, served, code):
    host, routes, services = allowed
    if served is not None:
        routes[path] = served
    accepted = submit(client, f"http://{host}{path}").get_json()
    status = wait_finished(client, accepted["job_id"])
    assert (status["status"], status["error_code"]) == ("failed", code), status
    assert not list((services.settings.data_dir / "blobs").rglob("original*"))
    assert client.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()["sha256"] is None


def test_a_document_over_the_limit_fails_with_file_too_large(files, tmp_path, client):
    host, routes = files
    routes["/big.pdf"] = (200, PDF.read_bytes(), {})
    built = bootstrap.build(Settings(data_dir=tmp_path / "data", workers=1, rate_limit=0, fetch_allow_hosts=host,
                                     max_upload_bytes=PDF.stat().st_size - 1))
    bootstrap.use(built)
    try:
        status = wait_finished(client, submit(client, f"http://{host}/big.pdf").get_json()["job_id"])
        assert (status["status"], status["error_code"]) == ("failed", "file_too_large")
    finally:
        bootstrap.use(None)
        built.queue.close()


def test_a_transient_failure_is_retried_and_a_lasting_one_fails_the_job_on_the_last_attempt(allowed, client):
    host, routes, services = allowed
    routes["/flaky.png"] = (200, lambda hit: (503, b"busy") if hit < 3 else (200, PNG.read_bytes()), {})
    status = wait_finished(client, submit(client, f"http://{host}/flaky.png").get_json()["job_id"])
    assert status["status"] == "completed" and Files.hits["/flaky.png"] == 3

    routes["/down.png"] = (503, b"busy", {})
    services.queue.close()  # deliver the task by hand, as Cloud Tasks would
    job_id = submit(client, f"http://{host}/down.png").get_json()["job_id"]
    with pytest.raises(Exception) as raised:
        handle_task(Task(kind="prepare", job_id=job_id), services.worker)
    assert getattr(raised.value, "retryable", False)
    assert client.get(f"/status/{job_id}").get_json()["status"] == "pending"
    handle_task(Task(kind="prepare", job_id=job_id), services.worker, last_attempt=True)
    status = client.get(f"/status/{job_id}").get_json()
    assert (status["status"], status["error_code"]) == ("failed", "fetch_failed")


@pytest.fixture()
def s3(moto_s3):
    moto_s3.create_bucket(Bucket="scans")
    moto_s3.put_bucket_versioning(Bucket="scans", VersioningConfiguration={"Status": "Enabled"})
    return moto_s3


def test_a_pdf_in_s3_is_fetched_and_every_page_read(s3, services, http):
    version = s3.put_object(Bucket="scans", Key="books/two pages.pdf", Body=PDF.read_bytes())["VersionId"]
    accepted = submit(http, "s3://scans/books/two%20pages.pdf").get_json()
    status = wait_finished(http, accepted["job_id"])
    assert status["status"] == "completed" and status["progress"]["pages_done"] == 2, status
    doc = http.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()
    assert doc["generation"] == version and doc["sha256"] == hashlib.sha256(PDF.read_bytes()).hexdigest()
    assert doc["content_type"] == "application/pdf" and doc["title"] == "two pages.pdf"
    text = http.get(f"/result/{accepted['job_id']}?format=text").get_data(as_text=True)
    assert "This is a lot of 12 point text to test the" in text and "The quick" in text


def test_a_missing_s3_object_fails_the_job_not_found(s3, services, http):
    status = wait_finished(http, submit(http, "s3://scans/books/absent.pdf").get_json()["job_id"])
    assert (status["status"], status["error_code"]) == ("failed", "not_found")


def test_an_image_in_cloud_storage_is_fetched_with_its_generation(storage_host, services, http):
    bucket = storage_client("pagesage-test").bucket("remote-scans")
    if not bucket.exists():
        bucket = storage_client("pagesage-test").create_bucket("remote-scans")
    blob = bucket.blob("alice 1.png")
    blob.upload_from_filename(str(PNG), content_type="image/png")
    accepted = submit(http, "gs://remote-scans/alice%201.png").get_json()
    status = wait_finished(http, accepted["job_id"])
    assert status["status"] == "completed", status
    doc = http.get(f"{SOURCE_DOCS}/{accepted['source_doc_id']}").get_json()
    assert doc["generation"] == str(bucket.get_blob("alice 1.png").generation)
    assert doc["sha256"] == hashlib.sha256(PNG.read_bytes()).hexdigest()
    assert len(words(http, accepted["job_id"])) > 50


@pytest.fixture()
def live(services):
    """The real waitress server `pagesage serve` runs, on a free loopback port."""
    with serving(create_server("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


def test_pagesage_submit_fetches_an_s3_uri_and_saves_its_results(s3, live, tmp_path):
    s3.put_object(Bucket="scans", Key="books/two pages.pdf", Body=PDF.read_bytes())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["submit", "s3://scans/books/two%20pages.pdf", "--lang", "eng", "--url", live,
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["two pages.hocr", "two pages.json", "two pages.md", "two pages.txt"]
    assert "The quick" in (out / "two pages.txt").read_text(encoding="utf-8")
    assert "two pages.pdf  2" in result.output


def test_the_server_answers_a_refused_url_with_its_json_error(live):
    answer = httpx.post(f"{live}{SOURCE_DOCS}", json={"kind": "remote_url", "uri": "https://169.254.169.254/computeMetadata/v1/",
                                                      "ocr": {}})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error_code"] == "url_not_allowed" and "not public" in answer.json()["detail"]
    refused = CliRunner().invoke(main, ["submit", "http://10.0.0.1/scan.pdf", "--url", live])
    assert refused.exit_code == 1 and "400 url_not_allowed" in refused.output
    unknown = CliRunner().invoke(main, ["submit", "no-such-file.pdf", "--url", live])
    assert unknown.exit_code == 2 and "neither a file nor" in unknown.output


def test_a_scan_on_an_allowed_https_server_is_fetched_with_the_deployments_own_ca(tmp_path, stack):
    import ssl

    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    Files.routes, Files.hits = {"/scans/alice.png": (200, PNG.read_bytes(), {})}, {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{httpd.server_port}"
    try:
        for trusted, outcome in ((None, ("failed", "fetch_failed")), (ca_file, ("completed", None))):
            built = bootstrap.build(Settings(data_dir=tmp_path / f"data-{bool(trusted)}", workers=1, rate_limit=0,
                                             fetch_allow_hosts=host, fetch_ca_file=trusted))
            bootstrap.use(built)
            try:
                client = Client(stack)
                status = wait_finished(client, submit(client, f"https://{host}/scans/alice.png").get_json()["job_id"])
                assert (status["status"], status["error_code"]) == outcome, status  # unknown CA: TLS refused
            finally:
                bootstrap.use(None)
                built.queue.close()
        assert Files.hits["/scans/alice.png"] == 1
    finally:
        httpd.shutdown()
        httpd.server_close()

"""Every bad input to the HTTP functions: right status, `ErrorResponse` body, nothing stored."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime

import pytest
from conftest import SAMPLES, wait_finished
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from pagesage import bootstrap
from pagesage.adapters.sqlite_store import SqliteStore

PNG = (SAMPLES / "alice_1.png").read_bytes()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["error_code"] == code
    assert body["detail"] and "Traceback" not in body["detail"]
    datetime.fromisoformat(body["timestamp"])
    return body


def assert_nothing_stored(services):
    assert not any((services.settings.data_dir / "blobs").rglob("original.*"))
    assert services.store._connection().execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def post_file(http, data: bytes, name: str = "scan.png", content_type: str = "image/png", **fields):
    return http.post("/upload", data={"file": (io.BytesIO(data), name, content_type), **fields})


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"GIF89a" + b"\x00" * 200, "image/gif", 415, "invalid_format"),
        (b"plain text, not a scan\n" * 10, "application/octet-stream", 415, "invalid_format"),
        (b"", "image/png", 400, "empty_file"),
        (PNG, "application/pdf", 400, "content_type_mismatch"),
        (PNG, "text/plain", 400, "content_type_mismatch"),
    ],
    ids=["gif", "text", "empty", "png-declared-pdf", "png-declared-text"],
)
def test_rejected_files(http, services, data, content_type, status, code):
    assert_error(post_file(http, data, content_type=content_type), status, code)
    assert_nothing_stored(services)


@pytest.mark.parametrize("lang", ["xyz", "osd", "eng+klingon", "../eng", "eng;rm"])
def test_unknown_or_malformed_language(http, services, lang):
    body = assert_error(post_file(http, PNG, lang=lang), 400, "invalid_language")
    assert "installed" in body["detail"] or "malformed" in body["detail"]
    assert_nothing_stored(services)


@pytest.mark.parametrize("lang", ["eng", "san+eng", "script/Devanagari", "auto"])
def test_installed_languages_accepted(http, lang):
    assert post_file(http, PNG, lang=lang).status_code == 202


def test_missing_file_field_and_non_multipart(http, services):
    assert_error(http.post("/upload", data={"other": (io.BytesIO(PNG), "x.png")}), 400, "missing_file")
    assert_error(http.post("/upload", json={"file": "x"}), 400, "bad_request")
    response = http.get("/upload")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    assert_nothing_stored(services)


class CountingStream(io.BytesIO):
    """A request body that tells how many bytes the server read from it."""

    @property
    def consumed(self) -> int:
        return self.tell()


def test_oversize_declared_body_is_refused_before_reading_it(stack, services):
    limit = services.settings.max_upload_bytes
    body = CountingStream(b"x" * 1024)
    environ = EnvironBuilder(path="/upload", method="POST", content_type="multipart/form-data; boundary=b").get_environ()
    environ.update({"wsgi.input": body, "CONTENT_LENGTH": str(limit + 1_000_000)})
    response = Response.from_app(stack, environ)  # the raw app: test clients recompute Content-Length
    response.get_json = lambda: json.loads(response.get_data())
    assert_error(response, 413, "file_too_large")
    assert body.consumed == 0
    assert_nothing_stored(services)


def test_file_over_the_limit_inside_the_multipart_slack(http, services):
    settings = services.settings.model_copy(update={"max_upload_bytes": len(PNG) - 1})
    bootstrap.use(dataclasses.replace(services, settings=settings))
    assert_error(post_file(http, PNG), 413, "file_too_large")
    assert_nothing_stored(services)


def test_exactly_the_limit_is_accepted(http, services):
    settings = services.settings.model_copy(update={"max_upload_bytes": len(PNG)})
    bootstrap.use(dataclasses.replace(services, settings=settings))
    assert post_file(http, PNG).status_code == 202


def test_filename_is_sanitized(http, services):
    job_id = post_file(http, PNG, name="../../etc/passwd.png").get_json()["job_id"]
    job = services.store.get_job(job_id)
    assert job.upload.file_name == "passwd.png"
    assert job.upload.original_key == f"originals/{job_id}/original.png"
    assert not (services.settings.data_dir.parent / "etc").exists()


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PNG[: len(PNG) // 3], "cut.png", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "garbage.png", "image/png"),
        (b"%PDF-1.7\n" + b"not really a pdf\n" * 20, "broken.pdf", "application/pdf"),
        (b"II*\x00" + b"\xff" * 64, "broken.tif", "image/tiff"),
    ],
    ids=["truncated-png", "garbage-png", "garbage-pdf", "garbage-tiff"],
)
def test_corrupted_file_fails_the_job_not_the_worker(http, services, data, name, content_type):
    job_id = post_file(http, data, name=name, content_type=content_type).get_json()["job_id"]
    status = wait_finished(http, job_id, timeout=60)
    assert status["status"] == "failed" and status["error_code"] == "corrupted_file", status
    assert status["error_message"] and status["expiration_time"]
    assert_error(http.get(f"/result/{job_id}"), 422, "corrupted_file")
    # the worker survives: a good upload afterwards still completes
    good = post_file(http, (SAMPLES / "tesseract-testing-2pages.pdf").read_bytes(), name="ok.pdf", content_type="application/pdf")
    assert wait_finished(http, good.get_json()["job_id"])["status"] == "completed"


@pytest.mark.parametrize("job_id", ["A" * 43, "abc", "..%2F..%2Fetc", "A" * 44, "A" * 42 + "!"])
def test_unknown_or_malformed_job_ids_are_404(http, job_id):
    assert_error(http.get(f"/status/{job_id}"), 404, "not_found")
    assert_error(http.get(f"/result/{job_id}"), 404, "not_found")


def test_result_of_unfinished_job_is_409_with_status(http, services, settings):
    held = RecordingQueue()
    bootstrap.use(dataclasses.replace(services, queue=held))
    job_id = post_file(http, PNG).get_json()["job_id"]
    body = assert_error(http.get(f"/result/{job_id}"), 409, "not_finished")
    assert body["status"] == "pending"
    assert [t.kind for t in held.tasks] == ["prepare"]


def test_unknown_result_format_is_400(http, services):
    job_id = post_file(http, PNG).get_json()["job_id"]
    wait_finished(http, job_id)
    assert_error(http.get(f"/result/{job_id}?format=docx"), 400, "invalid_format_parameter")


def test_unexpected_error_is_500_without_details_and_leaves_nothing(http, services):
    class BrokenStore(SqliteStore):
        def create_job(self, job):
            raise RuntimeError("disk exploded at /secret/path")

    broken = BrokenStore(services.settings.data_dir / "pagesage.db")
    bootstrap.use(dataclasses.replace(services, store=broken))
    response = post_file(http, PNG)
    body = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True) and body["detail"] == "internal error"
    assert_nothing_stored(services)


class RecordingQueue:
    """A task queue that only records what was enqueued."""

    def __init__(self):
        self.tasks = []

    def enqueue(self, task):
        self.tasks.append(task)


def test_body_without_length_is_cut_off_at_the_limit(stack, services):
    settings = services.settings.model_copy(update={"max_upload_bytes": 100_000})
    bootstrap.use(dataclasses.replace(services, settings=settings))
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    body = CountingStream(head + PNG[:400_000] + f"\r\n--{boundary}--\r\n".encode())
    environ = EnvironBuilder(path="/upload", method="POST", content_type=f"multipart/form-data; boundary={boundary}").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": body, "wsgi.input_terminated": True})
    response = Response.from_app(stack, environ)
    response.get_json = lambda: json.loads(response.get_data())
    assert_error(response, 413, "file_too_large")
    assert 100_000 < body.consumed < 400_000  # reading stopped near the limit, not at the end
    assert_nothing_stored(services)

"""The whole pipeline on the `gcp` backend, against the real emulators: Firestore, Cloud Storage
and Cloud Tasks (which POSTs each task to the `ocr` function of a real local server).

A real multi-page scan goes in two ways: through the HTTP `upload` function, and dropped into
the emulated bucket under `incoming/` with the storage CloudEvent delivered to `ocr_bucket_drop`
the way functions-framework receives it (binary and structured content modes).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from pagesage import emulators
import functions_framework
import httpx
import pytest
from conftest import hocr_spec_errors, wait_finished
from google.cloud import storage

from pagesage import bootstrap
from pagesage.config import Settings
from pagesage.server import create_server, functions_dir, serving
from pagesage.services.bucket_drop import DroppedObject, drop_job_id

PDF = "pdf/eng-oldbooks-c029-c031.pdf"  # 3 real scanned pages with ground truth


@pytest.fixture
def gcp(firestore_host, storage_host, tasks_host, tmp_path):
    """The gcp-backend services behind a live server; yields (base URL, services)."""
    emulators.reset_firestore(firestore_host)
    port = emulators.free_port()
    settings = Settings(backend="gcp", gcp_project=emulators.PROJECT, bucket=f"pagesage-{secrets.token_hex(4)}",
                        tasks_queue=f"ocr-{secrets.token_hex(4)}", public_url=f"http://127.0.0.1:{port}",
                        rate_limit=0, data_dir=tmp_path / "unused")
    services = bootstrap.build(settings)
    bootstrap.use(services)
    with serving(create_server("127.0.0.1", port)):
        yield f"http://127.0.0.1:{port}", services
    bootstrap.use(None)


def bucket_of(services) -> storage.Bucket:
    from pagesage.adapters.gcs_blobs import storage_client

    return storage_client(emulators.PROJECT).bucket(services.settings.bucket)


def assert_results_in_gcs(services, job_id: str, pages: int, tmp_path: Path) -> None:
    bucket = bucket_of(services)
    hocr = bucket.blob(f"results/{job_id}/document.hocr")
    hocr.reload()
    assert hocr.content_type == "text/html; charset=utf-8"
    path = tmp_path / "document.hocr"
    hocr.download_to_filename(path)
    text = path.read_text()
    assert text.count("class='ocr_page'") + text.count('class="ocr_page"') == pages
    assert hocr_spec_errors(path) == []
    assert len([b for b in bucket.list_blobs(prefix=f"pages/{job_id}/")]) == pages


@pytest.mark.corpus
def test_upload_over_http_runs_through_cloud_tasks_to_results_in_gcs(gcp, corpus, tmp_path):
    base, services = gcp
    with (corpus / PDF).open("rb") as f:
        response = httpx.post(f"{base}/upload", files={"file": ("book.pdf", f, "application/pdf")}, data={"lang": "eng"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    status = wait_finished(httpx.Client(base_url=base), job_id)
    assert status["status"] == "completed", status
    assert status["progress"]["pages_done"] == 3
    hocr = httpx.get(f"{base}/result/{job_id}", params={"format": "hocr"})
    assert hocr.status_code == 200 and "ocrx_word" in hocr.text
    words = httpx.get(f"{base}/result/{job_id}", params={"format": "text"}).text.split()
    assert len(words) > 300
    assert_results_in_gcs(services, job_id, 3, tmp_path)
    costs = services.store.list_costs(job_id)
    assert sorted(c.page_no for c in costs) == [1, 2, 3]


def storage_event(bucket: str, blob: storage.Blob) -> tuple[dict, dict]:
    """CloudEvent attributes and data of a finalized object, as Eventarc sends them."""
    blob.reload()
    data = {"bucket": bucket, "name": blob.name, "generation": str(blob.generation), "size": str(blob.size),
            "contentType": blob.content_type, "metadata": blob.metadata or {}, "kind": "storage#object"}
    attributes = {"id": secrets.token_hex(8), "specversion": "1.0", "type": "google.cloud.storage.object.v1.finalized",
                  "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}", "subject": f"objects/{blob.name}",
                  "time": "2026-11-23T10:00:00Z"}
    return attributes, data


@pytest.fixture
def drop_client():
    """functions-framework's app for the CloudEvent target, as its runtime loads it."""
    app = functions_framework.create_app("ocr_bucket_drop", str(functions_dir() / "ocr" / "main.py"), "cloudevent")
    return app.test_client()


def deliver(client, attributes: dict, data: dict, mode: str):
    if mode == "binary":
        headers = {f"ce-{k}": v for k, v in attributes.items()}
        return client.post("/", headers={**headers, "Content-Type": "application/json"}, data=json.dumps(data))
    body = {**attributes, "datacontenttype": "application/json", "data": data}
    return client.post("/", headers={"Content-Type": "application/cloudevents+json"}, data=json.dumps(body))


@pytest.mark.corpus
@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_file_dropped_into_incoming_is_ocred_once_per_generation(gcp, corpus, tmp_path, drop_client, mode):
    base, services = gcp
    blob = bucket_of(services).blob(f"incoming/scans/{mode} book.pdf")
    blob.metadata = {"lang": "eng"}
    blob.upload_from_filename(corpus / PDF, content_type="application/pdf")
    attributes, data = storage_event(services.settings.bucket, blob)

    assert deliver(drop_client, attributes, data, mode).status_code == 200
    assert deliver(drop_client, attributes, data, mode).status_code == 200  # at-least-once: same event again
    job_id = drop_job_id(DroppedObject.from_event_data(data))
    status = wait_finished(httpx.Client(base_url=base), job_id)
    assert status["status"] == "completed", status
    assert_results_in_gcs(services, job_id, 3, tmp_path)
    jobs = list(services.store.client.collection("jobs").stream())
    assert [j.id for j in jobs] == [job_id]
    job = services.store.get_job(job_id)
    assert job.upload.file_name == f"{mode} book.pdf" and job.languages == "eng"
    assert job.upload.original_key == f"originals/{job_id}/original.pdf"
    assert deliver(drop_client, attributes, data, mode).status_code == 200  # after completion: still one job
    assert services.store.get_job(job_id).status.value == "completed"


@pytest.mark.parametrize(("name", "payload", "size", "code"), [
    ("incoming/notes.txt", b"plain text, not a scan", None, "invalid_format"),
    ("incoming/huge.pdf", b"%PDF-1.7\n", 30_000_000, "file_too_large"),
    ("incoming/empty.png", b"", None, "empty_file"),
])
def test_objects_that_cannot_be_ocred_become_failed_jobs(gcp, drop_client, name, payload, size, code):
    base, services = gcp
    blob = bucket_of(services).blob(name)
    blob.upload_from_string(payload)
    attributes, data = storage_event(services.settings.bucket, blob)
    if size is not None:
        data["size"] = str(size)  # the emulator cannot hold 30 MB quickly; the event carries the size
    assert deliver(drop_client, attributes, data, "binary").status_code == 200
    status = httpx.get(f"{base}/status/{drop_job_id(DroppedObject.from_event_data(data))}").json()
    assert (status["status"], status["error_code"]) == ("failed", code)


def test_events_outside_incoming_or_malformed_are_acknowledged_and_ignored(gcp, drop_client):
    base, services = gcp
    blob = bucket_of(services).blob("results/x/document.hocr")
    blob.upload_from_string(b"<html/>", content_type="text/html")
    attributes, data = storage_event(services.settings.bucket, blob)
    assert deliver(drop_client, attributes, data, "binary").status_code == 200
    assert deliver(drop_client, attributes, {"no": "bucket"}, "binary").status_code == 200
    assert list(services.store.client.collection("jobs").stream()) == []


class UnavailableEngine:
    """The real engine for everything but recognition, which is always unavailable (a Tesseract
    container that keeps answering 503)."""

    def __init__(self, engine):
        self._engine = engine
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def recognize(self, image, **kwargs):
        from pagesage.errors import TransientError

        self.calls += 1
        raise TransientError("engine unavailable")


def test_a_page_still_failing_on_the_last_cloud_tasks_attempt_is_recorded_and_its_job_finishes(gcp):
    base, services = gcp
    engine = UnavailableEngine(services.engine)
    # the emulator delivers a failing task 4 times (--max-retries=3): make the 4th the last attempt
    settings = services.settings.model_copy(update={"task_max_attempts": 4})
    bootstrap.use(bootstrap.build(settings, store=services.store, blobs=services.blobs, engine=engine))
    with (Path(__file__).resolve().parents[2] / "samples" / "alice_1.png").open("rb") as f:
        job_id = httpx.post(f"{base}/upload", files={"file": ("alice.png", f, "image/png")}, data={"lang": "eng"}).json()["job_id"]
    status = wait_finished(httpx.Client(base_url=base), job_id, timeout=60)
    assert engine.calls == 4
    assert status["status"] == "failed"
    assert [(e["page_no"], e["error_code"]) for e in status["page_errors"]] == [(1, "internal_error")]


def test_a_cloud_storage_source_is_fetched_by_the_worker_cloud_tasks_calls(gcp):
    base, services = gcp
    sample = Path(__file__).resolve().parents[2] / "samples" / "tesseract-testing-2pages.pdf"
    from pagesage.adapters.gcs_blobs import storage_client

    client = storage_client(emulators.PROJECT)
    scans = client.bucket(f"scans-{secrets.token_hex(4)}")
    client.create_bucket(scans)
    scans.blob("books/two pages.pdf").upload_from_filename(str(sample))
    answer = httpx.post(f"{base}/api/v1/ocr/source_docs",
                        json={"kind": "remote_url", "uri": f"gs://{scans.name}/books/two%20pages.pdf", "ocr": {"lang": "eng"}})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    status = wait_finished(httpx.Client(base_url=base), accepted["job_id"])
    assert status["status"] == "completed" and status["progress"]["pages_done"] == 2, status
    doc = httpx.get(f"{base}/api/v1/ocr/source_docs/{accepted['source_doc_id']}").json()  # from Firestore
    assert doc["generation"] == str(scans.get_blob("books/two pages.pdf").generation) and doc["fetched_at"]
    assert bucket_of(services).blob(f"originals/{accepted['job_id']}/original.pdf").exists()
    assert "The quick" in httpx.get(f"{base}/result/{accepted['job_id']}", params={"format": "text"}).text

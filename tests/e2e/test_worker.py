"""The `ocr` worker function: task delivery over HTTP, redelivery, page failures, fan-out order."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import SAMPLES, upload, wait_finished
from factories import RecordingQueue

from pagesage import bootstrap
from pagesage.errors import EngineError
from pagesage.ports import Task
from pagesage.services.worker import handle_task


def deliver(http, task: Task):
    """POST a task to the `ocr` function, as Cloud Tasks does."""
    return http.post("/ocr", data=task.model_dump_json(), content_type="application/json")


def test_tasks_delivered_over_http_run_the_pipeline_and_redelivery_changes_nothing(http, services):
    queue = RecordingQueue()
    held = dataclasses.replace(services, queue=queue)
    bootstrap.use(held)
    job_id = upload(http, SAMPLES / "tesseract-testing-2pages.pdf", lang="eng").get_json()["job_id"]
    assert http.get(f"/status/{job_id}").get_json()["status"] == "pending"

    prepare = queue.tasks.pop()
    assert prepare.kind == "prepare"
    assert deliver(http, prepare).status_code == 204
    status = http.get(f"/status/{job_id}").get_json()
    assert status["status"] == "processing" and status["progress"]["pages_total"] == 2
    pages = list(queue.tasks)
    assert [t.page_no for t in pages] == [1, 2] and all(t.kind == "ocr_page" for t in pages)
    assert deliver(http, prepare).status_code == 204  # redelivered prepare: no new run, pages re-queued only
    assert len(services.store.list_runs(job_id)) == 1

    assert deliver(http, pages[0]).status_code == 204
    assert http.get(f"/status/{job_id}").get_json()["progress"]["pages_done"] == 1
    first = services.store.list_page_results(job_id)[0]
    assert deliver(http, pages[0]).status_code == 204  # redelivery of a finished page
    assert services.store.list_page_results(job_id)[0].page_result_id == first.page_result_id
    assert http.get(f"/status/{job_id}").get_json()["progress"]["pages_done"] == 1

    assert deliver(http, pages[1]).status_code == 204
    assert http.get(f"/status/{job_id}").get_json()["status"] == "completed"
    assert deliver(http, pages[1]).status_code == 204
    costs = services.store.list_costs(job_id)
    assert sorted(c.cost_id.split(":", 1)[1] for c in costs) == ["p1:ocr-extraction", "p2:ocr-extraction"]
    assert http.get(f"/result/{job_id}?format=text").status_code == 200


def test_invalid_task_body_is_400(http):
    response = http.post("/ocr", data=json.dumps({"kind": "explode", "job_id": "x"}), content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error_code"] == "invalid_task"


def test_task_for_unknown_job_is_acknowledged(http):
    assert deliver(http, Task(kind="ocr_page", job_id="A" * 43, page_no=1)).status_code == 204


class FailingOnPage:
    """The real engine, except that recognition fails on images of one size (one page)."""

    def __init__(self, engine, fail_width: int):
        self._engine, self._fail_width = engine, fail_width
        self.name = engine.name

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def recognize(self, image, **kwargs):
        from PIL import Image

        with Image.open(image) as im:
            if im.width == self._fail_width:
                raise EngineError("tesseract failed: simulated crash")
        return self._engine.recognize(image, **kwargs)


@pytest.fixture
def failing_on(services):
    """Install services whose engine fails on pages of a given pixel width."""
    built = []

    def install(width: int):
        built.append(bootstrap.build(services.settings, engine=FailingOnPage(services.engine, width)))
        bootstrap.use(built[-1])

    yield install
    for extra in built:
        extra.queue.close()


def test_a_failed_page_is_recorded_and_the_rest_delivered(http, failing_on):
    failing_on(960)  # page 1 of the sample PDF: 640 px at 200 dpi, rendered at 300 dpi
    job_id = upload(http, SAMPLES / "tesseract-testing-2pages.pdf", lang="eng").get_json()["job_id"]
    status = wait_finished(http, job_id)
    assert status["status"] == "completed"
    assert status["progress"] == {"pages_total": 2, "pages_done": 1, "pages_failed": 1}
    assert status["page_errors"] == [{"page_no": 1, "error_code": "ocr_engine_error", "error_message": "tesseract failed: simulated crash"}]
    doc = json.loads(http.get(f"/result/{job_id}?format=json").data)
    assert [p["status"] for p in doc["pages"]] == ["failed", "done"]
    assert doc["pages"][0]["tokens"] == [] and doc["pages"][1]["tokens"]
    assert http.get(f"/result/{job_id}").data.count(b'class="ocr_page"') == 2


def test_a_job_whose_every_page_failed_fails(http, failing_on):
    failing_on(2488)
    job_id = upload(http, SAMPLES / "alice_1.png", lang="eng").get_json()["job_id"]
    status = wait_finished(http, job_id)
    assert status["status"] == "failed" and status["error_code"] == "ocr_engine_error"
    assert status["error_message"].startswith("page 1: tesseract failed")
    assert http.get(f"/result/{job_id}").status_code == 422


def test_largest_pages_are_queued_first(services, corpus):
    queue = RecordingQueue()
    held = dataclasses.replace(services, queue=queue)
    from pagesage.services.submit import submit_document

    with open(corpus / "san-imagessan" / "tulasi-8pages.tif", "rb") as stream:
        job = submit_document(stream, file_name="t.tif", declared_type="image/tiff", languages="Devanagari",
                              installed_languages=services.engine.installed_languages(), max_bytes=10**8,
                              store=services.store, blobs=services.blobs, queue=queue)
    handle_task(queue.tasks.pop(), held.worker)
    sizes = {p.page_no: p.size_hint for p in services.store.list_pages(job.source_doc_id)}
    assert len(sizes) == 8 and len(set(sizes.values())) > 1
    assert [t.priority for t in queue.tasks] == [sizes[t.page_no] for t in queue.tasks]
    assert all(t.priority > 0 for t in queue.tasks)

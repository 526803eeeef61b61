"""Nothing stuck, nothing done twice: page leases, the stalled-job sweeper, start-up recovery
and the last delivery of a `prepare` task, on real scans through the real worker."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pytest
from conftest import SAMPLES, upload
from factories import RecordingQueue

from pagesage import bootstrap
from pagesage.domain.jobs import JobStatus
from pagesage.domain.pages import PageStatus
from pagesage.errors import TransientError
from pagesage.ports import Task
from pagesage.services.sweeper import recover, sweep
from pagesage.services.worker import PageBusy, handle_task

PDF = SAMPLES / "tesseract-testing-2pages.pdf"


class Clock:
    """A settable aware-UTC clock."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def held(services):
    """Services whose queue records tasks (nothing runs unless a test delivers it) and whose
    store, worker and sweeper read a settable clock."""
    clock = Clock()
    services.store._clock = clock
    built = dataclasses.replace(services, queue=RecordingQueue(), clock=clock)
    bootstrap.use(built)
    return built


def prepared(http, held, path=PDF) -> tuple[str, list[Task]]:
    """Upload `path`, run its `prepare`; returns the job id and its page tasks."""
    job_id = upload(http, path, lang="eng").get_json()["job_id"]
    handle_task(held.queue.tasks.pop(), held.worker)
    pages = [t for t in held.queue.tasks if t.kind == "ocr_page"]
    held.queue.tasks.clear()
    return job_id, pages


class GatedEngine:
    """The real engine, whose recognition waits at a gate and counts its calls."""

    def __init__(self, engine):
        self._engine = engine
        self.calls = 0
        self.entered, self.gate = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def recognize(self, image, **kwargs):
        self.calls += 1
        self.entered.set()
        assert self.gate.wait(60)
        return self._engine.recognize(image, **kwargs)


def test_a_page_task_delivered_twice_at_once_runs_the_engine_once(http, held):
    job_id, pages = prepared(http, held)
    engine = GatedEngine(held.engine)
    worker = dataclasses.replace(held, engine=engine).worker
    first = threading.Thread(target=handle_task, args=(pages[0], worker))
    first.start()
    assert engine.entered.wait(60)
    with pytest.raises(PageBusy):  # the duplicate finds the page claimed: the queue delivers it again later
        handle_task(pages[0], worker)
    engine.gate.set()
    first.join(120)
    handle_task(pages[0], worker)  # the later redelivery: the page is done, nothing runs
    assert engine.calls == 1
    assert len(held.store.list_page_results(job_id)) == 1
    assert [c.cost_id.split(":", 1)[1] for c in held.store.list_costs(job_id)] == ["p1:ocr-extraction"]
    assert held.store.get_job(job_id).pages_done == 1


def test_a_page_whose_worker_died_is_read_once_its_lease_expired(http, held):
    job_id, pages = prepared(http, held)
    page = held.store.list_pages(held.store.get_job(job_id).source_doc_id)[0]
    assert held.store.claim_page(page.page_id, "dead-host/1/x", held.clock() + timedelta(seconds=held.settings.lease_seconds),
                                 held.clock())
    with pytest.raises(PageBusy):
        handle_task(pages[0], held.worker)
    held.clock.now += timedelta(seconds=held.settings.lease_seconds + 1)
    handle_task(pages[0], held.worker)
    assert held.store.get_job(job_id).pages_done == 1


def test_the_sweeper_requeues_a_stalled_job_then_gives_it_up(http, held):
    settings = held.settings
    job_id, pages = prepared(http, held)
    handle_task(pages[0], held.worker)  # page 1 done; page 2's task is lost
    assert sweep(store=held.store, blobs=held.blobs, queue=held.queue, settings=settings, now=held.clock()).requeued == []

    for attempt in range(1, settings.job_attempts + 1):
        held.clock.now += timedelta(seconds=settings.stall_seconds + 1)
        report = sweep(store=held.store, blobs=held.blobs, queue=held.queue, settings=settings, now=held.clock())
        assert report.requeued == [job_id]
        (task,) = held.queue.tasks
        assert (task.kind, task.page_no, task.attempt) == ("ocr_page", 2, attempt)
        assert task.name.endswith(f"-p2-r{attempt}")  # a name of its own: Cloud Tasks refuses one it has seen
        held.queue.tasks.clear()

    held.clock.now += timedelta(seconds=settings.stall_seconds + 1)
    report = sweep(store=held.store, blobs=held.blobs, queue=held.queue, settings=settings, now=held.clock())
    assert report.given_up == [job_id] and held.queue.tasks == []
    status = http.get(f"/status/{job_id}").get_json()
    assert status["status"] == "completed" and status["progress"] == {"pages_total": 2, "pages_done": 1, "pages_failed": 1}
    assert status["page_errors"][0]["page_no"] == 2 and status["page_errors"][0]["error_code"] == "timeout"
    assert http.get(f"/result/{job_id}?format=text").status_code == 200


def test_a_pending_job_whose_prepare_was_lost_is_queued_again_and_then_failed(http, held):
    job_id = upload(http, PDF, lang="eng").get_json()["job_id"]
    held.queue.tasks.clear()  # the prepare task is lost
    settings = held.settings.model_copy(update={"job_attempts": 1})
    held.clock.now += timedelta(seconds=settings.stall_seconds + 1)
    sweep(store=held.store, blobs=held.blobs, queue=held.queue, settings=settings, now=held.clock())
    assert [(t.kind, t.attempt) for t in held.queue.tasks] == [("prepare", 1)]
    held.clock.now += timedelta(seconds=settings.stall_seconds + 1)
    assert sweep(store=held.store, blobs=held.blobs, queue=held.queue, settings=settings, now=held.clock()).given_up == [job_id]
    status = http.get(f"/status/{job_id}").get_json()
    assert status["status"] == "failed" and status["error_code"] == "timeout"


def test_recovery_releases_dead_leases_clears_temporary_files_and_finishes_the_job(http, held):
    job_id, pages = prepared(http, held)
    source_doc_id = held.store.get_job(job_id).source_doc_id
    for page in held.store.list_pages(source_doc_id):
        assert held.store.claim_page(page.page_id, "killed-host/9/x", held.clock() + timedelta(hours=1), held.clock())
    left = held.settings.work_dir / "pagesage-page-killed"
    left.mkdir()
    (left / "page.png").write_bytes(b"half a page")

    report = recover(store=held.store, blobs=held.blobs, queue=held.queue, settings=held.settings, now=held.clock())
    assert report.requeued == [job_id] and not left.exists()
    assert all(p.lease_owner is None for p in held.store.list_pages(source_doc_id))
    for task in list(held.queue.tasks):
        handle_task(task, held.worker)
    assert held.store.get_job(job_id).status is JobStatus.COMPLETED
    assert [p.status for p in held.store.list_pages(source_doc_id)] == [PageStatus.DONE, PageStatus.DONE]


class UnavailableBlobs:
    """A blob store that is down for reads."""

    def __init__(self, blobs):
        self._blobs = blobs

    def __getattr__(self, name):
        return getattr(self._blobs, name)

    def local_path(self, key):
        raise TransientError("blob store unavailable")


def test_a_prepare_still_failing_on_its_last_attempt_fails_the_job(http, held):
    job_id = upload(http, PDF, lang="eng").get_json()["job_id"]
    prepare = held.queue.tasks.pop()
    down = dataclasses.replace(held, blobs=UnavailableBlobs(held.blobs)).worker
    with pytest.raises(TransientError):  # not the last attempt: delivered again
        handle_task(prepare, down)
    assert held.store.get_job(job_id).status is JobStatus.PENDING
    handle_task(prepare, down, last_attempt=True)
    job = held.store.get_job(job_id)
    assert job.status is JobStatus.FAILED and job.error_code.value == "internal_error"
    assert "/" not in job.error_message

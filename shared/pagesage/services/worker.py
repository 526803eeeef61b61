"""Use cases of the OCR worker: prepare a job, OCR one page, finish the job.

Task flow: `prepare` fetches a remote job's source first (`services.remote_source`), then opens
the stored original, counts its pages, records the run and the page records, moves the job to
processing and queues one `ocr_page` task per page, largest first.
Each `ocr_page` claims its page (a lease with an expiry, so a task delivered twice does not run
the engine twice, and a worker that died does not hold the page for good), renders it, runs the
engine, stores the page image, page result, tokens and cost entries, and counts the page on the
job; the call that finishes the last page renders the results and completes the job. Every step
is idempotent: a redelivered task finds its work done and only repairs what a crash left
unfinished (queued pages, an unfinished job).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from pagesage.config import Settings
from pagesage.domain.jobs import Job, JobErrorCode, JobStatus, random_id, utcnow
from pagesage.domain.pages import EngineConfig, Page, PageStatus, Run, page_id
from pagesage.errors import DocumentError, NotFound, PageSageError, TransientError
from pagesage.imaging import page_sizes
from pagesage.ports import BlobStore, OcrEngine, SourceFetcher, Store, Task, TaskQueue
from pagesage.services.finish import fail_unless_finished, finish_job
from pagesage.services.ocr_page import ocr_page
from pagesage.services.remote_source import receive_remote

log = logging.getLogger(__name__)


WORKER_ID = f"{socket.gethostname()}/{os.getpid()}/{random_id(6)}"
"""This process, as a page's lease names it (host, pid and a random part, as pids are reused);
each delivery adds a part of its own."""


class PageBusy(TransientError):
    """Another worker holds the page's lease: deliver the task again later."""

    error_code = "page_busy"


@dataclass(frozen=True)
class WorkerPorts:
    """What the worker needs: the store, blobs, queue, engine, settings, the clock (aware UTC
    now) leases are counted on, and the fetcher of remote sources (None: this worker reads
    only uploads, and a remote job fails with `fetch_failed`)."""

    store: Store
    blobs: BlobStore
    queue: TaskQueue
    engine: OcrEngine
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    sources: SourceFetcher | None = None


def handle_task(task: Task, ports: WorkerPorts, *, last_attempt: bool = False) -> None:
    """Run one task. Unknown or expired jobs are ignored (their task is obsolete).

    Permanent failures (a corrupt document, a page the engine cannot read) are recorded on the
    job, not raised. Anything raised (a store or blob store that is unavailable, say) means the
    queue should deliver the task again. On the queue's `last_attempt` a page whose engine is
    still unavailable is recorded as failed instead, so that its job can finish, and a job that
    still cannot be prepared is failed (`internal_error`).
    """
    try:
        if task.kind == "prepare":
            try:
                prepare_job(task.job_id, ports, last_attempt=last_attempt)
            except PageSageError as exc:
                if not (exc.retryable and last_attempt):
                    raise
                log.warning("task %s failed on its last attempt: %s", task.name, exc.detail)
                fail_unless_finished(ports.store, task.job_id, JobErrorCode.INTERNAL_ERROR,
                                     "the document could not be opened: the service was unavailable")
        else:
            run_page(task.job_id, task.page_no or 0, ports, last_attempt=last_attempt)
    except NotFound:
        log.info("task %s: job gone, dropped", task.name)


def prepare_job(job_id: str, ports: WorkerPorts, *, last_attempt: bool = False) -> None:
    """Fetch a remote job's source (`receive_remote`), open the job's document, record its run
    and pages, start the job and fan out pages.

    A source that cannot be fetched fails the job with its code (a transient failure is raised,
    for the queue to retry, until the `last_attempt`). A document that cannot be opened
    (`corrupted_file`, `encrypted_file`), has a page over the worker's pixel limit
    (`memory_limit`) or more than `settings.max_pages` pages (`invalid_format`) fails the job
    instead of raising.
    """
    store, settings = ports.store, ports.settings
    job = store.get_job(job_id)
    if job.status is JobStatus.PROCESSING:  # redelivery after a crash mid fan-out
        _enqueue_pending(job, store.list_pages(job.source_doc_id), ports.queue)
        return
    if job.status is not JobStatus.PENDING:
        return
    if job.upload is None:
        if ports.sources is None:
            fail_unless_finished(store, job_id, JobErrorCode.FETCH_FAILED, "this worker does not fetch remote sources")
            return
        received = receive_remote(job, store=store, blobs=ports.blobs, sources=ports.sources, settings=settings,
                                  last_attempt=last_attempt)
        if received is None or received.status is not JobStatus.PENDING:
            return
        job = received
    try:
        with ports.blobs.local_path(job.original.original_key) as path:
            sizes = page_sizes(path, job.original.file_format, dpi=settings.dpi, max_pixels=settings.max_page_pixels)
    except DocumentError as exc:
        fail_unless_finished(store, job_id, JobErrorCode(exc.error_code), exc.detail)
        return
    if len(sizes) > settings.max_pages:
        message = f"document has {len(sizes)} pages; the limit is {settings.max_pages}"
        store.update_job(job_id, lambda j: j.fail(JobErrorCode.INVALID_FORMAT, message))
        return
    if not store.list_runs(job_id):
        store.put_run(Run(
            job_id=job_id,
            source_doc_id=job.source_doc_id,
            engine=ports.engine.name,
            engine_version=ports.engine.version(),
            config=EngineConfig(languages=job.languages, psm=settings.psm, oem=settings.oem, dpi=settings.dpi),
        ))
    named = {p.page_no: p for p in store.list_pages(job.source_doc_id)}  # a manifest's canvas labels and ids
    pages = []
    for n, area in enumerate(sizes, start=1):
        known = named.get(n)
        pages.append(Page(source_doc_id=job.source_doc_id, job_id=job_id, page_no=n, size_hint=area,
                          label=known.label if known else None, canvas=known.canvas if known else None))
    store.put_pages(pages)
    job = store.update_job(job_id, lambda j: j.start(len(pages)))
    _enqueue_pending(job, pages, ports.queue)


def run_page(job_id: str, page_no: int, ports: WorkerPorts, *, last_attempt: bool = False) -> None:
    """OCR one page of a processing job and count it; finish the job after its last page.

    A page that cannot be decoded or recognised is recorded as failed with its error code; so is
    one whose engine failed transiently on the `last_attempt`.
    """
    store = ports.store
    job = store.get_job(job_id)
    if job.status is not JobStatus.PROCESSING:
        return
    page = store.get_page(page_id(job.source_doc_id, page_no))
    if page.status is PageStatus.PENDING:
        owner = f"{WORKER_ID}/{random_id(6)}"  # one delivery: a duplicate in this process is another
        until = ports.clock() + timedelta(seconds=ports.settings.lease_seconds)
        if not store.claim_page(page.page_id, owner, until, ports.clock()):
            page = store.get_page(page.page_id)
            if page.status is PageStatus.PENDING:
                raise PageBusy(f"page {page_no} is being read by another worker until {page.lease_until}")
        else:
            try:
                job, _ = store.finish_page(_attempt_page(job, page, ports, last_attempt))
            except BaseException:
                store.release_page(page.page_id, owner)  # nobody reads it now: a redelivery may start at once
                raise
    if _all_pages_counted(job):  # also on redelivery, to finish a job a crash left unfinished
        finish_job(job_id, store=store, blobs=ports.blobs)


def _attempt_page(job: Job, page: Page, ports: WorkerPorts, last_attempt: bool) -> Page:
    run = ports.store.list_runs(job.job_id)[0]
    try:
        return ocr_page(job, page, run, store=ports.store, blobs=ports.blobs, engine=ports.engine, settings=ports.settings)
    except PageSageError as exc:
        if exc.retryable and not last_attempt:
            raise
        failure = exc if isinstance(exc, DocumentError) else PageSageError(exc.detail)
    except Exception as exc:  # noqa: BLE001 - one bad page must not hang its job
        log.exception("page %d of job %s failed", page.page_no, job.job_id)
        failure = PageSageError(f"internal error: {type(exc).__name__}")
    return page.model_copy(update={"status": PageStatus.FAILED, "error_code": failure.error_code, "error_message": failure.detail[:500]})


def _all_pages_counted(job: Job) -> bool:
    return job.page_count is not None and job.pages_done + job.pages_failed >= job.page_count


def _enqueue_pending(job: Job, pages: list[Page], queue: TaskQueue) -> None:
    for page in pages:
        if page.status is PageStatus.PENDING:
            queue.enqueue(Task(kind="ocr_page", job_id=job.job_id, page_no=page.page_no, priority=page.size_hint))


"""Use case: no job stays unfinished for good (docs/reliability.md).

A job whose process died (a worker killed mid-page, a lost task, a queue that gave up) makes
no progress: its `updated_at` stops moving. `sweep` finds every job still pending or processing
whose `updated_at` is older than `settings.stall_seconds` and

    * queues its remaining work again (`prepare` for a pending job, `ocr_page` for each page
      still pending, or the job's finish when every page is counted), with a task name of its
      own (`Task.attempt`), up to `settings.job_attempts` times;
    * after that, gives up: a pending job fails with `timeout`; a processing job's pending
      pages are recorded as failed with `timeout` and the job finishes with the pages it has
      (failed when it has none), as any job whose pages failed.

On the embedded backend `recover` runs the same steps at start-up for every unfinished job at
once (nothing of this data folder runs before it), after releasing the page leases the dead
process held and deleting the temporary files it left. In Google Cloud, Cloud Scheduler calls
the `sweep` function every few minutes (infra/modules/pagesage/functions.tf).
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from pagesage.config import Settings
from pagesage.domain.jobs import Job, JobErrorCode, JobStatus
from pagesage.domain.pages import PageStatus
from pagesage.errors import InvalidTransition, NotFound
from pagesage.ports import BlobStore, Store, Task, TaskQueue
from pagesage.services.finish import finish_job

log = logging.getLogger(__name__)

BATCH = 100
"""Stalled jobs read per store query."""


class SweepResult(BaseModel):
    """What one sweep did: job ids re-queued, and job ids given up (failed or finished with
    their pages marked failed); the body `POST /sweep` answers with."""

    requeued: list[str] = Field(default_factory=list)
    given_up: list[str] = Field(default_factory=list)


class _Moved(Exception):
    """The job changed since it was read as stalled: someone else is working on it."""


def sweep(*, store: Store, blobs: BlobStore, queue: TaskQueue, settings: Settings, now: datetime,
          recover: bool = False) -> SweepResult:
    """Re-queue or give up every stalled job (see the module docstring); `recover` treats every
    unfinished job as stalled and releases its pages' leases first. Returns what it did.

    Raises whatever the store or queue raises (the next sweep tries again).
    """
    report = SweepResult()
    before = now if recover else now - timedelta(seconds=settings.stall_seconds)
    seen: set[str] = set()
    while True:
        jobs = [j for j in store.list_stalled_jobs(before, BATCH) if j.job_id not in seen]
        if not jobs:
            return report
        for job in jobs:
            seen.add(job.job_id)
            try:
                if job.requeues >= settings.job_attempts:
                    _give_up(job, store=store, blobs=blobs, settings=settings)
                    report.given_up.append(job.job_id)
                else:
                    _requeue(job, store=store, blobs=blobs, queue=queue, release=recover)
                    report.requeued.append(job.job_id)
            except (_Moved, NotFound, InvalidTransition):
                continue
        if len(jobs) < BATCH:
            return report


def recover(*, store: Store, blobs: BlobStore, queue: TaskQueue, settings: Settings, now: datetime) -> SweepResult:
    """Start-up of the embedded backend: delete the temporary files a killed process left under
    `settings.work_dir`, then `sweep` with `recover` (every unfinished job queued again, its
    leases released). Returns the sweep's report."""
    if settings.work_dir is not None:
        clear_folder(settings.work_dir)
    report = sweep(store=store, blobs=blobs, queue=queue, settings=settings, now=now, recover=True)
    if report.requeued or report.given_up:
        log.info("recovered %d unfinished jobs, gave up %d", len(report.requeued), len(report.given_up))
    return report


def clear_folder(folder: Path) -> int:
    """Delete everything inside `folder` (kept itself); returns how many entries went."""
    gone = 0
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        gone += 1
    return gone


def _claim_attempt(job: Job, store: Store) -> Job:
    """Count one more re-queue on the job, if nobody touched it since it was read; its
    `updated_at` moves, so the next sweep waits a whole stall period again. Raises `_Moved`."""

    def count(current: Job) -> None:
        if current.finished or current.updated_at != job.updated_at:
            raise _Moved(job.job_id)
        current.requeues += 1

    return store.update_job(job.job_id, count)


def _requeue(job: Job, *, store: Store, blobs: BlobStore, queue: TaskQueue, release: bool) -> None:
    job = _claim_attempt(job, store)
    log.warning("job %s stalled (%s): queued again, attempt %d", job.job_id, job.status.value, job.requeues)
    if job.status is JobStatus.PENDING:
        queue.enqueue(Task(kind="prepare", job_id=job.job_id, attempt=job.requeues))
        return
    pending = [p for p in store.list_pages(job.source_doc_id) if p.status is PageStatus.PENDING]
    if not pending:
        finish_job(job.job_id, store=store, blobs=blobs)
        return
    for page in pending:
        if release and page.lease_owner is not None:
            store.release_page(page.page_id)
        queue.enqueue(Task(kind="ocr_page", job_id=job.job_id, page_no=page.page_no, priority=page.size_hint,
                           attempt=job.requeues))


def _give_up(job: Job, *, store: Store, blobs: BlobStore, settings: Settings) -> None:
    message = (f"no progress for {settings.stall_seconds:g} s, {job.requeues} times over; "
               "the work was queued again each time")
    if job.status is JobStatus.PENDING:
        def fail(current: Job) -> None:
            if current.updated_at != job.updated_at:
                raise _Moved(job.job_id)
            current.fail(JobErrorCode.TIMEOUT, message)

        store.update_job(job.job_id, fail)
        log.warning("job %s failed: %s", job.job_id, message)
        return
    for page in store.list_pages(job.source_doc_id):
        if page.status is PageStatus.PENDING:
            store.finish_page(page.model_copy(update={"status": PageStatus.FAILED, "error_code": JobErrorCode.TIMEOUT.value,
                                                      "error_message": message}))
    finish_job(job.job_id, store=store, blobs=blobs)
    log.warning("job %s given up: its pending pages failed (%s)", job.job_id, message)

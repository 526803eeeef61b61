"""Use cases of the read side: a job's status and its stored results."""

from __future__ import annotations

from pagesage.domain.jobs import JobStatus, is_job_id
from pagesage.errors import InputError, JobFailed, JobNotFinished, NotFound
from pagesage.ports import BlobStore, Store
from pagesage.responses import StatusResponse
from pagesage.services.finish import RESULT_FORMATS, result_key


def get_status(job_id: str, *, store: Store) -> StatusResponse:
    """The job's status and progress.

    Raises:
        NotFound: the id is malformed, unknown or expired.
    """
    if not is_job_id(job_id):
        raise NotFound("no such job")
    job = store.get_job(job_id)
    pages = store.list_pages(job.source_doc_id) if job.pages_failed else []
    return StatusResponse.of(job, pages)


def get_result(job_id: str, fmt: str, *, store: Store, blobs: BlobStore) -> tuple[bytes, str]:
    """A completed job's result in `fmt` (`hocr`, `json`, `text` or `markdown`) and its Content-Type.

    Raises:
        InputError: unknown format. NotFound: malformed, unknown or expired id.
        JobNotFinished: pending or processing (the error carries the status).
        JobFailed: the job failed (the error carries the job's error code).
    """
    if fmt not in RESULT_FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(RESULT_FORMATS)}", error_code="invalid_format_parameter")
    if not is_job_id(job_id):
        raise NotFound("no such job")
    job = store.get_job(job_id)
    if job.status is JobStatus.FAILED:
        raise JobFailed(job.error_message or "the job failed", error_code=job.error_code.value if job.error_code else None)
    if job.status is not JobStatus.COMPLETED:
        raise JobNotFinished(f"the job is {job.status.value}; poll /status/{job_id}", status=job.status.value)
    key = result_key(job_id, fmt)
    with blobs.open(key) as stream:
        return stream.read(), RESULT_FORMATS[fmt].content_type

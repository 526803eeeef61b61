"""HTTP response bodies (seed `upload-hocr-data-model.md`, "API Request/Response Models").

Separate from the stored models on purpose: what a client sees is chosen here.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from pagesage.domain.jobs import Job, JobErrorCode, JobStatus, utcnow
from pagesage.domain.pages import Page


class UploadResponse(BaseModel):
    """Body of `202 Accepted` from `POST /upload`."""

    job_id: str = Field(description="43-character job id (secrets.token_urlsafe(32))")
    status: JobStatus
    message: str = "Upload successful, processing started"


class Progress(BaseModel):
    """How far a job is: pages finished (with or without a result) of `pages_total`."""

    pages_total: int | None = Field(description="pages in the document; null until the worker has opened it")
    pages_done: int = Field(description="pages with a result")
    pages_failed: int = Field(description="pages that failed; their errors are in `page_errors`")


class PageError(BaseModel):
    """A page that produced no result."""

    page_no: int
    error_code: str
    error_message: str | None = None


class StatusResponse(BaseModel):
    """Body of `GET /status/<job_id>`: the seed's StatusResponse plus progress."""

    job_id: str
    source_doc_id: str = Field(description="the document's record in the provenance API (/api/v1/ocr/source_docs/<id>)")
    status: JobStatus
    file_name: str
    upload_time: datetime
    start_time: datetime | None = None
    completion_time: datetime | None = None
    expiration_time: datetime | None = None
    error_message: str | None = None
    error_code: JobErrorCode | None = None
    languages: str = Field(description="requested Tesseract language spec, e.g. auto or san+eng")
    progress: Progress
    page_errors: list[PageError] = Field(default_factory=list)

    @classmethod
    def of(cls, job: Job, pages: list[Page]) -> "StatusResponse":
        """The status of `job`, with the errors of its failed `pages`."""
        return cls(
            job_id=job.job_id, source_doc_id=job.source_doc_id, status=job.status, file_name=job.file_name,
            upload_time=job.submitted_at if job.source_uri else job.upload.upload_timestamp,
            start_time=job.start_time,
            completion_time=job.completion_time, expiration_time=job.expiration_time,
            error_message=job.error_message, error_code=job.error_code, languages=job.languages,
            progress=Progress(pages_total=job.page_count, pages_done=job.pages_done, pages_failed=job.pages_failed),
            page_errors=[PageError(page_no=p.page_no, error_code=p.error_code, error_message=p.error_message)
                         for p in pages if p.error_code],
        )


class ErrorResponse(BaseModel):
    """Every error body (seed ErrorResponse); `status` is set when a job's state caused the
    error, `field` when one part of a request body did (a JSON path such as `tokens[3].bbox`)."""

    detail: str
    error_code: str | None = None
    timestamp: datetime = Field(default_factory=utcnow)
    status: JobStatus | None = None
    field: str | None = None
    current_version: str | None = Field(default=None, description="a write named a stale version (412): the current "
                                        "version id, the ETag to base a retry on")

"""The OCR job: the process view of one uploaded document and its state machine.

Rules from the seed `upload-hocr-data-model.md` §2 (OCRJob):
    pending -> processing -> completed | failed; pending -> failed (a document that cannot be
    opened fails before any page runs). Expiry is 48 hours after completion (FR-012).
    error_code/error_message are set if and only if the job failed.
Any other transition raises `InvalidTransition`.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from enum import Enum

from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from pagesage.domain.fetch_policy import MAX_URL_LENGTH
from pagesage.domain.limits import BoundedModel
from pagesage.errors import InvalidTransition

RESULT_TTL = timedelta(hours=48)
"""How long a finished job and its results are kept (seed FR-012)."""

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
"""`secrets.token_urlsafe(32)` yields 43 URL-safe base64 characters (seed FR-016)."""


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def random_id(nbytes: int) -> str:
    """`nbytes` random bytes as URL-safe base64 that does not start with `-` (so an id is never
    read as an option on a command line); drawing again when it does costs 1/64 of a bit."""
    while (value := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return value


def new_job_id() -> str:
    """A new unguessable job id: 32 random bytes, URL-safe base64, 43 characters."""
    return random_id(32)


def is_job_id(value: str) -> bool:
    """True when `value` has the shape of a job id (43 URL-safe base64 characters)."""
    return bool(JOB_ID_PATTERN.fullmatch(value))


class JobStatus(str, Enum):
    """Lifecycle states of a job (seed §2)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class JobErrorCode(str, Enum):
    """Why a job or page failed (seed §2 `ErrorCode`; `file_too_large` and `empty_file` are
    the upload's 413/400 codes, for documents that arrive by a bucket drop or a fetch instead;
    `fetch_failed`, `not_found`, `forbidden` and `url_not_allowed` are a remote source's, see
    docs/remote-sources.md)."""

    INVALID_FORMAT = "invalid_format"
    FILE_TOO_LARGE = "file_too_large"
    EMPTY_FILE = "empty_file"
    CORRUPTED_FILE = "corrupted_file"
    ENCRYPTED_FILE = "encrypted_file"
    OCR_ENGINE_ERROR = "ocr_engine_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    INTERNAL_ERROR = "internal_error"
    FETCH_FAILED = "fetch_failed"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    URL_NOT_ALLOWED = "url_not_allowed"


class FileFormat(str, Enum):
    """Supported input formats, by MIME type (seed §1 `FileFormat`)."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    PDF = "application/pdf"
    TIFF = "image/tiff"


class DocumentUpload(BoundedModel):
    """What was received (seed §1 `DocumentUpload`), with the blob key it is stored under.

    Attributes:
        file_name: sanitized base name, at most 255 characters.
        file_size: bytes, 1 .. 26,214,400.
        sha256: hex digest of the original bytes.
        original_key: blob-store key of the stored original.
    """

    file_name: str = Field(max_length=255)
    file_format: FileFormat
    file_size: int = Field(gt=0)
    content_type: str
    sha256: str
    original_key: str
    upload_timestamp: datetime = Field(default_factory=utcnow)


class Job(BoundedModel):
    """One OCR job. Mutate only through the transition methods.

    A job is made either from an upload (or a bucket drop), with `upload` set, or from a remote
    source, with `source_uri` set and `upload` filled in by `receive` once the worker has fetched
    and checked the bytes.

    Attributes:
        upload: what was received and where the original is stored; None until a remote
            source is fetched.
        source_uri: the remote source (`s3://`, `gs://`, `https://`, a IIIF manifest URL) the
            job fetches; None for an upload.
        submitted_at: when the job was created, aware UTC.
        source_doc_id: the SourceDoc (the data view of the same document, its pages, runs and
            results) this job creates; 22 URL-safe characters.
        languages: the requested Tesseract language spec (`auto`, `eng`, `san+eng`, ...).
        page_count: pages in the document, known once the worker has opened it.
        pages_done / pages_failed: pages finished with and without a result.
        expiration_time: completion + 48 h; the job reads as gone afterwards.
        updated_at: when the job was last written (the store sets it): the sweeper's measure of
            progress (`services/sweeper.py`).
        requeues: how many times the sweeper queued the job's work again after it stalled.
    """

    job_id: str = Field(default_factory=new_job_id)
    source_doc_id: str = Field(default_factory=lambda: random_id(16))
    status: JobStatus = JobStatus.PENDING
    upload: DocumentUpload | None = None
    source_uri: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    submitted_at: datetime = Field(default_factory=utcnow)
    languages: str = "auto"
    page_count: int | None = None
    pages_done: int = 0
    pages_failed: int = 0
    start_time: datetime | None = None
    completion_time: datetime | None = None
    expiration_time: datetime | None = None
    error_code: JobErrorCode | None = None
    error_message: str | None = Field(default=None, max_length=500)
    updated_at: datetime | None = None
    requeues: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _has_a_source(self) -> "Job":
        if self.upload is None and self.source_uri is None:
            raise ValueError("a job needs an upload or a source_uri")
        return self

    @property
    def file_name(self) -> str:
        """The document's display name: the upload's file name, else the last segment of the
        remote source's path (`scan.pdf` of `s3://b/books/scan.pdf`), else its host."""
        if self.upload is not None:
            return self.upload.file_name
        parts = urlsplit(self.source_uri or "")
        return unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])[:255] or parts.netloc[:255] or "source"

    @property
    def original(self) -> DocumentUpload:
        """The stored original a worker reads.

        Raises:
            InvalidTransition: a remote source not fetched yet.
        """
        if self.upload is None:
            raise InvalidTransition("the job's source has not been fetched yet")
        return self.upload

    def receive(self, upload: DocumentUpload) -> None:
        """Record the fetched and stored original of a pending remote job.

        Raises:
            InvalidTransition: the job is not pending, or already has its original.
        """
        if self.status is not JobStatus.PENDING or self.upload is not None:
            raise InvalidTransition(f"only a pending job without its original can receive one (this one is {self.status.value})")
        self.upload = upload

    @property
    def finished(self) -> bool:
        """True in a terminal state (completed or failed)."""
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once `expiration_time` has passed; an expired job is treated as gone."""
        return self.expiration_time is not None and (now or utcnow()) >= self.expiration_time

    def start(self, page_count: int, now: datetime | None = None) -> None:
        """pending -> processing, once the document has been opened and counted.

        Raises:
            InvalidTransition: the job is not pending.
        """
        if self.status is not JobStatus.PENDING:
            raise InvalidTransition(f"cannot start processing a {self.status.value} job")
        if page_count < 1:
            raise InvalidTransition("a job needs at least one page")
        self.status = JobStatus.PROCESSING
        self.page_count = page_count
        self.start_time = now or utcnow()

    def complete(self, now: datetime | None = None) -> None:
        """processing -> completed; sets completion and expiration (+48 h).

        Raises:
            InvalidTransition: the job is not processing.
        """
        if self.status is not JobStatus.PROCESSING:
            raise InvalidTransition(f"cannot complete a {self.status.value} job")
        self._finish(JobStatus.COMPLETED, now)

    def fail(self, code: JobErrorCode, message: str, now: datetime | None = None) -> None:
        """pending|processing -> failed, with a code and a message cut to 500 characters.

        Raises:
            InvalidTransition: the job already finished.
        """
        if self.finished:
            raise InvalidTransition(f"cannot fail a {self.status.value} job")
        self.error_code = JobErrorCode(code)
        self.error_message = message[:500]
        self._finish(JobStatus.FAILED, now)

    def _finish(self, status: JobStatus, now: datetime | None) -> None:
        self.status = status
        self.completion_time = now or utcnow()
        if self.start_time is None:
            self.start_time = self.completion_time
        self.expiration_time = self.completion_time + RESULT_TTL

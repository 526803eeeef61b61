"""The data view of OCR'd documents beyond runs and tokens: source documents, human review and
dictionary links (provenance seed `ocr-provenance-model.txt` §1, §6, §7).

A SourceDoc is the real-world source (a PDF, a set of scanned images, or a remote file); its
Pages are the stable coordinate system; Runs and PageResults (domain/pages.py) are what engines
produced on them. An upload creates one SourceDoc (its job is the process view of the same
document) and the pipeline's run; outside engines register documents and runs through the API
and ingest their tokens. A Review is the curated layer over one page result; Links tie a page
result to entries of a dictionary that lives elsewhere (only the entry's id is kept).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, field_validator

from pagesage.domain.fetch_policy import MAX_URL_LENGTH
from pagesage.domain.jobs import Job, utcnow
from pagesage.domain.limits import MAX_EXACT_INTEGER, BoundedModel, LineText, Metadata, MultilineText, Ordinal, checked_text
from pagesage.domain.pages import Token, new_id
from pagesage.errors import InputError, InvalidTransition

ENTRY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
"""A dictionary entry id: 1-200 characters of letters, digits and `._:-`, starting with a letter
or digit (UUIDs, `mw:12345`, `sc_03.rama` all fit)."""

URI_PATTERN = re.compile(r"(gs|s3)://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]/\S+|https?://\S+")
"""A remote source: `gs://bucket/object`, `s3://bucket/key` or an http(s) URL."""

def _identity(value: Any) -> str | dict[str, str]:
    def name(text: Any, limit: int, what: str) -> str:
        if not isinstance(text, str) or not 1 <= len(text) <= limit:
            raise ValueError(f"{what} must be text of 1-{limit} characters")
        return checked_text(text)

    if isinstance(value, str):
        return name(value, 500, "a name")
    if isinstance(value, dict) and len(value) <= 20:
        return {name(k, 100, "a key"): name(v, 500, "a value") for k, v in value.items()}
    raise ValueError("must be a name, or an object of at most 20 names")


Identity = Annotated[Any, PlainValidator(_identity), WithJsonSchema({
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": 500},
              {"type": "object", "maxProperties": 20, "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 500}}],
    "description": "a name, or an object of at most 20 names (keys up to 100 characters); no control or format characters"})]
"""Who did something, as the authenticated caller states it: a name (at most 500 characters) or
an object of at most 20 named strings, e.g. `{"source": "pipeline", "run": "v1"}`."""


class SourceKind(str, Enum):
    """What a source document is (seed §1)."""

    PDF = "pdf"
    IMAGE_SET = "image_set"
    REMOTE_URL = "remote_url"


class SourceDoc(BoundedModel):
    """A real-world source: identity and metadata (seed §1, table `ocr_source_doc`).

    Attributes:
        source_doc_id: 22 URL-safe characters.
        title: display title (an upload's file name unless given).
        uri: where a remote source lives (`gs://`, `s3://`, `https://`); None for uploads.
        original_key: blob-store key of the stored original (uploads).
        sha256: hex SHA-256 of the source file, when known (a remote source: of the bytes
            fetched).
        file_size: bytes of the source file (a remote source: as fetched).
        etag, generation: a remote source's ETag and its store's version of the object (an
            S3 version id, a Cloud Storage generation), as they were when it was fetched.
        fetched_at: when a remote source's bytes were fetched, aware UTC.
        job_id: the job that created it (an upload, a bucket drop or a fetch); None for a
            registered document.
        metadata: free key/value pairs: at most 50 keys of 1-100 characters, 64 KiB of JSON
            in all, each value text, a boolean, a finite number or null (`domain.limits`).
    """

    source_doc_id: str = Field(default_factory=new_id)
    kind: SourceKind
    title: LineText = Field(min_length=1, max_length=500)
    uri: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    original_key: str | None = None
    file_name: LineText | None = Field(default=None, max_length=255)
    content_type: str | None = None
    file_size: int | None = Field(default=None, ge=0, le=MAX_EXACT_INTEGER)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    etag: str | None = Field(default=None, max_length=1024)
    generation: str | None = Field(default=None, max_length=1024)
    fetched_at: datetime | None = None
    job_id: str | None = None
    metadata: Metadata = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("uri")
    @classmethod
    def _remote_uri(cls, value: str | None) -> str | None:
        if value is not None and not URI_PATTERN.fullmatch(value):
            raise ValueError("uri must be gs://bucket/object, s3://bucket/key or an http(s) URL")
        return value


class ReviewStatus(str, Enum):
    """Review states (seed §6: pending/approved/...)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_REWORK = "needs-rework"


REVIEW_TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.PENDING: frozenset({ReviewStatus.APPROVED, ReviewStatus.REJECTED, ReviewStatus.NEEDS_REWORK}),
    ReviewStatus.NEEDS_REWORK: frozenset({ReviewStatus.PENDING, ReviewStatus.APPROVED, ReviewStatus.REJECTED}),
    ReviewStatus.APPROVED: frozenset({ReviewStatus.NEEDS_REWORK}),
    ReviewStatus.REJECTED: frozenset({ReviewStatus.NEEDS_REWORK, ReviewStatus.PENDING}),
}
"""Allowed status changes: an approved or rejected page is reopened through `needs-rework`
(or `pending` after a rejection) before it can be decided again. Keeping a status is allowed
(to edit the note or the text)."""


class Review(BoundedModel):
    """The human layer over one page result (seed §6, table `ocr_review`): one per page result.

    Attributes:
        review_status: see `REVIEW_TRANSITIONS`.
        approved_text: the human-corrected text (at most 200,000 characters: a Firestore document holds 1 MiB, and Devanagari takes 3 bytes a character).
        reviewed_by: the caller's identity, as the authenticated caller states it: a name, or
            an object such as `{"source": "pipeline", "run": "v1"}`.
        reviewed_at: when it last changed, aware UTC.
        version: 1 for the first review, +1 on every change.
    """

    page_result_id: str
    review_status: ReviewStatus = ReviewStatus.PENDING
    approved_text: MultilineText | None = Field(default=None, max_length=200_000)
    review_note: MultilineText | None = Field(default=None, max_length=10_000)
    reviewed_by: Identity | None = None
    reviewed_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, ge=1, le=MAX_EXACT_INTEGER)

    def change(self, status: ReviewStatus) -> None:
        """Move to `status` (or stay).

        Raises:
            InvalidTransition: `REVIEW_TRANSITIONS` does not allow it.
        """
        if status is not self.review_status and status not in REVIEW_TRANSITIONS[self.review_status]:
            raise InvalidTransition(f"review cannot go from {self.review_status.value} to {status.value}")
        self.review_status = status


class Link(BoundedModel):
    """A link from a page result to a dictionary entry (seed §7, table `ocr_link`).

    Attributes:
        fk_entry_id: the entry's id in the dictionary (`ENTRY_ID_PATTERN`).
        link_kind: `candidate_entry` (proposed, e.g. by n-gram matching), `confirmed_entry`
            (a person accepted it) or `rejected_entry`.
        link_conf: confidence 0-100.
        token_start, token_end: the token_no span it covers (inclusive), when known.
    """

    link_id: str = Field(default_factory=new_id)
    page_result_id: str
    fk_entry_id: str = Field(pattern=f"^{ENTRY_ID_PATTERN.pattern}$")
    link_kind: Literal["candidate_entry", "confirmed_entry", "rejected_entry"] = "candidate_entry"
    link_conf: float = Field(ge=0, le=100)
    note: MultilineText | None = Field(default=None, max_length=1000)
    token_start: Ordinal | None = None
    token_end: Ordinal | None = None
    created_at: datetime = Field(default_factory=utcnow)


def check_ingest(page_result_id: str, tokens: list[Token] | None, links: list[Link] | None) -> None:
    """Refuse what no store can write as one ingest (`Store.ingest`): links naming another page
    result or repeating a link_id, tokens that do not number one contiguous run.

    Raises:
        InputError: the tokens or a link's `page_result_id`. InvalidTransition: a link_id twice.
    """
    if any(link.page_result_id != page_result_id for link in links or ()):
        raise InputError("a link's page_result_id is not the page result ingested into")
    if links and len({link.link_id for link in links}) < len(links):
        raise InvalidTransition("two links share a link_id")
    numbers = sorted(t.token_no for t in tokens or ())
    if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise InputError("token_no must be one contiguous run without repeats")


def check_review_target(review: Review, page_result_id: str) -> None:
    """Refuse a review written to a page result it does not name. Raises `InputError`."""
    if review.page_result_id != page_result_id:
        raise InputError("review.page_result_id is not the page result it is written to")


def check_own_source_doc(job: Job, doc: SourceDoc | None) -> None:
    """Refuse to write, with `job`, a source document that is not the one the job made (its
    `source_doc_id` and `job_id` both match). Raises `InputError`."""
    if doc is not None and (doc.source_doc_id != job.source_doc_id or doc.job_id != job.job_id):
        raise InputError("the source document is not the job's own")

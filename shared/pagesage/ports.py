"""The ports: what services need from storage, queues and OCR engines.

Adapters implement these with one technology each (`SqliteStore`, `LocalBlobStore`,
`InProcessQueue`, `TesseractEngine`; the Google ones behind the same methods). Services never
import an adapter. Every method may be called from several threads at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Literal, Protocol, Sequence

from pydantic import BaseModel, Field

from pagesage.domain.jobs import Job
from pagesage.domain.provenance import Link, Review, SourceDoc
from pagesage.domain.pages import CostEntry, OsdResult, Page, PageResult, QualityMetrics, Run, Token
from pagesage.domain.tokens import EngineWord

if TYPE_CHECKING:
    from PIL import Image


class Store(Protocol):
    """Jobs, pages, runs, page results, tokens, costs and rate-limit counters.

    Reads of a job past its `expiration_time` raise `NotFound`, whether or not the record has
    been deleted yet. Unknown ids raise `NotFound`.
    """

    def create_job(self, job: Job, source_doc: SourceDoc | None = None) -> None:
        """Insert a new job and, when given, the source document it makes, atomically: both or
        neither. Sets `job.updated_at`. Raises `InvalidTransition` if either id exists."""

    def get_job(self, job_id: str) -> Job:
        """The job. Raises `NotFound` when unknown or expired."""

    def update_job(self, job_id: str, mutate: Callable[[Job], None], *, source_doc: SourceDoc | None = None) -> Job:
        """Read, apply `mutate` (which may raise) and write back, atomically; returns the job.

        Concurrent updates of one job are serialized; an exception from `mutate` writes nothing.
        Sets `updated_at` to the store's clock. `source_doc`, when given, replaces the job's
        existing source document in the same atomic write (a fetched source's fields).

        Raises:
            NotFound: no such job. InputError: `source_doc` is not the job's.
        """

    def list_stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """Jobs still pending or processing whose `updated_at` is at or before `before`, least
        recently updated first, at most `limit`."""

    def list_expired_jobs(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of jobs whose `expiration_time` is at or before `now`, oldest first, at most `limit`."""

    def delete_job(self, job_id: str) -> None:
        """Delete a job with everything it created: its source document, pages, runs, page
        results, tokens, reviews and links (costs are kept: they are the accounting log).
        Deleting a missing job does nothing."""

    # -- source documents and pages (the data view) ---------------------------------------
    def create_source_doc(self, doc: SourceDoc, pages: Sequence[Page] = ()) -> None:
        """Insert a source document with its pages: all or nothing (Firestore: one commit up to
        499 pages; beyond, the pages are written first and removed again when the document's
        commit fails). Raises `InvalidTransition` if the id exists."""

    def get_source_doc(self, source_doc_id: str) -> SourceDoc:
        """A source document. Raises `NotFound` (also once the job that created it expired)."""

    def list_source_docs(self, limit: int, cursor: str | None = None) -> tuple[list[SourceDoc], str | None]:
        """Source documents oldest first (created_at, then id: a stable order), at most `limit`,
        after `cursor`; returns them and the cursor of the next page (None at the end).
        Raises `InputError` for a cursor this store did not issue."""

    def put_pages(self, pages: list[Page]) -> None:
        """Insert or replace page records, keyed by `page_id`."""

    def get_page(self, page_id: str) -> Page:
        """One page. Raises `NotFound`."""

    def list_pages(self, source_doc_id: str) -> list[Page]:
        """All pages of a source document, by page number."""

    def finish_page(self, page: Page) -> tuple[Job, bool]:
        """Record a page's outcome (status done or failed) and count it on its job
        (`page.job_id`), atomically.

        Returns the job after the update and whether this call changed anything: a page that
        already finished is left as it was (idempotent on redelivery). The page's lease is
        dropped; the job's `updated_at` set.
        """

    def claim_page(self, page_id: str, owner: str, until: datetime, now: datetime) -> bool:
        """Take the lease of a pending page for `owner` until `until`, atomically, when
        `Page.claimable_by` allows it; False (and no change) otherwise: another
        worker holds it, or it finished. Raises `NotFound`."""

    def release_page(self, page_id: str, owner: str | None = None) -> None:
        """Drop a page's lease: `owner`'s (a failed attempt), or whoever's when None (recovery
        after the holder died). A missing page, or a lease someone else holds, is left alone."""

    def put_run(self, run: Run) -> None:
        """Insert or replace a run."""

    def create_run(self, run: Run, results: Sequence[PageResult]) -> None:
        """Insert a new run with empty page results (no tokens) for it: all or nothing, as
        `create_source_doc`. Raises `InvalidTransition` if an id exists."""

    def get_run(self, run_id: str) -> Run:
        """A run. Raises `NotFound`."""

    def list_runs(self, job_id: str) -> list[Run]:
        """A job's runs, oldest first."""

    def put_page_result(self, result: PageResult, tokens: list[Token]) -> None:
        """Store a page result with its tokens atomically, replacing any earlier result of the
        same run and page (and its tokens, review and links)."""

    def get_page_result(self, page_result_id: str) -> PageResult:
        """One page result. Raises `NotFound`."""

    def list_page_results(self, job_id: str) -> list[PageResult]:
        """A job's page results, by page number."""

    def list_results_for_page(self, source_doc_id: str, page_no: int) -> list[PageResult]:
        """Every run's result for one page, oldest first."""

    def get_tokens(self, page_result_id: str) -> list[Token]:
        """A page result's tokens, by token_no."""

    def ingest(self, page_result_id: str, *, mode: Literal["replace", "append"], tokens: list[Token] | None,
               review: Callable[[Review | None], Review] | None, links: list[Link] | None) -> PageResult:
        """Write tokens, a review and links of one page result at once: all or nothing.

        `replace`: `tokens` (when given) become the page result's tokens, `links` (when given)
        its links. `append`: `tokens` are added after the existing ones (their first token_no
        must equal the current count) and `links` added. `review`, when given, is called with
        the stored review (None if none) inside the same transaction and returns the new one,
        as in `update_review`: a concurrent review change makes it see that change or makes the
        ingest start again, never lost. The page result's `word_count` and `mean_confidence`
        follow its tokens. Returns it.

        Raises:
            NotFound: no such page result. InvalidTransition: an append whose first token_no is
            not the current count (another writer appended first), or what `review` raises.
        """

    def get_review(self, page_result_id: str) -> Review | None:
        """The review of a page result, None when it has none."""

    def update_review(self, page_result_id: str, mutate: Callable[[Review | None], Review]) -> Review:
        """Read the review (None if none), let `mutate` return the new one (it may raise) and
        write it, atomically. Raises `NotFound` when the page result does not exist."""

    def list_links(self, page_result_id: str) -> list[Link]:
        """A page result's links, oldest first."""

    def add_cost(self, entry: CostEntry) -> bool:
        """Append a cost entry; False (and no change) when `entry.cost_id` is already logged."""

    def list_costs(self, job_id: str) -> list[CostEntry]:
        """A job's cost entries, oldest first."""

    def query_costs(self, *, job_id: str | None = None, project_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int | None = None) -> list[CostEntry]:
        """Cost entries of every job (or only `job_id`'s, or `project_id`'s) whose `created_at`
        is at or after `since` and before `until`, oldest first, at most `limit` of them.
        Entries of the same instant come in one fixed order (SQLite: as written; Firestore: by
        cost_id). Costs outlive their jobs: entries of deleted jobs are included.

        Raises:
            InputError: `since` or `until` is a naive datetime, or `limit` < 1.
        """

    def increment_counter(self, key: str, expire_at: datetime, now: datetime) -> int:
        """Add one to a counter that lives until `expire_at` and return its new value, atomically.
        A counter whose `expire_at` is at or before `now` is gone: it restarts at 1."""


class BlobStore(Protocol):
    """Binary objects by key (`originals/...`, `pages/...`, `results/...`).

    Keys are relative POSIX paths without `..`; `NotFound` for a missing key.
    """

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at `path` under `key`, streaming it."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`."""

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable binary stream of the object."""

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A filesystem path holding the object's bytes for the duration of the context."""

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""

    def content_type(self, key: str) -> str:
        """The Content-Type the object was stored with. Raises `NotFound`."""

    def copy(self, src_key: str, dst_key: str) -> None:
        """Store a copy of the object at `src_key` (bytes and Content-Type) under `dst_key`,
        replacing any object there; e.g. a bucket drop `incoming/x.pdf` becomes
        `originals/<job>/original.pdf`. Raises `NotFound` when `src_key` is missing."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix`; returns how many."""


class Task(BaseModel):
    """A unit of worker work.

    `prepare` opens a job's document, counts its pages and fans out one `ocr_page` task each.
    `priority` orders a job's waiting pages, larger first (pixel area: largest pages first
    keeps both workers busy until the end); queues share workers fairly between jobs.
    `attempt` counts how often the sweeper queued the work again (`services/sweeper.py`).
    """

    kind: Literal["prepare", "ocr_page"]
    job_id: str = Field(min_length=1, max_length=500)
    page_no: int | None = Field(default=None, ge=0, le=10_000_000)
    priority: int = Field(default=0, ge=0, le=10**12)
    attempt: int = Field(default=0, ge=0, le=1000)

    @property
    def name(self) -> str:
        """Deterministic task name: the idempotency key a queue dedupes on; a sweeper's
        re-queue (`attempt` > 0) has a name of its own, as a queue refuses a name it has seen
        (Cloud Tasks: for up to an hour after the task ran)."""
        suffix = f"-p{self.page_no}" if self.page_no is not None else ""
        again = f"-r{self.attempt}" if self.attempt else ""
        return f"{self.job_id}-{self.kind}{suffix}{again}"


class TaskQueue(Protocol):
    """Delivers tasks to the worker at least once."""

    def enqueue(self, task: Task) -> None:
        """Schedule `task`; a task whose name is already waiting is not added twice."""


@dataclass(frozen=True)
class Fetched:
    """What was fetched: `sha256` (hex) and `size` (bytes) of the body as written, the
    server's `etag` and `content_type` when it sent them, the `url` of the last hop,
    `fetched_at` (UTC, when the answer began), and the store's `generation` of the object (an
    S3 version id, a Cloud Storage generation) where it keeps one."""

    sha256: str
    size: int
    etag: str | None
    content_type: str | None
    url: str
    fetched_at: datetime
    generation: str | None = None

class SourceFetcher(Protocol):
    """Reads remote sources: `s3://bucket/key` (the operator's S3 credentials and endpoint),
    `gs://bucket/object` (Cloud Storage) and `https://` URLs under the fetch policy
    (`domain.fetch_policy`, docs/security.md). Never credentials or endpoints from a request."""

    def check(self, uri: str) -> None:
        """Refuse, before anything is fetched, a URI no fetch may follow: another scheme, a
        malformed bucket URI, or a URL the fetch policy refuses (resolving its host).

        Raises:
            UrlNotAllowed: the URL or an address its host resolves to is refused.
            InputError: not a bucket URI or URL this fetcher reads.
            FetchFailed: the host name cannot be resolved now (`retryable`).
        """

    def fetch(self, uri: str, dest: BinaryIO, *, max_bytes: int) -> Fetched:
        """Write the source's bytes into `dest`, at most `max_bytes`.

        Raises:
            UrlNotAllowed, FileTooLarge, SourceNotFound, SourceForbidden, FetchFailed (see the
            adapters `https_source`, `s3_source`, `gcs_source`).
        """


class EngineOutput(BaseModel):
    """One recognition call's output and what it cost.

    Attributes:
        seconds: wall seconds of the engine call (what compute-priced engines are billed on).
        pages_billed: pages the provider billed for the call (per-page engines such as Document
            AI); 0 for compute-priced engines.
        request_id: the provider's id of the request, when it gives one.
        quality: the page image's quality, when the engine measures it.
        raw, raw_type: the engine's own output (Tesseract's TSV, Document AI's Document JSON)
            and its Content-Type, kept beside the page result as provenance; None when the
            engine hands over only words.
    """

    words: list[EngineWord]
    seconds: float
    pages_billed: int = Field(default=0, ge=0)
    request_id: str | None = None
    quality: QualityMetrics | None = None
    raw: bytes | None = None
    raw_type: str | None = None


class OcrEngine(Protocol):
    """An OCR engine. Calls run in worker threads and must not add parallelism of their own.

    `name` is what runs (`tesseract`, `docai`); `service` is how its calls are priced, a service
    of `pagesage.pricing` (`tesseract-local`, `cloud-run-tesseract`, `document-ai-ocr`).
    `detects_orientation` is True when `detect` runs orientation and script detection (Tesseract
    OSD); an engine that finds orientation and languages itself (Document AI) has False, and a
    job's `auto` is passed to its `recognize` as it is.
    """

    name: str
    service: str
    detects_orientation: bool

    def version(self) -> str:
        """Engine version string, e.g. `5.3.0`."""

    def installed_languages(self) -> frozenset[str]:
        """Names of the models this engine can load."""

    def detect(self, image: Path | Image.Image, *, dpi: int) -> tuple[OsdResult | None, float]:
        """Orientation and script of the page image, a file or decoded pixels (a Pillow image:
        the pipeline hands OSD a bilevel copy it never stores, so it is not written to a file);
        (result or None: too little text to tell, wall seconds)."""

    def recognize(self, image: Path, *, languages: str, dpi: int, psm: int) -> EngineOutput:
        """Words of the upright page image at `image` with the given model(s)."""

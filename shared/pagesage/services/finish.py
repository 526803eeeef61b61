"""Use case: finish a job whose pages are all counted — render and store its results.

Results are rendered from the stored tokens (never from engine output), written to the blob
store under `results/<job_id>/` and only then is the job marked completed, so a completed job
always has its results. A job none of whose pages produced a result fails with the first page's
error code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from pagesage.domain.jobs import Job, JobErrorCode, JobStatus, utcnow
from pagesage.domain.pages import Page, PageResult, PageStatus, Run
from pagesage.errors import InvalidTransition
from pagesage.formats import hocr, json_doc, markdown, text
from pagesage.formats.document import DocumentTotals, DocumentView, PageView
from pagesage.ports import BlobStore, Store


def fail_unless_finished(store: Store, job_id: str, code: JobErrorCode, message: str) -> None:
    """Fail the job with `code` and `message` (cut to 500 characters), unless it has finished
    already (a concurrent delivery completed or failed it)."""
    def fail(job: Job) -> None:
        if not job.finished:
            job.fail(code, message)

    store.update_job(job_id, fail)


@dataclasses.dataclass(frozen=True)
class ResultFormat:
    """A result format: its blob file name, Content-Type, and how it renders (one page's part,
    then the document from the parts: `pagesage.formats`)."""

    file_name: str
    content_type: str
    page_part: Callable[[PageView], str | bytes]
    assemble: Callable[[DocumentView, DocumentTotals, list], str | bytes]


RESULT_FORMATS = {
    "hocr": ResultFormat("document.hocr", "text/html; charset=utf-8", hocr.page_part, hocr.assemble),
    "json": ResultFormat("document.json", "application/json", json_doc.page_part, json_doc.assemble),
    "text": ResultFormat("document.txt", "text/plain; charset=utf-8", text.page_part, text.assemble),
    "markdown": ResultFormat("document.md", "text/markdown; charset=utf-8", markdown.page_part, markdown.assemble),
}
"""Format name -> its `ResultFormat`."""


def result_key(job_id: str, fmt: str) -> str:
    """Blob key of a job's result in `fmt` (one of RESULT_FORMATS)."""
    return f"results/{job_id}/{RESULT_FORMATS[fmt].file_name}"


class StoredPages(Sequence[PageView]):
    """A job's pages as `PageView`s whose tokens are read from the store as each page is
    reached and not kept: a 200-page book's tokens (tens of thousands of models) are never all
    in memory while its results are rendered. Each iteration reads them again."""

    def __init__(self, store: Store, pages: list[Page], results: dict[int, PageResult]):
        self._store, self._pages, self._results = store, pages, results

    def __len__(self) -> int:
        return len(self._pages)

    def __getitem__(self, index):  # an int -> its PageView; a slice -> a list of them
        if isinstance(index, slice):
            return [self._view(page) for page in self._pages[index]]
        return self._view(self._pages[index])

    def __iter__(self) -> Iterator[PageView]:
        return (self._view(page) for page in self._pages)

    def _view(self, page: Page) -> PageView:
        result = self._results.get(page.page_no) if page.status is PageStatus.DONE else None
        return PageView(page=page, result=result, tokens=self._store.get_tokens(result.page_result_id) if result else [])


def load_document(job_id: str, store: Store) -> DocumentView:
    """A job's pages with the latest page result of each, their tokens read as the pages are
    iterated (`StoredPages`). Raises `NotFound`."""
    job = store.get_job(job_id)
    runs = store.list_runs(job_id)
    results = {r.page_no: r for r in store.list_page_results(job_id)}
    pages = StoredPages(store, store.list_pages(job.source_doc_id), results)
    return DocumentView(job=job, run=runs[-1] if runs else None, pages=pages)


def finish_job(job_id: str, *, store: Store, blobs: BlobStore) -> None:
    """Render every result format, store them, close the run and complete (or fail) the job.

    The results are rendered as the finished job and run will read (status, times), before
    either is written, in one pass over the pages: each page's tokens are read once, and its
    part in every format kept instead. Safe to call again: a job that already finished is left
    alone.
    """
    doc = load_document(job_id, store)
    if doc.job.status is not JobStatus.PROCESSING:
        return
    now = utcnow()
    if doc.job.pages_done == 0:
        first = next((p.page for p in doc.pages if p.page.error_code), None)
        code = JobErrorCode(first.error_code) if first else JobErrorCode.INTERNAL_ERROR
        message = f"page {first.page_no}: {first.error_message}" if first else "no page produced a result"
        _close(doc, store, "failed", lambda j: j.fail(code, message, now), now)
        return
    finished = doc.job.model_copy(deep=True)
    finished.complete(now)
    final = dataclasses.replace(doc, job=finished, run=_closed_run(doc, "completed", now))
    totals, parts = DocumentTotals(), {fmt: [] for fmt in RESULT_FORMATS}
    for view in doc.pages:
        totals.add(view)
        for fmt, spec in RESULT_FORMATS.items():
            parts[fmt].append(spec.page_part(view))
    for fmt, spec in RESULT_FORMATS.items():
        body = spec.assemble(final, totals, parts.pop(fmt))
        blobs.put_bytes(result_key(job_id, fmt), body if isinstance(body, bytes) else body.encode("utf-8"), spec.content_type)
    _close(doc, store, "completed", lambda j: j.complete(now), now)


def _closed_run(doc: DocumentView, status: str, now: datetime) -> Run | None:
    return doc.run.model_copy(update={"status": status, "finished_at": now}) if doc.run else None


def _close(doc: DocumentView, store: Store, run_status: str, transition, now: datetime) -> None:
    if (run := _closed_run(doc, run_status, now)) is not None:
        store.put_run(run)
    try:
        store.update_job(doc.job.job_id, transition)
    except InvalidTransition:
        pass  # another worker finished it first

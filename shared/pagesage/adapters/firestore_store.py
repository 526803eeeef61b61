"""The production store: Cloud Firestore in Native mode (`google-cloud-firestore`).

Layout (collection / document id: content); `expire_at` is the TTL field of every collection
that expires (policies declared in `firestore.indexes.json` and Terraform):

| path | content |
|---|---|
| `jobs/{job_id}` | the Job; `expire_at` = its `expiration_time` (completion + 48 h) |
| `source_docs/{source_doc_id}` | a SourceDoc, with `job_id` when an upload made it; `created_at` a timestamp (listing order) |
| `pages/{page_id}` | a Page (`<source_doc_id>_p<page_no>`), with `source_doc_id`, `job_id` |
| `runs/{run_id}` | a Run, with `job_id` |
| `page_results/{page_result_id}` | a PageResult, with `job_id`, `run_id`, `source_doc_id`, `page_no`; what it publishes: `chunk_ids` (its token chunks, in order), `token_count`, `confidence_sum`, `link_batches` (its link batches, in order); `ingested_at` (last ingest) |
| `page_results/{id}/token_chunks/{chunk_id}` | tokens `first_token_no`.. in columns (see below); `chunk_id` random |
| `page_results/{id}/reviews/current` | the page result's Review |
| `page_results/{id}/links/{doc_id}` | one Link, with `batch` (the ingest that wrote it) and `seq` (its place in the batch); `doc_id` random |
| `costs/{cost_id}` | a CostEntry; `created_at` is a timestamp (no TTL: the accounting log); queried by `job_id` or `project_id` and a `created_at` range (composite indexes in `firestore.indexes.json`) |
| `rate_limits/{key}` | `value`, `expire_at` (end of the one-minute window) |

Tokens: a page's words are stored in token chunks (`adapters/token_chunks.py`: up to 2,000
tokens as one JSON string of columns per document). The `columns` string is exempt from
indexing (`firestore.indexes.json`): nobody queries it.

Publishing (`put_page_result`, `ingest`): a page of 5,000+ words does not fit one commit (10 MiB
per request and 500 writes per commit in production, 4 MiB per gRPC message on the emulator), so
new token chunks and links are first written under fresh random ids, in batched writes, where
nothing names them yet. Then one atomic commit publishes them: the page result's `chunk_ids` and
`link_batches` (with `word_count`, `mean_confidence` and the review). Readers go through the page
result and read its chunks and links at the page result's read time (`read_time`, a consistent
snapshot), so they see the old records or the new ones, never a mix, and never a chunk or link
that is written but not published. Records no longer named (replaced chunks and link batches, a
replaced page result's subcollections) are deleted after the commit; a write that is never
published is deleted when its commit fails. Those deletions are best effort: a leftover is never
read, and a job's leftovers expire with its records.

Expiry: TTL deletion is lazy (typically within 24 h of `expire_at`), so every read treats a
document whose `expire_at` has passed as gone. A job's records are written before the job's
expiry is known; they get a provisional `expire_at` (`PROVISIONAL_TTL` after the write) and the
job's exact expiry once it finishes (a BulkWriter pass right after the finishing transaction).
Chunks, reviews and links take their page result's `expire_at`. Records of a registered
document (no job) have no `expire_at`. A source document an upload made is live while its job is
(`get_source_doc`, `list_source_docs` read the job too), as in `SqliteStore`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from pagesage.adapters.cursors import decode_cursor, encode_cursor
from pagesage.adapters.firestore_writes import (
    COMMIT_WRITES,
    TRANSACTION_ATTEMPTS,
    batches,
    commit_groups,
    delete_quietly,
    doc_id,
    optimistic,
    retry_unless_gone,
    translated,
    valid_id,
)
from pagesage.adapters.records import checked_dict
from pagesage.adapters.token_chunks import token_chunks, tokens_of_chunk
from pagesage.domain.jobs import RESULT_TTL, Job, utcnow
from pagesage.domain.pages import CostEntry, Page, PageResult, PageStatus, Run, Token, check_cost_query, new_id
from pagesage.domain.provenance import Link, Review, SourceDoc, check_ingest, check_own_source_doc, check_review_target
from pagesage.errors import InputError, InvalidTransition, NotFound

REVIEW_BYTES = 1_000_000
"""Most bytes of a review's JSON: the review is one document, and a document holds at most
1 MiB (1,048,576 bytes, Firestore quotas). `Review.approved_text` is limited to 200,000
characters, at most 800,000 bytes of UTF-8; this guards the rest of the review too."""

REVIEW_DOC = "current"
"""Document id of a page result's review in its `reviews` subcollection."""

RESULT_SUBCOLLECTIONS = ("token_chunks", "reviews", "links")
"""The subcollections of a page result document."""

PROVISIONAL_TTL = RESULT_TTL + timedelta(days=5)
"""`expire_at` of a job's records until the job finishes: its 48 h plus five days to process."""



def firestore_client(project: str | None, database: str = "(default)") -> firestore.Client:
    """A Firestore client; with `FIRESTORE_EMULATOR_HOST` set the library talks to the emulator."""
    return firestore.Client(project=project, database=database)


class FirestoreStore:
    """`Store` on Cloud Firestore; each method keeps the contract documented on
    `pagesage.ports.Store` (see the module docstring for the layout).

    Read-modify-write methods are transactions. `update_job`, `finish_page`, `ingest`,
    `update_review` and `increment_counter` are optimistic: they read, then commit their writes
    atomically with a precondition on the update time of the document they decided on
    (`finish_page` commits the page and its job's counter increment in one batch; `ingest` the
    page result and its review), and start again when another writer got there first. Firestore's
    locking transactions deadlock when two of them read and then write one hot document; on the
    emulator 2 threads updating one job 10 times each took 30 s that way and 0.6 s this way.
    `put_page_result` (several documents, rarely contended) is a locking transaction
    (https://firebase.google.com/docs/firestore/manage-data/transactions).
    Unavailable, or contended after `TRANSACTION_ATTEMPTS` tries: `TransientError`.

    Args:
        client: a `google.cloud.firestore.Client`.
        clock: aware UTC now, for TTL checks on reads.
    """

    def __init__(self, client: firestore.Client, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.client = client
        self._clock = clock

    # -- references ----------------------------------------------------------------------
    def _job_ref(self, job_id: str):
        return self.client.collection("jobs").document(doc_id(job_id))

    def _page_ref(self, page_id: str):
        return self.client.collection("pages").document(doc_id(page_id))

    def _result_ref(self, page_result_id: str):
        return self.client.collection("page_results").document(doc_id(page_result_id))

    def _source_doc_ref(self, source_doc_id: str):
        return self.client.collection("source_docs").document(doc_id(source_doc_id))

    def _transaction(self):
        return self.client.transaction(max_attempts=TRANSACTION_ATTEMPTS)

    def _alive(self, data: dict[str, Any] | None) -> dict[str, Any] | None:
        if data is None:
            return None
        expire_at = data.get("expire_at")
        if expire_at is not None and expire_at <= self._clock():
            return None
        return data

    def _read(self, ref, what: str) -> dict[str, Any]:
        """The live document at `ref`. Raises `NotFound` ("no such <what>")."""
        with translated():
            data = self._alive(ref.get().to_dict())
        if data is None:
            raise NotFound(f"no such {what}")
        return data

    def _provisional(self) -> datetime:
        return self._clock() + PROVISIONAL_TTL

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, job: Job, source_doc: SourceDoc | None = None) -> None:
        """See `Store.create_job`: the job and its source document in one commit of two creates."""
        job.updated_at = self._clock()
        batch = self.client.batch()
        batch.create(self._job_ref(job.job_id), _job_doc(job))
        if source_doc is not None:
            batch.create(self._source_doc_ref(source_doc.source_doc_id), self._source_doc_data(source_doc))
        with translated():
            try:
                batch.commit()
            except gexc.AlreadyExists as exc:
                raise InvalidTransition(f"job {job.job_id} or its source document exists") from exc

    def get_job(self, job_id: str) -> Job:
        return Job.model_validate(self._read(self._job_ref(job_id), "job"))

    def update_job(self, job_id: str, mutate: Callable[[Job], None], *, source_doc: SourceDoc | None = None) -> Job:
        """See `Store.update_job`: the job is written on the condition that it has not changed
        since it was read, together with `source_doc` in one commit when given."""
        ref = self._job_ref(job_id)

        def attempt() -> tuple[Job, bool]:
            snap = ref.get()
            data = self._alive(snap.to_dict())
            if data is None:
                raise NotFound("no such job")
            job = Job.model_validate(data)
            check_own_source_doc(job, source_doc)
            had_expiry = job.expiration_time is not None
            mutate(job)
            job.updated_at = self._clock()
            unchanged = self.client.write_option(last_update_time=snap.update_time)
            if source_doc is None:
                ref.update(_job_doc(job), option=unchanged)
            else:
                batch = self.client.batch()
                batch.update(ref, _job_doc(job), option=unchanged)
                batch.set(self._source_doc_ref(source_doc.source_doc_id), self._source_doc_data(source_doc))
                batch.commit()
            return job, not had_expiry and job.expiration_time is not None

        with translated():
            job, finished_now = optimistic(attempt)
            if finished_now:
                self._stamp_expiry(job.job_id, job.expiration_time)
        return job

    def list_stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        """See `Store.list_stalled_jobs` (composite index `status`, `updated_at` in
        `firestore.indexes.json`)."""
        query = (self.client.collection("jobs")
                 .where(filter=FieldFilter("status", "in", ["pending", "processing"]))
                 .where(filter=FieldFilter("updated_at", "<=", before))
                 .order_by("updated_at").limit(limit))
        with translated():
            return [Job.model_validate(d) for d in self._live_docs(query.stream())]

    def list_expired_jobs(self, now: datetime, limit: int = 100) -> list[str]:
        query = (self.client.collection("jobs").where(filter=FieldFilter("expire_at", "<=", now))
                 .order_by("expire_at").limit(limit))
        with translated():
            return [snap.id for snap in query.stream()]

    def delete_job(self, job_id: str) -> None:
        with translated():
            # recursive_delete (the page result with its token chunks, review and links) closes
            # the BulkWriter it is given: one per call
            for snap in self._job_query("page_results", job_id):
                self.client.recursive_delete(snap.reference)
            writer = self.client.bulk_writer()
            for collection in ("runs", "pages", "source_docs"):
                for snap in self._job_query(collection, job_id):
                    writer.delete(snap.reference)
            writer.close()
            self.client.recursive_delete(self._job_ref(job_id))

    def _job_query(self, collection: str, job_id: str) -> Iterator:
        return self.client.collection(collection).where(filter=FieldFilter("job_id", "==", job_id)).stream()

    def _stamp_expiry(self, job_id: str, expire_at: datetime) -> None:
        """Give every record of a finished job the job's own `expire_at` (see module docstring):
        its source document, pages, runs, page results and their chunks, reviews and links. A
        record deleted meanwhile (a replaced chunk) is skipped, not retried."""
        writer = self.client.bulk_writer()
        writer.on_write_error(retry_unless_gone)
        refs: list = [s.reference for c in ("pages", "runs", "source_docs") for s in self._job_query(c, job_id)]
        for snap in self._job_query("page_results", job_id):
            refs.append(snap.reference)
            for sub in RESULT_SUBCOLLECTIONS:
                refs += list(snap.reference.collection(sub).list_documents())
        for ref in refs:
            writer.update(ref, {"expire_at": expire_at})
        writer.close()

    # -- source documents and pages ------------------------------------------------------
    def _source_doc_data(self, doc: SourceDoc) -> dict[str, Any]:
        return {**_doc(doc, self._provisional() if doc.job_id else None), "created_at": doc.created_at}

    def create_source_doc(self, doc: SourceDoc, pages: Sequence[Page] = ()) -> None:
        """See `Store.create_source_doc`: the pages and then the document that makes them
        reachable (`list_pages` is only asked after `get_source_doc`), in one commit when they
        fit (`COMMIT_WRITES`), else the pages first; a failure deletes the pages written."""
        expire_at = self._provisional()
        page_writes = [(self._page_ref(pg.page_id), _doc(pg, expire_at if pg.job_id else None)) for pg in pages]
        self._publish_with(page_writes, self._source_doc_ref(doc.source_doc_id), self._source_doc_data(doc),
                           what=f"source document {doc.source_doc_id}")

    def _publish_with(self, writes: list[tuple[Any, dict[str, Any]]], ref, data: dict[str, Any], *, what: str) -> None:
        """Write `writes` (records nothing reaches before `ref` exists) and create `ref`: one
        commit when they fit, else `writes` in batches first and `ref` last; any failure
        deletes what was written. Raises `InvalidTransition` when `ref` exists."""
        written: list = []
        with translated():
            try:
                head = writes[-(COMMIT_WRITES - 1):] if len(writes) >= COMMIT_WRITES else writes
                for group in batches(writes[:len(writes) - len(head)], COMMIT_WRITES):
                    batch = self.client.batch()
                    for r, d in group:
                        batch.set(r, d)
                    batch.commit()
                    written += [r for r, _ in group]
                batch = self.client.batch()
                for r, d in head:
                    batch.set(r, d)
                batch.create(ref, data)
                batch.commit()
            except gexc.AlreadyExists as exc:
                self._delete_quietly(written)
                raise InvalidTransition(f"{what} exists") from exc
            except BaseException:
                self._delete_quietly(written)
                raise

    def get_source_doc(self, source_doc_id: str) -> SourceDoc:
        ref = self._source_doc_ref(source_doc_id)
        with translated():
            live = self._live_source_docs([ref.get()])
        if not live:
            raise NotFound("no such source document")
        return live[0]

    def list_source_docs(self, limit: int, cursor: str | None = None) -> tuple[list[SourceDoc], str | None]:
        """See `Store.list_source_docs`. Documents that read as gone (past their `expire_at`, or
        their job gone) are skipped and more are read, in growing batches, until `limit` + 1 live
        ones (the one past the page says there is a next page) or the end.

        Raises:
            InputError: `limit` below 1, or a cursor `encode_cursor` did not make.
        """
        if limit < 1:
            raise InputError("limit must be >= 1")
        collection = self.client.collection("source_docs")
        query = collection.order_by("created_at").order_by("__name__")
        after = None
        if cursor:
            seconds, last_id = decode_cursor(cursor)
            try:
                after = {"created_at": datetime.fromtimestamp(seconds, timezone.utc), "__name__": collection.document(doc_id(last_id))}
            except (ValueError, OverflowError, OSError, NotFound) as exc:
                raise InputError("cursor is not one this API issued", error_code="invalid_cursor") from exc
        live: list[SourceDoc] = []
        fetch = limit + 1
        with translated():
            while len(live) <= limit:
                snaps = list((query.start_after(after) if after else query).limit(fetch).stream())
                live += self._live_source_docs(snaps)
                if len(snaps) < fetch:
                    break
                after = {"created_at": snaps[-1].get("created_at"), "__name__": snaps[-1].reference}
                fetch = min(2 * fetch, 1000)
        docs = live[:limit]
        if len(live) <= limit:
            return docs, None
        return docs, encode_cursor(docs[-1].created_at.timestamp(), docs[-1].source_doc_id)

    def _live_source_docs(self, snaps: Iterable) -> list[SourceDoc]:
        """The source documents among `snaps` that are live: not past their own `expire_at`, and
        made by no job or by a job that exists and has not expired (one read of those jobs)."""
        candidates = [d for d in (self._alive(s.to_dict()) for s in snaps) if d is not None]
        job_ids = {d["job_id"] for d in candidates if d.get("job_id") and valid_id(d["job_id"])}
        live_jobs: set[str] = set()
        if job_ids:
            live_jobs = {s.id for s in self.client.get_all([self._job_ref(j) for j in job_ids]) if self._alive(s.to_dict())}
        return [SourceDoc.model_validate(d) for d in candidates if not d.get("job_id") or d["job_id"] in live_jobs]

    def put_pages(self, pages: list[Page]) -> None:
        expire_at = self._provisional()
        with translated():
            for group in batches(pages, COMMIT_WRITES):
                batch = self.client.batch()
                for page in group:
                    batch.set(self._page_ref(page.page_id), _doc(page, expire_at if page.job_id else None))
                batch.commit()

    def get_page(self, page_id: str) -> Page:
        return Page.model_validate(self._read(self._page_ref(page_id), "page"))

    def list_pages(self, source_doc_id: str) -> list[Page]:
        query = self.client.collection("pages").where(filter=FieldFilter("source_doc_id", "==", source_doc_id)).order_by("page_no")
        with translated():
            return [Page.model_validate(d) for d in self._live_docs(query.stream())]

    def finish_page(self, page: Page) -> tuple[Job, bool]:
        if page.status is PageStatus.PENDING:
            raise InvalidTransition("finish_page needs a done or failed page")
        page_ref, job_ref = self._page_ref(page.page_id), self._job_ref(page.job_id)

        def attempt() -> bool:
            snap = page_ref.get()
            data = self._alive(snap.to_dict())
            if data is None:
                raise NotFound("no such page")
            if Page.model_validate(data).status is not PageStatus.PENDING:
                return False
            counter = "pages_done" if page.status is PageStatus.DONE else "pages_failed"
            batch = self.client.batch()
            batch.update(page_ref, _doc(page.unleased(), data.get("expire_at")),
                         option=self.client.write_option(last_update_time=snap.update_time))
            batch.update(job_ref, {counter: firestore.Increment(1), "updated_at": self._clock()})
            batch.commit()
            return True

        with translated():
            try:
                changed = optimistic(attempt)
            except gexc.NotFound as exc:
                raise NotFound("no such job") from exc
        return self.get_job(page.job_id), changed

    def claim_page(self, page_id: str, owner: str, until: datetime, now: datetime) -> bool:
        ref = self._page_ref(page_id)

        def attempt() -> bool:
            snap = ref.get()
            data = self._alive(snap.to_dict())
            if data is None:
                raise NotFound("no such page")
            page = Page.model_validate(data)
            if not page.claimable_by(owner, now):
                return False
            ref.update(_doc(page.leased_to(owner, until), data.get("expire_at")),
                       option=self.client.write_option(last_update_time=snap.update_time))
            return True

        with translated():
            return optimistic(attempt)

    def release_page(self, page_id: str, owner: str | None = None) -> None:
        ref = self._page_ref(page_id)

        def attempt() -> None:
            snap = ref.get()
            data = snap.to_dict()
            page = Page.model_validate(data) if data else None
            if page is None or page.lease_owner is None or owner not in (None, page.lease_owner):
                return
            ref.update(_doc(page.unleased(), data.get("expire_at")), option=self.client.write_option(last_update_time=snap.update_time))

        with translated():
            try:
                optimistic(attempt)
            except gexc.NotFound:
                pass

    # -- runs and results ----------------------------------------------------------------
    def create_run(self, run: Run, results: Sequence[PageResult]) -> None:
        """See `Store.create_run`: the empty page results, then the run naming them (readers
        reach page results through their page, whose run they then read)."""
        expire_at = self._provisional() if run.job_id else None
        writes = [(self._result_ref(r.page_result_id), _result_doc(r, expire_at, [], [])) for r in results]
        self._publish_with(writes, self.client.collection("runs").document(doc_id(run.run_id)), _doc(run, expire_at),
                           what=f"run {run.run_id}")

    def put_run(self, run: Run) -> None:
        with translated():
            self.client.collection("runs").document(doc_id(run.run_id)).set(_doc(run, self._provisional() if run.job_id else None))

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate(self._read(self.client.collection("runs").document(doc_id(run_id)), "run"))

    def list_runs(self, job_id: str) -> list[Run]:
        with translated():
            runs = [Run.model_validate(d) for d in self._live_docs(self._job_query("runs", job_id))]
        return sorted(runs, key=lambda r: r.started_at)

    def put_page_result(self, result: PageResult, tokens: list[Token]) -> None:
        """See `Store.put_page_result`. The chunks are written first under fresh ids; one
        locking transaction then publishes the page result document naming them, deletes the
        result of the same run and page it replaces (and that one's review) and drops the review
        and links of an earlier version of this same page result. The replaced records' chunks
        and links are deleted after the commit.

        Raises:
            InputError: one token alone is larger than `CHUNK_BYTES`.
        """
        expire_at = self._provisional() if result.job_id else None
        ordered = sorted(tokens, key=lambda t: t.token_no)
        chunks = list(token_chunks(ordered))
        new_ref = self._result_ref(result.page_result_id)
        chunk_refs = [new_ref.collection("token_chunks").document(new_id()) for _ in chunks]
        doc = _result_doc(result, expire_at, [r.id for r in chunk_refs], ordered)
        earlier = (self.client.collection("page_results")
                   .where(filter=FieldFilter("run_id", "==", result.run_id))
                   .where(filter=FieldFilter("page_no", "==", result.page_no)))

        @firestore.transactional
        def publish(transaction) -> tuple[list, dict[str, Any] | None]:
            previous = new_ref.get(transaction=transaction).to_dict()
            replaced = [snap.reference for snap in transaction.get(earlier) if snap.id != result.page_result_id]
            for ref in replaced:
                transaction.delete(ref)
                transaction.delete(ref.collection("reviews").document(REVIEW_DOC))
            transaction.delete(new_ref.collection("reviews").document(REVIEW_DOC))
            transaction.set(new_ref, doc)
            return replaced, previous

        with translated():
            try:
                self._write_new([(ref, {**chunk, "expire_at": expire_at}, chunk["bytes"]) for ref, chunk in zip(chunk_refs, chunks)])
                replaced, previous = publish(self._transaction())
            except BaseException:
                self._delete_quietly(chunk_refs)
                raise
            for ref in replaced:
                self._recursive_delete_quietly(ref)
            if previous is not None:
                self._delete_quietly([new_ref.collection("token_chunks").document(i) for i in _chunk_ids(previous)]
                                     + self._link_refs(new_ref, previous.get("link_batches") or []))

    def get_page_result(self, page_result_id: str) -> PageResult:
        return PageResult.model_validate(self._read(self._result_ref(page_result_id), "page result"))

    def list_page_results(self, job_id: str) -> list[PageResult]:
        query = self.client.collection("page_results").where(filter=FieldFilter("job_id", "==", job_id)).order_by("page_no")
        with translated():
            return [PageResult.model_validate(d) for d in self._live_docs(query.stream())]

    def list_results_for_page(self, source_doc_id: str, page_no: int) -> list[PageResult]:
        """See `Store.list_results_for_page`. Two equality filters need no composite index:
        Firestore merges the single-field indexes (https://firebase.google.com/docs/firestore/query-data/index-overview)."""
        query = (self.client.collection("page_results")
                 .where(filter=FieldFilter("source_doc_id", "==", source_doc_id))
                 .where(filter=FieldFilter("page_no", "==", page_no)))
        with translated():
            results = [PageResult.model_validate(d) for d in self._live_docs(query.stream())]
        return sorted(results, key=lambda r: (r.created_at, r.page_result_id))

    def get_tokens(self, page_result_id: str) -> list[Token]:
        """See `Store.get_tokens`: the chunks the page result names, read at the page result's
        read time (unpublished chunks are never read). [] for an unknown page result."""
        if not valid_id(page_result_id):
            return []
        ref = self._result_ref(page_result_id)
        with translated():
            snap = ref.get()
            data = self._alive(snap.to_dict())
            ids = _chunk_ids(data) if data else []
            if not ids:
                return []
            chunks = {s.id: s.to_dict() for s in self.client.get_all(
                [ref.collection("token_chunks").document(i) for i in ids], read_time=snap.read_time)}
        return [token for i in ids if (chunk := self._alive(chunks.get(i))) for token in tokens_of_chunk(chunk)]

    def ingest(self, page_result_id: str, *, mode: Literal["replace", "append"], tokens: list[Token] | None,
               review: Callable[[Review | None], Review] | None, links: list[Link] | None) -> PageResult:
        """See `Store.ingest`. New chunks and links are written first under fresh ids (nothing
        names them); then the page result is read and, in one commit conditioned on its update
        time, its `chunk_ids`, `token_count`, `confidence_sum`, `word_count`, `mean_confidence`
        and `link_batches` are updated and the review set. A concurrent writer makes the commit
        fail and the read start again: a second append at the same start then raises
        `InvalidTransition`. Whatever was written for a failed ingest is deleted; what a replace
        unpublished is deleted after the commit.

        Raises:
            NotFound: no such page result. InvalidTransition: an append not starting at the
                current token count, or a link_id the page result already has or that repeats.
            InputError: `mode` unknown; token_no not one contiguous run; a review or link of
                another page result; a review over `REVIEW_BYTES`; a token over `CHUNK_BYTES`.
        """
        if mode not in ("replace", "append"):
            raise InputError("mode must be replace or append")
        check_ingest(page_result_id, tokens, links)
        ref = self._result_ref(page_result_id)
        review_ref = ref.collection("reviews").document(REVIEW_DOC)
        with translated():
            current = self._alive(ref.get().to_dict())
        if current is None:
            raise NotFound("no such page result")
        expire_at = current.get("expire_at")
        ordered = sorted(tokens, key=lambda t: t.token_no) if tokens is not None else None
        chunks = list(token_chunks(ordered)) if ordered else []
        chunk_refs = [ref.collection("token_chunks").document(new_id()) for _ in chunks]
        batch_id = new_id()
        link_refs = [ref.collection("links").document(new_id()) for _ in links or ()]
        writes = [(r, {**chunk, "expire_at": expire_at}, chunk["bytes"]) for r, chunk in zip(chunk_refs, chunks)]
        for seq, (r, link) in enumerate(zip(link_refs, links or ())):
            data = {**link.model_dump(mode="json"), "batch": batch_id, "seq": seq, "expire_at": expire_at}
            writes.append((r, data, len(link.model_dump_json()) + 100))
        new_count, new_sum = (len(ordered), _confidence_sum(ordered)) if ordered is not None else (0, 0.0)

        def attempt() -> tuple[PageResult, list[str], list[str], Any]:
            snaps = {s.reference.path: s for s in self.client.get_all([ref, review_ref])}
            snap, review_snap = snaps[ref.path], snaps[review_ref.path]
            data = self._alive(snap.to_dict())
            if data is None:
                raise NotFound("no such page result")
            result = PageResult.model_validate(data)
            fields: dict[str, Any] = {"ingested_at": firestore.SERVER_TIMESTAMP}
            unpublished_chunks: list[str] = []
            unpublished_batches: list[str] = []
            if ordered is not None:
                ids = _chunk_ids(data)
                count, total = self._token_stats(ref, data, ids, snap.read_time)
                if mode == "append":
                    start = ordered[0].token_no if ordered else count
                    if start != count:
                        raise InvalidTransition(f"append must start at token_no {count}, not {start}")
                    ids, count, total = ids + [r.id for r in chunk_refs], count + new_count, total + new_sum
                else:
                    unpublished_chunks = ids
                    ids, count, total = [r.id for r in chunk_refs], new_count, new_sum
                mean = round(total / count, 2) if count else None
                fields.update(chunk_ids=ids, token_count=count, confidence_sum=total, word_count=count, mean_confidence=mean)
                result = result.model_copy(update={"word_count": count, "mean_confidence": mean})
            if links is not None:
                batches = list(data.get("link_batches") or [])
                if mode == "append":
                    taken = self._link_ids(ref, batches, snap.read_time) & {link.link_id for link in links} if links else set()
                    if taken:
                        raise InvalidTransition(f"page result {page_result_id} has link {sorted(taken)[0]} already")
                    batches += [batch_id] if links else []
                else:
                    unpublished_batches, batches = batches, [batch_id] if links else []
                fields["link_batches"] = batches
            batch = self.client.batch()
            batch.update(ref, fields, option=self.client.write_option(last_update_time=snap.update_time))
            if review is not None:
                stored = self._alive(review_snap.to_dict())
                new_review = review(Review.model_validate(stored) if stored else None)
                check_review_target(new_review, page_result_id)
                body = {**_review_data(new_review), "expire_at": data.get("expire_at")}
                if review_snap.exists:  # conditioned, so a concurrent review change starts all again
                    batch.update(review_ref, body, option=self.client.write_option(last_update_time=review_snap.update_time))
                else:
                    batch.create(review_ref, body)
            try:
                batch.commit()
            except gexc.NotFound as exc:  # deleted since the read
                raise NotFound("no such page result") from exc
            return result, unpublished_chunks, unpublished_batches, data.get("expire_at")

        written = [r for r, _, _ in writes]
        with translated():
            try:
                self._write_new(writes)
                result, old_chunks, old_batches, final_expiry = optimistic(attempt)
            except BaseException:
                self._delete_quietly(written)
                raise
            self._delete_quietly([ref.collection("token_chunks").document(i) for i in old_chunks]
                                 + self._link_refs(ref, old_batches))
            if final_expiry != expire_at:  # the job finished meanwhile: give the new records its expiry
                self._update_quietly(written, {"expire_at": final_expiry})
        return result

    def _token_stats(self, ref, data: dict[str, Any], ids: list[str], read_time) -> tuple[int, float]:
        """(token count, sum of confidences) of a page result: its fields, or for a document
        written before they existed, its chunks."""
        if "token_count" in data:
            return data["token_count"], data.get("confidence_sum", 0.0)
        tokens = [t for s in self.client.get_all([ref.collection("token_chunks").document(i) for i in ids], read_time=read_time)
                  if s.exists for t in tokens_of_chunk(s.to_dict())]
        return len(tokens), _confidence_sum(tokens)

    def _link_ids(self, ref, batches: list[str], read_time) -> set[str]:
        """link_ids of the page result's published links (batches in `batches`)."""
        published = set(batches)
        if not published:
            return set()
        snaps = ref.collection("links").select(["link_id", "batch"]).stream(read_time=read_time)
        return {s.get("link_id") for s in snaps if s.get("batch") in published}

    def _link_refs(self, ref, batches: list[str]) -> list:
        """References of the page result's link documents of `batches`."""
        if not batches:
            return []
        wanted = set(batches)
        return [s.reference for s in ref.collection("links").select(["batch"]).stream() if s.get("batch") in wanted]

    def get_review(self, page_result_id: str) -> Review | None:
        if not valid_id(page_result_id):
            return None
        ref = self._result_ref(page_result_id)
        review_ref = ref.collection("reviews").document(REVIEW_DOC)
        with translated():
            snaps = {s.reference.path: s for s in self.client.get_all([ref, review_ref])}
        if self._alive(snaps[ref.path].to_dict()) is None:
            return None
        data = self._alive(snaps[review_ref.path].to_dict())
        return Review.model_validate(data) if data else None

    def update_review(self, page_result_id: str, mutate: Callable[[Review | None], Review]) -> Review:
        """See `Store.update_review`: the page result and its review are read, and the review
        `mutate` returns is written on the condition that the review did not change meanwhile
        (created on the condition that none was created); else all starts again, as
        `update_job` does. An exception from `mutate` writes nothing.

        Raises:
            NotFound: no such page result. InputError: the new review names another page result
                or is over `REVIEW_BYTES`. TransientError: still contended after every attempt.
        """
        ref = self._result_ref(page_result_id)
        review_ref = ref.collection("reviews").document(REVIEW_DOC)

        def attempt() -> Review:
            snaps = {s.reference.path: s for s in self.client.get_all([ref, review_ref])}
            data = self._alive(snaps[ref.path].to_dict())
            if data is None:
                raise NotFound("no such page result")
            snap = snaps[review_ref.path]
            stored = self._alive(snap.to_dict())
            review = mutate(Review.model_validate(stored) if stored else None)
            if review.page_result_id != page_result_id:
                raise InputError("review.page_result_id is not the page result updated")
            body = {**_review_data(review), "expire_at": data.get("expire_at")}
            if snap.exists:
                try:
                    review_ref.update(body, option=self.client.write_option(last_update_time=snap.update_time))
                except gexc.NotFound as exc:  # deleted since the read: read again
                    raise gexc.FailedPrecondition("the review was deleted meanwhile") from exc
            else:
                review_ref.create(body)
            return review

        with translated():
            return optimistic(attempt)

    def list_links(self, page_result_id: str) -> list[Link]:
        """See `Store.list_links`: the page result's published link batches, in the order they
        were published, each in its order; read at the page result's read time."""
        if not valid_id(page_result_id):
            return []
        ref = self._result_ref(page_result_id)
        with translated():
            snap = ref.get()
            data = self._alive(snap.to_dict())
            batches = {b: n for n, b in enumerate((data or {}).get("link_batches") or [])}
            if not batches:
                return []
            docs = [d for d in self._live_docs(ref.collection("links").stream(read_time=snap.read_time)) if d.get("batch") in batches]
        docs.sort(key=lambda d: (batches[d["batch"]], d["seq"]))
        return [Link.model_validate(d) for d in docs]

    def _live_docs(self, snaps: Iterable) -> Iterator[dict[str, Any]]:
        for snap in snaps:
            data = self._alive(snap.to_dict())
            if data is not None:
                yield data

    # -- writing and clearing many documents ---------------------------------------------
    def _write_new(self, writes: list[tuple[Any, dict[str, Any], int]]) -> None:
        """Write (reference, data, approximate bytes) in batched writes of at most
        `COMMIT_BYTES` and `COMMIT_WRITES` each."""
        for group in commit_groups(writes):
            batch = self.client.batch()
            for ref, data, _ in group:
                batch.set(ref, data)
            batch.commit()

    def _delete_quietly(self, refs: list) -> None:
        """Delete documents nothing names any more, best effort: a failure leaves them to TTL
        (a job's records) or as unread leftovers."""
        delete_quietly(self.client, refs)

    def _update_quietly(self, refs: list, fields: dict[str, Any]) -> None:
        try:
            for group in batches(refs, COMMIT_WRITES):
                batch = self.client.batch()
                for ref in group:
                    batch.update(ref, fields)
                batch.commit()
        except gexc.GoogleAPICallError:
            pass

    def _recursive_delete_quietly(self, ref) -> None:
        try:
            self.client.recursive_delete(ref)
        except gexc.GoogleAPICallError:
            pass

    # -- costs and counters --------------------------------------------------------------
    def add_cost(self, entry: CostEntry) -> bool:
        data = checked_dict(entry)
        data["created_at"] = entry.created_at
        with translated():
            try:
                self.client.collection("costs").document(doc_id(entry.cost_id)).create(data)
            except gexc.AlreadyExists:
                return False
        return True

    def list_costs(self, job_id: str) -> list[CostEntry]:
        query = (self.client.collection("costs").where(filter=FieldFilter("job_id", "==", job_id))
                 .order_by("created_at").order_by("__name__"))
        with translated():
            return [CostEntry.model_validate(s.to_dict()) for s in query.stream()]

    def query_costs(self, *, job_id: str | None = None, project_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int | None = None) -> list[CostEntry]:
        check_cost_query(since, until, limit)
        query = self.client.collection("costs")
        for field_path, op, value in (("job_id", "==", job_id), ("project_id", "==", project_id),
                                      ("created_at", ">=", since), ("created_at", "<", until)):
            if value is not None:
                query = query.where(filter=FieldFilter(field_path, op, value))
        query = query.order_by("created_at").order_by("__name__")
        if limit is not None:
            query = query.limit(limit)
        with translated():
            return [CostEntry.model_validate(s.to_dict()) for s in query.stream()]

    def increment_counter(self, key: str, expire_at: datetime, now: datetime) -> int:
        ref = self.client.collection("rate_limits").document(doc_id(key))

        def attempt() -> int:
            snap = ref.get()
            data = snap.to_dict()
            if data is None:
                ref.create({"value": 1, "expire_at": expire_at})
                return 1
            value = 1 if data["expire_at"] <= now else data["value"] + 1
            fields = {"value": value, "expire_at": expire_at} if value == 1 else {"value": value}
            ref.update(fields, option=self.client.write_option(last_update_time=snap.update_time))
            return value

        with translated():
            return optimistic(attempt)


# -- documents ---------------------------------------------------------------------------

def _doc(model, expire_at: datetime | None) -> dict[str, Any]:
    return {**checked_dict(model), "expire_at": expire_at}


def _result_doc(result: PageResult, expire_at: datetime | None, chunk_ids: list[str], tokens: list[Token]) -> dict[str, Any]:
    """A page result document publishing `chunk_ids` (holding `tokens`) and no links."""
    return {**_doc(result, expire_at), "chunk_ids": chunk_ids, "token_count": len(tokens),
            "confidence_sum": _confidence_sum(tokens), "link_batches": []}


def _job_doc(job: Job) -> dict[str, Any]:
    """A job's document; `updated_at` a timestamp, for `list_stalled_jobs` to compare."""
    return {**_doc(job, job.expiration_time), "updated_at": job.updated_at}


def _chunk_ids(data: dict[str, Any]) -> list[str]:
    """The token chunk ids a page result document publishes, in token order; a document written
    before `chunk_ids` existed names `chunk_count` chunks `00000`, `00001`, ..."""
    if "chunk_ids" in data:
        return list(data["chunk_ids"])
    return [f"{n:05d}" for n in range(data.get("chunk_count", 0))]


def _confidence_sum(tokens: Iterable[Token]) -> float:
    return math.fsum(float(t.confidence) for t in tokens)


def _review_data(review: Review) -> dict[str, Any]:
    """The review document's fields.

    Raises:
        InputError: its JSON is over `REVIEW_BYTES` (one document holds 1 MiB).
    """
    size = len(review.model_dump_json().encode())
    if size > REVIEW_BYTES:
        raise InputError(f"the review takes {size} bytes; a review may take {REVIEW_BYTES}")
    return checked_dict(review)



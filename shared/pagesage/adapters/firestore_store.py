"""The production store: Cloud Firestore in Native mode (`google-cloud-firestore`).

Layout (collection / document id: content); `expire_at` is the TTL field of every collection
that expires (policies declared in `firestore.indexes.json` and Terraform):

| path | content |
|---|---|
| `jobs/{job_id}` | the Job; `expire_at` = its `expiration_time` (completion + 48 h) |
| `source_docs/{source_doc_id}` | a SourceDoc, with `job_id` when an upload made it |
| `pages/{page_id}` | a Page (`<source_doc_id>_p<page_no>`), with `source_doc_id`, `job_id` |
| `runs/{run_id}` | a Run, with `job_id` |
| `page_results/{page_result_id}` | a PageResult, with `job_id`, `run_id`, `page_no`, `chunk_count` |
| `page_results/{id}/token_chunks/{n:05d}` | tokens `first_token_no`.. in columns (see below) |
| `costs/{cost_id}` | a CostEntry; `created_at` is a timestamp (no TTL: the accounting log); queried by `job_id` or `project_id` and a `created_at` range (composite indexes in `firestore.indexes.json`) |
| `rate_limits/{key}` | `value`, `expire_at` (end of the one-minute window) |

Tokens: a page's words are stored in chunks of at most `CHUNK_TOKENS` tokens and
`CHUNK_BYTES` each, as one JSON string of parallel arrays (`text`, `text_norm`, `x`, `y`, `w`,
`h`, `confidence`, `kind`, `block`, `par`, `line`, `lang`), well under Firestore's 1 MiB
document limit (https://firebase.google.com/docs/firestore/quotas). One chunk of 2,000 words is
one write instead of 2,000. The chunks are written first, in batched writes; then one transaction
publishes the page result document and removes the result it replaces, so readers see the old
tokens or the new ones, never a mix.
The `columns` string is exempt from indexing (`firestore.indexes.json`): nobody queries it.

Expiry: TTL deletion is lazy (typically within 24 h of `expire_at`), so every read treats a
document whose `expire_at` has passed as gone. A job's records are written before the job's
expiry is known; they get a provisional `expire_at` (`PROVISIONAL_TTL` after the write) and the
job's exact expiry once it finishes (a BulkWriter pass right after the finishing transaction).
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from pagesage.domain.jobs import RESULT_TTL, Job, utcnow
from pagesage.domain.pages import BBox, CostEntry, Page, PageResult, PageStatus, Run, Token, check_cost_query
from pagesage.domain.provenance import SourceDoc
from pagesage.errors import InputError, InvalidTransition, NotFound, TransientError

CHUNK_TOKENS = 2000
"""Most tokens in one chunk document."""

CHUNK_BYTES = 512 * 1024
"""Most bytes of one chunk's token JSON (a document may hold 1 MiB)."""

COMMIT_BYTES = 3 * 1024 * 1024
"""Most chunk bytes in one batched write: under the emulator's 4 MiB gRPC message limit
(production allows 10 MiB per request)."""

PROVISIONAL_TTL = RESULT_TTL + timedelta(days=5)
"""`expire_at` of a job's records until the job finishes: its 48 h plus five days to process."""

TRANSACTION_ATTEMPTS = 25
"""Tries of one transaction under contention (the library's default is 5)."""

_TOKEN_FIELDS = ("text", "text_norm", "x", "y", "w", "h", "confidence", "kind", "block", "par", "line", "lang")


def firestore_client(project: str | None, database: str = "(default)") -> firestore.Client:
    """A Firestore client; with `FIRESTORE_EMULATOR_HOST` set the library talks to the emulator."""
    return firestore.Client(project=project, database=database)


class FirestoreStore:
    """`Store` on Cloud Firestore; each method keeps the contract documented on
    `pagesage.ports.Store` (see the module docstring for the layout).

    Read-modify-write methods are transactions. `update_job`, `finish_page` and
    `increment_counter` are optimistic: they read, then write with a precondition on the
    document's update time (`finish_page` commits the page and its job's counter increment in
    one batch), and start again when another writer got there first. Firestore's locking
    transactions deadlock when two of them read and then write one hot job document; on the
    emulator 2 threads updating one job 10 times each took 30 s that way and 0.6 s this way.
    `put_page_result` (several documents, rarely contended) is a locking transaction.
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
        return self.client.collection("jobs").document(_doc_id(job_id))

    def _page_ref(self, page_id: str):
        return self.client.collection("pages").document(_doc_id(page_id))

    def _result_ref(self, page_result_id: str):
        return self.client.collection("page_results").document(_doc_id(page_result_id))

    def _transaction(self):
        return self.client.transaction(max_attempts=TRANSACTION_ATTEMPTS)

    def _alive(self, data: dict[str, Any] | None) -> dict[str, Any] | None:
        if data is None:
            return None
        expire_at = data.get("expire_at")
        if expire_at is not None and expire_at <= self._clock():
            return None
        return data

    def _provisional(self) -> datetime:
        return self._clock() + PROVISIONAL_TTL

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, job: Job) -> None:
        with _translated():
            try:
                self._job_ref(job.job_id).create(_job_doc(job))
            except gexc.AlreadyExists as exc:
                raise InvalidTransition(f"job {job.job_id} exists") from exc

    def get_job(self, job_id: str) -> Job:
        with _translated():
            data = self._alive(self._job_ref(job_id).get().to_dict())
        if data is None:
            raise NotFound("no such job")
        return Job.model_validate(data)

    def update_job(self, job_id: str, mutate: Callable[[Job], None]) -> Job:
        ref = self._job_ref(job_id)

        def attempt() -> tuple[Job, bool]:
            snap = ref.get()
            data = self._alive(snap.to_dict())
            if data is None:
                raise NotFound("no such job")
            job = Job.model_validate(data)
            had_expiry = job.expiration_time is not None
            mutate(job)
            ref.update(_job_doc(job), option=self.client.write_option(last_update_time=snap.update_time))
            return job, not had_expiry and job.expiration_time is not None

        with _translated():
            job, finished_now = _optimistic(attempt)
            if finished_now:
                self._stamp_expiry(job.job_id, job.expiration_time)
        return job

    def list_expired_jobs(self, now: datetime, limit: int = 100) -> list[str]:
        query = (self.client.collection("jobs").where(filter=FieldFilter("expire_at", "<=", now))
                 .order_by("expire_at").limit(limit))
        with _translated():
            return [snap.id for snap in query.stream()]

    def delete_job(self, job_id: str) -> None:
        with _translated():
            # recursive_delete closes the BulkWriter it is given: one per call
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
        """Give every record of a finished job the job's own `expire_at` (see module docstring)."""
        writer = self.client.bulk_writer()
        refs: list = [s.reference for c in ("pages", "runs", "source_docs") for s in self._job_query(c, job_id)]
        for snap in self._job_query("page_results", job_id):
            refs.append(snap.reference)
            refs += list(snap.reference.collection("token_chunks").list_documents())
        for ref in refs:
            writer.update(ref, {"expire_at": expire_at})
        writer.close()

    # -- source documents and pages ------------------------------------------------------
    def create_source_doc(self, doc: SourceDoc) -> None:
        data = {**_doc(doc, self._provisional() if doc.job_id else None), "created_at": doc.created_at}
        with _translated():
            try:
                self.client.collection("source_docs").document(_doc_id(doc.source_doc_id)).create(data)
            except gexc.AlreadyExists as exc:
                raise InvalidTransition(f"source document {doc.source_doc_id} exists") from exc

    def get_source_doc(self, source_doc_id: str) -> SourceDoc:
        with _translated():
            data = self._alive(self.client.collection("source_docs").document(_doc_id(source_doc_id)).get().to_dict())
        if data is None:
            raise NotFound("no such source document")
        return SourceDoc.model_validate(data)

    def put_pages(self, pages: list[Page]) -> None:
        expire_at = self._provisional()
        with _translated():
            for group in _batches(pages, 500):
                batch = self.client.batch()
                for page in group:
                    batch.set(self._page_ref(page.page_id), _doc(page, expire_at if page.job_id else None))
                batch.commit()

    def get_page(self, page_id: str) -> Page:
        with _translated():
            data = self._alive(self._page_ref(page_id).get().to_dict())
        if data is None:
            raise NotFound("no such page")
        return Page.model_validate(data)

    def list_pages(self, source_doc_id: str) -> list[Page]:
        query = self.client.collection("pages").where(filter=FieldFilter("source_doc_id", "==", source_doc_id)).order_by("page_no")
        with _translated():
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
            batch.update(page_ref, _doc(page, data.get("expire_at")), option=self.client.write_option(last_update_time=snap.update_time))
            batch.update(job_ref, {counter: firestore.Increment(1)})
            batch.commit()
            return True

        with _translated():
            try:
                changed = _optimistic(attempt)
            except gexc.NotFound as exc:
                raise NotFound("no such job") from exc
        return self.get_job(page.job_id), changed

    # -- runs and results ----------------------------------------------------------------
    def put_run(self, run: Run) -> None:
        with _translated():
            self.client.collection("runs").document(_doc_id(run.run_id)).set(_doc(run, self._provisional()))

    def get_run(self, run_id: str) -> Run:
        with _translated():
            data = self._alive(self.client.collection("runs").document(_doc_id(run_id)).get().to_dict())
        if data is None:
            raise NotFound("no such run")
        return Run.model_validate(data)

    def list_runs(self, job_id: str) -> list[Run]:
        with _translated():
            runs = [Run.model_validate(d) for d in self._live_docs(self._job_query("runs", job_id))]
        return sorted(runs, key=lambda r: r.started_at)

    def put_page_result(self, result: PageResult, tokens: list[Token]) -> None:
        expire_at = self._provisional()
        chunks = list(token_chunks(sorted(tokens, key=lambda t: t.token_no)))
        new_ref = self._result_ref(result.page_result_id)
        earlier = (self.client.collection("page_results")
                   .where(filter=FieldFilter("run_id", "==", result.run_id))
                   .where(filter=FieldFilter("page_no", "==", result.page_no)))

        @firestore.transactional
        def publish(transaction) -> None:
            stale = []
            for snap in transaction.get(earlier):
                if snap.id == result.page_result_id:
                    continue
                stale.append(snap.reference)
                stale.extend(c.reference for c in transaction.get(snap.reference.collection("token_chunks").select(["count"])))
            for ref in stale:
                transaction.delete(ref)
            transaction.set(new_ref, {**_doc(result, expire_at), "chunk_count": len(chunks)})

        with _translated():
            # The chunks go first, in batched writes; nothing names them until the page result
            # document is published, in one transaction with the removal of the result it replaces.
            for group in _commit_groups(chunks):
                batch = self.client.batch()
                for n, chunk in group:
                    batch.set(new_ref.collection("token_chunks").document(f"{n:05d}"), {**chunk, "expire_at": expire_at})
                batch.commit()
            publish(self._transaction())

    def list_page_results(self, job_id: str) -> list[PageResult]:
        query = self.client.collection("page_results").where(filter=FieldFilter("job_id", "==", job_id)).order_by("page_no")
        with _translated():
            return [PageResult.model_validate(d) for d in self._live_docs(query.stream())]

    def get_tokens(self, page_result_id: str) -> list[Token]:
        chunks = self._result_ref(page_result_id).collection("token_chunks").order_by("first_token_no")
        with _translated():
            return [token for chunk in self._live_docs(chunks.stream()) for token in tokens_of_chunk(chunk)]

    def _live_docs(self, snaps: Iterable) -> Iterator[dict[str, Any]]:
        for snap in snaps:
            data = self._alive(snap.to_dict())
            if data is not None:
                yield data

    # -- costs and counters --------------------------------------------------------------
    def add_cost(self, entry: CostEntry) -> bool:
        data = entry.model_dump(mode="json")
        data["created_at"] = entry.created_at
        with _translated():
            try:
                self.client.collection("costs").document(_doc_id(entry.cost_id)).create(data)
            except gexc.AlreadyExists:
                return False
        return True

    def list_costs(self, job_id: str) -> list[CostEntry]:
        query = (self.client.collection("costs").where(filter=FieldFilter("job_id", "==", job_id))
                 .order_by("created_at").order_by("__name__"))
        with _translated():
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
        with _translated():
            return [CostEntry.model_validate(s.to_dict()) for s in query.stream()]

    def increment_counter(self, key: str, expire_at: datetime, now: datetime) -> int:
        ref = self.client.collection("rate_limits").document(_doc_id(key))

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

        with _translated():
            return _optimistic(attempt)


# -- token chunks ------------------------------------------------------------------------

def token_chunks(tokens: list[Token]) -> Iterator[dict[str, Any]]:
    """Split tokens (sorted by token_no) into chunk documents: `first_token_no`, `count`,
    `bytes` and `columns`, one JSON string of parallel arrays (one per field of
    `_TOKEN_FIELDS`). Each chunk holds at most `CHUNK_TOKENS` tokens and `CHUNK_BYTES` of JSON.

    One string instead of arrays of Firestore values: the client library encodes each array
    element as its own protobuf message, which took 80 % of the time to store a page.

    Raises:
        InputError: one token alone encodes to more than `CHUNK_BYTES`.
    """
    start = 0
    while start < len(tokens):
        end = min(start + CHUNK_TOKENS, len(tokens))
        while True:
            encoded = _columns_json(tokens[start:end])
            if len(encoded) <= CHUNK_BYTES:
                break
            if end - start == 1:
                raise InputError(f"token {tokens[start].token_no} takes {len(encoded)} bytes; the limit is {CHUNK_BYTES}")
            end = start + max(1, (end - start) * CHUNK_BYTES // len(encoded) * 9 // 10)
        yield {"first_token_no": tokens[start].token_no, "count": end - start, "bytes": len(encoded),
               "columns": encoded.decode()}
        start = end


def tokens_of_chunk(chunk: dict[str, Any]) -> Iterator[Token]:
    """The tokens of one chunk document, in order."""
    c = json.loads(chunk["columns"])
    first = chunk["first_token_no"]
    for i in range(chunk["count"]):
        yield Token.model_construct(
            token_no=first + i, text=c["text"][i], text_norm=c["text_norm"][i],
            bbox=BBox.model_construct(x=c["x"][i], y=c["y"][i], w=c["w"][i], h=c["h"][i]),
            confidence=c["confidence"][i], kind=c["kind"][i], block=c["block"][i],
            par=c["par"][i], line=c["line"][i], lang=c["lang"][i],
        )


def _columns_json(tokens: list[Token]) -> bytes:
    columns: dict[str, list] = {name: [] for name in _TOKEN_FIELDS}
    for t in tokens:
        for name, value in zip(_TOKEN_FIELDS, (t.text, t.text_norm, t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h,
                                               float(t.confidence), t.kind, t.block, t.par, t.line, t.lang)):
            columns[name].append(value)
    return json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode()


# -- documents ---------------------------------------------------------------------------

def _doc(model, expire_at: datetime | None) -> dict[str, Any]:
    return {**model.model_dump(mode="json"), "expire_at": expire_at}


def _job_doc(job: Job) -> dict[str, Any]:
    return _doc(job, job.expiration_time)


def _doc_id(value: str) -> str:
    """A document id from a PageSage id; ids with `/` or Firestore's reserved forms raise
    `NotFound` (no such record can exist)."""
    if not value or "/" in value or value in (".", "..") or (value.startswith("__") and value.endswith("__")):
        raise NotFound(f"invalid id {value!r}")
    return value


def _optimistic(attempt: Callable[[], Any]) -> Any:
    """Run `attempt` (read, then writes conditioned on what was read) until no concurrent write
    intervened: a failed precondition or a lost create race is retried after a jittered
    exponential back-off (10 ms doubling to 0.5 s), at most `TRANSACTION_ATTEMPTS` times.

    Raises:
        TransientError: still contended after every attempt.
    """
    for n in range(TRANSACTION_ATTEMPTS):
        try:
            return attempt()
        except (gexc.FailedPrecondition, gexc.AlreadyExists):
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** n)))
    raise TransientError(f"document still contended after {TRANSACTION_ATTEMPTS} attempts")


def _commit_groups(chunks: list[dict[str, Any]]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Numbered chunks grouped into commits of at most `COMMIT_BYTES` and 500 writes."""
    group: list[tuple[int, dict[str, Any]]] = []
    size = 0
    for n, chunk in enumerate(chunks):
        chunk_size = chunk["bytes"]
        if group and (size + chunk_size > COMMIT_BYTES or len(group) == 500):
            yield group
            group, size = [], 0
        group.append((n, chunk))
        size += chunk_size
    if group:
        yield group


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _translated:
    """Map Google API errors that a retry may cure (unavailable, deadline, contention,
    quota) to `TransientError`; other errors pass through."""

    _TRANSIENT = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.Aborted, gexc.TooManyRequests,
                  gexc.InternalServerError)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and isinstance(exc, self._TRANSIENT):
            raise TransientError(f"Firestore unavailable: {exc.message if hasattr(exc, 'message') else exc}") from exc
        return False

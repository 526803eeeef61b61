"""The Store contract, run on both backends: SqliteStore on a real database file and
FirestoreStore on the real Firestore emulator. Jobs, pages, results, tokens, costs, counters, TTL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from pagesage import emulators
import pytest
from factories import make_job, run_in_threads
from pagesage.adapters.firestore_store import FirestoreStore
from pagesage.adapters.sqlite_store import SqliteStore
from pagesage.domain.jobs import (
    FileFormat,
    Job,
    JobErrorCode,
    JobStatus,
    utcnow,
)
from pagesage.domain.pages import (
    BBox,
    CostEntry,
    EngineConfig,
    Page,
    PageResult,
    PageStatus,
    Run,
    Token,
    page_id,
)
from pagesage.errors import InvalidTransition, NotFound
from pagesage.text.normalize import normalize_for_search
from pydantic import ValidationError


# -- jobs ------------------------------------------------------------------------------------

def test_create_get_round_trip(store):
    job = make_job()
    job.start(8, now=utcnow())
    store.create_job(job)
    got = store.get_job(job.job_id)
    assert got == job
    assert got is not job
    assert got.status is JobStatus.PROCESSING
    assert got.upload.file_format is FileFormat.PDF and got.languages == "eng"


def test_store_survives_reopen(tmp_path):
    job = make_job()
    SqliteStore(tmp_path / "db.sqlite").create_job(job)
    assert SqliteStore(tmp_path / "db.sqlite").get_job(job.job_id) == job


def test_duplicate_create_raises_invalid_transition(store):
    job = make_job()
    store.create_job(job)
    other = make_job(job_id=job.job_id, pages_done=5)
    with pytest.raises(InvalidTransition):
        store.create_job(other)
    assert store.get_job(job.job_id).pages_done == 0


def test_unknown_job_is_not_found(store):
    with pytest.raises(NotFound):
        store.get_job("x" * 43)
    with pytest.raises(NotFound):
        store.update_job("x" * 43, lambda j: None)


@pytest.mark.parametrize(("hours_ago", "readable"), [(49, False), (47, True)])
def test_a_job_reads_as_gone_once_48_hours_past_completion(store, hours_ago, readable):
    job = make_job()
    then = utcnow() - timedelta(hours=hours_ago)
    job.start(1, now=then)
    job.complete(now=then)
    store.create_job(job)
    if readable:
        assert store.get_job(job.job_id).status is JobStatus.COMPLETED
        return
    touched = []
    with pytest.raises(NotFound):
        store.get_job(job.job_id)
    with pytest.raises(NotFound):
        store.update_job(job.job_id, touched.append)
    assert touched == []


def test_update_job_writes_and_returns_the_job(store):
    job = make_job()
    store.create_job(job)
    returned = store.update_job(job.job_id, lambda j: j.start(4))
    assert returned.status is JobStatus.PROCESSING
    assert store.get_job(job.job_id) == returned


def test_update_job_is_atomic_under_concurrency(store):
    job = make_job()
    store.create_job(job)

    def bump(j: Job) -> None:
        j.pages_done += 1

    def worker(_: int) -> None:
        for _ in range(25):
            store.update_job(job.job_id, bump)

    run_in_threads(8, worker)
    assert store.get_job(job.job_id).pages_done == 200


def test_exception_inside_mutate_writes_nothing(store):
    job = make_job()
    store.create_job(job)

    def bad(j: Job) -> None:
        j.pages_done = 99
        j.fail(JobErrorCode.INTERNAL_ERROR, "boom")
        raise RuntimeError("mutate failed")

    with pytest.raises(RuntimeError, match="mutate failed"):
        store.update_job(job.job_id, bad)
    assert store.get_job(job.job_id) == job
    # an invalid transition inside mutate is an exception too
    with pytest.raises(InvalidTransition):
        store.update_job(job.job_id, lambda j: j.complete())
    assert store.get_job(job.job_id).status is JobStatus.PENDING
    # and the store is still usable afterwards (no transaction left open)
    store.update_job(job.job_id, lambda j: setattr(j, "pages_done", 1))
    assert store.get_job(job.job_id).pages_done == 1


# -- pages -----------------------------------------------------------------------------------

def started_job_with_pages(store, count: int) -> Job:
    job = make_job()
    job.start(count)
    store.create_job(job)
    store.put_pages([Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=n, size_hint=n * 1000) for n in range(1, count + 1)])
    return job


def test_put_get_list_pages(store):
    job = started_job_with_pages(store, 3)
    pages = store.list_pages(job.source_doc_id)
    assert [p.page_no for p in pages] == [1, 2, 3]
    assert store.get_page(page_id(job.source_doc_id, 2)).size_hint == 2000
    with pytest.raises(NotFound):
        store.get_page(page_id(job.source_doc_id, 4))


def test_finish_page_counts_once(store):
    job = started_job_with_pages(store, 3)
    done = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1, status=PageStatus.DONE, width=10, height=20, dpi=300)
    after, changed = store.finish_page(done)
    assert changed is True
    assert (after.pages_done, after.pages_failed) == (1, 0)

    again, changed = store.finish_page(done.model_copy(update={"width": 999}))
    assert changed is False
    assert (again.pages_done, again.pages_failed) == (1, 0)
    stored = store.get_job(job.job_id)
    assert (stored.pages_done, stored.pages_failed) == (1, 0)
    assert store.get_page(page_id(job.source_doc_id, 1)).width == 10

    # a redelivery reporting failure for an already-done page changes nothing either
    _, changed = store.finish_page(done.model_copy(update={"status": PageStatus.FAILED}))
    assert changed is False
    assert store.get_page(page_id(job.source_doc_id, 1)).status is PageStatus.DONE
    assert store.get_job(job.job_id).pages_failed == 0


def test_finish_page_counts_failures(store):
    job = started_job_with_pages(store, 2)
    failed = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=2, status=PageStatus.FAILED, error_code="ocr_engine_error")
    after, changed = store.finish_page(failed)
    assert changed
    assert (after.pages_done, after.pages_failed) == (0, 1)
    assert store.get_page(page_id(job.source_doc_id, 2)).error_code == "ocr_engine_error"


def test_finish_page_refuses_pending_and_unknown_pages(store):
    job = started_job_with_pages(store, 1)
    with pytest.raises(InvalidTransition):
        store.finish_page(Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1))
    with pytest.raises(NotFound):
        store.finish_page(Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=2, status=PageStatus.DONE))


def test_concurrent_finish_page_of_different_pages(store):
    job = started_job_with_pages(store, 20)
    results: list[bool] = []

    def finish(i: int) -> None:
        _, changed = store.finish_page(Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=i + 1, status=PageStatus.DONE))
        results.append(changed)

    run_in_threads(20, finish)
    assert results == [True] * 20
    stored = store.get_job(job.job_id)
    assert (stored.pages_done, stored.pages_failed) == (20, 0)
    assert all(p.status is PageStatus.DONE for p in store.list_pages(job.source_doc_id))


def test_concurrent_finish_of_the_same_page_counts_once(store):
    job = started_job_with_pages(store, 1)
    results: list[bool] = []

    def finish(_: int) -> None:
        results.append(store.finish_page(Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1, status=PageStatus.DONE))[1])

    run_in_threads(10, finish)
    assert sorted(results) == [False] * 9 + [True]
    assert store.get_job(job.job_id).pages_done == 1


# -- runs, page results and tokens -------------------------------------------------------

CONFIG = EngineConfig(languages="Devanagari", psm=3, oem=1, dpi=300)


def token(no: int, text: str, lang: str | None = None, conf: float = 91.5) -> Token:
    return Token(
        token_no=no, text=text, text_norm=normalize_for_search(text),
        bbox=BBox(x=10 * no, y=5, w=40, h=18), confidence=conf,
        block=0, par=no // 3, line=no // 2, lang=lang,
    )


def test_runs_round_trip_oldest_first(store):
    job = make_job()
    store.create_job(job)
    older = Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=CONFIG,
                started_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    newer = Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=CONFIG,
                started_at=datetime(2025, 1, 2, tzinfo=timezone.utc), log=["ok"])
    store.put_run(newer)
    store.put_run(older)
    assert store.get_run(newer.run_id) == newer
    assert [r.run_id for r in store.list_runs(job.job_id)] == [older.run_id, newer.run_id]
    with pytest.raises(NotFound):
        store.get_run("nope")


def test_put_page_result_replaces_earlier_result_and_tokens(store):
    job = make_job()
    store.create_job(job)
    run = Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=CONFIG)
    store.put_run(run)

    first = PageResult(run_id=run.run_id, job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="und-Deva", word_count=3)
    store.put_page_result(first, [token(0, "old"), token(1, "words"), token(2, "here")])
    assert len(store.get_tokens(first.page_result_id)) == 3

    texts = ["श्रीः", "तुलसी", "विवाह", "विधिः", "Tulasi", "१२", "सम्", "vidhi"]
    tokens = [token(i, t, lang="en" if t.isascii() else None, conf=float(50 + i)) for i, t in enumerate(texts)]
    second = PageResult(run_id=run.run_id, job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="und-Deva",
                        word_count=len(tokens), mean_confidence=53.5, warnings=["assumed 300 dpi"])
    shuffled = tokens[:]
    random.Random(7).shuffle(shuffled)
    store.put_page_result(second, shuffled)

    assert store.get_tokens(first.page_result_id) == []
    results = store.list_page_results(job.job_id)
    assert results == [second]
    got = store.get_tokens(second.page_result_id)
    assert [t.token_no for t in got] == list(range(len(texts)))
    assert got == tokens
    for mine, theirs in zip(got, tokens):
        assert mine.model_dump() == theirs.model_dump()
    assert got[0].text == "श्रीः" and got[4].lang == "en" and got[0].lang is None


def test_page_results_of_other_runs_and_pages_are_kept(store):
    job = make_job()
    store.create_job(job)
    r1 = PageResult(run_id="run-a", job_id=job.job_id, page_no=2, config=CONFIG, lang_tag="en")
    r2 = PageResult(run_id="run-a", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="en")
    r3 = PageResult(run_id="run-b", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="en")
    for r in (r1, r2, r3):
        store.put_page_result(r, [token(0, "w")])
    results = store.list_page_results(job.job_id)
    assert sorted(r.page_result_id for r in results) == sorted([r1.page_result_id, r2.page_result_id, r3.page_result_id])
    assert [r.page_no for r in results] == [1, 1, 2]
    assert all(len(store.get_tokens(r.page_result_id)) == 1 for r in (r1, r2, r3))


# -- costs -----------------------------------------------------------------------------------

def cost(cost_id: str, job_id: str, units: float = 2.5, unit_cost: float = 0.00001, *, created_at: datetime | None = None,
         project_id: str | None = None) -> CostEntry:
    fields = {"created_at": created_at} if created_at else {}
    return CostEntry(cost_id=cost_id, job_id=job_id, project_id=project_id, page_no=1, engine="tesseract",
                     operation="ocr-extraction", provider="local", service="tesseract-local", units=units,
                     unit="vcpu_second", unit_cost_usd=unit_cost, total_usd=round(units * unit_cost, 9),
                     price_version="2026-11", response_ms=int(units * 1000), **fields)


def test_add_cost_is_idempotent_on_cost_id(store):
    first = cost("job1-p1-recognize", "job1")
    assert store.add_cost(first) is True
    assert store.add_cost(cost("job1-p1-recognize", "job1", units=9.0)) is False
    assert store.list_costs("job1") == [first]


def test_list_costs_keeps_insertion_order_per_job(store):
    ids = ["c3", "c1", "c2"]
    for cid in ids:
        assert store.add_cost(cost(cid, "jobA"))
    assert store.add_cost(cost("other", "jobB"))
    assert [c.cost_id for c in store.list_costs("jobA")] == ids
    assert [c.cost_id for c in store.list_costs("jobB")] == ["other"]
    assert store.list_costs("jobC") == []


def test_cost_entry_rejects_a_wrong_total():
    fields = dict(cost_id="c", job_id="j", engine="tesseract", operation="ocr-extraction", provider="local",
                  service="tesseract-local", units=2.0, unit="vcpu_second", unit_cost_usd=0.5, price_version="2026-11",
                  response_ms=2000)
    with pytest.raises(ValidationError, match="total_usd"):
        CostEntry(**fields, total_usd=1.5)
    ok = CostEntry(**fields, total_usd=1.0)
    assert ok.total_usd == 1.0 and ok.currency == "USD" and ok.status == "success"
    with pytest.raises(ValidationError, match="operation"):
        CostEntry(**{**fields, "operation": "recognize"}, total_usd=1.0)


LEGACY_COST = ('{"cost_id": "J:p1:recognize", "job_id": "J", "page_no": 1, "engine": "tesseract", "operation": "recognize", '
               '"units": 2.0, "unit": "vcpu_second", "unit_cost_usd": 0.5, "total_usd": 1.0, "duration_ms": 2000, '
               '"status": "ok", "created_at": "2026-10-01T12:00:00Z"}')
"""A cost entry as PageSage wrote it before price version 2026-11."""


def test_cost_entries_written_before_the_price_table_still_read():
    old = CostEntry.model_validate_json(LEGACY_COST)
    assert (old.operation, old.status, old.response_ms) == ("ocr-extraction", "success", 2000)
    assert (old.provider, old.service, old.price_version) == ("unknown", "unknown", "unversioned")
    assert old.total_usd == 1.0 and old.created_at == datetime(2026, 10, 1, 12, tzinfo=timezone.utc)


T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def test_query_costs_filters_by_job_project_and_time_oldest_first(store):
    # written out of time order, across two jobs and a project
    rows = [("a3", "jobA", 3, None), ("b1", "jobB", 1.5, "proj1"), ("a1", "jobA", 1, "proj1"), ("a2", "jobA", 2, None),
            ("b0", "jobB", 0, None)]
    for cid, job_id, hours, project in rows:
        assert store.add_cost(cost(cid, job_id, created_at=T0 + timedelta(hours=hours), project_id=project))
    ids = lambda entries: [c.cost_id for c in entries]  # noqa: E731
    assert ids(store.query_costs()) == ["b0", "a1", "b1", "a2", "a3"]
    assert ids(store.query_costs(job_id="jobA")) == ["a1", "a2", "a3"]
    assert ids(store.query_costs(project_id="proj1")) == ["a1", "b1"]
    assert ids(store.query_costs(job_id="jobA", project_id="proj1")) == ["a1"]
    # since inclusive, until exclusive
    assert ids(store.query_costs(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))) == ["a1", "b1", "a2"]
    assert ids(store.query_costs(job_id="jobA", since=T0 + timedelta(hours=2))) == ["a2", "a3"]
    assert ids(store.query_costs(job_id="jobB", until=T0 + timedelta(hours=1))) == ["b0"]
    assert ids(store.query_costs(job_id="jobA", limit=2)) == ["a1", "a2"]
    assert store.query_costs(job_id="jobC") == [] and store.query_costs(since=T0 + timedelta(days=1)) == []
    # an offset other than UTC means the same instant
    assert ids(store.query_costs(job_id="jobA", since=(T0 + timedelta(hours=2)).astimezone(timezone(timedelta(hours=5, minutes=30))))) == ["a2", "a3"]
    # the entries are returned whole
    assert store.query_costs(job_id="jobB", limit=1) == [cost("b0", "jobB", created_at=T0)]


def test_query_costs_pages_through_entries_of_the_same_instant(store):
    for cid in ("z", "m", "a"):
        store.add_cost(cost(cid, "jobA", created_at=T0))
    store.add_cost(cost("later", "jobA", created_at=T0 + timedelta(seconds=1)))
    got = [c.cost_id for c in store.query_costs(job_id="jobA")]
    assert sorted(got[:3]) == ["a", "m", "z"] and got[3] == "later"
    assert [c.cost_id for c in store.query_costs(job_id="jobA", limit=2)] == got[:2]


def test_query_costs_keeps_costs_of_deleted_jobs(store):
    job = make_job()
    store.create_job(job)
    store.add_cost(cost(f"{job.job_id}:p1:ocr-extraction", job.job_id, created_at=T0))
    store.delete_job(job.job_id)
    assert [c.job_id for c in store.query_costs(since=T0)] == [job.job_id]


def test_query_costs_refuses_naive_times_and_a_limit_below_one(store):
    from pagesage.errors import InputError

    with pytest.raises(InputError, match="since"):
        store.query_costs(since=datetime(2026, 11, 1))
    with pytest.raises(InputError, match="until"):
        store.query_costs(until=datetime(2026, 11, 1))
    with pytest.raises(InputError, match="limit"):
        store.query_costs(limit=0)


def test_sqlite_adds_the_query_columns_to_an_older_database(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the costs table as the first release created it
        db.execute("CREATE TABLE costs (cost_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL)")
        db.execute("INSERT INTO costs VALUES (?, ?, ?, ?)", ("J:p1:recognize", "J", 1, LEGACY_COST))
    db.close()
    store = SqliteStore(path)
    assert store.add_cost(cost("J:p1:ocr-extraction", "J", created_at=datetime(2026, 11, 2, tzinfo=timezone.utc)))
    assert [c.cost_id for c in store.query_costs(job_id="J")] == ["J:p1:recognize", "J:p1:ocr-extraction"]
    assert [c.cost_id for c in store.query_costs(since=datetime(2026, 11, 1, tzinfo=timezone.utc))] == ["J:p1:ocr-extraction"]
    assert [c.cost_id for c in SqliteStore(path).query_costs(until=datetime(2026, 11, 1, tzinfo=timezone.utc))] == ["J:p1:recognize"]
    with sqlite3.connect(path) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(costs)")}
    db.close()
    assert {"costs_by_time", "costs_by_job_time"} <= indexes


# -- counters --------------------------------------------------------------------------------

def test_increment_counter_counts_per_key(store):
    now = utcnow()
    later = now + timedelta(minutes=5)
    assert [store.increment_counter("k", later, now) for _ in range(3)] == [1, 2, 3]
    assert store.increment_counter("other", later, now) == 1
    assert store.increment_counter("k", later, now) == 4


def test_increment_counter_restarts_after_expiry(store):
    now = utcnow()
    expire_at = now + timedelta(seconds=60)
    assert [store.increment_counter("k", expire_at, now) for _ in range(3)] == [1, 2, 3]
    assert store.increment_counter("k", expire_at, expire_at - timedelta(seconds=1)) == 4
    new_expiry = expire_at + timedelta(seconds=60)
    assert store.increment_counter("k", new_expiry, expire_at) == 1  # expiry is `expire_at <= now`
    assert store.increment_counter("k", new_expiry, expire_at) == 2


def test_counter_with_expiry_already_past_restarts_every_time(store):
    now = utcnow()
    past = now - timedelta(seconds=1)
    assert store.increment_counter("stale", past, now) == 1
    assert store.increment_counter("stale", past, now) == 1


def test_concurrent_increments_are_atomic(store):
    now = utcnow()
    later = now + timedelta(minutes=5)
    seen: list[int] = []

    def bump(_: int) -> None:
        for _ in range(10):
            seen.append(store.increment_counter("hot", later, now))

    run_in_threads(6, bump)
    assert sorted(seen) == list(range(1, 61))


# -- expiry ----------------------------------------------------------------------------------

def test_purge_deletes_expired_jobs_with_their_records_and_blobs(store, tmp_path):
    from pagesage.adapters.local_blobs import LocalBlobStore
    from pagesage.services.expiry import purge_expired

    blobs = LocalBlobStore(tmp_path / "blobs")
    now = utcnow()
    old, fresh, running = make_job(), make_job(), make_job()
    for job, finished in ((old, now - timedelta(hours=49)), (fresh, now - timedelta(hours=47))):
        job.start(1, now=finished)
        job.complete(now=finished)
    for job in (old, fresh, running):
        store.create_job(job)
        store.put_pages([Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1)])
        for prefix in ("originals", "pages", "results"):
            blobs.put_bytes(f"{prefix}/{job.job_id}/x", b"1", "application/octet-stream")
    run = Run(job_id=old.job_id, engine="tesseract", engine_version="5.3.0", config=CONFIG)
    store.put_run(run)
    result = PageResult(run_id=run.run_id, job_id=old.job_id, page_no=1, config=CONFIG, lang_tag="und-Deva")
    store.put_page_result(result, [token(0, "राम")])

    assert purge_expired(store=store, blobs=blobs, now=now) == [old.job_id]
    assert store.list_pages(old.source_doc_id) == [] and store.list_runs(old.job_id) == []
    assert store.list_page_results(old.job_id) == [] and store.get_tokens(result.page_result_id) == []
    assert not any(blobs.exists(f"{p}/{old.job_id}/x") for p in ("originals", "pages", "results"))
    for job in (fresh, running):
        assert store.get_job(job.job_id).job_id == job.job_id
        assert all(blobs.exists(f"{p}/{job.job_id}/x") for p in ("originals", "pages", "results"))
    assert purge_expired(store=store, blobs=blobs, now=now) == []


# -- size limits, pagination and TTL ---------------------------------------------------------

def test_a_page_of_5000_words_with_long_text_round_trips_intact(store):
    job = make_job()
    store.create_job(job)
    words = ["तुलसीविवाहविधिः" * 16, "Commentary-on-the-verse" * 12, "॥१२॥", "x"]
    tokens = [token(i, words[i % len(words)] + str(i), conf=float(i % 100)) for i in range(5000)]
    result = PageResult(run_id="run", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="und-Deva", word_count=5000)
    store.put_page_result(result, tokens)
    assert sum(len(t.text.encode()) for t in tokens) > 1 << 20  # more than one Firestore document holds
    assert store.get_tokens(result.page_result_id) == tokens


def test_list_expired_jobs_pages_oldest_first(store):
    now = utcnow()
    jobs = []
    for hours in (60, 50, 70, 49, 10):
        job = make_job()
        job.start(1, now=now - timedelta(hours=hours))
        job.complete(now=now - timedelta(hours=hours))
        store.create_job(job)
        jobs.append((hours, job.job_id))
    store.create_job(make_job())  # never finished: never expires
    expected = [job_id for hours, job_id in sorted(jobs, reverse=True) if hours >= 48]
    assert store.list_expired_jobs(now, limit=2) == expected[:2]
    assert store.list_expired_jobs(now) == expected
    assert store.list_expired_jobs(now - timedelta(hours=20), limit=10) == expected[:1]


def test_racing_finishers_and_completion_never_move_the_job_backwards(store):
    job = started_job_with_pages(store, 12)
    completions: list[bool] = []

    def finish(i: int) -> None:
        page_no = i % 12 + 1  # every page reported by two workers at once
        after, _ = store.finish_page(Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=page_no, status=PageStatus.DONE))
        if after.pages_done == 12:
            try:
                store.update_job(job.job_id, lambda j: j.complete())
                completions.append(True)
            except InvalidTransition:
                completions.append(False)

    run_in_threads(24, finish)
    final = store.get_job(job.job_id)
    assert (final.status, final.pages_done, final.pages_failed) == (JobStatus.COMPLETED, 12, 0)
    assert completions.count(True) == 1


# -- Firestore only: documents as the TTL policy and the 1 MiB limit see them ------------------

@pytest.fixture
def firestore_store(firestore_host, firestore_db) -> FirestoreStore:
    emulators.reset_firestore(firestore_host)
    return FirestoreStore(firestore_db)


def test_firestore_tokens_go_in_few_chunk_documents_under_1_mib(firestore_store):
    from pagesage.adapters.token_chunks import CHUNK_BYTES, CHUNK_TOKENS

    job = make_job()
    firestore_store.create_job(job)
    tokens = [token(i, ("श्लोकः" * 40) + str(i)) for i in range(5000)]
    result = PageResult(run_id="run", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="und-Deva")
    firestore_store.put_page_result(result, tokens)
    chunks = list(firestore_db_chunks(firestore_store, result.page_result_id))
    assert 1 < len(chunks) <= 5000 // 250
    assert all(c["count"] <= CHUNK_TOKENS for c in chunks)
    assert [c["first_token_no"] for c in chunks] == sorted(c["first_token_no"] for c in chunks)
    assert sum(c["count"] for c in chunks) == 5000
    assert max(len(c["columns"].encode()) for c in chunks) <= CHUNK_BYTES < 1 << 20


def test_firestore_refuses_a_token_too_large_for_any_document(firestore_store):
    from pagesage.errors import InputError

    job = make_job()
    firestore_store.create_job(job)
    result = PageResult(run_id="run", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="en")
    with pytest.raises(InputError, match="token 1 takes"):
        firestore_store.put_page_result(result, [token(0, "ok"), token(1, "x" * 600_000)])
    assert firestore_store.list_page_results(job.job_id) == []


def firestore_db_chunks(store: FirestoreStore, page_result_id: str):
    ref = store.client.collection("page_results").document(page_result_id).collection("token_chunks")
    return (snap.to_dict() for snap in ref.order_by("first_token_no").stream())


def test_firestore_records_carry_expire_at_and_get_the_jobs_on_finish(firestore_store):
    job = started_job_with_pages(firestore_store, 2)
    run = Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=CONFIG)
    firestore_store.put_run(run)
    result = PageResult(run_id=run.run_id, job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="en")
    firestore_store.put_page_result(result, [token(0, "w")])
    client = firestore_store.client
    (chunk_id,) = client.collection("page_results").document(result.page_result_id).get().to_dict()["chunk_ids"]
    job_ref = client.collection("jobs").document(job.job_id)
    records = [client.collection("pages").document(page_id(job.source_doc_id, 1)),
               client.collection("pages").document(page_id(job.source_doc_id, 2)),
               client.collection("runs").document(run.run_id), client.collection("page_results").document(result.page_result_id),
               client.collection("page_results").document(result.page_result_id).collection("token_chunks").document(chunk_id)]
    assert job_ref.get().to_dict()["expire_at"] is None
    provisional = [ref.get().to_dict()["expire_at"] for ref in records]
    assert all(utcnow() + timedelta(days=6) < at < utcnow() + timedelta(days=8) for at in provisional)

    finished = firestore_store.update_job(job.job_id, lambda j: j.complete())
    assert job_ref.get().to_dict()["expire_at"] == finished.expiration_time
    assert [ref.get().to_dict()["expire_at"] for ref in records] == [finished.expiration_time] * len(records)
    counter = client.collection("rate_limits").document("k")
    window_end = utcnow() + timedelta(seconds=60)
    firestore_store.increment_counter("k", window_end, utcnow())
    assert counter.get().to_dict() == {"value": 1, "expire_at": window_end}


def test_firestore_reads_treat_expired_documents_not_yet_deleted_as_gone(firestore_store):
    job = started_job_with_pages(firestore_store, 1)
    firestore_store.update_job(job.job_id, lambda j: j.complete())
    later = utcnow() + timedelta(hours=49)
    future = FirestoreStore(firestore_store.client, clock=lambda: later)
    assert firestore_store.get_page(page_id(job.source_doc_id, 1)).page_no == 1
    with pytest.raises(NotFound):
        future.get_job(job.job_id)
    with pytest.raises(NotFound):
        future.get_page(page_id(job.source_doc_id, 1))
    assert future.list_pages(job.source_doc_id) == []


def test_a_word_followed_directly_by_the_next_keeps_that(store):
    job = make_job()
    store.create_job(job)
    words = [token(0, "DATE"), token(1, ":").model_copy(update={"space_after": True}), token(2, "01/01/1970")]
    words[0] = words[0].model_copy(update={"space_after": False})
    result = PageResult(run_id="run", job_id=job.job_id, page_no=1, config=CONFIG, lang_tag="en")
    store.put_page_result(result, words)
    assert [t.space_after for t in store.get_tokens(result.page_result_id)] == [False, True, True]

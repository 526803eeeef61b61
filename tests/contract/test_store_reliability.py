"""The Store contract for what keeps work from being lost or done twice, on both backends:
writes that commit together, page leases, stalled-job listing, reviews decided inside an
ingest's transaction, and records that always read back."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from factories import make_job

from pagesage.adapters.firestore_store import FirestoreStore
from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, utcnow
from pagesage.domain.pages import EngineConfig, Page, PageResult, PageStatus, Run
from pagesage.domain.provenance import Review, ReviewStatus, SourceDoc, SourceKind
from pagesage.errors import InputError, InvalidTransition, NotFound, ValidationFailed


def doc(**fields) -> SourceDoc:
    return SourceDoc(**{"kind": SourceKind.PDF, "title": "Raghuvamsa", **fields})


def pages_of(doc_: SourceDoc, count: int, **fields) -> list[Page]:
    return [Page(source_doc_id=doc_.source_doc_id, page_no=n, status=PageStatus.DONE, width=2000, height=3000, **fields)
            for n in range(1, count + 1)]


# -- writes that commit together ---------------------------------------------------------------

def test_a_job_and_its_source_doc_are_created_together_or_not_at_all(store):
    job = make_job()
    source = doc(source_doc_id=job.source_doc_id, job_id=job.job_id)
    store.create_job(job, source)
    assert store.get_job(job.job_id).updated_at is not None
    assert store.get_source_doc(source.source_doc_id).job_id == job.job_id

    other = make_job()
    clash = doc(source_doc_id=source.source_doc_id, job_id=other.job_id)  # its source doc id is taken
    with pytest.raises(InvalidTransition):
        store.create_job(other, clash)
    with pytest.raises(NotFound):
        store.get_job(other.job_id)


def remote_job() -> tuple[Job, SourceDoc]:
    job = Job(source_uri="s3://scans/books/raghuvamsa.pdf", languages="san")
    return job, doc(kind=SourceKind.REMOTE_URL, uri=job.source_uri, source_doc_id=job.source_doc_id, job_id=job.job_id)


def fetched_upload(job: Job) -> DocumentUpload:
    return DocumentUpload(file_name="raghuvamsa.pdf", file_format=FileFormat.PDF, file_size=1234, content_type="application/pdf",
                          sha256="a" * 64, original_key=f"originals/{job.job_id}/original.pdf")


def test_a_fetched_source_is_written_on_its_job_and_source_doc_together(store):
    job, source = remote_job()
    store.create_job(job, source)
    assert store.get_job(job.job_id).upload is None and store.get_job(job.job_id).file_name == "raghuvamsa.pdf"
    upload = fetched_upload(job)
    fetched = source.model_copy(update={"sha256": "a" * 64, "file_size": 1234, "etag": '"e1"', "generation": "7",
                                        "fetched_at": utcnow()})
    store.update_job(job.job_id, lambda j: j.receive(upload), source_doc=fetched)
    assert store.get_job(job.job_id).upload == upload
    assert store.get_source_doc(source.source_doc_id) == fetched

    with pytest.raises(InvalidTransition):  # received already: neither record changes
        store.update_job(job.job_id, lambda j: j.receive(upload), source_doc=fetched.model_copy(update={"etag": '"e2"'}))
    assert store.get_source_doc(source.source_doc_id).etag == '"e1"'


def test_a_source_doc_of_another_job_is_not_written_with_a_job(store):
    job, source = remote_job()
    other, other_source = remote_job()
    store.create_job(job, source)
    store.create_job(other, other_source)
    with pytest.raises(InputError):
        store.update_job(job.job_id, lambda j: j.receive(fetched_upload(j)), source_doc=other_source.model_copy(update={"etag": "x"}))
    assert store.get_job(job.job_id).upload is None and store.get_source_doc(other_source.source_doc_id).etag is None


@pytest.mark.parametrize("count", [3, 620], ids=["one-commit", "more-than-one-commit"])
def test_a_source_doc_and_its_pages_are_written_together(store, count):
    source = doc()
    store.create_source_doc(source, pages_of(source, count))
    assert [p.page_no for p in store.list_pages(source.source_doc_id)] == list(range(1, count + 1))

    again = doc(source_doc_id=source.source_doc_id, title="another")
    others = [p.model_copy(update={"source_doc_id": "orphan-doc"}) for p in pages_of(again, count)]
    with pytest.raises(InvalidTransition):
        store.create_source_doc(again, others)
    assert store.list_pages("orphan-doc") == []  # the pages written before the refused document are gone
    assert store.get_source_doc(source.source_doc_id).title == "Raghuvamsa"


def test_a_run_and_its_page_results_are_written_together(store):
    source = doc()
    store.create_source_doc(source, pages_of(source, 2))
    run = Run(source_doc_id=source.source_doc_id, engine="outside", engine_version="1", config=EngineConfig(languages="san"))
    results = [PageResult(run_id=run.run_id, source_doc_id=source.source_doc_id, page_no=n, config=run.config, lang_tag="sa")
               for n in (1, 2)]
    store.create_run(run, results)
    assert store.get_run(run.run_id).engine == "outside"
    assert [store.get_page_result(r.page_result_id).word_count for r in results] == [0, 0]

    again = Run(run_id=run.run_id, source_doc_id=source.source_doc_id, engine="x", engine_version="1", config=run.config)
    fresh = PageResult(run_id=run.run_id, source_doc_id=source.source_doc_id, page_no=1, config=run.config, lang_tag="sa")
    with pytest.raises(InvalidTransition):
        store.create_run(again, [fresh])
    with pytest.raises(NotFound):
        store.get_page_result(fresh.page_result_id)
    assert store.get_run(run.run_id).engine == "outside"


# -- page leases -------------------------------------------------------------------------------

def job_page(store) -> tuple:
    job = make_job()
    job.start(1)
    store.create_job(job, doc(source_doc_id=job.source_doc_id, job_id=job.job_id))
    page = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1)
    store.put_pages([page])
    return job, page


def test_a_page_is_claimed_by_one_worker_until_its_lease_expires(store):
    job, page = job_page(store)
    now = utcnow()
    assert store.claim_page(page.page_id, "worker-a", now + timedelta(minutes=5), now)
    assert not store.claim_page(page.page_id, "worker-b", now + timedelta(minutes=5), now)
    assert store.claim_page(page.page_id, "worker-a", now + timedelta(minutes=6), now)  # the holder again
    later = now + timedelta(minutes=7)
    assert store.claim_page(page.page_id, "worker-b", later + timedelta(minutes=5), later)  # expired: b takes it
    held = store.get_page(page.page_id)
    assert held.lease_owner == "worker-b" and held.status is PageStatus.PENDING

    store.release_page(page.page_id, "worker-a")  # not a's lease any more: left alone
    assert store.get_page(page.page_id).lease_owner == "worker-b"
    store.release_page(page.page_id)
    assert store.get_page(page.page_id).lease_owner is None
    assert store.claim_page(page.page_id, "worker-c", later + timedelta(minutes=5), later)

    updated, changed = store.finish_page(held.model_copy(update={"status": PageStatus.DONE}))
    assert changed and updated.pages_done == 1
    finished = store.get_page(page.page_id)
    assert finished.status is PageStatus.DONE and finished.lease_owner is None and finished.lease_until is None
    assert not store.claim_page(page.page_id, "worker-c", later + timedelta(minutes=5), later)  # done: nobody
    with pytest.raises(NotFound):
        store.claim_page("no-such-doc_p1", "worker-a", later, later)


def test_concurrent_claims_of_one_page_admit_exactly_one(store):
    _, page = job_page(store)
    now = utcnow()
    won: list[str] = []
    barrier = threading.Barrier(4)

    def claim(name: str) -> None:
        barrier.wait()
        if store.claim_page(page.page_id, name, now + timedelta(minutes=5), now):
            won.append(name)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1 and store.get_page(page.page_id).lease_owner == won[0]


# -- stalled jobs ------------------------------------------------------------------------------

def test_stalled_jobs_are_the_unfinished_ones_not_written_since(store):
    pending, processing, done = make_job(), make_job(), make_job()
    for job in (pending, processing, done):
        store.create_job(job)
    store.update_job(processing.job_id, lambda j: j.start(2))
    store.update_job(done.job_id, lambda j: j.start(1))
    store.update_job(done.job_id, lambda j: j.complete())
    later = utcnow() + timedelta(seconds=5)
    assert {j.job_id for j in store.list_stalled_jobs(later)} == {pending.job_id, processing.job_id}
    assert store.list_stalled_jobs(utcnow() - timedelta(hours=1)) == []
    stamped = store.update_job(pending.job_id, lambda j: None).updated_at  # any write is progress
    assert pending.job_id not in {j.job_id for j in store.list_stalled_jobs(stamped - timedelta(microseconds=1))}
    assert [j.job_id for j in store.list_stalled_jobs(later, limit=1)] in ([processing.job_id], [pending.job_id])


# -- reviews decided inside an ingest ----------------------------------------------------------

def registered(store) -> str:
    source = doc()
    store.create_source_doc(source, pages_of(source, 1))
    run = Run(source_doc_id=source.source_doc_id, engine="outside", engine_version="1", config=EngineConfig(languages="san"))
    result = PageResult(run_id=run.run_id, source_doc_id=source.source_doc_id, page_no=1, config=run.config, lang_tag="sa")
    store.create_run(run, [result])
    return result.page_result_id


def test_an_ingest_decides_its_review_on_the_stored_one(store):
    rid = registered(store)
    store.update_review(rid, lambda _: Review(page_result_id=rid, review_status=ReviewStatus.APPROVED))
    seen: list[Review | None] = []

    def reopen(current: Review | None) -> Review:
        seen.append(current)
        changed = current.model_copy(deep=True)
        changed.change(ReviewStatus.REJECTED)  # approved -> rejected is not allowed
        return changed

    with pytest.raises(InvalidTransition):
        store.ingest(rid, mode="append", tokens=None, review=reopen, links=None)
    assert seen[-1].review_status is ReviewStatus.APPROVED
    assert store.get_review(rid).review_status is ReviewStatus.APPROVED


def test_a_review_change_racing_an_ingest_is_kept(store):
    """Writer A ingests with a review change and is slow to decide it; writer B changes the
    review meanwhile. Both changes survive: A decides again on B's review (Firestore: its
    conditioned commit fails and it reads again) or B waits for A (SQLite's write lock)."""
    rid = registered(store)
    store.update_review(rid, lambda _: Review(page_result_id=rid))
    a_deciding, b_done = threading.Event(), threading.Event()
    calls: list[int] = []

    def a_change(current: Review) -> Review:
        calls.append(current.version)
        a_deciding.set()
        b_done.wait(2)
        return current.model_copy(update={"approved_text": "A's text", "version": current.version + 1})

    def b() -> None:
        a_deciding.wait(10)
        store.update_review(rid, lambda current: current.model_copy(update={"review_note": "B's note",
                                                                             "version": current.version + 1}))
        b_done.set()

    thread = threading.Thread(target=b)
    thread.start()
    store.ingest(rid, mode="append", tokens=None, review=a_change, links=None)
    thread.join(30)
    final = store.get_review(rid)
    assert (final.approved_text, final.review_note, final.version) == ("A's text", "B's note", 3)
    if isinstance(store, FirestoreStore):
        assert calls == [1, 2]  # decided again on B's review


# -- what is written reads back ----------------------------------------------------------------

def test_a_record_that_would_not_read_back_is_refused_and_nothing_written(store):
    source = doc()
    bad = source.model_copy(update={"title": ""})  # model_copy skips validation; the store does not
    with pytest.raises(ValidationFailed) as refused:
        store.create_source_doc(bad)
    assert refused.value.field == "title"
    with pytest.raises(NotFound):
        store.get_source_doc(source.source_doc_id)

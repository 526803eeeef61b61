"""The provenance part of the Store contract, run on both backends (SqliteStore on a real
database file, FirestoreStore on the real Firestore emulator): source documents and their
listing, pages by document, results by page, ingest of tokens/review/links, reviews, links, and
what replacing and deleting takes with it."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

import pytest
from factories import make_job
from test_store import CONFIG, run_in_threads, started_job_with_pages, token

from pagesage.adapters.cursors import encode_cursor
from pagesage.adapters.firestore_store import FirestoreStore
from pagesage.adapters.firestore_writes import COMMIT_BYTES
from pagesage.adapters.token_chunks import token_chunks
from pagesage.domain.jobs import utcnow
from pagesage.domain.pages import Page, PageResult, Run, Token, page_id
from pagesage.domain.provenance import Link, Review, ReviewStatus, SourceDoc, SourceKind
from pagesage.errors import InputError, InvalidTransition, NotFound

T0 = datetime(2026, 11, 1, 9, 0, 0, 123457, tzinfo=timezone.utc)


def replacing(review):
    """An ingest's review change that replaces whatever review is stored with `review`."""
    return lambda _current: review


def source(title: str = "Tulasi-vivaha", *, job_id: str | None = None, created_at: datetime | None = None, **fields) -> SourceDoc:
    extra = {"created_at": created_at} if created_at else {}
    return SourceDoc(kind=SourceKind.PDF, title=title, job_id=job_id, sha256="a" * 64, metadata={"shelf": "B-12", "year": 1911},
                     **extra, **fields)


def registered_result(store, *, source_doc_id: str = "doc-1", page_no: int = 1, run_id: str = "run-a",
                      tokens: list[Token] | None = None, created_at: datetime | None = None) -> PageResult:
    """A page result of a registered document (no job), stored with `tokens`."""
    extra = {"created_at": created_at} if created_at else {}
    result = PageResult(run_id=run_id, source_doc_id=source_doc_id, page_no=page_no, config=CONFIG, lang_tag="und-Deva",
                        word_count=len(tokens or []), **extra)
    store.put_page_result(result, tokens or [])
    return result


def tokens_from(start: int, confidences: list[float], prefix: str = "w") -> list[Token]:
    return [token(start + i, f"{prefix}{start + i}", conf=c) for i, c in enumerate(confidences)]


def link(page_result_id: str, entry: str, **fields) -> Link:
    return Link(page_result_id=page_result_id, fk_entry_id=entry, link_conf=fields.pop("link_conf", 90.0), **fields)


def leftovers(store, page_result_id: str) -> dict[str, int]:
    """Firestore: documents under a page result that it does not publish (0 each when clean);
    SQLite keeps nothing outside its rows, so {}."""
    if not isinstance(store, FirestoreStore):
        return {}
    ref = store.client.collection("page_results").document(page_result_id)
    data = ref.get().to_dict() or {}
    chunks = {s.id for s in ref.collection("token_chunks").stream()}
    batches = set(data.get("link_batches") or [])
    return {"chunks": len(chunks - set(data.get("chunk_ids") or [])),
            "links": sum(1 for s in ref.collection("links").stream() if s.get("batch") not in batches)}


def subdocuments(store, page_result_id: str) -> int:
    """Firestore: every document left under a page result's path, itself included (0 after a
    delete); SQLite: 0."""
    if not isinstance(store, FirestoreStore):
        return 0
    ref = store.client.collection("page_results").document(page_result_id)
    return int(ref.get().exists) + sum(1 for c in ref.collections() for _ in c.stream())


# -- source documents ------------------------------------------------------------------------

def test_source_doc_create_get_duplicate_and_unknown(store):
    doc = source(uri="gs://bucket-x/scans/tulasi.pdf")
    store.create_source_doc(doc)
    got = store.get_source_doc(doc.source_doc_id)
    assert got == doc and got is not doc
    assert got.metadata == {"shelf": "B-12", "year": 1911} and got.created_at == doc.created_at

    with pytest.raises(InvalidTransition):
        store.create_source_doc(source("Another title", source_doc_id=doc.source_doc_id))
    assert store.get_source_doc(doc.source_doc_id).title == "Tulasi-vivaha"
    for unknown in ("x" * 22, "a/b"):
        with pytest.raises(NotFound):
            store.get_source_doc(unknown)


def test_list_source_docs_pages_in_a_stable_order_without_gaps(store):
    # created out of order; three share one instant (ordered by id), microseconds matter
    instants = [T0 + timedelta(seconds=5), T0, T0 + timedelta(microseconds=1), T0, T0 + timedelta(hours=2), T0,
                T0 - timedelta(days=3)]
    docs = [source(f"doc {n}", created_at=at) for n, at in enumerate(instants)]
    for doc in docs:
        store.create_source_doc(doc)
    expected = [d.source_doc_id for d in sorted(docs, key=lambda d: (d.created_at, d.source_doc_id))]

    for limit, sizes in ((2, [2, 2, 2, 1]), (1, [1] * 7), (3, [3, 3, 1]), (7, [7]), (50, [7])):
        seen, cursor, pages = [], None, []
        while True:
            page, cursor = store.list_source_docs(limit, cursor)
            pages.append(len(page))
            seen += [d.source_doc_id for d in page]
            if cursor is None:
                break
        assert seen == expected, limit
        assert pages == sizes, limit
    # the same cursor gives the same page again
    first, cursor = store.list_source_docs(2)
    assert store.list_source_docs(2, cursor) == store.list_source_docs(2, cursor)
    assert [d.source_doc_id for d in store.list_source_docs(2, cursor)[0]] == expected[2:4]
    assert first[0] == next(d for d in docs if d.source_doc_id == expected[0])


def test_list_source_docs_refuses_cursors_it_did_not_issue_and_a_limit_below_one(store):
    store.create_source_doc(source())
    import base64

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for cursor in ("%%%not-base64%%%", b64(b"not json"), b64(b'{"a": 1}'), b64(b'[1, 2, 3]'), b64(b'["x", "y"]'),
                   b64(b'[NaN, "abc"]'), b64(b'[1e300, "abc"]'), b64(b'[1.0, ""]'), b64(b'[true, "abc"]'), "AAAA"):
        with pytest.raises(InputError) as caught:
            store.list_source_docs(10, cursor)
        assert caught.value.error_code == "invalid_cursor", cursor
    with pytest.raises(InputError):
        store.list_source_docs(0)


def test_a_jobs_source_doc_is_gone_once_its_job_expired_and_pages_stay_full(store):
    now = utcnow()
    expired, fresh, running = make_job(), make_job(), make_job()
    for job, hours in ((expired, 49), (fresh, 47)):
        job.start(1, now=now - timedelta(hours=hours))
        job.complete(now=now - timedelta(hours=hours))
    for job in (expired, fresh, running):
        store.create_job(job)
    # dead documents between live ones, in listing order
    dead = [source("expired job", job_id=expired.job_id, source_doc_id=expired.source_doc_id, created_at=T0),
            source("no such job", job_id="job-that-never-was", created_at=T0 + timedelta(seconds=2)),
            source("expired job, 2nd", job_id=expired.job_id, created_at=T0 + timedelta(seconds=4))]
    live = [source("registered 1", created_at=T0 + timedelta(seconds=1)),
            source("fresh job", job_id=fresh.job_id, source_doc_id=fresh.source_doc_id, created_at=T0 + timedelta(seconds=3)),
            source("running job", job_id=running.job_id, source_doc_id=running.source_doc_id, created_at=T0 + timedelta(seconds=5)),
            source("registered 2", created_at=T0 + timedelta(seconds=6)),
            source("registered 3", created_at=T0 + timedelta(seconds=7))]
    for doc in dead + live:
        store.create_source_doc(doc)

    for doc in dead:
        with pytest.raises(NotFound):
            store.get_source_doc(doc.source_doc_id)
    for doc in live:
        assert store.get_source_doc(doc.source_doc_id) == doc
    pages, cursor = [], None
    while True:
        page, cursor = store.list_source_docs(2, cursor)
        pages.append([d.title for d in page])
        if cursor is None:
            break
    assert pages == [["registered 1", "fresh job"], ["running job", "registered 2"], ["registered 3"]]


def test_a_jobs_records_are_all_gone_after_delete_job(store):
    job = started_job_with_pages(store, 2)
    doc = source("upload", job_id=job.job_id, source_doc_id=job.source_doc_id)
    store.create_source_doc(doc)
    run = Run(job_id=job.job_id, source_doc_id=doc.source_doc_id, engine="tesseract", engine_version="5.3.0", config=CONFIG)
    store.put_run(run)
    result = PageResult(run_id=run.run_id, job_id=job.job_id, source_doc_id=doc.source_doc_id, page_no=1, config=CONFIG, lang_tag="en")
    store.put_page_result(result, tokens_from(0, [80, 90]))
    store.ingest(result.page_result_id, mode="append", tokens=tokens_from(2, [70]),
                 review=replacing(Review(page_result_id=result.page_result_id, approved_text="w0 w1 w2")),
                 links=[link(result.page_result_id, "mw:1"), link(result.page_result_id, "mw:2")])
    other = registered_result(store, tokens=tokens_from(0, [50]))
    store.ingest(other.page_result_id, mode="append", tokens=None, review=replacing(Review(page_result_id=other.page_result_id)),
                 links=[link(other.page_result_id, "mw:9")])
    assert len(store.list_links(result.page_result_id)) == 2 and store.get_review(result.page_result_id) is not None

    store.delete_job(job.job_id)
    with pytest.raises(NotFound):
        store.get_source_doc(doc.source_doc_id)
    with pytest.raises(NotFound):
        store.get_page(page_id(doc.source_doc_id, 1))
    with pytest.raises(NotFound):
        store.get_page_result(result.page_result_id)
    with pytest.raises(NotFound):
        store.get_run(run.run_id)
    assert store.list_pages(doc.source_doc_id) == [] and store.list_results_for_page(doc.source_doc_id, 1) == []
    assert store.get_tokens(result.page_result_id) == [] and store.get_review(result.page_result_id) is None
    assert store.list_links(result.page_result_id) == [] and store.list_source_docs(10) == ([], None)
    assert subdocuments(store, result.page_result_id) == 0
    # a registered document's records are not the job's
    assert [t.text for t in store.get_tokens(other.page_result_id)] == ["w0"]
    assert store.get_review(other.page_result_id) is not None and len(store.list_links(other.page_result_id)) == 1


# -- pages and results by page -----------------------------------------------------------------

def test_pages_are_listed_by_source_document(store):
    store.put_pages([Page(source_doc_id="doc-b", page_no=n, width=100 * n) for n in (3, 1, 2)])
    store.put_pages([Page(source_doc_id="doc-a", page_no=1)])
    assert [(p.page_no, p.width) for p in store.list_pages("doc-b")] == [(1, 100), (2, 200), (3, 300)]
    assert [p.page_id for p in store.list_pages("doc-a")] == ["doc-a_p1"]
    assert store.get_page("doc-b_p2") == Page(source_doc_id="doc-b", page_no=2, width=200)
    store.put_pages([Page(source_doc_id="doc-b", page_no=2, width=999)])  # replaced by page_id
    assert [p.width for p in store.list_pages("doc-b")] == [100, 999, 300]
    assert store.list_pages("doc-c") == []


def test_results_for_a_page_are_every_runs_oldest_first(store):
    newer = registered_result(store, run_id="run-2", tokens=tokens_from(0, [60, 70], "new"), created_at=T0 + timedelta(minutes=5))
    older = registered_result(store, run_id="run-1", tokens=tokens_from(0, [80, 90, 85], "old"), created_at=T0)
    registered_result(store, run_id="run-1", page_no=2, tokens=tokens_from(0, [50]))
    registered_result(store, run_id="run-3", source_doc_id="doc-2", tokens=tokens_from(0, [50]))

    assert store.list_results_for_page("doc-1", 1) == [older, newer]
    assert [r.run_id for r in store.list_results_for_page("doc-1", 2)] == ["run-1"]
    assert store.list_results_for_page("doc-1", 3) == [] and store.list_results_for_page("doc-9", 1) == []
    # the second run's result left the first's tokens alone
    assert [t.text for t in store.get_tokens(older.page_result_id)] == ["old0", "old1", "old2"]
    assert [t.text for t in store.get_tokens(newer.page_result_id)] == ["new0", "new1"]
    assert store.get_page_result(older.page_result_id) == older
    with pytest.raises(NotFound):
        store.get_page_result("no-such-result")


# -- ingest ------------------------------------------------------------------------------------

def test_ingest_replace_and_append_keep_tokens_contiguous_and_counts_right(store):
    result = registered_result(store, tokens=tokens_from(0, [10, 20, 30]))
    rid = result.page_result_id

    after = store.ingest(rid, mode="append", tokens=tokens_from(3, [40, 50, 60]), review=None, links=None)
    assert (after.word_count, after.mean_confidence) == (6, 35.0)
    assert store.get_page_result(rid) == after
    assert [t.token_no for t in store.get_tokens(rid)] == list(range(6))
    assert [t.text for t in store.get_tokens(rid)] == [f"w{i}" for i in range(6)]

    after = store.ingest(rid, mode="replace", tokens=tokens_from(0, [81, 90], "r"), review=None, links=None)
    assert (after.word_count, after.mean_confidence) == (2, 85.5)
    assert [t.text for t in store.get_tokens(rid)] == ["r0", "r1"]

    # out of order within the call is fine; the mean is rounded to 2 decimals
    after = store.ingest(rid, mode="append", tokens=tokens_from(2, [10, 10, 11])[::-1], review=None, links=None)
    assert (after.word_count, after.mean_confidence) == (5, round((81 + 90 + 10 + 10 + 11) / 5, 2))
    assert [t.token_no for t in store.get_tokens(rid)] == list(range(5))
    assert store.get_tokens(rid) == tokens_from(0, [81, 90], "r") + tokens_from(2, [10, 10, 11])

    after = store.ingest(rid, mode="replace", tokens=[], review=None, links=None)
    assert (after.word_count, after.mean_confidence) == (0, None) and store.get_tokens(rid) == []
    after = store.ingest(rid, mode="append", tokens=tokens_from(0, [42]), review=None, links=None)
    assert (after.word_count, after.mean_confidence) == (1, 42.0)
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_an_append_at_the_wrong_start_changes_nothing(store):
    result = registered_result(store, tokens=tokens_from(0, [10, 20, 30]))
    rid = result.page_result_id
    review = Review(page_result_id=rid, approved_text="first", review_note="n")
    links = [link(rid, "mw:1"), link(rid, "mw:2", link_conf=55.5, token_start=0, token_end=1)]
    store.ingest(rid, mode="append", tokens=None, review=replacing(review), links=links)
    before = (store.get_page_result(rid), store.get_tokens(rid), store.get_review(rid), store.list_links(rid))

    for start in (2, 4, 0):
        with pytest.raises(InvalidTransition):
            store.ingest(rid, mode="append", tokens=tokens_from(start, [99, 99]),
                         review=replacing(Review(page_result_id=rid, approved_text="second", version=2)),
                         links=[link(rid, "mw:3")])
        assert (store.get_page_result(rid), store.get_tokens(rid), store.get_review(rid), store.list_links(rid)) == before
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_ingest_links_replace_versus_append_and_review_replaced(store):
    rid = registered_result(store, tokens=tokens_from(0, [50, 60])).page_result_id
    a, b, c, d = (link(rid, f"mw:{n}", link_conf=float(n)) for n in (1, 2, 3, 4))
    first = Review(page_result_id=rid, approved_text="w0 w1", reviewed_by="asha")
    store.ingest(rid, mode="append", tokens=None, review=replacing(first), links=[a, b])
    store.ingest(rid, mode="append", tokens=None, review=None, links=[c])
    assert store.list_links(rid) == [a, b, c]
    assert store.get_review(rid) == first

    second = Review(page_result_id=rid, review_status=ReviewStatus.APPROVED, approved_text="w0 w1!",
                    reviewed_by={"source": "pipeline", "run": "v1"}, version=2)
    store.ingest(rid, mode="replace", tokens=None, review=replacing(second), links=[d])
    assert store.list_links(rid) == [d]
    assert store.get_review(rid) == second
    assert [t.text for t in store.get_tokens(rid)] == ["w0", "w1"]  # tokens not given: kept

    # links not given: kept; an empty list replaces them with none; appending nothing is a no-op
    store.ingest(rid, mode="replace", tokens=tokens_from(0, [70]), review=None, links=None)
    assert store.list_links(rid) == [d]
    store.ingest(rid, mode="append", tokens=None, review=None, links=[])
    assert store.list_links(rid) == [d]
    store.ingest(rid, mode="replace", tokens=None, review=None, links=[])
    assert store.list_links(rid) == []
    assert store.get_review(rid) == second
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_ingest_refuses_duplicate_links_foreign_records_gaps_and_unknown_results(store):
    rid = registered_result(store, tokens=tokens_from(0, [50])).page_result_id
    a = link(rid, "mw:1")
    store.ingest(rid, mode="append", tokens=None, review=None, links=[a])
    with pytest.raises(InvalidTransition):  # the page result has it already
        store.ingest(rid, mode="append", tokens=tokens_from(1, [60]), review=None, links=[link(rid, "mw:2", link_id=a.link_id)])
    with pytest.raises(InvalidTransition):  # twice in one call
        store.ingest(rid, mode="replace", tokens=None, review=None, links=[link(rid, "mw:2", link_id="L1"), link(rid, "mw:3", link_id="L1")])
    with pytest.raises(InputError):
        store.ingest(rid, mode="append", tokens=None, review=None, links=[link("another-result", "mw:2")])
    with pytest.raises(InputError):
        store.ingest(rid, mode="append", tokens=None, review=replacing(Review(page_result_id="another-result")), links=None)
    with pytest.raises(InputError):
        store.ingest(rid, mode="append", tokens=[token(1, "a"), token(3, "b")], review=None, links=None)
    with pytest.raises(InputError):
        store.ingest(rid, mode="replace", tokens=[token(0, "a"), token(0, "b")], review=None, links=None)
    assert store.list_links(rid) == [a] and [t.text for t in store.get_tokens(rid)] == ["w0"]
    assert store.get_page_result(rid).word_count == 1
    # a link replaced by one of the same link_id is fine
    store.ingest(rid, mode="replace", tokens=None, review=None, links=[a])
    assert store.list_links(rid) == [a]
    with pytest.raises(NotFound):
        store.ingest("no-such-result", mode="append", tokens=tokens_from(0, [1]), review=None, links=None)
    assert store.get_tokens("no-such-result") == [] and store.list_links("no-such-result") == []
    assert store.get_review("no-such-result") is None
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_an_ingest_of_10000_tokens_in_one_call_round_trips(store):
    words = ["तुलसीविवाहविधिः" * 6, "Commentary-on-the-verse" * 8, "॥१२॥" * 8, "सम्" * 20]
    tokens = [token(i, words[i % len(words)] + str(i), conf=float(i % 97)) for i in range(10_000)]
    if isinstance(store, FirestoreStore):  # more than one commit of chunks
        assert sum(c["bytes"] for c in token_chunks(tokens)) > COMMIT_BYTES
    rid = registered_result(store, tokens=tokens_from(0, [5])).page_result_id

    after = store.ingest(rid, mode="replace", tokens=tokens, review=replacing(Review(page_result_id=rid)), links=None)
    assert after.word_count == 10_000
    assert after.mean_confidence == round(statistics.fmean(t.confidence for t in tokens), 2)
    assert store.get_tokens(rid) == tokens
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_concurrent_appends_at_the_same_start_one_wins(store):
    rid = registered_result(store, tokens=tokens_from(0, [50, 50])).page_result_id
    expected = tokens_from(0, [50, 50])
    for round_no in range(3):
        start = len(expected)
        outcomes: dict[int, str] = {}
        batches = {i: tokens_from(start, [float(10 * i + round_no)] * 3, prefix=f"t{i}-") for i in range(2)}

        def append(i: int) -> None:
            try:
                store.ingest(rid, mode="append", tokens=batches[i], review=None, links=[link(rid, f"mw:{round_no}-{i}")])
                outcomes[i] = "won"
            except InvalidTransition:
                outcomes[i] = "refused"

        run_in_threads(2, append)
        assert sorted(outcomes.values()) == ["refused", "won"]
        winner = next(i for i, o in outcomes.items() if o == "won")
        expected += batches[winner]
        assert store.get_tokens(rid) == expected
        assert store.get_page_result(rid).word_count == len(expected)
        assert [lk.fk_entry_id for lk in store.list_links(rid)][-1] == f"mw:{round_no}-{winner}"
    assert len(store.list_links(rid)) == 3
    assert leftovers(store, rid) in ({}, {"chunks": 0, "links": 0})


def test_readers_never_see_half_an_ingest(store):
    rid = registered_result(store).page_result_id
    appends, size = 6, 2_100  # each append is two token chunks on Firestore (2,000 + 100)
    done = []
    observed: list[tuple[int, int]] = []

    def work(i: int) -> None:
        if i == 0:
            for n in range(appends):
                store.ingest(rid, mode="append", tokens=[token(n * size + k, f"a{n}") for k in range(size)], review=None,
                             links=[link(rid, f"mw:{n}-{k}") for k in range(3)])
            done.append(True)
            return
        while not done:
            tokens = store.get_tokens(rid)
            assert [t.token_no for t in tokens] == list(range(len(tokens)))
            observed.append((len(tokens), len(store.list_links(rid))))

    run_in_threads(3, work)  # one writer, two readers
    assert len({tokens for tokens, _ in observed}) >= 3, "the readers read while the writer appended"
    assert all(tokens % size == 0 and links % 3 == 0 for tokens, links in observed), sorted(set(observed))
    assert len(store.get_tokens(rid)) == appends * size and len(store.list_links(rid)) == appends * 3


# -- reviews -----------------------------------------------------------------------------------

def test_update_review_applies_transitions_and_a_raising_mutate_writes_nothing(store):
    rid = registered_result(store, tokens=tokens_from(0, [50])).page_result_id
    seen: list[Review | None] = []

    def open_review(current: Review | None) -> Review:
        seen.append(current)
        return Review(page_result_id=rid, approved_text="draft")

    created = store.update_review(rid, open_review)
    assert seen == [None] and store.get_review(rid) == created and created.version == 1

    def approve(current: Review | None) -> Review:
        current.change(ReviewStatus.APPROVED)
        current.version += 1
        return current

    approved = store.update_review(rid, approve)
    assert (approved.review_status, approved.version) == (ReviewStatus.APPROVED, 2)
    assert store.get_review(rid) == approved

    def back_to_pending(current: Review | None) -> Review:
        current.approved_text = "changed"
        current.version += 1
        current.change(ReviewStatus.PENDING)  # approved -> pending is not allowed
        return current

    with pytest.raises(InvalidTransition):
        store.update_review(rid, back_to_pending)

    def boom(current: Review | None) -> Review:
        current.review_note = "half done"
        raise RuntimeError("mutate failed")

    with pytest.raises(RuntimeError, match="mutate failed"):
        store.update_review(rid, boom)
    assert store.get_review(rid) == approved

    reopened = store.update_review(rid, lambda r: r.model_copy(update={"review_status": ReviewStatus.NEEDS_REWORK, "version": r.version + 1}))
    assert store.get_review(rid) == reopened and reopened.version == 3

    with pytest.raises(InputError):  # a review of another page result
        store.update_review(rid, lambda r: r.model_copy(update={"page_result_id": "another-result", "version": 9}))
    with pytest.raises(InputError):
        store.ingest(rid, mode="merge", tokens=None, review=None, links=None)
    assert store.get_review(rid) == reopened

    called = []
    with pytest.raises(NotFound):
        store.update_review("no-such-result", lambda r: called.append(r) or Review(page_result_id="no-such-result"))
    assert called == [] and store.get_review("no-such-result") is None


def test_concurrent_review_updates_never_lose_a_version(store):
    rid = registered_result(store, tokens=tokens_from(0, [50])).page_result_id
    store.update_review(rid, lambda _: Review(page_result_id=rid))

    def bump(current: Review | None) -> Review:
        current.version += 1
        return current

    def worker(_: int) -> None:
        for _ in range(5):
            store.update_review(rid, bump)

    run_in_threads(4, worker)
    assert store.get_review(rid).version == 21


# -- replacing a result ------------------------------------------------------------------------

def test_put_page_result_replacing_a_result_removes_its_review_and_links(store):
    first = registered_result(store, run_id="run-x", tokens=tokens_from(0, [50, 60]))
    fid = first.page_result_id
    store.ingest(fid, mode="append", tokens=tokens_from(2, [70]), review=replacing(Review(page_result_id=fid)), links=[link(fid, "mw:1")])
    kept = registered_result(store, run_id="run-y", tokens=tokens_from(0, [40]))
    store.ingest(kept.page_result_id, mode="append", tokens=None, review=replacing(Review(page_result_id=kept.page_result_id)),
                 links=[link(kept.page_result_id, "mw:7")])

    second = registered_result(store, run_id="run-x", tokens=tokens_from(0, [90], "n"))
    with pytest.raises(NotFound):
        store.get_page_result(fid)
    assert store.get_tokens(fid) == [] and store.get_review(fid) is None and store.list_links(fid) == []
    assert subdocuments(store, fid) == 0
    sid = second.page_result_id
    assert store.get_review(sid) is None and store.list_links(sid) == []
    assert store.list_results_for_page("doc-1", 1) == [kept, second]
    assert store.get_review(kept.page_result_id) is not None and len(store.list_links(kept.page_result_id)) == 1

    # storing the same page result again (a redelivered task) drops its review, links and old tokens
    store.ingest(sid, mode="append", tokens=tokens_from(1, [80]), review=replacing(Review(page_result_id=sid)), links=[link(sid, "mw:2")])
    store.put_page_result(second, tokens_from(0, [91, 92], "again"))
    assert store.get_review(sid) is None and store.list_links(sid) == []
    assert [t.text for t in store.get_tokens(sid)] == ["again0", "again1"]
    assert leftovers(store, sid) in ({}, {"chunks": 0, "links": 0})


# -- Firestore only: expiry of the new records -------------------------------------------------

@pytest.fixture
def firestore_store(firestore_host, firestore_db) -> FirestoreStore:
    from pagesage import emulators

    emulators.reset_firestore(firestore_host)
    return FirestoreStore(firestore_db)


def test_firestore_reviews_and_links_carry_expire_at_and_get_the_jobs_on_finish(firestore_store):
    store = firestore_store
    job = started_job_with_pages(store, 1)
    store.create_source_doc(source("upload", job_id=job.job_id, source_doc_id=job.source_doc_id))
    result = PageResult(run_id="run", job_id=job.job_id, source_doc_id=job.source_doc_id, page_no=1, config=CONFIG, lang_tag="en")
    store.put_page_result(result, tokens_from(0, [50]))
    rid = result.page_result_id
    store.ingest(rid, mode="append", tokens=tokens_from(1, [60]), review=replacing(Review(page_result_id=rid)), links=[link(rid, "mw:1")])
    registered = registered_result(store, tokens=tokens_from(0, [50]))
    store.ingest(registered.page_result_id, mode="append", tokens=None, review=replacing(Review(page_result_id=registered.page_result_id)),
                 links=[link(registered.page_result_id, "mw:2")])

    ref = store.client.collection("page_results").document(rid)
    records = [ref, store.client.collection("source_docs").document(job.source_doc_id)]
    records += [s.reference for sub in ("token_chunks", "reviews", "links") for s in ref.collection(sub).stream()]
    assert len(records) == 2 + 2 + 1 + 1
    provisional = [r.get().to_dict()["expire_at"] for r in records]
    assert all(utcnow() + timedelta(days=6) < at < utcnow() + timedelta(days=8) for at in provisional)

    finished = store.update_job(job.job_id, lambda j: j.complete())
    assert [r.get().to_dict()["expire_at"] for r in records] == [finished.expiration_time] * len(records)
    # a registered document's records never expire
    reg = store.client.collection("page_results").document(registered.page_result_id)
    assert reg.get().to_dict()["expire_at"] is None
    assert all(s.to_dict()["expire_at"] is None for sub in ("token_chunks", "reviews", "links") for s in reg.collection(sub).stream())

    # past the job's expiry, before TTL deleted anything: all of it reads as gone
    later = utcnow() + timedelta(hours=49)
    future = FirestoreStore(store.client, clock=lambda: later)
    with pytest.raises(NotFound):
        future.get_source_doc(job.source_doc_id)
    with pytest.raises(NotFound):
        future.get_page_result(rid)
    assert future.get_tokens(rid) == [] and future.get_review(rid) is None and future.list_links(rid) == []
    assert future.list_results_for_page(job.source_doc_id, 1) == []
    assert future.list_source_docs(5) == ([], None)


def test_firestore_source_docs_past_their_expire_at_are_skipped_while_pages_stay_full(firestore_store):
    store = firestore_store
    docs = [source(f"doc {n}", created_at=T0 + timedelta(seconds=n)) for n in range(6)]
    for doc in docs:
        store.create_source_doc(doc)
    # documents whose TTL passed but which TTL has not deleted yet (deletion is lazy)
    for n in (0, 2, 3):
        store.client.collection("source_docs").document(docs[n].source_doc_id).update({"expire_at": utcnow() - timedelta(minutes=1)})
    page, cursor = store.list_source_docs(2)
    assert [d.title for d in page] == ["doc 1", "doc 4"] and cursor is not None
    page, cursor = store.list_source_docs(2, cursor)
    assert [d.title for d in page] == ["doc 5"] and cursor is None
    # a cursor naming a document that is gone still positions the listing
    gone_cursor = encode_cursor(docs[2].created_at.timestamp(), docs[2].source_doc_id)
    assert [d.title for d in store.list_source_docs(5, gone_cursor)[0]] == ["doc 4", "doc 5"]


def test_firestore_chunks_and_links_not_yet_published_are_never_read(firestore_store):
    """What an ingest writes before its commit (or leaves behind when its process dies) is
    under the page result but not named by it."""
    store = firestore_store
    rid = registered_result(store, tokens=tokens_from(0, [50, 60])).page_result_id
    store.ingest(rid, mode="append", tokens=None, review=None, links=[link(rid, "mw:1")])
    before = (store.get_tokens(rid), store.list_links(rid))
    ref = store.client.collection("page_results").document(rid)
    (chunk,) = token_chunks(tokens_from(2, [70, 80], "ghost"))
    ref.collection("token_chunks").document("unpublished-chunk").set({**chunk, "expire_at": None})
    ref.collection("links").document("unpublished-link").set(
        {**link(rid, "mw:ghost").model_dump(mode="json"), "batch": "unpublished-batch", "seq": 0, "expire_at": None})
    assert (store.get_tokens(rid), store.list_links(rid)) == before
    assert store.get_page_result(rid).word_count == 2
    after = store.ingest(rid, mode="append", tokens=tokens_from(2, [90]), review=None, links=[link(rid, "mw:2")])
    assert after.word_count == 3 and [t.text for t in store.get_tokens(rid)] == ["w0", "w1", "w2"]
    assert [lk.fk_entry_id for lk in store.list_links(rid)] == ["mw:1", "mw:2"]


def test_firestore_refuses_a_review_larger_than_one_document(firestore_store):
    from pagesage.adapters.firestore_store import REVIEW_BYTES

    store = firestore_store
    rid = registered_result(store, tokens=tokens_from(0, [50])).page_result_id
    store.update_review(rid, lambda _: Review(page_result_id=rid, approved_text="short"))
    huge = "तुलसी" * 80_000  # 400,000 characters, 1.2 MB in UTF-8 (past Review's own limit: model_copy skips it)
    assert len(huge.encode()) > REVIEW_BYTES
    with pytest.raises(InputError, match="bytes"):
        store.update_review(rid, lambda r: r.model_copy(update={"approved_text": huge}))
    with pytest.raises(InputError, match="bytes"):
        store.ingest(rid, mode="append", tokens=tokens_from(1, [60]), review=replacing(Review(page_result_id=rid).model_copy(update={"approved_text": huge})), links=None)
    assert store.get_review(rid).approved_text == "short" and len(store.get_tokens(rid)) == 1
    fits = "तुलसी" * 40_000  # 200,000 characters (Review's limit), 600,000 bytes
    assert store.update_review(rid, lambda r: r.model_copy(update={"approved_text": fits})).approved_text == fits
    assert store.get_review(rid).approved_text == fits

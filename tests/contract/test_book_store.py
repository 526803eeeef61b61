"""The BookStore contract, run on both backends: SqliteBookStore on a real database file and
FirestoreBookStore on the real Firestore emulator. Projects, pages, versions, the box and
reference indexes, counters, listing, sizes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from pagesage import emulators
from pagesage.adapters.sqlite_store import SqliteStore
from pagesage.book.adapters.firestore_book import FirestoreBookStore
from pagesage.book.adapters.sqlite_book import SqliteBookStore
from pagesage.book.domain.indexes import box_locations
from pagesage.book.domain.model import (AI, BoundingBox, BoxCoordinates, BoxLocation, ContentType, CreateChange,
                                        ImageMetadata, IncomingReference, InlineReference, OcrStatus, PageAnnotations,
                                        PageCounters, PageState, Position, Project, RelabelChange, ReviewStatus,
                                        SourceDocument, TextContent, UserAttribution, VersionHistoryEntry, VersionRecord)
from factories import make_job, run_in_threads
from pagesage.errors import Conflict, InputError, NotFound, PreconditionFailed, ValidationFailed

NOW = datetime(2030, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone.utc)
"""The stores' clock: `update_project` stamps it as `updatedAt`."""

CREATED = datetime(2029, 6, 1, 12, 0, tzinfo=timezone.utc)
EDITOR = UserAttribution(name="Editor", user_id="editor@example.org")


@pytest.fixture(params=["sqlite", "firestore"])
def book_store(request, tmp_path):
    """Each backend's book store, empty, its clock at `NOW`: SqliteBookStore on a new database
    file, FirestoreBookStore on the session's Firestore emulator after a reset."""
    if request.param == "sqlite":
        yield SqliteBookStore(tmp_path / "db.sqlite", clock=lambda: NOW)
        return
    emulators.reset_firestore(request.getfixturevalue("firestore_host"))
    yield FirestoreBookStore(request.getfixturevalue("firestore_db"), clock=lambda: NOW)


def raw_page(store, page_id: str) -> dict:
    """A page's stored document, as the store wrote it (not through the model)."""
    if isinstance(store, SqliteBookStore):
        with sqlite3.connect(store.path) as db:
            return json.loads(db.execute("SELECT doc FROM book_pages WHERE page_id = ?", (page_id,)).fetchone()[0])
    return store.client.collection("book_pages").document(page_id).get().to_dict()


# -- factories -------------------------------------------------------------------------------

def sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def make_project(project_id: str = "proj_gita", title: str = "Bhagavad Gita") -> Project:
    return Project(project_id=project_id, slug="bhagavad-gita", title=title, authors=["Vyasa"],
                   source_document=SourceDocument(file_name="gita.pdf", blob_key="originals/gita.pdf"),
                   created_by=EDITOR, created_at=CREATED, updated_at=CREATED)


def make_ref(reference_id: str, target_box_id: str, *, offset: int = 5, display: str = "1", seq: int = 1) -> InlineReference:
    return InlineReference(reference_id=reference_id, position=Position(char_offset=offset, length=len(display)),
                           target_box_id=target_box_id, display_text=display, sequence_in_text=seq)


def make_box(box_id: str, order: int, text: str = "dharma-kshetre kuru-kshetre", *,
             content_type: ContentType = ContentType.VERSE, refs: list[InlineReference] = (), corrected: bool = False) -> BoundingBox:
    return BoundingBox(box_id=box_id, coordinates=BoxCoordinates(x=10, y=10 + 100 * order, width=500, height=80),
                       content_type=content_type, reading_order=order,
                       text=TextContent(ocr=text, corrected=text, is_corrected=corrected), inline_references=list(refs))


def make_page(project_id: str, page_id: str, number: int, boxes: list[BoundingBox], *, blob_key: str | None = "pages/p.png",
              review: ReviewStatus = ReviewStatus.PENDING, ocr: OcrStatus = OcrStatus.COMPLETED) -> tuple[PageAnnotations, VersionRecord]:
    """A page at version 1 and its first version record."""
    state = PageState(bounding_boxes=boxes, review_status=review, ocr_status=ocr)
    commit_sha = sha(page_id, "1", state.model_dump_json())
    page = PageAnnotations(page_id=page_id, page_number=number, project_id=project_id,
                           image=ImageMetadata(file_name=f"{page_id}.png", format="png", width=1000, height=1500, blob_key=blob_key),
                           current_state=state, version=1, commit_sha=commit_sha, created_at=CREATED, updated_at=CREATED)
    entry = VersionHistoryEntry(version=1, timestamp=CREATED, edited_by=AI, change_type="ai_generated",
                                changes=CreateChange(action="created", details="seeded from OCR"), commit_sha=commit_sha)
    return page, VersionRecord(page_id=page_id, entry=entry, state=state)


def make_book(project_id: str = "proj_gita", prefix: str = "g", title: str = "Bhagavad Gita"):
    """A project of two pages: page 1 has a verse with reference `<prefix>-r1` to the footnote
    `<prefix>2-fn` on page 2, and a commentary box; page 2 has a verse with reference
    `<prefix>-r2` to that footnote, and the footnote."""
    p1 = make_page(project_id, f"{prefix}-page-1", 1, [
        make_box(f"{prefix}1-verse", 1, refs=[make_ref(f"{prefix}-r1", f"{prefix}2-fn")]),
        make_box(f"{prefix}1-comm", 2, "a commentary", content_type=ContentType.COMMENTARY)])
    p2 = make_page(project_id, f"{prefix}-page-2", 2, [
        make_box(f"{prefix}2-verse", 1, "dharma-kshetre sam", refs=[make_ref(f"{prefix}-r2", f"{prefix}2-fn", offset=2)]),
        make_box(f"{prefix}2-fn", 2, "1. the field of dharma", content_type=ContentType.FOOTNOTE)])
    return make_project(project_id, title), [p1, p2]


def edit(change_boxes, *, changes=None, note: str = "", calls: list | None = None):
    """A `PageMutation`: the boxes `change_boxes(boxes)` returns, one version on, `updatedAt`
    a minute past the stored page's per version; `calls` collects the pages it was given."""
    def mutate(stored: PageAnnotations) -> tuple[PageAnnotations, VersionRecord]:
        if calls is not None:
            calls.append(stored)
        state = stored.current_state.model_copy(update={"bounding_boxes": change_boxes(list(stored.boxes))})
        version = stored.version + 1
        new_sha = sha(stored.commit_sha or "", str(version), state.model_dump_json(), note)
        entry = VersionHistoryEntry(version=version, timestamp=CREATED + timedelta(minutes=version), edited_by=EDITOR,
                                    change_type="manual_edit", changes=changes or CreateChange(action="created"),
                                    commit_sha=new_sha, note=note)
        page = stored.model_copy(update={"current_state": state, "version": version, "commit_sha": new_sha,
                                         "updated_at": CREATED + timedelta(minutes=version)})
        return page, VersionRecord(page_id=stored.page_id, entry=entry, state=state)
    return mutate


def incoming(page: PageAnnotations, box: BoundingBox, ref: InlineReference, excerpt: str) -> IncomingReference:
    return IncomingReference(reference_id=ref.reference_id, source_box_id=box.box_id, source_page_id=page.page_id,
                             source_page_number=page.page_number, display_text=ref.display_text, text_excerpt=excerpt,
                             created_at=page.updated_at)


def assert_unchanged(store, page: PageAnnotations, versions: int, boxes: dict[str, BoxLocation]) -> None:
    """The page reads as `page`, has `versions` versions, and the box index holds `boxes`."""
    assert store.get_page(page.page_id) == page
    assert [e.version for e in store.list_versions(page.page_id)] == list(range(1, versions + 1))
    assert store.box_index(page.project_id) == boxes


# -- create and read -------------------------------------------------------------------------

def test_create_project_reads_back(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    (p1, v1), (p2, v2) = pages

    got = book_store.get_project(project.project_id)
    assert got == project and got.box_index is None and got.title == "Bhagavad Gita"
    assert book_store.get_page(p1.page_id) == p1
    assert book_store.get_page(p2.page_id).boxes[1].content_type is ContentType.FOOTNOTE
    assert book_store.get_page(p2.page_id).version_history == []
    assert [p.page_id for p in book_store.list_pages(project.project_id)] == ["g-page-1", "g-page-2"]
    assert book_store.list_pages(project.project_id) == [p1, p2]
    assert book_store.get_version(p2.page_id, 1) == v2
    assert book_store.list_versions(p1.page_id) == [v1.entry]

    assert book_store.box_index(project.project_id) == {**box_locations(p1), **box_locations(p2)}
    assert book_store.locate_box("g2-fn") == BoxLocation(page_id="g-page-2", page_number=2, content_type=ContentType.FOOTNOTE,
                                                         project_id="proj_gita")
    assert book_store.references_to("g2-fn") == [
        incoming(p1, p1.boxes[0], p1.boxes[0].inline_references[0], "dharma-kshetre kuru-kshetr..."),
        incoming(p2, p2.boxes[0], p2.boxes[0].inline_references[0], "dharma-kshetre sam")]
    assert book_store.references_to("g1-verse") == []

    raw = raw_page(book_store, p1.page_id)
    assert raw["projectId"] == "proj_gita" and raw["pageNumber"] == 1
    assert raw["currentState"]["boundingBoxes"][0]["boxId"] == "g1-verse"
    assert raw["currentState"]["boundingBoxes"][0]["inlineReferences"][0]["targetBoxId"] == "g2-fn"
    assert "bounding_boxes" not in raw["currentState"]


def test_sqlite_book_store_shares_the_provenance_database(tmp_path):
    path = tmp_path / "pagesage.db"
    store = SqliteStore(path)
    job = make_job()
    store.create_job(job)
    books = SqliteBookStore(path)
    project, pages = make_book()
    books.create_project(project, pages)
    assert SqliteStore(path).get_job(job.job_id) == job
    assert SqliteBookStore(path).get_project(project.project_id) == project


def test_create_with_a_stored_box_id_conflicts_and_writes_nothing(book_store):
    first, first_pages = make_book("proj_a", "a")
    book_store.create_project(first, first_pages)
    project, pages = make_book("proj_b", "b", title="Another")
    taken = first_pages[0][0].boxes[1].box_id  # a box of the other project
    page2, v2 = pages[1]
    page2.current_state.bounding_boxes.append(make_box(taken, 3, "stolen"))

    with pytest.raises(Conflict):
        book_store.create_project(project, pages)
    with pytest.raises(NotFound):
        book_store.get_project("proj_b")
    for page, _ in pages:
        with pytest.raises(NotFound):
            book_store.get_page(page.page_id)
        with pytest.raises(NotFound):
            book_store.list_versions(page.page_id)
    assert book_store.list_pages("proj_b") == []
    assert book_store.box_index("proj_b") == {}
    assert book_store.locate_boxes(["b1-verse", "b1-comm", "b2-verse", "b2-fn"]) == {}
    assert book_store.references_to("b2-fn") == []
    assert book_store.page_counters("proj_b") == PageCounters()
    assert book_store.locate_box(taken).project_id == "proj_a"
    assert book_store.box_index("proj_a") == {**box_locations(first_pages[0][0]), **box_locations(first_pages[1][0])}
    assert [p.title for p in book_store.list_projects(10)[0]] == ["Bhagavad Gita"]


def test_create_with_a_stored_project_or_page_id_conflicts(book_store):
    project, pages = make_book("proj_a", "a")
    book_store.create_project(project, pages)
    again, again_pages = make_book("proj_a", "c")
    with pytest.raises(Conflict):
        book_store.create_project(again, again_pages)
    assert book_store.locate_boxes(["c1-verse", "c2-fn"]) == {}
    other, other_pages = make_book("proj_c", "c")
    other_pages[1] = make_page("proj_c", "a-page-2", 2, [make_box("c2-new", 1)])  # a page id of proj_a
    with pytest.raises(Conflict):
        book_store.create_project(other, other_pages)
    with pytest.raises(NotFound):
        book_store.get_project("proj_c")
    assert book_store.locate_boxes(["c1-verse", "c1-comm", "c2-new"]) == {}
    assert book_store.get_page("a-page-2") == pages[1][0]
    # one box id on two pages of the same new project
    dup, dup_pages = make_book("proj_d", "d")
    dup_pages[1][0].current_state.bounding_boxes.append(make_box("d1-verse", 3))
    with pytest.raises(Conflict):
        book_store.create_project(dup, dup_pages)
    assert book_store.locate_boxes(["d1-verse", "d2-fn"]) == {}


# -- commits ---------------------------------------------------------------------------------

def test_commit_page_updates_page_versions_and_indexes(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    (p1, v1), (p2, _) = pages
    added = make_box("g1-new", 3, "see the footnote here, and more words after it",
                     refs=[make_ref("g-r3", "g2-fn", offset=8, display="2")])

    def change(boxes):
        verse = boxes[0].model_copy(update={"content_type": ContentType.TRANSLATION, "inline_references": []})
        return [verse, added]  # g1-comm removed, g1-verse relabelled and its reference removed

    relabel = RelabelChange(action="relabeled", box_id="g1-verse", before={"contentType": "verse"},
                            after={"contentType": "translation"})
    new = book_store.commit_page(p1.page_id, p1.commit_sha, edit(change, changes=relabel, note="v2"))
    assert new.version == 2 and new.commit_sha != p1.commit_sha
    assert [b.box_id for b in new.boxes] == ["g1-verse", "g1-new"]
    assert book_store.get_page(p1.page_id) == new
    assert book_store.get_page(p1.page_id).version_history == []
    record = book_store.get_version(p1.page_id, 2)
    assert record.entry.commit_sha == new.commit_sha and record.entry.note == "v2"
    assert record.entry.changes == relabel and record.state == new.current_state
    assert book_store.get_version(p1.page_id, 1) == v1

    with pytest.raises(NotFound):
        book_store.locate_box("g1-comm")
    assert book_store.locate_box("g1-new") == BoxLocation(page_id=p1.page_id, page_number=1, content_type=ContentType.VERSE,
                                                          project_id=project.project_id)
    assert book_store.locate_box("g1-verse").content_type is ContentType.TRANSLATION
    assert set(book_store.box_index(project.project_id)) == {"g1-verse", "g1-new", "g2-verse", "g2-fn"}
    refs = book_store.references_to("g2-fn")
    assert [(r.source_page_number, r.reference_id, r.source_box_id) for r in refs] == [(1, "g-r3", "g1-new"), (2, "g-r2", "g2-verse")]
    assert refs[0].created_at == new.updated_at and refs[0].text_excerpt == "see the footnote here, and mo..."
    assert refs[1].created_at == p2.updated_at  # the other page's row is untouched

    # a third version: a reference that moves gets its row rewritten, with its new excerpt
    def move(boxes):
        box = boxes[1]
        ref = box.inline_references[0].model_copy(update={"position": Position(char_offset=30, length=1)})
        return [boxes[0], box.model_copy(update={"inline_references": [ref]})]

    third = book_store.commit_page(p1.page_id, new.commit_sha, edit(move, note="v3"))
    assert [e.version for e in book_store.list_versions(p1.page_id)] == [1, 2, 3]
    assert [e.commit_sha for e in book_store.list_versions(p1.page_id)] == [p1.commit_sha, new.commit_sha, third.commit_sha]
    (moved,) = [r for r in book_store.references_to("g2-fn") if r.reference_id == "g-r3"]
    assert moved.text_excerpt == "...otnote here, and more words after it" and moved.created_at == third.updated_at


def test_commit_keeps_unchanged_reference_rows(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p2 = pages[1][0]
    before = book_store.references_to("g2-fn")
    new = book_store.commit_page(p2.page_id, p2.commit_sha, edit(lambda boxes: boxes, note="nothing but a new version"))
    assert new.version == 2 and new.updated_at != p2.updated_at
    assert book_store.references_to("g2-fn") == before  # rows not rewritten: createdAt as first written
    assert before[1].created_at == p2.updated_at


def test_stale_sha_raises_precondition_failed_and_changes_nothing(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p1 = pages[0][0]
    boxes = book_store.box_index(project.project_id)
    calls: list = []
    with pytest.raises(PreconditionFailed) as failed:
        book_store.commit_page(p1.page_id, "0" * 64, edit(lambda b: b[:1], calls=calls))
    assert failed.value.current == p1.commit_sha
    assert calls == []
    assert_unchanged(book_store, p1, 1, boxes)
    # a commit on the new sha, then the old one is stale
    new = book_store.commit_page(p1.page_id, p1.commit_sha, edit(lambda b: b))
    with pytest.raises(PreconditionFailed) as failed:
        book_store.commit_page(p1.page_id, p1.commit_sha, edit(lambda b: []))
    assert failed.value.current == new.commit_sha
    assert book_store.get_page(p1.page_id) == new


def test_mutate_raising_writes_nothing(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p1 = pages[0][0]
    boxes = book_store.box_index(project.project_id)
    refs = book_store.references_to("g2-fn")
    inner = edit(lambda b: [make_box("g1-other", 1)])

    def failing(stored):
        inner(stored)
        raise RuntimeError("mutate failed")

    with pytest.raises(RuntimeError, match="mutate failed"):
        book_store.commit_page(p1.page_id, p1.commit_sha, failing)
    assert_unchanged(book_store, p1, 1, boxes)
    assert book_store.references_to("g2-fn") == refs
    with pytest.raises(NotFound):
        book_store.get_version(p1.page_id, 2)
    # the store is still usable afterwards (no transaction left open)
    assert book_store.commit_page(p1.page_id, p1.commit_sha, edit(lambda b: b)).version == 2


def test_concurrent_commits_on_one_sha_one_wins(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p1 = pages[0][0]
    won: list[PageAnnotations] = []
    lost: list[PreconditionFailed] = []

    def commit(i: int) -> None:
        try:
            won.append(book_store.commit_page(p1.page_id, p1.commit_sha,
                                              edit(lambda b: b + [make_box(f"g1-thread{i}", 3)], note=f"thread {i}")))
        except PreconditionFailed as exc:
            lost.append(exc)

    run_in_threads(2, commit)
    assert len(won) == 1 and len(lost) == 1
    (winner,) = won
    assert lost[0].current == winner.commit_sha
    assert book_store.get_page(p1.page_id) == winner
    assert [e.commit_sha for e in book_store.list_versions(p1.page_id)] == [p1.commit_sha, winner.commit_sha]
    added = {b.box_id for b in winner.boxes} - {"g1-verse", "g1-comm"}
    assert set(book_store.locate_boxes(["g1-thread0", "g1-thread1"])) == added


def test_commit_adding_a_stored_box_id_conflicts(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p1, p2 = pages[0][0], pages[1][0]
    boxes = book_store.box_index(project.project_id)
    with pytest.raises(Conflict):
        book_store.commit_page(p1.page_id, p1.commit_sha, edit(lambda b: b + [make_box("g2-fn", 3, "a copy")]))
    assert_unchanged(book_store, p1, 1, boxes)
    assert book_store.locate_box("g2-fn").page_id == p2.page_id
    # a box id of another project conflicts too
    other, other_pages = make_book("proj_other", "o", title="Other")
    book_store.create_project(other, other_pages)
    with pytest.raises(Conflict):
        book_store.commit_page(p1.page_id, p1.commit_sha, edit(lambda b: b + [make_box("o1-verse", 3)]))
    assert book_store.locate_box("o1-verse").project_id == "proj_other"
    assert_unchanged(book_store, p1, 1, boxes)


def test_commit_unknown_page_raises_not_found(book_store):
    with pytest.raises(NotFound):
        book_store.commit_page("no-such-page", "0" * 64, edit(lambda b: b))


# -- counters, listing, lookups ---------------------------------------------------------------

def test_page_counters_count_flags(book_store):
    project = make_project()
    pages = [
        make_page(project.project_id, "c-1", 1, [make_box("c1-a", 1, corrected=True)], review=ReviewStatus.APPROVED),
        make_page(project.project_id, "c-2", 2, [make_box("c2-a", 1)], review=ReviewStatus.REVIEWED, ocr=OcrStatus.PROCESSING),
        make_page(project.project_id, "c-3", 3, [], blob_key=None),
        make_page(project.project_id, "c-4", 4, [make_box("c4-a", 1)], review=ReviewStatus.IN_PROGRESS),
    ]
    book_store.create_project(project, pages)
    other, other_pages = make_book("proj_other", "o", title="Other")
    book_store.create_project(other, other_pages)
    assert book_store.page_counters(project.project_id) == PageCounters(total=4, processed=3, annotated=3, reviewed=2,
                                                                         ocred=3, corrected=1)
    page4 = pages[3][0]

    def review_and_correct(stored):
        page, record = edit(lambda b: [b[0].model_copy(update={"text": TextContent(ocr="x", corrected="y", is_corrected=True)})])(stored)
        state = page.current_state.model_copy(update={"review_status": ReviewStatus.REVIEWED})
        return page.model_copy(update={"current_state": state}), record.model_copy(update={"state": state})

    book_store.commit_page(page4.page_id, page4.commit_sha, review_and_correct)
    assert book_store.page_counters(project.project_id) == PageCounters(total=4, processed=3, annotated=3, reviewed=3,
                                                                         ocred=3, corrected=2)
    assert book_store.page_counters("proj_other") == PageCounters(total=2, processed=2, annotated=2, ocred=2)
    assert book_store.page_counters("proj_none") == PageCounters()


def test_list_projects_pages_by_title_then_id(book_store):
    titles = {"proj_e": "yoga Sūtra", "proj_a": "Gītā", "proj_c": "Upanishads", "proj_b": "gita", "proj_d": "Āraṇyaka"}
    for project_id, title in titles.items():
        book_store.create_project(make_project(project_id, title), [])
    expected = ["proj_d", "proj_b", "proj_a", "proj_c", "proj_e"]  # case and diacritics count only between equals

    seen, cursor, sizes = [], None, []
    while True:
        page, cursor = book_store.list_projects(2, cursor)
        sizes.append(len(page))
        seen += [p.project_id for p in page]
        if cursor is None:
            break
    assert seen == expected and sizes == [2, 2, 1]
    everything, end = book_store.list_projects(5)
    assert [p.project_id for p in everything] == expected and end is None
    assert all(p.box_index is None for p in everything)
    first, cursor = book_store.list_projects(3)
    assert [p.project_id for p in book_store.list_projects(3, cursor)[0]] == ["proj_c", "proj_e"]

    for bad in ("not a cursor", "e30", "WyJ4Il0", "bm9wZQ"):
        with pytest.raises(InputError) as failed:
            book_store.list_projects(2, bad)
        assert failed.value.error_code == "invalid_cursor"
    with pytest.raises(InputError):
        book_store.list_projects(0)


def test_locate_boxes_in_chunks_with_partial_hits(book_store):
    project = make_project()
    pages = [make_page(project.project_id, f"m-{n}", n, [make_box(f"m{n}-{i}", i) for i in range(1, 31)]) for n in range(1, 6)]
    book_store.create_project(project, pages)
    stored = [f"m{n}-{i}" for n in range(1, 6) for i in range(1, 31)]
    missing = [f"missing-{i}" for i in range(60)]
    asked = [x for pair in zip(stored, missing + [None] * 90) for x in pair if x] + stored[:10]
    assert len(set(asked)) == 210

    found = book_store.locate_boxes(asked)
    assert set(found) == set(stored)
    assert found["m4-17"] == BoxLocation(page_id="m-4", page_number=4, content_type=ContentType.VERSE, project_id=project.project_id)
    assert {loc.page_id for loc in found.values()} == {f"m-{n}" for n in range(1, 6)}
    assert book_store.locate_boxes([]) == {}
    assert book_store.locate_boxes(missing) == {}
    assert len(book_store.box_index(project.project_id)) == 150


def test_update_project(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    book_store.create_project(make_project("proj_m", "Mahabharata"), [])

    def rename(p: Project) -> None:
        assert p.box_index is None
        p.title, p.status = "Srimad Bhagavad Gita", "annotating"

    updated = book_store.update_project(project.project_id, rename)
    assert updated.title == "Srimad Bhagavad Gita" and updated.updated_at == NOW
    got = book_store.get_project(project.project_id)
    assert got == updated and got.status == "annotating" and got.updated_at == NOW and got.created_at == CREATED
    assert [p.project_id for p in book_store.list_projects(10)[0]] == ["proj_m", "proj_gita"]

    def failing(p: Project) -> None:
        p.title = "Lost"
        raise RuntimeError("mutate failed")

    with pytest.raises(RuntimeError, match="mutate failed"):
        book_store.update_project(project.project_id, failing)
    assert book_store.get_project(project.project_id) == updated
    with pytest.raises(NotFound):
        book_store.update_project("proj_none", rename)


def test_unknown_records_raise_not_found(book_store):
    project, pages = make_book()
    book_store.create_project(project, pages)
    p1 = pages[0][0]
    with pytest.raises(NotFound):
        book_store.get_version(p1.page_id, 2)
    with pytest.raises(NotFound):
        book_store.get_version("no-such-page", 1)
    with pytest.raises(NotFound):
        book_store.list_versions("no-such-page")
    with pytest.raises(NotFound):
        book_store.get_page("no-such-page")
    with pytest.raises(NotFound):
        book_store.get_project("proj_none")
    with pytest.raises(NotFound):
        book_store.locate_box("no-such-box")
    assert book_store.list_pages("proj_none") == []
    assert book_store.box_index("proj_none") == {}
    assert book_store.get_version(p1.page_id, 1).entry.version == 1


# -- sizes -----------------------------------------------------------------------------------

def big_box(box_id: str, order: int) -> BoundingBox:
    """A box of 20,000 Devanagari code points (60,000 bytes of UTF-8), OCR and corrected text."""
    return make_box(box_id, order, "क" * 20_000)


def test_a_page_over_one_megabyte_is_refused(book_store):
    project = make_project()
    too_big = make_page(project.project_id, "s-1", 1, [big_box(f"s1-{i}", i) for i in range(1, 10)])  # ~1.08 MB
    with pytest.raises(ValidationFailed) as failed:
        book_store.create_project(project, [make_page(project.project_id, "s-0", 2, [make_box("s0-a", 1)]), too_big])
    assert failed.value.field == "currentState.boundingBoxes" and "1 MB" in failed.value.detail
    with pytest.raises(NotFound):
        book_store.get_project(project.project_id)
    assert book_store.locate_boxes(["s0-a", "s1-1"]) == {}

    fits = make_page(project.project_id, "s-1", 1, [big_box(f"s1-{i}", i) for i in range(1, 8)])  # ~0.84 MB
    book_store.create_project(project, [fits])
    page = fits[0]
    boxes = book_store.box_index(project.project_id)
    with pytest.raises(ValidationFailed) as failed:
        book_store.commit_page(page.page_id, page.commit_sha, edit(lambda b: b + [big_box("s1-8", 8), big_box("s1-9", 9)]))
    assert failed.value.field == "currentState.boundingBoxes"
    assert_unchanged(book_store, page, 1, boxes)

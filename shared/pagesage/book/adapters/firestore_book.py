"""The book layer's production store: Cloud Firestore in Native mode (`google-cloud-firestore`).

Layout (collection / document id: content); every document is the record's camelCase JSON
(`model_dump(mode="json")`, timestamps as ISO 8601 strings):

| path | content |
|---|---|
| `book_projects/{projectId}` | the Project without `boxIndex`; listed by `_titleKey` (`model.title_key`), then document id |
| `book_pages/{pageId}` | the PageAnnotations with `versionHistory` empty, plus `flags`: the counter flags (`indexes.page_flags`) as booleans; listed by `projectId`, `pageNumber` (composite index in `firestore.indexes.json`) |
| `book_versions/{pageId}-{version:08d}` | the VersionRecord (`pageId`, `entry`, `state`); listed by `pageId` |
| `book_boxes/{boxId}` | the BoxLocation (`projectId`, `pageId`, `pageNumber`, `contentType`); its id is the box id, so an id is stored once in the whole database |
| `book_refs/{pageId}~{referenceId}` | the IncomingReference plus `targetBoxId`; queried by `targetBoxId` |

`currentState` of pages and `state`, `entry` of versions are exempt from indexing
(`firestore.indexes.json`): nobody queries them, and a page's boxes would otherwise make
thousands of index entries per write.

Creating a project writes each page with its version and index entries (one batch, or several
of at most `COMMIT_WRITES` for a page of many boxes, the page document last), then creates the
project document: a project is visible once complete. Every write is a `create`, so an id
stored anywhere fails the write; whatever was written for the project is then deleted.

Committing a page is one locking transaction: the page is read (locked), its sha checked, the
mutation applied, the index documents of the boxes it adds read (an existing one is a
`Conflict`), and the page, its new version and the index changes written together. Of two
commits based on one sha, Firestore aborts one; its retry reads the new sha and fails the
precondition.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Callable, Sequence

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from pagesage.adapters.firestore_writes import (TRANSACTION_ATTEMPTS, batches, commit_groups, delete_quietly, doc_id,
                                                 optimistic, translated, valid_id)
from pagesage.adapters.records import checked_dict
from pagesage.book.adapters.cursors import decode_title_cursor, encode_title_cursor
from pagesage.book.adapters.indexing import IndexChanges, check_new_project, index_changes, mutated
from pagesage.book.adapters.sizes import check_page_size
from pagesage.book.domain.indexes import COUNTER_FLAGS, page_flags
from pagesage.book.domain.model import (BoxLocation, IncomingReference, PageAnnotations, PageCounters, Project, title_key,
                                        VersionHistoryEntry, VersionRecord)
from pagesage.book.ports import PageMutation
from pagesage.domain.jobs import utcnow
from pagesage.errors import Conflict, InputError, NotFound, TransientError

PROJECTS, PAGES, VERSIONS, BOXES, REFS = "book_projects", "book_pages", "book_versions", "book_boxes", "book_refs"
"""The collections."""

GET_ALL_IDS = 100
"""Most documents read in one `get_all` round trip (`locate_boxes`, a commit's new boxes)."""

INDEX_DOC_BYTES = 200
"""Bytes counted for a box document when grouping writes (`commit_groups`): a few short fields."""


class FirestoreBookStore:
    """`BookStore` on Cloud Firestore; each method keeps the contract documented on
    `pagesage.book.ports.BookStore` (see the module docstring for the layout).

    `update_project` is optimistic, as `FirestoreStore.update_job` is: read, then write on the
    condition that the document did not change meanwhile, else start again. `commit_page` is
    a locking transaction (it writes several documents and must read the new boxes' index
    documents); `mutate` may then be called again when Firestore retries it, so it must depend
    on nothing but the page it is given. Unavailable, or contended after
    `TRANSACTION_ATTEMPTS` tries: `TransientError`.

    Args:
        client: a `google.cloud.firestore.Client`.
        clock: aware UTC now, stamped as a project's `updatedAt` by `update_project`.
    """

    def __init__(self, client: firestore.Client, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.client = client
        self._clock = clock

    # -- references ----------------------------------------------------------------------
    def _project_ref(self, project_id: str):
        return self.client.collection(PROJECTS).document(doc_id(project_id))

    def _page_ref(self, page_id: str):
        return self.client.collection(PAGES).document(doc_id(page_id))

    def _version_ref(self, page_id: str, version: int):
        return self.client.collection(VERSIONS).document(doc_id(f"{page_id}-{version:08d}"))

    def _box_ref(self, box_id: str):
        return self.client.collection(BOXES).document(doc_id(box_id))

    def _ref_ref(self, row_key: str):
        return self.client.collection(REFS).document(doc_id(row_key))

    # -- projects ------------------------------------------------------------------------
    def create_project(self, project: Project, pages: Sequence[tuple[PageAnnotations, VersionRecord]]) -> None:
        """See `BookStore.create_project` and the module docstring.

        Raises:
            Conflict: the project id, a page id or a box id is stored, or given twice.
            ValidationFailed: a record that would not read back, or a page over `PAGE_BYTES`.
        """
        check_new_project(project, pages)
        project_ref, project_data = self._project_ref(project.project_id), _project_doc(project)
        page_groups = []
        for page, record in pages:
            page_data, page_bytes = _page_doc(page)
            version_data, version_bytes = _version_doc(record)
            writes = self._index_writes(index_changes(None, page))
            writes += [(self._version_ref(page.page_id, record.entry.version), version_data, version_bytes),
                       (self._page_ref(page.page_id), page_data, page_bytes)]
            page_groups.append(list(commit_groups(writes)))
        what = f"project {project.project_id}, one of its page ids or one of its box ids is already stored"
        written: list = []
        with translated():
            if project_ref.get(field_paths=["projectId"]).exists:
                raise Conflict(what)
            try:
                for groups in page_groups:
                    for group in groups:
                        batch = self.client.batch()
                        for ref, data, _ in group:
                            batch.create(ref, data)
                        batch.commit()
                        written += [ref for ref, _, _ in group]
                project_ref.create(project_data)
            except gexc.AlreadyExists as exc:
                self._delete_quietly(written)
                raise Conflict(what) from exc
            except BaseException:
                self._delete_quietly(written)
                raise

    def _index_writes(self, changes: IndexChanges) -> list[tuple[Any, dict[str, Any], int]]:
        """(reference, data, bytes) of the new box and reference documents of `changes`."""
        writes = [(self._box_ref(box_id), checked_dict(loc), INDEX_DOC_BYTES) for box_id, loc in changes.boxes_added.items()]
        for key, (target, ref) in changes.refs_written.items():
            data = _ref_doc(target, ref)
            writes.append((self._ref_ref(key), data, len(ref.text_excerpt.encode()) + 4 * INDEX_DOC_BYTES))
        return writes

    def get_project(self, project_id: str) -> Project:
        data = _read(self._project_ref(project_id), "project")
        return _project_of(data)

    def list_projects(self, limit: int, cursor: str | None = None) -> tuple[list[Project], str | None]:
        """See `BookStore.list_projects`: ordered by `title`, then document id (single-field
        indexes).

        Raises:
            InputError: `limit` below 1, or a cursor `encode_title_cursor` did not make.
        """
        if limit < 1:
            raise InputError("limit must be >= 1")
        collection = self.client.collection(PROJECTS)
        query = collection.order_by(SORT_FIELD).order_by("__name__")
        if cursor:
            title, last_id = decode_title_cursor(cursor)
            query = query.start_after({SORT_FIELD: title, "__name__": collection.document(last_id)})
        with translated():
            projects = [_project_of(s.to_dict()) for s in query.limit(limit + 1).stream()]
        if len(projects) <= limit:
            return projects, None
        projects = projects[:limit]
        return projects, encode_title_cursor(title_key(projects[-1].title), projects[-1].project_id)

    def update_project(self, project_id: str, mutate: Callable[[Project], None]) -> Project:
        """See `BookStore.update_project`: optimistic (the write is conditioned on the update
        time of the document read; a concurrent write makes it read again and call `mutate`
        again).

        Raises:
            NotFound: no such project. ValueError: `mutate` changed the project id. What
                `mutate` raises; ValidationFailed for a project that would not read back.
                TransientError: still contended after every attempt.
        """
        ref = self._project_ref(project_id)

        def attempt() -> Project:
            snap = ref.get()
            data = snap.to_dict()
            if data is None:
                raise NotFound("no such project")
            project = _project_of(data)
            mutate(project)
            if project.project_id != project_id:
                raise ValueError("update_project cannot change the project id")
            project.updated_at = self._clock()
            try:
                # every top-level field is written (none is left out of the dump): a whole replace
                ref.update(_project_doc(project), option=self.client.write_option(last_update_time=snap.update_time))
            except gexc.NotFound as exc:  # deleted since the read
                raise NotFound("no such project") from exc
            return project

        with translated():
            return optimistic(attempt)

    def page_counters(self, project_id: str) -> PageCounters:
        """See `BookStore.page_counters`: count aggregations over the project's pages, one for
        the total and one per flag (`flags.<name> == true`; two equality filters, which
        Firestore serves by merging single-field indexes), all at the first one's read time."""
        pages = self.client.collection(PAGES).where(filter=FieldFilter("projectId", "==", project_id))
        with translated():
            total = pages.count(alias="n").get()[0][0]
            counts = {"total": total.value}
            for flag in COUNTER_FLAGS:
                query = pages.where(filter=FieldFilter(f"flags.{flag}", "==", True))
                counts[flag] = query.count(alias="n").get(read_time=total.read_time)[0][0].value
        return PageCounters(**counts)

    # -- pages ---------------------------------------------------------------------------
    def get_page(self, page_id: str) -> PageAnnotations:
        data = _read(self._page_ref(page_id), "page")
        return _page_of(data)

    def list_pages(self, project_id: str) -> list[PageAnnotations]:
        query = (self.client.collection(PAGES).where(filter=FieldFilter("projectId", "==", project_id))
                 .order_by("pageNumber").order_by("__name__"))
        with translated():
            return [_page_of(s.to_dict()) for s in query.stream()]

    def commit_page(self, page_id: str, expected_sha: str, mutate: PageMutation) -> PageAnnotations:
        """See `BookStore.commit_page` and the module docstring. A transaction Firestore aborts
        (contention) is run again, up to `TRANSACTION_ATTEMPTS` times in all.

        Raises:
            NotFound: no such page. PreconditionFailed: stale `expected_sha` (`current` the
                stored sha, "" for a page that has none). Conflict: a new box id is already
                stored. ValidationFailed: the new page over `PAGE_BYTES` or not reading back.
                ValueError: `mutate` returned another page or a version that does not follow.
                What `mutate` raises. TransientError: unavailable, or still contended.
        """
        page_ref = self._page_ref(page_id)

        @firestore.transactional
        def commit(transaction) -> PageAnnotations:
            snap = page_ref.get(transaction=transaction)
            if not snap.exists:
                raise NotFound("no such page")
            new, record, changes = mutated(page_id, _page_of(snap.to_dict()), expected_sha, mutate)
            page_data, _ = _page_doc(new)
            version_data, _ = _version_doc(record)
            added = [self._box_ref(box_id) for box_id in changes.boxes_added]
            for group in batches(added, GET_ALL_IDS):
                taken = sorted(s.id for s in transaction.get_all(group) if s.exists)
                if taken:
                    raise Conflict(f"box id {taken[0]} is already stored")
            for ref, data, _ in self._index_writes(changes):
                transaction.set(ref, data)
            for box_id, loc in changes.boxes_changed.items():
                transaction.set(self._box_ref(box_id), checked_dict(loc))
            for box_id in changes.boxes_removed:
                transaction.delete(self._box_ref(box_id))
            for key in changes.refs_removed:
                transaction.delete(self._ref_ref(key))
            transaction.create(self._version_ref(page_id, record.entry.version), version_data)
            transaction.set(page_ref, page_data)
            return new

        with translated():
            for n in range(TRANSACTION_ATTEMPTS):
                try:
                    return commit(self.client.transaction(max_attempts=TRANSACTION_ATTEMPTS))
                except gexc.Aborted:  # a read lost to a concurrent transaction: start again
                    time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** n)))
                except gexc.AlreadyExists as exc:
                    raise Conflict(f"version of page {page_id} is already stored") from exc
                except ValueError as exc:
                    if isinstance(exc.__cause__, gexc.Aborted):  # the library's retries ran out
                        raise TransientError(f"page {page_id} still contended") from exc
                    raise
            raise TransientError(f"page {page_id} still contended after {TRANSACTION_ATTEMPTS} attempts")

    # -- versions ------------------------------------------------------------------------
    def get_version(self, page_id: str, version: int) -> VersionRecord:
        data = _read(self._version_ref(page_id, version), "version")
        return VersionRecord.model_validate(data)

    def list_versions(self, page_id: str) -> list[VersionHistoryEntry]:
        """See `BookStore.list_versions`: only each version's `entry` is read (a projection),
        at the read time of the page's existence check."""
        query = self.client.collection(VERSIONS).where(filter=FieldFilter("pageId", "==", page_id)).select(["entry"])
        with translated():
            snap = self._page_ref(page_id).get(field_paths=["pageId"])
            if not snap.exists:
                raise NotFound("no such page")
            entries = [VersionHistoryEntry.model_validate(s.get("entry")) for s in query.stream(read_time=snap.read_time)]
        return sorted(entries, key=lambda e: e.version)

    # -- indexes -------------------------------------------------------------------------
    def locate_box(self, box_id: str) -> BoxLocation:
        data = _read(self._box_ref(box_id), "box")
        return BoxLocation.model_validate(data)

    def locate_boxes(self, box_ids: Sequence[str]) -> dict[str, BoxLocation]:
        """See `BookStore.locate_boxes`: one `get_all` per `GET_ALL_IDS` ids; an id no document
        can have is not found."""
        wanted = [b for b in dict.fromkeys(box_ids) if valid_id(b)]
        found: dict[str, BoxLocation] = {}
        with translated():
            for group in batches(wanted, GET_ALL_IDS):
                for snap in self.client.get_all([self._box_ref(b) for b in group]):
                    if snap.exists:
                        found[snap.id] = BoxLocation.model_validate(snap.to_dict())
        return found

    def box_index(self, project_id: str) -> dict[str, BoxLocation]:
        query = self.client.collection(BOXES).where(filter=FieldFilter("projectId", "==", project_id))
        with translated():
            return {s.id: BoxLocation.model_validate(s.to_dict()) for s in query.stream()}

    def references_to(self, box_id: str) -> list[IncomingReference]:
        """See `BookStore.references_to`: the documents with this `targetBoxId` (single-field
        index), ordered here (a box has few references)."""
        query = self.client.collection(REFS).where(filter=FieldFilter("targetBoxId", "==", box_id))
        with translated():
            snaps = list(query.stream())
        rows = sorted(((s.id, _ref_of(s.to_dict())) for s in snaps),
                      key=lambda row: (row[1].source_page_number, row[1].reference_id, row[0]))
        return [ref for _, ref in rows]

    # -- clearing ------------------------------------------------------------------------
    def _delete_quietly(self, refs: list) -> None:
        """Delete what a failed create wrote, best effort: a leftover page without its project
        is never listed (pages are reached through their project), a leftover index entry
        names a page that does not exist."""
        delete_quietly(self.client, refs)


# -- documents ---------------------------------------------------------------------------

def _read(ref, what: str) -> dict[str, Any]:
    """The document at `ref`. Raises `NotFound` ("no such <what>")."""
    with translated():
        data = ref.get().to_dict()
    if data is None:
        raise NotFound(f"no such {what}")
    return data


SORT_FIELD = "_titleKey"
"""The project document's listing key (`model.title_key` of its title), beside the record."""


def _project_doc(project: Project) -> dict[str, Any]:
    data = checked_dict(project.model_copy(update={"box_index": None}))
    data.pop("boxIndex", None)
    data[SORT_FIELD] = title_key(project.title)
    return data


def _project_of(data: dict[str, Any]) -> Project:
    return Project.model_validate({k: v for k, v in data.items() if k != SORT_FIELD})


def _page_doc(page: PageAnnotations) -> tuple[dict[str, Any], int]:
    """A page's document and its JSON size: the page without history, plus its `flags`.

    Raises:
        ValidationFailed: the page would not read back, or is over `PAGE_BYTES`.
    """
    page = page.model_copy(update={"version_history": []})
    text = page.model_dump_json()
    check_page_size(text)
    return {**checked_dict(page), "flags": page_flags(page)}, len(text)


def _page_of(data: dict[str, Any]) -> PageAnnotations:
    data.pop("flags", None)
    return PageAnnotations.model_validate(data)


def _version_doc(record: VersionRecord) -> tuple[dict[str, Any], int]:
    text = record.model_dump_json()
    check_page_size(text)
    return checked_dict(record), len(text)


def _ref_doc(target_box_id: str, ref: IncomingReference) -> dict[str, Any]:
    return {**checked_dict(ref), "targetBoxId": target_box_id}


def _ref_of(data: dict[str, Any]) -> IncomingReference:
    data.pop("targetBoxId", None)
    return IncomingReference.model_validate(data)

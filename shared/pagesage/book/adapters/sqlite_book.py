"""The book layer's embedded store: its own tables in a SQLite file in WAL mode (stdlib `sqlite3`).

The tables carry the prefix `book_`, so the file may be the one `SqliteStore` uses (the
embedded backend gives both `data_dir/"pagesage.db"`); they are created if absent. Each record
is a JSON document (the pydantic model, camelCase) in a `doc` column, beside the columns it is
looked up and ordered by:

| table | key | columns beside `doc` |
|---|---|---|
| `book_projects` | project_id | title (`model.title_key`: the listing order) |
| `book_pages` | page_id | project_id, page_number, the counter flags (`indexes.page_flags`) as 0/1 integers |
| `book_versions` | page_id, version | |
| `book_boxes` | box_id | project_id, page_id |
| `book_refs` | `<pageId>~<referenceId>` | target_box_id, source_page_number, reference_id |

A page's `doc` is the page without history; a version's the `VersionRecord`; a box's the
`BoxLocation`; a reference row's the `IncomingReference` (its target in `target_box_id`).
Writes run inside `BEGIN IMMEDIATE`, which serializes writers across threads and processes, so
a commit's read of the page, its sha check and its writes are one step. Each thread has its own
connection.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from pagesage.adapters.records import checked_json
from pagesage.adapters.sqlite_db import SqliteDatabase
from pagesage.book.adapters.cursors import decode_title_cursor, encode_title_cursor
from pagesage.book.adapters.indexing import IndexChanges, check_new_project, index_changes, mutated
from pagesage.book.adapters.sizes import check_page_size
from pagesage.book.domain.indexes import COUNTER_FLAGS, page_flags
from pagesage.book.domain.model import (BoxLocation, IncomingReference, PageAnnotations, PageCounters, Project, title_key,
                                        VersionHistoryEntry, VersionRecord)
from pagesage.book.ports import PageMutation
from pagesage.domain.jobs import utcnow
from pagesage.errors import Conflict, InputError, NotFound

_FLAG_COLUMNS = ", ".join(COUNTER_FLAGS)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS book_projects (project_id TEXT PRIMARY KEY, title TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS book_projects_by_title ON book_projects (title, project_id);
CREATE TABLE IF NOT EXISTS book_pages (
    page_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, page_number INTEGER NOT NULL, doc TEXT NOT NULL,
    {", ".join(f"{flag} INTEGER NOT NULL" for flag in COUNTER_FLAGS)});
CREATE INDEX IF NOT EXISTS book_pages_by_project ON book_pages (project_id, page_number);
CREATE TABLE IF NOT EXISTS book_versions (
    page_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (page_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS book_boxes (box_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, page_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS book_boxes_by_project ON book_boxes (project_id);
CREATE TABLE IF NOT EXISTS book_refs (
    row_key TEXT PRIMARY KEY, target_box_id TEXT NOT NULL, source_page_number INTEGER NOT NULL,
    reference_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS book_refs_by_target ON book_refs (target_box_id, source_page_number, reference_id);
"""

_IN_CHUNK = 500
"""Most ids bound in one `IN (...)` (SQLite allows 32,766 variables since 3.32; older builds 999)."""


class SqliteBookStore:
    """`BookStore` on a SQLite database file; each method keeps the contract documented on
    `pagesage.book.ports.BookStore` (see the module docstring for the tables).

    Args:
        path: database file (may be `SqliteStore`'s); its folder is created. `:memory:` is not
            supported (each thread would see its own database).
        clock: aware UTC now, stamped as a project's `updatedAt` by `update_project`.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = SqliteDatabase(self.path)
        self._connection().executescript(_SCHEMA)

    # -- connections ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        return self._db.connection()

    def _transaction(self):
        return self._db.transaction()

    # -- projects ------------------------------------------------------------------------
    def create_project(self, project: Project, pages: Sequence[tuple[PageAnnotations, VersionRecord]]) -> None:
        """See `BookStore.create_project`: one transaction of inserts; a taken key rolls it back.

        Raises:
            Conflict: the project id, a page id or a box id is stored, or given twice.
            ValidationFailed: a record that would not read back, or a page over `PAGE_BYTES`.
        """
        check_new_project(project, pages)
        project_doc = _project_json(project)
        rows = [(page, _page_json(page), _version_json(record), record.entry.version) for page, record in pages]
        with self._transaction() as db:
            try:
                db.execute("INSERT INTO book_projects (project_id, title, doc) VALUES (?, ?, ?)",
                           (project.project_id, title_key(project.title), project_doc))
                for page, page_doc, version_doc, version in rows:
                    db.execute(f"INSERT INTO book_pages (page_id, project_id, page_number, doc, {_FLAG_COLUMNS}) "
                               f"VALUES (?, ?, ?, ?, {', '.join('?' * len(COUNTER_FLAGS))})",
                               (page.page_id, page.project_id, page.page_number, page_doc, *_flags(page)))
                    db.execute("INSERT INTO book_versions (page_id, version, doc) VALUES (?, ?, ?)",
                               (page.page_id, version, version_doc))
                    _write_indexes(db, page.page_id, index_changes(None, page))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"project {project.project_id}, one of its page ids or one of its box ids is already stored") from exc

    def get_project(self, project_id: str) -> Project:
        row = self._connection().execute("SELECT doc FROM book_projects WHERE project_id = ?", (project_id,)).fetchone()
        if row is None:
            raise NotFound("no such project")
        return Project.model_validate_json(row[0])

    def list_projects(self, limit: int, cursor: str | None = None) -> tuple[list[Project], str | None]:
        """See `BookStore.list_projects`.

        Raises:
            InputError: `limit` below 1, or a cursor `encode_title_cursor` did not make.
        """
        if limit < 1:
            raise InputError("limit must be >= 1")
        title, last_id = decode_title_cursor(cursor) if cursor else ("", "")
        rows = self._connection().execute(
            "SELECT doc FROM book_projects WHERE title > ? OR (title = ? AND project_id > ?) "
            "ORDER BY title, project_id LIMIT ?", (title, title, last_id, limit + 1)).fetchall()
        projects = [Project.model_validate_json(r[0]) for r in rows[:limit]]
        if len(rows) <= limit:
            return projects, None
        return projects, encode_title_cursor(title_key(projects[-1].title), projects[-1].project_id)

    def update_project(self, project_id: str, mutate: Callable[[Project], None]) -> Project:
        """See `BookStore.update_project`.

        Raises:
            NotFound: no such project. ValueError: `mutate` changed the project id. What
                `mutate` raises; ValidationFailed for a project that would not read back.
        """
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM book_projects WHERE project_id = ?", (project_id,)).fetchone()
            if row is None:
                raise NotFound("no such project")
            project = Project.model_validate_json(row[0])
            mutate(project)
            if project.project_id != project_id:
                raise ValueError("update_project cannot change the project id")
            project.updated_at = self._clock()
            db.execute("UPDATE book_projects SET title = ?, doc = ? WHERE project_id = ?",
                       (title_key(project.title), _project_json(project), project_id))
        project.box_index = None
        return project

    def page_counters(self, project_id: str) -> PageCounters:
        """See `BookStore.page_counters`: one `SUM` over the flag columns of the project's pages."""
        sums = ", ".join(f"COALESCE(SUM({flag}), 0)" for flag in COUNTER_FLAGS)
        row = self._connection().execute(f"SELECT COUNT(*), {sums} FROM book_pages WHERE project_id = ?", (project_id,)).fetchone()
        return PageCounters(total=row[0], **dict(zip(COUNTER_FLAGS, row[1:])))

    # -- pages ---------------------------------------------------------------------------
    def get_page(self, page_id: str) -> PageAnnotations:
        row = self._connection().execute("SELECT doc FROM book_pages WHERE page_id = ?", (page_id,)).fetchone()
        if row is None:
            raise NotFound("no such page")
        return PageAnnotations.model_validate_json(row[0])

    def list_pages(self, project_id: str) -> list[PageAnnotations]:
        rows = self._connection().execute(
            "SELECT doc FROM book_pages WHERE project_id = ? ORDER BY page_number, page_id", (project_id,))
        return [PageAnnotations.model_validate_json(r[0]) for r in rows]

    def commit_page(self, page_id: str, expected_sha: str, mutate: PageMutation) -> PageAnnotations:
        """See `BookStore.commit_page`: read, check, `mutate` and every write inside one
        `BEGIN IMMEDIATE` transaction (a concurrent commit waits for it, then sees its sha).

        Raises:
            NotFound: no such page. PreconditionFailed: stale `expected_sha` (`current` the
                stored sha, "" for a page that has none). Conflict: a new box id is already
                stored. ValidationFailed: the new page over `PAGE_BYTES` or not reading back.
                ValueError: `mutate` returned another page or a version that does not follow.
                What `mutate` raises.
        """
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM book_pages WHERE page_id = ?", (page_id,)).fetchone()
            if row is None:
                raise NotFound("no such page")
            stored = PageAnnotations.model_validate_json(row[0])
            new, record, changes = mutated(page_id, stored, expected_sha, mutate)
            page_doc, version_doc = _page_json(new), _version_json(record)
            try:
                _write_indexes(db, page_id, changes)
                db.execute("INSERT INTO book_versions (page_id, version, doc) VALUES (?, ?, ?)",
                           (page_id, record.entry.version, version_doc))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"a box id added to page {page_id} is already stored, or version {new.version} is") from exc
            db.execute(f"UPDATE book_pages SET page_number = ?, doc = ?, {', '.join(f'{f} = ?' for f in COUNTER_FLAGS)} "
                       "WHERE page_id = ?", (new.page_number, page_doc, *_flags(new), page_id))
        return new

    # -- versions ------------------------------------------------------------------------
    def get_version(self, page_id: str, version: int) -> VersionRecord:
        row = self._connection().execute("SELECT doc FROM book_versions WHERE page_id = ? AND version = ?",
                                         (page_id, version)).fetchone()
        if row is None:
            raise NotFound("no such version")
        return VersionRecord.model_validate_json(row[0])

    def list_versions(self, page_id: str) -> list[VersionHistoryEntry]:
        """See `BookStore.list_versions`: only each record's `entry` is read (`json_extract`),
        not the page state beside it."""
        db = self._connection()
        db.execute("BEGIN")  # one snapshot: the page and its versions as of the same commit
        try:
            if db.execute("SELECT 1 FROM book_pages WHERE page_id = ?", (page_id,)).fetchone() is None:
                raise NotFound("no such page")
            rows = db.execute("SELECT json_extract(doc, '$.entry') FROM book_versions WHERE page_id = ? ORDER BY version",
                              (page_id,)).fetchall()
        finally:
            db.execute("COMMIT")
        return [VersionHistoryEntry.model_validate_json(r[0]) for r in rows]

    # -- indexes -------------------------------------------------------------------------
    def locate_box(self, box_id: str) -> BoxLocation:
        row = self._connection().execute("SELECT doc FROM book_boxes WHERE box_id = ?", (box_id,)).fetchone()
        if row is None:
            raise NotFound("no such box")
        return BoxLocation.model_validate_json(row[0])

    def locate_boxes(self, box_ids: Sequence[str]) -> dict[str, BoxLocation]:
        wanted = list(dict.fromkeys(box_ids))
        found: dict[str, BoxLocation] = {}
        db = self._connection()
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i:i + _IN_CHUNK]
            rows = db.execute(f"SELECT box_id, doc FROM book_boxes WHERE box_id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update((box_id, BoxLocation.model_validate_json(doc)) for box_id, doc in rows)
        return found

    def box_index(self, project_id: str) -> dict[str, BoxLocation]:
        rows = self._connection().execute("SELECT box_id, doc FROM book_boxes WHERE project_id = ?", (project_id,))
        return {box_id: BoxLocation.model_validate_json(doc) for box_id, doc in rows}

    def references_to(self, box_id: str) -> list[IncomingReference]:
        rows = self._connection().execute(
            "SELECT doc FROM book_refs WHERE target_box_id = ? ORDER BY source_page_number, reference_id, row_key", (box_id,))
        return [IncomingReference.model_validate_json(r[0]) for r in rows]


# -- rows ------------------------------------------------------------------------------------

def _project_json(project: Project) -> str:
    """A project's document: the project without its box index (kept as `book_boxes` rows)."""
    return checked_json(project.model_copy(update={"box_index": None}))


def _page_json(page: PageAnnotations) -> str:
    """A page's document: the page without its history. Raises `ValidationFailed` past `PAGE_BYTES`."""
    doc = checked_json(page.model_copy(update={"version_history": []}))
    check_page_size(doc)
    return doc


def _version_json(record: VersionRecord) -> str:
    doc = checked_json(record)
    check_page_size(doc)
    return doc


def _flags(page: PageAnnotations) -> tuple[int, ...]:
    flags = page_flags(page)
    return tuple(int(flags[name]) for name in COUNTER_FLAGS)


def _write_indexes(db: sqlite3.Connection, page_id: str, changes: IndexChanges) -> None:
    """Bring the box and reference rows of page `page_id` in line with `changes`; an added box
    whose id is stored raises `sqlite3.IntegrityError`."""
    for box_id in changes.boxes_removed:
        db.execute("DELETE FROM book_boxes WHERE box_id = ?", (box_id,))
    db.executemany("INSERT INTO book_boxes (box_id, project_id, page_id, doc) VALUES (?, ?, ?, ?)",
                   [(box_id, loc.project_id, page_id, checked_json(loc)) for box_id, loc in changes.boxes_added.items()])
    db.executemany("UPDATE book_boxes SET project_id = ?, page_id = ?, doc = ? WHERE box_id = ?",
                   [(loc.project_id, page_id, checked_json(loc), box_id) for box_id, loc in changes.boxes_changed.items()])
    for key in changes.refs_removed:
        db.execute("DELETE FROM book_refs WHERE row_key = ?", (key,))
    db.executemany(
        "INSERT OR REPLACE INTO book_refs (row_key, target_box_id, source_page_number, reference_id, doc) VALUES (?, ?, ?, ?, ?)",
        [(key, target, ref.source_page_number, ref.reference_id, checked_json(ref))
         for key, (target, ref) in changes.refs_written.items()])

"""The embedded store: one SQLite file in WAL mode (stdlib `sqlite3`).

Each record is a JSON document (the pydantic model) in a table keyed like its Firestore
counterpart; tokens are rows so that a page result's words load in one indexed range scan.
Read-modify-write runs inside `BEGIN IMMEDIATE`, which serializes writers across threads and
processes. Each thread has its own connection.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Callable, Literal, Sequence

from pagesage.adapters.cursors import decode_cursor, encode_cursor
from pagesage.adapters.records import checked_json
from pagesage.adapters.sqlite_db import SqliteDatabase
from pagesage.domain.jobs import Job, utcnow
from pagesage.domain.pages import BBox, CostEntry, Page, PageResult, PageStatus, Run, Token, check_cost_query
from pagesage.domain.provenance import Link, Review, SourceDoc, check_ingest, check_own_source_doc, check_review_target
from pagesage.errors import InputError, InvalidTransition, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, expire_at REAL, doc TEXT NOT NULL, status TEXT, updated_at REAL);
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expire_at) WHERE expire_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS source_docs (
    source_doc_id TEXT PRIMARY KEY, job_id TEXT, created_at REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS source_docs_by_time ON source_docs (created_at, source_doc_id);
CREATE INDEX IF NOT EXISTS source_docs_by_job ON source_docs (job_id) WHERE job_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS doc_pages (
    page_id TEXT PRIMARY KEY, source_doc_id TEXT NOT NULL, job_id TEXT, page_no INTEGER NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS doc_pages_by_doc ON doc_pages (source_doc_id, page_no);
CREATE INDEX IF NOT EXISTS doc_pages_by_job ON doc_pages (job_id) WHERE job_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, job_id TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_id);
CREATE TABLE IF NOT EXISTS page_results (
    page_result_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, job_id TEXT,
    page_no INTEGER NOT NULL, doc TEXT NOT NULL, source_doc_id TEXT, UNIQUE (run_id, page_no));
CREATE INDEX IF NOT EXISTS page_results_by_job ON page_results (job_id, page_no);
CREATE TABLE IF NOT EXISTS reviews (page_result_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS links (
    link_id TEXT PRIMARY KEY, page_result_id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_by_result ON links (page_result_id, seq);
CREATE TABLE IF NOT EXISTS tokens (
    page_result_id TEXT NOT NULL, token_no INTEGER NOT NULL, text TEXT NOT NULL,
    text_norm TEXT NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL,
    h INTEGER NOT NULL, confidence REAL NOT NULL, kind TEXT NOT NULL, block INTEGER NOT NULL,
    par INTEGER NOT NULL, line INTEGER NOT NULL, lang TEXT, space_after INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (page_result_id, token_no)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS costs (
    cost_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,
    created_at REAL, project_id TEXT);
CREATE INDEX IF NOT EXISTS costs_by_job ON costs (job_id, seq);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expire_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expire_at);
"""

_COST_COLUMNS = {"created_at": "REAL", "project_id": "TEXT"}
"""Columns of `costs` added after its first release; `_migrate` adds them to older databases."""

_LATER_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (updated_at) WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS page_results_by_page ON page_results (source_doc_id, page_no);
CREATE INDEX IF NOT EXISTS costs_by_time ON costs (created_at, seq);
CREATE INDEX IF NOT EXISTS costs_by_job_time ON costs (job_id, created_at, seq);
CREATE INDEX IF NOT EXISTS costs_by_project_time ON costs (project_id, created_at, seq) WHERE project_id IS NOT NULL;
"""

_TOKEN_COLUMNS = "token_no, text, text_norm, x, y, w, h, confidence, kind, block, par, line, lang, space_after"


class SqliteStore:
    """`Store` on a SQLite database file; each method keeps the contract documented on
    `pagesage.ports.Store`.

    Args:
        path: database file; its folder is created. `:memory:` is not supported (each thread
            would see its own database).
        clock: aware UTC now, stamped as a job's `updated_at` on every write of it.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = SqliteDatabase(self.path, foreign_keys=True)
        self._connection().executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an older PageSage up to this schema: add the columns it
        lacks (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was), fill them from
        each record's document, then create the indexes on them. Pages keyed by job (before
        source documents) move to `doc_pages` under their job's source document."""
        with self._transaction() as db:
            present = {row[1] for row in db.execute("PRAGMA table_info(costs)")}
            for column, kind in _COST_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE costs ADD COLUMN {column} {kind}")
            job_columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in (("status", "TEXT"), ("updated_at", "REAL")):
                if column not in job_columns:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            for job_id, doc in db.execute("SELECT job_id, doc FROM jobs WHERE status IS NULL").fetchall():
                db.execute("UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?",
                           (json.loads(doc).get("status"), self._clock().timestamp(), job_id))
            if "space_after" not in {row[1] for row in db.execute("PRAGMA table_info(tokens)")}:
                db.execute("ALTER TABLE tokens ADD COLUMN space_after INTEGER NOT NULL DEFAULT 1")
            if "source_doc_id" not in {row[1] for row in db.execute("PRAGMA table_info(page_results)")}:
                db.execute("ALTER TABLE page_results ADD COLUMN source_doc_id TEXT")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'pages'").fetchone():
                _move_job_pages(db)
            stale = db.execute("SELECT cost_id, doc FROM costs WHERE created_at IS NULL").fetchall()
            for cost_id, doc in stale:
                entry = CostEntry.model_validate_json(doc)
                db.execute("UPDATE costs SET created_at = ?, project_id = ? WHERE cost_id = ?",
                           (entry.created_at.timestamp(), entry.project_id, cost_id))
        self._connection().executescript(_LATER_INDEXES)

    # -- connections ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        return self._db.connection()

    def _transaction(self):
        return self._db.transaction()

    def _one(self, sql: str, args: tuple) -> str:
        row = self._connection().execute(sql, args).fetchone()
        if row is None:
            raise NotFound("no such record")
        return row[0]

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, job: Job, source_doc: SourceDoc | None = None) -> None:
        with self._transaction() as db:
            try:
                self._write_job(db, job, insert=True)
                if source_doc is not None:
                    _insert_source_doc(db, source_doc)
            except sqlite3.IntegrityError as exc:
                raise InvalidTransition(f"job {job.job_id} or its source document exists") from exc

    def _write_job(self, db: sqlite3.Connection, job: Job, *, insert: bool = False) -> None:
        job.updated_at = self._clock()
        values = (_expiry(job), checked_json(job), job.status.value, job.updated_at.timestamp(), job.job_id)
        if insert:
            db.execute("INSERT INTO jobs (expire_at, doc, status, updated_at, job_id) VALUES (?, ?, ?, ?, ?)", values)
        else:
            db.execute("UPDATE jobs SET expire_at = ?, doc = ?, status = ?, updated_at = ? WHERE job_id = ?", values)

    def get_job(self, job_id: str) -> Job:
        return _live(Job.model_validate_json(self._one("SELECT doc FROM jobs WHERE job_id = ?", (job_id,))))

    def update_job(self, job_id: str, mutate: Callable[[Job], None], *, source_doc: SourceDoc | None = None) -> Job:
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound("no such job")
            job = _live(Job.model_validate_json(row[0]))
            check_own_source_doc(job, source_doc)
            mutate(job)
            self._write_job(db, job)
            if source_doc is not None:
                db.execute("UPDATE source_docs SET doc = ? WHERE source_doc_id = ? AND job_id = ?",
                           (checked_json(source_doc), source_doc.source_doc_id, job_id))
        return job

    def list_stalled_jobs(self, before: datetime, limit: int = 100) -> list[Job]:
        rows = self._connection().execute(
            "SELECT doc FROM jobs WHERE status IN ('pending', 'processing') AND updated_at <= ? ORDER BY updated_at LIMIT ?",
            (before.timestamp(), limit))
        return [Job.model_validate_json(r[0]) for r in rows]

    def list_expired_jobs(self, now: datetime, limit: int = 100) -> list[str]:
        rows = self._connection().execute(
            "SELECT job_id FROM jobs WHERE expire_at <= ? ORDER BY expire_at LIMIT ?", (now.timestamp(), limit))
        return [r[0] for r in rows]

    def delete_job(self, job_id: str) -> None:
        with self._transaction() as db:
            for (result_id,) in db.execute("SELECT page_result_id FROM page_results WHERE job_id = ?", (job_id,)).fetchall():
                for table in ("tokens", "reviews", "links"):
                    db.execute(f"DELETE FROM {table} WHERE page_result_id = ?", (result_id,))
            for table in ("page_results", "runs", "doc_pages", "source_docs", "jobs"):
                db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

    # -- source documents and pages ------------------------------------------------------
    def create_source_doc(self, doc: SourceDoc, pages: Sequence[Page] = ()) -> None:
        with self._transaction() as db:
            try:
                _insert_source_doc(db, doc)
            except sqlite3.IntegrityError as exc:
                raise InvalidTransition(f"source document {doc.source_doc_id} exists") from exc
            _put_pages(db, pages)

    def get_source_doc(self, source_doc_id: str) -> SourceDoc:
        row = self._connection().execute(
            f"SELECT s.doc FROM source_docs s {_LIVE_JOIN} WHERE s.source_doc_id = ? AND {_LIVE}",
            (source_doc_id, utcnow().timestamp())).fetchone()
        if row is None:
            raise NotFound("no such source document")
        return SourceDoc.model_validate_json(row[0])

    def list_source_docs(self, limit: int, cursor: str | None = None) -> tuple[list[SourceDoc], str | None]:
        if limit < 1:
            raise InputError("limit must be >= 1")
        after = decode_cursor(cursor) if cursor else (float("-inf"), "")
        rows = self._connection().execute(
            f"SELECT s.doc, s.created_at, s.source_doc_id FROM source_docs s {_LIVE_JOIN} "
            f"WHERE {_LIVE} AND (s.created_at > ? OR (s.created_at = ? AND s.source_doc_id > ?)) "
            "ORDER BY s.created_at, s.source_doc_id LIMIT ?",
            (utcnow().timestamp(), after[0], after[0], after[1], limit + 1)).fetchall()
        docs = [SourceDoc.model_validate_json(r[0]) for r in rows[:limit]]
        more = len(rows) > limit
        return docs, encode_cursor(rows[limit - 1][1], rows[limit - 1][2]) if more else None

    def put_pages(self, pages: list[Page]) -> None:
        with self._transaction() as db:
            _put_pages(db, pages)

    def get_page(self, page_id: str) -> Page:
        return Page.model_validate_json(self._one("SELECT doc FROM doc_pages WHERE page_id = ?", (page_id,)))

    def list_pages(self, source_doc_id: str) -> list[Page]:
        rows = self._connection().execute("SELECT doc FROM doc_pages WHERE source_doc_id = ? ORDER BY page_no", (source_doc_id,))
        return [Page.model_validate_json(r[0]) for r in rows]

    def finish_page(self, page: Page) -> tuple[Job, bool]:
        if page.status is PageStatus.PENDING:
            raise InvalidTransition("finish_page needs a done or failed page")
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM doc_pages WHERE page_id = ?", (page.page_id,)).fetchone()
            job_row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (page.job_id,)).fetchone()
            if row is None or job_row is None:
                raise NotFound("no such page")
            job = Job.model_validate_json(job_row[0])
            if Page.model_validate_json(row[0]).status is not PageStatus.PENDING:
                return job, False
            if page.status is PageStatus.DONE:
                job.pages_done += 1
            else:
                job.pages_failed += 1
            _update_page(db, page.unleased())
            self._write_job(db, job)
        return job, True

    def claim_page(self, page_id: str, owner: str, until: datetime, now: datetime) -> bool:
        with self._transaction() as db:
            page = _read_page(db, page_id)
            if page is None:
                raise NotFound("no such page")
            if not page.claimable_by(owner, now):
                return False
            _update_page(db, page.leased_to(owner, until))
        return True

    def release_page(self, page_id: str, owner: str | None = None) -> None:
        with self._transaction() as db:
            page = _read_page(db, page_id)
            if page is not None and page.lease_owner is not None and owner in (None, page.lease_owner):
                _update_page(db, page.unleased())

    # -- runs and results ----------------------------------------------------------------
    def put_run(self, run: Run) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO runs (run_id, job_id, doc) VALUES (?, ?, ?)", (run.run_id, run.job_id, checked_json(run)))

    def create_run(self, run: Run, results: Sequence[PageResult]) -> None:
        with self._transaction() as db:
            try:
                db.execute("INSERT INTO runs (run_id, job_id, doc) VALUES (?, ?, ?)", (run.run_id, run.job_id, checked_json(run)))
                db.executemany(
                    "INSERT INTO page_results (page_result_id, run_id, job_id, source_doc_id, page_no, doc) VALUES (?, ?, ?, ?, ?, ?)",
                    [(r.page_result_id, r.run_id, r.job_id, r.source_doc_id, r.page_no, checked_json(r)) for r in results])
            except sqlite3.IntegrityError as exc:
                raise InvalidTransition(f"run {run.run_id} or one of its page results exists") from exc

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate_json(self._one("SELECT doc FROM runs WHERE run_id = ?", (run_id,)))

    def list_runs(self, job_id: str) -> list[Run]:
        rows = self._connection().execute("SELECT doc FROM runs WHERE job_id = ?", (job_id,))
        return sorted((Run.model_validate_json(r[0]) for r in rows), key=lambda r: r.started_at)

    def put_page_result(self, result: PageResult, tokens: list[Token]) -> None:
        with self._transaction() as db:
            old = db.execute("SELECT page_result_id FROM page_results WHERE run_id = ? AND page_no = ?", (result.run_id, result.page_no)).fetchall()
            for (old_id,) in old:
                for table in ("tokens", "reviews", "links", "page_results"):
                    db.execute(f"DELETE FROM {table} WHERE page_result_id = ?", (old_id,))
            db.execute(
                "INSERT INTO page_results (page_result_id, run_id, job_id, source_doc_id, page_no, doc) VALUES (?, ?, ?, ?, ?, ?)",
                (result.page_result_id, result.run_id, result.job_id, result.source_doc_id, result.page_no, checked_json(result)),
            )
            _insert_tokens(db, result.page_result_id, tokens)

    def get_page_result(self, page_result_id: str) -> PageResult:
        return PageResult.model_validate_json(self._one("SELECT doc FROM page_results WHERE page_result_id = ?", (page_result_id,)))

    def list_page_results(self, job_id: str) -> list[PageResult]:
        rows = self._connection().execute("SELECT doc FROM page_results WHERE job_id = ? ORDER BY page_no", (job_id,))
        return [PageResult.model_validate_json(r[0]) for r in rows]

    def list_results_for_page(self, source_doc_id: str, page_no: int) -> list[PageResult]:
        rows = self._connection().execute(
            "SELECT doc FROM page_results WHERE source_doc_id = ? AND page_no = ?", (source_doc_id, page_no))
        return sorted((PageResult.model_validate_json(r[0]) for r in rows), key=lambda r: (r.created_at, r.page_result_id))

    def get_tokens(self, page_result_id: str) -> list[Token]:
        return _select_tokens(self._connection(), page_result_id)

    def ingest(self, page_result_id: str, *, mode: Literal["replace", "append"], tokens: list[Token] | None,
               review: Callable[[Review | None], Review] | None, links: list[Link] | None) -> PageResult:
        if mode not in ("replace", "append"):
            raise InputError("mode must be replace or append")
        check_ingest(page_result_id, tokens, links)
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM page_results WHERE page_result_id = ?", (page_result_id,)).fetchone()
            if row is None:
                raise NotFound("no such page result")
            result = PageResult.model_validate_json(row[0])
            if tokens is not None:
                if mode == "replace":
                    db.execute("DELETE FROM tokens WHERE page_result_id = ?", (page_result_id,))
                else:
                    count = db.execute("SELECT COUNT(*) FROM tokens WHERE page_result_id = ?", (page_result_id,)).fetchone()[0]
                    first = min((t.token_no for t in tokens), default=count)
                    if first != count:
                        raise InvalidTransition(f"append must start at token_no {count}, not {first}")
                _insert_tokens(db, page_result_id, tokens)
                count, mean = db.execute("SELECT COUNT(*), AVG(confidence) FROM tokens WHERE page_result_id = ?",
                                         (page_result_id,)).fetchone()
                result = result.model_copy(update={"word_count": count, "mean_confidence": round(mean, 2) if count else None})
                db.execute("UPDATE page_results SET doc = ? WHERE page_result_id = ?", (checked_json(result), page_result_id))
            if review is not None:
                self._write_review(db, page_result_id, review)
            if links is not None:
                if mode == "replace":
                    db.execute("DELETE FROM links WHERE page_result_id = ?", (page_result_id,))
                try:
                    _insert_links(db, links)
                except sqlite3.IntegrityError as exc:
                    raise InvalidTransition("a link with one of these link_ids exists") from exc
        return result

    def get_review(self, page_result_id: str) -> Review | None:
        row = self._connection().execute("SELECT doc FROM reviews WHERE page_result_id = ?", (page_result_id,)).fetchone()
        return Review.model_validate_json(row[0]) if row else None

    def update_review(self, page_result_id: str, mutate: Callable[[Review | None], Review]) -> Review:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM page_results WHERE page_result_id = ?", (page_result_id,)).fetchone() is None:
                raise NotFound("no such page result")
            return self._write_review(db, page_result_id, mutate)

    def _write_review(self, db: sqlite3.Connection, page_result_id: str, mutate: Callable[[Review | None], Review]) -> Review:
        """Read the review, let `mutate` decide the new one and write it, inside the caller's
        transaction."""
        row = db.execute("SELECT doc FROM reviews WHERE page_result_id = ?", (page_result_id,)).fetchone()
        review = mutate(Review.model_validate_json(row[0]) if row else None)
        check_review_target(review, page_result_id)
        db.execute("INSERT OR REPLACE INTO reviews (page_result_id, doc) VALUES (?, ?)", (page_result_id, checked_json(review)))
        return review

    def list_links(self, page_result_id: str) -> list[Link]:
        rows = self._connection().execute("SELECT doc FROM links WHERE page_result_id = ? ORDER BY seq", (page_result_id,))
        return [Link.model_validate_json(r[0]) for r in rows]

    # -- costs and counters --------------------------------------------------------------
    def add_cost(self, entry: CostEntry) -> bool:
        with self._transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM costs").fetchone()[0]
            cur = db.execute(
                "INSERT OR IGNORE INTO costs (cost_id, job_id, seq, doc, created_at, project_id) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.cost_id, entry.job_id, seq, checked_json(entry), entry.created_at.timestamp(), entry.project_id),
            )
            return cur.rowcount == 1

    def list_costs(self, job_id: str) -> list[CostEntry]:
        rows = self._connection().execute("SELECT doc FROM costs WHERE job_id = ? ORDER BY seq", (job_id,))
        return [CostEntry.model_validate_json(r[0]) for r in rows]

    def query_costs(self, *, job_id: str | None = None, project_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int | None = None) -> list[CostEntry]:
        check_cost_query(since, until, limit)
        where, args = [], []
        for clause, value in (("job_id = ?", job_id), ("project_id = ?", project_id),
                              ("created_at >= ?", since and since.timestamp()),
                              ("created_at < ?", until and until.timestamp())):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT doc FROM costs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at, seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [CostEntry.model_validate_json(r[0]) for r in self._connection().execute(sql, args)]

    def increment_counter(self, key: str, expire_at: datetime, now: datetime) -> int:
        with self._transaction() as db:
            db.execute("DELETE FROM counters WHERE expire_at <= ?", (now.timestamp(),))
            db.execute(
                "INSERT INTO counters (key, value, expire_at) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + 1",
                (key, expire_at.timestamp()),
            )
            return db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()[0]


_LIVE_JOIN = "LEFT JOIN jobs j ON j.job_id = s.job_id"
_LIVE = "(s.job_id IS NULL OR (j.job_id IS NOT NULL AND (j.expire_at IS NULL OR j.expire_at > ?)))"
"""A source document is live when no job made it, or its job exists and has not expired."""


def _insert_source_doc(db: sqlite3.Connection, doc: SourceDoc) -> None:
    db.execute("INSERT INTO source_docs (source_doc_id, job_id, created_at, doc) VALUES (?, ?, ?, ?)",
               (doc.source_doc_id, doc.job_id, doc.created_at.timestamp(), checked_json(doc)))


def _put_pages(db: sqlite3.Connection, pages: Sequence[Page]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO doc_pages (page_id, source_doc_id, job_id, page_no, doc) VALUES (?, ?, ?, ?, ?)",
        [(p.page_id, p.source_doc_id, p.job_id, p.page_no, checked_json(p)) for p in pages],
    )


def _read_page(db: sqlite3.Connection, page_id: str) -> Page | None:
    row = db.execute("SELECT doc FROM doc_pages WHERE page_id = ?", (page_id,)).fetchone()
    return Page.model_validate_json(row[0]) if row else None


def _update_page(db: sqlite3.Connection, page: Page) -> None:
    db.execute("UPDATE doc_pages SET doc = ? WHERE page_id = ?", (checked_json(page), page.page_id))


def _insert_tokens(db: sqlite3.Connection, page_result_id: str, tokens: list[Token]) -> None:
    db.executemany(
        f"INSERT INTO tokens (page_result_id, {_TOKEN_COLUMNS}) VALUES ({', '.join('?' * 15)})",
        [(page_result_id, t.token_no, t.text, t.text_norm, t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h,
          t.confidence, t.kind, t.block, t.par, t.line, t.lang, int(t.space_after)) for t in tokens],
    )


def _select_tokens(db: sqlite3.Connection, page_result_id: str) -> list[Token]:
    rows = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE page_result_id = ? ORDER BY token_no", (page_result_id,))
    return [
        Token.model_construct(token_no=r[0], text=r[1], text_norm=r[2], bbox=BBox.model_construct(x=r[3], y=r[4], w=r[5], h=r[6]),
                              confidence=r[7], kind=r[8], block=r[9], par=r[10], line=r[11], lang=r[12],
                              space_after=bool(r[13]))
        for r in rows
    ]


def _insert_links(db: sqlite3.Connection, links: list[Link]) -> None:
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM links").fetchone()[0]
    db.executemany("INSERT INTO links (link_id, page_result_id, seq, doc) VALUES (?, ?, ?, ?)",
                   [(link.link_id, link.page_result_id, seq + i, checked_json(link)) for i, link in enumerate(links, 1)])


def _move_job_pages(db: sqlite3.Connection) -> None:
    """Move pages of the job-keyed `pages` table (before source documents) into `doc_pages`,
    giving each job without one its source document id."""
    for job_id, doc in db.execute("SELECT job_id, doc FROM jobs").fetchall():
        data = json.loads(doc)
        if "source_doc_id" not in data:
            job = Job.model_validate(data)  # draws its source_doc_id
            db.execute("UPDATE jobs SET doc = ? WHERE job_id = ?", (job.model_dump_json(), job_id))
    for job_id, doc in db.execute("SELECT job_id, doc FROM pages").fetchall():
        source_doc_id = json.loads(db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0])["source_doc_id"]
        page = Page.model_validate({**json.loads(doc), "source_doc_id": source_doc_id})
        db.execute("INSERT OR REPLACE INTO doc_pages (page_id, source_doc_id, job_id, page_no, doc) VALUES (?, ?, ?, ?, ?)",
                   (page.page_id, source_doc_id, job_id, page.page_no, page.model_dump_json()))
    db.execute("DROP TABLE pages")


def _expiry(job: Job) -> float | None:
    return job.expiration_time.timestamp() if job.expiration_time else None


def _live(job: Job) -> Job:
    if job.is_expired():
        raise NotFound("job expired")
    return job

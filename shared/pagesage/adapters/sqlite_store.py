"""The embedded store: one SQLite file in WAL mode (stdlib `sqlite3`).

Each record is a JSON document (the pydantic model) in a table keyed like its Firestore
counterpart; tokens are rows so that a page result's words load in one indexed range scan.
Read-modify-write runs inside `BEGIN IMMEDIATE`, which serializes writers across threads and
processes. Each thread has its own connection.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from pagesage.domain.jobs import Job
from pagesage.domain.pages import BBox, CostEntry, Page, PageResult, PageStatus, Run, Token, check_cost_query
from pagesage.errors import InvalidTransition, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, expire_at REAL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expire_at) WHERE expire_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS pages (
    job_id TEXT NOT NULL, page_no INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (job_id, page_no)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_id);
CREATE TABLE IF NOT EXISTS page_results (
    page_result_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, job_id TEXT NOT NULL,
    page_no INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (run_id, page_no));
CREATE INDEX IF NOT EXISTS page_results_by_job ON page_results (job_id, page_no);
CREATE TABLE IF NOT EXISTS tokens (
    page_result_id TEXT NOT NULL, token_no INTEGER NOT NULL, text TEXT NOT NULL,
    text_norm TEXT NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL,
    h INTEGER NOT NULL, confidence REAL NOT NULL, kind TEXT NOT NULL, block INTEGER NOT NULL,
    par INTEGER NOT NULL, line INTEGER NOT NULL, lang TEXT,
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

_COST_INDEXES = """
CREATE INDEX IF NOT EXISTS costs_by_time ON costs (created_at, seq);
CREATE INDEX IF NOT EXISTS costs_by_job_time ON costs (job_id, created_at, seq);
CREATE INDEX IF NOT EXISTS costs_by_project_time ON costs (project_id, created_at, seq) WHERE project_id IS NOT NULL;
"""

_TOKEN_COLUMNS = "token_no, text, text_norm, x, y, w, h, confidence, kind, block, par, line, lang"


class SqliteStore:
    """`Store` on a SQLite database file; each method keeps the contract documented on
    `pagesage.ports.Store`.

    Args:
        path: database file; its folder is created. `:memory:` is not supported (each thread
            would see its own database).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an older PageSage up to this schema: add the `costs`
        columns it lacks (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was),
        fill them from each entry's document, then create the indexes on them."""
        with self._transaction() as db:
            present = {row[1] for row in db.execute("PRAGMA table_info(costs)")}
            for column, kind in _COST_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE costs ADD COLUMN {column} {kind}")
            stale = db.execute("SELECT cost_id, doc FROM costs WHERE created_at IS NULL").fetchall()
            for cost_id, doc in stale:
                entry = CostEntry.model_validate_json(doc)
                db.execute("UPDATE costs SET created_at = ?, project_id = ? WHERE cost_id = ?",
                           (entry.created_at.timestamp(), entry.project_id, cost_id))
        self._connection().executescript(_COST_INDEXES)

    # -- connections ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _one(self, sql: str, args: tuple) -> str:
        row = self._connection().execute(sql, args).fetchone()
        if row is None:
            raise NotFound("no such record")
        return row[0]

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, job: Job) -> None:
        with self._transaction() as db:
            try:
                db.execute("INSERT INTO jobs (job_id, expire_at, doc) VALUES (?, ?, ?)", (job.job_id, _expiry(job), job.model_dump_json()))
            except sqlite3.IntegrityError as exc:
                raise InvalidTransition(f"job {job.job_id} exists") from exc

    def get_job(self, job_id: str) -> Job:
        return _live(Job.model_validate_json(self._one("SELECT doc FROM jobs WHERE job_id = ?", (job_id,))))

    def update_job(self, job_id: str, mutate: Callable[[Job], None]) -> Job:
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound("no such job")
            job = _live(Job.model_validate_json(row[0]))
            mutate(job)
            db.execute("UPDATE jobs SET expire_at = ?, doc = ? WHERE job_id = ?", (_expiry(job), job.model_dump_json(), job_id))
        return job

    def list_expired_jobs(self, now: datetime, limit: int = 100) -> list[str]:
        rows = self._connection().execute(
            "SELECT job_id FROM jobs WHERE expire_at <= ? ORDER BY expire_at LIMIT ?", (now.timestamp(), limit))
        return [r[0] for r in rows]

    def delete_job(self, job_id: str) -> None:
        with self._transaction() as db:
            for (result_id,) in db.execute("SELECT page_result_id FROM page_results WHERE job_id = ?", (job_id,)).fetchall():
                db.execute("DELETE FROM tokens WHERE page_result_id = ?", (result_id,))
            for table in ("page_results", "runs", "pages", "jobs"):
                db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

    # -- pages ---------------------------------------------------------------------------
    def put_pages(self, pages: list[Page]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pages (job_id, page_no, doc) VALUES (?, ?, ?)",
                [(p.job_id, p.page_no, p.model_dump_json()) for p in pages],
            )

    def get_page(self, job_id: str, page_no: int) -> Page:
        return Page.model_validate_json(self._one("SELECT doc FROM pages WHERE job_id = ? AND page_no = ?", (job_id, page_no)))

    def list_pages(self, job_id: str) -> list[Page]:
        rows = self._connection().execute("SELECT doc FROM pages WHERE job_id = ? ORDER BY page_no", (job_id,))
        return [Page.model_validate_json(r[0]) for r in rows]

    def finish_page(self, page: Page) -> tuple[Job, bool]:
        if page.status is PageStatus.PENDING:
            raise InvalidTransition("finish_page needs a done or failed page")
        with self._transaction() as db:
            row = db.execute("SELECT doc FROM pages WHERE job_id = ? AND page_no = ?", (page.job_id, page.page_no)).fetchone()
            if row is None:
                raise NotFound("no such page")
            job = Job.model_validate_json(db.execute("SELECT doc FROM jobs WHERE job_id = ?", (page.job_id,)).fetchone()[0])
            if Page.model_validate_json(row[0]).status is not PageStatus.PENDING:
                return job, False
            if page.status is PageStatus.DONE:
                job.pages_done += 1
            else:
                job.pages_failed += 1
            db.execute("UPDATE pages SET doc = ? WHERE job_id = ? AND page_no = ?", (page.model_dump_json(), page.job_id, page.page_no))
            db.execute("UPDATE jobs SET doc = ? WHERE job_id = ?", (job.model_dump_json(), job.job_id))
        return job, True

    # -- runs and results ----------------------------------------------------------------
    def put_run(self, run: Run) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO runs (run_id, job_id, doc) VALUES (?, ?, ?)", (run.run_id, run.job_id, run.model_dump_json()))

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate_json(self._one("SELECT doc FROM runs WHERE run_id = ?", (run_id,)))

    def list_runs(self, job_id: str) -> list[Run]:
        rows = self._connection().execute("SELECT doc FROM runs WHERE job_id = ?", (job_id,))
        return sorted((Run.model_validate_json(r[0]) for r in rows), key=lambda r: r.started_at)

    def put_page_result(self, result: PageResult, tokens: list[Token]) -> None:
        with self._transaction() as db:
            old = db.execute("SELECT page_result_id FROM page_results WHERE run_id = ? AND page_no = ?", (result.run_id, result.page_no)).fetchall()
            for (old_id,) in old:
                db.execute("DELETE FROM tokens WHERE page_result_id = ?", (old_id,))
                db.execute("DELETE FROM page_results WHERE page_result_id = ?", (old_id,))
            db.execute(
                "INSERT INTO page_results (page_result_id, run_id, job_id, page_no, doc) VALUES (?, ?, ?, ?, ?)",
                (result.page_result_id, result.run_id, result.job_id, result.page_no, result.model_dump_json()),
            )
            db.executemany(
                f"INSERT INTO tokens (page_result_id, {_TOKEN_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                [(result.page_result_id, t.token_no, t.text, t.text_norm, t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h,
                  t.confidence, t.kind, t.block, t.par, t.line, t.lang) for t in tokens],
            )

    def list_page_results(self, job_id: str) -> list[PageResult]:
        rows = self._connection().execute("SELECT doc FROM page_results WHERE job_id = ? ORDER BY page_no", (job_id,))
        return [PageResult.model_validate_json(r[0]) for r in rows]

    def get_tokens(self, page_result_id: str) -> list[Token]:
        rows = self._connection().execute(
            f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE page_result_id = ? ORDER BY token_no", (page_result_id,))
        return [
            Token.model_construct(token_no=r[0], text=r[1], text_norm=r[2], bbox=BBox.model_construct(x=r[3], y=r[4], w=r[5], h=r[6]),
                                  confidence=r[7], kind=r[8], block=r[9], par=r[10], line=r[11], lang=r[12])
            for r in rows
        ]

    # -- costs and counters --------------------------------------------------------------
    def add_cost(self, entry: CostEntry) -> bool:
        with self._transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM costs").fetchone()[0]
            cur = db.execute(
                "INSERT OR IGNORE INTO costs (cost_id, job_id, seq, doc, created_at, project_id) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.cost_id, entry.job_id, seq, entry.model_dump_json(), entry.created_at.timestamp(), entry.project_id),
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


def _expiry(job: Job) -> float | None:
    return job.expiration_time.timestamp() if job.expiration_time else None


def _live(job: Job) -> Job:
    if job.is_expired():
        raise NotFound("job expired")
    return job

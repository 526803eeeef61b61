"""One SQLite database file shared by the embedded stores (`SqliteStore`, `SqliteBookStore`):
a connection per thread in WAL mode, and read-modify-write transactions.

`BEGIN IMMEDIATE` takes the write lock at the start, so transactions of several threads (and
processes) on the file run one after another instead of failing on a lock upgrade; a
connection waits up to `BUSY_SECONDS` for it (SQLite "Write-Ahead Logging", "BEGIN TRANSACTION").
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUSY_SECONDS = 30.0
"""How long a connection waits for another writer's lock before `database is locked`."""


class SqliteDatabase:
    """Connections to the database file at `path`, one per thread; `foreign_keys` turns on
    SQLite's foreign key checks on each."""

    def __init__(self, path: Path, *, foreign_keys: bool = False) -> None:
        self.path = Path(path)
        self._foreign_keys = foreign_keys
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if self._foreign_keys:
                db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back when the body raises."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

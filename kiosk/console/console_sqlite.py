"""The console's store in the collector's SQLite file: one connection of its own (WAL, every commit fsynced).

Console traffic is light (a login, a session looked up per request), so one connection behind a lock does for
reads and writes. BEGIN IMMEDIATE takes the file's write lock at the start of a write, which keeps out every
other writer of the file, the collector's own connection and another process's included: that is the lock
`_lock` would otherwise take.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from kiosk.collector import schema
from kiosk.console.console_store import ConsoleStore
from kiosk.errors import StoreError

BUSY_TIMEOUT_MS = 10_000  # the collector storing a batch holds the write lock this long at most


class SqliteConsoleStore(ConsoleStore):
    dialect = schema.SQLITE

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock_ = threading.Lock()
        with self._errors("open"):
            _create_private(self.path)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            try:
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")  # a trail entry survives a power cut
                with self._write("create its tables") as db:
                    self._migrate_with(db)
            except BaseException:
                self._db.close()
                raise

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"console database {self.path}: cannot {doing}: {schema.one_line(err)}") from None

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing), self._lock_:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to tell
                        db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing), self._lock_:
            yield self._db

    def _lock(self, db: object, key: int) -> None:
        """BEGIN IMMEDIATE holds the whole file's write lock already."""

    def close(self) -> None:
        with self._lock_:
            self._db.close()


def _create_private(path: Path) -> None:
    """The file made readable by its owner only (accounts, and the collector's personal data of visitors)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's -wal/-shm copy this mode
    elif path.is_file() and path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        os.chmod(path, 0o600)

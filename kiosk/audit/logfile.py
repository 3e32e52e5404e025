"""The audit log's file: made readable by its owner only, opened in WAL with every commit fsynced, and brought
back from the open connection when someone deletes it while the kiosk runs."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import sqlite_utils


def connect(path: Path | None) -> tuple[sqlite_utils.Database, int | None]:
    """A connection to the log at `path` (None: in memory) and the inode of its file."""
    if path is None:
        db = sqlite_utils.Database(memory=True)
    else:
        _private(path)
        db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None, check_same_thread=False))
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error:
            db.conn.close()  # else the file stays open (a medium cannot be unmounted) until garbage collection
            raise
    db.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
    db.execute("PRAGMA busy_timeout=5000")
    return db, path.stat().st_ino if path is not None else None


def _private(path: Path) -> None:
    """Create the file at `path` (and its folders) readable by its owner only, or make it so."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's -wal/-shm copy this mode
    elif path.is_file() and path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        os.chmod(path, 0o600)  # a log made by hand or an older version: personal data, owner only


def restore(path: Path, conn: sqlite3.Connection) -> None:
    """Copy what the open connection `conn` holds (every committed event) to a new file at `path`, 0600."""
    _private(path)
    with contextlib.closing(sqlite3.connect(str(path))) as restored:
        conn.backup(restored)

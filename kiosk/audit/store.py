"""The audit log on disk: SQLite through sqlite-utils, WAL, one durable transaction per event.

An event is committed (and fsynced: synchronous=FULL) before `append` returns,
so a verdict is shown only once its event survives a power cut. Failures to
write (a full disk, a read-only or corrupt file) raise LogWriteError with a
plain message; the caller keeps deciding and tells staff logging stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import sqlite_utils

from kiosk.audit.events import COLUMNS, GENESIS, Event, chain_hash, id_after, new_id
from kiosk.audit.normal import normalized
from kiosk.errors import KioskError


class LogWriteError(KioskError):
    """The audit log could not be written; nothing was half-written."""


def _create_events(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE events (
        id TEXT PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, site TEXT, lane TEXT, device TEXT,
        verdict TEXT, reason TEXT, status TEXT, code_kind TEXT, kid TEXT, iss TEXT, code_iat INTEGER,
        subject_ref TEXT, temperature REAL, operator TEXT, details TEXT, prev_hash BLOB NOT NULL)""")
    db.execute("CREATE INDEX events_at ON events(at)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")


def _index_hand_made(db: sqlite_utils.Database) -> None:
    # Registrations and their corrections are few among millions of scans: exports and reports find them here.
    db.execute("CREATE INDEX events_by_hand ON events(at) WHERE kind IN ('manual', 'correction')")


# Named, ordered, each applied once in its own transaction; never edit one that has shipped.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_events_and_meta", _create_events),
    ("0002_hand_made_index", _index_hand_made),
]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad: str | None = None  # id of the first event that is altered, or after a missing one
    problem: str | None = None


class AuditLog:
    def __init__(self, path: Path | str | None = None) -> None:
        """Open (or create, readable by its owner only) the log at `path`; None keeps it in memory."""
        self.path = Path(path) if path is not None else None
        self._inode: int | None = None
        # The checkpoint's worker logs verdicts while the admin screens log their actions from another thread:
        # on one connection, a second BEGIN inside the first's transaction fails, and its rollback undoes the
        # first's; and the head must move in the order events are written.
        self._lock = threading.RLock()
        try:
            self.db = self._connect()
            self._migrate()
            self._head, self._last_id = self._load_head()
        except (sqlite3.DatabaseError, OSError) as err:
            if getattr(self, "db", None) is not None:
                self.close()
            raise LogWriteError(f"audit log {path or ':memory:'}: {err}") from None

    def _connect(self) -> sqlite_utils.Database:
        if self.path is None:
            db = sqlite_utils.Database(memory=True)
        else:
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's -wal/-shm copy this mode
            elif self.path.is_file() and self.path.stat().st_mode & 0o077 and self.path.stat().st_uid == os.getuid():
                os.chmod(self.path, 0o600)  # a log made by hand or an older version: personal data, owner only
            db = sqlite_utils.Database(sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False))
            try:
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error:
                db.conn.close()  # else the file stays open (a medium cannot be unmounted) until garbage collection
                raise
            self._inode = self.path.stat().st_ino
        db.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
        db.execute("PRAGMA busy_timeout=5000")
        return db

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations").fetchall()}
        for name, migration in [(n, m) for n, m in MIGRATIONS if n not in done]:
            with self._transaction():  # checked again under the write lock: two processes opening one file agree
                if self.db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone() is None:
                    migration(self.db)
                    self.db.execute("INSERT INTO migrations VALUES (?, datetime('now'))", [name])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:  # SQLITE_FULL and others roll back by themselves
                self.db.execute("ROLLBACK")
            raise

    def _load_head(self) -> tuple[bytes, str]:
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        return meta.get("head", GENESIS), (meta.get("head_id") or b"").decode()

    def _meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def next_id(self, at: float) -> str:
        """A ULID for `at`, always above the last one, so ids sort in the order events were written."""
        candidate = new_id(at)
        if candidate > self._last_id:
            return candidate
        return id_after(self._last_id)

    def append(self, event: Event) -> Event:
        """Write `event` after the current head and commit durably; returns it as stored."""
        event = normalized(event)
        with self._lock:
            if not _ULID.fullmatch(event.id) or event.id <= self._last_id:
                event = replace(event, id=self.next_id(event.at))
            try:
                self._check_file()
                with self._transaction():
                    head = self._insert(event)
            except (sqlite3.Error, ValueError, OverflowError) as err:
                raise LogWriteError(f"audit log {self.path or ':memory:'}: cannot write: {err}") from None
            self._head, self._last_id = head, event.id
        return event

    def _insert(self, event: Event) -> bytes:
        """Insert after the head inside the caller's transaction; returns the new head hash."""
        row = {name: getattr(event, name) for name in COLUMNS}
        row["details"] = json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else None
        head = chain_hash(self._head, event)
        self.db.execute(f"INSERT INTO events ({', '.join(COLUMNS)}, prev_hash) VALUES "
                        f"({', '.join('?' * len(COLUMNS))}, ?)", [*row.values(), self._head])
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?), ('head_id', ?)", [head, event.id.encode()])
        return head

    def _check_file(self) -> None:
        """Writing into a file someone deleted would be acknowledged and then lost: bring it back first."""
        if self.path is None:
            return
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            inode = None
        if inode == self._inode:
            return
        if inode is not None:
            raise LogWriteError(f"audit log {self.path}: the file was replaced while open; reopen the kiosk")
        # The open connection still holds every committed event: copy them back to the path, then use the copy.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        restored = sqlite3.connect(str(self.path))
        try:
            self.db.conn.backup(restored)
        finally:
            restored.close()
        self.db.conn.close()
        self.db = self._connect()

    def events(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
               batch: int = 5000) -> Iterator[Event]:
        """Events in the order they were written, optionally within [since, until) and of one verdict."""
        where, args = ["1"], []
        for clause, value in (("at >= ?", since), ("at < ?", until), ("verdict = ?", verdict)):
            if value is not None:
                where.append(clause)
                args.append(value)
        cursor = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM events WHERE {' AND '.join(where)} "
                                 "ORDER BY rowid", args)
        while rows := cursor.fetchmany(batch):
            for values in rows:
                yield _event(values)

    def latest(self, limit: int) -> list[Event]:
        """The newest `limit` events, newest first (the admin screen's recent events)."""
        with self._lock:
            rows = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY rowid DESC LIMIT ?",
                                   [limit]).fetchall()
        return [_event(values) for values in rows]

    def find(self, event_id: str) -> Event | None:
        """The event with this id, if the log holds it."""
        with self._lock:
            row = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM events WHERE id = ?", [event_id]).fetchone()
        return _event(row) if row is not None else None

    def count(self) -> int:
        try:
            with self._lock:
                return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.DatabaseError as err:
            raise LogWriteError(f"audit log {self.path}: cannot read: {err}") from None

    def verify(self) -> ChainReport:
        """Walk the chain from the anchor (GENESIS, or the last purged event) to the stored head.

        Only links are stored, so a break shows at the first event whose link does
        not match the event before it: that one was altered, or events between
        them are missing; that is the event named. An altered newest event is
        told from missing newest events by the head's id.
        """
        try:
            return self._verify()
        except sqlite3.DatabaseError as err:
            return ChainReport(False, 0, None, f"the database file is damaged: {err}")

    def _verify(self) -> ChainReport:
        expected = self._meta("anchor") or GENESIS
        count, last_id = 0, None
        cursor = self.db.execute(f"SELECT {', '.join(COLUMNS)}, prev_hash FROM events ORDER BY rowid")
        while rows := cursor.fetchmany(5000):
            for values in rows:
                event, prev = _event(values[:-1]), values[-1]
                if prev != expected:
                    return ChainReport(False, count, event.id, "its link does not match the event before it: "
                                       "that event was altered, or events between them are missing")
                expected, last_id = chain_hash(prev, event), event.id
                count += 1
        if expected != (self._meta("head") or GENESIS):
            if last_id is not None and (self._meta("head_id") or b"").decode() == last_id:
                return ChainReport(False, count - 1, last_id, "the newest event (or the stored head) was altered")
            return ChainReport(False, count, None, "the newest events are missing (the head does not match)")
        return ChainReport(True, count)

    def purge(self, before: float, *, keep_after_id: str | None = None, at: float, operator: str | None = None
              ) -> int:
        """Delete the oldest events, up to the first one at or after `before` (and never the event
        `keep_after_id` or any after it: the unsynced ones), and log the purge in the same transaction."""
        with self._lock:
            return self._purge(before, keep_after_id, at, operator)

    def _purge(self, before: float, keep_after_id: str | None, at: float, operator: str | None) -> int:
        stop = self.db.execute("SELECT min(rowid) FROM events WHERE at >= ?", [before]).fetchone()[0]
        if keep_after_id is not None:
            keep = self.db.execute("SELECT min(rowid) FROM events WHERE id >= ?", [keep_after_id]).fetchone()[0]
            stop = keep if stop is None else min(stop, keep) if keep is not None else stop
        row = self.db.execute("SELECT id, rowid FROM events WHERE rowid < ? ORDER BY rowid DESC LIMIT 1",
                              [stop if stop is not None else 2**63 - 1]).fetchone()
        if row is None:
            return 0
        last_id, last_rowid = row
        anchor = self._hash_through(last_rowid)  # the chain will verify from the last deleted event
        event = normalized(Event(self.next_id(at), at, "purge", operator=operator,
                                 details={"before": before, "through": last_id}))
        try:
            self._check_file()
            with self._transaction():
                count = self.db.execute("DELETE FROM events WHERE rowid <= ?", [last_rowid]).rowcount
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('anchor', ?)", [anchor])
                event = replace(event, details={**event.details, "deleted": count})
                head = self._insert(event)
        except (sqlite3.Error, ValueError, OverflowError) as err:
            raise LogWriteError(f"audit log {self.path}: cannot purge: {err}") from None
        self._head, self._last_id = head, event.id
        return int(count)

    def _hash_through(self, rowid: int) -> bytes:
        expected = self._meta("anchor") or GENESIS
        for values in self.db.execute(f"SELECT {', '.join(COLUMNS)}, prev_hash FROM events WHERE rowid <= ? "
                                      "ORDER BY rowid", [rowid]):
            expected = chain_hash(values[-1], _event(values[:-1]))
        return expected

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.conn.close()


_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Z]{25}")  # what next_id can count up from


def _event(values: tuple[object, ...]) -> Event:
    fields = dict(zip(COLUMNS, values))
    fields["details"] = json.loads(fields["details"]) if fields["details"] else {}  # type: ignore[arg-type]
    return Event(**fields)  # type: ignore[arg-type]

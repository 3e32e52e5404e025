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
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import sqlite_utils

from kiosk.audit.events import COLUMNS, GENESIS, Event, chain_hash, new_id
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


# Named, ordered, each applied once in its own transaction; never edit one that has shipped.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_events_and_meta", _create_events),
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
        try:
            if path is None:
                self.db = sqlite_utils.Database(memory=True)
            else:
                path = Path(path)
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's -wal/-shm copy this mode
                self.db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None,
                                                                check_same_thread=False))
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
            self.db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
            self._head, self._last_id = self._load_head()
        except sqlite3.DatabaseError as err:
            raise LogWriteError(f"audit log {path or ':memory:'}: {err}") from None
        self.path = path

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations").fetchall()}
        for name, migration in MIGRATIONS:
            if name not in done:
                with self._transaction():
                    migration(self.db)
                    self.db.execute("INSERT INTO migrations VALUES (?, datetime('now'))", [name])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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
        number = _decode(self._last_id) + 1
        return "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(number >> s) & 31] for s in range(125, -1, -5))

    def append(self, event: Event) -> Event:
        """Write `event` after the current head and commit durably; returns it as stored."""
        if not event.id or event.id <= self._last_id:
            event = replace(event, id=self.next_id(event.at))
        row = {name: getattr(event, name) for name in COLUMNS}
        row["details"] = json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else None
        head = chain_hash(self._head, event)
        try:
            with self._transaction():
                self.db.execute(f"INSERT INTO events ({', '.join(COLUMNS)}, prev_hash) VALUES "
                                f"({', '.join('?' * len(COLUMNS))}, ?)", [*row.values(), self._head])
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?), ('head_id', ?)",
                                [head, event.id.encode()])
        except sqlite3.Error as err:
            raise LogWriteError(f"audit log {self.path or ':memory:'}: cannot write: {err}") from None
        self._head, self._last_id = head, event.id
        return event

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

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def verify(self) -> ChainReport:
        """Walk the chain from the anchor (GENESIS, or the last purged event) to the stored head."""
        expected = self._meta("anchor") or GENESIS
        count = 0
        cursor = self.db.execute(f"SELECT {', '.join(COLUMNS)}, prev_hash FROM events ORDER BY rowid")
        while rows := cursor.fetchmany(5000):
            for values in rows:
                event, prev = _event(values[:-1]), values[-1]
                if prev != expected:
                    return ChainReport(False, count, event.id, "an event before it is missing or was altered")
                expected = chain_hash(prev, event)
                count += 1
        if expected != (self._meta("head") or GENESIS):
            return ChainReport(False, count, None, "the newest events are missing (the head does not match)")
        return ChainReport(True, count)

    def purge(self, before: float, *, keep_after_id: str | None = None, at: float, operator: str | None = None
              ) -> int:
        """Delete events older than `before` (and, if given, not after `keep_after_id`), then log the purge."""
        limit_id = min(self.next_id(before), keep_after_id or "~")
        row = self.db.execute("SELECT id, rowid FROM events WHERE id < ? ORDER BY rowid DESC "
                              "LIMIT 1", [limit_id]).fetchone()
        if row is None:
            return 0
        last_id, last_rowid = row
        # The new anchor: the hash of the last purged event, so the chain still verifies from there.
        anchor = self._hash_through(last_rowid)
        try:
            with self._transaction():
                count = self.db.execute("DELETE FROM events WHERE rowid <= ?", [last_rowid]).rowcount
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('anchor', ?)", [anchor])
        except sqlite3.Error as err:
            raise LogWriteError(f"audit log {self.path}: cannot purge: {err}") from None
        self.append(Event(self.next_id(at), at, "purge", operator=operator,
                          details={"deleted": count, "before": before, "through": last_id}))
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


def _event(values: tuple[object, ...]) -> Event:
    fields = dict(zip(COLUMNS, values))
    fields["details"] = json.loads(fields["details"]) if fields["details"] else {}  # type: ignore[arg-type]
    return Event(**fields)  # type: ignore[arg-type]


def _decode(ulid: str) -> int:
    number = 0
    for char in ulid:
        number = number * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(char)
    return number

"""The audit log on disk: SQLite through sqlite-utils, WAL, one durable transaction per event.

An event is committed (and fsynced: synchronous=FULL) before `append` returns,
so a verdict is shown only once its event survives a power cut. Failures to
write (a full disk, a read-only or corrupt file) raise LogWriteError with a
plain message; the caller keeps deciding and tells staff logging stopped.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kiosk.audit import logfile, schema
from kiosk.audit.events import GENESIS, Event, chain_hash, id_after, new_id
from kiosk.audit.normal import normalized
from kiosk.audit.schema import LINKED, MIGRATIONS, MIGRATIONS_TABLE, SELECT, event_of
from kiosk.audit.snapshot import Snapshot, open_snapshot
from kiosk.closing import ClosedOnExit
from kiosk.errors import LogWriteError


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad: str | None = None  # id of the first event that is altered, or after a missing one
    problem: str | None = None


class AuditLog(ClosedOnExit):
    def __init__(self, path: Path | str | None = None) -> None:
        """Open (or create, readable by its owner only) the log at `path`; None keeps it in memory."""
        self.path = Path(path) if path is not None else None
        # The checkpoint's worker logs verdicts while the admin screens log their actions from another thread:
        # on one connection, a second BEGIN inside the first's transaction fails, and its rollback undoes the
        # first's; and the head must move in the order events are written.
        self._lock = threading.RLock()
        try:
            self.db, self._inode = logfile.connect(self.path)
            self._migrate()
            self._head, self._last_id = self._load_head()
        except (sqlite3.DatabaseError, OSError) as err:
            if getattr(self, "db", None) is not None:
                self.close()
            raise LogWriteError(f"audit log {path or ':memory:'}: {err}") from None

    def _migrate(self) -> None:
        self.db.execute(MIGRATIONS_TABLE)
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations").fetchall()}
        for name, migration in [(n, m) for n, m in MIGRATIONS if n not in done]:
            with self._transaction():  # checked again under the write lock: two processes opening one file agree
                if self.db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone() is None:
                    migration(self.db.conn)
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
        return self._meta(schema.HEAD) or GENESIS, (self._meta(schema.HEAD_ID) or b"").decode()

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
        head = chain_hash(self._head, event)
        self.db.execute(schema.INSERT, [*schema.row_of(event), self._head])
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
                        [schema.HEAD, head, schema.HEAD_ID, event.id.encode()])
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
        logfile.restore(self.path, self.db.conn)
        self.db.conn.close()
        self.db, self._inode = logfile.connect(self.path)

    def events(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
               batch: int = 5000) -> Iterator[Event]:
        """Events in the order they were written, optionally within [since, until) and of one verdict."""
        where, args = ["1"], []
        for clause, value in (("at >= ?", since), ("at < ?", until), ("verdict = ?", verdict)):
            if value is not None:
                where.append(clause)
                args.append(value)
        cursor = self.db.execute(f"SELECT {SELECT} FROM events WHERE {' AND '.join(where)} ORDER BY rowid", args)
        while rows := cursor.fetchmany(batch):
            for values in rows:
                yield event_of(values)

    def latest(self, limit: int) -> list[Event]:
        """The newest `limit` events, newest first (the admin screen's recent events)."""
        with self._lock:
            rows = self.db.execute(f"SELECT {SELECT} FROM events ORDER BY rowid DESC LIMIT ?", [limit]).fetchall()
        return [event_of(values) for values in rows]

    def find(self, event_id: str) -> Event | None:
        """The event with this id, if the log holds it."""
        with self._lock:
            row = self.db.execute(f"SELECT {SELECT} FROM events WHERE id = ?", [event_id]).fetchone()
        return event_of(row) if row is not None else None

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
        expected = self._meta(schema.ANCHOR) or GENESIS
        count, last_id = 0, None
        cursor = self.db.execute(f"SELECT {LINKED} FROM events ORDER BY rowid")
        while rows := cursor.fetchmany(5000):
            for values in rows:
                event, prev = event_of(values[:-1]), values[-1]
                if prev != expected:
                    return ChainReport(False, count, event.id, "its link does not match the event before it: "
                                       "that event was altered, or events between them are missing")
                expected, last_id = chain_hash(prev, event), event.id
                count += 1
        if expected != (self._meta(schema.HEAD) or GENESIS):
            if last_id is not None and (self._meta(schema.HEAD_ID) or b"").decode() == last_id:
                return ChainReport(False, count - 1, last_id, "the newest event (or the stored head) was altered")
            return ChainReport(False, count, None, "the newest events are missing (the head does not match)")
        return ChainReport(True, count)

    def purge(self, before: float, *, at: float, operator: str | None = None, syncing: bool | None = None,
              keep_after_id: str | None = None) -> int:
        """Delete the oldest events, up to the first one at or after `before`, and log the purge in the same
        transaction; returns how many were deleted.

        Never deleted: the events a collector has not acknowledged (the first after the sync state's
        `synced_id`, and every one after it) while the log is synced to one: `syncing` says whether it is
        (the kiosk has a collector); None means "if the log has a sync state", i.e. it has been synced.
        Nor the event `keep_after_id` or any after it."""
        with self._lock:
            state = schema.sync_state(self.db.conn)
            if syncing or (syncing is None and state is not None):
                unsynced = schema.first_after(self.db.conn, state.synced_id if state is not None else None)
                if unsynced is not None:
                    keep_after_id = unsynced if keep_after_id is None else min(keep_after_id, unsynced)
            return self._purge(before, keep_after_id, at, operator)

    def _purge(self, before: float, keep_after_id: str | None, at: float, operator: str | None) -> int:
        stop = self.db.execute("SELECT min(rowid) FROM events WHERE at >= ?", [before]).fetchone()[0]
        if keep_after_id is not None:
            keep = self.db.execute("SELECT min(rowid) FROM events WHERE id >= ?", [keep_after_id]).fetchone()[0]
            stop = keep if stop is None else min(stop, keep) if keep is not None else stop
        below, bound = ("rowid < ?", [stop]) if stop is not None else ("1", [])
        row = self.db.execute(f"SELECT id, rowid FROM events WHERE {below} ORDER BY rowid DESC LIMIT 1",
                              bound).fetchone()
        if row is None:
            return 0
        last_id, last_rowid = row
        anchor = self._own_hash(last_rowid)  # the chain will verify from the last deleted event
        event = normalized(Event(self.next_id(at), at, "purge", operator=operator,
                                 details={"before": before, "through": last_id}))
        try:
            self._check_file()
            with self._transaction():
                count = self.db.execute("DELETE FROM events WHERE rowid <= ?", [last_rowid]).rowcount
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [schema.ANCHOR, anchor])
                event = replace(event, details={**event.details, "deleted": count})
                head = self._insert(event)
        except (sqlite3.Error, ValueError, OverflowError) as err:
            raise LogWriteError(f"audit log {self.path}: cannot purge: {err}") from None
        self._head, self._last_id = head, event.id
        return int(count)

    def _own_hash(self, rowid: int) -> bytes:
        """The hash of the event at `rowid`, from its fields and the link stored with it: the next one's link."""
        values = self.db.execute(f"SELECT {LINKED} FROM events WHERE rowid = ?", [rowid]).fetchone()
        return chain_hash(values[-1], event_of(values[:-1]))

    def snapshot(self) -> contextlib.AbstractContextManager[Snapshot]:
        """One consistent state of the log to read from (exports, reports), on a read-only connection of its
        own so the kiosk keeps writing; an in-memory log has no other way in than its own connection."""
        return open_snapshot(self.path, self.db.conn)

    def bulk_load(self, batches: Iterable[Sequence[Sequence[object]]]) -> None:
        """Copy rows of schema.COLUMNS (details as JSON text) in, without links or a head, in one transaction;
        an id already there is kept. Only for a scratch copy to export or report from (the collector's): its
        chain does not verify, and nothing is fsynced."""
        with self._lock:
            self.db.execute("PRAGMA synchronous=OFF")
            try:
                with self._transaction():
                    for rows in batches:
                        self.db.conn.executemany(schema.INSERT_UNLINKED, rows)
            finally:
                self.db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.conn.close()


_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Z]{25}")  # what next_id can count up from


"""The collector's database for one site: a SQLite file, WAL, every commit fsynced.

Writes go through one connection behind a lock: SQLite takes one writer at a
time anyway, and BEGIN IMMEDIATE keeps a second process on the same file out
too. Reads take a connection of their own from a small pool, so the web
server's threads look devices up and export while a batch is being stored
(WAL lets readers run beside the writer).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from kiosk.closing import ClosedOnExit
from kiosk.collector import rollup
from kiosk.collector import schema as q
from kiosk.collector.reads import ConsoleReads
from kiosk.collector.store import REPLAY_MEMORY, Device, Ingested, StoredFault
from kiosk.errors import StoreError
from kiosk.sync.protocol import Batch

D = q.SQLITE
MAX_IDLE_READERS = 8  # more threads than this reading at once open connections and close them afterwards
BUSY_TIMEOUT_MS = 10_000  # another process writing the file (a backup, a second server) is waited for this long


class _Tx:
    """A connection as kiosk.collector.dialect.Tx."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        return self.db.execute(sql, args).fetchall()

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        return self.db.execute(sql, args).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self.db.executemany(sql, rows)


class SqliteStore(ConsoleReads, ClosedOnExit):
    def __init__(self, path: Path | str, *, zone: tzinfo | None = None) -> None:
        """Open (or create, readable by its owner only) the database at `path`. `zone`: the day zone of a new
        database (default: the machine's); an existing one keeps its own (see `set_day_zone`)."""
        self.path = Path(path)
        self._zone = zone
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        with self._errors("open"):
            self._create_file()
            self._writer = self._connect()
            try:
                self._writer.execute("PRAGMA journal_mode=WAL")
                self._writer.execute("PRAGMA synchronous=FULL")  # a stored batch survives a power cut
                self._migrate()
            except BaseException:
                self._writer.close()
                raise

    def _create_file(self) -> None:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's -wal/-shm copy this mode
        elif self.path.is_file() and self.path.stat().st_mode & 0o077 and self.path.stat().st_uid == os.getuid():
            os.chmod(self.path, 0o600)  # personal data of every site's visitors: owner only

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: a connection is used by one thread at a time, but not always the same one.
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return db

    def _migrate(self) -> None:
        self._writer.execute(q.MIGRATIONS_TABLE.format(real=D.real))
        done = {row[0] for row in self._writer.execute("SELECT name FROM migrations")}
        for name, tables in q.MIGRATIONS:
            if name in done:
                continue
            with self._transaction("create its tables") as db:  # checked again under the write lock
                if db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone() is None:
                    for statement in tables(D):
                        db.execute(statement)
                    if name in q.FILLS:
                        q.FILLS[name](_Tx(db), self._zone)
                    db.execute("INSERT INTO migrations VALUES (?, ?)", [name, time.time()])

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"collector database {self.path}: cannot {doing}: {q.one_line(err)}") from None

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing), self._write_lock:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write: no deadlock with a reader
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLITE_FULL and others roll back by themselves
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to tell
                        db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _reader(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing):
            with self._pool_lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the store is closed")
                db = self._idle.pop() if self._idle else None
            if db is None:
                db = self._connect()
                db.execute("PRAGMA query_only=ON")
            try:
                yield db
            finally:
                with self._pool_lock:
                    keep = not self._closed and len(self._idle) < MAX_IDLE_READERS
                    if keep:
                        self._idle.append(db)
                if not keep:
                    db.close()

    @contextlib.contextmanager
    def _tx(self, doing: str, write: bool = False) -> Iterator[_Tx]:
        """For ConsoleReads: a reader's connection, or the write transaction."""
        with self._transaction(doing) if write else self._reader(doing) as db:
            yield _Tx(db)

    def enroll(self, public_key: bytes, name: str, at: float) -> Device:
        device_id = q.device_id_of(public_key)
        with self._transaction(f"enroll device {device_id}") as db:
            if db.execute(q.ENROLL, [device_id, public_key, name, at]).rowcount == 0:
                raise StoreError(f"device id {device_id} is enrolled with another key")
            return q.device_of(db.execute(q.SELECT_DEVICE, [device_id]).fetchone())

    def revoke(self, device_id: str, at: float) -> Device:
        with self._transaction(f"revoke device {device_id}") as db:
            if db.execute(q.REVOKE, [at, device_id]).rowcount == 0:
                raise StoreError(f"device {device_id} is not enrolled")
            return q.device_of(db.execute(q.SELECT_DEVICE, [device_id]).fetchone())

    def device(self, device_id: str) -> Device | None:
        with self._reader("read devices") as db:
            row = db.execute(q.SELECT_DEVICE, [device_id]).fetchone()
        return q.device_of(row) if row is not None else None

    def devices(self) -> list[Device]:
        with self._reader("read devices") as db:
            return [q.device_of(row) for row in db.execute(q.SELECT_DEVICES).fetchall()]

    def ingest(self, batch: Batch, received_at: float) -> Ingested:
        q.refuse_unstorable(batch)
        with self._transaction(f"store a batch of device {batch.device}") as db:
            db.execute(q.PRUNE, [received_at - REPLAY_MEMORY])
            if db.execute(q.SEEN, [batch.digest]).fetchone() is not None:
                raise q.replayed(batch)
            head = q.head_of(batch.device, db.execute(q.SELECT_HEAD, [batch.device]).fetchone())
            ids = json.dumps([linked.event.id for linked in batch.events])
            known = dict(db.execute("SELECT id, hash FROM events WHERE device_id = ? "
                                    "AND id IN (SELECT value FROM json_each(?))", [batch.device, ids]).fetchall())
            checked = q.checked(head, batch.events, known)
            db.executemany(q.INSERT_EVENT, [q.event_row(batch.device, linked, own, received_at)
                                            for linked, own in checked.new])
            db.executemany(q.INSERT_FAULT, [(batch.device, f.kind, f.event_id, f.after_id, f.message, received_at)
                                            for f in checked.faults])
            new_head = checked.head
            db.execute(q.MOVE_HEAD, [new_head.event_id if new_head else None, new_head.hash if new_head else None,
                                     received_at, len(checked.new), batch.device])
            tx = _Tx(db)
            rollup.record(tx, rollup.clock_of(tx), batch.device, checked, batch.status, received_at, batch.sent_at)
            if db.execute(q.REMEMBER, [batch.digest, batch.device, batch.sent_at, received_at]).rowcount == 0:
                raise q.replayed(batch)
        return Ingested(len(checked.new), checked.duplicates, checked.faults)

    def faults(self, device_id: str | None = None) -> list[StoredFault]:
        where, args = (" WHERE device_id = ?", [device_id]) if device_id is not None else ("", [])
        with self._reader("read faults") as db:
            return [q.fault_of(row) for row in db.execute(f"{q.SELECT_FAULTS}{where} ORDER BY seq", args)]

    def rows(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
             device: str | None = None, batch: int = 10_000, names: bool = False,
             sites: frozenset[str] | None = None) -> Iterator[list[tuple[object, ...]]]:
        def fetch(sql: str, args: list[object]) -> list[Any]:
            with self._reader("read events") as db:  # each page on its own: nothing held while the caller works
                return db.execute(sql, args).fetchall()

        return q.paged_rows(fetch, since, until, verdict, device, batch, names, sites, sqlite=True)

    def count(self) -> int:
        with self._reader("count events") as db:
            return int(db.execute(q.COUNT).fetchone()[0])

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
        with self._write_lock:
            self._writer.close()

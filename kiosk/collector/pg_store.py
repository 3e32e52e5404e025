"""The collector's database for a city: PostgreSQL through psycopg 3, with a small pool of connections.

Batches of different devices are stored side by side; two of one device wait
for each other on its row (SELECT ... FOR UPDATE), so each is checked against
the head the other left. The schema is made on first connect, under an advisory
lock, so two servers starting at once against one database agree.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from kiosk.closing import ClosedOnExit
from kiosk.collector import rollup
from kiosk.collector import schema as q
from kiosk.collector.reads import ConsoleReads
from kiosk.collector.store import REPLAY_MEMORY, Device, Ingested, StoredFault
from kiosk.collector.streaming import read_ahead
from kiosk.errors import StoreError
from kiosk.sync.protocol import Batch

if TYPE_CHECKING:
    from typing_extensions import LiteralString

D = q.POSTGRES


def _q(text: str) -> LiteralString:
    """`text` with psycopg's placeholders. Every statement is made of this package's constants, never of input
    (values always go as parameters), which is what psycopg's LiteralString type asks for."""
    return D.sql(text)  # mypy takes any str for a LiteralString; a stricter checker would want a cast here


POOL_SIZE = 8  # connections; more threads than this wait for one
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise: a server that is down is told quickly
MIGRATION_LOCK = 0x6B696F736B  # pg_advisory_xact_lock key ("kiosk"): one process migrates at a time
# Each connection's own table a batch's new events are copied into; emptied at every commit.
INCOMING = _q(f"CREATE TEMP TABLE incoming ({q.event_columns(D)}) ON COMMIT DELETE ROWS")


def display(url: str) -> str:
    """The URL as it may be printed: no password (in the user part or the query), no other options."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
    except ValueError:  # a port that is not a number, and such
        return "postgresql://(unreadable URL)"
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


class _Pool:
    """Up to `size` connections, each used by one thread at a time; a broken one is dropped, not reused."""

    def __init__(self, connect: Callable[[], psycopg.Connection[TupleRow]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[psycopg.Connection[TupleRow]] = []
        self._open = 0
        self._closed = False
        self._ready = threading.Condition()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        conn = self._take()
        try:
            yield conn
        finally:
            self._give(conn)

    def _take(self) -> psycopg.Connection[TupleRow]:
        with self._ready:
            while not self._idle and self._open >= self._size and not self._closed:
                self._ready.wait()
            if self._closed:
                raise psycopg.InterfaceError("the store is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            self._release()
            raise

    def _give(self, conn: psycopg.Connection[TupleRow]) -> None:
        healthy = not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
        with self._ready:
            if healthy and not self._closed:
                self._idle.append(conn)
                self._ready.notify()
                return
        conn.close()
        self._release()

    def _release(self) -> None:
        with self._ready:
            self._open -= 1
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            idle, self._idle = self._idle, []
            self._ready.notify_all()
        for conn in idle:
            conn.close()
            self._release()


class _Tx:
    """A cursor as kiosk.collector.dialect.Tx."""

    def __init__(self, cur: psycopg.Cursor[TupleRow]) -> None:
        self.cur = cur

    def all(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        return self.cur.execute(_q(sql), args).fetchall()

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        return self.cur.execute(_q(sql), args).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self.cur.executemany(_q(sql), rows)


class PostgresStore(ConsoleReads, ClosedOnExit):
    def __init__(self, url: str, pool_size: int = POOL_SIZE, *, zone: tzinfo | None = None) -> None:
        """Connect to `url` (postgresql://user[:password]@host[:port]/database) and make the tables if missing.
        `zone`: the day zone of a new database (default: the machine's); an existing one keeps its own."""
        self.name = display(url)
        self._url = url
        self._zone = zone
        self._pool = _Pool(self._connect, pool_size)
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _connect(self) -> psycopg.Connection[TupleRow]:
        try:
            params = psycopg.conninfo.conninfo_to_dict(self._url)
        except psycopg.Error as err:
            raise StoreError(f"collector database {self.name}: not a PostgreSQL URL: {q.one_line(err)}") from None
        params.setdefault("connect_timeout", CONNECT_TIMEOUT)
        try:
            # autocommit: a read is one statement; a write opens its own transaction with conn.transaction().
            conn = psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]
        except psycopg.Error as err:  # the server is down, refuses us, or the database is missing
            raise StoreError(f"collector database {self.name}: cannot connect: {q.one_line(err)}") from None
        try:
            conn.execute(INCOMING)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as err:
            raise StoreError(f"collector database {self.name}: cannot {doing}: {q.one_line(err)}") from None

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[psycopg.Cursor[TupleRow]]:
        with self._errors(doing), self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _reader(self, doing: str) -> Iterator[psycopg.Cursor[TupleRow]]:
        with self._errors(doing), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def _migrate(self) -> None:
        with self._transaction("create its tables") as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            cur.execute(_q(q.MIGRATIONS_TABLE.format(real=D.real)))
            done = {row[0] for row in cur.execute("SELECT name FROM migrations").fetchall()}
            for name, tables in q.MIGRATIONS:
                if name not in done:
                    for statement in tables(D):
                        cur.execute(_q(statement))
                    if name in q.FILLS:
                        q.FILLS[name](_Tx(cur), self._zone)
                    cur.execute("INSERT INTO migrations VALUES (%s, %s)", [name, time.time()])

    @contextlib.contextmanager
    def _tx(self, doing: str, write: bool = False) -> Iterator[_Tx]:
        """For ConsoleReads: a connection of the pool, in a transaction when writing."""
        with self._transaction(doing) if write else self._reader(doing) as cur:
            yield _Tx(cur)

    def enroll(self, public_key: bytes, name: str, at: float) -> Device:
        device_id = q.device_id_of(public_key)
        with self._transaction(f"enroll device {device_id}") as cur:
            if cur.execute(_q(q.ENROLL), [device_id, public_key, name, at]).rowcount == 0:
                raise StoreError(f"device id {device_id} is enrolled with another key")
            return q.device_of(_one(cur.execute(_q(q.SELECT_DEVICE), [device_id])))

    def revoke(self, device_id: str, at: float) -> Device:
        with self._transaction(f"revoke device {device_id}") as cur:
            if cur.execute(_q(q.REVOKE), [at, device_id]).rowcount == 0:
                raise StoreError(f"device {device_id} is not enrolled")
            return q.device_of(_one(cur.execute(_q(q.SELECT_DEVICE), [device_id])))

    def device(self, device_id: str) -> Device | None:
        with self._reader("read devices") as cur:
            row = cur.execute(_q(q.SELECT_DEVICE), [device_id]).fetchone()
        return q.device_of(row) if row is not None else None

    def devices(self) -> list[Device]:
        with self._reader("read devices") as cur:
            return [q.device_of(row) for row in cur.execute(_q(q.SELECT_DEVICES)).fetchall()]

    def ingest(self, batch: Batch, received_at: float) -> Ingested:
        q.refuse_unstorable(batch)
        with self._transaction(f"store a batch of device {batch.device}") as cur:
            # The device's row lock first: a second batch of this device waits here until the first commits,
            # then reads the head and the digests that one left (READ COMMITTED: every statement sees them).
            row = cur.execute(_q(q.SELECT_HEAD + " FOR UPDATE"), [batch.device]).fetchone()
            # SKIP LOCKED: old digests another batch is pruning right now are left to it, not waited for.
            cur.execute("DELETE FROM batches WHERE digest IN (SELECT digest FROM batches WHERE received_at < %s "
                        "FOR UPDATE SKIP LOCKED)", [received_at - REPLAY_MEMORY])
            if cur.execute(_q(q.SEEN), [batch.digest]).fetchone() is not None:
                raise q.replayed(batch)
            head = q.head_of(batch.device, row)
            ids = [linked.event.id for linked in batch.events]
            # The range too (ids come sorted): the planner then reads only that stretch of the primary key,
            # never every event of the device.
            known = {str(id_): bytes(hash_) for id_, hash_ in cur.execute(
                "SELECT id, hash FROM events WHERE device_id = %s AND id BETWEEN %s AND %s AND id = ANY(%s)",
                [batch.device, min(ids), max(ids), ids])} if ids else {}
            checked = q.checked(head, batch.events, known)
            if checked.new:
                # COPY, then one INSERT: a third of the time of executemany (pipelined, but a statement a row).
                with cur.copy(_q(f"COPY incoming ({q.EVENT_ROW}) FROM STDIN")) as copy:
                    for linked, own in checked.new:
                        copy.write_row(q.event_row(batch.device, linked, own, received_at))
                cur.execute(_q(f"INSERT INTO events ({q.EVENT_ROW}) SELECT {q.EVENT_ROW} FROM incoming "
                               "ON CONFLICT DO NOTHING"))
            cur.executemany(_q(q.INSERT_FAULT), [(batch.device, f.kind, f.event_id, f.after_id, f.message,
                                                     received_at) for f in checked.faults])
            new_head = checked.head
            cur.execute(_q(q.MOVE_HEAD), [new_head.event_id if new_head else None,
                                             new_head.hash if new_head else None, received_at, len(checked.new),
                                             batch.device])
            tx = _Tx(cur)
            rollup.record(tx, rollup.clock_of(tx), batch.device, checked, batch.status, received_at, batch.sent_at)
            if cur.execute(_q(q.REMEMBER), [batch.digest, batch.device, batch.sent_at, received_at]).rowcount == 0:
                raise q.replayed(batch)
        return Ingested(len(checked.new), checked.duplicates, checked.faults)

    def faults(self, device_id: str | None = None) -> list[StoredFault]:
        where, args = (" WHERE device_id = ?", [device_id]) if device_id is not None else ("", [])
        with self._reader("read faults") as cur:
            return [q.fault_of(row) for row in cur.execute(_q(f"{q.SELECT_FAULTS}{where} ORDER BY seq"),
                                                           args).fetchall()]

    def rows(self, since: float | None = None, until: float | None = None, verdict: str | None = None,
             device: str | None = None, batch: int = 10_000, names: bool = False,
             sites: frozenset[str] | None = None) -> Iterator[list[tuple[object, ...]]]:
        def fetch(sql: str, args: list[object]) -> list[Any]:
            with self._reader("read events") as cur:  # each page on its own: no connection held between pages
                # Binary: the same values, made in two thirds of the time (float8 and int8 are not parsed text).
                return cur.execute(_q(sql), args, binary=True).fetchall()

        # The next page is computed by PostgreSQL while the caller works on this one (kiosk/collector/streaming.py).
        return read_ahead(q.paged_rows(fetch, since, until, verdict, device, batch, names, sites))

    def count(self) -> int:
        with self._reader("count events") as cur:
            return int(_one(cur.execute(_q(q.COUNT)))[0])

    def close(self) -> None:
        self._pool.close()


def _one(cur: psycopg.Cursor[TupleRow]) -> TupleRow:
    row = cur.fetchone()
    assert row is not None  # the statement always gives a row
    return row


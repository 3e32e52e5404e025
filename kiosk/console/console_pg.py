"""The console's store on the collector's PostgreSQL: a small pool of connections of its own.

Every `kiosk collector serve` process on one database reads and writes the same rows, so a session started by
one is good at the other, and a login's backoff and the trail's chain are one. What must not interleave
between processes (a login attempt counted against its backoff, the trail's next entry) waits for a
transaction-scoped advisory lock; the tables are made under the collector's own migration lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg.rows import TupleRow

from kiosk.collector import schema
from kiosk.collector.pg_store import CONNECT_TIMEOUT, MIGRATION_LOCK, _Pool, display
from kiosk.console.console_store import ConsoleStore
from kiosk.errors import StoreError

POOL_SIZE = 4  # connections: a login, a session looked up per request; more threads than this wait


class PostgresConsoleStore(ConsoleStore):
    dialect = schema.POSTGRES

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.name = display(url)
        self._url = url
        self._pool = _Pool(self._connect, pool_size)
        try:
            with self._write("create its tables") as cur:
                self._lock(cur, MIGRATION_LOCK)
                self._migrate_with(cur)
        except BaseException:
            self._pool.close()
            raise

    def _connect(self) -> psycopg.Connection[TupleRow]:
        try:
            params = psycopg.conninfo.conninfo_to_dict(self._url)
        except psycopg.Error as err:
            raise StoreError(f"console database {self.name}: not a PostgreSQL URL: {schema.one_line(err)}") from None
        params.setdefault("connect_timeout", CONNECT_TIMEOUT)
        try:
            # autocommit: a read is one statement; a write opens its own transaction.
            return psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]
        except psycopg.Error as err:
            raise StoreError(f"console database {self.name}: cannot connect: {schema.one_line(err)}") from None

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as err:
            raise StoreError(f"console database {self.name}: cannot {doing}: {schema.one_line(err)}") from None

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[psycopg.Cursor[TupleRow]]:
        with self._errors(doing), self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[psycopg.Cursor[TupleRow]]:
        with self._errors(doing), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def _lock(self, db: psycopg.Cursor[TupleRow], key: int) -> None:
        db.execute("SELECT pg_advisory_xact_lock(%s)", [key])

    def close(self) -> None:
        self._pool.close()

"""A second connection to the audit log, beside its writer: the events a collector has not acknowledged, and
the sync state (kept in the log, next to the events it is about).

WAL lets it read while the kiosk writes, so a sync never holds up a verdict's
commit for more than the moment it takes to write the sync state's one row.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

from kiosk.audit import schema
from kiosk.audit.events import Event
from kiosk.audit.schema import SyncState
from kiosk.audit.store import AuditLog
from kiosk.closing import ClosedOnExit
from kiosk.errors import LogWriteError


class LogReader(ClosedOnExit):
    """Reads the log at `log.path` on a connection of its own (or, in memory, on `log`'s)."""

    def __init__(self, log: AuditLog) -> None:
        self.path = log.path
        self._lock = threading.Lock()
        self._own = log.path is not None
        try:
            if log.path is not None:
                self._conn = sqlite3.connect(log.path.resolve(), isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA busy_timeout=5000")
                self._conn.execute("PRAGMA synchronous=FULL")
            else:
                self._conn = log.db.conn
        except sqlite3.Error as err:
            raise LogWriteError(f"audit log {log.path}: cannot open for sync: {err}") from None

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as err:
                raise LogWriteError(f"audit log {self.path or ':memory:'}: cannot {doing}: {err}") from None

    def sync_state(self) -> SyncState | None:
        """The sync state; None when the log was never synced."""
        with self._guard("read the sync state") as conn:
            return schema.sync_state(conn)

    def set_sync_state(self, state: SyncState) -> None:
        """Keep `state`, durably."""
        with self._guard("write the sync state") as conn:
            schema.set_sync_state(conn, state)

    def count_after(self, event_id: str | None) -> int:
        """Events written after `event_id` (None: every event)."""
        with self._guard("count pending events") as conn:
            return schema.count_after(conn, event_id)

    def first_after(self, event_id: str | None) -> str | None:
        """The id of the first event written after `event_id` (None: the first event); None if there is none."""
        with self._guard("read pending events") as conn:
            return schema.first_after(conn, event_id)

    def batch_after(self, event_id: str | None, limit: int) -> list[tuple[Event, bytes]]:
        """Up to `limit` events written after `event_id`, oldest first, each with the link the log stored."""
        with self._guard("read pending events") as conn:
            return schema.batch_after(conn, event_id, limit)

    def close(self) -> None:
        if self._own:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()


"""The kiosk side of sync inside the audit log file: which events are unsynced, and the sync state.

It opens its own connection to the log (WAL lets it read while the kiosk
writes), so a sync never holds up a verdict's commit for more than the moment
it takes to write one meta row. What was acknowledged is remembered as the id of
the last acknowledged event ('synced_id' in the meta table): ids rise in the
order events are written, so everything after it is pending.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk.audit.events import COLUMNS, Event
from kiosk.audit.store import AuditLog, LogWriteError
from kiosk.sync.protocol import Linked


@dataclass(frozen=True)
class SyncState:
    synced_id: str | None = None  # the last event the collector acknowledged
    last_success: float | None = None  # the end of the last pass that left nothing pending
    last_attempt: float | None = None
    last_error: str | None = None  # None after a success
    clock_offset: float | None = None  # collector's clock minus ours, at the last contact
    clock_checked: float | None = None
    uploaded: int = 0  # events the collector acknowledged, all time


class Outbox:
    """Pending events and sync state of the log at `log.path` (or, in memory, of `log` itself)."""

    def __init__(self, log: AuditLog) -> None:
        self._lock = threading.Lock()
        self._own = log.path is not None
        try:
            if log.path is not None:
                uri = f"file:{quote(str(Path(log.path).resolve()))}"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA busy_timeout=5000")
                self._conn.execute("PRAGMA synchronous=FULL")
            else:
                self._conn = log.db.conn
        except sqlite3.Error as err:
            raise LogWriteError(f"audit log {log.path}: cannot open for sync: {err}") from None
        self.path = log.path

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as err:
                raise LogWriteError(f"audit log {self.path or ':memory:'}: cannot {doing}: {err}") from None

    def state(self) -> SyncState:
        with self._guard("read the sync state") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'sync'").fetchone()
        try:
            data = json.loads(row[0]) if row else {}
            return SyncState(**{k: v for k, v in data.items() if k in SyncState.__dataclass_fields__})
        except (ValueError, TypeError):
            return SyncState()  # a damaged state row: start over; the collector drops what it has already

    def update(self, **changes: Any) -> SyncState:
        """Change some fields of the sync state, durably."""
        state = replace(self.state(), **changes)
        with self._guard("write the sync state") as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('sync', ?)", [json.dumps(asdict(state)).encode()])
        return state

    def pending(self) -> int:
        synced = self.state().synced_id or ""
        with self._guard("count pending events") as conn:
            return int(conn.execute("SELECT count(*) FROM events WHERE id > ?", [synced]).fetchone()[0])

    def first_pending(self) -> str | None:
        """The oldest unsynced event's id: a purge must keep it and everything after it."""
        synced = self.state().synced_id or ""
        with self._guard("read pending events") as conn:
            row = conn.execute("SELECT min(id) FROM events WHERE id > ?", [synced]).fetchone()
        return row[0] if row else None

    def batch(self, limit: int) -> list[Linked]:
        """Up to `limit` unsynced events, oldest first, with the links the log stored."""
        synced = self.state().synced_id or ""
        with self._guard("read pending events") as conn:
            rows = conn.execute(f"SELECT {', '.join(COLUMNS)}, prev_hash FROM events WHERE id > ? "
                                "ORDER BY id LIMIT ?", [synced, limit]).fetchall()
        linked = []
        for values in rows:
            fields = dict(zip(COLUMNS, values[:-1]))
            fields["details"] = json.loads(fields["details"]) if fields["details"] else {}
            linked.append(Linked(Event(**fields), bytes(values[-1])))
        return linked

    def mark_synced(self, through: str, count: int) -> None:
        """Everything up to `through` is acknowledged. Never moves backwards."""
        state = self.state()
        if state.synced_id is not None and through <= state.synced_id:
            return
        self.update(synced_id=through, uploaded=state.uploaded + count)

    def close(self) -> None:
        if self._own:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

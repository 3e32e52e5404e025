"""The kiosk side of sync: which events are unsynced, and the sync state, both kept by the audit log.

It reads through a connection of its own to the log (kiosk/audit/reader.py), so a
sync never holds up a verdict's commit. What was acknowledged is remembered as
the id of the last acknowledged event (SyncState.synced_id): ids rise in the
order events are written, so everything after it is pending.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kiosk.audit.reader import LogReader
from kiosk.audit.schema import SyncState
from kiosk.audit.store import AuditLog
from kiosk.closing import ClosedOnExit
from kiosk.sync.protocol import Linked

__all__ = ["Outbox", "SyncState"]


class Outbox(ClosedOnExit):
    """Pending events and sync state of the log at `log.path` (or, in memory, of `log` itself)."""

    def __init__(self, log: AuditLog) -> None:
        self._reader = LogReader(log)
        self.path = log.path

    def state(self) -> SyncState:
        return self._reader.sync_state() or SyncState()

    def update(self, **changes: Any) -> SyncState:
        """Change some fields of the sync state, durably."""
        state = replace(self.state(), **changes)
        self._reader.set_sync_state(state)
        return state

    def pending(self) -> int:
        return self._reader.count_after(self.state().synced_id)

    def batch(self, limit: int) -> list[Linked]:
        """Up to `limit` unsynced events, oldest first, with the links the log stored."""
        return [Linked(event, link) for event, link in self._reader.batch_after(self.state().synced_id, limit)]

    def mark_synced(self, through: str, count: int) -> None:
        """Everything up to `through` is acknowledged. Never moves backwards."""
        state = self.state()
        if state.synced_id is not None and through <= state.synced_id:
            return
        self.update(synced_id=through, uploaded=state.uploaded + count)

    def close(self) -> None:
        self._reader.close()


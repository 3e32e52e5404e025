"""The audit log's tables: their DDL and migrations, the events table's columns, the one row codec, the meta keys.

Only the audit store (kiosk/audit/store.py writes, kiosk/audit/reader.py and
snapshot.py read) uses what is here; every other part asks the store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from kiosk.audit.events import COLUMNS as EVENT_FIELDS
from kiosk.audit.events import Event

# The events table's columns, in the order of the DDL and of every row the store reads or writes ("details" holds
# JSON text or NULL): the rows of an export, of the collector's export and of a scratch copy.
COLUMNS: tuple[str, ...] = tuple(EVENT_FIELDS)
SELECT = ", ".join(COLUMNS)
LINKED = f"{SELECT}, prev_hash"  # an event and the link the log stored with it
INSERT = f"INSERT INTO events ({LINKED}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
# A scratch copy's rows: no links (it is read, never verified); an id already there is kept.
INSERT_UNLINKED = f"INSERT OR IGNORE INTO events ({LINKED}) VALUES ({', '.join('?' * len(COLUMNS))}, x'')"
# Registrations and their corrections; written so that the partial index of 0002 serves it.
HAND = "kind IN ('manual', 'correction')"

HEAD, HEAD_ID, ANCHOR, SYNC = "head", "head_id", "anchor", "sync"  # keys of the meta table


def _create_events(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE events (
        id TEXT PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, site TEXT, lane TEXT, device TEXT,
        verdict TEXT, reason TEXT, status TEXT, code_kind TEXT, kid TEXT, iss TEXT, code_iat INTEGER,
        subject_ref TEXT, temperature REAL, operator TEXT, details TEXT, prev_hash BLOB NOT NULL)""")
    db.execute("CREATE INDEX events_at ON events(at)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")


def _index_hand_made(db: sqlite3.Connection) -> None:
    # Registrations and their corrections are few among millions of scans: exports and reports find them here.
    db.execute("CREATE INDEX events_by_hand ON events(at) WHERE kind IN ('manual', 'correction')")


# Named, ordered, each applied once in its own transaction; never edit one that has shipped.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_events_and_meta", _create_events),
    ("0002_hand_made_index", _index_hand_made),
]
MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"


def row_of(event: Event) -> list[object]:
    """The values of `event` for the columns of COLUMNS, as the events table holds them."""
    row: list[object] = [getattr(event, name) for name in COLUMNS]
    row[-1] = json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else None
    return row


def event_of(values: Sequence[object]) -> Event:
    """The event of a row of COLUMNS (the inverse of `row_of`)."""
    fields = dict(zip(COLUMNS, values))
    text = fields["details"]
    fields["details"] = json.loads(text) if text else {}  # type: ignore[arg-type]
    return Event(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SyncState:
    """What the kiosk knows of its collector, kept in the log (meta 'sync') beside the events it is about."""

    synced_id: str | None = None  # the last event the collector acknowledged: everything after it is pending
    last_success: float | None = None  # the end of the last pass that left nothing pending
    last_attempt: float | None = None
    last_error: str | None = None  # None after a success
    clock_offset: float | None = None  # collector's clock minus ours, at the last contact
    clock_checked: float | None = None
    uploaded: int = 0  # events the collector acknowledged, all time


def sync_state_of(value: bytes | str | None) -> SyncState | None:
    """The state in a meta 'sync' value; None when there is none (the log was never synced); a damaged one
    reads as a fresh state (the collector drops what it has already)."""
    if value is None:
        return None
    try:
        data = json.loads(value)
        state = SyncState(**{k: v for k, v in data.items() if k in SyncState.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError):
        return SyncState()
    return state if all(isinstance(getattr(state, name), kinds) for name, kinds in _SYNC_TYPES.items()) else SyncState()


_TIME = (float, int, type(None))
_SYNC_TYPES: dict[str, type | tuple[type, ...]] = {
    "synced_id": (str, type(None)), "last_success": _TIME, "last_attempt": _TIME, "last_error": (str, type(None)),
    "clock_offset": _TIME, "clock_checked": _TIME, "uploaded": int}


def sync_value(state: SyncState) -> bytes:
    return json.dumps(asdict(state)).encode()


def sync_state(conn: sqlite3.Connection) -> SyncState | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [SYNC]).fetchone()
    return sync_state_of(row[0] if row else None)


def set_sync_state(conn: sqlite3.Connection, state: SyncState) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [SYNC, sync_value(state)])


# Ids rise in the order events are written, so the events after an acknowledged one are those with a greater id.

def count_after(conn: sqlite3.Connection, event_id: str | None) -> int:
    return int(conn.execute("SELECT count(*) FROM events WHERE id > ?", [event_id or ""]).fetchone()[0])


def first_after(conn: sqlite3.Connection, event_id: str | None) -> str | None:
    row = conn.execute("SELECT min(id) FROM events WHERE id > ?", [event_id or ""]).fetchone()
    return row[0] if row else None


def batch_after(conn: sqlite3.Connection, event_id: str | None, limit: int) -> list[tuple[Event, bytes]]:
    """Up to `limit` events after `event_id` (None: from the first), oldest first, each with its stored link."""
    rows = conn.execute(f"SELECT {LINKED} FROM events WHERE id > ? ORDER BY id LIMIT ?", [event_id or "", limit])
    return [(event_of(values[:-1]), bytes(values[-1])) for values in rows.fetchall()]

"""The collector's tables and the SQL both stores share; only the type names and placeholders differ.

The SQL is written with `?` placeholders and `Dialect.sql` turns them into the
driver's (psycopg wants `%s`); no statement here holds a literal `?` or `%`.
The console's read model (migration 0002 and its queries) is in console_sql.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo
from operator import attrgetter
from typing import Any, Literal

from kiosk.audit.events import COLUMNS
from kiosk.collector import rollup
from kiosk.collector.console_sql import SITES, in_sites, read_model_tables
from kiosk.collector.corrections_sql import console_corrections_tables
from kiosk.collector.dialect import POSTGRES, SQLITE, Dialect, Tx
from kiosk.collector.store import ROW_COLUMNS, Checked, Device, Head, StoredFault, check_chain
from kiosk.cose import kid_of
from kiosk.device_names import label, short_id
from kiosk.errors import BatchRefused, StoreError
from kiosk.sync.protocol import Batch, Linked

_EVENT_TYPES = {"at": "{real} NOT NULL", "kind": "TEXT NOT NULL", "code_iat": "{bigint}", "temperature": "{real}"}


def event_columns(d: Dialect) -> str:
    """The columns of an events row, in the order of `event_row`."""
    fields = ", ".join(f"{name} {_EVENT_TYPES.get(name, 'TEXT')}" for name in COLUMNS if name != "id")
    return (f"device_id {d.key} NOT NULL, id {d.key} NOT NULL, {fields.format(real=d.real, bigint=d.bigint)}, "
            f"prev_hash {d.blob} NOT NULL, hash {d.blob} NOT NULL, received_at {d.real} NOT NULL")


def _tables(d: Dialect) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS devices (
            id {d.key} PRIMARY KEY, public_key {d.blob} NOT NULL, name {d.key} NOT NULL,
            enrolled_at {d.real} NOT NULL, revoked_at {d.real}, last_seen {d.real},
            events {d.bigint} NOT NULL DEFAULT 0, head_id TEXT, head_hash {d.blob})""",
        # No foreign keys: ingest holds the device's lock already, and a check per event row costs time for nothing.
        f"CREATE TABLE IF NOT EXISTS events ({event_columns(d)}, PRIMARY KEY (device_id, id))",
        # (at, device_id, id) is the export order: the index serves both the time filter and the ORDER BY.
        "CREATE INDEX IF NOT EXISTS events_at ON events (at, device_id, id)",
        # One device's events in that order, without sorting them all for every page of an export.
        "CREATE INDEX IF NOT EXISTS events_device_at ON events (device_id, at, id)",
        f"""CREATE TABLE IF NOT EXISTS faults (
            seq {d.serial}, device_id {d.key} NOT NULL, kind TEXT NOT NULL, event_id TEXT NOT NULL, after_id TEXT,
            message TEXT NOT NULL, seen_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS faults_device ON faults (device_id)",
        f"""CREATE TABLE IF NOT EXISTS batches (
            digest {d.blob} PRIMARY KEY, device_id {d.key} NOT NULL, sent_at {d.real} NOT NULL,
            received_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS batches_received ON batches (received_at)",
    ]


# Named, ordered, each applied once in its own transaction; never edit one that has shipped.
MIGRATIONS: list[tuple[str, Callable[[Dialect], list[str]]]] = [
    ("0001_devices_events_faults_batches", _tables),
    ("0002_console_read_model", read_model_tables),
    ("0003_console_corrections", console_corrections_tables),
]
# What a migration fills in after its statements, in its transaction, given the day zone of a new database.
FILLS: dict[str, Callable[[Tx, tzinfo | None], None]] = {"0002_console_read_model": rollup.backfill}
__all__ = ["POSTGRES", "SQLITE", "Dialect"]  # where they always were; kiosk/collector/dialect.py has them now
MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at {real} NOT NULL)"

_DEVICE_COLUMNS = ("id, public_key, name, enrolled_at, revoked_at, last_seen, events, head_id, head_hash, "
                   "(SELECT count(*) FROM faults WHERE faults.device_id = devices.id)")
SELECT_DEVICE = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = ?"
SELECT_DEVICES = f"SELECT {_DEVICE_COLUMNS} FROM devices ORDER BY name, id"
# Re-enrolling renames and lifts a revocation; the key must be the same one (a kid names one key).
ENROLL = ("INSERT INTO devices (id, public_key, name, enrolled_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET name = excluded.name, revoked_at = NULL "
          "WHERE devices.public_key = excluded.public_key")
REVOKE = "UPDATE devices SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"  # the first revocation's time stays
SELECT_HEAD = "SELECT revoked_at, head_id, head_hash FROM devices WHERE id = ?"
SEEN = "SELECT 1 FROM batches WHERE digest = ?"
PRUNE = "DELETE FROM batches WHERE received_at < ?"
REMEMBER = "INSERT INTO batches (digest, device_id, sent_at, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
EVENT_ROW = f"device_id, {', '.join(COLUMNS)}, prev_hash, hash, received_at"
INSERT_EVENT = (f"INSERT INTO events ({EVENT_ROW}) VALUES ({', '.join('?' * (len(COLUMNS) + 4))}) "
                "ON CONFLICT DO NOTHING")
INSERT_FAULT = "INSERT INTO faults (device_id, kind, event_id, after_id, message, seen_at) VALUES (?, ?, ?, ?, ?, ?)"
MOVE_HEAD = "UPDATE devices SET head_id = ?, head_hash = ?, last_seen = ?, events = events + ? WHERE id = ?"
SELECT_FAULTS = "SELECT device_id, kind, event_id, after_id, message, seen_at FROM faults"
COUNT = "SELECT count(*) FROM events"
SELECT_NAMES = "SELECT id, name FROM devices"


def device_of(row: Sequence[Any]) -> Device:
    id_, key, name, enrolled, revoked, seen, events, head_id, head_hash, faults = row
    head = Head(head_id, bytes(head_hash)) if head_id is not None else None
    return Device(id_, bytes(key), name, enrolled, revoked, seen, int(events), head, int(faults))


def fault_of(row: Sequence[Any]) -> StoredFault:
    return StoredFault(*row)


def device_id_of(public_key: bytes) -> str:
    if len(public_key) != 32:
        raise StoreError(f"a device key is 32 bytes (Ed25519), not {len(public_key)}")
    return kid_of(public_key).hex()


_DETAILS = COLUMNS.index("details")


def event_row(device_id: str, linked: Linked, own: bytes, received_at: float) -> tuple[object, ...]:
    """The events row: the details as the kiosk's own log keeps them, so an export reads the same."""
    event = linked.event
    values = [getattr(event, name) for name in COLUMNS]
    values[_DETAILS] = json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else None
    return (device_id, *values, linked.prev_hash, own, received_at)


_AT, _ID, _DEVICE = ROW_COLUMNS.index("at"), ROW_COLUMNS.index("id"), ROW_COLUMNS.index("device")
_INT64 = range(-(2**63), 2**63)
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXTS = attrgetter(*(name for name in COLUMNS if name not in ("at", "code_iat", "temperature", "details")))


def refuse_unstorable(batch: Batch) -> None:
    """BatchRefused("malformed") for a value neither database can keep exactly, before anything is written.

    PostgreSQL's text holds no NUL character; no UTF-8 holds a lone surrogate (the
    kiosk's own log replaces them, so its events never carry one); a code_iat beyond
    64 bits fits no integer column. SQLite could keep a NUL, but both stores refuse
    the same batches, so a site can move from one to the other. (A lone surrogate in
    the details is caught by `checked`: only the hash encodes them before the database.)
    """
    if not batch.digest:
        raise ValueError("ingest takes a batch that open_batch accepted: it has no digest")
    # One join and one encode for the whole batch: checking value by value costs as much as storing them.
    joined = "\x01".join(text for linked in batch.events for text in _TEXTS(linked.event) if text is not None)
    try:
        joined.encode()
        clean = "\x00" not in joined
    except UnicodeEncodeError:
        clean = False
    for linked in batch.events:
        event = linked.event
        if not clean and any(text is not None and ("\x00" in text or _SURROGATE.search(text))
                             for text in _TEXTS(event)):
            raise BatchRefused("malformed", f"event {event.id}: a text holds a NUL character or a lone surrogate, "
                                            "which the collector's database cannot store")
        if event.code_iat is not None and event.code_iat not in _INT64:
            raise BatchRefused("malformed", f"event {event.id}: code_iat does not fit in 64 bits")


def checked(head: Head | None, events: list[Linked], known: dict[str, bytes]) -> Checked:
    """`check_chain`, with a lone surrogate in an event's details refused as malformed instead of crashing."""
    try:
        return check_chain(head, events, known)
    except UnicodeEncodeError:
        bad = next((e.event.id for e in events if _SURROGATE.search(json.dumps(e.event.details, ensure_ascii=False))),
                   "?")
        raise BatchRefused("malformed", f"event {bad}: its details hold a lone surrogate, which the collector's "
                                        "database cannot store") from None


MERGED_SITES = 400  # arms of one merged page query: SQLite's compound SELECT holds 500 (SQLITE_MAX_COMPOUND_SELECT)
SiteScan = Literal["in", "merge", "filter"]


def rows_query(since: float | None, until: float | None, verdict: str | None, device: str | None,
               after: tuple[object, ...] | None, batch: int, sites: frozenset[str] | None = None,
               scan: SiteScan = "in") -> tuple[str, list[object]]:
    """One page of `rows`: keyset paging on (at, device_id, id), so no cursor or lock is held between pages.

    How a scope of sites is read (`scan`), so that a page reads about a page of rows:
    - "in": `site IN (...)`, the database's choice (PostgreSQL filters the time index);
    - "merge" (SQLite, a scope of some sites): one index range per site (site, at, device_id, id), merged in
      order by the database (UNION ALL ... ORDER BY merges its arms as they come: no sort). With `site IN`
      SQLite read a page of rows of every site of the scope, and sorted them, for each page it gave: a
      100-site manager's export read 47,000 rows/s, against 220,000 merged;
    - "filter" (SQLite, a scope of every site, or of more than a merge holds): the time index, the sites a
      filter (`+site`: not by the site index), as a scope that keeps almost every row is best read.
    """
    # After the first page the cursor stands in for `since` (it is past it): SQLite's planner would otherwise seek
    # the index by `at >= since` and read every earlier page again to reach the cursor.
    start = since if after is None else None
    where: list[str] = []
    args: list[object] = []
    for clause, value in (("at >= ?", start), ("at < ?", until), ("verdict = ?", verdict), ("device_id = ?", device)):
        if value is not None:
            where.append(clause)
            args.append(value)
    if after is not None:
        where.append("(at, device_id, id) > (?, ?, ?)")
        args.extend(after)
    select = f"SELECT {', '.join(ROW_COLUMNS)}, device_id FROM events WHERE "
    order = " ORDER BY at, device_id, id LIMIT ?"
    if scan == "merge" and sites and len(sites) <= MERGED_SITES:
        arms = " UNION ALL ".join(select + " AND ".join(["site = ?", *where]) for _ in sites)
        return arms + order, [*(value for site in sorted(sites) for value in (site, *args)), batch]
    scope, scope_args = in_sites(sites, "site" if scan == "in" else "+site")
    return f"{select}{' AND '.join([f'1 = 1{scope}', *where])}{order}", [*scope_args, *args, batch]


def page_key(row: Sequence[Any]) -> tuple[object, ...]:
    """Where the next page of `rows_query` starts: after this row's (at, device_id, id)."""
    return row[_AT], row[-1], row[_ID]


def paged_rows(fetch: Callable[[str, list[object]], list[Any]], since: float | None, until: float | None,
               verdict: str | None, device: str | None, batch: int,
               names: bool = False, sites: frozenset[str] | None = None,
               sqlite: bool = False) -> Iterator[list[tuple[object, ...]]]:
    """`rows` for either store: `fetch(sql, args)` runs one page's query on a connection of its own.

    `names`: the device column is the kiosk as the collector enrolled it, "Gate 2 (3f2a9c1b)", not the text
    the kiosk logged, which two kiosks with a copied config share and which a kiosk may set to anything.
    `sites`: only the events of these sites (an account's scope); None: every site's. `sqlite`: the scope is
    read as SQLite reads it best (rows_query's "merge" or "filter": the latter when it holds every site known).
    """
    labels = {id_: label(name, id_) for id_, name in fetch(SELECT_NAMES, [])} if names else None
    scan: SiteScan = "in"
    if sqlite and sites:
        scan = "filter" if sites.issuperset(row[0] for row in fetch(SITES, []) if row[0]) else "merge"
    after: tuple[object, ...] | None = None
    while True:
        page = fetch(*rows_query(since, until, verdict, device, after, batch, sites, scan))
        if not page:
            return
        if labels is None:
            yield [tuple(row[:-1]) for row in page]
        else:
            yield [(*row[:_DEVICE], labels.get(row[-1]) or short_id(row[-1]), *row[_DEVICE + 1:-1]) for row in page]
        if len(page) < batch:
            return
        after = page_key(page[-1])



def one_line(err: BaseException) -> str:
    """A driver's message on one line: PostgreSQL's carry DETAIL and HINT lines, libpq's a second line."""
    return " ".join(str(err).split()) or type(err).__name__


def head_of(device_id: str, row: Sequence[Any] | None) -> Head | None:
    """The head from (revoked_at, head_id, head_hash) of the device's row; BatchRefused if it may not send."""
    if row is None:
        raise BatchRefused("unknown_device", f"device {device_id} is not enrolled at this collector")
    revoked_at, head_id, head_hash = row
    if revoked_at is not None:
        raise BatchRefused("revoked", f"device {device_id} was revoked")
    return Head(head_id, bytes(head_hash)) if head_id is not None else None


def replayed(batch: Batch) -> BatchRefused:
    return BatchRefused("replayed", f"device {batch.device} sent this very batch (the same signature) before; "
                                    "events are sent again in a newly signed batch")

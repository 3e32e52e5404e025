"""The console's corrections of registrations by hand: the collector's own table, its SQL, and its rows shaped as
the kiosk's correction events, so that every read path applies them as it applies a kiosk's own.

The collector never writes a kiosk's signed chain: a correction made from the web console is a row of
`console_corrections` (migration 0003, both databases through kiosk/collector/dialect.py), never an event. It
holds what a kiosk's correction event holds (kiosk/audit/corrections.py): the registration it corrects (the
kiosk's device id and the event's id), the site (the registration's, for the account scope), the new fields (""
removes one), the new temperature with its reason ("fever" or none), the values they replace (`was`) and the note
why; and who made it (the console account) and when (the collector's clock).

Its id is "C" and a ULID of its time: the console's corrections sort by time among themselves, and none is ever a
kiosk event's id (the sync protocol takes only ULIDs, which start 0-7), so a row says whose it is. As a row of
ROW_COLUMNS it is kind "correction", on device "console" (the collector's console, not the kiosk), by operator
"console:<account>": text in no language, as every stored value is (an export in either language, CSV or JSON
Lines, says the same), and in the form of the trail's "cli:<user>". Read paths merge these rows with the kiosk's
corrections of the same kiosk by time (`merged`), so corrections apply in the order they were made.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from kiosk.audit.corrections import KIND as CORRECTION
from kiosk.collector.console_sql import ROW, in_sites
from kiosk.collector.dialect import Dialect, Tx
from kiosk.collector.store import ROW_COLUMNS

PREFIX = "C"  # a console correction's id: "C" and a ULID
DEVICE = "console"  # the device column of its row
OPERATOR = "console:"  # its operator: this, then the account's name
IN_CHUNK = 500  # event ids in one IN (...) list, under both databases' parameter limits
_AT, _ID, _KIND = ROW_COLUMNS.index("at"), ROW_COLUMNS.index("id"), ROW_COLUMNS.index("kind")
_DETAILS = ROW_COLUMNS.index("details")


def console_corrections_tables(d: Dialect) -> list[str]:
    """Migration 0003: the table, and the index a registration's corrections are found by."""
    return [
        f"""CREATE TABLE IF NOT EXISTS console_corrections (
            id {d.key} PRIMARY KEY, device_id {d.key} NOT NULL, event_id {d.key} NOT NULL, site TEXT NOT NULL,
            lane TEXT NOT NULL, at {d.real} NOT NULL, account TEXT NOT NULL, fields TEXT NOT NULL,
            temperature {d.real}, reason TEXT, was TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS console_corrections_event ON console_corrections (device_id, event_id, at)",
    ]


_COLUMNS = "id, device_id, event_id, site, lane, at, account, fields, temperature, reason, was, note"
INSERT = f"INSERT INTO console_corrections ({_COLUMNS}) VALUES ({', '.join('?' * 12)})"
PURGE = "DELETE FROM console_corrections WHERE at < ?"  # as a kiosk's correction event goes: by its own time
EVENT = f"SELECT {ROW} FROM events WHERE device_id = ? AND id = ?"  # one event, as an events-list row
DEVICE_NAME = "SELECT name FROM devices WHERE id = ?"
NEWEST = "SELECT max(at) FROM console_corrections WHERE device_id = ? AND event_id = ?"


def of_events(device_id: str, count: int) -> str:
    """The console's corrections of `count` events of one kiosk (the device id, then the event ids), by time."""
    return (f"SELECT {_COLUMNS} FROM console_corrections WHERE device_id = ? "
            f"AND event_id IN ({', '.join('?' * count)}) ORDER BY at, id")


def in_scope(sites: Collection[str] | None, device: str | None) -> tuple[str, list[object]]:
    """Every console correction at the sites in scope (of one kiosk, if given), by time: few, people make them."""
    clause, args = in_sites(sites)
    if device is not None:
        clause, args = f"{clause} AND device_id = ?", [*args, device]
    return f"SELECT {_COLUMNS} FROM console_corrections WHERE 1 = 1{clause} ORDER BY at, id", args


def details_of(event_id: str, fields: str, was: str, note: str) -> dict[str, object]:
    """The details a kiosk's correction event of the same change would hold."""
    return {"corrects": event_id, "fields": _object(fields), "was": _object(was), "note": note}


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def row_of(record: Sequence[Any]) -> tuple[object, ...]:
    """A stored console correction as a row of ROW_COLUMNS (details as JSON text, as the events table keeps a
    kiosk's), then the corrected kiosk's device id: the shape of an events-list row."""
    id_, device_id, event_id, site, lane, at, account, fields, temperature, reason, was, note = record
    details = json.dumps(details_of(event_id, fields, was, note), ensure_ascii=False, sort_keys=True)
    values: dict[str, object] = {"id": id_, "at": float(at), "kind": CORRECTION, "site": site, "lane": lane,
                                 "device": DEVICE, "reason": reason, "temperature": temperature,
                                 "operator": OPERATOR + str(account), "details": details}
    return (*(values.get(name) for name in ROW_COLUMNS), device_id)


def fix_row(row: Sequence[Any]) -> tuple[str, float, str | None, float | None, str | None, str | None]:
    """A correction row (kiosk's or console's, of ROW_COLUMNS) as kiosk.audit.corrections.fixes_of reads one."""
    values = dict(zip(ROW_COLUMNS, row))
    return (str(values["id"]), float(values["at"]), values["operator"], values["temperature"], values["reason"],
            values["details"])


def is_console(row: Sequence[Any]) -> bool:
    """Whether a row of ROW_COLUMNS is a console correction (a kiosk's event ids never start with PREFIX)."""
    return str(row[_ID]).startswith(PREFIX)


def by_events(tx: Tx, events: Iterable[tuple[str, str]]) -> dict[str, list[tuple[object, ...]]]:
    """The console's corrections of these (device id, event id), by device, each device's by time, as rows."""
    wanted: dict[str, set[str]] = {}
    for device_id, event_id in events:
        wanted.setdefault(device_id, set()).add(event_id)
    found: dict[str, list[tuple[object, ...]]] = {}
    for device_id, ids in wanted.items():
        ordered = sorted(ids)
        rows = [row for i in range(0, len(ordered), IN_CHUNK)
                for row in tx.all(of_events(device_id, len(ordered[i:i + IN_CHUNK])),
                                  [device_id, *ordered[i:i + IN_CHUNK]])]
        if rows:
            found[device_id] = sorted((row_of(r) for r in rows), key=lambda row: (row[_AT], row[_ID]))
    return found


def by_device(tx: Tx, sites: Collection[str] | None, device: str | None) -> dict[str, list[tuple[object, ...]]]:
    """Every console correction in scope as rows, by the corrected kiosk's device id, each device's by time."""
    found: dict[str, list[tuple[object, ...]]] = {}
    for record in tx.all(*in_scope(sites, device)):
        row = row_of(record)
        found.setdefault(str(row[-1]), []).append(row)
    return found


def merged(kiosk: Iterable[Sequence[Any]], console: Iterable[Sequence[Any]], at: int = 1) -> Iterator[Any]:
    """One kiosk's correction rows (in the order it wrote them) and the console's of its registrations (by time),
    in time order: each list keeps its own order; `at` is the index of the time in both."""
    return heapq.merge(kiosk, console, key=lambda row: row[at])


def hand_rows_with(own: list[tuple[object, ...]], console: list[tuple[object, ...]],
                   since: float | None) -> list[tuple[object, ...]]:
    """One kiosk's rows of `hand_rows` (ROW_COLUMNS) with the console's corrections among them by time: those from
    `since` on, as for the kiosk's own, and those of a registration in `own` whenever made (the kiosk's clock
    may be ahead of the collector's)."""
    registrations = {row[_ID] for row in own if row[_KIND] != CORRECTION}
    chosen = [row[:-1] for row in console
              if since is None or _time(row) >= since or _corrects(row) in registrations]
    return list(merged(own, chosen, _AT)) if chosen else own


def _time(row: Sequence[Any]) -> float:
    return float(row[_AT])


def _corrects(row: Sequence[Any]) -> object:
    return _object(str(row[_DETAILS])).get("corrects")

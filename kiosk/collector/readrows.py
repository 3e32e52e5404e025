"""The read model's rows made into its records: events, their corrections, kiosk names and states."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from kiosk.audit.corrections import CORRECTABLE, Fix, fixes_of
from kiosk.audit.events import Event
from kiosk.collector import console_sql as sql
from kiosk.collector import corrections_sql
from kiosk.collector import schema as q
from kiosk.collector.dialect import Tx
from kiosk.collector.readmodel import KioskState
from kiosk.collector.records import Device
from kiosk.collector.store import ROW_COLUMNS
from kiosk.device_names import label

_AT, _KIND = ROW_COLUMNS.index("at"), ROW_COLUMNS.index("kind")


def event_of(row: Any) -> Event:
    """The Event of an events-list row (ROW: the kiosk's columns, then the device id); details {} if unreadable."""
    values = dict(zip(ROW_COLUMNS, row))
    try:
        details = json.loads(values["details"]) if values["details"] else {}
    except ValueError:
        details = {}
    values["details"] = details if isinstance(details, dict) else {}
    return Event(**values)


def fixes_for(tx: Tx, rows: list[Any]) -> dict[str, Fix]:
    """The corrections of the registrations among `rows` (events-list rows), by registration id."""
    since: dict[str, float] = {}
    for row in rows:
        if row[_KIND] == CORRECTABLE:
            since[row[-1]] = min(since.get(row[-1], row[_AT]), row[_AT])
    fixes: dict[str, Fix] = {}
    console = corrections_sql.by_events(tx, [(row[-1], row[0]) for row in rows if row[_KIND] == CORRECTABLE])
    for device_id, at in since.items():  # the console's corrections (kiosk/collector/corrections_sql.py) by time
        fixes.update(fixes_of(corrections_sql.merged(tx.all(sql.CORRECTIONS, [device_id, at]),
                                                     map(corrections_sql.fix_row, console.get(device_id, [])))))
    return fixes


def labels(tx: Tx) -> dict[str, str]:
    return {id_: label(name, id_) for id_, name in tx.all(sql.NAMES)}


def visible(site: str | None, sites: Collection[str] | None) -> bool:
    return sites is None or (site is not None and site in sites)


def kiosk_states(tx: Tx, sites: Collection[str] | None, start: float | None, end: float | None) -> list[KioskState]:
    outages = dict(tx.all(sql.OUTAGES, [start, end])) if start is not None and end is not None else {}
    found = []
    said: dict[str, dict[str, str]] = {}  # a fleet's kiosks mostly say the same few states: each text read once
    for row in tx.all(*sql.kiosks(sites)):
        device: Device = q.device_of(row[:10])
        site, status_at, _, backlog, issued, refreshed, offset, states, raw = row[10:]
        if not visible(site, sites):
            continue
        words = said.get(states) if states else {}
        if words is None:
            words = said[states] = _states(states)
        found.append(KioskState(device, site, status_at, None if backlog is None else int(backlog), issued,
                                refreshed, offset, dict(words), int(outages.get(device.id, 0)), bool(raw)))
    return found


def _states(text: str) -> dict[str, str]:
    """A status's device states ({"camera": "ok", ...}); {} when the text is not such an object."""
    try:
        words = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in words.items()} if isinstance(words, dict) else {}

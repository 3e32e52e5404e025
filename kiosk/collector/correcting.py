"""A registration by hand corrected from the console: found in an account's scope, checked by the kiosk's own rules,
and kept as the collector's record (kiosk/collector/corrections_sql.py), in one transaction of either store.

The rules are the kiosk's (`kiosk log correct`, kiosk/audit/recorder.py): only a registration by hand is
corrected, something must change, a field must be one the site records (the collector knows no site's
`manual_fields`: the kiosk's default ones, and those the registration holds), a temperature must be plausible
and one at or above the fever threshold is a fever, by the kiosk's own policy defaults (kiosk/policy.py: the
collector has no site's [policy]). The correction itself is made by kiosk/audit/corrections.py's
`correction_event`, so it holds exactly what a kiosk's would.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping

from kiosk.audit.corrections import correction_event
from kiosk.audit.events import Event, new_id
from kiosk.audit.export import DEFAULT_FIELDS
from kiosk.audit.registration import is_fever, temperature_problem, unknown_fields
from kiosk.collector import console_sql as sql
from kiosk.collector import corrections_sql as table
from kiosk.collector.dialect import Tx
from kiosk.collector.readmodel import EventRow
from kiosk.collector.readrows import event_of, fixes_for, visible
from kiosk.device_names import label
from kiosk.policy import Policy

POLICY = Policy()  # the kiosks' own defaults: the plausible range and the fever threshold
MAX_FIELDS = 32  # fields one correction may name
MAX_VALUE = 200  # characters of a field's value
MAX_NOTE = 200  # characters of the note why
_DEVICE_ID = re.compile("[0-9a-f]{16}")
_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Z]{25}")
_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_SITE = 3  # the site's place in an events-list row (ROW_COLUMNS: id, at, kind, site, ...)


def registration_in(tx: Tx, device_id: str, event_id: str, sites: Collection[str] | None) -> EventRow | None:
    """The event `event_id` of kiosk `device_id` with the corrections of it so far (the kiosk's and the console's),
    if the scope `sites` sees it; None for any other (not stored, another site's, not even an id)."""
    if not (isinstance(device_id, str) and _DEVICE_ID.fullmatch(device_id)
            and isinstance(event_id, str) and _ULID.fullmatch(event_id)):
        return None
    rows = tx.all(table.EVENT, [device_id, event_id])
    if not rows or not visible(rows[0][_SITE], sites):
        return None
    names = tx.all(table.DEVICE_NAME, [device_id])
    return EventRow(event_of(rows[0]), device_id, label(names[0][0], device_id) if names else device_id[:8],
                    fixes_for(tx, rows).get(event_id))


def correction_of(found: EventRow, fields: Mapping[str, str], temperature: float | None, note: str,
                  account: str, at: float) -> Event:
    """The console's correction of `found` as a kiosk's correction event would be (id "C" + a ULID of `at`);
    ValueError (one line, the kiosk's words where it has them) when the kiosk would refuse it."""
    if not (isinstance(note, str) and isinstance(account, str) and account
            and isinstance(at, (int, float)) and math.isfinite(at)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())):
        raise ValueError("a correction holds text, and is made by an account at a time")
    original, fix = found.event, found.fix
    # The kiosk's refusals first, in its words: not a registration by hand, or nothing to change.
    event = correction_event(original, fix, fields, temperature, fever=is_fever(temperature, POLICY),
                             operator=table.OPERATOR + account, at=at, event_id=table.PREFIX + new_id(at), note=note)
    current = fix.details(original.details) if fix else dict(original.details)
    allowed = (*DEFAULT_FIELDS, *(key for key in {**original.details, **current} if key not in DEFAULT_FIELDS))
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} fields in one correction, not {len(fields)}")
    if problem := unknown_fields(fields, allowed):
        raise ValueError(problem)
    for key, value in fields.items():
        if len(value) > MAX_VALUE or _UNSTORABLE.search(value):
            raise ValueError(f"{key[:40]}: at most {MAX_VALUE} characters on one line")
    if temperature is not None and (implausible := temperature_problem(temperature, POLICY)):
        raise ValueError(implausible[1])
    if not note or len(note) > MAX_NOTE or _UNSTORABLE.search(note):
        raise ValueError(f"note: why it is corrected, 1 to {MAX_NOTE} characters on one line")
    return event


def correct_in(tx: Tx, device_id: str, event_id: str, fields: Mapping[str, str], temperature: float | None,
               note: str, account: str, at: float, sites: Collection[str] | None) -> Event | None:
    """Keep the console's correction of a registration the scope sees (None: there is none such, nothing is
    written); ValueError when the kiosk's rules refuse it. Under the kiosk's row lock, as ingest takes it, so two
    corrections of one registration are made one after the other, each replacing what the one before left."""
    if registration_in(tx, device_id, event_id, sites) is None:  # before any lock: an id of no use takes none
        return None
    tx.run(sql.LOCK_DEVICE, [device_id])
    found = registration_in(tx, device_id, event_id, sites)
    if found is None:
        return None
    newest = tx.all(table.NEWEST, [device_id, event_id])[0][0]
    when = max(at, float(newest) + 0.001) if newest is not None else at  # after the one before, whatever the clock
    event = correction_of(found, fields, temperature, note.strip() if isinstance(note, str) else note, account,
                          when)
    details = event.details
    tx.run(table.INSERT, [event.id, device_id, event_id, found.event.site or "", found.event.lane or "", when, account,
                          _json(details["fields"]), event.temperature, event.reason, _json(details["was"]),
                          str(details.get("note", ""))])
    return event


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)

"""Corrections of registrations by hand: new events that point at the one they correct. Pure.

The chain is never edited: a registration with a typo (365 for 36.5, a wrong
phone number) stays as it was written, and a later event of kind "correction"
says which registration it corrects (`details.corrects`), the new values
(`details.fields`; "" removes a field; a new temperature in the event's own
`temperature`, with `reason` "fever" when it is one) and the values they replace
(`details.was`). Exports and the day report show each registration with its
corrections applied, in the order they were written, and mark it corrected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from kiosk.audit.events import Event

KIND = "correction"
CORRECTABLE = "manual"


@dataclass(frozen=True)
class Fix:
    """What the corrections of one registration add up to."""

    by: str  # the newest correction's id
    at: float  # ... its time
    operator: str  # ... and who made it
    count: int = 1
    fields: dict[str, object] = field(default_factory=dict)  # new values; "" removes the field
    temperature_set: bool = False
    temperature: float | None = None
    reason: str | None = None  # "fever" or None, with the new temperature

    def details(self, original: Mapping[str, object]) -> dict[str, object]:
        merged = {**original, **self.fields}
        return {key: value for key, value in merged.items() if value not in ("", None)}

    def values(self, temperature: float | None, reason: str | None) -> tuple[float | None, str | None]:
        """(temperature, reason) of the registration once corrected."""
        return (self.temperature, self.reason) if self.temperature_set else (temperature, reason)


def folded(fix: Fix | None, event_id: str, at: float, operator: str | None, temperature: float | None,
           reason: str | None, details: Mapping[str, object]) -> Fix:
    """`fix` with one more correction (the next in write order) applied."""
    fields = details.get("fields")
    was = details.get("was")
    new = Fix(event_id, at, operator or "", (fix.count + 1) if fix else 1,
              {**(fix.fields if fix else {}), **(fields if isinstance(fields, dict) else {})})
    if isinstance(was, dict) and "temperature" in was:
        return replace(new, temperature_set=True, temperature=temperature, reason=reason)
    if fix is not None and fix.temperature_set:
        return replace(new, temperature_set=True, temperature=fix.temperature, reason=fix.reason)
    return new


def fixes_of(rows: Iterable[tuple[str, float, str | None, float | None, str | None, str | None]]) -> dict[str, Fix]:
    """What the corrections add up to, by the id of the registration each corrects: `rows` are the log's
    correction events, (id, at, operator, temperature, reason, details as JSON text), in write order."""
    fixes: dict[str, Fix] = {}
    for event_id, at, operator, temperature, reason, text in rows:
        try:
            details = json.loads(text) if text else {}
        except ValueError:
            continue  # never written by this kiosk: a correction nobody can read corrects nothing
        corrects = details.get("corrects") if isinstance(details, dict) else None
        if isinstance(corrects, str):
            fixes[corrects] = folded(fixes.get(corrects), event_id, at, operator, temperature, reason, details)
    return fixes


def correction_event(original: Event, fix: Fix | None, fields: Mapping[str, str], temperature: float | None,
                     *, fever: bool, operator: str, at: float, event_id: str, note: str | None = None) -> Event:
    """The event correcting `original` (already corrected by `fix`) with new `fields` and/or `temperature`.

    Raises ValueError when `original` is not a registration by hand or nothing is given to change.
    """
    if original.kind != CORRECTABLE:
        raise ValueError(f"event {original.id} is a {original.kind} event: only a registration by hand "
                         "(kind manual) can be corrected")
    if not fields and temperature is None:
        raise ValueError("nothing to correct: give a field (NAME=VALUE) and/or a temperature")
    current = fix.details(original.details) if fix else dict(original.details)
    was: dict[str, object] = {key: current.get(key) for key in fields}
    if temperature is not None:
        was["temperature"] = fix.values(original.temperature, original.reason)[0] if fix else original.temperature
    details: dict[str, object] = {"corrects": original.id, "fields": {k: v.strip() for k, v in fields.items()},
                                  "was": was}
    if note:
        details["note"] = note
    return Event(event_id, at, KIND, site=original.site, lane=original.lane, device=original.device,
                 temperature=temperature, reason="fever" if temperature is not None and fever else None,
                 operator=operator, details=details)

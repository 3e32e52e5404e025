"""Events as they read back from SQLite and JSON, so an event's hash is the hash of what is stored. Pure."""

from __future__ import annotations

import math
import re

from kiosk.audit.events import COLUMNS, Event

INT64 = range(-(2**63), 2**63)
_REAL = ("at", "temperature")
_SURROGATE = re.compile("[\ud800-\udfff]")  # bad UTF-8 from argv or a file name; SQLite cannot store it


def _clean(value: object) -> object:
    """What SQLite and JSON give back exactly: -0.0 is stored as 0.0, NaN as NULL, lone surrogates fail."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else value + 0.0  # -0.0 + 0.0 == 0.0
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, dict):
            return {str(_clean(k)): _clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_clean(v) for v in value]
        return value
    return value if value in INT64 else None


def normalized(event: Event) -> Event:
    """The event as it will read back, so its hash is the hash of what is stored."""
    values = {name: _clean(getattr(event, name)) for name in COLUMNS}
    for name, value in values.items():  # PostgreSQL cannot hold NUL in text, so the collector could not take
        if isinstance(value, str) and "\x00" in value:  # the event (inside details JSON escapes it: kept there)
            values[name] = value.replace("\x00", "\ufffd")
    for name in _REAL:  # SQLite's REAL columns give 37 back as 37.0, which hashes differently
        if isinstance(values[name], int):
            values[name] = float(values[name])  # type: ignore[arg-type]
    if values["at"] is None:
        raise ValueError("an event needs a finite time")
    return Event(**values)  # type: ignore[arg-type]

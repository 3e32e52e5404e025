"""The optional "status" object of a sync batch (kiosk/sync/protocol.py): how a kiosk is as it sends, bounded.

Older kiosks send none, older collectors ignore it; keys this version does not know are ignored (up to
MAX_STATUS_KEYS), so a newer kiosk may add some. Pure: no IO.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

DEVICE_KINDS = ("camera", "scanner", "thermometer")  # the devices a status may tell of
STATE_WORD = re.compile("[a-z][a-z _-]{0,31}")  # "ok", "lost", "no reading", ...
MAX_BACKLOG = 10**12  # events
MAX_TIME = 1e11  # seconds since 1970 (the year 5138): a trust time past it is no time
MAX_OFFSET = 1e9  # seconds (31 years) between the kiosk's clock and the collector's
MAX_STATUS_KEYS = 32  # of the status object, and of its devices: what a newer kiosk may add is ignored, up to this


@dataclass(frozen=True)
class KioskStatus:
    """How a kiosk is as it sends a batch; the collector keeps the newest of each kiosk for the console."""

    backlog: int = 0  # events still unsent after this batch
    trust_issued_at: float | None = None  # the issue time (iat) of the kiosk's trust bundle; None: it has none
    trust_refreshed: float | None = None  # when its trust files were last confirmed current (kiosk.trustdir)
    clock_offset: float | None = None  # the collector's clock minus the kiosk's, seconds, as the kiosk measured it
    devices: dict[str, str] = field(default_factory=dict)  # "camera"|"scanner"|"thermometer" -> state word
    # Its log stores raw subject ids ([log] raw_subject = true) where others store references: both are 32 hex
    # digits, so only the kiosk can say which; the console then shows references to those who may not trace.
    raw_subjects: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"backlog": self.backlog, "trust_issued_at": self.trust_issued_at,
                "trust_refreshed": self.trust_refreshed, "clock_offset": self.clock_offset,
                "devices": dict(self.devices), "raw_subjects": self.raw_subjects}


def parse_status(item: object) -> KioskStatus | None:
    """A batch's status object (None when absent or null), every value bounded; ValueError otherwise."""
    if item is None:
        return None
    if not isinstance(item, dict) or len(item) > MAX_STATUS_KEYS:
        raise ValueError(f"must be an object of at most {MAX_STATUS_KEYS} keys")
    backlog = item.get("backlog", 0)
    if not isinstance(backlog, int) or isinstance(backlog, bool) or not 0 <= backlog <= MAX_BACKLOG:
        raise ValueError(f"backlog must be a whole number from 0 to {MAX_BACKLOG}")
    times = [_bounded(item, name, 0.0, MAX_TIME) for name in ("trust_issued_at", "trust_refreshed")]
    offset = _bounded(item, "clock_offset", -MAX_OFFSET, MAX_OFFSET)
    devices = {} if item.get("devices") is None else item["devices"]
    if not isinstance(devices, dict) or len(devices) > MAX_STATUS_KEYS:
        raise ValueError(f"devices must be an object of at most {MAX_STATUS_KEYS} keys")
    states: dict[str, str] = {}
    for name in DEVICE_KINDS:
        state = devices.get(name)
        if state is None:
            continue  # the kiosk has no such device
        if not isinstance(state, str) or not STATE_WORD.fullmatch(state):
            raise ValueError(f"devices.{name} must be a state word (a-z, space, - or _; 32 at most) or null")
        states[name] = state
    raw = item.get("raw_subjects")
    if raw is not None and not isinstance(raw, bool):
        raise ValueError("raw_subjects must be true, false or null")
    return KioskStatus(backlog, times[0], times[1], offset, states, raw is True)


def _bounded(item: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, or null")
    return float(value)

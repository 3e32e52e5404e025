"""The overview's alerts: what a site manager should look at now, from what the kiosks last said. Pure.

Thresholds (constants, so a test and the README can name them):
- a kiosk is online when its last batch came within ONLINE_WITHIN; a kiosk that is not (and not revoked) is
  "silent": an alarm once it has been silent for SILENT_ALARM;
- a chain fault seen in the overview's range (a gap or conflict in a kiosk's hash chain): an alarm;
- trust data older than the kiosks' own warn_hours / alarm_hours defaults (kiosk/sync/health.py): a warning, then
  an alarm (revocations and status changes may be missed);
- a clock further off the collector's than the kiosks' own clock_warn: a warning (codes look expired);
- a device the kiosk's last status says is not ok (camera lost, thermometer disconnected): a warning;
- FEVER_CLUSTER fevers or more at one site within one hour: an alarm (a cluster to look into).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kiosk.sync.health import CLOCK_WARN, TRUST_ALARM, TRUST_WARN

ONLINE_WITHIN = 600.0  # seconds: an idle kiosk syncs every 60 s ([sync] interval), so ten passes missed
SILENT_ALARM = 3600.0  # seconds silent before "silent" is an alarm rather than a warning
FEVER_CLUSTER = 3  # fevers at one site within one hour
FINE_STATES = frozenset({"ok", "back", "restored", "reconnected", "connected", "online", "starting"})


@dataclass(frozen=True)
class KioskFacts:
    label: str  # "Gate 2 (3f2a9c1b)"
    last_sync: float | None
    revoked: bool = False
    trust_at: float | None = None  # when its trust data was issued (from its status)
    clock_offset: float | None = None
    faults: int = 0  # chain faults in the range
    devices: Mapping[str, str] = field(default_factory=dict)  # device -> state, from its last status


@dataclass(frozen=True)
class Alert:
    level: str  # "alarm" or "warning"
    key: str  # the words' key in kiosk/console/words.py ("alert.silent", ...)
    values: dict[str, object]  # what the words are filled with


def online(kiosk: KioskFacts, now: float) -> bool:
    return not kiosk.revoked and kiosk.last_sync is not None and now - kiosk.last_sync <= ONLINE_WITHIN


def kiosk_alerts(kiosk: KioskFacts, now: float) -> list[Alert]:
    if kiosk.revoked:
        return []
    found: list[Alert] = []
    if kiosk.last_sync is None:
        found.append(Alert("warning", "alert.never", {"kiosk": kiosk.label}))
    elif not online(kiosk, now):
        silent = now - kiosk.last_sync
        found.append(Alert("alarm" if silent >= SILENT_ALARM else "warning", "alert.silent",
                           {"kiosk": kiosk.label, "age": silent}))
    if kiosk.faults:
        found.append(Alert("alarm", "alert.chain", {"kiosk": kiosk.label, "count": kiosk.faults}))
    if kiosk.trust_at is not None and now - kiosk.trust_at > TRUST_WARN:
        found.append(Alert("alarm" if now - kiosk.trust_at > TRUST_ALARM else "warning", "alert.trust",
                           {"kiosk": kiosk.label, "age": now - kiosk.trust_at}))
    if kiosk.clock_offset is not None and abs(kiosk.clock_offset) > CLOCK_WARN:
        found.append(Alert("warning", "alert.clock", {"kiosk": kiosk.label, "seconds": round(kiosk.clock_offset)}))
    for device, state in sorted(kiosk.devices.items()):
        if state not in FINE_STATES:
            found.append(Alert("warning", "alert.device", {"kiosk": kiosk.label, "device": device, "state": state}))
    return found


def fever_alerts(site: str, fevers_per_hour: Sequence[tuple[str, int]]) -> list[Alert]:
    """(hour label, fevers) of a site's day: an alarm for each hour with FEVER_CLUSTER or more."""
    return [Alert("alarm", "alert.fever", {"site": site, "hour": hour, "count": count})
            for hour, count in fevers_per_hour if count >= FEVER_CLUSTER]


def severity(alert: Alert) -> int:
    """0 for an alarm, 1 for a warning: what a list sorts on (a stable sort keeps each level in the order found)."""
    return 0 if alert.level == "alarm" else 1


def ordered(alerts: Sequence[Alert]) -> list[Alert]:
    """Alarms first, then warnings, each in the order found."""
    return sorted(alerts, key=severity)

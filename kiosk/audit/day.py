"""A day at the checkpoint in numbers: people and scans, verdicts, fevers, the rush, corrections, device outages.

The numbers come from the log's GROUP BY queries over the day's range of `at`
(kiosk/audit/snapshot.py; the day's bounds are local midnights), so a day of a
million events takes seconds; the page that shows them is kiosk/audit/report_page.py, written by kiosk/audit/report.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from kiosk.audit.corrections import Fix
from kiosk.audit.snapshot import Snapshot
from kiosk.audit.store import AuditLog
from kiosk.audit.zones import local_zone

WINDOW = 15 * 60  # the busiest stretch the report names
FEVER_AT = 37.3  # the spec's default threshold; a fever also counts when an earlier check gave the reason
UP = {"ok", "back", "connected", "reconnected", "online", "restored"}
RECOVERED = {"back", "reconnected", "restored"}  # these say it was down, even with no "before"
NEUTRAL = {"starting", "ended"}  # any other state is a problem: "lost", "disconnected", "no reading", ...


@dataclass(frozen=True)
class Outage:
    device: str  # what: "camera", "thermometer", ...
    where: str  # the kiosk (device id) or lane it is part of
    state: str  # what went wrong: "lost", "disconnected", ...
    start: float
    end: float | None  # None: not back by the end of the day
    from_before: bool = False  # back with no problem logged that day: down since before midnight (start)


@dataclass(frozen=True)
class Fever:
    at: float
    celsius: float
    lane: str
    kind: str  # "scan" or "manual"
    fix: Fix | None = None  # the registration's corrections, when it was corrected


@dataclass(frozen=True)
class Correction:
    """A correction made that day: which registration, which fields (names only), the temperature before and after."""

    at: float
    corrects: str
    registered_at: float | None  # None: the registration is not in the log (purged)
    fields: tuple[str, ...]
    temperature: tuple[float | None, float | None] | None  # (was, now) when the temperature was corrected
    operator: str


@dataclass(frozen=True)
class DaySummary:
    day: date
    start: float  # local midnight, epoch seconds
    end: float  # the next local midnight
    people: int = 0  # distinct code subjects, plus the people registered by hand
    scans: int = 0  # every scan, retries included
    visits: int = 0  # scans that are not retries, plus registrations: what the hourly chart and the rush count
    verdicts: dict[str, int] = field(default_factory=dict)
    manual: int = 0
    hourly: list[int] = field(default_factory=lambda: [0] * 24)  # visits per local hour
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (verdict, reason) -> count, pass excluded
    fevers: list[Fever] = field(default_factory=list)
    busiest: tuple[float, float, int] | None = None  # (start, end, visits) of the busiest 15 minutes
    outages: list[Outage] = field(default_factory=list)
    device_events: int = 0
    corrections: list[Correction] = field(default_factory=list)


def day_bounds(day: date, zone: tzinfo) -> tuple[float, float]:
    """Epoch seconds of the day's local midnight and the next one."""
    start = datetime.combine(day, datetime.min.time(), zone).timestamp()
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).timestamp()


def summarize(log: AuditLog, day: date, *, tz: tzinfo | None = None, fever_at: float = FEVER_AT) -> DaySummary:
    """The day's numbers, aggregated by SQLite over [local midnight, next local midnight)."""
    zone = tz or local_zone()
    start, end = day_bounds(day, zone)
    # Local hour of each quarter hour since midnight (a DST day has 23 or 25 hours).
    hour_of = [datetime.fromtimestamp(start + q * 900, zone).hour for q in range(int((end - start) // 900) + 1)]
    scans = manual = 0
    verdicts: dict[str, int] = {}
    reasons: dict[tuple[str, str], int] = {}
    with log.snapshot() as snapshot:
        for kind, verdict, reason, n in snapshot.kinds(start, end):
            scans += n if kind == "scan" else 0
            manual += n if kind == "manual" else 0
            if kind == "scan" and verdict is not None:
                verdicts[verdict] = verdicts.get(verdict, 0) + n
                if verdict != "pass":
                    reasons[verdict, reason or "?"] = reasons.get((verdict, reason or "?"), 0) + n
        subjects = snapshot.subjects(start, end)
        last = snapshot.last_at(start, end)
        seconds = snapshot.visits_per_second(start, end)
        notable = snapshot.devices_and_fevers(start, end, fever_at)
        hand = snapshot.hand_made(start, end)
        fixes = snapshot.fixes() if hand else {}  # a registration of this day may have been corrected any day since
        corrections = _corrections(snapshot, [row for row in hand if row[6] == "correction"])
    hourly = [0] * 24
    for second, n in seconds:
        hourly[hour_of[int((second - start) // 900)]] += n
    devices = [row for row in notable if row[5] == "device"]
    fevers = [Fever(at, temp, lane or device or "", "scan") for at, lane, device, temp, _, kind, _ in notable
              if kind == "scan"]
    for event_id, at, lane, device, temp, reason, kind, _, _ in hand:
        fix = fixes.get(event_id) if kind == "manual" else None
        temp, reason = fix.values(temp, reason) if fix else (temp, reason)
        if kind == "manual" and temp is not None and (reason == "fever" or temp >= fever_at):
            fevers.append(Fever(at, temp, lane or device or "", kind, fix))
    return DaySummary(day, start, end, people=subjects + manual, scans=scans, visits=sum(n for _, n in seconds),
                      verdicts=verdicts, manual=manual, hourly=hourly, reasons=reasons,
                      fevers=sorted(fevers, key=lambda f: f.at),
                      busiest=_busiest(seconds, min(end, last) if last is not None else end),
                      outages=_outages(devices, start), device_events=len(devices), corrections=corrections)


def _busiest(seconds: list[tuple[int, int]], last: float) -> tuple[float, float, int] | None:
    """The 15 minutes, starting on a whole second, with the most visits (sliding, not clock quarters); the end
    is clipped to the day's last event: the log knows nothing of the minutes after it."""
    best: tuple[float, int] | None = None
    inside, j = 0, 0
    for second, n in seconds:
        while j < len(seconds) and seconds[j][0] < second + WINDOW:
            inside += seconds[j][1]
            j += 1
        if best is None or inside > best[1]:
            best = (float(second), inside)
        inside -= n
    return None if best is None else (best[0], max(best[0], min(best[0] + WINDOW, last)), best[1])


def _outages(rows: list[tuple[object, ...]], day_start: float) -> list[Outage]:
    """Intervals from a device's problem state to its next good state, per device; none that lasted no time."""
    opened: dict[tuple[str, str], tuple[str, float]] = {}
    seen: set[tuple[str, str]] = set()
    found: list[Outage] = []
    for at, lane, device, _, _, _, details in rows:
        try:
            info = json.loads(str(details)) if details else {}
        except ValueError:
            info = None
        info = info if isinstance(info, dict) else {}
        name = (str(info.get("device") or "device"), str(device or lane or ""))
        state, when = str(info.get("state", "?")), float(str(at))
        if state in UP:
            if name in opened:
                problem, since = opened.pop(name)
                found.append(Outage(*name, problem, since, when))
            elif name not in seen and (state in RECOVERED or info.get("before") not in (None, *UP, *NEUTRAL)):
                found.append(Outage(*name, str(info.get("before") or "?"), day_start, when, from_before=True))
        elif state not in NEUTRAL and name not in opened:
            opened[name] = (state, when)
        seen.add(name)
    found += [Outage(*name, problem, since, None) for name, (problem, since) in opened.items()]
    return sorted((o for o in found if o.end is None or o.end > o.start), key=lambda o: (o.start, o.device, o.where))


def _corrections(snapshot: Snapshot, rows: list[tuple[object, ...]]) -> list[Correction]:
    """The day's corrections, with the time of the registration each corrects."""
    found: list[tuple[float, str, tuple[str, ...], tuple[float | None, float | None] | None, str]] = []
    for _, at, _, _, temperature, _, _, operator, details in rows:
        try:
            info = json.loads(str(details)) if details else {}
        except ValueError:
            continue
        fields, was = info.get("fields"), info.get("was")
        if not isinstance(info.get("corrects"), str) or not isinstance(fields, dict) or not isinstance(was, dict):
            continue
        old = was.get("temperature")
        new = temperature if isinstance(temperature, float) else None
        change = (float(old) if isinstance(old, (int, float)) else None, new) if "temperature" in was else None
        found.append((float(str(at)), info["corrects"], tuple(sorted(fields)), change, str(operator or "")))
    registered = snapshot.times_of([target for _, target, *_ in found])
    return [Correction(at, target, registered.get(target), fields, change, operator)
            for at, target, fields, change, operator in found]

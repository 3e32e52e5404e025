"""The roll-ups the console's overview reads: counted from each batch's new events as it is stored.

What is counted is defined in kiosk/collector/readmodel.py. An hour is an hour of
the collector's day zone (on a zone half an hour off UTC, its hours start at :30 UTC),
a day runs from one local midnight to the next, as kiosk.audit.day.day_bounds makes
them. An event dated before 1970 or after MAX_AT is stored but counted in no hour.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from kiosk.audit.day import NEUTRAL, UP, day_bounds
from kiosk.audit.zones import local_zone, named_zone
from kiosk.collector import console_sql as sql
from kiosk.collector.dialect import Tx
from kiosk.collector.store import Checked
from kiosk.sync.protocol import KioskStatus

MAX_AT = 2.0**37  # seconds since 1970: about the year 6325; later times are no hour of any day
SLOT = 900  # seconds: zone offsets and midnights fall on quarter hours (UTC), so a slot is inside one local hour
ZONE_KEY = "day_zone"
BACKFILL_PAGE = 20_000
MAX_SLOTS = 100_000  # quarter hours a Clock remembers (three years); then it starts afresh
_FIGURES = {name: i for i, name in enumerate(sql.FIGURE_COLUMNS)}
_VERDICTS = {"pass": "passes", "deny": "denies", "retry": "retries"}


class Clock:
    """The hour and the day an event falls in, in one zone, remembered by quarter hour (a batch shares a few)."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._slots: dict[int, tuple[float, float]] = {}

    def _slot(self, at: float) -> tuple[float, float]:
        """(offset from UTC modulo an hour, the local day's start) of the quarter hour `at` is in."""
        slot = math.floor(at / SLOT)
        known = self._slots.get(slot)
        if known is None:
            if len(self._slots) >= MAX_SLOTS:  # events spread over centuries by a hostile kiosk: memory stays bounded
                self._slots = {}
            moment = datetime.fromtimestamp(slot * SLOT, timezone.utc).astimezone(self.zone)
            offset = (moment.utcoffset() or timedelta()).total_seconds() % 3600
            known = self._slots[slot] = (offset, day_bounds(moment.date(), self.zone)[0])
        return known

    def hour(self, at: float) -> float:
        offset, _ = self._slot(at)
        return math.floor((at - offset) / 3600) * 3600 + offset

    def day(self, at: float) -> float:
        return self._slot(at)[1]

    def is_midnight(self, at: float) -> bool:
        return counted(at) and self.day(at) == at


def counted(at: float) -> bool:
    """Whether an event at `at` goes into the roll-ups (a time any calendar can place)."""
    return 0 <= at < MAX_AT


def zone_name(zone: tzinfo) -> str:
    """The IANA name of `zone` to keep in the database; "UTC" for a zone that has none (a copied localtime)."""
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) and key else "UTC"


def day_zone(tx: Tx) -> tzinfo:
    """The day zone kept in the database (UTC where none is, or it no longer names a zone)."""
    rows = tx.all(sql.SETTING, [ZONE_KEY])
    try:
        return named_zone(str(rows[0][0])) if rows else timezone.utc
    except ValueError:
        return timezone.utc


_CLOCKS: dict[str, Clock] = {}


def clock_of(tx: Tx) -> Clock:
    """The Clock of the database's day zone, read in the caller's transaction (so it is never another's)."""
    zone = day_zone(tx)
    name = zone_name(zone)
    clock = _CLOCKS.get(name)
    if clock is None:
        clock = _CLOCKS[name] = Clock(zone)
    return clock


@dataclass
class Tally:
    """What some events of one device add to the roll-ups."""

    hours: dict[tuple[float, str], list[int]] = field(default_factory=dict)  # (hour, site) -> FIGURE_COLUMNS
    people: set[tuple[float, str, str]] = field(default_factory=set)  # (day, site, subject_ref)
    sites: set[str] = field(default_factory=set)

    def add(self, clock: Clock, at: float, kind: str, site: str, verdict: str | None, reason: str | None,
            subject_ref: str | None, details: object) -> None:
        self.sites.add(site)
        if not counted(at):
            return
        counts = self.hours.setdefault((clock.hour(at), site), [0] * len(_FIGURES))
        counts[_FIGURES["events"]] += 1
        if kind == "scan":
            counts[_FIGURES["scans"]] += 1
            if verdict in _VERDICTS:
                counts[_FIGURES[_VERDICTS[verdict]]] += 1
            if subject_ref is not None:
                self.people.add((clock.day(at), site, subject_ref))
        elif kind == "manual":
            counts[_FIGURES["registrations"]] += 1
        elif kind == "device" and _went_down(details):
            counts[_FIGURES["outages"]] += 1
        if kind in ("scan", "manual") and reason == "fever":
            counts[_FIGURES["fevers"]] += 1

    def write(self, tx: Tx, device_id: str) -> None:
        tx.many(sql.UPSERT_HOURLY, [(hour, site, device_id, *counts) for (hour, site), counts in self.hours.items()])
        # Subjects new to a site's day are counted as they go in (the statement's row count): the overview reads
        # one number a site, not every subject. In key order, so two batches never wait for each other in a circle.
        people = sorted(self.people)
        start = 0
        while start < len(people):
            day, site = people[start][:2]
            end = start
            while end < len(people) and people[end][:2] == (day, site) and end - start < sql.PEOPLE_A_STATEMENT:
                end += 1
            new = tx.run(sql.insert_people(end - start), [value for row in people[start:end] for value in row])
            if new:
                tx.run(sql.ADD_PEOPLE, [day, site, new])
            start = end
        tx.many(sql.INSERT_SITE, [(site,) for site in sorted(self.sites)])


def _went_down(details: object) -> bool:
    """A device event that starts an outage: to a problem state from a good, neutral or unknown one."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return False
    if not isinstance(details, dict):
        return False
    state, before = details.get("state"), details.get("before")
    return _problem(state) and not _problem(before)


def _problem(state: object) -> bool:
    return isinstance(state, str) and state not in UP and state not in NEUTRAL


def record(tx: Tx, clock: Clock, device_id: str, checked: Checked, status: KioskStatus | None,
           received_at: float, sent_at: float) -> None:
    """Inside ingest's transaction: the new events' roll-ups, the kiosk's site and its newest status."""
    tally = Tally()
    for linked, _ in checked.new:
        e = linked.event
        tally.add(clock, e.at, e.kind, e.site, e.verdict, e.reason, e.subject_ref, e.details)
    tally.write(tx, device_id)
    head = checked.head
    newest = next((linked.event for linked, _ in reversed(checked.new)
                   if head is not None and linked.event.id == head.event_id), None)
    if newest is not None:
        tx.run(sql.SET_SITE, [newest.site, device_id])
    if status is not None:
        tx.run(sql.SET_STATUS, [received_at, sent_at, status.backlog, status.trust_issued_at, status.trust_refreshed,
                                status.clock_offset, json.dumps(status.devices, sort_keys=True),
                                int(status.raw_subjects), device_id])


def recount_people(tx: Tx) -> None:
    """people_days counted again from `people`: for a loader that wrote `people` itself, not through Tally.write."""
    for statement in sql.RECOUNT_PEOPLE:
        tx.run(statement)


def rezone(tx: Tx, zone: tzinfo) -> bool:
    """Count the roll-ups in `zone` from now on; when it is not the zone they are in, count them again from the
    stored events (one transaction: the overview sees the old counts or the new, never half of each)."""
    if zone_name(day_zone(tx)) == zone_name(zone):
        return False
    for statement in sql.CLEAR_ROLLUPS:
        tx.run(statement)
    backfill(tx, zone)
    return True


def backfill(tx: Tx, zone: tzinfo | None = None) -> None:
    """Migration 0002's data: fix the day zone (`zone`, else the machine's), then count every stored event."""
    tx.run(sql.PUT_SETTING, [ZONE_KEY, zone_name(zone or local_zone())])
    clock = Clock(day_zone(tx))
    after: Sequence[Any] = ("", "")
    while True:
        page = tx.all(sql.BACKFILL_PAGE, [*after, BACKFILL_PAGE])
        for device_id, rows in _by_device(page):
            tally = Tally()
            for _, _, at, kind, site, verdict, reason, subject_ref, details in rows:
                tally.add(clock, float(at), kind, site if isinstance(site, str) else "", verdict, reason,
                          subject_ref, details)
            tally.write(tx, device_id)
        if len(page) < BACKFILL_PAGE:
            return
        after = (page[-1][0], page[-1][1])


def _by_device(page: list[Any]) -> Iterable[tuple[str, list[Any]]]:
    start = 0
    for i in range(1, len(page) + 1):
        if i == len(page) or page[i][0] != page[start][0]:
            yield page[start][0], page[start:i]
            start = i

"""benchmarks/console.py's data: a city's kiosks over weeks, as they would log it, made reproducibly from a seed.

1,000 kiosks (by default) stand at 100 sites, ten to a site, each in a lane of its own. Every day of the range
each kiosk logs its share of the events (busier sites, quieter weekends, the rush hours of
benchmarks/audit_log.py), with the kiosk's day mix: scans of every verdict and reason (fevers among them),
registrations by hand with a correction now and then, and the camera or thermometer lost for a while. The
people are a population with homes: most scans at a site are of its regulars, who come back day after day, the
rest are anyone, so one subject is seen across days and sites and a trace finds visits and others present.
Each kiosk's events are chained (prev_hash, hash) and carry ULIDs rising in the order it wrote them, as a
kiosk's own log makes them.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from nacl.signing import SigningKey

from benchmarks.audit_log import HOURLY, KIDS, REASONS, VERDICTS
from kiosk.audit import schema
from kiosk.audit.corrections import correction_event
from kiosk.audit.day import day_bounds
from kiosk.audit.events import GENESIS, Event, chain_hash, id_after, new_id
from kiosk.audit.store import AuditLog
from kiosk.cose import kid_of

PER_PERSON = 20  # events per subject of the population over the whole range, on average
REGULARS = 0.85  # of a site's scans, the share of its own regulars
MANUAL, CORRECTION, OUTAGE = 0.004, 0.1, 0.05  # registrations per event; corrections per one; outages a kiosk-day
REASON_NAMES, REASON_WEIGHTS = list(REASONS), list(REASONS.values())
Chained = tuple[Event, bytes, bytes]  # an event, the hash it links to, its own hash


@dataclass(frozen=True)
class Plan:
    """What to make: the same plan (and seed) makes the same events."""

    events: int
    kiosks: int
    sites: int
    days: int
    sample: int  # kiosks whose events go through the real sync path (the first ones: one a site)
    end: float  # the data ends here (when it was made)
    zone: str = "Asia/Shanghai"  # the collector's time zone: its days and hours
    seed: int = 14

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def site(self, kiosk: int) -> str:
        return site_name(kiosk % self.sites)

    def lane(self, kiosk: int) -> str:
        return f"A{kiosk // self.sites + 1}"

    def name(self, kiosk: int) -> str:
        return f"Gate {kiosk:04d}"

    def key(self, kiosk: int) -> SigningKey:
        return SigningKey(hashlib.sha256(f"console bench {self.seed} kiosk {kiosk}".encode()).digest())

    def device_id(self, kiosk: int) -> str:
        return kid_of(bytes(self.key(kiosk).verify_key)).hex()

    @property
    def people(self) -> int:
        return max(self.sites * 20, self.events // PER_PERSON)

    def subject(self, person: int) -> str:
        """A subject reference as a kiosk stores it: 32 hex digits, the same person's every time."""
        return hashlib.blake2b(f"{self.seed}:{person}".encode(), digest_size=16).hexdigest()

    def regular(self, site: int, n: int) -> int:
        """The n-th regular of a site (people are at home at site person % sites)."""
        return site + self.sites * n

    def day_list(self) -> list[date]:
        last = datetime.fromtimestamp(self.end, self.tz).date()
        return [last - timedelta(days=self.days - 1 - i) for i in range(self.days)]


def evening_zone(at: float, hour: int = 20) -> str:
    """The zone (a whole number of hours from UTC) in which `at` is about `hour` o'clock: data made then has most
    of its last day behind it, whenever the benchmark runs, so the overview's "today" is a full one."""
    offset = (hour - datetime.fromtimestamp(at, timezone.utc).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX's sign: Etc/GMT-3 is 3 hours ahead of UTC


def site_name(index: int) -> str:
    return f"人民广场站 {index + 1:03d}号口"


def _share(weights: list[float], total: int) -> list[int]:
    """`total` split in proportion to `weights`, exactly (largest remainders)."""
    whole = sum(weights)
    raw = [total * w / whole for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[:total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass
class Kiosk:
    """One kiosk's log as it grows: the last id and the head hash, its chain."""

    index: int
    head: bytes = GENESIS
    last_id: str = ""
    count: int = 0
    pending: list[Event] = field(default_factory=list)  # its registrations a correction may still come for


class Fleet:
    """Every kiosk's events, day by day; `subjects` the population's references."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        rng = random.Random(plan.seed)
        site_weight = [rng.lognormvariate(0, 0.4) for _ in range(plan.sites)]
        self.weight = [site_weight[k % plan.sites] * rng.uniform(0.7, 1.3) for k in range(plan.kiosks)]
        self.kiosks = [Kiosk(k) for k in range(plan.kiosks)]
        self.mix: Counter[str] = Counter()  # events made, by kind, and fevers
        self.subjects = [plan.subject(p) for p in range(plan.people)]
        self.days = plan.day_list()
        self.cutoff = plan.end - 60  # nothing logged in the last minute, nor in the future
        day_weight = [self._day_weight(d) for d in self.days]
        shares = _share([w * dw for dw in day_weight for w in self.weight], plan.events)
        self.counts = [shares[i * plan.kiosks:(i + 1) * plan.kiosks] for i in range(len(self.days))]

    def _day_weight(self, day: date) -> float:
        start, end = day_bounds(day, self.plan.tz)
        weight = 0.8 if day.weekday() >= 5 else 1.0
        if end <= self.cutoff:
            return weight
        return weight * sum(h * max(0.0, min(1.0, (self.cutoff - start - 3600 * i) / 3600))
                            for i, h in enumerate(HOURLY)) / sum(HOURLY)

    def day(self, number: int) -> Iterator[tuple[int, list[Chained]]]:
        """(kiosk, its chained events) for each kiosk on day `number` of the range."""
        day = self.days[number]
        start, _ = day_bounds(day, self.plan.tz)
        for k, n in enumerate(self.counts[number]):
            rng = random.Random(f"{self.plan.seed}/{number}/{k}")
            hours = [h if start + 3600 * i < self.cutoff else 0 for i, h in enumerate(HOURLY)]
            times: list[float] = []
            while len(times) < n:
                t = start + 3600 * rng.choices(range(24), hours)[0] + rng.random() * 3600
                if t < self.cutoff:
                    times.append(t)
            yield k, self.events(k, sorted(times), rng, outages=True)

    def events(self, k: int, times: list[float], rng: random.Random, outages: bool = False) -> list[Chained]:
        """Kiosk k's events at `times` (ascending, after its last), chained after its head; `outages`: a camera
        or thermometer lost for a while on OUTAGE of the days."""
        kiosk, out = self.kiosks[k], []
        down = rng.randrange(len(times) - 2) if outages and len(times) > 20 and rng.random() < OUTAGE else -1
        back = min(len(times) - 1, down + rng.randrange(10, 60)) if down >= 0 else -1
        thing = rng.choice(["camera", "thermometer"])
        for i, at in enumerate(times):
            candidate = new_id(at, rng.randbytes(10))
            event_id = candidate if candidate > kiosk.last_id else id_after(kiosk.last_id)
            if i in (down, back):
                event = self._device(k, event_id, at, thing, i == down)
            else:
                event = self._person(k, event_id, at, rng)
            own = chain_hash(kiosk.head, event)
            self.mix[event.kind] += 1
            self.mix["fever"] += event.reason == "fever"
            out.append((event, kiosk.head, own))
            kiosk.head, kiosk.last_id = own, event_id
        kiosk.count += len(out)
        return out

    def _device(self, k: int, event_id: str, at: float, thing: str, lost: bool) -> Event:
        problem = "lost" if thing == "camera" else "disconnected"
        return Event(event_id, at, "device", self.plan.site(k), self.plan.lane(k), self.plan.name(k),
                     details={"device": thing, "state": problem if lost else "ok", "before": "ok" if lost else problem})

    def _person(self, k: int, event_id: str, at: float, rng: random.Random) -> Event:
        plan, kiosk = self.plan, self.kiosks[k]
        site, lane, device = plan.site(k), plan.lane(k), plan.name(k)
        roll = rng.random()
        if roll < MANUAL * CORRECTION and kiosk.pending:
            original = kiosk.pending.pop(0)
            return correction_event(original, None, {"phone": f"139****{rng.randrange(10_000):04d}"}, None,
                                    fever=False, operator=f"volunteer-{rng.randrange(5)}", at=at, event_id=event_id)
        if roll < MANUAL:
            event = Event(event_id, at, "manual", site, lane, device, temperature=round(rng.gauss(36.5, 0.3), 1),
                          operator=f"volunteer-{rng.randrange(5)}",
                          details={"name": "张*", "phone": f"138****{rng.randrange(10_000):04d}"})
            if rng.random() < CORRECTION * 2:
                kiosk.pending.append(event)
            return event
        reason = rng.choices(REASON_NAMES, REASON_WEIGHTS)[0]
        coded = reason not in ("not_health_code", "malformed")
        temperature = {"fever": round(rng.uniform(37.3, 39.2), 1), "temperature_missing": None,
                       "temperature_implausible": rng.choice([31.2, 44.0])}.get(reason, round(rng.gauss(36.5, 0.25), 1))
        home = k % plan.sites
        person = plan.regular(home, rng.randrange(max(1, plan.people // plan.sites))) \
            if rng.random() < REGULARS else rng.randrange(plan.people)
        return Event(event_id, at, "scan", site, lane, device, verdict=VERDICTS.get(reason, "deny"), reason=reason,
                     status=({"status_red": "red", "status_amber": "amber"}.get(reason, "green") if coded else None),
                     code_kind=rng.choice(["dynamic", "dynamic", "dynamic", "printed"]) if coded else None,
                     kid=rng.choice(KIDS) if coded else None, iss="CN-310000" if coded else None,
                     code_iat=int(at) - rng.randrange(5, 200) if coded else None,
                     subject_ref=self.subjects[min(person, plan.people - 1)] if coded else None,
                     temperature=temperature)


def append_to_log(path: Path, events: list[Chained]) -> None:
    """Write a kiosk's chained events into its own audit log in one transaction (as AuditLog.append would
    one by one, without an fsync each): the kiosk then syncs them as it syncs anything it logged."""
    if not events:
        return
    AuditLog(path).close()  # made, with its migrations, if it is new
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.executemany(schema.INSERT, [[*schema.row_of(event), prev] for event, prev, _ in events])
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
                   [schema.HEAD, events[-1][2], schema.HEAD_ID, events[-1][0].id.encode()])
        db.execute("COMMIT")
    finally:
        db.close()


def log_head(path: Path) -> tuple[bytes, str]:
    """(head hash, last id) of a kiosk's own log, to chain more events after."""
    db = sqlite3.connect(str(path))
    try:
        found = dict(db.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", [schema.HEAD, schema.HEAD_ID]))
    finally:
        db.close()
    return bytes(found.get(schema.HEAD, GENESIS)), bytes(found.get(schema.HEAD_ID, b"")).decode()

"""The collector's read model for the console: roll-ups kept at ingest, the overview, purge, rename, status.

Every test runs on SQLite and on a real PostgreSQL server (tests/pg_server.py). The events
are made here, in kiosks' own audit logs, with what each one is (a scan of which verdict, a
fever, a registration, a device going down); the expected figures are counted from that
list, by the definitions in kiosk/collector/readmodel.py, never by the code under test.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from kiosk.audit.events import Event, chain_hash, new_id
from kiosk.audit.store import AuditLog
from kiosk.collector import console_sql, rollup, schema
from kiosk.collector.pg_store import PostgresStore
from kiosk.collector.readmodel import Figures
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.collector.store import CollectorStore
from kiosk.cose import kid_of
from kiosk.errors import StoreError
from kiosk.sync.protocol import Batch, KioskStatus, Linked, encode_batch, open_batch, sign
from tests.factories import key

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 5, 4)
HOSTILE = ["Joy City", "'; DROP TABLE events; --", "<script>alert(1)</script>", ""]


@dataclass
class Made:
    """An event as the test made it, with what it is (the expected figures are counted from these)."""

    event: Event
    device_id: str
    went_down: bool = False  # a device event that starts an outage


class Kiosk:
    """A kiosk: its device key and its own audit log (in memory), whose events it sends in signed batches."""

    def __init__(self, name: str, site: str) -> None:
        self.key = key(f"readmodel {name}")
        self.public = bytes(self.key.verify_key)
        self.id = kid_of(self.public).hex()
        self.name, self.site = name, site
        self.log = AuditLog()
        self.sent = 0
        self.made: list[Made] = []

    def add(self, at: float, kind: str = "scan", *, went_down: bool = False, id_: str = "", **fields: object) -> Event:
        """`id_`: a ULID of the kiosk's choosing (else the log makes one from `at`)."""
        values: dict[str, object] = {"site": self.site, "lane": "2", "device": self.name, **fields}
        event = self.log.append(Event(id_, at, kind, **values))  # type: ignore[arg-type]
        self.made.append(Made(event, self.id, went_down))
        return event

    def linked(self) -> list[Linked]:
        links = [row[0] for row in self.log.db.execute("SELECT prev_hash FROM events ORDER BY rowid").fetchall()]
        return [Linked(event, prev) for event, prev in zip(self.log.events(), links, strict=True)]

    def batch(self, sent_at: float, status: KioskStatus | None = None) -> Batch:
        """Everything not sent yet, signed at `sent_at`."""
        events = self.linked()
        new, self.sent = events[self.sent:], len(events)
        body = encode_batch(self.id, new, sent_at, os.urandom(16).hex(), status)
        return open_batch(body, sign(body, self.key), self.id, {self.id: self.public}.get, now=sent_at)


def day_start(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, datetime.min.time(), zone).timestamp()


def local_hours(start: float, end: float, zone: ZoneInfo) -> list[float]:
    """The starts of the local hours of [start, end), found minute by minute (no arithmetic on offsets)."""
    starts, t = [], start
    while t < end:
        if datetime.fromtimestamp(t, zone).minute == 0:
            starts.append(t)
        t += 60
    return starts


def busy_day(kiosks: list[Kiosk], start: float, rng: random.Random, n: int = 60) -> None:
    """A day of every kind of event at each kiosk: scans of each verdict (subjects that come back, fevers, codes
    nobody could read), registrations by hand (some with a fever), a camera that goes down and back."""
    subjects = [f"{i:032x}" for i in range(25)]
    for kiosk in kiosks:
        times = sorted(start + rng.uniform(0, 86400 - 1) for _ in range(n))
        camera_down = False
        for at in times:
            roll = rng.random()
            if roll < 0.75:
                verdict = rng.choice(["pass", "pass", "deny", "retry"])
                reason = {"pass": "ok", "deny": rng.choice(["red_code", "fever"]), "retry": "unreadable"}[verdict]
                subject = rng.choice(subjects) if verdict != "retry" else None
                kiosk.add(at, "scan", verdict=verdict, reason=reason, subject_ref=subject,
                          temperature=37.9 if reason == "fever" else 36.5)
            elif roll < 0.85:
                fever = rng.random() < 0.3
                kiosk.add(at, "manual", operator="li", temperature=38.1 if fever else 36.4,
                          reason="fever" if fever else None, details={"name": "张三", "phone": "138"})
            elif camera_down and roll < 0.9:  # from one problem to another: still the same outage
                kiosk.add(at, "device", details={"device": "camera", "state": "no frames", "before": "lost"})
            else:
                state, before = ("ok", "lost") if camera_down else ("lost", "ok")
                kiosk.add(at, "device", went_down=not camera_down,
                          details={"device": "camera", "state": state, "before": before})
                camera_down = not camera_down


def expected(made: list[Made], start: float, end: float, site: str, people: bool = True) -> Figures:
    """The figures of the definitions (kiosk/collector/readmodel.py), counted from the events made."""
    inside = [m.event for m in made if start <= m.event.at < end and m.event.site == site]
    scans = [e for e in inside if e.kind == "scan"]
    manual = [e for e in inside if e.kind == "manual"]
    return Figures(len({e.subject_ref for e in scans if e.subject_ref is not None}) + len(manual) if people else None,
                   len(scans), sum(e.verdict == "pass" for e in scans), sum(e.verdict == "deny" for e in scans),
                   sum(e.verdict == "retry" for e in scans),
                   sum(e.reason == "fever" for e in scans + manual), len(manual))


OpenStore = Callable[..., CollectorStore]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, url) of an empty database: a SQLite file, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "collector.db")
        return
    url = request.getfixturevalue("pg_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    yield "postgres", url


@pytest.fixture
def open_store(backend: tuple[str, str]) -> Iterator[OpenStore]:
    opened: list[CollectorStore] = []

    def make(zone: ZoneInfo | None = SHANGHAI) -> CollectorStore:
        kind, url = backend
        store: CollectorStore = SqliteStore(url, zone=zone) if kind == "sqlite" else PostgresStore(url, zone=zone)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def raw_sql(backend: tuple[str, str], statement: str) -> None:
    """A statement on the database behind the store's back (what the store must not depend on)."""
    kind, url = backend
    if kind == "sqlite":
        with sqlite3.connect(url) as conn:
            conn.execute(statement)
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]


def site_kiosks(store: CollectorStore, per_site: int = 2) -> list[Kiosk]:
    kiosks = [Kiosk(f"{i}-{n}", site) for i, site in enumerate(HOSTILE) for n in range(per_site)]
    for kiosk in kiosks:
        store.enroll(kiosk.public, f"gate {kiosk.name}", 0.0)
    return kiosks


def send_all(store: CollectorStore, kiosks: list[Kiosk], at: float) -> None:
    for kiosk in kiosks:
        store.ingest(kiosk.batch(at), at)


# --- The overview ------------------------------------------------------------------------------------------

@dataclass
class Zoned:
    zone: ZoneInfo
    day: date
    hours: int = field(default=24)  # how many hours that local day has


@pytest.mark.parametrize("case", [Zoned(SHANGHAI, DAY), Zoned(ZoneInfo("Asia/Kolkata"), DAY),
                                  Zoned(ZoneInfo("Europe/Berlin"), date(2026, 3, 29), 23)],
                         ids=["shanghai", "kolkata-half-hour", "berlin-dst-day"])
def test_the_overview_counts_each_site_and_hour_of_a_local_day_as_defined(open_store: OpenStore,
                                                                           case: Zoned) -> None:
    store = open_store(case.zone)
    kiosks = site_kiosks(store)
    rng = random.Random(14)
    start, end = day_start(case.day, case.zone), day_start(case.day + timedelta(days=1), case.zone)
    for n, day in enumerate((case.day - timedelta(days=1), case.day, case.day + timedelta(days=1))):
        busy_day(kiosks, day_start(day, case.zone), rng)
        busy_day(kiosks, day_start(day, case.zone) + 3600, rng, n=20)  # a day's subjects come in two batches
        send_all(store, kiosks, end + 86400 * 2 + n)
    made = [m for kiosk in kiosks for m in kiosk.made]
    hours = local_hours(start, end, case.zone)
    assert len(hours) == case.hours

    overview = store.overview(None, start, end, hours)

    assert [s.site for s in overview.sites] == sorted(HOSTILE)
    for site in overview.sites:
        assert site.figures == expected(made, start, end, site.site)
        assert site.hours == [expected(made, h, h2, site.site, people=False)
                              for h, h2 in zip(hours, [*hours[1:], end])]
        assert {k.device.id for k in site.kiosks} == {k.id for k in kiosks if k.site == site.site}
        for state in site.kiosks:
            assert state.outages == sum(m.went_down and start <= m.event.at < end for m in made
                                        if m.device_id == state.device.id)
    assert overview.totals.scans == sum(m.event.kind == "scan" and start <= m.event.at < end for m in made)
    assert store.sites() == sorted(HOSTILE)


def test_subjects_stored_a_few_at_a_time_are_counted_once(open_store: OpenStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_sql, "PEOPLE_A_STATEMENT", 3)
    store = open_store()
    kiosks = site_kiosks(store)
    start = day_start(DAY, SHANGHAI)
    busy_day(kiosks, start, random.Random(6))
    send_all(store, kiosks, start + 86400)
    made = [m for kiosk in kiosks for m in kiosk.made]
    overview = store.overview(None, start, start + 86400, [start])
    assert [s.figures for s in overview.sites] == [expected(made, start, start + 86400, site)
                                                   for site in sorted(HOSTILE)]


def test_a_kiosk_s_hours_are_its_own_events_counted_as_defined(open_store: OpenStore) -> None:
    store = open_store()
    kiosks = site_kiosks(store)
    start = day_start(DAY, SHANGHAI)
    busy_day(kiosks, start, random.Random(8))
    send_all(store, kiosks, start + 86400)
    kiosk = kiosks[2]
    hours = local_hours(start, start + 86400, SHANGHAI)
    wanted = []
    for hour in hours:
        inside = [m for m in kiosk.made if hour <= m.event.at < hour + 3600]
        if inside:
            wanted.append((hour, expected(inside, hour, hour + 3600, kiosk.site, people=False),
                           sum(m.went_down for m in inside)))
    assert store.device_hours(kiosk.id, start, start + 86400) == wanted
    assert store.device_hours(kiosk.id, start + 3600, start + 86400) == [w for w in wanted if w[0] >= start + 3600]
    assert store.device_hours("0123456789abcdef", start, start + 86400) == []


def test_a_site_scope_sees_only_its_sites_and_ranges_not_of_one_day_are_still_exact(
        open_store: OpenStore) -> None:
    store = open_store()
    kiosks = site_kiosks(store)
    busy_day(kiosks, day_start(DAY, SHANGHAI), random.Random(3), n=120)
    busy_day(kiosks, day_start(DAY + timedelta(days=1), SHANGHAI), random.Random(4), n=120)
    send_all(store, kiosks, day_start(DAY, SHANGHAI) + 2 * 86400)
    made = [m for kiosk in kiosks for m in kiosk.made]
    two_days = (day_start(DAY, SHANGHAI), day_start(DAY + timedelta(days=2), SHANGHAI))
    both = store.overview(None, *two_days, [two_days[0]])  # a subject on both days is one person
    assert [s.figures for s in both.sites] == [expected(made, *two_days, site) for site in sorted(HOSTILE)]
    mine = frozenset({HOSTILE[1], "a site with no events yet"})
    start = day_start(DAY, SHANGHAI) + 5 * 3600  # 05:00 to 17:00: no day of the roll-up, so people from events
    end = start + 12 * 3600

    overview = store.overview(mine, start, end, [start + 3600 * i for i in range(12)])

    assert [s.site for s in overview.sites] == sorted(mine)
    for site in overview.sites:
        assert site.figures == expected(made, start, end, site.site)
        assert {k.device.id for k in site.kiosks} == {k.id for k in kiosks if k.site == site.site}
    assert store.kiosks(frozenset({"nowhere"})) == []
    assert {k.device.id for k in store.kiosks(None)} == {k.id for k in kiosks}


def test_the_overview_reads_the_roll_ups_and_not_the_events(open_store: OpenStore,
                                                            backend: tuple[str, str]) -> None:
    store = open_store()
    kiosks = site_kiosks(store, per_site=1)
    busy_day(kiosks, day_start(DAY, SHANGHAI), random.Random(5))
    send_all(store, kiosks, day_start(DAY, SHANGHAI) + 86400)
    start, end = day_start(DAY, SHANGHAI), day_start(DAY + timedelta(days=1), SHANGHAI)
    hours = local_hours(start, end, SHANGHAI)
    before = store.overview(None, start, end, hours)
    assert before.totals.scans > 0 and before.totals.people

    raw_sql(backend, "DELETE FROM events")  # what the overview shows must not come from here

    assert store.overview(None, start, end, hours) == before
    raw_sql(backend, "UPDATE people_days SET people = 0")  # a bulk loader's: counted again from `people`
    with store._tx("recount", write=True) as tx:  # type: ignore[attr-defined]
        rollup.recount_people(tx)
    assert store.overview(None, start, end, hours) == before


def test_a_database_made_before_the_read_model_is_migrated_and_its_roll_ups_filled(
        backend: tuple[str, str], open_store: OpenStore) -> None:
    kind, url = backend
    kiosks = [Kiosk(f"old {i}", site) for i, site in enumerate(HOSTILE[:2])]
    busy_day(kiosks, day_start(DAY, SHANGHAI), random.Random(9))
    d = schema.SQLITE if kind == "sqlite" else schema.POSTGRES
    name, tables = schema.MIGRATIONS[0]
    statements: list[tuple[str, list[object]]] = [(s, []) for s in tables(d)]
    statements += [(schema.MIGRATIONS_TABLE.format(real=d.real), []),
                   ("INSERT INTO migrations VALUES (?, ?)", [name, 0.0])]
    for kiosk in kiosks:
        statements.append((schema.ENROLL, [kiosk.id, kiosk.public, f"gate {kiosk.name}", 0.0]))
        for linked in kiosk.linked():
            own = chain_hash(linked.prev_hash, linked.event)
            statements.append((schema.INSERT_EVENT, list(schema.event_row(kiosk.id, linked, own, 1.0))))
    if kind == "sqlite":
        with sqlite3.connect(url) as conn:
            for statement, args in statements:
                conn.execute(statement, args)
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement, args in statements:
                conn.execute(d.sql(statement), args)  # type: ignore[arg-type]

    store = open_store(SHANGHAI)

    start, end = day_start(DAY, SHANGHAI), day_start(DAY + timedelta(days=1), SHANGHAI)
    made = [m for kiosk in kiosks for m in kiosk.made]
    overview = store.overview(None, start, end, [start])
    assert {s.site: s.figures for s in overview.sites} == {site: expected(made, start, end, site)
                                                           for site in HOSTILE[:2]}
    assert {k.device.id: k.site for k in store.kiosks()} == {k.id: k.site for k in kiosks}
    assert store.day_zone.key == "Asia/Shanghai"  # type: ignore[attr-defined]


def test_another_day_zone_counts_the_roll_ups_again(open_store: OpenStore) -> None:
    store = open_store(ZoneInfo("UTC"))
    kiosks = site_kiosks(store, per_site=1)
    busy_day(kiosks, day_start(DAY, SHANGHAI), random.Random(11))
    busy_day(kiosks, day_start(DAY + timedelta(days=1), SHANGHAI), random.Random(12))
    send_all(store, kiosks, day_start(DAY, SHANGHAI) + 3 * 86400)
    made = [m for kiosk in kiosks for m in kiosk.made]
    start, end = day_start(DAY, SHANGHAI), day_start(DAY + timedelta(days=1), SHANGHAI)

    assert store.set_day_zone(SHANGHAI) is True
    assert store.set_day_zone(SHANGHAI) is False

    overview = store.overview(None, start, end, [start])
    assert {s.site: s.figures for s in overview.sites} == {site: expected(made, start, end, site) for site in HOSTILE}


# --- Rename, purge -----------------------------------------------------------------------------------------

def test_a_kiosk_is_renamed_and_a_bad_name_or_an_unknown_kiosk_is_refused(open_store: OpenStore) -> None:
    store = open_store()
    (kiosk,) = site_kiosks(store, per_site=1)[:1]
    renamed = store.rename(kiosk.id, "东门 2号", 100.0)
    assert renamed.name == "东门 2号" and store.device(kiosk.id) == renamed
    for bad in ("a\x00b", "x" * 65, " padded", "bidi\u202e"):
        with pytest.raises(StoreError) as refused:
            store.rename(kiosk.id, bad, 101.0)
        assert "\n" not in str(refused.value)
    with pytest.raises(StoreError, match="not enrolled"):
        store.rename("0123456789abcdef", "ghost", 102.0)
    assert store.device(kiosk.id) == renamed


def test_a_purge_deletes_old_events_and_their_roll_ups_and_the_next_batch_links_on(open_store: OpenStore) -> None:
    store = open_store()
    kiosks = site_kiosks(store, per_site=1)
    days = [DAY + timedelta(days=i) for i in range(3)]
    for i, day in enumerate(days):
        busy_day(kiosks, day_start(day, SHANGHAI), random.Random(20 + i))
    send_all(store, kiosks, day_start(days[-1], SHANGHAI) + 86400)
    made = [m for kiosk in kiosks for m in kiosk.made]
    before = day_start(days[1], SHANGHAI) + 7200.5  # mid-hour: the roll-ups keep the hour it falls in
    day1 = (day_start(days[0], SHANGHAI), day_start(days[1], SHANGHAI))
    day3 = (day_start(days[2], SHANGHAI), day_start(days[2], SHANGHAI) + 86400)
    def figures(start: float, end: float) -> list[tuple[str, Figures, list[Figures]]]:
        return [(s.site, s.figures, s.hours) for s in store.overview(None, start, end, [start]).sites]

    kept = figures(*day3)

    purged = store.purge(before)

    assert purged == sum(m.event.at < before for m in made)
    rows = [row for page in store.rows() for row in page]
    assert len(rows) == sum(m.event.at >= before for m in made) and min(row[1] for row in rows) >= before
    assert all(counts == Figures() for _, counts, _ in figures(*day1))
    assert figures(*day3) == kept
    (record,) = store.purges()
    assert record[1:] == (before, purged)
    for kiosk in kiosks:
        device = store.device(kiosk.id)
        assert device is not None and device.events == sum(m.event.at >= before for m in kiosk.made)
    # Everything a kiosk sent so far purged: its next batch still links to the head the collector kept, and the
    # chain check goes on from there (a batch that skips an event is a gap).
    assert store.purge(day3[1] + 1) == len(rows)
    for kiosk in kiosks:
        kiosk.add(day3[1] + 10, "scan", verdict="pass", reason="ok", subject_ref="ab" * 16)
        assert store.ingest(kiosk.batch(day3[1] + 20), day3[1] + 20).faults == []
        kiosk.add(day3[1] + 30, "scan", verdict="pass", reason="ok")
        kiosk.sent += 1  # this one never reaches the collector
        kiosk.add(day3[1] + 40, "scan", verdict="pass", reason="ok")
        assert [f.kind for f in store.ingest(kiosk.batch(day3[1] + 50), day3[1] + 50).faults] == ["gap"]


# --- The status a kiosk reports ----------------------------------------------------------------------------

def test_the_newest_status_of_each_kiosk_is_kept_with_the_time_it_came(open_store: OpenStore) -> None:
    store = open_store()
    kiosk = site_kiosks(store, per_site=1)[0]
    first = KioskStatus(40, 1_777_000_000.0, 1_777_500_000.5, -1.25, {"camera": "ok", "thermometer": "no reading"})
    kiosk.add(1_778_000_000.0, "scan", verdict="pass", reason="ok")
    store.ingest(kiosk.batch(1_778_000_100.0, first), 1_778_000_101.0)
    state = next(k for k in store.kiosks() if k.device.id == kiosk.id)
    assert (state.status_at, state.backlog, state.trust_issued_at, state.trust_refreshed, state.clock_offset,
            state.devices) == (1_778_000_101.0, 40, 1_777_000_000.0, 1_777_500_000.5, -1.25,
                               {"camera": "ok", "thermometer": "no reading"})
    # A batch without a status (an older kiosk's) leaves it; the next with one replaces it, even when the kiosk's
    # clock (its signing time) went back meanwhile: the order batches are stored in says which is newer.
    store.ingest(kiosk.batch(1_778_000_200.0), 1_778_000_201.0)
    kept = next(k for k in store.kiosks() if k.device.id == kiosk.id)
    assert (kept.status_at, kept.backlog, kept.devices) == (state.status_at, state.backlog, state.devices)
    store.ingest(kiosk.batch(1_778_000_050.0, KioskStatus(0, devices={"scanner": "disconnected"})), 1_778_000_301.0)
    newest = next(k for k in store.kiosks() if k.device.id == kiosk.id)
    assert (newest.status_at, newest.backlog, newest.trust_issued_at, newest.devices) == \
        (1_778_000_301.0, 0, None, {"scanner": "disconnected"})
    assert newest.device.last_seen == 1_778_000_301.0


def test_times_no_calendar_holds_are_stored_and_counted_in_no_hour(open_store: OpenStore) -> None:
    store = open_store()
    kiosk = site_kiosks(store, per_site=1)[0]
    for i, at in enumerate((-5.0, 1e15, 1_778_000_000.0)):  # a kiosk may send any time with any (valid) id
        kiosk.add(at, "scan", verdict="pass", reason="ok", subject_ref="cd" * 16, id_=new_id(1_778_000_000.0 + i))
    store.ingest(kiosk.batch(1_778_000_100.0), 1_778_000_100.0)
    assert store.count() == 3
    assert store.overview(None, 0.0, 2e15, [0.0]).totals.scans == 1

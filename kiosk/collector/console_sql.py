"""The SQL of the console's read model, for both stores (`?` placeholders; kiosk/collector/dialect.py).

Migration 0002 adds the roll-ups the overview reads instead of the events, kept by
ingest in the batch's own transaction (kiosk/collector/rollup.py):

    hourly   (hour, site, device_id) -> events, scans, passes, denies, retries, fevers, registrations, outages
    people   (day, site, subject_ref): each subject once per site and day (insert or ignore)
    people_days (day, site) -> people: how many rows of `people` each site and day has (what ingest inserted)
    sites    every site an event named
    purges   what each purge deleted
    collector_settings  day_zone: the time zone of the hours and days (fixed when 0002 ran)

the indexes of the events list (site, at) and of a trace (subject_ref, at), one of the
hand-made events (registrations and corrections, few among millions), and per device its
site and the newest status its kiosk sent. Untrusted values (sites, subjects, names) are
always parameters: the only text put into a statement here is this module's own.
"""

from __future__ import annotations

from collections.abc import Collection

from kiosk.audit.schema import COLUMNS
from kiosk.collector.dialect import Dialect

FIGURE_COLUMNS = ("events", "scans", "passes", "denies", "retries", "fevers", "registrations", "outages")
_STATUS_COLUMNS = ("status_at", "status_sent", "backlog", "trust_issued_at", "trust_refreshed", "clock_offset",
                   "device_states", "raw_subjects")


def read_model_tables(d: Dialect) -> list[str]:
    """Migration 0002: the roll-ups, the indexes, the device columns (then rollup.backfill fills them)."""
    counts = ", ".join(f"{name} {d.bigint} NOT NULL DEFAULT 0" for name in FIGURE_COLUMNS)
    clustered = " WITHOUT ROWID" if d.placeholder == "?" else ""  # SQLite: the key is the table, no rowid beside
    added = {"site": "TEXT", "renamed_at": d.real, "status_at": d.real, "status_sent": d.real,
             "backlog": d.bigint, "trust_issued_at": d.real, "trust_refreshed": d.real, "clock_offset": d.real,
             "device_states": "TEXT", "raw_subjects": d.bigint}  # raw_subjects: 1 when its log stores raw ids
    return [
        f"""CREATE TABLE IF NOT EXISTS hourly (hour {d.real} NOT NULL, site TEXT NOT NULL,
            device_id {d.key} NOT NULL, {counts}, PRIMARY KEY (hour, site, device_id)){clustered}""",
        f"""CREATE TABLE IF NOT EXISTS people (day {d.real} NOT NULL, site TEXT NOT NULL,
            subject_ref TEXT NOT NULL, PRIMARY KEY (day, site, subject_ref)){clustered}""",
        f"""CREATE TABLE IF NOT EXISTS people_days (day {d.real} NOT NULL, site TEXT NOT NULL,
            people {d.bigint} NOT NULL, PRIMARY KEY (day, site))""",
        "CREATE INDEX IF NOT EXISTS hourly_device ON hourly (device_id, hour)",  # a kiosk's page: its days
        "CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY)",
        f"""CREATE TABLE IF NOT EXISTS purges (seq {d.serial}, at {d.real} NOT NULL, cutoff {d.real} NOT NULL,
            events {d.bigint} NOT NULL)""",
        "CREATE TABLE IF NOT EXISTS collector_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # The events list of a site, newest first, in its keyset order: one index range, read backwards.
        "CREATE INDEX IF NOT EXISTS events_site_at ON events (site, at, device_id, id)",
        "CREATE INDEX IF NOT EXISTS events_subject_at ON events (subject_ref, at) WHERE subject_ref IS NOT NULL",
        # Written as HAND below, so that both databases see the partial index serves the query.
        "CREATE INDEX IF NOT EXISTS events_hand ON events (device_id, at) WHERE kind IN ('manual', 'correction')",
        *(f"ALTER TABLE devices ADD COLUMN {name} {kind}" for name, kind in added.items()),
        # A kiosk's site is that of its newest event (ids rise in the order a kiosk writes).
        "UPDATE devices SET site = (SELECT e.site FROM events e WHERE e.device_id = devices.id "
        "ORDER BY e.id DESC LIMIT 1)",
    ]


HAND = "kind IN ('manual', 'correction')"
SETTING = "SELECT value FROM collector_settings WHERE key = ?"
PUT_SETTING = ("INSERT INTO collector_settings (key, value) VALUES (?, ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
CLEAR_ROLLUPS = ["DELETE FROM hourly", "DELETE FROM people", "DELETE FROM people_days"]  # to count them again

# --- Ingest (and the backfill of 0002) ---------------------------------------------------------------------
UPSERT_HOURLY = (f"INSERT INTO hourly (hour, site, device_id, {', '.join(FIGURE_COLUMNS)}) "
                 f"VALUES (?, ?, ?, {', '.join('?' * len(FIGURE_COLUMNS))}) "
                 "ON CONFLICT (hour, site, device_id) DO UPDATE SET "
                 + ", ".join(f"{name} = hourly.{name} + excluded.{name}" for name in FIGURE_COLUMNS))
PEOPLE_A_STATEMENT = 5000  # rows: 15,000 parameters, under both databases' limits


def insert_people(rows: int) -> str:
    """`rows` subjects of one site and day at once; the statement's row count is how many were new."""
    values = ", ".join(["(?, ?, ?)"] * rows)
    return f"INSERT INTO people (day, site, subject_ref) VALUES {values} ON CONFLICT DO NOTHING"


# For a loader that copies `people` in bulk (benchmarks/console.py): each site and day counted again from it.
RECOUNT_PEOPLE = ["DELETE FROM people_days", "INSERT INTO people_days (day, site, people) "
                  "SELECT day, site, count(*) FROM people GROUP BY day, site"]
ADD_PEOPLE = ("INSERT INTO people_days (day, site, people) VALUES (?, ?, ?) "
              "ON CONFLICT (day, site) DO UPDATE SET people = people_days.people + excluded.people")
INSERT_SITE = "INSERT INTO sites (site) VALUES (?) ON CONFLICT DO NOTHING"
SET_SITE = "UPDATE devices SET site = ? WHERE id = ?"
# The status of the batch stored last is the newest: a device's batches are stored one at a time, in the order they
# came (its row's lock), and a kiosk sends the next only once the last was answered. Not by the kiosk's signing
# time: that moves with the clock offset it learns from each answer.
SET_STATUS = f"UPDATE devices SET {', '.join(f'{name} = ?' for name in _STATUS_COLUMNS)} WHERE id = ?"
# The backfill reads every stored event once, in the primary key's order, a page at a time.
BACKFILL_PAGE = ("SELECT device_id, id, at, kind, site, verdict, reason, subject_ref, details FROM events "
                 "WHERE (device_id, id) > (?, ?) ORDER BY device_id, id LIMIT ?")

# --- Reads -------------------------------------------------------------------------------------------------
SITES = "SELECT site FROM sites UNION SELECT site FROM devices WHERE site IS NOT NULL"
_DEVICE = ("id, public_key, name, enrolled_at, revoked_at, last_seen, events, head_id, head_hash, "
           "(SELECT count(*) FROM faults WHERE faults.device_id = devices.id)")
NAMES = "SELECT id, name FROM devices"
OUTAGES = ("SELECT device_id, CAST(sum(outages) AS BIGINT) FROM hourly WHERE hour >= ? AND hour < ? AND outages > 0 "
           "GROUP BY device_id")
ROW = f"{', '.join(COLUMNS)}, device_id"  # an events list row: the kiosk's columns, then the device id


def in_sites(sites: Collection[str] | None, column: str = "site") -> tuple[str, list[object]]:
    """" AND site IN (?, ...)" and its parameters for a scope; none for every site; never true for none."""
    if sites is None:
        return "", []
    if not sites:
        return " AND 1 = 0", []
    args: list[object] = [*sorted(sites)]
    return f" AND {column} IN ({', '.join('?' * len(sites))})", args


def kiosks(sites: Collection[str] | None) -> tuple[str, list[object]]:
    """The enrolled kiosks of a scope (by the site of their newest event; one that sent nothing has none), by name:
    a site manager's page reads its own few rows, not the city's thousand."""
    clause, args = in_sites(sites)
    return (f"SELECT {_DEVICE}, site, {', '.join(_STATUS_COLUMNS)} FROM devices WHERE 1 = 1{clause} "
            "ORDER BY name, id"), args


def figures_by_hour(sites: Collection[str] | None) -> tuple[str, list[object]]:
    clause, args = in_sites(sites)
    # A bigint, not PostgreSQL's numeric sum (a Decimal each: thousands of rows for a city's day).
    sums = ", ".join(f"CAST(sum({name}) AS BIGINT)" for name in FIGURE_COLUMNS[1:-1])
    # Grouped in the key's order (hour, then site): no sort of the day's rows, one per kiosk and hour.
    return f"SELECT site, hour, {sums} FROM hourly WHERE hour >= ? AND hour < ?{clause} GROUP BY hour, site", args


DEVICE_HOURS = (f"SELECT hour, {', '.join(f'sum({name})' for name in FIGURE_COLUMNS[1:])} FROM hourly "
                "WHERE device_id = ? AND hour >= ? AND hour < ? GROUP BY hour ORDER BY hour")


def people_by_days(sites: Collection[str] | None) -> tuple[str, list[object]]:
    """Distinct subjects per site over whole days of the day zone, from the people roll-up."""
    clause, args = in_sites(sites)
    return (f"SELECT site, count(DISTINCT subject_ref) FROM people WHERE day >= ? AND day < ?{clause} "
            "GROUP BY site"), args


def people_of_day(sites: Collection[str] | None) -> tuple[str, list[object]]:
    """The same for one day (the overview's "today"): the count ingest kept, a row a site."""
    clause, args = in_sites(sites)
    return f"SELECT site, people FROM people_days WHERE day = ?{clause}", args


def people_from_events(sites: Collection[str] | None) -> tuple[str, list[object]]:
    """The same over any range (not whole days): from the events themselves, slower but exact."""
    clause, args = in_sites(sites)
    return (f"SELECT site, count(DISTINCT subject_ref) FROM events WHERE at >= ? AND at < ? AND kind = 'scan'"
            f"{clause} GROUP BY site"), args


def events_page(filters: dict[str, object], sites: Collection[str] | None, since: float | None,
                until: float | None, after: tuple[float, str, str] | None, limit: int) -> tuple[str, list[object]]:
    """One page of the events list, newest first: keyset paging on (at, device_id, id), backwards.

    `filters` maps a column (site, device_id, verdict, reason, subject_ref, kind) to the value it must equal.
    """
    scope, args = in_sites(sites)
    where = [f"1 = 1{scope}"]
    for column, value in filters.items():
        assert column in ("site", "device_id", "verdict", "reason", "subject_ref", "kind")  # never a caller's text
        where.append(f"{column} = ?")
        args.append(value)
    for clause, value in (("at >= ?", since), ("at < ?", until)):
        if value is not None:
            where.append(clause)
            args.append(value)
    if after is not None:
        where.append("(at, device_id, id) < (?, ?, ?)")
        args.extend(after)
    return (f"SELECT {ROW} FROM events WHERE {' AND '.join(where)} ORDER BY at DESC, device_id DESC, id DESC "
            "LIMIT ?"), [*args, limit]


# Corrections of one device's registrations, in the order the kiosk wrote them (ids rise with it).
CORRECTIONS = (f"SELECT id, at, operator, temperature, reason, details FROM events WHERE {HAND} "
               "AND kind = 'correction' AND device_id = ? AND at >= ? ORDER BY id")


def hand_rows(sites: Collection[str] | None, since: float | None) -> tuple[str, list[object]]:
    """One device's registrations and corrections from `since` on (the events_hand index: device, at); the
    device id is the first parameter, then these."""
    clause, args = in_sites(sites)
    start, more = (" AND at >= ?", [since]) if since is not None else ("", [])
    return f"SELECT {ROW} FROM events WHERE device_id = ? AND {HAND}{start}{clause} ORDER BY id", [*more, *args]


def visits(sites: Collection[str] | None) -> tuple[str, list[object]]:
    clause, args = in_sites(sites)
    return (f"SELECT {ROW} FROM events WHERE subject_ref = ? AND kind = 'scan' AND at >= ? AND at < ?{clause} "
            "ORDER BY at, device_id, id LIMIT ?"), args


NEAR = (f"SELECT {ROW} FROM events WHERE site = ? AND at >= ? AND at <= ? AND kind IN ('scan', 'manual') "
        "ORDER BY at, device_id, id LIMIT ?")

# --- Writes ------------------------------------------------------------------------------------------------
RENAME = "UPDATE devices SET name = ?, renamed_at = ? WHERE id = ?"
DEVICE_IDS = "SELECT id FROM devices ORDER BY id"
LOCK_DEVICE = "UPDATE devices SET events = events WHERE id = ?"  # its row lock first, as ingest takes it
PURGE_EVENTS = "DELETE FROM events WHERE device_id = ? AND at < ?"
FEWER_EVENTS = "UPDATE devices SET events = events - ? WHERE id = ?"
PURGE_HOURLY = "DELETE FROM hourly WHERE hour < ?"
PURGE_PEOPLE = ["DELETE FROM people WHERE day < ?", "DELETE FROM people_days WHERE day < ?"]
RECORD_PURGE = "INSERT INTO purges (at, cutoff, events) VALUES (?, ?, ?)"
PURGES = "SELECT at, cutoff, events FROM purges ORDER BY seq"

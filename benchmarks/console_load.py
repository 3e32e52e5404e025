"""benchmarks/console.py's bulk load: the fleet's events straight into the collector's database, with the roll-ups
ingest keeps, fast (executemany in a transaction a day on SQLite, COPY on PostgreSQL) yet the same rows.

What is stored is made by the store's own code: the schema and its migrations (the store opens the database
first), each events row by kiosk.collector.schema.event_row, the roll-ups counted by kiosk.collector.rollup's
Tally (what ingest adds per batch), the devices' heads, sites and statuses with the store's own statements.
Rows go in about in the order they would have come (by time, every kiosk interleaved), so the tables lie on
disk as a collector's that took them batch by batch. `same_rollups` checks the result against the store's
own backfill (the roll-ups counted again from the stored events).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.console_data import Fleet, append_to_log
from kiosk.collector import console_sql as sql
from kiosk.collector import rollup
from kiosk.collector import schema as q
from kiosk.collector.dialect import Tx
from kiosk.collector.pg_store import PostgresStore
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.sync.protocol import Linked

Rows = Sequence[tuple[object, ...]]
STATUS_COLUMNS: tuple[str, ...] = sql._STATUS_COLUMNS  # the values of SET_STATUS, in its order


class SqliteTx:
    """A sqlite3 connection as kiosk.collector.dialect.Tx (the store's roll-up code writes through it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self, text: str, args: Sequence[object] = ()) -> list[Any]:
        return self.db.execute(text, args).fetchall()

    def run(self, text: str, args: Sequence[object] = ()) -> int:
        return self.db.execute(text, args).rowcount

    def many(self, text: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self.db.executemany(text, rows)


class PostgresTx:
    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    def all(self, text: str, args: Sequence[object] = ()) -> list[Any]:
        return self.cur.execute(q.POSTGRES.sql(text), args).fetchall()

    def run(self, text: str, args: Sequence[object] = ()) -> int:
        return self.cur.execute(q.POSTGRES.sql(text), args).rowcount

    def many(self, text: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self.cur.executemany(q.POSTGRES.sql(text), rows)


class Loader:
    """Writes a day of the fleet's events at a time; `tx(work)` runs work(Tx) in one transaction."""

    def finish(self) -> None:
        """After the last day."""

    def tx(self, work: Callable[[Tx], object], rollback: bool = False) -> None:
        raise NotImplementedError

    def events(self, tx: Tx, rows: Rows) -> None:
        tx.many(q.INSERT_EVENT, rows)

    def rollups(self, tx: Tx, tallies: dict[str, rollup.Tally]) -> None:
        for device_id, tally in tallies.items():
            tally.write(tx, device_id)

    def close(self) -> None:
        raise NotImplementedError


class SqliteLoader(Loader):
    def __init__(self, path: Path, zone: tzinfo) -> None:
        SqliteStore(path, zone=zone).close()  # the schema, its migrations and the day zone, as the store makes them
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA synchronous=OFF")  # a fixture: the load is redone if the machine fails under it
        self.db.execute("PRAGMA cache_size=-1000000")  # 1 GB: the indexes' pages being filled stay in memory

    def tx(self, work: Callable[[Tx], object], rollback: bool = False) -> None:
        self.db.execute("BEGIN")
        try:
            work(SqliteTx(self.db))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("ROLLBACK" if rollback else "COMMIT")

    def close(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


class PostgresLoader(Loader):
    def __init__(self, url: str, zone: tzinfo) -> None:
        PostgresStore(url, zone=zone).close()
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("SET synchronous_commit = off")

    def tx(self, work: Callable[[Tx], object], rollback: bool = False) -> None:
        with self.conn.transaction(force_rollback=rollback), self.conn.cursor() as cur:
            work(PostgresTx(cur))

    def _copy(self, tx: Tx, table: str, columns: str, rows: Rows) -> None:
        assert isinstance(tx, PostgresTx)
        with tx.cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def events(self, tx: Tx, rows: Rows) -> None:
        self._copy(tx, "events", q.EVENT_ROW, rows)

    def rollups(self, tx: Tx, tallies: dict[str, rollup.Tally]) -> None:
        """The same rows Tally.write upserts, copied: a day's hours and subjects are new to the tables."""
        hours = [(hour, site, device_id, *counts) for device_id, tally in tallies.items()
                 for (hour, site), counts in tally.hours.items()]
        self._copy(tx, "hourly", f"hour, site, device_id, {', '.join(sql.FIGURE_COLUMNS)}", hours)
        people = sorted(set().union(*(tally.people for tally in tallies.values())))
        self._copy(tx, "people", "day, site, subject_ref", people)
        tx.many(sql.INSERT_SITE, [(s,) for s in sorted(set().union(*(t.sites for t in tallies.values())))])

    def finish(self) -> None:
        self.tx(rollup.recount_people)  # what Tally.write keeps per batch: the subjects of each site and day

    def close(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")  # what autovacuum does to a table once it has grown: plans, visibility
        self.conn.close()


def enroll(loader: Loader, fleet: Fleet) -> None:
    plan = fleet.plan
    since = plan.end - (plan.days + 1) * 86400
    rows = [(plan.device_id(k), bytes(plan.key(k).verify_key), plan.name(k), since) for k in range(plan.kiosks)]
    loader.tx(lambda tx: tx.many(q.ENROLL, rows))


def load_day(loaders: list[Loader], fleet: Fleet, number: int, clock: rollup.Clock,
             sample: dict[int, Path]) -> int:
    """Day `number` of the fleet into every loader, with its roll-ups; the sample kiosks' events into their own
    logs instead (they come through the real sync path). The events loaded."""
    plan = fleet.plan
    rng = random.Random(f"{plan.seed} received {number}")
    rows: list[tuple[object, ...]] = []
    tallies: dict[str, rollup.Tally] = {}
    for k, events in fleet.day(number):
        if k in sample:
            append_to_log(sample[k], events)
            continue
        device_id = plan.device_id(k)
        tally = tallies[device_id] = rollup.Tally()
        for event, prev, own in events:
            rows.append(q.event_row(device_id, Linked(event, prev), own, event.at + rng.uniform(2, 90)))
            tally.add(clock, event.at, event.kind, event.site, event.verdict, event.reason, event.subject_ref,
                      event.details)
    at = q.EVENT_ROW.split(", ").index("at")
    rows.sort(key=lambda row: row[at])  # type: ignore[arg-type,return-value]

    def work(loader: Loader) -> Callable[[Tx], None]:
        def run(tx: Tx) -> None:
            loader.events(tx, rows)
            loader.rollups(tx, tallies)
        return run

    for loader in loaders:
        loader.tx(work(loader))
    return len(rows)


def finish(loader: Loader, fleet: Fleet, bulk: range) -> None:
    """The bulk kiosks' rows as ingest leaves them: head, last upload, events, site; the newest status each sent
    (most fine, a few with a camera lost, trust files days old, a kiosk silent for hours); a chain fault or two."""
    plan, rng = fleet.plan, random.Random(f"{fleet.plan.seed} finish")
    heads, sites, states, faults = [], [], [], []
    for k in bulk:
        kiosk, device_id = fleet.kiosks[k], plan.device_id(k)
        silent = rng.random() < 0.01
        seen = plan.end - (rng.uniform(2, 30) * 3600 if silent else rng.uniform(5, 90))
        heads.append((kiosk.last_id or None, kiosk.head if kiosk.last_id else None, seen, kiosk.count, device_id))
        sites.append((plan.site(k), device_id))
        devices = {"camera": "lost" if rng.random() < 0.01 else "ok", "thermometer": "ok"}
        trust = plan.end - rng.uniform(0.5, 12 if rng.random() < 0.02 else 3) * 86400
        status = {"status_at": seen, "status_sent": seen + rng.gauss(0, 0.5), "backlog": rng.choice([0, 0, 0, 3, 12]),
                  "trust_issued_at": trust, "trust_refreshed": plan.end - 3600, "clock_offset": rng.gauss(0, 0.4),
                  "device_states": json.dumps(devices, sort_keys=True), "raw_subjects": 0}
        states.append((*(status[name] for name in STATUS_COLUMNS), device_id))  # KeyError: a column unknown here
        if rng.random() < 0.005 and kiosk.last_id:
            faults.append((device_id, "gap", kiosk.last_id, None, f"event {kiosk.last_id} does not link to the "
                           "head: events between them are missing, or one of them was altered on the kiosk", seen))

    def run(tx: Tx) -> None:
        tx.many(q.MOVE_HEAD, heads)
        tx.many(sql.SET_SITE, sites)
        tx.many(sql.SET_STATUS, states)
        tx.many(q.INSERT_FAULT, faults)

    loader.tx(run)
    loader.finish()


def same_rollups(loader: Loader, zone: tzinfo) -> bool:
    """Whether the roll-ups hold what the store's own backfill counts from the stored events (then rolled back)."""
    tables = ("SELECT * FROM hourly ORDER BY 1, 2, 3", "SELECT * FROM people ORDER BY 1, 2, 3",
              "SELECT * FROM people_days ORDER BY 1, 2", "SELECT site FROM sites ORDER BY 1")
    found: list[list[list[Any]]] = []

    def compare(tx: Tx) -> None:
        found.append([tx.all(text) for text in tables])
        for statement in sql.CLEAR_ROLLUPS:
            tx.run(statement)
        rollup.backfill(tx, zone)
        found.append([tx.all(text) for text in tables])

    loader.tx(compare, rollback=True)
    return found[0] == found[1]

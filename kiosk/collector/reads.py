"""The console's reads and writes on the collector's store, one implementation for SQLite and PostgreSQL.

Both stores mix `ConsoleReads` in and give it `_tx(doing, write)`: a connection (a
transaction when writing) as a `Tx`. The SQL is kiosk/collector/console_sql.py's; what is
counted is defined in kiosk/collector/readmodel.py. A site scope (`sites`) is an account's:
None reads every site (and the events of no site, ""), a set only those sites.
"""

from __future__ import annotations

import contextlib
import math
import time
from bisect import bisect_right
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from kiosk.audit.events import Event
from kiosk.collector import console_sql as sql
from kiosk.collector import correcting, corrections_sql, rollup
from kiosk.collector import schema as q
from kiosk.collector.dialect import Tx
from kiosk.collector.readmodel import (
    MAX_HOURS,
    MAX_PAGE,
    MAX_WINDOW,
    EventPage,
    EventQuery,
    EventRow,
    Figures,
    KioskState,
    Overview,
    SiteOverview,
    Trace,
    check_range,
    decode_cursor,
    encode_cursor,
)
from kiosk.collector.readrows import event_of, fixes_for, kiosk_states, labels, visible
from kiosk.collector.records import Device
from kiosk.collector.store import ROW_COLUMNS
from kiosk.collector.tracing import trace_in
from kiosk.device_names import name_problem
from kiosk.errors import StoreError

SPLIT_SITES = 32  # a scope of up to this many sites reads the events list site by site, each in index order
_AT, _ID, _KIND = ROW_COLUMNS.index("at"), ROW_COLUMNS.index("id"), ROW_COLUMNS.index("kind")
_DEVICE = ROW_COLUMNS.index("device")


class ConsoleReads:
    """The console's methods of a CollectorStore (see store.py's protocol for what each promises)."""

    def _tx(self, doing: str, write: bool = False) -> contextlib.AbstractContextManager[Tx]:
        raise NotImplementedError

    @property
    def day_zone(self) -> tzinfo:
        """The zone of the roll-ups' hours and days, kept in the database (the overview is fast for its days)."""
        with self._tx("read the day zone") as tx:
            return rollup.day_zone(tx)

    def set_day_zone(self, zone: tzinfo) -> bool:
        """Count hours and days in `zone`: True when it was another zone and the roll-ups were counted again
        from the stored events (in one transaction: 20 to 40 s a million events); False when it is the same."""
        with self._tx("count the roll-ups in another time zone", write=True) as tx:
            return rollup.rezone(tx, zone)

    def sites(self) -> list[str]:
        with self._tx("read the sites") as tx:
            return sorted({str(site) for (site,) in tx.all(sql.SITES)})

    def kiosks(self, sites: frozenset[str] | None = None, start: float | None = None,
               end: float | None = None) -> list[KioskState]:
        check_range(start, end)
        with self._tx("read the kiosks") as tx:
            return kiosk_states(tx, sites, start, end)

    def overview(self, sites: frozenset[str] | None, start: float, end: float,
                 hour_starts: list[float]) -> Overview:
        check_range(start, end)
        if not (start < end and len(hour_starts) <= MAX_HOURS and all(start <= h < end for h in hour_starts)
                and hour_starts == sorted(hour_starts)):
            raise ValueError(f"overview: start before end, and at most {MAX_HOURS} hour starts in order between")
        with self._tx("read the overview") as tx:
            clock = rollup.clock_of(tx)
            whole_days = clock.is_midnight(start) and clock.is_midnight(end)
            known = {str(site) for (site,) in tx.all(sql.SITES)}
            text, args = sql.figures_by_hour(sites)
            hours = tx.all(text, [start, end, *args])
            if whole_days and clock.day(end - 1) == start:  # one day: a range of the key, nothing to sort
                text, args = sql.people_of_day(sites)
                args = [start, *args]
            else:
                text, args = (sql.people_by_days if whole_days else sql.people_from_events)(sites)
                args = [start, end, *args]
            people = {str(site): int(n) for site, n in tx.all(text, args)}
            kiosks = kiosk_states(tx, sites, start, end)
        names = {s for s in known if visible(s, sites)} | set(sites or ()) | {k.site or "" for k in kiosks}
        totals = {name: [0] * 6 for name in names}
        hourly = {name: [[0] * 6 for _ in hour_starts] for name in names}
        for site, hour, *counts in hours:  # a city's day: a row per site and hour, thousands
            total = totals.get(site)
            if total is None:
                continue
            i = bisect_right(hour_starts, hour) - 1
            cell = hourly[site][i] if i >= 0 else [0] * 6
            for j, n in enumerate(map(int, counts)):
                total[j] += n
                cell[j] += n
        by_site: dict[str, list[KioskState]] = {}
        for kiosk in kiosks:
            by_site.setdefault(kiosk.site or "", []).append(kiosk)
        return Overview(start, end, list(hour_starts), [
            SiteOverview(name, by_site.get(name, []),
                         Figures(people.get(name, 0) + totals[name][5], *totals[name]),
                         [Figures(None, *counts) for counts in hourly[name]])
            for name in sorted(names)])

    def device_hours(self, device_id: str, start: float, end: float) -> list[tuple[float, Figures, int]]:
        check_range(start, end)
        with self._tx("read a kiosk's hours") as tx:
            rows = tx.all(sql.DEVICE_HOURS, [device_id, start, end])
        return [(float(hour), Figures(None, *map(int, counts[:-1])), int(counts[-1])) for hour, *counts in rows]

    def events_page(self, query: EventQuery, after: str | None = None, limit: int = 50) -> EventPage:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit: from 1 to {MAX_PAGE} events a page")
        key = decode_cursor(after) if after is not None else None
        filters: dict[str, object] = {column: value for column, value in (
            ("device_id", query.device), ("verdict", query.verdict), ("reason", query.reason),
            ("subject_ref", query.subject), ("kind", query.kind)) if value is not None}
        with self._tx("read events") as tx:
            if query.sites is not None and len(query.sites) <= SPLIT_SITES:
                rows = [row for site in sorted(query.sites) for row in tx.all(*sql.events_page(
                    {"site": site, **filters}, None, query.since, query.until, key, limit + 1))]
                rows.sort(key=lambda row: (row[_AT], row[-1], row[_ID]), reverse=True)
            else:
                rows = tx.all(*sql.events_page(filters, query.sites, query.since, query.until, key, limit + 1))
            page = rows[:limit]
            names = labels(tx)
            fixes = fixes_for(tx, page)
        return EventPage([EventRow(event_of(row), row[-1], names.get(row[-1], row[-1][:8]), fixes.get(row[_ID]))
                          for row in page],
                         encode_cursor((page[-1][_AT], page[-1][-1], page[-1][_ID])) if len(rows) > limit else None)

    def hand_rows(self, since: float | None, until: float | None, sites: frozenset[str] | None = None,
                  device: str | None = None) -> list[tuple[object, ...]]:
        check_range(since, until)
        with self._tx("read the registrations") as tx:
            names = labels(tx)
            devices = [device] if device is not None else sorted(names)
            console = corrections_sql.by_device(tx, sites, device)  # the console's own corrections, by kiosk
            found: list[Any] = []
            for device_id in devices:
                text, args = sql.hand_rows(sites, since)
                own = [(*row[:_DEVICE], names.get(row[-1], row[-1][:8]), *row[_DEVICE + 1:-1])
                       for row in tx.all(text, [device_id, *args])
                       if until is None or row[_KIND] != "manual" or row[_AT] < until]
                found.extend(corrections_sql.hand_rows_with(own, console.get(device_id, []), since))
        return found

    def registration(self, device_id: str, event_id: str, sites: frozenset[str] | None = None) -> EventRow | None:
        with self._tx("read a registration") as tx:
            return correcting.registration_in(tx, device_id, event_id, sites)

    def correct(self, device_id: str, event_id: str, fields: Mapping[str, str], temperature: float | None,
                note: str, account: str, at: float, sites: frozenset[str] | None = None) -> Event | None:
        with self._tx(f"correct registration {str(event_id)[:26]}", write=True) as tx:
            return correcting.correct_in(tx, device_id, event_id, fields, temperature, note, account, at, sites)

    def trace(self, subject_ref: str, since: float, until: float, window: float = 900.0,
              sites: frozenset[str] | None = None) -> Trace:
        check_range(since, until)
        if not isinstance(subject_ref, str) or not 0 < len(subject_ref) <= 200 or "\x00" in subject_ref:
            raise ValueError("subject: a subject reference of 1 to 200 characters")
        if not (isinstance(window, (int, float)) and 0 <= window <= MAX_WINDOW):
            raise ValueError(f"window: from 0 to {MAX_WINDOW:.0f} seconds")
        with self._tx("trace a subject") as tx:
            return trace_in(tx, subject_ref, since, until, float(window), sites)

    def rename(self, device_id: str, name: str, at: float) -> Device:
        if problem := name_problem(name):
            raise StoreError(problem)
        with self._tx(f"rename device {device_id}", write=True) as tx:
            if tx.run(sql.RENAME, [name, at, device_id]) == 0:
                raise StoreError(f"device {device_id} is not enrolled")
            return q.device_of(tx.all(q.SELECT_DEVICE, [device_id])[0])

    def purge(self, before: float) -> int:
        """Device by device, each in a transaction of its own (ingest waits for one device, not for all)."""
        if not (isinstance(before, (int, float)) and math.isfinite(before)):
            raise ValueError("purge: before must be a time")
        with self._tx("read devices") as tx:
            devices = [str(id_) for (id_,) in tx.all(sql.DEVICE_IDS)]
        total = 0
        for device_id in devices:
            with self._tx(f"purge the events of device {device_id}", write=True) as tx:
                tx.run(sql.LOCK_DEVICE, [device_id])
                deleted = tx.run(sql.PURGE_EVENTS, [device_id, before])
                if deleted:
                    tx.run(sql.FEWER_EVENTS, [deleted, device_id])
                total += deleted
        cut = min(max(before, 0.0), rollup.MAX_AT - 1)  # the roll-ups hold no hour outside what `counted` allows
        with self._tx("purge the roll-ups", write=True) as tx:
            clock = rollup.clock_of(tx)  # whole hours and days before `before`: theirs ended by then
            tx.run(sql.PURGE_HOURLY, [clock.hour(cut)])
            for statement in sql.PURGE_PEOPLE:
                tx.run(statement, [clock.day(cut)])
            tx.run(corrections_sql.PURGE, [before])  # the console's corrections go as a kiosk's would
            tx.run(sql.RECORD_PURGE, [time.time(), before, total])
        return total

    def purges(self) -> list[tuple[float, float, int]]:
        """Every purge: (when, the time before which events were deleted, how many), oldest first."""
        with self._tx("read purges") as tx:
            return [(float(at), float(cut), int(n)) for at, cut, n in tx.all(sql.PURGES)]

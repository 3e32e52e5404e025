"""One consistent state of the audit log to read from: what the exports, the day report and the corrections ask.

Rows stream straight from SQLite, never as Event objects, so a million events
take seconds. A snapshot of a log file has a read-only connection of its own
inside one read transaction, so the kiosk keeps writing while an export runs.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk.audit.corrections import KIND as CORRECTION
from kiosk.audit.corrections import Fix, fixes_of
from kiosk.audit.schema import HAND, SELECT

# The JSON Lines export's row, in five parts the export joins: SQLite's json_object escapes the text columns
# (in C: 3x faster than json.dumps per row); the REAL columns (`at`, `temperature`) come as they are, for
# Python's repr, which round-trips where SQLite's %.15g would not.
JSONL_SELECT = ("json_object('id', id), at, json_object('kind', kind, 'site', site, 'lane', lane, 'device', device, "
                "'verdict', verdict, 'reason', reason, 'status', status, 'code_kind', code_kind, 'kid', kid, "
                "'iss', iss, 'code_iat', code_iat, 'subject_ref', subject_ref), temperature, "
                "json_object('operator', operator, 'details', json(coalesce(details, '{}')))")
# A correction as `fixes_of` reads one: (id, at, operator, temperature, reason, details as JSON text).
CorrectionRow = tuple[str, float, str | None, float | None, str | None, str | None]
# What the day report counts as a visit: a scan that is not a retry (the same person again), or a registration.
VISITS = "(kind = 'manual' OR (kind = 'scan' AND coalesce(verdict, '') <> 'retry'))"
_DAY = "at >= ? AND at < ?"


@contextlib.contextmanager
def open_snapshot(path: Path | None, conn: sqlite3.Connection) -> Iterator[Snapshot]:
    """A snapshot of the log file at `path` on a read-only connection of its own; of `conn` itself when the log
    is in memory (it has no other way in)."""
    if path is None:
        yield Snapshot(conn)
        return
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as own:
        own.execute("PRAGMA cache_size=-65536")
        own.execute("PRAGMA temp_store=MEMORY")  # the report's GROUP BY and DISTINCT sort in memory: 2x faster
        own.execute("BEGIN")
        own.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # the read transaction (the snapshot) starts here
        yield Snapshot(own)


class Snapshot:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # --- Exports -------------------------------------------------------------------------------------------

    def _where(self, since: float | None, until: float | None, verdict: str | None) -> tuple[str, list[object]]:
        """The WHERE clause of an export, made to read the table in rowid (write) order without sorting it."""
        clauses: list[str] = ["1"]
        args: list[object] = []
        if since is not None or until is not None:
            # Ids grow with time, so the range's rows sit in one stretch of rowids: find it with the index on `at`,
            # then scan just that stretch (`+at`: not the index), instead of sorting a day of rows back into order.
            span = " AND ".join(c for c, v in (("at >= ?", since), ("at < ?", until)) if v is not None)
            bounds = [v for v in (since, until) if v is not None]
            low, high = self._conn.execute(f"SELECT min(rowid), max(rowid) FROM events WHERE {span}",
                                           bounds).fetchone()
            clauses += ["rowid BETWEEN ? AND ?", span.replace("at ", "+at ")]
            args += [low, high, *bounds]
        if verdict is not None:
            clauses.append("verdict = ?")
            args.append(verdict)
        return " AND ".join(clauses), args

    def count(self, since: float | None = None, until: float | None = None, verdict: str | None = None) -> int:
        """Events in [since, until), of one verdict if given."""
        where, args = self._where(since, until, verdict)
        return int(self._conn.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()[0])

    def rows(self, since: float | None = None, until: float | None = None, verdict: str | None = None, *,
             jsonl: bool = False, batch: int = 10_000) -> Iterator[list[Any]]:
        """The events in [since, until) (of one verdict, if given) in write order, in lists of up to `batch`:
        tuples of schema.COLUMNS (details as JSON text or None), or with `jsonl` of JSONL_SELECT's five parts."""
        where, args = self._where(since, until, verdict)
        cursor = self._conn.execute(f"SELECT {JSONL_SELECT if jsonl else SELECT} FROM events WHERE {where} "
                                    "ORDER BY rowid", args)
        return iter(lambda: cursor.fetchmany(batch), [])

    def registration_fields(self, since: float | None = None, until: float | None = None) -> set[str]:
        """The names of the fields the registrations in [since, until) hold."""
        span = "".join(c for c, v in ((" AND at >= ?", since), (" AND at < ?", until)) if v is not None)
        return {str(key) for (key,) in self._conn.execute(
            f"SELECT DISTINCT j.key FROM events, json_each(events.details) AS j WHERE {HAND} AND kind = 'manual' "
            f"AND json_valid(details){span}", [v for v in (since, until) if v is not None])}

    def fixes(self, more: Sequence[CorrectionRow] = ()) -> dict[str, Fix]:
        """Every registration's corrections in the log, by the registration's id (few: an index finds them).
        `more`: corrections kept outside the log (a collector's console's), in time order, applied among the log's
        by time (a collector's scratch copy holds its rows in time order)."""
        rows = self._conn.execute("SELECT id, at, operator, temperature, reason, details FROM events "
                                  f"WHERE {HAND} AND kind = ? ORDER BY rowid", [CORRECTION])
        return fixes_of(heapq.merge(rows, more, key=lambda row: row[1]) if more else rows)

    def times_of(self, ids: Sequence[str]) -> dict[str, float]:
        """The time of each event of `ids` that the log holds."""
        # One JSON parameter, not one per id: SQLite caps the number of parameters a statement takes.
        return dict(self._conn.execute("SELECT id, at FROM events WHERE id IN (SELECT value FROM json_each(?))",
                                       [json.dumps(list(ids))]).fetchall())

    # --- The day report, over [start, end) -------------------------------------------------------------------

    def kinds(self, start: float, end: float) -> list[tuple[str, str | None, str | None, int]]:
        """(kind, verdict, reason, count) of the scans and registrations."""
        return self._conn.execute(f"SELECT kind, verdict, reason, count(*) FROM events WHERE {_DAY} "
                                  "AND kind IN ('scan', 'manual') GROUP BY 1, 2, 3", [start, end]).fetchall()

    def subjects(self, start: float, end: float) -> int:
        """Distinct code subjects scanned."""
        return int(self._conn.execute(f"SELECT count(DISTINCT subject_ref) FROM events WHERE {_DAY} "
                                      "AND kind = 'scan'", [start, end]).fetchone()[0])

    def last_at(self, start: float, end: float) -> float | None:
        value = self._conn.execute(f"SELECT max(at) FROM events WHERE {_DAY}", [start, end]).fetchone()[0]
        return None if value is None else float(value)

    def visits_per_second(self, start: float, end: float) -> list[tuple[int, int]]:
        """(whole epoch second, visits in it), for the seconds that had any."""
        return self._conn.execute(f"SELECT CAST(at AS INTEGER), count(*) FROM events WHERE {_DAY} AND {VISITS} "
                                  "GROUP BY 1", [start, end]).fetchall()

    def devices_and_fevers(self, start: float, end: float, fever_at: float) -> list[tuple[Any, ...]]:
        """(at, lane, device, temperature, reason, kind, details) of device events and of scans with a fever (the
        reason, or a plausible temperature at or above `fever_at`), in time order."""
        return self._conn.execute(
            f"SELECT at, lane, device, temperature, reason, kind, details FROM events WHERE {_DAY} AND "
            "(kind = 'device' OR (kind = 'scan' AND (reason = 'fever' OR (temperature >= ? "
            "AND coalesce(reason, '') <> 'temperature_implausible')))) ORDER BY at, rowid", [start, end, fever_at]
        ).fetchall()

    def hand_made(self, start: float, end: float) -> list[tuple[Any, ...]]:
        """(id, at, lane, device, temperature, reason, kind, operator, details) of registrations and corrections,
        in time order."""
        return self._conn.execute(f"SELECT id, at, lane, device, temperature, reason, kind, operator, details "
                                  f"FROM events WHERE {HAND} AND {_DAY} ORDER BY at, rowid", [start, end]).fetchall()

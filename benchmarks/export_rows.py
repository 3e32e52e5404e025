"""The console's CSV export in process, stage by stage (issue 14: a 1,000,000-row export at >= 80,000 rows/s): the
database read, the rows made and written as CSV, UTF-8, then the whole pipeline, on a collector database opened
read-only. CPU seconds per row are what the server's one interpreter spends (the GIL); HTTP adds under 1 us a
row (benchmarks/console.py measures it all over HTTP).

Each stage is measured as the console does it now and as it did before:
- read: SQLite reads a scope of sites one index range per site, merged, or the time index filtered (schema.py
  rows_query); before, `site IN (...)`: every page read a page of rows of each site and sorted them. PostgreSQL
  reads binary now, text before;
- rows to CSV: kiosk/audit/csv_rows.py now; before, row_maker's rows through csv.writer;
- the pipeline (read, CSV, UTF-8) as SQLite's store runs it, and with the next page read in a thread while this
  one is written, as PostgreSQL's does (kiosk/collector/streaming.py: in process, with no browser to wait for,
  the thread gains nothing).

    .venv/bin/python benchmarks/export_rows.py --db /var/tmp/kiosk-bench-10m/collector.db [--rows 1000000]
    .venv/bin/python benchmarks/export_rows.py --db postgresql://user@host:5432/collector [--sites all|none|N]
    .venv/bin/python benchmarks/export_rows.py                # 200,000 events of its own, in a temporary folder

`--sites all` (the default) is a manager of every site: each named site, as the console asks the store for
them; `none` is an admin's export (no scope); N, the first N sites. The newest `--rows` events are read.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from kiosk.audit.columns import header, row_maker
from kiosk.audit.csv_rows import csv_maker
from kiosk.audit.events import GENESIS, Event, chain_hash, new_id
from kiosk.collector import schema
from kiosk.collector.console_sql import SITES
from kiosk.collector.database import sqlite_path
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.collector.streaming import read_ahead
from kiosk.console.downloads import Tally, csv_chunks, csv_text_chunks
from kiosk.console.exporting import PAGE_ROWS, columns_and_fixes
from kiosk.sync.protocol import Batch, Linked

ZONE = ZoneInfo("Asia/Shanghai")
Fetch = Callable[[str, list[object]], list[Any]]


def own_database(folder: Path, events: int = 200_000, kiosks: int = 20, sites: int = 10) -> str:
    """`events` scans of `kiosks` kiosks at `sites` sites, one every 10 ms, stored through the store."""
    store, rng, start = SqliteStore(folder / "collector.db"), random.Random(14), time.time() - events / 100
    try:
        for k in range(kiosks):
            device, prev, linked = store.enroll(bytes([k + 1]) * 32, f"Gate {k}", start).id, GENESIS, []
            for i in range(k, events, kiosks):
                at = start + i / 100
                e = Event(new_id(at, rng.randbytes(10)), at, "scan", f"人民广场站 {k % sites:03d}号口", "A1", f"k{k}",
                          "pass", "ok", "green", "dynamic", "9f2c4a1be0d37a55", "CN-310000", int(at) - 30,
                          rng.randbytes(16).hex(), 36.5)
                linked.append(Linked(e, prev))
                prev = chain_hash(prev, e)
            store.ingest(Batch(device, start, os.urandom(16).hex(), linked, os.urandom(32)), time.time())
    finally:
        store.close()
    return str(folder / "collector.db")


def fetchers(url: str) -> tuple[Fetch, Fetch, bool]:
    """(now, before, is SQLite): a page's query on a read-only connection, as the store runs it now and before."""
    path = sqlite_path(url)
    if path is not None:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

        def sqlite(sql: str, args: list[object]) -> list[Any]:
            return db.execute(sql, args).fetchall()

        return sqlite, sqlite, True
    conn = psycopg.connect(url, autocommit=True)
    conn.read_only = True

    def binary(sql: str, args: list[object]) -> list[Any]:
        return conn.execute(sql.replace("?", "%s"), args, binary=True).fetchall()

    def text(sql: str, args: list[object]) -> list[Any]:
        return conn.execute(sql.replace("?", "%s"), args).fetchall()

    return binary, text, False


def digest(rows: object) -> bytes:
    return hashlib.sha256(repr(rows).encode()).digest()


def timed(what: str, rows: int, work: Callable[[], object]) -> object:
    cpu, wall = time.process_time(), time.perf_counter()
    out = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"  {what:<52} {cpu / rows * 1e6:5.2f} us/row CPU   {rows / wall:9,.0f} rows/s ({wall:5.1f} s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a collector database: a SQLite file or sqlite:/// URL, or a postgresql:// URL")
    parser.add_argument("--rows", type=int, default=1_000_000, help="the newest this many events (default 1,000,000)")
    parser.add_argument("--sites", default="all", help="all (every named site), none (no scope) or a number")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiosk-export-rows-") as folder:
        url = args.db or own_database(Path(folder))
        now, before, is_sqlite = fetchers(url)
        since = now("SELECT at FROM events ORDER BY at DESC LIMIT 1 OFFSET ?", [args.rows - 1])
        since_at = since[0][0] if since else None
        named = sorted(row[0] for row in now(SITES, []) if row[0])
        sites = None if args.sites == "none" else frozenset(named if args.sites == "all" else named[:int(args.sites)])
        print(f"{url}: the newest {args.rows:,} events, {'every site' if sites is None else f'{len(sites)} sites'}",
              flush=True)

        def read(fetch: Fetch, sqlite: bool) -> Iterator[list[tuple[object, ...]]]:
            return schema.paged_rows(fetch, since_at, None, None, None, PAGE_ROWS, True, sites, sqlite)

        old = digest(timed("read, before (SQLite: site IN; PostgreSQL: text)", args.rows,
                           lambda: list(read(before, False))))
        pages: list[list[tuple[object, ...]]] = timed("read, now", args.rows, lambda: list(read(now, is_sqlite)))  # type: ignore[assignment]
        assert digest(pages) == old, "the rows read now are not those read before"
        rows = sum(map(len, pages))
        fields, fixes = columns_and_fixes([r for p in pages for r in p if r[2] in ("manual", "correction")], None)
        row = row_maker("zh", ZONE, False, fields, fixes)
        plain = b"".join(timed("rows to CSV, before (row_maker + csv.writer) + UTF-8", rows, lambda: list(
            csv_chunks(header("zh", fields), ([row(r) for r in page] for page in pages), Tally()))))  # type: ignore[arg-type]
        fast = b"".join(timed("rows to CSV, now (csv_rows) + UTF-8", rows, lambda: list(
            csv_text_chunks(header("zh", fields), pages, csv_maker("zh", ZONE, fields, fixes), Tally()))))  # type: ignore[arg-type]
        assert plain == fast, "the CSV made now is not the CSV made before"
        pages.clear()
        def pipeline(ahead: bool) -> int:
            source = read(now, is_sqlite)
            made = csv_text_chunks(header("zh", fields), read_ahead(source) if ahead else source,
                                   csv_maker("zh", ZONE, fields, fixes), Tally())
            return sum(len(chunk) for chunk in made)

        # What the store does: PostgreSQL reads ahead, SQLite does not (kiosk/collector/streaming.py says why).
        for ahead in (False, True, False, True):
            timed(f"the pipeline: {'read ahead, ' if ahead else ''}CSV, UTF-8", rows, lambda: pipeline(ahead))  # noqa: B023
        print(f"  {rows:,} rows, {len(fast) / 2**20:,.0f} MB of CSV, the same bytes both ways", flush=True)


if __name__ == "__main__":
    main()

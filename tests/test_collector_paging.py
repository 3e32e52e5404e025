"""An export's later pages start at their cursor: each page is one index seek, not a re-read of those before it.

A million-row export is 500 pages; if each page sought from the export's `since` and skipped the rows before
its cursor, the export would read the table's range 250 times over (on SQLite it did: 19,000 rows/s instead
of 80,000). Which rows come back, and in what order, tests/test_collector_store.py holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiosk.collector import schema
from kiosk.collector.sqlite_store import SqliteStore


def plans(db: Path, since: float, sites: frozenset[str] | None) -> list[str]:
    """The query plan of each page's statement, as SQLite chooses it on the collector's own indexes."""
    SqliteStore(db).close()  # the collector's tables and indexes
    seen: list[str] = []
    with sqlite3.connect(db) as conn:
        def fetch(sql: str, args: list[object]) -> list[object]:
            seen.append(" ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)))
            return [(i, since + i, "scan", "s", None, "d", "pass", None, None, None, None, None, None, None, None, None,
                     None, f"device{i}")[:len(schema.ROW_COLUMNS) + 1] for i in range(2)] if len(seen) < 3 else []
        for _ in schema.paged_rows(fetch, since, None, None, None, 2, sites=sites):
            pass
    return seen


@pytest.mark.parametrize("sites", [None, frozenset({"s"})], ids=["every site", "one site"])
def test_a_later_page_seeks_its_cursor_not_the_start_of_the_range(tmp_path: Path, sites: frozenset[str] | None) -> None:
    first, *later = plans(tmp_path / "collector.db", 1_780_000_000.0, sites)
    assert "at>?" in first
    assert later and all("(at,device_id,id)>(?,?,?)" in plan for plan in later), later

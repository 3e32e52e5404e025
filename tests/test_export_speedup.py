"""The console's CSV export made fast (issue 14: a 1,000,000-row export at >= 80,000 rows/s), and still the same file.

- kiosk/audit/csv_rows.py writes the common event's line from pieces it keeps: every page of rows, common and
  other events interleaved across page boundaries, must be the text csv.writer writes of row_maker's rows (the
  kiosk's own CSV export), for text a kiosk may send anything in.
- read_ahead reads the next page in a thread of its own while this one is written: never more than one page
  ahead, and a client that leaves stops the reads.
- SQLite reads a scope of sites one index range per site, merged, or the time index filtered: the same rows, in
  the same order, as every site's rows filtered by site; and no page sorts the rest of the range.
- Over HTTP, a real `kiosk collector serve` on SQLite and PostgreSQL: the console's CSV and JSONL of three pages
  of such rows are byte for byte `kiosk collector export`'s.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect

from kiosk.audit import csv_rows
from kiosk.audit.columns import row_maker
from kiosk.audit.corrections import Fix, fixes_of
from kiosk.audit.csv_rows import csv_maker
from kiosk.audit.events import GENESIS, Event, chain_hash, new_id
from kiosk.audit.store import AuditLog
from kiosk.collector import schema
from kiosk.collector.pg_store import PostgresStore
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.collector.store import ROW_COLUMNS, CollectorStore
from kiosk.collector.streaming import read_ahead
from kiosk.console.downloads import Download, Tally
from kiosk.console.exporting import PAGE_ROWS, Request, chunks
from kiosk.errors import StoreError
from kiosk.sync.protocol import Batch, Linked
from tests.console_web import ConsoleSite, Scan, database_url, trust_folder

# --- The CSV lines -------------------------------------------------------------------------------------------

T0 = 1_796_578_196.25
# Text a kiosk may send: CSV's own characters, spreadsheet formulas, Chinese, nothing at all.
HOSTILE = ["a,b", 'say "hi"', "line\nbreak", "cr\rhere", "=cmd|' /C calc'!A0", "+1", "-2", "@x", "\tTab", "\rR",
           "人民广场站，东口", "", " spaced ", "A1"]
FIELDS = ("name", "phone")
REGISTRATION = '{"name": "王五", "phone": "=1+1", "extra": [1, 2]}'


def event(id_: object = "01M966FF2CKSJFCAY2PHRV93GG", at: object = T0, kind: object = "scan",
          **values: object) -> tuple[Any, ...]:
    """A row of SOURCE (ROW_COLUMNS): a plain scan, with `values` in place of its own."""
    row: dict[str, object] = {
        "id": id_, "at": at, "kind": kind, "site": "人民广场站 010号口", "lane": "A1", "device": "Gate 9 (6cfb3f00)",
        "verdict": "pass", "reason": "ok", "status": "green", "code_kind": "dynamic", "kid": "9f2c4a1be0d37a55",
        "iss": "CN-310000", "code_iat": int(T0) - 30, "subject_ref": "34cf71e6c258c101f34e8281b734abf1",
        "temperature": 36.5, "operator": None, "details": None}
    assert set(values) <= set(row)
    row.update(values)
    return tuple(row[name] for name in ROW_COLUMNS)


def mixed_rows() -> list[tuple[Any, ...]]:
    """Common scans and every other kind of row, one after the other, several to a second."""
    rows: list[tuple[Any, ...]] = []
    at = T0
    for i, text in enumerate(HOSTILE * 2):
        at += 0.37  # three rows a second: the same second's text is used again, and a next one's made
        rows += [
            event(at=at, verdict=("pass", "deny", "retry", None, "sideways")[i % 5],
                  reason=("ok", "expired", None, "fever", "made_up")[i % 5], status=(None, "amber", "red")[i % 3]),
            event(at=at, site=text, lane=HOSTILE[-1 - i % len(HOSTILE)], device=f"{text} (6cfb3f00)"),
            event(at=at, code_kind=(None, "printed", text)[i % 3], iss=text or None, kid=text, code_iat=None),
            event(at=at, operator=text, temperature=(None, 37.25, -0.0, 0.0, 37, float("nan"), 1e22)[i % 7]),
            event(at=at, kind="manual", verdict=None, reason=None, details=REGISTRATION, operator="vol,3",
                  id_=f"01M966FF2CKSJFCAY2PHRV9{i:03d}"),  # corrected: see FIXES
            event(at=at, kind="manual", details=None, id_="01M966FF2CKSJFCAY2PHRV9000"),  # fixed, details gone
            event(at=at, kind="correction", details='{"corrects": "01M966FF2CKSJFCAY2PHRV9001", "fields": '
                                                    '{"name": "=evil"}}', reason="fever", temperature=38.5),
            event(at=at, details='{"note": "a scan with details"}'),
            event(at=at, kind="device", verdict=None, details='{"device": "camera", "state": "lost"}'),
            event(at=at, kind=("admin", "purge")[i % 2], details='{"action": "unlock", "result": "bad_pin"}'),
            event(at=at, details="not JSON, written by hand"),
            event(at=at, subject_ref=(None, "", text, 0, 1.5, "ABCdef", "丁一")[i % 7]),
            event(at=at, id_=(f"id-{text}", text, 42, "")[i % 4]),
            event(at=at, kind=text or None, code_iat=-86_400 * (i + 1)),
        ]
    # Before 1970 (a floor, not a cut towards zero), and a second that ends in the middle of a page.
    rows += [event(at=-1.5), event(at=-0.5), event(at=0.25), event(at=at + 0.999), event(at=at + 1.0)]
    # Equal values csv.writer writes each its own way (no database of the collector gives them: a store might).
    rows += [event(at=at + 2, lane=lane, kind=lane, operator=lane) for lane in (1, True, 1.0, "1")]
    return rows


FIXES = fixes_of([("01M966FF2CKSJFCAY2PHRV9ZZZ", T0 + 9e4, "李", 36.9, None,
                   '{"corrects": "01M966FF2CKSJFCAY2PHRV9001", "fields": {"name": "张三", "phone": ""}, '
                   '"was": {"temperature": 36.6}}'),
                  ("01M966FF2CKSJFCAY2PHRV9ZZY", T0 + 9e4, "op,\"x\"", None, None,
                   '{"corrects": "01M966FF2CKSJFCAY2PHRV9000", "fields": {"name": "李四"}}')])


def plain_text(rows: Sequence[Sequence[Any]], language: str, zone: str, fixes: dict[str, Fix]) -> str:
    """What the kiosk's own CSV export writes of the rows: row_maker's rows through csv.writer."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(map(row_maker(language, ZoneInfo(zone), False, FIELDS, fixes), rows))  # type: ignore[arg-type]
    return buffer.getvalue()


def fast_text(rows: Sequence[Sequence[Any]], language: str, zone: str, fixes: dict[str, Fix],
              sizes: Sequence[int] = (1, 3, 2, 7, 5, 11)) -> str:
    """csv_maker's text of the rows, given in pages of `sizes` (in turn) to one maker."""
    lines = csv_maker(language, ZoneInfo(zone), FIELDS, fixes)  # type: ignore[arg-type]
    out, start, turn = [], 0, 0
    while start < len(rows):
        size = sizes[turn % len(sizes)]
        out.append(lines(rows[start:start + size]))
        start, turn = start + size, turn + 1
    return "".join(out)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/St_Johns"])
def test_every_kind_of_row_in_pages_of_any_size_is_the_kiosks_csv_text(language: str, zone: str) -> None:
    rows = mixed_rows()
    expected = plain_text(rows, language, zone, FIXES)
    assert expected.count("\r\n") >= len(rows)  # the reference itself holds every row
    for sizes in ((1,), (2, 3), (1, 3, 2, 7, 5, 11), (len(rows),)):
        assert fast_text(rows, language, zone, FIXES, sizes) == expected, sizes


def test_the_time_of_a_row_is_its_own_seconds_around_a_change_of_offset() -> None:
    # Europe/Berlin went from +01:00 to +02:00 at 2026-03-29 01:00:00 UTC; rows within a second of it.
    change = 1_774_746_000
    rows = [event(at=change + delta) for delta in (-1.0, -0.75, -0.001, 0.0, 0.5, 0.999, 1.0, 3600.5)]
    text = fast_text(rows, "en", "Europe/Berlin", {}, (3,))
    assert text == plain_text(rows, "en", "Europe/Berlin", {})
    assert [line[:28] for line in text.splitlines()][2:4] == ["2026-03-29 01:59:59,+01:00,s",
                                                              "2026-03-29 03:00:00,+02:00,s"]


def test_a_full_memo_starts_again_and_the_text_stays_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_rows, "MEMO", 3)
    rows = [event(at=T0 + i, site=f"site {i % 50}", lane=HOSTILE[i % len(HOSTILE)], kid=f"k{i % 7}",
                  operator=f"op {i % 5}" if i % 2 else None, code_iat=int(T0) - i)
            for i in range(400)]
    lines = csv_maker("zh", timezone.utc, FIELDS, {})
    text = "".join(lines(rows[i:i + 9]) for i in range(0, len(rows), 9))
    assert text == plain_text(rows, "zh", "UTC", {})
    kept = [cell.cell_contents for cell in lines.__closure__ or () if isinstance(cell.cell_contents, dict)]
    assert len(kept) >= 4 and all(len(memo) <= 3 for memo in kept)  # bounded, whatever the kiosks send


texts = st.none() | st.sampled_from(HOSTILE) | st.text(max_size=6)
rows_ = st.builds(
    event, id_=st.sampled_from(["01M966FF2CKSJFCAY2PHRV9001", "01M966FF2CKSJFCAY2PHRV9000", "a,b", "x"]) | st.text(),
    at=st.floats(-3e9, 4e9), kind=st.sampled_from(["scan", "manual", "correction", "device"]) | texts,
    site=texts, lane=texts, device=texts, verdict=texts, reason=texts, status=texts, code_kind=texts,
    kid=texts, iss=texts, code_iat=st.none() | st.integers(-3_000_000_000, 4_000_000_000) | st.floats(0, 4e9),
    subject_ref=texts | st.integers(), temperature=st.none() | st.floats() | st.integers(-50, 50), operator=texts,
    details=st.none() | st.sampled_from([REGISTRATION, '{"device": "camera", "state": "ok"}', "[1]", "{"]))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(rows_, max_size=12), sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       language=st.sampled_from(["zh", "en"]))
def test_any_rows_a_kiosk_could_send_are_the_kiosks_csv_text(rows: list[tuple[Any, ...]], sizes: list[int],
                                                             language: str) -> None:
    assert fast_text(rows, language, "Asia/Shanghai", FIXES, sizes) == plain_text(rows, language, "Asia/Shanghai",
                                                                                   FIXES)


# --- Reading one page ahead ----------------------------------------------------------------------------------

class Source:
    """Pages 0, 1, 2, ... as a store's rows() gives them, noting what was read, by which thread, and the close."""

    def __init__(self, pages: int, fail_at: int | None = None, hold_at: int | None = None) -> None:
        self.pages, self.fail_at, self.hold_at = pages, fail_at, hold_at
        self.read: list[int] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()
        self.reading = threading.Event()  # the held page is being read
        self.release = threading.Event()

    def __iter__(self) -> Iterator[list[int]]:
        try:
            for page in range(self.pages):
                self.threads.add(threading.current_thread().name)
                if page == self.hold_at:
                    self.reading.set()
                    assert self.release.wait(60)  # a hang guard, not a timing
                if page == self.fail_at:
                    raise StoreError("the database went away")
                self.read.append(page)
                yield [page]
        finally:
            self.closed.set()


def test_read_ahead_gives_every_page_in_order_reading_one_ahead_in_another_thread() -> None:
    source = Source(6)
    taken: list[int] = []
    pages = iter(source)  # held here too: only read_ahead's own close can close it
    for page in read_ahead(pages):
        taken += page
        time.sleep(0.05)  # while this page is worked on, the next is read: and only the next
        assert len(source.read) <= len(taken) + 1, (source.read, taken)
    assert taken == list(range(6)) and source.closed.is_set()
    assert source.threads and threading.current_thread().name not in source.threads


def test_a_reader_closed_half_way_reads_no_further_and_closes_its_pages() -> None:
    source = Source(100)
    held = iter(source)  # held here too: only read_ahead's own close can close it
    pages = read_ahead(held)
    assert [next(pages), next(pages)] == [[0], [1]]
    pages.close()  # the client left
    assert source.closed.is_set()
    read = list(source.read)
    time.sleep(0.2)
    assert read == source.read and len(read) <= 3


def test_closing_while_a_page_is_read_waits_for_it_then_closes() -> None:
    source = Source(100, hold_at=1)
    held = iter(source)
    pages = read_ahead(held)
    assert next(pages) == [0]
    assert source.reading.wait(60)  # page 1 is being read in the reader's thread
    closing = threading.Thread(target=pages.close)
    closing.start()
    time.sleep(0.1)
    assert not source.closed.is_set()  # not closed under the reader's feet ("generator already executing")
    source.release.set()
    closing.join(60)
    assert source.closed.is_set() and source.read == [0, 1]


def test_a_read_that_fails_is_the_callers_error() -> None:
    source = Source(100, fail_at=2)
    held = iter(source)
    pages = read_ahead(held)
    assert [next(pages), next(pages)] == [[0], [1]]
    with pytest.raises(StoreError, match="went away"):
        next(pages)
    assert source.closed.is_set()


class PagedStore:
    """What chunks() reads of a store: no registrations, and `pages` pages of plain scans."""

    def __init__(self, pages: int) -> None:
        self.source = Source(pages)

    def hand_rows(self, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return []

    def rows(self, *args: object, **kwargs: object) -> Iterator[list[tuple[object, ...]]]:
        return ([event(at=T0 + number)] * 50 for (number,) in self.source)


def test_a_client_that_leaves_stops_the_database_reads() -> None:
    """Download (what the export page answers) sends the file; the connection fails after the second chunk."""
    store = PagedStore(1000)
    asked = Request("csv", None, None, None, "en", timezone.utc)
    ended: list[Tally] = []
    download = Download(lambda tally: chunks(store, asked, tally), "events.csv", "text/csv",  # type: ignore[arg-type]
                        ended.append)
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if len(sent) == 2:
                raise OSError("the browser went away")
            sent.append(message["body"])

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        return {}

    async def answer() -> None:
        with pytest.raises(ClientDisconnect):
            await download({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send)  # type: ignore[arg-type]

    anyio.run(answer)
    assert store.source.closed.is_set() and len(store.source.read) <= 4, store.source.read
    time.sleep(0.2)
    assert len(store.source.read) <= 4 and ended and not ended[0].complete and ended[0].rows <= 150


# --- A scope of sites, read from the store -------------------------------------------------------------------

SITES = ["Joy City", "East Gate", "东站", "", "Bus 37"]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorStore]:
    if request.param == "sqlite":
        opened: CollectorStore = SqliteStore(tmp_path / "collector.db")
    else:
        url = request.getfixturevalue("pg_url")
        with psycopg.connect(url, autocommit=True) as conn:  # empty again; the store makes its tables anew
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        opened = PostgresStore(url)
    try:
        fill(opened)
        yield opened
    finally:
        opened.close()


def fill(store: CollectorStore, kiosks: int = 4, events: int = 60) -> list[str]:
    """Kiosks whose events move between the sites, some at the very same times (then ordered by kiosk and id):
    their device ids."""
    rng, devices = random.Random(14), []
    for k in range(kiosks):
        key = bytes([k + 1]) * 32
        device = store.enroll(key, f"Gate {k}", T0).id
        devices.append(device)
        prev, linked = GENESIS, []
        for i in range(events):
            at = T0 + (i if i % 4 else i - i % 8)  # ties across kiosks
            e = Event(new_id(at, rng.randbytes(10)), at, "scan", SITES[(i + k) % len(SITES)], "A1", f"k{k}",
                      ("pass", "deny")[i % 2], "ok")
            linked.append(Linked(e, prev))
            prev = chain_hash(prev, e)
        store.ingest(Batch(device, T0, os.urandom(16).hex(), linked, os.urandom(32)), T0)
    return devices


def rows_of(store: CollectorStore, **asked: Any) -> list[tuple[object, ...]]:
    return [row for page in store.rows(names=True, **asked) for row in page]


@pytest.mark.parametrize("scope", [["Joy City"], ["Joy City", "东站"], ["Joy City", "East Gate", "东站", "Bus 37"],
                                   ["Joy City", "East Gate", "东站", "Bus 37", "nowhere"], [],
                                   ["Joy City", "东站", *(f"nowhere {i}" for i in range(600))]],
                         ids=["one site", "some sites", "every site", "more than every site", "none",
                              "more sites than one statement merges"])
@pytest.mark.parametrize("merged_at_most", [schema.MERGED_SITES, 1], ids=["merged", "too many to merge"])
def test_a_scope_reads_the_rows_of_its_sites_in_the_order_of_every_site(
        store: CollectorStore, scope: list[str], merged_at_most: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MERGED_SITES", merged_at_most)
    site, at = ROW_COLUMNS.index("site"), ROW_COLUMNS.index("at")
    everything = rows_of(store)
    assert len(everything) == 240 and {row[site] for row in everything} == set(SITES)
    since, until = everything[37][at], everything[190][at]
    device = sorted(d.id for d in store.devices())[1]
    for asked in ({}, {"since": since}, {"since": since, "until": until}, {"verdict": "deny", "until": until},
                  {"device": device, "since": since}):
        expected = [row for row in rows_of(store, **asked) if row[site] in scope]
        assert expected or not scope
        for batch in (1, 7, 1000):
            assert rows_of(store, sites=frozenset(scope), batch=batch, **asked) == expected, (asked, batch)


def test_a_stores_rows_closed_half_way_read_no_further(store: CollectorStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's pages are read one ahead (kiosk/collector/streaming.py), SQLite's are not: neither reads on
    once the export is closed."""
    reads: list[str] = []
    reader = type(store)._reader  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def counted(self: CollectorStore, doing: str) -> Iterator[object]:
        with reader(self, doing) as connection:
            reads.append(doing)
            yield connection

    monkeypatch.setattr(type(store), "_reader", counted)
    pages = store.rows(batch=10, names=True)  # 24 pages
    assert [len(next(pages)), len(next(pages))] == [10, 10]
    pages.close()  # type: ignore[attr-defined]
    time.sleep(0.2)
    ahead = 1 if isinstance(store, PostgresStore) else 0
    assert reads.count("read events") == 1 + 2 + ahead, reads  # the kiosks' names, two pages, one ahead


def test_sqlite_pages_of_a_scope_never_sort_the_rest_of_the_range(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """What SQLite plans for each page: a page that sorted every row of the scope after its cursor made a
    100-site export crawl (10,000 rows/s), each page slower than the one before."""
    store = SqliteStore(tmp_path / "collector.db")
    fill(store)
    statements: list[tuple[str, str]] = []
    reader = SqliteStore._reader

    @contextlib.contextmanager
    def traced(self: SqliteStore, doing: str) -> Iterator[sqlite3.Connection]:
        with reader(self, doing) as db:
            db.set_trace_callback(lambda sql: statements.append((doing, sql)))
            try:
                yield db
            finally:
                db.set_trace_callback(None)

    monkeypatch.setattr(SqliteStore, "_reader", traced)
    plan = sqlite3.connect(tmp_path / "collector.db")
    for scope, how in ((["Joy City"], "site=?"), (["Joy City", "东站"], "MERGE (UNION ALL)"),
                       (["Joy City", "East Gate", "东站", "Bus 37"], "USING INDEX events_at")):
        statements.clear()
        assert len(rows_of(store, sites=frozenset(scope), since=T0 + 3, batch=7)) > 14
        pages = [sql for doing, sql in statements if doing == "read events" and "ORDER BY at" in sql]
        assert len(pages) > 2
        for sql in pages:
            steps = " | ".join(row[-1] for row in plan.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert how in steps and "TEMP B-TREE" not in steps, (scope, steps)
    store.close()


# --- Over HTTP: the console's file is `kiosk collector export`'s ---------------------------------------------

ZONE = "Asia/Shanghai"
KIOSK_SITES = {"k1": 'Joy City, "北门"', "k2": "=HYPERLINK(\"x\")", "k3": "东站"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp(f"export-speed-{request.param}")
    console = ConsoleSite.start(folder, database_url(request, folder, "export_speed"), trust_folder(folder / "trust"),
                                extra=("--timezone", ZONE))
    try:
        console.origin = now = time.time()
        console.add_user("root", "admin")
        console.add_user("all", "manager")
        console.add_user("two", "manager", [KIOSK_SITES["k1"], KIOSK_SITES["k3"]])
        total = int(PAGE_ROWS * 2.5)  # three pages
        for n, (key, name) in enumerate(KIOSK_SITES.items()):
            events = [interleaved(now - total + i, i) for i in range(n, total, len(KIOSK_SITES))]
            events += [interleaved(now - total + i, i) for i in range(n, total, 97)]  # at the same times
            console.kiosk(key, name, events, name=f"Gate {n}, \"{key}\"")
        console.kiosk("k0", "", [interleaved(now - total + i + 0.5, i) for i in range(0, total, 50)], name="No site")
        log = AuditLog(console.kiosks["k1"].log_path)
        try:
            registration = log.db.execute("SELECT id FROM events WHERE kind = 'manual' ORDER BY id LIMIT 1 OFFSET 3")
            corrected = str(registration.fetchone()[0])
        finally:
            log.close()
        console.correct("k1", corrected, {"name": "张三, 改"}, operator="李")
        console.sync("k1")
        yield console
    finally:
        console.stop()


def interleaved(at: float, i: int) -> Scan:
    """Mostly common scans; now and then one with details, a registration by hand, a subject with a comma."""
    if i % 23 == 0:
        return Scan(at, None, None, kind="manual", fields={"name": f"=人 {i}", "phone": "+86 1"}, temperature=36.6,
                    operator="vol,1")
    if i % 17 == 0:
        return Scan(at, "deny", "fever", subject=f"{i:032x}", temperature=38.2, fields={"note": "a, b"})
    if i % 13 == 0:
        return Scan(at, "retry", "temperature_missing", subject=f"ref,{i}")
    return Scan(at, ("pass", "deny", "retry")[i % 3], ("ok", "expired", "temperature_missing")[i % 3],
                subject=None if i % 11 == 0 else f"{i:032x}", temperature=None if i % 3 == 2 else 36.5 + i % 5 / 10)


def cli_export(site: ConsoleSite, out: Path, *args: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "kiosk", "collector", "export", "--db", site.collector.db_url,
                           "--out", str(out), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TZ": ZONE})
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.slow  # three kiosks' 6,000 events synced with `kiosk sync`, on both databases
def test_three_pages_of_interleaved_rows_are_byte_for_byte_the_collectors_export(site: ConsoleSite,
                                                                                 tmp_path: Path) -> None:
    root = site.login("root")
    for fmt, language in (("csv", "zh"), ("csv", "en"), ("jsonl", "zh")):
        answer = root.get(f"/export?format={fmt}&language={language}")
        assert answer.status_code == 200, answer.text[:300]
        expected = cli_export(site, tmp_path / f"all-{language}.{fmt}", "--language", language)
        assert answer.content == expected, (fmt, language)
    whole = parsed(cli_export(site, tmp_path / "all.csv", "--language", "en"))
    place, name = whole[0].index("site"), whole[0].index("name")
    assert len(whole) > 2 * PAGE_ROWS + 1 and [row[name] for row in whole if row[name] == "张三, 改"]  # corrected
    for user, sites in (("all", set(KIOSK_SITES.values())), ("two", {KIOSK_SITES["k1"], KIOSK_SITES["k3"]})):
        answer = site.login(user).get("/export?format=csv&language=en")
        assert answer.status_code == 200, answer.text[:300]
        ours = [row for row in whole[1:] if row[place].removeprefix("'") in sites]
        assert parsed(answer.content) == [whole[0], *ours] and len(ours) > PAGE_ROWS, user


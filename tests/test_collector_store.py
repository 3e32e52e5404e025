"""The collector's stores: devices, storing signed batches once, chain faults, export rows, threads, errors.

Every test that takes `store` runs on SQLite (a new file in tmp_path) and on PostgreSQL
(the session's throwaway server, its database emptied first). The batches are real: events
appended to a kiosk's own AuditLog, read back with the links it stored, encoded,
signed with the kiosk's device key and opened with `open_batch`, as the web layer does.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.audit.events import GENESIS, Event, chain_hash
from kiosk.audit.export import SOURCE
from kiosk.audit.store import AuditLog
from kiosk.collector import schema
from kiosk.collector.database import open_store
from kiosk.collector.pg_store import PostgresStore
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.collector.store import REPLAY_MEMORY, ROW_COLUMNS, CollectorStore, Head, Ingested
from kiosk.cose import kid_of
from kiosk.errors import BatchRefused, StoreError
from kiosk.sync.protocol import Batch, Linked, encode_batch, open_batch, sign
from tests.factories import key
from tests.pg_server import create_database

T0 = 1_780_000_000.0


class Kiosk:
    """A kiosk as the collector sees it: a device key, and its own audit log (in memory)."""

    def __init__(self, name: str) -> None:
        self.key = key(f"device {name}")
        self.public = bytes(self.key.verify_key)
        self.id = kid_of(self.public).hex()
        self.log = AuditLog()
        self.clock = T0

    def scan(self, n: int = 1, **fields: object) -> list[Linked]:
        """n scans, one second apart, as the kiosk stored them (with their links)."""
        before = self.log.count()
        for _ in range(n):
            self.clock += 1
            self.log.append(Event("", self.clock, "scan", **{"site": "人民广场站", "verdict": "pass", **fields}))  # type: ignore[arg-type]
        return self.linked()[before:]

    def linked(self) -> list[Linked]:
        links = [row[0] for row in self.log.db.execute("SELECT prev_hash FROM events ORDER BY rowid").fetchall()]
        return [Linked(event, prev) for event, prev in zip(self.log.events(), links, strict=True)]

    def export_rows(self) -> list[tuple[object, ...]]:
        """What the kiosk's own export reads: the same tuples the collector's rows() must give."""
        return [tuple(row) for row in self.log.db.execute(f"SELECT {', '.join(SOURCE)} FROM events ORDER BY rowid")]

    def batch(self, events: list[Linked], sent_at: float | None = None) -> Batch:
        sent_at = self.clock if sent_at is None else sent_at
        body = encode_batch(self.id, events, sent_at, os.urandom(16).hex())
        return open_batch(body, sign(body, self.key), self.id, {self.id: self.public}.get, now=sent_at)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorStore]:
    if request.param == "sqlite":
        opened: CollectorStore = SqliteStore(tmp_path / "collector" / "collector.db")
    else:
        url = request.getfixturevalue("pg_url")
        with psycopg.connect(url, autocommit=True) as conn:  # empty again; the store makes its tables anew
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        opened = PostgresStore(url)
    yield opened
    opened.close()


def enrolled(store: CollectorStore, *names: str) -> list[Kiosk]:
    kiosks = [Kiosk(name) for name in names]
    for kiosk in kiosks:
        store.enroll(kiosk.public, f"kiosk {kiosk.id}", T0)
    return kiosks


def all_rows(store: CollectorStore, **filters: object) -> list[tuple[object, ...]]:
    return [row for page in store.rows(**filters) for row in page]  # type: ignore[arg-type]


# --- Devices --------------------------------------------------------------------------------------------------

def test_enroll_rename_revoke_and_list_devices(store: CollectorStore) -> None:
    a, b, c = Kiosk("a"), Kiosk("b"), Kiosk("c")
    assert c.id < b.id < a.id  # so that the order by name differs from the order by id
    first = store.enroll(a.public, "gate 1", T0)
    assert (first.id, first.public_key, first.name, first.enrolled_at) == (a.id, a.public, "gate 1", T0)
    assert (first.revoked_at, first.last_seen, first.events, first.head, first.faults) == (None, None, 0, None, 0)
    store.enroll(b.public, "gate 2", T0 + 1)
    store.enroll(c.public, "gate 2", T0 + 1)
    assert [d.id for d in store.devices()] == [a.id, c.id, b.id]  # by name, then id
    store.ingest(a.batch(a.scan(3)), T0 + 10)

    revoked = store.revoke(a.id, T0 + 20)
    assert revoked.revoked_at == T0 + 20
    assert store.revoke(a.id, T0 + 30).revoked_at == T0 + 20  # the first revocation's time stays
    again = store.enroll(a.public, "gate 3", T0 + 40)
    # Re-enrolling renames and lifts the revocation; the events, the head and the enrolment time stay.
    assert (again.name, again.revoked_at, again.events, again.enrolled_at) == ("gate 3", None, 3, T0)
    assert again.head == kiosk_head(a) and again.last_seen == T0 + 10
    assert store.device(a.id) == again
    assert [d.id for d in store.devices()] == [c.id, b.id, a.id]
    assert store.device("0123456789abcdef") is None


def kiosk_head(kiosk: Kiosk) -> Head:
    last = kiosk.linked()[-1]
    return Head(last.event.id, chain_hash(last.prev_hash, last.event))


def test_a_key_must_be_32_bytes_and_revoking_an_unknown_device_fails(store: CollectorStore) -> None:
    with pytest.raises(StoreError, match="32 bytes"):
        store.enroll(bytes(31), "short", T0)
    with pytest.raises(StoreError, match="0123456789abcdef is not enrolled"):
        store.revoke("0123456789abcdef", T0)
    assert store.devices() == []


# --- Ingest ---------------------------------------------------------------------------------------------------

def test_a_batch_is_stored_once_and_sent_again_counts_as_duplicates(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    events = kiosk.scan(5)
    assert store.ingest(kiosk.batch(events), T0 + 100) == Ingested(5, 0, [])
    # The kiosk did not get the answer and sends the same events again: a new batch, the same events.
    assert store.ingest(kiosk.batch(events[2:] + kiosk.scan(1)), T0 + 200) == Ingested(1, 3, [])
    device = store.device(kiosk.id)
    assert device is not None
    assert (device.events, device.last_seen, device.head, device.faults) == (6, T0 + 200, kiosk_head(kiosk), 0)
    assert store.count() == 6
    assert all_rows(store) == kiosk.export_rows()


def test_a_replayed_batch_is_refused_and_changes_nothing(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    batch = kiosk.batch(kiosk.scan(2))
    store.ingest(batch, T0 + 100)
    with pytest.raises(BatchRefused) as refused:
        store.ingest(batch, T0 + 200)
    assert refused.value.code == "replayed"
    assert store.device(kiosk.id).last_seen == T0 + 100  # type: ignore[union-attr]


def test_a_digest_is_forgotten_after_the_replay_memory(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    old, recent = kiosk.batch(kiosk.scan(2)), kiosk.batch(kiosk.scan(1))
    store.ingest(old, T0)
    store.ingest(recent, T0 + REPLAY_MEMORY)
    store.ingest(kiosk.batch([]), T0 + REPLAY_MEMORY + 1)  # prunes the digests older than the memory
    with pytest.raises(BatchRefused):
        store.ingest(recent, T0 + REPLAY_MEMORY + 2)
    # Pruned: taken again, but its events are stored already (open_batch refuses one this old anyway).
    assert store.ingest(old, T0 + REPLAY_MEMORY + 2) == Ingested(0, 2, [])


def test_unknown_and_revoked_devices_are_refused_and_nothing_is_kept(store: CollectorStore) -> None:
    kiosk = Kiosk("a")
    batch = kiosk.batch(kiosk.scan(2))
    with pytest.raises(BatchRefused) as refused:
        store.ingest(batch, T0)
    assert refused.value.code == "unknown_device"
    store.enroll(kiosk.public, "gate", T0)
    store.revoke(kiosk.id, T0 + 1)
    with pytest.raises(BatchRefused) as refused:
        store.ingest(batch, T0 + 2)
    assert refused.value.code == "revoked"
    assert store.count() == 0
    store.enroll(kiosk.public, "gate", T0 + 3)
    assert store.ingest(batch, T0 + 4).stored == 2  # its digest was not remembered by the refusals


def test_an_empty_batch_only_marks_the_device_seen(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    assert store.ingest(kiosk.batch([]), T0 + 5) == Ingested(0, 0, [])
    device = store.device(kiosk.id)
    assert device is not None and (device.last_seen, device.head, device.events) == (T0 + 5, None, 0)


def test_skipped_events_are_a_gap_fault_and_the_rest_is_stored(store: CollectorStore) -> None:
    kiosk, other = enrolled(store, "a", "b")
    events = kiosk.scan(7)
    store.ingest(kiosk.batch(events[:3]), T0 + 100)
    result = store.ingest(kiosk.batch(events[5:]), T0 + 200)
    assert (result.stored, result.duplicates) == (2, 0)
    assert [(f.kind, f.event_id, f.after_id) for f in result.faults] == [("gap", events[5].event.id,
                                                                          events[2].event.id)]
    stored = store.faults()
    assert [(f.device, f.kind, f.event_id, f.after_id, f.message, f.seen_at) for f in stored] == \
        [(kiosk.id, "gap", events[5].event.id, events[2].event.id, result.faults[0].message, T0 + 200)]
    assert store.faults(kiosk.id) == stored and store.faults(other.id) == []
    device = store.device(kiosk.id)
    assert device is not None and (device.faults, device.events, device.head) == (1, 5, kiosk_head(kiosk))


def test_an_event_sent_again_with_other_contents_is_a_conflict_and_the_first_copy_stays(
        store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    events = kiosk.scan(3)
    store.ingest(kiosk.batch(events), T0 + 100)
    altered = Linked(replace(events[1].event, verdict="deny"), events[1].prev_hash)
    result = store.ingest(kiosk.batch([altered, events[2], *kiosk.scan(1)]), T0 + 200)
    assert (result.stored, result.duplicates) == (1, 2)
    assert [(f.kind, f.event_id) for f in result.faults] == [("conflict", events[1].event.id)]
    assert [f.kind for f in store.faults(kiosk.id)] == ["conflict"]
    assert all_rows(store) == kiosk.export_rows()  # "pass", as first sent


def test_a_first_batch_after_a_purge_is_no_fault(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    kiosk.scan(4)
    kiosk.log.purge(kiosk.clock - 1, at=kiosk.clock + 1)  # keeps the two newest scans, logs the purge
    remaining = kiosk.linked()
    assert len(remaining) == 3 and remaining[0].prev_hash != GENESIS
    assert store.ingest(kiosk.batch(remaining), T0 + 100) == Ingested(3, 0, [])
    assert store.device(kiosk.id).head == kiosk_head(kiosk)  # type: ignore[union-attr]


def test_the_head_follows_each_batch(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    for n in (1, 3, 2):
        store.ingest(kiosk.batch(kiosk.scan(n)), kiosk.clock)
        assert store.device(kiosk.id).head == kiosk_head(kiosk)  # type: ignore[union-attr]
    assert store.faults() == []


def test_a_failure_midway_stores_nothing(store: CollectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    (kiosk,) = enrolled(store, "a")
    batch = kiosk.batch(kiosk.scan(3))
    # The head is moved after the events are inserted: make that statement fail.
    monkeypatch.setattr(schema, "MOVE_HEAD", "UPDATE no_such_table SET head_id = ?")
    with pytest.raises(StoreError, match="cannot store a batch"):
        store.ingest(batch, T0 + 100)
    monkeypatch.undo()
    assert store.count() == 0
    assert store.ingest(batch, T0 + 200) == Ingested(3, 0, [])  # nor was the digest remembered


def test_values_no_database_can_keep_are_refused_before_anything_is_written(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    good = kiosk.scan(1)
    for bad in ({"site": "a\x00b"}, {"operator": "\udcff"}, {"details": {"name": "\ud800"}}, {"code_iat": 2**64}):
        event = Linked(replace(good[0].event, **bad), good[0].prev_hash)  # type: ignore[arg-type]
        batch = Batch(kiosk.id, T0, "n" * 16, [event], digest=os.urandom(32))  # open_batch would take it
        with pytest.raises(BatchRefused) as refused:
            store.ingest(batch, T0)
        assert refused.value.code == "malformed"
    with pytest.raises(ValueError, match="digest"):
        store.ingest(Batch(kiosk.id, T0, "n" * 16, good, b""), T0)
    assert store.count() == 0


# --- Rows -----------------------------------------------------------------------------------------------------

def test_rows_are_the_kiosks_export_rows_in_time_order_with_filters(store: CollectorStore) -> None:
    a, b = enrolled(store, "a", "b")
    b.clock = a.clock + 0.5  # interleaved in time
    for kiosk in (a, b):
        kiosk.scan(1, details={"姓名": "张三", "nested": {"z": 1, "a": [1.5, None]}}, temperature=36.6, code_iat=2**62)
        kiosk.scan(1, verdict="deny", reason="expired", site="O'Brien's \"gate\" ? %s", lane="")
        kiosk.scan(2, verdict=None, temperature=-40.25, operator="op")
        store.ingest(kiosk.batch(kiosk.linked()), T0 + 100)
    everything = sorted([(row, kiosk.id) for kiosk in (a, b) for row in kiosk.export_rows()],
                        key=lambda pair: (pair[0][1], pair[1], pair[0][0]))  # (at, device, id)
    assert all_rows(store) == [row for row, _ in everything]
    assert [type(v) for v in all_rows(store)[0]] == [type(v) for v in a.export_rows()[0]]
    pages = list(store.rows(batch=3))
    assert [len(page) for page in pages] == [3, 3, 2] and [r for p in pages for r in p] == all_rows(store)
    at, verdict = ROW_COLUMNS.index("at"), ROW_COLUMNS.index("verdict")
    since, until = everything[2][0][at], everything[5][0][at]
    assert all_rows(store, since=since, until=until) == [row for row, _ in everything[2:5]]  # half-open
    assert all_rows(store, verdict="deny") == [row for row, _ in everything if row[verdict] == "deny"] != []
    assert all_rows(store, device=b.id, since=since) == [row for row, k in everything[2:] if k == b.id]
    assert all_rows(store, verdict="nothing") == []


def test_details_are_kept_as_the_kiosks_log_writes_them_in_whatever_order_they_came(store: CollectorStore) -> None:
    (kiosk,) = enrolled(store, "a")
    event = Event("01KQ0000000000000000000000", T0, "manual", details={"电话": "1", "name": {"z": 1, "a": "é"}})
    store.ingest(kiosk.batch([Linked(event, GENESIS)]), T0)
    # The hash covers the details with sorted keys; the text stored is what AuditLog writes: sorted, unescaped.
    assert all_rows(store)[0][-1] == '{"name": {"a": "é", "z": 1}, "电话": "1"}'


def test_rows_at_the_same_time_page_through_each_once(store: CollectorStore) -> None:
    kiosks = enrolled(store, "a", "b", "c")
    for kiosk in kiosks:
        kiosk.clock = T0 + 1
        for _ in range(4):
            kiosk.log.append(Event("", T0, "scan"))  # one time, ids still rising
        store.ingest(kiosk.batch(kiosk.linked()), T0 + 100)
    by_device = sorted((k.id, row[0], row) for k in kiosks for row in k.export_rows())  # one time: device, id
    expected = [row for _, _, row in by_device]
    for size in (1, 2, 5, 100):
        assert all_rows(store, batch=size) == expected


events = st.builds(
    Event, id=st.just(""), at=st.floats(T0 - 1e6, T0 + 1e6), kind=st.sampled_from(["scan", "manual", "device"]),
    site=st.text(max_size=8), verdict=st.none() | st.sampled_from(["pass", "deny", "retry"]),
    code_iat=st.none() | st.integers(-(2**63), 2**63 - 1), temperature=st.none() | st.floats(30, 45),
    operator=st.none() | st.text(max_size=5),
    details=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.floats(allow_nan=False),
                            max_size=3),
).filter(lambda e: all("\x00" not in (getattr(e, n) or "") for n in ("site", "operator")))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=st.lists(events, max_size=8), cut=st.integers(0, 8))
def test_any_events_read_back_as_the_kiosk_exports_them(store: CollectorStore, written: list[Event],
                                                        cut: int) -> None:
    kiosk = Kiosk(uuid.uuid4().hex)  # a new device each example: the store is shared between them
    store.enroll(kiosk.public, "gate", T0)
    for event in written:
        kiosk.log.append(event)
    linked = kiosk.linked()
    store.ingest(kiosk.batch(linked[:cut]), T0)
    assert store.ingest(kiosk.batch(linked), T0).stored == len(linked) - min(cut, len(linked))
    at = ROW_COLUMNS.index("at")
    assert all_rows(store, device=kiosk.id) == sorted(kiosk.export_rows(), key=lambda row: (row[at], row[0]))
    assert store.faults(kiosk.id) == []


# --- Threads --------------------------------------------------------------------------------------------------

def test_threads_storing_batches_of_many_devices_and_one_device_at_once(store: CollectorStore) -> None:
    # 8 threads, 4 devices: two threads send each device's whole log, batch after batch, at the same time.
    kiosks = enrolled(store, *"abcd")
    for kiosk in kiosks:
        kiosk.scan(60)
    plans = [[kiosk.batch(kiosk.linked()[i:i + 10]) for i in range(0, 60, 10)] for kiosk in kiosks * 2]
    start = threading.Barrier(len(plans) + 1)
    results: list[list[Ingested]] = [[] for _ in plans]
    errors: list[BaseException] = []
    seen_counts: list[int] = []

    def send(index: int) -> None:
        start.wait()
        try:
            results[index] = [store.ingest(batch, T0 + 100) for batch in plans[index]]
        except BaseException as err:  # handed to the main thread
            errors.append(err)

    threads = [threading.Thread(target=send, args=[i]) for i in range(len(plans))]
    for thread in threads:
        thread.start()
    start.wait()
    while any(thread.is_alive() for thread in threads):  # reads go on while batches are stored
        seen_counts.append(sum(d.events for d in store.devices()))
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen_counts == sorted(seen_counts)
    for k, kiosk in enumerate(kiosks):
        mine = results[k] + results[k + len(kiosks)]
        assert sum(r.stored for r in mine) == 60 and sum(r.duplicates for r in mine) == 60
        assert store.device(kiosk.id).head == kiosk_head(kiosk)  # type: ignore[union-attr]
    assert store.faults() == []
    assert store.count() == 240
    assert sorted(all_rows(store)) == sorted(row for kiosk in kiosks for row in kiosk.export_rows())


# --- Errors and files -----------------------------------------------------------------------------------------

def test_a_sqlite_store_reopened_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "collector.db"
    store = SqliteStore(path)
    kiosk, gone = enrolled(store, "a", "b")
    events = kiosk.scan(4)
    store.ingest(kiosk.batch(events[:1]), T0)
    replayed = kiosk.batch(events[2:])
    store.ingest(replayed, T0 + 1)  # a gap
    store.revoke(gone.id, T0 + 2)
    before = (store.devices(), store.faults(), all_rows(store))
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = open_store(f"sqlite:///{path}")
    try:
        assert isinstance(store, SqliteStore)
        assert (store.devices(), store.faults(), all_rows(store)) == before
        with pytest.raises(BatchRefused):
            store.ingest(replayed, T0 + 3)
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    path.write_bytes(b"this is no database" * 1000)
    with pytest.raises(StoreError, match=rf"^collector database {re.escape(str(path))}: .*file is not a database$"):
        SqliteStore(path)
    with pytest.raises(StoreError, match=f"^collector database {re.escape(str(tmp_path))}: "):
        SqliteStore(tmp_path)  # a folder


def test_sqlite_write_errors_are_store_errors(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "collector.db")
    (kiosk,) = enrolled(store, "a")
    store._writer.execute("PRAGMA max_page_count=1")  # a full disk, without filling one
    try:
        with pytest.raises(StoreError, match=r"cannot store a batch of device .*full"):
            store.ingest(kiosk.batch(kiosk.scan(200, details={"x": "y" * 500})), T0)
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "collector.db")) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_an_unreachable_server_is_a_one_line_store_error_without_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://kiosk:s3cret@127.0.0.1:{port}/collector?sslmode=disable")
    message = str(raised.value)
    assert message.startswith(f"collector database postgresql://kiosk@127.0.0.1:{port}/collector: cannot connect:")
    assert "s3cret" not in message and "\n" not in message and "refused" in message


def test_a_missing_database_and_a_lost_connection_are_store_errors(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError, match=r"no_such_database.*does not exist"):
        PostgresStore(missing)
    name = f"t_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(create_database(pg_url, name), pool_size=1)
    try:
        assert store.count() == 0
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the server restarts, say
            ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                                  [name]).fetchall()
        assert ended == [(True,)]
        with pytest.raises(StoreError, match="cannot count events"):
            store.count()
        assert store.count() == 0  # the broken connection was dropped, a new one made
    finally:
        store.close()


def test_open_store_picks_the_backend_by_url(tmp_path: Path, pg_url: str) -> None:
    for url, kind in ((str(tmp_path / "a.db"), SqliteStore), (f"sqlite:///{tmp_path}/b.db", SqliteStore),
                      (pg_url, PostgresStore)):
        store = open_store(url)
        try:
            assert isinstance(store, kind)
        finally:
            store.close()

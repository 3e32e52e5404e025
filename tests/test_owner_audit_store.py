"""The audit store's edges, each expected value worked out here from the README's audit-log section, the spec
(docs/health-code.md) or the test's own events: what a scan event holds, reading back by id and newest first,
the collector's scratch copy, the snapshot's queries, verify's reports, purge bounds, the second connection's
errors and waits, and a log brought back when its folder was deleted too. Written against the survivors of
`.ci/mutate audit`."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from kiosk.audit.events import Event, scan_event
from kiosk.audit.reader import LogReader
from kiosk.audit.schema import SyncState
from kiosk.audit.store import AuditLog, ChainReport
from kiosk.errors import LogWriteError
from kiosk.healthcode import HealthCode
from kiosk.verdict import Reading, Verdict

T0 = 1_780_000_000.0
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # ULID: the first 10 characters are the milliseconds
FIELDS = ("id", "at", "kind", "site", "lane", "device", "verdict", "reason", "status", "code_kind", "kid", "iss",
          "code_iat", "subject_ref", "temperature", "operator", "details")  # README: an event's fields, in order


def millis_of(ulid: str) -> int:
    number = 0
    for char in ulid[:10]:
        number = number * 32 + CROCKFORD.index(char)
    return number


def written(log: AuditLog, n: int, start: float = T0, **fields: object) -> list[Event]:
    return [log.append(Event("", start + i, "scan", **fields)) for i in range(n)]  # type: ignore[arg-type]


# --- A scan's event (spec section 3: status 0 green, 1 amber, 2 red; kind 0 dynamic, 1 printed) -------------------

SUBJECT = bytes(range(16))
CODE = HealthCode(iss="CN-120000", exp=int(T0) + 3600, iat=int(T0) - 60, cti=b"\x07" * 8, status=1, subject=SUBJECT,
                  kind=1, name="张*明")
ID = "01KB3R8F6Y4J0M5TQH2W9X7Z1C"


def test_a_scan_event_holds_the_verdict_and_the_codes_fields_and_never_the_name() -> None:
    verdict = Verdict("status_amber", kid=bytes.fromhex("0011223344556677"), code=CODE, status=1,
                      reading=Reading(36.6, T0 - 2))
    event = scan_event(verdict, at=T0, site="人民广场站", lane="2号口", device="gate-2", secret=None, event_id=ID)
    assert event == Event(ID, T0, "scan", site="人民广场站", lane="2号口", device="gate-2", verdict="deny",
                          reason="status_amber", status="amber", code_kind="printed", kid="0011223344556677",
                          iss="CN-120000", code_iat=int(T0) - 60, subject_ref=SUBJECT.hex(), temperature=36.6)
    assert "张" not in event.canonical().decode()  # README: the masked name is never stored


def test_a_scan_events_subject_is_the_documented_hmac_with_a_secret() -> None:
    secret = b"the authority's key"
    verdict = Verdict("ok", kid=bytes(8), code=CODE, status=0)
    event = scan_event(verdict, at=T0, secret=secret, event_id=ID)
    assert event.subject_ref == hmac.new(secret, SUBJECT, hashlib.sha256).digest()[:16].hex()  # README
    assert (event.verdict, event.status, event.code_kind, event.temperature) == ("pass", "green", "printed", None)
    assert (event.site, event.lane, event.device) == ("", "", "")


def test_a_scan_without_a_code_has_no_code_fields_and_an_id_of_its_time() -> None:
    event = scan_event(Verdict("not_health_code"), at=T0 + 0.25, secret=b"k")
    assert millis_of(event.id) == int(T0 * 1000) + 250
    assert (event.kind, event.verdict, event.reason) == ("scan", "deny", "not_health_code")
    assert [getattr(event, f) for f in FIELDS[8:16]] == [None] * 8 and event.details == {}


# --- Reading back --------------------------------------------------------------------------------------------

def test_find_gives_the_stored_event_by_id_and_none_for_another(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 3, verdict="pass")
        assert [log.find(e.id) for e in events] == events
        assert log.find("01" + "Z" * 24) is None


def test_latest_gives_the_newest_first(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 5)
        assert log.latest(3) == events[:1:-1] and log.latest(9) == events[::-1] and log.latest(0) == []


def test_events_between_times_and_of_one_verdict(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = [log.append(Event("", T0 + i, "scan", verdict=("pass", "deny")[i % 2])) for i in range(8)]
        assert list(log.events(since=T0 + 2, until=T0 + 6)) == events[2:6]
        assert list(log.events(verdict="deny")) == events[1::2]
        assert list(log.events(T0 + 3, T0 + 7, "pass")) == [events[4], events[6]]


def test_count_says_it_cannot_read_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        written(log, 3)
        log.db.conn.close()  # the connection is gone, as under a medium pulled out
        with pytest.raises(LogWriteError) as raised:
            log.count()
        assert str(raised.value).startswith(f"audit log {path}: cannot read: ")


def test_a_damaged_page_is_reported_with_no_event_counted(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        log.db.execute("PRAGMA synchronous=OFF")  # only to write the test's events quickly
        written(log, 2000, site="人民广场站" * 4)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        pages = [n for (n,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' "
                                            "ORDER BY pageno")]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert len(pages) > 4  # dbstat is compiled in (the durability tests need it too)
    with path.open("r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * size)
        f.write(b"\xa5" * size)
    with AuditLog(path) as log:
        report = log.verify()
    assert (report.ok, report.events, report.first_bad) == (False, 0, None)
    assert (report.problem or "").startswith("the database file is damaged: ")


# --- verify's reports ---------------------------------------------------------------------------------------

LINK = "its link does not match the event before it: that event was altered, or events between them are missing"


def test_an_altered_event_is_named_with_the_count_of_events_before_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        events = written(log, 6, verdict="deny")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET verdict = 'pass' WHERE id = ?", [events[2].id])
    with AuditLog(path) as log:
        assert log.verify() == ChainReport(False, 3, events[3].id, LINK)  # 3 verified; the 4th's link fails


def test_an_altered_newest_event_is_told_from_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        events = written(log, 4, verdict="deny")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET verdict = 'pass' WHERE id = ?", [events[3].id])
    with AuditLog(path) as log:
        assert log.verify() == ChainReport(False, 3, events[3].id, "the newest event (or the stored head) was altered")


# --- Purge bounds --------------------------------------------------------------------------------------------

def test_a_purge_deletes_by_time_when_the_kept_event_is_newer(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 10)
        assert log.purge(T0 + 3, keep_after_id=events[8].id, at=T0 + 20) == 3
        assert [e for e in log.events() if e.kind != "purge"] == events[3:]


def test_a_purge_with_a_kept_id_beyond_every_event_deletes_by_time(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 6)
        beyond = events[-1].id[:-1] + ("Z" if events[-1].id[-1] != "Z" else "Y")
        assert beyond > events[-1].id
        assert log.purge(T0 + 4, keep_after_id=beyond, at=T0 + 20) == 4


def test_a_purge_of_every_event_of_a_large_log(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        log.db.execute("PRAGMA synchronous=OFF")  # only to write the test's events quickly
        written(log, 300)
        assert log.purge(T0 + 1000, at=T0 + 2000) == 300
        (purge,) = log.events()
        assert purge.details == {"before": T0 + 1000, "through": purge.details["through"], "deleted": 300}
        assert log.verify().ok


def test_the_purge_event_has_an_id_of_its_own_time(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        written(log, 3)
        log.purge(T0 + 2, at=T0 + 500.125, operator="站长")
        purge = next(e for e in log.events() if e.kind == "purge")
        assert millis_of(purge.id) == int(T0 * 1000) + 500_125
        assert (purge.at, purge.operator) == (T0 + 500.125, "站长")


# --- The collector's scratch copy --------------------------------------------------------------------------

def row(event_id: str, at: float, kind: str = "scan", **fields: object) -> tuple[object, ...]:
    values: dict[str, object] = {name: None for name in FIELDS}
    values.update(id=event_id, at=at, kind=kind, site="", lane="", device="", **fields)
    return tuple(values[name] for name in FIELDS)


def test_bulk_load_copies_rows_in_and_the_log_writes_durably_again(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "scratch.db") as log:
        first = [row(f"01KB3R8F6Y4J0M5TQH2W9X7Z{i:02d}", T0 + i, verdict="pass") for i in range(3)]
        again = row(str(first[1][0]), T0 + 99, verdict="deny")  # an id already copied, other contents
        manual = row("01KB3R8F6Y4J0M5TQH2W9X7Z50", T0 + 50, "manual", details=json.dumps({"name": "张三"}))
        log.bulk_load([first, [again, manual]])
        with log.snapshot() as snapshot:
            assert [r for page in snapshot.rows() for r in page] == [*first, manual]  # the first copy is kept
        assert log.find(str(manual[0])) == Event(str(manual[0]), T0 + 50, "manual", details={"name": "张三"})
        assert log.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: the log's own writes are fsynced


# --- The snapshot's queries ----------------------------------------------------------------------------------

def test_snapshot_rows_are_the_fields_in_write_order_in_pages(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 7, verdict="pass", site="站")
        with log.snapshot() as snapshot:
            pages = list(snapshot.rows(batch=3))
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [tuple(r) for p in pages for r in p] == [(*(getattr(e, f) for f in FIELDS[:-1]), None)
                                                        for e in events]  # details: none


def test_registration_fields_are_those_of_the_registrations_in_the_range(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        for i, fields in enumerate([{"name": "a"}, {"phone": "1"}, {"seat": "3"}, {"row": "4"}]):
            log.append(Event("", T0 + i, "manual", details=fields))
        log.append(Event("", T0 + 1.5, "admin", details={"action": "x"}))  # not a registration
        with log.snapshot() as snapshot:
            assert snapshot.registration_fields() == {"name", "phone", "seat", "row"}
            assert snapshot.registration_fields(T0 + 1, T0 + 3) == {"phone", "seat"}
            assert snapshot.registration_fields(since=T0 + 2) == {"seat", "row"}
            assert snapshot.registration_fields(until=T0 + 1) == {"name"}


def test_times_of_finds_every_id_the_log_holds_in_chunks(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        log.db.execute("PRAGMA synchronous=OFF")  # only to write the test's events quickly
        events = written(log, 1201)
        missing = ["01" + "Z" * 23 + c for c in "ABC"]
        with log.snapshot() as snapshot:
            assert snapshot.times_of([e.id for e in events] + missing) == {e.id: e.at for e in events}
            assert snapshot.times_of([]) == {}


# --- The second connection --------------------------------------------------------------------------------

def test_each_failure_of_the_second_connection_names_the_log_and_what_it_was_doing(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        reader = LogReader(log)
        reader.close()
        for call, doing in [(lambda: reader.sync_state(), "read the sync state"),
                            (lambda: reader.set_sync_state(SyncState()), "write the sync state"),
                            (lambda: reader.count_after(None), "count pending events"),
                            (lambda: reader.first_after(None), "read pending events"),
                            (lambda: reader.batch_after(None, 5), "read pending events")]:
            with pytest.raises(LogWriteError) as raised:
                call()
            assert str(raised.value).startswith(f"audit log {path}: cannot {doing}: "), doing


def test_a_second_connection_that_cannot_open_says_so(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        path.rename(tmp_path / "moved.db")
        path.mkdir()  # a folder where the file was
        with pytest.raises(LogWriteError) as raised:
            LogReader(log)
        assert str(raised.value).startswith(f"audit log {path}: cannot open for sync: ")


def test_the_sync_state_waits_for_a_commit_in_progress_and_works_from_any_thread(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log, LogReader(log) as reader:
        written(log, 2)
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # a verdict's commit holds the write lock for a moment
        release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
        release.start()
        errors: list[BaseException] = []

        def sync() -> None:  # on the sync loop's thread, not the one that opened the connection
            try:
                reader.set_sync_state(SyncState(synced_id="x", uploaded=1))
            except BaseException as err:  # reported below
                errors.append(err)

        worker = threading.Thread(target=sync)
        worker.start()
        worker.join(60)  # a hang guard only
        release.join(60)
        other.close()
        assert errors == [] and not worker.is_alive()
        assert reader.sync_state() == SyncState(synced_id="x", uploaded=1)


# --- A log whose folder was deleted while the kiosk runs -------------------------------------------------------

def test_a_log_whose_folders_were_deleted_comes_back_owner_only_with_every_event(tmp_path: Path) -> None:
    path = tmp_path / "data" / "kiosk" / "audit.db"
    with AuditLog(path) as log:
        events = written(log, 3)
        shutil.rmtree(tmp_path / "data")
        events.append(log.append(Event("", T0 + 10, "scan")))
        assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600  # README: owner only
        assert list(log.events()) == events and log.verify().ok
    with AuditLog(path) as log:
        assert list(log.events()) == events


# --- The bytes on disk stay as they are -------------------------------------------------------------------

# An event's hash covers every field as compact JSON, keys sorted, text as UTF-8 (not \u escapes): the chains
# already on every kiosk's disk and at every collector were hashed this way, so it can never change.
CANONICAL = ('{"at":1780000000.5,"code_iat":null,"code_kind":null,"details":{"name":"张三","phone":"1"},"device":"",'
             '"id":"01KB3R8F6Y4J0M5TQH2W9X7Z1C","iss":null,"kid":null,"kind":"manual","lane":"","operator":null,'
             '"reason":null,"site":"人民广场站","status":null,"subject_ref":null,"temperature":36.6,"verdict":null}')


def test_the_chain_hashes_the_documented_form_of_an_event(tmp_path: Path) -> None:
    event = Event(ID, T0 + 0.5, "manual", site="人民广场站", temperature=36.6, details={"phone": "1", "name": "张三"})
    with AuditLog(tmp_path / "audit.db") as log:
        log.append(event)
        second = log.append(Event("", T0 + 1, "scan"))
    with contextlib.closing(sqlite3.connect(tmp_path / "audit.db")) as conn:
        links = [bytes(link) for (link,) in conn.execute("SELECT prev_hash FROM events ORDER BY rowid")]
        details = conn.execute("SELECT details FROM events ORDER BY rowid").fetchall()
    assert links[0] == bytes(32)  # the first event links to 32 zero bytes
    assert links[1] == hashlib.sha256(bytes(32) + CANONICAL.encode()).digest()
    assert second.details == {} and details == [('{"name": "张三", "phone": "1"}',), (None,)]  # no details: NULL


def test_the_id_after_another_is_the_next_number() -> None:
    from kiosk.audit.events import id_after

    for ulid in ["0" * 26, "01KB3R8F6Y4J0M5TQH2W9X7Z1C", "01KB3R8F6Y4J0M5TQH2W9X7ZZZ"]:
        number = 0
        for char in ulid:
            number = number * 32 + CROCKFORD.index(char)
        after = id_after(ulid)
        assert len(after) == 26 and millis_of(after) == millis_of(ulid) + (ulid.endswith("Z" * 16))
        decoded = 0
        for char in after:
            decoded = decoded * 32 + CROCKFORD.index(char)
        assert decoded == number + 1


def test_an_event_given_the_last_events_id_gets_a_new_one(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        (last,) = written(log, 1)
        again = log.append(Event(last.id, T0 + 5, "scan"))
        assert again.id > last.id and log.count() == 2 and millis_of(again.id) == int((T0 + 5) * 1000)


def test_another_thread_writes_to_the_log_too(tmp_path: Path) -> None:
    """The checkpoint's worker logs verdicts while the admin screens log their actions from another thread."""
    with AuditLog(tmp_path / "audit.db") as log:
        written(log, 1)
        done: list[Event] = []
        worker = threading.Thread(target=lambda: done.append(log.append(Event("", T0 + 1, "admin"))))
        worker.start()
        worker.join(60)  # a hang guard only
        assert [e.kind for e in done] == ["admin"] and log.count() == 2 and log.verify().ok


def open_files(path: Path) -> list[str]:
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = str(fd.readlink())
            if target.startswith(str(path)):
                found.append(target)
    return found


def test_a_log_that_fails_to_open_leaves_no_file_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Else the medium it is on cannot be unmounted until the garbage collector runs."""
    from kiosk.audit import store

    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        written(log, 1)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, ("0099_broken", broken)])
    with pytest.raises(LogWriteError, match=f"audit log {path}: no such table"):
        AuditLog(path)
    assert open_files(tmp_path) == []
    with pytest.raises(LogWriteError, match="audit log :memory:: no such table"):
        AuditLog()


def test_an_in_memory_log_says_so_when_it_cannot_write() -> None:
    log = AuditLog()
    log.close()
    with pytest.raises(LogWriteError, match=r"^audit log :memory:: cannot write: "):
        log.append(Event("", T0, "scan"))

"""The audit log owns its rules: the purge keeps what a collector has not acknowledged, the log, the outbox
and the collector's stores close themselves at the end of a `with`, and the log's tables are read and written
by the audit store alone (issue 13, section 2 items 1, 6 and 9)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from kiosk.audit.events import Event
from kiosk.audit.reader import LogReader
from kiosk.audit.store import AuditLog
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.errors import LogWriteError
from kiosk.sync.outbox import Outbox

T0 = 1_780_000_000.0
KIOSK = Path(__file__).resolve().parent.parent / "kiosk"


def written(log: AuditLog, n: int) -> list[Event]:
    """n scans, one a second from T0."""
    return [log.append(Event("", T0 + i, "scan", verdict="pass")) for i in range(n)]


# --- "Never purge unsynced events" -----------------------------------------------------------------------------

@pytest.mark.parametrize("acknowledged", [0, 1, 6, 9])
def test_a_purge_keeps_every_event_the_collector_has_not_acknowledged(tmp_path: Path, acknowledged: int) -> None:
    """A log that has synced: the first `acknowledged` events were acknowledged, the rest never deleted."""
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 10)
        with Outbox(log) as outbox:
            if acknowledged:
                outbox.mark_synced(events[acknowledged - 1].id, acknowledged)
            else:
                outbox.update(last_attempt=T0 + 20)  # tried, nothing acknowledged yet
        deleted = log.purge(T0 + 1000, at=T0 + 2000, operator="站长")  # every event is older than this
        left = [e for e in log.events() if e.kind != "purge"]
        assert deleted == acknowledged
        assert left == events[acknowledged:]
        assert log.verify().ok


def test_a_purge_deletes_by_time_alone_on_a_log_that_never_synced(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        written(log, 10)
        assert log.purge(T0 + 4, at=T0 + 20) == 4  # the events at T0 .. T0 + 3
        assert log.count() == 10 - 4 + 1


def test_a_kiosk_with_a_collector_keeps_everything_before_its_first_sync(tmp_path: Path) -> None:
    """`syncing=True` (the kiosk has a [sync] section): with nothing acknowledged, nothing is deleted."""
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 5)
        assert log.purge(T0 + 1000, at=T0 + 2000, syncing=True) == 0
        assert list(log.events()) == events


def test_a_kiosk_whose_collector_was_removed_purges_by_time_again(tmp_path: Path) -> None:
    """`syncing=False` (no [sync] any more): what was never acknowledged goes with its age, as on any kiosk."""
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 8)
        with Outbox(log) as outbox:
            outbox.mark_synced(events[2].id, 3)
        assert log.purge(T0 + 6, at=T0 + 20, syncing=False) == 6
        assert [e for e in log.events() if e.kind != "purge"] == events[6:]


def test_keep_after_id_and_the_sync_state_together_keep_the_older_of_the_two(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        events = written(log, 10)
        with Outbox(log) as outbox:
            outbox.mark_synced(events[6].id, 7)  # the first unsynced is events[7]
        assert log.purge(T0 + 1000, keep_after_id=events[4].id, at=T0 + 2000) == 4
        assert [e for e in log.events() if e.kind != "purge"] == events[4:]


# --- The log's second connection ----------------------------------------------------------------------------

def test_the_reader_sees_what_the_writer_commits_and_keeps_the_sync_state_in_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log, LogReader(log) as reader:
        assert reader.sync_state() is None and reader.count_after(None) == 0 and reader.first_after(None) is None
        events = written(log, 5)
        assert reader.count_after(None) == 5 and reader.count_after(events[1].id) == 3
        assert reader.first_after(None) == events[0].id and reader.first_after(events[3].id) == events[4].id
        assert reader.first_after(events[4].id) is None
        batch = reader.batch_after(events[0].id, 2)
        assert [event for event, _ in batch] == events[1:3]
        with Outbox(log) as outbox:
            outbox.mark_synced(events[2].id, 3)
    with AuditLog(path) as log, Outbox(log) as outbox:  # the state is in the log file, not in a process
        assert (outbox.state().synced_id, outbox.state().uploaded, outbox.pending()) == (events[2].id, 3, 2)


def test_a_damaged_sync_state_starts_over_rather_than_failing(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        written(log, 3)
    for damage in (b"not json", b"[1, 2]", b'{"synced_id": 5, "uploaded": "x", "bogus": 1}'):
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('sync', ?)", [damage])
        with AuditLog(path) as log, Outbox(log) as outbox:
            assert outbox.pending() == 3, damage


def test_a_snapshot_is_one_state_of_the_log_while_the_kiosk_keeps_writing(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as log:
        written(log, 3)
        with log.snapshot() as snapshot:
            log.append(Event("", T0 + 10, "scan", verdict="deny"))  # not held up by the open snapshot
            assert snapshot.count() == 3 and snapshot.count(verdict="deny") == 0
        with log.snapshot() as snapshot:
            assert snapshot.count() == 4 and snapshot.count(verdict="deny") == 1
            assert snapshot.count(T0 + 1, T0 + 10) == 2  # [since, until)


# --- Context managers ---------------------------------------------------------------------------------------

def test_with_audit_log_closes_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        written(log, 2)
        assert Path(f"{path}-wal").exists()
    assert not Path(f"{path}-wal").exists()  # the last connection closed: SQLite folds the WAL in and removes it
    with pytest.raises(LogWriteError):
        log.append(Event("", T0 + 5, "scan"))


def test_with_closes_on_an_error_too(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with pytest.raises(ValueError, match="on purpose"), AuditLog(path) as log:
        written(log, 1)
        raise ValueError("on purpose")
    assert not Path(f"{path}-wal").exists()


def test_with_outbox_and_reader_close_their_own_connection_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        written(log, 2)
        with Outbox(log) as outbox:
            assert outbox.pending() == 2
        with pytest.raises(LogWriteError):
            outbox.pending()
        with LogReader(log) as reader:
            assert reader.count_after(None) == 2
        with pytest.raises(LogWriteError):
            reader.count_after(None)
        log.append(Event("", T0 + 5, "scan"))  # the log's own connection is still open
        assert log.count() == 3
    memory = AuditLog()
    with Outbox(memory) as outbox:  # in memory the outbox borrows the log's connection: it must not close it
        assert outbox.pending() == 0
    memory.append(Event("", T0, "scan"))
    assert memory.count() == 1
    memory.close()


def test_with_a_collector_store_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    with SqliteStore(path) as store:
        assert store.count() == 0
        assert Path(f"{path}-wal").exists()
    assert not Path(f"{path}-wal").exists()


# --- One owner for the log's tables -------------------------------------------------------------------------

# The audit store: the only modules that know the log's tables (logfile.py opens its file). The collector's
# own database also has a table named events (kiosk/collector/schema.py, console_sql.py, corrections_sql.py and the
# two stores), and the console's store (kiosk/console/console_*.py) shares its migrations table: not the log's.
OWNERS = {"audit/schema.py", "audit/store.py", "audit/snapshot.py", "audit/reader.py", "audit/logfile.py",
          "collector/schema.py", "collector/sqlite_store.py", "collector/pg_store.py", "collector/console_sql.py",
          "collector/corrections_sql.py", "console/console_store.py", "console/console_sqlite.py"}
SQL_ON_THE_LOG = re.compile(r"\b(FROM|INTO|UPDATE|JOIN)\s+(events|meta|migrations)\b|PRAGMA|\.db\.conn\b|"
                            r"sqlite3\.connect")


def test_only_the_audit_store_writes_sql_on_the_logs_tables() -> None:
    found = []
    for path in sorted(KIOSK.rglob("*.py")):
        name = path.relative_to(KIOSK).as_posix()
        if name not in OWNERS:
            found += [f"kiosk/{name}:{number}: {line.strip()}"
                      for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                      if SQL_ON_THE_LOG.search(line)]
    assert found == []

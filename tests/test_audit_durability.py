"""The audit log under failure: kill -9 mid-write, a full disk, a read-only or corrupt file, a deleted file.

The promise under test: an event whose `append` returned is never lost or altered, and every failure
to write is a LogWriteError (a KioskError) with a message a person can act on.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.errors import KioskError, LogWriteError
from tests.conftest import made_read_only

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000.0


@contextlib.contextmanager
def opened(path: Path) -> Iterator[AuditLog]:
    log = AuditLog(path)
    try:
        yield log
    finally:
        log.close()


def fill(log: AuditLog, n: int, start: float = T0) -> list[Event]:
    return [log.append(Event("", start + i, "scan", site=f"gate {i}", details={"i": i})) for i in range(n)]


def assert_intact(path: Path, written: list[Event]) -> None:
    """After a reopen: every event that was acknowledged is there, unchanged, and the chain verifies."""
    with opened(path) as log:
        assert list(log.events())[: len(written)] == written
        assert log.verify().ok, log.verify()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


# --- (a) kill -9 at random moments --------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import random, sys, time
    from kiosk.audit.events import Event
    from kiosk.audit.store import AuditLog

    path, cycle, seed, purge_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    log = AuditLog(path)
    print("ready", flush=True)
    n, ids = 0, []
    while True:
        for _ in range(rng.randint(1, 40)):  # a burst, then a short pause
            event = log.append(Event("", time.time(), "scan", site=f"cycle {cycle}", verdict="pass",
                                     details={"cycle": cycle, "n": n, "text": "健康码\\x00\\n"}))
            print("event", event.id, n, flush=True)  # only once append has returned
            ids.append(event.id)
            n += 1
        if purge_every and rng.randrange(purge_every) == 0 and len(ids) > 10:
            keep = ids[-10]
            print("keep", keep, flush=True)  # announced before the purge starts
            log.purge(time.time() + 1, keep_after_id=keep, at=time.time())
        time.sleep(rng.random() * 0.004)
""")


def kill_cycles(tmp_path: Path, cycles: int, purge_every: int) -> tuple[Path, list[tuple[str, int, int]], list[str]]:
    """Start the writer again and again on one file and SIGKILL it at random moments.

    Returns the log's path, each acknowledged event as (id, cycle, n), and the announced keep_after_ids.
    After every kill the parent reopens the file and checks the chain, as the next kiosk start would.
    """
    path, script = tmp_path / "audit.db", tmp_path / "writer.py"
    script.write_text(WRITER)
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    acked: list[tuple[str, int, int]] = []
    keeps: list[str] = []
    for cycle in range(cycles):
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(cycle), str(rng.getrandbits(32)),
                                 str(purge_every)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=child_env(), text=True)
        assert proc.stdout is not None
        if cycle % 5 == 0:  # anywhere: while importing, opening, migrating (first cycle) or writing
            time.sleep(rng.uniform(0.0, 0.35))
        else:  # mid-burst
            assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
            time.sleep(rng.uniform(0.0, 0.06))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"seed {seed}, cycle {cycle}: the writer died by itself:\n{err}"
        for line in out.splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # cut by the kill: never acknowledged
            word, *rest = line.split()
            if word == "event":
                acked.append((rest[0], cycle, int(rest[1])))
            elif word == "keep":
                keeps.append(rest[0])
        with opened(path) as log:  # the next start: the chain verifies and nothing acknowledged is gone
            report = log.verify()
            assert report.ok, f"seed {seed}, cycle {cycle}: {report}"
            present = {event.id for event in log.events()}
            gone = [i for i, _, _ in acked if i not in present and not (keeps and i < max(keeps))]
            assert not gone, f"seed {seed}, cycle {cycle}: acknowledged events lost: {gone[:5]}"
    return path, acked, keeps


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    # No time limit: each writer has its own 30 s hang guard (communicate); speed is benchmarks/audit_log.py's.
    path, acked, _ = kill_cycles(tmp_path, cycles=32, purge_every=0)
    assert len(acked) >= 100  # the kills really landed among writes
    with opened(path) as log:
        stored = {event.id: event for event in log.events()}
        order = [event.id for event in log.events()]
        assert log.verify().ok
    for event_id, cycle, n in acked:
        assert stored[event_id].details == {"cycle": cycle, "n": n, "text": "健康码\x00\n"}
        assert stored[event_id].site == f"cycle {cycle}"
    assert order == sorted(set(order))  # ids rise in the order written, across restarts
    assert len(stored) - len(acked) <= 32  # at most one committed but unacknowledged event per kill


@pytest.mark.slow
def test_kill_9_during_purges_keeps_the_chain_and_everything_after_the_purge_point(tmp_path: Path) -> None:
    path, acked, _ = kill_cycles(tmp_path, cycles=14, purge_every=3)
    with opened(path) as log:
        assert log.verify().ok
        present = [event.id for event in log.events() if event.kind != "purge"]
    acked_ids = [event_id for event_id, _, _ in acked]
    assert acked_ids and acked_ids[-1] in present  # a purge keeps the newest ten
    # A purge removes only the oldest: what is left of the acknowledged events is one unbroken tail.
    left = [event_id for event_id in acked_ids if event_id in set(present)]
    assert left == acked_ids[len(acked_ids) - len(left):]


DIES_IN_PURGE = textwrap.dedent("""
    import os, signal, sys
    from kiosk.audit.events import Event
    from kiosk.audit.store import AuditLog

    log = AuditLog(sys.argv[1])
    ids = [log.append(Event("", 1_700_000_000.0 + i, "scan")).id for i in range(5)]
    real_insert = AuditLog._insert

    def insert(self, event):
        if event.kind == "purge":  # the power goes after the delete, while its record is being written
            os.kill(os.getpid(), signal.SIGKILL)
        return real_insert(self, event)

    AuditLog._insert = insert
    log.purge(1_800_000_000.0, keep_after_id=ids[3], at=1_700_000_100.0)
""")


def test_a_crash_inside_purge_leaves_either_no_purge_or_a_recorded_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    script = tmp_path / "dies.py"
    script.write_text(DIES_IN_PURGE)
    result = subprocess.run([sys.executable, str(script), str(path)], env=child_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    with opened(path) as log:
        assert log.verify().ok
        kinds = [event.kind for event in log.events()]
        purges = [event for event in log.events() if event.kind == "purge"]
    assert kinds == ["scan"] * 5 or (kinds == ["scan"] * 2 + ["purge"] and purges[0].details["deleted"] == 3)


# --- (b) a full disk ------------------------------------------------------------------------------------------

def fill_until_full(log: AuditLog) -> tuple[list[Event], LogWriteError]:
    """Cap the file at its current size (SQLITE_FULL, as a full disk gives) and append until refused."""
    pages = log.db.execute("PRAGMA page_count").fetchone()[0]
    assert log.db.execute(f"PRAGMA max_page_count = {pages}").fetchone()[0] == pages
    written = []
    for i in range(10_000):
        try:
            written.append(log.append(Event("", T0 + 100 + i, "scan", site="x" * 300)))
        except LogWriteError as err:
            return written, err
    raise AssertionError("the capped log never filled up")


@pytest.fixture
def full_log(tmp_path: Path) -> Iterator[tuple[Path, AuditLog, list[Event], LogWriteError]]:
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    try:
        before = fill(log, 3)
        written, err = fill_until_full(log)
        yield path, log, before + written, err
    finally:
        log.close()


def test_a_full_disk_refuses_with_log_write_error_and_loses_nothing(
        full_log: tuple[Path, AuditLog, list[Event], LogWriteError]) -> None:
    path, log, written, err = full_log
    assert isinstance(err, KioskError)
    assert str(path) in str(err)
    assert list(log.events()) == written
    assert log.verify().ok
    with pytest.raises(LogWriteError):  # still full: refused again, nothing half-written
        log.append(Event("", T0 + 50_000, "scan", site="y" * 300))
    assert log.count() == len(written)
    assert not log.db.conn.in_transaction
    log.db.execute("PRAGMA max_page_count = 1073741823")  # space freed
    written += fill(log, 5, start=T0 + 60_000)
    assert list(log.events()) == written
    assert log.verify().ok
    log.close()
    assert_intact(path, written)


def test_a_full_disk_message_says_the_disk_is_full(full_log: tuple[Path, AuditLog, list[Event], LogWriteError]
                                                   ) -> None:
    _, _, _, err = full_log
    assert "full" in str(err)
    assert "rollback" not in str(err)


# --- (c) read-only ------------------------------------------------------------------------------------------

def test_a_read_only_connection_refuses_appends_and_purges_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with opened(path) as log:
        written = fill(log, 4)
        log.db.execute("PRAGMA query_only = 1")  # SQLite now refuses every write, as on a read-only mount
        with pytest.raises(LogWriteError, match="readonly") as raised:
            log.append(Event("", T0 + 10, "scan"))
        assert str(path) in str(raised.value)
        with pytest.raises(LogWriteError, match="readonly"):
            log.purge(T0 + 1000, keep_after_id=written[2].id, at=T0 + 11)
        assert list(log.events()) == written
        assert log.verify().ok
        log.db.execute("PRAGMA query_only = 0")  # writable again: the kiosk carries on
        written += fill(log, 2, start=T0 + 20)
        assert log.verify().ok
    assert_intact(path, written)


def copied_onto(folder: Path, files: list[Path]) -> None:
    """Put `files` on the read-only medium `folder` (see conftest.made_read_only), which stays read-only after."""
    if os.geteuid() == 0:  # a read-only tmpfs: writable for the copy only
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
    else:
        folder.chmod(0o755)
    try:
        for file in files:
            shutil.copy2(file, folder / file.name)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            folder.chmod(0o555)


def test_a_log_on_a_read_only_medium_refuses_to_open_and_is_left_as_it_was(tmp_path: Path) -> None:
    # The kiosk needs the -wal and -shm files beside the log, so a log it cannot write is refused at once,
    # with the path in the message, rather than opened and failing at the first verdict.
    made = tmp_path / "made" / "audit.db"
    with opened(made) as log:
        written = fill(log, 4)
    made.chmod(0o400)
    with made_read_only(tmp_path / "medium") as folder:
        copied_onto(folder, [made])
        path = folder / "audit.db"
        before = path.read_bytes()
        with pytest.raises(LogWriteError) as raised:
            AuditLog(path)
        assert str(path) in str(raised.value)
        gc.collect()  # the failed open's connection, so the medium can be unmounted
        assert path.read_bytes() == before
        assert stat.S_IMODE(path.stat().st_mode) == 0o400  # opening did not "fix" the mode
        assert sorted(os.listdir(folder)) == ["audit.db"]  # no -wal/-shm left behind
    made.chmod(0o600)
    assert_intact(made, written)
    with opened(made) as log:
        assert log.count() == 4


def test_a_new_log_on_a_read_only_medium_raises_log_write_error(read_only_folder: Path) -> None:
    with pytest.raises(LogWriteError) as raised:
        AuditLog(read_only_folder / "audit.db")
    assert str(read_only_folder / "audit.db") in str(raised.value)
    assert os.listdir(read_only_folder) == []


def test_a_read_only_uri_connection_cannot_be_written_through(tmp_path: Path) -> None:
    """What SQLite gives an opener that cannot write (mode=ro): the same error append turns into LogWriteError."""
    path = tmp_path / "audit.db"
    with opened(path) as log:
        fill(log, 2)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO meta VALUES ('x', 'y')")
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2


# --- (d) corrupt files ----------------------------------------------------------------------------------------

def a_real_log(path: Path, n: int = 300) -> list[Event]:
    with opened(path) as log:
        log.db.execute("PRAGMA synchronous = OFF")  # only to build the file quickly; durability is not tested here
        return [log.append(Event("", T0 + i, "scan", site="s" * 50, details={"i": i})) for i in range(n)]


def garbage(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(8192))


def tiny_zeros(path: Path) -> None:
    path.write_bytes(bytes(10))


def text_file(path: Path) -> None:
    path.write_text("这不是数据库\n" * 100)


def truncate(fraction: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        a_real_log(path)
        os.truncate(path, int(path.stat().st_size * fraction))
    damage.__name__ = f"truncated_to_{int(fraction * 100)}pct"
    return damage


def one_page_short(path: Path) -> None:
    a_real_log(path)
    os.truncate(path, path.stat().st_size - 4096)


def odd_size(path: Path) -> None:
    a_real_log(path)
    os.truncate(path, 3 * 4096 + 100)


def first_page_overwritten(path: Path) -> None:
    a_real_log(path)
    with path.open("r+b") as f:
        f.write(random.Random(2).randbytes(4096))


def header_overwritten(path: Path) -> None:
    a_real_log(path)
    with path.open("r+b") as f:
        f.write(b"\xff" * 100)


@pytest.mark.parametrize("damage", [garbage, tiny_zeros, text_file, truncate(0.1), truncate(0.5), truncate(0.9),
                                    one_page_short, odd_size, first_page_overwritten, header_overwritten],
                         ids=lambda damage: getattr(damage, "__name__", "?"))
def test_a_corrupt_file_fails_to_open_with_a_clear_log_write_error(tmp_path: Path,
                                                                   damage: Callable[[Path], None]) -> None:
    path = tmp_path / "audit.db"
    damage(path)
    damaged = path.read_bytes()
    with pytest.raises(LogWriteError) as raised:  # any other exception type fails the test
        AuditLog(path)
    assert isinstance(raised.value, KioskError)
    message = str(raised.value)
    assert str(path) in message
    assert "not a database" in message or "malformed" in message
    assert path.read_bytes() == damaged  # the evidence is left as it was, never replaced by a new log


def test_a_corrupt_page_deep_in_the_file_is_reported_by_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    a_real_log(path)
    page = events_leaf_page(path)
    with path.open("r+b") as f:
        f.seek((page - 1) * 4096)
        f.write(b"\xa5" * 4096)
    # The file's header, schema and head are intact, so it opens (the evidence stays readable); walking the
    # chain reaches the page, and verify says the file is damaged rather than raising or passing.
    with opened(path) as log:
        report = log.verify()
    assert not report.ok
    assert report.problem is not None and "damaged" in report.problem


def events_leaf_page(path: Path) -> int:
    """A page holding rows of the events table, in the middle of the file."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        try:
            pages = [row[0] for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' ORDER BY pageno")]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a page of events")
    return int(pages[len(pages) // 2])


def test_a_path_that_cannot_be_created_raises_log_write_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(LogWriteError):
        AuditLog(tmp_path / "not-a-folder" / "audit.db")


def test_a_folder_where_the_file_should_be_raises_log_write_error(tmp_path: Path) -> None:
    (tmp_path / "audit.db").mkdir()
    with pytest.raises(LogWriteError, match="unable to open") as raised:
        AuditLog(tmp_path / "audit.db")
    assert str(tmp_path / "audit.db") in str(raised.value)


# --- (e) a file deleted while open ---------------------------------------------------------------------------

@pytest.mark.parametrize("also_wal", [False, True], ids=["db-only", "db-wal-shm"])
def test_appending_to_a_deleted_file_brings_the_file_back_with_every_event(tmp_path: Path, also_wal: bool) -> None:
    # The store's promise: an append that returns is on disk. The open connection still holds every committed
    # event, so the next append copies them back to the path first, then writes there.
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    try:
        written = fill(log, 3)
        for name in ["audit.db", *(["audit.db-wal", "audit.db-shm"] if also_wal else [])]:
            (tmp_path / name).unlink()
        written.append(log.append(Event("", T0 + 10, "scan")))
        written += fill(log, 2, start=T0 + 20)
    finally:
        log.close()
    assert path.exists()
    assert_intact(path, written)
    with opened(path) as log:
        assert log.count() == len(written) == 6

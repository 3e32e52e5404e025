"""The audit log store: round trips, ids, file modes, tamper evidence, purge and migrations.

Every test that takes `opener` runs twice: on a real SQLite file in tmp_path (closed and
reopened where it matters) and on an in-memory log, which must behave the same.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.audit import store
from kiosk.audit.events import COLUMNS, Event, new_id
from kiosk.audit.store import AuditLog
from kiosk.errors import KioskError, LogWriteError

T0 = 1_700_000_000.0  # 2023-11-14, a plain epoch second
MAX_AT = 2**47 / 1000  # a ULID holds 48 bits of milliseconds; stay well inside them
few = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Opener:
    """Opens the log under test, reopens it after a close (files only), and closes whatever it opened."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.opened: list[AuditLog] = []

    def open(self) -> AuditLog:
        log = AuditLog(self.path)
        self.opened.append(log)
        return log

    def reopen(self, log: AuditLog) -> AuditLog:
        """The same log after a restart; an in-memory log has no restart and is returned as is."""
        if self.path is None:
            return log
        log.close()
        return self.open()

    def tamper(self, log: AuditLog, *statements: tuple[str, list[object]]) -> AuditLog:
        """Edit the database behind the log's back: a file from another connection while the kiosk is off."""
        if self.path is None:
            for sql, args in statements:
                log.db.execute(sql, args)
            return log
        log.close()
        with contextlib.closing(sqlite3.connect(self.path)) as conn, conn:
            for sql, args in statements:
                conn.execute(sql, args)
        return self.open()

    def close_all(self) -> None:
        for log in self.opened:
            log.close()


@contextlib.contextmanager
def opened(kind: str) -> Iterator[Opener]:
    """An Opener on a fresh file or in memory, for Hypothesis tests (which cannot take tmp_path per example)."""
    with tempfile.TemporaryDirectory() as folder:
        opener = Opener(Path(folder) / "audit.db" if kind == "file" else None)
        try:
            yield opener
        finally:
            opener.close_all()


@pytest.fixture(params=["file", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opener = Opener(tmp_path / "audit.db" if request.param == "file" else None)
    yield opener
    opener.close_all()


def scan(at: float, **fields: object) -> Event:
    return Event("", at, "scan", **fields)  # type: ignore[arg-type]


def fill(log: AuditLog, n: int, start: float = T0) -> list[Event]:
    """n events one second apart, each told apart by its site, as stored."""
    return [log.append(scan(start + i, site=f"gate {i}", verdict="pass", details={"i": i})) for i in range(n)]


def stored(log: AuditLog) -> list[bytes]:
    return [event.canonical() for event in log.events()]


# --- Round trips ----------------------------------------------------------------------------------------------

tricky_chars = st.sampled_from("健康码通行张明中文\x00\x01\x07\x1b\x7f\n\r\t\u2028\ufeff'\"\\;%_")
texts = st.text(st.characters(codec="utf-8") | tricky_chars, max_size=20)  # lone surrogates: own test
optional_texts = st.none() | texts
# -0.0 and NaN are left out here: each has its own test below (both break the chain).
floats = st.floats(allow_nan=False).filter(lambda x: x != 0 or math.copysign(1, x) > 0)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
events = st.builds(
    Event,
    id=st.just("") | st.builds(new_id, st.floats(0, MAX_AT)),
    # Whole numbers too: SQLite's REAL columns read them back as floats, which hash differently (a bug once).
    at=st.floats(0, MAX_AT).filter(lambda x: math.copysign(1, x) > 0) | st.integers(0, int(MAX_AT)),
    kind=texts,
    site=texts, lane=texts, device=texts,
    verdict=optional_texts, reason=optional_texts, status=optional_texts, code_kind=optional_texts,
    kid=optional_texts, iss=optional_texts,
    code_iat=st.none() | st.integers(-(2**63), 2**63 - 1),
    subject_ref=optional_texts,
    temperature=st.none() | floats | st.integers(-300, 300),
    operator=optional_texts,
    details=st.dictionaries(texts, json_values, max_size=5),
)


@few
@given(kind=st.sampled_from(["file", "memory"]), written=st.lists(events, max_size=12))
def test_any_events_read_back_equal_in_order_and_the_chain_verifies(kind: str, written: list[Event]) -> None:
    with opened(kind) as opener:
        log = opener.open()
        returned = [log.append(event) for event in written]
        # Only the id may be replaced (when it is missing or not above the last one), and values SQLite cannot
        # give back exactly are normalised first (infinities become None), so the chain hashes what is stored.
        assert [replace(event, id="") for event in returned] == \
            [replace(store.normalized(event), id="") for event in written]
        for reopen in (False, True):
            if reopen:
                log = opener.reopen(log)
            read = list(log.events())
            assert read == returned
            assert [event.canonical() for event in read] == [event.canonical() for event in returned]
            assert log.verify() == store.ChainReport(True, len(written))
            assert log.count() == len(written)


def test_negative_zero_temperature_keeps_the_chain(opener: Opener) -> None:
    log = opener.open()
    stored = log.append(scan(T0, temperature=-0.0))
    log.append(scan(T0 + 1, temperature=36.5))
    log = opener.reopen(log)
    assert log.verify().ok
    temperature = next(log.events()).temperature
    # SQLite keeps no sign on zero: the event is normalised to +0.0 before it is hashed.
    assert temperature == stored.temperature == 0.0 and math.copysign(1, temperature) == 1.0


def test_a_nan_temperature_is_kept_as_no_temperature(opener: Opener) -> None:
    # SQLite stores NaN as NULL: the event is kept, normalised to "no reading" before it is hashed.
    log = opener.open()
    stored = log.append(scan(T0, temperature=math.nan))
    log.append(scan(T0 + 1, temperature=36.5))
    assert stored.temperature is None
    log = opener.reopen(log)
    assert [e.temperature for e in log.events()] == [None, 36.5]
    assert log.verify() == store.ChainReport(True, 2)


def test_an_iat_beyond_64_bits_is_kept_as_no_iat(opener: Opener) -> None:
    # SQLite's integers are 64-bit signed: a larger iat (hostile input) is kept as unknown, and logging goes on.
    log = opener.open()
    stored = log.append(scan(T0, code_iat=2**64))
    log.append(scan(T0 + 1, code_iat=2**63 - 1))
    assert stored.code_iat is None
    log = opener.reopen(log)
    assert [e.code_iat for e in log.events()] == [None, 2**63 - 1]
    assert log.verify() == store.ChainReport(True, 2)


def test_a_lone_surrogate_is_kept_as_a_replacement_character(opener: Opener) -> None:
    # What bad UTF-8 in argv becomes must not stop logging: it is stored as U+FFFD.
    log = opener.open()
    assert log.append(scan(T0, operator="op\udcff")).operator == "op\ufffd"
    assert log.append(scan(T0 + 1)).kind == "scan"
    log = opener.reopen(log)
    assert next(log.events()).operator == "op\ufffd"
    assert log.verify().ok


def test_events_filter_by_time_and_verdict(opener: Opener) -> None:
    log = opener.open()
    written = [log.append(scan(T0 + i, verdict="pass" if i % 2 else "deny")) for i in range(6)]
    assert list(log.events(since=T0 + 2, until=T0 + 5)) == written[2:5]
    assert list(log.events(verdict="deny")) == written[0::2]
    assert list(log.events(batch=1)) == written


# --- Ids -------------------------------------------------------------------------------------------------------

@few
@given(kind=st.sampled_from(["file", "memory"]),
       times=st.lists(st.sampled_from([T0, T0 + 0.0001, T0 + 0.0005, T0 - 3600, T0 - 0.001, T0 + 60]), max_size=30),
       callers_ids=st.booleans())
def test_ids_strictly_increase_whatever_the_clock_does(kind: str, times: list[float], callers_ids: bool) -> None:
    with opened(kind) as opener:
        log = opener.open()
        half = len(times) // 2
        ids = [log.append(Event(new_id(at) if callers_ids else "", at, "scan")).id for at in times[:half]]
        log = opener.reopen(log)  # the last id survives a restart
        ids += [log.append(Event(new_id(at) if callers_ids else "", at, "scan")).id for at in times[half:]]
        assert ids == sorted(set(ids))
        assert [event.id for event in log.events()] == ids
        assert log.verify().ok


def test_a_thousand_events_in_one_millisecond_get_distinct_rising_ids(opener: Opener) -> None:
    log = opener.open()
    ids = [log.append(scan(T0)).id for _ in range(1000)]
    assert ids == sorted(set(ids))
    assert all(len(i) == 26 for i in ids)


def test_the_clock_going_back_an_hour_still_gives_rising_ids(opener: Opener) -> None:
    log = opener.open()
    first = log.append(scan(T0)).id
    earlier = log.append(Event(new_id(T0 - 3600), T0 - 3600, "scan")).id  # a caller's id below the last
    assert earlier > first
    log = opener.reopen(log)
    assert log.next_id(T0 - 7200) > earlier
    assert log.append(scan(T0 - 7200)).id > earlier


# --- Files -----------------------------------------------------------------------------------------------------

def test_the_database_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "audit.db"
    old = os.umask(0)  # the worst umask: anything not asked for explicitly would be world-readable
    try:
        log = AuditLog(path)
        try:
            log.append(scan(T0))
            for name in ("audit.db", "audit.db-wal", "audit.db-shm"):
                assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        finally:
            log.close()
    finally:
        os.umask(old)
    log = AuditLog(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert log.count() == 1
    finally:
        log.close()


def test_a_file_log_keeps_everything_across_many_reopens(tmp_path: Path) -> None:
    opener = Opener(tmp_path / "audit.db")
    try:
        log = opener.open()
        written: list[Event] = []
        for round_ in range(5):
            written += fill(log, 3, start=T0 + 10 * round_)
            log = opener.reopen(log)
            assert list(log.events()) == written
            assert log.verify().ok
    finally:
        opener.close_all()


# --- Tamper evidence -------------------------------------------------------------------------------------------

CONTENT = [c for c in COLUMNS if c != "id"]  # what happened; the id and the link stay where they were
Tamper = Callable[[list[Event]], list[tuple[str, list[object]]]]


def update_site(index: int) -> Tamper:
    return lambda ev: [("UPDATE events SET site = 'gate 99' WHERE id = ?", [ev[index].id])]


def delete(*indexes: int) -> Tamper:
    return lambda ev: [("DELETE FROM events WHERE id = ?", [ev[i].id]) for i in indexes]


def swap_contents(a: int, b: int) -> Tamper:
    def statements(ev: list[Event]) -> list[tuple[str, list[object]]]:
        sets = ", ".join(f"{c} = (SELECT {c} FROM events WHERE id = ?)" for c in CONTENT)
        return [
            ("CREATE TEMP TABLE saved AS SELECT * FROM events WHERE id = ?", [ev[a].id]),
            (f"UPDATE events SET {sets} WHERE id = ?", [*[ev[b].id] * len(CONTENT), ev[a].id]),
            (f"UPDATE events SET {sets.replace('FROM events WHERE id = ?', 'FROM temp.saved')} WHERE id = ?",
             [ev[b].id]),
            ("DROP TABLE temp.saved", []),
        ]
    return statements


def swap_rows(a: int, b: int) -> Tamper:
    """Swap two whole rows (ids, links and all): the events are reordered."""
    def statements(ev: list[Event]) -> list[tuple[str, list[object]]]:
        cols = [*COLUMNS, "prev_hash"]
        sets = ", ".join(f"{c} = (SELECT {c} FROM temp.saved WHERE k = ?)" for c in cols)
        return [
            ("CREATE TEMP TABLE saved AS SELECT 'a' AS k, * FROM events WHERE id = ? "
             "UNION ALL SELECT 'b', * FROM events WHERE id = ?", [ev[a].id, ev[b].id]),
            ("UPDATE events SET id = 'tmp-a' WHERE id = ?", [ev[a].id]),
            ("UPDATE events SET id = 'tmp-b' WHERE id = ?", [ev[b].id]),
            (f"UPDATE events SET {sets} WHERE id = 'tmp-a'", ["b"] * len(cols)),
            (f"UPDATE events SET {sets} WHERE id = 'tmp-b'", ["a"] * len(cols)),
            ("DROP TABLE temp.saved", []),
        ]
    return statements


def edit_head(ev: list[Event]) -> list[tuple[str, list[object]]]:
    return [("UPDATE meta SET value = ? WHERE key = 'head'", [bytes(32)])]


NEWEST = "the newest events are missing"
# (how, the index of the event first_bad must name or None, whether the problem is the tail). Six events 0..5.
# Only links are stored, so a break shows at the first event whose link does not match the event before it:
# for an altered event that is the event after it (the report says "that event was altered, or events
# between them are missing"); an altered newest event (or head) is told from a cut tail by the head's id.
TAMPERS = [
    pytest.param(update_site(2), 3, False, id="update-middle"),
    pytest.param(update_site(0), 1, False, id="update-first"),
    pytest.param(update_site(5), 5, False, id="update-newest"),
    pytest.param(swap_contents(1, 3), 2, False, id="swap-contents"),
    pytest.param(swap_contents(2, 3), 3, False, id="swap-contents-adjacent"),
    pytest.param(swap_rows(1, 3), 3, False, id="swap-rows"),  # event 3 is found where event 1 belongs
    pytest.param(delete(2), 3, False, id="delete-middle"),  # named: the event after the missing one
    pytest.param(delete(0), 1, False, id="delete-first"),
    pytest.param(delete(1, 2, 3), 4, False, id="delete-run"),
    pytest.param(delete(5), None, True, id="delete-newest"),
    pytest.param(delete(3, 4, 5), None, True, id="delete-newest-three"),
    pytest.param(edit_head, 5, False, id="edit-meta-head"),  # as if the newest event were altered
]


@pytest.mark.parametrize(("how", "bad", "tail"), [pytest.param(*p.values, id=p.id) for p in TAMPERS])
def test_every_tamper_is_detected(opener: Opener, how: Tamper, bad: int | None, tail: bool) -> None:
    log = opener.open()
    written = fill(log, 6)
    assert log.verify().ok
    log = opener.tamper(log, *how(written))
    report = log.verify()
    assert not report.ok
    assert report.problem


@pytest.mark.parametrize(("how", "bad", "tail"), TAMPERS)
def test_verify_names_the_first_broken_or_missing_event(opener: Opener, how: Tamper, bad: int | None,
                                                       tail: bool) -> None:
    log = opener.open()
    written = fill(log, 6)
    log = opener.tamper(log, *how(written))
    report = log.verify()
    assert not report.ok
    assert report.first_bad == (written[bad].id if bad is not None else None)
    assert (NEWEST in (report.problem or "")) == tail


def test_the_tail_report_counts_the_events_that_remain(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 6)
    log = opener.tamper(log, *delete(4, 5)(written))
    assert log.verify() == store.ChainReport(False, 4, None, "the newest events are missing (the head does not match)")


def test_a_tamper_stays_detected_after_more_appends_and_a_reopen(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 6)
    log = opener.tamper(log, *delete(2)(written))
    fill(log, 3, start=T0 + 100)
    log = opener.reopen(log)
    report = log.verify()
    assert (report.ok, report.first_bad) == (False, written[3].id)


# --- Purge -----------------------------------------------------------------------------------------------------

def check_chain_survives(opener: Opener, log: AuditLog) -> AuditLog:
    """After a purge: verifies, verifies after more appends, and after a reopen; returns the live log."""
    assert log.verify().ok
    fill(log, 3, start=T0 + 1000)
    assert log.verify().ok
    log = opener.reopen(log)
    assert log.verify().ok
    fill(log, 2, start=T0 + 2000)
    assert log.verify().ok
    return log


def test_purge_before_a_time_after_every_event_leaves_only_the_purge_event(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 10)
    assert log.purge(T0 + 100, at=T0 + 200, operator="站长") == 10
    (purge,) = log.events()
    assert (purge.kind, purge.at, purge.operator) == ("purge", T0 + 200, "站长")
    assert purge.details == {"deleted": 10, "before": T0 + 100, "through": written[-1].id}
    assert purge.id > written[-1].id
    log = check_chain_survives(opener, log)
    assert log.count() == 1 + 3 + 2


@pytest.mark.parametrize(("before", "gone"), [(T0 + 5, 5), (T0 + 4.5, 5), (T0 + 9, 9), (T0 - 100, 0)])
def test_purge_deletes_only_the_events_before_the_time(opener: Opener, before: float, gone: int) -> None:
    log = opener.open()
    written = fill(log, 10)  # at T0+0 .. T0+9; an event at exactly `before` stays
    assert log.purge(before, at=T0 + 20) == gone
    remaining = list(log.events())
    assert [e for e in remaining if e.kind != "purge"] == written[gone:]
    check_chain_survives(opener, log)


@pytest.mark.parametrize("keep", [1, 4, 9])
def test_purge_never_deletes_at_or_after_keep_after_id(opener: Opener, keep: int) -> None:
    log = opener.open()
    written = fill(log, 10)
    assert log.purge(T0 + 100, keep_after_id=written[keep].id, at=T0 + 200) == keep
    remaining = list(log.events())
    assert remaining[:-1] == written[keep:]
    assert remaining[-1].kind == "purge"
    assert remaining[-1].details == {"deleted": keep, "before": T0 + 100, "through": written[keep - 1].id}
    check_chain_survives(opener, log)


def test_a_purge_that_deletes_nothing_returns_zero_and_changes_nothing(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 3)
    assert log.purge(T0 + 100, keep_after_id=written[0].id, at=T0 + 200) == 0
    assert list(log.events()) == written
    assert log.verify().ok


def test_purges_one_after_another_keep_the_chain(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 5)
    log.purge(T0 + 100, keep_after_id=written[2].id, at=T0 + 200)
    written += fill(log, 5, start=T0 + 300)
    log = opener.reopen(log)
    log.purge(T0 + 1000, keep_after_id=written[7].id, at=T0 + 400)
    log = opener.reopen(log)
    assert [e.id for e in log.events()][:3] == [e.id for e in written[7:]]
    assert [e.kind for e in log.events()][-1] == "purge"
    assert log.verify().ok


def test_after_a_purge_deleting_the_oldest_remaining_event_is_still_detected(opener: Opener) -> None:
    log = opener.open()
    written = fill(log, 6)
    log.purge(T0 + 100, keep_after_id=written[3].id, at=T0 + 200)
    log = opener.tamper(log, *delete(3)(written))
    report = log.verify()
    assert (report.ok, report.first_bad) == (False, written[4].id)


@few
@given(kind=st.sampled_from(["file", "memory"]), n=st.integers(1, 15), data=st.data())
def test_any_purge_keeps_every_event_from_keep_after_id_and_the_chain(kind: str, n: int, data: st.DataObject
                                                                     ) -> None:
    keep = data.draw(st.integers(0, n - 1))
    before = T0 + data.draw(st.floats(-5, n + 5))
    with opened(kind) as opener:
        log = opener.open()
        written = fill(log, n)
        deleted = log.purge(before, keep_after_id=written[keep].id, at=T0 + 100)
        remaining = [e for e in log.events() if e.kind != "purge"]
        assert deleted <= keep  # none at or after keep_after_id went
        assert remaining == written[deleted:]  # only the oldest go, none from the middle
        assert log.verify().ok
        log = opener.reopen(log)
        assert log.verify().ok


# --- Migrations ------------------------------------------------------------------------------------------------

def migrations(log: AuditLog) -> list[str]:
    return [row[0] for row in log.db.execute("SELECT name FROM migrations ORDER BY name").fetchall()]


def test_opening_twice_applies_each_migration_once(tmp_path: Path) -> None:
    for _ in range(3):
        log = AuditLog(tmp_path / "audit.db")
        try:
            assert migrations(log) == [name for name, _ in store.MIGRATIONS]
            assert log.db.execute("SELECT count(*) FROM migrations WHERE applied_at IS NULL").fetchone()[0] == 0
            log.append(scan(T0))
        finally:
            log.close()


def test_a_new_migration_is_applied_once_on_the_next_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    written = fill(log, 2)
    log.close()

    def add_note(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE events ADD COLUMN note TEXT")  # fails if applied twice

    shipped = [name for name, _ in store.MIGRATIONS]
    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, ("0099_note", add_note)])
    for _ in range(2):
        log = AuditLog(path)
        try:
            assert migrations(log) == [*shipped, "0099_note"]
            assert list(log.events()) == written
            assert log.verify().ok
        finally:
            log.close()


def test_a_failing_migration_leaves_nothing_half_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    written = fill(log, 2)
    log.close()

    def broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half (x)")
        db.execute("INSERT INTO no_such_table VALUES (1)")

    shipped = [name for name, _ in store.MIGRATIONS]
    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, ("0099_broken", broken)])
    with pytest.raises(LogWriteError, match="no_such_table") as raised:
        AuditLog(path)
    assert isinstance(raised.value, KioskError)
    assert str(path) in str(raised.value)
    monkeypatch.undo()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        names = [row[0] for row in conn.execute("SELECT name FROM migrations")]
    assert "half" not in tables
    assert names == shipped
    log = AuditLog(path)
    try:
        assert list(log.events()) == written
        assert log.verify().ok
    finally:
        log.close()


def test_an_in_memory_log_is_private_to_its_object() -> None:
    first, second = AuditLog(), AuditLog()
    try:
        fill(first, 3)
        assert (first.count(), second.count()) == (3, 0)
        assert first.path is None
        assert second.verify().ok
    finally:
        first.close()
        second.close()


def test_an_existing_log_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    AuditLog(path).close()
    os.chmod(path, 0o644)
    AuditLog(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad_id", ["not-a-ulid", "01arz3ndektsv4rrffq69g5fav", "Z" * 26, "0" * 27])
def test_an_id_that_is_not_a_ulid_is_replaced(opener: Opener, bad_id: str) -> None:
    log = opener.open()
    first = log.append(Event(bad_id, T0, "scan"))
    second = log.append(Event("", T0 + 1, "scan"))
    assert first.id != bad_id and len(first.id) == 26 and first.id < second.id
    assert log.verify().ok

"""The checkpoint flow and its recorder, in process (issue 13: mutation testing of the checkpoint part).

What the subprocess tests show from outside (`kiosk run`, `kiosk verify --log`, `kiosk log correct`), held here
on the real objects, so that `.ci/mutate checkpoint` sees which test reaches which function: every event names
its site, lane and device and gets an id for its own time; the subject is keyed as the README says; a log that
goes down is said once on stderr and its recovery once; device changes, registrations and their corrections,
admin actions and exports keep what the site configured; the status bar reads sync's state; a bad trust
install keeps the old trust; the wait for a first reading tells the screens what they can show and ends only on
a fresh reading; devices are opened once, each one that cannot be opened is said and logged by its name, and
each source is stopped once; the worker watches devices while idle and outlives a screen that fails; nothing
the checkpoint starts keeps Python alive; a verdict says when, for how long and how long after its frame.

Each test was checked against the mutants it was written for (`mutmut show NAME`, the change applied by hand to
a copy of the tree): it fails on each. Waits have generous hang guards (GUARD), never a speed limit.

Expected values come from the README ("Ids", "Subject reference", "Export", "When the log cannot be written"),
docs/health-code.md's policy defaults, or the test itself.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import pytest
import serial  # type: ignore[import-untyped]

from kiosk.audit.events import Event
from kiosk.audit.recorder import Recorder, record_once
from kiosk.audit.settings import LogConfig
from kiosk.audit.words import event_words
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.view import MeasuringView, VerdictView
from kiosk.errors import KioskError, LogWriteError
from kiosk.policy import Policy
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import FolderSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.serial_scanner import SerialScanner
from kiosk.scanner.synth import Look, render_frame
from kiosk.scanner.types import Scan, ScanHandler, SourceHealth
from kiosk.sync.health import Limits
from kiosk.sync.settings import SyncConfig
from kiosk.sync.wiring import build_sync
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator, person
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import Reading, Verdict, decide
from tests.factories import NOW, SUBJECT, World, code
from tests.test_checkpoint_rules import GUARD, guarded

AT = NOW + 0.25  # an event's time, with milliseconds
SITE_LANE_DEVICE = ("Joy City, gate 2", "A1", "kiosk-07")
WARM = Reading(36.6, NOW)
SECRET = bytes(range(32))
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DOWN = "audit log not written: "  # README: the verdict's warning when the log cannot be written


def id_millis(event_id: str) -> int:
    """README "Ids": the first 10 characters of the ULID are the event's milliseconds, Crockford base32."""
    number = 0
    for char in event_id[:10]:
        number = number * 32 + CROCKFORD.index(char)
    return number


def keyed(subject: bytes) -> str:
    """README "Subject reference": the first 16 bytes, in hex, of HMAC-SHA256(the secret, the subject)."""
    return hmac.new(SECRET, subject, hashlib.sha256).hexdigest()[:32]


def verdict(text: str | None = None, reading: Reading | None = WARM) -> Verdict:
    return decide(code() if text is None else text, World().store(), Policy(require_temperature=True), reading, NOW)


@pytest.fixture
def settings(tmp_path: Path) -> LogConfig:
    key = tmp_path / "subject.key"
    key.write_text(SECRET.hex() + "\n", encoding="ascii")
    site, lane, device = SITE_LANE_DEVICE
    return LogConfig(tmp_path / "audit.db", site=site, lane=lane, device=device, secret_file=key,
                     manual_fields=("name", "phone"))


@pytest.fixture
def recorder(settings: LogConfig) -> Iterator[Recorder]:
    opened = Recorder.open(settings)
    yield opened
    opened.close()


class Broken:
    """The log's file replaced under the running kiosk by a folder (README: every write then fails), and put
    back: the same file, so writes work again."""

    def __init__(self, path: Path) -> None:
        self.path, self.moved = path, path.with_name("moved.db")

    def __enter__(self) -> Broken:
        self.path.rename(self.moved)
        self.path.mkdir()
        return self

    def __exit__(self, *_: object) -> None:
        self.path.rmdir()
        self.moved.rename(self.path)


def said(caplog: pytest.LogCaptureFixture, name: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == level]


# -- the recorder --------------------------------------------------------------------------------------------

def test_a_scan_event_names_the_site_and_the_keyed_subject_and_its_id_is_its_time(recorder: Recorder) -> None:
    assert recorder.healthy and recorder.last_error is None  # a log just opened is no log that failed
    shown = recorder.record(verdict(), AT)
    assert (shown.verdict, shown.reason, shown.warnings) == ("pass", "ok", ())
    [event] = recorder.audit.events()
    assert (event.kind, event.site, event.lane, event.device, event.at) == ("scan", *SITE_LANE_DEVICE, AT)
    assert event.subject_ref == keyed(SUBJECT) != SUBJECT.hex()  # the site's secret, never the raw id
    assert id_millis(event.id) == int(AT * 1000)


def test_a_log_going_down_and_back_is_said_once_each_way(recorder: Recorder, settings: LogConfig,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.audit.recorder")
    recorder.record(verdict(), AT)
    with Broken(settings.path):
        first = recorder.record(verdict(), AT + 1)
        [warning] = [w for w in first.warnings if w.startswith(DOWN)]
        problem = warning[len(DOWN):]
        assert said(caplog, "kiosk.audit.recorder", logging.ERROR) == [problem]  # said when it happens
        second = recorder.record(verdict(), AT + 2)
    assert str(settings.path) in problem and "replaced" in problem  # README: what happened, to which file
    assert second.warnings == first.warnings and recorder.last_error == problem and not recorder.healthy
    assert said(caplog, "kiosk.audit.recorder", logging.ERROR) == [problem]  # once, not once a scan
    assert said(caplog, "kiosk.audit.recorder", logging.WARNING) == []
    back = recorder.record(verdict(), AT + 3)
    recorder.record(verdict(), AT + 4)
    assert back.warnings == () and recorder.healthy
    assert said(caplog, "kiosk.audit.recorder", logging.WARNING) == ["audit log writable again"]  # once
    assert [e.at for e in recorder.audit.events()] == [AT, AT + 3, AT + 4]


@pytest.mark.parametrize(("on_failure", "outcome"),
                         [("deny", ("deny", "log_unavailable")), ("continue", ("pass", "ok"))])
def test_verify_log_that_cannot_even_be_opened_is_a_log_that_is_down(tmp_path: Path, on_failure: str,
                                                                     outcome: tuple[str, str]) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    path = tmp_path / "a-file" / "audit.db"
    shown = record_once(LogConfig(path, on_failure=on_failure), verdict(), AT)
    assert (shown.verdict, shown.reason) == outcome
    [warning] = shown.warnings
    assert warning.startswith(DOWN) and str(path) in warning


def test_verify_log_commits_the_verdict_and_closes_the_log(settings: LogConfig) -> None:
    shown = record_once(settings, verdict(), AT)
    assert (shown.verdict, shown.reason, shown.warnings) == ("pass", "ok", ())
    assert not Path(f"{settings.path}-wal").exists()  # closed: the WAL folded into the file
    with Recorder.open(settings) as reopened:
        [event] = reopened.audit.events()
    assert (event.kind, event.at, event.verdict, event.subject_ref) == ("scan", AT, "pass", keyed(SUBJECT))


def test_a_device_change_is_an_event_of_the_site_at_its_time(recorder: Recorder, settings: LogConfig) -> None:
    recorder.device_state("camera", "ok", AT)  # a device that starts well is no news
    recorder.device_state("camera", "lost", AT + 1)
    recorder.device_state("camera", "lost", AT + 2)  # no change
    recorder.device_state("thermometer", "disconnected", AT + 3)
    events = list(recorder.audit.events())
    assert [(e.kind, e.at, e.details) for e in events] == [
        ("device", AT + 1, {"device": "camera", "state": "lost", "before": "ok"}),
        ("device", AT + 3, {"device": "thermometer", "state": "disconnected", "before": None})]
    assert {(e.site, e.lane, e.device) for e in events} == {SITE_LANE_DEVICE}
    assert [id_millis(e.id) for e in events] == [int((AT + 1) * 1000), int((AT + 3) * 1000)]
    with Broken(settings.path):
        recorder.device_state("camera", "ok", AT + 4)
    assert not recorder.healthy and "replaced" in (recorder.last_error or "")


def test_a_registration_by_hand_keeps_the_site_the_time_and_a_fever(recorder: Recorder) -> None:
    policy = Policy()  # docs/health-code.md: plausible 34-43 °C, a fever from 37.3 °C
    hot = recorder.manual({"name": "张三"}, at=AT, temperature=38.0, operator="vol-3", policy=policy)
    calm = recorder.manual({"name": "李四"}, at=AT + 1, temperature=39.0, operator="vol-3")  # no policy: as typed
    assert (hot.kind, hot.site, hot.lane, hot.device, hot.at, hot.reason) == ("manual", *SITE_LANE_DEVICE, AT, "fever")
    assert (calm.temperature, calm.reason) == (39.0, None)
    assert id_millis(hot.id) == int(AT * 1000)
    for typed in (365.0, 33.9, 43.1):
        with pytest.raises(ValueError) as refused:
            recorder.manual({"name": "王五"}, at=AT, temperature=typed, operator="vol-3", policy=policy)
        assert "implausible" in str(refused.value) and "34.0-43.0 °C" in str(refused.value)
    with pytest.raises(ValueError, match=r"unknown field\(s\) religion"):
        recorder.manual({"religion": "x"}, at=AT, temperature=None, operator="vol-3", policy=policy)
    assert [e.at for e in recorder.audit.events()] == [AT, AT + 1]  # nothing refused was kept


def test_a_correction_points_at_the_registration_and_says_what_it_replaced(recorder: Recorder) -> None:
    policy = Policy()
    original = recorder.manual({"name": "张山", "phone": "138"}, at=AT, temperature=38.5, operator="vol-3",
                               policy=policy)
    fixed = recorder.correct(original.id, {"name": "张三"}, at=AT + 60, temperature=36.5, operator="李",
                             policy=policy, note="typed 38.5 for 36.5")
    assert (fixed.kind, fixed.site, fixed.lane, fixed.device) == ("correction", *SITE_LANE_DEVICE)
    assert (fixed.at, fixed.operator, fixed.temperature, fixed.reason) == (AT + 60, "李", 36.5, None)
    assert fixed.details == {"corrects": original.id, "fields": {"name": "张三"},
                             "was": {"name": "张山", "temperature": 38.5}, "note": "typed 38.5 for 36.5"}
    assert id_millis(fixed.id) == int((AT + 60) * 1000)
    again = recorder.correct(original.id, {"name": "张叁"}, at=AT + 120, temperature=38.6, operator="李",
                             policy=policy)
    # What the first correction made of it is what the second replaces; 38.6 °C is a fever.
    assert again.details["was"] == {"name": "张三", "temperature": 36.5} and again.reason == "fever"
    assert "note" not in again.details
    assert [e.kind for e in recorder.audit.events()] == ["manual", "correction", "correction"]


def test_a_correction_that_cannot_be_kept_is_refused(recorder: Recorder) -> None:
    policy = Policy()
    # A registration from when the site recorded a plate: that field can still be corrected.
    old = recorder.audit.append(Event("", AT, "manual", operator="vol-1", details={"name": "张三", "plate": "京A"}))
    plate = recorder.correct(old.id, {"plate": "京B"}, at=AT + 1, temperature=None, operator="李", policy=policy)
    assert plate.details["fields"] == {"plate": "京B"} and plate.details["was"] == {"plate": "京A"}
    for fields, temperature, words in [({"religion": "x"}, None, r"unknown field\(s\) religion"),
                                       ({}, 365.0, r"implausible: it must be 34\.0-43\.0 °C"),
                                       ({"religion": "x"}, 365.0, r"unknown field\(s\) religion"),
                                       ({}, None, "nothing to correct")]:
        with pytest.raises(ValueError, match=words):
            recorder.correct(old.id, fields, at=AT + 2, temperature=temperature, operator="李", policy=policy)
    missing = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    with pytest.raises(ValueError, match=f"no event {missing} in this log"):
        recorder.correct(missing, {"name": "x"}, at=AT + 2, temperature=None, operator="李", policy=policy)
    assert [e.kind for e in recorder.audit.events()] == ["manual", "correction"]


def test_an_admin_action_is_logged_with_values_as_text_and_goes_ahead_when_the_log_is_down(
        recorder: Recorder, settings: LogConfig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.audit.recorder")
    logged = recorder.admin("export", {"drive": Path("/media/usb"), "rows": 3}, at=AT)
    assert logged is not None and (logged.kind, logged.operator, logged.at) == ("admin", "admin", AT)
    assert logged.details == {"action": "export", "drive": "/media/usb", "rows": 3}
    assert (logged.site, logged.lane, logged.device) == SITE_LANE_DEVICE
    assert id_millis(logged.id) == int(AT * 1000)
    with Broken(settings.path):
        assert recorder.admin("export", {}, at=AT + 1) is None
        problem = recorder.last_error
        assert problem is not None and str(settings.path) in problem and "replaced" in problem
        assert said(caplog, "kiosk.audit.recorder", logging.ERROR) == [problem]  # said when it happens
        assert recorder.admin("export", {}, at=AT + 2) is None
    assert said(caplog, "kiosk.audit.recorder", logging.ERROR) == [problem]  # once


@pytest.mark.parametrize(("language", "first", "fields"),
                         [("en", "time", ["address", "name"]), ("zh", "时间", ["住址", "姓名"])])
def test_an_export_is_in_the_sites_language_zone_and_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            language: str, first: str, fields: list[str]) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # the machine's zone is not the site's
    time.tzset()
    settings = LogConfig(tmp_path / "audit.db", language=language, timezone="Asia/Shanghai",
                         manual_fields=("address", "name"), raw_subject=True)
    out = tmp_path / "day.csv"
    try:
        with Recorder.open(settings) as recorder:
            recorder.manual({"name": "张三", "address": "1 Road"}, at=AT, temperature=None, operator="vol-3")
            assert recorder.export(out, "csv") == 1
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    header, row = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert header[0] == first
    at = header.index(fields[0])
    assert header[at:at + 2] == fields and "ID last 4" not in header and "证件后四位" not in header
    assert row[0] == datetime.fromtimestamp(AT, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert row[at:at + 2] == ["1 Road", "张三"]


# -- the checkpoint ------------------------------------------------------------------------------------------

def test_the_status_bar_reads_sync_state_the_trust_age_with_the_sites_limits_and_the_clock(
        tmp_path: Path, trust_dir: Path, recorder: Recorder) -> None:
    now = time.time()
    os.utime(trust_dir / "trust.cose", (now - 7200, now - 7200))  # the bundle installed two hours ago
    sync = build_sync(SyncConfig("http://127.0.0.1:9", device_key=tmp_path / "device.key"), recorder.audit,
                      trust_dir)  # never started: no pass runs, the state is what the test wrote
    sync.outbox.update(last_success=now - 3 * 3600, last_error="cannot reach", clock_offset=-600.0)
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder, sync=sync,
                            limits=Limits(trust_warn=3600, trust_alarm=5 * 3600))
    with Checkpoint(parts, clock=lambda: now) as checkpoint:
        assert checkpoint.status().item("log").level == "ok"  # type: ignore[union-attr]
        for _ in range(3):
            checkpoint.handle(Scan("hello", "keyboard", now))
        bar = checkpoint.status()
    levels = {i.key: (i.level, i.en) for i in bar.items}
    assert levels["sync"] == ("warn", "3 unsynced · last sync 3 h ago")
    assert levels["trust"] == ("warn", "trust data is 2 h old")  # the site's limits, not the 24 h default
    assert levels["clock"] == ("warn", "the clock is 10 min ahead of the collector's")
    assert levels["log"] == ("ok", "log ok")


def test_a_checkpoint_without_a_log_shows_its_status_and_refuses_what_needs_the_log(
        tmp_path: Path, trust_dir: Path) -> None:
    with Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy())) as checkpoint:
        bar = checkpoint.status()
        assert bar.item("trust").level == "ok" and bar.item("sync") is None  # type: ignore[union-attr]
        assert checkpoint.recent(30) == [] and checkpoint.log_path is None
        # The admin screen's words for it (kiosk/checkpoint/admin.py NO_LOG) begin with the same.
        with pytest.raises(LogWriteError) as refused:
            checkpoint.register({"name": "张三"}, at=AT, temperature=None, operator="admin", policy=Policy())
        assert str(refused.value) == "no audit log configured"
        with pytest.raises(LogWriteError, match=r"^no audit log configured$"):
            checkpoint.export_log(tmp_path / "day.csv", "csv")


def test_trust_files_that_cannot_be_loaded_keep_the_old_trust_and_say_why(
        trust_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.checkpoint")
    with Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy()),
                    clock=lambda: float(NOW)) as checkpoint:
        (trust_dir / "trust.cose").write_bytes(b"not a bundle")
        with pytest.raises(KioskError) as broken:
            load_trust_dir(trust_dir)
        checkpoint.trust_changed()
        assert checkpoint.handle(Scan(code(), "keyboard", NOW)).reason == "ok"  # still verifying with the old
    assert said(caplog, "kiosk.checkpoint", logging.ERROR) == [
        f"new trust files could not be loaded, keeping the old ones: {broken.value}"]


class Told:
    """A screen that can say "measuring" (or fails to, `broken`), and keeps what it was told."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.measuring: list[MeasuringView] = []
        self.verdicts: list[VerdictView] = []

    def on_measuring(self, view: MeasuringView) -> None:
        self.measuring.append(view)
        if self.broken:
            raise RuntimeError("the screen went away")

    def on_verdict(self, view: VerdictView) -> None:
        self.verdicts.append(view)


class Plain:
    """A listener that shows verdicts only (the demo's table, a benchmark): it is not asked to say "measuring"."""

    def __init__(self) -> None:
        self.verdicts: list[VerdictView] = []

    def on_verdict(self, view: VerdictView) -> None:
        self.verdicts.append(view)


@pytest.mark.parametrize("broken", [False, True], ids=["screen", "broken screen"])
def test_the_wait_for_a_first_reading_tells_each_screen_that_can_show_it(
        tmp_path: Path, trust_dir: Path, caplog: pytest.LogCaptureFixture, broken: bool) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.checkpoint")
    never = ThermometerPoller(str(tmp_path / "ttyUSB9"), make_driver("gy906", {}), reconnect_every=30)  # no reading
    told, plain = Told(broken), Plain()
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=never, reading_wait=0.2)
    with Checkpoint(parts, clock=lambda: NOW + 0.5) as checkpoint:
        checkpoint.observers += [told, plain]
        guarded(lambda: checkpoint.handle(Scan(code(), "camera", NOW)), "handle()")
    assert [(m.source, m.at, m.wait) for m in told.measuring] == [("camera", NOW + 0.5, 0.2)]
    assert [v.reason for v in told.verdicts] == [v.reason for v in plain.verdicts] == ["temperature_missing"]
    errors = [r for r in caplog.records if r.name == "kiosk.checkpoint" and r.levelno >= logging.ERROR]
    assert [(r.getMessage(), r.exc_info is not None) for r in errors] == \
        ([("listener could not show measuring", True)] if broken else [])


class Clock:
    """The time the thermometer stamps its readings with and the checkpoint decides at: moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Door:
    """A thermometer (the simulator on a pty, a person at 36.6 °C in front of it) read on the test's clock."""

    def __init__(self) -> None:
        self.clock = Clock(float(NOW))
        self.simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
        self.simulator.override = person(36.6)
        self.poller = ThermometerPoller(self.simulator.start(), make_driver("gy906", {}), reconnect_every=0.1,
                                        clock=self.clock)

    def checkpoint(self, trust_dir: Path, policy: Policy, reading_wait: float) -> Checkpoint:
        return Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), policy, thermometer=self.poller,
                                          reading_wait=reading_wait), clock=self.clock)

    def measured(self, window: float) -> None:
        """Wait (hang guard) until the thermometer has a confirmed reading; then the person steps away."""
        deadline = time.monotonic() + GUARD
        while self.poller.reading_at(self.clock.now, window) is None:
            assert time.monotonic() < deadline, "no reading from the simulator"
            time.sleep(0.02)
        self.simulator.silent = True
        time.sleep(0.3)  # a reply on its way is stamped with the old time too


@pytest.fixture
def door() -> Iterator[Door]:
    made = Door()
    yield made
    made.simulator.stop()


def test_a_reading_within_the_policy_window_decides_at_once(trust_dir: Path, door: Door) -> None:
    policy = Policy(reading_window=5.0)  # a site that counts a reading as fresh for 5 s, not the default 3
    told = Told()
    with door.checkpoint(trust_dir, policy, reading_wait=0) as checkpoint:
        checkpoint.open_devices()
        door.measured(policy.reading_window)
        door.clock.now += 4.0  # the reading is 4 s old: fresh for this site
        checkpoint.observers.append(told)
        guarded(lambda: checkpoint.handle(Scan(code(), "keyboard", NOW)), "handle()")
    [shown] = told.verdicts
    assert (shown.verdict, shown.reason, shown.temperature) == ("pass", "ok", "36.6 °C") and told.measuring == []


def test_no_reading_and_no_wait_is_retry_at_once_without_measuring(trust_dir: Path, door: Door) -> None:
    door.simulator.silent = True  # nobody in front of the thermometer
    told = Told()
    with door.checkpoint(trust_dir, Policy(), reading_wait=0) as checkpoint:  # README: 0, no wait
        checkpoint.open_devices()
        checkpoint.observers.append(told)
        guarded(lambda: checkpoint.handle(Scan(code(), "keyboard", NOW)), "handle()")
    assert [v.reason for v in told.verdicts] == ["temperature_missing"] and told.measuring == []


def test_a_reading_older_than_the_policy_window_does_not_end_the_wait(trust_dir: Path, door: Door) -> None:
    """The person stepped away and back: the last reading is too old to decide on (policy reading_window), so
    the code waits for a fresh one rather than taking the old one and saying RETRY at once."""
    policy = Policy(reading_window=1.0)
    told = Told()
    with door.checkpoint(trust_dir, policy, reading_wait=GUARD) as checkpoint:
        checkpoint.open_devices()
        door.measured(policy.reading_window)
        door.clock.now += 2 * policy.reading_window  # back again: the readings are too old now ...
        assert door.poller.reading_at(door.clock.now, policy.reading_window) is None
        checkpoint.observers.append(told)
        door.simulator.silent = False  # ... and a fresh one comes while the screen says "measuring"
        guarded(lambda: checkpoint.handle(Scan(code(), "keyboard", NOW)), "handle()")
    [shown] = told.verdicts
    assert len(told.measuring) == 1 and (shown.verdict, shown.reason, shown.temperature) == ("pass", "ok", "36.6 °C")


# -- running: devices opened once, codes from every source, a worker that never stops by itself ---------------

class Heard:
    """A listener a test can wait on (hang guard); `broken` makes its first verdict raise."""

    def __init__(self, broken: bool = False) -> None:
        self.views: queue.Queue[VerdictView] = queue.Queue()
        self.broken = broken

    def on_verdict(self, view: VerdictView) -> None:
        self.views.put(view)
        if self.broken:
            self.broken = False
            raise RuntimeError("the screen went away")

    def next(self) -> VerdictView:
        try:
            return self.views.get(timeout=GUARD)
        except queue.Empty:
            raise AssertionError(f"no verdict within {GUARD:.0f} s") from None


class SlowAdapter:
    """A thermometer's USB adapter that takes `delay` seconds to say it cannot be opened; counts the tries."""

    def __init__(self, delay: float) -> None:
        self.delay, self.tries = delay, 0

    def __call__(self, url: str, **_: Any) -> Any:
        self.tries += 1
        time.sleep(self.delay)
        raise OSError(f"could not open port {url}")


def test_devices_open_once_start_waits_for_none_and_open_devices_waits_for_the_thermometer(
        tmp_path: Path, trust_dir: Path) -> None:
    adapter = SlowAdapter(0.7)
    poller = ThermometerPoller(str(tmp_path / "ttyUSB7"), make_driver("gy906", {}), reconnect_every=GUARD,
                               opener=adapter)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=poller))
    try:
        first = checkpoint.open_devices()  # no settle: the status bar's first frame comes at once
        assert first.thermometer == "starting"
        settled = checkpoint.open_devices(settle=GUARD)  # waits until the thermometer has tried
        assert settled.thermometer == "disconnected" and [key for key, _ in settled.unopened] == ["thermometer"]
        guarded(lambda: checkpoint.start(Heard()), "start()")  # kiosk run: open_devices(settle), then start
    finally:
        guarded(checkpoint.stop, "stop()")
    assert adapter.tries == 1  # one thread on the port, not one per call


def test_a_camera_hands_its_codes_to_the_checkpoint_on_daemon_threads(tmp_path: Path, trust_dir: Path) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    cv2.imwrite(str(pictures / "code.png"), render_frame(code(), Look(size=(640, 480)), 1))
    camera = CameraPipeline(FolderSource(pictures), ChainDecoder())
    heard = Heard()
    before = set(threading.enumerate())
    with Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), sources=[camera]),
                    clock=lambda: float(NOW)) as checkpoint:
        checkpoint.start(heard)  # on this (main, non-daemon) thread, as `kiosk run` does; start never waits
        # A kiosk killed before stop() ran must still exit: nothing the checkpoint starts keeps Python alive.
        assert all(t.daemon for t in set(threading.enumerate()) - before)
        shown = heard.next()
    assert (shown.source, shown.verdict, shown.reason) == ("camera", "pass", "ok")


def test_a_typed_code_is_a_keyboard_scan_unless_said_otherwise(trust_dir: Path) -> None:
    heard = Heard()
    with Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy()),
                    clock=lambda: float(NOW)) as checkpoint:
        guarded(lambda: checkpoint.start(heard), "start()")
        checkpoint.submit(code())
        checkpoint.submit(code(), "serial")
        assert [heard.next().source, heard.next().source] == ["keyboard", "serial"]


def test_the_idle_worker_logs_device_changes_and_survives_a_scan_that_fails(
        tmp_path: Path, trust_dir: Path, recorder: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.checkpoint")
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.override = person(36.6)
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=GUARD)
    heard = Heard(broken=True)
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=poller, recorder=recorder)
    try:
        with Checkpoint(parts, clock=lambda: float(NOW)) as checkpoint:
            guarded(lambda: checkpoint.open_devices(settle=GUARD), "open_devices()")
            guarded(lambda: checkpoint.start(heard), "start()")
            deadline = time.monotonic() + GUARD
            while checkpoint.devices().thermometer != "ok":
                assert time.monotonic() < deadline, "no reading from the simulator"
                time.sleep(0.05)
            simulator.stop()  # unplugged while nobody is scanning: the log says so all the same
            while not any(e.kind == "device" and e.details.get("state") == "disconnected"
                          for e in checkpoint.recent(50)):
                assert time.monotonic() < deadline, "the unplugged thermometer never reached the log"
                time.sleep(0.05)
            checkpoint.submit(code())  # its screen fails: the scan is logged, the failure said ...
            assert heard.next().reason == "temperature_missing"
            checkpoint.submit(code())  # ... and the next scan is handled as usual
            assert heard.next().reason == "temperature_missing"
    finally:
        simulator.stop()
    failed = [r for r in caplog.records if r.name == "kiosk.checkpoint" and r.levelno == logging.ERROR]
    assert [(r.getMessage(), r.exc_info is not None) for r in failed] == [("scan could not be handled", True)]


def test_a_verdict_says_when_how_long_it_stays_and_how_long_since_its_frame(trust_dir: Path) -> None:
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), hold=1.5)
    with Checkpoint(parts, clock=lambda: NOW + 7.0) as checkpoint:
        asked = time.monotonic()
        seen = checkpoint.handle(Scan(code(), "camera", NOW, frame_at=asked - 100.0))  # a frame 100 s old
        answered = time.monotonic()
        typed = checkpoint.handle(Scan(code(), "keyboard", NOW))
        assert checkpoint.verdicts == 2
    assert (seen.at, seen.hold, typed.at, typed.hold) == (NOW + 7.0, 1.5, NOW + 7.0, 1.5)
    # README: ms, milliseconds from the camera frame that held the code to the verdict; camera scans only.
    assert seen.ms is not None and 100_000 <= seen.ms <= (answered - asked + 100.0) * 1000
    assert typed.ms is None


def test_each_device_that_cannot_be_opened_is_in_the_log_by_its_name(tmp_path: Path, trust_dir: Path,
                                                                     recorder: Recorder) -> None:
    (tmp_path / "empty").mkdir()
    camera = CameraPipeline(FolderSource(tmp_path / "empty"), ChainDecoder())  # no pictures: ended at once
    scanner = SerialScanner(str(tmp_path / "ttyACM3"), reconnect_every=GUARD)
    poller = ThermometerPoller(str(tmp_path / "ttyUSB7"), make_driver("gy906", {}), reconnect_every=GUARD)
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), sources=[camera, scanner],
                            thermometer=poller, recorder=recorder)
    with Checkpoint(parts, clock=lambda: AT) as checkpoint:
        guarded(lambda: checkpoint.open_devices(settle=GUARD), "open_devices()")
        guarded(lambda: checkpoint.start(Heard()), "start()")
        deadline = time.monotonic() + GUARD
        while len(devices := [e for e in checkpoint.recent(50) if e.kind == "device"]) < 3:
            assert time.monotonic() < deadline, f"not every device reached the log: {devices}"
            time.sleep(0.05)
    # The export's words for them (README: "测温仪未连接" / "thermometer disconnected").
    said_as = {event_words(e.kind, e.details) for e in devices}
    assert said_as == {("摄像头已结束", "camera ended"), ("扫码器未连接", "2D scanner disconnected"),
                       ("测温仪未连接", "thermometer disconnected")}
    assert {e.at for e in devices} == {AT}


class CardReader:
    """A code source of a kind the status bar has no place for (an NFC card reader, say); counts its stops."""

    kind = "nfc"
    ended = False

    def __init__(self) -> None:
        self.stops = 0

    def health(self) -> SourceHealth:
        return SourceHealth("ok", True, target="nfc0")

    def start(self, on_scan: ScanHandler) -> None:
        pass

    def stop(self) -> None:
        self.stops += 1


def test_every_source_is_said_and_stopped_once(tmp_path: Path, trust_dir: Path) -> None:
    reader = CardReader()
    front, back = (SerialScanner(str(tmp_path / name), reconnect_every=GUARD) for name in ("ttyACM3", "ttyACM4"))
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(),
                                            sources=[reader, front, back]))
    try:
        states = checkpoint.open_devices(settle=GUARD)
        # Passed over, the card reader hides nothing after it; each scanner that cannot open has its line.
        assert states.scanner == "disconnected"
        lines = [line for key, line in states.unopened if key == "scanner"]
        assert len(lines) == 2 and "ttyACM3" in lines[0] and "ttyACM4" in lines[1]
    finally:
        guarded(checkpoint.stop, "stop()")
        guarded(checkpoint.stop, "a second stop()")  # README: stopping, once
    assert reader.stops == 1


class Adapter:
    """A thermometer's USB adapter: the simulator's port while plugged in; unplugged, it cannot be opened."""

    def __init__(self) -> None:
        self.plugged = True

    def __call__(self, url: str, **options: Any) -> Any:
        if not self.plugged:
            raise OSError(f"could not open port {url}: [Errno 2] No such file or directory: {url!r}")
        return serial.serial_for_url(url, **options)


def test_a_thermometer_unplugged_after_it_worked_is_lost_not_one_that_cannot_be_opened(trust_dir: Path) -> None:
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.override = person(36.6)
    adapter = Adapter()
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1, opener=adapter)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=poller))
    try:
        checkpoint.open_devices(settle=GUARD)
        deadline = time.monotonic() + GUARD
        while checkpoint.devices().thermometer != "ok":
            assert time.monotonic() < deadline, "no reading from the simulator"
            time.sleep(0.05)
        adapter.plugged = False
        simulator.stop()
        while not (poller.state.last_error or "").startswith("cannot open"):  # it has tried to open it again
            assert time.monotonic() < deadline, "the unplugged thermometer was never tried again"
            time.sleep(0.05)
        states = checkpoint.devices()
    finally:
        guarded(checkpoint.stop, "stop()")
        simulator.stop()
    assert states.thermometer == "disconnected" and states.unopened == ()  # it once worked: no "cannot open"

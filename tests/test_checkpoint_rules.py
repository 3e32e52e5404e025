"""The checkpoint's rules that a screen cannot show: a verdict is committed before anyone sees it, a dead log
gives the configured outcome, stop() finishes the scan in hand, what devices() says, and `kiosk scan` stops on
SIGINT and SIGTERM even when started with SIGINT ignored.

Every wait here has a generous hang guard that fails the test: a checkpoint that never answers is a bug
to report, not a suite that hangs.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.view import DeviceStates, VerdictView
from kiosk.policy import Policy
from kiosk.scanner.decoders import ChainDecoder
from kiosk.scanner.frames import FolderSource
from kiosk.scanner.pipeline import CameraPipeline
from kiosk.scanner.serial_scanner import SerialScanner
from kiosk.scanner.synth import Look, render_frame
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator, person
from kiosk.trustdir import load_trust_dir
from tests.factories import NOW, code
from tests.test_cli_scan import wait_until_open

ROOT = Path(__file__).resolve().parents[1]
GUARD = 60.0  # seconds: a hang guard for two loaded cores, never a speed limit


def guarded(action: Callable[[], object], what: str, timeout: float = GUARD) -> None:
    """Run `action` on a thread of its own and fail (not hang) if it has not returned within `timeout`."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as err:  # handed to the test's thread
            failed.append(err)

    thread = threading.Thread(target=run, name=f"guarded {what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{what} did not return within {timeout:.0f} s")
    if failed:
        raise failed[0]


def committed_scans(path: Path) -> list[tuple[str, str]]:
    """(verdict, reason) of every scan event, read through a connection of its own, read-only."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(v, r) for v, r in db.execute("SELECT verdict, reason FROM events WHERE kind = 'scan' ORDER BY rowid")]
    finally:
        db.close()


class Looking:
    """A listener that, the moment it is told of a verdict, looks in the log file from outside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: queue.Queue[tuple[VerdictView, list[tuple[str, str]] | str]] = queue.Queue()

    def on_verdict(self, view: VerdictView) -> None:
        try:
            found: list[tuple[str, str]] | str = committed_scans(self.path)
        except sqlite3.Error as err:
            found = f"cannot read the log: {err}"
        self.seen.put((view, found))

    def next(self) -> tuple[VerdictView, list[tuple[str, str]] | str]:
        try:
            return self.seen.get(timeout=GUARD)
        except queue.Empty:
            raise AssertionError(f"no verdict within {GUARD:.0f} s") from None


@pytest.fixture
def checkpoint_at(trust_dir: Path) -> Iterator[Callable[..., Checkpoint]]:
    made: list[Checkpoint] = []

    def make(log: LogConfig, **parts: Any) -> Checkpoint:
        recorder = Recorder(AuditLog(log.path), log, None)
        made.append(Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder,
                                               **parts), clock=lambda: float(NOW)))
        return made[-1]

    yield make
    for checkpoint in made:
        guarded(checkpoint.stop, "stop()")


def test_each_verdict_is_in_the_log_file_when_the_listener_is_told(tmp_path: Path,
                                                                   checkpoint_at: Callable[..., Checkpoint]) -> None:
    path = tmp_path / "audit.db"
    checkpoint = checkpoint_at(LogConfig(path))
    looking = Looking(path)
    guarded(lambda: checkpoint.start(looking), "start()")
    expected: list[tuple[str, str]] = []
    for text, outcome in [(code(), ("pass", "ok")), (code(iat=NOW - 7200, exp=NOW - 3600), ("deny", "expired")),
                          ("hello", ("deny", "not_health_code"))]:
        checkpoint.submit(text, "keyboard")
        view, found = looking.next()
        expected.append(outcome)
        assert (view.verdict, view.reason) == outcome
        assert found == expected, "the listener was told before the event was committed"


@pytest.mark.parametrize(("on_failure", "shown"), [("deny", ("deny", "log_unavailable")), ("continue", ("pass", "ok"))])
def test_a_log_that_cannot_be_written_gives_the_configured_outcome(
        tmp_path: Path, checkpoint_at: Callable[..., Checkpoint], on_failure: str, shown: tuple[str, str]) -> None:
    path = tmp_path / "audit.db"
    checkpoint = checkpoint_at(LogConfig(path, on_failure=on_failure))
    seen = Looking(path)
    guarded(lambda: checkpoint.start(seen), "start()")
    checkpoint.submit(code(), "keyboard")
    assert seen.next()[0].verdict == "pass"  # written while the log still worked
    path.rename(tmp_path / "moved.db")  # the log's file replaced under the running kiosk by a directory
    path.mkdir()
    checkpoint.submit(code(), "keyboard")
    view, _ = seen.next()
    assert (view.verdict, view.reason) == shown
    assert any(w.startswith("audit log not written") for w in view.warnings), view.warnings
    assert checkpoint.status().item("log").level == "alarm"  # type: ignore[union-attr]
    assert [(e.kind, e.reason) for e in checkpoint.recent(20)] == [("scan", "ok")]  # only the first was kept


def test_stop_lets_the_scan_in_hand_reach_the_log_before_it_closes(
        tmp_path: Path, checkpoint_at: Callable[..., Checkpoint]) -> None:
    path = tmp_path / "audit.db"
    checkpoint = checkpoint_at(LogConfig(path))
    seen = Looking(path)
    guarded(lambda: checkpoint.start(seen), "start()")
    checkpoint.submit(code(), "keyboard")
    guarded(checkpoint.stop, "stop() with a scan in hand")
    assert not Path(f"{path}-wal").exists()  # the last connection closed: the WAL folded into the file
    assert seen.seen.qsize() == 1 and committed_scans(path) == [("pass", "ok")]
    reopened = AuditLog(path)
    try:
        assert reopened.verify().ok and reopened.count() == 1
    finally:
        reopened.close()


def test_devices_says_what_each_device_of_the_checkpoint_says(
        tmp_path: Path, checkpoint_at: Callable[..., Checkpoint]) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    cv2.imwrite(str(pictures / "wall.png"), render_frame(None, Look(size=(320, 240)), 1))
    camera = CameraPipeline(FolderSource(pictures, repeat=True), ChainDecoder())  # a camera that never ends
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.override = person(36.6)
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1)
    checkpoint = checkpoint_at(LogConfig(tmp_path / "audit.db"), sources=[camera], thermometer=poller)
    try:
        guarded(lambda: checkpoint.open_devices(settle=GUARD), "open_devices()")
        deadline = time.monotonic() + GUARD
        while checkpoint.devices().celsius is None:
            assert time.monotonic() < deadline, "no reading from the simulator"
            time.sleep(0.05)
        states = checkpoint.devices()
        assert states == DeviceStates("ok", None, "ok", states.celsius, ())
        assert states.celsius == pytest.approx(36.6, abs=0.05)
        simulator.stop()  # the thermometer unplugged: it says so, and it once worked, so no "cannot open"
        while checkpoint.devices().thermometer != "disconnected":
            assert time.monotonic() < deadline, "the unplugged thermometer never said so"
            time.sleep(0.05)
        assert checkpoint.devices().camera == "ok" and checkpoint.devices().unopened == ()
    finally:
        simulator.stop()


def test_devices_names_what_cannot_be_opened_and_a_camera_that_ended(
        tmp_path: Path, checkpoint_at: Callable[..., Checkpoint]) -> None:
    (tmp_path / "empty").mkdir()
    camera = CameraPipeline(FolderSource(tmp_path / "empty"), ChainDecoder())  # a folder with no pictures: ended
    scanner = SerialScanner(str(tmp_path / "ttyACM3"), reconnect_every=30)
    poller = ThermometerPoller(str(tmp_path / "ttyUSB7"), make_driver("gy906", {}), reconnect_every=30)
    checkpoint = checkpoint_at(LogConfig(tmp_path / "audit.db"), sources=[camera, scanner], thermometer=poller)
    guarded(lambda: checkpoint.open_devices(settle=GUARD), "open_devices()")
    states = checkpoint.devices()
    assert (states.camera, states.scanner, states.thermometer, states.celsius) == \
        ("ended", "disconnected", "disconnected", None)
    lines = dict(states.unopened)
    assert set(lines) == {"scanner", "thermometer"}  # a folder is no device to retry
    assert f"2D scanner {tmp_path / 'ttyACM3'}" in lines["scanner"] and "30" in lines["scanner"]
    assert f"thermometer {tmp_path / 'ttyUSB7'}" in lines["thermometer"] and "30" in lines["thermometer"]


# -- `kiosk scan` stopped by a signal --------------------------------------------------------------------------


def read_line(process: subprocess.Popen[str]) -> str:
    box: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: box.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(GUARD)
    assert box, f"no line from kiosk scan within {GUARD:.0f} s"
    return box[0]


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_kiosk_scan_started_with_sigint_ignored_stops_on_a_signal(trust_dir: Path, tmp_path: Path,
                                                                  signal_number: int) -> None:
    """A shell without job control starts background jobs with SIGINT ignored: Ctrl-C must still stop it."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    now = int(time.time())
    log = tmp_path / "audit.db"
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "scan", "--trust", str(trust_dir), "--log", str(log),
                                "--serial", os.ttyname(slave)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        wait_until_open(process.pid, os.ttyname(slave), GUARD)
        os.write(master, (code(iat=now - 10, exp=now + 3600) + "\r\n").encode())
        assert json.loads(read_line(process))["reason"] == "ok"
        process.send_signal(signal_number)
        try:
            returncode = process.wait(timeout=GUARD)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kiosk scan still running {GUARD:.0f} s after signal {signal_number}") from None
        assert process.stderr is not None
        err = process.stderr.read()
        assert returncode == 0, err
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=GUARD)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        os.close(master)
        os.close(slave)
    assert not Path(f"{log}-wal").exists()  # closed cleanly: the WAL folded into the file
    assert committed_scans(log) == [("pass", "ok")]
    reopened = AuditLog(log)
    try:
        assert reopened.verify().ok
    finally:
        reopened.close()

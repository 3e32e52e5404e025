"""Issue 12, the entrance volunteers: a log kept without a [log] section, devices that cannot be opened said at
start, a code read a moment before the thermometer's first reading, and headless lines a gate controller reads.

The CLI is run as a user runs it (a subprocess); the engine is driven with a real thermometer simulator on a
pseudo-terminal read by the real poller. Waits are conditions with generous hang guards, never tuned sleeps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.audit.store import AuditLog
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.settings import parse_kiosk
from kiosk.checkpoint.view import MeasuringView, VerdictView
from kiosk.config import parse_config
from kiosk.errors import ConfigError
from kiosk.healthcode import RED
from kiosk.policy import Policy
from kiosk.scanner.synth import Look, render_frame, write_video
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.thermometer.simulator import Simulator, person
from kiosk.trustdir import load_trust_dir
from tests.factories import code

ROOT = Path(__file__).resolve().parents[1]
HANG = 60  # seconds: a hang guard, far above what any of these takes
ISO_LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00")  # milliseconds, the zone's offset


def fresh(**claims: Any) -> str:
    now = int(time.time())
    return code(iat=now - 5, exp=now + 600, **claims)


def kiosk(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`kiosk ARGS...` as a person runs it on a machine with no display."""
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=HANG, env={**base, **(env or {})}, cwd=cwd or ROOT)


def absent_camera() -> int:
    """A camera index with no device here (7 on most machines)."""
    return next(n for n in range(7, 100) if not os.path.exists(f"/dev/video{n}"))


def scan_events(path: Path) -> list[str]:
    log = AuditLog(path)
    try:
        return [e.reason or "" for e in log.events() if e.kind == "scan"]
    finally:
        log.close()


# -- 1. an audit log without a [log] section ------------------------------------------------------------------

def test_run_without_a_log_section_logs_beside_the_device_key_and_says_where(tmp_path: Path,
                                                                               trust_dir: Path) -> None:
    data = tmp_path / "data"
    env = {"XDG_DATA_HOME": str(data), "KIOSK_AUDIT_LOG": "", "KIOSK_DEVICE_KEY": ""}
    done = kiosk("run", "--trust", str(trust_dir), "--headless", "--stdin", stdin=f"{fresh()}\nhello\n", env=env)
    assert done.returncode == 0, done.stderr
    expected = data / "kiosk" / "audit.db"
    assert done.stderr.splitlines() == [f"kiosk run: audit log {expected}"]
    assert scan_events(expected) == ["ok", "not_health_code"]
    shown = kiosk("device", "show", "--json", env=env)
    assert Path(json.loads(shown.stdout)["key_file"]).parent == expected.parent  # where the device key lives
    # The commands that read a log find the same one with no --log and no [log]: a volunteer's kiosk exports.
    assert kiosk("log", "verify", env=env).returncode == 0
    exported = kiosk("log", "export", "--out", str(tmp_path / "today.jsonl"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["reason"] for line in (tmp_path / "today.jsonl").read_text().splitlines()
            if json.loads(line).get("kind") == "scan"] == ["ok", "not_health_code"]


def test_log_commands_without_any_log_say_where_they_looked(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "empty"), "KIOSK_AUDIT_LOG": ""}
    done = kiosk("log", "verify", env=env)
    assert done.returncode == 2 and str(tmp_path / "empty" / "kiosk" / "audit.db") in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_and_scan_take_log_path(tmp_path: Path, trust_dir: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "configured.db"\nlane = "A1"\n')
    done = kiosk("--config", str(config), "run", "--headless", "--stdin", "--log", str(tmp_path / "given.db"),
                 stdin="hello\n")
    assert done.returncode == 0 and done.stderr == f"kiosk run: audit log {tmp_path / 'given.db'}\n"
    assert scan_events(tmp_path / "given.db") == ["not_health_code"] and not (tmp_path / "configured.db").exists()
    log = AuditLog(tmp_path / "given.db")
    try:
        assert {e.lane for e in log.events()} == {"A1"}  # the rest of [log] still holds
    finally:
        log.close()
    (tmp_path / "pictures").mkdir()
    import cv2

    cv2.imwrite(str(tmp_path / "pictures" / "1.png"), render_frame(fresh(), Look(size=(640, 480)), 1))
    done = kiosk("scan", "--trust", str(trust_dir), "--camera", str(tmp_path / "pictures"), "--log",
                 str(tmp_path / "scan.db"))
    assert done.returncode == 0 and done.stderr == f"kiosk scan: audit log {tmp_path / 'scan.db'}\n"
    assert [json.loads(line)["reason"] for line in done.stdout.splitlines()] == ["ok"]
    assert scan_events(tmp_path / "scan.db") == ["ok"]


def test_scan_without_a_log_section_logs_to_the_default_log_too(tmp_path: Path, trust_dir: Path) -> None:
    (tmp_path / "pictures").mkdir()
    import cv2

    cv2.imwrite(str(tmp_path / "pictures" / "1.png"), render_frame(fresh(), Look(size=(640, 480)), 1))
    default = tmp_path / "default" / "audit.db"
    done = kiosk("scan", "--trust", str(trust_dir), "--camera", str(tmp_path / "pictures"),
                 env={"KIOSK_AUDIT_LOG": str(default)})
    assert done.returncode == 0 and done.stderr == f"kiosk scan: audit log {default}\n"
    assert scan_events(default) == ["ok"]


# -- 2. devices that cannot be opened, said at start --------------------------------------------------------

def test_a_missing_video_file_is_a_usage_error_in_one_line(tmp_path: Path, trust_dir: Path) -> None:
    done = kiosk("run", "--trust", str(trust_dir), "--headless", "--camera", "/no/such.avi")
    assert done.returncode == 2 and done.stderr == "kiosk run: video /no/such.avi: no such file\n"
    (tmp_path / "door.avi").write_text("not a video at all")
    done = kiosk("scan", "--trust", str(trust_dir), "--camera", str(tmp_path / "door.avi"))
    assert done.returncode == 2
    assert done.stderr == f"kiosk scan: video {tmp_path / 'door.avi'}: not a video OpenCV can read\n"


def test_a_camera_that_is_not_there_is_said_once_at_start_and_codes_still_get_verdicts(trust_dir: Path) -> None:
    camera = absent_camera()
    done = kiosk("run", "--trust", str(trust_dir), "--headless", "--camera", str(camera), "--stdin",
                 stdin=f"{fresh()}\n")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[1:] == [f"kiosk run: camera {camera}: cannot be opened (no such device); retrying every 2 s"]
    assert lines[0].startswith("kiosk run: audit log ")
    assert "[ WARN" not in done.stderr  # OpenCV's own, every retry
    assert [json.loads(line)["reason"] for line in done.stdout.splitlines()] == ["ok"]


def test_a_thermometer_and_a_scanner_whose_ports_do_not_exist_are_said_at_start(tmp_path: Path,
                                                                                 trust_dir: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[kiosk]\nreading_wait = 0\n'
                      f'[thermometer]\nprotocol = "gy906"\nport = "{tmp_path / "ttyUSB9"}"\n'
                      f'[scanner]\nserial = "{tmp_path / "ttyACM9"}"\n')
    done = kiosk("--config", str(config), "run", "--headless", "--stdin", stdin=f"{fresh()}\n")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stderr.splitlines()[1:]) == [
        f"kiosk run: 2D scanner {tmp_path / 'ttyACM9'}: cannot be opened (no such file or directory); "
        "retrying every 2 s",
        f"kiosk run: thermometer {tmp_path / 'ttyUSB9'}: cannot be opened (no such file or directory); "
        "retrying every 2 s"]
    assert [json.loads(line)["reason"] for line in done.stdout.splitlines()] == ["temperature_missing"]


def test_a_device_that_cannot_be_opened_is_named_so_on_the_status_bar_before_anything_runs(
        tmp_path: Path, trust_dir: Path) -> None:
    from kiosk.checkpoint.wiring import build_checkpoint

    config = parse_config(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{tmp_path / "a.db"}"\n'
                          f'[thermometer]\nprotocol = "gy906"\nport = "{tmp_path / "ttyUSB9"}"\n'
                          f'[scanner]\ncamera = "{absent_camera()}"\n')
    checkpoint = build_checkpoint(config)
    try:
        devices = checkpoint.open_devices(settle=HANG)  # the first try of each: no "starting" left
        bar = checkpoint.status()
    finally:
        checkpoint.stop()
    assert [key for key, _ in devices.unopened] == ["camera", "thermometer"]
    for key, zh in (("camera", "摄像头"), ("thermometer", "测温")):
        item = bar.item(key)
        assert item is not None and (item.en, item.zh, item.level) == (f"{key} cannot be opened", f"{zh} 无法打开",
                                                                        "alarm")


# -- 3. a code read a moment before the thermometer's first reading -----------------------------------------

class Heard:
    """A listener that keeps what it was told, in order, with when (monotonic)."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.told: list[tuple[str, float, MeasuringView | VerdictView]] = []
        self.verdict = threading.Event()
        self.then = then  # what happens in front of the kiosk once it says "measuring"

    def on_measuring(self, view: MeasuringView) -> None:
        self.told.append(("measuring", time.monotonic(), view))
        if self.then is not None:
            self.then()

    def on_verdict(self, view: VerdictView) -> None:
        self.told.append(("verdict", time.monotonic(), view))
        self.verdict.set()


@pytest.fixture
def door(trust_dir: Path) -> Iterator[tuple[Simulator, Checkpoint]]:
    """A checkpoint at a door, its thermometer a simulator on a pty that is silent: nobody in front of it yet."""
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.silent = True
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(reading_window=3.0),
                                            thermometer=poller, reading_wait=5.0))
    yield simulator, checkpoint
    checkpoint.stop()
    simulator.stop()


@pytest.mark.parametrize(("body", "verdict", "reason"), [(36.6, "pass", "ok"), (38.4, "deny", "fever")])
def test_a_code_read_before_the_first_reading_waits_for_it(door: tuple[Simulator, Checkpoint], body: float,
                                                             verdict: str, reason: str) -> None:
    simulator, checkpoint = door
    simulator.override = person(body)

    def step_up() -> None:  # the person reaches the thermometer half a second after the code was read
        threading.Timer(0.5, lambda: setattr(simulator, "silent", False)).start()

    heard = Heard(then=step_up)
    checkpoint.start(heard)
    checkpoint.submit(fresh(), "camera")
    assert heard.verdict.wait(HANG)
    assert [kind for kind, _, _ in heard.told] == ["measuring", "verdict"]
    measuring, shown = heard.told[0][2], heard.told[1][2]
    assert isinstance(measuring, MeasuringView) and (measuring.en, measuring.zh) == ("measuring...", "正在测温…")
    assert heard.told[1][1] - heard.told[0][1] >= 0.5  # the verdict waited for the reading
    assert isinstance(shown, VerdictView) and (shown.verdict, shown.reason) == (verdict, reason)
    assert shown.temperature == f"{body:.1f} °C"


def test_a_silent_thermometer_gives_retry_after_the_wait(trust_dir: Path) -> None:
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.silent = True
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1)
    wait = 1.0
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=poller,
                                            reading_wait=wait))
    heard = Heard()
    checkpoint.start(heard)
    try:
        submitted = time.monotonic()
        checkpoint.submit(fresh(), "keyboard")
        assert heard.verdict.wait(HANG)
        kinds = [(kind, getattr(view, "reason", None)) for kind, _, view in heard.told]
        assert kinds == [("measuring", None), ("verdict", "temperature_missing")]
        assert heard.told[-1][1] - submitted >= wait
        # A code that is denied whatever the temperature says so at once: nothing to measure for.
        heard.told.clear()
        heard.verdict.clear()
        checkpoint.submit(fresh(status=RED), "keyboard")
        assert heard.verdict.wait(HANG)
        assert [(kind, getattr(view, "reason", None)) for kind, _, view in heard.told] == [("verdict", "status_red")]
    finally:
        checkpoint.stop()
        simulator.stop()


def test_a_screen_that_fails_to_say_measuring_still_gets_the_verdict(trust_dir: Path) -> None:
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False)
    simulator.silent = True
    poller = ThermometerPoller(simulator.start(), make_driver("gy906", {}), reconnect_every=0.1)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=poller,
                                            reading_wait=0.2))

    def broken() -> None:
        raise RuntimeError("the screen went away")

    heard = Heard(then=broken)
    checkpoint.start(heard)
    try:
        checkpoint.submit(fresh(), "keyboard")
        assert heard.verdict.wait(HANG)
        assert [kind for kind, _, _ in heard.told] == ["measuring", "verdict"]
    finally:
        checkpoint.stop()
        simulator.stop()


def test_reading_wait_is_a_kiosk_setting(tmp_path: Path, trust_dir: Path) -> None:
    from kiosk.checkpoint.wiring import build_checkpoint

    assert parse_kiosk({}).reading_wait == 1.5 and parse_kiosk({"reading_wait": 0}).reading_wait == 0
    for bad in (-1, 11, float("nan"), "1.5"):
        with pytest.raises(ConfigError, match="reading_wait"):
            parse_kiosk({"reading_wait": bad})
    config = parse_config(f'[trust]\ndir = "{trust_dir}"\n[kiosk]\nreading_wait = 0.7\n'
                          f'[log]\npath = "{tmp_path / "a.db"}"\n')
    with build_checkpoint(config) as checkpoint:
        assert checkpoint.reading_wait == 0.7


# -- 4. headless lines for a gate controller ----------------------------------------------------------------

def test_headless_lines_have_a_zoned_time_a_number_for_the_temperature_and_no_nulls(tmp_path: Path,
                                                                                       trust_dir: Path) -> None:
    simulator = Simulator("gy906", {}, "steady", emulate_baud=False, link=tmp_path / "thermometer")
    simulator.start()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\n'
                      f'[thermometer]\nprotocol = "gy906"\nport = "{tmp_path / "thermometer"}"\n')
    try:
        done = kiosk("--config", str(config), "run", "--headless", "--stdin", stdin=f"{fresh()}\nhello\n",
                     env={"TZ": "Asia/Shanghai"})
    finally:
        simulator.stop()
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [sorted(line) for line in lines] == [
        sorted(["verdict", "reason", "reason_en", "reason_zh", "name", "celsius", "source", "at"]),
        sorted(["verdict", "reason", "reason_en", "reason_zh", "celsius", "source", "at"])]  # no name: no code
    first = lines[0]
    assert (first["verdict"], first["reason"], first["name"], first["source"]) == ("pass", "ok", "张*明", "keyboard")
    assert isinstance(first["celsius"], float) and abs(first["celsius"] - 36.6) < 0.05
    assert ISO_LOCAL.fullmatch(first["at"]), first["at"]
    assert abs(datetime.fromisoformat(first["at"]).timestamp() - time.time()) < HANG


def test_a_camera_line_has_its_milliseconds_and_warnings_when_there_are_any(tmp_path: Path,
                                                                              trust_dir: Path) -> None:
    (trust_dir / "status.cose").write_bytes(b"not a status list")  # a warning on every verdict
    look = Look(size=(640, 480), code_fraction=0.4)
    write_video(tmp_path / "door.avi", [render_frame(None, look, 1)] * 3 + [render_frame(fresh(), look, 2)] * 4, 30)
    done = kiosk("run", "--trust", str(trust_dir), "--headless", "--camera", str(tmp_path / "door.avi"),
                 env={"TZ": "Asia/Shanghai"})
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(text) for text in done.stdout.splitlines()]
    assert sorted(line) == sorted(["verdict", "reason", "reason_en", "reason_zh", "name", "source", "at", "ms",
                                   "warnings"])
    assert line["source"] == "camera" and isinstance(line["ms"], float) and line["ms"] >= 0
    assert len(line["warnings"]) == 1 and "status.cose" in line["warnings"][0]
    assert ISO_LOCAL.fullmatch(line["at"]), line["at"]

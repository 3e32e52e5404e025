"""The checkpoint without a screen: words, the status bar's values, the engine, headless `kiosk run`, bus
mode, the pass signal on a real pty, and a keyboard-wedge scanner on standard input."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.audit.store import AuditLog
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.settings import SignalSettings, parse_kiosk
from kiosk.checkpoint.signal import PassSignal
from kiosk.checkpoint.view import DeviceStates, SyncSummary, VerdictView, status_view, verdict_view
from kiosk.checkpoint.wording import VERDICT_LOOKS
from kiosk.config import parse_config
from kiosk.errors import ConfigError
from kiosk.healthcode import RED
from kiosk.policy import Policy
from kiosk.scanner.types import Scan
from kiosk.sync.health import alerts
from kiosk.terms import REASON_SCREENS
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import REASONS as SPEC_REASONS
from kiosk.verdict import Reading, decide
from tests.factories import NOW, World, code
from tests.test_checkpoint_rules import GUARD, committed_scans, guarded


def test_every_reason_of_the_spec_has_words_in_both_languages() -> None:
    assert set(SPEC_REASONS) == set(REASON_SCREENS)  # log_unavailable included
    for zh, en in REASON_SCREENS.values():
        assert zh and en and zh != en and len(en) <= 60  # a few words, read at arm's length
    assert set(VERDICT_LOOKS) == {"pass", "deny", "retry"}
    assert len({v[0] for v in VERDICT_LOOKS.values()}) == 3 and len({v[1] for v in VERDICT_LOOKS.values()}) == 3


WARM = Reading(36.6, NOW)


def view(text: str, reading: Reading | None = WARM, **kw: object) -> VerdictView:
    verdict = decide(text, World().store(), Policy(require_temperature=True), reading, NOW)
    return verdict_view(verdict, at=NOW, hold=3.0, **kw)  # type: ignore[arg-type]


# The code carries its name masked by the issuer (docs/health-code.md, phc key 4, "张*明" in tests/factories.py):
# the kiosk shows it as given, and only for a code whose signature verified.
@pytest.mark.parametrize("text, reading, verdict, reason, words, name", [
    (code(), Reading(36.6, NOW), "pass", "ok", "green code: go ahead", "张*明"),
    (code(), Reading(38.26, NOW), "deny", "fever", "temperature 38.3 °C", "张*明"),
    (code(), None, "retry", "temperature_missing", "step closer to the thermometer", "张*明"),
    (code(iat=NOW - 7200, exp=NOW - 3600), Reading(36.6, NOW), "deny", "expired", "code expired: refresh it",
     "张*明"),
    (code(status=RED), Reading(36.6, NOW), "deny", "status_red", "red code", "张*明"),
    (code("stranger"), Reading(36.6, NOW), "deny", "unknown_key", "ask the staff", None),
    ("hello", Reading(36.6, NOW), "deny", "not_health_code", "show your health code", None),
])
def test_a_verdict_view_says_what_happened_and_what_to_do(text: str, reading: Reading | None, verdict: str,
                                                          reason: str, words: str, name: str | None) -> None:
    shown = view(text, reading)
    assert (shown.verdict, shown.reason) == (verdict, reason) and words in shown.reason_en
    assert shown.reason_zh and shown.title_zh and shown.title_en == verdict.upper()
    assert shown.name == name
    assert shown.temperature == (None if reading is None else f"{reading.celsius:.1f} °C")


def test_a_pass_refused_for_a_dead_log_is_shown_as_a_deny_saying_so(tmp_path: Path) -> None:
    settings = LogConfig(tmp_path / "audit.db", on_failure="deny")
    recorder = Recorder(AuditLog(settings.path), settings, None)
    recorder.close()  # the log can no longer be written
    verdict = decide(code(), World().store(), Policy(require_temperature=True), WARM, NOW)
    assert verdict.verdict == "pass"
    shown = verdict_view(recorder.record(verdict, NOW), at=NOW, hold=3.0)  # the recorder's decision, shown as is
    assert (shown.verdict, shown.reason, shown.icon) == ("deny", "log_unavailable", "cross")
    assert "logging is down" in shown.reason_en
    assert (shown.details["verdict"], shown.details["reason"]) == ("deny", "log_unavailable")
    assert any(w.startswith("audit log not written") for w in shown.warnings)


@pytest.mark.parametrize("devices, keys_levels", [
    (DeviceStates("ok", None, "ok", 36.6), {"camera": "ok", "thermometer": "ok"}),
    (DeviceStates("lost", "ok", "disconnected"), {"camera": "alarm", "scanner": "ok", "thermometer": "alarm"}),
    (DeviceStates(None, "disconnected", "no reading"), {"scanner": "alarm", "thermometer": "warn"}),
    (DeviceStates(None, None, None), {}),
])
def test_the_status_bar_shows_each_device_present_and_its_level(devices: DeviceStates,
                                                                keys_levels: dict[str, str]) -> None:
    bar = status_view(devices, [], SyncSummary(), None, NOW)
    assert {i.key: i.level for i in bar.items if i.key in ("camera", "scanner", "thermometer")} == keys_levels
    assert bar.item("log") is not None and bar.item("sync") is None and bar.item("trust").level == "ok"  # type: ignore[union-attr]


def test_the_status_bar_warns_of_old_trust_the_clock_unsynced_events_and_a_dead_log() -> None:
    found = alerts(NOW, NOW - 100 * 3600, -600.0)
    bar = status_view(DeviceStates(thermometer="ok", celsius=36.61), found,
                      SyncSummary(True, 42, NOW - 7200, "cannot reach"), "disk full", NOW)
    levels = {i.key: i.level for i in bar.items}
    assert levels == {"thermometer": "ok", "trust": "alarm", "clock": "warn", "sync": "warn", "log": "alarm"}
    assert "42 unsynced" in bar.item("sync").en and "2 h ago" in bar.item("sync").en  # type: ignore[union-attr]
    never = status_view(DeviceStates(), [], SyncSummary(True, 2, None, "cannot reach"), None, NOW).item("sync")
    assert never is not None and (never.en, never.zh, never.level) == ("2 unsynced · last sync never",
                                                                        "待上传 2 · 上次同步 从未", "warn")
    assert "36.6°C" in bar.item("thermometer").en and bar.worst == "alarm"  # type: ignore[union-attr]


@pytest.mark.parametrize("table, message", [
    ({"mode": "train"}, "door"), ({"verdict_seconds": 0.1}, "between 0.3 and 60"), ({"language": "fr"}, "zh"),
    ({"lockout_attempts": 0}, "lockout_attempts"), ({"sound": "yes"}, "true or false"), ({"pin": "1"}, "unknown"),
])
def test_bad_kiosk_settings_are_clear_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_kiosk(table)


def test_bus_mode_defaults_to_a_shorter_verdict_and_the_signal_section_reads_escapes() -> None:
    config = parse_config('[kiosk]\nmode = "bus"\nvehicle = "Bus 37"\n'
                          '[signal]\nport = "/dev/gate"\non_pass = "GO\\r\\n"\n')
    assert config.kiosk.bus and config.kiosk.verdict_seconds == 1.5 and config.kiosk.vehicle == "Bus 37"
    assert config.signal == SignalSettings("/dev/gate", 9600, b"GO\r\n")


class Collect:
    """Keeps each verdict and, at the moment it is told, the scans committed to the log file (`log_file`),
    read through a connection of its own."""

    def __init__(self, log_file: Path | None = None) -> None:
        self.views: list[VerdictView] = []
        self.committed: list[list[tuple[str, str]]] = []
        self.log_file = log_file

    def on_verdict(self, view: VerdictView) -> None:
        self.views.append(view)
        if self.log_file is not None:
            self.committed.append(committed_scans(self.log_file))


def test_the_engine_logs_before_it_shows_fires_the_signal_on_pass_only_and_reloads_trust(
        tmp_path: Path, trust_dir: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    signal = PassSignal(SignalSettings(os.ttyname(slave), 9600, b"OPEN\r\n"))
    log = AuditLog(tmp_path / "audit.db")
    recorder = Recorder(log, LogConfig(tmp_path / "audit.db", lane="A1"), None)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder,
                                            signal=signal), clock=lambda: float(NOW))
    seen = Collect(tmp_path / "audit.db")
    guarded(lambda: checkpoint.start(seen), "start()")
    try:
        guarded(lambda: checkpoint.handle(Scan(code(), "keyboard", NOW)), "handle()")
        guarded(lambda: checkpoint.handle(Scan(code(status=RED), "keyboard", NOW)), "handle()")
        assert [v.reason for v in seen.views] == ["ok", "status_red"] and log.count() == 2
        # Each verdict was in the file, for any other reader, when the listener heard of it.
        assert seen.committed == [[("pass", "ok")], [("pass", "ok"), ("deny", "status_red")]]
        deadline = time.monotonic() + GUARD
        received = b""
        while received.count(b"OPEN\r\n") < 1 and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:  # never a read that waits for ever
                received += os.read(master, 100)
        time.sleep(0.2)
        assert received == b"OPEN\r\n" and signal.sent == 1  # the red code opened nothing
        (trust_dir / "trust.cose").write_bytes(World(revoked=("revoked", "issuer")).bundle_bytes(seq=2))
        checkpoint.trust_changed()
        assert checkpoint.handle(Scan(code(), "keyboard", NOW)).reason == "key_revoked"
    finally:
        guarded(checkpoint.stop, "stop()")
        os.close(master)
        os.close(slave)


def test_a_pass_signal_with_no_port_counts_failures_and_never_raises() -> None:
    signal = PassSignal(SignalSettings("/dev/no-such-gate", 9600, b"OPEN\r\n"))
    signal.fire()
    deadline = time.monotonic() + 5
    while signal.failed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    signal.close()
    assert signal.failed == 1 and signal.sent == 0 and "no-such-gate" in (signal.last_error or "")


def kiosk_run(config: Path, stdin: str, *extra: str) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "run", "--headless", "--stdin",
                           *extra], input=stdin, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")})
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_headless_run_takes_keyboard_wedge_codes_and_prints_a_json_line_per_verdict(
        tmp_path: Path, trust_dir: Path) -> None:
    now = int(time.time())
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\nlane = "A1"\n')
    lines = kiosk_run(config, f"{code(iat=now - 5, exp=now + 600)}\n\n{code(iat=now - 7200, exp=now - 3600)}\nhello\n")
    assert [(x["verdict"], x["reason"], x["source"]) for x in lines] == [
        ("pass", "ok", "keyboard"), ("deny", "expired", "keyboard"), ("deny", "not_health_code", "keyboard")]
    assert lines[1]["reason_en"] == "code expired: refresh it" and lines[0]["name"] == "张*明"
    log = AuditLog(tmp_path / "audit.db")
    try:
        assert [e.reason for e in log.events() if e.kind == "scan"] == ["ok", "expired", "not_health_code"]
    finally:
        log.close()


def test_bus_mode_records_the_vehicle_and_needs_no_thermometer(tmp_path: Path, trust_dir: Path) -> None:
    now = int(time.time())
    config = tmp_path / "bus.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "audit.db"\n'
                      '[kiosk]\nmode = "bus"\nvehicle = "Bus 37 / route 5"\n'
                      '[thermometer]\nprotocol = "gy906"\nport = "/dev/no-thermometer-on-a-bus"\n')
    lines = kiosk_run(config, f"{code(iat=now - 5, exp=now + 600)}\n")
    assert [(x["verdict"], "celsius" in x) for x in lines] == [("pass", False)]  # nothing measured on a bus
    log = AuditLog(tmp_path / "audit.db")
    try:
        assert {e.lane for e in log.events()} == {"Bus 37 / route 5"}
    finally:
        log.close()


def test_a_mistyped_admin_pin_hash_is_a_config_error_at_start() -> None:
    from kiosk.checkpoint.pin import hash_pin

    assert parse_kiosk({"admin_pin_hash": hash_pin("2580", iterations=1000)}).admin_pin_hash
    with pytest.raises(ConfigError, match="kiosk admin hash-pin"):
        parse_kiosk({"admin_pin_hash": "pbkdf2_sha256$600000$abc"})


def test_headless_run_with_nothing_to_read_codes_from_says_so(trust_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--trust", str(trust_dir), "--headless"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "give --camera, --serial or --stdin" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

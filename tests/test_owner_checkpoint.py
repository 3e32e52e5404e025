"""One owner for each of the checkpoint's rules (issue 13, section 2, items 2, 5 and 7).

The decision the recorder returns is final: the screen, the pass signal and `kiosk verify --log` only show
it, so a pass refused while the log is down never opens the gate. One composition root builds every part:
a trust pull by the background sync reaches the running checkpoint (no construction cycle), the bus's lane
rule holds for every command, and `with build_checkpoint(config)` closes the log on the way out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kiosk.audit.recorder import Recorder
from kiosk.audit.settings import LogConfig
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.settings import SignalSettings
from kiosk.checkpoint.signal import PassSignal
from kiosk.checkpoint.wiring import build_checkpoint
from kiosk.config import parse_config
from kiosk.device_identity import load_or_create
from kiosk.policy import Policy
from kiosk.scanner.types import Scan
from kiosk.trustdir import load_trust_dir
from tests.collector_process import CollectorProcess
from tests.factories import NOW, World, code
from tests.test_checkpoint_rules import GUARD, Looking, committed_scans, guarded

ROOT = Path(__file__).resolve().parents[1]


class Gate:
    """A turnstile's serial port: keeps every command written to it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def open(self, *_: Any, **__: Any) -> Gate:
        return self

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("on_failure", "second"),
                         [("deny", ("deny", "log_unavailable")), ("continue", ("pass", "ok"))])
def test_the_pass_signal_follows_the_final_decision_when_the_log_is_down(
        tmp_path: Path, trust_dir: Path, on_failure: str, second: tuple[str, str]) -> None:
    gate = Gate()
    signal = PassSignal(SignalSettings("/dev/gate", 9600, b"OPEN\r\n"), opener=gate.open)
    path = tmp_path / "audit.db"
    recorder = Recorder.open(LogConfig(path, on_failure=on_failure))
    parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), recorder=recorder, signal=signal)
    with Checkpoint(parts, clock=lambda: float(NOW)) as checkpoint:
        first = checkpoint.handle(Scan(code(), "keyboard", NOW))
        path.rename(tmp_path / "moved.db")  # the log's file replaced under the running kiosk by a directory
        path.mkdir()
        shown = checkpoint.handle(Scan(code(), "keyboard", NOW))
    # Leaving the block stopped the checkpoint: the signal's thread has sent everything it was given.
    assert (first.verdict, first.reason) == ("pass", "ok")
    assert (shown.verdict, shown.reason) == second
    assert (shown.details["verdict"], shown.details["reason"]) == second  # the JSON a gate controller reads
    opened = 1 + (second[0] == "pass")
    assert gate.written == [b"OPEN\r\n"] * opened, "the gate opened for a pass the kiosk refused"


def test_a_trust_pull_by_the_background_sync_reaches_the_running_checkpoint(tmp_path: Path, trust_dir: Path) -> None:
    """Sync is built before the checkpoint and the checkpoint after it: the news of new trust files still
    gets from one to the other (the composition root gives both the same TrustNews)."""
    published = tmp_path / "published"
    published.mkdir()
    (published / "trust.cose").write_bytes(World(revoked=("revoked", "issuer")).bundle_bytes(seq=3))
    collector = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path, trust_files=published)
    try:
        identity, _ = load_or_create(tmp_path / "device.key")
        store = collector.store()
        try:
            store.enroll(identity.public, "gate 2", time.time())
        finally:
            store.close()
        config = parse_config(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{tmp_path / "audit.db"}"\n'
                              f'[sync]\nurl = "{collector.url}"\ndevice_key = "{tmp_path / "device.key"}"\n'
                              'timeout = 5\n')
        looking = Looking(tmp_path / "audit.db")
        with build_checkpoint(config) as checkpoint:
            guarded(lambda: checkpoint.start(looking), "start()")
            deadline = time.monotonic() + GUARD
            reasons = []
            while not reasons or reasons[-1] != "key_revoked":  # the issuer's key, revoked by the new bundle
                assert time.monotonic() < deadline, f"the new trust files never reached the checkpoint: {reasons}"
                now = int(time.time())
                checkpoint.submit(code(iat=now - 5, exp=now + 600), "keyboard")
                reasons.append(looking.next()[0].reason)
                time.sleep(0.1)
        assert set(reasons) <= {"ok", "key_revoked"} and checkpoint.trust.bundle.seq == 3
    finally:
        collector.stop()


def test_with_build_checkpoint_closes_the_log_on_the_way_out_and_stop_is_once(tmp_path: Path,
                                                                              trust_dir: Path) -> None:
    path = tmp_path / "audit.db"
    config = parse_config(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{path}"\n')
    looking = Looking(path)
    now = int(time.time())
    with build_checkpoint(config) as checkpoint:
        guarded(lambda: checkpoint.start(looking), "start()")
        checkpoint.submit(code(iat=now - 5, exp=now + 600), "keyboard")
        assert looking.next()[0].reason == "ok"
        assert Path(f"{path}-wal").exists()  # open: SQLite's write-ahead log is beside it
    assert not Path(f"{path}-wal").exists()  # the last connection closed: the WAL folded into the file
    guarded(checkpoint.stop, "a second stop()")  # a command that stopped it already, inside a `with`: nothing
    assert committed_scans(path) == [("pass", "ok")]


def kiosk(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=GUARD, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")})


def lanes(path: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [lane for (lane,) in db.execute("SELECT lane FROM events WHERE kind = 'scan' ORDER BY rowid")]
    finally:
        db.close()


def test_on_a_bus_every_command_records_the_vehicle_as_the_lane(tmp_path: Path, trust_dir: Path) -> None:
    """One recorder factory: `kiosk run` and `kiosk verify --log` take the log's settings from the same place."""
    config = tmp_path / "bus.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[kiosk]\nmode = "bus"\nvehicle = "37路 Bus 37"\n'
                      '[log]\npath = "audit.db"\nlane = "front door"\n', encoding="utf-8")
    now = int(time.time())
    fresh = code(iat=now - 5, exp=now + 600)
    ran = kiosk("--config", str(config), "run", "--headless", "--stdin", stdin=f"{fresh}\n")
    assert ran.returncode == 0, ran.stderr
    assert [json.loads(line)["reason"] for line in ran.stdout.splitlines()] == ["ok"]
    verified = kiosk("--config", str(config), "verify", "--log", str(tmp_path / "verify.db"), fresh)
    assert verified.returncode == 0, verified.stderr
    assert lanes(tmp_path / "audit.db") == lanes(tmp_path / "verify.db") == ["37路 Bus 37"]

"""One sync service (kiosk.sync.service): `kiosk sync`, the background loop and "sync now" run the same pass.

A pass uploads, then pulls the trust files. When it fails, its error is in the sync state (`kiosk sync
--status`), the events it sent before failing count as sent, and nothing is raised. Everything here talks to
a real collector process; the trust pull is made to fail by publishing a trust.cose the collector cannot
read (a folder: it answers 503), after the events have gone through.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.audit.store import AuditLog
from kiosk.errors import LogWriteError
from kiosk.sync.outbox import Outbox
from kiosk.sync.service import SyncOutcome, sync_once
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport
from kiosk.sync.wiring import build_sync
from tests.chaos_proxy import ChaosProxy
from tests.collector_process import CollectorProcess, Kiosk, enrolled_kiosk, self_signed_certificate

EVENTS = 30
BATCH = 10
UNREADABLE = "the collector answered 503 for trust.cose"  # what the pull says of the folder published as a file


def kiosk_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector whose published trust.cose cannot be read: every trust pull fails after the upload."""
    published = tmp_path / "published"
    (published / "trust.cose").mkdir(parents=True)
    process = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path, trust_files=published)
    yield process
    process.stop()


@pytest.fixture
def kiosk(tmp_path: Path, collector: CollectorProcess) -> Kiosk:
    return enrolled_kiosk(collector, tmp_path / "k", EVENTS)


def at_collector(collector: CollectorProcess) -> int:
    store = collector.store()
    try:
        return store.count()
    finally:
        store.close()


def sync_state(kiosk: Kiosk) -> tuple[str | None, int, int]:
    """(last_error, uploaded, pending) as the log keeps them, read through connections of its own."""
    log = AuditLog(kiosk.log_path)
    outbox = Outbox(log)
    try:
        state = outbox.state()
        return state.last_error, state.uploaded, outbox.pending()
    finally:
        outbox.close()
        log.close()


def settings(url: str, kiosk: Kiosk, **more: float) -> SyncConfig:
    return SyncConfig(url, device_key=kiosk.identity.path, batch=BATCH, timeout=5.0, **more)  # type: ignore[arg-type]


def test_a_failed_trust_pull_keeps_the_events_it_sent_as_sent_and_its_error_in_the_sync_state(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk), log, trust_dir) as parts:
            outcome = sync_once(parts)  # returns: a failed pass is an outcome, not an exception
    finally:
        log.close()
    assert outcome.error is not None and UNREADABLE in outcome.error and not outcome.ok
    assert (outcome.sent, outcome.stored, outcome.duplicates, outcome.batches, outcome.pending) == \
        (EVENTS, EVENTS, 0, EVENTS // BATCH, 0)
    assert not outcome.pulled and not outcome.log_failed
    assert at_collector(collector) == EVENTS
    assert sync_state(kiosk) == (outcome.error, EVENTS, 0)


def test_kiosk_sync_says_so_in_one_line_and_status_shows_the_error(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
                      f'[sync]\nurl = "{collector.url}"\ndevice_key = "{kiosk.identity.path}"\nbatch = {BATCH}\n')
    done = kiosk_cli("--config", str(config), "sync", "--json")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [f"kiosk sync: {UNREADABLE}; 0 events pending, sent again next time"]
    assert json.loads(done.stdout) == {"device": kiosk.identity.id, "ok": False, "error": UNREADABLE, "pending": 0}
    shown = json.loads(kiosk_cli("--config", str(config), "sync", "--status", "--json").stdout)
    assert (shown["last_error"], shown["uploaded"], shown["pending"]) == (UNREADABLE, EVENTS, 0)
    assert at_collector(collector) == EVENTS
    # Without the trust pull the same pass goes through, and a success clears the error.
    again = kiosk_cli("--config", str(config), "sync", "--no-trust")
    assert again.returncode == 0 and "synced 0 events" in again.stdout and "; 0 pending" in again.stdout
    assert sync_state(kiosk) == (None, EVENTS, 0)


def test_an_upload_cut_mid_pass_counts_the_batches_acknowledged_before_it(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    with ChaosProxy(("127.0.0.1", collector.port)) as proxy:
        log = AuditLog(kiosk.log_path)
        try:
            with build_sync(settings(proxy.url, kiosk), log, trust_dir) as parts:
                # The collector goes away as soon as the first batch is acknowledged.
                outcome = sync_once(parts, progress=lambda sent: proxy.set("down"))
        finally:
            log.close()
    assert outcome.error is not None and "cannot reach the collector" in outcome.error
    assert (outcome.sent, outcome.stored, outcome.batches, outcome.pending) == (BATCH, BATCH, 1, EVENTS - BATCH)
    assert at_collector(collector) == BATCH
    assert sync_state(kiosk) == (outcome.error, BATCH, EVENTS - BATCH)


def test_a_log_that_fails_mid_sync_is_an_outcome_too(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk), log, trust_dir) as parts:
            parts.outbox.close()  # its connection gone: every read and write of the sync state fails
            outcome = sync_once(parts)
    finally:
        log.close()
    assert outcome == SyncOutcome(error=outcome.error, log_failed=True, pending=None)
    assert outcome.error is not None and outcome.error.startswith(f"audit log {kiosk.log_path}: cannot ")
    assert at_collector(collector) == 0


def test_the_background_loop_runs_the_same_pass(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk, interval=0.2, trust_every=0.2), log, trust_dir) as parts:
            loop = parts.start_background()
            deadline = time.monotonic() + 60  # a hang guard only
            while loop.failures == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert loop.last_error is not None and UNREADABLE in loop.last_error
        assert not loop.running  # leaving the `with` stopped it
    finally:
        log.close()
    assert at_collector(collector) == EVENTS
    assert sync_state(kiosk) == (loop.last_error, EVENTS, 0)


def test_leaving_the_sync_parts_closes_the_transport_and_the_outbox(
        kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk), log, trust_dir) as parts:
            assert parts.outbox.pending() == EVENTS
        with pytest.raises(RuntimeError, match="closed"):
            parts.transport.fetch("trust.cose", None)
        with pytest.raises(LogWriteError, match="closed database"):
            parts.outbox.pending()
        with HttpTransport(collector.url, timeout=5) as transport:
            assert transport.clock().status == 200
        with pytest.raises(RuntimeError, match="closed"):
            transport.clock()
    finally:
        log.close()


def test_doctor_reaches_a_collector_with_its_own_certificate_authority(tmp_path: Path, trust_dir: Path) -> None:
    """`kiosk doctor` opens the collector as sync does: with [sync] ca_file."""
    cert, key = self_signed_certificate(tmp_path)
    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, https=(cert, key))
    try:
        kiosk = Kiosk.make(tmp_path / "k", 4)
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
                          f'[sync]\nurl = "{collector.url}"\ndevice_key = "{kiosk.identity.path}"\n'
                          f'ca_file = "{cert}"\n')
        doctor = kiosk_cli("--config", str(config), "doctor", "--json")
    finally:
        collector.stop()
    sync = next(c for c in map(json.loads, doctor.stdout.splitlines()) if c["check"] == "sync")
    assert sync["result"] == "ok", sync
    assert sync["detail"].startswith(f"{collector.url}: answers, clock ") and "4 events pending" in sync["detail"]

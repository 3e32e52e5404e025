"""`kiosk sync`, `kiosk collector ...` and the sync-aware purge, as a site manager types them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.audit.store import AuditLog
from kiosk.sync.outbox import Outbox
from tests.collector_process import CollectorProcess, Kiosk, free_port, self_signed_certificate


def kiosk_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(f"sqlite:///{tmp_path}/collector.db", tmp_path)
    yield process
    process.stop()


def config_for(tmp_path: Path, kiosk: Kiosk, url: str | None, trust_dir: Path) -> Path:
    config = tmp_path / "kiosk.toml"
    text = f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
    if url is not None:
        text += f'[sync]\nurl = "{url}"\ndevice_key = "{kiosk.identity.path}"\nbatch = 40\n'
    config.write_text(text)
    return config


def test_enroll_sync_status_devices_and_an_export_equal_to_the_kiosks_own(
        tmp_path: Path, collector: CollectorProcess, trust_dir: Path) -> None:
    kiosk = Kiosk.make(tmp_path / "k1", 100)
    config = config_for(tmp_path, kiosk, collector.url, trust_dir)
    shown = json.loads(kiosk_cli("device", "show", "--key", str(kiosk.identity.path), "--json").stdout)
    enrolled = kiosk_cli("collector", "enroll", "--db", collector.db_url, shown["public_key"], "--name", "Gate 2")
    assert enrolled.returncode == 0 and shown["id"] in enrolled.stdout

    before = json.loads(kiosk_cli("--config", str(config), "sync", "--status", "--json").stdout)
    assert before["pending"] == 100 and before["last_success"] is None and before["configured"]

    synced = kiosk_cli("--config", str(config), "sync", "--no-trust")
    assert synced.returncode == 0, synced.stderr
    assert "synced 100 events (100 new to the collector, 0 it had) in 3 batches; 0 pending" in synced.stdout

    after = kiosk_cli("--config", str(config), "sync", "--status")
    assert "pending events   0" in after.stdout and "last success" in after.stdout and "ago" in after.stdout

    devices = [json.loads(line) for line in kiosk_cli("collector", "devices", "--db", collector.db_url,
                                                        "--json").stdout.splitlines()]
    assert [(d["id"], d["name"], d["events"], d["faults"]) for d in devices] == [(shown["id"], "Gate 2", 100, 0)]
    assert "no faults" in kiosk_cli("collector", "faults", "--db", collector.db_url).stdout

    for fmt in ("csv", "jsonl"):
        mine, theirs = tmp_path / f"kiosk.{fmt}", tmp_path / f"collector.{fmt}"
        assert kiosk_cli("--config", str(config), "log", "export", "--format", fmt, "--out", str(mine)).returncode == 0
        done = kiosk_cli("collector", "export", "--db", collector.db_url, "--format", fmt, "--out", str(theirs))
        assert done.returncode == 0 and "100 events" in done.stdout
        # The kiosk's own bytes, but for the device column: the kiosk as enrolled, with its short id.
        named = mine.read_bytes().replace(shown["id"].encode(), f"Gate 2 ({shown['id'][:8]})".encode())
        assert theirs.read_bytes() == named != mine.read_bytes()
    day = time.strftime("%Y-%m-%d")
    page = tmp_path / "day.html"
    assert kiosk_cli("collector", "report", "--db", collector.db_url, "--day", day, "--out", str(page)).returncode == 0
    assert "<svg" in page.read_text()


def test_an_export_across_kiosks_holds_each_once_in_time_order(tmp_path: Path, collector: CollectorProcess,
                                                              trust_dir: Path) -> None:
    kiosks = [Kiosk.make(tmp_path / f"k{i}", 30, start=time.time() - 100 + i * 0.25) for i in range(3)]
    store = collector.store()
    for kiosk in kiosks:
        kiosk.enroll(store)
    store.close()
    for kiosk in kiosks:
        config = config_for(tmp_path / kiosk.log_path.parent.name, kiosk, collector.url, trust_dir)
        assert kiosk_cli("--config", str(config), "sync", "--no-trust").returncode == 0
    out = tmp_path / "all.csv"
    one = tmp_path / "one.csv"
    assert kiosk_cli("collector", "export", "--db", collector.db_url, "--out", str(out), "--language", "en"
                     ).returncode == 0
    assert kiosk_cli("collector", "export", "--db", collector.db_url, "--out", str(one), "--device",
                     kiosks[1].identity.id).returncode == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 90 and len({r["id"] for r in rows}) == 90
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert {r["device"] for r in rows} == {f"gate 2 ({k.identity.id[:8]})" for k in kiosks}  # one name, three ids
    assert len(one.read_text(encoding="utf-8-sig").splitlines()) == 31


def test_sync_to_a_collector_that_is_down_keeps_everything_pending(tmp_path: Path, trust_dir: Path) -> None:
    kiosk = Kiosk.make(tmp_path / "k", 10)
    config = config_for(tmp_path, kiosk, f"http://127.0.0.1:{free_port()}", trust_dir)
    done = kiosk_cli("--config", str(config), "sync")
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach the collector" in done.stderr and "10 events pending" in done.stderr
    status = json.loads(kiosk_cli("--config", str(config), "sync", "--status", "--json").stdout)
    assert status["pending"] == 10 and "cannot reach" in status["last_error"]


def test_an_unenrolled_kiosk_is_told_what_to_do(tmp_path: Path, collector: CollectorProcess,
                                                trust_dir: Path) -> None:
    kiosk = Kiosk.make(tmp_path / "k", 5)
    done = kiosk_cli("--config", str(config_for(tmp_path, kiosk, collector.url, trust_dir)), "sync", "--no-trust")
    assert done.returncode == 1 and "not enrolled" in done.stderr and "kiosk collector enroll" in done.stderr


@pytest.mark.parametrize("args, message", [
    (("sync",), "no collector configured"),
    (("collector", "devices"), "no collector database"),
    (("collector", "enroll", "--db", "sqlite:///x.db", "abcd"), "64 hex digits"),
    (("collector", "devices", "--db", "mysql://x"), "not a database URL"),
    (("collector", "revoke", "--db", "sqlite:///{tmp}/c.db", "0011223344556677"), "no collector database"),
    (("collector", "serve", "--db", "sqlite:///{tmp}/c.db", "--tls-cert", "x.pem"), "both --tls-cert and --tls-key"),
    (("collector", "devices", "--db", "postgresql://nobody@127.0.0.1:1/none"), "127.0.0.1"),
])
def test_mistakes_are_one_line_errors(tmp_path: Path, trust_dir: Path, args: tuple[str, ...], message: str) -> None:
    kiosk = Kiosk.make(tmp_path / "k", 1)
    config = config_for(tmp_path, kiosk, None, trust_dir)
    done = kiosk_cli("--config", str(config), *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_a_purge_on_a_syncing_kiosk_keeps_what_the_collector_has_not_acknowledged(
        tmp_path: Path, trust_dir: Path) -> None:
    kiosk = Kiosk.make(tmp_path / "k", 20, start=time.time() - 90 * 86400)  # all older than the retention
    config = config_for(tmp_path, kiosk, f"http://127.0.0.1:{free_port()}", trust_dir)
    log = AuditLog(kiosk.log_path)
    outbox = Outbox(log)
    outbox.mark_synced(Outbox(log).batch(20)[11].event.id, 12)  # the first 12 were acknowledged
    outbox.close()
    log.close()
    done = kiosk_cli("--config", str(config), "log", "purge", "--days", "28")
    assert done.returncode == 0 and "12 events" in done.stdout and "not yet synced are kept" in done.stdout
    log = AuditLog(kiosk.log_path)
    try:
        assert log.count() == 8 + 1 and log.verify().ok  # the 8 unsynced and the purge event
    finally:
        log.close()


def test_a_trust_import_from_a_stick_counts_as_a_refresh(tmp_path: Path, trust_dir: Path) -> None:
    from kiosk.trustdir import refresh_record, refreshed_at
    from tests.factories import World

    newer = tmp_path / "trust-seq2.cose"
    newer.write_bytes(World().bundle_bytes(seq=2))
    os.utime(trust_dir / "trust.cose", (time.time() - 30 * 86400,) * 2)  # the fallback would say a month
    assert kiosk_cli("trust", "import", "--trust", str(trust_dir), str(newer)).returncode == 0
    assert abs((refreshed_at(trust_dir) or 0) - time.time()) < 60 and refresh_record(trust_dir).is_file()
    assert sorted(p.name for p in trust_dir.iterdir()) == ["roots", "trust.cose"]


def test_kiosk_scan_syncs_in_the_background_and_verifies_with_the_trust_files_it_pulls(
        tmp_path: Path, trust_dir: Path) -> None:
    """A checkpoint at work: each verdict is pushed to the collector within seconds, and a revocation
    the authority publishes reaches the running kiosk, which denies the next code of that key."""
    import tty

    from kiosk.trustdir import refresh_record
    from tests.factories import World, code
    from tests.test_cli_scan import wait_until_open

    published = tmp_path / "published"
    published.mkdir()
    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, trust_files=published)
    kiosk = Kiosk.make(tmp_path / "k", 0)
    store = collector.store()
    kiosk.enroll(store)
    store.close()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{trust_dir}"\n[log]\npath = "{kiosk.log_path}"\n'
                      f'[sync]\nurl = "{collector.url}"\ndevice_key = "{kiosk.identity.path}"\n'
                      "interval = 0.5\ntrust_every = 0.5\n")
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(config), "scan", "--serial",
                                os.ttyname(slave)], stdout=subprocess.PIPE, text=True)
    now = int(time.time())
    try:
        wait_until_open(process.pid, os.ttyname(slave))
        assert process.stdout is not None
        os.write(master, (code(iat=now - 10, exp=now + 3600) + "\r\n").encode())
        assert json.loads(process.stdout.readline())["reason"] == "ok"
        (published / "trust.cose").write_bytes(World(revoked=("revoked", "issuer")).bundle_bytes(seq=2))
        record = refresh_record(trust_dir)
        deadline = time.monotonic() + 30
        while json.loads(record.read_text() if record.exists() else '{"at": 0}')["at"] < now - 5 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the scan loop picks the new store up at its next scan
        os.write(master, (code(iat=now - 5, exp=now + 3600) + "\r\n").encode())
        assert json.loads(process.stdout.readline())["reason"] == "key_revoked"
        log = AuditLog(kiosk.log_path)
        logged = log.count()  # the two scans, and the scanner's state
        log.close()
        store = collector.store()
        deadline = time.monotonic() + 30
        while store.count() < logged and time.monotonic() < deadline:  # pushed by the loop: no `kiosk sync`
            time.sleep(0.1)
        assert store.count() == logged >= 2
        store.close()
    finally:
        process.send_signal(2)
        assert process.wait(timeout=30) == 0
        if process.stdout is not None:
            process.stdout.close()
        os.close(master)
        os.close(slave)
        collector.stop()


def test_doctor_shows_the_collector_its_clock_and_what_is_pending(tmp_path: Path, collector: CollectorProcess,
                                                                   trust_dir: Path) -> None:
    kiosk = Kiosk.make(tmp_path / "k", 7)
    up = kiosk_cli("--config", str(config_for(tmp_path, kiosk, collector.url, trust_dir)), "doctor", "--json")
    sync = next(c for c in map(json.loads, up.stdout.splitlines()) if c["check"] == "sync")
    assert sync["result"] == "ok" and "answers, clock" in sync["detail"] and "7 events pending" in sync["detail"]
    down = kiosk_cli("--config", str(config_for(tmp_path, kiosk, f"http://127.0.0.1:{free_port()}", trust_dir)),
                     "doctor", "--json")
    sync = next(c for c in map(json.loads, down.stdout.splitlines()) if c["check"] == "sync")
    assert sync["result"] == "warn" and "cannot reach" in sync["detail"] and "never synced" in sync["detail"]


def test_the_collector_speaks_https_and_the_kiosk_checks_its_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    from kiosk.errors import SyncUnavailable
    from kiosk.sync.transport import HttpTransport

    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, https=(cert, key))
    try:
        assert collector.url.startswith("https://")
        trusted = HttpTransport(collector.url, timeout=5, ca_file=cert)
        assert trusted.clock().status == 200
        trusted.close()
        stranger = HttpTransport(collector.url, timeout=5)  # the system's CAs do not know this certificate
        with pytest.raises(SyncUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            stranger.clock()
        stranger.close()
    finally:
        collector.stop()


def snapshot(folder: Path) -> list[tuple[str, int, int, int]]:
    """Every entry under `folder` and the folder itself: name, mode, size and modification time (ns).
    As root a mode of 0555 stops no write, so a write shows here instead: a new name or a new mtime."""
    entries = [folder, *sorted(folder.rglob("*"))]
    return [(str(p.relative_to(folder)), p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in entries]


def test_a_sync_writes_nothing_into_a_read_only_trust_dir_and_the_refresh_is_still_recorded(
        tmp_path: Path, trust_dir: Path) -> None:
    published = tmp_path / "published"
    published.mkdir()
    (published / "trust.cose").write_bytes((trust_dir / "trust.cose").read_bytes())  # what the kiosk has
    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, trust_files=published)
    kiosk = Kiosk.make(tmp_path / "k", 3)
    store = collector.store()
    kiosk.enroll(store)
    store.close()
    config = config_for(tmp_path, kiosk, collector.url, trust_dir)
    month_ago = time.time() - 30 * 86400
    os.utime(trust_dir / "trust.cose", (month_ago, month_ago))  # without a record, the age would be a month
    for folder in (trust_dir / "roots", trust_dir):
        folder.chmod(0o555)  # shipped trust files, as keys/demo in a checkout
    before = snapshot(trust_dir)
    try:
        synced = kiosk_cli("--config", str(config), "sync")
        assert synced.returncode == 0 and "synced 3 events" in synced.stdout, synced.stderr
        assert snapshot(trust_dir) == before
    finally:
        for folder in (trust_dir, trust_dir / "roots"):
            folder.chmod(0o755)
        collector.stop()
    status = json.loads(kiosk_cli("--config", str(config), "sync", "--status", "--json").stdout)
    assert abs(status["trust_refreshed"] - time.time()) < 120 and status["alerts"] == []
    doctor = kiosk_cli("--config", str(config), "doctor", "--json")
    trust = next(c for c in map(json.loads, doctor.stdout.splitlines()) if c["check"] == "trust")
    assert trust["result"] == "ok" and "refreshed 0 min ago" in trust["detail"], trust

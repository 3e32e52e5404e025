"""Sync through a faulty network to a real collector process, on SQLite and on a real PostgreSQL server.

Whatever goes wrong (collector down, slow, 500, connection cut mid-batch, a batch
delivered twice, the kiosk killed mid-sync, a replayed or forged batch, an
unenrolled kiosk, a clock an hour off), after recovery every event is in the
collector exactly once and the chain the collector holds ends at the kiosk's head.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from kiosk.audit.store import AuditLog
from kiosk.errors import SyncError, SyncRefused, SyncUnavailable
from kiosk.sync.health import alerts
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import DEVICE_HEADER, SIGNATURE_HEADER, encode_batch, sign
from kiosk.sync.service import SyncParts, sync_once
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport
from kiosk.sync.uploader import Uploader
from tests.chaos_proxy import ChaosProxy
from tests.collector_process import CollectorProcess, Kiosk, enrolled_kiosk

EVENTS = 600
BATCH = 100


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def collector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    folder = tmp_path_factory.mktemp("collector")
    url = f"sqlite:///{folder}/collector.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    process = CollectorProcess(url, folder)
    yield process
    process.stop()


@pytest.fixture
def proxy(collector: CollectorProcess) -> Iterator[ChaosProxy]:
    with ChaosProxy(("127.0.0.1", collector.port)) as chaos:
        yield chaos


@pytest.fixture
def kiosk(tmp_path: Path, collector: CollectorProcess) -> Kiosk:
    return enrolled_kiosk(collector, tmp_path / "kiosk", EVENTS)


class Side:
    """The kiosk's sync parts, talking to `url`."""

    def __init__(self, kiosk: Kiosk, url: str, *, timeout: float = 2.0, clock: object = time.time) -> None:
        self.log = AuditLog(kiosk.log_path)
        self.outbox = Outbox(self.log)
        self.transport = HttpTransport(url, timeout=timeout)
        self.uploader = Uploader(self.outbox, self.transport, kiosk.identity, batch=BATCH,
                                 clock=clock)  # type: ignore[arg-type]
        self.parts = SyncParts(self.outbox, self.transport, kiosk.identity, self.uploader, None,
                               SyncConfig(url, timeout=timeout))

    def close(self) -> None:
        self.transport.close()
        self.outbox.close()
        self.log.close()


@pytest.fixture
def side(kiosk: Kiosk, proxy: ChaosProxy) -> Iterator[Side]:
    made = Side(kiosk, proxy.url)
    yield made
    made.close()


def assert_exactly_once(kiosk: Kiosk, collector: CollectorProcess, faults: int = 0) -> None:
    last_id, head_hash, count = kiosk.head()
    store = collector.store()
    try:
        device = store.device(kiosk.identity.id)
        ids = [row[0] for rows in store.rows(device=kiosk.identity.id) for row in rows]
    finally:
        store.close()
    assert device is not None and device.events == count == len(ids) == len(set(ids))
    assert device.head is not None and device.head.event_id == last_id and device.head.hash == head_hash
    assert device.faults == faults


def sync_until_done(side: Side, attempts: int = 10) -> None:
    for _ in range(attempts):
        try:
            side.uploader.run_once()
            return
        except SyncError:
            time.sleep(0.05)
    raise AssertionError("sync did not recover")


def test_a_clean_sync_delivers_everything_once(side: Side, kiosk: Kiosk, collector: CollectorProcess) -> None:
    result = side.uploader.run_once()
    assert (result.sent, result.stored, result.duplicates, result.batches, result.pending) == \
        (EVENTS, EVENTS, 0, EVENTS // BATCH, 0)
    assert side.outbox.state().last_success is not None and side.outbox.state().last_error is None
    assert_exactly_once(kiosk, collector)
    again = side.uploader.run_once()
    assert again.sent == 0 and again.pending == 0


@pytest.mark.parametrize("mode, params", [
    ("down", {}), ("reset", {}), ("http500", {"times": 2}), ("cut_request", {"times": 1}),
    ("cut_response", {"times": 1}), ("slow", {"delay": 3.0, "times": 1}), ("blackhole", {"times": 1}),
])
def test_after_a_network_fault_everything_arrives_exactly_once(
        mode: str, params: dict[str, float], side: Side, kiosk: Kiosk, collector: CollectorProcess,
        proxy: ChaosProxy) -> None:
    side.uploader.run_once()  # a first part goes through: the fault hits mid-log
    kiosk.add(250)
    proxy.set(mode, **params)  # type: ignore[arg-type]
    failed = sync_once(side.parts)  # the sync service: it records the failure, never raises it
    assert failed.error and failed.pending is not None and failed.pending > 0
    assert side.outbox.pending() == failed.pending and side.outbox.state().last_error == failed.error
    proxy.set("pass")
    sync_until_done(side)
    assert side.outbox.pending() == 0
    assert_exactly_once(kiosk, collector)


def test_an_answer_lost_after_storing_is_resent_and_counted_as_duplicates(
        side: Side, kiosk: Kiosk, collector: CollectorProcess, proxy: ChaosProxy) -> None:
    proxy.set("cut_response", times=1)
    with pytest.raises(SyncUnavailable):
        side.uploader.run_once()
    result = side.uploader.run_once()
    assert result.duplicates == BATCH and result.stored == EVENTS - BATCH
    assert_exactly_once(kiosk, collector)


def test_a_batch_delivered_twice_is_stored_once_and_the_copy_refused_as_replayed(
        side: Side, kiosk: Kiosk, collector: CollectorProcess, proxy: ChaosProxy) -> None:
    proxy.set("duplicate", times=1)
    side.uploader.run_once()
    copy = proxy.duplicate_responses[0]
    assert copy.status == 409 and b"replayed" in copy.body
    assert_exactly_once(kiosk, collector)


def test_a_replayed_or_forged_batch_stores_nothing(kiosk: Kiosk, collector: CollectorProcess) -> None:
    log = AuditLog(kiosk.log_path)
    events = Outbox(log).batch(5)
    log.close()
    body = encode_batch(kiosk.identity.id, events, time.time(), "f" * 32)
    headers = {DEVICE_HEADER: kiosk.identity.id, SIGNATURE_HEADER: sign(body, kiosk.key),
               "Content-Type": "application/json"}
    first = httpx.post(f"{collector.url}/v1/batches", content=body, headers=headers)
    replay = httpx.post(f"{collector.url}/v1/batches", content=body, headers=headers)
    assert first.status_code == 200 and first.json()["stored"] == 5
    assert replay.status_code == 409 and replay.json()["error"] == "replayed"
    forged = encode_batch(kiosk.identity.id, events, time.time(), "e" * 32).replace(b'"deny"', b'"pass"')
    for body_, signature, code in [
        (forged, headers[SIGNATURE_HEADER], "bad_signature"),  # altered in transit
        (forged, sign(forged, SigningKey.generate()), "bad_signature"),  # signed by someone else's key
        (body, "", "bad_signature"),
    ]:
        answer = httpx.post(f"{collector.url}/v1/batches", content=body_,
                            headers={**headers, SIGNATURE_HEADER: signature})
        assert (answer.status_code, answer.json()["error"]) == (401, code)
    old = encode_batch(kiosk.identity.id, events, time.time() - 3600, "d" * 32)
    stale = httpx.post(f"{collector.url}/v1/batches", content=old,
                       headers={**headers, SIGNATURE_HEADER: sign(old, kiosk.key)})
    assert (stale.status_code, stale.json()["error"]) == (401, "stale")
    store = collector.store()
    try:
        assert store.device(kiosk.identity.id).events == 5  # type: ignore[union-attr]
    finally:
        store.close()


def test_an_unenrolled_kiosk_is_told_how_to_enroll_and_syncs_once_enrolled(
        tmp_path: Path, collector: CollectorProcess) -> None:
    stranger = Kiosk.make(tmp_path / "stranger", 150)
    side = Side(stranger, collector.url)
    try:
        with pytest.raises(SyncRefused) as refused:
            side.uploader.run_once()
        assert refused.value.code == "unknown_device" and "kiosk collector enroll" in str(refused.value)
        assert side.outbox.pending() == 150
        store = collector.store()
        try:
            stranger.enroll(store)
            assert store.revoke(stranger.identity.id, time.time()).revoked_at is not None
        finally:
            store.close()
        with pytest.raises(SyncRefused) as revoked:
            side.uploader.run_once()
        assert revoked.value.code == "revoked"
        store = collector.store()
        try:
            stranger.enroll(store)  # enrolled again: the revocation is lifted
        finally:
            store.close()
        side.uploader.run_once()
    finally:
        side.close()
    assert_exactly_once(stranger, collector)


def test_a_kiosk_clock_an_hour_off_syncs_and_warns(kiosk: Kiosk, collector: CollectorProcess,
                                                  proxy: ChaosProxy) -> None:
    side = Side(kiosk, proxy.url, clock=lambda: time.time() + 3600)
    try:
        result = side.uploader.run_once()
        offset = side.outbox.state().clock_offset
    finally:
        side.close()
    assert result.sent == EVENTS and offset is not None and abs(offset + 3600) < 30
    assert [a.code for a in alerts(time.time(), time.time(), offset)] == ["clock_off"]
    # The first batch was refused as stale and re-signed with the collector's time; no other request was needed.
    assert proxy.requests == EVENTS // BATCH + 1
    assert_exactly_once(kiosk, collector)


def test_a_kiosk_killed_mid_sync_resumes_and_nothing_is_lost_or_doubled(
        tmp_path: Path, kiosk: Kiosk, collector: CollectorProcess, proxy: ChaosProxy) -> None:
    kiosk.add(4000)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[trust]\ndir = "{tmp_path / "trust"}"\n[log]\npath = "{kiosk.log_path}"\n'
                      f'[sync]\nurl = "{proxy.url}"\ndevice_key = "{kiosk.identity.path}"\nbatch = 50\n'
                      "trust_pull = false\n")
    proxy.set("slow", delay=0.02)  # about 25 batches a second: time to be killed mid-way
    command = [sys.executable, "-m", "kiosk", "--config", str(config), "sync"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while proxy.requests < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    log = AuditLog(kiosk.log_path)
    outbox = Outbox(log)
    left = outbox.pending()
    outbox.close()
    assert log.verify().ok
    log.close()
    assert 0 < left < EVENTS + 4000, "killed before the first or after the last batch: nothing was tested"
    proxy.set("pass")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "0 pending" in finished.stdout
    assert_exactly_once(kiosk, collector)


def test_a_collector_stopped_and_restarted_on_its_database_picks_up_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/restarted.db"
    first = CollectorProcess(url, tmp_path)
    kiosk = Kiosk.make(tmp_path / "kiosk", 300)
    store = first.store()
    kiosk.enroll(store)
    store.close()
    side = Side(kiosk, first.url)
    try:
        side.uploader.run_once()
        first.stop()
        kiosk.add(200)
        with pytest.raises(SyncUnavailable):
            side.uploader.run_once()
        second = CollectorProcess(url, tmp_path, port=first.port)  # the address the kiosk knows
        try:
            side.uploader.run_once()
            assert_exactly_once(kiosk, second)
        finally:
            second.stop()
    finally:
        side.close()

"""The status a kiosk sends with its batches: the wire format's bounds, and the real sync path to a real collector.

A batch may carry {"status": {backlog, trust_issued_at, trust_refreshed, clock_offset, devices}}: optional (an
older kiosk sends none), bounded, checked by open_batch (malformed: the whole batch refused), and kept by the
collector per device, the newest, with the time it came. The kiosk's uploader puts it on every batch, and a
quiet kiosk's background loop sends it alone now and then (a heartbeat).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from kiosk.audit.store import AuditLog
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.collector.readmodel import KioskState
from kiosk.errors import BatchRefused
from kiosk.policy import Policy
from kiosk.sync.protocol import DEVICE_HEADER, SIGNATURE_HEADER, KioskStatus, encode_batch, open_batch, sign
from kiosk.sync.service import sync_once
from kiosk.sync.settings import SyncConfig
from kiosk.sync.wiring import build_sync
from kiosk.thermometer.poller import ThermometerPoller
from kiosk.thermometer.protocols import make_driver
from kiosk.trustdir import load_trust_dir
from tests.collector_process import CollectorProcess, Kiosk, enrolled_kiosk
from tests.factories import NOW
from tests.test_sync_protocol import DEVICE, KEY, keys, logged

EVENTS = 250
BATCH = 100


def opened(status: object, *, raw: bool = False) -> KioskStatus | None:
    """The status of a batch carrying `status` (a KioskStatus, or with `raw` any JSON value), once opened."""
    if raw:
        data = json.loads(encode_batch(DEVICE, logged(1), NOW, "n" * 32))
        data["status"] = status
        body = json.dumps(data).encode()
    else:
        body = encode_batch(DEVICE, logged(1), NOW, "n" * 32, status)  # type: ignore[arg-type]
    return open_batch(body, sign(body, KEY), DEVICE, keys, NOW).status


def test_a_status_goes_with_a_batch_and_comes_out_as_it_went_in() -> None:
    status = KioskStatus(1234, 1_779_000_000.0, 1_779_900_000.25, -3.5,
                         {"camera": "lost", "scanner": "ok", "thermometer": "no reading"})
    assert opened(status) == status
    assert opened(KioskStatus()) == KioskStatus(0, None, None, None, {})
    assert opened(KioskStatus(raw_subjects=True)) == KioskStatus(0, None, None, None, {}, True)


def test_a_kiosk_that_says_nothing_of_raw_ids_stores_references() -> None:
    # An older kiosk sends no "raw_subjects": absent (or null) is false, as the default log is.
    for status in ({"backlog": 1}, {"backlog": 1, "raw_subjects": None}):
        found = opened(status, raw=True)
        assert found is not None and found.raw_subjects is False
    found = opened({"raw_subjects": True}, raw=True)
    assert found is not None and found.raw_subjects is True


def test_a_batch_without_a_status_still_opens() -> None:
    assert opened(None) is None
    assert opened(None, raw=True) is None  # "status": null
    assert "status" not in json.loads(encode_batch(DEVICE, logged(1), NOW, "n" * 32))  # nothing new for an old one


def test_what_the_collector_does_not_know_is_ignored() -> None:
    status = {"backlog": 3, "battery": {"level": 80}, "devices": {"camera": "ok", "printer": "jammed", "fan": 7}}
    assert opened(status, raw=True) == KioskStatus(3, devices={"camera": "ok"})


@pytest.mark.parametrize("status", [
    [], "ok", 7, {"backlog": -1}, {"backlog": 1.5}, {"backlog": True}, {"backlog": 10**12 + 1}, {"backlog": "3"},
    {"clock_offset": 1e10}, {"clock_offset": "1"}, {"trust_issued_at": -1}, {"trust_issued_at": 1e12},
    {"trust_refreshed": [1]}, {"devices": []}, {"devices": {"camera": "OK"}}, {"devices": {"camera": "x" * 33}},
    {"devices": {"camera": 1}}, {"devices": {"thermometer": "ok\n"}}, {"devices": {"scanner": ""}},
    {"devices": {f"k{i}": "ok" for i in range(33)}}, {f"k{i}": 1 for i in range(33)},
    {"raw_subjects": 1}, {"raw_subjects": "true"}, {"raw_subjects": []},
])
def test_a_malformed_status_refuses_the_batch(status: object) -> None:
    with pytest.raises(BatchRefused) as refused:
        opened(status, raw=True)
    assert refused.value.code == "malformed" and str(refused.value).startswith("status: ")
    assert "\n" not in str(refused.value)


# --- Through the real sync path ------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def collector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    folder = tmp_path_factory.mktemp("collector")
    url = f"sqlite:///{folder}/collector.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    process = CollectorProcess(url, folder)
    yield process
    process.stop()


@pytest.fixture
def kiosk(tmp_path: Path, collector: CollectorProcess) -> Kiosk:
    return enrolled_kiosk(collector, tmp_path / "kiosk", EVENTS)


def state_at(collector: CollectorProcess, kiosk: Kiosk) -> KioskState:
    with collector.store() as store:
        return next(k for k in store.kiosks() if k.device.id == kiosk.identity.id)


def settings(url: str, kiosk: Kiosk, **more: object) -> SyncConfig:
    return SyncConfig(url, device_key=kiosk.identity.path, batch=BATCH, timeout=5.0, trust_pull=False,
                      **more)  # type: ignore[arg-type]


def test_each_batch_tells_the_collector_the_backlog_trust_clock_and_devices(
        kiosk: Kiosk, collector: CollectorProcess, trust_dir: Path) -> None:
    devices = SimpleNamespace(camera="ok", scanner=None, thermometer="disconnected", celsius=None)
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk), log, trust_dir) as parts:
            parts.report_devices(lambda: devices)
            stop = threading.Event()  # set once the first batch was acknowledged: the pass ends there
            stop_after_one = sync_once(parts, progress=lambda sent: stop.set(), stop=stop)
            assert stop_after_one.batches == 1
            first = state_at(collector, kiosk)
            devices.camera = "lost"
            sync_once(parts)
    finally:
        log.close()
    assert first.backlog == EVENTS - BATCH
    last = state_at(collector, kiosk)
    assert last.backlog == 0
    assert last.devices == {"camera": "lost", "thermometer": "disconnected"}
    assert last.trust_issued_at == NOW - 86400  # the bundle tests.factories signs for the trust_dir fixture
    assert last.trust_refreshed == pytest.approx((trust_dir / "trust.cose").stat().st_mtime)
    assert last.clock_offset is not None and abs(last.clock_offset) < 5  # one machine, one clock
    assert last.status_at == last.device.last_seen and last.device.events == EVENTS


def test_a_quiet_kiosk_s_background_loop_still_tells_how_it_is(
        tmp_path: Path, collector: CollectorProcess, trust_dir: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "quiet", 0)
    devices = SimpleNamespace(camera="ok", scanner=None, thermometer=None)
    log = AuditLog(kiosk.log_path)
    try:
        with build_sync(settings(collector.url, kiosk, interval=0.2), log, trust_dir) as parts:
            parts.report_devices(lambda: devices)
            parts.start_background()
            first = _wait_for(collector, kiosk, lambda s: s.devices == {"camera": "ok"})
            devices.camera = "lost"  # its state changed: told at the next pass, not at the next heartbeat
            then = _wait_for(collector, kiosk, lambda s: s.devices == {"camera": "lost"})
    finally:
        log.close()
    assert first.status_at is not None and then.status_at is not None and then.status_at > first.status_at
    assert then.backlog == 0 and then.device.events == 0


def _wait_for(collector: CollectorProcess, kiosk: Kiosk, ready: object) -> KioskState:
    deadline = time.monotonic() + 60  # a hang guard only
    while time.monotonic() < deadline:
        state = state_at(collector, kiosk)
        if ready(state):  # type: ignore[operator]
            return state
        time.sleep(0.1)
    raise AssertionError(f"the collector never heard: {state_at(collector, kiosk)}")


def test_a_batch_with_a_malformed_status_is_refused_by_the_collector_and_nothing_kept(
        tmp_path: Path, collector: CollectorProcess) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "bad", 3)
    log = AuditLog(kiosk.log_path)
    try:
        from kiosk.sync.outbox import Outbox

        events = Outbox(log).batch(10)
    finally:
        log.close()
    data = json.loads(encode_batch(kiosk.identity.id, events, time.time(), "f" * 32))
    for status in ({"backlog": -5}, None):
        data["status"] = status
        body = json.dumps(data, ensure_ascii=False).encode()
        answer = httpx.post(f"{collector.url}/v1/batches", content=body, timeout=10,
                            headers={DEVICE_HEADER: kiosk.identity.id, SIGNATURE_HEADER: sign(body, kiosk.key)})
        if status is not None:
            assert (answer.status_code, answer.json()["error"]) == (400, "malformed")
            assert state_at(collector, kiosk).device.events == 0
        else:  # the same batch from a kiosk that says nothing of itself
            assert answer.status_code == 200 and state_at(collector, kiosk).status_at is None


def _no_adapter(url: str, **_: Any) -> Any:
    raise OSError(f"could not open port {url}")


def test_a_running_checkpoint_tells_the_collector_how_its_devices_are(
        tmp_path: Path, collector: CollectorProcess, trust_dir: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "gate", 0)
    thermometer = ThermometerPoller(str(tmp_path / "ttyUSB9"), make_driver("gy906", {}), reconnect_every=0.2,
                                    opener=_no_adapter)  # unplugged: it says "disconnected"
    log = AuditLog(kiosk.log_path)
    try:
        sync = build_sync(settings(collector.url, kiosk, interval=0.2), log, trust_dir)
        parts = CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy(), thermometer=thermometer, sync=sync)
        with Checkpoint(parts) as checkpoint:
            checkpoint.start(None)
            told = _wait_for(collector, kiosk, lambda s: s.devices == {"thermometer": "disconnected"})
    finally:
        log.close()
    assert told.trust_issued_at == NOW - 86400

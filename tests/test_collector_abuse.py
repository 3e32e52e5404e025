"""The collector under abuse, with no credentials (issue 11): a real `kiosk collector serve` attacked on 127.0.0.1.

Deadlines are short here (headers 1.5 s, body 2 s, idle 1 s) to prove the
mechanism quickly; the unit keeps the production ones (10 s, 30 s, 5 s). Every
attack is bounded in connections and time and stops by itself.
"""

from __future__ import annotations

import resource
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.cli.main import build_parser
from kiosk.errors import SyncError, SyncRefused
from kiosk.sync.outbox import Outbox
from kiosk.sync.transport import HttpTransport
from kiosk.sync.uploader import PassResult, Uploader
from tests.collector_process import (
    CollectorProcess,
    Kiosk,
    Slowloris,
    answer_of,
    closed_after,
    connect,
    enrolled_kiosk,
    head,
    in_parallel,
    peak_growth,
    self_signed_certificate,
    stall,
    warm_up,
)
from tests.test_deploy import kiosk_argv, unit

HEADERS, BODY, IDLE = 1.5, 2.0, 1.0
SHORT = ("--header-timeout", str(HEADERS), "--body-timeout", str(BODY), "--keepalive-timeout", str(IDLE))
MIB = 1024 * 1024
LATE = 2.5  # seconds a deadline may fire late on a busy two-core machine


def on_time(seconds: object, deadline: float) -> bool:
    """Closed by the deadline: not before it, and not never (None: still open when the test gave up)."""
    return isinstance(seconds, float) and deadline - 0.1 <= seconds <= deadline + LATE


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    folder = tmp_path_factory.mktemp("abused")
    process = CollectorProcess(f"sqlite:///{folder}/collector.db", folder, extra=SHORT)
    yield process
    process.stop()


def sync(kiosk: Kiosk, transport: HttpTransport) -> PassResult:
    """One pass of the kiosk's own uploader over `transport` (closed after)."""
    log = AuditLog(kiosk.log_path)
    outbox = Outbox(log)
    try:
        return Uploader(outbox, transport, kiosk.identity).run_once()
    finally:
        transport.close()
        outbox.close()
        log.close()


def test_the_unit_serves_with_the_issues_deadlines() -> None:
    args = build_parser().parse_args(kiosk_argv(unit("kiosk-collector.service")["Service"]["ExecStart"]))
    assert (args.header_timeout, args.body_timeout, args.keepalive_timeout) == (10, 30, 5)


def test_headers_not_complete_in_time_close_the_connection_however_they_trickle(
        collector: CollectorProcess) -> None:
    half = b"POST /v1/batches HTTP/1.1\r\nHost: x\r\n"

    def closing(first: bytes, trickle: bytes = b"") -> float | None:
        with connect(collector.port) as sock:
            sock.sendall(first)
            return closed_after(sock, 10, trickle=trickle)

    # Nothing sent; half a request; a byte every 0.3 s (an idle timer would never fire).
    silent, half_sent, trickled = (lambda: closing(b"")), (lambda: closing(half)), \
        (lambda: closing(b"", half + b"X-Pad: " + b"a" * 60))
    times = in_parallel([silent, half_sent, trickled])
    assert all(on_time(seconds, HEADERS) for seconds in times), times


def test_an_idle_keep_alive_connection_is_closed_and_a_next_request_gets_its_own_deadline(
        collector: CollectorProcess) -> None:
    with connect(collector.port) as idle, connect(collector.port) as slow_second:
        for sock in (idle, slow_second):
            sock.sendall(head(collector.port, {}, "GET", "/v1/time"))
            assert answer_of(sock)[0] == 200
        slow_second.sendall(b"GET /v1/ti")  # a second request begun at once, never finished
        seconds, second = in_parallel([lambda: closed_after(idle, 10), lambda: closed_after(slow_second, 10)])
    assert on_time(seconds, IDLE) and on_time(second, HEADERS), (seconds, second)


def test_a_body_not_complete_in_time_closes_the_connection(collector: CollectorProcess, tmp_path: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "kiosk")
    with connect(collector.port) as sock:  # an enrolled device: the collector reads its body
        sock.sendall(head(collector.port, {"X-Kiosk-Device": kiosk.identity.id, "X-Kiosk-Signature": "c2ln",
                                           "Content-Length": "100000"}) + b"{" * 1000)
        seconds = closed_after(sock, 10, trickle=b"{" * 100)
    assert on_time(seconds, BODY), seconds


def test_strangers_and_oversized_bodies_are_refused_before_the_body_is_read(
        collector: CollectorProcess, tmp_path: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "kiosk")
    revoked = enrolled_kiosk(collector, tmp_path / "revoked", revoked=True)
    signature = {"X-Kiosk-Signature": "c2ln"}
    cases = [
        ({"Content-Length": "1000000"}, 401, "unauthenticated"),
        ({"X-Kiosk-Device": secrets.token_hex(8), **signature, "Content-Length": "1000000"}, 403, "unknown_device"),
        ({"X-Kiosk-Device": revoked.identity.id, **signature, "Content-Length": "1000000"}, 403, "revoked"),
        ({"X-Kiosk-Device": kiosk.identity.id, "Content-Length": "1000000"}, 401, "bad_signature"),
        ({"X-Kiosk-Device": kiosk.identity.id, **signature, "Content-Length": str(4 * MIB + 1)}, 413, "too_large"),
        ({"X-Kiosk-Device": kiosk.identity.id, **signature}, 411, "too_large"),
    ]
    for headers, status, code in cases:
        with connect(collector.port) as sock:
            sock.sendall(head(collector.port, headers))  # not a byte of the body: the answer must come anyway
            got, data = answer_of(sock)
        assert (got, data.get("error")) == (status, code), headers


def flood(port: int, headers: dict[str, str], chunked: bool) -> tuple[int, int | None]:
    """A 16 MB body after `headers`, until sent or the collector hangs up: bytes sent, and the status answered."""
    piece = b"{" * (256 * 1024)
    if chunked:
        piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with connect(port) as sock:
        sock.settimeout(15)
        try:
            sock.sendall(head(port, {**headers, **({"Transfer-Encoding": "chunked"} if chunked
                                                  else {"Content-Length": str(16 * MIB)})}))
            for _ in range(64):
                sock.sendall(piece)
                sent += 256 * 1024
        except OSError:  # the collector stopped reading and hung up
            pass
        try:
            return sent, answer_of(sock)[0]
        except (AssertionError, OSError):
            return sent, None


def test_a_chunked_body_is_cut_off_at_4_mib_while_it_is_read(collector: CollectorProcess, tmp_path: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "kiosk")
    sent, status = flood(collector.port, {"X-Kiosk-Device": kiosk.identity.id, "X-Kiosk-Signature": "c2ln"}, True)
    assert status == 413 and sent < 16 * MIB


@pytest.mark.slow
def test_eight_parallel_16_mb_bodies_from_strangers_grow_the_collector_by_64_mb_at_most(
        collector: CollectorProcess, tmp_path: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "kiosk")
    attacks = [  # no credentials; an unknown device, chunked; a known device id with a forged signature, chunked
        ({}, False), ({"X-Kiosk-Device": secrets.token_hex(8), "X-Kiosk-Signature": "c2ln"}, True),
        ({"X-Kiosk-Device": kiosk.identity.id, "X-Kiosk-Signature": "c2ln"}, True),
    ]
    for headers, _ in attacks:
        warm_up(collector.port, headers)

    def attack() -> None:
        for headers, chunked in attacks:
            in_parallel([lambda h=headers, c=chunked: flood(collector.port, h, c) for _ in range(8)])

    grown = peak_growth(collector.process.pid, attack)
    assert grown <= 64 * 10**6, f"grew by {grown / 10**6:.0f} MB"
    assert httpx.get(f"{collector.url}/v1/time", timeout=5).status_code == 200


@pytest.mark.slow
def test_stalled_bodies_under_a_known_device_id_grow_the_collector_by_64_mb_at_most(
        collector: CollectorProcess, tmp_path: Path) -> None:
    """A device id is no secret: 24 stalled 4 MiB bodies under one would be 100 MB held till the body deadline."""
    forged = {"X-Kiosk-Device": enrolled_kiosk(collector, tmp_path / "kiosk").identity.id, "X-Kiosk-Signature": "c2ln"}
    warm_up(collector.port, forged)
    answers: list[object] = []
    grown = peak_growth(collector.process.pid,
                        lambda: answers.extend(in_parallel([lambda: stall(collector.port, forged, 4 * MIB)] * 24)))
    assert grown <= 64 * 10**6, f"grew by {grown / 10**6:.0f} MB"
    assert answers.count(503) >= 24 - 64 * 10**6 // (4 * MIB), answers  # the ones beyond 64 MB were turned away


@pytest.mark.slow
@pytest.mark.parametrize("nofile", ["unit", 1024], ids=["the units LimitNOFILE", "systemds default 1024"])
def test_1500_slow_connections_keep_no_kiosk_out(nofile: str | int, tmp_path: Path) -> None:
    """Half-sent headers held beyond the header deadline while ten kiosks sync through the real uploader."""
    limit = int(unit("kiosk-collector.service")["Service"].get("LimitNOFILE", "1024")) if nofile == "unit" \
        else int(nofile)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4096:
        pytest.fail(f"the test itself needs 4,096 open files for 1,500 connections; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, nofile=limit,
                                 extra=("--header-timeout", "2"))
    try:
        kiosks = [enrolled_kiosk(collector, tmp_path / f"kiosk{i}", 30) for i in range(10)]
        attack = Slowloris(collector.port, 1500, seconds=7)
        attack.thread.start()
        while len(attack.first_wave) + attack.failed < 1500 and attack.thread.is_alive():
            time.sleep(0.05)
        synced, errors = 0, []
        for kiosk in kiosks:
            try:
                synced += sync(kiosk, HttpTransport(collector.url, timeout=5)).pending == 0
            except SyncError as err:
                errors.append(str(err))
            time.sleep(0.4)  # spread over the attack, beyond the header deadline
        attack.thread.join(30)
    finally:
        collector.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(attack.first_wave) >= 1400, f"only {len(attack.first_wave)} slow connections were held"
    assert (synced, errors) == (10, []), f"under an open-file limit of {collector.nofile}"
    assert all(0 < closed <= 2 + LATE for closed in attack.first_wave.values()), \
        f"{sum(not c for c in attack.first_wave.values())} slow connections were never closed"


def test_health_answers_liveness_and_nothing_about_the_site(collector: CollectorProcess, tmp_path: Path) -> None:
    assert sync(enrolled_kiosk(collector, tmp_path / "kiosk", 5), HttpTransport(collector.url)).stored == 5
    health = httpx.get(f"{collector.url}/v1/health", timeout=5)
    assert health.status_code == 200 and set(health.json()) == {"ok", "time"} and health.json()["ok"] is True


def test_headers_larger_than_64_kib_are_refused(collector: CollectorProcess) -> None:
    with connect(collector.port) as sock:
        sock.sendall(b"GET /v1/time HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * (100 * 1024))
        assert answer_of(sock)[0] == 431


def test_a_stalled_tls_handshake_is_closed_and_https_still_answers(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    collector = CollectorProcess(f"sqlite:///{tmp_path}/c.db", tmp_path, https=(cert, key), extra=SHORT)
    try:
        with connect(collector.port) as sock:
            sock.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
            seconds = closed_after(sock, 10)
        transport = HttpTransport(collector.url, timeout=5, ca_file=cert)
        try:
            assert transport.clock().status == 200
        finally:
            transport.close()
    finally:
        collector.stop()
    assert on_time(seconds, HEADERS), seconds


def test_the_kiosk_splits_a_batch_that_would_pass_4_mib(collector: CollectorProcess, tmp_path: Path) -> None:
    kiosk = enrolled_kiosk(collector, tmp_path / "kiosk", 3)
    log = AuditLog(kiosk.log_path)
    for i in range(6):  # registrations by hand with long fields: 6 events, 9 MB, in one batch of 500 by count
        log.append(Event("", time.time(), "manual", device=kiosk.identity.id, details={"note": f"{i}" * 1_500_000}))
    log.close()
    transport, sizes = HttpTransport(collector.url), []
    post = transport.post_batch  # every body sent is measured
    transport.post_batch = lambda body, hdrs: (sizes.append(len(body)), post(body, hdrs))[1]  # type: ignore[method-assign]
    result = sync(kiosk, transport)
    assert (result.sent, result.pending) == (9, 0)
    assert max(sizes) <= 4 * MIB and result.batches >= 3
    log = AuditLog(kiosk.log_path)
    log.append(Event("", time.time(), "manual", device=kiosk.identity.id, details={"note": "x" * 5_000_000}))
    log.close()
    with pytest.raises(SyncRefused, match="cannot be sent") as refused:
        sync(kiosk, HttpTransport(collector.url))
    assert refused.value.code == "too_large"


def test_refusals_reach_the_servers_log_without_verbose(collector: CollectorProcess, tmp_path: Path) -> None:
    """A collector started as the unit starts it (no -v) still tells its journal who was refused."""
    stranger = "x" * 2000  # an untrusted id: the log line keeps a bounded part of it
    with connect(collector.port) as sock:
        sock.sendall(head(collector.port, {"X-Kiosk-Device": stranger, "X-Kiosk-Signature": "c2ln",
                                           "Content-Length": "10"}))
        assert answer_of(sock)[0] == 403
    deadline = time.monotonic() + 30  # a hang guard: the line is written as the refusal is answered
    while "batch refused" not in collector.log_path.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(x for x in collector.log_path.read_text(errors="replace").splitlines() if "batch refused" in x)
    assert "batch refused (unknown_device)" in line and len(line) < 300

"""A real collector process (`kiosk collector serve`) on 127.0.0.1 for tests, a kiosk to sync with it, and raw
HTTP on a socket to attack it with (bounded in connections and time, loopback only)."""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from nacl.signing import SigningKey

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.collector.database import open_store
from kiosk.collector.store import CollectorStore
from kiosk.device_identity import DeviceIdentity, load_or_create


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CollectorProcess:
    """`python -m kiosk collector serve` in its own process; `.url`, `.store()` for checks, `.stop()`."""

    def __init__(self, db_url: str, workdir: Path, *, trust_files: Path | None = None,
                 extra: tuple[str, ...] = (), port: int | None = None,
                 https: tuple[Path, Path] | None = None, nofile: int | None = None) -> None:
        """`nofile`: the open-file limit to run it under, as systemd's LimitNOFILE= sets it (up to the hard limit
        of this process: raising that needs a privilege a test machine may not grant)."""
        self.db_url, self.port = db_url, port or free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        if https:
            extra = (*extra, "--tls-cert", str(https[0]), "--tls-key", str(https[1]))
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(https[0])) if https else True
        self.log_path = workdir / f"collector-{self.port}.log"
        command = [sys.executable, "-m", "kiosk", "collector", "serve", "--db", db_url, "--port", str(self.port),
                   *(["--trust-files", str(trust_files)] if trust_files else []), *extra]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.nofile = nofile if nofile is None or hard == resource.RLIM_INFINITY else min(nofile, hard)
        limit = None if self.nofile is None else \
            lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))  # type: ignore[arg-type]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=limit,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the collector exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/time", timeout=1, verify=self._verify).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"the collector did not start in {timeout} s: {self.log_path.read_text()}")

    def store(self) -> CollectorStore:
        """The collector's database, opened beside the running service (as a site manager's command does)."""
        return open_store(self.db_url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@dataclass
class Kiosk:
    """A kiosk's audit log file and device key, with events in it."""

    log_path: Path
    identity: DeviceIdentity

    @classmethod
    def make(cls, folder: Path, events: int = 0, start: float | None = None) -> Kiosk:
        folder.mkdir(parents=True, exist_ok=True)
        identity, _ = load_or_create(folder / "device.key")
        kiosk = cls(folder / "audit.db", identity)
        kiosk.add(events, start)
        return kiosk

    def add(self, n: int, start: float | None = None) -> None:
        log = AuditLog(self.log_path)
        log.db.execute("PRAGMA synchronous=OFF")  # test material: an fsync per event would only slow the tests
        start = time.time() - n if start is None else start
        try:
            for i in range(n):
                log.append(Event("", start + i * 0.5, "scan", site="Joy City", lane="2", device=self.identity.id,
                                 verdict=("pass", "deny", "retry")[i % 3], reason=("ok", "red_code", "fever")[i % 3],
                                 temperature=36.0 + (i % 30) / 10, subject_ref=f"{i:032x}"))
        finally:
            log.close()

    def enroll(self, store: CollectorStore, name: str = "gate 2") -> None:
        store.enroll(self.identity.public, name, time.time())

    @property
    def key(self) -> SigningKey:
        return self.identity.key

    def head(self) -> tuple[str, bytes, int]:
        """(last event id, head hash, event count) of the kiosk's own log."""
        log = AuditLog(self.log_path)
        try:
            head = log.db.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()[0]
            last = log.db.execute("SELECT max(id) FROM events").fetchone()[0]
            return last, bytes(head), log.count()
        finally:
            log.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in `folder`: a certificate for 127.0.0.1, made by openssl, for a collector on HTTPS."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def enrolled_kiosk(collector: CollectorProcess, folder: Path, events: int = 0, *, revoked: bool = False) -> Kiosk:
    """A kiosk with `events` in its log, enrolled at (and, if asked, revoked by) the collector."""
    kiosk = Kiosk.make(folder, events)
    with collector.store() as store:
        kiosk.enroll(store)
        if revoked:
            store.revoke(kiosk.identity.id, time.time())
    return kiosk


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def head(port: int, headers: dict[str, str], method: str = "POST", path: str = "/v1/batches") -> bytes:
    """A request's head, as a client would write it before the body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer_of(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict[str, object]]:
    """The status and JSON of one answer (the request's body may be unsent: the answer must come anyway)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data:
        raise AssertionError("the collector closed the connection without an answer")
    top, _, body = data.partition(b"\r\n\r\n")
    return int(top.split()[1]), json.loads(body) if body else {}


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def closed_after(sock: socket.socket, limit: float, trickle: bytes = b"", every: float = 0.3) -> float | None:
    """Seconds until the server closed `sock` (None: still open at `limit`), sending `trickle` a byte at a time."""
    start, sent = time.monotonic(), 0
    sock.settimeout(0.05)
    while time.monotonic() - start < limit:
        try:
            if sent < len(trickle) and time.monotonic() - start >= (sent + 1) * every:
                sock.send(trickle[sent:sent + 1])
                sent += 1
            if not sock.recv(65536):
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset: closed too
            return time.monotonic() - start
    return None


def in_parallel(jobs: list[Callable[[], object]]) -> list[object]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        return [f.result() for f in [pool.submit(job) for job in jobs]]


def warm_up(port: int, headers: dict[str, str]) -> None:
    """Eight small requests at once: the thread pool and every code path of an attack are there before measuring."""

    def one() -> None:
        with connect(port) as sock:
            sock.sendall(head(port, {**headers, "Content-Length": "10"}) + b"{" * 10)
            answer_of(sock)

    in_parallel([one] * 8)


def stall(port: int, headers: dict[str, str], size: int) -> int | None:
    """All but the last byte of a `size` body, then nothing: the status answered, None if closed unanswered."""
    with connect(port) as sock:
        sock.settimeout(15)
        try:
            sock.sendall(head(port, {**headers, "Content-Length": str(size)}) + b"{" * (size - 1))
            return answer_of(sock, 10)[0]
        except (AssertionError, OSError):
            return None


def peak_growth(pid: int, attack: Callable[[], object]) -> int:
    """How far the resident memory of process `pid` rose above where it was, at its highest while `attack` ran."""
    process = psutil.Process(pid)
    baseline, peak, done = process.memory_info().rss, 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        attack()
        time.sleep(0.3)
    finally:
        done.set()
        sampler.join()
    return peak - baseline


class Slowloris:
    """`count` connections that each send half a request and wait; one the server closes is opened again
    (`count` * 8 opened at most, for `seconds`), as an attacker would, to keep `count` held."""

    def __init__(self, port: int, count: int, seconds: float) -> None:
        self.port, self.count, self.seconds = port, count, seconds
        self.first_wave: dict[socket.socket, float] = {}  # the connections opened first: when each was closed
        self.opened = self.failed = 0
        self.thread = threading.Thread(target=self._run)

    def _open(self) -> socket.socket | None:
        self.opened += 1
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            self.failed += 1
            return None
        sock.setblocking(False)
        return sock

    def _run(self) -> None:
        start = time.monotonic()
        with selectors.DefaultSelector() as selector:
            for _ in range(self.count):
                if (sock := self._open()) is not None:
                    self.first_wave[sock] = 0.0
                    selector.register(sock, selectors.EVENT_READ)
            while time.monotonic() - start < self.seconds:
                for key, _ in selector.select(0.05):
                    sock = key.fileobj  # type: ignore[assignment]
                    try:
                        if sock.recv(4096):
                            continue
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    if sock in self.first_wave:
                        self.first_wave[sock] = time.monotonic() - start
                    selector.unregister(sock)
                    sock.close()
                    if self.opened < self.count * 8 and (again := self._open()) is not None:
                        selector.register(again, selectors.EVENT_READ)
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]

"""A real collector process (`kiosk collector serve`) on 127.0.0.1 for tests, and a kiosk to sync with it."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from nacl.signing import SigningKey

from kiosk.audit.events import Event
from kiosk.audit.store import AuditLog
from kiosk.collector.store import CollectorStore, open_store
from kiosk.device_identity import DeviceIdentity, load_or_create


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CollectorProcess:
    """`python -m kiosk collector serve` in its own process; `.url`, `.store()` for checks, `.stop()`."""

    def __init__(self, db_url: str, workdir: Path, *, trust_files: Path | None = None,
                 extra: tuple[str, ...] = (), port: int | None = None,
                 https: tuple[Path, Path] | None = None) -> None:
        self.db_url, self.port = db_url, port or free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        if https:
            extra = (*extra, "--tls-cert", str(https[0]), "--tls-key", str(https[1]))
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(https[0])) if https else True
        self.log_path = workdir / f"collector-{self.port}.log"
        command = [sys.executable, "-m", "kiosk", "collector", "serve", "--db", db_url, "--port", str(self.port),
                   *(["--trust-files", str(trust_files)] if trust_files else []), *extra]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
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

"""benchmarks/console.py's syncing kiosks: the sample of the fleet whose events go through the real sync path.

Each is a folder with the kiosk's own audit log and device key; it syncs as `kiosk sync` does (the Uploader over
HTTP: signed batches of 500 with the kiosk's status), each kiosk in a process of its own, all starting together
(as benchmarks/sync.py runs them). A round first logs new events at every kiosk (not timed), then they sync.
"""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import time
from multiprocessing.pool import Pool
from pathlib import Path
from types import TracebackType

from benchmarks.console_data import Fleet, append_to_log, log_head
from kiosk.audit.store import AuditLog
from kiosk.device_identity import load_or_create
from kiosk.fileio import write_new_private
from kiosk.keyfiles import private_key_text
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import KioskStatus
from kiosk.sync.transport import HttpTransport
from kiosk.sync.uploader import Uploader


def sample_logs(fleet: Fleet, root: Path) -> dict[int, Path]:
    """The sample kiosks' folders under `root` (their keys those the plan gives them): kiosk -> its log."""
    logs = {}
    for k in range(fleet.plan.sample):
        folder = root / f"kiosk-{k:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "device.key").exists():
            write_new_private(folder / "device.key", private_key_text(fleet.plan.key(k)))
        logs[k] = folder / "audit.db"
    return logs


def log_round(fleet: Fleet, logs: dict[int, Path], per_kiosk: int, now: float) -> None:
    """`per_kiosk` new events at each kiosk, chained after what its log holds: the backlog of a kiosk that could
    not reach the collector for up to an hour (spread over that hour, after its last event, until `now`)."""
    for k, path in logs.items():
        head, last = log_head(path)
        kiosk = fleet.kiosks[k]
        kiosk.head, kiosk.last_id = head, last
        rng = random.Random(f"{fleet.plan.seed} round {now} {k}")
        start = max(now - 3600, _last_at(path))
        times = sorted(start + (now - start) * (0.001 + 0.998 * rng.random()) for _ in range(per_kiosk))
        append_to_log(path, fleet.events(k, times, rng))


def _last_at(path: Path) -> float:
    db = sqlite3.connect(str(path))
    try:
        return float(db.execute("SELECT coalesce(max(at), 0) FROM events").fetchone()[0])
    finally:
        db.close()


def _status(backlog: int) -> KioskStatus:
    now = time.time()
    return KioskStatus(backlog, now - 2 * 86400, now - 3600, 0.02, {"camera": "ok", "thermometer": "ok"})


def sync_kiosk(folder: Path, url: str, start_at: float) -> tuple[float, float, int]:
    """One kiosk's whole pass, from `start_at`: (started, finished, events sent)."""
    identity, _ = load_or_create(folder / "device.key")
    log = AuditLog(folder / "audit.db")
    outbox = Outbox(log)
    transport = HttpTransport(url, timeout=300)
    uploader = Uploader(outbox, transport, identity, report=_status)
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    result = uploader.run_once()
    finished = time.time()
    transport.close()
    outbox.close()
    log.close()
    return started, finished, result.sent


def _warm(_: int) -> None:
    time.sleep(0.5)  # long enough that each process of the pool takes one


class Kiosks:
    """The sample kiosks and a process for each, started (and their imports done) before any clock runs."""

    def __init__(self, logs: dict[int, Path]) -> None:
        self.folders = [path.parent for path in logs.values()]
        self.pool: Pool = multiprocessing.get_context("spawn").Pool(max(1, len(self.folders)))
        self.pool.map(_warm, range(len(self.folders)), chunksize=1)

    def sync(self, url: str) -> tuple[int, float]:
        """Every kiosk syncs what it has, all at once: (events sent, seconds from the first start to the last end)."""
        start_at = time.time() + 1.0
        results = self.pool.starmap(sync_kiosk, [(f, url, start_at) for f in self.folders], chunksize=1)
        sent = sum(r[2] for r in results)
        return sent, max(r[1] for r in results) - min(r[0] for r in results)

    def __enter__(self) -> Kiosks:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.pool.terminate()
        self.pool.join()

"""Sync speed on loopback, through a real collector process: one kiosk's big log, then 50 kiosks at once.

Goals (issue 6): 100,000 events from one kiosk to the collector within 20 s; the
collector ingesting at least 5,000 events a second from 50 kiosks syncing at
once, on SQLite and on PostgreSQL (a throwaway server started here).
Kiosk logs are built in bulk beforehand (not timed), with the day mix of
benchmarks/audit_log.py; each kiosk syncs in its own process, as kiosks do.
Run: .venv/bin/python benchmarks/sync.py [--backend sqlite|postgresql|both] [--events N] [--kiosks K]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ helpers: the collector process, PG

from benchmarks.audit_log import build
from kiosk.audit.store import AuditLog
from kiosk.device_identity import load_or_create
from kiosk.sync.outbox import Outbox
from kiosk.sync.transport import HttpTransport
from kiosk.sync.uploader import Uploader
from tests.collector_process import CollectorProcess


def make_kiosk(folder: Path, events: int) -> Path:
    folder.mkdir(parents=True)
    build(folder / "audit.db", events)
    load_or_create(folder / "device.key")
    return folder


def sync_kiosk(folder: Path, url: str, batch: int, start_at: float) -> tuple[float, float, int]:
    """One kiosk's whole pass; (started, finished, events sent)."""
    identity, _ = load_or_create(folder / "device.key")
    log = AuditLog(folder / "audit.db")
    outbox = Outbox(log)
    transport = HttpTransport(url, timeout=60)
    uploader = Uploader(outbox, transport, identity, batch=batch)
    time.sleep(max(0.0, start_at - time.time()))  # all kiosks start together
    started = time.time()
    result = uploader.run_once()
    finished = time.time()
    transport.close()
    outbox.close()
    log.close()
    return started, finished, result.sent


def warm(_: int) -> None:
    time.sleep(0.5)  # long enough that each process of the pool takes one


@contextlib.contextmanager
def collector(backend: str, folder: Path) -> Iterator[CollectorProcess]:
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            from tests.pg_server import postgres_server

            url = stack.enter_context(postgres_server(durable=True))  # fsync on: what a real server does
        else:
            url = f"sqlite:///{folder}/collector.db"
        process = CollectorProcess(url, folder)
        stack.callback(process.stop)
        yield process


def enroll(process: CollectorProcess, folders: list[Path]) -> None:
    store = process.store()
    try:
        for folder in folders:
            identity, _ = load_or_create(folder / "device.key")
            store.enroll(identity.public, folder.name, time.time())
    finally:
        store.close()


def run(backend: str, events: int, kiosks: int, per_kiosk: int, batch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as temp:
        root = Path(temp)
        big = make_kiosk(root / "big", events)
        fleet = [make_kiosk(root / f"kiosk-{i:02d}", per_kiosk) for i in range(kiosks)]
        with collector(backend, root) as process:
            enroll(process, [big, *fleet])
            started, finished, sent = sync_kiosk(big, process.url, batch, 0)
            seconds = finished - started
            print(f"{backend:<10} one kiosk   {sent:>9,} events in {seconds:6.2f} s = {sent / seconds:>8,.0f} events/s"
                  f"   (goal: 100,000 within 20 s)")
            with multiprocessing.get_context("spawn").Pool(kiosks) as pool:
                pool.map(warm, range(kiosks), chunksize=1)  # every process started and imported before the clock
                start_at = time.time() + 1.0
                results = pool.starmap(sync_kiosk, [(f, process.url, batch, start_at) for f in fleet], chunksize=1)
            total = sum(r[2] for r in results)
            span = max(r[1] for r in results) - min(r[0] for r in results)
            per = sorted(r[1] - r[0] for r in results)
            store = process.store()
            stored = store.count()
            store.close()
            print(f"{backend:<10} {kiosks} kiosks  {total:>9,} events in {span:6.2f} s = {total / span:>8,.0f} events/s"
                  f"   (goal: 5,000/s)  each kiosk {per[0]:.1f}-{per[-1]:.1f} s; stored {stored:,} in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=100_000, help="events of the one big kiosk")
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--per-kiosk", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args.events, args.kiosks, args.per_kiosk, args.batch)


if __name__ == "__main__":
    main()

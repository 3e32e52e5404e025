"""The collector's stores under load: events/s ingesting signed batches from many devices at once.

Every device (default 50) has a chain of events cut into batches (default 500
events each); worker threads (default 8) each take a device and store its
batches in order, as kiosks syncing at once would, straight through the store
API (no HTTP). Batches are encoded, signed and opened beforehand; only ingest is
timed. PostgreSQL is a throwaway server (tests/pg_server.py) with fsync on, as
SQLite's synchronous=FULL is, so the two are compared on the same terms.
Run: .venv/bin/python benchmarks/collector_store.py [--devices N] [--batches N] [--size N] [--threads N]
                                                    [--backend sqlite|postgres|both] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.pg_server

from nacl.signing import SigningKey

from kiosk.audit.events import GENESIS, Event, chain_hash, new_id
from kiosk.collector.pg_store import PostgresStore
from kiosk.collector.sqlite_store import SqliteStore
from kiosk.collector.store import CollectorStore
from kiosk.cose import kid_of
from kiosk.sync.protocol import Batch, Linked, encode_batch, open_batch, sign
from tests.pg_server import postgres_server

T0 = 1_780_000_000.0
REASONS = ["ok"] * 17 + ["expired", "temperature_missing", "status_amber"]


def device_batches(index: int, batches: int, size: int) -> tuple[bytes, list[Batch]]:
    """A device's public key and its chain of scans, cut into signed, opened batches."""
    rng = random.Random(index)
    key = SigningKey(hashlib.sha256(f"bench device {index}".encode()).digest())
    public = bytes(key.verify_key)
    device_id = kid_of(public).hex()
    prev, at, out = GENESIS, T0 + index, []
    for _ in range(batches):
        events = []
        for _ in range(size):
            at += rng.uniform(1, 30)
            reason = rng.choice(REASONS)
            event = Event(new_id(at, rng.randbytes(10)), at, "scan", "人民广场站 2号口", f"A{index % 8 + 1}",
                          f"kiosk-{index}", "pass" if reason == "ok" else "deny", reason, "green", "dynamic",
                          "9f2c4a1be0d37a55", "CN-310000", int(at) - 30, rng.randbytes(16).hex(),
                          round(rng.uniform(36.0, 37.4), 1))
            events.append(Linked(event, prev))
            prev = chain_hash(prev, event)
        body = encode_batch(device_id, events, at, os.urandom(16).hex())
        out.append(open_batch(body, sign(body, key), device_id, {device_id: public}.get, now=at))
    return public, out


def run(store: CollectorStore, plans: list[tuple[bytes, list[Batch]]], threads: int) -> tuple[float, list[float]]:
    for public, _ in plans:
        store.enroll(public, "bench", T0)
    work: queue.SimpleQueue[list[Batch]] = queue.SimpleQueue()
    for _, batches in plans:
        work.put(batches)
    latencies: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                batches = work.get_nowait()
            except queue.Empty:
                return
            for batch in batches:
                started = time.perf_counter()
                try:
                    store.ingest(batch, batch.sent_at)
                except BaseException as err:  # told after the run
                    errors.append(err)
                    return
                latencies.append(time.perf_counter() - started)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, latencies


@contextlib.contextmanager
def opened(backend: str, folder: Path) -> Iterator[CollectorStore]:
    if backend == "sqlite":
        store: CollectorStore = SqliteStore(folder / "collector.db")
    else:
        server = postgres_server(durable=True)
        url = server.__enter__()
        store = PostgresStore(url)
    try:
        yield store
    finally:
        store.close()
        if backend == "postgres":
            server.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--batches", type=int, default=4, help="per device")
    parser.add_argument("--size", type=int, default=500, help="events per batch")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--dir", type=Path, help="where the SQLite file goes (default: a temp dir)")
    args = parser.parse_args()

    started = time.perf_counter()
    plans = [device_batches(i, args.batches, args.size) for i in range(args.devices)]
    total = args.devices * args.batches * args.size
    print(f"{args.devices} devices x {args.batches} batches x {args.size} events = {total} events, "
          f"{args.threads} threads (prepared in {time.perf_counter() - started:.1f} s)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder, opened(backend, Path(folder)) as store:
            elapsed, latencies = run(store, plans, args.threads)
            assert store.count() == total and not store.faults(), "the run did not store every event once"
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1] if len(latencies) >= 100 else latencies[-1]
            print(f"{backend:9} {total / elapsed:9.0f} events/s   {elapsed:6.2f} s   batch p50 "
                  f"{statistics.median(latencies) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms")


if __name__ == "__main__":
    main()

"""The audit log at a busy station: a day of N events (default 1,000,000), on one core.

Builds the log in bulk (one transaction, hash chain computed with chain_hash, so it
verifies), then times: exports to CSV and JSONL (goal: 1,000,000 to CSV within 15 s),
the day's HTML report (goal: within 10 s), durable single appends (p50/p99 over 2,000),
the database's bytes per event, and AuditLog.verify().
Run: .venv/bin/python benchmarks/audit_log.py [--events N] [--xlsx] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.audit.events import COLUMNS, GENESIS, Event, chain_hash, new_id
from kiosk.audit.export import export
from kiosk.audit.report import report
from kiosk.audit.store import AuditLog

DAY, TZ = date(2026, 11, 27), ZoneInfo("Asia/Shanghai")
# People per local hour: quiet at night, peaks for the morning and evening rush.
HOURLY = [2, 1, 1, 1, 2, 8, 40, 100, 120, 70, 45, 40, 50, 45, 40, 45, 60, 100, 110, 70, 45, 30, 15, 6]
# reason -> share of scans; the rest of a day's mix is manual entries and a few device events.
REASONS = {"ok": 0.85, "temperature_missing": 0.02, "temperature_implausible": 0.006, "expired": 0.03,
           "too_old": 0.025, "status_amber": 0.015, "status_red": 0.004, "not_health_code": 0.012,
           "malformed": 0.01, "unknown_key": 0.004, "bad_signature": 0.001, "key_revoked": 0.0005,
           "key_expired": 0.0005, "issuer_mismatch": 0.0005, "not_yet_valid": 0.002,
           "printed_not_accepted": 0.003, "fever": 0.0015}
VERDICTS = {"temperature_missing": "retry", "temperature_implausible": "retry", "ok": "pass"}
KIDS = ["9f2c4a1be0d37a55", "1b7e33c0a9f24d18", "c4d5e6f708192a3b"]
SITE, LANES = "人民广场站 2号口", [f"A{n}" for n in range(1, 9)]


def events(n: int, seed: int = 7) -> Iterator[Event]:
    """A day of n events in time order, with ids that sort the same way."""
    rng = random.Random(seed)
    midnight = datetime.combine(DAY, datetime.min.time(), TZ).timestamp()
    hours = rng.choices(range(24), weights=HOURLY, k=n)
    times = sorted(midnight + h * 3600 + rng.random() * 3600 for h in hours)
    device_at = {rng.randrange(n): kind for kind in ["camera", "thermometer"] * 12}  # an outage starts ...
    back = {i + rng.randrange(20, 400): device_at[i] for i in device_at}  # ... and ends a little later
    names, weights = list(REASONS), list(REASONS.values())
    for i, at in enumerate(times):
        event_id = new_id(at, i.to_bytes(10, "big"))
        lane = LANES[i % len(LANES)]
        device = f"kiosk-{lane}"
        if i in device_at or i in back:
            down = i in device_at
            thing = device_at[i] if down else back[i]
            problem = "lost" if thing == "camera" else "disconnected"
            yield Event(event_id, at, "device", SITE, lane, device,
                        details={"device": thing, "state": problem if down else "ok",
                                 "before": "ok" if down else problem})
        elif rng.random() < 0.004:
            yield Event(event_id, at, "manual", SITE, lane, device, temperature=round(rng.gauss(36.5, 0.3), 1),
                        operator=f"volunteer-{rng.randrange(5)}",
                        details={"name": "张*", "phone": f"138****{rng.randrange(10_000):04d}"})
        else:
            reason = rng.choices(names, weights)[0]
            coded = reason not in ("not_health_code", "malformed")
            temperature = {"fever": round(rng.uniform(37.3, 39.2), 1), "temperature_missing": None,
                           "temperature_implausible": rng.choice([31.2, 44.0])}.get(
                               reason, round(rng.gauss(36.5, 0.25), 1))
            yield Event(
                event_id, at, "scan", SITE, lane, device, verdict=VERDICTS.get(reason, "deny"), reason=reason,
                status=({"status_red": "red", "status_amber": "amber"}.get(reason, "green") if coded else None),
                code_kind=(rng.choice(["dynamic", "dynamic", "dynamic", "printed"]) if coded else None),
                kid=rng.choice(KIDS) if coded else None, iss="CN-310000" if coded else None,
                code_iat=int(at) - rng.randrange(5, 200) if coded else None,
                subject_ref=f"{rng.getrandbits(128):032x}" if coded else None, temperature=temperature)


def build(path: Path, n: int) -> float:
    """Bulk insert: one transaction, executemany, the chain computed as AuditLog.append would."""
    started = time.perf_counter()
    log = AuditLog(path)
    head, last_id = GENESIS, ""

    def rows() -> Iterator[list[object]]:
        nonlocal head, last_id
        for event in events(n):
            row: list[object] = [getattr(event, name) for name in COLUMNS]
            row[COLUMNS.index("details")] = (json.dumps(event.details, ensure_ascii=False, sort_keys=True)
                                             if event.details else None)
            yield [*row, head]
            head, last_id = chain_hash(head, event), event.id

    conn = log.db.conn
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark fixture, not the kiosk: no fsync per page
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO events ({', '.join(COLUMNS)}, prev_hash) VALUES "
                     f"({', '.join('?' * (len(COLUMNS) + 1))})", rows())
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?), ('head_id', ?)", [head, last_id.encode()])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.close()
    return time.perf_counter() - started


def timed(label: str, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:8.2f} s" + (f"   ({result:,} rows, {result / seconds:,.0f}/s)"
                                               if isinstance(result, int) else ""))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--xlsx", action="store_true", help="also time the XLSX export (slow: ~30 us a row)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the log (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the log and the exports")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goals say

    folder = Path(args.dir or tempfile.mkdtemp(prefix="audit-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "audit.db"
    for stale in folder.glob("audit.db*"):
        stale.unlink()
    print(f"{args.events:,} events on {DAY} ({TZ.key}), one core, in {folder}")
    print(f"{'build (bulk insert, chain computed)':<44} {build(path, args.events):8.2f} s")
    size = sum(p.stat().st_size for p in folder.glob("audit.db*"))
    print(f"{'database size':<44} {size / 1e6:8.1f} MB   ({size / args.events:,.0f} bytes per event)")

    log = AuditLog(path)
    midnight = datetime.combine(DAY, datetime.min.time(), TZ)
    timed("export CSV (all events)", lambda: export(log, folder / "all.csv", "csv", tz=TZ))
    timed("export CSV (the day: since/until)", lambda: export(log, folder / "day.csv", "csv", tz=TZ, since=midnight,
                                                               until=midnight + timedelta(days=1)))
    timed("export JSONL (all events)", lambda: export(log, folder / "all.jsonl", "jsonl", tz=TZ))
    if args.xlsx:
        timed("export XLSX (all events)", lambda: export(log, folder / "all.xlsx", "xlsx", tz=TZ))
    timed("report for the day (HTML)", lambda: report(log, DAY, folder / "day.html", tz=TZ, language="zh"))
    print(f"{'':<44} {(folder / 'day.html').stat().st_size / 1000:8.0f} kB page")

    latencies = []
    start = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), TZ).timestamp()
    for i in range(args.appends):
        event = Event("", start + i, "scan", SITE, "A1", "kiosk-A1", verdict="pass", reason="ok", status="green",
                      code_kind="dynamic", kid=KIDS[0], iss="CN-310000", code_iat=int(start + i) - 30,
                      subject_ref=f"{random.getrandbits(128):032x}", temperature=36.5)
        began = time.perf_counter()
        log.append(event)
        latencies.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{f'durable append x{args.appends:,} (synchronous=FULL)':<44} p50 {cuts[49]:6.2f} ms   "
          f"p99 {cuts[98]:6.2f} ms   max {max(latencies):6.2f} ms")
    result: list[object] = []
    timed("verify the chain", lambda: result.append(log.verify()))
    print(f"{'':<44} {result[0]}")
    log.close()
    if not args.keep and args.dir is None:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()

"""The web console at a city's scale (issue 14, "Speed"): 10,000,000 events from 1,000 kiosks at 100 sites over 28
days, on SQLite and on PostgreSQL, through a real `kiosk collector serve` process and signed-in sessions.

The fleet's events (benchmarks/console_data.py: every verdict and reason, fevers, registrations and their
corrections, device outages; people who come back across days and sites) are made from a seed. A sample of the
kiosks (50, one a site) keep their events in their own audit logs and sync them through the real sync path
(signed batches over HTTP); the rest are bulk-loaded with the roll-ups ingest keeps (benchmarks/console_load.py).
Then, over HTTP, each figure beside its goal:

    overview p95 <= 300 ms (every site, and one site's manager); events page of a site and a day p95 <= 200 ms;
    a trace of one subject over the whole range <= 1 s; a 1,000,000-row CSV export >= 80,000 rows/s with the
    server's RSS <= 300 MB; the sample kiosks syncing a round while 20 people use the console: throughput at most
    20 % below the same kiosks syncing alone (rounds with them and alone in turn, alone first and last).

The collector's days are those of a zone where the data ends at about 20:00 (--timezone to choose one), so the
overview's "today" holds most of a day whenever it runs. Loading 10,000,000 events takes a while (progress is
printed); `--dir DIR --keep` keeps the databases (and the PostgreSQL server's folder) and `--dir DIR --reuse`
measures them again without loading. PostgreSQL runs from that folder (benchmarks/console_pg.py), durable, with
shared_buffers of 1 GB. It is a benchmark: it prints figures and fails only when it cannot measure. Run:

    .venv/bin/python benchmarks/console.py [--backend sqlite|postgresql|both] [--events N --kiosks N --sites N
        --days N --sample N --timezone ZONE] [--dir DIR] [--keep | --reuse] [--check] [--quick]
        [--only overview,events,trace,export,sync]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.* and tests/ helpers

import httpx
import psycopg

from benchmarks.console_data import Fleet, Plan, evening_zone
from benchmarks.console_load import Loader, PostgresLoader, SqliteLoader, enroll, finish, load_day, same_rollups
from benchmarks.console_measure import PARTS, Options, machine, measure, save, say
from benchmarks.console_pg import kept_postgres
from benchmarks.console_sync import sample_logs
from kiosk.collector import rollup
from kiosk.errors import KioskError

BACKENDS = ("sqlite", "postgresql")
QUICK = {"events": 20_000, "kiosks": 40, "sites": 8, "days": 3, "sample": 4, "round": 50, "rounds": 1, "users": 3,
         "requests": 4, "traces": 2, "export_rows": 5_000, "think": 0.3}


def load(plan: Plan, urls: dict[str, str], root: Path, check: bool) -> Fleet:
    """The fleet into every database: the sample kiosks' events into their own logs (root/kiosks), the rest in bulk."""
    fleet = Fleet(plan)
    logs = sample_logs(fleet, root / "kiosks")
    loaders: dict[str, Loader] = {b: SqliteLoader(root / "collector.db", plan.tz) if b == "sqlite" else
                                  PostgresLoader(url, plan.tz) for b, url in urls.items()}
    for loader in loaders.values():
        enroll(loader, fleet)
    clock, started, done = rollup.Clock(plan.tz), time.perf_counter(), 0
    for number, day in enumerate(fleet.days):
        done += load_day(list(loaders.values()), fleet, number, clock, logs)
        elapsed = time.perf_counter() - started
        left = elapsed / (number + 1) * (len(fleet.days) - number - 1)
        print(f"  loaded {day}: {done:>11,} events in bulk, {done / elapsed:7,.0f} events/s, "
              f"{elapsed / 60:5.1f} min so far, about {left / 60:.1f} min to go", flush=True)
    for backend, loader in loaders.items():
        finish(loader, fleet, range(plan.sample, plan.kiosks))
        if check:
            same = same_rollups(loader, plan.tz)
            say(backend, "roll-ups loaded vs the store's own backfill", "the same" if same else "DIFFERENT")
            if not same:
                raise RuntimeError("the bulk-loaded roll-ups differ from what the store counts from the events")
        loader.close()
    mix = fleet.mix
    print(f"  loaded in {(time.perf_counter() - started) / 60:.1f} min; the sample's events are in {len(logs)} "
          f"kiosks' own logs, to sync. The mix: {mix['scan']:,} scans ({mix['fever']:,} fevers), "
          f"{mix['manual']:,} registrations, {mix['correction']:,} corrections, {mix['device']:,} device events; "
          f"{plan.people:,} people, each at home at one site", flush=True)
    return fleet


def _local(plan: Plan) -> str:
    return f"{datetime.fromtimestamp(plan.end, plan.tz):%Y-%m-%d %H:%M} {plan.zone}"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--kiosks", type=int, default=1_000)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--sample", type=int, default=50,
                        help="kiosks whose events go through the real sync path (they also sync in the timed rounds)")
    parser.add_argument("--round", type=int, default=2_000, help="events each sample kiosk syncs in a timed round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds synced with people at work in the console "
                                                               "(each between two rounds synced alone)")
    parser.add_argument("--users", type=int, default=20, help="people using the console while the kiosks sync")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a console user pauses between pages")
    parser.add_argument("--requests", type=int, default=40, help="timed requests of each page")
    parser.add_argument("--traces", type=int, default=5, help="subjects traced")
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--timezone", help="the collector's zone (default: one where the data ends at about 20:00, "
                                           "so that today's overview is a full day's)")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep --dir afterwards, for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure the databases loaded in --dir before")
    parser.add_argument("--check", action="store_true", help="check the loaded roll-ups against the store's backfill")
    parser.add_argument("--only", type=lambda text: frozenset(text.split(",")), default=PARTS,
                        help=f"measure only these figures (a comma-separated list of {', '.join(sorted(PARTS))})")
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run of the script (seconds)")
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        args.check = True
    if args.timezone:
        try:
            ZoneInfo(args.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            parser.error(f"--timezone: not a time zone: {args.timezone[:60]!r} (an IANA name: Asia/Shanghai)")
    if not args.only or args.only - PARTS:
        parser.error(f"--only: a comma-separated list of {', '.join(sorted(PARTS))}")
    if args.reuse and args.dir is None:
        parser.error("--reuse needs --dir: the folder a run with --keep left")
    if not (0 < args.sample <= args.kiosks and 0 < args.sites <= args.kiosks and min(args.days, args.events,
                                                                                      args.rounds, args.round) > 0):
        parser.error("--sample and --sites from 1 to --kiosks; --days, --events, --round and --rounds above 0")
    return args


def main() -> int:
    args = arguments()
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    root = args.dir or Path(tempfile.mkdtemp(prefix="kiosk-console-bench-"))
    manifest_path = root / "manifest.json"
    if args.reuse:
        if not manifest_path.exists():
            sys.stderr.write(f"console.py: {root}: no benchmark loaded there (run with --keep first)\n")
            return 2
        manifest = json.loads(manifest_path.read_text())
        plan = Plan(**manifest["plan"])
        missing = [b for b in backends if b not in manifest["loaded"]]
        if missing:
            sys.stderr.write(f"console.py: {root}: not loaded for {', '.join(missing)} (--backend)\n")
            return 2
    else:
        if manifest_path.exists():
            sys.stderr.write(f"console.py: {root} holds a loaded benchmark: --reuse it, or give another --dir\n")
            return 2
        now = time.time()
        zone = args.timezone or evening_zone(now)
        plan = Plan(args.events, args.kiosks, args.sites, args.days, args.sample, now, zone)
        manifest = {"plan": dataclasses.asdict(plan), "loaded": [], "accounts": {}}
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        root.chmod(0o711)  # PostgreSQL's folder inside is the postgres user's, who must get there
    opts = Options(args.requests, args.traces, args.export_rows, args.users, args.think, args.round, args.rounds,
                   args.only)
    print(f"{plan.events:,} events from {plan.kiosks:,} kiosks at {plan.sites} sites over {plan.days} days "
          f"({plan.sample} kiosks through the real sync path), ending {_local(plan)}; {machine()}; in {root}",
          flush=True)
    if args.reuse and time.time() - plan.end > 6 * 3600:
        print(f"  note: the data ends {(time.time() - plan.end) / 3600:.0f} h ago: today's overview has less in it")
    try:
        with contextlib.ExitStack() as stack:
            urls = {b: f"sqlite:///{root / 'collector.db'}" if b == "sqlite" else
                    stack.enter_context(kept_postgres(root / "pg")) for b in backends}
            if args.reuse:
                fleet = Fleet(plan)
            else:
                fleet = load(plan, urls, root, args.check)
                manifest["loaded"] = backends
                save(manifest_path, manifest)
            for backend, url in urls.items():
                accounts = manifest["accounts"].setdefault(backend, {})
                try:
                    measure(backend, url, fleet, root / backend, root / "kiosks", accounts, opts)
                finally:
                    save(manifest_path, manifest)
    except (RuntimeError, OSError, sqlite3.Error, psycopg.Error, httpx.HTTPError, KioskError) as err:  # one line
        sys.stderr.write(f"console.py: {' '.join(str(err).split())}\n")
        return 1
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(root, ignore_errors=True)
    if args.keep:
        print(f"kept in {root}: measure again with --dir {root} --reuse")
    return 0


if __name__ == "__main__":
    sys.exit(main())

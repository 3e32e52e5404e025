"""benchmarks/console.py's measurements of one database, through a real `kiosk collector serve` process: the
console's pages over HTTP with signed-in sessions, and the sample kiosks syncing with and without people at work
in the console. Each figure is printed beside its goal (issue 14, "Speed").
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

from benchmarks.console_data import Fleet, Plan, site_name
from benchmarks.console_http import Console, Users, add_account, export, next_link, percentile, timed, trace
from benchmarks.console_sync import Kiosks, log_round, sample_logs
from kiosk.collector.database import sqlite_path
from tests.collector_process import CollectorProcess

PARTS = frozenset({"overview", "events", "trace", "export", "sync"})  # the figures, each measured unless --only


@dataclass(frozen=True)
class Options:
    requests: int  # timed requests of each page
    traces: int
    export_rows: int
    users: int
    think: float  # seconds a console user pauses between pages, on average
    round: int  # events each syncing kiosk logs for a round
    rounds: int  # rounds synced with people at work in the console (each between two rounds alone)
    only: frozenset[str] = PARTS  # which figures to measure (--only)


def say(backend: str, what: str, figure: str, goal: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else (" met" if met else " MISSED")
    print(f"{backend:<10} {what:<48} {figure}{f'   (goal: {goal}{verdict})' if goal else ''}", flush=True)


def accounts(manifest: dict[str, str | None], url: str, plan: Plan, users: int) -> dict[str, bytes | None]:
    """The benchmark's accounts in this database, made where missing: name -> its TOTP secret (tracer)."""
    wanted: dict[str, tuple[str, tuple[str, ...]]] = {
        "bench-all": ("manager", ()), "bench-one": ("manager", (site_name(0),)), "bench-tracer": ("tracer", ())}
    for i in range(users):
        wanted[f"bench-user-{i:02d}"] = ("viewer", (site_name(i % plan.sites),))  # where the sample kiosks are
    for name, (role, sites) in wanted.items():
        if name not in manifest:
            secret = add_account(url, name, role, sites)
            manifest[name] = secret.hex() if secret else None
    return {name: bytes.fromhex(value) if value else None for name, value in manifest.items()}


def _one(url: str, text: str, args: Sequence[object], write: bool = False) -> Any:
    """The first value of the first row of a query (None: no row), on a connection of its own (not the server's);
    `write`: committed."""
    path = sqlite_path(url)
    if path is not None:
        db = sqlite3.connect(str(path) if write else f"file:{path}?mode=ro", uri=not write, isolation_level=None)
        try:
            row = db.execute(text, args).fetchone()
        finally:
            db.close()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(text.replace("?", "%s"), args)
            row = cur.fetchone() if cur.description else None
    return row[0] if row else None


def heartbeats(url: str, plan: Plan, now: float) -> None:
    """The bulk kiosks' last sync and status moved on by the time since their data was made (a run with --reuse),
    as their heartbeats would have: else a day later 950 of them would be silent, and the overview all alerts."""
    ids = [plan.device_id(k) for k in range(plan.sample)]
    outside = f"id NOT IN ({', '.join('?' * len(ids))})"
    newest = _one(url, f"SELECT max(last_seen) FROM devices WHERE {outside}", ids)
    if newest is None or now - 90 <= newest:
        return
    shift = now - 90 - newest
    moved = ", ".join(f"{c} = {c} + ?" for c in ("last_seen", "status_at", "status_sent", "trust_refreshed"))
    _one(url, f"UPDATE devices SET {moved} WHERE {outside}", [shift] * 4 + ids, write=True)


def stored(url: str) -> int:
    return int(_one(url, "SELECT count(*) FROM events", []))


def export_since(url: str, rows: int, zone: tzinfo) -> str:
    """The minute (collector's zone) from which on the newest `rows` events lie, at least."""
    at = _one(url, "SELECT at FROM events ORDER BY at DESC LIMIT 1 OFFSET ?", [rows - 1])
    if at is None:
        return ""
    return datetime.fromtimestamp(float(at), zone).strftime("%Y-%m-%dT%H:%M")


def traced(plan: Plan, n: int) -> list[int]:
    """People to trace: regulars of the sites where no kiosk syncs in the timed rounds (whose backlogs crowd the
    last hour), when there are such sites."""
    quiet = list(range(plan.sample, plan.sites)) or list(range(plan.sites))
    return [plan.regular(quiet[i % len(quiet)], i // len(quiet)) for i in range(n)]


def measure(backend: str, url: str, fleet: Fleet, folder: Path, template: Path,
            manifest: dict[str, str | None], opts: Options) -> None:
    plan = fleet.plan
    logs = sample_logs(fleet, folder / "kiosks")
    for path in logs.values():  # each database's kiosks start from the same logs (their sync state is theirs)
        if not path.exists():
            for made in (template / path.parent.name).glob("audit.db*"):
                shutil.copy(made, path.parent / made.name)
    print(f"{backend}: {machine()}", flush=True)
    heartbeats(url, plan, time.time())
    collector = CollectorProcess(url, folder, extra=("--timezone", plan.zone))
    try:
        with Kiosks(logs) as kiosks:
            sent, span = kiosks.sync(collector.url)
            if sent:
                say(backend, f"sync, {len(logs)} kiosks' history (the sample)",
                    f"{sent:>10,} events in {span:6.1f} s = {sent / span:8,.0f} events/s")
            secrets = accounts(manifest, url, plan, opts.users)
            expected = sum(fleet.counts[d][k] for d in range(len(fleet.days)) for k in range(plan.sample, plan.kiosks))
            expected += sum(stored(f"sqlite:///{path}") for path in logs.values())
            count = stored(url)
            say(backend, "events in the collector's database", f"{count:>10,} (the fleet logged {expected:,})")
            if count != expected:
                raise RuntimeError(f"the collector holds {count:,} events, the kiosks logged {expected:,}")
            pages(backend, url, collector, fleet, secrets, opts)
            if "sync" in opts.only:
                concurrency(backend, collector, fleet, logs, kiosks, secrets, opts)
    finally:
        collector.stop()


def pages(backend: str, url: str, collector: CollectorProcess, fleet: Fleet, secrets: dict[str, bytes | None],
          opts: Options) -> None:
    plan = fleet.plan
    console, rng = Console(collector.url), random.Random(plan.seed)
    everyone, one = console.login("bench-all"), console.login("bench-one")
    overviews = [(f"every site ({plan.kiosks:,} kiosks)", everyone, "/"),
                 (f"one site ({plan.kiosks // plan.sites} kiosks)", one, "/")]
    for who, client, what in overviews if "overview" in opts.only else []:
        for _ in range(2):
            timed(client, what)  # warm: templates compiled, connections open
        times = [timed(client, what)[0] for _ in range(opts.requests)]
        say(backend, f"overview, {who}", _ms(times), "p95 <= 300 ms", percentile(times, 0.95) <= 0.3)

    times = []
    for _ in range(max(1, opts.requests // 2) if "events" in opts.only else 0):
        day = rng.choice(fleet.days[:-1] or fleet.days).isoformat()
        query = urlencode({"site": site_name(rng.randrange(plan.sites)), "since": day, "until": day})
        seconds, answer = timed(everyone, f"/events?{query}")
        times.append(seconds)
        following = next_link(answer.text)
        if following:
            times.append(timed(everyone, following)[0])
    if times:
        say(backend, "events page, a site and a day (pages 1 and 2)", _ms(times), "p95 <= 200 ms",
            percentile(times, 0.95) <= 0.2)

    tracer = console.login("bench-tracer", secrets["bench-tracer"])
    if "trace" in opts.only:
        traces(backend, tracer, fleet, opts)
    if "export" in opts.only:
        exported(backend, url, collector, everyone, fleet, opts)
    for client in (everyone, one, tracer):
        client.close()


def traces(backend: str, tracer: httpx.Client, fleet: Fleet, opts: Options) -> None:
    plan = fleet.plan
    first, last = fleet.days[0].isoformat(), fleet.days[-1].isoformat()
    found = [trace(tracer, plan.subject(person), first, last) for person in traced(plan, opts.traces)]
    worst = max(seconds for seconds, _, _ in found)
    say(backend, f"trace of a subject over {plan.days} days (x{len(found)})",
        f"max {worst:6.2f} s, mean {statistics.mean(s for s, _, _ in found):.2f} s "
        f"({min(v for _, v, _ in found)}-{max(v for _, v, _ in found)} visits, "
        f"{min(o for _, _, o in found)}-{max(o for _, _, o in found)} others)", "<= 1 s", worst <= 1.0)


def exported(backend: str, url: str, collector: CollectorProcess, everyone: httpx.Client, fleet: Fleet,
             opts: Options) -> None:
    plan = fleet.plan
    since = export_since(url, opts.export_rows, plan.tz)
    rows, seconds, before, peak = export(everyone, f"/export?{urlencode({'format': 'csv', 'since': since})}",
                                         collector.process.pid)
    say(backend, "CSV export, streamed", f"{rows:>10,} rows in {seconds:6.1f} s = {rows / seconds:8,.0f} rows/s",
        ">= 80,000 rows/s", rows / seconds >= 80_000)
    say(backend, "server RSS during the export", f"peak {peak / 2**20:6.0f} MB (before: {before / 2**20:.0f} MB)",
        "<= 300 MB", peak <= 300 * 2**20)


def concurrency(backend: str, collector: CollectorProcess, fleet: Fleet, logs: dict[int, Path], kiosks: Kiosks,
                secrets: dict[str, bytes | None], opts: Options) -> None:
    """The sample kiosks sync rounds alone and with `users` people at work in the console, in turn (alone first and
    last), so a machine that gets busier or quieter meanwhile weighs on both alike."""
    plan, console = fleet.plan, Console(collector.url)
    people = [console.login(f"bench-user-{i:02d}") for i in range(opts.users)]
    sites = [site_name(i % plan.sites) for i in range(opts.users)]

    def page(i: int, rng: random.Random) -> str:
        today = datetime.now(plan.tz).date().isoformat()
        return rng.choices(["/", "/overview/fragment", f"/events?{urlencode({'site': sites[i]})}",
                            f"/events?{urlencode({'site': sites[i], 'since': today, 'until': today})}",
                            f"/events?{urlencode({'site': sites[i], 'verdict': 'deny'})}"], [4, 2, 2, 1, 1])[0]

    alone: list[float] = []
    busy: list[float] = []
    for crowded in [False, *[True, False] * opts.rounds]:
        log_round(fleet, logs, opts.round, time.time())
        users = Users(people, page, opts.think)
        if crowded:
            users.start()
            time.sleep(2 * opts.think)  # everyone at work before the kiosks start
        sent, span = kiosks.sync(collector.url)
        (busy if crowded else alone).append(sent / span)
        with_whom = f"+ {opts.users} console users" if crowded else "alone"
        say(backend, f"sync, {len(logs)} kiosks {with_whom}", f"{sent:>10,} events in {span:6.1f} s = "
                                                              f"{sent / span:8,.0f} events/s")
        if crowded:
            worked = users.stop()
            n = len(users.latencies)
            say(backend, f"  the {opts.users} console users meanwhile",
                f"{n:,} pages, {n / worked:.1f}/s, {_ms(users.latencies) if n else 'none'}"
                f"{f', {len(users.errors)} errors: {users.errors[0][:80]}' if users.errors else ''}")
    drop = 1 - statistics.mean(busy) / statistics.mean(alone)
    say(backend, "sync throughput drop with the console in use",
        f"{drop * 100:8.1f} % (mean of {len(busy)} vs {len(alone)} rounds alone)", "<= 20 %", drop <= 0.2)
    for client in people:
        client.close()


def _ms(seconds: list[float]) -> str:
    return f"p50 {statistics.median(seconds) * 1000:6.0f} ms  p95 {percentile(seconds, 0.95) * 1000:6.0f} ms"


def machine() -> str:
    load = " ".join(f"{n:.1f}" for n in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (a machine shared with other work)"


def save(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))

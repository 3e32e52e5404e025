"""`kiosk sync`: one sync pass in the foreground (trust files down, audit events up), or `--status`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.audit.settings import LogConfig, existing_default_log
from kiosk.audit.store import AuditLog
from kiosk.cli.common import config_of, new_command, print_json
from kiosk.errors import KioskError, LogWriteError
from kiosk.sync.outbox import Outbox
from kiosk.sync.service import SyncParts, sync_once
from kiosk.sync.wiring import build_sync, status


def register(commands: Any) -> None:
    p = new_command(commands, "sync", "send the audit log to the collector and pull new trust files, once")
    p.add_argument("--status", action="store_true",
                   help="only show pending events, the last success, trust age and clock warnings")
    p.add_argument("--no-trust", action="store_true", help="do not pull trust files this time")
    p.add_argument("--log", type=Path, metavar="DB", help="audit log (default: [log] path of the config)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(run=run_sync)


def _log_path(args: argparse.Namespace, configured: LogConfig | None) -> Path:
    if args.log is not None:
        return Path(args.log)
    if configured is None:
        return existing_default_log()  # the log `kiosk run` keeps without a [log] section
    return configured.path


def run_sync(args: argparse.Namespace) -> int:
    config = config_of(args)
    path = _log_path(args, config.log)
    if not path.exists():
        raise KioskError(f"{path}: no such audit log")
    with AuditLog(path) as log:
        if args.status:
            with Outbox(log) as outbox:
                return _show(status(outbox, config.trust_dir, config.limits, time.time()), args.json,
                             config.sync is not None)
        if config.sync is None:
            raise KioskError("no collector configured: add a [sync] section with url to the config")
        raw = config.log is not None and config.log.raw_subject
        with build_sync(config.sync, log, config.trust_dir, raw_subjects=raw) as parts:
            return _pass(parts, args)


def _pass(parts: SyncParts, args: argparse.Namespace) -> int:
    from tqdm import tqdm  # type: ignore[import-untyped]

    with tqdm(total=parts.outbox.pending(), unit="event", unit_scale=True, file=sys.stderr,
              desc="sync", disable=None if not args.json else True) as bar:
        outcome = sync_once(parts, pull_trust=not args.no_trust, progress=bar.update)
    if outcome.log_failed:  # the log itself, not the collector: one line and exit 2, as any broken log
        raise LogWriteError(outcome.error or "the audit log failed")
    summary: dict[str, Any] = {"device": parts.identity.id}
    if outcome.pulled:
        summary["trust"] = {"installed": [f"{i.kind} seq {i.seq}" for i in outcome.installed],
                            "current": list(outcome.current), "refused": list(outcome.refused)}
    if outcome.error is not None:
        pending = "?" if outcome.pending is None else f"{outcome.pending:,}"
        sys.stderr.write(f"kiosk sync: {outcome.error}; {pending} events pending, sent again next time\n")
        if args.json:
            print_json({"device": parts.identity.id, "ok": False, "error": outcome.error, "pending": outcome.pending})
        return 1
    summary.update(ok=True, sent=outcome.sent, stored=outcome.stored, duplicates=outcome.duplicates,
                   batches=outcome.batches, pending=outcome.pending, faults=[f.as_dict() for f in outcome.faults])
    if args.json:
        print_json(summary)
        return 0
    for line in summary.get("trust", {}).get("installed", []):
        print(f"trust: installed {line}")
    for line in summary.get("trust", {}).get("refused", []):
        print(f"trust: REFUSED {line}")
    print(f"synced {outcome.sent:,} events ({outcome.stored:,} new to the collector, {outcome.duplicates:,} it had) "
          f"in {outcome.batches} batches; {outcome.pending:,} pending")
    for fault in outcome.faults:
        print(f"collector: {fault.message}")
    return 0


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    return f"{datetime.fromtimestamp(epoch).strftime('%Y-%m-%d %H:%M:%S')} ({_ago(now - epoch)} ago)"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _show(info: dict[str, Any], as_json: bool, configured: bool) -> int:
    if as_json:
        print_json({**info, "configured": configured})
        return 0
    now = time.time()
    offset = info["clock_offset"]
    print(f"pending events   {info['pending']:,}" + ("" if configured else "  (no [sync] configured)"))
    print(f"last success     {_when(info['last_success'], now)}")
    print(f"last attempt     {_when(info['last_attempt'], now)}")
    if info["last_error"]:
        print(f"last error       {info['last_error']}")
    print(f"uploaded         {info['uploaded']:,} events in all")
    print(f"clock            {'not compared yet' if offset is None else f'{offset:+.1f} s from the collector'}")
    print(f"trust refreshed  {_when(info['trust_refreshed'], now)}")
    for alert in info["alerts"]:
        print(f"{alert['level'].upper():16} {alert['en']} / {alert['zh']}")
    return 0

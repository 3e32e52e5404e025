"""`kiosk log verify|export|report|purge|register|correct`: the audit log, for site managers and volunteers."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from kiosk.audit.recorder import Recorder
from kiosk.audit.registration import fever_words
from kiosk.audit.settings import LogConfig, existing_default_log, subject_secret
from kiosk.audit.store import AuditLog
from kiosk.cli.common import celsius, config_of, day, moment, new_command, print_json
from kiosk.errors import KioskError
from kiosk.sync.outbox import Outbox


def register(commands: Any) -> None:
    group = new_command(commands, "log", "the audit log: verify, export, report, purge, register a person by hand, "
                                         "correct a registration")
    sub = group.add_subparsers(dest="log_command", metavar="ACTION", required=True)

    p = _command(sub, "verify", "walk the hash chain; name the first broken or missing event")
    p.set_defaults(run=run_verify)

    p = _command(sub, "export", "write events to CSV (Excel-ready), JSONL or XLSX")
    p.add_argument("--format", choices=("csv", "jsonl", "xlsx"), help="default: from the extension of --out")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="FILE.csv, FILE.jsonl or FILE.xlsx")
    p.add_argument("--since", type=moment, metavar="TIME")
    p.add_argument("--until", type=moment, metavar="TIME")
    p.add_argument("--verdict", choices=("pass", "deny", "retry"))
    p.add_argument("--language", choices=("zh", "en"), help="headers (default: [log] language, else zh)")
    p.set_defaults(run=run_export)

    p = _command(sub, "report", "one self-contained HTML page with charts for a day")
    p.add_argument("--day", type=day, default=None, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    p.add_argument("--language", choices=("zh", "en"))
    p.set_defaults(run=run_report)

    p = _command(sub, "purge", "delete events older than the retention (default: [log] retention_days, 28)")
    p.add_argument("--days", type=float, metavar="N")
    p.set_defaults(run=run_purge)

    p = _command(sub, "register", "record a person without a code, by hand")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", type=_field,
                   help="a field the site records, e.g. name=张三 phone=13800000000 (repeatable)")
    p.add_argument("--temperature", type=celsius, metavar="CELSIUS",
                   help="refused outside the policy's plausible range; a fever is flagged and recorded as one")
    p.add_argument("--operator", required=True, help="who registered the person")
    p.set_defaults(run=run_register)

    p = _command(sub, "correct", "correct a registration by hand: a new event that points at it (the log is "
                                 "never edited); exports and reports show the corrected values")
    p.add_argument("event_id", metavar="EVENT_ID", help="the registration's id, as `log register` printed it")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", type=_field,
                   help="a corrected field, e.g. name=张三 (repeatable; NAME= removes the field)")
    p.add_argument("--temperature", type=celsius, metavar="CELSIUS", help="the corrected temperature")
    p.add_argument("--note", help="why, e.g. 'typed 365 for 36.5'")
    p.add_argument("--operator", required=True, help="who corrects it")
    p.set_defaults(run=run_correct)


def _command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    p = new_command(sub, name, help)
    p.add_argument("--log", type=Path, metavar="DB", help="the log file (default: [log] path of the config)")
    return p


def _field(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def _settings(args: argparse.Namespace) -> LogConfig:
    configured = config_of(args).log
    if args.log is not None:
        return LogConfig(args.log) if configured is None else LogConfig(**{**configured.__dict__, "path": args.log})
    if configured is None:
        return LogConfig(existing_default_log())  # the log `kiosk run` keeps without a [log] section
    return configured


def _language(args: argparse.Namespace, settings: LogConfig) -> Literal["zh", "en"]:
    return "en" if (args.language or settings.language) == "en" else "zh"


def _open(settings: LogConfig, *, must_exist: bool = True) -> AuditLog:
    if must_exist and not settings.path.exists():
        raise KioskError(f"{settings.path}: no such audit log")
    return AuditLog(settings.path)


def run_verify(args: argparse.Namespace) -> int:
    with _open(_settings(args)) as audit:
        report = audit.verify()
    if report.ok:
        print(f"ok: {report.events:,} events, the chain verifies")
        return 0
    where = f"at event {report.first_bad}" if report.first_bad else "at the end"
    print(f"BROKEN {where}: {report.problem} ({report.events:,} events verified before it)")
    return 1


def run_export(args: argparse.Namespace) -> int:
    from kiosk.audit.export import export, format_for

    fmt = format_for(args.out, args.format)
    settings = _settings(args)
    with _open(settings) as audit:
        rows = export(audit, args.out, fmt, since=args.since, until=args.until, verdict=args.verdict,
                      language=_language(args, settings), tz=settings.zone, progress=sys.stderr.isatty(),
                      fields=settings.manual_fields)
    print(f"{rows:,} events written to {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from kiosk.audit.report import report

    settings = _settings(args)
    with _open(settings) as audit:
        zone = settings.zone
        report(audit, args.day or datetime.now(zone).date(), args.out, tz=zone, language=_language(args, settings),
               site_name=settings.site or None, fever_at=config_of(args).policy.fever_threshold)
    print(f"report written to {args.out}")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    settings = _settings(args)
    days = args.days if args.days is not None else settings.retention_days
    now = time.time()
    syncing = config_of(args).sync is not None  # the log keeps what a collector has not acknowledged (purge)
    with _open(settings) as audit:
        unsynced = False
        if syncing:
            with Outbox(audit) as outbox:
                unsynced = outbox.pending() > 0
        deleted = audit.purge(now - days * 86400, at=now, operator="kiosk log purge", syncing=syncing)
    cutoff = datetime.fromtimestamp(now - days * 86400).strftime("%Y-%m-%d %H:%M")
    print(f"{deleted:,} events older than {cutoff} purged (the purge itself is logged)"
          + ("; events not yet synced are kept" if unsynced else ""))
    return 0


def run_register(args: argparse.Namespace) -> int:
    policy = config_of(args).policy
    settings = _settings(args)
    with _open(settings, must_exist=False) as audit:
        try:
            event = Recorder(audit, settings, subject_secret(settings)).manual(
                dict(args.field), at=time.time(), temperature=args.temperature, operator=args.operator, policy=policy)
        except ValueError as err:
            raise KioskError(str(err)) from None
    fever = event.reason == "fever"
    print_json({"id": event.id, "kind": event.kind, "temperature": event.temperature, "fever": fever,
                "fields": sorted(event.details)})
    if fever and event.temperature is not None:
        sys.stderr.write(f"FEVER: {fever_words(event.temperature, policy)[1]}\n")
    return 0


def run_correct(args: argparse.Namespace) -> int:
    policy = config_of(args).policy
    settings = _settings(args)
    with _open(settings) as audit:
        try:
            event = Recorder(audit, settings, subject_secret(settings)).correct(
                args.event_id, dict(args.field), at=time.time(), temperature=args.temperature,
                operator=args.operator, policy=policy, note=args.note)
        except ValueError as err:
            raise KioskError(str(err)) from None
    fever = event.reason == "fever"
    print_json({"id": event.id, "kind": event.kind, "corrects": args.event_id, "fields": sorted(dict(args.field)),
                "temperature": event.temperature, "fever": fever})
    if fever and event.temperature is not None:
        sys.stderr.write(f"FEVER: {fever_words(event.temperature, policy)[1]}\n")
    return 0

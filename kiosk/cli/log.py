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


def _open(args: argparse.Namespace, *, must_exist: bool = True) -> tuple[AuditLog, LogConfig]:
    settings = _settings(args)
    if must_exist and not settings.path.exists():
        raise KioskError(f"{settings.path}: no such audit log")
    return AuditLog(settings.path), settings


def run_verify(args: argparse.Namespace) -> int:
    audit, _ = _open(args)
    try:
        report = audit.verify()
    finally:
        audit.close()
    if report.ok:
        print(f"ok: {report.events:,} events, the chain verifies")
        return 0
    where = f"at event {report.first_bad}" if report.first_bad else "at the end"
    print(f"BROKEN {where}: {report.problem} ({report.events:,} events verified before it)")
    return 1


def run_export(args: argparse.Namespace) -> int:
    from kiosk.audit.export import export, format_for

    fmt = format_for(args.out, args.format)
    audit, settings = _open(args)
    try:
        rows = export(audit, args.out, fmt, since=args.since, until=args.until, verdict=args.verdict,
                      language=_language(args, settings), tz=settings.zone, progress=sys.stderr.isatty(),
                      fields=settings.manual_fields)
    finally:
        audit.close()
    print(f"{rows:,} events written to {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from kiosk.audit.report import report

    audit, settings = _open(args)
    try:
        zone = settings.zone
        report(audit, args.day or datetime.now(zone).date(), args.out, tz=zone, language=_language(args, settings),
               site_name=settings.site or None, fever_at=config_of(args).policy.fever_threshold)
    finally:
        audit.close()
    print(f"report written to {args.out}")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    audit, settings = _open(args)
    days = args.days if args.days is not None else settings.retention_days
    now = time.time()
    keep = None
    try:
        if config_of(args).sync is not None:  # a kiosk with a collector never purges what it has not delivered
            outbox = Outbox(audit)
            keep = outbox.first_pending()
            outbox.close()
        deleted = audit.purge(now - days * 86400, keep_after_id=keep, at=now, operator="kiosk log purge")
    finally:
        audit.close()
    cutoff = datetime.fromtimestamp(now - days * 86400).strftime("%Y-%m-%d %H:%M")
    print(f"{deleted:,} events older than {cutoff} purged (the purge itself is logged)"
          + ("; events not yet synced are kept" if keep is not None else ""))
    return 0


def run_register(args: argparse.Namespace) -> int:
    policy = config_of(args).policy
    audit, settings = _open(args, must_exist=False)
    try:
        recorder = Recorder(audit, settings, subject_secret(settings))
        event = recorder.manual(dict(args.field), at=time.time(), temperature=args.temperature,
                                operator=args.operator, policy=policy)
    except ValueError as err:
        raise KioskError(str(err)) from None
    finally:
        audit.close()
    fever = event.reason == "fever"
    print_json({"id": event.id, "kind": event.kind, "temperature": event.temperature, "fever": fever,
                "fields": sorted(event.details)})
    if fever and event.temperature is not None:
        sys.stderr.write(f"FEVER: {fever_words(event.temperature, policy)[1]}\n")
    return 0


def run_correct(args: argparse.Namespace) -> int:
    policy = config_of(args).policy
    audit, settings = _open(args)
    try:
        recorder = Recorder(audit, settings, subject_secret(settings))
        event = recorder.correct(args.event_id, dict(args.field), at=time.time(), temperature=args.temperature,
                                 operator=args.operator, policy=policy, note=args.note)
    except ValueError as err:
        raise KioskError(str(err)) from None
    finally:
        audit.close()
    fever = event.reason == "fever"
    print_json({"id": event.id, "kind": event.kind, "corrects": args.event_id, "fields": sorted(dict(args.field)),
                "temperature": event.temperature, "fever": fever})
    if fever and event.temperature is not None:
        sys.stderr.write(f"FEVER: {fever_words(event.temperature, policy)[1]}\n")
    return 0

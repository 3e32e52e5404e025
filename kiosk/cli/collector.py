"""`kiosk collector ...`: run the collector, enroll kiosks, and export or report across all of them."""

from __future__ import annotations

import argparse
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kiosk.cli.common import moment, new_command, print_json, seconds
from kiosk.collector.limits import FD_RESERVE, Limits
from kiosk.collector.store import CollectorStore, Device, open_store
from kiosk.errors import KioskError
from kiosk.sync.protocol import MAX_SKEW

DEFAULTS = Limits()


def register(commands: Any) -> None:
    group = new_command(commands, "collector", "the site's collector: serve, enroll kiosks, export, report")
    sub = group.add_subparsers(dest="collector_command", metavar="ACTION", required=True)

    p = _command(sub, "serve", "run the collector (HTTP, or HTTPS with --tls-cert/--tls-key) until stopped")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--trust-files", type=Path, metavar="DIR",
                   help="folder where the authority publishes trust.cose and status.cose, served to kiosks")
    p.add_argument("--max-skew", type=seconds, default=MAX_SKEW, metavar="SECONDS",
                   help=f"how far a batch's signing time may be from this clock (default {MAX_SKEW:.0f})")
    p.add_argument("--tls-cert", type=Path, metavar="PEM")
    p.add_argument("--tls-key", type=Path, metavar="PEM")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("--header-timeout", type=seconds, default=DEFAULTS.header_timeout, metavar="SECONDS",
                   help=f"close a connection whose request headers are not in by then (default "
                        f"{DEFAULTS.header_timeout:g}; a TLS handshake gets as long again)")
    p.add_argument("--body-timeout", type=seconds, default=DEFAULTS.body_timeout, metavar="SECONDS",
                   help=f"close a connection whose request body is not in by then (default {DEFAULTS.body_timeout:g})")
    p.add_argument("--keepalive-timeout", type=seconds, default=DEFAULTS.keepalive_timeout, metavar="SECONDS",
                   help=f"close a connection idle between requests (default {DEFAULTS.keepalive_timeout:g})")
    p.add_argument("--max-connections", type=int, default=None, metavar="N",
                   help=f"connections open at once (default: the open-file limit less {FD_RESERVE})")
    p.set_defaults(run=run_serve)

    p = _command(sub, "enroll", "allow a kiosk to upload: its public key, as `kiosk device show` prints it")
    p.add_argument("public_key", metavar="PUBLIC_KEY", help="64 hex digits")
    p.add_argument("--name", default="", help="what people call it: 'Gate 2 left', 'Bus 37'")
    p.set_defaults(run=run_enroll)

    p = _command(sub, "revoke", "refuse a kiosk's uploads from now on (a lost or stolen kiosk)")
    p.add_argument("device", metavar="DEVICE_ID")
    p.set_defaults(run=run_revoke)

    p = _command(sub, "devices", "enrolled kiosks: last upload, events, chain faults")
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    p.set_defaults(run=run_devices)

    p = _command(sub, "faults", "gaps and conflicts seen in the kiosks' hash chains")
    p.add_argument("--device", metavar="DEVICE_ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_faults)

    p = _command(sub, "export", "every kiosk's events to CSV, JSONL or XLSX (the kiosk's own columns)")
    p.add_argument("--format", choices=("csv", "jsonl", "xlsx"), default="csv")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--since", type=moment, metavar="TIME")
    p.add_argument("--until", type=moment, metavar="TIME")
    p.add_argument("--verdict", choices=("pass", "deny", "retry"))
    p.add_argument("--device", metavar="DEVICE_ID", help="only the events of one kiosk (its device id)")
    p.add_argument("--language", choices=("zh", "en"), default="zh")
    p.set_defaults(run=run_export)

    p = _command(sub, "report", "one HTML page for a day across every kiosk (the kiosk's own report)")
    p.add_argument("--day", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD", help="default: today")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    p.add_argument("--device", metavar="DEVICE_ID", help="only one kiosk (its device id)")
    p.add_argument("--site", default=None, help="the title of the page")
    p.add_argument("--language", choices=("zh", "en"), default="zh")
    p.set_defaults(run=run_report)


def _command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    p = new_command(sub, name, help)
    p.add_argument("--db", default=os.environ.get("KIOSK_COLLECTOR_DB"), metavar="URL",
                   help="sqlite:///path/collector.db or postgresql://user@host/db (default: $KIOSK_COLLECTOR_DB)")
    return p


def _open(args: argparse.Namespace) -> CollectorStore:
    if not args.db:
        raise KioskError("no database: give --db URL or set KIOSK_COLLECTOR_DB")
    return open_store(args.db)


def run_serve(args: argparse.Namespace) -> int:
    from kiosk.collector.serve import serve

    if not args.db:
        raise KioskError("no database: give --db URL or set KIOSK_COLLECTOR_DB")
    if args.max_connections is not None and args.max_connections < 1:
        raise KioskError("--max-connections must be 1 or more")
    limits = Limits(args.header_timeout, args.body_timeout, args.keepalive_timeout,
                    max_connections=args.max_connections)
    serve(args.db, host=args.host, port=args.port, trust_files=args.trust_files, max_skew=args.max_skew,
          tls_cert=args.tls_cert, tls_key=args.tls_key, access_log=args.access_log, limits=limits)
    return 0


def run_enroll(args: argparse.Namespace) -> int:
    try:
        public = bytes.fromhex(args.public_key.strip())
    except ValueError:
        public = b""
    if len(public) != 32:
        raise KioskError("the public key is 64 hex digits, as `kiosk device show` prints it")
    store = _open(args)
    try:
        device = store.enroll(public, args.name, time.time())
    finally:
        store.close()
    print(f"enrolled {device.id}{f' ({device.name})' if device.name else ''}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        device = store.revoke(args.device, time.time())
    finally:
        store.close()
    print(f"revoked {device.id}{f' ({device.name})' if device.name else ''}: its uploads are refused from now on")
    return 0


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch is not None else "never"


def _device_dict(d: Device) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "public_key": d.public_key.hex(), "enrolled_at": d.enrolled_at,
            "revoked_at": d.revoked_at, "last_seen": d.last_seen, "events": d.events,
            "head": d.head.event_id if d.head else None, "faults": d.faults}


def run_devices(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        devices = store.devices()
    finally:
        store.close()
    if args.json:
        for device in devices:
            print_json(_device_dict(device))
        return 0
    print(f"{'device':16}  {'name':20}  {'last upload':19}  {'events':>10}  {'faults':>6}  state")
    for d in devices:
        state = f"revoked {_when(d.revoked_at)}" if d.revoked_at is not None else "enrolled"
        print(f"{d.id:16}  {d.name[:20]:20}  {_when(d.last_seen):19}  {d.events:>10,}  {d.faults:>6}  {state}")
    return 0


def run_faults(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        faults = store.faults(args.device)
    finally:
        store.close()
    for f in faults:
        if args.json:
            print_json({"device": f.device, "kind": f.kind, "event_id": f.event_id, "after_id": f.after_id,
                        "message": f.message, "seen_at": f.seen_at})
        else:
            print(f"{_when(f.seen_at)}  {f.device}  {f.kind:8}  {f.message}")
    if not faults and not args.json:
        print("no faults: every chain the collector holds links up")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from kiosk.collector.views import export_all

    store = _open(args)
    try:
        rows = export_all(store, args.out, args.format, since=args.since, until=args.until, verdict=args.verdict,
                          device=args.device, language=args.language)
    finally:
        store.close()
    print(f"{rows:,} events written to {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from kiosk.collector.views import report_all

    store = _open(args)
    try:
        report_all(store, args.day or date.today(), args.out, device=args.device, language=args.language,
                   site_name=args.site)
    finally:
        store.close()
    print(f"report written to {args.out}")
    return 0

"""`kiosk collector ...`: run the collector, enroll kiosks, and export or report across all of them."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kiosk.cli.common import day, moment, new_command, print_json, seconds
from kiosk.collector.database import DATABASE_VARIABLE, database_url, default_file, open_store
from kiosk.collector.limits import FD_RESERVE, Limits
from kiosk.collector.store import CollectorStore, Device
from kiosk.device_names import fit, label, name_problem, printable, short_id
from kiosk.errors import KioskError
from kiosk.sync.protocol import MAX_SKEW

DEFAULTS = Limits()
DEFAULT_PORT = 8080  # a plain default for trying it out; the unit (deploy/kiosk-collector.service) serves 8443
NAME_COLUMNS = 24  # display columns of the name in the devices and faults tables


class ShowDefaults(argparse.HelpFormatter):
    """`--help` gives every option's default, so leaving one out is never a guess (a help that names its
    default already, or an option with none, is left as it is)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})"


def register(commands: Any) -> None:
    group = new_command(commands, "collector", "the site's collector: serve, enroll kiosks, export, report")
    sub = group.add_subparsers(dest="collector_command", metavar="ACTION", required=True)

    p = _command(sub, "serve", "run the collector (HTTP, or HTTPS with --tls-cert/--tls-key) until stopped")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: every address)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on, which the kiosks' [sync] url names (default: {DEFAULT_PORT}; "
                        "deploy/kiosk-collector.service uses 8443)")
    p.add_argument("--trust-files", type=Path, metavar="DIR",
                   help="folder where the authority publishes trust.cose and status.cose, served to kiosks "
                        "(default: none served)")
    p.add_argument("--max-skew", type=seconds, default=MAX_SKEW, metavar="SECONDS",
                   help=f"how far a batch's signing time may be from this clock (default: {MAX_SKEW:.0f})")
    p.add_argument("--tls-cert", type=Path, metavar="PEM",
                   help="the server's certificate (chain); with --tls-key it speaks HTTPS (default: plain HTTP)")
    p.add_argument("--tls-key", type=Path, metavar="PEM",
                   help="the certificate's private key (default: none, plain HTTP)")
    p.add_argument("--access-log", action="store_true", help="log every request (default: only warnings)")
    p.add_argument("--header-timeout", type=seconds, default=DEFAULTS.header_timeout, metavar="SECONDS",
                   help=f"close a connection whose request headers are not in by then (default: "
                        f"{DEFAULTS.header_timeout:g}; a TLS handshake gets as long again)")
    p.add_argument("--body-timeout", type=seconds, default=DEFAULTS.body_timeout, metavar="SECONDS",
                   help=f"close a connection whose request body is not in by then (default: {DEFAULTS.body_timeout:g})")
    p.add_argument("--keepalive-timeout", type=seconds, default=DEFAULTS.keepalive_timeout, metavar="SECONDS",
                   help=f"close a connection idle between requests (default: {DEFAULTS.keepalive_timeout:g})")
    p.add_argument("--max-connections", type=int, default=None, metavar="N",
                   help=f"connections open at once (default: the open-file limit less {FD_RESERVE})")
    p.add_argument("--trust-root", type=Path, metavar="DIR",
                   help="a folder of pinned roots (DIR/roots/*.pub, as `kiosk trust pin` makes): the console's trust "
                        "page checks uploads against them before it publishes to --trust-files (default: none, the "
                        "console publishes nothing)")
    p.add_argument("--subject-key", type=Path, metavar="FILE",
                   help="the deployment's subject key (hex), the file the kiosks' [log] secret_file names: the "
                        "console then finds a person by the id on their code (default: none, by reference only)")
    p.add_argument("--timezone", default="", metavar="ZONE",
                   help="the IANA zone the console shows and reads dates in, e.g. Asia/Shanghai "
                        "(default: the machine's)")
    p.add_argument("--retention-days", type=float, default=None, metavar="DAYS",
                   help="purge events older than this, at start and every hour, as the kiosks do "
                        "(default: keep every event)")
    p.add_argument("--session-idle", type=seconds, default=None, metavar="SECONDS",
                   help="a console session unused this long ends (default: the console's, 30 minutes)")
    p.add_argument("--session-max", type=seconds, default=None, metavar="SECONDS",
                   help="a console session ends this long after its login, used or not (default: the console's, "
                        "12 hours)")
    p.set_defaults(run=run_serve)

    p = _command(sub, "enroll", "allow a kiosk to upload: its public key, as `kiosk device show` prints it")
    p.add_argument("public_key", metavar="PUBLIC_KEY", help="64 hex digits")
    p.add_argument("--name", default="", help="the kiosk's name, its [log] device: 'Gate 2', 'Bus 37' "
                                              "(default: none; it is shown by its short id)")
    p.set_defaults(run=run_enroll)

    device_help = "its device id, the first 8 digits of it, or its name"
    p = _command(sub, "revoke", "refuse a kiosk's uploads from now on (a lost or stolen kiosk)")
    p.add_argument("device", metavar="DEVICE", help=f"the kiosk: {device_help}")
    p.set_defaults(run=run_revoke)

    p = _command(sub, "devices", "enrolled kiosks: last upload, events, chain faults")
    p.add_argument("--json", action="store_true", help="one JSON object per device (default: a table)")
    p.set_defaults(run=run_devices)

    p = _command(sub, "faults", "gaps and conflicts seen in the kiosks' hash chains")
    p.add_argument("--device", metavar="DEVICE", help=f"only one kiosk's, by {device_help} (default: every kiosk's)")
    p.add_argument("--json", action="store_true", help="one JSON object per fault (default: one line each)")
    p.set_defaults(run=run_faults)

    p = _command(sub, "export", "every kiosk's events to CSV, JSONL or XLSX (the kiosk's own columns)")
    p.add_argument("--format", choices=("csv", "jsonl", "xlsx"),
                   help="file format (default: from the extension of --out)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file to write")
    p.add_argument("--since", type=moment, metavar="TIME", help="events from then on (default: the first)")
    p.add_argument("--until", type=moment, metavar="TIME", help="events before then (default: the last)")
    p.add_argument("--verdict", choices=("pass", "deny", "retry"), help="only these (default: every verdict)")
    p.add_argument("--device", metavar="DEVICE", help=f"only one kiosk's events, by {device_help} (default: all)")
    p.add_argument("--language", choices=("zh", "en"), default="zh", help="column headers")
    p.set_defaults(run=run_export)

    p = _command(sub, "report", "one HTML page for a day across every kiosk (the kiosk's own report)")
    p.add_argument("--day", type=day, default=None, metavar="YYYY-MM-DD", help="(default: today)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html", help="the page to write")
    p.add_argument("--device", metavar="DEVICE", help=f"only one kiosk, by {device_help} (default: all)")
    p.add_argument("--site", default=None, help="the title of the page (default: the site of the events)")
    p.add_argument("--language", choices=("zh", "en"), default="zh", help="the page's language")
    p.set_defaults(run=run_report)

    p = new_command(sub, "demo", "the web console on demo data: a collector, six kiosks syncing, a printed login")
    p.formatter_class = ShowDefaults
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    p.add_argument("--db", metavar="URL", help="an empty database for the demo, sqlite:///... or postgresql://... "
                                              "(default: a temporary SQLite file, deleted when the demo stops)")
    p.set_defaults(run=run_demo)

    from kiosk.cli.console_users import register as register_users  # the web console's accounts

    register_users(sub, _command)


def _command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    p = new_command(sub, name, help)
    p.formatter_class = ShowDefaults
    p.add_argument("--db", metavar="URL",
                   help=f"sqlite:///path/collector.db or postgresql://user@host/db (default: ${DATABASE_VARIABLE}, "
                        f"else the SQLite file {default_file()}: the same rule for "
                        "every collector command; only serve, enroll and user add make a new SQLite file)")
    return p


def _open(args: argparse.Namespace, create: bool = False) -> CollectorStore:
    """The database of --db, $KIOSK_COLLECTOR_DB or the data folder; only serve and enroll make a new one."""
    return open_store(database_url(args.db), create=create)


def _device(store: CollectorStore, given: str) -> Device:
    """The enrolled kiosk `given` names: its device id, a prefix of it (8 digits or more), or its name."""
    devices = store.devices()
    text = given.strip()
    found = [d for d in devices if d.id == text.lower()]
    if not found and len(text) >= 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        found = [d for d in devices if d.id.startswith(text.lower())]
    if not found:
        found = [d for d in devices if d.name == text]
    if len(found) > 1:
        raise KioskError(f"{len(found)} kiosks answer to {printable(given)!r}: give the device id of one: "
                         + ", ".join(label(d.name, d.id) for d in found[:10]))
    if not found:
        raise KioskError(f"no kiosk {printable(given)!r} is enrolled here (`kiosk collector devices` lists them)")
    return found[0]


def run_serve(args: argparse.Namespace) -> int:
    from kiosk.collector.serve import ConsoleOptions, serve

    if args.max_connections is not None and args.max_connections < 1:
        raise KioskError("--max-connections must be 1 or more")
    limits = Limits(args.header_timeout, args.body_timeout, args.keepalive_timeout,
                    max_connections=args.max_connections)
    serve(database_url(args.db), host=args.host, port=args.port, trust_files=args.trust_files, max_skew=args.max_skew,
          tls_cert=args.tls_cert, tls_key=args.tls_key, access_log=args.access_log, limits=limits,
          console=ConsoleOptions(args.subject_key, args.timezone, args.retention_days, args.session_idle,
                                 args.session_max, args.trust_root))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from kiosk.console.demo import run_demo as demo

    return demo(args.db, args.host, args.port)


def run_enroll(args: argparse.Namespace) -> int:
    try:
        public = bytes.fromhex(args.public_key.strip())
    except ValueError:
        public = b""
    if len(public) != 32:
        raise KioskError("the public key is 64 hex digits, as `kiosk device show` prints it")
    if problem := name_problem(args.name):
        raise KioskError(f"--name: {problem}")
    with _open(args, create=True) as store:
        device = store.enroll(public, args.name, time.time())
        namesakes = [d for d in store.devices() if d.name == device.name and d.id != device.id and device.name]
    print(f"enrolled {label(device.name, device.id)}: device id {device.id}")
    if namesakes:
        sys.stderr.write(f"warning: {', '.join(label(d.name, d.id) for d in namesakes)} has this name too; "
                         "the short ids tell them apart\n")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with _open(args) as store:
        device = store.revoke(_device(store, args.device).id, time.time())
    print(f"revoked {label(device.name, device.id)}: its uploads are refused from now on")
    return 0


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch is not None else "never"


def _device_dict(d: Device) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "public_key": d.public_key.hex(), "enrolled_at": d.enrolled_at,
            "revoked_at": d.revoked_at, "last_seen": d.last_seen, "events": d.events,
            "head": d.head.event_id if d.head else None, "faults": d.faults}


def run_devices(args: argparse.Namespace) -> int:
    with _open(args) as store:
        devices = store.devices()
    if args.json:
        for device in devices:
            print_json(_device_dict(device))
        return 0
    # Names are padded by display width (a Chinese character takes two columns), so the columns line up.
    print(f"{fit('name', NAME_COLUMNS)}  {'id':8}  {'last upload':19}  {'events':>10}  {'faults':>6}  state")
    for d in devices:
        state = f"revoked {_when(d.revoked_at)}" if d.revoked_at is not None else "enrolled"
        print(f"{fit(d.name, NAME_COLUMNS)}  {short_id(d.id):8}  {_when(d.last_seen):19}  {d.events:>10,}  "
              f"{d.faults:>6}  {state}")
    return 0


def run_faults(args: argparse.Namespace) -> int:
    with _open(args) as store:
        names = {d.id: d.name for d in store.devices()}
        faults = store.faults(_device(store, args.device).id if args.device else None)
    for f in faults:
        if args.json:
            print_json({"device": f.device, "name": names.get(f.device, ""), "kind": f.kind, "event_id": f.event_id,
                        "after_id": f.after_id, "message": f.message, "seen_at": f.seen_at})
        else:
            print(f"{_when(f.seen_at)}  {fit(names.get(f.device, ''), NAME_COLUMNS)}  {short_id(f.device):8}  "
                  f"{f.kind:8}  {f.message}")
    if not faults and not args.json:
        print("no faults: every chain the collector holds links up")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from kiosk.collector.views import export_all

    with _open(args) as store:
        device = _device(store, args.device).id if args.device else None
        rows = export_all(store, args.out, args.format, since=args.since, until=args.until, verdict=args.verdict,
                          device=device, language=args.language)
    print(f"{rows:,} events written to {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from kiosk.collector.views import report_all

    with _open(args) as store:
        device = _device(store, args.device).id if args.device else None
        report_all(store, args.day or date.today(), args.out, device=device, language=args.language,
                   site_name=args.site)
    print(f"report written to {args.out}")
    return 0

"""`kiosk trust ...`: build, sign, import, pin and show the trust files (spec section 4)."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kiosk.cli.common import (
    add_trust_option,
    count,
    moment,
    new_command,
    print_json,
    trust_dir_of,
)
from kiosk.cose import kid_of
from kiosk.errors import KioskError
from kiosk.fileio import write_atomically
from kiosk.healthcode import STATUS_NAMES
from kiosk.issuer import KeyGrant, sign_bundle, sign_status_list
from kiosk.keyfiles import read_public_key, read_signing_key
from kiosk.trust import TrustStore
from kiosk.trustdir import import_file, load_trust_dir, mark_refreshed, pin_root


def register(commands: Any) -> None:
    trust = new_command(commands, "trust", "trust files: sign, import, pin, show")
    sub = trust.add_subparsers(dest="trust_command", metavar="ACTION", required=True)

    p = new_command(sub, "bundle", "build and sign a trust bundle (trust.cose) with a root key")
    p.add_argument("--root-key", type=Path, required=True, metavar="FILE", help="root private key (.key)")
    p.add_argument("--seq", type=count, required=True, help="sequence number; must go up with every bundle")
    p.add_argument("--iat", type=moment, metavar="TIME", help="issued at (default now)")
    p.add_argument("--grant", action="append", default=[], type=_grant, metavar="PUB,ISS,NBF,EXP",
                   help="an issuer key: its .pub file, issuer, valid from, valid until (repeatable)")
    p.add_argument("--revoke", action="append", default=[], type=_kid, metavar="KID",
                   help="a revoked kid, as 16 hex digits or a .pub file (repeatable)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.set_defaults(run=run_bundle)

    p = new_command(sub, "status-list", "build and sign a status list (status.cose) with an issuer key")
    p.add_argument("--key", type=Path, required=True, metavar="FILE", help="issuer private key (.key)")
    p.add_argument("--iss", required=True, help="the issuer the list speaks for")
    p.add_argument("--seq", type=count, required=True, help="sequence number; must go up with every list")
    p.add_argument("--iat", type=moment, metavar="TIME", help="issued at (default now)")
    p.add_argument("--entry", action="append", default=[], type=_entry, metavar="SUBJECT:STATUS:SINCE",
                   help="subject as 32 hex digits, green|amber|red, time of the change (repeatable)")
    p.add_argument("--entries", type=Path, metavar="CSV", help="more entries, one subject,status,since a row")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.set_defaults(run=run_status_list)

    p = new_command(sub, "import", "verify a trust bundle or status list and install it atomically")
    add_trust_option(p)
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(run=run_import)

    p = new_command(sub, "pin", "pin a root public key (.pub) in the trust directory")
    add_trust_option(p)
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(run=run_pin)

    p = new_command(sub, "show", "show the installed trust data: seq, age, keys, status entries")
    add_trust_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(run=run_show)


def _grant(text: str) -> KeyGrant:
    parts = text.split(",")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("expected PUB_FILE,ISS,NBF,EXP")
    try:
        pub = read_public_key(Path(parts[0]))
    except KioskError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    nbf, exp = int(moment(parts[2])), int(moment(parts[3]))
    if nbf > exp:
        raise argparse.ArgumentTypeError(f"NBF {parts[2]} is after EXP {parts[3]}")
    return KeyGrant(pub, parts[1], nbf, exp)


def _kid(text: str) -> bytes:
    if len(text) == 16:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        return kid_of(read_public_key(Path(text)))
    except KioskError as err:
        raise argparse.ArgumentTypeError(f"neither 16 hex digits nor a public key file: {err}") from None


def _entry(text: str, sep: str = ":") -> tuple[bytes, int, int]:
    # After SUBJECT:STATUS: the rest is SINCE, which may be an ISO time with colons of its own.
    parts = [p.strip() for p in (text.split(sep, 2) if sep == ":" else text.split(sep))]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected SUBJECT{sep}STATUS{sep}SINCE, got {text!r}")
    try:
        subject = bytes.fromhex(parts[0])
    except ValueError:
        subject = b""
    if len(subject) != 16:
        raise argparse.ArgumentTypeError(f"a subject is 32 hex digits: {parts[0]!r}")
    status = parts[1].lower()
    if status not in STATUS_NAMES and status not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"status is green, amber or red: {parts[1]!r}")
    code = STATUS_NAMES.index(status) if status in STATUS_NAMES else int(status)
    return subject, code, int(moment(parts[2]))


def _csv_entries(path: Path) -> Iterator[tuple[bytes, int, int]]:
    try:
        with path.open(newline="", encoding="utf-8") as rows:
            for number, row in enumerate(csv.reader(rows), 1):
                if not row or row[0].startswith("#") or row[0].strip().lower() == "subject":
                    continue
                try:
                    yield _entry(",".join(row), ",")
                except argparse.ArgumentTypeError as err:
                    raise KioskError(f"{path}:{number}: {err}") from None
    except OSError as err:
        raise KioskError(f"{path}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError:
        raise KioskError(f"{path}: not a UTF-8 text file") from None


def run_bundle(args: argparse.Namespace) -> int:
    iat = int(args.iat if args.iat is not None else time.time())
    data = sign_bundle(read_signing_key(args.root_key), seq=args.seq, iat=iat, keys=args.grant, revoked=args.revoke)
    write_atomically(args.out, data)
    print(f"trust bundle seq {args.seq} with {len(args.grant)} key(s), {len(args.revoke)} revoked: {args.out}")
    return 0


def run_status_list(args: argparse.Namespace) -> int:
    entries = list(args.entry)
    if args.entries is not None:
        entries.extend(_csv_entries(args.entries))
    iat = int(args.iat if args.iat is not None else time.time())
    data = sign_status_list(read_signing_key(args.key), seq=args.seq, iat=iat, iss=args.iss, entries=entries)
    write_atomically(args.out, data)
    print(f"status list seq {args.seq} of {args.iss} with {len(entries)} entries: {args.out}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    done = import_file(args.file, trust_dir_of(args))
    state = "already installed" if done.unchanged else "installed"
    if not done.unchanged:  # new data from a stick is fresh; the same file again proves nothing about its age
        mark_refreshed(trust_dir_of(args), time.time(), "import")
    print(f"{done.kind} seq {done.seq} {state}: {done.path}")
    for warning in done.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return 0


def run_pin(args: argparse.Namespace) -> int:
    print(f"root pinned: {pin_root(args.file, trust_dir_of(args))}")
    return 0


def _when(epoch: int) -> str:
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):  # signed by someone else: any integer may be there
        return f"epoch {epoch}"


def describe(store: TrustStore, now: float) -> dict[str, object]:
    """What `kiosk trust show` prints, as plain values."""
    bundle = store.bundle
    keys = [
        {"kid": k.kid.hex(), "iss": k.iss, "nbf": k.nbf, "exp": k.exp,
         "revoked": k.kid in bundle.revoked, "valid_now": k.covers(int(now)) and k.kid not in bundle.revoked}
        for k in bundle.keys.values()
    ]
    status = store.status
    return {
        "bundle": {"seq": bundle.seq, "iat": bundle.iat, "age_seconds": int(now - bundle.iat),
                   "root": bundle.signer.hex(), "keys": keys,
                   "revoked": sorted(kid.hex() for kid in bundle.revoked)},
        "status_list": None if status is None else {
            "seq": status.seq, "iat": status.iat, "iss": status.iss,
            "age_seconds": int(now - status.iat), "entries": len(status)},
        "warnings": list(store.warnings),
    }


def run_show(args: argparse.Namespace) -> int:
    directory = trust_dir_of(args)
    info = describe(load_trust_dir(directory), time.time())
    if args.json:
        print_json(info)
        return 0
    bundle: Any = info["bundle"]
    print(f"trust directory {directory}")
    print(f"bundle seq {bundle['seq']}, issued {_when(bundle['iat'])} "
          f"({bundle['age_seconds'] / 3600:.1f} h ago), root {bundle['root']}")
    for k in bundle["keys"]:
        state = "REVOKED" if k["revoked"] else ("valid now" if k["valid_now"] else "not valid now")
        print(f"  key {k['kid']}  {k['iss']:<12} {_when(k['nbf'])} .. {_when(k['exp'])}  {state}")
    status: Any = info["status_list"]
    if status is None:
        print("status list: none")
    else:
        print(f"status list seq {status['seq']} of {status['iss']}, issued {_when(status['iat'])}, "
              f"{status['entries']:,} entries")
    for warning in info["warnings"]:  # type: ignore[attr-defined]
        print(f"warning: {warning}")
    return 0

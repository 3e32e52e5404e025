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
    echo,
    moment,
    new_command,
    print_json,
    trust_dir_of,
)
from kiosk.cli.dsc import register_make_dsc
from kiosk.cose import kid_of
from kiosk.dsc import CERTIFICATE_TYPES, Dsc, DscIndex, read_dscs
from kiosk.errors import KioskError, TrustFileError
from kiosk.fileio import check_size, read_untrusted, write_atomically
from kiosk.healthcode import STATUS_NAMES
from kiosk.issuer import KeyGrant, sign_bundle, sign_status_list
from kiosk.keyfiles import read_public_key, read_signing_key
from kiosk.trust import MAX_DSCS, TrustBundle, TrustStore
from kiosk.trustdir import import_file, load_trust_dir, mark_refreshed, pin_root

DSC_SUFFIXES = (".pem", ".der", ".crt")  # the files of a --dsc directory that are read


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
    p.add_argument("--dsc", action="append", default=[], type=_dsc_source, metavar="FILE|DIR",
                   help="HC1 document signer certificates: an X.509 file (DER, or PEM with one or more), "
                        "or a directory whose *.pem, *.der and *.crt files are read (repeatable)")
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

    p = new_command(sub, "show", "show the installed trust data: seq, age, keys, DSCs, status entries")
    add_trust_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(run=run_show)

    register_make_dsc(sub)  # kiosk trust make-dsc, for HC1 pilots and tests: its own module (kiosk/cli/dsc.py)


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


def _dsc_source(text: str) -> tuple[Dsc, ...]:
    """The DSCs of a --dsc argument: a certificate file, or every certificate file of a directory, sorted."""
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in DSC_SUFFIXES and p.is_file())
        if not files:
            raise argparse.ArgumentTypeError(f"no *.pem, *.der or *.crt file in the directory {echo(text)}")
    else:
        files = [path]
    found: list[Dsc] = []
    for file in files:
        try:
            found.extend(read_dscs(read_untrusted(file, "trust bundle"), MAX_DSCS))  # no larger than a bundle
        except TrustFileError as err:
            raise argparse.ArgumentTypeError(f"{file}: {err.problem}") from None
    return tuple(found)


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
    ders = list(dict.fromkeys(dsc.der for source in args.dsc for dsc in source))  # a certificate twice counts once
    if len(ders) > MAX_DSCS:
        raise KioskError(f"{len(ders):,} DSCs, more than the {MAX_DSCS:,} a trust bundle may hold")
    data = sign_bundle(read_signing_key(args.root_key), seq=args.seq, iat=iat, keys=args.grant, revoked=args.revoke,
                       dscs=ders)
    try:
        check_size(len(data), "trust bundle")
    except TrustFileError as err:  # what no kiosk would import is not written
        raise KioskError(f"{args.out} not written: {err.problem} (give fewer DSCs)") from None
    write_atomically(args.out, data)
    dscs = f"{len(ders)} DSC(s), " if ders else ""
    print(f"trust bundle seq {args.seq} with {len(args.grant)} key(s), {dscs}{len(args.revoke)} revoked: {args.out}")
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


def _dsc_rows(bundle: TrustBundle, now: float) -> list[dict[str, object]]:
    return [
        {"kid": d.kid.hex(), "country": d.country, "subject": d.subject, "not_before": d.not_before,
         "not_after": d.not_after, "key_usage": [t for t in CERTIFICATE_TYPES if d.allows(t)],
         "revoked": d.kid in bundle.revoked, "valid_now": d.covers(now) and d.kid not in bundle.revoked}
        for same_kid in bundle.dscs.values() for d in same_kid
    ]


def _unreadable(bundle: TrustBundle) -> list[str]:
    """A bundle installed without an import may hold a DSC that cannot be read: say so, as it counts for nothing."""
    count = bundle.dscs.unreadable() if isinstance(bundle.dscs, DscIndex) else 0
    return [f"{count} DSC(s) of the bundle cannot be read and are ignored; import it to see why"] if count else []


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
                   "root": bundle.signer.hex(), "keys": keys, "dscs": _dsc_rows(bundle, now),
                   "revoked": sorted(kid.hex() for kid in bundle.revoked)},
        "status_list": None if status is None else {
            "seq": status.seq, "iat": status.iat, "iss": status.iss,
            "age_seconds": int(now - status.iat), "entries": len(status)},
        "warnings": [*store.warnings, *_unreadable(bundle)],
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
    for d in bundle["dscs"]:
        state = "REVOKED" if d["revoked"] else ("valid now" if d["valid_now"] else "not valid now")
        usage = "all" if len(d["key_usage"]) == len(CERTIFICATE_TYPES) else ",".join(d["key_usage"])
        print(f"  dsc {d['kid']}  {d['country'] or '-':<3} {_when(d['not_before'])} .. {_when(d['not_after'])}  "
              f"{state}  for {usage}  {d['subject']}")
    status: Any = info["status_list"]
    if status is None:
        print("status list: none")
    else:
        print(f"status list seq {status['seq']} of {status['iss']}, issued {_when(status['iat'])}, "
              f"{status['entries']:,} entries")
    for warning in info["warnings"]:  # type: ignore[attr-defined]
        print(f"warning: {warning}")
    return 0

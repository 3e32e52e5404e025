"""Issuer-side commands for pilots, demos and tests: `kiosk keygen` and `kiosk issue`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from kiosk.cli.common import moment, new_command, seconds
from kiosk.errors import KioskError
from kiosk.healthcode import KIND_NAMES, STATUS_NAMES
from kiosk.issuer import issue_code
from kiosk.keyfiles import generate, read_signing_key


def register(commands: Any) -> None:
    p = new_command(commands, "keygen", "make an Ed25519 key pair: PREFIX.key (mode 0600) and PREFIX.pub (0644)")
    p.add_argument("prefix", type=Path, metavar="PREFIX")
    p.set_defaults(run=run_keygen)

    p = new_command(commands, "issue", "issue a signed health code; prints its QR text")
    p.add_argument("--key", type=Path, required=True, metavar="FILE", help="issuer private key (.key)")
    p.add_argument("--iss", required=True, help="issuing authority, e.g. CN-120000")
    p.add_argument("--status", choices=STATUS_NAMES, default="green")
    p.add_argument("--kind", choices=KIND_NAMES, default="dynamic")
    p.add_argument("--subject", type=_hex16, metavar="HEX", help="16-byte person id as 32 hex digits (default random)")
    p.add_argument("--name", help="masked display name, e.g. 张*明")
    p.add_argument("--iat", type=moment, metavar="TIME", help="issued at (default now)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--exp", type=moment, metavar="TIME", help="expiry")
    group.add_argument("--valid-for", type=seconds, default=86400.0, metavar="S",
                       help="expiry after iat (default 1 day)")
    p.add_argument("--png", type=Path, metavar="FILE", help="also save the QR code as a PNG picture")
    p.set_defaults(run=run_issue)


def _hex16(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 16:
        raise argparse.ArgumentTypeError("a subject is 16 bytes: 32 hex digits")
    return value


def run_keygen(args: argparse.Namespace) -> int:
    key_path, pub_path, kid = generate(args.prefix)
    print(f"kid {kid.hex()}\nprivate {key_path} (keep it secret, mode 0600)\npublic  {pub_path}")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    iat = int(args.iat if args.iat is not None else time.time())
    exp = int(args.exp) if args.exp is not None else iat + int(args.valid_for)
    if exp < iat:
        raise KioskError("--exp is before --iat")
    text, _ = issue_code(
        read_signing_key(args.key), iss=args.iss, status=STATUS_NAMES.index(args.status),
        kind=KIND_NAMES.index(args.kind), iat=iat, exp=exp, subject=args.subject, name=args.name,
    )
    if args.png is not None:
        from kiosk.qr_render import save_png

        save_png(text, args.png)
    print(text)
    return 0

"""Issuer-side commands for pilots, demos and tests: `kiosk keygen` and `kiosk issue` (PHC1, or HC1 with a DSC)."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from kiosk.cli.common import echo, moment, new_command, seconds
from kiosk.errors import KioskError
from kiosk.healthcode import KIND_NAMES, STATUS_NAMES
from kiosk.issuer import issue_code
from kiosk.keyfiles import generate, read_signing_key

CERTIFICATES = ("vaccination", "test", "recovery")
DAY = 86400
# HC1's own options, and the certificate type each belongs to (None: every type).
HC1_OPTIONS = {"dsc": None, "certificate": None, "family": None, "given": None, "family_latin": None,
               "given_latin": None, "dob": None, "date": None, "issuer_name": None, "doses": "vaccination",
               "result": "test", "test_type": "test", "recovery_from": "recovery", "recovery_until": "recovery"}
PHC1_OPTIONS = ("key", "status", "kind", "subject", "name")


def register(commands: Any) -> None:
    p = new_command(commands, "keygen", "make an Ed25519 key pair: PREFIX.key (mode 0600) and PREFIX.pub (0644)")
    p.add_argument("prefix", type=Path, metavar="PREFIX")
    p.set_defaults(run=run_keygen)

    p = new_command(commands, "issue", "issue a signed health code; prints its QR text")
    p.add_argument("--format", choices=("phc1", "hc1"), default="phc1",
                   help="phc1 (default), or hc1: an EU Digital COVID Certificate signed with a DSC (--dsc)")
    p.add_argument("--key", type=Path, metavar="FILE", help="PHC1: issuer private key (.key); required")
    p.add_argument("--iss", help="PHC1: issuing authority, e.g. CN-120000 (required); "
                                 "HC1: the issuing country (default: the DSC's)")
    p.add_argument("--status", choices=STATUS_NAMES, help="PHC1 (default green)")
    p.add_argument("--kind", choices=KIND_NAMES, help="PHC1 (default dynamic)")
    p.add_argument("--subject", type=_hex16, metavar="HEX",
                   help="PHC1: 16-byte person id as 32 hex digits (default random)")
    p.add_argument("--name", help="PHC1: masked display name, e.g. 张*明")
    p.add_argument("--iat", type=moment, metavar="TIME", help="issued at (default now)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--exp", type=moment, metavar="TIME", help="expiry")
    group.add_argument("--valid-for", type=seconds, metavar="S",
                       help="expiry after iat (default: PHC1 1 day, HC1 365 days)")
    p.add_argument("--png", type=Path, metavar="FILE", help="also save the QR code as a PNG picture")
    hc1 = p.add_argument_group("HC1 (with --format hc1)")
    hc1.add_argument("--dsc", type=Path, metavar="PREFIX",
                     help="the document signer: PREFIX.pem and PREFIX.key (kiosk trust make-dsc); required")
    hc1.add_argument("--certificate", choices=CERTIFICATES, help="the certificate type; required")
    hc1.add_argument("--family", help="family name in the holder's own script (default Mustermann)")
    hc1.add_argument("--given", help="given name in the holder's own script (default Erika)")
    hc1.add_argument("--family-latin", metavar="NAME",
                     help="family name in ICAO 9303 Latin letters (default: made from --family when it is Latin)")
    hc1.add_argument("--given-latin", metavar="NAME", help="the same for the given name")
    hc1.add_argument("--dob", type=_dob, help="date of birth: YYYY-MM-DD, YYYY-MM or YYYY (default 1964-08-12)")
    hc1.add_argument("--date", type=moment, metavar="TIME",
                     help="vaccination: the dose's day (default 30 days before iat); test: when the sample was "
                          "taken (default 2 hours before iat); recovery: the first positive test (default 30 days "
                          "before iat)")
    hc1.add_argument("--doses", type=_doses, metavar="N/M", help="vaccination: dose N of a series of M (default 2/2)")
    hc1.add_argument("--result", choices=("negative", "positive"), help="test (default negative)")
    hc1.add_argument("--test-type", choices=("naat", "rat"), help="test: naat (PCR, default) or rat (rapid antigen)")
    hc1.add_argument("--recovery-from", type=moment, metavar="TIME",
                     help="recovery: valid from (default 11 days after --date)")
    hc1.add_argument("--recovery-until", type=moment, metavar="TIME",
                     help="recovery: valid until (default 180 days after --date)")
    hc1.add_argument("--issuer-name", metavar="TEXT",
                     help="the entry's issuing authority (default: kiosk pilot, not a real authority)")
    p.set_defaults(run=run_issue, usage_error=p.error)


def _hex16(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 16:
        raise argparse.ArgumentTypeError("a subject is 16 bytes: 32 hex digits")
    return value


def _dob(text: str) -> str:
    if not re.fullmatch(r"(19|20)\d\d(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?", text):
        raise argparse.ArgumentTypeError(f"not a date of birth: {echo(text)} (YYYY-MM-DD, YYYY-MM or YYYY)")
    return text


def _doses(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"([1-9]\d?)/([1-9]\d?)", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"not doses: {echo(text)} (N/M, dose N of a series of M, e.g. 2/2)")
    return int(found.group(1)), int(found.group(2))


def run_keygen(args: argparse.Namespace) -> int:
    key_path, pub_path, kid = generate(args.prefix)
    print(f"kid {kid.hex()}\nprivate {key_path} (keep it secret, mode 0600)\npublic  {pub_path}")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    hc1 = args.format == "hc1"
    given = {name for name in (*PHC1_OPTIONS, *HC1_OPTIONS) if getattr(args, name) is not None}
    for name in sorted(given & set(HC1_OPTIONS if not hc1 else PHC1_OPTIONS)):
        args.usage_error(f"argument --{name.replace('_', '-')}: not with --format {args.format}")
    required = ("dsc", "certificate") if hc1 else ("key", "iss")
    if missing := [f"--{name}" for name in required if getattr(args, name) is None]:
        args.usage_error(f"the following arguments are required: {', '.join(missing)}")
    for name in sorted(given & set(HC1_OPTIONS)):
        if HC1_OPTIONS[name] not in (None, args.certificate):
            args.usage_error(f"argument --{name.replace('_', '-')}: only with --certificate {HC1_OPTIONS[name]}")
    iat = int(args.iat if args.iat is not None else time.time())
    valid_for = args.valid_for if args.valid_for is not None else (365 * DAY if hc1 else DAY)
    exp = int(args.exp) if args.exp is not None else iat + int(valid_for)
    if exp < iat:
        raise KioskError("--exp is before --iat")
    text = _hc1_text(args, iat, exp) if hc1 else issue_code(
        read_signing_key(args.key), iss=args.iss, status=STATUS_NAMES.index(args.status or "green"),
        kind=KIND_NAMES.index(args.kind or "dynamic"), iat=iat, exp=exp, subject=args.subject, name=args.name,
    )[0]
    if args.png is not None:
        from kiosk.qr_render import save_png

        save_png(text, args.png)
    print(text)
    return 0


def _hc1_text(args: argparse.Namespace, iat: int, exp: int) -> str:
    """The HC1 code `kiosk issue --format hc1` asks for."""
    from kiosk.formats import hc1_payload as dcc
    from kiosk.formats.hc1_issue import read_signer, sign_hc1

    signer = read_signer(args.dsc)
    country: str | None = args.iss or signer.country
    if country is None:
        raise KioskError(f"{args.dsc}: the DSC names no country (C=): give --iss")
    where = {"country": country, "issuer": str(args.issuer_name or "kiosk pilot, not a real authority")}
    entry: dict[str, object]
    if args.certificate == "vaccination":
        dose, doses = args.doses or (2, 2)
        entry = dcc.vaccinated(**where, date=_or(args.date, iat - 30 * DAY), dose=dose, doses=doses)
    elif args.certificate == "test":
        entry = dcc.tested(**where, sampled=_or(args.date, iat - 2 * 3600), negative=args.result != "positive",
                           kind=args.test_type or "naat")
    else:
        entry = dcc.recovered(**where, first_positive=_or(args.date, iat - 30 * DAY),
                              valid_from=args.recovery_from, valid_until=args.recovery_until)
    try:
        holder = dcc.Holder(args.family or "Mustermann", args.given if args.given is not None else "Erika",
                            args.family_latin, args.given_latin, args.dob or "1964-08-12")
        payload = dcc.hcert(holder, args.certificate, entry)
    except ValueError as err:  # a name in another script, with no Latin form given
        raise KioskError(f"{err} (--family-latin, --given-latin)") from None
    return sign_hc1(signer, iss=country, iat=iat, exp=exp, hcert=payload)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value

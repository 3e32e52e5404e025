"""`kiosk trust make-dsc`: a document signer certificate (DSC) for HC1 (EU DCC) codes, for pilots, demos and tests.

A real deployment never makes its own DSCs: the member states publish theirs, and the root signs them into the
trust bundle (`kiosk trust bundle --dsc`). This makes one to try the whole chain: the certificate (PREFIX.pem)
and its private key (PREFIX.key, mode 0600) for `kiosk issue --format hc1 --dsc PREFIX`, issued by a country
signing CA (CSCA): the one given with --csca, else a new self-signed one saved beside it as PREFIX-csca.pem and
PREFIX-csca.key, for more DSCs of the same country. Registered under `kiosk trust` by kiosk/cli/trust.py.
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kiosk.cli.common import LATEST, echo, moment, new_command
from kiosk.errors import KioskError

USAGES = ("vaccination", "test", "recovery")
DAY = 86400
X509_EARLIEST = -631152000  # 1950-01-01: an X.509 certificate cannot start before


def register_make_dsc(sub: Any) -> None:
    """Add `make-dsc` to `kiosk trust`'s actions (`sub`: its subparsers)."""
    p = new_command(sub, "make-dsc", "make a document signer certificate (DSC) and key for HC1 codes (pilots, tests)")
    p.add_argument("--country", type=_country, required=True, metavar="CC",
                   help="the issuing country, ISO 3166 alpha-2 (DE, FR, CN, ...)")
    p.add_argument("--out", type=Path, required=True, metavar="PREFIX",
                   help="writes PREFIX.pem (the certificate) and PREFIX.key (the private key, mode 0600)")
    p.add_argument("--alg", choices=("es256", "ps256"), default="es256",
                   help="es256: ECDSA P-256 (default); ps256: RSA-PSS 3072")
    p.add_argument("--usage", type=_usage, metavar="TYPES",
                   help="the certificate types it may sign, e.g. vaccination,test (default: all, no key usage set)")
    p.add_argument("--not-before", type=moment, metavar="TIME", help="valid from (default now)")
    p.add_argument("--valid-days", type=_days, default=365, metavar="N", help="valid for N days (default 365)")
    p.add_argument("--csca", type=Path, metavar="PREFIX",
                   help="issue it from this CSCA (PREFIX.pem, PREFIX.key; default: a new one, saved as OUT-csca)")
    p.set_defaults(run=run_make_dsc)


def _country(text: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise argparse.ArgumentTypeError(f"not a country code: {echo(text)} (two capital letters, e.g. DE)")
    return text


def _usage(text: str) -> frozenset[str]:
    kinds = frozenset(part.strip() for part in text.split(","))
    if not kinds or not kinds <= set(USAGES):
        raise argparse.ArgumentTypeError(f"not certificate types: {echo(text)} (one or more of "
                                         f"{','.join(USAGES)}, comma-separated)")
    return kinds


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 36500:
        raise argparse.ArgumentTypeError(f"not a number of days from 1 to 36500: {echo(text)}")
    return value


def _day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_make_dsc(args: argparse.Namespace) -> int:
    from kiosk.formats.hc1_issue import make_csca, make_dsc, read_signer, save_signer, signer_files

    start = int(args.not_before if args.not_before is not None else time.time())
    end = start + args.valid_days * DAY
    if start < X509_EARLIEST or end > LATEST:  # what an X.509 certificate's times can hold
        raise KioskError("--not-before and --valid-days: a certificate is valid within the years 1950 to 9999")
    out = signer_files(args.out)[0].with_suffix("")  # PREFIX, also when given as PREFIX.pem
    csca_prefix = signer_files(args.csca or out.with_name(out.name + "-csca"))[0].with_suffix("")
    targets = [*signer_files(out), *([] if args.csca else signer_files(csca_prefix))]
    if existing := [str(path) for path in targets if path.exists()]:  # check all before writing any
        raise KioskError(f"{existing[0]} exists already; refusing to overwrite a key")
    if args.csca is not None:
        csca = read_signer(args.csca)
    else:  # a CSCA outlives its DSCs: ten years from the DSC's start
        until = min(LATEST, max(end, start + 3650 * DAY))
        csca = make_csca(args.country, not_before=start, not_after=until, alg=args.alg)
    dsc = make_dsc(csca, country=args.country, not_before=start, not_after=end, alg=args.alg, usage=args.usage)
    pem, key = save_signer(dsc, out)
    if args.csca is None:
        save_signer(csca, csca_prefix)
    usage = ",".join(u for u in USAGES if u in args.usage) if args.usage else "all certificate types"
    print(f"kid {dsc.kid.hex()}  {args.country}  {args.alg}  {usage}  {_day(start)} .. {_day(end)}")
    print(f"certificate {pem}\nprivate     {key} (keep it secret, mode 0600)")
    print(f"issued by   {csca_prefix}.pem" + ("" if args.csca else f" (new CSCA; its key {csca_prefix}.key)"))
    return 0

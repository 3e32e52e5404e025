"""`kiosk admin hash-pin`: the admin PIN's hash, to paste into the config as [kiosk] admin_pin_hash."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from kiosk.checkpoint.pin import hash_pin
from kiosk.cli.common import new_command
from kiosk.errors import KioskError

MIN_DIGITS = 4


def register(commands: Any) -> None:
    group = new_command(commands, "admin", "the kiosk's admin screens")
    sub = group.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    p = new_command(sub, "hash-pin", "hash an admin PIN (asked twice on a terminal, else one line of standard "
                                     "input) for [kiosk] admin_pin_hash")
    p.set_defaults(run=run_hash_pin)


def _read_pin() -> str:
    if sys.stdin.isatty():
        pin = getpass.getpass("admin PIN (digits): ")
        if getpass.getpass("again: ") != pin:
            raise KioskError("the two PINs differ; nothing was hashed")
        return pin
    return sys.stdin.readline().strip()  # a script: `echo 2468 | kiosk admin hash-pin`


def run_hash_pin(args: argparse.Namespace) -> int:
    pin = _read_pin()
    # Digits only: the kiosk's PIN pad has nothing else, so any other PIN could never be typed there.
    if not (pin.isascii() and pin.isdigit() and len(pin) >= MIN_DIGITS):
        raise KioskError(f"the PIN must be at least {MIN_DIGITS} digits (0-9), nothing else")
    print(f'admin_pin_hash = "{hash_pin(pin)}"')
    sys.stderr.write("paste this line under [kiosk] in the config file (readable by the kiosk's user only)\n")
    return 0

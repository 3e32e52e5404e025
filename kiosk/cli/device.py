"""`kiosk device show`: this kiosk's name, id and public key, and the line that enrolls it at the collector."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from kiosk.cli.common import config_of, new_command, print_json
from kiosk.device_identity import load_or_create
from kiosk.device_names import label, name_problem


def register(commands: Any) -> None:
    group = new_command(commands, "device", "this kiosk's identity (an Ed25519 key made on first start)")
    sub = group.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    p = new_command(sub, "show", "print the name, device id and public key, and the command that enrolls this "
                                 "kiosk at the collector; make the key if there is none")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="the device key (default: [sync] device_key of the config, else $KIOSK_DEVICE_KEY, "
                        "else ~/.local/share/kiosk/device.key)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    config = config_of(args)
    # The key sync signs with: the same file `kiosk sync` and the app use, never a second identity.
    key = args.key or (config.sync.device_key if config.sync is not None else None)
    identity, made = load_or_create(key)
    # One name per kiosk: the [log] device its events carry is the name it is enrolled under.
    name = config.log.device if config.log is not None else ""
    enroll = f"kiosk collector enroll {identity.public.hex()}"
    if name and name_problem(name) is None:
        enroll += f" --name {shlex.quote(name)}"
    if args.json:
        print_json({"id": identity.id, "name": name, "public_key": identity.public.hex(),
                    "key_file": str(identity.path), "made_now": made, "enroll": enroll})
        return 0
    if not name:
        shown = f"{label('', identity.id)}  (no [log] device in the config: set it, the name its events carry)"
    elif problem := name_problem(name):
        shown = f"{label(name, identity.id)}  ([log] device cannot be enrolled: {problem})"
    else:
        shown = label(name, identity.id)
    print(f"name        {shown}\ndevice id   {identity.id}\npublic key  {identity.public.hex()}\n"
          f"key file    {identity.path}{'  (made now, mode 0600)' if made else ''}\n"
          f"enroll      {enroll}   (on the collector)")  # a name that could not be enrolled is not in it
    return 0

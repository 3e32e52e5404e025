"""`kiosk device show`: this kiosk's id and public key, for enrolling it at the collector."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.cli.common import config_of, new_command, print_json
from kiosk.device_identity import load_or_create


def register(commands: Any) -> None:
    group = new_command(commands, "device", "this kiosk's identity (an Ed25519 key made on first start)")
    sub = group.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    p = new_command(sub, "show", "print the device id and public key; make the key if there is none")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="the device key (default: [sync] device_key of the config, else $KIOSK_DEVICE_KEY, "
                        "else ~/.local/share/kiosk/device.key)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    configured = config_of(args).sync
    # The key sync signs with: the same file `kiosk sync` and the app use, never a second identity.
    key = args.key or (configured.device_key if configured is not None else None)
    identity, made = load_or_create(key)
    if args.json:
        print_json({"id": identity.id, "public_key": identity.public.hex(), "key_file": str(identity.path),
                    "made_now": made})
    else:
        print(f"device id   {identity.id}\npublic key  {identity.public.hex()}\nkey file    {identity.path}"
              + ("  (made now, mode 0600)" if made else ""))
    return 0

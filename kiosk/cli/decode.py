"""`kiosk decode FILE...`: the QR texts in pictures, one JSON line a file, for installers and scripts."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kiosk.cli.common import new_command, print_json


def register(commands: Any) -> None:
    p = new_command(commands, "decode", "print the QR texts found in pictures, one JSON line per file")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.errors import ImageError  # (a KioskError; caught here so that the other files are still read)
    from kiosk.scanner.decoders import decode_file  # OpenCV loads only when needed

    status = 0
    for name in args.files:
        started = time.perf_counter()
        try:
            texts = decode_file(name)
        except ImageError as err:
            sys.stderr.write(f"kiosk decode: {err}\n")
            status = 2  # the other files are still decoded
            continue
        print_json({"file": name, "texts": texts, "ms": round((time.perf_counter() - started) * 1000, 3)})
    return status

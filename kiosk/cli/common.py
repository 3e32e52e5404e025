"""Argument parsing shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from kiosk.config import Config, load_config


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit 2 (spec section 6)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (try --help)\n")
        sys.exit(2)


# What datetime can show: 0001-01-01 to 9999-12-31, so every time can also be printed.
EARLIEST, LATEST = -62135596800, 253402300799


def moment(text: str) -> float:
    """Epoch seconds from `1767225600`, `2026-01-01T00:00:00Z`, `2026-01-01T08:00+08:00` or `2026-01-01`."""
    try:
        value = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not epoch seconds nor an ISO 8601 time: {text!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)  # a time without a zone is UTC, as codes are
        value = parsed.timestamp()
    # NaN would make every time check false, and so pass an expired code.
    if not (math.isfinite(value) and EARLIEST <= value <= LATEST):
        raise argparse.ArgumentTypeError(f"not a time between the years 1 and 9999: {text!r}")
    return value


def count(text: str) -> int:
    """A whole number 0 or more (a seq is a CBOR uint)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a whole number 0 or more: {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more (and finite): {text!r}")
    return value


def celsius(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # no thermometer reads NaN; and JSON could not show it
        raise argparse.ArgumentTypeError(f"not a temperature in Celsius: {text!r}")
    return value


def new_command(commands: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand parser that also takes --config after the subcommand's name."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
    parser.add_argument("--config", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                        help="configuration file (TOML)")
    return parser


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust", metavar="DIR", type=Path,
                        help="trust directory (default: [trust] dir of the config, "
                             "else $KIOSK_TRUST_DIR, else ~/.local/share/kiosk/trust)")


def config_of(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def trust_dir_of(args: argparse.Namespace) -> Path:
    return Path(args.trust) if args.trust is not None else config_of(args).trust_dir


def print_json(obj: object) -> None:
    """One JSON object on one line, UTF-8 whatever the locale (masked names are Chinese).

    A reader that went away (`kiosk demo --json | head -2`, a gate controller that
    died) must not stop a checkpoint that is still logging: from then on the lines go
    to /dev/null, and the process says so once on stderr.
    """
    line = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"
    try:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own advice: flushing at exit would fail again
        os.close(devnull)
        sys.stderr.write("kiosk: standard output was closed by its reader; verdicts are still logged\n")

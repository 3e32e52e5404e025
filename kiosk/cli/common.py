"""Argument parsing shared by the subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kiosk.tables import SHOWN, cut

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.policy import Policy

TRUST_DIR_WORDS = "give the folder that holds trust.cose and roots/"
# A quoted value in one of argparse's own messages ("invalid choice: '...'"), too long to show whole.
_LONG_QUOTED = re.compile(f"'[^']{{{SHOWN + 1},}}'")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit 2 (spec section 6)."""

    def error(self, message: str) -> NoReturn:
        message = _LONG_QUOTED.sub(_shorter, message)
        sys.stderr.write(f"{self.prog}: {cut(message, 1000)} (try --help)\n")
        sys.exit(2)


def _shorter(quoted: re.Match[str]) -> str:
    if "... (" in quoted.group():  # cut by echo() already
        return quoted.group()
    return f"'{quoted.group()[1:SHOWN + 1]}... ({len(quoted.group()) - 2:,} characters)'"


def echo(text: str) -> str:
    """A bad argument as a message shows it: quoted, on one line, cut when long."""
    return f"'{cut(text)}'"


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
            raise argparse.ArgumentTypeError(f"not epoch seconds nor an ISO 8601 time: {echo(text)} "
                                             "(e.g. 1767225600, 2026-01-01 or 2026-01-01T08:00+08:00)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)  # a time without a zone is UTC, as codes are
        value = parsed.timestamp()
    # NaN would make every time check false, and so pass an expired code.
    if not (math.isfinite(value) and EARLIEST <= value <= LATEST):
        raise argparse.ArgumentTypeError(f"not a time between the years 1 and 9999: {echo(text)}")
    return value


def count(text: str) -> int:
    """A whole number 0 or more (a seq is a CBOR uint)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a whole number 0 or more: {echo(text)}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {echo(text)}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more (and finite): {echo(text)}")
    return value


def celsius(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # no thermometer reads NaN; and JSON could not show it
        raise argparse.ArgumentTypeError(f"not a temperature in Celsius: {echo(text)} (e.g. 36.6)")
    return value


def day(text: str) -> date:
    """A calendar day, `2026-11-27`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {echo(text)} (YYYY-MM-DD)") from None


def trust_folder(text: str) -> Path:
    """A trust directory: a folder, or a path where one will be made (`kiosk trust pin`); never a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        hint = f": here {path.parent}" if path.suffix == ".cose" else ""
        raise argparse.ArgumentTypeError(f"a file, not a trust directory: {echo(text)} ({TRUST_DIR_WORDS}{hint})")
    return path


def new_command(commands: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand parser that also takes --config after the subcommand's name."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
    parser.add_argument("--config", type=Path, metavar="FILE", default=argparse.SUPPRESS,
                        help="configuration file (TOML)")
    return parser


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust", metavar="DIR", type=trust_folder,
                        help="trust directory (default: [trust] dir of the config, "
                             "else $KIOSK_TRUST_DIR, else ~/.local/share/kiosk/trust)")


def config_of(args: argparse.Namespace) -> Config:
    from kiosk.config import load_config  # here: `kiosk --help` and the parser need no config

    return load_config(args.config)


# Without a config file the defaults hold: these then make no Config, and `kiosk verify` imports
# neither kiosk.config nor its sections' modules (devices, log, sync, checkpoint).
def has_config_file(args: argparse.Namespace) -> bool:
    """--config or $KIOSK_CONFIG, as kiosk.config.config_path finds it."""
    return args.config is not None or bool(os.environ.get("KIOSK_CONFIG"))


def trust_dir_of(args: argparse.Namespace) -> Path:
    if args.trust is not None:
        return Path(args.trust)
    if has_config_file(args):
        return config_of(args).trust_dir
    from kiosk.config import default_trust_dir

    return default_trust_dir()


def policy_of(args: argparse.Namespace) -> Policy:
    from kiosk.policy import Policy

    return config_of(args).policy if has_config_file(args) else Policy()


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


@contextlib.contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Inside, SIGINT and SIGTERM set `stop` (on the main thread; elsewhere Python allows no handler); the
    previous handlers are put back on the way out."""
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, lambda *_: stop.set())
    try:
        yield
    finally:
        for signal_number, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signal_number, handler)

"""The `kiosk` command: builds the parser from the subcommand modules and runs one."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kiosk import __version__
from kiosk.cli import (
    admin,
    collector,
    decode,
    demo,
    device,
    doctor,
    issuing,
    log,
    run,
    scan,
    sync,
    thermometer,
    trust,
    verify,
)
from kiosk.cli.common import Parser
from kiosk.errors import KioskError

SUBCOMMAND_MODULES = (verify, decode, scan, run, thermometer, doctor, log, sync, device, collector, issuing, trust,
                      admin, demo)


def build_parser() -> Parser:
    parser = Parser(prog="kiosk", description="Offline checkpoint scanner kiosk for PHC1 health codes.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log device events (camera lost, thermometer back, ...) on standard error")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="configuration file (TOML; default: $KIOSK_CONFIG, else built-in defaults)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Without -v only errors are logged: a command's own stderr is one line, as scripts expect.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except KioskError as err:
        sys.stderr.write(f"kiosk {args.command}: {err}\n")
        return 2
    except OSError as err:  # a full disk, a read-only folder: say so in one line
        sys.stderr.write(f"kiosk {args.command}: {err}\n")
        return 2
    except KeyboardInterrupt:
        return 130

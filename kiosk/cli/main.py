"""The `kiosk` command: builds the parser and runs one subcommand, importing only that subcommand's module.

A gate script may run `kiosk verify` once a person: importing every subcommand's
module would load OpenCV, numpy, httpx, sqlite-utils and more each time for
nothing. COMMANDS names each command, the module that implements it and its
one-line help (all `kiosk --help` needs); the module is imported, and adds its
options, only when argparse hands that command its arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.cli.common import Parser
from kiosk.errors import KioskError

# name: (module in kiosk.cli, one-line help); `kiosk --help` lists them in this order. A new command goes
# here too; tests/test_startup.py checks that each help is the one the command gives itself.
COMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("verify", "verify one health code offline and print the verdict as JSON"),
    "decode": ("decode", "print the QR texts found in pictures, one JSON line per file"),
    "scan": ("scan", "read codes from a camera, video, folder or serial scanner; verify each"),
    "run": ("run", "run the checkpoint: touchscreen, or headless where there is no display"),
    "thermometer": ("thermometer", "serial infrared thermometers: simulate one, probe one"),
    "doctor": ("doctor", "check the config, trust data, decoders, camera, scanner and thermometer"),
    "log": ("log", "the audit log: verify, export, report, purge, register a person by hand, correct a registration"),
    "sync": ("sync", "send the audit log to the collector and pull new trust files, once"),
    "device": ("device", "this kiosk's identity (an Ed25519 key made on first start)"),
    "collector": ("collector", "the site's collector: serve, enroll kiosks, export, report"),
    "keygen": ("issuing", "make an Ed25519 key pair: PREFIX.key (mode 0600) and PREFIX.pub (0644)"),
    "issue": ("issuing", "issue a signed health code; prints its QR text"),
    "trust": ("trust", "trust files: sign, import, pin, show"),
    "admin": ("admin", "the kiosk's admin screens"),
    "demo": ("demo", "run the built-in checkpoint demo (demo-only keys)"),
}


class _Registrar:
    """What a module's register() takes for `commands`: hands it the lazy parser of its own command.

    A module that registers several commands (issuing: keygen and issue) gets a throwaway
    parser for the others; each of those fills its own lazy parser when it is the one run.
    """

    def __init__(self, target: LazyCommand) -> None:
        self.target = target

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name != self.target.command:
            return Parser(prog=f"kiosk {name}", description=kwargs.get("description"))
        self.target.description = kwargs.get("description", kwargs.get("help"))
        for key in ("epilog", "formatter_class", "usage"):
            if key in kwargs:
                setattr(self.target, key, kwargs[key])
        return self.target


class LazyCommand(Parser):
    """A subcommand's parser that imports its module and takes its options on first use."""

    def __init__(self, command: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command, self.loaded = command, not command

    def load(self) -> LazyCommand:
        if not self.loaded:
            self.loaded = True
            module = importlib.import_module(f"kiosk.cli.{COMMANDS[self.command][0]}")
            module.register(_Registrar(self))
        return self

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        self.load()
        return super().parse_known_args(args, namespace)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", Parser)  # a command's own actions are ordinary parsers
        return super().add_subparsers(**kwargs)


def build_parser(*, load: bool = True) -> Parser:
    """The `kiosk` parser; with load=False each command's module is imported only once it is parsed."""
    parser = Parser(prog="kiosk", description="Offline checkpoint scanner kiosk for PHC1 health codes.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log device events (camera lost, thermometer back, ...) on standard error")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="configuration file (TOML; default: $KIOSK_CONFIG, else built-in defaults)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=LazyCommand)
    for name, (_module, help) in COMMANDS.items():
        command = commands.add_parser(name, help=help, description=help, command=name)
        assert isinstance(command, LazyCommand)
        if load:
            command.load()
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(load=False).parse_args(argv)
    import logging  # here: `kiosk --help` and usage errors need none

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

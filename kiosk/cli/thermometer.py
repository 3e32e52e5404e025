"""`kiosk thermometer simulate|probe`: play a device on a pty; read a real one, for installers."""

from __future__ import annotations

import argparse
import contextlib
import queue
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.cli.common import new_command, print_json, seconds, stopped_by_signals
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.thermometer.poller import Measurement, ThermometerPoller

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def register(commands: Any) -> None:
    from kiosk.thermometer.protocols import PROTOCOLS
    from kiosk.thermometer.simulator import SCRIPTS

    group = new_command(commands, "thermometer", "serial infrared thermometers: simulate one, probe one")
    sub = group.add_subparsers(dest="thermometer_command", metavar="ACTION", required=True)

    p = new_command(sub, "simulate", "open a pseudo-terminal that answers like the device; prints its path")
    _protocol_options(p, PROTOCOLS)
    p.add_argument("--script", choices=sorted(SCRIPTS), default="steady", help="what the temperature does")
    p.add_argument("--link", type=Path, metavar="PATH", help="also make PATH a symlink to the pty (a stable name)")
    p.add_argument("--no-wire-delay", action="store_true", help="answer at once instead of at the baud rate")
    p.add_argument("--corrupt-every", type=int, default=0, metavar="N",
                   help="make every Nth frame a corrupt one with a valid checksum (39.0, 224.7, -38.99 °C in turn)")
    p.set_defaults(run=run_simulate)

    p = new_command(sub, "probe", "read a thermometer: one JSON line per frame, marked confirmed, "
                                  "unconfirmed or dropped")
    p.add_argument("--port", required=True, metavar="URL", help="pyserial URL: /dev/ttyUSB0, socket://..., spy://...")
    _protocol_options(p, PROTOCOLS)
    p.add_argument("--count", type=int, default=5, metavar="N", help="frames to print (default 5, 0: forever)")
    p.add_argument("--timeout", type=seconds, default=5.0, metavar="S", help="give up after S s with no reading")
    p.add_argument("--offset", type=float, default=None, help="compensation added to the skin reading (default 2.5)")
    p.add_argument("--window", type=seconds, default=3.0, metavar="S",
                   help="the reading window a frame is confirmed in, as [policy] reading_window (default 3)")
    p.set_defaults(run=run_probe)


def _protocol_options(p: argparse.ArgumentParser, protocols: tuple[str, ...]) -> None:
    p.add_argument("--protocol", required=True, choices=protocols)
    p.add_argument("--baudrate", type=int, default=9600)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", type=_option,
                   help='a protocol option, value in TOML: --set template="T={object}" --set slave=3 (repeatable)')


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare word is a string: --set template=T={object}
    return key.strip(), parsed


def _options(args: argparse.Namespace) -> dict[str, object]:
    return dict(args.set)


def run_simulate(args: argparse.Namespace) -> int:
    from kiosk.thermometer.simulator import Simulator

    try:
        simulator = Simulator(args.protocol, _options(args), args.script, baudrate=args.baudrate,
                              emulate_baud=not args.no_wire_delay, link=args.link, corrupt_every=args.corrupt_every)
    except ValueError as err:
        raise KioskError(str(err)) from None
    done = threading.Event()
    with simulator, stopped_by_signals(done):  # Ctrl-C or SIGTERM: the pty closed, exit 0
        print(simulator.start(), flush=True)
        done.wait()
    return 0


def run_probe(args: argparse.Namespace) -> int:
    """Print every frame as it comes, marked as a scan would see it at that moment.

    "confirmed": another reading of the window (before it) agrees, so it may decide a verdict;
    "unconfirmed": nothing agrees yet (a first reading, or a corrupt frame); "dropped: ...": outside
    the sensor's or a person's range, never used. "scan" is what a scan at that moment would take.
    """
    from kiosk.checkpoint.factories import make_thermometer
    from kiosk.devices_config import ThermometerConfig
    from kiosk.thermometer.compensation import Compensation

    compensation = Compensation() if args.offset is None else Compensation(offset=args.offset)
    settings = ThermometerConfig(args.protocol, args.port, baudrate=args.baudrate, options=_options(args),
                                 compensation=compensation)
    arrived: queue.Queue[Measurement] = queue.Queue()  # every frame, dropped ones too, in order
    try:
        poller = make_thermometer(settings, reconnect_every=0.5, listener=arrived.put)
    except ValueError as err:  # an option the protocol does not have
        raise KioskError(str(err)) from None
    with poller:
        poller.start()
        with contextlib.suppress(KeyboardInterrupt):
            _print_frames(args, poller, arrived)
    return 0


def _print_frames(args: argparse.Namespace, poller: ThermometerPoller, arrived: queue.Queue[Measurement]) -> None:
    from kiosk.thermometer.confirm import confirmed, supported

    printed = 0
    deadline = time.monotonic() + args.timeout
    while args.count == 0 or printed < args.count:
        try:
            measurement = arrived.get(timeout=0.05)
        except queue.Empty:
            if time.monotonic() > deadline:
                state = poller.state
                why = state.last_error or f"{state.status}, {state.missed_polls} polls unanswered"
                raise KioskError(f"no reading from {args.port} in {args.timeout:g} s ({why})") from None
            continue
        printed += 1
        deadline = time.monotonic() + args.timeout
        reading = measurement.reading
        # Only what had arrived by then counts, so the marks do not depend on how fast this loop runs.
        at = reading.taken_at
        window = [r for r in poller.readings(at, args.window) if r.taken_at <= at]
        if measurement.dropped is not None:
            mark = f"dropped: {measurement.dropped}"
        else:
            mark = "confirmed" if supported(reading, window, poller.rule) else "unconfirmed"
        scan = confirmed(window, at, args.window, poller.rule)
        print_json({"celsius": reading.celsius, "raw": measurement.sample.object_c,
                    "ambient": measurement.sample.ambient_c, "taken_at": reading.taken_at, "mark": mark,
                    "scan": None if scan is None else scan.celsius})

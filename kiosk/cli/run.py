"""`kiosk run`: the checkpoint, fullscreen on the touchscreen, or headless with one JSON line per verdict.

Where there is no display (no DISPLAY nor WAYLAND_DISPLAY) it runs headless by
itself. Headless, `--stdin` takes codes typed by a keyboard-wedge scanner on
the console, one per line.

At start it says on stderr, one line each, where the audit log is and which
device cannot be opened (the kiosk keeps retrying it). A headless line is for a
gate controller or a person: the time in ISO 8601 with its zone, the
temperature as a number, and no key without a value (README, "kiosk run").
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.checkpoint.flow import Checkpoint, Listener
from kiosk.checkpoint.view import VerdictView
from kiosk.cli.common import add_trust_option, config_of, new_command, print_json, stopped_by_signals
from kiosk.errors import KioskError

SETTLE = 3.0  # seconds at start for every device to try to open, so the first word about it is the right one


def register(commands: Any) -> None:
    p = new_command(commands, "run", "run the checkpoint: touchscreen, or headless where there is no display")
    add_trust_option(p)
    p.add_argument("--headless", action="store_true", help="no window: one JSON line per verdict on stdout")
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen (for a desk)")
    p.add_argument("--camera", metavar="SOURCE", help="instead of [scanner] camera: index, device, video, folder")
    p.add_argument("--serial", metavar="URL", help="instead of [scanner] serial: a 2D scanner")
    p.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate")
    p.add_argument("--stdin", action="store_true", help="headless: codes from standard input, one per line")
    p.add_argument("--screenshots", type=Path, metavar="DIR", help="save a picture of every screen shown")
    add_log_option(p)
    p.set_defaults(run=run)


def add_log_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", type=Path, metavar="PATH",
                        help="the audit log (default: [log] path, else $KIOSK_AUDIT_LOG, "
                             "else ~/.local/share/kiosk/audit.db)")


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def headless_line(view: VerdictView) -> dict[str, Any]:
    """One verdict for a gate controller: what the screen says, with no key that has no value."""
    at = datetime.fromtimestamp(view.at).astimezone()  # the kiosk's own zone, its offset written out
    celsius = view.details.get("temperature")
    line: dict[str, Any] = {"verdict": view.verdict, "reason": view.reason, "reason_en": view.reason_en,
                            "reason_zh": view.reason_zh, "name": view.name,
                            "certificate": view.details.get("certificate"),  # an HC1 code's type (spec section 9)
                            "celsius": None if celsius is None else round(celsius, 2), "source": view.source,
                            "at": at.isoformat(timespec="milliseconds"),
                            "ms": None if view.ms is None else round(view.ms, 1), "warnings": list(view.warnings)}
    return {key: value for key, value in line.items() if value not in (None, "", [])}


class JsonLines:
    """The headless listener: what the screen would say, as one JSON line per verdict."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def on_verdict(self, view: VerdictView) -> None:
        with self.lock:
            print_json(headless_line(view))


def say(command: str, text: str) -> None:
    sys.stderr.write(f"kiosk {command}: {text}\n")
    sys.stderr.flush()


def open_devices(checkpoint: Checkpoint, command: str) -> None:
    """Say where the log is, open the devices, and say which cannot be opened: one line each, on stderr."""
    if checkpoint.log_path is not None:
        say(command, f"audit log {checkpoint.log_path.absolute()}")
    for _, line in checkpoint.open_devices(settle=SETTLE).unopened:
        say(command, line)


def run_headless(checkpoint: Checkpoint, listener: Listener | None, *, stdin: bool = False,
                 until: threading.Event | None = None) -> int:
    """Run until Ctrl-C / SIGTERM, the end of stdin (with --stdin), or every source ended (a video).

    Both signals get a handler of our own: Python's Ctrl-C is absent when the process started with SIGINT
    ignored (a background job of a shell without job control), and the kiosk must stop all the same, the
    scan in hand finished and the log closed.
    """
    stop = until or threading.Event()
    # The checkpoint stops (the scan in hand finished, the log closed) while the signals are still ours.
    with stopped_by_signals(stop), checkpoint:
        checkpoint.start(listener)
        try:
            if stdin:
                _read_stdin(checkpoint, stop)
            while not stop.wait(0.2):
                if checkpoint.ended:
                    break
        except KeyboardInterrupt:  # off the main thread no handler is ours: Python's own Ctrl-C
            pass
    return 0


def _read_stdin(checkpoint: Checkpoint, stop: threading.Event) -> None:
    def reader() -> None:
        for line in sys.stdin:
            if line.strip():
                checkpoint.submit(line.strip(), "keyboard")
        time.sleep(0.5)  # let the last code through before stopping
        stop.set()

    threading.Thread(target=reader, name="stdin-codes", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    from kiosk.checkpoint.wiring import build_checkpoint, code_sources
    from kiosk.scanner.preview_buffer import FrameBuffer

    config = config_of(args)
    headless = args.headless or (not has_display() and args.screenshots is None)
    preview = None if headless else FrameBuffer()  # the touchscreen's camera picture, straight from the camera
    sources = code_sources(config, camera=args.camera, serial=args.serial, realtime=args.realtime, preview=preview)
    if headless and not sources and not args.stdin:
        raise KioskError("nothing to read codes from: give --camera, --serial or --stdin, or a [scanner] "
                         "section in the config")
    if not headless:  # before any device is opened: nothing to close if the touchscreen's modules fail
        from kiosk.checkpoint.admin import Admin
        from kiosk.ui.app import run_ui
    with build_checkpoint(config, trust_dir=args.trust, sources=sources, log_path=args.log) as checkpoint:
        open_devices(checkpoint, "run")
        if headless:
            return run_headless(checkpoint, JsonLines(), stdin=args.stdin)
        return run_ui(checkpoint, config.kiosk, Admin(checkpoint, config.kiosk), screenshots=args.screenshots,
                      exit_when_ended=bool(args.camera), windowed=args.windowed, preview=preview)

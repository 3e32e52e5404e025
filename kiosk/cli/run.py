"""`kiosk run`: the checkpoint, fullscreen on the touchscreen, or headless with one JSON line per verdict.

Where there is no display (no DISPLAY nor WAYLAND_DISPLAY) it runs headless by
itself. Headless, `--stdin` takes codes typed by a keyboard-wedge scanner on
the console, one per line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.checkpoint.flow import Checkpoint, Listener
from kiosk.checkpoint.view import VerdictView
from kiosk.cli.common import add_trust_option, config_of, new_command, print_json
from kiosk.errors import KioskError

HEADLESS_FIELDS = ("verdict", "reason", "reason_en", "reason_zh", "name", "temperature", "source", "at", "ms",
                   "warnings")


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
    p.set_defaults(run=run)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class JsonLines:
    """The headless listener: what the screen would say, as one JSON line per verdict."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def on_verdict(self, view: VerdictView) -> None:
        shown = view.as_dict()
        with self.lock:
            print_json({key: shown[key] for key in HEADLESS_FIELDS})


def run_headless(checkpoint: Checkpoint, listener: Listener | None, *, stdin: bool = False,
                 until: threading.Event | None = None) -> int:
    """Run until Ctrl-C / SIGTERM, the end of stdin (with --stdin), or every source ended (a video)."""
    stop = until or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    checkpoint.start(listener)
    try:
        if stdin:
            _read_stdin(checkpoint, stop)
        while not stop.wait(0.2):
            if checkpoint.ended:
                break
    except KeyboardInterrupt:
        pass
    finally:
        checkpoint.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
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

    config = config_of(args)
    sources = code_sources(config, camera=args.camera, serial=args.serial, realtime=args.realtime) \
        if args.camera or args.serial else None
    checkpoint = build_checkpoint(config, trust_dir=args.trust, sources=sources)
    if args.headless or (not has_display() and args.screenshots is None):
        if not checkpoint.parts.sources and not args.stdin:
            checkpoint.stop()
            raise KioskError("nothing to read codes from: give --camera, --serial or --stdin, or a [scanner] "
                             "section in the config")
        return run_headless(checkpoint, JsonLines(), stdin=args.stdin)
    from kiosk.checkpoint.admin import Admin
    from kiosk.ui.app import run_ui

    return run_ui(checkpoint, config.kiosk, Admin(checkpoint, config.kiosk), screenshots=args.screenshots,
                  exit_when_ended=bool(args.camera), windowed=args.windowed)

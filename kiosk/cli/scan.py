"""`kiosk scan`: read codes from a camera, a video, a folder or a serial 2D scanner and verify each.

For installers checking a device, and for scripted checkpoints: one JSON line
per scan (the verdict of `kiosk verify` plus where it came from and how long
it took from the frame to the verdict). It is the checkpoint of `kiosk run`
(kiosk/checkpoint/wiring.py builds both), printing the verifier's own JSON:
with a [thermometer] each scan takes the highest confirmed reading of the last few
seconds and a temperature is required; each verdict is committed first to the
audit log ([log], --log, else the default in the data folder); with [sync] the
log is sent in the background. Runs until the video or folder ends, or until Ctrl-C or SIGTERM
(the scan in hand finished, the log closed; exit 0), even when started with SIGINT ignored.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from kiosk.checkpoint.view import VerdictView
from kiosk.cli.common import add_trust_option, config_of, new_command, print_json, seconds
from kiosk.cli.run import add_log_option
from kiosk.errors import KioskError


def register(commands: Any) -> None:
    p = new_command(commands, "scan", "read codes from a camera, video, folder or serial scanner; verify each")
    add_trust_option(p)
    p.add_argument("--camera", metavar="SOURCE",
                   help="camera index (0), device (/dev/video0), video file, folder of pictures, "
                        "image sequence (frames/%%04d.png) or stream URL")
    p.add_argument("--serial", metavar="URL", help="a 2D barcode scanner in USB serial mode (pyserial URL)")
    p.add_argument("--baudrate", type=int, help="of the serial scanner (default 9600)")
    p.add_argument("--width", type=int, help="ask the camera for this resolution")
    p.add_argument("--height", type=int)
    p.add_argument("--fps", type=float, help="ask the camera for this frame rate")
    p.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate")
    p.add_argument("--holdoff", type=seconds, metavar="S",
                   help="the same code is a new scan only after S seconds out of sight (default 5)")
    add_log_option(p)
    p.set_defaults(run=run)


class VerifierLines:
    """One line per scan: the verdict as `kiosk verify` prints it, with its source and frame-to-verdict ms."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def on_verdict(self, view: VerdictView) -> None:
        with self.lock:
            print_json({**view.details, "source": view.source,
                        "ms": None if view.ms is None else round(view.ms, 2)})


def run(args: argparse.Namespace) -> int:
    from kiosk.checkpoint.wiring import build_checkpoint, code_sources
    from kiosk.cli.run import open_devices, run_headless

    config = config_of(args)
    sources = code_sources(config, camera=args.camera, serial=args.serial, realtime=args.realtime,
                           width=args.width, height=args.height, fps=args.fps, holdoff=args.holdoff,
                           serial_baudrate=args.baudrate)
    if not sources:
        raise KioskError("give --camera SOURCE and/or --serial URL, or a [scanner] section in the config")
    with build_checkpoint(config, trust_dir=args.trust, sources=sources, log_path=args.log) as checkpoint:
        open_devices(checkpoint, "scan")
        return run_headless(checkpoint, VerifierLines())

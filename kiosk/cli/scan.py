"""`kiosk scan`: read codes from a camera, a video, a folder or a serial 2D scanner and verify each.

For installers checking a device, and for scripted checkpoints: one JSON line
per scan (the verdict of `kiosk verify` plus where it came from and how long
it took from the frame to the verdict). Runs until the video or folder ends,
or until Ctrl-C.
"""

from __future__ import annotations

import argparse
import queue
import time
from typing import Any

from kiosk.cli.common import add_trust_option, config_of, new_command, print_json, seconds, trust_dir_of
from kiosk.errors import KioskError
from kiosk.scanner.types import CodeSource, Scan
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import decide


def register(commands: Any) -> None:
    p = new_command(commands, "scan", "read codes from a camera, video, folder or serial scanner; verify each")
    add_trust_option(p)
    p.add_argument("--camera", metavar="SOURCE",
                   help="camera index (0), device (/dev/video0), video file, folder of pictures, "
                        "image sequence (frames/%%04d.png) or stream URL")
    p.add_argument("--serial", metavar="URL", help="a 2D barcode scanner in USB serial mode (pyserial URL)")
    p.add_argument("--baudrate", type=int, default=9600)
    p.add_argument("--width", type=int, help="ask the camera for this resolution")
    p.add_argument("--height", type=int)
    p.add_argument("--fps", type=float, help="ask the camera for this frame rate")
    p.add_argument("--realtime", action="store_true", help="play a video file at its own frame rate")
    p.add_argument("--holdoff", type=seconds, default=5.0, metavar="S",
                   help="the same code is a new scan only after S seconds out of sight (default 5)")
    p.set_defaults(run=run)


def _sources(args: argparse.Namespace) -> list[CodeSource]:
    sources: list[CodeSource] = []
    if args.camera is not None:
        from kiosk.scanner.decoders import ChainDecoder
        from kiosk.scanner.frames import open_source
        from kiosk.scanner.pipeline import CameraPipeline

        frames = open_source(args.camera, width=args.width, height=args.height, fps=args.fps, pace=args.realtime)
        # A camera never waits for the decoder; a file played as fast as it decodes loses no frame.
        latest_wins = bool(getattr(frames, "live", False) or args.realtime)
        sources.append(CameraPipeline(frames, ChainDecoder(), holdoff=args.holdoff, latest_wins=latest_wins))
    if args.serial is not None:
        from kiosk.scanner.serial_scanner import SerialScanner

        sources.append(SerialScanner(args.serial, baudrate=args.baudrate))
    if not sources:
        raise KioskError("give --camera SOURCE and/or --serial URL")
    return sources


def run(args: argparse.Namespace) -> int:
    policy = config_of(args).policy
    trust = load_trust_dir(trust_dir_of(args))
    scans: queue.Queue[Scan] = queue.Queue()
    sources = _sources(args)
    for source in sources:
        source.start(scans.put)
    try:
        while True:
            try:
                scan = scans.get(timeout=0.2)
            except queue.Empty:
                if _all_ended(sources):
                    break
                continue
            verdict = decide(scan.text, trust, policy, None, time.time())
            latency = None if scan.frame_at is None else round((time.monotonic() - scan.frame_at) * 1000, 2)
            print_json({**verdict.as_dict(), "source": scan.source, "ms": latency})
    except KeyboardInterrupt:
        pass
    finally:
        for source in sources:
            source.stop()
    return 0


def _all_ended(sources: list[CodeSource]) -> bool:
    """True when every source is a camera pipeline whose file has been read to the end."""
    from kiosk.scanner.pipeline import CameraPipeline

    return all(isinstance(s, CameraPipeline) and not s.running for s in sources)

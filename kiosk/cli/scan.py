"""`kiosk scan`: read codes from a camera, a video, a folder or a serial 2D scanner and verify each.

For installers checking a device, and for scripted checkpoints: one JSON line
per scan (the verdict of `kiosk verify` plus where it came from and how long
it took from the frame to the verdict). With a [thermometer] in the config,
each scan takes the highest reading of the last few seconds and a temperature
is required. Runs until the video or folder ends, or until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.cli.common import add_trust_option, config_of, new_command, print_json, seconds, trust_dir_of
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.scanner.types import CodeSource, Scan
from kiosk.trustdir import load_trust_dir
from kiosk.verdict import decide

if TYPE_CHECKING:
    from kiosk.audit.recorder import Recorder
    from kiosk.sync.wiring import SyncParts
    from kiosk.thermometer.poller import ThermometerPoller
    from kiosk.trust import TrustStore


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
    p.set_defaults(run=run)


def _sources(args: argparse.Namespace, config: Config) -> list[CodeSource]:
    """The code sources the options name, else those of the config's [scanner] section."""
    wanted = config.scanner
    camera, serial_url = args.camera, args.serial
    if camera is None and serial_url is None:
        camera, serial_url = wanted.camera, wanted.serial
    holdoff = args.holdoff if args.holdoff is not None else wanted.holdoff
    sources: list[CodeSource] = []
    if camera is not None:
        from kiosk.scanner.decoders import ChainDecoder
        from kiosk.scanner.frames import open_source
        from kiosk.scanner.pipeline import CameraPipeline

        frames = open_source(camera, width=args.width or wanted.width, height=args.height or wanted.height,
                             fps=args.fps or wanted.fps, pace=args.realtime)
        # A camera never waits for the decoder; a file played as fast as it decodes loses no frame.
        latest_wins = bool(getattr(frames, "live", False) or args.realtime)
        sources.append(CameraPipeline(frames, ChainDecoder(), holdoff=holdoff, latest_wins=latest_wins))
    if serial_url is not None:
        from kiosk.scanner.serial_scanner import SerialScanner

        sources.append(SerialScanner(serial_url, baudrate=args.baudrate or wanted.serial_baudrate))
    if not sources:
        raise KioskError("give --camera SOURCE and/or --serial URL, or a [scanner] section in the config")
    return sources


def _thermometer(config: Config) -> ThermometerPoller | None:
    settings = config.thermometer
    if settings is None:
        return None
    from kiosk.thermometer.poller import ThermometerPoller
    from kiosk.thermometer.protocols import make_driver

    return ThermometerPoller(settings.port, make_driver(settings.protocol, settings.options),
                             baudrate=settings.baudrate, interval=settings.interval,
                             compensation=settings.compensation)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    trust = load_trust_dir(trust_dir_of(args))
    thermometer = _thermometer(config)
    # With a thermometer at the door a temperature is required; without one (a bus) it is not.
    policy = config.policy.with_values({"require_temperature": True}) if thermometer else config.policy
    recorder = _recorder(config)
    trust_changed = threading.Event()
    sync = _sync_loop(config, recorder, trust_dir_of(args), trust_changed)
    scans: queue.Queue[Scan] = queue.Queue()
    sources = _sources(args, config)
    if thermometer is not None:
        thermometer.start()
    for source in sources:
        source.start(scans.put)
    try:
        while True:
            if recorder is not None:
                _watch_devices(recorder, sources, thermometer)
            try:
                scan = scans.get(timeout=0.2)
            except queue.Empty:
                if _all_ended(sources):
                    break
                continue
            if trust_changed.is_set():  # the sync loop installed new trust files: verify with them from now on
                trust_changed.clear()
                trust = _reload(trust, trust_dir_of(args))
            now = time.time()
            reading = thermometer.reading_at(now, policy.reading_window) if thermometer else None
            verdict = decide(scan.text, trust, policy, reading, now)
            shown = verdict.as_dict()
            if recorder is not None:  # committed before it is shown
                recorded, refused = recorder.record(verdict, now)
                shown = recorded.as_dict()
                if refused:
                    shown.update(verdict="deny", reason="log_unavailable")
                if sync is not None:
                    sync.wake()
            latency = None if scan.frame_at is None else round((time.monotonic() - scan.frame_at) * 1000, 2)
            print_json({**shown, "source": scan.source, "ms": latency})
    except KeyboardInterrupt:
        pass
    finally:
        for source in sources:
            source.stop()
        if thermometer is not None:
            thermometer.stop()
        if sync is not None:
            sync.close()
        if recorder is not None:
            recorder.audit.close()
    return 0


def _sync_loop(config: Config, recorder: Recorder | None, trust_dir: Path,
               trust_changed: threading.Event) -> SyncParts | None:
    """The background sync of the log, when the config names a collector."""
    if config.sync is None or recorder is None:
        return None
    from kiosk.sync.wiring import build_sync

    parts = build_sync(config.sync, recorder.audit, trust_dir, on_trust=lambda pulled: trust_changed.set())
    parts.start_background()
    return parts


def _reload(trust: TrustStore, trust_dir: Path) -> TrustStore:
    try:
        return load_trust_dir(trust_dir)
    except KioskError as err:  # cannot happen after a verified install, but never stop the checkpoint for it
        logging.getLogger("kiosk.scan").error("new trust files could not be loaded; keeping the old: %s", err)
        return trust


def _recorder(config: Config) -> Recorder | None:
    if config.log is None:
        return None
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import subject_secret
    from kiosk.audit.store import AuditLog

    return Recorder(AuditLog(config.log.path), config.log, subject_secret(config.log))


def _watch_devices(recorder: Recorder, sources: list[CodeSource], thermometer: ThermometerPoller | None) -> None:
    """Log each change of a device's state (camera lost, thermometer disconnected, ...) for the report."""
    names = {"CameraPipeline": "camera", "SerialScanner": "2D scanner"}
    states = [(names.get(type(s).__name__, type(s).__name__), _state_of(s)) for s in sources]
    if thermometer is not None:
        state = thermometer.state
        states.append(("thermometer", state.status))
    now = time.time()
    for name, state_name in states:
        recorder.device_state(name, state_name, now)


def _state_of(source: CodeSource) -> str:
    inner = getattr(source, "source", None)  # a camera pipeline's frame source
    if inner is not None:
        return str(getattr(inner, "state", "ok"))
    state = getattr(source, "state", None)  # a serial scanner's state record
    return "ok" if state is None or getattr(state, "connected", True) else "disconnected"


def _all_ended(sources: list[CodeSource]) -> bool:
    """True when every source is a camera pipeline whose file has been read to the end."""
    from kiosk.scanner.pipeline import CameraPipeline

    return all(isinstance(s, CameraPipeline) and not s.running for s in sources)

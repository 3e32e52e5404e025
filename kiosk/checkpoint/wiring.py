"""The one place that builds a checkpoint from the configuration file.

Code sources from [scanner] (camera, serial 2D scanner), the thermometer from
[thermometer], the audit log from [log] (in bus mode the vehicle id is the
lane of every event), sync from [sync], the pass signal from [signal], timing
and mode from [kiosk]. Tests and the demo build CheckpointParts themselves
with their own parts; nothing is built at import time.

A checkpoint always keeps an audit log: without [log] it is audit.db in the
kiosk's data folder, beside the device key (default_log_path).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.audit.settings import LogConfig, default_log_path
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.scanner.types import CodeSource
from kiosk.trustdir import load_trust_dir


def code_sources(config: Config, *, camera: str | None = None, serial: str | None = None,
                 realtime: bool = False, **overrides: Any) -> list[CodeSource]:
    """The camera pipeline and/or serial scanner named by the arguments, else by [scanner].

    `overrides` replace [scanner] settings (width, height, fps, holdoff, serial_baudrate) when not None.
    A video file that is not there, or not a video, is a KioskError: a mistake to say at once, not a camera
    to wait for.
    """
    wanted = replace(config.scanner, **{k: v for k, v in overrides.items() if v is not None})
    if camera is None and serial is None:
        camera, serial = wanted.camera, wanted.serial
    sources: list[CodeSource] = []
    if camera is not None:
        from kiosk.scanner.decoders import ChainDecoder
        from kiosk.scanner.frames import file_problem, open_source
        from kiosk.scanner.idle import IdleSchedule
        from kiosk.scanner.pipeline import CameraPipeline

        if problem := file_problem(camera):
            raise KioskError(f"video {camera}: {problem}")
        frames = open_source(camera, width=wanted.width, height=wanted.height, fps=wanted.fps, pace=realtime)
        # A camera never waits for the decoder; a file played as fast as it decodes loses no frame.
        latest_wins = bool(getattr(frames, "live", False) or realtime)
        # A live camera decodes fewer frames after a quiet spell (battery); a file read frame by frame never idles.
        idle = IdleSchedule(wanted.idle_after, wanted.idle_fps) if latest_wins else False
        sources.append(CameraPipeline(frames, ChainDecoder(), holdoff=wanted.holdoff, latest_wins=latest_wins,
                                      idle=idle))
    if serial is not None:
        from kiosk.scanner.serial_scanner import SerialScanner

        sources.append(SerialScanner(serial, baudrate=wanted.serial_baudrate))
    return sources


def build_checkpoint(config: Config, *, trust_dir: Path | None = None, sources: list[CodeSource] | None = None,
                     with_sync: bool = True, log_path: Path | None = None) -> Checkpoint:
    """A checkpoint with every part the config names; `sources` replaces [scanner]'s (the demo's video).

    `log_path` replaces [log] path (the rest of [log] still holds); with neither, default_log_path().
    """
    trust_dir = trust_dir or config.trust_dir
    trust = load_trust_dir(trust_dir)
    settings = config.kiosk
    thermometer = None
    if config.thermometer is not None and not settings.bus:  # a bus has no thermometer, whatever else is set
        from kiosk.thermometer.poller import ThermometerPoller
        from kiosk.thermometer.protocols import make_driver

        t = config.thermometer
        thermometer = ThermometerPoller(t.port, make_driver(t.protocol, t.options), baudrate=t.baudrate,
                                        interval=t.interval, compensation=t.compensation)
    from kiosk.audit.recorder import Recorder
    from kiosk.audit.settings import subject_secret
    from kiosk.audit.store import AuditLog

    log_settings = config.log or LogConfig(default_log_path())
    if log_path is not None:
        log_settings = replace(log_settings, path=log_path)
    if settings.bus and settings.vehicle:
        log_settings = replace(log_settings, lane=settings.vehicle)  # every event says which bus
    recorder = Recorder(AuditLog(log_settings.path), log_settings, subject_secret(log_settings))
    checkpoint_box: list[Checkpoint] = []
    sync = signal = None
    try:
        if with_sync and config.sync is not None:
            from kiosk.sync.wiring import build_sync

            sync = build_sync(config.sync, recorder.audit, trust_dir,
                              on_trust=lambda pulled: checkpoint_box[0].trust_changed() if checkpoint_box else None)
        if config.signal is not None:
            from kiosk.checkpoint.signal import PassSignal

            signal = PassSignal(config.signal)
    except BaseException:  # a bad device key or CA file: say so, with the log closed properly
        recorder.audit.close()
        raise
    parts = CheckpointParts(trust_dir, trust, config.policy, sources if sources is not None else code_sources(config),
                            thermometer, recorder, sync, signal, settings.verdict_seconds, config.limits,
                            settings.reading_wait)
    checkpoint = Checkpoint(parts)
    checkpoint_box.append(checkpoint)
    return checkpoint

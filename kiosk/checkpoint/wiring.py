"""The one place that builds a checkpoint from the configuration file (the composition root).

Code sources from [scanner] (camera, serial 2D scanner), and from the
factories of kiosk/checkpoint/factories.py: the thermometer from
[thermometer], the audit log from [log] (in bus mode the vehicle id is the
lane of every event), sync from [sync], the pass signal from [signal]; timing
and mode from [kiosk]. The demo builds its checkpoint here too, from a Config
of its own; tests build CheckpointParts with their own parts. Nothing is built
at import time.

A checkpoint always keeps an audit log: without [log] it is audit.db in the
kiosk's data folder, beside the device key (default_log_path).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.checkpoint.factories import door_thermometer, make_recorder, make_signal, make_sync
from kiosk.checkpoint.flow import Checkpoint
from kiosk.checkpoint.parts import CheckpointParts, TrustNews
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.scanner.preview_buffer import FrameBuffer
from kiosk.scanner.types import CodeSource
from kiosk.trustdir import load_trust_dir


def code_sources(config: Config, *, camera: str | None = None, serial: str | None = None,
                 realtime: bool = False, preview: FrameBuffer | None = None, **overrides: Any) -> list[CodeSource]:
    """The camera pipeline and/or serial scanner named by the arguments, else by [scanner].

    `preview`: the buffer the touchscreen shows the camera from (the camera pipeline puts each frame shown into it).
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
                                      idle=idle, on_frame=preview.put if preview is not None else None))
    if serial is not None:
        from kiosk.scanner.serial_scanner import SerialScanner

        sources.append(SerialScanner(serial, baudrate=wanted.serial_baudrate))
    return sources


def build_checkpoint(config: Config, *, trust_dir: Path | None = None, sources: list[CodeSource] | None = None,
                     with_sync: bool = True, log_path: Path | None = None) -> Checkpoint:
    """A checkpoint with every part the config names, each from its factory (kiosk/checkpoint/factories.py);
    `sources` replaces [scanner]'s (the demo's video). Use it as `with build_checkpoint(config) as checkpoint:`.

    `log_path` replaces [log] path (the rest of [log] still holds); with neither, default_log_path().
    """
    trust_dir = trust_dir or config.trust_dir
    trust = load_trust_dir(trust_dir)
    sources = sources if sources is not None else code_sources(config)
    news = TrustNews()  # sync's trust pulls tell it, the checkpoint reads it: neither needs the other first
    recorder = make_recorder(config, log_path=log_path)
    sync = None
    try:
        if with_sync:
            sync = make_sync(config, recorder.audit, trust_dir, news)
        signal = make_signal(config)
    except BaseException:  # a bad device key or CA file: say so, with what was opened closed properly
        if sync is not None:
            sync.close()
        recorder.close()
        raise
    settings = config.kiosk
    parts = CheckpointParts(trust_dir, trust, config.policy, sources, door_thermometer(config), recorder, sync, signal,
                            settings.verdict_seconds, config.limits, settings.reading_wait, news)
    return Checkpoint(parts)

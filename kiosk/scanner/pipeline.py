"""The camera pipeline: capture in one thread, decode in another, report each new scan once.

Capture never waits for decoding: the newest frame replaces one not yet
decoded (latest wins), so a slow decode never builds a backlog or a growing
delay. Files and benchmarks can ask for every frame instead (`latest_wins=False`).

A source at its own pace (a camera, a file played in real time) goes idle when no
code has been seen for a while (idle.py): a few frames a second are decoded, the
others taken off the source undecoded (`skip()`, where the source has it: a camera
is still drained, so the newest frame is the one decoded), and the preview gets
the decoded ones only. A decoder with `read_frame` (ChainDecoder) spends a bounded
effort on each frame and goes on in the next (retry_budget.py); the pipeline keeps
where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.scanner.idle import IdleSchedule
from kiosk.scanner.scan_gate import ScanGate
from kiosk.scanner.types import (
    Decoder,
    DeviceSource,
    Frame,
    FrameDecoder,
    FrameReading,
    FrameSource,
    Scan,
    ScanHandler,
    SkippingSource,
    SourceHealth,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineStats:
    frames: int  # taken off the source
    decoded: int
    dropped: int  # replaced by a newer frame before they were decoded
    scans: int
    decode_ms_median: float | None
    source_state: str
    skipped: int = 0  # not decoded: the pipeline was idle
    idle: bool = False  # decoding a few frames a second: no code seen for a while


class CameraPipeline:
    """A CodeSource over a frame source and a decoder.

    `on_frame` gets every frame shown (the preview's buffer), on the capture thread; given here, once.
    `idle`: True, the default schedule (idle.py) when `latest_wins` (a source at its own pace;
    one read for every frame gets every frame decoded); False, every frame; or a schedule.
    `monotonic` is the schedule's clock (frames' `taken_at` are on the same one).
    """

    def __init__(self, source: FrameSource, decoder: Decoder, *, holdoff: float = 5.0,
                 clock: Callable[[], float] = time.time, on_frame: Callable[[Frame], None] | None = None,
                 latest_wins: bool = True, idle_sleep: float = 0.005, idle: IdleSchedule | bool = True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.decoder = decoder
        self.gate = ScanGate(holdoff)
        self.clock = clock
        self._on_frame = on_frame
        self.latest_wins = latest_wins
        self.idle_sleep = idle_sleep
        self.schedule = idle if isinstance(idle, IdleSchedule) else (
            IdleSchedule() if idle and latest_wins else IdleSchedule.never())
        self.monotonic = monotonic
        self._idle = False
        self._decoding = False  # the decode thread has a frame in hand
        self._resume = 0  # where the decoder's retries go on in the next frame
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._running = False
        self._started = False
        self._capture_done = False
        self._threads: list[threading.Thread] = []
        self._frames = self._decoded = self._dropped = self._scans = self._skipped = 0
        self._decode_ms: deque[float] = deque(maxlen=1000)

    @property
    def kind(self) -> str:
        return "camera"

    def start(self, on_scan: ScanHandler) -> None:
        self._running, self._started, self._capture_done = True, True, False
        self._threads = [threading.Thread(target=self._capture, name="camera-capture", daemon=True),
                         threading.Thread(target=self._decode, args=(on_scan,), name="camera-decode", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self.source.close()

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """For a source that ends (a file): wait until its last frame is decoded."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    @property
    def running(self) -> bool:
        """False once stopped, or once a source that ends has had its last frame decoded."""
        return any(t.is_alive() for t in self._threads)

    @property
    def ended(self) -> bool:
        """Started, and done: its file's last frame decoded (or it was stopped)."""
        return self._started and not self.running

    def health(self) -> SourceHealth:
        source, state = self.source, self.source.state
        if not isinstance(source, DeviceSource):  # a folder, a wrapped file: nothing to open again
            return SourceHealth(state, state != "starting")
        return SourceHealth(state, state != "starting", source.open_error, str(source.target),
                            source.reconnect_every)

    @property
    def stats(self) -> PipelineStats:
        times = sorted(self._decode_ms)
        return PipelineStats(self._frames, self._decoded, self._dropped, self._scans,
                             times[len(times) // 2] if times else None, self.source.state,
                             self._skipped, self._idle)

    def _capture(self) -> None:
        skip = self.source.skip if isinstance(self.source, SkippingSource) else None
        # Read for every frame, a file has no pace of its own: the schedule hears how each frame went
        # before it decides on the next (a camera's next frame comes long after the decode anyway).
        in_step = not self.latest_wins and self.schedule.idle_after is not None
        try:
            while self._running:
                with self._cond:
                    while in_step and (self._pending is not None or self._decoding) and self._running:
                        self._cond.wait()
                    now = self.monotonic()
                    wanted = self.schedule.should_decode(now)
                    self._idle = self.schedule.idle(now)
                if not wanted and skip is not None and skip():  # taken off, never made a picture
                    self._frames += 1
                    self._skipped += 1
                    continue
                frame = self.source.read()
                if frame is None:
                    if self.source.state == "ended":
                        break
                    time.sleep(self.idle_sleep)  # a lost camera: the source paces its own retries
                    continue
                self._frames += 1
                if not wanted:  # a source that cannot skip: read and shown, not decoded
                    self._skipped += 1
                    if self._on_frame is not None:
                        self._guard(self._on_frame, frame)
                    continue
                with self._cond:
                    while not self.latest_wins and self._pending is not None and self._running:
                        self._cond.wait()
                    if self._pending is not None:
                        self._dropped += 1
                    self._pending = frame
                    self._cond.notify_all()
                if self._on_frame is not None:
                    self._guard(self._on_frame, frame)
        except Exception:  # a source must never take the kiosk down
            log.exception("frame capture stopped")
        finally:
            with self._cond:
                self._capture_done = True
                self._cond.notify_all()

    def _decode(self, on_scan: ScanHandler) -> None:
        while True:
            with self._cond:
                while self._pending is None and self._running and not self._capture_done:
                    self._cond.wait()
                frame, self._pending = self._pending, None
                self._decoding = frame is not None
                self._cond.notify_all()
            if frame is None or not self._running:
                return
            started = time.perf_counter()
            try:
                reading = self._read(frame)
            except Exception:  # decoders promise not to raise; a broken frame still must not stop us
                log.exception("decoder failed on frame %d", frame.index)
                reading = FrameReading([], False)
            self._decode_ms.append((time.perf_counter() - started) * 1000)
            self._decoded += 1
            now = self.clock()
            for text in reading.texts:
                if self.gate.admit(text, now):
                    self._scans += 1
                    self._guard(on_scan, Scan(text, "camera", now, frame.taken_at))
            with self._cond:
                if reading.seen:
                    self.schedule.code_seen(frame.taken_at)
                self._decoding = False
                self._cond.notify_all()

    def _read(self, frame: Frame) -> FrameReading:
        if isinstance(self.decoder, FrameDecoder):
            reading = self.decoder.read_frame(frame.image, self._resume)
            self._resume = reading.resume
            return reading
        texts = self.decoder.decode(frame.image)
        return FrameReading(texts, bool(texts))

    @staticmethod
    def _guard(callback: Callable[..., object], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("callback %r failed", callback)

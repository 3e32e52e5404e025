"""The camera pipeline: capture in one thread, decode in another, report each new scan once.

Capture never waits for decoding: the newest frame replaces one not yet
decoded (latest wins), so a slow decode never builds a backlog or a growing
delay. Files and benchmarks can ask for every frame instead (`latest_wins=False`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.scanner.scan_gate import ScanGate
from kiosk.scanner.types import Decoder, Frame, FrameSource, Scan, ScanHandler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineStats:
    frames: int  # captured
    decoded: int
    dropped: int  # replaced by a newer frame before they were decoded
    scans: int
    decode_ms_median: float | None
    source_state: str


class CameraPipeline:
    """A CodeSource over a frame source and a decoder."""

    def __init__(self, source: FrameSource, decoder: Decoder, *, holdoff: float = 5.0,
                 clock: Callable[[], float] = time.time, on_frame: Callable[[Frame], None] | None = None,
                 latest_wins: bool = True, idle_sleep: float = 0.005) -> None:
        self.source = source
        self.decoder = decoder
        self.gate = ScanGate(holdoff)
        self.clock = clock
        self.on_frame = on_frame  # e.g. the preview; called on the capture thread
        self.latest_wins = latest_wins
        self.idle_sleep = idle_sleep
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._running = False
        self._capture_done = False
        self._threads: list[threading.Thread] = []
        self._frames = self._decoded = self._dropped = self._scans = 0
        self._decode_ms: deque[float] = deque(maxlen=1000)

    def start(self, on_scan: ScanHandler) -> None:
        self._running, self._capture_done = True, False
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
    def stats(self) -> PipelineStats:
        times = sorted(self._decode_ms)
        return PipelineStats(self._frames, self._decoded, self._dropped, self._scans,
                             times[len(times) // 2] if times else None, str(getattr(self.source, "state", "?")))

    def _capture(self) -> None:
        try:
            while self._running:
                frame = self.source.read()
                if frame is None:
                    if getattr(self.source, "state", None) == "ended":
                        break
                    time.sleep(self.idle_sleep)  # a lost camera: the source paces its own retries
                    continue
                self._frames += 1
                with self._cond:
                    while not self.latest_wins and self._pending is not None and self._running:
                        self._cond.wait()
                    if self._pending is not None:
                        self._dropped += 1
                    self._pending = frame
                    self._cond.notify_all()
                if self.on_frame is not None:
                    self._guard(self.on_frame, frame)
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
                self._cond.notify_all()
            if frame is None or not self._running:
                return
            started = time.perf_counter()
            try:
                texts = self.decoder.decode(frame.image)
            except Exception:  # decoders promise not to raise; a broken frame still must not stop us
                log.exception("decoder failed on frame %d", frame.index)
                texts = []
            self._decode_ms.append((time.perf_counter() - started) * 1000)
            self._decoded += 1
            now = self.clock()
            for text in texts:
                if self.gate.admit(text, now):
                    self._scans += 1
                    self._guard(on_scan, Scan(text, "camera", now, frame.taken_at))

    @staticmethod
    def _guard(callback: Callable[..., object], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("callback %r failed", callback)

"""The thermometer poller: one thread that asks the device, keeps recent readings, and survives anything.

A scan takes the highest reading of the last few seconds (`reading_at`): an
infrared sensor aimed a little off a forehead reads low, never high, so the
peak of the window is the forehead. Garbage, bad checksums and split frames
are the driver's to skip; a poll with no reply is a missed poll; a port that
fails (an unplugged adapter) is closed, reported "disconnected", and reopened
every few seconds until it works again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial  # type: ignore[import-untyped]

from kiosk.thermometer.compensation import Compensation
from kiosk.thermometer.types import Driver, Sample
from kiosk.verdict import Reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    reading: Reading  # compensated, for the verdict
    sample: Sample  # what the device said


@dataclass(frozen=True)
class ThermometerState:
    """For the status bar and `doctor`-style checks."""

    status: str  # "starting", "ok", "no reading" (connected, device silent) or "disconnected"
    readings: int
    errors: int  # frames the driver skipped
    missed_polls: int
    reconnects: int
    last_error: str | None
    last_reading_at: float | None  # epoch


class ThermometerPoller:
    def __init__(self, url: str, driver: Driver, *, baudrate: int = 9600, interval: float = 0.1,
                 reply_timeout: float = 0.1, reconnect_every: float = 2.0,
                 compensation: Compensation | None = None, clock: Callable[[], float] = time.time,
                 history: int = 200, opener: Callable[..., Any] = serial.serial_for_url) -> None:
        self.url, self.driver, self.baudrate = url, driver, baudrate
        self.interval, self.reply_timeout, self.reconnect_every = interval, reply_timeout, reconnect_every
        self.compensation = compensation or Compensation()
        self.clock, self.opener = clock, opener
        self._recent: deque[Measurement] = deque(maxlen=history)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._readings = self._missed = self._reconnects = self._opens = 0
        self._last_error: str | None = None
        self._buffer = bytearray()
        self.latencies: deque[float] = deque(maxlen=1000)  # seconds from request to reading, for benchmarks

    # -- what the rest of the kiosk asks ---------------------------------------------------------

    def latest(self) -> Measurement | None:
        with self._lock:
            return self._recent[-1] if self._recent else None

    def reading_at(self, now: float, window: float = 3.0) -> Reading | None:
        """The highest reading measured in [now - window, now], or None."""
        with self._lock:
            fresh = [m.reading for m in self._recent if now - window <= m.reading.taken_at <= now + 1.0]
        return max(fresh, key=lambda r: r.celsius) if fresh else None

    @property
    def state(self) -> ThermometerState:
        latest = self.latest()
        last_at = latest.reading.taken_at if latest else None
        if not self._connected:
            status = "disconnected" if self._opens or self._last_error else "starting"
        elif last_at is None or self.clock() - last_at > max(1.0, 5 * self.interval):
            status = "no reading"
        else:
            status = "ok"
        return ThermometerState(status, self._readings, self.driver.errors, self._missed, self._reconnects,
                                self._last_error, last_at)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"thermometer {self.url}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        port = None
        while not self._stop.is_set():
            if port is None:
                port = self._open()
                if port is None:
                    self._stop.wait(self.reconnect_every)
                    continue
            try:
                self._poll(port)
            except Exception as err:  # SerialException, OSError: unplugged; anything else: still survive
                self._fail(f"{type(err).__name__}: {err}")
                _close(port)
                port = None
                self._stop.wait(self.reconnect_every)
        if port is not None:
            _close(port)
        self._connected = False

    def _open(self) -> Any:
        try:
            port = self.opener(self.url, baudrate=self.baudrate, timeout=0.02)
        except Exception as err:
            self._fail(f"cannot open {self.url}: {err}")
            return None
        if self._opens and not self._connected:
            self._reconnects += 1
            log.warning("thermometer %s is back", self.url)
        self._opens += 1
        self._connected = True
        self._buffer = bytearray()
        setup = self.driver.setup()
        if setup:
            try:
                port.write(setup)
            except Exception as err:
                self._fail(f"cannot write to {self.url}: {err}")
                _close(port)
                return None
        return port

    def _fail(self, message: str) -> None:
        if self._connected or self._last_error != message:
            log.warning("thermometer %s: %s", self.url, message)
        self._connected = False
        self._last_error = message

    def _poll(self, port: Any) -> None:
        started = time.monotonic()
        request = self.driver.request()
        if request is not None:
            port.write(request)
        deadline = started + (self.reply_timeout if request is not None else self.interval)
        got = False
        while time.monotonic() < deadline and not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            if not data:
                continue
            self._buffer += data
            samples = self.driver.parse(self._buffer)
            if samples:
                self._record(samples, time.monotonic() - started)
                got = True
                if request is not None:
                    break
        if request is not None and not got:
            self._missed += 1
        if len(self._buffer) > 4096:  # a device that never completes a frame must not grow memory
            del self._buffer[:-256]
        self._stop.wait(max(0.0, started + self.interval - time.monotonic()))

    def _record(self, samples: list[Sample], latency: float) -> None:
        now = self.clock()
        with self._lock:
            for sample in samples:
                self._recent.append(Measurement(Reading(self.compensation.body(sample), now), sample))
                self._readings += 1
        self.latencies.append(latency)
        self._last_error = None


def _close(port: Any) -> None:
    with contextlib.suppress(Exception):  # closing a vanished device may fail; it is gone either way
        port.close()

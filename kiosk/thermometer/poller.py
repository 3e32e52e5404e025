"""The thermometer poller: one thread that asks the device, keeps recent readings, and survives anything.

A scan takes the highest *confirmed* reading of the last few seconds
(`reading_at`): an infrared sensor aimed a little off a forehead reads low,
never high, so the peak of the window is the forehead, but one corrupt frame
that passed its checksum must not be that peak. Frames outside the sensor's or
a person's range are dropped and counted; a reading counts only when another
one agrees with it (kiosk/thermometer/confirm.py has both rules and why).
Garbage, bad checksums and split frames are the driver's to skip; a poll with
no reply is a missed poll; a port that fails (an unplugged adapter) is closed,
reported "disconnected", and reopened every few seconds until it works again.
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

from kiosk.closing import StoppedOnExit
from kiosk.thermometer.compensation import Compensation
from kiosk.thermometer.confirm import BODY_RANGE, Rule, Span, confirmed, dropped, in_window
from kiosk.thermometer.types import Driver, Sample
from kiosk.verdict import Reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    reading: Reading  # compensated, for the verdict
    sample: Sample  # what the device said
    dropped: str | None = None  # why it was dropped (outside the sensor's or a person's range), or None


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
    dropped: int = 0  # frames that passed the driver's checks but were out of range (confirm.dropped)
    last_dropped: str | None = None  # why the latest of them was dropped


class ThermometerPoller(StoppedOnExit):
    def __init__(self, url: str, driver: Driver, *, baudrate: int = 9600, interval: float = 0.1,
                 reply_timeout: float = 0.1, reconnect_every: float = 2.0,
                 compensation: Compensation | None = None, clock: Callable[[], float] = time.time,
                 history: int = 200, opener: Callable[..., Any] = serial.serial_for_url,
                 rule: Rule | None = None, body_range: Span = BODY_RANGE,
                 listener: Callable[[Measurement], None] | None = None) -> None:
        self.url, self.driver, self.baudrate = url, driver, baudrate
        self.interval, self.reply_timeout, self.reconnect_every = interval, reply_timeout, reconnect_every
        self.compensation = compensation or Compensation()
        self.clock, self.opener = clock, opener
        self.rule, self.body_range = rule or Rule(), body_range
        self.listener = listener  # told of every measurement, dropped ones too, on the poller's thread (probe)
        self._recent: deque[Measurement] = deque(maxlen=history)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._readings = self._missed = self._reconnects = self._opens = self._dropped = 0
        self._last_error: str | None = None
        self._last_dropped: str | None = None
        self._buffer = bytearray()
        self.latencies: deque[float] = deque(maxlen=1000)  # seconds from request to reading, for benchmarks

    # -- what the rest of the kiosk asks ---------------------------------------------------------

    def latest(self) -> Measurement | None:
        """The newest kept measurement, confirmed or not (dropped ones are never kept)."""
        with self._lock:
            return self._recent[-1] if self._recent else None

    def readings(self, now: float, window: float = 3.0) -> list[Reading]:
        """Every kept reading measured in [now - window, now + 1 s], oldest first."""
        with self._lock:
            kept = [m.reading for m in self._recent]
        return in_window(kept, now, window)

    def reading_at(self, now: float, window: float = 3.0) -> Reading | None:
        """The highest confirmed reading measured in [now - window, now], or None (confirm.confirmed)."""
        return confirmed(self.readings(now, window), now, window, self.rule)

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
                                self._last_error, last_at, self._dropped, self._last_dropped)

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
        measurements = []
        with self._lock:
            for sample in samples:
                body = self.compensation.body(sample)
                why = dropped(self.driver.name, sample, body, self.body_range)
                measurement = Measurement(Reading(body, now), sample, why)
                measurements.append(measurement)
                if why is None:
                    self._recent.append(measurement)
                    self._readings += 1
                else:  # never kept: it can neither decide a verdict nor confirm another reading
                    self._dropped += 1
                    self._last_dropped = why
        self.latencies.append(latency)
        self._last_error = None
        if self.listener is not None:
            for measurement in measurements:
                try:
                    self.listener(measurement)
                except Exception:  # a listener's bug must not look like an unplugged port
                    log.exception("thermometer listener failed")


def _close(port: Any) -> None:
    with contextlib.suppress(Exception):  # closing a vanished device may fail; it is gone either way
        port.close()

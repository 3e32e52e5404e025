"""A dedicated 2D barcode scanner in USB-CDC serial mode: each code arrives as text ended by CR and/or LF.

LineSplitter cuts the byte stream into codes and does no IO, so it is tested on
its own; SerialScanner is the reader thread around it. The port is a pyserial
URL, so `/dev/ttyACM0`, `/dev/serial/by-id/...`, `socket://host:port`,
`spy://...` and `loop://` all work unchanged. A port missing at start or lost
while reading (a USB unplug) makes the scanner disconnected; it retries every
`reconnect_every` seconds and resumes by itself. Nothing raises out of its thread.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import serial  # type: ignore[import-untyped]

from kiosk.scanner.port_errors import why_not_opened
from kiosk.scanner.types import Scan, ScanHandler, SourceHealth

log = logging.getLogger(__name__)

MAX_LINE = 4096  # bytes; longer is noise: the biggest QR code holds 2,953 bytes
READ_TIMEOUT = 0.05  # seconds one read may wait: bounds how late stop() and stale partial lines are noticed
STOP_JOIN = 1.0  # seconds stop() waits for the thread

_LINE_END = re.compile(rb"[\r\n]")
# C0 controls, DEL and C1 controls, but not TAB: some scanner modes send NUL, STX/ETX or stray escapes.
_CONTROLS = {c: None for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x09}


def _clean(raw: bytes) -> str:
    # errors="replace": a broken code becomes a malformed verdict later, never a crash here.
    return raw.decode("utf-8", errors="replace").translate(_CONTROLS)


class LineSplitter:
    """Cuts a scanner's byte stream into codes. Pure (no IO, no clock of its own) and never raises.

    A line ends at CR, LF or CRLF. Empty lines are skipped silently, which also
    makes a CRLF one end when the CR and the LF come in different chunks. A line
    is dropped, and counted in `dropped`, when it grows over `max_line` bytes,
    when nothing but control characters is left of it, or when it stays
    unfinished with no new byte for `partial_timeout` seconds (a scan cut off,
    so its tail is not glued to the front of the next code).
    """

    def __init__(self, partial_timeout: float = 0.3, max_line: int = MAX_LINE) -> None:
        self.partial_timeout = partial_timeout
        self.max_line = max_line
        self.dropped = 0
        self._buf = bytearray()
        self._overlong = False  # the current line went past max_line: skip to its end
        self._last = 0.0  # when the current line last grew

    def feed(self, data: bytes, now: float) -> list[str]:
        """The codes that `data`, received at `now` (seconds, monotonic), completes."""
        self.expire(now)
        *ended, tail = _LINE_END.split(data)
        codes = []
        for piece in ended:
            self._add(piece)
            code = self._end_line()
            if code is not None:
                codes.append(code)
        self._add(tail)
        if data:
            self._last = now
        return codes

    def expire(self, now: float) -> str | None:
        """Drops the unfinished line if no byte came for `partial_timeout`; its cleaned text, or None."""
        if (self._buf or self._overlong) and now - self._last >= self.partial_timeout:
            return self.reset()
        return None

    def reset(self) -> str | None:
        """Drops the unfinished line now (the port was lost); its cleaned text, or None if there was none."""
        text = _clean(bytes(self._buf)) if self._buf else None
        if text is not None:
            self.dropped += 1
        self._buf.clear()
        self._overlong = False
        return text

    def _add(self, piece: bytes) -> None:
        if self._overlong or not piece:
            return
        self._buf += piece
        if len(self._buf) > self.max_line:
            self._buf.clear()
            self._overlong = True
            self.dropped += 1

    def _end_line(self) -> str | None:
        if self._overlong:
            self._overlong = False
            return None
        if not self._buf:
            return None
        text = _clean(bytes(self._buf))
        self._buf.clear()
        if not text:
            self.dropped += 1
            return None
        return text


@dataclass(frozen=True)
class ScannerState:
    """What the UI and `kiosk doctor` show about a serial scanner."""

    connected: bool = False
    scans: int = 0
    dropped: int = 0  # lines thrown away: unfinished, too long, or only control characters
    reconnects: int = 0  # times the port was opened again after it was missing or lost
    handler_errors: int = 0  # exceptions raised by on_scan (caught; the scanner goes on)
    last_error: str | None = None


class _Port(Protocol):
    """The part of a pyserial port the reader uses."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def close(self) -> None: ...


class SerialScanner:
    """A serial 2D barcode scanner as a CodeSource: each code becomes Scan(text, "serial", clock())."""

    def __init__(self, url: str, *, baudrate: int = 9600, partial_timeout: float = 0.3,
                 reconnect_every: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.baudrate = baudrate
        self.partial_timeout = partial_timeout
        self.reconnect_every = reconnect_every
        self._clock = clock
        self._lock = threading.Lock()
        self._state = ScannerState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> ScannerState:
        with self._lock:
            return self._state

    @property
    def kind(self) -> str:
        return "serial"

    @property
    def ended(self) -> bool:
        return False  # a port is waited for, lost and found again, never done

    def health(self) -> SourceHealth:
        state = self.state
        never_opened = not (state.connected or state.reconnects or state.scans)
        tried = state.connected or state.last_error is not None  # until then its thread has not tried the port
        return SourceHealth("ok" if state.connected else "disconnected", tried,
                            why_not_opened(state.last_error) if never_opened else None, self.url, self.reconnect_every)

    def start(self, on_scan: ScanHandler) -> None:
        """Starts the reader thread; the port is opened there, so a missing port is not an error here."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"serial scanner {self.url} is already running")
        self._stop = threading.Event()  # one per thread: a thread that outlived stop() keeps its own
        self._thread = threading.Thread(target=self._run, args=(on_scan, self._stop),
                                        name=f"serial-scanner {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the reader thread, which closes the port; waits for it up to about a second."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_JOIN)
            if thread.is_alive():  # stuck in an open (a socket:// connect): it closes the port when it returns
                log.warning("serial scanner %s: reader thread did not stop within %.1f s", self.url, STOP_JOIN)
        self._update(connected=False)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _run(self, on_scan: ScanHandler, stop: threading.Event) -> None:
        splitter = LineSplitter(self.partial_timeout)
        failed = False  # the last open failed or the port was lost: the next good open is a reconnect
        while not stop.is_set():
            try:
                port: _Port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=READ_TIMEOUT)
            except Exception as err:  # SerialException, OSError, or ValueError for a bad URL: retry all alike
                if not failed:
                    log.warning("serial scanner %s: cannot open: %s", self.url, err)
                failed = True
                self._update(connected=False, last_error=f"cannot open: {err}")
                stop.wait(self.reconnect_every)
                continue
            with self._lock:
                self._state = replace(self._state, connected=True,
                                      reconnects=self._state.reconnects + int(failed))
            if failed:
                log.info("serial scanner %s: connected again", self.url)
            failed = False
            try:
                self._read(port, splitter, on_scan, stop)
            except Exception as err:  # a lost port is SerialException/OSError; nothing else may kill the thread
                failed = True
                splitter.reset()
                log.warning("serial scanner %s: lost: %s", self.url, err)
                self._update(connected=False, dropped=splitter.dropped, last_error=f"lost: {err}")
            finally:
                with contextlib.suppress(Exception):
                    port.close()
            if failed:
                stop.wait(self.reconnect_every)

    def _read(self, port: _Port, splitter: LineSplitter, on_scan: ScanHandler, stop: threading.Event) -> None:
        while not stop.is_set():
            # One byte waits up to READ_TIMEOUT; then take whatever else has arrived.
            data = port.read(1)
            if data:
                data += port.read(port.in_waiting)
            now = time.monotonic()  # not `clock`: a wall-clock jump must not expire or keep a partial line
            stale = splitter.expire(now)
            if stale is not None:
                log.info("serial scanner %s: dropped an unfinished line: %r", self.url, stale[:40])
            codes = splitter.feed(data, now)
            if splitter.dropped != self._state.dropped:
                self._update(dropped=splitter.dropped)
            for text in codes:
                self._deliver(text, on_scan)

    def _deliver(self, text: str, on_scan: ScanHandler) -> None:
        with self._lock:
            self._state = replace(self._state, scans=self._state.scans + 1)
        try:
            on_scan(Scan(text, "serial", self._clock()))
        except Exception as err:
            log.exception("serial scanner %s: on_scan raised", self.url)
            with self._lock:
                self._state = replace(self._state, handler_errors=self._state.handler_errors + 1,
                                      last_error=f"on_scan raised: {err!r}")

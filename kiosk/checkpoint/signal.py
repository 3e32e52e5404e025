"""The pass signal: a configurable command on a serial line for a turnstile or a lamp, sent on every PASS.

Sent from its own thread, so a slow or missing gate controller never delays a
verdict; a port that is gone is reopened at the next pass, and failures are
counted and logged, never raised.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import serial  # type: ignore[import-untyped]

from kiosk.checkpoint.settings import SignalSettings

log = logging.getLogger("kiosk.signal")


class PassSignal:
    def __init__(self, settings: SignalSettings, *, opener: Callable[..., Any] = serial.serial_for_url) -> None:
        self.settings, self.opener = settings, opener
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self._port: Any = None
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pass-signal", daemon=True)
        self._thread.start()

    def fire(self) -> None:
        self._queue.put(self.settings.on_pass)

    def _run(self) -> None:
        while (command := self._queue.get()) is not None:
            try:
                if self._port is None:
                    self._port = self.opener(self.settings.port, baudrate=self.settings.baudrate, timeout=0.5,
                                             write_timeout=0.5)
                self._port.write(command)
                self._port.flush()
                self.sent += 1
                self.last_error = None
            except (OSError, serial.SerialException, ValueError) as err:
                self.failed += 1
                if self.last_error is None:
                    log.error("pass signal on %s failed: %s", self.settings.port, err)
                self.last_error = str(err)
                self._close_port()

    def _close_port(self) -> None:
        if self._port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self._port.close()
            self._port = None

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(2)
        self._close_port()

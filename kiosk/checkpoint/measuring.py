"""A code read before the thermometer has a confirmed reading: wait a moment for one, saying "measuring".

Everything else about the code is fine (the temperature is checked last), so the
person is worth a short wait rather than a RETRY while they step up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kiosk.checkpoint.view import MeasuringView
from kiosk.verdict import Reading

if TYPE_CHECKING:
    from kiosk.thermometer.poller import ThermometerPoller

log = logging.getLogger("kiosk.checkpoint")


def wait_for_reading(source: str, thermometer: ThermometerPoller, *, wait: float, window: float,
                     clock: Callable[[], float], listeners: Sequence[object],
                     stopping: threading.Event) -> tuple[Reading | None, float]:
    """(the confirmed reading, or None after `wait` seconds without one; the time to decide at).

    The listeners that can show it (on_measuring) are told first; stopping (Ctrl-C, the video ended) ends
    the wait at once: the code in hand still gets its verdict."""
    measuring = MeasuringView(source, clock(), wait)
    for listener in listeners:
        try:
            if (tell := getattr(listener, "on_measuring", None)) is not None:
                tell(measuring)
        except Exception:  # a screen that cannot say "measuring" must not cost the person their verdict
            log.exception("listener could not show measuring")
    deadline = time.monotonic() + wait
    while True:
        now = clock()
        reading = thermometer.reading_at(now, window)
        left = deadline - time.monotonic()
        if reading is not None or left <= 0 or stopping.wait(min(0.05, left)):
            return reading, now

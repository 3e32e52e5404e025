"""The background sync loop: upload when events are pending, pull trust files now and then, back off on failure.

A thread of its own with its own database connection (the Outbox's), so a
verdict never waits for it: the checkpoint calls `wake()` after it logs an
event (a flag, nothing more). Failures back off exponentially with full jitter
(a random wait up to min(cap, base * 2^failures)), so fifty kiosks coming back
online after an outage do not all knock at the same second. `stop()` ends it
within the transport's timeout.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.sync.transport import SyncError
from kiosk.sync.uploader import PassResult, Uploader

log = logging.getLogger("kiosk.sync")


@dataclass(frozen=True)
class LoopTiming:
    interval: float = 60.0  # seconds between passes when all is well (events are also pushed on wake)
    linger: float = 2.0  # after a wake, wait this long so a queue's events go in one batch
    trust_every: float = 3600.0  # seconds between trust pulls
    base: float = 1.0  # first backoff
    cap: float = 300.0  # longest backoff


class SyncLoop:
    def __init__(self, uploader: Uploader, pull: Callable[[], object] | None = None, *,
                 timing: LoopTiming = LoopTiming(), rng: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.uploader, self.pull, self.timing, self.rng, self.clock = uploader, pull, timing, rng, clock
        self.failures = 0
        self.passes = 0
        self.last_result: PassResult | None = None
        self.last_error: str | None = None
        self.next_try: float | None = None  # monotonic time of the next attempt after a failure
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_pull = 0.0

    def start(self) -> SyncLoop:
        self._thread = threading.Thread(target=self._run, name="kiosk-sync", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Something was logged: sync soon (after `linger`), unless backing off."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def backoff(self) -> float:
        """The wait after the current run of failures: full jitter under an exponential cap."""
        return float(self.rng() * min(self.timing.cap, self.timing.base * 2.0 ** min(self.failures, 30)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            wait = self.backoff() if self.failures else self.timing.interval
            self.next_try = self.clock() + wait if self.failures else None
            if self._stop.wait(0) or self._sleep(wait):
                return

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`, or less if woken while healthy; True when stopping."""
        deadline = self.clock() + seconds
        while not self._stop.is_set():
            left = deadline - self.clock()
            if left <= 0:
                return False
            if self._wake.wait(left) and not self._stop.is_set():
                self._wake.clear()
                if not self.failures:  # a failing collector is not asked sooner because people keep coming
                    return self._stop.wait(self.timing.linger)
        return True

    def step(self) -> None:
        """One round: pull trust if due, then upload everything pending. Never raises."""
        try:
            self.last_result = self.uploader.run_once(stop=self._stop)  # events first: they must not wait
            if self.pull is not None and self.clock() >= self._next_pull:
                self.pull()
                self._next_pull = self.clock() + self.timing.trust_every
            self.passes += 1
            self.failures, self.last_error = 0, None
        except SyncError as err:
            self._failed(str(err))
            log.warning("sync failed (%d in a row): %s", self.failures, err)
        except Exception as err:  # a bug must not kill the loop: the log keeps everything, try again later
            self._failed(f"{type(err).__name__}: {err}")
            log.exception("sync failed unexpectedly")

    def _failed(self, message: str) -> None:
        self.failures += 1
        self.last_error = message
        outbox = getattr(self.uploader, "outbox", None)
        if outbox is not None:  # for `kiosk sync --status` and the status bar, across restarts
            try:
                outbox.update(last_error=message)
            except Exception:  # the log itself failing is shown by the recorder's health
                log.exception("cannot record the sync error")

"""The background sync loop: when to run a sync pass. What a pass does is kiosk.sync.service's (`sync_once`).

A pass runs now and then, and soon after a wake; the trust files are pulled
with it when they are due. A thread of its own with its own database connection
(the Outbox's), so a verdict never waits for it: the checkpoint calls `wake()`
after it logs an event (a flag, nothing more). Failures back off exponentially with full jitter
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

log = logging.getLogger("kiosk.sync")

# One sync pass: pull the trust files too when the flag says they are due, stop between batches when the event
# is set; returns why the pass failed, or None when it went through.
SyncPass = Callable[[bool, threading.Event], "str | None"]


@dataclass(frozen=True)
class LoopTiming:
    interval: float = 60.0  # seconds between passes when all is well (events are also pushed on wake)
    linger: float = 2.0  # after a wake, wait this long so a queue's events go in one batch
    trust_every: float = 3600.0  # seconds between trust pulls
    base: float = 1.0  # first backoff
    cap: float = 300.0  # longest backoff


class SyncLoop:
    def __init__(self, sync_pass: SyncPass, *, timing: LoopTiming = LoopTiming(),
                 rng: Callable[[], float] = random.random, clock: Callable[[], float] = time.monotonic) -> None:
        self.sync_pass, self.timing, self.rng, self.clock = sync_pass, timing, rng, clock
        self.failures = 0
        self.passes = 0
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
        """One round: a pass, with the trust pull if it is due. Never raises."""
        pull_due = self.clock() >= self._next_pull
        try:
            error = self.sync_pass(pull_due, self._stop)
        except Exception as err:  # a bug must not kill the loop: the log keeps everything, try again later
            error = f"{type(err).__name__}: {err}"
            log.exception("sync failed unexpectedly")
        if error is None:
            if pull_due:
                self._next_pull = self.clock() + self.timing.trust_every
            self.passes += 1
            self.failures, self.last_error = 0, None
            return
        self.failures += 1
        self.last_error = error
        log.warning("sync failed (%d in a row): %s", self.failures, error)

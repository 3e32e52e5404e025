"""The sync service: the kiosk's sync parts and the one rule of a sync pass.

A pass sends the pending events first (they are what must not wait), then pulls
the trust files. `kiosk sync`, the admin screen's "sync now" and the background
loop all run `sync_once`, so they agree on what a pass is and on what a failed
one leaves behind: its error in the sync state (`kiosk sync --status`, the status
bar, across restarts), the events it did send counted as sent, and the rest
pending for the next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.closing import ClosedOnExit
from kiosk.device_identity import DeviceIdentity
from kiosk.errors import LogWriteError, SyncError
from kiosk.sync.health import clock_offset
from kiosk.sync.loop import LoopTiming, SyncLoop
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import Fault
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport, Transport
from kiosk.sync.trust_pull import TrustPull
from kiosk.sync.uploader import PassResult, Uploader
from kiosk.trustdir import Installed

log = logging.getLogger("kiosk.sync")


@dataclass
class SyncParts(ClosedOnExit):
    """What sync needs for one audit log (built by kiosk.sync.wiring.build_sync); `with` closes it."""

    outbox: Outbox
    transport: Transport
    identity: DeviceIdentity
    uploader: Uploader
    pull: Callable[[], TrustPull] | None
    settings: SyncConfig
    background: SyncLoop | None = None

    def start_background(self) -> SyncLoop:
        """Start the background loop (stopped by close()): the same pass as `kiosk sync`, on a timer."""
        timing = LoopTiming(interval=self.settings.interval, trust_every=self.settings.trust_every)

        def one_pass(pull_due: bool, stop: threading.Event) -> str | None:
            return sync_once(self, pull_trust=pull_due, stop=stop).error

        self.background = SyncLoop(one_pass, timing=timing).start()
        return self.background

    def wake(self) -> None:
        """An event was logged: the background loop sends it soon."""
        if self.background is not None:
            self.background.wake()

    def close(self) -> None:
        """Stop the loop (the pass in flight ends within the timeout; what is left goes next time), then close."""
        if self.background is not None:
            self.background.stop(timeout=self.settings.timeout + 5)
        self.transport.close()
        self.outbox.close()


@dataclass(frozen=True)
class SyncOutcome:
    """What one pass did. A failed pass has `error`; what it sent before failing is still counted."""

    sent: int = 0  # events the collector acknowledged in this pass
    stored: int = 0  # of those, new to the collector
    duplicates: int = 0
    batches: int = 0
    faults: tuple[Fault, ...] = ()  # chain faults the collector reported
    pulled: bool = False  # a trust pull ran to its end (then installed/current/refused say what it found)
    installed: tuple[Installed, ...] = ()
    current: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    error: str | None = None  # why the pass stopped; None: it went through
    log_failed: bool = False  # the error was the audit log's (LogWriteError), not the collector's
    pending: int | None = None  # events left after the pass; None when the log could not say

    @property
    def ok(self) -> bool:
        return self.error is None


def sync_once(parts: SyncParts, *, pull_trust: bool = True, progress: Callable[[int], object] | None = None,
              stop: threading.Event | None = None) -> SyncOutcome:
    """One pass: upload every pending event, then (with `pull_trust` and a pull configured) the trust files.

    `progress` hears the number of events of each acknowledged batch; `stop` ends the upload between
    batches and skips the pull. A SyncError or a LogWriteError is recorded as the sync state's
    last_error and returned in the outcome, never raised; anything else (a bug) is recorded, then raised.
    """
    uploaded = PassResult()
    pulled: TrustPull | None = None
    try:
        parts.uploader.run_once(progress=progress, stop=stop, result=uploaded)
        if pull_trust and parts.pull is not None and not (stop is not None and stop.is_set()):
            pulled = parts.pull()
    except (SyncError, LogWriteError) as err:
        record_failure(parts.outbox, str(err))
        return _outcome(uploaded, pulled, error=str(err), log_failed=isinstance(err, LogWriteError),
                        pending=_pending(parts.outbox))
    except Exception as err:
        record_failure(parts.outbox, f"{type(err).__name__}: {err}")
        raise
    return _outcome(uploaded, pulled, pending=uploaded.pending)


def record_failure(outbox: Outbox, message: str) -> None:
    """Keep why sync failed in the sync state. A log that cannot take it says so itself (its own health)."""
    try:
        outbox.update(last_error=message)
    except LogWriteError as err:
        log.error("cannot record the sync error: %s", err)


def measure_clock(transport: HttpTransport, clock: Callable[[], float] = time.time) -> float | None:
    """Ask the collector's clock once: the offset as the uploader keeps it (None: the collector did not say).

    SyncError when the collector cannot be asked.
    """
    asked = clock()
    reply = transport.clock()
    return clock_offset(reply.server_time, asked, clock())


def _pending(outbox: Outbox) -> int | None:
    try:
        return outbox.pending()
    except LogWriteError:
        return None


def _outcome(uploaded: PassResult, pulled: TrustPull | None, *, error: str | None = None, log_failed: bool = False,
             pending: int | None) -> SyncOutcome:
    trust = pulled or TrustPull()
    return SyncOutcome(uploaded.sent, uploaded.stored, uploaded.duplicates, uploaded.batches, tuple(uploaded.faults),
                       pulled is not None, tuple(trust.installed), tuple(trust.current), tuple(trust.refused),
                       error, log_failed, pending)

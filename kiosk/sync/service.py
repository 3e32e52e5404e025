"""The sync service: the kiosk's sync parts and the one rule of a sync pass.

A pass sends the pending events first (they are what must not wait), then pulls
the trust files. `kiosk sync`, the admin screen's "sync now" and the background
loop all run `sync_once`, so they agree on what a pass is and on what a failed
one leaves behind: its error in the sync state (`kiosk sync --status`, the status
bar, across restarts), the events it did send counted as sent, and the rest
pending for the next pass. Every batch tells the collector how the kiosk is
(`StatusReporter`: backlog, trust, clock, and the checkpoint's devices when it runs).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.closing import ClosedOnExit
from kiosk.device_identity import DeviceIdentity
from kiosk.errors import KioskError, LogWriteError, SyncError
from kiosk.fileio import read_untrusted
from kiosk.sync import protocol
from kiosk.sync.health import clock_offset
from kiosk.sync.loop import LoopTiming, SyncLoop
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import Fault, KioskStatus
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport, Transport
from kiosk.sync.trust_pull import TrustPull
from kiosk.sync.uploader import PassResult, Uploader
from kiosk.trust import parse_bundle
from kiosk.trustdir import BUNDLE, Installed, load_roots, refreshed_at

log = logging.getLogger("kiosk.sync")


class StatusReporter:
    """The status a batch carries: always one the collector accepts (protocol.parse_status's bounds)."""

    def __init__(self, outbox: Outbox, trust_dir: Path | None, raw_subjects: bool = False) -> None:
        """`raw_subjects`: the log stores raw subject ids ([log] raw_subject = true), as the collector must know."""
        self.outbox, self.trust_dir, self.raw_subjects = outbox, trust_dir, raw_subjects
        # The checkpoint's devices (kiosk.checkpoint.view.DeviceStates: .camera, .scanner, .thermometer), once a
        # checkpoint runs; `kiosk sync` alone has none.
        self.devices: Callable[[], object] | None = None
        self._bundle: tuple[object, float | None] = (None, None)  # (the file's identity, its iat)

    def __call__(self, backlog: int) -> KioskStatus:
        refreshed = refreshed_at(self.trust_dir) if self.trust_dir is not None else None
        return KioskStatus(min(backlog, protocol.MAX_BACKLOG), _time(self._issued_at()), _time(refreshed),
                           _within(self.outbox.state().clock_offset, protocol.MAX_OFFSET), self._states(),
                           self.raw_subjects)

    def _issued_at(self) -> float | None:
        """The installed trust bundle's iat, read again only when the file changed."""
        if self.trust_dir is None:
            return None
        try:
            info = (self.trust_dir / BUNDLE).stat()
        except OSError:
            return None
        identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._bundle[0] != identity:
            try:
                roots, _ = load_roots(self.trust_dir)
                iat: float | None = float(parse_bundle(read_untrusted(self.trust_dir / BUNDLE, "trust bundle"),
                                                       roots).iat)
            except (KioskError, ValueError, OSError):
                iat = None
            self._bundle = (identity, iat)
        return self._bundle[1]

    def _states(self) -> dict[str, str]:
        if self.devices is None:
            return {}
        try:
            now = self.devices()
        except Exception as err:  # the status is a courtesy: a device that cannot say must not stop sync
            log.warning("device states for the collector: %s", err)
            return {}
        states = {}
        for name in protocol.DEVICE_KINDS:
            state = getattr(now, name, None)
            if isinstance(state, str):
                word = state.strip().lower()[:32]
                states[name] = word if protocol.STATE_WORD.fullmatch(word) else "unknown"
        return states


def _within(value: float | None, limit: float, low: float | None = None) -> float | None:
    lowest = -limit if low is None else low
    return value if value is not None and math.isfinite(value) and lowest <= value <= limit else None


def _time(value: float | None) -> float | None:
    return _within(value, protocol.MAX_TIME, 0.0)


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
    reporter: StatusReporter | None = None

    def report_devices(self, states: Callable[[], object]) -> None:
        """Tell the collector what `states()` says of the devices (.camera, .scanner, .thermometer)."""
        if self.reporter is not None:
            self.reporter.devices = states

    def start_background(self) -> SyncLoop:
        """Start the background loop (stopped by close()): the same pass as `kiosk sync`, on a timer, with a
        heartbeat when there is nothing to send (kiosk.sync.uploader)."""
        timing = LoopTiming(interval=self.settings.interval, trust_every=self.settings.trust_every)

        def one_pass(pull_due: bool, stop: threading.Event) -> str | None:
            return sync_once(self, pull_trust=pull_due, stop=stop, heartbeat=True).error

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
              stop: threading.Event | None = None, heartbeat: bool = False) -> SyncOutcome:
    """One pass: upload every pending event, then (with `pull_trust` and a pull configured) the trust files.

    `progress` hears the number of events of each acknowledged batch; `stop` ends the upload between
    batches and skips the pull. A SyncError or a LogWriteError is recorded as the sync state's
    last_error and returned in the outcome, never raised; anything else (a bug) is recorded, then raised.
    """
    uploaded = PassResult()
    pulled: TrustPull | None = None
    try:
        parts.uploader.run_once(progress=progress, stop=stop, result=uploaded, heartbeat=heartbeat)
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

"""One sync pass: send every pending event, batch by batch, and mark synced only what was acknowledged.

Every attempt is signed afresh (new timestamp, new nonce), so a batch whose
answer was lost is simply sent again: the collector stores events by id and
counts the copies as duplicates. The collector's clock in every answer gives
the offset to ours; a batch refused as stale is re-signed once with the
collector's time, so a kiosk whose clock is off still syncs (and warns).

Each batch carries the kiosk's status (`report`, kiosk.sync.service.StatusReporter)
with the backlog left after it. A pass of the background loop that had nothing to
send sends an empty batch with the status (a heartbeat) when it changed or every
HEARTBEAT seconds, so the collector's console knows a quiet kiosk is alive.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.device_identity import DeviceIdentity
from kiosk.errors import SyncError, SyncRefused
from kiosk.sync.health import clock_offset
from kiosk.sync.outbox import Outbox
from kiosk.sync.protocol import (
    DEVICE_HEADER,
    MAX_BODY,
    SIGNATURE_HEADER,
    Ack,
    Fault,
    KioskStatus,
    Linked,
    encode_batch,
    parse_ack,
    sign,
)
from kiosk.sync.transport import Reply, Transport

BATCH = 500
HEARTBEAT = 300.0  # seconds between heartbeats of a kiosk with nothing to send, while its status stays the same
log = logging.getLogger("kiosk.sync")


class _Oversized(Exception):
    """A batch's body came out over MAX_BODY: the collector would refuse it unread."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


HINTS = {
    "unknown_device": "this kiosk is not enrolled: on the collector run `kiosk collector enroll PUBLIC_KEY` "
                      "with the key `kiosk device show` prints",
    "revoked": "this kiosk was revoked at the collector; ask the site manager",
    "bad_signature": "the collector holds another public key for this kiosk; enroll it again",
}


@dataclass
class PassResult:
    sent: int = 0  # events acknowledged in this pass
    stored: int = 0  # of those, new to the collector
    duplicates: int = 0
    batches: int = 0
    faults: list[Fault] = field(default_factory=list)
    pending: int = 0  # left when the pass ended


class Uploader:
    def __init__(self, outbox: Outbox, transport: Transport, identity: DeviceIdentity, *,
                 clock: Callable[[], float] = time.time, batch: int = BATCH,
                 report: Callable[[int], KioskStatus] | None = None) -> None:
        """`report(backlog)`: the status to send with a batch that leaves `backlog` events unsent; None: none."""
        self.outbox, self.transport, self.identity = outbox, transport, identity
        self.clock, self.batch_size, self.report = clock, batch, report
        self._running = threading.Lock()
        self._told: tuple[KioskStatus, float] | None = None  # the last status the collector took, and when

    def run_once(self, progress: Callable[[int], object] | None = None, stop: threading.Event | None = None,
                 result: PassResult | None = None, heartbeat: bool = False) -> PassResult:
        """Send until nothing is pending (or `stop` is set); SyncError if a batch could not be delivered.

        `result` is filled in batch by batch, so what was acknowledged before a failure is still known to
        the caller (kiosk.sync.service, which also records the failure in the sync state). `heartbeat`: with
        nothing to send, send the status alone when it is due (the background loop's passes).
        """
        with self._running:  # the background loop and "sync now" on the admin screen take turns
            done = self._run_once(progress, stop, PassResult() if result is None else result)
            if heartbeat and done.batches == 0 and done.pending == 0 and not (stop is not None and stop.is_set()):
                self._heartbeat()
            return done

    def _status(self, backlog: int) -> KioskStatus | None:
        return None if self.report is None else self.report(max(0, backlog))

    def _heartbeat(self) -> None:
        status = self._status(0)
        if status is None:
            return
        said = self._told[0] if self._told is not None else None
        same = said is not None and (said.devices, said.trust_issued_at, said.raw_subjects) == \
            (status.devices, status.trust_issued_at, status.raw_subjects)
        if same and self._told is not None and self.clock() - self._told[1] < HEARTBEAT:
            return
        self._deliver([], status)

    def _run_once(self, progress: Callable[[int], object] | None, stop: threading.Event | None,
                  result: PassResult) -> PassResult:
        self.outbox.update(last_attempt=self.clock())
        limit = self.batch_size  # fewer events a batch for the rest of the pass once a batch came out too big
        while not (stop is not None and stop.is_set()):
            pending = self.outbox.pending() if self.report is not None else 0
            events = self.outbox.batch(limit)
            if not events:
                break
            try:
                ack = self._deliver(events, self._status(pending - len(events)))
            except _Oversized as big:
                if len(events) == 1:
                    raise SyncRefused("too_large", f"event {events[0].event.id} takes {big.size:,} bytes, more "
                                                   f"than a batch may ({MAX_BODY:,}): it cannot be sent") from None
                limit = max(1, min(len(events) - 1, int(len(events) * MAX_BODY / big.size * 0.9)))
                continue
            if ack.through != events[-1].event.id:
                raise SyncError(f"the collector acknowledged {ack.through!r}, not the batch's last event")
            self.outbox.mark_synced(ack.through, len(events))
            result.sent += len(events)
            result.stored += ack.stored
            result.duplicates += ack.duplicates
            result.batches += 1
            result.faults += ack.faults
            for fault in ack.faults:
                log.warning("collector: %s", fault.message)
            if progress is not None:
                progress(len(events))
        result.pending = self.outbox.pending()
        if result.pending == 0:
            self.outbox.update(last_success=self.clock(), last_error=None)
        return result

    def _deliver(self, events: list[Linked], status: KioskStatus | None = None) -> Ack:
        for attempt in (1, 2):
            offset = self.outbox.state().clock_offset or 0.0
            start = self.clock()
            body = encode_batch(self.identity.id, events, start + offset, secrets.token_hex(16), status)
            if len(body) > MAX_BODY:
                raise _Oversized(len(body))
            reply = self.transport.post_batch(body, {DEVICE_HEADER: self.identity.id,
                                                     SIGNATURE_HEADER: sign(body, self.identity.key)})
            self.note_clock(reply, start)
            if reply.status == 200:
                try:
                    ack = parse_ack(reply.data)
                except ValueError as err:
                    raise SyncError(f"the collector's answer is not an acknowledgement: {err}") from None
                if status is not None:
                    self._told = (status, self.clock())
                return ack
            code = str(reply.data.get("error", "")) if reply.data else ""
            if code == "stale" and attempt == 1:
                continue  # the offset was just learnt from this answer: sign again with the collector's time
            message = str(reply.data.get("message", "")) if reply.data else ""
            if reply.status >= 500 or not code or code in ("stale", "replayed", "store"):
                raise SyncError(f"the collector answered {reply.status}{f' ({message})' if message else ''}")
            raise SyncRefused(code, f"the collector refused the batch: {message or code}"
                                    f"{f'; {HINTS[code]}' if code in HINTS else ''}")
        raise AssertionError("unreachable")

    def note_clock(self, reply: Reply, start: float) -> None:
        """Remember how far the collector's clock is from ours, taken half-way through the request."""
        end = self.clock()
        offset = clock_offset(reply.server_time, start, end)
        if offset is not None:
            self.outbox.update(clock_offset=offset, clock_checked=end)

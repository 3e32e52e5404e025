"""Build the sync parts from the configuration: one place, used by `kiosk sync`, `kiosk scan` and the app."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.audit.store import AuditLog
from kiosk.device_identity import DeviceIdentity, load_or_create
from kiosk.sync.health import Alert, Limits, alerts
from kiosk.sync.loop import LoopTiming, SyncLoop
from kiosk.sync.outbox import Outbox
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport, Transport
from kiosk.sync.trust_pull import TrustPull, pull_trust
from kiosk.sync.uploader import Uploader
from kiosk.trustdir import refreshed_at


@dataclass
class SyncParts:
    outbox: Outbox
    transport: Transport
    identity: DeviceIdentity
    uploader: Uploader
    pull: Callable[[], TrustPull] | None
    settings: SyncConfig

    def loop(self) -> SyncLoop:
        timing = LoopTiming(interval=self.settings.interval, trust_every=self.settings.trust_every)
        return SyncLoop(self.uploader, self.pull, timing=timing)

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()
        self.outbox.close()


def build_sync(settings: SyncConfig, log: AuditLog, trust_dir: Path, *, transport: Transport | None = None,
               clock: Callable[[], float] = time.time) -> SyncParts:
    """The parts of sync for `log`; `transport` replaces HTTP in tests that need no network."""
    identity, _ = load_or_create(settings.device_key)
    outbox = Outbox(log)
    transport = transport or HttpTransport(settings.url, timeout=settings.timeout, ca_file=settings.ca_file)
    uploader = Uploader(outbox, transport, identity, clock=clock, batch=settings.batch)
    pull = (lambda: pull_trust(transport, trust_dir, clock())) if settings.trust_pull else None
    return SyncParts(outbox, transport, identity, uploader, pull, settings)


def status(outbox: Outbox | None, trust_dir: Path, limits: Limits, now: float) -> dict[str, Any]:
    """What `kiosk sync --status`, `kiosk doctor` and the status bar show."""
    state = outbox.state() if outbox is not None else None
    refreshed = refreshed_at(trust_dir)
    found: list[Alert] = alerts(now, refreshed, state.clock_offset if state else None, limits)
    return {
        "pending": outbox.pending() if outbox is not None else None,
        "synced_through": state.synced_id if state else None,
        "uploaded": state.uploaded if state else 0,
        "last_success": state.last_success if state else None,
        "last_attempt": state.last_attempt if state else None,
        "last_error": state.last_error if state else None,
        "clock_offset": state.clock_offset if state else None,
        "trust_refreshed": refreshed,
        "alerts": [a.as_dict() for a in found],
    }

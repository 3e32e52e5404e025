"""Build the sync parts from the configuration: one place, used by `kiosk sync`, `kiosk scan` and the app."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.audit.store import AuditLog
from kiosk.device_identity import load_or_create
from kiosk.sync.health import Alert, Limits, alerts
from kiosk.sync.outbox import Outbox
from kiosk.sync.service import StatusReporter, SyncParts
from kiosk.sync.settings import SyncConfig
from kiosk.sync.transport import HttpTransport, Transport
from kiosk.sync.trust_pull import TrustPull, pull_trust
from kiosk.sync.uploader import Uploader
from kiosk.trustdir import refreshed_at

__all__ = ["SyncParts", "build_sync", "open_transport", "status"]  # SyncParts lives in kiosk.sync.service


def open_transport(settings: SyncConfig, *, timeout: float | None = None) -> HttpTransport:
    """The HTTP(S) way to the configured collector, with its certificate authority; `timeout` for a quick look."""
    return HttpTransport(settings.url, timeout=settings.timeout if timeout is None else timeout,
                         ca_file=settings.ca_file)


def build_sync(settings: SyncConfig, log: AuditLog, trust_dir: Path, *, transport: Transport | None = None,
               clock: Callable[[], float] = time.time,
               on_trust: Callable[[TrustPull], None] | None = None, raw_subjects: bool = False) -> SyncParts:
    """The parts of sync for `log`; `transport` replaces HTTP in tests that need no network.

    `raw_subjects`: the log's [log] raw_subject; each batch's status tells the collector (its console then shows
    references, not the ids, to those who may not trace).

    `on_trust` hears of every trust pull that installed something, so a running
    checkpoint reloads its trust store.
    """
    identity, _ = load_or_create(settings.device_key)
    outbox = Outbox(log)
    try:
        transport = transport or open_transport(settings)
    except BaseException:  # a ca_file that cannot be read: the outbox's connection is not left open
        outbox.close()
        raise
    reporter = StatusReporter(outbox, trust_dir, raw_subjects)
    uploader = Uploader(outbox, transport, identity, clock=clock, batch=settings.batch, report=reporter)
    chosen = transport

    def pull() -> TrustPull:
        pulled = pull_trust(chosen, trust_dir, clock())
        if pulled.installed and on_trust is not None:
            on_trust(pulled)
        return pulled

    return SyncParts(outbox, transport, identity, uploader, pull if settings.trust_pull else None, settings,
                     reporter=reporter)


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

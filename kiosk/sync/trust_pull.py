"""Pull the newest trust bundle and status list from the collector and install them like `kiosk trust import`.

The collector serves what the authority published; the kiosk trusts none of it
until `import_file` has verified it against the pinned roots, with the same
refusals (rollback, rewritten seq, wrong root, tampering). A file the kiosk has
already is not downloaded again (ETag = SHA-256 of the installed file). Once
both files are confirmed current, the trust data counts as refreshed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import ImportRefused
from kiosk.sync.transport import SyncError, Transport
from kiosk.trustdir import BUNDLE, STATUS, Installed, import_file, mark_refreshed

log = logging.getLogger("kiosk.sync")


@dataclass
class TrustPull:
    installed: list[Installed] = field(default_factory=list)  # new files installed now
    current: list[str] = field(default_factory=list)  # files the kiosk had already
    refused: list[str] = field(default_factory=list)  # why a served file was not installed
    refreshed: bool = False


def pull_trust(transport: Transport, trust_dir: Path, now: float) -> TrustPull:
    """Fetch and install trust.cose then status.cose; SyncError if the collector cannot be asked."""
    result = TrustPull()
    for name in (BUNDLE, STATUS):  # the bundle first: a new status list may need the new bundle's keys
        installed = Path(trust_dir) / name
        etag = f'"{hashlib.sha256(installed.read_bytes()).hexdigest()}"' if installed.is_file() else None
        reply = transport.fetch(name, etag)
        if reply.status == 304:
            result.current.append(name)
            continue
        if reply.status == 404:
            continue  # the authority publishes no such file (a site without a status list)
        if reply.status != 200:
            raise SyncError(f"the collector answered {reply.status} for {name}")
        with tempfile.TemporaryDirectory(prefix="kiosk-pull-") as temp:
            download = Path(temp) / name
            download.write_bytes(reply.body)
            try:
                done = import_file(download, trust_dir)
            except ImportRefused as err:
                result.refused.append(f"{name} from the collector: {err.problem}")
                log.warning("trust pull: %s from the collector refused: %s", name, err.problem)
                continue
        if done.unchanged:
            result.current.append(name)
        else:
            result.installed.append(done)
    bundle_confirmed = BUNDLE in result.current or any(i.kind == "trust bundle" for i in result.installed)
    if bundle_confirmed and not result.refused:  # a collector with nothing published confirms nothing
        mark_refreshed(trust_dir, now, "sync")
        result.refreshed = True
    return result

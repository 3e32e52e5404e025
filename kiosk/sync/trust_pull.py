"""Pull the newest trust bundle and status list from the collector and install them like `kiosk trust import`.

The collector serves what the authority published; the kiosk trusts none of it
until `import_file` has verified it against the pinned roots, with the same
refusals (rollback, rewritten seq, wrong root, tampering). A file the kiosk has
already is not downloaded again (ETag = SHA-256 of the installed file). Once
both files are confirmed current, the trust data counts as refreshed (recorded in
the data folder, `kiosk.trustdir.refresh_record`, not in the trust directory). A
download is never larger than the cap of its kind (`kiosk.fileio.CAPS`): the
transport refuses a longer one while it streams, and it is never written to disk
before it verifies.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import SyncError, TrustFileError
from kiosk.fileio import read_untrusted
from kiosk.sync.transport import Transport
from kiosk.trustdir import BUNDLE, STATUS, Installed, import_data, mark_refreshed

log = logging.getLogger("kiosk.sync")

KINDS = {BUNDLE: "trust bundle", STATUS: "status list"}  # which cap of kiosk.fileio.CAPS a download has


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
        kind = KINDS[name]
        try:
            reply = transport.fetch(name, _etag(Path(trust_dir) / name, kind), kind)
            if reply.status == 304:
                result.current.append(name)
                continue
            if reply.status == 404:
                continue  # the authority publishes no such file (a site without a status list)
            if reply.status != 200:
                raise SyncError(f"the collector answered {reply.status} for {name}")
            done = import_data(reply.body, trust_dir, name)
        except TrustFileError as err:  # larger than its kind may be, or refused as `kiosk trust import` would
            result.refused.append(f"{name} from the collector: {err.problem}")
            log.warning("trust pull: %s from the collector refused: %s", name, err.problem)
            continue
        except OSError as err:  # verified, but the trust directory cannot take it (read-only, full)
            result.refused.append(f"{name} from the collector: cannot install it in {trust_dir}: "
                                  f"{err.strerror or err}")
            log.warning("trust pull: %s cannot be installed in %s: %s", name, trust_dir, err)
            continue
        if done.unchanged:
            result.current.append(name)
        else:
            result.installed.append(done)
    bundle_confirmed = BUNDLE in result.current or any(i.kind == "trust bundle" for i in result.installed)
    if bundle_confirmed and not result.refused:  # a collector with nothing published confirms nothing
        try:
            mark_refreshed(trust_dir, now, "sync")  # in the data folder: never beside the trust files
            result.refreshed = True
        except OSError as err:
            log.error("trust pull: cannot record the refresh: %s", err)
    return result


def _etag(installed: Path, kind: str) -> str | None:
    """The ETag of the installed file; None (download it anew) when there is none or it cannot be read."""
    try:
        return f'"{hashlib.sha256(read_untrusted(installed, kind)).hexdigest()}"'
    except TrustFileError:
        return None

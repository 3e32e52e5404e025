"""`kiosk collector serve`: the collector app on uvicorn (uvloop, httptools), HTTP or HTTPS, behind the guard.

The guard (kiosk/collector/guard.py) gives every connection deadlines for its
headers and body and caps the connections, which uvicorn alone does not.
The web console (kiosk/console/) is built here from the same database and served on the same port; with a
retention period, events older than it are purged at start and every hour after, each purge in the console's
audit trail.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from kiosk.audit.zones import zone_for
from kiosk.collector.app import make_app
from kiosk.collector.database import open_store
from kiosk.collector.guard import new_loop, protocol_class
from kiosk.collector.limits import Limits
from kiosk.errors import ConfigError, KioskError
from kiosk.sync.protocol import MAX_SKEW

if TYPE_CHECKING:
    from kiosk.collector.store import CollectorStore
    from kiosk.console.web import ConsoleParts

PURGE_EVERY = 3600.0  # seconds between retention purges while serving
log = logging.getLogger("kiosk.collector")


@dataclass(frozen=True)
class ConsoleOptions:
    """What `kiosk collector serve` tells the web console."""

    subject_key: Path | None = None  # the deployment's HMAC key file (hex), as the kiosks' [log] secret_file
    timezone: str = ""  # an IANA name; empty: the machine's zone
    retention_days: float | None = None  # events older than this are purged; None: kept
    session_idle: float | None = None  # seconds; None: the Authenticator's default
    session_max: float | None = None
    trust_root: Path | None = None  # the folder of pinned roots (roots/*.pub) trust uploads are checked against



def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8080, trust_files: Path | None = None,
          max_skew: float = MAX_SKEW, tls_cert: Path | None = None, tls_key: Path | None = None,
          access_log: bool = False, limits: Limits | None = None, console: ConsoleOptions | None = None) -> None:
    """Run until SIGINT/SIGTERM; uvicorn finishes the requests in flight, then the store is closed."""
    limits = limits or Limits()
    console = console or ConsoleOptions()
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("HTTPS needs both --tls-cert and --tls-key")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise ConfigError(f"{path}: no such file")
    if trust_files is not None and not trust_files.is_dir():
        raise ConfigError(f"{trust_files}: no such folder (the trust files the authority publishes)")
    for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
        if not getattr(limits, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be above 0 seconds")
    # A server's warnings (refused batches, chain faults, connections closed by the guard) belong in its
    # journal even without -v, which keeps one-shot commands quiet.
    collector_log = logging.getLogger("kiosk.collector")
    if collector_log.getEffectiveLevel() > logging.WARNING:
        collector_log.setLevel(logging.WARNING)
    zone, subject_key = _checked(console)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(db_url))
        if store.set_day_zone(zone):  # the roll-ups count hours and days in the console's zone
            said = getattr(zone, "key", None) or str(zone)
            sys.stderr.write(f"collector: the overview's figures were counted again in {said}\n")
        parts = stack.enter_context(_console_parts(db_url, store, console, zone, subject_key, trust_files,
                                                   tls_cert is not None))
        stack.enter_context(_purging(parts, console))
        from kiosk.console.web import make_console

        app = make_app(store, trust_files=trust_files, max_skew=max_skew, console=make_console(parts))
        # The guard closes idle connections itself; uvicorn's own keep-alive timer (whole seconds) is a backstop.
        config = uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level="info",
                                http=protocol_class(limits), ws="none",
                                timeout_keep_alive=math.ceil(limits.keepalive_timeout),
                                ssl_certfile=str(tls_cert) if tls_cert else None,
                                ssl_keyfile=str(tls_key) if tls_key else None,
                                timeout_graceful_shutdown=10, server_header=False)
        scheme = "https" if tls_cert else "http"
        logging.getLogger("kiosk.collector").info("serving %s://%s:%d", scheme, host, port)
        sys.stderr.write(f"collector: {scheme}://{host}:{port}, database {_safe(db_url)}"
                         f"{f', trust files from {trust_files}' if trust_files else ''}\n")
        sys.stderr.flush()
        # uvicorn.Server.run() would make its own loop, without the TLS handshake deadline
        with contextlib.closing(new_loop(limits)) as loop:
            loop.run_until_complete(uvicorn.Server(config).serve())
            loop.run_until_complete(loop.shutdown_asyncgens())


def _checked(console: ConsoleOptions) -> tuple[tzinfo, bytes | None]:
    """The console's options checked (ConfigError: the first that is wrong): its zone and the subject key."""
    try:
        zone = zone_for(console.timezone)
    except ValueError as err:
        raise ConfigError(f"--timezone: {err}") from None
    _check_roots(console.trust_root)
    for flag, value in (("--session-idle", console.session_idle), ("--session-max", console.session_max)):
        if value is not None and not value > 0:
            raise ConfigError(f"{flag} must be above 0 seconds")
    if console.retention_days is not None and not 0 < console.retention_days < math.inf:
        raise ConfigError(f"--retention-days must be a number of days above 0, not {console.retention_days:g}")
    return zone, _subject_key(console.subject_key)


def _subject_key(path: Path | None) -> bytes | None:
    """The deployment's subject key: hex in a file, as the kiosks' [log] secret_file (16 bytes at least)."""
    if path is None:
        return None
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"--subject-key {path}: cannot read the subject key (hex): {err}") from None
    if len(key) < 16:
        raise ConfigError(f"--subject-key {path}: the key must be at least 16 bytes (32 hex digits)")
    return key


def _check_roots(folder: Path | None) -> None:
    """A --trust-root folder must pin at least one usable root, as a kiosk's trust directory does."""
    if folder is None:
        return
    from kiosk.errors import TrustFileError
    from kiosk.trustdir import load_roots

    try:
        roots, warnings = load_roots(folder)
    except TrustFileError as err:
        raise ConfigError(f"--trust-root {folder}: {err.problem}") from None
    if not roots:
        raise ConfigError(f"--trust-root {folder}: no usable root in {folder}/roots/ "
                          f"({'; '.join(warnings) or 'no *.pub file'}; `kiosk trust pin ROOT.pub --trust {folder}`)")


@contextlib.contextmanager
def _console_parts(db_url: str, store: CollectorStore, options: ConsoleOptions, zone: tzinfo,
                   subject_key: bytes | None, trust_files: Path | None, tls: bool) -> Iterator[ConsoleParts]:
    """The web console's parts over the collector's database (its own connections, its own tables)."""
    from kiosk.console.auth import SessionRules, console_services
    from kiosk.console.console_db import open_console_store
    from kiosk.console.web import ConsoleParts

    defaults = SessionRules()
    rules = SessionRules(idle=options.session_idle or defaults.idle, absolute=options.session_max or defaults.absolute)
    with open_console_store(db_url) as console_store:
        auth, users, trail = console_services(console_store, rules=rules)
        yield ConsoleParts(store=store, auth=auth, users=users, trail=trail, tz=zone, clock=time.time, tls=tls,
                           subject_key=subject_key, trust_files=trust_files, trust_root=options.trust_root,
                           retention_days=options.retention_days)


@contextlib.contextmanager
def _purging(parts: ConsoleParts, options: ConsoleOptions, clock: Callable[[], float] = time.time) -> Iterator[None]:
    """Purge events past the retention period now and every PURGE_EVERY seconds, until the block ends."""
    if options.retention_days is None:
        yield
        return
    days = options.retention_days
    stop = threading.Event()

    def run() -> None:
        while True:
            now = clock()
            try:
                purged = parts.store.purge(now - days * 86400)
                if purged:  # recorded when it took something: an hourly "nothing" would bury the trail
                    parts.trail.append("collector", "purge", {"events": purged, "retention_days": days,
                                                              "before": now - days * 86400}, "", now)
                    log.info("purged %d events older than %g days", purged, days)
            except KioskError as err:
                log.error("retention purge: %s", err)
            if stop.wait(PURGE_EVERY):
                return

    worker = threading.Thread(target=run, name="kiosk-retention", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(30)


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url

"""`kiosk collector serve`: the collector app on uvicorn (uvloop, httptools), HTTP or HTTPS, behind the guard.

The guard (kiosk/collector/guard.py) gives every connection deadlines for its
headers and body and caps the connections, which uvicorn alone does not.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from pathlib import Path

import uvicorn

from kiosk.collector.app import make_app
from kiosk.collector.database import open_store
from kiosk.collector.guard import new_loop, protocol_class
from kiosk.collector.limits import Limits
from kiosk.errors import ConfigError
from kiosk.sync.protocol import MAX_SKEW


def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8080, trust_files: Path | None = None,
          max_skew: float = MAX_SKEW, tls_cert: Path | None = None, tls_key: Path | None = None,
          access_log: bool = False, limits: Limits | None = None) -> None:
    """Run until SIGINT/SIGTERM; uvicorn finishes the requests in flight, then the store is closed."""
    limits = limits or Limits()
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
    with open_store(db_url) as store:
        app = make_app(store, trust_files=trust_files, max_skew=max_skew)
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


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url

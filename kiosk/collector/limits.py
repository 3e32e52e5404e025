"""How long a client may take and how many may be connected: the collector's defences against slow clients.

Its own module, without uvicorn, so the command line reads the defaults without loading the server.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

FD_RESERVE = 128  # descriptors kept for the database, its WAL, logs, the trust files and PostgreSQL connections


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0  # connect (TLS handshake included) to the end of the request headers
    body_timeout: float = 30.0  # end of the headers to the end of the body
    keepalive_timeout: float = 5.0  # idle between requests
    max_header_bytes: int = 64 * 1024
    max_connections: int | None = None  # None: the open-file limit less FD_RESERVE

    def connection_cap(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(16, (soft if soft != resource.RLIM_INFINITY else 1 << 20) - FD_RESERVE)

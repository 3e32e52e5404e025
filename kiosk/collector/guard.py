"""Deadlines and a connection cap for the collector's HTTP server (uvicorn's httptools protocol).

uvicorn closes a keep-alive connection left idle after an answer, but has no
deadline for a request's headers or body: a client that sends half a request
line keeps its socket, and a file descriptor, for as long as it likes
(measured: still open after minutes). A few thousand such connections
exhaust the open-file limit and no kiosk gets in. So, per connection:

- the request headers must be complete `header_timeout` seconds after the
  connection was made, or after the first byte of a next request on a
  kept-alive connection; a TLS handshake has as long again before that
  (asyncio's default is 60 s);
- the body must be complete `body_timeout` seconds after its headers;
- headers larger than `max_header_bytes` get 431 (httptools has no limit);
- at most `max_connections` open at once (by default the open-file limit
  less a reserve for the database and logs): one more closes the connection
  that has waited longest for its headers, so a slow client never keeps a
  kiosk out; when every connection is busy with a request, the new one is closed.

Deadlines are totals, not idle timers: a client trickling a byte a second
gains nothing. An idle keep-alive connection is closed after `keepalive_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import TimerHandle
from typing import Any, ClassVar

import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kiosk.collector.limits import Limits

log = logging.getLogger("kiosk.collector")
WARN_EVERY = 60.0  # seconds between log lines about connections closed by the guard


class _Shared:
    """What the connections of one server know of each other."""

    def __init__(self, limits: Limits) -> None:
        self.limits, self.cap = limits, limits.connection_cap()
        self.waiting: dict[GuardedProtocol, None] = {}  # waiting for headers, oldest first (dicts keep order)
        self.closed: dict[str, int] = {}
        self.warned = -WARN_EVERY

    def note(self, why: str) -> None:
        self.closed[why] = self.closed.get(why, 0) + 1
        now = time.monotonic()
        if now - self.warned >= WARN_EVERY:  # one line a minute, not one per connection of an attack
            self.warned = now
            log.warning("closed slow or surplus connections: %s",
                        ", ".join(f"{n} {what}" for what, n in sorted(self.closed.items())))


class GuardedProtocol(HttpToolsProtocol):
    shared: ClassVar[_Shared]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: TimerHandle | None = None
        self._header_bytes = 0
        self._idle = False  # between an answer and the next request's first byte
        self._in_body = False  # a body is still coming in (perhaps after an early answer: uvicorn drops it)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_headers()
        shared = self.shared
        if len(self.connections) > shared.cap:
            victim = next(iter(shared.waiting))  # never empty: this connection just joined it
            shared.note("over the connection cap")
            victim._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.shared.waiting.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._idle:  # a next request starts: its headers get the full deadline from now
            self._idle = False
            self.shared.waiting.pop(self, None)
            self._wait_for_headers()
        waiting = self in self.shared.waiting
        if waiting:
            self._header_bytes += len(data)
        super().data_received(data)
        # Counted before parsing but judged after: a chunk that ends the headers may carry a big body too.
        if waiting and self in self.shared.waiting and self._header_bytes > self.shared.limits.max_header_bytes:
            self.shared.note("headers too large")
            self._refuse(b"431 Request Header Fields Too Large")

    def on_headers_complete(self) -> None:
        self.shared.waiting.pop(self, None)
        self._in_body = True
        self._arm(self.shared.limits.body_timeout, "bodies not complete in time")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_body = False
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete and not self.pipeline:
            self._go_idle()  # answered before its body was all in (a refusal): idle from now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._in_body and not self.pipeline:
            self._go_idle()

    def _go_idle(self) -> None:
        if not self.transport.is_closing():
            self._idle = True  # uvicorn's keep-alive timer runs now; ours starts with the next byte
            self.shared.waiting[self] = None  # an idle connection is the first to go when over the cap
            self._arm(self.shared.limits.keepalive_timeout, None)  # uvicorn's timer misses a drained body

    def _wait_for_headers(self) -> None:
        self._header_bytes = 0
        self.shared.waiting[self] = None
        self._arm(self.shared.limits.header_timeout, "headers not complete in time")

    def _arm(self, seconds: float, why: str | None) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, why)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, why: str | None) -> None:
        self._deadline = None
        if why is not None:  # an idle keep-alive connection closed is no news
            self.shared.note(why)
        self._close()

    def _close(self) -> None:
        self._disarm()
        self.shared.waiting.pop(self, None)
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: bytes) -> None:
        if not self.transport.is_closing():  # else the parser has refused the request already
            self.transport.write(b"HTTP/1.1 " + status + b"\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        self._close()


def protocol_class(limits: Limits) -> type[GuardedProtocol]:
    """A protocol class for one server: its connections share the cap and the list of who waits longest."""

    class CollectorProtocol(GuardedProtocol):
        shared = _Shared(limits)

    return CollectorProtocol


class GuardedLoop(uvloop.Loop):
    """uvloop whose TLS handshakes have the header deadline, not asyncio's 60 s (uvicorn cannot pass it)."""

    handshake_timeout = 10.0

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.AbstractServer:  # type: ignore[override]
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", self.handshake_timeout)
        return await super().create_server(*args, **kwargs)


def new_loop(limits: Limits) -> GuardedLoop:
    loop = GuardedLoop()
    loop.handshake_timeout = limits.header_timeout
    return loop

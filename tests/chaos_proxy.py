"""A fault-injecting TCP proxy for tests: it sits between an HTTP/1.1 client and a real server on 127.0.0.1.

Sockets and threads only (stdlib). It parses just enough HTTP/1.1 to find where each
request and response ends (start line, headers, then a Content-Length or chunked body;
a response may also end when the server closes), so a fault hits one request, also on
keep-alive connections that carry several.

    @pytest.fixture
    def proxy(collector: Collector) -> Iterator[ChaosProxy]:
        with ChaosProxy(("127.0.0.1", collector.port)) as proxy:
            yield proxy

    proxy.set("cut_response")        # the collector stores the batch, the kiosk never hears
    proxy.set("http500", times=2)    # the next two requests get a 500, then back to "pass"

Modes (a request gets the mode in force when its headers arrive):

    pass          forward unchanged
    down          the listening socket closes and open connections drop, so connects are
                  refused; set() to any other mode listens again on the same port
    reset         the client connection is reset (RST) once a request's headers arrive;
                  nothing reaches the target
    slow          forward, then hold the response `delay` seconds before sending it on
    http500       answer 500 with a small JSON body; the target never sees the request
    cut_request   send the target the headers and `fraction` of the body, then close both sides
                  (a request without a body: the target's connection opens and closes empty)
    cut_response  the target answers in full; the client connection closes instead
    duplicate     send the request twice (the second on a fresh connection, after the first
                  answered); the client gets the first response, the second goes to
                  `duplicate_responses`
    blackhole     read the request and never answer, until the client hangs up or stop()

Not handled: `Expect: 100-continue` and other 1xx interim responses, upgrades (101), HTTP/2.
If the target cannot be reached, the client's connection is closed without an answer.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, NamedTuple, get_args

Mode = Literal["pass", "down", "reset", "slow", "http500", "cut_request", "cut_response", "duplicate", "blackhole"]
MODES: tuple[Mode, ...] = get_args(Mode)

MAX_HEAD = 64 * 1024  # bytes of start line + headers; more is not HTTP this proxy expects
ACCEPT_POLL = 0.05  # seconds; how soon the accept loop notices it should stop
CONNECT_TIMEOUT = 5.0  # seconds to reach the target
STOP_TIMEOUT = 10.0  # seconds stop() waits for its threads


class Seen(NamedTuple):
    """One request the proxy saw, and what it did to it."""

    method: str
    path: str
    mode: Mode


class _Closed(Exception):
    """The peer hung up (or the socket was shut down) before a message ended."""


class _BadMessage(Exception):
    """Bytes this proxy cannot frame as HTTP/1.1."""


@dataclass(frozen=True)
class Message:
    """One HTTP/1.1 request or response, as the bytes that went over the wire.

    `body` keeps its framing: for a chunked message it holds the chunk-size lines too.
    """

    head: bytes  # start line and header lines, through the empty line
    body: bytes
    until_eof: bool = False  # a response whose end was the server closing the connection

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    @property
    def start_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def method(self) -> str:
        return self.start_line.split(" ")[0]

    @property
    def path(self) -> str:
        parts = self.start_line.split(" ")
        return parts[1] if len(parts) > 1 else ""

    @property
    def status(self) -> int:
        """A response's status code."""
        try:
            return int(self.start_line.split(" ")[1])
        except (IndexError, ValueError):
            raise _BadMessage(f"not a status line: {self.start_line!r}") from None

    @property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased; a repeated header's values joined with ", "."""
        out: dict[str, str] = {}
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            if not line:
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise _BadMessage(f"not a header line: {line!r}")
            key = name.strip().lower()
            out[key] = f"{out[key]}, {value.strip()}" if key in out else value.strip()
        return out

    def has_token(self, header: str, token: str) -> bool:
        """Whether a comma-separated header (Connection, Transfer-Encoding) lists `token`."""
        values = self.headers.get(header, "").split(",")
        return token in (value.strip().lower() for value in values)


class _Reader:
    """Buffered reads from a socket: a message's end rarely falls on a recv() boundary."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def until(self, delimiter: bytes, limit: int) -> bytes:
        """Bytes through the next `delimiter`."""
        start = 0
        while (end := self._buf.find(delimiter, start)) < 0:
            if len(self._buf) > limit:
                raise _BadMessage(f"no {delimiter!r} in {limit} bytes")
            start = max(0, len(self._buf) - len(delimiter) + 1)
            self._more()
        return self._take(end + len(delimiter))

    def exactly(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._more()
        return self._take(size)

    def rest(self) -> bytes:
        """Everything until the peer closes."""
        try:
            while True:
                self._more()
        except _Closed:
            return self._take(len(self._buf))

    def _more(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise _Closed
        self._buf += data

    def _take(self, size: int) -> bytes:
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out


def _read_chunked(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = reader.until(b"\r\n", MAX_HEAD)
        parts.append(line)
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError:
            raise _BadMessage(f"not a chunk size: {line!r}") from None
        if size < 0:
            raise _BadMessage(f"not a chunk size: {line!r}")
        if size == 0:
            break
        parts.append(reader.exactly(size + 2))  # the chunk and its CRLF
    while True:  # trailer fields, then the empty line that ends the message
        line = reader.until(b"\r\n", MAX_HEAD)
        parts.append(line)
        if line == b"\r\n":
            return b"".join(parts)


def _content_length(message: Message) -> int:
    try:
        size = int(message.headers["content-length"])
    except ValueError:
        raise _BadMessage(f"bad Content-Length: {message.headers['content-length']!r}") from None
    if size < 0:
        raise _BadMessage(f"bad Content-Length: {size}")
    return size


def _read_message(reader: _Reader, *, request_method: str | None = None) -> Message:
    """The next request (no `request_method`) or the response to a request of that method."""
    head = Message(reader.until(b"\r\n\r\n", MAX_HEAD), b"")
    if request_method is not None:
        status = head.status
        if request_method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            return head  # no body, whatever the headers say
    if head.has_token("transfer-encoding", "chunked"):
        return Message(head.head, _read_chunked(reader))
    if "content-length" in head.headers:
        return Message(head.head, reader.exactly(_content_length(head)))
    if request_method is None:
        return head  # a request without either has no body
    return Message(head.head, reader.rest(), until_eof=True)


def _ends_connection(request: Message, response: Message | None = None) -> bool:
    """Whether this exchange is the connection's last (so the proxy closes its side too)."""
    if request.has_token("connection", "close"):
        return True
    if response is None:
        return False
    if response.until_eof or response.has_token("connection", "close"):
        return True
    return response.start_line.startswith("HTTP/1.0") and not response.has_token("connection", "keep-alive")


def _http500(request: Message) -> bytes:
    body = b'{"error": "internal", "detail": "injected by the chaos proxy"}'
    close = b"Connection: close\r\n" if _ends_connection(request) else b""
    return (
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n" % len(body)
        + close
        + b"\r\n"
        + body
    )


def _cut(request: Message, fraction: float) -> bytes:
    """The part of a request the target gets under cut_request: never all of it."""
    if request.body:
        keep = min(len(request.body) - 1, int(len(request.body) * fraction))
        return request.head + request.body[:keep]
    # No body to cut, and any prefix of the head may pass as a request: a lenient server takes headers
    # ended by EOF as complete, and http.server runs even "GET /pa" as HTTP/0.9. So: nothing at all.
    return b""


def _shutdown(sock: socket.socket) -> None:
    """Wake a thread blocked on this socket: its recv() returns b"" or fails."""
    with contextlib.suppress(OSError):  # not connected, or already closed
        sock.shutdown(socket.SHUT_RDWR)


@dataclass
class _Upstream:
    sock: socket.socket
    reader: _Reader

    def is_stale(self) -> bool:
        """Whether the target closed this idle keep-alive connection (or sent something unasked)."""
        if self.reader.pending:
            return True
        try:
            self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False  # nothing to read: still open
        except OSError:
            return True
        return True  # b"" (closed) or bytes nobody asked for


@dataclass
class _Acceptor:
    thread: threading.Thread
    quit: threading.Event


class ChaosProxy:
    """A TCP proxy on 127.0.0.1 that forwards to `target` and injects the fault set with set().

    It listens from construction on; stop() (or leaving the `with` block) ends it and its threads.
    """

    def __init__(self, target: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self._lock = threading.Lock()  # guards the state below; never held while waiting on a thread
        self._control = threading.Lock()  # one set() or stop() at a time: they open and close the listener
        self._stopping = threading.Event()
        self._stopped = False
        self._mode: Mode = "pass"
        self._times: int | None = None
        self._delay = 0.0
        self._fraction = 0.5
        self._requests = 0
        self._connections = 0
        self._log: list[Seen] = []
        self._duplicates: list[Message] = []
        self._sockets: set[socket.socket] = set()  # every open client and upstream socket, for shutdown
        self._handlers: list[threading.Thread] = []
        self._placeholder: socket.socket | None = None  # holds the port while "down"
        self._acceptor: _Acceptor | None = None
        listener = self._bind(host, port)
        self.host, self.port = listener.getsockname()[:2]
        listener.listen()
        self._start_acceptor(listener)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mode(self) -> Mode:
        with self._lock:
            return self._mode

    @property
    def requests(self) -> int:
        """Requests seen (their headers arrived), whatever was done to them."""
        with self._lock:
            return self._requests

    @property
    def connections(self) -> int:
        """Client connections accepted."""
        with self._lock:
            return self._connections

    @property
    def log(self) -> list[Seen]:
        with self._lock:
            return list(self._log)

    @property
    def duplicate_responses(self) -> list[Message]:
        """The target's answers to the second copy of each duplicated request, in order."""
        with self._lock:
            return list(self._duplicates)

    def set(
        self, mode: Mode, *, times: int | None = None, delay: float | None = None, fraction: float | None = None
    ) -> None:
        """Apply `mode` from the next request on (or only to the next `times` requests, then "pass").

        `times` counts requests, so it fits every mode but "pass" and "down" (refused connects
        never reach the proxy). `delay` (seconds) is for "slow" and required there; `fraction`
        (0 <= f < 1, default 0.5) is for "cut_request". Raises ValueError for what does not fit.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if times is not None and (times < 1 or mode in ("pass", "down")):
            # a refused connect never reaches the proxy, so "down" has no requests to count
            raise ValueError(f"times={times} does not fit mode {mode!r}")
        if (mode == "slow") != (delay is not None) or (delay is not None and delay < 0):
            raise ValueError(f"delay={delay} does not fit mode {mode!r}: slow needs a delay >= 0, others none")
        if fraction is not None and (mode != "cut_request" or not 0 <= fraction < 1):
            raise ValueError(f"fraction={fraction} does not fit mode {mode!r}: cut_request takes 0 <= f < 1")
        with self._control:
            if self._stopped:
                raise RuntimeError("the proxy is stopped")
            with self._lock:
                self._mode, self._times = mode, times
                self._delay = delay or 0.0
                self._fraction = 0.5 if fraction is None else fraction
            if mode == "down" and self._acceptor is not None:
                self._go_down()
            elif mode != "down" and self._acceptor is None:
                self._go_up()

    def stop(self) -> None:
        """Close every socket and wait for every thread; idempotent."""
        with self._control:
            if self._stopped:
                return
            self._stopped = True
            with self._lock:
                self._stopping.set()  # under the lock: no thread registers a socket after the sweep below
            self._stop_acceptor()
            if self._placeholder is not None:
                self._placeholder.close()
                self._placeholder = None
            with self._lock:
                for sock in self._sockets:
                    _shutdown(sock)
                handlers = list(self._handlers)
            for thread in handlers:
                thread.join(STOP_TIMEOUT)
            stuck = [thread.name for thread in handlers if thread.is_alive()]
            if stuck:
                raise RuntimeError(f"chaos proxy threads did not stop: {stuck}")

    def __enter__(self) -> ChaosProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- listening ---

    def _bind(self, host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # REUSEADDR: rebinding while closed connections sit in TIME_WAIT. REUSEPORT: the listener
        # and the "down" placeholder may hold the port at the same time, so it is never free for
        # another process (or an outgoing connection) to take between down and up.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return sock

    def _go_down(self) -> None:
        # A bound socket that does not listen keeps the port, and the kernel refuses connects to it.
        self._placeholder = self._bind(self.host, self.port)
        self._stop_acceptor()
        with self._lock:  # as if the server died: its open connections drop too
            for sock in self._sockets:
                _shutdown(sock)

    def _go_up(self) -> None:
        listener = self._bind(self.host, self.port)
        listener.listen()
        self._start_acceptor(listener)
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def _start_acceptor(self, listener: socket.socket) -> None:
        # The accept loop polls rather than blocks: closing a socket from another thread does not
        # wake an accept() on Linux, and the loop closing its own listener avoids that race.
        listener.settimeout(ACCEPT_POLL)
        quit_event = threading.Event()
        thread = threading.Thread(
            target=self._accept_loop, args=(listener, quit_event), name=f"chaos-proxy-{self.port}-accept", daemon=True
        )
        self._acceptor = _Acceptor(thread, quit_event)
        thread.start()

    def _stop_acceptor(self) -> None:
        if self._acceptor is not None:
            self._acceptor.quit.set()
            self._acceptor.thread.join()
            self._acceptor = None

    def _accept_loop(self, listener: socket.socket, quit_event: threading.Event) -> None:
        try:
            while not quit_event.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                with self._lock:
                    if self._stopping.is_set():
                        client.close()
                        return
                    self._sockets.add(client)
                    self._connections += 1
                    handler = threading.Thread(
                        target=self._serve,
                        args=(client,),
                        name=f"chaos-proxy-{self.port}-conn{self._connections}",
                        daemon=True,
                    )
                    self._handlers = [thread for thread in self._handlers if thread.is_alive()]
                    self._handlers.append(handler)
                    handler.start()  # under the lock, so stop() never joins a thread not yet started
        finally:
            listener.close()

    # --- one client connection ---

    def _take(self, request: Message) -> tuple[Mode, float, float]:
        """Count the request and decide its mode, using up one of `times`."""
        with self._lock:
            mode = self._mode
            self._requests += 1
            self._log.append(Seen(request.method, request.path, mode))
            if self._times is not None:
                self._times -= 1
                if self._times == 0:
                    self._mode, self._times = "pass", None
            return mode, self._delay, self._fraction

    def _serve(self, client: socket.socket) -> None:
        upstream: _Upstream | None = None
        try:
            from_client = _Reader(client)
            while True:
                request = _read_message(from_client)
                mode, delay, fraction = self._take(request)
                if mode in ("down", "reset"):  # "down": a request that slipped in as the proxy went down
                    # linger 0: close() sends RST, so the client sees a reset, as from a crashed server
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if mode == "blackhole":
                    while client.recv(65536):
                        pass  # swallow anything more until the client hangs up or stop() shuts it
                    return
                if mode == "http500":
                    client.sendall(_http500(request))
                    if _ends_connection(request):
                        return
                    continue
                if upstream is None or upstream.is_stale():
                    if upstream is not None:
                        self._close(upstream.sock)
                    upstream = self._open_upstream()
                if mode == "cut_request":
                    upstream.sock.sendall(_cut(request, fraction))
                    return  # closing both sides: the target sees its request end early
                upstream.sock.sendall(request.raw)
                response = _read_message(upstream.reader, request_method=request.method)
                if mode == "duplicate":
                    again = self._fetch_once(request)
                    with self._lock:
                        self._duplicates.append(again)
                if mode == "cut_response":
                    return
                if mode == "slow" and self._stopping.wait(delay):
                    return
                client.sendall(response.raw)
                if _ends_connection(request, response):
                    return
        except (_Closed, _BadMessage, OSError):
            return  # a side hung up or was shut down, or sent what this proxy cannot frame
        finally:
            self._close(client)
            if upstream is not None:
                self._close(upstream.sock)

    def _open_upstream(self) -> _Upstream:
        sock = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT)
        sock.settimeout(None)  # reads wait as long as the target takes; stop() wakes them by shutdown
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                raise _Closed
            self._sockets.add(sock)
        return _Upstream(sock, _Reader(sock))

    def _fetch_once(self, request: Message) -> Message:
        """Send `request` on a connection of its own and read the answer."""
        upstream = self._open_upstream()
        try:
            upstream.sock.sendall(request.raw)
            return _read_message(upstream.reader, request_method=request.method)
        finally:
            self._close(upstream.sock)

    def _close(self, sock: socket.socket) -> None:
        # Under the lock, so a shutdown() sweep never hits a descriptor number already reused.
        with self._lock:
            self._sockets.discard(sock)
            sock.close()

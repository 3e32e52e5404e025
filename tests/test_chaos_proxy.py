"""The fault-injecting proxy (tests/chaos_proxy.py), between a real httpx client and a real HTTP server.

Each mode is checked from both sides: what the client got, and what the target
received (it counts the POST bodies that arrived whole, and those cut short).
Timing is only ever a lower bound or a generous deadline, so a loaded machine
makes the tests slower, not red.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.chaos_proxy import ChaosProxy, Mode, Seen

PATIENT = 10.0  # seconds: the client timeout where no timeout is expected
IMPATIENT = 0.5  # seconds: the client timeout where one is expected (slow, blackhole)
BODY = b'{"events": ["' + b"x" * 1000 + b'"]}'


def wait_for(condition: Callable[[], bool], deadline: float = 5.0) -> None:
    """Poll until `condition` holds: the target may see a connection close a moment after the client does."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


class Target:
    """A real HTTP/1.1 keep-alive server on 127.0.0.1.

    POST: counts the body if it arrived whole (Content-Length or chunked), answers
    {"received": <bytes>, "count": <complete so far>}. GET /chunked: a chunked answer.
    Every answer but the chunked one has a Content-Length.
    """

    def __init__(self) -> None:
        self.complete = 0
        self.incomplete = 0
        self.gets = 0
        self.connections = 0
        self.closed = 0  # connections the handler is done with
        lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            timeout = PATIENT  # a connection nobody closes ends anyway, so teardown never hangs

            def setup(self) -> None:
                super().setup()
                with lock:
                    target.connections += 1

            def finish(self) -> None:
                super().finish()
                with lock:
                    target.closed += 1

            def do_POST(self) -> None:
                body, whole = self._read_body()
                if not whole:
                    with lock:
                        target.incomplete += 1
                    self.close_connection = True
                    return
                with lock:
                    target.complete += 1
                    count = target.complete
                self._reply(json.dumps({"received": len(body), "count": count}).encode())

            def do_GET(self) -> None:
                with lock:
                    target.gets += 1
                if self.path != "/chunked":
                    self._reply(json.dumps({"path": self.path}).encode())
                    return
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in (b'{"parts": ', b"[1, 2, 3]", b"}"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")

            def _read_body(self) -> tuple[bytes, bool]:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts: list[bytes] = []
                    while True:
                        line = self.rfile.readline()
                        if not line.endswith(b"\r\n"):
                            return b"".join(parts), False
                        size = int(line, 16)
                        chunk = self.rfile.read(size + 2)
                        if len(chunk) < size + 2:
                            return b"".join(parts), False
                        if size == 0:
                            return b"".join(parts), True
                        parts.append(chunk[:-2])
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                return body, len(body) == length

            def _reply(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = ("127.0.0.1", self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads: the proxy closed their connections
        self._thread.join()


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


@pytest.fixture
def proxy(target: Target) -> Iterator[ChaosProxy]:
    with ChaosProxy(target.address) as chaos:
        yield chaos


def make_client(proxy: ChaosProxy) -> httpx.Client:
    # trust_env=False: an HTTP_PROXY in the environment must not route loopback elsewhere
    return httpx.Client(base_url=proxy.url, timeout=PATIENT, trust_env=False)


@pytest.fixture
def client(proxy: ChaosProxy) -> Iterator[httpx.Client]:
    with make_client(proxy) as http:
        yield http


def post(client: httpx.Client, timeout: float = PATIENT) -> httpx.Response:
    return client.post("/v1/batches", content=BODY, timeout=timeout)


def test_pass_forwards_several_requests_on_one_connection(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    counts = [post(client).json()["count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert client.get("/status").json() == {"path": "/status"}
    assert target.complete == 3
    assert (proxy.requests, proxy.connections, target.connections) == (4, 1, 1)
    assert proxy.log == [Seen("POST", "/v1/batches", "pass")] * 3 + [Seen("GET", "/status", "pass")]


def test_chunked_bodies_both_ways(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    assert client.get("/chunked").json() == {"parts": [1, 2, 3]}
    # a generator body makes httpx send the request chunked
    response = client.post("/v1/batches", content=iter([BODY[:10], BODY[10:]]))
    assert response.json() == {"received": len(BODY), "count": 1}
    proxy.set("duplicate")
    assert client.get("/chunked").json() == {"parts": [1, 2, 3]}
    assert proxy.duplicate_responses[0].body.endswith(b"0\r\n\r\n")  # kept as it came: chunk framing included
    assert proxy.connections == 1


def test_http500_answers_without_the_target(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    proxy.set("http500")
    response = post(client)
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert target.complete == 0
    assert target.connections == 0


def test_times_applies_a_mode_to_the_next_requests_then_reverts(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set("http500", times=2)
    assert [post(client).status_code for _ in range(3)] == [500, 500, 200]
    assert proxy.mode == "pass"
    assert [seen.mode for seen in proxy.log] == ["http500", "http500", "pass"]
    assert target.complete == 1
    assert proxy.connections == 1  # a canned 500 keeps the connection alive


def test_cut_request_the_target_never_gets_a_whole_body(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set("cut_request", times=1)
    with pytest.raises(httpx.TransportError):
        post(client)
    wait_for(lambda: target.incomplete == 1)
    assert target.complete == 0
    assert post(client).json()["count"] == 1  # back to pass, on a new connection


def test_cut_request_without_a_body_sends_the_target_nothing(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set("cut_request")
    with pytest.raises(httpx.TransportError):
        client.get("/status")
    wait_for(lambda: target.closed == target.connections == 1)  # the target is done with what it got
    assert target.gets == 0
    assert proxy.log == [Seen("GET", "/status", "cut_request")]


def test_cut_response_the_target_did_the_work_the_client_never_hears(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set("cut_response")
    with pytest.raises(httpx.TransportError):
        post(client)
    assert target.complete == 1  # the proxy read the whole answer before it hung up


def test_duplicate_the_target_gets_it_twice_the_client_once(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set("duplicate")
    assert post(client).json() == {"received": len(BODY), "count": 1}
    assert target.complete == 2
    (second,) = proxy.duplicate_responses
    assert second.status == 200
    assert json.loads(second.body)["count"] == 2
    assert target.connections == 2  # the copy went over a connection of its own


@pytest.mark.parametrize("mode", ["duplicate", "http500"])
def test_keep_alive_each_request_on_a_connection_gets_the_mode_once(
    mode: Mode, target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    proxy.set(mode)
    statuses = [post(client).status_code for _ in range(3)]
    assert proxy.connections == 1
    assert proxy.log == [Seen("POST", "/v1/batches", mode)] * 3
    if mode == "duplicate":
        assert statuses == [200] * 3
        assert target.complete == 6
        assert [json.loads(r.body)["count"] for r in proxy.duplicate_responses] == [2, 4, 6]
    else:
        assert statuses == [500] * 3
        assert target.complete == 0


def test_slow_delays_the_response(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    proxy.set("slow", delay=0.3)
    start = time.monotonic()
    assert post(client).status_code == 200
    assert time.monotonic() - start >= 0.3


def test_slow_beyond_the_client_timeout_times_it_out(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    proxy.set("slow", delay=60)  # stop() cuts the wait short
    with pytest.raises(httpx.ReadTimeout):
        post(client, timeout=IMPATIENT)
    wait_for(lambda: target.complete == 1)  # the request itself went through


def test_blackhole_never_answers(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    proxy.set("blackhole")
    with pytest.raises(httpx.ReadTimeout):
        post(client, timeout=IMPATIENT)
    assert (proxy.requests, target.complete, target.connections) == (1, 0, 0)


def test_reset_drops_the_connection_before_the_target(target: Target, proxy: ChaosProxy, client: httpx.Client) -> None:
    proxy.set("reset", times=1)
    with pytest.raises(httpx.TransportError) as caught:
        post(client)
    assert not isinstance(caught.value, httpx.ConnectError)  # the connect itself worked
    assert (target.complete, target.connections) == (0, 0)
    assert post(client).json()["count"] == 1


def test_down_refuses_connects_then_reopens_on_the_same_port(
    target: Target, proxy: ChaosProxy, client: httpx.Client
) -> None:
    assert post(client).status_code == 200  # leaves a keep-alive connection in the client's pool
    port = proxy.port
    proxy.set("down")
    with pytest.raises(httpx.ConnectError):
        post(client)  # the pooled connection was dropped too, so the client has to connect
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=PATIENT).close()
    proxy.set("pass")
    assert proxy.port == port
    assert post(client).json()["count"] == 2


def test_set_rejects_what_does_not_fit(proxy: ChaosProxy) -> None:
    bad: list[dict[str, Any]] = [
        {"mode": "sideways"},
        {"mode": "slow"},  # no delay
        {"mode": "pass", "delay": 1.0},
        {"mode": "http500", "times": 0},
        {"mode": "down", "times": 1},
        {"mode": "cut_request", "fraction": 1.0},
        {"mode": "http500", "fraction": 0.5},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError):
            proxy.set(**kwargs)
    assert proxy.mode == "pass"


def test_stop_is_prompt_and_leaves_no_thread(target: Target) -> None:
    proxy = ChaosProxy(target.address)
    proxy.set("blackhole")
    with make_client(proxy) as http, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, http)  # waits PATIENT seconds unless stop() ends it
        wait_for(lambda: proxy.requests == 1)
        start = time.monotonic()
        proxy.stop()
        assert time.monotonic() - start < PATIENT / 2
        assert isinstance(pending.exception(timeout=PATIENT), httpx.TransportError)
    assert not [t.name for t in threading.enumerate() if t.name.startswith(f"chaos-proxy-{proxy.port}-")]
    proxy.stop()  # again: nothing to do
    with pytest.raises(RuntimeError):
        proxy.set("pass")

"""The serial 2D scanner: the pure line splitter, then the reader thread on real pseudo-terminals."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.scanner.serial_scanner import LineSplitter, ScannerState, SerialScanner
from kiosk.scanner.types import Scan

# --- LineSplitter -------------------------------------------------------------------------------------------


def feed_all(chunks: list[bytes], splitter: LineSplitter | None = None, now: float = 0.0) -> list[str]:
    splitter = splitter or LineSplitter()
    return [code for chunk in chunks for code in splitter.feed(chunk, now)]


LONG = b"x" * 4097

SPLITS = [  # id, chunks, codes, dropped
    ("cr", [b"A1\r"], ["A1"], 0),
    ("lf", [b"A1\n"], ["A1"], 0),
    ("crlf", [b"A1\r\n"], ["A1"], 0),
    ("lfcr is two ends, one empty line", [b"A1\n\rB2\n"], ["A1", "B2"], 0),
    ("crlf split across chunks", [b"A1\r", b"\nB2\r", b"\n"], ["A1", "B2"], 0),
    ("many codes in one chunk", [b"A1\rB2\nC3\r\nD4\n"], ["A1", "B2", "C3", "D4"], 0),
    ("one code in 1-byte chunks", [bytes([b]) for b in b"PHC1:6BF\r\n"], ["PHC1:6BF"], 0),
    ("no end yet", [b"A1", b"B2"], [], 0),
    ("empty lines", [b"\r\n\r\n\n\r\rA1\n\n\n"], ["A1"], 0),
    ("nothing", [b""], [], 0),
    ("4096 bytes is allowed", [b"y" * 4096 + b"\n"], ["y" * 4096], 0),
    ("too long in one chunk", [LONG + b"\nA1\n"], ["A1"], 1),
    ("too long over chunks, skipped to its end", [b"x" * 3000, b"x" * 3000, b"zzz", b"\rA1\r"], ["A1"], 1),
    ("control chars stripped, tab kept", [b"\x00A\x01B\tC\x1b\x7f\r\n"], ["AB\tC"], 0),
    ("C1 control chars stripped", ["A\u0085B\u009bC\n".encode()], ["ABC"], 0),
    ("only control chars is garbage", [b"\x00\x02\x03\x1b\n", b"A1\n"], ["A1"], 1),
    ("invalid utf-8 replaced", [b"A\xff\xfeB\xc3\n"], ["A\ufffd\ufffdB\ufffd"], 0),
    ("utf-8 split across chunks", ["健康".encode()[:4], "健康".encode()[4:] + b"\n"], ["健康"], 0),
    ("spaces are kept: the verifier judges", [b" A1 \n"], [" A1 "], 0),
]


@pytest.mark.parametrize(("chunks", "codes", "dropped"), [c[1:] for c in SPLITS], ids=[c[0] for c in SPLITS])
def test_splitter(chunks: list[bytes], codes: list[str], dropped: int) -> None:
    splitter = LineSplitter()
    assert feed_all(chunks, splitter) == codes
    assert splitter.dropped == dropped


TIMED = [  # id, (chunk, at) list, codes, dropped
    ("fast enough", [(b"A", 0.0), (b"B", 0.2), (b"C\n", 0.4)], ["ABC"], 0),  # idle time counts, not age
    ("stale partial not glued to next code", [(b"CUT", 0.0), (b"A1\n", 0.5)], ["A1"], 1),
    ("stale CR half of CRLF is harmless", [(b"A1\r", 0.0), (b"\nB2\n", 5.0)], ["A1", "B2"], 0),
    ("stale overlong line ends its skipping", [(LONG, 0.0), (b"A1\n", 1.0)], ["A1"], 1),
]


@pytest.mark.parametrize(("chunks", "codes", "dropped"), [c[1:] for c in TIMED], ids=[c[0] for c in TIMED])
def test_splitter_partial_timeout(chunks: list[tuple[bytes, float]], codes: list[str], dropped: int) -> None:
    splitter = LineSplitter(partial_timeout=0.3)
    assert [code for chunk, at in chunks for code in splitter.feed(chunk, at)] == codes
    assert splitter.dropped == dropped


def test_expire_returns_the_dropped_fragment() -> None:
    splitter = LineSplitter(partial_timeout=0.3)
    assert splitter.feed(b"PHC1:\x00AB", 10.0) == []
    assert splitter.expire(10.29) is None
    assert splitter.expire(10.3) == "PHC1:AB"
    assert (splitter.expire(20.0), splitter.dropped) == (None, 1)
    assert splitter.feed(b"\x00", 30.0) == []
    assert (splitter.expire(31.0), splitter.dropped) == ("", 2)  # garbage is dropped too, with no text to show
    assert splitter.reset() is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.floats(0, 1)), max_size=30))
def test_any_bytes_never_raise(chunks: list[tuple[bytes, float]]) -> None:
    splitter, now = LineSplitter(max_line=64), 0.0
    for chunk, pause in chunks:
        now += pause
        for code in splitter.feed(chunk, now):
            assert code
            assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) < 0xA0 for c in code)
        splitter.expire(now + 0.1)
    splitter.reset()


CODE_CHARS = st.characters(exclude_categories=("Cc", "Cs"))  # no control chars, nothing UTF-8 cannot encode


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(CODE_CHARS, min_size=1, max_size=80),
                          st.lists(st.sampled_from([b"\r", b"\n", b"\r\n"]), min_size=1, max_size=3)),
                max_size=10),
       st.data())
def test_codes_round_trip_through_any_chunking(lines: list[tuple[str, list[bytes]]], data: st.DataObject) -> None:
    stream = b"".join(code.encode() + b"".join(ends) for code, ends in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    splitter = LineSplitter()
    assert feed_all(chunks, splitter) == [code for code, _ in lines]
    assert splitter.dropped == 0


# --- SerialScanner on pseudo-terminals ----------------------------------------------------------------------


@dataclass
class Pty:
    """A fake scanner: the test plays the device on `master`; the scanner opens `path`."""

    master: int
    slave: int  # held open for the pty's life, or writes on the master fail with EIO
    path: str
    closed: bool = False

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)


@pytest.fixture
def new_pty() -> Iterator[Callable[[], Pty]]:
    made: list[Pty] = []

    def make() -> Pty:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        made.append(Pty(master, slave, os.ttyname(slave)))
        return made[-1]

    yield make
    for pty in made:
        pty.unplug()


@pytest.fixture
def link(tmp_path: Path) -> Path:
    """Where the scanner's URL points: a stable name, like /dev/serial/by-id/..., re-pointed at each replug."""
    return tmp_path / "scanner"


def point(link: Path, target: str) -> None:
    new = link.with_name(link.name + ".new")
    new.symlink_to(target)
    os.replace(new, link)  # atomic: the scanner never sees the link missing


@dataclass
class Received:
    scans: list[Scan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, scan: Scan) -> None:
        with self.lock:
            self.scans.append(scan)

    def texts(self) -> list[str]:
        with self.lock:
            return [s.text for s in self.scans]


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[SerialScanner, Received]]]:
    """Starts a scanner on a URL; every one is stopped at the end of the test."""
    started: list[SerialScanner] = []

    def start(url: str, **options: object) -> tuple[SerialScanner, Received]:
        scanner = SerialScanner(url, **{"reconnect_every": 0.1, **options})  # type: ignore[arg-type]
        received = Received()
        scanner.start(received)
        started.append(scanner)
        return scanner, received

    yield start
    for scanner in started:
        scanner.stop()


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until `check()` holds; the timeout is a hang guard only (a loaded CI machine once took over 3 s)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def connected(scanner: SerialScanner, reconnects: int = 0) -> Callable[[], bool]:
    # pyserial flushes the input when it opens a port: write only once the scanner holds it.
    return lambda: scanner.state.connected and scanner.state.reconnects == reconnects


def test_codes_with_mixed_line_ends(new_pty: Callable[[], Pty], run: Callable[..., tuple[SerialScanner, Received]]
                                    ) -> None:
    pty = new_pty()
    scanner, received = run(pty.path, clock=lambda: 1234.5)
    wait_for(connected(scanner))
    pty.write(b"A1\rB2\nC3\r\nD4\r")
    pty.write(b"\nE5\n")
    wait_for(lambda: len(received.texts()) == 5)
    assert received.scans == [Scan(t, "serial", 1234.5) for t in ["A1", "B2", "C3", "D4", "E5"]]
    assert scanner.state == ScannerState(connected=True, scans=5)


def test_partial_line_times_out_then_a_good_code(new_pty: Callable[[], Pty],
                                                 run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    pty = new_pty()
    scanner, received = run(pty.path, partial_timeout=0.1)
    wait_for(connected(scanner))
    pty.write(b"PHC1:CUT-OFF")
    wait_for(lambda: scanner.state.dropped == 1)
    pty.write(b"GOOD\r\n")
    wait_for(lambda: received.texts() == ["GOOD"])
    assert (scanner.state.scans, scanner.state.dropped) == (1, 1)


def test_garbage_then_a_code(new_pty: Callable[[], Pty], run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    pty = new_pty()
    scanner, received = run(pty.path)
    wait_for(connected(scanner))
    pty.write(b"\x00\x02\x1b\r\n" + b"\xff" * 5000 + b"\n")  # a line of controls, then noise too long for a code
    wait_for(lambda: scanner.state.dropped == 2)
    pty.write(b"A\xffB\nPHC1:OK\n")
    wait_for(lambda: received.texts() == ["A\ufffdB", "PHC1:OK"])


def test_on_scan_raising_is_counted_not_fatal(new_pty: Callable[[], Pty]) -> None:
    pty, got = new_pty(), []

    def on_scan(scan: Scan) -> None:
        if scan.text == "BAD":
            raise ValueError("handler bug")
        got.append(scan.text)

    scanner = SerialScanner(pty.path)
    scanner.start(on_scan)
    try:
        wait_for(connected(scanner))
        pty.write(b"BAD\nGOOD\n")
        wait_for(lambda: got == ["GOOD"])
        state = scanner.state
        assert (state.connected, state.scans, state.handler_errors) == (True, 2, 1)
        assert state.last_error is not None and "handler bug" in state.last_error
    finally:
        scanner.stop()


def test_unplug_and_replug(new_pty: Callable[[], Pty], link: Path,
                           run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    first = new_pty()
    point(link, first.path)
    scanner, received = run(str(link))
    wait_for(connected(scanner))
    first.write(b"ONE\n")
    wait_for(lambda: received.texts() == ["ONE"])  # a hangup discards what the reader has not read yet

    first.unplug()
    wait_for(lambda: not scanner.state.connected)
    assert scanner.state.last_error is not None

    second = new_pty()
    point(link, second.path)
    wait_for(connected(scanner, reconnects=1))
    second.write(b"TWO\r\n")
    wait_for(lambda: received.texts() == ["ONE", "TWO"])


def test_port_missing_at_start_is_picked_up(new_pty: Callable[[], Pty], link: Path,
                                            run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    scanner, received = run(str(link))
    wait_for(lambda: scanner.state.last_error is not None)
    assert not scanner.state.connected
    time.sleep(0.25)  # a few retries fail quietly
    assert not scanner.state.connected and scanner.state.reconnects == 0

    pty = new_pty()
    point(link, pty.path)
    wait_for(connected(scanner, reconnects=1))
    pty.write(b"LATE\n")
    wait_for(lambda: received.texts() == ["LATE"])


def scanner_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("serial-scanner")]


def open_fds_to(path: str) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(f"/proc/self/fd/{fd}") == path
    return count


@pytest.mark.parametrize("plugged", [True, False], ids=["reading", "waiting to reconnect"])
def test_stop_is_quick_and_leaves_nothing(new_pty: Callable[[], Pty], tmp_path: Path, plugged: bool) -> None:
    pty = new_pty()
    scanner = SerialScanner(pty.path if plugged else str(tmp_path / "absent"), reconnect_every=30)
    scanner.start(Received())
    wait_for(lambda: scanner.state.connected or scanner.state.last_error is not None)
    assert scanner.state.connected == plugged
    assert open_fds_to(pty.path) == 1 + plugged  # the fixture's slave, and the scanner's port
    began = time.monotonic()
    scanner.stop()
    assert time.monotonic() - began < 1.0
    assert scanner_threads() == []
    assert open_fds_to(pty.path) == 1
    assert not scanner.state.connected


def test_restart_after_stop_and_no_double_start(new_pty: Callable[[], Pty],
                                                run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    pty = new_pty()
    scanner, received = run(pty.path)
    with pytest.raises(RuntimeError):
        scanner.start(received)
    scanner.stop()
    scanner.start(received)
    wait_for(connected(scanner))
    pty.write(b"AGAIN\n")
    wait_for(lambda: received.texts() == ["AGAIN"])


def test_socket_url(run: Callable[..., tuple[SerialScanner, Received]]) -> None:
    """A scanner behind a serial-to-network box: the same class, only the URL differs."""
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        scanner, received = run(f"socket://127.0.0.1:{server.getsockname()[1]}")
        conn, _ = server.accept()
    wait_for(connected(scanner))  # socket:// flushes what came before open() returned, as a tty does
    with conn:  # the listener is closed first, so the scanner cannot simply connect again
        conn.sendall(b"NET1\r\nNET2\r\n")
        wait_for(lambda: received.texts() == ["NET1", "NET2"])
    wait_for(lambda: not scanner.state.connected)  # the box went away
    assert scanner.state.last_error is not None

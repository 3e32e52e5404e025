"""Hostile files (issue 11, section 4): only regular files are read, never past a cap; modes beat the umask.

Through `kiosk trust import`, loading a trust directory, the admin's USB import and a trust pull from a
collector that answers too much. Time limits here only guard against a hang.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kiosk
from kiosk.checkpoint.admin import Admin, Message
from kiosk.checkpoint.flow import Checkpoint, CheckpointParts
from kiosk.checkpoint.settings import KioskSettings
from kiosk.issuer import KeyGrant, sign_bundle
from kiosk.policy import Policy
from kiosk.sync.transport import HttpTransport
from kiosk.sync.trust_pull import pull_trust
from kiosk.trustdir import load_trust_dir
from tests.factories import NOW, World, key, pub

MiB = 1 << 20
STATUS_CAP = 64 * MiB  # the issue: a 1,000,000-entry list is ~24 MB; 64 MiB for status.cose
BUNDLE_CAP = 4 * MiB  # the smaller cap chosen for trust.cose (README)
HANG = 60.0  # seconds: only a guard against a hang; every refusal here is immediate
STATUS_IGNORED = "status list ignored, verifying with the trust bundle alone"


def run_kiosk(*argv: object, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m kiosk ARGV` as a user runs it; a hang fails the test (TimeoutExpired)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["PYTHONPATH"] = str(Path(kiosk.__file__).resolve().parents[1])
    return subprocess.run([sys.executable, "-m", "kiosk", *map(str, argv)], capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=HANG, check=False,
                          preexec_fn=None if umask is None else lambda: os.umask(umask))


def refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sparse(path: Path, size: int) -> None:
    with path.open("wb") as out:
        out.truncate(size)
    assert path.stat().st_blocks * 512 < MiB  # a hole: no real disk used


HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "a link to /dev/zero": (lambda p: p.symlink_to("/dev/zero"),
                            "not a regular file (a symbolic link to a character device)"),
    "a FIFO": (os.mkfifo, "not a regular file (a FIFO)"),
    "a folder": (Path.mkdir, "not a regular file (a directory)"),
    "a sparse file one byte over the cap": (lambda p: sparse(p, STATUS_CAP + 1),
                                            "67,108,865 bytes, larger than the 64 MiB a trust file may be"),
    "a sparse 70 MiB file": (lambda p: sparse(p, 70 * MiB), "70 MiB, larger than the 64 MiB a trust file may be"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_kiosk_trust_import_refuses_at_once_with_one_line(case: str, trust_dir: Path, tmp_path: Path) -> None:
    make, problem = HOSTILE[case]
    planted = tmp_path / "trust.cose"  # beside the trust directory, not in it
    make(planted)
    before = files(trust_dir)
    refused(run_kiosk("trust", "import", "--trust", trust_dir, planted), f"kiosk trust: {planted}: {problem}")
    assert files(trust_dir) == before


def test_a_file_exactly_at_the_cap_is_not_refused_for_its_size(trust_dir: Path, tmp_path: Path) -> None:
    at_cap = tmp_path / "zeros.cose"
    sparse(at_cap, STATUS_CAP)
    result = run_kiosk("trust", "import", "--trust", trust_dir, at_cap)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"kiosk trust: {at_cap}: not a signed trust file"), result.stderr


def bundle_of_size(size: int) -> bytes:
    """A real bundle (seq 2) of exactly `size` bytes: one issuer whose iss is padded."""
    def make(padding: int) -> bytes:
        grant = KeyGrant(pub("issuer"), "X" * padding, NOW - 86400, NOW + 86400)
        return sign_bundle(key("root"), seq=2, iat=NOW, keys=[grant])

    probe = MiB  # from here to past 4 MiB the CBOR heads keep their length: the size grows with the padding
    data = make(probe + size - len(make(probe)))
    assert len(data) == size
    return data


def test_a_bundle_at_its_cap_installs_and_loads_and_one_byte_more_is_refused(trust_dir: Path,
                                                                            tmp_path: Path) -> None:
    over = tmp_path / "over.cose"
    over.write_bytes(bundle_of_size(BUNDLE_CAP + 1))
    before = files(trust_dir)
    refused(run_kiosk("trust", "import", "--trust", trust_dir, over),
            f"kiosk trust: {over}: 4,194,305 bytes, larger than the 4 MiB a trust bundle may be")
    assert files(trust_dir) == before
    at_cap = tmp_path / "at-cap.cose"
    at_cap.write_bytes(bundle_of_size(BUNDLE_CAP))
    done = run_kiosk("trust", "import", "--trust", trust_dir, at_cap)
    assert (done.returncode, done.stdout) == (0, f"trust bundle seq 2 installed: {trust_dir / 'trust.cose'}\n")
    shown = run_kiosk("trust", "show", "--trust", trust_dir, "--json")  # what was installed also loads
    assert shown.returncode == 0 and json.loads(shown.stdout)["bundle"]["seq"] == 2, shown.stderr


def test_a_regular_file_holding_more_than_its_size_says_is_cut_at_the_cap(tmp_path: Path) -> None:
    # /proc files say 0 bytes and hold more: the same as a file that grows while it is read.
    # A Python process's smaps is tens of KB, far over what a 64-digit root key file may be.
    smaps = Path("/proc/self/smaps")
    assert stat.S_ISREG(smaps.stat().st_mode) and smaps.stat().st_size == 0
    refused(run_kiosk("trust", "pin", "--trust", tmp_path / "trust", smaps),
            f"kiosk trust: {smaps}: not a root public key: more than the 4 KiB a root key may be")
    assert not (tmp_path / "trust").exists()


PLANTED: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "a FIFO as status.cose": ("status.cose", os.mkfifo, f"not a regular file (a FIFO); {STATUS_IGNORED}"),
    "a link to /dev/zero as status.cose": ("status.cose", HOSTILE["a link to /dev/zero"][0],
                                           f"not a regular file (a symbolic link to a character device); "
                                           f"{STATUS_IGNORED}"),
    "a huge sparse status.cose": ("status.cose", lambda p: sparse(p, 70 * MiB),
                                  f"70 MiB, larger than the 64 MiB a status list may be; {STATUS_IGNORED}"),
    "a FIFO as a pinned root": ("roots/extra.pub", os.mkfifo, "not a regular file (a FIFO); root ignored"),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_a_trust_directory_with_a_planted_file_loads_with_a_warning(case: str, trust_dir: Path) -> None:
    name, make, warning = PLANTED[case]
    make(trust_dir / name)
    shown = run_kiosk("trust", "show", "--trust", trust_dir, "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["status_list"] is None and info["warnings"] == [f"{trust_dir / name}: {warning}"]


def test_a_fifo_as_trust_cose_is_an_error_at_once(trust_dir: Path) -> None:
    (trust_dir / "trust.cose").unlink()
    os.mkfifo(trust_dir / "trust.cose")
    refused(run_kiosk("trust", "show", "--trust", trust_dir),
            f"kiosk trust: {trust_dir / 'trust.cose'}: not a regular file (a FIFO)")


# -- the admin screen's USB import, in-process ----------------------------------------------------------------

def within_hang_guard(action: Callable[[], Message]) -> Message:
    """`action()` on a thread, which may hang (on a FIFO): a daemon, left behind when the test fails."""
    box: list[Message] = []
    worker = threading.Thread(target=lambda: box.append(action()), daemon=True)
    worker.start()
    worker.join(HANG)
    assert box, "the import hung, or raised"
    return box[0]


def test_the_usb_import_refuses_each_hostile_file_by_name_and_installs_the_good_one(trust_dir: Path,
                                                                                   tmp_path: Path) -> None:
    stick = tmp_path / "media" / "STICK"
    stick.mkdir(parents=True)
    good = World().bundle_bytes(seq=2)
    (stick / "a-bundle.cose").write_bytes(good)
    for name, (make, _) in zip(("zero.cose", "fifo.cose", "folder.cose", "big.cose"), HOSTILE.values()):
        make(stick / name)
    checkpoint = Checkpoint(CheckpointParts(trust_dir, load_trust_dir(trust_dir), Policy()), clock=lambda: NOW)
    admin = Admin(checkpoint, KioskSettings(), clock=lambda: NOW, media_roots=(stick.parent,),
                  is_mount=lambda path: path.name == "STICK")
    done = within_hang_guard(admin.import_usb)
    assert not done.ok
    assert done.en == ("trust bundle seq 2 installed; "
                       "refused big.cose: 67,108,865 bytes, larger than the 64 MiB a trust file may be; "
                       "refused fifo.cose: not a regular file (a FIFO); "
                       "refused folder.cose: not a regular file (a directory); "
                       "refused zero.cose: not a regular file (a symbolic link to a character device)")
    assert (trust_dir / "trust.cose").read_bytes() == good


# -- a trust pull from a collector that answers too much ----------------------------------------------------------

OK_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
BLOCK = b"\0" * (64 << 10)


def endless(framed: bool = False) -> Iterator[bytes]:
    while True:
        yield b"%x\r\n%s\r\n" % (len(BLOCK), BLOCK) if framed else BLOCK


class HostileCollector:
    """127.0.0.1: trust.cose is `head` then `body` (256 MiB at most); anything else is 404."""

    def __init__(self, head: str, body: Iterator[bytes]) -> None:
        self.head, self.body, self.sent, self.finished = head.encode() + b"\r\n", body, 0, threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # until closed at the end of the test
            while True:
                threading.Thread(target=self._answer, args=(self.server.accept()[0],), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the kiosk hanging up is what most cases expect
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096) or b"\r\n\r\n"
            if not request.startswith(b"GET /v1/trust/trust.cose "):
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            try:
                conn.sendall(self.head)
                for block in itertools.islice(self.body, 256 * MiB // len(BLOCK)):  # bounded, were it all read
                    conn.sendall(block)
                    self.sent += len(block)
            finally:
                self.finished.set()


SMALL_GZIP = gzip.compress(b"\0" * 8 * MiB)  # 8 KB that inflate to twice the bundle cap

PULLS: dict[str, tuple[str, Callable[[], Iterator[bytes]], str]] = {
    "an endless body with no length": (OK_HEAD + "Connection: close\r\n", endless,
                                       "more than the 4 MiB a trust bundle may be"),
    "an endless chunked body": (OK_HEAD + "Transfer-Encoding: chunked\r\n", lambda: endless(framed=True),
                                "more than the 4 MiB a trust bundle may be"),
    "a Content-Length over the cap": (OK_HEAD + f"Content-Length: {70 * MiB}\r\n", endless,
                                      "70 MiB, larger than the 4 MiB a trust bundle may be"),
    "a Content-Length that lies small": (OK_HEAD + "Content-Length: 1000\r\n", endless,
                                         "not a signed trust file"),
    "a gzip bomb": (OK_HEAD + f"Content-Encoding: gzip\r\nContent-Length: {len(SMALL_GZIP)}\r\n",
                    lambda: iter([SMALL_GZIP]), "sent gzip-encoded, which the kiosk did not ask for"),
}


@pytest.mark.parametrize("case", list(PULLS))
def test_a_trust_pull_stops_reading_a_hostile_answer(case: str, trust_dir: Path) -> None:
    head, body, problem = PULLS[case]
    collector = HostileCollector(head, body())
    transport = HttpTransport(collector.url, timeout=10)
    before = files(trust_dir)
    try:
        pulled = pull_trust(transport, trust_dir, NOW)
    finally:
        transport.close()
        collector.server.close()
    assert collector.finished.wait(HANG)
    assert len(pulled.refused) == 1 and pulled.refused[0].startswith(f"trust.cose from the collector: {problem}")
    assert pulled.installed == [] and not pulled.refreshed and files(trust_dir) == before
    # The kiosk hung up near the cap; what more was sent sat in the two loopback socket buffers.
    assert collector.sent < BUNDLE_CAP + 32 * MiB


# -- modes that do not follow the umask -----------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_keygen_makes_the_pub_0644_and_the_key_0600_whatever_the_umask(umask: int, tmp_path: Path) -> None:
    made = run_kiosk("keygen", tmp_path / "keys" / "root", umask=umask)
    assert made.returncode == 0, made.stderr
    assert (mode(tmp_path / "keys" / "root.key"), mode(tmp_path / "keys" / "root.pub")) == (0o600, 0o644)
    assert mode(tmp_path / "keys") & 0o022 == 0  # nobody else may swap the pair's files


def test_trust_files_and_the_device_key_written_under_umask_000_are_not_open_to_others(tmp_path: Path) -> None:
    def ok(*argv: object) -> None:
        result = run_kiosk(*argv, umask=0)
        assert result.returncode == 0, result.stderr

    ok("keygen", tmp_path / "root")
    ok("keygen", tmp_path / "issuer")
    out, trust, device = tmp_path / "out", tmp_path / "new" / "trust", tmp_path / "dev" / "device.key"
    ok("trust", "bundle", "--root-key", tmp_path / "root.key", "--seq", 1,
       "--grant", f"{tmp_path / 'issuer.pub'},CN-120000,2020-01-01,2099-01-01", "--out", out / "trust.cose")
    ok("trust", "status-list", "--key", tmp_path / "issuer.key", "--iss", "CN-120000", "--seq", 1,
       "--out", out / "status.cose")
    ok("trust", "pin", "--trust", trust, tmp_path / "root.pub")
    ok("trust", "import", "--trust", trust, out / "trust.cose")
    ok("trust", "import", "--trust", trust, out / "status.cose")
    ok("device", "show", "--key", device)
    from kiosk.trustdir import refresh_record  # in the data folder (XDG_DATA_HOME, set for every test)

    record = refresh_record(trust)
    public = [out / "trust.cose", out / "status.cose", *trust.glob("roots/*.pub"), trust / "trust.cose",
              trust / "status.cose", record]
    assert len(public) == 6 and {str(p): mode(p) for p in public} == {str(p): 0o644 for p in public}
    for folder in (out, trust.parent, trust, trust / "roots", record.parent, record.parent.parent):
        assert mode(folder) & 0o022 == 0, folder
    assert (mode(device), mode(device.parent)) == (0o600, 0o700)

"""`kiosk collector demo`, run as a person runs it: one command, a printed login, a console with data in it.

The demo's figures are its own random day, so the checks are what the issue promises of it: it starts, says
where and how to sign in, its kiosks' events came in through the sync API (the overview and the events show
them, a manager sees only their site), the admin's one-time code works, the hostile registration is text, the
trace finds the person it names, and Ctrl-C ends it and deletes its folder.
"""

from __future__ import annotations

import contextlib
import html
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from kiosk.console.totp import from_base32, totp
from tests.collector_process import free_port
from tests.console_web import PASSWORD, csrf_of, kiosk_cli

pytestmark = pytest.mark.slow  # a collector, six kiosks playing a day, argon2 logins
STARTS_WITHIN = 120.0  # seconds: a hang guard, not a speed test
JOY, EAST, BUS = "Joy City 大悦城", "East Station 东站", "Bus 37 37路"
HOSTILE_NAME = "<script>alert(1)</script>"


@dataclass
class Demo:
    """A running `kiosk collector demo` and what it printed."""

    process: subprocess.Popen[str]
    printed: str
    url: str
    manager_password: str
    admin_password: str
    admin_secret: bytes
    traced: str
    upload: Path
    folder: Path
    stderr: IO[str]

    @classmethod
    def start(cls, log: Path, *extra: str) -> Demo:
        port = free_port()
        stderr = log.open("w")  # closed by stop()
        process = subprocess.Popen([sys.executable, "-m", "kiosk", "collector", "demo", "--port", str(port), *extra],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        printed, deadline = "", time.monotonic() + STARTS_WITHIN
        while "admin code now" not in printed:  # the last line of the login, after the banner
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                process.kill()
                process.wait()
                stderr.close()
                assert process.stdout is not None
                process.stdout.close()
                raise AssertionError(f"the demo printed no login in {STARTS_WITHIN:g} s:\n{printed}\n{log.read_text()}")
            printed += line

        def found(pattern: str) -> str:
            match = re.search(pattern, printed)
            assert match, f"the demo did not print {pattern!r}:\n{printed}"
            return match.group(1)

        return cls(process, printed, found(r"the console: +(http://\S+)"),
                   found(r"username manager +password (\S+)"), found(r"username admin +password (\S+)"),
                   from_base32(found(r"TOTP secret ([A-Z2-7]+)")), found(r"the subject ([0-9a-f]{32})"),
                   Path(found(r"to upload on the trust page: (\S+)")), Path(found(r"deletes its folder (\S+)")), stderr)

    def stop(self, how: int = signal.SIGINT) -> int:
        """Ctrl-C (or another signal), as a person stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(how)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    @contextlib.contextmanager
    def sign_in(self, name: str, password: str, code: str = "") -> Iterator[httpx.Client]:
        """A browser (an httpx client with its cookies) signed in through the login form."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            form = client.get("/login")
            answer = client.post("/login", data={"username": name, "password": password, "code": code,
                                                 "csrf_token": csrf_of(form.text)})
            assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:300]
            yield client


def figures(page: str, site: str) -> dict[str, int]:
    """A site's figures on the overview: {"people": .., "scans": .., "pass": .., ...} (the words are Chinese)."""
    start = page.index(f'data-site="{html.escape(site)}"')
    section = page[start:page.index("</section>", start)]
    found = re.findall(r"<b>(\d+)</b><span>([^<]+)</span>", section)
    return dict(zip(("people", "scans", "pass", "deny", "retry", "fevers"), (int(n) for n, _ in found), strict=True))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    started = Demo.start(tmp_path_factory.mktemp("demo") / "stderr.log")
    yield started
    started.stop()


def test_the_demo_prints_where_and_how_to_sign_in(demo: Demo) -> None:
    assert demo.url.startswith("http://127.0.0.1:")
    sent = int(re.search(r"sent ([\d,]+) events", demo.printed).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert sent >= 10  # at least the people the demo places at every hour of the day; more after 06:00
    assert re.search(r"admin code now: (\d{6})", demo.printed)
    assert demo.upload.is_file() and demo.folder.is_dir()


def test_a_demo_manager_sees_their_site_filled_by_the_kiosks(demo: Demo) -> None:
    with demo.sign_in("manager", demo.manager_password) as manager:
        page = manager.get("/").text
        refused = manager.get("/events", params={"site": EAST}).status_code
    joy = figures(page, JOY)
    # At any hour: the traced person passed there, three people were registered by hand (people: the subjects
    # scanned plus the registrations).
    assert joy["scans"] >= 1 and joy["pass"] >= 1 and joy["people"] >= 4
    assert f'data-site="{html.escape(EAST)}"' not in page and f'data-site="{html.escape(BUS)}"' not in page
    assert refused == 403


def test_the_demo_admin_signs_in_with_the_printed_secret_and_sees_every_site(demo: Demo) -> None:
    with demo.sign_in("admin", demo.admin_password, totp(demo.admin_secret, time.time())) as admin:
        page = admin.get("/").text
        events = admin.get("/events", params={"kind": "manual"}).text
        trace = admin.post("/trace", data={"subject": demo.traced, "case": "DEMO-1", "window": "15",
                                           "csrf_token": csrf_of(admin.get("/trace").text)})
    for site in (JOY, EAST, BUS):
        assert figures(page, site)["scans"] >= 1, site  # the traced person at least
    assert figures(page, EAST)["fevers"] >= 3  # the fever cluster the demo plays at Hall B
    assert page.count('class="state online"') == 6, "every demo kiosk synced just now"
    assert "候车厅B" in page and "测温仪" in page  # Hall B's thermometer is reported
    assert html.escape(HOSTILE_NAME) in events and HOSTILE_NAME not in events
    assert "李思" in events  # the corrected name, with what it was
    assert trace.status_code == 200
    assert re.search(r'data-visits="(\d+)"', trace.text).group(1) == "3"  # type: ignore[union-attr]


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "term"])
def test_ctrl_c_or_a_stop_ends_the_demo_and_deletes_its_folder(tmp_path: Path, stop: int, status: int) -> None:
    """Ctrl-C in its terminal, or SIGTERM (systemd, `kill`): the shell's status for that signal, no folder left."""
    demo = Demo.start(tmp_path / "stderr.log")
    assert demo.folder.is_dir()
    assert demo.stop(stop) == status
    assert not demo.folder.exists()


def test_the_demo_refuses_a_database_that_is_not_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/collector.db"
    made = kiosk_cli("collector", "user", "add", "ann", "--role", "viewer", "--db", url, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    done = kiosk_cli("collector", "demo", "--db", url, "--port", str(free_port()))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "empty" in done.stderr, done.stderr


def test_the_demo_says_so_when_its_port_is_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        done = kiosk_cli("collector", "demo", "--port", str(taken.getsockname()[1]))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot listen" in done.stderr, done.stderr
